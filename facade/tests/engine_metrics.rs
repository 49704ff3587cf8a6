//! Engine pass-through: an engine's exposition text served on the page, filtered by family
//! name, with the hierarchy labels and chosen labels added where a sample lacks them, each
//! family once however many levels register the source.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{assert_promtool_accepts, assert_promtool_accepts_allowing};
use dynamo_runtime::{
    DistributedRuntime, EngineFilter, EngineSource, MetricsError, RuntimeBuilder,
};

/// What a vLLM worker's `prometheus_client` registry writes, trimmed: a counter, gauges and a
/// histogram with their own labels, and the client's own process and Python families.
const VLLM_TEXT: &str = concat!(
    "# HELP python_gc_objects_collected_total Objects collected during gc\n",
    "# TYPE python_gc_objects_collected_total counter\n",
    "python_gc_objects_collected_total{generation=\"0\"} 120.0\n",
    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n",
    "# TYPE process_cpu_seconds_total counter\n",
    "process_cpu_seconds_total 3.5\n",
    "# HELP vllm:num_requests_running Number of requests in model execution batches.\n",
    "# TYPE vllm:num_requests_running gauge\n",
    "vllm:num_requests_running{engine=\"0\",model_name=\"llama\"} 2.0\n",
    "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n",
    "# TYPE vllm:prompt_tokens_total counter\n",
    "vllm:prompt_tokens_total{engine=\"0\",model_name=\"llama\"} 1234.0\n",
    "vllm:prompt_tokens_total{engine=\"1\",model_name=\"llama\",worker_id=\"own\"} 10.0\n",
    "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n",
    "# TYPE vllm:time_to_first_token_seconds histogram\n",
    "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.1\",model_name=\"llama\"} 3.0\n",
    "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"llama\"} 4.0\n",
    "vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"llama\"} 4.0\n",
    "vllm:time_to_first_token_seconds_sum{engine=\"0\",model_name=\"llama\"} 0.95\n",
    "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n",
    "# TYPE vllm:cache_config_info gauge\n",
    "vllm:cache_config_info{block_size=\"16\"} 1.0\n",
    "# HELP http_requests_total Requests to the engine's own HTTP server\n",
    "# TYPE http_requests_total counter\n",
    "http_requests_total{code=\"200\"} 7.0\n",
);

/// promtool's lint about `:` in names, which vLLM's and SGLang's names have (the format allows
/// them).
const COLON_LINT: &str = "metric names should not contain ':'";

fn builder() -> RuntimeBuilder {
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| Duration::from_secs(2))
}

fn vllm() -> EngineSource {
    EngineSource::new(|| Ok::<_, String>(VLLM_TEXT.to_string()))
}

fn vllm_filter() -> EngineFilter {
    EngineFilter::new()
        .with_include_prefix("vllm:")
        .with_exclude_prefix("vllm:cache_config")
        .with_label("model", "llama-3-8b")
        .with_label("worker_id", "w7")
}

#[test]
fn serves_the_engine_families_filtered_and_labelled() {
    let runtime = builder()
        .const_labels(&[("cluster", "us-west")])
        .build()
        .unwrap();
    let endpoint = runtime
        .namespace("dynamo")
        .component("backend")
        .endpoint("generate");
    endpoint
        .metrics()
        .register_engine_metrics(&vllm(), vllm_filter())
        .unwrap();
    // Every series' labels sorted by name, `le` last, `_sum` before `_count`: as the page's
    // own series are written.
    let hierarchy = concat!(
        "cluster=\"us-west\",dynamo_component=\"backend\",dynamo_endpoint=\"generate\",",
        "dynamo_namespace=\"dynamo\""
    );
    let first = format!(
        "{hierarchy},engine=\"0\",model=\"llama-3-8b\",model_name=\"llama\",worker_id=\"w7\""
    );
    let engine_text = [
        "# HELP vllm:num_requests_running Number of requests in model execution batches.".to_string(),
        "# TYPE vllm:num_requests_running gauge".into(),
        format!("vllm:num_requests_running{{{first}}} 2"),
        "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.".into(),
        "# TYPE vllm:prompt_tokens_total counter".into(),
        format!("vllm:prompt_tokens_total{{{first}}} 1234"),
        format!("vllm:prompt_tokens_total{{{hierarchy},engine=\"1\",model=\"llama-3-8b\",model_name=\"llama\",worker_id=\"own\"}} 10"),
        "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.".into(),
        "# TYPE vllm:time_to_first_token_seconds histogram".into(),
        format!("vllm:time_to_first_token_seconds_bucket{{{first},le=\"0.1\"}} 3"),
        format!("vllm:time_to_first_token_seconds_bucket{{{first},le=\"+Inf\"}} 4"),
        format!("vllm:time_to_first_token_seconds_sum{{{first}}} 0.95"),
        format!("vllm:time_to_first_token_seconds_count{{{first}}} 4"),
    ]
    .map(|line| line + "\n")
    .concat();
    assert_eq!(endpoint.metrics().prometheus_expfmt().unwrap(), engine_text);

    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(page.ends_with(&engine_text), "{page}");
    assert!(
        page.starts_with(
            "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds\n"
        ),
        "{page}"
    );
    assert_promtool_accepts_allowing(&page, &[COLON_LINT]);
    // Another endpoint's scrape does not run it.
    let other = runtime
        .namespace("dynamo")
        .component("backend")
        .endpoint("clear");
    assert_eq!(other.metrics().prometheus_expfmt().unwrap(), "");
}

