//! Resource attributes and `key=value,...` lists (headers and attributes), percent-decoded.

use percent_encoding::percent_decode_str;

/// The `telemetry.sdk.name` this library reports.
pub const SDK_NAME: &str = "dynamo-metrics";

/// Reads `key=value,key2=value2`: whitespace around keys and values is trimmed, both are
/// percent-decoded, empty list items are skipped.
///
/// # Errors
///
/// A message naming the item without `=` or with an empty key, or the part that is not
/// percent-encoded UTF-8.
pub(crate) fn parse_pairs(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in list.split(',') {
        if item.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!(
                "expected key=value pairs separated by commas, found {:?}",
                item.trim()
            ));
        };
        let key = decode(key.trim())?;
        if key.is_empty() {
            return Err(format!("{:?} has an empty key", item.trim()));
        }
        pairs.push((key, decode(value.trim())?));
    }
    Ok(pairs)
}

fn decode(part: &str) -> Result<String, String> {
    let malformed = || format!("{part:?} is not percent-encoded UTF-8");
    // A `%` must start two hex digits; percent_decode_str passes bad ones through as they are.
    let bytes = part.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(malformed());
        }
    }
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| malformed())
}

/// The resource's attributes: the SDK's own (`telemetry.sdk.*`), then `given` in order (a
/// later value of a key replaces an earlier one), then `service.name`: `service_name` when
/// set, else the one given, else `unknown_service:<executable name>` as the specification
/// asks.
pub(crate) fn attributes(
    service_name: Option<&str>,
    given: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![
        ("telemetry.sdk.language".into(), "rust".into()),
        ("telemetry.sdk.name".into(), SDK_NAME.into()),
        (
            "telemetry.sdk.version".into(),
            env!("CARGO_PKG_VERSION").into(),
        ),
    ];
    for (key, value) in given {
        upsert(&mut out, key, value);
    }
    if let Some(name) = service_name {
        upsert(&mut out, "service.name", name);
    } else if !out.iter().any(|(k, _)| k == "service.name") {
        upsert(&mut out, "service.name", &default_service_name());
    }
    out
}

fn upsert(out: &mut Vec<(String, String)>, key: &str, value: &str) {
    match out.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_string(),
        None => out.push((key.to_string(), value.to_string())),
    }
}

/// `unknown_service:<executable name>`, or `unknown_service` when the name is unknown.
fn default_service_name() -> String {
    let executable = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty());
    match executable {
        Some(name) => format!("unknown_service:{name}"),
        None => "unknown_service".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_lists_with_percent_encoding() {
        assert_eq!(
            parse_pairs(" a = 1 ,b=x%2Cy%3Dz,,c=,d=caf%C3%A9").unwrap(),
            pairs(&[("a", "1"), ("b", "x,y=z"), ("c", ""), ("d", "café")])
        );
        assert_eq!(parse_pairs("k=a=b").unwrap(), pairs(&[("k", "a=b")]));
        let cases = [
            (
                "a",
                r#"expected key=value pairs separated by commas, found "a""#,
            ),
            ("=1", r#""=1" has an empty key"#),
            ("a=%", r#""%" is not percent-encoded UTF-8"#),
            ("a=%4", r#""%4" is not percent-encoded UTF-8"#),
            ("a=%ff", r#""%ff" is not percent-encoded UTF-8"#),
            ("a=%G1", r#""%G1" is not percent-encoded UTF-8"#),
        ];
        for (bad, message) in cases {
            assert_eq!(parse_pairs(bad), Err(message.to_string()), "{bad:?}");
        }
    }

    #[test]
    fn service_name_comes_from_the_setting_then_the_attributes_then_the_executable() {
        let sdk = pairs(&[
            ("telemetry.sdk.language", "rust"),
            ("telemetry.sdk.name", SDK_NAME),
            ("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ]);
        let given = pairs(&[("service.name", "from-attrs"), ("k", "1"), ("k", "2")]);
        let mut expected = sdk.clone();
        expected.extend(pairs(&[("service.name", "named"), ("k", "2")]));
        assert_eq!(attributes(Some("named"), &given), expected);
        let mut expected = sdk.clone();
        expected.extend(pairs(&[("service.name", "from-attrs"), ("k", "2")]));
        assert_eq!(attributes(None, &given), expected);
        let unnamed = attributes(None, &[]);
        let service = &unnamed.last().unwrap();
        assert_eq!(service.0, "service.name");
        assert!(service.1.starts_with("unknown_service:"), "{}", service.1);
    }
}
