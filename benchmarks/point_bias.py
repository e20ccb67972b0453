"""Where a photo model's error is: bias (a constant offset per point) or spread, and whether its
15 keypoints gain from being derived from its own 68.

    python benchmarks/point_bias.py --model default --data data/wild68u160_val --part all
    python benchmarks/point_bias.py --model default --data data/yt15u160 --part val

On a converted folder's crops (detector-framed, as ``predict`` frames a photo), the model's answer as
``predict`` forms it (crop and mirror, averaged) is compared with the labels, per keypoint, in units of
the face's outer-eye-corner distance: the mean signed error ``bias`` (x, y) and the mean distance
``error``. A bias that is a large part of the error could be taken off; one that is not says the error
is spread. With a 68-point head, the NME of the 15 keypoints is also given as the network predicts
them, as derived from its 68 (``map_68_to_15``, as ``data convert`` derives the labels) and as the
mean of the two. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from facekeypoints.data import load_training
from facekeypoints.data.splits import paper_part
from facekeypoints.evaluation.metrics import nme_per_face, normaliser
from facekeypoints.keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS, map_68_to_15
from facekeypoints.photos.predict import KeypointDetector


def nme(pred: np.ndarray, true: np.ndarray) -> float:
    """The project's NME (``evaluation.metrics``), over the faces."""
    return float(np.nanmean(nme_per_face(pred, true)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="bundled name or checkpoint (default: default)")
    ap.add_argument("--data", required=True, help="a converted folder (training.csv + meta.csv)")
    ap.add_argument("--part", default="val", choices=("val", "test", "all"), help="paper split part, or all faces")
    args = ap.parse_args()
    if not (Path(args.data) / "training.csv").is_file():
        ap.error(f"--data {args.data}: no training.csv there (a folder `facekeypoints data convert` wrote)")
    ds = load_training(args.data)
    idx = paper_part(len(ds), args.part, ds.identities)
    try:
        det, points = KeypointDetector.from_pretrained(args.model, points=68), 68
    except ValueError as e:
        if "no 68-point head" not in str(e):
            raise
        print(f"point_bias: {args.model} has no 68-point head: the 15 keypoints only (no derived-from-68 rows)",
              file=sys.stderr)
        det, points = KeypointDetector.from_pretrained(args.model), 15
    pred, _ = det.predict_crops(ds.images[idx])
    true = ds.keypoints[idx]
    direct = pred[:, :NUM_KEYPOINTS]
    err = (direct - true) / normaliser(true)[:, None, None]
    result = {
        "model": args.model, "data": args.data, "part": args.part, "faces": len(idx),
        "nme": nme(direct, true),
        "per_keypoint": {name: {"bias": [round(float(v), 5) for v in np.nanmean(err[:, k], 0)],
                                "error": round(float(np.nanmean(np.linalg.norm(err[:, k], axis=1))), 5)}
                         for k, name in enumerate(KEYPOINT_NAMES)},
    }
    # the NME if each keypoint's mean bias were taken off (measured on these faces: an upper bound of the gain)
    bias = np.nanmean(direct - true, axis=0)
    result["nme_without_bias"] = nme(direct - bias, true)
    if points == 68:
        derived = map_68_to_15(pred[:, NUM_KEYPOINTS:])
        result["nme_derived_from_68"] = nme(derived, true)
        result["nme_mean_of_both"] = nme(0.5 * (direct + derived), true)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
