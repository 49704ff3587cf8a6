//! Request tracking: the metrics Dynamo keeps for every served endpoint, created once per
//! endpoint on first use, and a guard that keeps them right whatever path ends a request.
//!
//! The metrics ([`crate::prometheus_names::work_handler`]), each `dynamo_component_<name>`
//! with the endpoint's hierarchy labels and the constant labels of [`RequestMetricsOptions`]:
//!
//! | name | type | updated |
//! |---|---|---|
//! | `requests_total` | counter | when a request starts |
//! | `inflight_requests` | gauge | up when a request starts, down when it ends |
//! | `request_duration_seconds` | histogram | when a request ends |
//! | `request_bytes_total`, `response_bytes_total` | counters | [`RequestGuard::request_bytes`], [`RequestGuard::response_bytes`] |
//! | `errors_total{error_type}` | counters | [`RequestGuard::error`] |
//! | `cancellation_total` | counter | [`RequestGuard::cancelled`], or a tracked future or stream dropped early |
//! | `time_to_first_response_seconds` | histogram | [`RequestGuard::first_response`]; created on its first use |

mod clock;
mod future;
mod guard;
mod options;
mod stream;
mod trace;

pub(crate) use clock::RequestClock;
pub use future::TrackedFuture;
pub use guard::RequestGuard;
use options::Settings;
pub use options::{DEFAULT_REQUEST_DURATION_BUCKETS, RequestMetricsOptions};
pub use stream::TrackedStream;
pub use trace::TraceParent;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use dynamo_exporter::{Histogram, IntCounter, IntCounterVec, IntGauge, Registered, fork};
use parking_lot::Mutex;

use crate::health_checks::{Activity, probing};
use crate::hierarchy::{Place, WeakPlace};
use crate::prometheus_names::work_handler as names;
use crate::{Endpoint, Metrics, MetricsError};

/// The request metrics of one endpoint: the handles a [`RequestGuard`] updates.
///
/// Made once per endpoint, by its first tracked request or by
/// [`RequestMetricsOptions::create`]; [`Endpoint::request_metrics`] returns them. Clones share
/// the same metrics.
#[derive(Clone)]
pub struct RequestMetrics(Arc<Inner>);

struct Inner {
    handles: Handles,
    /// Told of each successful request, for the endpoint's health check.
    activity: Arc<Activity>,
    first_response: FirstResponse,
    clock: RequestClock,
}

/// The metrics every tracked request updates.
struct Handles {
    requests: IntCounter,
    inflight: IntGauge,
    duration: Histogram,
    request_bytes: IntCounter,
    response_bytes: IntCounter,
    errors: IntCounterVec,
    cancellations: IntCounter,
}

/// The time-to-first-response histogram, created on its first use so that endpoints that never
/// mark a first response do not export an empty histogram.
struct FirstResponse {
    /// The endpoint; weak, since the runtime owns these metrics.
    place: WeakPlace,
    settings: Settings,
    histogram: OnceLock<Histogram>,
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics")
            .field("const_labels", &self.0.handles.requests.const_labels())
            .finish_non_exhaustive()
    }
}

impl RequestMetrics {
    /// Starts tracking one request: counts it and adds it to the requests in flight. The
    /// guard ends it when dropped or finished.
    pub fn track(&self) -> RequestGuard {
        RequestGuard::start(self.clone(), None)
    }

    /// [`track`](Self::track), the request's trace and span ids (from its `traceparent`)
    /// put beside its count in `requests_total` and its duration as exemplars.
    pub fn track_traced(&self, parent: &TraceParent) -> RequestGuard {
        RequestGuard::start(self.clone(), Some(parent))
    }

    /// `requests_total`: requests started.
    pub fn requests_total(&self) -> &IntCounter {
        &self.0.handles.requests
    }

    /// `inflight_requests`: requests started and not ended yet.
    pub fn inflight_requests(&self) -> &IntGauge {
        &self.0.handles.inflight
    }

    /// `request_duration_seconds`: the duration of each ended request.
    pub fn request_duration(&self) -> &Histogram {
        &self.0.handles.duration
    }

