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
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dynamo_exporter::MetricKind;
use dynamo_exporter::parse::{Family, Sample, SampleSet, is_label_name, is_metric_name};

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

/// The merged families of a directory, and the files skipped or read in part.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    pub(crate) families: Vec<Family>,
    pub(crate) skipped: Vec<Skipped>,
}

/// One entry of a file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Entry<'a> {
    /// Where it starts in the file.
    pub(crate) at: usize,
    /// The key's bytes: checked to be UTF-8 when first met, not each time.
    pub(crate) key: &'a [u8],
    pub(crate) value: f64,
    pub(crate) timestamp: f64,
}

/// The whole entries of a file's bytes, and what is wrong with the rest when the bytes do not
/// hold together: they stop short of the length in use, or an entry runs past it.
#[cfg(test)]
pub(crate) fn entries(data: &[u8]) -> (Vec<Entry<'_>>, Option<String>) {
    let mut found = Vec::new();
    let problem = each_entry(data, |entry| {
        found.push(entry);
        true
    });
    (found, problem)
}

/// Hands each whole entry of a file's bytes to `visit` (until it returns false), and returns
/// what is wrong with the rest when the bytes do not hold together.
fn each_entry<'a>(data: &'a [u8], mut visit: impl FnMut(Entry<'a>) -> bool) -> Option<String> {
    let Some(used) = int_at(data, 0) else {
        return Some(format!("{} bytes, shorter than the header", data.len()));
    };
    // A file just made holds zeros until its writer sets the length.
    if used == 0 {
        return None;
    }
    let Ok(used) = usize::try_from(used) else {
        return Some(format!("negative length in use ({used})"));
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
        let go_on = visit(Entry {
            at: pos,
            key: &data[key_start..key_start + len],
            value: f64_at(data, value_at),
            timestamp: f64_at(data, value_at + 8),
        });
        if !go_on {
            break;
        }
        pos = value_at + 16;
    }
    problem
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl Kind {
    fn metric_kind(self) -> MetricKind {
        match self {
            Self::Counter => MetricKind::Counter,
            Self::Gauge => MetricKind::Gauge,
            Self::Histogram => MetricKind::Histogram,
            Self::Summary => MetricKind::Summary,
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

/// Reads the bytes in use of `file` into `buf` with one read of the length in use at the last
/// read of the file (`hint`) and a page more, and a second read only when the header says the
/// file has grown past that.
fn read_used(file: &mut File, buf: &mut Vec<u8>, hint: usize) -> std::io::Result<()> {
    const PAGE: usize = 4096;
    let first = (hint / PAGE + 1) * PAGE;
    buf.clear();
    buf.resize(first, 0);
    let got = read_full(file, buf)?;
    buf.truncate(got);
    let used = int_at(buf, 0)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    if used > got && got == first {
        buf.resize(used, 0);
        let more = read_full(file, &mut buf[got..])?;
        buf.truncate(got + more);
    }
    Ok(())
}

/// Reads until `buf` is full or the file ends; the number of bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(got)
}

/// Which processes are gone, found at most once per read: `/proc` listed once (rather than a
/// look-up per file), then the state read only of the pids listed there that have `live*`
/// files, since a zombie is listed too. Processes started since are not missed: a process
/// whose file was listed was running before `/proc` was.
#[derive(Default)]
struct Liveness {
    /// The pids listed in `/proc`, once asked; `Some(None)` on a system without `/proc`.
    listed: Option<Option<HashSet<u64, Fx>>>,
    /// Whether each listed pid asked about is a zombie.
    zombies: HashMap<u64, bool, Fx>,
}

impl Liveness {
    /// Whether the process `pid` is gone: not in `/proc`, or a zombie. A pid that is not a
    /// number, or a system without `/proc`, counts as alive.
    fn gone(&mut self, pid: &str) -> bool {
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Some(listed) = self.listed.get_or_insert_with(list_proc) else {
            return false;
        };
        let Ok(number) = pid.parse::<u64>() else {
            // Too large to be a pid.
            return true;
        };
        if !listed.contains(&number) {
            return true;
        }
        *self.zombies.entry(number).or_insert_with(|| is_zombie(pid))
    }
}

fn list_proc() -> Option<HashSet<u64, Fx>> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    let listing = std::fs::read_dir("/proc").ok()?;
    Some(
        listing
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect(),
    )
}

/// Whether the listed process `pid` is a zombie, or gone since `/proc` was listed.
fn is_zombie(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

/// A sample's labels, sorted by name unless an `le` was added last.
type Labels = Vec<(String, String)>;

/// Hash maps keyed by bytes the files hold: FxHash, a multiply per 8 bytes, where the
/// standard SipHash would cost more than the rest of a key's look-up. The keys come from the
/// application's own files.
type Fx = BuildHasherDefault<FxHasher>;

#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A key of the files: `[metric name, sample name, labels, help]`.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    metric: String,
    sample: String,
    /// Sorted by name, each name once.
    labels: Labels,
    help: String,
}

/// Reads a key: as `json.dumps(..., sort_keys=True)` writes it without a JSON parser, and any
/// other JSON with one.
fn parse_key(key: &str) -> Result<Key, String> {
    if let Some(parsed) = fast_key(key) {
        return Ok(parsed);
    }
    serde_json::from_str::<(String, String, BTreeMap<String, String>, String)>(key)
        .map(|(metric, sample, labels, help)| Key {
            metric,
            sample,
            labels: labels.into_iter().collect(),
            help,
        })
        .map_err(|error| format!("key {key:?}: {error}"))
}

/// A key of four JSON strings, the third an object of strings, read directly; `None` for
/// anything else (numbers, a label given twice, a lone surrogate...), which `serde_json`
/// then reads or refuses.
fn fast_key(key: &str) -> Option<Key> {
    let mut cursor = Cursor { text: key, pos: 0 };
    cursor.expect(b'[')?;
    let metric = cursor.string()?;
    cursor.expect(b',')?;
    let sample = cursor.string()?;
    cursor.expect(b',')?;
    cursor.expect(b'{')?;
    let mut labels = Vec::new();
    if !cursor.eat(b'}') {
        loop {
            let name = cursor.string()?;
            cursor.expect(b':')?;
            let value = cursor.string()?;
            labels.push((name, value));
            if cursor.eat(b'}') {
                break;
            }
            cursor.expect(b',')?;
        }
    }
    cursor.expect(b',')?;
    let help = cursor.string()?;
    cursor.expect(b']')?;
    cursor.skip_space();
    if cursor.pos != key.len() {
        return None;
    }
    labels.sort_by(|a: &(String, String), b| a.0.cmp(&b.0));
    if labels.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        return None;
    }
    Some(Key {
        metric,
        sample,
        labels,
        help,
    })
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn skip_space(&mut self) {
        while matches!(
            self.text.as_bytes().get(self.pos),
            Some(b' ' | b'\t' | b'\n' | b'\r')
        ) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.text.as_bytes().get(self.pos) == Some(&byte);
        self.pos += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// A JSON string. The cursor stops only at ASCII bytes, so every slice is at a character
    /// boundary.
    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let bytes = self.text.as_bytes();
        let start = self.pos;
        loop {
            match *bytes.get(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Some(self.text[start..self.pos - 1].to_owned());
                }
                b'\\' => break,
                byte if byte < 0x20 => return None,
                _ => self.pos += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            match *bytes.get(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    let escape = *bytes.get(self.pos + 1)?;
                    self.pos += 2;
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                byte if byte < 0x20 => return None,
                _ => {
                    let run = self.pos;
                    while bytes
                        .get(self.pos)
                        .is_some_and(|&b| b != b'"' && b != b'\\' && b >= 0x20)
                    {
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run..self.pos]);
                }
            }
        }
    }

    /// The character of a `\u` escape (its `\u` read), with the second half of a surrogate
    /// pair.
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if !(0xd800..0xdc00).contains(&high) {
            return char::from_u32(high);
        }
        if self.text.as_bytes().get(self.pos..self.pos + 2)? != b"\\u" {
            return None;
        }
        self.pos += 2;
        let low = self.hex4()?;
        if !(0xdc00..0xe000).contains(&low) {
            return None;
        }
        char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }
}

