#!/usr/bin/env python3
"""What a user may do while an edit runs, done the way a user does it.

GIMP runs with its user interface under Xvfb.  A batch command makes an
image (one layer, a selection, nothing unsaved) and shows it; then the
edit is started as users start it, from Filters > CoCoEdit > Edit with
Instruction… (a plug-in started from the menu runs beside GIMP; one that
a script calls keeps GIMP busy, so GIMP defers a close until it returns),
the instruction typed, Steps set to 1, OK pressed.  The model is the tiny
FLUX.1 Kontext folder of tests/golden, slow enough on this CPU (about a
minute) to act while it runs.  Three seconds after OK:

  close         Ctrl+W in the image window.  GIMP must stay up, the
                plug-in must say that the image was closed and change
                nothing (GIMP prints the message: --console-messages), and
                no crash log appears.
  remove_layer  Layer > Delete Layers: the same must hold (the screenshot
                shows the image without layers).
  resize_layer  Layer > Resize Layers to Selection: the plug-in must say
                that the layer changed size (its pixels moved within it).
  quit          Ctrl+Q.  GIMP must exit with 0 within a minute, the
                plug-in's process must be gone with it (no engine left
                computing), and no crash log appears.

In the first three cases the plug-in must notice within STOPPED_WITHIN
seconds, well before the edit would have ended: it stops the edit then.

Screenshots of the screen after each case go to --out.
"""

import argparse
import glob
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
dialog = importlib.machinery.SourceFileLoader(
    "dialog_test", os.path.join(HERE, "dialog-test.py")).load_module()

SCREEN = (1280, 900)
MESSAGE = "removed or its image closed while the edit ran"
RESIZED = "changed size while the edit ran"
STOPPED_WITHIN = 20.0

SETUP = """
import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp
image = Gimp.Image.new(256, 256, Gimp.ImageBaseType.RGB)
layer = Gimp.Layer.new(image, "source", 256, 256, Gimp.ImageType.RGB_IMAGE,
                       100, Gimp.LayerMode.NORMAL)
image.insert_layer(layer, None, 0)
layer.fill(Gimp.FillType.WHITE)
image.select_rectangle(Gimp.ChannelOps.REPLACE, 32, 32, 160, 160)
image.clean_all()
Gimp.Display.new(image)
Gimp.displays_flush()
print("COCOEDIT-READY", flush=True)
"""


class Gimp:
    """GIMP with its user interface on @display, its output collected."""

    def __init__(self, args, display, root):
        harness.make_plugin_folder(root, args.plugin, args.po_dir)
        extra = {"DISPLAY": display, "COCOEDIT_MODEL": args.kontext,
                 "GDK_BACKEND": "x11", "NO_AT_BRIDGE": "1"}
        ns = argparse.Namespace(model=args.kontext, out=root)
        env = harness.gimp_env(root, ns, extra)
        env["DISPLAY"] = display
        self.root = root
        self.display = display
        self.lines = []
        self.proc = subprocess.Popen(
            ["gimp-3.0", "-n", "-d", "-f", "-s", "--console-messages",
             "--batch-interpreter=python-fu-eval", "-b", SETUP],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self):
        return "".join(self.lines)

    def xdotool(self, *args, check=True):
        return dialog.xdotool(self.display, *args, check=check)

    def wait_for(self, condition, timeout, what, alive=True):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition():
                return
            if alive and self.proc.poll() is not None:
                raise RuntimeError("GIMP exited (%d) while waiting for %s"
                                   % (self.proc.returncode, what))
            time.sleep(0.3)
        raise RuntimeError("no %s within %d s" % (what, timeout))

    def plugin_pids(self):
        return harness.plugin_pids(self.root)

    def crash_logs(self):
        return glob.glob(os.path.join(self.root, "gimp3", "CrashLog", "*"))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=10)


def menu_item(gimp, menu, from_end):
    """Opens the @menu-th menu of the image window (F10, then Right) and
    selects its @from_end-th item from the end."""
    gimp.xdotool("key", "F10")
    time.sleep(0.5)
    for _ in range(menu - 1):
        gimp.xdotool("key", "Right")
        time.sleep(0.2)
    for _ in range(from_end):
        gimp.xdotool("key", "Up")
        time.sleep(0.1)


def expect_refused(gimp, screen, out, action, message=MESSAGE):
    """After @action during the edit: the plug-in's message, its end, GIMP
    still up and no crash log; a screenshot named after @action."""
    started = time.time()
    gimp.wait_for(lambda: message in gimp.output(), 300, "message")
    seconds = time.time() - started
    print("the plug-in's message came %.1f s after the %s" % (seconds, action))
    check(seconds < STOPPED_WITHIN,
          "the edit went on for %.1f s after the %s" % (seconds, action))
    gimp.wait_for(lambda: not gimp.plugin_pids(), 30, "end of the plug-in")
    time.sleep(1.0)
    screen.grab(0, 0, *SCREEN).savev(
        os.path.join(out, "mid-edit-%s.png" % action.replace(" ", "-")), "png", [], [])
    check(gimp.proc.poll() is None, "GIMP is gone")
    check(not gimp.crash_logs(), "GIMP wrote a crash log")


