//! The store's map from a position to the first feature there, and the hash it uses instead of
//! std's SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::geo::Coordinates;

/// From a position to the first feature there. Its keys come from the database: a client's point
/// is only looked up, never inserted, so no client can lengthen the map's probe sequences, and a
/// keyed hash (std's SipHash: 3% of the server's CPU per RecordRoute point, under h2load) would
/// buy nothing. [`PositionHasher`] hashes a position with one multiplication.
pub(crate) type PositionMap = HashMap<Coordinates, u32, BuildHasherDefault<PositionHasher>>;

/// The hash of a [`Coordinates`], whose derived `Hash` writes its latitude, then its longitude:
/// the two `i32`s side by side in 64 bits (distinct positions, distinct words), multiplied by
/// 2^64 / φ into 128 bits and the halves folded, so that every bit of either coordinate reaches
/// the bits the map uses (the low ones pick the bucket, the top seven tag it).
#[derive(Default)]
pub(crate) struct PositionHasher(u64);

impl Hasher for PositionHasher {
    fn write_i32(&mut self, n: i32) {
        self.0 = (self.0 << 32) | u64::from(n as u32);
    }

    /// Anything else a `Hash` may write, a byte at a time (`Coordinates` writes none).
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn finish(&self) -> u64 {
        let product = u128::from(self.0) * 0x9e37_79b9_7f4a_7c15;
        (product as u64) ^ ((product >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    fn c(latitude: i32, longitude: i32) -> Coordinates {
        Coordinates::new(latitude, longitude).unwrap()
    }

    #[test]
    fn position_hashes_spread_over_buckets_and_tags() {
        // A grid of 10,000 neighbouring positions, one unit (1e-7 degree) apart: the map's low
        // bits pick its bucket, its top seven bits tag the entry.
        let hasher = BuildHasherDefault::<PositionHasher>::default();
        let mut buckets = vec![0_u32; 1024];
        let mut tags = [false; 128];
        for latitude in 0..100 {
            for longitude in 0..100 {
                let hash = hasher.hash_one(c(latitude, longitude));
                buckets[(hash % 1024) as usize] += 1;
                tags[(hash >> 57) as usize] = true;
            }
        }
        // About 9.8 each on average; unmixed, 100 buckets would hold 100 each.
        let fullest = buckets.iter().max().unwrap();
        assert!(*fullest <= 30, "a bucket holds {fullest} of 10,000");
        assert!(tags.iter().all(|&seen| seen), "some tags never occur");
    }
}
