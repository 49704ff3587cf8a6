"""OTLP export from Python: receivers decoding requests with the OpenTelemetry project's
own ``opentelemetry-proto`` package (over HTTP, and over gRPC with ``grpcio``) find what the
scrape page shows."""

from __future__ import annotations

import os
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dynamo.runtime import DistributedRuntime

metrics_service_pb2 = pytest.importorskip(
    "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2"
)

CUMULATIVE = 2
DELTA = 1


class Receiver:
    """An OTLP/HTTP receiver on a free loopback port that keeps every decoded request."""

    def __init__(self) -> None:
        self.requests: list = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = metrics_service_pb2.ExportMetricsServiceRequest()
                request.ParseFromString(body)
                with receiver.arrived:
                    receiver.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, request)
                    )
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1/metrics"

    def wait_for(self, wanted, timeout: float = 20.0):
        """The first request ``wanted`` accepts, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for path, headers, request in self.requests:
                    if wanted(request):
                        return path, headers, request
                left = deadline - time.monotonic()
                assert left > 0, f"no wanted request in {timeout} s ({len(self.requests)} received)"
                self.arrived.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def collection_time(request) -> int:
    return max(
        point.time_unix_nano
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in getattr(metric, metric.WhichOneof("data")).data_points
    )


def attrs(point) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((kv.key, kv.value.string_value) for kv in point.attributes))


def from_request(request, temporality: int = CUMULATIVE) -> dict:
    """``{name: (kind, help, {labels: value})}`` of an export."""
    out = {}
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                data = getattr(metric, kind)
                points = {}
                if kind == "histogram":
                    assert data.aggregation_temporality == temporality
                    for p in data.data_points:
                        points[attrs(p)] = (
                            list(p.explicit_bounds),
                            list(p.bucket_counts),
                            p.sum,
                            p.count,
                        )
                    kind_name = "histogram"
                else:
                    if kind == "sum":
                        assert data.is_monotonic
                        assert data.aggregation_temporality == temporality
                    for p in data.data_points:
                        value = getattr(p, p.WhichOneof("value"))
                        points[attrs(p)] = float(value)
                    kind_name = "counter" if kind == "sum" else "gauge"
                out[metric.name] = (kind_name, metric.description, points)
    return out


def from_page(page: str) -> dict:
    """The same form, from the page as prometheus_client's parser reads it."""
    out = {}
    for family in text_string_to_metric_families(page):
        points: dict = {}
        if family.type == "histogram":
            buckets: dict = {}
            for s in family.samples:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                entry = buckets.setdefault(labels, {"bounds": [], "cumulative": [], "sum": 0.0})
                if s.name.endswith("_bucket"):
                    if s.labels["le"] != "+Inf":
                        entry["bounds"].append(float(s.labels["le"]))
                    entry["cumulative"].append(int(s.value))
                elif s.name.endswith("_sum"):
                    entry["sum"] = s.value
            for labels, entry in buckets.items():
                cumulative = entry["cumulative"]
                counts = [c - b for c, b in zip(cumulative, [0, *cumulative[:-1]], strict=True)]
                points[labels] = (entry["bounds"], counts, entry["sum"], cumulative[-1])
            out[family.name] = ("histogram", family.documentation, points)
        else:
            name = family.samples[0].name
            for s in family.samples:
                points[tuple(sorted(s.labels.items()))] = float(s.value)
            out[name] = (family.type, family.documentation, points)
    return out


def test_an_export_equals_the_page_of_the_same_moment(receiver):
    drt = DistributedRuntime(
        # The process metrics move between the page and the export.
        process_metrics=False,
        otlp={
            "protocol": "http/protobuf",
            "endpoint": receiver.endpoint,
            "interval": 0.05,
            "service_name": "py-worker",
            "resource_attributes": {"team": "a,b"},
            "headers": {"x-tenant": "t1"},
        },
    )
    try:
        ep = drt.namespace("ns").component("comp").endpoint("ep")
        ep.metrics.create_intcounter("requests_total", "Requests").inc_by(3)
        ep.metrics.create_counter("tokens_total", "Tokens", [("model", "m")]).inc_by(2.5)
        ep.metrics.create_gauge("load", "Load").set(0.5)
        ep.metrics.create_intgauge("slots", "Slots").set(-2)
        h = ep.metrics.create_histogram("latency_seconds", "Latency", buckets=[0.1, 1.0])
        for v in (0.05, 0.5, 2.0):
            h.observe(v)
        vec = ep.metrics.create_countervec("by_model_total", "By model", ["model"])
        vec.inc({"model": 'llama "3"'})
        vec.inc_by({"model": "mistral"}, 4)

        page = drt.metrics.prometheus_expfmt()
        after = time.time_ns()
        path, headers, request = receiver.wait_for(lambda r: collection_time(r) >= after)

        def steady(families: dict) -> dict:
            # Uptime and the exporter's own counters move between the page and the export.
            return {
                name: value
                for name, value in families.items()
                if not name.startswith("dynamo_metrics_otlp_")
                and name != "dynamo_component_uptime_seconds"
            }

        exported = from_request(request)
        assert steady(exported) == steady(from_page(page))
        assert "dynamo_component_uptime_seconds" in exported
        assert path == "/v1/metrics"
        assert headers["x-tenant"] == "t1"
        assert headers["content-type"] == "application/x-protobuf"
        resource = {
            kv.key: kv.value.string_value for kv in request.resource_metrics[0].resource.attributes
        }
        assert resource["service.name"] == "py-worker"
        assert resource["team"] == "a,b"
        assert resource["telemetry.sdk.name"] == "dynamo-metrics"
    finally:
        drt.shutdown()


