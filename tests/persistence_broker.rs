//! Durable sessions across broker restarts: a publisher (file store) and a subscriber
//! (persistent session), each connected to a private Mosquitto with persistence on through
//! its own recording proxy (`support::wire_proxy`), while the broker is stopped with
//! SIGTERM and killed with SIGKILL, alternately, mid-stream.
//!
//! Mosquitto 2.0.11 is not a perfect peer here: after restoring its database it re-sends
//! QoS 2 messages the subscriber had already completed, and after a SIGKILL it forgets what
//! it acknowledged since its last save and reuses packet identifiers. So the test does not
//! judge midge by what the subscriber got alone: from the wire records it decides, for each
//! message, whether a loss or a duplicate was midge's (the test fails) or the broker's
//! (reported in a table, never hidden). The classifier has its own tests on synthetic
//! records below, so that it is known to blame midge when midge is at fault.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use midge::codec::{ByteString, Bytes, QoS};
use midge::protocol::PublishAck;
use midge::runtime::{Client, ClientEvent, ClientOptions, Completion};
use midge::store::{Durability, FileStore, SharedStore, StoreLimits};
use parking_lot::Mutex;
use support::mosquitto::Mosquitto;
use support::wire_proxy::{Dir, Frame, WireProxy, WireRecord};
use support::{TIMEOUT, publish_request as request, wait_until};

// ------------------------------------------------------------------------ the classifier

/// A message: its topic and payload (payloads are numbered, unique per topic).
type Key = (String, String);

/// How midge said a publish ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Acknowledged,
    Failed(String),
    /// Not ended when the test looked (the final wait failed).
    Pending,
}

/// A publish the application handed to the publisher and midge accepted.
#[derive(Debug, Clone)]
struct Accepted {
    topic: String,
    payload: String,
    qos: QoS,
    outcome: Outcome,
}

/// Where a loss, a duplicate or a protocol slip comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Category {
    /// midge never sent it, or its subscriber did not deliver what the broker sent as new.
    LostByMidge,
    /// A QoS 2 message delivered more often than the broker sent it as a new message, or
    /// published by midge as two distinct messages.
    DuplicatedByMidge,
    /// midge broke a rule on the wire (e.g. reused a packet id still in flight).
    MidgeProtocol,
    /// Acknowledged by the broker (PUBACK, PUBREC), never delivered by it as a new message.
    LostByBroker,
    /// A QoS 2 message the broker sent as a new message more often than it was published.
    DuplicatedByBroker,
    /// The broker broke a rule on the wire or lost a session.
    BrokerProtocol,
    /// midge told the application the publish failed (e.g. `SessionLost` after the broker
    /// lost the session): not a silent loss.
    ReportedFailed,
    /// A QoS 1 message delivered more than once: allowed (at least once).
    Qos1Redelivered,
}

impl Category {
    const ALL: [Self; 8] = [
        Self::LostByMidge,
        Self::DuplicatedByMidge,
        Self::MidgeProtocol,
        Self::LostByBroker,
        Self::DuplicatedByBroker,
        Self::BrokerProtocol,
        Self::ReportedFailed,
        Self::Qos1Redelivered,
    ];

    fn is_midge(self) -> bool {
        matches!(
            self,
            Self::LostByMidge | Self::DuplicatedByMidge | Self::MidgeProtocol
        )
    }
}

/// What the classifier found, by category; each finding says which message and why.
#[derive(Debug, Default)]
struct Report {
    findings: BTreeMap<Category, Vec<String>>,
}

impl Report {
    fn add(&mut self, category: Category, what: String) {
        self.findings.entry(category).or_default().push(what);
    }

    fn count(&self, category: Category) -> usize {
        self.findings.get(&category).map_or(0, Vec::len)
    }

    /// Everything attributable to midge.
    fn midge_faults(&self) -> Vec<(Category, &String)> {
        self.findings
            .iter()
            .filter(|(c, _)| c.is_midge())
            .flat_map(|(c, v)| v.iter().map(move |s| (*c, s)))
            .collect()
    }

    /// The table: counts and a few examples of each category.
    fn table(&self) -> String {
        let mut t = String::from("category               count  examples\n");
        for c in Category::ALL {
            let v = self.findings.get(&c).map_or(&[][..], Vec::as_slice);
            let examples: Vec<&str> = v.iter().take(3).map(String::as_str).collect();
            let _ = writeln!(
                t,
                "{:<22} {:>5}  {}",
                format!("{c:?}"),
                v.len(),
                examples.join(" | ")
            );
        }
        t
    }

    /// Fails (with the table) if anything is attributable to midge.
    fn assert_no_midge_faults(&self) {
        let faults = self.midge_faults();
        assert!(
            faults.is_empty(),
            "{} losses/duplicates/protocol slips attributable to midge: {:?}\n{}",
            faults.len(),
            faults.iter().take(10).collect::<Vec<_>>(),
            self.table()
        );
    }
}

fn key_of(topic: &ByteString, payload: &Bytes) -> Key {
    (
        topic.to_string(),
        String::from_utf8_lossy(payload).into_owned(),
    )
}

const fn ok(reason: u8) -> bool {
    reason < 0x80
}

/// Whether `r` is a successful CONNACK without a session after an earlier successful one:
/// the broker lost the session (both sides then start afresh, [MQTT-3.2.2-5]).
fn session_lost(r: &WireRecord, connected_before: &mut bool) -> bool {
    let Frame::ConnAck {
        session_present,
        reason,
    } = r.frame
    else {
        return false;
    };
    if r.dir != Dir::ToClient || !ok(reason) {
        return false;
    }
    let lost = !session_present && *connected_before;
    *connected_before = true;
    lost
}

/// What midge's publisher did on the wire, per message.
#[derive(Default)]
struct PublisherWire {
    /// Distinct messages midge sent for each key (a retransmission of an unacknowledged
    /// PUBLISH with its packet id is the same message).
    sent: HashMap<Key, usize>,
    /// Keys the broker acknowledged with a successful PUBACK or PUBREC.
    acked: HashSet<Key>,
}

