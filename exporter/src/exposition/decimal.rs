//! Floats of a few decimal places (`7.5`, `0.25`, `-12.125`: halves, quarters, percentages,
//! the usual gauge values) written as fixed-point text from one integer, without the general
//! shortest-digits algorithm.

/// Adding and then subtracting 1.5 * 2^52 rounds a float below 2^51 in magnitude to the
/// nearest integer (ties to even), in two additions and without a call.
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// Appends `v`, a finite float that is not a whole number, as the shortest decimal that reads
/// back as `v` (`ryu`'s text) when that decimal has at most three places and `v` is below 10^9
/// in magnitude; returns false, writing nothing, otherwise.
#[inline]
pub(crate) fn push_short(out: &mut String, v: f64) -> bool {
    // Below 10^9, neighbouring floats lie less than 10^-6 apart, so at most one decimal of each
    // length reads back as `v`: the first length that has one gives the shortest, ryu's.
    if v.abs() >= 1e9 {
        return false;
    }
    for (places, scale) in [(1, 10.0), (2, 100.0), (3, 1000.0)] {
        let whole = (v * scale + ROUNDER) - ROUNDER;
        // `whole / scale` is the float nearest the decimal `whole` * 10^-places, which is how
        // a reader parses that decimal.
        if whole / scale == v {
            push_fixed(out, whole as i64, places);
            return true;
        }
    }
    false
}

/// The two digits of each number below 100.
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Appends `scaled` * 10^-places with exactly `places` (1 to 3) decimals, built right to left
/// in a buffer on the stack (the whole part two digits at a time) and appended in one copy.
#[allow(unsafe_code)]
fn push_fixed(out: &mut String, scaled: i64, places: u32) {
    // A sign, 13 digits (below 10^9 with three decimals) and a point fit in 24 bytes.
    let mut text = [0u8; 24];
    let mut at = text.len();
    let scale = 10u64.pow(places);
    let magnitude = scaled.unsigned_abs();
    let (mut whole, mut decimals) = (magnitude / scale, magnitude % scale);
    for _ in 0..places {
        at -= 1;
        text[at] = b'0' + (decimals % 10) as u8;
        decimals /= 10;
    }
    at -= 1;
    text[at] = b'.';
    while whole >= 100 {
        let pair = (whole % 100) as usize * 2;
        whole /= 100;
        at -= 2;
        text[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if whole >= 10 {
        let pair = whole as usize * 2;
        at -= 2;
        text[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        text[at] = b'0' + whole as u8;
    }
    if scaled < 0 {
        at -= 1;
        text[at] = b'-';
    }
    let text = &text[at..];
    debug_assert!(text.is_ascii());
    // SAFETY: only ASCII digits, `.` and `-` were written.
    unsafe { out.as_mut_vec() }.extend_from_slice(text);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ryu_text(v: f64) -> String {
        ryu::Buffer::new().format_finite(v).to_string()
    }

    fn short(v: f64) -> Option<String> {
        let mut out = String::new();
        push_short(&mut out, v).then_some(out)
    }

    #[test]
    fn writes_few_places_as_ryu_does() {
        for (v, text) in [
            (7.5, Some("7.5")),
            (-0.25, Some("-0.25")),
            (0.001, Some("0.001")),
            (-0.05, Some("-0.05")),
            (123_456_789.125, Some("123456789.125")),
            (0.1 + 0.2, None),
            (0.0005, None),
            (1e9 + 0.5, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
        ] {
            assert_eq!(short(v).as_deref(), text, "{v:?}");
        }
    }

    proptest! {
        #[test]
        fn decimals_of_up_to_six_places_match_ryu(
            n in -10_000_000_000_000i64..10_000_000_000_000,
            places in 0u32..7,
        ) {
            let v = n as f64 / 10f64.powi(places as i32);
            if v.fract() != 0.0 {
                if let Some(text) = short(v) {
                    prop_assert_eq!(text, ryu_text(v));
                }
            }
        }

        #[test]
        fn any_float_it_writes_matches_ryu(v in any::<f64>()) {
            if v.is_finite() && v.fract() != 0.0 {
                if let Some(text) = short(v) {
                    prop_assert_eq!(text, ryu_text(v));
                }
            }
        }

        #[test]
        fn three_places_below_a_billion_are_always_written(
            n in -999_999_999_999i64..999_999_999_999,
        ) {
            let v = n as f64 / 1000.0;
            prop_assume!(v.fract() != 0.0);
            prop_assert_eq!(short(v), Some(ryu_text(v)));
        }
    }
}
