"""The protobuf page (what Prometheus asks for with native histograms on), decoded with
client_model's own metrics.proto, compiled at test time: the same samples as the text page."""

import importlib.resources
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import fetch, samples

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


def get(runtime, accept):
    return fetch(runtime, accept)


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


NATIVE_ZERO_THRESHOLD = 2.0**-128
"""The zero threshold of a native histogram that sets none (client_golang's default)."""


def native_index(value: float) -> int:
    """The schema-3 bucket of a magnitude: ``i`` with ``2^((i-1)/8) < value <= 2^(i/8)``."""
    index = math.ceil(math.log2(value) * 8)
    while 2.0 ** ((index - 1) / 8) >= value:
        index -= 1
    while 2.0 ** (index / 8) < value:
        index += 1
    return index


def native_buckets(values) -> tuple[int, Counter, Counter]:
    """The zero count and the positive and negative buckets of ``values`` at schema 3."""
    zero, positive, negative = 0, Counter(), Counter()
    for value in values:
        if abs(value) <= NATIVE_ZERO_THRESHOLD:
            zero += 1
        elif value > 0:
            positive[native_index(value)] += 1
        else:
            negative[native_index(-value)] += 1
    return zero, positive, negative


def read_buckets(spans, deltas) -> dict[int, int]:
    """The populated buckets that spans and deltas stand for, checked against the rules
    client_golang writes them by: the first span's offset is its first index, a following
    span's offset the gap since the one before (more than two buckets, since gaps of one or
    two are filled with empty buckets), no span is empty or begins or ends with an empty
    bucket, and each delta is a bucket's count less the one before it."""
    assert len(deltas) == sum(span.length for span in spans)
    buckets, index, count, at = {}, 0, 0, 0
    for n, span in enumerate(spans):
        assert span.length > 0
        assert n == 0 or span.offset > 2, [(s.offset, s.length) for s in spans]
        index += span.offset
        counts = []
        for delta in deltas[at : at + span.length]:
            count += delta
            assert count >= 0
            counts.append(count)
        at += span.length
        assert counts[0] > 0 and counts[-1] > 0, counts
        empty_run = 0
        for count_at in counts:
            empty_run = empty_run + 1 if count_at == 0 else 0
            assert empty_run <= 2, counts
        for count_at in counts:
            if count_at:
                buckets[index] = count_at
            index += 1
    return buckets


def decoded(body: bytes, pb) -> dict:
    """The families of a protobuf page by name."""
    families = {}
    for message in delimited(body):
        family = pb.MetricFamily()
        family.ParseFromString(message)
        assert family.name not in families
        families[family.name] = family
    return families


