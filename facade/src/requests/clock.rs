//! Where request tracking reads the time.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A monotonic reading of the time, as a duration since a fixed origin.
#[derive(Clone)]
pub(crate) enum RequestClock {
    /// `Instant::now()`, relative to the instant the clock was made.
    Monotonic(Instant),
    /// A clock given to the runtime builder (a fake one, in tests).
    Custom(Arc<dyn Fn() -> Duration + Send + Sync>),
}

impl Default for RequestClock {
    fn default() -> Self {
        Self::Monotonic(Instant::now())
    }
}

impl RequestClock {
    /// The time now.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        match self {
            Self::Monotonic(origin) => origin.elapsed(),
            Self::Custom(clock) => clock(),
        }
    }
}
