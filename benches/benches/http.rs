//! `/metrics` over HTTP with 10,000 series: scrapes per second, and scrape latency while two
//! writer threads update the series, with and without gzip. Ours beside
//! `metrics-exporter-prometheus`'s HTTP listener (the only peer that ships a server).
//!
//! Then ours under load: 50 concurrent scrapers, quiet and during a flood of abandoned
//! requests (clients that send `GET /metrics` and leave at once, half closing, half
//! resetting).
//!
//! Run with `cargo bench -p dynamo-benches --bench http`; add `-- concurrent` for
//! the load figures alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dynamo_benches::label_values;
use dynamo_runtime::DistributedRuntime;

const SERIES: usize = 10_000;
const THROUGHPUT_TIME: Duration = Duration::from_secs(3);
const LATENCY_SCRAPES: usize = 300;
const SCRAPERS: usize = 50;
const LOAD_TIME: Duration = Duration::from_secs(5);
const FLOODERS: usize = 2;

/// A keep-alive HTTP/1.1 client for `GET /metrics`.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Scrapes once and returns the body's length in bytes (compressed when `gzip`).
    fn scrape(&mut self, gzip: bool) -> usize {
        self.try_scrape(gzip).expect("a scrape").1
    }

    /// Scrapes once: the status code and the body's length, or the transport error.
    fn try_scrape(&mut self, gzip: bool) -> std::io::Result<(u16, usize)> {
        let accept = if gzip {
            "Accept-Encoding: gzip\r\n"
        } else {
            ""
        };
        let request = format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\n{accept}\r\n");
        self.reader.get_mut().write_all(request.as_bytes())?;
        let (mut length, mut chunked, mut line) = (0, false, String::new());
        let mut status = 0;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(code) = header.strip_prefix("http/1.1 ") {
                status = code[..3].parse().unwrap_or(0);
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            chunked |= header == "transfer-encoding: chunked";
        }
        if !chunked {
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
            return Ok((status, length));
        }
        let mut total = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim_end(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk)?;
            total += size;
            if size == 0 {
                return Ok((status, total));
            }
        }
    }
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    bytes: usize,
}

/// Measures one server: scrapes per second alone, then latency while `write` runs on two
/// threads.
fn measure(addr: SocketAddr, gzip: bool, write: &(impl Fn(usize) + Sync)) -> Figures {
    let mut client = Client::connect(addr);
    let bytes = client.scrape(gzip);
    let start = Instant::now();
    let mut scrapes = 0;
    while start.elapsed() < THROUGHPUT_TIME {
        client.scrape(gzip);
        scrapes += 1;
    }
    let per_second = scrapes as f64 / start.elapsed().as_secs_f64();
    let stop = AtomicBool::new(false);
    let mut latencies = std::thread::scope(|s| {
        for writer in 0..2 {
            let stop = &stop;
            s.spawn(move || {
                let mut i = writer;
                while !stop.load(Ordering::Relaxed) {
                    write(i % SERIES);
                    i += 2;
                }
            });
        }
        let latencies: Vec<Duration> = (0..LATENCY_SCRAPES)
            .map(|_| {
                let start = Instant::now();
                client.scrape(gzip);
                start.elapsed()
            })
            .collect();
        stop.store(true, Ordering::Relaxed);
        latencies
    });
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        per_second,
        p50: at(0.5),
        p99: at(0.99),
        bytes,
    }
}

fn print(name: &str, gzip: bool, f: &Figures) {
    println!(
        "http/{name:<28} gzip={gzip:<5} {:>8.1} scrapes/s   p50 {:>7.2} ms   p99 {:>7.2} ms   {:>8} bytes",
        f.per_second,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.bytes,
    );
}

/// What the concurrent scrapers saw.
struct Load {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    refused: u64,
    reconnects: u64,
    abandoned: u64,
}

