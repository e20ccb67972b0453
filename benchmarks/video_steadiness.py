"""Steadiness on video (issue #21): clips with exact ground truth, ours beside MediaPipe in video mode.

    python benchmarks/video_steadiness.py --src ../shared/data/youtube-faces-68 --data data/yt15d --part test \\
        --models fast,default --peer-python /work/peers-venv/bin/python --out runs/eval/video_yt15_test.json
    python benchmarks/video_steadiness.py --src data/src/wild68_train --faces-of data/wild68d_val --sweep ...

Each clip is one annotated photo (the YT15 split's test or val people, or the held-out photo ids of
a wild set with ``--faces-of``) moved by a known smooth motion: a pan, a zoom and a turn, each a
sinusoid with a random phase (seeded), sub-pixel steps, ``--frames`` frames at 30 fps, 640x480,
written as MJPG and read back as a user's video would be. Every frame's truth is the photo's 68
points moved by the same matrix (15 points mapped from them). Scores per clip, averaged over clips:

- NME: mean point error / outer-eye-corner distance, over frames where the face was found;
- jitter: the RMS of the frame-to-frame change of each point's error, in the same unit (0: the points
  move exactly with the face, whatever their error);
- found: the share of frames with the face; frames per second, decode included (model load apart);
- tracks: the number of distinct ``track`` numbers the clip's one face got (1 is right).

A last clip holds two faces whose paths cross; it reports whether each kept its own number.
Rows: each model as a photo series (the detector on every frame, no filter: what ``--no-track``
with ``--min-cutoff 0`` gives), with the older ``--smooth 0.5``, tracked without a filter, and tracked
with the default One Euro filter. ``--sweep`` adds filter and ``detect_every`` settings, to choose
the defaults on validation clips (never on test clips).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from pipeline_eval import MEDIAPIPE_TO_15

from facekeypoints.data import load_training, make_split
from facekeypoints.data.landmarks68 import iter_faces
from facekeypoints.inference.crops import device_name
from facekeypoints.keypoints import KEYPOINT_NAMES, OUTER_EYE_CORNERS, map_68_to_15
from facekeypoints.photos.detect import box_iou
from facekeypoints.photos.predict import KeypointDetector
from facekeypoints.photos.video import BETA, DETECT_EVERY, MIN_CUTOFF, VideoSettings, iter_video

W, H, FPS = 640, 480, 30.0


def motion(frames: int, rng: np.random.Generator, centre: np.ndarray, face_w: float) -> list[np.ndarray]:
    """Smooth similarity matrices (2, 3) taking photo pixels to frame pixels, face centred at ``centre``."""
    ph = rng.uniform(0, 2 * np.pi, 4)
    periods = rng.uniform(60, 120, 4)  # frames per cycle: 2-4 s
    scale0 = 180.0 / face_w  # the face about 180 px wide
    out = []
    for t in range(frames):
        s = scale0 * (1 + 0.12 * np.sin(2 * np.pi * t / periods[0] + ph[0]))
        a = np.deg2rad(12 * np.sin(2 * np.pi * t / periods[1] + ph[1]))
        shift = np.array([80 * np.sin(2 * np.pi * t / periods[2] + ph[2]),
                          40 * np.sin(2 * np.pi * t / periods[3] + ph[3])])
        r = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        out.append(np.c_[r, np.array([W / 2, H / 2]) + shift - r @ centre])
    return out


def make_clip(path: Path, photo: np.ndarray, pts68: np.ndarray, frames: int, rng) -> np.ndarray:
    """Write the clip; returns the truth (frames, 15, 2)."""
    box = np.r_[pts68.min(0), pts68.max(0)]
    mats = motion(frames, rng, (box[:2] + box[2:]) / 2, float(box[2] - box[0]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    truth = []
    for m in mats:
        writer.write(cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        truth.append(map_68_to_15(pts68 @ m[:, :2].T + m[:, 2]))
    writer.release()
    return np.array(truth)


def crossing_clip(path: Path, faces: list[tuple[np.ndarray, np.ndarray]], frames: int) -> np.ndarray:
    """Two faces, one moving right along the top, one left along the bottom: their paths cross."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    truth = np.zeros((frames, 2, 15, 2))
    for t in range(frames):
        canvas = np.full((H, W, 3), 90, np.uint8)
        for k, (photo, pts68) in enumerate(faces):
            box = np.r_[pts68.min(0), pts68.max(0)]
            s = 150.0 / (box[2] - box[0])
            x = 120 + (W - 240) * t / (frames - 1)
            c = np.array([x if k == 0 else W - x, 140 if k == 0 else 340])
            m = np.c_[np.eye(2) * s, c - s * (box[:2] + box[2:]) / 2]
            mask = cv2.warpAffine(np.full(photo.shape[:2], 255, np.uint8), m, (W, H))
            ex = cv2.warpAffine(photo, m, (W, H))
            # keep a margin of 0.35 face widths around the face: a head, not a whole photo
            keep = np.zeros((H, W), bool)
            (x1, y1), (x2, y2) = (box[:2] - 0.35 * (box[2:] - box[:2])) * s + m[:, 2], \
                (box[2:] + 0.35 * (box[2:] - box[:2])) * s + m[:, 2]
            keep[max(0, int(y1)):int(y2), max(0, int(x1)):int(x2)] = True
            canvas[keep & (mask > 0)] = ex[keep & (mask > 0)]
            truth[t, k] = map_68_to_15(pts68 @ m[:, :2].T + m[:, 2])
        writer.write(canvas)
    writer.release()
    return truth


