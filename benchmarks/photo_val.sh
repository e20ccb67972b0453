#!/usr/bin/env bash
# Photo models on VALIDATION faces through the whole pipeline (predict's defaults), beside MediaPipe:
# the YT15 `paper` validation people and the held-out wild-68 photo ids (never test faces).
#
#   bash benchmarks/photo_val.sh OUT_DIR MODEL [MODEL ...]       (PEER=/path/to/peers-venv/bin/python for MediaPipe)
#
# YT=DIR and WILDVAL=DIR pick other converted folders of the same faces (default data/yt15 and
# data/wild68_val): the YT folder's crops must have the models' side (its "ideal crops" row
# evaluates the model on them), e.g. YT=data/yt15d128 for models trained on `data convert --size 128`.
# ROLLS="30 45" also scores the wild photos turned by +-30 and +-45 degrees in their plane
# (pipeline_eval.py --roll): heads tilted further than most training faces.
#
# Needs (docs/data.md): data/yt15 (template) and data/wild68_val, data/src/wild68_train (a folder holding
# wild68_train.tar), made by:
#   facekeypoints data convert ../shared/data/youtube-faces-68 data/yt15
#   facekeypoints data convert data/src/wild68_train data/wild68 --holdout 0.15 --holdout-dir data/wild68_val
set -euo pipefail
out=$1; shift
yt=${YT:-data/yt15}
wildval=${WILDVAL:-data/wild68_val}
mkdir -p "$out"
peer=()
[ -n "${PEER:-}" ] && peer=(--peer-python "$PEER")
first=1
for model in "$@"; do
  tag=$(echo "$model" | tr '/' '_')
  pts=15
  python - "$model" <<'PY' && pts=68
import sys
from facekeypoints.checkpoint import load_checkpoint
from facekeypoints.inference.tta import has_68
sys.exit(0 if has_68(load_checkpoint(sys.argv[1])[1]) else 1)
PY
  p=()
  [ $first = 1 ] && p=("${peer[@]}")  # MediaPipe once per set, in the first model's run
  python benchmarks/pipeline_eval.py --model "$model" --src ../shared/data/youtube-faces-68 --data "$yt" \
      --part val --variants yunet:lmc:0 --points $pts "${p[@]}" --out "$out/yt15val_$tag.json" > /dev/null
  python benchmarks/pipeline_eval.py --model "$model" --src data/src/wild68_train --faces-of "$wildval" \
      --part all --variants yunet:lmc:0 --points $pts "${p[@]}" --out "$out/wildval_$tag.json" > /dev/null
  for roll in ${ROLLS:-}; do
    python benchmarks/pipeline_eval.py --model "$model" --src data/src/wild68_train --faces-of "$wildval" \
        --part all --variants yunet:lmc:0 --points $pts "${p[@]}" --roll "$roll" \
        --out "$out/wildval_roll${roll}_$tag.json" > /dev/null
  done
  first=0
done
python - "$out" <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    d = json.loads(f.read_text())
    for k, v in d.items():
        if isinstance(v, dict) and "detection_rate" in v:
            print(f"{f.stem:40s} {k:24s} found {v['detection_rate']:.3f} NME {v['nme']:.4f} "
                  f"fail {v['failure_rate']:.4f} ms/photo {v['ms_per_image_p50']:.1f}"
                  + (f" NME68 {v['nme68']:.4f}" if v.get("nme68") else "")
                  + (f" turned-20% {v['nme_most_turned_20pct']:.4f}" if v.get("nme_most_turned_20pct") else ""))
PY
