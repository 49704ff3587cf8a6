"""Metric classes, obtained from the ``create_*`` methods of a level's ``metrics``.

Scalars: :class:`Counter` and :class:`IntCounter` (``inc``, ``inc_by``, ``get``), :class:`Gauge`
and :class:`IntGauge` (``set``, ``get``, ``inc``, ``dec``, ``add``, ``sub``; ``Gauge`` also
``inc_by``, ``dec_by``), :class:`Histogram` (``observe``, ``get_count``, ``get_sum``).

Vecs take their label values as a dict with exactly the declared label names:
``inc(labels)``, ``inc_by(labels, v)``, ``get(labels)``, ``dec(labels)``, ``add(labels, v)``,
``sub(labels, v)``, but ``set(value, labels)`` and ``observe(value, labels)``.

Counters and histograms take an exemplar as prometheus_client does: ``counter.inc(1,
exemplar={"trace_id": "..."})``, ``counter.inc_by(v, exemplar=...)``, ``hist.observe(v,
exemplar=...)``, and on vecs ``inc(labels, exemplar=...)``, ``inc_by(labels, v, exemplar=...)``,
``observe(v, labels, exemplar=...)``. Each series keeps its latest (each bucket, for a
histogram), served on the OpenMetrics and protobuf pages; a label set OpenMetrics refuses
raises ``ValueError`` before the update.

:class:`Info` (``info({...})``, ``get``) and :class:`Enum` (``state("...")``, ``get``,
``states``), as prometheus_client's; their vecs :class:`InfoVec` and :class:`EnumVec` take
``labels`` first (``info(labels, val)``, ``state(labels, state)``) and give the child with
``labels(labels)``.

Every metric has ``name()`` and ``const_labels()``; vecs also ``variable_labels()``. Objects are
safe to use from several threads.

The context managers of prometheus_client, with its names and behaviour, each usable as
``with ...:`` and as a decorator (of plain, ``async def`` and generator functions; a decorated
coroutine is timed until it returns, a generator until its iteration ends):
``hist.time()`` and ``gauge.time()`` (:class:`Timer`), ``gauge.track_inprogress()``
(:class:`InprogressTracker`), ``counter.count_exceptions(exception=Exception)``
(:class:`ExceptionCounter`). A vec has them for the series of a dict of labels, where
prometheus_client has them on ``labels(...)``: ``hist_vec.time(labels)``,
``gauge_vec.time(labels)``, ``gauge_vec.track_inprogress(labels)``,
``counter_vec.count_exceptions(labels, exception=Exception)``; the series is chosen when the
context manager is made (for a decorator, once).

Creating a metric that conflicts with a registered one raises :class:`MetricsError` (a
``RuntimeError``); a bad name, label, help text or bucket list raises ``ValueError``.
"""

# Every metric class of the kinds table, their context managers and MetricsError: the names
# `dynamo._core.__all__` lists, so a new kind needs no change here.
from dynamo._core import *  # noqa: F403
from dynamo._core import __all__ as __all__
