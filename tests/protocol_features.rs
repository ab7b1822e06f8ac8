//! Protocol features through the whole client, against a scripted fake broker and a real
//! Mosquitto: QoS 2's PUBREC reason code, application-chosen topic aliases, connect-time
//! options changed on a live client, and servers that do not speak MQTT.

mod support;

use std::time::Duration;

use midge::Error;
use midge::codec::{
    ByteString, Bytes, DisconnectReasonCode, Packet, Properties, Property, PropertyId, PubComp,
    PubRec, PubRecReasonCode, PubRel, QoS, Will,
};
use midge::protocol::{DisconnectCause, Message, PublishRequest, RequestError};
use midge::runtime::{Client, ClientEvent, ReconnectPolicy};
use support::TIMEOUT;
use support::client_options as options;
use support::fake_broker::{FakeBroker, connack};
use support::mosquitto::Mosquitto;

fn next_message(c: &Client) -> Message {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match c.next_event(left) {
            Some(ClientEvent::Message(m)) => return m,
            Some(_) => {}
            None => panic!("no message within {TIMEOUT:?}"),
        }
    }
}

// ==================================================================== not an MQTT server

/// A server that greets with `greeting` as soon as the TCP connection is up (as NATS and
/// `MySQL` do) or answers the CONNECT with it (as HTTP does): the connect fails with words
/// that say the server is not MQTT.
fn connect_to_a_server_that_says(greeting: &[u8], greets_first: bool) -> String {
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), options("not-mqtt")).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    if greets_first {
        conn.send_raw(greeting);
    } else {
        conn.expect_connect(TIMEOUT);
        conn.send_raw(greeting);
    }
    let err = waiter.wait(TIMEOUT).expect_err("not an MQTT server");
    assert!(
        matches!(&err, Error::Disconnected(cause) if matches!(**cause, DisconnectCause::NotMqtt { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.starts_with("expected CONNACK, got 0x"), "{text}");
    assert!(text.ends_with("is this an MQTT server?"), "{text}");
    assert!(!text.contains("Malformed"), "{text}");
    text
}

#[test]
fn a_nats_server_is_named_as_not_mqtt() {
    let text = connect_to_a_server_that_says(
        b"INFO {\"server_id\":\"NDJ2\",\"version\":\"2.10.1\",\"max_payload\":1048576}\r\n",
        true,
    );
    assert!(text.contains("got 0x49 (\"INFO {"), "{text}");
}

#[test]
fn a_mysql_server_is_named_as_not_mqtt() {
    let mut greeting = vec![0x4a, 0x00, 0x00, 0x00, 0x0a];
    greeting.extend_from_slice(b"8.0.36\0\x08\0\0\0");
    let text = connect_to_a_server_that_says(&greeting, true);
    assert!(text.contains("got 0x4A"), "{text}");
}

#[test]
fn an_http_server_is_named_as_not_mqtt() {
    let text = connect_to_a_server_that_says(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        false,
    );
    assert!(text.contains("got 0x48 (\"HTTP/1.1 400"), "{text}");
}

// ==================================================================== QoS 2 and PUBREC 0x10

#[test]
fn qos2_completion_reports_the_pubrec_reason_code_and_reason_string() {
    // 3.5.2.1: a broker's PUBREC 0x10 (No matching subscribers) with a Reason String; the
    // completion reports both after PUBCOMP (it reported the PUBCOMP's 0x00). Mosquitto
    // 2.0.11 sends PUBREC 0x00 there, so a scripted broker plays it.
    let broker = FakeBroker::start();
    let client = Client::new(&broker.url(), options("pubrec-0x10")).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.accept_session(TIMEOUT);
    waiter.wait(TIMEOUT).unwrap();
    let done = client
        .publish(
            "nobody/listens",
            "x",
            QoS::ExactlyOnce,
            false,
            Properties::new(),
        )
        .unwrap();
    let Ok(Packet::Publish(p)) = conn.recv_packet(TIMEOUT) else {
        panic!("expected the PUBLISH");
    };
    conn.send(&Packet::PubRec(PubRec {
        packet_id: p.packet_id,
        reason_code: PubRecReasonCode::NoMatchingSubscribers,
        properties: Properties::new().with(Property::ReasonString(ByteString::from("nobody"))),
    }));
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubRel(PubRel::new(p.packet_id))
    );
    conn.send(&Packet::PubComp(PubComp::new(p.packet_id)));
    let ack = done.wait(TIMEOUT).unwrap();
    assert_eq!(ack.reason.code(), 0x10, "{ack:?}");
    assert_eq!(
        ack.properties
            .get_str(PropertyId::ReasonString)
            .map(|s| &**s),
        Some("nobody")
    );
}

// ==================================================================== topic aliases

fn aliased(topic: &str, alias: u16, payload: &'static [u8], qos: QoS) -> PublishRequest {
    PublishRequest {
        topic: ByteString::from(topic),
        payload: Bytes::from_static(payload),
        qos,
        topic_alias: Some(alias),
        ..PublishRequest::default()
    }
}

#[test]
fn application_topic_aliases_reach_subscribers_through_mosquitto() {
    // 3.3.2.3.4 against a real broker: bind alias 10 (Mosquitto's default maximum is 10),
    // publish by alias alone at each QoS; the subscriber sees the full topic every time.
    let broker = Mosquitto::start();
    let mut o = options("alias-pub");
    o.session.auto_topic_alias = false;
    let publisher = broker.connected_client(o);
    let subscriber = broker.connected_client(options("alias-sub"));
    subscriber
        .subscribe_and_wait("alias/#", QoS::ExactlyOnce, TIMEOUT)
        .unwrap();
    let max = 10;
    publisher
        .publish_request(aliased(
            "alias/long/topic/name",
            max,
            b"bind",
            QoS::AtLeastOnce,
        ))
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    for (payload, qos) in [
        (&b"q0"[..], QoS::AtMostOnce),
        (b"q1", QoS::AtLeastOnce),
        (b"q2", QoS::ExactlyOnce),
    ] {
        let r = PublishRequest {
            payload: Bytes::copy_from_slice(payload),
            ..aliased("", max, b"", qos)
        };
        publisher.publish_request(r).unwrap().wait(TIMEOUT).unwrap();
    }
    for expected in [&b"bind"[..], b"q0", b"q1", b"q2"] {
        let m = next_message(&subscriber);
        assert_eq!(&*m.topic, "alias/long/topic/name");
        assert_eq!(&m.payload[..], expected);
        assert!(m.properties.get(PropertyId::TopicAlias).is_none());
    }
    // [MQTT-3.3.2-9]: above the server's Topic Alias Maximum: refused, nothing sent.
    let err = publisher
        .publish_request(aliased("alias/x", max + 1, b"no", QoS::AtLeastOnce))
        .unwrap()
        .wait(TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Request(RequestError::TopicAliasInvalid {
                alias: 11,
                maximum: 10
            })
        ),
        "{err:?}"
    );
    // An alias never bound: refused.
    let err = publisher
        .publish_request(aliased("", 3, b"no", QoS::AtLeastOnce))
        .unwrap()
        .wait(TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(err, Error::Request(RequestError::UnknownTopicAlias(3))),
        "{err:?}"
    );
    // The connection is still good (Mosquitto would have closed it for a bad alias).
    publisher
        .publish_request(aliased("", max, b"after", QoS::AtLeastOnce))
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    assert_eq!(&next_message(&subscriber).payload[..], b"after");
}

