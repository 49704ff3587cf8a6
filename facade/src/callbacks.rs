//! Callbacks that run before each scrape: on a bounded pool of threads, the whole phase
//! bounded in time, and never run twice at once.
//!
//! A scrape queues every callback due (those registered at its level or below) on the
//! runtime's pool and waits until all are done or the callback timeout has passed, however
//! many there are; a callback still queued at that point is not started for it. A callback
//! already running or queued for a concurrent scrape is not started again: the scrape waits
//! for that call. One still running past a timeout is skipped by later scrapes until it ends.
//! The queue starts at another callback each scrape, so slow ones cannot keep the same
//! others from running forever. An engine source registered at several levels is due once
//! per scrape: at its first registration due. A text longer than the runtime's limit is
//! dropped as soon as its call returns, before it is shared with the scrapes waiting for it
//! or parsed; they are told only its size.

mod pool;
pub(crate) mod text;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::time::{Duration, Instant};

use dynamo_exporter::{IntCounterVec, fork};
use parking_lot::{Mutex, RwLock};

use crate::engine::{EnginePass, EngineRead, ReadContext};
use crate::hierarchy::Path;
use crate::runtime::RuntimeInner;
use pool::Pool;

type UpdateFn = dyn Fn() -> Result<(), String> + Send + Sync;
type TextFn = dyn Fn() -> Result<String, String> + Send + Sync;

/// How long a callback still running from an earlier scrape goes unmentioned in the log.
const OVERRUN_LOG_EVERY: Duration = Duration::from_secs(60);

enum Job {
    /// Updates metrics before the render.
    Update(Box<UpdateFn>),
    /// Returns exposition text appended after the render.
    Text(Box<TextFn>),
    /// Reads an engine's text, filtered and labelled before it joins the page.
    Engine(Arc<EnginePass>),
}

/// What a text callback or an engine source returned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Returned {
    /// Text within the limit.
    Text(String),
    /// Families made without text (a multiprocess directory's merge), within the limit: the
    /// scrapes waiting share them.
    Families(Arc<Vec<dynamo_exporter::parse::Family>>),
    /// Text longer than `limit` bytes, dropped when the call returned.
    TooLarge { bytes: usize, limit: usize },
}

/// The text a text callback or an engine source returned for one scrape.
pub(crate) struct CallbackText {
    pub(crate) text: Returned,
    /// How to filter and label it, for an engine's text.
    pub(crate) engine: Option<Arc<EnginePass>>,
}

/// Where a finished call sends its outcome: `(index in that scrape, text)`.
type Reply = mpsc::Sender<(usize, Option<Returned>)>;

/// A scrape waiting for a call: the callback's index in it, where to reply, and until when
/// it listens.
struct Waiter {
    index: usize,
    reply: Reply,
    until: Instant,
}

struct Callback {
    id: u64,
    path: Arc<Path>,
    job: Job,
    call: Mutex<Call>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Idle,
    /// Queued on the pool; not worth starting after `deadline`.
    Queued {
        deadline: Instant,
    },
    Running {
        started: Instant,
    },
}

struct Call {
    state: CallState,
    /// The process whose threads the state describes.
    pid: u32,
    /// The scrapes waiting for the call under way.
    waiting: Vec<Waiter>,
    /// When an overrun was last logged.
    logged_overrun: Option<Instant>,
}

impl Call {
    /// Adds a scrape to those waiting, forgetting the ones that stopped listening, so a call
    /// that never ends does not collect a waiter per scrape forever.
    fn wait(&mut self, waiter: Waiter) {
        let now = Instant::now();
        self.waiting.retain(|w| w.until > now);
        self.waiting.push(waiter);
    }

    /// The state, forgetting one inherited from the parent of a forked process (its thread
    /// and the scrapes waiting are gone).
    fn current(&mut self) -> CallState {
        let pid = std::process::id();
        if self.pid != pid {
            self.pid = pid;
            self.state = CallState::Idle;
            std::mem::forget(std::mem::take(&mut self.waiting));
        }
        self.state
    }
}

