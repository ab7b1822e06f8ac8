//! A persistent session: what it asks its store to write as its state changes, and its
//! restoration from what a store kept (see [`crate::protocol::persist`] for the records).
//!
//! The rule that makes a restart safe: a record reaches the store before the bytes that
//! depend on it leave. The runtime takes the round's operations with
//! [`Session::take_store_ops`] and writes them before it writes the transmit buffer; the
//! operations that must be durable first (with fsync durability: a QoS 2 PUBLISH's Packet
//! Identifier, a PUBREL's state, an incoming QoS 2 PUBREC) set the flag it returns.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::protocol::persist::{
    self, META_KEY, MessageRecord, MetaRecord, Restored, SentState, StoreOp,
};

/// Where an outgoing message's record is: its store key, and what its record says (the id
/// of the completion the application got, and when the publish was accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persisted {
    pub key: u64,
    pub completion_id: u64,
    pub accepted_unix_ms: u64,
}

/// A publish restored from the store: the session reports its end as a
/// [`Event::PublishComplete`] with `id`; the application knows it by `completion_id` (the
/// id its completion had before the restart) and the request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredPublish {
    pub id: RequestId,
    pub completion_id: u64,
    pub request: PublishRequest,
}

/// The operations of a persistent session not yet taken by the runtime.
#[derive(Debug, Default)]
pub(super) struct StoreLog {
    ops: Vec<StoreOp>,
    /// Some operation must be durable before the transmit buffer is written.
    sync: bool,
    /// The stored outgoing messages, by request.
    messages: IdMap<RequestId, Persisted>,
}

impl StoreLog {
    pub(super) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(StoreOp::Put { key, value });
    }

    pub(super) fn remove(&mut self, key: Vec<u8>) {
        self.ops.push(StoreOp::Remove { key });
    }
}

impl Session {
    /// Makes the session persistent: from now on it records its state changes for
    /// [`Session::take_store_ops`]. Call before anything is requested.
    pub fn enable_store(&mut self) {
        if self.store.is_none() {
            self.store = Some(Box::default());
        }
    }

    /// Moves the store operations of the session so far into `ops`, in order. True when
    /// one of them must be durable (with fsync durability) before the transmit buffer is
    /// written.
    pub fn take_store_ops(&mut self, ops: &mut Vec<StoreOp>) -> bool {
        let Some(log) = self.store.as_mut() else {
            return false;
        };
        ops.append(&mut log.ops);
        std::mem::take(&mut log.sync)
    }

    /// Operations taken with [`Session::take_store_ops`] that the store did not (surely)
    /// write: they go back before any taken since, with their need of a sync, to be taken
    /// again. Writing a prefix of them twice is harmless: each sets its key absolutely.
    pub fn return_store_ops(&mut self, mut ops: Vec<StoreOp>, sync: bool) {
        let Some(log) = self.store.as_mut() else {
            return;
        };
        ops.append(&mut log.ops);
        log.ops = ops;
        log.sync |= sync;
    }

    /// Publishes a message whose record the caller wrote already (see
    /// [`Persisted`]): as `Session::publish_checked` does, and from here the session keeps
    /// the record up to date and removes it when the publish ends (a refusal included).
    pub fn publish_persisted(
        &mut self,
        request: PublishRequest,
        persisted: Persisted,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        self.enable_store();
        self.publish_stored(request, Some(persisted), now)
    }

    /// Restores what a store kept, before the first connect: outgoing messages (sent ones
    /// in flight with their Packet Identifiers, to be resent on the resumed session
    /// [MQTT-4.4.0-1]; the others queued, in their order), incoming QoS 2 messages already
    /// acknowledged with PUBREC (not delivered again), the subscriptions and, when the
    /// options name none, the client identifier. The next CONNECT asks to resume the
    /// session (Clean Start 0). A Message Expiry Interval counts from when the publish was
    /// accepted (`now_unix_ms` is the wall clock now); an expired message ends with
    /// [`RequestError::Expired`]. Records that could not be read are removed. With a client
    /// identifier known, the session's own record is (re)written: the caller writes the
    /// operations ([`Session::take_store_ops`]) before the store is used.
    pub fn restore(
        &mut self,
        restored: Restored,
        now: Instant,
        now_unix_ms: u64,
    ) -> Vec<RestoredPublish> {
        self.enable_store();
        let had_session = !restored.is_empty();
        let Restored {
            messages,
            incoming,
            meta,
            unreadable,
        } = restored;
        for (key, _) in unreadable {
            self.store_log().remove(key);
        }
        if let Some(meta) = meta {
            if self.opts.client_id.is_empty() {
                self.opts.client_id = meta.client_id;
            }
            self.subscriptions = meta.subscriptions;
        }
        for pid in incoming {
            self.inbound_qos2.insert(pid, InQos2::PubRecSent);
        }
        let mut out = Vec::with_capacity(messages.len());
        for (key, (record, state)) in messages {
            let id = self.next_request;
            self.next_request += 1;
            let persisted = Persisted {
                key,
                completion_id: record.completion_id,
                accepted_unix_ms: record.accepted_unix_ms,
            };
            self.track_stored(id, persisted);
            let mut request = record.request;
            out.push(RestoredPublish {
                id,
                completion_id: record.completion_id,
                request: request.clone(),
            });
            let age_secs = now_unix_ms.saturating_sub(record.accepted_unix_ms) / 1000;
            if let Some(Property::MessageExpiryInterval(interval)) = request
                .properties
                .iter_mut()
                .find(|p| p.id() == PropertyId::MessageExpiryInterval)
            {
                if u64::from(*interval) <= age_secs {
                    self.complete_publish(id, Err(RequestError::Expired));
                    continue;
                }
                *interval -= age_secs as u32;
            }
            match state {
                Some(s) if self.ids.reserve(s.packet_id) => {
                    let state = match (s.released, request.qos) {
                        (Some(code), _) => OutState::Released(code),
                        (None, QoS::ExactlyOnce) => OutState::Qos2Sent,
                        (None, _) => OutState::Qos1Sent,
                    };
                    self.send_seq = self.send_seq.max(s.order);
                    self.inflight.insert(
                        s.packet_id,
                        Outgoing {
                            id,
                            order: s.order,
                            publish: Publish {
                                dup: false,
                                qos: request.qos,
                                retain: request.retain,
                                topic: request.topic,
                                packet_id: s.packet_id,
                                properties: request.properties,
                                payload: request.payload,
                            },
                            state,
                            pubrec_properties: Properties::new(),
                            deferred: false,
                        },
                    );
                }
                _ => {
                    let bytes = request_bytes(&request);
                    self.queued_bytes += bytes;
                    self.queue.push_back(Queued {
                        id,
                        request,
                        since: now,
                        bytes,
                    });
                }
            }
        }
        if had_session {
            // The server may hold this session: resume it, whatever the options' Clean
            // Start (a restart is not a new session).
            self.next_clean_start = Some(false);
        }
        if !self.opts.client_id.is_empty() {
            // The store is this client's from now on, before anything else is written to
            // it: a client with another identifier is refused it even if this one never
            // connected. (An identifier the server assigns is recorded at its CONNACK.)
            self.store_meta();
        }
        out
    }

