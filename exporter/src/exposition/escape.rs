//! How the text formats write strings and numbers: label values and help escaped, numbers in
//! their shortest round-trip form. Escaping and its inverse live together here, and everything
//! that writes or reads label text (the text encoder, the keys of series, the parser) uses them.

use std::borrow::Cow;

/// Appends `name="value"`, the value escaped.
pub(crate) fn push_pair(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value, true);
    out.push('"');
}

/// Appends `name="value"` pairs separated by commas; false when there were none.
pub(crate) fn push_pairs<'a>(
    out: &mut String,
    pairs: impl Iterator<Item = (&'a str, Cow<'a, str>)>,
) -> bool {
    let mut any = false;
    for (name, value) in pairs {
        if any {
            out.push(',');
        }
        any = true;
        push_pair(out, name, &value);
    }
    any
}

/// Appends `text` with `\` and newline escaped, and `"` too in a label value (`quote`).
pub(crate) fn push_escaped(out: &mut String, text: &str, quote: bool) {
    let special = |b: u8| b == b'\\' || b == b'\n' || (quote && b == b'"');
    if !text.bytes().any(special) {
        out.push_str(text);
        return;
    }
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if special(b) {
            out.push_str(&text[start..i]);
            out.push_str(match b {
                b'\\' => "\\\\",
                b'\n' => "\\n",
                _ => "\\\"",
            });
            start = i + 1;
        }
    }
    out.push_str(&text[start..]);
}

/// A label value with `\\`, `\"` and `\n` turned back into what they stand for.
pub(crate) fn unescape(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends `v` in its shortest round-trip form: `50000`, `7.5`, `1e-7`, `+Inf`, `-Inf`, `NaN`.
pub(crate) fn push_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.abs() < 1e18 && (v as i64) as f64 == v {
        // Whole numbers print without a fraction; a whole f64 below 1e18 fits an i64 exactly.
        // (Tested by a round trip through the integer: `fract` calls `trunc` out of line on
        // x86-64 without SSE4.1.)
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else if !super::decimal::push_short(out, v) {
        out.push_str(ryu::Buffer::new().format_finite(v));
    }
}

/// Appends an integer.
pub(crate) fn push_int(out: &mut String, v: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(v));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn escaped_value(s: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, s, true);
        out
    }

    fn escaped_help(s: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, s, false);
        out
    }

    fn f64_text(v: f64) -> String {
        let mut s = String::new();
        push_f64(&mut s, v);
        s
    }

    #[test]
    fn escapes_known_label_values() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a\"b", "a\\\"b"),
            ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
            ("\\\"\n", "\\\\\\\"\\n"),
            ("ünïcødé ✓", "ünïcødé ✓"),
            ("tab\there", "tab\there"),
        ];
        for (input, expected) in cases {
            assert_eq!(escaped_value(input), expected, "escaping {input:?}");
        }
    }

    #[test]
    fn help_keeps_quotes_but_escapes_backslash_and_newline() {
        assert_eq!(escaped_help("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");
    }

    #[test]
    fn formats_known_numbers() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (50000.0, "50000"),
            (7.5, "7.5"),
            (123.456789, "123.456789"),
            (0.005, "0.005"),
            (-2.5, "-2.5"),
            (1e-7, "1e-7"),
            (1e15, "1000000000000000"),
            (1e20, "1e20"),
            (1.5e300, "1.5e300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (input, expected) in cases {
            assert_eq!(f64_text(input), expected, "formatting {input:?}");
        }
    }

    proptest! {
        #[test]
        fn label_values_round_trip(s in any::<String>()) {
            let escaped = escaped_value(&s);
            prop_assert!(!escaped.contains('\n'));
            prop_assert_eq!(unescape(&escaped), s);
        }

        #[test]
        fn escaped_label_values_have_no_bare_quote(s in any::<String>()) {
            let escaped = escaped_value(&s);
            let mut backslashes = 0;
            for c in escaped.chars() {
                if c == '"' {
                    prop_assert!(backslashes % 2 == 1, "bare quote in {:?}", escaped);
                }
                backslashes = if c == '\\' { backslashes + 1 } else { 0 };
            }
        }

        #[test]
        fn help_has_no_raw_newline(s in any::<String>()) {
            prop_assert!(!escaped_help(&s).contains('\n'));
        }

        #[test]
        fn numbers_round_trip(v in any::<f64>()) {
            let text = f64_text(v);
            let parsed: f64 = match text.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                other => other.parse().unwrap(),
            };
            prop_assert!(parsed == v || (parsed.is_nan() && v.is_nan()), "{} -> {}", v, text);
        }
    }
}
