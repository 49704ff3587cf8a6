"""The create_* methods: their arguments, the naming rules and the errors they raise."""

import math

import pytest

from conftest import assert_samples, key, labels
from dynamo.prometheus_metrics import MetricsError

SCALARS = [
    "create_counter",
    "create_intcounter",
    "create_gauge",
    "create_intgauge",
    "create_histogram",
]
VECS = [
    "create_countervec",
    "create_intcountervec",
    "create_gaugevec",
    "create_intgaugevec",
    "create_histogramvec",
]


def create(metrics, creator, name, help="Help", const=None):
    if creator in VECS:
        return getattr(metrics, creator)(name, help, ["v"], const)
    return getattr(metrics, creator)(name, help, const)


def test_metrics_error_is_a_runtime_error():
    assert issubclass(MetricsError, RuntimeError)
    assert MetricsError.__module__ == "dynamo.prometheus_metrics"
    import dynamo._core

    assert dynamo._core.MetricsError is MetricsError


@pytest.mark.parametrize("creator", SCALARS + VECS)
def test_keyword_arguments(endpoint, creator):
    metrics = endpoint.metrics
    if creator in VECS:
        m = getattr(metrics, creator)(
            name="thing", description="A thing", label_names=["v"], const_labels=[("a", "b")]
        )
        assert m.variable_labels() == ["v"]
    else:
        m = getattr(metrics, creator)(name="thing", description="A thing", labels=[("a", "b")])
    assert m.const_labels() == labels(a="b")


@pytest.mark.parametrize("creator", SCALARS + VECS)
def test_constant_labels_as_pairs_dict_tuple_or_none(endpoint, creator):
    m = endpoint.metrics
    assert create(
        m, creator, "a1", const=[("region", "us-west"), ("env", "prod")]
    ).const_labels() == (labels(region="us-west", env="prod"))
    assert create(m, creator, "a2", const=(("region", "eu"),)).const_labels() == labels(region="eu")
    assert create(m, creator, "a3", const={"region": "ap"}).const_labels() == labels(region="ap")
    assert create(m, creator, "a4", const=None).const_labels() == labels()
    assert create(m, creator, "a5", const=[]).const_labels() == labels()


@pytest.mark.parametrize("creator", SCALARS + VECS)
@pytest.mark.parametrize(
    "const",
    [[("region",)], [("a", "b", "c")], ["ab"], "region", [("a", 1)], {"a": 1}, 5],
)
def test_malformed_constant_labels_are_type_errors(endpoint, creator, const):
    with pytest.raises(TypeError):
        create(endpoint.metrics, creator, "thing", const=const)


@pytest.mark.parametrize("creator", VECS)
def test_label_names_must_be_a_list_of_str(endpoint, creator):
    with pytest.raises(TypeError):
        getattr(endpoint.metrics, creator)("thing", "A thing", "model")
    with pytest.raises(TypeError):
        getattr(endpoint.metrics, creator)("thing", "A thing", [1])
    assert getattr(endpoint.metrics, creator)("thing", "A thing", ("a", "b")).variable_labels() == [
        "a",
        "b",
    ]


@pytest.mark.parametrize("creator", SCALARS + VECS)
def test_name_and_help_must_be_str(endpoint, creator):
    with pytest.raises(TypeError):
        create(endpoint.metrics, creator, 5)
    with pytest.raises(TypeError):
        create(endpoint.metrics, creator, "thing", help=None)


@pytest.mark.parametrize(
    "name,exported",
    [
        ("requests_total", "dynamo_component_requests_total"),
        ("métrique", "dynamo_component_m_trique"),
        ("9lives", "dynamo_component__9lives"),
        ("a-b.c", "dynamo_component_a_b_c"),
        ("ns:sub", "dynamo_component_ns:sub"),
    ],
)
def test_names_are_sanitized_and_prefixed(endpoint, name, exported):
    g = endpoint.metrics.create_intgauge(name, "Help")
    assert g.name() == exported
    g.set(1)
    assert_samples(endpoint.metrics.prometheus_expfmt(), {key(exported, labels()): 1})


@pytest.mark.parametrize("creator", SCALARS + VECS)
@pytest.mark.parametrize("name", ["", "_", "___"])
def test_empty_names_are_value_errors(endpoint, creator, name):
    with pytest.raises(ValueError, match="invalid metric name"):
        create(endpoint.metrics, creator, name)


@pytest.mark.parametrize("creator", SCALARS + VECS)
def test_empty_help_is_a_value_error(endpoint, creator):
    with pytest.raises(ValueError, match="help"):
        create(endpoint.metrics, creator, "thing", help="")


@pytest.mark.parametrize("creator", SCALARS + VECS)
@pytest.mark.parametrize("label", ["1abc", "a-b", "__reserved", "", "é"])
def test_bad_constant_label_names_are_value_errors(endpoint, creator, label):
    with pytest.raises(ValueError, match="label"):
        create(endpoint.metrics, creator, "thing", const=[(label, "x")])


