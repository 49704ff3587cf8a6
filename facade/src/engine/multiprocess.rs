//! Reading a `prometheus_client` multiprocess directory (`PROMETHEUS_MULTIPROC_DIR`) and
//! merging its files as `prometheus_client.multiprocess.MultiProcessCollector` does.
//!
//! Each process of a `prometheus_client` application in multiprocess mode writes its values to
//! files of the directory: `counter_<pid>.db`, `histogram_<pid>.db`, `summary_<pid>.db` and
//! `gauge_<mode>_<pid>.db`, one per gauge `multiprocess_mode`. A file starts with the number
//! of its bytes in use (a native-endian `i32`) and 4 bytes of padding; then come entries, each
//! a key length (`i32`), the key (UTF-8 JSON `[metric name, sample name, labels, help]`)
//! padded with spaces to 8-byte alignment, and two `f64`: the value and a timestamp.
//!
//! The merge follows `MultiProcessCollector`: counters, summaries and histograms summed over
//! the processes, histogram buckets made cumulative with `_count` their total; gauges by their
//! mode: `all` and `liveall` one series per process with a `pid` label, `min`, `max`, `sum`
//! and `mostrecent` (and their `live` variants) one series without it. Unlike it, files of
//! `live*` gauges whose process is gone (no `/proc/<pid>`, or a zombie) are left out without
//! waiting for `mark_process_dead`.
//!
//! A file that cannot be read (gone since the directory was listed, say) is skipped; one that
//! does not hold together (cut short, being written, corrupt) is read up to its last whole
//! entry; one whose name is not one of the above is skipped. Each is reported to the caller,
//! which logs and counts it; the others are merged as usual.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file was skipped or read only in part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// It could not be opened or read (gone since the directory was listed, or forbidden).
    Unreadable,
    /// It does not hold together: read up to its last whole entry.
    Corrupt,
    /// Its name is not one `prometheus_client` gives its files.
    Unrecognized,
}

impl Skip {
    /// The value of the self-metric's `reason` label.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Unreadable => crate::prometheus_names::self_metrics::MULTIPROCESS_UNREADABLE,
            Self::Corrupt => crate::prometheus_names::self_metrics::MULTIPROCESS_CORRUPT,
            Self::Unrecognized => crate::prometheus_names::self_metrics::MULTIPROCESS_UNRECOGNIZED,
        }
    }
}

/// A file skipped or read in part, and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub(crate) file: PathBuf,
    pub(crate) why: Skip,
    pub(crate) detail: String,
}

/// The merged text of a directory, and the files skipped or read in part.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    pub(crate) text: String,
    pub(crate) skipped: Vec<Skipped>,
}

/// One entry of a file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Entry<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: f64,
    pub(crate) timestamp: f64,
}

/// The whole entries of a file's bytes, and what is wrong with the rest when the bytes do not
/// hold together: they stop short of the length in use, or an entry runs past it.
pub(crate) fn entries(data: &[u8]) -> (Vec<Entry<'_>>, Option<String>) {
    let mut found = Vec::new();
    let Some(used) = int_at(data, 0) else {
        return (
            found,
            Some(format!("{} bytes, shorter than the header", data.len())),
        );
    };
    // A file just made holds zeros until its writer sets the length.
    if used == 0 {
        return (found, None);
    }
    let Ok(used) = usize::try_from(used) else {
        return (found, Some(format!("negative length in use ({used})")));
    };
    let end = used.min(data.len());
    let mut problem =
        (used > data.len()).then(|| format!("{} bytes, fewer than the {used} in use", data.len()));
    let mut pos = 8;
    while pos < end {
        let Some(len) = int_at(&data[..end], pos).and_then(|n| usize::try_from(n).ok()) else {
            problem.get_or_insert_with(|| format!("entry at byte {pos} has no valid key length"));
            break;
        };
        let key_start = pos + 4;
        let value_at = key_start + len + (8 - (len + 4) % 8);
        if value_at + 16 > end {
            problem.get_or_insert_with(|| format!("entry at byte {pos} runs past the end"));
            break;
        }
        let Ok(key) = std::str::from_utf8(&data[key_start..key_start + len]) else {
            problem.get_or_insert_with(|| format!("key at byte {pos} is not UTF-8"));
            break;
        };
        found.push(Entry {
            key,
            value: f64_at(data, value_at),
            timestamp: f64_at(data, value_at + 8),
        });
        pos = value_at + 16;
    }
    (found, problem)
}

