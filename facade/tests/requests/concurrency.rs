//! Request tracking from many threads and tasks at once: the metrics are created once by
//! racing first requests, every request is counted once, and nothing stays in flight.

use std::sync::Barrier;

use crate::common::requests::{FakeClock, Requests, endpoint, runtime_with_clock};
use dynamo_runtime::Endpoint;

const THREADS: usize = 8;
const PER_THREAD: usize = 2_000;
const TASKS: usize = 200;
const PER_TASK: usize = 20;

fn scrape(endpoint: &Endpoint) -> String {
    endpoint.metrics().prometheus_expfmt().unwrap()
}

#[test]
fn threads_racing_their_first_requests_count_every_request_once() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = endpoint(&runtime);
    let start = Barrier::new(THREADS);
    let all_in_flight = Barrier::new(THREADS + 1);
    let checked = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let (endpoint, start) = (&endpoint, &start);
            let (all_in_flight, checked) = (&all_in_flight, &checked);
            s.spawn(move || {
                start.wait();
                // Every thread's first request races to create the endpoint's metrics.
                let held = endpoint.track_request();
                all_in_flight.wait();
                checked.wait();
                drop(held);
                for i in 1..PER_THREAD {
                    let mut request = endpoint.track_request();
                    request.request_bytes(1);
                    match (i + thread) % 10 {
                        0 => request.error("generate"),
                        1 => request.cancelled(),
                        _ => request.response_bytes(2),
                    }
                }
            });
        }
        all_in_flight.wait();
        let metrics = endpoint.request_metrics().unwrap();
        assert_eq!(metrics.inflight_requests().get(), THREADS as i64);
        assert_eq!(metrics.requests_total().get(), THREADS as u64);
        checked.wait();
    });
    let total = THREADS * PER_THREAD;
    // Per thread, i in 1..PER_THREAD hits each remainder of (i + thread) % 10 the same number
    // of times, give or take one: count them as the threads did.
    let count = |remainder: usize| {
        (0..THREADS)
            .map(|t| {
                (1..PER_THREAD)
                    .filter(|i| (i + t) % 10 == remainder)
                    .count()
            })
            .sum::<usize>() as u64
    };
    let (errors, cancelled) = (count(0), count(1));
    let durations = vec![0.0; total];
    assert_eq!(
        scrape(&endpoint),
        Requests {
            buckets: &dynamo_runtime::DEFAULT_REQUEST_DURATION_BUCKETS,
            started: total as u64,
            durations: &durations,
            errors: &[("generate", errors)],
            cancelled,
            request_bytes: (total - THREADS) as u64,
            response_bytes: 2 * ((total - THREADS) as u64 - errors - cancelled),
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn tasks_on_a_multi_thread_runtime_finish_or_cancel_every_request_once() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = endpoint(&runtime);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    tokio.block_on(async {
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let endpoint = endpoint.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let work = async {
                        tokio::task::yield_now().await;
                        if (task + i) % 7 == 0 {
                            Err("failed")
                        } else {
                            Ok(i)
                        }
                    };
                    let request = endpoint.instrument_request(work).errors_as("generate");
                    if (task + i) % 5 == 0 {
                        // Given up after its first poll: cancelled.
                        let mut request = Box::pin(request);
                        let _ = futures_poll_once(request.as_mut());
                    } else {
                        let _ = request.await;
                    }
                }
            }));
        }
        // Some requests are left pending in tasks that are aborted: cancelled too.
        let mut parked = Vec::new();
        for _ in 0..TASKS {
            parked.push(tokio::spawn(
                endpoint.instrument_request(std::future::pending::<()>()),
            ));
        }
        for task in tasks {
            task.await.unwrap();
        }
        for task in &parked {
            task.abort();
        }
        for task in parked {
            assert!(task.await.unwrap_err().is_cancelled());
        }
    });
    let pairs = (0..TASKS).flat_map(|t| (0..PER_TASK).map(move |i| (t, i)));
    let given_up = pairs.clone().filter(|(t, i)| (t + i) % 5 == 0).count() as u64;
    let failed = pairs
        .filter(|(t, i)| (t + i) % 5 != 0 && (t + i) % 7 == 0)
        .count() as u64;
    let total = TASKS * PER_TASK + TASKS;
    let durations = vec![0.0; total];
    assert_eq!(
        scrape(&endpoint),
        Requests {
            buckets: &dynamo_runtime::DEFAULT_REQUEST_DURATION_BUCKETS,
            started: total as u64,
            durations: &durations,
            errors: &[("generate", failed)],
            cancelled: given_up + TASKS as u64,
            ..Requests::default()
        }
        .text()
    );
}

/// Polls `future` once with a waker that does nothing.
fn futures_poll_once<F: std::future::Future>(
    future: std::pin::Pin<&mut F>,
) -> std::task::Poll<F::Output> {
    future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}
