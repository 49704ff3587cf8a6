//! Names shared by every Dynamo component: prefixes, hierarchy labels and built-in metrics.
//!
//! The same constants exist in Python as `dynamo.prometheus_names`.

/// Prefixes of exported metric names.
pub mod name_prefix {
    /// Prefix of every metric created through [`crate::Metrics`]: `dynamo_component_<name>`.
    pub const COMPONENT: &str = "dynamo_component";
    /// Prefix of frontend (HTTP service) metrics.
    pub const FRONTEND: &str = "dynamo_frontend";
    /// Prefix of KV router metrics.
    pub const ROUTER: &str = "dynamo_router";
}

/// Labels the hierarchy adds to every metric created below the runtime level.
pub mod labels {
    /// The namespace a metric was created in.
    pub const NAMESPACE: &str = "dynamo_namespace";
    /// The component a metric was created in.
    pub const COMPONENT: &str = "dynamo_component";
    /// The endpoint a metric was created in.
    pub const ENDPOINT: &str = "dynamo_endpoint";
    /// Every label the hierarchy reserves, in hierarchy order.
    pub const HIERARCHY: [&str; 3] = [NAMESPACE, COMPONENT, ENDPOINT];
}

/// Metric names of request-handling components (before the `dynamo_component_` prefix), and
/// the help texts [`Endpoint::track_request`](crate::Endpoint::track_request) gives them.
pub mod work_handler {
    /// Requests processed (an integer counter).
    pub const REQUESTS_TOTAL: &str = "requests_total";
    /// Help of [`REQUESTS_TOTAL`].
    pub const REQUESTS_TOTAL_HELP: &str = "Total number of requests processed by work handler";
    /// Bytes received in requests (an integer counter).
    pub const REQUEST_BYTES_TOTAL: &str = "request_bytes_total";
    /// Help of [`REQUEST_BYTES_TOTAL`].
    pub const REQUEST_BYTES_TOTAL_HELP: &str =
        "Total number of bytes received in requests by work handler";
    /// Bytes sent in responses (an integer counter).
    pub const RESPONSE_BYTES_TOTAL: &str = "response_bytes_total";
    /// Help of [`RESPONSE_BYTES_TOTAL`].
    pub const RESPONSE_BYTES_TOTAL_HELP: &str =
        "Total number of bytes sent in responses by work handler";
    /// Requests being processed now (an integer gauge).
    pub const INFLIGHT_REQUESTS: &str = "inflight_requests";
    /// Help of [`INFLIGHT_REQUESTS`].
    pub const INFLIGHT_REQUESTS_HELP: &str =
        "Number of requests currently being processed by work handler";
    /// Time spent processing a request (a histogram).
    pub const REQUEST_DURATION_SECONDS: &str = "request_duration_seconds";
    /// Help of [`REQUEST_DURATION_SECONDS`].
    pub const REQUEST_DURATION_SECONDS_HELP: &str =
        "Time spent processing requests by work handler";
    /// Time from the start of a request to its first response (a histogram).
    pub const TIME_TO_FIRST_RESPONSE_SECONDS: &str = "time_to_first_response_seconds";
    /// Help of [`TIME_TO_FIRST_RESPONSE_SECONDS`].
    pub const TIME_TO_FIRST_RESPONSE_SECONDS_HELP: &str =
        "Time from the start of a request to its first response, by work handler";
    /// Errors while processing requests (integer counters by [`ERROR_TYPE_LABEL`]).
    pub const ERRORS_TOTAL: &str = "errors_total";
    /// Help of [`ERRORS_TOTAL`].
    pub const ERRORS_TOTAL_HELP: &str = "Total number of errors in work handler processing";
    /// Requests cancelled before they completed: the caller went away (an integer counter).
    pub const CANCELLATION_TOTAL: &str = "cancellation_total";
    /// Help of [`CANCELLATION_TOTAL`].
    pub const CANCELLATION_TOTAL_HELP: &str = "Total number of requests cancelled by work handler";
    /// Label classifying errors.
    pub const ERROR_TYPE_LABEL: &str = "error_type";
    /// The error type of a request whose handler panicked.
    pub const PANIC_ERROR_TYPE: &str = "panic";
}

