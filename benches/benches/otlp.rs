//! OTLP export: the cost of one export of 10,000 series (encoding to the protobuf request,
//! then gzip), one whole export over each protocol to a receiver on loopback, and the hot
//! paths with export on and off.
//!
//! Timed runs, min/median/max: `cargo bench -p dynamo-benches --bench otlp`.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dynamo_benches::{HIERARCHY, label_values};
use dynamo_exporter::otlp::{OtlpEncoder, Temporality};
use dynamo_exporter::{Opts, Registry};
use dynamo_runtime::{DistributedRuntime, OtlpConfig, Protocol};
use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;

const SERIES: usize = 10_000;
const RUNS: usize = 21;

/// A registry with the series of the render benchmark: half integer counters, half f64
/// gauges, two variable labels and the three hierarchy labels each.
fn registry(series: usize) -> Registry {
    let registry = Registry::new();
    let opts = |name, help| Opts::new(name, help).with_const_labels(&HIERARCHY);
    let counters = registry
        .int_counter_vec(
            &opts("dynamo_component_requests_total", "Requests"),
            &["model", "worker"],
        )
        .unwrap();
    let gauges = registry
        .gauge_vec(&opts("dynamo_component_load", "Load"), &["model", "worker"])
        .unwrap();
    for i in 0..series {
        let values = label_values(i);
        if i % 2 == 0 {
            counters.with_label_values(&values).inc_by(i as u64);
        } else {
            gauges.with_label_values(&values).set(i as f64 * 0.5);
        }
    }
    registry
}

fn nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    (
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
    )
}

fn show(label: &str, samples: Vec<Duration>) {
    let (min, median, max) = stats(samples);
    println!("| {label} | {min:.2?} | {median:.2?} | {max:.2?} |");
}

fn export_cost() {
    let registry = registry(SERIES);
    let resource = [("service.name".to_string(), "bench".to_string())];
    println!("| one export of {SERIES} series | min | median | max |");
    println!("|---|---:|---:|---:|");
    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        let (mut build, mut encode, mut gzip) = (Vec::new(), Vec::new(), Vec::new());
        let mut gzip_grpc = Vec::new();
        let (mut raw, mut compressed) = (0, 0);
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut encoder = OtlpEncoder::new(temporality, 1, nanos());
            registry.encode(&[], &mut encoder);
            let request = encoder.into_request(&resource);
            build.push(started.elapsed());
            let started = Instant::now();
            let body = request.encode_to_vec();
            encode.push(started.elapsed());
            let started = Instant::now();
            let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(&body).unwrap();
            let gzipped = gz.finish().unwrap();
            gzip.push(started.elapsed());
            // tonic compresses gRPC messages at level 6, which its callers cannot change.
            let started = Instant::now();
            let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
            gz.write_all(&body).unwrap();
            black_box(gz.finish().unwrap());
            gzip_grpc.push(started.elapsed());
            (raw, compressed) = (body.len(), black_box(gzipped).len());
        }
        let name = temporality.as_str();
        let total: Vec<Duration> = (0..RUNS).map(|i| build[i] + encode[i] + gzip[i]).collect();
        show(&format!("{name}: build the request"), build);
        show(&format!("{name}: protobuf encoding ({raw} B)"), encode);
        show(&format!("{name}: gzip ({compressed} B)"), gzip);
        show(&format!("{name}: whole export"), total);
        show(
            &format!("{name}: gzip at level 6, as tonic sends gRPC"),
            gzip_grpc,
        );
    }
}

/// A collector that accepts every request, on a loopback port.
fn sink() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/metrics", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    endpoint
}

fn answer(stream: TcpStream) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || writer
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .is_err()
        {
            return;
        }
    }
}

/// Nanoseconds per call of `f`, over `iters` calls.
fn per_call(iters: u32, f: impl Fn()) -> f64 {
    let started = Instant::now();
    for _ in 0..iters {
        f();
    }
    started.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
}

