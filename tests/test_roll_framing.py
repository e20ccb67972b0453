"""benchmarks/roll_framing.py: the roll a framing takes out is read with the sign `--roll` turns by."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from facekeypoints.geometry import KAGGLE_TEMPLATE, template_matrix
from facekeypoints.keypoints import INDEX, NUM_KEYPOINTS

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def roll_framing(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # it reuses pipeline_eval's turned photos
    spec = importlib.util.spec_from_file_location("roll_framing", BENCH / "roll_framing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("degrees", [0.0, 20.0, -35.0, 80.0])
def test_roll_of_reads_back_a_turn_made_as_pipeline_eval_turns_photos(roll_framing, degrees):
    # A face on the template, then turned counter-clockwise as seen (image y points down), as
    # cv2.getRotationMatrix2D(centre, degrees) turns a photo in pipeline_eval._rolled.
    pts = np.zeros((NUM_KEYPOINTS, 2))
    for name, xy in KAGGLE_TEMPLATE.items():
        pts[INDEX[name]] = xy
    a = np.radians(degrees)
    turn = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    turned = (pts - 48.0) @ turn.T + 200.0
    assert roll_framing.roll_of(template_matrix(turned, rotate=True)) == pytest.approx(degrees, abs=1e-6)


def test_nme_is_the_mean_point_error_over_the_outer_eye_corner_distance(roll_framing):
    truth = np.random.default_rng(0).uniform(0, 100, (NUM_KEYPOINTS, 2))
    eye = np.linalg.norm(truth[3] - truth[5])
    assert roll_framing.nme(truth + [3.0, 4.0], truth) == pytest.approx(5.0 / eye)
