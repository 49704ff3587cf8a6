#!/usr/bin/env python3
"""Time one scrape of a prometheus_client multiprocess directory: prometheus_client's
MultiProcessCollector with generate_latest, against register_engine_metrics(multiprocess_dir=)
and the page of the level it is registered at.

    bindings/python/.venv/bin/python bindings/python/benches/bench_multiprocess.py
    bindings/python/.venv/bin/python bindings/python/benches/bench_multiprocess.py --processes 256

Real processes (32 by default) fill the directory in multiprocess mode, each with the same
series (1,000 by default): counters, gauges of the `sum` and `all` modes and histograms with
the default buckets, as an engine's workers would. The figures are the minimum, median and
maximum of the scrapes, in milliseconds; the runs of the two sides alternate, so other load
weighs on both alike.

Then a Python thread counts in a loop while the page is scraped ten more times: the merge runs
without the GIL, so the thread counts through the scrapes, where a scrape that held the GIL
would let it count only at its edges. The bench fails unless the thread counted over most of
at least one scrape's time (on a loaded machine the thread may wait for a core through some).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
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


def run_workers(script: str, env: dict, processes: int, series: int) -> None:
    """Runs `script` in `processes` processes at once (argv: its index, `series`)."""
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(i), str(series)], env=env)
        for i in range(processes)
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0


def fill(directory: str, processes: int, series: int) -> None:
    run_workers(WORKER, {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}, processes, series)


def arguments(doc: str) -> argparse.Namespace:
    """The options of a multiprocess bench: processes, series per process, scrapes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--processes", type=int, default=32)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)

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
        counted = count_during_scrapes(metrics.prometheus_expfmt, scrapes=10)
        drt.shutdown()

    files = args.processes * 4
    print(
        f"{args.processes} processes x {args.series} series ({files} files), "
        f"median of {args.runs} scrapes, Python {platform.python_version()}, "
        f"prometheus_client {version('prometheus-client')}, {os.cpu_count()} cores"
    )
    print(f"{'':44}{'min ms':>8}{'median':>8}{'max':>8}{'page bytes':>12}")
    for name, times, page in [
        ("MultiProcessCollector + generate_latest", theirs, theirs_page),
        ("register_engine_metrics(multiprocess_dir=)", ours, ours_page),
    ]:
        print(
            f"{name:44}{min(times) * 1e3:8.1f}{statistics.median(times) * 1e3:8.1f}"
            f"{max(times) * 1e3:8.1f}{len(page):12}"
        )
    print(
        f"speed-up at the median: {statistics.median(theirs) / statistics.median(ours):.1f}x; "
        f"a Python thread counted up to {max(n for n, _ in counted):,} times during a scrape; "
        f"over half its time in {sum(span > 0.5 for _, span in counted)} of {len(counted)} "
        f"scrapes"
    )


def count_during_scrapes(scrape, scrapes: int) -> list[tuple[int, float]]:
    """Scrapes `scrapes` times while a thread counts: how many times it counted during each
    scrape, and over what share of the scrape's time (from its first count in the scrape to
    its last). A scrape that held the GIL would let it count only at its edges, if at all."""
    stamps: list[float] = []
    stop = threading.Event()

    def counter() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())

    thread = threading.Thread(target=counter)
    thread.start()
    counted = []
    try:
        for _ in range(scrapes):
            stamps.clear()
            start = time.perf_counter()
            scrape()
            end = time.perf_counter()
            during = [t for t in list(stamps) if start < t < end]
            span = (during[-1] - during[0]) / (end - start) if during else 0.0
            counted.append((len(during), span))
    finally:
        stop.set()
        thread.join()
    assert max(span for _, span in counted) > 0.5, f"the thread stood still: {counted}"
    return counted


if __name__ == "__main__":
    main()