fn read_publisher_wire(records: &[WireRecord], report: &mut Report) -> PublisherWire {
    /// An outgoing flow: its message, and whether midge has sent PUBREL.
    struct Flow {
        key: Key,
        received: bool,
    }
    let mut wire = PublisherWire::default();
    let mut open: HashMap<u16, Flow> = HashMap::new();
    let mut connected_before = false;
    for r in records {
        match (&r.dir, &r.frame) {
            _ if session_lost(r, &mut connected_before) => {
                report.add(
                    Category::BrokerProtocol,
                    format!("publisher's session lost by the broker (seq {})", r.seq),
                );
                // [MQTT-3.2.2-5] midge drops the session: these flows are over.
                open.clear();
            }
            (
                Dir::ToBroker,
                Frame::Publish {
                    packet_id,
                    qos,
                    dup,
                    topic,
                    payload,
                },
            ) if *qos != QoS::AtMostOnce => {
                let key = key_of(topic, payload);
                match open.get(packet_id) {
                    Some(f) if f.key == key && !f.received => {
                        // A retransmission [MQTT-4.4.0-1]: must carry DUP [MQTT-3.3.1-1].
                        if !dup {
                            report.add(
                                Category::MidgeProtocol,
                                format!(
                                    "{key:?} resent on packet id {packet_id} without DUP \
                                     [MQTT-3.3.1-1] (seq {})",
                                    r.seq
                                ),
                            );
                        }
                        continue;
                    }
                    Some(f) if f.key != key => report.add(
                        Category::MidgeProtocol,
                        format!(
                            "packet id {packet_id} reused for {key:?} while {:?} was in \
                             flight [MQTT-2.2.1-3] (seq {})",
                            f.key, r.seq
                        ),
                    ),
                    Some(_) => report.add(
                        Category::MidgeProtocol,
                        format!(
                            "{key:?} sent again on packet id {packet_id} after its PUBREL \
                             [MQTT-4.3.3-6] (seq {})",
                            r.seq
                        ),
                    ),
                    None => {}
                }
                open.insert(
                    *packet_id,
                    Flow {
                        key: key.clone(),
                        received: false,
                    },
                );
                *wire.sent.entry(key).or_default() += 1;
            }
            (Dir::ToClient, Frame::PubAck { packet_id, reason }) => {
                if let Some(f) = open.remove(packet_id)
                    && ok(*reason)
                {
                    wire.acked.insert(f.key);
                }
            }
            (Dir::ToClient, Frame::PubRec { packet_id, reason }) => {
                if ok(*reason) {
                    if let Some(f) = open.get(packet_id) {
                        wire.acked.insert(f.key.clone());
                    }
                } else {
                    open.remove(packet_id);
                }
            }
            // The proxy's record of a PUBREC does not prove midge read it (the connection
            // may end first, and midge then resends the PUBLISH [MQTT-4.4.0-1]); its
            // PUBREL does.
            (Dir::ToBroker, Frame::PubRel { packet_id, .. }) => {
                if let Some(f) = open.get_mut(packet_id) {
                    f.received = true;
                }
            }
            (Dir::ToClient, Frame::PubComp { packet_id, .. }) => {
                open.remove(packet_id);
            }
            _ => {}
        }
    }
    wire
}

/// What the broker sent the subscriber, per message.
#[derive(Default)]
struct SubscriberWire {
    /// Transmissions midge had to deliver: every QoS 1 PUBLISH, and each QoS 2 PUBLISH on a
    /// packet id the subscriber did not hold (a new message, [MQTT-4.3.3-12]).
    new: HashMap<Key, usize>,
    /// QoS 2 PUBLISHes on a packet id the subscriber still held for another message
    /// (before its PUBREL): by [MQTT-4.3.3-10] the receiver takes them for that message.
    on_held_id: HashMap<Key, usize>,
    /// QoS 2 PUBLISHes the broker sent again after its PUBREL for them [MQTT-4.3.3-6],
    /// on a later connection, with no PUBCOMP from midge on the wire in between. The proxy
    /// forwarded the PUBREL before the connection ended: midge may have read it and
    /// completed the flow, its PUBCOMP cut off with the connection, and then it must take
    /// the PUBLISH for a new message [MQTT-4.3.3-12]; or it never read the PUBREL, and
    /// then the PUBLISH is the held one [MQTT-4.3.3-10]. The wire cannot tell which.
    after_release: HashMap<Key, usize>,
    /// Messages midge acknowledged (PUBACK or PUBREC): it certainly had them.
    answered: HashSet<Key>,
    /// Messages whose latest PUBLISH was cut off with its connection before midge answered
    /// it (the proxy forwarded it; midge may never have read it).
    cut: HashSet<Key>,
}

/// A flow the broker opened towards the subscriber, as the classifier follows it.
struct InFlow {
    key: Key,
    conn: u64,
    answered: bool,
    /// The connection on which the proxy forwarded the broker's PUBREL, if it did.
    released_on: Option<u64>,
}

fn read_subscriber_wire(records: &[WireRecord], report: &mut Report) -> SubscriberWire {
    let mut wire = SubscriberWire::default();
    // QoS 2 packet ids midge holds until its PUBCOMP, QoS 1 ones until its PUBACK: apart,
    // since a QoS 1 PUBLISH on a held QoS 2 id does not release it.
    let mut held: HashMap<u16, InFlow> = HashMap::new();
    let mut qos1: HashMap<u16, InFlow> = HashMap::new();
    let mut connected_before = false;
    for r in records {
        match (&r.dir, &r.frame) {
            _ if session_lost(r, &mut connected_before) => {
                report.add(
                    Category::BrokerProtocol,
                    format!("subscriber's session lost by the broker (seq {})", r.seq),
                );
                held.clear();
                qos1.clear();
            }
            (_, Frame::Closed) => {
                for f in held.values().chain(qos1.values()) {
                    if f.conn == r.conn && !f.answered {
                        wire.cut.insert(f.key.clone());
                    }
                }
            }
            (Dir::ToClient, Frame::Publish { qos, .. }) if *qos != QoS::AtMostOnce => {
                on_publish(r, &mut wire, &mut held, &mut qos1, report);
            }
            (Dir::ToBroker, Frame::PubAck { packet_id, .. }) => {
                if let Some(f) = qos1.remove(packet_id) {
                    wire.answered.insert(f.key);
                }
            }
            (Dir::ToBroker, Frame::PubRec { packet_id, reason }) => {
                if let Some(f) = held.get_mut(packet_id) {
                    f.answered = true;
                    wire.answered.insert(f.key.clone());
                }
                if !ok(*reason) {
                    held.remove(packet_id);
                }
            }
            (Dir::ToClient, Frame::PubRel { packet_id, .. }) => {
                if let Some(f) = held.get_mut(packet_id) {
                    f.released_on = Some(r.conn);
                }
            }
            (Dir::ToBroker, Frame::PubComp { packet_id, .. }) => {
                held.remove(packet_id);
            }
            _ => {}
        }
    }
    wire
}

