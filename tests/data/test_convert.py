import io
import tarfile

import cv2
import numpy as np
import pandas as pd
import pytest

from facekeypoints.data import convert_68, load_training
from facekeypoints.data.landmarks68 import identity_of, iter_faces, read_pts
from facekeypoints.geometry import KAGGLE_TEMPLATE, crop_face, fit_scale_shift
from facekeypoints.keypoints import INDEX


def _face68(cx: float, cy: float, s: float) -> np.ndarray:
    """A crude frontal 68-point face centred at (cx, cy), eye distance ~ 36*s."""
    pts = np.zeros((68, 2))
    pts[0:17] = np.stack([np.linspace(-50, 50, 17), 20 + 30 * np.cos(np.linspace(-1.5, 1.5, 17))], 1)
    pts[17:22] = np.stack([np.linspace(-40, -10, 5), np.full(5, -28)], 1)
    pts[22:27] = np.stack([np.linspace(10, 40, 5), np.full(5, -28)], 1)
    pts[27:36] = np.stack([np.zeros(9), np.linspace(-15, 14, 9)], 1)
    pts[30] = (0, 10)
    pts[36:42] = np.stack([np.linspace(-26, -10, 6), np.full(6, -15)], 1)
    pts[42:48] = np.stack([np.linspace(10, 26, 6), np.full(6, -15)], 1)
    pts[48:68] = np.stack([np.linspace(-14, 14, 20), np.full(20, 28)], 1)
    pts[51], pts[57] = (0, 24), (0, 32)
    return pts * s + (cx, cy)


def _make_source(root, n_people=3, per_person=3, bad_row=True, as_tar=True, roll=0.0):
    """A 68-point source in the Udacity layout: CSV ',0..135' + images (in a tar or a folder). Its
    points are written 1-based, as the Udacity / YouTube Faces files hold them (docs/data.md).
    ``roll``: every face tilted by this many degrees about its centre."""
    rows, files = [], {}
    rng = np.random.default_rng(0)
    for p in range(n_people):
        for k in range(per_person):
            name = f"Person_{chr(65 + p)}_{k:02d}.jpg"
            h, w = 150 + 10 * k, 160
            pts = _face68(w / 2 + rng.normal(0, 3), h / 2, 1.0 + 0.1 * k)
            c, t = pts.mean(0), np.radians(roll)
            pts = (pts - c) @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]) + c
            img = np.full((h, w, 3), 40, np.uint8)
            for x, y in pts:
                cv2.circle(img, (int(x), int(y)), 1, (255, 255, 255), -1)
            files[f"training/{name[:-4]}.png"] = cv2.imencode(".png", img)[1].tobytes()
            rows.append([name, *(pts + 1).reshape(-1)])
    if bad_row:
        rows.append(["Nobody_00.jpg", *np.zeros(136)])  # no such image
    df = pd.DataFrame(rows, columns=["", *map(str, range(136))])
    df.to_csv(root / "training_frames_keypoints.csv", index=False)
    if as_tar:
        with tarfile.open(root / "images.tar", "w") as tf:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    else:
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    return rows


@pytest.mark.parametrize("as_tar", [True, False])
def test_convert_frames_faces_like_kaggle_and_reports_bad_items(tmp_path, as_tar):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    _make_source(src, as_tar=as_tar)
    summary = convert_68(src, out, progress=False)
    assert summary["faces"] == 9 and summary["identities"] == 3
    assert len(summary["skipped"]) == 1 and "Nobody_00" in summary["skipped"][0]["item"]
    ds = load_training(out)
    assert ds.images.shape == (9, 96, 96)
    assert sorted(set(ds.identities)) == ["Person_A", "Person_B", "Person_C"]
    # The template points land (on average) where Kaggle's faces have them.
    for name, (x, y) in KAGGLE_TEMPLATE.items():
        mean = ds.keypoints[:, INDEX[name]].mean(0)
        assert abs(mean[0] - x) < 2.5 and abs(mean[1] - y) < 2.5
    # The 68 points travel with the crop: a drawn point is bright where its label says.
    p = ds.extra["points68"][0, 30]
    assert ds.images[0, int(round(p[1])), int(round(p[0]))] > 100


