//! The runtime against a scripted fake broker (raw bytes over loopback TCP): what a real
//! broker will not do on demand.

mod support;

use std::time::Duration;

use midge::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, ConnAck, ConnectReasonCode, Disconnect,
    DisconnectReasonCode, Packet, Properties, Property, PropertyId, PubAck, PubRel, QoS,
};
use midge::protocol::{Authenticator, DisconnectCause, RequestError};
use midge::runtime::{Client, ClientEvent, ClientOptions, ReconnectPolicy};
use support::TIMEOUT;
use support::fake_broker::{FakeBroker, FakeConn, connack, publish_packet};

fn options() -> ClientOptions {
    support::client_options("fake-test")
}

/// Connects a client to the fake broker and answers its CONNECT with `ack`.
fn connected(broker: &FakeBroker, opts: ClientOptions, ack: &Packet) -> (Client, FakeConn) {
    let client = Client::new(&broker.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(ack);
    waiter.wait(TIMEOUT).unwrap();
    (client, conn)
}

/// The next event that is not a completion or reconnect notice.
fn next_interesting(client: &Client) -> ClientEvent {
    loop {
        let e = client
            .next_event(TIMEOUT)
            .expect("an event within the timeout");
        if !matches!(
            e,
            ClientEvent::Connected(_) | ClientEvent::Reconnecting { .. }
        ) {
            return e;
        }
    }
}

fn expect_lost(client: &Client) -> DisconnectCause {
    loop {
        match client
            .next_event(TIMEOUT)
            .expect("an event within the timeout")
        {
            ClientEvent::ConnectionLost(cause) => return cause,
            ClientEvent::Connected(_) => {}
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
    }
}

fn publish(topic: &str, qos: QoS, packet_id: u16, properties: Properties) -> Packet {
    support::fake_broker::publish_packet(
        topic,
        qos,
        packet_id,
        Bytes::from_static(b"x"),
        properties,
    )
}

#[test]
fn server_keep_alive_replaces_ours_and_drives_pingreq() {
    // [MQTT-3.2.2-21] the Server Keep Alive replaces the client's keep alive.
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.keep_alive = 600;
    let (client, mut conn) = connected(
        &broker,
        opts,
        &connack(Properties::new().with(Property::ServerKeepAlive(1))),
    );
    match client.next_event(TIMEOUT) {
        Some(ClientEvent::Connected(info)) => {
            assert_eq!(info.keep_alive, 1);
            assert_eq!(info.server_keep_alive, Some(1));
        }
        other => panic!("{other:?}"),
    }
    // With keep alive 600 no PINGREQ would come for minutes; with 1 it comes within ~1 s.
    let p = conn.recv_packet(Duration::from_secs(3)).unwrap();
    assert_eq!(p, Packet::PingReq);
    conn.send(&Packet::PingResp);
    let p = conn.recv_packet(Duration::from_secs(3)).unwrap();
    assert_eq!(p, Packet::PingReq);
}

#[test]
fn with_a_busy_poll_timers_and_traffic_go_on() {
    // The I/O thread polls without sleeping for 20 ms before each sleep: the keep alive
    // timer, beyond the spin, must still fire, and packets both ways still flow.
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.keep_alive = 1;
    opts.busy_poll = Duration::from_millis(20);
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    assert!(matches!(
        client.next_event(TIMEOUT),
        Some(ClientEvent::Connected(_))
    ));
    let started = std::time::Instant::now();
    assert_eq!(
        conn.recv_packet(Duration::from_secs(3)).unwrap(),
        Packet::PingReq
    );
    // Not before the keep alive is due (the spin does not fire timers early).
    assert!(started.elapsed() >= Duration::from_millis(500));
    conn.send(&Packet::PingResp);
    conn.send(&publish("in", QoS::AtMostOnce, 0, Properties::new()));
    match next_interesting(&client) {
        ClientEvent::Message(m) => assert_eq!(&m.topic[..], "in"),
        other => panic!("{other:?}"),
    }
    client
        .publish("out", "x", QoS::AtMostOnce, false, Properties::new())
        .unwrap();
    match conn.recv_packet(TIMEOUT).unwrap() {
        Packet::Publish(p) => assert_eq!(&p.payload[..], b"x"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        conn.recv_packet(Duration::from_secs(3)).unwrap(),
        Packet::PingReq
    );
}

#[test]
fn a_backlog_longer_than_one_round_of_reads_is_all_delivered() {
    // The client reads a bounded amount per connection and round, and must then read on
    // by itself: the poller is edge-triggered and reports nothing more for bytes already
    // waiting. 4 MiB in one write is many rounds.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, options(), &connack(Properties::new()));
    assert!(matches!(
        client.next_event(TIMEOUT),
        Some(ClientEvent::Connected(_))
    ));
    let mut burst = Vec::new();
    for i in 0..128u32 {
        let mut payload = vec![0u8; 32 * 1024];
        payload[..4].copy_from_slice(&i.to_be_bytes());
        publish_packet(
            "burst",
            QoS::AtMostOnce,
            0,
            Bytes::from(payload),
            Properties::new(),
        )
        .encode(&mut burst)
        .unwrap();
    }
    conn.send_raw(&burst);
    for i in 0..128u32 {
        match next_interesting(&client) {
            ClientEvent::Message(m) => {
                assert_eq!(m.payload.len(), 32 * 1024);
                assert_eq!(m.payload[..4], i.to_be_bytes(), "message {i}");
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
}

#[test]
fn publishes_wait_while_the_socket_is_full_and_then_all_go_out_in_order() {
    // The broker reads nothing while 6 MiB of publishes are made: past the socket buffers
    // and the client's write buffer they wait in the session, unencoded; when the broker
    // reads again every one arrives, in order, intact.
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.auto_topic_alias = false;
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    let count = 384u32;
    for i in 0..count {
        let mut payload = vec![0x5Au8; 16 * 1024];
        payload[..4].copy_from_slice(&i.to_be_bytes());
        client
            .publish("full", payload, QoS::AtMostOnce, false, Properties::new())
            .unwrap();
    }
    for i in 0..count {
        match conn.recv_packet(TIMEOUT).unwrap() {
            Packet::Publish(p) => {
                assert_eq!(&p.topic[..], "full");
                assert_eq!(p.payload.len(), 16 * 1024);
                assert_eq!(p.payload[..4], i.to_be_bytes(), "publish {i}");
                assert!(p.payload[4..].iter().all(|&b| b == 0x5A));
            }
            other => panic!("publish {i}: {other:?}"),
        }
    }
    drop(client);
}

#[test]
fn missing_pingresp_closes_the_connection_after_one_and_a_half_keep_alives() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.keep_alive = 1;
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    assert_eq!(
        conn.recv_packet(Duration::from_secs(3)).unwrap(),
        Packet::PingReq
    );
    // No PINGRESP: the client declares the connection lost and closes it.
    assert_eq!(expect_lost(&client), DisconnectCause::KeepAliveTimeout);
    conn.expect_closed(Duration::from_secs(3));
}

#[test]
fn server_receive_maximum_2_holds_the_third_publish_until_an_ack() {
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(
        &broker,
        options(),
        &connack(Properties::new().with(Property::ReceiveMaximum(2))),
    );
    let c: Vec<_> = (0..3)
        .map(|i| {
            client
                .publish(
                    "t",
                    format!("m{i}"),
                    QoS::AtLeastOnce,
                    false,
                    Properties::new(),
                )
                .unwrap()
        })
        .collect();
    let first = conn.recv_packet(TIMEOUT).unwrap();
    let second = conn.recv_packet(TIMEOUT).unwrap();
    let (Packet::Publish(a), Packet::Publish(b)) = (&first, &second) else {
        panic!("{first:?} {second:?}");
    };
    assert_eq!((&a.payload[..], &b.payload[..]), (&b"m0"[..], &b"m1"[..]));
    // The third waits for quota: nothing more arrives.
    assert!(conn.recv_packet(Duration::from_millis(300)).is_err());
    conn.send(&Packet::PubAck(PubAck::new(a.packet_id)));
    let Packet::Publish(third) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!("expected the third PUBLISH");
    };
    assert_eq!(&third.payload[..], b"m2");
    assert_ne!(third.packet_id, b.packet_id, "never an id still in flight");
    c[0].wait(TIMEOUT).unwrap();
    assert!(!c[1].is_done());
}

#[test]
fn publish_above_server_maximum_packet_size_is_refused_and_not_sent() {
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(
        &broker,
        options(),
        &connack(Properties::new().with(Property::MaximumPacketSize(100))),
    );
    let done = client
        .publish(
            "t",
            vec![0u8; 200],
            QoS::AtLeastOnce,
            false,
            Properties::new(),
        )
        .unwrap();
    let err = done.wait(TIMEOUT).unwrap_err();
    assert!(
        matches!(
            err,
            midge::Error::Request(midge::protocol::RequestError::PacketTooLarge { max: 100, .. })
        ),
        "{err:?}"
    );
    // A small one still goes out, and it is the first thing the broker sees.
    client
        .publish(
            "t",
            vec![0u8; 10],
            QoS::AtMostOnce,
            false,
            Properties::new(),
        )
        .unwrap();
    let Packet::Publish(p) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert_eq!(p.payload.len(), 10);
}

#[test]
fn packet_above_our_maximum_packet_size_gets_disconnect_0x95() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.maximum_packet_size = Some(64);
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    let mut big = publish("t", QoS::AtMostOnce, 0, Properties::new());
    if let Packet::Publish(p) = &mut big {
        p.payload = Bytes::from(vec![1u8; 100]);
    }
    conn.send(&big);
    let p = conn.recv_packet(TIMEOUT).unwrap();
    assert_eq!(
        p,
        Packet::Disconnect(Disconnect::new(DisconnectReasonCode::PacketTooLarge))
    );
    conn.expect_closed(TIMEOUT);
    assert!(matches!(
        expect_lost(&client),
        DisconnectCause::ProtocolError {
            reason_code: DisconnectReasonCode::PacketTooLarge,
            ..
        }
    ));
}

#[test]
fn inbound_topic_aliases_are_resolved_and_bad_ones_disconnect() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.topic_alias_maximum = 4;
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    conn.send(&publish(
        "sensors/1",
        QoS::AtMostOnce,
        0,
        Properties::new().with(Property::TopicAlias(3)),
    ));
    conn.send(&publish(
        "",
        QoS::AtMostOnce,
        0,
        Properties::new().with(Property::TopicAlias(3)),
    ));
    for _ in 0..2 {
        match next_interesting(&client) {
            ClientEvent::Message(m) => {
                assert_eq!(m.topic, "sensors/1");
                assert!(m.properties.get(PropertyId::TopicAlias).is_none());
            }
            other => panic!("{other:?}"),
        }
    }
    // Alias 5 is above the maximum we announced: 0x94 Topic Alias invalid.
    conn.send(&publish(
        "x",
        QoS::AtMostOnce,
        0,
        Properties::new().with(Property::TopicAlias(5)),
    ));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::Disconnect(Disconnect::new(DisconnectReasonCode::TopicAliasInvalid))
    );
    conn.expect_closed(TIMEOUT);
}

#[test]
fn unknown_inbound_alias_is_a_protocol_error() {
    let broker = FakeBroker::start();
    let (_client, mut conn) = connected(&broker, options(), &connack(Properties::new()));
    conn.send(&publish(
        "",
        QoS::AtMostOnce,
        0,
        Properties::new().with(Property::TopicAlias(1)),
    ));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::Disconnect(Disconnect::new(DisconnectReasonCode::ProtocolError))
    );
}

