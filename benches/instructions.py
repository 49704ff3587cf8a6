#!/usr/bin/env python3
"""Counts the instructions of each hot path, ours beside the prometheus crate's.

Usage: python3 benches/instructions.py   (from any directory; needs valgrind)

Builds `benches/src/bin/instructions.rs` in release mode and runs each case under valgrind's
callgrind with N and with 2N calls (N = 100,000, or 5 renders of a whole page); the
difference over N is the count per call, without the set-up. Unlike times, these counts do
not move with the host's load.
"""

import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "instructions"
CALLS = 100_000
# A render of a whole page runs millions of instructions: a few are enough.
RENDERS = 5


def collected(case, calls):
    callgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    run = subprocess.run(
        [*callgrind, BINARY, case, str(calls)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def main():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "dynamo-benches", "--bin", "instructions"],
        cwd=ROOT,
        check=True,
    )
    cases = subprocess.run([BINARY, "--list"], capture_output=True, text=True, check=True)
    print("| case | instructions per call |")
    print("|---|---:|")
    for case in cases.stdout.split():
        calls = RENDERS if case.startswith("render_") else CALLS
        per_call = (collected(case, 2 * calls) - collected(case, calls)) / calls
        print(f"| {case} | {per_call:.0f} |")


if __name__ == "__main__":
    main()
