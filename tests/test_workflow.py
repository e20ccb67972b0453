"""K-fold training (workflow.train_folds): folds, out-of-fold scores, the parent as a model, resume."""

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from facekeypoints.config import make_config
from facekeypoints.data import make_split
from facekeypoints.keypoints import INDEX
from tests.conftest import kaggle_csv_bytes, synthetic_faces

FOUR = [INDEX[n] for n in ("left_eye_center", "right_eye_center", "nose_tip", "mouth_center_bottom_lip")]


@pytest.fixture
def two_regimes(tmp_path):
    """A Kaggle-layout set like the real one: a third of the rows carry only the 4 main points."""
    imgs, kps = synthetic_faces(60, seed=3)
    missing = np.zeros((60, 15), bool)
    missing[::3] = True
    missing[::3, FOUR] = False
    (tmp_path / "training.csv").write_bytes(kaggle_csv_bytes(imgs, kps, missing))
    return tmp_path


def _cfg(data, **kw):
    return make_config("tiny", **{"data": str(data), "epochs": 2, "batch_size": 16, "threads": 1, "folds": 3, **kw})


def test_k_fold_parent_holds_out_of_fold_scores_and_is_a_model(two_regimes, tmp_path):
    from facekeypoints import train
    from facekeypoints.checkpoint import load_checkpoint
    from facekeypoints.evaluation.evaluate import evaluate
    from facekeypoints.evaluation.metrics import rmse
    from facekeypoints.inference.crops import predict_crops
    from facekeypoints.inference.tta import with_tta

    parent = train(_cfg(two_regimes), runs_root=tmp_path / "runs", progress=False)
    assert parent.name == "tiny-3fold"
    for k in range(3):
        assert (parent / f"fold{k}" / "model.safetensors").exists() and (parent / f"fold{k}" / "metrics.json").exists()
    oof = json.loads((parent / "oof.json").read_text())
    ds_n = 60
    test = make_split(ds_n, "paper", 0)["test"]
    assert oof["folds"] == 3 and oof["n_faces"] == ds_n - len(test)
    assert sum(f["n_faces"] for f in oof["per_fold"]) == oof["n_faces"]
    regimes = oof["by_labels"]
    assert regimes["4"]["n_faces"] > 0 and regimes["15"]["n_faces"] > 0
    assert regimes["4"]["n_faces"] + regimes["15"]["n_faces"] == oof["n_faces"]
    assert set(oof["per_keypoint_rmse"]) >= {"nose_tip", "left_eye_outer_corner"}
    # recompute the out-of-fold RMSE from the fold models themselves
    from facekeypoints.data import load_training

    ds = load_training(two_regimes)
    pred = np.full(ds.keypoints.shape, np.nan, np.float32)
    for k in range(3):
        net, meta = load_checkpoint(parent / f"fold{k}")
        val = make_split(ds_n, "paper", 0, None, folds=3, fold=k)["val"]
        pred[val] = predict_crops(with_tta(net, meta), ds.images[val])
    done = np.isfinite(pred[:, 0, 0])
    assert rmse(pred[done], ds.keypoints[done]) == pytest.approx(oof["rmse"], rel=1e-5)
    # the parent is a 3-model ensemble: its answers are the folds' mean, and evaluate says so
    ens, meta = load_checkpoint(parent)
    assert meta["model"] == "ensemble" and meta["folds"] == 3
    folds = [predict_crops(with_tta(*load_checkpoint(parent / f"fold{k}")), ds.images[test]) for k in range(3)]
    assert np.allclose(predict_crops(with_tta(ens, meta), ds.images[test]), np.mean(folds, 0), atol=1e-4)
    m = json.loads((parent / "metrics.json").read_text())
    assert m["ensemble_of"] == 3 and m["seen_in_training"] == 0
    assert evaluate(parent, two_regimes, plots=False)["rmse"] == pytest.approx(m["rmse"])
    from facekeypoints.evaluation.report import write_report

    page = write_report(parent).read_text()
    assert "Out-of-fold scores (3 folds)" in page and "rows with 4 labels" in page and f"{oof['rmse']:.3f}" in page


def test_an_interrupted_k_fold_run_resumes_to_the_same_weights(two_regimes, tmp_path):
    from facekeypoints import train

    full = train(_cfg(two_regimes, folds=2), runs_root=tmp_path / "a", progress=False, evaluate_test=False)
    part = train(_cfg(two_regimes, folds=2), runs_root=tmp_path / "b", progress=False, evaluate_test=False,
                 stop_after=1)
    assert not (part / "fold0" / "model.safetensors").exists() and not (part / "oof.json").exists()
    train(resume=part, progress=False, evaluate_test=False)
    for k in range(2):
        a = load_file(str(full / f"fold{k}" / "model.safetensors"))
        b = load_file(str(part / f"fold{k}" / "model.safetensors"))
        assert all(np.array_equal(a[n].numpy(), b[n].numpy()) for n in a)
    assert json.loads((part / "oof.json").read_text())["rmse"] == json.loads((full / "oof.json").read_text())["rmse"]


def test_fold_settings_are_checked():
    with pytest.raises(ValueError, match="folds=1"):
        make_config("tiny", data="x", folds=1)
    with pytest.raises(ValueError, match="fold=3"):
        make_config("tiny", data="x", folds=3, fold=3)
    from facekeypoints.training.train import train as fit

    with pytest.raises(ValueError, match="k-fold training is facekeypoints.train"):
        fit(make_config("tiny", data="x", folds=3))
