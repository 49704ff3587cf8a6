//! What the cells a process maps in the multiprocess directory mean: its catalog, the file
//! `dynamo_<pid>.catalog`, to which records are appended as pools, metrics and series are
//! made (never on an update).
//!
//! A record is its length (`u32`, little-endian, of what follows), a tag byte and its fields:
//! numbers little-endian, strings and lists a `u32` count then their items. A reader takes
//! the whole records and stops at one cut short (a writer killed while appending it).
//!
//! - `Process`: the writer's pid and start time (so a reused pid is not taken for it).
//! - `Pool`: a pool's name, cell type, slot size, words beside each slot and bucket bounds.
//! - `Chunk`: a chunk of a pool mapped from the file `dynamo_<pid>_<pool>_<chunk>.cells`.
//! - `Metric`: a metric's id, kind, gauge mode, name, help, constant labels and label names.
//! - `Series`: a series of a metric in a slot of a pool, with the state the slot has while
//!   it lives, and its label values (or that it is the metric's overflow series).
//! - `Help`: the help text the metrics of a name have from now on.
//! - `Ended`: the series of a slot was removed, or the slot serves another series now. A
//!   series whose registry was dropped (at the process's end, say) is not ended: its values
//!   stay on the page, as a process that exits keeps its counts.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

use parking_lot::Mutex;

use crate::kinds::table::MetricKind;

/// The cell types another process can read, by their code in `Pool` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellType {
    /// An integer counter's.
    U64Counter = 0,
    /// A float counter's.
    F64Counter = 1,
    /// An integer gauge's.
    I64Gauge = 2,
    /// A float gauge's.
    F64Gauge = 3,
    /// A histogram's.
    Histogram = 4,
}

impl CellType {
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::U64Counter,
            1 => Self::F64Counter,
            2 => Self::I64Gauge,
            3 => Self::F64Gauge,
            4 => Self::Histogram,
            _ => return None,
        })
    }
}

/// How a gauge's values from several processes become the page's, as `prometheus_client`'s
/// `multiprocess_mode` says it: `All` one series per process (a `pid` label), `Sum`, `Min`,
/// `Max` one series; the `live` modes leave out processes that are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GaugeMode {
    /// One series per process that ever set it, with a `pid` label.
    All,
    /// One series per live process, with a `pid` label.
    LiveAll,
    /// The sum over every process that ever set it.
    Sum,
    /// The sum over live processes (the default).
    #[default]
    LiveSum,
    /// The least value of any process.
    Min,
    /// The least value of a live process.
    LiveMin,
    /// The greatest value of any process.
    Max,
    /// The greatest value of a live process.
    LiveMax,
}

impl GaugeMode {
    /// Every mode, by the name `prometheus_client` gives it.
    pub const NAMES: [(&'static str, Self); 8] = [
        ("all", Self::All),
        ("liveall", Self::LiveAll),
        ("sum", Self::Sum),
        ("livesum", Self::LiveSum),
        ("min", Self::Min),
        ("livemin", Self::LiveMin),
        ("max", Self::Max),
        ("livemax", Self::LiveMax),
    ];

    /// The mode of this name.
    ///
    /// # Errors
    ///
    /// When no mode has the name; the error names it and the modes there are.
    pub fn parse(name: &str) -> Result<Self, crate::error::ExporterError> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, mode)| *mode)
            .ok_or_else(|| crate::error::ExporterError::GaugeMode(name.to_owned()))
    }

    /// Its name.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, mode)| *mode == self)
            .map_or("livesum", |(n, _)| n)
    }

    pub(crate) fn code(self) -> u8 {
        Self::NAMES
            .iter()
            .position(|(_, mode)| *mode == self)
            .unwrap_or(3) as u8
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::NAMES.get(usize::from(code)).map(|(_, mode)| *mode)
    }

    /// True when processes that are gone are left out.
    pub(crate) fn live_only(self) -> bool {
        matches!(
            self,
            Self::LiveAll | Self::LiveSum | Self::LiveMin | Self::LiveMax
        )
    }
}

