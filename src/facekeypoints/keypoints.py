"""The 15 Kaggle facial keypoints, declared once.

Everything else (flip permutation, CSV column names, the 68-point mapping used by
``data convert``) is derived from the three tables below. "Left" and "right" are
from the subject's point of view, as in the Kaggle competition: the subject's
left eye appears on the right of the image (x around 66 in a 96x96 face).

Coordinate frame used throughout the project: pixel centres sit at integer
coordinates (OpenCV's convention), so a horizontal flip of a W-wide image maps
x to W - 1 - x.
"""

from __future__ import annotations

import numpy as np

# Kaggle column order (training.csv has NAME_x, NAME_y for each, in this order).
KEYPOINT_NAMES: tuple[str, ...] = (
    "left_eye_center",
    "right_eye_center",
    "left_eye_inner_corner",
    "left_eye_outer_corner",
    "right_eye_inner_corner",
    "right_eye_outer_corner",
    "left_eyebrow_inner_end",
    "left_eyebrow_outer_end",
    "right_eyebrow_inner_end",
    "right_eyebrow_outer_end",
    "nose_tip",
    "mouth_left_corner",
    "mouth_right_corner",
    "mouth_center_top_lip",
    "mouth_center_bottom_lip",
)

# Mirror pairs, by name. Names not listed (nose tip, lip centres) mirror onto themselves.
FLIP_PAIRS_BY_NAME: tuple[tuple[str, str], ...] = (
    ("left_eye_center", "right_eye_center"),
    ("left_eye_inner_corner", "right_eye_inner_corner"),
    ("left_eye_outer_corner", "right_eye_outer_corner"),
    ("left_eyebrow_inner_end", "right_eyebrow_inner_end"),
    ("left_eyebrow_outer_end", "right_eyebrow_outer_end"),
    ("mouth_left_corner", "mouth_right_corner"),
)

# Which iBUG-68 points (0-based) make each Kaggle keypoint; several points are averaged.
# iBUG numbers points as seen in the image: 36-41 is the eye on the image's left,
# i.e. the subject's RIGHT eye; 17-21 the subject's right brow (17 outer); 48 the
# subject's right mouth corner.
FROM_68: dict[str, tuple[int, ...]] = {
    "left_eye_center": (42, 43, 44, 45, 46, 47),
    "right_eye_center": (36, 37, 38, 39, 40, 41),
    "left_eye_inner_corner": (42,),
    "left_eye_outer_corner": (45,),
    "right_eye_inner_corner": (39,),
    "right_eye_outer_corner": (36,),
    "left_eyebrow_inner_end": (22,),
    "left_eyebrow_outer_end": (26,),
    "right_eyebrow_inner_end": (21,),
    "right_eyebrow_outer_end": (17,),
    "nose_tip": (30,),
    "mouth_left_corner": (54,),
    "mouth_right_corner": (48,),
    "mouth_center_top_lip": (51,),
    "mouth_center_bottom_lip": (57,),
}

NUM_KEYPOINTS = len(KEYPOINT_NAMES)
INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
COLUMNS: tuple[str, ...] = tuple(f"{n}_{axis}" for n in KEYPOINT_NAMES for axis in ("x", "y"))


def _involution(n: int, pairs: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """The permutation of ``n`` points that swaps each pair (and fixes the rest)."""
    perm = list(range(n))
    seen: set[int] = set()
    for a, b in pairs:
        if a in seen or b in seen or a == b or not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"bad flip pair ({a}, {b})")
        seen.update((a, b))
        perm[a], perm[b] = b, a
    return tuple(perm)


def _flip_idx() -> tuple[int, ...]:
    for a, b in FLIP_PAIRS_BY_NAME:
        if a not in INDEX or b not in INDEX:
            raise ValueError(f"flip pair ({a}, {b}) names an unknown keypoint")
    return _involution(NUM_KEYPOINTS, tuple((INDEX[a], INDEX[b]) for a, b in FLIP_PAIRS_BY_NAME))


# FLIP_IDX[i] is the keypoint that i becomes after a horizontal flip (an involution).
FLIP_IDX: tuple[int, ...] = _flip_idx()
FLIP_PAIRS: tuple[tuple[int, int], ...] = tuple((INDEX[a], INDEX[b]) for a, b in FLIP_PAIRS_BY_NAME)


def map_68_to_15(points68: np.ndarray) -> np.ndarray:
    """Map iBUG-68 points ``(..., 68, 2)`` to the 15 Kaggle keypoints ``(..., 15, 2)``."""
    points68 = np.asarray(points68, dtype=np.float64)
    if points68.shape[-2:] != (68, 2):
        raise ValueError(f"expected (..., 68, 2) points, got shape {points68.shape}")
    out = [points68[..., list(FROM_68[name]), :].mean(axis=-2) for name in KEYPOINT_NAMES]
    return np.stack(out, axis=-2).astype(np.float32)


def flip_keypoints(points: np.ndarray, width: int) -> np.ndarray:
    """Mirror ``(..., 15, 2)`` keypoints of a ``width``-wide image, swapping left and right."""
    out = np.array(points, dtype=np.float32, copy=True)[..., list(FLIP_IDX), :]
    out[..., 0] = (width - 1) - out[..., 0]
    return out


# iBUG-68 mirror pairs (jaw, brows, nostrils, eyes, outer and inner lips), for flipping the
# auxiliary 68-point targets; points on the midline (8, 27-30, 33, 51, 57, 62, 66) map to themselves.
IBUG68_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    *((i, 16 - i) for i in range(8)),
    *((17 + i, 26 - i) for i in range(5)),
    (31, 35), (32, 34),
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),
    (60, 64), (61, 63), (65, 67),
)
IBUG68_FLIP_IDX: tuple[int, ...] = _involution(68, IBUG68_FLIP_PAIRS)
NUM_68 = 68
# A model with a 68-point head predicts the 15 first, then the 68 (``aux68`` training): 83 points.
NUM_WITH_68 = NUM_KEYPOINTS + NUM_68


def flip_index(num_points: int) -> tuple[int, ...]:
    """The left/right permutation of a model's points: the 15, or the 15 then the 68."""
    if num_points == NUM_KEYPOINTS:
        return FLIP_IDX
    if num_points == NUM_WITH_68:
        return FLIP_IDX + tuple(NUM_KEYPOINTS + i for i in IBUG68_FLIP_IDX)
    raise ValueError(f"{num_points} points: a model predicts {NUM_KEYPOINTS} or {NUM_WITH_68} (15 + 68)")


# Normalisers for NME: the outer eye corners, else the eye centres (inter-pupil).
OUTER_EYE_CORNERS = (INDEX["left_eye_outer_corner"], INDEX["right_eye_outer_corner"])
EYE_CENTERS = (INDEX["left_eye_center"], INDEX["right_eye_center"])
