"""Info and Enum: their pages in the text and OpenMetrics formats read by prometheus_client's
parsers and compared with what prometheus_client's own ``Info`` and ``Enum`` write for the same
values, and refused input that leaves the page as it was."""

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Enum as ClientEnum
from prometheus_client import Info as ClientInfo
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from conftest import fetch
from dynamo.prometheus_metrics import Enum, EnumVec, Info, InfoVec

OPENMETRICS_ACCEPT = "application/openmetrics-text;version=1.0.0"
NAMES = {
    "dynamo_component_build",
    "dynamo_component_model",
    "dynamo_component_phase",
    "dynamo_component_worker_state",
}
"""The families both registries have (prometheus_client's text parser names an info family
with its ``_info`` suffix)."""


def openmetrics_page(runtime):
    return fetch(runtime, OPENMETRICS_ACCEPT)[1].decode()


def fill_ours(metrics):
    """An info, an enum and their vecs, given the values ``fill_client`` gives."""
    build = metrics.create_info("build", "Build metadata")
    build.info({"version": "1.2.3", "commit": 'a"b\\c\nd'})
    models = metrics.create_infovec("model", "Loaded models", ["worker"])
    models.info({"worker": "w1"}, {"name": "llama"})
    models.labels({"worker": "w2"}).info({"name": "qwen"})
    phase = metrics.create_enum("phase", "Phase", ["starting", "running", "stopping"])
    phase.state("running")
    workers = metrics.create_enumvec("worker_state", "Worker state", ["worker"], ["idle", "busy"])
    workers.state({"worker": "w1"}, "busy")
    workers.labels({"worker": "w2"})
    return build, models, phase, workers


def fill_client():
    registry = CollectorRegistry()
    build = ClientInfo("dynamo_component_build", "Build metadata", registry=registry)
    build.info({"version": "1.2.3", "commit": 'a"b\\c\nd'})
    models = ClientInfo("dynamo_component_model", "Loaded models", ["worker"], registry=registry)
    models.labels(worker="w1").info({"name": "llama"})
    models.labels(worker="w2").info({"name": "qwen"})
    phase = ClientEnum(
        "dynamo_component_phase",
        "Phase",
        states=["starting", "running", "stopping"],
        registry=registry,
    )
    phase.state("running")
    workers = ClientEnum(
        "dynamo_component_worker_state",
        "Worker state",
        ["worker"],
        states=["idle", "busy"],
        registry=registry,
    )
    workers.labels(worker="w1").state("busy")
    workers.labels(worker="w2")
    return registry


def families(parsed):
    """``name -> (type, help, sorted samples)`` of the families both registries have."""
    out = {}
    for family in parsed:
        if family.name.removesuffix("_info") in NAMES:
            samples = sorted(
                (s.name, tuple(sorted(s.labels.items())), s.value) for s in family.samples
            )
            out[family.name] = (family.type, family.documentation, samples)
    return out


def test_the_text_page_is_prometheus_clients(drt):
    fill_ours(drt.metrics)
    ours = families(parse_text(drt.metrics.prometheus_expfmt()))
    theirs = families(parse_text(generate_latest(fill_client()).decode()))
    assert ours == theirs
    assert sorted(ours) == [
        "dynamo_component_build_info",
        "dynamo_component_model_info",
        "dynamo_component_phase",
        "dynamo_component_worker_state",
    ]
    assert ours["dynamo_component_phase"][0] == "gauge"


def test_the_text_page_lines(drt):
    fill_ours(drt.metrics)
    page = drt.metrics.prometheus_expfmt()
    assert (
        "# HELP dynamo_component_build_info Build metadata\n"
        "# TYPE dynamo_component_build_info gauge\n"
        'dynamo_component_build_info{commit="a\\"b\\\\c\\nd",version="1.2.3"} 1\n'
    ) in page
    assert (
        "# HELP dynamo_component_phase Phase\n"
        "# TYPE dynamo_component_phase gauge\n"
        'dynamo_component_phase{dynamo_component_phase="starting"} 0\n'
        'dynamo_component_phase{dynamo_component_phase="running"} 1\n'
        'dynamo_component_phase{dynamo_component_phase="stopping"} 0\n'
    ) in page


