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

from .fileio import atomic_write, atomic_write_json, sha256_file
from .keypoints import FLIP_IDX, KEYPOINT_NAMES
from .models import create_model

FORMAT = "facekeypoints-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or not ours; the message names the file."""


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
        "input": {"size": model.input_size, "channels": 1, "range": "0..255 grayscale",
                  "mean": model.input_mean, "std": model.input_std},
        "output": "(B, 15, 2) pixel coordinates in the input frame, pixel centres at integers",
        "keypoint_names": list(KEYPOINT_NAMES),
        "flip_idx": list(FLIP_IDX),
        "weights_file": path.name,
        "weights_sha256": sha256_file(path),
        **info,
    }
    return atomic_write_json(path.with_suffix(".json"), meta)


BUNDLED = ("default", "fast")  # models shipped inside the package, loaded by name, offline


def bundled_path(name: str) -> Path:
    """Where the package keeps bundled model ``name`` (``assets/NAME.json`` + ``.safetensors``)."""
    return Path(__file__).parent / "assets" / f"{name}.json"


def describe_bundled() -> list[dict[str, Any]]:
    """Name, file size and the measured figures (docs/benchmarks.md) of each bundled model."""
    rows = []
    for name in BUNDLED:
        meta = json.loads(bundled_path(name).read_text())
        card = meta.get("measured", {})
        rows.append({"name": name, "size_mb": bundled_path(name).with_suffix(".safetensors").stat().st_size / 1e6,
                     "test_rmse": card.get("test_rmse", "?"), "cpu_ms_per_face": card.get("cpu_ms_per_face", "?"),
                     "points": "15+68" if (meta.get("model_args") or {}).get("num_points") == 83 else "15",
                     "input": f"{meta['input']['size']}px gray", "about": card.get("about", meta["model"])})
    return rows


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a bundled name, a run folder, ``X.safetensors`` or ``X.json``; return the JSON path."""
    if str(path) in BUNDLED and not Path(path).exists():
        p = bundled_path(str(path))
        if not p.exists():
            raise CheckpointError(f"no bundled model {str(path)!r} in this version yet; pass a checkpoint path")
        return p
    p = Path(path)
    if p.is_dir():
        p = p / "model.json"
    elif p.suffix != ".json":
        p = p.with_suffix(".json")
    if not p.exists():
        if len(Path(path).parts) == 1 and not Path(path).suffix:  # a bare word: meant as a bundled name?
            raise CheckpointError(f"{path!r}: not a bundled model ({', '.join(BUNDLED)}) nor a checkpoint "
                                  f"(looked for {p}); `facekeypoints models` lists them")
        raise CheckpointError(f"{path}: no checkpoint found (looked for {p})")
    return p


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model from a checkpoint; returns ``(model in eval mode, metadata)``."""
    jpath = resolve_checkpoint(path)
    try:
        meta = json.loads(jpath.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{jpath}: unreadable checkpoint description ({e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{jpath}: not a facekeypoints checkpoint (format={meta.get('format')!r})")
    if meta.get("keypoint_names") != list(KEYPOINT_NAMES):
        raise CheckpointError(f"{jpath}: keypoint names differ from this version's")
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
