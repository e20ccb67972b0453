import json

import pytest
import torch

from facekeypoints.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from facekeypoints.keypoints import FLIP_IDX
from facekeypoints.models import create_model


def test_round_trip(tmp_path):
    torch.manual_seed(0)
    m = create_model("paper_tiny").eval()
    jpath = save_checkpoint(tmp_path / "model.safetensors", m, "paper_tiny", {"config": {"lr": 1}})
    meta = json.loads(jpath.read_text())
    assert meta["flip_idx"] == list(FLIP_IDX) and meta["input"]["size"] == 96
    m2, meta2 = load_checkpoint(tmp_path)
    x = torch.rand(3, 1, 96, 96) * 255
    with torch.no_grad():
        assert torch.equal(m(x), m2(x))
    assert meta2["config"] == {"lr": 1}


def test_no_pickle_file_is_written(tmp_path):
    save_checkpoint(tmp_path / "model.safetensors", create_model("paper_tiny"), "paper_tiny", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.safetensors"]


def test_truncated_weights_give_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "model.safetensors", create_model("paper_tiny"), "paper_tiny", {})
    w = tmp_path / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.safetensors.*sha256"):
        load_checkpoint(tmp_path)


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing")
    (tmp_path / "model.json").write_text('{"format": "other"}')
    with pytest.raises(CheckpointError, match="not a facekeypoints checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path)


def test_bundled_names_resolve_or_say_clearly_they_are_missing(tmp_path, monkeypatch):
    import facekeypoints.cards as ck

    monkeypatch.setattr(ck, "bundled_path", lambda name: tmp_path / f"{name}.json")
    with pytest.raises(CheckpointError, match="no bundled model 'default'"):
        load_checkpoint("default")
    torch.manual_seed(0)
    m = create_model("paper_tiny").eval()
    save_checkpoint(tmp_path / "default.safetensors", m, "paper_tiny", {}, dtype=torch.float16)
    m2, _ = load_checkpoint("default")
    x = torch.rand(2, 1, 96, 96) * 255
    with torch.no_grad():
        assert torch.allclose(m(x), m2(x), atol=0.05)  # fp16 weights, fp32 compute
