#!/usr/bin/env python3
"""Counts the instructions of each hot path, ours beside the prometheus crate's.

Usage: python3 benches/instructions.py [--multiprocess]   (from any directory; needs valgrind)

Builds `benches/src/bin/instructions.rs` in release mode and runs each case under valgrind's
callgrind with N and with 2N calls (N = 100,000, or 5 renders of a whole page); the
difference over N is the count per call, without the set-up. Unlike times, these counts do
not move with the host's load.

With --multiprocess, our cases run a second time in multiprocess mode (DYN_METRICS_MULTIPROC_DIR
set to a fresh directory, so every cell lives in a file mapped into memory) and the table shows
both counts side by side.
"""

import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "instructions"
CALLS = 100_000
# A render of a whole page runs millions of instructions: a few are enough.
RENDERS = 5


def collected(case, calls, multiprocess=False):
    callgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    env = {k: v for k, v in os.environ.items() if k != "DYN_METRICS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory(prefix="instructions-") as directory:
        if multiprocess:
            env["DYN_METRICS_MULTIPROC_DIR"] = directory
        run = subprocess.run(
            [*callgrind, BINARY, case, str(calls)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def main():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "dynamo-benches", "--bin", "instructions"],
        cwd=ROOT,
        check=True,
    )
    cases = subprocess.run([BINARY, "--list"], capture_output=True, text=True, check=True)
    multiprocess = "--multiprocess" in sys.argv[1:]
    if multiprocess:
        print("| case | instructions per call | in multiprocess mode |")
        print("|---|---:|---:|")
    else:
        print("| case | instructions per call |")
        print("|---|---:|")
    for case in cases.stdout.split():
        calls = RENDERS if case.startswith("render_") else CALLS
        per_call = (collected(case, 2 * calls) - collected(case, calls)) / calls
        row = f"| {case} | {per_call:.0f} |"
        if multiprocess:
            if "/ours" in case and not case.startswith("render_"):
                mp = collected(case, 2 * calls, True) - collected(case, calls, True)
                row += f" {mp / calls:.0f} |"
            else:
                row += " |"
        print(row)


if __name__ == "__main__":
    main()
