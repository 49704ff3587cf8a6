//! Single-flight scrapes: one render at a time per page (a format, and the families a
//! `name[]` query restricts it to), its body shared by every request waiting for that page.
//!
//! A `/metrics` request joins the render in flight for its page, or starts one when none
//! runs. The render
//! runs on the blocking pool, and skips its work when every request that wanted it has gone.
//! Requests waiting (for a render or for its gzip) are counted; past the cap they are refused
//! at once, so a flood costs a counter increment each, not a render each. A request whose
//! client has hung up holds no place: it rides along without being counted.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::{OnceCell, watch};

use super::ScrapeFn;
use crate::exposition::{Filtered, Format, NameFilter};

/// A finished render: the page, and its gzip once someone asked for it.
#[derive(Debug)]
pub(super) struct Rendered {
    pub(super) body: Bytes,
    gzip: OnceCell<Option<Bytes>>,
}

impl Rendered {
    /// The text compressed with gzip, compressed once for every request that asks.
    pub(super) async fn gzip(self: &Arc<Self>) -> Option<Bytes> {
        let rendered = Arc::clone(self);
        self.gzip
            .get_or_init(|| async move {
                let body = rendered.body.clone();
                match tokio::task::spawn_blocking(move || compress(&body)).await {
                    Ok(Ok(body)) => Some(Bytes::from(body)),
                    Ok(Err(error)) => {
                        tracing::error!(%error, "could not compress the scrape");
                        None
                    }
                    Err(error) => {
                        tracing::error!(%error, "compressing the scrape failed");
                        None
                    }
                }
            })
            .await
            .clone()
    }
}

fn compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// How a render ended.
#[derive(Debug, Clone)]
enum Outcome {
    Done(Arc<Rendered>),
    /// The scrape hook panicked.
    Failed,
    /// Every requester left before the render started; nothing was rendered.
    Abandoned,
}

/// The page a render writes: its format, and the families it is restricted to (`None` for
/// every family). Requests for equal pages share one render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PageSpec {
    pub(super) format: Format,
    pub(super) only: Option<Arc<NameFilter>>,
}

impl PageSpec {
    /// Every family, in `format`.
    #[cfg(test)]
    fn whole(format: Format) -> Self {
        Self { format, only: None }
    }
}

/// One render and the requests waiting for it.
struct Flight {
    spec: PageSpec,
    result: watch::Sender<Option<Outcome>>,
    waiters: AtomicUsize,
}

#[derive(Default)]
struct State {
    /// Requests holding a [`Ticket`], for any format.
    pending: usize,
    /// The render in flight of each page that has one.
    flights: Vec<Arc<Flight>>,
}

/// The single-flight renderer of one server.
pub(super) struct Scraper {
    scrape: Arc<ScrapeFn>,
    max_pending: usize,
    state: Mutex<State>,
}

/// Why a scrape got no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScrapeError {
    /// Too many scrapes wait already: answer 503.
    Busy,
    /// The render failed: answer 500.
    Failed,
    /// The client is gone: nobody reads the answer.
    Gone,
}

impl Scraper {
    pub(super) fn new(scrape: Arc<ScrapeFn>, max_pending: usize) -> Self {
        Self {
            scrape,
            max_pending,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the render in flight of `spec`, or starts one; `Busy` when too many wait
    /// already. The returned ticket holds a place among the pending scrapes until dropped
    /// or given up.
    pub(super) fn join(self: &Arc<Self>, spec: PageSpec) -> Result<Ticket, ScrapeError> {
        let mut state = self.lock();
        if state.pending >= self.max_pending {
            return Err(ScrapeError::Busy);
        }
        state.pending += 1;
        Ok(self.board(&mut state, spec, true))
    }

    /// Joins as [`Scraper::join`] does without taking a place, for a client that hung up.
    pub(super) fn ride(self: &Arc<Self>, spec: PageSpec) -> Ticket {
        let mut state = self.lock();
        self.board(&mut state, spec, false)
    }

    /// A ticket for the render in flight of `spec`, started if none runs.
    fn board(self: &Arc<Self>, state: &mut State, spec: PageSpec, place: bool) -> Ticket {
        let flight = match state.flights.iter().find(|f| f.spec == spec) {
            Some(flight) => {
                flight.waiters.fetch_add(1, Ordering::SeqCst);
                Arc::clone(flight)
            }
            None => {
                // Counted before the render can start, so it is not taken for abandoned.
                let flight = Arc::new(Flight {
                    spec,
                    result: watch::Sender::new(None),
                    waiters: AtomicUsize::new(1),
                });
                state.flights.push(Arc::clone(&flight));
                self.start(Arc::clone(&flight));
                flight
            }
        };
        let result = flight.result.subscribe();
        Ticket {
            scraper: Arc::clone(self),
            flight,
            result,
            place,
        }
    }

    fn start(self: &Arc<Self>, flight: Arc<Flight>) {
        let scraper = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let outcome = scraper.render(&flight);
            {
                // Requests arriving from now on start a fresh render.
                let mut state = scraper.lock();
                state
                    .flights
                    .retain(|current| !Arc::ptr_eq(current, &flight));
            }
            flight.result.send_replace(Some(outcome));
        });
    }

