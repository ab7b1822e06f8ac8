//! Application-controlled acknowledgements (`ClientOptions::manual_ack`, `Client::ack`):
//! the exact packets on the wire against the scripted fake broker, and the flow control a
//! real Mosquitto keeps to against an application that does not acknowledge.

mod support;

use std::time::{Duration, Instant};

use midge::codec::{
    ConnAck, ConnectReasonCode, Packet, Properties, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
};
use midge::protocol::{DisconnectCause, Message};
use midge::runtime::{Client, ClientEvent, ClientOptions, ReconnectPolicy};
use support::TIMEOUT;
use support::fake_broker::{FakeBroker, FakeConn, connack};
use support::mosquitto::Mosquitto;

/// How long the broker listens to be sure nothing is sent: a packet the client would send
/// goes out within milliseconds of the call that causes it.
const QUIET: Duration = Duration::from_millis(300);

fn manual(id: &str) -> ClientOptions {
    ClientOptions {
        manual_ack: true,
        ..support::client_options(id)
    }
}

/// Connects a client to the fake broker and answers its CONNECT with a CONNACK.
fn connected(broker: &FakeBroker, opts: ClientOptions) -> (Client, FakeConn) {
    let client = Client::new(&broker.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();
    (client, conn)
}

fn publish(qos: QoS, packet_id: u16, payload: &str) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: "in".into(),
        packet_id,
        properties: Properties::new(),
        payload: payload.to_owned().into(),
    }
}

/// The next message (other events skipped), within `timeout`.
fn next_message(c: &Client, timeout: Duration) -> Option<Message> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next_event(left)? {
            ClientEvent::Message(m) => return Some(m),
            // Our own disconnect is expected; any other end of the connection is not.
            ClientEvent::ConnectionLost(DisconnectCause::Client { .. }) => {}
            ClientEvent::ConnectionLost(cause) => panic!("connection lost: {cause}"),
            _ => {}
        }
    }
}

fn expect_message(c: &Client) -> Message {
    next_message(c, TIMEOUT).expect("a message within the timeout")
}

/// Acknowledges from another thread, as an application writing to its database would.
fn ack_elsewhere(client: &Client, m: &Message) {
    let (c, m) = (client.clone(), m.clone());
    std::thread::spawn(move || c.ack(&m))
        .join()
        .unwrap()
        .unwrap();
}

#[test]
fn qos1_pubacks_wait_for_the_application_and_keep_arrival_order() {
    // [MQTT-4.6.0-2]: PUBACKs go out in the order the PUBLISHes were received, whatever
    // order the application acknowledges in; under manual_ack none goes out before it does.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, manual("manual-qos1"));
    for id in 1..=3 {
        conn.send(&Packet::Publish(publish(
            QoS::AtLeastOnce,
            id,
            &id.to_string(),
        )));
    }
    let msgs: Vec<Message> = (0..3).map(|_| expect_message(&client)).collect();
    assert_eq!(
        msgs.iter().map(|m| m.packet_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    conn.expect_silence(QUIET);

    ack_elsewhere(&client, &msgs[2]);
    conn.expect_silence(QUIET);
    ack_elsewhere(&client, &msgs[0]);
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(1))
    );
    conn.expect_silence(QUIET);
    client.ack(&msgs[1]).unwrap();
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(2))
    );
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(3))
    );
    // Once only: a second acknowledgement (of the message or a clone) sends nothing.
    client.ack(&msgs[0]).unwrap();
    client.ack(&msgs[2].clone()).unwrap();
    conn.expect_silence(QUIET);
}

