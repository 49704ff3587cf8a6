#!/usr/bin/env python3
"""Count the instructions of each scalar call, ours beside prometheus_client's.

    bindings/python/.venv/bin/python bindings/python/benches/instructions.py [--check]
    (needs valgrind)

Each case runs under valgrind's callgrind with 10,000 and with 60,000 calls in a list
comprehension; the difference over 50,000, less that of an empty comprehension, is the count
per call, without the interpreter's start-up or the loop. Unlike times, these counts do not
move with the host's load; the interpreter runs with a fixed hash seed (`PYTHONHASHSEED=0`),
without which its string hashing moves a call's count by a dozen instructions from run to run.

With --check, only our calls run, each against its budget in `instruction_budgets.txt` beside
this script: the run fails when a call runs more than its budget plus the tolerance
(`TOLERANCE` of the budget, at least `SLACK` instructions: another Python or compiler release
moves counts a little). Lower a budget when a change saves instructions.
"""

import os
import pathlib
import re
import subprocess
import sys

CASES = {
    "loop": "None",
    "counter inc": "d_counter.inc()",
    "counter inc_by": "d_counter.inc_by(2.5)",
    "counter inc_by an int": "d_counter.inc_by(3)",
    "gauge set": "d_gauge.set(42.0)",
    "gauge set an int": "d_gauge.set(42)",
    "histogram observe": "d_histogram.observe(0.023)",
    "prometheus_client counter inc(2.5)": "p_counter.inc(2.5)",
    "prometheus_client gauge set(42.0)": "p_gauge.set(42.0)",
}

BUDGETS = pathlib.Path(__file__).resolve().parent / "instruction_budgets.txt"
# A call may run this share of its budget more, and at least SLACK instructions more.
TOLERANCE = 0.05
SLACK = 5

PROGRAM = """
import sys
import prometheus_client as pc
from dynamo.runtime import DistributedRuntime

drt = DistributedRuntime()
m = drt.namespace("bench").component("bench").endpoint("bench").metrics
d_counter = m.create_counter("c_total", "C")
d_gauge = m.create_gauge("g", "G")
d_histogram = m.create_histogram("h", "H")
registry = pc.CollectorRegistry()
p_counter = pc.Counter("c", "C", registry=registry)
p_gauge = pc.Gauge("g", "G", registry=registry)
calls = int(sys.argv[1])
[{statement} for _ in range(calls)]
"""


def collected(statement, calls):
    run = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            PROGRAM.format(statement=statement),
            str(calls),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONHASHSEED="0"),
    )
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def per_call(statement):
    return (collected(statement, 60_000) - collected(statement, 10_000)) / 50_000


def budgets():
    """The budget of each call: `name: instructions` lines, `#` comments."""
    out = {}
    for line in BUDGETS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, budget = line.rsplit(":", 1)
            out[name.strip()] = int(budget)
    return out


def check():
    """Counts our calls against their budgets; the exit status says if all kept them."""
    budget_of = budgets()
    ours = [name for name in CASES if name != "loop" and not name.startswith("prometheus_client")]
    failed = [f"{name}: no budget in {BUDGETS.name}" for name in ours if name not in budget_of]
    failed += [f"{name}: a budget for no call" for name in budget_of if name not in ours]
    loop = per_call(CASES["loop"])
    print("| call | instructions per call | budget | allowed |")
    print("|---|---:|---:|---:|")
    for name in ours:
        if name not in budget_of:
            continue
        count = per_call(CASES[name]) - loop
        budget = budget_of[name]
        allowed = budget + max(SLACK, budget * TOLERANCE)
        print(f"| {name} | {count:.0f} | {budget} | {allowed:.0f} |")
        if count > allowed:
            failed.append(f"{name}: {count:.0f} instructions per call, budget {budget}")
    if failed:
        print("\nOver budget:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)


def main():
    if "--check" in sys.argv[1:]:
        check()
        return
    loop = per_call(CASES["loop"])
    print("| call | instructions per call |")
    print("|---|---:|")
    for name, statement in CASES.items():
        if name != "loop":
            print(f"| {name} | {per_call(statement) - loop:.0f} |")


if __name__ == "__main__":
    main()
