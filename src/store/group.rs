//! [`SharedStore`]: one store shared by threads, with group commit.
//!
//! `write` applies operations under the store's lock and returns a [`Ticket`], a sequence
//! number; `durable(ticket)` returns once a sync that STARTED after that write has
//! completed (at [`Durability::Fsync`]; at once otherwise). Only one sync runs at a time:
//! a caller finding none running runs it for everyone written so far, the others wait on a
//! condition variable, so N concurrent writers share one fsync instead of paying N. When
//! the store offers a [`Store::syncer`] (the file store does), the fsync runs without the
//! store's lock, so writers go on meanwhile and form the next group.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

use super::{Durability, Store, StoreError, StoreUsage};

/// The position of a write in the store's sequence, for [`SharedStore::durable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

#[derive(Debug)]
struct Locked {
    store: Box<dyn Store>,
    /// The ticket of the last write.
    seq: u64,
}

#[derive(Debug, Default)]
struct SyncState {
    /// Every write with a ticket up to this is durable.
    synced: u64,
    /// A sync is running.
    running: bool,
}

#[derive(Debug)]
struct Shared {
    durability: Durability,
    locked: Mutex<Locked>,
    sync: Mutex<SyncState>,
    done: Condvar,
    syncs: AtomicU64,
}

/// A store shared between threads (cheap to clone), with group commit (see the module).
#[derive(Debug, Clone)]
pub struct SharedStore {
    shared: Arc<Shared>,
}

impl SharedStore {
    /// Shares `store`, whose writes are to be made durable as `durability` says.
    pub fn new(store: Box<dyn Store>, durability: Durability) -> Self {
        Self {
            shared: Arc::new(Shared {
                durability,
                locked: Mutex::new(Locked { store, seq: 0 }),
                sync: Mutex::new(SyncState::default()),
                done: Condvar::new(),
                syncs: AtomicU64::new(0),
            }),
        }
    }

    /// The durability asked for.
    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    /// Applies `f`'s writes under the store's lock; the ticket covers them (for
    /// [`SharedStore::durable`]). On an error the ticket still advances: whatever `f`
    /// wrote before failing is covered by the next sync.
    pub fn write(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<(), StoreError>,
    ) -> Result<Ticket, StoreError> {
        let mut locked = self.shared.locked.lock();
        let result = f(locked.store.as_mut());
        locked.seq += 1;
        let ticket = Ticket(locked.seq);
        result.map(|()| ticket)
    }

    /// `f` on the store under its lock, for reads (`get`, `keys`, replay).
    pub fn read<R>(&self, f: impl FnOnce(&mut dyn Store) -> R) -> R {
        f(self.shared.locked.lock().store.as_mut())
    }

    /// The store's live usage.
    pub fn usage(&self) -> StoreUsage {
        self.shared.locked.lock().store.usage()
    }

    /// How many syncs ran (group commit: fewer than the writes made durable).
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Returns once the write of `ticket` is as durable as [`SharedStore::durability`]
    /// says: at `Fsync`, after a sync that started after that write has completed (this
    /// caller runs it if none is running, else waits for the running one and, if that one
    /// started too early, for the next); at `Os` and `None`, at once (the write already
    /// reached the OS, or memory). A failed sync is returned to the caller that ran it;
    /// the others try again.
    pub fn durable(&self, ticket: Ticket) -> Result<(), StoreError> {
        if self.shared.durability != Durability::Fsync {
            return Ok(());
        }
        self.sync_through(ticket)
    }

    /// Makes every write so far durable, whatever the durability asked for (at once when
    /// a sync already covered them): the runtime's sync before a round's bytes leave, at
    /// [`Durability::FsyncBeforeSend`].
    pub fn sync_written(&self) -> Result<(), StoreError> {
        let ticket = Ticket(self.shared.locked.lock().seq);
        self.sync_through(ticket)
    }

    /// Group commit: returns once a sync that started after the write of `ticket` has
    /// completed (see [`SharedStore::durable`]).
    fn sync_through(&self, ticket: Ticket) -> Result<(), StoreError> {
        let mut state = self.shared.sync.lock();
        loop {
            if state.synced >= ticket.0 {
                return Ok(());
            }
            if state.running {
                self.shared.done.wait(&mut state);
                continue;
            }
            state.running = true;
            drop(state);
            let result = self.sync_now();
            state = self.shared.sync.lock();
            state.running = false;
            self.shared.done.notify_all();
            match result {
                Ok(covered) => state.synced = state.synced.max(covered),
                Err(e) => return Err(e),
            }
        }
    }

    /// Syncs every write made so far; returns the last ticket it covers.
    fn sync_now(&self) -> Result<u64, StoreError> {
        let mut locked = self.shared.locked.lock();
        let covered = locked.seq;
        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        match locked.store.syncer()? {
            Some(syncer) => {
                // Writers go on while the fsync runs; they are not covered by it.
                drop(locked);
                syncer()?;
            }
            None => locked.store.sync()?,
        }
        Ok(covered)
    }
}

#[cfg(test)]
mod tests;