/// A QoS 1/2 PUBLISH from the broker on the subscriber's wire.
fn on_publish(
    r: &WireRecord,
    wire: &mut SubscriberWire,
    held: &mut HashMap<u16, InFlow>,
    qos1: &mut HashMap<u16, InFlow>,
    report: &mut Report,
) {
    let Frame::Publish {
        packet_id,
        qos,
        dup,
        topic,
        payload,
    } = &r.frame
    else {
        return;
    };
    let key = key_of(topic, payload);
    let flows = if *qos == QoS::ExactlyOnce {
        &mut *held
    } else {
        &mut *qos1
    };
    let mut count_new = true;
    match flows.get(packet_id) {
        Some(f) if f.released_on.is_some() => {
            report.add(
                Category::BrokerProtocol,
                format!(
                    "{key:?} sent on packet id {packet_id} after the broker's PUBREL for \
                     {:?} [MQTT-4.3.3-6] (seq {})",
                    f.key, r.seq
                ),
            );
            if f.released_on == Some(r.conn) {
                // The same connection: midge read the PUBREL first and completed the
                // flow, so this is a new message [MQTT-4.3.3-12].
            } else {
                *wire.after_release.entry(key.clone()).or_default() += 1;
                count_new = false;
            }
        }
        Some(f) if f.key == key => {
            // A retransmission [MQTT-4.4.0-1], with DUP [MQTT-3.3.1-1]. At
            // QoS 1 the receiver delivers it again; at QoS 2 it must not.
            if !dup {
                report.add(
                    Category::BrokerProtocol,
                    format!(
                        "{key:?} resent on packet id {packet_id} without DUP \
                             [MQTT-3.3.1-1] (seq {})",
                        r.seq
                    ),
                );
            }
            count_new = *qos == QoS::AtLeastOnce;
        }
        Some(f) if *qos == QoS::ExactlyOnce => {
            report.add(
                Category::BrokerProtocol,
                format!(
                    "packet id {packet_id} reused for {key:?} while {:?} was \
                         in flight [MQTT-2.2.1-4] (seq {})",
                    f.key, r.seq
                ),
            );
            *wire.on_held_id.entry(key).or_default() += 1;
            return;
        }
        _ => {}
    }
    if *qos == QoS::AtLeastOnce && held.contains_key(packet_id) {
        report.add(
            Category::BrokerProtocol,
            format!(
                "packet id {packet_id} reused for QoS 1 {key:?} while a QoS 2 \
                     message held it [MQTT-2.2.1-4] (seq {})",
                r.seq
            ),
        );
    }
    if count_new {
        *wire.new.entry(key.clone()).or_default() += 1;
    }
    wire.cut.remove(&key);
    let flows = if *qos == QoS::ExactlyOnce {
        &mut *held
    } else {
        &mut *qos1
    };
    let f = flows.entry(*packet_id).or_insert(InFlow {
        key: key.clone(),
        conn: r.conn,
        answered: false,
        released_on: None,
    });
    f.key = key;
    f.conn = r.conn;
    f.answered = false;
    f.released_on = None;
}

/// A QoS 1/2 flow the broker opened towards the subscriber and that has not ended
/// (no PUBACK or PUBCOMP from midge yet).
#[derive(Debug)]
struct OpenFlow {
    packet_id: u16,
    /// The PUBLISH that opened it.
    first: WireRecord,
    /// The connection of its latest PUBLISH (a resend moves it).
    last_conn: u64,
    /// The connection on which midge answered its latest PUBLISH with PUBREC, if it did.
    answered_on: Option<u64>,
}

/// Whose move an open flow waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    /// midge's PUBACK or PUBREC, for a PUBLISH of the live connection [MQTT-4.3.2-4]
    /// [MQTT-4.3.3-8].
    ByMidge,
    /// The broker's PUBREL, for midge's PUBREC on the live connection.
    ByBroker,
    /// Its connection ended and the broker, connected again, did not resend its PUBLISH or
    /// PUBREL [MQTT-4.4.0-1]: it forgot the message (a SIGKILL before it was saved).
    Forgotten,
}

impl OpenFlow {
    fn owed(&self, live: u64) -> Owed {
        match self.answered_on {
            None if self.last_conn == live => Owed::ByMidge,
            Some(c) if c == live => Owed::ByBroker,
            _ => Owed::Forgotten,
        }
    }
}

/// The flows still open on the subscriber's wire, oldest first, and the live connection
/// (that of the latest successful CONNACK).
fn open_flows(records: &[WireRecord]) -> (Vec<OpenFlow>, u64) {
    // By packet id and whether QoS 2: a QoS 1 PUBLISH on a held QoS 2 id is another flow.
    let mut open: BTreeMap<(u16, bool), OpenFlow> = BTreeMap::new();
    let mut live = 0;
    let mut connected_before = false;
    for r in records {
        if session_lost(r, &mut connected_before) {
            open.clear();
        }
        match (&r.dir, &r.frame) {
            (Dir::ToClient, Frame::ConnAck { reason, .. }) if ok(*reason) => live = r.conn,
            (Dir::ToClient, Frame::Publish { packet_id, qos, .. }) if *qos != QoS::AtMostOnce => {
                let flow = open
                    .entry((*packet_id, *qos == QoS::ExactlyOnce))
                    .or_insert_with(|| OpenFlow {
                        packet_id: *packet_id,
                        first: r.clone(),
                        last_conn: r.conn,
                        answered_on: None,
                    });
                flow.last_conn = r.conn;
                flow.answered_on = None;
            }
            (Dir::ToBroker, Frame::PubRec { packet_id, reason }) if ok(*reason) => {
                if let Some(f) = open.get_mut(&(*packet_id, true)) {
                    f.answered_on = Some(r.conn);
                }
            }
            (Dir::ToBroker, Frame::PubAck { packet_id, .. }) => {
                open.remove(&(*packet_id, false));
            }
            (Dir::ToBroker, Frame::PubComp { packet_id, .. } | Frame::PubRec { packet_id, .. }) => {
                open.remove(&(*packet_id, true));
            }
            _ => {}
        }
    }
    let mut flows: Vec<OpenFlow> = open.into_values().collect();
    flows.sort_by_key(|f| f.first.seq);
    (flows, live)
}

/// Flows left open at the end: an answer midge owes on the live connection is midge's
/// fault; a flow the broker forgot (or still owes PUBREL for) is the broker's.
fn report_open_flows(records: &[WireRecord], report: &mut Report) {
    let (flows, live) = open_flows(records);
    for f in flows {
        let (category, why) = match f.owed(live) {
            Owed::ByMidge => (
                Category::MidgeProtocol,
                "never acknowledged by midge on the live connection [MQTT-4.3.2-4] \
                 [MQTT-4.3.3-8]",
            ),
            Owed::ByBroker => (
                Category::BrokerProtocol,
                "PUBREC sent, no PUBREL from the broker",
            ),
            Owed::Forgotten => (
                Category::BrokerProtocol,
                "forgotten by the broker: neither its PUBLISH nor its PUBREL resent after \
                 reconnecting [MQTT-4.4.0-1]",
            ),
        };
        report.add(
            category,
            format!(
                "packet id {} ({:?}, seq {}): {why}",
                f.packet_id, f.first.frame, f.first.seq
            ),
        );
    }
}

