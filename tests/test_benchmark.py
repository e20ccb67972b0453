import json

import numpy as np

from facekeypoints.benchmark import fake_kaggle_training
from facekeypoints.cli import main
from facekeypoints.data.kaggle import load_training


def test_fake_kaggle_csv_has_kaggle_shape(tmp_path):
    ds = load_training(fake_kaggle_training(tmp_path / "training.csv", rows=30, complete=9), use_cache=False)
    present = np.isfinite(ds.keypoints[..., 0])
    assert len(ds) == 30 and present.all(1).sum() == 9 and present.sum(1).min() == 4


def test_benchmark_infer_json_contract(capsys):
    assert main(["benchmark", "infer", "--model", "paper_tiny", "--threads", "1", "--batch", "8"]) == 0
    out = json.loads(capsys.readouterr().out)
    for backend in ("onnx", "torch"):
        b = out["backends"][backend]
        assert {"latency_ms_p50", "latency_ms_p99", "throughput_faces_per_s"} <= set(b)
        assert 0 < b["latency_ms_p50"] <= b["latency_ms_p99"]
    # without --images the pipeline is timed on the project's own sample picture
    assert out["pipeline_ms_per_image"] > 0 and out["pipeline_images"] == "sample picture"


def test_benchmark_train_json_contract(kaggle_dir, capsys):
    assert main(["benchmark", "train", "--data", str(kaggle_dir), "--recipe", "tiny", "--epochs", "1",
                 "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"device", "baseline_s", "fast_s", "ratio"} <= set(out)
    assert out["ratio"] == out["baseline_s"] / out["fast_s"]
    assert np.isfinite(out["baseline_test_rmse"]) and np.isfinite(out["fast_test_rmse"])


def test_benchmark_infer_times_the_pipeline_on_a_folder(tmp_path, capsys):
    import cv2

    cv2.imwrite(str(tmp_path / "blank.png"), np.full((120, 160), 128, np.uint8))
    assert main(["benchmark", "infer", "--model", "paper_tiny", "--threads", "1", "--batch", "4",
                 "--images", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["pipeline_ms_per_image"] > 0