#[test]
fn a_publish_by_alias_after_a_broker_restart_is_sent_with_its_topic() {
    // [MQTT-3.3.2-7]: the new connection knows no alias; midge sends the topic again.
    let mut broker = Mosquitto::start();
    let mut o = options("alias-restart");
    o.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..ReconnectPolicy::default()
    };
    let publisher = broker.connected_client(o);
    publisher
        .publish_request(aliased("alias/again", 1, b"one", QoS::AtLeastOnce))
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    broker.restart();
    let subscriber = broker.connected_client(options("alias-restart-sub"));
    subscriber
        .subscribe_and_wait("alias/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    // Accepted while (re)connecting; queued if offline, then sent once connected.
    publisher
        .publish_request(aliased("", 1, b"two", QoS::AtLeastOnce))
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    let m = next_message(&subscriber);
    assert_eq!((&*m.topic, &m.payload[..]), ("alias/again", &b"two"[..]));
}

// ==================================================================== connect-time options

fn will(topic: &str, payload: &'static [u8]) -> Will {
    Will {
        topic: ByteString::from(topic),
        payload: Bytes::from_static(payload),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::new(),
    }
}

#[test]
fn credentials_changed_on_a_refused_client_let_the_next_connect_in() {
    // A client refused for its password is given the right one and connects, without a new
    // client (3.1.3.5, 3.1.3.6).
    let broker = Mosquitto::builder().password("alice", "s3cret").start();
    let mut o = options("creds");
    o.session.username = Some(ByteString::from("alice"));
    o.session.password = Some(Bytes::from_static(b"wrong"));
    let c = Client::new(&broker.url(), o).unwrap();
    let err = c.connect_and_wait(TIMEOUT).unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused(_)), "{err:?}");
    c.set_credentials(Some("alice"), Some(b"s3cret")).unwrap();
    c.connect_and_wait(TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log()));
}