#[test]
fn duplicate_qos2_is_delivered_once() {
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, options(), &connack(Properties::new()));
    conn.send(&publish("q2", QoS::ExactlyOnce, 7, Properties::new()));
    let ClientEvent::Message(m) = next_interesting(&client) else {
        panic!()
    };
    assert_eq!(m.packet_id, 7);
    // next_event handed it out, so it is acknowledged: PUBREC.
    let Packet::PubRec(rec) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert_eq!(rec.packet_id, 7);
    // The server resends with DUP before PUBREL: answered again, not delivered again.
    let mut dup = publish("q2", QoS::ExactlyOnce, 7, Properties::new());
    if let Packet::Publish(p) = &mut dup {
        p.dup = true;
    }
    conn.send(&dup);
    let Packet::PubRec(rec) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert_eq!(rec.packet_id, 7);
    conn.send(&Packet::PubRel(PubRel::new(7)));
    let Packet::PubComp(comp) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert_eq!(comp.packet_id, 7);
    assert!(client.next_event(Duration::from_millis(200)).is_none());
}

#[test]
fn more_unacknowledged_publishes_than_our_receive_maximum_wait_for_the_application() {
    // [MQTT-3.3.4-9] binds the server to our Receive Maximum; a second one is tolerated
    // (Mosquitto 2.0.11 overshoots). Past that, while messages wait for the application,
    // what the server sends waits unread (backpressure, no disconnection that the server
    // would answer by resending them all); only a server past it with nothing left for
    // the application to acknowledge gets 0x93.
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.receive_maximum = 2;
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    for id in 1..=5 {
        conn.send(&publish("t", QoS::AtLeastOnce, id, Properties::new()));
    }
    conn.expect_silence(Duration::from_millis(300));
    assert!(client.is_connected());
    for id in 1..=5 {
        match next_interesting(&client) {
            ClientEvent::Message(m) => assert_eq!(m.packet_id, id),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            conn.recv_packet(TIMEOUT).unwrap(),
            Packet::PubAck(PubAck::new(id))
        );
    }
    // Four QoS 2 messages taken (PUBREC sent), awaiting PUBREL: the window is full with
    // nothing the application can free. One more is the server's fault.
    for id in 11..=14 {
        conn.send(&publish("t", QoS::ExactlyOnce, id, Properties::new()));
        assert!(matches!(next_interesting(&client), ClientEvent::Message(_)));
        assert!(matches!(
            conn.recv_packet(TIMEOUT).unwrap(),
            Packet::PubRec(_)
        ));
    }
    conn.send(&publish("t", QoS::AtLeastOnce, 6, Properties::new()));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::ReceiveMaximumExceeded
        ))
    );
    conn.expect_closed(TIMEOUT);
    drop(client);
}

