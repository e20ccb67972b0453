"""``facekeypoints predict`` over many inputs: files, folders, globs and videos, on every core.

One record per image (or video frame) in the JSONL contract (``{"path", "width", "height",
"faces", "error"}``, video frames add ``frame`` and ``time_s``) or a CSV row per face; bad
inputs get their record with ``error`` set and the run goes on.

``workers`` > 1: that many processes, each loading the detector and model once, take the inputs
in chunks; records come back in input order, the same as one process writes. Every input's
records are written (and flushed) as one block, so an output file cut short by a crash holds
whole inputs only, and ``resume`` skips them and appends the rest. Saved pictures mirror the
inputs' folders (``a/x.jpg`` and ``b/x.jpg`` stay apart) and are written atomically.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from ..fileio import IMAGE_EXTS, DataError
from ..imaging import require_opencv
from ..keypoints import KEYPOINT_NAMES
from .detect import read_picture
from .draw import draw, save_image
from .predict import KeypointDetector
from .video import VideoSettings, iter_video

INPUTS_PER_WORKER = 16  # the default --workers starts one process per this many inputs, up to the usable cores
VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
VIDEO_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}  # what OpenCV writes


@dataclass(frozen=True)
class Input:
    """One input path and where its pictures go under ``--save-images`` (its path below the folder
    or glob root it was found in; a file named directly keeps the path it was given, if relative)."""

    path: Path
    rel: Path


def _glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard (``photos/**/*.jpg`` -> ``photos``)."""
    parts = Path(pattern).parts
    fixed = parts[: next(i for i, p in enumerate(parts) if any(ch in p for ch in "*?["))]
    return Path(*fixed) if fixed else Path(".")


def _given(path: Path) -> Path:
    return path if not path.is_absolute() and ".." not in path.parts else Path(path.name)


def find_inputs(paths: Iterable[str]) -> Iterator[Input]:
    """Images and videos named directly, found in folders (recursive, sorted) or matched by globs.

    Folders and globs take every type a named file takes (``fileio.IMAGE_EXTS``, ``VIDEO_EXTS``).
    """
    known = IMAGE_EXTS | VIDEO_EXTS
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in known):
                yield Input(f, f.relative_to(path))
        elif any(ch in p for ch in "*?[") and not path.exists():
            root = _glob_root(p)
            for f in sorted(Path(f) for f in glob.glob(p, recursive=True)
                            if Path(f).is_file() and Path(f).suffix.lower() in known):
                yield Input(f, f.relative_to(root) if f.is_relative_to(root) else _given(f))
        else:
            yield Input(path, _given(path))  # a missing or unreadable file still gets its line, with an error


def expand_inputs(paths: Iterable[str]) -> Iterator[Path]:
    """The paths of ``find_inputs``."""
    return (i.path for i in find_inputs(paths))


def record(path: str | Path, width: int | None = None, height: int | None = None,
           faces: list[dict[str, Any]] | None = None, error: str | None = None, **extra: Any) -> dict[str, Any]:
    """One record of the JSONL contract (video frames add ``frame`` and ``time_s`` as ``extra``)."""
    rec: dict[str, Any] = {"path": str(path)}
    rec.update(extra)
    rec.update({"width": width, "height": height, "faces": faces or [], "error": error})
    return rec


def picture_record(det: KeypointDetector, source: str | Path | bytes, name: str | Path,
                   save_to: Path | None = None, names: bool = False) -> dict[str, Any]:
    """The record of one picture (a path or its bytes, reported as ``name``); with ``save_to``, the
    picture with its faces drawn is written there (atomically)."""
    try:
        pic = read_picture(source, str(name), detect_side=det.detect_side)
    except DataError as e:
        return record(name, error=str(e))
    faces = det.detect_picture(pic)
    if save_to is not None:
        save_image(save_to, draw(pic.full(), faces, names))
    return record(name, int(pic.width), int(pic.height), faces)


def image_record(det: KeypointDetector, item: Input, save_images: str | None, names: bool) -> dict[str, Any]:
    return picture_record(det, item.path, item.path, Path(save_images) / item.rel if save_images else None, names)


def _video_writer(final: Path, fps: float, size: tuple[int, int]) -> tuple[Any, Path, Path]:
    """A writer in the input's container where OpenCV writes it (mp4 stays mp4), else MJPG .avi."""
    cv2 = require_opencv("video")
    for suffix in (final.suffix.lower(), ".avi"):
        fourcc = VIDEO_FOURCC.get(suffix)
        if fourcc is None:
            continue
        target = final.with_suffix(suffix)
        partial = target.with_name(f".{target.stem}.partial{suffix}")
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if writer.isOpened():
            return writer, partial, target
        writer.release()
    raise DataError(f"{final}: OpenCV cannot write an annotated video here")


