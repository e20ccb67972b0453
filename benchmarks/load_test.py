"""A bounded burst against `facekeypoints serve` on loopback; prints one JSON object.

    python benchmarks/load_test.py --model default --clients 8 --requests 500

Starts the server in its own process, then ``--clients`` threads send ``--requests`` uploads
in all, a fixed mix: 70% good photos (the project's sample picture, PNG and JPEG), and bad
ones (empty, junk bytes, a truncated JPEG, a decompression-bomb PNG header, an oversized
upload). Reports per kind the status codes seen, latency p50/p99 of good requests, requests/s,
and the server's resident memory before and after (from /proc). tests/test_serve_load.py runs
it small and checks the answers; the numbers in docs/reliability.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np


def _bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims a huge image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def uploads(max_upload_bytes: int) -> dict[str, tuple[bytes, str, bool]]:
    """name -> (bytes, content type, is_good)."""
    from facekeypoints.photos.sample import sample_image

    img = sample_image()
    png = cv2.imencode(".png", img)[1].tobytes()
    jpg = cv2.imencode(".jpg", img)[1].tobytes()
    return {
        "good_png": (png, "image/png", True),
        "good_jpg": (jpg, "image/jpeg", True),
        "empty": (b"", "image/png", False),
        "junk": (b"this is not an image" * 50, "image/jpeg", False),
        "truncated_jpg": (jpg[: len(jpg) // 3], "image/jpeg", False),
        "bomb_png": (_bomb_png(), "image/png", False),
        "oversized": (b"\xff" * (max_upload_bytes + 1), "image/jpeg", False),
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(model: str, clients: int, requests: int, seed: int = 0) -> dict:
    from facekeypoints.photos.serve import MAX_UPLOAD_BYTES

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "facekeypoints", "serve", "--model", model, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if urllib.request.urlopen(url + "/healthz", timeout=1).status == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.3)
        kinds = uploads(MAX_UPLOAD_BYTES)
        good = [k for k, v in kinds.items() if v[2]]
        bad = [k for k, v in kinds.items() if not v[2]]
        rng = np.random.default_rng(seed)
        plan = [str(rng.choice(good)) if rng.random() < 0.7 else str(rng.choice(bad)) for _ in range(requests)]
        with httpx.Client(timeout=60) as c:  # one warm-up request (model and detector already loaded)
            c.post(url + "/v1/keypoints", files={"file": ("w.png", kinds["good_png"][0], "image/png")})
        rss_before = _rss_mb(proc.pid)

        def send(kind: str) -> tuple[str, int, float, int]:
            data, ctype, _ = kinds[kind]
            with httpx.Client(timeout=60) as c:
                t0 = time.perf_counter()
                r = c.post(url + "/v1/keypoints", files={"file": (f"{kind}.bin", data, ctype)})
                ms = 1000 * (time.perf_counter() - t0)
            faces = len(r.json().get("faces", [])) if r.status_code == 200 else -1
            return kind, r.status_code, ms, faces

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(send, plan))
        wall = time.perf_counter() - t0
        rss_after = _rss_mb(proc.pid)
        alive = urllib.request.urlopen(url + "/healthz", timeout=5).status == 200
    finally:
        proc.terminate()
        proc.wait(10)
    by_kind: dict[str, dict] = {}
    for kind, code, _, faces in results:
        d = by_kind.setdefault(kind, {"n": 0, "status": {}, "faces": []})
        d["n"] += 1
        d["status"][str(code)] = d["status"].get(str(code), 0) + 1
        d["faces"].append(faces)
    for d in by_kind.values():
        d["faces"] = sorted(set(d["faces"]))
    good_ms = np.array([ms for kind, _, ms, _ in results if kinds[kind][2]])
    failed_good = sum(1 for kind, code, _, _ in results if kinds[kind][2] and code != 200)
    return {"clients": clients, "requests": requests, "wall_s": wall, "requests_per_s": requests / wall,
            "good_requests": int(len(good_ms)), "failed_good_requests": failed_good,
            "good_latency_ms_p50": float(np.percentile(good_ms, 50)) if len(good_ms) else None,
            "good_latency_ms_p99": float(np.percentile(good_ms, 99)) if len(good_ms) else None,
            "server_rss_mb_before": rss_before, "server_rss_mb_after": rss_after, "server_alive_after": alive,
            "by_kind": by_kind, "model": model}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=500)
    args = ap.parse_args()
    from facekeypoints.inference.crops import device_name

    print(json.dumps({**run(args.model, args.clients, args.requests), "device": device_name("cpu")}))


if __name__ == "__main__":
    main()
