#!/usr/bin/env python3
"""Open the plug-in's real dialog through GIMP under Xvfb, in English and
in every translation; drive it with xdotool; save a screenshot of each.

English: type an instruction, ask for three variations, pick the second,
take the screenshot, press OK (the case then checks the result and Repeat Last
Edit, and opens the dialog on the result: its screenshot is taken and
Regenerate Layer pressed).  Translations: take the screenshot, press Escape (the case checks
that nothing changed).  Each screenshot must show a drawn window (many
colours, not a flat area) of a sensible size, with a translated title.
"""

import argparse
import importlib.machinery
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
harness = importlib.machinery.SourceFileLoader(
    "run_gimp", os.path.join(HERE, "run-gimp.py")).load_module()

ENGLISH_TITLE = "CoCoEdit: Edit with Instruction"
PROMPT = "make the sky purple"
SCREEN = (1280, 900)
# 768 px of a 1366 x 768 screen less a 32 px panel and a 36 px title bar.
MAX_HEIGHT = 700


def xdotool(display, *args, check=True):
    proc = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError("xdotool %s: %s" % (" ".join(args), proc.stderr))
    return proc.stdout.strip()


def find_dialog(display, gimp, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if gimp.poll() is not None:
            raise RuntimeError("GIMP exited before the dialog appeared")
        out = xdotool(display, "search", "--onlyvisible", "--name", "CoCoEdit",
                      check=False)
        if out:
            return out.split()[-1]
        time.sleep(0.5)
    raise RuntimeError("the dialog did not appear")


def wait_closed(display, window, timeout=60):
    """Waits until @window is gone (the next plug-in process may get the
    same window id, so ids do not tell dialogs apart)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = xdotool(display, "search", "--onlyvisible", "--name", "CoCoEdit",
                      check=False)
        if window not in out.split():
            return
        time.sleep(0.1)
    raise RuntimeError("the dialog did not close")


def geometry(display, window):
    values = {}
    for line in xdotool(display, "getwindowgeometry", "--shell", window).splitlines():
        key, _, value = line.partition("=")
        values[key] = int(value) if value.lstrip("-").isdigit() else value
    return values["X"], values["Y"], values["WIDTH"], values["HEIGHT"]


class Screen:
    def __init__(self, display):
        os.environ["DISPLAY"] = display
        import gi
        gi.require_version("Gdk", "3.0")
        from gi.repository import Gdk
        self.Gdk = Gdk
        self.display = Gdk.Display.open(display)
        self.root = self.display.get_default_screen().get_root_window()

    def grab(self, x, y, width, height):
        return self.Gdk.pixbuf_get_from_window(self.root, x, y, width, height)


def pixbuf_stats(pixbuf):
    data = pixbuf.get_pixels()
    n = pixbuf.get_n_channels()
    stride = pixbuf.get_rowstride()
    colours = set()
    for y in range(0, pixbuf.get_height(), 3):
        row = data[y * stride:y * stride + pixbuf.get_width() * n]
        for x in range(0, len(row), 3 * n):
            colours.add(bytes(row[x:x + 3]))
    return len(colours)


def wait_until_stable(screen, rect, seconds=2.0, timeout=60):
    """Waits until the window's pixels stay the same for @seconds."""
    last, since = None, time.time()
    deadline = time.time() + timeout
    while time.time() < deadline:
        shot = bytes(screen.grab(*rect).get_pixels())
        if shot != last:
            last, since = shot, time.time()
        elif time.time() - since >= seconds:
            return
        time.sleep(0.25)


def run_language(args, display, screen, lang, out_dir):
    root = tempfile.mkdtemp(prefix="cocoedit-dialog-")
    try:
        harness.make_plugin_folder(root, args.plugin, args.po_dir)
        # A models folder with one model in it: the dialog lists it.
        models = os.path.join(root, "models")
        os.makedirs(models)
        os.symlink(os.path.abspath(args.model), os.path.join(models, "listed-model"))
        english = lang == "en"
        made_height = 0
        extra = {
            "DISPLAY": display,
            "COCOEDIT_MODEL": args.model,
            "COCOEDIT_MODELS_DIR": models,
            "COCOEDIT_TEST_EXPECT": "ok" if english else "cancel",
            "COCOEDIT_TEST_PROMPT": PROMPT,
            "COCOEDIT_TEST_SEED": "1",
            "COCOEDIT_CHOICES_DIR": os.path.join(root, "choices"),
            "GDK_BACKEND": "x11",
            "NO_AT_BRIDGE": "1",
        }
        extra.update(harness.locale_env(lang, out_dir))
        ns = argparse.Namespace(model=args.model, out=out_dir)
        env = harness.gimp_env(root, ns, extra)
        env["DISPLAY"] = display

        # GIMP runs in the background while the dialog is driven.
        holder = {}
        gimp = subprocess.Popen(
            harness.gimp_command("dialog", gui=True),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace")
        reader = threading.Thread(
            target=lambda: holder.setdefault("output", gimp.stdout.read()))
        reader.start()
        try:
            window = find_dialog(display, gimp)
            # Keep the pointer off the dialog: no hover, no tooltip.
            xdotool(display, "mousemove", str(SCREEN[0] - 1), str(SCREEN[1] - 1))
            time.sleep(1.0)
            rect = geometry(display, window)
            wait_until_stable(screen, rect)
            title = xdotool(display, "getwindowname", window)

            if english:
                xdotool(display, "windowfocus", "--sync", window)
                xdotool(display, "type", "--delay", "15", PROMPT)
                time.sleep(0.5)
                # Keep my choices (off by default) is switched on.  Preview
                # with "Auto" variations: the first edit measures how long
                # one takes here; the tiny model is quick, so the run
                # grows to three (seeds 0, 1, 2): the second is picked
                # with Alt+2 and applied by OK.
                # Keep my choices is on the Model page (Alt+M), back to
                # the Edit page with Ctrl+Page Up.
                xdotool(display, "key", "alt+m")
                time.sleep(0.3)
                xdotool(display, "key", "alt+k")
                time.sleep(0.5)
                screen.grab(*geometry(display, window)).savev(
                    os.path.join(out_dir, "plugin-dialog-model-%s.png" % lang), "png", [], [])
                xdotool(display, "key", "ctrl+Page_Up")
                xdotool(display, "key", "alt+p")
                time.sleep(1.0)
                wait_until_stable(screen, rect, seconds=3.0)
                xdotool(display, "key", "alt+2")
                time.sleep(0.5)
                wait_until_stable(screen, rect, seconds=2.0)
            rect = geometry(display, window)
            shot = screen.grab(*rect)
            path = os.path.join(out_dir, "plugin-dialog-%s.png" % lang)
            shot.savev(path, "png", [], [])

            if english:
                xdotool(display, "key", "alt+o")
                # The case opens the dialog again on the result: it says
                # how the layer was made; Regenerate Layer makes it again.
                wait_closed(display, window)
                window = find_dialog(display, gimp, timeout=240)
                xdotool(display, "mousemove", str(SCREEN[0] - 1), str(SCREEN[1] - 1))
                time.sleep(1.0)
                rect = geometry(display, window)
                wait_until_stable(screen, rect)
                made = screen.grab(*rect)
                made.savev(os.path.join(out_dir, "plugin-dialog-made-%s.png" % lang),
                           "png", [], [])
                made_height = rect[3]
                # Regenerate Layer is on the Made with CoCoEdit page, the
                # one after Model (Alt+M, then Ctrl+Page Down).
                xdotool(display, "windowfocus", "--sync", window)
                xdotool(display, "key", "alt+m")
                time.sleep(0.3)
                xdotool(display, "key", "ctrl+Page_Down")
                time.sleep(0.5)
                made_page = screen.grab(*geometry(display, window))
                made_page.savev(os.path.join(out_dir, "plugin-dialog-made-page-%s.png" % lang),
                                "png", [], [])
                xdotool(display, "key", "alt+y")
            else:
                xdotool(display, "windowfocus", "--sync", window)
                xdotool(display, "key", "Escape")
            gimp.wait(timeout=240)
        except Exception:
            if gimp.poll() is None:
                gimp.kill()
            reader.join()
            print(holder.get("output", ""))
            raise
        finally:
            if gimp.poll() is None:
                gimp.kill()
            reader.join()

        output = holder.get("output", "")
        problems = []
        if (gimp.returncode != 0 or "COCOEDIT-TEST PASS dialog" not in output
                or os.environ.get("COCOEDIT_TEST_VERBOSE")):
            print(output)
            problems.append("GIMP case failed (exit %s)" % gimp.returncode)
        width, height = rect[2], rect[3]
        if not (400 <= width <= SCREEN[0] and 300 <= height <= SCREEN[1]):
            problems.append("window size %dx%d" % (width, height))
        # It fits a 1366 x 768 screen with a panel and a title bar.
        for name, h in (("dialog", height), ("on a CoCoEdit layer", made_height)):
            if h > MAX_HEIGHT:
                problems.append("%s %d px tall (at most %d)" % (name, h, MAX_HEIGHT))
        colours = pixbuf_stats(shot)
        if colours < 64:
            problems.append("window not drawn: %d colours" % colours)
        if not english and title == ENGLISH_TITLE:
            problems.append("title not translated: %r" % title)
        print("%-6s %4dx%-4d %5d colours  %r  %s" % (
            lang, width, height, colours, title, "ok" if not problems else problems))
        return problems
    finally:
        shutil.rmtree(root, ignore_errors=True)


def copy_if_changed(source, dest):
    """Copies a picture unless @dest already shows the same pixels (PNG
    files of equal pixels differ in their time stamps)."""
    if not os.path.isfile(source):
        return
    if os.path.isfile(dest):
        import gi
        gi.require_version("GdkPixbuf", "2.0")
        from gi.repository import GdkPixbuf
        a = GdkPixbuf.Pixbuf.new_from_file(source)
        b = GdkPixbuf.Pixbuf.new_from_file(dest)
        if ((a.get_width(), a.get_height(), a.get_n_channels()) ==
                (b.get_width(), b.get_height(), b.get_n_channels()) and
                a.read_pixel_bytes().get_data() == b.read_pixel_bytes().get_data()):
            return
    shutil.copy2(source, dest)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--po-dir", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help="folder for the screenshots")
    parser.add_argument("--languages", default="en,de,fr,es,ja,zh_CN")
    args = parser.parse_args()

    for tool in ("Xvfb", "xdotool", "gimp-console-3.0"):
        if shutil.which(tool) is None:
            print("%s is not installed" % tool)
            return 77

    os.makedirs(args.out, exist_ok=True)
    xvfb, display = harness.start_xvfb(SCREEN)
    failures = []
    try:
        screen = Screen(display)
        for lang in args.languages.split(","):
            problems = run_language(args, display, screen, lang, args.out)
            failures += ["%s: %s" % (lang, p) for p in problems]
    finally:
        xvfb.terminate()
        xvfb.wait()

    print("screenshots in %s" % args.out)
    for failure in failures:
        print("FAILED", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
