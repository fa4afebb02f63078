//! The feature database: loading and validating it from JSON, and the queries the service needs
//! (the feature at a point, the features in a rectangle, in database order). It is read-only once
//! loaded, so one `Arc<FeatureStore>` serves every completion-queue thread without locking.
//!
//! It is laid out for large databases: names packed in one string, positions in one array, a hash
//! map from position to the first feature there (GetFeature and RecordRoute in O(1);
//! [`crate::position_map`]), and a k-d tree for rectangles ([`crate::spatial`]). Wire messages
//! are built when sent, not kept.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};

use crate::geo::{Bounds, CoordinateError, Coordinates};
use crate::position_map::PositionMap;
use crate::proto::{self, Feature};
use crate::spatial::KdTree;

/// The features of one database, in the order of its file.
pub struct FeatureStore {
    /// Every name, one after the other; feature `i`'s ends at `name_ends[i]`.
    names: String,
    name_ends: Vec<u32>,
    /// The position of each feature.
    positions: Vec<Coordinates>,
    /// The first feature (in database order) at each position.
    first_at: PositionMap,
    tree: KdTree,
    /// The smallest rectangle holding every feature (`None` when there are none).
    extent: Option<Bounds>,
}

impl FeatureStore {
    /// A store holding `features` in the given order.
    pub fn new(features: impl IntoIterator<Item = (String, Coordinates)>) -> Self {
        let mut builder = StoreBuilder::default();
        for (name, at) in features {
            builder
                .push(&name, at)
                .expect("names of a store built in memory fit in 4 GiB");
        }
        builder.finish()
    }

    /// Loads a database file: a JSON array of `{"location": {"latitude": E7, "longitude": E7},
    /// "name": "..."}` objects, as in `data/route_guide_db.json`. Every coordinate is checked.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let fail = |problem| LoadError {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(LoadProblem::Read(e)))?;
        let mut builder = StoreBuilder::default();
        let mut json = serde_json::Deserializer::from_slice(&bytes);
        let parsed = (&mut builder)
            .deserialize(&mut json)
            .and_then(|()| json.end());
        if let Some((index, error)) = builder.invalid {
            let line = line_of_entry(&bytes, index);
            return Err(fail(LoadProblem::Coordinates { index, line, error }));
        }
        parsed.map_err(|e| fail(LoadProblem::Json(e)))?;
        Ok(builder.finish())
    }

    /// How many features the database holds, named or not.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the database holds no feature at all.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The name of feature `index` (empty for an unnamed one).
    pub fn name(&self, index: usize) -> &str {
        let start = index
            .checked_sub(1)
            .map_or(0, |i| self.name_ends[i] as usize);
        &self.names[start..self.name_ends[index] as usize]
    }

    /// Where feature `index` is.
    pub fn position(&self, index: usize) -> Coordinates {
        self.positions[index]
    }

    /// Feature `index` as it is sent on the wire.
    pub fn feature(&self, index: usize) -> Feature {
        proto::feature(self.name(index), self.positions[index].to_point())
    }

    /// The first feature in database order stored at exactly `at`, named or not.
    pub fn feature_at(&self, at: Coordinates) -> Option<Feature> {
        self.first_at
            .get(&at)
            .map(|&index| self.feature(index as usize))
    }

    /// Whether the database has an entry (named or unnamed) at exactly `at`.
    pub fn has_feature_at(&self, at: Coordinates) -> bool {
        self.first_at.contains_key(&at)
    }

    /// The indices of the features inside `bounds` (edges included), in database order.
    ///
    /// A rectangle that covers every feature costs nothing up front: the indices are produced as
    /// they are consumed. Otherwise the k-d tree finds the features inside first; a few are sorted
    /// into database order, many are marked in a bitmap (one bit per feature) that is then read in
    /// order, so a large answer costs neither a sort nor 4 bytes per feature while it is sent.
    pub fn within(&self, bounds: Bounds) -> impl Iterator<Item = usize> + use<> {
        self.find_within(bounds)
    }

    /// [`FeatureStore::within`], with how the features were found.
    fn find_within(&self, bounds: Bounds) -> Within {
        match self.extent {
            Some(extent) if bounds.covers(&extent) => Within::All(0..self.len()),
            Some(_) => {
                let mut found = Vec::new();
                self.tree
                    .collect_within(&self.positions, &bounds, &mut found);
                if found.len() < self.len() / 32 {
                    found.sort_unstable();
                    Within::Few(found.into_iter())
                } else {
                    Within::Many(Bitmap::of(&found, self.len()))
                }
            }
            None => Within::All(0..0),
        }
    }
}

/// The features inside a rectangle, as indices in database order.
enum Within {
    /// Every feature: the rectangle covers them all.
    All(Range<usize>),
    /// A few features, found and sorted.
    Few(std::vec::IntoIter<u32>),
    /// Many features, marked in a bitmap.
    Many(Bitmap),
}

impl Iterator for Within {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Within::All(range) => range.next(),
            Within::Few(found) => found.next().map(|i| i as usize),
            Within::Many(bitmap) => bitmap.next(),
        }
    }
}

