"""Exemplars given as prometheus_client takes them (``inc(1, exemplar={...})``,
``observe(v, exemplar={...})``), read back from the OpenMetrics page by prometheus_client's
strict parser; refused ones raise ``ValueError`` and change nothing."""

import os
import subprocess
import sys
import time

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)

from conftest import fetch

ACCEPT = "application/openmetrics-text; version=1.0.0"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def page(runtime, accept=ACCEPT):
    return fetch(runtime, accept)[1].decode()


def without_uptime(text):
    """The page without the uptime family, whose value moves between two scrapes."""
    return "\n".join(line for line in text.splitlines() if "uptime_seconds" not in line)


def exemplars(text, family):
    """``(sample name, labels without the hierarchy's, le) -> (exemplar labels, value,
    timestamp)`` for the samples of ``family`` that carry one."""
    out = {}
    for parsed in parse_openmetrics(text):
        if parsed.name != family:
            continue
        for sample in parsed.samples:
            if sample.exemplar is None:
                continue
            labels = {k: v for k, v in sample.labels.items() if not k.startswith("dynamo_")}
            key = (sample.name, tuple(sorted(labels.items())))
            e = sample.exemplar
            out[key] = (e.labels, e.value, e.timestamp)
    return out


def test_counters_and_histograms_carry_exemplars_to_the_openmetrics_page(served_openmetrics):
    metrics = served_openmetrics.namespace("ns").component("c").endpoint("e").metrics
    counter = metrics.create_counter("bytes_total", "Bytes")
    ints = metrics.create_intcountervec("requests_total", "Requests", ["model"])
    histogram = metrics.create_histogram("latency_seconds", "Latency", buckets=[0.1, 1.0])
    vec = metrics.create_histogramvec("ttft_seconds", "TTFT", ["model"], buckets=[0.5])
    before = time.time()
    counter.inc(2.5, exemplar={"trace_id": "old"})
    counter.inc(exemplar={"trace_id": TRACE, "span_id": "00f067aa0ba902b7"})
    counter.inc_by(1.0)
    ints.inc({"model": "llama"}, exemplar={"trace_id": "first"})
    ints.inc_by({"model": "llama"}, 4, exemplar={"trace_id": "latest"})
    histogram.observe(0.05, exemplar={"trace_id": "fast"})
    histogram.observe(0.5)
    histogram.observe(7.0, exemplar={"trace_id": "slow"})
    vec.observe(0.25, {"model": "llama"}, exemplar={"trace_id": "v"})
    after = time.time()
    assert (counter.get(), ints.get({"model": "llama"})) == (4.5, 5)
    assert histogram.get_count() == 3

    text = page(served_openmetrics)
    for line in text.splitlines():
        if " # {" in line:
            assert line.split(" # ")[0].rsplit("{", 1)[0].endswith(("_total", "_bucket")), line
    seen = exemplars(text, "dynamo_component_bytes")
    ((labels, value, timestamp),) = seen.values()
    assert (labels, value) == ({"span_id": "00f067aa0ba902b7", "trace_id": TRACE}, 1.0)
    assert before - 0.001 <= float(timestamp) <= after + 0.001
    assert list(seen) == [("dynamo_component_bytes_total", ())]

    seen = exemplars(text, "dynamo_component_requests")
    assert [(k, v[:2]) for k, v in seen.items()] == [
        (("dynamo_component_requests_total", (("model", "llama"),)), ({"trace_id": "latest"}, 4.0))
    ]

    seen = exemplars(text, "dynamo_component_latency_seconds")
    assert {k: v[:2] for k, v in seen.items()} == {
        ("dynamo_component_latency_seconds_bucket", (("le", "0.1"),)): ({"trace_id": "fast"}, 0.05),
        ("dynamo_component_latency_seconds_bucket", (("le", "+Inf"),)): ({"trace_id": "slow"}, 7.0),
    }
    seen = exemplars(text, "dynamo_component_ttft_seconds")
    assert {k: v[:2] for k, v in seen.items()} == {
        ("dynamo_component_ttft_seconds_bucket", (("le", "0.5"), ("model", "llama"))): (
            {"trace_id": "v"},
            0.25,
        ),
    }

    # Never in the Prometheus text format.
    assert " # {" not in page(served_openmetrics, "text/plain; version=0.0.4")
    assert "trace_id" not in metrics.prometheus_expfmt()


def test_escaped_values_read_back(served_openmetrics):
    metrics = served_openmetrics.namespace("ns").component("c").endpoint("e").metrics
    counter = metrics.create_intcounter("jobs_total", "Jobs")
    # A backslash and a newline; a quote is escaped too, but prometheus_client's parser
    # ends an exemplar's label value at any quote, escaped or not.
    counter.inc(1, exemplar={"user": "a\\b\nc"})
    ((labels, value, _),) = exemplars(page(served_openmetrics), "dynamo_component_jobs").values()
    assert (labels, value) == ({"user": "a\\b\nc"}, 1.0)


