//! Multiprocess mode: the metrics of every process of a worker on one page.
//!
//! With a directory set ([`set_directory`], or `DYN_METRICS_MULTIPROC_DIR`) before the
//! process's first metric, the pools' chunks are files of that directory mapped into memory
//! (`storage/mapped.rs`) and each process keeps a catalog of what they hold
//! (`storage/catalog.rs`). A registry that [joined](crate::Registry::join_multiprocess) shows
//! the merge of every process's metrics that joined: counters and histograms summed over every
//! process that ever wrote them (those that exited or were killed included), gauges by their
//! [`GaugeMode`]. Only one process serves the page ([`claim_server`]).
//!
//! ```no_run
//! use dynamo_exporter::{Opts, Registry, multiprocess};
//!
//! multiprocess::set_directory(std::path::Path::new("/run/worker-metrics")).unwrap();
//! let registry = Registry::new();
//! registry.join_multiprocess().unwrap();
//! let running = registry
//!     .int_gauge(&Opts::new("running", "Requests running").with_multiprocess_mode(multiprocess::GaugeMode::LiveSum))
//!     .unwrap();
//! running.inc();
//! ```

mod read;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

pub use crate::storage::catalog::GaugeMode;
pub use crate::storage::mapped::{DIRECTORY_VARIABLE, claim_server, directory, set_directory};

use crate::exposition::order::label_order;
use crate::exposition::{
    Encoder, ExtraLabels, FamilyInfo, HistogramValue, Labels, Number, Series, Value,
};
use crate::kinds::table::MetricKind;
use read::{Cell, Interned, LabelSet, Process};

/// What was read of each process of the directory, by pid.
static PROCESSES: Mutex<BTreeMap<u32, Process>> = Mutex::new(BTreeMap::new());

/// Every label set the processes' series have, each once.
static INTERNED: Mutex<Option<Interned>> = Mutex::new(None);

/// One family of the merged page.
struct Family {
    kind: MetricKind,
    help: String,
    mode: GaugeMode,
    /// By the address of the label set (equal sets are one).
    series: HashMap<usize, (LabelSet, Merged), foldhash::fast::RandomState>,
}

/// One series of the merged page.
enum Merged {
    Number(Number),
    Histogram {
        bounds: std::sync::Arc<[f64]>,
        counts: Vec<u64>,
        sum: f64,
    },
}

/// Hands `encoder` the merge of the directory's processes, the series with every pair of
/// `required`, each with the registry's `extra` labels; returns the families shown.
pub(crate) fn encode(
    dir: &Path,
    required: &[(&str, &str)],
    extra: &ExtraLabels,
    encoder: &mut dyn Encoder,
) -> Vec<(Arc<str>, MetricKind)> {
    let families = merge(dir);
    let mut shown = Vec::new();
    let mut scratch = Vec::new();
    for (name, family) in &families {
        let mut started = false;
        let series: Vec<&(LabelSet, Merged)> = family.series.values().collect();
        let lists: Vec<&[(String, String)]> =
            series.iter().map(|(labels, _)| &labels[..]).collect();
        for at in label_order(&lists, extra) {
            let (labels, value) = series[at as usize];
            let has = |(k, v): &(&str, &str)| labels.iter().any(|(n, x)| n == k && x == v);
            if !required.iter().all(has) {
                continue;
            }
            if !started {
                encoder.family(&FamilyInfo {
                    name,
                    help: Some(&family.help),
                    kind: family.kind,
                    observed: false,
                });
                shown.push((Arc::from(name.as_str()), family.kind));
                started = true;
            }
            let value = match value {
                Merged::Number(n) => Value::Number(*n),
                Merged::Histogram {
                    bounds,
                    counts,
                    sum,
                } => {
                    scratch.clear();
                    let mut total = 0;
                    for count in counts {
                        total += count;
                        scratch.push(total);
                    }
                    Value::Histogram(HistogramValue {
                        bounds,
                        cumulative: &scratch,
                        sum: Some(*sum),
                        count: total,
                        native: None,
                    })
                }
            };
            encoder.series(&Series {
                labels: Labels::sorted_with_extra(&labels[..], extra),
                value,
                timestamp_ms: None,
                exemplars: &[],
            });
        }
    }
    shown
}

