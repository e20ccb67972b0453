"""facekeypoints: the 15 Kaggle facial keypoints, trained, measured and run on a CPU."""

from .keypoints import FLIP_IDX, KEYPOINT_NAMES

__version__ = "0.1.0"
__all__ = ["FLIP_IDX", "KEYPOINT_NAMES", "__version__"]