#[test]
fn without_filter_every_family_but_process_and_python_ones_joins_with_the_level_labels() {
    let runtime = builder().build().unwrap();
    let text = concat!(
        "# TYPE process_open_fds gauge\n",
        "process_open_fds 9\n",
        "# TYPE python_info gauge\n",
        "python_info{version=\"3.12\"} 1\n",
        "# TYPE engine_up gauge\n",
        "engine_up 1\n",
    );
    let source = EngineSource::new(move || Ok::<_, String>(text.into()));
    let ns = runtime.namespace("ns");
    ns.metrics()
        .register_engine_metrics(&source, EngineFilter::new())
        .unwrap();
    assert_eq!(
        ns.metrics().prometheus_expfmt().unwrap(),
        "# TYPE engine_up gauge\nengine_up{dynamo_namespace=\"ns\"} 1\n"
    );
    let all = runtime.namespace("all");
    all.metrics()
        .register_engine_metrics(
            &source.clone(),
            EngineFilter::new().with_process_families(true),
        )
        .unwrap();
    assert_eq!(
        all.metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# TYPE process_open_fds gauge\n",
            "process_open_fds{dynamo_namespace=\"all\"} 9\n",
            "# TYPE python_info gauge\n",
            "python_info{dynamo_namespace=\"all\",version=\"3.12\"} 1\n",
            "# TYPE engine_up gauge\n",
            "engine_up{dynamo_namespace=\"all\"} 1\n",
        )
    );
}

#[test]
fn a_source_registered_at_several_levels_is_read_once_and_shows_each_family_once() {
    let runtime = builder().build().unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&reads);
    let source = EngineSource::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok::<_, String>("# TYPE sglang:num_running_reqs gauge\nsglang:num_running_reqs 3\n".into())
    });
    let ns = runtime.namespace("ns");
    let endpoint = ns.component("sglang").endpoint("generate");
    let at_namespace = ns
        .metrics()
        .register_engine_metrics(
            &source,
            EngineFilter::new().with_label("level", "namespace"),
        )
        .unwrap();
    endpoint
        .metrics()
        .register_engine_metrics(
            &source.clone(),
            EngineFilter::new().with_label("level", "endpoint"),
        )
        .unwrap();
    let runtime_text = |runtime: &DistributedRuntime| {
        runtime
            .metrics()
            .prometheus_expfmt()
            .unwrap()
            .lines()
            .filter(|line| line.contains("sglang"))
            .map(|line| format!("{line}\n"))
            .collect::<String>()
    };
    // The first registration due wins: the namespace's.
    assert_eq!(
        runtime_text(&runtime),
        concat!(
            "# TYPE sglang:num_running_reqs gauge\n",
            "sglang:num_running_reqs{dynamo_namespace=\"ns\",level=\"namespace\"} 3\n",
        )
    );
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    // A scrape of the endpoint alone runs the endpoint's registration.
    assert_eq!(
        endpoint.metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# TYPE sglang:num_running_reqs gauge\n",
            "sglang:num_running_reqs{dynamo_component=\"sglang\",dynamo_endpoint=\"generate\",",
            "dynamo_namespace=\"ns\",level=\"endpoint\"} 3\n",
        )
    );
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    // Once the namespace's is gone, the endpoint's shows on the whole page.
    assert!(at_namespace.unregister());
    assert_eq!(
        runtime_text(&runtime),
        concat!(
            "# TYPE sglang:num_running_reqs gauge\n",
            "sglang:num_running_reqs{dynamo_component=\"sglang\",dynamo_endpoint=\"generate\",",
            "dynamo_namespace=\"ns\",level=\"endpoint\"} 3\n",
        )
    );
    // Had a registration's text joined the page twice, the second would have been dropped.
    assert!(
        runtime
            .metrics()
            .prometheus_expfmt()
            .unwrap()
            .contains("dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 0\n")
    );
}

