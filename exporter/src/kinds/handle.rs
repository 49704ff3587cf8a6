//! What every handle has: the sealed traits that tie a handle type to its storage, and the
//! [`handle!`] macro that gives a kind's handle its name, labels and liveness.

use crate::error::ExporterError;
use crate::kinds::NativeHistogram;
use crate::kinds::table::MetricKind;
use crate::storage::pool::{Cell, Pool, SlotRef};

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
        /// The storage of metrics named `name` created with `settings` (and, for a
        /// histogram, `native` buckets), checked.
        fn pool(
            name: &str,
            native: Option<&NativeHistogram>,
            settings: Self::Settings<'_>,
        ) -> Result<&'static Pool<Self::Cell>, ExporterError>;
    }
}

/// A handle of one series: a counter, gauge or histogram of any number type. Sealed: only
/// this crate implements it.
pub trait Metric: sealed::Handle {}

/// Anything registered in a [`crate::Registry`] that can be unregistered: a handle of a
/// metric without variable labels, or a vec.
pub trait Registered {
    /// The id of the metric, or 0 for a handle that belongs to nothing.
    #[doc(hidden)]
    fn metric_id(&self) -> u32;
}

/// Gives a kind's handle type (a struct with one field, `series: SlotRef<cell>`) what every
/// handle has: `name`, `const_labels`, `is_live`, its storage traits and `Debug`.
///
/// `handle! { impl[generics] Type, cell type, MetricKind, "name for Debug" }`
macro_rules! handle {
    (impl[$($generics:tt)*] $handle:ty, $cell:ty, $kind:expr, $debug_name:expr) => {
        impl<$($generics)*> $handle {
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
                self.core().map(|c| c.const_labels()).unwrap_or_default()
            }

            /// False once the series was removed (or its metric unregistered): updates then
            /// go nowhere.
            #[must_use]
            pub fn is_live(&self) -> bool {
                self.series.slot.holds(self.series.state)
            }

            fn core(&self) -> Option<std::sync::Arc<$crate::storage::directory::Core>> {
                $crate::storage::directory::Core::find($crate::storage::pool::owner_of(
                    self.series.state,
                ))
            }
        }

        impl<$($generics)*> $crate::kinds::handle::sealed::Handle for $handle {
            type Cell = $cell;
            const KIND: $crate::kinds::table::MetricKind = $kind;

            #[inline(always)]
            fn from_slot(series: $crate::storage::pool::SlotRef<$cell>) -> Self {
                Self { series }
            }

            fn slot(&self) -> &$crate::storage::pool::SlotRef<$cell> {
                &self.series
            }
        }

        impl<$($generics)*> $crate::kinds::handle::Metric for $handle {}

        impl<$($generics)*> $crate::kinds::handle::Registered for $handle {
            fn metric_id(&self) -> u32 {
                $crate::storage::pool::owner_of(self.series.state)
            }
        }

        impl<$($generics)*> Clone for $handle {
            #[inline(always)]
            fn clone(&self) -> Self {
                Self {
                    series: self.series.clone(),
                }
            }
        }

        impl<$($generics)*> std::fmt::Debug for $handle {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct($debug_name)
                    .field("name", &self.name())
                    .field("const_labels", &self.const_labels())
                    .field("live", &self.is_live())
                    .finish()
            }
        }
    };
}

pub(crate) use handle;
