"""Batch predict: worker processes, resuming a run cut short, saved pictures that mirror the folders."""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import cv2
import numpy as np
import pytest

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.cli import main
from facekeypoints.models import create_model
from facekeypoints.photos.batch import done_inputs, find_inputs, run_predict
from facekeypoints.photos.predict import KeypointDetector
from tests.conftest import shared_path


@pytest.fixture
def tiny_model(tmp_path):
    save_checkpoint(tmp_path / "m" / "model.safetensors", create_model("paper_tiny").eval(), "paper_tiny",
                    {"config": {"tta_flip": True}})
    return tmp_path / "m"


@pytest.fixture
def photo_folder(tmp_path):
    """Two sub-folders of real face frames (moved, scaled copies) that reuse file names, plus a bad file."""
    names = ("Abdullah_Gul_11", "Luis_Fonsi_21", "Abdel_Aziz_Al-Hakim_00")
    with tarfile.open(shared_path("youtube-faces-68", "test_annotated_asis.tar")) as tf:
        frames = [cv2.imdecode(np.frombuffer(tf.extractfile(m).read(), np.uint8), cv2.IMREAD_COLOR)
                  for m in tf.getmembers()[:3]]
    root = tmp_path / "photos"
    for sub, shift in (("a", 0), ("b", 7)):
        (root / sub).mkdir(parents=True)
        for name, img in zip(names, frames, strict=True):
            moved = np.roll(img, shift, axis=1)
            cv2.imwrite(str(root / sub / f"{name}.jpg"), moved)
            cv2.imwrite(str(root / sub / f"{name}_big.png"), cv2.resize(moved, None, fx=1.6, fy=1.6))
    (root / "b" / "broken.jpg").write_bytes(b"not a picture")
    return root


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def _same(a: list[dict], b: list[dict]) -> None:
    assert [r["path"] for r in a] == [r["path"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert ra["error"] == rb["error"] and len(ra["faces"]) == len(rb["faces"])
        for fa, fb in zip(ra["faces"], rb["faces"], strict=True):
            for name, k in fa["keypoints"].items():
                assert abs(k["x"] - fb["keypoints"][name]["x"]) <= 0.01
                assert abs(k["y"] - fb["keypoints"][name]["y"]) <= 0.01


def test_two_workers_write_the_records_one_process_writes(photo_folder, tiny_model, tmp_path):
    det = KeypointDetector.from_pretrained(tiny_model)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    s1 = run_predict([str(photo_folder)], det, workers=1, output=one)
    s2 = run_predict([str(photo_folder)], det, workers=2, output=two)
    assert s1["workers"] == 1 and s2["workers"] == 2 and s1["images"] == s2["images"] == 13
    _same(_records(one.read_text()), _records(two.read_text()))
    assert sum(len(r["faces"]) for r in _records(one.read_text())) >= 10


def test_saved_pictures_mirror_the_input_folders(photo_folder, tiny_model, tmp_path, capsys):
    out = tmp_path / "drawn"
    assert main(["predict", str(photo_folder), "--model", str(tiny_model), "--save-images", str(out),
                 "--workers", "1", "-o", str(tmp_path / "r.jsonl")]) == 0
    saved = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "a/Abdullah_Gul_11.jpg" in saved and "b/Abdullah_Gul_11.jpg" in saved and len(saved) == 12
    err = capsys.readouterr().err
    assert f"records in {tmp_path / 'r.jsonl'}" in err and f"pictures in {out}/" in err
    # the same name from two places named directly: the second gets its own name, and the summary says so
    a, b = photo_folder / "a" / "Luis_Fonsi_21.jpg", photo_folder / "b" / "Luis_Fonsi_21.jpg"
    assert [i.rel.as_posix() for i in find_inputs([str(a), str(b)])] == ["Luis_Fonsi_21.jpg"] * 2  # absolute paths
    s = run_predict([str(a), str(b)], KeypointDetector.from_pretrained(tiny_model), save_images=str(tmp_path / "two"),
                    workers=1, output=tmp_path / "two.jsonl")
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["Luis_Fonsi_21.jpg", "Luis_Fonsi_21_2.jpg"]
    assert s["renamed"] == [f"{b} -> Luis_Fonsi_21_2.jpg"]


def test_resume_skips_whole_inputs_and_cuts_a_half_written_line(photo_folder, tiny_model, tmp_path):
    det = KeypointDetector.from_pretrained(tiny_model)
    full = tmp_path / "full.jsonl"
    run_predict([str(photo_folder)], det, workers=1, output=full)
    lines = full.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])  # a crash in the middle of a line
    assert len(done_inputs(cut)) == 5 and cut.read_text() == "".join(lines[:5])
    cut.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])
    s = run_predict([str(photo_folder)], det, workers=2, output=cut, resume=True)
    assert s["skipped_done"] == 5 and s["images"] == 8
    _same(_records(full.read_text()), _records(cut.read_text()))
    with pytest.raises(ValueError, match="-o FILE"):
        run_predict([str(photo_folder)], det, resume=True)


@pytest.mark.fault
def test_kill_9_then_resume_gives_the_uninterrupted_output(photo_folder, tiny_model, tmp_path):
    det = KeypointDetector.from_pretrained(tiny_model)  # exports the ONNX graph into the cache first
    full = tmp_path / "full.jsonl"
    run_predict([str(photo_folder)] * 1, det, workers=1, output=full)
    for i in range(4):  # more inputs, so the kill lands mid-run
        (photo_folder / f"c{i}").mkdir()
        for p in (photo_folder / "a").iterdir():
            (photo_folder / f"c{i}" / p.name).write_bytes(p.read_bytes())
    full = tmp_path / "full2.jsonl"
    run_predict([str(photo_folder)], det, workers=1, output=full)
    out = tmp_path / "killed.jsonl"
    cmd = [sys.executable, "-m", "facekeypoints", "predict", str(photo_folder), "--model", str(tiny_model),
           "--workers", "1", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert main(["predict", str(photo_folder), "--model", str(tiny_model), "--workers", "2", "-o", str(out),
                 "--resume"]) == 0
    _same(_records(full.read_text()), _records(out.read_text()))