/// Each malformed input and the reason code the client must answer with (4.13).
#[test]
fn malformed_and_forbidden_input_gets_the_right_disconnect() {
    let cases: &[(&str, &[u8], DisconnectReasonCode)] = &[
        // [MQTT-2.1.3-1] PUBACK with reserved flags set.
        (
            "reserved flags",
            &[0x41, 0x02, 0x00, 0x01],
            DisconnectReasonCode::MalformedPacket,
        ),
        // [MQTT-3.3.1-4] PUBLISH with QoS 3.
        (
            "qos 3",
            &[0x36, 0x04, 0x00, 0x01, b't', 0x00],
            DisconnectReasonCode::MalformedPacket,
        ),
        // [MQTT-1.5.4-1] invalid UTF-8 in the topic.
        (
            "invalid utf-8",
            &[0x30, 0x04, 0x00, 0x01, 0xFF, 0x00],
            DisconnectReasonCode::MalformedPacket,
        ),
        // Remaining Length of five bytes (1.5.5).
        (
            "varint",
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            DisconnectReasonCode::MalformedPacket,
        ),
        // [MQTT-3.3.2-2] wildcard in a PUBLISH topic name.
        (
            "wildcard",
            &[0x30, 0x04, 0x00, 0x01, b'#', 0x00],
            DisconnectReasonCode::TopicNameInvalid,
        ),
        // A second CONNACK is a protocol error.
        (
            "second connack",
            &[0x20, 0x03, 0x00, 0x00, 0x00],
            DisconnectReasonCode::ProtocolError,
        ),
        // Packet type 0 is reserved.
        (
            "type 0",
            &[0x00, 0x00],
            DisconnectReasonCode::MalformedPacket,
        ),
        // A well-formed SUBSCRIBE, which only a client may send.
        (
            "subscribe to client",
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00],
            DisconnectReasonCode::ProtocolError,
        ),
        // A field running past the Remaining Length.
        (
            "truncated",
            &[0x40, 0x01, 0x00],
            DisconnectReasonCode::MalformedPacket,
        ),
    ];
    let broker = FakeBroker::start();
    for (name, bytes, code) in cases {
        let (client, mut conn) = connected(&broker, options(), &connack(Properties::new()));
        conn.send_raw(bytes);
        let got = conn
            .recv_packet(TIMEOUT)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            got,
            Packet::Disconnect(Disconnect::new(*code)),
            "{name}: expected DISCONNECT {code}"
        );
        conn.expect_closed(TIMEOUT);
        match expect_lost(&client) {
            DisconnectCause::ProtocolError { reason_code, .. } => {
                assert_eq!(reason_code, *code, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn server_disconnect_with_reason_string_is_surfaced() {
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, options(), &connack(Properties::new()));
    conn.send(&Packet::Disconnect(Disconnect {
        reason_code: DisconnectReasonCode::ServerMoved,
        properties: Properties::new()
            .with(Property::ReasonString(ByteString::from_static(
                "maintenance",
            )))
            .with(Property::ServerReference(ByteString::from_static(
                "other:1883",
            ))),
    }));
    match expect_lost(&client) {
        DisconnectCause::Server {
            reason_code,
            reason_string,
            server_reference,
            ..
        } => {
            assert_eq!(reason_code, DisconnectReasonCode::ServerMoved);
            assert_eq!(reason_string.as_deref(), Some("maintenance"));
            assert_eq!(server_reference.as_deref(), Some("other:1883"));
        }
        other => panic!("{other:?}"),
    }
    conn.expect_closed(TIMEOUT);
}

#[test]
fn refused_connection_reports_reason_code_and_string() {
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), options()).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(&Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::BadUserNameOrPassword,
        properties: Properties::new().with(Property::ReasonString(ByteString::from_static(
            "wrong password",
        ))),
    }));
    match waiter.wait(TIMEOUT).unwrap_err() {
        midge::Error::ConnectionRefused(r) => {
            assert_eq!(r.reason_code, ConnectReasonCode::BadUserNameOrPassword);
            assert_eq!(r.reason_string.as_deref(), Some("wrong password"));
        }
        other => panic!("{other:?}"),
    }
    conn.expect_closed(TIMEOUT);
}

