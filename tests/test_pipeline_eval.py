"""benchmarks/pipeline_eval.py: the yaw proxy its turned-face scores are binned by."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def pipeline_eval():
    spec = importlib.util.spec_from_file_location("pipeline_eval", BENCH / "pipeline_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _face(yaw_degrees: float) -> np.ndarray:
    """68 points of a toy head turned by ``yaw_degrees``: outer eye corners (36, 45) at x = -/+1, the nose
    tip (30) 0.6 in front of them, every other point at the origin; then projected orthographically."""
    pts = np.zeros((68, 3))
    pts[36], pts[45], pts[30] = (-1, 0, 0), (1, 0, 0), (0, 0.5, 0.6)
    a = np.radians(yaw_degrees)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return (pts @ turn.T)[:, :2] * 50 + 100


def test_yaw_proxy_is_zero_frontal_grows_with_yaw_and_ignores_the_side(pipeline_eval):
    proxy = pipeline_eval.yaw_proxy([_face(d) for d in (0, 10, 20, 30, 45, -30)])
    assert proxy[0] == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.diff(proxy[:5]) > 0)
    assert proxy[5] == pytest.approx(proxy[3])
    assert proxy[4] == pytest.approx(0.6 * np.tan(np.radians(45)))  # as its docstring says


def test_yaw_bins_count_every_found_face_once(pipeline_eval):
    truths = [_face(d) for d in (0, 5, 25, 35, 60)]
    proxy = pipeline_eval.yaw_proxy(truths)
    found = [0, 2, 3, 4]  # face 1 not found
    nme = np.array([0.01, 0.02, 0.03, 0.04])
    bins = pipeline_eval._by_yaw(nme, found, proxy)
    assert sum(b["faces"] for b in bins.values()) == len(found)
    assert bins["0-0.2"] == {"faces": 1, "nme": 0.01}


def test_a_face_is_matched_to_the_box_covering_its_68_points_best_and_extra_boxes_cover_none(pipeline_eval):
    """``_ious`` against the bounds of the 68 points (here 0..10 square); ``_match`` takes the best box's points,
    none under IoU 0.2; ``_extra_all`` counts the boxes that overlap no annotated face by 0.2."""
    truth = np.array([[0.0, 0.0], [10.0, 10.0]] * 34)
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [50, 50, 60, 60]], float)
    assert np.allclose(pipeline_eval._ious(boxes, truth), [1.0, 1 / 3, 0.0])
    pts = [np.full((15, 2), k) for k in range(3)]
    assert pipeline_eval._match(pts, boxes[::-1], truth)[0, 0] == 2  # the best box is the third of the reversed
    assert pipeline_eval._match(pts[:1], boxes[2:], truth) is None
    assert pipeline_eval._extra_all(boxes, [truth]) == 1
