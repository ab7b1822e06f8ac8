//! The one Packet Identifier allocator shared by PUBLISH, SUBSCRIBE and UNSUBSCRIBE
//! (2.2.1): it never hands out an identifier that is still in flight.

use super::idle::Release;
use super::idmap::IdSet;

/// Allocates non-zero Packet Identifiers, round-robin, skipping those in use.
#[derive(Debug, Default)]
pub struct PacketIds {
    next: u16,
    in_use: IdSet<u16>,
}

impl PacketIds {
    /// A free identifier, now marked in use; `None` when all 65,535 are in flight.
    pub fn allocate(&mut self) -> Option<u16> {
        if self.in_use.len() >= usize::from(u16::MAX) {
            return None;
        }
        loop {
            self.next = self.next.wrapping_add(1);
            if self.next == 0 {
                self.next = 1;
            }
            if self.in_use.insert(self.next) {
                return Some(self.next);
            }
        }
    }

    /// Marks `id` in use (a session restored with its identifiers); false when it is 0 or
    /// in use already.
    pub fn reserve(&mut self, id: u16) -> bool {
        id != 0 && self.in_use.insert(id)
    }

    /// Frees an identifier once its exchange is complete; the set's memory goes with the
    /// last one (an idle client holds none).
    pub fn release(&mut self, id: u16) {
        self.in_use.remove(&id);
        self.in_use.release_if_empty();
    }

    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.in_use.len()
    }

    pub fn clear(&mut self) {
        self.in_use = IdSet::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_zero_and_never_in_flight() {
        let mut ids = PacketIds::default();
        let a = ids.allocate().unwrap();
        assert_eq!(a, 1);
        // Run the counter all the way round: 1 is still in flight and must be skipped.
        for _ in 0..70_000 {
            let id = ids.allocate().unwrap();
            assert_ne!(id, 0);
            assert_ne!(id, a);
            ids.release(id);
        }
        assert_eq!(ids.in_use(), 1);
    }

    #[test]
    fn exhaustion_is_reported_not_looped() {
        let mut ids = PacketIds::default();
        for _ in 0..65_535 {
            ids.allocate().unwrap();
        }
        assert_eq!(ids.allocate(), None);
        ids.release(4242);
        assert_eq!(ids.allocate(), Some(4242));
    }

    #[test]
    fn the_last_release_gives_the_memory_back() {
        let mut ids = PacketIds::default();
        let a = ids.allocate().unwrap();
        let b = ids.allocate().unwrap();
        ids.release(a);
        assert!(ids.in_use.capacity() > 0, "one still in flight");
        ids.release(b);
        assert_eq!(ids.in_use.capacity(), 0, "an idle session holds no set");
        assert_eq!(ids.allocate(), Some(3), "the round-robin goes on");
    }
}
