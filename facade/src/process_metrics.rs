//! The standard `process_*` metrics: CPU time, memory, descriptors, threads and start time,
//! read from `/proc` (with the `procfs` crate) each time a page is made.
//!
//! They are registered on the registry directly, under the unprefixed names every Prometheus
//! client uses, so dashboards written for any client work unchanged. A figure this platform
//! does not have, or that cannot be read, is absent from the page rather than zero: its metric
//! is registered when a reading has it and taken out when one does not.

use std::sync::Arc;

use dynamo_exporter::{Counter, Gauge, Opts, Registered, Registry, fork};
use parking_lot::Mutex;

use crate::prometheus_names::process as names;

/// One reading of the process' figures; `None` where there is none.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    pub(crate) cpu_seconds: Option<f64>,
    pub(crate) resident_memory_bytes: Option<f64>,
    pub(crate) virtual_memory_bytes: Option<f64>,
    pub(crate) open_fds: Option<f64>,
    pub(crate) max_fds: Option<f64>,
    pub(crate) start_time_seconds: Option<f64>,
    pub(crate) threads: Option<f64>,
}

impl Reading {
    /// The figures of this process now.
    #[cfg(target_os = "linux")]
    pub(crate) fn now() -> Self {
        use procfs::process::{LimitValue, Process};

        let Ok(me) = Process::myself() else {
            return Self::default();
        };
        let stat = me.stat().ok();
        // Counted while `me` holds its directory open: like every client, the figure includes
        // the descriptor the reading itself uses.
        let open_fds = me.fd_count().ok();
        let limits = me.limits().ok();
        let to_f64 = |n: u64| n as f64;
        let ticks = procfs::ticks_per_second();
        let per_tick = |t: u64| (ticks > 0).then(|| to_f64(t) / to_f64(ticks));
        Self {
            cpu_seconds: stat
                .as_ref()
                .and_then(|s| per_tick(s.utime.saturating_add(s.stime))),
            resident_memory_bytes: stat
                .as_ref()
                .map(|s| to_f64(s.rss.saturating_mul(procfs::page_size()))),
            virtual_memory_bytes: stat.as_ref().map(|s| to_f64(s.vsize)),
            open_fds: open_fds.and_then(|n| u64::try_from(n).ok()).map(to_f64),
            max_fds: limits.map(|l| match l.max_open_files.soft_limit {
                LimitValue::Value(n) => to_f64(n),
                LimitValue::Unlimited => f64::INFINITY,
            }),
            start_time_seconds: stat.as_ref().and_then(|s| {
                let boot = procfs::boot_time_secs().ok()?;
                Some(to_f64(boot) + per_tick(s.starttime)?)
            }),
            threads: stat
                .as_ref()
                .and_then(|s| u64::try_from(s.num_threads).ok())
                .map(to_f64),
        }
    }

    /// No figures: this platform has no `/proc`.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn now() -> Self {
        Self::default()
    }
}

/// The process metrics of one registry.
pub(crate) struct ProcessMetrics {
    registry: Arc<Registry>,
    state: Mutex<State>,
}

/// The gauges, in the order of [`GAUGES`].
const GAUGE_COUNT: usize = 6;

/// A gauge: its name, its help, and the figure of a reading it shows.
type GaugeSpec = (&'static str, &'static str, fn(&Reading) -> Option<f64>);

/// Each gauge.
const GAUGES: [GaugeSpec; GAUGE_COUNT] = [
    (
        names::RESIDENT_MEMORY_BYTES,
        names::RESIDENT_MEMORY_BYTES_HELP,
        |r| r.resident_memory_bytes,
    ),
    (
        names::VIRTUAL_MEMORY_BYTES,
        names::VIRTUAL_MEMORY_BYTES_HELP,
        |r| r.virtual_memory_bytes,
    ),
    (names::OPEN_FDS, names::OPEN_FDS_HELP, |r| r.open_fds),
    (names::MAX_FDS, names::MAX_FDS_HELP, |r| r.max_fds),
    (
        names::START_TIME_SECONDS,
        names::START_TIME_SECONDS_HELP,
        |r| r.start_time_seconds,
    ),
    (names::THREADS, names::THREADS_HELP, |r| r.threads),
];

struct State {
    /// The process the CPU counter counts for: a forked child starts its own.
    pid: u32,
    cpu: Option<Counter>,
    gauges: [Option<Gauge>; GAUGE_COUNT],
}