#[test]
fn qos2_pubrecs_wait_for_the_application_and_keep_arrival_order() {
    // [MQTT-4.6.0-3]: PUBRECs in the order the PUBLISHes were received; [MQTT-4.3.3-8]
    // PUBREC once the application owns the message, here when it says so.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, manual("manual-qos2"));
    for id in 1..=3 {
        conn.send(&Packet::Publish(publish(QoS::ExactlyOnce, id, "q2")));
    }
    let msgs: Vec<Message> = (0..3).map(|_| expect_message(&client)).collect();
    conn.expect_silence(QUIET);
    ack_elsewhere(&client, &msgs[2]);
    ack_elsewhere(&client, &msgs[1]);
    conn.expect_silence(QUIET);
    ack_elsewhere(&client, &msgs[0]);
    for id in 1..=3 {
        assert_eq!(
            conn.recv_packet(TIMEOUT).unwrap(),
            Packet::PubRec(PubRec::new(id))
        );
    }
    conn.send(&Packet::PubRel(PubRel::new(1)));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubComp(PubComp::new(1))
    );
}

#[test]
fn acknowledging_a_qos0_message_is_a_no_op() {
    // Nothing answers a QoS 0 PUBLISH (Table 3-4), acknowledged or not.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, manual("manual-qos0"));
    conn.send(&Packet::Publish(publish(QoS::AtMostOnce, 0, "zero")));
    let m = expect_message(&client);
    assert_eq!(m.ack, None);
    client.ack(&m).unwrap();
    conn.expect_silence(QUIET);
}

#[test]
fn without_manual_ack_messages_are_acknowledged_when_handed_out() {
    // The default is unchanged: the PUBACK follows `next_event`, and `ack` adds nothing.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, support::client_options("auto-ack"));
    conn.send(&Packet::Publish(publish(QoS::AtLeastOnce, 9, "auto")));
    conn.expect_silence(QUIET);
    let m = expect_message(&client);
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(9))
    );
    client.ack(&m).unwrap();
    conn.expect_silence(QUIET);
}

#[test]
fn acks_from_a_callback_and_after_it_returned() {
    // The message lent to the callback, and a clone kept past its return, both acknowledge.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, manual("manual-callback"));
    let (tx, rx) = std::sync::mpsc::channel();
    let c = client.clone();
    client.set_callback(move |e| {
        if let ClientEvent::Message(m) = e {
            if m.packet_id == 1 {
                c.ack(m).unwrap();
            } else {
                let _ = tx.send(m.clone());
            }
        }
    });
    conn.send(&Packet::Publish(publish(
        QoS::AtLeastOnce,
        1,
        "in callback",
    )));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(1))
    );
    conn.send(&Packet::Publish(publish(QoS::AtLeastOnce, 2, "later")));
    let kept = rx.recv_timeout(TIMEOUT).unwrap();
    conn.expect_silence(QUIET);
    client.ack(&kept).unwrap();
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(2))
    );
    client.clear_callback();
}

#[test]
fn unacknowledged_messages_across_a_resumed_session() {
    // [MQTT-4.4.0-1]: on a resumed session the server resends what was not acknowledged,
    // with DUP. A QoS 1 message of the old connection is delivered again and its old
    // acknowledgement sends nothing (no PUBACK goes out blindly on the new connection); a
    // QoS 2 message is not delivered again [MQTT-4.3.3-10], and its acknowledgement, made
    // while offline, sends the PUBREC once the server resent the PUBLISH.
    let broker = FakeBroker::start();
    let mut opts = manual("manual-resume");
    opts.session.session_expiry_interval = 300;
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..ReconnectPolicy::default()
    };
    let (client, mut conn) = connected(&broker, opts);
    conn.send(&Packet::Publish(publish(QoS::AtLeastOnce, 5, "one")));
    conn.send(&Packet::Publish(publish(QoS::ExactlyOnce, 6, "two")));
    let q1 = expect_message(&client);
    let q2 = expect_message(&client);
    conn.expect_silence(QUIET);
    conn.close();
    loop {
        match client.next_event(TIMEOUT).expect("the loss") {
            ClientEvent::ConnectionLost(_) => break,
            e => assert!(!matches!(e, ClientEvent::Message(_)), "{e:?}"),
        }
    }
    // Acknowledged while offline.
    client.ack(&q1).unwrap();
    client.ack(&q2).unwrap();

    let mut conn = broker.accept(TIMEOUT).expect("a reconnection");
    let connect = conn.expect_connect(TIMEOUT);
    assert!(!connect.clean_start);
    conn.send(&Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    }));
    conn.expect_silence(QUIET);
    conn.send(&Packet::Publish(Publish {
        dup: true,
        ..publish(QoS::AtLeastOnce, 5, "one")
    }));
    conn.send(&Packet::Publish(Publish {
        dup: true,
        ..publish(QoS::ExactlyOnce, 6, "two")
    }));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubRec(PubRec::new(6))
    );
    let again = expect_message(&client);
    assert_eq!(
        (again.packet_id, again.qos, again.dup),
        (5, QoS::AtLeastOnce, true)
    );
    assert!(
        next_message(&client, QUIET).is_none(),
        "QoS 2 delivered twice"
    );
    conn.expect_silence(QUIET);
    client.ack(&again).unwrap();
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(5))
    );
    conn.send(&Packet::PubRel(PubRel::new(6)));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubComp(PubComp::new(6))
    );
}