def start_edit(gimp, action):
    """Shows the image, starts the edit from the menu with 1 step, waits
    3 s, checks that the edit still runs and focuses the image window for
    @action.  Returns the plug-in's processes."""
    gimp.wait_for(lambda: "COCOEDIT-READY" in gimp.output(), 180, "image")
    found = []
    gimp.wait_for(lambda: found.extend(gimp.xdotool(
        "search", "--onlyvisible", "--name", r"\[Untitled\]",
        check=False).split()) or found, 60, "image window")
    window = found[-1]
    gimp.xdotool("windowfocus", "--sync", window)
    time.sleep(1.0)
    # Filters is the ninth menu; CoCoEdit the last entry in it, its first
    # item Edit with Instruction….
    menu_item(gimp, 9, 1)
    time.sleep(0.3)
    gimp.xdotool("key", "Right")
    time.sleep(0.8)
    gimp.xdotool("key", "Return")
    edit = dialog.find_dialog(gimp.display, gimp.proc)
    gimp.xdotool("windowfocus", "--sync", edit)
    time.sleep(0.5)
    gimp.xdotool("type", "--delay", "15", "make it red")
    gimp.xdotool("key", "alt+t", "ctrl+a")
    gimp.xdotool("type", "1")
    gimp.xdotool("key", "Tab")
    time.sleep(0.5)
    gimp.xdotool("key", "alt+o")
    time.sleep(3.0)
    pids = gimp.plugin_pids()
    check(pids, "the edit was over before the %s" % action)
    gimp.xdotool("windowfocus", "--sync", window)
    return pids


def case_close(gimp, screen, out):
    start_edit(gimp, "close")
    gimp.xdotool("key", "--clearmodifiers", "ctrl+w")
    expect_refused(gimp, screen, out, "close")
    check(not gimp.xdotool("search", "--onlyvisible", "--name", r"\[Untitled\]",
                           check=False), "the image is still shown")


def case_remove_layer(gimp, screen, out):
    start_edit(gimp, "layer removal")
    # Layer > Delete Layers: the sixth menu, its tenth item from the end.
    menu_item(gimp, 6, 10)
    gimp.xdotool("key", "Return")
    expect_refused(gimp, screen, out, "layer removal")


def case_resize_layer(gimp, screen, out):
    start_edit(gimp, "layer resize")
    # Layer > Resize Layers to Selection: its second item from the end.
    menu_item(gimp, 6, 2)
    gimp.xdotool("key", "Return")
    expect_refused(gimp, screen, out, "layer resize", RESIZED)


def case_quit(gimp, screen, out):
    pids = start_edit(gimp, "quit")
    gimp.xdotool("key", "--clearmodifiers", "ctrl+q")
    started = time.time()
    gimp.wait_for(lambda: gimp.proc.poll() is not None, 60, "GIMP's exit",
                  alive=False)
    print("GIMP exited %.1f s after Ctrl+Q with %d"
          % (time.time() - started, gimp.proc.returncode))
    gimp.wait_for(lambda: not any(os.path.exists("/proc/%d" % p) for p in pids),
                  10, "end of the plug-in", alive=False)
    print("the plug-in was gone %.1f s after Ctrl+Q" % (time.time() - started))
    check(gimp.proc.returncode == 0, "GIMP exited with %d" % gimp.proc.returncode)
    check(not gimp.crash_logs(), "GIMP wrote a crash log")


def check(condition, message):
    if not condition:
        raise RuntimeError(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--po-dir")
    parser.add_argument("--kontext", required=True,
                        help="the tiny FLUX.1 Kontext folder")
    parser.add_argument("--out", required=True, help="folder for screenshots")
    parser.add_argument("--cases", default="close,remove_layer,resize_layer,quit")
    args = parser.parse_args()

    for tool in ("Xvfb", "xdotool", "gimp-3.0"):
        if shutil.which(tool) is None:
            print("%s is not installed" % tool)
            return 77
    os.makedirs(args.out, exist_ok=True)

    failures = []
    for name in args.cases.split(","):
        xvfb, display = harness.start_xvfb(SCREEN)
        root = tempfile.mkdtemp(prefix="cocoedit-mid-edit-")
        gimp = None
        try:
            gimp = Gimp(args, display, root)
            globals()["case_" + name](gimp, dialog.Screen(display), args.out)
            print("PASS", name)
        except Exception as e:
            failures.append(name)
            print("FAILED %s: %s" % (name, e))
            if gimp:
                print(gimp.output()[-4000:])
        finally:
            if gimp:
                gimp.close()
            xvfb.terminate()
            xvfb.wait()
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
