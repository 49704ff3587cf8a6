//! OTLP export to a test collector, over HTTP and gRPC: what it sends, its settings,
//! temporality, shutdown, and a collector that fails.

#[path = "../common/mod.rs"]
mod common;

mod faults;
#[cfg(feature = "otlp-grpc")]
mod grpc;
mod matches_scrape;
mod native;
mod settings;
mod shutdown;
mod temporality;
mod tls;
