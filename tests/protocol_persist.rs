//! A persistent session (`Session::enable_store`, `publish_persisted`, `take_store_ops`,
//! `restore`) in scripted conversations: the session's store operations are applied to a
//! map, the process "dies" (the session is dropped at a chosen point), and a new session
//! restored from the map must carry on exactly as MQTT 5.0 4.4 requires of a resumed
//! session. No I/O: the store is a `BTreeMap`, the server is played by hand.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use midge::codec::{
    ByteString, Bytes, ConnAck, ConnectReasonCode, Decoder, Packet, Properties, Property, PubAck,
    PubComp, PubRec, PubRecReasonCode, PubRel, Publish, QoS,
};
use midge::protocol::persist::{MessageRecord, Restored, StoreOp, incoming_key, message_key};
use midge::protocol::{
    AckReason, Event, Options, Persisted, PublishAck, PublishRequest, RequestError, Session,
};

/// A session, the virtual clock, and the store its operations were applied to.
struct Node {
    now: Instant,
    unix_ms: u64,
    session: Session,
    store: BTreeMap<Vec<u8>, Vec<u8>>,
    next_key: u64,
    /// Whether an operation applied since `take_synced` was to be durable before sending.
    synced: bool,
}

impl Node {
    fn new() -> Self {
        let now = Instant::now();
        let mut session = Session::new(opts(), now);
        session.enable_store();
        Self {
            now,
            unix_ms: 1_800_000_000_000,
            session,
            store: BTreeMap::new(),
            next_key: 1,
            synced: false,
        }
    }

    /// A new process with the same store: restores it and returns the node and what was
    /// restored (request ids of the restored publishes and the completion ids they had).
    fn restart(self, after: Duration) -> (Self, Vec<(u64, u64)>) {
        let now = self.now + after;
        let unix_ms = self.unix_ms + after.as_millis() as u64;
        let mut session = Session::new(
            Options {
                // The options name no client id: the store gives it.
                client_id: ByteString::new(),
                ..opts()
            },
            now,
        );
        let restored = Restored::from_records(self.store.clone());
        let next_key = restored.next_key();
        let list = session.restore(restored, now, unix_ms);
        let mut node = Self {
            now,
            unix_ms,
            session,
            store: self.store,
            next_key,
            synced: false,
        };
        node.apply();
        (node, list.iter().map(|r| (r.id, r.completion_id)).collect())
    }

    /// The runtime's part: the session's operations, applied in order.
    fn apply(&mut self) {
        let mut ops = Vec::new();
        self.synced |= self.session.take_store_ops(&mut ops);
        for op in ops {
            match op {
                StoreOp::Put { key, value } => {
                    self.store.insert(key, value);
                }
                StoreOp::Remove { key } => {
                    self.store.remove(&key);
                }
            }
        }
    }

    /// What the caller's thread does for a persistent publish: the record first, then
    /// the request.
    fn publish(&mut self, topic: &'static str, qos: QoS, completion_id: u64) -> u64 {
        let request = request(topic, qos);
        let key = self.next_key;
        self.next_key += 1;
        let record = MessageRecord {
            completion_id,
            accepted_unix_ms: self.unix_ms,
            request: request.clone(),
        };
        self.store.insert(message_key(key), record.encode());
        let p = Persisted {
            key,
            completion_id,
            accepted_unix_ms: self.unix_ms,
        };
        let id = self
            .session
            .publish_persisted(request, p, self.now)
            .expect("accepted");
        self.apply();
        id
    }

    fn take_synced(&mut self) -> bool {
        self.apply();
        std::mem::take(&mut self.synced)
    }

    fn sent(&mut self) -> Vec<Packet> {
        self.apply();
        let mut bytes = Vec::new();
        self.session.take_transmit(&mut bytes);
        let mut decoder = Decoder::new();
        decoder.feed(&bytes);
        std::iter::from_fn(|| decoder.next_packet().expect("well-formed")).collect()
    }

