# Test cases of the CoCoEdit plug-in, run inside GIMP 3 by
# tests/plugin/run-gimp.py (python-fu-eval batch interpreter).
#
# Each case builds its images, calls the plug-in through the PDB like a
# script would, checks the pixels with numpy, deletes its images and
# prints a PASS line.  A failed check raises, which makes GIMP exit with
# a non-zero status.

import hashlib
import os

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, Gegl  # noqa: E402

import numpy as np  # noqa: E402

PROC = "plug-in-cocoedit"
REPEAT_PROC = "plug-in-cocoedit-repeat"
MODEL = os.environ.get("COCOEDIT_TEST_MODEL", "")
OUT = os.environ.get("COCOEDIT_TEST_OUT", "")

IMAGES = []


def check(condition, message):
    if not condition:
        raise AssertionError(message)


# ---- images ------------------------------------------------------------

def new_image(width, height, base=Gimp.ImageBaseType.RGB,
              precision=Gimp.Precision.U8_NON_LINEAR):
    image = Gimp.Image.new_with_precision(width, height, base, precision)
    IMAGES.append(image)
    return image


def add_layer(image, width, height, type_, offsets=(0, 0), seed=1,
              name="source"):
    layer = Gimp.Layer.new(image, name, width, height, type_, 100,
                           Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    layer.set_offsets(*offsets)
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise: something the model can change.
    yy, xx = np.mgrid[0:height, 0:width]
    rgba = np.empty((height, width, 4), np.float32)
    rgba[..., 0] = xx / max(width - 1, 1)
    rgba[..., 1] = yy / max(height - 1, 1)
    rgba[..., 2] = 0.5 + 0.5 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    rgba[..., :3] = np.clip(rgba[..., :3] * 0.8
                            + rng.random((height, width, 3)) * 0.2, 0, 1)
    rgba[..., 3] = np.clip(0.3 + rng.random((height, width)), 0, 1)
    set_pixels(layer, rgba)
    return layer


def set_pixels(layer, rgba):
    height, width = rgba.shape[:2]
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, width, height), "R'G'B'A float",
            rgba.astype(np.float32).tobytes())
    buf.flush()
    layer.update(0, 0, width, height)


def native(drawable):
    """The drawable's pixels in its own format, as bytes per pixel."""
    buf = drawable.get_buffer()
    width, height = drawable.get_width(), drawable.get_height()
    data = bytes(buf.get(Gegl.Rectangle.new(0, 0, width, height), 1.0,
                         None, Gegl.AbyssPolicy.NONE))
    bpp = len(data) // (width * height)
    check(bpp * width * height == len(data), "unexpected buffer size")
    return np.frombuffer(data, np.uint8).reshape(height, width, bpp)


def rgba8(drawable):
    width, height = drawable.get_width(), drawable.get_height()
    data = bytes(drawable.get_buffer().get(
        Gegl.Rectangle.new(0, 0, width, height), 1.0, "R'G'B'A u8",
        Gegl.AbyssPolicy.NONE))
    return np.frombuffer(data, np.uint8).reshape(height, width, 4)


def selection_on(layer):
    """The selection (0..1) under each pixel of @layer."""
    image = layer.get_image()
    ox, oy = layer.get_offsets()[1:]
    width, height = layer.get_width(), layer.get_height()
    sel = image.get_selection().get_buffer()
    data = bytes(sel.get(Gegl.Rectangle.new(ox, oy, width, height), 1.0,
                         "Y float", Gegl.AbyssPolicy.NONE))
    return np.frombuffer(data, np.float32).reshape(height, width)


def composite(image):
    """What the image shows: its visible layers merged, as image-sized
    bytes per pixel."""
    dup = image.duplicate()
    merged = dup.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
    pixels = native(merged)
    dup.delete()
    return pixels


def selection_image(image):
    """The selection (0..1) over the whole canvas."""
    width, height = image.get_width(), image.get_height()
    data = bytes(image.get_selection().get_buffer().get(
        Gegl.Rectangle.new(0, 0, width, height), 1.0, "Y float",
        Gegl.AbyssPolicy.NONE))
    return np.frombuffer(data, np.float32).reshape(height, width)


def mask_values(drawable):
    """A selection, channel or layer mask as GIMP stores it.  GIMP keeps
    the stored values when it turns one into another (Selection > Save to
    Channel), although the selection is linear and channels follow the
    image's precision: compare what is stored, not light."""
    values = native(drawable)
    check(values.shape[-1] == 1, "test setup: not an 8-bit image")
    return values[..., 0].copy()


