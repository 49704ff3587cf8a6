"""register_engine_metrics(multiprocess_dir=...): a prometheus_client multiprocess directory,
written by real processes, merged in Rust sample for sample as prometheus_client's
MultiProcessCollector merges it."""

import math
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from conftest import samples

MODES = [
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
]

# Label values the text format must escape, and one the keys' JSON escapes.
ROUTES = ['say "hi"', "back\\slash", "new\nline", "caf\u00e9"]

# Each worker fills every kind of metric in multiprocess mode, then prints "ready" and either
# exits ("exit") or waits for its stdin to close ("stay"). Values are sums of powers of two, so
# that any order of addition gives the same floats.
WORKER = f"""
import sys
from prometheus_client import Counter, Gauge, Histogram, Summary

index, then = int(sys.argv[1]), sys.argv[2]
routes = {ROUTES!r}
requests = Counter("mp_requests", "Requests, by route.", ["route"])
Counter("mp_started", "Processes started.").inc()
Counter("mp_never", "Never incremented.", ["route"])
latency = Histogram(
    "mp_latency_seconds", "Latency \\\\ with a backslash.", ["route"], buckets=[0.25, 1.0, 4.0]
)
size = Summary("mp_size_bytes", "Sizes.\\nSecond line.", ["route"])
for i, route in enumerate(routes):
    if (index + i) % 3 == 0:
        continue
    requests.labels(route).inc(index + i + 0.5)
    for seconds in [0.125, 0.5, 2.0, 8.0][: 1 + (index + i) % 4]:
        latency.labels(route).observe(seconds)
    size.labels(route).observe(1024 * (index + 1))
for mode in {MODES!r}:
    gauge = Gauge(
        "mp_gauge_" + mode, "Gauge of mode " + mode + ".", ["kind"], multiprocess_mode=mode
    )
    gauge.labels("a").set(index * 1.5 - 2)
    if index % 2:
        gauge.labels("odd").set(100 - index)
print("ready", flush=True)
if then == "stay":
    sys.stdin.read()
"""


class Workers:
    """Worker processes writing to one multiprocess directory."""

    def __init__(self, directory):
        self.directory = directory
        self.procs = []

    def start(self, then):
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(self.directory)}
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(len(self.procs)), then],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "a worker did not get ready within 60 s"
        assert proc.stdout.readline() == "ready\n"
        return proc

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.stdin.close()
                proc.wait(timeout=60)
            proc.stdout.close()
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()


@pytest.fixture
def workers(tmp_path):
    directory = tmp_path / "multiproc"
    directory.mkdir()
    started = Workers(directory)
    yield started
    started.close()


