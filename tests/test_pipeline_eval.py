"""benchmarks/pipeline_eval.py: the yaw proxy its turned-face scores are binned by, matching, peers."""

import importlib.util
import sys
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


def _truth68(x0: float) -> np.ndarray:
    """68 points of a toy face at x0: a 40 x 50 box, the outer eye corners (36, 45) 30 px apart."""
    rng = np.random.default_rng(int(x0))
    pts = np.c_[rng.uniform(x0, x0 + 40, 68), rng.uniform(10, 60, 68)]
    pts[36], pts[45] = (x0 + 5, 30), (x0 + 35, 30)
    return pts


def test_a_peer_is_scored_from_its_workers_points_over_15_and_68_with_its_shift_and_its_misses(pipeline_eval,
                                                                                               tmp_path):
    """``_peer`` runs the worker on the list of photos and scores what it writes: a peer that puts every point
    1.5 px right of the truth shows that shift in ``mean_offset`` (in eye-corner distances) and the same
    error in the NME over 15 and over 68 points; a photo where it gives no face counts as not found."""
    truths68 = [_truth68(0), _truth68(100)]
    worker = tmp_path / "worker.py"
    worker.write_text(
        "import json, sys\n"
        f"faces = {[(t + [1.5, 0]).tolist() for t in truths68]!r}\n"
        "paths = open(sys.argv[1]).read().split()\n"
        "images = [{'path': p, 'ms': 1.0, 'ms_total': 2.0, 'faces': [faces[0]] if k == 0 else []}\n"
        "          for k, p in enumerate(paths)]\n"
        "json.dump({'toy': '1.0', 'load_ms': 3.0, 'images': images, 'args': sys.argv[3:]}, open(sys.argv[2], 'w'))\n")
    files = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    truths = [pipeline_eval.map_68_to_15(t) for t in truths68]
    out = pipeline_eval._peer([sys.executable, str(worker)], ["extra"], "toy", pipeline_eval.map_68_to_15, files,
                              [[0], [1]], truths, truths68, pipeline_eval.yaw_proxy(truths68), tmp_path,
                              points68=True)
    assert out["version"] == "1.0" and out["detected"] == 1 and out["detection_rate"] == 0.5
    assert out["mean_offset"] == pytest.approx([1.5 / 30, 0.0], abs=1e-4)
    assert out["nme"] == pytest.approx(1.5 / 30) and out["nme68"] == pytest.approx(1.5 / 30)
    assert out["ms_per_image_p50"] == 2.0 and out["ms_without_decode_p50"] == 1.0


def test_counted_counts_each_call_and_keeps_the_answer(pipeline_eval):
    class Thing:
        def decode(self, x):
            return x + 1

    thing = Thing()
    calls = pipeline_eval._counted(thing, "decode")
    assert [thing.decode(k) for k in range(3)] == [1, 2, 3] and len(calls) == 3
    assert pipeline_eval._counted(thing, "missing") == []


def test_systems_are_also_compared_on_the_faces_every_one_found(pipeline_eval):
    """A system that misses the hard face scores better on its own mean; on the common faces the two compare
    like for like, and the per-face lists are not left in the printed result."""
    truths = [np.zeros((15, 2)) for _ in range(3)]
    for t in truths:
        t[3] = (30, 0)  # the outer eye corners (3 and 5) 30 px apart
    hit = [t + [0.3, 0] for t in truths]  # 1% off
    result = {"a": pipeline_eval._score([hit[0], hit[1], truths[2] + [3.0, 0]], truths, [1.0] * 3),  # 10% off
              "b": pipeline_eval._score([hit[0], hit[1], None], truths, [1.0] * 3), "faces": 3}
    assert result["b"]["nme"] == pytest.approx(0.01) and result["a"]["nme"] > 0.03
    common = pipeline_eval._on_common_faces(result)
    assert common == {"faces": 2, "a": pytest.approx(0.01), "b": pytest.approx(0.01)}
    assert pipeline_eval.PER_FACE not in result["a"] and pipeline_eval._on_common_faces({"a": {}}) is None


def test_a_shrunk_photo_keeps_its_points_on_its_features(pipeline_eval):
    """``--face-side``: the photo scaled down until the face is that wide; a point still marks the same spot."""
    import cv2

    image = np.zeros((300, 400, 3), np.uint8)
    cv2.rectangle(image, (196, 146), (207, 157), (255, 255, 255), -1)  # a square centred on (201.5, 151.5)
    ok, jpg = cv2.imencode(".jpg", image)
    pts = np.c_[np.linspace(100, 300, 68), np.full(68, 150.0)]  # a face 200 px wide
    pts[30] = (201.5, 151.5)
    raw, moved = pipeline_eval._shrunk(jpg.tobytes(), pts, 50)
    small = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)
    assert small.shape == (75, 100) and np.isclose(np.ptp(moved[:, 0]), 50, atol=0.3)
    yy, xx = np.mgrid[: small.shape[0], : small.shape[1]]
    spot = np.array([(small * xx).sum(), (small * yy).sum()]) / small.sum()
    assert np.allclose(spot, moved[30], atol=0.15)
    assert pipeline_eval._shrunk(raw, moved, 60)[0] == raw  # already smaller than asked: as it is
