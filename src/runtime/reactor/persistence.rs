//! A persistent client's store on the I/O thread: the session's operations are written
//! before the bytes that depend on them leave (see `crate::protocol::persist`).

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::protocol::persist::StoreOp;
use crate::store::{Durability, StoreError, Ticket};

/// Writes a session's store operations, in order, under one lock of the store.
pub(crate) fn write_ops(store: &SharedStore, ops: Vec<StoreOp>) -> Result<Ticket, StoreError> {
    store.write(|s| {
        for op in ops {
            match op {
                StoreOp::Put { key, value } => s.put(&key, &value)?,
                StoreOp::Remove { key } => s.remove(&key)?,
            }
        }
        Ok(())
    })
}

impl Reactor {
    /// Writes the session's store operations of this round, in order, and with fsync
    /// durability waits for them to be on disk when one of them must be before the
    /// transmit buffer is written (many writers share one sync). At
    /// [`Durability::FsyncBeforeSend`], whenever bytes are about to leave, everything
    /// written so far (the publishes' records too) is synced first: one sync per round.
    pub(super) fn write_store(c: &mut Conn) -> Result<(), StoreError> {
        let Some(store) = c.settings.store.as_ref() else {
            return Ok(());
        };
        let mut ops = Vec::new();
        let sync = c.session.take_store_ops(&mut ops);
        if !ops.is_empty() {
            let ticket = write_ops(store, ops)?;
            if sync && store.durability() == Durability::Fsync {
                store.durable(ticket)?;
            }
        }
        if store.durability() == Durability::FsyncBeforeSend && c.session.has_transmit() {
            store.sync_written()?;
        }
        Ok(())
    }

    /// The store refused a write the next bytes depend on: nothing of this round is sent,
    /// and the connection ends with the reason, in words (a full disk, a failed C store).
    /// The session keeps its state in memory and resends on the next connection.
    pub(super) fn store_failed(&mut self, client: usize, e: &StoreError, now: Instant) {
        if let Some(c) = self.conns.get_mut(&client) {
            let mut discard = Vec::new();
            c.session.take_transmit(&mut discard);
            log(c, LogLevel::Error, |_| {
                format!("the session store failed: {e}")
            });
        }
        self.lost(
            client,
            DisconnectCause::Transport {
                detail: format!(
                    "the session store failed ({e}); nothing that depends on it was sent"
                ),
                errno: None,
            },
            now,
        );
    }
}
