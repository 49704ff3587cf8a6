//! Every registered metric by id: its name, its registry and its labels, for handles, which
//! hold only their slot, and for unregistering through a handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

use crate::storage::labels::Layout;

/// Ids handed out so far; 0 is nobody (no-op handles).
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Every registered metric, by id.
static DIRECTORY: LazyLock<RwLock<HashMap<u32, Arc<Core>>>> = LazyLock::new(Default::default);

/// The name and labels of one registered metric (a scalar or a vec).
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) id: u32,
    /// The registry it belongs to.
    pub(crate) registry: u64,
    pub(crate) name: Arc<str>,
    pub(crate) layout: Layout,
}

impl Core {
    /// A new metric with a fresh id, entered into the directory.
    pub(crate) fn register(registry: u64, name: Arc<str>, layout: Layout) -> Arc<Self> {
        let _section = crate::fork::enter();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let core = Arc::new(Self {
            id,
            registry,
            name,
            layout,
        });
        DIRECTORY.write().insert(id, Arc::clone(&core));
        core
    }

    /// The metric with this id, while it is registered.
    pub(crate) fn find(id: u32) -> Option<Arc<Self>> {
        let _section = crate::fork::enter();
        DIRECTORY.read().get(&id).cloned()
    }

    /// Takes the metric out of the directory.
    pub(crate) fn retire(&self) {
        let _section = crate::fork::enter();
        DIRECTORY.write().remove(&self.id);
    }

    /// The constant labels, sorted by name.
    pub(crate) fn const_labels(&self) -> Vec<(String, String)> {
        self.layout
            .consts()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
