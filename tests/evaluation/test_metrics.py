import numpy as np
import pytest

from facekeypoints.data.labels import forward_fill
from facekeypoints.evaluation.metrics import nme_per_face, per_keypoint_rmse, rmse, summary
from facekeypoints.keypoints import INDEX


def _face():
    true = np.zeros((1, 15, 2), np.float32)
    true[0, INDEX["left_eye_outer_corner"]] = (70, 40)
    true[0, INDEX["right_eye_outer_corner"]] = (30, 40)  # normaliser: 40 px
    true[0, INDEX["left_eye_center"]] = (60, 40)
    true[0, INDEX["right_eye_center"]] = (40, 40)  # inter-pupil: 20 px
    return true


def test_rmse_by_hand_with_missing_labels():
    true = np.full((1, 15, 2), 10.0)
    pred = true.copy()
    pred[0, 0] = (13, 14)  # squared errors 9 and 16
    true[0, 5] = np.nan
    # 28 present coordinates, total squared error 25
    assert rmse(pred, true) == pytest.approx(np.sqrt(25 / 28))
    assert per_keypoint_rmse(pred, true)["left_eye_center"] == pytest.approx(np.sqrt(25 / 2))
    assert np.isnan(per_keypoint_rmse(pred, true)["right_eye_outer_corner"])


def test_nme_uses_outer_corners_then_pupils():
    true = _face()
    pred = true.copy()
    pred[0, :, 0] += 3
    pred[0, :, 1] += 4  # every point off by 5 px
    assert nme_per_face(pred, true)[0] == pytest.approx(5 / 40)
    true[0, INDEX["left_eye_outer_corner"]] = np.nan
    assert nme_per_face(pred, true)[0] == pytest.approx(5 / 20)


def test_summary_failure_rate():
    true = np.concatenate([_face(), _face()])
    pred = true.copy()
    pred[1] += 8  # distance 11.3 px / 40 = 0.28 > 0.10
    s = summary(pred, true)
    assert s["failure_rate"] == 0.5 and s["n_faces"] == 2
    assert s["nme"] == pytest.approx(np.hypot(8, 8) / 40 / 2)


def test_forward_fill_like_pandas():
    import pandas as pd

    kp = np.random.default_rng(0).uniform(0, 96, (6, 15, 2)).astype(np.float32)
    kp[0, 3] = np.nan
    kp[2:5, 7] = np.nan
    ref = pd.DataFrame(kp.reshape(6, -1)).ffill().to_numpy().reshape(kp.shape)
    assert np.array_equal(forward_fill(kp), ref, equal_nan=True)
