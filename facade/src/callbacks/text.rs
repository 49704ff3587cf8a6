//! Checking the text of exposition callbacks and engine sources before it joins the page.
//!
//! A callback's text is parsed strictly ([`dynamo_exporter::parse`]). An engine's text is
//! then filtered by family name and given its labels (the level's hierarchy labels and the
//! filter's); every text gets the registry's constant labels. A label is only added to a
//! sample that lacks it: the text's own labels win, then the engine's, then the constant ones.
//! The text is left off the page for this scrape when a line does not parse (a second
//! `# TYPE` for a family among them), when one of its families or sample names is already on
//! the page (from the registry or from an earlier text), or when adding labels makes two of
//! its series the same. Each would make the whole page invalid, and Prometheus would drop the
//! whole scrape. A text longer than the runtime's limit (`DYN_METRICS_MAX_CALLBACK_TEXT_BYTES`)
//! never gets here: it was dropped when its call returned, and only its size is left. What
//! joins the page is the parsed families, handed to the page's encoder as the registry's are,
//! so only text that parsed can reach it, in any format. Each drop is counted in
//! `dynamo_metrics_callback_text_dropped_total{reason}` (`invalid`, `conflict`, `too_large`)
//! and logged, at most once a minute with the count of drops since the last message.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynamo_exporter::parse::{self, Family};
use dynamo_exporter::{IntCounter, IntCounterVec, fork};
use parking_lot::Mutex;

use crate::callbacks::{CallbackText, Returned};
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
    /// The text is longer than the limit.
    TooLarge,
}

struct LogState {
    last: Option<Instant>,
    since_last: u64,
}

