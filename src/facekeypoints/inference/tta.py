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

from ..cards import has_68  # noqa: F401 - re-exported (inference.tta.has_68)
from ..keypoints import NUM_KEYPOINTS, flip_index
from ..warps import flip_images, invert_affines, unflip_keypoints, warp_images

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
    """``model`` averaged over the identity plus ``views`` re-framings, and over mirrors with ``flip``.

    The one place flips and views happen: evaluation, submission, export, ``predict`` (which
    also wants the two halves of the flip apart, ``pair``) and training's validation all call it.
    With neither it is the bare model. ``flip`` and ``views`` are its settings, for reports.
    """

    __test__ = False  # its name starts with "Test": tell pytest it is not a test class

    def __init__(self, model: nn.Module, flip: bool = False, views: int = 0, all_points: bool = False):
        super().__init__()
        if not 0 <= views <= len(VIEWS):
            raise ValueError(f"tta_views={views}: choose 0..{len(VIEWS)}")
        self.model, self.flip, self.views = model, flip, views
        # all_points: every point the model predicts (15, then the 68 of a 68-point head), not just the 15
        self.all_points = all_points
        self.flip_idx = flip_index(getattr(model, "num_points", NUM_KEYPOINTS) if all_points else NUM_KEYPOINTS)
        size = model.input_size
        # The views live where the model does (made once, here; .to() moves them with it).
        device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
        mats = [view_affine(*v, size, device) for v in VIEWS[:views]]
        affines = torch.stack(mats) if mats else torch.zeros(0, 3, 3, device=device)
        self.register_buffer("affines", affines, persistent=False)
        self.register_buffer("inverses", invert_affines(affines), persistent=False)
        self.input_size, self.input_mean, self.input_std = size, model.input_mean, model.input_std
        self.input_channels = getattr(model, "input_channels", 1)
        self.train(model.training)  # the wrapper takes the model's mode (and .eval()/.train() pass it on)

    def _views(self, x: torch.Tensor) -> torch.Tensor:
        """The model averaged over the identity and the re-framing views (no flips)."""
        net = self.model.forward_all if self.all_points else self.model
        total = net(x)
        for a, inv in zip(self.affines, self.inverses, strict=True):
            total = total + net(warp_images(x, a[None])) @ inv[:2, :2].T + inv[:2, 2]
        return total / (1 + len(self.affines))

    def pair(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The answer on the crops and on their mirror images (left/right swapped back), apart:
        their distance is ``predict``'s confidence. One batch for both halves."""
        both = self._views(torch.cat([x, flip_images(x)])).unflatten(0, (2, -1))  # no batch size baked in
        return both[0], unflip_keypoints(both[1], x.shape[-1], self.flip_idx)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.flip:
            return self._views(x)
        a, b = self.pair(x)
        return 0.5 * (a + b)


class PairOutput(nn.Module):
    """``TestTimeAugment.pair`` as one output ``(2, B, P, 2)`` (P = 15, or 83 with ``all_points``), for an
    ONNX graph ``predict`` can run."""

    def __init__(self, tta: TestTimeAugment):
        super().__init__()
        self.tta = tta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.tta.pair(x))


def with_tta(model: nn.Module, meta: dict[str, Any], flip: bool | None = None,
             views: int | None = None, all_points: bool = False) -> TestTimeAugment:
    """``model`` wrapped as its checkpoint's config asks (``tta_flip``, ``tta_views``);
    ``flip``/``views`` given here override the config; ``all_points``: the 68 too (see ``has_68``)."""
    cfg = meta.get("config") or {}
    flip = bool(cfg.get("tta_flip", False)) if flip is None else flip
    views = int(cfg.get("tta_views", 0)) if views is None else views
    return TestTimeAugment(model, flip, views, all_points)
