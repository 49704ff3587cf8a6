//! Memory for the pools' chunks: the heap, or, in multiprocess mode, files of the directory
//! mapped into memory, so that another process can read every cell as it is updated.
//!
//! The mode is chosen once per process, before the first chunk: by [`set_directory`], or
//! else by `DYN_METRICS_MULTIPROC_DIR`. In multiprocess mode each chunk is a file
//! `dynamo_<pid>_<pool>_<chunk>.cells` mapped shared, and the catalog (`super::catalog`) says
//! what its slots hold. An update writes to the mapped page as it would to the heap: no
//! instruction is added to it.
//!
//! A forked child inherits the parent's mappings, shared: its updates would land in the
//! parent's files. So [`after_fork_in_child`] copies each chunk to a file of the child's own
//! and maps the copy at the same address, with every cell back at zero (the child counts its
//! own updates, as `prometheus_client`'s children do), and starts the child's catalog with the
//! parent's records.

// Mapping files into memory, and copying a chunk for a forked child, take `unsafe`: this
// module, the chunk's construction in `pool.rs` and nothing else.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::error::ExporterError;

/// The variable that turns multiprocess mode on: the directory of the processes' files.
pub const DIRECTORY_VARIABLE: &str = "DYN_METRICS_MULTIPROC_DIR";

/// The multiprocess directory of this process, if any; fixed at the first chunk.
static DIRECTORY: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Chunks mapped from files, to copy for a forked child.
static MAPPINGS: Mutex<Vec<Mapping>> = Mutex::new(Vec::new());

/// One chunk mapped from a file.
struct Mapping {
    address: usize,
    len: usize,
    /// `<pool>_<chunk>`: the file's name without the process.
    name: String,
    /// Sets every cell of the chunk back to zero.
    reset: unsafe fn(usize),
}

/// Puts this process in multiprocess mode, its cells in files of `directory`.
///
/// # Errors
///
/// When the directory cannot be created, or when the process already chose otherwise (a
/// metric was created first, or another directory was set).
pub fn set_directory(directory: &Path) -> Result<(), ExporterError> {
    std::fs::create_dir_all(directory).map_err(|e| ExporterError::Multiprocess {
        path: directory.display().to_string(),
        reason: e.to_string(),
    })?;
    let wanted = Some(directory.to_path_buf());
    let chosen = DIRECTORY.get_or_init(|| wanted.clone());
    if *chosen == wanted {
        return Ok(());
    }
    Err(ExporterError::Multiprocess {
        path: directory.display().to_string(),
        reason: match chosen {
            Some(other) => format!("the process already uses {}", other.display()),
            None => "metrics were created before the directory was set; set it first".into(),
        },
    })
}

/// The multiprocess directory, if the process is in multiprocess mode (read from
/// `DYN_METRICS_MULTIPROC_DIR` when nothing chose yet).
pub fn directory() -> Option<&'static Path> {
    DIRECTORY
        .get_or_init(|| {
            let dir = std::env::var_os(DIRECTORY_VARIABLE).filter(|d| !d.is_empty())?;
            let dir = PathBuf::from(dir);
            match std::fs::create_dir_all(&dir) {
                Ok(()) => Some(dir),
                Err(error) => {
                    tracing::error!(dir = %dir.display(), %error, "{DIRECTORY_VARIABLE} cannot be used: metrics stay in this process");
                    None
                }
            }
        })
        .as_deref()
}

