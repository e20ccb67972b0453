"""``facekeypoints benchmark data|infer``: speed measurements that print JSON.

Timings are measured here, by these functions, never asserted by tests.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .inference import device_name


def fake_kaggle_training(path: str | Path, rows: int = 7049, complete: int = 2140, seed: int = 0) -> Path:
    """A training.csv with Kaggle's header and layout: ``complete`` rows with all 15 keypoints,
    the rest with only the 4 always-present ones (eye centres, nose tip, bottom lip)."""
    from .data.kaggle import write_training_csv
    from .keypoints import INDEX

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (rows, 96, 96), dtype=np.uint8)
    kps = rng.uniform(10, 85, (rows, 15, 2)).astype(np.float32)
    keep = [INDEX[n] for n in ("left_eye_center", "right_eye_center", "nose_tip", "mouth_center_bottom_lip")]
    drop = np.setdiff1d(np.arange(15), keep)
    kps[complete:, drop] = np.nan
    return write_training_csv(path, images, kps)


def benchmark_data(rows: int = 7049) -> dict[str, Any]:
    """Parse a full-size generated training.csv cold (parse + hash + cache write), then from cache."""
    from .data.kaggle import load_training

    with tempfile.TemporaryDirectory() as tmp:
        csv = fake_kaggle_training(Path(tmp) / "training.csv", rows)
        old = os.environ.get("FACEKEYPOINTS_CACHE")
        os.environ["FACEKEYPOINTS_CACHE"] = str(Path(tmp) / "cache")
        try:
            t0 = time.perf_counter()
            ds = load_training(csv)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_training(csv)
            cached = time.perf_counter() - t0
        finally:
            if old is None:
                os.environ.pop("FACEKEYPOINTS_CACHE")
            else:
                os.environ["FACEKEYPOINTS_CACHE"] = old
        return {"mode": "data", "rows": len(ds), "bytes": csv.stat().st_size, "cold_s": cold, "cached_s": cached,
                "device": device_name("cpu")}


def _timings(fn, batch: np.ndarray, min_s: float, min_n: int) -> np.ndarray:
    fn(batch)  # warm-up
    fn(batch)
    times, start = [], time.perf_counter()
    while len(times) < min_n or time.perf_counter() - start < min_s:
        t0 = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - t0)
    return np.array(times)


def benchmark_infer(model: str, threads: int = 0, batch: int = 256, seconds: float = 2.0) -> dict[str, Any]:
    """Single-face latency (p50/p99) and batched throughput, torch and onnxruntime, on the CPU.

    ``model`` is a checkpoint, or a registry name (random weights: speed does not depend on them).
    """
    from .checkpoint import load_checkpoint, save_checkpoint
    from .export import OnnxRunner, export_onnx
    from .inference import predict_crops
    from .models import create_model, list_models

    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        if model in list_models() and not Path(model).exists():
            save_checkpoint(Path(tmp) / "model.safetensors", create_model(model), model, {})
            ckpt, weights = Path(tmp), "random-init"
        else:
            ckpt, weights = Path(model), "checkpoint"
        net, meta = load_checkpoint(ckpt, "cpu")
        tta = bool(meta.get("config", {}).get("tta_flip", False))
        runner = OnnxRunner(export_onnx(ckpt, Path(tmp) / "m.onnx"), threads=threads)
        backends = {
            "torch": lambda x: predict_crops(net, x, batch_size=batch, flip_tta=tta),
            "onnx": runner,
        }
        rng = np.random.default_rng(0)
        one, many = rng.integers(0, 256, (1, 96, 96), np.uint8), rng.integers(0, 256, (batch, 96, 96), np.uint8)
        out: dict[str, Any] = {}
        for name, fn in backends.items():
            lat = _timings(fn, one, seconds, 50) * 1000
            thr = _timings(fn, many, seconds, 3)
            out[name] = {"latency_ms_p50": float(np.percentile(lat, 50)),
                         "latency_ms_p99": float(np.percentile(lat, 99)),
                         "throughput_faces_per_s": float(batch / np.median(thr)), "batch": batch}
    return {"mode": "infer", "model": meta["model"], "weights": weights, "flip_tta": tta, "threads": threads,
            "backends": out, "pipeline_ms_per_image": None,  # needs `predict` (face detection), not built yet
            "device": device_name("cpu"), "torch": torch.__version__}