def pick(faces_pts: list[np.ndarray], boxes: np.ndarray, truth: np.ndarray) -> int | None:
    if len(boxes) == 0:
        return None
    tb = np.r_[np.nanmin(truth, 0), np.nanmax(truth, 0)]
    iou = box_iou(np.asarray(boxes, np.float64).reshape(-1, 4), tb)
    return int(np.argmax(iou)) if iou.max() >= 0.2 else None


def score(preds: list[np.ndarray | None], truth: np.ndarray) -> dict:
    """NME, jitter and found share of one clip's per-frame points (None = not found)."""
    a, b = OUTER_EYE_CORNERS
    eye = np.linalg.norm(truth[:, a] - truth[:, b], axis=-1)
    err = [None if p is None else (p - t) / d for p, t, d in zip(preds, truth, eye, strict=True)]
    found = [e for e in err if e is not None]
    nme = float(np.mean([np.linalg.norm(e, axis=-1).mean() for e in found])) if found else float("nan")
    steps = [np.sum((e2 - e1) ** 2, -1).mean() for e1, e2 in zip(err, err[1:], strict=False)
             if e1 is not None and e2 is not None]
    return {"nme": nme, "jitter": float(np.sqrt(np.mean(steps))) if steps else float("nan"),
            "found": len(found) / len(preds)}


def as_points(face: dict) -> np.ndarray:
    return np.array([[face["keypoints"][n]["x"], face["keypoints"][n]["y"]] for n in KEYPOINT_NAMES])


def _points_and_boxes(faces: list[dict]) -> tuple[list[np.ndarray], np.ndarray]:
    """Each face's 15 points and the box around them (matched to the truth's, as MediaPipe's are)."""
    pts = [as_points(f) for f in faces]
    return pts, np.array([np.r_[p.min(0), p.max(0)] for p in pts]).reshape(-1, 4)


def run_ours(det: KeypointDetector, clips: list[Path], truths: list[np.ndarray], settings: VideoSettings) -> dict:
    rows, wall, n = [], 0.0, 0
    for clip, truth in zip(clips, truths, strict=True):
        preds, tracks = [], set()
        t0 = time.perf_counter()
        for _, _, faces in iter_video(det, clip, settings):
            k = pick(*_points_and_boxes(faces), truth[len(preds)])
            preds.append(None if k is None else as_points(faces[k]))
            if k is not None:
                tracks.add(faces[k]["track"])
        wall += time.perf_counter() - t0
        n += len(preds)
        rows.append({**score(preds, truth), "tracks": len(tracks)})
    return summarise(rows, n / wall)


def summarise(rows: list[dict], fps: float) -> dict:
    return {"nme": float(np.nanmean([r["nme"] for r in rows])),
            "jitter": float(np.nanmean([r["jitter"] for r in rows])),
            "found": float(np.mean([r["found"] for r in rows])), "fps": fps,
            "max_tracks_per_clip": max(r.get("tracks", 0) for r in rows)}


def crossing_ours(det: KeypointDetector, clip: Path, truth: np.ndarray, settings: VideoSettings) -> dict:
    numbers: list[set] = [set(), set()]
    for i, _, faces in iter_video(det, clip, settings):
        for k in range(2):
            j = pick(*_points_and_boxes(faces), truth[i, k])
            if j is not None:
                numbers[k].add(faces[j]["track"])
    return {"numbers_face_a": sorted(numbers[0]), "numbers_face_b": sorted(numbers[1]),
            "kept_own_numbers": len(numbers[0]) == 1 and len(numbers[1]) == 1 and numbers[0] != numbers[1]}


