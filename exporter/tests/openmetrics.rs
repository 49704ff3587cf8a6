//! The OpenMetrics page of every metric type, and of text read from elsewhere, compared whole.

use dynamo_exporter::exposition::{Format, encode_parsed};
use dynamo_exporter::test_util::assert_openmetrics_parses;
use dynamo_exporter::{NativeHistogram, Opts, Registry, parse};

/// The registry's page in the OpenMetrics text format, once prometheus_client's parser has
/// read it.
fn page(registry: &Registry) -> String {
    let bytes = Format::OpenMetrics.render(|encoder| {
        registry.encode(&[], encoder);
    });
    let page = String::from_utf8(bytes).unwrap();
    assert_openmetrics_parses(&page);
    page
}

/// The OpenMetrics page of families read from `text`, once prometheus_client's parser has
/// read it.
fn parsed_page(text: &str) -> String {
    let families = parse::parse(text).unwrap();
    let page =
        String::from_utf8(Format::OpenMetrics.render(|encoder| encode_parsed(&families, encoder)))
            .unwrap();
    assert_openmetrics_parses(&page);
    page
}

#[test]
fn an_empty_registry_is_the_end_of_the_page_alone() {
    assert_eq!(page(&Registry::new()), "# EOF\n");
    assert_eq!(
        Format::OpenMetrics.content_type(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
}

#[test]
fn counters_are_named_without_total_and_their_samples_with_it() {
    let registry = Registry::new();
    registry
        .int_counter(&Opts::new("jobs_total", "Jobs"))
        .unwrap()
        .inc_by(3);
    registry
        .int_counter(&Opts::new("retries", "Retries"))
        .unwrap()
        .inc();
    registry
        .counter(&Opts::new("bytes_total", "Bytes"))
        .unwrap()
        .inc_by(123.456789);
    registry
        .counter(&Opts::new("seconds", "Seconds"))
        .unwrap()
        .inc_by(2.0);
    registry
        .counter(&Opts::new("large_total", "Large"))
        .unwrap()
        .inc_by(2e6);
    assert_eq!(
        page(&registry),
        concat!(
            "# HELP bytes Bytes\n",
            "# TYPE bytes counter\n",
            "bytes_total 123.456789\n",
            "# HELP jobs Jobs\n",
            "# TYPE jobs counter\n",
            "jobs_total 3\n",
            "# HELP large Large\n",
            "# TYPE large counter\n",
            "large_total 2e+06\n",
            "# HELP retries Retries\n",
            "# TYPE retries counter\n",
            "retries_total 1\n",
            "# HELP seconds Seconds\n",
            "# TYPE seconds counter\n",
            "seconds_total 2.0\n",
            "# EOF\n",
        )
    );
}

#[test]
fn gauges_write_integers_as_integers_and_floats_canonically() {
    let registry = Registry::new();
    registry
        .int_gauge(&Opts::new("queue_depth", "Depth"))
        .unwrap()
        .set(-7);
    let gauges = registry.gauge_vec(&Opts::new("g", "G"), &["v"]).unwrap();
    for (label, value) in [
        ("half", 0.5),
        ("inf", f64::INFINITY),
        ("nan", f64::NAN),
        ("neg", f64::NEG_INFINITY),
        ("small", 1e-7),
        ("whole", 50000.0),
    ] {
        gauges.with_label_values(&[label]).set(value);
    }
    assert_eq!(
        page(&registry),
        concat!(
            "# HELP g G\n",
            "# TYPE g gauge\n",
            "g{v=\"half\"} 0.5\n",
            "g{v=\"inf\"} +Inf\n",
            "g{v=\"nan\"} NaN\n",
            "g{v=\"neg\"} -Inf\n",
            "g{v=\"small\"} 1e-07\n",
            "g{v=\"whole\"} 50000.0\n",
            "# HELP queue_depth Depth\n",
            "# TYPE queue_depth gauge\n",
            "queue_depth -7\n",
            "# EOF\n",
        )
    );
}

#[test]
fn classic_histograms_write_canonical_bounds() {
    let registry = Registry::new();
    let h = registry
        .histogram(
            &Opts::new("request_seconds", "Request time"),
            Some(&[0.005, 0.5, 1.0, 10.0, 1e6]),
        )
        .unwrap();
    for v in [0.25, 1.0, 4.0] {
        h.observe(v);
    }
    assert_eq!(
        page(&registry),
        concat!(
            "# HELP request_seconds Request time\n",
            "# TYPE request_seconds histogram\n",
            "request_seconds_bucket{le=\"0.005\"} 0\n",
            "request_seconds_bucket{le=\"0.5\"} 1\n",
            "request_seconds_bucket{le=\"1.0\"} 2\n",
            "request_seconds_bucket{le=\"10.0\"} 3\n",
            "request_seconds_bucket{le=\"1e+06\"} 3\n",
            "request_seconds_bucket{le=\"+Inf\"} 3\n",
            "request_seconds_sum 5.25\n",
            "request_seconds_count 3\n",
            "# EOF\n",
        )
    );
}

#[test]
fn a_histogram_whose_sum_is_no_counter_keeps_its_buckets_only() {
    let registry = Registry::new();
    let below_zero = registry
        .histogram(&Opts::new("offset", "Offset"), Some(&[-1.0, 0.0, 1.0]))
        .unwrap();
    below_zero.observe(0.5);
    let negative_sum = registry
        .histogram(&Opts::new("delta", "Delta"), Some(&[1.0]))
        .unwrap();
    negative_sum.observe(-2.0);
    assert_eq!(
        page(&registry),
        concat!(
            "# HELP delta Delta\n",
            "# TYPE delta histogram\n",
            "delta_bucket{le=\"1.0\"} 1\n",
            "delta_bucket{le=\"+Inf\"} 1\n",
            "# HELP offset Offset\n",
            "# TYPE offset histogram\n",
            "offset_bucket{le=\"-1.0\"} 0\n",
            "offset_bucket{le=\"0.0\"} 0\n",
            "offset_bucket{le=\"1.0\"} 1\n",
            "offset_bucket{le=\"+Inf\"} 1\n",
            "# EOF\n",
        )
    );
}

#[test]
fn a_native_only_histogram_writes_its_infinite_bucket_count_and_sum() {
    let registry = Registry::new();
    let opts =
        Opts::new("ttft_seconds", "Time to first token").with_native(NativeHistogram::new(1.1));
    let native = registry
        .histogram_vec(&opts, &["model"], Some(&[]))
        .unwrap();
    for v in [0.0, 0.25, 2.0] {
        native.with_label_values(&["m"]).observe(v);
    }
    assert_eq!(
        page(&registry),
        concat!(
            "# HELP ttft_seconds Time to first token\n",
            "# TYPE ttft_seconds histogram\n",
            "ttft_seconds_bucket{model=\"m\",le=\"+Inf\"} 3\n",
            "ttft_seconds_sum{model=\"m\"} 2.25\n",
            "ttft_seconds_count{model=\"m\"} 3\n",
            "# EOF\n",
        )
    );
}

#[test]
fn vecs_escape_label_values_and_help() {
    let registry = Registry::new();
    let opts = Opts::new("requests_total", "Requests to \"/a\\b\"\nby path")
        .with_const_labels(&[("zone", "eu\"1")]);
    let requests = registry.int_counter_vec(&opts, &["path"]).unwrap();
    requests.with_label_values(&["C:\\dir"]).inc();
    requests.with_label_values(&["two\nlines"]).inc_by(2);
    requests.with_label_values(&["say \"hi\""]).inc_by(3);
    let latency = registry
        .histogram_vec(
            &Opts::new("latency_seconds", "Latency"),
            &["path"],
            Some(&[0.1]),
        )
        .unwrap();
    latency.with_label_values(&["a\"b"]).observe(0.05);
    assert_eq!(
        page(&registry),
        concat!(
            "# HELP latency_seconds Latency\n",
            "# TYPE latency_seconds histogram\n",
            "latency_seconds_bucket{path=\"a\\\"b\",le=\"0.1\"} 1\n",
            "latency_seconds_bucket{path=\"a\\\"b\",le=\"+Inf\"} 1\n",
            "latency_seconds_sum{path=\"a\\\"b\"} 0.05\n",
            "latency_seconds_count{path=\"a\\\"b\"} 1\n",
            "# HELP requests Requests to \\\"/a\\\\b\\\"\\nby path\n",
            "# TYPE requests counter\n",
            "requests_total{path=\"C:\\\\dir\",zone=\"eu\\\"1\"} 1\n",
            "requests_total{path=\"say \\\"hi\\\"\",zone=\"eu\\\"1\"} 3\n",
            "requests_total{path=\"two\\nlines\",zone=\"eu\\\"1\"} 2\n",
            "# EOF\n",
        )
    );
}

#[test]
fn text_read_from_elsewhere_is_converted() {
    let text = concat!(
        "# HELP engine_requests_total Requests \"served\"\n",
        "# TYPE engine_requests_total counter\n",
        "engine_requests_total{model=\"m\"} 12\n",
        "# TYPE engine_tokens counter\n",
        "engine_tokens 5.5\n",
        "# TYPE engine_cache_ratio gauge\n",
        "engine_cache_ratio 0.5 1700000000123\n",
        "engine_untyped_thing{kind=\"x\\ny\"} 3\n",
        "# HELP engine_latency_seconds Latency\n",
        "# TYPE engine_latency_seconds histogram\n",
        "engine_latency_seconds_bucket{le=\"+Inf\"} 4\n",
        "engine_latency_seconds_bucket{le=\"1\"} 3\n",
        "engine_latency_seconds_bucket{le=\"0.25\"} 1\n",
        "engine_latency_seconds_sum 2.5\n",
        "engine_latency_seconds_count 4\n",
        "# HELP engine_step_seconds Step time\n",
        "# TYPE engine_step_seconds summary\n",
        "engine_step_seconds{quantile=\"0.5\"} 0.012\n",
        "engine_step_seconds{quantile=\"0.99\"} 1200000\n",
        "engine_step_seconds{quantile=\"1\"} 2\n",
        "engine_step_seconds_sum 40\n",
        "engine_step_seconds_count 1000\n",
    );
    assert_eq!(
        parsed_page(text),
        concat!(
            "# HELP engine_requests Requests \\\"served\\\"\n",
            "# TYPE engine_requests counter\n",
            "engine_requests_total{model=\"m\"} 12.0\n",
            "# TYPE engine_tokens counter\n",
            "engine_tokens_total 5.5\n",
            "# TYPE engine_cache_ratio gauge\n",
            "engine_cache_ratio 0.5 1700000000.123\n",
            "# TYPE engine_untyped_thing unknown\n",
            "engine_untyped_thing{kind=\"x\\ny\"} 3.0\n",
            "# HELP engine_latency_seconds Latency\n",
            "# TYPE engine_latency_seconds histogram\n",
            "engine_latency_seconds_bucket{le=\"0.25\"} 1\n",
            "engine_latency_seconds_bucket{le=\"1.0\"} 3\n",
            "engine_latency_seconds_bucket{le=\"+Inf\"} 4\n",
            "engine_latency_seconds_sum 2.5\n",
            "engine_latency_seconds_count 4\n",
            "# HELP engine_step_seconds Step time\n",
            "# TYPE engine_step_seconds summary\n",
            "engine_step_seconds{quantile=\"0.5\"} 0.012\n",
            "engine_step_seconds{quantile=\"0.99\"} 1.2e+06\n",
            "engine_step_seconds{quantile=\"1.0\"} 2.0\n",
            "engine_step_seconds_sum 40.0\n",
            "engine_step_seconds_count 1000\n",
            "# EOF\n",
        )
    );
}

#[test]
fn created_gauges_of_the_python_client_are_left_out_beside_their_family() {
    // prometheus_client's text format: a `_created` gauge beside each counter and histogram.
    let text = concat!(
        "# HELP http_requests_created Requests\n",
        "# TYPE http_requests_created gauge\n",
        "http_requests_created{code=\"200\"} 1.7e+09\n",
        "# HELP http_requests_total Requests\n",
        "# TYPE http_requests_total counter\n",
        "http_requests_total{code=\"200\"} 1.0\n",
        "# HELP latency_seconds Latency\n",
        "# TYPE latency_seconds histogram\n",
        "latency_seconds_bucket{le=\"+Inf\"} 1.0\n",
        "latency_seconds_count 1.0\n",
        "latency_seconds_sum 0.5\n",
        "# HELP latency_seconds_created Latency\n",
        "# TYPE latency_seconds_created gauge\n",
        "latency_seconds_created 1.7e+09\n",
        "# TYPE lonely_created gauge\n",
        "lonely_created 5\n",
    );
    assert_eq!(
        parsed_page(text),
        concat!(
            "# HELP http_requests Requests\n",
            "# TYPE http_requests counter\n",
            "http_requests_total{code=\"200\"} 1.0\n",
            "# HELP latency_seconds Latency\n",
            "# TYPE latency_seconds histogram\n",
            "latency_seconds_bucket{le=\"+Inf\"} 1\n",
            "latency_seconds_sum 0.5\n",
            "latency_seconds_count 1\n",
            "# TYPE lonely_created gauge\n",
            "lonely_created 5.0\n",
            "# EOF\n",
        )
    );
}
