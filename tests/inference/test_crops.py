import numpy as np
import torch

from facekeypoints.inference.crops import pick_device, predict_crops
from facekeypoints.inference.tta import TestTimeAugment
from facekeypoints.models import create_model
from facekeypoints.warps import unflip_keypoints


def test_batches_do_not_change_the_answer_and_the_model_mode_is_restored():
    model = create_model("paper_tiny").train()
    crops = np.random.default_rng(0).integers(0, 255, (7, 96, 96), dtype=np.uint8)
    a = predict_crops(model, crops, batch_size=3)
    b = predict_crops(model, crops, batch_size=64)
    assert a.shape == (7, 15, 2) and np.allclose(a, b, atol=1e-4)
    assert model.training  # put back as it was
    assert predict_crops(model, crops[:0]).shape == (0, 15, 2)


def test_flip_averages_with_the_mirrored_answer():
    model = create_model("paper_tiny").eval()
    crops = np.random.default_rng(1).integers(0, 255, (2, 96, 96), dtype=np.uint8)
    plain = predict_crops(model, crops)
    mirrored = predict_crops(model, crops[:, :, ::-1].copy())
    back = unflip_keypoints(torch.from_numpy(mirrored), 96).numpy()
    assert np.allclose(predict_crops(TestTimeAugment(model, flip=True), crops), 0.5 * (plain + back), atol=1e-4)
    a, b = TestTimeAugment(model).pair(torch.from_numpy(crops).float()[:, None])
    assert np.allclose(a.detach().numpy(), plain, atol=1e-4) and np.allclose(b.detach().numpy(), back, atol=1e-4)


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
