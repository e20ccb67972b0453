"""The model zoo table: one row per recipe, medians over its seeds, from finished run folders.

    python benchmarks/zoo.py --data data/yt15 \\
        --row "paper=runs/train/paper-seed0,runs/train/paper-seed1,runs/train/paper-seed2" \\
        --row "default=runs/zoo/default-s0,runs/zoo/default-s1,runs/zoo/default-s2" --out runs/results/zoo.json

For each row: parameters and forward FLOPs of one face, median training time and the device it
ran on (from the checkpoints), median validation RMSE (recomputed, same test-time augmentation) and
median test RMSE / NME / failure rate (YT15 `paper` split, recomputed here with each run's own
test-time augmentation, or ``NAME@N`` views), each seed's test RMSE, and the CPU time per face:
onnxruntime, one 96x96 crop, with the row's test-time augmentation, ``--threads`` threads, p50.
Run it on an idle machine: the timing column is only as quiet as the CPU. Prints JSON on stdout
and a Markdown table on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from facekeypoints.checkpoint import load_checkpoint
from facekeypoints.data import load_training
from facekeypoints.evaluation.evaluate import evaluate
from facekeypoints.fileio import atomic_write_json
from facekeypoints.inference.crops import device_name
from facekeypoints.inference.export import OnnxRunner, export_onnx
from facekeypoints.models.registry import count_flops


def cpu_ms_per_face(run: str, threads: int, views: int | None, flip: bool | None = None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        runner = OnnxRunner(export_onnx(run, Path(tmp) / "m.onnx", flip_tta=flip, tta_views=views), threads=threads)
        side = runner.session.get_inputs()[0].shape[-1]  # the model's crop side
        x = np.random.default_rng(0).integers(0, 256, (1, side, side), np.uint8)
        for _ in range(20):
            runner(x)
        times, start = [], time.perf_counter()
        while time.perf_counter() - start < 2.0 or len(times) < 50:
            t0 = time.perf_counter()
            runner(x)
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def _members(metas: list[dict]) -> list[dict]:
    """Checkpoint descriptions, with a bundled ensemble replaced by its members'."""
    return [m for meta in metas for m in (meta.get("members") or [meta])]


def row(name: str, runs: list[str], data_path: str, ds, threads: int, views: int | None,
        flip: bool | None = None) -> dict:
    model, meta = load_checkpoint(runs[0])
    tta = {"tta_views": views, "tta_flip": flip}
    tests = [evaluate(r, data_path, "paper", plots=False, dataset=ds, **tta) for r in runs]
    vals = [evaluate(r, data_path, "paper", "val", plots=False, dataset=ds, **tta)["rmse"] for r in runs]
    metas = [load_checkpoint(r)[1] for r in runs]
    cfg = meta.get("config", {})
    return {
        "row": name, "model": meta["model"], "seeds": len(runs), "runs": runs, "tta_views": tests[0]["tta_views"][0],
        "tta_flip": tests[0]["tta_flip"][0],
        "params": int(sum(p.numel() for p in model.parameters())), "mflops": count_flops(model) / 1e6,
        "epochs": cfg.get("epochs"), "extra_data": cfg.get("extra_data", ""), "aux68": cfg.get("aux68", 0.0),
        "train_time_s_median": float(np.median([m.get("train_time_s", np.nan) for m in metas])),
        "train_device": sorted({m.get("device_name", m.get("device", "?")) for m in _members(metas)}),
        "val_rmse_median": float(np.median(vals)),
        "test_rmse_median": float(np.median([t["rmse"] for t in tests])),
        "test_rmse_per_seed": [round(t["rmse"], 4) for t in tests],
        "test_nme_median": float(np.median([t["nme"] for t in tests])),
        "test_failure_median": float(np.median([t["failure_rate"] for t in tests])),
        "cpu_ms_per_face": cpu_ms_per_face(runs[0], threads, views, flip),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--row", action="append", required=True,
                    help="NAME=RUN[,RUN...] (one run per seed); NAME@N=... evaluates with N test-time views, "
                         "NAME@flip=... with the mirrored crop, NAME@flip+N=... with both")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads for the ms/face column")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    ds = load_training(args.data)
    rows = []
    for spec in args.row:
        name, _, runs = spec.partition("=")
        tta = name.split("@")[1].split("+") if "@" in name else []
        flip = True if "flip" in tta else None
        views = next((int(t) for t in tta if t != "flip"), None)
        rows.append(row(name, runs.split(","), args.data, ds, args.threads, views, flip))
    result = {"rows": rows, "cpu": device_name("cpu"), "threads": args.threads}
    print(json.dumps(result))
    print("\n| row | model | params | MFLOPs | train time (device) | val RMSE | test RMSE (seeds) | NME | failure | "
          "CPU ms/face |\n|---|---|---|---|---|---|---|---|---|---|", file=sys.stderr)
    for r in rows:
        seeds = ", ".join(f"{v:.3f}" for v in r["test_rmse_per_seed"])
        print(f"| {r['row']} | {r['model']} | {r['params'] / 1e6:.3f}M | {r['mflops']:.0f} | "
              f"{r['train_time_s_median'] / 60:.0f} min ({', '.join(r['train_device'])}) | "
              f"{r['val_rmse_median']:.3f} | **{r['test_rmse_median']:.3f}** ({seeds}) | "
              f"{100 * r['test_nme_median']:.2f}% | {100 * r['test_failure_median']:.2f}% | "
              f"{r['cpu_ms_per_face']:.2f} |", file=sys.stderr)
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
