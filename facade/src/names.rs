//! Dynamo's naming rules: metric names, hierarchy label values and macro label names.

use crate::MetricsError;
use crate::prometheus_names::{labels, name_prefix};

/// Sanitizes a user metric name: every character outside `[a-zA-Z0-9_:]` becomes `_`, and a
/// first character that is not a letter or `_` gets `_` before it.
///
/// ```
/// use dynamo_runtime::names::sanitize_metric_name;
/// assert_eq!(sanitize_metric_name("métrique").unwrap(), "m_trique");
/// assert_eq!(sanitize_metric_name("9lives").unwrap(), "_9lives");
/// assert_eq!(
///     sanitize_metric_name("__").unwrap_err().to_string(),
///     "invalid metric name \"__\": it is empty or only underscores once sanitized"
/// );
/// ```
///
/// # Errors
///
/// [`MetricsError::InvalidMetricName`] when the result is empty or only underscores.
pub fn sanitize_metric_name(name: &str) -> Result<String, MetricsError> {
    let mut out = replace_chars(name, |c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    prepend_unless_letter_or_underscore(&mut out);
    if out.bytes().all(|b| b == b'_') {
        return Err(MetricsError::InvalidMetricName {
            name: name.into(),
            reason: "it is empty or only underscores once sanitized",
        });
    }
    Ok(out)
}

/// The exported name of a user metric: `dynamo_component_` + the sanitized name.
///
/// ```
/// use dynamo_runtime::names::full_metric_name;
/// assert_eq!(full_metric_name("requests_total").unwrap(), "dynamo_component_requests_total");
/// ```
///
/// # Errors
///
/// As [`sanitize_metric_name`].
pub fn full_metric_name(name: &str) -> Result<String, MetricsError> {
    Ok(format!(
        "{}_{}",
        name_prefix::COMPONENT,
        sanitize_metric_name(name)?
    ))
}

/// Sanitizes a namespace, component or endpoint name into a label value.
///
/// Characters outside `[a-zA-Z0-9_]` become `_`; a first character that is not a letter or
/// `_` gets `_` before it; a leading `__` is stripped once, and `_` is put back when what is
/// left is empty or does not start with a letter.
///
/// ```
/// use dynamo_runtime::names::sanitize_hierarchy_name;
/// assert_eq!(sanitize_hierarchy_name("test-component").as_deref(), Some("test_component"));
/// assert_eq!(sanitize_hierarchy_name("@@123").as_deref(), Some("_123"));
/// assert_eq!(sanitize_hierarchy_name("__test").as_deref(), Some("test"));
/// assert_eq!(sanitize_hierarchy_name("__"), None);
/// ```
#[must_use]
pub fn sanitize_hierarchy_name(name: &str) -> Option<String> {
    let mut out = replace_chars(name, |c| c.is_ascii_alphanumeric() || c == '_');
    prepend_unless_letter_or_underscore(&mut out);
    if let Some(rest) = out.strip_prefix("__") {
        let mut rest = rest.to_string();
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            rest.insert(0, '_');
        }
        out = rest;
    }
    (!out.bytes().all(|b| b == b'_')).then_some(out)
}

/// Sanitizes a label name given to a metric macro, which cannot report errors: characters
/// outside `[a-zA-Z0-9_]` become `_`, a leading digit gets `_` before it, and a leading run of
/// underscores shrinks to one. `None` when nothing usable is left.
///
/// ```
/// use dynamo_runtime::names::sanitize_macro_label;
/// assert_eq!(sanitize_macro_label("model-name").as_deref(), Some("model_name"));
/// assert_eq!(sanitize_macro_label("__gpu").as_deref(), Some("_gpu"));
/// assert_eq!(sanitize_macro_label("0rank").as_deref(), Some("_0rank"));
/// ```
#[must_use]
pub fn sanitize_macro_label(name: &str) -> Option<String> {
    let mut out = replace_chars(name, |c| c.is_ascii_alphanumeric() || c == '_');
    prepend_unless_letter_or_underscore(&mut out);
    let trimmed = out.trim_start_matches('_');
    if trimmed.len() + 1 < out.len() {
        out = format!("_{trimmed}");
    }
    (!out.bytes().all(|b| b == b'_')).then_some(out)
}

