//! A bounded pool of threads that run callbacks.
//!
//! Threads start when work arrives (up to the pool's size) and end after a minute without
//! work. A thread whose job has overrun the callback timeout counts as stuck: a replacement
//! may start so that hung callbacks do not shrink the pool, up to [`STUCK_FACTOR`] times its
//! size in all.
//!
//! The pool waits with `std::sync` primitives, which keep no process-wide state, and it
//! remembers the process that created it: in a child forked from it, the threads do not
//! exist, so a fresh pool takes over and the old one is left untouched.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dynamo_exporter::fork;

/// Work for a thread of the pool.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// How long a thread without work waits before ending.
const IDLE_EXIT: Duration = Duration::from_secs(60);
/// Threads in all, stuck ones included, are at most this many times the pool's size.
pub(crate) const STUCK_FACTOR: usize = 4;

#[derive(Clone, Copy)]
enum Worker {
    Idle,
    Busy(Instant),
}

struct Queue {
    jobs: VecDeque<Job>,
    /// The live threads, by slot; `None` is a free slot.
    workers: Vec<Option<Worker>>,
}

struct Shared {
    pid: u32,
    queue: Mutex<Queue>,
    work: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The pool of one runtime.
pub(crate) struct Pool {
    size: usize,
    shared: parking_lot::Mutex<Option<Arc<Shared>>>,
}

impl Pool {
    pub(crate) fn new(size: usize) -> Self {
        Self {
            size: size.max(1),
            shared: parking_lot::Mutex::new(None),
        }
    }

    /// The pool of this process, made anew after a fork.
    fn shared(&self) -> Arc<Shared> {
        let pid = std::process::id();
        let _section = fork::enter();
        let mut shared = self.shared.lock();
        match &*shared {
            Some(current) if current.pid == pid => Arc::clone(current),
            _ => {
                // A pool inherited from the parent: its threads are gone, and its lock may
                // be held forever. Leave it as it is.
                std::mem::forget(shared.take());
                let fresh = Arc::new(Shared {
                    pid,
                    queue: Mutex::new(Queue {
                        jobs: VecDeque::new(),
                        workers: Vec::new(),
                    }),
                    work: Condvar::new(),
                });
                *shared = Some(Arc::clone(&fresh));
                fresh
            }
        }
    }

    /// Queues `job`, starting a thread when none is idle and the pool has room. A thread
    /// busy for longer than `stuck_after` does not count against the size.
    pub(crate) fn submit(&self, job: Job, stuck_after: Duration) {
        let shared = self.shared();
        let mut queue = shared.lock();
        queue.jobs.push_back(job);
        self.grow(&shared, &mut queue, stuck_after);
        drop(queue);
        shared.work.notify_one();
    }

    /// Starts a thread if jobs wait, none is idle, and the threads not stuck (busy for
    /// `stuck_after` or longer) are fewer than the size. Scrapes call it even when they
    /// queue nothing, so jobs queued behind hung callbacks get a thread in time.
    pub(crate) fn kick(&self, stuck_after: Duration) {
        let shared = self.shared();
        let mut queue = shared.lock();
        self.grow(&shared, &mut queue, stuck_after);
    }

    fn grow(&self, shared: &Arc<Shared>, queue: &mut Queue, stuck_after: Duration) {
        let live = queue.workers.iter().flatten().count();
        let idle = queue
            .workers
            .iter()
            .flatten()
            .filter(|w| matches!(w, Worker::Idle))
            .count();
        let stuck = queue
            .workers
            .iter()
            .flatten()
            .filter(|w| matches!(w, Worker::Busy(since) if since.elapsed() >= stuck_after))
            .count();
        let waiting = queue.jobs.len();
        if waiting <= idle || live - stuck >= self.size || live >= self.size * STUCK_FACTOR {
            return;
        }
        let slot = match queue.workers.iter().position(Option::is_none) {
            Some(slot) => slot,
            None => {
                queue.workers.push(None);
                queue.workers.len() - 1
            }
        };
        queue.workers[slot] = Some(Worker::Idle);
        let for_thread = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("dynamo-metrics-callback".into())
            .spawn(move || work(&for_thread, slot));
        if let Err(error) = spawned {
            queue.workers[slot] = None;
            tracing::error!(%error, "could not start a metrics callback thread");
        }
    }

    /// Threads alive now, for tests.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.shared().lock().workers.iter().flatten().count()
    }
}

/// A thread of the pool: runs jobs until none comes for [`IDLE_EXIT`].
fn work(shared: &Shared, slot: usize) {
    let mut queue = shared.lock();
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            queue.workers[slot] = Some(Worker::Busy(Instant::now()));
            drop(queue);
            job();
            queue = shared.lock();
            queue.workers[slot] = Some(Worker::Idle);
            continue;
        }
        let (next, timeout) = shared
            .work
            .wait_timeout(queue, IDLE_EXIT)
            .unwrap_or_else(|e| e.into_inner());
        queue = next;
        if timeout.timed_out() && queue.jobs.is_empty() {
            queue.workers[slot] = None;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn runs_many_jobs_on_few_threads() {
        let pool = Pool::new(3);
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for _ in 0..200 {
            let done = Arc::clone(&done);
            let tx = tx.clone();
            pool.submit(
                Box::new(move || {
                    done.fetch_add(1, Ordering::SeqCst);
                    let _ = tx.send(());
                }),
                Duration::from_secs(60),
            );
            assert!(pool.threads() <= 3);
        }
        for _ in 0..200 {
            rx.recv_timeout(Duration::from_secs(20)).unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 200);
    }

    #[test]
    fn stuck_threads_are_replaced_up_to_a_bound() {
        let pool = Pool::new(1);
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let (started_tx, started) = mpsc::channel();
        for submitted in 0..STUCK_FACTOR + 2 {
            let released = Arc::clone(&released);
            let started_tx = started_tx.clone();
            pool.submit(
                Box::new(move || {
                    let _ = started_tx.send(());
                    let _ = released
                        .lock()
                        .unwrap()
                        .recv_timeout(Duration::from_secs(30));
                }),
                Duration::ZERO,
            );
            // Each job gets a thread of its own until the bound; then jobs wait.
            if submitted < STUCK_FACTOR {
                started.recv_timeout(Duration::from_secs(20)).unwrap();
            }
        }
        assert_eq!(pool.threads(), STUCK_FACTOR);
        for _ in 0..10 {
            let _ = release.send(());
        }
    }
}