/// Zeroed memory of `len` bytes, aligned to 8, for the life of the process: a file of the
/// directory in multiprocess mode (named by the pool and the chunk's number), else the heap.
/// `reset` sets the cells of the chunk at an address back to zero.
/// Returns the memory and whether it is a file's.
pub(crate) fn chunk_memory(
    len: usize,
    pool: &str,
    chunk: u32,
    reset: unsafe fn(usize),
) -> (*mut u8, bool) {
    if let Some(dir) = directory() {
        let name = format!("{pool}_{chunk}");
        match map_new(&dir.join(file_name(std::process::id(), &name)), len, None) {
            Ok(address) => {
                MAPPINGS.lock().push(Mapping {
                    address: address as usize,
                    len,
                    name,
                    reset,
                });
                return (address, true);
            }
            Err(error) => {
                tracing::error!(%error, pool, chunk, "cannot map a chunk in the multiprocess directory: its series stay in this process");
            }
        }
    }
    let layout = std::alloc::Layout::from_size_align(len, 8).expect("chunk layout");
    // SAFETY: the layout is not zero-sized (a chunk holds slots).
    let memory = unsafe { std::alloc::alloc_zeroed(layout) };
    if memory.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    (memory, false)
}

/// The file of a chunk of process `pid`.
pub(crate) fn file_name(pid: u32, name: &str) -> String {
    format!("dynamo_{pid}_{name}.cells")
}

/// Creates `path` with `len` bytes (a copy of `from`, or zeros) and maps it shared, at
/// `from`'s address when given.
fn map_new(path: &Path, len: usize, from: Option<*mut u8>) -> std::io::Result<*mut u8> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    match from {
        // SAFETY: `from` is a live mapping of `len` bytes.
        Some(address) => file.write_all(unsafe { std::slice::from_raw_parts(address, len) })?,
        None => file.set_len(len as u64)?,
    }
    map_file(&file, len, from)
}

fn map_file(file: &File, len: usize, at: Option<*mut u8>) -> std::io::Result<*mut u8> {
    let (address, fixed) = match at {
        Some(address) => (address.cast::<libc::c_void>(), libc::MAP_FIXED),
        None => (std::ptr::null_mut(), 0),
    };
    // SAFETY: a shared mapping of a file of `len` bytes; with `MAP_FIXED` it replaces a
    // mapping of ours of the same length, while no other thread runs (a child after fork).
    let mapped = unsafe {
        libc::mmap(
            address,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | fixed,
            file.as_raw_fd(),
            0,
        )
    };
    if mapped == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(mapped.cast())
}

/// In a forked child, before any other thread starts: gives each mapped chunk a file of the
/// child's own, its cells at zero, and starts the child's catalog.
pub(crate) fn after_fork_in_child() {
    let Some(dir) = DIRECTORY.get().and_then(Option::as_deref) else {
        return;
    };
    let pid = std::process::id();
    for mapping in MAPPINGS.lock().iter() {
        let path = dir.join(file_name(pid, &mapping.name));
        let address = mapping.address as *mut u8;
        match map_new(&path, mapping.len, Some(address)) {
            // SAFETY: the chunk at `address` is of the type `reset` was made for.
            Ok(_) => unsafe { (mapping.reset)(mapping.address) },
            Err(error) => {
                // The chunk stays the parent's: keep the child's updates out of it.
                tracing::error!(%error, "cannot copy a chunk for a forked child");
                // SAFETY: as above.
                unsafe { (mapping.reset)(mapping.address) };
            }
        }
    }
    // The parent's claim is not the child's (its descriptor closes here, the lock stays).
    drop(CLAIM.lock().take());
    super::catalog::after_fork_in_child(dir, pid);
}

/// The claim of this process on the directory's status server: the file it holds a POSIX
/// record lock on, for the life of the process.
static CLAIM: Mutex<Option<File>> = Mutex::new(None);

/// Claims the directory's status server for this process: true when it is this process's,
/// false when another live process holds it. Only one process of a worker (the first to ask)
/// serves the page. A forked child never inherits the claim (a POSIX record lock is not
/// inherited), and the claim lasts as long as the process.
#[must_use]
pub fn claim_server(dir: &Path) -> bool {
    let _section = crate::fork::enter();
    let mut claim = CLAIM.lock();
    if claim.is_some() {
        return true;
    }
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("dynamo_server.lock"))
    else {
        return false;
    };
    // SAFETY: a zeroed `flock` is a valid value to fill in.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    // SAFETY: F_SETLK with a valid `flock` on an open descriptor.
    let taken = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) } == 0;
    if taken {
        *claim = Some(file);
    }
    taken
}