fn int_at(data: &[u8], pos: usize) -> Option<i32> {
    let bytes = data.get(pos..pos + 4)?;
    Some(i32::from_ne_bytes(bytes.try_into().ok()?))
}

fn f64_at(data: &[u8], pos: usize) -> f64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&data[pos..pos + 8]);
    f64::from_ne_bytes(bytes)
}

/// Reads the bytes of a file in use: the first page, then the rest of the length in use (the
/// file is preallocated well past it).
fn read_used(path: &Path) -> std::io::Result<Vec<u8>> {
    const PAGE: u64 = 4096;
    let mut file = File::open(path)?;
    let mut data = Vec::with_capacity(PAGE as usize);
    (&mut file).take(PAGE).read_to_end(&mut data)?;
    let used = int_at(&data, 0)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    if used > data.len() as u64 {
        file.take(used - data.len() as u64).read_to_end(&mut data)?;
    }
    Ok(data)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
        }
    }
}

/// A gauge's `multiprocess_mode`, without its `live` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Min,
    Max,
    Sum,
    MostRecent,
}

/// What a file's name says: `<type>_<pid>.db`, or `gauge_<mode>_<pid>.db` for a gauge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileName<'a> {
    kind: Kind,
    /// For a gauge: its mode, and whether it is a `live` one.
    mode: Option<(Mode, bool)>,
    pid: &'a str,
}

fn file_name(name: &str) -> Option<FileName<'_>> {
    let stem = name.strip_suffix(".db")?;
    let mut parts = stem.split('_');
    let kind = match parts.next()? {
        "counter" => Kind::Counter,
        "gauge" => Kind::Gauge,
        "histogram" => Kind::Histogram,
        "summary" => Kind::Summary,
        _ => return None,
    };
    if kind != Kind::Gauge {
        return Some(FileName {
            kind,
            mode: None,
            pid: parts.next().unwrap_or(""),
        });
    }
    let mode = parts.next()?;
    let pid = parts.next()?;
    let (live, base) = match mode.strip_prefix("live") {
        Some(base) => (true, base),
        None => (false, mode),
    };
    let mode = match base {
        "min" => Mode::Min,
        "max" => Mode::Max,
        "sum" => Mode::Sum,
        "mostrecent" => Mode::MostRecent,
        // `all`, and any other mode, which prometheus_client merges as `all`.
        _ => Mode::All,
    };
    Some(FileName {
        kind,
        mode: Some((mode, live)),
        pid,
    })
}

/// Whether the process `pid` is gone: `/proc/<pid>` missing, or a zombie. A pid that is not a
/// number, or a system without `/proc`, counts as alive.
fn process_gone(pid: &str) -> bool {
    if pid.is_empty()
        || !pid.bytes().all(|b| b.is_ascii_digit())
        || !Path::new("/proc/self").exists()
    {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

/// A sample's labels, sorted by name unless a `pid` or `le` was added last.
type Labels = Vec<(String, String)>;

/// A key of the files, parsed once per merge.
struct Key {
    /// The index of its metric in the merge.
    metric: usize,
    name: String,
    /// Sorted by name.
    labels: Vec<(String, String)>,
}

/// One value read, for the metric it belongs to.
struct Raw {
    key: usize,
    value: f64,
    timestamp: f64,
    /// For a gauge: the file's pid, an index into the merge's pids.
    pid: usize,
}

struct Metric {
    name: String,
    help: String,
    kind: Kind,
    /// The mode of the last gauge file that held the metric.
    mode: Mode,
    raws: Vec<Raw>,
}

/// Reads every `*.db` file of `dir` and merges them.
///
/// # Errors
///
/// When the directory cannot be listed.
pub(crate) fn read_dir(dir: &Path) -> Result<Merged, String> {
    let listing = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot list the multiprocess directory {}: {e}",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = listing
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "db"))
        .collect();
    files.sort();
    let mut merge = Merge::default();
    let mut skipped = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some(parsed) = file_name(&name) else {
            skipped.push(Skipped {
                file,
                why: Skip::Unrecognized,
                detail: "not <type>_<pid>.db or gauge_<mode>_<pid>.db".into(),
            });
            continue;
        };
        if parsed.mode.is_some_and(|(_, live)| live) && process_gone(parsed.pid) {
            continue;
        }
        let data = match read_used(&file) {
            Ok(data) => data,
            Err(error) => {
                skipped.push(Skipped {
                    file,
                    why: Skip::Unreadable,
                    detail: error.to_string(),
                });
                continue;
            }
        };
        if let Some(detail) = merge.add_file(&parsed, &data) {
            skipped.push(Skipped {
                file,
                why: Skip::Corrupt,
                detail,
            });
        }
    }
    Ok(Merged {
        text: merge.text(),
        skipped,
    })
}

