"""Running a model on its face crops (96x96 for Kaggle's faces; a photo model may take larger)."""

from __future__ import annotations

import numpy as np
import torch

from ..devices import device_name, pick_device  # noqa: F401 - re-exported for older imports
from ..warps import as_batch


@torch.no_grad()
def predict_crops(model: torch.nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 512,
                  device: torch.device | str | None = None) -> np.ndarray:
    """Keypoints ``(N, 15, 2)`` for uint8 crops ``(N, S, S)`` (S = the model's ``input_size``; a colour
    model's: ``(N, 3, S, S)``), in batches.

    Flips and views come from wrapping the model first (``tta.with_tta``), never from here.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    images = torch.as_tensor(images)
    size, channels = getattr(model, "input_size", None), getattr(model, "input_channels", 1)
    if size is not None and len(images) and tuple(images.shape[-2:]) != (size, size):
        shape = "x".join(map(str, images.shape[-2:]))
        raise ValueError(f"the model reads {size}x{size} crops, these faces are {shape}: use a model trained on "
                         f"faces of their size (68-point sources convert to {size}x{size} with `data convert --size "
                         f"{size}`)")
    have = 1 if images.dim() == 3 else int(images.shape[1])
    if len(images) and have != channels:
        kind = {1: "grey", 3: "BGR"}
        raise ValueError(f"the model reads {kind.get(channels, channels)} crops, these faces are "
                         f"{kind.get(have, have)}: use a model trained on such faces (`data convert --color` "
                         "keeps colour)")
    out = []
    for i in range(0, len(images), batch_size):
        x = as_batch(images[i : i + batch_size].to(device))  # (B, C, S, S), 0..255
        pred = model(x).float()
        out.append(pred.cpu())
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, 15, 2), np.float32)