    /// `request_bytes_total`: bytes received in requests.
    pub fn request_bytes_total(&self) -> &IntCounter {
        &self.0.handles.request_bytes
    }

    /// `response_bytes_total`: bytes sent in responses.
    pub fn response_bytes_total(&self) -> &IntCounter {
        &self.0.handles.response_bytes
    }

    /// `errors_total`, by `error_type`.
    pub fn errors_total(&self) -> &IntCounterVec {
        &self.0.handles.errors
    }

    /// `cancellation_total`: requests cancelled before they completed.
    pub fn cancellation_total(&self) -> &IntCounter {
        &self.0.handles.cancellations
    }

    pub(crate) fn clock(&self) -> &RequestClock {
        &self.0.clock
    }

    /// Tells the endpoint's health check of a successful request.
    #[inline]
    pub(crate) fn succeeded(&self) {
        self.0.activity.succeeded();
    }

    /// `time_to_first_response_seconds`, created on the first call. When it cannot be created
    /// (a metric of that name exists already at this endpoint), the error is logged once and
    /// a handle registered nowhere is returned.
    pub fn time_to_first_response(&self) -> &Histogram {
        let first = &self.0.first_response;
        first.histogram.get_or_init(|| first.create())
    }
}

impl FirstResponse {
    #[cold]
    fn create(&self) -> Histogram {
        let Some(place) = self.place.upgrade() else {
            return Histogram::noop();
        };
        let endpoint = place.display_path();
        let metrics = Metrics::new(place);
        first_response_histogram(&metrics, &self.settings).unwrap_or_else(|error| {
            tracing::error!(
                %error,
                endpoint,
                "time to first response is not recorded at this endpoint"
            );
            Histogram::noop()
        })
    }
}

/// Creates the request metrics of `place`, all or nothing as far as the settings go: each
/// metric is first created in a scratch registry, so a malformed setting is refused before
/// anything is registered. A conflict with a metric registered already leaves none of them
/// registered.
fn create(place: &Place, settings: Settings) -> Result<RequestMetrics, MetricsError> {
    let metrics = Metrics::new(place.clone());
    let dry_run = metrics.dry_run();
    register(&dry_run, &settings)?;
    let _ = first_response_histogram(&dry_run, &settings)?;
    let handles = register(&metrics, &settings)?;
    Ok(RequestMetrics(Arc::new(Inner {
        handles,
        activity: Arc::clone(&place.path.activity),
        first_response: FirstResponse {
            place: place.downgrade(),
            settings,
            histogram: OnceLock::new(),
        },
        clock: place.runtime.request_clock(),
    })))
}

/// Registers the metrics every tracked request updates, all or none: when one conflicts with
/// a metric registered already, the ones made before it are unregistered again.
fn register(metrics: &Metrics, settings: &Settings) -> Result<Handles, MetricsError> {
    let labels = settings.label_pairs();
    let labels = labels.as_slice();
    let mut made: Vec<Box<dyn Registered>> = Vec::new();
    let result = (|| {
        Ok(Handles {
            requests: keep(
                &mut made,
                metrics.create_intcounter(
                    names::REQUESTS_TOTAL,
                    names::REQUESTS_TOTAL_HELP,
                    labels,
                ),
            )?,
            inflight: keep(
                &mut made,
                metrics.create_intgauge(
                    names::INFLIGHT_REQUESTS,
                    names::INFLIGHT_REQUESTS_HELP,
                    labels,
                ),
            )?,
            duration: keep(
                &mut made,
                metrics.with_native(settings.native).create_histogram(
                    names::REQUEST_DURATION_SECONDS,
                    names::REQUEST_DURATION_SECONDS_HELP,
                    labels,
                    Some(settings.duration_buckets.clone()),
                ),
            )?,
            errors: keep(
                &mut made,
                metrics.create_intcountervec(
                    names::ERRORS_TOTAL,
                    names::ERRORS_TOTAL_HELP,
                    &[names::ERROR_TYPE_LABEL],
                    labels,
                ),
            )?,
            cancellations: keep(
                &mut made,
                metrics.create_intcounter(
                    names::CANCELLATION_TOTAL,
                    names::CANCELLATION_TOTAL_HELP,
                    labels,
                ),
            )?,
            request_bytes: keep(
                &mut made,
                metrics.create_intcounter(
                    names::REQUEST_BYTES_TOTAL,
                    names::REQUEST_BYTES_TOTAL_HELP,
                    labels,
                ),
            )?,
            response_bytes: keep(
                &mut made,
                metrics.create_intcounter(
                    names::RESPONSE_BYTES_TOTAL,
                    names::RESPONSE_BYTES_TOTAL_HELP,
                    labels,
                ),
            )?,
        })
    })();
    if result.is_err() {
        for metric in &made {
            let _ = metrics.unregister(&**metric);
        }
    }
    result
}