#[derive(Default)]
struct Merge {
    keys: Vec<Key>,
    key_ids: HashMap<String, usize>,
    metrics: Vec<Metric>,
    metric_ids: HashMap<String, usize>,
    pids: Vec<String>,
}

impl Merge {
    /// Adds the entries of one file; returns what is wrong with it, if anything.
    fn add_file(&mut self, file: &FileName<'_>, data: &[u8]) -> Option<String> {
        let (found, mut problem) = entries(data);
        let pid = self.pids.len();
        self.pids.push(file.pid.to_owned());
        for entry in found {
            let key = match self.key_ids.get(entry.key) {
                Some(&id) => id,
                None => {
                    match serde_json::from_str::<(String, String, BTreeMap<String, String>, String)>(
                        entry.key,
                    ) {
                        Ok((metric, name, labels, help)) => {
                            let metric = self.metric_id(metric, help, file.kind);
                            let id = self.keys.len();
                            self.keys.push(Key {
                                metric,
                                name,
                                labels: labels.into_iter().collect(),
                            });
                            self.key_ids.insert(entry.key.to_owned(), id);
                            id
                        }
                        Err(error) => {
                            problem.get_or_insert_with(|| format!("key {:?}: {error}", entry.key));
                            continue;
                        }
                    }
                }
            };
            let metric = self.keys[key].metric;
            let metric = &mut self.metrics[metric];
            if let Some((mode, _)) = file.mode {
                metric.mode = mode;
            }
            metric.raws.push(Raw {
                key,
                value: entry.value,
                timestamp: entry.timestamp,
                pid,
            });
        }
        problem
    }

    /// The index of the metric `name`, made with `help` and `kind` when it is new: the first
    /// file that holds a metric gives its type and help, as in `MultiProcessCollector`.
    fn metric_id(&mut self, name: String, help: String, kind: Kind) -> usize {
        if let Some(&id) = self.metric_ids.get(name.as_str()) {
            return id;
        }
        let id = self.metrics.len();
        self.metric_ids.insert(name.clone(), id);
        self.metrics.push(Metric {
            name,
            help,
            kind,
            mode: Mode::All,
            raws: Vec::new(),
        });
        id
    }