/// A key as parsed, kept between reads.
struct Cached {
    /// The key's bytes, shared with the merge that meets it.
    bytes: Arc<[u8]>,
    parsed: Result<Arc<Key>, Arc<str>>,
    /// The last read that met it.
    read: u64,
    /// Its index in that read's merge.
    local: u32,
}

type KeyCache = HashMap<Arc<[u8]>, Cached, Fx>;

#[cfg(test)]
type BeforeOpen = dyn FnMut(&Path) + Send;

/// Reads one directory at each scrape, keeping between reads what stays true: the keys
/// already parsed (each distinct key is parsed once, however many files and reads hold it)
/// and how many bytes each file had in use, so that a file takes one read.
#[derive(Default)]
pub(crate) struct Reader {
    keys: KeyCache,
    /// The bytes in use of each file at the last read, by file name.
    sizes: HashMap<String, usize, Fx>,
    reads: u64,
    /// Called before each file is opened, so that a test can change the directory during a
    /// read.
    #[cfg(test)]
    before_open: Option<Box<BeforeOpen>>,
}

impl Reader {
    /// Reads every `*.db` file of `dir` and merges them.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub(crate) fn read_dir(&mut self, dir: &Path) -> Result<Merged, String> {
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
        self.reads += 1;
        let mut merge = Merge::default();
        let mut skipped = Vec::new();
        // One thread opens and reads the files, in order, while this one merges what it read:
        // the reading (system calls, copies) and the merge overlap on two cores.
        let (loaded_tx, loaded_rx) = std::sync::mpsc::sync_channel::<Loaded>(16);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let last_sizes = &self.sizes;
        #[cfg(test)]
        let before_open = &mut self.before_open;
        let keys = &mut self.keys;
        let reads = self.reads;
        let sizes = std::thread::scope(|scope| {
            let reader = std::thread::Builder::new()
                .name("multiprocess-read".into())
                .spawn_scoped(scope, move || {
                    load_files(
                        files,
                        last_sizes,
                        &loaded_tx,
                        &spare_rx,
                        #[cfg(test)]
                        before_open,
                    )
                })
                .map_err(|e| format!("cannot start a thread to read {}: {e}", dir.display()))?;
            for loaded in &loaded_rx {
                let Loaded { file, outcome } = loaded;
                let data = match outcome {
                    Outcome::Skipped(why, detail) => {
                        skipped.push(Skipped { file, why, detail });
                        continue;
                    }
                    Outcome::Read(data) => data,
                };
                let name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let parsed = file_name(name).expect("a file loaded has a known name");
                if let Some(detail) = merge.add_file(&parsed, &data, keys, reads) {
                    skipped.push(Skipped {
                        file,
                        why: Skip::Corrupt,
                        detail,
                    });
                }
                let _ = spare_tx.send(data);
            }
            Ok::<_, String>(reader.join().unwrap_or_default())
        })?;
        self.sizes = sizes;
        // Keys no longer written (a label value gone, say) are forgotten once they outnumber
        // the keys in use.
        if self.keys.len() > 2 * merge.keys.len() + 1024 {
            let reads = self.reads;
            self.keys.retain(|_, cached| cached.read == reads);
        }
        let (families, problems) = merge.families();
        skipped.extend(problems.into_iter().map(|detail| Skipped {
            file: dir.to_path_buf(),
            why: Skip::Corrupt,
            detail,
        }));
        Ok(Merged { families, skipped })
    }
}

