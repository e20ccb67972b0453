"""The framing geometry of ``geometry.py`` on batches of tensors, on the data's device:
augmentation warps, test-time views, flips (training and the torch backend; not the photo path)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .keypoints import FLIP_IDX

_INDEX_CACHE: dict[tuple[tuple[int, ...], torch.device], torch.Tensor] = {}


def index_on(index: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``index`` as a long tensor on ``device``, copied there once (later calls need no host copy)."""
    key = (tuple(index), torch.device(device))
    if key not in _INDEX_CACHE:
        _INDEX_CACHE[key] = torch.tensor(key[0], dtype=torch.long, device=key[1])
    return _INDEX_CACHE[key]


def as_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 crops as the float batch a network reads: grey ``(N, S, S)`` -> ``(N, 1, S, S)``; colour
    ``(N, 3, S, S)`` stays as it is (the one place the channel axis is added)."""
    return (images.unsqueeze(1) if images.dim() == 3 else images).float()


def invert_affines(a: torch.Tensor) -> torch.Tensor:
    """Inverses of pixel-space affines ``(..., 3, 3)`` (last row 0 0 1), in closed form.

    Elementwise arithmetic on the affines' own device: unlike ``torch.linalg.inv`` it never
    waits for the GPU to report a singular matrix.
    """
    a00, a01, a02 = a[..., 0, 0], a[..., 0, 1], a[..., 0, 2]
    a10, a11, a12 = a[..., 1, 0], a[..., 1, 1], a[..., 1, 2]
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    zero, one = torch.zeros_like(det), torch.ones_like(det)
    return torch.stack([
        torch.stack([i00, i01, -(i00 * a02 + i01 * a12)], -1),
        torch.stack([i10, i11, -(i10 * a02 + i11 * a12)], -1),
        torch.stack([zero, zero, one], -1),
    ], -2)


def warp_images(images: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """Images ``(B, 1, H, W)`` moved by pixel-space affines ``(B, 3, 3)`` or one for all ``(1, 3, 3)``
    (a point p lands at A p)."""
    h, w = images.shape[-2:]
    # grid_sample wants, per output pixel, where to read in normalised input coords n = p / s - 1,
    # s = ((W - 1) / 2, (H - 1) / 2): with B = A^-1, n_in = B' n_out + c, written out per element.
    b = invert_affines(affine.to(images.device))[:, :2].to(images.dtype)  # (N, 2, 3)
    sx, sy = (w - 1) / 2, (h - 1) / 2
    b00, b01, b02, b10, b11, b12 = (b[:, i, j].view(-1, 1, 1) for i in range(2) for j in range(3))
    # The sampling grid, by broadcasting: F.affine_grid is many times slower on CPU.
    xs = torch.linspace(-1, 1, w, device=images.device, dtype=images.dtype).view(1, 1, w)
    ys = torch.linspace(-1, 1, h, device=images.device, dtype=images.dtype).view(1, h, 1)
    gx = b00 * xs + (b01 * sy / sx) * ys + (b00 + b01 * sy / sx + b02 / sx - 1)
    gy = (b10 * sx / sy) * xs + b11 * ys + (b10 * sx / sy + b11 + b12 / sy - 1)
    grid = torch.stack([gx, gy], -1)
    grid = grid.expand(images.shape[0], -1, -1, -1)  # (B, H, W, 2); traced, so ONNX keeps the batch dynamic
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def flip_images(images: torch.Tensor) -> torch.Tensor:
    """Mirror a batch ``(B, C, H, W)`` horizontally (for flip test-time augmentation)."""
    return images.flip(-1)


def unflip_keypoints(keypoints: torch.Tensor, width: int, flip_idx: tuple[int, ...] = FLIP_IDX) -> torch.Tensor:
    """Map predictions on mirrored images back: swap pairs (``flip_idx``), x -> W - 1 - x."""
    kp = keypoints[:, index_on(flip_idx, keypoints.device)]
    return torch.cat([(width - 1) - kp[..., :1], kp[..., 1:]], -1)  # no in-place write: ONNX keeps the batch free
