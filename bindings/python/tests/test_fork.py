"""os.fork() while other threads scrape and create series: the children neither hang nor
panic, their metrics work, they do not inherit the server, and they exit cleanly."""

import os
import subprocess
import sys

FORKS = 20
CHILD_TIMEOUT = 20

# Runs in a fresh interpreter, so the forked children start from a plain process.
SCRIPT = r"""
import faulthandler, os, signal, subprocess, sys, threading, time, urllib.request
from dynamo.runtime import DistributedRuntime

FORKS, CHILD_TIMEOUT = int(sys.argv[1]), float(sys.argv[2])
LIVE = 2000
drt = DistributedRuntime()
host, port = drt.system_status_server_info()
ep = drt.namespace("ns").component("comp").endpoint("ep")
by_id = ep.metrics.create_intcountervec("made_total", "Series made", ["id"])
ep.metrics.register_callback(lambda: by_id.inc({"id": "callback"}))
stop = threading.Event()
scrapes = [0]
made = [0]

def scrape_over_http():
    while not stop.is_set():
        urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read()
        scrapes[0] += 1

def scrape_in_process():
    while not stop.is_set():
        drt.metrics.prometheus_expfmt()

def make_series():
    # Series are made and ended all the time; at most LIVE of them at once, so a page
    # stays small and a scrape's time does not grow with the test's.
    n = 0
    while not stop.is_set():
        by_id.inc({"id": f"parent-{n}"})
        if n >= LIVE:
            by_id.remove({"id": f"parent-{n - LIVE}"})
        n += 1
        made[0] = n

threads = [threading.Thread(target=f, daemon=True)
           for f in (scrape_over_http, scrape_over_http, scrape_in_process, make_series)]
for t in threads:
    t.start()
while scrapes[0] < 5:
    time.sleep(0.01)

def print_stacks(pid):
    os.kill(pid, signal.SIGUSR1)
    try:
        native = subprocess.run(
            ["gdb", "-batch", "-iex", "set auto-load off", "-p", str(pid),
             "-ex", "thread apply all bt"],
            capture_output=True, text=True, timeout=60,
        )
        print(f"child {pid} hung; its threads:\n{native.stdout}{native.stderr}", file=sys.stderr)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"child {pid} hung; no native stacks: {error}", file=sys.stderr)

hung = failed = 0
for i in range(FORKS):
    time.sleep(0.02)
    pid = os.fork()
    if pid == 0:
        # A watchdog: a child that hangs dies of SIGALRM and is counted. Before that the
        # parent asks it for its Python stacks (SIGUSR1) and reads its native ones.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        signal.alarm(int(CHILD_TIMEOUT) + 10)
        by_id.inc({"id": f"child-{i}"})
        text = drt.metrics.prometheus_expfmt()
        assert f'id="child-{i}"' in text, text[-500:]
        assert 'id="callback"' in text
        assert drt.system_status_server_info() is None, "the child inherited the server"
        drt.shutdown()
        sys.exit(0)
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            print_stacks(pid)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = -1
            break
        time.sleep(0.01)
    if status == -1 or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM):
        hung += 1
    elif not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        failed += 1

stop.set()
for t in threads:
    t.join(timeout=20)
# The parent still serves: the series it keeps are there, the ones it removed are not.
body = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read().decode()
assert f'id="parent-{made[0] - 1}"' in body and f'id="parent-{made[0] - LIVE}"' in body
assert f'id="parent-{made[0] - LIVE - 1}"' not in body
print(f"forks={FORKS} hung={hung} failed={failed} scrapes={scrapes[0]}")
drt.shutdown()
"""