#[test]
fn sources_made_apart_with_the_same_key_are_one_source() {
    let runtime = builder().build().unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let keyed = |key: u64, value: u32| {
        let counted = Arc::clone(&reads);
        EngineSource::with_key(key, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(format!("# TYPE trt_up gauge\ntrt_up {value}\n"))
        })
    };
    let ns = runtime.namespace("ns");
    for (source, level) in [(keyed(42, 1), "first"), (keyed(42, 2), "second")] {
        ns.metrics()
            .register_engine_metrics(&source, EngineFilter::new().with_label("level", level))
            .unwrap();
    }
    assert_eq!(
        ns.metrics().prometheus_expfmt().unwrap(),
        "# TYPE trt_up gauge\ntrt_up{dynamo_namespace=\"ns\",level=\"first\"} 1\n"
    );
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    // Another key, or a source of its own, is another source: its family clashes.
    ns.metrics()
        .register_engine_metrics(&keyed(43, 3), EngineFilter::new())
        .unwrap();
    ns.metrics()
        .register_engine_metrics(
            &EngineSource::new(|| Ok::<_, String>("trt_up 4\n".into())),
            EngineFilter::new(),
        )
        .unwrap();
    assert_eq!(
        ns.metrics().prometheus_expfmt().unwrap(),
        "# TYPE trt_up gauge\ntrt_up{dynamo_namespace=\"ns\",level=\"first\"} 1\n"
    );
    assert_eq!(reads.load(Ordering::SeqCst), 3);
}

#[test]
fn text_that_would_spoil_the_page_is_left_off_and_counted() {
    let runtime = builder().process_metrics(true).build().unwrap();
    let ns = runtime.namespace("ns");
    // Another source with a family of the first: its whole text is left off.
    for text in [
        "# HELP engine_up Up\n# TYPE engine_up gauge\nengine_up 1\n",
        "# TYPE engine_up gauge\nengine_up 2\n# TYPE engine_other gauge\nengine_other 2\n",
    ] {
        ns.metrics()
            .register_engine_metrics(
                &EngineSource::new(move || Ok::<_, String>(text.into())),
                EngineFilter::new(),
            )
            .unwrap();
    }
    // `process_*` families kept on purpose clash with the runtime's own.
    runtime
        .metrics()
        .register_engine_metrics(
            &EngineSource::new(|| Ok::<_, String>("process_open_fds 3\n".into())),
            EngineFilter::new().with_process_families(true),
        )
        .unwrap();
    // Added labels that make two series the same.
    runtime
        .metrics()
        .register_engine_metrics(
            &EngineSource::new(|| {
                Ok::<_, String>("twins{a=\"1\"} 1\ntwins{a=\"1\",model=\"m\"} 2\n".into())
            }),
            EngineFilter::new().with_label("model", "m"),
        )
        .unwrap();
    // Text that does not parse, and a source that fails.
    runtime
        .metrics()
        .register_engine_metrics(
            &EngineSource::new(|| Ok::<_, String>("not { metrics\n".into())),
            EngineFilter::new(),
        )
        .unwrap();
    runtime
        .metrics()
        .register_engine_metrics(
            &EngineSource::new(|| Err::<String, _>("engine is down")),
            EngineFilter::new(),
        )
        .unwrap();
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(
        page.contains("engine_up{dynamo_namespace=\"ns\"} 1\n"),
        "{page}"
    );
    assert!(!page.contains("engine_other"), "{page}");
    assert!(!page.contains("twins"), "{page}");
    assert_eq!(page.matches("\nprocess_open_fds ").count(), 1, "{page}");
    assert_promtool_accepts(&page);
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(
        page.contains("dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 3\n"),
        "{page}"
    );
    assert!(
        page.contains("dynamo_metrics_callback_text_dropped_total{reason=\"invalid\"} 1\n"),
        "{page}"
    );
}