def record_of(layer):
    """The CoCoEdit record of a generative layer, as a dict."""
    import json
    parasite = layer.get_parasite("cocoedit-edit")
    check(parasite is not None, "layer %r has no CoCoEdit record"
          % layer.get_name())
    check(parasite.get_flags() & Gimp.PARASITE_PERSISTENT,
          "the record would not be saved in XCF")
    return json.loads(bytes(parasite.get_data()).decode("utf-8"))


# ---- the plug-in ------------------------------------------------------

def run_proc(name, image, layer, run_mode=Gimp.RunMode.NONINTERACTIVE,
             **values):
    """Runs one of the plug-in's procedures on @layer; returns its status
    and, when it succeeded, the layer it returned."""
    proc = Gimp.get_pdb().lookup_procedure(name)
    check(proc is not None, "procedure %s is not registered" % name)
    config = proc.create_config()
    config.set_property("run-mode", run_mode)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    for key, value in values.items():
        config.set_property(key, value)
    result = proc.run(config)
    status = result.index(0)
    return status, (result.index(1) if status == Gimp.PDBStatusType.SUCCESS
                    else None)


def run_edit(image, layer, **values):
    values.setdefault("prompt", "make it look like autumn")
    values.setdefault("steps", 2)
    values.setdefault("seed", 7)
    values.setdefault("model-path", MODEL)
    return run_proc(PROC, image, layer, **values)


def run_regenerate(image, layer, new_seed):
    return run_proc("plug-in-cocoedit-regenerate", image, layer,
                    **{"new-seed": new_seed})


def run_ok(image, layer, **values):
    status, new_layer = run_edit(image, layer, **values)
    check(status == Gimp.PDBStatusType.SUCCESS,
          "edit failed: %s (%s)" % (status, Gimp.get_pdb().get_last_error()))
    check(isinstance(new_layer, Gimp.Layer), "no layer returned")
    return new_layer


def check_new_layer(image, source, result, prompt, n_layers_before):
    check(len(image.get_layers()) == n_layers_before + 1,
          "expected exactly one new layer")
    check(result.get_name() == prompt,
          "layer named %r, not after the instruction" % result.get_name())
    check(image.get_item_position(result) ==
          image.get_item_position(source) - 1,
          "the result is not directly above the source")
    check(result.get_offsets()[1:] == source.get_offsets()[1:],
          "offsets differ")
    check(result.get_width() == source.get_width() and
          result.get_height() == source.get_height(), "size differs")


def check_outside_unchanged(before, after, selected):
    """Every pixel where nothing is selected is bit-identical."""
    outside = selected <= 0.0
    check(outside.any(), "test setup: no unselected pixel")
    diff = np.any(before != after, axis=-1)
    n_bad = int(np.count_nonzero(diff & outside))
    check(n_bad == 0, "%d pixels outside the selection changed" % n_bad)


def check_inside_changed(before, after, selected, minimum=0.5):
    inside = selected >= 1.0
    check(inside.any(), "test setup: no fully selected pixel")
    changed = np.any(before != after, axis=-1)
    fraction = np.count_nonzero(changed & inside) / np.count_nonzero(inside)
    check(fraction >= minimum,
          "only %.1f %% of the selected pixels changed" % (100 * fraction))
    return fraction


def finish(name):
    for image in IMAGES:
        image.delete()
    print("COCOEDIT-TEST PASS %s" % name, flush=True)


# ---- cases ------------------------------------------------------------

def case_registered():
    pdb = Gimp.get_pdb()
    proc = pdb.lookup_procedure(PROC)
    check(proc is not None, "main procedure not registered")
    check("<Image>/Filters/CoCoEdit" in proc.get_menu_paths(),
          "menu paths: %s" % proc.get_menu_paths())
    label = proc.get_menu_label()
    expected = os.environ.get("COCOEDIT_TEST_MENU_LABEL", "_Edit with Instruction…")
    check(label == expected, "menu label %r, expected %r" % (label, expected))
    check(proc.get_image_types() == "RGB*, GRAY*",
          "image types %r" % proc.get_image_types())
    names = [p.get_name() for p in proc.get_arguments()]
    for name in ("run-mode", "image", "drawables", "prompt", "seed", "steps",
                 "guidance", "strength", "model-path", "device",
                 "output-mode"):
        check(name in names, "argument %s missing: %s" % (name, names))
    check([p.get_name() for p in proc.get_return_values()] == ["layer"],
          "return values")

    repeat = pdb.lookup_procedure(REPEAT_PROC)
    check(repeat is not None, "repeat procedure not registered")
    check("<Image>/Filters/CoCoEdit" in repeat.get_menu_paths(),
          "repeat menu paths")

    # With nothing done yet, Repeat says so instead of doing anything.
    image = new_image(32, 24)
    layer = add_layer(image, 32, 24, Gimp.ImageType.RGB_IMAGE)
    status, _ = run_proc(REPEAT_PROC, image, layer)
    check(status != Gimp.PDBStatusType.SUCCESS, "repeat without history ran")
    check(len(image.get_layers()) == 1, "repeat without history added a layer")
    finish("registered")


