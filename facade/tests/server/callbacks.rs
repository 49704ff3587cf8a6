//! Pre-scrape callbacks over HTTP: each runs once before each scrape, and a failing,
//! panicking or hanging one leaves the scrape answering.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::common::{builder, get, parse_exposition, scrape, serve, value_of};

/// A callback that blocks until released, reporting each start.
struct Gate {
    calls: Arc<AtomicU64>,
    started: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

/// Registers a callback that counts its calls, says it started and waits for a release.
fn hanging_callback(metrics: &dynamo_runtime::Metrics) -> Gate {
    let calls = Arc::new(AtomicU64::new(0));
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let counted = Arc::clone(&calls);
    metrics.register_callback(move || -> Result<(), String> {
        counted.fetch_add(1, Ordering::SeqCst);
        let _ = started_tx.send(());
        // Bounded: a test that forgets to release does not leave the thread forever.
        let _ = release_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60));
        Ok(())
    });
    Gate {
        calls,
        started,
        release,
    }
}

#[test]
fn every_level_runs_its_callback_once_before_each_scrape() {
    let (runtime, addr) = serve(builder());
    let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
    let levels = [
        runtime.metrics(),
        runtime.namespace("ns").metrics(),
        runtime.namespace("ns").component("comp").metrics(),
        endpoint.metrics(),
    ];
    let mut calls = Vec::new();
    for (index, metrics) in levels.iter().enumerate() {
        let gauge = metrics
            .create_intgauge(&format!("refreshed_{index}"), "Callback runs", &[])
            .unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&count);
        metrics.register_callback(move || -> Result<(), String> {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.set(i64::try_from(n).map_err(|e| e.to_string())?);
            Ok(())
        });
        calls.push(count);
    }
    for round in 1..=3u64 {
        let samples = parse_exposition(&scrape(addr)).unwrap();
        for (index, count) in calls.iter().enumerate() {
            assert_eq!(count.load(Ordering::SeqCst), round, "callback {index}");
            let name = format!("dynamo_component_refreshed_{index}");
            assert_eq!(
                value_of(&samples, &name, &[]),
                Some(round as f64),
                "{name} in scrape {round}"
            );
        }
    }
    // /health and /live run no callback.
    get(addr, "/health");
    get(addr, "/live");
    for count in &calls {
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }
}

#[test]
fn text_callbacks_are_appended_to_the_scrape() {
    let (runtime, addr) = serve(builder());
    runtime
        .namespace("ns")
        .metrics()
        .register_prometheus_expfmt_callback(|| -> Result<String, String> {
            Ok("# HELP extra_total Extra\n# TYPE extra_total counter\nextra_total 3".into())
        });
    let text = scrape(addr);
    assert!(
        text.ends_with("# HELP extra_total Extra\n# TYPE extra_total counter\nextra_total 3\n"),
        "{text}"
    );
    parse_exposition(&text).unwrap();
}

#[test]
fn a_failing_callback_is_skipped_and_the_others_run() {
    let (runtime, addr) = serve(builder());
    let metrics = runtime.namespace("ns").metrics();
    let gauge = metrics
        .create_intgauge("good", "Set by a callback", &[])
        .unwrap();
    metrics.register_callback(|| Err("the backend is down"));
    metrics.register_callback(move || -> Result<(), String> {
        gauge.set(7);
        Ok(())
    });
    for _ in 0..2 {
        let samples = parse_exposition(&scrape(addr)).unwrap();
        assert_eq!(value_of(&samples, "dynamo_component_good", &[]), Some(7.0));
    }
}

#[test]
fn a_panicking_callback_is_skipped_and_the_others_run() {
    let (runtime, addr) = serve(builder());
    let metrics = runtime.namespace("ns").metrics();
    let gauge = metrics
        .create_intgauge("good", "Set by a callback", &[])
        .unwrap();
    metrics.register_callback(|| -> Result<(), String> { panic!("a callback bug") });
    metrics.register_callback(move || -> Result<(), String> {
        gauge.inc();
        Ok(())
    });
    for round in 1..=2 {
        let samples = parse_exposition(&scrape(addr)).unwrap();
        assert_eq!(
            value_of(&samples, "dynamo_component_good", &[]),
            Some(f64::from(round))
        );
    }
    assert_eq!(get(addr, "/live").status, 200);
}

#[test]
fn a_hanging_callback_is_bounded_and_not_started_again_while_it_runs() {
    let timeout = Duration::from_millis(300);
    let (runtime, addr) = serve(builder().callback_timeout(timeout));
    let metrics = runtime.namespace("ns").metrics();
    let gauge = metrics
        .create_intgauge("good", "Set by a callback", &[])
        .unwrap();
    let gate = hanging_callback(&metrics);
    metrics.register_callback(move || -> Result<(), String> {
        gauge.inc();
        Ok(())
    });

    let started = Instant::now();
    let samples = parse_exposition(&scrape(addr)).unwrap();
    assert!(
        started.elapsed() >= timeout,
        "the scrape waited for the callback"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the scrape was bounded"
    );
    assert_eq!(value_of(&samples, "dynamo_component_good", &[]), Some(1.0));
    gate.started
        .recv_timeout(Duration::from_secs(10))
        .expect("the hanging callback started");

    // Still hanging: later scrapes skip it at once, and the others still run.
    for round in 2..=3 {
        let started = Instant::now();
        let samples = parse_exposition(&scrape(addr)).unwrap();
        assert!(started.elapsed() < timeout * 10);
        assert_eq!(
            value_of(&samples, "dynamo_component_good", &[]),
            Some(f64::from(round))
        );
    }
    assert_eq!(
        gate.calls.load(Ordering::SeqCst),
        1,
        "started again while running"
    );

    // Released, it runs again on a later scrape.
    gate.release.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while gate.calls.load(Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < deadline,
            "the released callback never ran again"
        );
        let _ = scrape(addr);
    }
    gate.started.recv_timeout(Duration::from_secs(10)).unwrap();
    gate.release.send(()).unwrap();
}

#[test]
fn live_and_health_answer_while_a_callback_hangs() {
    let (runtime, addr) = serve(builder().callback_timeout(Duration::from_secs(60)));
    let gate = hanging_callback(&runtime.metrics());
    let scraper = std::thread::spawn(move || get(addr, "/metrics"));
    gate.started
        .recv_timeout(Duration::from_secs(10))
        .expect("the scrape started the callback");

    for _ in 0..3 {
        let live = get(addr, "/live");
        assert_eq!(live.status, 200);
        assert_eq!(get(addr, "/health").status, 503);
    }
    assert!(!scraper.is_finished(), "the scrape waits for its callback");

    gate.release.send(()).unwrap();
    let response = scraper.join().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1);
}
