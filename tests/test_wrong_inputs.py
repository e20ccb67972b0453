"""Every mode against wrong inputs: a non-zero exit, no traceback, one short message that names
the file, field or flag and says what was wrong (issue: "what a new user trips over")."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.cli import main
from facekeypoints.models import create_model
from tests.conftest import kaggle_csv_bytes, synthetic_faces


@pytest.fixture
def place(tmp_path):
    """A folder of things to get wrong: an empty folder, a file, a tiny model, a broken one, bad CSVs."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file.txt").write_text("not a folder")
    save_checkpoint(tmp_path / "m" / "model.safetensors", create_model("paper_tiny").eval(), "paper_tiny", {})
    (tmp_path / "broken").mkdir()
    save_checkpoint(tmp_path / "broken" / "model.safetensors", create_model("paper_tiny").eval(), "paper_tiny", {})
    w = tmp_path / "broken" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    imgs, kps = synthetic_faces(12)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "training.csv").write_bytes(kaggle_csv_bytes(imgs, kps))
    pixels = " ".join(map(str, imgs[0].reshape(-1).tolist()))
    (tmp_path / "good" / "test.csv").write_text(f"ImageId,Image\n1,{pixels}\n")
    (tmp_path / "header").mkdir()
    (tmp_path / "header" / "training.csv").write_text("a,b,c\n1,2,3\n")
    (tmp_path / "pixels").mkdir()
    raw = kaggle_csv_bytes(imgs[:3], kps[:3]).decode().splitlines()
    raw[2] = raw[2].rsplit(" ", 5)[0]  # row 2's image loses 5 pixel values
    (tmp_path / "pixels" / "training.csv").write_text("\n".join(raw) + "\n")
    (tmp_path / "lookup.csv").write_text("RowId,ImageId,FeatureName,Location\n1,1,nose_tip,\n")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "run").mkdir()  # a run folder to resume
    (tmp_path / "run" / "config.json").write_text('{"recipe": "tiny", "model": "paper_tiny"}')
    return tmp_path


# (name, argv with {p} for the place, what the message must contain, expected exit code or None = any non-zero)
CASES = [
    ("train: empty data folder", "train --recipe tiny --data {p}/empty", "no training.csv", 2),
    ("train: data is a text file", "train --recipe tiny --data {p}/a_file.txt", "a_file.txt", 2),
    ("train: no data at all", "train --recipe tiny", "--data", 2),
    ("train: unknown recipe", "train --recipe nosuch --data {p}/good", "--recipe", 2),
    ("train: unknown key", "train --recipe tiny --data {p}/good epochz=3", "did you mean 'epochs'", 2),
    ("train: key without value", "train --recipe tiny --data {p}/good epochs", "key=value", 2),
    ("train: wrong type", "train --recipe tiny --data {p}/good epochs=abc", "epochs", 2),
    ("train: out of range", "train --recipe tiny --data {p}/good tta_views=12", "tta_views", 2),
    ("train: bad choice", "train --recipe tiny --data {p}/good loss=huber", "loss", 2),
    ("train: resume a missing run", "train --resume {p}/nosuchrun", "nosuchrun", 2),
    ("train: bad CSV header", "train --recipe tiny --data {p}/header", "not a Kaggle training.csv header", 2),
    ("train: wrong pixel count", "train --recipe tiny --data {p}/pixels", "row", 2),
    ("train: teacher that is no checkpoint", "train --recipe tiny --data {p}/good teacher={p}/nosuch",
     "teacher=", 2),
    ("train: option the network lacks", "train --recipe tiny --data {p}/good antialias=True", "does not take", 2),
    ("train: teacher weight out of range", "train --recipe tiny --data {p}/good teacher_weight=2", "teacher_weight", 2),
    ("evaluate: empty data folder", "evaluate --model {p}/m --data {p}/empty", "no training.csv", 2),
    ("evaluate: missing model", "evaluate --model {p}/nosuch --data {p}/good", "nosuch", 2),
    ("evaluate: corrupt checkpoint", "evaluate --model {p}/broken --data {p}/good", "model.safetensors", 2),
    ("evaluate: views out of range", "evaluate --model {p}/m --data {p}/good --tta-views 99", "tta_views", 2),
    ("data info: empty folder", "data info {p}/empty", "no training.csv", 2),
    ("data info: no path", "data info", "PATH", 2),
    ("data show: empty folder", "data show {p}/empty -o {p}/x.png", "no training.csv", 2),
    ("data show: -n 0", "data show {p}/good -o {p}/x.png -n 0", "-n", 2),
    ("data pack: empty folder", "data pack {p}/empty {p}/x.npz", "no training.csv", 2),
    ("data convert: missing source", "data convert {p}/nosuch {p}/out", "nosuch", 2),
    ("data convert: no faces", "data convert {p}/empty {p}/out", "no usable", 2),
    ("predict: missing file", "predict {p}/nosuch.jpg --model {p}/m", "nosuch.jpg", 1),
    ("predict: unreadable image", "predict {p}/bad.jpg --model {p}/m", "bad.jpg", 1),
    ("predict: folder without images", "predict {p}/empty --model {p}/m", "no image or video matched", 1),
    ("predict: glob without matches", "predict {p}/*.png --model {p}/m", "no image or video matched", 1),
    ("predict: --save-images is a file", "predict --model {p}/m --save-images {p}/a_file.txt", "--save-images", 2),
    ("predict: --smooth too big", "predict --model {p}/m --smooth 5", "--smooth", 2),
    ("predict: --smooth negative", "predict --model {p}/m --smooth -1", "--smooth", 2),
    ("predict: --detect-every 0", "predict --model {p}/m --detect-every 0", "detect_every=0", 2),
    ("predict: --min-cutoff negative", "predict --model {p}/m --min-cutoff -1", "min_cutoff=-1", 2),
    ("train: --folds 1", "train --recipe tiny --data {p} --folds 1", "folds=1", 2),
    ("predict: --min-score > 1", "predict --model {p}/m --min-score 2", "--min-score", 2),
    ("predict: unknown model", "predict --model nosuchmodel", "nosuchmodel", 2),
    ("predict: corrupt checkpoint", "predict --model {p}/broken", "model.safetensors", 2),
    ("predict: --detect-size 10", "predict --model {p}/m --detect-size 10", "--detect-size", 2),
    ("predict: unknown detector", "predict --model {p}/m --detector mtcnn", "--detector", 2),
    ("predict: unknown device", "predict --model {p}/m --device tpu", "device 'tpu'", 2),
    ("evaluate: unknown device", "evaluate --model {p}/m --data {p}/good --device quantum", "device 'quantum'", 2),
    ("submit: missing test.csv", "submit --model {p}/m --test {p}/nosuch.csv --lookup {p}/lookup.csv -o {p}/s.csv",
     "nosuch.csv", 2),
    ("submit: missing lookup", "submit --model {p}/m --test {p}/good --lookup {p}/nolookup.csv -o {p}/s.csv",
     "nolookup.csv", 2),
    ("export: missing model", "export --model {p}/nosuch", "nosuch", 2),
    ("export: corrupt checkpoint", "export --model {p}/broken", "model.safetensors", 2),
    ("benchmark: recipe the plain loop cannot follow", "benchmark train --data {p}/good --recipe hmnet_t --device cpu",
     "plain loop", 2),
    ("benchmark: empty data folder", "benchmark train --data {p}/empty --recipe tiny --device cpu",
     "no training.csv", 2),
    ("serve: port out of range", "serve --model {p}/m --port 99999", "--port", 2),
    ("serve: port not a number", "serve --model {p}/m --port http", "--port", 2),
    ("report: not a run folder", "report {p}/empty", "not a run folder", 2),
    ("report: missing folder", "report {p}/nosuch", "nosuch", 2),
    ("no such mode", "fly", "invalid choice", 2),
    ("train: unknown network", "train --recipe tiny --data {p}/good model=mobil_m", "did you mean", 2),
    ("train: ensemble is not trained", "train --recipe tiny --data {p}/good model=ensemble", "bundle_model", 2),
    ("train: resume with a fixed key", "train --resume {p}/run lr=0.1", "cannot change when resuming", 2),
    ("data convert: holdout without its folder", "data convert {p}/empty {p}/out --holdout 0.2", "--holdout-dir", 2),
    ("data convert: holdout out of range", "data convert {p}/empty {p}/out --holdout 1.5", "--holdout", 2),
    ("predict: 68 points from a 15-point model", "predict --model {p}/m --points 68", "no 68-point head", 2),
    ("predict: --points 20", "predict --model {p}/m --points 20", "--points", 2),
    ("predict: --resume without -o", "predict --model {p}/m --resume", "-o FILE", 2),
    ("predict: --names without --save-images", "predict --model {p}/m --names", "--save-images", 2),
    ("predict: --workers 0", "predict --model {p}/m --workers 0", "--workers", 2),
    ("predict: --ray with --save-images", "predict --model {p}/m --ray --save-images {p}/out", "--ray", 2),
    ("predict: --ray with a video option", "predict --model {p}/m --ray --detect-every 3", "video option", 2),
    ("predict: --resume on a file that is no predict output", "predict --model {p}/m -o {p}/lookup.csv --resume",
     "not a predict record", 2),
]


