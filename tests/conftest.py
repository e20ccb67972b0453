"""Shared fixtures: small synthetic data in the exact Kaggle and 68-point layouts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facekeypoints.keypoints import COLUMNS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; skip when absent, but fail loudly under CI=true."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data missing under CI: {p}")
        pytest.skip(f"shared data not present: {p}")
    return p


def synthetic_faces(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 96x96 'faces' (noise + bright blobs at the keypoints) with their keypoints."""
    import cv2  # the full environment's (the base install's light tests never draw faces)

    rng = np.random.default_rng(seed)
    base = np.array([[66, 38], [30, 38], [58, 39], [73, 39], [38, 39], [23, 39], [57, 29], [79, 30],
                     [39, 29], [16, 30], [48, 63], [63, 79], [33, 79], [48, 74], [49, 79]], np.float32)
    kps = base[None] + rng.normal(0, 2.0, (n, 15, 2)).astype(np.float32)
    imgs = rng.integers(0, 60, (n, 96, 96)).astype(np.uint8)
    for img, kp in zip(imgs, kps, strict=True):
        for x, y in kp:
            cv2.circle(img, (int(round(x)), int(round(y))), 2, 255, -1)
    return imgs, kps


def kaggle_csv_bytes(images: np.ndarray, keypoints: np.ndarray, missing: np.ndarray | None = None,
                     crlf: bool = True) -> bytes:
    """Bytes of a training.csv in Kaggle's exact layout (header order, empty = missing)."""
    rows = [",".join([*COLUMNS, "Image"])]
    flat = keypoints.reshape(len(keypoints), -1)
    for i, img in enumerate(images):
        vals = ["" if (missing is not None and missing[i, j // 2]) else f"{v:.6f}" for j, v in enumerate(flat[i])]
        rows.append(",".join([*vals, " ".join(map(str, img.reshape(-1).tolist()))]))
    nl = "\r\n" if crlf else "\n"
    return (nl.join(rows) + nl).encode()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session parses into its own cache folder, never the user's."""
    monkeypatch.setenv("FACEKEYPOINTS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def kaggle_dir(tmp_path) -> Path:
    """A folder with a synthetic 40-face training.csv (some labels missing, CRLF)."""
    imgs, kps = synthetic_faces(40)
    missing = np.zeros((40, 15), bool)
    missing[::3, 2:10] = True  # Kaggle-like: many rows only have the 4 main keypoints
    (tmp_path / "training.csv").write_bytes(kaggle_csv_bytes(imgs, kps, missing))
    return tmp_path
