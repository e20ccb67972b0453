"""A small ensemble: several trained networks, their keypoints averaged.

Built from member descriptions ``[{"model": NAME, "model_args": {...}}, ...]`` so a checkpoint
of an ensemble is one safetensors file (``members.0.*``, ``members.1.*``...) plus that list
in its JSON; ``benchmarks/bundle_model.py`` makes one from several run folders.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..keypoints import NUM_KEYPOINTS
from .base import KeypointNet
from .registry import create_model, register_model


class Ensemble(KeypointNet):
    """Members averaged. ``forward_all`` averages every point when all members predict the same
    points (a fold ensemble of 68-point models keeps its 68); otherwise the ensemble has the 15."""

    def __init__(self, members: list[dict[str, Any]]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(create_model(m["model"], **m.get("model_args", {})) for m in members)
        first = self.members[0]
        for m in self.members:
            if (m.input_size, m.input_channels, m.input_mean, m.input_std) != (
                    first.input_size, first.input_channels, first.input_mean, first.input_std):
                raise ValueError("ensemble members must share one input contract")
        self.input_size, self.input_mean, self.input_std = first.input_size, first.input_mean, first.input_std
        self.input_channels = first.input_channels
        points = {getattr(m, "num_points", NUM_KEYPOINTS) for m in self.members}
        self.num_points = points.pop() if len(points) == 1 else NUM_KEYPOINTS

    def forward_all(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_points == NUM_KEYPOINTS:
            return self.forward(x)
        return torch.stack([m.forward_all(x) for m in self.members]).mean(0)  # (B, P, 2) pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)  # (B, 15, 2) pixels


@register_model
def ensemble(members: list[dict[str, Any]] | None = None) -> Ensemble:
    """Average of several trained networks (made by benchmarks/bundle_model.py; bare: two paper_tiny)."""
    return Ensemble(members or [{"model": "paper_tiny"}, {"model": "paper_tiny"}])
