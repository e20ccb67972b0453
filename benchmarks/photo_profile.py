"""Where ``predict``'s time goes on a set of photos: decoding, YuNet's area shrink, YuNet (its runs, upright and
turned looks), the crop, the keypoint network (its runs: first crops and re-framings), the rest.

    python benchmarks/photo_profile.py [--model default] [--photos 80]

Also YuNet alone on the first photo larger than 320 px, as it is against shrunk to 320 px (the trade
``detect.NATIVE_UP_TO`` makes), and a photo without a face with and without
the turned search. The photos are the held-out wild-68 validation photos
(``data/wild68d_val/meta.csv`` sources in ``data/src/wild68_train``). Times are ms per photo, means over the photos.
"""

from __future__ import annotations

import argparse
import tarfile
import time
from collections import defaultdict

import numpy as np
import pandas as pd

from facekeypoints import imaging
from facekeypoints.photos import detect, predict


def timed(module, name: str, key: str, totals: dict[str, float], calls: dict[str, int]) -> None:
    """Wrap ``module.name`` (a module's function or a class's method) so its time adds up under ``key``."""
    fn = getattr(module, name)

    def wrapper(*a, **k):
        calls[key] += 1
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            totals[key] += time.perf_counter() - t0

    setattr(module, name, wrapper)


def per_call_ms(fn, n: int = 40) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return 1000 * (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--photos", type=int, default=80)
    ap.add_argument("--faces-of", default="data/wild68d_val")
    ap.add_argument("--tar", default="data/src/wild68_train/wild68_train.tar")
    args = ap.parse_args()
    keep = set(pd.read_csv(f"{args.faces_of}/meta.csv", usecols=["source"], keep_default_na=False)["source"])
    with tarfile.open(args.tar) as tf:
        raws = [tf.extractfile(m).read() for m in tf.getmembers() if m.name in keep][: args.photos]
    totals: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    timed(predict, "read_picture", "decode", totals, calls)
    timed(detect, "shrink_area", "shrink", totals, calls)
    timed(detect.YuNetDetector, "decode", "YuNet", totals, calls)
    timed(predict, "crop_affine", "crop", totals, calls)
    timed(predict.KeypointDetector, "predict_crops", "network", totals, calls)
    det = predict.KeypointDetector.from_pretrained(args.model)
    for raw in raws[:5]:
        det(raw)  # warm-up
    totals.clear()
    calls.clear()
    t0 = time.perf_counter()
    for raw in raws:
        det(raw)
    total = 1000 * (time.perf_counter() - t0) / len(raws)
    parts = {k: 1000 * v / len(raws) for k, v in totals.items()}
    print(f"{args.model}: {total:.2f} ms/photo over {len(raws)}: "
          + ", ".join(f"{k} {v:.2f} ({calls[k] / len(raws):.2f} calls)" for k, v in parts.items())
          + f", the rest (framing, confidence, mapping back) {total - sum(parts.values()):.2f}")
    image = next(im for im in map(imaging.decode, raws) if max(im.shape[:2]) > detect.YUNET_SIDE)
    h, w = image.shape[:2]
    f = detect.YUNET_SIDE / max(h, w)
    small = imaging.shrink_area(image, round(w * f), round(h * f))
    yunet = det.detector
    print(f"one {w}x{h} photo: YuNet as it is {per_call_ms(lambda: yunet.decode(image)):.2f} ms; shrunk to "
          f"{detect.YUNET_SIDE}: shrink {per_call_ms(lambda: imaging.shrink_area(image, *small.shape[1::-1])):.2f} ms "
          f"+ YuNet {per_call_ms(lambda: yunet.decode(small)):.2f} ms")
    # A photo without a face: predict then searches it turned (detect.YuNetDetector.search), at a cost.
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    empty = imaging.encode(noise, ".jpg")
    times = {}
    for search in (True, False):
        det.turn_search = search
        times[search] = per_call_ms(lambda: det(empty))
    det.turn_search = True
    print(f"a 640x480 photo without a face: {times[True]:.2f} ms with the turned search, {times[False]:.2f} without")


if __name__ == "__main__":
    main()
