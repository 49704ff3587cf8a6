"""Process-wide constant labels, from DYN_METRICS_CONST_LABELS and DistributedRuntime's
``const_labels``: on every series of the page, never over a label a series has."""

import pytest

from conftest import key, samples
from dynamo.runtime import DistributedRuntime

FLEET = {"cluster": "us-west", "team": "in,fer=\\"}
"""The labels of ``cluster=us-west,team=in\\,fer\\=\\\\``."""


@pytest.fixture
def fleet_env(monkeypatch):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.setenv("DYN_METRICS_CONST_LABELS", "cluster=us-west, team=in\\,fer\\=\\\\")


def test_every_series_of_the_page_gets_the_labels_it_lacks(fleet_env):
    drt = DistributedRuntime(process_metrics=False)
    ep = drt.namespace("ns").component("comp").endpoint("ep")
    hierarchy = {"dynamo_namespace": "ns", "dynamo_component": "comp", "dynamo_endpoint": "ep"}
    ep.metrics.create_intcounter("plain_total", "Plain").inc()
    ep.metrics.create_gauge("own_team", "Own team", [("team", "mine")]).set(2)
    vec = ep.metrics.create_intgaugevec("by_cluster", "Variable cluster", ["cluster"])
    vec.set(3, {"cluster": "eu"})
    hist = ep.metrics.create_histogram("wait_seconds", "Waits", buckets=[1.0])
    hist.observe(0.5)
    drt.metrics.register_prometheus_expfmt_callback(
        lambda: '# TYPE cb_total counter\ncb_total{path="/a"} 4\ncb_total{cluster="theirs"} 5\n'
    )
    ep.metrics.register_engine_metrics(
        lambda: "# TYPE vllm:up gauge\nvllm:up 1\n", labels={"team": "engine"}
    )
    text = drt.metrics.prometheus_expfmt()
    at = {**hierarchy, **FLEET}
    got = samples(text)
    assert 0 <= got.pop(key("dynamo_component_uptime_seconds", FLEET)) < 600
    assert got == (
        {
            key("dynamo_component_plain_total", at): 1,
            key("dynamo_component_own_team", {**at, "team": "mine"}): 2,
            key("dynamo_component_by_cluster", {**at, "cluster": "eu"}): 3,
            key("dynamo_component_wait_seconds_bucket", {**at, "le": "1.0"}): 1,
            key("dynamo_component_wait_seconds_bucket", {**at, "le": "inf"}): 1,
            key("dynamo_component_wait_seconds_sum", at): 0.5,
            key("dynamo_component_wait_seconds_count", at): 1,
            key("dynamo_metrics_macro_rejections_total", FLEET): 0,
            key("dynamo_metrics_callback_text_dropped_total", {**FLEET, "reason": "conflict"}): 0,
            key("dynamo_metrics_callback_text_dropped_total", {**FLEET, "reason": "invalid"}): 0,
            key("dynamo_metrics_callback_text_dropped_total", {**FLEET, "reason": "too_large"}): 0,
            key("cb_total", {**FLEET, "path": "/a"}): 4,
            key("cb_total", {**FLEET, "cluster": "theirs"}): 5,
            key("vllm:up", {**at, "team": "engine"}): 1,
        }
    ), text


def test_labels_given_in_code_join_the_variables_and_win(fleet_env):
    drt = DistributedRuntime(const_labels={"team": "code", "region": "eu"}, process_metrics=False)
    drt.metrics.create_intgauge("g", "G").set(1)
    labels = {"cluster": "us-west", "team": "code", "region": "eu"}
    text = drt.metrics.prometheus_expfmt()
    assert 'dynamo_component_g{cluster="us-west",region="eu",team="code"} 1\n' in text
    assert key("dynamo_component_g", labels) in samples(text)
    pairs = DistributedRuntime(const_labels=[("zone", "a")], process_metrics=False)
    pairs.metrics.create_intgauge("g", "G").set(1)
    assert 'dynamo_component_g{cluster="us-west",team="in,fer=\\\\",zone="a"} 1\n' in (
        pairs.metrics.prometheus_expfmt()
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("cluster", 'pair "cluster": expected name=value'),
        ("=x", 'pair "=x": the label name is empty'),
        ("9a=x", 'pair "9a=x": invalid label name "9a"'),
        ("dynamo_zone=x", 'pair "dynamo_zone=x": label names starting with `dynamo_` are reserved'),
        ("a=1,a=2", 'pair "a=2": the label "a" is given more than once'),
        ("a=x\\", 'pair "a=x\\\\\\\\": a dangling `\\\\`'),
        ("le=1", 'pair "le=1": invalid label name "le"'),
    ],
)
def test_a_malformed_variable_is_a_value_error_naming_it(monkeypatch, value, reason):
    monkeypatch.setenv("DYN_METRICS_CONST_LABELS", value)
    with pytest.raises(ValueError) as raised:
        DistributedRuntime()
    message = str(raised.value)
    assert message.startswith("DYN_METRICS_CONST_LABELS="), message
    assert reason.replace("\\\\", "\\") in message, message


@pytest.mark.parametrize(
    "labels",
    [{"dynamo_namespace": "x"}, {"__x": "1"}, {"a-b": "1"}, {"": "1"}, [("a", "1"), ("a", "2")]],
)
def test_malformed_labels_given_in_code_are_value_errors(monkeypatch, labels):
    monkeypatch.delenv("DYN_METRICS_CONST_LABELS", raising=False)
    with pytest.raises(ValueError, match=r"RuntimeBuilder::const_labels"):
        DistributedRuntime(const_labels=labels)
