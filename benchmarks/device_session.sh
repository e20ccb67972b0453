#!/usr/bin/env bash
# One prepared run for a lent GPU machine (run from the repo root there, from source):
#
#   here:   facekeypoints data pack data/yt15 .devdata/yt15.npz
#           facekeypoints data pack data/wild15 .devdata/wild15.npz      # optional
#   device: run(command="bash benchmarks/device_session.sh", carry=[".devdata"], timeout_s=540)
#
# Appends one JSON object per measurement to $OUT/results.jsonl and keeps each run's
# model.json/metrics.json under $OUT. Steps run in order of importance and each is time-boxed,
# so a slow step cannot starve the ones after it. RECIPES/SEEDS override what is trained.
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
DATA=.devdata/yt15.npz
RECIPES=${RECIPES:-"hmnet_t hmnet resreg fast paper_aug"}
EXTRA=""; [ -f .devdata/wild15.npz ] && EXTRA="extra_data=.devdata/wild15.npz"  # the zoo trains with wild-68
SEEDS=${SEEDS:-"0 1 2"}
py() { python3 -m facekeypoints "$@"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
git rev-parse --short HEAD 2>/dev/null | tee "$OUT/commit.txt"

timeout 120 py benchmark train --data "$DATA" --recipe paper --device cuda >> "$OUT/results.jsonl"
for recipe in $RECIPES; do
  for seed in $SEEDS; do
    name="$recipe-s$seed"
    timeout 150 py train --recipe "$recipe" --data "$DATA" --project runs/dev --name "$name" --quiet \
      seed="$seed" device=cuda amp=True $EXTRA || continue
    py evaluate --model "runs/dev/$name" --data "$DATA" --json \
      | python3 -c "import json,sys; m=json.load(sys.stdin); m.update(recipe='$recipe', seed=$seed); print(json.dumps(m))" \
      >> "$OUT/results.jsonl"
  done
done
tar -czf "$OUT/runs.tgz" runs/dev/*/model.json runs/dev/*/metrics.json runs/dev/*/history.json 2>/dev/null