@pytest.mark.parametrize("creator", VECS)
@pytest.mark.parametrize("label", ["1abc", "a-b", "__reserved", ""])
def test_bad_variable_label_names_are_value_errors(endpoint, creator, label):
    with pytest.raises(ValueError, match="label"):
        getattr(endpoint.metrics, creator)("thing", "A thing", [label])


@pytest.mark.parametrize("creator", SCALARS + VECS)
@pytest.mark.parametrize("label", ["dynamo_namespace", "dynamo_component", "dynamo_endpoint"])
def test_hierarchy_labels_are_reserved(drt, creator, label):
    with pytest.raises(ValueError, match="reserved"):
        create(drt.metrics, creator, "thing", const=[(label, "x")])


def test_duplicate_labels_are_value_errors(endpoint):
    m = endpoint.metrics
    with pytest.raises(ValueError, match="more than once"):
        m.create_counter("a", "A", [("x", "1"), ("x", "2")])
    with pytest.raises(ValueError, match="more than once"):
        m.create_countervec("b", "B", ["x", "x"])
    with pytest.raises(ValueError, match="more than once"):
        m.create_countervec("c", "C", ["x"], [("x", "1")])


def test_le_is_forbidden_on_histograms(endpoint):
    with pytest.raises(ValueError, match="le"):
        endpoint.metrics.create_histogram("h", "H", [("le", "1")])
    with pytest.raises(ValueError, match="le"):
        endpoint.metrics.create_histogramvec("hv", "H", ["le"])
    endpoint.metrics.create_counter("c", "C", [("le", "1")])


@pytest.mark.parametrize(
    "buckets",
    [[1.0, 1.0], [2.0, 1.0], [math.nan], [-math.inf, 1.0], [1.0, math.inf, 2.0]],
)
def test_bad_buckets_are_value_errors(endpoint, buckets):
    with pytest.raises(ValueError, match="buckets"):
        endpoint.metrics.create_histogram("h", "H", buckets=buckets)
    with pytest.raises(ValueError, match="buckets"):
        endpoint.metrics.create_histogramvec("hv", "H", ["v"], buckets=buckets)


def test_buckets_must_be_numbers(endpoint):
    with pytest.raises(TypeError):
        endpoint.metrics.create_histogram("h", "H", buckets=["a"])
    with pytest.raises(TypeError):
        endpoint.metrics.create_histogram("h", "H", buckets=1.0)


@pytest.mark.parametrize("creator", SCALARS + VECS)
def test_same_identity_twice_is_a_metrics_error(endpoint, creator):
    create(endpoint.metrics, creator, "thing", const=[("a", "1")])
    with pytest.raises(MetricsError, match="dynamo_component_thing"):
        create(endpoint.metrics, creator, "thing", const=[("a", "1")])


def test_conflicts_through_another_handle_of_the_same_place(drt):
    first = drt.namespace("ns").component("comp").endpoint("ep")
    second = drt.namespace("ns").component("comp").endpoint("ep")
    first.metrics.create_counter("requests_total", "Requests")
    with pytest.raises(MetricsError):
        second.metrics.create_counter("requests_total", "Requests")


def test_kind_and_help_conflicts_are_metrics_errors(drt):
    a = drt.namespace("a").metrics
    b = drt.namespace("b").metrics
    a.create_counter("thing", "Things")
    with pytest.raises(MetricsError, match="counter"):
        b.create_gauge("thing", "Things")
    with pytest.raises(MetricsError, match="help"):
        b.create_counter("thing", "Other help")
    # A scalar and a vec of the same identity conflict.
    with pytest.raises(MetricsError):
        a.create_countervec("thing", "Things", ["v"])


def test_same_name_other_identity_joins_the_family(drt):
    ep = drt.namespace("ns").component("comp").endpoint("ep")
    plain = ep.metrics.create_intcounter("requests_total", "Total requests")
    regional = ep.metrics.create_intcounter(
        "requests_total", "Total requests", [("region", "us-west"), ("env", "prod")]
    )
    elsewhere = drt.namespace("other").metrics.create_intcounter("requests_total", "Total requests")
    plain.inc()
    regional.inc_by(2)
    elsewhere.inc_by(3)
    text = drt.metrics.prometheus_expfmt()
    assert text.count("# TYPE dynamo_component_requests_total counter") == 1
    name = "dynamo_component_requests_total"
    got = {k: v for k, v in __import__("conftest").samples(text).items() if k[0] == name}
    assert got == {
        key(name, labels()): 1,
        key(name, labels(region="us-west", env="prod")): 2,
        key(name, {"dynamo_namespace": "other"}): 3,
    }


def test_a_refused_metric_leaves_the_scrape_unchanged(endpoint):
    endpoint.metrics.create_intcounter("requests_total", "Requests").inc()
    before = endpoint.metrics.prometheus_expfmt()
    for attempt in (
        lambda: endpoint.metrics.create_intcounter("requests_total", "Requests"),
        lambda: endpoint.metrics.create_gauge("requests_total", "Requests"),
        lambda: endpoint.metrics.create_gauge("", "Requests"),
        lambda: endpoint.metrics.create_histogram("h", "H", buckets=[2, 1]),
    ):
        with pytest.raises((ValueError, MetricsError)):
            attempt()
    assert endpoint.metrics.prometheus_expfmt() == before
