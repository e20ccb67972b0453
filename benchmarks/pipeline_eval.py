"""Whole-pipeline accuracy and speed on original photos, ours vs. MediaPipe face mesh, one run.

    python benchmarks/pipeline_eval.py --model default --src ../shared/data/youtube-faces-68 \\
        --data data/yt15 --peer-python /work/peers-venv/bin/python

For every face of the YT15 `paper` split's test part (``--part all``: every face of the
source, e.g. for detection rates on wild-68), the original image file goes through
``KeypointDetector`` once per ``--variants`` entry ``DETECTOR:FRAMING:REFINE``: detector
``yunet`` or ``haar`` (``yunet@640``: the long side the detector sees); framing ``lm`` (scale +
shift from the 5 landmarks), ``lmc`` (the same, through the fitted correction to the 4 framing
keypoints: the default), ``rot``/``rotc`` (the same with rotation) or ``box`` (the calibrated
box); ``lm``/``lmc`` keep the model's own rotation (its card's ``input.upright``, as ``predict``);
``REFINE`` re-framing passes of every face; an optional fourth field ``:PASSES`` sets the re-framings of
faces whose crop misses their points (``predict``'s ``REFRAME_PASSES`` unless given; 0: none; ``2@0.12``:
2 passes for crops that would move by over 12% of their side, else ``REFRAME_LIMIT``). ``--part val``
scores the split's validation faces: framings are chosen there, never on the test faces. A face counts
as detected when a box overlaps its 68-point box with IoU >= 0.2; its NME is computed in original-image pixels against
the 15 keypoints mapped from its 68 (normalised by the outer-eye-corner distance); boxes that
overlap no annotated face are counted as extra boxes (often real faces nobody annotated); ours also report
how well the boxes cover the faces (``box_iou_median``: each face's best IoU, 0 where none; and how many faces
are under 0.3). Times
are per image from the file's bytes (decode included; model load reported apart). The same model
on the ideal crops of ``data convert`` (framed from the true landmarks) shows what the framing costs.
``--roll DEG`` turns every photo in its plane first (by +DEG and -DEG, photo after photo, about its
centre, on a canvas grown to hold it all, black outside; lossless PNG; the true points turned alike):
how a model copes with heads tilted further than its training faces are.

With ``--peer-python`` (a venv with ``pip install mediapipe==0.10.14``, the ``[peers]`` extra;
it cannot share a venv with opencv-python-headless), the same images go through MediaPipe's
face mesh (``benchmarks/mediapipe_worker.py``), its 468 points mapped to the 15 by the
table below. With ``--dlib-python`` and ``--dlib-model`` (a venv with ``dlib-bin``, and dlib's
``shape_predictor_68_face_landmarks.dat``, which may not be bundled), they also go through dlib's HOG detector
and 68-point predictor (``benchmarks/dlib_worker.py``), scored over the 15 points mapped from its 68 as the
truth's are, and over all 68. A peer's face box is the bounds of its points. Every system's
``mean_offset`` is its mean signed (x, y) error in outer-eye-corner distances: a peer whose points sit in
another pixel convention shows there (half a pixel is about 0.01 on a 50-px eye distance). Times are
for detection + landmarks on an already decoded image. Prints one JSON object (and writes it to ``--out``).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from facekeypoints.data import load_training, make_split
from facekeypoints.data.landmarks68 import decode_image, iter_faces
from facekeypoints.evaluation.metrics import nme_per_face
from facekeypoints.fileio import atomic_write_json
from facekeypoints.inference.crops import device_name
from facekeypoints.keypoints import KEYPOINT_NAMES, map_68_to_15
from facekeypoints.photos.detect import Framer, box_iou

# MediaPipe face-mesh vertices that make each Kaggle keypoint (averaged). "Left" is the
# subject's left, as in Kaggle: mesh 263/362 are the subject's left eye's outer/inner corners.
MEDIAPIPE_TO_15: dict[str, tuple[int, ...]] = {
    "left_eye_center": (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
    "right_eye_center": (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    "left_eye_inner_corner": (362,),
    "left_eye_outer_corner": (263,),
    "right_eye_inner_corner": (133,),
    "right_eye_outer_corner": (33,),
    "left_eyebrow_inner_end": (336, 285),
    "left_eyebrow_outer_end": (300, 276),
    "right_eyebrow_inner_end": (107, 55),
    "right_eyebrow_outer_end": (70, 46),
    "nose_tip": (1,),
    "mouth_left_corner": (291,),
    "mouth_right_corner": (61,),
    "mouth_center_top_lip": (0,),
    "mouth_center_bottom_lip": (17,),
}


# The gates that send a face to predict's turned looks: option (= KeypointDetector attribute), top of its range, what
TURN_GATES = (("turn_below", 1, "a confidence"), ("turn_lean", 180, "an angle in degrees"),
              ("turn_score", 1, "a detector score"))


def _ious(boxes: np.ndarray, truth68: np.ndarray) -> np.ndarray:
    """IoU of each output box with the true face's 68-point box."""
    return box_iou(np.asarray(boxes, np.float64).reshape(-1, 4), np.r_[truth68.min(0), truth68.max(0)])


