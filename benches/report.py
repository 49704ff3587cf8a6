#!/usr/bin/env python3
"""Runs every benchmark in one run and prints the comparison table of docs/performance.md.

Usage: python3 benches/report.py   (from any directory)

Times are criterion's medians (target/criterion/*/new/estimates.json); memory and HTTP
figures come from the `memory` and `http` benchmarks' output. The nanosecond-scale hot paths
are run HOT_RUNS times and each row shows the median of its per-run ratios (with that run's
times), since a shared host can slow one benchmark of a pair and not the other.
"""

import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
HOT_RUNS = 5
HOT_PREFIXES = ("counter_inc/", "vec_lookup_inc/", "histogram_observe/", "two_threads_one_counter/")

# (measure, our benchmark, the peer's benchmark, goal for ours / peer)
TIMED = [
    ("cached counter inc", "counter_inc/ours", "counter_inc/prometheus", 1.0),
    ("2-label vec lookup + inc", "vec_lookup_inc/ours", "vec_lookup_inc/prometheus", 0.5),
    (
        "histogram observe (11 buckets)",
        "histogram_observe/ours",
        "histogram_observe/prometheus",
        0.6,
    ),
    (
        "two threads, one counter",
        "two_threads_one_counter/ours",
        "two_threads_one_counter/prometheus",
        1.0,
    ),
    ("render 1k series", "render_series/ours/1000", "render_series/prometheus_client/1000", None),
    (
        "render 10k series",
        "render_series/ours/10000",
        "render_series/prometheus_client/10000",
        None,
    ),
    (
        "render 100k series",
        "render_series/ours/100000",
        "render_series/prometheus_client/100000",
        0.5,
    ),
    (
        "render 1,000 histograms",
        "render_1000_histograms/ours",
        "render_1000_histograms/prometheus_client",
        0.5,
    ),
    (
        "`counter!` macro path",
        "counter_macro/ours",
        "counter_macro/metrics_exporter_prometheus",
        0.5,
    ),
]


def median_ns(bench_id):
    path = CRITERION / bench_id / "new" / "estimates.json"
    return json.loads(path.read_text())["median"]["point_estimate"]


def human(ns):
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"


def verdict(ratio, goal):
    if goal is None:
        return "-"
    return f"<= {goal}x: {'met' if ratio <= goal else 'missed'}"


def bench(*args):
    run = subprocess.run(
        ["cargo", "bench", "-p", "dynamo-benches", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit(run.returncode)
    return run.stdout


def main():
    hot = [(m, o, p, g) for (m, o, p, g) in TIMED if o.startswith(HOT_PREFIXES)]
    hot_runs = []
    for _ in range(HOT_RUNS):
        bench("--bench", "hot_paths")
        hot_runs.append({o: (median_ns(o), median_ns(p)) for (_, o, p, _) in hot})
    out = "".join(bench("--bench", name) for name in ("render", "macro_path", "memory", "http"))

    print("| measure | ours | peer | peer figure | ratio | goal |")
    print("|---|---:|---|---:|---:|---|")
    for measure, ours_id, peer_id, goal in TIMED:
        if ours_id in hot_runs[0]:
            # The run whose ratio is the median of all runs'.
            runs = sorted((r[ours_id] for r in hot_runs), key=lambda pair: pair[0] / pair[1])
            ours, peer = runs[len(runs) // 2]
        else:
            ours, peer = median_ns(ours_id), median_ns(peer_id)
        peer_name = peer_id.split("/")[1]
        print(
            f"| {measure} | {human(ours)} | {peer_name} | {human(peer)} "
            f"| {ours / peer:.2f}x | {verdict(ours / peer, goal)} |"
        )

    memory = dict(re.findall(r"memory_per_series/(\S+)\s+([\d.]+) bytes", out))
    ours, peer = float(memory["ours"]), float(memory["prometheus_client"])
    print(
        f"| memory per series (100k) | {ours:.0f} B | prometheus_client | {peer:.0f} B "
        f"| {ours / peer:.2f}x | {verdict(ours / peer, 1.0)} |"
    )
    print()
    print(
        "| HTTP, 10k series | gzip | scrapes/s | p50 with 2 writers | p99 with 2 writers | body |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for name, gzip, rate, p50, p99, size in re.findall(
        r"http/(\S+)\s+gzip=(\S+)\s+([\d.]+) scrapes/s"
        r"\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms\s+(\d+) bytes",
        out,
    ):
        print(f"| {name} | {gzip} | {rate} | {p50} ms | {p99} ms | {int(size):,} B |")
    for other in ("prometheus",):
        if other in memory:
            print(f"\n(memory per series, {other}: {float(memory[other]):.0f} B)")


if __name__ == "__main__":
    main()
