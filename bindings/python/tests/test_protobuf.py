"""The protobuf page (what Prometheus asks for with native histograms on), decoded with
client_model's own metrics.proto, compiled at test time: the same samples as the text page."""

import importlib.resources
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import samples
from dynamo.runtime import DistributedRuntime

PROMETHEUS_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)


@pytest.fixture(scope="module")
def metrics_pb2(tmp_path_factory):
    """client_model's metrics.proto (tests/proto, Apache-2.0), compiled with protoc."""
    out = tmp_path_factory.mktemp("proto")
    proto_dir = Path(__file__).parent / "proto"
    includes = importlib.resources.files("grpc_tools") / "_proto"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"-I{includes}",
            f"--python_out={out}",
            str(proto_dir / "metrics.proto"),
        ],
        check=True,
    )
    sys.path.insert(0, str(out))
    try:
        import metrics_pb2  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(out))
    return metrics_pb2


@pytest.fixture
def served(monkeypatch):
    monkeypatch.setenv("DYN_SYSTEM_PORT", "0")
    monkeypatch.setenv("DYN_SYSTEM_HOST", "127.0.0.1")
    runtime = DistributedRuntime(process_metrics=False)
    yield runtime
    runtime.shutdown()


def get(runtime, accept):
    host, port = runtime.system_status_server_info()
    request = urllib.request.Request(f"http://{host}:{port}/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def delimited(body: bytes):
    """The messages of a body of varint-length-delimited messages."""
    at = 0
    while at < len(body):
        length, shift = 0, 0
        while True:
            byte = body[at]
            at += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        yield body[at : at + length]
        at += length
    assert at == len(body)


def number(value: float) -> str:
    """A bound or quantile as the text page writes it."""
    return repr(float(value))


def as_samples(families, pb) -> dict:
    """The samples the protobuf families stand for, keyed as conftest's `samples` keys text."""
    out = {}

    def put(name, labels, value):
        key = (name, tuple(sorted(labels.items())))
        assert key not in out, f"{key} twice"
        out[key] = value

    for family in families:
        for metric in family.metric:
            labels = {pair.name: pair.value for pair in metric.label}
            if family.type == pb.COUNTER:
                put(family.name, labels, metric.counter.value)
            elif family.type == pb.GAUGE:
                put(family.name, labels, metric.gauge.value)
            elif family.type == pb.UNTYPED:
                put(family.name, labels, metric.untyped.value)
            elif family.type == pb.SUMMARY:
                for q in metric.summary.quantile:
                    put(family.name, {**labels, "quantile": number(q.quantile)}, q.value)
                put(family.name + "_sum", labels, metric.summary.sample_sum)
                put(family.name + "_count", labels, metric.summary.sample_count)
            elif family.type == pb.HISTOGRAM:
                h = metric.histogram
                for bucket in h.bucket:
                    le = number(bucket.upper_bound)
                    put(family.name + "_bucket", {**labels, "le": le}, bucket.cumulative_count)
                put(family.name + "_bucket", {**labels, "le": number(float("inf"))}, h.sample_count)
                put(family.name + "_sum", labels, h.sample_sum)
                put(family.name + "_count", labels, h.sample_count)
            else:
                raise AssertionError(f"unexpected type {family.type} of {family.name}")
    return out


def test_the_protobuf_page_holds_the_samples_of_the_text_page(served, metrics_pb2):
    metrics = served.namespace("ns").component("comp").endpoint("ep").metrics
    metrics.create_intcounter("requests_total", "Requests.").inc_by(7)
    metrics.create_gauge("load", 'Load, \\ and "quoted".').set(-2.5)
    routes = metrics.create_countervec("routes_total", "Routes.", ["route"])
    routes.inc_by({"route": 'a"b\nc\\d'}, 3)
    routes.inc_by({"route": "café"}, 1.5)
    latency = metrics.create_histogramvec(
        "latency_seconds", "Latency.", ["model"], buckets=[0.1, 1.0, 10.0]
    )
    for value in (0.05, 0.5, 0.5, 5.0, 50.0):
        latency.observe(value, {"model": "m"})
    served.namespace("ns").metrics.register_prometheus_expfmt_callback(
        lambda: (
            '# TYPE rpc summary\nrpc{quantile="0.5"} 2\nrpc{quantile="0.9"} 3\n'
            "rpc_sum 10\nrpc_count 4\nplain_untyped 1.25\n"
        )
    )

    content_type, body = get(served, PROMETHEUS_ACCEPT)
    assert content_type == CONTENT_TYPE
    families = []
    for message in delimited(body):
        family = metrics_pb2.MetricFamily()
        family.ParseFromString(message)
        families.append(family)
    assert len({f.name for f in families}) == len(families)
    by_name = {f.name: f for f in families}
    assert by_name["dynamo_component_requests_total"].type == metrics_pb2.COUNTER
    assert by_name["dynamo_component_load"].help == 'Load, \\ and "quoted".'
    histogram = by_name["dynamo_component_latency_seconds"].metric[0].histogram
    assert [b.cumulative_count for b in histogram.bucket] == [1, 3, 4]
    assert (histogram.sample_count, histogram.sample_sum) == (5, 56.05)

    text_type, text = get(served, "text/plain;version=0.0.4")
    assert text_type.startswith("text/plain; version=0.0.4")
    expected = samples(text.decode())
    got = as_samples(families, metrics_pb2)
    # The runtime's uptime moves between the two scrapes.
    uptime = ("dynamo_component_uptime_seconds", ())
    assert 0 < got.pop(uptime) <= expected.pop(uptime)
    assert got == expected
    assert ("rpc", (("quantile", "0.9"),)) in got
    assert got[("plain_untyped", ())] == 1.25
