//! The runtime speaking MQTT 3.1.1, and falling back to it, against the scripted fake broker:
//! each form in which a server refuses 5.0 (CONNACK 0x84, a 3.1.1 CONNACK with return code
//! 0x01, a close with no answer), the fallback within the same connect, and the version
//! remembered for reconnections. Normative statement numbers are those of MQTT 3.1.1
//! unless they say 5.0.

mod support;

use std::time::Duration;

use midge::Error;
use midge::codec::{
    ConnAck, ConnectReasonCode, Packet, Properties, Property, ProtocolVersion, PubAck, QoS,
};
use midge::protocol::{RequestError, VersionChoice};
use midge::runtime::{Client, ClientEvent, ClientOptions, ReconnectPolicy};
use support::TIMEOUT;
use support::fake_broker::{FakeBroker, FakeConn, connack};

fn options(choice: VersionChoice) -> ClientOptions {
    let mut opts = support::client_options("v311-test");
    opts.session.protocol_version = choice;
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..ReconnectPolicy::default()
    };
    opts
}

/// The next event that is not a reconnect notice.
fn next_event(client: &Client) -> ClientEvent {
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Reconnecting { .. } => {}
            e => return e,
        }
    }
}

fn expect_connected(client: &Client, version: ProtocolVersion) {
    match next_event(client) {
        ClientEvent::Connected(info) => assert_eq!(info.protocol_version, version),
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// The broker's next connection speaks 3.1.1: its CONNECT must be level 4 (the 3.1.1
/// decoder refuses any other [MQTT-3.1.2-2]); it is accepted.
fn accept_v311(broker: &FakeBroker) -> FakeConn {
    let mut conn = broker.accept(TIMEOUT).expect("a connection");
    conn.set_version(ProtocolVersion::V311);
    let connect = conn.expect_connect(TIMEOUT);
    assert!(connect.properties.is_empty());
    conn.send(&connack(Properties::new()));
    conn
}

/// A client that may fall back connects; the broker's first connection gets the 5.0
/// CONNECT and `refuse` answers it. The same connect then completes in 3.1.1, with no
/// `ConnectionLost` for the refused attempt; messages flow in 3.1.1; and after the broker
/// drops the connection, the reconnection speaks 3.1.1 at once.
fn falls_back_and_remembers(refuse: impl FnOnce(FakeConn)) {
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), options(VersionChoice::V5OrV311)).unwrap();
    assert_eq!(client.protocol_version(), None, "no CONNACK yet");
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    // The fake broker decodes 5.0 here: this is a level-5 CONNECT.
    conn.expect_connect(TIMEOUT);
    refuse(conn);

    let mut conn = accept_v311(&broker);
    let info = waiter
        .wait(TIMEOUT)
        .expect("the connect completes in 3.1.1");
    assert_eq!(info.protocol_version, ProtocolVersion::V311);
    assert_eq!(client.protocol_version(), Some(ProtocolVersion::V311));
    expect_connected(&client, ProtocolVersion::V311);

    // A QoS 1 publish in 3.1.1 form: no properties; PUBACK without a reason code.
    let done = client
        .publish(
            "t/v311",
            "hello",
            QoS::AtLeastOnce,
            false,
            Properties::new(),
        )
        .unwrap();
    let Packet::Publish(p) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!("PUBLISH");
    };
    assert!(p.properties.is_empty());
    conn.send(&Packet::PubAck(PubAck::new(p.packet_id)));
    done.wait(TIMEOUT).expect("PUBACK");

    // Remembered: the reconnection is 3.1.1 at once.
    conn.close();
    assert!(matches!(
        next_event(&client),
        ClientEvent::ConnectionLost(_)
    ));
    let _conn = accept_v311(&broker);
    expect_connected(&client, ProtocolVersion::V311);
    client.close_and_join();
}

#[test]
fn fallback_on_connack_0x84_unsupported_protocol_version() {
    // 5.0 [MQTT-3.1.2-2]: a server that does not speak the level MAY answer 0x84.
    falls_back_and_remembers(|mut conn| {
        conn.send(&Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::UnsupportedProtocolVersion,
            properties: Properties::new(),
        }));
        conn.expect_closed(TIMEOUT);
    });
}

#[test]
fn fallback_on_a_3_1_1_connack_return_code_1() {
    // 3.1.1 [MQTT-3.1.2-2]: return code 0x01, then the server closes the connection.
    falls_back_and_remembers(|mut conn| {
        conn.send_raw(&[0x20, 0x02, 0x00, 0x01]);
        conn.close();
    });
}