#[test]
fn bad_labels_of_a_filter_are_refused_naming_them() {
    let runtime = builder().build().unwrap();
    let metrics = runtime.namespace("ns").metrics();
    let error = metrics
        .register_engine_metrics(
            &vllm(),
            EngineFilter::new().with_label("dynamo_namespace", "x"),
        )
        .unwrap_err();
    assert!(
        matches!(
            &error,
            MetricsError::InvalidSetting {
                setting: "EngineFilter::with_label",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "EngineFilter::with_label(\"dynamo_namespace=x\") is invalid: label names starting with \
         `dynamo_` are reserved for the labels the library adds (such as `dynamo_namespace`)"
    );
    let error = metrics
        .register_engine_metrics(&vllm(), EngineFilter::new().with_label("model name", "x"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "EngineFilter::with_label(\"model name=x\") is invalid: invalid label name \"model name\": \
         only ASCII letters, digits and '_' are allowed"
    );
    for filter in [
        EngineFilter::new().with_label("le", "1"),
        EngineFilter::new().with_label("__x", "1"),
        EngineFilter::new().with_label("", "1"),
        EngineFilter::new()
            .with_label("model", "a")
            .with_label("model", "b"),
    ] {
        assert!(
            matches!(
                metrics.register_engine_metrics(&vllm(), filter.clone()),
                Err(MetricsError::InvalidSetting { .. })
            ),
            "{filter:?}"
        );
    }
    assert_eq!(
        metrics.prometheus_expfmt().unwrap(),
        "",
        "nothing was registered"
    );
    let error = runtime
        .namespace("--")
        .metrics()
        .register_engine_metrics(&vllm(), EngineFilter::new())
        .unwrap_err();
    assert!(
        matches!(error, MetricsError::InvalidHierarchyName { .. }),
        "{error:?}"
    );
}

/// `bytes` of exposition text: one gauge family, padded with a comment to the exact size.
fn text_of_size(family: &str, bytes: usize) -> String {
    let mut text = format!("# HELP {family} Padded\n# TYPE {family} gauge\n{family} 1\n# ");
    assert!(bytes > text.len(), "{bytes} bytes cannot hold {family}");
    text.push_str(&"x".repeat(bytes - text.len() - 1));
    text.push('\n');
    assert_eq!(text.len(), bytes);
    text
}

#[test]
fn text_past_the_size_limit_is_dropped_and_counted_and_the_page_stays_valid() {
    const LIMIT: usize = 1024;
    let runtime = builder().max_callback_text_bytes(LIMIT).build().unwrap();
    let ns = runtime.namespace("ns");
    // At the limit: joins the page.
    let fits = text_of_size("engine_fits", LIMIT);
    ns.metrics()
        .register_engine_metrics(
            &EngineSource::new(move || Ok::<_, String>(fits.clone())),
            EngineFilter::new(),
        )
        .unwrap();
    // One byte past it, from a plain exposition callback: dropped.
    let over = text_of_size("callback_over", LIMIT + 1);
    ns.metrics()
        .register_prometheus_expfmt_callback(move || Ok::<_, String>(over.clone()));
    // A runaway engine returning 50 MB of series: dropped before it is parsed.
    let runaway: Arc<String> = Arc::new({
        let mut text = String::from("# TYPE engine_runaway gauge\n");
        let mut series = 0u64;
        while text.len() < 50 << 20 {
            text.push_str(&format!("engine_runaway{{request=\"{series}\"}} 1\n"));
            series += 1;
        }
        text
    });
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&reads);
    ns.metrics()
        .register_engine_metrics(
            &EngineSource::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(runaway.as_ref().clone())
            }),
            EngineFilter::new(),
        )
        .unwrap();
    let expected_ns = concat!(
        "# HELP engine_fits Padded\n",
        "# TYPE engine_fits gauge\n",
        "engine_fits{dynamo_namespace=\"ns\"} 1\n",
    );
    assert_eq!(ns.metrics().prometheus_expfmt().unwrap(), expected_ns);
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "the engine is read at each scrape"
    );
    assert_eq!(
        page,
        concat!(
            "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds\n",
            "# TYPE dynamo_component_uptime_seconds gauge\n",
            "dynamo_component_uptime_seconds 2\n",
            "# HELP dynamo_metrics_callback_text_dropped_total Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit\n",
            "# TYPE dynamo_metrics_callback_text_dropped_total counter\n",
            "dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 0\n",
            "dynamo_metrics_callback_text_dropped_total{reason=\"invalid\"} 0\n",
            "dynamo_metrics_callback_text_dropped_total{reason=\"too_large\"} 2\n",
            "# HELP dynamo_metrics_macro_rejections_total Metric macro calls refused because they broke a naming rule or conflicted with a registered metric\n",
            "# TYPE dynamo_metrics_macro_rejections_total counter\n",
            "dynamo_metrics_macro_rejections_total 0\n",
            "# HELP engine_fits Padded\n",
            "# TYPE engine_fits gauge\n",
            "engine_fits{dynamo_namespace=\"ns\"} 1\n",
        )
    );
    assert_promtool_accepts(&page);
}

