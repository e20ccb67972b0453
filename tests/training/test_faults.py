"""Fault tests: a training run killed with SIGKILL mid-run resumes to the same final weights."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.torch import load_file

from facekeypoints.checkpoint import CheckpointError, load_checkpoint
from facekeypoints.config import make_config
from facekeypoints.training.train import train

pytestmark = pytest.mark.fault


def _cmd(data, run_dir, epochs=6):
    code = ("import sys; from facekeypoints.config import make_config; from facekeypoints.training.train import train; "
            f"train(make_config('tiny', data={str(data)!r}, epochs={epochs}, batch_size=8, threads=1, save_every=1), "
            f"run_dir={str(run_dir)!r}, progress=False)")
    return [sys.executable, "-c", code]


def test_kill_9_mid_run_then_resume_gives_the_same_weights(kaggle_dir, tmp_path):
    full = train(make_config("tiny", data=str(kaggle_dir), epochs=6, batch_size=8, threads=1),
                 run_dir=tmp_path / "full", progress=False)
    run = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(kaggle_dir, run), env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until at least one epoch is saved, then kill without warning
        hist = run / "history.json"
        if hist.exists() and len(json.loads(hist.read_text() or "[]")) >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "model.safetensors").exists(), "the run finished before it could be killed"
    train(resume=run, progress=False)
    a, b = load_file(str(full / "model.safetensors")), load_file(str(run / "model.safetensors"))
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k
    assert not list(run.glob(".*.tmp"))  # no half-written files left behind


def test_truncated_checkpoint_is_a_clear_error_and_the_state_still_resumes(kaggle_dir, tmp_path):
    run = train(make_config("tiny", data=str(kaggle_dir), epochs=2, batch_size=8, threads=1),
                run_dir=tmp_path / "r", progress=False)
    weights = run / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(run)
    # The resume point is a separate file: finishing again rewrites good weights.
    (run / "model.safetensors").unlink()
    train(resume=run, progress=False)
    load_checkpoint(run)


def test_resume_removes_the_half_written_file_a_kill_left(kaggle_dir, tmp_path, capsys):
    # SIGKILL during atomic_write leaves its temporary file (the rename never came); resume deletes it, saying so.
    run = train(make_config("tiny", data=str(kaggle_dir), epochs=2, batch_size=8, threads=1),
                run_dir=tmp_path / "r", progress=False, stop_after=1)
    stale = run / ".state.safetensors.k1ll3d.tmp"
    stale.write_bytes(b"half a file")
    train(resume=run, progress=False)
    assert not stale.exists() and (run / "model.safetensors").exists()
    assert str(stale) in capsys.readouterr().err


def test_sigint_saves_the_resume_point_and_resume_finishes_the_same(kaggle_dir, tmp_path):
    full = train(make_config("tiny", data=str(kaggle_dir), epochs=100, batch_size=8, threads=1),
                 run_dir=tmp_path / "full", progress=False)
    run = tmp_path / "interrupted"
    code = ("from facekeypoints.cli import main; import sys; "
            f"sys.exit(main(['train', '--recipe', 'tiny', '--data', {str(kaggle_dir)!r}, '--project', "
            f"{str(tmp_path)!r}, '--name', 'interrupted', '--quiet', 'epochs=100', 'batch_size=8', 'threads=1', "
            "'save_every=1000', 'save_every_s=1000']))")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "config.json").exists():
        time.sleep(0.05)
    time.sleep(0.3)  # into the epochs; no resume point yet (save_every=1000)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    assert "resume point saved" in err and "--resume" in err
    assert (run / "state.safetensors").exists() and not (run / "model.safetensors").exists()
    train(resume=run, progress=False)
    a, b = load_file(str(full / "model.safetensors")), load_file(str(run / "model.safetensors"))
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k


def test_resume_point_is_written_every_n_epochs_and_at_the_end(kaggle_dir, tmp_path):
    run = train(make_config("tiny", data=str(kaggle_dir), epochs=5, batch_size=8, threads=1, save_every=2,
                            save_every_s=1e9), run_dir=tmp_path / "r", progress=False,
                stop_after=3)
    from facekeypoints.checkpoint import load_state

    assert load_state(run / "state.safetensors")[1]["epoch"] == 3  # stopping always saves
    assert len(json.loads((run / "history.json").read_text())) == 3
    train(resume=run, progress=False)
    assert load_state(run / "state.safetensors")[1]["epoch"] == 5
