"""Faces in a video, frame after frame: tracking, identities and steady points.

``FaceTracker`` follows each face from frame to frame: its next crop is framed from its points found
in the previous frame, before any filtering (``geometry.template_matrix``, the framing ``predict``'s
re-framing passes use, then the offset between it and the detector's framing at the face's last detection, so the crops
stay like the detector-framed crops the bundled models learnt from),
and the face detector runs only every ``detect_every`` frames, or at once when a track is lost
(its keypoint confidence falls under ``min_confidence``). New detections that overlap no track
start a new one; a track that was lost keeps its number if it is found again near where it was
within ``keep_lost`` frames. Each face's points then go through a One Euro filter (Casiez et al.,
CHI 2012): an adaptive low-pass whose cutoff rises with the face's speed. Ours first moves the
filtered points on by their filtered speed (a constant-velocity step, as a Kalman or Holt filter
does), so a face moving steadily is not lagged behind: on the validation clips the plain filter
cost 0.6-8 points of NME for its smoothing, this one 0.00-0.02 (docs/benchmarks.md section 11). The
filter only steadies what is reported: framing the next crop from the filtered points moved on by
their speed cost `fast` 0.1 points there. ``smooth`` > 0 picks the older exponential average instead.

It takes the detector (a ``KeypointDetector``) as an argument, so it imports nothing of ``predict``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import DataError
from ..geometry import apply_affine, invert_affine, template_matrix
from ..imaging import require_opencv
from ..keypoints import NUM_KEYPOINTS
from .detect import Picture, box_iou

# Chosen on validation clips: YT15 val people, held-out wild-68 photo ids (benchmarks/video_steadiness.py).
DETECT_EVERY = 10  # frames between detector runs while every face is tracked
MIN_CUTOFF = 16.0  # Hz: the One Euro filter's cutoff for a still face (lower: steadier, slower to follow)
BETA = 1.0  # how fast the cutoff rises with the face's speed (per face width per second)
D_CUTOFF = 5.0  # Hz: the low-pass on the speed estimate


@dataclass(frozen=True)
class VideoSettings:
    """How a video is followed: ``track`` faces from frame to frame (else every frame is a photo),
    run the detector every ``detect_every`` frames (and when a face is lost), and steady the points
    with the One Euro filter (``min_cutoff`` Hz, ``beta``; ``min_cutoff=0``: off) or, with
    ``smooth`` > 0, the exponential average ``new = smooth * old + (1 - smooth) * found``."""

    track: bool = True
    detect_every: int = DETECT_EVERY
    min_cutoff: float = MIN_CUTOFF
    beta: float = BETA
    smooth: float = 0.0
    min_confidence: float = 0.25  # a tracked face whose mean keypoint confidence falls under this is lost
    keep_lost: int = 15  # frames a lost track keeps its number, waiting to be found again

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every={self.detect_every}: choose 1 or more frames")
        if self.min_cutoff < 0 or self.beta < 0:
            raise ValueError(f"min_cutoff={self.min_cutoff}, beta={self.beta}: choose values >= 0")
        if not 0 <= self.smooth < 1:
            raise ValueError(f"smooth={self.smooth}: choose a value in 0..1 (0 = the One Euro filter)")


class OneEuroFilter:
    """The One Euro filter on one face's points ``(P, 2)``, with a constant-velocity step: one cutoff
    for the whole face, from its median point speed in face widths per second (so the shape is never
    bent by the filter); each frame the filtered points first move on by their filtered speed."""

    def __init__(self, fps: float, min_cutoff: float, beta: float, d_cutoff: float = D_CUTOFF):
        self.dt, self.min_cutoff, self.beta, self.d_cutoff = 1.0 / fps, min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None

    def _alpha(self, cutoff: float) -> float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / self.dt)

    def __call__(self, points: np.ndarray, face_width: float) -> np.ndarray:
        if self.x is None or self.min_cutoff <= 0:
            self.x, self.dx = points.copy(), np.zeros_like(points)
            return points
        ahead = self.x + self.dx * self.dt  # where the face is going
        per_width = float(np.median(np.linalg.norm(self.dx, axis=-1))) / max(face_width, 1.0)
        new = ahead + self._alpha(self.min_cutoff + self.beta * per_width) * (points - ahead)
        self.dx += self._alpha(self.d_cutoff) * ((new - self.x) / self.dt - self.dx)
        self.x = new
        return new.copy()


@dataclass
class Track:
    """One face followed through a video."""

    number: int
    points: np.ndarray  # (P, 2) the latest points found (before filtering), image pixels
    box_in_crop: np.ndarray  # (2, 2) its detection box in the crop framed from its points
    score: float
    filter: Any
    missed: int = 0  # frames since it was last found (0: found in this frame)
    last_box: np.ndarray = field(default_factory=lambda: np.zeros(4))
    # the detector's framing relative to the points' own (template) framing, at its last detection:
    # followed crops are framed from the points through it, so they look like the crops the model
    # was trained on (detector-framed), not like template crops
    offset: np.ndarray = field(default_factory=lambda: np.eye(3))
    conf: np.ndarray = field(default_factory=lambda: np.zeros(NUM_KEYPOINTS, np.float32))

    def guess(self) -> np.ndarray:
        """Where the points will be in the next frame: the points found last (not the filtered ones),
        moved on by the face's filtered speed taken as one translation (the mean over its points), so
        the network's per-point noise does not bend the next crop."""
        f = self.filter
        if not isinstance(f, OneEuroFilter) or f.dx is None:
            return self.points
        return self.points + f.dx.mean(0) * f.dt


