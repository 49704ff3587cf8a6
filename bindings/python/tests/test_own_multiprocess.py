"""Our own metrics across the processes of a worker (DYN_METRICS_MULTIPROC_DIR): children
forked with multiprocessing's `fork` and `spawn`, and one killed with SIGKILL, reach the one page
served by the parent, with exact sums; the killed child's live gauge is gone, its counters
stay; no child starts a server on the inherited port."""

import os
import subprocess
import sys

import pytest

from conftest import assert_promtool_accepts, samples

CHILD_TIMEOUT = 30

# A fresh interpreter with the worker's environment: the parent serves, its children record.
SCRIPT = r"""
import multiprocessing, os, signal, sys, urllib.request

from dynamo.runtime import DistributedRuntime

INCREMENTS = 1000

def record(role, ready=None):
    drt = DistributedRuntime()
    assert drt.system_status_server_info() is None, "a child started a server"
    m = drt.namespace("ns").component("worker").metrics
    done = m.create_intcountervec("jobs_total", "Jobs", ["role"])
    running = m.create_intgauge("running", "Running")
    for _ in range(INCREMENTS):
        done.inc({"role": role})
    running.set(1)
    if ready is not None:
        ready.set()
        signal.pause()

if __name__ == "__main__":
    drt = DistributedRuntime()
    host, port = drt.system_status_server_info()
    m = drt.namespace("ns").component("worker").metrics
    done = m.create_intcountervec("jobs_total", "Jobs", ["role"])
    running = m.create_intgauge("running", "Running")
    done.inc_by({"role": "parent"}, 5)
    running.set(1)
    for method in ("fork", "spawn"):
        ctx = multiprocessing.get_context(method)
        children = [ctx.Process(target=record, args=(method,)) for _ in range(4)]
        for child in children:
            child.start()
        for child in children:
            child.join(30)
            assert child.exitcode == 0, (method, child.exitcode)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    killed = ctx.Process(target=record, args=("killed", ready))
    killed.start()
    assert ready.wait(30)
    url = f"http://{host}:{port}/metrics"
    before = urllib.request.urlopen(url, timeout=10).read().decode()
    os.kill(killed.pid, signal.SIGKILL)
    killed.join(30)
    after = urllib.request.urlopen(url, timeout=10).read().decode()
    sys.stdout.write(before + "\n====\n" + after)
"""


def test_children_fork_spawn_and_killed_on_one_page(tmp_path):
    env = dict(
        os.environ,
        DYN_SYSTEM_PORT="0",
        DYN_METRICS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT * 3,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    before, after = out.stdout.split("\n====\n")
    hierarchy = (("dynamo_component", "worker"), ("dynamo_namespace", "ns"))

    def value(text, name, **labels):
        key = (name, tuple(sorted(hierarchy + tuple(labels.items()))))
        return samples(text)[key]

    for text in (before, after):
        assert value(text, "dynamo_component_jobs_total", role="parent") == 5
        assert value(text, "dynamo_component_jobs_total", role="fork") == 4000
        assert value(text, "dynamo_component_jobs_total", role="spawn") == 4000
        assert value(text, "dynamo_component_jobs_total", role="killed") == 1000
        assert_promtool_accepts(text)
    # The live gauge: the parent's and the killed child's while it ran, then the parent's.
    assert value(before, "dynamo_component_running") == 2
    assert value(after, "dynamo_component_running") == 1


def test_a_multiprocess_mode_is_for_gauges_and_named(drt):
    metrics = drt.namespace("ns").metrics
    gauge = metrics.create_gauge("loaded", "Loaded", multiprocess_mode="max")
    gauge.set(1.0)  # without a directory the mode changes nothing
    with pytest.raises(ValueError, match="multiprocess_mode is for gauges"):
        metrics.create_counter("c_total", "C", multiprocess_mode="max")
    with pytest.raises(ValueError, match='"newest"'):
        metrics.create_gaugevec("g", "G", ["x"], multiprocess_mode="newest")
    assert "dynamo_component_c_total" not in metrics.prometheus_expfmt()
