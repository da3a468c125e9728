#!/usr/bin/env python3
"""Run one plug-in test case inside a real, headless GIMP 3.

Sets up a private GIMP folder (HOME, GIMP3_DIRECTORY, gimprc) whose
plug-in path holds a plug-in folder assembled from this build (the
executable and its message catalogs, laid out as `meson install` lays
them out) followed by the system plug-in folder, then runs
gimp-console-3.0 with the Python batch interpreter on tests/plugin/cases.py.
A case passes when GIMP exits with 0 and the case printed its PASS line.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN = "cocoedit-gimp"


def make_plugin_folder(root, plugin_exe, po_dir):
    folder = os.path.join(root, "plug-ins", PLUGIN)
    os.makedirs(folder)
    shutil.copy2(plugin_exe, os.path.join(folder, PLUGIN))
    languages = []
    if po_dir and os.path.isdir(po_dir):
        for lang in os.listdir(po_dir):
            mo = os.path.join(po_dir, lang, "LC_MESSAGES", PLUGIN + ".mo")
            if os.path.isfile(mo):
                dest = os.path.join(folder, "locale", lang, "LC_MESSAGES")
                os.makedirs(dest)
                shutil.copy2(mo, dest)
                languages.append(lang)
    return folder, languages


LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES",
           "ja": "ja_JP", "zh_CN": "zh_CN"}


def locale_env(lang, cache):
    """Environment for running GIMP in @lang.  gettext ignores LANGUAGE
    under the C locale, and the build root has no locales generated, so
    the locale is compiled into a private LOCPATH."""
    name = LOCALES.get(lang, lang) + ".UTF-8"
    locpath = os.path.join(cache, "locales")
    if not os.path.isdir(os.path.join(locpath, name)):
        os.makedirs(locpath, exist_ok=True)
        subprocess.run(["localedef", "-i", name.split(".")[0], "-f", "UTF-8",
                        os.path.join(locpath, name)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"LOCPATH": locpath, "LANG": name, "LC_ALL": name, "LANGUAGE": lang}


def make_gimp_dir(root):
    home = os.path.join(root, "home")
    gimp_dir = os.path.join(root, "gimp3")
    os.makedirs(home)
    os.makedirs(gimp_dir)
    with open(os.path.join(gimp_dir, "gimprc"), "w") as f:
        f.write('(plug-in-path "%s:${gimp_plug_in_dir}/plug-ins")\n'
                % os.path.join(root, "plug-ins"))
        f.write("(show-welcome-dialog no)\n(show-tips no)\n")
    return home, gimp_dir


def gimp_env(root, args, extra=None):
    home, gimp_dir = make_gimp_dir(root)
    env = dict(os.environ)
    env.update({
        "HOME": home,
        "GIMP3_DIRECTORY": gimp_dir,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
        "COCOEDIT_TEST_MODEL": args.model,
        "COCOEDIT_TEST_OUT": args.out or root,
        "OMP_NUM_THREADS": "1",
    })
    env.pop("COCOEDIT_MODEL", None)
    env.pop("DISPLAY", None)
    if extra:
        env.update(extra)
    return env


def run_gimp(case, env, timeout, extra_args=()):
    script = os.path.join(HERE, "cases.py")
    batch = "exec(open(%r).read()); run_case(%r)" % (script, case)
    cmd = ["gimp-console-3.0", "-i", "-n", "-d", "-f", "--quit",
           "--batch-interpreter=python-fu-eval", "-b", batch, *extra_args]
    proc = subprocess.run(cmd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace")
    return proc.returncode, proc.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--po-dir")
    parser.add_argument("--model", required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--out", help="folder for artifacts")
    parser.add_argument("--env", action="append", default=[],
                        help="NAME=VALUE for GIMP's environment")
    parser.add_argument("--lang", help="run GIMP in this language")
    parser.add_argument("--timeout", type=int, default=240)
    args = parser.parse_args()

    if shutil.which("gimp-console-3.0") is None:
        print("gimp-console-3.0 is not installed")
        return 77
    if args.out:
        os.makedirs(args.out, exist_ok=True)

    root = tempfile.mkdtemp(prefix="cocoedit-gimp-test-")
    try:
        make_plugin_folder(root, args.plugin, args.po_dir)
        extra = dict(e.split("=", 1) for e in args.env)
        if args.lang:
            extra.update(locale_env(args.lang, root))
        env = gimp_env(root, args, extra)
        rc, output = run_gimp(args.case, env, args.timeout)
        # GIMP's own chatter is noise; show what matters on failure.
        print(output)
        marker = "COCOEDIT-TEST PASS %s" % args.case
        if rc != 0 or marker not in output:
            print("FAILED: gimp exited with %d, pass marker %s"
                  % (rc, "found" if marker in output else "missing"))
            return 1
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
