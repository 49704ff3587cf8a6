//! A storm of callbacks: hundreds of slow ones, then hundreds that hang. Each scrape's
//! callback phase ends within the callback timeout, on a bounded pool of threads, and
//! `/health` and `/live` answer meanwhile.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::common::{self, Bounds, LEGIT_LIMIT, builder, get, serve, usage};

const CALLBACKS: usize = 500;
const TIMEOUT: Duration = Duration::from_millis(800);
const THREADS: usize = 4;
/// Threads in all, hung ones included, are at most this many times the pool's size.
const STUCK_FACTOR: usize = 4;

/// Scrapes while checking that `/health` and `/live` answer within the limit; returns how
/// long the scrape took.
fn timed_scrape(addr: std::net::SocketAddr, baseline: common::Usage, bounds: Bounds) -> Duration {
    let started = Instant::now();
    let scraper = std::thread::spawn(move || common::scrape(addr));
    while !scraper.is_finished() {
        for path in ["/health", "/live"] {
            let asked = Instant::now();
            let status = get(addr, path).status;
            assert!(status == 200 || status == 503, "{path}: {status}");
            assert!(
                asked.elapsed() < LEGIT_LIMIT,
                "{path} took {:?}",
                asked.elapsed()
            );
        }
        baseline.assert_within(usage(), bounds, "during the storm");
    }
    let text = scraper.join().unwrap();
    common::parse_exposition(&text).unwrap();
    started.elapsed()
}

#[test]
fn a_storm_of_callbacks_is_bounded_in_time_and_threads() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(
        builder()
            .callback_timeout(TIMEOUT)
            .callback_threads(THREADS),
    );
    let baseline = usage();

    // 1. Slow callbacks: more work than the timeout allows on the pool.
    let gauge = runtime
        .metrics()
        .create_intgaugevec("slow", "Slow", &["n"], &[])
        .unwrap();
    for n in 0..CALLBACKS {
        let child = gauge.with_label_values(&[n.to_string()]).clone();
        runtime
            .metrics()
            .register_callback(move || -> Result<(), String> {
                std::thread::sleep(Duration::from_millis(10));
                child.inc();
                Ok(())
            });
    }
    let bounds = Bounds {
        fds: 16,
        threads: THREADS + 8,
        rss_bytes: 64 << 20,
    };
    for _ in 0..2 {
        let took = timed_scrape(addr, baseline, bounds);
        assert!(
            took < TIMEOUT + Duration::from_millis(700),
            "a scrape took {took:?}"
        );
    }

    // 2. Callbacks that hang: each holds a thread, and the pool stops replacing them at its
    //    bound.
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(Mutex::new(released));
    for _ in 0..CALLBACKS {
        let released = Arc::clone(&released);
        runtime
            .metrics()
            .register_callback(move || -> Result<(), String> {
                let _ = released
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
                Ok(())
            });
    }
    let bounds = Bounds {
        threads: THREADS * STUCK_FACTOR + 8,
        ..bounds
    };
    for _ in 0..3 {
        let took = timed_scrape(addr, baseline, bounds);
        assert!(
            took < TIMEOUT + Duration::from_millis(700),
            "a scrape took {took:?}"
        );
    }
    drop(release);
}
