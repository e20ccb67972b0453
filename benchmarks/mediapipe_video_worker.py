"""MediaPipe 0.10.14 face mesh in video mode over clips; run by video_steadiness.py in the peer venv.

    PEER_PYTHON benchmarks/mediapipe_video_worker.py LIST.txt OUT.json

Per clip (one path per line): ``FaceMesh(static_image_mode=False)`` (it tracks between frames),
every frame read with OpenCV and processed in order; writes each frame's faces (468 points, pixels,
0-based pixel centres) and the clip's wall time, decode included. Never imports facekeypoints.
"""

import json
import sys
import time

import cv2
import mediapipe as mp


def main() -> None:
    clips = []
    for path in [p for p in open(sys.argv[1]).read().splitlines() if p]:
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=4, refine_landmarks=False,
                                               min_detection_confidence=0.5, min_tracking_confidence=0.5)
        cap = cv2.VideoCapture(path)
        frames, t0 = [], time.perf_counter()
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            res = mesh.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            frames.append([[[lm.x * w - 0.5, lm.y * h - 0.5] for lm in f.landmark]
                           for f in (res.multi_face_landmarks or [])])
        clips.append({"path": path, "wall_s": time.perf_counter() - t0, "frames": frames})
        mesh.close()
    json.dump({"mediapipe": mp.__version__, "clips": clips}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
