#!/usr/bin/env bash
# Every CPU measurement in docs/benchmarks.md that needs an otherwise idle machine, in one go.
# Writes JSON under runs/results/cpu_session/ (one file per measurement) and prints a log.
#
#   bash benchmarks/cpu_session.sh [PEER_PYTHON]
#
# Needs: data/yt15 and data/wild15 (facekeypoints data convert ...), the bundled models, and for
# the MediaPipe columns a venv with mediapipe==0.10.14 (PEER_PYTHON, e.g. /work/peers-venv/bin/python).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
peer=${1:-}
out=runs/results/cpu_session
mkdir -p "$out"
git rev-parse --short HEAD >> "$out/commit.txt"  # one line per (re)start
# A step whose JSON is already there is skipped, so an interrupted session resumes where it stopped.
run() {
  local name=$1; shift
  if [ -s "$out/$name.json" ]; then echo "== $name: done before, skipped" >&2; return; fi
  echo "== $name: $*" >&2
  /usr/bin/time -f "$name wall %e s" "$@" > "$out/$name.json.part" && mv "$out/$name.json.part" "$out/$name.json"
}

P=runs/train; E=runs/exp; Z=runs/zoo
run zoo python benchmarks/zoo.py --data data/yt15 --threads 1 \
    --row "paper=$P/paper-seed0,$P/paper-seed1,$P/paper-seed2" \
    --row "mobile_s YT15 only=$E/pilot-fast100" \
    --row "fast (bundled)=fast" \
    --row "fast@8=$Z/fast-s0" \
    --row "hmnet_t YT15 only=$E/pA-hmt" \
    --row "hmnet_t YT15 only@8=$E/pA-hmt" \
    --row "hmnet_t@0=$E/pB-hmt-aux-wild,$E/pB-hmt-aux-wild-s1,$E/pB-hmt-aux-wild-s2" \
    --row "hmnet_t@8=$E/pB-hmt-aux-wild,$E/pB-hmt-aux-wild-s1,$E/pB-hmt-aux-wild-s2" \
    --row "default (bundled)=default"
run infer_fast facekeypoints benchmark infer --model fast --json
run infer_default facekeypoints benchmark infer --model default --json
for t in 1 2; do run "infer_fast_threads$t" facekeypoints benchmark infer --model fast --threads "$t" --json; done
run data facekeypoints benchmark data --json
run pipeline_yt15 python benchmarks/pipeline_eval.py --model default --src ../shared/data/youtube-faces-68 \
    --data data/yt15 ${peer:+--peer-python "$peer"}
run pipeline_yt15_fast python benchmarks/pipeline_eval.py --model fast --src ../shared/data/youtube-faces-68 \
    --data data/yt15 --refine 1
run pipeline_wild68 python benchmarks/pipeline_eval.py --model fast --src ../shared/data/wild-68 --part all \
    --refine 1 ${peer:+--peer-python "$peer"}
run load python benchmarks/load_test.py --model fast --clients 8 --requests 500
echo "done: $out" >&2
