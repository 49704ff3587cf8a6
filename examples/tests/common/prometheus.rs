//! A real Prometheus (Debian's package) on a free loopback port, for the tests that check
//! what it makes of the examples' pages, and a small client of its HTTP API.

use std::fmt;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dynamo_exporter::test_util::{poll_until, prometheus_tool, request};
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

impl Prometheus {
    /// Starts Prometheus with `config` (YAML; `{dir}` in it is replaced by its own folder,
    /// where `files` are written first), and waits until it answers `/-/ready`.
    pub fn start(config: &str, files: &[(&str, String)]) -> Self {
        Self::start_with_flags(config, files, &[])
    }

    /// [`Self::start`] with more command-line flags, such as
    /// `--enable-feature=native-histograms`.
    pub fn start_with_flags(config: &str, files: &[(&str, String)], flags: &[&str]) -> Self {
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
        let child = Command::new(prometheus_tool("prometheus"))
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let mut prometheus = Self { child, addr, dir };
        let waiting = Waiting(prometheus.dir().join("prometheus.log"));
        poll_until(START_TIMEOUT, waiting, || {
            prometheus.assert_running();
            matches!(http_get(addr, "/-/ready"), Ok((200, _))).then_some(())
        });
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

    /// Its one target as `/api/v1/targets` shows it, once scraped: (health, last error).
    pub fn target_health(&mut self) -> Option<(String, String)> {
        let data = self.api("targets").ok()?;
        let target = data["activeTargets"].as_array()?.first()?.clone();
        let health = target["health"].as_str()?.to_string();
        (health != "unknown").then(|| {
            let error = target["lastError"].as_str().unwrap_or("?").to_string();
            (health, error)
        })
    }

    /// Waits up to `deadline` for the first scrape of its one target; asserts it succeeded.
    pub fn assert_target_up(&mut self, deadline: Duration) {
        let health = poll_until(deadline, "a scrape of the target", || self.target_health());
        assert_eq!(
            health,
            ("up".to_string(), String::new()),
            "prometheus log:\n{}",
            self.log()
        );
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

/// `GET path`: (status, body).
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let response = request(addr, "GET", path, &[])?;
    Ok((
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    ))
}

/// What a start that timed out says: that Prometheus never answered, and its log then.
struct Waiting(PathBuf);

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = fs::read_to_string(&self.0).unwrap_or_default();
        write!(f, "prometheus answers /-/ready; its log:\n{log}")
    }
}
