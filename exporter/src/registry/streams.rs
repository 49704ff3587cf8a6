//! A family's series for a scrape: streams of series in label order (one per vec, per group
//! of scalars, per overflow series), merged into one order and handed to an encoder.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::exposition::{Encoder, ExtraLabels, FamilyInfo, Labels, LabelsRepr, Series};
use crate::storage::directory::Core;
use crate::storage::labels::cmp_pairs;
use crate::storage::members::{Entry, Merged, Run, Snapshot};
use crate::storage::pool::{Cell, Pool, Series as Slots};

/// Something whose series a family renders: a vec.
pub(crate) trait Source: Send + Sync {
    /// The vec's name and labels.
    fn core(&self) -> &Arc<Core>;
    /// Appends the streams of its series, as they are now.
    fn streams(&self, out: &mut Vec<Stream>);
    /// Merges runs of its series, after a scrape.
    fn tidy(&self);
    /// Ends every series and refuses new ones: the vec was unregistered.
    fn detach(&self);
}

/// Series in label order from one place, and how to read their values.
pub(crate) struct Stream {
    labels: StreamLabels,
    items: Items,
    pool: &'static dyn Slots,
}

enum StreamLabels {
    /// Keys hold a vec's variable values.
    Vec(Arc<Core>),
    /// Keys hold every label pair.
    Pairs,
    /// The overflow series of a vec.
    Overflow(Arc<Core>),
}

enum Items {
    Members(Snapshot),
    /// One series: its slot and generation.
    One(u32, u32),
}

impl Stream {
    /// The series of a vec.
    pub(crate) fn vec<C: Cell>(core: Arc<Core>, members: Snapshot, pool: &'static Pool<C>) -> Self {
        Self {
            labels: StreamLabels::Vec(core),
            items: Items::Members(members),
            pool,
        }
    }

    /// The overflow series of a vec.
    pub(crate) fn overflow<C: Cell>(
        core: Arc<Core>,
        index: u32,
        state: u64,
        pool: &'static Pool<C>,
    ) -> Self {
        Self {
            labels: StreamLabels::Overflow(core),
            items: Items::One(index, (state >> 32) as u32),
            pool,
        }
    }

    /// Scalars of one pool, whose keys hold every pair.
    pub(crate) fn scalars(members: Snapshot, pool: &'static dyn Slots) -> Self {
        Self {
            labels: StreamLabels::Pairs,
            items: Items::Members(members),
            pool,
        }
    }

    fn required_consts(&self, required: &[(&str, &str)]) -> bool {
        match &self.labels {
            StreamLabels::Vec(core) | StreamLabels::Overflow(core) => {
                core.layout.has_consts(required)
            }
            StreamLabels::Pairs => true,
        }
    }

    fn cursor<'a>(&'a self, extra: &'a ExtraLabels) -> Cursor<'a> {
        let iter = match &self.items {
            Items::Members(snapshot) => CursorIter::Members(snapshot.iter()),
            Items::One(index, state) => CursorIter::One(Some((*index, *state))),
        };
        let mut cursor = Cursor {
            stream: self,
            extra,
            iter,
            head: None,
            exemplars: self.pool.has_exemplars(),
        };
        cursor.advance();
        cursor
    }
}

/// A position in a stream: its next series.
struct Cursor<'a> {
    stream: &'a Stream,
    extra: &'a ExtraLabels,
    iter: CursorIter<'a>,
    head: Option<(Labels<'a>, u32, u32)>,
    /// Whether the stream's pool had any exemplar when the cursor was made.
    exemplars: bool,
}

enum CursorIter<'a> {
    Members(Merged<'a>),
    One(Option<(u32, u32)>),
}

impl<'a> Cursor<'a> {
    fn advance(&mut self) {
        self.head = match &mut self.iter {
            CursorIter::Members(merged) => {
                merged.next().map(|(run, entry): (&'a Run, &'a Entry)| {
                    let key = run.key(entry);
                    let repr = match &self.stream.labels {
                        StreamLabels::Vec(core) => LabelsRepr::Vec {
                            layout: &core.layout,
                            key,
                        },
                        StreamLabels::Pairs | StreamLabels::Overflow(_) => {
                            LabelsRepr::Pairs { key }
                        }
                    };
                    (
                        Labels {
                            repr,
                            extra: self.extra,
                        },
                        entry.slot,
                        entry.generation,
                    )
                })
            }
            CursorIter::One(one) => {
                one.take()
                    .and_then(|(index, state)| match &self.stream.labels {
                        StreamLabels::Overflow(core) => Some((
                            Labels {
                                repr: LabelsRepr::Overflow {
                                    layout: &core.layout,
                                },
                                extra: self.extra,
                            },
                            index,
                            state,
                        )),
                        _ => None,
                    })
            }
        };
    }
}

/// A cursor with a series, ordered for a min-heap: the smallest labels are the greatest.
struct Next<'a>(Cursor<'a>);

impl Next<'_> {
    fn labels(&self) -> &Labels<'_> {
        match &self.0.head {
            Some((labels, ..)) => labels,
            None => unreachable!("only cursors with a series are in the heap"),
        }
    }
}

impl PartialEq for Next<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Next<'_> {}

impl PartialOrd for Next<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Next<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_pairs(other.labels().iter(), self.labels().iter())
    }
}

/// Hands the series of `streams` whose labels include every `required` pair to `encoder` in
/// label order, announcing the family before the first; returns whether it had any.
pub(crate) fn write_series(
    streams: &[Stream],
    required: &[(&str, &str)],
    extra: &ExtraLabels,
    info: &FamilyInfo<'_>,
    encoder: &mut dyn Encoder,
) -> bool {
    let mut cursors = streams
        .iter()
        .filter(|s| s.required_consts(required))
        .map(|s| s.cursor(extra))
        .filter(|c| c.head.is_some());
    let mut scratch = Vec::new();
    let mut exemplars = Vec::new();
    let mut started = false;
    let mut emit = |cursor: &Cursor<'_>, scratch: &mut Vec<u64>| {
        let Some((labels, index, state)) = &cursor.head else {
            return;
        };
        let pairs = matches!(labels.repr, LabelsRepr::Pairs { .. });
        if pairs && !required.is_empty() && !labels.has(required) {
            return;
        }
        if let Some(value) = cursor.stream.pool.read(*index, *state, scratch) {
            if !started {
                encoder.family(info);
                started = true;
            }
            exemplars.clear();
            if cursor.exemplars {
                cursor.stream.pool.exemplars(*index, *state, &mut exemplars);
            }
            encoder.series(&Series {
                labels: *labels,
                value,
                timestamp_ms: None,
                exemplars: &exemplars,
            });
        }
    };
    let (Some(mut first), second) = (cursors.next(), cursors.next()) else {
        return false;
    };
    let Some(second) = second else {
        // One stream, the usual case: its own order is the family's.
        while first.head.is_some() {
            emit(&first, &mut scratch);
            first.advance();
        }
        return started;
    };
    let mut heap: BinaryHeap<Next<'_>> = [first, second]
        .into_iter()
        .chain(cursors)
        .map(Next)
        .collect();
    while let Some(mut next) = heap.peek_mut() {
        emit(&next.0, &mut scratch);
        next.0.advance();
        if next.0.head.is_none() {
            std::collections::binary_heap::PeekMut::pop(next);
        }
    }
    started
}
