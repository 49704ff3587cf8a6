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
        let (fixed, rest) = trim(header.as_bytes()).split_first_chunk::<55>()?;
        let version = [fixed[0], fixed[1]];
        // Version 00 is 55 bytes exactly; a later one may add fields, each after a `-`.
        let ends_right = match rest {
            [] => true,
            [b'-', ..] => version != *b"00",
            _ => false,
        };
        let separated = fixed[2] == b'-' && fixed[35] == b'-' && fixed[52] == b'-';
        // Eight bytes at a time, at fixed places: the ids' words, then the version and the
        // flags padded with `0`s into one word.
        let word = |at: usize| u64::from_le_bytes(fixed[at..at + 8].try_into().unwrap_or_default());
        let trace = [word(3), word(11), word(19), word(27)];
        let span = [word(36), word(44)];
        let edges = u64::from_le_bytes([
            version[0], version[1], fixed[53], fixed[54], b'0', b'0', b'0', b'0',
        ]);
        let words = [
            trace[0], trace[1], trace[2], trace[3], span[0], span[1], edges,
        ];
        let set = |id: &[u64]| id.iter().fold(0, |set, w| set | (w ^ ZEROS)) != 0;
        if !(separated && ends_right && all_lower_hex(words) && version != *b"ff") {
            return None;
        }
        (set(&trace) && set(&span)).then(|| Self {
            trace_id: ascii_bytes(&fixed[3..35]),
            span_id: ascii_bytes(&fixed[36..52]),
        })
    }

    /// The trace of a span known by its ids, as OpenTelemetry keeps them (a trace id of 128
    /// bits, a span id of 64): `None` when either is zero, which W3C Trace Context calls
    /// invalid.
    ///
    /// ```
    /// use dynamo_runtime::TraceParent;
    ///
    /// let parent = TraceParent::from_ids(0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7)
    ///     .expect("valid ids");
    /// assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert_eq!(parent.span_id(), "00f067aa0ba902b7");
    /// assert!(TraceParent::from_ids(0, 1).is_none());
    /// ```
    #[must_use]
    pub fn from_ids(trace_id: u128, span_id: u64) -> Option<Self> {
        (trace_id != 0 && span_id != 0).then(|| Self {
            trace_id: hex_digits(trace_id.to_be_bytes()),
            span_id: hex_digits(span_id.to_be_bytes()),
        })
    }

    /// The trace id: 32 lowercase hex digits.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        ascii(&self.trace_id)
    }

    /// The id of the caller's span (the request's parent span): 16 lowercase hex digits.
    #[must_use]
    pub fn span_id(&self) -> &str {
        ascii(&self.span_id)
    }
}

/// The lowercase hex digits of `bytes`, two a byte, most significant first.
fn hex_digits<const N: usize, const D: usize>(bytes: [u8; N]) -> [u8; D] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0; D];
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    out
}

/// Bytes `parse` or `from_ids` made lowercase hex digits, as text.
#[allow(unsafe_code)]
fn ascii(digits: &[u8]) -> &str {
    debug_assert!(
        digits
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    // SAFETY: a `TraceParent` is made only by `parse`, which keeps only lowercase hex digits
    // (ASCII, so UTF-8) in its ids, and by `from_ids`, which writes only such digits.
    unsafe { std::str::from_utf8_unchecked(digits) }
}

/// Eight `0` digits: the word of an id's stretch of zeros.
const ZEROS: u64 = u64::from_le_bytes(*b"00000000");

/// Each byte's high bit, and a byte `n` in every lane.
const HIGH: u64 = 0x8080_8080_8080_8080;
const fn lanes(n: u8) -> u64 {
    u64::from_le_bytes([n; 8])
}

/// True when each byte of the words is `0`-`9` or `a`-`f`, with no branch: a byte below
/// 0x80 is in `lo..=hi` when adding `0x80 - lo` sets its high bit and adding `0x7f - hi`
/// does not (no lane carries into the next). About ten operations a word.
fn all_lower_hex<const N: usize>(words: [u64; N]) -> bool {
    let (mut any_high, mut hex) = (0, HIGH);
    for word in words {
        any_high |= word;
        let low = word & !HIGH;
        let within = |lo: u8, hi: u8| (low + lanes(0x80 - lo)) & !(low + lanes(0x7f - hi));
        hex &= within(b'0', b'9') | within(b'a', b'f');
    }
    any_high & HIGH == 0 && hex == HIGH
}

/// The bytes of an id the caller checked, in an array of their length.
fn ascii_bytes<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap_or([b'0'; N])
}

/// `bytes` without the spaces and tabs around them.
fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
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
    fn ids_give_the_trace_their_header_gives() {
        for (trace, span) in [
            (
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
            ),
            (1, 1),
            (u128::MAX, u64::MAX),
            (1 << 127, 1 << 63),
        ] {
            let header = format!("00-{trace:032x}-{span:016x}-01");
            assert_eq!(
                TraceParent::from_ids(trace, span),
                TraceParent::parse(&header),
                "{header}"
            );
            assert!(TraceParent::from_ids(trace, span).is_some());
        }
        assert_eq!(TraceParent::from_ids(0, 7), None);
        assert_eq!(TraceParent::from_ids(7, 0), None);
    }

    #[test]
    fn a_header_is_read_exactly_when_each_digit_is_lowercase_hex() {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        // The version, the ids and the flags: every place of a digit, with every byte.
        let digits = (0..2).chain(3..35).chain(36..52).chain(53..55);
        for at in digits {
            for b in 0..=255u8 {
                let mut header = VALID.as_bytes().to_vec();
                header[at] = b;
                let Ok(header) = String::from_utf8(header) else {
                    continue;
                };
                let read = TraceParent::parse(&header);
                assert_eq!(read.is_some(), hex(b), "{header:?}");
            }
        }
    }

    #[test]
    fn a_character_beyond_ascii_is_refused_whatever_its_bytes_look_like() {
        // U+1C30 is E1 B0 B0: without their high bits, the bytes of `a00`.
        let header = VALID.replacen("4bf", "\u{1c30}", 1);
        assert_eq!(header.len(), VALID.len());
        assert_eq!(TraceParent::parse(&header), None, "{header:?}");
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
