#!/usr/bin/env bash
# Checks the deploy files with the tools that read them: promtool checks the Prometheus
# configuration and rules and runs the rules' unit tests; pytest (in the venv deploy/.venv,
# created if missing) checks the Kubernetes manifests against their schemas and each other.
# Any failure fails the script. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

promtool check config prometheus/prometheus.yml
promtool check rules prometheus/rules.yml
promtool test rules prometheus/rules_test.yml

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check pytest pyyaml jsonschema
.venv/bin/python -m pytest -q tests "$@"
