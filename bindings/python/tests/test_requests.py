"""endpoint.track_request() and @endpoint.track_requests: every way a request ends (the end of
the block, finish(), an exception, asyncio cancellation, a generator exhausted or closed early,
the guard collected) counts it once and leaves nothing in flight.

The request metrics get one duration bucket of 60 s, so every request lands in it whatever
the machine's speed; the ``_sum`` values are checked against bounds and masked, and the whole
text is compared.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading

import pytest

from conftest import EP_LABELS, mask_sums
from dynamo.prometheus_metrics import MetricsError
from dynamo.prometheus_names import work_handler as wh
from dynamo.runtime import RequestGuard

LABELS = ",".join(f'{k}="{v}"' for k, v in sorted(EP_LABELS.items()))


def request_text(
    *,
    started: int,
    ended: int | None = None,
    errors: dict[str, int] | None = None,
    cancelled: int = 0,
    request_bytes: int = 0,
    response_bytes: int = 0,
    first_responses: int | None = None,
    labels: str = LABELS,
) -> str:
    """The text of an endpoint's request metrics with one 60 s bucket, sums masked."""
    ended = started if ended is None else ended

    def scalar(name: str, kind: str, help_text: str, value: int) -> list[str]:
        full = f"dynamo_component_{name}"
        return [
            f"# HELP {full} {help_text}",
            f"# TYPE {full} {kind}",
            f"{full}{{{labels}}} {value}",
        ]

    def histogram(name: str, help_text: str, count: int) -> list[str]:
        full = f"dynamo_component_{name}"
        return [
            f"# HELP {full} {help_text}",
            f"# TYPE {full} histogram",
            f'{full}_bucket{{{labels},le="60"}} {count}',
            f'{full}_bucket{{{labels},le="+Inf"}} {count}',
            f"{full}_sum{{{labels}}} SUM",
            f"{full}_count{{{labels}}} {count}",
        ]

    lines = scalar(wh.CANCELLATION_TOTAL, "counter", wh.CANCELLATION_TOTAL_HELP, cancelled)
    if errors:
        full = f"dynamo_component_{wh.ERRORS_TOTAL}"
        lines += [f"# HELP {full} {wh.ERRORS_TOTAL_HELP}", f"# TYPE {full} counter"]
        lines += [f'{full}{{{labels},error_type="{t}"}} {n}' for t, n in sorted(errors.items())]
    lines += scalar(wh.INFLIGHT_REQUESTS, "gauge", wh.INFLIGHT_REQUESTS_HELP, started - ended)
    lines += scalar(wh.REQUEST_BYTES_TOTAL, "counter", wh.REQUEST_BYTES_TOTAL_HELP, request_bytes)
    lines += histogram(wh.REQUEST_DURATION_SECONDS, wh.REQUEST_DURATION_SECONDS_HELP, ended)
    lines += scalar(wh.REQUESTS_TOTAL, "counter", wh.REQUESTS_TOTAL_HELP, started)
    lines += scalar(
        wh.RESPONSE_BYTES_TOTAL, "counter", wh.RESPONSE_BYTES_TOTAL_HELP, response_bytes
    )
    if first_responses is not None:
        lines += histogram(
            wh.TIME_TO_FIRST_RESPONSE_SECONDS,
            wh.TIME_TO_FIRST_RESPONSE_SECONDS_HELP,
            first_responses,
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def tracked(endpoint):
    """The endpoint, its request metrics created with one 60 s bucket."""
    endpoint.create_request_metrics(duration_buckets=[60.0], first_response_buckets=[60.0])
    return endpoint


def scrape(endpoint) -> str:
    return mask_sums(endpoint.metrics.prometheus_expfmt())


def test_a_with_block_counts_the_request_in_flight_and_ends_it(tracked):
    with tracked.track_request() as request:
        assert isinstance(request, RequestGuard)
        assert scrape(tracked) == request_text(started=1, ended=0)
    assert scrape(tracked) == request_text(started=1)
    assert repr(request) == "<RequestGuard ended>"


def test_an_exception_leaving_the_block_counts_an_error_named_after_its_class(tracked):
    class QuotaExceededError(Exception):
        pass

    with pytest.raises(ValueError), tracked.track_request():
        raise ValueError("bad request")
    with pytest.raises(QuotaExceededError), tracked.track_request():
        raise QuotaExceededError
    with pytest.raises(KeyError), tracked.track_request(error_type="generate"):
        raise KeyError("x")
    assert scrape(tracked) == request_text(
        started=3, errors={"ValueError": 1, "QuotaExceededError": 1, "generate": 1}
    )


def test_an_error_or_cancellation_counted_inside_is_not_counted_again(tracked):
    with pytest.raises(RuntimeError), tracked.track_request() as request:
        request.error("validation")
        request.error("validation")
        raise RuntimeError("after the error")
    with pytest.raises(RuntimeError), tracked.track_request() as request:
        request.cancelled()
        raise RuntimeError("after the cancellation")
    assert scrape(tracked) == request_text(started=2, errors={"validation": 2}, cancelled=1)


def test_finish_ends_the_request_once(tracked):
    request = tracked.track_request()
    seconds = request.finish()
    assert 0 <= seconds < 60
    assert request.finish() == 0.0
    with request, pytest.raises(ValueError):
        raise ValueError("after the end: not counted")
    request.error("late")
    assert scrape(tracked) == request_text(started=1)


def test_bytes_cancellation_and_first_response(tracked):
    with tracked.track_request() as request:
        request.request_bytes(100)
        request.first_response()
        request.first_response()
        request.response_bytes(20)
        request.response_bytes(22)
        request.cancelled()
        request.cancelled()
    with pytest.raises(OverflowError):
        tracked.track_request().request_bytes(-1)
    assert scrape(tracked) == request_text(
        started=2, cancelled=1, request_bytes=100, response_bytes=42, first_responses=1
    )


def test_a_guard_collected_without_a_block_ends_its_request(tracked):
    tracked.track_request()
    gc.collect()
    assert scrape(tracked) == request_text(started=1)


def test_the_decorator_tracks_each_call_of_a_function(tracked):
    @tracked.track_requests
    def handle(x: int) -> int:
        """Doubles, refusing negatives."""
        if x < 0:
            raise ValueError(x)
        return 2 * x

    @tracked.track_requests(error_type="generate")
    def generate() -> None:
        raise RuntimeError("model failed")

    assert handle(21) == 42
    assert handle.__name__ == "handle" and handle.__doc__ == "Doubles, refusing negatives."
    with pytest.raises(ValueError):
        handle(-1)
    with pytest.raises(RuntimeError):
        generate()
    assert scrape(tracked) == request_text(started=3, errors={"ValueError": 1, "generate": 1})


def test_the_decorator_tracks_coroutines_until_they_return_or_are_cancelled(tracked):
    started = asyncio.Event()

    @tracked.track_requests
    async def handle(x: int) -> int:
        await asyncio.sleep(0)
        if x < 0:
            raise ValueError(x)
        return 2 * x

    @tracked.track_requests
    async def slow() -> None:
        started.set()
        await asyncio.Event().wait()  # until cancelled

    async def main() -> None:
        assert await handle(4) == 8
        with pytest.raises(ValueError):
            await handle(-4)
        task = asyncio.create_task(slow())
        await started.wait()
        assert scrape(tracked) == request_text(started=3, ended=2, errors={"ValueError": 1})
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Timed out by asyncio.wait_for: cancelled too.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(slow(), timeout=0.01)

    asyncio.run(main())
    assert scrape(tracked) == request_text(started=4, errors={"ValueError": 1}, cancelled=2)


def test_the_decorator_tracks_a_generator_until_exhausted_or_closed(tracked):
    @tracked.track_requests
    def tokens(n: int):
        for i in range(n):
            yield f"token{i}"

    assert list(tokens(3)) == ["token0", "token1", "token2"]
    stream = tokens(3)
    assert next(stream) == "token0"
    assert scrape(tracked) == request_text(started=2, ended=1)
    stream.close()  # the consumer stopped early
    for _ in tokens(5):
        break  # the loop drops the generator, which closes it
    assert scrape(tracked) == request_text(started=3, cancelled=2)


def test_the_decorator_tracks_an_async_generator_until_exhausted_or_closed(tracked):
    @tracked.track_requests
    async def tokens(n: int, fail_at: int | None = None):
        for i in range(n):
            if i == fail_at:
                raise ConnectionError("engine went away")
            await asyncio.sleep(0)
            yield i

    async def main() -> None:
        assert [t async for t in tokens(3)] == [0, 1, 2]
        stream = tokens(3)
        assert await stream.__anext__() == 0
        assert scrape(tracked) == request_text(started=2, ended=1)
        await stream.aclose()
        with pytest.raises(ConnectionError):
            async for _ in tokens(3, fail_at=1):
                pass

    asyncio.run(main())
    assert scrape(tracked) == request_text(started=3, cancelled=1, errors={"ConnectionError": 1})


def test_options_before_the_first_request_and_their_errors(endpoint, drt):
    endpoint.create_request_metrics(
        labels=[("model", "llama")], duration_buckets=[60.0], first_response_buckets=[60.0]
    )
    with endpoint.track_request():
        pass
    assert scrape(endpoint) == request_text(started=1, labels=f'{LABELS},model="llama"')
    with pytest.raises(MetricsError, match="exist already"):
        endpoint.create_request_metrics()
    other = drt.namespace("ns").component("comp").endpoint("other")
    with pytest.raises(ValueError, match=r"invalid buckets \[1\.0, 0\.5\]"):
        other.create_request_metrics(duration_buckets=[1.0, 0.5])
    with pytest.raises(ValueError, match='label "error_type" is given more than once'):
        other.create_request_metrics(labels={"error_type": "x"})
    with pytest.raises(TypeError):
        other.create_request_metrics(labels="model")
    assert other.metrics.prometheus_expfmt() == ""
    other.create_request_metrics()


def test_a_conflicting_metric_is_logged_once_and_nothing_is_counted(endpoint, caplog):
    endpoint.metrics.create_counter("requests_total", "Total requests").inc()
    before = endpoint.metrics.prometheus_expfmt()
    with caplog.at_level(logging.ERROR, logger="dynamo.runtime"):
        for _ in range(3):
            with endpoint.track_request() as request:
                request.error("generate")
    refusals = [r for r in caplog.records if r.name == "dynamo.runtime"]
    assert len(refusals) == 1, caplog.text
    assert 'cannot create the request metrics of endpoint "ns/comp/ep"' in refusals[0].message
    assert "requests at this endpoint are not counted" in refusals[0].message
    assert endpoint.metrics.prometheus_expfmt() == before
    with pytest.raises(MetricsError, match="is already registered with help"):
        endpoint.create_request_metrics()


def test_many_threads_and_tasks_count_every_request_once(tracked):
    threads, per_thread, tasks = 8, 500, 200
    barrier = threading.Barrier(threads)

    @tracked.track_requests
    def handle(i: int) -> None:
        if i % 10 == 0:
            raise ValueError(i)

    def worker() -> None:
        barrier.wait()
        for i in range(per_thread):
            try:
                handle(i)
            except ValueError:
                pass

    @tracked.track_requests
    async def async_handle(i: int) -> None:
        await asyncio.sleep(0)
        if i % 4 == 0:
            await asyncio.Event().wait()  # cancelled below

    async def main() -> None:
        running = [asyncio.create_task(async_handle(i)) for i in range(tasks)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        for task in running:
            if not task.done():
                task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    asyncio.run(main())
    for thread in pool:
        thread.join()
    assert scrape(tracked) == request_text(
        started=threads * per_thread + tasks,
        errors={"ValueError": threads * per_thread // 10},
        cancelled=tasks // 4,
    )
