"""Train, then score the run on its split's test part: what ``facekeypoints train`` and
``facekeypoints.train`` do. It sits above ``training`` and ``evaluation``, which know nothing
of each other.

K-fold (``folds=K``, ``train --folds K``): K normal runs ``PARENT/fold0`` ... ``fold{K-1}``, each
validating on its fold of the non-test part (``data/splits.py``); then ``PARENT/oof.json`` (the
out-of-fold scores: every non-test face predicted by the fold model that did not train on it) and
``PARENT/model.safetensors`` + ``model.json``: the K fold models as one averaged model, so the
parent folder is a model that ``evaluate``, ``submit``, ``predict`` and ``export`` take.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, config_dict, config_from_dict, resume_overrides
from .data import load_training, make_split
from .data.splits import fold_args
from .evaluation.evaluate import evaluate
from .evaluation.metrics import summary
from .fileio import atomic_write_json
from .inference.crops import predict_crops
from .inference.tta import with_tta
from .keypoints import NUM_KEYPOINTS
from .models import create_model
from .training.train import next_run_dir
from .training.train import train as fit


def train(cfg: TrainConfig | None = None, *, evaluate_test: bool = True, **kwargs: Any) -> Path:
    """``training.train.train`` (same arguments: ``run_dir``, ``resume``, ``runs_root``, ``name``,
    ``progress``, ``stop_after``, ``overrides``), then, once the final weights exist, the honest
    test evaluation into the run folder (``metrics.json``, pictures; rank 0 only).

    A config with ``folds=K`` (or ``resume=`` a k-fold parent) trains the K folds (``train_folds``)."""
    resume = kwargs.get("resume")
    if (resume is not None and _is_parent(Path(resume))) or (cfg is not None and cfg.folds and cfg.fold < 0):
        return train_folds(cfg, evaluate_test=evaluate_test, **kwargs)
    run = fit(cfg, **kwargs)
    if evaluate_test and os.environ.get("RANK", "0") == "0" and (run / "model.safetensors").exists():
        used = config_from_dict(json.loads((run / "config.json").read_text()))
        evaluate(run, used.data, used.split, out_dir=run)
    return run


def _is_parent(run: Path) -> bool:
    return (run / "folds.json").is_file()


def train_folds(cfg: TrainConfig | None = None, *, resume: str | Path | None = None,
                runs_root: str | Path = "runs/train", name: str | None = None, progress: bool = True,
                stop_after: int | None = None, overrides: dict[str, Any] | None = None,
                evaluate_test: bool = True) -> Path:
    """K-fold training under one parent folder; ``resume=PARENT`` goes on with the fold that was
    running (``overrides`` apply to every fold still to train). Returns the parent folder.

    ``stop_after=N`` stops the fold in progress after N epochs, as an interruption would."""
    if resume is not None:
        parent = Path(resume)
        cfg = config_from_dict(json.loads((parent / "config.json").read_text()))
        if overrides:  # for the fold in progress and every fold still to train
            cfg = resume_overrides(cfg, overrides)
            atomic_write_json(parent / "config.json", config_dict(cfg))
    else:
        if cfg is None:
            raise ValueError("train_folds() needs a config with folds=K or resume=PARENT")
        if cfg.folds < 2:
            raise ValueError(f"folds={cfg.folds}: k-fold needs at least 2 folds")
        parent = next_run_dir(runs_root, name or f"{cfg.recipe or 'run'}-{cfg.folds}fold")
        atomic_write_json(parent / "config.json", config_dict(cfg))
        atomic_write_json(parent / "folds.json", {"folds": cfg.folds, "runs": [f"fold{k}" for k in range(cfg.folds)]})
    for k in range(cfg.folds):
        run = parent / f"fold{k}"
        if (run / "model.safetensors").exists():
            continue
        print(f"fold {k + 1} of {cfg.folds}: {run}", file=sys.stderr)
        if (run / "config.json").exists():  # this fold was running: continue it
            fit(resume=run, progress=progress, stop_after=stop_after, overrides=overrides)
        else:
            fit(replace(cfg, fold=k), run_dir=run, progress=progress, stop_after=stop_after)
        if not (run / "model.safetensors").exists():
            return parent  # stopped (stop_after): resume the parent to go on
        if evaluate_test:
            evaluate(run, cfg.data, cfg.split, out_dir=run)  # each fold's own test figure
    oof = out_of_fold(parent)
    atomic_write_json(parent / "oof.json", oof)
    save_fold_ensemble(parent)
    if evaluate_test:
        evaluate(parent, cfg.data, cfg.split, out_dir=parent)
    return parent


def _fold_runs(parent: Path) -> list[Path]:
    return [parent / r for r in json.loads((parent / "folds.json").read_text())["runs"]]


def out_of_fold(parent: str | Path, device: str = "auto") -> dict[str, Any]:
    """Scores of the out-of-fold predictions of a k-fold parent: every non-test face predicted by
    the fold model that validated on it (with its test-time augmentation). Overall, per fold, and
    by label regime: rows with all 15 labels and rows with 4 (Kaggle's two; other counts apart)."""
    from .devices import pick_device

    parent = Path(parent)
    cfg = json.loads((parent / "config.json").read_text())
    ds = load_training(cfg["data"])
    pred = np.full(ds.keypoints.shape, np.nan, np.float32)
    fold_of = np.full(len(ds), -1)
    per_fold = []
    for k, run in enumerate(_fold_runs(parent)):
        net, meta = load_checkpoint(run, pick_device(device))
        idx = make_split(len(ds), cfg["split"], cfg["split_seed"], ds.identities,
                         **fold_args(meta.get("config") or {}))["val"]
        pred[idx] = predict_crops(with_tta(net, meta), ds.images[idx])
        fold_of[idx] = k
        per_fold.append({"fold": k, "run": run.name, **_scores(pred[idx], ds.keypoints[idx])})
    done = fold_of >= 0
    true, got = ds.keypoints[done], pred[done]
    count = np.isfinite(true[..., 0]).sum(1)
    by_labels = {}
    for tag, rows in (("15", count == NUM_KEYPOINTS), ("4", count == 4),
                      ("other", (count != NUM_KEYPOINTS) & (count != 4) & (count > 0))):
        by_labels[tag] = _scores(got[rows], true[rows]) if rows.any() else {"n_faces": 0}
    return {"folds": len(per_fold), "data": cfg["data"], "data_hash": ds.data_hash, "split": cfg["split"],
            "split_seed": cfg["split_seed"], **_scores(got, true), "by_labels": by_labels, "per_fold": per_fold}


def _scores(pred: np.ndarray, true: np.ndarray) -> dict[str, Any]:
    s = summary(pred, true)
    return {k: s[k] for k in ("rmse", "nme", "failure_rate", "n_faces", "n_coords", "per_keypoint_rmse")}


def save_fold_ensemble(parent: str | Path) -> Path:
    """``PARENT/model.safetensors`` + ``model.json``: the fold models averaged (each with the
    test-time augmentation of the shared config, which averages linearly)."""
    parent = Path(parent)
    cfg = json.loads((parent / "config.json").read_text())
    members, metas = zip(*(load_checkpoint(r) for r in _fold_runs(parent)), strict=True)
    spec = [{"model": m["model"], "model_args": m.get("model_args", {})} for m in metas]
    model = create_model("ensemble", members=spec)
    for dst, src in zip(model.members, members, strict=True):
        dst.load_state_dict(src.state_dict())
    return save_checkpoint(parent / "model.safetensors", model, "ensemble", {
        "model_args": {"members": spec}, "config": cfg, "folds": len(spec), "data_hash": metas[0].get("data_hash"),
        "split": metas[0].get("split"), "epochs": metas[0].get("epochs"),
        "train_time_s": sum(m.get("train_time_s", 0) for m in metas), "device": metas[0].get("device"),
        "device_name": metas[0].get("device_name"),
        "training_faces": sorted({f for m in metas for f in m.get("training_faces", [])}),
    })
