//! A request head larger than the server reads (16 KiB, a fixed bound: every route needs a
//! few hundred bytes) is refused with 431 and the connection closed.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::common::{self, IO_TIMEOUT, assert_legit_clients_served, builder, serve};

#[test]
fn an_oversized_request_head_is_refused() {
    let _alone = common::one_at_a_time();
    let (_runtime, addr) = serve(builder());
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let padding = "a".repeat(64 * 1024);
    // The server may close before the whole head is sent: a write error is an answer too.
    let _ = write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {padding}\r\n\r\n"
    );
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // A reset after the answer (the rest of the head was never read) may lose it.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("no answer and no close: {e}"),
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "answered {text}"
    );
    assert_legit_clients_served(addr);
}
