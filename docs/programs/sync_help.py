#!/usr/bin/env python3
"""sync_help.py - the `--help` blocks of docs/programs/*.md are the programs' own text.

Each page shows its program's `--help` (options, examples, exit codes) in a fenced block
that opens with a command line:

    ```console
    $ mlhep-root dump --help
    ...the output...
    ```

The text under the command line is the program's output, written here, so the pages
cannot drift from the programs (whose --help tests/cli/help.sh checks against their
option tables):

    python3 docs/programs/sync_help.py --write   # after changing a usage text
    python3 docs/programs/sync_help.py --check   # tests/cli/docs_help.sh: PASS/FAIL per page

The programs are taken from $MLHEP_BIN (the test runner's sanitizer build), else bin/.
"""
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
FENCE_OPEN = "```console"
CMD = re.compile(r"^\$ (mlhep-[a-z]+(?: [a-z]+)?) --help$")


def help_text(binary_dir, cmd):
    prog, *sub = cmd.split()
    out = subprocess.run([os.path.join(binary_dir, prog), *sub, "--help"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=60,
                         env=dict(os.environ, MLHEP_CONFIG="", MLHEP_TOKEN=""))
    if out.returncode != 0:
        raise RuntimeError("%s --help: exit %d: %s" % (cmd, out.returncode, out.stderr.strip()))
    return out.stdout.rstrip("\n").split("\n")


def sync(page, binary_dir):
    """(new text, commands whose block differed, commands found)"""
    lines = open(page, encoding="utf-8").read().split("\n")
    out, stale, found, i = [], [], [], 0
    while i < len(lines):
        out.append(lines[i])
        m = CMD.match(lines[i + 1]) if lines[i] == FENCE_OPEN and i + 1 < len(lines) else None
        if not m:
            i += 1
            continue
        out.append(lines[i + 1])
        j = i + 2
        while j < len(lines) and lines[j] != "```":
            j += 1
        if j == len(lines):
            raise RuntimeError("%s: the block of '%s' is not closed" % (page, m.group(1)))
        want = help_text(binary_dir, m.group(1))
        found.append(m.group(1))
        if lines[i + 2:j] != want:
            stale.append(m.group(1))
        out.extend(want)
        i = j
    return "\n".join(out), stale, found


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    if mode not in ("--check", "--write"):
        print(__doc__)
        return 2
    binary_dir = os.environ.get("MLHEP_BIN") or os.path.join(TOP, "bin")
    failed = 0
    for page in sorted(glob.glob(os.path.join(HERE, "*.md"))):
        rel = os.path.relpath(page, TOP)
        try:
            text, stale, found = sync(page, binary_dir)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            print("FAIL docs help: %s: %s" % (rel, e))
            failed += 1
            continue
        if mode == "--write":
            if stale:
                open(page, "w", encoding="utf-8").write(text)
            print("%s: %d help block(s), %d rewritten" % (rel, len(found), len(stale)))
        elif stale:
            print("FAIL docs help: %s: the --help of %s differs from the program's (run python3 "
                  "docs/programs/sync_help.py --write)" % (rel, ", ".join(stale)))
            failed += 1
        else:
            print("PASS docs help: %s shows the current --help of %s" % (rel, ", ".join(found) or "nothing"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
