"""Metric classes, obtained from the ``create_*`` methods of a level's ``metrics``.

Scalars: :class:`Counter` and :class:`IntCounter` (``inc``, ``inc_by``, ``get``), :class:`Gauge`
and :class:`IntGauge` (``set``, ``get``, ``inc``, ``dec``, ``add``, ``sub``; ``Gauge`` also
``inc_by``, ``dec_by``), :class:`Histogram` (``observe``, ``get_count``, ``get_sum``).

Vecs take their label values as a dict with exactly the declared label names:
``inc(labels)``, ``inc_by(labels, v)``, ``get(labels)``, ``dec(labels)``, ``add(labels, v)``,
``sub(labels, v)``, but ``set(value, labels)`` and ``observe(value, labels)``.

Every metric has ``name()`` and ``const_labels()``; vecs also ``variable_labels()``. Objects are
safe to use from several threads.

Creating a metric that conflicts with a registered one raises :class:`MetricsError` (a
``RuntimeError``); a bad name, label, help text or bucket list raises ``ValueError``.
"""

from dynamo._core import (
    Counter,
    CounterVec,
    Gauge,
    GaugeVec,
    Histogram,
    HistogramVec,
    IntCounter,
    IntCounterVec,
    IntGauge,
    IntGaugeVec,
    MetricsError,
)

__all__ = [
    "Counter",
    "CounterVec",
    "Gauge",
    "GaugeVec",
    "Histogram",
    "HistogramVec",
    "IntCounter",
    "IntCounterVec",
    "IntGauge",
    "IntGaugeVec",
    "MetricsError",
]