/// A set of feature indices read in increasing order, one bit per feature of the database.
struct Bitmap {
    words: Vec<u64>,
    /// The word being read, with the bits already returned cleared.
    word: usize,
}

impl Bitmap {
    fn of(indices: &[u32], len: usize) -> Self {
        let mut words = vec![0_u64; len.div_ceil(64)];
        for &i in indices {
            words[i as usize / 64] |= 1 << (i % 64);
        }
        Bitmap { words, word: 0 }
    }
}

impl Iterator for Bitmap {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.word < self.words.len() {
            let bits = self.words[self.word];
            if bits != 0 {
                self.words[self.word] = bits & (bits - 1); // clear the lowest set bit
                return Some(self.word * 64 + bits.trailing_zeros() as usize);
            }
            self.word += 1;
        }
        None
    }
}

/// Collects features as they are read, then indexes them.
#[derive(Default)]
struct StoreBuilder {
    names: String,
    name_ends: Vec<u32>,
    positions: Vec<Coordinates>,
    /// The first entry whose coordinates are out of range, which stops the loading.
    invalid: Option<(usize, CoordinateError)>,
}

impl StoreBuilder {
    fn push(&mut self, name: &str, at: Coordinates) -> Result<(), &'static str> {
        self.names.push_str(name);
        let end =
            u32::try_from(self.names.len()).map_err(|_| "the names add up to more than 4 GiB")?;
        self.name_ends.push(end);
        self.positions.push(at);
        Ok(())
    }

    fn finish(self) -> FeatureStore {
        let mut first_at =
            PositionMap::with_capacity_and_hasher(self.positions.len(), Default::default());
        for (index, at) in self.positions.iter().enumerate() {
            first_at.entry(*at).or_insert(index as u32);
        }
        let extent = self
            .positions
            .iter()
            .copied()
            .map(|at| Bounds::from_corners(at, at))
            .reduce(|a, b| a.union(&b));
        FeatureStore {
            tree: KdTree::build(&self.positions),
            names: self.names,
            name_ends: self.name_ends,
            positions: self.positions,
            first_at,
            extent,
        }
    }
}

/// Reads the top-level JSON array entry by entry, straight into the builder: a large database is
/// never held twice in memory.
impl<'de> DeserializeSeed<'de> for &mut StoreBuilder {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut StoreBuilder {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let mut index = 0_usize;
        while let Some(entry) = entries.next_element::<DbEntry<'de>>()? {
            let at = Coordinates::new(entry.location.latitude, entry.location.longitude).map_err(
                |e| {
                    // Reported by `load`, with the entry's line, which the parser no longer knows.
                    self.invalid = Some((index, e));
                    A::Error::custom("coordinates out of range")
                },
            )?;
            self.push(&entry.name, at)
                .map_err(|e| A::Error::custom(format_args!("entry {index}: {e}")))?;
            index += 1;
        }
        Ok(())
    }
}

/// One entry of the JSON database file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DbEntry<'a> {
    location: DbLocation,
    #[serde(default, borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DbLocation {
    #[serde(default)]
    latitude: i32,
    #[serde(default)]
    longitude: i32,
}

/// A database file that could not be loaded: which file, and what is wrong with it.
#[derive(Debug)]
pub struct LoadError {
    path: PathBuf,
    problem: LoadProblem,
}

#[derive(Debug)]
enum LoadProblem {
    Read(std::io::Error),
    Json(serde_json::Error),
    Coordinates {
        index: usize,
        line: Option<usize>,
        error: CoordinateError,
    },
}

