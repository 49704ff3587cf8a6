//! The choice of a [`Format`] by a client's `Accept` header (RFC 9110 media ranges with
//! their parameters and qualities).

use super::Format;

impl Format {
    /// The format to answer a request with: among `offered`, the one `accept` (an `Accept`
    /// header) gives the highest quality, the first offered on a tie; the first offered when
    /// there is no header or it accepts none of them (a scraper that cannot read it will say
    /// so, while one that sent an odd header still gets a page).
    ///
    /// ```
    /// use dynamo_exporter::exposition::Format;
    ///
    /// let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::negotiate(Some(prometheus), Format::DEFAULT), Format::Text);
    /// assert_eq!(Format::negotiate(Some(prometheus), Format::ALL), Format::OpenMetrics);
    /// assert_eq!(Format::negotiate(None, Format::ALL), Format::Text);
    /// ```
    #[must_use]
    pub fn negotiate(accept: Option<&str>, offered: &[Format]) -> Format {
        let first = offered.first().copied().unwrap_or(Format::Text);
        let Some(accept) = accept else {
            return first;
        };
        let ranges: Vec<MediaRange<'_>> = accept.split(',').filter_map(MediaRange::parse).collect();
        let mut best: Option<(Format, f32)> = None;
        for format in offered {
            let quality = format.quality(&ranges);
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((*format, quality));
            }
        }
        best.map_or(first, |(format, _)| format)
    }

    /// The quality `ranges` give this format: that of the most specific range that matches
    /// it, 0 when none does.
    fn quality(self, ranges: &[MediaRange<'_>]) -> f32 {
        let (media, params) = self.media();
        let (kind, subtype) = media.split_once('/').unwrap_or((media, ""));
        ranges
            .iter()
            .filter_map(|range| {
                let specificity = range.matches(kind, subtype, params)?;
                Some((specificity, range.quality))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(0.0, |(_, quality)| quality)
    }
}

/// One media range of an `Accept` header: `type/subtype;param=value;q=0.5`.
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    params: Vec<(&'a str, &'a str)>,
    quality: f32,
}

impl<'a> MediaRange<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let media = parts.next()?.trim();
        let (kind, subtype) = media.split_once('/')?;
        let mut range = Self {
            kind: kind.trim(),
            subtype: subtype.trim(),
            params: Vec::new(),
            quality: 1.0,
        };
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim().trim_matches('"'));
            if name.eq_ignore_ascii_case("q") {
                range.quality = value
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))?;
            } else {
                range.params.push((name, value));
            }
        }
        Some(range)
    }

    /// How specifically this range names a format of `kind/subtype` with `params` (higher is
    /// more specific), or `None` when it does not name it.
    fn matches(&self, kind: &str, subtype: &str, params: &[(&str, &str)]) -> Option<u8> {
        if self.kind == "*" {
            return (self.subtype == "*").then_some(0);
        }
        if !self.kind.eq_ignore_ascii_case(kind) {
            return None;
        }
        if self.subtype == "*" {
            return Some(1);
        }
        if !self.subtype.eq_ignore_ascii_case(subtype) {
            return None;
        }
        let agree = self.params.iter().all(|(name, value)| {
            params
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.eq_ignore_ascii_case(value))
        });
        agree.then_some(if self.params.is_empty() { 2 } else { 3 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of Prometheus 2.42 with native histograms on: protobuf first.
    const PROMETHEUS_NATIVE_HISTOGRAMS: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn protobuf_is_chosen_only_when_asked_for() {
        assert_eq!(
            Format::negotiate(Some(PROMETHEUS_NATIVE_HISTOGRAMS), Format::ALL),
            Format::Protobuf
        );
        assert_eq!(Format::ALL.first(), Some(&Format::Text));
        // Offered text only, a server answers text whatever the client prefers.
        assert_eq!(
            Format::negotiate(Some(PROMETHEUS_NATIVE_HISTOGRAMS), &[Format::Text]),
            Format::Text
        );
        let protobuf = Format::Protobuf.media();
        let range = MediaRange::parse(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
        )
        .unwrap();
        let (kind, subtype) = protobuf.0.split_once('/').unwrap();
        assert_eq!(range.matches(kind, subtype, protobuf.1), Some(3));
        assert_eq!(
            MediaRange::parse("application/vnd.google.protobuf;encoding=text")
                .unwrap()
                .matches(kind, subtype, protobuf.1),
            None
        );
    }

    #[test]
    fn chooses_by_quality_then_specificity_and_falls_back_to_the_first_offered() {
        let cases = [
            (None, Format::Text),
            (Some(""), Format::Text),
            (Some("text/plain"), Format::Text),
            (
                Some("text/plain; version=0.0.4; charset=utf-8"),
                Format::Text,
            ),
            (Some("text/*;q=0.3"), Format::Text),
            (Some("*/*"), Format::Text),
            (Some("application/json"), Format::Text),
            (Some("text/plain;version=1.0.0"), Format::Text),
            (Some("text/plain;q=0"), Format::Text),
            (Some("text/plain;q=bogus, */*;q=0.1"), Format::Text),
            (
                Some(
                    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                ),
                Format::Text,
            ),
            (Some(PROMETHEUS_NATIVE_HISTOGRAMS), Format::Protobuf),
            (
                Some(
                    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
                ),
                Format::Protobuf,
            ),
            (Some("application/vnd.google.protobuf"), Format::Protobuf),
            (
                Some(
                    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
                ),
                Format::Text,
            ),
            (
                Some("application/vnd.google.protobuf;q=0.4,text/plain;q=0.5"),
                Format::Text,
            ),
            (
                Some("application/vnd.google.protobuf;q=0.2,*/*;q=0.1"),
                Format::Protobuf,
            ),
            (Some("application/*"), Format::Protobuf),
        ];
        for (accept, expected) in cases {
            assert_eq!(
                Format::negotiate(accept, Format::DEFAULT),
                expected,
                "{accept:?}"
            );
        }
    }

    #[test]
    fn openmetrics_is_chosen_only_when_offered_and_asked_for() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let cases = [
            (Some(prometheus), Format::OpenMetrics),
            (Some(PROMETHEUS_NATIVE_HISTOGRAMS), Format::Protobuf),
            (
                Some("application/openmetrics-text;version=1.0.0"),
                Format::OpenMetrics,
            ),
            (
                Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                Format::OpenMetrics,
            ),
            (Some("application/openmetrics-text"), Format::OpenMetrics),
            (
                Some("application/openmetrics-text;version=0.0.1"),
                Format::Text,
            ),
            (
                Some("application/openmetrics-text;q=0.4,text/plain;q=0.5"),
                Format::Text,
            ),
            (None, Format::Text),
            (Some("*/*"), Format::Text),
            (Some("text/plain;version=0.0.4"), Format::Text),
        ];
        for (accept, expected) in cases {
            assert_eq!(
                Format::negotiate(accept, Format::ALL),
                expected,
                "{accept:?}"
            );
            let off = Format::negotiate(accept, Format::offered(false));
            assert_ne!(off, Format::OpenMetrics, "{accept:?}");
        }
        assert_eq!(Format::offered(false), Format::DEFAULT);
        assert_eq!(Format::offered(true), Format::ALL);
    }

    #[test]
    fn a_range_names_a_format_only_with_its_parameters() {
        let range = |text| MediaRange::parse(text).unwrap();
        let text = ("text", "plain", &[("version", "0.0.4")][..]);
        let specificity = |r: &MediaRange<'_>| r.matches(text.0, text.1, text.2);
        assert_eq!(specificity(&range("*/*")), Some(0));
        assert_eq!(specificity(&range("TEXT/*")), Some(1));
        assert_eq!(specificity(&range("text/plain")), Some(2));
        assert_eq!(specificity(&range("text/plain;version=\"0.0.4\"")), Some(3));
        assert_eq!(specificity(&range("text/plain;version=1.0.0")), None);
        assert_eq!(specificity(&range("text/html")), None);
        assert_eq!(specificity(&range("*/plain")), None);
        assert_eq!(range("text/plain;q=0.25").quality, 0.25);
        assert!(
            MediaRange::parse("text/plain;q=2").is_none(),
            "a quality past 1 is no range"
        );
    }
}