/// Metrics the runtime itself exports at the runtime level.
pub mod distributed_runtime {
    /// Seconds since the runtime was created (a gauge, refreshed on each scrape).
    pub const UPTIME_SECONDS: &str = "uptime_seconds";
    /// Help of [`UPTIME_SECONDS`].
    pub const UPTIME_SECONDS_HELP: &str = "Total uptime of the DistributedRuntime in seconds";
}

/// The standard process metrics, full names (no prefix), with the help texts the Prometheus
/// client libraries give them, so dashboards written for any client work unchanged.
pub mod process {
    /// Prefix of every process metric.
    pub const PREFIX: &str = "process_";
    /// User and system CPU time of the process (a counter).
    pub const CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
    /// Help of [`CPU_SECONDS_TOTAL`].
    pub const CPU_SECONDS_TOTAL_HELP: &str = "Total user and system CPU time spent in seconds.";
    /// Resident memory (a gauge).
    pub const RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
    /// Help of [`RESIDENT_MEMORY_BYTES`].
    pub const RESIDENT_MEMORY_BYTES_HELP: &str = "Resident memory size in bytes.";
    /// Virtual memory (a gauge).
    pub const VIRTUAL_MEMORY_BYTES: &str = "process_virtual_memory_bytes";
    /// Help of [`VIRTUAL_MEMORY_BYTES`].
    pub const VIRTUAL_MEMORY_BYTES_HELP: &str = "Virtual memory size in bytes.";
    /// Open file descriptors (a gauge).
    pub const OPEN_FDS: &str = "process_open_fds";
    /// Help of [`OPEN_FDS`].
    pub const OPEN_FDS_HELP: &str = "Number of open file descriptors.";
    /// The soft limit on open file descriptors (a gauge).
    pub const MAX_FDS: &str = "process_max_fds";
    /// Help of [`MAX_FDS`].
    pub const MAX_FDS_HELP: &str = "Maximum number of open file descriptors.";
    /// When the process started, in seconds since the Unix epoch (a gauge).
    pub const START_TIME_SECONDS: &str = "process_start_time_seconds";
    /// Help of [`START_TIME_SECONDS`].
    pub const START_TIME_SECONDS_HELP: &str =
        "Start time of the process since unix epoch in seconds.";
    /// Threads of the process (a gauge).
    pub const THREADS: &str = "process_threads";
    /// Help of [`THREADS`].
    pub const THREADS_HELP: &str = "Number of OS threads in the process.";
}

