"""dlib's HOG face detector + 68-point shape predictor over a list of images; run by pipeline_eval.py
in a peer venv (``pip install dlib-bin numpy opencv-python-headless``).

    DLIB_PYTHON benchmarks/dlib_worker.py LIST.txt OUT.json MODEL.dat [UPSAMPLE]

MODEL.dat is ``shape_predictor_68_face_landmarks.dat`` (from ``pip download --no-deps
face-recognition-models==0.3.0``; its licence forbids bundling it). Reads one image path per line, finds
the faces with ``get_frontal_face_detector()`` on the image upsampled UPSAMPLE times (default 1, as dlib's
own landmark example: faces down to about 40 px), and writes per image the milliseconds detection +
landmarks took (``ms``) and with the decode (``ms_total``), every face's 68 points exactly as dlib gives them
(whole pixels), and the load time. Only needs dlib, numpy and OpenCV; never imports facekeypoints.
"""

import json
import sys
import time

import cv2
import dlib


def main() -> None:
    paths = [p for p in open(sys.argv[1]).read().splitlines() if p]
    upsample = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    t_load = time.perf_counter()
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(sys.argv[3])
    load_ms = 1000 * (time.perf_counter() - t_load)
    out = []
    for path in paths:
        t_decode = time.perf_counter()
        rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        t0 = time.perf_counter()
        faces = []
        for rect in detector(rgb, upsample):
            shape = predictor(rgb, rect)
            faces.append([[shape.part(k).x, shape.part(k).y] for k in range(shape.num_parts)])
        t1 = time.perf_counter()
        out.append({"path": path, "ms": 1000 * (t1 - t0), "ms_total": 1000 * (t1 - t_decode), "faces": faces})
    json.dump({"dlib": dlib.__version__, "upsample": upsample, "load_ms": load_ms, "images": out},
              open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