def test_a_refused_exemplar_raises_value_error_and_changes_nothing(served_openmetrics):
    metrics = served_openmetrics.namespace("ns").component("c").endpoint("e").metrics
    counter = metrics.create_intcounter("jobs_total", "Jobs")
    vec = metrics.create_countervec("bytes_total", "Bytes", ["k"])
    histogram = metrics.create_histogram("latency_seconds", "Latency", buckets=[1.0])
    counter.inc()
    before = without_uptime(page(served_openmetrics))
    too_long = {"trace_id": "x" * (129 - len("trace_id"))}
    for bad in (too_long, {"trace-id": "x"}, {"": "x"}, {"__name": "x"}):
        with pytest.raises(ValueError, match="invalid exemplar"):
            counter.inc(1, exemplar=bad)
        with pytest.raises(ValueError, match="invalid exemplar"):
            counter.inc_by(1, exemplar=bad)
        with pytest.raises(ValueError, match="invalid exemplar"):
            histogram.observe(0.5, exemplar=bad)
        with pytest.raises(ValueError, match="invalid exemplar"):
            vec.inc_by({"k": "v"}, 1.0, exemplar=bad)
    with pytest.raises(ValueError, match="129 characters"):
        counter.inc(exemplar=too_long)
    with pytest.raises(TypeError):
        counter.inc(exemplar={"trace_id": 1})
    with pytest.raises(OverflowError):
        counter.inc(-1, exemplar={"trace_id": "x"})
    assert counter.get() == 1
    assert histogram.get_count() == 0
    assert vec.series_count() == 0
    assert without_uptime(page(served_openmetrics)) == before
    counter.inc(exemplar={"trace_id": "x" * (128 - len("trace_id"))})
    assert counter.get() == 2


def test_tracked_requests_put_their_trace_beside_their_count_and_duration(served_openmetrics):
    """A ``traceparent`` given to ``track_request``, or else OpenTelemetry's current span."""
    from opentelemetry import trace

    given = served_openmetrics.namespace("ns").component("c").endpoint("given")
    current = served_openmetrics.namespace("ns").component("c").endpoint("current")
    with given.track_request(traceparent=f"00-{TRACE}-00f067aa0ba902b7-01"):
        pass
    context = trace.SpanContext(trace_id=0xABC, span_id=0x1234, is_remote=False)
    with trace.use_span(trace.NonRecordingSpan(context)):
        with current.track_request():
            pass
    with current.track_request(traceparent="malformed"):
        pass
    # No span, OpenTelemetry's invalid span and a span of an invalid context: no trace.
    outside = served_openmetrics.namespace("ns").component("c").endpoint("outside")
    with outside.track_request():
        pass
    with trace.use_span(trace.INVALID_SPAN), outside.track_request():
        pass
    with trace.use_span(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)):
        with outside.track_request():
            pass

    by_endpoint = {}
    for parsed in parse_openmetrics(page(served_openmetrics)):
        for sample in parsed.samples:
            if sample.exemplar is not None:
                endpoint = sample.labels["dynamo_endpoint"]
                by_endpoint.setdefault(endpoint, {})[sample.name] = sample.exemplar.labels
    assert by_endpoint == {
        "given": {
            "dynamo_component_requests_total": {"trace_id": TRACE, "span_id": "00f067aa0ba902b7"},
            "dynamo_component_request_duration_seconds_bucket": {
                "trace_id": TRACE,
                "span_id": "00f067aa0ba902b7",
            },
        },
        "current": {
            "dynamo_component_requests_total": {
                "trace_id": f"{0xABC:032x}",
                "span_id": f"{0x1234:016x}",
            },
            "dynamo_component_request_duration_seconds_bucket": {
                "trace_id": f"{0xABC:032x}",
                "span_id": f"{0x1234:016x}",
            },
        },
    }


def test_the_current_span_is_found_where_the_context_is_not_a_dict():
    """Where OpenTelemetry's current context is not the dict it is read as (another version,
    another runtime context), the current span comes from ``get_current_span``: run in a
    process of its own, whose context is made a read-only mapping before the first request."""
    script = f"""
import types
import urllib.request
import opentelemetry.context as context_api
from opentelemetry import trace
from dynamo.runtime import DistributedRuntime
current = context_api.get_current
context_api.get_current = lambda: types.MappingProxyType(current())
runtime = DistributedRuntime(process_metrics=False)
endpoint = runtime.namespace("ns").component("c").endpoint("e")
context = trace.SpanContext(trace_id=0xABC, span_id=0x1234, is_remote=False)
with trace.use_span(trace.NonRecordingSpan(context)), endpoint.track_request():
    pass
host, port = runtime.system_status_server_info()
url = f"http://{{host}}:{{port}}/metrics"
request = urllib.request.Request(url, headers={{"Accept": "{ACCEPT}"}})
print(urllib.request.urlopen(request, timeout=10).read().decode(), end="")
runtime.shutdown()
"""
    env = dict(
        os.environ,
        DYN_SYSTEM_PORT="0",
        DYN_SYSTEM_HOST="127.0.0.1",
        DYN_SYSTEM_OPENMETRICS="1",
    )
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    labels = [
        sample.exemplar.labels
        for parsed in parse_openmetrics(run.stdout)
        for sample in parsed.samples
        if sample.exemplar is not None
    ]
    trace = {"trace_id": f"{0xABC:032x}", "span_id": f"{0x1234:016x}"}
    assert labels == [trace, trace]
