"""Keypoints for every face in photos: detect, frame, crop, predict, map back.

``KeypointDetector`` is the Python API; ``facekeypoints predict`` wraps it. The image is
decoded once, in colour: the face detector (YuNet by default, ``detect.py``) sees colour,
the keypoint network its grayscale crop. Each face is framed from the detector's 5
landmarks (through a correction fitted on training faces, ``detect.Framer``) as ``data
convert`` frames training faces, and the points are mapped back to the original image's
pixels (after EXIF orientation). After a box-only detector (Haar) one re-framing pass from
the 15 points found follows; a crop that misses its points is framed again from them; a face the
network is unsure of gets YuNet's second look in turned views (a head rolled further than YuNet's
landmarks follow), and the view where YuNet is surest of it frames it; a photo where YuNet finds no face
upright is searched again turned by the same angles. Per-keypoint confidence is flip
consistency: the model sees the crop and its mirror image, and the distance between the two
answers becomes the probability that the point is within ``tau`` crop pixels of the truth,
as calibrated on validation faces (``confidence.py``; bundled models carry their calibration).

On the CPU the network runs through onnxruntime, and this path never imports torch: a bundled
model runs the ONNX graph shipped beside its card (``assets/NAME.onnx``), a checkpoint the graph
exported once into the cache. ``backend="torch"`` (or a GPU) loads the weights with PyTorch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..cards import CheckpointError, has_68, read_card, resolve_checkpoint
from ..fileio import cache_dir, sha256_file
from ..geometry import (
    apply_affine,
    compose_affine,
    crop_affine,
    crop_shape,
    invert_affine,
    resize_framing,
    template_matrix,
)
from ..inference.confidence import confidence
from ..keypoints import EYE_CENTERS, KEYPOINT_NAMES, NUM_KEYPOINTS, NUM_WITH_68
from .detect import (
    DETECT_MAX_SIDE,
    Detections,
    Framer,
    HaarDetector,
    Look,
    Picture,
    YuNetDetector,
    create_detector,
    overlap,
    read_picture,
)

BACKENDS = ("auto", "onnx", "torch")
POINT_SETS = (15, 68)  # points=68: each face also carries "landmarks68" (models with a 68-point head)


DEFAULT_REFINE = {"yunet": 0, "haar": 1}
# A face whose crop misses its points is framed again from them (the template similarity: upright) and
# predicted again, at most REFRAME_PASSES times: "misses" when that framing would move a corner of its crop
# by more than REFRAME_LIMIT of the side. YuNet's landmarks follow only about half of a head's roll, and
# frame turned heads less well; on upright faces few crops move that far (docs/benchmarks.md, section 18).
REFRAME_LIMIT = 0.12
REFRAME_PASSES = 2
# A face whose mean confidence is under TURN_BELOW gets a second look from the detector in views turned
# by TURN_DEGREES, nearest upright first on each side, a side's further turn only where its nearer one did
# about as well as upright or better (``turned_look``); a view where YuNet is surer of the face frames it. A photo
# where it finds no face is searched whole, turned by each of them (docs/benchmarks.md, sections 19-20).
TURN_BELOW = 0.75
TURN_DEGREES = (-90.0, -45.0, 45.0, 90.0)
TURN_TIE = 0.02  # a look scoring within this of the upright detection sees the face about as well
# A face whose points' eye line leans by TURN_LEAN degrees or more gets those turned looks too, however sure
# the network is of it (0: never): a head rolled about 60 degrees, framed from a small first look (``fast``),
# can get points the network is sure of that are still off. Wild val turned by 60 degrees: ``fast`` 3.31%
# instead of 3.82%; upright photos make no more YuNet runs (section 28).
TURN_LEAN = 40.0
# ... and a face YuNet scores under TURN_SCORE: a head rolled 90 degrees that YuNet took for an upright face
# (scoring it about 0.7) can get level points the network is sure of, 70% off. Wild val turned by 90 degrees:
# `default` 4.49% instead of 4.92%; upright photos make no more YuNet runs (section 28).
TURN_SCORE = 0.75
# A face still under RESCUE_BELOW after that (often a head rolled about 90 degrees that YuNet took for an upright
# face, whose 45-degree view then scored lower) is framed in the views turned by RESCUE_DEGREES and predicted
# there; the view where the network is surest wins if it is surer than the face by RESCUE_MARGIN (section 22),
# and YuNet scores the face in it about as well as it scores it now or better (within RESCUE_TIE): a head rolled
# 30 degrees that the network was unsure of came out 37% off in a 90-degree view YuNet scored 0.16 lower; the 32
# heads rolled 90 degrees it rescues all score higher in their view (section 28).
# 0.7 rather than 0.65: at 90 degrees of roll 4.89% instead of 6.75% (`fast`), 4.48% instead of 4.65%
# (`default`), the same on the photos upright and turned by 45 and 60 degrees (section 24).
RESCUE_BELOW = 0.7
RESCUE_DEGREES = (-90.0, 90.0)
RESCUE_MARGIN = 0.1
RESCUE_TIE = 0.02
# Where YuNet's first look was under its ``recheck_side`` (``fast``: 160 px) and the network's mean confidence in
# a face is under RECHECK_BELOW, YuNet looks at the whole photo again from that side before any turned look; a
# face found there replaces the one it overlaps (SAME_FACE) where the network is surer of it (section 24).
RECHECK_BELOW = 0.65
RECHECK_SCORE = 0.7  # ... or where YuNet scores a face under this (a small look that missed a face beside it)
SAME_FACE = 0.5  # boxes overlapping by this share of the smaller one are the same face
LIGHT_PARAMS = 1_000_000  # parameters x views: under this, one onnxruntime thread (default 0.98M, fast 0.59M)


def _card_side(meta: dict[str, Any]) -> dict[str, int]:
    """YuNet's first-look side from a model card (``predict.detect_side``, e.g. ``fast``: 160), as
    ``create_detector`` keywords; none where the card names none."""
    side = meta.get("predict", {}).get("detect_side")
    return {"max_side": int(side)} if side else {}


class KeypointDetector:
    """Faces and their 15 keypoints in any image.

    >>> det = KeypointDetector.from_pretrained("default")  # doctest: +SKIP
    >>> faces = det("photo.jpg")  # path, bytes, numpy array (BGR or gray) or PIL image  # doctest: +SKIP
    >>> faces[0]["keypoints"]["nose_tip"]  # doctest: +SKIP
    {'x': 131.2, 'y': 160.9, 'confidence': 0.93}
    """

    def __init__(self, model: Any, meta: dict[str, Any],
                 detector: YuNetDetector | HaarDetector | None = None, framer: Framer | None = None,
                 onnx_path: str | Path | None = None, refine: int | None = None, rotate: bool | None = None,
                 points: int = 15, threads: int | None = None):
        """``model``: a torch keypoint network, or None with ``onnx_path`` (an exported pair graph,
        ``inference.export``), which then does the work without torch; ``meta``: its checkpoint card.
        ``rotate``: turn tilted faces upright in the crop (None: as the model was trained, its card's
        ``input.upright``)."""
        if points not in POINT_SETS:
            raise ValueError(f"points={points}: choose {' or '.join(map(str, POINT_SETS))}")
        if points == 68 and not has_68(meta):
            raise ValueError(f"model {meta.get('bundled_as') or meta.get('model')!r} has no 68-point head "
                             "(it predicts the 15 Kaggle points only); use points=15 or a model trained with aux68")
        if model is None and onnx_path is None:
            raise ValueError("KeypointDetector needs a torch model or an exported graph (onnx_path=)")
        self.model, self.meta, self.points = model, meta, points
        if model is not None:  # the config's re-framing views; its `pair` gives both flips (and the 68)
            from ..inference.tta import with_tta

            self.model = model.eval()
            self.net = with_tta(self.model, meta, all_points=points == 68)
        # turn tilted faces upright in the crop (similarity framing): by default as the training crops were
        self.rotate = bool(meta["input"].get("upright", False)) if rotate is None else rotate
        self.detector = detector or create_detector("yunet", **_card_side(meta))
        self.size = int(meta["input"]["size"])  # the model's input contract, from its checkpoint
        self.channels = int(meta["input"].get("channels", 1))  # 1: grey crops, 3: BGR planes
        self.crop_shape = crop_shape(self.size, self.channels)
        self.framer = framer or Framer.load(self.detector.name, rotate=self.rotate, size=self.size)
        # Re-framing passes from the points found: they help after a box (Haar), not after YuNet's
        # landmark framing, where they cost accuracy (docs/benchmarks.md, section 3).
        self.refine = refine if refine is not None else DEFAULT_REFINE.get(self.detector.name, 0)
        self.reframe_passes = REFRAME_PASSES  # re-framings of faces whose crop misses their points (0: none)
        self.reframe_limit = REFRAME_LIMIT  # ... by more than this share of the crop side
        self.turn_below = TURN_BELOW  # faces less sure than this get the detector's turned looks (0: never)
        self.turn_lean = TURN_LEAN  # ... and faces whose eye line leans by this many degrees or more (0: never)
        self.turn_score = TURN_SCORE  # ... and faces YuNet scores under this (0: never)
        self.turn_degrees = TURN_DEGREES
        self.rescue_below = RESCUE_BELOW  # ... and those still less sure than this, the RESCUE_DEGREES views (0: never)
        self.recheck_below = RECHECK_BELOW  # a face less sure than this: YuNet's recheck, if it has one (0: never)
        self.recheck_score = RECHECK_SCORE  # ... or one YuNet scores under this (0: never)
        self.turn_search = True  # a photo where no face is found: the detector searches it turned by each of those
        # the long side JPEGs are decoded reduced to (read_picture), from the detector's own setting
        self.detect_side = max(DETECT_MAX_SIDE, getattr(self.detector, "max_side", DETECT_MAX_SIDE))
        self.settings: dict[str, Any] = {}  # filled by from_pretrained
        self.backend = "onnx" if onnx_path else "torch"
        if onnx_path:
            from ..inference.runtime import OnnxRunner

            # A light network runs faster on one thread (its pool never spins between calls: that took
            # the cores from the face detector, docs/benchmarks.md section 14).
            # Its work: parameters (float32 weights: the graph's size / 4) times the views it averages.
            views = int((meta.get("config") or {}).get("tta_views", 0))
            work = Path(onnx_path).stat().st_size / 4 * (1 + views)
            self.runner = OnnxRunner(onnx_path, threads=threads if threads is not None else
                                     1 if work < LIGHT_PARAMS else 0)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = "default", device: str = "cpu", backend: str = "auto",
                        refine: int | None = None, detector: str = "yunet", min_score: float | None = None,
                        rotate: bool | None = None, detect_side: int | None = None, points: int = 15,
                        threads: int | None = None) -> KeypointDetector:
        """A bundled model by name (``default``, ``fast``) or a checkpoint (run folder, model.json or
        model.safetensors).

        ``backend``: ``onnx`` (onnxruntime, CPU), ``torch``, or ``auto`` (onnx on the CPU, torch on a
        GPU). ``detector``: ``yunet`` or ``haar``; faces scoring under ``min_score`` are never reported
        (None: the detector's default). ``detect_side``: the long side of the copy the detector sees
        (None: the model card's ``predict.detect_side`` for YuNet, else 256, closer while faces are small; 640
        for Haar; larger finds smaller faces, slower; a first look under 256 is checked at 256 where the
        network doubts a face).
        ``refine``: re-framing passes (None: 0 after YuNet, 1 after Haar). ``rotate``: turn tilted faces
        upright in the crop (None: as the model's training crops were, its card's ``input.upright``).
        ``points=68``: each face also gets ``landmarks68``, the 68 iBUG points (models with a 68-point
        head only). ``threads``: onnxruntime's threads for the network (None: 1 for a light network,
        else onnxruntime's choice) and for YuNet (None: onnxruntime's choice).
        The onnx backend exports the checkpoint once into the cache folder (keyed by its weights' hash).
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        kind = _device_type(device)
        if backend == "auto":
            backend = "onnx" if kind == "cpu" else "torch"
        if backend == "onnx" and kind != "cpu":
            raise ValueError(f"backend onnx runs on the CPU; use backend torch for device {device!r}")
        meta = read_card(name_or_path)
        if points == 68 and not has_68(meta):  # before any export
            raise ValueError(f"model {str(name_or_path)!r} has no 68-point head (it predicts the 15 Kaggle points "
                             "only); use points=15 or a model trained with aux68")
        model, onnx_path = None, None
        if backend == "onnx":
            onnx_path = _onnx_graph(name_or_path, meta, points)
        else:
            _need_torch("backend torch")
            from ..checkpoint import load_checkpoint
            from ..devices import pick_device

            model, meta = load_checkpoint(name_or_path, pick_device(device))
        sized = {"max_side": detect_side} if detect_side else _card_side(meta) if detector == "yunet" else {}
        if detector == "yunet" and threads:
            sized["threads"] = threads
        det = cls(model, meta, create_detector(detector, min_score, **sized), onnx_path=onnx_path, refine=refine,
                  rotate=rotate, points=points, threads=threads)
        # how to build this detector again (worker processes, Ray actors)
        det.settings = dict(name_or_path=str(name_or_path), device=str(device), backend=backend, refine=refine,
                            detector=detector, min_score=min_score, rotate=rotate, detect_side=detect_side,
                            points=points)
        return det

    def flip_pair(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model (with its views) on uint8 crops ``(N, S, S)`` and on their mirror images
        (left/right swapped back): two ``(N, P, 2)`` (P: 15, or 15 + 68 with ``points=68``), from
        ``TestTimeAugment.pair`` on either backend."""
        if self.backend == "onnx":
            a, b = self.runner(crops)[:, :, : self._num_out]  # a graph may carry the 68 too: the 15 come first
            return a, b
        import torch

        from ..warps import as_batch

        with torch.no_grad():
            device = next(self.model.parameters()).device
            x = as_batch(torch.as_tensor(np.ascontiguousarray(crops), device=device))
            a, b = self.net.pair(x)
        return a.float().cpu().numpy(), b.float().cpu().numpy()

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N, P, 2)`` (crop pixels; P: 15, or 15 then the 68 with ``points=68``) and the
        15 keypoints' confidences ``(N, 15)`` for uint8 crops ``(N, S, S)`` (a colour model's:
        ``(N, 3, S, S)``, ``crop_shape``)."""
        if len(crops) == 0:
            return np.zeros((0, self._num_out, 2), np.float32), np.zeros((0, NUM_KEYPOINTS), np.float32)
        if tuple(np.shape(crops)[1:]) != self.crop_shape:
            want = "x".join(map(str, self.crop_shape))
            raise ValueError(f"crops of shape {np.shape(crops)[1:]}: this model reads (N, {want}) uint8 crops "
                             f"({'grey' if self.channels == 1 else 'BGR planes'}, its checkpoint's input contract)")
        a, b = self.flip_pair(crops)
        d = np.sqrt(((a[:, :NUM_KEYPOINTS] - b[:, :NUM_KEYPOINTS]) ** 2).sum(-1))  # flip disagreement, crop pixels
        return 0.5 * (a + b), confidence(d, self.meta.get("confidence")).astype(np.float32)

    @property
    def _num_out(self) -> int:
        return NUM_WITH_68 if self.points == 68 else NUM_KEYPOINTS

    def _crop(self, pic: Picture, m: np.ndarray) -> np.ndarray:
        """The crop of framing ``m`` (full-image pixels): from the reduced decode when the crop
        shrinks the face at least that much anyway, else from the full image."""
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        if pic.factor > 1 and scale * pic.factor <= 1.0:
            return crop_affine(pic.image, compose_affine(m, pic.to_full()), self.size, self.channels)
        return crop_affine(pic.full(), m, self.size, self.channels)

    def _predict_framed(self, pic: Picture, framings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Image-pixel keypoints ``(N, P, 2)`` and confidences for faces cropped by ``framings``."""
        crops = np.stack([self._crop(pic, m) for m in framings]) if framings else \
            np.zeros((0, *self.crop_shape), np.uint8)
        kps, conf = self.predict_crops(crops)
        pts = [apply_affine(k, invert_affine(m)) for k, m in zip(kps, framings, strict=True)]
        return np.array(pts, np.float64).reshape(-1, self._num_out, 2), conf

    def __call__(self, image: Any) -> list[dict[str, Any]]:
        """Every face found: ``[{"box": [x1, y1, x2, y2], "score", "keypoints": {name: {"x", "y",
        "confidence"}}}]``, strongest first, in the image's pixels."""
        return self.detect_picture(read_picture(image, detect_side=self.detect_side))

    def video(self, source: str | Path | int | Any, settings: Any = None, **options: Any):
        """``(frame index, BGR frame, faces)`` for every frame of a video file, camera index or any
        ``cv2.VideoCapture`` source: faces tracked from frame to frame (each with its ``track``
        number), points steadied by the One Euro filter, as ``predict`` does for videos.
        ``settings`` (a ``photos.video.VideoSettings``) or its fields as keywords: ``track``,
        ``detect_every``, ``min_cutoff``, ``beta``, ``smooth`` (``photos.video``)."""
        from .video import VideoSettings, iter_video

        if settings is None:
            settings = VideoSettings(**options)
        elif options:
            raise ValueError("pass settings= or its fields as keywords, not both")
        return iter_video(self, source, settings)

    def detect(self, image: np.ndarray) -> list[dict[str, Any]]:
        """Every face in a decoded uint8 image, BGR or gray (see ``__call__``)."""
        return self.detect_picture(Picture(image))

    def detect_picture(self, pic: Picture) -> list[dict[str, Any]]:
        """Every face in a ``Picture`` (``detect.read_picture``), in full-image pixels."""
        return self.keypoints_for(pic, self.detections(pic))

    def detections(self, pic: Picture, side: int | None = None) -> Detections:
        """The face detector's answer for a ``Picture``, in full-image pixels (``side``: YuNet's first look,
        None: its own)."""
        found = self.detector(pic.image, side) if side else self.detector(pic.image)
        if pic.factor > 1:  # boxes and landmarks to full-image pixels
            r, c = float(pic.factor), (pic.factor - 1) / 2
            found = Detections(found.boxes * r + c, found.scores, found.landmarks * r + c)
        return found

    def predict_framed(self, pic: Picture, framings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Image-pixel points ``(N, P, 2)`` and the 15 confidences ``(N, 15)`` of the faces that
        ``framings`` (``(2, 3)`` image -> crop matrices, as ``Framer`` or ``template_matrix`` make) crop."""
        return self._predict_framed(pic, framings)

    def face_record(self, box: np.ndarray, score: float, points: np.ndarray, conf: np.ndarray) -> dict[str, Any]:
        """One face as the JSON records carry it (``box``, ``score``, ``keypoints``; ``landmarks68``)."""
        face = {
            "box": [round(float(v), 2) for v in box],
            "score": round(float(score), 4),
            "keypoints": {n: {"x": round(float(q[0]), 2), "y": round(float(q[1]), 2),
                              "confidence": round(float(k), 4)}
                          for n, q, k in zip(KEYPOINT_NAMES, points[:NUM_KEYPOINTS], conf, strict=True)},
        }
        if self.points == 68:  # iBUG order, image pixels, 0-based pixel centres
            face["landmarks68"] = [[round(float(x), 2), round(float(y), 2)] for x, y in points[NUM_KEYPOINTS:]]
        return face

    def keypoints_for(self, pic: Picture, found: Detections) -> list[dict[str, Any]]:
        """The 15 keypoints of each detected face."""
        if len(found) == 0 and self.turn_search and hasattr(self.detector, "search"):
            return self._turned_search(pic)
        framings = [self.framer.framing(b, lm) for b, lm in zip(found.boxes, found.landmarks, strict=True)]
        pts, conf = self._points(pic, framings)
        found, framings, pts, conf = self.rechecked(pic, found, framings, pts, conf)
        # Faces the network is unsure of (a head rolled further than YuNet's landmarks follow): the
        # detector looks again at each in views turned by TURN_DEGREES; where it is surer of the face
        # in one, the face is framed in that view as any detection is, and cropped from the photo.
        scores, out_boxes = found.scores.copy(), found.boxes.copy()
        leaning = eye_line_lean(pts) >= self.turn_lean if self.turn_lean > 0 else False
        unsure = (np.flatnonzero((conf.mean(1) < self.turn_below) | leaning | (found.scores < self.turn_score))
                  if hasattr(self.detector, "look") else [])
        to_image = invert_affine(pic.to_full())  # full-image pixels -> pic.image's
        boxes = {i: apply_affine(found.boxes[i].reshape(2, 2), to_image).reshape(-1) for i in unsure}

        def framing(seen: Look) -> np.ndarray:  # a face found in a turned view, framed in full-image pixels
            return compose_affine(self.framer.framing(seen.box, seen.landmarks), compose_affine(seen.view, to_image))

        def upright_box(seen: Look) -> np.ndarray:  # the box found in a turned view, upright in full-image pixels
            return turned_back(seen.box, invert_affine(compose_affine(seen.view, to_image)))

        moved = []
        for i in unsure:
            seen = self.turned_look(pic.image, boxes[i], float(scores[i]))
            if seen is not None:
                framings[i], scores[i], out_boxes[i] = framing(seen), seen.score, upright_box(seen)
                moved.append(i)
        if moved:
            pts[moved], conf[moved] = self._points(pic, [framings[i] for i in moved])
        # Faces still far from sure: framed in the views turned by RESCUE_DEGREES and predicted there; the view
        # where the network is surest wins, if by RESCUE_MARGIN surer than the face is now, and YuNet sees it there
        # about as well as now or better.
        lost = [i for i in unsure if conf[i].mean() < self.rescue_below]
        looks = [(i, seen) for i in lost for degrees in RESCUE_DEGREES
                 if (seen := self.detector.look(pic.image, boxes[i], degrees)) is not None]
        if looks:
            cpts, cconf = self._points(pic, [framing(seen) for _, seen in looks])
            sure = cconf.mean(1)
            for i in lost:
                k = max((k for k, (j, _) in enumerate(looks) if j == i), key=lambda k: sure[k], default=None)
                if (k is not None and sure[k] > conf[i].mean() + RESCUE_MARGIN
                        and looks[k][1].score >= scores[i] - RESCUE_TIE):
                    pts[i], conf[i], scores[i] = cpts[k], cconf[k], looks[k][1].score
                    out_boxes[i] = upright_box(looks[k][1])
        return [self.face_record(box, score, p, c)
                for box, score, p, c in zip(out_boxes, scores, pts, conf, strict=True)]

    def rechecked(self, pic: Picture, found: Detections, framings: list[np.ndarray], pts: np.ndarray,
                  conf: np.ndarray) -> tuple[Detections, list[np.ndarray], np.ndarray, np.ndarray]:
        """The faces (detections, framings, points, confidences) after the detector's look at the whole photo
        from its ``recheck_side``, made where some are in doubt: the network's mean confidence under
        ``recheck_below``, or YuNet's score under ``recheck_score``; as they were where none is, or the
        detector has no recheck side. A face found there that is a sure one (``SAME_FACE``) is dropped unseen;
        one that is a face in doubt replaces it where the network is surer of it; one that is neither is a
        face more. Strongest first, as detections are."""
        side = getattr(self.detector, "recheck_side", 0)
        if not side:
            return found, framings, pts, conf
        doubt = (conf.mean(1) < self.recheck_below) | (found.scores < self.recheck_score)
        if not doubt.any():
            return found, framings, pts, conf
        again = self.detections(pic, side)
        if (~doubt).any():
            again = again.keep(np.array([overlap(found.boxes[~doubt], b).max() < SAME_FACE for b in again.boxes],
                                        bool))
        if len(again) == 0:
            return found, framings, pts, conf
        new_framings = [self.framer.framing(b, lm) for b, lm in zip(again.boxes, again.landmarks, strict=True)]
        new_pts, new_conf = self._points(pic, new_framings)
        faces = list(zip(found.boxes, found.scores, found.landmarks, framings, pts, conf, strict=True))
        for k, face in enumerate(zip(again.boxes, again.scores, again.landmarks, new_framings, new_pts, new_conf,
                                     strict=True)):
            same = overlap(found.boxes, again.boxes[k]) * doubt
            if same.max(initial=0) < SAME_FACE:
                faces.append(face)  # a face the first look missed
            elif new_conf[k].mean() > faces[int(same.argmax())][5].mean():
                faces[int(same.argmax())] = face
        faces.sort(key=lambda f: -f[1])
        boxes, scores, landmarks, framings, pts, conf = (list(col) for col in zip(*faces, strict=True))
        return (Detections(np.array(boxes), np.array(scores), np.array(landmarks)), framings, np.array(pts),
                np.array(conf))

    def turned_look(self, image: np.ndarray, box: np.ndarray, score: float) -> Look | None:
        """The detector's best look (``YuNetDetector.look``) at the face in ``box`` (``image`` pixels) in
        views turned by ``turn_degrees``, if one scores above ``score`` (its upright detection), else None.
        Each side (counter-clockwise, clockwise) goes from the turn nearest upright outwards, and goes on
        only while its last turn scored about as well as upright or better (within ``TURN_TIE``): an
        upright face that is merely hard gets the two nearest turns, not all of them (docs/benchmarks.md,
        section 20)."""
        best, upright = None, score
        for side in (sorted(d for d in self.turn_degrees if d > 0), sorted((d for d in self.turn_degrees if d < 0),
                                                                            reverse=True)):
            for degrees in side:
                seen = self.detector.look(image, box, degrees)
                if seen is None or seen.score < upright - TURN_TIE:
                    break  # the head is not rolled this way: a further turn would not find it either
                if seen.score > score:
                    best, score = seen, seen.score
        return best

    def _turned_search(self, pic: Picture) -> list[dict[str, Any]]:
        """The faces of a photo where the detector found none upright: it searches the whole photo turned
        by each of TURN_DEGREES (a head rolled past what YuNet finds), and the turn where its best face
        scores highest gives the faces, each framed in that view and cropped from the photo. A face's
        box is the box found in the turned view, turned back upright (``turned_back``)."""
        looks: list = []
        for degrees in self.turn_degrees:
            seen = self.detector.search(pic.image, degrees)
            if seen and (not looks or seen[0].score > looks[0].score):
                looks = seen
        if not looks:
            return []
        to_view = compose_affine(looks[0].view, invert_affine(pic.to_full()))  # full-image pixels -> view's
        framings = [compose_affine(self.framer.framing(lk.box, lk.landmarks), to_view) for lk in looks]
        pts, conf = self._points(pic, framings)
        back = invert_affine(to_view)
        return [self.face_record(turned_back(lk.box, back), lk.score, p, c)
                for lk, p, c in zip(looks, pts, conf, strict=True)]

    def _points(self, pic: Picture, framings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Image-pixel points and confidences of the faces ``framings`` crop, after the re-framing passes."""
        framings = list(framings)
        pts, conf = self._predict_framed(pic, framings)
        # Re-frame: fit the training framing (data convert's template) to the points just
        # found and predict again, so the crop matches the training faces.
        for _ in range(self.refine):
            for i, p in enumerate(pts):
                try:
                    framings[i] = resize_framing(template_matrix(p[:NUM_KEYPOINTS], self.rotate), self.size)
                except ValueError:
                    pass  # degenerate points: keep the previous framing for this face
            pts, conf = self._predict_framed(pic, framings)
        # Faces whose crop misses their points (a tilted head, a loose box): framed from the points, again.
        for _ in range(self.reframe_passes):
            moved = []
            for i, (p, m) in enumerate(zip(pts, framings, strict=True)):
                try:
                    better = resize_framing(template_matrix(p[:NUM_KEYPOINTS], rotate=True), self.size)
                except ValueError:
                    continue  # mirrored or collapsed points: keep the framing this face has
                if drift(m, better, self.size) > self.reframe_limit:
                    framings[i] = better
                    moved.append(i)
            if not moved:
                break
            again, conf_again = self._predict_framed(pic, [framings[i] for i in moved])
            pts[moved], conf[moved] = again, conf_again
        return pts, conf


def eye_line_lean(points: np.ndarray) -> np.ndarray:
    """How far each face's eye line leans from level, in degrees (0 upright, 180 upside down), from its
    points (faces x points x 2, the 15 Kaggle points first, image pixels with y down)."""
    a, b = EYE_CENTERS  # the face's left eye sits on the image's right in an upright face
    d = points[:, a] - points[:, b]
    return np.abs(np.degrees(np.arctan2(d[:, 1], d[:, 0])))


def turned_back(box: np.ndarray, m: np.ndarray) -> np.ndarray:
    """A box found in a turned view, turned back upright about its centre: its centre mapped by the similarity
    ``m`` (view -> image pixels), its sides scaled by ``m``'s scale and swapped where ``m`` turns by more than
    45 degrees (the bounds of its turned corners would be up to 1.4 times as large as the face)."""
    box = np.asarray(box, np.float64)
    centre = apply_affine(((box[:2] + box[2:]) / 2)[None], m)[0]
    half = (box[2:] - box[:2]) / 2 * np.sqrt(abs(np.linalg.det(m[:, :2])))
    if abs(m[0, 1]) > abs(m[0, 0]):
        half = half[::-1]
    return np.concatenate((centre - half, centre + half))


def drift(framing: np.ndarray, other: np.ndarray, size: int) -> float:
    """How far the ``size``-px crop of ``framing`` moves when framed by ``other`` instead (both image ->
    crop matrices): the largest shift of one of its corners, as a share of its side."""
    corners = np.array([[0.0, 0.0], [size - 1, 0.0], [0.0, size - 1], [size - 1, size - 1]])
    moved = apply_affine(apply_affine(corners, invert_affine(framing)), other)
    return float(np.abs(moved - corners).max() / size)


def _device_type(device: str) -> str:
    """``cpu`` or ``cuda`` for a device name; ``cpu`` and (without torch) ``auto`` need no torch."""
    if str(device) == "cpu":
        return "cpu"
    try:
        from ..devices import pick_device
    except ImportError:
        if str(device) == "auto":
            return "cpu"
        raise ValueError(f"device {device!r} needs PyTorch, which is not installed (the CPU path runs without "
                         "it): pip install 'facekeypoints[train]'") from None
    return pick_device(device).type


def _need_torch(what: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ValueError(f"{what} needs PyTorch, which is not installed (the CPU path runs on onnxruntime "
                         "without it): pip install 'facekeypoints[train]'") from None


def _onnx_graph(name_or_path: str | Path, meta: dict[str, Any], points: int) -> Path:
    """The ONNX pair graph for a checkpoint: the one a bundled model ships with (its card's ``onnx``),
    else the one exported into the cache (keyed by the weights' hash), exporting it once (torch)."""
    shipped = meta.get("onnx")
    if shipped and (points == NUM_KEYPOINTS or shipped.get("points") == NUM_WITH_68):
        card = resolve_checkpoint(name_or_path)
        path = card.parent / shipped["file"]
        if not path.exists():
            raise CheckpointError(f"{path}: the ONNX graph named in {card.name} is missing")
        if sha256_file(path) != shipped.get("sha256"):
            raise CheckpointError(f"{path}: does not match the sha256 in its card (truncated or replaced?)")
        return path
    views = int((meta.get("config") or {}).get("tta_views", 0))
    tag = "-68" if points == 68 else ""
    path = cache_dir() / "onnx" / f"{meta['weights_sha256'][:24]}-v{views}-pair{tag}.onnx"
    if not path.exists():
        _need_torch(f"exporting {name_or_path} to ONNX (done once, then cached)")
        from ..inference.export import export_onnx

        print(f"facekeypoints: exporting {name_or_path} to ONNX once, cached as {path}", file=sys.stderr)
        export_onnx(name_or_path, path, pair=True, all_points=points == 68)
    return path
