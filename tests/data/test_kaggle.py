import io
import lzma
import zipfile

import numpy as np
import pandas as pd
import pytest

from facekeypoints.data.kaggle import (
    DataError,
    load_test,
    load_training,
    parse_training_csv,
    write_training_csv,
)
from facekeypoints.keypoints import COLUMNS
from tests.conftest import kaggle_csv_bytes, shared_path, synthetic_faces


def test_parses_exact_layout_with_missing_fields_and_crlf(kaggle_dir):
    ds = load_training(kaggle_dir)
    assert ds.images.shape == (40, 96, 96) and ds.images.dtype == np.uint8
    assert ds.keypoints.shape == (40, 15, 2) and ds.keypoints.dtype == np.float32
    assert np.isnan(ds.keypoints[0, 2:10]).all() and np.isfinite(ds.keypoints[1]).all()
    imgs, kps = synthetic_faces(40)
    assert np.array_equal(ds.images, imgs)
    assert np.allclose(ds.keypoints[1], kps[1], atol=1e-5)


def test_second_load_comes_from_cache(kaggle_dir, monkeypatch):
    load_training(kaggle_dir)
    import facekeypoints.data.kaggle as k

    monkeypatch.setattr(k, "parse_training_csv", lambda *a: pytest.fail("parsed again"))
    assert len(load_training(kaggle_dir)) == 40


def test_reads_training_zip_and_competition_zip(kaggle_dir, tmp_path):
    raw = (kaggle_dir / "training.csv").read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("training.csv", raw)
    (tmp_path / "training.zip").write_bytes(buf.getvalue())
    comp = tmp_path / "comp"
    comp.mkdir()
    with zipfile.ZipFile(comp / "facial-keypoints-detection.zip", "w") as z:
        z.writestr("training.zip", buf.getvalue())
        z.writestr("IdLookupTable.csv", "RowId,ImageId,FeatureName,Location\r\n")
    a = load_training(tmp_path / "training.zip", use_cache=False)
    b = load_training(comp, use_cache=False)
    c = load_training(kaggle_dir / "training.csv", use_cache=False)
    assert np.array_equal(a.images, c.images) and np.array_equal(b.images, c.images)
    assert np.array_equal(a.keypoints, b.keypoints, equal_nan=True)


def test_test_csv(tmp_path):
    imgs, _ = synthetic_faces(5)
    lines = ["ImageId,Image"] + [f"{i + 1}," + " ".join(map(str, im.reshape(-1))) for i, im in enumerate(imgs)]
    (tmp_path / "test.csv").write_text("\n".join(lines) + "\n")
    ids, images = load_test(tmp_path)
    assert ids.tolist() == [1, 2, 3, 4, 5] and np.array_equal(images, imgs)


def _bad(tmp_path, mutate):
    imgs, kps = synthetic_faces(4)
    text = kaggle_csv_bytes(imgs, kps).decode()
    (tmp_path / "training.csv").write_text(mutate(text), newline="")
    with pytest.raises(DataError) as e:
        load_training(tmp_path, use_cache=False)
    return str(e.value)


def _last_pixel(row: int, new: str):
    """Mutation: replace the last pixel token of data row ``row`` by ``new``."""

    def mutate(t):
        lines = t.split("\r\n")
        lines[row] = lines[row].rsplit(" ", 1)[0] + new
        return "\r\n".join(lines)

    return mutate


def test_wrong_pixel_count_names_row_and_field(tmp_path):
    msg = _bad(tmp_path, _last_pixel(2, ""))
    assert "training.csv: row 2 (line 3), field 'Image': 9215 pixel values" in msg


def test_non_numeric_pixel_names_row(tmp_path):
    msg = _bad(tmp_path, _last_pixel(3, " abc"))
    assert "row 3" in msg and "'abc'" in msg


def test_pixel_out_of_range(tmp_path):
    assert "row 2" in _bad(tmp_path, _last_pixel(2, " 300"))


def _field(row: int, col: int, new: str):
    """Mutation: replace field ``col`` of data row ``row`` by ``new``."""

    def mutate(t):
        lines = t.split("\r\n")
        f = lines[row].split(",")
        f[col] = new
        lines[row] = ",".join(f)
        return "\r\n".join(lines)

    return mutate


def test_non_numeric_coordinate_names_field(tmp_path):
    msg = _bad(tmp_path, _field(1, 4, "12.x"))
    assert "row 1" in msg and COLUMNS[4] in msg


def test_missing_column(tmp_path):
    msg = _bad(tmp_path, lambda t: t.replace("nose_tip_x", "nose_x", 1))
    assert "nose_tip_x" in msg


def test_write_read_round_trip(tmp_path):
    imgs, kps = synthetic_faces(6)
    kps[2, 3] = np.nan
    write_training_csv(tmp_path / "training.csv", imgs, kps)
    im2, kp2 = parse_training_csv((tmp_path / "training.csv").read_bytes())
    assert np.array_equal(im2, imgs)
    assert np.allclose(kp2, kps, atol=1e-4, equal_nan=True)


