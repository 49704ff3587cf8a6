#!/usr/bin/env python3
"""Serves metrics that a thread of the application updates once a second.

    DYN_SYSTEM_PORT=8081 ./server_with_loop.py
    curl localhost:8081/metrics

The same metrics as ``server_with_callback.py``, which updates them on each scrape instead.
``DYN_SYSTEM_PORT=0`` picks a free port; the address is printed at start. Ctrl-C or SIGTERM
stops it gracefully: scrapes in flight are answered, then it exits 0.
"""

import signal
import sys
import threading

from dynamo.runtime import DistributedRuntime

WORKERS = 3


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
    total_slots = metrics.create_intgauge("total_slots", "Request slots of the worker pool")
    cache_usage = metrics.create_gauge(
        "kv_cache_usage_ratio", "Fraction of the KV cache in use, from 0 to 1"
    )
    active = metrics.create_gaugevec(
        "worker_active_requests", "Requests in flight on each worker", ["worker_id"]
    )
    updates = metrics.create_intcounter(
        "updates_total", "Times the metrics were updated", [("update_method", "loop")]
    )

    stop = threading.Event()

    def update_loop() -> None:
        tick = 0
        while not stop.is_set():
            total_slots.set(64)
            cache_usage.set(tick % 100 / 100)
            for worker in range(WORKERS):
                active.set((tick + worker * 3) % 10, {"worker_id": str(worker)})
            updates.inc()
            tick += 1
            stop.wait(1.0)

    updater = threading.Thread(target=update_loop, name="metrics-update-loop", daemon=True)
    updater.start()

    drt.set_health_status("ready")
    host, port = address
    print(
        f"system status server listening on {host}:{port}: "
        "GET /metrics, /health, /live (Ctrl-C stops)",
        flush=True,
    )

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    updater.join()
    # Not ready any more, then stop: scrapes in flight are answered before the server closes.
    drt.set_health_status("notready")
    drt.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
