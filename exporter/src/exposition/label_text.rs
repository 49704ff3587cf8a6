//! A series' label pairs as the text formats write them (`a="1",b="2"`), from the text the
//! storage keeps already: a vec series' key is the text of its variable pairs, and the constant
//! pairs around it are written once per vec layout.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use super::escape::push_pairs;
use super::{ExtraLabels, Labels, LabelsRepr};
use crate::storage::labels::Layout;

/// Writes label pairs, remembering the constant label text of each vec layout it meets.
#[derive(Default)]
pub(crate) struct LabelText {
    /// The constant label text of each vec layout seen, by address.
    pieces: HashMap<usize, Rc<Pieces>>,
    /// The layout of the last series and its pieces, so a run of one vec's series looks
    /// nothing up.
    last: Option<(usize, Rc<Pieces>)>,
}

/// A vec's constant labels as text, before and after its variable labels; `None` when they
/// interleave, and each series writes every pair.
struct Pieces {
    around: Option<(String, String)>,
}

impl LabelText {
    /// Appends the label pairs, comma-separated, label values escaped; false when there are
    /// none.
    pub(crate) fn write(&mut self, out: &mut String, labels: &Labels<'_>) -> bool {
        match labels.repr {
            LabelsRepr::Vec { layout, key } => self.vec_labels(out, layout, key, labels),
            LabelsRepr::Pairs { key } if labels.extra.is_empty() => {
                // The key is the pairs' text already.
                out.push_str(key);
                !key.is_empty()
            }
            LabelsRepr::Pairs { .. }
            | LabelsRepr::Overflow { .. }
            | LabelsRepr::Owned(_)
            | LabelsRepr::OwnedWith { .. } => push_pairs(out, labels.iter()),
        }
    }

    fn vec_labels(
        &mut self,
        out: &mut String,
        layout: &Layout,
        key: &str,
        labels: &Labels<'_>,
    ) -> bool {
        let address = std::ptr::from_ref(layout) as usize;
        if self.last.as_ref().is_none_or(|(last, _)| *last != address) {
            let pieces = Rc::clone(
                self.pieces
                    .entry(address)
                    .or_insert_with(|| Rc::new(Pieces::of(layout, labels.extra))),
            );
            self.last = Some((address, pieces));
        }
        // The pieces stay in `last`, borrowed there: no reference count moves per series.
        let Some((before, after)) = self.last.as_ref().and_then(|(_, p)| p.around.as_ref()) else {
            return push_pairs(out, labels.iter());
        };
        // The key is the text of the variable pairs already.
        if !before.is_empty() {
            out.push_str(before);
        }
        out.push_str(key);
        if !after.is_empty() {
            out.push_str(after);
        }
        !(before.is_empty() && after.is_empty() && key.is_empty())
    }
}

impl Pieces {
    /// The pieces of a layout, the registry's `extra` labels among its constant ones where it
    /// has no label of the same name.
    fn of(layout: &Layout, extra: &ExtraLabels) -> Self {
        let mut consts: Vec<(Box<str>, Box<str>)> = layout.consts().to_vec();
        for (name, value) in extra {
            let taken =
                consts.iter().any(|(k, _)| k == name) || layout.names().iter().any(|n| n == name);
            if !taken {
                consts.push((name.clone(), value.clone()));
            }
        }
        consts.sort();
        let effective = Layout::new(consts, layout.names().to_vec());
        let Some(split) = effective.contiguous_at() else {
            return Self { around: None };
        };
        let has_vars = !layout.names().is_empty();
        let pairs = |range: &[(Box<str>, Box<str>)]| {
            let mut text = String::new();
            push_pairs(
                &mut text,
                range.iter().map(|(k, v)| (&**k, Cow::Borrowed(&**v))),
            );
            text
        };
        let (consts_before, consts_after) = effective.consts().split_at(split);
        let mut before = pairs(consts_before);
        let mut after = pairs(consts_after);
        if has_vars && !before.is_empty() {
            before.push(',');
        }
        if (has_vars || !before.is_empty()) && !after.is_empty() {
            after.insert(0, ',');
        }
        Self {
            around: Some((before, after)),
        }
    }
}
