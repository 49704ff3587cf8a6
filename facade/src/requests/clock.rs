//! Where request tracking reads the time.

use std::sync::Arc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A monotonic reading of the time, as a duration since a fixed origin.
#[derive(Clone)]
pub(crate) enum RequestClock {
    /// The machine's fastest monotonic clock, relative to its reading when made.
    Monotonic {
        clock: quanta::Clock,
        origin: u64,
        wall: Arc<WallOffset>,
    },
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
        let wall = Arc::new(WallOffset::default());
        Self::Monotonic {
            clock,
            origin,
            wall,
        }
    }

    /// The time now.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        match self {
            Self::Monotonic { clock, origin, .. } => {
                Duration::from_nanos(clock.delta_as_nanos(*origin, clock.raw()))
            }
            Self::Custom(clock) => clock(),
        }
    }

    /// The wall clock's time at `now`, a reading of [`Self::now`], as the time since the Unix
    /// epoch, without reading the wall clock (but once a second); `None` for a custom clock,
    /// whose readings are not the machine's.
    #[inline]
    pub(crate) fn wall_time(&self, now: Duration) -> Option<Duration> {
        match self {
            Self::Monotonic { wall, .. } => Some(wall.at(now, || self.now())),
            Self::Custom(_) => None,
        }
    }
}

/// The wall clock's time less the monotonic clock's, read again when a second has passed
/// since the last reading, so the two clocks' drift (the counter's calibration, the wall
/// clock's adjustments) stays within what a second of it makes.
#[derive(Default)]
pub(crate) struct WallOffset {
    /// Nanoseconds since the Unix epoch at the monotonic clock's origin.
    at_origin: AtomicI64,
    /// The monotonic reading, in nanoseconds, from which the offset is read again.
    stale_from: AtomicU64,
}

/// How long an offset serves before the wall clock is read again.
const OFFSET_LIFE: Duration = Duration::from_secs(1);

impl WallOffset {
    /// The wall clock's time at the monotonic reading `now` (since the Unix epoch);
    /// `read_now` reads the monotonic clock again, beside the wall clock, when the offset is
    /// stale.
    #[inline]
    fn at(&self, now: Duration, read_now: impl Fn() -> Duration) -> Duration {
        let now_nanos = nanos(now);
        // Acquire: an offset's end seen, the offset stored before it is seen too (never the
        // zero of a clock not read yet).
        let offset = if now_nanos >= self.stale_from.load(Acquire) {
            self.read_again(read_now)
        } else {
            self.at_origin.load(Relaxed)
        };
        Duration::from_nanos(now_nanos.saturating_add_signed(offset))
    }

    /// Reads the wall clock between two readings of the monotonic clock and keeps the offset
    /// to their middle, from the closest of a few tries: a thread paused between two reads
    /// would otherwise set the offset off by its pause for a second. Threads that do so at
    /// once each keep an offset as good.
    #[cold]
    fn read_again(&self, read_now: impl Fn() -> Duration) -> i64 {
        let mut best: Option<(u64, i64, u64)> = None;
        for _ in 0..OFFSET_TRIES {
            let before = nanos(read_now());
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| signed(nanos(since)));
            let after = nanos(read_now()).max(before);
            let gap = after - before;
            let offset = wall - signed(before + gap / 2);
            if best.is_none_or(|(best_gap, ..)| gap < best_gap) {
                best = Some((gap, offset, after));
            }
            if gap <= CLOSE_ENOUGH_NANOS {
                break;
            }
        }
        let (_, offset, now) = best.unwrap_or_default();
        self.at_origin.store(offset, Relaxed);
        self.stale_from.store(now + nanos(OFFSET_LIFE), Release);
        offset
    }
}

/// Tries at reading the offset, and the gap between the monotonic readings around the wall
/// clock's that ends them (a few microseconds when the thread is not paused).
const OFFSET_TRIES: usize = 5;
const CLOSE_ENOUGH_NANOS: u64 = 20_000;

/// A duration in whole nanoseconds (584 years fit).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn signed(nanos: u64) -> i64 {
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_readings_wall_time_is_the_wall_clocks() {
        let clock = RequestClock::monotonic();
        let slack = Duration::from_millis(1);
        let since_epoch = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        for _ in 0..3 {
            let before = since_epoch();
            let wall = clock.wall_time(clock.now()).expect("the machine's clock");
            let after = since_epoch();
            assert!(wall + slack >= before && wall <= after + slack, "{wall:?}");
        }
        let custom = RequestClock::Custom(Arc::new(|| Duration::from_secs(3)));
        assert_eq!(custom.wall_time(custom.now()), None);
    }

    #[test]
    fn a_pause_between_the_reads_is_not_kept() {
        let offset = WallOffset::default();
        // The first try's readings are 100 ms apart (a pause), the second's together.
        let readings = [5_000, 5_100, 5_200, 5_200].map(Duration::from_millis);
        let calls = Cell::new(0);
        let read_now = || {
            calls.set(calls.get() + 1);
            readings[(calls.get() - 1).min(3)]
        };
        let wall = offset.at(Duration::from_millis(5_200), read_now);
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(
            since_epoch.abs_diff(wall) < Duration::from_millis(50),
            "{wall:?}"
        );
        assert_eq!(calls.get(), 4, "stopped at the close pair");
        assert_eq!(offset.stale_from.load(Relaxed), 6_200_000_000);
    }

    #[test]
    fn without_a_close_pair_the_closest_of_the_tries_is_kept() {
        let offset = WallOffset::default();
        // Five tries, each pair of readings 10 ms or more apart; the fourth is the closest.
        let gaps = [90, 70, 50, 10, 30];
        let readings: Vec<Duration> = gaps
            .iter()
            .enumerate()
            .flat_map(|(n, gap)| {
                let before = 1_000 * (n as u64 + 1);
                [before, before + gap].map(Duration::from_millis)
            })
            .collect();
        let calls = Cell::new(0);
        let read_now = || {
            calls.set(calls.get() + 1);
            readings[(calls.get() - 1).min(readings.len() - 1)]
        };
        let at = Duration::from_millis(4_005);
        let wall = offset.at(at, read_now);
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(calls.get(), 10, "every try made");
        assert!(
            since_epoch.abs_diff(wall) < Duration::from_millis(3),
            "{wall:?}"
        );
        assert_eq!(offset.stale_from.load(Relaxed), 5_010_000_000);
    }

    #[test]
    fn the_offset_serves_a_second_then_is_read_again() {
        let offset = WallOffset::default();
        let monotonic = Cell::new(Duration::from_secs(5));
        let read_now = || monotonic.get();
        let first = offset.at(monotonic.get(), read_now);
        let stale_from = |offset: &WallOffset| offset.stale_from.load(Relaxed);
        assert_eq!(stale_from(&offset), 6_000_000_000);
        // Within the second, the wall time moves with the monotonic reading exactly.
        let later = offset.at(Duration::from_millis(5_500), read_now);
        assert_eq!(later - first, Duration::from_millis(500));
        assert_eq!(stale_from(&offset), 6_000_000_000, "not read again");
        monotonic.set(Duration::from_secs(6));
        offset.at(monotonic.get(), read_now);
        assert_eq!(stale_from(&offset), 7_000_000_000, "read again");
    }
}
