"""MediaPipe 0.10.14 face mesh over a list of images; run by peer_pipeline.py in the peer venv.

    PEER_PYTHON benchmarks/mediapipe_worker.py LIST.txt OUT.json

Reads one image path per line, runs ``FaceMesh(static_image_mode=True)`` on it (RGB) and
writes, per image, the milliseconds ``process`` took and every face's 468 points in pixels.
Only needs mediapipe (and the numpy/opencv it brings); never imports facekeypoints.
"""

import json
import sys
import time

import cv2
import mediapipe as mp


def main() -> None:
    paths = [p for p in open(sys.argv[1]).read().splitlines() if p]
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=4, refine_landmarks=False,
                                           min_detection_confidence=0.5)
    out = []
    for path in paths:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        t0 = time.perf_counter()
        res = mesh.process(rgb)
        ms = 1000 * (time.perf_counter() - t0)
        faces = [[[lm.x * w - 0.5, lm.y * h - 0.5] for lm in f.landmark] for f in (res.multi_face_landmarks or [])]
        out.append({"path": path, "ms": ms, "faces": faces})
    json.dump({"mediapipe": mp.__version__, "images": out}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