impl ProcessMetrics {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            state: Mutex::new(State {
                pid: std::process::id(),
                cpu: None,
                gauges: Default::default(),
            }),
        }
    }

    /// Reads the figures now and shows them: a metric whose figure is missing leaves the page.
    pub(crate) fn refresh(&self) {
        self.show(&Reading::now());
    }

    /// Shows `reading`. The CPU counter goes up by the CPU time used since the last reading;
    /// in a forked child, whose CPU time starts again from zero, it starts again too.
    pub(crate) fn show(&self, reading: &Reading) {
        let _section = fork::enter();
        let mut state = self.state.lock();
        let pid = std::process::id();
        if state.pid != pid {
            state.pid = pid;
            if let Some(old) = state.cpu.take() {
                self.forget(&old);
            }
        }
        match reading.cpu_seconds {
            Some(seconds) => {
                if state.cpu.is_none() {
                    state.cpu = self
                        .registry
                        .counter(&Opts::new(
                            names::CPU_SECONDS_TOTAL,
                            names::CPU_SECONDS_TOTAL_HELP,
                        ))
                        .inspect_err(|error| {
                            tracing::warn!(%error, "cannot register the process CPU counter");
                        })
                        .ok();
                }
                if let Some(cpu) = &state.cpu {
                    let more = seconds - cpu.get();
                    if more > 0.0 {
                        cpu.inc_by(more);
                    }
                }
            }
            None => {
                if let Some(old) = state.cpu.take() {
                    self.forget(&old);
                }
            }
        }
        for ((name, help, figure), slot) in GAUGES.iter().zip(state.gauges.iter_mut()) {
            match figure(reading) {
                Some(value) => {
                    if slot.is_none() {
                        *slot = self
                            .registry
                            .gauge(&Opts::new(name, help))
                            .inspect_err(|error| {
                                tracing::warn!(%error, "cannot register a process metric");
                            })
                            .ok();
                    }
                    if let Some(gauge) = slot {
                        gauge.set(value);
                    }
                }
                None => {
                    if let Some(old) = slot.take() {
                        self.forget(&old);
                    }
                }
            }
        }
    }

    fn forget(&self, metric: &dyn Registered) {
        let _ = self.registry.unregister(metric);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading() -> Reading {
        Reading {
            cpu_seconds: Some(1.5),
            resident_memory_bytes: Some(4096.0),
            virtual_memory_bytes: Some(8192.0),
            open_fds: Some(7.0),
            max_fds: Some(1024.0),
            start_time_seconds: Some(1_700_000_000.25),
            threads: Some(3.0),
        }
    }

    #[test]
    fn shows_each_figure_and_leaves_out_missing_ones() {
        let registry = Arc::new(Registry::new());
        let process = ProcessMetrics::new(Arc::clone(&registry));
        process.show(&reading());
        assert_eq!(
            registry.render(),
            concat!(
                "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n",
                "# TYPE process_cpu_seconds_total counter\n",
                "process_cpu_seconds_total 1.5\n",
                "# HELP process_max_fds Maximum number of open file descriptors.\n",
                "# TYPE process_max_fds gauge\n",
                "process_max_fds 1024\n",
                "# HELP process_open_fds Number of open file descriptors.\n",
                "# TYPE process_open_fds gauge\n",
                "process_open_fds 7\n",
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n",
                "# TYPE process_resident_memory_bytes gauge\n",
                "process_resident_memory_bytes 4096\n",
                "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n",
                "# TYPE process_start_time_seconds gauge\n",
                "process_start_time_seconds 1700000000.25\n",
                "# HELP process_threads Number of OS threads in the process.\n",
                "# TYPE process_threads gauge\n",
                "process_threads 3\n",
                "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n",
                "# TYPE process_virtual_memory_bytes gauge\n",
                "process_virtual_memory_bytes 8192\n",
            )
        );
        process.show(&Reading {
            cpu_seconds: Some(2.25),
            max_fds: Some(f64::INFINITY),
            ..Reading::default()
        });
        assert_eq!(
            registry.render(),
            concat!(
                "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n",
                "# TYPE process_cpu_seconds_total counter\n",
                "process_cpu_seconds_total 2.25\n",
                "# HELP process_max_fds Maximum number of open file descriptors.\n",
                "# TYPE process_max_fds gauge\n",
                "process_max_fds +Inf\n",
            )
        );
        process.show(&Reading::default());
        assert_eq!(registry.render(), "");
        process.show(&reading());
        assert!(
            registry
                .render()
                .contains("process_cpu_seconds_total 1.5\n"),
            "a counter taken out starts again"
        );
    }

    #[test]
    fn the_cpu_counter_never_goes_down() {
        let registry = Arc::new(Registry::new());
        let process = ProcessMetrics::new(Arc::clone(&registry));
        for (seconds, shown) in [(0.5, 0.5), (0.75, 0.75), (0.7, 0.75), (1.0, 1.0)] {
            process.show(&Reading {
                cpu_seconds: Some(seconds),
                ..Reading::default()
            });
            assert_eq!(
                registry.render().lines().last(),
                Some(format!("process_cpu_seconds_total {shown}").as_str())
            );
        }
    }
}
