#!/usr/bin/env python3
"""make-corpus.py: writes the seed inputs of tests/fuzz/corpus/<reader>/.

Each seed is an input its reader accepts (fuzz-readers checks that at least
one per reader is), plus a few it must refuse that give the fuzzers useful
pieces (a shard name that escapes, a symlinked shard).  Crash inputs found
later are added by hand as regression-*, and this script leaves them alone.
Run it from anywhere: python3 tests/fuzz/make-corpus.py.  JPEG and WebP
and WebP seeds need Pillow (tools/trixie-root run python3 tests/fuzz/make-corpus.py)."""
import json
import os
import shutil
import struct
import subprocess
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(reader, name, data):
    d = os.path.join(CORPUS, reader)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, nbytes)]; data bytes are 0x3f."""
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, nbytes in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + b"\x3f" * offset


def png(w, h, channels):
    kind = {1: 0, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\0" + bytes((x * 16 + y * 4 + c * 50) & 255 for x in range(w) for c in range(channels))
                    for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, kind, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main():
    put("safetensors", "seed-dtypes",
        safetensors([("a.weight", "F32", [2, 3], 24), ("b.bias", "BF16", [4], 8), ("c", "F16", [], 2),
                     ("ids", "I64", [2], 16), ("u", "U8", [3], 3)], {"architecture": "cocoedit-kontext"}))
    put("safetensors", "seed-empty", safetensors([]))

    shards = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    put("weight-index", "seed-two-shards", json.dumps({"metadata": {"total_size": 16}, "weight_map": shards}))
    put("weight-index", "refused-escape", json.dumps({"weight_map": {"a": "../outside.safetensors"}}))
    put("weight-index", "refused-symlink", json.dumps({"weight_map": {"a": "link.safetensors"}}))

    meta = {"lora_adapter_metadata": json.dumps({"transformer.lora_alpha": 4, "transformer.r": 2})}
    put("lora", "seed-diffusers-kohya", safetensors([
        ("transformer.transformer_blocks.0.attn.to_k.lora_A.weight", "F32", [2, 64], 512),
        ("transformer.transformer_blocks.0.attn.to_k.lora_B.weight", "BF16", [64, 2], 256),
        ("lora_unet_single_blocks_1_linear2.lora_down.weight", "F16", [1, 320], 640),
        ("lora_unet_single_blocks_1_linear2.lora_up.weight", "F16", [64, 1], 128),
        ("lora_unet_single_blocks_1_linear2.alpha", "F32", [], 4)], meta))

    put("cocoedit-config", "seed-tiny", json.dumps({
        "name": "x", "architecture": "cocoedit-kontext", "format_version": 1, "image_size": 32, "patch_size": 4,
        "hidden_size": 64, "num_heads": 2, "depth_double": 1, "depth_single": 1, "axes_dim": [8, 12, 12],
        "text": {"max_bytes": 64, "hidden_size": 32, "depth": 1, "num_heads": 2}, "dtype": "float32"}))
    root = os.path.dirname(os.path.dirname(HERE))
    shutil.copy(os.path.join(root, "data/models/default/config.json"),
                os.path.join(CORPUS, "cocoedit-config", "seed-shipped"))
    tiny = os.path.join(root, "tests/golden/kontext-pipeline/FLUX.1-Kontext-dev-tiny")
    for reader, part in [("flux-config", "transformer"), ("t5-config", "text_encoder_2"),
                         ("clip-config", "text_encoder"), ("ae-config", "vae")]:
        shutil.copy(os.path.join(tiny, part, "config.json"), os.path.join(CORPUS, reader, "seed-tiny-golden")
                    if os.path.isdir(os.path.join(CORPUS, reader)) else _mk(reader, "seed-tiny-golden"))
    shutil.copy(os.path.join(root, "data/configs/latent-ae.json"), os.path.join(CORPUS, "ae-config", "seed-latent"))

    put("model-description", "seed", json.dumps({
        "family": "flux-kontext", "name": "FLUX.1 Kontext [dev]", "transformer": "t.safetensors",
        "vae": "ae.safetensors", "clip_l": "clip.safetensors", "t5xxl": "t5.safetensors"}))

    # A CLIP vocabulary as small as the reader allows: the 2 × 256 byte
    # symbols, the specials and a few merges.
    symbols, extra = [], 0
    for b in range(256):
        printable = ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
        symbols.append(chr(b) if printable else chr(256 + extra))
        extra += not printable
    vocab = symbols + [s + "</w>" for s in symbols]
    merges = [("c", "a"), ("ca", "t</w>"), ("r", "e"), ("re", "d</w>")]
    vocab += [a + b for a, b in merges] + ["<|startoftext|>", "<|endoftext|>"]
    put("clip-tokenizer", "seed", json.dumps({s: i for i, s in enumerate(vocab)}, ensure_ascii=False) + "\0" +
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges) + "\0" + "Make the cat red!")

    t5 = os.path.join(CORPUS, "t5-tokenizer")
    os.makedirs(t5, exist_ok=True)
    link = os.path.join(t5, "seed-spiece.model")
    if not os.path.lexists(link):
        os.symlink("../../../golden/tokenizers/spiece.model", link)

    for i, p in enumerate(["make the cat's fur orange", "把汽车变成红色", "ランプを消して",
                           "Remove the LAMP — now!! 🐱‍👤", "e\u0301\u0301 \u0130stanbul ΟΔΟΣ ﬁ", ""]):
        put("prompt", f"seed-{i}", p)

    lines = [
        {"id": "s1", "prompt": "make it red", "image": "a.png", "mask": "a_mask.png", "target": "a_target.png",
         "edit_type": "recolor", "lang": "en", "metadata": {"scene": 1}},
        {"prompt": "remove the lamp", "image": "a.png", "mask": "a_mask.png", "edit_type": "remove"},
        {"id": "a", "instruction": "把它变成蓝色", "lang": "zh"},
        {"prompt": "bad size", "image": "b.png", "mask": "a_mask.png"},
        {"prompt": "outside", "image": "link.png", "mask": "a_mask.png"},
    ]
    put("manifest", "seed", "".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines))

    img = os.path.join(CORPUS, "image")
    put("image", "seed-rgba.png", png(16, 12, 4))
    put("image", "seed-gray.png", png(9, 7, 1))
    put("image", "seed-rgb.png", png(8, 8, 3))
    try:  # Pillow (python3-pil, in the project's Debian 13 root)
        from PIL import Image
        src = Image.open(os.path.join(img, "seed-rgb.png"))
        src.save(os.path.join(img, "seed.jpg"), quality=80)
        src.save(os.path.join(img, "seed-progressive.jpg"), quality=60, progressive=True)
        Image.open(os.path.join(img, "seed-gray.png")).save(os.path.join(img, "seed-gray.jpg"))
        Image.open(os.path.join(img, "seed-rgba.png")).save(os.path.join(img, "seed-alpha.webp"), lossless=True)
        src.save(os.path.join(img, "seed.webp"), quality=70)
    except ImportError:
        print("make-corpus: no Pillow; the JPEG and WebP seeds are left as they are")

    reply = {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {
        "role": "assistant", "content": "<think>ok</think> Score: 4"}, "logprobs": {"content": [
            {"token": " ", "logprob": -0.1, "top_logprobs": []},
            {"token": "4", "logprob": -0.2, "top_logprobs": [{"token": "4", "logprob": -0.2},
                                                             {"token": " 3", "logprob": -2.0},
                                                             {"token": "5", "logprob": -3.0}]}]}}]}
    put("judge-response", "seed-logprobs", json.dumps(reply))
    put("judge-response", "seed-plain", json.dumps({"choices": [{"message": {"content": "3.5/5"}}]}))


def _mk(reader, name):
    os.makedirs(os.path.join(CORPUS, reader), exist_ok=True)
    return os.path.join(CORPUS, reader, name)


if __name__ == "__main__":
    main()