def test_native_histograms_carry_schema_zero_bucket_spans_and_deltas(served, metrics_pb2):
    metrics = served.namespace("ns").component("comp").endpoint("ep").metrics
    reference = metrics.create_histogram(
        "reference_seconds", "Reference.", buckets=[], native_bucket_factor=1.1
    )
    for value in (0, 1, 2, 3):
        reference.observe(value)
    metrics.create_histogram("idle_seconds", "Idle.", buckets=[], native_bucket_factor=1.1)
    metrics.create_histogram(
        "idle_zero_seconds",
        "Idle, zero threshold 0.",
        buckets=[],
        native_bucket_factor=1.1,
        native_zero_threshold=0.0,
    )
    rng = random.Random(20240607)

    def spread(count):
        # Magnitudes over four decades, both signs, and a few exact zeros.
        values = [rng.choice((-1, 1)) * 10 ** rng.uniform(-2, 2) for _ in range(count)]
        return values + [0.0] * rng.randint(1, 3)

    observed = {("reference_seconds", ()): [0, 1, 2, 3], ("idle_seconds", ()): []}
    hybrid = metrics.create_histogram(
        "hybrid_seconds", "Hybrid.", buckets=[-1.0, 0.5, 5.0], native_bucket_factor=1.1
    )
    observed["hybrid_seconds", ()] = spread(60)
    for value in observed["hybrid_seconds", ()]:
        hybrid.observe(value)
    vec = metrics.create_histogramvec(
        "shards_seconds", "Per shard.", ["shard"], buckets=[], native_bucket_factor=1.1
    )
    for shard in ("a", "b"):
        observed["shards_seconds", (("shard", shard),)] = values = spread(50)
        for value in values:
            vec.observe(value, {"shard": shard})

    content_type, body = get(served, PROMETHEUS_ACCEPT)
    assert content_type == CONTENT_TYPE
    families = decoded(body, metrics_pb2)
    text = samples(get(served, "text/plain;version=0.0.4")[1].decode())

    def histogram(name, labels=()):
        family = families["dynamo_component_" + name]
        assert family.type == metrics_pb2.HISTOGRAM
        for metric in family.metric:
            own = {p.name: p.value for p in metric.label if not p.name.startswith("dynamo_")}
            if own == dict(labels):
                return metric.histogram, {p.name: p.value for p in metric.label}
        raise AssertionError(f"no series {labels} of {name}")

    # client_golang's TestNativeHistogram, "factor 1.1 results in schema 3".
    h, _ = histogram("reference_seconds")
    assert (h.schema, h.zero_threshold, h.zero_count) == (3, NATIVE_ZERO_THRESHOLD, 1)
    assert [(s.offset, s.length) for s in h.positive_span] == [(0, 1), (7, 1), (4, 1)]
    assert list(h.positive_delta) == [1, 0, 0]
    assert (h.sample_count, h.sample_sum) == (4, 6)
    assert not h.negative_span and not h.negative_delta and not h.bucket

    # Nothing observed: no spans, unless the zero threshold is 0 (then one of length 0).
    h, _ = histogram("idle_seconds")
    assert (h.schema, h.zero_threshold, h.sample_count) == (3, NATIVE_ZERO_THRESHOLD, 0)
    assert h.HasField("zero_count") and h.zero_count == 0
    assert not h.positive_span and not h.negative_span
    h, _ = histogram("idle_zero_seconds")
    assert (h.schema, h.zero_threshold, h.sample_count) == (3, 0.0, 0)
    assert h.HasField("zero_threshold")
    assert [(s.offset, s.length) for s in h.positive_span] == [(0, 0)]
    assert not h.positive_delta and not h.negative_span

    for (name, labels), values in observed.items():
        h, all_labels = histogram(name, labels)
        zero, positive, negative = native_buckets(values)
        assert (h.schema, h.zero_threshold, h.zero_count) == (3, NATIVE_ZERO_THRESHOLD, zero)
        assert read_buckets(h.positive_span, h.positive_delta) == positive, name
        assert read_buckets(h.negative_span, h.negative_delta) == negative, name
        # No NaN observed: the count is the zero bucket and every bucket.
        assert h.sample_count == zero + sum(positive.values()) + sum(negative.values())
        assert h.sample_count == len(values)
        key = tuple(sorted(all_labels.items()))
        prefix = "dynamo_component_" + name
        assert h.sample_count == text[prefix + "_count", key]
        assert h.sample_sum == text[prefix + "_sum", key]
        assert h.sample_sum == pytest.approx(math.fsum(values), rel=1e-9, abs=1e-9)

    h, _ = histogram("hybrid_seconds")
    values = observed["hybrid_seconds", ()]
    assert [(b.upper_bound, b.cumulative_count) for b in h.bucket] == [
        (bound, sum(v <= bound for v in values)) for bound in (-1.0, 0.5, 5.0)
    ]
    h, _ = histogram("shards_seconds", (("shard", "a"),))
    assert not h.bucket


def test_request_metrics_keep_native_buckets_when_asked(served, metrics_pb2):
    endpoint = served.namespace("ns").component("comp").endpoint("ep")
    endpoint.create_request_metrics(duration_buckets=[0.1, 1.0], native_bucket_factor=1.1)

    @endpoint.track_requests
    def handle():
        return "done"

    for _ in range(3):
        handle()
    families = decoded(get(served, PROMETHEUS_ACCEPT)[1], metrics_pb2)
    (metric,) = families["dynamo_component_request_duration_seconds"].metric
    h = metric.histogram
    # Schema 3, every request counted once, in the zero bucket or a positive bucket, and the
    # classic buckets as given.
    assert h.schema == 3
    assert (
        h.sample_count
        == 3
        == h.zero_count + sum(read_buckets(h.positive_span, h.positive_delta).values())
    )
    assert [b.upper_bound for b in h.bucket] == [0.1, 1.0]
    assert h.bucket[-1].cumulative_count == 3
    # Without the factor, request metrics stay classic: no native field is written.
    other = served.namespace("ns").component("comp").endpoint("plain")
    other.create_request_metrics()
    for _ in range(2):
        with other.track_request():
            pass
    families = decoded(get(served, PROMETHEUS_ACCEPT)[1], metrics_pb2)
    plain = [
        m.histogram
        for m in families["dynamo_component_request_duration_seconds"].metric
        if any(p.value == "plain" for p in m.label)
    ]
    assert len(plain) == 1 and not plain[0].HasField("schema") and not plain[0].positive_span
