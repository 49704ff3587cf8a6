"""register_callback and register_prometheus_expfmt_callback: run once before each scrape, on
another thread with the interpreter attached; an exception is logged and skipped."""

import logging
import threading
import urllib.request

import pytest

from conftest import assert_samples, key, labels
from dynamo.runtime import DistributedRuntime


def test_a_callback_runs_once_before_each_scrape(endpoint):
    gauge = endpoint.metrics.create_intgauge("scrapes", "Scrapes seen")
    calls = []

    def update():
        calls.append(threading.get_ident())
        gauge.set(len(calls))

    endpoint.metrics.register_callback(update)
    assert calls == []
    for n in range(1, 4):
        assert_samples(
            endpoint.metrics.prometheus_expfmt(), {key("dynamo_component_scrapes", labels()): n}
        )
        assert len(calls) == n
    # It ran on a thread of the runtime, while this one waited without holding the GIL.
    assert threading.get_ident() not in calls


def test_a_raising_callback_is_logged_and_skipped(endpoint, caplog):
    gauge = endpoint.metrics.create_intgauge("ok", "Set by the good callback")
    calls = []

    def broken():
        calls.append("broken")
        raise RuntimeError("boom")

    def good():
        calls.append("good")
        gauge.set(len(calls))

    endpoint.metrics.register_callback(broken)
    endpoint.metrics.register_callback(good)
    with caplog.at_level(logging.ERROR, logger="dynamo.runtime"):
        text = endpoint.metrics.prometheus_expfmt()
        text_again = endpoint.metrics.prometheus_expfmt()
    assert sorted(calls) == ["broken", "broken", "good", "good"]
    assert_samples(text_again, {key("dynamo_component_ok", labels()): gauge.get()})
    assert key("dynamo_component_ok", labels()) in __import__("conftest").samples(text)
    records = [r for r in caplog.records if r.name == "dynamo.runtime"]
    assert len(records) == 2
    for record in records:
        assert record.levelno == logging.ERROR
        assert "RuntimeError: boom" in record.getMessage()
        assert "broken" in record.getMessage()
        assert record.exc_info[0] is RuntimeError
        assert "raise RuntimeError" in caplog.text  # the traceback is in the log


def test_callbacks_of_a_level_run_for_its_scrape_and_those_above(drt):
    ns = drt.namespace("ns")
    comp = ns.component("comp")
    sibling = ns.component("other")
    ran = []
    comp.metrics.register_callback(lambda: ran.append("comp"))
    sibling.metrics.register_callback(lambda: ran.append("other"))
    ns.metrics.register_callback(lambda: ran.append("ns"))
    drt.metrics.register_callback(lambda: ran.append("runtime"))

    comp.endpoint("ep").metrics.prometheus_expfmt()
    assert ran == []
    comp.metrics.prometheus_expfmt()
    assert ran == ["comp"]
    ran.clear()
    ns.metrics.prometheus_expfmt()
    assert sorted(ran) == ["comp", "ns", "other"]
    ran.clear()
    drt.metrics.prometheus_expfmt()
    assert sorted(ran) == ["comp", "ns", "other", "runtime"]


def test_an_expfmt_callback_appends_its_text(endpoint, caplog):
    endpoint.metrics.create_intgauge("own", "Own").set(1)
    endpoint.metrics.register_prometheus_expfmt_callback(
        lambda: "# HELP external_thing External\n# TYPE external_thing gauge\nexternal_thing 7"
    )

    def broken():
        raise ValueError("no text today")

    endpoint.metrics.register_prometheus_expfmt_callback(broken)
    endpoint.metrics.register_prometheus_expfmt_callback(lambda: 42)
    with caplog.at_level(logging.ERROR, logger="dynamo.runtime"):
        text = endpoint.metrics.prometheus_expfmt()
    assert text.endswith("external_thing 7\n")
    assert_samples(text, {key("dynamo_component_own", labels()): 1, key("external_thing", {}): 7})
    messages = sorted(r.getMessage() for r in caplog.records if r.name == "dynamo.runtime")
    assert len(messages) == 2
    assert "ValueError: no text today" in messages[1]
    assert "must return a str, not int" in messages[0]


@pytest.mark.parametrize("register", ["register_callback", "register_prometheus_expfmt_callback"])
def test_a_callback_must_be_callable(endpoint, register):
    with pytest.raises(TypeError, match="callable"):
        getattr(endpoint.metrics, register)(42)
    with pytest.raises(TypeError):
        getattr(endpoint.metrics, register)()


