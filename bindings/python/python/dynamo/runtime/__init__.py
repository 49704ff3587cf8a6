"""The runtime hierarchy: ``DistributedRuntime -> namespace -> component -> endpoint``.

Every level has a ``metrics`` property (:class:`Metrics`) with the ``create_*`` methods, the
level's ``prometheus_expfmt()`` and its pre-scrape callbacks.

``DistributedRuntime()`` reads its settings from the environment: with ``DYN_SYSTEM_PORT`` set
(``0`` picks a free port) it serves ``/metrics``, ``/health`` and ``/live`` on its own thread
until ``shutdown()``.

The package is safe to use across ``os.fork()``: a child neither hangs nor inherits the
parent's status server (its sockets are closed in the child); its metrics keep working.

An :class:`Endpoint` tracks the requests it serves in Dynamo's request metrics
(``requests_total``, ``inflight_requests``, ``request_duration_seconds``, ``errors_total``,
``cancellation_total``, the byte counters), in one line::

    @endpoint.track_requests
    async def generate(request):
        ...

    with endpoint.track_request() as request:   # a RequestGuard
        request.request_bytes(len(payload))
        ...
"""

from dynamo._core import (
    CallbackHandle,
    Component,
    DistributedRuntime,
    Endpoint,
    Metrics,
    Namespace,
    RequestGuard,
)

__all__ = [
    "CallbackHandle",
    "Component",
    "DistributedRuntime",
    "Endpoint",
    "Metrics",
    "Namespace",
    "RequestGuard",
]