def test_delta_temporality_reports_changes(receiver):
    drt = DistributedRuntime(
        otlp={
            "protocol": "http/protobuf",
            "endpoint": receiver.endpoint,
            "interval": 3600,
            "temporality": "delta",
        }
    )
    counter = drt.metrics.create_intcounter("jobs_total", "Jobs")
    counter.inc_by(5)
    drt.shutdown()
    _, _, request = receiver.wait_for(lambda r: True)
    kind, _, points = from_request(request, temporality=DELTA)["dynamo_component_jobs_total"]
    assert (kind, points) == ("counter", {(): 5.0})


def test_bad_settings_raise_value_error():
    with pytest.raises(ValueError, match='unknown OTLP setting "endpont"'):
        DistributedRuntime(otlp={"endpont": "http://127.0.0.1:4318"})
    with pytest.raises(ValueError, match="expected `cumulative`, `delta` or `lowmemory`"):
        DistributedRuntime(otlp={"temporality": "sometimes"})
    with pytest.raises(ValueError, match=r"OtlpConfig::with_endpoint\(\"nope\"\) is invalid"):
        DistributedRuntime(otlp={"endpoint": "nope"})
    with pytest.raises(ValueError, match="expected `grpc` or `http/protobuf`"):
        DistributedRuntime(otlp={"protocol": "http/json"})
    with pytest.raises(ValueError, match="expected a number of seconds above zero"):
        DistributedRuntime(otlp={"interval": 0})
    with pytest.raises(TypeError):
        DistributedRuntime(otlp={"headers": "x=1"})


def test_bad_environment_raises_value_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpcs")
    with pytest.raises(
        ValueError,
        match='OTEL_EXPORTER_OTLP_PROTOCOL="grpcs" is invalid: expected `grpc` or `http/protobuf`',
    ):
        DistributedRuntime()


class GrpcReceiver:
    """A grpcio ``MetricsService`` on a free loopback port that keeps every request."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

        self.requests: list = []
        self.arrived = threading.Condition()
        receiver = self

        class Servicer(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request, context):  # noqa: N802
                with receiver.arrived:
                    receiver.requests.append((time.monotonic(), request))
                    receiver.arrived.notify_all()
                return metrics_service_pb2.ExportMetricsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Servicer(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{port}"

    def wait_for(self, wanted, timeout: float = 20.0):
        """``(arrival, request)`` of the first request ``wanted`` accepts."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for arrival, request in self.requests:
                    if wanted(request):
                        return arrival, request
                left = deadline - time.monotonic()
                assert left > 0, f"no wanted request in {timeout} s ({len(self.requests)} received)"
                self.arrived.wait(left)

    def close(self) -> None:
        self.server.stop(grace=None)


def page_families(page: str) -> set[str]:
    """The names of the families of a page, from its ``# TYPE`` lines."""
    return {line.split()[2] for line in page.splitlines() if line.startswith("# TYPE ")}


def exported_names(request) -> set[str]:
    return {
        metric.name
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }


def test_dynamos_variables_alone_export_every_family_over_grpc(monkeypatch):
    pytest.importorskip("grpc")
    pytest.importorskip("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc")
    receiver = GrpcReceiver()
    for var in list(os.environ):
        if var.startswith("OTEL_"):
            monkeypatch.delenv(var)
    # Dynamo's variables: no protocol, so gRPC, to the endpoint used as it is.
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")
    started = time.monotonic()
    drt = DistributedRuntime()
    try:
        ep = drt.namespace("ns").component("vllm").endpoint("generate")
        ep.metrics.create_intcounter("requests_total", "Requests").inc()
        ep.metrics.create_histogram("latency_seconds", "Latency").observe(0.2)
        drt.metrics.register_prometheus_expfmt_callback(
            lambda: "# TYPE callback_queue gauge\ncallback_queue 4\n"
        )
        arrival, request = receiver.wait_for(lambda r: "callback_queue" in exported_names(r))
        assert arrival - started < 5, f"the first export came after {arrival - started:.1f} s"
        exported = exported_names(request)
        assert exported == page_families(drt.metrics.prometheus_expfmt())
        assert "dynamo_component_requests_total" in exported
        assert "dynamo_metrics_otlp_exported_total" in exported
        if os.path.exists("/proc/self/stat"):
            assert any(name.startswith("process_") for name in exported), exported
    finally:
        drt.shutdown()
        receiver.close()
