"""The metrics developer guide's Python code, as written, run against the bindings.

The snippets are the guide's, in its order. The guide leaves two names to the reader:
``compute_current_connections`` and ``gauge_vec``; the prelude defines them. The one place the
project differs from the guide is ``name()``: the hierarchy is carried by labels, so the name is
``dynamo_component_requests_total``.
"""

import ast
import threading
import time

from conftest import histogram_samples, key, samples

GUIDE_SNIPPETS = [
    """\
from dynamo.runtime import DistributedRuntime

drt = DistributedRuntime()
endpoint = drt.namespace("my_namespace").component("my_component").endpoint("my_endpoint")

# Simple metrics
requests_total = endpoint.metrics.create_intcounter(
    "requests_total",
    "Total requests"
)

active_connections = endpoint.metrics.create_intgauge(
    "active_connections",
    "Active connections"
)

latency = endpoint.metrics.create_histogram(
    "latency_seconds",
    "Request latency",
    buckets=[0.001, 0.01, 0.1, 1.0, 10.0]
)
""",
    """\
# Counters
requests_total.inc()
requests_total.inc_by(5)

# Gauges
active_connections.set(42)
active_connections.inc()
active_connections.dec()

# Histograms
latency.observe(0.023)  # 23ms
""",
    """\
# Create vector metrics with label names
requests_by_model = endpoint.metrics.create_intcountervec(
    "requests_by_model",
    "Requests by model",
    ["model_type", "model_size"]
)

memory_by_gpu = endpoint.metrics.create_intgaugevec(
    "gpu_memory_bytes",
    "GPU memory by device",
    ["gpu_id", "memory_type"]
)

# Use with specific label values
requests_by_model.inc({"model_type": "llama", "model_size": "7b"})
memory_by_gpu.set(8192, {"gpu_id": "0", "memory_type": "allocated"})
""",
    """\
counter = endpoint.metrics.create_intcounter(
    "requests_total",
    "Total requests",
    [("region", "us-west"), ("env", "prod")]
)
""",
    """\
print(counter.name())            # "my_namespace_my_component_my_endpoint_requests_total"
print(counter.const_labels())    # {"dynamo_namespace": "my_namespace", ...}
print(gauge_vec.variable_labels())  # ["model_type", "model_size"]
""",
    """\
import threading
import time

def update_loop():
    while True:
        active_connections.set(compute_current_connections())
        time.sleep(2)

threading.Thread(target=update_loop, daemon=True).start()
""",
    """\
def update_metrics():
    active_connections.set(compute_current_connections())

endpoint.metrics.register_callback(update_metrics)
""",
]

PRELUDE = """\
def compute_current_connections():
    return 42


def make_gauge_vec(endpoint):
    return endpoint.metrics.create_gaugevec(
        "connections_by_model", "Connections by model", ["model_type", "model_size"]
    )
"""

EP = {
    "dynamo_namespace": "my_namespace",
    "dynamo_component": "my_component",
    "dynamo_endpoint": "my_endpoint",
}


def run_guide(capsys):
    scope = {"__name__": "guide"}
    exec(PRELUDE, scope)
    for i, snippet in enumerate(GUIDE_SNIPPETS):
        if "gauge_vec.variable_labels()" in snippet:
            scope["gauge_vec"] = scope["make_gauge_vec"](scope["endpoint"])
        exec(compile(snippet, f"<guide snippet {i + 1}>", "exec"), scope)
    return scope, capsys.readouterr().out.splitlines()


def test_the_guide_runs_as_written(monkeypatch, capsys):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    scope, printed = run_guide(capsys)

    assert len(printed) == 3
    assert printed[0] == "dynamo_component_requests_total"
    assert ast.literal_eval(printed[1]) == {**EP, "region": "us-west", "env": "prod"}
    assert ast.literal_eval(printed[2]) == ["model_type", "model_size"]

    # The callback registered last runs before the scrape and sets the gauge.
    scope["active_connections"].set(0)
    text = scope["endpoint"].metrics.prometheus_expfmt()
    got = samples(text)
    expected = {
        key("dynamo_component_requests_total", EP): 6,
        key("dynamo_component_requests_total", {**EP, "region": "us-west", "env": "prod"}): 0,
        key("dynamo_component_active_connections", EP): 42,
        # prometheus_client's parser names a counter's samples `<family>_total`.
        key(
            "dynamo_component_requests_by_model_total",
            {**EP, "model_type": "llama", "model_size": "7b"},
        ): 1,
        key(
            "dynamo_component_gpu_memory_bytes", {**EP, "gpu_id": "0", "memory_type": "allocated"}
        ): 8192,
        **histogram_samples(
            "dynamo_component_latency_seconds", EP, [0.001, 0.01, 0.1, 1.0, 10.0], [0.023]
        ),
    }
    assert got == expected, text
    assert (
        scope["drt"].metrics.prometheus_expfmt().count("dynamo_component_active_connections{") == 1
    )


def test_the_guide_background_thread_updates_the_gauge(monkeypatch, capsys):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    scope, _ = run_guide(capsys)
    gauge = scope["active_connections"]
    gauge.set(0)
    # The guide's loop sets the gauge every 2 seconds; wait for its next pass.
    deadline = time.monotonic() + 10
    while gauge.get() != 42:
        assert time.monotonic() < deadline, "the update loop never ran"
        time.sleep(0.01)
    assert any(t.daemon and t.is_alive() for t in threading.enumerate())
