//! A persistent client's side of its store on the caller's thread: a publish's record
//! written before the call returns, and the session restored from the store when the
//! client is made (the I/O thread's side: `reactor/persistence.rs`).

use std::sync::atomic::Ordering;

use super::Client;
use crate::codec::QoS;
use crate::error::Error;
use crate::protocol::persist::{self, MessageRecord, Restored, SentState};
use crate::protocol::{Persisted, PublishRequest, RestoredPublish, Session};
use crate::runtime::reactor;
use crate::store::{SharedStore, StoreError};

impl Client {
    /// A persistent client's QoS 1/2 publish: its record, in the store as its durability
    /// says, before the call returns.
    pub(super) fn persist(
        &self,
        request: &PublishRequest,
        completion_id: u64,
    ) -> Result<Option<Persisted>, Error> {
        let Some(store) = &self.inner.store else {
            return Ok(None);
        };
        if request.qos == QoS::AtMostOnce {
            return Ok(None);
        }
        let persisted = Persisted {
            key: self.inner.next_key.fetch_add(1, Ordering::Relaxed),
            completion_id,
            accepted_unix_ms: unix_ms(),
        };
        let record = MessageRecord {
            completion_id,
            accepted_unix_ms: persisted.accepted_unix_ms,
            request: request.clone(),
        }
        .encode();
        // The room its sent state will need is taken now, with the message (a store full of
        // accepted publishes can still send them). The publish fails with the message's own
        // error; a state left alone (a kill between the writes, or a failed removal) is set
        // aside at the next start.
        let state_key = persist::state_key(persisted.key);
        let ticket = store.write(|s| {
            s.put(&state_key, &SentState::unsent())?;
            s.put(&persist::message_key(persisted.key), &record)
                .inspect_err(|_| {
                    let _ = s.remove(&state_key);
                })
        })?;
        store.durable(ticket)?;
        Ok(Some(persisted))
    }
}

/// Milliseconds since the Unix epoch (0 for a clock before it).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Reads a store and restores its session into `session`; the restored publishes and the
/// next message key. A store that holds another client's session is refused.
pub(super) fn restore(
    store: &SharedStore,
    session: &mut Session,
) -> Result<(Vec<RestoredPublish>, u64), Error> {
    type Records = Vec<(Vec<u8>, Vec<u8>)>;
    let records = store.read(|s| -> Result<Records, StoreError> {
        let mut records = Vec::new();
        for key in s.keys()? {
            if let Some(value) = s.get(&key)? {
                records.push((key, value));
            }
        }
        Ok(records)
    })?;
    let restored = Restored::from_records(records);
    if let Some(meta) = &restored.meta {
        let configured = &session.options().client_id;
        if !configured.is_empty() && *configured != meta.client_id {
            return Err(Error::InvalidArgument(format!(
                "the store holds the session of client \"{}\", not \"{configured}\" (one store \
                 per client identifier)",
                meta.client_id
            )));
        }
    }
    let next_key = restored.next_key();
    let list = session.restore(restored, std::time::Instant::now(), unix_ms());
    // The unreadable records' removal and the session's own record, now: the store is
    // marked as this client's before `Client::new` returns.
    let mut ops = Vec::new();
    session.take_store_ops(&mut ops);
    if !ops.is_empty() {
        let ticket = reactor::write_ops(store, &ops)?;
        store.durable(ticket)?;
    }
    Ok((list, next_key))
}