#[test]
fn a_permanent_refusal_stops_reconnecting_and_a_transient_one_does_not() {
    // Bad credentials cannot be fixed by trying again; Server Busy can.
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..ReconnectPolicy::default()
    };
    opts.log_level = midge::runtime::LogLevel::Error;
    let client = Client::new(&broker.url(), opts).unwrap();
    let _ = client.connect();
    let refuse = |code| {
        let mut conn = broker.accept(TIMEOUT).expect("an attempt");
        conn.expect_connect(TIMEOUT);
        conn.send(&Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: code,
            properties: Properties::new(),
        }));
        conn.expect_closed(TIMEOUT);
    };
    refuse(ConnectReasonCode::ServerBusy);
    refuse(ConnectReasonCode::BadUserNameOrPassword);
    loop {
        match client.next_event(TIMEOUT).expect("the log line") {
            ClientEvent::Log { message, .. } if message.contains("for good") => break,
            _ => {}
        }
    }
    // Reconnecting would come within 100 ms.
    assert!(broker.accept(Duration::from_millis(500)).is_err());
}

#[test]
fn a_refused_disconnect_leaves_reconnection_on() {
    // Properties DISCONNECT may not carry: refused, nothing sent, still connected. When the
    // connection then breaks, the client must reconnect as before.
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..ReconnectPolicy::default()
    };
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    let refused = client
        .disconnect(
            DisconnectReasonCode::NormalDisconnection,
            Properties::new().with(Property::ContentType(ByteString::from_static("x"))),
        )
        .wait(TIMEOUT);
    assert!(
        matches!(refused, Err(midge::Error::Request(_))),
        "{refused:?}"
    );
    conn.expect_silence(Duration::from_millis(100));
    conn.close();
    let mut again = broker.accept(TIMEOUT).expect("a reconnection");
    again.accept_session(TIMEOUT);
}