/// Why the subscriber did not settle, read from its wire: the oldest flow waiting for
/// midge's answer, and whether midge answered anything after it.
fn diagnose_stall(records: &[WireRecord]) -> String {
    let (flows, live) = open_flows(records);
    let owed: Vec<&OpenFlow> = flows
        .iter()
        .filter(|f| f.owed(live) == Owed::ByMidge)
        .collect();
    let forgotten = flows
        .iter()
        .filter(|f| f.owed(live) == Owed::Forgotten)
        .collect::<Vec<_>>();
    let Some(oldest) = owed.first() else {
        return format!(
            "no PUBLISH waits for midge's answer ({} flows open: {} forgotten by the broker)",
            flows.len(),
            forgotten.len()
        );
    };
    let from = usize::try_from(oldest.first.seq).map_or(records.len(), |i| i.min(records.len()));
    let acks = records[from..]
        .iter()
        .filter(|r| {
            r.dir == Dir::ToBroker && matches!(r.frame, Frame::PubAck { .. } | Frame::PubRec { .. })
        })
        .count();
    let mut s = format!(
        "{} PUBLISHes wait for midge's PUBACK/PUBREC on the live connection {live}, the \
         oldest {:?} (seq {}); midge sent {acks} PUBACK/PUBREC after it",
        owed.len(),
        oldest.first.frame,
        oldest.first.seq,
    );
    if let Some(f) = forgotten.first() {
        let _ = write!(
            s,
            "; {} flows forgotten by the broker, the oldest {:?} (seq {}, connection {})",
            forgotten.len(),
            f.first.frame,
            f.first.seq,
            f.first.conn
        );
        if acks == 0 && f.answered_on.is_none() {
            s.push_str(
                ": midge holds its later acknowledgements behind the PUBREC it owes for a \
                 message the broker forgot (waiting for a resend at the head of the \
                 in-order ack queue)",
            );
        }
    }
    s
}

/// Decides, for each accepted publish, whether it was lost or duplicated and by whom.
///
/// `publisher` and `subscriber` are the two proxies' records, `delivered` the subscriber's
/// callback, message by message.
fn classify(
    accepted: &[Accepted],
    publisher: &[WireRecord],
    subscriber: &[WireRecord],
    delivered: &[Key],
) -> Report {
    let mut report = Report::default();
    let out = read_publisher_wire(publisher, &mut report);
    let inc = read_subscriber_wire(subscriber, &mut report);
    report_open_flows(subscriber, &mut report);
    let mut times: HashMap<&Key, usize> = HashMap::new();
    for k in delivered {
        *times.entry(k).or_default() += 1;
    }
    let mut known = HashSet::new();
    for a in accepted {
        let key = (a.topic.clone(), a.payload.clone());
        let d = times.get(&key).copied().unwrap_or(0);
        let p = out.sent.get(&key).copied().unwrap_or(0);
        let b = inc.new.get(&key).copied().unwrap_or(0);
        let held = inc.on_held_id.get(&key).copied().unwrap_or(0);
        let released = inc.after_release.get(&key).copied().unwrap_or(0);
        if a.qos == QoS::ExactlyOnce && p >= 2 {
            report.add(
                Category::DuplicatedByMidge,
                format!("{key:?}: the publisher sent it as {p} distinct messages"),
            );
        }
        if d == 0 {
            let (category, why) = if let Outcome::Failed(e) = &a.outcome {
                (Category::ReportedFailed, format!("failed: {e}"))
            } else if p == 0 {
                (Category::LostByMidge, "never sent to the broker".into())
            } else if !out.acked.contains(&key) {
                (
                    Category::LostByMidge,
                    format!("never acknowledged by the broker, yet {:?}", a.outcome),
                )
            } else if b == 0 && held == 0 && released == 0 {
                (
                    Category::LostByBroker,
                    "acknowledged by the broker, never sent to the subscriber".into(),
                )
            } else if b == 0 {
                (
                    Category::LostByBroker,
                    format!(
                        "sent to the subscriber only on a packet id still in flight \
                         ({held} times) or after its PUBREL ({released} times)"
                    ),
                )
            } else if !inc.answered.contains(&key) && inc.cut.contains(&key) {
                (
                    Category::LostByBroker,
                    "sent to the subscriber on a connection that ended before midge \
                     answered, never resent [MQTT-4.4.0-1]"
                        .into(),
                )
            } else {
                (
                    Category::LostByMidge,
                    format!("the broker sent it {b} times as a new message, never delivered"),
                )
            };
            report.add(category, format!("{key:?}: {why}"));
        } else if a.qos == QoS::ExactlyOnce {
            // [MQTT-4.3.3-10]: one delivery per new message the broker sent, and per
            // PUBLISH it sent again after a PUBREL midge may have completed.
            if d > (b + released).max(1) {
                report.add(
                    Category::DuplicatedByMidge,
                    format!(
                        "{key:?}: delivered {d} times, the broker sent it as {b} new \
                         message(s)"
                    ),
                );
            }
            if b > p.max(1) || (released > 0 && d > b.max(1)) {
                report.add(
                    Category::DuplicatedByBroker,
                    format!(
                        "{key:?}: published once, the broker sent it as {b} new messages \
                         and {released} more after its PUBREL (delivered {d} times)"
                    ),
                );
            }
        } else if d > 1 {
            report.add(
                Category::Qos1Redelivered,
                format!("{key:?}: delivered {d} times"),
            );
        }
        known.insert(key);
    }
    for k in delivered {
        if !known.contains(k) {
            report.add(
                Category::MidgeProtocol,
                format!("{k:?}: delivered, never published"),
            );
        }
    }
    report
}

// ------------------------------------------------------------- the classifier's own tests

/// Synthetic wire records, in order; each CONNACK begins a new connection.
#[derive(Default)]
struct Script(Vec<WireRecord>, u64);

impl Script {
    fn push(mut self, dir: Dir, frame: Frame) -> Self {
        let seq = self.0.len() as u64;
        self.0.push(WireRecord {
            seq,
            at: Duration::from_millis(seq),
            conn: self.1.max(1),
            dir,
            frame,
        });
        self
    }

    fn client_sends(self, frame: Frame) -> Self {
        self.push(Dir::ToBroker, frame)
    }

