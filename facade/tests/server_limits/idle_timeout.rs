//! A keep-alive connection idle for the idle timeout is closed; one in use is not.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{self, IO_TIMEOUT, builder, serve};

const IDLE: Duration = Duration::from_secs(1);

fn live(stream: &mut TcpStream, addr: std::net::SocketAddr) {
    write!(stream, "GET /live HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buffer = [0u8; 4096];
    let read = stream.read(&mut buffer).unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
}

#[test]
fn idle_keep_alive_connections_close_after_the_idle_timeout() {
    let _alone = common::one_at_a_time();
    let (_runtime, addr) = serve(builder().idle_timeout(IDLE));
    let mut busy = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    busy.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut idle = vec![TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap()];
    idle[0].set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    live(&mut idle[0], addr);
    let since = Instant::now();
    // The busy connection makes a request every 300 ms for twice the idle timeout.
    let closed = common::wait_until_closed(&mut idle, since, since + IDLE * 4, || {});
    let after = closed[0].expect("the idle connection is closed");
    assert!(
        after >= IDLE - Duration::from_millis(100),
        "closed after {after:?}"
    );
    assert!(
        after <= IDLE + Duration::from_secs(2),
        "closed after {after:?}"
    );
    let until = Instant::now() + IDLE * 2;
    while Instant::now() < until {
        live(&mut busy, addr);
        std::thread::sleep(Duration::from_millis(300));
    }
    live(&mut busy, addr);
}
