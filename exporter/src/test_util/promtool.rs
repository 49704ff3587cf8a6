//! `promtool check metrics`, from Debian's `prometheus` package, on an exposition text.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The path of a program of Debian's `prometheus` package (`prometheus`, `promtool`): the
/// first on `PATH`, else in `/usr/bin`.
///
/// # Panics
///
/// When the program is not installed, saying how to install it.
#[must_use]
pub fn prometheus_tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .chain(std::iter::once(Path::new("/usr/bin").join(name)))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: these tests need Debian's `prometheus` package \
                 (apt-get install prometheus; scripts/test does), which ships `prometheus` \
                 and `promtool`"
            )
        })
}

/// What `promtool check metrics` makes of `text`: `Ok` with its lint findings, one per line
/// (none when it accepts the text as it is).
///
/// # Errors
///
/// What promtool said, when it cannot parse the text.
///
/// # Panics
///
/// When promtool is not installed or cannot be run.
pub fn promtool_check(text: &str) -> Result<Vec<String>, String> {
    let mut child = Command::new(prometheus_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("promtool reads the text");
    let output = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Ok(Vec::new()),
        // 3: the text parsed, and these are the lint findings; 1: it did not parse.
        Some(3) => Ok(said
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(str::to_string)
            .collect()),
        _ => Err(said),
    }
}

/// Fails the test unless `promtool check metrics` accepts `text`, lint included.
///
/// # Panics
///
/// When promtool finds the text malformed or has a lint finding, with what it said and the text.
pub fn assert_promtool_accepts(text: &str) {
    assert_promtool_accepts_allowing(text, &[]);
}

/// Fails the test unless `promtool check metrics` parses `text` and every lint finding it has
/// contains one of `allowed` (such as engines' names with `:`, which promtool's lint
/// discourages and the format allows).
///
/// # Panics
///
/// When promtool finds the text malformed or has another finding, with what it said and the
/// text.
pub fn assert_promtool_accepts_allowing(text: &str, allowed: &[&str]) {
    match promtool_check(text) {
        Ok(findings) => {
            let refused: Vec<&String> = findings
                .iter()
                .filter(|finding| !allowed.iter().any(|a| finding.contains(a)))
                .collect();
            assert!(
                refused.is_empty(),
                "promtool check metrics found {refused:?} in:\n{text}"
            );
        }
        Err(said) => panic!("promtool check metrics cannot parse the text: {said}\nin:\n{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_lint_findings_of_a_text_that_parses() {
        assert_eq!(
            promtool_check("# TYPE x counter\nx 1\n"),
            Ok(vec![
                "x counter metrics should have \"_total\" suffix".to_string(),
                "x no help text".to_string(),
            ])
        );
        assert_eq!(
            promtool_check("# HELP x_total X\n# TYPE x_total counter\nx_total 1\n"),
            Ok(Vec::new())
        );
    }

    #[test]
    fn returns_what_promtool_said_of_broken_text() {
        assert_eq!(
            promtool_check("# TYPE x counter\nx{a=\"1} 1\n"),
            Err(
                "error while linting: text format parsing error in line 2: label value \
                 \"1} 1\" contains unescaped new-line\n"
                    .to_string()
            )
        );
    }

    #[test]
    fn allows_only_the_findings_named() {
        assert_promtool_accepts_allowing("# HELP x X\n# TYPE x counter\nx 1\n", &["_total"]);
        let refused = std::panic::catch_unwind(|| {
            assert_promtool_accepts("# HELP x X\n# TYPE x counter\nx 1\n");
        })
        .expect_err("a lint finding fails the assertion");
        let message = refused
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert!(
            message.starts_with(
                "promtool check metrics found [\"x counter metrics should have \\\"_total\\\" \
                 suffix\"] in:\n"
            ),
            "{message}"
        );
    }
}
