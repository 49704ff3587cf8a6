//! Callbacks that run before each scrape, each bounded in time and never run twice at once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::hierarchy::Path;

type UpdateFn = dyn Fn() -> Result<(), String> + Send + Sync;
type TextFn = dyn Fn() -> Result<String, String> + Send + Sync;

enum Job {
    /// Updates metrics before the render.
    Update(Box<UpdateFn>),
    /// Returns exposition text appended after the render.
    Text(Box<TextFn>),
}

/// Where a finished call sends its outcome: `(index in that scrape, text)`.
type Reply = mpsc::Sender<(usize, Option<String>)>;

struct Callback {
    path: Arc<Path>,
    job: Job,
    /// The call under way, if any, so a slow callback is not started again.
    call: Mutex<Call>,
}

#[derive(Default)]
struct Call {
    /// When the call under way started; `None` when the callback is idle.
    started: Option<Instant>,
    /// The scrapes waiting for the call under way, with the callback's index in each.
    waiting: Vec<(usize, Reply)>,
}

/// Every callback of one runtime, with the hierarchy place it was registered at.
#[derive(Default)]
pub(crate) struct Callbacks {
    entries: RwLock<Vec<Arc<Callback>>>,
}

impl Callbacks {
    pub(crate) fn add_update(&self, path: Arc<Path>, f: Box<UpdateFn>) {
        self.push(path, Job::Update(f));
    }

    pub(crate) fn add_text(&self, path: Arc<Path>, f: Box<TextFn>) {
        self.push(path, Job::Text(f));
    }

    fn push(&self, path: Arc<Path>, job: Job) {
        self.entries.write().push(Arc::new(Callback {
            path,
            job,
            call: Mutex::new(Call::default()),
        }));
    }

    /// Runs every callback registered at `place` or below, each once and on its own thread,
    /// waiting at most `timeout` for all of them. Returns the text of the text callbacks that
    /// finished, in registration order, each ending in a newline.
    ///
    /// A callback that fails or panics is logged and skipped. One already running for a
    /// concurrent scrape is not started again: this scrape waits for that call's outcome.
    /// One that overran an earlier scrape's deadline and still runs is skipped at once, so a
    /// hung callback costs one timeout, not one per scrape.
    pub(crate) fn run(&self, place: &Path, timeout: Duration) -> String {
        let due: Vec<Arc<Callback>> = self
            .entries
            .read()
            .iter()
            .filter(|c| c.path.is_within(place))
            .cloned()
            .collect();
        if due.is_empty() {
            return String::new();
        }
        let (tx, rx) = mpsc::channel::<(usize, Option<String>)>();
        let mut waiting = 0;
        for (index, callback) in due.iter().enumerate() {
            let mut call = callback.call.lock();
            match call.started {
                Some(started) if started.elapsed() >= timeout => {
                    tracing::warn!(
                        callback = index,
                        running_for = ?started.elapsed(),
                        "metrics callback still running from an earlier scrape; skipped"
                    );
                }
                Some(_) => {
                    call.waiting.push((index, tx.clone()));
                    waiting += 1;
                }
                None => {
                    call.started = Some(Instant::now());
                    call.waiting.push((index, tx.clone()));
                    waiting += 1;
                    drop(call);
                    spawn(callback);
                }
            }
        }
        drop(tx);
        let deadline = Instant::now() + timeout;
        let mut texts: Vec<(usize, String)> = Vec::new();
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
        let mut out = String::new();
        for (_, text) in texts {
            out.push_str(&text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// Calls `callback` on a thread of its own and sends its outcome to every scrape waiting.
fn spawn(callback: &Arc<Callback>) {
    let on_thread = Arc::clone(callback);
    let spawned = std::thread::Builder::new()
        .name("dynamo-metrics-callback".into())
        .spawn(move || {
            let text = call(&on_thread);
            finish(&on_thread, &text);
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start a metrics callback thread");
        finish(callback, &None);
    }
}

/// Marks `callback` idle and hands `text` to the scrapes that waited for it.
fn finish(callback: &Callback, text: &Option<String>) {
    let waiting = {
        let mut call = callback.call.lock();
        call.started = None;
        std::mem::take(&mut call.waiting)
    };
    for (index, reply) in waiting {
        // A scrape past its deadline has stopped listening.
        let _ = reply.send((index, text.clone()));
    }
}

/// Calls one callback, logging a failure or panic; text callbacks return their text.
fn call(callback: &Callback) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| match &callback.job {
        Job::Update(f) => f().map(|()| None),
        Job::Text(f) => f().map(Some),
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn concurrent_scrapes_share_the_call_under_way() {
        let callbacks = Arc::new(Callbacks::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let counted = Arc::clone(&calls);
        callbacks.add_text(
            Arc::new(Path::default()),
            Box::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = released.lock().recv_timeout(Duration::from_secs(60));
                Ok("shared_total 1".into())
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
            assert_eq!(scrape.join().unwrap(), "shared_total 1\n");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
