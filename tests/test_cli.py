import json

import numpy as np
import pandas as pd
import pytest

from facekeypoints.cli import main
from facekeypoints.keypoints import KEYPOINT_NAMES
from tests.conftest import shared_path


def test_no_arguments_prints_the_grammar(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "facekeypoints MODE" in out and "examples" in out


def test_train_then_evaluate_json_contract(kaggle_dir, tmp_path, capsys):
    assert main(["train", "--recipe", "tiny", "--data", str(kaggle_dir), "--project", str(tmp_path),
                 "--quiet", "epochs=1", "batch_size=8"]) == 0
    run = tmp_path / "tiny"
    capsys.readouterr()
    assert main(["evaluate", "--model", str(run), "--data", str(kaggle_dir), "--split", "paper", "--json"]) == 0
    out = capsys.readouterr().out
    m = json.loads(out)  # exactly one JSON object on stdout
    assert {"rmse", "nme", "n_faces"} <= set(m)
    assert m["n_faces"] == len(json.loads((run / "split.json").read_text())["test"])
    assert set(m["per_keypoint_rmse"]) == set(KEYPOINT_NAMES)


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "none"), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "no checkpoint" in err and "Traceback" not in err
    assert main(["train", "--data", str(tmp_path), "epoch=3"]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err


def test_shared_youtube_faces_slice_end_to_end(tmp_path, capsys):
    """Convert a slice of the real YouTube Faces data, train a tiny model, evaluate it."""
    src_root = shared_path("youtube-faces-68")
    src = tmp_path / "src"
    src.mkdir()
    (src / "test_annotated_asis.tar").symlink_to(src_root / "test_annotated_asis.tar")
    table = pd.read_csv(src_root / "test_frames_keypoints.csv")
    table.iloc[:60].to_csv(src / "test_frames_keypoints.csv", index=False)
    out = tmp_path / "yt15"
    assert main(["data", "convert", str(src), str(out), "--quiet"]) == 0
    meta = pd.read_csv(out / "meta.csv")
    assert len(meta) == 60 and meta["source"].str.startswith("test/").all()
    from facekeypoints.data import load_training

    ds = load_training(out)
    eyes = np.nanmean(ds.keypoints[:, :2], axis=0)  # framed where Kaggle's eyes are
    assert np.allclose(eyes, [[66, 38], [30, 38]], atol=4)
    assert main(["train", "--recipe", "tiny", "--data", str(out), "--project", str(tmp_path / "runs"),
                 "--quiet", "epochs=2", "batch_size=16"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "runs" / "tiny"), "--data", str(out), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["n_faces"] > 0 and np.isfinite(m["rmse"]) and np.isfinite(m["nme"])
    split = json.loads((tmp_path / "runs" / "tiny" / "split.json").read_text())
    people = {k: set(ds.identities[v]) for k, v in split.items() if k in ("train", "val", "test")}
    assert not (people["train"] & people["test"])


@pytest.mark.parametrize("mode", ["data", "train", "evaluate", "models"])
def test_every_mode_has_help(mode, capsys):
    with pytest.raises(SystemExit) as e:
        main([mode, "--help"])
    assert e.value.code == 0 and "usage" in capsys.readouterr().out


def test_report_is_self_contained_html(kaggle_dir, tmp_path):
    assert main(["train", "--recipe", "tiny", "--data", str(kaggle_dir), "--project", str(tmp_path),
                 "--quiet", "epochs=2", "batch_size=8"]) == 0
    assert main(["report", str(tmp_path / "tiny")]) == 0
    page = (tmp_path / "tiny" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5 and "RMSE" in page and "paper_tiny" in page
    assert "src=\"http" not in page and "<link" not in page  # nothing fetched from elsewhere
    assert main(["report", str(tmp_path)]) == 2  # not a run folder: a clear error


def test_evaluate_an_ensemble_of_two_checkpoints(kaggle_dir, tmp_path, capsys):
    for seed in (0, 1):
        assert main(["train", "--recipe", "tiny", "--data", str(kaggle_dir), "--project", str(tmp_path),
                     "--name", f"s{seed}", "--quiet", "epochs=1", "batch_size=8", f"seed={seed}"]) == 0
    capsys.readouterr()
    runs = [str(tmp_path / "s0"), str(tmp_path / "s1")]
    assert main(["evaluate", "--model", runs[0], "--model", runs[1], "--data", str(kaggle_dir), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["model"] == "paper_tiny+paper_tiny" and len(m["checkpoint"]) == 2 and np.isfinite(m["rmse"])


def test_cumulative_error_curve_is_drawn_even_when_every_face_fails(tmp_path):
    """A weak model's faces all lie beyond 15% NME: the curve must still be on the chart, with a legend."""
    import cv2

    from facekeypoints.evaluation.report import ced_curve

    png = ced_curve(tmp_path / "ced.png", [0.3, 0.35, 0.4, None, 0.5], "tiny")
    img = cv2.imread(str(png))
    b, g, r = (img[..., i].astype(int) for i in range(3))
    line = (abs(r - 31) < 30) & (abs(g - 119) < 30) & (abs(b - 180) < 30)  # matplotlib's first colour
    assert line.sum() > 200
    cols = np.nonzero(line.any(0))[0]
    assert cols.max() - cols.min() > img.shape[1] / 3  # a curve across the plot, not a stub at its edge


def test_models_lists_each_bundled_model_with_its_card(capsys):
    from facekeypoints.cards import BUNDLED, read_card

    assert main(["models"]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.strip()}
    for name in BUNDLED:
        card = read_card(name)
        got = card["measured"]
        row = lines[name]
        assert f"{card['input']['size']}px gray" in row and "15+68" in row
        assert f"{100 * got['test_nme']:.2f}%" in row
        assert f"{100 * got['wild_val_nme']:.2f}% / {100 * got['wild_val_nme68']:.2f}%" in row  # 15 beside 68