#[test]
fn fallback_when_the_server_closes_on_the_5_0_connect() {
    falls_back_and_remembers(FakeConn::close);
}

#[test]
fn the_fallback_is_part_of_the_connect_even_without_reconnection() {
    let broker = FakeBroker::start();
    let mut opts = options(VersionChoice::V5OrV311);
    opts.reconnect = ReconnectPolicy::disabled();
    let client = Client::new(&broker.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send_raw(&[0x20, 0x02, 0x00, 0x01]);
    let _conn = accept_v311(&broker);
    let info = waiter.wait(TIMEOUT).expect("connected in 3.1.1");
    assert_eq!(info.protocol_version, ProtocolVersion::V311);
    client.close_and_join();
}

#[test]
fn without_the_fallback_0x84_is_a_permanent_refusal() {
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), options(VersionChoice::V5)).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(&Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::UnsupportedProtocolVersion,
        properties: Properties::new(),
    }));
    match waiter.wait(TIMEOUT) {
        Err(Error::ConnectionRefused(r)) => {
            assert_eq!(r.reason_code, ConnectReasonCode::UnsupportedProtocolVersion);
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
    // No second attempt (with 3.1.1 or otherwise).
    assert!(broker.accept(Duration::from_millis(300)).is_err());
    client.close_and_join();
}

#[test]
fn a_3_1_1_client_refuses_what_3_1_1_cannot_carry_at_the_call() {
    let broker = FakeBroker::start();
    let mut opts = options(VersionChoice::V311);
    opts.session.user_properties = vec![("k".into(), "v".into())];
    match Client::new(&broker.url(), opts) {
        Err(Error::Request(RequestError::NotInV311(what))) => {
            assert!(what.contains("User Properties"), "{what}");
        }
        other => panic!("expected NotInV311, got {other:?}"),
    }
    let client = Client::new(&broker.url(), options(VersionChoice::V311)).unwrap();
    let e = client
        .publish(
            "t",
            "x",
            QoS::AtMostOnce,
            false,
            Properties::new().with(Property::ContentType("text/plain".into())),
        )
        .expect_err("refused at the call");
    assert!(
        matches!(e, Error::Request(RequestError::NotInV311(_))),
        "{e:?}"
    );
    let mut no_local = support::sub("t", QoS::AtMostOnce);
    no_local.options.no_local = true;
    let e = client
        .subscribe(vec![no_local], Properties::new())
        .expect_err("refused at the call");
    assert!(
        matches!(e, Error::Request(RequestError::NotInV311(_))),
        "{e:?}"
    );
    client.close_and_join();
}

#[test]
fn suback_0x80_and_inbound_qos_2_through_the_runtime() {
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), options(VersionChoice::V311)).unwrap();
    let waiter = client.connect();
    let mut conn = accept_v311(&broker);
    waiter.wait(TIMEOUT).unwrap();
    let done = client
        .subscribe(
            vec![
                support::sub("ok/#", QoS::AtLeastOnce),
                support::sub("denied/#", QoS::AtLeastOnce),
            ],
            Properties::new(),
        )
        .unwrap();
    let Packet::Subscribe(s) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!("SUBSCRIBE");
    };
    // [MQTT-3.9.3-2] 0x80 is Failure.
    let [hi, lo] = s.packet_id.to_be_bytes();
    conn.send_raw(&[0x90, 0x04, hi, lo, 0x01, 0x80]);
    let ack = done.wait(TIMEOUT).unwrap();
    assert_eq!(
        ack.reason_codes,
        vec![
            midge::codec::SubAckReasonCode::GrantedQos1,
            midge::codec::SubAckReasonCode::UnspecifiedError
        ]
    );
    // QoS 2 from the server: PUBREC, PUBREL, PUBCOMP in 3.1.1 form [MQTT-4.3.3-2].
    conn.send(&support::fake_broker::publish_packet(
        "ok/1",
        QoS::ExactlyOnce,
        7,
        midge::codec::Bytes::from_static(b"two"),
        Properties::new(),
    ));
    match next_event(&client) {
        ClientEvent::Connected(_) => match next_event(&client) {
            ClientEvent::Message(m) => assert_eq!(m.payload, "two".as_bytes()),
            other => panic!("{other:?}"),
        },
        ClientEvent::Message(m) => assert_eq!(m.payload, "two".as_bytes()),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubRec(midge::codec::PubRec::new(7))
    );
    conn.send(&Packet::PubRel(midge::codec::PubRel::new(7)));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubComp(midge::codec::PubComp::new(7))
    );
    client.close_and_join();
}
