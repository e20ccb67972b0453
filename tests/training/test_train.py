import json

import numpy as np
import pytest
from safetensors.torch import load_file

from facekeypoints.config import make_config
from facekeypoints.training.train import masked_loss, train


def _cfg(data, **kw):
    return make_config("tiny", **{"data": str(data), "epochs": 3, "batch_size": 16, "threads": 1, **kw})


def test_training_lowers_the_loss_and_writes_a_run(kaggle_dir, tmp_path):
    from facekeypoints import train as train_and_score  # the public train: fit, then the test evaluation

    run = train_and_score(_cfg(kaggle_dir, lr=3e-3), runs_root=tmp_path / "runs", name="t", progress=False)
    hist = json.loads((run / "history.json").read_text())
    assert len(hist) == 3 and hist[-1]["train_loss"] < hist[0]["train_loss"]
    for f in ("config.json", "split.json", "model.json", "model.safetensors", "metrics.json", "best_faces.png"):
        assert (run / f).exists(), f
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 40
    assert not list(run.glob("*.pt")) and not list(run.glob("*.pkl"))
    # runs are never overwritten
    assert train(_cfg(kaggle_dir, epochs=1), runs_root=tmp_path / "runs", name="t", progress=False).name == "t2"
    assert not (tmp_path / "runs" / "t2" / "metrics.json").exists()  # training itself stops at the weights


