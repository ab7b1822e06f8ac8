//! A persistent client's store on the I/O thread: the session's operations are written
//! before the bytes that depend on them leave (see `crate::protocol::persist`).

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::protocol::persist::StoreOp;
use crate::store::{Durability, StoreError, Ticket};

/// Writes a session's store operations, in order, under one lock of the store. A put the
/// store's bound refuses (`Full`: nothing written) does not stop the others; the first such
/// refusal is the result. Any other error stops at once.
pub(crate) fn write_ops(store: &SharedStore, ops: &[StoreOp]) -> Result<Ticket, StoreError> {
    store.write(|s| {
        let mut full = None;
        for op in ops {
            match op {
                StoreOp::Put { key, value } => match s.put(key, value) {
                    Err(e @ StoreError::Full { .. }) => {
                        full.get_or_insert(e);
                    }
                    other => other?,
                },
                StoreOp::Remove { key } => s.remove(key)?,
            }
        }
        full.map_or(Ok(()), Err)
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
            let written = write_ops(store, &ops).and_then(|ticket| {
                if sync && store.durability() == Durability::Fsync {
                    store.durable(ticket)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = written {
                // A failure of the store (not its bound: the others were written then):
                // some may be written, some not. The session gets them all back, to be
                // written again, in order, before anything of a later round is sent (a
                // sequence of puts and removes written twice ends as written once). Else a
                // state the store missed stays missed: a QoS 2 message resent on the next
                // connection under a Packet Identifier the store never had.
                if !matches!(e, StoreError::Full { .. }) {
                    c.session.return_store_ops(ops, sync);
                }
                return Err(e);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, Store, StoreLimits};

    #[test]
    fn a_put_beyond_the_bound_does_not_stop_the_others() {
        let mut inner = MemoryStore::with_limits(StoreLimits {
            max_bytes: 20,
            ..StoreLimits::default()
        });
        inner.put(b"old", b"x").unwrap();
        let store = SharedStore::new(Box::new(inner), Durability::Os);
        let put = |k: &[u8], v: &[u8]| StoreOp::Put {
            key: k.to_vec(),
            value: v.to_vec(),
        };
        let ops = [
            put(b"big", &[0; 64]),
            put(b"a", b"1"),
            StoreOp::Remove {
                key: b"old".to_vec(),
            },
            put(b"b", b"2"),
        ];
        let result = write_ops(&store, &ops);
        assert!(matches!(result, Err(StoreError::Full { .. })), "{result:?}");
        let mut keys = Vec::new();
        store
            .write(|s| {
                keys = s.keys()?;
                Ok(())
            })
            .unwrap();
        keys.sort();
        assert_eq!(keys, [b"a".to_vec(), b"b".to_vec()]);
    }
}
