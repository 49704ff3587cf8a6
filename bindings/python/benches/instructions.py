#!/usr/bin/env python3
"""Count the instructions of each scalar call, ours beside prometheus_client's.

    bindings/python/.venv/bin/python bindings/python/benches/instructions.py   (needs valgrind)

Each case runs under valgrind's callgrind with 10,000 and with 60,000 calls in a list
comprehension; the difference over 50,000, less that of an empty comprehension, is the count
per call, without the interpreter's start-up or the loop. Unlike times, these counts do not
move with the host's load; the interpreter runs with a fixed hash seed (`PYTHONHASHSEED=0`),
without which its string hashing moves a call's count by a dozen instructions from run to run.
"""

import os
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


def main():
    loop = per_call(CASES["loop"])
    print("| call | instructions per call |")
    print("|---|---:|")
    for name, statement in CASES.items():
        if name != "loop":
            print(f"| {name} | {per_call(statement) - loop:.0f} |")


if __name__ == "__main__":
    main()
