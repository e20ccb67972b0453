"""Distillation: teacher labels, their cache, the leak guard, and the blended targets."""

import pytest
import torch

import facekeypoints.training.distill as distill
from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.config import make_config
from facekeypoints.models import create_model
from facekeypoints.training.distill import blend, teacher_labels
from facekeypoints.training.train import load_train_data, train


def _teacher(tmp_path, faces=()):
    torch.manual_seed(0)
    model = create_model("paper_tiny")
    return save_checkpoint(tmp_path / "teacher.safetensors", model, "paper_tiny",
                           {"config": {"tta_flip": True}, "training_faces": list(faces)})


def test_blend_mixes_present_labels_and_fills_missing_ones():
    truth = torch.tensor([[[10.0, 20.0], [float("nan"), float("nan")]]])
    teacher = torch.tensor([[[12.0, 24.0], [5.0, 6.0]]])
    out = blend(truth, teacher, 0.25)
    assert torch.allclose(out, torch.tensor([[[10.5, 21.0], [5.0, 6.0]]]))
    assert torch.equal(blend(truth, teacher, 1.0), teacher)


def test_teacher_labels_are_the_teachers_answers_and_are_cached(tmp_path, monkeypatch):
    path = _teacher(tmp_path)
    images = torch.randint(0, 256, (5, 96, 96), dtype=torch.uint8)
    labels, seen = teacher_labels(str(path), images)
    assert seen == set()
    assert labels.shape == (5, 15, 2) and torch.isfinite(labels).all()
    from facekeypoints.checkpoint import load_checkpoint
    from facekeypoints.inference.tta import TestTimeAugment

    model, _ = load_checkpoint(path)
    with torch.no_grad():  # the config's flip TTA is used
        expected = TestTimeAugment(model, flip=True)(images[:, None].float())
    assert torch.allclose(labels, expected, atol=1e-4)

    def boom(*a, **k):
        raise AssertionError("labelled again instead of reading the cache")

    monkeypatch.setattr(distill, "predict_crops", boom)
    assert torch.equal(teacher_labels(str(path), images)[0], labels)
    with pytest.raises(AssertionError):  # other faces are not in the cache
        teacher_labels(str(path), images.flip(-1).contiguous())


def test_a_teacher_that_saw_held_out_faces_is_refused(tmp_path):
    path = _teacher(tmp_path, faces=["abc", "def"])
    images = torch.zeros((2, 96, 96), dtype=torch.uint8)
    assert teacher_labels(str(path), images, forbidden={"xyz"})[1] == {"abc", "def"}
    with pytest.raises(ValueError, match="1 of this split's validation/test faces"):
        teacher_labels(str(path), images, forbidden={"def", "xyz"})
    with pytest.raises(ValueError, match="reads 96x96 crops"):
        teacher_labels(str(path), torch.zeros((2, 64, 64), dtype=torch.uint8))


def test_training_targets_follow_the_teacher(kaggle_dir, tmp_path):
    path = _teacher(tmp_path)
    plain = load_train_data(make_config("tiny", data=str(kaggle_dir)))
    cfg = make_config("tiny", data=str(kaggle_dir), teacher=str(path), teacher_weight=1.0)
    taught = load_train_data(cfg)
    assert torch.isfinite(taught.y_train).all()  # missing labels filled in
    assert torch.isnan(plain.y_train).any()
    labels = teacher_labels(str(path), plain.x_train)[0]
    assert torch.equal(taught.y_train, labels)
    half = load_train_data(make_config("tiny", data=str(kaggle_dir), teacher=str(path), teacher_weight=0.5))
    present = torch.isfinite(plain.y_train)
    assert torch.allclose(half.y_train[present], (plain.y_train[present] + labels[present]) / 2)
    run = train(make_config("tiny", data=str(kaggle_dir), teacher=str(path), epochs=1, threads=1),
                runs_root=tmp_path / "runs", progress=False)
    assert (run / "model.safetensors").exists()
    taught_by = load_train_data(make_config("tiny", data=str(kaggle_dir), teacher=str(_teacher(tmp_path, ["t1"]))))
    assert "t1" in taught_by.seen and "t1" not in plain.seen  # evaluate warns about the teacher's faces too
