//! Concurrent scrapes share one render and its body; past the cap on waiting scrapes, more
//! are answered 503 with Retry-After at once.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::common::{self, builder, get, gunzip, serve};

const PENDING: usize = 4;

#[test]
fn waiting_scrapes_share_one_render_and_the_rest_get_503() {
    let (runtime, addr) = serve(builder().max_pending_scrapes(PENDING));
    let renders = Arc::new(AtomicU64::new(0));
    let (started_tx, started) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let counted = Arc::clone(&renders);
    let gauge = runtime
        .metrics()
        .create_intgauge("render_number", "Renders so far", &[])
        .unwrap();
    runtime
        .metrics()
        .register_callback(move || -> Result<(), String> {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.set(i64::try_from(n).unwrap());
            if n == 1 {
                let _ = started_tx.send(());
                let _ = released
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
            }
            Ok(())
        });

    // Scrapes join one by one, half of them asking for gzip, until one is refused: the first
    // starts the render (its callback holds it), the next ones wait for it.
    let mut joined: Vec<(TcpStream, bool)> = Vec::new();
    let refused = loop {
        let gzip = joined.len() % 2 == 1;
        let mut stream = TcpStream::connect_timeout(&addr, common::IO_TIMEOUT).unwrap();
        let accept = if gzip {
            "Accept-Encoding: gzip\r\n"
        } else {
            ""
        };
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{accept}\r\n"
        )
        .unwrap();
        if joined.is_empty() {
            started.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut first = [0u8; 1];
        let started = Instant::now();
        match stream.peek(&mut first) {
            Ok(_) => {
                assert!(started.elapsed() < common::LEGIT_LIMIT);
                break common::read_response(&mut stream).unwrap();
            }
            Err(_) => joined.push((stream, gzip)),
        }
        assert!(
            joined.len() <= PENDING,
            "more than {PENDING} scrapes waited"
        );
    };
    assert_eq!(joined.len(), PENDING);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.text(), "too many scrapes waiting; retry later\n");
    assert_eq!(get(addr, "/live").status, 200, "other routes still answer");

    release.send(()).unwrap();
    let bodies: Vec<(u16, String)> = joined
        .into_iter()
        .map(|(mut stream, gzip)| {
            let response = common::read_response(&mut stream).unwrap();
            if gzip {
                assert_eq!(response.header("content-encoding"), Some("gzip"));
                (response.status, gunzip(&response.body))
            } else {
                (response.status, response.text())
            }
        })
        .collect();
    for (status, body) in &bodies {
        assert_eq!(*status, 200);
        assert_eq!(body, &bodies[0].1, "every waiting scrape got the same page");
    }
    assert!(bodies[0].1.contains("dynamo_component_render_number 1\n"));
    assert_eq!(renders.load(Ordering::SeqCst), 1, "one render for all");

    // The next scrape renders anew.
    assert!(common::scrape(addr).contains("dynamo_component_render_number 2\n"));
}
