"""Distillation: a teacher's averaged answers become the training targets.

The teacher (any checkpoint or bundled model, run with the test-time augmentation its
config asks for: for the bundled 3-network ``default``, flips and 8 re-framings, 54
passes) labels every training face once, on its un-augmented crop. Training then aims at
``teacher_weight * teacher + (1 - teacher_weight) * truth`` where a true label exists and
at the teacher alone where it does not (Kaggle's 4-point rows get all 15). Augmentation
moves these targets with the pixels exactly as it moves true labels, so the student learns
the averaged answer under every flip, shift and rotation the augmentation makes.

Labels are cached (``cache_dir()/teacher-*.safetensors``, keyed by the teacher's weights and
the faces' pixels): a second run with the same teacher and data starts at once. A teacher
that learnt from any of this split's validation or test faces is refused: its labels would
carry those faces into training.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ..checkpoint import CheckpointError, load_checkpoint
from ..fileio import atomic_write, cache_dir
from ..inference.crops import predict_crops
from ..inference.tta import with_tta


def teacher_labels(teacher: str, images: torch.Tensor, device: torch.device | str = "cpu",
                   forbidden: set[str] | None = None, batch_size: int = 256,
                   progress: bool = True) -> tuple[torch.Tensor, set[str]]:
    """The teacher's keypoints ``(N, 15, 2)`` for uint8 crops ``(N, S, S)`` (from the cache when there),
    and the ids of the faces the teacher learnt from (the student learns from them through it).

    ``forbidden``: ids of faces (``KeypointDataset.fingerprints``) the teacher must not have trained on.
    """
    try:
        model, meta = load_checkpoint(teacher, device)
    except CheckpointError as e:
        raise ValueError(f"teacher={teacher}: {e}") from None
    seen = set(meta.get("training_faces") or [])
    for member in meta.get("members") or []:
        seen |= set(member.get("training_faces") or [])
    leaked = seen & (forbidden or set())
    if leaked:
        raise ValueError(f"teacher={teacher}: it learnt from {len(leaked)} of this split's validation/test faces; "
                         "distilling from it would leak them into training (pick a teacher trained on this split, "
                         "or pass teacher=\"\" to train without one)")
    size = model.input_size
    if images.shape[-1] != size:
        raise ValueError(f"teacher={teacher}: it reads {size}x{size} crops, the training faces are "
                         f"{images.shape[-1]}x{images.shape[-2]}")
    pixels = np.ascontiguousarray(images.numpy())
    key = hashlib.sha256(meta.get("weights_sha256", "").encode() + pixels.tobytes()).hexdigest()[:24]
    path = cache_dir() / f"teacher-{key}.safetensors"
    if path.exists():
        try:
            cached = load_file(str(path))["keypoints"]
            if cached.shape == (len(images), 15, 2):
                return cached, seen
        except (SafetensorError, OSError, KeyError):
            pass  # a damaged cache entry: label again and overwrite it
    net = with_tta(model, meta)
    print(f"teacher {teacher}: labelling {len(images)} training faces once "
          f"(flip={net.flip}, views={net.views}; kept in {path.parent} for later runs)", file=sys.stderr)
    parts = [torch.from_numpy(predict_crops(net, images[i : i + batch_size]))
             for i in tqdm(range(0, len(images), batch_size), desc="teacher", unit="batch", file=sys.stderr,
                           disable=not progress)]
    labels = torch.cat(parts).float()
    try:
        atomic_write(path, lambda tmp: save_file({"keypoints": labels.contiguous()}, str(tmp)))
    except OSError:
        pass  # a read-only cache only costs time
    return labels, seen


def blend(truth: torch.Tensor, teacher: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight * teacher + (1 - weight) * truth`` where ``truth`` is present, ``teacher`` where it is NaN."""
    present = torch.isfinite(truth)
    return torch.where(present, weight * teacher + (1 - weight) * torch.nan_to_num(truth), teacher)
