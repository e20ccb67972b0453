"""``facekeypoints submit``: a Kaggle submission file (``RowId,Location``) from a checkpoint.

Kaggle's ``IdLookupTable.csv`` lists, row by row, which image (``ImageId``) and which
coordinate (``FeatureName``, e.g. ``left_eye_center_x``) it wants; its ``Location`` field is
empty. We predict every test face once, then read off the requested coordinates, clipped
to the image, [0, 96].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..checkpoint import load_checkpoint
from ..data.kaggle import DataError, load_test
from ..devices import pick_device
from ..fileio import atomic_write
from ..keypoints import COLUMNS
from .crops import predict_crops
from .tta import with_tta


def read_lookup(path: str | Path) -> pd.DataFrame:
    """``IdLookupTable.csv`` (plain or compressed) with its columns checked."""
    try:
        table = pd.read_csv(path, dtype={"FeatureName": str})
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise DataError(f"{path}: unreadable lookup table ({e})") from None
    missing = [c for c in ("RowId", "ImageId", "FeatureName") if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    return table


def make_submission(model_path: str | Path, test: str | Path, lookup: str | Path, out: str | Path,
                    device: str = "auto") -> pd.DataFrame:
    """Predict the test faces and write the Kaggle submission CSV atomically; returns it."""
    model, meta = load_checkpoint(model_path, pick_device(device))
    ids, images = load_test(test)
    table = read_lookup(lookup)
    pred = predict_crops(with_tta(model, meta), images)
    size = float(meta["input"]["size"])  # the model's input contract (96 for Kaggle's faces)
    pred = np.clip(pred.reshape(len(pred), -1), 0.0, size)  # (N, 30) in Kaggle column order

    row_of = pd.Series(np.arange(len(ids)), index=ids)
    col_of = pd.Series(np.arange(len(COLUMNS)), index=list(COLUMNS))
    r = table["ImageId"].map(row_of)
    c = table["FeatureName"].map(col_of)
    for series, field in ((r, "ImageId"), (c, "FeatureName")):
        if series.isna().any():
            i = int(np.flatnonzero(series.isna().to_numpy())[0])
            raise DataError(f"{lookup}: row {i + 1}, field {field!r}: {table[field].iloc[i]!r} not in "
                            f"{'the test images' if field == 'ImageId' else 'the 30 Kaggle columns'}")
    sub = pd.DataFrame({"RowId": table["RowId"].to_numpy(),
                        "Location": pred[r.to_numpy(int), c.to_numpy(int)]})
    atomic_write(out, lambda p: sub.to_csv(p, index=False, float_format="%.4f"))
    return sub
