"""Canary health checks from Python: an idle endpoint's handler is called with its payload on
a thread of its own, whatever kind of function it is, and its answer decides readiness."""

import threading
import time

import pytest
from test_health import health

from conftest import samples
from dynamo.runtime import DistributedRuntime

WAIT = 0.2
TIMEOUT = 0.3


@pytest.fixture
def checked(monkeypatch):
    """A ready runtime on loopback whose endpoints are probed after 200 ms, allowed 300 ms."""
    for var, value in {
        "DYN_SYSTEM_PORT": "0",
        "DYN_SYSTEM_HOST": "127.0.0.1",
        "DYN_SYSTEM_STARTING_HEALTH_STATUS": "ready",
        "DYN_HEALTH_CHECK_ENABLED": "true",
        "DYN_CANARY_WAIT_TIME": str(WAIT),
        "DYN_HEALTH_CHECK_REQUEST_TIMEOUT": str(TIMEOUT),
    }.items():
        monkeypatch.setenv(var, value)
    runtime = DistributedRuntime(process_metrics=False)
    yield runtime
    runtime.shutdown()


def await_health(runtime, expected, deadline=10.0):
    """Polls ``/health`` until it answers ``expected``; the seconds that took."""
    start = time.monotonic()
    while (answer := health(runtime)) != expected:
        assert time.monotonic() - start < deadline, f"/health still answers {answer}"
        time.sleep(0.01)
    return time.monotonic() - start


def await_true(condition, deadline=10.0):
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < deadline, "never happened"
        time.sleep(0.01)


READY = (200, "ready", {"generate": "ready"})
NOT_READY = (503, "notready", {"generate": "notready"})


def probes(runtime, result):
    key = (
        "dynamo_metrics_health_checks_total",
        (("endpoint", "generate"), ("result", result)),
    )
    return samples(runtime.metrics.prometheus_expfmt())[key]


def test_an_idle_endpoint_is_probed_with_its_payload_outside_its_request_metrics(checked):
    endpoint = checked.namespace("ns").component("worker").endpoint("generate")
    payloads = []

    def handler(payload):
        with endpoint.track_request():  # the canary's request, not the endpoint's
            payloads.append(payload)
        return "pong"

    payload = {"prompt": "ping", "max_tokens": 1}
    endpoint.register_health_check(handler, payload)
    assert health(checked) == NOT_READY
    await_health(checked, READY)
    assert payloads[0] is payload
    assert probes(checked, "success") >= 1
    assert probes(checked, "error") == 0
    assert "dynamo_component_requests_total" not in checked.metrics.prometheus_expfmt()


@pytest.mark.parametrize("kind", ["async", "generator", "async generator"])
def test_async_and_generator_handlers_answer_with_their_result_or_first_item(checked, kind):
    endpoint = checked.namespace("ns").component("worker").endpoint("generate")
    closed = threading.Event()

    async def coroutine(payload):
        return payload

    def generator(payload):
        try:
            yield payload
            yield "never asked for"
        finally:
            closed.set()

    async def async_generator(payload):
        try:
            yield payload
            yield "never asked for"
        finally:
            closed.set()

    handlers = {"async": coroutine, "generator": generator, "async generator": async_generator}
    endpoint.register_health_check(handlers[kind], "ping")
    await_health(checked, READY)
    if kind != "async":
        assert closed.wait(10), "the generator is closed after its first item"


@pytest.mark.parametrize("kind", ["raises", "empty generator"])
def test_a_failing_probe_makes_the_endpoint_not_ready_until_a_request_succeeds(checked, kind):
    endpoint = checked.namespace("ns").component("worker").endpoint("generate")

    def raises(payload):
        raise RuntimeError("the engine is gone")

    def empty(payload):
        yield from ()

    endpoint.register_health_check(raises if kind == "raises" else empty, None)
    await_true(lambda: probes(checked, "error") >= 1)
    assert health(checked) == NOT_READY
    assert probes(checked, "success") == 0
    with endpoint.track_request():
        pass
    await_health(checked, READY)


def test_a_hanging_probe_makes_health_503_within_wait_and_timeout(checked):
    endpoint = checked.namespace("ns").component("worker").endpoint("generate")
    hang = threading.Event()
    release = threading.Event()

    def handler(payload):
        if hang.is_set():
            release.wait(30)

    endpoint.register_health_check(handler, None)
    await_health(checked, READY)
    hang.set()
    took = await_health(checked, NOT_READY)
    assert took <= WAIT + TIMEOUT + 1
    assert probes(checked, "timeout") == 1
    # The hung probe still runs, so no other starts: only the request can make it ready.
    with endpoint.track_request():
        pass
    await_health(checked, READY)
    release.set()


def test_a_busy_endpoint_is_never_probed(checked):
    endpoint = checked.namespace("ns").component("worker").endpoint("generate")
    calls = []
    endpoint.register_health_check(calls.append, None)
    busy_until = time.monotonic() + 5 * WAIT
    while time.monotonic() < busy_until:
        with endpoint.track_request():
            pass
        time.sleep(0.02)
    assert calls == []
    assert health(checked) == READY
    await_true(lambda: calls)


@pytest.mark.parametrize(
    ("var", "value", "reason"),
    [
        (
            "DYN_HEALTH_CHECK_ENABLED",
            "sometimes",
            "expected a boolean: true, false, 1, 0, on, off, yes or no",
        ),
        ("DYN_CANARY_WAIT_TIME", "0", "expected a number of seconds above zero, such as 10 or 2.5"),
        ("DYN_HEALTH_CHECK_REQUEST_TIMEOUT", "301", "expected at most 300 seconds (5m)"),
    ],
)
def test_bad_health_check_settings_are_value_errors_naming_them(monkeypatch, var, value, reason):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError) as raised:
        DistributedRuntime(process_metrics=False)
    assert str(raised.value) == f'{var}="{value}" is invalid: {reason}'
