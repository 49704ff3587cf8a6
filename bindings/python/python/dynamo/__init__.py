"""The Dynamo runtime's metrics API.

Create metrics from the runtime hierarchy and read or serve them in the Prometheus text format::

    from dynamo.runtime import DistributedRuntime

    drt = DistributedRuntime()
    endpoint = drt.namespace("ns").component("cache").endpoint("get")
    hits = endpoint.metrics.create_intcounter("hits_total", "Cache hits")
    hits.inc()
    print(endpoint.metrics.prometheus_expfmt())

Modules: :mod:`dynamo.runtime` (the hierarchy), :mod:`dynamo.prometheus_metrics` (the metric
classes and :class:`~dynamo.prometheus_metrics.MetricsError`), :mod:`dynamo.prometheus_names`
(shared metric and label names).
"""
