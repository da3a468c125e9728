#!/usr/bin/env bash
# Stage 2: the RL arms from the SFT base, same budget and seeds.
#   a  editing reward only (the Edit-R1 setting)
#   b  editing + pixel reward
#   c  editing + pixel reward + region regularizer (CoCoEdit)   ← shipped
#   d  b with Flow-GRPO's loss instead of NFT (the regularizer is NFT's)
#   trainer/recipes/small-rl.sh [BUILD_DIR] [ARMS, default "c a b d"]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build}
arms=${2:-c a b d}
for arm in $arms; do
  case $arm in
    a) sets=(--set reward.w_edit=1.0 --set reward.w_pixel=0.0 --set rl.regularizer=false) ;;
    b) sets=(--set rl.regularizer=false) ;;
    c) sets=() ;;
    d) sets=(--set rl.loss='"grpo"' --set rl.regularizer=false) ;;
    *) echo "unknown arm $arm" >&2; exit 1 ;;
  esac
  "$build"/trainer/cocoedit-train rl --config trainer/recipes/small-rl.json --resume \
    --set run.out_dir="\"runs/small-rl-$arm\"" "${sets[@]}"
done
