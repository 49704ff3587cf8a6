#!/usr/bin/env bash
# Builds the Python bindings and runs their tests, from a fresh machine: creates the venv
# bindings/python/.venv if missing, installs the build and test tools, builds the extension
# into the venv (maturin develop, with the optimized `wheel` profile that pyproject.toml names)
# and runs pytest. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

pip install --quiet --disable-pip-version-check maturin pytest prometheus-client mypy opentelemetry-api opentelemetry-proto grpcio grpcio-tools
maturin develop --quiet
python -m pytest "$@"
