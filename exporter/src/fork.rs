//! Surviving `fork()`: a process-wide gate around the short critical sections that take locks.
//!
//! A child process holds a copy of every lock, in the state the parent's threads left it, but
//! only the thread that forked. A lock another thread held at that instant stays held forever
//! in the child, and the child's first use of it hangs. So every section of this crate (and of
//! the crates above it) that takes a lock another thread may want runs inside [`enter`], and a
//! fork is bracketed by [`prepare`] (close the gate and wait for the sections in flight) and
//! [`after_in_parent`] or [`after_in_child`] (open it again). Python's binding registers these
//! with `os.register_at_fork`; a Rust program that forks calls them itself.
//!
//! The gate is two atomics: sections in flight, and forks being prepared. A section re-entered
//! by the thread already inside one (a registration that creates a family) passes at once, so
//! a closed gate never waits for itself. Waiting spins and sleeps; it takes no lock, so the
//! gate holds no state a fork could freeze.
//!
//! The child also inherits file descriptors: the status server's listening socket and its
//! connections. [`track_fd`] records them while they are open, and [`inherited_fds`] tells a
//! child which ones it holds, so it can close them (Python does with `os.close`) and leave the
//! port and the connections to the parent.
//!
//! ```
//! use dynamo_exporter::fork;
//!
//! let section = fork::enter();
//! drop(section);
//! assert!(fork::prepare()); // no section runs now, and none starts until the gate opens
//! fork::after_in_parent();
//! ```

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Sections in flight (or about to back off from a closed gate).
static INSIDE: AtomicUsize = AtomicUsize::new(0);
/// Forks being prepared: the gate is closed while this is above zero.
static CLOSED: AtomicUsize = AtomicUsize::new(0);

