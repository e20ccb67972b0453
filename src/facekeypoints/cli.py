"""``facekeypoints MODE [ARGS]``: the command line. Each mode calls the public Python function."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HELP = """\
facekeypoints: the 15 Kaggle facial keypoints, trained and measured honestly.

usage: facekeypoints MODE [ARGS]     (facekeypoints MODE --help for each mode)

modes:
  data      convert a 68-point face set to the Kaggle layout; show, inspect or pack a data set
  train     train a model from a named recipe, with key=value overrides
  evaluate  test metrics of a checkpoint (RMSE, NME, failure rate), table/JSON + pictures
  submit    Kaggle submission CSV from a checkpoint and Kaggle's test.csv + IdLookupTable.csv
  predict   keypoints for every face in photos and videos (files, folders, globs) as JSONL or CSV
  export    a checkpoint to ONNX, for onnxruntime
  benchmark speed as JSON: `benchmark data` (CSV parsing), `infer` (CPU latency), `train` (loops)
  serve     an HTTP API and a web page for trying it on photos
  report    a self-contained HTML report of a training run
  models    list the bundled models, registered networks and recipes

examples:
  1. facekeypoints data convert ../shared/data/youtube-faces-68 data/yt15
  2. facekeypoints train --recipe paper --data data/yt15
  3. facekeypoints train --recipe paper --data data/yt15 epochs=5 batch_size=64 seed=1
  4. facekeypoints train --resume runs/train/paper
  5. facekeypoints evaluate --model runs/train/paper --data data/yt15 --split paper --json
  6. facekeypoints predict photos/ --save-images out/      (the bundled `default` model)
  7. torchrun --nproc_per_node 2 -m facekeypoints train --recipe resreg --data data/yt15

Data paths default to $FACEKEYPOINTS_DATA. Kaggle's own files work as downloaded:
  kaggle competitions download -c facial-keypoints-detection -p kaggle/
  facekeypoints train --recipe paper --data kaggle/