/// A file as the reading thread hands it over, in the order of the listing.
struct Loaded {
    file: PathBuf,
    outcome: Outcome,
}

enum Outcome {
    Read(Vec<u8>),
    Skipped(Skip, String),
}

/// Reads `files` in order and sends each (its bytes in use, or why it was skipped), leaving
/// out `live*` gauge files of processes gone; reuses the buffers sent back on `spare`. The
/// bytes in use of each file read, by name, for the next read's `sizes`.
fn load_files(
    files: Vec<PathBuf>,
    sizes: &HashMap<String, usize, Fx>,
    loaded: &std::sync::mpsc::SyncSender<Loaded>,
    spare: &std::sync::mpsc::Receiver<Vec<u8>>,
    #[cfg(test)] before_open: &mut Option<Box<BeforeOpen>>,
) -> HashMap<String, usize, Fx> {
    let mut liveness = Liveness::default();
    let mut read_sizes = HashMap::with_capacity_and_hasher(files.len(), Fx::default());
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let outcome = match file_name(name) {
            None => Outcome::Skipped(
                Skip::Unrecognized,
                "not <type>_<pid>.db or gauge_<mode>_<pid>.db".into(),
            ),
            Some(parsed)
                if parsed.mode.is_some_and(|(_, live)| live) && liveness.gone(parsed.pid) =>
            {
                continue;
            }
            Some(_) => {
                #[cfg(test)]
                if let Some(hook) = before_open {
                    hook(&file);
                }
                let hint = sizes.get(name).copied().unwrap_or(0);
                let mut buf = spare.try_recv().unwrap_or_default();
                match File::open(&file).and_then(|mut f| read_used(&mut f, &mut buf, hint)) {
                    Ok(()) => {
                        read_sizes.insert(name.to_owned(), buf.len());
                        Outcome::Read(buf)
                    }
                    Err(error) => Outcome::Skipped(Skip::Unreadable, error.to_string()),
                }
            }
        };
        if loaded.send(Loaded { file, outcome }).is_err() {
            break;
        }
    }
    read_sizes
}

/// A key met in this read, and the metric its entries join (or why they join none).
struct Local {
    /// The key's bytes, for telling whether an entry holds the key predicted for it.
    bytes: Arc<[u8]>,
    key: Arc<Key>,
    metric: Result<usize, Arc<str>>,
    /// Where the values of a counter's, histogram's or summary's key are summed as they are
    /// read; a gauge's values are kept (its mode is known once every file is read).
    sum_into: Option<Sum>,
}

/// One value read, for the metric it belongs to.
struct Raw {
    /// An index into the merge's keys.
    key: u32,
    /// The file's pid, an index into the merge's pids (files of one pid share it).
    pid: u32,
    value: f64,
    timestamp: f64,
}

struct Metric {
    name: String,
    help: String,
    kind: Kind,
    /// The mode of the last gauge file that held the metric.
    mode: Mode,
    /// A gauge's values as read.
    raws: Vec<Raw>,
    /// The samples merged so far, in first-seen order.
    slots: Slots,
    /// A histogram's buckets by labels without `le`: (bound, summed count) in first-seen
    /// order.
    buckets: Vec<(Labels, Vec<(f64, f64)>)>,
    bucket_ids: HashMap<Labels, usize, Fx>,
}

impl Metric {
    /// Where the values of `key` are summed, made when the key is first met in a read; none
    /// for a gauge.
    fn sum_into(&mut self, key: &Key) -> Option<Sum> {
        match self.kind {
            Kind::Gauge => None,
            Kind::Histogram => match key.labels.iter().find(|(k, _)| k == "le") {
                Some((_, le)) => {
                    let bound = parse_bound(le);
                    let without_le = without(&key.labels, "le");
                    let group = match self.bucket_ids.get(&without_le) {
                        Some(&group) => group,
                        None => {
                            self.bucket_ids
                                .insert(without_le.clone(), self.buckets.len());
                            self.buckets.push((without_le, Vec::new()));
                            self.buckets.len() - 1
                        }
                    };
                    let counts = &mut self.buckets[group].1;
                    let at = match counts.iter().position(|(b, _)| b.total_cmp(&bound).is_eq()) {
                        Some(at) => at,
                        None => {
                            counts.push((bound, 0.0));
                            counts.len() - 1
                        }
                    };
                    Some(Sum::Bucket(group, at))
                }
                None => Some(self.slot_of(key)),
            },
            Kind::Counter | Kind::Summary => Some(self.slot_of(key)),
        }
    }

    fn slot_of(&mut self, key: &Key) -> Sum {
        Sum::Slot(
            self.slots
                .slot((key.sample.clone(), with_room(&key.labels))),
        )
    }

    /// Sums one value read where [`Metric::sum_into`] said.
    fn sum(&mut self, target: Sum, value: f64) {
        match target {
            Sum::Slot(slot) => {
                let old = &mut self.slots.values[slot];
                *old = Some(old.unwrap_or(0.0) + value);
            }
            Sum::Bucket(group, at) => self.buckets[group].1[at].1 += value,
        }
    }
}

#[derive(Default)]
struct Merge {
    keys: Vec<Local>,
    metrics: Vec<Metric>,
    metric_ids: HashMap<String, usize, Fx>,
    /// The pids of the files, each once.
    pids: Vec<Arc<str>>,
    pid_ids: HashMap<String, u32, Fx>,
    /// By type of file (kind, and mode for a gauge): the keys of the last file of the type
    /// added, in its order, as indexes into `keys` (`u32::MAX` for a key in error).
    orders: Vec<(FileType, Vec<u32>)>,
}

type FileType = (Kind, Option<(Mode, bool)>);

