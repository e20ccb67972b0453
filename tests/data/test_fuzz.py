"""Property-based fuzzing of the readers: any input gives a clear DataError or a correct result."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facekeypoints.data.kaggle import DataError, parse_test_csv, parse_training_csv
from facekeypoints.data.landmarks68 import read_pts
from facekeypoints.keypoints import COLUMNS

HEADER = ",".join([*COLUMNS, "Image"])
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _row(rng: np.random.Generator) -> list[str]:
    coords = [f"{v:.3f}" for v in rng.uniform(0, 95, 30)]
    return [*coords, " ".join(map(str, rng.integers(0, 256, 9216)))]


@st.composite
def mutated_training_csv(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = [_row(rng) for _ in range(draw(st.integers(1, 3)))]
    kind = draw(st.sampled_from(["truncate", "field", "pixels", "encoding", "none"]))
    r, f = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, 30))
    if kind == "field":
        rows[r][f] = draw(st.sampled_from(["nan", "inf", "-inf", "1e400", "abc", "", "  ", "3,5", "1e308", "-7"]))
    elif kind == "pixels":
        px = rows[r][30].split(" ")
        choice = draw(st.sampled_from(["drop", "extra", "neg", "big", "word", "float"]))
        if choice == "drop":
            px.pop()
        elif choice == "extra":
            px.append("1")
        else:
            px[draw(st.integers(0, 9215))] = {"neg": "-1", "big": "256", "word": "x1", "float": "1.5"}[choice]
        rows[r][30] = " ".join(px)
    text = HEADER + "\r\n" + "\r\n".join(",".join(row) for row in rows) + "\r\n"
    raw = text.encode("utf-16" if kind == "encoding" else "utf-8")
    if kind == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


@SETTINGS
@given(mutated_training_csv())
def test_training_csv_never_crashes_or_returns_garbage(raw):
    try:
        images, kps = parse_training_csv(raw, "fuzz.csv")
    except DataError as e:
        assert "fuzz.csv" in str(e)
        return
    assert images.dtype == np.uint8 and images.shape[1:] == (96, 96)
    assert kps.shape == (len(images), 15, 2)
    finite = kps[np.isfinite(kps)]
    assert np.all(np.abs(finite) <= 1e4)  # no inf or absurd value sneaks through as a label


@SETTINGS
@given(st.binary(max_size=400))
def test_test_csv_random_bytes(raw):
    try:
        ids, images = parse_test_csv(raw, "t.csv")
    except DataError as e:
        assert "t.csv" in str(e)
        return
    assert len(ids) == len(images)


@SETTINGS
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats()), max_size=80),
       st.booleans())
def test_pts_reader(points, wrapped):
    body = "\n".join(f"{x} {y}" for x, y in points)
    if wrapped:
        body = f"version: 1\nn_points: {len(points)}\n{{\n{body}\n}}\n"
    try:
        pts = read_pts(body.encode(), "f.pts")
    except DataError as e:
        assert "f.pts" in str(e)
        return
    assert pts.shape == (68, 2)
