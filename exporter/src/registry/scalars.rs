//! The metrics of a family without variable labels: each one series in a slot of its kind's
//! pool, kept with the other scalars of that pool in one sorted group for scrapes.

use std::any::Any;
use std::sync::Arc;

use crate::kinds::table::MetricKind;
use crate::registry::idle::Idle;
use crate::storage::directory::Core;
use crate::storage::members::{Members, Merge};
use crate::storage::pool::{Cell, Pool, Series, SlotRef};

/// A scalar's slot, whatever its cell type: the pool, the slot's index and the state the
/// series was given, and the family's type.
#[derive(Clone, Copy)]
pub(crate) struct AnySlot {
    pool: &'static dyn Series,
    index: u32,
    state: u64,
    /// The type of the family it was registered in.
    pub(crate) kind: MetricKind,
}

impl AnySlot {
    pub(crate) fn new<C: Cell>(
        slot: &SlotRef<C>,
        pool: &'static Pool<C>,
        kind: MetricKind,
    ) -> Self {
        Self {
            pool,
            index: slot.index(),
            state: slot.state,
            kind,
        }
    }

    /// A hold on the series as a series of cell type `C`, if that is its type and it lives.
    pub(crate) fn typed<C: Cell>(&self) -> Option<SlotRef<C>> {
        let pool: &'static dyn Any = self.pool.as_any();
        let pool = pool.downcast_ref::<Pool<C>>()?;
        // The state was read long before: checked again after the hold.
        SlotRef::hold(pool.slot(self.index)?, self.state).filter(SlotRef::is_live)
    }

    /// The slot's index in its pool and the generation of the series.
    pub(crate) fn index_generation(&self) -> (u32, u32) {
        (self.index, (self.state >> 32) as u32)
    }

    pub(crate) fn pool(&self) -> &'static dyn Series {
        self.pool
    }
}

/// A registered metric without variable labels.
pub(crate) struct Scalar {
    pub(crate) core: Arc<Core>,
    pub(crate) slot: AnySlot,
    /// Created by a metric macro: counted against the bound, and dropped when idle.
    pub(crate) by_macro: Option<Idle>,
}

/// The scalars of a family that share one pool, in label order.
pub(crate) struct ScalarGroup {
    pub(crate) pool: &'static dyn Series,
    pub(crate) members: Members,
}

/// The scalar groups of a family, by pool.
#[derive(Default)]
pub(crate) struct ScalarGroups(std::collections::HashMap<usize, ScalarGroup>);

impl ScalarGroups {
    /// Puts a new series in its pool's group.
    pub(crate) fn add(&mut self, slot: &AnySlot, key: &str) {
        let pool = slot.pool();
        let group = self.0.entry(pool_key(pool)).or_insert_with(|| ScalarGroup {
            pool,
            members: Members::default(),
        });
        group.members.push(slot.index, slot.state, key);
    }

    /// Ends the series of `slot`; merges its group's runs once ended series pile up.
    pub(crate) fn end(&mut self, slot: &AnySlot) {
        let (index, generation) = slot.index_generation();
        slot.pool().end(index, generation);
        let key = pool_key(slot.pool());
        let merge = self.0.get_mut(&key).and_then(|g| g.members.ended());
        self.merge_now(key, merge);
    }

    /// Every group.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut ScalarGroup> {
        self.0.values_mut()
    }

    /// Merges the runs that piled up in every group (after a scrape).
    pub(crate) fn tidy(&mut self) {
        let keys: Vec<usize> = self.0.keys().copied().collect();
        for key in keys {
            let merge = self.0.get_mut(&key).and_then(|g| g.members.plan());
            self.merge_now(key, merge);
        }
    }

    /// Merges a group's runs right away (scalar groups are small and change rarely).
    fn merge_now(&mut self, key: usize, merge: Option<Merge>) {
        let (Some(merge), Some(group)) = (merge, self.0.get_mut(&key)) else {
            return;
        };
        let pool = group.pool;
        let (run, dropped) = merge.merge(|e| pool.is_live(e.slot, e.generation));
        group.members.install(merge, run, dropped);
    }
}

fn pool_key(pool: &'static dyn Series) -> usize {
    std::ptr::from_ref(pool).cast::<()>() as usize
}
