import numpy as np
import pytest
import torch

from facekeypoints.geometry import (
    KAGGLE_TEMPLATE,
    apply_affine,
    compose_affine,
    crop_affine,
    fit_similarity,
    invert_affine,
    template_matrix,
)
from facekeypoints.keypoints import INDEX
from facekeypoints.warps import invert_affines, warp_images


def _similarity(scale, degrees, tx, ty):
    a = np.radians(degrees)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def test_fit_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 300, (7, 2))
    m = _similarity(0.37, 23.0, 11.0, -4.0)
    assert np.allclose(fit_similarity(src, apply_affine(src, m)), m, atol=1e-9)
    assert np.allclose(apply_affine(apply_affine(src, m), invert_affine(m)), src, atol=1e-9)
    with pytest.raises(ValueError, match="degenerate"):
        fit_similarity(np.ones((4, 2)), src[:4])


def test_compose_affine_maps_points_as_the_two_maps_one_after_the_other():
    rng = np.random.default_rng(0)
    outer, inner, pts = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(7, 2))
    np.testing.assert_allclose(apply_affine(pts, compose_affine(outer, inner)),
                               apply_affine(apply_affine(pts, inner), outer), atol=1e-12)


@pytest.mark.parametrize("scale", [2.0, 0.8, 0.2])  # upscale, mild and strong (pyramid) downscale
def test_crop_affine_puts_a_source_point_where_the_matrix_says(scale):
    img = np.zeros((800, 900), np.uint8)
    p = np.array([431.0, 377.0])
    r = max(2, int(round(2 / scale)))  # a dot that stays a few crop pixels wide
    img[int(p[1]) - r : int(p[1]) + r + 1, int(p[0]) - r : int(p[0]) + r + 1] = 255
    m = _similarity(scale, 17.0, 0, 0)
    m[:, 2] = 47.5 - m[:, :2] @ p  # the dot at the crop centre
    crop = crop_affine(img, m, 96).astype(float)
    ys, xs = np.mgrid[:96, :96]
    centre = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
    assert np.allclose(centre, [47.5, 47.5], atol=0.35)


def test_torch_warp_and_opencv_crop_agree():
    rng = np.random.default_rng(1)
    img = (rng.uniform(0, 255, (96, 96)) > 200).astype(np.uint8) * 255
    m = _similarity(1.1, 9.0, 0, 0)
    m[:, 2] = 47.5 - m[:, :2] @ [47.5, 47.5] + [2.0, -3.0]
    a = torch.tensor(np.r_[m, [[0, 0, 1]]], dtype=torch.float32)[None]
    warped = warp_images(torch.from_numpy(img).float()[None, None], a)[0, 0].numpy()
    cropped = crop_affine(img, m, 96).astype(float)
    assert np.abs(warped - cropped)[8:-8, 8:-8].mean() < 2.0  # same convention, bilinear both


def test_invert_affines_matches_numpy():
    a = torch.tensor(np.r_[_similarity(0.9, -31.0, 5.0, 7.0), [[0, 0, 1]]])[None].repeat(3, 1, 1)
    assert torch.allclose(invert_affines(a), torch.linalg.inv(a), atol=1e-12)


def test_template_matrix_turns_a_tilted_face_upright():
    kp = np.zeros((15, 2))
    for name, xy in KAGGLE_TEMPLATE.items():
        kp[INDEX[name]] = xy
    tilted = apply_affine(kp, _similarity(2.5, 30.0, 100.0, 50.0))
    m = template_matrix(tilted, rotate=True)
    idx = [INDEX[n] for n in KAGGLE_TEMPLATE]
    assert np.allclose(apply_affine(tilted[idx], m), list(KAGGLE_TEMPLATE.values()), atol=1e-6)
    assert template_matrix(tilted)[0, 1] == 0  # without rotate: scale + shift only


def test_a_colour_crop_keeps_bgr_planes_in_order_and_its_grey_is_the_grey_crop():
    from facekeypoints.geometry import crop_affine
    from facekeypoints.imaging import to_gray

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    img[:60, :80] = (10, 100, 200)  # a flat B, G, R patch
    m = np.array([[0.8, 0.1, 4.0], [-0.1, 0.8, 9.0]])
    c, g = crop_affine(img, m, 64, channels=3), crop_affine(img, m, 64)
    assert c.shape == (3, 64, 64) and c.dtype == np.uint8 and g.shape == (64, 64)
    assert tuple(c[:, 20, 15]) == (10, 100, 200)  # inside the patch: each plane its own value
    assert np.abs(to_gray(np.ascontiguousarray(c.transpose(1, 2, 0))).astype(int) - g).max() <= 1
    assert crop_affine(img, np.array([[1.0, 0, -500], [0, 1, -500]]), 32, channels=3).shape == (3, 32, 32)
    with pytest.raises(ValueError, match="channels=4"):
        crop_affine(img, m, 64, channels=4)
