//! Callbacks that run before each scrape, each bounded in time and never run twice at once.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use crate::hierarchy::Path;

type UpdateFn = dyn Fn() -> Result<(), String> + Send + Sync;
type TextFn = dyn Fn() -> Result<String, String> + Send + Sync;

enum Job {
    /// Updates metrics before the render.
    Update(Box<UpdateFn>),
    /// Returns exposition text appended after the render.
    Text(Box<TextFn>),
}

struct Callback {
    path: Arc<Path>,
    job: Job,
    /// Set while a call is under way, so a slow callback is not started again.
    running: AtomicBool,
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
            running: AtomicBool::new(false),
        }));
    }

    /// Runs every callback registered at `place` or below, each once and on its own thread,
    /// waiting at most `timeout` for all of them. Returns the text of the text callbacks that
    /// finished, in registration order, each ending in a newline.
    ///
    /// A callback that fails or panics is logged and skipped; one that is still running (from
    /// this call or an earlier one) is not waited for past the deadline, nor started again.
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
            if callback.running.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    callback = index,
                    "metrics callback still running from an earlier scrape; skipped"
                );
                continue;
            }
            let callback_ref = Arc::clone(callback);
            let tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name("dynamo-metrics-callback".into())
                .spawn(move || {
                    let text = call(&callback_ref);
                    callback_ref.running.store(false, Ordering::Release);
                    let _ = tx.send((index, text));
                });
            match spawned {
                Ok(_) => waiting += 1,
                Err(error) => {
                    callback.running.store(false, Ordering::Release);
                    tracing::error!(%error, "could not start a metrics callback thread");
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
