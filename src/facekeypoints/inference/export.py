"""``facekeypoints export``: a checkpoint to ONNX, and an onnxruntime runner for it.

The exported graph takes ``image`` ``(B, C, S, S)`` float32 pixels in 0..255 (C, S: the model's
input channels and side, 1 and 96 for Kaggle's faces) and returns
``keypoints`` ``(B, 15, 2)`` in pixels of that crop, exactly what the torch model returns
(test-time augmentation included as the checkpoint's config asks, see tta.py), so the
two backends are interchangeable. A ``.json`` beside the ``.onnx`` carries the checkpoint's
description (keypoint names, flip permutation, input contract). ``ship_onnx`` writes the graph a
bundled model ships with (``assets/NAME.onnx``), which ``predict`` runs without torch.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from ..checkpoint import bundled_path, load_checkpoint
from ..fileio import atomic_write, atomic_write_json, sha256_file
from .runtime import OnnxRunner  # noqa: F401 - re-exported (inference.export.OnnxRunner)
from .tta import PairOutput, has_68, with_tta


def export_onnx(model_path: str | Path, out: str | Path, opset: int = 17, flip_tta: bool | None = None,
                tta_views: int | None = None, pair: bool = False, all_points: bool = False) -> Path:
    """Write ``out`` (.onnx) and its ``.json``; returns the ONNX path.

    The graph holds the test-time augmentation the checkpoint's config asks for (``tta.py``:
    views and flips; ``flip_tta``/``tta_views`` override). With ``pair`` (what ``predict`` runs)
    its one output is ``(2, B, 15, 2)``: the crops' answer and the mirrored crops', apart.
    ``all_points``: every point of a model with a 68-point head (83: the 15, then the 68).
    """
    import onnx

    model, meta = load_checkpoint(model_path, "cpu")
    if all_points and not has_68(meta):
        raise ValueError(f"{model_path}: this model has no 68-point head (it predicts the 15 Kaggle points only)")
    wrapped = with_tta(model, meta, flip_tta, tta_views, all_points).eval()
    graph = PairOutput(wrapped) if pair else wrapped
    size, channels = meta["input"]["size"], int(meta["input"].get("channels", 1))
    out = Path(out).with_suffix(".onnx")

    def write(path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter warns that it is the old one
            name = "keypoints_pair" if pair else "keypoints"
            torch.onnx.export(graph, (torch.zeros(1, channels, size, size),), str(path), input_names=["image"],
                              output_names=[name], opset_version=opset, dynamo=False,
                              dynamic_axes={"image": {0: "batch"}, name: {1 if pair else 0: "batch"}})
        onnx.checker.check_model(str(path))

    atomic_write(out, write)
    atomic_write_json(out.with_suffix(".json"), {**meta, "onnx_file": out.name, "flip_tta_in_graph": wrapped.flip,
                                                  "tta_views_in_graph": wrapped.views, "pair_output": pair,
                                                  "all_points": all_points})
    return out


def default_export_path(model: str | Path) -> Path:
    """Where ``export`` writes by default: beside the checkpoint, or ``./NAME.onnx`` for a bundled
    model (never into the installed package)."""
    from ..checkpoint import BUNDLED, resolve_checkpoint

    if str(model) in BUNDLED and not Path(model).exists():
        return Path(f"{model}.onnx")
    return resolve_checkpoint(model).with_suffix(".onnx")


def ship_onnx(name: str) -> Path:
    """Export bundled model ``name`` to ``assets/NAME.onnx`` as ``predict`` runs it (the pair output,
    every point the model has) and record the graph in its card (``onnx``: file, sha256, points,
    views); returns the ONNX path. The card stays the single description of the model."""
    import os
    import tempfile

    card = bundled_path(name)
    meta = json.loads(card.read_text())
    all_points = has_68(meta)
    model, full = load_checkpoint(name)
    with tempfile.TemporaryDirectory() as tmp:  # export_onnx writes a .json beside: not over the card
        made = export_onnx(name, Path(tmp) / "graph.onnx", pair=True, all_points=all_points)
        out = card.with_suffix(".onnx")
        os.replace(made, out)
    meta["onnx"] = {"file": out.name, "sha256": sha256_file(out), "output": "keypoints_pair (2, B, P, 2)",
                    "points": 83 if all_points else 15, "tta_views_in_graph": with_tta(model, full).views,
                    "parameters": sum(p.numel() for p in model.parameters())}
    atomic_write_json(card, meta)
    return out
