//! The metrics API without a server: metrics created, refused and removed at every hierarchy
//! level, the bounds on series, and `HealthStatus` read from text.

mod bounds;
mod errors;
mod health_status_text;
mod info_enum;
mod levels;
mod native;
mod removal;
