"""Face framing: fit a scale + shift onto a template, and crop a 96x96 face with it.

Crops are axis-aligned (no rotation), so a crop framed from a detector box at
inference sees faces the way the training crops showed them. A point ``p`` of the
source image lands at ``scale * p + shift`` in the crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from .keypoints import INDEX

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


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGR, BGRA; uint8 or uint16) to uint8 grayscale."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image[..., 0]


def crop_face(gray: np.ndarray, scale: float, shift: np.ndarray, size: int = 96) -> np.ndarray:
    """Cut the ``size x size`` crop ``x_crop = scale * x_src + shift`` from a grayscale image.

    Only the region the crop needs is touched. Strong downscales go through Gaussian
    pyramid halvings first (anti-aliasing; pyrDown maps x to x / 2 exactly), then one
    bilinear warp. Outside the image is black, as Kaggle-style padding.
    """
    shift = np.asarray(shift, np.float64)
    # Source region the crop covers, with a margin for the filters.
    lo = (-shift - 1) / scale
    hi = (size - shift) / scale
    margin = 4.0 / scale + 4
    x0, y0 = (np.floor(lo - margin)).astype(int)
    x1, y1 = (np.ceil(hi + margin)).astype(int)
    h, w = gray.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx1 <= cx0 or cy1 <= cy0:
        return np.zeros((size, size), np.uint8)
    roi = gray[cy0:cy1, cx0:cx1]
    s, t = scale, shift + scale * np.array([cx0, cy0])  # now maps roi coordinates
    while s < 0.5 and min(roi.shape[:2]) >= 4:
        roi = cv2.pyrDown(roi)
        s *= 2.0
    m = np.array([[s, 0.0, t[0]], [0.0, s, t[1]]])
    return cv2.warpAffine(roi, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def apply_framing(points: np.ndarray, scale: float, shift: np.ndarray, size: int = 96) -> np.ndarray:
    """Map source points into the crop; points that fall outside it become NaN."""
    out = np.asarray(points, np.float64) * scale + np.asarray(shift)
    outside = ((out < 0) | (out > size - 1)).any(axis=-1)
    out[outside] = np.nan
    return out.astype(np.float32)