class FaceTracker:
    """``tracker(frame)`` -> the faces of one frame (as ``KeypointDetector`` gives them, each with its
    ``track`` number), following the faces of the frames before."""

    def __init__(self, det: Any, settings: VideoSettings | None = None, fps: float = 30.0):
        self.det, self.settings, self.fps = det, settings or VideoSettings(), fps
        self.tracks: list[Track] = []
        self.frame, self.next_number = 0, 0

    def _filter(self) -> Any:
        s = self.settings
        return _Exponential(s.smooth) if s.smooth > 0 else OneEuroFilter(self.fps, s.min_cutoff, s.beta)

    def _frame_of(self, points: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray | None:
        """The crop framing of a face from its points: their template framing, then ``offset``."""
        try:
            m = template_matrix(points[:NUM_KEYPOINTS], self.det.rotate)
        except ValueError:
            return None  # degenerate points: this track needs the detector
        return m if offset is None else (offset @ _square(m))[:2]

    def _offset(self, detector_framing: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The detector's framing relative to the points' own: ``detector = offset @ own``."""
        m = self._frame_of(points)
        return np.eye(3) if m is None else _square(detector_framing) @ _square(invert_affine(m))

    def _box(self, t: Track) -> np.ndarray:
        """The box that moves with the face: the detection box, carried by the points' own framing
        (the last such box while the points are degenerate)."""
        m = self._frame_of(t.points)
        if m is not None:
            t.last_box = apply_affine(t.box_in_crop, invert_affine(m)).reshape(-1)
        return t.last_box

    def __call__(self, frame: np.ndarray) -> list[dict[str, Any]]:
        s, pic = self.settings, Picture(frame)
        waiting = [t for t in self.tracks if t.missed > 0]
        live = [t for t in self.tracks if t.missed == 0]
        lost = False
        # 1. every live face from its points in the previous frame (without tracking: from the detector)
        for t in waiting:
            t.missed += 1
        followed = [(t, self._frame_of(t.guess(), t.offset)) for t in live] if s.track else []
        for t, m in followed:
            if m is None:
                t.missed, lost = 1, True
        followed = [(t, m) for t, m in followed if m is not None]
        if followed:
            pts, conf = self.det.predict_framed(pic, [m for _, m in followed])
            for (t, _), p, c in zip(followed, pts, conf, strict=True):
                if float(np.mean(c)) >= s.min_confidence:
                    t.points, t.conf = p, c
                else:
                    t.missed, lost = 1, True
        if not s.track:
            for t in live:
                t.missed = 1
        # 2. the detector: every detect_every frames, when a face was lost, or while there is none
        if not s.track or self.frame % s.detect_every == 0 or lost or not any(t.missed == 0 for t in self.tracks):
            self._detect(pic)
        self.tracks = [t for t in self.tracks if t.missed <= s.keep_lost]
        self._drop_duplicates()
        self.frame += 1
        faces = []
        for t in sorted((t for t in self.tracks if t.missed == 0), key=lambda t: -t.score):
            box = self._box(t)
            steady = t.filter(t.points, float(box[2] - box[0]))
            faces.append({**self.det.face_record(apply_box(box, t.points, steady), t.score, steady, t.conf),
                          "track": t.number})
        return faces

    def _detect(self, pic: Picture) -> None:
        """Match the detector's faces to the tracks; the detector has the last word: a followed face
        it does not confirm is lost (it may have drifted off the face), a face no track holds is new."""
        found = self.det.detections(pic)
        framings = [self.det.framer.framing(b, lm) for b, lm in zip(found.boxes, found.landmarks, strict=True)]
        pts, conf = self.det.predict_framed(pic, framings)
        found, framings, pts, conf = self.det.rechecked(pic, found, framings, pts, conf)  # a small first look
        taken: set[int] = set()
        known = [self._box(t) for t in self.tracks]  # where each track's face is now (new tracks are taken)
        for box, score, p, c, by_detector in zip(found.boxes, found.scores, pts, conf, framings, strict=True):
            box = np.asarray(box, np.float64)
            near = [(float(box_iou(b[None], box)[0]), i) for i, b in enumerate(known) if i not in taken]
            iou, i = max(near, default=(0.0, -1))
            if iou >= 0.3:  # a face we know: keep its number; a followed face keeps its own points
                t = self.tracks[i]
                taken.add(i)
                if t.missed:  # found again (or, without tracking, found afresh): the detector's points
                    if t.missed > 1:
                        t.filter = self._filter()  # it may have moved while lost: no lag from where it was
                    t.points, t.conf, t.missed = p, c, 0
                    t.offset = self._offset(by_detector, p)  # (a followed face keeps its own: no jumps)
                own = self._frame_of(t.points)
                if own is not None:
                    t.box_in_crop = apply_affine(box.reshape(2, 2), own)
                t.score, t.last_box = float(score), box
            else:  # a new face: the detector says so, whatever its points' confidence
                m = self._frame_of(p)
                crop_box = apply_affine(box.reshape(2, 2), by_detector if m is None else m)
                self.tracks.append(Track(self.next_number, p, crop_box, float(score), self._filter(), conf=c,
                                         last_box=box, offset=self._offset(by_detector, p)))
                taken.add(len(self.tracks) - 1)
                self.next_number += 1
        for i, t in enumerate(self.tracks):
            if i not in taken and t.missed == 0:
                t.missed = 1

    def _drop_duplicates(self) -> None:
        """Two live tracks on one face (they ran into each other): the younger goes."""
        live = sorted((t for t in self.tracks if t.missed == 0), key=lambda t: t.number)
        boxes = [self._box(t) for t in live]
        gone = set()
        for a in range(len(live)):
            for b in range(a + 1, len(live)):
                if id(live[b]) not in gone and box_iou(boxes[a][None], boxes[b])[0] > 0.6:
                    gone.add(id(live[b]))
        self.tracks = [t for t in self.tracks if id(t) not in gone]


def _square(m: np.ndarray) -> np.ndarray:
    """A ``(2, 3)`` affine as ``(3, 3)``, to compose with ``@``."""
    return np.vstack([m, [0.0, 0.0, 1.0]])


def apply_box(box: np.ndarray, raw: np.ndarray, steady: np.ndarray) -> np.ndarray:
    """The box moved by the filter's shift of the points (their mean), so box and points agree."""
    shift = (steady - raw).mean(0)
    return box + np.r_[shift, shift]


class _Exponential:
    """``predict --smooth ALPHA``: ``new = alpha * old + (1 - alpha) * found`` (lags when the face moves)."""

    def __init__(self, alpha: float):
        self.alpha, self.x = alpha, None

    def __call__(self, points: np.ndarray, face_width: float) -> np.ndarray:
        self.x = points.copy() if self.x is None else self.alpha * self.x + (1 - self.alpha) * points
        return self.x.copy()


def iter_video(det: Any, source: str | int | Path | Any,
               settings: VideoSettings | None = None) -> Iterator[tuple[int, np.ndarray, list[dict[str, Any]]]]:
    """``(frame index, BGR frame, faces)`` from ``det`` (a ``KeypointDetector``) for each frame of a
    video file, a camera index or any source ``cv2.VideoCapture`` opens, faces followed by a
    ``FaceTracker`` with ``settings``. Raises ``DataError`` when the source cannot be opened, and
    ImportError without OpenCV (the ``[video]`` extra)."""
    cv2 = require_opencv("video")
    cap = source if isinstance(source, cv2.VideoCapture) else cv2.VideoCapture(
        source if isinstance(source, int) else str(source))
    if not cap.isOpened():
        raise DataError(f"{source}: cannot open video")
    tracker = FaceTracker(det, settings, fps=cap.get(cv2.CAP_PROP_FPS) or 30.0)
    try:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield i, frame, tracker(frame)
            i += 1
    finally:
        cap.release()
