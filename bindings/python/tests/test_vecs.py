"""Every method of the vec classes, label dict handling, and what each leaves in the scrape."""

import math

import pytest

from conftest import assert_samples, histogram_samples, key, labels
from dynamo.prometheus_metrics import CounterVec, GaugeVec, HistogramVec, IntCounterVec, IntGaugeVec

LLAMA = {"model": "llama", "size": "7b"}
MISTRAL = {"model": "mistral", "size": "7b"}


def test_countervec_inc_inc_by_get(endpoint):
    v = endpoint.metrics.create_countervec("bytes_total", "Bytes", ["model", "size"])
    assert isinstance(v, CounterVec)
    v.inc(LLAMA)
    v.inc_by(LLAMA, 1.5)
    v.inc_by(MISTRAL, 3)
    assert v.get(LLAMA) == 2.5
    assert v.get(MISTRAL) == 3.0
    with pytest.raises(OverflowError):
        v.inc_by(LLAMA, -1.0)
    with pytest.raises(ValueError, match="NaN"):
        v.inc_by(LLAMA, math.nan)
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {
            key("dynamo_component_bytes_total", labels(**LLAMA)): 2.5,
            key("dynamo_component_bytes_total", labels(**MISTRAL)): 3.0,
        },
    )


def test_intcountervec_inc_inc_by_get(endpoint):
    v = endpoint.metrics.create_intcountervec("requests_total", "Requests", ["model", "size"])
    assert isinstance(v, IntCounterVec)
    v.inc(LLAMA)
    v.inc_by(LLAMA, 4)
    v.inc(MISTRAL)
    assert v.get(LLAMA) == 5
    assert v.get(MISTRAL) == 1
    assert isinstance(v.get(LLAMA), int)
    with pytest.raises(OverflowError):
        v.inc_by(LLAMA, -1)
    with pytest.raises(OverflowError):
        v.inc_by(LLAMA, 2**64)
    with pytest.raises(TypeError):
        v.inc_by(LLAMA, 1.0)
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {
            key("dynamo_component_requests_total", labels(**LLAMA)): 5.0,
            key("dynamo_component_requests_total", labels(**MISTRAL)): 1.0,
        },
    )


def test_gaugevec_every_operation(endpoint):
    v = endpoint.metrics.create_gaugevec("memory_bytes", "Memory", ["gpu"])
    assert isinstance(v, GaugeVec)
    gpu0, gpu1 = {"gpu": "0"}, {"gpu": "1"}
    v.set(8192, gpu0)
    v.inc(gpu0)
    v.dec(gpu0)
    v.add(gpu0, 0.5)
    v.sub(gpu0, 2.5)
    assert v.get(gpu0) == 8190.0
    v.inc_by(gpu1, 3)
    v.dec_by(gpu1, 1)
    assert v.get(gpu1) == 2.0
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {
            key("dynamo_component_memory_bytes", labels(gpu="0")): 8190.0,
            key("dynamo_component_memory_bytes", labels(gpu="1")): 2.0,
        },
    )


def test_intgaugevec_every_operation(endpoint):
    v = endpoint.metrics.create_intgaugevec("memory_bytes", "Memory", ["gpu", "kind"])
    assert isinstance(v, IntGaugeVec)
    allocated = {"gpu": "0", "kind": "allocated"}
    v.set(8192, allocated)
    v.inc(allocated)
    v.dec(allocated)
    v.dec(allocated)
    v.add(allocated, 10)
    v.sub(allocated, 1)
    assert v.get(allocated) == 8200
    assert isinstance(v.get(allocated), int)
    with pytest.raises(OverflowError):
        v.set(2**63, allocated)
    with pytest.raises(TypeError):
        v.set(1.5, allocated)
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_memory_bytes", labels(**allocated)): 8200.0},
    )


def test_histogramvec_observe_get_count_get_sum(endpoint):
    v = endpoint.metrics.create_histogramvec(
        "latency_seconds", "Latency", ["route"], buckets=[0.1, 1.0]
    )
    assert isinstance(v, HistogramVec)
    chat, embed = {"route": "chat"}, {"route": "embed"}
    v.observe(0.05, chat)
    v.observe(2.0, chat)
    v.observe(0.5, embed)
    assert (v.get_count(chat), v.get_sum(chat)) == (2, 2.05)
    assert (v.get_count(embed), v.get_sum(embed)) == (1, 0.5)
    expected = {
        **histogram_samples(
            "dynamo_component_latency_seconds", labels(route="chat"), [0.1, 1.0], [0.05, 2.0]
        ),
        **histogram_samples(
            "dynamo_component_latency_seconds", labels(route="embed"), [0.1, 1.0], [0.5]
        ),
    }
    assert_samples(endpoint.metrics.prometheus_expfmt(), expected)


def test_histogramvec_default_buckets(endpoint):
    v = endpoint.metrics.create_histogramvec("latency_seconds", "Latency", ["route"])
    v.observe(0.3, {"route": "chat"})
    buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        histogram_samples("dynamo_component_latency_seconds", labels(route="chat"), buckets, [0.3]),
    )


