//! `Client::stats` against a scripted fake broker: every counter checked exactly against
//! what the broker sent and received.

mod support;

use std::time::Duration;

use midge::codec::{Bytes, Packet, Properties, PubAck, QoS};
use midge::runtime::{Client, ClientEvent};
use support::TIMEOUT;
use support::fake_broker::{FakeBroker, FakeConn, connack, publish_packet};

/// Bytes a packet takes on the wire (midge and the fake broker encode canonically).
fn wire_len(p: &Packet) -> u64 {
    let mut buf = Vec::new();
    p.encode(&mut buf).unwrap();
    buf.len() as u64
}

struct Counted {
    conn: FakeConn,
    /// What the broker received from the client and sent to it, in bytes.
    received: u64,
    sent: u64,
}

impl Counted {
    fn recv(&mut self) -> Packet {
        let p = self.conn.recv_packet(TIMEOUT).unwrap();
        self.received += wire_len(&p);
        p
    }

    fn send(&mut self, p: &Packet) {
        self.sent += wire_len(p);
        self.conn.send(p);
    }
}

fn next_message(client: &Client) -> midge::protocol::Message {
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) => return m,
            ClientEvent::Connected(_) | ClientEvent::PublishComplete { .. } => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[test]
fn counters_match_the_brokers_bytes_and_packets() {
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), support::client_options("stats")).unwrap();
    assert_eq!(
        client.stats(),
        midge::ClientStats::default(),
        "nothing counted before any I/O"
    );
    let waiter = client.connect();
    let conn = broker.accept(TIMEOUT).unwrap();
    let mut b = Counted {
        conn,
        received: 0,
        sent: 0,
    };
    assert!(matches!(b.recv(), Packet::Connect(_)));
    b.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();

    // Three QoS 1 publishes out: each acknowledged by the broker.
    let handles: Vec<_> = (0..3)
        .map(|i| {
            client.publish(
                "s/out",
                format!("m{i}"),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
            )
        })
        .collect();
    let mut ids = Vec::new();
    for _ in 0..3 {
        match b.recv() {
            Packet::Publish(p) => ids.push(p.packet_id),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    // Before any PUBACK the three are in flight, once the I/O thread has published its
    // counters (it does so after each round for the client).
    assert!(support::wait_until(TIMEOUT, || client
        .stats()
        .session
        .inflight_out
        == 3));
    for id in ids {
        b.send(&Packet::PubAck(PubAck::new(id)));
    }
    for h in handles {
        h.unwrap().wait(TIMEOUT).unwrap();
    }
    // Two QoS 0 messages in.
    for i in 0..2 {
        b.send(&publish_packet(
            "s/in",
            QoS::AtMostOnce,
            0,
            Bytes::from(format!("in{i}")),
            Properties::new(),
        ));
    }
    next_message(&client);
    next_message(&client);

    let s = client.stats();
    assert_eq!(s.session.messages_sent, 3);
    assert_eq!(s.session.messages_received, 2);
    assert_eq!(s.session.packets_sent, 4, "CONNECT and three PUBLISH");
    assert_eq!(
        s.session.packets_received, 6,
        "CONNACK, three PUBACK, two PUBLISH"
    );
    assert_eq!(
        (
            s.session.inflight_out,
            s.session.inflight_in,
            s.session.queued
        ),
        (0, 0, 0)
    );
    assert_eq!((s.session.connects, s.session.disconnects), (1, 0));
    assert!(s.session.connected_for > Duration::ZERO);
    // One publish was timed to its PUBACK: a round trip was measured.
    assert!(s.session.rtt.is_some() && s.session.last_rtt.is_some());
    assert_eq!(
        s.io.bytes_sent, b.received,
        "every byte the broker received"
    );
    assert_eq!(s.io.bytes_received, b.sent, "every byte the broker sent");

    // The broker drops the connection: one disconnect, no longer connected.
    b.conn.close();
    assert!(support::wait_until(TIMEOUT, || client
        .stats()
        .session
        .disconnects
        == 1));
    let s = client.stats();
    assert_eq!((s.session.connects, s.session.disconnects), (1, 1));
    assert_eq!(s.session.connected_for, Duration::ZERO);
}

#[test]
fn queued_publishes_are_counted_while_offline() {
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), support::client_options("stats-offline")).unwrap();
    // Never connected: publishes wait in the offline queue.
    for _ in 0..4 {
        let _ = client.publish("q", "12345", QoS::AtLeastOnce, false, Properties::new());
    }
    assert!(support::wait_until(TIMEOUT, || client
        .stats()
        .session
        .queued
        == 4));
    let s = client.stats().session;
    assert!(
        s.queued_bytes >= 4 * 6,
        "topic and payload of each: {}",
        s.queued_bytes
    );
    assert_eq!((s.messages_sent, s.connects), (0, 0));
}