#[test]
fn unacknowledged_publish_is_resent_with_dup_after_reconnect() {
    // [MQTT-4.4.0-1] resend unacknowledged PUBLISH with DUP=1 on a resumed session.
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.session_expiry_interval = 300;
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..ReconnectPolicy::default()
    };
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    let done = client
        .publish("t", "keep me", QoS::AtLeastOnce, false, Properties::new())
        .unwrap();
    let Packet::Publish(first) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert!(!first.dup);
    conn.close();

    let mut conn = broker.accept(TIMEOUT).unwrap();
    let connect = conn.expect_connect(TIMEOUT);
    assert!(!connect.clean_start, "a session worth resuming");
    conn.send(&Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    }));
    let Packet::Publish(again) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert!(again.dup);
    assert_eq!(again.packet_id, first.packet_id);
    assert_eq!(again.payload, first.payload);
    conn.send(&Packet::PubAck(PubAck::new(again.packet_id)));
    done.wait(TIMEOUT).unwrap();
}

struct Scram {
    step: u32,
}

impl Authenticator for Scram {
    fn method(&self) -> &'static str {
        "TEST-CHALLENGE"
    }
    fn initial_data(&mut self) -> Option<Bytes> {
        Some(Bytes::from_static(b"hello"))
    }
    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        self.step += 1;
        match data {
            Some(b"prove it") => Ok(Some(Bytes::from_static(b"proof"))),
            other => Err(format!("unexpected challenge {other:?}")),
        }
    }
    fn success(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        if data == Some(b"welcome") {
            Ok(())
        } else {
            Err("bad server proof".into())
        }
    }
}