def test_points_outside_the_crop_become_missing(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rows = _make_source(src, n_people=1, per_person=1, bad_row=False)
    pts = np.array(rows[0][1:], float).reshape(68, 2)
    pts[26] = (pts[26, 0] + 400, pts[26, 1])  # brow end far outside the face box
    rows[0] = [rows[0][0], *pts.reshape(-1)]
    pd.DataFrame(rows, columns=["", *map(str, range(136))]).to_csv(src / "training_frames_keypoints.csv", index=False)
    convert_68(src, tmp_path / "out", progress=False)
    ds = load_training(tmp_path / "out")
    assert np.isnan(ds.keypoints[0, INDEX["left_eyebrow_outer_end"]]).all()
    assert np.isfinite(ds.keypoints[0, INDEX["nose_tip"]]).all()


def test_csv_pairs_with_its_own_split_folder(tmp_path):
    """training_*.csv reads training/, test_*.csv reads test/, even when names repeat."""
    src = tmp_path / "src"
    (src / "training").mkdir(parents=True)
    (src / "test").mkdir()
    pts = _face68(80, 75, 1.0).reshape(-1)
    for part, value in (("training", 10), ("test", 200)):
        cv2.imwrite(str(src / part / "Same_Name_01.png"), np.full((150, 160), value, np.uint8))
        pd.DataFrame([["Same_Name_01.jpg", *pts]], columns=["", *map(str, range(136))]).to_csv(
            src / f"{part}_frames_keypoints.csv", index=False)
    faces = list(iter_faces(src))
    assert sorted(f.name for f in faces) == ["test/Same_Name_01.jpg", "training/Same_Name_01.jpg"]
    means = {f.name.split("/")[0]: cv2.imdecode(np.frombuffer(f.read(), np.uint8), 0).mean() for f in faces}
    assert means == {"training": 10, "test": 200}


def _pts_text(pts0: np.ndarray) -> str:
    """A 300-W .pts file of 0-based points: written 1-based, as 300-W (and Matlab) count pixels."""
    return "version: 1\nn_points: 68\n{\n" + "\n".join(f"{x + 1:.3f} {y + 1:.3f}" for x, y in pts0) + "\n}\n"


def test_pts_files_are_read_when_there_is_no_csv(tmp_path):
    pts = _face68(80, 75, 1.0)
    body = _pts_text(pts)
    (tmp_path / "helen_123_1.pts").write_text(body)
    cv2.imwrite(str(tmp_path / "helen_123_1.jpg"), np.zeros((150, 160), np.uint8))
    (tmp_path / "broken_1.pts").write_text("1 2\n")
    cv2.imwrite(str(tmp_path / "broken_1.jpg"), np.zeros((150, 160), np.uint8))
    bad = []
    faces = list(iter_faces(tmp_path, bad))
    assert [f.identity for f in faces] == ["helen_123"]
    assert np.allclose(faces[0].points, pts, atol=1e-3)  # 1-based on disk, 0-based once read
    assert faces[0].convention == "1-based"
    assert len(bad) == 1 and "1 points, expected 68" in bad[0][1]
    assert read_pts(b"1 2\n" * 68, "x").shape == (68, 2)


def test_identity_of():
    assert identity_of("Abdel_Aziz_Al-Hakim_00.jpg") == "Abdel_Aziz_Al-Hakim"
    assert identity_of("helen_2229778733_2.jpg") == "helen_2229778733"
    assert identity_of("wild68more/lfpw_image_0001.jpg") == "lfpw_image_0001"  # one face per LFPW photo


def test_size_n_crops_the_same_face_region_at_more_pixels(tmp_path):
    """`data convert --size 128`: the framing of the 96-px crop, scaled about the pixel edges; the
    points and pixels agree with the 96-px conversion, and load_training reads the side back."""
    src = tmp_path / "src"
    src.mkdir()
    _make_source(src, n_people=2, per_person=2, bad_row=False)
    convert_68(src, tmp_path / "o96", progress=False)
    summary = convert_68(src, tmp_path / "o128", progress=False, size=128)
    assert summary["size"] == 128
    a, b = load_training(tmp_path / "o96"), load_training(tmp_path / "o128")
    assert b.images.shape == (4, 128, 128)
    k = 128 / 96
    assert np.allclose((a.keypoints + 0.5) * k - 0.5, b.keypoints, atol=1e-3, equal_nan=True)
    assert np.allclose((a.extra["points68"] + 0.5) * k - 0.5, b.extra["points68"], atol=1e-2, equal_nan=True)
    # the same picture: the 128-px crop shrunk back to 96 px matches the 96-px crop
    small = cv2.resize(b.images[0], (96, 96), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(small - a.images[0].astype(int)).mean() < 6
    with pytest.raises(ValueError, match="multiple of 16"):
        convert_68(src, tmp_path / "bad", progress=False, size=100)


def test_fit_scale_shift_recovers_a_known_framing():
    src = np.random.default_rng(1).uniform(0, 300, (4, 2))
    s, t = fit_scale_shift(src, src * 0.4 + (7, -3))
    assert s == pytest.approx(0.4) and np.allclose(t, (7, -3))


def test_crop_face_maps_points_exactly_even_when_downscaling():
    img = np.zeros((800, 900), np.uint8)
    cv2.circle(img, (600, 500), 12, 255, -1)  # a blob at a known place
    for scale in (0.12, 0.3, 0.9):
        shift = np.array([48, 48]) - scale * np.array([600, 500])
        crop = crop_face(img, scale, shift)
        ys, xs = np.nonzero(crop > 60)
        w = crop[ys, xs].astype(float)
        assert abs((xs * w).sum() / w.sum() - 48) < 0.6 and abs((ys * w).sum() / w.sum() - 48) < 0.6


def test_unreadable_image_is_skipped_with_its_reason(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _make_source(src, n_people=1, per_person=2, bad_row=False, as_tar=False)
    (src / "training" / "Person_A_00.png").write_bytes(b"\x89PNG broken")
    summary = convert_68(src, tmp_path / "out", progress=False)
    assert summary["faces"] == 1
    assert [s["reason"] for s in summary["skipped"]] == [
        "training/Person_A_00.png: not a readable image (not an image format Pillow knows)"]


def test_pts_round_trip_puts_a_marked_pixel_at_its_0_based_index(tmp_path):
    """A .pts point on the pixel with 0-based index (40, 30) is written as 41, 31 (1-based): read back
    it lands on that pixel, and a CSV row beside the .pts (the wild-68 layout) is read the same way."""
    pts = _face68(80, 75, 1.0)
    pts[30] = (40, 30)
    img = np.zeros((150, 160), np.uint8)
    img[30, 40] = 255  # row y, column x
    for folder in ("pts_only", "csv_and_pts"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "afw_9_1.png"), img)
        (tmp_path / folder / "afw_9_1.pts").write_text(_pts_text(pts))
    one_based = (pts + 1).reshape(-1)
    pd.DataFrame([["afw_9_1.png", "afw", *one_based]], columns=["image", "subset", *map(str, range(136))]).to_csv(
        tmp_path / "csv_and_pts" / "landmarks.csv", index=False)
    for folder in ("pts_only", "csv_and_pts"):
        (face,) = iter_faces(tmp_path / folder)
        x, y = face.points[30]
        decoded = cv2.imdecode(np.frombuffer(face.read(), np.uint8), 0)
        assert (x, y) == (40, 30) and decoded[int(y), int(x)] == 255, folder


def test_udacity_tables_are_1_based_and_other_tables_0_based(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rows = _make_source(src, n_people=1, per_person=1, bad_row=False, as_tar=False)
    (face,) = iter_faces(src)
    assert face.convention == "1-based" and np.allclose(face.points.reshape(-1), np.array(rows[0][1:], float) - 1)
    other = tmp_path / "other"
    (other / "training").mkdir(parents=True)
    (src / "training" / "Person_A_00.png").rename(other / "Person_A_00.png")
    cols = ["image", *(f"{a}{i}" for i in range(68) for a in "xy")]
    pd.DataFrame([["Person_A_00.png", *rows[0][1:]]], columns=cols).to_csv(other / "points.csv", index=False)
    (face,) = iter_faces(other)
    assert face.convention == "0-based" and np.allclose(face.points.reshape(-1), np.array(rows[0][1:], float))


def test_detector_framing_is_used_and_a_miss_falls_back_to_the_template(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _make_source(src, n_people=2, per_person=2, bad_row=False)
    calls = []

    def framer(image, points68):  # frames the first face by a fixed matrix, "misses" the others
        calls.append(points68.shape)
        return np.array([[0.5, 0.0, 10.0], [0.0, 0.5, 5.0]]) if len(calls) == 1 else None

    summary = convert_68(src, tmp_path / "out", progress=False, framer=framer)
    assert calls == [(68, 2)] * 4 and summary["framing_counts"] == {"detector": 1, "template": 3}
    ds = load_training(tmp_path / "out")
    meta = pd.read_csv(tmp_path / "out" / "meta.csv")
    assert list(meta["framing"]) == ["detector", "template", "template", "template"]
    # the detector-framed face: its labels are its true points through that framing
    face0 = next(iter(iter_faces(src)))
    assert np.allclose(ds.extra["points68"][0], face0.points * 0.5 + (10, 5), atol=1e-3)
    assert abs(meta["scale"][0] - 0.5) < 1e-9 and abs(meta["shift_x"][0] - 10) < 1e-9


def test_holdout_splits_by_identity_into_its_own_folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _make_source(src, n_people=12, per_person=2, bad_row=False)
    summary = convert_68(src, tmp_path / "train", progress=False, holdout=0.3, holdout_dir=tmp_path / "val")
    train, val = load_training(tmp_path / "train"), load_training(tmp_path / "val")
    assert len(train) + len(val) == 24 and len(val) == summary["holdout_part"]["faces"] > 0
    assert not set(train.identities) & set(val.identities)  # no person on both sides
    again = convert_68(src, tmp_path / "train2", progress=False, holdout=0.3, holdout_dir=tmp_path / "val2")
    assert again["holdout_part"]["faces"] == summary["holdout_part"]["faces"]  # stable, not random
    with pytest.raises(ValueError, match="holdout_dir"):
        convert_68(src, tmp_path / "x", progress=False, holdout=0.3)


def test_color_keeps_the_same_crop_in_bgr_planes(tmp_path):
    """`data convert --color`: the same framing and labels as the grey conversion, the pixels as
    3 planes whose grey is the grey crop; convert.json says so and load_training reads it back."""
    from facekeypoints.imaging import to_gray

    src = tmp_path / "src"
    src.mkdir()
    _make_source(src, n_people=2, per_person=2, bad_row=False)
    grey = convert_68(src, tmp_path / "g", progress=False, size=128)
    colour = convert_68(src, tmp_path / "c", progress=False, size=128, channels=3)
    assert grey["channels"] == 1 and colour["channels"] == 3
    a, b = load_training(tmp_path / "g"), load_training(tmp_path / "c")
    assert a.images.shape == (4, 128, 128) and b.images.shape == (4, 3, 128, 128)
    assert np.array_equal(a.keypoints, b.keypoints, equal_nan=True)
    assert np.allclose(a.extra["points68"], b.extra["points68"], equal_nan=True)
    back = np.stack([to_gray(np.ascontiguousarray(im.transpose(1, 2, 0))) for im in b.images])
    assert np.abs(back.astype(int) - a.images).max() <= 2  # rounding of the two warps only
    with pytest.raises(ValueError, match="channels=2"):
        convert_68(src, tmp_path / "bad", progress=False, channels=2)


def test_upright_turns_tilted_faces_level_and_records_the_angle(tmp_path):
    """`data convert --upright`: faces tilted by 20 degrees come out with their eyes level (the
    template fallback fits a similarity); meta.csv's angle says how far each was turned."""
    src = tmp_path / "src"
    src.mkdir()
    _make_source(src, n_people=2, per_person=2, bad_row=False, roll=20.0)

    def eyes_dy(folder):
        p = load_training(folder).extra["points68"]
        return p[:, 42:48, 1].mean(1) - p[:, 36:42, 1].mean(1)  # right minus left eye centre, crop pixels

    plain = convert_68(src, tmp_path / "plain", progress=False)
    upright = convert_68(src, tmp_path / "up", progress=False, rotate=True)
    assert not plain["upright"] and upright["upright"]
    assert np.abs(eyes_dy(tmp_path / "plain")).min() > 5  # tilted: ~tan(20) x 36 px apart
    assert np.abs(eyes_dy(tmp_path / "up")).max() < 0.5
    angles = pd.read_csv(tmp_path / "up" / "meta.csv")["angle"]
    assert np.allclose(np.abs(angles), 20.0, atol=1.5)  # the template is fitted on 4 points, not the eyes alone
    assert np.allclose(pd.read_csv(tmp_path / "plain" / "meta.csv")["angle"], 0.0)