"""


def _data_default() -> str | None:
    return os.environ.get("FACEKEYPOINTS_DATA")


def _add_data(sub: Any) -> None:
    d = sub.add_parser("data", help="convert, show, inspect or pack data sets")
    dsub = d.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = dsub.add_parser("convert", help="68-point face set -> Kaggle layout (training.csv + meta.csv)",
                        description="Frame, crop (96x96 gray; --size N for larger photo crops, --color for BGR ones) "
                                    "and map 68 iBUG points to the 15 Kaggle keypoints. "
                                    "SRC is a folder of images (or .tar archives of them) with a 68-point CSV "
                                    "or .pts files. Bad items are skipped and listed at the end.")
    c.add_argument("src", help="68-point source folder")
    c.add_argument("out_dir", help="output folder (training.csv, meta.csv, convert.json)")
    c.add_argument("--framing", choices=("template", "detector"), default="template",
                   help="template: fit the true points onto Kaggle's mean face (default); detector: frame each face "
                        "as `predict` frames a photo (YuNet + its calibrated framing), falling back to the template "
                        "where YuNet misses the face. Labels are the true points either way")
    c.add_argument("--holdout", type=_fraction, default=0.0, metavar="FRACTION",
                   help="put the faces of this fraction of identities (photo ids, people; a stable hash) into "
                        "--holdout-dir, for validation (default: 0, none)")
    c.add_argument("--holdout-dir", metavar="DIR", help="output folder of the held-out faces (with --holdout)")
    c.add_argument("--size", type=int, default=96, metavar="N",
                   help="crop side in pixels (default: 96, Kaggle's): the same face region at N x N pixels, a "
                        "multiple of 16. `train` builds its network for the side of its data")
    c.add_argument("--color", action="store_true",
                   help="keep colour: each crop is 3 BGR planes (the Image field holds 3 x N x N values, "
                        "plane after plane; convert.json says \"channels\": 3). `train` builds a colour network "
                        "for such data; the Kaggle layout itself is grey")
    c.add_argument("--upright", action="store_true",
                   help="turn each face upright by its eyes (a similarity framing: `predict` with rotate=True frames "
                        "photos so); for models that are to read upright crops")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    v = dsub.add_parser("show", help="draw a grid of faces with their keypoints to a PNG")
    v.add_argument("path", nargs="?", default=_data_default(), help="folder, training.csv or zip")
    v.add_argument("-o", "--output", default="faces.png", help="PNG to write (default: faces.png)")
    v.add_argument("-n", type=int, default=16, help="how many faces (default: 16)")
    v.add_argument("--seed", type=int, default=0, help="which faces (random, seeded)")
    k = dsub.add_parser("pack", help="one compressed .npz of a data set (to carry it to a GPU machine)")
    k.add_argument("path", help="folder, training.csv or zip")
    k.add_argument("output", help="the .npz to write; --data accepts it anywhere")
    i = dsub.add_parser("info", help="counts and label coverage of a Kaggle-layout data set")
    i.add_argument("path", nargs="?", default=_data_default(), help="folder, training.csv or zip")
    i.add_argument("--json", action="store_true", help="print JSON")


def _add_train(sub: Any) -> None:
    from .config import RECIPES

    t = sub.add_parser("train", help="train a model", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train from a named recipe. Any config key can be overridden as key=value "
                                   "(see facekeypoints/config.py for keys and defaults).",
                       epilog="recipes:\n" + "\n".join(f"  {k:<8} {v}" for k, v in RECIPES.items()))
    t.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. epochs=5 lr=3e-4")
    t.add_argument("--recipe", default="paper", choices=sorted(RECIPES), help="named recipe (default: paper)")
    t.add_argument("--data", default=_data_default(), help="Kaggle-layout folder, training.csv or zip")
    t.add_argument("--name", help="run name (default: the recipe); runs/train/NAME, never overwritten")
    t.add_argument("--project", default="runs/train", help="folder holding run folders")
    t.add_argument("--missing", choices=("ffill", "masked"),
                   help="missing labels: ffill = the report's forward fill, masked = loss on present labels only")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last epoch")
    t.add_argument("--folds", type=int, metavar="K",
                   help="k-fold cross-validation of the non-test part: K runs under one parent folder, "
                        "out-of-fold scores in PARENT/oof.json, the parent a K-model ensemble (same as folds=K)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_evaluate(sub: Any) -> None:
    e = sub.add_parser("evaluate", help="metrics of a checkpoint on a split's test part")
    e.add_argument("--model", required=True, action="append",
                   help="bundled name (default, fast) or checkpoint: run folder, model.json or model.safetensors; "
                        "repeat for an ensemble")
    e.add_argument("--data", default=_data_default(), help="Kaggle-layout folder, training.csv or zip")
    e.add_argument("--split", default="paper", help="split protocol (default: paper)")
    e.add_argument("--part", default="test", choices=("train", "val", "test"), help="which part (default: test)")
    e.add_argument("--out", help="folder for metrics.json and pictures (default: none written)")
    e.add_argument("--device", default="auto", help="auto | cpu | cuda")
    e.add_argument("--tta-views", type=int, metavar="N",
                   help="test-time re-framing views, 0..8 (default: what each checkpoint's config says)")
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")


def _add_submit(sub: Any) -> None:
    s = sub.add_parser("submit", help="Kaggle submission CSV (RowId,Location) from a checkpoint",
                       description="Predict Kaggle's test.csv and write the submission in the exact format "
                                   "(RowId,Location, one row per IdLookupTable row, coordinates clipped to [0, 96]).")
    s.add_argument("--model", default="default",
                   help="bundled name (default, fast) or checkpoint: run folder, model.json or model.safetensors")
    s.add_argument("--test", required=True, help="test.csv, test.zip, the competition zip or its folder")
    s.add_argument("--lookup", required=True, help="IdLookupTable.csv (plain or compressed)")
    s.add_argument("-o", "--output", default="submission.csv", help="where to write (default: submission.csv)")
    s.add_argument("--device", default="auto", help="auto | cpu | cuda")


def _add_predict(sub: Any) -> None:
    from .photos.video import BETA, DETECT_EVERY, MIN_CUTOFF

    r = sub.add_parser("predict", help="keypoints for every face in images, videos, folders or globs",
                       description="Detect faces, predict the 15 keypoints, print one record per image "
                                   "(coordinates in original-image pixels). Unreadable files get an error "
                                   "in their record and the run goes on; a summary goes to stderr.")
    r.add_argument("paths", nargs="*", metavar="PATH",
                   help="image or video files, folders (recursive) or globs; a video gives one record per frame "
                        "(none: a sample picture the project draws itself)")
    r.add_argument("--model", default="default",
                   help="bundled model name (default, fast) or checkpoint: run folder, model.json or "
                        "model.safetensors (default: default)")
    r.add_argument("--format", default="jsonl", choices=("jsonl", "csv"), help="output format (default: jsonl)")
    r.add_argument("-o", "--output", help="write here instead of stdout")
    r.add_argument("--save-images", metavar="DIR",
                   help="also save each picture with its faces drawn to DIR, in its own format and colours")
    r.add_argument("--names", action="store_true",
                   help="with --save-images: write keypoint names too (on faces at least 160 px wide)")
    _add_pipeline_args(r)
    r.add_argument("--workers", type=_workers, metavar="N",
                   help="processes, each loading the model once (default: the usable cores, one per 16 inputs; "
                        "1 = this process only). Records keep the input order")
    r.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on a Ray cluster (ADDRESS: e.g. auto or ray://head:10001; none: a local Ray), one model "
                        "per CPU, or --workers N of them; paths must be readable on every node ([ray] extra)")
    r.add_argument("--resume", action="store_true",
                   help="with -o FILE (JSONL): skip the inputs FILE already holds (an interrupted run) and append "
                        "the rest")
    v = r.add_argument_group("video", "videos are followed face by face: each face keeps its \"track\" number, its "
                             "next crop is framed from its points, and its points are steadied by a One Euro filter "
                             "(little smoothing while the face moves, much while it is still)")
    v.add_argument("--no-track", action="store_true",
                   help="video: run the face detector on every frame instead of following the faces")
    v.add_argument("--detect-every", type=int, default=DETECT_EVERY, metavar="N",
                   help=f"video: run the face detector every N frames (and whenever a face is lost; "
                        f"default {DETECT_EVERY})")
    v.add_argument("--min-cutoff", type=float, default=MIN_CUTOFF, metavar="HZ",
                   help=f"video: the One Euro filter's cutoff for a still face; lower = steadier, more lag; "
                        f"0 = no filter (default {MIN_CUTOFF})")
    v.add_argument("--beta", type=float, default=BETA,
                   help=f"video: how fast the filter lets go as the face moves (per face width per second; "
                        f"default {BETA})")
    v.add_argument("--smooth", type=_fraction, default=0.0, metavar="ALPHA",
                   help="video: the older exponential average instead of the One Euro filter: each point blended "
                        "with the previous frame's, 0 <= ALPHA < 1 (0 = off: the One Euro filter; 0.5 = strong)")


def _add_export(sub: Any) -> None:
    x = sub.add_parser("export", help="export a checkpoint to ONNX (runs with onnxruntime)")
    x.add_argument("--model", default="default",
                   help="bundled name (default, fast) or checkpoint: run folder, model.json or model.safetensors")
    x.add_argument("--format", default="onnx", choices=("onnx",), help="export format (default: onnx)")
    x.add_argument("-o", "--output",
                   help="output file (default: beside the checkpoint, model.onnx; ./NAME.onnx for a bundled model)")
    x.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")


def _add_benchmark(sub: Any) -> None:
    b = sub.add_parser("benchmark", help="speed measurements, printed as JSON")
    b.add_argument("what", choices=("data", "infer", "train"),
                   help="data: Kaggle CSV parsing; infer: CPU inference speed; train: plain loop vs our train()")
    b.add_argument("--model", default="fast",
                   help="infer: bundled name, checkpoint or registry name (random weights) (default: fast)")
    b.add_argument("--threads", type=int, default=0, help="infer: CPU threads (default: all cores)")
    b.add_argument("--batch", type=int, default=256, help="infer: batch size for throughput (default: 256)")
    b.add_argument("--images", help="infer: a folder of photos to time the whole predict pipeline on")
    b.add_argument("--data", default=_data_default(), help="train: Kaggle-layout data (default: $FACEKEYPOINTS_DATA)")
    b.add_argument("--recipe", default="paper", help="train: recipe to time (default: paper)")
    b.add_argument("--epochs", type=int, help="train: override the recipe's epochs (e.g. a short CPU run)")
    b.add_argument("--device", default="auto", help="train: auto | cpu | cuda")
    b.add_argument("--json", action="store_true", help="kept for older scripts: the output is always one JSON object")


def _add_serve(sub: Any) -> None:
    sv = sub.add_parser("serve", help="HTTP API + web page (POST /v1/keypoints, GET /healthz, /docs, /)")
    sv.add_argument("--model", default="default",
                    help="bundled name (default, fast) or checkpoint: run folder, model.json or model.safetensors")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    sv.add_argument("--port", type=_port, default=8000, help="port, 1..65535 (default: 8000)")
    _add_pipeline_args(sv)


def _add_report(sub: Any) -> None:
    rp = sub.add_parser("report", help="one self-contained HTML page about a training run")
    rp.add_argument("run_dir", help="a run folder (runs/train/NAME)")
    rp.add_argument("-o", "--output", help="where to write (default: RUN_DIR/report.html)")


def _add_models(sub: Any) -> None:
    m = sub.add_parser("models", help="list registered models and recipes")
    m.add_argument("pattern", nargs="?", default="*", help="glob over model names")


def build_parser() -> argparse.ArgumentParser:
    """The whole grammar: one small function per mode (above) adds its own arguments."""
    p = argparse.ArgumentParser(prog="facekeypoints", description=HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter, add_help=True)
    from . import __version__

    p.add_argument("--version", action="version", version=f"facekeypoints {__version__}")
    sub = p.add_subparsers(dest="mode", metavar="MODE")

    for add in (_add_data, _add_train, _add_evaluate, _add_submit, _add_predict, _add_export, _add_benchmark,
                _add_serve, _add_report, _add_models):
        add(sub)
    return p


def _ranged(kind: type, lo: float, hi: float, what: str, open_hi: bool = False):
    """An argparse type: a ``kind`` (int or float) in ``lo..hi`` (``hi`` excluded with ``open_hi``)."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not (lo <= v < hi if open_hi else lo <= v <= hi):
            raise argparse.ArgumentTypeError(f"{text} is outside {lo} <= value {'<' if open_hi else '<='} {hi}")
        return v
    return parse


