"""Native histograms from Python: their settings, their text page and their errors. What the
protobuf page carries is in test_protobuf.py."""

import math

import pytest

from conftest import assert_promtool_accepts

LBL = 'dynamo_component="comp",dynamo_endpoint="ep",dynamo_namespace="ns"'


def test_a_native_only_histogram_renders_inf_count_and_sum(endpoint):
    h = endpoint.metrics.create_histogram(
        "ttft_seconds", "Time to first token", buckets=[], native_bucket_factor=1.1
    )
    for v in (0, 1, 2, 3, math.nan):
        h.observe(v)
    assert h.get_count() == 5
    assert math.isnan(h.get_sum())
    text = endpoint.metrics.prometheus_expfmt()
    assert text == (
        "# HELP dynamo_component_ttft_seconds Time to first token\n"
        "# TYPE dynamo_component_ttft_seconds histogram\n"
        f'dynamo_component_ttft_seconds_bucket{{{LBL},le="+Inf"}} 5\n'
        f"dynamo_component_ttft_seconds_sum{{{LBL}}} NaN\n"
        f"dynamo_component_ttft_seconds_count{{{LBL}}} 5\n"
    )
    assert_promtool_accepts(text)


def test_a_hybrid_vec_keeps_its_classic_buckets_in_text(endpoint):
    hv = endpoint.metrics.create_histogramvec(
        "itl_seconds",
        "Inter-token latency",
        ["model"],
        buckets=[0.5],
        native_bucket_factor=1.1,
        native_max_buckets=20,
        native_zero_threshold=0.001,
        native_max_zero_threshold=0.01,
    )
    hv.observe(0.25, {"model": "m"})
    hv.observe(2, {"model": "m"})
    lbl = f'{LBL},model="m"'
    assert endpoint.metrics.prometheus_expfmt() == (
        "# HELP dynamo_component_itl_seconds Inter-token latency\n"
        "# TYPE dynamo_component_itl_seconds histogram\n"
        f'dynamo_component_itl_seconds_bucket{{{lbl},le="0.5"}} 1\n'
        f'dynamo_component_itl_seconds_bucket{{{lbl},le="+Inf"}} 2\n'
        f"dynamo_component_itl_seconds_sum{{{lbl}}} 2.25\n"
        f"dynamo_component_itl_seconds_count{{{lbl}}} 2\n"
    )
    assert hv.get_count({"model": "m"}) == 2


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"native_bucket_factor": 1.0}, "native_bucket_factor 1"),
        ({"native_bucket_factor": math.inf}, "native_bucket_factor inf"),
        ({"native_bucket_factor": 1.1, "native_max_buckets": 0}, "native_max_buckets 0"),
        ({"native_bucket_factor": 1.1, "native_zero_threshold": -1.0}, "native_zero_threshold -1"),
        (
            {"native_bucket_factor": 1.1, "native_max_zero_threshold": math.nan},
            "native_max_zero_threshold NaN",
        ),
        ({"native_max_buckets": 100}, "native_max_buckets needs native_bucket_factor"),
        ({"native_zero_threshold": 0.0}, "native_zero_threshold needs native_bucket_factor"),
    ],
)
def test_bad_native_settings_are_value_errors_naming_them(endpoint, settings, named):
    kept = endpoint.metrics.create_counter("kept_total", "Kept")
    kept.inc()
    before = endpoint.metrics.prometheus_expfmt()
    with pytest.raises(ValueError, match=named):
        endpoint.metrics.create_histogram("h", "H", **settings)
    with pytest.raises(ValueError, match=named):
        endpoint.metrics.create_histogramvec("hv", "H", ["v"], **settings)
    assert endpoint.metrics.prometheus_expfmt() == before
    # Nothing was registered under the names refused.
    endpoint.metrics.create_histogram("h", "H", buckets=[]).observe(1)
    assert (
        f'dynamo_component_h_bucket{{{LBL},le="+Inf"}} 1\n' in endpoint.metrics.prometheus_expfmt()
    )


def test_native_settings_belong_to_histograms_only(endpoint):
    with pytest.raises(TypeError):
        endpoint.metrics.create_counter("c_total", "C", native_bucket_factor=1.1)
