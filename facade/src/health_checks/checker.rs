//! The checker: one thread per runtime that probes each watched endpoint once it has been
//! idle for the canary wait, and turns it not ready when a probe fails or takes too long.
//! Probes run on threads of their own, at most one per endpoint at a time, so a hanging
//! handler holds one thread and delays nothing else.
//!
//! The state's lock is held only inside fork sections, never while waiting: the checker
//! sleeps by parking, and is woken by a flag and an unpark. So a forked child never inherits
//! the lock held, and can start a checker of its own on the same state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::Instant;

use dynamo_exporter::{IntCounterVec, fork};
use parking_lot::Mutex;

use super::activity::{Watch, while_probing};
use super::probe::{Outcome, Probe};
use crate::system_server::{HealthCheckConfig, HealthStatus};

/// Sets the readiness of the endpoint `name` at place `id`; false once the runtime is gone.
pub(super) type SetStatus = Box<dyn Fn(&str, usize, HealthStatus) -> bool + Send + Sync>;

/// What the checker thread, the probe threads and request tracking share.
pub(crate) struct Shared {
    pub(super) origin: Instant,
    config: HealthCheckConfig,
    state: Mutex<State>,
    /// Set by [`Shared::wake`]: the checker looks at the endpoints again before sleeping.
    woken: AtomicBool,
    /// The checker thread, to unpark (a new one in a forked child).
    checker: Mutex<Option<Thread>>,
    counter: IntCounterVec,
    set_status: SetStatus,
}

#[derive(Default)]
struct State {
    checks: Vec<Check>,
    stop: bool,
}

/// One watched endpoint.
struct Check {
    name: String,
    id: usize,
    watch: Arc<Watch>,
    probe: Probe,
    /// The start of its idle time: registration, its last success, or its last probe.
    idle_since: Instant,
    /// The last success already taken into account.
    seen_success: Option<Instant>,
    /// Numbers the probes, so that a late answer is matched to its own.
    probes: u64,
    in_flight: Option<InFlight>,
}

struct InFlight {
    number: u64,
    deadline: Instant,
    /// The deadline passed: counted as a timeout, the answer no longer matters.
    timed_out: bool,
}

impl Shared {
    pub(super) fn new(
        config: HealthCheckConfig,
        counter: IntCounterVec,
        set_status: SetStatus,
    ) -> Self {
        Self {
            origin: Instant::now(),
            config,
            state: Mutex::new(State::default()),
            woken: AtomicBool::new(false),
            checker: Mutex::new(None),
            counter,
            set_status,
        }
    }

    /// Wakes the checker to look at the endpoints again.
    pub(super) fn wake(&self) {
        self.woken.store(true, Ordering::SeqCst);
        let checker = {
            let _section = fork::enter();
            self.checker.lock().clone()
        };
        if let Some(checker) = checker {
            checker.unpark();
        }
    }

    /// Makes `thread` the one [`Shared::wake`] wakes.
    fn set_checker(&self, thread: Thread) {
        let _section = fork::enter();
        *self.checker.lock() = Some(thread);
    }

    /// Stops the checker thread.
    pub(super) fn stop(&self) {
        self.with_state(|state| state.stop = true);
        self.wake();
    }

    /// Runs `f` on the state, in a fork section.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let _section = fork::enter();
        f(&mut self.state.lock())
    }

    /// Watches the endpoint `name` at place `id` with `probe`: not ready until a probe or a
    /// request succeeds, probed after the canary wait. A second registration replaces the
    /// probe and keeps the endpoint's state.
    pub(super) fn watch(&self, name: &str, id: usize, watch: Arc<Watch>, probe: Probe) {
        for result in [
            Outcome::Success,
            Outcome::Error(String::new()),
            Outcome::Timeout,
        ] {
            let _ = self.counter.with_label_values(&[name, result.label()]);
        }
        let added = self.with_state(|state| {
            if let Some(check) = state.checks.iter_mut().find(|check| check.id == id) {
                check.probe = probe;
                return false;
            }
            let check = Check {
                name: name.to_string(),
                id,
                seen_success: watch.last_success(),
                watch,
                probe,
                idle_since: Instant::now(),
                probes: 0,
                in_flight: None,
            };
            self.mark(&check, HealthStatus::NotReady);
            state.checks.push(check);
            true
        });
        if added {
            self.wake();
        }
    }

    fn mark(&self, check: &Check, status: HealthStatus) -> bool {
        check.watch.set_ready(status == HealthStatus::Ready);
        (self.set_status)(&check.name, check.id, status)
    }

    /// Counts a probe's outcome and marks its endpoint.
    fn record(&self, check: &Check, outcome: &Outcome) -> bool {
        self.counter
            .with_label_values(&[check.name.as_str(), outcome.label()])
            .inc();
        match outcome {
            Outcome::Success => self.mark(check, HealthStatus::Ready),
            Outcome::Error(error) => {
                tracing::warn!(endpoint = check.name, %error, "health check failed");
                self.mark(check, HealthStatus::NotReady)
            }
            Outcome::Timeout => {
                tracing::warn!(endpoint = check.name, "health check timed out");
                self.mark(check, HealthStatus::NotReady)
            }
        }
    }

    /// The answer of probe `number` of the endpoint at `id`, from its thread.
    fn answered(&self, id: usize, number: u64, outcome: &Outcome) {
        let matched = self.with_state(|state| {
            let Some(check) = state.checks.iter_mut().find(|check| check.id == id) else {
                return false;
            };
            let Some(flight) = check.in_flight.take_if(|flight| flight.number == number) else {
                return false;
            };
            if !flight.timed_out && !self.record(check, outcome) {
                state.stop = true;
            }
            true
        });
        if matched {
            self.wake();
        }
    }
}