/// Every callback of one runtime, with the hierarchy place it was registered at.
pub(crate) struct Callbacks {
    entries: RwLock<Vec<Arc<Callback>>>,
    next_id: AtomicU64,
    rotation: AtomicUsize,
    pool: Pool,
    /// The longest text a call may return.
    text_limit: usize,
    /// Counts the files of multiprocess directories that engine sources skipped.
    files_skipped: Option<IntCounterVec>,
}

impl Callbacks {
    pub(crate) fn new(threads: usize, text_limit: usize) -> Self {
        Self {
            entries: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(0),
            rotation: AtomicUsize::new(0),
            pool: Pool::new(threads),
            text_limit,
            files_skipped: None,
        }
    }

    /// Has engine sources count the files of multiprocess directories they skip in `counter`.
    pub(crate) fn with_files_skipped(mut self, counter: IntCounterVec) -> Self {
        self.files_skipped = Some(counter);
        self
    }

    pub(crate) fn add_update(&self, path: Arc<Path>, f: Box<UpdateFn>) -> u64 {
        self.push(path, Job::Update(f))
    }

    pub(crate) fn add_text(&self, path: Arc<Path>, f: Box<TextFn>) -> u64 {
        self.push(path, Job::Text(f))
    }

    pub(crate) fn add_engine(&self, path: Arc<Path>, pass: EnginePass) -> u64 {
        self.push(path, Job::Engine(Arc::new(pass)))
    }

    fn push(&self, path: Arc<Path>, job: Job) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let callback = Arc::new(Callback {
            id,
            path,
            job,
            call: Mutex::new(Call {
                state: CallState::Idle,
                pid: std::process::id(),
                waiting: Vec::new(),
                logged_overrun: None,
            }),
        });
        let _section = fork::enter();
        self.entries.write().push(callback);
        id
    }

    /// Removes the callback `id`; false when it was removed already. A call under way
    /// finishes; no scrape starts it again.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let _section = fork::enter();
        let mut entries = self.entries.write();
        let before = entries.len();
        entries.retain(|c| c.id != id);
        entries.len() != before
    }

    /// Runs every callback registered at `place` or below on the pool, waiting at most
    /// `timeout` for all of them. Returns the texts of the text callbacks and engine sources
    /// that finished, in registration order. An engine source registered several times runs
    /// once, as its first registration due.
    ///
    /// A callback that fails or panics is logged and skipped.
    pub(crate) fn run(&self, place: &Path, timeout: Duration) -> Vec<CallbackText> {
        let due: Vec<Arc<Callback>> = {
            let _section = fork::enter();
            let mut sources = HashSet::new();
            self.entries
                .read()
                .iter()
                .filter(|c| c.path.is_within(place))
                .filter(|c| match &c.job {
                    Job::Engine(pass) => sources.insert(pass.source.identity()),
                    Job::Update(_) | Job::Text(_) => true,
                })
                .cloned()
                .collect()
        };
        if due.is_empty() {
            return Vec::new();
        }
        let deadline = Instant::now() + timeout;
        let (tx, rx) = mpsc::channel::<(usize, Option<Returned>)>();
        let first = self.rotation.fetch_add(1, Ordering::Relaxed) % due.len();
        let waiter = |index| Waiter {
            index,
            reply: tx.clone(),
            until: deadline,
        };
        let mut waiting = 0;
        for offset in 0..due.len() {
            let index = (first + offset) % due.len();
            let callback = &due[index];
            let _section = fork::enter();
            let mut call = callback.call.lock();
            match call.current() {
                CallState::Running { started } if started.elapsed() >= timeout => {
                    if call
                        .logged_overrun
                        .is_none_or(|at| at.elapsed() >= OVERRUN_LOG_EVERY)
                    {
                        call.logged_overrun = Some(Instant::now());
                        tracing::warn!(
                            callback = callback.id,
                            running_for = ?started.elapsed(),
                            "metrics callback still running from an earlier scrape; skipped"
                        );
                    }
                }
                CallState::Running { .. } => {
                    call.wait(waiter(index));
                    waiting += 1;
                }
                CallState::Queued { deadline: queued } => {
                    call.state = CallState::Queued {
                        deadline: queued.max(deadline),
                    };
                    call.wait(waiter(index));
                    waiting += 1;
                }
                CallState::Idle => {
                    call.state = CallState::Queued { deadline };
                    call.wait(waiter(index));
                    waiting += 1;
                    drop(call);
                    let on_pool = Arc::clone(callback);
                    let limit = self.text_limit;
                    let skipped = self.files_skipped.clone();
                    self.pool.submit(
                        Box::new(move || run_one(&on_pool, limit, skipped.as_ref())),
                        timeout,
                    );
                }
            }
        }
        drop(tx);
        // Jobs queued by earlier scrapes behind hung callbacks get a thread now.
        self.pool.kick(timeout);
        let mut texts: Vec<(usize, Returned)> = Vec::new();
        while waiting > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((index, text)) => {
                    waiting -= 1;
                    texts.extend(text.map(|t| (index, t)));
                }
                Err(_) => {
                    tracing::warn!(
                        pending = waiting,
                        ?timeout,
                        "metrics callbacks did not finish in time; scraping without them"
                    );
                    break;
                }
            }
        }
        texts.sort_by_key(|(index, _)| *index);
        texts
            .into_iter()
            .map(|(index, text)| CallbackText {
                text,
                engine: match &due[index].job {
                    Job::Engine(pass) => Some(Arc::clone(pass)),
                    Job::Update(_) | Job::Text(_) => None,
                },
            })
            .collect()
    }

    /// Threads of the pool now, for tests.
    #[cfg(test)]
    fn threads(&self) -> usize {
        self.pool.threads()
    }
}

