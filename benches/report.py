#!/usr/bin/env python3
"""Runs every Rust benchmark several times and prints the tables of docs/performance.md.

Usage: python3 benches/report.py [--runs 5] [--only hot_paths,render]   (from any directory)

Each run executes the whole criterion suite of a benchmark binary once; a row shows the
min / median / max over the runs of our time, the peer's time and their ratio (computed
within each run, so that a busy moment of a shared host weighs on both sides of a pair).
A goal is met only when every run meets it. Memory, churn, HTTP and stall figures come from
the output of the `memory`, `http` and `stall` binaries, which measure processes and servers
rather than loops.
"""

import argparse
import json
import pathlib
import re
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
PACKAGE = "dynamo-benches"

# (measure, benchmark binary, ours, peer, goal for ours / peer in every run)
TIMED = [
    # Not a library: the host's uncontended atomic add beside a plain add to memory.
    ("host: one atomic add", "hot_paths", "host/atomic_add", "host/plain_add", None),
    ("cached counter inc", "hot_paths", "counter_inc/ours", "counter_inc/prometheus", 1.0),
    (
        "cached counter inc_by(3.0)",
        "hot_paths",
        "counter_inc_by/ours_whole",
        "counter_inc_by/prometheus",
        None,
    ),
    (
        "cached counter inc_by(2.5)",
        "hot_paths",
        "counter_inc_by/ours_fraction",
        "counter_inc_by/prometheus",
        None,
    ),
    (
        "f64 vec, 2 labels: lookup + inc",
        "hot_paths",
        "vec_lookup_inc/ours_f64",
        "vec_lookup_inc/prometheus_f64",
        0.5,
    ),
    (
        "int vec, 2 labels: lookup + inc",
        "hot_paths",
        "vec_lookup_inc/ours_int",
        "vec_lookup_inc/prometheus_int",
        0.5,
    ),
    (
        "int vec, 1,000 series in turn",
        "hot_paths",
        "vec_lookup_inc_1000_series/ours_int",
        "vec_lookup_inc_1000_series/prometheus_int",
        None,
    ),
    (
        "histogram observe (11 buckets)",
        "hot_paths",
        "histogram_observe/ours",
        "histogram_observe/prometheus",
        0.5,
    ),
    (
        "counter inc with an exemplar",
        "hot_paths",
        "update_with_exemplar/ours_counter",
        "update_with_exemplar/prometheus_client_counter",
        None,
    ),
    (
        "histogram observe with an exemplar",
        "hot_paths",
        "update_with_exemplar/ours_histogram",
        "update_with_exemplar/prometheus_client_histogram",
        None,
    ),
    (
        "two threads, one counter",
        "hot_paths",
        "two_threads_one_counter/ours",
        "two_threads_one_counter/prometheus",
        1.0,
    ),
    (
        "render 1k series",
        "render",
        "render_series/ours/1000",
        "render_series/prometheus_client/1000",
        None,
    ),
    (
        "render 10k series",
        "render",
        "render_series/ours/10000",
        "render_series/prometheus_client/10000",
        None,
    ),
    (
        "render 100k series",
        "render",
        "render_series/ours/100000",
        "render_series/prometheus_client/100000",
        0.2,
    ),
    (
        "render 1,000 histograms",
        "render",
        "render_1000_histograms/ours",
        "render_1000_histograms/prometheus_client",
        None,
    ),
    (
        "`counter!` macro path",
        "macro_path",
        "counter_macro/ours",
        "counter_macro/metrics_exporter_prometheus",
        0.5,
    ),
]

CANDIDATES = [
    "ours",
    "prometheus",
    "papaya_foldhash",
    "scc_hashindex_foldhash",
    "dashmap_foldhash",
    "rwlock_hashmap_foldhash",
    "rwlock_hashmap_ahash",
]


def median_ns(bench_id):
    path = CRITERION / bench_id / "new" / "estimates.json"
    return json.loads(path.read_text())["median"]["point_estimate"]


def human(ns):
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"


def spread(values, fmt):
    return " / ".join(fmt(v) for v in (min(values), statistics.median(values), max(values)))


def bench(*args):
    run = subprocess.run(
        ["cargo", "bench", "-p", PACKAGE, *args], cwd=ROOT, capture_output=True, text=True
    )
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        sys.exit(run.returncode)
    return run.stdout


def timed_rows(runs, only=None):
    binaries = sorted({binary for _, binary, *_ in TIMED} | {"vec_candidates"})
    if only:
        binaries = [b for b in binaries if b in only]
    results = []
    for number in range(runs):
        print(f"run {number + 1} of {runs}", file=sys.stderr, flush=True)
        for binary in binaries:
            bench("--bench", binary)
        result = {o: (median_ns(o), median_ns(p)) for _, b, o, p, _ in TIMED if b in binaries}
        if "vec_candidates" not in binaries:
            results.append(result)
            continue
        for name in CANDIDATES:
            for count in (1, 1000):
                key = f"vec_candidates/{name}/{count}"
                result[key] = (median_ns(key), None)
        results.append(result)
    return results