pub(crate) const PROCESS: u8 = 1;
pub(crate) const POOL: u8 = 2;
pub(crate) const CHUNK: u8 = 3;
pub(crate) const METRIC: u8 = 4;
pub(crate) const SERIES: u8 = 5;
pub(crate) const ENDED: u8 = 6;
pub(crate) const HELP: u8 = 7;

thread_local! {
    /// Above zero while series end because their registry or vec is dropped.
    static KEEPING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f`, in which series that end (their registry or vec dropped, at the process's end
/// say) keep their values in the directory: only removals take a series off the page.
pub(crate) fn keeping<R>(f: impl FnOnce() -> R) -> R {
    KEEPING.with(|k| k.set(k.get() + 1));
    let result = f();
    KEEPING.with(|k| k.set(k.get() - 1));
    result
}

/// The series in slot `index` of `pool` was removed (`state` its state while it lived), or,
/// with `state` 0, the slot serves another series from now on.
pub(crate) fn ended(pool: &str, index: u32, state: u64) {
    if state != 0 && KEEPING.with(std::cell::Cell::get) > 0 {
        return;
    }
    append(ENDED, |r| {
        r.str(pool);
        r.u32(index);
        r.u64(state);
    });
}

/// The catalog of this process, once it wrote a record.
static WRITER: Mutex<Option<Writer>> = Mutex::new(None);

struct Writer {
    file: Option<File>,
    /// Every record written, for a forked child's catalog.
    written: Vec<u8>,
}

/// The catalog's file of process `pid`.
pub(crate) fn file_name(pid: u32) -> String {
    format!("dynamo_{pid}.catalog")
}

/// Appends one record (built by `fill`) to this process's catalog, if in multiprocess mode.
fn append(tag: u8, fill: impl FnOnce(&mut Record)) {
    let Some(dir) = super::mapped::directory() else {
        return;
    };
    let mut record = Record(Vec::with_capacity(64));
    record.0.extend_from_slice(&[0; 4]);
    record.0.push(tag);
    fill(&mut record);
    let len = (record.0.len() - 4) as u32;
    record.0[..4].copy_from_slice(&len.to_le_bytes());
    let _section = crate::fork::enter();
    let mut writer = WRITER.lock();
    let writer = writer.get_or_insert_with(|| open(dir, std::process::id(), &[]));
    writer.written.extend_from_slice(&record.0);
    if let Some(Err(error)) = writer.file.as_mut().map(|file| file.write_all(&record.0)) {
        tracing::error!(%error, "cannot write the multiprocess catalog");
    }
}

/// A new catalog for process `pid`: its `Process` record, then `inherited`.
fn open(dir: &Path, pid: u32, inherited: &[u8]) -> Writer {
    let mut written = Vec::new();
    let mut head = Record(vec![0; 4]);
    head.0.push(PROCESS);
    head.u32(pid);
    head.u64(start_time(pid).unwrap_or(0));
    let len = (head.0.len() - 4) as u32;
    head.0[..4].copy_from_slice(&len.to_le_bytes());
    written.extend_from_slice(&head.0);
    written.extend_from_slice(inherited);
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(dir.join(file_name(pid)))
        .and_then(|mut file| file.write_all(&written).map(|()| file));
    let file = match file {
        Ok(file) => Some(file),
        Err(error) => {
            tracing::error!(%error, "cannot create the multiprocess catalog");
            None
        }
    };
    Writer { file, written }
}

/// In a forked child: a catalog of its own, holding what the parent's held at the fork
/// (the child has the same pools, metrics and series).
pub(crate) fn after_fork_in_child(dir: &Path, pid: u32) {
    let mut writer = WRITER.lock();
    let inherited = writer
        .as_ref()
        .map(|w| skip_process_record(&w.written).to_vec())
        .unwrap_or_default();
    *writer = Some(open(dir, pid, &inherited));
}

fn skip_process_record(records: &[u8]) -> &[u8] {
    let Some(len) = records.get(..4) else {
        return records;
    };
    let len = u32::from_le_bytes(len.try_into().unwrap_or([0; 4])) as usize;
    records.get(4 + len..).unwrap_or(&[])
}

/// The start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`),
/// with its state: `None` when it is gone or a zombie.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // Fields 4 to 21 come between the state (3) and the start time (22).
    fields.nth(18)?.parse().ok()
}

