//! Checking the text of exposition callbacks before it joins the page.
//!
//! A callback's text is parsed strictly ([`dynamo_exporter::parse`]). It is left off the page
//! for this scrape when a line does not parse (a second `# TYPE` for a family among them), or
//! when one of its families or sample names is already on the page: from the registry or
//! from an earlier callback. Either would make the whole page invalid, and Prometheus would
//! drop the whole scrape. What joins the page is the parsed text written again, so only text
//! that parsed can reach it. Each drop is counted in
//! `dynamo_metrics_callback_text_dropped_total{reason}` and logged, at most once a minute
//! with the count of drops since the last message.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dynamo_exporter::parse::{self, Family};
use dynamo_exporter::{IntCounter, IntCounterVec, fork};
use parking_lot::Mutex;

use crate::prometheus_names::self_metrics;

/// The shortest time between two log messages about dropped text.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Why a callback's text was left off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// A line does not parse.
    Invalid,
    /// A family or sample name is already on the page.
    Conflict,
}

struct LogState {
    last: Option<Instant>,
    since_last: u64,
}

/// The checks of one runtime, with its drop counters.
pub(crate) struct TextCheck {
    invalid: IntCounter,
    conflict: IntCounter,
    log: Mutex<LogState>,
}

impl TextCheck {
    pub(crate) fn new(dropped: &IntCounterVec) -> Self {
        Self {
            invalid: dropped
                .with_label_values(&[self_metrics::DROP_REASON_INVALID])
                .clone(),
            conflict: dropped
                .with_label_values(&[self_metrics::DROP_REASON_CONFLICT])
                .clone(),
            log: Mutex::new(LogState {
                last: None,
                since_last: 0,
            }),
        }
    }

    /// Appends to `page` the text of each callback (in order) that parses and adds no name
    /// already on the page.
    pub(crate) fn append(&self, page: &mut String, texts: &[String]) {
        if texts.is_empty() {
            return;
        }
        let mut taken: HashSet<String> = HashSet::new();
        for (name, kind) in parse::declared_families(page) {
            taken.insert(name.to_string());
            taken.extend(parse::sample_names(name, kind));
        }
        parse::render_into(&self.accepted(taken, texts), page);
    }

    /// The families of each callback text (in order) that parses and adds no name in
    /// `taken` (the names already exported, from the registry or an earlier text).
    pub(crate) fn accepted(&self, mut taken: HashSet<String>, texts: &[String]) -> Vec<Family> {
        let mut accepted = Vec::new();
        for text in texts {
            match parse::parse(text) {
                Err(error) => self.dropped(Reason::Invalid, &error.to_string()),
                Ok(families) => match clash(&families, &taken) {
                    Some(name) => {
                        self.dropped(Reason::Conflict, &format!("{name} is already on the page"));
                    }
                    None => {
                        for family in &families {
                            taken.insert(family.name.clone());
                            taken.extend(parse::sample_names(&family.name, family.kind));
                            taken.extend(family.samples.iter().map(|s| s.name.clone()));
                        }
                        accepted.extend(families);
                    }
                },
            }
        }
        accepted
    }

    fn dropped(&self, why: Reason, detail: &str) {
        match why {
            Reason::Invalid => self.invalid.inc(),
            Reason::Conflict => self.conflict.inc(),
        }
        let suppressed = {
            let _section = fork::enter();
            let mut log = self.log.lock();
            log.since_last += 1;
            if log.last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
                return;
            }
            log.last = Some(Instant::now());
            std::mem::take(&mut log.since_last) - 1
        };
        tracing::warn!(
            reason = ?why,
            detail,
            dropped_since_last_message = suppressed,
            "an exposition callback's text was left off the page for this scrape"
        );
    }
}

/// The first family or sample name of `families` already in `taken`, if any.
fn clash<'a>(families: &'a [Family], taken: &HashSet<String>) -> Option<&'a str> {
    for family in families {
        if taken.contains(&family.name) {
            return Some(&family.name);
        }
        let own = parse::sample_names(&family.name, family.kind);
        if own.iter().any(|name| taken.contains(name)) {
            return Some(&family.name);
        }
        if let Some(sample) = family.samples.iter().find(|s| taken.contains(&s.name)) {
            return Some(&sample.name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use dynamo_exporter::{Opts, Registry};

    use super::*;

    fn check() -> (TextCheck, IntCounterVec, Registry) {
        let registry = Registry::new();
        let dropped = registry
            .int_counter_vec(
                &Opts::new(self_metrics::CALLBACK_TEXT_DROPPED_TOTAL, "Dropped"),
                &[self_metrics::DROP_REASON_LABEL],
            )
            .unwrap();
        (TextCheck::new(&dropped), dropped, registry)
    }

    #[test]
    fn only_text_that_parses_and_adds_new_names_joins_the_page() {
        let (check, dropped, _registry) = check();
        let mut page = concat!(
            "# HELP h Latency\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"+Inf\"} 1\n",
            "h_sum 1\n",
            "h_count 1\n",
        )
        .to_string();
        let before = page.clone();
        let texts = [
            "# TYPE good gauge\ngood 1".to_string(),
            "# TYPE h gauge\nh 2\n".to_string(),
            "h_count 3\n".to_string(),
            "# TYPE x gauge\n# TYPE x gauge\nx 1\n".to_string(),
            "not exposition text at all\n".to_string(),
            "good 5\n".to_string(),
            "# HELP also_good Fine\nalso_good{a=\"b\"} 2\n".to_string(),
        ];
        check.append(&mut page, &texts);
        assert_eq!(
            page,
            before
                + concat!(
                    "# TYPE good gauge\n",
                    "good 1\n",
                    "# HELP also_good Fine\n",
                    "# TYPE also_good untyped\n",
                    "also_good{a=\"b\"} 2\n",
                )
        );
        assert_eq!(dropped.with_label_values(&["conflict"]).get(), 3);
        assert_eq!(dropped.with_label_values(&["invalid"]).get(), 2);
    }
}
