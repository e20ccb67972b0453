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


def test_ensemble_averages_its_members_and_round_trips(tmp_path):
    from facekeypoints.checkpoint import load_checkpoint, save_checkpoint

    spec = [{"model": "mobile_s"}, {"model": "mobile_s", "model_args": {"num_points": 83}}]
    ens = create_model("ensemble", members=spec).eval()
    x = torch.rand(3, 1, 96, 96) * 255
    with torch.no_grad():
        torch.nn.init.normal_(ens.members[1].fc[-1].weight, std=1.0)  # make the members disagree
        want = (ens.members[0](x) + ens.members[1](x)) / 2
        assert torch.allclose(ens(x), want) and not torch.allclose(ens.members[0](x), ens.members[1](x))
    save_checkpoint(tmp_path / "e.safetensors", ens, "ensemble", {"model_args": {"members": spec}})
    back, meta = load_checkpoint(tmp_path / "e.json")
    with torch.no_grad():
        assert torch.allclose(back(x), want, atol=1e-5)
    assert meta["model"] == "ensemble" and len(back.members) == 2