def edit_rect_checked(prompt, timing, **values):
    """A 96x80 layer with a 40x32 rectangle selected, edited through the
    plug-in: one new layer above the source, nothing outside the selection
    changed, most of the inside changed.  Prints the edit's time as
    `timing` says.  Returns (image, layer, before, result)."""
    image = new_image(96, 80)
    layer = add_layer(image, 96, 80, Gimp.ImageType.RGB_IMAGE)
    before = native(layer)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 20, 16, 40, 32)
    import time
    start = time.monotonic()
    result = run_ok(image, layer, prompt=prompt, **values)
    print("COCOEDIT-TIME %s: %.2f s" % (timing, time.monotonic() - start))
    check_new_layer(image, layer, result, prompt, 1)
    selected = selection_on(layer)
    after = native(result)
    check_outside_unchanged(before, after, selected)
    check_inside_changed(before, after, selected)
    return image, layer, before, result


def case_rect():
    image, layer, before, result = edit_rect_checked(
        "make it look like autumn", "edit of a 96x80 layer, 2 steps")
    check(np.array_equal(native(layer), before), "the source layer changed")
    check(image.get_selected_layers()[0].get_id() == result.get_id(),
          "the result is not the active layer")
    finish("rect")


def case_feather():
    """A feathered selection: the result is painted into the whole
    selected area and the selection, soft edges kept, becomes its layer
    mask; what the image shows blends softly and is bit-identical where
    nothing was selected."""
    image = new_image(96, 96)
    layer = add_layer(image, 96, 96, Gimp.ImageType.RGB_IMAGE, seed=3)
    before = composite(image).astype(np.int32)
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 24, 24, 48, 48)
    Gimp.Selection.feather(image, 24.0)
    selected = selection_on(layer)
    partial = (selected > 0.02) & (selected < 0.98)
    check(np.count_nonzero(partial) > 200, "test setup: no soft edge")

    stored = mask_values(image.get_selection())
    result = run_ok(image, layer, prompt="turn it blue")
    mask = result.get_mask()
    check(mask is not None, "the result has no layer mask")
    check(np.array_equal(mask_values(mask), stored),
          "the layer mask is not the selection")
    painted = native(result).astype(np.int32)
    after = composite(image).astype(np.int32)
    check_outside_unchanged(before, after, selected)

    # A soft blend: GIMP mixes the result over the source by the mask,
    # in linear light; stronger selection changes more.
    def linear(v):
        v = v / 255.0
        return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    m = selected[..., None]
    expected = (linear(before[..., :3]) * (1 - m) +
                linear(painted[..., :3]) * m)
    error = np.abs(linear(after[..., :3]) - expected).max()
    print("COCOEDIT-INFO feather blend: largest error %.5f (linear)" % error)
    check(error < 0.01, "the composite is no blend by the selection "
          "(largest error %.4f)" % error)
    change = np.abs(after - before).max(axis=-1)
    check(np.count_nonzero(change[partial] > 0) > 0.3 * np.count_nonzero(partial),
          "the soft edge did not change")
    weak = change[(selected > 0.02) & (selected < 0.3)].mean()
    strong = change[selected > 0.7].mean()
    check(strong > 2 * weak + 1,
          "no gradient across the soft edge (weak %.2f, strong %.2f)"
          % (weak, strong))
    finish("feather")


def case_offsets():
    image = new_image(128, 96)
    # A layer smaller than the canvas, offset, partly selected.
    small = add_layer(image, 60, 50, Gimp.ImageType.RGBA_IMAGE,
                      offsets=(40, 30), seed=5, name="small")
    before = native(small)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 20, 20, 50, 40)
    result = run_ok(image, small, prompt="add snow")
    check_new_layer(image, small, result, "add snow", 1)
    selected = selection_on(small)
    check(selected[:, :30].any() and not selected[:, 30:].any(),
          "test setup: selection should cover the layer's left part only")
    after = native(result)
    check_outside_unchanged(before, after, selected)
    check_inside_changed(before, after, selected)
    check(np.array_equal(before[..., -1], after[..., -1]), "alpha changed")

    # A layer larger than the canvas, nothing selected: all of it may
    # change, outside the canvas too.
    Gimp.Selection.none(image)
    big = add_layer(image, 160, 120, Gimp.ImageType.RGB_IMAGE,
                    offsets=(-16, -12), seed=6, name="big")
    before = native(big)
    result = run_ok(image, big, prompt="make it night")
    check(result.get_offsets()[1:] == (-16, -12), "offsets of the big result")
    after = native(result)
    changed = np.any(before != after, axis=-1)
    check(changed.mean() > 0.5, "the unselected big layer barely changed")
    check(changed[:12, :].any() and changed[:, :16].any(),
          "nothing changed outside the canvas")
    finish("offsets")


