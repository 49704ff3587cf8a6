//! A probe: the application's handler called with its payload, on a thread of its own, and
//! what came of it.

use std::fmt::Display;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

/// What a probe answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// An answer in time.
    Success,
    /// An error (or a panic), as text.
    Error(String),
    /// No answer within the request timeout.
    Timeout,
}

impl Outcome {
    /// The `result` label of `dynamo_metrics_health_checks_total`.
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error(_) => "error",
            Self::Timeout => "timeout",
        }
    }
}

/// Runs one probe on the calling thread, given the request timeout.
pub(super) type Probe = Arc<dyn Fn(Duration) -> Outcome + Send + Sync>;

/// A probe of an async handler: each call runs `handler(payload)` on a runtime of its own
/// and drops the future at the timeout.
pub(super) fn of_async<P, F, Fut, T, E>(handler: F, payload: P) -> Probe
where
    P: Clone + Send + Sync + 'static,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + 'static,
    E: Display,
{
    Arc::new(move |timeout| {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => return Outcome::Error(format!("no runtime to run it on: {error}")),
        };
        let answer = catch_unwind(AssertUnwindSafe(|| {
            runtime
                .block_on(async { tokio::time::timeout(timeout, handler(payload.clone())).await })
        }));
        match answer {
            Ok(Ok(Ok(_))) => Outcome::Success,
            Ok(Ok(Err(error))) => Outcome::Error(error.to_string()),
            Ok(Err(_elapsed)) => Outcome::Timeout,
            Err(_panic) => Outcome::Error("the health check panicked".into()),
        }
    })
}

/// A probe of a blocking handler: each call runs `handler(payload)` to its end; the checker
/// stops waiting for it at the timeout.
pub(super) fn of_blocking<P, F, T, E>(handler: F, payload: P) -> Probe
where
    P: Clone + Send + Sync + 'static,
    F: Fn(P) -> Result<T, E> + Send + Sync + 'static,
    E: Display,
{
    Arc::new(
        move |_timeout| match catch_unwind(AssertUnwindSafe(|| handler(payload.clone()))) {
            Ok(Ok(_)) => Outcome::Success,
            Ok(Err(error)) => Outcome::Error(error.to_string()),
            Err(_panic) => Outcome::Error("the health check panicked".into()),
        },
    )
}