def print_timed(results):
    print("| measure | ours | peer | peer's time | ours / peer | goal (every run) |")
    print("|---|---:|---|---:|---:|---|")
    for measure, _, ours_id, peer_id, goal in TIMED:
        if ours_id not in results[0]:
            continue
        ours = [r[ours_id][0] for r in results]
        peer = [r[ours_id][1] for r in results]
        ratios = [o / p for o, p in zip(ours, peer, strict=True)]
        if goal is None:
            verdict = "-"
        else:
            verdict = f"<= {goal}x: {'met' if max(ratios) <= goal else 'missed'}"
        peer_name = peer_id.split("/")[1].removesuffix("_f64").removesuffix("_int")
        print(
            f"| {measure} | {spread(ours, human)} | {peer_name} | {spread(peer, human)} "
            f"| {spread(ratios, lambda r: f'{r:.2f}')} | {verdict} |"
        )


def print_candidates(results):
    print("| vec built on | 1 label set | 1,000 label sets in turn |")
    print("|---|---:|---:|")
    for name in CANDIDATES:
        cells = [
            spread([r[f"vec_candidates/{name}/{count}"][0] for r in results], human)
            for count in (1, 1000)
        ]
        print(f"| {name} | {cells[0]} | {cells[1]} |")


def print_memory(runs):
    per_series, churn = {}, {}
    for _ in range(runs):
        out = bench("--bench", "memory")
        for library, value in re.findall(r"memory_per_series/(\S+)\s+([\d.]+) bytes", out):
            per_series.setdefault(library, []).append(float(value))
        for library, first, last, ratio in re.findall(
            r"churn/(\S+)\s+round 1\s+([\d.]+) MiB, round \d+\s+([\d.]+) MiB, ratio ([\d.]+)", out
        ):
            churn.setdefault(library, []).append((float(first), float(last), float(ratio)))
    print(
        "| library | resident bytes per series (100k) "
        "| churn: round 1 MiB | last round MiB | last / first |"
    )
    print("|---|---:|---:|---:|---:|")
    for library, values in per_series.items():
        rounds = churn.get(library, [])
        cells = [
            spread([r[i] for r in rounds], lambda v: f"{v:.2f}") if rounds else "-"
            for i in range(3)
        ]
        bytes_cell = spread(values, lambda v: f"{v:.1f}")
        print(f"| {library} | {bytes_cell} | {cells[0]} | {cells[1]} | {cells[2]} |")


def print_http(runs):
    plain, load = {}, {}
    for _ in range(runs):
        out = bench("--bench", "http")
        for name, gzip, rate, p50, p99 in re.findall(
            r"http/(\S+)\s+gzip=(\S+)\s+([\d.]+) scrapes/s\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms",
            out,
        ):
            plain.setdefault((name, gzip), []).append((float(rate), float(p50), float(p99)))
        for name, rate, p50, p99, refused in re.findall(
            r"http/(.+?)\s+([\d.]+) scrapes/s\s+p50\s+([\d.]+) ms"
            r"\s+p99\s+([\d.]+) ms\s+503s\s+(\d+)",
            out,
        ):
            load.setdefault(name.strip(), []).append(
                (float(rate), float(p50), float(p99), float(refused))
            )

    def number(v):
        return f"{v:.1f}"

    print(
        "| HTTP, 10k series | gzip | scrapes/s "
        "| p50 with 2 writers (ms) | p99 with 2 writers (ms) |"
    )
    print("|---|---|---:|---:|---:|")
    for (name, gzip), rows in plain.items():
        cells = [spread([r[i] for r in rows], number) for i in range(3)]
        print(f"| {name} | {gzip} | {cells[0]} | {cells[1]} | {cells[2]} |")
    print()
    print("| HTTP, 10k series, 50 scrapers | scrapes/s | p50 (ms) | p99 (ms) | 503s |")
    print("|---|---:|---:|---:|---:|")
    for name, rows in load.items():
        cells = [spread([r[i] for r in rows], number) for i in range(4)]
        print(f"| {name} | {' | '.join(cells)} |")


def print_stall():
    out = bench("--bench", "stall")
    print("```")
    print(out.strip())
    print("```")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only",
        help="comma-separated benchmark binaries (e.g. hot_paths,macro_path): their time "
        "tables alone",
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    results = timed_rows(args.runs, only)
    print_timed(results)
    if only:
        return
    print()
    print_candidates(results)
    print()
    print_memory(args.runs)
    print()
    print_http(args.runs)
    print()
    print_stall()


if __name__ == "__main__":
    main()