    /// Renders for `flight`, unless every request waiting for it has gone.
    fn render(&self, flight: &Flight) -> Outcome {
        if flight.waiters.load(Ordering::SeqCst) == 0 {
            return Outcome::Abandoned;
        }
        let spec = &flight.spec;
        let render = || {
            spec.format.render(|encoder| match &spec.only {
                Some(names) => (self.scrape)(&mut Filtered::new(encoder, names)),
                None => (self.scrape)(encoder),
            })
        };
        match catch_unwind(AssertUnwindSafe(render)) {
            Ok(body) => Outcome::Done(Arc::new(Rendered {
                body: Bytes::from(body),
                gzip: OnceCell::new(),
            })),
            Err(_) => {
                tracing::error!("the scrape panicked");
                Outcome::Failed
            }
        }
    }

    /// `(pending scrapes, whether a render is in flight)`, for tests.
    #[cfg(test)]
    fn counts(&self) -> (usize, bool) {
        let state = self.lock();
        (state.pending, !state.flights.is_empty())
    }
}

/// A place among the pending scrapes (unless it rides along), and the render it waits for.
pub(super) struct Ticket {
    scraper: Arc<Scraper>,
    flight: Arc<Flight>,
    result: watch::Receiver<Option<Outcome>>,
    /// Holds one of the counted places.
    place: bool,
}

impl Ticket {
    /// Whether the ticket holds one of the counted places.
    pub(super) fn holds_place(&self) -> bool {
        self.place
    }

    /// Frees the ticket's place for another request, still waiting for the render.
    pub(super) fn give_up_place(&mut self) {
        if std::mem::take(&mut self.place) {
            self.scraper.lock().pending -= 1;
        }
    }

