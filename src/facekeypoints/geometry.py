"""Face framing: fit a scale + shift (or a similarity) onto a template, and crop a face with it.

Training crops (``data convert``) are axis-aligned: a point ``p`` of the source image lands
at ``scale * p + shift`` in the crop. At inference a framing is a ``(2, 3)`` affine matrix
``M`` (``crop = M @ [p, 1]``), so it may also turn a tilted face upright; points found in
the crop go back through ``invert_affine(M)``. NumPy only (the pixels: ``imaging.py``; the photo path
runs without torch or OpenCV); the same geometry on batches of tensors is ``warps.py``.
"""

from __future__ import annotations

import numpy as np

from .imaging import as_bgr, invert_affine, pyr_down, to_gray, warp_affine
from .keypoints import INDEX

# The frame every framing is defined in: Kaggle's 96x96 faces. A model with larger crops sees the
# same face region at more pixels (``resize_framing``).
REFERENCE_SIZE = 96

# Where the Kaggle faces put four keypoints on average (96x96 frame); ``data convert``
# frames every face so that its own four points fit these best (least squares).
KAGGLE_TEMPLATE: dict[str, tuple[float, float]] = {
    "left_eye_center": (66.0, 38.0),
    "right_eye_center": (30.0, 38.0),
    "nose_tip": (48.0, 63.0),
    "mouth_center_bottom_lip": (49.0, 79.0),
}


