"""Validation and test RMSE of run folders (or bundled models), without and with the mirrored crop.

    python benchmarks/flip_table.py runs/train/fm_kd runs/train/fm_kd_s1 fast --data data/yt15

One line per model on the YT15 `paper` split (split_seed 0): val and test RMSE of one pass and of
two (the crop and its mirror averaged, as `predict` runs every model). The model's own re-framing
views are not used (``views=0``); ``evaluate`` gives those. Selection happens on ``val`` only.
"""

from __future__ import annotations

import argparse
import json

import torch

from facekeypoints.data import load_training
from facekeypoints.evaluation.evaluate import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="run folders, model.json files or bundled names")
    ap.add_argument("--data", default="data/yt15", help="converted YT15 (default: data/yt15)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_training(args.data)
    for path in args.models:
        row = {"model": path}
        for flip in (False, True):
            for part in ("val", "test"):
                m = evaluate(path, args.data, "paper", part, plots=False, dataset=ds, tta_views=0, tta_flip=flip)
                row[f"{part}_{'flip' if flip else 'one'}"] = round(m["rmse"], 4)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
