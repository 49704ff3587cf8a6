#!/usr/bin/env python3
"""Runs the request tracking benchmarks several times and prints the table of
docs/performance.md's "Request tracking" section.

Usage: python3 benches/requests_report.py [RUNS]   (from any directory; default 5 runs)

Each run is `cargo bench -p dynamo-benches --bench requests`; a benchmark's figure in a
run is criterion's median (target/criterion/*/new/estimates.json). The table gives the min,
median and max over the runs, and each comparison's ratio computed within each run (ours /
theirs, so below 1 is faster), since a shared host can slow one run and not the next.
"""

import statistics
import sys

from report import bench, median_ns

BENCHES = [
    "request_guard/ours_guard",
    "request_guard/ours_guard_from_request_metrics",
    "request_guard/ours_hand_written",
    "request_guard/ours_hand_written_same_clock",
    "request_guard/prometheus_hand_written",
    "tracked_future/ours_instrument_request",
    "tracked_future/ours_guard_around_the_future",
    "histogram_timer/ours_start_timer",
    "histogram_timer/ours_hand_written",
    "histogram_timer/prometheus_start_timer",
    "clock_read/std_instant_now",
    "clock_read/quanta_raw",
]

# (what, ours, theirs)
RATIOS = [
    (
        "guard / hand-written updates (`Instant::now`)",
        "request_guard/ours_guard",
        "request_guard/ours_hand_written",
    ),
    (
        "guard / hand-written updates (same clock)",
        "request_guard/ours_guard",
        "request_guard/ours_hand_written_same_clock",
    ),
    (
        "guard / hand-written with `prometheus`",
        "request_guard/ours_guard",
        "request_guard/prometheus_hand_written",
    ),
    (
        "`instrument_request` / guard around the future",
        "tracked_future/ours_instrument_request",
        "tracked_future/ours_guard_around_the_future",
    ),
    (
        "`start_timer` / hand-written",
        "histogram_timer/ours_start_timer",
        "histogram_timer/ours_hand_written",
    ),
    (
        "`start_timer` / `prometheus` `start_timer`",
        "histogram_timer/ours_start_timer",
        "histogram_timer/prometheus_start_timer",
    ),
]


def spread(values, fmt):
    return " / ".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    figures = []
    for _ in range(runs):
        bench("--bench", "requests")
        figures.append({b: median_ns(b) for b in BENCHES})

    print(f"{runs} runs; criterion's median of each run, then min / median / max over the runs\n")
    print("| benchmark | ns per request |")
    print("|---|---:|")
    for b in BENCHES:
        print(f"| `{b}` | {spread([f[b] for f in figures], '.1f')} |")
    print()
    print("| ratio (per run) | min / median / max |")
    print("|---|---:|")
    for what, ours, theirs in RATIOS:
        print(f"| {what} | {spread([f[ours] / f[theirs] for f in figures], '.2f')} |")


if __name__ == "__main__":
    main()
