#!/usr/bin/env python3
"""The `cocoedit` command end to end: real files in, real files out,
documented exit codes, nothing written on failure."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

CLI = os.environ["COCOEDIT_CLI"]
MODEL = os.environ["COCOEDIT_TEST_MODEL"]
CONFIG = os.environ["COCOEDIT_TEST_CONFIG"]
failures = 0


def run(*args):
    p = subprocess.run([CLI, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global failures
    print(("ok    " if cond else "FAIL  ") + name + ("" if cond else "  " + detail))
    if not cond:
        failures += 1


with tempfile.TemporaryDirectory() as d:
    p = lambda n: os.path.join(d, n)
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, (70, 110, 4), dtype=np.uint8)
    src[..., 3] = np.linspace(0, 255, 110, dtype=np.uint8)[None, :]
    Image.fromarray(src, "RGBA").save(p("src.png"))
    mask = np.zeros((70, 110), np.uint8)
    mask[20:50, 40:80] = 255
    mask[20:50, 40:44] = 100  # a soft edge
    Image.fromarray(mask, "L").save(p("mask.png"))
    Image.fromarray(src[..., :3], "RGB").save(p("src.jpg"), quality=90)

    # init-model and info
    rc, out, err = run("init-model", "--config", CONFIG, "--seed", "3", "-o", p("model"))
    check("init-model", rc == 0 and os.path.exists(p("model/config.json")), err)
    rc, out, err = run("info", p("model"), "--json")
    info = json.loads(out) if rc == 0 else {}
    check("info --json", rc == 0 and info.get("architecture") == "cocoedit-kontext"
          and info.get("parameters", 0) > 1000 and info.get("device", "").startswith("cpu"), out + err)
    rc, out, err = run("info", p("model"))
    check("info (text)", rc == 0 and "parameters:" in out, err)

    # an edit with a mask: outside it the output is the input, byte for byte
    rc, out, err = run("edit", p("src.png"), "--prompt", "replace the cat with a dog", "--mask", p("mask.png"),
                       "--model", MODEL, "--seed", "5", "--steps", "3", "-o", p("out.png"), "--json")
    res = json.loads(out) if rc == 0 else {}
    check("edit --json", rc == 0 and res.get("ok") is True and res.get("width") == 110, out + err)
    outimg = np.asarray(Image.open(p("out.png")).convert("RGBA"))
    keep = mask == 0
    check("outside the mask unchanged", np.array_equal(outimg[keep], src[keep]))
    check("alpha kept", np.array_equal(outimg[..., 3], src[..., 3]))
    check("inside the mask changed", (outimg[mask == 255][:, :3] != src[mask == 255][:, :3]).any())
    check("no progress bar when not a terminal", "[" not in err, err)

    # same seed, same bytes; another seed, another result
    run("edit", p("src.png"), "-p", "replace the cat with a dog", "-m", p("mask.png"), "--model", MODEL,
        "-s", "5", "--steps", "3", "-o", p("again.png"))
    check("deterministic", open(p("out.png"), "rb").read() == open(p("again.png"), "rb").read())
    run("edit", p("src.png"), "-p", "replace the cat with a dog", "-m", p("mask.png"), "--model", MODEL,
        "-s", "6", "--steps", "3", "-o", p("other.png"))
    check("seed matters", open(p("out.png"), "rb").read() != open(p("other.png"), "rb").read())

    # a mask drawn white on a transparent layer: transparent means keep
    # (alpha composites over black), and WebP is read like PNG
    layer = np.zeros((70, 110, 4), np.uint8)
    layer[..., :3] = 255
    layer[..., 3] = (mask > 0) * 255
    Image.fromarray(layer, "RGBA").save(p("mask-layer.webp"), lossless=True)
    rc, out, err = run("edit", p("src.png"), "-p", "replace the cat with a dog", "-m", p("mask-layer.webp"),
                       "--model", MODEL, "-s", "5", "--steps", "3", "-o", p("layer.png"))
    layer_out = np.array(Image.open(p("layer.png")))
    check("transparent mask pixels keep", rc == 0 and np.array_equal(layer_out[keep], src[keep]), err)
    check("opaque mask pixels edit", rc == 0 and (layer_out[mask == 255][:, :3] != src[mask == 255][:, :3]).any())

    # JPEG in, PNG out, no mask, CJK instruction
    rc, out, err = run("edit", p("src.jpg"), "--prompt", "把汽车变成红色", "--model", MODEL, "--steps", "2",
                       "-o", p("jpg.png"))
    check("JPEG input", rc == 0 and Image.open(p("jpg.png")).size == (110, 70), err)

    # bad input: the documented exit codes, a message, and no output file
    Image.fromarray(np.zeros((10, 10), np.uint8), "L").save(p("small-mask.png"))
    Image.fromarray(np.zeros((70, 110), np.uint8), "L").save(p("empty-mask.png"))
    open(p("broken.png"), "wb").write(open(p("src.png"), "rb").read()[:60])
    open(p("existing.png"), "wb").write(b"keep me")
    cases = [
        ("missing input", ["edit", p("nope.png"), "-p", "x", "--model", MODEL, "-o", p("e1.png")], 2, "nope.png"),
        ("truncated PNG", ["edit", p("broken.png"), "-p", "x", "--model", MODEL, "-o", p("e2.png")], 2, "broken.png"),
        ("not an image", ["edit", CONFIG, "-p", "x", "--model", MODEL, "-o", p("e3.png")], 2, "not a PNG, JPEG or WebP"),
        ("empty prompt", ["edit", p("src.png"), "-p", "", "--model", MODEL, "-o", p("e4.png")], 11, "empty"),
        ("mask size", ["edit", p("src.png"), "-p", "x", "-m", p("small-mask.png"), "--model", MODEL,
                       "-o", p("e5.png")], 11, "10x10"),
        ("empty mask", ["edit", p("src.png"), "-p", "x", "-m", p("empty-mask.png"), "--model", MODEL,
                        "-o", p("e6.png")], 11, "mask is empty"),
        ("missing model", ["edit", p("src.png"), "-p", "x", "--model", p("no-model"), "-o", p("e7.png")], 12,
         "no-model"),
        ("unwritable output", ["edit", p("src.png"), "-p", "x", "--model", MODEL, "--steps", "1",
                               "-o", p("no-dir/out.png")], 3, "no-dir"),
        ("failed edit keeps an existing file", ["edit", p("src.png"), "-p", " ", "--model", MODEL,
                                                "-o", p("existing.png")], 11, "empty"),
        ("unknown command", ["frobnicate"], 1, "unknown command"),
        ("missing --prompt", ["edit", p("src.png"), "-o", p("e8.png")], 1, "--prompt"),
        ("bad device", ["info", MODEL, "--device", "tpu"], 1, "--device"),
    ]
    for name, args, code, fragment in cases:
        rc, out, err = run(*args)
        outputs = [a for a in args if a.endswith(".png") and "/e" in a[-7:]]
        check(name, rc == code and fragment in err and not any(os.path.exists(o) for o in outputs),
              f"rc={rc} stderr={err!r}")
    check("existing output untouched", open(p("existing.png"), "rb").read() == b"keep me")
    check("no temporary files left", not [n for n in os.listdir(d) if n.startswith(".") or "~" in n],
          str(os.listdir(d)))

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
