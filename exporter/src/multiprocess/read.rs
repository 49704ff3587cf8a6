//! Reading the processes of a multiprocess directory: each one's catalog (read on from where
//! the last scrape stopped) and the cells of its series (read from its chunk files).

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use crate::exposition::Number;
use crate::kinds::table::MetricKind;
use crate::kinds::{F64Counter, F64Gauge, HistogramCell, I64Gauge, U64Counter};
use crate::storage::catalog::{self, CellType, Fields, GaugeMode};
use crate::storage::mapped;
use crate::storage::pool::{CHUNK_BITS, Slot};

const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;

/// What a process's catalog said so far.
#[derive(Default)]
pub(super) struct Process {
    /// Its start time, to tell it from a later process with its pid.
    start_time: u64,
    /// Catalog bytes read so far.
    read_to: u64,
    pools: HashMap<String, PoolInfo>,
    pub(super) metrics: HashMap<u32, MetricInfo>,
    /// The series of each slot, the latest record winning.
    series: HashMap<(String, u32), SeriesInfo>,
    /// Its series' values, as last read.
    values: Vec<Read>,
    /// Gone, and read one last time: its files no longer change.
    gone: bool,
}

struct PoolInfo {
    cell: CellType,
    slot_size: usize,
    extra_words: usize,
    bounds: Arc<[f64]>,
}

/// A metric as its process registered it.
pub(super) struct MetricInfo {
    pub(super) kind: MetricKind,
    pub(super) mode: GaugeMode,
    pub(super) name: String,
    pub(super) help: String,
    consts: Vec<(String, String)>,
    names: Vec<String>,
}

struct SeriesInfo {
    owner: u32,
    state: u64,
    /// Sorted by name.
    labels: LabelSet,
    /// The same with the process's `pid`, for gauges of the `all` modes.
    with_pid: LabelSet,
}

/// A series' label pairs, sorted by name, shared by every read of it: equal sets are one
/// (see [`intern`]), so a merge tells them apart by address.
pub(super) type LabelSet = std::sync::Arc<[(String, String)]>;

/// Every label set read, each once.
pub(super) type Interned = std::collections::HashSet<LabelSet, foldhash::fast::RandomState>;

/// The one shared copy of `labels`.
fn intern(interned: &mut Interned, labels: Vec<(String, String)>) -> LabelSet {
    if let Some(known) = interned.get(&labels[..]) {
        return LabelSet::clone(known);
    }
    let labels: LabelSet = labels.into();
    interned.insert(LabelSet::clone(&labels));
    labels
}

/// One series' value as read.
#[derive(Clone)]
pub(super) enum Cell {
    Number(Number),
    Histogram {
        bounds: Arc<[f64]>,
        /// Per bucket, not cumulative; the last is `+Inf`.
        counts: Vec<u64>,
        sum: f64,
    },
}

/// A series read from a process: its metric, labels and value.
#[derive(Clone)]
pub(super) struct Read {
    pub(super) owner: u32,
    pub(super) labels: LabelSet,
    /// The labels with the process's `pid`.
    pub(super) with_pid: LabelSet,
    pub(super) cell: Cell,
}

