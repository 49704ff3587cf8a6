"""The metrics of a pool of workers, as both server examples serve them.

``server_with_loop.py`` updates them from a thread, ``server_with_callback.py`` just before
each scrape; both import them from here.
"""

from dynamo.runtime import Metrics

WORKERS = 3
"""Workers whose in-flight requests the examples report."""


class WorkerMetrics:
    """``total_slots``, ``kv_cache_usage_ratio``, ``worker_active_requests{worker_id}`` and
    ``updates_total{update_method}`` of one hierarchy level."""

    def __init__(self, metrics: Metrics, update_method: str) -> None:
        """Creates the metrics; ``update_method`` (``loop`` or ``callback``) becomes a constant
        label of the update counter."""
        self.total_slots = metrics.create_intgauge(
            "total_slots", "Request slots of the worker pool"
        )
        self.cache_usage = metrics.create_gauge(
            "kv_cache_usage_ratio", "Fraction of the KV cache in use, from 0 to 1"
        )
        self.active = metrics.create_gaugevec(
            "worker_active_requests", "Requests in flight on each worker", ["worker_id"]
        )
        self.updates = metrics.create_intcounter(
            "updates_total", "Times the metrics were updated", [("update_method", update_method)]
        )

    def update(self, tick: int) -> None:
        """Sets every metric to the values of update number ``tick`` (made-up load that
        changes)."""
        self.total_slots.set(64)
        self.cache_usage.set(tick % 100 / 100)
        for worker in range(WORKERS):
            self.active.set((tick + worker * 3) % 10, {"worker_id": str(worker)})
        self.updates.inc()
