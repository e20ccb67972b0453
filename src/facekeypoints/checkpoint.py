"""Checkpoints: safetensors weights plus a JSON description. Never pickles.

``NAME.safetensors`` holds the tensors; ``NAME.json`` holds everything needed to rebuild
and use the model (registry name and args, input contract, keypoint names, flip
permutation, training config, data hash, split) and the sha256 of the weights file, so a
truncated or swapped weights file is caught with a clear error.

Training state for ``--resume`` (model + optimizer + RNG) is one ``state.safetensors``
whose JSON part sits in the file's own metadata, so a single atomic rename keeps it whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .cards import (  # noqa: F401 - the torch-free half, re-exported: checkpoint.X keeps working
    BUNDLED,
    FORMAT,
    VERSION,
    CheckpointError,
    bundled_path,
    describe_bundled,
    read_card,
    resolve_checkpoint,
)
from .fileio import atomic_write, atomic_write_json, sha256_file
from .keypoints import FLIP_IDX, KEYPOINT_NAMES
from .models import create_model


def _contiguous(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in sd.items()}


def save_checkpoint(path: str | Path, model: torch.nn.Module, model_name: str, info: dict[str, Any],
                    dtype: torch.dtype | None = None) -> Path:
    """Write ``path`` (.safetensors) and its ``.json``; returns the JSON path."""
    path = Path(path).with_suffix(".safetensors")
    sd = _contiguous(model.state_dict())
    if dtype is not None:
        sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in sd.items()}
    atomic_write(path, lambda p: save_file(sd, str(p)))
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model": model_name,
        "model_args": info.pop("model_args", {}),
        "input": {"size": model.input_size, "channels": model.input_channels,
                  "range": "0..255 grayscale" if model.input_channels == 1 else "0..255 BGR planes",
                  "mean": model.input_mean, "std": model.input_std,
                  **info.pop("input", {})},  # what the data adds to the contract: `upright` crops
        "output": "(B, 15, 2) pixel coordinates in the input frame, pixel centres at integers",
        "keypoint_names": list(KEYPOINT_NAMES),
        "flip_idx": list(FLIP_IDX),
        "weights_file": path.name,
        "weights_sha256": sha256_file(path),
        **info,
    }
    return atomic_write_json(path.with_suffix(".json"), meta)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model from a checkpoint; returns ``(model in eval mode, metadata)``."""
    jpath = resolve_checkpoint(path)
    meta = read_card(jpath)
    wpath = jpath.parent / meta.get("weights_file", jpath.with_suffix(".safetensors").name)
    if not wpath.exists():
        raise CheckpointError(f"{wpath}: weights file missing")
    if sha256_file(wpath) != meta.get("weights_sha256"):
        raise CheckpointError(f"{wpath}: weights do not match the sha256 in {jpath.name} (truncated or replaced?)")
    try:
        sd = load_file(str(wpath))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{wpath}: corrupt safetensors file ({e})") from None
    model = create_model(meta["model"], **meta.get("model_args", {}))
    ref = model.state_dict()
    sd = {k: v.to(ref[k].dtype) if k in ref else v for k, v in sd.items()}
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise CheckpointError(f"{wpath}: weights do not fit model {meta['model']!r} ({str(e)[:200]})") from None
    return model.to(device).eval(), meta


# --------------------------------------------------------------------------- resume state
def save_state(path: str | Path, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> Path:
    """One atomic file: tensors plus ``info`` as JSON in the safetensors metadata."""
    tensors = _contiguous(tensors)
    return atomic_write(path, lambda p: save_file(tensors, str(p), metadata={"info": json.dumps(info)}))


def load_state(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            info = json.loads(f.metadata()["info"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable training state ({e})") from None
    return tensors, info
