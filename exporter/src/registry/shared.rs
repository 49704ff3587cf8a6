//! What a registry's families and vecs share: the default bound on series, the idle timeout
//! of macro series, the clock, and where folded label sets are counted.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::exposition::ExtraLabels;
use crate::registry::family::Sweep;

/// Series a vec may hold unless told otherwise.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// Where the registry reads the time, as the time since some fixed start.
pub type Clock = dyn Fn() -> Duration + Send + Sync;

/// Counts one label set folded into an overflow series, by metric name.
pub(crate) type OverflowCount = dyn Fn(&str) + Send + Sync;

pub(crate) struct Shared {
    default_max_series: AtomicUsize,
    /// Nanoseconds; 0 when macro series never go idle.
    idle_timeout: AtomicU64,
    overflow: OnceLock<Box<OverflowCount>>,
    clock: OnceLock<Box<Clock>>,
    start: Instant,
    /// Whether the registry's metrics are in the multiprocess directory's catalog, and its
    /// page the directory's merge.
    multiprocess: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Whether the registry's metrics join the multiprocess directory's page.
    pub(crate) fn multiprocess(&self) -> bool {
        self.multiprocess.load(Ordering::Relaxed)
    }

    /// From now on the registry's metrics join the multiprocess directory's page.
    pub(crate) fn join_multiprocess(&self) {
        self.multiprocess.store(true, Ordering::Relaxed);
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            default_max_series: AtomicUsize::new(DEFAULT_MAX_SERIES),
            idle_timeout: AtomicU64::new(0),
            overflow: OnceLock::new(),
            clock: OnceLock::new(),
            start: Instant::now(),
            multiprocess: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Shared {
    pub(crate) fn default_max_series(&self) -> usize {
        self.default_max_series.load(Ordering::Relaxed)
    }

    pub(crate) fn set_default_max_series(&self, max: usize) {
        self.default_max_series.store(max, Ordering::Relaxed);
    }

    pub(crate) fn set_idle_timeout(&self, timeout: Option<Duration>) {
        let nanos = timeout.map_or(0, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
        });
        self.idle_timeout.store(nanos, Ordering::Relaxed);
    }

    /// Reads the time from `clock` from now on; can be set once.
    pub(crate) fn set_clock(&self, clock: Box<Clock>) {
        let _ = self.clock.set(clock);
    }

    /// Counts folded label sets with `count` from now on; can be set once.
    pub(crate) fn set_overflow_count(&self, count: Box<OverflowCount>) {
        let _ = self.overflow.set(count);
    }

    /// Counts one label set folded into an overflow series.
    pub(crate) fn count_overflow(&self, metric: &str) {
        if let Some(count) = self.overflow.get() {
            count(metric);
        }
    }

    pub(crate) fn now(&self) -> Duration {
        match self.clock.get() {
            Some(clock) => clock(),
            None => self.start.elapsed(),
        }
    }

    pub(crate) fn sweep<'a>(&self, extra: &'a ExtraLabels) -> Sweep<'a> {
        let idle = self.idle_timeout.load(Ordering::Relaxed);
        Sweep {
            now: self.now(),
            idle_timeout: (idle > 0).then(|| Duration::from_nanos(idle)),
            extra,
        }
    }
}