impl Merge {
    /// Adds the entries of one file; returns what is wrong with it, if anything.
    fn add_file(
        &mut self,
        file: &FileName<'_>,
        data: &[u8],
        cache: &mut KeyCache,
        read: u64,
    ) -> Option<String> {
        let pid = match self.pid_ids.get(file.pid) {
            Some(&pid) => pid,
            None => {
                let pid = u32::try_from(self.pids.len()).unwrap_or(u32::MAX);
                self.pids.push(Arc::from(file.pid));
                self.pid_ids.insert(file.pid.to_owned(), pid);
                pid
            }
        };
        // Files of one type usually hold the same keys in the same order: the key at the
        // same place in the last file of the type read is tried before a look-up.
        let kind: FileType = (file.kind, file.mode);
        let at = match self.orders.iter().position(|(of, _)| *of == kind) {
            Some(at) => at,
            None => {
                self.orders.push((kind, Vec::new()));
                self.orders.len() - 1
            }
        };
        let previous = std::mem::take(&mut self.orders[at].1);
        let mut order = Vec::with_capacity(previous.len());
        // The first problem of the file's keys; what is wrong with its bytes comes first.
        let mut problem: Option<String> = None;
        let structure = each_entry(data, |entry| {
            let predicted = previous.get(order.len()).copied().filter(|&local| {
                self.keys
                    .get(local as usize)
                    .is_some_and(|k| *k.bytes == *entry.key)
            });
            let local = match predicted {
                Some(local) => Ok(local),
                None => match cache.get_mut(entry.key) {
                    Some(cached) => self.local(cached, file.kind, read),
                    None => {
                        let Ok(text) = std::str::from_utf8(entry.key) else {
                            problem.get_or_insert_with(|| {
                                format!("key at byte {} is not UTF-8", entry.at)
                            });
                            return false;
                        };
                        let bytes: Arc<[u8]> = Arc::from(entry.key);
                        let cached = cache.entry(Arc::clone(&bytes)).or_insert(Cached {
                            bytes,
                            parsed: parse_key(text).map(Arc::new).map_err(Arc::from),
                            read: 0,
                            local: 0,
                        });
                        self.local(cached, file.kind, read)
                    }
                },
            };
            order.push(*local.as_ref().unwrap_or(&u32::MAX));
            let metric = match local.and_then(|local| {
                self.keys[local as usize]
                    .metric
                    .clone()
                    .map(|metric| (local, metric))
            }) {
                Ok(found) => found,
                Err(error) => {
                    problem.get_or_insert_with(|| error.to_string());
                    return true;
                }
            };
            let (key, metric) = metric;
            let metric = &mut self.metrics[metric];
            if let Some((mode, _)) = file.mode {
                metric.mode = mode;
            }
            match self.keys[key as usize].sum_into {
                Some(target) => metric.sum(target, entry.value),
                None => metric.raws.push(Raw {
                    key,
                    pid,
                    value: entry.value,
                    timestamp: entry.timestamp,
                }),
            }
            true
        });
        self.orders[at].1 = order;
        structure.or(problem)
    }

    /// The index in this merge of a key, added when this read meets it first: the metric
    /// its entries join is found (made with the file's `kind` when new) and checked.
    fn local(&mut self, cached: &mut Cached, kind: Kind, read: u64) -> Result<u32, Arc<str>> {
        if cached.read == read {
            return cached
                .parsed
                .as_ref()
                .map(|_| cached.local)
                .map_err(Arc::clone);
        }
        cached.read = read;
        let key = cached.parsed.clone()?;
        let metric = self.metric_of(&key, kind).map_err(|problem| {
            Arc::from(format!(
                "key [{:?}, {:?}, ...]: {problem}",
                key.metric, key.sample
            ))
        });
        let sum_into = match &metric {
            Ok(id) => self.metrics[*id].sum_into(&key),
            Err(_) => None,
        };
        cached.local = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.keys.push(Local {
            bytes: Arc::clone(&cached.bytes),
            key,
            metric,
            sum_into,
        });
        Ok(cached.local)
    }

    /// The index of the metric of `key`, made with its help and `kind` when it is new (the
    /// first file that holds a metric gives its type and help, as in
    /// `MultiProcessCollector`); an error when the key would not make a valid page.
    fn metric_of(&mut self, key: &Key, kind: Kind) -> Result<usize, String> {
        if !is_metric_name(&key.metric) {
            return Err(format!("{:?} is not a valid metric name", key.metric));
        }
        if let Some((name, _)) = key.labels.iter().find(|(name, _)| !is_label_name(name)) {
            return Err(format!("{name:?} is not a valid label name"));
        }
        let existing = self.metric_ids.get(key.metric.as_str()).copied();
        let family_kind = existing.map_or(kind, |id| self.metrics[id].kind);
        check_sample(key, family_kind)?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let id = self.metrics.len();
        self.metric_ids.insert(key.metric.clone(), id);
        self.metrics.push(Metric {
            name: key.metric.clone(),
            help: key.help.clone(),
            kind,
            mode: Mode::All,
            raws: Vec::new(),
            slots: Slots::default(),
            buckets: Vec::new(),
            bucket_ids: HashMap::default(),
        });
        Ok(id)
    }

    /// The merged families, in the order their metrics were first met, and what kept any
    /// family off (a name two metrics make, a count that is not whole).
    fn families(&mut self) -> (Vec<Family>, Vec<String>) {
        // Where the values of each key go, found once per key however many files hold it.
        // A key belongs to one metric.
        let mut targets = vec![None; self.keys.len()];
        let mut families = Vec::with_capacity(self.metrics.len());
        let mut names: HashSet<String, Fx> = HashSet::default();
        let mut problems = Vec::new();
        let mut metrics = std::mem::take(&mut self.metrics);
        for metric in &mut metrics {
            // A counter's family is named after its samples, as `generate_latest` names it.
            let name = if metric.kind == Kind::Counter {
                format!("{}_total", metric.name)
            } else {
                metric.name.clone()
            };
            if !names.insert(name.clone()) {
                problems.push(format!(
                    "two metrics make the family {name}; the second is left out"
                ));
                continue;
            }
            let (samples, sets) = self.accumulate(metric, &mut targets);
            if let Err(problem) = check_counts(metric, &samples) {
                problems.push(problem);
                continue;
            }
            families.push(Family {
                name,
                help: Some(metric.help.clone()),
                kind: metric.kind.metric_kind(),
                samples,
                sets,
            });
        }
        (families, problems)
    }

