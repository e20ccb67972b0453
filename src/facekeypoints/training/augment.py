"""Batched augmentation on the training device; keypoints move exactly with the pixels.

One random affine per face (horizontal flip with left/right swapping, rotation, scale,
translation) is built in pixel coordinates, applied to the image with ``grid_sample``
and to the keypoints with the same matrix, so image and labels cannot drift apart.
Keypoints pushed out of the frame become missing (NaN). Photometric changes
(brightness, contrast, gamma, blur, noise, a low-resolution round trip; on colour crops also a
gain per channel, white balance) touch pixels only. Grey batches are ``(B, 1, H, W)``, colour ones ``(B, 3, H, W)``.

Pixel centres sit at integer coordinates (``align_corners=True``), the convention of the
rest of the project: a flip maps x to ``W - 1 - x``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..keypoints import FLIP_IDX
from ..warps import index_on, warp_images


@dataclass
class AugmentConfig:
    flip: float = 0.5  # probability of a horizontal flip (with left/right keypoint swap)
    rotate: float = 15.0  # max rotation, degrees (uniform in [-rotate, rotate])
    tilt: float = 0.0  # 0: off; else a share tilt_p of the faces is turned uniformly in [-tilt, tilt] instead
    tilt_p: float = 0.3  # (heads tilted further than YuNet's landmarks turn a crop upright: predict's TILT_PASSES)
    scale: float = 0.1  # scale in [1 - scale, 1 + scale]
    translate: float = 0.06  # shift, as a fraction of the image side, per axis
    brightness: float = 0.2  # add uniform [-b, b] * 255
    contrast: float = 0.3  # multiply deviations from the mean by [1 - c, 1 + c]
    gamma: float = 0.3  # gamma in [1 - g, 1 + g]
    blur: float = 0.2  # probability of a 3x3 Gaussian blur
    noise: float = 6.0  # Gaussian pixel noise, max sigma (0..255 units)
    aspect: float = 0.0  # x and y scaled apart: x by r, y by 1 / r, log r uniform in [-aspect, aspect]
    occlude: float = 0.0  # probability of one grey patch (10-40% of the side each way) over the face
    lowres: float = 0.0  # probability of a low-resolution round trip (a small face, upscaled to the crop)
    tint: float = 0.1  # colour crops only: each channel multiplied by [1 - t, 1 + t] (white balance)


def random_affine(n: int, size: int, cfg: AugmentConfig, generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Random pixel-space affines ``(n, 3, 3)`` and flip flags ``(n,)``."""
    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=device) * (hi - lo) + lo

    flip = torch.rand(n, generator=generator, device=device) < cfg.flip
    angle = u(-cfg.rotate, cfg.rotate)
    if cfg.tilt > 0:  # no draws without it: the random stream of other recipes stays as it was
        tilted = torch.rand(n, generator=generator, device=device) < cfg.tilt_p
        angle = torch.where(tilted, u(-cfg.tilt, cfg.tilt), angle)
    angle = angle * math.pi / 180
    scale = u(1 - cfg.scale, 1 + cfg.scale)
    tx, ty = (u(-cfg.translate, cfg.translate) * size for _ in range(2))
    rx = torch.exp(u(-cfg.aspect, cfg.aspect)) if cfg.aspect > 0 else torch.ones(n, device=device)
    c = (size - 1) / 2
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    fx = torch.where(flip, -1.0, 1.0)
    # p' = R S A F (p - c) + c + t   (A: the aspect change, x by rx and y by 1 / rx)
    a = torch.zeros(n, 3, 3, device=device)
    a[:, 0, 0], a[:, 0, 1] = cos * fx * rx, -sin / rx
    a[:, 1, 0], a[:, 1, 1] = sin * fx * rx, cos / rx
    a[:, 0, 2] = c + tx - (a[:, 0, 0] * c + a[:, 0, 1] * c)
    a[:, 1, 2] = c + ty - (a[:, 1, 0] * c + a[:, 1, 1] * c)
    a[:, 2, 2] = 1
    return a, flip


