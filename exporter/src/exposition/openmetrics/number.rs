//! How OpenMetrics writes numbers: floats in the canonical form of its reference encoders
//! (`1.0`, `0.005`, `1e+06`), timestamps as seconds.

/// Appends `v` as the OpenMetrics encoders of Prometheus write floats (Go's shortest `%g`,
/// with `.0` on a number that would otherwise look like an integer): `1.0`, `0.005`,
/// `172.8`, `100000.0`, `1e+06`, `2.5e-05`, `+Inf`, `-Inf`, `NaN`. Bucket bounds and
/// quantiles must be written so, and a scraper reads every other float the same way.
pub(crate) fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v == 0.0 {
        out.push_str("0.0");
        return;
    }
    if (1e-4..1e6).contains(&v.abs()) {
        // Where Go writes no exponent, ryu's shortest form is the same text (`0.005`,
        // `172.8`, `100000.0`), written without an allocation.
        // Whole when the integer round trip keeps it (cheaper than `fract`, a call to `trunc`).
        let whole = (v as i64) as f64 == v;
        if whole || !crate::exposition::decimal::push_short(out, v) {
            out.push_str(ryu::Buffer::new().format_finite(v));
        }
        return;
    }
    push_float_by_parts(out, v);
}

/// [`push_float`] from the digits and exponent of Rust's `{:e}`, for any finite `v` but 0.
fn push_float_by_parts(out: &mut String, v: f64) {
    // Rust's `{:e}` gives the shortest digits that read back as `v`: `-1.728e2`.
    let scientific = format!("{v:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(magnitude));
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 1..-exponent {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let whole = exponent as usize + 1;
        if digits.len() > whole {
            out.push_str(&digits[..whole]);
            out.push('.');
            out.push_str(&digits[whole..]);
        } else {
            out.push_str(&digits);
            for _ in digits.len()..whole {
                out.push('0');
            }
            out.push_str(".0");
        }
    }
}

/// Appends a timestamp given in milliseconds as seconds, the unit of OpenMetrics:
/// `1700000000.123`, `1700000000`, `-1.5`.
pub(crate) fn push_seconds(out: &mut String, milliseconds: i64) {
    if milliseconds < 0 {
        out.push('-');
    }
    let magnitude = milliseconds.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(magnitude / 1000));
    let millis = magnitude % 1000;
    if millis != 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn float(v: f64) -> String {
        let mut out = String::new();
        push_float(&mut out, v);
        out
    }

    fn seconds(ms: i64) -> String {
        let mut out = String::new();
        push_seconds(&mut out, ms);
        out
    }

    #[test]
    fn floats_as_the_reference_encoders_write_them() {
        // The Go encoder's cases (common/expfmt's OpenMetrics tests) and its switch to
        // exponents below 1e-4 and from 1e6.
        let cases = [
            (0.0, "0.0"),
            (-0.0, "0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.005, "0.005"),
            (0.25, "0.25"),
            (2.5, "2.5"),
            (10.0, "10.0"),
            (100.0, "100.0"),
            (172.8, "172.8"),
            (-1.23, "-1.23"),
            (0.2342354, "0.2342354"),
            (100000.0, "100000.0"),
            (123456.7, "123456.7"),
            (1e6, "1e+06"),
            (1234567.89, "1.23456789e+06"),
            (1756047.3, "1.7560473e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-5, "-2.5e-05"),
            (1e100, "1e+100"),
            (1.5e-300, "1.5e-300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (input, expected) in cases {
            assert_eq!(float(input), expected, "writing {input:?}");
        }
    }

    #[test]
    fn timestamps_in_seconds() {
        let cases = [
            (0, "0"),
            (1_700_000_000_000, "1700000000"),
            (1_700_000_000_123, "1700000000.123"),
            (1_700_000_000_120, "1700000000.12"),
            (1_700_000_000_001, "1700000000.001"),
            (-1500, "-1.5"),
            (-1, "-0.001"),
        ];
        for (input, expected) in cases {
            assert_eq!(seconds(input), expected, "{input} ms");
        }
    }

    proptest! {
        #[test]
        fn floats_read_back(v in any::<f64>()) {
            let text = float(v);
            let read: f64 = match text.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                other => other.parse().unwrap(),
            };
            prop_assert!(read == v || (read.is_nan() && v.is_nan()), "{} -> {}", v, text);
            prop_assert!(text.contains(['.', 'e', 'I', 'N']), "{} has no fraction", text);
        }

        #[test]
        fn ryus_text_is_the_text_by_parts_where_it_is_used(
            v in prop_oneof![1e-4..1e6f64, -1e6..-1e-4f64, 0.0..10.0f64, 99_000.0..1e6f64]
        ) {
            prop_assume!(v != 0.0);
            let mut by_parts = String::new();
            push_float_by_parts(&mut by_parts, v);
            prop_assert_eq!(float(v), by_parts);
        }

        #[test]
        fn seconds_read_back(ms in any::<i64>()) {
            let text = seconds(ms);
            let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
            let negative = whole.starts_with('-');
            let whole: i128 = whole.trim_start_matches('-').parse().unwrap();
            let fraction: i128 = format!("{fraction:0<3}").parse().unwrap();
            let magnitude = whole * 1000 + fraction;
            prop_assert_eq!(if negative { -magnitude } else { magnitude }, i128::from(ms));
        }
    }
}
