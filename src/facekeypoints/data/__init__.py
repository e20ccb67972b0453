"""Data: the Kaggle layout, 68-point sources, conversion and splits.

The names load on first use, so ``data.splits`` (NumPy only) can be read without pandas and OpenCV.
"""

from typing import Any

__all__ = ["DataError", "KeypointDataset", "convert_68", "load_test", "load_training", "make_split"]

_LAZY = {"convert_68": ".convert", "DataError": ".kaggle", "KeypointDataset": ".kaggle", "load_test": ".kaggle",
         "load_training": ".kaggle", "make_split": ".splits"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'facekeypoints.data' has no attribute {name!r}")
