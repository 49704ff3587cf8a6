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


class process:  # noqa: N801
    """The standard process metrics, full names (no prefix), with the help texts the Prometheus
    client libraries give them, so dashboards written for any client work unchanged."""

    PREFIX = "process_"
    """Prefix of every process metric."""
    CPU_SECONDS_TOTAL = "process_cpu_seconds_total"
    """User and system CPU time of the process (a counter)."""
    CPU_SECONDS_TOTAL_HELP = "Total user and system CPU time spent in seconds."
    """Help of ``CPU_SECONDS_TOTAL``."""
    RESIDENT_MEMORY_BYTES = "process_resident_memory_bytes"
    """Resident memory (a gauge)."""
    RESIDENT_MEMORY_BYTES_HELP = "Resident memory size in bytes."
    """Help of ``RESIDENT_MEMORY_BYTES``."""
    VIRTUAL_MEMORY_BYTES = "process_virtual_memory_bytes"
    """Virtual memory (a gauge)."""
    VIRTUAL_MEMORY_BYTES_HELP = "Virtual memory size in bytes."
    """Help of ``VIRTUAL_MEMORY_BYTES``."""
    OPEN_FDS = "process_open_fds"
    """Open file descriptors (a gauge)."""
    OPEN_FDS_HELP = "Number of open file descriptors."
    """Help of ``OPEN_FDS``."""
    MAX_FDS = "process_max_fds"
    """The soft limit on open file descriptors (a gauge)."""
    MAX_FDS_HELP = "Maximum number of open file descriptors."
    """Help of ``MAX_FDS``."""
    START_TIME_SECONDS = "process_start_time_seconds"
    """When the process started, in seconds since the Unix epoch (a gauge)."""
    START_TIME_SECONDS_HELP = "Start time of the process since unix epoch in seconds."
    """Help of ``START_TIME_SECONDS``."""
    THREADS = "process_threads"
    """Threads of the process (a gauge)."""
    THREADS_HELP = "Number of OS threads in the process."
    """Help of ``THREADS``."""


class self_metrics:  # noqa: N801
    """The library's own metrics, full names: the ``dynamo_metrics_`` prefix, which user
    metrics (always ``dynamo_component_...``) can never take."""

    PREFIX = "dynamo_metrics"
    """Prefix of the library's own metrics."""
    MACRO_REJECTIONS_TOTAL = "dynamo_metrics_macro_rejections_total"
    """Metric macro calls refused for breaking a naming rule or conflicting with a metric."""
    MACRO_REJECTIONS_TOTAL_HELP = (
        "Metric macro calls refused because they broke a naming rule or conflicted with a "
        "registered metric"
    )
    """Help of ``MACRO_REJECTIONS_TOTAL``."""
    SERIES_OVERFLOW_TOTAL = "dynamo_metrics_series_overflow_total"
    """New label sets folded into a metric's overflow series, by metric (label ``metric``)."""
    SERIES_OVERFLOW_TOTAL_HELP = (
        "New label sets folded into a metric's overflow series because the metric reached its "
        "series bound"
    )
    """Help of ``SERIES_OVERFLOW_TOTAL``."""
    METRIC_LABEL = "metric"
    """The label of ``SERIES_OVERFLOW_TOTAL`` naming the metric."""
    CALLBACK_TEXT_DROPPED_TOTAL = "dynamo_metrics_callback_text_dropped_total"
    """Texts of exposition callbacks left off a page (a counter, by ``reason``)."""
    CALLBACK_TEXT_DROPPED_TOTAL_HELP = (
        "Texts returned by exposition callbacks and left off the page, because a line did not "
        "parse, a family was already on the page, or the text was longer than the limit"
    )
    """Help of ``CALLBACK_TEXT_DROPPED_TOTAL``."""
    DROP_REASON_LABEL = "reason"
    """The label of ``CALLBACK_TEXT_DROPPED_TOTAL`` that says why."""
    DROP_REASON_INVALID = "invalid"
    """A line of the text did not parse."""
    DROP_REASON_CONFLICT = "conflict"
    """A family or sample name of the text was already on the page."""
    DROP_REASON_TOO_LARGE = "too_large"
    """The text was longer than ``DYN_METRICS_MAX_CALLBACK_TEXT_BYTES``."""
    HEALTH_CHECKS_TOTAL = "dynamo_metrics_health_checks_total"
    """Canary health checks of idle endpoints, by ``endpoint`` and ``result`` (a counter)."""
    HEALTH_CHECKS_TOTAL_HELP = (
        "Canary health checks of idle endpoints, by endpoint and result (success, error or timeout)"
    )
    """Help of ``HEALTH_CHECKS_TOTAL``."""
    ENDPOINT_LABEL = "endpoint"
    """The label of ``HEALTH_CHECKS_TOTAL`` naming the endpoint, as ``/health`` shows it."""
    RESULT_LABEL = "result"
    """The label of ``HEALTH_CHECKS_TOTAL`` saying how the probe ended."""
    MULTIPROCESS_FILES_SKIPPED_TOTAL = "dynamo_metrics_multiprocess_files_skipped_total"
    """Files of ``prometheus_client`` multiprocess directories skipped or read only in part (a
    counter, by ``reason``)."""
    MULTIPROCESS_FILES_SKIPPED_TOTAL_HELP = (
        "Files of prometheus_client multiprocess directories skipped because they could not be "
        "read or had an unknown name, or read up to their last whole entry because they were "
        "cut short or corrupt"
    )
    """Help of ``MULTIPROCESS_FILES_SKIPPED_TOTAL``."""
    MULTIPROCESS_UNREADABLE = "unreadable"
    """The file could not be opened or read (it vanished since the listing, say)."""
    MULTIPROCESS_CORRUPT = "corrupt"
    """The file was cut short or corrupt: read up to its last whole entry."""
    MULTIPROCESS_UNRECOGNIZED = "unrecognized"
    """The file's name is not one prometheus_client gives."""
    OTLP_EXPORTED_TOTAL = "dynamo_metrics_otlp_exported_total"
    """OTLP export requests the collector accepted (a counter)."""
    OTLP_DROPPED_TOTAL = "dynamo_metrics_otlp_dropped_total"
    """OTLP export requests dropped, by ``reason`` (a counter)."""
    OTLP_QUEUED_REQUESTS = "dynamo_metrics_otlp_queued_requests"
    """OTLP export requests encoded and waiting to be sent (a gauge)."""
    OTLP_DROP_REASON_QUEUE_FULL = "queue_full"
    """Dropped because the queue was full: the oldest waiting request made room."""
    OTLP_DROP_REASON_REJECTED = "rejected"
    """Dropped because the collector refused it for good (400 and other permanent answers)."""
    OTLP_DROP_REASON_RETRIES_EXHAUSTED = "retries_exhausted"
    """Dropped because retries still failed when the export timeout ran out."""
    OTLP_DROP_REASON_SHUTDOWN = "shutdown"
    """Dropped because the final flush at shutdown ran out of time."""


__all__ = [
    "distributed_runtime",
    "labels",
    "name_prefix",
    "process",
    "self_metrics",
    "work_handler",
]
