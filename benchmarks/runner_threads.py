"""ms per photo of ``predict``'s path with the keypoint network's onnxruntime pool set one way or another.

    python benchmarks/runner_threads.py MODEL MODE [--photos 80]

MODE: ``asis`` (what ``predict`` builds), ``t1`` (one thread), ``t0spin`` (onnxruntime's choice of
threads, spinning between runs: its default), ``t0nospin`` (its choice, no spinning). The photos are the
held-out wild-68 validation photos (``data/wild68d_val/meta.csv`` sources in ``data/src/wild68_train``).
YuNet keeps its own settings throughout.
"""

from __future__ import annotations

import argparse
import tarfile
import time

import onnxruntime as ort
import pandas as pd

from facekeypoints.photos.predict import KeypointDetector

MODES = {"t1": (1, True), "t0spin": (0, True), "t0nospin": (0, False)}


def session(path: str, threads: int, spin: bool) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("mode", choices=["asis", *MODES])
    ap.add_argument("--photos", type=int, default=80)
    ap.add_argument("--faces-of", default="data/wild68d_val")
    ap.add_argument("--tar", default="data/src/wild68_train/wild68_train.tar")
    args = ap.parse_args()
    det = KeypointDetector.from_pretrained(args.model)
    if args.mode != "asis":
        det.runner.session = session(det.runner.session._model_path, *MODES[args.mode])
    keep = set(pd.read_csv(f"{args.faces_of}/meta.csv", usecols=["source"], keep_default_na=False)["source"])
    with tarfile.open(args.tar) as tf:
        raws = [tf.extractfile(m).read() for m in tf.getmembers() if m.name in keep][: args.photos]
    for raw in raws[:5]:
        det(raw)  # warm-up
    t0 = time.perf_counter()
    for raw in raws:
        det(raw)
    print(f"{args.model} {args.mode}: {1000 * (time.perf_counter() - t0) / len(raws):.2f} ms/photo over {len(raws)}")


if __name__ == "__main__":
    main()
