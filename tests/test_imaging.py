"""imaging.py gives the same bytes as the OpenCV calls it replaced, on its NumPy/Pillow path and on
the path that hands the work to OpenCV where it is installed, and YuNet on onnxruntime the same faces
as ``cv2.FaceDetectorYN`` (OpenCV is a test dependency here, never one the photo path needs)."""

from __future__ import annotations

import io
import tarfile
from importlib import resources

import cv2
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from facekeypoints import imaging
from facekeypoints.imaging import (
    ImageDecodeError,
    decode,
    encode,
    pyr_down,
    shrink_area,
    shrink_quick,
    to_gray,
    warp_affine,
)
from facekeypoints.photos.detect import YUNET_FILE, YuNetDetector
from facekeypoints.photos.sample import sample_image

from .conftest import shared_path

RNG = np.random.default_rng(0)


def _use_opencv(monkeypatch, on: bool) -> None:
    monkeypatch.setenv("FACEKEYPOINTS_NO_OPENCV", "0" if on else "1")
    imaging.opencv.cache_clear()


@pytest.fixture(autouse=True)
def numpy_path(monkeypatch):
    """Every test here checks the NumPy/Pillow path against OpenCV unless it turns OpenCV on itself."""
    _use_opencv(monkeypatch, False)
    yield
    imaging.opencv.cache_clear()


def _jpeg(img: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=90, **kw)
    return buf.getvalue()


