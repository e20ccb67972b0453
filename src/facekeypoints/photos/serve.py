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
from pathlib import Path
from typing import Any

import cv2
from fastapi import FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import HTMLResponse, Response

from .. import __version__
from ..cards import has_68, resolve_checkpoint
from ..fileio import IMAGE_EXTS, DataError
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
        ok, buf = cv2.imencode(".jpg", pic.full(), [cv2.IMWRITE_JPEG_QUALITY, 90])
        return Response(buf.tobytes(), media_type="image/jpeg")

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

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE

    return app


def serve(model: str | Path, host: str = "127.0.0.1", port: int = 8000, **pipeline: Any) -> None:
    import uvicorn

    uvicorn.run(create_app(model, **pipeline), host=host, port=port, log_level="info")


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>facekeypoints</title>
<style>body{font-family:sans-serif;max-width:900px;margin:2em auto;padding:0 1em}
#drop{border:2px dashed #999;padding:1.5em;text-align:center}
#view{position:relative;display:inline-block;max-width:100%}
#img{max-width:100%;max-height:80vh;display:block}
svg{position:absolute;left:0;top:0}pre{background:#f4f4f4;padding:1em;max-height:20em;overflow:auto}</style></head>
<body><h1>facekeypoints</h1>
<div id="drop">Drop a photo here or <input type="file" id="file">
 or <button id="cam">use the webcam</button></div>
<video id="video" autoplay playsinline style="display:none;max-width:100%"></video>
<p id="status"></p><div id="view"><img id="img" alt=""><svg id="overlay"></svg></div><pre id="json"></pre>
<script>
const $ = (id) => document.getElementById(id);
function clear() {
  $("overlay").innerHTML = ""; $("json").textContent = "";
  $("img").removeAttribute("src"); $("img").style.display = "none";
}
async function show(src) {  // resolves false when the browser cannot decode the picture
  const img = $("img"); img.src = src; img.style.display = "block";
  try { await img.decode(); return true; } catch (e) { return false; }
}
async function send(file) {
  clear();
  $("status").textContent = "working...";
  try {
    const form = new FormData(); form.append("file", file);
    const res = await fetch("/v1/keypoints", {method: "POST", body: form});
    let body;
    try { body = await res.json(); } catch (e) { body = {detail: res.status + " " + res.statusText}; }
    $("json").textContent = JSON.stringify(body, null, 2);
    if (!res.ok) { $("status").textContent = "error: " + body.detail; $("img").style.display = "none"; return; }
    // Formats a browser cannot show (PPM, TIFF, ...): the server sends a JPEG preview instead.
    if (!(await show(URL.createObjectURL(file)))) {
      const prev = new FormData(); prev.append("file", file);
      const p = await fetch("/v1/preview", {method: "POST", body: prev});
      if (!p.ok || !(await show(URL.createObjectURL(await p.blob())))) {
        $("status").textContent = body.faces.length + " face(s) (the browser cannot show this picture)"; return;
      }
    }
    draw(body);
    $("status").textContent = body.faces.length + " face(s)";
  } catch (e) {
    clear(); $("status").textContent = "error: " + e.message;
  }
}
function draw(body) {
  const img = $("img"), svg = $("overlay"), s = img.width / body.width;
  svg.setAttribute("width", img.width); svg.setAttribute("height", img.height); svg.innerHTML = "";
  const ns = "http://www.w3.org/2000/svg", r = Math.max(2, Math.min(6, img.width / 250));
  for (const f of body.faces) {
    const rect = document.createElementNS(ns, "rect"); const [x1, y1, x2, y2] = f.box.map(v => v * s);
    Object.entries({x: x1, y: y1, width: x2 - x1, height: y2 - y1, fill: "none", stroke: "orange",
                    "stroke-width": 2, class: "box"}).forEach(([k, v]) => rect.setAttribute(k, v));
    svg.appendChild(rect);
    for (const [name, k] of Object.entries(f.keypoints)) {
      const c = document.createElementNS(ns, "circle");
      Object.entries({cx: k.x * s, cy: k.y * s, r: r, fill: "red", class: "kp"})
        .forEach(([a, v]) => c.setAttribute(a, v));
      const t = document.createElementNS(ns, "title"); t.textContent = name + " (" + k.confidence.toFixed(2) + ")";
      c.appendChild(t); svg.appendChild(c);
    }
  }
}
$("cam").addEventListener("click", async () => {
  const video = $("video");
  if (!video.srcObject) {  // first click: ask for the camera; the next clicks take a picture
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $("status").textContent = "this browser gives no webcam access here (it needs https or localhost)"; return;
    }
    try { video.srcObject = await navigator.mediaDevices.getUserMedia({video: true}); }
    catch (e) { $("status").textContent = "webcam refused: " + e.message; return; }
    video.style.display = "block"; $("cam").textContent = "take a picture"; return;
  }
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => send(new File([blob], "webcam.png", {type: "image/png"})), "image/png");
});
$("file").addEventListener("change", (e) => e.target.files[0] && send(e.target.files[0]));
$("drop").addEventListener("dragover", (e) => e.preventDefault());
$("drop").addEventListener("drop", (e) => {
  e.preventDefault(); e.dataTransfer.files[0] && send(e.dataTransfer.files[0]);
});
</script></body></html>
"""