    fn deliver(&mut self, packet: impl Into<Packet>) {
        let mut bytes = Vec::new();
        packet.into().encode(&mut bytes).unwrap();
        self.session.handle_read(&bytes, self.now);
        self.apply();
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// Connects; returns the CONNECT's Clean Start and what was sent after the CONNACK.
    fn connect(&mut self, session_present: bool) -> (bool, Vec<Packet>) {
        self.session.connection_opened(self.now);
        let clean_start = match self.sent().as_slice() {
            [Packet::Connect(c)] => c.clean_start,
            other => panic!("expected CONNECT, got {other:?}"),
        };
        self.deliver(ConnAck {
            session_present,
            reason_code: ConnectReasonCode::Success,
            properties: Properties::new(),
        });
        (clean_start, self.sent())
    }

    fn keys(&self, tag: u8) -> usize {
        self.store.keys().filter(|k| k[0] == tag).count()
    }
}

fn opts() -> Options {
    Options {
        client_id: ByteString::from_static("gw-1"),
        session_expiry_interval: 3600,
        ..Options::default()
    }
}

fn request(topic: &'static str, qos: QoS) -> PublishRequest {
    PublishRequest {
        topic: ByteString::from_static(topic),
        payload: Bytes::from_static(b"reading"),
        qos,
        ..PublishRequest::default()
    }
}

fn publishes(sent: &[Packet]) -> Vec<&Publish> {
    sent.iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// [MQTT-4.4.0-1] after a restart, unacknowledged PUBLISHes go out again with their
/// original Packet Identifiers and DUP set [MQTT-3.3.1-1], and PUBREL for a QoS 2 message
/// the server already acknowledged with PUBREC: never the PUBLISH again, which the server
/// would take for a new message. The restored publishes complete with the completion ids
/// they had, and the store is empty once every exchange is done.
#[test]
fn a_restart_resends_in_flight_messages_with_their_packet_ids() {
    let mut node = Node::new();
    node.connect(false);
    node.publish("a", QoS::AtLeastOnce, 101);
    node.publish("b", QoS::ExactlyOnce, 102);
    node.publish("c", QoS::ExactlyOnce, 103);
    assert!(
        node.take_synced(),
        "a QoS 2 PUBLISH's packet id is made durable first"
    );
    let sent = node.sent();
    let ids: Vec<u16> = publishes(&sent).iter().map(|p| p.packet_id).collect();
    assert_eq!(ids.len(), 3);
    // The server acknowledges "c" with PUBREC: its PUBREL state is stored first.
    node.deliver(PubRec::new(ids[2]));
    assert!(
        node.take_synced(),
        "the PUBREL's state is made durable first"
    );
    assert!(matches!(node.sent().as_slice(), [Packet::PubRel(r)] if r.packet_id == ids[2]));
    assert_eq!(node.keys(b'm'), 3);
    assert_eq!(node.keys(b's'), 3);

    // kill -9, then a new process with the same store.
    let (mut node, restored) = node.restart(Duration::from_secs(5));
    let completion_ids: Vec<u64> = restored.iter().map(|r| r.1).collect();
    assert_eq!(completion_ids, vec![101, 102, 103]);
    let (clean_start, sent) = node.connect(true);
    assert!(!clean_start, "a restored session asks to resume it");
    let again = publishes(&sent);
    assert_eq!(again.len(), 2, "{sent:?}");
    assert!(
        again.iter().all(|p| p.dup),
        "[MQTT-3.3.1-1] DUP on a resend"
    );
    assert_eq!(
        again.iter().map(|p| p.packet_id).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );
    assert!(
        sent.iter()
            .any(|p| matches!(p, Packet::PubRel(r) if r.packet_id == ids[2])),
        "PUBREL for the released message, not its PUBLISH: {sent:?}"
    );
    node.deliver(PubAck::new(ids[0]));
    node.deliver(PubRec::new(ids[1]));
    node.deliver(PubComp::new(ids[1]));
    node.deliver(PubComp::new(ids[2]));
    let done: Vec<(u64, bool)> = node
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::PublishComplete { id, result } => Some((id, result.is_ok())),
            _ => None,
        })
        .collect();
    let restored_ids: Vec<u64> = restored.iter().map(|r| r.0).collect();
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|(id, ok)| *ok && restored_ids.contains(id)));
    assert_eq!(node.keys(b'm') + node.keys(b's'), 0, "{:?}", node.store);
}

