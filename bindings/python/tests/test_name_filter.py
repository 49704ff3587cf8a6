"""``/metrics?name[]=...`` serves only the named families, as prometheus_client's own server
does, and prometheus_client's parser reads the page."""

from prometheus_client.parser import text_string_to_metric_families

from conftest import fetch


def scrape(runtime, query):
    return fetch(runtime, query=query)[1].decode()


def test_name_parameters_restrict_the_page_to_those_families(served):
    metrics = served.namespace("ns").component("comp").endpoint("ep").metrics
    metrics.create_intcounter("requests_total", "Requests").inc_by(3)
    metrics.create_histogram("latency_seconds", "Latency", buckets=[0.5]).observe(0.25)
    metrics.create_intgauge("slots", "Slots").set(8)
    engine_text = "# TYPE engine_queue gauge\nengine_queue 4\n"
    metrics.register_prometheus_expfmt_callback(lambda: engine_text)

    text = scrape(
        served,
        "name[]=dynamo_component_requests_total"
        "&name%5B%5D=dynamo_component_latency_seconds_bucket&name[]=engine_queue",
    )
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # prometheus_client names a counter's family without its `_total`.
    assert sorted(families) == [
        "dynamo_component_latency_seconds",
        "dynamo_component_requests",
        "engine_queue",
    ]
    histogram = families["dynamo_component_latency_seconds"]
    assert [s.name for s in histogram.samples] == [
        "dynamo_component_latency_seconds_bucket",
        "dynamo_component_latency_seconds_bucket",
        "dynamo_component_latency_seconds_sum",
        "dynamo_component_latency_seconds_count",
    ]
    assert families["dynamo_component_requests"].samples[0].value == 3
    assert families["engine_queue"].samples[0].value == 4

    assert scrape(served, "name[]=no_such_family") == ""
