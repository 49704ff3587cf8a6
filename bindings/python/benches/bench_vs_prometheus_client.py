#!/usr/bin/env python3
"""Time the hot operations of the bindings against prometheus_client, in one run.

    bindings/python/.venv/bin/python bindings/python/benches/bench_vs_prometheus_client.py

Each operation is a statement run by ``timeit`` in a loop; the figure is the best of several
repeats, in nanoseconds per call, loop overhead included for both sides. The repeats of the two
sides alternate, so that other load on the machine weighs on both alike. The metrics are the
same on both sides: a float counter, a float gauge, a histogram with the default buckets, and
the same three with two variable labels, updated through a dict of label values.

With ``--multiprocess`` both sides run in their multiprocess mode: prometheus_client with
``PROMETHEUS_MULTIPROC_DIR``, ours with ``DYN_METRICS_MULTIPROC_DIR`` (each a fresh directory,
set before either library is imported).
"""

import argparse
import atexit
import os
import platform
import shutil
import sys
import tempfile
import timeit
from importlib.metadata import version

MULTIPROCESS = "--multiprocess" in sys.argv[1:]
if MULTIPROCESS:
    for variable in ("PROMETHEUS_MULTIPROC_DIR", "DYN_METRICS_MULTIPROC_DIR"):
        os.environ[variable] = tempfile.mkdtemp(prefix="bench-")
        atexit.register(shutil.rmtree, os.environ[variable], ignore_errors=True)

import prometheus_client as pc  # noqa: E402

from dynamo.runtime import DistributedRuntime  # noqa: E402

LABELS = {"model": "llama", "size": "7b"}


def setup():
    drt = DistributedRuntime()
    m = drt.namespace("bench").component("bench").endpoint("bench").metrics
    registry = pc.CollectorRegistry()
    ns = {
        "labels": dict(LABELS),
        "d_counter": m.create_counter("c_total", "C"),
        "d_intcounter": m.create_intcounter("ic_total", "IC"),
        "d_gauge": m.create_gauge("g", "G"),
        "d_histogram": m.create_histogram("h", "H"),
        "d_vec": m.create_countervec("v_total", "V", list(LABELS)),
        "d_gaugevec": m.create_gaugevec("gv", "GV", list(LABELS)),
        "d_histogramvec": m.create_histogramvec("hv", "HV", list(LABELS)),
        "p_counter": pc.Counter("c", "C", registry=registry),
        "p_gauge": pc.Gauge("g", "G", registry=registry),
        "p_histogram": pc.Histogram("h", "H", registry=registry),
        "p_vec": pc.Counter("v", "V", list(LABELS), registry=registry),
        "p_gaugevec": pc.Gauge("gv", "GV", list(LABELS), registry=registry),
        "p_histogramvec": pc.Histogram("hv", "HV", list(LABELS), registry=registry),
    }
    return drt, ns


CASES = [
    # (operation, dynamo statement, prometheus_client statement, goal)
    ("counter inc", "d_counter.inc()", "p_counter.inc()", 10),
    ("counter inc_by", "d_counter.inc_by(2.5)", "p_counter.inc(2.5)", 10),
    ("intcounter inc", "d_intcounter.inc()", "p_counter.inc()", 10),
    ("counter inc_by an int", "d_counter.inc_by(3)", "p_counter.inc(3)", 10),
    ("gauge set", "d_gauge.set(42.0)", "p_gauge.set(42.0)", 10),
    ("gauge set an int", "d_gauge.set(42)", "p_gauge.set(42)", 10),
    ("histogram observe", "d_histogram.observe(0.023)", "p_histogram.observe(0.023)", 10),
    ("vec inc with a dict", "d_vec.inc(labels)", "p_vec.labels(**labels).inc()", 20),
    (
        "gauge vec set with a dict",
        "d_gaugevec.set(42.0, labels)",
        "p_gaugevec.labels(**labels).set(42.0)",
        20,
    ),
    (
        "histogram vec observe with a dict",
        "d_histogramvec.observe(0.023, labels)",
        "p_histogramvec.labels(**labels).observe(0.023)",
        20,
    ),
    # For reference: prometheus_client's fastest form, label values by position.
    (
        "vec inc, their positional labels",
        "d_vec.inc(labels)",
        "p_vec.labels('llama', '7b').inc()",
        None,
    ),
]


def best_ns(statements, ns, number, repeat):
    """The best time per call of each statement, their repeats interleaved."""
    timers = [timeit.Timer(stmt, globals=ns) for stmt in statements]
    best = [float("inf")] * len(timers)
    for _ in range(repeat):
        for i, timer in enumerate(timers):
            best[i] = min(best[i], timer.timeit(number))
    return [b / number * 1e9 for b in best]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats; the best is kept")
    parser.add_argument(
        "--multiprocess", action="store_true", help="both libraries in multiprocess mode"
    )
    args = parser.parse_args()

    _drt, ns = setup()
    print(
        f"Python {platform.python_version()} ({sys.implementation.name}), "
        f"prometheus_client {version('prometheus-client')}, "
        f"dynamo-runtime {version('dynamo-runtime')}"
    )
    mode = ", both in multiprocess mode" if MULTIPROCESS else ""
    print(f"best of {args.repeat} x {args.number} calls, ns per call{mode}\n")
    print("| operation | dynamo | prometheus_client | speed-up | goal |")
    print("|---|---:|---:|---:|---:|")
    failed = []
    for name, ours, theirs, goal in CASES:
        d, p = best_ns([ours, theirs], ns, args.number, args.repeat)
        ratio = p / d
        if goal is None:
            print(f"| {name} | {d:.0f} | {p:.0f} | {ratio:.1f}x | - |")
            continue
        mark = "ok" if ratio >= goal else "MISSED"
        if ratio < goal:
            failed.append(name)
        print(f"| {name} | {d:.0f} | {p:.0f} | {ratio:.1f}x | {goal}x {mark} |")
    if failed:
        print(f"\ngoals missed: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
