"""Checkpoint cards: the JSON half of a checkpoint, read without torch (the photo path runs on
onnxruntime). A card names the network and its input contract, the keypoints, the training config,
the sha256 of the weights and, for bundled models, the shipped ONNX graph (``onnx``). The bundled
models live in ``assets/`` and are found by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS, NUM_WITH_68

FORMAT = "facekeypoints-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or not ours; the message names the file."""


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
        colour = "gray" if meta["input"].get("channels", 1) == 1 else "colour"
        rows.append({"name": name, "size_mb": bundled_path(name).with_suffix(".safetensors").stat().st_size / 1e6,
                     "test_rmse": card.get("test_rmse", "?"), "test_nme": card.get("test_nme", "?"),
                     "wild_val_nme": card.get("wild_val_nme", "?"), "wild_val_nme68": card.get("wild_val_nme68", "?"),
                     "cpu_ms_per_face": card.get("cpu_ms_per_face", "?"),
                     "points": "15+68" if (meta.get("model_args") or {}).get("num_points") == 83 else "15",
                     "input": f"{meta['input']['size']}px {colour}{' upright' if meta['input'].get('upright') else ''}",
                     "about": card.get("about", meta["model"])})
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


def read_card(path: str | Path) -> dict[str, Any]:
    """A checkpoint's JSON description (bundled name, run folder, .json or .safetensors), checked."""
    jpath = resolve_checkpoint(path)
    try:
        meta = json.loads(jpath.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{jpath}: unreadable checkpoint description ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{jpath}: not a facekeypoints checkpoint (format={got!r})")
    if meta.get("keypoint_names") != list(KEYPOINT_NAMES):
        raise CheckpointError(f"{jpath}: keypoint names differ from this version's")
    return meta


def has_68(meta: dict[str, Any]) -> bool:
    """Whether a checkpoint's model has a 68-point head (its points: the 15, then the 68)."""
    args = meta.get("model_args") or {}
    if "members" in args:  # an ensemble has the 68 when every member has
        return all(has_68(m) for m in args["members"])
    return int(args.get("num_points", NUM_KEYPOINTS)) == NUM_WITH_68