    /// The render's body, once it is done.
    ///
    /// # Errors
    ///
    /// [`ScrapeError::Failed`] when the scrape hook panicked.
    pub(super) async fn rendered(&mut self) -> Result<Arc<Rendered>, ScrapeError> {
        let outcome = match self.result.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            Err(_) => None,
        };
        match outcome {
            Some(Outcome::Done(rendered)) => Ok(rendered),
            _ => Err(ScrapeError::Failed),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.flight.waiters.fetch_sub(1, Ordering::SeqCst);
        self.give_up_place();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::exposition::{Encoder, FamilyInfo, Labels, Number, Series, Value};
    use crate::kinds::table::MetricKind;

    /// Hands one counter family, `x_total 1`, to `encoder`.
    fn one_counter(encoder: &mut dyn Encoder) {
        encoder.family(&FamilyInfo {
            name: "x_total",
            help: None,
            kind: MetricKind::Counter,
            observed: true,
        });
        encoder.series(&Series {
            labels: Labels::sorted(&[]),
            value: Value::Number(Number::UInt(1)),
            timestamp_ms: None,
            exemplars: &[],
        });
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn concurrent_scrapes_share_one_render_and_its_gzip() {
        let renders = Arc::new(AtomicUsize::new(0));
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let counted = Arc::clone(&renders);
        let scraper = Arc::new(Scraper::new(
            Arc::new(move |encoder: &mut dyn Encoder| {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = released
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
                one_counter(encoder);
            }),
            3,
        ));
        runtime().block_on(async {
            let mut tickets: Vec<Ticket> = (0..3)
                .map(|_| scraper.join(PageSpec::whole(Format::Text)).unwrap())
                .collect();
            assert_eq!(
                scraper.join(PageSpec::whole(Format::Text)).err(),
                Some(ScrapeError::Busy)
            );
            release.send(()).unwrap();
            let mut bodies = Vec::new();
            for ticket in &mut tickets {
                bodies.push(ticket.rendered().await.unwrap());
            }
            assert!(bodies.iter().all(|b| Arc::ptr_eq(b, &bodies[0])));
            assert_eq!(&bodies[0].body[..], b"# TYPE x_total counter\nx_total 1\n");
            let first = bodies[0].gzip().await.unwrap();
            let second = bodies[1].gzip().await.unwrap();
            assert_eq!(first.as_ptr(), second.as_ptr(), "compressed once");
            drop(tickets);
            assert_eq!(scraper.counts(), (0, false));
        });
        assert_eq!(renders.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_ticket_that_gave_up_its_place_still_gets_the_render() {
        let scraper = Arc::new(Scraper::new(Arc::new(one_counter), 1));
        runtime().block_on(async {
            let mut first = scraper.join(PageSpec::whole(Format::Text)).unwrap();
            assert_eq!(
                scraper.join(PageSpec::whole(Format::Text)).err(),
                Some(ScrapeError::Busy)
            );
            first.give_up_place();
            let mut second = scraper.join(PageSpec::whole(Format::Text)).unwrap();
            let mut rider = scraper.ride(PageSpec::whole(Format::Text));
            assert_eq!(scraper.counts().0, 1, "the rider holds no place");
            let body = first.rendered().await.unwrap();
            assert!(Arc::ptr_eq(&body, &second.rendered().await.unwrap()));
            assert!(Arc::ptr_eq(&body, &rider.rendered().await.unwrap()));
            drop((first, second, rider));
            assert_eq!(scraper.counts(), (0, false));
        });
    }

    #[test]
    fn requests_for_the_same_names_share_a_render_and_other_names_get_their_own() {
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let scraper = Arc::new(Scraper::new(
            Arc::new(move |encoder: &mut dyn Encoder| {
                let _ = released
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
                one_counter(encoder);
            }),
            8,
        ));
        let only = |names: &[&str]| PageSpec {
            format: Format::Text,
            only: Some(Arc::new(NameFilter::new(names.iter().copied()))),
        };
        runtime().block_on(async {
            let mut first = scraper.join(only(&["x_total", "y"])).unwrap();
            let mut same = scraper.join(only(&["y", "x_total"])).unwrap();
            let mut other = scraper.join(only(&["y"])).unwrap();
            for _ in 0..2 {
                release.send(()).unwrap();
            }
            let body = first.rendered().await.unwrap();
            assert!(Arc::ptr_eq(&body, &same.rendered().await.unwrap()));
            assert_eq!(&body.body[..], b"# TYPE x_total counter\nx_total 1\n");
            let empty = other.rendered().await.unwrap();
            assert!(
                empty.body.is_empty(),
                "a name that matches nothing: an empty page"
            );
        });
    }

    #[test]
    fn a_render_whose_requesters_left_is_skipped() {
        let renders = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&renders);
        let scraper = Scraper::new(
            Arc::new(move |_: &mut dyn Encoder| {
                counted.fetch_add(1, Ordering::SeqCst);
            }),
            8,
        );
        let flight = Flight {
            spec: PageSpec::whole(Format::Text),
            result: watch::Sender::new(None),
            waiters: AtomicUsize::new(0),
        };
        assert!(matches!(scraper.render(&flight), Outcome::Abandoned));
        assert_eq!(renders.load(Ordering::SeqCst), 0);
        flight.waiters.store(1, Ordering::SeqCst);
        assert!(matches!(scraper.render(&flight), Outcome::Done(_)));
        assert_eq!(renders.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panicking_scrape_fails_its_waiters() {
        let scraper = Arc::new(Scraper::new(
            Arc::new(|_: &mut dyn Encoder| panic!("render bug")),
            8,
        ));
        runtime().block_on(async {
            let mut ticket = scraper.join(PageSpec::whole(Format::Text)).unwrap();
            assert_eq!(ticket.rendered().await.err(), Some(ScrapeError::Failed));
        });
    }
}
