"""The Ray Data adapter on a local Ray (2 CPUs) gives the records one process gives."""

import json
import os

import numpy as np
import pytest

from facekeypoints.cli import main
from facekeypoints.photos.batch import run_predict
from facekeypoints.photos.predict import KeypointDetector
from tests.photos.test_batch import _records, _same, photo_folder, tiny_model  # noqa: F401 - fixtures

if os.environ.get("CI") == "true":
    import ray  # CI installs the [ray] extra: a missing Ray fails there instead of skipping
else:
    ray = pytest.importorskip("ray")


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_predict_on_ray_writes_what_one_process_writes(photo_folder, tiny_model, tmp_path, local_ray):  # noqa: F811
    from facekeypoints.ray import KeypointPredictor, predict_on_ray

    det = KeypointDetector.from_pretrained(tiny_model)
    one = tmp_path / "one.jsonl"
    run_predict([str(photo_folder)], det, workers=1, output=one)
    on_ray = tmp_path / "ray.jsonl"
    s = predict_on_ray([str(photo_folder)], det.settings, output=on_ray, actors=2)
    assert s["images"] == 13 and s["workers"] == 2
    _same(_records(one.read_text()), _records(on_ray.read_text()))
    # the adapter on a batch of bytes, as read_binary_files gives them (called here, as an actor calls it)
    paths = sorted((photo_folder / "a").iterdir())[:2]
    batch = {"bytes": np.array([p.read_bytes() for p in paths], dtype=object),
             "path": np.array([str(p) for p in paths], dtype=object)}
    out = KeypointPredictor(str(tiny_model))(batch)
    expected = {r["path"]: r for r in _records(one.read_text())}
    for i, p in enumerate(paths):
        assert out["path"][i] == str(p) and out["width"][i] == expected[str(p)]["width"]
        assert json.loads(out["faces"][i]) == expected[str(p)]["faces"]


def test_predict_ray_flag_refuses_what_it_cannot_do(photo_folder, tiny_model, capsys):  # noqa: F811
    assert main(["predict", str(photo_folder), "--model", str(tiny_model), "--ray", "--save-images", "x"]) == 2
    assert "--save-images is not available with --ray" in capsys.readouterr().err
