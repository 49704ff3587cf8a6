//! A client that half-closes its side after the request (as `nc -N` does) gets its answer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use crate::common::{self, IO_TIMEOUT, builder, serve};

#[test]
fn half_closing_clients_get_their_answer() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder());
    runtime
        .metrics()
        .create_intgauge("answered", "Half-closed clients answered", &[])
        .unwrap()
        .set(1);
    let expected = common::scrape(addr);
    for round in 0..20 {
        let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        // Keep-alive by default: the half-close alone tells the server nothing else comes.
        write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\n"),
            "round {round}: {text}"
        );
        assert!(text.ends_with(&expected), "round {round}: {text}");
    }
}
