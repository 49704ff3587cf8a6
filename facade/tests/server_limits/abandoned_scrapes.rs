//! A flood of `/metrics` requests whose clients leave at once (closing or resetting) costs a
//! few shared renders, not one render each; legitimate clients are served meanwhile.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{self, Bounds, IO_TIMEOUT, assert_legit_clients_served, builder, serve, usage};

const SERIES: usize = 20_000;
const FLOOD: usize = 500;
const FLOODERS: usize = 4;

#[test]
fn abandoned_scrapes_share_a_few_renders() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder());
    let requests = runtime
        .namespace("ns")
        .component("comp")
        .metrics()
        .create_intcountervec("requests_total", "Requests", &["model", "worker"], &[])
        .unwrap();
    for i in 0..SERIES {
        requests
            .with_label_values(&[format!("model-{}", i % 100), format!("worker-{i}")])
            .inc();
    }
    let renders = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&renders);
    runtime
        .metrics()
        .register_callback(move || -> Result<(), String> {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    assert_legit_clients_served(addr);
    let baseline = usage();
    let before = renders.load(Ordering::SeqCst);

    let started = Instant::now();
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|flooder| {
            std::thread::spawn(move || {
                for i in 0..FLOOD / FLOODERS {
                    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
                    let _ = write!(
                        stream,
                        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\n\r\n"
                    );
                    if (i + flooder) % 2 == 0 {
                        common::reset(stream);
                    } else {
                        drop(stream);
                    }
                }
            })
        })
        .collect();
    // The connections cap, the pending-scrape cap and the shared renders bound what the
    // server holds whatever the flood.
    let bounds = Bounds {
        fds: dynamo_exporter::DEFAULT_MAX_CONNECTIONS + 32,
        threads: 8,
        rss_bytes: 128 << 20,
    };
    // A few legitimate clients while the flood runs (each check scrapes once).
    let mut checks = 0;
    while checks < 5 && !flooders.iter().all(|f| f.is_finished()) {
        assert_legit_clients_served(addr);
        baseline.assert_within(usage(), bounds, "during the flood");
        checks += 1;
    }
    for flooder in flooders {
        flooder.join().unwrap();
    }
    let flood_time = started.elapsed();
    // Let the renders the flood started finish.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = renders.load(Ordering::SeqCst);
        assert_legit_clients_served(addr);
        checks += 1;
        if renders.load(Ordering::SeqCst) == seen + 1 || Instant::now() > deadline {
            break;
        }
    }
    // Every legitimate scrape may have rendered once; the flood shares what is left.
    let flood_renders = renders.load(Ordering::SeqCst) - before - checks;
    assert!(
        flood_renders < (FLOOD / 5) as u64,
        "{FLOOD} abandoned scrapes in {flood_time:?} cost {flood_renders} renders"
    );
    baseline.assert_within(usage(), bounds, "after the flood");
}
