//! Memory an idle client gives back: a collection emptied after a burst keeps its capacity,
//! which across thousands of idle clients adds up (a few hundred bytes per queue or map).
//! [`Release::release_if_empty`] drops that allocation once the collection is empty; the
//! next burst allocates again, once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};

/// A collection whose allocation can be dropped while it holds nothing.
pub(crate) trait Release {
    /// Frees the allocation if the collection is empty.
    fn release_if_empty(&mut self);
}

impl<T> Release for Vec<T> {
    fn release_if_empty(&mut self) {
        if self.is_empty() && self.capacity() > 0 {
            *self = Vec::new();
        }
    }
}

impl<T> Release for VecDeque<T> {
    fn release_if_empty(&mut self) {
        if self.is_empty() && self.capacity() > 0 {
            *self = VecDeque::new();
        }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> Release for HashMap<K, V, S> {
    fn release_if_empty(&mut self) {
        if self.is_empty() && self.capacity() > 0 {
            *self = HashMap::default();
        }
    }
}

impl<K: Hash + Eq, S: BuildHasher + Default> Release for HashSet<K, S> {
    fn release_if_empty(&mut self) {
        if self.is_empty() && self.capacity() > 0 {
            *self = HashSet::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emptied_collection_gives_its_allocation_back_and_a_full_one_keeps_it() {
        let mut v: Vec<u8> = Vec::with_capacity(64);
        v.push(1);
        v.release_if_empty();
        assert!(v.capacity() >= 64, "not empty: kept");
        v.clear();
        v.release_if_empty();
        assert_eq!(v.capacity(), 0);

        let mut q: VecDeque<u8> = (0..10).collect();
        q.clear();
        q.release_if_empty();
        assert_eq!(q.capacity(), 0);

        let mut m: HashMap<u16, u8> = (0..10).map(|i| (i, 0)).collect();
        m.retain(|_, _| false);
        m.release_if_empty();
        assert_eq!(m.capacity(), 0);
    }
}