def reference(directory) -> str:
    """What prometheus_client serves for the directory."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry).decode()


def engine_samples(page: str, hierarchy: dict[str, str]):
    """The samples of the `mp_*` families of `page`, without the hierarchy labels."""
    out = {}
    for (name, pairs), value in samples(page).items():
        if not name.startswith("mp_"):
            continue
        for label, expected in hierarchy.items():
            assert (label, expected) in pairs, f"{name}{pairs} lacks {label}"
        kept = tuple(p for p in pairs if p[0] not in hierarchy)
        out[(name, kept)] = value
    return out


def assert_same(ours, theirs):
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert math.isclose(ours[key], value, rel_tol=1e-12), (key, ours[key], value)


def test_merge_equals_the_multiprocess_collector(drt, workers):
    exited = [workers.start("exit") for _ in range(2)]
    killed = [workers.start("stay") for _ in range(2)]
    alive = [workers.start("stay") for _ in range(4)]
    for proc in exited:
        assert proc.wait(timeout=60) == 0
    for proc in killed:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

    ns = drt.namespace("mp")
    ns.metrics.register_engine_metrics(multiprocess_dir=workers.directory)
    ours = engine_samples(ns.metrics.prometheus_expfmt(), {"dynamo_namespace": "mp"})

    # prometheus_client shows live gauges of dead processes until told they are gone.
    for proc in exited + killed:
        mark_process_dead(proc.pid, path=str(workers.directory))
    theirs = samples(reference(workers.directory))

    assert_same(ours, theirs)
    # The checks cover what they mean to: every mode, the per-process pids, the escapes.
    names = {name for name, _ in theirs}
    for mode in MODES:
        assert f"mp_gauge_{mode}" in names
    live_pids = {str(p.pid) for p in alive}
    all_pids = {str(p.pid) for p in exited + killed + alive}

    def pids(name):
        return {v for (n, pairs) in theirs if n == name for k, v in pairs if k == "pid"}

    assert pids("mp_gauge_liveall") == live_pids
    assert pids("mp_gauge_all") == all_pids
    routes = {v for (n, pairs) in theirs if n == "mp_requests_total" for k, v in pairs}
    assert routes == set(ROUTES)
    assert ("mp_started_total", ()) in theirs


def test_the_environment_directory_is_read_without_a_registry(drt, workers, monkeypatch):
    workers.start("stay")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(workers.directory))
    ns = drt.namespace("env")
    ns.metrics.register_engine_metrics(include=["mp_requests", "mp_gauge_sum"])
    ours = engine_samples(ns.metrics.prometheus_expfmt(), {"dynamo_namespace": "env"})
    theirs = {
        key: value
        for key, value in samples(reference(workers.directory)).items()
        if key[0].startswith(("mp_requests", "mp_gauge_sum"))
    }
    assert theirs
    assert_same(ours, theirs)


def test_bad_files_are_skipped_and_counted_and_the_rest_is_served(drt, workers):
    worker = workers.start("exit")
    worker.wait(timeout=60)
    mark_process_dead(worker.pid, path=str(workers.directory))
    good = sorted(workers.directory.glob("counter_*.db"))[0].read_bytes()
    (workers.directory / "counter_999999999.db").write_bytes(good[:100])
    (workers.directory / "histogram_999999998.db").write_bytes(b"\xff" * 64)
    (workers.directory / "stray.db").write_bytes(b"")
    expected = samples(reference_without(workers.directory, ["counter_999999999.db"]))
    ns = drt.namespace("bad")
    ns.metrics.register_engine_metrics(multiprocess_dir=str(workers.directory))
    ours = engine_samples(ns.metrics.prometheus_expfmt(), {"dynamo_namespace": "bad"})
    # The cut counter file adds what it holds whole, if anything: the other kinds are as
    # prometheus_client serves them without the bad files.
    untouched = ("mp_gauge", "mp_latency", "mp_size")
    assert_same(
        {k: v for k, v in ours.items() if k[0].startswith(untouched)},
        {k: v for k, v in expected.items() if k[0].startswith(untouched)},
    )
    page = drt.metrics.prometheus_expfmt()
    counts = {
        dict(pairs)["reason"]: value
        for (name, pairs), value in samples(page).items()
        if name == "dynamo_metrics_multiprocess_files_skipped_total"
    }
    # Counted at each read: the level's scrape and the whole page's.
    assert counts == {"corrupt": 4.0, "unrecognized": 2.0}


def reference_without(directory, names) -> str:
    """What prometheus_client serves for the directory without the files `names` (which it
    cannot read), and without `stray.db` and the corrupt histogram file."""
    registry = CollectorRegistry()
    files = [
        str(f)
        for f in directory.glob("*.db")
        if f.name not in names and f.name not in ("stray.db", "histogram_999999998.db")
    ]

    class Files:
        def collect(self):
            return MultiProcessCollector.merge(files, accumulate=True)

    registry.register(Files())
    return generate_latest(registry).decode()


GROWER = """
import sys
from prometheus_client import Counter

grow = Counter("mp_grow", "Series made one after the other.", ["n"])
print("ready", flush=True)
for n in range(int(sys.argv[1])):
    grow.labels(str(n)).inc()
