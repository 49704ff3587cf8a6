//! Just enough of PromQL and Grafana's templating for the dashboard test: the metric names a
//! query selects, and a query with its template variables replaced as Grafana would.

use std::collections::BTreeSet;

/// Words of PromQL that are not metric names where a metric name could stand.
const KEYWORDS: [&str; 11] = [
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN", "start",
];

/// Words followed by a parenthesised list of label names.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` selects: the identifiers that stand as a vector selector, neither
/// a function or aggregation (followed by `(`, or by `by (...)`), a keyword, a label name (inside `{...}` or in
/// `by (...)` and its kin), nor part of a string or a duration.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut braces = 0usize;
    let mut skip_list = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '[' => {
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
                i += 1;
            }
            '{' => {
                braces += 1;
                i += 1;
            }
            '}' => {
                braces = braces.saturating_sub(1);
                i += 1;
            }
            '(' if skip_list => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                skip_list = false;
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number or a duration: digits and the letters that follow them.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                let rest: String = chars[i..].iter().collect();
                let rest = rest.trim_start();
                // `sum by (...) (...)`: an aggregation with its grouping first.
                let grouped = ["by", "without"].iter().any(|w| {
                    rest.strip_prefix(w)
                        .is_some_and(|r| r.trim_start().starts_with('('))
                });
                if braces > 0 || KEYWORDS.contains(&word.as_str()) {
                    continue;
                }
                if LABEL_LISTS.contains(&word.as_str()) {
                    skip_list = true;
                    continue;
                }
                if next != Some(&'(') && !grouped {
                    names.insert(word);
                }
            }
            '$' => {
                // A template variable left in: skip its name.
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "_{}".contains(chars[i]))
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// `expr` with Grafana's variables replaced: `$__rate_interval` by `rate_interval`, and each
/// `$name` or `${name}` by its values, escaped for a regex inside a PromQL string and joined
/// by `|` (Grafana's formatting of a multi-value variable for Prometheus).
pub fn substitute(expr: &str, rate_interval: &str, variables: &[(String, Vec<String>)]) -> String {
    let mut out = expr.replace("$__rate_interval", rate_interval);
    // Longest names first, so `$instance` is not cut by a variable named `$in`.
    let mut variables: Vec<_> = variables.iter().collect();
    variables.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    for (name, values) in variables {
        let value = values
            .iter()
            .map(|v| regex_escape(v))
            .collect::<Vec<_>>()
            .join("|");
        out = out
            .replace(&format!("${{{name}}}"), &value)
            .replace(&format!("${name}"), &value);
    }
    out
}

/// `value` as a regex matching only itself, written inside a double-quoted PromQL string
/// (where a backslash is written `\\`).
fn regex_escape(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if r"\.+*?()|[]{}^$".contains(c) {
                format!(r"\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A Grafana variable query `label_values(selector, label)` or `label_values(label)`:
/// `(selector, label)`.
pub fn label_values_query(query: &str) -> Option<(Option<String>, String)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    match inner.rsplit_once(',') {
        Some((selector, label)) if !selector.trim().is_empty() => {
            Some((Some(selector.trim().to_string()), label.trim().to_string()))
        }
        _ => Some((None, inner.trim().to_string())),
    }
}

/// The labels `{{name}}` a Grafana legend format shows.
pub fn legend_labels(legend: &str) -> Vec<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}"))
        .map(|(name, _)| name.trim().to_string())
        .collect()
}

/// Encodes everything but unreserved characters, for a query string.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