/// Runs `callback` on a thread of the pool, unless every scrape that wanted it gave up.
fn run_one(callback: &Callback, limit: usize, files_skipped: Option<&IntCounterVec>) {
    {
        let _section = fork::enter();
        let mut call = callback.call.lock();
        match call.current() {
            CallState::Queued { deadline } if Instant::now() >= deadline => {
                // Too late for every scrape that queued it: leave it for the next one.
                call.state = CallState::Idle;
                call.waiting.clear();
                return;
            }
            CallState::Queued { .. } => {
                call.state = CallState::Running {
                    started: Instant::now(),
                };
            }
            CallState::Idle | CallState::Running { .. } => return,
        }
    }
    let mut text = call(callback, &ReadContext { files_skipped }).map(|text| within(text, limit));
    let waiting = {
        let _section = fork::enter();
        let mut call = callback.call.lock();
        call.state = CallState::Idle;
        std::mem::take(&mut call.waiting)
    };
    let mut waiting = waiting.into_iter().peekable();
    while let Some(waiter) = waiting.next() {
        // The last scrape waiting gets the text itself, so that families shared with no
        // other scrape are not copied.
        let text = if waiting.peek().is_some() {
            text.clone()
        } else {
            text.take()
        };
        // A scrape past its deadline has stopped listening.
        let _ = waiter.reply.send((waiter.index, text));
    }
}

/// The text or families, or only their size when they are longer than `limit` bytes (they
/// are freed here, before any copy is made for the scrapes waiting). Families count as the
/// bytes of the text they would make.
fn within(read: EngineRead, limit: usize) -> Returned {
    let bytes = match &read {
        EngineRead::Text(text) => text.len(),
        EngineRead::Families(families) => text_bytes(families),
    };
    if bytes > limit {
        return Returned::TooLarge { bytes, limit };
    }
    match read {
        EngineRead::Text(text) => Returned::Text(text),
        EngineRead::Families(families) => Returned::Families(Arc::new(families)),
    }
}

