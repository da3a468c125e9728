#!/usr/bin/env python3
"""FLUX.1 Kontext end to end through the `cocoedit` command: the tiny
diffusers-layout folder of tests/golden/kontext-pipeline edits its case the
way the reference pipeline did, in float32 and in bf16, within the
tolerances of that folder's README; `info` lists its components; an
incomplete folder is refused with the missing piece named.

  test-kontext-cli.py GOLDEN_DIR   (COCOEDIT_CLI names the command)"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

CLI = os.environ["COCOEDIT_CLI"]
GOLDEN = sys.argv[1]
FOLDER = os.path.join(GOLDEN, "FLUX.1-Kontext-dev-tiny")
CASE = os.path.join(GOLDEN, "case_en")
failures = 0


def run(*args):
    p = subprocess.run([CLI, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global failures
    print(("ok    " if cond else "FAIL  ") + name + ("" if cond else "  " + detail), flush=True)
    if not cond:
        failures += 1


with open(os.path.join(CASE, "case.json"), encoding="utf-8") as f:
    case = json.load(f)

rc, out, err = run("info", FOLDER, "--json")
info = json.loads(out) if rc == 0 else {}
roles = {c["role"]: c for c in info.get("components", [])}
check("info lists the four components", rc == 0 and info.get("family") == "flux-kontext"
      and set(roles) == {"transformer", "vae", "text_encoder", "text_encoder_2"}, out + err)
check("info: transformer in its stored dtype (bf16), 489,152 parameters",
      roles.get("transformer", {}).get("dtype") == "bfloat16"
      and roles.get("transformer", {}).get("parameters") == 489152, out)
stored = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(FOLDER)
             for f in fs if f.endswith(".safetensors"))
check("info: memory of the weights known before loading (stored bf16, AE in fp32)",
      stored * 0.9 <= info.get("memory_weights", 0) <= stored * 2
      and info.get("memory_edit", 0) > 0 and info.get("memory_edit_size") == 1024,
      "weights %s, files %d" % (info.get("memory_weights"), stored))
check("info: defaults 30 steps, guidance 2.5",
      info.get("default_steps") == 30 and abs(info.get("default_guidance", 0) - 2.5) < 1e-6, out)

with tempfile.TemporaryDirectory() as d:
    for dtype, png, rule in (("float32", "expected_fp32_round.png", "fp32"),
                             ("bfloat16", "expected_bf16_trunc.png", "bf16")):
        out_png = os.path.join(d, dtype + ".png")
        rc, out, err = run("edit", os.path.join(CASE, case["source"]), "--model", FOLDER,
                           "--prompt", case["prompt"], "--seed", str(case["seed"]),
                           "--steps", str(case["num_steps"]), "--guidance", str(case["guidance"]),
                           "--working-size", str(max(case["width"], case["height"])),
                           "--dtype", dtype, "--device", "cpu", "-q", "-o", out_png)
        if rc != 0:
            check("edit in " + dtype, False, err)
            continue
        got = np.asarray(Image.open(out_png).convert("RGB")).astype(int)
        ref = np.asarray(Image.open(os.path.join(CASE, png)).convert("RGB")).astype(int)
        diff = np.abs(got - ref)
        print("# %s: 8-bit max |d| %d, mean |d| %.3f, values differing %d of %d"
              % (dtype, diff.max(), diff.mean(), (diff > 0).sum(), diff.size))
        if rule == "fp32":
            # README: every value within ±1 of the rounded fp32 image.
            check("float32 edit = reference within 1/255", diff.max() <= 1, "max %d" % diff.max())
        else:
            # README's bf16 check; we round where BFL truncates (at most 1 more).
            check("bf16 edit = reference within the bf16 tolerance",
                  diff.mean() <= 2 and diff.max() <= 16,
                  "mean %.3f max %d" % (diff.mean(), diff.max()))

    # An incomplete folder names what is missing.
    broken = os.path.join(d, "broken")
    shutil.copytree(FOLDER, broken)
    shutil.rmtree(os.path.join(broken, "text_encoder_2"))
    rc, out, err = run("info", broken)
    check("a folder without text_encoder_2/ is refused, naming it",
          rc == 13 and "text_encoder_2" in err, "rc %d: %s" % (rc, err))

sys.exit(1 if failures else 0)
