"""prometheus_client's context managers on our metrics: hist.time(), gauge.time(),
gauge.track_inprogress() and counter.count_exceptions(), as ``with`` blocks and as decorators of
plain, async and generator functions, on scalars and on vec series; and the same counts as
prometheus_client for the same calls.

Histograms get one bucket of 60 s, so each observation lands in it however fast the machine;
``_sum`` values are checked against bounds and masked before whole texts are compared.
"""

from __future__ import annotations

import asyncio
import time

import prometheus_client as pc
import pytest

from conftest import EP_LABELS, mask_sums
from dynamo.prometheus_metrics import ExceptionCounter, InprogressTracker, Timer

LABELS = ",".join(f'{k}="{v}"' for k, v in sorted(EP_LABELS.items()))


def spin(seconds: float) -> None:
    """Busy-waits (no sleep) for at least ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def histogram_text(count: int, labels: str = LABELS) -> str:
    name = "dynamo_component_work_seconds"
    return (
        f"# HELP {name} Work\n"
        f"# TYPE {name} histogram\n"
        f'{name}_bucket{{{labels},le="60"}} {count}\n'
        f'{name}_bucket{{{labels},le="+Inf"}} {count}\n'
        f"{name}_sum{{{labels}}} SUM\n"
        f"{name}_count{{{labels}}} {count}\n"
    )


def test_hist_time_observes_a_block_and_each_decorated_call(endpoint):
    hist = endpoint.metrics.create_histogram("work_seconds", "Work", buckets=[60.0])
    with hist.time() as timer:
        assert isinstance(timer, Timer)
        spin(0.002)
    assert mask_sums(endpoint.metrics.prometheus_expfmt(), low=0.002) == histogram_text(1)

    @hist.time()
    def double(x: int) -> int:
        """Doubles."""
        spin(0.002)
        return 2 * x

    @hist.time()
    def fail() -> None:
        raise ValueError("timed anyway")

    assert double(21) == 42
    assert double.__name__ == "double" and double.__doc__ == "Doubles."
    with pytest.raises(ValueError):
        fail()
    assert mask_sums(endpoint.metrics.prometheus_expfmt(), low=0.004) == histogram_text(3)


def test_hist_time_times_coroutines_until_they_return_and_generators_until_their_end(endpoint):
    hist = endpoint.metrics.create_histogram("work_seconds", "Work", buckets=[60.0])

    @hist.time()
    async def fetch() -> str:
        await asyncio.sleep(0)
        spin(0.002)
        return "done"

    @hist.time()
    def items():
        yield 1
        spin(0.002)
        yield 2

    assert asyncio.run(fetch()) == "done"
    stream = items()
    assert next(stream) == 1
    assert hist.get_count() == 1  # the generator is still running
    assert list(stream) == [2]
    assert hist.get_count() == 2
    assert hist.get_sum() >= 0.004
    assert mask_sums(endpoint.metrics.prometheus_expfmt(), low=0.004) == histogram_text(2)


def test_a_timer_decorating_a_function_times_overlapping_calls_apart(endpoint):
    hist = endpoint.metrics.create_histogram("work_seconds", "Work", buckets=[60.0])

    @hist.time()
    def outer(depth: int) -> int:
        return 0 if depth == 0 else 1 + outer(depth - 1)

    assert outer(3) == 3
    assert hist.get_count() == 4


def test_gauge_time_sets_the_gauge_to_the_seconds(endpoint):
    gauge = endpoint.metrics.create_gauge("last_run_seconds", "Last run")
    with gauge.time():
        spin(0.002)
    assert 0.002 <= gauge.get() < 60

    @gauge.time()
    async def run() -> None:
        spin(0.003)

    asyncio.run(run())
    assert 0.003 <= gauge.get() < 60


def test_track_inprogress_counts_blocks_and_calls_in_progress(endpoint):
    gauge = endpoint.metrics.create_gauge("busy", "Busy")
    int_gauge = endpoint.metrics.create_intgauge("busy_workers", "Busy workers")
    with gauge.track_inprogress() as entered, int_gauge.track_inprogress():
        assert entered is None  # as prometheus_client
        with int_gauge.track_inprogress():
            assert (gauge.get(), int_gauge.get()) == (1.0, 2)
    assert (gauge.get(), int_gauge.get()) == (0.0, 0)
    assert isinstance(gauge.track_inprogress(), InprogressTracker)

    seen = []

    @int_gauge.track_inprogress()
    async def work() -> None:
        await asyncio.sleep(0)
        seen.append(int_gauge.get())

    async def main() -> None:
        await asyncio.gather(work(), work(), work())

    asyncio.run(main())
    # All three entered before the first resumed; each leaves before the next resumes.
    assert seen == [3, 2, 1] and int_gauge.get() == 0

    @gauge.track_inprogress()
    def fail() -> None:
        raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    assert gauge.get() == 0.0


def test_count_exceptions_counts_the_given_types_and_lets_them_through(endpoint):
    failures = endpoint.metrics.create_counter("failures_total", "Failures")
    timeouts = endpoint.metrics.create_intcounter("timeouts_total", "Timeouts")
    io_errors = endpoint.metrics.create_intcounter("io_errors_total", "I/O errors")

    class Stop(BaseException):
        pass

    for error in [ValueError, KeyError, Stop]:
        with pytest.raises(error), failures.count_exceptions() as entered:
            assert entered is None
            raise error()
    with failures.count_exceptions():
        pass
    assert failures.get() == 2.0  # Exception and its subclasses only, as by default

    @timeouts.count_exceptions(TimeoutError)
    async def call(fail: type[BaseException] | None) -> str:
        if fail:
            raise fail()
        return "ok"

    assert asyncio.run(call(None)) == "ok"
    for error in [TimeoutError, ValueError, TimeoutError]:
        with pytest.raises(error):
            asyncio.run(call(error))
    assert timeouts.get() == 2

    with pytest.raises(ConnectionError), io_errors.count_exceptions((OSError, EOFError)):
        raise ConnectionError
    with pytest.raises(EOFError), io_errors.count_exceptions((OSError, EOFError)):
        raise EOFError
    assert io_errors.get() == 2
    assert isinstance(io_errors.count_exceptions(), ExceptionCounter)
    with pytest.raises(TypeError):
        io_errors.count_exceptions("OSError")


def test_vec_series_have_the_same_context_managers(endpoint):
    m = endpoint.metrics
    latency = m.create_histogramvec("work_seconds", "Work", ["model"], buckets=[60.0])
    busy = m.create_gaugevec("busy", "Busy", ["model"])
    busy_workers = m.create_intgaugevec("busy_workers", "Busy workers", ["model"])
    last = m.create_gaugevec("last_run_seconds", "Last run", ["model"])
    failures = m.create_countervec("failures_total", "Failures", ["model"])
    int_failures = m.create_intcountervec("int_failures_total", "Failures", ["model"])
    llama = {"model": "llama"}

    @latency.time(llama)
    @busy.track_inprogress(llama)
    @busy_workers.track_inprogress(llama)
    @last.time(llama)
    @failures.count_exceptions(llama, ValueError)
    @int_failures.count_exceptions(llama)
    def generate(fail: bool) -> None:
        assert (busy.get(llama), busy_workers.get(llama)) == (1.0, 1)
        if fail:
            raise ValueError

    generate(False)
    with pytest.raises(ValueError):
        generate(True)
    assert latency.get_count(llama) == 2
    assert (busy.get(llama), busy_workers.get(llama)) == (0.0, 0)
    assert 0 <= last.get(llama) < 60
    assert (failures.get(llama), int_failures.get(llama)) == (1.0, 1)
    with pytest.raises(ValueError, match="takes the labels"):
        latency.time({"size": "7b"})
    assert mask_sums(endpoint.metrics.prometheus_expfmt()).count("_sum{") == 1
    text = mask_sums(latency_only(endpoint.metrics.prometheus_expfmt()))
    assert text == histogram_text(2, f'{LABELS},model="llama"')


def latency_only(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if "work_seconds" in line)


def test_the_same_calls_count_the_same_as_prometheus_client(endpoint):
    registry = pc.CollectorRegistry()
    theirs = {
        "hist": pc.Histogram("work_seconds", "Work", buckets=[60.0], registry=registry),
        "gauge": pc.Gauge("busy", "Busy", registry=registry),
        "counter": pc.Counter("failures", "Failures", registry=registry),
    }
    m = endpoint.metrics
    ours = {
        "hist": m.create_histogram("work_seconds", "Work", buckets=[60.0]),
        "gauge": m.create_gauge("busy", "Busy"),
        "counter": m.create_counter("failures_total", "Failures"),
    }
    for side in (theirs, ours):

        @side["hist"].time()
        @side["gauge"].track_inprogress()
        @side["counter"].count_exceptions(KeyError)
        def lookup(key: str) -> int:
            return {"a": 1}[key]

        for key in ["a", "b", "a", "c"]:
            try:
                lookup(key)
            except KeyError:
                pass
        with side["hist"].time(), side["gauge"].track_inprogress():
            pass
        with pytest.raises(KeyError), side["counter"].count_exceptions(LookupError):
            raise KeyError("k")

    def value(name: str) -> float | None:
        return registry.get_sample_value(name)

    assert ours["hist"].get_count() == value("work_seconds_count") == 5
    assert ours["gauge"].get() == value("busy") == 0
    assert ours["counter"].get() == value("failures_total") == 3
