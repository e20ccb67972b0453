"""Device placement, proved without a GPU.

Two checks over the code that runs per batch (augmentation, test-time views, validation, the
EMA, the loss, flips): (1) under a torch function mode, no tensor factory is called without an
explicit ``device`` (a tensor made on the CPU by default would meet CUDA data and crash, or
cost a blocking copy); (2) the same code runs on the ``meta`` device, where meeting any CPU
tensor is an error, just as meeting one on a GPU would be.
"""

import pytest
import torch
from torch.overrides import TorchFunctionMode

from facekeypoints.inference.tta import VIEWS, TestTimeAugment
from facekeypoints.keypoints import FLIP_IDX
from facekeypoints.models import create_model
from facekeypoints.training.augment import AugmentConfig, augment_batch
from facekeypoints.training.train import EMA, masked_loss, validate
from facekeypoints.warps import unflip_keypoints

FACTORIES = {torch.tensor, torch.zeros, torch.ones, torch.empty, torch.full, torch.arange, torch.linspace,
             torch.eye, torch.rand, torch.randn, torch.randint, torch.randperm, torch.as_tensor}


class NoImplicitDevice(TorchFunctionMode):
    """Records every tensor factory called without ``device=``."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and kwargs.get("device") is None:
            self.calls.append(func.__name__)
        return func(*args, **kwargs)


def _per_batch_code(model, x, y):
    """Everything a training step, a validation and a TTA pass do with the data."""
    xa, ya = augment_batch(x, y, AugmentConfig(), None, FLIP_IDX)
    augment_batch(x, y, AugmentConfig(tilt=30, aspect=0.1, occlude=0.3, lowres=0.5), None, FLIP_IDX)  # every option
    loss = masked_loss(model(xa), ya, "wing")
    tta = TestTimeAugment(model, flip=True, views=len(VIEWS)).eval()
    out = tta(x)
    ema = EMA(model, 0.9)
    ema.update_parameters(model)
    ema.update_parameters(model)
    rmse = validate(tta, x[:, 0].to(torch.uint8), y, batch_size=2)
    return loss, out, rmse, unflip_keypoints(out, x.shape[-1])


@pytest.fixture
def batch():
    torch.manual_seed(0)
    x = torch.rand(3, 1, 96, 96) * 255
    y = torch.rand(3, 15, 2) * 60 + 18
    y[0, 4] = float("nan")
    return x, y


# the report's kind of network, and a heatmap network with the anti-aliasing blur (its own buffers)
MODELS = [("paper_tiny", {}), ("mobile_hm", {"antialias": True})]


@pytest.mark.parametrize(("name", "kwargs"), MODELS)
def test_per_batch_code_makes_no_tensor_without_a_device(batch, name, kwargs):
    model = create_model(name, **kwargs)
    with NoImplicitDevice() as mode:
        loss, out, rmse, _ = _per_batch_code(model, *batch)
    assert mode.calls == [], f"tensors made on the default device by: {sorted(set(mode.calls))}"
    assert torch.isfinite(loss) and out.shape == (3, 15, 2) and torch.isfinite(rmse)


@pytest.mark.parametrize(("name", "kwargs"), MODELS)
def test_per_batch_code_runs_on_the_meta_device(batch, name, kwargs):
    model = create_model(name, **kwargs).to("meta")
    x, y = (t.to("meta") for t in batch)
    loss, out, rmse, back = _per_batch_code(model, x, y)
    assert {t.device.type for t in (loss, out, rmse, back)} == {"meta"}


def test_tta_views_follow_the_model_to_its_device():
    model = create_model("paper_tiny").to("meta")
    tta = TestTimeAugment(model, views=4)  # wrapped after the move, as predict and evaluate do
    assert tta.affines.device.type == "meta" and tta.inverses.device.type == "meta"
