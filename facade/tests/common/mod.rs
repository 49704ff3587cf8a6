//! Helpers of the runtime's tests: runtimes serving on a free loopback port, an exposition
//! parser, attackers' connections and usage bounds, request tracking. The HTTP client,
//! promtool and the OTLP receiver come from `dynamo_exporter::test_util`, shared by every test
//! crate.

// Each test binary uses a part of the helpers, and of the shared ones re-exported here.
#![allow(dead_code, unused_imports)]

pub mod requests;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::time::Duration;

#[cfg(feature = "otlp")]
pub use dynamo_exporter::test_util::otlp;
pub use dynamo_exporter::test_util::{
    HttpResponse, IO_TIMEOUT, assert_promtool_accepts, assert_promtool_accepts_allowing, get,
    read_response, request, request_with_timeout, scrape,
};
use dynamo_runtime::{DistributedRuntime, RuntimeBuilder};

/// The uptime every test runtime reports, so outputs are deterministic.
pub const UPTIME: Duration = Duration::from_millis(1500);

/// A builder for a runtime serving on a free port of 127.0.0.1, with a fixed uptime clock,
/// no process-wide recorder and no process metrics (whose values change from one scrape to the
/// next; `process_metrics.rs` tests them).
pub fn builder() -> RuntimeBuilder {
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| UPTIME)
        .system_host("127.0.0.1")
        .system_port(Some(0))
}

/// Builds the runtime and returns it with the address its server is bound to.
pub fn serve(builder: RuntimeBuilder) -> (DistributedRuntime, SocketAddr) {
    let runtime = builder.build().expect("the runtime starts");
    let addr = runtime
        .system_status_server_info()
        .expect("the system status server runs");
    assert!(addr.ip().is_loopback(), "tests serve on loopback only");
    assert_ne!(addr.port(), 0, "the bound port is reported");
    (runtime, addr)
}

/// Decodes a gzip body.
pub fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("the body is gzip of UTF-8 text");
    text
}

/// One sample line of the exposition format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (with `_bucket`, `_sum`, `_count` for histograms).
    pub name: String,
    /// Label pairs, in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Parses the text exposition format strictly with the exporter's reader
/// ([`dynamo_exporter::parse`]), and also requires a final newline and no timestamps (the
/// server writes neither a missing newline nor a timestamp): every sample, in page order.
pub fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let families = dynamo_exporter::parse::parse(text).map_err(|e| e.to_string())?;
    let samples = families.into_iter().flat_map(|family| family.samples);
    samples
        .map(|sample| match sample.timestamp_ms {
            Some(ms) => Err(format!("{} has a timestamp ({ms})", sample.name)),
            None => Ok(Sample {
                name: sample.name,
                labels: sample.labels,
                value: sample.value,
            }),
        })
        .collect()
}

/// The value of the sample `name` whose labels include every pair of `labels`.
pub fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .map(|s| s.value)
}

/// Runs the tests that hold its guard one at a time, as they bound what the whole process uses.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The tests of a binary that bound what the whole process uses while others run beside
/// them: a test taking [`measured_alone`] runs with no test of [`beside_others`] at the same
/// time, while those run beside each other.
static MEASURED: RwLock<()> = RwLock::new(());

/// Runs the test with no other test of the binary that takes [`beside_others`].
pub fn measured_alone() -> RwLockWriteGuard<'static, ()> {
    MEASURED.write().unwrap_or_else(|e| e.into_inner())
}

/// Runs the test beside the other tests of the binary, but never beside one that takes
/// [`measured_alone`].
pub fn beside_others() -> RwLockReadGuard<'static, ()> {
    MEASURED.read().unwrap_or_else(|e| e.into_inner())
}

/// What the test process uses now: open descriptors, threads and resident memory. The
/// server runs in the test process, so its sockets and threads are counted here (and so are
/// the test's own client sockets).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Entries of `/proc/self/fd`.
    pub fds: usize,
    /// `Threads:` of `/proc/self/status`.
    pub threads: usize,
    /// `VmRSS:` of `/proc/self/status`, in bytes.
    pub rss_bytes: u64,
}

/// The process' usage now.
pub fn usage() -> Usage {
    let fds = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count();
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    Usage {
        fds,
        threads: usize::try_from(field("Threads:")).unwrap(),
        rss_bytes: field("VmRSS:") * 1024,
    }
}

/// Bounds on what the process may use beyond a baseline.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// More descriptors at most.
    pub fds: usize,
    /// More threads at most.
    pub threads: usize,
    /// More resident memory at most, in bytes.
    pub rss_bytes: u64,
}

impl Usage {
    /// Fails the test when `now` exceeds this baseline by more than `bounds`.
    pub fn assert_within(&self, now: Usage, bounds: Bounds, when: &str) {
        assert!(
            now.fds <= self.fds + bounds.fds,
            "{when}: {} descriptors open, baseline {} + bound {}",
            now.fds,
            self.fds,
            bounds.fds
        );
        assert!(
            now.threads <= self.threads + bounds.threads,
            "{when}: {} threads, baseline {} + bound {}",
            now.threads,
            self.threads,
            bounds.threads
        );
        assert!(
            now.rss_bytes <= self.rss_bytes + bounds.rss_bytes,
            "{when}: {} MiB resident, baseline {} MiB + bound {} MiB",
            now.rss_bytes >> 20,
            self.rss_bytes >> 20,
            bounds.rss_bytes >> 20
        );
    }
}