def video_records(det: KeypointDetector, item: Input, save_images: str | None, names: bool,
                  video: VideoSettings) -> Iterator[dict[str, Any]]:
    """One record per frame (``frame``, ``time_s`` added); optionally an annotated copy of the video,
    in the input's container where OpenCV can write it (else ``.avi``; the summary says which)."""
    path = item.path
    try:
        cv2 = require_opencv("video")
    except ImportError as e:
        yield record(path, error=f"{path}: {e}")
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        yield record(path, error=f"{path}: cannot open video")
        return
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer, partial, final, n = None, None, None, 0
    complete = False
    try:  # the annotated copy is written beside its final name and renamed when complete (atomic)
        for i, frame, faces in iter_video(det, cap, video):
            if save_images:
                if writer is None:
                    (Path(save_images) / item.rel).parent.mkdir(parents=True, exist_ok=True)
                    writer, partial, final = _video_writer(Path(save_images) / item.rel, fps,
                                                           (frame.shape[1], frame.shape[0]))
                writer.write(draw(frame, faces, names))
            yield record(path, int(frame.shape[1]), int(frame.shape[0]), faces, frame=i, time_s=round(i / fps, 4))
            n += 1
        complete = True
    finally:
        if writer is not None:
            writer.release()
            if complete:
                os.replace(partial, final)
            else:
                partial.unlink(missing_ok=True)  # stopped early: no half video under the final name
    if n == 0:
        yield record(path, error=f"{path}: no frames decoded")


def input_records(det: KeypointDetector, item: Input, save_images: str | None, names: bool,
                  video: VideoSettings) -> list[dict[str, Any]]:
    """Every record of one input (an image's one, or a video's frames)."""
    if item.path.suffix.lower() in VIDEO_EXTS:
        return list(video_records(det, item, save_images, names, video))
    return [image_record(det, item, save_images, names)]


CSV_HEADER = ["path", "face", "box_x1", "box_y1", "box_x2", "box_y2", "score",
              *(f"{n}_{a}" for n in KEYPOINT_NAMES for a in ("x", "y", "confidence")), "error"]
CSV_68 = [f"p{i}_{a}" for i in range(68) for a in ("x", "y")]  # with --points 68, before "error"


def _csv_rows(rec: dict[str, Any], with68: bool) -> list[list[Any]]:
    rows = []
    for i, f in enumerate(rec["faces"] or [None]):
        cells: list[Any] = [rec["path"], "" if f is None else i]
        if f is None:
            cells += [""] * (5 + 3 * len(KEYPOINT_NAMES))
        else:
            cells += [*f["box"], f["score"], *(k[a] for k in f["keypoints"].values() for a in ("x", "y", "confidence"))]
        if with68:
            cells += [""] * len(CSV_68) if f is None else [v for xy in f["landmarks68"] for v in xy]
        rows.append([*cells, rec["error"] or ""])
    return rows


def _block(records: list[dict[str, Any]], fmt: str, with68: bool) -> str:
    """One input's records as the text written in one go."""
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in records:
        w.writerows(_csv_rows(r, with68))
    return buf.getvalue()


def done_inputs(output: Path) -> set[str]:
    """Paths with records in a JSONL output of an earlier run; a last line cut short by a crash is cut off."""
    if not output.exists():
        return set()
    raw = output.read_bytes()
    keep = raw[: raw.rfind(b"\n") + 1]  # whole lines only
    if len(keep) != len(raw):
        with open(output, "r+b") as f:
            f.truncate(len(keep))
    done = set()
    for n, line in enumerate(keep.decode("utf-8").splitlines(), 1):
        try:
            done.add(json.loads(line)["path"])
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{output}: line {n} is not a predict record; --resume needs the JSONL "
                            "output of an earlier run") from None
    return done


# ---- worker processes: each builds its detector once
_WORKER: dict[str, Any] = {}


def _worker_init(settings: dict[str, Any], save_images: str | None, names: bool, video: VideoSettings) -> None:
    if settings.get("backend") == "torch":
        import torch

        torch.set_num_threads(1)  # one core per worker: the workers share the machine, not a thread pool
    _WORKER.update(det=KeypointDetector.from_pretrained(**settings, threads=1), save_images=save_images,
                   names=names, video=video)


