//! Request tracking on an endpoint: guards, tracked futures and streams, options, and many
//! threads at once.

#[path = "../common/mod.rs"]
mod common;

mod concurrency;
mod futures;
mod guard;
mod options;
mod traced;
