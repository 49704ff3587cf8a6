"""Names shared by every Dynamo component: prefixes, hierarchy labels and built-in metrics.

The same constants as the Rust module ``dynamo_runtime::prometheus_names``, grouped the same
way. Metric names here come before the ``dynamo_component_`` prefix that ``create_*`` adds.
"""


class name_prefix:  # noqa: N801 (named like the Rust module)
    """Prefixes of exported metric names."""

    COMPONENT = "dynamo_component"
    """Prefix of every metric created through ``metrics.create_*``: ``dynamo_component_<name>``."""
    FRONTEND = "dynamo_frontend"
    """Prefix of frontend (HTTP service) metrics."""
    ROUTER = "dynamo_router"
    """Prefix of KV router metrics."""


class labels:  # noqa: N801
    """Labels the hierarchy adds to every metric created below the runtime level."""

    NAMESPACE = "dynamo_namespace"
    """The namespace a metric was created in."""
    COMPONENT = "dynamo_component"
    """The component a metric was created in."""
    ENDPOINT = "dynamo_endpoint"
    """The endpoint a metric was created in."""
    HIERARCHY = (NAMESPACE, COMPONENT, ENDPOINT)
    """Every label the hierarchy reserves, in hierarchy order."""


class work_handler:  # noqa: N801
    """Metric names of request-handling components (before the ``dynamo_component_`` prefix),
    and the help texts ``endpoint.track_request()`` gives them."""

    REQUESTS_TOTAL = "requests_total"
    """Requests processed (an integer counter)."""
    REQUESTS_TOTAL_HELP = "Total number of requests processed by work handler"
    """Help of ``REQUESTS_TOTAL``."""
    REQUEST_BYTES_TOTAL = "request_bytes_total"
    """Bytes received in requests (an integer counter)."""
    REQUEST_BYTES_TOTAL_HELP = "Total number of bytes received in requests by work handler"
    """Help of ``REQUEST_BYTES_TOTAL``."""
    RESPONSE_BYTES_TOTAL = "response_bytes_total"
    """Bytes sent in responses (an integer counter)."""
    RESPONSE_BYTES_TOTAL_HELP = "Total number of bytes sent in responses by work handler"
    """Help of ``RESPONSE_BYTES_TOTAL``."""
    INFLIGHT_REQUESTS = "inflight_requests"
    """Requests being processed now (an integer gauge)."""
    INFLIGHT_REQUESTS_HELP = "Number of requests currently being processed by work handler"
    """Help of ``INFLIGHT_REQUESTS``."""
    REQUEST_DURATION_SECONDS = "request_duration_seconds"
    """Time spent processing a request (a histogram)."""
    REQUEST_DURATION_SECONDS_HELP = "Time spent processing requests by work handler"
    """Help of ``REQUEST_DURATION_SECONDS``."""
    TIME_TO_FIRST_RESPONSE_SECONDS = "time_to_first_response_seconds"
    """Time from the start of a request to its first response (a histogram)."""
    TIME_TO_FIRST_RESPONSE_SECONDS_HELP = (
        "Time from the start of a request to its first response, by work handler"
    )
    """Help of ``TIME_TO_FIRST_RESPONSE_SECONDS``."""
    ERRORS_TOTAL = "errors_total"
    """Errors while processing requests (integer counters by ``ERROR_TYPE_LABEL``)."""
    ERRORS_TOTAL_HELP = "Total number of errors in work handler processing"
    """Help of ``ERRORS_TOTAL``."""
    CANCELLATION_TOTAL = "cancellation_total"
    """Requests cancelled before they completed: the caller went away (an integer counter)."""
    CANCELLATION_TOTAL_HELP = "Total number of requests cancelled by work handler"
    """Help of ``CANCELLATION_TOTAL``."""
    ERROR_TYPE_LABEL = "error_type"
    """Label classifying errors."""
    PANIC_ERROR_TYPE = "panic"
    """The error type of a request whose (Rust) handler panicked."""


class distributed_runtime:  # noqa: N801
    """Metrics the runtime itself exports at the runtime level."""

    UPTIME_SECONDS = "uptime_seconds"
    """Seconds since the runtime was created (a gauge, refreshed on each scrape)."""
    UPTIME_SECONDS_HELP = "Total uptime of the DistributedRuntime in seconds"
    """Help of ``UPTIME_SECONDS``."""
    MACRO_REJECTIONS_TOTAL = "metrics_macro_rejections_total"
    """Metric macro calls refused for breaking a naming rule or conflicting with a metric."""
    MACRO_REJECTIONS_TOTAL_HELP = (
        "Metric macro calls refused because they broke a naming rule or conflicted with a "
        "registered metric"
    )
    """Help of ``MACRO_REJECTIONS_TOTAL``."""


__all__ = ["distributed_runtime", "labels", "name_prefix", "work_handler"]