def _worker_run(item: Input) -> list[dict[str, Any]]:
    w = _WORKER
    return input_records(w["det"], item, w["save_images"], w["names"], w["video"])


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_predict(paths: list[str], det: KeypointDetector, out: TextIO | None = None, fmt: str = "jsonl",
                save_images: str | None = None, names: bool = False, smooth: float = 0.0,
                workers: int | None = 1, output: str | Path | None = None, resume: bool = False,
                progress: bool | None = None, video: VideoSettings | None = None) -> dict[str, Any]:
    """Predict every input with ``det``; one record per image (or video frame); returns the summary.

    Records go to ``output`` (a file, written as the run goes, one input at a time) or ``out``
    (default stdout). ``workers``: processes (None: the usable cores; never more than inputs);
    they rebuild ``det`` from its ``settings``. ``resume``: skip the inputs ``output`` already
    holds and append the rest (JSONL). ``video``: how videos are followed (``photos.video``: tracking,
    the One Euro filter); ``smooth`` > 0 is shorthand for the exponential average.
    Bad inputs never stop the run: each gets its record with
    ``error`` set and is listed in the summary's ``failures``; ``readable`` counts the images
    (video frames) that could be decoded.
    """
    if save_images and Path(save_images).exists() and not Path(save_images).is_dir():
        raise DataError(f"--save-images {save_images}: exists and is not a folder; name a folder")
    if video is None:
        video = VideoSettings(smooth=smooth)
    elif smooth:
        raise ValueError("pass smooth inside video= (VideoSettings(smooth=...)), not both")
    if resume and (output is None or fmt != "jsonl"):
        raise ValueError("--resume continues a JSONL output file: pass -o FILE (and --format jsonl)")
    items = list(find_inputs(paths))
    skipped = 0
    if resume:
        done = done_inputs(Path(output))
        skipped = sum(1 for i in items if str(i.path) in done)
        items = [i for i in items if str(i.path) not in done]
    items, renamed = _unique_targets(items)
    if video != VideoSettings() and items and not any(i.path.suffix.lower() in VIDEO_EXTS for i in items):
        print("note: the video options (tracking, filter, --smooth) apply to videos only; no input is a video",
              file=sys.stderr)
    if workers is None:  # the usable cores, but a worker only for every INPUTS_PER_WORKER inputs (starting one
        workers = min(usable_cores(), -(-len(items) // INPUTS_PER_WORKER))  # costs seconds: not for 3 photos)
    workers = max(1, min(workers, len(items)))
    with68 = det.points == 68
    sink: TextIO
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        sink = open(output, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115 - closed below
    else:
        sink = out or sys.stdout
    if fmt == "csv":
        header = CSV_HEADER[:-1] + CSV_68 + CSV_HEADER[-1:] if with68 else CSV_HEADER
        sink.write(",".join(header) + "\n")
    n_img = n_faces = n_ok = n_inputs = n_frames = 0
    failures: list[dict[str, str]] = []
    start = time.perf_counter()
    # progress None: a bar only when stderr is a terminal (tqdm's own test)
    bar = tqdm(total=len(items), desc="predict", unit="input", file=sys.stderr,
               disable=None if progress is None else not progress, dynamic_ncols=True)
    pool = None
    try:
        if workers > 1:
            if not det.settings:
                raise ValueError("workers > 1 rebuild the detector in each process: make it with "
                                 "KeypointDetector.from_pretrained")
            pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init,
                                       initargs=(det.settings, save_images, names, video))
            results = pool.map(_worker_run, items, chunksize=max(1, min(16, len(items) // (4 * workers))))
        else:
            results = (input_records(det, i, save_images, names, video) for i in items)
        for records in results:
            n_inputs += 1
            for rec in records:
                n_img += 1
                n_frames += "frame" in rec
                if rec["error"] is not None:
                    failures.append({"path": rec["path"], "reason": rec["error"]})
                else:
                    n_ok += 1
                    if not rec["faces"]:
                        failures.append({"path": rec["path"] + (f" frame {rec['frame']}" if "frame" in rec else ""),
                                         "reason": "no face found"})
                n_faces += len(rec["faces"])
            sink.write(_block(records, fmt, with68))
            sink.flush()  # one input's records at a time: a crash never leaves half an input
            bar.update()
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if output is not None:
            sink.close()
    elapsed = time.perf_counter() - start
    return {"inputs": n_inputs, "images": n_img, "frames": n_frames, "readable": n_ok, "faces": n_faces,
            "failures": failures,
            "ms_per_image": 1000 * elapsed / max(1, n_img), "workers": workers, "skipped_done": skipped,
            "renamed": renamed, "output": str(output) if output is not None else None, "save_images": save_images}


def _unique_targets(items: list[Input]) -> tuple[list[Input], list[str]]:
    """Give each input its own saved-picture path (a second ``x.jpg`` from another place gets ``x_2.jpg``)."""
    seen: set[Path] = set()
    out, renamed = [], []
    for item in items:
        rel, k = item.rel, 1
        while rel in seen:
            k += 1
            rel = item.rel.with_name(f"{item.rel.stem}_{k}{item.rel.suffix}")
        seen.add(rel)
        if rel != item.rel:
            renamed.append(f"{item.path} -> {rel}")
            item = Input(item.path, rel)
        out.append(item)
    return out, renamed