def test_forks_during_scrapes_neither_hang_nor_panic():
    env = {**os.environ, "DYN_SYSTEM_PORT": "0", "DYN_SYSTEM_HOST": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(FORKS), str(CHILD_TIMEOUT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=FORKS * (CHILD_TIMEOUT + 5) + 60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"forks={FORKS} hung=0 failed=0" in result.stdout, output
    assert "panicked" not in result.stderr, output
    assert "Traceback" not in result.stderr, output


def test_a_forked_child_can_serve_on_its_own_port():
    script = r"""
import os, sys, urllib.request
from dynamo.runtime import DistributedRuntime

parent = DistributedRuntime()
parent_port = parent.system_status_server_info()[1]
pid = os.fork()
if pid == 0:
    child = DistributedRuntime()
    host, port = child.system_status_server_info()
    assert port != parent_port
    child.metrics.create_intgauge("child_gauge", "In the child").set(3)
    body = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read().decode()
    assert "dynamo_component_child_gauge 3" in body, body
    child.shutdown()
    sys.exit(0)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
body = urllib.request.urlopen(f"http://127.0.0.1:{parent_port}/metrics", timeout=10).read()
assert b"child_gauge" not in body
print("ok")
"""
    env = {**os.environ, "DYN_SYSTEM_PORT": "0", "DYN_SYSTEM_HOST": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stdout + result.stderr


def test_a_forked_child_runs_health_checks_of_its_own_and_shuts_down():
    script = r"""
import os, re, signal, sys, time
from dynamo.runtime import DistributedRuntime

def probes(runtime, endpoint):
    text = runtime.metrics.prometheus_expfmt()
    pattern = rf'dynamo_metrics_health_checks_total{{endpoint="{endpoint}",result="success"}} (\d+)'
    found = re.search(pattern, text)
    return int(found.group(1)) if found else 0

def await_probe(runtime, endpoint, above=0):
    deadline = time.monotonic() + 10
    while probes(runtime, endpoint) <= above:
        assert time.monotonic() < deadline, f"{endpoint} was never probed"
        time.sleep(0.01)

drt = DistributedRuntime(process_metrics=False)
comp = drt.namespace("ns").component("comp")
comp.endpoint("generate").register_health_check(lambda payload: True, {"ping": 1})
await_probe(drt, "generate")
pid = os.fork()
if pid == 0:
    signal.alarm(20)  # a child that hangs dies of SIGALRM
    comp.endpoint("embed").register_health_check(lambda payload: True, {"ping": 2})
    await_probe(drt, "embed")
    await_probe(drt, "generate", probes(drt, "generate"))
    drt.shutdown()
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
await_probe(drt, "generate", probes(drt, "generate"))
assert probes(drt, "embed") == 0
drt.shutdown()
print("ok")
"""
    env = {
        **os.environ,
        "DYN_SYSTEM_PORT": "0",
        "DYN_SYSTEM_HOST": "127.0.0.1",
        "DYN_HEALTH_CHECK_ENABLED": "true",
        "DYN_CANARY_WAIT_TIME": "0.05",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stdout + result.stderr


def test_fork_hooks_of_other_modules_may_record_metrics():
    # Hooks registered before the package's run after its `before` hook (which closes the
    # fork gate) and before its `after_in_parent` one: they make series with the gate closed.
    script = r"""
import os
made = {}

def record(where):
    if "vec" in made:
        made["vec"].inc({"hook": where})

os.register_at_fork(
    before=lambda: record("before"),
    after_in_parent=lambda: record("after_in_parent"),
    after_in_child=lambda: record("after_in_child"),
)
from dynamo.runtime import DistributedRuntime

drt = DistributedRuntime(process_metrics=False)
made["vec"] = drt.metrics.create_intcountervec("hook_calls_total", "Hook calls", ["hook"])
pid = os.fork()
if pid == 0:
    text = drt.metrics.prometheus_expfmt()
    assert 'hook="after_in_child"} 1' in text, text
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
text = drt.metrics.prometheus_expfmt()
for hook in ("before", "after_in_parent"):
    assert f'hook="{hook}"}} 1' in text, text
drt.shutdown()
print("ok")
"""
    env = {**os.environ, "DYN_SYSTEM_PORT": "0", "DYN_SYSTEM_HOST": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stdout + result.stderr


def test_a_forked_child_shuts_down_a_runtime_that_exports_over_otlp():
    # The exporter's thread stays in the parent: the child's shutdown neither joins it nor
    # asks it to flush.
    script = r"""
import os, signal, time
from dynamo.runtime import DistributedRuntime

drt = DistributedRuntime(process_metrics=False)
drt.metrics.create_intcounter("jobs_total", "Jobs").inc()
pid = os.fork()
if pid == 0:
    signal.alarm(10)  # a child that hangs dies of SIGALRM
    started = time.monotonic()
    drt.shutdown()
    os._exit(0 if time.monotonic() - started < 5 else 3)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
drt.shutdown()
print("ok")
"""
    env = {
        **os.environ,
        "DYN_SYSTEM_PORT": "0",
        "DYN_SYSTEM_HOST": "127.0.0.1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:9/v1/metrics",
        "OTEL_METRIC_EXPORT_INTERVAL": "100",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stdout + result.stderr
