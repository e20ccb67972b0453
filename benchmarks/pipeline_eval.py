"""Whole-pipeline accuracy on original frames vs. the same model on ideal crops.

    python benchmarks/pipeline_eval.py --model runs/train/paper-seed0 --src ../shared/data/youtube-faces-68 \\
        --data data/yt15 [--json]

For every face of the YT15 `paper` split's test part, the original frame goes through
`KeypointDetector` (Haar detection, calibrated framing, model, mapping back). The face
counts as detected when a box overlaps its 68-point box (IoU >= 0.2); its NME is then
computed in original-image pixels against the 15 keypoints mapped from its 68. The same
model on the ideal crops made by `data convert` (framed from the true landmarks) gives the
baseline, so the calibration's cost is the difference. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from facekeypoints.data import load_training, make_split
from facekeypoints.data.landmarks68 import iter_faces
from facekeypoints.detect import box_iou, read_image
from facekeypoints.evaluate import evaluate
from facekeypoints.inference import device_name
from facekeypoints.keypoints import KEYPOINT_NAMES, map_68_to_15
from facekeypoints.metrics import nme_per_face


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--src", required=True, help="68-point source folder")
    ap.add_argument("--data", required=True, help="its converted folder")
    args = ap.parse_args()

    from facekeypoints.predict import KeypointDetector

    det = KeypointDetector.from_pretrained(args.model)
    ds = load_training(args.data)
    meta = pd.read_csv(f"{args.data}/meta.csv", keep_default_na=False)
    test = set(meta["source"].iloc[make_split(len(ds), "paper", 0, ds.identities)["test"]])
    nmes, found, total, t_total = [], 0, 0, 0.0
    for face in iter_faces(args.src):
        if face.name not in test:
            continue
        total += 1
        gray = read_image(face.read(), face.name)
        t0 = time.perf_counter()
        faces = det.detect_gray(gray)
        t_total += time.perf_counter() - t0
        lm = np.r_[face.points.min(0), face.points.max(0)]
        boxes = np.array([f["box"] for f in faces]).reshape(-1, 4)
        if len(boxes) == 0 or box_iou(boxes, lm).max() < 0.2:
            continue
        found += 1
        best = faces[int(np.argmax(box_iou(boxes, lm)))]
        pred = np.array([[best["keypoints"][n]["x"], best["keypoints"][n]["y"]] for n in KEYPOINT_NAMES])
        nmes.append(nme_per_face(pred[None], map_68_to_15(face.points)[None])[0])
    nmes = np.array(nmes)
    ideal = evaluate(args.model, args.data, "paper", plots=False)
    print(json.dumps({
        "faces": total, "detected": found, "detection_rate": found / max(1, total),
        "pipeline_nme": float(nmes.mean()), "pipeline_failure_rate": float((nmes > 0.1).mean()),
        "ideal_crop_nme": ideal["nme"], "ideal_crop_failure_rate": ideal["failure_rate"],
        "ideal_crop_rmse": ideal["rmse"], "ms_per_image": 1000 * t_total / max(1, total),
        "model": args.model, "device": device_name("cpu"),
    }))


if __name__ == "__main__":
    main()
