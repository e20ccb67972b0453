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
from pathlib import Path

import numpy as np
import pandas as pd
import video_steadiness as vs

from facekeypoints.data import load_training, make_split
from facekeypoints.photos import video
from facekeypoints.photos.predict import KeypointDetector


def clips(src: str, keep: set[str], n: int) -> tuple[list[Path], list[np.ndarray]]:
    _, paths, truths, _ = vs.make_clips(src, keep, n, frames=90)
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