@pytest.mark.parametrize(("argv", "needle", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_wrong_input_is_one_clear_line(place, argv, needle, code, capsys, monkeypatch):
    monkeypatch.delenv("FACEKEYPOINTS_DATA", raising=False)
    args = [a.replace("{p}", str(place)) for a in argv.split()]
    try:
        rc = main(args)
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc != 0 and (code is None or rc == code), (rc, err)
    assert "Traceback" not in err
    message = [line for line in err.splitlines() if "error" in line.lower()]
    assert message, err
    assert needle.lower() in err.lower(), err
    assert all(len(line) < 400 for line in message), message


def test_serve_without_its_extra_says_what_to_install(place, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if `pip install facekeypoints` without [serve]
    monkeypatch.delitem(sys.modules, "facekeypoints.photos.serve", raising=False)
    assert main(["serve", "--model", str(place / "m")]) == 2
    err = capsys.readouterr().err
    assert "facekeypoints[serve]" in err and "Traceback" not in err


def test_failed_train_leaves_no_run_folder(place, monkeypatch):
    monkeypatch.chdir(place)
    assert main(["train", "--recipe", "tiny", "--data", str(place / "empty")]) == 2
    assert main(["train", "--recipe", "tiny", "--data", str(place / "good"), "model=nosuchnet"]) == 2
    assert not (place / "runs" / "train" / "tiny").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("argv", ["predict --model {p}/m --device cuda",
                                  "evaluate --model {p}/m --data {p}/good --device cuda",
                                  "train --recipe tiny --data {p}/good device=cuda"])
def test_cuda_asked_where_there_is_none_is_a_clear_error(place, argv, capsys):
    assert main([a.replace("{p}", str(place)) for a in argv.split()]) == 2
    err = capsys.readouterr().err
    assert "no such CUDA device" in err and "Traceback" not in err


def test_the_table_covers_every_mode():
    modes = {c[1].split()[0] for c in CASES}
    assert {"train", "evaluate", "data", "predict", "submit", "export", "benchmark", "serve", "report"} <= modes
    assert len(CASES) >= 25 and np.all([len(c) == 4 for c in CASES])
