//! Adaptive batching, capped by `ClientOptions::linger` (on by default): while a client's
//! traffic is dense, the I/O thread pauses between rounds and what callers publish
//! meanwhile waits in the write buffer for the round that follows; while it is sparse,
//! nothing waits. Nothing may be lost, reordered or left behind; and `Client::io_stats`
//! must show the batching. (The pause decision itself is checked on a virtual clock by the
//! unit tests of `runtime::reactor::batching`.)

mod support;

use std::time::Duration;

use midge::codec::{Bytes, Packet, Properties, PubAck, PubAckReasonCode, QoS};
use midge::protocol::Message;
use midge::runtime::{Client, ClientEvent, ClientOptions, IoStats};
use support::fake_broker::{FakeBroker, FakeConn, connack, publish_packet};
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, numbered, publish_numbered_qos0, sub};

const LINGER: Duration = Duration::from_millis(5);

fn lingering(id: &str) -> ClientOptions {
    ClientOptions {
        linger: LINGER,
        ..support::client_options(id)
    }
}

fn expect_message(c: &Client) -> Message {
    loop {
        if let ClientEvent::Message(m) = c.next_event(TIMEOUT).expect("a message in time") {
            return m;
        }
    }
}

fn number(m: &Message) -> u32 {
    u32::from_be_bytes(m.payload[..4].try_into().unwrap())
}

/// A broker that acknowledges up to 1,000 QoS 1 publishes at a time and queues without
/// bound for a slow subscriber (Mosquitto's defaults, 20 and 1,000, would throttle the
/// stream into many small rounds, or drop).
fn broker() -> Mosquitto {
    Mosquitto::builder()
        .extra_config("max_inflight_messages 1000")
        .extra_config("max_queued_messages 0")
        .start()
}

#[test]
fn a_stream_with_a_linger_goes_out_in_few_writes_all_arriving_once_in_order() {
    // 4.6: a client's messages of one QoS to one topic arrive in the order sent. QoS 0 and
    // QoS 1 interleave in one stream, each checked on its own topic.
    let broker = broker();
    let receiver = broker.connected_client(support::client_options("linger-rx"));
    receiver
        .subscribe(
            vec![
                sub("linger/q1", QoS::AtLeastOnce),
                sub("linger/q0", QoS::AtMostOnce),
            ],
            Properties::new(),
        )
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    let sender = broker.connected_client(lingering("linger-tx"));
    let before = sender.io_stats();
    let count: u32 = 2_000;
    let mut last = None;
    for n in 0..count {
        let (topic, qos) = if n % 4 == 3 {
            ("linger/q0", QoS::AtMostOnce)
        } else {
            ("linger/q1", QoS::AtLeastOnce)
        };
        last = Some(
            sender
                .publish(topic, numbered(n), qos, false, Properties::new())
                .unwrap(),
        );
    }
    // Acknowledged, hence written: what waited in the write buffer went out by itself.
    last.unwrap().wait(TIMEOUT).unwrap();
    let (mut next_q0, mut next_q1) = (3, 0);
    for _ in 0..count {
        let m = expect_message(&receiver);
        let n = number(&m);
        if &m.topic[..] == "linger/q0" {
            assert_eq!(n, next_q0, "QoS 0 out of order");
            next_q0 += 4;
        } else {
            assert_eq!(n, next_q1, "QoS 1 out of order");
            next_q1 += if next_q1 % 4 == 2 { 2 } else { 1 };
        }
    }
    assert_eq!((next_q0, next_q1), (count + 3, count));
    let writes = sender.io_stats().writes - before.writes;
    // Without the linger each publish the caller makes while the I/O thread sleeps is a
    // write of its own: about one per message.
    assert!(
        writes <= u64::from(count / 10),
        "{writes} writes for {count} publishes"
    );
    let mut extra = receiver.next_event(Duration::from_millis(200));
    while let Some(e) = extra {
        assert!(!matches!(e, ClientEvent::Message(_)), "duplicate: {e:?}");
        extra = receiver.next_event(Duration::from_millis(50));
    }
}

