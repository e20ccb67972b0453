"""Residual networks for 96x96 faces: direct regression and heatmaps with soft-argmax.

Both share one encoder: a stride-2 stem, then stages of basic residual blocks at
48, 24, 12 and 6 pixels. ``resreg_*`` flattens the 6x6 map (keeping where things are)
into a linear layer; ``hmnet_*`` upsamples to a 24x24 map (stride 4), predicts one
heatmap per keypoint and decodes it with a soft-argmax (integral regression, DSNT,
arXiv 1801.07372), which is differentiable and sub-pixel. Inputs are 0..255 pixels,
normalised inside the model.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..keypoints import NUM_KEYPOINTS
from .base import HeatmapDecoding, KeypointNet, check_input_channels, check_input_size
from .layers import conv_bn, regression_head, top_down
from .registry import register_model


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (projected when shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, antialias: bool = False):
        super().__init__()
        self.body = nn.Sequential(conv_bn(c_in, c_out, 3, stride, antialias=antialias),
                                  conv_bn(c_out, c_out, 3, act=False))
        self.short = (nn.Identity() if stride == 1 and c_in == c_out
                      else conv_bn(c_in, c_out, 1, stride, act=False, antialias=antialias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.short(x))


class Encoder(nn.Module):
    """Stem (stride 2) + 4 stages; returns the feature maps at strides 2, 4, 8, 16.

    ``antialias`` blurs before every stride-2 convolution (the stem's included).
    """

    def __init__(self, widths: tuple[int, ...], depths: tuple[int, ...], antialias: bool = False, c_in: int = 1):
        super().__init__()
        self.stem = conv_bn(c_in, widths[0], 3, 2, antialias=antialias)
        stages, c = [], widths[0]
        for i, (w, d) in enumerate(zip(widths, depths, strict=True)):
            blocks = [BasicBlock(c, w, 1 if i == 0 else 2, antialias)] + [BasicBlock(w, w) for _ in range(d - 1)]
            stages.append(nn.Sequential(*blocks))
            c = w
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, x = [], self.stem(x)
        for s in self.stages:
            x = s(x)
            feats.append(x)
        return feats  # (B, w0, 48, 48), (B, w1, 24, 24), (B, w2, 12, 12), (B, w3, 6, 6)


class ResRegression(KeypointNet):
    """Encoder -> 1x1 conv -> flatten the last map (6x6 for 96 px) -> dropout -> linear to the points."""

    def __init__(self, widths=(32, 64, 128, 256), depths=(1, 1, 1, 1), head: int = 64, dropout: float = 0.1,
                 num_points: int = NUM_KEYPOINTS, antialias: bool = False, input_size: int = 96,
                 input_channels: int = 1):
        super().__init__()
        self.num_points = num_points  # 15, or 15 + 68 with auxiliary 68-point supervision
        self.input_size = check_input_size(input_size, 16)
        self.input_channels = check_input_channels(input_channels)
        self.encoder = Encoder(tuple(widths), tuple(depths), antialias, self.input_channels)
        self.reduce = conv_bn(widths[-1], head, 1)
        self.fc = regression_head(head, self.input_size // 16, num_points, dropout, self.input_size)

    def forward_all(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.reduce(self.encoder(self.normalise(x))[-1])).view(-1, self.num_points, 2)  # (B, P, 2)


class HeatmapNet(HeatmapDecoding):
    """Encoder + a light top-down path to stride 4, 15 heatmaps, soft-argmax decoding."""

    def __init__(self, widths=(32, 64, 128, 256), depths=(1, 1, 1, 1), neck: int = 64,
                 num_points: int = NUM_KEYPOINTS, antialias: bool = False, input_size: int = 96,
                 input_channels: int = 1):
        super().__init__()
        self.num_points, self.input_size = num_points, check_input_size(input_size, 16)
        self.input_channels = check_input_channels(input_channels)
        self.encoder = Encoder(tuple(widths), tuple(depths), antialias, self.input_channels)
        self.lateral = nn.ModuleList([conv_bn(w, neck, 1) for w in widths[1:]])
        self.smooth = conv_bn(neck, neck, 3)
        self.out = nn.Conv2d(neck, num_points, 1)

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(self.normalise(x))[1:]  # strides 4, 8, 16
        return self.out(self.smooth(top_down(feats, self.lateral)))  # (B, P, 24, 24) logits


@register_model
def resreg_s(**kwargs) -> ResRegression:
    """Direct regression, residual encoder 32-64-128-256, one block per stage."""
    return ResRegression(**kwargs)


@register_model
def resreg_m(**kwargs) -> ResRegression:
    """Direct regression, residual encoder 48-96-192-384, two blocks per stage."""
    return ResRegression(**{"widths": (48, 96, 192, 384), "depths": (2, 2, 2, 2), "head": 96, **kwargs})


@register_model
def hmnet_s(**kwargs) -> HeatmapNet:
    """Heatmaps at stride 4 with soft-argmax, residual encoder 32-64-128-256."""
    return HeatmapNet(**kwargs)


@register_model
def hmnet_m(**kwargs) -> HeatmapNet:
    """Heatmaps at stride 4 with soft-argmax, residual encoder 48-96-192-384, two blocks per stage."""
    return HeatmapNet(**{"widths": (48, 96, 192, 384), "depths": (2, 2, 2, 2), "neck": 96, **kwargs})


@register_model
def hmnet_t(**kwargs) -> HeatmapNet:
    """Heatmaps at stride 4 with soft-argmax, a thin encoder 16-32-64-128: CPU-trainable."""
    return HeatmapNet(**{"widths": (16, 32, 64, 128), "neck": 32, **kwargs})


@register_model
def hmnet_xs(**kwargs) -> HeatmapNet:
    """Heatmaps at stride 4 with soft-argmax, encoder 24-48-96-192: between hmnet_t and hmnet_s."""
    return HeatmapNet(**{"widths": (24, 48, 96, 192), "neck": 48, **kwargs})
