"""benchmarks/bundle_model.py: the auxiliary 68-point outputs are dropped without changing the 15."""

import importlib.util
from pathlib import Path

import pytest
import torch

from facekeypoints.models import create_model

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bundle_model.py"


@pytest.mark.parametrize("name", ["mobile_s", "mobile_m", "mobile_hm", "hmnet_t", "resreg_s"])
def test_strip_aux_keeps_the_15_keypoints_exactly(name):
    spec = importlib.util.spec_from_file_location("bundle_model", SCRIPT)
    bundle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundle)
    torch.manual_seed(0)
    wide = create_model(name, num_points=83).eval()
    for p in wide.parameters():
        torch.nn.init.normal_(p, std=0.05)
    slim, meta = bundle.strip_aux(wide, {"model": name, "model_args": {"num_points": 83}})
    x = torch.rand(2, 1, 96, 96) * 255
    with torch.no_grad():
        assert torch.allclose(wide(x), slim(x), atol=1e-4)
    assert meta["model_args"] == {} and slim.num_points == 15
    assert sum(p.numel() for p in slim.parameters()) < sum(p.numel() for p in wide.parameters())
