import io
import lzma

import numpy as np
import pandas as pd
import pytest

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.cli import main
from facekeypoints.data import DataError
from facekeypoints.inference.submit import make_submission
from facekeypoints.models import create_model
from tests.conftest import shared_path, synthetic_faces


@pytest.fixture
def tiny_model(tmp_path):
    save_checkpoint(tmp_path / "m" / "model.safetensors", create_model("paper_tiny"), "paper_tiny", {})
    return tmp_path / "m"


def _test_csv(path, n):
    imgs, _ = synthetic_faces(min(n, 50))
    imgs = np.resize(imgs, (n, 96, 96))
    rows = [f"{i + 1}," + " ".join(map(str, im.reshape(-1).tolist())) for i, im in enumerate(imgs)]
    path.write_text("ImageId,Image\r\n" + "\r\n".join(rows) + "\r\n")


def test_real_lookup_table_gives_the_sample_submission_shape(tiny_model, tmp_path):
    """1783 synthetic test faces + the real IdLookupTable -> exactly SampleSubmission's rows."""
    lookup = shared_path("kaggle-fkd", "IdLookupTable.csv.xz")
    sample = pd.read_csv(io.BytesIO(lzma.decompress(shared_path("kaggle-fkd", "SampleSubmission.csv.xz").read_bytes())))
    _test_csv(tmp_path / "test.csv", 1783)
    out = tmp_path / "submission.csv"
    assert main(["submit", "--model", str(tiny_model), "--test", str(tmp_path / "test.csv"),
                 "--lookup", str(lookup), "-o", str(out)]) == 0
    sub = pd.read_csv(out)
    assert list(sub.columns) == list(sample.columns) == ["RowId", "Location"]
    assert len(sub) == 27124 and sub["RowId"].tolist() == sample["RowId"].tolist()
    assert sub["Location"].between(0, 96).all() and sub["Location"].notna().all()


def test_values_come_from_the_right_image_and_column(tmp_path, monkeypatch, tiny_model):
    _test_csv(tmp_path / "test.csv", 3)
    lookup = tmp_path / "lookup.csv"
    lookup.write_text("RowId,ImageId,FeatureName,Location\n1,2,nose_tip_y\n2,3,left_eye_center_x\n3,1,nose_tip_x\n")
    pred = np.zeros((3, 15, 2), np.float32)
    pred[1, 10, 1], pred[2, 0, 0], pred[0, 10, 0] = 61.5, 120.0, -3.0
    import facekeypoints.inference.submit as s

    monkeypatch.setattr(s, "predict_crops", lambda *a, **k: pred)
    sub = make_submission(tiny_model, tmp_path / "test.csv", lookup, tmp_path / "sub.csv")
    assert sub["Location"].tolist() == [61.5, 96.0, 0.0]  # clipped to [0, 96]


def test_unknown_feature_names_the_row(tmp_path, tiny_model):
    _test_csv(tmp_path / "test.csv", 2)
    lookup = tmp_path / "lookup.csv"
    lookup.write_text("RowId,ImageId,FeatureName\n1,1,nose_tip_x\n2,1,chin_x\n")
    with pytest.raises(DataError, match="row 2, field 'FeatureName': 'chin_x'"):
        make_submission(tiny_model, tmp_path / "test.csv", lookup, tmp_path / "sub.csv")