@pytest.mark.parametrize("extra", [{}, {"augment": True, "ema": 0.9, "schedule": "onecycle", "loss": "wing"}])
def test_resume_reaches_the_same_weights(kaggle_dir, tmp_path, extra):
    full = train(_cfg(kaggle_dir, **extra), run_dir=tmp_path / "full", progress=False)
    # An "interrupted" run: stopped after 1 epoch, then resumed to 3.
    part = train(_cfg(kaggle_dir, **extra), run_dir=tmp_path / "part", progress=False,
                 stop_after=1)
    assert not (part / "model.safetensors").exists()
    train(resume=part, progress=False)
    a, b = load_file(str(full / "model.safetensors")), load_file(str(part / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k
    assert len(json.loads((part / "history.json").read_text())) == 3


def test_masked_loss_ignores_missing_labels():
    import torch

    pred = torch.zeros(1, 15, 2, requires_grad=True)
    target = torch.full((1, 15, 2), float("nan"))
    target[0, 0] = torch.tensor([3.0, 4.0])
    loss = masked_loss(pred, target, "mse")
    assert loss.item() == pytest.approx(12.5)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 1:].abs().sum() == 0


def test_wing_loss_values():
    import math

    import torch

    pred = torch.tensor([[[1.0, 20.0]]]).expand(1, 15, 2).clone()
    target = torch.zeros(1, 15, 2)
    small = 10 * math.log1p(1 / 2)
    large = 20 - (10 - 10 * math.log1p(10 / 2))
    assert masked_loss(pred, target, "wing").item() == pytest.approx((small + large) / 2, rel=1e-5)


def test_learning_rate_schedules():
    from facekeypoints.training.train import lr_at

    c = make_config("tiny", lr=1.0, schedule="cosine", warmup_epochs=1.0)
    assert lr_at(c, 0, 100, 10) == pytest.approx(0.1) and lr_at(c, 9, 100, 10) == pytest.approx(1.0)
    assert lr_at(c, 99, 100, 10) < 0.01
    o = make_config("tiny", lr=1.0, schedule="onecycle")
    peak = max(range(100), key=lambda s: lr_at(o, s, 100, 10))
    assert 25 <= peak <= 30 and lr_at(o, 0, 100, 10) < 0.1 and lr_at(o, 99, 100, 10) < 0.01


def test_extra_data_only_adds_training_faces(kaggle_dir, tmp_path):
    import shutil

    extra = tmp_path / "extra"
    shutil.copytree(kaggle_dir, extra)
    run = train(_cfg(kaggle_dir, epochs=1, extra_data=str(extra)), run_dir=tmp_path / "r", progress=False)
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 40
    assert split["extra_train_faces"] == 40
    with pytest.raises(Exception, match="no training data|not found|no training"):
        train(_cfg(kaggle_dir, epochs=1, extra_data=str(tmp_path / "missing")), run_dir=tmp_path / "r2",
              progress=False)


def test_aux68_trains_on_converted_sets_and_saves_a_15_point_model(tmp_path):
    from facekeypoints.checkpoint import load_checkpoint
    from facekeypoints.data.kaggle import write_training_csv
    from tests.conftest import synthetic_faces

    imgs, kps = synthetic_faces(24)
    write_training_csv(tmp_path / "d" / "training.csv", imgs, kps)
    cols = [f"{a}{i}" for i in range(68) for a in ("x", "y")]
    pts = np.random.default_rng(0).uniform(10, 85, (24, 136))
    import pandas as pd

    meta = pd.DataFrame(pts, columns=cols)
    meta.insert(0, "identity", [f"p{i % 6}" for i in range(24)])
    meta.to_csv(tmp_path / "d" / "meta.csv", index=False)
    run = train(_cfg(tmp_path / "d", epochs=1, aux68=0.5, augment=True), run_dir=tmp_path / "r", progress=False)
    model, meta_json = load_checkpoint(run)
    assert meta_json["model_args"] == {"num_points": 83}
    import torch

    assert model(torch.zeros(2, 1, 96, 96)).shape == (2, 15, 2)
    write_training_csv(tmp_path / "nometa" / "training.csv", imgs, kps)
    with pytest.raises(ValueError, match="aux68 needs 68-point labels"):
        train(_cfg(tmp_path / "nometa", epochs=1, aux68=0.5), run_dir=tmp_path / "r2", progress=False)


def test_torchrun_two_cpu_processes_gloo(kaggle_dir, tmp_path):
    """DistributedDataParallel on 2 CPU processes: one run folder, one checkpoint, reduced metrics."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           "-m", "facekeypoints", "train", "--recipe", "tiny", "--data", str(kaggle_dir), "--project", str(runs),
           "--quiet", "epochs=2", "batch_size=8", "threads=1", "augment=True"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in runs.iterdir()) == ["tiny"]  # both ranks used rank 0's folder
    meta = json.loads((runs / "tiny" / "model.json").read_text())
    assert meta["world_size"] == 2
    hist = json.loads((runs / "tiny" / "history.json").read_text())
    assert len(hist) == 2 and all(np.isfinite(h["train_loss"]) for h in hist)
    assert (runs / "tiny" / "metrics.json").exists()


def test_resume_takes_the_keys_that_may_change_and_refuses_the_rest(kaggle_dir, tmp_path, capsys):
    run = train(_cfg(kaggle_dir, epochs=2), runs_root=tmp_path, name="r", progress=False,
                stop_after=1)
    with pytest.raises(ValueError, match="lr: cannot change when resuming"):
        train(resume=run, progress=False, overrides={"lr": "0.1"})
    train(resume=run, progress=False, overrides={"epochs": "3"})
    err = capsys.readouterr().err
    assert "resuming" in err and "epochs=3" in err
    assert len(json.loads((run / "history.json").read_text())) == 3
    assert json.loads((run / "config.json").read_text())["epochs"] == 3


def test_the_network_is_built_for_the_side_of_its_data(kaggle_dir, tmp_path):
    """A `data convert --size 128` folder trains a 128-px network; its checkpoint says so, and
    evaluate runs it. An extra set of another side is refused in one line."""
    import cv2

    from facekeypoints.checkpoint import load_checkpoint
    from facekeypoints.data import load_training
    from facekeypoints.data.kaggle import write_training_csv
    from facekeypoints.evaluation.evaluate import evaluate

    ds = load_training(kaggle_dir)
    big = np.stack([cv2.resize(im, (128, 128), interpolation=cv2.INTER_LINEAR) for im in ds.images])
    write_training_csv(tmp_path / "d128" / "training.csv", big, (ds.keypoints + 0.5) * 128 / 96 - 0.5)
    (tmp_path / "d128" / "convert.json").write_text(json.dumps({"size": 128}))
    assert load_training(tmp_path / "d128").images.shape == (40, 128, 128)
    run = train(_cfg(tmp_path / "d128", epochs=1, model="mobile_s"), run_dir=tmp_path / "r", progress=False)
    model, meta = load_checkpoint(run)
    assert meta["model_args"]["input_size"] == 128 and meta["input"]["size"] == 128 and model.input_size == 128
    assert np.isfinite(evaluate(run, tmp_path / "d128", plots=False)["rmse"])
    with pytest.raises(ValueError, match="reads 128x128 crops, these faces are 96x96"):
        evaluate(run, kaggle_dir, plots=False)
    with pytest.raises(ValueError, match="128-px grey faces.*96-px grey.*--size"):
        train(_cfg(kaggle_dir, epochs=1, extra_data=str(tmp_path / "d128")), run_dir=tmp_path / "r2", progress=False)


def test_the_network_is_built_for_the_channels_of_its_data(kaggle_dir, tmp_path):
    """A `data convert --color` folder trains a colour network (3 input planes); its checkpoint says
    so, evaluate runs it, grey faces are refused in one line, and grey and colour sets do not mix."""
    from facekeypoints.checkpoint import load_checkpoint
    from facekeypoints.data import load_training
    from facekeypoints.data.kaggle import write_training_csv
    from facekeypoints.evaluation.evaluate import evaluate

    ds = load_training(kaggle_dir)
    colour = np.stack([ds.images // 2, ds.images, 255 - ds.images], axis=1)
    write_training_csv(tmp_path / "c" / "training.csv", colour, ds.keypoints)
    (tmp_path / "c" / "convert.json").write_text(json.dumps({"size": 96, "channels": 3}))
    run = train(_cfg(tmp_path / "c", epochs=1, model="mobile_s", augment=True), run_dir=tmp_path / "r",
                progress=False)
    model, meta = load_checkpoint(run)
    assert meta["model_args"]["input_channels"] == 3 and meta["input"]["channels"] == 3
    assert model.input_channels == 3 and "BGR" in meta["input"]["range"]
    assert np.isfinite(evaluate(run, tmp_path / "c", plots=True, out_dir=tmp_path / "ev")["rmse"])
    with pytest.raises(ValueError, match="reads BGR crops, these faces are grey"):
        evaluate(run, kaggle_dir, plots=False)
    with pytest.raises(ValueError, match="96-px BGR faces.*96-px grey.*--color"):
        train(_cfg(kaggle_dir, epochs=1, extra_data=str(tmp_path / "c")), run_dir=tmp_path / "r2", progress=False)


def test_upright_crops_make_an_upright_model_and_do_not_mix(kaggle_dir, tmp_path):
    """Faces of a `data convert --upright` folder: the checkpoint's input contract says so (predict then
    turns photos' faces upright, photos/test_predict.py); plain and upright sets are not mixed."""
    import shutil

    from facekeypoints.checkpoint import load_checkpoint

    up = tmp_path / "up"
    shutil.copytree(kaggle_dir, up)
    (up / "convert.json").write_text(json.dumps({"upright": True}))
    run = train(_cfg(up, epochs=1), run_dir=tmp_path / "r", progress=False)
    assert load_checkpoint(run)[1]["input"]["upright"] is True
    plain = train(_cfg(kaggle_dir, epochs=1), run_dir=tmp_path / "p", progress=False)
    assert load_checkpoint(plain)[1]["input"]["upright"] is False
    with pytest.raises(ValueError, match=r"up holds upright faces .* does not"):
        train(_cfg(kaggle_dir, epochs=1, extra_data=str(up)), run_dir=tmp_path / "r2", progress=False)
    (up / "convert.json").write_text(json.dumps({"upright": "yes"}))
    with pytest.raises(ValueError, match="field 'upright': 'yes'"):
        train(_cfg(up, epochs=1), run_dir=tmp_path / "r3", progress=False)