#[test]
fn qos0_publishes_left_for_the_linger_go_out_before_the_disconnect_that_follows() {
    let broker = broker();
    let receiver = broker.connected_client(support::client_options("linger-dc-rx"));
    receiver
        .subscribe_and_wait("linger/dc", QoS::AtMostOnce, TIMEOUT)
        .unwrap();
    let sender = broker.connected_client(lingering("linger-dc-tx"));
    let count: u32 = 500;
    publish_numbered_qos0(&sender, "linger/dc", count);
    sender.disconnect_and_wait(TIMEOUT).unwrap();
    for n in 0..count {
        assert_eq!(number(&expect_message(&receiver)), n);
    }
}

/// The client, the broker's side and the length of the CONNECT it received.
fn connected(broker: &FakeBroker, opts: ClientOptions) -> (Client, FakeConn, u64) {
    let client = Client::new(&broker.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    let connect = encoded_len(&Packet::Connect(Box::new(conn.accept_session(TIMEOUT))));
    waiter.wait(TIMEOUT).unwrap();
    (client, conn, connect)
}

fn encoded_len(packet: &Packet) -> u64 {
    let mut buf = Vec::new();
    packet.encode(&mut buf).unwrap();
    buf.len() as u64
}

#[test]
fn publishes_left_during_a_linger_are_written_with_no_further_packet_from_the_server() {
    // A packet from the server gives the client traffic: the I/O thread pauses after that
    // round, and the burst the application publishes meanwhile waits for the next round,
    // which must come by itself (the server sends nothing more).
    let broker = FakeBroker::start();
    let opts = ClientOptions {
        linger: Duration::from_millis(10),
        ..support::client_options("linger-fake")
    };
    let (client, mut conn, _) = connected(&broker, opts);
    conn.send(&publish_packet(
        "in",
        QoS::AtMostOnce,
        0,
        Bytes::from_static(b"go"),
        Properties::new(),
    ));
    let m = expect_message(&client);
    assert_eq!(&m.payload[..], b"go");
    let before = client.io_stats();
    let count: u32 = 200;
    publish_numbered_qos0(&client, "out", count);
    for n in 0..count {
        match conn.recv_packet(TIMEOUT).unwrap() {
            Packet::Publish(p) => assert_eq!(p.payload, numbered(n)),
            other => panic!("{other:?}"),
        }
    }
    let writes = client.io_stats().writes - before.writes;
    assert!(writes <= 20, "{writes} writes for {count} publishes");
}

#[test]
fn io_stats_count_every_byte_both_ways() {
    let broker = FakeBroker::start();
    let (client, mut conn, connect_len) = connected(&broker, support::client_options("io-stats"));
    // CONNECT and CONNACK are through already.
    let connect = client.io_stats();
    assert!(connect.writes >= 1 && connect.reads >= 1, "{connect:?}");
    assert_eq!(connect.bytes_sent, connect_len);
    let connack_len = encoded_len(&connack(Properties::new()));
    assert_eq!(connect.bytes_received, connack_len);
    let mut sent = connect.bytes_sent;
    let done = client
        .publish(
            "t/stats",
            "twelve bytes",
            QoS::AtLeastOnce,
            false,
            Properties::new(),
        )
        .unwrap();
    let Packet::Publish(p) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!("expected PUBLISH");
    };
    sent += encoded_len(&Packet::Publish(p.clone()));
    let puback = Packet::PubAck(PubAck {
        packet_id: p.packet_id,
        reason_code: PubAckReasonCode::Success,
        properties: Properties::new(),
    });
    conn.send(&puback);
    done.wait(TIMEOUT).unwrap();
    let after = client.io_stats();
    assert_eq!(
        after,
        IoStats {
            writes: after.writes,
            bytes_sent: sent,
            reads: after.reads,
            bytes_received: connack_len + encoded_len(&puback),
        }
    );
    assert!(after.writes > connect.writes && after.reads > connect.reads);
}
