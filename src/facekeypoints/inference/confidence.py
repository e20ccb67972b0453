"""Per-keypoint confidence from flip consistency, calibrated on held-out faces.

The model sees a crop and its mirror image; ``d`` is how far apart the two predictions of a
keypoint land (crop pixels, after swapping left and right back). Calibrated, the confidence
is the probability that the keypoint is within ``tau`` crop pixels of the truth,
``sigmoid(a + b * d)``, with ``a, b`` fitted by logistic regression on validation faces
(``fit``, run by ``benchmarks/bundle_model.py``; stored in the model's JSON as ``confidence``).
Without a fitted calibration it falls back to ``exp(-d^2 / (2 * 1.5^2))``, which only ranks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FALLBACK_SIGMA = 1.5


def confidence(d: np.ndarray, calib: dict[str, Any] | None) -> np.ndarray:
    """Confidence in [0, 1] for flip disagreements ``d`` (any shape)."""
    d = np.asarray(d, np.float64)
    if not calib:
        return np.exp(-(d**2) / (2 * FALLBACK_SIGMA**2))
    return 1.0 / (1.0 + np.exp(-(calib["a"] + calib["b"] * d)))


def fit(d: np.ndarray, error: np.ndarray, tau: float, iters: int = 50) -> dict[str, float]:
    """Logistic regression of ``error <= tau`` on ``d`` (Newton's method); NaN errors are skipped."""
    d, error = np.asarray(d, np.float64).ravel(), np.asarray(error, np.float64).ravel()
    ok = np.isfinite(d) & np.isfinite(error)
    x, y = np.stack([np.ones(ok.sum()), d[ok]], 1), (error[ok] <= tau).astype(np.float64)
    if len(y) < 10 or y.min() == y.max():
        raise ValueError("cannot fit a confidence calibration: too few points, or all on one side of tau")
    w = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(x @ w)))
        hess = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, x.T @ (y - p))
        w += step
        if np.abs(step).max() < 1e-8:
            break
    return {"a": float(w[0]), "b": float(w[1]), "tau_px": float(tau)}


def expected_calibration_error(conf: np.ndarray, hit: np.ndarray, bins: int = 10) -> float:
    """Mean |confidence - hit rate| over equal-width confidence bins, weighted by their counts."""
    conf, hit = np.asarray(conf, np.float64).ravel(), np.asarray(hit, np.float64).ravel()
    ok = np.isfinite(conf) & np.isfinite(hit)
    conf, hit = conf[ok], hit[ok]
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(conf[m].mean() - hit[m].mean())
    return total / max(1, len(conf))
