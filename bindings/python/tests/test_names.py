"""dynamo.prometheus_names holds the same constants as the Rust module prometheus_names."""

import re
from pathlib import Path

import pytest

from dynamo import prometheus_names

RUST = Path(__file__).resolve().parents[3] / "facade" / "src" / "prometheus_names.rs"


def rust_constants():
    """``{(module, NAME): value}`` from the Rust source: string constants and arrays of them."""
    text = RUST.read_text()
    constants = {}
    for module, body in re.findall(r"pub mod (\w+) \{(.*?)\n\}", text, re.S):
        local = {}
        for name, value in re.findall(r'pub const (\w+): &str =\s*"((?:[^"\\]|\\.)*)";', body):
            local[name] = value
        for name, items in re.findall(r"pub const (\w+): \[&str; \d+\] = \[(.*?)\];", body, re.S):
            local[name] = tuple(local[item.strip()] for item in items.split(",") if item.strip())
        constants.update({(module, name): value for name, value in local.items()})
    return constants


@pytest.mark.skipif(not RUST.exists(), reason="the Rust sources are not beside the package")
def test_same_constants_as_rust():
    rust = rust_constants()
    assert len(rust) > 10
    python = {
        (module, name): value
        for module in prometheus_names.__all__
        for name, value in vars(getattr(prometheus_names, module)).items()
        if name.isupper()
    }
    assert python == rust


def test_names_are_usable_with_the_creators(endpoint):
    wh = prometheus_names.work_handler
    c = endpoint.metrics.create_intcountervec(wh.ERRORS_TOTAL, "Errors", [wh.ERROR_TYPE_LABEL])
    assert c.name() == f"{prometheus_names.name_prefix.COMPONENT}_{wh.ERRORS_TOTAL}"
    assert set(prometheus_names.labels.HIERARCHY) <= set(c.const_labels())