fn auth(code: AuthReasonCode, data: &'static [u8]) -> Packet {
    Packet::Auth(Auth {
        reason_code: code,
        properties: Properties::new()
            .with(Property::AuthenticationMethod(ByteString::from_static(
                "TEST-CHALLENGE",
            )))
            .with(Property::AuthenticationData(Bytes::from_static(data))),
    })
}

#[test]
fn enhanced_authentication_exchange_and_reauthentication() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.authenticator = Some(Box::new(Scram { step: 0 }));
    let client = Client::new(&broker.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    let connect = conn.expect_connect(TIMEOUT);
    assert_eq!(
        connect
            .properties
            .get_str(PropertyId::AuthenticationMethod)
            .map(|s| &s[..]),
        Some("TEST-CHALLENGE")
    );
    // 4.12: AUTH 0x18 challenge, answered with AUTH 0x18, then CONNACK.
    conn.send(&auth(AuthReasonCode::ContinueAuthentication, b"prove it"));
    let Packet::Auth(answer) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert_eq!(answer.reason_code, AuthReasonCode::ContinueAuthentication);
    assert_eq!(
        answer
            .properties
            .get_binary(PropertyId::AuthenticationData)
            .map(|b| &b[..]),
        Some(&b"proof"[..])
    );
    conn.send(&connack(
        Properties::new()
            .with(Property::AuthenticationMethod(ByteString::from_static(
                "TEST-CHALLENGE",
            )))
            .with(Property::AuthenticationData(Bytes::from_static(b"welcome"))),
    ));
    waiter.wait(TIMEOUT).unwrap();

    // 4.12.1 re-authentication: AUTH 0x19, a challenge round, AUTH 0x00.
    client.reauthenticate().wait(TIMEOUT).unwrap();
    let Packet::Auth(re) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    assert_eq!(re.reason_code, AuthReasonCode::ReAuthenticate);
    conn.send(&auth(AuthReasonCode::ContinueAuthentication, b"prove it"));
    let Packet::Auth(_) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!()
    };
    conn.send(&auth(AuthReasonCode::Success, b"welcome"));
    loop {
        match client.next_event(TIMEOUT).expect("Reauthenticated") {
            ClientEvent::Reauthenticated => break,
            ClientEvent::Connected(_) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn callbacks_may_call_the_api_and_run_off_the_io_thread() {
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, options(), &connack(Properties::new()));
    let echo = client.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    client.set_callback(move |e| {
        if let ClientEvent::Message(m) = e {
            let name = std::thread::current().name().map(str::to_owned);
            // Publishing from inside the callback must not deadlock.
            echo.publish(
                "echo",
                m.payload.clone(),
                QoS::AtMostOnce,
                false,
                Properties::new(),
            )
            .unwrap();
            tx.send(name).unwrap();
        }
    });
    conn.send(&publish("in", QoS::AtLeastOnce, 9, Properties::new()));
    let thread = rx.recv_timeout(TIMEOUT).unwrap().unwrap_or_default();
    assert!(thread.starts_with("midge-dispatch"), "{thread}");
    // The echo and, after the callback returned, the PUBACK.
    let mut seen_echo = false;
    let mut seen_ack = false;
    while !(seen_echo && seen_ack) {
        match conn.recv_packet(TIMEOUT).unwrap() {
            Packet::Publish(p) if p.topic == "echo" => seen_echo = true,
            Packet::PubAck(a) if a.packet_id == 9 => seen_ack = true,
            other => panic!("{other:?}"),
        }
    }
    client.clear_callback();
}

#[test]
fn a_detached_publish_is_sent_and_a_refused_one_reaches_the_caller() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.log_level = midge::runtime::LogLevel::Warn;
    let (client, mut conn) = connected(
        &broker,
        opts,
        &connack(Properties::new().with(Property::MaximumQos(QoS::AtMostOnce))),
    );
    client.publish_detached(request(QoS::AtMostOnce)).unwrap();
    let Packet::Publish(p) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!("expected the PUBLISH")
    };
    assert_eq!(&p.payload[..], b"x");
    // Above the server's Maximum QoS [MQTT-3.2.2-11]: nothing is sent, and the refusal
    // reaches the caller exactly once: returned (the I/O thread was idle, so the command ran
    // on this thread), or else as a failed PublishComplete event.
    match client.publish_detached(request(QoS::AtLeastOnce)) {
        Err(midge::Error::Request(RequestError::QosNotSupported { .. })) => {}
        Err(e) => panic!("unexpected refusal {e:?}"),
        Ok(()) => expect_failed_publish(&client),
    }
    assert!(
        conn.recv_packet(Duration::from_millis(200)).is_err(),
        "nothing sent"
    );
    // The refusal was reported once: no (further) PublishComplete.
    while let Some(e) = client.next_event(Duration::from_millis(100)) {
        assert!(
            matches!(e, ClientEvent::Log { .. } | ClientEvent::Connected(_)),
            "{e:?}"
        );
    }
}

