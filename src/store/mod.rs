//! `store`: durable key-value storage for the session's persistence (issue #15).
//!
//! Byte keys, byte values, nothing MQTT-specific: the session appends outgoing QoS 1/2
//! messages, updates small records, removes them on acknowledgement and replays them all
//! on start. This layer imports neither `protocol` nor `runtime`.
//!
//! The contract of every [`Store`]:
//! - `put` replaces; `remove` of an absent key is `Ok`; `keys` lists the live keys (in no
//!   particular order).
//! - Bounds are on LIVE data ([`StoreUsage`]: the sum of `key.len() + value.len()` and the
//!   number of keys): a `put` that would exceed [`StoreLimits`] fails with
//!   [`StoreError::Full`], and then nothing was written and the usage is unchanged.
//! - A failed call leaves the store as it was before the call (or, for an I/O error after
//!   which that cannot be known, fails every later call: never a half-written state read as
//!   good).
//!
//! The stores: [`MemoryStore`] (tests and [`Durability::None`]), [`FileStore`] (an
//! append-only checksummed log, `log.rs`), and the C callback store (`ffi/store.rs`).
//! [`SharedStore`] (`group.rs`) shares one store between threads with group commit.

use std::collections::BTreeMap;

mod group;
mod log;

#[cfg(test)]
pub(crate) mod contract;

pub use group::{SharedStore, Ticket};
pub use log::FileStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The put would exceed the store's bound on live data; nothing was written. The
    /// numbers are the live usage now.
    #[error("store full: {bytes} bytes in {records} records live, the put would exceed the bound")]
    Full {
        /// Live bytes (keys and values) now.
        bytes: u64,
        /// Live records now.
        records: usize,
    },
    /// An operating-system error.
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Another process (or another `FileStore` in this one) has the store open.
    #[error("store {0} is in use by another process or store (locked)")]
    Locked(String),
    /// The file is not a midge store (its header is not ours).
    #[error("{0} is not a midge store")]
    NotAStore(String),
    /// A record read back does not match its checksum (the disk changed under us).
    #[error("store record corrupted: {0}")]
    Corrupt(String),
    /// An earlier I/O error left the store in a state it cannot vouch for; it refuses every
    /// further call (reopen it: replay keeps every good record).
    #[error("store unusable after an earlier I/O error; reopen it")]
    Poisoned,
    /// A C store's callback returned this failure code.
    #[error("store callback failed with code {0}")]
    Callback(i32),
}

/// What a store holds now (live data only: replaced and removed records do not count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreUsage {
    /// The sum of `key.len() + value.len()` over live records.
    pub bytes: u64,
    /// The number of live records (keys).
    pub records: usize,
}

/// Bounds on live data (see [`StoreUsage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// At most this many live bytes (keys plus values). Default 64 MiB.
    pub max_bytes: u64,
    /// At most this many live records. Default 100,000.
    pub max_records: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_records: 100_000,
        }
    }
}

impl StoreLimits {
    /// `Err(Full)` when replacing `old` (the size of the key's current value, if any) by a
    /// record of `key_len + value_len` bytes would exceed the bounds.
    pub(crate) fn check(
        &self,
        usage: StoreUsage,
        old: Option<u64>,
        key_len: usize,
        value_len: usize,
    ) -> Result<(), StoreError> {
        let new_bytes = usage.bytes - old.unwrap_or(0) + key_len as u64 + value_len as u64;
        let new_records = usage.records + usize::from(old.is_none());
        if new_bytes > self.max_bytes || new_records > self.max_records {
            return Err(StoreError::Full {
                bytes: usage.bytes,
                records: usage.records,
            });
        }
        Ok(())
    }
}

/// How far a write has gone when the call that made it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Memory only: nothing is written; the data is gone with the process.
    None,
    /// Written to the operating system before the call returns (one `write(2)` for the
    /// file store): survives the process crashing or being killed (`kill -9`), not a power
    /// loss or kernel crash (the OS may not have written it to the disk yet).
    #[default]
    Os,
    /// On stable storage (`fdatasync`) before [`SharedStore::durable`] returns: survives a
    /// power loss. Concurrent writers share one sync (group commit), so its cost is paid
    /// once per group, not once per write.
    Fsync,
    /// Written to the operating system before the call returns, as [`Durability::Os`];
    /// on stable storage before anything that depends on it is sent: the runtime syncs
    /// everything written so far once per round, before that round's bytes leave, so the
    /// publishes of a round share one sync even from one thread. A power loss can take
    /// only what was accepted and not yet sent; the server never saw those.
    FsyncBeforeSend,
}

/// A synchronisation that runs without the store's lock (see [`Store::syncer`]).
pub type Syncer = Box<dyn FnOnce() -> Result<(), StoreError> + Send>;

/// A durable key-value store of byte keys and byte values (see the module's contract).
pub trait Store: Send + std::fmt::Debug {
    /// Stores (replaces) `value` under `key`. On return the write has reached the OS (it
    /// survives the process being killed): for the file store, one `write(2)` of a whole
    /// checksummed record; no user-space buffering across calls.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// The value under `key`, `None` when absent.
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes `key`; an absent key is `Ok`.
    fn remove(&mut self, key: &[u8]) -> Result<(), StoreError>;
    /// Every live key, in no particular order.
    fn keys(&mut self) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Makes every write so far survive power loss (fsync/fdatasync).
    fn sync(&mut self) -> Result<(), StoreError>;
    /// Bytes and records live now (for bounds and stats).
    fn usage(&self) -> StoreUsage;
    /// For group commit: a [`Syncer`] that makes every write made so far durable and can
    /// run while other threads keep writing (without `&mut self`). `None` (the default):
    /// [`Store::sync`] must be called instead, with the store's lock held.
    fn syncer(&mut self) -> Result<Option<Syncer>, StoreError> {
        Ok(None)
    }
}

/// A store in memory (a `BTreeMap`): for tests and [`Durability::None`]. `sync` does
/// nothing.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    usage: StoreUsage,
    limits: StoreLimits,
}

impl MemoryStore {
    /// An empty store with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with these limits.
    pub fn with_limits(limits: StoreLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }
}

impl Store for MemoryStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let old = self.map.get(key).map(|v| (key.len() + v.len()) as u64);
        self.limits.check(self.usage, old, key.len(), value.len())?;
        self.usage.bytes = self.usage.bytes - old.unwrap_or(0) + (key.len() + value.len()) as u64;
        self.usage.records += usize::from(old.is_none());
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), StoreError> {
        if let Some(v) = self.map.remove(key) {
            self.usage.bytes -= (key.len() + v.len()) as u64;
            self.usage.records -= 1;
        }
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.map.keys().cloned().collect())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn usage(&self) -> StoreUsage {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_keeps_the_contract() {
        contract::run(&mut |limits| Box::new(MemoryStore::with_limits(limits)));
    }
}