def _match(faces_pts: list[np.ndarray], boxes: np.ndarray, truth68: np.ndarray) -> np.ndarray | None:
    """The predicted 15 points of the face whose box best overlaps the true face (IoU >= 0.2)."""
    if len(boxes) == 0:
        return None
    iou = _ious(boxes, truth68)
    return faces_pts[int(np.argmax(iou))] if iou.max() >= 0.2 else None


def _extra_all(boxes: np.ndarray, truths68: list[np.ndarray]) -> int:
    """Boxes that overlap none of a photo's annotated faces (IoU < 0.2 with each 68-point box)."""
    if len(boxes) == 0:
        return 0
    return int((np.max([_ious(boxes, t) for t in truths68], 0) < 0.2).sum())


MOSAIC_SCALES = (1.0, 0.7, 0.5)  # tile after tile of a --mosaic photo: faces of three sizes side by side


def _mosaic(photos: list[tuple[bytes, np.ndarray]], k: int) -> tuple[bytes, list[np.ndarray]]:
    """``k * k`` photos as one JPEG (quality 92): a grid of cells the size of the largest photo, tile ``i``
    shrunk by ``MOSAIC_SCALES[i % 3]`` and centred in its cell (black around); and each face's 68 points
    (0-based pixel centres) moved alike. A group photo with faces of several sizes, for detection rates."""
    from PIL import Image

    images = [Image.fromarray(decode_image(raw, "photo")[..., ::-1]) for raw, _ in photos]
    cell = max(max(im.size) for im in images)
    canvas = Image.new("RGB", (k * cell, k * cell))
    placed = []
    for i, (im, (_, pts)) in enumerate(zip(images, photos, strict=True)):
        s = MOSAIC_SCALES[i % len(MOSAIC_SCALES)]
        w, h = max(1, round(im.width * s)), max(1, round(im.height * s))
        x0 = (i % k) * cell + (cell - w) // 2
        y0 = (i // k) * cell + (cell - h) // 2
        canvas.paste(im.resize((w, h), Image.BILINEAR, reducing_gap=None) if s != 1 else im, (x0, y0))
        sx, sy = w / im.width, h / im.height  # pixel centres: (p + 0.5) * s - 0.5, then the tile's offset
        placed.append(np.c_[(pts[:, 0] + 0.5) * sx - 0.5 + x0, (pts[:, 1] + 0.5) * sy - 0.5 + y0])
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=92)
    return buf.getvalue(), placed


