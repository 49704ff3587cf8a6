"""register_engine_metrics: the families of a real prometheus_client registry holding
vLLM-style metrics, served on the page filtered by prefix, with the hierarchy labels and the
chosen labels added where a sample lacks them, each family once."""

import logging
import sys

import pytest
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.parser import text_string_to_metric_families

from conftest import EP_LABELS, key, samples
from dynamo.runtime import DistributedRuntime

ENGINE_LABELS = {"model": "llama-3-8b", "worker_id": "w7"}


@pytest.fixture
def vllm_registry():
    """A registry as a vLLM worker fills it: counters, gauges and histograms with their own
    labels, an info gauge, a family of another library, and prometheus_client's own process
    and platform collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    running = Gauge(
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
        ["model_name", "engine"],
        registry=registry,
    )
    running.labels("llama", "0").set(2)
    running.labels("llama", "1").set(5)
    prompt = Counter(
        "vllm:prompt_tokens",
        "Number of prefill tokens processed.",
        ["model_name", "worker_id"],
        registry=registry,
    )
    prompt.labels("llama", "own").inc(1234)
    ttft = Histogram(
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        ["model_name"],
        buckets=[0.01, 0.1, 1.0],
        registry=registry,
    )
    for seconds in [0.005, 0.05, 0.5, 5.0]:
        ttft.labels("llama").observe(seconds)
    Gauge(
        "vllm:cache_config_info", "Information of the LLMEngine CacheConfig", registry=registry
    ).set(1)
    Counter("http_requests", "Requests to the engine's HTTP server", registry=registry).inc()
    return registry


def expected_samples(registry, include, exclude, added):
    """The registry's own samples, parsed by prometheus_client from its own text, filtered by
    family name and with ``added`` where a sample lacks a label: what the page must show."""
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        # prometheus_client names a counter family without ``_total``; its samples keep it.
        names = {family.name, *(s.name for s in family.samples)}
        keep = any(n.startswith(p) for n in names for p in include)
        if not keep or any(n.startswith(p) for n in names for p in exclude):
            continue
        for sample in family.samples:
            sample_labels = {**added, **sample.labels}
            if "le" in sample_labels:
                sample_labels["le"] = repr(float(sample_labels["le"]))
            out[key(sample.name, sample_labels)] = sample.value
    return out


def test_serves_a_registry_filtered_and_labelled_sample_by_sample(endpoint, vllm_registry):
    endpoint.metrics.register_engine_metrics(
        vllm_registry,
        include=["vllm:"],
        exclude=["vllm:cache_config"],
        labels=ENGINE_LABELS,
    )
    text = endpoint.metrics.prometheus_expfmt()
    got = samples(text)
    expected = expected_samples(
        vllm_registry, ["vllm:"], ["vllm:cache_config"], {**EP_LABELS, **ENGINE_LABELS}
    )
    assert got == expected, text
    # Spot checks of what that comparison covers.
    ep = {**EP_LABELS, **ENGINE_LABELS}
    assert got[key("vllm:num_requests_running", {**ep, "model_name": "llama", "engine": "1"})] == 5
    own = {**ep, "model_name": "llama", "worker_id": "own"}
    assert got[key("vllm:prompt_tokens_total", own)] == 1234
    bucket = {**ep, "model_name": "llama", "le": repr(0.1)}
    assert got[key("vllm:time_to_first_token_seconds_bucket", bucket)] == 2
    assert not any(
        name.startswith(("process_", "python_", "http_", "vllm:cache")) for name, _ in got
    )
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert types["vllm:num_requests_running"] == "gauge"
    assert types["vllm:prompt_tokens"] == "counter"
    assert types["vllm:time_to_first_token_seconds"] == "histogram"


def test_follows_the_registry_from_scrape_to_scrape(endpoint):
    registry = CollectorRegistry()
    waiting = Gauge("sglang:num_queue_reqs", "Queued requests", registry=registry)
    endpoint.metrics.register_engine_metrics(registry)
    for n in [1, 4, 2]:
        waiting.set(n)
        assert samples(endpoint.metrics.prometheus_expfmt()) == {
            key("sglang:num_queue_reqs", EP_LABELS): n
        }


def test_the_default_registry_is_served_without_counting_the_process_twice(monkeypatch):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    drt = DistributedRuntime(process_metrics=True)
    engine_gauge = Gauge("trtllm_kv_cache_utilization", "KV cache in use")  # in REGISTRY
    try:
        engine_gauge.set(0.5)
        ns = drt.namespace("ns")
        ns.metrics.register_engine_metrics()
        text = drt.metrics.prometheus_expfmt()
        families = [f.name for f in text_string_to_metric_families(text)]
        assert families.count("process_cpu_seconds") == 1, text
        assert not any(name.startswith("python_") for name in families), text
        utilization = key("trtllm_kv_cache_utilization", {"dynamo_namespace": "ns"})
        assert samples(text)[utilization] == 0.5
        # Keeping a registry's own process families would repeat the runtime's: the whole
        # text is then left off, and counted.
        other = CollectorRegistry()
        ProcessCollector(registry=other)
        Gauge("other_engine_up", "Up", registry=other).set(1)
        drt.namespace("other").metrics.register_engine_metrics(other, skip_process_metrics=False)
        drt.metrics.prometheus_expfmt()
        text = drt.metrics.prometheus_expfmt()  # shows the drops of the scrapes before it
        dropped = key("dynamo_metrics_callback_text_dropped_total", {"reason": "conflict"})
        assert samples(text)[dropped] == 1
        assert "other_engine_up" not in text
        assert "trtllm_kv_cache_utilization{" in text
    finally:
        REGISTRY.unregister(engine_gauge)
        drt.shutdown()


def test_a_registry_at_several_levels_shows_each_family_once(drt, vllm_registry):
    ns = drt.namespace("ns")
    endpoint = ns.component("comp").endpoint("ep")
    ns.metrics.register_engine_metrics(vllm_registry, include=["vllm:num"], labels={"level": "ns"})
    handle = endpoint.metrics.register_engine_metrics(
        vllm_registry, include=["vllm:num"], labels={"level": "ep"}
    )
    running = {"model_name": "llama", "dynamo_namespace": "ns", "level": "ns"}
    text = drt.metrics.prometheus_expfmt()
    got = {k: v for k, v in samples(text).items() if k[0].startswith("vllm:")}
    assert got == {
        key("vllm:num_requests_running", {**running, "engine": "0"}): 2,
        key("vllm:num_requests_running", {**running, "engine": "1"}): 5,
    }
    # The endpoint's own scrape shows its registration.
    ep_text = endpoint.metrics.prometheus_expfmt()
    ep_running = {"model_name": "llama", "engine": "0", **EP_LABELS, "level": "ep"}
    assert key("vllm:num_requests_running", ep_running) in samples(ep_text)
    assert handle.unregister()
    assert not handle.unregister()
    assert endpoint.metrics.prometheus_expfmt() == ""


def test_a_function_returning_text_or_bytes(endpoint):
    endpoint.metrics.register_engine_metrics(
        lambda: "# TYPE engine_up gauge\nengine_up 1\n", labels=[("model", "m")]
    )
    endpoint.metrics.register_engine_metrics(lambda: b"# TYPE engine_ready gauge\nengine_ready 1\n")
    assert samples(endpoint.metrics.prometheus_expfmt()) == {
        key("engine_up", {**EP_LABELS, "model": "m"}): 1,
        key("engine_ready", EP_LABELS): 1,
    }


def test_a_failing_source_is_logged_and_the_scrape_goes_on(endpoint, caplog):
    def broken():
        raise ConnectionError("engine is restarting")

    endpoint.metrics.register_engine_metrics(broken)
    endpoint.metrics.register_engine_metrics(lambda: 42)
    gauge = endpoint.metrics.create_intgauge("alive", "Still served")
    gauge.set(1)
    with caplog.at_level(logging.ERROR, logger="dynamo.runtime"):
        text = endpoint.metrics.prometheus_expfmt()
    assert samples(text) == {key("dynamo_component_alive", EP_LABELS): 1}
    messages = " ".join(r.getMessage() for r in caplog.records if r.name == "dynamo.runtime")
    assert "ConnectionError: engine is restarting" in messages
    assert "must return str or bytes, not int" in messages


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"labels": {"dynamo_endpoint": "x"}}, ValueError, "reserved"),
        ({"labels": {"le": "1"}}, ValueError, '"le"'),
        ({"labels": {"model name": "x"}}, ValueError, "invalid label name"),
        ({"include": "vllm:"}, TypeError, "list of str"),
        ({"exclude": [1]}, TypeError, "list of str"),
        ({"registry": 42}, TypeError, "not int"),
        ({"labels": 5}, TypeError, "constant labels"),
    ],
)
def test_bad_arguments_raise(endpoint, kwargs, error, message):
    kwargs = {"registry": CollectorRegistry(), **kwargs}
    with pytest.raises(error, match=message):
        endpoint.metrics.register_engine_metrics(**kwargs)
    assert endpoint.metrics.prometheus_expfmt() == ""


def test_prometheus_client_is_needed_only_to_read_a_registry(endpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install prometheus-client"):
        endpoint.metrics.register_engine_metrics()
    endpoint.metrics.register_engine_metrics(lambda: "# TYPE engine_up gauge\nengine_up 1\n")
    assert "engine_up{" in endpoint.metrics.prometheus_expfmt()