    fn broker_sends(self, frame: Frame) -> Self {
        self.push(Dir::ToClient, frame)
    }

    fn connack(mut self, session_present: bool) -> Self {
        self.1 += 1;
        self.broker_sends(Frame::ConnAck {
            session_present,
            reason: 0,
        })
    }

    /// A whole QoS 2 exchange, the client publishing.
    fn qos2_up(self, id: u16, payload: &str) -> Self {
        self.client_sends(publish(id, QoS::ExactlyOnce, false, payload))
            .broker_sends(Frame::PubRec {
                packet_id: id,
                reason: 0,
            })
            .client_sends(Frame::PubRel {
                packet_id: id,
                reason: 0,
            })
            .broker_sends(Frame::PubComp {
                packet_id: id,
                reason: 0,
            })
    }

    /// A whole QoS 2 exchange, the broker publishing.
    fn qos2_down(self, id: u16, dup: bool, payload: &str) -> Self {
        self.broker_sends(publish(id, QoS::ExactlyOnce, dup, payload))
            .client_sends(Frame::PubRec {
                packet_id: id,
                reason: 0,
            })
            .broker_sends(Frame::PubRel {
                packet_id: id,
                reason: 0,
            })
            .client_sends(Frame::PubComp {
                packet_id: id,
                reason: 0,
            })
    }
}

const T2: &str = "brk/q2";

fn publish(id: u16, qos: QoS, dup: bool, payload: &str) -> Frame {
    Frame::Publish {
        packet_id: id,
        qos,
        dup,
        topic: ByteString::from(if qos == QoS::ExactlyOnce {
            T2
        } else {
            "brk/q1"
        }),
        payload: Bytes::from(payload.to_string()),
    }
}

fn accepted2(payload: &str, outcome: Outcome) -> Accepted {
    Accepted {
        topic: T2.into(),
        payload: payload.into(),
        qos: QoS::ExactlyOnce,
        outcome,
    }
}

fn delivered2(payloads: &[&str]) -> Vec<Key> {
    payloads.iter().map(|p| (T2.into(), (*p).into())).collect()
}

/// Only `category` found, `n` times; nothing else.
fn assert_only(report: &Report, category: Category, n: usize) {
    let total: usize = report.findings.values().map(Vec::len).sum();
    assert!(
        report.count(category) == n && total == n,
        "expected {n} x {category:?} only:\n{}",
        report.table()
    );
}

#[test]
fn classifier_finds_nothing_in_a_clean_exchange() {
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let subscriber = Script::default().connack(false).qos2_down(7, false, "0");
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &delivered2(&["0"]),
    );
    assert!(r.findings.is_empty(), "{}", r.table());
    r.assert_no_midge_faults();
}

#[test]
fn classifier_blames_midge_for_a_publish_never_sent() {
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &Script::default().connack(false).0,
        &Script::default().connack(false).0,
        &[],
    );
    assert_only(&r, Category::LostByMidge, 1);
}

#[test]
fn classifier_blames_midge_for_a_new_message_its_subscriber_dropped() {
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let subscriber = Script::default().connack(false).qos2_down(7, false, "0");
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &[],
    );
    assert_only(&r, Category::LostByMidge, 1);
}

#[test]
#[should_panic(expected = "attributable to midge")]
fn classifier_makes_the_test_fail_on_a_midge_loss() {
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let subscriber = Script::default().connack(false).qos2_down(7, false, "0");
    classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &[],
    )
    .assert_no_midge_faults();
}

#[test]
fn classifier_blames_the_broker_for_an_acknowledged_message_never_delivered() {
    // PUBREC, then the broker was killed before saving and forgot it: its PUBCOMP for
    // the PUBREL it no longer knows still ends the flow.
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &Script::default().connack(false).0,
        &[],
    );
    assert_only(&r, Category::LostByBroker, 1);
}

#[test]
fn classifier_blames_the_broker_for_a_message_sent_on_a_packet_id_in_flight() {
    // "0" on id 5 waits for its PUBREL when the connection ends; the restored broker
    // sends "1" on id 5: the subscriber must take it for "0" again [MQTT-4.3.3-10].
    let publisher = Script::default()
        .connack(false)
        .qos2_up(1, "0")
        .qos2_up(2, "1");
    let subscriber = Script::default()
        .connack(false)
        .broker_sends(publish(5, QoS::ExactlyOnce, false, "0"))
        .client_sends(Frame::PubRec {
            packet_id: 5,
            reason: 0,
        })
        .connack(true)
        .qos2_down(5, false, "1");
    let r = classify(
        &[
            accepted2("0", Outcome::Acknowledged),
            accepted2("1", Outcome::Acknowledged),
        ],
        &publisher.0,
        &subscriber.0,
        &delivered2(&["0"]),
    );
    assert_eq!(r.count(Category::LostByBroker), 1, "{}", r.table());
    assert_eq!(r.count(Category::BrokerProtocol), 1, "{}", r.table());
    r.assert_no_midge_faults();
}

#[test]
fn classifier_blames_the_broker_for_a_completed_message_sent_again() {
    // Completed (PUBCOMP), then sent again as new after a restore: on the same id, and on
    // another one.
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    for second_id in [3, 9] {
        let subscriber = Script::default()
            .connack(false)
            .qos2_down(3, false, "0")
            .connack(true)
            .qos2_down(second_id, true, "0");
        let r = classify(
            &[accepted2("0", Outcome::Acknowledged)],
            &publisher.0,
            &subscriber.0,
            &delivered2(&["0", "0"]),
        );
        assert_only(&r, Category::DuplicatedByBroker, 1);
    }
}

#[test]
fn classifier_blames_midge_for_delivering_a_retransmission_again() {
    // The broker resends id 3 with DUP before its PUBREL [MQTT-4.4.0-1]: the same message.
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let subscriber = Script::default()
        .connack(false)
        .broker_sends(publish(3, QoS::ExactlyOnce, false, "0"))
        .client_sends(Frame::PubRec {
            packet_id: 3,
            reason: 0,
        })
        .connack(true)
        .qos2_down(3, true, "0");
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &delivered2(&["0", "0"]),
    );
    assert_only(&r, Category::DuplicatedByMidge, 1);
}

