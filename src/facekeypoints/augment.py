"""Batched augmentation on the training device; keypoints move exactly with the pixels.

One random affine per face (horizontal flip with left/right swapping, rotation, scale,
translation) is built in pixel coordinates, applied to the image with ``grid_sample``
and to the keypoints with the same matrix, so image and labels cannot drift apart.
Keypoints pushed out of the frame become missing (NaN). Photometric changes
(brightness, contrast, gamma, blur, noise) touch pixels only.

Pixel centres sit at integer coordinates (``align_corners=True``), the convention of the
rest of the project: a flip maps x to ``W - 1 - x``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .keypoints import FLIP_IDX


@dataclass
class AugmentConfig:
    flip: float = 0.5  # probability of a horizontal flip (with left/right keypoint swap)
    rotate: float = 15.0  # max rotation, degrees (uniform in [-rotate, rotate])
    scale: float = 0.1  # scale in [1 - scale, 1 + scale]
    translate: float = 0.06  # shift, as a fraction of the image side, per axis
    brightness: float = 0.2  # add uniform [-b, b] * 255
    contrast: float = 0.3  # multiply deviations from the mean by [1 - c, 1 + c]
    gamma: float = 0.3  # gamma in [1 - g, 1 + g]
    blur: float = 0.2  # probability of a 3x3 Gaussian blur
    noise: float = 6.0  # Gaussian pixel noise, max sigma (0..255 units)


def random_affine(n: int, size: int, cfg: AugmentConfig, generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Random pixel-space affines ``(n, 3, 3)`` and flip flags ``(n,)``."""
    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=device) * (hi - lo) + lo

    flip = torch.rand(n, generator=generator, device=device) < cfg.flip
    angle = u(-cfg.rotate, cfg.rotate) * math.pi / 180
    scale = u(1 - cfg.scale, 1 + cfg.scale)
    tx, ty = (u(-cfg.translate, cfg.translate) * size for _ in range(2))
    c = (size - 1) / 2
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    fx = torch.where(flip, -1.0, 1.0)
    # p' = R S F (p - c) + c + t
    a = torch.zeros(n, 3, 3, device=device)
    a[:, 0, 0], a[:, 0, 1] = cos * fx, -sin
    a[:, 1, 0], a[:, 1, 1] = sin * fx, cos
    a[:, 0, 2] = c + tx - (a[:, 0, 0] * c + a[:, 0, 1] * c)
    a[:, 1, 2] = c + ty - (a[:, 1, 0] * c + a[:, 1, 1] * c)
    a[:, 2, 2] = 1
    return a, flip


_INDEX_CACHE: dict[tuple[tuple[int, ...], torch.device], torch.Tensor] = {}


def index_on(index: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``index`` as a long tensor on ``device``, copied there once (later calls need no host copy)."""
    key = (tuple(index), torch.device(device))
    if key not in _INDEX_CACHE:
        _INDEX_CACHE[key] = torch.tensor(key[0], dtype=torch.long, device=key[1])
    return _INDEX_CACHE[key]


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


def warp(images: torch.Tensor, keypoints: torch.Tensor, affine: torch.Tensor, flip: torch.Tensor,
         flip_idx: tuple[int, ...] = FLIP_IDX) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply pixel-space affines to images ``(B, 1, H, W)`` and keypoints ``(B, K, 2)``.

    ``flip_idx`` is the left/right permutation of the K points (the 15 by default).
    """
    h, w = images.shape[-2:]
    out = warp_images(images, affine)
    # Keypoints: forward map, then swap left/right for flipped faces.
    kp = keypoints @ affine[:, :2, :2].transpose(1, 2) + affine[:, None, :2, 2]
    kp = torch.where(flip[:, None, None], kp[:, index_on(flip_idx, kp.device)], kp)
    outside = ((kp < 0) | (kp[..., :1] > w - 1) | (kp[..., 1:] > h - 1)).any(-1, keepdim=True)
    return out, kp.masked_fill(outside, float("nan"))


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


def photometric(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Brightness, contrast, gamma, blur and noise on ``(B, 1, H, W)`` pixels in 0..255."""
    b = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(b, 1, 1, 1, generator=generator, device=x.device) * (hi - lo) + lo)

    x = 255 * (x / 255).clamp(0, 1) ** u(1 - cfg.gamma, 1 + cfg.gamma)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * u(1 - cfg.contrast, 1 + cfg.contrast) + mean + 255 * u(-cfg.brightness, cfg.brightness)
    if cfg.blur > 0:  # separable [1 2 1]/4 blur by slicing (a 1-channel conv2d is slow on CPU)
        p = F.pad(x, (1, 1, 1, 1), mode="replicate")
        p = (p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]) / 4
        blurred = (p[..., :-2, :] + 2 * p[..., 1:-1, :] + p[..., 2:, :]) / 4
        x = torch.where(u(0, 1) < cfg.blur, blurred, x)
    if cfg.noise > 0:
        sigma = u(0, cfg.noise)
        x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device)
    return x.clamp(0, 255)


def augment_batch(images: torch.Tensor, keypoints: torch.Tensor, cfg: AugmentConfig,
                  generator: torch.Generator | None = None,
                  flip_idx: tuple[int, ...] = FLIP_IDX) -> tuple[torch.Tensor, torch.Tensor]:
    """Geometric then photometric augmentation of a float batch ``(B, 1, H, W)``, ``(B, K, 2)``."""
    affine, flip = random_affine(len(images), images.shape[-1], cfg, generator, images.device)
    images, keypoints = warp(images, keypoints, affine, flip, flip_idx)
    return photometric(images, cfg, generator), keypoints


def flip_images(images: torch.Tensor) -> torch.Tensor:
    """Mirror a batch ``(B, C, H, W)`` horizontally (for flip test-time augmentation)."""
    return images.flip(-1)


def unflip_keypoints(keypoints: torch.Tensor, width: int) -> torch.Tensor:
    """Map predictions on mirrored images back: swap pairs, x -> W - 1 - x."""
    kp = keypoints[:, index_on(FLIP_IDX, keypoints.device)].clone()
    kp[..., 0] = (width - 1) - kp[..., 0]
    return kp
