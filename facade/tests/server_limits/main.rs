//! The system status server under attack and at its limits: floods, slow and silent clients,
//! caps and timeouts, with bounds on descriptors, threads, memory and response times.
//!
//! Those bounds are on the whole process, so every test here takes
//! [`common::one_at_a_time`] first and they run one after another.

#[path = "../common/mod.rs"]
mod common;

mod abandoned_scrapes;
mod callback_storm;
mod closed_clients;
mod connection_cap;
mod half_close;
mod idle_timeout;
mod listen_backlog;
mod load;
mod oversized_request;
mod silent_sockets;
mod slow_readers;
mod slowloris;
mod unread_responses;
