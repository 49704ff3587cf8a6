//! Metric kinds: one file each in `kinds/`, and the table of them (`kinds/table.rs`: the
//! Prometheus types, [`MetricKind`], and the handles this crate stores, `metric_kinds!`), which
//! every layer's creators, classes and re-exports are generated from.
//!
//! A kind's file holds its cell (the atomics of one series and their operations), its handle
//! (given what every handle has by `handle!`), how a registry creates it, and how its series
//! reads as a [`crate::exposition::Value`].

pub(crate) mod exemplar;
pub(crate) mod handle;
mod info;
mod stateset;
pub(crate) mod table;

pub use handle::{Metric, Registered};
// Infos and statesets: kept as lists rather than pool slots, so not in the table.
pub use info::{Info, InfoVec};
pub use stateset::{StateSet, StateSetVec};
pub use table::MetricKind;

/// Each kind's module, and its handles.
macro_rules! kind_modules {
    ($($module:ident {$($handle:ident, $vec:ident: $reg:ident, $reg_vec:ident / $create:ident,
        $create_vec:ident; $one:literal, $many:literal $(, $settings:ident)?;)*})*) => {$(
        mod $module;
        pub use $module::{$($handle),*};
    )*};
}

crate::metric_kinds!(kind_modules);

pub use counter::{CounterNumber, GenericCounter};
pub(crate) use counter::{F64Counter, U64Counter};
pub(crate) use exemplar::ExemplarTable;
pub use exemplar::{Exemplar, ExemplarNames, MAX_EXEMPLAR_RUNES, RecordedExemplar};
pub(crate) use gauge::{F64Gauge, I64Gauge};
pub use gauge::{GaugeNumber, GenericGauge};
pub use histogram::{DEFAULT_BUCKETS, HistogramTimer, MAX_BUCKETS, NativeHistogram};
pub(crate) use histogram::{
    HistogramCell, default_pool as default_histogram_pool, native_pool as native_histogram_pool,
};