#[test]
fn classifier_allows_a_new_delivery_after_a_pubrel_cut_off_with_the_connection() {
    // The proxy forwards the broker's PUBREL for "0" and the connection ends before
    // midge's PUBCOMP is on the wire: midge may have read the PUBREL and completed the
    // flow. The broker, restored from an older database, sends "0" again on the same id:
    // for midge that is then a new message [MQTT-4.3.3-12], the broker's duplicate
    // [MQTT-4.3.3-6]. Once more than that is midge's.
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let subscriber = Script::default()
        .connack(false)
        .broker_sends(publish(3, QoS::ExactlyOnce, false, "0"))
        .client_sends(Frame::PubRec {
            packet_id: 3,
            reason: 0,
        })
        .broker_sends(Frame::PubRel {
            packet_id: 3,
            reason: 0,
        })
        .broker_sends(Frame::Closed)
        .connack(true)
        .qos2_down(3, true, "0");
    let classify_delivered = |times: usize| {
        classify(
            &[accepted2("0", Outcome::Acknowledged)],
            &publisher.0,
            &subscriber.0,
            &delivered2(&vec!["0"; times]),
        )
    };
    let r = classify_delivered(2);
    assert_eq!(r.count(Category::DuplicatedByBroker), 1, "{}", r.table());
    assert_eq!(r.count(Category::BrokerProtocol), 1, "{}", r.table());
    r.assert_no_midge_faults();
    let r = classify_delivered(1);
    assert_only(&r, Category::BrokerProtocol, 1);
    let r = classify_delivered(3);
    assert_eq!(r.count(Category::DuplicatedByMidge), 1, "{}", r.table());
}

#[test]
fn classifier_blames_midge_for_publishing_one_message_twice() {
    // PUBREC for id 1, then the same message as a new PUBLISH on id 2 (a PUBREC midge
    // missed would have it resend id 1 with DUP [MQTT-4.4.0-1], not make a new message).
    let publisher = Script::default()
        .connack(false)
        .client_sends(publish(1, QoS::ExactlyOnce, false, "0"))
        .broker_sends(Frame::PubRec {
            packet_id: 1,
            reason: 0,
        })
        .connack(true)
        .qos2_up(2, "0");
    let subscriber = Script::default()
        .connack(false)
        .qos2_down(3, false, "0")
        .qos2_down(4, false, "0");
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &delivered2(&["0", "0"]),
    );
    assert_only(&r, Category::DuplicatedByMidge, 1);
    // A PUBLISH again after its PUBREL on the same id is also a rule midge broke.
    let publisher = Script::default()
        .connack(false)
        .client_sends(publish(1, QoS::ExactlyOnce, false, "0"))
        .broker_sends(Frame::PubRec {
            packet_id: 1,
            reason: 0,
        })
        .client_sends(Frame::PubRel {
            packet_id: 1,
            reason: 0,
        })
        .client_sends(publish(1, QoS::ExactlyOnce, true, "0"));
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &delivered2(&["0", "0"]),
    );
    assert_eq!(r.count(Category::MidgeProtocol), 1, "{}", r.table());
    assert_eq!(r.count(Category::DuplicatedByMidge), 1, "{}", r.table());
}

#[test]
fn classifier_blames_midge_for_a_packet_id_reused_in_flight() {
    let publisher = Script::default()
        .connack(false)
        .client_sends(publish(1, QoS::ExactlyOnce, false, "0"))
        .qos2_up(1, "1");
    let r = classify(
        &[
            accepted2("0", Outcome::Acknowledged),
            accepted2("1", Outcome::Acknowledged),
        ],
        &publisher.0,
        &Script::default().connack(false).qos2_down(3, false, "1").0,
        &delivered2(&["1"]),
    );
    assert_eq!(r.count(Category::MidgeProtocol), 1, "{}", r.table());
    assert_eq!(r.count(Category::LostByMidge), 1, "{}", r.table());
}

#[test]
fn classifier_counts_a_reported_failure_apart() {
    // Sent, no PUBREC, then the broker lost the session: midge fails it with SessionLost
    // rather than risk a duplicate.
    let publisher = Script::default()
        .connack(false)
        .client_sends(publish(1, QoS::ExactlyOnce, false, "0"))
        .connack(false);
    let r = classify(
        &[accepted2("0", Outcome::Failed("session lost".into()))],
        &publisher.0,
        &Script::default().connack(false).0,
        &[],
    );
    assert_eq!(r.count(Category::ReportedFailed), 1, "{}", r.table());
    assert_eq!(r.count(Category::BrokerProtocol), 1, "{}", r.table());
    r.assert_no_midge_faults();
}

#[test]
fn classifier_allows_qos1_redelivery() {
    let ack = |id| Frame::PubAck {
        packet_id: id,
        reason: 0,
    };
    let publisher = Script::default()
        .connack(false)
        .client_sends(publish(1, QoS::AtLeastOnce, false, "0"))
        .broker_sends(ack(1));
    let subscriber = Script::default()
        .connack(false)
        .broker_sends(publish(4, QoS::AtLeastOnce, false, "0"))
        .connack(true)
        .broker_sends(publish(4, QoS::AtLeastOnce, true, "0"))
        .client_sends(ack(4));
    let accepted = Accepted {
        topic: "brk/q1".into(),
        payload: "0".into(),
        qos: QoS::AtLeastOnce,
        outcome: Outcome::Acknowledged,
    };
    let twice = vec![("brk/q1".to_string(), "0".to_string()); 2];
    let r = classify(&[accepted], &publisher.0, &subscriber.0, &twice);
    assert_only(&r, Category::Qos1Redelivered, 1);
}

#[test]
fn classifier_blames_the_broker_for_a_flow_it_forgot() {
    // "0" delivered; the connection ends before midge's PUBREC (or after it), and the
    // broker, restored from an older database, never resends the PUBLISH (or the PUBREL).
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    for answered in [false, true] {
        let mut subscriber =
            Script::default()
                .connack(false)
                .broker_sends(publish(3, QoS::ExactlyOnce, false, "0"));
        if answered {
            subscriber = subscriber.client_sends(Frame::PubRec {
                packet_id: 3,
                reason: 0,
            });
        }
        let subscriber = subscriber.connack(true);
        let r = classify(
            &[accepted2("0", Outcome::Acknowledged)],
            &publisher.0,
            &subscriber.0,
            &delivered2(&["0"]),
        );
        assert_only(&r, Category::BrokerProtocol, 1);
        let (flows, live) = open_flows(&subscriber.0);
        assert_eq!(flows[0].owed(live), Owed::Forgotten);
    }
}

#[test]
fn classifier_blames_midge_for_a_publish_it_never_answers() {
    // The stall: a PUBLISH of the live connection without PUBREC [MQTT-4.3.3-8].
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let subscriber =
        Script::default()
            .connack(false)
            .broker_sends(publish(3, QoS::ExactlyOnce, false, "0"));
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &delivered2(&["0"]),
    );
    assert_only(&r, Category::MidgeProtocol, 1);
    assert!(diagnose_stall(&subscriber.0).contains("1 PUBLISHes wait for midge"));
}

