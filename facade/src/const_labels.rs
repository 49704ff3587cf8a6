//! Labels added to every series of a page: reading `DYN_METRICS_CONST_LABELS`, and the rules
//! such labels follow (also those an engine pass-through adds).
//!
//! The variable holds `name=value` pairs separated by `,`; a name ends at the first `=`.
//! Whitespace around a name is trimmed; a value is kept as written, any UTF-8. In a value, a
//! literal `,`, `=` or `\` is written `\,`, `\=` or `\\`.

use dynamo_exporter::{ExporterError, Registry};

use crate::prometheus_names::labels;

/// The prefix of the labels the library adds itself (`dynamo_namespace`, ...), refused in
/// labels given for every series.
const RESERVED_PREFIX: &str = "dynamo_";

/// Why a list of labels cannot be used: the pair at fault, as written, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelProblem {
    /// The pair as written (escapes included).
    pub(crate) pair: String,
    /// What is wrong with it.
    pub(crate) reason: String,
}

impl LabelProblem {
    fn new(pair: &str, reason: impl Into<String>) -> Self {
        Self {
            pair: pair.into(),
            reason: reason.into(),
        }
    }
}

/// Reads `name=value,name=value` (see the module doc) and checks the labels.
///
/// # Errors
///
/// The first pair without `=`, with an empty or invalid name, a reserved `dynamo_*` name or
/// a name given before, or with a `\` that does not escape `,`, `=` or `\`.
pub(crate) fn parse(list: &str) -> Result<Vec<(String, String)>, LabelProblem> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for pair in split_unescaped(list, ',') {
        let Some(eq) = find_unescaped(pair, '=') else {
            return Err(LabelProblem::new(
                pair,
                "expected name=value (write a literal `=` in a value as `\\=`)",
            ));
        };
        let name = unescape(pair[..eq].trim()).map_err(|reason| LabelProblem::new(pair, reason))?;
        let value = unescape(&pair[eq + 1..]).map_err(|reason| LabelProblem::new(pair, reason))?;
        check_one(&name, &labels).map_err(|reason| LabelProblem::new(pair, reason))?;
        labels.push((name, value));
    }
    Ok(labels)
}

/// Checks labels given in code: each name valid, not reserved, given once.
///
/// # Errors
///
/// The first pair that breaks a rule, written `name=value`.
pub(crate) fn check<K: AsRef<str>, V: AsRef<str>>(labels: &[(K, V)]) -> Result<(), LabelProblem> {
    let mut seen: Vec<(String, String)> = Vec::with_capacity(labels.len());
    for (name, value) in labels {
        let (name, value) = (name.as_ref(), value.as_ref());
        check_one(name, &seen)
            .map_err(|reason| LabelProblem::new(&format!("{name}={value}"), reason))?;
        seen.push((name.into(), value.into()));
    }
    Ok(())
}

/// `base` with `extra` added; a name in both takes the value of `extra`.
pub(crate) fn merged(
    base: &[(String, String)],
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = base
        .iter()
        .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    out.extend(extra.iter().cloned());
    out
}

/// Why `name` cannot be one more label beside `earlier`, if it cannot.
fn check_one(name: &str, earlier: &[(String, String)]) -> Result<(), String> {
    if name.is_empty() {
        return Err("the label name is empty".into());
    }
    if name.starts_with(RESERVED_PREFIX) {
        return Err(format!(
            "label names starting with `{RESERVED_PREFIX}` are reserved for the labels the \
             library adds (such as `{}`)",
            labels::NAMESPACE
        ));
    }
    // The registry's own rules for labels that join every family: the syntax, `__`, `le`,
    // `quantile` and the overflow marker.
    match Registry::new().set_const_labels(&[(name, "")]) {
        Err(ExporterError::InvalidLabelName { label, reason, .. }) => {
            return Err(format!("invalid label name {label:?}: {reason}"));
        }
        Err(other) => return Err(other.to_string()),
        Ok(()) => {}
    }
    if earlier.iter().any(|(n, _)| n == name) {
        return Err(format!("the label {name:?} is given more than once"));
    }
    Ok(())
}

/// The byte offset of the first `c` not escaped by a `\`.
fn find_unescaped(text: &str, c: char) -> Option<usize> {
    let mut escaped = false;
    for (index, ch) in text.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            _ if ch == c => return Some(index),
            _ => {}
        }
    }
    None
}