_fraction = _ranged(float, 0, 1, "a number", open_hi=True)
_score = _ranged(float, 0, 1, "a number")
_side = _ranged(int, 64, 4096, "a side in pixels")
_port = _ranged(int, 1, 65535, "a port number")
_workers = _ranged(int, 1, 1024, "a number of processes")


def _add_pipeline_args(r: argparse.ArgumentParser) -> None:
    """Options of the photo pipeline, shared by predict and serve."""
    from .photos.detect import DEFAULT_MIN_SCORE, DETECT_MAX_SIDE, RECHECK_SIDE, SMALL_FACE, YUNET_SIDE  # no torch

    r.add_argument("--detector", default="yunet", choices=("yunet", "haar"),
                   help="face detector: yunet (OpenCV's YuNet, bundled) or haar (OpenCV's cascade) (default: yunet)")
    r.add_argument("--detect-size", type=_side, metavar="PX",
                   help="long side of the copy the detector sees: larger finds smaller faces, slower "
                        f"(default for yunet: the model card's predict.detect_side, else {YUNET_SIDE}; a first look "
                        f"under {RECHECK_SIDE} is looked at again from {RECHECK_SIDE} where a face is in doubt; "
                        f"then closer, up to {DETECT_MAX_SIDE}, while no face or only faces under {SMALL_FACE} px "
                        f"there are found; {DETECT_MAX_SIDE} for haar)")
    r.add_argument("--min-score", type=_score, metavar="S",
                   help="report only faces the detector scores at least S, 0..1 "
                        f"(default: {DEFAULT_MIN_SCORE['yunet']} for yunet)")
    r.add_argument("--points", type=int, default=15, choices=(15, 68),
                   help="68: each face also gets \"landmarks68\", the 68 iBUG points as [x, y] pairs in image "
                        "pixels (models with a 68-point head; `facekeypoints models` says which) (default: 15)")
    r.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"),
                   help="model runtime: onnx (onnxruntime), torch, or auto = onnx on the CPU, torch on a GPU "
                        "(default: auto)")
    r.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default: cpu)")


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _need(value: str | None, flag: str = "--data PATH") -> str:
    if not value:
        raise ValueError(f"no data given: pass {flag} or set FACEKEYPOINTS_DATA")
    return value