#[test]
fn a_qos2_message_the_server_forgot_does_not_hold_back_later_acknowledgements() {
    // A broker killed with SIGKILL can come back with the session but without a QoS 2
    // message whose PUBREC we still owed (Mosquitto 2.0.11 does). That PUBREC waits for a
    // resend that never comes [MQTT-4.4.0-1]; it answers no PUBLISH of this connection, so
    // the acknowledgements of this connection's PUBLISHes go out without it, in their own
    // arrival order [MQTT-4.6.0-2] [MQTT-4.6.0-3], rather than stall behind it forever.
    let broker = FakeBroker::start();
    let mut opts = manual("manual-forgotten");
    opts.session.session_expiry_interval = 300;
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..ReconnectPolicy::default()
    };
    let (client, mut conn) = connected(&broker, opts);
    conn.send(&Packet::Publish(publish(QoS::ExactlyOnce, 6, "forgotten")));
    let old = expect_message(&client);
    conn.close();
    loop {
        match client.next_event(TIMEOUT).expect("the loss") {
            ClientEvent::ConnectionLost(_) => break,
            e => assert!(!matches!(e, ClientEvent::Message(_)), "{e:?}"),
        }
    }
    client.ack(&old).unwrap();

    let mut conn = broker.accept(TIMEOUT).expect("a reconnection");
    conn.expect_connect(TIMEOUT);
    conn.send(&Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    }));
    // No resend of 6: new messages only.
    conn.send(&Packet::Publish(publish(QoS::AtLeastOnce, 7, "q1")));
    conn.send(&Packet::Publish(publish(QoS::ExactlyOnce, 8, "q2")));
    let q1 = expect_message(&client);
    let q2 = expect_message(&client);
    ack_elsewhere(&client, &q2);
    conn.expect_silence(QUIET);
    client.ack(&q1).unwrap();
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(7))
    );
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubRec(PubRec::new(8))
    );
    // A late resend of 6 is still answered, once, and not delivered again [MQTT-4.3.3-10].
    conn.send(&Packet::Publish(Publish {
        dup: true,
        ..publish(QoS::ExactlyOnce, 6, "forgotten")
    }));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubRec(PubRec::new(6))
    );
    assert!(
        next_message(&client, QUIET).is_none(),
        "QoS 2 delivered twice"
    );
}

