//! What a persistent session keeps, as records of a key-value store, and their encoding.
//!
//! No I/O here: the session says what to write ([`StoreOp`], taken with
//! [`super::Session::take_store_ops`]) and the runtime writes it before the bytes of the same
//! round leave, so that the store always knows at least what the server may have seen.
//!
//! Keys (one byte of kind, then a big-endian number):
//! - `m` + message key (u64): an outgoing QoS 1/2 publish as the application gave it, from
//!   the moment the publish call returns OK ([`MessageRecord`]).
//! - `s` + message key: where that publish stands once sent: its Packet Identifier and
//!   whether PUBREL went out ([`SentState`]). Written with the message as "not sent yet"
//!   ([`SentState::unsent`], the same size as every state), so that sending a message never
//!   needs more room than accepting it took: a store filled by publishes can send them.
//!   Absent (a store written before this record existed): still queued.
//! - `i` + Packet Identifier (u16): an incoming QoS 2 message acknowledged with PUBREC, its
//!   PUBREL not yet received (delivered once: a resent PUBLISH is not delivered again).
//! - `c`: the client identifier, Session Expiry Interval and subscriptions ([`MetaRecord`]).

use std::collections::BTreeMap;

use crate::codec::{
    ByteString, Bytes, Packet, PubRecReasonCode, Publish, QoS, SubscriptionOptions,
};

use super::filters::SubscriptionMap;
use super::session::PublishRequest;

/// The record format's version: the first byte of every value.
const FORMAT: u8 = 1;

/// One change the store must make, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Remove { key: Vec<u8> },
}

/// The store key of an outgoing message's body.
pub fn message_key(key: u64) -> Vec<u8> {
    tagged(b'm', &key.to_be_bytes())
}

/// The store key of an outgoing message's sent state.
pub fn state_key(key: u64) -> Vec<u8> {
    tagged(b's', &key.to_be_bytes())
}

/// The store key of an incoming QoS 2 message awaiting PUBREL.
pub fn incoming_key(packet_id: u16) -> Vec<u8> {
    tagged(b'i', &packet_id.to_be_bytes())
}

/// The store key of the session's own record.
pub const META_KEY: &[u8] = b"c";

fn tagged(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.len());
    k.push(tag);
    k.extend_from_slice(rest);
    k
}

/// An outgoing publish as stored: what the application asked for, the id its completion
/// had (to report the end of a publish made before a restart), and when it was accepted
/// (wall clock, milliseconds since the Unix epoch: the Message Expiry Interval counts from
/// there across restarts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub completion_id: u64,
    pub accepted_unix_ms: u64,
    pub request: PublishRequest,
}

impl MessageRecord {
    /// `[FORMAT][completion id u64][accepted u64][topic alias u16, 0 for none][PUBLISH]`,
    /// the request encoded as an MQTT 5.0 PUBLISH packet (Packet Identifier 1 as a
    /// placeholder): one encoding, checked by the codec both ways.
    pub fn encode(&self) -> Vec<u8> {
        let r = &self.request;
        let publish = Publish {
            dup: false,
            qos: r.qos,
            retain: r.retain,
            topic: r.topic.clone(),
            packet_id: u16::from(r.qos != QoS::AtMostOnce),
            properties: r.properties.clone(),
            payload: r.payload.clone(),
        };
        let mut v = Vec::with_capacity(19 + r.topic.len() + r.payload.len() + 16);
        v.push(FORMAT);
        v.extend_from_slice(&self.completion_id.to_be_bytes());
        v.extend_from_slice(&self.accepted_unix_ms.to_be_bytes());
        v.extend_from_slice(&r.topic_alias.unwrap_or(0).to_be_bytes());
        // A request that passed `PublishRequest::check` encodes; should one not, the
        // record is empty past its header and is refused when read back.
        let _ = Packet::Publish(publish).encode(&mut v);
        v
    }

    pub fn decode(v: &[u8]) -> Result<Self, String> {
        if v.len() < 19 || v[0] != FORMAT {
            return Err("not a message record".into());
        }
        let completion_id = u64::from_be_bytes(v[1..9].try_into().expect("8 bytes"));
        let accepted_unix_ms = u64::from_be_bytes(v[9..17].try_into().expect("8 bytes"));
        let alias = u16::from_be_bytes([v[17], v[18]]);
        let Packet::Publish(p) =
            Packet::decode(Bytes::copy_from_slice(&v[19..])).map_err(|e| e.to_string())?
        else {
            return Err("a message record that holds no PUBLISH".into());
        };
        Ok(Self {
            completion_id,
            accepted_unix_ms,
            request: PublishRequest {
                topic: p.topic,
                payload: p.payload,
                qos: p.qos,
                retain: p.retain,
                topic_alias: (alias != 0).then_some(alias),
                properties: p.properties,
            },
        })
    }
}

/// Where a sent QoS 1/2 publish stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentState {
    pub packet_id: u16,
    /// PUBREL sent after a PUBREC with this reason code (QoS 2); `None`: waiting for
    /// PUBACK or PUBREC.
    pub released: Option<PubRecReasonCode>,
    /// Resend order (4.6).
    pub order: u64,
}

