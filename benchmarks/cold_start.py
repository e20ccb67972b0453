"""One photo through a whole fresh process: wall time and peak memory, ours beside MediaPipe (issue #22).

    python benchmarks/cold_start.py --photo PHOTO.jpg --repeats 7 \\
        --light-python /tmp/fkp-light/bin/python --before-src /tmp/before/src \\
        --peer-python /work/peers-venv/bin/python

Each system runs ``--repeats`` times, one after the other, as a new process that loads everything,
reads the photo, finds its faces and prints them; the medians are reported. Rows: this checkout's
``facekeypoints predict --model fast`` (the full environment: torch installed, not imported),
the same from a base-only install (``--light-python``: a venv without torch), an older checkout
(``--before-src``: its ``src`` folder, run with this python), and MediaPipe face mesh
(``benchmarks/mediapipe_worker.py`` in ``--peer-python``'s venv). Peak memory is the child's
maximum resident set (``os.wait4``). Installed sizes: ``du`` of the venvs' site-packages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_once(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak resident MB and stdout of one fresh process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {p.returncode}")
    return wall, usage.ru_maxrss / 1024, text


def site_packages_mb(python: str) -> float:
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    venv = Path(site).parents[2]
    du = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True, check=True).stdout
    return float(du.split()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", required=True)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--light-python", help="python of a venv with the base install only (no torch)")
    ap.add_argument("--before-src", help="an older checkout's src/ folder, run with this python")
    ap.add_argument("--peer-python", help="python of a venv with mediapipe==0.10.14")
    args = ap.parse_args()
    photo = str(Path(args.photo).resolve())
    predict = ["-m", "facekeypoints", "predict", photo, "--model", args.model]
    systems: dict[str, tuple[list[str], dict[str, str] | None]] = {"ours": ([sys.executable, *predict], None)}
    if args.light_python:
        systems["ours, base install (no torch)"] = ([args.light_python, *predict], None)
    if args.before_src:
        systems["ours before"] = ([sys.executable, *predict], {**os.environ, "PYTHONPATH": args.before_src})
    if args.peer_python:
        lst = Path(tempfile.mkdtemp()) / "one.txt"
        lst.write_text(photo + "\n")
        systems["MediaPipe face mesh"] = ([args.peer_python, str(HERE / "mediapipe_worker.py"), str(lst),
                                          str(lst.with_suffix(".json"))], None)
    rows = {}
    for name, (cmd, env) in systems.items():
        run_once(cmd, env)  # warm the file cache (and the ONNX cache of an old checkout) first
        runs = [run_once(cmd, env) for _ in range(args.repeats)]
        faces = None
        if name.startswith("ours"):
            faces = len(json.loads(runs[0][2].splitlines()[0])["faces"])
        else:
            faces = len(json.loads(lst.with_suffix(".json").read_text())["images"][0]["faces"])
        rows[name] = {"wall_s_median": round(statistics.median(r[0] for r in runs), 3),
                      "wall_s_min": round(min(r[0] for r in runs), 3),
                      "peak_mb_median": round(statistics.median(r[1] for r in runs), 1), "faces": faces}
        print(name, rows[name], file=sys.stderr)
    sizes = {"ours, base install (no torch)": args.light_python, "ours": sys.executable,
             "MediaPipe face mesh": args.peer_python}
    for name, python in sizes.items():
        if python and name in rows:
            rows[name]["venv_mb"] = site_packages_mb(python)
    print(json.dumps({"photo": photo, "model": args.model, "repeats": args.repeats, "systems": rows}))


if __name__ == "__main__":
    main()