/// `SCRAPERS` keep-alive clients scrape for `LOAD_TIME`, while `FLOODERS` threads send
/// abandoned requests when `flood`.
fn concurrent(addr: SocketAddr, flood: bool) -> Load {
    let stop = AtomicBool::new(false);
    let refused = AtomicU64::new(0);
    let reconnects = AtomicU64::new(0);
    let abandoned = AtomicU64::new(0);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        if flood {
            for flooder in 0..FLOODERS {
                let (stop, abandoned) = (&stop, &abandoned);
                s.spawn(move || {
                    let mut n = flooder;
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(mut stream) = TcpStream::connect(addr) else {
                            continue;
                        };
                        let _ = stream.write_all(
                            b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n",
                        );
                        if n % 2 == 0 {
                            let socket = socket2::Socket::from(stream);
                            let _ = socket.set_linger(Some(Duration::ZERO));
                        }
                        abandoned.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                    }
                });
            }
        }
        let scrapers: Vec<_> = (0..SCRAPERS)
            .map(|_| {
                let (stop, refused, reconnects) = (&stop, &refused, &reconnects);
                s.spawn(move || {
                    let mut client = Client::connect(addr);
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let asked = Instant::now();
                        match client.try_scrape(false) {
                            Ok((200, _)) => mine.push(asked.elapsed()),
                            Ok(_) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                reconnects.fetch_add(1, Ordering::Relaxed);
                                client = Client::connect(addr);
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        std::thread::sleep(LOAD_TIME);
        stop.store(true, Ordering::Relaxed);
        scrapers
            .into_iter()
            .flat_map(|scraper| scraper.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Load {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        refused: refused.into_inner(),
        reconnects: reconnects.into_inner(),
        abandoned: abandoned.into_inner(),
    }
}

fn print_load(name: &str, load: &Load) {
    println!(
        "http/{name:<28} {:>8.1} scrapes/s   p50 {:>7.2} ms   p99 {:>7.2} ms   503s {:>5}   reconnects {:>4}   abandoned requests {:>7}",
        load.per_second,
        load.p50.as_secs_f64() * 1e3,
        load.p99.as_secs_f64() * 1e3,
        load.refused,
        load.reconnects,
        load.abandoned,
    );
}

/// A runtime serving `SERIES` series on a free loopback port, with a writer for them.
fn serving_runtime() -> (
    DistributedRuntime,
    dynamo_runtime::IntCounterVec,
    dynamo_runtime::GaugeVec,
) {
    let runtime = DistributedRuntime::builder()
        .global_recorder(false)
        // The peers read no `/proc` figures on a render; neither do we here.
        .process_metrics(false)
        .system_host("127.0.0.1")
        .system_port(Some(0))
        .build()
        .unwrap();
    let metrics = runtime
        .namespace("ns")
        .component("comp")
        .endpoint("ep")
        .metrics();
    let counters = metrics
        .create_intcountervec("requests_total", "Requests", &["model", "worker"], &[])
        .unwrap();
    let gauges = metrics
        .create_gaugevec("load", "Load", &["model", "worker"], &[])
        .unwrap();
    for (i, v) in (0..SERIES).map(label_values).enumerate() {
        if i % 2 == 0 {
            counters.with_label_values(&v).inc();
        } else {
            gauges.with_label_values(&v).set(i as f64);
        }
    }
    (runtime, counters, gauges)
}

fn ours() {
    let (runtime, counters, gauges) = serving_runtime();
    let values: Vec<[String; 2]> = (0..SERIES).map(label_values).collect();
    let write = |i: usize| {
        if i % 2 == 0 {
            counters.with_label_values(&values[i]).inc();
        } else {
            gauges.with_label_values(&values[i]).add(1.0);
        }
    };
    let addr = runtime.system_status_server_info().expect("server runs");
    for gzip in [false, true] {
        print("ours", gzip, &measure(addr, gzip, &write));
    }
}

fn metrics_exporter_prometheus() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (recorder, exporter) = {
        let _guard = tokio.enter();
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .build()
            .unwrap()
    };
    tokio.spawn(exporter);
    let keys: Vec<metrics::Key> = (0..SERIES)
        .map(|i| {
            let [model, worker] = label_values(i);
            let name = if i % 2 == 0 {
                "dynamo_component_requests_total"
            } else {
                "dynamo_component_load"
            };
            let labels = vec![
                metrics::Label::new("dynamo_namespace", "ns"),
                metrics::Label::new("dynamo_component", "comp"),
                metrics::Label::new("dynamo_endpoint", "ep"),
                metrics::Label::new("model", model),
                metrics::Label::new("worker", worker),
            ];
            metrics::Key::from_parts(name, labels)
        })
        .collect();
    let metadata = metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
    use metrics::Recorder;
    let counters: Vec<Option<metrics::Counter>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i % 2 == 0).then(|| recorder.register_counter(k, &metadata)))
        .collect();
    let gauges: Vec<Option<metrics::Gauge>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i % 2 == 1).then(|| recorder.register_gauge(k, &metadata)))
        .collect();
    for i in 0..SERIES {
        if let Some(c) = &counters[i] {
            c.increment(1);
        }
        if let Some(g) = &gauges[i] {
            g.set(i as f64);
        }
    }
    // Every update looks its handle up by key, as a macro call does.
    let write = |i: usize| {
        if i % 2 == 0 {
            recorder.register_counter(&keys[i], &metadata).increment(1);
        } else {
            recorder.register_gauge(&keys[i], &metadata).increment(1.0);
        }
    };
    // The listener starts on the tokio thread: wait until it accepts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "metrics-exporter-prometheus did not start listening"
        );
        std::thread::yield_now();
    }
    print(
        "metrics_exporter_prometheus",
        false,
        &measure(addr, false, &write),
    );
}

/// Ours under load: `SCRAPERS` concurrent scrapers, quiet, then during a flood.
fn under_load() {
    let (runtime, _, _) = serving_runtime();
    let addr = runtime.system_status_server_info().expect("server runs");
    println!(
        "/metrics with {SERIES} series; {SCRAPERS} concurrent keep-alive scrapers for {LOAD_TIME:?}"
    );
    let quiet = concurrent(addr, false);
    print_load("ours/50 scrapers", &quiet);
    let flooded = concurrent(addr, true);
    print_load("ours/50 scrapers, flood", &flooded);
    println!(
        "http/ours/flood p99 / quiet p99          {:>8.2}x",
        flooded.p99.as_secs_f64() / quiet.p99.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if !args.iter().any(|a| a == "concurrent") {
        println!("/metrics with {SERIES} series; latency while two writer threads update series");
        ours();
        metrics_exporter_prometheus();
    }
    under_load();
}
