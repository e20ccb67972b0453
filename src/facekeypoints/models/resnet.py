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
from .registry import register_model


class Blur(nn.Module):
    """A fixed [1 2 1]/4 x [1 2 1]/4 low-pass filter per channel (stride 1, same size).

    Put before a stride-2 layer it removes the frequencies that subsampling would alias
    (Zhang, "Making convolutional networks shift-invariant again", arXiv 1904.11486), so
    the network's answer moves more smoothly with sub-pixel shifts of the face.
    """

    def __init__(self, channels: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        k = (k[:, None] * k[None, :]) / 16
        self.register_buffer("kernel", k.expand(channels, 1, 3, 3).clone(), persistent=False)  # a constant
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel.to(x.dtype), groups=self.channels)


def conv_bn(c_in: int, c_out: int, k: int = 3, stride: int = 1, act: bool = True,
            antialias: bool = False) -> nn.Sequential:
    """Conv + BatchNorm (+ ReLU); with ``antialias`` a stride-2 conv is blurred first."""
    layers: list[nn.Module] = [Blur(c_in)] if antialias and stride > 1 else []
    layers += [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


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

    def __init__(self, widths: tuple[int, ...], depths: tuple[int, ...], antialias: bool = False):
        super().__init__()
        self.stem = conv_bn(1, widths[0], 3, 2, antialias=antialias)
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


class ResRegression(nn.Module):
    """Encoder -> 1x1 conv -> flatten the 6x6 map -> dropout -> linear to 30 values."""

    input_size = 96
    input_mean = 128.0
    input_std = 64.0

    def __init__(self, widths=(32, 64, 128, 256), depths=(1, 1, 1, 1), head: int = 64, dropout: float = 0.1,
                 num_points: int = NUM_KEYPOINTS, antialias: bool = False):
        super().__init__()
        self.num_points = num_points  # 15, or 15 + 68 with auxiliary 68-point supervision
        self.encoder = Encoder(tuple(widths), tuple(depths), antialias)
        self.reduce = conv_bn(widths[-1], head, 1)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(head * 6 * 6, num_points * 2))
        nn.init.zeros_(self.fc[-1].weight)
        with torch.no_grad():  # start at the mean face centre rather than the corner
            self.fc[-1].bias.fill_(48.0)

    def forward_all(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.input_mean) / self.input_std  # (B, 1, 96, 96)
        return self.fc(self.reduce(self.encoder(x)[-1])).view(-1, self.num_points, 2)  # (B, P, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[:, :NUM_KEYPOINTS]  # (B, 15, 2) pixels


def soft_argmax(heatmaps: torch.Tensor, stride: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected pixel position under softmax(heatmap) ``(B, K, h, w)`` -> coords ``(B, K, 2)``, peak prob."""
    b, k, h, w = heatmaps.shape
    prob = heatmaps.float().flatten(2).softmax(-1).view(b, k, h, w)
    # Cell j covers input pixels [j*stride, (j+1)*stride); its centre is (j + 0.5) * stride - 0.5.
    xs = (torch.arange(w, device=prob.device, dtype=prob.dtype) + 0.5) * stride - 0.5
    ys = (torch.arange(h, device=prob.device, dtype=prob.dtype) + 0.5) * stride - 0.5
    x = (prob.sum(2) * xs).sum(-1)
    y = (prob.sum(3) * ys).sum(-1)
    return torch.stack([x, y], -1), prob.flatten(2).amax(-1)


def top_down(feats: list[torch.Tensor], lateral: nn.ModuleList) -> torch.Tensor:
    """Feature maps at strides 4, 8, 16 -> one map at stride 4: the coarsest, upsampled and added
    to each finer one in turn (each through its 1x1 ``lateral`` conv to the neck width)."""
    y = lateral[-1](feats[-1])
    for lat, f in zip(lateral[-2::-1], feats[-2::-1], strict=True):
        y = lat(f) + F.interpolate(y, size=f.shape[-2:], mode="bilinear", align_corners=False)
    return y


class HeatmapDecoding(nn.Module):
    """What every heatmap network shares: ``heatmaps(x)`` (defined by the subclass) at ``stride``,
    decoded by soft-argmax; the first 15 maps are the Kaggle keypoints."""

    stride = 4

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_with_confidence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints ``(B, 15, 2)`` and per-keypoint peak probability ``(B, 15)``."""
        return soft_argmax(self.heatmaps(x)[:, :NUM_KEYPOINTS], self.stride)

    def forward_all(self, x: torch.Tensor) -> torch.Tensor:
        return soft_argmax(self.heatmaps(x), self.stride)[0]  # (B, P, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_confidence(x)[0]  # (B, 15, 2) pixels


class HeatmapNet(HeatmapDecoding):
    """Encoder + a light top-down path to stride 4, 15 heatmaps, soft-argmax decoding."""

    input_size = 96
    input_mean = 128.0
    input_std = 64.0

    def __init__(self, widths=(32, 64, 128, 256), depths=(1, 1, 1, 1), neck: int = 64,
                 num_points: int = NUM_KEYPOINTS, antialias: bool = False):
        super().__init__()
        self.num_points = num_points
        self.encoder = Encoder(tuple(widths), tuple(depths), antialias)
        self.lateral = nn.ModuleList([conv_bn(w, neck, 1) for w in widths[1:]])
        self.smooth = conv_bn(neck, neck, 3)
        self.out = nn.Conv2d(neck, num_points, 1)

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.input_mean) / self.input_std
        feats = self.encoder(x)[1:]  # strides 4, 8, 16
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
