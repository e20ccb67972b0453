"""benchmarks/device_session.sh dry-runs end to end on the CPU, so a lent GPU's minutes are
never lost to a bug in the script (the issue that found `timeout` called on a shell function)."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.conftest import kaggle_csv_bytes, synthetic_faces

ROOT = Path(__file__).resolve().parents[1]


def test_device_session_script_dry_runs_on_the_cpu(tmp_path):
    imgs, kps = synthetic_faces(60)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "training.csv").write_bytes(kaggle_csv_bytes(imgs, kps))
    out = tmp_path / "out"
    env = {**os.environ, "DEVICE": "cpu", "EPOCHS": "1", "RECIPES": "tiny", "SEEDS": "0 1", "BENCH_RECIPE": "tiny",
           "DATA": str(tmp_path / "data"), "OUT": str(out),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "benchmarks/device_session.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    errors = [r for r in results if "error" in r]
    assert errors == [], (errors, proc.stderr[-3000:])
    steps = {r.get("step") or r.get("mode") or r.get("recipe") for r in results}
    assert {"sync_check", "train", "tiny"} <= steps, results
    assert sorted(r["seed"] for r in results if r.get("recipe") == "tiny" and "seed" in r) == [0, 1]
    with tarfile.open(out / "runs.tgz") as tf:
        names = tf.getnames()
    assert any(n.endswith("tiny-s1/model.safetensors") for n in names)
    assert not any(n.endswith("state.safetensors") for n in names)