/// A pool of cells, before its first chunk.
pub(crate) fn pool(
    name: &str,
    cell: CellType,
    slot_size: usize,
    extra_words: usize,
    bounds: &[f64],
) {
    append(POOL, |r| {
        r.str(name);
        r.u8(cell as u8);
        r.u32(slot_size as u32);
        r.u32(extra_words as u32);
        r.u32(bounds.len() as u32);
        for bound in bounds {
            r.u64(bound.to_bits());
        }
    });
}

/// A chunk of a pool, mapped from its file.
pub(crate) fn chunk(pool: &str, number: u32) {
    append(CHUNK, |r| {
        r.str(pool);
        r.u32(number);
    });
}

/// A metric of a registry whose metrics join the directory's page.
pub(crate) fn metric(core: &super::directory::Core, kind: MetricKind, help: &str, mode: GaugeMode) {
    append(METRIC, |r| {
        r.u32(core.id);
        r.u8(kind as u8);
        r.u8(mode.code());
        r.str(&core.name);
        r.str(help);
        let consts = core.layout.consts();
        r.u32(consts.len() as u32);
        for (name, value) in consts {
            r.str(name);
            r.str(value);
        }
        let names = core.layout.names();
        r.u32(names.len() as u32);
        for name in names {
            r.str(name);
        }
    });
}

/// A metric without variable labels, and its one series in slot `index` of `pool`.
pub(crate) fn scalar(
    core: &super::directory::Core,
    kind: MetricKind,
    help: &str,
    mode: GaugeMode,
    pool: &str,
    index: u32,
    state: u64,
) {
    metric(core, kind, help, mode);
    series::<&str>(core.id, pool, index, state, Some(&[]));
}

/// A series of metric `owner` in slot `index` of `pool`, live while the slot's state is
/// `state`; `values` its label values in declaration order, `None` for the overflow series.
pub(crate) fn series<V: AsRef<str>>(
    owner: u32,
    pool: &str,
    index: u32,
    state: u64,
    values: Option<&[V]>,
) {
    append(SERIES, |r| {
        r.u32(owner);
        r.str(pool);
        r.u32(index);
        r.u64(state);
        match values {
            Some(values) => {
                r.u8(0);
                r.u32(values.len() as u32);
                for value in values {
                    r.str(value.as_ref());
                }
            }
            None => r.u8(1),
        }
    });
}

/// The metrics named `name` have this help now (a `describe_*` macro after their first use).
pub(crate) fn help(name: &str, help: &str) {
    append(HELP, |r| {
        r.str(name);
        r.str(help);
    });
}

/// A record being built.
struct Record(Vec<u8>);

impl Record {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, v: &str) {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v.as_bytes());
    }
}

/// Reads the fields of one record.
pub(crate) struct Fields<'a>(pub(crate) &'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

/// The whole records of `bytes` (tag and fields), and how many bytes they take.
pub(crate) fn records(bytes: &[u8]) -> (Vec<(u8, Fields<'_>)>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(len) = bytes.get(pos..pos + 4) {
        let len = u32::from_le_bytes(len.try_into().unwrap_or([0; 4])) as usize;
        let Some(body) = bytes.get(pos + 4..pos + 4 + len) else {
            break;
        };
        if let Some((&tag, fields)) = body.split_first() {
            out.push((tag, Fields(fields)));
        }
        pos += 4 + len;
    }
    (out, pos)
}

#[cfg(test)]
mod tests {
    use super::GaugeMode;

    #[test]
    fn gauge_modes_by_name_and_code() {
        for (name, mode) in GaugeMode::NAMES {
            assert_eq!(GaugeMode::parse(name), Ok(mode));
            assert_eq!(mode.name(), name);
            assert_eq!(GaugeMode::from_code(mode.code()), Some(mode));
        }
        let error = GaugeMode::parse("mostrecent").unwrap_err().to_string();
        assert!(error.contains("\"mostrecent\""), "{error}");
        assert_eq!(GaugeMode::from_code(8), None);
    }
}