/// The size of every sent-state record's value.
const STATE_LEN: usize = 13;

impl SentState {
    /// The state record of a publish accepted and not sent yet: Packet Identifier 0 (never
    /// a sent one), the size of every state, so that the room its state needs is taken when
    /// the publish is accepted.
    pub fn unsent() -> Vec<u8> {
        let mut v = vec![0; STATE_LEN];
        v[0] = FORMAT;
        v
    }

    /// A state record: `None` for [`SentState::unsent`].
    pub fn decode_record(v: &[u8]) -> Result<Option<Self>, String> {
        if v == Self::unsent().as_slice() {
            return Ok(None);
        }
        Self::decode(v).map(Some)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(STATE_LEN);
        v.push(FORMAT);
        v.extend_from_slice(&self.packet_id.to_be_bytes());
        match self.released {
            None => v.extend_from_slice(&[0, 0]),
            Some(code) => v.extend_from_slice(&[1, code as u8]),
        }
        v.extend_from_slice(&self.order.to_be_bytes());
        v
    }

    pub fn decode(v: &[u8]) -> Result<Self, String> {
        if v.len() != STATE_LEN || v[0] != FORMAT {
            return Err("not a sent-state record".into());
        }
        let packet_id = u16::from_be_bytes([v[1], v[2]]);
        if packet_id == 0 {
            return Err("Packet Identifier 0 in a sent-state record".into());
        }
        let released = match v[3] {
            0 => None,
            1 => Some(
                PubRecReasonCode::from_u8(v[4])
                    .filter(|c| !c.is_failure())
                    .ok_or("a PUBREC reason code that is not a success")?,
            ),
            _ => return Err("an unknown state in a sent-state record".into()),
        };
        let order = u64::from_be_bytes(v[5..13].try_into().expect("8 bytes"));
        Ok(Self {
            packet_id,
            released,
            order,
        })
    }
}

/// The session's own record: who it is, how long the server keeps it, and what it is
/// subscribed to (to subscribe again when the server lost the session).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetaRecord {
    pub client_id: ByteString,
    pub session_expiry_interval: u32,
    pub subscriptions: SubscriptionMap,
}

impl MetaRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![FORMAT];
        put_str(&mut v, &self.client_id);
        v.extend_from_slice(&self.session_expiry_interval.to_be_bytes());
        v.extend_from_slice(&(self.subscriptions.len() as u32).to_be_bytes());
        for (filter, (options, id)) in self.subscriptions.iter() {
            put_str(&mut v, filter);
            v.push(options.to_byte());
            v.extend_from_slice(&id.unwrap_or(0).to_be_bytes());
        }
        v
    }

    pub fn decode(v: &[u8]) -> Result<Self, String> {
        let mut r = Cursor { v, at: 0 };
        if r.u8()? != FORMAT {
            return Err("not a session record".into());
        }
        let client_id = r.str()?;
        let session_expiry_interval = r.u32()?;
        let n = r.u32()?;
        let mut subscriptions = SubscriptionMap::new();
        for _ in 0..n {
            let filter = r.str()?;
            let options = SubscriptionOptions::from_byte(r.u8()?).map_err(|e| e.to_string())?;
            let id = r.u32()?;
            subscriptions.insert(filter, (options, (id != 0).then_some(id)));
        }
        if r.at != v.len() {
            return Err("bytes after the session record".into());
        }
        Ok(Self {
            client_id,
            session_expiry_interval,
            subscriptions,
        })
    }
}

fn put_str(v: &mut Vec<u8>, s: &str) {
    // Client identifiers and topic filters are MQTT strings: at most 65,535 bytes.
    v.extend_from_slice(&(s.len() as u16).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
}

struct Cursor<'a> {
    v: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.v.len());
        let end = end.ok_or("a record cut short")?;
        let s = &self.v[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn str(&mut self) -> Result<ByteString, String> {
        let n = u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes"));
        let s = std::str::from_utf8(self.take(usize::from(n))?)
            .map_err(|_| "a string that is not UTF-8")?;
        Ok(ByteString::from(s))
    }
}

/// A store's content, sorted into what a session restores.
#[derive(Debug, Default)]
pub struct Restored {
    /// By message key, oldest first: the record and, once sent, its state.
    pub messages: BTreeMap<u64, (MessageRecord, Option<SentState>)>,
    /// Incoming QoS 2 Packet Identifiers awaiting PUBREL.
    pub incoming: Vec<u16>,
    pub meta: Option<MetaRecord>,
    /// Records that could not be read (key, why): not restored; the runtime removes them.
    pub unreadable: Vec<(Vec<u8>, String)>,
}

