//! Helpers shared by the examples' tests: running an example as a program, a small HTTP
//! client, and promtool.

#![allow(dead_code)]

pub mod prometheus;
pub mod promql;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a test waits for an example: to start, to answer, to show what it should.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A running example, killed and reaped when the test ends.
pub struct Example {
    /// The process.
    pub child: Child,
    /// The address it serves on.
    pub addr: SocketAddr,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program` on a free loopback port and reads the address it prints.
pub fn start(program: &str) -> Example {
    let mut child = Command::new(program)
        .env("DYN_SYSTEM_PORT", "0")
        .env("DYN_SYSTEM_HOST", "127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the example starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(TIMEOUT)
        .expect("the example prints its address");
    let addr = line
        .split_whitespace()
        .find_map(|word| word.trim_end_matches(':').parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Example { child, addr }
}

/// `GET path` over a fresh connection: (status line, body).
pub fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The value of the one line starting with `series`.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

/// Runs `promtool check metrics` on `text`: `Ok` with the lint findings, or `Err` with the
/// parse error.
pub fn promtool_check(text: &str) -> Result<Vec<String>, String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package `prometheus`)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => Ok(Vec::new()),
        // Exit code 3 means the text parsed and only lint findings were printed.
        Some(3) => Ok(said.lines().map(str::to_string).collect()),
        _ => Err(said),
    }
}
