import numpy as np
import pytest

from facekeypoints.keypoints import (
    COLUMNS,
    FLIP_IDX,
    FLIP_PAIRS,
    FROM_68,
    INDEX,
    KEYPOINT_NAMES,
    flip_keypoints,
    map_68_to_15,
)


def test_flip_idx_is_an_involution_over_15_points():
    assert len(FLIP_IDX) == 15
    assert all(FLIP_IDX[FLIP_IDX[i]] == i for i in range(15))
    assert set(FLIP_PAIRS) == {(0, 1), (2, 4), (3, 5), (6, 8), (7, 9), (11, 12)}
    assert [i for i in range(15) if FLIP_IDX[i] == i] == [10, 13, 14]


def test_flip_pairs_swap_left_and_right_names():
    for i, j in FLIP_PAIRS:
        assert KEYPOINT_NAMES[i].replace("left", "right") == KEYPOINT_NAMES[j]


def test_columns_follow_kaggle_order():
    assert len(COLUMNS) == 30
    assert COLUMNS[:4] == ("left_eye_center_x", "left_eye_center_y", "right_eye_center_x", "right_eye_center_y")
    assert COLUMNS[-1] == "mouth_center_bottom_lip_y"


def test_map_68_to_15_uses_the_documented_points():
    pts = np.stack([np.arange(68) * 1.0, np.arange(68) * 2.0], axis=1)
    out = map_68_to_15(pts)
    assert out.shape == (15, 2)
    assert out[INDEX["left_eye_center"], 0] == pytest.approx(np.mean(range(42, 48)))
    assert out[INDEX["nose_tip"]].tolist() == [30.0, 60.0]
    assert out[INDEX["mouth_right_corner"], 0] == 48.0
    assert set(FROM_68) == set(KEYPOINT_NAMES)


def test_subject_left_is_image_right_after_mapping():
    # A frontal face in iBUG order: the eye built from points 42-47 sits at larger x.
    pts = np.zeros((68, 2))
    pts[36:42, 0], pts[42:48, 0] = 30, 66
    pts[48, 0], pts[54, 0] = 35, 61
    out = map_68_to_15(pts)
    assert out[INDEX["left_eye_center"], 0] > out[INDEX["right_eye_center"], 0]
    assert out[INDEX["mouth_left_corner"], 0] > out[INDEX["mouth_right_corner"], 0]


def test_flip_keypoints_twice_is_identity_and_mirrors_x():
    kp = np.random.default_rng(0).uniform(0, 95, (3, 15, 2)).astype(np.float32)
    once = flip_keypoints(kp, 96)
    assert np.allclose(once[:, 1, 0], 95 - kp[:, 0, 0])
    assert np.allclose(flip_keypoints(once, 96), kp)


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match="68, 2"):
        map_68_to_15(np.zeros((5, 2)))


def test_68_point_flip_agrees_with_the_15_point_flip():
    """Flipping 68 points then mapping to 15 equals mapping then flipping: both pair lists agree."""
    from facekeypoints.keypoints import IBUG68_FLIP_IDX

    pts = np.random.default_rng(0).uniform(0, 95, (68, 2))
    flipped68 = pts[list(IBUG68_FLIP_IDX)]
    flipped68[:, 0] = 95 - flipped68[:, 0]
    assert np.allclose(map_68_to_15(flipped68), flip_keypoints(map_68_to_15(pts), 96), atol=1e-4)
    assert all(IBUG68_FLIP_IDX[IBUG68_FLIP_IDX[i]] == i for i in range(68))
