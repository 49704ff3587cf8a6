"""Fixtures and scrape helpers shared by the test files."""

from __future__ import annotations

import math
import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dynamo.runtime import DistributedRuntime

EP_LABELS = {
    "dynamo_namespace": "ns",
    "dynamo_component": "comp",
    "dynamo_endpoint": "ep",
}
"""The hierarchy labels of the ``endpoint`` fixture."""


@pytest.fixture
def drt(monkeypatch):
    """A runtime without the system status server, nor process metrics (whose values change
    from one scrape to the next; ``test_process_metrics.py`` tests them)."""
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    runtime = DistributedRuntime(process_metrics=False)
    yield runtime
    runtime.shutdown()


def serve(monkeypatch, openmetrics: str | None = None) -> DistributedRuntime:
    """A runtime whose status server listens on a free loopback port, without process
    metrics; ``openmetrics`` is the value of ``DYN_SYSTEM_OPENMETRICS`` (unset when None)."""
    monkeypatch.setenv("DYN_SYSTEM_PORT", "0")
    monkeypatch.setenv("DYN_SYSTEM_HOST", "127.0.0.1")
    if openmetrics is None:
        monkeypatch.delenv("DYN_SYSTEM_OPENMETRICS", raising=False)
    else:
        monkeypatch.setenv("DYN_SYSTEM_OPENMETRICS", openmetrics)
    return DistributedRuntime(process_metrics=False)


@pytest.fixture
def served(monkeypatch):
    """A runtime serving ``/metrics`` on loopback, OpenMetrics off."""
    runtime = serve(monkeypatch)
    yield runtime
    runtime.shutdown()


@pytest.fixture
def served_openmetrics(monkeypatch):
    """A runtime serving OpenMetrics to a client that asks for it."""
    runtime = serve(monkeypatch, "1")
    yield runtime
    runtime.shutdown()


def fetch(runtime, accept: str | None = None, query: str = "") -> tuple[str, bytes]:
    """``GET /metrics`` of ``runtime``'s status server (``?query`` when given, ``Accept``
    when given): the response's ``Content-Type`` and body."""
    host, port = runtime.system_status_server_info()
    url = f"http://{host}:{port}/metrics" + (f"?{query}" if query else "")
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return response.headers["Content-Type"], response.read()


@pytest.fixture
def endpoint(drt):
    return drt.namespace("ns").component("comp").endpoint("ep")


def labels(**extra: str) -> dict[str, str]:
    """The endpoint fixture's hierarchy labels plus ``extra``."""
    return {**EP_LABELS, **extra}


def key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition text, parsed by prometheus_client, keyed by
    ``(sample name, sorted label pairs)``, with ``le`` as ``repr(float(le))``. A sample seen
    twice fails the test."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sample_labels = dict(sample.labels)
            if "le" in sample_labels:
                sample_labels["le"] = repr(float(sample_labels["le"]))
            k = key(sample.name, sample_labels)
            assert k not in out, f"sample {k} appears twice"
            out[k] = sample.value
    return out


def promtool_check(text: str) -> list[str]:
    """What ``promtool check metrics`` (Debian's ``prometheus`` package) finds in ``text``: its
    lint findings, one per line, none when it accepts the text as it is. A text it cannot parse
    fails the test, and so does a missing promtool (``scripts/test`` installs it)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: apt-get install prometheus (scripts/test does)"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    said = result.stdout + result.stderr
    # 0: accepted; 3: parsed, with lint findings; 1: not parsed.
    assert result.returncode in (0, 3), f"promtool cannot parse the text: {said}\nin:\n{text}"
    return [line for line in said.splitlines() if line.strip()] if result.returncode else []


def assert_promtool_accepts(text: str) -> None:
    """``promtool check metrics`` accepts ``text``, lint included."""
    findings = promtool_check(text)
    assert not findings, f"promtool check metrics found {findings} in:\n{text}"


def families(text: str) -> dict[str, tuple[str, str]]:
    """``{family name: (type, help)}``; prometheus_client drops a counter's ``_total``."""
    return {f.name: (f.type, f.documentation) for f in text_string_to_metric_families(text)}


def assert_samples(text: str, expected: dict) -> None:
    """The text's samples are exactly ``expected``, compared one by one."""
    got = samples(text)
    missing = {k: v for k, v in expected.items() if k not in got}
    extra = {k: v for k, v in got.items() if k not in expected}
    assert not missing and not extra, f"missing {missing}\nunexpected {extra}\nin:\n{text}"
    for k, want in expected.items():
        value = got[k]
        same = (math.isnan(want) and math.isnan(value)) or value == want
        assert same, f"{k}: expected {want}, got {value}\nin:\n{text}"


def histogram_samples(
    name: str, labels: dict[str, str], buckets: list[float], observations: list[float]
) -> dict:
    """The samples a histogram with these buckets shows after these observations."""
    out = {}
    for bound in [*buckets, math.inf]:
        le = repr(float(bound))
        count = sum(1 for v in observations if v <= bound)
        out[key(f"{name}_bucket", {**labels, "le": le})] = float(count)
    out[key(f"{name}_count", labels)] = float(len(observations))
    out[key(f"{name}_sum", labels)] = float(sum(observations))
    return out


def mask_sums(text: str, low: float = 0.0, high: float = 60.0) -> str:
    """``text`` with the value of every histogram ``_sum`` sample replaced by ``SUM``, after
    checking it lies in ``[low, high)``: durations vary from run to run, their buckets and
    counts do not when the buckets are chosen wide enough."""
    lines = []
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if not line.startswith("#") and series.split("{")[0].endswith("_sum"):
            assert low <= float(value) < high, line
            line = f"{series} SUM"
        lines.append(line)
    return "\n".join(lines) + "\n"
