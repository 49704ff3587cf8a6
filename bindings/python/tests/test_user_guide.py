"""Every Python example of the user guide (docs/guide.md), run as written, each in a fresh
interpreter of its own, with the package as installed.

An example asserts what it shows, so running it is the test. One whose first line is
``# serves until SIGTERM`` is a server: it runs with ``DYN_SYSTEM_PORT=0``, must print the
address it listens on, answer one scrape, and exit 0 on SIGTERM.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "guide.md"
SERVES = "# serves until SIGTERM"
TIMEOUT = 30


def python_examples(text: str) -> list[tuple[int, str]]:
    """``(line of the opening fence, code)`` for every ```python block."""
    examples = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            end = start
            while lines[end].strip() != "```":
                end += 1
            examples.append((i + 1, "\n".join(lines[start:end]) + "\n"))
            i = end
        i += 1
    return examples


EXAMPLES = python_examples(GUIDE.read_text())


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DYN_", "OTEL_"))}
    env.update(extra)
    return env


def test_the_guide_has_python_examples():
    assert len(EXAMPLES) >= 9
    assert sum(code.startswith(SERVES) for _, code in EXAMPLES) == 1


def test_examples_are_read_from_fenced_python_blocks():
    text = "intro\n```python\nx = 1\n```\n\n```rust\nlet y = 2;\n```\n```python\nprint(x)\n```\n"
    assert python_examples(text) == [(2, "x = 1\n"), (9, "print(x)\n")]


@pytest.mark.parametrize(
    "code",
    [code for _, code in EXAMPLES if not code.startswith(SERVES)],
    ids=[f"line {line}" for line, code in EXAMPLES if not code.startswith(SERVES)],
)
def test_example_runs(code, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
    )
    assert done.returncode == 0, f"{code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


@pytest.mark.parametrize(
    "code",
    [code for _, code in EXAMPLES if code.startswith(SERVES)],
    ids=[f"line {line}" for line, code in EXAMPLES if code.startswith(SERVES)],
)
def test_server_example_serves_until_sigterm(code, tmp_path):
    script = tmp_path / "server.py"
    script.write_text(code)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=environment(DYN_SYSTEM_PORT="0", DYN_SYSTEM_HOST="127.0.0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(TIMEOUT), f"no address printed; stderr: {proc.stderr.read()}"
        line = proc.stdout.readline()
        match = re.search(r"listening on ([\d.]+):(\d+)", line)
        assert match, line
        url = f"http://{match[1]}:{match[2]}"
        with urllib.request.urlopen(f"{url}/metrics", timeout=TIMEOUT) as response:
            assert response.status == 200
            page = response.read().decode()
        names = {f.name for f in text_string_to_metric_families(page)}
        assert "dynamo_component_requests" in names, page  # the parser drops `_total`
        with urllib.request.urlopen(f"{url}/health", timeout=TIMEOUT) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
