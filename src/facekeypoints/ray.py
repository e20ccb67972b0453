"""Keypoints for a whole photo collection on a Ray cluster (``pip install 'facekeypoints[ray]'``).

Ray Data schedules the work; this module only gives it a callable class that loads the detector
and model once per actor and turns a batch of images into records of the ``predict`` JSON shape:

    import json, ray
    from facekeypoints.ray import KeypointPredictor

    ds = ray.data.read_binary_files("/shared/photos", include_paths=True)     # columns: bytes, path
    out = ds.map_batches(KeypointPredictor, fn_constructor_kwargs={"model": "fast"},
                         concurrency=8, batch_size=16, num_cpus=1)
    for row in out.iter_rows():
        faces = json.loads(row["faces"])       # [{"box", "score", "keypoints": {...}}, ...]

Output columns: ``path``, ``width``, ``height`` (-1 when unreadable), ``faces`` (the faces list as
JSON text, so every row has one Arrow type) and ``error`` ("" when none). ``predict_on_ray`` is what
``facekeypoints predict PATHS --ray [ADDRESS]`` runs: the same JSONL a single process writes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .photos.batch import VIDEO_EXTS, done_inputs, find_inputs, picture_record
from .photos.predict import KeypointDetector

try:
    import ray
except ImportError as e:  # the CLI turns this into one line naming the extra
    raise ImportError("facekeypoints.ray needs the [ray] extra: pip install 'facekeypoints[ray]'",
                      name=e.name) from None


class KeypointPredictor:
    """A Ray Data ``map_batches`` class: ``KeypointPredictor(model, **settings)`` builds one
    ``KeypointDetector`` per actor (``settings``: ``from_pretrained``'s keywords); each call takes a
    batch with a ``bytes`` column (and a ``path`` column naming them) or a ``path`` column alone."""

    def __init__(self, model: str = "default", **settings: Any):
        if settings.get("backend") == "torch":  # onnxruntime (the default) gets threads=1 below
            import torch

            torch.set_num_threads(1)  # one actor per CPU it is given: no thread pools fighting for cores
        settings.setdefault("threads", 1)
        model = settings.pop("name_or_path", model)  # a detector's own settings name their model so
        self.det = KeypointDetector.from_pretrained(model, **settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "bytes" not in batch and "path" not in batch:
            raise ValueError(f"KeypointPredictor: a batch needs a 'bytes' or 'path' column, got {sorted(batch)}")
        n = len(batch["bytes"] if "bytes" in batch else batch["path"])
        names = [str(p) for p in batch["path"]] if "path" in batch else [f"<row {i}>" for i in range(n)]
        sources = [bytes(b) for b in batch["bytes"]] if "bytes" in batch else names
        recs = [picture_record(self.det, src, name) for src, name in zip(sources, names, strict=True)]
        return {"path": np.array([r["path"] for r in recs], dtype=object),
                "width": np.array([r["width"] if r["width"] is not None else -1 for r in recs], np.int64),
                "height": np.array([r["height"] if r["height"] is not None else -1 for r in recs], np.int64),
                "faces": np.array([json.dumps(r["faces"]) for r in recs], dtype=object),
                "error": np.array([r["error"] or "" for r in recs], dtype=object)}


def row_record(row: dict[str, Any]) -> dict[str, Any]:
    """A ``KeypointPredictor`` output row as the ``predict`` JSONL record."""
    w, h = int(row["width"]), int(row["height"])
    return {"path": row["path"], "width": w if w >= 0 else None, "height": h if h >= 0 else None,
            "faces": json.loads(row["faces"]), "error": row["error"] or None}


def predict_on_ray(paths: list[str], settings: dict[str, Any], out: TextIO | None = None,
                   output: str | Path | None = None, resume: bool = False, address: str | None = None,
                   actors: int | None = None, batch_size: int = 8) -> dict[str, Any]:
    """``predict PATHS --ray [ADDRESS]``: every image on a running cluster (``address``, e.g.
    ``ray://head:10001`` or ``auto``) or a local one (None), in input order, one JSONL record each.
    Paths must be readable on every node (shared storage). ``actors``: how many model copies
    (None: one per CPU of the cluster)."""
    items = list(find_inputs(paths))
    videos = [str(i.path) for i in items if i.path.suffix.lower() in VIDEO_EXTS]
    if videos:
        raise ValueError(f"--ray reads images; run videos without --ray ({videos[0]})")
    skipped = 0
    if resume:
        done = done_inputs(Path(output))
        skipped = sum(1 for i in items if str(i.path) in done)
        items = [i for i in items if str(i.path) not in done]
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    n_faces = n_ok = 0
    start = time.perf_counter()
    failures: list[dict[str, str]] = []
    sink = open(output, "a" if resume else "w", encoding="utf-8") if output else (out or sys.stdout)  # noqa: SIM115
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # records in input order, as one process writes them
        actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if items:
            ds = ray.data.from_items([{"path": str(i.path)} for i in items])
            res = ds.map_batches(KeypointPredictor, fn_constructor_kwargs=settings, concurrency=actors,
                                 batch_size=batch_size, num_cpus=1)
            for row in res.iter_rows():
                rec = row_record(row)
                if rec["error"] is not None:
                    failures.append({"path": rec["path"], "reason": rec["error"]})
                else:
                    n_ok += 1
                    if not rec["faces"]:
                        failures.append({"path": rec["path"], "reason": "no face found"})
                n_faces += len(rec["faces"])
                sink.write(json.dumps(rec) + "\n")
                sink.flush()
    finally:
        if output:
            sink.close()
        if started_here:
            ray.shutdown()
    return {"inputs": len(items), "images": len(items), "frames": 0, "readable": n_ok, "faces": n_faces,
            "failures": failures,
            "workers": actors, "skipped_done": skipped, "output": str(output) if output else None,
            "save_images": None, "renamed": [],
            "ms_per_image": 1000 * (time.perf_counter() - start) / max(1, len(items))}