def case_gray():
    for type_ in (Gimp.ImageType.GRAYA_IMAGE, Gimp.ImageType.GRAY_IMAGE):
        image = new_image(80, 64, base=Gimp.ImageBaseType.GRAY)
        layer = add_layer(image, 80, 64, type_, seed=8)
        before = native(layer)
        image.select_rectangle(Gimp.ChannelOps.REPLACE, 10, 10, 30, 40)
        result = run_ok(image, layer, prompt="darken")
        check(result.is_gray(), "the result is not grayscale")
        check(result.has_alpha() == layer.has_alpha(), "alpha channel differs")
        selected = selection_on(layer)
        after = native(result)
        check_outside_unchanged(before, after, selected)
        check_inside_changed(before, after, selected)
    finish("gray")


def case_precision():
    # Linear float: outside the selection not one bit may change either.
    image = new_image(64, 48, precision=Gimp.Precision.FLOAT_LINEAR)
    layer = add_layer(image, 64, 48, Gimp.ImageType.RGBA_IMAGE, seed=9)
    before = native(layer)
    check(before.shape[-1] == 16, "test setup: not a float RGBA layer")
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 8, 8, 24, 24)
    result = run_ok(image, layer, prompt="warmer light")
    selected = selection_on(layer)
    after = native(result)
    check_outside_unchanged(before, after, selected)
    check_inside_changed(before, after, selected)
    finish("precision")


def case_empty():
    image = new_image(48, 40)
    layer = add_layer(image, 48, 40, Gimp.ImageType.RGB_IMAGE)
    before = native(layer)
    for prompt in ("", "   \n\t "):
        status, _ = run_edit(image, layer, prompt=prompt)
        check(status == Gimp.PDBStatusType.CALLING_ERROR,
              "empty instruction gave %s" % status)
        check(len(image.get_layers()) == 1, "a layer was added")
        check(np.array_equal(native(layer), before), "the layer changed")
    # An instruction the model cannot read (its text encoder learnt
    # English, Chinese and Japanese): the message names the script and
    # says what works; nothing changes ("make the cat ginger", in Russian).
    status, _ = run_edit(image, layer, prompt="\u0441\u0434\u0435\u043b\u0430\u0439 \u043a\u043e\u0448\u043a\u0443 \u0440\u044b\u0436\u0435\u0439")
    message = Gimp.get_pdb().get_last_error()
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR,
          "a Cyrillic instruction gave %s" % status)
    check("Cyrillic" in message and "English, Chinese or Japanese" in message,
          "message %r" % message)
    check(len(image.get_layers()) == 1, "a layer was added")
    check(np.array_equal(native(layer), before), "the layer changed")
    finish("empty")


def case_noninteractive():
    image = new_image(64, 64)
    layer = add_layer(image, 64, 64, Gimp.ImageType.RGB_IMAGE, seed=2)
    before = native(layer)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 16, 16, 32, 24)
    selected = selection_on(layer)

    first = run_ok(image, layer, prompt="paint it red", seed=11,
                   guidance=2.5, strength=0.9)
    check(first.get_image().get_id() == image.get_id(),
          "the returned layer is not in the image")
    again = run_ok(image, layer, prompt="paint it red", seed=11,
                   guidance=2.5, strength=0.9)
    check(np.array_equal(native(first), native(again)),
          "same seed, different result")
    other = run_ok(image, layer, prompt="paint it red", seed=12,
                   guidance=2.5, strength=0.9)
    check(not np.array_equal(native(first), native(other)),
          "another seed gave the same result")
    check(len(image.get_layers()) == 4, "expected three new layers")

    # Replace mode: same layer back, no new layer, outside unchanged.
    n_layers = len(image.get_layers())
    replaced = run_ok(image, layer, prompt="paint it red", seed=11,
                      **{"output-mode": "replace"})
    check(replaced.get_id() == layer.get_id(), "replace returned another layer")
    check(len(image.get_layers()) == n_layers, "replace added a layer")
    after = native(layer)
    check_outside_unchanged(before, after, selected)
    check_inside_changed(before, after, selected)

    # A missing model is an execution error that changes nothing.
    n_layers = len(image.get_layers())
    current = native(layer)
    status, _ = run_edit(image, layer, **{"model-path": "/nonexistent/model"})
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR,
          "missing model gave %s" % status)
    check("/nonexistent/model" in (Gimp.get_pdb().get_last_error() or ""),
          "the error does not name the folder")
    check(len(image.get_layers()) == n_layers and
          np.array_equal(native(layer), current), "a failed edit changed the image")
    finish("noninteractive")


