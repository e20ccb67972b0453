"""Train, then score the run on its split's test part: what ``facekeypoints train`` and
``facekeypoints.train`` do. It sits above ``training`` and ``evaluation``, which know nothing
of each other."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .config import TrainConfig, config_from_dict
from .evaluation.evaluate import evaluate
from .training.train import train as fit


def train(cfg: TrainConfig | None = None, *, evaluate_test: bool = True, **kwargs: Any) -> Path:
    """``training.train.train`` (same arguments: ``run_dir``, ``resume``, ``runs_root``, ``name``,
    ``progress``, ``stop_after``, ``overrides``), then, once the final weights exist, the honest
    test evaluation into the run folder (``metrics.json``, pictures; rank 0 only)."""
    run = fit(cfg, **kwargs)
    if evaluate_test and os.environ.get("RANK", "0") == "0" and (run / "model.safetensors").exists():
        used = config_from_dict(json.loads((run / "config.json").read_text()))
        evaluate(run, used.data, used.split, out_dir=run)
    return run
