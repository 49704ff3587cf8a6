//! The client's end of a connection: the socket hyper reads and writes, shared with the
//! request handler, which asks whether the client has hung up and, if it has, whether it
//! is gone or still reading.
//!
//! A client that closes its socket and one that only shuts its sending side (`nc -N`) both
//! send a FIN; nothing tells them apart until the server writes. Then a closed socket
//! answers with a reset (RFC 1122 §4.2.2.13; Linux does), a half-closed one takes the data.
//! So the probe writes the first bytes of the answer early: `HTTP/1.`, which every status
//! line starts with, and which hyper's write of the response then skips.

use std::io;
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};

use tokio::io::{Interest, ReadBuf};
use tokio::net::TcpStream;

/// What every HTTP/1.x status line starts with: written ahead by the probe.
const PROBE: &[u8] = b"HTTP/1.";

/// How a client ended its side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hangup {
    /// A FIN: it closed, or shut its sending side and still reads.
    Fin,
    /// A reset or another error: it is gone.
    Reset,
}

/// What a probe found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    /// Written: a closed client answers with a reset, which [`Peer::reset`] waits for.
    Sent,
    /// The write failed: the client is gone.
    Gone,
    /// Nothing could be written (a response still being sent, a full buffer).
    NotSent,
}

/// One connection's socket.
#[derive(Debug)]
pub(super) struct Peer {
    stream: TcpStream,
    /// What the probe wrote and hyper's next write must start with; it is not sent again.
    sent_ahead: Mutex<&'static [u8]>,
}

impl Peer {
    pub(super) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            sent_ahead: Mutex::new(&[]),
        }
    }

    fn sent_ahead(&self) -> std::sync::MutexGuard<'_, &'static [u8]> {
        self.sent_ahead.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the client has hung up already, without waiting. `None` also when bytes of a
    /// next request wait to be read: an end behind them cannot be seen.
    pub(super) fn hung_up_now(&self) -> Option<Hangup> {
        let mut byte = [MaybeUninit::uninit()];
        match socket2::SockRef::from(&self.stream).peek(&mut byte) {
            Ok(0) => Some(Hangup::Fin),
            Ok(_) => None,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => None,
            Err(_) => Some(Hangup::Reset),
        }
    }

    /// Resolves once the client hangs up; never while bytes of a next request wait unread.
    pub(super) async fn hung_up(&self) -> Hangup {
        let mut byte = [0u8; 1];
        match self.stream.peek(&mut byte).await {
            Ok(0) => Hangup::Fin,
            Ok(_) => std::future::pending().await,
            Err(_) => Hangup::Reset,
        }
    }

    /// Writes the start of the status line ahead of the response, so that a client that
    /// closed its socket answers with a reset. Only while nothing else is being written:
    /// `all_written` says hyper holds nothing of an earlier response.
    pub(super) fn probe(&self, all_written: bool) -> Probe {
        let mut ahead = self.sent_ahead();
        if !all_written || !ahead.is_empty() {
            return Probe::NotSent;
        }
        match self.stream.try_write(PROBE) {
            Ok(0) => Probe::NotSent,
            Ok(written) => {
                *ahead = &PROBE[..written];
                Probe::Sent
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Probe::NotSent,
            Err(_) => Probe::Gone,
        }
    }

    /// Resolves once the connection is reset (or fails otherwise).
    pub(super) async fn reset(&self) {
        let _ = self.stream.ready(Interest::ERROR).await;
    }

    pub(super) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read(buf.initialize_unfilled()) {
                Ok(read) => {
                    buf.advance(read);
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    pub(super) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(skipped) = self.skip_sent_ahead(bufs) {
            return Poll::Ready(skipped);
        }
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write_vectored(bufs) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                written => return Poll::Ready(written),
            }
        }
    }

    /// Counts as written the start of `bufs` that the probe sent already.
    fn skip_sent_ahead(&self, bufs: &[io::IoSlice<'_>]) -> Option<io::Result<usize>> {
        let mut ahead = self.sent_ahead();
        if ahead.is_empty() {
            return None;
        }
        let first = bufs.iter().find(|buf| !buf.is_empty())?;
        let skip = first.len().min(ahead.len());
        if first[..skip] != ahead[..skip] {
            return Some(Err(io::Error::other(
                "the response does not start as the probe did",
            )));
        }
        *ahead = &ahead[skip..];
        Some(Ok(skip))
    }

    pub(super) fn shutdown(&self) -> io::Result<()> {
        socket2::SockRef::from(&self.stream).shutdown(Shutdown::Write)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Duration;

    use super::*;

    /// A connected pair on loopback: the client's socket and the server's [`Peer`], whose
    /// request (one line) has been read.
    async fn pair() -> (std::net::TcpStream, Peer) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.write_all(b"GET\n").unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4];
        stream.readable().await.unwrap();
        assert_eq!(stream.try_read(&mut request).unwrap(), 4);
        (client, Peer::new(stream))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_closed_client_answers_the_probe_with_a_reset() {
        runtime().block_on(async {
            let (client, peer) = pair().await;
            assert_eq!(peer.hung_up_now(), None);
            drop(client);
            assert_eq!(peer.hung_up().await, Hangup::Fin);
            assert_eq!(peer.probe(true), Probe::Sent);
            tokio::time::timeout(Duration::from_secs(5), peer.reset())
                .await
                .expect("a closed client resets");
        });
    }

    #[test]
    fn a_half_closed_client_reads_the_probe_and_then_the_response() {
        runtime().block_on(async {
            let (mut client, peer) = pair().await;
            client.shutdown(Shutdown::Write).unwrap();
            assert_eq!(peer.hung_up().await, Hangup::Fin);
            assert_eq!(peer.hung_up_now(), Some(Hangup::Fin));
            assert_eq!(peer.probe(false), Probe::NotSent, "a response still unsent");
            assert_eq!(peer.probe(true), Probe::Sent);
            assert!(
                tokio::time::timeout(Duration::from_millis(200), peer.reset())
                    .await
                    .is_err(),
                "a half-closed client takes the data"
            );
            let response: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";
            let written = std::future::poll_fn(|cx| {
                peer.poll_write_vectored(cx, &[io::IoSlice::new(response)])
            })
            .await
            .unwrap();
            assert_eq!(written, PROBE.len(), "the probe's bytes are not sent again");
            let rest = &response[written..];
            std::future::poll_fn(|cx| peer.poll_write_vectored(cx, &[io::IoSlice::new(rest)]))
                .await
                .unwrap();
            peer.shutdown().unwrap();
            let mut received = Vec::new();
            client.read_to_end(&mut received).unwrap();
            assert_eq!(received, response);
        });
    }
}