# ---- one small handler per mode: parse nothing, print results, call the public Python API.
def _data_convert(args: argparse.Namespace) -> int:
    from .data import convert_68

    if args.holdout and not args.holdout_dir:
        raise ValueError("--holdout needs --holdout-dir DIR (where the held-out faces go)")
    if args.holdout_dir and not args.holdout:
        raise ValueError("--holdout-dir does nothing without --holdout FRACTION")
    framer = None
    if args.framing == "detector":
        from .photos.detect import DetectorFraming, Framer

        framer = DetectorFraming(framer=Framer.load("yunet", rotate=args.upright))
    s = convert_68(args.src, args.out_dir, progress=not args.quiet, framer=framer, holdout=args.holdout,
                   holdout_dir=args.holdout_dir, size=args.size, channels=3 if args.color else 1,
                   rotate=args.upright)
    for folder, part in ((args.out_dir, s), (args.holdout_dir, s.get("holdout_part"))):
        if part:
            print(f"wrote {folder}/training.csv: {part['faces']} faces ({args.size}x{args.size}"
                  f"{', BGR' if args.color else ''}{', upright' if args.upright else ''}), "
                  f"{part['identities']} identities, "
                  f"{part['missing_keypoints']} keypoints outside the crop (missing), framing "
                  + ", ".join(f"{k} {v}" for k, v in part["framing_counts"].items()))
    if s["skipped"]:
        print(f"skipped {len(s['skipped'])} item(s):")
        for item in s["skipped"]:
            print(f"  {item['item']}: {item['reason']}")
    return 0


