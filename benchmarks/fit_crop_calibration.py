"""Fit the detector-box -> crop calibration on annotated faces (training part only).

    python benchmarks/fit_crop_calibration.py --src ../shared/data/youtube-faces-68 --data data/yt15

For every face of the YT15 `paper` split's *train* part, the Haar box that overlaps the
face's 68-point box most is compared with the framing `data convert` used for it, giving
k = scale * box_width and the crop centre's place in the box (u, v). Medians are written to
src/facekeypoints/assets/calibration_haar.json with their spread and the detection rate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from facekeypoints.data import load_training, make_split
from facekeypoints.data.landmarks68 import iter_faces
from facekeypoints.detect import HaarDetector, box_iou, read_image
from facekeypoints.fileio import atomic_write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="68-point source folder (the one `data convert` read)")
    ap.add_argument("--data", required=True, help="its converted folder (training.csv + meta.csv)")
    ap.add_argument("--out", default=str(Path(__file__).parents[1] / "src/facekeypoints/assets/calibration_haar.json"))
    args = ap.parse_args()

    ds = load_training(args.data)
    meta = pd.read_csv(Path(args.data) / "meta.csv", keep_default_na=False)
    train = set(meta["source"].iloc[make_split(len(ds), "paper", 0, ds.identities)["train"]])
    framing = meta.set_index("source")[["scale", "shift_x", "shift_y"]]
    det = HaarDetector()
    rows, missed = [], 0
    for face in iter_faces(args.src):
        if face.name not in train:
            continue
        boxes, _ = det(read_image(face.read(), face.name))
        lm = np.r_[face.points.min(0), face.points.max(0)]
        if len(boxes) == 0 or box_iou(boxes, lm).max() < 0.2:
            missed += 1
            continue
        x1, y1, x2, y2 = boxes[np.argmax(box_iou(boxes, lm))]
        s, tx, ty = framing.loc[face.name]
        cx, cy = (47.5 - tx) / s, (47.5 - ty) / s  # source point at the crop centre
        rows.append((s * (x2 - x1), (cx - x1) / (x2 - x1), (cy - y1) / (y2 - y1)))
    r = np.array(rows)
    fit = {"k": float(np.median(r[:, 0])), "u": float(np.median(r[:, 1])), "v": float(np.median(r[:, 2])),
           "iqr": {n: float(np.subtract(*np.percentile(r[:, i], [75, 25]))) for i, n in enumerate("kuv")},
           "faces_used": len(rows), "faces_missed": missed, "detector": "haar frontalface_default",
           "fitted_on": f"{args.data} paper split, train part", "command": "benchmarks/fit_crop_calibration.py"}
    atomic_write_json(args.out, fit)
    print(json.dumps(fit, indent=2))


if __name__ == "__main__":
    main()