/// Remembers a metric just made, to unregister it if a later one fails.
fn keep<M: Registered + Clone + 'static>(
    made: &mut Vec<Box<dyn Registered>>,
    metric: Result<M, MetricsError>,
) -> Result<M, MetricsError> {
    let metric = metric?;
    made.push(Box::new(metric.clone()));
    Ok(metric)
}

fn first_response_histogram(
    metrics: &Metrics,
    settings: &Settings,
) -> Result<Histogram, MetricsError> {
    metrics.with_native(settings.native).create_histogram(
        names::TIME_TO_FIRST_RESPONSE_SECONDS,
        names::TIME_TO_FIRST_RESPONSE_SECONDS_HELP,
        &settings.label_pairs(),
        Some(settings.first_response_buckets.clone()),
    )
}

/// Why an endpoint's request metrics could not be created, kept to be returned again.
struct Refusal {
    endpoint: String,
    source: Arc<MetricsError>,
}

impl Refusal {
    fn new(place: &Place, source: MetricsError) -> Self {
        Self {
            endpoint: place.display_path(),
            source: Arc::new(source),
        }
    }

    fn error(&self) -> MetricsError {
        MetricsError::RequestMetrics {
            endpoint: self.endpoint.clone(),
            source: Arc::clone(&self.source),
        }
    }
}

/// The request metrics of one place, once created, kept in the place itself so that finding
/// them costs one atomic load.
#[derive(Default)]
pub(crate) struct RequestSlot {
    /// Created metrics, or why a first tracked request could not create them.
    metrics: OnceLock<Result<RequestMetrics, Refusal>>,
    /// Held while creating, so that creation with options and on first use do not race.
    creating: Mutex<()>,
}

impl std::fmt::Debug for RequestSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSlot")
            .field("created", &self.metrics.get().is_some())
            .finish()
    }
}

impl RequestSlot {
    /// The metrics, created with the default settings on the first call. A failure is kept:
    /// `report` sees it on the call that tried, and later calls get the same error.
    #[inline]
    fn get_or_create(
        &self,
        place: &Place,
        report: impl FnOnce(&MetricsError),
    ) -> &Result<RequestMetrics, Refusal> {
        match self.metrics.get() {
            Some(metrics) => metrics,
            None => self.create_default(place, report),
        }
    }

    #[cold]
    #[inline(never)]
    fn create_default(
        &self,
        place: &Place,
        report: impl FnOnce(&MetricsError),
    ) -> &Result<RequestMetrics, Refusal> {
        let mut refused = None;
        let metrics = {
            let _section = fork::enter();
            let _creating = self.creating.lock();
            self.metrics.get_or_init(|| {
                let created = create(place, Settings::default());
                created.map_err(|source| {
                    let refusal = Refusal::new(place, source);
                    refused = Some(refusal.error());
                    refusal
                })
            })
        };
        // Reported with no lock held: the report may run code that tracks requests too.
        if let Some(error) = refused {
            report(&error);
        }
        metrics
    }

    /// Creates the metrics with `settings`, unless they exist already (or a first tracked
    /// request failed to create them). A failure is not kept: the options can be corrected
    /// and given again.
    fn create_with(
        &self,
        place: &Place,
        settings: Settings,
    ) -> Result<RequestMetrics, MetricsError> {
        let _section = fork::enter();
        let _creating = self.creating.lock();
        match self.metrics.get() {
            Some(Ok(_)) => {
                return Err(MetricsError::RequestMetricsExist {
                    endpoint: place.display_path(),
                });
            }
            // A first tracked request failed to create them: the same failure.
            Some(Err(refusal)) => return Err(refusal.error()),
            None => {}
        }
        let metrics =
            create(place, settings).map_err(|source| Refusal::new(place, source).error())?;
        let _ = self.metrics.set(Ok(metrics.clone()));
        Ok(metrics)
    }
}