"""


def test_files_being_written_never_spoil_the_page(drt, tmp_path):
    """A process adds series (its file grows past its first allocation, several times) while
    the directory is scraped: every page parses, and the series only ever grow in number."""
    directory = tmp_path / "growing"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    grower = subprocess.Popen(
        [sys.executable, "-c", GROWER, "20000"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert grower.stdout.readline() == "ready\n"
        ns = drt.namespace("grow")
        ns.metrics.register_engine_metrics(multiprocess_dir=directory)
        seen = [0]
        for _ in range(200):
            running = grower.poll() is None
            page = ns.metrics.prometheus_expfmt()
            count = sum(1 for name, _ in samples(page) if name == "mp_grow_total")
            assert count >= seen[-1]
            seen.append(count)
            if not running:
                break
        assert grower.wait(timeout=60) == 0
    finally:
        if grower.poll() is None:
            grower.kill()
            grower.wait(timeout=60)
        grower.stdout.close()
    page = ns.metrics.prometheus_expfmt()
    assert sum(1 for name, _ in samples(page) if name == "mp_grow_total") == 20000
    root = drt.metrics.prometheus_expfmt()
    assert "dynamo_metrics_multiprocess_files_skipped_total" not in root


def test_a_registry_and_a_directory_together_are_refused(drt, tmp_path):
    with pytest.raises(TypeError, match="not both"):
        drt.namespace("x").metrics.register_engine_metrics(
            CollectorRegistry(), multiprocess_dir=tmp_path
        )


def db_file(entries) -> bytes:
    """A file as prometheus_client writes it: the bytes in use, padding, then each entry's key
    length, key (padded with spaces to 8-byte alignment), value and timestamp."""
    body = b""
    for key, value in entries:
        encoded = key.encode()
        padded = encoded + b" " * (8 - (len(encoded) + 4) % 8)
        body += struct.pack("i", len(encoded)) + padded + struct.pack("dd", value, 0.0)
    return struct.pack("i", 8 + len(body)) + b"\0" * 4 + body


# Pids above the largest Linux gives (2**22): no such process exists.
GONE = 5_000_000
# The bound the guide states for a scrape of 10,000 files of processes gone: generous for a
# loaded 2-core machine, where a scrape takes about 50 ms.
TEN_THOUSAND_FILES_BOUND_S = 1.0


def test_ten_thousand_files_of_processes_gone(drt, tmp_path):
    """5,000 processes gone left a counter file and a `livesum` gauge file each; some counter
    files are cut short, and some are removed while the directory is scraped: every page
    parses, the live gauges of the processes gone are left out, and each scrape takes less
    than the bound."""
    directory = tmp_path / "gone"
    directory.mkdir()
    counter_key = mmap_key("mp_gone", "mp_gone_total", [], [], "Done.")
    counter = db_file([(counter_key, 1.0)])
    labelled_key = mmap_key("mp_gone", "mp_gone_total", ["x"], ["1"], "Done.")
    cut = db_file([(counter_key, 1.0), (labelled_key, 1.0)])
    gauge = db_file([(mmap_key("mp_running", "mp_running", [], [], "Running."), 1.0)])
    for i in range(5000):
        pid = GONE + i
        # A cut file keeps its first entry whole.
        data = cut[: len(cut) // 2] if i % 100 == 0 else counter
        (directory / f"counter_{pid}.db").write_bytes(data)
        (directory / f"gauge_livesum_{pid}.db").write_bytes(gauge)
    doomed = [directory / f"counter_{GONE + i}.db" for i in range(1, 5000, 50)]

    ns = drt.namespace("gone")
    ns.metrics.register_engine_metrics(multiprocess_dir=directory)
    # The scrape does not hold the GIL: the thread removes files while it reads them.
    remover = threading.Thread(target=lambda: [path.unlink() for path in doomed])
    start = time.perf_counter()
    remover.start()
    during = ns.metrics.prometheus_expfmt()
    took = [time.perf_counter() - start]
    remover.join()
    start = time.perf_counter()
    after = ns.metrics.prometheus_expfmt()
    took.append(time.perf_counter() - start)

    assert max(took) < TEN_THOUSAND_FILES_BOUND_S, took
    for page, low in [(during, 5000 - len(doomed)), (after, 5000 - len(doomed))]:
        families = {f.name: f for f in text_string_to_metric_families(page)}
        assert "mp_running" not in families
        (sample,) = families["mp_gone"].samples
        high = 5000 if page is during else low
        assert low <= sample.value <= high, (sample.value, low, high)
    counts = {
        dict(pairs)["reason"]: value
        for (name, pairs), value in samples(drt.metrics.prometheus_expfmt()).items()
        if name == "dynamo_metrics_multiprocess_files_skipped_total"
    }
    # The 50 cut files at each of the three reads; the removed files only if a read listed
    # them before they went.
    assert counts["corrupt"] == 150.0
    assert counts.get("unreadable", 0.0) <= len(doomed)
