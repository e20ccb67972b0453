"""Run an exported keypoint graph with onnxruntime: NumPy in, NumPy out, no torch (the photo path)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class OnnxRunner:
    """Run an exported model with onnxruntime on the CPU; ``threads=0`` lets onnxruntime choose.

    ``spin``: let its worker threads busy-wait between runs (onnxruntime's default). Off unless
    asked: in ``predict`` the face detector, decoding and cropping run between two network calls,
    and spinning threads take the cores from them (docs/benchmarks.md, section 13).
    """

    def __init__(self, path: str | Path, threads: int = 0, spin: bool = False):
        import onnxruntime as ort

        path = Path(path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        side = path.with_suffix(".json")
        self.meta = json.loads(side.read_text()) if side.exists() else {}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Keypoints ``(N, 15, 2)`` for uint8 or float crops ``(N, S, S)``, or ``(N, 3, S, S)`` for a colour
        graph (S: the graph's input side)."""
        x = np.asarray(images, np.float32)
        x = x[:, None] if x.ndim == 3 else x  # (N, C, S, S)
        return self.session.run(None, {"image": x})[0]
