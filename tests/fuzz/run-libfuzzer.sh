#!/bin/sh
# run-libfuzzer.sh TARGET SECONDS CORPUS FINDINGS: one bounded libFuzzer run.
# Every input of CORPUS (the committed seeds and regression inputs) runs
# first; new inputs go to FINDINGS/corpus (never into the source tree), a
# crash, leak or timeout to FINDINGS/crash-* etc., and the run fails.
set -eu
target=$1 seconds=$2 corpus=$3 findings=$4
mkdir -p "$findings/corpus"
# libFuzzer's own exit code for a finding is 77, which meson reads as "skipped":
# a finding must fail the test.
exec "$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$findings/" "$findings/corpus" "$corpus"
