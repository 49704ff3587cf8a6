"""The scrape text: parsed by prometheus_client and compared sample by sample, and exact where
short enough to spell out."""

import math
import shutil
import subprocess

import pytest

from conftest import assert_samples, families, histogram_samples, key, labels


def test_exact_text_of_one_counter(endpoint):
    endpoint.metrics.create_intcounter("requests_total", "Total requests").inc_by(5)
    assert endpoint.metrics.prometheus_expfmt() == (
        "# HELP dynamo_component_requests_total Total requests\n"
        "# TYPE dynamo_component_requests_total counter\n"
        'dynamo_component_requests_total{dynamo_component="comp",dynamo_endpoint="ep",'
        'dynamo_namespace="ns"} 5\n'
    )


def test_exact_text_of_a_histogram(endpoint):
    h = endpoint.metrics.create_histogram("latency_seconds", "Latency", buckets=[0.1, 1])
    h.observe(0.25)
    lbl = 'dynamo_component="comp",dynamo_endpoint="ep",dynamo_namespace="ns"'
    assert endpoint.metrics.prometheus_expfmt() == (
        "# HELP dynamo_component_latency_seconds Latency\n"
        "# TYPE dynamo_component_latency_seconds histogram\n"
        f'dynamo_component_latency_seconds_bucket{{{lbl},le="0.1"}} 0\n'
        f'dynamo_component_latency_seconds_bucket{{{lbl},le="1"}} 1\n'
        f'dynamo_component_latency_seconds_bucket{{{lbl},le="+Inf"}} 1\n'
        f"dynamo_component_latency_seconds_sum{{{lbl}}} 0.25\n"
        f"dynamo_component_latency_seconds_count{{{lbl}}} 1\n"
    )


def build_everything(endpoint):
    """One metric of each class, updated; returns the samples expected in the scrape."""
    m = endpoint.metrics
    m.create_counter("bytes_total", "Bytes sent").inc_by(1.5)
    m.create_intcounter("requests_total", "Requests", [("region", "us-west")]).inc_by(3)
    m.create_gauge("load", "Load").set(-0.25)
    m.create_intgauge("slots", "Slots").set(64)
    h = m.create_histogram("latency_seconds", "Latency", buckets=[0.01, 0.1, 1])
    for v in (0.005, 0.05, 0.5, 5):
        h.observe(v)
    cv = m.create_countervec("tokens_total", "Tokens", ["model"])
    cv.inc_by({"model": "llama"}, 10.5)
    icv = m.create_intcountervec("errors_total", "Errors", ["kind", "code"])
    icv.inc({"kind": "timeout", "code": "504"})
    icv.inc_by({"kind": "refused", "code": "503"}, 2)
    gv = m.create_gaugevec("memory_bytes", "Memory", ["gpu"], [("host", "a")])
    gv.set(8192.5, {"gpu": "0"})
    igv = m.create_intgaugevec("queue_depth", "Queue", ["queue"])
    igv.set(-3, {"queue": "q1"})
    hv = m.create_histogramvec("size_bytes", "Sizes", ["route"], buckets=[100, 1000])
    hv.observe(50, {"route": "chat"})
    hv.observe(5000, {"route": "chat"})

    return {
        key("dynamo_component_bytes_total", labels()): 1.5,
        key("dynamo_component_requests_total", labels(region="us-west")): 3,
        key("dynamo_component_load", labels()): -0.25,
        key("dynamo_component_slots", labels()): 64,
        **histogram_samples(
            "dynamo_component_latency_seconds", labels(), [0.01, 0.1, 1], [0.005, 0.05, 0.5, 5]
        ),
        key("dynamo_component_tokens_total", labels(model="llama")): 10.5,
        key("dynamo_component_errors_total", labels(kind="timeout", code="504")): 1,
        key("dynamo_component_errors_total", labels(kind="refused", code="503")): 2,
        key("dynamo_component_memory_bytes", labels(gpu="0", host="a")): 8192.5,
        key("dynamo_component_queue_depth", labels(queue="q1")): -3,
        **histogram_samples(
            "dynamo_component_size_bytes", labels(route="chat"), [100, 1000], [50, 5000]
        ),
    }


def test_every_class_sample_by_sample(endpoint):
    expected = build_everything(endpoint)
    text = endpoint.metrics.prometheus_expfmt()
    assert_samples(text, expected)
    assert families(text) == {
        "dynamo_component_bytes": ("counter", "Bytes sent"),
        "dynamo_component_requests": ("counter", "Requests"),
        "dynamo_component_load": ("gauge", "Load"),
        "dynamo_component_slots": ("gauge", "Slots"),
        "dynamo_component_latency_seconds": ("histogram", "Latency"),
        "dynamo_component_tokens": ("counter", "Tokens"),
        "dynamo_component_errors": ("counter", "Errors"),
        "dynamo_component_memory_bytes": ("gauge", "Memory"),
        "dynamo_component_queue_depth": ("gauge", "Queue"),
        "dynamo_component_size_bytes": ("histogram", "Sizes"),
    }


def test_families_sorted_by_name_with_one_help_and_type_each(endpoint):
    build_everything(endpoint)
    text = endpoint.metrics.prometheus_expfmt()
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert helps == sorted(helps) == types
    assert len(set(helps)) == len(helps)
    assert text.endswith("\n")


def test_help_and_label_values_are_escaped(endpoint):
    v = endpoint.metrics.create_intcountervec("odd_total", 'Help with \\ and\nnewline "q"', ["v"])
    odd = 'a"b\\c\nd ✓'
    v.inc({"v": odd})
    v.inc({"v": ""})
    text = endpoint.metrics.prometheus_expfmt()
    assert '# HELP dynamo_component_odd_total Help with \\\\ and\\nnewline "q"\n' in text
    assert 'v="a\\"b\\\\c\\nd ✓"' in text
    assert 'v=""' in text
    assert families(text)["dynamo_component_odd"] == ("counter", 'Help with \\ and\nnewline "q"')
    assert_samples(
        text,
        {
            key("dynamo_component_odd_total", labels(v=odd)): 1,
            key("dynamo_component_odd_total", labels(v="")): 1,
        },
    )


def test_special_values(endpoint):
    g = endpoint.metrics.create_gaugevec("g", "G", ["v"])
    g.set(math.inf, {"v": "inf"})
    g.set(-math.inf, {"v": "-inf"})
    g.set(math.nan, {"v": "nan"})
    g.set(123.456789, {"v": "frac"})
    g.set(50000, {"v": "int"})
    text = endpoint.metrics.prometheus_expfmt()
    for rendered in ("+Inf", "-Inf", "NaN", "123.456789", "50000"):
        assert f"}} {rendered}\n" in text
    assert_samples(
        text,
        {
            key("dynamo_component_g", labels(v="inf")): math.inf,
            key("dynamo_component_g", labels(v="-inf")): -math.inf,
            key("dynamo_component_g", labels(v="nan")): math.nan,
            key("dynamo_component_g", labels(v="frac")): 123.456789,
            key("dynamo_component_g", labels(v="int")): 50000,
        },
    )


def test_metrics_without_series_are_left_out(endpoint):
    endpoint.metrics.create_countervec("unused_total", "Unused", ["v"])
    assert endpoint.metrics.prometheus_expfmt() == ""


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_scrape(drt):
    ep = drt.namespace("ns").component("comp").endpoint("ep")
    build_everything(ep)
    text = drt.metrics.prometheus_expfmt()
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