def warp(images: torch.Tensor, keypoints: torch.Tensor, affine: torch.Tensor, flip: torch.Tensor,
         flip_idx: tuple[int, ...] = FLIP_IDX) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply pixel-space affines to images ``(B, C, H, W)`` and keypoints ``(B, K, 2)``.

    ``flip_idx`` is the left/right permutation of the K points (the 15 by default).
    """
    h, w = images.shape[-2:]
    out = warp_images(images, affine)
    # Keypoints: forward map, then swap left/right for flipped faces.
    kp = keypoints @ affine[:, :2, :2].transpose(1, 2) + affine[:, None, :2, 2]
    kp = torch.where(flip[:, None, None], kp[:, index_on(flip_idx, kp.device)], kp)
    outside = ((kp < 0) | (kp[..., :1] > w - 1) | (kp[..., 1:] > h - 1)).any(-1, keepdim=True)
    return out, kp.masked_fill(outside, float("nan"))


def photometric(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Brightness, contrast, gamma, blur and noise on ``(B, C, H, W)`` pixels in 0..255 (and with
    C = 3 a gain per channel first)."""
    b = x.shape[0]

    def u(lo: float, hi: float, channels: int = 1) -> torch.Tensor:
        return (torch.rand(b, channels, 1, 1, generator=generator, device=x.device) * (hi - lo) + lo)

    if x.shape[1] > 1 and cfg.tint > 0:
        x = x * u(1 - cfg.tint, 1 + cfg.tint, x.shape[1])
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


LOWRES_FACTORS = (1.5, 2.0, 3.0, 4.0)  # how many times smaller than its crop a blurred face was


def low_resolution(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``p`` per image, ``(B, C, H, W)`` shrunk by one of ``LOWRES_FACTORS`` (drawn per image)
    and scaled back up: the crop of a face that many times smaller than the crop. Both steps keep pixel centres
    in place (``align_corners=False`` on both), so the keypoints stay where they are. Every draw stays on the
    batch's device (no host sync inside a training step)."""
    b, _, h, w = x.shape
    pick = torch.randint(len(LOWRES_FACTORS), (b, 1, 1, 1), generator=generator, device=x.device)
    on = torch.rand(b, 1, 1, 1, generator=generator, device=x.device) < p
    out = x
    for i, r in enumerate(LOWRES_FACTORS):
        small = F.interpolate(x, size=(max(2, round(h / r)), max(2, round(w / r))), mode="bilinear",
                              align_corners=False, antialias=True)
        back = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        out = torch.where(on & (pick == i), back, out)
    return out


def occlude(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``p`` per image, one flat grey rectangle (10-40% of each side) anywhere on
    ``(B, C, H, W)``: a hand, a microphone, hair. The points under it keep their labels."""
    b, _, h, w = x.shape

    def u(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(b, 1, 1, generator=generator, device=x.device) * (hi - lo) + lo)

    pw, ph = u(0.1, 0.4) * w, u(0.1, 0.4) * h
    x0, y0 = u(0, 1) * (w - pw), u(0, 1) * (h - ph)
    value, on = u(0, 255), u(0, 1) < p
    xs = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w)
    ys = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1)
    inside = (xs >= x0) & (xs < x0 + pw) & (ys >= y0) & (ys < y0 + ph) & on
    return torch.where(inside[:, None], value[:, None], x)


def augment_batch(images: torch.Tensor, keypoints: torch.Tensor, cfg: AugmentConfig,
                  generator: torch.Generator | None = None,
                  flip_idx: tuple[int, ...] = FLIP_IDX) -> tuple[torch.Tensor, torch.Tensor]:
    """Geometric then photometric augmentation of a float batch ``(B, C, H, W)``, ``(B, K, 2)``."""
    affine, flip = random_affine(len(images), images.shape[-1], cfg, generator, images.device)
    images, keypoints = warp(images, keypoints, affine, flip, flip_idx)
    images = photometric(images, cfg, generator)
    if cfg.lowres > 0:  # no draws without it: the random stream of other recipes stays as it was
        images = low_resolution(images, cfg.lowres, generator)
    if cfg.occlude > 0:
        images = occlude(images, cfg.occlude, generator)
    return images, keypoints
