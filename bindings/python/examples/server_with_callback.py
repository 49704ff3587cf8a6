#!/usr/bin/env python3
"""Serves metrics that a callback updates just before each scrape.

    DYN_SYSTEM_PORT=8081 ./server_with_callback.py
    curl localhost:8081/metrics

The same metrics as ``server_with_loop.py`` (both create them with ``worker_metrics.py``),
which updates them from a thread instead. A callback suits values that are cheap to read on
demand: it runs on the server's thread with the interpreter attached, and an exception it
raises is logged and skipped. ``DYN_SYSTEM_PORT=0`` picks a free port; the address is printed
at start. Ctrl-C or SIGTERM stops it gracefully: scrapes in flight are answered, then it
exits 0.
"""

import itertools
import signal
import sys
import threading

from dynamo.runtime import DistributedRuntime
from worker_metrics import WorkerMetrics


def main() -> int:
    drt = DistributedRuntime()
    address = drt.system_status_server_info()
    if address is None:
        print(
            "set DYN_SYSTEM_PORT (for example DYN_SYSTEM_PORT=8081) to serve /metrics",
            file=sys.stderr,
        )
        return 2

    metrics = drt.namespace("example").component("worker").endpoint("generate").metrics
    workers = WorkerMetrics(metrics, "callback")

    ticks = itertools.count()

    def update_metrics() -> None:
        workers.update(next(ticks))

    metrics.register_callback(update_metrics)

    drt.set_health_status("ready")
    host, port = address
    print(
        f"system status server listening on {host}:{port}: "
        "GET /metrics, /health, /live (Ctrl-C stops)",
        flush=True,
    )

    # Nothing else to do: the server has its own thread. Wait until the process is stopped.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    # Not ready any more, then stop: scrapes in flight are answered before the server closes.
    drt.set_health_status("notready")
    drt.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
