#!/usr/bin/env bash
# One prepared run for a lent GPU machine (run from the repo root there, from source):
#
#   here:   facekeypoints data pack data/yt15 .devdata/yt15.npz
#           facekeypoints data pack data/wild68 .devdata/wild15.npz      # optional
#   device: run(command="bash benchmarks/device_session.sh", carry=[".devdata"], timeout_s=540)
#   dry run on the CPU first (tests/test_device_session.py does this in CI):
#           DEVICE=cpu EPOCHS=1 RECIPES=tiny SEEDS=0 BENCH_RECIPE=tiny OUT=/tmp/o bash benchmarks/device_session.sh
#
# Appends one JSON object per measurement to $OUT/results.jsonl (a failed step appends
# {"step": ..., "error": "exit N"} instead of vanishing) and keeps each run's weights,
# model.json, metrics.json and history.json in $OUT/runs.tgz. Steps run in order of importance, each
# time-boxed with `timeout` on a real program (never on a shell function).
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda}
DATA=${DATA:-.devdata/yt15.npz}
RECIPES=${RECIPES:-"hmnet_t hmnet resreg fast paper_aug"}
SEEDS=${SEEDS:-"0 1 2"}
BENCH_RECIPE=${BENCH_RECIPE:-paper}
EPOCHS=${EPOCHS:-}                         # empty: each recipe's own
STEP_LIMIT=${STEP_LIMIT:-150}              # seconds per training
EXTRA=""; [ -f .devdata/wild15.npz ] && EXTRA="extra_data=.devdata/wild15.npz"  # the zoo trains with wild-68
EP=""; [ -n "$EPOCHS" ] && EP="epochs=$EPOCHS"
FKP=(python3 -m facekeypoints)
RES="$OUT/results.jsonl"

fail() { echo "{\"step\": \"$1\", \"error\": \"exit $2\"}" >> "$RES"; echo "step $1 failed (exit $2)" >&2; }

if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt"
else echo "no GPU ($DEVICE)" > "$OUT/gpu.txt"; fi
git rev-parse --short HEAD > "$OUT/commit.txt" 2>/dev/null || echo "not a git checkout" > "$OUT/commit.txt"

# 1. No host sync inside a training step: one epoch with torch.cuda.set_sync_debug_mode("error").
timeout 120 "${FKP[@]}" train --recipe "${RECIPES%% *}" --data "$DATA" --project "$OUT/runs" --name sync-check \
  --quiet device="$DEVICE" epochs=1 sync_debug=True compile=False \
  && echo "{\"step\": \"sync_check\", \"ok\": true, \"recipe\": \"${RECIPES%% *}\"}" >> "$RES" || fail sync_check $?

# 2. Plain loop vs train() on the report's recipe.
timeout 240 "${FKP[@]}" benchmark train --data "$DATA" --recipe "$BENCH_RECIPE" --device "$DEVICE" \
  ${EPOCHS:+--epochs "$EPOCHS"} >> "$RES" || fail "benchmark_train_$BENCH_RECIPE" $?

# 3. The zoo: every recipe, every seed, evaluated on the test faces.
for recipe in $RECIPES; do
  for seed in $SEEDS; do
    name="$recipe-s$seed"
    if ! timeout "$STEP_LIMIT" "${FKP[@]}" train --recipe "$recipe" --data "$DATA" --project "$OUT/runs" --name "$name" \
        --quiet seed="$seed" device="$DEVICE" amp=True $EXTRA $EP; then
      fail "train_$name" $?; continue
    fi
    timeout 120 "${FKP[@]}" evaluate --model "$OUT/runs/$name" --data "$DATA" --json --device "$DEVICE" \
      | python3 -c "import json,sys; m=json.load(sys.stdin); m.update(recipe='$recipe', seed=$seed); print(json.dumps(m))" \
      >> "$RES" || fail "evaluate_$name" $?
  done
done
# Weights and descriptions come back (small nets); resume states and pictures stay behind.
(cd "$OUT/runs" && tar -czf "$OUT/runs.tgz" --exclude=state.safetensors --exclude='*.png' .) && rm -rf "$OUT/runs"
echo "done: $(wc -l < "$RES") results in $RES" >&2
