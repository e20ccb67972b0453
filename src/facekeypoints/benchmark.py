"""``facekeypoints benchmark data|infer``: speed measurements that print JSON.

Timings are measured here, by these functions, never asserted by tests.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .devices import device_name


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


def _timings(fn, batch: np.ndarray, min_s: float, min_n: int, budget_s: float = 30.0) -> np.ndarray:
    """Seconds per call: at least ``min_n`` calls and ``min_s`` seconds, but never past ``budget_s``
    once one timed call is in (a slow model on a slow machine still finishes)."""
    fn(batch)  # warm-up
    times, start = [], time.perf_counter()
    while not times or (len(times) < min_n or time.perf_counter() - start < min_s) and \
            time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - t0)
    return np.array(times)


def benchmark_infer(model: str, threads: int = 0, batch: int = 256, seconds: float = 2.0,
                    images: str | None = None) -> dict[str, Any]:
    """Single-face latency (p50/p99) and batched throughput, torch and onnxruntime, on the CPU.

    ``model`` is a checkpoint, or a registry name (random weights: speed does not depend on them).
    ``pipeline_ms_per_image`` is the whole ``predict`` pipeline's median time per image (decode,
    detection, crops, model with flip, re-framing, mapping back; onnx backend) over the photos
    in ``images``, or over the project's own sample picture (two faces, 800x500) when none are given.
    """
    from .checkpoint import load_checkpoint, save_checkpoint
    from .inference.crops import predict_crops
    from .inference.export import OnnxRunner, export_onnx
    from .inference.tta import with_tta
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
        net = with_tta(net, meta)
        tta, views = net.flip, net.views  # the same work per face on both backends (the ONNX graph holds it too)
        runner = OnnxRunner(export_onnx(ckpt, Path(tmp) / "m.onnx"), threads=threads)
        backends = {
            "torch": lambda x: predict_crops(net, x, batch_size=batch),
            "onnx": runner,
        }
        rng = np.random.default_rng(0)
        side = int(meta["input"]["size"])  # the model's own crops (96, or its `data convert --size`)
        one, many = rng.integers(0, 256, (1, side, side), np.uint8), rng.integers(0, 256, (batch, side, side), np.uint8)
        out: dict[str, Any] = {}
        for name, fn in backends.items():
            print(f"benchmark infer: {name} (latency, then throughput; at most ~1 min)", file=sys.stderr)
            lat = _timings(fn, one, seconds, 50) * 1000
            thr = _timings(fn, many, seconds, 3)
            out[name] = {"latency_ms_p50": float(np.percentile(lat, 50)),
                         "latency_ms_p99": float(np.percentile(lat, 99)),
                         "throughput_faces_per_s": float(batch / np.median(thr)), "batch": batch}
        pipeline_ms = _pipeline_ms(ckpt, images)
    return {"mode": "infer", "model": meta["model"], "weights": weights, "flip_tta": tta, "tta_views": views,
            "threads": threads,
            "backends": out, "pipeline_ms_per_image": pipeline_ms, "pipeline_images": images or "sample picture",
            "device": device_name("cpu"), "torch": torch.__version__}


def _pipeline_ms(ckpt: Path, folder: str | None) -> float:
    """Median ms per image of ``KeypointDetector`` (onnx backend) over the photos in ``folder``
    (at most 200), or 20 times over the sample picture."""
    from .photos.batch import expand_inputs
    from .photos.predict import KeypointDetector
    from .photos.sample import sample_path

    det = KeypointDetector.from_pretrained(ckpt, backend="onnx")
    paths = list(expand_inputs([folder]))[:200] if folder else [sample_path()] * 20
    if not paths:
        raise ValueError(f"{folder}: no images to time the pipeline on")
    det(paths[0])  # warm-up
    times = []
    for p in paths:
        t0 = time.perf_counter()
        det(p)
        times.append(time.perf_counter() - t0)
    return float(1000 * np.median(times))


def _plain_loop(cfg, x: np.ndarray, y: np.ndarray, device: torch.device) -> torch.nn.Module:
    """The report's recipe as a straightforward PyTorch loop would run it: a DataLoader over
    float32 CPU tensors, a copy of every batch to the device, fp32, a loss ``.item()`` per step."""
    from torch.utils.data import DataLoader, TensorDataset

    from .models import create_model
    from .training.train import masked_loss

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loader = DataLoader(TensorDataset(torch.from_numpy(x).float().unsqueeze(1), torch.from_numpy(y)),
                        batch_size=cfg.batch_size, shuffle=True)
    for _ in range(cfg.epochs):
        model.train()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = masked_loss(model(xb), yb, cfg.loss)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # what a progress print does: a host sync every step
    return model.eval()


def benchmark_train(data: str, recipe: str = "paper", epochs: int | None = None, device: str = "auto",
                    fast_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Wall time of (a) a straightforward loop and (b) ``train()`` on the same recipe, same device.

    Both report test RMSE on the split's test part so speed never silently costs accuracy.
    (b) includes what ``train`` always does: per-epoch validation and resume checkpoints.
    """
    from .config import make_config
    from .devices import pick_device
    from .evaluation.evaluate import evaluate
    from .evaluation.metrics import rmse
    from .inference.crops import predict_crops
    from .training.train import load_train_data, train

    dev = pick_device(device)
    base = {"data": data, "device": str(dev)}
    if epochs is not None:
        base["epochs"] = epochs
    cfg = make_config(recipe, **base)
    # The plain loop runs Adam with a constant rate on plain crops; it cannot follow more than that.
    beyond = {k: v for k, v in (("optimizer", cfg.optimizer != "adam"), ("schedule", cfg.schedule != "constant"),
                                ("augment", cfg.augment), ("ema", cfg.ema), ("aux68", cfg.aux68),
                                ("weight_decay", cfg.weight_decay), ("warmup_epochs", cfg.warmup_epochs),
                                ("extra_data", cfg.extra_data), ("antialias", cfg.antialias),
                                ("tta", cfg.tta_flip or cfg.tta_views)) if v}
    if beyond:
        raise ValueError(f"benchmark train: recipe {recipe!r} uses {', '.join(beyond)}, which the plain loop "
                         "does not follow; compare plain recipes (paper, tiny)")
    prepared = load_train_data(cfg)  # the same faces and targets train() reads
    ds, split = prepared.ds, prepared.split
    test = split["test"]

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    sync()
    t0 = time.perf_counter()
    plain = _plain_loop(cfg, prepared.x_train.numpy(), prepared.y_train.numpy(), dev)
    sync()
    baseline_s = time.perf_counter() - t0
    baseline_rmse = rmse(predict_crops(plain, ds.images[test]), ds.keypoints[test])

    fast = dict(fast_overrides or {})
    if dev.type == "cuda":
        fast = {"amp": True, "compile": True, "channels_last": True, **fast}
    fast_cfg = make_config(recipe, **base, **fast)
    with tempfile.TemporaryDirectory() as tmp:
        sync()
        t0 = time.perf_counter()
        run = train(fast_cfg, run_dir=Path(tmp) / "run", progress=False)
        sync()
        fast_s = time.perf_counter() - t0
        fast_rmse = evaluate(run, data, cfg.split, plots=False, dataset=ds)["rmse"]
        epoch_s = [h["time_s"] for h in json.loads((run / "history.json").read_text())]
    # torch.compile's one-time cost lands in the first epoch: what it took beyond a typical epoch.
    compile_s = max(0.0, epoch_s[0] - float(np.median(epoch_s[1:]))) if fast.get("compile") and len(epoch_s) > 1 \
        else 0.0
    n_images = len(split["train"]) * cfg.epochs
    return {"mode": "train", "recipe": recipe, "epochs": cfg.epochs, "device": device_name(dev),
            "baseline_s": baseline_s, "fast_s": fast_s, "ratio": baseline_s / fast_s, "compile_s": compile_s,
            "fast_s_without_compile": fast_s - compile_s,
            "baseline_images_per_s": n_images / baseline_s, "fast_images_per_s": n_images / fast_s,
            "baseline_test_rmse": baseline_rmse, "fast_test_rmse": fast_rmse, "fast_overrides": fast,
            "torch": torch.__version__}
