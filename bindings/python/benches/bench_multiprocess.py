#!/usr/bin/env python3
"""Time one scrape of a prometheus_client multiprocess directory: prometheus_client's
MultiProcessCollector with generate_latest, against register_engine_metrics(multiprocess_dir=)
and the page of the level it is registered at.

    bindings/python/.venv/bin/python bindings/python/benches/bench_multiprocess.py

Real processes (32 by default) fill the directory in multiprocess mode, each with the same
series (1,000 by default): counters, gauges of the `sum` and `all` modes and histograms with
the default buckets, as an engine's workers would. The figure is the median of the scrapes,
in milliseconds; the runs of the two sides alternate, so other load weighs on both alike.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from dynamo.runtime import DistributedRuntime

WORKER = """
import sys
from prometheus_client import Counter, Gauge, Histogram

index, series = int(sys.argv[1]), int(sys.argv[2])
counter = Counter("engine_requests", "Requests.", ["model", "route"])
gauge = Gauge("engine_running", "Running.", ["model", "route"], multiprocess_mode="sum")
per_pid = Gauge("engine_cache_usage", "Cache usage.", ["model", "route"])
histogram = Histogram("engine_latency_seconds", "Latency.", ["model", "route"])
# Of each 10 series: 5 counters, 2 summed gauges, 2 per-process gauges, 1 histogram.
for i in range(series):
    labels = ("m" + str(i % 7), "/r" + str(i))
    kind = i % 10
    if kind < 5:
        counter.labels(*labels).inc(index + i)
    elif kind < 7:
        gauge.labels(*labels).set(i)
    elif kind < 9:
        per_pid.labels(*labels).set(index)
    else:
        histogram.labels(*labels).observe(0.001 * i)
"""


def fill(directory: str, processes: int, series: int) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(i), str(series)], env=env)
        for i in range(processes)
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=32)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        fill(directory, args.processes, args.series)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        drt = DistributedRuntime(process_metrics=False)
        metrics = drt.namespace("engine").metrics
        metrics.register_engine_metrics(multiprocess_dir=directory)

        theirs_page = generate_latest(registry).decode()
        ours_page = metrics.prometheus_expfmt()

        def sample_lines(page):
            return sum(1 for line in page.splitlines() if line.startswith("engine_"))

        assert sample_lines(ours_page) == sample_lines(theirs_page), "the pages differ"
        theirs, ours = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            generate_latest(registry)
            theirs.append(time.perf_counter() - start)
            start = time.perf_counter()
            metrics.prometheus_expfmt()
            ours.append(time.perf_counter() - start)
        drt.shutdown()

    files = args.processes * 4
    print(
        f"{args.processes} processes x {args.series} series ({files} files), "
        f"median of {args.runs} scrapes, Python {platform.python_version()}, "
        f"prometheus_client {version('prometheus-client')}, {os.cpu_count()} cores"
    )
    print(f"{'':44}{'ms':>8}{'page bytes':>12}")
    print(
        f"{'MultiProcessCollector + generate_latest':44}"
        f"{statistics.median(theirs) * 1e3:8.1f}{len(theirs_page):12}"
    )
    print(
        f"{'register_engine_metrics(multiprocess_dir=)':44}"
        f"{statistics.median(ours) * 1e3:8.1f}{len(ours_page):12}"
    )


if __name__ == "__main__":
    main()
