"""Type stubs of the native module behind ``dynamo.runtime`` and ``dynamo.prometheus_metrics``."""

import os
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Protocol, TypedDict, TypeVar, final, overload

# What `dynamo.prometheus_metrics` re-exports: the metric classes (one scalar and one vec class
# per line of the kinds table, then infos and enums), their context managers and the error of
# conflicts.
__all__ = [
    "Counter",
    "CounterVec",
    "Enum",
    "EnumVec",
    "ExceptionCounter",
    "Gauge",
    "GaugeVec",
    "Histogram",
    "HistogramVec",
    "Info",
    "InfoVec",
    "InprogressTracker",
    "IntCounter",
    "IntCounterVec",
    "IntGauge",
    "IntGaugeVec",
    "MetricsError",
    "Timer",
]

_ConstLabels = Sequence[tuple[str, str]] | Mapping[str, str]
_GaugeMode = Literal["all", "liveall", "sum", "livesum", "min", "livemin", "max", "livemax"]
"""Constant labels: a list of ``(name, value)`` pairs (or a dict)."""

_F = TypeVar("_F", bound=Callable[..., Any])
"""A decorated function: plain, ``async def``, or a generator function."""

_ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]
"""What ``isinstance`` takes as its second argument."""

class _ContextManager:
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Ends the block; an exception goes on."""

class _OtlpSettings(TypedDict, total=False):
    """Settings of ``DistributedRuntime(otlp=...)``; durations in seconds."""

    protocol: Literal["grpc", "http/protobuf"]
    endpoint: str
    headers: Mapping[str, str]
    timeout: float
    interval: float
    export_timeout: float
    shutdown_timeout: float
    compression: Literal["gzip", "none"]
    temporality: Literal["cumulative", "delta", "lowmemory"]
    service_name: str
    resource_attributes: Mapping[str, str]
    max_queued_requests: int

@final
class DistributedRuntime:
    """The root of the hierarchy, configured from the environment (``DYN_SYSTEM_*``,
    ``DYN_METRICS_*``, and ``OTEL_*`` for OTLP export)."""

    def __new__(
        cls,
        *,
        const_labels: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        process_metrics: bool | None = None,
        otlp: _OtlpSettings | None = None,
    ) -> DistributedRuntime:
        """``const_labels`` are added to every series of the page that lacks them, besides
        those of ``DYN_METRICS_CONST_LABELS`` (on the same name, these win); names starting
        with ``dynamo_`` or ``__``, ``le`` and ``quantile`` raise ``ValueError``.
        ``process_metrics`` shows or hides the standard ``process_*`` metrics (default:
        ``DYN_METRICS_PROCESS``, on). ``otlp={...}`` turns OTLP export on with these
        settings over the environment's."""
    def namespace(self, name: str) -> Namespace:
        """The namespace ``name``; two calls with the same name give the same place."""
    @property
    def metrics(self) -> Metrics:
        """The runtime-level metrics: no hierarchy labels; its scrape covers every level."""
    def system_status_server_info(self) -> tuple[str, int] | None:
        """``(host, port)`` of the system status server, or ``None`` when it does not run."""
    def shutdown(self) -> None:
        """Stops the system status server, if it runs, and OTLP export after a final export
        (bounded by its shutdown timeout). Metrics keep working."""
    def set_health_status(self, status: Literal["ready", "notready"]) -> None:
        """Sets the runtime's readiness. ``/health`` answers 200 when the runtime and every
        endpoint that set its own readiness are ready, else 503."""
    def health_status(self) -> Literal["ready", "notready"]:
        """The runtime's own readiness."""

@final
class Namespace:
    """A namespace: its metrics carry the label ``dynamo_namespace``."""

    def component(self, name: str) -> Component:
        """The component ``name`` of this namespace."""
    @property
    def metrics(self) -> Metrics:
        """The metrics of this level."""