    /// The samples of `metric` merged over the processes, as `MultiProcessCollector` merges
    /// them: gauges of the `all` modes in a set per series without `pid`, the rest alone.
    fn accumulate(
        &self,
        metric: &mut Metric,
        targets: &mut [Option<Target>],
    ) -> (Vec<Sample>, Vec<SampleSet>) {
        let mut slots = std::mem::take(&mut metric.slots);
        // Gauges of the `all` modes: a set per key without `pid`, a sample per process.
        let mut groups: Vec<SampleSet> = Vec::new();
        let mut group_ids: HashMap<(String, Labels), u32, Fx> = HashMap::default();
        let mut per_pid: HashMap<(u32, u32), usize, Fx> = HashMap::default();
        let per_process = metric.mode == Mode::All;
        for raw in &metric.raws {
            let key = &self.keys[raw.key as usize].key;
            let value = raw.value;
            // Only a gauge's values are kept to be merged here.
            let target = *targets[raw.key as usize].get_or_insert_with(|| {
                if per_process {
                    let mut labels = without(&key.labels, "pid");
                    labels.sort();
                    let group = (key.sample.clone(), labels);
                    let next = u32::try_from(groups.len()).unwrap_or(u32::MAX);
                    Target::Group(
                        *group_ids.entry(group).or_insert_with_key(|(name, labels)| {
                            groups.push(SampleSet {
                                name: name.clone(),
                                labels: labels.clone(),
                                label: "pid".into(),
                                values: Vec::new(),
                            });
                            next
                        }),
                    )
                } else {
                    Target::Slot(slots.slot((key.sample.clone(), without(&key.labels, "pid"))))
                }
            });
            match target {
                Target::Group(group) => {
                    let values = &mut groups[group as usize].values;
                    let at = *per_pid.entry((group, raw.pid)).or_insert_with(|| {
                        values.push((Arc::clone(&self.pids[raw.pid as usize]), 0.0));
                        values.len() - 1
                    });
                    values[at].1 = value;
                }
                Target::Slot(slot) => {
                    let old = slots.values[slot];
                    slots.values[slot] = match metric.mode {
                        // The first value, then any lower (higher) one: a NaN stays.
                        Mode::Min => match old {
                            Some(old) if value < old => Some(value),
                            Some(old) => Some(old),
                            None => Some(value),
                        },
                        Mode::Max => match old {
                            Some(old) if value > old => Some(value),
                            Some(old) => Some(old),
                            None => Some(value),
                        },
                        Mode::MostRecent => {
                            if slots.timestamps[slot] < raw.timestamp {
                                slots.timestamps[slot] = raw.timestamp;
                                Some(value)
                            } else {
                                old
                            }
                        }
                        // Gauges of the `sum` modes.
                        _ => Some(old.unwrap_or(0.0) + value),
                    };
                }
            }
        }
        for (labels, mut counts) in std::mem::take(&mut metric.buckets) {
            counts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut total = 0.0;
            for (bound, count) in counts {
                total += count;
                let mut with_le = with_room(&labels);
                let mut le = String::new();
                push_number(&mut le, bound);
                with_le.push(("le".into(), le));
                let slot = slots.slot((format!("{}_bucket", metric.name), with_le));
                slots.values[slot] = Some(total);
            }
            let slot = slots.slot((format!("{}_count", metric.name), labels));
            slots.values[slot] = Some(total);
        }
        let samples = slots
            .keys
            .into_iter()
            .zip(slots.values)
            .filter_map(|((name, labels), value)| {
                Some(Sample {
                    name,
                    labels,
                    value: value?,
                    timestamp_ms: None,
                })
            })
            .collect();
        (samples, groups)
    }
}

/// Checks that a key's sample belongs to a family of `kind` named after its metric, with the
/// `le` or `quantile` label where that type wants it and nowhere else.
fn check_sample(key: &Key, kind: Kind) -> Result<(), String> {
    let suffixes: &[&str] = match kind {
        Kind::Counter => &["_total"],
        Kind::Gauge => &[""],
        Kind::Histogram => &["_bucket", "_sum", "_count"],
        Kind::Summary => &["", "_sum", "_count"],
    };
    let suffix = key
        .sample
        .strip_prefix(key.metric.as_str())
        .filter(|suffix| suffixes.contains(suffix))
        .ok_or_else(|| {
            format!(
                "sample {:?} does not belong to the {} {:?}",
                key.sample,
                kind.metric_kind(),
                key.metric
            )
        })?;
    let (label, carries) = match kind {
        Kind::Histogram => ("le", suffix == "_bucket"),
        Kind::Summary => ("quantile", suffix.is_empty()),
        Kind::Counter | Kind::Gauge => return Ok(()),
    };
    match (key.labels.iter().find(|(k, _)| k == label), carries) {
        (None, false) => Ok(()),
        (Some(_), false) => Err(format!("{label} on sample {:?}", key.sample)),
        (None, true) => Err(format!("no {label} on sample {:?}", key.sample)),
        (Some((_, bound)), true) => {
            let at = if kind == Kind::Histogram {
                parse_bound(bound)
            } else {
                parse_quantile(bound)
            };
            if at.is_nan() {
                Err(format!("{label}={bound:?} is not a number"))
            } else {
                Ok(())
            }
        }
    }
}