/// Request tracking.
impl Endpoint {
    /// Starts tracking one request: `requests_total` counts it and `inflight_requests` goes
    /// up. When the guard ends (dropped, [`finish`](RequestGuard::finish)ed, or unwound by a
    /// panic), `request_duration_seconds` observes the time since now and `inflight_requests`
    /// goes down, exactly once.
    ///
    /// The endpoint's request metrics are created on the first call, with the options given
    /// to [`request_metrics_options`](Self::request_metrics_options) before, if any. When they
    /// cannot be created (a metric of one of their names exists already at this endpoint),
    /// the error is logged with `tracing` once and the guard counts nothing; use
    /// [`try_track_request`](Self::try_track_request) to get the error instead.
    ///
    /// In async code, a guard held across an `.await` ends normally when its future is
    /// dropped, since nothing tells it the future was given up; wrap the future with
    /// [`instrument_request`](Self::instrument_request) (or [`RequestGuard::instrument`]) to
    /// count that as a cancellation.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// use dynamo_runtime::DistributedRuntime;
    ///
    /// let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
    /// let endpoint = runtime.namespace("ns").component("echo").endpoint("generate");
    ///
    /// fn handle(endpoint: &dynamo_runtime::Endpoint, request: &str) -> Result<String, String> {
    ///     let mut guard = endpoint.track_request();
    ///     guard.request_bytes(request.len() as u64);
    ///     if request.is_empty() {
    ///         guard.error("empty_request");
    ///         return Err("empty request".into()); // the guard ends here
    ///     }
    ///     let reply = request.to_uppercase();
    ///     guard.response_bytes(reply.len() as u64);
    ///     Ok(reply) // and here
    /// }
    ///
    /// assert_eq!(handle(&endpoint, "hello"), Ok("HELLO".to_string()));
    /// assert_eq!(handle(&endpoint, ""), Err("empty request".to_string()));
    /// let requests = endpoint.request_metrics()?;
    /// assert_eq!(requests.requests_total().get(), 2);
    /// assert_eq!(requests.inflight_requests().get(), 0);
    /// assert_eq!(requests.request_duration().get_count(), 2);
    /// assert_eq!(requests.errors_total().with_label_values(&["empty_request"]).get(), 1);
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn track_request(&self) -> RequestGuard {
        self.track_request_or_report(log_refusal)
    }

    /// [`track_request`](Self::track_request), calling `report` instead of logging when the
    /// request metrics cannot be created. `report` runs once per endpoint, on the call that
    /// tried to create them; the guard of that call and of every later one counts nothing.
    #[inline]
    pub fn track_request_or_report(&self, report: impl FnOnce(&MetricsError)) -> RequestGuard {
        self.start_request(report, None)
    }

    /// [`track_request`](Self::track_request) of a request that came with a W3C
    /// `traceparent` header: its trace and span ids go beside its count in `requests_total`
    /// and its duration in `request_duration_seconds` as exemplars, which Prometheus stores
    /// from the OpenMetrics page and OTLP exports, so a slow request leads to its trace. A
    /// malformed `traceparent` is left out; the request is counted all the same.
    ///
    /// ```
    /// # use dynamo_runtime::DistributedRuntime;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
    /// let endpoint = runtime.namespace("ns").component("comp").endpoint("generate");
    /// let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// let request = endpoint.track_request_traced(traceparent);
    /// drop(request);
    /// assert_eq!(endpoint.request_metrics()?.requests_total().get(), 1);
    /// # Ok(()) }
    /// ```
    pub fn track_request_traced(&self, traceparent: &str) -> RequestGuard {
        let parent = TraceParent::parse(traceparent);
        self.start_request(log_refusal, parent.as_ref())
    }

