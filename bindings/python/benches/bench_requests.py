#!/usr/bin/env python3
"""Time request tracking and the timers against prometheus_client, in one process.

    bindings/python/.venv/bin/python bindings/python/benches/bench_requests.py --runs 5

Each operation is a statement run by ``timeit`` in a loop; a run keeps the best of several
repeats, in nanoseconds per call, the two sides' repeats interleaved so that other load on the
machine weighs on both alike. The report gives the min, median and max over the runs of each
side's figure and of the speed-up (theirs / ours, computed per run).

The request guard, ``with endpoint.track_request():``, counts the request, keeps it in flight,
and observes its duration in a histogram of 17 buckets. prometheus_client's closest form is
``time()`` on a histogram with the same buckets plus ``track_inprogress()`` on a gauge; the
goal is to be 10 times faster than that. A second row adds its counter ``inc()``, for the same
three updates as the guard.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import timeit
from importlib.metadata import version

import prometheus_client as pc

from dynamo.runtime import DistributedRuntime

BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600]


def setup() -> tuple[DistributedRuntime, dict]:
    drt = DistributedRuntime()
    endpoint = drt.namespace("bench").component("bench").endpoint("bench")
    endpoint.create_request_metrics()
    m = drt.namespace("bench").component("bench").endpoint("hand").metrics
    registry = pc.CollectorRegistry()
    ns: dict = {
        "endpoint": endpoint,
        "d_requests": m.create_intcounter("hand_requests_total", "R"),
        "d_inflight": m.create_intgauge("hand_inflight_requests", "I"),
        "d_hist": m.create_histogram("hand_request_duration_seconds", "D", buckets=BUCKETS),
        "d_gauge": m.create_gauge("busy", "B"),
        "d_counter": m.create_counter("failures_total", "F"),
        "p_requests": pc.Counter("requests", "R", registry=registry),
        "p_inflight": pc.Gauge("inflight_requests", "I", registry=registry),
        "p_hist": pc.Histogram("request_duration_seconds", "D", buckets=BUCKETS, registry=registry),
        "p_counter": pc.Counter("failures", "F", registry=registry),
        "perf_counter": __import__("time").perf_counter,
    }

    @endpoint.track_requests
    def d_handler() -> None:
        pass

    @ns["p_hist"].time()
    @ns["p_inflight"].track_inprogress()
    def p_handler() -> None:
        pass

    ns["d_handler"], ns["p_handler"] = d_handler, p_handler
    return drt, ns


CASES = [
    # (operation, dynamo statement, prometheus_client statement, goal)
    (
        "request guard vs time() + track_inprogress()",
        "with endpoint.track_request(): pass",
        "with p_hist.time(), p_inflight.track_inprogress(): pass",
        10,
    ),
    (
        "request guard vs inc() + time() + track_inprogress()",
        "with endpoint.track_request(): pass",
        "p_requests.inc()\nwith p_hist.time(), p_inflight.track_inprogress(): pass",
        None,
    ),
    (
        "decorated call: track_requests vs time() + track_inprogress()",
        "d_handler()",
        "p_handler()",
        None,
    ),
    ("with hist.time()", "with d_hist.time(): pass", "with p_hist.time(): pass", None),
    (
        "with gauge.track_inprogress()",
        "with d_gauge.track_inprogress(): pass",
        "with p_inflight.track_inprogress(): pass",
        None,
    ),
    (
        "with counter.count_exceptions()",
        "with d_counter.count_exceptions(): pass",
        "with p_counter.count_exceptions(): pass",
        None,
    ),
]

# The guard beside the same three updates written by hand with our metrics.
HAND_WRITTEN = (
    "d_requests.inc()\n"
    "d_inflight.inc()\n"
    "t = perf_counter()\n"
    "d_inflight.dec()\n"
    "d_hist.observe(perf_counter() - t)"
)


def best_ns(statements: list[str], ns: dict, number: int, repeat: int) -> list[float]:
    """The best time per call of each statement, their repeats interleaved."""
    timers = [timeit.Timer(stmt, globals=ns) for stmt in statements]
    best = [float("inf")] * len(timers)
    for _ in range(repeat):
        for i, timer in enumerate(timers):
            best[i] = min(best[i], timer.timeit(number))
    return [b / number * 1e9 for b in best]


def spread(values: list[float], fmt: str) -> str:
    return "/".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=5, help="repeats per run; the best is kept")
    parser.add_argument("--runs", type=int, default=5, help="runs; min/median/max reported")
    args = parser.parse_args()

    _drt, ns = setup()
    print(
        f"Python {platform.python_version()} ({sys.implementation.name}), "
        f"prometheus_client {version('prometheus-client')}, "
        f"dynamo-runtime {version('dynamo-runtime')}"
    )
    print(
        f"{args.runs} runs, each the best of {args.repeat} x {args.number} calls; "
        "ns per call and speed-up as min/median/max over the runs\n"
    )
    print("| operation | dynamo (ns) | prometheus_client (ns) | speed-up | goal |")
    print("|---|---:|---:|---:|---:|")
    failed = []
    rows = [(name, ours, theirs, goal) for name, ours, theirs, goal in CASES]
    rows.append(
        ("request guard vs the same updates by hand (ours)", CASES[0][1], HAND_WRITTEN, None)
    )
    for name, ours, theirs, goal in rows:
        runs = [best_ns([ours, theirs], ns, args.number, args.repeat) for _ in range(args.runs)]
        d = [r[0] for r in runs]
        p = [r[1] for r in runs]
        ratios = [pr / dr for dr, pr in zip(d, p, strict=True)]
        verdict = "-"
        if goal is not None:
            met = statistics.median(ratios) >= goal
            verdict = f"{goal}x {'ok' if met else 'MISSED'}"
            if not met:
                failed.append(name)
        print(
            f"| {name} | {spread(d, '.0f')} | {spread(p, '.0f')} | {spread(ratios, '.1f')}x "
            f"| {verdict} |"
        )
    if failed:
        print(f"\ngoals missed (by the median): {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
