"""Read 68-point (iBUG order) face sets: images plus a CSV (or ``.pts`` files) of points.

A source is a folder. Images and annotation files may lie in it directly or inside
``.tar`` archives in it (read as they are, never unpacked). Annotation tables are CSVs
whose first column names the image and whose last 136 columns are ``x0, y0, ..., x67, y67``
(the Udacity/YouTube Faces layout ``,0,1,...,135`` and ``image,subset,x0,y0,...`` both fit).
Without a CSV, ``NAME.pts`` files next to ``NAME.<image>`` are used.

Pixel convention. The project puts pixel centres at integers from 0 (OpenCV's). 300-W ``.pts``
files are 1-based (Matlab's; menpo subtracts 1 on import), so points read from a ``.pts`` file, or
from a CSV row whose image has a ``.pts`` file beside it (the wild-68 packs ship both, with the
same values), are converted on read: ``x - 1, y - 1`` (``ONE_BASED_SHIFT``). So are the Udacity /
YouTube Faces tables (header ``,0,1,...,135``): their points sit one pixel right of the features, as
a mirror-trained model measures (``benchmarks/pixel_convention.py``). Other tables are taken as
0-based. docs/data.md says how each source's convention was decided.

A CSV whose name starts with a word that is also a folder (``training_frames_keypoints.csv``
and ``training/``) takes its images from that folder, so two parts that reuse file
names never get each other's pictures.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ..fileio import IMAGE_EXTS, DataError
from ..imaging import ImageDecodeError, decode


@dataclass
class Face68:
    """One annotated face: where its image is, who it is, and its 68 points ``(68, 2)``."""

    name: str  # unique within the source, e.g. "training/Luis_Fonsi_21.jpg" (as the annotations name it)
    identity: str  # person / photo id used to keep splits apart
    points: np.ndarray
    read: Callable[[], bytes]
    file: str = ""  # the image file actually read (folder or tar member), for error messages
    convention: str = "0-based"  # the source's pixel convention, before conversion ("1-based": 300-W .pts)


ONE_BASED_SHIFT = 1.0  # subtracted from 1-based (300-W .pts) coordinates on read


def identity_of(name: str) -> str:
    """``Person_Name_07.jpg`` -> ``Person_Name``; ``helen_1234_2.jpg`` -> ``helen_1234`` (the trailing
    number is a frame or a face of one photo); ``lfpw_image_0001.jpg`` stays whole (one face per photo)."""
    stem = PurePosixPath(name).stem
    if re.fullmatch(r"lfpw_image_\d+", stem):
        return stem
    return re.sub(r"_\d+$", "", stem)


class _Files:
    """A read-only view of a folder and the tars in it: relative posix path -> bytes."""

    def __init__(self, root: Path):
        self.root = root
        self.readers: dict[str, Callable[[], bytes]] = {}
        self._tars: list[tarfile.TarFile] = []
        for p in sorted(root.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(root).as_posix()
            if p.suffix.lower() == ".tar":
                try:
                    tf = tarfile.open(p)
                except (tarfile.TarError, OSError) as e:
                    raise DataError(f"{p}: unreadable tar ({e})") from None
                self._tars.append(tf)
                for m in tf.getmembers():
                    if m.isfile():
                        self.readers[_relative(m.name)] = self._tar_reader(tf, m)
            else:
                self.readers[rel] = p.read_bytes
        # (folder, stem) -> path, for image lookup that ignores the extension (.jpg vs .webp)
        self.images: dict[tuple[str, str], str] = {}
        for rel in self.readers:
            pp = PurePosixPath(rel)
            if pp.suffix.lower() in IMAGE_EXTS:
                self.images.setdefault((str(pp.parent), pp.stem), rel)

    @staticmethod
    def _tar_reader(tf: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], bytes]:
        def read() -> bytes:
            f = tf.extractfile(member)
            assert f is not None
            return f.read()

        return read

    def folders(self) -> set[str]:
        return {folder for folder, _ in self.images}

    def close(self) -> None:
        for tf in self._tars:
            tf.close()
        self._tars.clear()


def _relative(name: str) -> str:
    """``./a/b`` -> ``a/b`` (a leading ``./``, however often; other dots stay)."""
    while name.startswith("./"):
        name = name[2:]
    return name


def udacity_layout(columns: list[str]) -> bool:
    """The Udacity / YouTube Faces table: an unnamed first column, then ``0, 1, ..., 135``. Its points
    are 1-based (measured with a mirror-trained model, ``benchmarks/pixel_convention.py``: docs/data.md)."""
    return [str(c).strip() for c in columns[-136:]] == [str(i) for i in range(136)] and (
        str(columns[0]).strip() in ("", "Unnamed: 0"))


def _annotation_table(raw: bytes, name: str) -> pd.DataFrame | None:
    """The CSV as (image name, 136 coordinates), or None when it is not a 68-point table;
    ``attrs["one_based"]`` says whether its layout is known to be 1-based (``udacity_layout``)."""
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError):
        return None
    if df.shape[1] < 137:
        return None
    coords = df.iloc[:, -136:].apply(pd.to_numeric, errors="coerce")
    if coords.isna().all(axis=None):
        return None
    one_based = udacity_layout(list(df.columns))
    coords.columns = [f"c{i}" for i in range(136)]
    table = pd.concat([df.iloc[:, 0].str.strip().rename("image"), coords.astype(np.float64)], axis=1)
    table.attrs["one_based"] = one_based
    return table


def read_pts(raw: bytes, name: str) -> np.ndarray:
    """Parse an iBUG ``.pts`` file (with or without the ``version/n_points/{ }`` wrapper)."""
    rows = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith(("version", "n_points", "{", "}")):
            continue
        parts = line.split()
        try:
            rows.append((float(parts[0]), float(parts[1])))
        except (ValueError, IndexError):
            raise DataError(f"{name}: bad point line {line[:40]!r}") from None
    if len(rows) != 68:
        raise DataError(f"{name}: {len(rows)} points, expected 68")
    return np.array(rows, np.float64)


def iter_faces(src: str | Path, bad: list[tuple[str, str]] | None = None) -> Iterator[Face68]:
    """Yield every annotated face of a 68-point source; problems go to ``bad`` as (item, reason)."""
    root = Path(src)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (a 68-point source is a folder of images + annotations)")
    files = _Files(root)
    try:
        yield from _faces(files, root, bad if bad is not None else [])
    finally:
        files.close()  # the tars, when the faces are all read or the reader stops early


def _faces(files: _Files, root: Path, bad: list[tuple[str, str]]) -> Iterator[Face68]:
    folders = files.folders()
    tables = [rel for rel in files.readers if rel.lower().endswith(".csv")]
    found_table = False
    for rel in sorted(tables):
        table = _annotation_table(files.readers[rel](), rel)
        if table is None:
            continue
        found_table = True
        here = PurePosixPath(rel).parent
        prefix = str(here / PurePosixPath(rel).stem.split("_")[0])
        img_folder = prefix if prefix in folders else str(here)
        coords = table[[f"c{i}" for i in range(136)]].to_numpy()
        for i, image_name in enumerate(table["image"]):
            item = f"{rel} row {i + 1} ({image_name})"
            pts = coords[i].reshape(68, 2)
            if not np.isfinite(pts).all():
                bad.append((item, "missing or non-numeric coordinates"))
                continue
            stem = PurePosixPath(image_name).stem
            path = files.images.get((img_folder, stem))
            if path is None:
                bad.append((item, f"no image named {stem}.* in {img_folder or root}"))
                continue
            # 1-based: the 300-W values (a .pts beside the image says so), or the Udacity layout (measured)
            one_based = table.attrs["one_based"] or _relative(f"{img_folder}/{stem}.pts") in files.readers
            yield Face68(_relative(f"{img_folder}/{image_name}"), identity_of(image_name),
                         pts - ONE_BASED_SHIFT if one_based else pts, files.readers[path], path,
                         "1-based" if one_based else "0-based")
    if found_table:
        return
    for rel in sorted(r for r in files.readers if r.lower().endswith(".pts")):
        pp = PurePosixPath(rel)
        path = files.images.get((str(pp.parent), pp.stem))
        if path is None:
            bad.append((rel, "no image beside this .pts file"))
            continue
        try:
            pts = read_pts(files.readers[rel](), rel)
        except DataError as e:
            bad.append((rel, str(e)))
            continue
        yield Face68(path, identity_of(path), pts - ONE_BASED_SHIFT, files.readers[path], path, "1-based")


def decode_image(raw: bytes, name: str) -> np.ndarray:
    """Decode image bytes as stored (no EXIF turn: the grid the points refer to), as uint8 BGR."""
    if not raw:
        raise DataError(f"{name}: empty file")
    try:
        return decode(raw, exif=False)
    except ImageDecodeError as e:
        raise DataError(f"{name}: not a readable image ({e})") from None
