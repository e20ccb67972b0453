"""facekeypoints: the 15 Kaggle facial keypoints, trained, measured and run on a CPU.

>>> from facekeypoints import KeypointDetector                      # doctest: +SKIP
>>> faces = KeypointDetector.from_pretrained("default")("photo.jpg")  # doctest: +SKIP
>>> from facekeypoints import make_config, train, evaluate          # doctest: +SKIP

Layout, in the order a face travels (docs/architecture.md): ``data`` (Kaggle CSVs, 68-point
sets) -> ``models`` (the registry) -> ``training`` (loop, augmentation) -> ``evaluation``
(metrics, reports, benchmarks); and for photos: ``photos.detect`` (reading, face detection,
framing) -> ``inference`` (crops, test-time views, confidence, export) -> ``photos.predict``
(outputs) and ``photos.serve``. Shared by all: ``keypoints``, ``geometry``, ``config``,
``checkpoint``, ``fileio``.
"""

from typing import Any

from .keypoints import FLIP_IDX, KEYPOINT_NAMES

__version__ = "0.1.0"
__all__ = ["FLIP_IDX", "KEYPOINT_NAMES", "KeypointDetector", "draw", "evaluate", "make_config", "train",
           "__version__"]

# The public API, imported on first use (torch and OpenCV load only when needed).
_LAZY = {"KeypointDetector": ".photos.predict", "train": ".workflow", "evaluate": ".evaluation.evaluate",
         "make_config": ".config", "draw": ".photos.draw"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'facekeypoints' has no attribute {name!r}")
