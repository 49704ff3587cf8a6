"""The example servers, run as the guide runs them (``DYN_SYSTEM_PORT=... ./server_with_loop.py``)
and scraped over HTTP."""

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import assert_promtool_accepts, key, samples

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EP = {"dynamo_namespace": "example", "dynamo_component": "worker", "dynamo_endpoint": "generate"}


def example_env(**extra):
    env = dict(os.environ)
    # The shebang finds the interpreter that runs the tests (the venv's) first on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("DYN_SYSTEM_PORT", None)
    env.update(extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An example started as a subprocess; the address comes from the line it prints."""

    def __init__(self, name, port):
        self.proc = subprocess.Popen(
            [str(EXAMPLES / name)],
            env=example_env(DYN_SYSTEM_PORT=str(port), DYN_SYSTEM_HOST="127.0.0.1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.readline(timeout=30)
        assert line.startswith("system status server listening on "), line
        address = line.split("listening on ", 1)[1].split(": GET", 1)[0]
        host, port_text = address.rsplit(":", 1)
        self.base = f"http://{host}:{port_text}"
        self.port = int(port_text)

    def readline(self, timeout):
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            self.proc.kill()
            pytest.fail(f"no address printed; stderr: {self.proc.stderr.read()}")
        return self.proc.stdout.readline()

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return response.status, response.read().decode()

    def stop(self, sig=signal.SIGINT):
        """Ctrl-C by default, as a user stops it; it shuts the server down and exits 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return code


@pytest.fixture
def start():
    servers = []

    def start_server(name, port=0):
        server = Server(name, port)
        servers.append(server)
        return server

    yield start_server
    for server in servers:
        server.stop()


def scrape_until(server, ready, timeout=30):
    """Scrapes until ``ready(samples)`` holds: the loop example's thread may not have run yet."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = server.get("/metrics")
        assert status == 200
        got = samples(body)
        if ready(got):
            return body, got
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def updates(got, method):
    return got.get(key("dynamo_component_updates_total", {**EP, "update_method": method}), 0)


ALL = ["server_with_loop.py", "server_with_callback.py", "request_handler.py"]


@pytest.mark.parametrize("name", ALL)
def test_examples_are_executable_scripts(name):
    path = EXAMPLES / name
    assert os.access(path, os.X_OK)
    assert path.read_text().startswith("#!/usr/bin/env python3\n")


def test_server_with_loop(start):
    server = start("server_with_loop.py")
    assert server.port > 0
    body, got = scrape_until(server, lambda got: updates(got, "loop") >= 1)
    assert got[key("dynamo_component_total_slots", EP)] == 64
    assert 0 <= got[key("dynamo_component_kv_cache_usage_ratio", EP)] < 1
    for worker in range(3):
        active = got[
            key("dynamo_component_worker_active_requests", {**EP, "worker_id": str(worker)})
        ]
        assert active in range(10)
    assert key("dynamo_component_uptime_seconds", {}) in got
    # The loop goes on: the counter moves without any scrape driving it.
    first = updates(got, "loop")
    scrape_until(server, lambda got: updates(got, "loop") > first)
    assert server.get("/health")[0] == 200
    assert server.stop() == 0


def test_server_with_callback(start):
    server = start("server_with_callback.py", port=free_port())
    for n in range(1, 4):
        status, body = server.get("/metrics")
        assert status == 200
        got = samples(body)
        tick = n - 1
        assert updates(got, "callback") == n, body
        assert got[key("dynamo_component_total_slots", EP)] == 64
        assert got[key("dynamo_component_kv_cache_usage_ratio", EP)] == tick % 100 / 100
        for worker in range(3):
            labels = {**EP, "worker_id": str(worker)}
            assert (
                got[key("dynamo_component_worker_active_requests", labels)]
                == (tick + worker * 3) % 10
            )
    assert server.get("/health")[0] == 200
    assert server.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize("name", ["server_with_loop.py", "server_with_callback.py"])
def test_example_scrapes_pass_promtool_lint(start, name):
    server = start(name)
    body, _ = scrape_until(server, lambda got: updates(got, "loop") + updates(got, "callback") >= 1)
    assert_promtool_accepts(body)


@pytest.mark.parametrize("name", ALL)
def test_examples_explain_a_missing_port(name):
    result = subprocess.run(
        [str(EXAMPLES / name)], env=example_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "DYN_SYSTEM_PORT" in result.stderr


@pytest.mark.parametrize(
    ("name", "sig"),
    [
        ("server_with_callback.py", signal.SIGTERM),
        ("server_with_loop.py", signal.SIGINT),
    ],
)
def test_examples_answer_scrapes_in_flight_and_exit_0_on_a_signal(start, name, sig):
    server = start(name)
    scrape_until(server, lambda got: updates(got, "loop") + updates(got, "callback") >= 1)
    answered = []
    errors = []

    def scrape_until_refused():
        for _ in range(100_000):
            try:
                status, body = server.get("/metrics")
            except OSError:
                return  # refused or closed: the server has stopped
            if status != 200 or not body.endswith("\n"):
                errors.append((status, body[-200:]))
            answered.append(samples(body))

    scrapers = [threading.Thread(target=scrape_until_refused) for _ in range(3)]
    for scraper in scrapers:
        scraper.start()
    deadline = time.monotonic() + 30
    while len(answered) < 10:
        assert time.monotonic() < deadline, "no answers"
        time.sleep(0.01)
    assert server.stop(sig) == 0
    for scraper in scrapers:
        scraper.join(timeout=30)
    assert not errors, errors


LLM = {
    "dynamo_namespace": "example",
    "dynamo_component": "llm",
    "dynamo_endpoint": "generate",
    "model": "toy-reverser",
}


def request_value(got, name, **extra):
    return got.get(key(f"dynamo_component_{name}", {**LLM, **extra}), 0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_request_handler_serves_the_request_series_of_its_traffic(start, sig):
    server = start("request_handler.py")
    body, got = scrape_until(
        server,
        lambda got: (
            request_value(got, "requests_total") >= 10
            and request_value(got, "errors_total", error_type="ValueError") >= 1
            and request_value(got, "cancellation_total") >= 1
        ),
    )
    assert [f.name for f in text_string_to_metric_families(body)] == [
        "dynamo_component_cancellation",
        "dynamo_component_errors",
        "dynamo_component_inflight_requests",
        "dynamo_component_request_bytes",
        "dynamo_component_request_duration_seconds",
        "dynamo_component_requests",
        "dynamo_component_response_bytes",
        "dynamo_component_time_to_first_response_seconds",
        "dynamo_component_uptime_seconds",
        "dynamo_metrics_callback_text_dropped",
        "dynamo_metrics_macro_rejections",
        "process_cpu_seconds",
        "process_max_fds",
        "process_open_fds",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_threads",
        "process_virtual_memory_bytes",
    ]
    started = request_value(got, "requests_total")
    inflight = request_value(got, "inflight_requests")
    ended = request_value(got, "request_duration_seconds_count")
    assert 0 <= inflight <= started
    assert started - inflight - 1 <= ended <= started
    assert request_value(got, "request_duration_seconds_bucket", le=repr(600.0)) == ended
    assert request_value(got, "request_bytes_total") > 0
    assert request_value(got, "response_bytes_total") > 0
    assert request_value(got, "time_to_first_response_seconds_count") > 0
    assert_promtool_accepts(body)
    assert server.stop(sig) == 0
