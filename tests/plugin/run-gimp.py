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
import glob
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


def plugin_pids(root):
    """The CoCoEdit plug-in processes of the GIMP whose folders are under
    @root (others may run beside a test)."""
    pids = []
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(comm) as f:
                if f.read().strip() != "cocoedit-gimp":
                    continue
            with open(os.path.join(os.path.dirname(comm), "environ"), "rb") as f:
                if root.encode() in f.read():
                    pids.append(int(comm.split("/")[2]))
        except OSError:
            pass
    return pids


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


# A GIMP folder in which GIMP has run once (plug-ins queried, fonts
# cached): copying it saves every test most of GIMP's first start.
PROFILE_CACHE = os.environ.get("COCOEDIT_GIMP_PROFILE_CACHE")


def warm_profile(cache):
    import fcntl
    os.makedirs(os.path.dirname(cache) or ".", exist_ok=True)
    with open(cache + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(cache, "ready")):
            return cache
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(os.path.join(cache, "plug-ins"))
        env = gimp_env(cache, argparse.Namespace(model="", out=None),
                       template=False)
        subprocess.run(["gimp-console-3.0", "-i", "-n", "-d", "-f", "--quit",
                        "--batch-interpreter=python-fu-eval", "-b", "print(1)"],
                       env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300)
        open(os.path.join(cache, "ready"), "w").close()
    return cache


def make_gimp_dir(root, template=True):
    home = os.path.join(root, "home")
    gimp_dir = os.path.join(root, "gimp3")
    if template and PROFILE_CACHE:
        cache = warm_profile(PROFILE_CACHE)
        shutil.copytree(os.path.join(cache, "home"), home, symlinks=True)
        shutil.copytree(os.path.join(cache, "gimp3"), gimp_dir, symlinks=True)
    else:
        os.makedirs(home)
        os.makedirs(gimp_dir)
    with open(os.path.join(gimp_dir, "gimprc"), "w") as f:
        f.write('(plug-in-path "%s:${gimp_plug_in_dir}/plug-ins")\n'
                % os.path.join(root, "plug-ins"))
        f.write("(show-welcome-dialog no)\n(show-tips no)\n")
    return home, gimp_dir


def gimp_env(root, args, extra=None, template=True):
    home, gimp_dir = make_gimp_dir(root, template)
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
    env["NO_AT_BRIDGE"] = "1"
    if extra:
        env.update(extra)
    return env


def start_xvfb(size=(1280, 900)):
    """Starts Xvfb on a free display; returns the process and the display."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
         "%dx%dx24" % size, "-nolisten", "tcp", "-br"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read_fd, 16)
        if not chunk:
            raise RuntimeError("Xvfb did not start")
        number += chunk
    os.close(read_fd)
    return xvfb, ":" + number.decode().strip()


def gimp_command(case, gui=False):
    script = os.path.join(HERE, "cases.py")
    batch = "exec(open(%r).read()); run_case(%r)" % (script, case)
    if gui:
        return ["gimp-3.0", "-n", "-d", "-f", "-s", "--quit",
                "--batch-interpreter=python-fu-eval", "-b", batch]
    return ["gimp-console-3.0", "-i", "-n", "-d", "-f", "--quit",
            "--batch-interpreter=python-fu-eval", "-b", batch]


def run_gimp(case, env, timeout, gui=False):
    cmd = gimp_command(case, gui)
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
    parser.add_argument("--compare-lang",
                        help="run the case again in this language; the "
                             "COCOEDIT-DIGEST lines must agree")
    parser.add_argument("--gui", action="store_true",
                        help="run GIMP with its user interface under Xvfb")
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
        xvfb = None
        if args.gui:
            if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
                print("Xvfb and xdotool are needed")
                return 77
            xvfb, extra["DISPLAY"] = start_xvfb()
        env = gimp_env(root, args, extra)
        try:
            rc, output = run_gimp(args.case, env, args.timeout, args.gui)
        finally:
            if xvfb:
                xvfb.terminate()
                xvfb.wait()
        print(output)
        marker = "COCOEDIT-TEST PASS %s" % args.case
        if rc != 0 or marker not in output:
            print("FAILED: gimp exited with %d, pass marker %s"
                  % (rc, "found" if marker in output else "missing"))
            return 1
        if args.compare_lang:
            # Same edit in another locale (French writes 0,5): the numbers
            # must reach the engine unchanged, so the pixels must agree.
            other = os.path.join(root, "again")
            os.makedirs(other)
            make_plugin_folder(other, args.plugin, args.po_dir)
            extra.update(locale_env(args.compare_lang, root))
            rc2, output2 = run_gimp(args.case, gimp_env(other, args, extra),
                                    args.timeout, args.gui)
            print(output2)
            digests = [[line for line in out.splitlines()
                        if line.startswith("COCOEDIT-DIGEST")]
                       for out in (output, output2)]
            print("digests:", digests)
            if args.compare_lang == "fr" and "COCOEDIT-DECIMAL-POINT ," not in output2:
                print("FAILED: the French locale was not in effect")
                return 1
            if rc2 != 0 or not digests[0] or digests[0] != digests[1]:
                print("FAILED: results differ between the C locale and %s"
                      % args.compare_lang)
                return 1
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
