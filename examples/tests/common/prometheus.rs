//! A real Prometheus (Debian's package) on a free loopback port, for the tests that check
//! what it makes of the examples' pages, and a small client of its HTTP API.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::promql::percent_encode;

/// How long Prometheus gets to start answering.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A Prometheus process, killed and reaped when dropped, with its files in a temporary folder.
pub struct Prometheus {
    child: Child,
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a program of Debian's `prometheus` package, with a clear failure without it.
pub fn program(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: `apt-get install prometheus` (scripts/test does)")
    })
}

impl Prometheus {
    /// Starts Prometheus with `config` (YAML; `{dir}` in it is replaced by its own folder,
    /// where `files` are written first), and waits until it answers `/-/ready`.
    pub fn start(config: &str, files: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let config_path = dir.path().join("prometheus.yml");
        fs::write(
            &config_path,
            config.replace("{dir}", &dir.path().display().to_string()),
        )
        .unwrap();
        // A free port for Prometheus itself: bound, read, released.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let log = fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(program("prometheus"))
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let mut prometheus = Self { child, addr, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        while !matches!(http_get(addr, "/-/ready"), Ok((200, _))) {
            prometheus.assert_running();
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {START_TIMEOUT:?}:\n{}",
                prometheus.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        prometheus
    }

    /// Its folder: configuration, targets, data and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited ({status}):\n{}", self.log());
        }
    }

    /// `GET /api/v1/{path}`: the `data` of a successful answer, or the error it gave.
    pub fn api(&mut self, path: &str) -> Result<Value, String> {
        self.assert_running();
        let (status, body) = http_get(self.addr, &format!("/api/v1/{path}"))
            .map_err(|e| format!("GET /api/v1/{path}: {e}"))?;
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET /api/v1/{path}: {e} in {body}"))?;
        if status == 200 && json["status"] == "success" {
            Ok(json["data"].clone())
        } else {
            Err(format!("GET /api/v1/{path}: {status} {body}"))
        }
    }

    /// An instant query, now: the result vector (each item `{"metric": {...}, "value": [t, v]}`).
    pub fn query(&mut self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api(&format!("query?query={}", percent_encode(expr)))?;
        match data["resultType"].as_str() {
            Some("vector") => Ok(data["result"].as_array().cloned().unwrap_or_default()),
            other => Err(format!("{expr}: a {other:?} result, not a vector")),
        }
    }

    /// A range query from `start` to `end` (Unix seconds), a point every `step` seconds.
    pub fn query_range(
        &mut self,
        expr: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Value, String> {
        self.api(&format!(
            "query_range?query={}&start={start}&end={end}&step={step}",
            percent_encode(expr)
        ))
    }

    /// The values of `label` among the series `selector` matches (all series without one).
    pub fn label_values(
        &mut self,
        label: &str,
        selector: Option<&str>,
    ) -> Result<Vec<String>, String> {
        let mut path = format!("label/{label}/values");
        if let Some(selector) = selector {
            path.push_str(&format!("?match[]={}", percent_encode(selector)));
        }
        let data = self.api(&path)?;
        Ok(data
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// `GET path` in HTTP/1.0, so the answer comes whole (never chunked) and the connection
/// closes after it: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, body.to_string()))
}