/// Messages accepted while offline survive a restart in their order and go out as new
/// PUBLISHes (DUP 0: the server never saw them).
#[test]
fn an_offline_queue_survives_a_restart_in_order() {
    let mut node = Node::new();
    for (i, topic) in ["q/1", "q/2", "q/3"].into_iter().enumerate() {
        node.publish(topic, QoS::AtLeastOnce, 10 + i as u64);
    }
    assert_eq!(node.keys(b'm'), 3);
    assert_eq!(node.keys(b's'), 0, "nothing sent yet");
    let (mut node, restored) = node.restart(Duration::from_secs(1));
    assert_eq!(restored.len(), 3);
    let (_, sent) = node.connect(false);
    let topics: Vec<&str> = publishes(&sent).iter().map(|p| &*p.topic).collect();
    assert_eq!(topics, ["q/1", "q/2", "q/3"]);
    assert!(publishes(&sent).iter().all(|p| !p.dup));
    // A key past the restored ones: nothing is overwritten.
    let key = node.next_key;
    assert_eq!(key, 4);
}

/// An incoming QoS 2 message acknowledged with PUBREC is delivered once across a restart:
/// the server's PUBLISH again (DUP) is answered with PUBREC and not delivered [MQTT-4.3.3-9]
/// (the receiver must not cause duplicate delivery). Until PUBREC, it is not in the store:
/// a message the application never acknowledged comes again.
#[test]
fn an_acknowledged_incoming_qos2_message_is_not_delivered_again_after_a_restart() {
    let mut node = Node::new();
    node.connect(false);
    let incoming = |pid, dup| Publish {
        dup,
        qos: QoS::ExactlyOnce,
        retain: false,
        topic: ByteString::from_static("cmd"),
        packet_id: pid,
        properties: Properties::new(),
        payload: Bytes::from_static(b"open valve"),
    };
    node.deliver(incoming(7, false));
    node.deliver(incoming(8, false));
    let messages: Vec<_> = node
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(messages.len(), 2);
    // The application acknowledges 7 only (8 dies with the process).
    node.take_synced();
    node.session.acknowledge(messages[0].ack.unwrap(), node.now);
    assert!(
        node.take_synced(),
        "the PUBREC's record is made durable first"
    );
    assert!(node.store.contains_key(&incoming_key(7)));
    assert!(!node.store.contains_key(&incoming_key(8)));
    // What the header's `midge_store_file_new` says it takes: 4 bytes, one record.
    assert_eq!(
        incoming_key(7).len() + node.store[&incoming_key(7)].len(),
        4
    );
    assert!(matches!(node.sent().as_slice(), [Packet::PubRec(r)] if r.packet_id == 7));

    let (mut node, _) = node.restart(Duration::from_secs(1));
    node.connect(true);
    node.deliver(incoming(7, true));
    node.deliver(incoming(8, true));
    let delivered: Vec<u16> = node
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.packet_id),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, vec![8], "7 was acknowledged before the restart");
    assert!(
        node.sent()
            .iter()
            .any(|p| matches!(p, Packet::PubRec(r) if r.packet_id == 7))
    );
    node.deliver(PubRel::new(7));
    assert!(
        node.sent()
            .iter()
            .any(|p| matches!(p, Packet::PubComp(c) if c.packet_id == 7))
    );
    assert!(!node.store.contains_key(&incoming_key(7)), "PUBREL ends it");
}

/// The Message Expiry Interval counts from when the publish was accepted, across a
/// restart (3.3.2.3.3): expired, it ends with `Expired` and its record goes; otherwise it
/// goes out with the time left.
#[test]
fn message_expiry_counts_across_a_restart() {
    let mut node = Node::new();
    let mut short = request("e/short", QoS::AtLeastOnce);
    short.properties = Properties::new().with(Property::MessageExpiryInterval(10));
    let mut long = request("e/long", QoS::AtLeastOnce);
    long.properties = Properties::new().with(Property::MessageExpiryInterval(100));
    for (key, r) in [(1u64, short), (2, long)] {
        let record = MessageRecord {
            completion_id: key,
            accepted_unix_ms: node.unix_ms,
            request: r.clone(),
        };
        node.store.insert(message_key(key), record.encode());
        node.session
            .publish_persisted(
                r,
                Persisted {
                    key,
                    completion_id: key,
                    accepted_unix_ms: node.unix_ms,
                },
                node.now,
            )
            .unwrap();
    }
    let (mut node, _) = node.restart(Duration::from_secs(30));
    let expired: Vec<_> = node
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::PublishComplete {
                    result: Err(RequestError::Expired),
                    ..
                }
            )
        })
        .collect();
    assert_eq!(expired.len(), 1);
    assert!(!node.store.contains_key(&message_key(1)));
    let (_, sent) = node.connect(false);
    let p = publishes(&sent);
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0].properties
            .get(midge::codec::PropertyId::MessageExpiryInterval),
        Some(&Property::MessageExpiryInterval(70))
    );
}

