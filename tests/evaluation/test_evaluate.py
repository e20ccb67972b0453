import json

import numpy as np
import pytest

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.data import load_training, make_split
from facekeypoints.evaluation.evaluate import evaluate, format_table
from facekeypoints.models import create_model


@pytest.fixture
def ckpt(tmp_path):
    return save_checkpoint(tmp_path / "m" / "model.safetensors", create_model("paper_tiny").eval(), "paper_tiny", {})


def test_evaluate_scores_the_test_part_and_an_ensemble_of_one_model_is_that_model(kaggle_dir, ckpt, tmp_path):
    ds = load_training(kaggle_dir)
    test = make_split(len(ds), "paper", 0, ds.identities)["test"]
    one = evaluate(ckpt, kaggle_dir, plots=False, out_dir=tmp_path / "out")
    assert one["n_faces"] == len(test) and one["part"] == "test" and one["seen_in_training"] == 0
    assert np.isfinite(one["rmse"]) and 0 <= one["failure_rate"] <= 1
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["rmse"] == one["rmse"]
    two = evaluate([ckpt, ckpt], kaggle_dir, plots=False)
    assert two["rmse"] == pytest.approx(one["rmse"], rel=1e-6) and two["model"] == "paper_tiny+paper_tiny"
    assert "WARNING" not in format_table(one)


def test_evaluate_warns_when_shown_the_model_s_training_faces(kaggle_dir, ckpt, capsys):
    ds = load_training(kaggle_dir)
    meta = json.loads(ckpt.read_text())
    meta["training_faces"] = ds.fingerprints()  # as if every face had trained it
    ckpt.write_text(json.dumps(meta))
    m = evaluate(ckpt, kaggle_dir, plots=False)
    assert m["seen_in_training"] == m["n_faces"] > 0
    assert "training faces" in capsys.readouterr().err
    assert "WARNING" in format_table(m)
