"""Pixels without OpenCV: decoding, grey conversion, shrinking and the bilinear crop warp.

The photo path runs on NumPy and Pillow alone, so the base install needs no OpenCV (video is
the ``[video]`` extra). Each operation here gives **the same bytes** as the OpenCV call it
replaced, so models trained on OpenCV-made crops see exactly what they saw, and answers do not
depend on whether OpenCV is installed; ``tests/test_imaging.py`` compares them with OpenCV:

- ``decode``: Pillow (libjpeg-turbo, as OpenCV), EXIF turn applied, optionally reduced while
  decoding (libjpeg's DCT scaling: 1/2, 1/4, 1/8), as ``cv2.imdecode`` with ``IMREAD_COLOR``
  (``IMREAD_REDUCED_COLOR_N``);
- ``to_gray``: ``cv2.cvtColor(BGR2GRAY)``'s 16-bit fixed-point weights;
- ``shrink_area``: ``cv2.resize(..., INTER_AREA)`` for downscales (area weights in float32,
  summed in OpenCV's order);
- ``pyr_down``: ``cv2.pyrDown`` (5x5 binomial kernel, mirrored border);
- ``shrink_quick``: a detector's shrink, ``shrink_area`` by a whole factor then one ``warp_affine``;
- ``warp_affine``: ``cv2.warpAffine(..., INTER_LINEAR, BORDER_CONSTANT 0)`` for uint8, with its
  fixed-point coordinates (1/1024 px, then 1/32 px) and weights.

Where OpenCV is installed anyway (the ``[video]`` extra, the README's set-up), each of these hands its
work to that very OpenCV call, which is 5-20x faster than the NumPy version and gives the same bytes
(``decode``: RGB and grey JPEGs only; CMYK JPEGs and every other image stay on Pillow). Set
``FACEKEYPOINTS_NO_OPENCV=1`` to keep to NumPy and Pillow (``opencv()`` says which is in use).
"""

from __future__ import annotations

import io
import math
import os
from functools import lru_cache
from typing import Any

import numpy as np

OPENCV_EXTRA = "pip install 'facekeypoints[video]' (opencv-python-headless)"
GRAY_WEIGHTS = (7470, 38470, 19596)  # B, G, R in 1/65536: OpenCV's BGR2GRAY for uint8 (0.114, 0.587, 0.299)


def require_opencv(what: str) -> Any:
    """The ``cv2`` module, or an ImportError saying in one line that ``what`` needs OpenCV."""
    try:
        import cv2
    except ImportError:
        raise ImportError(f"{what} needs OpenCV: {OPENCV_EXTRA}", name="cv2") from None
    return cv2


@lru_cache(maxsize=1)
def opencv() -> Any | None:
    """The ``cv2`` module the pixel functions hand their work to, or None: OpenCV is not installed,
    or ``FACEKEYPOINTS_NO_OPENCV`` is set to anything but ``0`` (then NumPy and Pillow do it)."""
    if os.environ.get("FACEKEYPOINTS_NO_OPENCV", "0") not in ("", "0"):
        return None
    try:
        import cv2
    except ImportError:
        return None
    return cv2


_CV_REDUCED = {1: "IMREAD_COLOR", 2: "IMREAD_REDUCED_COLOR_2", 4: "IMREAD_REDUCED_COLOR_4", 8: "IMREAD_REDUCED_COLOR_8"}


class ImageDecodeError(ValueError):
    """The bytes are not an image Pillow can decode."""


def png_may_turn(raw: bytes) -> bool:
    """Whether PNG bytes hold what Pillow reads an orientation from: an eXIf chunk, or a text chunk
    whose keyword names EXIF or XMP. Walks the chunk headers only; bytes it cannot walk count as may."""
    pos = 8
    while pos + 8 <= len(raw):
        length, kind = int.from_bytes(raw[pos:pos + 4], "big"), raw[pos + 4:pos + 8]
        if kind == b"eXIf":
            return True
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            keyword = raw[pos + 8:pos + 8 + min(length, 80)].split(b"\0", 1)[0].lower()
            if b"exif" in keyword or b"xmp" in keyword:
                return True
        if kind == b"IEND":
            return False
        pos += 12 + length
    return True