def test_a_callback_may_create_and_update_metrics(endpoint):
    by_worker = endpoint.metrics.create_intgaugevec("active", "Active", ["worker_id"])
    created = []

    def update():
        for worker in range(3):
            by_worker.set(worker * 10, {"worker_id": str(worker)})
        if not created:
            created.append(endpoint.metrics.create_intcounter("late_total", "Late"))
        created[0].inc()

    endpoint.metrics.register_callback(update)
    endpoint.metrics.prometheus_expfmt()
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {
            **{key("dynamo_component_active", labels(worker_id=str(w))): w * 10 for w in range(3)},
            key("dynamo_component_late_total", labels()): 2,
        },
    )


def expected(body):
    """The runtime's own samples, whose values the test does not fix."""
    got = __import__("conftest").samples(body)
    return {k: v for k, v in got.items() if "scrapes" not in k[0]}


def test_callbacks_run_before_each_http_scrape(monkeypatch):
    monkeypatch.setenv("DYN_SYSTEM_PORT", "0")
    monkeypatch.setenv("DYN_SYSTEM_HOST", "127.0.0.1")
    drt = DistributedRuntime()
    try:
        ep = drt.namespace("ns").component("comp").endpoint("ep")
        gauge = ep.metrics.create_intgauge("scrapes", "Scrapes")
        count = []

        def update():
            count.append(1)
            gauge.set(len(count))

        def broken():
            raise RuntimeError("boom")

        ep.metrics.register_callback(update)
        ep.metrics.register_callback(broken)
        host, port = drt.system_status_server_info()
        for n in range(1, 4):
            with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as r:
                body = r.read().decode()
            assert_samples(body, {**expected(body), key("dynamo_component_scrapes", labels()): n})
            assert len(count) == n
    finally:
        drt.shutdown()


def test_a_callback_handle_unregisters(endpoint):
    calls = []
    handle = endpoint.metrics.register_callback(lambda: calls.append(1))
    text_handle = endpoint.metrics.register_prometheus_expfmt_callback(
        lambda: "# TYPE engine_up gauge\nengine_up 1\n"
    )
    assert "engine_up 1\n" in endpoint.metrics.prometheus_expfmt()
    assert calls == [1]
    assert handle.unregister() is True
    assert text_handle.unregister() is True
    assert handle.unregister() is False
    assert "engine_up" not in endpoint.metrics.prometheus_expfmt()
    assert calls == [1]


def test_text_that_would_spoil_the_page_is_left_off_and_counted(drt):
    metrics = drt.namespace("ns").metrics
    metrics.create_intgauge("own", "Own").set(1)
    metrics.register_prometheus_expfmt_callback(lambda: "# TYPE good gauge\ngood 1\n")
    # A family already on the page, a second TYPE line, and garbage.
    metrics.register_prometheus_expfmt_callback(lambda: "# TYPE good gauge\ngood 2\n")
    metrics.register_prometheus_expfmt_callback(lambda: "# TYPE x gauge\n# TYPE x gauge\nx 1\n")
    metrics.register_prometheus_expfmt_callback(lambda: "<html>not metrics</html>")
    first = drt.metrics.prometheus_expfmt()
    # The page is rendered before the texts are checked: it counts the earlier scrapes' drops.
    second = drt.metrics.prometheus_expfmt()
    for text, conflicts, invalid in ((first, 0, 0), (second, 1, 2)):
        assert_samples(
            text,
            {
                key("dynamo_component_own", {"dynamo_namespace": "ns"}): 1,
                key("good", {}): 1,
                key("dynamo_component_uptime_seconds", {}): samples_value(text, "uptime"),
                key("dynamo_metrics_macro_rejections_total", {}): 0,
                key(
                    "dynamo_metrics_callback_text_dropped_total", {"reason": "conflict"}
                ): conflicts,
                key("dynamo_metrics_callback_text_dropped_total", {"reason": "invalid"}): invalid,
                key("dynamo_metrics_callback_text_dropped_total", {"reason": "too_large"}): 0,
            },
        )


def samples_value(text, fragment):
    """The value of the one sample line whose name holds ``fragment``."""
    (line,) = [line for line in text.splitlines() if fragment in line and not line.startswith("#")]
    return float(line.rsplit(" ", 1)[1])
