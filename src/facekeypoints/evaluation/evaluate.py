"""``facekeypoints evaluate``: honest test metrics for a checkpoint, as JSON, a table and pictures."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import load_checkpoint, resolve_checkpoint
from ..data import KeypointDataset, load_training, make_split
from ..data.labels import forward_fill
from ..data.splits import fold_args
from ..devices import pick_device
from ..fileio import atomic_write_json
from ..inference.crops import predict_crops
from ..inference.tta import with_tta
from .metrics import nme_per_face, rmse, summary
from .plots import face_grid, learning_curves, per_keypoint_bars


def evaluate(model_path: str | Path | list[str | Path], data: str | Path, split: str = "paper", part: str = "test",
             out_dir: str | Path | None = None, device: str = "auto", plots: bool = True,
             dataset: KeypointDataset | None = None, tta_views: int | None = None,
             tta_flip: bool | None = None) -> dict[str, Any]:
    """Metrics of a checkpoint on one part (``test`` by default) of a split of ``data``.

    The split seed comes from the checkpoint's training config, so the test faces are the
    ones that training never saw. Several checkpoints (same split seed) are evaluated as an
    ensemble: their predictions are averaged. Writes ``metrics.json`` (and pictures) to ``out_dir``.
    """
    paths = model_path if isinstance(model_path, list) else [model_path]
    models = [load_checkpoint(p, pick_device(device)) for p in paths]
    ds = dataset if dataset is not None else load_training(data)
    if any(m.get("data_hash") and m["data_hash"] != ds.data_hash for _, m in models):
        print(f"note: {data} is not the data a model was trained on (hash differs)", file=sys.stderr)
    seeds = {m.get("config", {}).get("split_seed", 0) for _, m in models}
    if len(seeds) > 1:
        raise ValueError(f"the checkpoints were trained on different splits (split_seed {sorted(seeds)})")
    seed = seeds.pop()
    folds = [fold_args(m.get("config") or {}) for _, m in models]
    if part != "test" and any(f != folds[0] for f in folds):
        raise ValueError(f"the checkpoints validate on different folds; their {part} parts differ (the test part "
                         "is the same: evaluate on it)")
    fold = folds[0] if part != "test" else {}
    idx = make_split(len(ds), split, seed, ds.identities, **fold)[part]
    true = ds.keypoints[idx]
    learnt = set().union(*(m.get("training_faces", []) for _, m in models))
    seen = sum(f in learnt for f in ds.fingerprints(idx)) if learnt else 0
    if seen:
        print(f"warning: {seen} of {len(idx)} evaluated faces were training faces of the model; "
              "these figures are not a test", file=sys.stderr)
    # each checkpoint with the test-time augmentation its config asks for (tta.py; ``tta_views``
    # overrides the number of re-framing views, ``tta_flip`` the mirror), then averaged
    nets = [with_tta(net, m, flip=tta_flip, views=tta_views) for net, m in models]
    pred = np.mean([predict_crops(net, ds.images[idx]) for net in nets], axis=0)
    result = {
        **summary(pred, true),
        "rmse_ffill": rmse(pred, forward_fill(ds.keypoints)[idx]),  # only to compare with the report's 2.1
        "split": split, "split_seed": seed, "part": part,
        "model": "+".join(m["model"] for _, m in models),
        "ensemble_of": sum(len((m.get("model_args") or {}).get("members", [None])) for _, m in models),
        "checkpoint": (str(resolve_checkpoint(paths[0])) if len(paths) == 1
                       else [str(resolve_checkpoint(p)) for p in paths]),
        "data": str(data), "data_hash": ds.data_hash,
        "seen_in_training": seen,  # evaluated faces the model trained on (0 for an honest test)
        "tta_flip": [net.flip for net in nets],
        "tta_views": [net.views for net in nets],
    }
    if out_dir is not None:
        out = Path(out_dir)
        atomic_write_json(out / ("metrics.json" if part == "test" else f"metrics_{part}.json"), result)
        nme = nme_per_face(pred, true)  # per face, for cumulative error curves (`facekeypoints report`)
        atomic_write_json(out / f"nme_per_face_{part}.json", [None if not np.isfinite(v) else float(v) for v in nme])
        if plots:
            _pictures(out, ds.images[idx], true, pred, result, resolve_checkpoint(paths[0]).parent)
    return result


def _pictures(out: Path, images, true, pred, result, ckpt_dir: Path) -> None:
    per_keypoint_bars(out / "per_keypoint_rmse.png", result["per_keypoint_rmse"])
    nme = nme_per_face(pred, true)
    order = np.argsort(np.where(np.isfinite(nme), nme, -1))
    for tag, pick in (("best", order[:16]), ("worst", order[::-1][:16])):
        titles = [f"NME {100 * nme[i]:.1f}%" for i in pick]
        face_grid(out / f"{tag}_faces.png", images[pick], true[pick], pred[pick], titles)
    hist = ckpt_dir / "history.json"
    if hist.exists():
        learning_curves(out / "learning_curves.png", json.loads(hist.read_text()))


def format_table(m: dict[str, Any]) -> str:
    """The metrics as a plain-text table."""
    lines = [
        f"{m['model']} on {m['part']} part of split {m['split']!r}: {m['n_faces']} faces"
        + (f" ({m['ensemble_of']}-model ensemble, answers averaged)" if m.get("ensemble_of", 1) > 1 else ""),
        f"  RMSE (present labels)   {m['rmse']:.4f} px",
        f"  RMSE (forward-filled)   {m['rmse_ffill']:.4f} px",
        f"  NME (outer eye corners) {100 * m['nme']:.3f} %",
        f"  failure rate (NME>10%)  {100 * m['failure_rate']:.2f} %",
        "  per keypoint RMSE (px):",
    ]
    lines += [f"    {k:<26} {v:.3f}" for k, v in m["per_keypoint_rmse"].items()]
    if m.get("seen_in_training"):
        lines.append(f"  WARNING: {m['seen_in_training']} of {m['n_faces']} faces were training faces of this model: "
                     "not a test")
    return "\n".join(lines)
