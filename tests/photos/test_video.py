"""Video: faces followed from frame to frame (track numbers, fewer detector runs) and the One Euro filter."""

import json

import cv2
import numpy as np
import pytest

from facekeypoints.cli import main
from facekeypoints.photos.predict import KeypointDetector
from facekeypoints.photos.video import BETA, MIN_CUTOFF, FaceTracker, OneEuroFilter, VideoSettings
from tests.photos.test_predict import face_photo  # noqa: F401 - the shared-data fixture


def _moving(photo, frames: int, two: bool = False) -> list[np.ndarray]:
    """Frames of the photo panning smoothly (sub-pixel steps); ``two``: two copies on crossing paths."""
    img = cv2.imread(str(photo))
    h, w = img.shape[:2]
    out = []
    for t in range(frames):
        canvas = np.full((480, 640, 3), 80, np.uint8)
        for k in range(2 if two else 1):
            x = 60 + 8.3 * t  # 8.3 px a frame: a quick head move at 30 fps
            m = np.float32([[0.8, 0, x if k == 0 else 360 - x + 60], [0, 0.8, 20 if k == 0 else 240]])
            face = cv2.warpAffine(img, m, (640, 480))
            mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (640, 480)) > 0
            canvas[mask] = face[mask]
        out.append(canvas)
    return out


class _Counting:
    """A face detector wrapper that counts its runs."""

    def __init__(self, inner):
        self.inner, self.calls, self.name = inner, 0, inner.name

    def __call__(self, image):
        self.calls += 1
        return self.inner(image)


def test_a_moving_face_keeps_one_number_and_the_detector_runs_every_n_frames(face_photo):  # noqa: F811
    det = KeypointDetector.from_pretrained("fast")
    det.detector = counting = _Counting(det.detector)
    tracker = FaceTracker(det, VideoSettings(detect_every=5))
    faces = [tracker(f) for f in _moving(face_photo, 12)]
    assert all(len(f) == 1 for f in faces)
    assert {f[0]["track"] for f in faces} == {0}
    assert counting.calls == 3  # frames 0, 5 and 10: the face was never lost
    # without tracking every frame is a photo: the detector on each one, still one number
    det.detector = counting = _Counting(counting.inner)
    tracker = FaceTracker(det, VideoSettings(track=False))
    assert {tracker(f)[0]["track"] for f in _moving(face_photo, 4)} == {0} and counting.calls == 4


def test_two_faces_crossing_paths_keep_their_own_numbers(face_photo):  # noqa: F811
    tracker = FaceTracker(KeypointDetector.from_pretrained("fast"))
    by_side = {}
    for faces in (tracker(f) for f in _moving(face_photo, 20, two=True)):
        assert len(faces) == 2
        for f in faces:  # face 0 runs along the top, face 1 along the bottom
            by_side.setdefault(f["box"][1] < 200, set()).add(f["track"])
    assert by_side[True] != by_side[False] and all(len(v) == 1 for v in by_side.values())


def test_one_euro_steadies_a_still_point_and_follows_a_moving_one_without_lag():
    rng = np.random.default_rng(0)
    still = 100 + rng.normal(0, 1.0, (120, 1, 2))
    calm, default = OneEuroFilter(30.0, min_cutoff=1.0, beta=1.0), OneEuroFilter(30.0, MIN_CUTOFF, BETA)
    calm_out = np.array([calm(p, face_width=100.0) for p in still])
    out = np.array([default(p, face_width=100.0) for p in still])
    assert calm_out[30:].std() < out[30:].std() < 0.85 * still[30:].std()  # lower cutoff, calmer
    ramp = np.stack([np.arange(120) * 3.0, np.zeros(120)], -1)[:, None]  # 90 px/s
    f = OneEuroFilter(30.0, min_cutoff=8.0, beta=1.0)
    out = np.array([f(p, face_width=100.0) for p in ramp])
    assert np.abs(out[30:] - ramp[30:]).max() < 0.05  # the constant-velocity step: no lag once settled
    with pytest.raises(ValueError, match="detect_every=0"):
        VideoSettings(detect_every=0)


def test_video_records_carry_track_numbers_and_photos_do_not(face_photo, tmp_path, capsys):  # noqa: F811
    clip = tmp_path / "clip.avi"
    frames = _moving(face_photo, 5)
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for f in frames:
        w.write(f)
    w.release()
    assert main(["predict", str(clip), str(face_photo), "--model", "fast", "--detect-every", "3"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    video = [r for r in recs if r.get("frame") is not None]
    photo = [r for r in recs if r.get("frame") is None]
    assert len(video) == 5 and all(f["track"] == 0 for r in video for f in r["faces"])
    assert photo and all("track" not in f for r in photo for f in r["faces"])
    assert main(["predict", str(face_photo), "--model", "fast", "--detect-every", "3"]) == 0
    assert "apply to videos only" in capsys.readouterr().err  # not silently ignored on photos


def test_a_video_frames_doubtful_face_from_a_small_first_look_is_rechecked():
    """The tracker's detector runs go through the same recheck as a photo's (``KeypointDetector.rechecked``):
    a face the network doubts, from a first look under the detector's recheck side, takes the box YuNet
    finds for it from that side."""
    from tests.photos.test_predict import _Looks, _sure_of

    det = KeypointDetector.from_pretrained("fast")
    large, right = (0, 0, 80, 80), (10, 10, 50, 50)
    det.detector = _Looks({None: [(large, 0.8)], 256: [(right, 0.8)]})
    _sure_of(det, {large: 0.4, right: 0.9})
    det.predict_framed = det._points
    faces = FaceTracker(det, VideoSettings(track=False))(np.zeros((100, 100, 3), np.uint8))
    assert det.detector.asked == [None, 256] and [f["box"] for f in faces] == [list(map(float, right))]