/// The length of the text exposition of `families` as a merge would write it (`# HELP` and
/// `# TYPE` lines, then a line per sample), to within the escapes of label values and help
/// and the digits of values that are not whole (counted as 24 bytes, the longest).
pub(crate) fn text_bytes(families: &[dynamo_exporter::parse::Family]) -> usize {
    families
        .iter()
        .map(|family| {
            let name = family.name.len();
            let help = family.help.as_ref().map_or(0, |help| name + help.len() + 9);
            let header = help + name + family.kind.as_str().len() + 9;
            let samples: usize = family
                .samples
                .iter()
                .map(|sample| {
                    // `name{labels} value\n`: the braces, and a comma less than labels.
                    let braces = usize::from(!sample.labels.is_empty());
                    sample.name.len()
                        + pairs_bytes(&sample.labels)
                        + braces
                        + 2
                        + number_bytes(sample.value)
                })
                .sum();
            let sets: usize = family
                .sets
                .iter()
                .map(|set| {
                    // As a sample's, with the set's own label among the labels.
                    let line =
                        set.name.len() + pairs_bytes(&set.labels) + set.label.len() + 4 + 1 + 2;
                    set.values
                        .iter()
                        .map(|(own, value)| line + own.len() + number_bytes(*value))
                        .sum::<usize>()
                })
                .sum();
            header + samples + sets
        })
        .sum()
}

/// The length of label pairs as `name="value",` each, to within escapes.
fn pairs_bytes(pairs: &[(String, String)]) -> usize {
    pairs
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum()
}

/// The length of `value` as `{:?}` writes it when it is whole (`3.0`), else the longest.
fn number_bytes(value: f64) -> usize {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        let whole = value.abs() as u64;
        let digits = whole.checked_ilog10().map_or(1, |n| n as usize + 1);
        digits + 2 + usize::from(value.is_sign_negative())
    } else {
        24
    }
}

/// Calls one callback, logging a failure or panic; text callbacks return their text, engine
/// sources their text or families.
fn call(callback: &Callback, context: &ReadContext<'_>) -> Option<EngineRead> {
    let outcome = catch_unwind(AssertUnwindSafe(|| match &callback.job {
        Job::Update(f) => f().map(|()| None),
        Job::Text(f) => f().map(|text| Some(EngineRead::Text(text))),
        Job::Engine(pass) => pass.source.read(context).map(Some),
    }));
    match outcome {
        Ok(Ok(text)) => text,
        Ok(Err(error)) => {
            tracing::error!(%error, "metrics callback failed; skipped");
            None
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = message, "metrics callback panicked; skipped");
            None
        }
    }
}

/// Unregisters a callback registered with [`crate::Metrics::register_callback`] or
/// [`crate::Metrics::register_prometheus_expfmt_callback`].
///
/// Dropping the handle keeps the callback registered (code that ignores the handle keeps
/// working as before); call [`CallbackHandle::unregister`] to remove it. The handle holds the
/// runtime weakly.
///
/// ```
/// # fn main() -> anyhow::Result<()> {
/// use dynamo_runtime::DistributedRuntime;
///
/// let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
/// let metrics = runtime.namespace("ns").metrics();
/// let handle = metrics.register_prometheus_expfmt_callback(|| {
///     Ok::<_, String>("# TYPE engine_up gauge\nengine_up 1\n".into())
/// });
/// assert!(metrics.prometheus_expfmt()?.contains("engine_up 1\n"));
/// assert!(handle.unregister());
/// assert!(!metrics.prometheus_expfmt()?.contains("engine_up"));
/// assert!(!handle.unregister(), "already removed");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CallbackHandle {
    runtime: Weak<RuntimeInner>,
    id: u64,
}

impl CallbackHandle {
    pub(crate) fn new(runtime: &Arc<RuntimeInner>, id: u64) -> Self {
        Self {
            runtime: Arc::downgrade(runtime),
            id,
        }
    }

