#!/usr/bin/env bash
# Installs the package as a user would, into new, empty virtual environments: from source
# (`pip install ./bindings/python`, which fetches maturin as the build backend), and from a
# wheel built by `maturin build`, installed alone. From the wheel's environment, away
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
"$work/build/bin/maturin" build --quiet --out "$work/wheels"
wheels=("$work"/wheels/*.whl)
[ "${#wheels[@]}" = 1 ] || { echo "expected one wheel, got: ${wheels[*]}" >&2; exit 1; }

"$python" -m venv "$work/fresh"
"$work/fresh/bin/pip" install --quiet --disable-pip-version-check --no-index "${wheels[0]}"
cp examples/server_with_loop.py examples/worker_metrics.py scripts/check_wheel.py "$work/"

cd "$work"
fresh/bin/python check_wheel.py