def test_real_lookup_table_uses_our_column_order():
    """The real IdLookupTable.csv asks for features in exactly our COLUMNS order."""
    path = shared_path("kaggle-fkd", "IdLookupTable.csv.xz")
    raw = lzma.decompress(path.read_bytes())
    assert raw.startswith(b"RowId,ImageId,FeatureName,Location\r\n")
    table = pd.read_csv(io.BytesIO(raw))
    assert len(table) == 27124 and table["ImageId"].nunique() == 1783
    assert set(table["FeatureName"]) == set(COLUMNS)
    first = table[table["ImageId"] == 1]["FeatureName"].tolist()
    assert first == list(COLUMNS)


def test_pack_round_trip_keeps_everything(kaggle_dir, tmp_path):
    from facekeypoints.data.kaggle import save_packed

    ds = load_training(kaggle_dir)
    ds.identities = np.array([f"p{i % 5}" for i in range(len(ds))])
    ds.extra["points68"] = np.random.default_rng(0).uniform(0, 95, (len(ds), 68, 2)).astype(np.float32)
    back = load_training(save_packed(ds, tmp_path / "d.npz"))
    assert np.array_equal(back.images, ds.images)
    assert np.array_equal(back.keypoints, ds.keypoints, equal_nan=True)
    assert back.data_hash == ds.data_hash and list(back.identities) == list(ds.identities)
    assert np.array_equal(back.extra["points68"], ds.extra["points68"])
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(DataError, match="bad.npz"):
        load_training(tmp_path / "bad.npz")


def test_absurd_coordinate_is_an_error(tmp_path):
    msg = _bad(tmp_path, _field(2, 7, "1e308"))
    assert "row 2" in msg and COLUMNS[7] in msg and "no pixel coordinate" in msg


def test_a_converted_folder_of_another_side_is_read_at_its_side_and_a_short_row_is_named(tmp_path):
    """`data convert --size 128` records the side in convert.json; a row of 96x96 values is then named."""
    import json

    from facekeypoints.data import DataError, load_training
    from facekeypoints.data.kaggle import write_training_csv

    imgs, kps = synthetic_faces(3)
    big = np.zeros((3, 128, 128), np.uint8)
    big[:, :96, :96] = imgs
    write_training_csv(tmp_path / "ok" / "training.csv", big, kps)
    (tmp_path / "ok" / "convert.json").write_text(json.dumps({"size": 128}))
    ds = load_training(tmp_path / "ok")
    assert ds.images.shape == (3, 128, 128) and (ds.images == big).all()
    write_training_csv(tmp_path / "bad" / "training.csv", imgs, kps)
    (tmp_path / "bad" / "convert.json").write_text(json.dumps({"size": 128}))
    with pytest.raises(DataError, match=r"row 1 \(line 2\), field 'Image': 9216 pixel values, expected 16384"):
        load_training(tmp_path / "bad")
    (tmp_path / "bad" / "convert.json").write_text(json.dumps({"size": "big"}))
    with pytest.raises(DataError, match="convert.json: field 'size'"):
        load_training(tmp_path / "bad")


def test_a_colour_folder_is_read_as_bgr_planes_and_a_grey_row_is_named(tmp_path):
    """`data convert --color` records "channels": 3; each Image field holds 3 planes, which load back as
    ``(N, 3, S, S)``; a row of one plane is named with what it should hold; a bad channel count too."""
    import json

    from facekeypoints.data import DataError, load_training
    from facekeypoints.data.kaggle import crop_channels, write_training_csv

    imgs, kps = synthetic_faces(3)
    colour = np.stack([imgs // 4, imgs // 2, imgs], axis=1)  # B, G, R planes that differ
    write_training_csv(tmp_path / "ok" / "training.csv", colour, kps)
    (tmp_path / "ok" / "convert.json").write_text(json.dumps({"size": 96, "channels": 3}))
    ds = load_training(tmp_path / "ok")
    assert ds.images.shape == (3, 3, 96, 96) and (ds.images == colour).all()
    assert crop_channels(tmp_path / "ok") == 3 and crop_channels(tmp_path) == 1
    write_training_csv(tmp_path / "bad" / "training.csv", imgs, kps)
    (tmp_path / "bad" / "convert.json").write_text(json.dumps({"channels": 3}))
    with pytest.raises(DataError, match=r"row 1 \(line 2\), field 'Image': 9216 pixel values, expected 27648 "
                                        r"\(96x96 x 3 colour planes\)"):
        load_training(tmp_path / "bad")
    (tmp_path / "bad" / "convert.json").write_text(json.dumps({"channels": 2}))
    with pytest.raises(DataError, match="convert.json: field 'channels': 2"):
        load_training(tmp_path / "bad")
