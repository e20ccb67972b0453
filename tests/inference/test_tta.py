import numpy as np
import pytest
import torch

from facekeypoints.inference.tta import VIEWS, TestTimeAugment, view_affine, with_tta
from facekeypoints.models import create_model
from facekeypoints.warps import warp_images


class Oracle(torch.nn.Module):
    """Finds the one bright blob of each image: a model whose answers move with the face."""

    input_size, input_mean, input_std = 96, 0.0, 1.0

    def forward(self, x):
        w = x.clamp(min=0) ** 4
        ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
        tot = w.sum((1, 2, 3))
        pt = torch.stack([(w[:, 0] * xs).sum((1, 2)) / tot, (w[:, 0] * ys).sum((1, 2)) / tot], -1)
        return pt[:, None].expand(-1, 15, 2)


def test_views_map_back_to_the_same_point():
    img = torch.zeros(2, 1, 96, 96)
    img[0, 0, 40:43, 50:53] = 255  # blob centred at (51, 41)
    img[1, 0, 60:63, 30:33] = 255
    plain = Oracle()(img)
    tta = TestTimeAugment(Oracle(), flip=False, views=len(VIEWS))
    assert torch.allclose(tta(img), plain, atol=0.3)


def test_view_affine_moves_pixels_where_it_says():
    a = view_affine(1.1, 10.0, 3.0, -2.0, 96)
    img = torch.zeros(1, 1, 96, 96)
    img[0, 0, 29:32, 59:62] = 255  # blob centred at (60, 30)
    moved = warp_images(img, a[None])
    want = a @ torch.tensor([60.0, 30.0, 1.0])
    got = Oracle()(moved)[0, 0]
    assert torch.allclose(got, want[:2], atol=0.3)


def test_with_tta_follows_the_config():
    m = create_model("mobile_s").eval()
    bare = with_tta(m, {"config": {}})
    assert not bare.flip and bare.views == 0 and bare.model is m
    t = with_tta(m, {"config": {"tta_flip": True, "tta_views": 4}})
    assert isinstance(t, TestTimeAugment) and t.flip and t.views == len(t.affines) == 4
    assert not with_tta(m, {"config": {"tta_flip": True, "tta_views": 2}}, flip=False).flip
    with pytest.raises(ValueError, match="tta_views"):
        TestTimeAugment(m, views=99)
    x = torch.rand(3, 1, 96, 96) * 255
    with torch.no_grad():
        assert np.isfinite(t(x).numpy()).all() and t(x).shape == (3, 15, 2)
