"""Data: the Kaggle layout, 68-point sources, conversion and splits."""

from .convert import convert_68
from .kaggle import DataError, KeypointDataset, load_test, load_training
from .splits import make_split

__all__ = ["DataError", "KeypointDataset", "convert_68", "load_test", "load_training", "make_split"]
