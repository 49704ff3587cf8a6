//! Process-wide constant labels: on every series of the page, and how their settings are read.

#[path = "../common/mod.rs"]
mod common;

mod page;
mod settings;
