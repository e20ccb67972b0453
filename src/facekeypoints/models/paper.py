"""The report's network ("Facial Keypoints Detection with CNN", ~7.26M parameters).

Twelve bias-free 3x3 convolutions (widths 32, 32, 64, 64, 96, 96, 128, 128, 256, 256,
512, 512), each followed by LeakyReLU(0.1) then BatchNorm (that order, as the report's
Keras code has it); 2x2 max-pool after each pair except the last (96 -> 3); flatten;
dense 512 + ReLU; dropout 0.1; dense 30. Input is raw 0..255 pixels (no normalisation).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..keypoints import NUM_KEYPOINTS
from .base import KeypointNet, check_input_channels, check_input_size
from .registry import register_model


class PaperCNN(KeypointNet):
    """The report's network: 12 conv layers (LeakyReLU then BatchNorm), max-pooling, two dense layers."""

    input_mean = 0.0  # the report fed raw 0..255 pixels
    input_std = 1.0

    def __init__(self, widths: tuple[int, ...] = (32, 32, 64, 64, 96, 96, 128, 128, 256, 256, 512, 512),
                 hidden: int = 512, dropout: float = 0.1, num_points: int = NUM_KEYPOINTS, input_size: int = 96,
                 input_channels: int = 1):
        super().__init__()
        self.num_points, self.input_size = num_points, check_input_size(input_size, 2 ** (len(widths) // 2 - 1))
        self.input_channels = c_in = check_input_channels(input_channels)
        layers: list[nn.Module] = []
        for i, c in enumerate(widths):
            # Keras BatchNormalization defaults: momentum 0.99 (PyTorch's 0.01), epsilon 1e-3.
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.LeakyReLU(0.1),
                       nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)]
            if i % 2 == 1 and i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        self.features = nn.Sequential(*layers)
        side = self.input_size // 2 ** (len(widths) // 2 - 1)  # 96 -> 3 for 12 layers
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * side * side, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_points * 2),
        )
        for m in self.modules():  # Keras' default initialisation: Glorot-uniform, zero bias
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_all(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.normalise(x))).view(-1, self.num_points, 2)  # (B, P, 2) pixels


@register_model
def paper(**kwargs) -> PaperCNN:
    """The report's CNN, exactly."""
    return PaperCNN(**kwargs)


@register_model
def paper_tiny(**kwargs) -> PaperCNN:
    """Same shape of network with tiny widths: for tests and smoke runs."""
    return PaperCNN(**{"widths": (4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8), "hidden": 32, **kwargs})
