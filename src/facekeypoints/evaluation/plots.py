"""Pictures: faces with keypoints, learning curves, per-keypoint errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..fileio import atomic_write  # noqa: E402
from ..keypoints import KEYPOINT_NAMES  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    out = atomic_write(path, lambda p: fig.savefig(p, dpi=110, bbox_inches="tight", format=path.suffix[1:] or "png"))
    plt.close(fig)
    return out


def face_grid(
    path: str | Path,
    images: np.ndarray,
    truth: np.ndarray | None = None,
    pred: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    cols: int = 8,
) -> Path:
    """Draw faces ``(N, S, S)`` (or BGR planes ``(N, 3, S, S)``) with true (green) and predicted (red)
    ``(N, 15, 2)`` points."""
    n = len(images)
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.75), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        face = images[i] if images.ndim == 3 else images[i][::-1].transpose(1, 2, 0)  # BGR planes -> RGB
        ax.imshow(face, cmap="gray", vmin=0, vmax=255)
        if truth is not None:
            ax.scatter(truth[i, :, 0], truth[i, :, 1], s=6, c="lime", marker="o", linewidths=0)
        if pred is not None:
            ax.scatter(pred[i, :, 0], pred[i, :, 1], s=10, c="red", marker="x", linewidths=0.8)
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
    return save_figure(fig, path)


def learning_curves(path: str | Path, history: list[dict]) -> Path:
    """Training loss and validation RMSE per epoch."""
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(ep, [h["train_loss"] for h in history])
    a.set(xlabel="epoch", ylabel="train loss", yscale="log", title="training loss")
    b.plot(ep, [h["val_rmse"] for h in history], label="validation")
    b.set(xlabel="epoch", ylabel="RMSE (px)", yscale="log", title="validation RMSE")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def per_keypoint_bars(path: str | Path, per_keypoint: dict[str, float]) -> Path:
    """Horizontal bars of test RMSE per keypoint."""
    names = [n for n in KEYPOINT_NAMES if n in per_keypoint]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.barh(names[::-1], [per_keypoint[n] for n in names[::-1]], color="tab:blue")
    ax.set(xlabel="RMSE (px)", title="test RMSE per keypoint")
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def show_dataset(path: str | Path, output: str | Path = "faces.png", n: int = 16, seed: int = 0) -> Path:
    """A grid of ``n`` seeded random faces of a data set with their keypoints, written to ``output``."""
    from ..data import load_training

    if n < 1:
        raise ValueError(f"-n {n}: draw at least one face")
    ds = load_training(path)
    pick = np.sort(np.random.default_rng(seed).choice(len(ds), min(n, len(ds)), replace=False))
    titles = [str(ds.identities[i])[:16] if ds.identities is not None else f"row {i + 1}" for i in pick]
    return face_grid(output, ds.images[pick], ds.keypoints[pick], titles=titles)