/// The library's own metrics, full names: the `dynamo_metrics_` prefix, which user metrics
/// (always `dynamo_component_...`) can never take.
pub mod self_metrics {
    /// Prefix of the library's own metrics.
    pub const PREFIX: &str = "dynamo_metrics";
    /// Metric macro calls refused for breaking a naming rule or conflicting with a metric.
    pub const MACRO_REJECTIONS_TOTAL: &str = "dynamo_metrics_macro_rejections_total";
    /// Help of [`MACRO_REJECTIONS_TOTAL`].
    pub const MACRO_REJECTIONS_TOTAL_HELP: &str = "Metric macro calls refused because they broke a naming rule or conflicted with a registered metric";
    /// New label sets folded into a metric's overflow series, by metric (label `metric`).
    pub const SERIES_OVERFLOW_TOTAL: &str = "dynamo_metrics_series_overflow_total";
    /// Help of [`SERIES_OVERFLOW_TOTAL`].
    pub const SERIES_OVERFLOW_TOTAL_HELP: &str = "New label sets folded into a metric's overflow series because the metric reached its series bound";
    /// The label of [`SERIES_OVERFLOW_TOTAL`] naming the metric.
    pub const METRIC_LABEL: &str = "metric";
    /// Texts of exposition callbacks left off a page (a counter, by `reason`).
    pub const CALLBACK_TEXT_DROPPED_TOTAL: &str = "dynamo_metrics_callback_text_dropped_total";
    /// Help of [`CALLBACK_TEXT_DROPPED_TOTAL`].
    pub const CALLBACK_TEXT_DROPPED_TOTAL_HELP: &str = "Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit";
    /// The label of [`CALLBACK_TEXT_DROPPED_TOTAL`] that says why.
    pub const DROP_REASON_LABEL: &str = "reason";
    /// A line of the text did not parse.
    pub const DROP_REASON_INVALID: &str = "invalid";
    /// A family or sample name of the text was already on the page.
    pub const DROP_REASON_CONFLICT: &str = "conflict";
    /// The text was longer than `DYN_METRICS_MAX_CALLBACK_TEXT_BYTES`.
    pub const DROP_REASON_TOO_LARGE: &str = "too_large";
    /// Canary health checks of idle endpoints, by `endpoint` and `result` (a counter).
    pub const HEALTH_CHECKS_TOTAL: &str = "dynamo_metrics_health_checks_total";
    /// Help of [`HEALTH_CHECKS_TOTAL`].
    pub const HEALTH_CHECKS_TOTAL_HELP: &str = "Canary health checks of idle endpoints, by endpoint and result (success, error or timeout)";
    /// The label of [`HEALTH_CHECKS_TOTAL`] naming the endpoint, as `/health` shows it.
    pub const ENDPOINT_LABEL: &str = "endpoint";
    /// The label of [`HEALTH_CHECKS_TOTAL`] saying how the probe ended.
    pub const RESULT_LABEL: &str = "result";
    /// Files of `prometheus_client` multiprocess directories skipped or read only in part
    /// (a counter, by `reason`).
    pub const MULTIPROCESS_FILES_SKIPPED_TOTAL: &str =
        "dynamo_metrics_multiprocess_files_skipped_total";
    /// Help of [`MULTIPROCESS_FILES_SKIPPED_TOTAL`].
    pub const MULTIPROCESS_FILES_SKIPPED_TOTAL_HELP: &str = "Files of prometheus_client multiprocess directories skipped because they could not be read or had an unknown name, or read up to their last whole entry because they were cut short or corrupt";
    /// The file could not be opened or read (it vanished since the listing, say).
    pub const MULTIPROCESS_UNREADABLE: &str = "unreadable";
    /// The file was cut short or corrupt: read up to its last whole entry.
    pub const MULTIPROCESS_CORRUPT: &str = "corrupt";
    /// The file's name is not one prometheus_client gives.
    pub const MULTIPROCESS_UNRECOGNIZED: &str = "unrecognized";
    /// OTLP export requests the collector accepted (a counter).
    pub const OTLP_EXPORTED_TOTAL: &str = "dynamo_metrics_otlp_exported_total";
    /// OTLP export requests dropped, by `reason` (a counter).
    pub const OTLP_DROPPED_TOTAL: &str = "dynamo_metrics_otlp_dropped_total";
    /// OTLP export requests encoded and waiting to be sent (a gauge).
    pub const OTLP_QUEUED_REQUESTS: &str = "dynamo_metrics_otlp_queued_requests";
    /// Dropped because the queue was full: the oldest waiting request made room.
    pub const OTLP_DROP_REASON_QUEUE_FULL: &str = "queue_full";
    /// Dropped because the collector refused it for good (400 and other permanent answers).
    pub const OTLP_DROP_REASON_REJECTED: &str = "rejected";
    /// Dropped because retries still failed when the export timeout ran out.
    pub const OTLP_DROP_REASON_RETRIES_EXHAUSTED: &str = "retries_exhausted";
    /// Dropped because the final flush at shutdown ran out of time.
    pub const OTLP_DROP_REASON_SHUTDOWN: &str = "shutdown";
}
