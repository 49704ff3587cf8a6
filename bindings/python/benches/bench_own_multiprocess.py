#!/usr/bin/env python3
"""Time one scrape of a worker whose processes all record metrics, each library in its
multiprocess mode: ours (DYN_METRICS_MULTIPROC_DIR, the page of the runtime) against
prometheus_client (PROMETHEUS_MULTIPROC_DIR, MultiProcessCollector with generate_latest).

    bindings/python/.venv/bin/python bindings/python/benches/bench_own_multiprocess.py

Real processes (32 by default) record the same series (1,000 by default) through each
library: of each 10, 5 counters, 2 gauges summed, 2 gauges per process and 1 histogram with
the default buckets. The figures are min / median / max of the scrapes in milliseconds; the
scrapes of the two sides alternate, so other load weighs on both alike.
"""

import os
import platform
import subprocess
import sys
import tempfile
from importlib.metadata import version

# prometheus_client's side records what bench_multiprocess.py's processes record.
from bench_multiprocess import WORKER as THEIRS
from bench_multiprocess import arguments, run_workers

OURS = """
import sys
from dynamo.runtime import DistributedRuntime

index, series = int(sys.argv[1]), int(sys.argv[2])
drt = DistributedRuntime(process_metrics=False)
m = drt.namespace("engine").metrics
counter = m.create_countervec("requests_total", "Requests.", ["model", "route"])
gauge = m.create_gaugevec("running", "Running.", ["model", "route"], multiprocess_mode="sum")
per_pid = m.create_gaugevec(
    "cache_usage", "Cache usage.", ["model", "route"], multiprocess_mode="all"
)
histogram = m.create_histogramvec("latency_seconds", "Latency.", ["model", "route"])
for i in range(series):
    labels = {"model": "m" + str(i % 7), "route": "/r" + str(i)}
    kind = i % 10
    if kind < 5:
        counter.inc_by(labels, index + i)
    elif kind < 7:
        gauge.set(i, labels)
    elif kind < 9:
        per_pid.set(index, labels)
    else:
        histogram.observe(0.001 * i, labels)
"""

# The parent: fills nothing itself, scrapes what the processes wrote.
SCRAPER = """
import statistics, sys, time
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from dynamo.runtime import DistributedRuntime

runs, theirs_dir = int(sys.argv[1]), sys.argv[2]
registry = CollectorRegistry()
MultiProcessCollector(registry, path=theirs_dir)
drt = DistributedRuntime(process_metrics=False)
ours_page = drt.metrics.prometheus_expfmt()
theirs_page = generate_latest(registry).decode()
ours, theirs = [], []
for _ in range(runs):
    start = time.perf_counter()
    generate_latest(registry)
    theirs.append(time.perf_counter() - start)
    start = time.perf_counter()
    drt.metrics.prometheus_expfmt()
    ours.append(time.perf_counter() - start)
def figures(times):
    ms = [t * 1e3 for t in times]
    return f"{min(ms):.1f} / {statistics.median(ms):.1f} / {max(ms):.1f}"
def samples(page):
    return sum(1 for line in page.splitlines() if line and not line.startswith("#"))
for side, times, page in (("ours", ours, ours_page), ("prometheus_client", theirs, theirs_page)):
    print(f"| {side} | {figures(times)} | {samples(page)} | {len(page)} |")
print(f"speed-up (medians): {statistics.median(theirs) / statistics.median(ours):.1f}x")
"""


def main() -> None:
    args = arguments(__doc__)

    base = {k: v for k, v in os.environ.items() if not k.startswith(("DYN_", "PROMETHEUS_"))}
    with tempfile.TemporaryDirectory() as ours_dir, tempfile.TemporaryDirectory() as theirs_dir:
        run_workers(
            OURS, {**base, "DYN_METRICS_MULTIPROC_DIR": ours_dir}, args.processes, args.series
        )
        run_workers(
            THEIRS, {**base, "PROMETHEUS_MULTIPROC_DIR": theirs_dir}, args.processes, args.series
        )
        print(
            f"{args.processes} processes x {args.series} series, {args.runs} scrapes, "
            f"Python {platform.python_version()}, prometheus_client "
            f"{version('prometheus-client')}, {os.cpu_count()} cores\n"
        )
        print("| scrape | ms min / median / max | samples | page bytes |")
        print("|---|---:|---:|---:|")
        env = {
            **base,
            "DYN_METRICS_MULTIPROC_DIR": ours_dir,
            "PROMETHEUS_MULTIPROC_DIR": theirs_dir,
        }
        subprocess.run(
            [sys.executable, "-c", SCRAPER, str(args.runs), theirs_dir], env=env, check=True
        )


if __name__ == "__main__":
    main()