fn request(qos: QoS) -> midge::protocol::PublishRequest {
    midge::protocol::PublishRequest {
        topic: ByteString::from_static("d/t"),
        payload: midge::codec::Bytes::from_static(b"x"),
        qos,
        retain: false,
        properties: Properties::new(),
        ..Default::default()
    }
}

fn expect_failed_publish(client: &Client) {
    loop {
        match next_interesting(client) {
            ClientEvent::PublishComplete {
                result: Err(RequestError::QosNotSupported { .. }),
                ..
            } => return,
            ClientEvent::Log { .. } => {}
            other => panic!("expected a failed PublishComplete, got {other:?}"),
        }
    }
}

/// A detached publish whose refusal cannot be known when the call returns (made on the I/O
/// thread, from an inline callback, where the command waits for the thread) is reported as
/// a failed `PublishComplete` event, with completion events off, to the pull queue since the
/// callback does not take it: one path, no loss.
#[test]
fn a_refusal_known_only_later_is_an_event() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.inline_callbacks = true;
    let (client, mut conn) = connected(
        &broker,
        opts,
        &connack(Properties::new().with(Property::MaximumQos(QoS::AtMostOnce))),
    );
    let returned = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let (c, r) = (client.clone(), std::sync::Arc::clone(&returned));
    client.set_partial_callback(move |e| {
        if !matches!(e, ClientEvent::Message(_)) {
            return false;
        }
        r.lock().push(c.publish_detached(request(QoS::AtLeastOnce)));
        true
    });
    conn.send(&publish_packet(
        "in",
        QoS::AtMostOnce,
        0,
        Bytes::from_static(b"go"),
        Properties::new(),
    ));
    expect_failed_publish(&client);
    let returned = returned.lock();
    assert_eq!(returned.len(), 1);
    assert!(
        returned[0].is_ok(),
        "not known on the I/O thread: {returned:?}"
    );
}