def case_model_env():
    """No model folder given: the plug-in finds $COCOEDIT_MODEL."""
    check(os.environ.get("COCOEDIT_MODEL"), "test setup: COCOEDIT_MODEL unset")
    image = new_image(48, 40)
    layer = add_layer(image, 48, 40, Gimp.ImageType.RGB_IMAGE)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 8, 8, 16, 16)
    result = run_ok(image, layer, **{"model-path": ""})
    check(not np.array_equal(native(result), native(layer)), "nothing changed")
    finish("model_env")


def case_kontext():
    """FLUX.1 Kontext in GIMP: the tiny diffusers-layout folder
    ($COCOEDIT_TEST_KONTEXT) edits a selection through the plug-in, the
    family detected by the engine, nothing outside the selection changed."""
    folder = os.environ.get("COCOEDIT_TEST_KONTEXT", "")
    check(os.path.isfile(os.path.join(folder, "model_index.json")),
          "test setup: COCOEDIT_TEST_KONTEXT is no Kontext folder")
    edit_rect_checked("make the ball blue",
                      "FLUX.1 Kontext (tiny) edit of a 96x80 layer at its "
                      "preferred resolution, 1 step",
                      steps=1, **{"model-path": folder})
    finish("kontext")


def case_digest():
    """Prints a digest of one edit with fractional parameters (compared
    across locales by the harness)."""
    image = new_image(64, 48)
    layer = add_layer(image, 64, 48, Gimp.ImageType.RGB_IMAGE, seed=4)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 8, 8, 40, 24)
    result = run_ok(image, layer, prompt="make it glow", seed=5,
                    guidance=2.5, strength=0.75)
    import locale
    locale.setlocale(locale.LC_ALL, "")
    print("COCOEDIT-DECIMAL-POINT %s" % locale.localeconv()["decimal_point"])
    print("COCOEDIT-DIGEST %s" % hashlib.sha256(native(result).tobytes()).hexdigest())
    finish("digest")


