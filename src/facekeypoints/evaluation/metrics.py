"""Accuracy metrics, all over present labels only (NaN = missing).

- RMSE: Kaggle's metric, root mean square over every present x and y coordinate (pixels).
- NME: per face, the mean point-to-point distance divided by the outer-eye-corner
  distance (inter-pupil distance where a corner is missing), then averaged over faces.
  Reported as a fraction (0.035 = 3.5%).
- Failure rate: the fraction of faces whose NME exceeds 0.10.
"""

from __future__ import annotations

import numpy as np

from ..keypoints import EYE_CENTERS, KEYPOINT_NAMES, OUTER_EYE_CORNERS

FAILURE_NME = 0.10


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean square error over present coordinates of ``(N, 15, 2)`` arrays."""
    err = (np.asarray(pred, np.float64) - np.asarray(true, np.float64)) ** 2
    ok = np.isfinite(err)
    return float(np.sqrt(err[ok].mean())) if ok.any() else float("nan")


def per_keypoint_rmse(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """RMSE (over x and y) for each keypoint name."""
    return {name: rmse(pred[:, k], true[:, k]) for k, name in enumerate(KEYPOINT_NAMES)}


def normaliser(true: np.ndarray) -> np.ndarray:
    """Per face ``(N,)``: outer-eye-corner distance, else inter-pupil distance, else NaN."""
    a, b = OUTER_EYE_CORNERS
    corners = np.linalg.norm(true[:, a] - true[:, b], axis=-1)
    a, b = EYE_CENTERS
    pupils = np.linalg.norm(true[:, a] - true[:, b], axis=-1)
    return np.where(np.isfinite(corners), corners, pupils)


def nme_per_face(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Normalised mean error per face ``(N,)``; NaN where a face has no normaliser or labels."""
    dist = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(true, np.float64), axis=-1)  # (N, 15)
    with np.errstate(invalid="ignore", divide="ignore"):
        present = np.isfinite(dist)
        mean_dist = np.where(present, dist, 0).sum(1) / present.sum(1)
        return mean_dist / normaliser(np.asarray(true, np.float64))


def summary(pred: np.ndarray, true: np.ndarray) -> dict:
    """All headline metrics as a JSON-ready dict."""
    nme = nme_per_face(pred, true)
    valid = np.isfinite(nme)
    return {
        "rmse": rmse(pred, true),
        "nme": float(nme[valid].mean()) if valid.any() else float("nan"),
        "failure_rate": float((nme[valid] > FAILURE_NME).mean()) if valid.any() else float("nan"),
        "n_faces": int(len(pred)),
        "n_coords": int(np.isfinite(true).sum()),
        "per_keypoint_rmse": per_keypoint_rmse(pred, true),
    }
