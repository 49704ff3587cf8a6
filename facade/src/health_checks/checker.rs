//! The checker: one thread per runtime that probes each watched endpoint once it has been
//! idle for the canary wait, and turns it not ready when a probe fails or takes too long.
//! Probes run on threads of their own, at most one per endpoint at a time, so a hanging
//! handler holds one thread and delays nothing else.

use std::sync::Arc;
use std::time::Instant;

use dynamo_exporter::IntCounterVec;
use parking_lot::{Condvar, Mutex};

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
    wake: Condvar,
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
            wake: Condvar::new(),
            counter,
            set_status,
        }
    }

    /// Wakes the checker to look at the endpoints again.
    pub(super) fn wake(&self) {
        let _state = self.state.lock();
        self.wake.notify_all();
    }

    /// Stops the checker thread.
    pub(super) fn stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_all();
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
        let mut state = self.state.lock();
        if let Some(check) = state.checks.iter_mut().find(|check| check.id == id) {
            check.probe = probe;
            return;
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
        self.wake.notify_all();
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
        let mut state = self.state.lock();
        let Some(check) = state.checks.iter_mut().find(|check| check.id == id) else {
            return;
        };
        let Some(flight) = check.in_flight.take_if(|flight| flight.number == number) else {
            return;
        };
        if !flight.timed_out && !self.record(check, outcome) {
            state.stop = true;
        }
        self.wake.notify_all();
    }
}

/// The checker thread's loop, until [`Shared::stop`] or the runtime is gone.
pub(super) fn run(shared: &Arc<Shared>) {
    let config = shared.config;
    let mut state = shared.state.lock();
    loop {
        if state.stop {
            return;
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
            return;
        }
        if !start.is_empty() {
            drop(state);
            for (id, number, probe) in start {
                spawn_probe(shared, id, number, probe);
            }
            state = shared.state.lock();
            continue;
        }
        match next {
            Some(deadline) => {
                shared.wake.wait_until(&mut state, deadline);
            }
            None => shared.wake.wait(&mut state),
        }
    }
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
