"""Batch predict at scale: photos per second for --workers 1 and 2 (and a local Ray), and a crash test.

    python benchmarks/batch_scale.py --src ../shared/data/youtube-faces-68 --data data/yt15 --model fast
    python benchmarks/batch_scale.py --src data/src/wild68_train --model fast

The photos (the YT15 `paper` test frames with --data, else every face of --src) are written to a
temporary folder once; each configuration is one whole `facekeypoints predict FOLDER -o FILE` process
(start-up and model load included, as a user runs it). The crash test kills a --workers 2 run with
SIGKILL half-way, runs it again with --resume, and compares the records with the uninterrupted run's
(same paths in the same order, points within 0.01 px). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from facekeypoints.data import load_training, make_split
from facekeypoints.data.landmarks68 import iter_faces
from facekeypoints.devices import device_name


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _same(a: Path, b: Path) -> dict:
    ra = [json.loads(x) for x in a.read_text().splitlines()]
    rb = [json.loads(x) for x in b.read_text().splitlines()]
    worst = 0.0
    same_paths = [r["path"] for r in ra] == [r["path"] for r in rb]
    for x, y in zip(ra, rb, strict=False):
        for fx, fy in zip(x["faces"], y["faces"], strict=False):
            for n, k in fx["keypoints"].items():
                worst = max(worst, abs(k["x"] - fy["keypoints"][n]["x"]), abs(k["y"] - fy["keypoints"][n]["y"]))
    return {"records": [len(ra), len(rb)], "same_paths_in_order": same_paths,
            "duplicates": len(rb) - len({r["path"] for r in rb}), "max_point_diff_px": worst}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True)
    ap.add_argument("--data", help="converted YT15: take its paper test part")
    ap.add_argument("--model", default="fast")
    ap.add_argument("--ray", action="store_true", help="also through a local Ray (the [ray] extra)")
    args = ap.parse_args()
    keep = None
    if args.data:
        ds = load_training(args.data)
        meta = pd.read_csv(f"{args.data}/meta.csv", keep_default_na=False)
        keep = set(meta["source"].iloc[make_split(len(ds), "paper", 0, ds.identities)["test"]])
    tmp = Path(tempfile.mkdtemp(prefix="fkp-scale-"))
    folder = tmp / "photos"
    folder.mkdir()
    n = 0
    for face in iter_faces(args.src):
        if keep is None or face.name in keep:
            (folder / f"{n:05d}{Path(face.name).suffix}").write_bytes(face.read())
            n += 1
    base = [sys.executable, "-m", "facekeypoints", "predict", str(folder), "--model", args.model]
    _run(base + ["--workers", "1", "-o", str(tmp / "warm.jsonl")])  # the ONNX export, once, out of the timing
    result: dict = {"photos": n, "model": args.model, "source": args.src, "cpu": device_name("cpu")}
    small = tmp / "small"  # the start-up: the same command on 4 photos (processes, imports, model loads)
    small.mkdir()
    for f in sorted(folder.iterdir())[:4]:
        (small / f.name).write_bytes(f.read_bytes())
    for w in (1, 2):
        s = _run(base + ["--workers", str(w), "-o", str(tmp / f"w{w}.jsonl")])
        start = _run([*base[:4], str(small), *base[5:], "--workers", str(w), "-o", str(tmp / "small.jsonl")])
        result[f"workers_{w}"] = {"wall_s": round(s, 2), "photos_per_s": round(n / s, 1),
                                  "startup_s": round(start, 2),
                                  "photos_per_s_after_startup": round((n - 4) / max(1e-6, s - start), 1)}
    result["ratio_2_vs_1"] = round(result["workers_2"]["photos_per_s"] / result["workers_1"]["photos_per_s"], 2)
    result["ratio_2_vs_1_after_startup"] = round(result["workers_2"]["photos_per_s_after_startup"]
                                                 / result["workers_1"]["photos_per_s_after_startup"], 2)
    result["workers_2_vs_1_records"] = _same(tmp / "w1.jsonl", tmp / "w2.jsonl")
    if args.ray:
        s = _run(base + ["--ray", "--workers", "2", "-o", str(tmp / "ray.jsonl")])
        result["ray_local_2_actors"] = {"wall_s": round(s, 2), "photos_per_s": round(n / s, 1),
                                        "records_vs_workers_1": _same(tmp / "w1.jsonl", tmp / "ray.jsonl")}
    # crash test: kill -9 half-way through a 2-worker run, then --resume
    out = tmp / "killed.jsonl"
    proc = subprocess.Popen(base + ["--workers", "2", "-o", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= n // 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    # the workers die with their parent's pipe; what the file held at the kill:
    before = out.read_text().count("\n") if out.exists() else 0
    _run(base + ["--workers", "2", "-o", str(out), "--resume"])
    result["crash_test"] = {"records_at_kill": before, **_same(tmp / "w1.jsonl", out)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
