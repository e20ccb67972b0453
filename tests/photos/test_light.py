"""The light install: the photo path (predict, serve, KeypointDetector) never imports torch or OpenCV.

These tests run in the full environment (torch and OpenCV hidden from a subprocess) and in CI's
base-only virtual environment, where neither is installed at all (.ci/run).
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from facekeypoints.cards import bundled_path, read_card
from facekeypoints.fileio import sha256_file

TRAIN_ONLY = ("torch", "pandas", "matplotlib", "safetensors", "onnx", "cv2")  # [train], and [video]'s OpenCV
# Runs the CLI with the [train] and [video] extras' packages unimportable, then says which of them got loaded.
HIDE = f"""
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAIN_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name.split(".")[0])
sys.meta_path.insert(0, Hide())
from facekeypoints.cli import main
rc = main(sys.argv[1:])
print("LOADED", sorted({{m.split(".")[0] for m in sys.modules}} & set({TRAIN_ONLY!r})), file=sys.stderr)
sys.exit(rc)
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HIDE, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("model", ["default", "fast"])
def test_predict_runs_without_torch(model):
    out = _cli("predict", "--model", model, "--points", "68")
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stderr
    rec = json.loads(out.stdout.splitlines()[0])
    assert len(rec["faces"]) == 2  # the sample picture's two faces
    face = rec["faces"][0]
    assert len(face["keypoints"]) == 15 and len(face["landmarks68"]) == 68
    assert all(0 <= kp["confidence"] <= 1 for kp in face["keypoints"].values())


def test_modes_that_need_training_packages_name_the_extra(tmp_path):
    out = _cli("train", "--recipe", "tiny", "--data", str(tmp_path))
    assert out.returncode == 2 and "[train] extra" in out.stderr and "Traceback" not in out.stderr
    out = _cli("predict", "--backend", "torch")
    assert out.returncode == 2 and "backend torch needs PyTorch" in out.stderr
    out = _cli("predict", "--detector", "haar")
    assert out.returncode == 2 and "haar detector needs OpenCV" in out.stderr and "[video]" in out.stderr


def test_a_video_without_opencv_is_reported_and_the_photos_still_run(tmp_path):
    from facekeypoints.imaging import encode
    from facekeypoints.photos.sample import sample_image

    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 64)
    (tmp_path / "faces.png").write_bytes(encode(sample_image(), ".png"))
    out = _cli("predict", str(tmp_path), "--model", "fast")
    assert out.returncode == 0, out.stderr
    recs = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in out.stdout.splitlines()}
    assert len(recs["faces.png"]["faces"]) == 2
    assert "video needs OpenCV" in recs["clip.mp4"]["error"] and "[video]" in recs["clip.mp4"]["error"]
    assert "LOADED []" in out.stderr


@pytest.mark.parametrize("name", ["default", "fast"])
def test_each_bundled_card_names_its_shipped_graph(name):
    card = read_card(name)
    graph = bundled_path(name).with_suffix(".onnx")
    assert card["onnx"]["file"] == graph.name and card["onnx"]["sha256"] == sha256_file(graph)
    from facekeypoints import KeypointDetector

    det = KeypointDetector.from_pretrained(name)
    assert det.backend == "onnx"
    side = int(card["input"]["size"])  # the model's own crop side (96, or larger for a photo model)
    crops = np.random.default_rng(0).integers(0, 255, (3, side, side)).astype(np.uint8)
    pts, conf = det.predict_crops(crops)
    assert pts.shape == (3, 15, 2) and conf.shape == (3, 15) and np.isfinite(pts).all()


@pytest.mark.parametrize("name", ["default", "fast"])
def test_the_shipped_graph_equals_the_torch_model(name):
    torch = pytest.importorskip("torch")  # the full install; the base install has no torch to compare with
    from facekeypoints.checkpoint import load_checkpoint
    from facekeypoints.inference.runtime import OnnxRunner
    from facekeypoints.inference.tta import with_tta

    model, meta = load_checkpoint(name)
    net = with_tta(model, meta, all_points=True)
    side = int(meta["input"]["size"])
    crops = np.random.default_rng(1).integers(0, 255, (4, side, side)).astype(np.uint8)
    with torch.no_grad():
        a, b = net.pair(torch.from_numpy(crops).unsqueeze(1).float())
    got = OnnxRunner(bundled_path(name).with_suffix(".onnx"))(crops)
    assert got.shape == (2, 4, 83, 2)
    assert np.abs(got - np.stack([a.numpy(), b.numpy()])).max() < 1e-3  # pixels of the crop
