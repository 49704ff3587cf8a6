//! Helpers shared by the examples' tests: running an example as a program, and a runtime
//! serving in the test's own process. The HTTP client and promtool come from
//! `dynamo_exporter::test_util`, shared by every test crate.

// Each test binary uses a part of the helpers, and of the shared ones re-exported here.
#![allow(dead_code, unused_imports)]

pub mod prometheus;
pub mod promql;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use dynamo_exporter::test_util::{
    assert_promtool_accepts, get, poll_until, promtool_check, request, scrape,
};
use dynamo_runtime::{DistributedRuntime, RuntimeBuilder};

/// How long a test waits for an example: to start, to answer, to show what it should.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A running example, killed and reaped when the test ends.
pub struct Example {
    /// The process.
    pub child: Child,
    /// The address it serves on.
    pub addr: SocketAddr,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program` on a free loopback port and reads the address it prints.
pub fn start(program: &str) -> Example {
    let mut child = Command::new(program)
        .env("DYN_SYSTEM_PORT", "0")
        .env("DYN_SYSTEM_HOST", "127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the example starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(TIMEOUT)
        .expect("the example prints its address");
    let addr = line
        .split_whitespace()
        .find_map(|word| word.trim_end_matches(':').parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Example { child, addr }
}

/// The value of the one line starting with `series`.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

/// The uptime a runtime of [`serve_in_process`] reports, so its page is deterministic.
pub const UPTIME: Duration = Duration::from_millis(1500);

/// A runtime of the test's own process serving on a free port of 127.0.0.1, without the
/// process-wide recorder or the process metrics (whose values change between scrapes), its
/// uptime fixed at [`UPTIME`]; with the address it is bound to.
pub fn serve_in_process() -> (DistributedRuntime, SocketAddr) {
    serve_in_process_with(|builder| builder)
}

/// [`serve_in_process`] with more settings: `settings` gets the builder before it builds.
pub fn serve_in_process_with(
    settings: impl FnOnce(RuntimeBuilder) -> RuntimeBuilder,
) -> (DistributedRuntime, SocketAddr) {
    let builder = DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| UPTIME)
        .system_host("127.0.0.1")
        .system_port(Some(0));
    let runtime = settings(builder).build().expect("the runtime starts");
    let addr = runtime
        .system_status_server_info()
        .expect("the system status server runs");
    (runtime, addr)
}
