"""Small networks for CPU inference: depthwise-separable blocks, then either a flattened
6x6 head (``mobile_s``, ``mobile_m``: direct regression) or a light top-down path to 24x24
heatmaps decoded by soft-argmax (``mobile_hm``, as ``hmnet_*`` in resnet.py)."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..keypoints import NUM_KEYPOINTS
from .base import HeatmapDecoding, KeypointNet, check_input_channels, check_input_size
from .layers import Blur, conv_bn, regression_head, top_down
from .registry import register_model


class DWBlock(nn.Module):
    """Depthwise 3x3 (optionally strided) + pointwise 1x1, with a shortcut when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, antialias: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            *([Blur(c_in)] if antialias and stride > 1 else []),
            nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),
            nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return torch.relu(x + y if self.residual else y)


class MobileNet(KeypointNet):
    """Depthwise-separable encoder (strides 2, 4, 8, 16) -> 1x1 conv -> the flattened regression head."""

    def __init__(self, widths=(16, 32, 64, 96, 128), repeats=(1, 2, 2, 2), strides=(2, 2, 2, 1),
                 head: int = 32, dropout: float = 0.1, num_points: int = NUM_KEYPOINTS, antialias: bool = False,
                 input_size: int = 96, input_channels: int = 1):
        super().__init__()
        self.num_points, self.input_size = num_points, check_input_size(input_size, 16)
        self.input_channels = check_input_channels(input_channels)
        layers: list[nn.Module] = [conv_bn(self.input_channels, widths[0], 3, 2, antialias=antialias)]  # 48x48
        c = widths[0]
        for w, r, stride in zip(widths[1:], repeats, strides, strict=True):  # 24, 12, 6, 6
            layers += [DWBlock(c, w, stride, antialias)] + [DWBlock(w, w, 1) for _ in range(r - 1)]
            c = w
        self.features = nn.Sequential(*layers)
        self.reduce = conv_bn(c, head, 1)
        side = self.input_size // 2 ** sum(s > 1 for s in (2, *strides))  # 96 -> 6
        self.fc = regression_head(head, side, num_points, dropout, self.input_size)

    def forward_all(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.reduce(self.features(self.normalise(x)))).view(-1, self.num_points, 2)  # (B, P, 2)


@register_model
def mobile_s(**kwargs) -> MobileNet:
    """Small and fast: meant for single-face CPU inference."""
    return MobileNet(**kwargs)


@register_model
def mobile_m(**kwargs) -> MobileNet:
    """Wider and deeper than mobile_s (about 4x the work), still well under a millisecond on a CPU core."""
    return MobileNet(**{"widths": (24, 48, 96, 160, 192), "repeats": (1, 3, 3, 2), "head": 48, **kwargs})


class MobileHeatmapNet(HeatmapDecoding):
    """Depthwise-separable encoder (strides 4, 8, 16 kept) + top-down path to stride 4 + soft-argmax."""

    def __init__(self, widths=(16, 48, 96, 160), repeats=(2, 3, 3), neck: int = 32,
                 num_points: int = NUM_KEYPOINTS, antialias: bool = False, input_size: int = 96,
                 input_channels: int = 1):
        super().__init__()
        self.num_points, self.input_size = num_points, check_input_size(input_size, 16)
        self.input_channels = check_input_channels(input_channels)
        self.stem = conv_bn(self.input_channels, widths[0], 3, 2, antialias=antialias)  # 48x48
        stages, c = [], widths[0]
        for w, r in zip(widths[1:], repeats, strict=True):  # 24, 12, 6
            stages.append(nn.Sequential(DWBlock(c, w, 2, antialias), *[DWBlock(w, w, 1) for _ in range(r - 1)]))
            c = w
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList([conv_bn(w, neck, 1) for w in widths[1:]])
        self.smooth = DWBlock(neck, neck, 1)
        self.out = nn.Conv2d(neck, num_points, 1)

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.normalise(x))
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)  # strides 4, 8, 16
        return self.out(self.smooth(top_down(feats, self.lateral)))  # (B, P, 24, 24) logits


@register_model
def mobile_hm(**kwargs) -> MobileHeatmapNet:
    """Depthwise-separable heatmap network: hmnet's decoding at a quarter of hmnet_t's work."""
    return MobileHeatmapNet(**kwargs)


@register_model
def mobile_hm_s(**kwargs) -> MobileHeatmapNet:
    """mobile_hm with narrower, shallower stages: heatmap decoding a little under mobile_m's CPU time at 160 px."""
    return MobileHeatmapNet(**{"widths": (16, 32, 64, 128), "repeats": (1, 2, 2), "neck": 24, **kwargs})
