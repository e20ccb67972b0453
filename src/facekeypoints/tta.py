"""Test-time augmentation as a model wrapper: mirrored crops and a few fixed small re-framings.

Each view warps the crop by a small similarity transform (scale, rotation, shift), the model
predicts, and the points are mapped back through the inverse transform; the views' answers
are averaged (and, with ``flip``, so are the mirrored crops', left/right swapped back). A
model's stride-2 layers make its answer shift a little with sub-pixel moves of the face;
averaging over such moves removes much of that noise (the gain is measured in
docs/benchmarks.md). Checkpoints ask for it in their config (``tta_flip``, ``tta_views``);
``evaluate``, ``predict``, ``submit`` and ONNX export all go through this one wrapper.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn

from .augment import flip_images, invert_affines, unflip_keypoints, warp_images

# (scale, rotation in degrees, shift x, shift y in pixels) of each extra view, in pairs that
# mirror each other; `tta_views=N` uses the first N. Sizes chosen on the YT15 validation faces
# (within the training augmentation's range: scale +-10%, rotation +-15 degrees).
VIEWS: tuple[tuple[float, float, float, float], ...] = (
    (1.08, 8.0, 3.0, 2.0), (0.92, -8.0, -3.0, -2.0),
    (1.04, -6.0, 2.0, -3.0), (0.96, 6.0, -2.0, 3.0),
    (1.10, 0.0, -3.0, 1.0), (0.90, 0.0, 3.0, -1.0),
    (1.0, 10.0, 1.0, -2.0), (1.0, -10.0, -1.0, 2.0),
)


def view_affine(scale: float, degrees: float, dx: float, dy: float, size: int,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """The 3x3 pixel-space matrix of one view: about the crop centre, then shifted."""
    c = (size - 1) / 2
    a = math.radians(degrees)
    cos, sin = scale * math.cos(a), scale * math.sin(a)
    return torch.tensor([[cos, -sin, c + dx - (cos * c - sin * c)],
                         [sin, cos, c + dy - (sin * c + cos * c)],
                         [0.0, 0.0, 1.0]], device=device)


class TestTimeAugment(nn.Module):
    """``model`` averaged over the identity plus ``views`` re-framings, and over mirrors with ``flip``."""

    __test__ = False  # its name starts with "Test": tell pytest it is not a test class

    def __init__(self, model: nn.Module, flip: bool = False, views: int = 0):
        super().__init__()
        if not 0 <= views <= len(VIEWS):
            raise ValueError(f"tta_views={views}: choose 0..{len(VIEWS)}")
        self.model, self.flip = model, flip
        size = model.input_size
        # The views live where the model does (made once, here; .to() moves them with it).
        device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
        mats = [view_affine(*v, size, device) for v in VIEWS[:views]]
        affines = torch.stack(mats) if mats else torch.zeros(0, 3, 3, device=device)
        self.register_buffer("affines", affines, persistent=False)
        self.register_buffer("inverses", invert_affines(affines), persistent=False)
        self.input_size, self.input_mean, self.input_std = size, model.input_mean, model.input_std

    def _one(self, x: torch.Tensor) -> torch.Tensor:
        pred = self.model(x)
        if self.flip:
            pred = 0.5 * (pred + unflip_keypoints(self.model(flip_images(x)), x.shape[-1]))
        return pred

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self._one(x)
        for a, inv in zip(self.affines, self.inverses, strict=True):
            pred = self._one(warp_images(x, a[None]))
            total = total + pred @ inv[:2, :2].T + inv[:2, 2]
        return total / (1 + len(self.affines))


def tta_settings(meta: dict[str, Any], flip: bool | None = None, views: int | None = None) -> tuple[bool, int]:
    """``(flip, views)`` a checkpoint's config asks for; ``flip``/``views`` given here override it."""
    cfg = meta.get("config") or {}
    return (bool(cfg.get("tta_flip", False)) if flip is None else flip,
            int(cfg.get("tta_views", 0)) if views is None else views)


def with_tta(model: nn.Module, meta: dict[str, Any], flip: bool | None = None, views: int | None = None) -> nn.Module:
    """Wrap ``model`` as its checkpoint's config asks (``flip``/``views`` override it); bare if neither."""
    flip, views = tta_settings(meta, flip, views)
    if not flip and not views:
        return model
    return TestTimeAugment(model, flip, views).eval()
