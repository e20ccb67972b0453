"""Small file helpers shared by every layer: input errors, the cache folder, image file
types, atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Every still-image type Pillow decodes here (imaging.decode) (folder scans and `predict` take the same set).
IMAGE_EXTS: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm",
    ".sr", ".ras", ".jp2", ".avif", ".gif", ".qoi", ".tga",
})


class DataError(ValueError):
    """Bad input data; the message names the file, row and field."""


def cache_dir() -> Path:
    """Where parsed arrays and exported graphs are kept: ``$FACEKEYPOINTS_CACHE`` or ``~/.cache/facekeypoints``."""
    return Path(os.environ.get("FACEKEYPOINTS_CACHE", Path.home() / ".cache" / "facekeypoints"))


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    A crash mid-write leaves the previous file (or nothing) in place, never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files ``atomic_write`` left in ``folder`` when its process was killed
    mid-write (``.NAME.XXXX.tmp``); returns what it deleted. Call it only where no writer is running."""
    stale = sorted(p for p in Path(folder).glob(".*.tmp") if p.is_file())
    for p in stale:
        p.unlink()
    return stale


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