def case_generative():
    """The result is a generative layer: a layer mask made from the
    selection, a record of how it was made (kept in XCF), Regenerate with
    the same or a new seed, Edit again on the result, and clear errors
    when what Regenerate needs is gone or damaged."""
    import tempfile
    from gi.repository import Gio

    image = new_image(96, 80)
    layer = add_layer(image, 96, 80, Gimp.ImageType.RGB_IMAGE, seed=3)
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 16, 12, 56, 44)
    Gimp.Selection.feather(image, 8.0)
    selected = selection_image(image)
    stored = mask_values(image.get_selection())
    shown = composite(image)

    first = run_ok(image, layer, prompt="make it red", seed=21, steps=2)
    check(len(image.get_layers()) == 2, "expected one new layer")
    check([l.get_id() for l in image.get_selected_layers()] == [first.get_id()],
          "the result, not its mask, should be active")
    record = record_of(first)
    check(record["chain"] == ["make it red"], "chain %r" % record["chain"])
    check(record["seed"] == 21 and record["steps"] == 2 and
          record["strength"] == 1.0, "settings in the record: %r" % record)
    check(record["source-layer"] == layer.get_tattoo(), "source tattoo")
    check(os.path.samefile(record["model"], MODEL), "model %r" % record["model"])
    channel = image.get_channel_by_tattoo(record["selection-channel"])
    check(channel is not None, "the selection was not saved as a channel")
    check(not channel.get_visible(), "the saved selection is visible")
    check(np.array_equal(mask_values(channel), stored),
          "the saved channel is not the selection")
    check(np.array_equal(mask_values(first.get_mask()), stored),
          "the layer mask is not the selection")
    check_outside_unchanged(shown, composite(image), selected)
    first_pixels = native(first)
    first_tattoo = first.get_tattoo()

    # Regenerate, same seed: the same pixels, in the same layer's place,
    # name and tattoo, whatever is selected now.
    Gimp.Selection.none(image)
    status, again = run_regenerate(image, first, False)
    check(status == Gimp.PDBStatusType.SUCCESS,
          "regenerate failed: %s" % Gimp.get_pdb().get_last_error())
    check(len(image.get_layers()) == 2, "regenerate added a layer")
    check(again.get_tattoo() == first_tattoo, "regenerate changed the tattoo")
    check(image.get_item_position(again) == 0, "regenerate moved the layer")
    check(again.get_name() == "make it red", "name %r" % again.get_name())
    check(np.array_equal(native(again), first_pixels),
          "regenerate with the same seed gave other pixels")
    check(record_of(again)["seed"] == 21, "the seed changed")

    # The user paints the mask; Regenerate with a new seed keeps it.
    mask = again.get_mask()
    painted = mask_values(mask)
    painted[:, :40] = 0
    mask.get_buffer().set(Gegl.Rectangle.new(0, 0, 40, 80), "Y float",
                          np.zeros((80, 40), np.float32).tobytes())
    mask.update(0, 0, 96, 80)
    status, other = run_regenerate(image, again, True)
    check(status == Gimp.PDBStatusType.SUCCESS,
          "regenerate failed: %s" % Gimp.get_pdb().get_last_error())
    check(np.array_equal(mask_values(other.get_mask()), painted),
          "regenerate lost the painted mask")
    check(record_of(other)["seed"] != 21, "no new seed")
    check(not np.array_equal(native(other), first_pixels),
          "a new seed gave the same pixels")
    check(np.array_equal(native(other)[selected <= 0], first_pixels[selected <= 0]),
          "regenerate changed pixels outside the selection")

    # Edit again: a new instruction on the result; the chain goes on.
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 30, 24, 24, 20)
    selected2 = selection_image(image)
    stored2 = mask_values(image.get_selection())
    shown = composite(image)
    second = run_ok(image, other, prompt="now make it green", seed=5, steps=2)
    check(len(image.get_layers()) == 3, "edit again did not add one layer")
    check(image.get_item_position(second) == 0, "not above the first result")
    record2 = record_of(second)
    check(record2["chain"] == ["make it red", "now make it green"],
          "chain %r" % record2["chain"])
    check(record2["source-layer"] == other.get_tattoo(), "source of edit again")
    check(np.array_equal(mask_values(second.get_mask()), stored2),
          "the second mask is not the second selection")
    check_outside_unchanged(shown, composite(image), selected2)
    second_pixels = native(second)

    # Saved as XCF and opened again: masks, records and channels are there,
    # and Regenerate still finds its source and selection.
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "edits.xcf")
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image,
                   Gio.File.new_for_path(path), None)
    reopened = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                              Gio.File.new_for_path(path))
    IMAGES.append(reopened)
    top, middle, bottom = reopened.get_layers()
    check(record_of(top) == record2 and record_of(middle) == record_of(other),
          "the records changed in XCF")
    check(np.array_equal(mask_values(top.get_mask()), stored2) and
          np.array_equal(mask_values(middle.get_mask()), painted),
          "the masks changed in XCF")
    status, regen = run_regenerate(reopened, top, False)
    check(status == Gimp.PDBStatusType.SUCCESS,
          "regenerate after reopening failed: %s"
          % Gimp.get_pdb().get_last_error())
    check(np.array_equal(native(regen), second_pixels),
          "regenerate after reopening gave other pixels")

    # What Regenerate needs is gone or damaged: a clear error, no change.
    n_layers = len(reopened.get_layers())
    status, _ = run_regenerate(reopened, bottom, True)
    check(status == Gimp.PDBStatusType.CALLING_ERROR,
          "regenerate of a plain layer gave %s" % status)
    check("not made by CoCoEdit" in (Gimp.get_pdb().get_last_error() or ""),
          "error: %s" % Gimp.get_pdb().get_last_error())
    bad = Gimp.Parasite.new("cocoedit-edit", Gimp.PARASITE_PERSISTENT,
                            list(b'{"format": "cocoedit-layer/1", "chain": 3}'))
    middle.attach_parasite(bad)
    before_bad = native(middle)
    status, _ = run_regenerate(reopened, middle, True)
    check(status == Gimp.PDBStatusType.CALLING_ERROR,
          "a damaged record gave %s" % status)
    check("chain" in (Gimp.get_pdb().get_last_error() or ""),
          "the error does not name the field: %s"
          % Gimp.get_pdb().get_last_error())
    check(np.array_equal(native(middle), before_bad), "the layer changed")
    reopened.remove_channel(
        reopened.get_channel_by_tattoo(record2["selection-channel"]))
    status, _ = run_regenerate(reopened, regen, True)
    check(status == Gimp.PDBStatusType.EXECUTION_ERROR,
          "a deleted selection channel gave %s" % status)
    check("channel" in (Gimp.get_pdb().get_last_error() or ""),
          "error: %s" % Gimp.get_pdb().get_last_error())
    check(len(reopened.get_layers()) == n_layers, "a failed regenerate changed the layers")
    os.remove(path)
    os.rmdir(folder)
    finish("generative")


