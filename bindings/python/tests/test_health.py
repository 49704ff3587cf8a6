"""/health and /live answer Dynamo's JSON: status, uptime as secs and nanos, and endpoints."""

import json
import urllib.error
import urllib.request

import pytest

from dynamo.runtime import DistributedRuntime


@pytest.fixture
def served(monkeypatch):
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


def health(runtime, path="/health"):
    status, headers, body = get(runtime, path)
    assert headers["Content-Type"] == "application/json"
    parsed = json.loads(body)
    assert sorted(parsed) == ["endpoints", "status", "uptime"], body
    assert sorted(parsed["uptime"]) == ["nanos", "secs"], body
    assert isinstance(parsed["uptime"]["secs"], int)
    assert 0 <= parsed["uptime"]["nanos"] < 1_000_000_000
    return status, parsed["status"], parsed["endpoints"]


def test_the_runtime_is_ready_only_with_every_endpoint(served):
    assert health(served) == (503, "notready", {})
    served.set_health_status("ready")
    assert health(served) == (200, "ready", {})

    generate = served.namespace("ns").component("worker").endpoint("generate")
    clear = served.namespace("ns").component("worker").endpoint("clear_kv_blocks")
    assert generate.health_status() is None
    generate.set_health_status("notready")
    clear.set_health_status("ready")
    assert generate.health_status() == "notready"
    assert health(served) == (
        503,
        "notready",
        {"clear_kv_blocks": "ready", "generate": "notready"},
    )
    generate.set_health_status("ready")
    assert health(served) == (200, "ready", {"clear_kv_blocks": "ready", "generate": "ready"})
    served.set_health_status("notready")
    assert health(served)[:2] == (503, "notready")
    with pytest.raises(ValueError, match="'ready' or 'notready'"):
        generate.set_health_status("up")


def test_live_is_shallow_and_has_the_same_body(served):
    served.namespace("ns").component("worker").endpoint("generate").set_health_status("notready")
    status, state, endpoints = health(served, "/live")
    assert (status, state, endpoints) == (200, "notready", {"generate": "notready"})


def test_unknown_routes_answer_dynamos_404(served):
    status, headers, body = get(served, "/nowhere")
    assert (status, body) == (404, "Route not found")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
