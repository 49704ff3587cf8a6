//! Tracked futures and streams: a request ends once when its future completes or its stream
//! ends, as cancelled when either is dropped before (a timeout, an aborted task, a consumer
//! that stops early), and with a `panic` error when a poll panics.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::common::requests::{FakeClock, Requests, endpoint, runtime_with_clock};
use dynamo_runtime::{DistributedRuntime, Endpoint};
use futures_core::Stream;

fn tracked(clock: &FakeClock) -> (DistributedRuntime, Endpoint) {
    let runtime = runtime_with_clock(clock);
    let endpoint = endpoint(&runtime);
    endpoint
        .request_metrics_options()
        .with_duration_buckets(vec![0.1, 1.0])
        .with_first_response_buckets(vec![0.1, 1.0])
        .create()
        .unwrap();
    (runtime, endpoint)
}

fn scrape(endpoint: &Endpoint) -> String {
    endpoint.metrics().prometheus_expfmt().unwrap()
}

fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

fn poll_next<S: Stream + Unpin>(stream: &mut S) -> Poll<Option<S::Item>> {
    Pin::new(stream).poll_next(&mut Context::from_waker(Waker::noop()))
}

/// A stream of items, each ready after the fake clock moves by its delay.
struct Replies {
    clock: FakeClock,
    items: VecDeque<(u64, Result<u32, String>)>,
}

impl Replies {
    fn new(clock: &FakeClock, items: &[(u64, Result<u32, String>)]) -> Self {
        Self {
            clock: clock.clone(),
            items: items.iter().cloned().collect(),
        }
    }
}

impl Stream for Replies {
    type Item = Result<u32, String>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.items.pop_front().map(|(delay_ms, item)| {
            self.clock.advance_ms(delay_ms);
            item
        }))
    }
}

#[test]
fn a_future_ends_its_request_when_it_completes() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let request = endpoint.instrument_request(async {
        clock.advance_ms(250);
        7
    });
    clock.advance_ms(50); // the request started when it was wrapped
    assert_eq!(futures_executor::block_on(request), 7);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.3],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn errors_as_counts_an_err_output() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let ok = endpoint
        .instrument_request(async { Ok::<u32, String>(1) })
        .errors_as("generate");
    let failed = endpoint
        .instrument_request(async { Err::<u32, String>("no".into()) })
        .errors_as("generate");
    assert_eq!(futures_executor::block_on(ok), Ok(1));
    assert_eq!(futures_executor::block_on(failed), Err("no".into()));
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 2,
            durations: &[0.0, 0.0],
            errors: &[("generate", 1)],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn response_bytes_by_counts_the_size_of_the_output_and_of_each_item() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let reply = endpoint
        .instrument_request(async { String::from("twelve bytes") })
        .response_bytes_by(|reply| reply.len() as u64);
    assert_eq!(futures_executor::block_on(reply), "twelve bytes");
    let mut stream = endpoint
        .track_stream(Replies::new(
            &clock,
            &[(0, Ok(100)), (0, Err("x".into())), (0, Ok(5))],
        ))
        .response_bytes_by(|item| *item.as_ref().unwrap_or(&0) as u64);
    while let Poll::Ready(Some(_)) = poll_next(&mut stream) {}
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 2,
            durations: &[0.0, 0.0],
            response_bytes: 117,
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_future_dropped_before_it_completes_is_cancelled() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    {
        let mut pending = pin!(endpoint.instrument_request(std::future::pending::<()>()));
        assert!(poll_once(pending.as_mut()).is_pending());
        clock.advance_ms(500);
    }
    // Never polled at all.
    drop(endpoint.instrument_request(async {}));
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 2,
            durations: &[0.5, 0.0],
            cancelled: 2,
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_panicking_poll_ends_the_request_with_a_panic_error_not_a_cancellation() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut request = Box::pin(endpoint.instrument_request(async {
        panic!("the handler failed");
    }));
    // As an executor does: the panic is caught around the poll, the future dropped later.
    let caught = catch_unwind(AssertUnwindSafe(|| poll_once(request.as_mut())));
    let payload = caught.expect_err("the poll panics");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the handler failed"));
    drop(request);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.0],
            errors: &[("panic", 1)],
            ..Requests::default()
        }
        .text()
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_an_aborted_task_and_a_panicking_task_end_their_requests() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let timed_out = tokio::time::timeout(
        Duration::from_secs(5),
        endpoint.instrument_request(std::future::pending::<()>()),
    )
    .await;
    let elapsed: tokio::time::error::Elapsed = timed_out.expect_err("the request never ends");
    assert_eq!(elapsed.to_string(), "deadline has elapsed");

    let task = tokio::spawn(endpoint.instrument_request(std::future::pending::<()>()));
    tokio::task::yield_now().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let task = tokio::spawn(endpoint.instrument_request(async { panic!("in a task") }));
    assert!(task.await.unwrap_err().is_panic());

    let task = tokio::spawn(endpoint.instrument_request(async { 5 }));
    assert_eq!(task.await.unwrap(), 5);

    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 4,
            durations: &[0.0; 4],
            errors: &[("panic", 1)],
            cancelled: 2,
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_stream_ends_its_request_after_its_last_item() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut stream = endpoint.track_stream(Replies::new(&clock, &[(50, Ok(1)), (450, Ok(2))]));
    assert_eq!(poll_next(&mut stream), Poll::Ready(Some(Ok(1))));
    assert_eq!(poll_next(&mut stream), Poll::Ready(Some(Ok(2))));
    let in_flight = Requests {
        started: 1,
        inflight: 1,
        ..Requests::default()
    };
    assert_eq!(scrape(&endpoint), in_flight.text());
    assert_eq!(poll_next(&mut stream), Poll::Ready(None));
    drop(stream);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.5],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_stream_times_its_first_item_when_asked() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut stream = endpoint
        .track_stream(Replies::new(
            &clock,
            &[(50, Ok(1)), (200, Ok(2)), (0, Ok(3))],
        ))
        .with_first_response_time();
    while let Poll::Ready(Some(_)) = poll_next(&mut stream) {}
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.25],
            first_responses: Some((&[0.1, 1.0], &[0.05])),
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_stream_dropped_before_its_end_is_cancelled() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut stream = endpoint
        .track_stream(Replies::new(&clock, &[(50, Ok(1)), (50, Ok(2))]))
        .with_first_response_time();
    assert_eq!(poll_next(&mut stream), Poll::Ready(Some(Ok(1))));
    drop(stream); // the consumer stopped after the first item
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.05],
            cancelled: 1,
            first_responses: Some((&[0.1, 1.0], &[0.05])),
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn errors_as_counts_each_err_item_of_a_stream() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let items = [(0, Ok(1)), (0, Err("bad".into())), (0, Err("worse".into()))];
    let mut stream = endpoint
        .track_stream(Replies::new(&clock, &items))
        .errors_as("response_stream");
    while let Poll::Ready(Some(_)) = poll_next(&mut stream) {}
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.0],
            errors: &[("response_stream", 2)],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_guard_with_counts_made_before_can_be_moved_into_a_future() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let guard = endpoint.track_request();
    guard.request_bytes(12);
    let reply = futures_executor::block_on(guard.instrument(async {
        clock.advance_ms(1500);
        "reply"
    }));
    assert_eq!(reply, "reply");
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[1.5],
            request_bytes: 12,
            ..Requests::default()
        }
        .text()
    );
}