/// Reads every process of `dir` and merges their series by family and labels.
fn merge(dir: &Path) -> BTreeMap<String, Family> {
    let pids = catalog_pids(dir);
    let _section = crate::fork::enter();
    let mut processes = PROCESSES.lock();
    let mut interned = INTERNED.lock();
    let interned = interned.get_or_insert_with(Interned::default);
    processes.retain(|pid, _| pids.binary_search(pid).is_ok());
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for pid in pids {
        let process = processes.entry(pid).or_default();
        if !process.catch_up(dir, pid, interned) {
            continue;
        }
        let live = process.is_live(pid);
        process.refresh(dir, pid, live);
        for read in process.values() {
            let Some(metric) = process.metrics.get(&read.owner) else {
                continue;
            };
            if !families.contains_key(metric.name.as_str()) {
                families.insert(
                    metric.name.clone(),
                    Family {
                        kind: metric.kind,
                        help: metric.help.clone(),
                        mode: metric.mode,
                        series: HashMap::default(),
                    },
                );
            }
            let Some(family) = families.get_mut(metric.name.as_str()) else {
                continue;
            };
            if family.kind != metric.kind {
                tracing::warn!(
                    metric = metric.name,
                    pid,
                    "a process registered this metric as another type: its series are left out"
                );
                continue;
            }
            add(family, read, pid, live);
        }
    }
    families.retain(|_, f| !f.series.is_empty());
    families
}

/// Adds one process's series to its family by the family's kind and gauge mode.
fn add(family: &mut Family, read: &read::Read, pid: u32, live: bool) {
    let mode = family.mode;
    let mut labels = &read.labels;
    if family.kind == MetricKind::Gauge {
        if mode.live_only() && !live {
            return;
        }
        if matches!(mode, GaugeMode::All | GaugeMode::LiveAll) {
            labels = &read.with_pid;
        }
    }
    let cell = &read.cell;
    let key = LabelSet::as_ptr(labels).cast::<u8>() as usize;
    let Some((_, merged)) = family.series.get_mut(&key) else {
        let merged = match cell {
            Cell::Number(n) => Merged::Number(*n),
            Cell::Histogram {
                bounds,
                counts,
                sum,
            } => Merged::Histogram {
                bounds: bounds.clone(),
                counts: counts.clone(),
                sum: *sum,
            },
        };
        family.series.insert(key, (LabelSet::clone(labels), merged));
        return;
    };
    match (merged, cell) {
        (Merged::Number(have), Cell::Number(new)) => {
            *have = combine(family.kind, mode, *have, *new);
        }
        (
            Merged::Histogram {
                bounds,
                counts,
                sum,
            },
            Cell::Histogram {
                bounds: b,
                counts: c,
                sum: s,
            },
        ) => {
            if bounds == b {
                for (have, new) in counts.iter_mut().zip(c) {
                    *have += new;
                }
                *sum += s;
            } else {
                tracing::warn!(
                    pid,
                    "a process has other buckets for a histogram series: its values are left out"
                );
            }
        }
        _ => {}
    }
}

/// Two processes' numbers of one series, merged.
fn combine(kind: MetricKind, mode: GaugeMode, a: Number, b: Number) -> Number {
    let pick = |f: fn(f64, f64) -> bool| if f(b.as_f64(), a.as_f64()) { b } else { a };
    match (kind, mode) {
        (MetricKind::Gauge, GaugeMode::Min | GaugeMode::LiveMin) => pick(|x, y| x < y),
        (MetricKind::Gauge, GaugeMode::Max | GaugeMode::LiveMax) => pick(|x, y| x > y),
        _ => match (a, b) {
            (Number::UInt(x), Number::UInt(y)) => Number::UInt(x.saturating_add(y)),
            (Number::Int(x), Number::Int(y)) => Number::Int(x.saturating_add(y)),
            (x, y) => Number::Float(x.as_f64() + y.as_f64()),
        },
    }
}

/// The pids of the directory's catalogs.
fn catalog_pids(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name();
            let name = name.to_str()?;
            name.strip_prefix("dynamo_")?
                .strip_suffix(".catalog")?
                .parse()
                .ok()
        })
        .collect();
    pids.sort_unstable();
    pids
}