def _data_show(args: argparse.Namespace) -> int:
    from .evaluation.plots import show_dataset

    print(f"wrote {show_dataset(_need(args.path, 'PATH'), args.output, args.n, args.seed)}")
    return 0


def _data_pack(args: argparse.Namespace) -> int:
    from .data import load_training
    from .data.kaggle import save_packed

    out = save_packed(load_training(args.path), args.output)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _data_info(args: argparse.Namespace) -> int:
    from .data.kaggle import describe

    info = describe(_need(args.path, "PATH"))
    print(json.dumps(info) if args.json else "\n".join(f"{k:<18} {v}" for k, v in info.items()))
    return 0


def _train(args: argparse.Namespace) -> int:
    from .config import make_config, parse_overrides
    from .evaluation.evaluate import format_table
    from .workflow import train

    if args.resume:
        if args.folds is not None:
            raise ValueError("--folds with --resume: a run keeps its own folds (resume the k-fold parent folder)")
        run_dir = train(resume=args.resume, progress=not args.quiet, overrides=parse_overrides(args.overrides))
    else:
        over = parse_overrides(args.overrides)
        over["data"] = _need(over.get("data") or args.data)
        if args.missing:
            over["missing"] = args.missing
        if args.folds is not None:
            over["folds"] = str(args.folds)
        cfg = make_config(args.recipe, **over)
        if args.recipe == "tiny":
            print(f"note: `tiny` is a smoke test ({cfg.epochs} epochs of a tiny network): its figures mean nothing",
                  file=sys.stderr)
        run_dir = train(cfg, runs_root=args.project, name=args.name, progress=not args.quiet)
    if (run_dir / "oof.json").exists():
        oof = json.loads((run_dir / "oof.json").read_text())
        print(f"out-of-fold ({oof['folds']} folds, {oof['n_faces']} faces): RMSE {oof['rmse']:.4f} px, "
              f"NME {100 * oof['nme']:.3f} %  (per fold: "
              + ", ".join(f"{f['rmse']:.3f}" for f in oof["per_fold"]) + f" px; {run_dir / 'oof.json'})")
    if (run_dir / "metrics.json").exists():
        print(format_table(json.loads((run_dir / "metrics.json").read_text())))
    print(f"run folder: {run_dir}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation.evaluate import evaluate, format_table

    m = evaluate(args.model, _need(args.data), args.split, args.part, out_dir=args.out, device=args.device,
                 tta_views=args.tta_views)
    print(json.dumps(m) if args.json else format_table(m))
    return 0


def _submit(args: argparse.Namespace) -> int:
    from .inference.submit import make_submission

    sub_df = make_submission(args.model, args.test, args.lookup, args.output, args.device)
    print(f"wrote {args.output}: {len(sub_df)} rows")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .photos.batch import run_predict
    from .photos.predict import KeypointDetector
    from .photos.video import VideoSettings

    if not args.paths:
        from .photos.sample import sample_path

        args.paths = [str(sample_path())]
        print(f"no PATH given: predicting the sample picture {args.paths[0]}", file=sys.stderr)
    if args.names and not args.save_images:
        raise ValueError("--names labels the saved pictures: it needs --save-images DIR")
    if args.resume and not args.output:
        raise ValueError("--resume continues an output file: pass -o FILE (the JSONL of the run to continue)")
    video = VideoSettings(track=not args.no_track, detect_every=args.detect_every, min_cutoff=args.min_cutoff,
                          beta=args.beta, smooth=args.smooth)
    det = KeypointDetector.from_pretrained(args.model, device=args.device, backend=args.backend,
                                           detector=args.detector, min_score=args.min_score,
                                           detect_side=args.detect_size, points=args.points)
    if args.ray:
        for flag, value in (("--save-images", args.save_images), ("--format csv", args.format == "csv"),
                            ("a video option (--no-track, --detect-every, --min-cutoff, --beta, --smooth)",
                             video != VideoSettings())):
            if value:
                raise ValueError(f"{flag} is not available with --ray (it writes JSONL records only)")
        try:
            from .ray import predict_on_ray
        except ImportError:
            raise ValueError("--ray needs the [ray] extra: pip install 'facekeypoints[ray]'") from None
        summary = predict_on_ray(args.paths, det.settings, sys.stdout, args.output, args.resume,
                                 None if args.ray == "local" else args.ray, args.workers)
    else:
        summary = run_predict(args.paths, det, sys.stdout, args.format, args.save_images, args.names,
                              workers=args.workers, output=args.output, resume=args.resume, video=video)
    done = f", {summary['skipped_done']} inputs already done (--resume)" if args.resume else ""
    n, frames = summary["images"], summary["frames"]
    pictures = f"{n - frames} {_plural(n - frames, 'image')}" + (f" + {frames} video {_plural(frames, 'frame')}"
                                                                  if frames else "")
    print(f"{pictures}, {summary['faces']} {_plural(summary['faces'], 'face')}, {len(summary['failures'])} without "
          f"a face or unreadable, {summary['ms_per_image']:.1f} ms each, {summary['workers']} "
          f"{_plural(summary['workers'], 'worker')}{done}", file=sys.stderr)
    where = [f"records in {summary['output']}" if summary["output"] else "records on stdout"]
    if summary["save_images"]:
        where.append(f"pictures in {Path(summary['save_images'])}/")
    print("  " + "; ".join(where), file=sys.stderr)
    for line in summary["renamed"]:
        print(f"  saved as another name (same name from two places): {line}", file=sys.stderr)
    for f in summary["failures"]:
        reason = f["reason"] if f["reason"].startswith(f["path"]) else f"{f['path']}: {f['reason']}"
        print(f"  {reason}", file=sys.stderr)
    if summary["images"] == 0 and summary["skipped_done"] == 0:
        print(f"facekeypoints predict: error: no image or video matched {' '.join(args.paths)}", file=sys.stderr)
        return 1
    if summary["readable"] == 0 and summary["images"] > 0:
        print("facekeypoints predict: error: no input could be read", file=sys.stderr)
        return 1
    return 0


def _export(args: argparse.Namespace) -> int:
    from .inference.export import default_export_path, export_onnx

    print(f"wrote {export_onnx(args.model, args.output or default_export_path(args.model), args.opset)}")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from .benchmark import benchmark_data, benchmark_infer, benchmark_train

    if args.what == "data":
        result = benchmark_data()
    elif args.what == "infer":
        result = benchmark_infer(args.model, args.threads, args.batch, images=args.images)
    else:
        result = benchmark_train(_need(args.data), args.recipe, args.epochs, args.device)
    print(json.dumps(result))
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        from .photos.serve import serve
    except ImportError as e:
        raise ValueError(f"serve needs the [serve] extra ({e.name} is missing): "
                         "pip install 'facekeypoints[serve]'") from None
    serve(args.model, args.host, args.port, detector=args.detector, min_score=args.min_score, backend=args.backend,
          device=args.device, detect_side=args.detect_size, points=args.points)
    return 0


def _report(args: argparse.Namespace) -> int:
    from .evaluation.report import write_report

    print(f"wrote {write_report(args.run_dir, args.output)}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from .cards import describe_bundled
    from .config import RECIPES

    # NME compares across crop sides; RMSE is in the model's own crop pixels (96 or larger)
    def pct(v: Any) -> str:
        return f"{100 * v:.2f}%" if isinstance(v, float) else "-"

    print(f"{'bundled':<12} {'size':>8} {'input':>11} {'points':>7} {'test NME':>9} {'RMSE (crop px)':>15} "
          f"{'wild val NME 15/68':>19} {'CPU ms/face':>12}  description")
    for b in describe_bundled():
        wild = f"{pct(b['wild_val_nme'])} / {pct(b['wild_val_nme68'])}"
        print(f"{b['name']:<12} {b['size_mb']:7.2f}M {b['input']:>11} {b['points']:>7} {pct(b['test_nme']):>9} "
              f"{b['test_rmse']:>15} {wild:>19} {b['cpu_ms_per_face']:>12}  {b['about']}")
    try:
        from .models.registry import describe_models

        models = describe_models(args.pattern)
    except ModuleNotFoundError as e:
        print(f"\n(networks and recipes: the [train] extra, {e.name} is not installed: "
              "pip install 'facekeypoints[train]')")
        return 0
    print(f"\n{'network':<12} {'params':>10} {'GFLOPs/face':>12}  description")
    for m in models:
        print(f"{m['name']:<12} {m['params'] / 1e6:9.3f}M {m['gflops']:12.3f}  {m['about']}")
    print("\nrecipes: " + ", ".join(sorted(RECIPES)) + "   (tiny is a smoke test)")
    return 0


HANDLERS = {"data convert": _data_convert, "data show": _data_show, "data pack": _data_pack, "data info": _data_info,
            "train": _train, "evaluate": _evaluate, "submit": _submit, "predict": _predict, "export": _export,
            "benchmark": _benchmark, "serve": _serve, "report": _report, "models": _models}


# What the [train] extra brings (pyproject.toml): a mode that needs one of them says which extra to install.
TRAIN_EXTRA = ("torch", "pandas", "matplotlib", "safetensors", "onnx")


def run(args: argparse.Namespace) -> int:
    """Call the handler of ``args.mode`` (and ``args.action`` for ``data``)."""
    key = f"{args.mode} {args.action}" if args.mode == "data" else args.mode
    return HANDLERS[key](args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` lets tests drive the CLI in-process."""
    from .cards import CheckpointError
    from .fileio import DataError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.mode is None:
        print(HELP)
        return 0
    try:
        return run(args)
    except (DataError, CheckpointError, ValueError) as e:
        print(f"facekeypoints {args.mode}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        if e.name == "cv2" and not isinstance(e, ModuleNotFoundError):  # imaging.require_opencv's one line
            print(f"facekeypoints {args.mode}: error: {e}", file=sys.stderr)
            return 2
        if not isinstance(e, ModuleNotFoundError) or e.name not in TRAIN_EXTRA:
            raise
        print(f"facekeypoints {args.mode}: error: this mode needs the [train] extra ({e.name} is not installed; "
              "the base install runs predict and serve on the CPU): pip install 'facekeypoints[train]'",
              file=sys.stderr)
        return 2
    except BrokenPipeError:  # `facekeypoints models | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # files and folders: say which one and what went wrong, no traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"facekeypoints {args.mode}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"facekeypoints {args.mode}: interrupted" + (f": {e}" if str(e) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
