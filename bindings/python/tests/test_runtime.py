"""The hierarchy, `.metrics` on every level, and the runtime's system status server."""

import errno
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import assert_samples, key, samples
from dynamo.runtime import Component, DistributedRuntime, Endpoint, Metrics, Namespace


def test_metrics_on_every_level(drt):
    ns = drt.namespace("ns")
    comp = ns.component("comp")
    ep = comp.endpoint("ep")
    assert isinstance(ns, Namespace)
    assert isinstance(comp, Component)
    assert isinstance(ep, Endpoint)
    for level in (drt, ns, comp, ep):
        assert isinstance(level.metrics, Metrics)


def test_each_level_adds_its_hierarchy_label(drt):
    ns = drt.namespace("ns")
    comp = ns.component("comp")
    ep = comp.endpoint("ep")
    assert drt.metrics.create_intgauge("g", "G", [("level", "runtime")]).const_labels() == {
        "level": "runtime"
    }
    assert ns.metrics.create_intgauge("g", "G", [("level", "ns")]).const_labels() == {
        "dynamo_namespace": "ns",
        "level": "ns",
    }
    assert comp.metrics.create_intgauge("g", "G", [("level", "comp")]).const_labels() == {
        "dynamo_namespace": "ns",
        "dynamo_component": "comp",
        "level": "comp",
    }
    assert ep.metrics.create_intgauge("g", "G").const_labels() == {
        "dynamo_namespace": "ns",
        "dynamo_component": "comp",
        "dynamo_endpoint": "ep",
    }


def test_a_level_scrapes_itself_and_what_is_below(drt):
    ns = drt.namespace("ns")
    comp = ns.component("comp")
    ep = comp.endpoint("ep")
    sibling = ns.component("other")
    for where, level in (("ns", ns), ("comp", comp), ("ep", ep), ("other", sibling)):
        level.metrics.create_intgauge("g", "G", [("at", where)]).set(1)
    drt.metrics.create_intgauge("g", "G", [("at", "runtime")]).set(1)

    def places(level):
        return sorted(
            dict(labels)["at"]
            for (name, labels) in samples(level.metrics.prometheus_expfmt())
            if name == "dynamo_component_g"
        )

    assert places(ep) == ["ep"]
    assert places(comp) == ["comp", "ep"]
    assert places(ns) == ["comp", "ep", "ns", "other"]
    assert places(drt) == ["comp", "ep", "ns", "other", "runtime"]


def test_handles_for_the_same_path_are_the_same_place(drt):
    a = drt.namespace("ns").component("comp").endpoint("ep")
    b = drt.namespace("ns").component("comp").endpoint("ep")
    c = a.metrics.create_intcounter("requests_total", "Requests")
    c.inc_by(3)
    assert_samples(
        b.metrics.prometheus_expfmt(),
        {key("dynamo_component_requests_total", c.const_labels()): 3},
    )


def test_runtimes_are_independent(drt, monkeypatch):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    other = DistributedRuntime()
    drt.metrics.create_intcounter("requests_total", "Requests").inc()
    other.metrics.create_intcounter("requests_total", "Requests")
    assert "dynamo_component_requests_total 0" in other.metrics.prometheus_expfmt()


@pytest.mark.parametrize(
    "name,label",
    [("test-component", "test_component"), ("@@123", "_123"), ("__test", "test"), ("ok", "ok")],
)
def test_hierarchy_names_are_sanitized(drt, name, label):
    g = drt.namespace("ns").component(name).metrics.create_intgauge("g", "G")
    assert g.const_labels()["dynamo_component"] == label


@pytest.mark.parametrize("name", ["", "_", "__"])
def test_an_unusable_hierarchy_name_fails_creation_and_scrape(drt, name):
    ns = drt.namespace(name)
    with pytest.raises(ValueError, match="namespace"):
        ns.metrics.create_intgauge("g", "G")
    with pytest.raises(ValueError, match="namespace"):
        ns.component("comp").endpoint("ep").metrics.prometheus_expfmt()


def test_runtime_scrape_has_the_uptime_gauge(drt):
    text = drt.metrics.prometheus_expfmt()
    assert (
        "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds"
        in text
    )
    assert "# TYPE dynamo_component_uptime_seconds gauge" in text
    uptime = samples(text)[key("dynamo_component_uptime_seconds", {})]
    assert 0 < uptime < 600


def test_levels_have_no_public_constructor():
    for cls in (Namespace, Component, Endpoint, Metrics):
        with pytest.raises(TypeError):
            cls()