/// How long [`prepare`] waits for the sections in flight before letting the fork go on.
pub const PREPARE_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// Sections this thread is inside, so that nested sections pass a closed gate.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// A critical section in progress; the gate cannot close until it is dropped.
#[must_use = "the section ends when this is dropped"]
#[derive(Debug)]
pub struct Section {
    /// Sections are tied to their thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Enters a critical section, waiting while a fork is being prepared.
///
/// Sections must be short and must not wait for anything but locks taken inside sections:
/// [`prepare`] waits for every section in flight.
pub fn enter() -> Section {
    let depth = DEPTH.with(Cell::get);
    if depth > 0 {
        DEPTH.with(|d| d.set(depth + 1));
        INSIDE.fetch_add(1, Ordering::SeqCst);
        return Section {
            _not_send: std::marker::PhantomData,
        };
    }
    let mut spins = 0u32;
    loop {
        INSIDE.fetch_add(1, Ordering::SeqCst);
        if CLOSED.load(Ordering::SeqCst) == 0 {
            break;
        }
        INSIDE.fetch_sub(1, Ordering::SeqCst);
        while CLOSED.load(Ordering::SeqCst) != 0 {
            pause(&mut spins);
        }
    }
    DEPTH.with(|d| d.set(1));
    Section {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Closes the gate and waits until no section runs, for [`PREPARE_TIMEOUT`] at most (a
/// warning is logged past it and the fork goes on). Call it just before `fork()`, on the
/// thread that forks, outside any section. Returns false when it gave up waiting.
///
/// Until the gate opens again, that thread alone still enters sections: another fork hook
/// that records a metric runs on it, and must not wait for its own gate.
pub fn prepare() -> bool {
    let drained = drain(PREPARE_TIMEOUT);
    DEPTH.with(|d| d.set(d.get() + 1));
    drained
}

/// Closes the gate and waits for the sections in flight, for `timeout` at most.
fn drain(timeout: Duration) -> bool {
    CLOSED.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + timeout;
    let mut spins = 0u32;
    while INSIDE.load(Ordering::SeqCst) != 0 {
        if Instant::now() >= deadline {
            tracing::warn!(
                sections = INSIDE.load(Ordering::SeqCst),
                "fork: metrics sections still running; forking anyway"
            );
            return false;
        }
        pause(&mut spins);
    }
    true
}

/// Opens the gate again in the parent, after `fork()`, on the thread that forked.
pub fn after_in_parent() {
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    let _ = CLOSED.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
}

/// Opens the gate in the child, after `fork()`: the other threads are gone, and so are their
/// sections.
pub fn after_in_child() {
    INSIDE.store(0, Ordering::SeqCst);
    DEPTH.with(|d| d.set(0));
    CLOSED.store(0, Ordering::SeqCst);
    // With the gate open: resetting a cell may enter a section (a native histogram's).
    crate::storage::mapped::after_fork_in_child();
}

/// True when the gate is closed for a fork (for tests and diagnostics).
#[must_use]
pub fn is_closed() -> bool {
    CLOSED.load(Ordering::SeqCst) != 0
}

fn pause(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else if *spins < 128 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// A thread and the process that started it. In a child forked since, the thread does not
/// exist: [`ProcessThread::take`] gives nothing there, and drop forgets the handle, where
/// joining would wait forever.
#[derive(Debug)]
pub struct ProcessThread {
    handle: Option<JoinHandle<()>>,
    pid: u32,
}

impl ProcessThread {
    /// A thread of this process.
    #[must_use]
    pub fn new(handle: JoinHandle<()>) -> Self {
        Self {
            handle: Some(handle),
            pid: std::process::id(),
        }
    }

    /// True in the process that started the thread.
    #[must_use]
    pub fn in_this_process(&self) -> bool {
        self.pid == std::process::id()
    }

    /// The handle, to join, in the process that started the thread; `None` once taken, and in
    /// a forked child (where the handle is forgotten).
    pub fn take(&mut self) -> Option<JoinHandle<()>> {
        let handle = self.handle.take();
        if self.in_this_process() {
            return handle;
        }
        std::mem::forget(handle);
        None
    }
}

impl Drop for ProcessThread {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// File descriptors the status server holds open, which a forked child should close.
static TRACKED: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Keeps a file descriptor in the set [`inherited_fds`] reports until dropped. Drop it
/// *before* closing the descriptor, so a child never closes a number reused meanwhile.
#[must_use = "the descriptor is forgotten when this is dropped"]
#[derive(Debug)]
pub struct TrackedFd(i32);

/// Records `fd` as held by the status server.
pub fn track_fd(fd: i32) -> TrackedFd {
    let _section = enter();
    TRACKED.lock().unwrap_or_else(|e| e.into_inner()).insert(fd);
    TrackedFd(fd)
}

impl Drop for TrackedFd {
    fn drop(&mut self) {
        let _section = enter();
        TRACKED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// In a child just forked: the status server's descriptors it inherited (sockets of the
/// parent's server), which it should close; the set is emptied. In the parent the same call
/// would list descriptors still in use, so call it only in a child.
#[must_use]
pub fn inherited_fds() -> Vec<i32> {
    let _section = enter();
    let mut tracked = TRACKED.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *tracked).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// A thread inside a section, which it leaves once the flag returned is set.
    fn section_in_flight() -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
        let (in_section, release) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let worker = {
            let (in_section, release) = (Arc::clone(&in_section), Arc::clone(&release));
            std::thread::spawn(move || {
                let _section = enter();
                in_section.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
            })
        };
        while !in_section.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        (worker, release)
    }

    /// The gate is process-wide, so its tests run in one test function, in order.
    #[test]
    fn the_gate_waits_for_sections_and_holds_new_ones_back() {
        // Nested sections pass even while closed by this thread's own prepare.
        let outer = enter();
        let inner = enter();
        drop(inner);
        drop(outer);

        // A section in flight delays prepare until it ends.
        let (worker, release) = section_in_flight();
        let preparing = std::thread::spawn(prepare);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!preparing.is_finished(), "prepare did not wait");
        release.store(true, Ordering::SeqCst);
        assert!(preparing.join().unwrap(), "prepare gave up waiting");
        worker.join().unwrap();
        assert!(is_closed());
        after_in_parent();

        // A section that outlasts the wait: the fork is let go on, and told so.
        let (worker, release) = section_in_flight();
        let started = Instant::now();
        assert!(
            !drain(Duration::from_millis(50)),
            "drained past a section in flight"
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(is_closed());
        release.store(true, Ordering::SeqCst);
        worker.join().unwrap();

        // While closed, a new section waits for the gate to open.
        let entered = Arc::new(AtomicBool::new(false));
        let waiter = {
            let entered = Arc::clone(&entered);
            std::thread::spawn(move || {
                let _section = enter();
                entered.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!entered.load(Ordering::SeqCst), "entered a closed gate");
        after_in_parent();
        waiter.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
        assert!(!is_closed());

        // The thread that prepared a fork enters sections while the gate is closed (a fork
        // hook that records a metric), and other threads still wait.
        assert!(prepare());
        drop(enter());
        let waiter = std::thread::spawn(|| drop(enter()));
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "another thread entered a closed gate"
        );
        after_in_parent();
        waiter.join().unwrap();

        // The child's reset opens the gate whatever the counts were.
        assert!(prepare());
        after_in_child();
        assert!(!is_closed());
        drop(enter());

        // Tracked descriptors are listed once, then forgotten.
        let tracked = track_fd(12345);
        assert!(inherited_fds().contains(&12345));
        assert!(!inherited_fds().contains(&12345));
        drop(tracked);
    }
}
