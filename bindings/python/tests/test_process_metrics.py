"""The standard process metrics, read by the native side: on the runtime's page by default,
with prometheus_client's names and help texts, plausible against what the test reads itself,
and absent when turned off."""

import os
import resource
import sys
import time

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from conftest import samples
from dynamo import prometheus_names
from dynamo.runtime import DistributedRuntime

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process metrics are read from /proc"
)

P = prometheus_names.process


@pytest.fixture
def runtime(monkeypatch):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.delenv("DYN_METRICS_PROCESS", raising=False)
    drt = DistributedRuntime()
    yield drt
    drt.shutdown()


def values(drt):
    return {name: value for (name, _), value in samples(drt.metrics.prometheus_expfmt()).items()}


def test_names_types_and_help_are_those_of_prometheus_client(runtime):
    ours = {
        f.name: (f.type, f.documentation)
        for f in text_string_to_metric_families(runtime.metrics.prometheus_expfmt())
        if f.name.startswith(P.PREFIX)
    }
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    theirs = {f.name: (f.type, f.documentation) for f in registry.collect()}
    assert set(theirs) <= set(ours)
    for name, described in theirs.items():
        assert ours[name] == described, name
    assert ours["process_threads"] == ("gauge", P.THREADS_HELP)
    assert ours["process_cpu_seconds"] == ("counter", P.CPU_SECONDS_TOTAL_HELP)


def test_figures_agree_with_what_the_process_reads_itself(runtime):
    shown = values(runtime)
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    assert abs(shown[P.RESIDENT_MEMORY_BYTES] - rss) <= rss * 0.1
    assert shown[P.VIRTUAL_MEMORY_BYTES] >= shown[P.RESIDENT_MEMORY_BYTES]
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert shown[P.MAX_FDS] == (float("inf") if soft == resource.RLIM_INFINITY else soft)
    # Both counts include the descriptor their reader holds: listdir's, and the scrape's.
    # Other threads may open descriptors meanwhile: readings that moved are taken again.
    for _ in range(100):
        before = len(os.listdir("/proc/self/fd"))
        open_fds = values(runtime)[P.OPEN_FDS]
        after = len(os.listdir("/proc/self/fd"))
        if before == after == open_fds:
            break
    assert open_fds == before == after
    assert time.time() - 3600 < shown[P.START_TIME_SECONDS] <= time.time()
    assert shown[P.THREADS] >= 1


def test_cpu_seconds_never_go_down_and_follow_os_times(runtime):
    last = 0.0
    for _ in range(3):
        goal = sum(os.times()[:2]) + 0.05
        while sum(os.times()[:2]) < goal:
            sum(range(10_000))
        before = sum(os.times()[:2])
        shown = values(runtime)["process_cpu_seconds_total"]
        after = sum(os.times()[:2])
        assert before - 1e-9 <= shown <= after + 1e-9
        assert shown >= last
        last = shown


@pytest.mark.parametrize("setting", ["0", "false", "off"])
def test_absent_when_the_variable_turns_them_off(monkeypatch, setting):
    monkeypatch.delenv("DYN_SYSTEM_PORT", raising=False)
    monkeypatch.setenv("DYN_METRICS_PROCESS", setting)
    drt = DistributedRuntime()
    assert "process_" not in drt.metrics.prometheus_expfmt()
    # An argument wins over the variable.
    assert (
        "process_open_fds" in DistributedRuntime(process_metrics=True).metrics.prometheus_expfmt()
    )


def test_absent_when_the_argument_turns_them_off(drt, monkeypatch):
    monkeypatch.setenv("DYN_METRICS_PROCESS", "1")
    assert "process_" not in DistributedRuntime(process_metrics=False).metrics.prometheus_expfmt()


def test_a_bad_switch_is_a_value_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DYN_METRICS_PROCESS", "sometimes")
    with pytest.raises(ValueError, match='DYN_METRICS_PROCESS="sometimes" is invalid'):
        DistributedRuntime()


def test_a_forked_child_shows_its_own_figures(runtime):
    goal = sum(os.times()[:2]) + 0.3
    while sum(os.times()[:2]) < goal:
        sum(range(10_000))
    parent = values(runtime)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its figures and leave without pytest's teardown
        try:
            child = values(runtime)
            report = f"{child['process_cpu_seconds_total']} {child[P.START_TIME_SECONDS]}"
            os.write(write_end, report.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    child_cpu, child_start = map(float, report.split())
    assert parent["process_cpu_seconds_total"] >= 0.3
    assert child_cpu < parent["process_cpu_seconds_total"] - 0.2, (child_cpu, parent)
    assert child_start >= parent[P.START_TIME_SECONDS]
    # The parent's counter goes on from where it was.
    assert values(runtime)["process_cpu_seconds_total"] >= parent["process_cpu_seconds_total"]
