"""Read the Kaggle "Facial Keypoints Detection" layout, exactly as Kaggle ships it.

Accepted sources for the training set: a folder holding ``training.csv`` or
``training.zip`` (or the competition zip), ``training.csv`` itself, ``training.zip``,
or the whole competition zip (which nests ``training.zip``). Likewise for ``test``.

Parsing is vectorised (one ``np.fromstring`` over all pixel strings) and the parsed
arrays are cached, keyed by the source file's sha256, so a second load is fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..fileio import DataError, atomic_write, atomic_write_json, cache_dir, sha256_file
from ..geometry import crop_shape
from ..keypoints import COLUMNS, NUM_KEYPOINTS

IMAGE_SIZE = 96
CACHE_VERSION = 1
MAX_COORD = 1e4  # a label further than this from a 96x96 image is a broken value, not a point


@dataclass
class KeypointDataset:
    """Faces and keypoints in memory.

    images: ``(N, 96, 96)`` uint8 (``(N, S, S)`` for ``data convert --size S``; ``(N, 3, S, S)`` BGR
    planes with ``--color``: the side is always the last axis); keypoints: ``(N, 15, 2)`` float32 pixels, NaN = missing.
    identities: ``(N,)`` person ids when the source has them (converted sets), else None.
    extra: optional per-face arrays from a converted set's ``meta.csv`` (e.g. ``points68``).
    """

    images: np.ndarray
    keypoints: np.ndarray
    identities: np.ndarray | None = None
    source: str = ""
    data_hash: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def fingerprints(self, idx: np.ndarray | None = None) -> list[str]:
        """Short stable ids of faces (all, or ``idx``): of the source image for converted sets
        (``meta.csv``'s ``source``), else of the pixels. Checkpoints record their training faces'
        ids so ``evaluate`` can tell when it is shown faces the model learnt from."""
        idx = np.arange(len(self)) if idx is None else np.asarray(idx)
        if "sources" in self.extra:
            keys = [f"src:{s}".encode() for s in self.extra["sources"][idx]]
        else:
            keys = [self.images[i].tobytes() for i in idx]
        return [hashlib.sha1(k).hexdigest()[:12] for k in keys]

    def subset(self, idx: np.ndarray) -> KeypointDataset:
        return KeypointDataset(
            self.images[idx],
            self.keypoints[idx],
            None if self.identities is None else self.identities[idx],
            self.source,
            self.data_hash,
            {k: v[idx] for k, v in self.extra.items()},
        )


# --------------------------------------------------------------------------- locating
def _find_member(zf: zipfile.ZipFile, stem: str) -> str | None:
    names = zf.namelist()
    for want in (f"{stem}.csv", f"{stem}.zip"):
        for n in names:
            if n.rsplit("/", 1)[-1] == want:
                return n
    return None


def read_source_bytes(path: str | Path, stem: str) -> tuple[bytes, str]:
    """Return the raw CSV bytes of ``stem`` (``training`` or ``test``) and a display name.

    ``path`` may be a folder, the CSV, its zip, or the competition zip nesting the zip.
    """
    path = _source_file(Path(path), stem)
    if path.suffix.lower() != ".zip":
        return path.read_bytes(), str(path)
    data, name = path.read_bytes(), str(path)
    # Unwrap nested zips (competition zip -> training.zip -> training.csv).
    for _ in range(3):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as e:
            raise DataError(f"{name}: not a readable zip file ({e})") from None
        member = _find_member(zf, stem)
        if member is None:
            raise DataError(f"{name}: holds no {stem}.csv or {stem}.zip")
        data, name = zf.read(member), f"{name}!{member}"
        if not member.endswith(".zip"):
            return data, name
    raise DataError(f"{name}: zips nested too deeply")


# --------------------------------------------------------------------------- parsing
def parse_pixels(images: pd.Series, name: str, first_line: int = 2, side: int = IMAGE_SIZE,
                 channels: int = 1) -> np.ndarray:
    """Parse a column of space-separated pixel strings into ``(N, side, side)`` uint8 (Kaggle: 96),
    or ``(N, 3, side, side)`` BGR planes for ``channels=3`` (a ``data convert --color`` folder).

    One vectorised parse; only when that fails is each row inspected to name the bad one.
    """
    strings = [s.strip() for s in images.fillna("").astype(str).tolist()]
    # str.count is C speed; pandas' .str.count goes through a regex per row (4x slower here)
    counts = np.fromiter((s.count(" ") + 1 if s else 0 for s in strings), np.int64, len(strings))
    want = channels * side * side
    for i in np.flatnonzero(counts != want)[:1]:
        raise DataError(
            f"{name}: row {i + 1} (line {i + first_line}), field 'Image': "
            f"{counts[i]} pixel values, expected {want} ({side}x{side}{' x 3 colour planes' if channels > 1 else ''})"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # older numpy warns instead of raising
            values = np.fromstring(" ".join(strings), dtype=np.int32, sep=" ")
        bad = values.size != counts.sum() or (values.size and (values.min() < 0 or values.max() > 255))
    except ValueError:
        bad = True
    if bad:
        for i, s in enumerate(strings):
            for tok in s.split(" "):
                if not tok.isdigit() or int(tok) > 255:
                    raise DataError(
                        f"{name}: row {i + 1} (line {i + first_line}), field 'Image': "
                        f"bad pixel value {tok[:20]!r} (want an integer 0..255)"
                    )
        raise DataError(f"{name}: field 'Image' could not be parsed")
    return values.astype(np.uint8).reshape(-1, *crop_shape(side, channels))


def _read_csv(raw: bytes, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: empty file (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"{name}: malformed CSV ({e})") from None


def _require_columns(df: pd.DataFrame, cols: list[str], name: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        found = ", ".join(map(str, list(df.columns)[:3])) + (", ..." if len(df.columns) > 3 else "")
        raise DataError(f"{name}: not a Kaggle {'test' if 'ImageId' in cols else 'training'}.csv header: "
                        f"missing {shown} (found {found})")


def parse_training_csv(raw: bytes, name: str = "training.csv", side: int = IMAGE_SIZE,
                       channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Parse Kaggle ``training.csv`` bytes into images ``(N,96,96)`` and keypoints ``(N,15,2)``
    (``side``, ``channels``: the crops of a ``data convert --size N [--color]`` folder)."""
    df = _read_csv(raw, name)
    _require_columns(df, [*COLUMNS, "Image"], name)
    coords = np.empty((len(df), len(COLUMNS)), dtype=np.float32)
    for j, col in enumerate(COLUMNS):
        text = df[col].str.strip()
        num = pd.to_numeric(text, errors="coerce")
        bad = (text != "") & (num.isna() | ~np.isfinite(num.fillna(0)))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{name}: row {i + 1} (line {i + 2}), field {col!r}: not a number: {text.iloc[i][:30]!r}")
        huge = num.abs() > MAX_COORD
        if huge.any():
            i = int(np.flatnonzero(huge.to_numpy())[0])
            raise DataError(f"{name}: row {i + 1} (line {i + 2}), field {col!r}: {text.iloc[i][:30]} is no pixel "
                            f"coordinate of a 96x96 image (|value| > {MAX_COORD:g})")
        coords[:, j] = num.to_numpy(dtype=np.float32, na_value=np.nan)
    images = parse_pixels(df["Image"], name, side=side, channels=channels)
    return images, coords.reshape(-1, NUM_KEYPOINTS, 2)


def parse_test_csv(raw: bytes, name: str = "test.csv") -> tuple[np.ndarray, np.ndarray]:
    """Parse Kaggle ``test.csv`` bytes into image ids ``(N,)`` and images ``(N,96,96)``."""
    df = _read_csv(raw, name)
    _require_columns(df, ["ImageId", "Image"], name)
    ids = pd.to_numeric(df["ImageId"].str.strip(), errors="coerce")
    if ids.isna().any():
        i = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(f"{name}: row {i + 1} (line {i + 2}), field 'ImageId': not an integer")
    return ids.to_numpy(dtype=np.int64), parse_pixels(df["Image"], name)


# --------------------------------------------------------------------------- cache
def content_hash(path: Path) -> str:
    """sha256 of a file, memoised by (path, size, mtime) so unchanged files are not re-read."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    memo_path = cache_dir() / "hashes.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if key not in memo:
        memo[key] = sha256_file(path)
        try:
            atomic_write_json(memo_path, memo)
        except OSError:
            pass  # a read-only cache only costs speed
    return memo[key]


def _source_file(path: Path, stem: str) -> Path:
    """The file on disk that holds ``stem`` (``training`` or ``test``): the path itself, or in a
    folder ``STEM.csv``, ``STEM.zip`` or a zip holding them (the competition zip)."""
    if not path.is_dir():
        if not path.exists():
            raise DataError(f"{path}: file not found")
        return path
    for cand in (f"{stem}.csv", f"{stem}.zip"):
        if (path / cand).is_file():
            return path / cand
    for z in sorted(path.glob("*.zip")):
        try:
            with zipfile.ZipFile(z) as zf:
                if _find_member(zf, stem):
                    return z
        except zipfile.BadZipFile:
            continue  # another zip in the folder, unreadable: not ours to judge here
    raise DataError(f"{path}: no {stem}.csv, {stem}.zip or competition zip holding them in this folder "
                    f"(get them with: kaggle competitions download -c facial-keypoints-detection)")


def _cached(path: Path, stem: str, parse, use_cache: bool, tag: str = "") -> tuple[dict[str, np.ndarray], str, str]:
    src = _source_file(path, stem)
    digest = content_hash(src)
    cfile = cache_dir() / f"{stem}-{digest[:24]}{tag}-v{CACHE_VERSION}.npz"
    if use_cache and cfile.exists():
        try:
            with np.load(cfile, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}, digest, str(src)
        except (OSError, ValueError):
            pass  # corrupt cache entry: parse again and overwrite it
    raw, name = read_source_bytes(path, stem)
    arrays = parse(raw, name)
    if use_cache:
        try:
            atomic_write(cfile, lambda p: _savez(p, arrays))
        except OSError:
            pass
    return arrays, digest, name


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object stops numpy appending ".npz" to the temp name
        np.savez(f, **arrays)


# --------------------------------------------------------------------------- public loaders
def load_training(path: str | Path, use_cache: bool = True) -> KeypointDataset:
    """Load a Kaggle-layout training set (plus ``meta.csv`` identities when present).

    A ``.npz`` written by :func:`save_packed` (``facekeypoints data pack``) loads directly.
    """
    path = Path(path)
    if path.suffix == ".npz":
        return load_packed(path)
    side, channels = crop_side(path), crop_channels(path)

    def parse(raw: bytes, name: str) -> dict[str, np.ndarray]:
        images, keypoints = parse_training_csv(raw, name, side, channels)
        return {"images": images, "keypoints": keypoints}

    tag = ("" if side == IMAGE_SIZE else f"-s{side}") + ("" if channels == 1 else f"-c{channels}")
    arrays, digest, name = _cached(path, "training", parse, use_cache, tag)
    ds = KeypointDataset(arrays["images"], arrays["keypoints"], source=name, data_hash=digest)
    meta = (path if path.is_dir() else path.parent) / "meta.csv"
    if meta.exists():
        _attach_meta(ds, meta)
    return ds


def _convert_field(path: str | Path, key: str, default: Any) -> tuple[Any, Path]:
    """Field ``key`` of the ``convert.json`` beside a Kaggle-layout folder's CSV (else ``default``), and that file."""
    path = Path(path)
    info = (path if path.is_dir() else path.parent) / "convert.json"
    if not info.is_file():
        return default, info
    try:
        return json.loads(info.read_text()).get(key, default), info
    except (OSError, ValueError) as e:
        raise DataError(f"{info}: unreadable ({e})") from None


def crop_side(path: str | Path) -> int:
    """The side of the faces in a Kaggle-layout folder: the ``size`` its ``convert.json`` records
    (``data convert --size N``), else Kaggle's 96."""
    side, info = _convert_field(path, "size", IMAGE_SIZE)
    if not isinstance(side, int) or side < 16:
        raise DataError(f"{info}: field 'size': {side!r} is no crop side in pixels")
    return side


def crop_channels(path: str | Path) -> int:
    """The faces' channels in a Kaggle-layout folder: 3 (BGR planes) where its ``convert.json``
    records ``"channels": 3`` (``data convert --color``), else 1 (grey, as Kaggle's)."""
    channels, info = _convert_field(path, "channels", 1)
    if channels not in (1, 3):
        raise DataError(f"{info}: field 'channels': {channels!r} (want 1, grey, or 3, BGR planes)")
    return channels


def crop_upright(path: str | Path) -> bool:
    """Whether the faces of a Kaggle-layout folder were turned upright by their eyes (its
    ``convert.json`` records ``"upright": true``, ``data convert --upright``); Kaggle's are not."""
    upright, info = _convert_field(path, "upright", False)
    if not isinstance(upright, bool):
        raise DataError(f"{info}: field 'upright': {upright!r} (want true or false)")
    return upright


def _attach_meta(ds: KeypointDataset, meta_path: Path) -> None:
    meta = pd.read_csv(meta_path, dtype={"identity": str, "source": str}, keep_default_na=False, low_memory=False)
    if len(meta) != len(ds):
        raise DataError(f"{meta_path}: {len(meta)} rows but training.csv has {len(ds)}")
    ds.identities = meta["identity"].to_numpy(dtype=str)
    if "source" in meta.columns:
        ds.extra["sources"] = meta["source"].to_numpy(dtype=str)
    pcols = [f"{a}{i}" for i in range(68) for a in ("x", "y")]
    if all(c in meta.columns for c in pcols):
        pts = meta[pcols].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
        ds.extra["points68"] = pts.reshape(-1, 68, 2)


def load_test(path: str | Path, use_cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load Kaggle ``test.csv`` (or its zip): returns ``(image_ids, images)``."""

    def parse(raw: bytes, name: str) -> dict[str, np.ndarray]:
        ids, images = parse_test_csv(raw, name)
        return {"ids": ids, "images": images}

    arrays, _, _ = _cached(Path(path), "test", parse, use_cache)
    return arrays["ids"], arrays["images"]


def format_pixels(images: np.ndarray) -> list[str]:
    """Render ``(N, 96, 96)`` uint8 images as Kaggle pixel strings (colour ``(N, 3, S, S)``: plane after plane)."""
    lut = [str(v) for v in range(256)]
    return [" ".join(map(lut.__getitem__, img.reshape(-1).tolist())) for img in images]


def write_training_csv(path: str | Path, images: np.ndarray, keypoints: np.ndarray) -> Path:
    """Write a Kaggle-layout ``training.csv`` (empty field = missing), atomically."""
    flat = keypoints.reshape(len(keypoints), -1)
    df = pd.DataFrame({c: flat[:, j] for j, c in enumerate(COLUMNS)})
    df["Image"] = format_pixels(images)
    return atomic_write(path, lambda p: df.to_csv(p, index=False, float_format="%.4f", na_rep=""))


def save_packed(ds: KeypointDataset, path: str | Path) -> Path:
    """One compressed ``.npz`` with everything ``load_training`` gives (no pickles), e.g. to carry
    a data set to another machine; the original content hash travels with it."""
    arrays = {"images": ds.images, "keypoints": ds.keypoints, "data_hash": np.array(ds.data_hash),
              "source": np.array(ds.source)}
    if ds.identities is not None:
        arrays["identities"] = ds.identities.astype(str)
    arrays.update({f"extra_{k}": v for k, v in ds.extra.items()})

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)

    return atomic_write(Path(path), write)


def load_packed(path: Path) -> KeypointDataset:
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable packed data set ({e})") from None
    missing = [k for k in ("images", "keypoints", "data_hash") if k not in a]
    if missing:
        raise DataError(f"{path}: packed data set lacks {missing}")
    return KeypointDataset(a["images"], a["keypoints"], a.get("identities"), str(a.get("source", path)),
                           str(a["data_hash"]), {k[6:]: v for k, v in a.items() if k.startswith("extra_")})


def describe(path: str | Path) -> dict:
    """Faces, identities, label coverage and content hash of a Kaggle-layout data set."""
    ds = load_training(path)
    present = ~np.isnan(ds.keypoints[..., 0])
    return {"source": ds.source, "faces": len(ds), "data_hash": ds.data_hash,
            "identities": None if ds.identities is None else int(len(set(ds.identities))),
            "faces_with_all_15": int(present.all(1).sum()), "labels_present": int(present.sum())}