/// The line on which entry `index` of a JSON array starts (1-based), found by a second, cheap
/// pass that only delimits entries; used for error messages only.
fn line_of_entry(bytes: &[u8], index: usize) -> Option<usize> {
    let entries: Vec<&serde_json::value::RawValue> = serde_json::from_slice(bytes).ok()?;
    let start = entries.get(index)?.get().as_ptr() as usize - bytes.as_ptr() as usize;
    Some(bytes[..start].iter().filter(|&&b| b == b'\n').count() + 1)
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            LoadProblem::Read(_) => write!(f, "cannot read feature database {path}"),
            LoadProblem::Json(_) => write!(f, "feature database {path}"),
            LoadProblem::Coordinates { index, line, .. } => {
                write!(f, "feature database {path}: entry {index}")?;
                match line {
                    Some(line) => write!(f, " (line {line})"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The message names the file (and the entry); [`source`](std::error::Error::source) says what is
/// wrong with it: the I/O error, the JSON error or the coordinate error ([`crate::describe`]
/// prints both).
impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            LoadProblem::Read(e) => Some(e),
            LoadProblem::Json(e) => Some(e),
            LoadProblem::Coordinates { error, .. } => Some(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SplitMix64;

    fn c(latitude: i32, longitude: i32) -> Coordinates {
        Coordinates::new(latitude, longitude).unwrap()
    }

    fn store(points: &[(i32, i32)]) -> FeatureStore {
        FeatureStore::new(
            points
                .iter()
                .enumerate()
                .map(|(i, &(lat, lon))| (format!("f{i}"), c(lat, lon))),
        )
    }

    fn load_text(text: &str) -> Result<FeatureStore, String> {
        let path = std::env::temp_dir().join(format!(
            "routeguide-store-test-{}-{}.json",
            std::process::id(),
            SplitMix64::from_entropy().next_u64()
        ));
        std::fs::write(&path, text).unwrap();
        let loaded = FeatureStore::load(&path).map_err(|e| crate::describe(&e));
        std::fs::remove_file(&path).unwrap();
        loaded
    }

    #[test]
    fn the_first_of_several_features_at_one_point_wins() {
        let s = store(&[(5, 5), (1, 1), (5, 5)]);
        assert_eq!(s.feature_at(c(5, 5)).unwrap().name, "f0");
        assert!(s.has_feature_at(c(1, 1)));
        assert!(s.feature_at(c(1, 2)).is_none());
    }

    #[test]
    fn names_come_back_as_they_went_in() {
        let s = FeatureStore::new([
            ("".to_string(), c(0, 0)),
            ("Ünïcode \"quoted\"".to_string(), c(1, 1)),
            ("x".to_string(), c(2, 2)),
        ]);
        assert_eq!(
            (s.name(0), s.name(1), s.name(2)),
            ("", "Ünïcode \"quoted\"", "x")
        );
        assert_eq!(*s.feature(1).location, proto::point(1, 1));
    }

    #[test]
    fn rectangle_queries_match_a_brute_force_scan() {
        let mut rng = SplitMix64::seeded(42);
        let mut next = move |range: i32| rng.in_range(-i64::from(range), i64::from(range)) as i32;
        let points: Vec<(i32, i32)> = (0..2000).map(|_| (next(50), next(50))).collect();
        let s = store(&points);
        for _ in 0..500 {
            let bounds = Bounds::from_corners(c(next(60), next(60)), c(next(60), next(60)));
            let expected: Vec<usize> = (0..points.len())
                .filter(|&i| bounds.contains(c(points[i].0, points[i].1)))
                .collect();
            assert_eq!(s.within(bounds).collect::<Vec<_>>(), expected, "{bounds:?}");
        }
    }

    #[test]
    fn large_answers_come_in_order_too() {
        let mut rng = SplitMix64::seeded(9);
        let points: Vec<(i32, i32)> = (0..3000)
            .map(|_| {
                (
                    rng.in_range(-100, 100) as i32,
                    rng.in_range(-100, 100) as i32,
                )
            })
            .collect();
        let s = store(&points);
        // Most of the area but not all of it: many features, through the bitmap.
        let bounds = Bounds::from_corners(c(-100, -100), c(90, 100));
        let expected: Vec<usize> = (0..points.len())
            .filter(|&i| bounds.contains(c(points[i].0, points[i].1)))
            .collect();
        assert!(expected.len() > points.len() / 2);
        assert!(matches!(s.find_within(bounds), Within::Many(_)));
        assert_eq!(s.within(bounds).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_rectangle_covering_everything_gives_everything_in_order() {
        let s = store(&[(3, 3), (-3, 7), (3, 3), (0, -9)]);
        let exact = Bounds::from_corners(c(-3, -9), c(3, 7));
        assert_eq!(s.within(exact).collect::<Vec<_>>(), [0, 1, 2, 3]);
        let almost = Bounds::from_corners(c(-3, -9), c(3, 6));
        assert_eq!(s.within(almost).collect::<Vec<_>>(), [0, 2, 3]);
    }

    #[test]
    fn an_empty_store_answers_nothing() {
        let s = store(&[]);
        assert!(s.is_empty());
        let everywhere = Bounds::from_corners(
            c(-900_000_000, -1_800_000_000),
            c(900_000_000, 1_800_000_000),
        );
        assert_eq!(s.within(everywhere).count(), 0);
    }

    #[test]
    fn loading_checks_every_entry_and_names_the_problem() {
        let ok = load_text(
            r#"[{"location": {"latitude": 1, "longitude": 2}, "name": "a\nb"}, {"location": {}}]"#,
        )
        .unwrap();
        assert_eq!((ok.len(), ok.name(0), ok.name(1)), (2, "a\nb", ""));
        assert_eq!(ok.position(1), c(0, 0));

        let far = load_text(concat!(
            "[{\"location\": {\"latitude\": 1, \"longitude\": 2}},\n",
            "{\"location\": {\"latitude\": 950000000, \"longitude\": 2}},\n",
            "{\"location\": {\"latitude\": 3, \"longitude\": 4}}]"
        ))
        .err()
        .unwrap();
        assert!(
            far.contains("entry 1 (line 2): latitude 950000000 is outside"),
            "{far}"
        );

        let unknown = load_text(r#"[{"location": {"latitude": 1}, "nmae": "typo"}]"#)
            .err()
            .unwrap();
        assert!(unknown.contains("unknown field `nmae`"), "{unknown}");
        let trailing = load_text("[] []").err().unwrap();
        assert!(trailing.contains("trailing"), "{trailing}");
    }
}
