//! Timers over histograms: observe how long a piece of work took, as the `prometheus` crate
//! does with `start_timer` and `observe_closure_duration`.

use std::time::Instant;

use super::Histogram;

impl Histogram {
    /// Starts a timer that observes the seconds elapsed into this histogram when it is
    /// stopped or dropped, unless discarded first.
    ///
    /// The timer keeps its own clone of the handle, so it works on a vec's child as well:
    /// `vec.with_label_values(&["llama"]).start_timer()`.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let latency = registry
    ///     .histogram(&Opts::new("latency_seconds", "Latency"), Some(&[60.0]))
    ///     .unwrap();
    /// {
    ///     let _timer = latency.start_timer();
    ///     // the work being timed
    /// } // observed here
    /// let timer = latency.start_timer();
    /// let seconds = timer.stop_and_discard(); // not observed
    /// assert!(seconds >= 0.0);
    /// assert_eq!(latency.get_count(), 1);
    /// ```
    pub fn start_timer(&self) -> HistogramTimer {
        HistogramTimer {
            histogram: self.clone(),
            start: Instant::now(),
            stopped: false,
        }
    }

    /// Runs `f` and observes the seconds it took; returns what `f` returned.
    ///
    /// The time is observed even when `f` panics.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let latency = registry
    ///     .histogram(&Opts::new("latency_seconds", "Latency"), None)
    ///     .unwrap();
    /// let sum = latency.observe_closure_duration(|| (1..=10).sum::<u32>());
    /// assert_eq!((sum, latency.get_count()), (55, 1));
    /// ```
    pub fn observe_closure_duration<T>(&self, f: impl FnOnce() -> T) -> T {
        let _timer = self.start_timer();
        f()
    }
}

/// A running timer of a [`Histogram`], made by [`Histogram::start_timer`].
///
/// It observes the seconds since it started exactly once: when stopped with
/// [`observe_duration`](Self::observe_duration) or [`stop_and_record`](Self::stop_and_record),
/// or when dropped (a panic unwinding through it included). [`stop_and_discard`](Self::stop_and_discard)
/// stops it without observing.
#[must_use = "a timer observes when it is dropped; bind it to a variable (`let _timer = ...`)"]
pub struct HistogramTimer {
    histogram: Histogram,
    start: Instant,
    /// Set once the timer has observed or been discarded.
    stopped: bool,
}

impl std::fmt::Debug for HistogramTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistogramTimer")
            .field("histogram", &self.histogram.name())
            .field("elapsed", &self.start.elapsed())
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl HistogramTimer {
    /// Observes the seconds elapsed since the timer started.
    pub fn observe_duration(self) {
        self.stop_and_record();
    }

    /// Observes the seconds elapsed since the timer started, and returns them.
    pub fn stop_and_record(mut self) -> f64 {
        self.stop(true)
    }

    /// Stops the timer without observing; returns the seconds elapsed.
    pub fn stop_and_discard(mut self) -> f64 {
        self.stop(false)
    }

    fn stop(&mut self, record: bool) -> f64 {
        let seconds = self.start.elapsed().as_secs_f64();
        if !self.stopped {
            self.stopped = true;
            if record {
                self.histogram.observe(seconds);
            }
        }
        seconds
    }
}

impl Drop for HistogramTimer {
    fn drop(&mut self) {
        self.stop(true);
    }
}
