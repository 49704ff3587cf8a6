#!/usr/bin/env python3
"""Counts the instructions of each hot path, ours beside the prometheus crate's.

Usage: python3 benches/instructions.py [--multiprocess | --check]   (needs valgrind)

Builds `benches/src/bin/instructions.rs` in release mode and runs each case under valgrind's
callgrind with N and with 2N calls (N = 100,000, or 5 renders of a whole page); the
difference over N is the count per call, without the set-up. Unlike times, these counts do
not move with the host's load.

With --multiprocess, our cases run a second time in multiprocess mode (DYN_METRICS_MULTIPROC_DIR
set to a fresh directory, so every cell lives in a file mapped into memory) and the table shows
both counts side by side.

With --check, only our cases run, each against its budget in
`benches/instruction_budgets.txt`: the run fails when a hot path runs more than its budget
plus the tolerance (`TOLERANCE`, a share of the budget, and at least `SLACK` instructions, for
the small moves of another compiler release). Lower a budget when a change saves instructions.
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
BUDGETS = ROOT / "benches" / "instruction_budgets.txt"
# A hot path may run this share of its budget more, and at least SLACK instructions more.
TOLERANCE = 0.05
SLACK = 3


def collected(case, calls, multiprocess=False):
    # Only the calls are counted (the case's `measured` loop), not the set-up.
    callgrind = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--toggle-collect=*instructions::measured*",
    ]
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


def budgets():
    """The budget of each case: `case instructions` lines, `#` comments."""
    out = {}
    for line in BUDGETS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            case, budget = line.split()
            out[case] = int(budget)
    return out


def check(cases):
    """Counts our cases and compares each with its budget; the exit status says if all kept it."""
    budget_of = budgets()
    ours = [case for case in cases if "/ours" in case]
    unbudgeted = sorted(set(ours) - set(budget_of))
    failed = []
    print("| case | instructions per call | budget | allowed |")
    print("|---|---:|---:|---:|")
    for case in ours:
        if case not in budget_of:
            continue
        calls = RENDERS if case.startswith("render_") else CALLS
        per_call = (collected(case, 2 * calls) - collected(case, calls)) / calls
        budget = budget_of[case]
        allowed = budget + max(SLACK, budget * TOLERANCE)
        print(f"| {case} | {per_call:.0f} | {budget} | {allowed:.0f} |")
        if per_call > allowed:
            failed.append(f"{case}: {per_call:.0f} instructions per call, budget {budget}")
    for case in unbudgeted:
        failed.append(f"{case}: no budget in {BUDGETS.name}")
    for case in sorted(set(budget_of) - set(cases)):
        failed.append(f"{case}: a budget for no case")
    if failed:
        print("\nOver budget:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)


def main():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "dynamo-benches", "--bin", "instructions"],
        cwd=ROOT,
        check=True,
    )
    cases = subprocess.run([BINARY, "--list"], capture_output=True, text=True, check=True)
    if "--check" in sys.argv[1:]:
        check(cases.stdout.split())
        return
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
