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


@pytest.mark.parametrize("name", ["hmnet_t", "mobile_s", "mobile_hm", "resreg_s"])
def test_antialias_blurs_before_strides_without_new_weights(name):
    from facekeypoints.models.layers import Blur

    plain, smooth = create_model(name), create_model(name, antialias=True)
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in smooth.parameters())
    assert not any("kernel" in k for k in smooth.state_dict())
    assert any(isinstance(m, Blur) for m in smooth.modules()) and not any(isinstance(m, Blur) for m in plain.modules())
    assert smooth.eval()(torch.rand(2, 1, 96, 96) * 255).shape == (2, 15, 2)


def test_blur_keeps_flat_images_and_removes_the_finest_pattern():
    from facekeypoints.models.layers import Blur

    blur = Blur(2)
    flat = torch.full((1, 2, 8, 8), 3.0)
    assert torch.allclose(blur(flat), flat)
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2
    x = checker.float().expand(1, 2, 8, 8)
    assert blur(x)[..., 2:-2, 2:-2].std() < 1e-6  # the Nyquist pattern is gone (interior)


def test_an_option_the_architecture_lacks_is_a_clear_error():
    with pytest.raises(ValueError, match="'paper'.*antialias"):
        create_model("paper", antialias=True)


def test_every_network_carries_its_contract_and_the_15_come_first():
    import torch

    from facekeypoints.models.base import KeypointNet

    x = torch.rand(2, 1, 96, 96) * 255
    for name in list_models():
        if name == "ensemble":
            continue
        m = create_model(name, num_points=83).eval()
        assert isinstance(m, KeypointNet), name
        assert (m.input_size, m.input_channels, m.num_points) == (96, 1, 83), name
        with torch.no_grad():
            every, fifteen = m.forward_all(x), m(x)
        assert every.shape == (2, 83, 2) and torch.allclose(every[:, :15], fifteen, atol=1e-5), name


@pytest.mark.parametrize("name", [n for n in list_models() if n != "ensemble"])
def test_every_network_builds_for_colour_crops_and_refuses_other_channels(name):
    """``input_channels=3``: BGR planes in, the same points out; only the first convolution changes."""
    grey, colour = create_model(name), create_model(name, input_channels=3).eval()
    assert grey.input_channels == 1 and colour.input_channels == 3
    extra = sum(p.numel() for p in colour.parameters()) - sum(p.numel() for p in grey.parameters())
    first = next(m for m in colour.modules() if isinstance(m, torch.nn.Conv2d))
    assert extra == 2 * first.out_channels * first.kernel_size[0] * first.kernel_size[1]
    with torch.no_grad():
        assert colour(torch.zeros(2, 3, 96, 96)).shape == (2, 15, 2)
    with pytest.raises(ValueError, match="input_channels=2"):
        create_model(name, input_channels=2)
