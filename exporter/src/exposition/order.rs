//! The order of a family's series on a page: by their label pairs, sorted by name, with the
//! registry's extra labels among them.

use std::collections::HashMap;

use super::{ExtraLabels, Labels};

/// The label pairs of one series, sorted by name.
pub(crate) trait PairList {
    /// How many pairs.
    fn len(&self) -> usize;

    /// The pair at `index` (less than [`PairList::len`]).
    fn get(&self, index: usize) -> (&str, &str);

    /// The pairs with the registry's extra labels.
    fn with_extra<'b>(&'b self, extra: &'b ExtraLabels) -> Labels<'b>;

    /// Every pair, in order.
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        (0..self.len()).map(|index| self.get(index))
    }
}

impl PairList for [(String, String)] {
    fn len(&self) -> usize {
        <[(String, String)]>::len(self)
    }

    fn get(&self, index: usize) -> (&str, &str) {
        let (name, value) = &self[index];
        (name, value)
    }

    fn with_extra<'b>(&'b self, extra: &'b ExtraLabels) -> Labels<'b> {
        Labels::sorted_with_extra(self, extra)
    }
}

impl<T: PairList + ?Sized> PairList for &T {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn get(&self, index: usize) -> (&str, &str) {
        (**self).get(index)
    }

    fn with_extra<'b>(&'b self, extra: &'b ExtraLabels) -> Labels<'b> {
        (**self).with_extra(extra)
    }
}

/// The order of `series` by their labels with `extra` added, as indexes. When every series
/// has the same label names, as the series of a large family usually do, each label's values
/// are ranked once and the series sorted by their ranks: the same order, with a string
/// compare per distinct value rather than several per comparison of two series.
pub(crate) fn label_order<T: PairList>(series: &[T], extra: &ExtraLabels) -> Vec<u32> {
    let mut order: Vec<u32> = (0..u32::try_from(series.len()).unwrap_or(u32::MAX)).collect();
    let Some(first) = series.first() else {
        return order;
    };
    let labels = |at: &u32| &series[*at as usize];
    let width = first.len();
    let same_names = series
        .iter()
        .all(|one| one.len() == width && one.pairs().zip(first.pairs()).all(|(a, b)| a.0 == b.0));
    // Extra labels go to the same places in series with the same label names, which then
    // sort as their own labels do; series whose names differ sort with the extra labels.
    if !same_names && !extra.is_empty() {
        order.sort_by(|a, b| {
            let a = labels(a).with_extra(extra);
            let b = labels(b).with_extra(extra);
            a.iter().cmp(b.iter())
        });
        return order;
    }
    if series.is_sorted_by(|a, b| a.pairs().le(b.pairs())) {
        return order;
    }
    if !same_names || width == 0 {
        order.sort_by(|a, b| labels(a).pairs().cmp(labels(b).pairs()));
        return order;
    }
    let mut ranks = vec![0_u32; series.len() * width];
    for at in 0..width {
        let mut ids: HashMap<&str, u32, foldhash::fast::RandomState> = HashMap::default();
        let mut first: Vec<u32> = Vec::with_capacity(series.len());
        for one in series {
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            first.push(*ids.entry(one.get(at).1).or_insert(next));
        }
        let mut distinct: Vec<(&str, u32)> = ids.into_iter().collect();
        distinct.sort_unstable();
        let mut rank_of = vec![0_u32; distinct.len()];
        for (rank, (_, id)) in distinct.iter().enumerate() {
            rank_of[*id as usize] = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        for (row, id) in first.iter().enumerate() {
            ranks[row * width + at] = rank_of[*id as usize];
        }
    }
    let row = |at: u32| &ranks[at as usize * width..(at as usize + 1) * width];
    order.sort_by(|&a, &b| row(a).cmp(row(b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.into(), value.into())
    }

    #[test]
    fn series_ordered_by_ranks_come_in_label_order() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for names in [&["a", "b", "c"][..], &["a", "b"], &["x"]] {
            let mut series: Vec<Vec<(String, String)>> = (0..600)
                .map(|_| {
                    names
                        .iter()
                        .map(|name| (name.to_string(), format!("v{}", next(40))))
                        .collect()
                })
                .collect();
            // A series without the last label: the labels differ in names, sorted as they are.
            if names.len() == 2 {
                series[7] = vec![pair("a", "v3")];
            }
            let mut expected = series.clone();
            expected.sort();
            let lists: Vec<&[(String, String)]> = series.iter().map(Vec::as_slice).collect();
            let got: Vec<Vec<(String, String)>> = label_order(&lists, &[])
                .into_iter()
                .map(|at| series[at as usize].clone())
                .collect();
            assert_eq!(got, expected, "{names:?}");
        }
    }

    #[test]
    fn extra_labels_take_their_places_among_labels_of_other_names() {
        let series = [
            vec![pair("z", "1")],
            vec![pair("a", "2")],
            vec![pair("job", "own"), pair("z", "0")],
        ];
        let extra: Box<ExtraLabels> = vec![(Box::from("job"), Box::from("added"))].into();
        let lists: Vec<&[(String, String)]> = series.iter().map(Vec::as_slice).collect();
        // With `job="added"`: {a=2,job=added} < {job=added,z=1} < {job=own,z=0}.
        assert_eq!(label_order(&lists, &extra), [1, 0, 2]);
        // Without it, by their own labels.
        assert_eq!(label_order(&lists, &[]), [1, 2, 0]);
    }
}