def test_the_openmetrics_page_is_prometheus_clients(served_openmetrics):
    fill_ours(served_openmetrics.metrics)
    page = openmetrics_page(served_openmetrics)
    ours = families(parse_openmetrics(page))
    theirs = families(parse_openmetrics(generate_openmetrics(fill_client()).decode()))
    assert ours == theirs
    assert ours["dynamo_component_build"][0] == "info"
    assert ours["dynamo_component_phase"][0] == "stateset"
    assert (
        "# HELP dynamo_component_phase Phase\n"
        "# TYPE dynamo_component_phase stateset\n"
        'dynamo_component_phase{dynamo_component_phase="starting"} 0\n'
        'dynamo_component_phase{dynamo_component_phase="running"} 1\n'
    ) in page


def test_each_info_replaces_the_last_and_get_reads_it(endpoint):
    build = endpoint.metrics.create_info("build", "Build")
    assert isinstance(build, Info)
    assert build.get() == {}
    build.info({"version": "1"})
    build.info({"branch": "main"})
    assert build.get() == {"branch": "main"}
    assert "version" not in endpoint.metrics.prometheus_expfmt()


def test_bad_info_keys_raise_value_error_and_the_page_stays(endpoint):
    models = endpoint.metrics.create_infovec("model", "Models", ["worker"])
    assert isinstance(models, InfoVec)
    models.info({"worker": "w1"}, {"name": "llama"})
    before = endpoint.metrics.prometheus_expfmt()
    for key in ["worker", "dynamo_namespace", "__x", "a-b"]:
        with pytest.raises(ValueError, match=re.escape(f'"{key}"')):
            models.info({"worker": "w1"}, {key: "x"})
    with pytest.raises(TypeError):
        models.info({"worker": "w1"}, {"name": 3})
    with pytest.raises(ValueError, match="worker"):
        models.info({}, {"name": "x"})
    assert endpoint.metrics.prometheus_expfmt() == before
    assert models.get({"worker": "w1"}) == {"name": "llama"}


def test_an_unknown_state_raises_value_error_naming_it_and_the_state_stays(endpoint):
    phase = endpoint.metrics.create_enum("phase", "Phase", ["starting", "running"])
    assert isinstance(phase, Enum)
    assert phase.get() == "starting"
    assert phase.states() == ["starting", "running"]
    before = endpoint.metrics.prometheus_expfmt()
    with pytest.raises(ValueError, match="sleeping"):
        phase.state("sleeping")
    assert phase.get() == "starting"
    assert endpoint.metrics.prometheus_expfmt() == before
    workers = endpoint.metrics.create_enumvec("worker_state", "W", ["worker"], ["idle", "busy"])
    assert isinstance(workers, EnumVec)
    with pytest.raises(ValueError, match="sleeping"):
        workers.state({"worker": "w1"}, "sleeping")
    assert workers.get({"worker": "w1"}) == "idle"


def test_bad_enums_are_refused_at_creation(endpoint):
    with pytest.raises(ValueError, match="at least one state"):
        endpoint.metrics.create_enum("phase", "Phase", [])
    with pytest.raises(ValueError, match="more than once"):
        endpoint.metrics.create_enum("phase", "Phase", ["a", "a"])
    assert endpoint.metrics.prometheus_expfmt() == ""


def test_unregister_and_remove(endpoint):
    build = endpoint.metrics.create_info("build", "Build")
    workers = endpoint.metrics.create_enumvec("worker_state", "W", ["worker"], ["idle"])
    workers.labels({"worker": "w1"})
    assert workers.remove({"worker": "w1"}) is True
    assert workers.remove({"worker": "w1"}) is False
    endpoint.metrics.unregister(build)
    endpoint.metrics.unregister(workers)
    assert endpoint.metrics.prometheus_expfmt() == ""


def test_vecs_remove_matching_children_and_clear(endpoint):
    models = endpoint.metrics.create_infovec("model", "Models", ["worker", "slot"])
    states = endpoint.metrics.create_enumvec("worker_state", "W", ["worker"], ["idle", "busy"])
    for worker, slot in [("w1", "0"), ("w1", "1"), ("w2", "0")]:
        models.info({"worker": worker, "slot": slot}, {"name": "llama"})
        states.state({"worker": worker}, "busy")
    assert models.remove_matching({"worker": "w1"}) == 2
    assert states.remove_matching({"worker": "w2"}) == 1
    assert states.remove_matching({"worker": "w9"}) == 0
    with pytest.raises(ValueError, match="model"):
        models.remove_matching({"model": "w1"})
    families = {f.name: f for f in parse_text(endpoint.metrics.prometheus_expfmt())}
    assert [s.labels["worker"] for s in families["dynamo_component_model_info"].samples] == ["w2"]
    assert {s.labels["worker"] for s in families["dynamo_component_worker_state"].samples} == {"w1"}
    models.clear()
    states.clear()
    assert endpoint.metrics.prometheus_expfmt() == ""
