#!/usr/bin/env python3
# Tests of tools/gather-assets: the catalogue records provenance and licence
# for every file, a second run is a fast no-op, and the bundle fits in 64 MiB
# and feeds the generator on its own.
#   test-gather.py PATH/TO/tools/gather-assets PATH/TO/cocoedit-data
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

gather, tool = sys.argv[1], sys.argv[2]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s exited %d:\n%s" % (" ".join(args), r.returncode, r.stderr))
    return r


cache = run(gather, "--print-dir").stdout.strip()
t0 = time.monotonic()
r = run(gather, "--print-dir")
if "up to date" not in r.stderr or time.monotonic() - t0 > 15:
    fail("second run was not a quick no-op: %s" % r.stderr)

with open(os.path.join(cache, "catalogue.json"), encoding="utf-8") as f:
    cat = json.load(f)
if len(cat["objects"]) < 300 or len(cat["backgrounds"]) < 20:
    fail("too few assets: %d objects, %d backgrounds"
         % (len(cat["objects"]), len(cat["backgrounds"])))
for kind in ("objects", "backgrounds", "fonts"):
    for e in cat[kind]:
        src = e.get("source", {})
        if not src.get("package") or not src.get("licence") or not src.get("version"):
            fail("%s %s lacks package, version or licence: %s" % (kind, e.get("id"), src))
        if not os.path.isfile(os.path.join(cache, e["file"])):
            fail("%s %s: %s missing" % (kind, e["id"], e["file"]))
for o in cat["objects"]:
    if not all(o["names"].get(lang) for lang in ("en", "zh", "ja")):
        fail("object %s lacks a name: %s" % (o["id"], o["names"]))
    if o["width"] > 128 or o["height"] > 128:
        fail("object %s is not pre-resized" % o["id"])
scripts = {s for f in cat["fonts"] for s in f["scripts"]}
if not {"latin", "zh", "ja"} <= scripts:
    fail("fonts cover only %s" % scripts)
for lang in ("en", "zh", "ja"):
    if len(cat["words"][lang]) < 100:
        fail("too few %s words" % lang)
ids = [o["id"] for o in cat["objects"]]
if len(ids) != len(set(ids)):
    fail("duplicate object ids")

# The 3D emoji come from npm: when npm reaches its registry here, they must
# be in the catalogue (a missing certificate authority once left them out
# silently on fresh machines).
emoji = [o for o in cat["objects"] if o["source"]["package"].startswith("npm:")]
if not emoji:
    with tempfile.TemporaryDirectory() as npm_cache:
        probe = subprocess.run(["npm", "view", "--cache", npm_cache,
                                "@lobehub/fluent-emoji-3d@1.1.0", "version"],
                               capture_output=True, text=True, timeout=120)
    if probe.returncode == 0:
        fail("npm reaches its registry, but the catalogue has no 3D emoji objects")
    print("note: npm cannot reach its registry here; 3D emoji objects left out")

with tempfile.TemporaryDirectory() as tmp:
    bundle = os.path.join(tmp, "assets.tar.gz")   # gzip: the test need not wait for xz
    run(gather, "--bundle", bundle)
    size = os.path.getsize(bundle)
    if size > 64 * 1024 * 1024:
        fail("bundle is %d bytes" % size)
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp, filter="data")
    out = run(tool, "generate", "--assets", os.path.join(tmp, "cocoedit-assets"),
              "--dry-run", "--count", "30", "--split", "bench").stdout
    if "30 samples" not in out:
        fail("generator on the bundle: " + out)
print("ok: %d objects (%d 3D emoji), %d backgrounds, %d fonts; bundle %.1f MiB"
      % (len(cat["objects"]), len(emoji), len(cat["backgrounds"]), len(cat["fonts"]),
         size / 1048576))
