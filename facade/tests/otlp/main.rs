//! OTLP/HTTP export to a test collector: what it sends, its settings, temporality, shutdown,
//! and a collector that fails.

#[path = "../common/mod.rs"]
mod common;

mod faults;
mod matches_scrape;
mod settings;
mod shutdown;
mod temporality;
