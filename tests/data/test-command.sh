#!/usr/bin/env bash
# End-to-end test of cocoedit-data: generate (train and bench), check, grid,
# determinism across thread counts, and a clear failure on a broken manifest.
#   test-command.sh PATH/TO/cocoedit-data PATH/TO/tools/gather-assets
set -euo pipefail
tool=$1
gather=$2
assets=${COCOEDIT_ASSETS:-$("$gather" --print-dir)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$tool" generate --assets "$assets" --out "$tmp/a" --count 24 --seed 5 --jobs 1 > "$tmp/a.log"
"$tool" generate --assets "$assets" --out "$tmp/b" --count 24 --seed 5 --jobs 2 > "$tmp/b.log"
grep -q "samples/s" "$tmp/a.log" || fail "no throughput report"
cmp "$tmp/a/manifest.jsonl" "$tmp/b/manifest.jsonl" || fail "manifest depends on --jobs"
for f in "$tmp"/a/images/*.png; do
  cmp -s "$f" "$tmp/b/images/${f##*/}" || fail "${f##*/} depends on --jobs"
done
[ "$(wc -l < "$tmp/a/manifest.jsonl")" = 24 ] || fail "expected 24 records"
[ "$(ls "$tmp/a/images" | wc -l)" = 72 ] || fail "expected 72 images"
ls "$tmp"/a/images | grep -q tmp && fail "temporary files left behind"
for field in '"prompt"' '"image"' '"mask"' '"target"' '"edit_type"' '"lang"' '"metadata"'; do
  grep -q "$field" "$tmp/a/manifest.jsonl" || fail "manifest lacks $field"
done

# Refuses to overwrite without --force.
if "$tool" generate --assets "$assets" --out "$tmp/a" --count 2 2> "$tmp/err"; then
  fail "overwrote a dataset without --force"
fi
grep -q -- "--force" "$tmp/err" || fail "unclear overwrite error: $(cat "$tmp/err")"

"$tool" check "$tmp/a" > "$tmp/check.log" || fail "check failed: $(cat "$tmp/check.log")"
grep -q "24 records, 0 bad, 0 with changes outside the mask" "$tmp/check.log" || fail "$(cat "$tmp/check.log")"

# CoCoBench: 7 edit types × 3 languages, one case each.
"$tool" generate --assets "$assets" --split bench --out "$tmp/bench" --count 21 > /dev/null
"$tool" check "$tmp/bench" > "$tmp/bench.log"
for t in replace remove add recolor resize move text; do
  grep -q " $t 3" "$tmp/bench.log" || fail "bench lacks 3 × $t: $(cat "$tmp/bench.log")"
done
for l in en zh ja; do
  grep -q " $l 7" "$tmp/bench.log" || fail "bench lacks 7 × $l: $(cat "$tmp/bench.log")"
done

"$tool" grid "$tmp/bench" -o "$tmp/grid.png" --rows 3 --cell 96 > /dev/null
head -c 8 "$tmp/grid.png" | od -An -c | grep -q "P   N   G" || fail "grid is not a PNG"

# A tampered dataset: check names the file and line and fails.
sed -i '2s/"mask":"[^"]*"/"mask":"..\/..\/x.png"/' "$tmp/a/manifest.jsonl"
if "$tool" check "$tmp/a" 2> "$tmp/err"; then fail "check accepted a path outside the dataset"; fi
grep -q "manifest.jsonl:2: .*outside the dataset directory" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
"$tool" check --skip-bad "$tmp/a" > "$tmp/skip.log" 2>&1 && fail "check --skip-bad exited 0 with a bad record"
grep -q "23 records, 1 bad" "$tmp/skip.log" || fail "skip-bad: $(cat "$tmp/skip.log")"
echo "ok"
