//! The query of a `/metrics` request: `name[]` parameters restrict the page to those families.
//!
//! Keys and values are form-encoded (`+` for a space, `%XX` for a byte), so `name%5B%5D` is
//! `name[]`; other keys are ignored, and a `%` not followed by two hex digits stays as it is.
//! Bounds keep a request's cost small: a query of at most [`MAX_QUERY_LEN`] bytes and at most
//! [`MAX_NAMES`] `name[]` parameters.

use std::borrow::Cow;

use http::StatusCode;
use percent_encoding::percent_decode;

use crate::exposition::NameFilter;

/// The longest query `/metrics` reads, in bytes; a longer one is answered `414`.
pub(super) const MAX_QUERY_LEN: usize = 8 * 1024;
/// The most `name[]` parameters `/metrics` reads; more are answered `400`.
pub(super) const MAX_NAMES: usize = 128;

/// The key that names a family to serve.
const NAME_KEY: &[u8] = b"name[]";

/// Why a `/metrics` query is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QueryError {
    /// Longer than [`MAX_QUERY_LEN`]: 414.
    TooLong,
    /// More than [`MAX_NAMES`] `name[]` parameters: 400.
    TooManyNames,
    /// A `name[]` value that is not UTF-8 once decoded: 400.
    NotUtf8,
}

impl QueryError {
    pub(super) fn status(self) -> StatusCode {
        match self {
            Self::TooLong => StatusCode::URI_TOO_LONG,
            Self::TooManyNames | Self::NotUtf8 => StatusCode::BAD_REQUEST,
        }
    }

    pub(super) fn message(self) -> &'static str {
        match self {
            Self::TooLong => "the query is longer than 8192 bytes\n",
            Self::TooManyNames => "a request may have at most 128 name[] parameters\n",
            Self::NotUtf8 => "a name[] value is not UTF-8 once percent-decoded\n",
        }
    }
}

/// The families a `/metrics` query asks for: `None` without a `name[]` parameter (the whole
/// page), else the names given (an empty value names nothing).
pub(super) fn name_filter(query: Option<&str>) -> Result<Option<NameFilter>, QueryError> {
    let Some(query) = query else {
        return Ok(None);
    };
    if query.len() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong);
    }
    let mut names = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key).as_ref() != NAME_KEY {
            continue;
        }
        if names.len() == MAX_NAMES {
            return Err(QueryError::TooManyNames);
        }
        let name =
            String::from_utf8(decode(value).into_owned()).map_err(|_| QueryError::NotUtf8)?;
        names.push(name);
    }
    Ok((!names.is_empty()).then(|| NameFilter::new(names)))
}

/// The bytes of a form-encoded key or value.
fn decode(text: &str) -> Cow<'_, [u8]> {
    if text.contains('+') {
        Cow::Owned(percent_decode(text.replace('+', " ").as_bytes()).collect())
    } else {
        percent_decode(text.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(query: &str) -> Result<Option<NameFilter>, QueryError> {
        name_filter(Some(query))
    }

    fn filter(names: &[&str]) -> Option<NameFilter> {
        Some(NameFilter::new(names.iter().copied()))
    }

    #[test]
    fn reads_name_parameters_in_any_encoding() {
        assert_eq!(name_filter(None), Ok(None));
        let cases: &[(&str, Option<NameFilter>)] = &[
            ("", None),
            ("a=b&name=up", None),
            ("name[]=up", filter(&["up"])),
            ("name%5B%5D=up&name%5b%5d=down", filter(&["up", "down"])),
            (
                "name[]=up&name[]=up&x=1&name[]=rpc_seconds",
                filter(&["up", "rpc_seconds"]),
            ),
            (
                "name[]=a%3Ab&name[]=with+space%2B",
                filter(&["a:b", "with space+"]),
            ),
            ("name[]=&name[]", filter(&[""])),
            ("name[]=bad%zz%", filter(&["bad%zz%"])),
            ("&&name[]=up&", filter(&["up"])),
            ("name[]=a=b", filter(&["a=b"])),
        ];
        for (query, expected) in cases {
            assert_eq!(names(query).as_ref(), Ok(expected), "{query:?}");
        }
    }

    #[test]
    fn refuses_long_queries_many_names_and_bytes_that_are_not_utf8() {
        let at_most = vec!["name[]=a"; MAX_NAMES].join("&");
        assert_eq!(names(&at_most), Ok(filter(&["a"])));
        assert_eq!(
            names(&format!("{at_most}&name[]=b")),
            Err(QueryError::TooManyNames)
        );
        let longest = format!("x={}", "a".repeat(MAX_QUERY_LEN - 2));
        assert_eq!(names(&longest), Ok(None));
        assert_eq!(names(&format!("{longest}a")), Err(QueryError::TooLong));
        assert_eq!(names("name[]=%FF"), Err(QueryError::NotUtf8));
        assert_eq!(names("other=%FF&name[]=up"), Ok(filter(&["up"])));
    }

    #[test]
    fn messages_state_the_bounds() {
        assert!(
            QueryError::TooLong
                .message()
                .contains(&MAX_QUERY_LEN.to_string())
        );
        assert!(
            QueryError::TooManyNames
                .message()
                .contains(&MAX_NAMES.to_string())
        );
    }
}