#[test]
fn a_will_changed_on_a_live_client_is_the_one_published_after_the_next_connect() {
    let broker = Mosquitto::start();
    let watcher = broker.connected_client(options("will-watch"));
    watcher
        .subscribe_and_wait("wills/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let mut o = options("will-change");
    o.session.will = Some(will("wills/old", b"old"));
    let c = broker.connected_client(o);
    c.set_will(Some(will("wills/new", b"new"))).unwrap();
    // An invalid Will is refused and the last one stays.
    assert!(matches!(
        c.set_will(Some(will("wills/#", b"bad"))),
        Err(Error::Request(RequestError::InvalidTopic(_)))
    ));
    // The live connection keeps the Will it connected with ...
    c.disconnect(
        DisconnectReasonCode::DisconnectWithWillMessage,
        Properties::new(),
    )
    .wait(TIMEOUT)
    .unwrap();
    let m = next_message(&watcher);
    assert_eq!((&*m.topic, &m.payload[..]), ("wills/old", &b"old"[..]));
    // ... and the next connect carries the new one.
    c.connect_and_wait(TIMEOUT).unwrap();
    c.disconnect(
        DisconnectReasonCode::DisconnectWithWillMessage,
        Properties::new(),
    )
    .wait(TIMEOUT)
    .unwrap();
    let m = next_message(&watcher);
    assert_eq!((&*m.topic, &m.payload[..]), ("wills/new", &b"new"[..]));
    // Removed: no Will after the next connect.
    c.set_will(None).unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
    c.disconnect(
        DisconnectReasonCode::DisconnectWithWillMessage,
        Properties::new(),
    )
    .wait(TIMEOUT)
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    while let Some(e) =
        watcher.next_event(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        assert!(!matches!(e, ClientEvent::Message(_)), "unexpected {e:?}");
    }
}

#[test]
fn the_automatic_reconnect_uses_the_changed_will_credentials_and_clean_start() {
    let broker = FakeBroker::start();
    let mut o = options("reconnect-change");
    o.session.session_expiry_interval = 60;
    o.session.username = Some(ByteString::from("old"));
    o.session.will = Some(will("wills/old", b"old"));
    o.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..ReconnectPolicy::default()
    };
    let client = Client::new(&broker.url(), o).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    let first = conn.expect_connect(TIMEOUT);
    assert_eq!(first.username.as_deref(), Some("old"));
    conn.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();

    client.set_will(Some(will("wills/new", b"new"))).unwrap();
    client.set_credentials(Some("new"), Some(b"pass")).unwrap();
    client.set_clean_start(true).unwrap();
    conn.close();

    // The reconnection (a resumable session would ask Clean Start 0).
    let mut conn = broker.accept(TIMEOUT).unwrap();
    let second = conn.expect_connect(TIMEOUT);
    assert!(second.clean_start);
    assert_eq!(second.will, Some(will("wills/new", b"new")));
    assert_eq!(second.username.as_deref(), Some("new"));
    assert_eq!(second.password.as_deref(), Some(&b"pass"[..]));
    conn.send(&connack(Properties::new()));
    conn.close();

    // The Clean Start override was for one connection; the rest stays.
    let mut conn = broker.accept(TIMEOUT).unwrap();
    let third = conn.expect_connect(TIMEOUT);
    assert!(!third.clean_start);
    assert_eq!(third.username.as_deref(), Some("new"));
    client.close().wait(TIMEOUT).unwrap();
}
