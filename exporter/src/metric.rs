//! What every metric has: an id, a name, a kind and labels; the directory that finds them by
//! id; and the traits that tie handle types to their storage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

use crate::ExporterError;
use crate::MetricKind;
use crate::labels::Layout;
use crate::pool::{Cell, Pool, SlotRef};

/// Ids handed out so far; 0 is nobody (no-op handles).
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Every registered metric, by id, for the introspection of handles (which hold only their
/// slot) and for unregistering through a handle.
static DIRECTORY: LazyLock<RwLock<HashMap<u32, Arc<Core>>>> = LazyLock::new(Default::default);

/// The name, kind and labels of one registered metric (a scalar or a vec).
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

    /// The constant labels as borrowed pairs.
    pub(crate) fn const_label_refs(&self) -> Vec<(&str, &str)> {
        self.layout
            .consts()
            .iter()
            .map(|(k, v)| (&**k, &**v))
            .collect()
    }
}

pub(crate) mod sealed {
    use super::*;

    /// The storage side of a handle type; not part of the public API.
    pub trait Handle: Clone + Send + Sync + 'static {
        /// The cell of one series.
        type Cell: Cell;
        /// The Prometheus type.
        const KIND: MetricKind;
        /// The handle of a live series.
        fn from_slot(slot: SlotRef<Self::Cell>) -> Self;
        /// The series it points to.
        fn slot(&self) -> &SlotRef<Self::Cell>;
    }

    /// How a registry creates metrics of a handle type; not part of the public API.
    pub trait Create: Handle {
        /// What creating one takes besides a name, help and labels: nothing, or a
        /// histogram's buckets.
        type Settings<'a>;
        /// The storage of metrics created with `settings`, checked for the metric `name`.
        fn pool(
            name: &str,
            settings: Self::Settings<'_>,
        ) -> Result<&'static Pool<Self::Cell>, ExporterError>;
    }
}

/// A handle of one series: [`crate::Counter`], [`crate::IntCounter`], [`crate::Gauge`],
/// [`crate::IntGauge`] or [`crate::Histogram`]. Sealed: only this crate implements it.
pub trait Metric: sealed::Handle {}

/// Anything registered in a [`crate::Registry`] that can be unregistered: a handle of a
/// metric without variable labels, or a vec.
pub trait Registered {
    /// The id of the metric, or 0 for a handle that belongs to nothing.
    #[doc(hidden)]
    fn metric_id(&self) -> u32;
}

/// Defines a handle type over one slot of `$cell`, with what every handle has. A kind whose
/// creation takes settings (`histogram`) implements `sealed::Create` itself and is declared
/// with `, settings`.
macro_rules! handle {
    ($(#[$meta:meta])* $name:ident($cell:ty), $kind:expr) => {
        $crate::metric::handle!($(#[$meta])* $name($cell), $kind, settings);

        impl $crate::metric::sealed::Create for $name {
            type Settings<'a> = ();

            fn pool(
                _: &str,
                (): (),
            ) -> Result<&'static $crate::pool::Pool<$cell>, $crate::ExporterError> {
                Ok(<$cell>::pool())
            }
        }
    };
    ($(#[$meta:meta])* $name:ident($cell:ty), $kind:expr, settings) => {
        $(#[$meta])*
        #[derive(Clone)]
        #[must_use]
        pub struct $name {
            series: $crate::pool::SlotRef<$cell>,
        }

        impl $name {
            /// The cell, while the series lives.
            #[inline]
            fn cell(&self) -> Option<&'static $cell> {
                let series = &self.series;
                series.slot.holds(series.state).then_some(&series.slot.cell)
            }

            /// The full exported name; empty for a handle whose metric is gone or a no-op.
            #[must_use]
            pub fn name(&self) -> String {
                self.core().map(|c| c.name.to_string()).unwrap_or_default()
            }

            /// The constant labels (for a vec child, its vec's), sorted by name.
            #[must_use]
            pub fn const_labels(&self) -> Vec<(String, String)> {
                self.core()
                    .map(|c| c.const_label_refs().into_iter().map(|(k, v)| (k.into(), v.into())).collect())
                    .unwrap_or_default()
            }

            /// False once the series was removed (or its metric unregistered): updates then
            /// go nowhere.
            #[must_use]
            pub fn is_live(&self) -> bool {
                self.series.slot.holds(self.series.state)
            }

            fn core(&self) -> Option<std::sync::Arc<$crate::metric::Core>> {
                $crate::metric::Core::find($crate::pool::owner_of(self.series.state))
            }
        }

        impl $crate::metric::sealed::Handle for $name {
            type Cell = $cell;
            const KIND: $crate::MetricKind = $kind;

            fn from_slot(series: $crate::pool::SlotRef<$cell>) -> Self {
                Self { series }
            }

            fn slot(&self) -> &$crate::pool::SlotRef<$cell> {
                &self.series
            }
        }

        impl $crate::metric::Metric for $name {}

        impl $crate::metric::Registered for $name {
            fn metric_id(&self) -> u32 {
                $crate::pool::owner_of(self.series.state)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("name", &self.name())
                    .field("const_labels", &self.const_labels())
                    .field("live", &self.is_live())
                    .finish()
            }
        }
    };
}

pub(crate) use handle;