/// Checks that a histogram's or summary's counts are whole and at least zero, and that a
/// summary has each quantile once per series, as the text format wants.
fn check_counts(metric: &Metric, samples: &[Sample]) -> Result<(), String> {
    let (count, bucket) = match metric.kind {
        Kind::Histogram | Kind::Summary => (
            format!("{}_count", metric.name),
            format!("{}_bucket", metric.name),
        ),
        Kind::Counter | Kind::Gauge => return Ok(()),
    };
    let mut quantiles: HashSet<(Labels, u64), Fx> = HashSet::default();
    for sample in samples {
        let whole =
            sample.value >= 0.0 && sample.value.fract() == 0.0 && sample.value < u64::MAX as f64;
        if (sample.name == count || sample.name == bucket) && !whole {
            return Err(format!(
                "{} has a count of {}, not a whole number at least zero",
                sample.name, sample.value
            ));
        }
        if metric.kind == Kind::Summary && sample.name == metric.name {
            let at = sample
                .labels
                .iter()
                .find(|(k, _)| k == "quantile")
                .map_or(f64::NAN, |(_, v)| parse_quantile(v));
            if !quantiles.insert((without(&sample.labels, "quantile"), at.to_bits())) {
                return Err(format!("{} has a quantile twice", sample.name));
            }
        }
    }
    Ok(())
}

/// Where the values of a counter's, histogram's or summary's key are summed.
#[derive(Debug, Clone, Copy)]
enum Sum {
    /// A sample of the merge.
    Slot(usize),
    /// A histogram bucket: the index of its labels without `le`, and of its bound among
    /// theirs.
    Bucket(usize, usize),
}

/// Where the values of a gauge's key go once its mode is known.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A sample of the merge.
    Slot(usize),
    /// A gauge of the `all` modes: the index of its name and labels without `pid`, a
    /// sample per process.
    Group(u32),
}

/// The samples of one metric's merge, in first-seen order; a sample without a value yet (a
/// `mostrecent` gauge never set with a timestamp) is left out.
#[derive(Default)]
struct Slots {
    keys: Vec<(String, Labels)>,
    values: Vec<Option<f64>>,
    /// The newest timestamp of each sample, for `mostrecent` gauges.
    timestamps: Vec<f64>,
    index: HashMap<(String, Labels), usize, Fx>,
}

impl Slots {
    fn slot(&mut self, key: (String, Labels)) -> usize {
        match self.index.entry(key) {
            MapEntry::Occupied(slot) => *slot.get(),
            MapEntry::Vacant(slot) => {
                let id = self.keys.len();
                let (name, labels) = slot.key();
                self.keys.push((name.clone(), with_room(labels)));
                self.values.push(None);
                self.timestamps.push(0.0);
                slot.insert(id);
                id
            }
        }
    }
}

/// `labels` without the label `name`, with room for one more (the page's labels are added
/// as the families are encoded, not copied into the samples).
fn without(labels: &[(String, String)], name: &str) -> Labels {
    let mut out = Vec::with_capacity(labels.len() + 1);
    out.extend(labels.iter().filter(|(k, _)| k != name).cloned());
    out
}

/// A copy of `labels`, with room for one more (a `pid` or an `le`).
fn with_room(labels: &[(String, String)]) -> Labels {
    let mut out = Vec::with_capacity(labels.len() + 1);
    out.extend(labels.iter().cloned());
    out
}

/// A bucket bound as `float()` reads it (`+Inf` and `inf` alike); NaN when it is not one.
fn parse_bound(text: &str) -> f64 {
    text.trim().parse().unwrap_or(f64::NAN)
}

