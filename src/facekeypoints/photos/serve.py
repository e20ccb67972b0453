"""``facekeypoints serve``: a small HTTP API and web page (FastAPI + uvicorn).

- ``POST /v1/keypoints`` takes one image (multipart field ``file``) and answers with the same
  JSON as one line of ``predict --format jsonl``; ``?min_score=`` drops weak faces.
- ``POST /v1/preview`` answers with the upload as a JPEG, for the page to show formats a
  browser cannot (PPM, TIFF, ...).
- ``GET /healthz`` says the server is up and which model it runs; OpenAPI docs at ``/docs``.
- ``GET /`` is a page to pick or drop a photo (or take one with the webcam, where the browser
  allows) and see the boxes and points drawn over it, names on hover, and the JSON.

Bad requests get clear 4xx answers (empty body 400, too large 413, not an image 415) and
never take the server down. Uploads are read in memory, never written to disk. The server
binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import HTMLResponse, Response

from .. import __version__
from ..cards import has_68, resolve_checkpoint
from ..fileio import IMAGE_EXTS, DataError
from ..imaging import encode
from .batch import record
from .detect import read_picture
from .predict import KeypointDetector

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def create_app(model: str | Path, max_upload_bytes: int = MAX_UPLOAD_BYTES, **pipeline: Any) -> FastAPI:
    """The application, with the model loaded once; ``pipeline`` goes to ``KeypointDetector.from_pretrained``
    (``detector``, ``min_score``, ``backend``, ``device``)."""
    asked = pipeline.pop("points", 15)
    # the 68 ride along when the model has them (its card says so; read without loading the weights);
    # a request without points=68 does not see them
    try:
        card = json.loads(resolve_checkpoint(model).read_text())
    except (OSError, ValueError):
        card = {}  # unreadable: from_pretrained below says what is wrong with it, naming the file
    det = KeypointDetector.from_pretrained(model, points=68 if has_68(card) or asked == 68 else 15, **pipeline)
    name = str(model)
    # /docs is served from the installed package (swagger-ui-bundle), never from a CDN: it works offline
    app = FastAPI(title="facekeypoints", version=__version__, docs_url=None, redoc_url=None,
                  description="The 15 Kaggle facial keypoints (and the 68 iBUG points) for every face in an image.")
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="facekeypoints API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "model": name, "architecture": det.meta["model"], "detector": det.detector.name,
                "points": [15, 68] if det.points == 68 else [15],
                "backend": det.backend, "version": __version__}

    def decode(file: UploadFile) -> tuple[str, Any]:
        raw = file.file.read(max_upload_bytes + 1)  # synchronous handlers: run in the thread pool
        name = file.filename or "upload"
        if not raw:
            raise HTTPException(400, f"{name}: empty upload")
        if len(raw) > max_upload_bytes:
            raise HTTPException(413, f"{name}: upload larger than {max_upload_bytes} bytes")
        try:
            return name, read_picture(raw, name, detect_side=det.detect_side)
        except DataError as e:
            raise HTTPException(413 if "too large" in str(e) else 415, str(e)) from None

    @app.post("/v1/preview", responses={200: {"content": {"image/jpeg": {}}}}, response_class=Response)
    def preview(file: UploadFile = File(..., description="an image the browser may not show"),  # noqa: B008
                ) -> Response:
        """The upload as a JPEG at its own size (EXIF orientation applied), for pages that cannot decode it."""
        _, pic = decode(file)
        return Response(encode(pic.full(), ".jpg", quality=90), media_type="image/jpeg")

    @app.post("/v1/keypoints")
    def keypoints(file: UploadFile = File(..., description="an image: " + ", ".join(sorted(IMAGE_EXTS))),  # noqa: B008
                  min_score: float = Query(0.0, ge=0.0, le=1.0, description="drop faces scoring below this"),
                  points: int = Query(15, description="15, or 68: each face also gets landmarks68 (68 [x, y] pairs)"),
                  ) -> dict[str, Any]:
        if points not in (15, 68):
            raise HTTPException(422, f"points={points}: choose 15 or 68")
        if points == 68 and det.points != 68:
            raise HTTPException(422, f"model {name!r} has no 68-point head (it predicts the 15 Kaggle points only)")
        name_, pic = decode(file)
        faces = [f for f in det.detect_picture(pic) if f["score"] >= min_score]
        if points == 15:
            for f in faces:
                f.pop("landmarks68", None)
        return record(name_, int(pic.width), int(pic.height), faces)

    page_html = resources.files("facekeypoints").joinpath("assets/page.html").read_text()  # HTML + JS, one file

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return page_html

    return app


def serve(model: str | Path, host: str = "127.0.0.1", port: int = 8000, **pipeline: Any) -> None:
    import uvicorn

    uvicorn.run(create_app(model, **pipeline), host=host, port=port, log_level="info")
