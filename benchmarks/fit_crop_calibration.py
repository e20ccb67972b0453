"""Fit a detector's detection -> crop framing on annotated faces (never on test faces).

    python benchmarks/fit_crop_calibration.py --detector yunet \\
        --src ../shared/data/youtube-faces-68 --data data/yt15 \\
        --extra ../shared/data/wild-68 data/wild68

For every face of the YT15 `paper` split's *train* part (and every face of each ``--extra``
source, which is training data only), the detection that overlaps the face's 68-point box
most is compared with the framing `data convert` used for that face:

- box: k = scale * box width and the crop centre's place in the box (u, v), medians;
- landmarks (YuNet): each of the 5 points mapped into the training crop; their medians are
  ``template5``, where the pipeline puts the detector's 5 points (least squares);
- ``correction``: a ridge regression from the 5 points, framed on ``template5``, to where the
  face's 4 framing keypoints (``KAGGLE_TEMPLATE``, from its 68 points) sit in that same frame.

Writes src/facekeypoints/assets/calibration_DETECTOR.json with spreads and detection counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from facekeypoints.data import load_training, make_split
from facekeypoints.data.landmarks68 import iter_faces
from facekeypoints.fileio import atomic_write_json
from facekeypoints.geometry import KAGGLE_TEMPLATE, apply_affine, fit_scale_shift, scale_shift_matrix
from facekeypoints.keypoints import INDEX, map_68_to_15
from facekeypoints.photos.detect import box_iou, correction_features, create_detector, read_image

ASSETS = Path(__file__).parents[1] / "src/facekeypoints/assets"


def _measure(det, src: str, data: str, only_train: bool) -> tuple[list, list, int]:
    meta = pd.read_csv(Path(data) / "meta.csv", keep_default_na=False)
    keep = set(meta["source"])
    if only_train:
        ds = load_training(data)
        keep = set(meta["source"].iloc[make_split(len(ds), "paper", 0, ds.identities)["train"]])
    framing = meta.set_index("source")[["scale", "shift_x", "shift_y"]]
    boxes_rows, lm_rows, four_rows, missed = [], [], [], 0
    for face in iter_faces(src):
        if face.name not in keep:
            continue
        found = det(read_image(face.read(), face.name, color=True))
        lm = np.r_[face.points.min(0), face.points.max(0)]
        if len(found) == 0 or box_iou(found.boxes, lm).max() < 0.2:
            missed += 1
            continue
        i = int(np.argmax(box_iou(found.boxes, lm)))
        x1, y1, x2, y2 = found.boxes[i]
        s, tx, ty = framing.loc[face.name]
        cx, cy = (47.5 - tx) / s, (47.5 - ty) / s  # source point at the crop centre
        boxes_rows.append((s * (x2 - x1), (cx - x1) / (x2 - x1), (cy - y1) / (y2 - y1)))
        if np.isfinite(found.landmarks[i]).all():
            lm_rows.append(found.landmarks[i] * s + np.array([tx, ty]))
            four_rows.append((found.landmarks[i], found.boxes[i],
                              map_68_to_15(face.points)[[INDEX[n] for n in KAGGLE_TEMPLATE]]))
    return boxes_rows, lm_rows, four_rows, missed


def fit_correction(rows: list, template5: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """``(15, 8)``: the landmarks and box framed on template5 (``correction_features``) -> the 4
    framing keypoints in that frame, by ridge regression."""
    xs, ys = [], []
    for lm5, box, four in rows:
        m = scale_shift_matrix(*fit_scale_shift(lm5, template5))
        xs.append(correction_features(m, lm5, box))
        ys.append(apply_affine(four, m).reshape(-1))
    x, y = np.array(xs), np.array(ys)
    reg = ridge * np.eye(x.shape[1])
    reg[-1, -1] = 0  # the bias is not shrunk
    return np.linalg.solve(x.T @ x + reg, x.T @ y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", default="yunet", help="yunet or haar (default: yunet)")
    ap.add_argument("--src", required=True, help="68-point source folder (the one `data convert` read)")
    ap.add_argument("--data", required=True, help="its converted folder (training.csv + meta.csv); train part used")
    ap.add_argument("--extra", nargs=2, action="append", default=[], metavar=("SRC", "DATA"),
                    help="another source and its converted folder, used whole (training data only)")
    ap.add_argument("--out", help="default: src/facekeypoints/assets/calibration_DETECTOR.json")
    args = ap.parse_args()

    det = create_detector(args.detector)
    rows, lms, fours, missed = _measure(det, args.src, args.data, only_train=True)
    used = [f"{args.data} paper split, train part"]
    for src, data in args.extra:
        r, m, f, x = _measure(det, src, data, only_train=False)
        rows, lms, fours, missed = rows + r, lms + m, fours + f, missed + x
        used.append(f"{data} (all)")
    r = np.array(rows)
    fit = {"k": float(np.median(r[:, 0])), "u": float(np.median(r[:, 1])), "v": float(np.median(r[:, 2])),
           "iqr": {n: float(np.subtract(*np.percentile(r[:, i], [75, 25]))) for i, n in enumerate("kuv")},
           "faces_used": len(rows), "faces_missed": missed, "detector": args.detector,
           "fitted_on": "; ".join(used), "command": "benchmarks/fit_crop_calibration.py"}
    if lms:
        t5 = np.median(np.stack(lms), 0)
        fit["template5"] = [[round(float(x), 3), round(float(y), 3)] for x, y in t5]
        fit["template5_iqr_px"] = float(np.median(np.subtract(*np.percentile(np.stack(lms), [75, 25], axis=0))))
        fit["correction"] = [[round(float(v), 6) for v in row] for row in fit_correction(fours, t5)]
    out = args.out or ASSETS / f"calibration_{args.detector}.json"
    atomic_write_json(out, fit)
    print(json.dumps(fit, indent=2))


if __name__ == "__main__":
    main()