#[test]
fn classifier_takes_a_pubrec_cut_off_with_the_connection_as_unread() {
    // The broker's PUBREC is on the wire, but the connection ends before midge reads it:
    // midge resends the PUBLISH with DUP on the next connection [MQTT-4.4.0-1], as it must.
    let publisher = Script::default()
        .connack(false)
        .client_sends(publish(1, QoS::ExactlyOnce, false, "0"))
        .broker_sends(Frame::PubRec {
            packet_id: 1,
            reason: 0,
        })
        .broker_sends(Frame::Closed)
        .connack(true)
        .client_sends(publish(1, QoS::ExactlyOnce, true, "0"))
        .broker_sends(Frame::PubRec {
            packet_id: 1,
            reason: 0,
        })
        .client_sends(Frame::PubRel {
            packet_id: 1,
            reason: 0,
        })
        .broker_sends(Frame::PubComp {
            packet_id: 1,
            reason: 0,
        });
    let subscriber = Script::default().connack(false).qos2_down(3, false, "0");
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &delivered2(&["0"]),
    );
    assert!(r.findings.is_empty(), "{}", r.table());
}

#[test]
fn classifier_blames_the_broker_for_a_publish_cut_off_and_never_resent() {
    // The proxy forwarded "0", the connection ended before midge answered (midge may
    // never have read it), and the broker, restored, never resent it.
    let publisher = Script::default().connack(false).qos2_up(1, "0");
    let subscriber = Script::default()
        .connack(false)
        .broker_sends(publish(3, QoS::ExactlyOnce, false, "0"))
        .broker_sends(Frame::Closed)
        .connack(true);
    let r = classify(
        &[accepted2("0", Outcome::Acknowledged)],
        &publisher.0,
        &subscriber.0,
        &[],
    );
    assert_eq!(r.count(Category::LostByBroker), 1, "{}", r.table());
    r.assert_no_midge_faults();
}

#[test]
fn classifier_keeps_a_qos2_packet_id_held_across_a_qos1_publish_on_it() {
    // "0" waits for its PUBREL when the broker forgets it; the broker then sends QoS 1
    // "5" on the same id, then QoS 2 "1": midge still holds the id for "0" [MQTT-4.3.3-10].
    let ack = |id| Frame::PubAck {
        packet_id: id,
        reason: 0,
    };
    let publisher = Script::default()
        .connack(false)
        .qos2_up(1, "0")
        .qos2_up(2, "1")
        .client_sends(publish(3, QoS::AtLeastOnce, false, "5"))
        .broker_sends(ack(3));
    let subscriber = Script::default()
        .connack(false)
        .broker_sends(publish(7, QoS::ExactlyOnce, false, "0"))
        .client_sends(Frame::PubRec {
            packet_id: 7,
            reason: 0,
        })
        .connack(true)
        .broker_sends(publish(7, QoS::AtLeastOnce, false, "5"))
        .client_sends(ack(7))
        .qos2_down(7, false, "1");
    let q1 = Accepted {
        topic: "brk/q1".into(),
        payload: "5".into(),
        qos: QoS::AtLeastOnce,
        outcome: Outcome::Acknowledged,
    };
    let mut delivered = delivered2(&["0"]);
    delivered.push(("brk/q1".into(), "5".into()));
    let r = classify(
        &[
            accepted2("0", Outcome::Acknowledged),
            accepted2("1", Outcome::Acknowledged),
            q1,
        ],
        &publisher.0,
        &subscriber.0,
        &delivered,
    );
    assert_eq!(r.count(Category::LostByBroker), 1, "{}", r.table());
    r.assert_no_midge_faults();
}

// ------------------------------------------------------------------- the broker-restart run

/// Numbers published on each topic.
const STREAM: u64 = 2000;
/// Broker restarts during the stream: SIGTERM, SIGKILL, SIGTERM, ...
const RESTARTS: u64 = 8;
/// Mosquitto saves its database only at shutdown and every `autosave_interval` seconds
/// (or, with `autosave_on_changes`, after that many changes). Every second: a SIGKILL
/// then loses up to a second of the broker's state, which is what the test must tell
/// apart from midge's doing.
const AUTOSAVE: [&str; 2] = ["autosave_interval 1", "autosave_on_changes false"];
/// The last payload on each topic, after the last restart: once the subscriber has it,
/// the broker has sent everything it still had before it (per-topic order, 4.6).
const END: &str = "end";

fn store_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("midge-brk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open_store(dir: &Path) -> SharedStore {
    let store = FileStore::open(dir.join("session.midge"), StoreLimits::default())
        .expect("the store opens");
    SharedStore::new(Box::new(store), Durability::Os)
}

fn persistent_options(id: &str) -> ClientOptions {
    let mut o = support::persistent_client_options(id);
    // Clean Start 0 from the first CONNECT: Mosquitto 2.0.11 writes to its database only
    // the sessions of clients whose CONNECT had Clean Start 0, whatever their Session
    // Expiry Interval, so a session begun with Clean Start 1 is gone after a restart.
    o.session.clean_start = false;
    o
}

type Pending = Vec<(String, String, QoS, Completion<PublishAck>)>;

