"""Removing series and metrics from Python: removed series leave the next scrape, objects of
removed series record nothing, and the same labels or identity start again at zero."""

import pytest

from conftest import key, labels, samples
from dynamo.prometheus_metrics import MetricsError


def own(text: str) -> dict:
    """The samples of a scrape without the runtime's built-in metrics."""
    return {
        k: v
        for k, v in samples(text).items()
        if not k[0].startswith("dynamo_metrics_") and "uptime" not in k[0]
    }


def test_vec_removes_by_labels_by_partial_match_and_all(endpoint):
    metrics = endpoint.metrics
    loaded = metrics.create_intgaugevec("lora_loaded", "Loaded adapters", ["worker", "adapter"])
    for worker, adapter in [("w1", "a"), ("w1", "b"), ("w2", "a"), ("w2", "c")]:
        loaded.set(1, {"worker": worker, "adapter": adapter})

    assert loaded.remove({"worker": "w1", "adapter": "a"}) is True
    assert loaded.remove({"worker": "w1", "adapter": "a"}) is False
    assert loaded.remove_matching({"adapter": "a"}) == 1
    name = "dynamo_component_lora_loaded"
    assert own(metrics.prometheus_expfmt()) == {
        key(name, labels(worker="w1", adapter="b")): 1,
        key(name, labels(worker="w2", adapter="c")): 1,
    }
    assert loaded.remove_matching({"worker": "w2"}) == 1
    loaded.inc({"worker": "w2", "adapter": "c"})
    assert loaded.get({"worker": "w2", "adapter": "c"}) == 1, "starts again at zero"
    assert loaded.series_count() == 2
    loaded.clear()
    assert own(metrics.prometheus_expfmt()) == {}
    assert loaded.series_count() == 0


def test_wrong_keys_raise_value_error_naming_the_labels(endpoint):
    vec = endpoint.metrics.create_countervec("hits_total", "Hits", ["model"])
    with pytest.raises(ValueError, match=r"takes the labels \['model'\]; missing \['model'\]"):
        vec.remove({"size": "7b"})
    with pytest.raises(ValueError, match=r"unknown \['size'\]"):
        vec.remove_matching({"size": "7b"})
    with pytest.raises(TypeError, match="label model must be a str, not int"):
        vec.remove_matching({"model": 7})


def test_unregister_takes_out_any_metric_and_frees_its_identity(endpoint):
    metrics = endpoint.metrics
    counter = metrics.create_intcounter("jobs_total", "Jobs")
    vec = metrics.create_histogramvec("wait_seconds", "Wait", ["queue"], buckets=[1.0])
    counter.inc()
    vec.observe(0.5, {"queue": "a"})
    metrics.unregister(counter)
    metrics.unregister(vec)
    assert own(metrics.prometheus_expfmt()) == {}
    counter.inc()
    assert counter.get() == 0, "an unregistered metric records nothing"
    assert counter.name() == ""
    again = metrics.create_gauge("jobs_total", "Jobs, now a gauge")
    again.set(2.5)
    assert own(metrics.prometheus_expfmt()) == {key("dynamo_component_jobs_total", labels()): 2.5}


def test_unregister_refuses_other_levels_and_what_is_not_a_metric(drt, endpoint):
    counter = endpoint.metrics.create_intcounter("a_total", "A")
    with pytest.raises(ValueError, match="was not created at this level"):
        drt.namespace("ns").metrics.unregister(counter)
    with pytest.raises(TypeError, match="unregister takes a metric object, not str"):
        endpoint.metrics.unregister("a_total")
    endpoint.metrics.unregister(counter)
    with pytest.raises(ValueError, match="not registered here"):
        endpoint.metrics.unregister(counter)


def test_series_past_the_bound_share_one_marked_series(endpoint):
    vec = endpoint.metrics.create_intcountervec("served_total", "Served", ["worker"])
    assert vec.max_series == 10_000
    vec.max_series = 2
    for worker in ["w1", "w2", "w3", "w4"]:
        vec.inc({"worker": worker})
    name = "dynamo_component_served_total"
    text = endpoint.metrics.prometheus_expfmt()
    assert own(text) == {
        key(name, labels(worker="w1")): 1,
        key(name, labels(worker="w2")): 1,
        key(name, labels(otel_metric_overflow="true")): 2,
    }
    assert vec.series_count() == 2


def test_max_series_comes_from_the_environment(monkeypatch):
    from dynamo.runtime import DistributedRuntime

    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.setenv("DYN_METRICS_MAX_SERIES", "3")
    drt = DistributedRuntime()
    vec = drt.metrics.create_gaugevec("g", "G", ["k"])
    assert vec.max_series == 3
    monkeypatch.setenv("DYN_METRICS_MAX_SERIES", "many")
    with pytest.raises(ValueError, match=r'DYN_METRICS_MAX_SERIES="many" is invalid'):
        DistributedRuntime()


def test_a_conflict_is_still_a_metrics_error(endpoint):
    endpoint.metrics.create_intcounter("x_total", "X")
    with pytest.raises(MetricsError):
        endpoint.metrics.create_intcounter("x_total", "X")
