"""Which points frame a tracked face's next crop (issue #21): on VALIDATION clips only.

    python benchmarks/video_framing_study.py --models fast,default

Clips as ``video_steadiness.py`` makes them (10 YT15 val people, 8 held-out wild-68 photo ids, seed 0),
the default One Euro filter (and none, for reference), three ways to frame the next crop:

- ``filtered + point steps``: the filtered points moved on by each point's filtered speed (before #21's second part);
- ``found``: the points found in the previous frame, as they are;
- ``found + face step`` (shipped): those moved on by the face's filtered speed as one translation.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import video_steadiness as vs

from facekeypoints.data import load_training, make_split
from facekeypoints.data.landmarks68 import iter_faces
from facekeypoints.photos import video
from facekeypoints.photos.predict import KeypointDetector


def clips(src: str, keep: set[str], n: int, seed: int = 0, frames: int = 90) -> tuple[list[Path], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    faces = [(f.read(), f.points) for f in iter_faces(src)
             if f.name in keep and np.linalg.norm(f.points[36] - f.points[45]) >= 30]
    chosen = [faces[i] for i in sorted(rng.choice(len(faces), min(n + 2, len(faces)), replace=False))]
    tmp = Path(tempfile.mkdtemp(prefix="fkp-framing-"))
    paths, truths = [], []
    for k, (raw, points) in enumerate(chosen[:n]):
        paths.append(tmp / f"clip{k:02d}.avi")
        truths.append(vs.make_clip(paths[-1], cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR),
                                   points, frames, rng))
    return paths, truths


def filtered_point_steps(t: video.Track) -> np.ndarray:
    f = t.filter
    return t.points if f.dx is None else f.x + f.dx * f.dt


def found(t: video.Track) -> np.ndarray:
    return t.points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="fast,default")
    args = ap.parse_args()
    ds = load_training("data/yt15d")
    meta = pd.read_csv("data/yt15d/meta.csv", usecols=["source"], keep_default_na=False)
    val = set(meta["source"].iloc[make_split(len(ds), "paper", 0, ds.identities)["val"]])
    wild = set(pd.read_csv("data/wild68d_val/meta.csv", usecols=["source"], keep_default_na=False)["source"])
    sets = {"YT15 val": clips("../shared/data/youtube-faces-68", val, 10),
            "wild val": clips("data/src/wild68_train", wild, 8)}
    shipped = video.Track.guess
    rows = [("no filter", video.VideoSettings(min_cutoff=0), found),
            ("filtered + point steps", video.VideoSettings(), filtered_point_steps),
            ("found", video.VideoSettings(), found),
            ("found + face step (shipped)", video.VideoSettings(), shipped)]
    for model in args.models.split(","):
        det = KeypointDetector.from_pretrained(model)
        for name, settings, guess in rows:
            video.Track.guess = guess
            cells = [f"{k} NME {r['nme']:.2%} jitter {r['jitter']:.2%}"
                     for k, r in ((k, vs.run_ours(det, *c, settings)) for k, c in sets.items())]
            print(f"{model:8s} {name:28s} " + " | ".join(cells), flush=True)
        video.Track.guess = shipped


if __name__ == "__main__":
    main()