    /// The merged metrics as exposition text.
    fn text(&self) -> String {
        let mut out = String::new();
        // Where the values of each key go, found once per key however many files hold it
        // (not for gauges of the `all` modes, whose series are one per file). A key belongs
        // to one metric.
        let mut targets = vec![None; self.keys.len()];
        for metric in &self.metrics {
            // A counter's family is named after its samples, as `generate_latest` names it.
            let suffix = if metric.kind == Kind::Counter {
                "_total"
            } else {
                ""
            };
            let _ = write!(out, "# HELP {}{suffix} ", metric.name);
            escape_help(&mut out, &metric.help);
            let _ = writeln!(
                out,
                "\n# TYPE {}{suffix} {}",
                metric.name,
                metric.kind.name()
            );
            for (name, labels, value) in self.accumulate(metric, &mut targets) {
                out.push_str(&name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (label, value)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(label);
                        out.push_str("=\"");
                        escape_label_value(&mut out, value);
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                push_number(&mut out, value);
                out.push('\n');
            }
        }
        out
    }

    /// The samples of `metric` merged over the processes, as `MultiProcessCollector` merges
    /// them.
    fn accumulate(
        &self,
        metric: &Metric,
        targets: &mut [Option<Target>],
    ) -> Vec<(String, Labels, f64)> {
        let mut slots = Slots::default();
        // Histogram buckets by labels without `le`: (bound, summed count) in first-seen order.
        let mut buckets: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
        let mut bucket_ids: HashMap<Labels, usize> = HashMap::new();
        for raw in &metric.raws {
            let key = &self.keys[raw.key];
            let value = raw.value;
            if metric.kind == Kind::Gauge && metric.mode == Mode::All {
                let mut labels = without(&key.labels, "pid");
                labels.push(("pid".into(), self.pids[raw.pid].clone()));
                let slot = slots.slot((key.name.clone(), labels));
                slots.values[slot] = Some(value);
                continue;
            }
            let target = *targets[raw.key].get_or_insert_with(|| {
                let le = key.labels.iter().find(|(k, _)| k == "le");
                match (metric.kind, le) {
                    (Kind::Histogram, Some((_, le))) => {
                        let without_le = without(&key.labels, "le");
                        let group = *bucket_ids.entry(without_le.clone()).or_insert_with(|| {
                            buckets.push((without_le, Vec::new()));
                            buckets.len() - 1
                        });
                        Target::Bucket(group, parse_bound(le))
                    }
                    (Kind::Gauge, _) => {
                        Target::Slot(slots.slot((key.name.clone(), without(&key.labels, "pid"))))
                    }
                    _ => Target::Slot(slots.slot((key.name.clone(), key.labels.clone()))),
                }
            });
            match target {
                Target::Bucket(group, bound) => {
                    let counts = &mut buckets[group].1;
                    match counts.iter_mut().find(|(b, _)| b.total_cmp(&bound).is_eq()) {
                        Some((_, n)) => *n += value,
                        None => counts.push((bound, 0.0 + value)),
                    }
                }
                Target::Slot(slot) => {
                    let old = slots.values[slot];
                    slots.values[slot] = match (metric.kind, metric.mode) {
                        // The first value, then any lower (higher) one: a NaN stays.
                        (Kind::Gauge, Mode::Min) => match old {
                            Some(old) if value < old => Some(value),
                            Some(old) => Some(old),
                            None => Some(value),
                        },
                        (Kind::Gauge, Mode::Max) => match old {
                            Some(old) if value > old => Some(value),
                            Some(old) => Some(old),
                            None => Some(value),
                        },
                        (Kind::Gauge, Mode::MostRecent) => {
                            if slots.timestamps[slot] < raw.timestamp {
                                slots.timestamps[slot] = raw.timestamp;
                                Some(value)
                            } else {
                                old
                            }
                        }
                        // Counters, summaries, histograms' `_sum`, gauges of the `sum` modes.
                        _ => Some(old.unwrap_or(0.0) + value),
                    };
                }
            }
        }
        for (labels, mut counts) in buckets {
            counts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut total = 0.0;
            for (bound, count) in counts {
                total += count;
                let mut with_le = labels.clone();
                let mut le = String::new();
                push_number(&mut le, bound);
                with_le.push(("le".into(), le));
                let slot = slots.slot((format!("{}_bucket", metric.name), with_le));
                slots.values[slot] = Some(total);
            }
            let slot = slots.slot((format!("{}_count", metric.name), labels));
            slots.values[slot] = Some(total);
        }
        slots
            .keys
            .into_iter()
            .zip(slots.values)
            .filter_map(|((name, labels), value)| Some((name, labels, value?)))
            .collect()
    }
}

/// Where the values of one key go.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A sample of the merge.
    Slot(usize),
    /// A histogram bucket: the index of its labels without `le`, and its bound.
    Bucket(usize, f64),
}

/// The samples of one metric's merge, in first-seen order; a sample without a value yet (a
/// `mostrecent` gauge never set with a timestamp) is left out.
#[derive(Default)]
struct Slots {
    keys: Vec<(String, Labels)>,
    values: Vec<Option<f64>>,
    /// The newest timestamp of each sample, for `mostrecent` gauges.
    timestamps: Vec<f64>,
    index: HashMap<(String, Labels), usize>,
}

impl Slots {
    fn slot(&mut self, key: (String, Labels)) -> usize {
        match self.index.entry(key) {
            MapEntry::Occupied(slot) => *slot.get(),
            MapEntry::Vacant(slot) => {
                let id = self.keys.len();
                self.keys.push(slot.key().clone());
                self.values.push(None);
                self.timestamps.push(0.0);
                slot.insert(id);
                id
            }
        }
    }
}

fn without(labels: &[(String, String)], name: &str) -> Labels {
    labels.iter().filter(|(k, _)| k != name).cloned().collect()
}

/// A bucket bound as `float()` reads it (`+Inf` and `inf` alike); NaN when it is not one.
fn parse_bound(text: &str) -> f64 {
    text.trim().parse().unwrap_or(f64::NAN)
}

/// Writes `value` as the text format writes numbers.
fn push_number(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value:?}");
    }
}

