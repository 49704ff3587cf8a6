"""The OpenMetrics page: served with ``DYN_SYSTEM_OPENMETRICS`` on to a client that asks for
it, and read by prometheus_client's strict OpenMetrics parser with the samples of the text
page, named as OpenMetrics names them."""

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from conftest import fetch, serve

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UPTIME = "dynamo_component_uptime_seconds"


def get(runtime, accept):
    content_type, body = fetch(runtime, accept)
    return content_type, body.decode()


def keyed(families):
    """``(sample name, sorted labels) -> value``, with ``le`` as ``repr(float(le))``; a sample
    seen twice fails the test."""
    out = {}
    for family in families:
        for sample in family.samples:
            labels = dict(sample.labels)
            if "le" in labels:
                labels["le"] = repr(float(labels["le"]))
            key = (sample.name, tuple(sorted(labels.items())))
            assert key not in out, f"{key} twice"
            out[key] = sample.value
    return out


def as_openmetrics(text_families):
    """The samples of a text page as OpenMetrics names them: a counter's with ``_total``, and
    without the ``_created`` gauges of the families that own them there."""
    families = list(text_families)
    counters = {f.name for f in families if f.type == "counter"}
    owners = {f.name for f in families if f.type in ("counter", "histogram", "summary")}
    samples = {}
    for (name, labels), value in keyed(families).items():
        if name.endswith("_created") and name.removesuffix("_created") in owners:
            continue
        if name in counters:
            name += "_total"
        samples[(name, labels)] = value
    return samples


def fill(runtime):
    """A page of every kind: the runtime's own metrics, a callback's text and an engine's."""
    metrics = runtime.namespace("ns").component("comp").endpoint("ep").metrics
    metrics.create_intcounter("requests_total", "Requests.").inc_by(7)
    metrics.create_counter("tokens", "Tokens, a counter named without _total.").inc_by(2.5)
    metrics.create_gauge("load", 'Load, \\ and "quoted"\nover two lines.').set(-2.5)
    routes = metrics.create_countervec("routes_total", "Routes.", ["route"])
    routes.inc_by({"route": 'a"b\nc\\d'}, 3)
    routes.inc_by({"route": "café"}, 1.5)
    latency = metrics.create_histogramvec(
        "latency_seconds", "Latency.", ["model"], buckets=[0.005, 0.1, 1.0, 10.0, 1e6]
    )
    for value in (0.05, 0.5, 0.5, 5.0, 50.0):
        latency.observe(value, {"model": "m"})
    native = metrics.create_histogram(
        "ttft_seconds", "Time to first token.", buckets=[], native_bucket_factor=1.1
    )
    for value in (0.0, 0.25, 2.0):
        native.observe(value)
    runtime.namespace("ns").metrics.register_prometheus_expfmt_callback(
        lambda: (
            '# HELP rpc_seconds RPC "time"\n# TYPE rpc_seconds summary\n'
            'rpc_seconds{quantile="0.5"} 2\nrpc_seconds{quantile="0.9"} 3\n'
            "rpc_seconds_sum 10\nrpc_seconds_count 4\n"
            "plain_untyped 1.25\n# TYPE engine_steps counter\nengine_steps 12\n"
        )
    )
    engine = CollectorRegistry()
    Counter("vllm:prompt_tokens", "Prefill tokens.", ["model_name"], registry=engine).labels(
        "llama"
    ).inc(1234)
    Gauge("vllm:num_requests_running", "Running.", registry=engine).set(2)
    ttft = Histogram("vllm:ttft_seconds", "TTFT.", buckets=[0.01, 0.1, 1.0], registry=engine)
    for seconds in (0.005, 0.05, 0.5, 5.0):
        ttft.observe(seconds)
    Summary("vllm:step_seconds", "Step.", registry=engine).observe(0.25)
    metrics.register_engine_metrics(engine)


def test_the_openmetrics_page_reads_strictly_with_the_samples_of_the_text_page(served_openmetrics):
    fill(served_openmetrics)
    content_type, page = get(served_openmetrics, PROMETHEUS_ACCEPT)
    assert content_type == CONTENT_TYPE
    assert page.endswith("\n# EOF\n")
    families = list(parse_openmetrics(page))  # raises on anything OpenMetrics refuses
    types = {f.name: f.type for f in families}
    assert types["dynamo_component_requests"] == "counter"
    assert types["dynamo_component_tokens"] == "counter"
    assert types["plain_untyped"] == "unknown"
    assert types["rpc_seconds"] == "summary"
    assert types["engine_steps"] == "counter"
    assert types["vllm:prompt_tokens"] == "counter"
    assert types["vllm:ttft_seconds"] == "histogram"
    assert types["vllm:step_seconds"] == "summary"
    assert not any(name.endswith("_created") for name in types)
    helps = {f.name: f.documentation for f in families}
    assert helps["dynamo_component_load"] == 'Load, \\ and "quoted"\nover two lines.'
    assert helps["rpc_seconds"] == 'RPC "time"'
    assert 'le="1.0"' in page and 'le="1e+06"' in page and 'le="+Inf"' in page

    got = keyed(families)
    text_type, text = get(served_openmetrics, "text/plain;version=0.0.4")
    assert text_type == TEXT_CONTENT_TYPE
    expected = as_openmetrics(parse_text(text))
    # The runtime's uptime moves between the two scrapes.
    uptime = (UPTIME, ())
    assert 0 < got.pop(uptime) <= expected.pop(uptime)
    assert got == expected
    ep = (("dynamo_component", "comp"), ("dynamo_endpoint", "ep"), ("dynamo_namespace", "ns"))
    assert got[("dynamo_component_tokens_total", ep)] == 2.5
    assert got[("dynamo_component_routes_total", (*ep, ("route", 'a"b\nc\\d')))] == 3
    assert got[("dynamo_component_ttft_seconds_bucket", (*ep, ("le", "inf")))] == 3
    assert got[("dynamo_component_ttft_seconds_count", ep)] == 3
    assert got[("dynamo_component_ttft_seconds_sum", ep)] == 2.25
    assert got[("rpc_seconds", (("quantile", "0.9"),))] == 3


@pytest.mark.parametrize("setting", [None, "0", "false"])
def test_turned_off_a_client_that_prefers_openmetrics_gets_the_text_format(monkeypatch, setting):
    runtime = serve(monkeypatch, setting)
    try:
        content_type, page = get(runtime, PROMETHEUS_ACCEPT)
        assert content_type == TEXT_CONTENT_TYPE
        assert "# EOF" not in page
    finally:
        runtime.shutdown()


def test_a_setting_that_is_not_a_boolean_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="DYN_SYSTEM_OPENMETRICS"):
        serve(monkeypatch, "maybe")
