//! Helpers shared by the examples' tests.

use std::io::Write;
use std::process::{Command, Stdio};

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
