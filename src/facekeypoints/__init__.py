"""facekeypoints: the 15 Kaggle facial keypoints, trained, measured and run on a CPU.

>>> from facekeypoints import KeypointDetector                      # doctest: +SKIP
>>> faces = KeypointDetector.from_pretrained("default")("photo.jpg")  # doctest: +SKIP
"""

from typing import Any

from .keypoints import FLIP_IDX, KEYPOINT_NAMES

__version__ = "0.1.0"
__all__ = ["FLIP_IDX", "KEYPOINT_NAMES", "KeypointDetector", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "KeypointDetector":  # imported on first use: torch and OpenCV load only when needed
        from .predict import KeypointDetector

        return KeypointDetector
    raise AttributeError(f"module 'facekeypoints' has no attribute {name!r}")
