"""Runs server_with_loop.py with the interpreter running this (the fresh venv's, away from the
source tree), scrapes it once and stops it with SIGTERM; run by test_wheel.sh."""

import os
import re
import signal
import subprocess
import sys
import urllib.request
from importlib.metadata import distributions

import dynamo

venv = os.path.realpath(sys.prefix)
assert os.path.realpath(dynamo.__file__).startswith(venv), dynamo.__file__
installed = sorted(d.metadata["Name"].lower() for d in distributions())
assert [n for n in installed if n not in {"pip", "setuptools"}] == ["dynamo-runtime"], installed

env = {k: v for k, v in os.environ.items() if not k.startswith("DYN_")}
env.update(DYN_SYSTEM_PORT="0", DYN_SYSTEM_HOST="127.0.0.1")
server = subprocess.Popen(
    [sys.executable, "server_with_loop.py"], env=env, stdout=subprocess.PIPE, text=True
)
try:
    line = server.stdout.readline()
    match = re.search(r"listening on ([\d.]+):(\d+)", line)
    assert match, f"no address in {line!r}"
    with urllib.request.urlopen(f"http://{match[1]}:{match[2]}/metrics", timeout=30) as response:
        assert response.status == 200
        page = response.read().decode()
    assert "# TYPE dynamo_component_total_slots gauge\n" in page, page
    slots = r'^dynamo_component_total_slots\{[^}]*dynamo_endpoint="generate"[^}]*\} \d+$'
    assert re.search(slots, page, re.M), page
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
finally:
    if server.poll() is None:
        server.kill()
print(f"the wheel installs alone and serves: {len(page.splitlines())} lines scraped")