    fn store_log(&mut self) -> &mut StoreLog {
        self.store.get_or_insert_default()
    }

    pub(super) fn track_stored(&mut self, id: RequestId, p: Persisted) {
        self.store_log().messages.insert(id, p);
    }

    /// The publish `id` ended: its records go.
    pub(super) fn untrack_stored(&mut self, id: RequestId) {
        if let Some(log) = self.store.as_mut()
            && let Some(p) = log.messages.remove(&id)
        {
            log.remove(persist::message_key(p.key));
            log.remove(persist::state_key(p.key));
        }
    }

    /// The session closes: its stored messages are not ended in the store (a client made
    /// later with the store sends them).
    pub(super) fn keep_stored(&mut self) {
        if let Some(log) = self.store.as_mut() {
            log.messages.clear();
        }
    }

    /// A publish refused before it had a request id: its records go.
    pub(super) fn forget_message(&mut self, key: u64) {
        let log = self.store_log();
        log.remove(persist::message_key(key));
        log.remove(persist::state_key(key));
    }

    /// The record of a message whose topic was resolved from its Topic Alias.
    pub(super) fn store_message(&mut self, p: Persisted, request: &PublishRequest) {
        let record = MessageRecord {
            completion_id: p.completion_id,
            accepted_unix_ms: p.accepted_unix_ms,
            request: request.clone(),
        };
        self.store_log()
            .put(persist::message_key(p.key), record.encode());
    }

    /// A stored QoS 1/2 publish went out with `packet_id`. For QoS 2 the identifier must be
    /// durable first: sent again under another one after a restart, it would be a second
    /// message. For QoS 1 a lost record costs at most a duplicate, which QoS 1 allows.
    pub(super) fn store_sent(&mut self, id: RequestId, packet_id: u16, qos: QoS) {
        let state = SentState {
            packet_id,
            released: None,
            order: self.send_seq,
        };
        self.store_state(id, state, qos == QoS::ExactlyOnce);
    }

    /// PUBREL goes out for a stored QoS 2 publish: durable first (see `handle_pubrec`).
    pub(super) fn store_released(
        &mut self,
        id: RequestId,
        packet_id: u16,
        code: PubRecReasonCode,
        order: u64,
    ) {
        let state = SentState {
            packet_id,
            released: Some(code),
            order,
        };
        self.store_state(id, state, true);
    }

    /// Where the stored publish `id` stands; `sync`: durable before the transmit leaves.
    fn store_state(&mut self, id: RequestId, state: SentState, sync: bool) {
        let Some(log) = self.store.as_mut() else {
            return;
        };
        let Some(p) = log.messages.get(&id).copied() else {
            return;
        };
        log.put(persist::state_key(p.key), state.encode());
        log.sync |= sync;
    }

    /// A sent QoS 1 publish goes back to the queue (the server lost the session): its state
    /// is "not sent yet" again, in the same room.
    pub(super) fn store_unsent(&mut self, id: RequestId) {
        let Some(log) = self.store.as_mut() else {
            return;
        };
        if let Some(p) = log.messages.get(&id).copied() {
            log.put(persist::state_key(p.key), SentState::unsent());
        }
    }

    pub(super) fn store_incoming(&mut self, packet_id: u16) {
        if let Some(log) = self.store.as_mut() {
            log.put(persist::incoming_key(packet_id), vec![1]);
            log.sync = true;
        }
    }

    pub(super) fn forget_incoming(&mut self, packet_id: u16) {
        if let Some(log) = self.store.as_mut() {
            log.remove(persist::incoming_key(packet_id));
        }
    }

    pub(super) fn store_meta(&mut self) {
        if self.store.is_none() {
            return;
        }
        let meta = MetaRecord {
            client_id: self.opts.client_id.clone(),
            session_expiry_interval: self.opts.session_expiry_interval,
            subscriptions: self.subscriptions.clone(),
        };
        self.store_log().put(META_KEY.to_vec(), meta.encode());
    }
}