@final
class Component:
    """A component of a namespace: its metrics also carry ``dynamo_component``."""

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint ``name`` of this component."""
    @property
    def metrics(self) -> Metrics:
        """The metrics of this level."""

@final
class Endpoint:
    """An endpoint of a component: its metrics also carry ``dynamo_endpoint``."""

    @property
    def metrics(self) -> Metrics:
        """The metrics of this level."""
    def set_health_status(self, status: Literal["ready", "notready"]) -> None:
        """Sets this endpoint's readiness: ``/health`` lists it under ``endpoints`` and is
        ready only while every endpoint that set one is."""
    def health_status(self) -> Literal["ready", "notready"] | None:
        """The readiness this endpoint set, or ``None`` when it set none."""
    def register_health_check(self, handler: Callable[[Any], object], payload: Any) -> None:
        """Registers the endpoint's health check: with ``DYN_HEALTH_CHECK_ENABLED=true``,
        ``handler(payload)`` (plain, ``async def`` or generator) is called on its own thread
        once the endpoint has had no successful request for ``DYN_CANARY_WAIT_TIME``
        seconds; its answer decides the endpoint's readiness until the next success."""
    def track_request(
        self, error_type: str | None = None, traceparent: str | None = None
    ) -> RequestGuard:
        """Starts tracking one request, for a ``with`` block. An exception leaving the block
        counts an error of ``error_type``, or of the exception's class name. The request's
        W3C ``traceparent``, or else OpenTelemetry's current span, puts its trace and span ids
        beside its count and duration as exemplars."""
    @overload
    def track_requests(self, func: _F, /) -> _F:
        """Decorator: each call of ``func`` (plain, ``async def`` or generator) is a request."""
    @overload
    def track_requests(
        self, func: None = None, /, *, error_type: str | None = None
    ) -> Callable[[_F], _F]: ...
    def create_request_metrics(
        self,
        labels: _ConstLabels | None = None,
        duration_buckets: Sequence[float] | None = None,
        first_response_buckets: Sequence[float] | None = None,
        native_bucket_factor: float | None = None,
    ) -> None:
        """Creates the request metrics now, with extra constant labels and buckets (default
        0.005 to 600 seconds), before the first tracked request; ``native_bucket_factor``
        (1.1 is usual) gives both histograms native buckets too."""

@final
class CallbackHandle:
    """Returned by ``register_callback``, ``register_prometheus_expfmt_callback`` and
    ``register_engine_metrics``. Dropping it keeps the callback registered."""

    def unregister(self) -> bool:
        """Removes the callback; ``False`` when it was removed already."""

@final
class RequestGuard(_ContextManager):
    """One request being tracked, from ``endpoint.track_request()``; it ends once, at the end
    of its ``with`` block or at ``finish()``."""

    def __enter__(self) -> RequestGuard: ...
    def error(self, error_type: str) -> None:
        """Counts one error of ``error_type`` in ``errors_total{error_type}``."""
    def cancelled(self) -> None:
        """Counts the request in ``cancellation_total`` (once)."""
    def request_bytes(self, n: int) -> None:
        """Adds ``n`` to ``request_bytes_total``."""
    def response_bytes(self, n: int) -> None:
        """Adds ``n`` to ``response_bytes_total``."""
    def first_response(self) -> None:
        """Observes the time to the first response (the first call only)."""
    def finish(self) -> float:
        """Ends the request now; returns its duration in seconds (0 when it had ended)."""