    /// Removes the callback: later scrapes no longer run it (a call under way finishes).
    /// Returns false when it was removed already or its runtime is gone.
    pub fn unregister(&self) -> bool {
        self.runtime
            .upgrade()
            .is_some_and(|runtime| runtime.callbacks.remove(self.id))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn texts(texts: Vec<CallbackText>) -> Vec<Returned> {
        texts.into_iter().map(|t| t.text).collect()
    }

    fn text(text: &str) -> Returned {
        Returned::Text(text.into())
    }

    #[test]
    fn a_text_past_the_limit_is_told_by_its_size_only() {
        let callbacks = Callbacks::new(1, 8);
        for text in ["a 1\n", "long_name 1\n", "b 12345\n"] {
            callbacks.add_text(Arc::new(Path::default()), Box::new(move || Ok(text.into())));
        }
        assert_eq!(
            texts(callbacks.run(&Path::default(), Duration::from_secs(10))),
            [
                text("a 1\n"),
                Returned::TooLarge {
                    bytes: 12,
                    limit: 8
                },
                text("b 12345\n"),
            ]
        );
    }

    #[test]
    fn concurrent_scrapes_share_the_call_under_way() {
        let callbacks = Arc::new(Callbacks::new(4, usize::MAX));
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let counted = Arc::clone(&calls);
        callbacks.add_text(
            Arc::new(Path::default()),
            Box::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = released.lock().recv_timeout(Duration::from_secs(60));
                Ok("shared_total 1\n".into())
            }),
        );
        let scrapes: Vec<_> = (0..2)
            .map(|_| {
                let callbacks = Arc::clone(&callbacks);
                std::thread::spawn(move || callbacks.run(&Path::default(), Duration::from_secs(60)))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while callbacks.entries.read()[0].call.lock().waiting.len() < 2 {
            assert!(Instant::now() < deadline, "the scrapes never both waited");
            std::thread::yield_now();
        }
        release.send(()).unwrap();
        for scrape in scrapes {
            assert_eq!(texts(scrape.join().unwrap()), [text("shared_total 1\n")]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn many_slow_callbacks_end_within_the_timeout_on_few_threads() {
        let callbacks = Callbacks::new(2, usize::MAX);
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..200 {
            let ran = Arc::clone(&ran);
            callbacks.add_update(
                Arc::new(Path::default()),
                Box::new(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }),
            );
        }
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        callbacks.run(&Path::default(), timeout);
        let took = started.elapsed();
        assert!(took >= timeout, "the scrape waited for its callbacks");
        assert!(took < timeout * 3, "the phase took {took:?}");
        assert!(callbacks.threads() <= 2);
        // The callbacks queued too late are not started for this scrape.
        std::thread::sleep(Duration::from_millis(200));
        let after = ran.load(Ordering::SeqCst);
        assert!(after < 60, "{after} callbacks ran");
    }

    #[test]
    fn callbacks_queued_behind_hung_ones_still_run_and_keep_no_stale_waiters() {
        let callbacks = Callbacks::new(1, usize::MAX);
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        for _ in 0..pool::STUCK_FACTOR - 1 {
            let released = Arc::clone(&released);
            callbacks.add_update(
                Arc::new(Path::default()),
                Box::new(move || {
                    let _ = released.lock().recv_timeout(Duration::from_secs(30));
                    Ok(())
                }),
            );
        }
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ran);
        callbacks.add_update(
            Arc::new(Path::default()),
            Box::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }),
        );
        // Every scrape gives up quickly; the hung callbacks hold threads one after another,
        // and the pool replaces them until the last callback gets one.
        let deadline = Instant::now() + Duration::from_secs(20);
        while ran.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the last callback never ran");
            callbacks.run(&Path::default(), Duration::from_millis(20));
            for callback in callbacks.entries.read().iter() {
                let waiting = callback.call.lock().waiting.len();
                assert!(waiting <= 1, "{waiting} waiters kept");
            }
        }
        assert!(callbacks.threads() <= pool::STUCK_FACTOR);
        drop(release);
    }

    #[test]
    fn an_unregistered_callback_no_longer_runs() {
        let callbacks = Callbacks::new(1, usize::MAX);
        let id = callbacks.add_text(Arc::new(Path::default()), Box::new(|| Ok("a 1\n".into())));
        assert_eq!(
            texts(callbacks.run(&Path::default(), Duration::from_secs(10))),
            [text("a 1\n")]
        );
        assert!(callbacks.remove(id));
        assert!(!callbacks.remove(id));
        assert!(
            callbacks
                .run(&Path::default(), Duration::from_secs(10))
                .is_empty()
        );
    }
}
