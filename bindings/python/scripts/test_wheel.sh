#!/usr/bin/env bash
# Installs the package as a user would, into new, empty virtual environments: from source
# (`pip install ./bindings/python`, which fetches maturin as the build backend), and from a
# wheel built by `maturin build --release`, installed alone. From the wheel's environment, away
# from the source tree, the example server must answer one scrape of /metrics and exit 0 on
# SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# From source: pip builds the package with its build backend.
"$python" -m venv "$work/source"
"$work/source/bin/pip" install --quiet --disable-pip-version-check .
(cd "$work" && source/bin/python -c 'from dynamo.runtime import DistributedRuntime; DistributedRuntime().shutdown()')

# maturin from a venv of its own, so the wheel's venv below holds nothing but the wheel.
"$python" -m venv "$work/build"
"$work/build/bin/pip" install --quiet --disable-pip-version-check maturin
"$work/build/bin/maturin" build --release --quiet --out "$work/wheels"
wheels=("$work"/wheels/*.whl)
[ "${#wheels[@]}" = 1 ] || { echo "expected one wheel, got: ${wheels[*]}" >&2; exit 1; }

"$python" -m venv "$work/fresh"
"$work/fresh/bin/pip" install --quiet --disable-pip-version-check --no-index "${wheels[0]}"
cp examples/server_with_loop.py examples/worker_metrics.py "$work/"

cd "$work"
fresh/bin/python - <<'PY'
"""Runs server_with_loop.py with the fresh venv's interpreter and scrapes it once."""

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
    assert re.search(r'^dynamo_component_total_slots\{[^}]*dynamo_endpoint="generate"[^}]*\} \d+$', page, re.M), page
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
finally:
    if server.poll() is None:
        server.kill()
print(f"the wheel installs alone and serves: {len(page.splitlines())} lines scraped")
PY