fn hot_paths() {
    const ITERS: u32 = 5_000_000;
    let endpoint = sink();
    let build = |export: bool| {
        let builder = DistributedRuntime::builder().global_recorder(false);
        let builder = if export {
            builder.otlp(
                OtlpConfig::new()
                    .with_protocol(Protocol::HttpProtobuf)
                    .with_endpoint(endpoint.clone())
                    .with_interval(Duration::from_millis(100)),
            )
        } else {
            builder
        };
        let runtime = builder.build().unwrap();
        let metrics = runtime
            .namespace("ns")
            .component("comp")
            .endpoint("ep")
            .metrics();
        let gauges = metrics
            .create_gaugevec("load", "Load", &["model", "worker"], &[])
            .unwrap();
        for i in 0..SERIES {
            gauges.with_label_values(&label_values(i)).set(i as f64);
        }
        let counter = metrics.create_counter("c_total", "C", &[]).unwrap();
        let vec = metrics
            .create_countervec("requests_total", "Requests", &["model", "size"], &[])
            .unwrap();
        (runtime, counter, vec)
    };
    let off = build(false);
    let on = build(true);
    println!();
    println!("| hot path, {SERIES} series exported every 100 ms | export | min | median | max |");
    println!("|---|---|---:|---:|---:|");
    // Off and on alternate within each run, so a busy moment of the host hits both.
    for name in ["counter inc", "vec lookup + inc"] {
        let mut samples = [Vec::new(), Vec::new()];
        for _ in 0..RUNS {
            for (index, (_, counter, vec)) in [&off, &on].into_iter().enumerate() {
                samples[index].push(if name == "counter inc" {
                    per_call(ITERS, || black_box(counter).inc())
                } else {
                    per_call(ITERS, || {
                        vec.with_label_values(black_box(&["llama", "7b"])).inc()
                    })
                });
            }
        }
        for (state, mut runs) in ["off", "on"].into_iter().zip(samples) {
            runs.sort_by(f64::total_cmp);
            println!(
                "| {name} | {state} | {:.1} ns | {:.1} ns | {:.1} ns |",
                runs[0],
                runs[RUNS / 2],
                runs[RUNS - 1]
            );
        }
    }
    on.0.shutdown();
}

/// One whole export of [`SERIES`] series over each protocol, to a receiver on loopback that
/// decodes every request as a collector does: once the first periodic export has opened the
/// connection, the runtime's final export at shutdown, timed from the call to its return
/// (collect, encode, gzip, send, the receiver's answer, the exporter's thread joined).
fn export_over_each_protocol() {
    use dynamo_exporter::test_util::otlp::{GrpcReceiver, Receiver};

    const EXPORTS: usize = 7;
    println!("| one export of {SERIES} series, sent and answered | min | median | max |");
    println!("|---|---:|---:|---:|");
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let mut took = Vec::new();
        for _ in 0..EXPORTS {
            let (endpoint, wait_first): (String, Box<dyn Fn()>) = match protocol {
                Protocol::Grpc => {
                    let receiver = GrpcReceiver::accepting();
                    (
                        receiver.endpoint(),
                        Box::new(move || drop(receiver.wait_for_count(1))),
                    )
                }
                Protocol::HttpProtobuf => {
                    let receiver = Receiver::accepting();
                    (
                        receiver.endpoint(),
                        Box::new(move || drop(receiver.wait_for_count(1))),
                    )
                }
            };
            let runtime = DistributedRuntime::builder()
                .global_recorder(false)
                .process_metrics(false)
                .otlp(
                    OtlpConfig::new()
                        .with_protocol(protocol)
                        .with_endpoint(endpoint)
                        .with_interval(Duration::from_secs(1)),
                )
                .build()
                .unwrap();
            dynamo_benches::fill(&runtime.metrics(), SERIES);
            wait_first();
            let started = Instant::now();
            runtime.shutdown();
            took.push(started.elapsed());
        }
        show(protocol.as_str(), took);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    export_cost();
    export_over_each_protocol();
    hot_paths();
}
