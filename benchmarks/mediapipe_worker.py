"""MediaPipe 0.10.14 face mesh over a list of images; run by peer_pipeline.py in the peer venv.

    PEER_PYTHON benchmarks/mediapipe_worker.py LIST.txt OUT.json

Reads one image path per line, runs ``FaceMesh(static_image_mode=True)`` on it (RGB) and
writes, per image, the milliseconds ``process`` took (``ms``) and with the decode
(``ms_total``), every face's 468 points in pixels, and the model's load time.
Only needs mediapipe (and the numpy/opencv it brings); never imports facekeypoints.
"""

import json
import sys
import time

import cv2
import mediapipe as mp


def main() -> None:
    paths = [p for p in open(sys.argv[1]).read().splitlines() if p]
    t_load = time.perf_counter()
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=4, refine_landmarks=False,
                                           min_detection_confidence=0.5)
    load_ms = 1000 * (time.perf_counter() - t_load)
    out = []
    for path in paths:
        t_decode = time.perf_counter()
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        t0 = time.perf_counter()
        res = mesh.process(rgb)
        t1 = time.perf_counter()
        faces = [[[lm.x * w - 0.5, lm.y * h - 0.5] for lm in f.landmark] for f in (res.multi_face_landmarks or [])]
        out.append({"path": path, "ms": 1000 * (t1 - t0), "ms_total": 1000 * (t1 - t_decode), "faces": faces})
    json.dump({"mediapipe": mp.__version__, "load_ms": load_ms, "images": out}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
