//! Canary health checks, as in Dynamo: an endpoint registers a handler and a payload
//! ([`Endpoint::register_health_check`]); with `DYN_HEALTH_CHECK_ENABLED`, once it has had no
//! successful request for `DYN_CANARY_WAIT_TIME` the handler is called with the payload, off
//! the scrape path, and its answer decides the endpoint's readiness until the next success.

mod activity;
mod checker;
mod probe;

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Weak};

use dynamo_exporter::Opts;
use dynamo_exporter::fork::{self, ProcessThread};
use parking_lot::Mutex;

pub(crate) use activity::{Activity, probing};
use checker::Shared;
use probe::Probe;

use crate::prometheus_names::self_metrics;
use crate::runtime::RuntimeInner;
use crate::system_server::{HealthCheckConfig, HealthStatus};
use crate::{Endpoint, MetricsError};

/// A runtime's health checks: their settings, and the checker once an endpoint registers.
pub(crate) struct HealthChecks {
    config: HealthCheckConfig,
    running: Mutex<Option<Running>>,
}

/// The checker thread and what it shares.
struct Running {
    shared: Arc<Shared>,
    thread: ProcessThread,
}

impl HealthChecks {
    pub(crate) fn new(config: HealthCheckConfig) -> Self {
        Self {
            config,
            running: Mutex::new(None),
        }
    }

    /// The checker of `runtime`, started on the first call (and again in a forked child,
    /// on the endpoints it inherited).
    fn shared(&self, runtime: &Arc<RuntimeInner>) -> Result<Arc<Shared>, MetricsError> {
        let _section = fork::enter();
        let mut running = self.running.lock();
        if let Some(current) = running.as_mut() {
            if !current.thread.in_this_process() {
                current.thread = start(&current.shared)?;
            }
            return Ok(Arc::clone(&current.shared));
        }
        let counter = runtime.registry.int_counter_vec(
            &Opts::new(
                self_metrics::HEALTH_CHECKS_TOTAL,
                self_metrics::HEALTH_CHECKS_TOTAL_HELP,
            ),
            &[self_metrics::ENDPOINT_LABEL, self_metrics::RESULT_LABEL],
        )?;
        counter.set_max_series(0);
        let target: Weak<RuntimeInner> = Arc::downgrade(runtime);
        let set_status = Box::new(move |name: &str, id: usize, status: HealthStatus| {
            target.upgrade().is_some_and(|runtime| {
                runtime.system.set_endpoint_health(name, id, status);
                true
            })
        });
        let shared = Arc::new(Shared::new(self.config, counter, set_status));
        *running = Some(Running {
            thread: start(&shared)?,
            shared: Arc::clone(&shared),
        });
        Ok(shared)
    }

    /// Stops the checker, if it runs, and waits for its thread (probes in flight are left to
    /// end on their own).
    pub(crate) fn shutdown(&self) {
        let running = {
            let _section = fork::enter();
            self.running.lock().take()
        };
        if let Some(mut running) = running {
            running.shared.stop();
            if let Some(thread) = running.thread.take() {
                if thread.thread().id() != std::thread::current().id() {
                    let _ = thread.join();
                }
            }
        }
    }
}

/// Starts a checker thread on `shared`.
fn start(shared: &Arc<Shared>) -> Result<ProcessThread, MetricsError> {
    let on_thread = Arc::clone(shared);
    std::thread::Builder::new()
        .name("dynamo-health-checks".into())
        .spawn(move || checker::run(&on_thread))
        .map(ProcessThread::new)
        .map_err(|source| MetricsError::HealthChecks { source })
}

impl Drop for HealthChecks {
    fn drop(&mut self) {
        if let Some(running) = self.running.get_mut().take() {
            running.shared.stop();
        }
    }
}

impl Endpoint {
    /// Registers this endpoint's health check: `handler`, an async function called with
    /// `payload` (Dynamo's `health_check_payload`) when the endpoint has been idle.
    ///
    /// With health checks on ([`crate::RuntimeBuilder::health_check_enabled`],
    /// `DYN_HEALTH_CHECK_ENABLED`), the endpoint is `notready` until a probe or a tracked
    /// request succeeds. Once it has had no successful tracked request
    /// ([`Endpoint::track_request`]) for the canary wait, the handler is called on a thread
    /// of its own (a current-thread tokio runtime runs the future): an `Ok` within the
    /// request timeout makes the endpoint ready; an `Err`, a panic or no answer in time makes
    /// it `notready` until the next success. Requests the handler tracks are not counted;
    /// probes are, in `dynamo_metrics_health_checks_total{endpoint, result}`. With health
    /// checks off, registering marks the endpoint ready, as serving it does in Dynamo.
    /// Registering again replaces the handler and payload.
    ///
    /// # Errors
    ///
    /// [`MetricsError::HealthChecks`] when the checker's thread cannot start, or an error
    /// creating its counter (a metric of that name registered already).
    pub fn register_health_check<P, F, Fut, T, E>(
        &self,
        handler: F,
        payload: P,
    ) -> Result<(), MetricsError>
    where
        P: Clone + Send + Sync + 'static,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + 'static,
        E: Display,
    {
        self.watch(probe::of_async(handler, payload))
    }

    /// [`Endpoint::register_health_check`] for a blocking handler, which runs to its end on
    /// its thread; past the timeout the endpoint is `notready` and its answer no longer
    /// counts, and no other probe of this endpoint starts until it has returned.
    ///
    /// # Errors
    ///
    /// As [`Endpoint::register_health_check`].
    pub fn register_blocking_health_check<P, F, T, E>(
        &self,
        handler: F,
        payload: P,
    ) -> Result<(), MetricsError>
    where
        P: Clone + Send + Sync + 'static,
        F: Fn(P) -> Result<T, E> + Send + Sync + 'static,
        E: Display,
    {
        self.watch(probe::of_blocking(handler, payload))
    }

    fn watch(&self, probe: Probe) -> Result<(), MetricsError> {
        let runtime = &self.place.runtime;
        let checks = &runtime.health_checks;
        if !checks.config.enabled {
            self.set_health_status(HealthStatus::Ready);
            return Ok(());
        }
        let shared = checks.shared(runtime)?;
        let watch = self
            .place
            .path
            .activity
            .watch(|| Arc::new(activity::Watch::new(shared.origin, Arc::downgrade(&shared))));
        shared.watch(&self.name(), self.place.id(), watch, probe);
        Ok(())
    }
}