/// A quantile as the text format reads it; NaN when it is not one.
fn parse_quantile(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ if text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) =>
        {
            text.parse().unwrap_or(f64::NAN)
        }
        _ => f64::NAN,
    }
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
        assert_eq!(found[1].key, key("b", "b", "\"x\": \"1\"", "B.").as_bytes());
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
        // Invalid UTF-8 in a key stops the reading there.
        let mut data = file(&[
            entry(&key("a", "a_total", "", "\u{e9}"), 1.0, 0.0),
            entry(&key("b", "b_total", "", ""), 1.0, 0.0),
        ]);
        let at = data
            .windows(2)
            .position(|w| w == "\u{e9}".as_bytes())
            .unwrap();
        data[at] = 0xff;
        let mut merge = Merge::default();
        let name = file_name("counter_1.db").unwrap();
        let problem = merge.add_file(&name, &data, &mut KeyCache::default(), 1);
        assert!(problem.unwrap().contains("UTF-8"));
        assert!(merge.families().0.is_empty());
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
            let _ = merge.add_file(&name, &data, &mut KeyCache::default(), 1);
            let _ = merge.families();
        }
    }

    #[test]
    fn keys_read_directly_as_serde_json_reads_them() {
        let serde = |key: &str| {
            serde_json::from_str::<(String, String, BTreeMap<String, String>, String)>(key)
                .map(|(metric, sample, labels, help)| Key {
                    metric,
                    sample,
                    labels: labels.into_iter().collect(),
                    help,
                })
                .ok()
        };
        // As json.dumps(..., sort_keys=True) writes them, with escapes of every kind.
        for key in [
            r#"["a", "a_total", {}, "A."]"#,
            r#"["b", "b_bucket", {"le": "0.5", "route": "/x"}, "B \\ help"]"#,
            r#"["c", "c", {"q": "say \"hi\"", "r": "new\nline\ttab\/\b\f\r"}, ""]"#,
            r#"["d", "d", {"e": "caf\u00e9 \ud83d\ude00 \u0000"}, "\u00e9"]"#,
            "[\"e\",\"e\",{\"z\":\"1\",\"a\":\"2\"},\"unsorted, compact\"]  ",
        ] {
            let fast = fast_key(key);
            assert!(fast.is_some(), "{key}");
            assert_eq!(fast, serde(key), "{key}");
        }
        // Left to serde_json: it reads some, refuses others.
        for key in [
            r#"["a", "a", {"x": "1", "x": "2"}, ""]"#,
            r#"["a", "a", {"x": 1}, ""]"#,
            r#"["a", "a", {}, "\ud800"]"#,
            r#"["a", "a", {}, "\q"]"#,
            r#"["a", "a", {}]"#,
            r#"["a", "a", {}, ""] x"#,
            "[\"a\", \"a\", {}, \"raw\ncontrol\"]",
        ] {
            assert_eq!(fast_key(key), None, "{key}");
            assert_eq!(parse_key(key).ok(), serde(key), "{key}");
        }
        assert_eq!(
            parse_key(r#"["a", "a", {"x": "1", "x": "2"}, ""]"#)
                .unwrap()
                .labels,
            [("x".to_string(), "2".to_string())]
        );
    }

    #[test]
    fn keys_that_would_spoil_the_page_are_left_out_with_their_file_reported() {
        let good = key("g", "g", "", "G.");
        for bad in [
            key("1g", "1g", "", ""),
            key("g", "g", r#""a-b": "1""#, ""),
            key("g", "other", "", ""),
        ] {
            let mut merge = Merge::default();
            let name = file_name("gauge_sum_1.db").unwrap();
            let data = file(&[entry(&bad, 1.0, 0.0), entry(&good, 2.0, 0.0)]);
            let problem = merge.add_file(&name, &data, &mut KeyCache::default(), 1);
            assert!(problem.is_some(), "{bad}");
            let (families, problems) = merge.families();
            assert!(problems.is_empty());
            assert_eq!(
                text_of(&families),
                "# HELP g G.\n# TYPE g gauge\ng 2.0\n",
                "{bad}"
            );
        }
        for (sample, labels) in [
            ("h_bucket", ""),
            ("h_sum", r#""le": "1""#),
            ("h_bucket", r#""le": "x""#),
            ("h_created", ""),
        ] {
            let mut merge = Merge::default();
            let name = file_name("histogram_1.db").unwrap();
            let data = file(&[entry(&key("h", sample, labels, ""), 1.0, 0.0)]);
            let problem = merge.add_file(&name, &data, &mut KeyCache::default(), 1);
            assert!(problem.is_some(), "{sample} {labels}");
        }
        // A count that is not whole keeps its family off; two metrics making one family keep
        // the second off.
        let mut merge = Merge::default();
        let mut cache = KeyCache::default();
        let histogram = file(&[entry(&key("h", "h_bucket", r#""le": "1""#, ""), 0.5, 0.0)]);
        let counter = file(&[entry(&key("c", "c_total", "", ""), 1.0, 0.0)]);
        let gauge = file(&[entry(&key("c_total", "c_total", "", ""), 1.0, 0.0)]);
        for (name, data) in [
            ("counter_1.db", &counter),
            ("gauge_sum_1.db", &gauge),
            ("histogram_1.db", &histogram),
        ] {
            let name = file_name(name).unwrap();
            assert_eq!(merge.add_file(&name, data, &mut cache, 1), None);
        }
        let (families, problems) = merge.families();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].name, "c_total");
        assert_eq!(families[0].kind, MetricKind::Counter);
    }

    /// Writes `counter_<pid>.db` for pids 1 to `processes`, each with a counter series per
    /// label value `i` of `labels`.
    fn write_counters(dir: &Path, processes: u32, labels: std::ops::Range<usize>) {
        let entries: Vec<Vec<u8>> = labels
            .map(|i| {
                entry(
                    &key("c", "c_total", &format!(r#""i": "{i}""#), ""),
                    1.0,
                    0.0,
                )
            })
            .collect();
        for pid in 1..=processes {
            std::fs::write(dir.join(format!("counter_{pid}.db")), file(&entries)).unwrap();
        }
    }

    #[test]
    fn a_reader_parses_each_key_once_and_forgets_keys_no_longer_written() {
        let dir = std::env::temp_dir().join(format!("dynamo-mp-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut reader = Reader::default();
        write_counters(&dir, 3, 0..3000);
        let first = reader.read_dir(&dir).unwrap();
        assert_eq!(reader.keys.len(), 3000, "one entry per distinct key");
        assert_eq!(first.families[0].samples.len(), 3000);
        assert!(first.families[0].samples.iter().all(|s| s.value == 3.0));
        // The size limit of callback text counts the text the families stand for.
        let text = text_of(&first.families);
        assert_eq!(crate::callbacks::text_bytes(&first.families), text.len());
        // Read again: the same families from the keys kept.
        let again = reader.read_dir(&dir).unwrap();
        assert_eq!(again.families, first.families);
        // Other label values: the old keys are dropped once they outnumber the keys in use.
        write_counters(&dir, 3, 5000..5010);
        let other = reader.read_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(other.families[0].samples.len(), 10);
        assert_eq!(reader.keys.len(), 10);
    }

    #[test]
    fn a_file_grown_past_its_last_size_is_read_whole() {
        let dir = std::env::temp_dir().join(format!("dynamo-mp-grow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut reader = Reader::default();
        for count in [1, 300, 2000, 5] {
            write_counters(&dir, 1, 0..count);
            let merged = reader.read_dir(&dir).unwrap();
            assert!(merged.skipped.is_empty(), "{:?}", merged.skipped);
            assert_eq!(merged.families[0].samples.len(), count);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The bound the guide states for a read of 10,000 files of processes gone, here and in
    /// the Python bindings' test: generous for a debug build on a loaded 2-core machine (the
    /// wheel's build scrapes such a directory in about 50 ms).
    const TEN_THOUSAND_FILES_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

    #[test]
    fn ten_thousand_files_of_processes_gone_still_make_a_valid_page_in_time() {
        use dynamo_exporter::TextEncoder;
        use dynamo_exporter::exposition::encode_parsed;

        let dir = std::env::temp_dir().join(format!("dynamo-mp-dead-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Pids above the largest a Linux pid can be (2^22): no such process exists.
        let counter = file(&[entry(&key("c", "c_total", "", "C."), 1.0, 0.0)]);
        let gauge = file(&[entry(&key("g", "g", "", "G."), 1.0, 0.0)]);
        let truncated = file(&[
            entry(&key("c", "c_total", "", "C."), 1.0, 0.0),
            entry(&key("c", "c_total", r#""x": "1""#, "C."), 1.0, 0.0),
        ]);
        for i in 0..5000 {
            let pid = 5_000_000 + i;
            let counter: &[u8] = if i % 100 == 0 {
                &truncated[..truncated.len() / 4 + 40]
            } else {
                &counter
            };
            std::fs::write(dir.join(format!("counter_{pid}.db")), counter).unwrap();
            std::fs::write(dir.join(format!("gauge_livesum_{pid}.db")), &gauge).unwrap();
        }
        // A file of a live process, and one removed while the read is under way.
        let own = std::process::id();
        std::fs::write(dir.join(format!("gauge_livesum_{own}.db")), &gauge).unwrap();
        let doomed = dir.join("counter_5004999.db");
        let mut reader = Reader::default();
        let removed = doomed.clone();
        reader.before_open = Some(Box::new(move |path| {
            if path.file_name() == Some(std::ffi::OsStr::new("counter_5000500.db")) {
                let _ = std::fs::remove_file(&removed);
            }
        }));
        for read in 0..2 {
            let start = std::time::Instant::now();
            let merged = reader.read_dir(&dir).unwrap();
            let took = start.elapsed();
            assert!(took < TEN_THOUSAND_FILES_BOUND, "read {read} took {took:?}");
            let mut page = String::new();
            encode_parsed(&merged.families, &mut TextEncoder::new(&mut page));
            assert!(dynamo_exporter::parse::parse(&page).is_ok(), "{page}");
            let value = |name: &str| {
                let family = merged.families.iter().find(|f| f.name == name).unwrap();
                family.samples[0].value
            };
            // The counters of every file but the one removed; the live gauges of this
            // process only.
            assert_eq!(value("c_total"), 4999.0, "read {read}");
            assert_eq!(value("g"), 1.0, "read {read}");
            // The files cut short, each read to its last whole entry, and the file removed
            // (listed at the first read only).
            let count = |why| merged.skipped.iter().filter(|s| s.why == why).count();
            assert_eq!(count(Skip::Corrupt), 50, "read {read}");
            assert_eq!(
                count(Skip::Unreadable),
                usize::from(read == 0),
                "read {read}"
            );
            assert_eq!(merged.skipped.len(), 50 + usize::from(read == 0));
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
        let mut liveness = Liveness::default();
        assert!(!liveness.gone(&std::process::id().to_string()));
        assert!(!liveness.gone("worker-a"));
        if Path::new("/proc/self").exists() {
            assert!(liveness.gone("4194304999"));
            assert!(liveness.gone("99999999999999999999999"));
        }
    }

    /// Families as the merge once wrote them in text: `# HELP`, `# TYPE`, then each sample
    /// with its labels in order.
    fn text_of(families: &[Family]) -> String {
        let mut out = String::new();
        for family in families {
            let help = family.help.as_deref().unwrap_or_default();
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {} {help}", family.name);
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
            let mut family = family.clone();
            family.expand_sets();
            for sample in &family.samples {
                out.push_str(&sample.name);
                if !sample.labels.is_empty() {
                    let labels: Vec<String> = sample
                        .labels
                        .iter()
                        .map(|(k, v)| {
                            let v = v
                                .replace('\\', "\\\\")
                                .replace('\n', "\\n")
                                .replace('"', "\\\"");
                            format!("{k}=\"{v}\"")
                        })
                        .collect();
                    let _ = write!(out, "{{{}}}", labels.join(","));
                }
                out.push(' ');
                push_number(&mut out, sample.value);
                out.push('\n');
            }
        }
        out
    }

    /// The text of `files` (name, entries) merged.
    fn merged(files: &[(&str, Vec<Vec<u8>>)]) -> String {
        let mut merge = Merge::default();
        let mut cache = KeyCache::default();
        for (name, entries) in files {
            let name = file_name(name).unwrap();
            assert_eq!(merge.add_file(&name, &file(entries), &mut cache, 1), None);
        }
        let (families, problems) = merge.families();
        assert!(problems.is_empty(), "{problems:?}");
        let text = text_of(&families);
        // The size counted against the limit of callback text: all but the escapes, and the
        // longest a value can be for those not whole.
        let bytes = crate::callbacks::text_bytes(&families);
        let not_whole = families
            .iter()
            .flat_map(|f| f.samples.iter().map(|s| s.value))
            .chain(
                families
                    .iter()
                    .flat_map(|f| &f.sets)
                    .flat_map(|set| set.values.iter().map(|(_, v)| *v)),
            )
            .filter(|v| v.fract() != 0.0)
            .count();
        assert!(text.len() <= bytes + 3, "{bytes} for {text}");
        assert!(bytes <= text.len() + 21 * not_whole, "{bytes} for {text}");
        text
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
        let merged = Reader::default().read_dir(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = text_of(&merged.families);
        assert!(text.contains("c_total 2.0\n"), "{text}");
        assert!(text.contains("g 4.0\n"), "{text}");
        let whys: Vec<Skip> = merged.skipped.iter().map(|s| s.why).collect();
        assert_eq!(whys, [Skip::Corrupt, Skip::Unreadable, Skip::Unrecognized]);
        assert!(Reader::default().read_dir(&dir).is_err());
    }
}