impl Process {
    /// Reads what `pid`'s catalog gained since the last call; false when it cannot be read.
    pub(super) fn catch_up(&mut self, dir: &Path, pid: u32, interned: &mut Interned) -> bool {
        if self.gone {
            return true;
        }
        let Ok(mut file) = std::fs::File::open(dir.join(catalog::file_name(pid))) else {
            return false;
        };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.read_to)).is_err()
            || file.read_to_end(&mut bytes).is_err()
        {
            return false;
        }
        let (records, used) = catalog::records(&bytes);
        for (tag, fields) in records {
            self.apply(tag, fields, pid, interned);
        }
        self.read_to += used as u64;
        true
    }

    fn apply(
        &mut self,
        tag: u8,
        mut f: Fields<'_>,
        pid: u32,
        interned: &mut Interned,
    ) -> Option<()> {
        match tag {
            catalog::PROCESS => {
                f.u32()?;
                self.start_time = f.u64()?;
            }
            catalog::POOL => {
                let name = f.str()?.to_owned();
                let cell = CellType::from_code(f.u8()?)?;
                let slot_size = f.u32()? as usize;
                let extra_words = f.u32()? as usize;
                let bounds = (0..f.u32()?)
                    .map(|_| f.u64().map(f64::from_bits))
                    .collect::<Option<Vec<f64>>>()?;
                if slot_size != own_slot_size(cell) {
                    tracing::warn!(
                        pool = name,
                        "a process of the multiprocess directory has another slot layout (another version of the library): its series are left out"
                    );
                    return None;
                }
                self.pools.insert(
                    name,
                    PoolInfo {
                        cell,
                        slot_size,
                        extra_words,
                        bounds: bounds.into(),
                    },
                );
            }
            catalog::METRIC => {
                let id = f.u32()?;
                let kind = match f.u8()? {
                    k if k == MetricKind::Counter as u8 => MetricKind::Counter,
                    k if k == MetricKind::Gauge as u8 => MetricKind::Gauge,
                    k if k == MetricKind::Histogram as u8 => MetricKind::Histogram,
                    _ => return None,
                };
                let mode = GaugeMode::from_code(f.u8()?)?;
                let name = f.str()?.to_owned();
                let help = f.str()?.to_owned();
                let consts = (0..f.u32()?)
                    .map(|_| Some((f.str()?.to_owned(), f.str()?.to_owned())))
                    .collect::<Option<Vec<_>>>()?;
                let names = (0..f.u32()?)
                    .map(|_| f.str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()?;
                self.metrics.insert(
                    id,
                    MetricInfo {
                        kind,
                        mode,
                        name,
                        help,
                        consts,
                        names,
                    },
                );
            }
            catalog::SERIES => {
                let owner = f.u32()?;
                let pool = f.str()?.to_owned();
                let index = f.u32()?;
                let state = f.u64()?;
                let metric = self.metrics.get(&owner)?;
                let mut labels = metric.consts.clone();
                if f.u8()? == 0 {
                    let count = f.u32()? as usize;
                    for name in metric.names.iter().take(count) {
                        labels.push((name.clone(), f.str()?.to_owned()));
                    }
                } else {
                    labels.push((crate::OVERFLOW_LABEL.to_owned(), "true".to_owned()));
                }
                labels.sort();
                let mut with_pid = labels.clone();
                let at = with_pid.partition_point(|(k, _)| k.as_str() < "pid");
                with_pid.insert(at, ("pid".to_owned(), pid.to_string()));
                self.series.insert(
                    (pool, index),
                    SeriesInfo {
                        owner,
                        state,
                        labels: intern(interned, labels),
                        with_pid: intern(interned, with_pid),
                    },
                );
            }
            catalog::HELP => {
                let (name, help) = (f.str()?, f.str()?);
                for metric in self.metrics.values_mut().filter(|m| m.name == name) {
                    metric.help = help.to_owned();
                }
            }
            catalog::ENDED => {
                let key = (f.str()?.to_owned(), f.u32()?);
                let state = f.u64()?;
                if state == 0 || self.series.get(&key).is_some_and(|s| s.state == state) {
                    self.series.remove(&key);
                }
            }
            _ => {}
        }
        Some(())
    }

    /// True while the process runs (the pid's start time is the one it recorded).
    pub(super) fn is_live(&self, pid: u32) -> bool {
        !self.gone
            && catalog::start_time(pid)
                .is_some_and(|t| self.start_time == 0 || t == self.start_time)
    }

    /// Reads its series' values from its chunk files, unless it is gone and was read one
    /// last time already (its files no longer change).
    pub(super) fn refresh(&mut self, dir: &Path, pid: u32, live: bool) {
        if self.gone {
            return;
        }
        self.values = self.read_cells(dir, pid);
        if !live {
            self.gone = true;
            self.series.clear();
        }
    }

    /// Its series' values, as last read.
    pub(super) fn values(&self) -> &[Read] {
        &self.values
    }

    fn read_cells(&self, dir: &Path, pid: u32) -> Vec<Read> {
        let mut by_chunk: HashMap<(&str, u32), Vec<(u32, &SeriesInfo)>> = HashMap::new();
        for ((pool, index), series) in &self.series {
            by_chunk
                .entry((pool.as_str(), index >> CHUNK_BITS))
                .or_default()
                .push((*index, series));
        }
        let mut out = Vec::new();
        for ((pool_name, chunk), series) in by_chunk {
            let Some(pool) = self.pools.get(pool_name) else {
                continue;
            };
            let path = dir.join(mapped::file_name(pid, &format!("{pool_name}_{chunk}")));
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            // Only the slots up to the last one in use, and their extra words.
            let last = series
                .iter()
                .map(|(i, _)| (i & CHUNK_MASK) as usize)
                .max()
                .unwrap_or(0);
            let used = last + 1;
            let slots = read_range(&file, 0, used * pool.slot_size);
            let extra_start = (pool.slot_size << CHUNK_BITS) as u64;
            let extra = read_range(&file, extra_start, used * pool.extra_words * 8);
            for (index, info) in series {
                let i = (index & CHUNK_MASK) as usize;
                let Some(slot) = slots.get(i * pool.slot_size..(i + 1) * pool.slot_size) else {
                    continue;
                };
                let words = pool.extra_words * 8;
                let extra = extra.get(i * words..(i + 1) * words).unwrap_or(&[]);
                if let Some(cell) = read_cell(pool, slot, extra) {
                    out.push(Read {
                        owner: info.owner,
                        labels: info.labels.clone(),
                        with_pid: info.with_pid.clone(),
                        cell,
                    });
                }
            }
        }
        out
    }
}