/// True for the label names the hierarchy adds itself.
#[must_use]
pub fn is_reserved_label(name: &str) -> bool {
    labels::HIERARCHY.contains(&name)
}

fn replace_chars(name: &str, keep: impl Fn(char) -> bool) -> String {
    name.chars()
        .map(|c| if keep(c) { c } else { '_' })
        .collect()
}

fn prepend_unless_letter_or_underscore(s: &mut String) {
    if !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        s.insert(0, '_');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynamo_exporter::parse::{is_label_name, is_metric_name};
    use proptest::prelude::*;

    #[test]
    fn sanitizes_known_metric_names() {
        let cases = [
            ("requests_total", Some("requests_total")),
            ("métrique", Some("m_trique")),
            ("9lives", Some("_9lives")),
            ("a-b.c d", Some("a_b_c_d")),
            ("ns:sub", Some("ns:sub")),
            (":colon", Some("_:colon")),
            ("日本", None),
            ("_x", Some("_x")),
            ("", None),
            ("___", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                sanitize_metric_name(input).ok().as_deref(),
                expected,
                "sanitizing {input:?}"
            );
        }
    }

    #[test]
    fn metric_name_error_names_the_value() {
        let err = sanitize_metric_name("--").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid metric name \"--\": it is empty or only underscores once sanitized"
        );
    }

    #[test]
    fn sanitizes_known_hierarchy_names() {
        let cases = [
            ("my_namespace", Some("my_namespace")),
            ("test-component", Some("test_component")),
            ("@@123", Some("_123")),
            ("__test", Some("test")),
            ("123", Some("_123")),
            ("__1x", Some("_1x")),
            ("___x", Some("__x")),
            ("a.b:c", Some("a_b_c")),
            ("ünï", Some("_n_")),
            ("", None),
            ("_", None),
            ("__", None),
            ("--", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                sanitize_hierarchy_name(input).as_deref(),
                expected,
                "sanitizing {input:?}"
            );
        }
    }

    #[test]
    fn sanitizes_known_macro_labels() {
        let cases = [
            ("model", Some("model")),
            ("model-name", Some("model_name")),
            ("__gpu", Some("_gpu")),
            ("_gpu", Some("_gpu")),
            ("0rank", Some("_0rank")),
            ("", None),
            ("__", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                sanitize_macro_label(input).as_deref(),
                expected,
                "sanitizing {input:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn sanitized_metric_names_are_valid(s in any::<String>()) {
            if let Ok(full) = full_metric_name(&s) {
                prop_assert!(is_metric_name(&full), "{:?} -> {:?}", s, full);
                // One output character per input character, plus at most one prepended `_`.
                let sanitized = sanitize_metric_name(&s).unwrap();
                let n = s.chars().count();
                prop_assert!(sanitized.len() == n || sanitized.len() == n + 1);
            }
        }

        #[test]
        fn metric_name_sanitizing_is_idempotent(s in any::<String>()) {
            if let Ok(once) = sanitize_metric_name(&s) {
                prop_assert_eq!(sanitize_metric_name(&once).unwrap(), once);
            }
        }

        #[test]
        fn hierarchy_values_are_label_safe(s in any::<String>()) {
            if let Some(v) = sanitize_hierarchy_name(&s) {
                prop_assert!(is_label_name(&v), "{:?} -> {:?}", s, v);
                prop_assert!(!v.bytes().all(|b| b == b'_'));
            }
        }

        #[test]
        fn macro_labels_are_valid_label_names(s in any::<String>()) {
            if let Some(v) = sanitize_macro_label(&s) {
                prop_assert!(is_label_name(&v) && !v.starts_with("__"), "{:?} -> {:?}", s, v);
            }
        }
    }
}