def webp_may_turn(im: Any) -> bool:
    """Whether a WebP Pillow has opened (header read) is something only Pillow reads as it should: one with
    EXIF or XMP (an orientation may be there) or with several frames."""
    return bool(im.info.get("exif") or im.info.get("xmp") or getattr(im, "n_frames", 1) > 1)


def decode(raw: bytes, reduce: int = 1, exif: bool = True, opened: Any = None) -> np.ndarray:
    """Image bytes to uint8 BGR ``(H, W, 3)``, EXIF orientation applied (unless ``exif`` is False:
    the pixels as stored); a JPEG is decoded at ``1/reduce`` of its size (``reduce`` in 1, 2, 4, 8).
    16-bit images keep their high byte, alpha is dropped (not blended), palette and grey images
    are expanded. ``opened``: ``PIL.Image.open`` of these bytes, header read, no pixel loaded yet
    (saves opening them twice)."""
    from PIL import Image, ImageOps

    try:
        im = opened if opened is not None else Image.open(io.BytesIO(raw))  # reads the header only
        cv2 = opencv()
        if cv2 is not None and im.format == "JPEG" and im.mode in ("RGB", "L") and reduce in _CV_REDUCED:
            flags = getattr(cv2, _CV_REDUCED[reduce]) | (0 if exif else cv2.IMREAD_IGNORE_ORIENTATION)
            out = cv2.imdecode(np.frombuffer(raw, np.uint8), flags)  # the same bytes, a third faster
            if out is not None:
                return out
        # An 8-bit PNG or a still WebP that nothing turns (PNG is lossless, and both read WebP with libwebp): OpenCV
        # gives Pillow's bytes, faster (alpha dropped by both). Pillow took 0.9 ms against OpenCV's 0.8 for a 190-px
        # RGBA PNG frame of YT15, 1.01 against 0.64 for a 176x192 lossless WebP frame.
        if cv2 is not None and (
                (im.format == "PNG" and im.mode in ("RGB", "L", "RGBA", "LA") and not png_may_turn(raw))
                or (im.format == "WEBP" and im.mode in ("RGB", "RGBA") and not webp_may_turn(im))):
            out = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
            if out is not None:
                return out
        if reduce > 1 and im.format == "JPEG":
            im.draft("RGB", (max(1, im.width // reduce), max(1, im.height // reduce)))  # libjpeg: ceil(side / reduce)
        im = ImageOps.exif_transpose(im) if exif else im
        if im.mode.startswith("I;16"):  # 16-bit grey: its high byte
            return as_bgr((np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8))
        if im.mode in ("I", "F"):  # 32-bit grey: taken as 0..255
            return as_bgr(np.clip(np.asarray(im), 0, 255).astype(np.uint8))
        rgb = im.convert("RGB")
        return np.frombuffer(rgb.tobytes("raw", "BGR"), np.uint8).reshape(rgb.height, rgb.width, 3).copy()
    except Image.DecompressionBombError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageDecodeError("not an image format Pillow knows") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for broken files
        raise ImageDecodeError(str(e) or type(e).__name__) from None


def encode(image: np.ndarray, suffix: str, quality: int = 95) -> bytes | None:
    """A gray or BGR uint8 image as the bytes of the format ``suffix`` names (``.png``, ``.jpg``,
    ``.webp``, ...); None when Pillow cannot write that format."""
    from PIL import Image

    rgb = image if image.ndim == 2 else image[..., 2::-1]
    ext = suffix.lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        return None
    buf = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format=fmt, **options)
    return buf.getvalue()


def _eight_bit(image: np.ndarray) -> np.ndarray:
    """uint16 keeps its high byte, other depths are clipped to 0..255."""
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    return image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGR, BGRA; uint8 or uint16) to uint8 grayscale."""
    image = _eight_bit(image)
    if image.ndim == 2:
        return image
    cv2 = opencv()
    if cv2 is not None and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.shape[2] in (3, 4):  # 16-bit fixed point, the rounding half added once: OpenCV's sums
        b, g, r = (image[..., i].astype(np.uint32) for i in range(3))
        acc = b * GRAY_WEIGHTS[0] + g * GRAY_WEIGHTS[1] + r * GRAY_WEIGHTS[2] + (1 << 15)
        return (acc >> 16).astype(np.uint8)
    return image[..., 0]


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGR, BGRA; uint8 or uint16) to uint8 BGR."""
    image = _eight_bit(image)
    if image.ndim == 2 or image.shape[2] == 1:
        return np.repeat(image.reshape(image.shape[:2])[..., None], 3, axis=2)
    return image if image.shape[2] == 3 else np.ascontiguousarray(image[..., :3])


@lru_cache(maxsize=64)
def _area_table(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights ``(dst, K)`` of an area downscale along one axis (OpenCV's table)."""
    scale = src / dst
    rows = []
    for d in range(dst):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, src - f1)
        s2 = min(math.floor(f2), src - 1)
        s1 = min(math.ceil(f1), s2)
        taps = [(s1 - 1, (s1 - f1) / cell)] if s1 - f1 > 1e-3 else []
        taps += [(s, 1.0 / cell) for s in range(s1, s2)]
        if f2 - s2 > 1e-3:
            taps.append((s2, min(min(f2 - s2, 1.0), cell) / cell))
        rows.append(taps)
    k = max(len(t) for t in rows)
    idx = np.array([[s for s, _ in t] + [t[-1][0]] * (k - len(t)) for t in rows], np.int64)
    wts = np.array([[w for _, w in t] + [0.0] * (k - len(t)) for t in rows], np.float32)
    return idx, wts


def shrink_area(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A uint8 image (gray or colour) shrunk to ``width x height`` by pixel-area averaging."""
    h, w = image.shape[:2]
    sx, sy = w / width, h / height
    if sx < 1 or sy < 1:
        raise ValueError(f"shrink_area only shrinks: {w}x{h} -> {width}x{height}")
    cv2 = opencv()
    if cv2 is not None and image.dtype == np.uint8:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    c = image.shape[2] if image.ndim == 3 else 1
    if sx == int(sx) and sy == int(sy):  # whole factors: OpenCV averages integers, halves rounded up
        kx, ky = int(sx), int(sy)
        kind = np.uint16 if kx * ky <= 257 else np.uint32  # room for kx * ky values of 255
        rows = image[: height * ky, : width * kx].reshape(height, ky, -1).sum(axis=1, dtype=kind)
        rows = rows.reshape(height, width, kx * c)
        acc = rows[:, :, :c].copy()
        for j in range(1, kx):
            acc += rows[:, :, j * c: (j + 1) * c]
        acc = acc.reshape(height, width, *image.shape[2:])
        if kx == ky == 2:  # OpenCV's 2x2 path rounds halves up; its other whole factors multiply by 1/area
            return ((acc + 2) >> 2).astype(np.uint8)
        return np.rint(acc.astype(np.float32) * np.float32(1.0 / (kx * ky))).astype(np.uint8)
    ix, wx = _area_table(w, width)
    iy, wy = _area_table(h, height)
    # Columns first, then rows, each tap in OpenCV's order (float32 sums: its numbers exactly);
    # flat (rows, width x channels) arrays keep every product a long contiguous loop.
    pixels = image.reshape(h, w, c)  # taken as uint8, each tap turned float32 by its weight
    part = np.take(pixels, ix[:, 0], axis=1).reshape(h, -1) * np.repeat(wx[:, 0], c)
    for j in range(1, ix.shape[1]):
        part += np.take(pixels, ix[:, j], axis=1).reshape(h, -1) * np.repeat(wx[:, j], c)
    out = np.take(part, iy[:, 0], axis=0) * wy[:, 0, None]
    for j in range(1, iy.shape[1]):
        out += np.take(part, iy[:, j], axis=0) * wy[:, j, None]
    out = out.reshape(height, width, *image.shape[2:])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def shrink_quick(image: np.ndarray, factor: float) -> np.ndarray:
    """A uint8 image shrunk by ``factor`` (in (0, 1]) for a detector: area averaging by the whole factor
    that leaves at most twice the size (``shrink_area``'s fast path; the last few rows and columns past a
    whole multiple are dropped), then one bilinear step (``warp_affine``). A pixel at ``x`` lands at
    ``factor * x``. 4-7x faster than an area shrink by a fractional factor (0.13 against 0.47 ms for
    384 -> 256 px with OpenCV), and as smooth where the bilinear step shrinks less than 2x."""
    h, w = image.shape[:2]
    out_w, out_h = max(1, round(w * factor)), max(1, round(h * factor))
    k = max(1, min(int(1 / factor), h, w))  # whole factor: at least twice out_w / w is left for the warp
    if k > 1:
        image = shrink_area(image[: h // k * k, : w // k * k], w // k, h // k)  # a pixel x lands at (x - (k-1)/2) / k
    f = factor * k
    m = np.array([[f, 0.0, factor * (k - 1) / 2], [0.0, f, factor * (k - 1) / 2]])
    return warp_affine(image, m, (out_w, out_h))


def pyr_down(image: np.ndarray) -> np.ndarray:
    """Blur with the 5x5 binomial kernel (mirrored border) and keep every other pixel:
    ``((H + 1) // 2, (W + 1) // 2)``; a pixel centre x goes to x / 2."""
    cv2 = opencv()
    if cv2 is not None and image.dtype == np.uint8:
        return cv2.pyrDown(image)
    k = (1, 4, 6, 4, 1)
    h, w = image.shape[:2]
    pad = ((2, 2), (2, 2)) + ((0, 0),) * (image.ndim - 2)
    p = np.pad(image, pad, mode="reflect").astype(np.uint16)  # 16 x 16 x 255 + 128 < 65536: exact in uint16
    cols = sum(k[i] * p[i:i + h:2] for i in range(5))
    out = sum(k[i] * cols[:, i:i + w:2] for i in range(5))
    return ((out + 128) >> 8).astype(np.uint8)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The inverse of a ``(2, 3)`` affine matrix (0 where it is singular), computed as OpenCV does."""
    (a, b, c), (d, e, f) = np.asarray(m, np.float64)
    det = a * e - b * d
    det = 1.0 / det if det != 0 else 0.0
    a11, a22, a12, a21 = e * det, a * det, -b * det, -d * det
    return np.array([[a11, a12, -a11 * c - a12 * f], [a21, a22, -a21 * c - a22 * f]])


def warp_affine(image: np.ndarray, m: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """The ``size x size`` (or ``(width, height)``) uint8 crop ``x_crop = M @ [x_src, 1]`` by bilinear
    interpolation, black outside the image. Coordinates are fixed-point (1/1024 px, rounded to 1/32 px)
    and weights in 1/1024, as OpenCV's ``warpAffine`` computes them."""
    width, height = (size, size) if isinstance(size, (int, np.integer)) else size
    cv2 = opencv()
    if cv2 is not None and image.dtype == np.uint8:
        return cv2.warpAffine(image, np.asarray(m, np.float64), (int(width), int(height)), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inv = invert_affine(m)
    rows, cols = np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64)
    x0 = np.rint((inv[0, 1] * rows + inv[0, 2]) * 1024).astype(np.int64) + 16  # per crop row
    y0 = np.rint((inv[1, 1] * rows + inv[1, 2]) * 1024).astype(np.int64) + 16
    dx = np.rint(inv[0, 0] * cols * 1024).astype(np.int64)  # per crop column
    dy = np.rint(inv[1, 0] * cols * 1024).astype(np.int64)
    fx = (x0[:, None] + dx[None, :]) >> 5  # in 1/32 px
    fy = (y0[:, None] + dy[None, :]) >> 5
    sx, ax, sy, ay = fx >> 5, fx & 31, fy >> 5, fy & 31
    h, w = image.shape[:2]
    # one black pixel around the image, and every tap outside it clamped onto that border: black
    padded = np.pad(image, ((1, 1), (1, 1)) + ((0, 0),) * (image.ndim - 2))
    pw = w + 2
    flat = padded.reshape(pw * (h + 2), -1)
    if image.ndim == 2:
        flat = flat[:, 0]
    else:
        ax, ay = ax[..., None], ay[..., None]
    left, right = np.clip(sx, -1, w) + 1, np.clip(sx + 1, -1, w) + 1
    top, bottom = (np.clip(sy, -1, h) + 1) * pw, (np.clip(sy + 1, -1, h) + 1) * pw

    def at(index: np.ndarray) -> np.ndarray:
        return flat[index].astype(np.int64)

    v = ((32 - ax) * (32 - ay) * at(top + left) + ax * (32 - ay) * at(top + right)
         + (32 - ax) * ay * at(bottom + left) + ax * ay * at(bottom + right))
    return ((v * 32 + (1 << 14)) >> 15).astype(np.uint8)
