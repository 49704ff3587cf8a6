//! A small HTTP/1.1 client over `TcpStream`: one request per connection, whole responses.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a client waits to connect, or for a response.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, not decompressed.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of header `name` (any case), the first when it is present more than once.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8.
    ///
    /// # Panics
    ///
    /// When the body is not UTF-8.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("the body is UTF-8")
    }
}

/// Sends one request with `Connection: close` and reads the whole response, waiting
/// [`IO_TIMEOUT`] at most for each step.
///
/// # Errors
///
/// When connecting, sending or reading fails or times out, or the response is malformed.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<HttpResponse> {
    request_with_timeout(addr, method, path, headers, IO_TIMEOUT)
}

/// [`request`], waiting `timeout` at most to connect, to send and for each read.
///
/// # Errors
///
/// When connecting, sending or reading fails or times out, or the response is malformed.
pub fn request_with_timeout(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let timeout = timeout.max(Duration::from_millis(1));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `GET path`.
///
/// # Panics
///
/// On a transport error or a malformed response, naming the path and the address.
pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(addr, "GET", path, &[]).unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

/// `GET /metrics`, which must answer 200; returns the text.
///
/// # Panics
///
/// As [`get`], and when the status is not 200.
pub fn scrape(addr: SocketAddr) -> String {
    let response = get(addr, "/metrics");
    assert_eq!(response.status, 200, "GET /metrics: {}", response.text());
    response.text()
}

/// Reads a whole response from `stream`, whose request was sent with `Connection: close`.
///
/// # Errors
///
/// When reading fails or times out (after [`IO_TIMEOUT`]), or the response is malformed.
pub fn read_response(stream: &mut TcpStream) -> io::Result<HttpResponse> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw, false).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Parses the bytes of a whole HTTP/1.1 response; `head_only` for the answer to `HEAD`, which
/// must have no body.
///
/// # Errors
///
/// What is malformed: the status line, a header, a chunk, or a body longer or shorter than
/// its `Content-Length`.
pub fn parse_response(raw: &[u8], head_only: bool) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| e.to_string())?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("no status line")?;
    let mut parts = status_line.splitn(3, ' ');
    if !matches!(parts.next(), Some("HTTP/1.1" | "HTTP/1.0")) {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').ok_or(format!("bad header {line:?}"))?;
            Ok((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect::<Result<_, String>>()?;
    let response = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only {
        if !rest.is_empty() {
            return Err(format!("a HEAD response with {} body bytes", rest.len()));
        }
        return Ok(response);
    }
    let body = if response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().map_err(|_| "bad content-length")?;
        if rest.len() != length {
            return Err(format!("content-length {length} but {} bytes", rest.len()));
        }
        rest.to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse { body, ..response })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("no chunk size")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|e| e.to_string())?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_and_sized_bodies() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = parse_response(chunked, false).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
        assert_eq!(response.text(), "abcde");
        let sized = b"HTTP/1.0 404 Not Found\r\ncontent-length: 2\r\n\r\nno";
        assert_eq!(parse_response(sized, false).unwrap().text(), "no");
    }

    #[test]
    fn refuses_malformed_responses_saying_what_is_wrong() {
        let cases: [(&[u8], bool, &str); 5] = [
            (b"HTTP/1.1 200 OK\r\n", false, "no end of headers"),
            (
                b"HTTP/2 200\r\n\r\n",
                false,
                "bad status line \"HTTP/2 200\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nabc",
                false,
                "content-length 5 but 3 bytes",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nz\r\n",
                false,
                "bad chunk size \"z\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\nbody",
                true,
                "a HEAD response with 4 body bytes",
            ),
        ];
        for (raw, head_only, message) in cases {
            assert_eq!(
                parse_response(raw, head_only),
                Err(message.to_string()),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
