"""A worker deployed as Dynamo's operator deploys it, exporting as Dynamo's parity test sets
up: the listed endpoint decides ``/health``, and every family of ``/metrics`` reaches the OTLP
receiver (gRPC when no protocol is set, as in Dynamo; OTLP/HTTP with ``http/protobuf``), and
nothing else does."""

from __future__ import annotations

import os
import time
import urllib.request

import pytest
from test_health import OPERATOR_ENV, health
from test_otlp import GrpcReceiver, Receiver, exported_names, page_families

from dynamo.runtime import DistributedRuntime


def scrape(runtime) -> str:
    host, port = runtime.system_status_server_info()
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def first_request(receiver, wanted):
    """``(arrival, request)`` of the first request ``wanted`` accepts, from either receiver."""
    found = receiver.wait_for(wanted)
    if isinstance(receiver, GrpcReceiver):
        return found
    return time.monotonic(), found[2]


@pytest.mark.parametrize("protocol", [None, "http/protobuf"], ids=["grpc", "http"])
def test_the_operators_environment_and_dynamos_otlp_variables_work_unchanged(monkeypatch, protocol):
    if protocol is None:
        pytest.importorskip("grpc")
        pytest.importorskip("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc")
        receiver = GrpcReceiver()
    else:
        receiver = Receiver()
    for var in list(os.environ):
        if var.startswith(("OTEL_", "DYN_")):
            monkeypatch.delenv(var)
    for var, value in OPERATOR_ENV.items():
        monkeypatch.setenv(var, value)
    # Dynamo's parity test sets these three alone.
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")
    if protocol is not None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    started = time.monotonic()
    drt = DistributedRuntime()
    try:
        assert health(drt) == (503, "notready", {"generate": "notready"})
        generate = drt.namespace("dynamo").component("backend").endpoint("generate")
        generate.metrics.create_intcounter("requests_total", "Requests").inc()
        generate.metrics.create_histogram("latency_seconds", "Latency").observe(0.2)
        drt.metrics.register_prometheus_expfmt_callback(
            lambda: "# TYPE callback_queue gauge\ncallback_queue 4\n"
        )
        generate.set_health_status("ready")
        assert health(drt) == (200, "ready", {"generate": "ready"})

        arrival, request = first_request(receiver, lambda r: "callback_queue" in exported_names(r))
        assert arrival - started < 5, f"the first export came after {arrival - started:.1f} s"
        exported = exported_names(request)
        assert exported == page_families(scrape(drt))
        assert {"dynamo_component_requests_total", "dynamo_component_latency_seconds"} <= exported
    finally:
        drt.shutdown()
        receiver.close()
