"""How far the first crop of a tilted head is from upright, and what that costs, per photo roll.

    python benchmarks/roll_framing.py --model default --src data/src/wild68_train \\
        --faces-of data/wild68u128_val --rolls 0,15,30,45,60

Each photo is turned in its plane (``pipeline_eval.py --roll``: +DEG and -DEG, photo after photo).
For every face YuNet finds (its box overlapping the true 68-point box, IoU >= 0.2) it reports:

- ``true_deg``: the face's roll, from the similarity that frames its true 15 points upright
  (``geometry.template_matrix``), as the median of its size;
- ``framed_deg``: the roll the first crop takes out (``predict``'s framer from YuNet's 5 landmarks);
  ``residual_deg``: the median size of what is left for the network (true minus framed);
- ``nme``: ``predict`` with its defaults (re-framing passes included), and ``nme_true_framing``: the
  network on a crop framed upright from the true points (what a perfect first crop would give).

Faces whose true points cannot be framed (turned past 90 degrees: mirrored) are left out and counted.
Prints one JSON object per roll.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
from pipeline_eval import _match, _rolled

from facekeypoints.data.landmarks68 import iter_faces
from facekeypoints.geometry import resize_framing, template_matrix
from facekeypoints.keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS, map_68_to_15
from facekeypoints.photos.detect import box_iou, read_picture
from facekeypoints.photos.predict import KeypointDetector


def roll_of(m: np.ndarray) -> float:
    """The turn (degrees, counter-clockwise as seen) that the framing ``m`` takes out of the image."""
    return float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))


def nme(p: np.ndarray, t15: np.ndarray) -> float:
    return float(np.linalg.norm(p - t15, axis=1).mean() / np.linalg.norm(t15[3] - t15[5]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--src", default="data/src/wild68_train", help="68-point source folder")
    ap.add_argument("--faces-of", default="data/wild68u128_val", help="converted folder whose faces to use")
    ap.add_argument("--rolls", default="0,15,30,45,60", help="photo turns in degrees, comma-separated")
    args = ap.parse_args()
    keep = set(pd.read_csv(f"{args.faces_of}/meta.csv", usecols=["source"], keep_default_na=False)["source"])
    faces = [(f.read(), f.points) for f in iter_faces(args.src) if f.name in keep]
    det = KeypointDetector.from_pretrained(args.model)
    for roll in (float(r) for r in args.rolls.split(",")):
        true, framed, errs, oracle, skipped = [], [], [], [], 0
        for k, (raw, t68) in enumerate(faces):
            if roll:
                raw, t68 = _rolled(raw, t68, roll if k % 2 == 0 else -roll)
            t15 = map_68_to_15(t68)
            pic = read_picture(raw, "photo.png")
            found = det.detections(pic)
            if not len(found):
                continue
            iou = box_iou(found.boxes.astype(np.float64), np.r_[t68.min(0), t68.max(0)])
            j = int(np.argmax(iou))
            if iou[j] < 0.2:
                continue
            try:
                ideal = resize_framing(template_matrix(t15, rotate=True), det.size)
            except ValueError:
                skipped += 1
                continue
            true.append(roll_of(ideal))
            framed.append(roll_of(det.framer.framing(found.boxes[j], found.landmarks[j])))
            recs = det.keypoints_for(pic, found)
            pts = [np.array([[f["keypoints"][n]["x"], f["keypoints"][n]["y"]] for n in KEYPOINT_NAMES]) for f in recs]
            errs.append(nme(_match(pts, found.boxes, t68), t15))
            oracle.append(nme(det.predict_framed(pic, [ideal])[0][0][:NUM_KEYPOINTS], t15))
        t, f = np.array(true), np.array(framed)
        print(json.dumps({"roll": roll, "faces": len(t), "skipped_mirrored": skipped,
                          "true_deg": round(float(np.median(abs(t))), 1),
                          "framed_deg": round(float(np.median(abs(f))), 1),
                          "residual_deg": round(float(np.median(abs(t - f))), 1),
                          "nme": round(float(np.mean(errs)), 4), "nme_true_framing": round(float(np.mean(oracle)), 4),
                          "failure_rate": round(float((np.array(errs) > 0.1).mean()), 4)}))


if __name__ == "__main__":
    main()
