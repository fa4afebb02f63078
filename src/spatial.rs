//! A static k-d tree over the feature positions: which features lie inside a rectangle, found
//! without looking at the others. Built once when the database is loaded; read-only after that.
//!
//! The tree is implicit: `order` is a permutation of the feature indices arranged so that, for any
//! slice `order[lo..hi]` of the tree, its middle element splits it on latitude (at even depths) or
//! longitude (at odd depths): everything before the middle is on the lower side of it, everything
//! after on the higher side. No pointers, 4 bytes per feature.

use crate::geo::{Bounds, Coordinates};

/// Feature indices arranged as an implicit k-d tree over their positions.
pub(crate) struct KdTree {
    order: Vec<u32>,
}

/// Below this many elements a subtree is scanned rather than split further.
const LEAF_SIZE: usize = 8;

#[derive(Clone, Copy)]
enum Axis {
    Latitude,
    Longitude,
}

impl Axis {
    fn of(self, c: Coordinates) -> i32 {
        match self {
            Axis::Latitude => c.latitude(),
            Axis::Longitude => c.longitude(),
        }
    }

    fn next(self) -> Axis {
        match self {
            Axis::Latitude => Axis::Longitude,
            Axis::Longitude => Axis::Latitude,
        }
    }

    /// The range of this axis that `bounds` covers.
    fn range(self, bounds: &Bounds) -> (i32, i32) {
        (self.of(bounds.south_west()), self.of(bounds.north_east()))
    }
}

impl KdTree {
    /// Builds the tree over `positions` (indexed by feature), in O(n log n).
    pub(crate) fn build(positions: &[Coordinates]) -> Self {
        let count = u32::try_from(positions.len()).expect("at most 2^32 features");
        let mut order: Vec<u32> = (0..count).collect();
        arrange(&mut order, positions, Axis::Latitude);
        KdTree { order }
    }

    /// Appends to `found` the index of every feature inside `bounds`, in no particular order.
    pub(crate) fn collect_within(
        &self,
        positions: &[Coordinates],
        bounds: &Bounds,
        found: &mut Vec<u32>,
    ) {
        collect(&self.order, positions, bounds, Axis::Latitude, found);
    }
}

/// Arranges `slice` so that its middle element splits it on `axis`, then each half on the other.
fn arrange(slice: &mut [u32], positions: &[Coordinates], axis: Axis) {
    if slice.len() <= LEAF_SIZE {
        return;
    }
    let middle = slice.len() / 2;
    slice.select_nth_unstable_by_key(middle, |&i| axis.of(positions[i as usize]));
    let (lower, rest) = slice.split_at_mut(middle);
    arrange(lower, positions, axis.next());
    arrange(&mut rest[1..], positions, axis.next());
}

fn collect(
    slice: &[u32],
    positions: &[Coordinates],
    bounds: &Bounds,
    axis: Axis,
    found: &mut Vec<u32>,
) {
    if slice.len() <= LEAF_SIZE {
        found.extend(
            slice
                .iter()
                .copied()
                .filter(|&i| bounds.contains(positions[i as usize])),
        );
        return;
    }
    let middle = slice.len() / 2;
    let split = slice[middle];
    let value = axis.of(positions[split as usize]);
    let (low, high) = axis.range(bounds);
    if bounds.contains(positions[split as usize]) {
        found.push(split);
    }
    // Equal values may sit on either side of the middle, so both comparisons include equality.
    if low <= value {
        collect(&slice[..middle], positions, bounds, axis.next(), found);
    }
    if value <= high {
        collect(&slice[middle + 1..], positions, bounds, axis.next(), found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SplitMix64;

    fn c(latitude: i32, longitude: i32) -> Coordinates {
        Coordinates::new(latitude, longitude).unwrap()
    }

    fn query(tree: &KdTree, positions: &[Coordinates], bounds: Bounds) -> Vec<u32> {
        let mut found = Vec::new();
        tree.collect_within(positions, &bounds, &mut found);
        found.sort_unstable();
        found
    }

    fn brute_force(positions: &[Coordinates], bounds: Bounds) -> Vec<u32> {
        (0..positions.len() as u32)
            .filter(|&i| bounds.contains(positions[i as usize]))
            .collect()
    }

    #[test]
    fn queries_match_a_brute_force_scan_on_random_data() {
        let mut rng = SplitMix64::seeded(7);
        for size in [0, 1, 7, 8, 9, 100, 5000] {
            // A small coordinate range, so that duplicates and edge hits are common.
            let mut draw = |r: i64| rng.in_range(-r, r) as i32;
            let positions: Vec<Coordinates> = (0..size).map(|_| c(draw(40), draw(40))).collect();
            let tree = KdTree::build(&positions);
            for _ in 0..200 {
                let bounds = Bounds::from_corners(c(draw(50), draw(50)), c(draw(50), draw(50)));
                assert_eq!(
                    query(&tree, &positions, bounds),
                    brute_force(&positions, bounds)
                );
            }
        }
    }

    #[test]
    fn many_features_at_one_point_are_all_found() {
        let positions = vec![c(5, 5); 100];
        let tree = KdTree::build(&positions);
        let at = Bounds::from_corners(c(5, 5), c(5, 5));
        assert_eq!(query(&tree, &positions, at).len(), 100);
        let beside = Bounds::from_corners(c(6, 5), c(7, 5));
        assert!(query(&tree, &positions, beside).is_empty());
    }
}
