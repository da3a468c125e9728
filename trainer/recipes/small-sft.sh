#!/usr/bin/env bash
# Stage 1 of the shipped small model: supervised flow matching on the
# synthetic training split.  Resumable: run it again after an interruption.
#   trainer/recipes/small-sft.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build}
exec "$build"/trainer/cocoedit-train sft --config trainer/recipes/small-sft.json --resume