def _smooth(h: int, w: int) -> np.ndarray:
    """A photo-like colour image: smooth gradients plus noise (JPEG-friendly, not constant)."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 100 * np.sin(xx / 37.0 + c) * np.cos(yy / 23.0 - c) for c in range(3)], -1)
    return np.clip(base + RNG.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def test_decode_equals_opencv_full_reduced_png_and_gray():
    raw = _jpeg(_smooth(700, 900))
    ref = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decode(raw), ref)
    for r, flag in ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8)):
        assert np.array_equal(decode(raw, reduce=r), cv2.imdecode(np.frombuffer(raw, np.uint8), flag)), r
    gray16 = (RNG.integers(0, 65536, (50, 60))).astype(np.uint16)
    ok, png16 = cv2.imencode(".png", gray16)
    assert np.array_equal(decode(png16.tobytes())[..., 0], (gray16 >> 8).astype(np.uint8))
    rgba = np.dstack([_smooth(40, 30), RNG.integers(0, 256, (40, 30), np.uint8)])
    ok, png4 = cv2.imencode(".png", rgba)
    assert np.array_equal(decode(png4.tobytes()), rgba[..., :3])  # alpha dropped, not blended, as OpenCV


@pytest.mark.parametrize("opencv", [False, True])
def test_a_png_with_alpha_decodes_to_its_colour_without_the_alpha_on_both_decoders(monkeypatch, opencv):
    """8-bit RGBA and grey + alpha PNGs (video frames are often stored so): the colour planes as stored, alpha
    dropped, not blended; OpenCV's fast path and Pillow's give the same bytes."""
    _use_opencv(monkeypatch, opencv)
    colour, alpha = _smooth(40, 30), RNG.integers(0, 256, (40, 30), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.dstack([colour[..., 1], alpha]), "LA").save(buf, format="PNG")
    ok, rgba = cv2.imencode(".png", np.dstack([colour, alpha]))
    assert Image.open(io.BytesIO(rgba.tobytes())).mode == "RGBA" and Image.open(buf).mode == "LA"
    assert np.array_equal(decode(rgba.tobytes()), colour)
    assert np.array_equal(decode(buf.getvalue()), np.repeat(colour[..., 1:2], 3, axis=2))


def test_decode_turns_by_exif_unless_told_not_to():
    img = _smooth(40, 80)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: turn 90 degrees clockwise to view
    raw = _jpeg(img, exif=exif)
    assert decode(raw).shape == (80, 40, 3) and decode(raw, exif=False).shape == (40, 80, 3)
    assert np.array_equal(decode(raw), cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR))


def test_decode_names_what_is_wrong():
    with pytest.raises(ImageDecodeError, match="not an image format"):
        decode(b"not a picture")
    with pytest.raises(ImageDecodeError):
        decode(_jpeg(_smooth(64, 64))[:200])  # cut short


def test_gray_area_shrink_and_pyramid_equal_opencv():
    for _ in range(20):
        h, w = RNG.integers(5, 700, 2)
        img = RNG.integers(0, 256, (h, w, 3), np.uint8)
        assert np.array_equal(to_gray(img), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        assert np.array_equal(pyr_down(img[..., 0]), cv2.pyrDown(img[..., 0]))
        f = RNG.uniform(0.1, 1.0)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        assert np.array_equal(shrink_area(img, *size), cv2.resize(img, size, interpolation=cv2.INTER_AREA)), (h, w, f)
    img = RNG.integers(0, 256, (640, 480, 3), np.uint8)  # whole factors: OpenCV's integer paths
    for kx, ky in ((2, 2), (4, 4), (8, 8), (5, 5), (2, 4), (3, 1)):
        size = (480 // kx, 640 // ky)
        assert np.array_equal(shrink_area(img, *size), cv2.resize(img, size, interpolation=cv2.INTER_AREA)), (kx, ky)
        grey = img[..., 1]
        assert np.array_equal(shrink_area(grey, *size), cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
    with pytest.raises(ValueError, match="only shrinks"):
        shrink_area(img, 500, 700)


def test_warp_affine_equals_opencv_inside_at_and_past_the_border():
    for _ in range(100):
        h, w = RNG.integers(20, 400, 2)
        img = RNG.integers(0, 256, (h, w) if RNG.random() < 0.7 else (h, w, 3), np.uint8)
        s, th = RNG.uniform(0.2, 3.0), RNG.uniform(-0.6, 0.6)
        m = np.array([[s * np.cos(th), -s * np.sin(th), RNG.uniform(-150, 40)],
                      [s * np.sin(th), s * np.cos(th), RNG.uniform(-150, 40)]])
        ref = cv2.warpAffine(img, m, (96, 96), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        assert np.array_equal(warp_affine(img, m, 96), ref)


def test_a_rectangular_warp_equals_opencv():
    for _ in range(30):
        h, w = RNG.integers(20, 300, 2)
        img = RNG.integers(0, 256, (h, w) if RNG.random() < 0.5 else (h, w, 3), np.uint8)
        out_w, out_h = RNG.integers(10, 200, 2)
        m = np.array([[RNG.uniform(0.3, 1.5), RNG.uniform(-0.2, 0.2), RNG.uniform(-20, 20)],
                      [RNG.uniform(-0.2, 0.2), RNG.uniform(0.3, 1.5), RNG.uniform(-20, 20)]])
        ref = cv2.warpAffine(img, m, (int(out_w), int(out_h)), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        assert np.array_equal(warp_affine(img, m, (out_w, out_h)), ref)


def test_shrink_quick_puts_a_pixel_at_factor_times_its_place(monkeypatch):
    """A bright spot at (x, y) comes out centred at factor * (x, y), at whole and fractional factors, and the
    NumPy path gives OpenCV's bytes."""
    for factor in (0.9, 2 / 3, 0.5, 0.4, 0.3, 1 / 6):
        img = np.zeros((480, 600, 3), np.uint8)
        img[298:303, 398:403] = 255  # centred at x = 400, y = 300
        out = shrink_quick(img, factor)
        assert out.shape == (round(480 * factor), round(600 * factor), 3)
        weights = out[..., 1].astype(float)
        ys, xs = np.mgrid[: out.shape[0], : out.shape[1]]
        centre = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
        assert np.abs(centre - factor * np.array([400.0, 300.0])).max() < 0.15, (factor, centre)
        _use_opencv(monkeypatch, True)
        assert np.array_equal(shrink_quick(img, factor), out), factor
        _use_opencv(monkeypatch, False)