#[test]
fn the_text_size_limit_is_a_setting_with_a_default_and_a_maximum() {
    let defaults = dynamo_runtime::MetricsConfig::from_lookup(|_| None).unwrap();
    assert_eq!(defaults.max_callback_text_bytes(), 4 << 20);
    let read = |value: &'static str| {
        dynamo_runtime::MetricsConfig::from_lookup(move |var| {
            (var == "DYN_METRICS_MAX_CALLBACK_TEXT_BYTES").then(|| value.to_string())
        })
    };
    assert_eq!(read("1024").unwrap().max_callback_text_bytes(), 1024);
    assert_eq!(
        read("268435456").unwrap().max_callback_text_bytes(),
        256 << 20
    );
    for bad in ["0", "268435457", "18446744073709551615", "4MiB", "-1"] {
        assert_eq!(
            read(bad).unwrap_err().to_string(),
            format!(
                "DYN_METRICS_MAX_CALLBACK_TEXT_BYTES={bad:?} is invalid: expected a whole number \
                 of bytes from 1 to 268435456 (256 MiB)"
            )
        );
    }
    for bad in [0, (256 << 20) + 1] {
        let error = builder().max_callback_text_bytes(bad).build().unwrap_err();
        assert!(
            matches!(
                error,
                MetricsError::InvalidSetting {
                    setting: "RuntimeBuilder::max_callback_text_bytes",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "RuntimeBuilder::max_callback_text_bytes({bad}) is invalid: expected a whole \
                 number of bytes from 1 to 268435456 (256 MiB)"
            )
        );
    }
}

/// A file of a `prometheus_client` multiprocess directory holding `entries` (key, value).
fn multiprocess_file(entries: &[(&str, f64)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in entries {
        body.extend_from_slice(&i32::try_from(key.len()).unwrap().to_ne_bytes());
        body.extend_from_slice(key.as_bytes());
        body.resize(body.len() + (8 - (key.len() + 4) % 8), b' ');
        body.extend_from_slice(&value.to_ne_bytes());
        body.extend_from_slice(&0.0_f64.to_ne_bytes());
    }
    let mut file = i32::try_from(8 + body.len())
        .unwrap()
        .to_ne_bytes()
        .to_vec();
    file.extend_from_slice(&[0; 4]);
    file.extend_from_slice(&body);
    file.resize(4096, 0);
    file
}

#[test]
fn a_multiprocess_directory_is_merged_filtered_labelled_and_its_bad_files_counted() {
    let dir = std::env::temp_dir().join(format!("engine-multiproc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = r#"["vllm:tokens", "vllm:tokens_total", {"model_name": "m"}, "Tokens."]"#;
    let other = r#"["other", "other_total", {}, "Other."]"#;
    for pid in [11, 12] {
        std::fs::write(
            dir.join(format!("counter_{pid}.db")),
            multiprocess_file(&[(tokens, f64::from(pid)), (other, 1.0)]),
        )
        .unwrap();
    }
    let running = r#"["vllm:running", "vllm:running", {}, "Running."]"#;
    // No process has this pid: its live gauge is left out.
    std::fs::write(
        dir.join("gauge_livesum_4194304999.db"),
        multiprocess_file(&[(running, 1.0)]),
    )
    .unwrap();
    std::fs::write(
        dir.join("gauge_all_11.db"),
        &multiprocess_file(&[(running, 1.0)])[..30],
    )
    .unwrap();

    let runtime = builder().build().unwrap();
    let ns = runtime.namespace("ns");
    let worker = ns.component("worker");
    let source = EngineSource::multiprocess_dir(&dir);
    let filter = || EngineFilter::new().with_include_prefix("vllm:");
    ns.metrics()
        .register_engine_metrics(&source, filter())
        .unwrap();
    // Made apart for the same directory: the same source, shown once.
    worker
        .metrics()
        .register_engine_metrics(&EngineSource::multiprocess_dir(&dir), filter())
        .unwrap();
    let page = ns.metrics().prometheus_expfmt().unwrap();
    assert!(
        page.contains("vllm:tokens_total{dynamo_namespace=\"ns\",model_name=\"m\"} 23\n"),
        "{page}"
    );
    assert_eq!(page.matches("vllm:tokens_total{").count(), 1, "{page}");
    assert!(!page.contains("other_total"), "{page}");
    assert!(!page.contains("vllm:running"), "{page}");
    // The whole page: the bad file counted again, once per read.
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        page.contains("dynamo_metrics_multiprocess_files_skipped_total{reason=\"corrupt\"} 2\n"),
        "{page}"
    );
    assert_promtool_accepts_allowing(&page, &[COLON_LINT]);
}