impl Restored {
    /// Sorts `(key, value)` pairs read from a store. Nothing here trusts the store: a
    /// record that does not decode is set aside in `unreadable`, a state without its
    /// message too.
    pub fn from_records(records: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Self {
        let mut out = Self::default();
        let mut states = BTreeMap::new();
        for (key, value) in records {
            let number = |n: usize| -> Option<&[u8]> { (key.len() == 1 + n).then(|| &key[1..]) };
            let result = match key.first() {
                Some(b'm') => number(8)
                    .ok_or_else(|| "a bad key".to_string())
                    .and_then(|k| {
                        let k = u64::from_be_bytes(k.try_into().expect("8 bytes"));
                        MessageRecord::decode(&value).map(|m| {
                            out.messages.insert(k, (m, None));
                        })
                    }),
                Some(b's') => number(8)
                    .ok_or_else(|| "a bad key".to_string())
                    .and_then(|k| {
                        let k = u64::from_be_bytes(k.try_into().expect("8 bytes"));
                        SentState::decode_record(&value).map(|s| {
                            states.insert(k, s);
                        })
                    }),
                Some(b'i') => number(2)
                    .map(|k| u16::from_be_bytes(k.try_into().expect("2 bytes")))
                    .filter(|&p| p != 0)
                    .map(|p| out.incoming.push(p))
                    .ok_or_else(|| "a bad key".to_string()),
                Some(b'c') if key.len() == 1 => {
                    MetaRecord::decode(&value).map(|m| out.meta = Some(m))
                }
                _ => Err("an unknown key".to_string()),
            };
            if let Err(why) = result {
                out.unreadable.push((key, why));
            }
        }
        for (k, s) in states {
            match out.messages.get_mut(&k) {
                Some((m, state)) if m.request.qos != QoS::AtMostOnce => *state = s,
                _ => out
                    .unreadable
                    .push((state_key(k), "a sent state without its message".into())),
            }
        }
        out.incoming.sort_unstable();
        out
    }

    /// The next message key to hand out: past every one restored.
    pub fn next_key(&self) -> u64 {
        self.messages.keys().next_back().map_or(1, |k| k + 1)
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.incoming.is_empty() && self.meta.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Properties, Property};

    fn request(qos: QoS) -> PublishRequest {
        PublishRequest {
            topic: ByteString::from("t/1"),
            payload: Bytes::from_static(b"reading 42"),
            qos,
            retain: true,
            topic_alias: Some(3),
            properties: Properties::new()
                .with(Property::MessageExpiryInterval(60))
                .with(Property::UserProperty("k".into(), "v".into())),
        }
    }

    #[test]
    fn records_round_trip() {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let m = MessageRecord {
                completion_id: 77,
                accepted_unix_ms: 1_800_000_000_000,
                request: request(qos),
            };
            assert_eq!(MessageRecord::decode(&m.encode()).unwrap(), m);
        }
        for released in [None, Some(PubRecReasonCode::NoMatchingSubscribers)] {
            let s = SentState {
                packet_id: 9,
                released,
                order: 5,
            };
            assert_eq!(SentState::decode(&s.encode()).unwrap(), s);
            assert_eq!(SentState::decode_record(&s.encode()).unwrap(), Some(s));
            assert_eq!(s.encode().len(), SentState::unsent().len());
        }
        assert_eq!(
            SentState::decode_record(&SentState::unsent()).unwrap(),
            None
        );
        assert!(SentState::decode(&SentState::unsent()).is_err());
        let mut meta = MetaRecord {
            client_id: "gw-1".into(),
            session_expiry_interval: 3600,
            ..MetaRecord::default()
        };
        meta.subscriptions.insert(
            "a/+".into(),
            (
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    ..SubscriptionOptions::default()
                },
                Some(4),
            ),
        );
        assert_eq!(MetaRecord::decode(&meta.encode()).unwrap(), meta);
    }

    #[test]
    fn unreadable_records_are_set_aside_not_restored() {
        let good = MessageRecord {
            completion_id: 1,
            accepted_unix_ms: 0,
            request: request(QoS::AtLeastOnce),
        };
        let mut cut = good.encode();
        cut.truncate(cut.len() - 3);
        let records = vec![
            (message_key(1), good.encode()),
            (message_key(3), good.encode()),
            (state_key(3), SentState::unsent()),
            (state_key(7), SentState::unsent()),
            (message_key(2), cut),
            (state_key(1), vec![1, 0, 0, 0, 0]),
            (
                state_key(5),
                SentState {
                    packet_id: 1,
                    released: None,
                    order: 0,
                }
                .encode(),
            ),
            (incoming_key(0), vec![]),
            (b"zzz".to_vec(), vec![]),
            (META_KEY.to_vec(), vec![9]),
        ];
        let r = Restored::from_records(records);
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[&1], (good.clone(), None));
        assert_eq!(r.messages[&3], (good, None), "accepted, not sent yet");
        assert!(r.incoming.is_empty() && r.meta.is_none());
        assert_eq!(r.unreadable.len(), 7, "{:?}", r.unreadable);
        assert_eq!(r.next_key(), 4);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for len in 0..200 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = MessageRecord::decode(&v);
            let _ = SentState::decode(&v);
            let _ = MetaRecord::decode(&v);
            let mut framed = vec![FORMAT];
            framed.extend_from_slice(&v);
            let _ = MessageRecord::decode(&framed);
            let _ = MetaRecord::decode(&framed);
        }
    }
}
