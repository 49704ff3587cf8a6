//! Clients that send `GET /metrics` and close at once are gone before their answer: they give
//! up their pending places at once, so a legitimate scrape during their flood gets its page.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{self, IO_TIMEOUT, builder, request_with_timeout, serve};

const FLOOD: usize = 500;
const FLOODERS: usize = 4;
const RUNS: usize = 10;
/// How long each render takes, so that a flood fills the pending places while one runs.
const RENDER_TIME: Duration = Duration::from_millis(50);
const LEGIT_LIMIT: Duration = Duration::from_secs(2);

/// Sends `GET /metrics` and closes, `FLOOD / FLOODERS` times from each of `FLOODERS` threads;
/// `sent` counts the requests sent.
fn flood(addr: std::net::SocketAddr, sent: &Arc<AtomicUsize>) -> Vec<std::thread::JoinHandle<()>> {
    (0..FLOODERS)
        .map(|_| {
            let sent = Arc::clone(sent);
            std::thread::spawn(move || {
                for _ in 0..FLOOD / FLOODERS {
                    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
                    let _ = write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                    drop(stream);
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect()
}

#[test]
fn a_scrape_during_a_flood_of_closed_clients_is_answered() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder());
    runtime
        .metrics()
        .register_callback(|| -> Result<(), String> {
            std::thread::sleep(RENDER_TIME);
            Ok(())
        });
    let expected = common::scrape(addr);
    for run in 0..RUNS {
        let sent = Arc::new(AtomicUsize::new(0));
        let flooders = flood(addr, &sent);
        // The legitimate scrape comes in the middle of the flood.
        while sent.load(Ordering::SeqCst) < FLOOD / 2 && !flooders.iter().all(|f| f.is_finished()) {
            std::thread::yield_now();
        }
        let started = Instant::now();
        let response = request_with_timeout(addr, "GET", "/metrics", &[], LEGIT_LIMIT)
            .unwrap_or_else(|e| panic!("run {run}: no whole answer within {LEGIT_LIMIT:?}: {e}"));
        let took = started.elapsed();
        assert_eq!(response.status, 200, "run {run}: {}", response.text());
        assert!(took < LEGIT_LIMIT, "run {run}: the scrape took {took:?}");
        assert_eq!(response.text(), expected, "run {run}");
        for flooder in flooders {
            flooder.join().unwrap();
        }
    }
}
