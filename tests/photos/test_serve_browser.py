"""End to end: start `facekeypoints serve`, drive its page in headless Chromium, check what it draws.

Needs Debian's chromium (/usr/bin/chromium) and Playwright's Python client; `.ci/run` installs
both. Skipped when they are missing, except under CI=true, where that is a failure.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.models import create_model
from facekeypoints.photos.sample import sample_image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _need_browser():
    missing = []
    if CHROMIUM is None:
        missing.append("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test needs {missing} under CI")
        pytest.skip(f"not installed: {missing}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    save_checkpoint(tmp_path / "m" / "model.safetensors", create_model("paper_tiny").eval(), "paper_tiny", {})
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "facekeypoints", "serve", "--model", str(tmp_path / "m"),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/healthz", timeout=1).status == 200:
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("server did not answer /healthz within 60 s")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.browser
def test_page_uploads_a_photo_and_draws_every_face(server, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    photo = tmp_path / "faces.png"
    cv2.imwrite(str(photo), sample_image())  # two faces the Haar detector finds
    shot = tmp_path / "page.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(server + "/")
        page.set_input_files("#file", str(photo))
        page.wait_for_function("document.getElementById('status').textContent.includes('face(s)')", timeout=30000)
        status = page.text_content("#status")
        n_boxes = page.locator("svg rect.box").count()
        n_points = page.locator("svg circle.kp").count()
        first_name = page.locator("svg circle.kp title").first.text_content()
        shown = page.text_content("#json")
        page.screenshot(path=str(shot))
        browser.close()
    assert status == "2 face(s)" and n_boxes == 2 and n_points == 30
    assert first_name.startswith("left_eye_center (")
    assert '"faces"' in shown and '"mouth_center_bottom_lip"' in shown
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (900, 1000)
    b, g, r = (img[..., i].astype(int) for i in range(3))
    red = (r > 200) & (g < 60) & (b < 60)  # the keypoints are drawn as red dots over the gray photo
    orange = (r > 200) & (g > 120) & (g < 200) & (b < 60)  # the boxes
    assert red.sum() > 30 and orange.sum() > 100, (int(red.sum()), int(orange.sum()))
    assert np.isfinite(img).all()


def _page(pw, server):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.goto(server + "/")
    return browser, page


def _wait_status(page, text):
    page.wait_for_function(f"document.getElementById('status').textContent.includes({text!r})", timeout=30000)
    return page.text_content("#status")


@pytest.mark.browser
def test_page_shows_a_ppm_a_large_photo_and_recovers_from_an_error(server, tmp_path):
    """PPM (a format browsers cannot show): the server's preview is drawn; a photo larger than the page
    is scaled to fit; a bad upload clears the previous result and the next good upload works."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    cv2.imwrite(str(tmp_path / "faces.ppm"), cv2.cvtColor(sample_image(), cv2.COLOR_GRAY2BGR))
    big = cv2.resize(sample_image(), None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)  # 3200 x 2000
    cv2.imwrite(str(tmp_path / "big.png"), big)
    (tmp_path / "junk.jpg").write_bytes(b"this is not a picture")
    with sync_playwright() as pw:
        browser, page = _page(pw, server)
        page.set_input_files("#file", str(tmp_path / "faces.ppm"))
        assert _wait_status(page, "face(s)") == "2 face(s)"
        assert page.locator("svg circle.kp").count() == 30
        assert page.evaluate("document.getElementById('img').naturalWidth") == 800  # the preview, decoded

        page.set_input_files("#file", str(tmp_path / "big.png"))
        assert _wait_status(page, "face(s)") == "2 face(s)"
        shown = page.evaluate("[document.getElementById('img').width, document.getElementById('img').naturalWidth]")
        assert shown[1] == 3200 and shown[0] <= 1000  # scaled to fit the page
        xs = page.evaluate("[...document.querySelectorAll('svg circle.kp')].map(c => +c.getAttribute('cx'))")
        assert max(xs) <= shown[0]  # the points are scaled with the picture

        page.set_input_files("#file", str(tmp_path / "junk.jpg"))
        status = _wait_status(page, "error")
        assert "not a readable image" in status
        assert page.locator("svg circle.kp").count() == 0  # the last result is gone
        assert not page.evaluate("document.getElementById('img').getAttribute('src')")

        page.set_input_files("#file", str(tmp_path / "faces.ppm"))
        assert _wait_status(page, "face(s)") == "2 face(s)"
        browser.close()
