#!/usr/bin/env python3
"""A new user's session in real GIMP 3, under Xvfb, with the shipped model.

GIMP opens a photograph (data/examples/chelsea.png); the test zooms to
200 %, takes the Ellipse Select tool (E) and drags an ellipse over the
cat's head; opens Filters > CoCoEdit > Edit with Instruction… from the
menu bar with the keyboard; types an instruction and presses Preview, which
makes three variations (the first edit measures how long one takes here);
picks the second (Alt+2) and presses OK; opens the same menu item on the
result, which is now a generative layer, types a second instruction and
presses OK (Edit again); then presses Ctrl+Z twice.

After each step it asks GIMP what the image holds, through GIMP's own
D-Bus service (BatchRun, running tests/plugin/cases.py's dump_state in
the session), and checks the layers, masks, records, channels, selection
and the composite's pixels.  Screenshots of every step are kept; with
--docs the dialog and window pictures of docs/plugin.md are copied from
them.

Without a window manager nothing moves keyboard focus to a new window, so
the test gives each window focus as a window manager would (xdotool
windowfocus) before it types.
"""

import argparse
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name, file):
    return importlib.machinery.SourceFileLoader(
        name, os.path.join(HERE, file)).load_module()


harness = load("run_gimp", "run-gimp.py")
dialogs = load("dialog_test", "dialog-test.py")
xdotool = dialogs.xdotool

