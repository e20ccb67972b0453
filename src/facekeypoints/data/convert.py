"""``facekeypoints data convert``: a 68-point face set -> Kaggle layout (``YT15``).

Each face is framed so that its eyes, nose tip and bottom lip sit where Kaggle's
faces have them on average (see ``geometry.KAGGLE_TEMPLATE``), cropped to 96x96
grayscale, and its 15 Kaggle keypoints are mapped from the 68 (``keypoints.FROM_68``).
A keypoint that falls outside the crop becomes missing (an empty field).

Output folder:
  training.csv  exact Kaggle layout (30 keypoint columns + Image)
  meta.csv      row, identity, source, scale, shift_x, shift_y, x0,y0..x67,y67 (68 points in the crop)
  convert.json  counts, skipped items with reasons, the framing template
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..fileio import atomic_write, atomic_write_json
from ..geometry import KAGGLE_TEMPLATE, apply_framing, crop_face, template_framing, to_gray
from ..keypoints import map_68_to_15
from .kaggle import IMAGE_SIZE, DataError, write_training_csv
from .landmarks68 import decode_image, iter_faces


def convert_68(src: str | Path, out_dir: str | Path, progress: bool = True) -> dict:
    """Convert a 68-point source folder into a Kaggle-layout folder; returns the summary."""
    out_dir = Path(out_dir)
    bad: list[tuple[str, str]] = []
    images, kps, pts68, rows = [], [], [], []
    for face in tqdm(iter_faces(src, bad), desc="convert", unit="face", disable=not progress):
        try:
            gray = to_gray(decode_image(face.read(), face.file or face.name))
            kp15 = map_68_to_15(face.points)
            scale, shift = template_framing(kp15)
        except (DataError, ValueError) as e:
            bad.append((face.name, str(e)))
            continue
        images.append(crop_face(gray, scale, shift, IMAGE_SIZE))
        kps.append(apply_framing(kp15, scale, shift, IMAGE_SIZE))
        pts68.append(apply_framing(face.points, scale, shift, IMAGE_SIZE))
        rows.append((face.identity, face.name, scale, shift[0], shift[1]))
    if not images:
        raise DataError(f"{src}: no usable 68-point faces found ({len(bad)} bad items)")

    write_training_csv(out_dir / "training.csv", np.stack(images), np.stack(kps))
    meta = pd.DataFrame(rows, columns=["identity", "source", "scale", "shift_x", "shift_y"])
    meta.insert(0, "row", np.arange(1, len(rows) + 1))
    cols = [f"{a}{i}" for i in range(68) for a in ("x", "y")]
    points = pd.DataFrame(np.stack(pts68).reshape(len(rows), -1), columns=cols)
    meta = pd.concat([meta, points], axis=1)
    atomic_write(out_dir / "meta.csv", lambda p: meta.to_csv(p, index=False, float_format="%.3f"))
    missing = np.isnan(np.stack(kps)[..., 0])
    summary = {
        "source": str(src),
        "faces": len(rows),
        "identities": int(meta["identity"].nunique()),
        "missing_keypoints": int(missing.sum()),
        "faces_with_all_15": int((~missing.any(axis=1)).sum()),
        "skipped": [{"item": item, "reason": reason} for item, reason in bad],
        "template": KAGGLE_TEMPLATE,
    }
    atomic_write_json(out_dir / "convert.json", summary)
    return summary
