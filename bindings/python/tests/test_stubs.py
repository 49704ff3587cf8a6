"""The hand-written stubs match the native module, and the package is marked as typed."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import dynamo

PACKAGE = Path(dynamo.__file__).parent


def test_package_ships_stubs_and_py_typed():
    assert (PACKAGE / "py.typed").exists()
    assert (PACKAGE / "_core.pyi").exists()


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_stubtest_finds_no_difference():
    modules = [
        "dynamo._core",
        "dynamo.runtime",
        "dynamo.prometheus_metrics",
        "dynamo.prometheus_names",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", *modules],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_typed_usage_checks(tmp_path):
    sample = tmp_path / "usage.py"
    sample.write_text(
        "from dynamo.runtime import DistributedRuntime\n"
        "from dynamo.prometheus_metrics import IntCounterVec, MetricsError\n"
        "drt = DistributedRuntime()\n"
        "ep = drt.namespace('ns').component('c').endpoint('e')\n"
        "v: IntCounterVec = ep.metrics.create_intcountervec('r', 'R', ['a'])\n"
        "v.inc({'a': 'x'})\n"
        "n: int = v.get({'a': 'x'})\n"
        "h = ep.metrics.create_histogram('h', 'H', buckets=[0.1, 1.0])\n"
        "h.observe(0.5)\n"
        "text: str = ep.metrics.prometheus_expfmt()\n"
        "with ep.track_request() as request:\n"
        "    request.request_bytes(3)\n"
        "@ep.track_requests\n"
        "async def handle(x: int) -> int:\n"
        "    return x\n"
        "@ep.track_requests(error_type='generate')\n"
        "def generate(x: int) -> int:\n"
        "    return x\n"
        "y: int = generate(1)\n"
        "@h.time()\n"
        "def timed() -> str:\n"
        "    return 'x'\n"
        "z: str = timed()\n"
        "with h.time(), ep.metrics.create_gauge('g2', 'G').track_inprogress():\n"
        "    pass\n"
        "info = drt.system_status_server_info()\n"
        "err: type[RuntimeError] = MetricsError\n"
        "from prometheus_client import CollectorRegistry\n"
        "fleet = DistributedRuntime(const_labels={'cluster': 'a'}, process_metrics=False)\n"
        "registration = ep.metrics.register_engine_metrics(\n"
        "    CollectorRegistry(), include=['vllm:'], labels={'model': 'm'}\n"
        ")\n"
        "removed: bool = registration.unregister()\n"
        "ep.metrics.register_engine_metrics(lambda: b'', skip_process_metrics=False)\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from dynamo.runtime import DistributedRuntime\n"
        "drt = DistributedRuntime()\n"
        "g = drt.metrics.create_intgauge('g', 'G')\n"
        "g.set('3')\n"
        "drt.metrics.register_engine_metrics(labels=3)\n"
    )
    ok = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(sample)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(bad)], capture_output=True, text=True
    )
    assert refused.returncode == 1 and "set" in refused.stdout, refused.stdout
    assert "register_engine_metrics" in refused.stdout, refused.stdout
