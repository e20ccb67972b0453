import numpy as np
import pytest
import torch

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.cli import main
from facekeypoints.inference.crops import predict_crops
from facekeypoints.inference.export import OnnxRunner
from facekeypoints.models import create_model


@pytest.mark.parametrize(("name", "tta"), [("mobile_s", False), ("mobile_hm", True), ("hmnet_s", True),
                                          ("paper_tiny", True)])
def test_onnx_agrees_with_torch(tmp_path, name, tta):
    torch.manual_seed(0)
    model = create_model(name)
    model.train()
    with torch.no_grad():  # move BN statistics off their defaults so the test means something
        model(torch.rand(8, 1, 96, 96) * 255)
    model.eval()
    save_checkpoint(tmp_path / "model.safetensors", model, name, {"config": {"tta_flip": tta}})
    assert main(["export", "--model", str(tmp_path), "-o", str(tmp_path / "m.onnx")]) == 0
    runner = OnnxRunner(tmp_path / "m.onnx", threads=1)
    crops = np.random.default_rng(0).integers(0, 256, (5, 96, 96)).astype(np.uint8)
    got = runner(crops)
    from facekeypoints.inference.tta import TestTimeAugment

    want = predict_crops(TestTimeAugment(model, flip=tta), crops)
    assert got.shape == (5, 15, 2)
    assert np.abs(got - want).max() < 1e-3
    assert runner.meta["flip_tta_in_graph"] is tta and runner.meta["model"] == name


def test_onnx_graph_holds_the_test_time_views(tmp_path):
    from facekeypoints.inference.tta import with_tta

    torch.manual_seed(0)
    model = create_model("hmnet_t").eval()
    meta = {"config": {"tta_flip": True, "tta_views": 4}}
    save_checkpoint(tmp_path / "model.safetensors", model, "hmnet_t", dict(meta))
    assert main(["export", "--model", str(tmp_path), "-o", str(tmp_path / "m.onnx")]) == 0
    crops = np.random.default_rng(1).integers(0, 256, (3, 96, 96)).astype(np.uint8)
    got = OnnxRunner(tmp_path / "m.onnx", threads=1)(crops)
    want = predict_crops(with_tta(model, meta), crops)
    assert np.abs(got - want).max() < 1e-3
    assert np.abs(want - predict_crops(model, crops)).max() > 1e-3  # the views did change the answer


def test_pair_graph_gives_both_flip_halves_as_predict_uses_them(tmp_path):
    from facekeypoints.inference.export import export_onnx
    from facekeypoints.inference.tta import with_tta

    torch.manual_seed(0)
    model = create_model("mobile_s").eval()
    meta = {"config": {"tta_views": 2}}
    save_checkpoint(tmp_path / "model.safetensors", model, "mobile_s", dict(meta))
    export_onnx(tmp_path, tmp_path / "p.onnx", pair=True)
    crops = np.random.default_rng(2).integers(0, 256, (4, 96, 96)).astype(np.uint8)
    a, b = OnnxRunner(tmp_path / "p.onnx", threads=1)(crops)
    ta, tb = with_tta(model, meta).pair(torch.from_numpy(crops).float()[:, None])
    assert np.abs(a - ta.detach().numpy()).max() < 1e-3 and np.abs(b - tb.detach().numpy()).max() < 1e-3


def test_a_128_px_model_exports_and_its_runner_never_spins(tmp_path):
    """The graph takes the model's own side; the runner's threads do not busy-wait between runs
    unless asked (they took the cores from the face detector in ``predict``)."""
    torch.manual_seed(0)
    model = create_model("mobile_s", input_size=128).eval()
    save_checkpoint(tmp_path / "model.safetensors", model, "mobile_s", {"model_args": {"input_size": 128}})
    assert main(["export", "--model", str(tmp_path), "-o", str(tmp_path / "m.onnx")]) == 0
    runner = OnnxRunner(tmp_path / "m.onnx")
    assert runner.session.get_inputs()[0].shape[-2:] == [128, 128]
    crops = np.random.default_rng(0).integers(0, 256, (3, 128, 128)).astype(np.uint8)
    assert np.abs(runner(crops) - predict_crops(model, crops)).max() < 1e-3
    entry = "session.intra_op.allow_spinning"
    assert runner.session.get_session_options().get_session_config_entry(entry) == "0"
    spinning = OnnxRunner(tmp_path / "m.onnx", spin=True).session.get_session_options()
    with pytest.raises(RuntimeError):  # not set: onnxruntime's default, which spins
        spinning.get_session_config_entry(entry)


def test_a_colour_model_exports_with_three_input_planes(tmp_path):
    torch.manual_seed(0)
    model = create_model("mobile_s", input_channels=3)
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 96, 96) * 255)
    model.eval()
    save_checkpoint(tmp_path / "model.safetensors", model, "mobile_s",
                    {"model_args": {"input_channels": 3}, "config": {"tta_flip": True}})
    assert main(["export", "--model", str(tmp_path), "-o", str(tmp_path / "m.onnx")]) == 0
    runner = OnnxRunner(tmp_path / "m.onnx", threads=1)
    assert runner.session.get_inputs()[0].shape[1:] == [3, 96, 96] and runner.meta["input"]["channels"] == 3
    crops = np.random.default_rng(0).integers(0, 256, (4, 3, 96, 96)).astype(np.uint8)
    from facekeypoints.inference.tta import TestTimeAugment

    want = predict_crops(TestTimeAugment(model, flip=True), crops)
    assert np.abs(runner(crops) - want).max() < 1e-3
    with pytest.raises(ValueError, match="reads BGR crops, these faces are grey"):
        predict_crops(model, crops[:, 0])
