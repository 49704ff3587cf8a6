//! Helpers for tests of the metrics macro path.
