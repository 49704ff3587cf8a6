//! A `/metrics` request waiting for its render while its client may hang up.
//!
//! A client that hangs up before its answer (a FIN, seen by a peek that reads nothing) gives
//! up its pending place at once: it may be gone, or only half-closed and still reading. The
//! probe tells them apart: a gone client answers it with a reset, and its request leaves;
//! the other keeps waiting, riding along without a place, and gets its answer.

use std::sync::Arc;

use super::conn::ConnState;
use super::peer::{Hangup, Peer, Probe};
use super::scrape::{PageSpec, Rendered, ScrapeError, Scraper, Ticket};

/// The render of `spec` for one request, with the ticket that waited for it (so the place
/// is kept while the gzip is made).
///
/// # Errors
///
/// [`ScrapeError::Busy`] when every place is taken, [`ScrapeError::Failed`] when the render
/// failed, [`ScrapeError::Gone`] when the client is gone.
pub(super) async fn render(
    scraper: &Arc<Scraper>,
    spec: PageSpec,
    conn: &ConnState,
    peer: &Peer,
) -> Result<(Ticket, Arc<Rendered>), ScrapeError> {
    let mut ticket = match peer.hung_up_now() {
        None => scraper.join(spec)?,
        Some(hangup) => {
            still_there(hangup, conn, peer)?;
            scraper.ride(spec)
        }
    };
    if ticket.holds_place() {
        tokio::select! {
            biased;
            rendered = ticket.rendered() => return Ok((ticket, rendered?)),
            hangup = peer.hung_up() => {
                ticket.give_up_place();
                still_there(hangup, conn, peer)?;
            }
        }
    }
    tokio::select! {
        biased;
        rendered = ticket.rendered() => Ok((ticket, rendered?)),
        () = peer.reset() => Err(ScrapeError::Gone),
    }
}

/// After a hang-up: gone on a reset or a failed probe, else possibly still reading.
fn still_there(hangup: Hangup, conn: &ConnState, peer: &Peer) -> Result<(), ScrapeError> {
    match hangup {
        Hangup::Reset => Err(ScrapeError::Gone),
        Hangup::Fin => match peer.probe(conn.all_written()) {
            Probe::Gone => Err(ScrapeError::Gone),
            Probe::Sent | Probe::NotSent => Ok(()),
        },
    }
}
