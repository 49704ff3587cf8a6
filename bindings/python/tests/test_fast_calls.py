"""The methods with a fast path for their common call (``inc``, ``inc_by``, ``observe``,
``set``): a call in that shape (``inc()``, ``inc(2)``, ``observe(v)``) runs without PyO3's
argument extraction, any other (keywords, an exemplar, a value to refuse, a wrong type) goes to
the full method. Every call shape behaves as the full method alone did: same updates, same
errors, same documentation and signature."""

import inspect
import math

import pytest

from dynamo.prometheus_metrics import Counter, Gauge, Histogram, IntCounter, IntGauge

TRACE = {"trace_id": "a"}


class Floaty:
    """Not a float, but taken as one through ``__float__``."""

    def __float__(self):
        return 1.5


class Indexy:
    """Not an int, but taken as one through ``__index__``."""

    def __index__(self):
        return 2


class FloatSubclass(float):
    pass


@pytest.mark.parametrize("create", ["create_counter", "create_intcounter"])
def test_inc_in_every_call_shape(endpoint, create):
    c = getattr(endpoint.metrics, create)("jobs_total", "Jobs")
    c.inc()
    assert c.get() == 1
    c.inc(2)
    assert c.get() == 3
    c.inc(amount=2)
    assert c.get() == 5
    c.inc(None)
    c.inc(None, None)
    c.inc(amount=None, exemplar=None)
    assert c.get() == 8
    c.inc(2, TRACE)
    assert c.get() == 10
    c.inc(2, exemplar=TRACE)
    c.inc(exemplar=TRACE)
    c.inc(exemplar=TRACE, amount=3)
    assert c.get() == 16
    c.inc(True)  # a bool is an int subclass: the full method takes it
    c.inc(Indexy())
    assert c.get() == 19
    type(c).inc(c)
    type(c).inc(c, 2)
    assert c.get() == 22


def test_float_counter_inc_takes_any_real_number(endpoint):
    c = endpoint.metrics.create_counter("bytes_total", "Bytes")
    c.inc(0.5)
    c.inc(FloatSubclass(0.25))
    c.inc(Floaty())
    c.inc(2**70)  # past an i64: the full method converts it
    assert c.get() == 0.5 + 0.25 + 1.5 + 2.0**70
    c.inc(math.inf)
    assert c.get() == math.inf


@pytest.mark.parametrize("create", ["create_counter", "create_intcounter"])
def test_inc_errors_are_those_of_the_full_method(endpoint, create):
    c = getattr(endpoint.metrics, create)("jobs_total", "Jobs")
    name = type(c).__name__
    with pytest.raises(
        TypeError, match=rf"^{name}\.inc\(\) got an unexpected keyword argument 'value'$"
    ):
        c.inc(value=1)
    with pytest.raises(
        TypeError, match=rf"^{name}\.inc\(\) got multiple values for argument 'amount'$"
    ):
        c.inc(1, amount=1)
    with pytest.raises(
        TypeError, match=rf"^{name}\.inc\(\) takes from 0 to 2 positional arguments"
    ):
        c.inc(1, None, None)
    with pytest.raises(TypeError):
        c.inc("1")
    with pytest.raises(TypeError):
        c.inc(1, ["trace_id"])
    with pytest.raises(TypeError):
        c.inc(exemplar={"trace_id": 1})
    with pytest.raises(ValueError):
        c.inc(1, {"bad-name": "a"})
    with pytest.raises(OverflowError, match="negative"):
        c.inc(-1)
    with pytest.raises(OverflowError):
        c.inc(-1, TRACE)
    with pytest.raises(TypeError, match="doesn't apply to a 'object' object"):
        type(c).inc(object())
    with pytest.raises(TypeError, match="needs an argument"):
        type(c).inc()
    assert c.get() == 0


def test_float_counter_refuses_nan_and_negative_floats(endpoint):
    c = endpoint.metrics.create_counter("bytes_total", "Bytes")
    with pytest.raises(ValueError, match="NaN"):
        c.inc(math.nan)
    with pytest.raises(ValueError, match="NaN"):
        c.inc_by(math.nan)
    with pytest.raises(OverflowError, match="negative"):
        c.inc(-0.5)
    with pytest.raises(OverflowError, match="negative"):
        c.inc_by(-0.5)
    assert c.get() == 0


def test_intcounter_takes_ints_only(endpoint):
    c = endpoint.metrics.create_intcounter("jobs_total", "Jobs")
    with pytest.raises(TypeError):
        c.inc(1.5)
    with pytest.raises(TypeError):
        c.inc_by(1.0)
    with pytest.raises(OverflowError):
        c.inc(2**64)
    with pytest.raises(OverflowError):
        c.inc_by(-1)
    c.inc(2**63)  # past an i64: the full method takes it
    c.inc_by(2**63 - 1)
    assert c.get() == 2**64 - 1


@pytest.mark.parametrize("create", ["create_counter", "create_intcounter"])
def test_inc_by_in_every_call_shape(endpoint, create):
    c = getattr(endpoint.metrics, create)("jobs_total", "Jobs")
    c.inc_by(2)
    c.inc_by(value=2)
    c.inc_by(2, None)
    c.inc_by(2, TRACE)
    c.inc_by(2, exemplar=TRACE)
    c.inc_by(value=2, exemplar=TRACE)
    assert c.get() == 12
    name = type(c).__name__
    with pytest.raises(
        TypeError, match=rf"^{name}\.inc_by\(\) missing 1 required positional argument: 'value'$"
    ):
        c.inc_by()
    with pytest.raises(
        TypeError, match=rf"^{name}\.inc_by\(\) got multiple values for argument 'value'$"
    ):
        c.inc_by(1, value=2)
    with pytest.raises(TypeError):
        c.inc_by(None)
    with pytest.raises(TypeError):
        c.inc_by(1, 2)
    assert c.get() == 12