VEC_CREATORS = [
    ("create_countervec", lambda v, labels: v.inc(labels)),
    ("create_intcountervec", lambda v, labels: v.inc(labels)),
    ("create_gaugevec", lambda v, labels: v.set(1, labels)),
    ("create_intgaugevec", lambda v, labels: v.set(1, labels)),
    ("create_histogramvec", lambda v, labels: v.observe(1, labels)),
]


@pytest.mark.parametrize("create,update", VEC_CREATORS)
def test_introspection(endpoint, create, update):
    v = getattr(endpoint.metrics, create)(
        "thing", "A thing", ["model_type", "model_size"], [("region", "us-west")]
    )
    assert v.name() == "dynamo_component_thing"
    assert v.const_labels() == labels(region="us-west")
    assert v.variable_labels() == ["model_type", "model_size"]
    assert type(v.variable_labels()) is list
    assert "variable_labels=" in repr(v)
    update(v, {"model_type": "llama", "model_size": "7b"})


@pytest.mark.parametrize("create,update", VEC_CREATORS)
def test_missing_label_names_the_expected_keys(endpoint, create, update):
    v = getattr(endpoint.metrics, create)("thing", "A thing", ["model_type", "model_size"])
    with pytest.raises(
        ValueError, match=r"\['model_type', 'model_size'\].*missing \['model_size'\]"
    ):
        update(v, {"model_type": "llama"})
    with pytest.raises(ValueError, match=r"missing \['model_type', 'model_size'\]"):
        update(v, {})


@pytest.mark.parametrize("create,update", VEC_CREATORS)
def test_unknown_label_names_the_expected_keys(endpoint, create, update):
    v = getattr(endpoint.metrics, create)("thing", "A thing", ["model_type", "model_size"])
    extra = {"model_type": "llama", "model_size": "7b", "region": "eu"}
    with pytest.raises(ValueError, match=r"\['model_type', 'model_size'\].*unknown \['region'\]"):
        update(v, extra)
    swapped = {"model_type": "llama", "size": "7b"}
    with pytest.raises(ValueError, match=r"missing \['model_size'\]; unknown \['size'\]"):
        update(v, swapped)
    with pytest.raises(ValueError, match=r"unknown \[1\]"):
        update(v, {"model_type": "llama", 1: "7b"})


@pytest.mark.parametrize("create,update", VEC_CREATORS)
def test_label_values_must_be_str(endpoint, create, update):
    v = getattr(endpoint.metrics, create)("thing", "A thing", ["worker_id"])
    with pytest.raises(TypeError, match="worker_id must be a str, not int"):
        update(v, {"worker_id": 3})
    with pytest.raises(TypeError):
        update(v, [("worker_id", "3")])
    with pytest.raises(TypeError):
        update(v, None)


def test_refused_updates_leave_no_series(endpoint):
    v = endpoint.metrics.create_intcountervec("requests_total", "Requests", ["model"])
    for bad in ({}, {"model": 1}, {"model": "a", "b": "c"}):
        with pytest.raises((ValueError, TypeError)):
            v.inc(bad)
    assert endpoint.metrics.prometheus_expfmt() == ""


def test_label_values_any_utf8_including_empty(endpoint):
    v = endpoint.metrics.create_intcountervec("requests_total", "Requests", ["model"])
    values = ["", "llama 7b", 'quote"back\\slash', "new\nline", "métrique ✓"]
    for value in values:
        v.inc({"model": value})
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_requests_total", labels(model=m)): 1.0 for m in values},
    )


def test_dict_subclasses_and_key_order_do_not_matter(endpoint):
    class Labels(dict):
        pass

    v = endpoint.metrics.create_intcountervec("requests_total", "Requests", ["a", "b"])
    v.inc({"a": "1", "b": "2"})
    v.inc({"b": "2", "a": "1"})
    v.inc(Labels(a="1", b="2"))
    # Keys built at run time (not interned) find the same series.
    v.inc({"".join(["a"]): "1", "".join(["b"]): "2"})
    assert v.get({"a": "1", "b": "2"}) == 4


def test_no_variable_labels(endpoint):
    v = endpoint.metrics.create_intcountervec("requests_total", "Requests", [])
    v.inc({})
    assert v.get({}) == 1
    with pytest.raises(ValueError, match="unknown"):
        v.inc({"a": "1"})


def test_many_labels(endpoint):
    names = [f"l{i}" for i in range(12)]
    v = endpoint.metrics.create_intcountervec("requests_total", "Requests", names)
    values = {n: f"v{i}" for i, n in enumerate(names)}
    v.inc(values)
    v.inc_by(dict(reversed(list(values.items()))), 2)
    assert v.get(values) == 3
    with pytest.raises(ValueError, match="missing \\['l11'\\]"):
        v.inc({n: "x" for n in names[:11]})
    with pytest.raises(TypeError, match="l10 must be a str"):
        v.inc({**values, "l10": 10})
    assert v.variable_labels() == names
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_requests_total", labels(**values)): 3.0},
    )


@pytest.mark.parametrize("cls", [CounterVec, IntCounterVec, GaugeVec, IntGaugeVec, HistogramVec])
def test_no_public_constructor(cls):
    with pytest.raises(TypeError):
        cls()
    assert cls.__module__ == "dynamo.prometheus_metrics"
