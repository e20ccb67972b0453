"""Running a model on 96x96 face crops."""

from __future__ import annotations

import numpy as np
import torch


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; a named device must exist here (a clear error if not)."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {name!r}: not a device name (cpu, cuda, cuda:N, auto)") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {name!r}: no such CUDA device here (torch {torch.__version__}, "
                         f"{torch.cuda.device_count()} CUDA devices); use cpu")
    return device


def device_name(device: torch.device | str) -> str:
    """A human name for where code ran: the GPU's name, or the CPU model and core count."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import os
    import platform

    name = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name} ({os.cpu_count()} cores)"


@torch.no_grad()
def predict_crops(model: torch.nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 512,
                  device: torch.device | str | None = None) -> np.ndarray:
    """Keypoints ``(N, 15, 2)`` for uint8 crops ``(N, 96, 96)``, in batches, in eval mode.

    Flips and views come from wrapping the model first (``tta.with_tta``), never from here.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    images = torch.as_tensor(images)
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device).unsqueeze(1).float()  # (B, 1, 96, 96), 0..255
        pred = model(x).float()
        out.append(pred.cpu())
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, 15, 2), np.float32)