def yaw_proxy(truths68: list[np.ndarray]) -> np.ndarray:
    """How turned each face is, from its true points: how far the nose tip (30) sits from the middle of
    the outer eye corners (36, 45), relative to their distance. 0 frontal; with the nose tip about 0.6
    eye-corner half-widths in front of them, 0.6 tan(yaw): about 0.2 at 20 degrees, 0.35 at 30, 0.6 at 45."""
    t = np.asarray(truths68)
    a, b = np.abs(t[:, 30, 0] - t[:, 36, 0]), np.abs(t[:, 45, 0] - t[:, 30, 0])
    return np.abs(a - b) / np.maximum(a + b, 1e-6)


def turned(proxy: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """Indices of the ``fraction`` most turned faces, by their ``yaw_proxy``."""
    return np.argsort(-proxy)[: max(1, int(round(fraction * len(proxy))))]


YAW_BINS = (0.0, 0.2, 0.35, 0.5, np.inf)  # yaw_proxy bins: about 0-20, 20-30, 30-40, over 40 degrees


def _by_yaw(nme: np.ndarray, found: list[int], proxy: np.ndarray) -> dict:
    """Mean NME and face count per ``YAW_BINS`` bin of the found faces."""
    out = {}
    for lo, hi in zip(YAW_BINS[:-1], YAW_BINS[1:], strict=True):
        picked = [k for k, i in enumerate(found) if lo <= proxy[i] < hi]
        out[f"{lo:g}-{hi:g}"] = {"faces": len(picked),
                                 "nme": round(float(np.nanmean(nme[picked])), 4) if picked else None}
    return out


PER_FACE = "_nme_per_face"  # kept by _score for _on_common_faces, not printed


def _per_face(nme: np.ndarray, found: list[int], n: int) -> np.ndarray:
    """Each face's NME, NaN where it was not found."""
    out = np.full(n, np.nan)
    out[found] = nme
    return out


def _on_common_faces(result: dict) -> dict | None:
    """Where systems found different faces: each system's NME and face count over the faces every one of them
    found (a system that misses hard faces would otherwise gain on the mean); None for one system. Takes the
    per-face NMEs out of ``result``."""
    per = {k: v.pop(PER_FACE) for k, v in result.items() if isinstance(v, dict) and PER_FACE in v}
    if len(per) < 2:
        return None
    common = np.all([np.isfinite(v) for v in per.values()], axis=0)
    return {"faces": int(common.sum()), **{k: float(np.nanmean(v[common])) if common.any() else None
                                           for k, v in per.items()}}


def _score(preds: list[np.ndarray | None], truths: list[np.ndarray], ms: list[float],
           proxy: np.ndarray | None = None) -> dict:
    """Found share, NME, failures and times; with ``proxy`` (``yaw_proxy`` of every face) also the most
    turned fifth's NME and the NME by ``YAW_BINS``."""
    found = [i for i, p in enumerate(preds) if p is not None]
    nme = nme_per_face(np.array([preds[i] for i in found]).reshape(-1, 15, 2),
                       np.array([truths[i] for i in found]).reshape(-1, 15, 2))
    hard_nme = None
    if proxy is not None and found:
        pos = {f: k for k, f in enumerate(found)}
        picked = [pos[i] for i in turned(proxy) if i in pos]
        hard_nme = float(np.nanmean(nme[picked])) if picked else None
    per_kp, offset = {}, None
    if found:
        diff = np.array([preds[i] for i in found]) - np.array([truths[i] for i in found])
        err = np.linalg.norm(diff, axis=-1)
        eye = np.linalg.norm(np.array([truths[i][3] - truths[i][5] for i in found]), axis=-1)
        per_kp = {n: round(float(np.nanmean(err[:, k] / eye)), 4) for k, n in enumerate(KEYPOINT_NAMES)}
        offset = [round(float(v), 4) for v in np.nanmean(diff / eye[:, None, None], axis=(0, 1))]
    return {"detected": len(found), "detection_rate": len(found) / max(1, len(preds)),
            "nme": float(np.nanmean(nme)) if found else None,
            "nme_most_turned_20pct": hard_nme,
            "failure_rate": float((nme > 0.1).mean()) if found else None,
            "ms_per_image_p50": float(np.median(ms)), "ms_per_image_mean": float(np.mean(ms)),
            "nme_per_keypoint": per_kp,
            "mean_offset": offset,  # mean signed (x, y) error / eye-corner distance: a shifted pixel convention shows
            "nme_by_yaw_proxy": _by_yaw(nme, found, proxy) if proxy is not None and found else None,
            PER_FACE: _per_face(nme, found, len(preds))}


def _rolled(raw: bytes, points68: np.ndarray, degrees: float) -> tuple[bytes, np.ndarray]:
    """A photo turned by ``degrees`` (counter-clockwise as seen) about its centre, on a canvas that holds
    all of it (black outside), as PNG bytes; and its 68 points (0-based pixel centres) turned alike."""
    import cv2

    image = decode_image(raw, "photo")  # as stored: the grid the points refer to (no EXIF turn)
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    a = np.radians(degrees)
    side_w = int(np.ceil(abs(w * np.cos(a)) + abs(h * np.sin(a))))
    side_h = int(np.ceil(abs(w * np.sin(a)) + abs(h * np.cos(a))))
    m[:, 2] += ((side_w - 1) / 2 - (w - 1) / 2, (side_h - 1) / 2 - (h - 1) / 2)  # centre to centre
    turned_image = cv2.warpAffine(image, m, (side_w, side_h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    ok, png = cv2.imencode(".png", turned_image)
    if not ok:
        raise ValueError("could not encode a turned photo as PNG")
    return png.tobytes(), np.asarray(points68, np.float64) @ m[:, :2].T + m[:, 2]


def _shrunk(raw: bytes, points68: np.ndarray, side: float) -> tuple[bytes, np.ndarray]:
    """A photo scaled down (area-averaged) until its face's 68-point box is ``side`` px wide, as JPEG bytes
    (quality 92, as a small face in a real photo is stored); and its 68 points moved alike. A face
    already that small is kept as it is."""
    import cv2

    points68 = np.asarray(points68, np.float64)
    s = min(1.0, side / max(1e-6, float(np.ptp(points68[:, 0]))))
    if s == 1.0:
        return raw, points68
    image = decode_image(raw, "photo")
    h, w = image.shape[:2]
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    ok, jpg = cv2.imencode(".jpg", cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA),
                           [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise ValueError("could not encode a shrunk photo as JPEG")
    return jpg.tobytes(), np.c_[(points68[:, 0] + 0.5) * nw / w - 0.5, (points68[:, 1] + 0.5) * nh / h - 0.5]


def _nme68(preds: list[np.ndarray | None], truths68: list[np.ndarray]) -> float | None:
    """Mean over found faces of the mean 68-point error / outer-eye-corner distance (points 36, 45)."""
    per = [np.linalg.norm(p - t, axis=-1).mean() / np.linalg.norm(t[36] - t[45])
           for p, t in zip(preds, truths68, strict=True) if p is not None]
    return float(np.mean(per)) if per else None


def _counted(obj: object, name: str) -> list:
    """Count the calls of ``obj.name`` (an instance's method, wrapped in place): the list grows by one a call."""
    calls: list = []
    fn = getattr(obj, name, None)
    if fn is not None:
        def wrapper(*a, **k):
            calls.append(1)
            return fn(*a, **k)
        setattr(obj, name, wrapper)
    return calls


def _peer(worker: list[str], extra_args: list[str], version_key: str, to_15, files: list[Path],
          faces_in: list[list[int]], truths: list[np.ndarray], truths68: list[np.ndarray], proxy: np.ndarray,
          tmp: Path, points68: bool = False) -> dict:
    """Score a peer system on the same photos: ``worker`` (its python and script) reads the list of files and
    writes per image its faces' points; ``to_15`` maps one face's points to the 15 Kaggle keypoints; a face's
    box is the bounds of its points. ``points68``: the peer gives the 68 iBUG points, scored over all 68 too."""
    lst, out = tmp / "list.txt", tmp / f"{version_key}.json"
    lst.write_text("\n".join(str(f) for f in files))
    done = subprocess.run([*worker, str(lst), str(out), *extra_args], stderr=subprocess.PIPE, text=True)
    if done.returncode:  # its stderr is kept back otherwise (MediaPipe logs a lot)
        raise SystemExit(f"pipeline_eval: {Path(worker[1]).name} under {worker[0]} failed (exit {done.returncode}):\n"
                         + "\n".join(done.stderr.strip().splitlines()[-8:]))
    peer = json.loads(out.read_text())
    preds, preds68, ms, extra = [], [], [], 0
    for rec, which in zip(peer["images"], faces_in, strict=True):
        faces = [np.asarray(f, np.float64) for f in rec["faces"]]
        boxes = np.array([np.r_[f.min(0), f.max(0)] for f in faces]).reshape(-1, 4)
        preds.extend(_match([to_15(f) for f in faces], boxes, truths68[i]) for i in which)
        preds68.extend(_match(faces, boxes, truths68[i]) for i in which)
        ms.append(rec["ms_total"])
        extra += _extra_all(boxes, [truths68[i] for i in which])
    scored = {"version": peer[version_key], **_score(preds, truths, ms, proxy), "extra_boxes": extra,
              "load_ms": peer["load_ms"], "ms_without_decode_p50": float(np.median([r["ms"] for r in peer["images"]]))}
    if points68:
        scored["nme68"] = _nme68(preds68, truths68)
    return scored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="bundled name or checkpoint (default: default)")
    ap.add_argument("--src", required=True, help="68-point source folder")
    ap.add_argument("--data", help="its converted folder (needed for --part test)")
    ap.add_argument("--part", default="test", choices=("test", "val", "all"),
                    help="YT15 paper test or validation part, or every face of --src")
    ap.add_argument("--variants", default="haar:box:1,yunet:lm:0,yunet:lmc:0,yunet:lmc:1,yunet:rotc:0",
                    help="DETECTOR:FRAMING:REFINE entries to compare, comma-separated "
                         "(default: haar:box:1,yunet:lm:0,yunet:lmc:0,yunet:lmc:1,yunet:rotc:0)")
    ap.add_argument("--backend", default="onnx", choices=("onnx", "torch"), help="model runtime (default: onnx)")
    ap.add_argument("--peer-python", help="python of a venv with mediapipe==0.10.14")
    ap.add_argument("--dlib-python", help="python of a venv with dlib-bin (see dlib_worker.py), with --dlib-model")
    ap.add_argument("--dlib-model", metavar="DAT", help="dlib's shape_predictor_68_face_landmarks.dat")
    ap.add_argument("--dlib-upsample", type=int, metavar="N",
                    help="times dlib's HOG detector upsamples each photo (default 1: faces down to about 40 px)")
    ap.add_argument("--faces-of", metavar="DIR",
                    help="only the faces a converted folder holds (its meta.csv sources), e.g. the --holdout-dir "
                         "of `data convert`: held-out photo ids of a wild set")
    ap.add_argument("--points", type=int, default=15, choices=(15, 68),
                    help="68: also score the 68 points (NME over all 68, outer-eye-corner distance 36-45)")
    ap.add_argument("--roll", type=float, default=0.0, metavar="DEG",
                    help="turn each photo by +DEG / -DEG (alternately) in its plane first (default 0: as it is)")
    ap.add_argument("--turns", default="all", choices=("all", "looks", "none"),
                    help="predict's turned views: all (default: looks for unsure faces, the turned search of a "
                         "photo with no face found), looks (no search) or none")
    ap.add_argument("--turn-below", type=float, metavar="CONF",
                    help="faces with a mean confidence under this get the turned looks (default: predict.TURN_BELOW)")
    ap.add_argument("--turn-lean", type=float, metavar="DEG",
                    help="faces whose points' eye line leans this many degrees or more get the turned looks too "
                         "(default: predict.TURN_LEAN; 0: never)")
    ap.add_argument("--turn-score", type=float, metavar="SCORE",
                    help="faces YuNet scores under this get the turned looks too "
                         "(default: predict.TURN_SCORE; 0: never)")
    ap.add_argument("--mosaic", type=int, default=0, metavar="K",
                    help="K >= 2: group photos, each a K x K grid of the photos (faces of three sizes, see _mosaic), "
                         "for detection rates on small faces beside large ones (default 0: each photo as it is)")
    ap.add_argument("--face-side", type=float, metavar="PX",
                    help="scale each photo down until its face is PX px wide (68-point box), saved as JPEG: small "
                         "faces, for precision where a crop is scaled up (default: each photo as it is)")
    ap.add_argument("--rescue-below", type=float, metavar="CONF",
                    help="faces still under this after the turned looks are framed in the views turned by "
                         "predict.RESCUE_DEGREES (default: predict.RESCUE_BELOW; 0: never)")
    ap.add_argument("--recheck", type=float, nargs=2, metavar=("CONF", "SCORE"),
                    help="a first look under YuNet's recheck side (fast: 160 px) is looked at again from it where a "
                         "face's mean confidence is under CONF or YuNet's score under SCORE (default: "
                         "predict.RECHECK_BELOW, RECHECK_SCORE; 0 0: never)")
    ap.add_argument("--limit", type=int, help="only the first N faces (a quick look)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args()
    for name, path in (("--src", args.src), ("--data", args.data), ("--faces-of", args.faces_of)):
        if path is not None and not Path(path).exists():
            ap.error(f"{name} {path}: no such file or folder")
    for gate, top, what in TURN_GATES:
        value = getattr(args, gate)
        if value is not None and (args.turns == "none" or not 0 <= value <= top):
            ap.error(f"--{gate.replace('_', '-')} is {what} in [0, {top}], for --turns all or looks (none makes no "
                     "turned looks)")
    if args.recheck is not None and not all(0 <= v <= 1 for v in args.recheck):
        ap.error("--recheck takes a confidence and a detector score, each in [0, 1]")
    if args.mosaic and (args.mosaic < 2 or args.roll):
        ap.error("--mosaic K takes K >= 2, and not with --roll")
    if args.face_side is not None and (args.face_side < 8 or args.roll or args.mosaic):
        ap.error("--face-side takes 8 px or more, and not with --roll or --mosaic")
    for name, path in (("--peer-python", args.peer_python), ("--dlib-python", args.dlib_python)):
        if path is not None and not Path(path).is_file():
            ap.error(f"{name} {path}: no such file (the python of the peer's venv, e.g. VENV/bin/python)")
    if (args.dlib_python is None) != (args.dlib_model is None):
        ap.error("--dlib-python and --dlib-model go together: the venv with dlib-bin and the predictor's .dat file")
    if args.dlib_model is not None and not Path(args.dlib_model).is_file():
        ap.error(f"--dlib-model {args.dlib_model}: no such file")
    if args.dlib_upsample is not None and (args.dlib_upsample < 0 or args.dlib_python is None):
        ap.error("--dlib-upsample takes 0 or more, with --dlib-python and --dlib-model (it sets dlib's detector)")
    if args.part in ("test", "val") and args.data is None:
        ap.error(f"--part {args.part} needs --data (the converted folder of --src)")

    from facekeypoints.evaluation.evaluate import evaluate
    from facekeypoints.photos.predict import KeypointDetector

    keep = None
    if args.part in ("test", "val"):
        ds = load_training(args.data)
        meta = pd.read_csv(f"{args.data}/meta.csv", usecols=["source"], keep_default_na=False)
        keep = set(meta["source"].iloc[make_split(len(ds), "paper", 0, ds.identities)[args.part]])
    if args.faces_of:
        keep = set(pd.read_csv(f"{args.faces_of}/meta.csv", usecols=["source"], keep_default_na=False)["source"])
    tmp = Path(tempfile.mkdtemp(prefix="fkp-pipeline-"))
    names, truths68, files, faces_in = [], [], [], []  # faces_in[i]: the indices of photo i's annotated faces
    chunk: list[tuple[bytes, np.ndarray]] = []
    for face in iter_faces(args.src):
        if keep is not None and face.name not in keep:
            continue
        raw, points = face.read(), face.points
        if args.face_side:
            raw, points = _shrunk(raw, points, args.face_side)
        if args.roll:
            raw, points = _rolled(raw, points, args.roll if len(files) % 2 == 0 else -args.roll)
        names.append(face.name)
        if args.mosaic:
            chunk.append((raw, points))
            if len(chunk) == args.mosaic ** 2:
                raw, placed = _mosaic(chunk, args.mosaic)
                faces_in.append(list(range(len(truths68), len(truths68) + len(placed))))
                truths68.extend(placed)
                chunk = []
            else:
                continue
        else:
            faces_in.append([len(truths68)])
            truths68.append(points)
        suffix = '.png' if args.roll else '.jpg' if args.mosaic or args.face_side else Path(face.name).suffix
        path = tmp / f"{len(files):05d}{suffix}"
        path.write_bytes(raw)
        files.append(path)
        if args.limit and len(truths68) >= args.limit:
            break
    truths = [map_68_to_15(p) for p in truths68]
    proxy = yaw_proxy(truths68)  # the most turned fifth of the faces is scored on its own, every face by its turn
    raws = [f.read_bytes() for f in files]
    result: dict = {"faces": len(truths68), "photos": len(files), "mosaic": args.mosaic,
                    "source": args.src, "part": args.part, "faces_of": args.faces_of,
                    "roll_degrees": args.roll,
                    "turns": args.turns, "turn_below": args.turn_below, "turn_lean": args.turn_lean,
                    "turn_score": args.turn_score,
                    "rescue_below": args.rescue_below,
                    "recheck": args.recheck,
                    "model": args.model,
                    "backend": args.backend,
                    "device": device_name("cpu")}

    for variant in args.variants.split(","):
        detector, framing, refine, *reframe = variant.split(":")
        detector, _, side = detector.partition("@")  # yunet@640: the detector sees 640 px
        t0 = time.perf_counter()
        det = KeypointDetector.from_pretrained(args.model, backend=args.backend, refine=int(refine),
                                               detector=detector,
                                               rotate=True if framing.startswith("rot") else None,
                                               detect_side=int(side) if side else None, points=args.points)
        load_ms = 1000 * (time.perf_counter() - t0)
        for gate, _, _ in TURN_GATES:  # predict's attributes of the same names; none given with --turns none
            if args.turns == "none" or getattr(args, gate) is not None:
                setattr(det, gate, 0.0 if args.turns == "none" else getattr(args, gate))
        det.turn_search = args.turns == "all"
        given = [f"--{o.replace('_', '-')}" for o in [g for g, _, _ in TURN_GATES] + ["rescue_below"]
                 if getattr(args, o) is not None]
        if given and not hasattr(det.detector, "look"):
            print(f"pipeline_eval: {', '.join(given)}: not applied to {variant}: its detector makes no turned "
                  "looks (YuNet's do)", file=sys.stderr)
        runs = _counted(det.detector, "decode")  # YuNet's runs (every look of every kind): a time proxy
        if args.rescue_below is not None:
            det.rescue_below = args.rescue_below
        if args.recheck is not None:
            det.recheck_below, det.recheck_score = args.recheck
            if not getattr(det.detector, "recheck_side", 0):
                print(f"pipeline_eval: --recheck does not apply to {variant}: its detector's first look is not "
                      "under the recheck side (detect.RECHECK_SIDE)", file=sys.stderr)
        if reframe:
            passes, _, limit = reframe[0].partition("@")
            try:
                det.reframe_passes, det.reframe_limit = int(passes), float(limit) if limit else det.reframe_limit
            except ValueError:
                ap.error(f"--variants {variant!r}: the fourth field is PASSES or PASSES@SHARE, e.g. 2@0.12")
            if det.reframe_passes < 0 or not 0 < det.reframe_limit <= 1:
                ap.error(f"--variants {variant!r}: PASSES must be 0 or more and SHARE in (0, 1]")
        if framing == "box":
            f = det.framer
            det.framer = (Framer(f.k, f.u, f.v, size=det.size) if detector != "haar"
                          else Framer.load("haar", size=det.size))
        elif framing in ("lm", "rot"):
            det.framer = Framer.load(detector, rotate=det.rotate, correct=False, size=det.size)
        det(raws[0])  # warm-up
        runs.clear()
        preds, preds68, ms, extra, best_iou = [], [], [], 0, []
        for raw, which in zip(raws, faces_in, strict=True):
            t0 = time.perf_counter()
            faces = det(raw)
            ms.append(1000 * (time.perf_counter() - t0))
            pts = [np.array([[f["keypoints"][n]["x"], f["keypoints"][n]["y"]] for n in KEYPOINT_NAMES]) for f in faces]
            boxes = np.array([f["box"] for f in faces]).reshape(-1, 4)
            for i in which:
                preds.append(_match(pts, boxes, truths68[i]))
                best_iou.append(float(_ious(boxes, truths68[i]).max()) if len(boxes) else 0.0)
                if args.points == 68:
                    preds68.append(_match([np.array(f["landmarks68"]) for f in faces], boxes, truths68[i]))
            extra += _extra_all(boxes, [truths68[i] for i in which])
        result[f"ours_{variant}"] = {**_score(preds, truths, ms, proxy), "extra_boxes": extra, "load_ms": load_ms,
                                     # how well each face's output box covers its 68-point box
                                     "box_iou_median": float(np.median(best_iou)),
                                     "boxes_iou_under_0.3": int((np.array(best_iou) < 0.3).sum()),
                                     "detector_runs_per_image": len(runs) / len(raws) if hasattr(det.detector, "decode")
                                     else None}
        if args.points == 68:
            result[f"ours_{variant}"]["nme68"] = _nme68(preds68, truths68)
    if args.part in ("test", "val"):
        ideal = evaluate(args.model, args.data, "paper", args.part, plots=False)
        result["ours_ideal_crops"] = {k: ideal[k] for k in ("rmse", "nme", "failure_rate", "n_faces")}

    if args.peer_python:
        result["mediapipe_face_mesh"] = _peer(
            [args.peer_python, str(Path(__file__).with_name("mediapipe_worker.py"))], [], "mediapipe",
            lambda face: np.stack([np.mean(face[list(MEDIAPIPE_TO_15[n])], 0) for n in KEYPOINT_NAMES]),
            files, faces_in, truths, truths68, proxy, tmp)
    if args.dlib_python:
        upsample = 1 if args.dlib_upsample is None else args.dlib_upsample
        result["dlib"] = _peer([args.dlib_python, str(Path(__file__).with_name("dlib_worker.py"))],
                               [args.dlib_model, str(upsample)], "dlib", map_68_to_15,
                               files, faces_in, truths, truths68, proxy, tmp, points68=True)
    result["nme_on_common_faces"] = _on_common_faces(result)
    result["python"] = sys.version.split()[0]
    print(json.dumps(result))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
