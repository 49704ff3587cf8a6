//! `Host` per RFC 9112: missing or repeated on HTTP/1.1 is a 400; on a loopback server a name
//! that is not a loopback name is a 421 (DNS rebinding), while loopback names are answered.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::common::{IO_TIMEOUT, builder, serve};

/// Sends `head` as is and returns the status code and body.
fn raw(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn get_with_hosts(addr: SocketAddr, hosts: &[&str]) -> (u16, String) {
    let mut head = String::from("GET /live HTTP/1.1\r\nConnection: close\r\n");
    for host in hosts {
        head.push_str(&format!("Host: {host}\r\n"));
    }
    head.push_str("\r\n");
    raw(addr, &head)
}

#[test]
fn host_headers_are_checked() {
    let (_runtime, addr) = serve(builder());
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_string(),
        "127.0.0.53".to_string(),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(get_with_hosts(addr, &[&host]).0, 200, "Host: {host}");
    }
    let missing = get_with_hosts(addr, &[]);
    assert_eq!(
        missing,
        (400, "an HTTP/1.1 request needs a Host header\n".into())
    );
    let twice = get_with_hosts(addr, &["localhost", "localhost"]);
    assert_eq!(
        twice,
        (400, "a request may have only one Host header\n".into())
    );
    assert_eq!(get_with_hosts(addr, &["bad host:x"]).0, 400);
    for rebound in [
        "evil.example",
        "evil.example:8081",
        "10.1.2.3",
        "[2001:db8::1]",
    ] {
        assert_eq!(
            get_with_hosts(addr, &[rebound]),
            (
                421,
                "this server answers only for localhost and loopback addresses\n".into()
            ),
            "Host: {rebound}"
        );
    }
    // HTTP/1.0 may leave Host out; no browser does, so no rebinding hides there.
    assert_eq!(raw(addr, "GET /live HTTP/1.0\r\n\r\n").0, 200);
    // An absolute-form target names the authority itself.
    let absolute =
        "GET http://evil.example/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(addr, absolute).0, 421);
}
