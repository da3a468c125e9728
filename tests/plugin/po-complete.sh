#!/bin/sh
# Every translation has every string of the plug-in, translated and not
# fuzzy: the strings are taken from the sources now (not from the .pot
# file, which is refreshed by hand), as GIMP's glib gettext preset does.
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$src"
grep -v '^#' po/POTFILES | grep . > "$tmp/files"
xgettext --from-code=UTF-8 --language=C \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --files-from="$tmp/files" --output="$tmp/now.pot"

status=0
for lang in $(grep -v '^#' po/LINGUAS); do
  if ! msgcmp "po/$lang.po" "$tmp/now.pot" 2> "$tmp/err"; then
    echo "po/$lang.po lacks translations:"
    cat "$tmp/err"
    status=1
  fi
  msgfmt --check -o /dev/null "po/$lang.po" || status=1
done
[ $status = 0 ] && echo "all of $(grep -v '^#' po/LINGUAS | tr '\n' ' ')complete"
exit $status
