//! Helpers for the tests of the workspace's crates, behind the `test-util` feature: enable it
//! from `[dev-dependencies]` only, as tokio's own `test-util`.
//!
//! - [`promtool_check`] and [`assert_promtool_accepts`]: `promtool check metrics` (lint
//!   included) on an exposition text, from Debian's `prometheus` package.
//! - [`assert_openmetrics_parses`] and [`openmetrics_families`]: Python prometheus_client's
//!   strict OpenMetrics parser on an OpenMetrics page.
//! - [`request`], [`get`] and [`scrape`]: a small HTTP/1.1 client over `TcpStream`, for a
//!   server bound to port 0 of a loopback address, reading whole responses (de-chunked).
//! - [`poll_until`]: waits, within a bound, until a server or a value is ready.
//! - [`HistogramParts`]: an encoder keeping the native part of each histogram series.
//! - `otlp` (with the `otlp` feature): a test OTLP/HTTP receiver that decodes what it gets.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use dynamo_exporter::test_util::{get, scrape};
//! use dynamo_exporter::{Health, Opts, Registry, StatusServer};
//!
//! let registry = Arc::new(Registry::new());
//! registry.int_gauge(&Opts::new("up", "Up")).unwrap().set(1);
//! let server = StatusServer::builder(
//!     Arc::new(move |encoder| {
//!         registry.encode(&[], encoder);
//!     }),
//!     Arc::new(|| Health { ready: true, uptime: Duration::ZERO, endpoints: vec![] }),
//! )
//! .start("127.0.0.1:0")?;
//! let addr = server.local_addr();
//! assert_eq!(scrape(addr), "# HELP up Up\n# TYPE up gauge\nup 1\n");
//! assert_eq!(get(addr, "/nowhere").status, 404);
//! # Ok::<(), std::io::Error>(())
//! ```

mod histograms;
mod http;
mod openmetrics_parser;
// The receiver needs tonic's server, which only the `test-util` feature turns on.
#[cfg(all(feature = "otlp", feature = "test-util"))]
pub mod otlp;
mod poll;
mod promtool;

pub use histograms::{HistogramParts, NativeSummary};
pub use http::{
    HttpResponse, IO_TIMEOUT, get, parse_response, read_response, request, request_with_timeout,
    scrape,
};
pub use openmetrics_parser::{TEST_PYTHON_VAR, assert_openmetrics_parses, openmetrics_families};
pub use poll::{POLL_PAUSE, poll_until};
pub use promtool::{
    assert_promtool_accepts, assert_promtool_accepts_allowing, prometheus_tool, promtool_check,
};