def test_reprs(drt):
    ep = drt.namespace("ns").component("comp").endpoint("ep")
    assert repr(drt) == "<DistributedRuntime>"
    assert repr(drt.namespace("ns")) == '<Namespace {dynamo_namespace="ns"}>'
    assert repr(ep) == (
        '<Endpoint {dynamo_namespace="ns",dynamo_component="comp",dynamo_endpoint="ep"}>'
    )
    assert "Metrics" in repr(ep.metrics)


def test_without_port_there_is_no_server(drt):
    assert drt.system_status_server_info() is None
    drt.shutdown()
    drt.shutdown()


def test_health_status(drt):
    assert drt.health_status() == "notready"
    drt.set_health_status("ready")
    assert drt.health_status() == "ready"
    drt.set_health_status("notready")
    assert drt.health_status() == "notready"
    with pytest.raises(ValueError, match="ready"):
        drt.set_health_status("fine")


@pytest.mark.parametrize("value", ["abc", "65536", "1.5", "8o8o"])
def test_a_bad_port_is_a_value_error_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("DYN_SYSTEM_PORT", value)
    with pytest.raises(ValueError, match="DYN_SYSTEM_PORT"):
        DistributedRuntime()


@pytest.mark.parametrize("value", ["", "-1", "-5"])
def test_empty_or_negative_port_turns_the_server_off(monkeypatch, value):
    monkeypatch.setenv("DYN_SYSTEM_PORT", value)
    runtime = DistributedRuntime()
    assert runtime.system_status_server_info() is None


@pytest.fixture
def served(monkeypatch):
    """A runtime serving on a free loopback port."""
    monkeypatch.setenv("DYN_SYSTEM_PORT", "0")
    monkeypatch.setenv("DYN_SYSTEM_HOST", "127.0.0.1")
    runtime = DistributedRuntime()
    yield runtime
    runtime.shutdown()


def get(runtime, path):
    host, port = runtime.system_status_server_info()
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_server_serves_every_level(served):
    host, port = served.system_status_server_info()
    assert host == "127.0.0.1"
    assert isinstance(port, int) and port > 0
    assert repr(served) == f"<DistributedRuntime serving http://127.0.0.1:{port}/metrics>"
    ep = served.namespace("ns").component("comp").endpoint("ep")
    ep.metrics.create_intcounter("requests_total", "Requests").inc_by(7)
    served.namespace("ns").metrics.create_gauge("load", "Load").set(0.5)
    status, headers, body = get(served, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    got = samples(body)
    ep_labels = {"dynamo_namespace": "ns", "dynamo_component": "comp", "dynamo_endpoint": "ep"}
    assert got[key("dynamo_component_requests_total", ep_labels)] == 7
    assert got[key("dynamo_component_load", {"dynamo_namespace": "ns"})] == 0.5
    assert key("dynamo_component_uptime_seconds", {}) in got


def test_server_health_follows_the_status(served):
    status, _, body = get(served, "/health")
    assert (status, json.loads(body)["status"]) == (503, "notready")
    served.set_health_status("ready")
    status, _, body = get(served, "/health")
    assert (status, json.loads(body)["status"]) == (200, "ready")
    status, _, _ = get(served, "/live")
    assert status == 200
    status, _, _ = get(served, "/nowhere")
    assert status == 404


def test_shutdown_stops_the_server(served):
    host, port = served.system_status_server_info()
    served.shutdown()
    assert served.system_status_server_info() is None
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=5).close()
    served.metrics.create_intcounter("after_total", "After shutdown").inc()
    assert "dynamo_component_after_total 1" in served.metrics.prometheus_expfmt()


def test_a_port_in_use_is_an_os_error(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("DYN_SYSTEM_HOST", "127.0.0.1")
        monkeypatch.setenv("DYN_SYSTEM_PORT", str(taken.getsockname()[1]))
        with pytest.raises(OSError, match="DYN_SYSTEM_PORT") as raised:
            DistributedRuntime()
        assert raised.value.errno == errno.EADDRINUSE


def test_a_process_serving_with_callbacks_exits_without_shutdown():
    script = """
import urllib.request
from dynamo.runtime import DistributedRuntime

drt = DistributedRuntime()
ep = drt.namespace("ns").component("comp").endpoint("ep")
gauge = ep.metrics.create_intgauge("g", "G")
ep.metrics.register_callback(lambda: gauge.inc())
host, port = drt.system_status_server_info()
urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read()
print(gauge.get())
"""
    env = {**os.environ, "DYN_SYSTEM_PORT": "0", "DYN_SYSTEM_HOST": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "1\n"), result.stderr