/// What the checker does after a look at the endpoints.
enum Next {
    Stop,
    /// Start these probes (the endpoint's place, the probe's number), then look again.
    Probe(Vec<(usize, u64, Probe)>),
    /// Sleep until this time (or forever), unless woken.
    Sleep(Option<Instant>),
}

/// The checker thread's loop, until [`Shared::stop`] or the runtime is gone.
pub(super) fn run(shared: &Arc<Shared>) {
    // Before the first look: a wake from then on unparks this thread.
    shared.set_checker(std::thread::current());
    loop {
        // Cleared before the look, so a wake during it is not lost.
        shared.woken.store(false, Ordering::SeqCst);
        match shared.with_state(|state| look(shared, state)) {
            Next::Stop => return,
            Next::Probe(start) => {
                for (id, number, probe) in start {
                    spawn_probe(shared, id, number, probe);
                }
            }
            Next::Sleep(until) => sleep(shared, until),
        }
    }
}

/// Parks until `until` (forever for `None`) or a wake.
fn sleep(shared: &Shared, until: Option<Instant>) {
    while !shared.woken.load(Ordering::SeqCst) {
        match until {
            Some(until) => {
                let now = Instant::now();
                if now >= until {
                    return;
                }
                std::thread::park_timeout(until - now);
            }
            None => std::thread::park(),
        }
    }
}

/// Marks what changed since the last look, counts the probes that timed out, and says what
/// to do next.
fn look(shared: &Shared, state: &mut State) -> Next {
    let config = shared.config;
    if state.stop {
        return Next::Stop;
    }
    let now = Instant::now();
    let mut next: Option<Instant> = None;
    let mut start = Vec::new();
    let mut alive = true;
    for check in &mut state.checks {
        let last = check.watch.last_success();
        if last > check.seen_success {
            check.seen_success = last;
            check.idle_since = check.idle_since.max(last.unwrap_or(now));
            alive &= shared.mark(check, HealthStatus::Ready);
        }
        if let Some(flight) = &mut check.in_flight {
            if !flight.timed_out && now >= flight.deadline {
                flight.timed_out = true;
                alive &= shared.record(check, &Outcome::Timeout);
            } else if !flight.timed_out {
                next = earliest(next, flight.deadline);
            }
            continue;
        }
        let due = check.idle_since + config.canary_wait_time;
        if now < due {
            next = earliest(next, due);
            continue;
        }
        check.probes += 1;
        let deadline = now + config.request_timeout;
        check.in_flight = Some(InFlight {
            number: check.probes,
            deadline,
            timed_out: false,
        });
        check.idle_since = now;
        next = earliest(next, deadline);
        start.push((check.id, check.probes, Arc::clone(&check.probe)));
    }
    if !alive {
        return Next::Stop;
    }
    if !start.is_empty() {
        return Next::Probe(start);
    }
    Next::Sleep(next)
}

fn earliest(next: Option<Instant>, at: Instant) -> Option<Instant> {
    Some(next.map_or(at, |next| next.min(at)))
}

/// Runs probe `number` of the endpoint at `id` on a thread of its own.
fn spawn_probe(shared: &Arc<Shared>, id: usize, number: u64, probe: Probe) {
    let timeout = shared.config.request_timeout;
    let on_thread = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("dynamo-health-probe".into())
        .spawn(move || {
            let outcome = while_probing(|| probe(timeout));
            on_thread.answered(id, number, &outcome);
        });
    if let Err(error) = spawned {
        let outcome = Outcome::Error(format!("no thread to run it on: {error}"));
        shared.answered(id, number, &outcome);
    }
}
