"""Building blocks every network shares: the anti-aliasing blur, conv + BatchNorm, the flattened
regression head, the top-down path of the heatmap networks and their soft-argmax decoding."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


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


def regression_head(channels: int, side: int, num_points: int, dropout: float, input_size: int) -> nn.Sequential:
    """Flatten a ``side x side`` map of ``channels`` -> dropout -> linear to ``num_points`` (x, y); it
    starts at the centre of the ``input_size`` crop (zero weights, bias at the middle pixel)."""
    head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * side * side, num_points * 2))
    nn.init.zeros_(head[-1].weight)
    with torch.no_grad():
        head[-1].bias.fill_(input_size / 2)
    return head


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