def test_encode_round_trips_and_refuses_unknown_formats():
    img = RNG.integers(0, 256, (30, 40, 3), np.uint8)
    assert np.array_equal(decode(encode(img, ".png")), img)
    assert encode(img, ".xyz") is None


def _yunet_cv2() -> cv2.FaceDetectorYN:
    with resources.as_file(resources.files("facekeypoints") / "assets" / YUNET_FILE) as path:
        return cv2.FaceDetectorYN.create(str(path), "", (320, 320), 0.6, 0.3, 100)


def _same_faces(ours: YuNetDetector, ref: cv2.FaceDetectorYN, bgr: np.ndarray) -> int:
    ref.setInputSize((bgr.shape[1], bgr.shape[0]))
    _, want = ref.detect(bgr)
    got = ours.decode(bgr)
    want = np.zeros((0, 15), np.float32) if want is None else want
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-3)  # float sums in another order: 1e-5 in practice
    return len(got)


def test_yunet_on_onnxruntime_finds_what_opencv_finds():
    ours, ref = YuNetDetector(), _yunet_cv2()
    sample = cv2.cvtColor(sample_image(), cv2.COLOR_GRAY2BGR)
    assert _same_faces(ours, ref, sample) == 2
    assert _same_faces(ours, ref, cv2.resize(sample, (333, 211))) >= 1  # sizes that are not whole 32-px cells
    assert _same_faces(ours, ref, RNG.integers(0, 256, (200, 260, 3), np.uint8)) == 0
    found = 0
    with tarfile.open(shared_path("youtube-faces-68", "test_annotated_asis.tar")) as tf:
        members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(".jpg")][:25]
        for m in members:
            found += _same_faces(ours, ref, decode(tf.extractfile(m).read()))
    assert found >= 25


def test_every_listed_image_type_decodes():
    from facekeypoints.fileio import IMAGE_EXTS

    img = RNG.integers(0, 256, (20, 30, 3), np.uint8)
    for ext in sorted(IMAGE_EXTS):
        fmt = Image.registered_extensions().get(ext)
        if fmt in Image.SAVE:
            pic = Image.fromarray(img).convert({".pbm": "1", ".pgm": "L"}.get(ext, "RGB"))
            buf = io.BytesIO()
            pic.save(buf, format=fmt)
            raw = buf.getvalue()
        else:  # Sun raster: Pillow reads it, OpenCV writes it
            raw = cv2.imencode(ext, img)[1].tobytes()
        assert decode(raw).shape == (20, 30, 3), ext


