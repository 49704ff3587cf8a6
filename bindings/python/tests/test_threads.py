"""Metric objects shared between Python threads: updates from a background thread show in the
scrape, and concurrent increments are never lost."""

import threading

from conftest import assert_samples, key, labels

THREADS = 8
PER_THREAD = 20_000


def run_threads(target, count=THREADS):
    start = threading.Barrier(count)

    def worker(i):
        start.wait()
        target(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_several_threads_incrementing_one_counter_give_the_exact_total(endpoint):
    c = endpoint.metrics.create_intcounter("requests_total", "Requests")
    f = endpoint.metrics.create_counter("bytes_total", "Bytes")
    g = endpoint.metrics.create_intgauge("balance", "Balance")

    def work(i):
        for _ in range(PER_THREAD):
            c.inc()
            f.inc_by(0.5)
            g.inc()
            g.dec()
            g.add(2)

    run_threads(work)
    total = THREADS * PER_THREAD
    assert c.get() == total
    assert f.get() == total * 0.5
    assert g.get() == 2 * total
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {
            key("dynamo_component_requests_total", labels()): total,
            key("dynamo_component_bytes_total", labels()): total * 0.5,
            key("dynamo_component_balance", labels()): 2 * total,
        },
    )


def test_several_threads_on_one_vec_give_exact_totals(endpoint):
    v = endpoint.metrics.create_intcountervec("requests_total", "Requests", ["worker", "shared"])
    h = endpoint.metrics.create_histogramvec("latency_seconds", "Latency", ["shared"], buckets=[1])

    def work(i):
        own = {"worker": str(i), "shared": "yes"}
        common = {"worker": "all", "shared": "yes"}
        for _ in range(PER_THREAD // 4):
            v.inc(own)
            v.inc(common)
            h.observe(0.5, {"shared": "yes"})

    run_threads(work)
    n = PER_THREAD // 4
    assert v.get({"worker": "all", "shared": "yes"}) == THREADS * n
    for i in range(THREADS):
        assert v.get({"worker": str(i), "shared": "yes"}) == n
    assert h.get_count({"shared": "yes"}) == THREADS * n
    assert h.get_sum({"shared": "yes"}) == THREADS * n * 0.5


def test_updates_from_a_background_thread_show_in_the_scrape(endpoint):
    gauge = endpoint.metrics.create_gauge("active_connections", "Active connections")
    ticks = endpoint.metrics.create_intcounter("ticks_total", "Ticks")
    step = threading.Event()
    done = threading.Event()
    stop = threading.Event()

    def update_loop():
        n = 0
        while not stop.is_set():
            if step.wait(timeout=0.1):
                step.clear()
                n += 1
                gauge.set(n * 1.5)
                ticks.inc()
                done.set()

    thread = threading.Thread(target=update_loop, daemon=True)
    thread.start()
    try:
        for n in range(1, 4):
            step.set()
            assert done.wait(timeout=10)
            done.clear()
            assert_samples(
                endpoint.metrics.prometheus_expfmt(),
                {
                    key("dynamo_component_active_connections", labels()): n * 1.5,
                    key("dynamo_component_ticks_total", labels()): n,
                },
            )
    finally:
        stop.set()
        thread.join()


def test_scrapes_while_threads_update(endpoint):
    c = endpoint.metrics.create_intcountervec("requests_total", "Requests", ["worker"])
    seen = []

    def work(i):
        if i == 0:
            last = -1
            for _ in range(50):
                text = endpoint.metrics.prometheus_expfmt()
                values = [
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith("dynamo_component_requests_total")
                ]
                total = sum(values)
                assert total >= last  # counters never go back
                last = total
            seen.append(last)
        else:
            for _ in range(PER_THREAD // 4):
                c.inc({"worker": str(i)})

    run_threads(work, count=4)
    assert sum(c.get({"worker": str(i)}) for i in range(1, 4)) == 3 * (PER_THREAD // 4)
    assert seen


def test_a_callback_and_a_background_thread_together(endpoint):
    gauge = endpoint.metrics.create_intgauge("g", "G")
    counter = endpoint.metrics.create_intcounter("bg_total", "Background")
    endpoint.metrics.register_callback(lambda: gauge.set(counter.get()))
    stop = threading.Event()

    def background():
        while not stop.is_set():
            counter.inc()

    thread = threading.Thread(target=background)
    thread.start()
    try:
        for _ in range(20):
            text = endpoint.metrics.prometheus_expfmt()
            assert "dynamo_component_g{" in text
    finally:
        stop.set()
        thread.join()
    assert gauge.get() <= counter.get()
