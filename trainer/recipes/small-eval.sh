#!/usr/bin/env bash
# Scores the SFT base and each RL arm on CoCoBench (the held-out generator
# split: objects and backgrounds never seen in training), 42 cases = 7 edit
# types × 3 languages × 2, and writes runs/eval-<name>/summary.{json,md}.
#   trainer/recipes/small-eval.sh [BUILD_DIR] [NAMES, default "sft rl-a rl-b rl-c"]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build}
names=${2:-sft rl-a rl-b rl-c}
for name in $names; do
  [ -f "runs/small-$name/model/config.json" ] || { echo "skipping $name: no model" >&2; continue; }
  "$build"/trainer/cocoedit-train eval --set data.split='"bench"' --set data.size=64 \
    --checkpoint "runs/small-$name/model" --out "runs/eval-$name" --count 42 > /dev/null
done
python3 trainer/recipes/small-results.py $names
