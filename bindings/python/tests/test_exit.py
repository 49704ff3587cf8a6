"""The interpreter exits cleanly whatever the runtime is doing: pre-scrape callbacks running
for a scrape over HTTP, an OTLP export or a ``prometheus_expfmt()`` call of a daemon thread,
with or without ``shutdown()``; a callback that never returns holds the exit up five seconds
at most. Each case runs in a fresh interpreter, several times when the exit races the
callbacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

RUNS = 5
CALLBACKS = 500
RUN_TIMEOUT = 60

# Runs in a fresh interpreter: `sys.argv[1]` names what is in flight when the main thread
# returns (`http`, `otlp` or `expfmt`), `sys.argv[2]` whether it calls `shutdown()` first.
SCRIPT = r"""
import sys, threading, time, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dynamo.runtime import DistributedRuntime

in_flight, shutdown, callbacks = sys.argv[1], sys.argv[2] == "shutdown", int(sys.argv[3])


class Receiver(BaseHTTPRequestHandler):
    # An OTLP receiver that takes every request and keeps nothing.
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


otlp = None
if in_flight == "otlp":
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = receiver.server_address[1]
    otlp = {"endpoint": f"http://127.0.0.1:{port}/v1/metrics", "interval": 0.05}
drt = DistributedRuntime(otlp=otlp)
host, port = drt.system_status_server_info()
gauges = drt.namespace("ns").component("comp").endpoint("ep").metrics
started = threading.Event()


def callback(gauge):
    def update():
        started.set()
        time.sleep(0.01)
        gauge.set(1)

    return update


for i in range(callbacks):
    gauges.register_callback(callback(gauges.create_gauge(f"g{i}", "A gauge")))


def ready():
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/live", timeout=10) as answer:
                return answer.status
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise


def scrape():
    ready()
    urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=30).read()


if in_flight == "http":
    threading.Thread(target=scrape, daemon=True).start()
elif in_flight == "expfmt":
    threading.Thread(target=drt.metrics.prometheus_expfmt, daemon=True).start()
assert started.wait(30), "no callback started"
if shutdown:
    drt.shutdown()
print("returning")
"""


@pytest.mark.parametrize(
    ("in_flight", "shutdown"),
    [
        ("http", "no-shutdown"),
        ("http", "shutdown"),
        ("otlp", "no-shutdown"),
        ("otlp", "shutdown"),
        ("expfmt", "no-shutdown"),
    ],
)
def test_the_interpreter_exits_cleanly_while_callbacks_run(in_flight, shutdown):
    env = {**os.environ, "DYN_SYSTEM_PORT": "0", "DYN_SYSTEM_HOST": "127.0.0.1"}
    for run in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, in_flight, shutdown, str(CALLBACKS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        output = f"run {run + 1} of {RUNS}:\n{result.stdout}{result.stderr}"
        assert result.returncode == 0, output
        assert result.stdout == "returning\n", output
        assert "Traceback" not in result.stderr, output
        assert "panicked" not in result.stderr, output


def test_a_callback_that_never_returns_delays_the_exit_a_bounded_time():
    script = r"""
import threading
from dynamo.runtime import DistributedRuntime

drt = DistributedRuntime()
started, never = threading.Event(), threading.Event()


def hang():
    started.set()
    never.wait()


drt.metrics.register_callback(hang)
threading.Thread(target=drt.metrics.prometheus_expfmt, daemon=True).start()
assert started.wait(30), "the callback did not start"
"""
    env = {k: v for k, v in os.environ.items() if k != "DYN_SYSTEM_PORT"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "interpreter exit: 1 metrics callback(s) still running after 5 s; not waiting longer\n"
    )
