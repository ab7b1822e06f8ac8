//! The session's record of its subscriptions: topic filter -> (options, Subscription
//! Identifier), kept in filter order.
//!
//! Most clients hold one to a few subscriptions, and 10,000 idle clients in one process
//! (issue 14) hold one each: a `BTreeMap`'s first leaf is about 500 bytes whatever it
//! holds, so up to [`SMALL`] entries live in a sorted `Vec` grown one entry at a time
//! (48 bytes per entry), and only a larger set moves into a `BTreeMap`.

use std::collections::BTreeMap;

use crate::codec::{ByteString, SubscriptionOptions};

/// What is kept per topic filter: its options and its Subscription Identifier.
pub type FilterEntry = (SubscriptionOptions, Option<u32>);

/// Past this many entries, a `BTreeMap` (O(log n) inserts) replaces the sorted `Vec`.
const SMALL: usize = 16;

/// Topic filter -> [`FilterEntry`], iterated in filter order.
#[derive(Debug, Clone)]
pub enum SubscriptionMap {
    /// Sorted by filter, no duplicates, capacity exactly its length.
    Small(Vec<(ByteString, FilterEntry)>),
    Large(BTreeMap<ByteString, FilterEntry>),
}

impl Default for SubscriptionMap {
    fn default() -> Self {
        Self::Small(Vec::new())
    }
}

impl PartialEq for SubscriptionMap {
    /// Equal when they hold the same entries, whichever form each is in.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for SubscriptionMap {}

impl SubscriptionMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Small(v) => v.len(),
            Self::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts or replaces; returns the entry it replaced.
    pub fn insert(&mut self, filter: ByteString, entry: FilterEntry) -> Option<FilterEntry> {
        match self {
            Self::Large(m) => m.insert(filter, entry),
            Self::Small(v) => match v.binary_search_by(|(f, _)| f.cmp(&filter)) {
                Ok(i) => Some(std::mem::replace(&mut v[i].1, entry)),
                Err(_) if v.len() == SMALL => {
                    let mut m: BTreeMap<_, _> = std::mem::take(v).into_iter().collect();
                    m.insert(filter, entry);
                    *self = Self::Large(m);
                    None
                }
                Err(i) => {
                    v.reserve_exact(1);
                    v.insert(i, (filter, entry));
                    None
                }
            },
        }
    }

    /// Removes a filter; returns its entry. An emptied map gives its memory back.
    pub fn remove(&mut self, filter: &str) -> Option<FilterEntry> {
        let removed = match self {
            Self::Large(m) => m.remove(filter),
            Self::Small(v) => match v.binary_search_by(|(f, _)| (**f).cmp(filter)) {
                Ok(i) => Some(v.remove(i).1),
                Err(_) => None,
            },
        };
        if removed.is_some() && self.is_empty() {
            *self = Self::default();
        }
        removed
    }

    pub fn get(&self, filter: &str) -> Option<&FilterEntry> {
        match self {
            Self::Large(m) => m.get(filter),
            Self::Small(v) => v
                .binary_search_by(|(f, _)| (**f).cmp(filter))
                .ok()
                .map(|i| &v[i].1),
        }
    }

    /// Every entry, in filter order.
    pub fn iter(&self) -> impl Iterator<Item = (&ByteString, &FilterEntry)> {
        let (small, large) = match self {
            Self::Small(v) => (Some(v.iter().map(|(f, e)| (f, e))), None),
            Self::Large(m) => (None, Some(m.iter())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;

    fn entry(n: u32) -> FilterEntry {
        (
            SubscriptionOptions {
                qos: if n.is_multiple_of(2) {
                    QoS::AtLeastOnce
                } else {
                    QoS::AtMostOnce
                },
                ..SubscriptionOptions::default()
            },
            (!n.is_multiple_of(3)).then_some(n),
        )
    }

    /// Against a `BTreeMap` model, through the move to the large form and back to empty:
    /// the same answers to insert, remove and get, the same entries in the same order.
    #[test]
    fn behaves_as_an_ordered_map_through_both_forms() {
        let mut map = SubscriptionMap::new();
        let mut model = BTreeMap::new();
        // A fixed pseudo-random walk over 40 filters: inserts, replacements, removals.
        let mut x: u32 = 12345;
        for step in 0..2000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let key: ByteString = format!("f/{}", (x >> 8) % 40).into();
            if (x >> 20).is_multiple_of(3) {
                assert_eq!(map.remove(&key), model.remove(&key), "step {step}");
            } else {
                let e = entry(step);
                assert_eq!(
                    map.insert(key.clone(), e),
                    model.insert(key.clone(), e),
                    "step {step}"
                );
            }
            assert_eq!(map.get(&key), model.get(&key), "step {step}");
            assert_eq!(map.len(), model.len());
            assert!(map.iter().eq(model.iter()), "step {step}");
        }
        assert!(
            matches!(map, SubscriptionMap::Large(_)),
            "never grew past 16"
        );
        let keys: Vec<ByteString> = model.keys().cloned().collect();
        for k in keys {
            assert_eq!(map.remove(&k), model.remove(&k));
        }
        assert!(map.is_empty());
        assert!(
            matches!(&map, SubscriptionMap::Small(v) if v.capacity() == 0),
            "an emptied map keeps no memory"
        );
    }

    #[test]
    fn small_form_grows_one_entry_at_a_time_and_equality_ignores_the_form() {
        let mut small = SubscriptionMap::new();
        small.insert("b".into(), entry(1));
        small.insert("a".into(), entry(2));
        let SubscriptionMap::Small(v) = &small else {
            panic!("two entries moved to the large form");
        };
        assert_eq!(
            v.capacity(),
            2,
            "one subscription must not reserve room for more"
        );
        let large = SubscriptionMap::Large(small.iter().map(|(f, e)| (f.clone(), *e)).collect());
        assert_eq!(small, large);
        let names: Vec<&str> = small.iter().map(|(f, _)| &**f).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
