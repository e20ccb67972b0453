import struct
import tarfile
import zlib

import pytest
from fastapi.testclient import TestClient

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.keypoints import KEYPOINT_NAMES
from facekeypoints.models import create_model
from facekeypoints.photos.serve import create_app
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    save_checkpoint(d / "model.safetensors", create_model("paper_tiny").eval(), "paper_tiny", {})
    return TestClient(create_app(d, max_upload_bytes=2_000_000))


@pytest.fixture(scope="module")
def face_bytes():
    with tarfile.open(shared_path("youtube-faces-68", "test_annotated_asis.tar")) as tf:
        return tf.extractfile("test/Abdullah_Gul_11.jpg").read()


def test_health_docs_and_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and 'type="file"' in page.text and "/v1/keypoints" in page.text


def test_keypoints_same_shape_as_predict_jsonl(client, face_bytes):
    r = client.post("/v1/keypoints", files={"file": ("face.jpg", face_bytes, "image/jpeg")})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"path", "width", "height", "faces", "error"} and body["error"] is None
    assert (body["width"], body["height"]) == (227, 275) and len(body["faces"]) >= 1
    assert list(body["faces"][0]["keypoints"]) == list(KEYPOINT_NAMES)
    strict = client.post("/v1/keypoints?min_score=1.0", files={"file": ("face.jpg", face_bytes)})
    assert strict.status_code == 200 and strict.json()["faces"] == []


def _bomb_png() -> bytes:
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("payload", "status", "word"), [
    (b"", 400, "empty"),
    (b"this is not an image", 415, "not a readable image"),
    (b"\xff" * 2_000_001, 413, "larger than"),
    (_bomb_png(), 413, "too large"),
])
def test_bad_uploads_get_clear_4xx_and_the_server_lives_on(client, face_bytes, payload, status, word):
    r = client.post("/v1/keypoints", files={"file": ("x.jpg", payload)})
    assert r.status_code == status and word in r.json()["detail"]
    assert client.post("/v1/keypoints", files={"file": ("f.jpg", face_bytes)}).status_code == 200


def test_missing_field_is_422(client):
    assert client.post("/v1/keypoints").status_code == 422


def test_docs_page_works_offline(client):
    """/docs names no external URL: Swagger UI's files come from the installed package."""
    import re

    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert not re.findall(r"(?:src|href)=['\"]https?://", page.text)  # nothing loaded from a CDN
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 10_000, asset
    assert client.get("/openapi.json").json()["info"]["title"] == "facekeypoints"


def test_points_68_on_serve(client, face_bytes, tmp_path):
    files = {"file": ("face.jpg", face_bytes, "image/jpeg")}
    r = client.post("/v1/keypoints?points=68", files=files)
    assert r.status_code == 422 and "no 68-point head" in r.text  # the test model predicts the 15 only
    assert client.post("/v1/keypoints?points=7", files=files).status_code == 422
    d = tmp_path / "m68"
    save_checkpoint(d / "model.safetensors", create_model("paper_tiny", num_points=83).eval(), "paper_tiny",
                    {"model_args": {"num_points": 83}})
    c68 = TestClient(create_app(d))
    faces = c68.post("/v1/keypoints?points=68", files=files).json()["faces"]
    assert faces and len(faces[0]["landmarks68"]) == 68
    plain = c68.post("/v1/keypoints", files=files).json()["faces"]
    assert "landmarks68" not in plain[0] and plain[0]["keypoints"] == faces[0]["keypoints"]
    assert c68.get("/healthz").json()["points"] == [15, 68]
