"""Copy trained checkpoints into the package as a bundled model (fp16 weights, JSON card beside, and
the ONNX graph ``predict`` runs without torch: ``assets/NAME.onnx``, named with its sha256 in the card).

    python benchmarks/bundle_model.py default runs/train/hmnet-s0                  # one network
    python benchmarks/bundle_model.py default runs/train/hmnet-s0 runs/train/hmnet-s1 runs/train/hmnet-s2
                                                                                # an ensemble, outputs averaged
    ... --calibrate-on data/yt15     # fit the flip-consistency confidence on the `paper` validation faces
    ... --tta-views 8                # the bundled model averages over 8 re-framings (tta.py)
    ... --tta-flip                   # ... and over the mirrored crop
    ... --keep-68                    # keep an aux68 model's 68-point head (predict --points 68)
    ... --detect-side 160            # predict's YuNet first looks at 160 px for this model (card: predict)

With ``--calibrate-on``, the confidence calibration (``facekeypoints/confidence.py``: probability
that a keypoint is within TAU = 2.5 crop pixels, about 5% of the outer-eye-corner distance of a
Kaggle-framed face) is fitted on the validation part and stored in the JSON; its expected
calibration error on the test part, before and after, is printed with the rest.

Refuses a model whose split could have let the YT15 `paper` test faces into training
(the bundled model's test figure must stay honest): each config must use the `paper` split
with split_seed 0, so its training faces are the train part only (plus any extra sets).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from facekeypoints.checkpoint import BUNDLED, bundled_path, load_checkpoint, save_checkpoint
from facekeypoints.geometry import REFERENCE_SIZE
from facekeypoints.inference.export import ship_onnx
from facekeypoints.keypoints import NUM_WITH_68
from facekeypoints.models import create_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=BUNDLED)
    ap.add_argument("checkpoints", nargs="+", help="run folders or model.json files; several make an ensemble")
    ap.add_argument("--calibrate-on", metavar="DATA", help="converted YT15: fit the confidence on its val part")
    ap.add_argument("--tta-views", type=int, help="test-time re-framing views the bundled model uses (tta.py)")
    ap.add_argument("--tta-flip", action=argparse.BooleanOptionalAction,
                    help="average with the mirrored crop (predict always runs the mirror for the confidence)")
    ap.add_argument("--measured", metavar="JSON",
                    help="a JSON object of the model's measured figures (test_rmse, cpu_ms_per_face, about, source) "
                         "for its card and `facekeypoints models`; test_rmse defaults to the run's metrics.json")
    ap.add_argument("--keep-68", action="store_true",
                    help="keep the 68-point head of a model trained with aux68 (predict --points 68 needs it)")
    ap.add_argument("--detect-side", type=int, metavar="PX",
                    help="the side of YuNet's first look predict uses with this model (its card's "
                         "predict.detect_side; default: none, YuNet's own 256)")
    args = ap.parse_args()
    if args.detect_side is not None and not 64 <= args.detect_side <= 4096:
        ap.error(f"--detect-side {args.detect_side}: a side in pixels, 64 to 4096 (as predict --detect-size)")
    members, metas = [], []
    for ckpt in args.checkpoints:
        model, meta = load_checkpoint(ckpt)
        if args.keep_68:
            if meta.get("model_args", {}).get("num_points") != NUM_WITH_68:
                raise SystemExit(f"{ckpt}: --keep-68, but this model has no 68-point head (train it with aux68)")
            if len(args.checkpoints) > 1:
                raise SystemExit("--keep-68 takes one checkpoint (ensembles average the 15 only)")
        else:
            model, meta = strip_aux(model, meta)
        cfg = meta.get("config", {})
        if cfg.get("split") != "paper" or cfg.get("split_seed") != 0:
            raise SystemExit(f"{ckpt}: trained on split {cfg.get('split')}/{cfg.get('split_seed')}, "
                             "not paper/0: its YT15 test figure would not be honest")
        members.append(model)
        metas.append(meta)
    keep = ("config", "data_hash", "split", "epochs", "train_time_s", "device", "device_name")
    if len(members) == 1:
        model, name, meta = members[0], metas[0]["model"], metas[0]
        info = {k: v for k, v in meta.items() if k in keep} | {"model_args": meta.get("model_args", {})}
    else:
        spec = [{"model": m["model"], "model_args": m.get("model_args", {})} for m in metas]
        model, name = create_model("ensemble", members=spec), "ensemble"
        for dst, src in zip(model.members, members, strict=True):
            dst.load_state_dict(src.state_dict())
        info = {"model_args": {"members": spec}, "members": [{k: m.get(k) for k in keep} for m in metas],
                "config": metas[0].get("config"), "split": metas[0].get("split"),
                "train_time_s": sum(m.get("train_time_s", 0) for m in metas)}
    upright = {bool(m["input"].get("upright", False)) for m in metas}  # how predict must frame their faces
    if len(upright) > 1:
        raise SystemExit("some checkpoints read upright crops (data convert --upright), others do not: "
                         "an ensemble needs one framing")
    info["input"] = {"upright": upright.pop()}
    if args.tta_views is not None:
        info["config"] = {**(info.get("config") or {}), "tta_views": args.tta_views}
    if args.tta_flip is not None:
        info["config"] = {**(info.get("config") or {}), "tta_flip": args.tta_flip}
    report = {}
    if args.calibrate_on:
        info["confidence"], report = calibrate(model, {**metas[0], "config": info.get("config"), "confidence": None},
                                               args.calibrate_on)
    info["training_faces"] = sorted({f for m in metas for f in m.get("training_faces", [])})
    measured = json.loads(open(args.measured).read()) if args.measured else {}
    run_metrics = Path(args.checkpoints[0]) / "metrics.json"
    if len(args.checkpoints) == 1 and run_metrics.exists() and "test_rmse" not in measured:
        measured["test_rmse"] = round(json.loads(run_metrics.read_text())["rmse"], 3)  # the run's own test figure
    if measured:
        info["measured"] = measured
    if args.detect_side:
        info["predict"] = {"detect_side": args.detect_side}
    out = save_checkpoint(bundled_path(args.name).with_suffix(".safetensors"), model, name,
                          {**info, "bundled_as": args.name, "source_checkpoints": args.checkpoints},
                          dtype=torch.float16)
    size = out.with_suffix(".safetensors").stat().st_size
    graph = ship_onnx(args.name)  # the graph predict runs without torch, recorded in the card
    print(json.dumps({"bundled": args.name, "model": name, "json": str(out), "weights_bytes": size,
                      "onnx": str(graph), "onnx_bytes": graph.stat().st_size, **report}))


TAU_PX = 2.5


def strip_aux(model, meta: dict):
    """Drop the auxiliary 68-point outputs (``aux68`` training): inference only uses the 15.

    Only the last layer depends on ``num_points`` and the 15 come first, so each weight whose
    shape changes is cut to its first rows."""
    args = dict(meta.get("model_args", {}))
    if args.get("num_points", 15) == 15:
        return model, meta
    args.pop("num_points")
    slim = create_model(meta["model"], **args)
    sd = model.state_dict()
    slim.load_state_dict({k: v[: ref.shape[0]] if v.shape != ref.shape else v
                          for (k, v), ref in zip(sd.items(), slim.state_dict().values(), strict=True)})
    return slim.eval(), {**meta, "model_args": args}


def calibrate(model, meta: dict, data: str) -> tuple[dict, dict]:
    """Fit the confidence on the val part; report its calibration error on the test part."""
    from facekeypoints.data import load_training, make_split
    from facekeypoints.inference.confidence import confidence, expected_calibration_error, fit
    from facekeypoints.photos.predict import KeypointDetector

    ds = load_training(data)
    split = make_split(len(ds), "paper", 0, ds.identities)
    det = KeypointDetector(model, meta)
    tau = TAU_PX * det.size / REFERENCE_SIZE  # the same share of the face at any crop side
    parts = {}
    for part in ("val", "test"):
        idx = split[part]
        a, b = det.flip_pair(ds.images[idx])  # the model (with its views) on the crops and their mirrors
        points, d = 0.5 * (a + b), np.linalg.norm(a - b, axis=-1)
        err = np.linalg.norm(points - ds.keypoints[idx], axis=-1)
        parts[part] = (d, err)
    calib = fit(*parts["val"], tau=tau)
    d, err = parts["test"]
    hit = np.where(np.isfinite(err), err <= tau, np.nan)
    report = {"confidence": calib,
              "test_ece_uncalibrated": expected_calibration_error(confidence(d, None), hit),
              "test_ece_calibrated": expected_calibration_error(confidence(d, calib), hit),
              "test_hit_rate": float(np.nanmean(hit)),
              "test_mean_confidence": float(confidence(d, calib)[np.isfinite(err)].mean())}
    return calib, report


if __name__ == "__main__":
    main()
