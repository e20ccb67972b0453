"""Which pixel convention a 68-point source uses, measured with a mirror-trained model.

    python benchmarks/pixel_convention.py --model default --data data/yt15 --part val
    python benchmarks/pixel_convention.py --model default --data data/wild68_val --part all

A model trained with horizontal flips (x -> W - 1 - x, left/right swapped) cannot learn a constant
horizontal offset in its labels: if a source's labels sit ``d`` pixels right of the features,
its mirrored copies sit ``d`` pixels left, and the two cancel. So on that source's faces the mean
horizontal residual (label - prediction) of the points on the face's midline (nose tip, lip
centres; their mirror is themselves) estimates ``d``. Divided by each face's crop scale it is in
source pixels: about 0 for 0-based labels, about +1 for 1-based ones read as 0-based. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from facekeypoints.checkpoint import load_checkpoint
from facekeypoints.data import load_training
from facekeypoints.data.splits import paper_part
from facekeypoints.inference.crops import predict_crops
from facekeypoints.inference.tta import with_tta
from facekeypoints.keypoints import INDEX

MIDLINE = ("nose_tip", "mouth_center_top_lip", "mouth_center_bottom_lip")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="a model trained with flips (default: default)")
    ap.add_argument("--data", required=True, help="a converted folder (training.csv + meta.csv)")
    ap.add_argument("--part", default="val", choices=("val", "test", "all"), help="paper split part, or all faces")
    args = ap.parse_args()
    if not (Path(args.data) / "training.csv").is_file():
        ap.error(f"--data {args.data}: no training.csv there (a folder `facekeypoints data convert` wrote)")
    ds = load_training(args.data)
    idx = paper_part(len(ds), args.part, ds.identities)
    scale = pd.read_csv(f"{args.data}/meta.csv", usecols=["scale"])["scale"].to_numpy()[idx]
    model, meta = load_checkpoint(args.model)
    pred = predict_crops(with_tta(model, meta, flip=True), ds.images[idx])
    cols = [INDEX[n] for n in MIDLINE]
    dx = (ds.keypoints[idx][:, cols, 0] - pred[:, cols, 0]) / scale[:, None]  # source pixels
    per_face = np.nanmean(dx, axis=1)
    ok = np.isfinite(per_face)
    mean, se = float(per_face[ok].mean()), float(per_face[ok].std(ddof=1) / np.sqrt(ok.sum()))
    print(json.dumps({"data": args.data, "part": args.part, "faces": int(ok.sum()), "model": args.model,
                      "mean_dx_source_px": round(mean, 3), "standard_error": round(se, 3),
                      "median_dx_source_px": round(float(np.median(per_face[ok])), 3),
                      "reads_as": "0-based" if abs(mean) < 0.5 else ("1-based" if abs(mean - 1) < 0.5 else "unclear")}))


if __name__ == "__main__":
    main()
