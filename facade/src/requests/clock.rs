//! Where request tracking reads the time.

use std::sync::Arc;
use std::time::Duration;

/// A monotonic reading of the time, as a duration since a fixed origin.
#[derive(Clone)]
pub(crate) enum RequestClock {
    /// The machine's fastest monotonic clock, relative to its reading when made.
    Monotonic { clock: quanta::Clock, origin: u64 },
    /// A clock given to the runtime builder (a fake one, in tests).
    Custom(Arc<dyn Fn() -> Duration + Send + Sync>),
}

impl RequestClock {
    /// The machine's fastest monotonic clock: the CPU's time-stamp counter where it ticks at a
    /// constant rate (about half the cost of `Instant::now()`), else the OS's monotonic clock.
    /// The counter is calibrated once per process, on the first call (at most 200 ms).
    pub(crate) fn monotonic() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        Self::Monotonic { clock, origin }
    }

    /// The time now.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        match self {
            Self::Monotonic { clock, origin } => {
                Duration::from_nanos(clock.delta_as_nanos(*origin, clock.raw()))
            }
            Self::Custom(clock) => clock(),
        }
    }
}