/// Up to `len` bytes of `file` from `offset` (fewer if it is shorter).
fn read_range(file: &std::fs::File, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt as _;
    let mut bytes = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut bytes[filled..], offset + filled as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    bytes.truncate(filled);
    bytes
}

/// The word at byte `at`, as the writer's atomics stored it (native byte order).
fn word(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

fn own_slot_size(cell: CellType) -> usize {
    match cell {
        CellType::U64Counter => size_of::<Slot<U64Counter>>(),
        CellType::F64Counter => size_of::<Slot<F64Counter>>(),
        CellType::I64Gauge => size_of::<Slot<I64Gauge>>(),
        CellType::F64Gauge => size_of::<Slot<F64Gauge>>(),
        CellType::Histogram => size_of::<Slot<HistogramCell>>(),
    }
}

fn read_cell(pool: &PoolInfo, slot: &[u8], extra: &[u8]) -> Option<Cell> {
    let at = std::mem::offset_of!(Slot<U64Counter>, cell);
    // Every slot's header is the same size, so every cell starts at the same offset.
    let w = |k: usize| word(slot, at + 8 * k);
    Some(match pool.cell {
        CellType::U64Counter => Cell::Number(Number::UInt(w(0))),
        CellType::F64Counter => Cell::Number(Number::Float(F64Counter::from_words(&[w(0), w(1)]))),
        CellType::I64Gauge => Cell::Number(Number::Int(w(0) as i64)),
        CellType::F64Gauge => Cell::Number(Number::Float(f64::from_bits(w(0)))),
        CellType::Histogram => {
            let sum_at =
                std::mem::offset_of!(Slot<HistogramCell>, cell) + HistogramCell::SUM_OFFSET;
            let counts = (0..pool.extra_words).map(|k| word(extra, 8 * k)).collect();
            Cell::Histogram {
                bounds: Arc::clone(&pool.bounds),
                counts,
                sum: f64::from_bits(word(slot, sum_at)),
            }
        }
    })
}