def run_case(name):
    Gegl.init(None)
    globals()["case_" + name.replace("-", "_")]()


def case_dialog():
    """Opens the real dialog (the harness drives it under Xvfb).  With
    COCOEDIT_TEST_EXPECT=ok the harness types an instruction and presses
    OK; then Repeat Last Edit must redo it without a dialog."""
    image = new_image(240, 180)
    layer = add_layer(image, 240, 180, Gimp.ImageType.RGB_IMAGE, seed=12)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 60, 40, 120, 90)
    before = native(layer)

    status, _ = run_proc(PROC, image, layer, Gimp.RunMode.INTERACTIVE)

    expect = os.environ.get("COCOEDIT_TEST_EXPECT", "cancel")
    if expect != "ok":
        check(status == Gimp.PDBStatusType.CANCEL, "dialog gave %s" % status)
        check(len(image.get_layers()) == 1, "cancel added a layer")
        check(np.array_equal(native(layer), before), "cancel changed the layer")
        finish("dialog")
        return

    prompt = os.environ["COCOEDIT_TEST_PROMPT"]
    check(status == Gimp.PDBStatusType.SUCCESS, "dialog gave %s" % status)
    layers = image.get_layers()
    check(len(layers) == 2 and layers[0].get_name() == prompt,
          "layers after OK: %s" % [l.get_name() for l in layers])
    selected = selection_on(layer)
    check_outside_unchanged(before, native(layers[0]), selected)
    # The variation picked in the dialog is the one applied.
    seed = int(os.environ.get("COCOEDIT_TEST_SEED", "-1"))
    check(seed < 0 or record_of(layers[0])["seed"] == seed,
          "applied seed %d, picked %d" % (record_of(layers[0])["seed"], seed))
    if seed >= 0:
        check_kept_choice(prompt, seed)
    if OUT:
        export_before_after(layer, layers[0], os.path.join(OUT, "before-after.png"))

    # Repeat Last Edit: the same values, no dialog, onto the active layer.
    status, repeated = run_proc(REPEAT_PROC, image, layer)
    check(status == Gimp.PDBStatusType.SUCCESS,
          "repeat failed: %s" % Gimp.get_pdb().get_last_error())
    # GIMP numbers a second layer of the same name: "name #1".
    check(repeated.get_name() in (prompt, prompt + " #1"),
          "repeat used another instruction: %r" % repeated.get_name())
    check(np.array_equal(native(repeated), native(layers[0])),
          "repeat with the same seed gave another result")

    # The dialog on the result says how it was made; the harness presses
    # Regenerate Layer: the same layer's place, a new seed, new pixels.
    made = layers[0]
    made_pixels, made_record = native(made), record_of(made)
    position = image.get_item_position(made)
    n_layers = len(image.get_layers())
    status, again = run_proc(PROC, image, made, Gimp.RunMode.INTERACTIVE)
    check(status == Gimp.PDBStatusType.SUCCESS,
          "regenerate from the dialog gave %s (%s)"
          % (status, Gimp.get_pdb().get_last_error()))
    check(len(image.get_layers()) == n_layers, "regenerate added a layer")
    check(image.get_item_position(again) == position, "regenerate moved it")
    record = record_of(again)
    check(record["chain"] == made_record["chain"] and
          record["seed"] != made_record["seed"], "record %r" % record)
    check(not np.array_equal(native(again), made_pixels),
          "regenerate changed no pixel")
    finish("dialog")


