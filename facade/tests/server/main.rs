//! The system status server's behaviour: routes, settings, gzip, `Host`, pre-scrape callbacks,
//! shared renders, shutdown, and serving from inside an async application.

#[path = "../common/mod.rs"]
mod common;

mod async_app;
mod callbacks;
mod config;
mod endpoint_health;
mod gzip;
mod health_checks;
mod host_header;
mod name_filter;
mod openmetrics;
mod port_in_use;
mod routes;
mod shutdown;
mod single_flight;
