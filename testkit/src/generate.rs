//! The feature databases tests run on: the repository's standard one, and deterministic ones of
//! any size for benchmarks and tests (the same seed and count always give the same file, in the
//! format of `data/route_guide_db.json`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use routeguide::{MAX_LATITUDE_E7, MAX_LONGITUDE_E7, SplitMix64};

/// The repository's standard database, `data/route_guide_db.json`: the tutorial's 100 features.
/// Found from this crate's own folder, which sits beside `data/` in the workspace, so that every
/// test binary names the same file whatever its working directory.
pub fn standard_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/route_guide_db.json")
}

/// How many features in a hundred are left unnamed, about as in the standard database.
const UNNAMED_PERCENT: u64 = 36;

/// Writes `count` features, spread uniformly over the whole world, as a JSON array with one
/// feature per line.
pub fn write_database(mut out: impl Write, count: usize, seed: u64) -> io::Result<()> {
    let mut rng = SplitMix64::seeded(seed);
    out.write_all(b"[")?;
    for index in 0..count {
        let latitude = rng.in_range(-i64::from(MAX_LATITUDE_E7), i64::from(MAX_LATITUDE_E7));
        let longitude = rng.in_range(-i64::from(MAX_LONGITUDE_E7), i64::from(MAX_LONGITUDE_E7));
        let separator = if index == 0 { "\n" } else { ",\n" };
        write!(
            out,
            "{separator}{{\"location\": {{\"latitude\": {latitude}, \"longitude\": {longitude}}}, \"name\": \""
        )?;
        if rng.next_u64() % 100 >= UNNAMED_PERCENT {
            write!(out, "Generated feature {index}")?;
        }
        out.write_all(b"\"}")?;
    }
    out.write_all(b"\n]\n")?;
    out.flush()
}

/// The database of `count` features with seed 1, written once into `dir` and reused after that
/// (by later runs too). Safe to call from tests that run in parallel: one writes the file, the
/// others wait for it, and a file only appears whole (it is written aside, then renamed).
pub fn generated_db(dir: &Path, count: usize) -> io::Result<PathBuf> {
    static WRITING: Mutex<()> = Mutex::new(());
    let path = dir.join(format!("generated-{count}-seed1.json"));
    let _writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        std::fs::create_dir_all(dir)?;
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        write_database(BufWriter::new(File::create(&partial)?), count, 1)?;
        std::fs::rename(&partial, &path)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use routeguide::FeatureStore;

    fn generate(count: usize, seed: u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_database(&mut bytes, count, seed).unwrap();
        bytes
    }

    #[test]
    fn the_same_seed_gives_the_same_database() {
        assert_eq!(generate(50, 1), generate(50, 1));
        assert_ne!(generate(50, 1), generate(50, 2));
    }

    #[test]
    fn a_generated_database_loads_with_every_feature() {
        let path = std::env::temp_dir().join(format!("routeguide-gen-{}.json", std::process::id()));
        std::fs::write(&path, generate(1000, 7)).unwrap();
        let store = FeatureStore::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(store.len(), 1000);
        let unnamed = (0..store.len())
            .filter(|&i| store.name(i).is_empty())
            .count();
        assert!((250..450).contains(&unnamed), "{unnamed} unnamed");
        assert_eq!(
            store.name(0).is_empty(),
            store.name(0) != "Generated feature 0"
        );
    }

    #[test]
    fn the_standard_database_is_found_and_holds_the_tutorials_features() {
        let store = FeatureStore::load(&standard_db()).unwrap();
        assert_eq!(store.len(), 100);
    }

    #[test]
    fn an_empty_database_is_an_empty_array() {
        assert_eq!(generate(0, 1), b"[\n]\n");
    }
}
