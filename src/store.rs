//! The feature database: loading and validating it from JSON, and the queries the service needs
//! (the feature at a point, the features in a rectangle). It is read-only once loaded, so one
//! `Arc<FeatureStore>` serves every completion-queue thread without locking.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::geo::{Bounds, CoordinateError, Coordinates};
use crate::proto::{self, Feature};

/// The features of one database, in the order of its file.
pub struct FeatureStore {
    /// Every feature as it is sent on the wire, in database order.
    features: Vec<Feature>,
    /// The position of each feature, parallel to `features`.
    positions: Vec<Coordinates>,
    /// The first feature (in database order) at each position.
    first_at: HashMap<Coordinates, usize>,
    /// Indices into `features`, sorted by latitude: a rectangle query binary-searches its latitude
    /// band here and checks only the longitudes inside it.
    by_latitude: Vec<usize>,
}

impl FeatureStore {
    /// A store holding `features` in the given order.
    pub fn new(features: Vec<(String, Coordinates)>) -> Self {
        let positions: Vec<Coordinates> = features.iter().map(|(_, at)| *at).collect();
        let mut first_at = HashMap::with_capacity(positions.len());
        for (index, at) in positions.iter().enumerate() {
            first_at.entry(*at).or_insert(index);
        }
        let mut by_latitude: Vec<usize> = (0..positions.len()).collect();
        by_latitude.sort_by_key(|&index| positions[index].latitude());
        let features = features
            .into_iter()
            .map(|(name, at)| proto::feature(name, at.to_point()))
            .collect();
        FeatureStore {
            features,
            positions,
            first_at,
            by_latitude,
        }
    }

    /// Loads a database file: a JSON array of `{"location": {"latitude": E7, "longitude": E7},
    /// "name": "..."}` objects, as in `data/route_guide_db.json`. Every coordinate is checked.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let fail = |problem| LoadError {
            path: path.to_path_buf(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(LoadProblem::Read(e)))?;
        let entries: Vec<DbEntry> =
            serde_json::from_str(&text).map_err(|e| fail(LoadProblem::Json(e)))?;
        let mut features = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            let at = Coordinates::new(entry.location.latitude, entry.location.longitude)
                .map_err(|e| fail(LoadProblem::Coordinates { index, error: e }))?;
            features.push((entry.name, at));
        }
        Ok(FeatureStore::new(features))
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Every feature, in database order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The first feature in database order stored at exactly `at`, named or not.
    pub fn feature_at(&self, at: Coordinates) -> Option<&Feature> {
        self.first_at.get(&at).map(|&index| &self.features[index])
    }

    /// Whether the database has an entry (named or unnamed) at exactly `at`.
    pub fn has_feature_at(&self, at: Coordinates) -> bool {
        self.first_at.contains_key(&at)
    }

    /// The indices of the features inside `bounds` (edges included), in database order.
    pub fn indices_within(&self, bounds: Bounds) -> Vec<usize> {
        let lat = |&index: &usize| self.positions[index].latitude();
        let start = self
            .by_latitude
            .partition_point(|i| lat(i) < bounds.south_west().latitude());
        let end = self
            .by_latitude
            .partition_point(|i| lat(i) <= bounds.north_east().latitude());
        let mut found: Vec<usize> = self.by_latitude[start..end]
            .iter()
            .copied()
            .filter(|&index| bounds.contains(self.positions[index]))
            .collect();
        found.sort_unstable();
        found
    }

    /// The feature at `index` (as returned by [`FeatureStore::indices_within`]).
    pub fn feature(&self, index: usize) -> &Feature {
        &self.features[index]
    }
}

/// One entry of the JSON database file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DbEntry {
    location: DbLocation,
    #[serde(default)]
    name: String,
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
        error: CoordinateError,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            LoadProblem::Read(e) => write!(f, "cannot read feature database {path}: {e}"),
            LoadProblem::Json(e) => write!(
                f,
                "feature database {path} is not a JSON array of features: {e}"
            ),
            LoadProblem::Coordinates { index, error } => {
                write!(f, "feature database {path}: entry {index}: {error}")
            }
        }
    }
}

impl std::error::Error for LoadError {}

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
                .map(|(i, &(lat, lon))| (format!("f{i}"), c(lat, lon)))
                .collect(),
        )
    }

    #[test]
    fn the_first_of_several_features_at_one_point_wins() {
        let s = store(&[(5, 5), (1, 1), (5, 5)]);
        assert_eq!(s.feature_at(c(5, 5)).unwrap().get_name(), "f0");
        assert!(s.has_feature_at(c(1, 1)));
        assert!(s.feature_at(c(1, 2)).is_none());
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
            assert_eq!(s.indices_within(bounds), expected, "{bounds:?}");
        }
    }

    #[test]
    fn an_empty_store_answers_nothing() {
        let s = store(&[]);
        assert!(s.is_empty());
        let everywhere = Bounds::from_corners(
            c(-900_000_000, -1_800_000_000),
            c(900_000_000, 1_800_000_000),
        );
        assert!(s.indices_within(everywhere).is_empty());
    }
}
