#!/usr/bin/env python3
"""A scrape never stalls the application: creating a series while /metrics is scraped.

    bindings/python/.venv/bin/python bindings/python/benches/bench_stall.py [--series N]

The runtime serves its page on a free port of 127.0.0.1; a counter vec holds a million series
(``--series``), and four threads scrape the page over HTTP in a loop (raw sockets reading into
one buffer, so that they hold the GIL only for a moment per read). Meanwhile the main thread
creates 20,000 new series and updates existing ones, each timed alone. Prints p50, p99 and max
of each, for five runs.
"""

import argparse
import os
import socket
import statistics
import sys
import threading
import time

SCRAPERS = 4
CREATIONS = 20_000
RUNS = 5


def scrape(host: str, port: int, buffer: bytearray) -> int:
    """One GET /metrics; returns the bytes received."""
    with socket.create_connection((host, port)) as conn:
        conn.sendall(f"GET /metrics HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
        view = memoryview(buffer)
        total = 0
        while n := conn.recv_into(view):
            total += n
        return total


def scraper(host: str, port: int, stop: threading.Event, counts: list, at: int) -> None:
    buffer = bytearray(1 << 20)
    while not stop.is_set():
        scrape(host, port, buffer)
        counts[at] += 1


def percentile(sorted_ns: list, p: float) -> float:
    return sorted_ns[round((len(sorted_ns) - 1) * p)] / 1e3


def run(series: int) -> str:
    from dynamo.runtime import DistributedRuntime

    drt = DistributedRuntime(process_metrics=False)
    host, port = drt.system_status_server_info()
    vec = (
        drt.namespace("bench")
        .component("stall")
        .endpoint("run")
        .metrics.create_intcountervec("requests_total", "Requests", ["model", "worker"])
    )
    vec.max_series = 0
    for i in range(series):
        vec.inc({"model": f"model-{i // 100}", "worker": f"worker-{i % 100}"})

    stop = threading.Event()
    counts = [0] * SCRAPERS
    threads = [
        threading.Thread(target=scraper, args=(host, port, stop, counts, i), daemon=True)
        for i in range(SCRAPERS)
    ]
    for thread in threads:
        thread.start()
    while min(counts) == 0:
        time.sleep(0.01)

    create, update = [], []
    clock = time.perf_counter_ns
    for i in range(CREATIONS):
        new = {"model": f"new-model-{i}", "worker": f"new-worker-{i}"}
        j = i * 37 % series
        existing = {"model": f"model-{j // 100}", "worker": f"worker-{j % 100}"}
        started = clock()
        vec.inc(new)
        create.append(clock() - started)
        started = clock()
        vec.inc(existing)
        update.append(clock() - started)
    stop.set()
    for thread in threads:
        thread.join()
    drt.shutdown()
    create.sort()
    update.sort()
    return (
        f"create p50 {percentile(create, 0.5):.1f} us, p99 {percentile(create, 0.99):.1f} us, "
        f"max {create[-1] / 1e3:.1f} us; update p50 {percentile(update, 0.5):.1f} us, "
        f"p99 {percentile(update, 0.99):.1f} us; {sum(counts)} scrapes meanwhile "
        f"(mean create {statistics.fmean(create) / 1e3:.1f} us)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ["DYN_SYSTEM_HOST"] = "127.0.0.1"
    os.environ["DYN_SYSTEM_PORT"] = "0"
    print(f"{args.series} series, {SCRAPERS} threads scraping /metrics over HTTP in a loop")
    for number in range(1, RUNS + 1):
        print(f"run {number}: {run(args.series)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