#[test]
fn a_server_past_the_tolerated_receive_maximum_is_held_back_not_disconnected() {
    // [MQTT-3.3.4-9] binds the server to our Receive Maximum (1 here); midge tolerates
    // twice it (Mosquitto 2.0.11 overshoots). What comes beyond waits unread while the
    // application holds messages: no 0x93 (the server would resend them all on the next
    // connection, over the bound again), PINGREQ still sent each keep alive
    // [MQTT-3.1.2-22] though the PINGRESP waits unread, and everything is delivered, in
    // order, as the application acknowledges.
    let broker = FakeBroker::start();
    let mut opts = manual("manual-held");
    opts.session.receive_maximum = 1;
    opts.session.keep_alive = 1;
    let (client, mut conn) = connected(&broker, opts);
    for id in 1..=4 {
        conn.send(&Packet::Publish(publish(
            QoS::AtLeastOnce,
            id,
            &id.to_string(),
        )));
    }
    let first: Vec<Message> = (0..2).map(|_| expect_message(&client)).collect();
    assert!(next_message(&client, QUIET).is_none(), "held beyond 2");
    // Two keep-alive periods without the server's answers read: still connected.
    for _ in 0..2 {
        assert_eq!(
            conn.recv_packet(Duration::from_secs(3)).unwrap(),
            Packet::PingReq
        );
        conn.send(&Packet::PingResp);
    }
    assert!(client.is_connected());
    client.ack(&first[0]).unwrap();
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(1))
    );
    let third = expect_message(&client);
    assert_eq!(third.packet_id, 3);
    client.ack(&first[1]).unwrap();
    client.ack(&third).unwrap();
    let fourth = expect_message(&client);
    assert_eq!(fourth.packet_id, 4);
    client.ack(&fourth).unwrap();
    let mut acked = Vec::new();
    while acked.len() < 3 {
        match conn.recv_packet(TIMEOUT).unwrap() {
            Packet::PubAck(a) => acked.push(a.packet_id),
            Packet::PingReq => conn.send(&Packet::PingResp),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(acked, [2, 3, 4]);
    assert!(client.is_connected());
}

// ------------------------------------------------------------------ against Mosquitto

#[test]
fn an_application_that_does_not_acknowledge_holds_the_broker_at_receive_maximum() {
    // [MQTT-3.3.4-9] the server sends no more than our Receive Maximum of unacknowledged
    // QoS 1/2 PUBLISHes: an application that does not acknowledge gets backpressure, no
    // disconnection, and loses nothing: everything arrives, in order, once it acknowledges.
    const RM: usize = 5;
    const TOTAL: usize = 20;
    let broker = Mosquitto::start();
    let mut opts = manual("manual-flow");
    opts.session.receive_maximum = RM as u16;
    let sub = broker.connected_client(opts);
    sub.subscribe_and_wait("flow/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let publisher = broker.connected_client(support::client_options("manual-flow-pub"));
    for i in 0..TOTAL {
        publisher
            .publish_and_wait(
                "flow/t",
                format!("{i}"),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
                TIMEOUT,
            )
            .unwrap();
    }
    let held: Vec<Message> = (0..RM).map(|_| expect_message(&sub)).collect();
    assert!(
        next_message(&sub, Duration::from_millis(500)).is_none(),
        "the broker went past our Receive Maximum of {RM}\n{}",
        broker.log()
    );
    assert!(sub.is_connected());
    let mut payloads: Vec<String> = Vec::new();
    for m in &held {
        payloads.push(String::from_utf8(m.payload.to_vec()).unwrap());
        sub.ack(m).unwrap();
    }
    while payloads.len() < TOTAL {
        let m = expect_message(&sub);
        assert!(!m.dup, "nothing was resent: the connection stayed up");
        payloads.push(String::from_utf8(m.payload.to_vec()).unwrap());
        sub.ack(&m).unwrap();
    }
    let expected: Vec<String> = (0..TOTAL).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    assert!(next_message(&sub, QUIET).is_none(), "delivered once each");
}

#[test]
fn unacknowledged_messages_are_redelivered_by_mosquitto_after_a_reconnect() {
    // No PUBACK went out for the 3 unacknowledged messages: Mosquitto still holds them and
    // resends them, DUP set, to the resumed session [MQTT-4.4.0-1].
    let broker = Mosquitto::start();
    let mut opts = manual("manual-redeliver");
    opts.session.session_expiry_interval = 300;
    let sub = broker.connected_client(opts);
    sub.subscribe_and_wait("redeliver/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let publisher = broker.connected_client(support::client_options("manual-redeliver-pub"));
    for i in 0..3 {
        publisher
            .publish_and_wait(
                "redeliver/t",
                format!("{i}"),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
                TIMEOUT,
            )
            .unwrap();
    }
    let first: Vec<Message> = (0..3).map(|_| expect_message(&sub)).collect();
    assert!(first.iter().all(|m| !m.dup));
    sub.disconnect_and_wait(TIMEOUT).unwrap();
    // Acknowledging a message of the ended connection sends nothing.
    sub.ack(&first[0]).unwrap();

    let mut opts = manual("manual-redeliver");
    opts.session.session_expiry_interval = 300;
    opts.session.clean_start = false;
    let again = broker.connected_client(opts);
    let resent: Vec<Message> = (0..3).map(|_| expect_message(&again)).collect();
    assert!(resent.iter().all(|m| m.dup), "{resent:?}");
    assert_eq!(
        resent
            .iter()
            .map(|m| m.payload.to_vec())
            .collect::<Vec<_>>(),
        first.iter().map(|m| m.payload.to_vec()).collect::<Vec<_>>()
    );
    for m in &resent {
        again.ack(m).unwrap();
    }
    // A round trip after the PUBACKs: Mosquitto answers it only after handling them, so
    // the next connection cannot take the session over before it read them.
    again
        .subscribe_and_wait("redeliver/barrier", QoS::AtMostOnce, TIMEOUT)
        .unwrap();
    again.disconnect_and_wait(TIMEOUT).unwrap();
    // Acknowledged this time: a third connection receives nothing.
    let mut opts = manual("manual-redeliver");
    opts.session.session_expiry_interval = 300;
    opts.session.clean_start = false;
    let third = broker.connected_client(opts);
    assert!(next_message(&third, QUIET).is_none());
}

#[test]
fn a_slow_acknowledger_survives_a_reconnect_without_a_disconnection_loop() {
    // Mosquitto 2.0.11 sends up to a Receive Maximum more for each PUBACK while messages
    // are unacknowledged, so a slow application ends up with more than twice our Receive
    // Maximum in flight at the broker, all of which it resends, with DUP, to the resumed
    // session [MQTT-4.4.0-1]. midge holds what comes past the bound until the application
    // acknowledges: the connection stays up (before, 0x93 ended it, and every reconnection
    // met the same resend) and every message arrives.
    const RM: u16 = 5;
    const TOTAL: usize = 30;
    let broker = Mosquitto::start();
    let mut opts = manual("manual-loop");
    opts.session.receive_maximum = RM;
    opts.session.session_expiry_interval = 300;
    let sub = broker.connected_client(opts);
    sub.subscribe_and_wait("loop/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let publisher = broker.connected_client(support::client_options("manual-loop-pub"));
    for i in 0..TOTAL {
        publisher
            .publish_and_wait(
                "loop/t",
                format!("{i}"),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
                TIMEOUT,
            )
            .unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut unacked: std::collections::VecDeque<Message> =
        (0..usize::from(RM)).map(|_| expect_message(&sub)).collect();
    // Two acknowledgements, each answered by the broker with a burst.
    for _ in 0..2 {
        let m = unacked.pop_front().unwrap();
        seen.insert(m.payload.to_vec());
        sub.ack(&m).unwrap();
    }
    while let Some(m) = next_message(&sub, QUIET) {
        unacked.push_back(m);
    }
    sub.disconnect_and_wait(TIMEOUT).unwrap();
    let info = sub.connect_and_wait(TIMEOUT).unwrap();
    assert!(info.session_present);
    // Everything arrives (some twice: QoS 1 is at least once), the connection stays up.
    while seen.len() < TOTAL {
        let m = next_message(&sub, TIMEOUT)
            .unwrap_or_else(|| panic!("{} of {TOTAL} messages\n{}", seen.len(), broker.log()));
        seen.insert(m.payload.to_vec());
        sub.ack(&m).unwrap();
    }
    assert!(sub.is_connected());
    let resent = broker
        .log()
        .matches("Sending PUBLISH to manual-loop (d1")
        .count();
    eprintln!("the broker resent {resent} messages to the resumed session (Receive Maximum {RM})");
}