/// With automatic reconnection off, a connection the server drops is reported (the event
/// used to wait, undelivered, for something else to wake the client): to the callback that
/// takes it, and to the pull queue when no callback does.
#[test]
fn a_lost_connection_is_reported_without_reconnect() {
    let broker = FakeBroker::start();
    let (client, conn) = connected(&broker, options(), &connack(Properties::new()));
    conn.close();
    match next_interesting(&client) {
        ClientEvent::ConnectionLost(DisconnectCause::Transport { .. }) => {}
        other => panic!("expected ConnectionLost, got {other:?}"),
    }
    // A refused TCP connect, likewise: the listener is gone.
    let url = broker.url();
    drop(broker);
    let refused = Client::new(&url, options()).unwrap();
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let l = std::sync::Arc::clone(&lost);
    refused.set_partial_callback(move |e| {
        let taken = matches!(e, ClientEvent::ConnectionLost(_));
        l.fetch_or(taken, std::sync::atomic::Ordering::SeqCst);
        taken
    });
    assert!(refused.connect().wait(TIMEOUT).is_err());
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !lost.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "ConnectionLost never reached the callback"
        );
        std::thread::yield_now();
    }
}

/// Backpressure must not cost the connection: while reading is paused (the application
/// takes nothing), the server's PINGRESP still has to be seen, or the client would end the
/// connection after 1.5 keep alives. A paused client reads once per keep-alive deadline.
#[test]
fn a_paused_client_keeps_its_connection_alive() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.session.keep_alive = 1;
    opts.event_queue_limit = 1;
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    for id in 1..=3u16 {
        conn.send(&publish_packet(
            "p",
            QoS::AtLeastOnce,
            id,
            Bytes::from_static(b"m"),
            Properties::new(),
        ));
    }
    // Nothing is taken for 3.5 s (over 1.5 keep alives past a PINGREQ); the broker answers
    // each PINGREQ.
    let until = std::time::Instant::now() + Duration::from_millis(3500);
    let mut pings = 0;
    while std::time::Instant::now() < until {
        match conn.recv_packet(Duration::from_millis(100)) {
            Ok(Packet::PingReq) => {
                pings += 1;
                conn.send(&Packet::PingResp);
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => {}
        }
    }
    assert!(pings >= 2, "{pings} PINGREQs");
    let mut messages = 0;
    while let Some(e) = client.next_event(Duration::from_millis(300)) {
        match e {
            ClientEvent::Message(_) => messages += 1,
            ClientEvent::Connected(_) => {}
            other => panic!("the connection must live: {other:?}"),
        }
    }
    assert_eq!(messages, 3);
}

/// A detached disconnect or re-authentication refused on the I/O thread (made from an
/// inline callback, so the command waits for the thread) is an event, with logging off: it used to be only a WARN log line, which nobody reads by
/// default. The disconnect carries a property not allowed in DISCONNECT (3.14.2.2); the
/// re-authentication has no authenticator. The connection goes on.
#[test]
fn a_refused_disconnect_or_reauthentication_is_an_event() {
    let broker = FakeBroker::start();
    let mut opts = options();
    opts.inline_callbacks = true;
    let (client, mut conn) = connected(&broker, opts, &connack(Properties::new()));
    let c = client.clone();
    client.set_partial_callback(move |e| {
        if !matches!(e, ClientEvent::Message(_)) {
            return false;
        }
        let d = c.disconnect_detached(
            DisconnectReasonCode::NormalDisconnection,
            Properties::new().with(Property::ContentType("not in DISCONNECT".into())),
        );
        let r = c.reauthenticate_detached();
        // Not known yet: the I/O thread runs this callback.
        assert!(d.is_ok() && r.is_ok(), "{d:?} {r:?}");
        true
    });
    conn.send(&publish_packet(
        "in",
        QoS::AtMostOnce,
        0,
        Bytes::from_static(b"go"),
        Properties::new(),
    ));
    let (mut disconnect, mut reauthenticate) = (false, false);
    while !(disconnect && reauthenticate) {
        match next_interesting(&client) {
            ClientEvent::DisconnectFailed {
                error: RequestError::InvalidProperties(_),
                ..
            } => disconnect = true,
            ClientEvent::ReauthenticateFailed {
                error: RequestError::NotSupported(_),
                ..
            } => reauthenticate = true,
            ClientEvent::Log { .. } => {}
            other => panic!("expected the refusals as events, got {other:?}"),
        }
    }
    assert!(client.is_connected(), "a refused disconnect ends nothing");
}
