//! Slowloris: clients sending their request head a byte at a time are closed once the
//! header-read timeout has passed since their connection, however long they keep sending.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::common::{
    self, Bounds, assert_legit_clients_served, builder, serve, silent_connections, usage,
};

const CLIENTS: usize = 50;
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn a_head_sent_byte_by_byte_is_cut_off_at_the_header_timeout() {
    let _alone = common::one_at_a_time();
    let (_runtime, addr) = serve(builder().header_read_timeout(HEADER_TIMEOUT));
    let baseline = usage();
    let started = Instant::now();
    let mut sockets = silent_connections(addr, CLIENTS);
    let head = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Padding: ";
    let mut sent = 0usize;
    // Two descriptors per client on the test's side (a reader and a writer), one on the
    // server's.
    let bounds = Bounds {
        fds: 3 * CLIENTS + 16,
        threads: 8,
        rss_bytes: 32 << 20,
    };
    let mut checks = 0;
    let mut writers: Vec<_> = sockets.iter().map(|s| s.try_clone().unwrap()).collect();
    let closed = common::wait_until_closed(
        &mut sockets,
        started,
        started + HEADER_TIMEOUT + Duration::from_secs(3),
        || {
            // One more byte on every connection, every poll (a head that never ends).
            let byte = [head.get(sent).copied().unwrap_or(b'a')];
            sent += 1;
            for writer in &mut writers {
                let _ = writer.write(&byte);
            }
            if checks < 3 {
                assert_legit_clients_served(addr);
                checks += 1;
            }
            baseline.assert_within(usage(), bounds, "slowloris running");
        },
    );
    let last = closed
        .iter()
        .map(|c| c.expect("every slow client is cut off"))
        .max()
        .unwrap();
    assert!(sent > 20, "the clients kept sending ({sent} bytes each)");
    assert!(
        last >= HEADER_TIMEOUT - Duration::from_millis(100),
        "cut off after {last:?}"
    );
    assert!(
        last <= HEADER_TIMEOUT + Duration::from_secs(2),
        "the last was cut off after {last:?}"
    );
    drop((sockets, writers));
    assert_legit_clients_served(addr);
}
