//! The process-wide `metrics` recorder, which sends each macro call to the right runtime.
//!
//! The `metrics` crate allows one global recorder per process, while a process may hold
//! several runtimes (tests create many). The first runtime created installs
//! [`GlobalRecorder`]; a macro call then goes to the runtime of the current scope (set by
//! `in_scope` or `instrument` on a hierarchy level), and outside any scope to the default
//! runtime: the oldest runtime still alive.

use std::sync::{Arc, Once, RwLock, Weak};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use dynamo_exporter::{HandleCache, Probed, ThreadHandles};

use crate::runtime::RuntimeInner;
use crate::scope;
use crate::thread_handles::ThreadMacroHandles;

/// Every runtime created, oldest first; dead ones are pruned when a runtime is added.
static RUNTIMES: RwLock<Vec<Weak<RuntimeInner>>> = RwLock::new(Vec::new());
static INSTALL: Once = Once::new();

/// Records `runtime` as a candidate default runtime, and installs the global recorder once
/// when `install` asks for it.
pub(crate) fn register_runtime(runtime: &Arc<RuntimeInner>, install: bool) {
    {
        let _section = dynamo_exporter::fork::enter();
        let mut runtimes = RUNTIMES.write().unwrap_or_else(|e| e.into_inner());
        runtimes.retain(|r| r.strong_count() > 0);
        runtimes.push(Arc::downgrade(runtime));
    }
    if install {
        INSTALL.call_once(|| {
            if let Err(error) = metrics::set_global_recorder(GlobalRecorder) {
                tracing::info!(%error, "another global metrics recorder is installed; macro calls go to it");
            }
        });
    }
}

/// Runs `f` on the runtime of the current scope (with the scope's place id), or on the
/// default runtime (with its root's id), with this thread's macro handles when free.
#[inline]
fn with_target_runtime<R>(
    f: impl FnOnce(&RuntimeInner, usize, Option<&mut ThreadMacroHandles>) -> R,
) -> Option<R> {
    scope::with_current_and_handles(|place, handles| match place {
        Some(place) => Some(f(&place.runtime, place.id(), handles)),
        None => default_runtime()
            .map(|runtime| f(&runtime, Arc::as_ptr(&runtime.root) as usize, handles)),
    })
}

/// The first runtime still alive. Out of line, so the scoped path around it stays small
/// enough to be inlined with the thread-local read.
#[cold]
#[inline(never)]
fn default_runtime() -> Option<Arc<RuntimeInner>> {
    let _section = dynamo_exporter::fork::enter();
    RUNTIMES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find_map(Weak::upgrade)
}

/// The global recorder installed by the first runtime: each call goes to the runtime of its
/// scope, or to the default runtime.
struct GlobalRecorder;

impl Recorder for GlobalRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        with_target_runtime(|r, _, _| r.recorder.describe_counter(key, unit, description));
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        with_target_runtime(|r, _, _| r.recorder.describe_gauge(key, unit, description));
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        with_target_runtime(|r, _, _| r.recorder.describe_histogram(key, unit, description));
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        with_target_runtime(|r, place, thread| {
            let make = || r.recorder.counter(key);
            let table = thread.map(|t| &mut t.counters);
            through(&r.macro_handles.counters, table, place, key, make)
        })
        .unwrap_or_else(Counter::noop)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        with_target_runtime(|r, place, thread| {
            let make = || r.recorder.gauge(key);
            let table = thread.map(|t| &mut t.gauges);
            through(&r.macro_handles.gauges, table, place, key, make)
        })
        .unwrap_or_else(Gauge::noop)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        with_target_runtime(|r, place, thread| {
            let make = || r.recorder.histogram(key);
            let table = thread.map(|t| &mut t.histograms);
            through(&r.macro_handles.histograms, table, place, key, make)
        })
        .unwrap_or_else(Histogram::noop)
    }
}

/// The handle of `shared` for `place` and `key`, looked up first in this thread's `table`
/// when there is one.
#[inline]
fn through<H: Clone + Send + Sync>(
    shared: &HandleCache<Probed<H>>,
    table: Option<&mut ThreadHandles<H>>,
    place: usize,
    key: &Key,
    make: impl FnOnce() -> Probed<H>,
) -> H {
    match table {
        Some(table) => shared.get_through(table, place, key, make),
        None => {
            shared
                .get_or_insert_with(place, key, Probed::is_live, make)
                .handle
        }
    }
}
