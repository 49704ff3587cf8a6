//! Where series live, and how they are found and walked.
//!
//! - [`pool`]: every series in a slot of a process-wide pool of its cell type; slots are
//!   reused, never freed, so a handle is a plain reference and an update one check and one
//!   atomic operation.
//! - [`fingerprint`] and [`index`]: a vec finds the series of a set of label values without
//!   a lock, from the values' fingerprint (short values themselves, else a 128-bit hash).
//! - [`members`]: the series of a vec (or of a family's scalars) in sorted runs, which a
//!   scrape walks from a snapshot while writers go on.
//! - [`labels`]: a metric's label layout, and the keys that hold a series' label pairs as text.
//! - [`directory`]: every registered metric by id, for the introspection of handles.
//! - [`atomics`]: f64 arithmetic on atomic words.
//! - [`mapped`] and [`catalog`]: the memory of the pools' chunks (the heap, or files another
//!   process reads in multiprocess mode), and the record of what those files hold.
//!
//! Nothing here knows a metric kind or an exposition format: a kind brings its cell type
//! ([`pool::Cell`]), and encoders read series through [`pool::Series`].

pub(crate) mod atomics;
pub(crate) mod catalog;
pub(crate) mod directory;
pub(crate) mod fingerprint;
pub(crate) mod index;
pub(crate) mod labels;
pub(crate) mod mapped;
pub(crate) mod members;
pub(crate) mod pool;
