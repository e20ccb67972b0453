#!/usr/bin/env bash
# Train the report's recipe on YT15 for several seeds, each from a clean snapshot of HEAD,
# and print the test metrics of each run as one JSON line (results/paper_recipe.jsonl).
#
#   bash benchmarks/paper_recipe.sh DATA_DIR SEED [SEED...]
#
# The snapshot keeps the run on one commit even while the working tree changes.
set -euo pipefail
data=$(realpath "$1"); shift
repo=$(git rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse --short HEAD)
snap=$(mktemp -d /tmp/fkp-snap-XXXX)
git -C "$repo" archive HEAD src | tar -x -C "$snap"
mkdir -p "$repo/runs/results"
for seed in "$@"; do
  start=$(date +%s)
  (cd "$repo" && PYTHONPATH="$snap/src" python3 -m facekeypoints train --recipe paper --data "$data" \
      --name "paper-seed$seed" --quiet seed="$seed" > "runs/results/paper-seed$seed.log" 2>&1)
  run=$(grep '^run folder:' "$repo/runs/results/paper-seed$seed.log" | tail -1 | cut -d' ' -f3)
  (cd "$repo" && PYTHONPATH="$snap/src" python3 -m facekeypoints evaluate --model "$run" --data "$data" --json) \
    | python3 -c "import json,sys; m=json.load(sys.stdin); m.update(seed=$seed, commit='$commit', wall_s=$(date +%s)-$start, run='$run'); print(json.dumps(m))" \
    | tee -a "$repo/runs/results/paper_recipe.jsonl"
done
