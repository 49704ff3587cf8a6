"""Every method of the scalar metric classes, and what each leaves in the scrape."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from conftest import EP_LABELS, assert_samples, histogram_samples, key, labels
from dynamo.prometheus_metrics import Counter, Gauge, Histogram, IntCounter, IntGauge

DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]


def test_counter_inc_inc_by_get(endpoint):
    c = endpoint.metrics.create_counter("bytes_total", "Bytes")
    assert isinstance(c, Counter)
    assert c.get() == 0.0
    c.inc()
    c.inc_by(1.5)
    c.inc_by(0)
    c.inc_by(2)  # an int is taken as a float
    assert c.get() == 4.5
    assert isinstance(c.get(), float)
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_bytes_total", EP_LABELS): 4.5},
    )


def test_counter_refuses_negative_and_nan_increments(endpoint):
    c = endpoint.metrics.create_counter("bytes_total", "Bytes")
    c.inc_by(1.0)
    with pytest.raises(OverflowError, match="negative"):
        c.inc_by(-1.0)
    with pytest.raises(OverflowError):
        c.inc_by(-1)
    with pytest.raises(ValueError, match="NaN"):
        c.inc_by(math.nan)
    with pytest.raises(TypeError):
        c.inc_by("1")
    assert c.get() == 1.0


@pytest.mark.parametrize("create", ["create_counter", "create_intcounter"])
def test_counter_inc_takes_prometheus_client_arguments(endpoint, create):
    c = getattr(endpoint.metrics, create)("jobs_total", "Jobs")
    c.inc()
    c.inc(2)
    c.inc(amount=3)
    c.inc(None)
    c.inc(4, None)
    c.inc(exemplar=None, amount=5)
    c.inc(exemplar={"trace_id": "a"})
    assert c.get() == 17
    with pytest.raises(TypeError, match="'value'"):
        c.inc(value=1)
    with pytest.raises(TypeError, match="'amount'"):
        c.inc(1, amount=1)
    with pytest.raises(TypeError):
        c.inc(1, None, None)
    with pytest.raises(TypeError):
        c.inc("1")
    with pytest.raises(TypeError):
        c.inc(1, exemplar=["trace_id"])
    with pytest.raises(OverflowError, match="negative"):
        c.inc(-1)
    assert c.get() == 17


def test_counter_takes_infinity(endpoint):
    c = endpoint.metrics.create_counter("bytes_total", "Bytes")
    c.inc_by(math.inf)
    assert c.get() == math.inf


def test_intcounter_inc_inc_by_get(endpoint):
    c = endpoint.metrics.create_intcounter("requests_total", "Requests")
    assert isinstance(c, IntCounter)
    assert c.get() == 0
    c.inc()
    c.inc_by(5)
    c.inc_by(0)
    assert c.get() == 6
    assert isinstance(c.get(), int)
    c.inc_by(2**64 - 1 - 6)
    assert c.get() == 2**64 - 1
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_requests_total", EP_LABELS): 2**64 - 1},
    )


def test_intcounter_stops_at_its_limit(endpoint):
    c = endpoint.metrics.create_intcounter("requests_total", "Requests")
    c.inc_by(2**64 - 1)
    c.inc()
    assert c.get() == 2**64 - 1
    c.inc_by(2**64 - 1)
    assert c.get() == 2**64 - 1


def test_intgauge_stops_at_its_limits(endpoint):
    g = endpoint.metrics.create_intgauge("slots", "Slots")
    g.set(2**63 - 1)
    g.inc()
    assert g.get() == 2**63 - 1
    g.add(2**63 - 1)
    assert g.get() == 2**63 - 1
    g.set(-(2**63))
    g.dec()
    assert g.get() == -(2**63)
    g.sub(2**63 - 1)
    assert g.get() == -(2**63)
    g.set(0)
    g.sub(-(2**63))
    assert g.get() == 2**63 - 1
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_slots", EP_LABELS): 2**63 - 1},
    )


def test_intcounter_refuses_out_of_range_and_non_integers(endpoint):
    c = endpoint.metrics.create_intcounter("requests_total", "Requests")
    with pytest.raises(OverflowError):
        c.inc_by(-1)
    with pytest.raises(OverflowError):
        c.inc_by(2**64)
    with pytest.raises(TypeError):
        c.inc_by(1.5)
    with pytest.raises(TypeError):
        c.inc_by(None)
    assert c.get() == 0


def test_gauge_every_operation(endpoint):
    g = endpoint.metrics.create_gauge("load", "Load")
    assert isinstance(g, Gauge)
    assert g.get() == 0.0
    g.set(42)
    assert g.get() == 42.0
    g.inc()
    assert g.get() == 43.0
    g.dec()
    assert g.get() == 42.0
    g.add(0.5)
    assert g.get() == 42.5
    g.sub(2.5)
    assert g.get() == 40.0
    g.inc_by(10)
    assert g.get() == 50.0
    g.dec_by(60)
    assert g.get() == -10.0
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_load", EP_LABELS): -10.0},
    )


def test_gauge_takes_special_floats(endpoint):
    g = endpoint.metrics.create_gauge("load", "Load")
    for value in (math.inf, -math.inf, math.nan):
        g.set(value)
        assert_samples(
            endpoint.metrics.prometheus_expfmt(),
            {key("dynamo_component_load", EP_LABELS): value},
        )
    with pytest.raises(TypeError):
        g.set("1")
    with pytest.raises(OverflowError):
        g.set(10**400)


class Index:
    """An object that is a number only through ``__index__``."""

    def __index__(self):
        return 7


REALS = (
    2,
    -3,
    True,
    2**53 + 1,
    2**63 + 1,
    -(2**70),
    10**300,
    Fraction(1, 4),
    Decimal("2.5"),
    Index(),
)


def test_float_metrics_take_any_real_number_as_float_does(endpoint):
    g = endpoint.metrics.create_gauge("load", "Load")
    h = endpoint.metrics.create_histogram("size", "Size", buckets=[1.0])
    for value in REALS:
        g.set(value)
        assert g.get() == float(value), value
        h.observe(value)
    assert h.get_count() == len(REALS)
    assert h.get_sum() == pytest.approx(sum(float(v) for v in REALS))
    v = endpoint.metrics.create_gaugevec("temp", "Temp", ["gpu"])
    v.set(2**63 + 1, {"gpu": "0"})
    assert v.get({"gpu": "0"}) == float(2**63 + 1)
    with pytest.raises(TypeError, match="value"):
        g.set("1")
    with pytest.raises(TypeError, match="value"):
        v.set(None, {"gpu": "0"})


def test_intgauge_every_operation(endpoint):
    g = endpoint.metrics.create_intgauge("slots", "Slots")
    assert isinstance(g, IntGauge)
    assert g.get() == 0
    g.set(42)
    g.inc()
    g.dec()
    g.dec()
    assert g.get() == 41
    g.add(9)
    assert g.get() == 50
    g.sub(60)
    assert g.get() == -10
    assert isinstance(g.get(), int)
    g.set(-(2**63))
    assert g.get() == -(2**63)
    g.set(2**63 - 1)
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        {key("dynamo_component_slots", EP_LABELS): 2**63 - 1},
    )


def test_intgauge_refuses_out_of_range_and_non_integers(endpoint):
    g = endpoint.metrics.create_intgauge("slots", "Slots")
    g.set(7)
    for bad in (2**63, -(2**63) - 1):
        with pytest.raises(OverflowError):
            g.set(bad)
        with pytest.raises(OverflowError):
            g.add(bad)
        with pytest.raises(OverflowError):
            g.sub(bad)
    with pytest.raises(TypeError):
        g.set(1.5)
    assert g.get() == 7


def test_histogram_observe_get_count_get_sum(endpoint):
    h = endpoint.metrics.create_histogram("latency_seconds", "Latency")
    assert isinstance(h, Histogram)
    assert (h.get_count(), h.get_sum()) == (0, 0.0)
    observations = [0.023, 0.5, 7, 20.0, 0.005]
    for v in observations:
        h.observe(v)
    assert h.get_count() == 5
    assert h.get_sum() == pytest.approx(sum(observations))
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        histogram_samples(
            "dynamo_component_latency_seconds", EP_LABELS, DEFAULT_BUCKETS, observations
        ),
    )


def test_histogram_custom_buckets(endpoint):
    buckets = [0.001, 0.01, 0.1, 1.0, 10.0]
    h = endpoint.metrics.create_histogram("latency_seconds", "Latency", buckets=buckets)
    observations = [0.0005, 0.001, 0.05, 3.0, 100.0]
    for v in observations:
        h.observe(v)
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        histogram_samples("dynamo_component_latency_seconds", EP_LABELS, buckets, observations),
    )


def test_histogram_trailing_infinity_bucket_is_dropped(endpoint):
    h = endpoint.metrics.create_histogram("latency_seconds", "Latency", buckets=[1, math.inf])
    h.observe(2)
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        histogram_samples("dynamo_component_latency_seconds", EP_LABELS, [1.0], [2.0]),
    )


def test_histogram_with_constant_labels(endpoint):
    h = endpoint.metrics.create_histogram(
        "latency_seconds", "Latency", [("route", "/chat")], buckets=[1.0]
    )
    h.observe(0.5)
    assert h.const_labels() == labels(route="/chat")
    assert_samples(
        endpoint.metrics.prometheus_expfmt(),
        histogram_samples("dynamo_component_latency_seconds", labels(route="/chat"), [1.0], [0.5]),
    )


@pytest.mark.parametrize(
    "create",
    ["create_counter", "create_intcounter", "create_gauge", "create_intgauge", "create_histogram"],
)
def test_introspection(endpoint, create):
    m = getattr(endpoint.metrics, create)("thing", "A thing", [("region", "us-west")])
    assert m.name() == "dynamo_component_thing"
    assert m.const_labels() == labels(region="us-west")
    assert type(m.const_labels()) is dict
    assert not hasattr(m, "variable_labels")
    assert repr(m).startswith(f"<{type(m).__name__} dynamo_component_thing{{")
    assert 'region="us-west"' in repr(m)


@pytest.mark.parametrize("cls", [Counter, IntCounter, Gauge, IntGauge, Histogram])
def test_no_public_constructor(cls):
    with pytest.raises(TypeError):
        cls()


@pytest.mark.parametrize("cls", [Counter, IntCounter, Gauge, IntGauge, Histogram])
def test_classes_live_in_the_public_module(cls):
    assert cls.__module__ == "dynamo.prometheus_metrics"


def test_metrics_are_immutable(endpoint):
    c = endpoint.metrics.create_counter("bytes_total", "Bytes")
    with pytest.raises(AttributeError):
        c.value = 3