/// The server lost the session (Session Present 0) after a restart: QoS 1 messages go out
/// again as new ones; a QoS 2 message it may have had fails with `SessionLost` rather than
/// risk a duplicate; one it released completes with its PUBREC. The store follows.
#[test]
fn a_session_the_server_lost_after_a_restart() {
    let mut node = Node::new();
    node.connect(false);
    node.publish("a", QoS::AtLeastOnce, 1);
    node.publish("b", QoS::ExactlyOnce, 2);
    node.publish("c", QoS::ExactlyOnce, 3);
    let ids: Vec<u16> = publishes(&node.sent())
        .iter()
        .map(|p| p.packet_id)
        .collect();
    node.deliver(PubRec {
        packet_id: ids[2],
        reason_code: PubRecReasonCode::NoMatchingSubscribers,
        properties: Properties::new(),
    });
    let (mut node, _) = node.restart(Duration::from_secs(1));
    let (_, sent) = node.connect(false);
    let again = publishes(&sent);
    assert_eq!(again.len(), 1);
    assert_eq!(&*again[0].topic, "a");
    assert!(!again[0].dup, "a new message on a new session");
    let results: Vec<Result<PublishAck, RequestError>> = node
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::PublishComplete { result, .. } => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2);
    assert!(results.contains(&Err(RequestError::SessionLost)));
    assert!(results.iter().any(|r| matches!(
        r,
        Ok(PublishAck {
            reason: AckReason::PubRec(PubRecReasonCode::NoMatchingSubscribers),
            ..
        })
    )));
    assert_eq!(node.keys(b'm'), 1, "only \"a\" is left");
    assert_eq!(node.keys(b's'), 1, "sent again, with its new packet id");
}

/// The client identifier (assigned by the server, when the options name none) and the
/// subscriptions are kept; a record that cannot be read is removed, not replayed.
#[test]
fn identity_and_subscriptions_are_restored_and_garbage_is_dropped() {
    let mut node = Node::new();
    node.connect(false);
    node.session
        .subscribe(
            vec![midge::codec::Subscription {
                filter: ByteString::from_static("cmd/#"),
                options: midge::codec::SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    ..Default::default()
                },
            }],
            Properties::new(),
            node.now,
        )
        .unwrap();
    let sub = node.sent();
    let Packet::Subscribe(s) = &sub[0] else {
        panic!("{sub:?}")
    };
    node.deliver(midge::codec::SubAck {
        packet_id: s.packet_id,
        properties: Properties::new(),
        reason_codes: vec![midge::codec::SubAckReasonCode::GrantedQos1],
    });
    node.store.insert(message_key(99), b"\x01garbage".to_vec());
    let (mut node, restored) = node.restart(Duration::from_secs(1));
    assert!(restored.is_empty());
    assert!(!node.store.contains_key(&message_key(99)));
    node.session.connection_opened(node.now);
    match node.sent().as_slice() {
        [Packet::Connect(c)] => assert_eq!(&*c.client_id, "gw-1"),
        other => panic!("{other:?}"),
    }
    node.deliver(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    });
    // The server lost the session: subscribed again from the store.
    let sent = node.sent();
    assert!(
        sent.iter().any(|p| matches!(p, Packet::Subscribe(s)
            if &*s.subscriptions[0].filter == "cmd/#")),
        "{sent:?}"
    );
}

/// Closing a persistent client does not end its messages in the store: their completions
/// end with `Closed` for this client, and a client made later with the store sends them.
#[test]
fn closing_keeps_the_stored_messages_for_the_next_client() {
    let mut node = Node::new();
    node.connect(false);
    node.publish("k/1", QoS::AtLeastOnce, 1);
    node.sent();
    node.publish("k/2", QoS::ExactlyOnce, 2);
    node.session.close();
    node.apply();
    let closed = node
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::PublishComplete {
                    result: Err(RequestError::Closed),
                    ..
                }
            )
        })
        .count();
    assert_eq!(closed, 2);
    assert_eq!(node.keys(b'm'), 2, "{:?}", node.store);
    let (mut node, restored) = node.restart(Duration::from_secs(1));
    assert_eq!(restored.len(), 2);
    let (_, sent) = node.connect(true);
    assert_eq!(publishes(&sent).len(), 2);
}
