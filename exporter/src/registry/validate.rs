//! The Prometheus rules for names, labels and help, checked before anything is stored.

use crate::error::ExporterError;
use crate::exposition::OVERFLOW_LABEL;
use crate::kinds::table::MetricKind;

/// Checks a metric name against `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn metric_name(name: &str) -> Result<(), ExporterError> {
    let reason = match name.as_bytes().first() {
        None => Some("it is empty"),
        Some(b) if b.is_ascii_digit() => Some("it starts with a digit"),
        _ if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') =>
        {
            Some("only ASCII letters, digits, '_' and ':' are allowed")
        }
        _ => None,
    };
    match reason {
        Some(reason) => Err(ExporterError::InvalidMetricName {
            name: name.into(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The bytes a label name may hold: ASCII letters, digits and '_' (a table: one load a byte).
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric() || b as u8 == b'_';
        b += 1;
    }
    table
};

/// Why `label` is not a valid user label name, if it is not.
pub(crate) fn label_name_problem(label: &str) -> Option<&'static str> {
    match label.as_bytes().first() {
        None => Some("it is empty"),
        Some(b) if b.is_ascii_digit() => Some("it starts with a digit"),
        _ if !label.bytes().all(|b| NAME_BYTES[usize::from(b)]) => {
            Some("only ASCII letters, digits and '_' are allowed")
        }
        _ if label.starts_with("__") => Some("names starting with \"__\" are reserved"),
        _ if label == OVERFLOW_LABEL => {
            Some("it marks the series that new label sets fold into past a metric's bound")
        }
        _ => None,
    }
}

/// Checks every label name, and that none repeats across constant and variable labels.
pub(crate) fn label_names<'a>(
    metric: &str,
    kind: MetricKind,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ExporterError> {
    let mut seen: Vec<&str> = Vec::new();
    for label in names {
        let problem = label_name_problem(label).or_else(|| {
            (kind.reserved_label() == Some(label)).then_some(match kind {
                MetricKind::Histogram => "\"le\" is reserved for histogram buckets",
                MetricKind::Summary => "\"quantile\" is reserved for summary quantiles",
                _ => "the metric's type reserves it",
            })
        });
        if let Some(reason) = problem {
            return Err(ExporterError::InvalidLabelName {
                metric: metric.into(),
                label: label.into(),
                reason,
            });
        }
        if seen.contains(&label) {
            return Err(ExporterError::DuplicateLabel {
                metric: metric.into(),
                label: label.into(),
            });
        }
        seen.push(label);
    }
    Ok(())
}

/// Checks that the help text is not empty.
pub(crate) fn help(metric: &str, help: &str) -> Result<(), ExporterError> {
    if help.is_empty() {
        return Err(ExporterError::EmptyHelp {
            metric: metric.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects_metric_names() {
        for ok in ["a", "_a", ":a", "a:b_c9", "dynamo_component_x"] {
            assert_eq!(metric_name(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", "it is empty"),
            ("9a", "it starts with a digit"),
            ("a-b", "only ASCII letters, digits, '_' and ':' are allowed"),
            ("a b", "only ASCII letters, digits, '_' and ':' are allowed"),
            ("é", "only ASCII letters, digits, '_' and ':' are allowed"),
        ];
        for (bad, reason) in cases {
            assert_eq!(
                metric_name(bad),
                Err(ExporterError::InvalidMetricName {
                    name: bad.into(),
                    reason
                }),
                "{bad}"
            );
        }
        assert_eq!(
            metric_name("a-b").unwrap_err().to_string(),
            "invalid metric name \"a-b\": only ASCII letters, digits, '_' and ':' are allowed"
        );
    }

    #[test]
    fn rejects_histogram_label_named_le() {
        let err = label_names("h", MetricKind::Histogram, ["le"].into_iter()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metric \"h\": invalid label name \"le\": \"le\" is reserved for histogram buckets"
        );
        assert_eq!(
            label_names("c", MetricKind::Counter, ["le"].into_iter()),
            Ok(())
        );
    }

    #[test]
    fn rejects_bad_label_names() {
        let cases = [
            ("", "it is empty"),
            ("1a", "it starts with a digit"),
            ("a-b", "only ASCII letters, digits and '_' are allowed"),
            ("a:b", "only ASCII letters, digits and '_' are allowed"),
            ("__x", "names starting with \"__\" are reserved"),
            (
                OVERFLOW_LABEL,
                "it marks the series that new label sets fold into past a metric's bound",
            ),
        ];
        for (bad, reason) in cases {
            assert_eq!(label_name_problem(bad), Some(reason), "{bad}");
        }
        assert_eq!(label_name_problem("_x"), None);
        assert_eq!(
            label_names("m", MetricKind::Gauge, ["ok", "1a"].into_iter())
                .unwrap_err()
                .to_string(),
            "metric \"m\": invalid label name \"1a\": it starts with a digit"
        );
    }

    #[test]
    fn rejects_duplicate_labels() {
        let err = label_names("m", MetricKind::Gauge, ["a", "b", "a"].into_iter()).unwrap_err();
        assert_eq!(
            err,
            ExporterError::DuplicateLabel {
                metric: "m".into(),
                label: "a".into()
            }
        );
    }
}