/// The checks of one runtime, with its drop counters.
pub(crate) struct TextCheck {
    invalid: IntCounter,
    conflict: IntCounter,
    too_large: IntCounter,
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
            too_large: dropped
                .with_label_values(&[self_metrics::DROP_REASON_TOO_LARGE])
                .clone(),
            log: Mutex::new(LogState {
                last: None,
                since_last: 0,
            }),
        }
    }

    /// The families of the texts (in order) that may join a page whose families and sample
    /// names are `taken` (the registry's, [`dynamo_exporter::Shown::taken_names`]): each text
    /// parsed, filtered and labelled, and left out whole when it does not parse or would
    /// repeat a name of the page, of an earlier text, or one of its own series.
    pub(crate) fn accepted(
        &self,
        mut taken: HashSet<String>,
        texts: Vec<CallbackText>,
        const_labels: &[(String, String)],
    ) -> Vec<Labelled> {
        let mut accepted = Vec::new();
        for text in texts {
            // Families made without text have each series once; text may repeat one with its
            // labels in another order, which the parser lets through.
            let distinct = matches!(text.text, Returned::Families(_));
            let parsed = match text.text {
                Returned::Text(text) => parse::parse(&text),
                Returned::Families(families) => {
                    Ok(Arc::try_unwrap(families).unwrap_or_else(|shared| Vec::clone(&shared)))
                }
                Returned::TooLarge { bytes, limit } => {
                    self.dropped(
                        Reason::TooLarge,
                        &format!(
                            "{bytes} bytes, longer than the limit of {limit} \
                             (DYN_METRICS_MAX_CALLBACK_TEXT_BYTES)"
                        ),
                    );
                    continue;
                }
            };
            let mut families = match parsed {
                Err(error) => {
                    self.dropped(Reason::Invalid, &error.to_string());
                    continue;
                }
                Ok(families) => families,
            };
            let added = match &text.engine {
                Some(engine) => {
                    families.retain(|family| engine.filter.keeps(&family.name));
                    with_fallback(&engine.labels, const_labels)
                }
                None => sorted(const_labels),
            };
            if let Err(series) = add_labels(&mut families, &added, distinct) {
                self.dropped(
                    Reason::Conflict,
                    &format!("series {series} appears twice once labels are added"),
                );
                continue;
            }
            if let Some(name) = clash(&families, &taken) {
                self.dropped(Reason::Conflict, &format!("{name} is already on the page"));
                continue;
            }
            for family in &families {
                taken.insert(family.name.clone());
                let own = family.kind.sample_names(&family.name);
                let names = family.samples.iter().map(|s| &s.name);
                for name in names.chain(family.sets.iter().map(|set| &set.name)) {
                    if !own.contains(name) {
                        taken.insert(name.clone());
                    }
                }
                taken.extend(own);
            }
            accepted.push(Labelled {
                families,
                labels: added,
            });
        }
        accepted
    }

    fn dropped(&self, why: Reason, detail: &str) {
        match why {
            Reason::Invalid => self.invalid.inc(),
            Reason::Conflict => self.conflict.inc(),
            Reason::TooLarge => self.too_large.inc(),
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

/// The families of one text and the labels it gets: each pair goes to every sample without a
/// label of its name, when the families are encoded
/// ([`dynamo_exporter::exposition::encode_parsed_with_labels`]). The samples of families
/// whose series had to be checked for repeats hold them already.
pub(crate) struct Labelled {
    pub(crate) families: Vec<Family>,
    /// Sorted by name.
    pub(crate) labels: Vec<(String, String)>,
}

/// `first` and the pairs of `then` whose names `first` lacks, sorted by name.
fn with_fallback(first: &[(String, String)], then: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = first.to_vec();
    out.extend(
        then.iter()
            .filter(|(name, _)| !first.iter().any(|(n, _)| n == name))
            .cloned(),
    );
    out.sort();
    out
}

fn sorted(labels: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = labels.to_vec();
    out.sort();
    out
}

/// Adds each pair of `added` to every sample that has no label of its name (encoders sort a
/// series' labels). Fails with the first series that then appears twice in its family.
///
/// When the family's series are `distinct` (each once, whatever the order of its labels) and
/// none has a label of those added, every series gets the same pairs and they stay distinct:
/// the check is left out, and so is the copy, the encoder adding the pairs as it writes each
/// series.
fn add_labels(
    families: &mut [Family],
    added: &[(String, String)],
    distinct: bool,
) -> Result<(), String> {
    if added.is_empty() {
        return Ok(());
    }
    let names_once = added.windows(2).all(|pair| pair[0].0 != pair[1].0);
    for family in families.iter_mut() {
        let is_added = |name: &String| added.iter().any(|(n, _)| n == name);
        let untouched = distinct
            && family
                .samples
                .iter()
                .all(|sample| !sample.labels.iter().any(|(name, _)| is_added(name)))
            && family.sets.iter().all(|set| {
                !is_added(&set.label) && !set.labels.iter().any(|(name, _)| is_added(name))
            });
        if untouched && names_once {
            continue;
        }
        family.expand_sets();
        let mut seen: HashSet<(String, Vec<(String, String)>)> = HashSet::new();
        for sample in &mut family.samples {
            let missing: Vec<(String, String)> = added
                .iter()
                .filter(|(name, _)| !sample.labels.iter().any(|(n, _)| n == name))
                .cloned()
                .collect();
            sample.labels.extend(missing);
            let mut key = sample.labels.clone();
            key.sort();
            if !seen.insert((sample.name.clone(), key)) {
                return Err(format!("{}{{{}}}", sample.name, selector(&sample.labels)));
            }
        }
    }
    Ok(())
}

/// `a="1",b="2"`, for messages.
fn selector(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The first family or sample name of `families` already in `taken`, if any.
fn clash<'a>(families: &'a [Family], taken: &HashSet<String>) -> Option<&'a str> {
    for family in families {
        if taken.contains(&family.name) {
            return Some(&family.name);
        }
        let own = family.kind.sample_names(&family.name);
        if own.iter().any(|name| taken.contains(name)) {
            return Some(&family.name);
        }
        // Samples named as the family's type names them were looked up just above.
        let names = family.samples.iter().map(|s| &s.name);
        if let Some(name) = names
            .chain(family.sets.iter().map(|set| &set.name))
            .find(|name| !own.contains(name) && taken.contains(*name))
        {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dynamo_exporter::exposition::encode_parsed_with_labels;
    use dynamo_exporter::{MetricKind, Opts, Registry, TextEncoder};

    use super::*;

    fn plain(texts: &[&str]) -> Vec<CallbackText> {
        texts
            .iter()
            .map(|text| CallbackText {
                text: Returned::Text((*text).to_string()),
                engine: None,
            })
            .collect()
    }

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

    /// The text the accepted families add to a page.
    fn text_of(accepted: &[Labelled]) -> String {
        let mut page = String::new();
        for one in accepted {
            encode_parsed_with_labels(&one.families, &one.labels, &mut TextEncoder::new(&mut page));
        }
        page
    }

    #[test]
    fn only_text_that_parses_and_adds_new_names_joins_the_page() {
        let (check, dropped, _registry) = check();
        let mut taken: HashSet<String> = MetricKind::Histogram
            .sample_names("h")
            .into_iter()
            .collect();
        taken.insert("h".into());
        let texts = plain(&[
            "# TYPE good gauge\ngood 1",
            "# TYPE h gauge\nh 2\n",
            "h_count 3\n",
            "# TYPE x gauge\n# TYPE x gauge\nx 1\n",
            "not exposition text at all\n",
            "good 5\n",
            "# HELP also_good Fine\nalso_good{a=\"b\"} 2\n",
        ]);
        let families = check.accepted(taken, texts, &[]);
        assert_eq!(
            text_of(&families),
            concat!(
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

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn added_labels_never_go_over_a_samples_own_and_le_and_quantile_come_last() {
        let (check, dropped, _registry) = check();
        let engine = crate::engine::EnginePass::new(
            &crate::EngineSource::new(|| Ok::<_, String>(String::new())),
            crate::EngineFilter::new()
                .with_exclude_prefix("skip")
                .with_label("model", "engine")
                .with_label("zone", "engine"),
            &[("dynamo_namespace", "ns".to_string())],
        )
        .unwrap();
        let texts = vec![CallbackText {
            text: Returned::Text(
                concat!(
                    "# TYPE rpc summary\n",
                    "rpc{quantile=\"0.5\"} 1\n",
                    "rpc_sum{model=\"own\"} 2\n",
                    "rpc_count 3\n",
                    "# TYPE h histogram\n",
                    "h_bucket{le=\"+Inf\",zone=\"own\"} 1\n",
                    "h_sum 1\n",
                    "h_count 1\n",
                    "skipped 1\n",
                )
                .into(),
            ),
            engine: Some(Arc::new(engine)),
        }];
        let families = check.accepted(
            HashSet::new(),
            texts,
            &pairs(&[("cluster", "fleet"), ("model", "fleet")]),
        );
        assert_eq!(
            text_of(&families),
            concat!(
                "# TYPE rpc summary\n",
                "rpc{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"engine\",zone=\"engine\",quantile=\"0.5\"} 1\n",
                "rpc_count{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"engine\",zone=\"engine\"} 3\n",
                "rpc_sum{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"own\",zone=\"engine\"} 2\n",
                "# TYPE h histogram\n",
                "h_bucket{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"engine\",zone=\"engine\",le=\"+Inf\"} 1\n",
                "h_sum{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"engine\",zone=\"engine\"} 1\n",
                "h_count{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"engine\",zone=\"engine\"} 1\n",
                "h_bucket{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"engine\",zone=\"own\",le=\"+Inf\"} 1\n",
                "h_count{cluster=\"fleet\",dynamo_namespace=\"ns\",model=\"engine\",zone=\"own\"} 1\n",
            )
        );
        assert_eq!(dropped.with_label_values(&["conflict"]).get(), 0);
        assert_eq!(dropped.with_label_values(&["invalid"]).get(), 0);
    }

    #[test]
    fn samples_of_sets_keep_their_own_labels_and_repeats_once_labelled_are_refused() {
        let gauge = |plain: &str, engine_pid: &str| {
            let mut families = parse::parse(plain).unwrap();
            families[0].sets.push(parse::SampleSet {
                name: "g".into(),
                labels: pairs(&[("model", "own")]),
                label: "pid".into(),
                values: vec![(Arc::from("1"), 1.0), (Arc::from("2"), 2.0)],
            });
            let engine = crate::engine::EnginePass::new(
                &crate::EngineSource::new(|| Ok::<_, String>(String::new())),
                crate::EngineFilter::new()
                    .with_label("pid", engine_pid)
                    .with_label("model", "engine"),
                &[],
            )
            .unwrap();
            vec![CallbackText {
                text: Returned::Families(Arc::new(families)),
                engine: Some(Arc::new(engine)),
            }]
        };
        let (check, dropped, _registry) = check();
        let families = check.accepted(
            HashSet::new(),
            gauge("# TYPE g gauge\ng{zone=\"a\"} 3\n", "engine"),
            &[],
        );
        assert_eq!(
            text_of(&families),
            concat!(
                "# TYPE g gauge\n",
                "g{model=\"engine\",pid=\"engine\",zone=\"a\"} 3\n",
                "g{model=\"own\",pid=\"1\"} 1\n",
                "g{model=\"own\",pid=\"2\"} 2\n",
            )
        );
        // Labelled, the plain sample would be the set's sample of pid 1.
        let families = check.accepted(
            HashSet::new(),
            gauge("# TYPE g gauge\ng{model=\"own\"} 3\n", "1"),
            &[],
        );
        assert!(families.is_empty());
        assert_eq!(dropped.with_label_values(&["conflict"]).get(), 1);
    }
}
