//! The export loop: collect each interval into an encoded request, queue it (bounded, the
//! oldest dropped first), send the queue in order with retries, and flush at the end.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use flate2::Compression as GzipLevel;
use flate2::write::GzEncoder;
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::client::{Client, Outcome};
use super::config::{Compression, Protocol, Resolved};
use super::encode::{DeltaState, OtlpEncoder};
use super::log::RateLimitedLog;
use super::retry::Backoff;
use super::{CollectFn, DropReason, OtlpSelfMetrics};

/// What the exporter's thread is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Run,
    /// Collect once more, send what is queued until the instant, drop the rest.
    Flush(Instant),
}

/// What the collecting and sending tasks share.
pub(crate) struct Shared {
    pub(crate) config: Resolved,
    pub(crate) collect: CollectFn,
    pub(crate) metrics: OtlpSelfMetrics,
    /// Unix nanoseconds of the runtime's start: where cumulative points start.
    pub(crate) start: u64,
    queue: Mutex<VecDeque<Bytes>>,
    queued: Notify,
    delta: Mutex<DeltaState>,
    /// The request being sent, if any (dropped as `shutdown` when the flush runs out of time).
    sending: AtomicBool,
    /// Set for the final flush: no more requests will be queued.
    draining: AtomicBool,
    log: RateLimitedLog,
}

impl Shared {
    pub(crate) fn new(
        config: Resolved,
        collect: CollectFn,
        metrics: OtlpSelfMetrics,
        start: SystemTime,
    ) -> Self {
        Self {
            config,
            collect,
            metrics,
            start: unix_nanos(start),
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            delta: Mutex::new(DeltaState::default()),
            sending: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            log: RateLimitedLog::default(),
        }
    }

    /// Collects, encodes and compresses one request (on the calling thread); `None` when
    /// there is nothing to send (the runtime is gone).
    pub(crate) fn collect_request(&self) -> Option<Bytes> {
        let previous = std::mem::take(&mut *self.delta.lock());
        let now = unix_nanos(SystemTime::now());
        let mut encoder =
            OtlpEncoder::with_previous(self.config.temporality, self.start, now, previous);
        (self.collect)(&mut encoder);
        crate::exposition::Encoder::finish(&mut encoder);
        let (request, state) = encoder.into_parts(&self.config.resource);
        *self.delta.lock() = state;
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        if metrics.is_empty() {
            return None;
        }
        let encoded = request.encode_to_vec();
        // gRPC compresses its messages itself.
        Some(match (self.config.compression, self.config.protocol) {
            (Compression::Gzip, Protocol::HttpProtobuf) => Bytes::from(gzip(&encoded)),
            _ => Bytes::from(encoded),
        })
    }

    /// Queues a request; past the bound, the oldest waiting one is dropped.
    pub(crate) fn enqueue(&self, body: Bytes) {
        let (dropped, len) = {
            let mut queue = self.queue.lock();
            let mut dropped = 0;
            while queue.len() >= self.config.max_queued_requests {
                queue.pop_front();
                dropped += 1;
            }
            queue.push_back(body);
            (dropped, queue.len())
        };
        self.metrics.queued.set(len as i64);
        if dropped > 0 {
            self.dropped(
                DropReason::QueueFull,
                dropped,
                "the queue of requests is full",
            );
        }
        self.queued.notify_one();
    }

    fn dequeue(&self) -> Option<Bytes> {
        let mut queue = self.queue.lock();
        let body = queue.pop_front();
        self.metrics.queued.set(queue.len() as i64);
        body
    }

    /// No more requests will come: the sender stops once the queue is empty.
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::Release);
        self.queued.notify_one();
    }

    /// Drops what is still queued or being sent, counted as `shutdown`.
    pub(crate) fn abandon(&self) {
        let mut count = {
            let mut queue = self.queue.lock();
            let count = queue.len() as u64;
            queue.clear();
            count
        };
        self.metrics.queued.set(0);
        if self.sending.swap(false, Ordering::AcqRel) {
            count += 1;
        }
        if count > 0 {
            self.dropped(
                DropReason::Shutdown,
                count,
                "the final flush ran out of time",
            );
        }
    }

    fn dropped(&self, reason: DropReason, count: u64, why: &str) {
        self.metrics
            .dropped
            .with_label_values(&[reason.as_str()])
            .inc_by(count);
        self.log.warn(|suppressed| {
            tracing::warn!(
                reason = reason.as_str(),
                count,
                why,
                dropped_since_last_message = suppressed,
                "OTLP metrics export dropped requests"
            );
        });
    }
}

/// Collects every interval until told to flush (a collection under way is left then).
pub(crate) async fn collect_loop(shared: &Arc<Shared>, commands: &mut watch::Receiver<Command>) {
    let interval = shared.config.interval;
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = commands.wait_for(|c| *c != Command::Run) => return,
        }
        tokio::select! {
            () = collect_once(shared) => {}
            _ = commands.wait_for(|c| *c != Command::Run) => return,
        }
    }
}

/// Collects on the blocking pool (callbacks may take a while) and queues the request.
pub(crate) async fn collect_once(shared: &Arc<Shared>) {
    let job = Arc::clone(shared);
    match tokio::task::spawn_blocking(move || job.collect_request()).await {
        Ok(Some(body)) => shared.enqueue(body),
        Ok(None) => {}
        Err(error) => tracing::error!(%error, "collecting metrics for OTLP export failed"),
    }
}

/// Sends queued requests in order, until the queue is empty once [`Shared::drain`] was called.
pub(crate) async fn send_loop(shared: Arc<Shared>, client: Client) {
    loop {
        let Some(body) = shared.dequeue() else {
            if shared.draining.load(Ordering::Acquire) {
                return;
            }
            shared.queued.notified().await;
            continue;
        };
        shared.sending.store(true, Ordering::Release);
        let result = deliver(&shared, &client, body).await;
        shared.sending.store(false, Ordering::Release);
        match result {
            Ok(()) => shared.metrics.exported.inc(),
            Err((reason, why)) => shared.dropped(reason, 1, &why),
        }
    }
}

/// Sends one request, trying again on retryable answers with backoff (or the server's
/// `Retry-After`) while the export timeout allows.
async fn deliver(
    shared: &Shared,
    client: &Client,
    body: Bytes,
) -> Result<(), (DropReason, String)> {
    let give_up = Instant::now() + shared.config.export_timeout;
    let mut backoff = Backoff::new();
    loop {
        match client.send(body.clone()).await {
            Outcome::Accepted {
                rejected_points,
                message,
            } => {
                if rejected_points > 0 {
                    shared.log.warn(|suppressed| {
                        tracing::warn!(
                            rejected_points,
                            message,
                            suppressed,
                            "the OTLP collector refused some data points"
                        );
                    });
                }
                return Ok(());
            }
            Outcome::Rejected { why } => return Err((DropReason::Rejected, why)),
            Outcome::Retry { after, why } => {
                let wait = after.unwrap_or_else(|| backoff.next_wait());
                if Instant::now() + wait >= give_up {
                    return Err((
                        DropReason::RetriesExhausted,
                        format!("{why}; no time left to try again within the export timeout"),
                    ));
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), GzipLevel::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// Nanoseconds since the Unix epoch (0 before it).
pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// How long the flush may wait at most.
pub(crate) fn flush_deadline(shutdown_timeout: Duration) -> Instant {
    Instant::now() + shutdown_timeout
}
