//! The handles a thread's macro calls got last, in front of each runtime's shared cache.

use metrics::{Counter, Gauge, Histogram};

use dynamo_exporter::ThreadHandles;

/// A thread's table of each kind of macro handle (kept in the thread's scope state).
pub(crate) struct ThreadMacroHandles {
    pub(crate) counters: ThreadHandles<Counter>,
    pub(crate) gauges: ThreadHandles<Gauge>,
    pub(crate) histograms: ThreadHandles<Histogram>,
}

impl ThreadMacroHandles {
    /// Empty tables; nothing is allocated until a macro call.
    pub(crate) const fn new() -> Self {
        Self {
            counters: ThreadHandles::new(),
            gauges: ThreadHandles::new(),
            histograms: ThreadHandles::new(),
        }
    }
}
