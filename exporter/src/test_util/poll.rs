//! Waiting, within a bound, for a server or a value to be ready.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// The pause between two calls of [`poll_until`]'s probe.
pub const POLL_PAUSE: Duration = Duration::from_millis(20);

/// Calls `probe` until it returns `Some`, pausing [`POLL_PAUSE`] between calls, and returns
/// that value: how a test waits for a server it started (on port 0) to answer, or for a
/// value to show on a page.
///
/// # Panics
///
/// When `timeout` passes first, naming `what`.
pub fn poll_until<T>(
    timeout: Duration,
    what: impl Display,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(POLL_PAUSE);
    }
}
