//! Connections that never send a byte are closed after the header-read timeout, and
//! legitimate clients are served meanwhile.

use std::time::{Duration, Instant};

use crate::common::{
    self, Bounds, assert_legit_clients_served, builder, serve, silent_connections, usage,
};

const SILENT: usize = 100;
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn silent_sockets_are_closed_after_the_header_timeout() {
    let _alone = common::one_at_a_time();
    let (_runtime, addr) = serve(builder().header_read_timeout(HEADER_TIMEOUT));
    assert_legit_clients_served(addr);
    let baseline = usage();
    let started = Instant::now();
    let mut sockets = silent_connections(addr, SILENT);
    // Each silent socket costs a descriptor on each side while open: no more.
    let bounds = Bounds {
        fds: 2 * SILENT + 16,
        threads: 8,
        rss_bytes: 32 << 20,
    };
    let mut checks = 0;
    let closed = common::wait_until_closed(
        &mut sockets,
        started,
        started + HEADER_TIMEOUT + Duration::from_secs(3),
        || {
            if checks < 3 {
                assert_legit_clients_served(addr);
                checks += 1;
            }
            baseline.assert_within(usage(), bounds, "silent sockets open");
        },
    );
    let times: Vec<Duration> = closed
        .iter()
        .map(|c| c.expect("every silent socket is closed"))
        .collect();
    let first = times.iter().min().unwrap();
    let last = times.iter().max().unwrap();
    assert!(
        *first >= HEADER_TIMEOUT - Duration::from_millis(100),
        "closed after {first:?}, before the timeout"
    );
    assert!(
        *last <= HEADER_TIMEOUT + Duration::from_secs(2),
        "the last closed after {last:?}"
    );
    drop(sockets);
    assert_legit_clients_served(addr);
}