def make_clips(src: str, keep: set[str] | None, n: int, frames: int, seed: int = 0
               ) -> tuple[Path, list[Path], list[np.ndarray], list[tuple[bytes, np.ndarray]]]:
    """``n`` clips of the source's faces (those named in ``keep``, or all), seeded: their folder,
    paths and truths, and two more faces (raw bytes, points) for the crossing clip."""
    rng = np.random.default_rng(seed)
    faces = [(f.read(), f.points) for f in iter_faces(src) if (keep is None or f.name in keep)
             and np.linalg.norm(f.points[36] - f.points[45]) >= 30]  # not upscaled past ~3x
    chosen = [faces[i] for i in sorted(rng.choice(len(faces), min(n + 2, len(faces)), replace=False))]
    tmp = Path(tempfile.mkdtemp(prefix="fkp-video-"))
    clips, truths = [], []
    for k, (raw, points) in enumerate(chosen[:n]):
        photo = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        clips.append(tmp / f"clip{k:02d}.avi")
        truths.append(make_clip(clips[-1], photo, points, frames, rng))
    return tmp, clips, truths, chosen[-2:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="68-point source folder")
    ap.add_argument("--data", help="its converted folder (for --part)")
    ap.add_argument("--part", choices=("test", "val"), help="the YT15 paper split's part")
    ap.add_argument("--faces-of", help="only the faces of this converted folder (held-out photo ids)")
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--models", default="fast,default")
    ap.add_argument("--peer-python", help="python of a venv with mediapipe==0.10.14")
    ap.add_argument("--sweep", action="store_true", help="also filter and detect_every settings (validation clips)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args()

    keep = None
    if args.part:
        ds = load_training(args.data)
        meta = pd.read_csv(f"{args.data}/meta.csv", keep_default_na=False)
        keep = set(meta["source"].iloc[make_split(len(ds), "paper", 0, ds.identities)[args.part]])
    if args.faces_of:
        keep = set(pd.read_csv(f"{args.faces_of}/meta.csv", usecols=["source"], keep_default_na=False)["source"])
    tmp, clips, truths, spare = make_clips(args.src, keep, args.clips, args.frames, args.seed)
    pair = [(cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR), points) for raw, points in spare]
    cross = tmp / "crossing.avi"
    cross_truth = crossing_clip(cross, pair, args.frames)
    result: dict = {"source": args.src, "part": args.part, "faces_of": args.faces_of, "clips": len(clips),
                    "frames": args.frames, "device": device_name("cpu"), "systems": {}}
    variants = {
        "photos (detector every frame, no filter)": VideoSettings(track=False, min_cutoff=0),
        "photos + --smooth 0.5": VideoSettings(track=False, smooth=0.5),
        "tracked, no filter": VideoSettings(min_cutoff=0),
        f"tracked + One Euro (default: {MIN_CUTOFF} Hz, beta {BETA}, detect every {DETECT_EVERY})": VideoSettings(),
    }
    if args.sweep:
        for mc in (4.0, 8.0, 16.0, 32.0):
            for beta in (1.0, 4.0):
                variants[f"sweep: min_cutoff {mc}, beta {beta}"] = VideoSettings(min_cutoff=mc, beta=beta)
        for every in (5, 30):
            variants[f"sweep: detect every {every}"] = VideoSettings(detect_every=every)
    for model in args.models.split(","):
        det = KeypointDetector.from_pretrained(model)
        for name, settings in variants.items():
            row = run_ours(det, clips, truths, settings)
            result["systems"][f"{model}: {name}"] = row
            print(model, name, {k: round(v, 4) for k, v in row.items()}, file=sys.stderr)
        result["systems"][f"{model}: crossing clip"] = crossing_ours(det, cross, cross_truth, VideoSettings())
        print(model, "crossing", result["systems"][f"{model}: crossing clip"], file=sys.stderr)
    if args.peer_python:
        lst = tmp / "clips.txt"
        lst.write_text("\n".join(map(str, clips)) + "\n")
        subprocess.run([args.peer_python, str(Path(__file__).with_name("mediapipe_video_worker.py")), str(lst),
                        str(tmp / "peer.json")], check=True)
        peer = json.loads((tmp / "peer.json").read_text())
        rows, wall, n = [], 0.0, 0
        for clip, truth in zip(peer["clips"], truths, strict=True):
            preds = []
            for t, mesh in enumerate(clip["frames"]):
                pts = [np.array([np.mean([m[i] for i in MEDIAPIPE_TO_15[kp]], 0) for kp in KEYPOINT_NAMES])
                       for m in mesh]
                boxes = np.array([np.r_[p.min(0), p.max(0)] for p in pts]).reshape(-1, 4)
                k = pick(pts, boxes, truth[t])
                preds.append(None if k is None else pts[k])
            wall += clip["wall_s"]
            n += len(preds)
            rows.append(score(preds, truth))
        result["systems"][f"MediaPipe face mesh {peer['mediapipe']}, video mode"] = summarise(rows, n / wall)
        print("mediapipe", result["systems"][f"MediaPipe face mesh {peer['mediapipe']}, video mode"], file=sys.stderr)
    print(json.dumps(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