/// `text` split at each `c` not escaped by a `\`.
fn split_unescaped(text: &str, c: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(at) = find_unescaped(rest, c) {
        parts.push(&rest[..at]);
        rest = &rest[at + c.len_utf8()..];
    }
    parts.push(rest);
    parts
}

/// `\,` `\=` `\\` as the characters they stand for.
fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(escaped @ (',' | '=' | '\\')) => out.push(escaped),
            Some(other) => {
                return Err(format!(
                    "`\\{other}` is not an escape: only `\\,`, `\\=` and `\\\\` are (write a \
                     literal `\\` as `\\\\`)"
                ));
            }
            None => {
                return Err("a dangling `\\` at the end (write a literal `\\` as `\\\\`)".into());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn reads_pairs_with_escapes_and_any_utf8() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("cluster=us-west", &[("cluster", "us-west")]),
            (
                "cluster=us-west,team=infer",
                &[("cluster", "us-west"), ("team", "infer")],
            ),
            (
                " cluster = us west , team=\tinfer ",
                &[("cluster", " us west "), ("team", "\tinfer ")],
            ),
            ("a=", &[("a", "")]),
            ("a=x=y", &[("a", "x=y")]),
            ("a=x\\=y", &[("a", "x=y")]),
            ("a=1\\,2,b=3", &[("a", "1,2"), ("b", "3")]),
            ("a=C:\\\\dir", &[("a", "C:\\dir")]),
            ("a=\\\\,b=2", &[("a", "\\"), ("b", "2")]),
            ("region=Zürich \"Ost\"", &[("region", "Zürich \"Ost\"")]),
            ("emoji=🚀\n", &[("emoji", "🚀\n")]),
        ];
        for (list, expected) in cases {
            assert_eq!(parse(list), Ok(pairs(expected)), "{list:?}");
        }
    }

    #[test]
    fn refuses_each_malformed_pair_naming_it() {
        let cases: &[(&str, &str, &str)] = &[
            ("=x", "=x", "the label name is empty"),
            ("a=1,,b=2", "", "expected name=value"),
            ("a=1, =2", " =2", "the label name is empty"),
            ("cluster", "cluster", "expected name=value"),
            ("a\\=b", "a\\=b", "expected name=value"),
            (
                "9a=1",
                "9a=1",
                "invalid label name \"9a\": it starts with a digit",
            ),
            ("a-b=1", "a-b=1", "invalid label name \"a-b\""),
            ("__x=1", "__x=1", "\"__\" are reserved"),
            ("le=1", "le=1", "invalid label name \"le\""),
            (
                "quantile=1",
                "quantile=1",
                "invalid label name \"quantile\"",
            ),
            (
                "otel_metric_overflow=1",
                "otel_metric_overflow=1",
                "invalid label name \"otel_metric_overflow\"",
            ),
            ("dynamo_namespace=x", "dynamo_namespace=x", "reserved"),
            ("dynamo_anything=x", "dynamo_anything=x", "reserved"),
            ("a=1,a=2", "a=2", "the label \"a\" is given more than once"),
            ("a=1, a =2", " a =2", "given more than once"),
            ("a=x\\", "a=x\\", "a dangling `\\`"),
            ("a=x\\n", "a=x\\n", "`\\n` is not an escape"),
        ];
        for (list, pair, reason) in cases {
            let problem = parse(list).unwrap_err();
            assert_eq!(problem.pair, *pair, "{list:?}");
            assert!(
                problem.reason.contains(reason),
                "{list:?}: {:?} does not say {reason:?}",
                problem.reason
            );
        }
    }

    #[test]
    fn checks_labels_given_in_code() {
        assert_eq!(check(&[("cluster", "a,b=c")]), Ok(()));
        let problem = check(&[("model", "x"), ("dynamo_endpoint", "y")]).unwrap_err();
        assert_eq!(problem.pair, "dynamo_endpoint=y");
        let problem = check(&[("model", "x"), ("model", "y")]).unwrap_err();
        assert_eq!(problem.pair, "model=y");
        let problem = check(&[("", "x")]).unwrap_err();
        assert_eq!(problem.pair, "=x");
        assert_eq!(problem.reason, "the label name is empty");
    }

    #[test]
    fn labels_given_later_win_and_others_stay() {
        let base = pairs(&[("cluster", "env"), ("team", "env")]);
        let extra = pairs(&[("team", "code"), ("model", "llama")]);
        assert_eq!(
            merged(&base, &extra),
            pairs(&[("cluster", "env"), ("team", "code"), ("model", "llama")])
        );
    }
}