@final
class Metrics:
    """The metrics of one hierarchy level: creators, scrape text and callbacks.

    Each metric is exported as ``dynamo_component_<name>`` with the level's hierarchy labels.
    Creating one that conflicts with a registered metric raises :class:`MetricsError`; a bad
    name, label, help text or bucket list raises ``ValueError``.
    """

    def create_counter(
        self,
        name: str,
        description: str,
        labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> Counter:
        """Creates a float counter."""
    def create_intcounter(
        self,
        name: str,
        description: str,
        labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> IntCounter:
        """Creates an integer counter."""
    def create_gauge(
        self,
        name: str,
        description: str,
        labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> Gauge:
        """Creates a float gauge; ``multiprocess_mode`` (default ``"livesum"``) says how the
        gauge merges across the processes of a multiprocess directory (gauges only)."""
    def create_intgauge(
        self,
        name: str,
        description: str,
        labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> IntGauge:
        """Creates an integer gauge; ``multiprocess_mode`` as for :meth:`create_gauge`."""
    def create_histogram(
        self,
        name: str,
        description: str,
        labels: _ConstLabels | None = None,
        buckets: Sequence[float] | None = None,
        native_bucket_factor: float | None = None,
        native_max_buckets: int | None = None,
        native_zero_threshold: float | None = None,
        native_max_zero_threshold: float | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> Histogram:
        """Creates a histogram; ``buckets=None`` means ``0.005 ... 10``. With
        ``native_bucket_factor`` (1.1 is usual) it also keeps native buckets growing by at most
        that factor (at most ``native_max_buckets``, 160 by default; observations within
        ``native_zero_threshold``, ``2**-128`` by default, of zero in the zero bucket, which may
        widen up to ``native_max_zero_threshold``, 0 by default, before the resolution halves);
        ``buckets=[]`` makes it native only."""
    def create_countervec(
        self,
        name: str,
        description: str,
        label_names: Sequence[str],
        const_labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> CounterVec:
        """Creates float counters keyed by the values of ``label_names``."""
    def create_intcountervec(
        self,
        name: str,
        description: str,
        label_names: Sequence[str],
        const_labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> IntCounterVec:
        """Creates integer counters keyed by the values of ``label_names``."""
    def create_gaugevec(
        self,
        name: str,
        description: str,
        label_names: Sequence[str],
        const_labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> GaugeVec:
        """Creates float gauges keyed by the values of ``label_names``; ``multiprocess_mode`` as
        for :meth:`create_gauge`."""
    def create_intgaugevec(
        self,
        name: str,
        description: str,
        label_names: Sequence[str],
        const_labels: _ConstLabels | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> IntGaugeVec:
        """Creates integer gauges keyed by the values of ``label_names``; ``multiprocess_mode``
        as for :meth:`create_gauge`."""
    def create_histogramvec(
        self,
        name: str,
        description: str,
        label_names: Sequence[str],
        const_labels: _ConstLabels | None = None,
        buckets: Sequence[float] | None = None,
        native_bucket_factor: float | None = None,
        native_max_buckets: int | None = None,
        native_zero_threshold: float | None = None,
        native_max_zero_threshold: float | None = None,
        multiprocess_mode: _GaugeMode | None = None,
    ) -> HistogramVec:
        """Creates histograms keyed by the values of ``label_names``; ``buckets`` and the
        ``native_*`` settings as for :meth:`create_histogram`."""
    def create_info(self, name: str, description: str, labels: _ConstLabels | None = None) -> Info:
        """Creates an info: metadata set by ``info({...})``, shown as the gauge
        ``<name>_info{key="value",...} 1`` (OpenMetrics: an ``info``)."""
    def create_infovec(
        self,
        name: str,
        description: str,
        label_names: Sequence[str],
        const_labels: _ConstLabels | None = None,
    ) -> InfoVec:
        """Creates infos keyed by the values of ``label_names``."""
    def create_enum(
        self,
        name: str,
        description: str,
        states: Sequence[str],
        labels: _ConstLabels | None = None,
    ) -> Enum:
        """Creates an enum of ``states`` (at least one), the first current until
        ``state(...)``: one series per state labelled with the metric's name, 1 for the
        current state and 0 for the others (OpenMetrics: a ``stateset``)."""
    def create_enumvec(
        self,
        name: str,
        description: str,
        label_names: Sequence[str],
        states: Sequence[str],
        const_labels: _ConstLabels | None = None,
    ) -> EnumVec:
        """Creates enums of ``states`` keyed by the values of ``label_names``."""
    def prometheus_expfmt(self) -> str:
        """The exposition text of this level and every level below it, after their callbacks."""
    def register_callback(self, callback: Callable[[], object]) -> CallbackHandle:
        """Runs ``callback()`` before each scrape; an exception is logged and skipped."""
    def register_prometheus_expfmt_callback(self, callback: Callable[[], str]) -> CallbackHandle:
        """Appends the text ``callback()`` returns to each scrape, when it parses and repeats
        no family already on the page (else it is left off, logged and counted)."""
    def register_engine_metrics(
        self,
        registry: _Collector | Callable[[], str | bytes] | None = None,
        *,
        multiprocess_dir: str | os.PathLike[str] | None = None,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        labels: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        skip_process_metrics: bool = True,
    ) -> CallbackHandle:
        """Serves an engine's metrics on each scrape of this level or one above it: the
        families of a ``prometheus_client`` registry (default ``prometheus_client.REGISTRY``)
        or of the text a function returns, whose name starts with a prefix of ``include``
        (all when ``None``) and none of ``exclude``, without the registry's own ``process_*``
        and ``python_*`` families unless ``skip_process_metrics`` is false. Each sample gets
        this level's hierarchy labels and ``labels`` where it lacks them (its own win). The
        same registry registered at several levels shows each family once, with the labels
        of its first registration.

        ``multiprocess_dir`` (instead of ``registry``) reads a ``prometheus_client``
        multiprocess directory and merges its files as ``MultiProcessCollector`` does, in
        Rust and without the GIL; with neither given and ``PROMETHEUS_MULTIPROC_DIR`` set,
        that directory is read. Files of ``live*`` gauges whose process is gone are left
        out; files that cannot be read or are corrupt are skipped (or read up to their last
        whole entry), logged and counted in
        ``dynamo_metrics_multiprocess_files_skipped_total``."""
    def unregister(self, metric: _Metric) -> None:
        """Takes out a metric created at this level: its series leave the scrape, it records
        nothing from then on, and the same name and labels can be created again."""

class _Collector(Protocol):
    """A ``prometheus_client`` ``CollectorRegistry``, or anything ``generate_latest`` reads."""

    def collect(self) -> Any: ...

class MetricsError(RuntimeError):
    """A metric conflicts with one already registered."""

class _Metric:
    def name(self) -> str:
        """The full exported name, ``dynamo_component_<name>``."""
    def const_labels(self) -> dict[str, str]:
        """The constant labels: the hierarchy labels and the ones given at creation."""

@final
class Counter(_Metric):
    """A counter of floats that only goes up."""

    def inc(self, amount: float | None = None, exemplar: dict[str, str] | None = None) -> None:
        """Adds ``amount`` (default 1); ``exemplar`` labels (OpenMetrics rules, else
        ``ValueError``) are kept as the latest exemplar."""
    def inc_by(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        """Adds ``value``; a negative value raises ``OverflowError``."""
    def get(self) -> float: ...
    def count_exceptions(self, exception: _ExceptionTypes | None = None) -> ExceptionCounter:
        """Counts the exceptions of type ``exception`` (``None``: ``Exception``) leaving a
        block."""

@final
class IntCounter(_Metric):
    """A counter of integers (0 to 2**64 - 1) that only goes up."""

    def inc(self, amount: int | None = None, exemplar: dict[str, str] | None = None) -> None:
        """Adds ``amount`` (default 1); ``exemplar`` labels (OpenMetrics rules, else
        ``ValueError``) are kept as the latest exemplar."""
    def inc_by(self, value: int, exemplar: dict[str, str] | None = None) -> None:
        """Adds ``value``; a negative or too large value raises ``OverflowError``."""
    def get(self) -> int: ...
    def count_exceptions(self, exception: _ExceptionTypes | None = None) -> ExceptionCounter:
        """Counts the exceptions of type ``exception`` (``None``: ``Exception``) leaving a
        block."""

@final
class Gauge(_Metric):
    """A float that goes up and down."""

    def set(self, value: float) -> None: ...
    def get(self) -> float: ...
    def inc(self) -> None: ...
    def dec(self) -> None: ...
    def add(self, value: float) -> None: ...
    def sub(self, value: float) -> None: ...
    def inc_by(self, value: float) -> None: ...
    def dec_by(self, value: float) -> None: ...
    def time(self) -> Timer:
        """Sets the gauge to the seconds a block or each call of a decorated function takes."""
    def track_inprogress(self) -> InprogressTracker:
        """Adds one while a block or a call of a decorated function runs."""

@final
class IntGauge(_Metric):
    """An integer (-2**63 to 2**63 - 1) that goes up and down."""

    def set(self, value: int) -> None: ...
    def get(self) -> int: ...
    def inc(self) -> None: ...
    def dec(self) -> None: ...
    def add(self, value: int) -> None: ...
    def sub(self, value: int) -> None: ...
    def track_inprogress(self) -> InprogressTracker:
        """Adds one while a block or a call of a decorated function runs."""

@final
class Histogram(_Metric):
    """Observations counted into buckets fixed at creation."""

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        """Records ``value``; ``exemplar`` labels are kept as the latest of its bucket."""
    def get_count(self) -> int: ...
    def get_sum(self) -> float: ...
    def time(self) -> Timer:
        """Observes the seconds a block or each call of a decorated function takes."""

class _MetricVec(_Metric):
    """Vec operations take ``labels``: a dict with exactly the declared label names, each
    mapped to a ``str``."""

    def variable_labels(self) -> list[str]:
        """The variable label names, in declaration order."""
    def remove(self, labels: dict[str, str]) -> bool:
        """Removes the series of ``labels``; ``False`` when there is none."""
    def remove_matching(self, labels: dict[str, str]) -> int:
        """Removes every series whose labels named in ``labels`` have those values; returns
        how many."""
    def clear(self) -> None:
        """Removes every series."""
    @property
    def max_series(self) -> int:
        """How many series the vec may hold (0: no bound); past it, new label sets share one
        overflow series."""
    @max_series.setter
    def max_series(self, max: int) -> None: ...
    def series_count(self) -> int:
        """How many series the vec holds now."""

@final
class CounterVec(_MetricVec):
    """Float counters, one per set of label values."""

    def inc(self, labels: dict[str, str], exemplar: dict[str, str] | None = None) -> None: ...
    def inc_by(
        self, labels: dict[str, str], value: float, exemplar: dict[str, str] | None = None
    ) -> None: ...
    def get(self, labels: dict[str, str]) -> float: ...
    def count_exceptions(
        self, labels: dict[str, str], exception: _ExceptionTypes | None = None
    ) -> ExceptionCounter: ...

@final
class IntCounterVec(_MetricVec):
    """Integer counters, one per set of label values."""

    def inc(self, labels: dict[str, str], exemplar: dict[str, str] | None = None) -> None: ...
    def inc_by(
        self, labels: dict[str, str], value: int, exemplar: dict[str, str] | None = None
    ) -> None: ...
    def get(self, labels: dict[str, str]) -> int: ...
    def count_exceptions(
        self, labels: dict[str, str], exception: _ExceptionTypes | None = None
    ) -> ExceptionCounter: ...

@final
class GaugeVec(_MetricVec):
    """Float gauges, one per set of label values."""

    def set(self, value: float, labels: dict[str, str]) -> None: ...
    def get(self, labels: dict[str, str]) -> float: ...
    def inc(self, labels: dict[str, str]) -> None: ...
    def dec(self, labels: dict[str, str]) -> None: ...
    def add(self, labels: dict[str, str], value: float) -> None: ...
    def sub(self, labels: dict[str, str], value: float) -> None: ...
    def inc_by(self, labels: dict[str, str], value: float) -> None: ...
    def dec_by(self, labels: dict[str, str], value: float) -> None: ...
    def time(self, labels: dict[str, str]) -> Timer: ...
    def track_inprogress(self, labels: dict[str, str]) -> InprogressTracker: ...

@final
class IntGaugeVec(_MetricVec):
    """Integer gauges, one per set of label values."""

    def set(self, value: int, labels: dict[str, str]) -> None: ...
    def get(self, labels: dict[str, str]) -> int: ...
    def inc(self, labels: dict[str, str]) -> None: ...
    def dec(self, labels: dict[str, str]) -> None: ...
    def add(self, labels: dict[str, str], value: int) -> None: ...
    def sub(self, labels: dict[str, str], value: int) -> None: ...
    def track_inprogress(self, labels: dict[str, str]) -> InprogressTracker: ...

@final
class HistogramVec(_MetricVec):
    """Histograms, one per set of label values, all with the same buckets."""

    def observe(
        self, value: float, labels: dict[str, str], exemplar: dict[str, str] | None = None
    ) -> None: ...
    def get_count(self, labels: dict[str, str]) -> int: ...
    def get_sum(self, labels: dict[str, str]) -> float: ...
    def time(self, labels: dict[str, str]) -> Timer: ...

@final
class Info(_Metric):
    """Key-value metadata (build, model), shown as ``<name>_info{key="value",...} 1``."""

    def info(self, val: dict[str, str]) -> None:
        """Sets the metadata, replacing what was set before; ``ValueError`` for a key that is
        not a valid label name or is one of the metric's labels."""
    def get(self) -> dict[str, str]: ...

@final
class InfoVec(_Metric):
    """Infos, one per set of label values."""

    def info(self, labels: dict[str, str], val: dict[str, str]) -> None: ...
    def get(self, labels: dict[str, str]) -> dict[str, str]: ...
    def labels(self, labels: dict[str, str]) -> Info:
        """The info of ``labels``, created on first use."""
    def remove(self, labels: dict[str, str]) -> bool:
        """Removes the info of ``labels``; ``False`` when there is none."""
    def remove_matching(self, labels: dict[str, str]) -> int:
        """Removes every info whose labels named in ``labels`` have those values; returns
        how many."""
    def clear(self) -> None:
        """Removes every info."""
    def variable_labels(self) -> list[str]: ...

@final
class Enum(_Metric):
    """One of a fixed list of states, shown as one series per state labelled with the
    metric's name: 1 for the current state, 0 for the others."""

    def state(self, state: str) -> None:
        """Makes ``state`` current; ``ValueError`` naming a state it does not have."""
    def get(self) -> str: ...
    def states(self) -> list[str]: ...

@final
class EnumVec(_Metric):
    """Enums of one list of states, one per set of label values."""

    def state(self, labels: dict[str, str], state: str) -> None: ...
    def get(self, labels: dict[str, str]) -> str: ...
    def labels(self, labels: dict[str, str]) -> Enum:
        """The enum of ``labels``, created on first use."""
    def remove(self, labels: dict[str, str]) -> bool:
        """Removes the enum of ``labels``; ``False`` when there is none."""
    def remove_matching(self, labels: dict[str, str]) -> int:
        """Removes every enum whose labels named in ``labels`` have those values; returns
        how many."""
    def clear(self) -> None:
        """Removes every enum."""
    def variable_labels(self) -> list[str]: ...

@final
class Timer(_ContextManager):
    """Times a block (``with``) or each call of a decorated function, as prometheus_client's
    ``time()``: a histogram observes the seconds, a gauge is set to them."""

    def __enter__(self) -> Timer: ...
    def __call__(self, func: _F) -> _F: ...

@final
class InprogressTracker(_ContextManager):
    """A gauge up by one while a block or a call of a decorated function runs."""

    def __enter__(self) -> None: ...
    def __call__(self, func: _F) -> _F: ...

@final
class ExceptionCounter(_ContextManager):
    """Counts the exceptions of a type leaving a block or a decorated function."""

    def __enter__(self) -> None: ...
    def __call__(self, func: _F) -> _F: ...
