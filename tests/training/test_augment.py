import numpy as np
import pytest
import torch

from facekeypoints.keypoints import FLIP_IDX
from facekeypoints.training.augment import AugmentConfig, augment_batch, photometric, random_affine, warp
from facekeypoints.warps import flip_images, unflip_keypoints


def _blob_images(kp: torch.Tensor, size: int = 96) -> torch.Tensor:
    """One image per keypoint set: a Gaussian blob at each point (to locate them again)."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    d = (xx[None, None] - kp[..., 0, None, None]) ** 2 + (yy[None, None] - kp[..., 1, None, None]) ** 2
    return torch.exp(-d / (2 * 1.5**2))  # (B, K, H, W): one channel per keypoint


def _centroids(img: torch.Tensor) -> torch.Tensor:
    size = img.shape[-1]
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    w = img.clamp(min=0)
    s = w.sum((-1, -2))
    return torch.stack([(w * xx).sum((-1, -2)) / s, (w * yy).sum((-1, -2)) / s], -1)


@pytest.mark.parametrize("kind", ["flip", "rotate", "scale", "translate", "all"])
def test_points_follow_the_pixels(kind):
    g = torch.Generator().manual_seed(0)
    off = dict(flip=0.0, rotate=0.0, scale=0.0, translate=0.0)
    on = {"flip": dict(flip=1.0), "rotate": dict(rotate=25.0), "scale": dict(scale=0.2),
          "translate": dict(translate=0.08), "all": dict(flip=0.5, rotate=20.0, scale=0.15, translate=0.06)}[kind]
    cfg = AugmentConfig(**{**off, **on})
    kp = 48 + torch.randn(6, 15, 2, generator=g) * 12
    imgs = _blob_images(kp)  # (6, 15, 96, 96)
    a, flip = random_affine(6, 96, cfg, g)
    # warp each keypoint's channel as its own 1-channel image
    warped = torch.stack([warp(imgs[:, k : k + 1], kp, a, flip)[0][:, 0] for k in range(15)], 1)
    _, new_kp = warp(imgs[:, :1], kp, a, flip)
    found = _centroids(warped)  # channel k holds the ORIGINAL keypoint k, wherever it went
    expected = torch.where(flip[:, None, None], new_kp[:, list(FLIP_IDX)], new_kp)
    ok = torch.isfinite(expected).all(-1)
    assert ok.sum() > 60
    assert torch.allclose(found[ok], expected[ok], atol=0.15)
    if kind == "flip":
        assert flip.all() and torch.allclose(new_kp[:, 1, 0], 95 - kp[:, 0, 0], atol=1e-4)


def test_points_pushed_out_become_missing():
    cfg = AugmentConfig(flip=0, rotate=0, scale=0, translate=0)
    a, flip = random_affine(1, 96, cfg)
    a[0, 0, 2] += 40  # shift right by 40 px
    kp = torch.full((1, 15, 2), 48.0)
    kp[0, 0, 0] = 70.0
    _, out = warp(torch.zeros(1, 1, 96, 96), kp, a, flip)
    assert torch.isnan(out[0, 0]).all() and torch.isfinite(out[0, 1]).all()


def test_photometric_keeps_range_and_shape_and_is_seeded():
    x = torch.rand(4, 1, 96, 96) * 255
    a = photometric(x, AugmentConfig(), torch.Generator().manual_seed(1))
    b = photometric(x, AugmentConfig(), torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 255 and torch.equal(a, b)
    assert not torch.equal(a, x)


def test_augment_batch_and_flip_tta_round_trip():
    x, kp = torch.rand(3, 1, 96, 96) * 255, torch.rand(3, 15, 2) * 95
    y, kp2 = augment_batch(x, kp, AugmentConfig(), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and kp2.shape == kp.shape
    flipped = flip_images(x)
    assert torch.equal(flip_images(flipped), x)
    back = unflip_keypoints(unflip_keypoints(kp, 96), 96)
    assert np.allclose(back.numpy(), kp.numpy(), atol=1e-4)


def test_colour_batches_get_a_gain_per_channel_and_grey_ones_never_see_it():
    x = torch.full((6, 3, 32, 32), 100.0)
    cfg = AugmentConfig(brightness=0, contrast=0, gamma=0, blur=0, noise=0, tint=0.2)
    out = photometric(x, cfg, torch.Generator().manual_seed(0))
    gains = out[:, :, 0, 0] / 100
    assert ((gains > 0.79) & (gains < 1.21)).all() and (gains.std(1) > 1e-3).all()  # channels apart
    grey = torch.rand(4, 1, 32, 32) * 255
    a = photometric(grey, AugmentConfig(tint=0.0), torch.Generator().manual_seed(3))
    b = photometric(grey, AugmentConfig(tint=0.5), torch.Generator().manual_seed(3))
    assert torch.equal(a, b)  # the same random stream and pixels: grey training is as it was


def test_tilt_turns_a_share_of_faces_further():
    """``tilt``: a share ``tilt_p`` of the faces turned up to ``tilt`` degrees, the rest within ``rotate``."""
    n = 4000
    plain = AugmentConfig(flip=0, rotate=15.0, scale=0, translate=0)
    tilted = AugmentConfig(flip=0, rotate=15.0, scale=0, translate=0, tilt=45.0, tilt_p=0.3)
    a0, _ = random_affine(n, 96, plain, torch.Generator().manual_seed(3))
    a1, _ = random_affine(n, 96, tilted, torch.Generator().manual_seed(3))
    deg0 = torch.rad2deg(torch.atan2(a0[:, 1, 0], a0[:, 0, 0])).abs()
    deg1 = torch.rad2deg(torch.atan2(a1[:, 1, 0], a1[:, 0, 0])).abs()
    assert deg0.max() <= 15.0 + 1e-4 and deg1.max() <= 45.0 + 1e-4
    assert abs((deg1 > 15.0).float().mean().item() - 0.3 * 30 / 45) < 0.03  # 30% drawn wide, 2/3 of those past 15


def test_low_resolution_blurs_a_share_of_images_and_keeps_points_in_place():
    """``lowres``: shrunk and scaled back, so fine detail goes but each point's blob stays centred."""
    from facekeypoints.training.augment import low_resolution

    kp = torch.tensor([[[30.3, 40.7], [61.8, 52.2]]]).expand(64, 2, 2)
    blobs = _blob_images(kp)  # (64, 2, 96, 96)
    out = low_resolution(blobs, p=0.5, generator=torch.Generator().manual_seed(0))
    changed = (out - blobs).abs().amax((1, 2, 3)) > 1e-3
    assert 16 < int(changed.sum()) < 48  # about half the images
    assert torch.equal(out[~changed], blobs[~changed])
    assert (out[changed].amax((-1, -2)) < blobs[changed].amax((-1, -2))).all()  # the peaks are spread out
    assert torch.allclose(_centroids(out[changed]), kp[changed], atol=0.05)  # within a twentieth of a pixel
    flat = torch.full((4, 1, 96, 96), 77.0)
    assert torch.allclose(low_resolution(flat, p=1.0), flat)


def test_low_resolution_is_off_by_default_and_draws_nothing():
    """Recipes without ``lowres`` see the augmented batches they saw before it existed."""
    x, kp = torch.rand(8, 1, 96, 96) * 255, torch.rand(8, 15, 2) * 60 + 18
    a = augment_batch(x, kp, AugmentConfig(), torch.Generator().manual_seed(5))
    b = augment_batch(x, kp, AugmentConfig(lowres=0.0), torch.Generator().manual_seed(5))
    c = augment_batch(x, kp, AugmentConfig(lowres=1.0), torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    assert torch.equal(a[1].nan_to_num(-1), c[1].nan_to_num(-1))  # the points do not move
