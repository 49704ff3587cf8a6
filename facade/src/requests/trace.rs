//! The W3C `traceparent` of a request (`00-<trace id>-<parent id>-<flags>`), read so request
//! tracking can put its trace and span ids beside the request's metrics as exemplars.

/// The trace and span of a request, from its `traceparent` header.
///
/// ```
/// use dynamo_runtime::TraceParent;
///
/// let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///     .expect("a valid traceparent");
/// assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(parent.span_id(), "00f067aa0ba902b7");
/// assert!(TraceParent::parse("not a traceparent").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: [u8; 32],
    span_id: [u8; 16],
}

impl TraceParent {
    /// Reads a `traceparent` value as the W3C Trace Context specification does: `None` for a
    /// malformed one (a wrong length or separator, a character that is not lowercase hex,
    /// version `ff`, an all-zero trace or span id). A version above `00` may carry more
    /// fields after a `-`, which are left unread.
    #[must_use]
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim_matches([' ', '\t']).as_bytes();
        if header.len() < 55 || header[2] != b'-' || header[35] != b'-' || header[52] != b'-' {
            return None;
        }
        let version = &header[..2];
        if !version.iter().all(is_lower_hex) || version == b"ff" {
            return None;
        }
        if version == b"00" && header.len() != 55 {
            return None;
        }
        if header.len() > 55 && header[55] != b'-' {
            return None;
        }
        let field = |range: std::ops::Range<usize>| {
            let bytes = &header[range];
            let valid = bytes.iter().all(is_lower_hex) && bytes.iter().any(|b| *b != b'0');
            valid.then_some(bytes)
        };
        let trace_id = field(3..35)?.try_into().ok()?;
        let span_id = field(36..52)?.try_into().ok()?;
        header[53..55]
            .iter()
            .all(is_lower_hex)
            .then_some(Self { trace_id, span_id })
    }

    /// The trace id: 32 lowercase hex digits.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        std::str::from_utf8(&self.trace_id).expect("hex digits")
    }

    /// The id of the caller's span (the request's parent span): 16 lowercase hex digits.
    #[must_use]
    pub fn span_id(&self) -> &str {
        std::str::from_utf8(&self.span_id).expect("hex digits")
    }
}

fn is_lower_hex(b: &u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_the_ids_of_a_valid_header() {
        let parent = TraceParent::parse(VALID).unwrap();
        assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.span_id(), "00f067aa0ba902b7");
        assert_eq!(TraceParent::parse(&format!(" {VALID}\t")), Some(parent));
        // A later version may add fields.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra";
        assert_eq!(TraceParent::parse(later), Some(parent));
    }

    #[test]
    fn refuses_what_the_specification_refuses() {
        for header in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(header), None, "{header:?}");
        }
    }
}
