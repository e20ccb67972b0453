"""``facekeypoints data convert``: a 68-point face set -> Kaggle layout (``YT15``).

Each face is framed so that its eyes, nose tip and bottom lip sit where Kaggle's
faces have them on average (see ``geometry.KAGGLE_TEMPLATE``), cropped to 96x96
grayscale (``size``: the same face region at N x N pixels, for photo models with larger crops;
``channels=3``: BGR planes, for colour models),
and its 15 Kaggle keypoints are mapped from the 68 (``keypoints.FROM_68``).
A keypoint that falls outside the crop becomes missing (an empty field).

``framer``: frame each face as ``predict`` frames a photo instead. It is called with the
decoded image and the face's 68 true points and returns the ``(2, 3)`` framing that
``predict`` would use for that face (the CLI passes ``photos.detect.DetectorFraming``: YuNet
and its calibrated framing, the very code ``predict`` runs), or None when the detector misses
the face, which then falls back to the template framing. Labels stay the true points.
``rotate``: every framing also turns the face upright by its eyes (a similarity, as
``KeypointDetector(rotate=True)`` frames a photo); the template fallback then fits a similarity too.

``holdout``: the faces of that fraction of identities (photo ids, people; chosen by a hash of
the identity, so the same on every run) go to a second folder, ``holdout_dir``, for validation.

Output folder:
  training.csv  exact Kaggle layout (30 keypoint columns + Image)
  meta.csv      row, identity, source, framing, scale, shift_x, shift_y, angle (degrees the face was turned;
                0 unless ``rotate``), x0,y0..x67,y67 (68 points in the crop)
  convert.json  counts, skipped items with reasons, the framing template
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..fileio import atomic_write, atomic_write_json
from ..geometry import (
    KAGGLE_TEMPLATE,
    REFERENCE_SIZE,
    apply_affine,
    crop_affine,
    crop_shape,
    resize_framing,
    template_matrix,
    to_gray,
)
from ..keypoints import map_68_to_15
from .kaggle import DataError, write_training_csv
from .landmarks68 import decode_image, iter_faces

Framer68 = Callable[[np.ndarray, np.ndarray], "np.ndarray | None"]  # (image, 68 points) -> (2, 3) or None


def held_out(identity: str, fraction: float) -> bool:
    """Whether an identity falls in the held-out ``fraction`` (a stable hash of its name)."""
    h = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big") / 2**64
    return h < fraction


def _inside(points: np.ndarray, size: int) -> np.ndarray:
    out = np.asarray(points, np.float64).copy()
    out[((out < 0) | (out > size - 1)).any(axis=-1)] = np.nan
    return out.astype(np.float32)


class _Part:
    """The faces of one output folder, gathered before writing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[np.ndarray] = []
        self.kps: list[np.ndarray] = []
        self.pts68: list[np.ndarray] = []
        self.rows: list[tuple] = []

    def add(self, image: np.ndarray, kp15: np.ndarray, pts68: np.ndarray, m: np.ndarray, row: tuple) -> None:
        self.images.append(image)
        self.kps.append(_inside(apply_affine(kp15, m), self.size))
        self.pts68.append(_inside(apply_affine(pts68, m), self.size))
        scale, angle = float(np.hypot(m[0, 0], m[1, 0])), float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))
        self.rows.append((*row, scale, float(m[0, 2]), float(m[1, 2]), angle))

    def write(self, out_dir: Path, summary: dict) -> dict:
        write_training_csv(out_dir / "training.csv", np.stack(self.images), np.stack(self.kps))
        meta = pd.DataFrame(self.rows, columns=["identity", "source", "framing", "scale", "shift_x", "shift_y",
                                               "angle"])
        meta.insert(0, "row", np.arange(1, len(self.rows) + 1))
        cols = [f"{a}{i}" for i in range(68) for a in ("x", "y")]
        points = pd.DataFrame(np.stack(self.pts68).reshape(len(self.rows), -1), columns=cols)
        meta = pd.concat([meta, points], axis=1)
        atomic_write(out_dir / "meta.csv", lambda p: meta.to_csv(p, index=False, float_format="%.3f"))
        missing = np.isnan(np.stack(self.kps)[..., 0])
        summary = {**summary, "faces": len(self.rows), "identities": int(meta["identity"].nunique()),
                   "framing_counts": {k: int(v) for k, v in meta["framing"].value_counts().items()},
                   "missing_keypoints": int(missing.sum()),
                   "faces_with_all_15": int((~missing.any(axis=1)).sum())}
        atomic_write_json(out_dir / "convert.json", summary)
        return summary


def convert_68(src: str | Path, out_dir: str | Path, progress: bool = True, framer: Framer68 | None = None,
               holdout: float = 0.0, holdout_dir: str | Path | None = None, size: int = REFERENCE_SIZE,
               channels: int = 1, rotate: bool = False) -> dict:
    """Convert a 68-point source folder into a Kaggle-layout folder of ``size``-px crops (grey, or BGR
    planes with ``channels=3``; ``rotate``: turned upright, the framer then must turn them too); returns
    the summary."""
    if not 32 <= size <= 512 or size % 16:
        raise ValueError(f"size={size}: choose a crop side in 32..512 that is a multiple of 16 (96, 128, 160, ...)")
    crop_shape(size, channels)  # a bad channel count is refused before any face is read
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout={holdout}: choose a fraction in 0..1 (0 = keep every face)")
    if holdout and holdout_dir is None:
        raise ValueError("holdout needs holdout_dir, the folder for the held-out faces")
    out_dir = Path(out_dir)
    bad: list[tuple[str, str]] = []
    parts = {"train": _Part(size), "holdout": _Part(size)}
    conventions: set[str] = set()
    for face in tqdm(iter_faces(src, bad), desc="convert", unit="face", disable=not progress):
        try:
            image = decode_image(face.read(), face.file or face.name)
            kp15 = map_68_to_15(face.points)
            m, how = (framer(image, face.points), "detector") if framer is not None else (None, "template")
            if m is None:
                m, how = template_matrix(kp15, rotate), "template"
            m = resize_framing(m, size)  # every framing is fitted in the 96-px frame
        except (DataError, ValueError) as e:
            bad.append((face.name, str(e)))
            continue
        conventions.add(face.convention)
        part = parts["holdout" if holdout and held_out(face.identity, holdout) else "train"]
        crop = crop_affine(to_gray(image) if channels == 1 else image, m, size, channels)
        part.add(crop, kp15, face.points, m, (face.identity, face.name, how))
    if not parts["train"].rows:
        raise DataError(f"{src}: no usable 68-point faces found ({len(bad)} bad items)")
    summary = {
        "source": str(src),
        "pixel_convention_read": sorted(conventions),  # converted to 0-based pixel centres on read
        "framing": "detector" if framer is not None else "template",
        "holdout": holdout,
        "size": size,  # the crops' side and channels: load_training reads them
        "channels": channels,
        "upright": rotate,  # framings turned the faces upright (a similarity)
        "skipped": [{"item": item, "reason": reason} for item, reason in bad],
        "template": KAGGLE_TEMPLATE,
    }
    out = parts["train"].write(out_dir, summary)
    if holdout and parts["holdout"].rows:
        out["holdout_part"] = parts["holdout"].write(Path(holdout_dir), {**summary, "part": "holdout"})
    return out