def test_observe_in_every_call_shape(endpoint):
    h = endpoint.metrics.create_histogram("latency_seconds", "Latency")
    h.observe(0.5)
    h.observe(2)
    h.observe(value=0.25)
    h.observe(0.25, None)
    h.observe(0.25, TRACE)
    h.observe(0.25, exemplar=TRACE)
    h.observe(FloatSubclass(0.25))
    h.observe(Floaty())
    h.observe(True)
    h.observe(-1)
    Histogram.observe(h, 0.25)
    assert h.get_count() == 11
    assert h.get_sum() == 0.5 + 2 + 0.25 * 6 + 1.5 + 1 - 1
    with pytest.raises(
        TypeError, match=r"^Histogram\.observe\(\) missing 1 required positional argument: 'value'$"
    ):
        h.observe()
    with pytest.raises(
        TypeError, match=r"^Histogram\.observe\(\) got an unexpected keyword argument 'amount'$"
    ):
        h.observe(amount=1)
    with pytest.raises(
        TypeError, match=r"^Histogram\.observe\(\) got multiple values for argument 'value'$"
    ):
        h.observe(1, value=1)
    with pytest.raises(
        TypeError, match=r"^Histogram\.observe\(\) takes from 1 to 2 positional arguments"
    ):
        h.observe(1, None, None)
    with pytest.raises(TypeError):
        h.observe(None)
    with pytest.raises(TypeError):
        h.observe("1")
    with pytest.raises(TypeError):
        h.observe(1, ["trace_id"])
    with pytest.raises(ValueError):
        h.observe(1, {"bad-name": "a"})
    with pytest.raises(TypeError, match="doesn't apply to a 'object' object"):
        Histogram.observe(object(), 1)
    assert h.get_count() == 11


@pytest.mark.parametrize("create", ["create_gauge", "create_intgauge"])
def test_set_in_every_call_shape(endpoint, create):
    g = getattr(endpoint.metrics, create)("slots", "Slots")
    g.set(3)
    assert g.get() == 3
    g.set(value=4)
    assert g.get() == 4
    g.set(Indexy())
    assert g.get() == 2
    g.set(-(2**63))
    assert g.get() == -(2**63)
    name = type(g).__name__
    with pytest.raises(
        TypeError, match=rf"^{name}\.set\(\) missing 1 required positional argument: 'value'$"
    ):
        g.set()
    with pytest.raises(
        TypeError, match=rf"^{name}\.set\(\) takes 1 positional arguments? but 2 were given$"
    ):
        g.set(1, 2)
    with pytest.raises(
        TypeError, match=rf"^{name}\.set\(\) got an unexpected keyword argument 'amount'$"
    ):
        g.set(amount=1)
    with pytest.raises(TypeError):
        g.set(None)
    with pytest.raises(TypeError):
        g.set("1")
    assert g.get() == -(2**63)


def test_gauge_set_takes_any_real_number(endpoint):
    g = endpoint.metrics.create_gauge("load", "Load")
    g.set(0.5)
    assert g.get() == 0.5
    g.set(FloatSubclass(0.25))
    assert g.get() == 0.25
    g.set(Floaty())
    assert g.get() == 1.5
    g.set(2**70)
    assert g.get() == 2.0**70
    g.set(math.nan)
    assert math.isnan(g.get())


def test_intgauge_set_range(endpoint):
    g = endpoint.metrics.create_intgauge("slots", "Slots")
    with pytest.raises(OverflowError):
        g.set(2**63)
    with pytest.raises(TypeError):
        g.set(1.0)
    assert g.get() == 0


@pytest.mark.parametrize(
    ("cls", "method", "signature"),
    [
        (Counter, "inc", "(amount=None, exemplar=None)"),
        (IntCounter, "inc", "(amount=None, exemplar=None)"),
        (Counter, "inc_by", "(value, exemplar=None)"),
        (IntCounter, "inc_by", "(value, exemplar=None)"),
        (Histogram, "observe", "(value, exemplar=None)"),
        (Gauge, "set", "(value)"),
        (IntGauge, "set", "(value)"),
    ],
)
def test_fast_methods_keep_their_documentation(endpoint, cls, method, signature):
    descriptor = cls.__dict__[method]
    assert type(descriptor).__name__ == "method_descriptor"
    assert descriptor.__qualname__ == f"{cls.__name__}.{method}"
    assert descriptor.__text_signature__ == f"($self, {signature[1:]}"
    assert str(inspect.signature(descriptor)) == f"(self, /, {signature[1:]}"
    assert descriptor.__doc__
    assert not descriptor.__doc__.startswith(method)
    # No second, private copy of the method on the class.
    assert [name for name in dir(cls) if name.strip("_") == method] == [method]


@pytest.mark.parametrize("cls", [Counter, IntCounter, Histogram, Gauge, IntGauge])
def test_classes_cannot_be_subclassed(cls):
    with pytest.raises(TypeError):
        type("Sub", (cls,), {})
