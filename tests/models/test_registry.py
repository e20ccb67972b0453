import pytest
import torch

from facekeypoints.models import create_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_every_model_builds_and_keeps_the_contract(name):
    m = create_model(name).eval()
    assert m.input_size == 96
    with torch.no_grad():
        out = m(torch.zeros(2, 1, 96, 96))
    assert out.shape == (2, 15, 2)


def test_paper_network_size_matches_the_report():
    n = sum(p.numel() for p in create_model("paper").parameters())
    assert 7.2e6 < n < 7.3e6  # ~7.26M


def test_unknown_model_suggests():
    with pytest.raises(ValueError, match="did you mean"):
        create_model("papr")