    /// [`track_request_or_report`](Self::track_request_or_report) of a request traced by
    /// `parent` if given (see [`track_request_traced`](Self::track_request_traced)).
    pub fn start_request(
        &self,
        report: impl FnOnce(&MetricsError),
        parent: Option<&TraceParent>,
    ) -> RequestGuard {
        if self.place.path.activity.watched() && probing() {
            return RequestGuard::noop();
        }
        match self.place.path.requests.get_or_create(&self.place, report) {
            Ok(metrics) => RequestGuard::start(metrics.clone(), parent),
            Err(_) => RequestGuard::noop(),
        }
    }

    /// [`track_request`](Self::track_request), or the error that keeps the request metrics
    /// from being created.
    ///
    /// # Errors
    ///
    /// [`MetricsError::RequestMetrics`], every time, when they cannot be created: a metric of
    /// one of their names exists already at this endpoint with other labels, type or help, or
    /// an option is malformed.
    pub fn try_track_request(&self) -> Result<RequestGuard, MetricsError> {
        if self.place.path.activity.watched() && probing() {
            return Ok(RequestGuard::noop());
        }
        Ok(self.request_metrics()?.track())
    }

    /// The request metrics of this endpoint, created with the default options if they do not
    /// exist yet.
    ///
    /// # Errors
    ///
    /// As [`try_track_request`](Self::try_track_request).
    pub fn request_metrics(&self) -> Result<RequestMetrics, MetricsError> {
        match self.place.path.requests.get_or_create(&self.place, |_| {}) {
            Ok(metrics) => Ok(metrics.clone()),
            Err(refusal) => Err(refusal.error()),
        }
    }

    /// Options for this endpoint's request metrics: extra constant labels (such as `model`)
    /// and buckets. They apply when [`RequestMetricsOptions::create`] is called, which must
    /// come before the first tracked request.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// use dynamo_runtime::DistributedRuntime;
    ///
    /// let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
    /// let endpoint = runtime.namespace("ns").component("llm").endpoint("generate");
    /// endpoint
    ///     .request_metrics_options()
    ///     .with_const_labels(&[("model", "llama-3-8b")])
    ///     .with_duration_buckets(vec![0.1, 1.0, 10.0])
    ///     .create()?;
    /// drop(endpoint.track_request());
    /// let text = endpoint.metrics().prometheus_expfmt()?;
    /// assert!(text.contains(
    ///     "dynamo_component_requests_total{dynamo_component=\"llm\",dynamo_endpoint=\"generate\",dynamo_namespace=\"ns\",model=\"llama-3-8b\"} 1\n"
    /// ));
    /// # Ok(()) }
    /// ```
    pub fn request_metrics_options(&self) -> RequestMetricsOptions {
        RequestMetricsOptions::new(self.place.clone())
    }

    /// Wraps `future` as one tracked request, started now: it ends when the future completes,
    /// or as cancelled when the future is dropped before (a timeout, a caller that went
    /// away), or with the error type `panic` when polling it panics.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// # use dynamo_runtime::DistributedRuntime;
    /// # let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
    /// # let endpoint = runtime.namespace("ns").component("echo").endpoint("generate");
    /// async fn generate(prompt: &str) -> Result<String, std::fmt::Error> {
    ///     Ok(prompt.chars().rev().collect())
    /// }
    ///
    /// let reply = futures_executor::block_on(
    ///     endpoint.instrument_request(generate("hello")).errors_as("generate"),
    /// )?;
    /// assert_eq!(reply, "olleh");
    /// assert_eq!(endpoint.request_metrics()?.request_duration().get_count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn instrument_request<F: Future>(&self, future: F) -> TrackedFuture<F> {
        self.track_request().instrument(future)
    }

    /// Wraps `stream` as one tracked request, started now: it ends when the stream does
    /// (after its last item), or as cancelled when the stream is dropped before. With
    /// [`TrackedStream::with_first_response_time`], the time to the first item is observed
    /// too.
    pub fn track_stream<S: futures_core::Stream>(&self, stream: S) -> TrackedStream<S> {
        self.track_request().track_stream(stream)
    }
}

/// Logs why the request metrics of an endpoint could not be created.
fn log_refusal(error: &MetricsError) {
    tracing::error!(%error, "requests at this endpoint are not counted");
}