def check_kept_choice(prompt, seed):
    """Keep my choices was on: the choice is one manifest record, the
    chosen variation as the target and the two others as rejected."""
    import json
    folder = os.environ["COCOEDIT_CHOICES_DIR"]
    with open(os.path.join(folder, "manifest.jsonl"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    check(len(records) == 1, "%d kept choices" % len(records))
    record = records[0]
    check(record["prompt"] == prompt, "kept prompt %r" % record["prompt"])
    check(record["metadata"]["seed"] == seed and
          sorted(record["metadata"]["rejected_seeds"]) == [0, 2],
          "kept seeds %r" % record["metadata"])
    check(len(record["rejected"]) == 2, "rejected %r" % record["rejected"])
    for key in ("image", "mask", "target"):
        check(os.path.isfile(os.path.join(folder, record[key])), "no " + key)
    for path in record["rejected"]:
        check(os.path.isfile(os.path.join(folder, path)), "no " + path)


def export_before_after(source, result, path):
    """Source and result side by side, for the documentation."""
    a, b = rgba8(source), rgba8(result)
    gap = np.full((a.shape[0], 8, 4), 255, np.uint8)
    both = np.concatenate([a, gap, b], axis=1)
    height, width = both.shape[:2]
    image = new_image(width, height)
    layer = Gimp.Layer.new(image, "before-after", width, height,
                           Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    buf = layer.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, width, height), "R'G'B'A u8", both.tobytes())
    buf.flush()
    from gi.repository import Gio
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image,
                   Gio.File.new_for_path(path), None)


def press_undo(image, done, timeout=20.0):
    """Presses Ctrl+Z once in the image window (GIMP runs with its user
    interface under Xvfb) and waits until @done() holds."""
    import subprocess
    import time

    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                          r"\[Untitled\]"], stdout=subprocess.PIPE,
                         text=True).stdout.split()
    check(out, "no image window")
    subprocess.run(["xdotool", "windowfocus", "--sync", out[-1]], check=True)
    subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+z"], check=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done():
            return
        time.sleep(0.2)


def case_undo():
    """One Ctrl+Z removes the whole edit: the new layer, or the replaced
    pixels."""
    import time

    image = new_image(96, 80)
    layer = add_layer(image, 96, 80, Gimp.ImageType.RGB_IMAGE)
    display = Gimp.Display.new(image)
    Gimp.displays_flush()
    time.sleep(2.0)
    before = native(layer)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 20, 16, 40, 32)

    run_ok(image, layer, prompt="undo me")
    check(len(image.get_layers()) == 2, "no layer added")
    Gimp.displays_flush()
    press_undo(image, lambda: len(image.get_layers()) == 1)
    check(len(image.get_layers()) == 1,
          "one undo left %d layers" % len(image.get_layers()))
    check(np.array_equal(native(layer), before), "the source changed")
    check(not Gimp.Selection.is_empty(image), "undo went past the edit")

    run_ok(image, layer, prompt="undo me too", **{"output-mode": "replace"})
    check(not np.array_equal(native(layer), before), "replace changed nothing")
    Gimp.displays_flush()
    press_undo(image, lambda: np.array_equal(native(layer), before))
    check(np.array_equal(native(layer), before),
          "one undo did not restore the replaced pixels")
    check(not Gimp.Selection.is_empty(image), "undo went past the edit")

    display.delete()
    finish("undo")




# ---- the state of a GUI session (workflow-test.py) ---------------------

def dump_state(path):
    """Writes what the one open image holds, for a test that drives GIMP's
    user interface: @path (JSON: layers top to bottom with their masks and
    CoCoEdit records, channels, selection) and @path.npz (the composite,
    the selection, each layer's mask and each channel, as stored).  The
    JSON file appears last, by rename, so a reader never sees half."""
    import json
    import traceback

    state = {}
    arrays = {}
    try:
        Gegl.init(None)
        images = Gimp.get_images()
        state["images"] = len(images)
        image = images[0]
        selected = [l.get_tattoo() for l in image.get_selected_layers()]
        state["layers"] = []
        for i, layer in enumerate(image.get_layers()):
            mask = layer.get_mask()
            parasite = layer.get_parasite("cocoedit-edit")
            state["layers"].append({
                "name": layer.get_name(),
                "tattoo": layer.get_tattoo(),
                "selected": layer.get_tattoo() in selected,
                "mask": mask is not None,
                "record": (json.loads(bytes(parasite.get_data()).decode())
                           if parasite else None),
            })
            if mask is not None:
                arrays["mask%d" % i] = mask_values(mask)
        state["channels"] = []
        for i, channel in enumerate(image.get_channels()):
            state["channels"].append({"name": channel.get_name(),
                                      "tattoo": channel.get_tattoo(),
                                      "visible": channel.get_visible()})
            arrays["channel%d" % i] = mask_values(channel)
        state["selection_empty"] = Gimp.Selection.is_empty(image)
        arrays["selection"] = mask_values(image.get_selection())
        arrays["composite"] = composite(image)
    except Exception:
        state["error"] = traceback.format_exc()
    np.savez(path + ".npz", **arrays)
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.rename(path + ".tmp", path)