fn escape_help(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_label_value(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as prometheus_client writes it.
    fn entry(key: &str, value: f64, timestamp: f64) -> Vec<u8> {
        let mut out = Vec::new();
        let len = i32::try_from(key.len()).unwrap();
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(key.as_bytes());
        out.resize(out.len() + (8 - (key.len() + 4) % 8), b' ');
        out.extend_from_slice(&value.to_ne_bytes());
        out.extend_from_slice(&timestamp.to_ne_bytes());
        out
    }

    /// A file holding `entries`, preallocated with zeros as prometheus_client's are.
    fn file(entries: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = entries.concat();
        let used = i32::try_from(8 + body.len()).unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(&used.to_ne_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&body);
        out.resize(out.len().max(256), 0);
        out
    }

    fn key(metric: &str, name: &str, labels: &str, help: &str) -> String {
        format!("[\"{metric}\", \"{name}\", {{{labels}}}, \"{help}\"]")
    }

    #[test]
    fn reads_every_entry_of_a_whole_file() {
        let data = file(&[
            entry(&key("a", "a_total", "", "A."), 1.5, 0.0),
            entry(&key("b", "b", "\"x\": \"1\"", "B."), -2.0, 17.5),
        ]);
        let (found, problem) = entries(&data);
        assert_eq!(problem, None);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].key, key("b", "b", "\"x\": \"1\"", "B."));
        assert_eq!((found[1].value, found[1].timestamp), (-2.0, 17.5));
    }

    #[test]
    fn a_fresh_or_empty_file_has_no_entries() {
        assert_eq!(entries(&[0; 64]), (vec![], None));
        let empty = file(&[]);
        let (found, problem) = entries(&empty);
        assert!(found.is_empty() && problem.is_none());
        let (found, problem) = entries(&[8, 0]);
        assert!(found.is_empty());
        assert!(problem.unwrap().contains("shorter than the header"));
    }

    #[test]
    fn a_file_cut_short_is_read_up_to_its_last_whole_entry() {
        let whole = file(&[
            entry(&key("a", "a_total", "", ""), 1.0, 0.0),
            entry(&key("b", "b_total", "", ""), 2.0, 0.0),
        ]);
        let used = usize::try_from(int_at(&whole, 0).unwrap()).unwrap();
        for cut in 0..used {
            let (found, problem) = entries(&whole[..cut]);
            assert!(problem.is_some(), "cut at {cut}");
            let first_end = 8 + entry(&key("a", "a_total", "", ""), 0.0, 0.0).len();
            assert_eq!(found.len(), usize::from(cut >= first_end), "cut at {cut}");
        }
    }

    #[test]
    fn corrupt_lengths_stop_the_reading_without_panicking() {
        let mut data = file(&[
            entry(&key("a", "a_total", "", ""), 1.0, 0.0),
            entry(&key("b", "b_total", "", ""), 2.0, 0.0),
        ]);
        let second = 8 + entry(&key("a", "a_total", "", ""), 0.0, 0.0).len();
        for bad in [-1_i32, i32::MAX, 1 << 20] {
            data[second..second + 4].copy_from_slice(&bad.to_ne_bytes());
            let (found, problem) = entries(&data);
            assert_eq!(found.len(), 1);
            assert!(problem.is_some());
        }
        // A negative length in use.
        data[..4].copy_from_slice(&(-8_i32).to_ne_bytes());
        let (found, problem) = entries(&data);
        assert!(found.is_empty() && problem.is_some());
        // Invalid UTF-8 in a key.
        let mut data = file(&[entry("[\"\u{e9}\"]", 1.0, 0.0)]);
        data[13] = 0xff;
        let (found, problem) = entries(&data);
        assert!(found.is_empty() && problem.unwrap().contains("UTF-8"));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..600 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 56) as u8
                })
                .collect();
            let _ = entries(&data);
            let mut merge = Merge::default();
            let name = file_name("counter_1.db").unwrap();
            let _ = merge.add_file(&name, &data);
            let _ = merge.text();
        }
    }

    #[test]
    fn file_names_give_type_mode_and_pid() {
        assert_eq!(
            file_name("counter_12.db"),
            Some(FileName {
                kind: Kind::Counter,
                mode: None,
                pid: "12"
            })
        );
        assert_eq!(
            file_name("gauge_livemostrecent_7.db"),
            Some(FileName {
                kind: Kind::Gauge,
                mode: Some((Mode::MostRecent, true)),
                pid: "7"
            })
        );
        assert_eq!(file_name("gauge_all.db"), None);
        assert_eq!(file_name("info_1.db"), None);
        assert_eq!(file_name("counter_1.txt"), None);
    }

    #[test]
    fn a_missing_process_is_gone_and_this_one_is_not() {
        assert!(!process_gone(&std::process::id().to_string()));
        assert!(!process_gone("worker-a"));
        if Path::new("/proc/self").exists() {
            assert!(process_gone("4194304999"));
        }
    }

    /// The text of `files` (name, entries) merged.
    fn merged(files: &[(&str, Vec<Vec<u8>>)]) -> String {
        let mut merge = Merge::default();
        for (name, entries) in files {
            let name = file_name(name).unwrap();
            assert_eq!(merge.add_file(&name, &file(entries)), None);
        }
        merge.text()
    }

    #[test]
    fn merges_as_the_multiprocess_collector() {
        let counter = key("c", "c_total", "\"q\": \"a\\\"b\\n\"", "Help \\\\ of c.");
        assert_eq!(
            merged(&[
                ("counter_1.db", vec![entry(&counter, 1.0, 0.0)]),
                ("counter_2.db", vec![entry(&counter, 2.0, 0.0)]),
            ]),
            "# HELP c_total Help \\\\ of c.\n# TYPE c_total counter\nc_total{q=\"a\\\"b\\n\"} 3.0\n"
        );
        let bucket = |le: &str| key("h", "h_bucket", &format!("\"le\": \"{le}\""), "H.");
        let sum = key("h", "h_sum", "", "H.");
        let histogram = || {
            vec![
                entry(&bucket("0.5"), 1.0, 0.0),
                entry(&bucket("+Inf"), 2.0, 0.0),
                entry(&sum, 0.25, 0.0),
            ]
        };
        assert_eq!(
            merged(&[
                ("histogram_1.db", histogram()),
                ("histogram_2.db", histogram())
            ]),
            concat!(
                "# HELP h H.\n# TYPE h histogram\n",
                "h_sum 0.5\n",
                "h_bucket{le=\"0.5\"} 2.0\n",
                "h_bucket{le=\"+Inf\"} 6.0\n",
                "h_count 6.0\n",
            )
        );
        let gauge = key("g", "g", "", "G.");
        for (mode, expected) in [
            ("all", "g{pid=\"1\"} 5.0\ng{pid=\"2\"} 7.0\n"),
            ("liveall", "g{pid=\"1\"} 5.0\ng{pid=\"2\"} 7.0\n"),
            ("min", "g 5.0\n"),
            ("max", "g 7.0\n"),
            ("sum", "g 12.0\n"),
            ("mostrecent", "g 5.0\n"),
        ] {
            let one = format!("gauge_{mode}_1.db");
            let two = format!("gauge_{mode}_2.db");
            assert_eq!(
                merged(&[
                    (&one, vec![entry(&gauge, 5.0, 20.0)]),
                    (&two, vec![entry(&gauge, 7.0, 10.0)]),
                ]),
                format!("# HELP g G.\n# TYPE g gauge\n{expected}"),
                "{mode}"
            );
        }
    }

    #[test]
    fn a_directory_with_bad_files_still_merges_the_good_ones() {
        assert!(matches!(
            read_used(Path::new("/nonexistent/counter_1.db")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound
        ));
        let dir = std::env::temp_dir().join(format!("dynamo-mp-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let good = file(&[entry(&key("c", "c_total", "", "C."), 2.0, 0.0)]);
        std::fs::write(dir.join("counter_1.db"), &good).unwrap();
        std::fs::write(dir.join("counter_2.db"), &good[..20]).unwrap();
        std::fs::write(dir.join("notes.db"), b"hello").unwrap();
        std::fs::write(dir.join("README"), b"not a db").unwrap();
        // Opens, but cannot be read: as a file that vanished would be.
        std::fs::create_dir(dir.join("counter_5.db")).unwrap();
        // A live gauge of a process that is gone is left out; a plain one stays.
        let gauge = file(&[entry(&key("g", "g", "", "G."), 4.0, 0.0)]);
        std::fs::write(dir.join("gauge_livesum_4194304999.db"), &gauge).unwrap();
        std::fs::write(dir.join("gauge_sum_4194304999.db"), &gauge).unwrap();
        let merged = read_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = merged.text;
        assert!(text.contains("c_total 2.0\n"), "{text}");
        assert!(text.contains("g 4.0\n"), "{text}");
        let whys: Vec<Skip> = merged.skipped.iter().map(|s| s.why).collect();
        assert_eq!(whys, [Skip::Corrupt, Skip::Unreadable, Skip::Unrecognized]);
        assert!(read_dir(&dir).is_err());
    }
}
