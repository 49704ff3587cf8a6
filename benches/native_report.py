#!/usr/bin/env python3
"""Runs the native histogram benchmarks several times and prints the tables of
docs/performance.md ("Native histograms").

Usage: python3 benches/native_report.py [--runs 3]   (from any directory)

Each run executes the `native_histogram` criterion binary once (warm-up 1 s, measurement
3 s); a row shows the min / median / max over the runs of our time, prometheus-client's and
their ratio (computed within each run). A goal is met only when every run meets it. The
memory figures come from the `native_histogram_memory` binary, which counts heap bytes and
does not move from run to run.
"""

import argparse
import sys

from report import bench, human, median_ns, spread

# (measure, ours, the time beside it, goal: ours / its at most the figure in every run, or for
# a throughput its time / ours at least the figure)
TIMED = [
    (
        "observe, native",
        "observe/ours_native",
        "observe/prometheus_client_native",
        ("<=", 0.5),
    ),
    (
        "observe, native beside our classic",
        "observe/ours_native",
        "observe/ours_classic",
        ("<=", 1.3),
    ),
    (
        "2 threads, 1M observations each",
        "observe_2_threads/ours_native",
        "observe_2_threads/prometheus_client_native",
        (">=", 4.0),
    ),
    (
        "protobuf page, 10,000 series",
        "render_protobuf_10k/ours",
        "render_protobuf_10k/prometheus_client",
        ("<=", 0.25),
    ),
]

OPTIONS = ["--warm-up-time", "1", "--measurement-time", "3"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for number in range(args.runs):
        print(f"run {number + 1} of {args.runs}", file=sys.stderr, flush=True)
        bench("--bench", "native_histogram", "--", *OPTIONS)
        results.append({(o, p): (median_ns(o), median_ns(p)) for _, o, p, _ in TIMED})
    print("| measure | ours | beside | its time | ours / it | goal (every run) |")
    print("|---|---:|---|---:|---:|---|")
    for measure, ours_id, peer_id, (sense, goal) in TIMED:
        ours = [r[ours_id, peer_id][0] for r in results]
        peer = [r[ours_id, peer_id][1] for r in results]
        ratios = [o / p for o, p in zip(ours, peer, strict=True)]
        if sense == "<=":
            met = max(ratios) <= goal
            verdict = f"<= {goal}x: {'met' if met else 'missed'}"
        else:
            # A throughput goal: the peer's time over ours.
            met = min(1 / r for r in ratios) >= goal
            verdict = f"throughput >= {goal}x: {'met' if met else 'missed'}"
        print(
            f"| {measure} | {spread(ours, human)} | {peer_id.split('/')[1]} "
            f"| {spread(peer, human)} | {spread(ratios, lambda r: f'{r:.2f}')} | {verdict} |"
        )
    print()
    print(bench("--bench", "native_histogram_memory").strip())


if __name__ == "__main__":
    main()
