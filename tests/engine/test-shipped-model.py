#!/usr/bin/env python3
"""The shipped model (data/models/default) loads as the default of the
`cocoedit` command and edits the example image, keeping every pixel outside
the mask."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

CLI = os.environ["COCOEDIT_CLI"]
SRC = os.environ["COCOEDIT_SOURCE_ROOT"]
env = {k: v for k, v in os.environ.items() if k != "COCOEDIT_MODEL"}

info = subprocess.run([CLI, "info", "--json"], capture_output=True, text=True, env=env)
assert info.returncode == 0, info.stderr
meta = json.loads(info.stdout)
# The build tree's command uses the source tree's model, not an older installed copy.
assert os.path.realpath(meta["path"]) == os.path.realpath(os.path.join(SRC, "data/models/default")), meta["path"]
print("default model:", meta["name"], meta["parameters"], "parameters")

with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "out.png")
    img = os.path.join(SRC, "data/examples/chelsea.png")
    mask = os.path.join(SRC, "data/examples/chelsea-mask.png")
    r = subprocess.run([CLI, "edit", img, "--mask", mask, "--prompt", "make the cat's fur orange", "--seed", "1",
                        "-o", out], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    a = np.asarray(Image.open(img).convert("RGBA"))
    b = np.asarray(Image.open(out).convert("RGBA"))
    m = np.asarray(Image.open(mask).convert("L"))
    assert np.array_equal(a[m == 0], b[m == 0]), "pixels outside the mask changed"
    assert (a[m == 255] != b[m == 255]).any(), "nothing changed inside the mask"
print("ok")
sys.exit(0)
