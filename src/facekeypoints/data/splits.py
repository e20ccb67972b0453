"""Train/validation/test splits, saved with every run.

``paper``: the report's protocol. A seeded 70/30 train/test split (as sklearn's
``train_test_split(test_size=0.3)``), then Keras' ``validation_split=0.2``, which takes
the *last* 20% of the training part: 56/14/30 in all. When the data has identities, whole
people are assigned (same proportions, counted in faces), so no one straddles two parts.

K-fold (``folds=K, fold=k``): the same test part; the rest (train + val) is cut into K folds of
whole groups (people, photo ids), about equal in faces, in the same seeded order; fold ``k`` is
the validation part and the other K - 1 folds train.
"""

from __future__ import annotations

import numpy as np

SPLITS = ("paper",)


def _cut(sizes: np.ndarray, fraction: float) -> int:
    """How many leading groups (of ``sizes`` faces) come closest to ``fraction`` of the faces."""
    cum = np.concatenate([[0], np.cumsum(sizes)])
    return int(np.argmin(np.abs(cum - fraction * cum[-1])))


def make_split(
    n: int, name: str = "paper", seed: int = 0, identities: np.ndarray | None = None, folds: int = 0,
    fold: int = 0,
) -> dict[str, np.ndarray]:
    """Indices ``{"train", "val", "test"}`` (sorted) for ``n`` faces; with ``folds=K``, fold ``fold``
    of the non-test part is ``val`` and the other folds are ``train``."""
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; choose from {SPLITS}")
    if folds and not (folds >= 2 and 0 <= fold < folds):
        raise ValueError(f"fold {fold} of {folds}: k-fold needs folds >= 2 and 0 <= fold < folds")
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
    if folds:  # K folds of about equal faces, in the same shuffled order
        cuts = [_cut(sizes[n_test:], k / folds) for k in range(folds + 1)]
        val_g = trainval_g[cuts[fold] : cuts[fold + 1]]
        train_g = np.concatenate([trainval_g[: cuts[fold]], trainval_g[cuts[fold + 1] :]])
    else:  # Keras validation_split: the last 20% of the training part (in its shuffled order).
        n_train = _cut(sizes[n_test:], 0.8)
        train_g, val_g = trainval_g[:n_train], trainval_g[n_train:]
    pick = lambda g: np.flatnonzero(np.isin(groups, g))  # noqa: E731
    return {"train": pick(train_g), "val": pick(val_g), "test": pick(test_g)}


def fold_args(config: dict) -> dict[str, int]:
    """``make_split``'s ``folds``/``fold`` for a run's config: a k-fold member run validates on its
    fold; a one-split run and a k-fold parent (``fold=-1``) use the plain split."""
    fold = int(config.get("fold", -1))
    return {"folds": int(config.get("folds", 0)), "fold": fold} if fold >= 0 else {}


def paper_part(n: int, part: str, identities: np.ndarray | None = None) -> np.ndarray:
    """The faces of one part (``train``, ``val``, ``test``) of the ``paper`` split with seed 0, or every
    face (``all``): what the bundled photo models were chosen and tested on."""
    if part == "all":
        return np.arange(n)
    return make_split(n, "paper", 0, identities)[part]
