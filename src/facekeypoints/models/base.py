"""What every keypoint network is: its input contract and its two forward passes.

``KeypointNet`` subclasses declare their input contract as class attributes (``input_size`` side in
pixels, 96 unless the model is built with ``input_size=N`` for larger photo crops; ``input_channels``,
1 (grey) unless built with ``input_channels=3`` for BGR crops ``(B, 3, S, S)``;
the ``input_mean``/``input_std`` they normalise 0..255 pixels with,
inside the model, so exported graphs need nothing else) and ``num_points`` per instance (15, or
15 + 68 with a 68-point head). ``forward_all(x)`` gives every point ``(B, P, 2)``, ``forward(x)``
the 15 Kaggle keypoints ``(B, 15, 2)``, both in pixels of the input crop (pixel centres at
integers). Training calls ``forward_all``; inference ``forward`` (or ``forward_all`` for the 68).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..keypoints import NUM_KEYPOINTS
from .layers import soft_argmax


def check_input_channels(channels: int) -> int:
    """``channels`` if a network can take it: 1 (grey) or 3 (BGR planes), else ValueError."""
    if channels not in (1, 3):
        raise ValueError(f"input_channels={channels}: networks read grey (1) or BGR (3) crops")
    return int(channels)


def check_input_size(size: int, multiple: int) -> int:
    """``size`` if it is a side this network can take (a multiple of its total stride), else ValueError."""
    if int(size) != size or size < multiple or size % multiple:
        raise ValueError(f"input_size={size}: this network takes sides that are multiples of {multiple} (96, 128, ...)")
    return int(size)


class KeypointNet(nn.Module):
    """The base of every network: the contract and ``forward`` = the first 15 of ``forward_all``."""

    input_size = 96
    input_channels = 1
    input_mean = 128.0
    input_std = 64.0
    num_points = NUM_KEYPOINTS

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean) / self.input_std

    def forward_all(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[:, :NUM_KEYPOINTS]  # (B, 15, 2) pixels


class HeatmapDecoding(KeypointNet):
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
