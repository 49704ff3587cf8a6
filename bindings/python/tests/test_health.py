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
    with pytest.raises(ValueError, match="expected `ready` or `notready`"):
        generate.set_health_status("up")


def test_live_is_shallow_and_has_the_same_body(served):
    served.namespace("ns").component("worker").endpoint("generate").set_health_status("notready")
    status, state, endpoints = health(served, "/live")
    assert (status, state, endpoints) == (200, "notready", {"generate": "notready"})


OPERATOR_ENV = {
    "DYN_SYSTEM_ENABLED": "true",
    "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS": '["generate"]',
    "DYN_SYSTEM_PORT": "0",
    "DYN_SYSTEM_HOST": "127.0.0.1",
}
"""Dynamo's operator's environment for a worker, on a free port of loopback."""


def test_the_listed_endpoint_decides_under_the_operators_environment(monkeypatch):
    for var, value in OPERATOR_ENV.items():
        monkeypatch.setenv(var, value)
    runtime = DistributedRuntime(process_metrics=False)
    try:
        # `health` checks the body holds these three keys and the uptime's two numbers.
        not_ready = (503, "notready", {"generate": "notready"})
        assert health(runtime) == not_ready
        generate = runtime.namespace("ns").component("worker").endpoint("generate")
        generate.set_health_status("ready")
        assert health(runtime) == (200, "ready", {"generate": "ready"})
        assert runtime.health_status() == "notready"
        generate.set_health_status("notready")
        assert health(runtime) == not_ready
    finally:
        runtime.shutdown()


@pytest.mark.parametrize(
    ("var", "value", "reason"),
    [
        (
            "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS",
            "generate",
            'expected a JSON list of endpoint names, such as ["generate"]',
        ),
        (
            "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS",
            '["-"]',
            'endpoint name "-" is empty or only underscores once sanitized',
        ),
        (
            "DYN_SYSTEM_ENABLED",
            "maybe",
            "expected a boolean: true, false, 1, 0, on, off, yes or no",
        ),
    ],
)
def test_malformed_operator_variables_are_value_errors_naming_them(monkeypatch, var, value, reason):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError) as raised:
        DistributedRuntime(process_metrics=False)
    assert str(raised.value) == f"{var}={json.dumps(value)} is invalid: {reason}"


def test_unknown_routes_answer_dynamos_404(served):
    status, headers, body = get(served, "/nowhere")
    assert (status, body) == (404, "Route not found")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


# The same table as the Rust suite's `facade/tests/api/health_status_text.rs`: one rule for the
# environment variable and for Python.
ACCEPTED = [
    ("ready", "ready"),
    ("READY", "ready"),
    ("Ready", "ready"),
    ("rEaDy", "ready"),
    ("notready", "notready"),
    ("NOTREADY", "notready"),
    ("NotReady", "notready"),
    ("notReady", "notready"),
]
REFUSED = [
    "healthy",
    "not ready",
    "not_ready",
    "not-ready",
    "readyy",
    "rea dy",
    "ok",
    "true",
    "1",
    "réady",
    "ＲＥＡＤＹ",
    "ready\0",
    "",
    " ready",
    "ready ",
]


@pytest.mark.parametrize(("text", "status"), ACCEPTED)
def test_health_status_text_is_read_in_any_case(drt, endpoint, text, status):
    other = "notready" if status == "ready" else "ready"
    drt.set_health_status(other)
    drt.set_health_status(text)
    assert drt.health_status() == status
    endpoint.set_health_status(other)
    endpoint.set_health_status(text)
    assert endpoint.health_status() == status


@pytest.mark.parametrize("text", REFUSED)
def test_other_health_status_text_is_a_value_error_naming_it(drt, endpoint, text):
    expected = (
        f"invalid health status {rust_debug(text)}: expected `ready` or `notready` (in any case)"
    )
    drt.set_health_status("ready")
    with pytest.raises(ValueError) as raised:
        drt.set_health_status(text)
    assert str(raised.value) == expected
    assert drt.health_status() == "ready"
    with pytest.raises(ValueError) as raised:
        endpoint.set_health_status(text)
    assert str(raised.value) == expected
    assert endpoint.health_status() is None


@pytest.mark.parametrize(("text", "status"), ACCEPTED)
def test_the_environment_variable_accepts_the_same_text(monkeypatch, text, status):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.setenv("DYN_SYSTEM_STARTING_HEALTH_STATUS", text)
    runtime = DistributedRuntime(process_metrics=False)
    assert runtime.health_status() == status
    runtime.shutdown()


# A variable's value is trimmed (a blank one keeps the default) and cannot hold NUL.
ENV_REFUSED = [text for text in REFUSED if text and text == text.strip() and "\0" not in text]


@pytest.mark.parametrize("text", ENV_REFUSED)
def test_the_environment_variable_refuses_the_same_text(monkeypatch, text):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.setenv("DYN_SYSTEM_STARTING_HEALTH_STATUS", text)
    with pytest.raises(ValueError) as raised:
        DistributedRuntime(process_metrics=False)
    assert str(raised.value) == (
        f"DYN_SYSTEM_STARTING_HEALTH_STATUS={rust_debug(text)} is invalid: "
        "expected `ready` or `notready` (in any case)"
    )


def rust_debug(text):
    """``text`` quoted as Rust's ``Debug`` quotes a string (the cases above need only ``\\0``)."""
    return '"' + text.replace("\0", "\\0") + '"'