/// Publishes until it is accepted; a full offline queue or store is a refusal to retry.
fn publish_accepted(client: &Client, pending: &Mutex<Pending>, topic: &str, qos: QoS, p: &str) {
    loop {
        match client.publish_request(request(topic, qos, p.to_string())) {
            Ok(c) => {
                pending.lock().push((topic.into(), p.into(), qos, c));
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn dump(path: &Path, name: &str, records: &[WireRecord]) {
    let mut s = String::new();
    for r in records {
        let _ = writeln!(
            s,
            "{:>6} {:>8.3} c{} {:?} {:?}",
            r.seq,
            r.at.as_secs_f64(),
            r.conn,
            r.dir,
            r.frame
        );
    }
    let _ = std::fs::write(path.join(name), s);
}

/// A publisher and a subscriber through recording proxies to a persistent Mosquitto that
/// is stopped (SIGTERM) and killed (SIGKILL) alternately, 8 times, mid-stream. Every
/// accepted publish ends acknowledged or reported failed, the subscriber gets everything
/// the broker still had, and no loss or QoS 2 duplicate is midge's; what the broker lost
/// or duplicated is printed, never hidden.
#[test]
#[allow(clippy::too_many_lines)] // one run, read top to bottom
fn broker_restarts_cause_no_loss_or_duplicate_attributable_to_midge() {
    let dir = store_dir("pub");
    let mut builder = Mosquitto::builder().persistence(true);
    for line in AUTOSAVE {
        builder = builder.extra_config(line);
    }
    let mut broker = builder.start();
    let pub_proxy = WireProxy::start(broker.addr());
    let sub_proxy = WireProxy::start(broker.addr());

    let subscriber = Client::new(&sub_proxy.url(), persistent_options("brk-sub")).unwrap();
    let delivered: Arc<Mutex<Vec<Key>>> = Arc::default();
    {
        let delivered = delivered.clone();
        subscriber.set_callback(move |e| {
            if let ClientEvent::Message(m) = e {
                delivered.lock().push(key_of(&m.topic, &m.payload));
            }
        });
    }
    subscriber.connect_and_wait(TIMEOUT).unwrap();
    subscriber
        .subscribe_and_wait("brk/#", QoS::ExactlyOnce, TIMEOUT)
        .unwrap();

    let mut o = persistent_options("brk-pub");
    o.store = Some(open_store(&dir));
    let publisher = Arc::new(Client::new(&pub_proxy.url(), o).unwrap());
    publisher.connect_and_wait(TIMEOUT).unwrap();

    let pending: Arc<Mutex<Pending>> = Arc::default();
    let progress = Arc::new(AtomicU64::new(0));
    let feed = {
        let (publisher, pending, progress) = (publisher.clone(), pending.clone(), progress.clone());
        std::thread::spawn(move || {
            for n in 0..STREAM {
                let p = n.to_string();
                publish_accepted(&publisher, &pending, "brk/q1", QoS::AtLeastOnce, &p);
                publish_accepted(&publisher, &pending, T2, QoS::ExactlyOnce, &p);
                progress.store(n + 1, Ordering::Relaxed);
                // A paced stream (about 1,000 numbers a second): restarts land mid-stream.
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };

    let started = Instant::now();
    let mut seed = u64::from(std::process::id()) ^ 0x2545_F491_4F6C_DD1D;
    let mut restarts = Vec::new();
    for i in 0..RESTARTS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let step = STREAM / (RESTARTS + 1);
        let target = (i + 1) * step + seed % (step / 2);
        // Both clients back on this broker and the publisher acknowledged on it, so each
        // restart hits live sessions mid-stream.
        let mark = pub_proxy.len();
        assert!(
            wait_until(Duration::from_secs(10), || {
                progress.load(Ordering::Relaxed) >= target
                    && publisher.is_connected()
                    && subscriber.is_connected()
                    && pub_proxy.any_since(mark, |r| {
                        r.dir == Dir::ToClient && matches!(r.frame, Frame::PubAck { .. })
                    })
            }),
            "restart {i}: the stream did not get to {target} (at {}) on a live broker",
            progress.load(Ordering::Relaxed)
        );
        if i % 2 == 0 {
            broker.stop(); // SIGTERM: the database is written
        } else {
            broker.kill(); // SIGKILL: what was not saved yet is gone
        }
        broker.restart();
        restarts.push(progress.load(Ordering::Relaxed));
    }
    feed.join().unwrap();
    assert!(
        progress.load(Ordering::Relaxed) == STREAM && restarts.last() < Some(&STREAM),
        "every restart came mid-stream: {restarts:?}"
    );
    for (topic, qos) in [("brk/q1", QoS::AtLeastOnce), (T2, QoS::ExactlyOnce)] {
        publish_accepted(&publisher, &pending, topic, qos, END);
    }

    // Every accepted publish ends (acknowledged, or reported failed).
    let all_done = wait_until(Duration::from_secs(20), || {
        pending.lock().iter().all(|(.., c)| c.is_done())
    });
    // The subscriber has everything the broker still had: both END messages, and no flow
    // left open but those the broker forgot (a PUBLISH or PUBREL it never resent).
    let has_end = |d: &[Key]| {
        ["brk/q1", T2]
            .iter()
            .all(|t| d.iter().any(|(topic, p)| topic == t && p == END))
    };
    let settled = all_done
        && wait_until(Duration::from_secs(20), || {
            let (flows, live) = open_flows(&sub_proxy.records());
            has_end(&delivered.lock()) && flows.iter().all(|f| f.owed(live) == Owed::Forgotten)
        });
    let elapsed = started.elapsed();

    let accepted: Vec<Accepted> = pending
        .lock()
        .iter()
        .map(|(topic, payload, qos, c)| Accepted {
            topic: topic.clone(),
            payload: payload.clone(),
            qos: *qos,
            outcome: match c.try_result() {
                Some(Ok(_)) => Outcome::Acknowledged,
                Some(Err(e)) => Outcome::Failed(e.to_string()),
                None => Outcome::Pending,
            },
        })
        .collect();
    let (pub_wire, sub_wire) = (pub_proxy.records(), sub_proxy.records());
    if let Ok(path) = std::env::var("MIDGE_BRK_DUMP") {
        let path = PathBuf::from(path);
        let _ = std::fs::create_dir_all(&path);
        dump(&path, "publisher.wire", &pub_wire);
        dump(&path, "subscriber.wire", &sub_wire);
        let _ = std::fs::write(path.join("mosquitto.log"), broker.log());
    }
    let report = classify(&accepted, &pub_wire, &sub_wire, &delivered.lock());
    if let Ok(path) = std::env::var("MIDGE_BRK_DUMP") {
        let mut all = String::new();
        for (c, v) in &report.findings {
            for f in v {
                let _ = writeln!(all, "{c:?}\t{f}");
            }
        }
        let _ = std::fs::write(PathBuf::from(path).join("findings.txt"), all);
    }
    eprintln!(
        "{RESTARTS} broker restarts (SIGTERM, SIGKILL alternately) at {restarts:?} of {STREAM}; \
         {} publishes, {} deliveries, {} + {} wire records, {elapsed:.1?}; broker config \
         {AUTOSAVE:?}\n{}",
        accepted.len(),
        delivered.lock().len(),
        pub_wire.len(),
        sub_wire.len(),
        if settled {
            report.table()
        } else {
            format!(
                "(not settled: what the broker had not sent yet counts as lost)\n{}",
                report.table()
            )
        }
    );
    assert!(
        all_done,
        "publishes not ended within 20 s: {} (publisher {:?})",
        accepted
            .iter()
            .filter(|a| a.outcome == Outcome::Pending)
            .count(),
        publisher.stats().session
    );
    assert!(
        settled,
        "the subscriber did not settle within 20 s (END delivered: {}): {}; subscriber {:?}",
        has_end(&delivered.lock()),
        diagnose_stall(&sub_wire),
        subscriber.stats().session
    );
    report.assert_no_midge_faults();
    subscriber.close_and_join();
    publisher.close_and_join();
    let _ = std::fs::remove_dir_all(&dir);
}