SCREEN = (1440, 1000)
ZOOM = 2                         # key "2": View > Zoom > 2:1 (200 %)
ELLIPSE = (105, 5, 350, 268)     # image pixels: around the cat's head
PROMPT = "make the cat's fur orange"
PROMPT_AGAIN = "make the eyes green"


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class Session:
    """GIMP with its user interface, a private D-Bus session bus, and the
    helpers to drive and inspect it."""

    def __init__(self, args, root, display):
        self.out = args.out
        self.root = root
        self.display = display
        self.screen = dialogs.Screen(display)
        self.step = 0
        self.model = os.path.abspath(args.model)

        self.bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.bus_address = self.bus.stdout.readline().strip()

        photo = os.path.join(root, "chelsea.png")
        shutil.copy(args.photo, photo)
        harness.make_plugin_folder(root, args.plugin, args.po_dir)
        extra = {
            "DISPLAY": display,
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "COCOEDIT_MODEL": self.model,
            "COCOEDIT_MODELS_DIR": os.path.join(root, "no-models"),
            "GDK_BACKEND": "x11",
            "LANG": "C.UTF-8",
            "LANGUAGE": "en",
        }
        env = harness.gimp_env(root, argparse.Namespace(model=args.model,
                                                        out=args.out), extra)
        env["DISPLAY"] = display
        self.output = []
        self.gimp = subprocess.Popen(
            ["gimp-3.0", "-n", "-s", "--no-fonts", photo], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace")
        self.reader = threading.Thread(
            target=lambda: self.output.extend(self.gimp.stdout))
        self.reader.start()

    def close(self):
        for proc in (self.gimp, self.bus):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.reader.join()

    # ---- windows and keys ---------------------------------------------

    def find(self, name, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            check(self.gimp.poll() is None, "GIMP exited")
            out = xdotool(self.display, "search", "--onlyvisible", "--name",
                          name, check=False)
            if out:
                return out.split()[-1]
            time.sleep(0.5)
        raise AssertionError("no window named %r appeared" % name)

    def close_welcome(self):
        """GIMP greets a first start of a new version with a Welcome
        dialog: closed as a user would."""
        welcome = xdotool(self.display, "search", "--onlyvisible", "--name",
                          "Welcome to GIMP", check=False)
        for window in welcome.split():
            xdotool(self.display, "windowfocus", "--sync", window)
            xdotool(self.display, "key", "Escape")

    def keys(self, window, *keys, pause=0.6):
        xdotool(self.display, "windowfocus", "--sync", window)
        for key in keys:
            xdotool(self.display, "key", "--clearmodifiers", key)
            time.sleep(pause)

    def pointer_away(self):
        # The menu bar's empty right end: no tooltip, no brush outline.
        xdotool(self.display, "mousemove", str(SCREEN[0] - 2), "12")

    def drag(self, start, end, steps=6):
        xdotool(self.display, "mousemove", str(start[0]), str(start[1]))
        time.sleep(0.3)
        xdotool(self.display, "mousedown", "1")
        for i in range(1, steps + 1):
            time.sleep(0.15)
            x = start[0] + (end[0] - start[0]) * i // steps
            y = start[1] + (end[1] - start[1]) * i // steps
            xdotool(self.display, "mousemove", str(x), str(y))
        time.sleep(0.3)
        xdotool(self.display, "mouseup", "1")
        time.sleep(0.5)

    def shot(self, name, window=None):
        """Saves a screenshot of @window (or the screen) when it has
        stopped changing; returns its path."""
        rect = (dialogs.geometry(self.display, window) if window
                else (0, 0) + SCREEN)
        dialogs.wait_until_stable(self.screen, rect, seconds=1.5)
        path = os.path.join(self.out, "workflow-%d-%s.png" % (self.step, name))
        self.screen.grab(*rect).savev(path, "png", [], [])
        self.step += 1
        return path

    def pixels(self):
        pixbuf = self.screen.grab(0, 0, *SCREEN)
        data = np.frombuffer(pixbuf.get_pixels(), np.uint8)
        stride, n = pixbuf.get_rowstride(), pixbuf.get_n_channels()
        rows = [data[y * stride:y * stride + SCREEN[0] * n]
                for y in range(SCREEN[1])]
        return np.stack(rows).reshape(SCREEN[1], SCREEN[0], n)[..., :3]

    # ---- what GIMP holds -----------------------------------------------

    def estimate(self, timeout):
        """The plug-in's measured seconds per edit for the model (its
        estimates.ini in GIMP's folder), once there is one."""
        import configparser

        path = os.path.join(self.root, "gimp3", "cocoedit-gimp", "estimates.ini")
        deadline = time.time() + timeout
        while time.time() < deadline:
            parser = configparser.ConfigParser(interpolation=None)
            if parser.read(path, encoding="utf-8"):
                for section in parser.sections():
                    if section.endswith("|" + self.model):
                        return float(parser[section]["seconds-per-edit"])
            time.sleep(0.5)
        raise AssertionError("the model was not timed when it was loaded")


    def state(self, until=None, timeout=90):
        """Asks GIMP for the image's state (repeatedly, until @until(state)
        holds when given); returns (state, arrays)."""
        from gi.repository import Gio, GLib

        connection = Gio.DBusConnection.new_for_address_sync(
            self.bus_address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        deadline = time.time() + timeout
        n = 0
        while True:
            path = os.path.join(self.root, "state-%d-%d.json" % (self.step, n))
            n += 1
            command = ("exec(open(%r).read()); dump_state(%r)"
                       % (os.path.join(HERE, "cases.py"), path))
            connection.call_sync(
                "org.gimp.GIMP.UI", "/org/gimp/GIMP/UI", "org.gimp.GIMP.UI",
                "BatchRun", GLib.Variant("(ss)", ("python-fu-eval", command)),
                GLib.VariantType("(b)"), Gio.DBusCallFlags.NONE, 60000, None)
            while not os.path.exists(path):
                check(time.time() < deadline, "GIMP did not report its state")
                check(self.gimp.poll() is None, "GIMP exited")
                time.sleep(0.2)
            with open(path) as f:
                state = json.load(f)
            check("error" not in state, "state: %s" % state.get("error"))
            with np.load(path + ".npz") as npz:
                arrays = dict(npz)
            if until is None or until(state):
                return state, arrays
            check(time.time() < deadline,
                  "GIMP's state did not become what was expected: %s"
                  % json.dumps(state)[:600])
            time.sleep(0.5)


def locate(screen, image, zoom):
    """Where the image's pixel (0, 0) is drawn on @screen at @zoom (GIMP
    draws zoomed-in pixels as blocks)."""
    h, w = image.shape[:2]
    cy, cx = h // 2, w // 2
    ys, xs = np.nonzero(np.abs(screen.astype(int) - image[cy, cx]).sum(-1) <= 6)
    gy, gx = np.mgrid[0:h:7, 0:w:7]
    for y, x in zip(ys, xs):
        oy, ox = y - zoom * cy, x - zoom * cx
        sy, sx = oy + zoom * gy, ox + zoom * gx
        inside = (sy >= 0) & (sy < screen.shape[0]) & (sx >= 0) & (sx < screen.shape[1])
        if inside.mean() < 0.9:
            continue
        diff = np.abs(screen[sy[inside], sx[inside]].astype(int)
                      - image[gy[inside], gx[inside]]).mean()
        if diff < 2.0:
            return ox, oy
    raise AssertionError("the photograph is not on the screen at %d:1" % zoom)


def save_side_by_side(left, right, path, gap=8):
    """Saves two RGB pictures of one size side by side, as PNG."""
    import gi
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, GLib

    h, w = left.shape[:2]
    sheet = np.full((h, 2 * w + gap, 3), 255, np.uint8)
    sheet[:, :w], sheet[:, w + gap:] = left, right
    pixbuf = GdkPixbuf.Pixbuf.new_from_bytes(
        GLib.Bytes.new(sheet.tobytes()), GdkPixbuf.Colorspace.RGB, False, 8,
        sheet.shape[1], h, sheet.shape[1] * 3)
    pixbuf.savev(path, "png", [], [])
    return path


def rgb(arrays):
    return arrays["composite"][..., :3]


def check_applied(state, arrays, original, selection, chain, seed=None):
    """The top layer is a generative layer made by the last OK."""
    top, below = state["layers"][0], state["layers"][1]
    check(top["name"] == chain[-1], "top layer is %r" % top["name"])
    check(top["selected"], "the result is not the active layer")
    check(top["mask"], "the result has no layer mask")
    record = top["record"]
    check(record is not None, "the result has no CoCoEdit record")
    check(record["chain"] == chain, "chain %r, not %r" % (record["chain"], chain))
    if seed is not None:
        check(record["seed"] == seed, "seed %r, not %r (the variation picked)"
              % (record["seed"], seed))
    check(record["source-layer"] == below["tattoo"],
          "the record names layer %r as its source, not the one below"
          % record["source-layer"])
    channels = [c for c in state["channels"] if c["tattoo"] == record["selection-channel"]]
    check(len(channels) == 1 and not channels[0]["visible"],
          "the selection was not kept as one hidden channel")
    index = state["channels"].index(channels[0])
    check(np.array_equal(arrays["channel%d" % index], selection),
          "the kept selection channel differs from the selection")
    mask = arrays["mask0"].astype(int)
    check(np.abs(mask - selection).max() <= 1,
          "the layer mask is not the selection (largest difference %d)"
          % np.abs(mask - selection).max())
    after = rgb(arrays)
    outside = selection == 0
    changed = np.any(after != original, axis=-1)
    check(not np.any(changed & outside),
          "%d pixels outside the selection changed"
          % np.count_nonzero(changed & outside))
    inside = selection == 255
    fraction = np.count_nonzero(changed & inside) / np.count_nonzero(inside)
    check(fraction > 0.5, "only %.0f %% of the selected pixels changed"
          % (100 * fraction))
    return fraction


def run(args, session):
    d = session.display
    window = session.find(r"\[chelsea\]")
    time.sleep(3.0)
    session.close_welcome()
    xdotool(d, "windowmove", window, "0", "0")
    xdotool(d, "windowsize", window, str(SCREEN[0]), str(SCREEN[1]))
    session.pointer_away()

    state, arrays = session.state()
    check(state["images"] == 1 and len(state["layers"]) == 1,
          "GIMP did not open the photograph alone: %r" % state)
    check(state["selection_empty"], "a new image has a selection")
    original = rgb(arrays)
    session.shot("opened")

    # Zoom to 200 %, find the photograph on the screen, take Ellipse
    # Select and drag an ellipse over the cat's head.
    session.keys(window, str(ZOOM), "e")
    session.pointer_away()
    time.sleep(1.0)
    ox, oy = locate(session.pixels(), original, ZOOM)
    x0, y0, x1, y1 = ELLIPSE
    session.drag((ox + ZOOM * x0, oy + ZOOM * y0), (ox + ZOOM * x1, oy + ZOOM * y1))
    session.pointer_away()
    state, arrays = session.state()
    selection = arrays["selection"].astype(int)
    check(not state["selection_empty"], "dragging made no selection")
    ys, xs = np.nonzero(selection)
    bounds = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    check(all(abs(a - b) <= 2 for a, b in zip(bounds, ELLIPSE)),
          "selection bounds %r, dragged %r" % (bounds, ELLIPSE))
    check(selection[(y0 + y1) // 2, (x0 + x1) // 2] == 255,
          "the ellipse's centre is not selected")
    check(selection[y0 + 3, x0 + 3] == 0 and selection[y1 - 4, x1 - 4] == 0,
          "the selection is not an ellipse (its corners are selected)")
    check(np.any((selection > 0) & (selection < 255)),
          "the ellipse has no antialiased edge")
    session.shot("selection")

    # Filters > CoCoEdit > Edit with Instruction… (CoCoEdit is the last
    # entry of the Filters menu: Up from the top wraps to it).
    session.keys(window, "alt+r", "Up", "Right", "e")
    dialog = session.find("CoCoEdit:")
    # The model is timed as soon as it is loaded, before any edit: the
    # dialog can say how long an edit takes, and "Auto" variations know.
    seconds = session.estimate(timeout=120)
    print("timed at load: %.2f s per edit" % seconds)
    xdotool(d, "windowfocus", "--sync", dialog)
    xdotool(d, "type", "--delay", "20", PROMPT)
    # Preview: "Auto" variations; the shipped model is quick, so three.
    session.keys(dialog, "alt+p", pause=1.0)
    dialogs.wait_until_stable(session.screen, dialogs.geometry(d, dialog),
                              seconds=5.0, timeout=300)
    session.keys(dialog, "alt+2", pause=1.0)
    docs_variations = session.shot("variations", dialog)
    session.keys(dialog, "alt+o", pause=0.2)
    dialogs.wait_closed(d, dialog)

    state1, arrays1 = session.state(
        until=lambda s: len(s["layers"]) == 2 and not harness.plugin_pids(session.root),
        timeout=300)
    fraction = check_applied(state1, arrays1, original, selection, [PROMPT], seed=1)
    print("applied variation 2: %.0f %% of the selected pixels changed"
          % (100 * fraction))
    docs_window = session.shot("applied")
    docs_before_after = save_side_by_side(
        original, rgb(arrays1), os.path.join(session.out, "workflow-before-after.png"))

    # Edit again: the same menu item on the result shows how it was made;
    # a new instruction makes a new layer whose record continues the chain.
    session.keys(window, "alt+r", "Up", "Right", "e")
    dialog = session.find("CoCoEdit:")
    time.sleep(1.0)
    # Its Made with CoCoEdit page (after Model: Alt+M, Ctrl+Page Down),
    # then back to the Edit page and the instruction (Alt+I).
    session.keys(dialog, "alt+m", "ctrl+Page_Down", pause=0.5)
    session.pointer_away()
    docs_made = session.shot("made", dialog)
    session.keys(dialog, "ctrl+Page_Up", "ctrl+Page_Up", "alt+i", "ctrl+a", pause=0.3)
    xdotool(d, "type", "--delay", "20", PROMPT_AGAIN)
    session.pointer_away()
    session.shot("edit-again", dialog)
    session.keys(dialog, "alt+o", pause=0.2)
    dialogs.wait_closed(d, dialog)
    # The plug-in adds the layer, then selects it: read the state once it
    # has ended (a loaded machine shows the moment between).
    state2, arrays2 = session.state(
        until=lambda s: len(s["layers"]) == 3 and not harness.plugin_pids(session.root),
        timeout=300)
    check_applied(state2, arrays2, original, selection, [PROMPT, PROMPT_AGAIN])
    check(state2["layers"][1]["tattoo"] == state1["layers"][0]["tattoo"],
          "Edit again did not apply to the first result")
    session.shot("edited-again")

    # Ctrl+Z twice: one step per edit.
    session.keys(window, "ctrl+z")
    state, arrays = session.state(until=lambda s: len(s["layers"]) == 2)
    check(state["layers"] == state1["layers"] and
          state["channels"] == state1["channels"],
          "the first undo did not return to the first result")
    check(np.array_equal(rgb(arrays), rgb(arrays1)),
          "the first undo did not restore the composite")
    session.keys(window, "ctrl+z")
    state, arrays = session.state(until=lambda s: len(s["layers"]) == 1)
    check(not state["channels"], "the second undo left channels: %r"
          % state["channels"])
    check(np.array_equal(rgb(arrays), original),
          "the second undo did not restore the photograph")
    check(np.array_equal(arrays["selection"].astype(int), selection),
          "undo went past the edits: the selection changed")
    session.shot("undone")
    return docs_variations, docs_made, docs_window, docs_before_after


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--po-dir", required=True)
    parser.add_argument("--model", required=True, help="the shipped model")
    parser.add_argument("--photo", required=True)
    parser.add_argument("--out", required=True, help="folder for the screenshots")
    parser.add_argument("--docs", help="copy the pictures of docs/plugin.md here")
    args = parser.parse_args()

    for tool in ("Xvfb", "xdotool", "gimp-3.0", "dbus-daemon"):
        if shutil.which(tool) is None:
            print("%s is not installed" % tool)
            return 77

    os.makedirs(args.out, exist_ok=True)
    xvfb, display = harness.start_xvfb(SCREEN)
    root = tempfile.mkdtemp(prefix="cocoedit-workflow-")
    session = None
    try:
        session = Session(args, root, display)
        pictures = run(args, session)
    except Exception:
        if session:
            session.close()
            print("".join(session.output))
        raise
    finally:
        if session:
            session.close()
        xvfb.terminate()
        xvfb.wait()
        shutil.rmtree(root, ignore_errors=True)

    if args.docs:
        for source, name in zip(pictures, ("plugin-dialog.png",
                                           "plugin-dialog-made.png",
                                           "plugin-workflow.png",
                                           "plugin-before-after.png")):
            dialogs.copy_if_changed(source, os.path.join(args.docs, name))
    print("workflow passed; screenshots in %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
