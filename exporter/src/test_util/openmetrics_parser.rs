//! prometheus_client's strict OpenMetrics parser (Python) on an OpenMetrics page.

use std::io::Write;
use std::process::{Command, Stdio};

/// The environment variable naming the Python interpreter that has `prometheus_client`;
/// `python3` on `PATH` when unset. `scripts/test` sets it to a venv of its own.
pub const TEST_PYTHON_VAR: &str = "DYN_TEST_PYTHON";

/// Exit code of [`PARSE_SCRIPT`] when `prometheus_client` cannot be imported.
const NO_PROMETHEUS_CLIENT: i32 = 3;

/// Reads a page from stdin, parses all of it and prints each family's name on its own line;
/// on a parse error, prints the error and exits with 1.
const PARSE_SCRIPT: &str = r#"
import sys
try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError as error:
    print(error, file=sys.stderr)
    sys.exit(3)
page = sys.stdin.buffer.read().decode("utf-8")
try:
    names = [family.name for family in text_string_to_metric_families(page)]
except Exception as error:
    print(f"{type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
for name in names:
    print(name)
"#;

/// The names of the metric families prometheus_client's OpenMetrics parser reads from
/// `page`, in the page's order.
///
/// # Errors
///
/// The parser's error, when it refuses the page.
///
/// # Panics
///
/// When the Python interpreter ([`TEST_PYTHON_VAR`], else `python3`) cannot be run or cannot
/// import `prometheus_client`, saying how to get it.
pub fn openmetrics_families(page: &str) -> Result<Vec<String>, String> {
    let python = std::env::var(TEST_PYTHON_VAR).unwrap_or_else(|_| "python3".to_string());
    let how_to_get_it = format!(
        "these tests need Python's prometheus_client: scripts/test sets up a venv with it and \
         points {TEST_PYTHON_VAR} to its python (or: python3 -m venv VENV && VENV/bin/pip \
         install prometheus-client, then {TEST_PYTHON_VAR}=VENV/bin/python)"
    );
    let mut child = Command::new(&python)
        .args(["-c", PARSE_SCRIPT])
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("`{python}` cannot be run ({error}): {how_to_get_it}"));
    child
        .stdin
        .take()
        .expect("Python's stdin")
        .write_all(page.as_bytes())
        .expect("Python reads the page");
    let output = child.wait_with_output().expect("Python ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()),
        Some(NO_PROMETHEUS_CLIENT) => panic!(
            "`{python}` cannot import prometheus_client ({}): {how_to_get_it}",
            stderr.trim_end()
        ),
        Some(1) => Err(stderr.trim_end().to_string()),
        _ => panic!("`{python}` failed ({}): {stderr}", output.status),
    }
}

/// Fails the test unless prometheus_client's strict OpenMetrics parser reads all of `page`;
/// returns the names of its metric families, in the page's order.
///
/// # Panics
///
/// When the parser refuses the page, with its error and the page; or as
/// [`openmetrics_families`] does.
pub fn assert_openmetrics_parses(page: &str) -> Vec<String> {
    openmetrics_families(page).unwrap_or_else(|error| {
        panic!("prometheus_client's OpenMetrics parser refuses the page: {error}\nin:\n{page}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_family_names_of_a_page_that_parses() {
        assert_eq!(
            assert_openmetrics_parses(
                "# TYPE jobs counter\njobs_total 1\n# TYPE up gauge\nup 1\n# EOF\n"
            ),
            ["jobs", "up"]
        );
        assert_eq!(assert_openmetrics_parses("# EOF\n"), Vec::<String>::new());
    }

    #[test]
    fn returns_the_parser_error_of_a_page_it_refuses() {
        assert_eq!(
            openmetrics_families("# TYPE up gauge\nup 1\n"),
            Err("ValueError: Missing # EOF at end".to_string())
        );
        let refused = std::panic::catch_unwind(|| {
            assert_openmetrics_parses("# TYPE up gauge\nup 1\n");
        })
        .expect_err("a page without `# EOF` fails the assertion");
        let message = refused
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert_eq!(
            message,
            "prometheus_client's OpenMetrics parser refuses the page: ValueError: Missing # EOF \
             at end\nin:\n# TYPE up gauge\nup 1\n"
        );
    }
}