/// The time a legitimate client may wait for each answer during an attack.
pub const LEGIT_LIMIT: Duration = Duration::from_secs(1);

/// A legitimate scrape, `/health` and `/live` each answer within [`LEGIT_LIMIT`]: the scrape
/// with 200 (after quick retries of a `503`, which is an answer too, within the same second),
/// `/health` with 200 or 503, `/live` with 200.
pub fn assert_legit_clients_served(addr: SocketAddr) {
    let started = std::time::Instant::now();
    loop {
        let response = request_within(
            addr,
            "/metrics",
            LEGIT_LIMIT - started.elapsed().min(LEGIT_LIMIT),
        );
        match response.status {
            200 => break,
            503 if started.elapsed() < LEGIT_LIMIT => std::thread::sleep(Duration::from_millis(20)),
            other => panic!("GET /metrics answered {other}: {}", response.text()),
        }
    }
    assert!(
        started.elapsed() < LEGIT_LIMIT,
        "GET /metrics took {:?}",
        started.elapsed()
    );
    for (path, ok) in [("/health", &[200, 503][..]), ("/live", &[200][..])] {
        let started = std::time::Instant::now();
        let response = request_within(addr, path, LEGIT_LIMIT);
        assert!(
            ok.contains(&response.status),
            "GET {path}: {}",
            response.status
        );
        assert!(
            started.elapsed() < LEGIT_LIMIT,
            "GET {path} took {:?}",
            started.elapsed()
        );
    }
}

/// `GET path`, failing the test when there is no whole answer within `limit`.
fn request_within(addr: SocketAddr, path: &str, limit: Duration) -> HttpResponse {
    request_with_timeout(addr, "GET", path, &[], limit)
        .unwrap_or_else(|e| panic!("no whole answer to GET {path} within {limit:?}: {e}"))
}

/// Whether each socket has been closed by the server, polled until `deadline`: the time it
/// took for each (from `since`), or `None` for one still open then. A socket counts as closed
/// when a read sees the end or an error.
pub fn wait_until_closed(
    sockets: &mut [TcpStream],
    since: std::time::Instant,
    deadline: std::time::Instant,
    mut between_polls: impl FnMut(),
) -> Vec<Option<Duration>> {
    let mut closed: Vec<Option<Duration>> = vec![None; sockets.len()];
    for socket in sockets.iter() {
        socket.set_nonblocking(true).unwrap();
    }
    let mut buffer = [0u8; 4096];
    while std::time::Instant::now() < deadline && closed.iter().any(Option::is_none) {
        for (socket, closed) in sockets.iter_mut().zip(closed.iter_mut()) {
            if closed.is_some() {
                continue;
            }
            loop {
                match socket.read(&mut buffer) {
                    Ok(0) => *closed = Some(since.elapsed()),
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => *closed = Some(since.elapsed()),
                }
                break;
            }
        }
        between_polls();
        std::thread::sleep(Duration::from_millis(10));
    }
    closed
}

/// Opens `count` connections to `addr` that send nothing.
pub fn silent_connections(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect"))
        .collect()
}

/// Closes `stream` with a reset (`SO_LINGER` 0) rather than an orderly close, as a client that
/// gives up does.
pub fn reset(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    let _ = socket.set_linger(Some(Duration::ZERO));
    drop(socket);
}

/// `GET /metrics` that gives up after `patience`: `Some(status)` when answered in time,
/// `None` when not (the connection is then reset, so the server forgets the request).
pub fn impatient_scrape(addr: SocketAddr, patience: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(patience)).unwrap();
    let head = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut status_line = [0u8; 12];
    match stream.read_exact(&mut status_line) {
        Ok(()) => {
            let text = String::from_utf8_lossy(&status_line[9..12]).to_string();
            Some(text.parse().expect("a status code"))
        }
        Err(_) => {
            reset(stream);
            None
        }
    }
}

/// A `/metrics` request in flight, held by a pre-scrape callback (its first run) until
/// [`HeldScrape::finish`]: its connection serves it all the while.
pub struct HeldScrape {
    release: mpsc::Sender<()>,
    in_flight: std::thread::JoinHandle<HttpResponse>,
}

impl HeldScrape {
    /// Registers the holding callback on `runtime` and sends the request to `addr`; returns
    /// once the render has started.
    pub fn start(runtime: &DistributedRuntime, addr: SocketAddr) -> Self {
        let (started_tx, started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let first = Arc::new(AtomicBool::new(true));
        runtime
            .metrics()
            .register_callback(move || -> Result<(), String> {
                if first.swap(false, Ordering::SeqCst) {
                    let _ = started_tx.send(());
                    let _ = released
                        .lock()
                        .unwrap()
                        .recv_timeout(Duration::from_secs(30));
                }
                Ok(())
            });
        let in_flight = std::thread::spawn(move || get(addr, "/metrics"));
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        Self { release, in_flight }
    }

    /// Lets the render go on, and gives the response.
    pub fn finish(self) -> HttpResponse {
        self.release.send(()).unwrap();
        self.in_flight.join().unwrap()
    }
}