def fit_scale_shift(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares ``scale, shift`` with ``scale * src + shift ~ dst`` (both ``(K, 2)``)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    sc, dc = src - src.mean(0), dst - dst.mean(0)
    denom = float((sc**2).sum())
    if not np.isfinite(denom) or denom <= 1e-9:
        raise ValueError("degenerate keypoints: cannot fit a framing")
    scale = float((sc * dc).sum() / denom)
    if scale <= 0:
        raise ValueError("keypoints are mirrored or collapsed: cannot fit a framing")
    return scale, dst.mean(0) - scale * src.mean(0)


def template_framing(keypoints15: np.ndarray) -> tuple[float, np.ndarray]:
    """Scale and shift that put a face's 15 keypoints where Kaggle's faces have them."""
    idx = [INDEX[n] for n in KAGGLE_TEMPLATE]
    dst = np.array(list(KAGGLE_TEMPLATE.values()))
    return fit_scale_shift(np.asarray(keypoints15)[idx], dst)


def template_matrix(keypoints15: np.ndarray, rotate: bool = False) -> np.ndarray:
    """``template_framing`` as a ``(2, 3)`` matrix; ``rotate`` also turns the face upright (a similarity)."""
    if not rotate:
        return scale_shift_matrix(*template_framing(keypoints15))
    idx = [INDEX[n] for n in KAGGLE_TEMPLATE]
    return fit_similarity(np.asarray(keypoints15)[idx], np.array(list(KAGGLE_TEMPLATE.values())))


def scale_shift_matrix(scale: float, shift: np.ndarray) -> np.ndarray:
    """The ``(2, 3)`` matrix of ``x_crop = scale * x_src + shift``."""
    tx, ty = np.asarray(shift, np.float64)
    return np.array([[scale, 0.0, tx], [0.0, scale, ty]])


def resize_framing(m: np.ndarray, size: int, ref: int = REFERENCE_SIZE) -> np.ndarray:
    """A framing ``(2, 3)`` for ``ref``-px crops -> the same face region in ``size``-px crops.

    Crop pixel edges stay where they were: ``x_size = (x_ref + 0.5) * size / ref - 0.5``.
    """
    k = size / ref
    return np.asarray(m, np.float64) * k + np.array([[0.0, 0.0, 0.5 * k - 0.5], [0.0, 0.0, 0.5 * k - 0.5]])


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (scale, rotation, shift) ``(2, 3)`` with ``M @ [src, 1] ~ dst``."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    sc, dc = src - src.mean(0), dst - dst.mean(0)
    denom = float((sc**2).sum())
    if not np.isfinite(denom) or denom <= 1e-9:
        raise ValueError("degenerate keypoints: cannot fit a framing")
    a = float((sc * dc).sum() / denom)  # s cos
    b = float((sc[:, 0] * dc[:, 1] - sc[:, 1] * dc[:, 0]).sum() / denom)  # s sin
    if a <= 0:
        raise ValueError("keypoints are mirrored or collapsed: cannot fit a framing")
    rot = np.array([[a, -b], [b, a]])
    return np.column_stack((rot, dst.mean(0) - rot @ src.mean(0)))


def apply_affine(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Points ``(..., 2)`` through a ``(2, 3)`` affine matrix."""
    m = np.asarray(m, np.float64)
    return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The ``(2, 3)`` affine map ``x -> outer(inner(x))``."""
    outer, inner = np.asarray(outer, np.float64), np.asarray(inner, np.float64)
    return np.column_stack((outer[:, :2] @ inner[:, :2], outer[:, :2] @ inner[:, 2] + outer[:, 2]))


def crop_shape(size: int, channels: int = 1) -> tuple[int, ...]:
    """The array shape of one crop: grey ``(size, size)``, BGR planes ``(3, size, size)``; other
    channel counts are a ValueError."""
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: crops are grey (1) or BGR (3)")
    return (size, size) if channels == 1 else (channels, size, size)


def crop_affine(image: np.ndarray, m: np.ndarray, size: int = 96, channels: int = 1) -> np.ndarray:
    """Cut the ``size x size`` crop ``x_crop = M @ [x_src, 1]`` from an image (``M`` is ``(2, 3)``):
    grey ``(size, size)``, or with ``channels=3`` BGR planes ``(3, size, size)`` (a colour model's input).

    Only the region the crop needs is touched; a colour (BGR) image is turned grey there only.
    Strong downscales go through Gaussian pyramid halvings first (anti-aliasing; pyrDown maps
    x to x / 2 exactly), then one bilinear warp. Outside the image is black, as Kaggle-style padding.
    """
    m = np.asarray(m, np.float64)
    corners = apply_affine(np.array([[-1, -1], [size, -1], [-1, size], [size, size]], np.float64), invert_affine(m))
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    margin = 4.0 / scale + 4
    x0, y0 = np.floor(corners.min(0) - margin).astype(int)
    x1, y1 = np.ceil(corners.max(0) + margin).astype(int)
    h, w = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    shape = crop_shape(size, channels)
    if cx1 <= cx0 or cy1 <= cy0:
        return np.zeros(shape, np.uint8)
    roi = (to_gray if channels == 1 else as_bgr)(image[cy0:cy1, cx0:cx1])
    a, t = m[:, :2].copy(), m[:, 2] + m[:, :2] @ np.array([cx0, cy0])  # now maps roi coordinates
    while scale < 0.5 and min(roi.shape[:2]) >= 4:
        roi = pyr_down(roi)
        a, scale = a * 2.0, scale * 2.0
    crop = warp_affine(roi, np.column_stack((a, t)), size)
    return crop if channels == 1 else np.ascontiguousarray(crop.transpose(2, 0, 1))


def crop_face(gray: np.ndarray, scale: float, shift: np.ndarray, size: int = 96) -> np.ndarray:
    """Cut the ``size x size`` crop ``x_crop = scale * x_src + shift`` (see ``crop_affine``)."""
    return crop_affine(gray, scale_shift_matrix(scale, shift), size)


def apply_framing(points: np.ndarray, scale: float, shift: np.ndarray, size: int = 96) -> np.ndarray:
    """Map source points into the crop; points that fall outside it become NaN."""
    out = np.asarray(points, np.float64) * scale + np.asarray(shift)
    outside = ((out < 0) | (out > size - 1)).any(axis=-1)
    out[outside] = np.nan
    return out.astype(np.float32)
