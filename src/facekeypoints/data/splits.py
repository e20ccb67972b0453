"""Train/validation/test splits, saved with every run.

``paper``: the report's protocol. A seeded 70/30 train/test split (as sklearn's
``train_test_split(test_size=0.3)``), then Keras' ``validation_split=0.2``, which takes
the *last* 20% of the training part: 56/14/30 in all. When the data has identities, whole
people are assigned (same proportions, counted in faces), so no one straddles two parts.
"""

from __future__ import annotations

import numpy as np

SPLITS = ("paper",)


def _cut(sizes: np.ndarray, fraction: float) -> int:
    """How many leading groups (of ``sizes`` faces) come closest to ``fraction`` of the faces."""
    cum = np.concatenate([[0], np.cumsum(sizes)])
    return int(np.argmin(np.abs(cum - fraction * cum[-1])))


def make_split(
    n: int, name: str = "paper", seed: int = 0, identities: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Indices ``{"train", "val", "test"}`` (sorted) for ``n`` faces."""
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; choose from {SPLITS}")
    rng = np.random.default_rng(seed)
    if identities is None:
        groups = np.arange(n)
    else:
        if len(identities) != n:
            raise ValueError(f"{len(identities)} identities for {n} faces")
        _, groups = np.unique(np.asarray(identities), return_inverse=True)
    order = rng.permutation(groups.max() + 1 if n else 0)  # shuffled group ids
    sizes = np.bincount(groups, minlength=len(order))[order]
    n_test = _cut(sizes, 0.3)
    test_g, trainval_g = order[:n_test], order[n_test:]
    # Keras validation_split: the last 20% of the training part (in its shuffled order).
    n_train = _cut(sizes[n_test:], 0.8)
    train_g, val_g = trainval_g[:n_train], trainval_g[n_train:]
    pick = lambda g: np.flatnonzero(np.isin(groups, g))  # noqa: E731
    return {"train": pick(train_g), "val": pick(val_g), "test": pick(test_g)}