def _exif_jpeg(img: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _jpeg(img, exif=exif)


def test_the_opencv_path_gives_the_numpy_paths_bytes(monkeypatch):
    assert imaging.opencv() is None  # the fixture's NumPy path
    colour, grey = _smooth(90, 130), _smooth(90, 130)[..., 1].copy()
    cmyk = io.BytesIO()
    Image.fromarray(colour).convert("CMYK").save(cmyk, format="JPEG")  # stays on Pillow: OpenCV's CMYK differs
    raws = [_exif_jpeg(colour, o) for o in range(1, 9)] + [_jpeg(grey), cmyk.getvalue(), encode(colour, ".png"),
                                                           encode(grey, ".png"), _turned_png(colour, "exif"),
                                                           _turned_png(colour, "xmp")]
    m = np.array([[0.45, -0.12, -3.0], [0.12, 0.45, 6.5]])  # shrinks, turns, and reaches past the border

    def everything() -> list[np.ndarray]:
        out = []
        for raw in raws:
            out += [decode(raw), decode(raw, exif=False), decode(raw, reduce=2)]
        for img in (colour, grey):
            out += [to_gray(img), shrink_area(img, 47, 31), shrink_area(img, 65, 45), pyr_down(img),
                    warp_affine(img, m, 40)]
        return out

    want = everything()
    _use_opencv(monkeypatch, True)
    assert imaging.opencv() is cv2
    got = everything()
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a.dtype == b.dtype and np.array_equal(a, b), i
    for k in (2, 1):  # the PNGs that EXIF and XMP turn (on Pillow) came out turned
        assert want[3 * (len(raws) - k)].shape == (130, 90, 3), k


def _turned_png(img: np.ndarray, how: str) -> bytes:
    """A PNG whose orientation (6: turn 90 degrees clockwise to view) is in an eXIf chunk or in XMP."""
    buf, info, kw = io.BytesIO(), PngImagePlugin.PngInfo(), {}
    if how == "exif":
        kw["exif"] = Image.Exif()
        kw["exif"][0x0112] = 6
    else:
        info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>')
    Image.fromarray(img).save(buf, format="PNG", pnginfo=info, **kw)
    assert (b"eXIf" in buf.getvalue()) == (how == "exif")
    return buf.getvalue()


def test_png_may_turn_finds_exif_and_xmp_and_nothing_in_a_plain_png():
    img = _smooth(30, 40)
    assert not imaging.png_may_turn(encode(img, ".png"))  # the fast path's case
    assert imaging.png_may_turn(_turned_png(img, "exif")) and imaging.png_may_turn(_turned_png(img, "xmp"))
    assert imaging.png_may_turn(encode(img, ".png")[:40])  # cut short: left to Pillow


@pytest.mark.parametrize("opencv", [False, True])
def test_read_picture_decodes_from_its_header_image_as_a_fresh_decode_does(monkeypatch, opencv):
    """``read_picture`` hands the PIL image its header check opened on to ``decode``: the pixels must be
    those of decoding the bytes afresh, for every kind of file the two decoders treat apart."""
    from facekeypoints.photos.detect import read_picture

    _use_opencv(monkeypatch, opencv)
    colour, grey = _smooth(90, 130), _smooth(90, 130)[..., 1].copy()
    cmyk = io.BytesIO()
    Image.fromarray(colour).convert("CMYK").save(cmyk, format="JPEG")
    wide = cv2.resize(colour, (1400, 900), interpolation=cv2.INTER_LINEAR)  # decoded reduced (long side >= 640)
    raws = [_exif_jpeg(colour, o) for o in (1, 6, 8)] + [_jpeg(grey), cmyk.getvalue(), encode(colour, ".png"),
                                                         _turned_png(colour, "exif"), _exif_jpeg(wide, 6)]
    for raw in raws:
        pic = read_picture(raw)
        assert np.array_equal(pic.image, decode(raw, reduce=pic.factor))
    assert pic.factor == 2 and pic.image.shape[:2] == (700, 450)  # the last: turned by EXIF, then halved


def _webp(img: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="WEBP", **kw)
    return buf.getvalue()


def test_a_webp_decodes_to_the_same_pixels_on_both_decoders_and_turns_by_its_exif(monkeypatch):
    """Still WebPs go to OpenCV where it is installed (faster): the same bytes as Pillow's path, alpha dropped;
    one with an orientation in its EXIF, or with several frames, stays with Pillow and is read as Pillow reads it."""
    colour, alpha = _smooth(40, 30), RNG.integers(0, 256, (40, 30), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees clockwise to view
    frames = io.BytesIO()
    Image.fromarray(colour).save(frames, format="WEBP", save_all=True, lossless=True,
                                 append_images=[Image.fromarray(colour[::-1].copy())])
    raws = [_webp(colour, lossless=True), _webp(np.dstack([colour, alpha]), lossless=True, exact=True),
            _webp(colour, quality=80), _webp(colour, lossless=True, exif=exif), frames.getvalue()]
    pillow = [decode(raw) for raw in raws]
    _use_opencv(monkeypatch, True)
    opened = [Image.open(io.BytesIO(raw)) for raw in raws]
    assert [imaging.webp_may_turn(im) for im in opened] == [False, False, False, True, True]
    assert opened[1].mode == "RGBA"
    for i, raw in enumerate(raws):
        assert np.array_equal(decode(raw), pillow[i]), i
    assert np.array_equal(pillow[0], colour[..., ::-1]) and np.array_equal(pillow[1], colour[..., ::-1])
    assert pillow[3].shape == (30, 40, 3) and np.array_equal(pillow[4], pillow[0])  # turned; the first frame
