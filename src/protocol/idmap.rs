//! Maps and sets keyed by small integers: packet identifiers and request ids.
//!
//! `std`'s `RandomState` costs 16 bytes in every map (a per-map key: 80 bytes in each
//! session of an idle client, issue 14) and a `SipHash` per lookup on the acknowledgement
//! path. These keys need neither: midge hands most of them out itself, and a server's
//! packet identifiers are at most 65,535 distinct values in a map bounded by the Receive
//! Maximum, so no key choice can pile more than a few into one bucket group.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by a packet identifier or a request id.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
/// A `HashSet` of packet identifiers.
pub(crate) type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// A multiplicative (Fibonacci) hash: one multiplication, its top bits moved to the low bits
/// that pick the bucket, so that keys alike in their low bits still spread.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    fn mix(&mut self, key: u64) {
        // Fibonacci hashing: the top bits of the product depend on every bit of the key
        // and spread consecutive keys best; reversed, they are the low bits that pick the
        // bucket.
        self.0 = (self.0 ^ key)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .reverse_bits();
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.mix(u64::from(b));
        }
    }

    fn write_u16(&mut self, key: u16) {
        self.mix(u64::from(key));
    }

    fn write_u64(&mut self, key: u64) {
        self.mix(key);
    }

    fn write_usize(&mut self, key: usize) {
        self.mix(key as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// What a hostile server could do is choose its packet identifiers: at most 65,535
    /// values. For every table size, no bucket is picked by more than twice its share of
    /// them, so no choice of identifiers piles up in one place beyond that (the map holds
    /// at most Receive Maximum of them); nor does any of the 128 tags `hashbrown` keeps
    /// from the top 7 bits to skip non-matching keys.
    #[test]
    fn no_bucket_gets_more_than_twice_its_share_of_packet_identifiers() {
        let b = BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (1..=u16::MAX).map(|k| b.hash_one(k)).collect();
        let distinct: IdSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len(), "two identifiers hash alike");
        for bits in 1..=16 {
            let mut load = vec![0u32; 1 << bits];
            for h in &hashes {
                load[(h & ((1 << bits) - 1)) as usize] += 1;
            }
            let share = 65_536 >> bits;
            let worst = *load.iter().max().unwrap();
            assert!(
                worst <= 2 * share,
                "{} buckets: one gets {worst} identifiers, its share is {share}",
                1 << bits
            );
        }
        let mut tags = [0u32; 128];
        for h in &hashes {
            tags[(h >> 57) as usize] += 1;
        }
        let worst = *tags.iter().max().unwrap();
        assert!(worst <= 2 * 512, "one tag is shared by {worst} identifiers");
    }
}
