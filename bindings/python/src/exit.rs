//! Interpreter exit while the runtime's threads run Python callbacks: the process exits
//! cleanly, with or without `shutdown()`.
//!
//! The runtime's own threads (the callback pools behind the status server's scrapes, OTLP
//! exports and `prometheus_expfmt()`) attach to the interpreter to run a callback. Once the
//! interpreter finalizes, CPython ends a thread that takes it (a new attachment, or a callback
//! waking from `time.sleep`) with `pthread_exit`; that forced unwind through the Rust frames
//! of the attachment aborts the process.
//!
//! So every attachment of a runtime thread runs in a counted section ([`call`]), and the
//! module registers an `atexit` hook when it is imported. Hooks run before finalization,
//! while other threads still work: ours closes the gate, so that no callback starts from then
//! on (it is skipped, as a failed one is), and waits with the interpreter released until the
//! callbacks under way return, for [`EXIT_TIMEOUT`] at most. Python's own threads need none
//! of this: a daemon thread inside a call of this module is ended as any daemon thread is.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

/// How long the exit hook waits for the callbacks under way.
pub(crate) const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Set by the exit hook: no callback starts.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The sections under way, in every thread.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The sections under way on this thread: after a fork, the child's one thread keeps its
    /// own, the others' are gone.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// A callback's attachment under way; it ends when dropped.
struct Section {
    /// Sections are counted per thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Section {
    /// Enters a section, unless the exit hook closed the gate. Counting first and checking
    /// after (the hook sets the flag first and counts after) means that either the hook waits
    /// for this section or this section sees the gate closed.
    fn enter() -> Option<Self> {
        INSIDE.fetch_add(1, Ordering::SeqCst);
        if CLOSED.load(Ordering::SeqCst) {
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        DEPTH.with(|depth| depth.set(depth.get() + 1));
        Some(Self {
            _not_send: std::marker::PhantomData,
        })
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f` attached to the interpreter, from a thread of the runtime (one that Python did
/// not start), unless the interpreter is exiting or gone: then `f` is not called.
pub(crate) fn call<T>(f: impl for<'py> FnOnce(Python<'py>) -> T) -> Option<T> {
    let _section = Section::enter()?;
    Python::try_attach(f)
}

/// The exit hook: closes the gate and waits, with the interpreter released, for the sections
/// under way.
fn at_exit(py: Python<'_>) -> PyResult<()> {
    CLOSED.store(true, Ordering::SeqCst);
    // A callback under way on this thread (the hook run from a callback) cannot end first.
    let own = DEPTH.with(Cell::get);
    let ended = py.detach(|| {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while INSIDE.load(Ordering::SeqCst) > own {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    });
    if !ended {
        py.import("logging")?
            .call_method1("getLogger", ("dynamo.runtime",))?
            .call_method1(
                "warning",
                (
                    "interpreter exit: %d metrics callback(s) still running after %.0f s; not \
                     waiting longer",
                    INSIDE.load(Ordering::SeqCst) - own,
                    EXIT_TIMEOUT.as_secs_f64(),
                ),
            )?;
    }
    Ok(())
}

/// In a forked child: the sections of the parent's other threads are gone, those of the
/// thread that forked go on.
pub(crate) fn after_fork_in_child() {
    INSIDE.store(DEPTH.with(Cell::get), Ordering::SeqCst);
}

/// Registers the exit hook with `atexit.register`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let hook = PyCFunction::new_closure(
        py,
        Some(c"_metrics_at_exit"),
        None,
        |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| at_exit(args.py()),
    )?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
