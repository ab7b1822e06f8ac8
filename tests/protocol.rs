//! The client session (`midge::protocol`) in scripted conversations on a virtual clock.
//!
//! Each test plays the server by hand: it decodes every byte the session transmitted into
//! packets, answers with packets it encodes itself, and moves a virtual clock that the
//! session never reads on its own. Every conversation asserts the exact packets and events
//! and names the normative statement of OASIS MQTT 5.0 it checks.

// Scripted conversations read top to bottom; splitting them would hide the script.
#![allow(clippy::too_many_lines)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use midge::codec::CodecError;
use midge::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, ConnAck, Connect, ConnectReasonCode, Decoder,
    Disconnect, DisconnectReasonCode, Packet, Properties, Property, PropertyContext, PropertyId,
    PubAck, PubAckReasonCode, PubComp, PubCompReasonCode, PubRec, PubRecReasonCode, PubRel,
    Publish, QoS, SubAck, SubAckReasonCode, Subscribe, Subscription, SubscriptionOptions,
    TopicError, UnsubAck, UnsubAckReasonCode, Unsubscribe, Will,
};
use midge::protocol::{
    AckReason, Authenticator, ConnAckInfo, ConnectRefusal, DisconnectCause, Event, Message,
    Options, PublishAck, PublishRequest, QueueLimits, RequestError, RequestId, Session, State,
    SubscribeAck, UnsubscribeAck,
};

// ==================================================================== harness

/// One client session and the virtual clock it is driven with.
struct Sim {
    t0: Instant,
    now: Instant,
    session: Session,
}

impl Sim {
    fn new(opts: Options) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            now: t0,
            session: Session::new(opts, t0),
        }
    }

    /// `t0 + secs` on the virtual clock.
    fn time(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    /// Moves the virtual clock to `t0 + secs`.
    fn at(&mut self, secs: u64) {
        self.now = self.time(secs);
    }

    /// The server side: everything the client transmitted since the last call, decoded.
    fn sent(&mut self) -> Vec<Packet> {
        let mut bytes = Vec::new();
        self.session.take_transmit(&mut bytes);
        decode_all(&bytes)
    }

    /// The server sends `packet`.
    fn deliver(&mut self, packet: impl Into<Packet>) {
        let mut bytes = Vec::new();
        packet
            .into()
            .encode(&mut bytes)
            .expect("the server's packet encodes");
        self.session.handle_read(&bytes, self.now);
    }

    /// The server sends raw bytes, well-formed or not.
    fn deliver_raw(&mut self, bytes: &[u8]) {
        self.session.handle_read(bytes, self.now);
    }

    /// Every event the session has for the application (`drain_events`).
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// The transport is up: returns the CONNECT, which must be the only packet sent
    /// [MQTT-3.1.0-1].
    fn open(&mut self) -> Connect {
        self.session.connection_opened(self.now);
        let sent = self.sent();
        match sent.as_slice() {
            [Packet::Connect(c)] => (**c).clone(),
            other => panic!("expected exactly one CONNECT, got {other:?}"),
        }
    }

    /// `connection_opened` and the server's CONNACK; the first event must be `Connected`.
    /// Later events and the packets sent after CONNACK are left for the test.
    fn connect(&mut self, ack: ConnAck) -> ConnAckInfo {
        self.open();
        self.deliver(ack);
        match self.session.poll_event() {
            Some(Event::Connected(info)) => *info,
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    /// The transport fails underneath.
    fn lose_connection(&mut self) {
        self.session.connection_closed(transport_failure());
        assert_eq!(
            self.events(),
            vec![Event::Disconnected(transport_failure())]
        );
        assert_eq!(self.session.state(), State::Disconnected);
        assert!(!self.session.poll_close());
    }

    fn publish(&mut self, request: PublishRequest) -> RequestId {
        self.session
            .publish(request, self.now)
            .expect("publish accepted")
    }

    fn subscribe(&mut self, subscriptions: Vec<Subscription>) -> RequestId {
        self.session
            .subscribe(subscriptions, Properties::new(), self.now)
            .expect("subscribe accepted")
    }

    /// The application acknowledges; then, as the runtime does, decoding goes on if that
    /// freed input the application held.
    fn acknowledge(&mut self, message: &Message) {
        let token = message
            .ack
            .expect("QoS 1 and 2 messages carry an ack token");
        self.session.acknowledge(token, self.now);
        self.session.resume_input(self.now);
    }

    /// Nothing was sent, nothing happened, nothing was queued: a refused request.
    fn assert_quiet(&mut self) {
        assert_eq!(self.sent(), vec![]);
        assert_eq!(self.events(), vec![]);
    }
}

/// A session connected with a CONNACK carrying `properties`; connecting left nothing behind.
fn connected(opts: Options, properties: Properties) -> Sim {
    let mut sim = Sim::new(opts);
    sim.connect(connack(properties));
    sim.assert_quiet();
    sim
}

fn decode_all(bytes: &[u8]) -> Vec<Packet> {
    let mut decoder = Decoder::new();
    decoder.feed(bytes);
    let mut packets = Vec::new();
    while let Some(p) = decoder
        .next_packet()
        .expect("the client only sends well-formed packets")
    {
        packets.push(p);
    }
    assert_eq!(
        decoder.buffered(),
        0,
        "a partial packet in the transmit buffer"
    );
    packets
}

fn opts() -> Options {
    Options {
        client_id: b("midge-test"),
        ..Options::default()
    }
}

/// Options whose session outlives the connection, so reconnections ask to resume it.
fn resumable() -> Options {
    Options {
        session_expiry_interval: 60,
        ..opts()
    }
}

fn b(s: &'static str) -> ByteString {
    ByteString::from_static(s)
}

fn bytes(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

fn props<const N: usize>(items: [Property; N]) -> Properties {
    items.into_iter().fold(Properties::new(), Properties::with)
}

fn connack(properties: Properties) -> ConnAck {
    ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::Success,
        properties,
    }
}

fn connack_resumed(properties: Properties) -> ConnAck {
    ConnAck {
        session_present: true,
        ..connack(properties)
    }
}

fn request(topic: &'static str, qos: QoS, payload: &'static [u8]) -> PublishRequest {
    PublishRequest {
        topic: b(topic),
        payload: bytes(payload),
        qos,
        ..PublishRequest::default()
    }
}

fn publish(topic: &'static str, qos: QoS, packet_id: u16, payload: &'static [u8]) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: b(topic),
        packet_id,
        properties: Properties::new(),
        payload: bytes(payload),
    }
}

fn sub(filter: &'static str, qos: QoS) -> Subscription {
    Subscription {
        filter: b(filter),
        options: SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        },
    }
}

fn transport_failure() -> DisconnectCause {
    DisconnectCause::Transport {
        detail: "connection reset".into(),
        errno: None,
    }
}

/// The only packet sent must be a PUBLISH; returns it.
fn one_publish(sent: &[Packet]) -> Publish {
    match sent {
        [Packet::Publish(p)] => p.clone(),
        other => panic!("expected one PUBLISH, got {other:?}"),
    }
}

/// Every packet sent must be a PUBLISH; returns them in order.
fn publishes(sent: &[Packet]) -> Vec<Publish> {
    sent.iter()
        .map(|p| match p {
            Packet::Publish(p) => p.clone(),
            other => panic!("expected only PUBLISH packets, got {other:?}"),
        })
        .collect()
}

/// The only packet sent must be a DISCONNECT; returns its reason code.
fn disconnect_code(sent: &[Packet]) -> DisconnectReasonCode {
    match sent {
        [Packet::Disconnect(d)] => d.reason_code,
        other => panic!("expected one DISCONNECT, got {other:?}"),
    }
}

/// The events must be exactly one `Disconnected(ProtocolError)` with `code`.
fn assert_protocol_error(events: &[Event], code: DisconnectReasonCode) {
    assert!(
        matches!(
            events,
            [Event::Disconnected(DisconnectCause::ProtocolError { reason_code, .. })]
                if *reason_code == code
        ),
        "expected Disconnected(ProtocolError {{ {code:?} }}), got {events:?}"
    );
}

/// The session detected a protocol violation: one DISCONNECT with `code` went out, the event
/// says so, and the runtime is told to close the connection.
fn assert_closed_with(sim: &mut Sim, code: DisconnectReasonCode) {
    assert_eq!(disconnect_code(&sim.sent()), code);
    assert_protocol_error(&sim.events(), code);
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
}

/// The events must be messages; returns them in order.
fn messages(events: Vec<Event>) -> Vec<Message> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m,
            other => panic!("expected only messages, got {other:?}"),
        })
        .collect()
}

fn published(id: RequestId, packet_id: u16, reason: AckReason) -> Event {
    Event::PublishComplete {
        id,
        result: Ok(PublishAck {
            packet_id,
            reason,
            properties: Properties::new(),
        }),
    }
}

fn written(id: RequestId) -> Event {
    published(id, 0, AckReason::Written)
}

fn publish_failed(id: RequestId, error: RequestError) -> Event {
    Event::PublishComplete {
        id,
        result: Err(error),
    }
}

fn pubrec(packet_id: u16, reason_code: PubRecReasonCode) -> PubRec {
    PubRec {
        packet_id,
        reason_code,
        properties: Properties::new(),
    }
}

/// Compares property lists as multisets; User Properties must also keep their order.
fn assert_same_properties(actual: &Properties, expected: &[Property]) {
    let mut a: Vec<String> = actual.iter().map(|p| format!("{p:?}")).collect();
    let mut e: Vec<String> = expected.iter().map(|p| format!("{p:?}")).collect();
    a.sort();
    e.sort();
    assert_eq!(a, e);
    let actual_user: Vec<(&str, &str)> = actual.user_properties().collect();
    let expected_user: Vec<(&str, &str)> = expected
        .iter()
        .filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((&**k, &**v)),
            _ => None,
        })
        .collect();
    assert_eq!(actual_user, expected_user);
}

// ==================================================================== CONNECT / CONNACK

#[test]
fn connect_carries_every_option() {
    // 3.1.2 and 3.1.3: each option has its field. A Password without a User Name is allowed
    // in MQTT 5 (3.1.2.9); the flags must say so [MQTT-3.1.2-18] [MQTT-3.1.2-21].
    let will = Will {
        topic: b("status/c1"),
        payload: bytes(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: props([Property::WillDelayInterval(5)]),
    };
    let mut sim = Sim::new(Options {
        client_id: b("c1"),
        clean_start: false,
        keep_alive: 30,
        session_expiry_interval: 120,
        receive_maximum: 10,
        maximum_packet_size: Some(4096),
        topic_alias_maximum: 5,
        request_response_information: true,
        request_problem_information: false,
        user_properties: vec![(b("app"), b("midge")), (b("build"), b("test"))],
        will: Some(will.clone()),
        username: None,
        password: Some(bytes(b"secret")),
        ..Options::default()
    });
    let connect = sim.open();
    assert_eq!(
        Connect {
            properties: Properties::new(),
            ..connect.clone()
        },
        Connect {
            clean_start: false,
            keep_alive: 30,
            properties: Properties::new(),
            client_id: b("c1"),
            will: Some(will),
            username: None,
            password: Some(bytes(b"secret")),
        }
    );
    assert_same_properties(
        &connect.properties,
        &[
            Property::SessionExpiryInterval(120),
            Property::ReceiveMaximum(10),
            Property::MaximumPacketSize(4096),
            Property::TopicAliasMaximum(5),
            Property::RequestResponseInformation(true),
            Property::RequestProblemInformation(false),
            Property::UserProperty(b("app"), b("midge")),
            Property::UserProperty(b("build"), b("test")),
        ],
    );
    assert_eq!(sim.session.state(), State::Connecting);
}

#[test]
fn connect_with_defaults_and_user_name() {
    // Defaults: Clean Start 1, Keep Alive 60, no Session Expiry (absent means 0: 3.1.2.11.2),
    // Receive Maximum 65,535 (absent means 65,535: 3.1.2.11.3), Topic Alias Maximum 16, and
    // the Maximum Packet Size of the default memory budget, a quarter of 16 MiB: the server
    // must not send more [MQTT-3.1.2-24].
    let mut sim = Sim::new(Options {
        username: Some(b("alice")),
        password: Some(bytes(b"pw")),
        ..opts()
    });
    let connect = sim.open();
    assert_eq!(
        connect,
        Connect {
            clean_start: true,
            keep_alive: 60,
            properties: props([
                Property::MaximumPacketSize(4 * 1024 * 1024),
                Property::TopicAliasMaximum(16),
            ]),
            client_id: b("midge-test"),
            will: None,
            username: Some(b("alice")),
            password: Some(bytes(b"pw")),
        }
    );
}

#[test]
fn connack_properties_surface_in_connected() {
    // 3.2.2.3: every CONNACK property reaches the application, absent ones with their
    // defaults; the Server Keep Alive replaces ours [MQTT-3.2.2-21].
    let mut sim = Sim::new(Options {
        client_id: ByteString::new(),
        request_response_information: true,
        ..opts()
    });
    let properties = props([
        Property::SessionExpiryInterval(300),
        Property::ReceiveMaximum(20),
        Property::MaximumQos(QoS::AtLeastOnce),
        Property::RetainAvailable(false),
        Property::MaximumPacketSize(2048),
        Property::AssignedClientIdentifier(b("srv-42")),
        Property::TopicAliasMaximum(4),
        Property::ReasonString(b("welcome")),
        Property::UserProperty(b("region"), b("eu")),
        Property::WildcardSubscriptionAvailable(false),
        Property::SubscriptionIdentifierAvailable(false),
        Property::SharedSubscriptionAvailable(false),
        Property::ServerKeepAlive(25),
        Property::ResponseInformation(b("resp/")),
        Property::ServerReference(b("other.example:1883")),
    ]);
    let info = sim.connect(connack(properties.clone()));
    assert_eq!(
        info,
        ConnAckInfo {
            protocol_version: midge::codec::ProtocolVersion::V5,
            session_present: false,
            assigned_client_id: Some(b("srv-42")),
            keep_alive: 25,
            server_keep_alive: Some(25),
            session_expiry_interval: Some(300),
            receive_maximum: 20,
            maximum_qos: QoS::AtLeastOnce,
            retain_available: false,
            maximum_packet_size: Some(2048),
            topic_alias_maximum: 4,
            wildcard_subscription_available: false,
            subscription_identifiers_available: false,
            shared_subscription_available: false,
            reason_string: Some(b("welcome")),
            server_reference: Some(b("other.example:1883")),
            response_information: Some(b("resp/")),
            authentication_method: None,
            authentication_data: None,
            properties,
            server: None,
        }
    );
    sim.assert_quiet();
    assert_eq!(sim.session.state(), State::Connected);
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(25)));
}

#[test]
fn connack_without_properties_gives_the_defaults() {
    // 3.2.2.3: absent properties mean Receive Maximum 65,535, Maximum QoS 2, Retain,
    // wildcard, subscription identifier and shared subscriptions available, no aliases.
    let mut sim = Sim::new(Options {
        keep_alive: 45,
        ..opts()
    });
    let info = sim.connect(connack(Properties::new()));
    assert_eq!(
        info,
        ConnAckInfo {
            protocol_version: midge::codec::ProtocolVersion::V5,
            session_present: false,
            assigned_client_id: None,
            keep_alive: 45,
            server_keep_alive: None,
            session_expiry_interval: None,
            receive_maximum: 65_535,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            wildcard_subscription_available: true,
            subscription_identifiers_available: true,
            shared_subscription_available: true,
            reason_string: None,
            server_reference: None,
            response_information: None,
            authentication_method: None,
            authentication_data: None,
            properties: Properties::new(),
            server: None,
        }
    );
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(45)));
}

#[test]
fn assigned_client_identifier_is_used_on_reconnect() {
    // 3.2.2.3.7 and [MQTT-3.1.3-2]: the Client Identifier names the session; once the server
    // assigned one, the next CONNECT must present it rather than ask for a new one.
    let mut sim = Sim::new(Options {
        client_id: ByteString::new(),
        ..opts()
    });
    let first = sim.open();
    assert_eq!(first.client_id, "");
    sim.deliver(connack(props([Property::AssignedClientIdentifier(b(
        "srv-7",
    ))])));
    assert!(matches!(
        sim.events().as_slice(),
        [Event::Connected(info)] if info.assigned_client_id == Some(b("srv-7"))
    ));
    sim.lose_connection();
    let second = sim.open();
    assert_eq!(second.client_id, "srv-7");
    // No Session Expiry Interval: the session ended with the connection, so Clean Start 1.
    assert!(second.clean_start);
}

#[test]
fn refused_connack_reports_reason_code_and_string() {
    // 3.2.2.2 and [MQTT-3.2.2-7]: a CONNACK of 0x80 or above ends the connection; the
    // application learns the code, the Reason String and the Server Reference.
    let mut sim = Sim::new(opts());
    sim.open();
    let properties = props([
        Property::ReasonString(b("bad credentials")),
        Property::ServerReference(b("backup:1883")),
    ]);
    sim.deliver(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::BadUserNameOrPassword,
        properties: properties.clone(),
    });
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected(DisconnectCause::Refused(
            ConnectRefusal {
                reason_code: ConnectReasonCode::BadUserNameOrPassword,
                reason_string: Some(b("bad credentials")),
                server_reference: Some(b("backup:1883")),
                properties,
            }
        ))]
    );
    assert_eq!(sim.sent(), vec![]);
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn session_present_after_clean_start_is_a_protocol_error() {
    // [MQTT-3.2.2-4]: a client without session state that receives Session Present 1 must
    // close the connection (DISCONNECT 0x82, 4.13).
    let mut sim = Sim::new(opts());
    assert!(sim.open().clean_start);
    sim.deliver(connack_resumed(Properties::new()));
    assert_closed_with(&mut sim, DisconnectReasonCode::ProtocolError);
}

#[test]
fn packets_before_connack_are_a_protocol_error() {
    // [MQTT-3.2.0-1]: the server sends CONNACK before any packet other than AUTH.
    let mut sim = Sim::new(opts());
    sim.open();
    sim.deliver(publish("a", QoS::AtMostOnce, 0, b"early"));
    // DISCONNECT 0x82, and a cause that says a CONNACK was expected.
    assert_eq!(
        disconnect_code(&sim.sent()),
        DisconnectReasonCode::ProtocolError
    );
    let events = sim.events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Disconnected(DisconnectCause::NotMqtt { received })] if received[0] == 0x30
        ),
        "{events:?}"
    );
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
}

// ==================================================================== keep alive, timeouts

#[test]
fn server_keep_alive_replaces_ours_and_drives_pingreq() {
    // [MQTT-3.2.2-21]: the Server Keep Alive replaces the Keep Alive we sent, so the
    // PINGREQ of [MQTT-3.1.2-20] is due 10 s after the last packet, not 60 s.
    let mut sim = Sim::new(Options {
        keep_alive: 60,
        ..opts()
    });
    assert_eq!(sim.open().keep_alive, 60);
    sim.deliver(connack(props([Property::ServerKeepAlive(10)])));
    assert!(matches!(
        sim.events().as_slice(),
        [Event::Connected(info)] if info.keep_alive == 10 && info.server_keep_alive == Some(10)
    ));
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(10)));
    sim.at(9);
    sim.session.handle_timeout(sim.now);
    sim.assert_quiet();
    sim.at(10);
    sim.session.handle_timeout(sim.now);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
    assert_eq!(sim.events(), vec![]);
}

#[test]
fn keep_alive_pingreq_pingresp_cycle() {
    // [MQTT-3.1.2-20]: a PINGREQ when no other packet was sent within the keep alive; the
    // deadline follows the last activity.
    let mut sim = connected(
        Options {
            keep_alive: 10,
            ..opts()
        },
        Properties::new(),
    );
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(10)));

    // Traffic both ways at 6 s moves the deadline to 16 s.
    sim.at(6);
    sim.publish(request("t", QoS::AtLeastOnce, b"x"));
    let p = one_publish(&sim.sent());
    sim.deliver(PubAck::new(p.packet_id));
    assert_eq!(sim.events().len(), 1);
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(16)));
    sim.at(15);
    sim.session.handle_timeout(sim.now);
    sim.assert_quiet();

    sim.at(16);
    sim.session.handle_timeout(sim.now);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
    // Waiting for PINGRESP: the next deadline is the 1.5 x keep alive limit.
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(21)));

    sim.at(17);
    sim.deliver(Packet::PingResp);
    sim.assert_quiet();
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(26)));
    sim.at(26);
    sim.session.handle_timeout(sim.now);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.session.state(), State::Connected);
}

#[test]
fn keep_alive_timeout_when_the_server_is_silent() {
    // 3.1.2.10: without a PINGRESP within a reasonable time the client closes the
    // connection; midge allows 1.5 x keep alive of silence, as the server does
    // [MQTT-3.1.2-22].
    let mut sim = connected(
        Options {
            keep_alive: 10,
            ..opts()
        },
        Properties::new(),
    );
    sim.at(10);
    sim.session.handle_timeout(sim.now);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(15)));
    sim.at(14);
    sim.session.handle_timeout(sim.now);
    sim.assert_quiet();
    assert!(!sim.session.poll_close());

    sim.at(15);
    sim.session.handle_timeout(sim.now);
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected(DisconnectCause::KeepAliveTimeout)]
    );
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn keep_alive_zero_turns_it_off() {
    // 3.1.2.10: Keep Alive 0 turns the mechanism off.
    let mut sim = connected(
        Options {
            keep_alive: 0,
            ..opts()
        },
        Properties::new(),
    );
    assert_eq!(sim.session.poll_timeout(), None);
    sim.at(100_000);
    sim.session.handle_timeout(sim.now);
    sim.assert_quiet();
}

#[test]
fn connect_timeout_without_connack() {
    // No CONNACK within the connect timeout: the attempt fails with ConnectTimeout.
    let mut sim = Sim::new(Options {
        connect_timeout: Duration::from_secs(5),
        ..opts()
    });
    sim.open();
    assert_eq!(sim.session.poll_timeout(), Some(sim.time(5)));
    sim.at(4);
    sim.session.handle_timeout(sim.now);
    sim.assert_quiet();
    sim.at(5);
    sim.session.handle_timeout(sim.now);
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected(DisconnectCause::ConnectTimeout)]
    );
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
}

// ==================================================================== refused requests

#[test]
fn publish_above_server_maximum_qos_is_refused() {
    // [MQTT-3.2.2-11]: no PUBLISH above the server's Maximum QoS.
    let mut sim = connected(opts(), props([Property::MaximumQos(QoS::AtLeastOnce)]));
    assert_eq!(
        sim.session
            .publish(request("t", QoS::ExactlyOnce, b"x"), sim.now),
        Err(RequestError::QosNotSupported {
            requested: QoS::ExactlyOnce,
            maximum: QoS::AtLeastOnce,
        })
    );
    sim.assert_quiet();
    assert_eq!(sim.session.queued(), 0);
    // QoS 1 is fine.
    sim.publish(request("t", QoS::AtLeastOnce, b"x"));
    assert_eq!(one_publish(&sim.sent()).qos, QoS::AtLeastOnce);
}

#[test]
fn retain_is_refused_when_not_available() {
    // [MQTT-3.2.2-14]: no RETAIN 1 when the server said Retain Available 0.
    let mut sim = connected(opts(), props([Property::RetainAvailable(false)]));
    let retained = PublishRequest {
        retain: true,
        ..request("t", QoS::AtMostOnce, b"x")
    };
    assert_eq!(
        sim.session.publish(retained, sim.now),
        Err(RequestError::RetainNotSupported)
    );
    sim.assert_quiet();
    assert_eq!(sim.session.queued(), 0);
}

#[test]
fn publish_above_server_maximum_packet_size_is_refused() {
    // [MQTT-3.2.2-15]: the client must not send packets larger than the server's Maximum
    // Packet Size. A PUBLISH of exactly that size is fine.
    let mut sim = connected(opts(), props([Property::MaximumPacketSize(64)]));
    let big = request("t", QoS::AtMostOnce, &[7; 100]);
    let size = Packet::Publish(publish("t", QoS::AtMostOnce, 0, &[7; 100])).encoded_len();
    assert_eq!(
        sim.session.publish(big, sim.now),
        Err(RequestError::PacketTooLarge { size, max: 64 })
    );
    sim.assert_quiet();
    assert_eq!(sim.session.queued(), 0);

    // 1 + 1 (header) + 2 + 1 (topic) + 1 (no properties) + 58 = 64 bytes.
    let id = sim.publish(request("t", QoS::AtMostOnce, &[7; 58]));
    let sent = sim.sent();
    assert_eq!(sent[0].encoded_len(), 64);
    assert_eq!(
        sent,
        vec![Packet::Publish(publish("t", QoS::AtMostOnce, 0, &[7; 58]))]
    );
    assert_eq!(sim.events(), vec![written(id)]);
}

#[test]
fn topic_alias_never_pushes_a_publish_over_server_maximum_packet_size() {
    // [MQTT-3.2.2-15]: a PUBLISH of exactly the server's maximum size is accepted, so an
    // automatic Topic Alias (3 more bytes) must not be added to it.
    let mut sim = connected(
        opts(),
        props([
            Property::MaximumPacketSize(64),
            Property::TopicAliasMaximum(1),
        ]),
    );
    sim.publish(request("t", QoS::AtMostOnce, &[7; 58]));
    let sent = sim.sent();
    let p = one_publish(&sent);
    assert!(
        sent[0].encoded_len() <= 64,
        "sent a {}-byte PUBLISH to a server whose maximum is 64: {p:?}",
        sent[0].encoded_len()
    );
    assert_eq!(p.payload.len(), 58);
}

#[test]
fn subscribe_above_server_maximum_packet_size_is_refused() {
    // [MQTT-3.2.2-15] applies to every packet: a SUBSCRIBE or UNSUBSCRIBE larger than the
    // server's Maximum Packet Size must be refused, not sent.
    let mut sim = connected(opts(), props([Property::MaximumPacketSize(64)]));
    let long: &'static str = "a/very/long/topic/filter/that/goes/on/and/on/well/past/sixty/four";
    assert!(matches!(
        sim.session.subscribe(
            vec![sub(long, QoS::AtLeastOnce)],
            Properties::new(),
            sim.now
        ),
        Err(RequestError::PacketTooLarge { max: 64, .. })
    ));
    sim.assert_quiet();
    assert!(matches!(
        sim.session
            .unsubscribe(vec![b(long)], Properties::new(), sim.now),
        Err(RequestError::PacketTooLarge { max: 64, .. })
    ));
    sim.assert_quiet();
}

#[test]
fn publish_to_an_invalid_topic_is_refused() {
    // [MQTT-3.3.2-2] [MQTT-4.7.0-1]: no wildcards in a Topic Name; [MQTT-4.7.3-1]: not empty
    // (an empty topic is only the wire form of a Topic Alias, which midge assigns itself).
    let mut sim = connected(opts(), Properties::new());
    for topic in ["a/+/c", "a/#", "+"] {
        let r = PublishRequest {
            topic: ByteString::from(topic),
            ..PublishRequest::default()
        };
        assert_eq!(
            sim.session.publish(r, sim.now),
            Err(RequestError::InvalidTopic(TopicError::WildcardInTopicName)),
            "{topic}"
        );
    }
    assert_eq!(
        sim.session
            .publish(request("", QoS::AtMostOnce, b"x"), sim.now),
        Err(RequestError::InvalidTopic(TopicError::Empty))
    );
    sim.assert_quiet();
    assert_eq!(sim.session.queued(), 0);
}

#[test]
fn publish_with_topic_alias_or_subscription_identifier_is_refused() {
    // A Topic Alias is chosen with `PublishRequest::topic_alias`, not as a property
    // (3.3.2.3.4); [MQTT-3.3.4-6]: a PUBLISH from the client must not carry a Subscription
    // Identifier.
    let mut sim = connected(opts(), props([Property::TopicAliasMaximum(10)]));
    for (property, id) in [
        (Property::TopicAlias(1), PropertyId::TopicAlias),
        (
            Property::SubscriptionIdentifier(3),
            PropertyId::SubscriptionIdentifier,
        ),
    ] {
        let r = PublishRequest {
            properties: props([property]),
            ..request("t", QoS::AtLeastOnce, b"x")
        };
        assert_eq!(
            sim.session.publish(r, sim.now),
            Err(RequestError::InvalidProperties(
                CodecError::PropertyNotAllowed {
                    property: id,
                    context: PropertyContext::Publish,
                }
            ))
        );
    }
    sim.assert_quiet();
    assert_eq!(sim.session.queued(), 0);
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn empty_subscribe_and_unsubscribe_are_refused() {
    // [MQTT-3.8.3-2] [MQTT-3.10.3-2]: at least one Topic Filter.
    let mut sim = connected(opts(), Properties::new());
    assert_eq!(
        sim.session.subscribe(vec![], Properties::new(), sim.now),
        Err(RequestError::NoTopicFilters)
    );
    assert_eq!(
        sim.session.unsubscribe(vec![], Properties::new(), sim.now),
        Err(RequestError::NoTopicFilters)
    );
    sim.assert_quiet();
}

#[test]
fn invalid_topic_filters_are_refused() {
    // [MQTT-4.7.1-1] '#' last and alone; [MQTT-4.7.1-2] '+' a whole level; [MQTT-4.8.2-1]
    // a share name; [MQTT-3.8.3-4] no No Local on a shared subscription.
    let mut sim = connected(opts(), Properties::new());
    for (filter, error) in [
        ("a/#/b", TopicError::MultiLevelWildcardNotLast),
        ("a/b#", TopicError::MultiLevelWildcardNotLast),
        ("a/b+", TopicError::SingleLevelWildcardNotAlone),
        ("$share//a", TopicError::EmptyShareName),
        ("", TopicError::Empty),
    ] {
        let filter = ByteString::from(filter);
        assert_eq!(
            sim.session.subscribe(
                vec![
                    sub("ok/one", QoS::AtMostOnce),
                    Subscription {
                        filter: filter.clone(),
                        options: SubscriptionOptions::default(),
                    },
                ],
                Properties::new(),
                sim.now
            ),
            Err(RequestError::InvalidTopicFilter(error)),
            "{filter}"
        );
        assert_eq!(
            sim.session
                .unsubscribe(vec![filter.clone()], Properties::new(), sim.now),
            Err(RequestError::InvalidTopicFilter(error)),
            "{filter}"
        );
    }
    let no_local_shared = Subscription {
        filter: b("$share/g/a"),
        options: SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::default()
        },
    };
    assert_eq!(
        sim.session
            .subscribe(vec![no_local_shared], Properties::new(), sim.now),
        Err(RequestError::InvalidProperties(
            CodecError::NoLocalOnSharedSubscription
        ))
    );
    sim.assert_quiet();
}

#[test]
fn subscriptions_the_server_does_not_support_are_refused() {
    // 3.2.2.3.11-13: Wildcard Subscription, Subscription Identifier and Shared Subscription
    // Available 0 mean the server would refuse them (0xA2, 0xA1, 0x9E); midge refuses first.
    let mut sim = connected(
        opts(),
        props([
            Property::WildcardSubscriptionAvailable(false),
            Property::SubscriptionIdentifierAvailable(false),
            Property::SharedSubscriptionAvailable(false),
        ]),
    );
    for filter in ["a/+", "a/#", "#", "$share/g/a"] {
        assert!(
            matches!(
                sim.session.subscribe(
                    vec![sub("plain", QoS::AtMostOnce), sub(filter, QoS::AtMostOnce)],
                    Properties::new(),
                    sim.now
                ),
                Err(RequestError::NotSupported(_))
            ),
            "{filter}"
        );
    }
    assert!(matches!(
        sim.session.subscribe(
            vec![sub("plain", QoS::AtMostOnce)],
            props([Property::SubscriptionIdentifier(7)]),
            sim.now
        ),
        Err(RequestError::NotSupported(_))
    ));
    sim.assert_quiet();
    // A plain filter without an identifier is fine.
    sim.subscribe(vec![sub("plain", QoS::AtMostOnce)]);
    assert!(matches!(sim.sent().as_slice(), [Packet::Subscribe(_)]));
}

#[test]
fn close_completes_everything_and_refuses_later_requests() {
    // After close() every pending request completes with Closed and every new one is
    // refused with Closed; nothing more is sent.
    let mut sim = connected(opts(), props([Property::ReceiveMaximum(1)]));
    let inflight = sim.publish(request("t", QoS::AtLeastOnce, b"1"));
    let queued = sim.publish(request("t", QoS::AtLeastOnce, b"2"));
    let subscribe = sim.subscribe(vec![sub("s", QoS::AtLeastOnce)]);
    assert_eq!(sim.sent().len(), 2);
    sim.session.close();
    let events = sim.events();
    assert!(events.contains(&publish_failed(inflight, RequestError::Closed)));
    assert!(events.contains(&publish_failed(queued, RequestError::Closed)));
    assert!(events.contains(&Event::SubscribeComplete {
        id: subscribe,
        result: Err(RequestError::Closed),
    }));
    assert_eq!(sim.session.state(), State::Closed);

    assert_eq!(
        sim.session
            .publish(request("t", QoS::AtMostOnce, b"x"), sim.now),
        Err(RequestError::Closed)
    );
    assert_eq!(
        sim.session
            .subscribe(vec![sub("s", QoS::AtMostOnce)], Properties::new(), sim.now),
        Err(RequestError::Closed)
    );
    assert_eq!(
        sim.session
            .unsubscribe(vec![b("s")], Properties::new(), sim.now),
        Err(RequestError::Closed)
    );
    assert_eq!(
        sim.session.disconnect(
            DisconnectReasonCode::NormalDisconnection,
            Properties::new(),
            sim.now
        ),
        Err(RequestError::Closed)
    );
    sim.session.connection_opened(sim.now);
    assert_eq!(sim.session.state(), State::Closed);
    sim.assert_quiet();
}

// ==================================================================== outbound QoS 0, 1, 2

#[test]
fn qos0_completes_when_written() {
    // [MQTT-4.3.1-1]: QoS 0, DUP 0, no Packet Identifier [MQTT-2.2.1-2]; it completes once
    // written, with AckReason::Written.
    let mut sim = connected(opts(), Properties::new());
    let id = sim.publish(request("t/0", QoS::AtMostOnce, b"zero"));
    assert_eq!(
        sim.sent(),
        vec![Packet::Publish(publish("t/0", QoS::AtMostOnce, 0, b"zero"))]
    );
    assert_eq!(sim.events(), vec![written(id)]);
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn qos1_completes_with_the_puback_reason_code() {
    // [MQTT-4.3.2-2] PUBLISH QoS 1 DUP 0 with a new id; [MQTT-4.3.2-3] unacknowledged until
    // its PUBACK, whose reason code and properties the completion carries.
    let mut sim = connected(opts(), Properties::new());
    let id = sim.publish(request("t/1", QoS::AtLeastOnce, b"one"));
    let p = one_publish(&sim.sent());
    assert_ne!(p.packet_id, 0);
    assert_eq!(p, publish("t/1", QoS::AtLeastOnce, p.packet_id, b"one"));
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.session.inflight(), 1);

    let ack_props = props([Property::ReasonString(b("nobody listens"))]);
    sim.deliver(PubAck {
        packet_id: p.packet_id,
        reason_code: PubAckReasonCode::NoMatchingSubscribers,
        properties: ack_props.clone(),
    });
    assert_eq!(
        sim.events(),
        vec![Event::PublishComplete {
            id,
            result: Ok(PublishAck {
                packet_id: p.packet_id,
                reason: AckReason::PubAck(PubAckReasonCode::NoMatchingSubscribers),
                properties: ack_props,
            }),
        }]
    );
    assert_eq!(sim.sent(), vec![]);
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn qos1_failure_puback_is_refused_and_never_resent() {
    // [MQTT-4.4.0-2]: a PUBACK of 0x80 or above acknowledges the PUBLISH, which must not be
    // retransmitted, not even when the session resumes.
    let mut sim = connected(resumable(), Properties::new());
    let id = sim.publish(request("t", QoS::AtLeastOnce, b"x"));
    let p = one_publish(&sim.sent());
    sim.deliver(PubAck {
        packet_id: p.packet_id,
        reason_code: PubAckReasonCode::NotAuthorized,
        properties: Properties::new(),
    });
    assert_eq!(
        sim.events(),
        vec![publish_failed(
            id,
            RequestError::Refused(AckReason::PubAck(PubAckReasonCode::NotAuthorized))
        )]
    );
    assert_eq!(sim.session.inflight(), 0);
    sim.lose_connection();
    sim.connect(connack_resumed(Properties::new()));
    sim.assert_quiet();
}

#[test]
fn qos2_completes_on_pubcomp_with_the_pubrec_reason_code() {
    // [MQTT-4.3.3-2] PUBLISH QoS 2 DUP 0; [MQTT-4.3.3-4] PUBREL with the same id on a
    // successful PUBREC; [MQTT-4.3.3-5] complete on PUBCOMP.
    let mut sim = connected(opts(), Properties::new());
    let id = sim.publish(request("t/2", QoS::ExactlyOnce, b"two"));
    let p = one_publish(&sim.sent());
    assert_ne!(p.packet_id, 0);
    assert_eq!(p, publish("t/2", QoS::ExactlyOnce, p.packet_id, b"two"));
    sim.deliver(pubrec(p.packet_id, PubRecReasonCode::Success));
    assert_eq!(sim.sent(), vec![Packet::PubRel(PubRel::new(p.packet_id))]);
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.session.inflight(), 1);
    sim.deliver(PubComp::new(p.packet_id));
    assert_eq!(
        sim.events(),
        vec![published(
            id,
            p.packet_id,
            AckReason::PubRec(PubRecReasonCode::Success)
        )]
    );
    assert_eq!(sim.sent(), vec![]);
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn qos2_failure_pubrec_ends_the_exchange_without_pubrel() {
    // [MQTT-4.3.3-4]: PUBREL only for a PUBREC below 0x80; [MQTT-4.4.0-2]: a failed PUBREC
    // acknowledges the PUBLISH, which is never resent.
    let mut sim = connected(resumable(), Properties::new());
    let id = sim.publish(request("t", QoS::ExactlyOnce, b"x"));
    let p = one_publish(&sim.sent());
    sim.deliver(pubrec(p.packet_id, PubRecReasonCode::QuotaExceeded));
    assert_eq!(sim.sent(), vec![]);
    assert_eq!(
        sim.events(),
        vec![publish_failed(
            id,
            RequestError::Refused(AckReason::PubRec(PubRecReasonCode::QuotaExceeded))
        )]
    );
    assert_eq!(sim.session.inflight(), 0);
    sim.lose_connection();
    sim.connect(connack_resumed(Properties::new()));
    sim.assert_quiet();
}

#[test]
fn pubrec_for_an_unknown_id_gets_pubrel_0x92() {
    // 3.6.2.1: PUBREL 0x92 (Packet Identifier not found) answers a PUBREC we cannot place.
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(pubrec(77, PubRecReasonCode::Success));
    assert_eq!(
        sim.sent(),
        vec![Packet::PubRel(PubRel {
            packet_id: 77,
            reason_code: midge::codec::PubRelReasonCode::PacketIdentifierNotFound,
            properties: Properties::new(),
        })]
    );
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.session.state(), State::Connected);
}

// ==================================================================== packet identifiers

/// Adds the identifiers of newly sent packets to `in_flight`; none may be 0 or in use.
fn check_new(in_flight: &mut Vec<u16>, sent: &[Packet]) {
    for p in sent {
        let id = packet_id(p);
        assert_ne!(id, 0);
        assert!(!in_flight.contains(&id), "{id} is still in flight: {p:?}");
        in_flight.push(id);
    }
}

/// The Packet Identifier of a PUBLISH, SUBSCRIBE or UNSUBSCRIBE.
fn packet_id(p: &Packet) -> u16 {
    match p {
        Packet::Publish(p) => p.packet_id,
        Packet::Subscribe(s) => s.packet_id,
        Packet::Unsubscribe(u) => u.packet_id,
        other => panic!("no packet identifier in {other:?}"),
    }
}

#[test]
fn packet_ids_are_unique_among_everything_in_flight() {
    // [MQTT-2.2.1-3]: every new SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH gets a non-zero
    // identifier that is currently unused; the three packet kinds share one space.
    let mut sim = connected(opts(), Properties::new());
    let mut in_flight: Vec<u16> = Vec::new();
    for i in 0..20 {
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        sim.publish(request("t", qos, b"x"));
    }
    check_new(&mut in_flight, &sim.sent());
    sim.subscribe(vec![sub("s/1", QoS::AtLeastOnce)]);
    sim.session
        .unsubscribe(vec![b("s/2")], Properties::new(), sim.now)
        .unwrap();
    check_new(&mut in_flight, &sim.sent());
    assert_eq!(in_flight.len(), 22);

    // Acknowledge some QoS 1 publishes out of order and move some QoS 2 ones to PUBREL:
    // those awaiting PUBCOMP keep their identifier.
    for index in [14, 2, 8, 0] {
        let id = in_flight[index];
        sim.deliver(PubAck::new(id));
    }
    for index in [5, 11] {
        sim.deliver(pubrec(in_flight[index], PubRecReasonCode::Success));
    }
    assert_eq!(
        sim.sent(),
        vec![
            Packet::PubRel(PubRel::new(in_flight[5])),
            Packet::PubRel(PubRel::new(in_flight[11]))
        ]
    );
    assert_eq!(sim.events().len(), 4);
    // Highest index first, so the lower ones stay put.
    for index in [14, 8, 2, 0] {
        in_flight.remove(index);
    }

    for _ in 0..30 {
        sim.publish(request("t", QoS::AtLeastOnce, b"y"));
    }
    sim.subscribe(vec![sub("s/3", QoS::AtMostOnce)]);
    check_new(&mut in_flight, &sim.sent());
    assert_eq!(in_flight.len(), 18 + 31);
    assert_eq!(sim.session.inflight(), 16 + 30);
}

#[test]
fn packet_ids_skip_those_in_flight_after_wrapping_around() {
    // [MQTT-2.2.1-3] over the whole identifier space: one QoS 1 publish never acknowledged,
    // one QoS 2 waiting for PUBCOMP and one SUBSCRIBE never answered keep their
    // identifiers while 70,000 other publishes come and go.
    let mut sim = connected(opts(), Properties::new());
    sim.publish(request("held/1", QoS::AtLeastOnce, b"x"));
    sim.publish(request("held/2", QoS::ExactlyOnce, b"x"));
    sim.subscribe(vec![sub("held/3", QoS::AtLeastOnce)]);
    let sent = sim.sent();
    let held: HashSet<u16> = sent.iter().map(packet_id).collect();
    assert_eq!(held.len(), 3);
    assert!(!held.contains(&0));
    sim.deliver(pubrec(packet_id(&sent[1]), PubRecReasonCode::Success));
    assert_eq!(
        sim.sent(),
        vec![Packet::PubRel(PubRel::new(packet_id(&sent[1])))]
    );

    for round in 0..70_000u32 {
        sim.publish(request("churn", QoS::AtLeastOnce, b"x"));
        let p = one_publish(&sim.sent());
        assert_ne!(p.packet_id, 0, "round {round}");
        assert!(
            !held.contains(&p.packet_id),
            "round {round}: reused in-flight id {}",
            p.packet_id
        );
        sim.deliver(PubAck::new(p.packet_id));
        assert!(matches!(
            sim.session.poll_event(),
            Some(Event::PublishComplete { result: Ok(_), .. })
        ));
    }
    assert_eq!(sim.session.inflight(), 2);
}

// ==================================================================== server Receive Maximum

#[test]
fn server_receive_maximum_holds_publishes_back_in_order() {
    // [MQTT-3.3.4-7] [MQTT-4.9.0-2]: no more than Receive Maximum unacknowledged QoS 1/2
    // PUBLISHes; the rest wait, in order, and a QoS 0 behind them waits too (FIFO).
    // [MQTT-3.3.4-8]: other packets are not delayed.
    let mut sim = connected(opts(), props([Property::ReceiveMaximum(2)]));
    let a = sim.publish(request("q", QoS::AtLeastOnce, b"a"));
    let _b = sim.publish(request("q", QoS::AtLeastOnce, b"b"));
    let _c = sim.publish(request("q", QoS::AtLeastOnce, b"c"));
    let d = sim.publish(request("q", QoS::AtMostOnce, b"d"));
    let sent = publishes(&sim.sent());
    assert_eq!(
        sent.iter().map(|p| &p.payload[..]).collect::<Vec<_>>(),
        [b"a", b"b"]
    );
    assert_eq!(sim.session.queued(), 2);
    assert_eq!(sim.events(), vec![]);

    sim.subscribe(vec![sub("s", QoS::AtMostOnce)]);
    assert!(matches!(sim.sent().as_slice(), [Packet::Subscribe(_)]));

    sim.deliver(PubAck::new(sent[0].packet_id));
    let next = publishes(&sim.sent());
    assert_eq!(
        next.iter()
            .map(|p| (&p.payload[..], p.qos))
            .collect::<Vec<_>>(),
        [(&b"c"[..], QoS::AtLeastOnce), (&b"d"[..], QoS::AtMostOnce)]
    );
    assert_eq!(
        sim.events(),
        vec![
            published(
                a,
                sent[0].packet_id,
                AckReason::PubAck(PubAckReasonCode::Success)
            ),
            written(d),
        ]
    );
    assert_eq!(sim.session.queued(), 0);
    assert_eq!(sim.session.inflight(), 2);
}

#[test]
fn qos2_holds_its_quota_until_pubcomp() {
    // [MQTT-4.9.0-2] and 4.9: the send quota comes back on PUBACK, PUBCOMP, or a PUBREC of
    // 0x80 or above; not on a successful PUBREC.
    let mut sim = connected(opts(), props([Property::ReceiveMaximum(1)]));
    sim.publish(request("q", QoS::ExactlyOnce, b"a"));
    let a = one_publish(&sim.sent());
    sim.publish(request("q", QoS::AtLeastOnce, b"b"));
    assert_eq!(sim.sent(), vec![]);
    sim.deliver(pubrec(a.packet_id, PubRecReasonCode::Success));
    assert_eq!(sim.sent(), vec![Packet::PubRel(PubRel::new(a.packet_id))]);
    sim.deliver(PubComp::new(a.packet_id));
    let b = one_publish(&sim.sent());
    assert_eq!(&b.payload[..], b"b");

    // A failed PUBREC frees the quota at once.
    sim.deliver(PubAck::new(b.packet_id));
    sim.publish(request("q", QoS::ExactlyOnce, b"c"));
    let c = one_publish(&sim.sent());
    sim.publish(request("q", QoS::AtLeastOnce, b"d"));
    assert_eq!(sim.sent(), vec![]);
    sim.deliver(pubrec(c.packet_id, PubRecReasonCode::UnspecifiedError));
    assert_eq!(&one_publish(&sim.sent()).payload[..], b"d");
}

// ==================================================================== inbound QoS 1 and 2

#[test]
fn inbound_qos1_is_acknowledged_in_arrival_order() {
    // [MQTT-4.3.2-4]: PUBACK once the application owns the message; [MQTT-4.6.0-2]: PUBACKs
    // in the order the PUBLISHes arrived, whatever order the application acknowledges in.
    let mut sim = connected(opts(), Properties::new());
    let user = props([Property::UserProperty(b("k"), b("v"))]);
    sim.deliver(Publish {
        properties: user.clone(),
        ..publish("in/a", QoS::AtLeastOnce, 10, b"a")
    });
    sim.deliver(publish("in/b", QoS::AtLeastOnce, 11, b"b"));
    let msgs = messages(sim.events());
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        Message {
            ack: None,
            ..msgs[0].clone()
        },
        Message {
            topic: b("in/a"),
            payload: bytes(b"a"),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: 10,
            properties: user,
            ack: None,
        }
    );
    assert_eq!((&msgs[1].topic[..], msgs[1].packet_id), ("in/b", 11));
    assert!(msgs[0].ack.is_some() && msgs[1].ack.is_some());
    assert_ne!(msgs[0].ack, msgs[1].ack);
    assert_eq!(
        sim.sent(),
        vec![],
        "no PUBACK before the application has it"
    );

    sim.acknowledge(&msgs[1]);
    assert_eq!(sim.sent(), vec![], "11 waits for 10");
    sim.acknowledge(&msgs[0]);
    assert_eq!(
        sim.sent(),
        vec![
            Packet::PubAck(PubAck::new(10)),
            Packet::PubAck(PubAck::new(11))
        ]
    );
    // A second acknowledgement of the same token sends nothing.
    sim.acknowledge(&msgs[0]);
    assert_eq!(sim.sent(), vec![]);
}

#[test]
fn inbound_qos2_is_acknowledged_in_arrival_order() {
    // [MQTT-4.3.3-8]: PUBREC once the application owns the message; [MQTT-4.6.0-3]: PUBRECs
    // in arrival order.
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(publish("in", QoS::ExactlyOnce, 1, b"1"));
    sim.deliver(publish("in", QoS::ExactlyOnce, 2, b"2"));
    sim.deliver(publish("in", QoS::ExactlyOnce, 3, b"3"));
    let msgs = messages(sim.events());
    assert_eq!(
        msgs.iter().map(|m| m.packet_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(msgs.iter().all(|m| m.qos == QoS::ExactlyOnce));
    sim.acknowledge(&msgs[2]);
    sim.acknowledge(&msgs[1]);
    assert_eq!(sim.sent(), vec![]);
    sim.acknowledge(&msgs[0]);
    assert_eq!(
        sim.sent(),
        vec![
            Packet::PubRec(PubRec::new(1)),
            Packet::PubRec(PubRec::new(2)),
            Packet::PubRec(PubRec::new(3)),
        ]
    );
}

#[test]
fn inbound_qos0_needs_no_acknowledgement() {
    // [MQTT-3.3.4-1] Table 3-4: nothing answers a QoS 0 PUBLISH.
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(Publish {
        retain: true,
        ..publish("in/0", QoS::AtMostOnce, 0, b"z")
    });
    let msgs = messages(sim.events());
    assert_eq!(
        msgs,
        vec![Message {
            topic: b("in/0"),
            payload: bytes(b"z"),
            qos: QoS::AtMostOnce,
            retain: true,
            dup: false,
            packet_id: 0,
            properties: Properties::new(),
            ack: None,
        }]
    );
    assert_eq!(sim.sent(), vec![]);
}

#[test]
fn duplicate_qos2_publish_is_not_delivered_twice() {
    // [MQTT-4.3.3-10]: until PUBREL, a PUBLISH with the same id is answered with PUBREC and
    // not delivered again; [MQTT-4.3.3-11] PUBREL -> PUBCOMP; [MQTT-4.3.3-12] afterwards the
    // same id is a new publication.
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(publish("in", QoS::ExactlyOnce, 5, b"first"));
    let msgs = messages(sim.events());
    assert_eq!(msgs.len(), 1);

    // Before the application acknowledged: nothing to answer yet, nothing delivered.
    sim.deliver(Publish {
        dup: true,
        ..publish("in", QoS::ExactlyOnce, 5, b"first")
    });
    sim.assert_quiet();

    sim.acknowledge(&msgs[0]);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(5))]);

    // After PUBREC: the duplicate gets PUBREC again, still no second delivery.
    sim.deliver(Publish {
        dup: true,
        ..publish("in", QoS::ExactlyOnce, 5, b"first")
    });
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(5))]);
    assert_eq!(sim.events(), vec![]);

    sim.deliver(PubRel::new(5));
    assert_eq!(sim.sent(), vec![Packet::PubComp(PubComp::new(5))]);
    assert_eq!(sim.events(), vec![]);

    sim.deliver(publish("in", QoS::ExactlyOnce, 5, b"second"));
    let again = messages(sim.events());
    assert_eq!(again.len(), 1);
    assert_eq!(&again[0].payload[..], b"second");
}

#[test]
fn inbound_qos1_after_puback_same_id_is_a_new_message() {
    // [MQTT-4.3.2-5]: after PUBACK, a PUBLISH with the same id is a new publication.
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(publish("in", QoS::AtLeastOnce, 9, b"one"));
    let first = messages(sim.events());
    sim.acknowledge(&first[0]);
    assert_eq!(sim.sent(), vec![Packet::PubAck(PubAck::new(9))]);
    sim.deliver(Publish {
        dup: true,
        ..publish("in", QoS::AtLeastOnce, 9, b"two")
    });
    let second = messages(sim.events());
    assert_eq!(second.len(), 1);
    assert!(second[0].dup);
    sim.acknowledge(&second[0]);
    assert_eq!(sim.sent(), vec![Packet::PubAck(PubAck::new(9))]);
}

#[test]
fn pubrel_for_an_unknown_id_gets_pubcomp_0x92() {
    // [MQTT-4.3.3-11] and 3.7.2.1: PUBCOMP 0x92 (Packet Identifier not found).
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(PubRel::new(42));
    assert_eq!(
        sim.sent(),
        vec![Packet::PubComp(PubComp {
            packet_id: 42,
            reason_code: PubCompReasonCode::PacketIdentifierNotFound,
            properties: Properties::new(),
        })]
    );
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.session.state(), State::Connected);
}

// ==================================================================== our Receive Maximum

#[test]
fn server_exceeding_our_receive_maximum_is_disconnected_with_0x93() {
    // [MQTT-3.3.4-9]: the server must not send more than our Receive Maximum unacknowledged
    // QoS 1/2 PUBLISHes; 4.9: the client answers with DISCONNECT 0x93. midge tolerates a
    // second Receive Maximum (Mosquitto 2.0.11 overshoots), and no more.
    let mut sim = Sim::new(Options {
        receive_maximum: 2,
        ..opts()
    });
    let connect = sim.open();
    assert_eq!(
        connect.properties.get(PropertyId::ReceiveMaximum),
        Some(&Property::ReceiveMaximum(2))
    );
    sim.deliver(connack(Properties::new()));
    assert_eq!(sim.events().len(), 1);
    sim.deliver(publish("in", QoS::AtLeastOnce, 1, b"1"));
    sim.deliver(publish("in", QoS::ExactlyOnce, 2, b"2"));
    sim.deliver(publish("in", QoS::AtLeastOnce, 3, b"3"));
    sim.deliver(publish("in", QoS::ExactlyOnce, 4, b"4"));
    let msgs = messages(sim.events());
    assert_eq!(msgs.len(), 4);
    assert_eq!(sim.sent(), vec![]);
    assert_eq!(sim.session.state(), State::Connected);
    // Past the tolerance, with messages the application has yet to acknowledge: the rest
    // of the input waits for it (backpressure, no disconnection loop).
    sim.deliver(publish("in", QoS::AtLeastOnce, 5, b"5"));
    assert!(sim.session.input_held());
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.sent(), vec![]);
    assert_eq!(sim.session.state(), State::Connected);
    sim.acknowledge(&msgs[0]);
    assert_eq!(sim.sent(), vec![Packet::PubAck(PubAck::new(1))]);
    let read_on = messages(sim.events());
    assert_eq!(read_on.len(), 1);
    assert_eq!(read_on[0].packet_id, 5);
    assert!(sim.session.input_held(), "at the bound again");

    // Past it with nothing left for the application to acknowledge (every QoS 2 answered
    // with PUBREC, awaiting PUBREL): the server is at fault, 0x93.
    let mut sim = connected(
        Options {
            receive_maximum: 2,
            ..opts()
        },
        Properties::new(),
    );
    for id in 1..=4 {
        sim.deliver(publish("in", QoS::ExactlyOnce, id, b"q2"));
    }
    for m in messages(sim.events()) {
        sim.acknowledge(&m);
    }
    assert_eq!(sim.sent().len(), 4, "4 PUBRECs");
    assert!(!sim.session.input_held());
    sim.deliver(publish("in", QoS::AtLeastOnce, 5, b"5"));
    assert_closed_with(&mut sim, DisconnectReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn acknowledging_restores_our_receive_quota() {
    // 4.9: the quota counts PUBLISHes not yet answered with PUBACK or PUBCOMP; a PUBACK
    // frees a slot, a PUBREC does not (the QoS 2 exchange is still open).
    let mut sim = connected(
        Options {
            receive_maximum: 2,
            ..opts()
        },
        Properties::new(),
    );
    sim.deliver(publish("in", QoS::AtLeastOnce, 1, b"1"));
    sim.deliver(publish("in", QoS::ExactlyOnce, 2, b"2"));
    let msgs = messages(sim.events());
    sim.acknowledge(&msgs[0]);
    sim.acknowledge(&msgs[1]);
    assert_eq!(
        sim.sent(),
        vec![
            Packet::PubAck(PubAck::new(1)),
            Packet::PubRec(PubRec::new(2))
        ]
    );
    // Of the 4 slots (2 and the tolerated overshoot of 2), 1 is taken: 2 waits for
    // PUBREL, while 1 was answered and freed its slot. 3 more fit, the next waits.
    for id in 3..=5 {
        sim.deliver(publish("in", QoS::AtLeastOnce, id, b"n"));
    }
    let more = messages(sim.events());
    assert_eq!(more.len(), 3);
    assert_eq!(sim.sent(), vec![]);
    assert_eq!(sim.session.state(), State::Connected);
    sim.deliver(publish("in", QoS::AtLeastOnce, 6, b"6"));
    assert_eq!(sim.events(), vec![], "held until a slot is free");
    sim.acknowledge(&more[0]);
    assert_eq!(sim.sent(), vec![Packet::PubAck(PubAck::new(3))]);
    assert_eq!(messages(sim.events())[0].packet_id, 6);
}

#[test]
fn held_input_keeps_sending_pingreq_without_judging_the_server() {
    // While the application holds our input (a server past the tolerated Receive Maximum),
    // the server's PINGRESP waits unread: the keep alive still sends PINGREQ each period
    // [MQTT-3.1.2-22] but does not end the connection for the missing answer.
    let mut sim = connected(
        Options {
            receive_maximum: 1,
            keep_alive: 10,
            ..opts()
        },
        Properties::new(),
    );
    sim.deliver(publish("in", QoS::AtLeastOnce, 1, b"1"));
    sim.deliver(publish("in", QoS::AtLeastOnce, 2, b"2"));
    sim.deliver(publish("in", QoS::AtLeastOnce, 3, b"3"));
    let msgs = messages(sim.events());
    assert_eq!(msgs.len(), 2);
    assert!(sim.session.input_held());
    for period in 1..=5 {
        sim.at(10 * period);
        sim.session.handle_timeout(sim.now);
        assert_eq!(sim.sent(), vec![Packet::PingReq], "period {period}");
        assert_eq!(sim.session.state(), State::Connected);
    }
    sim.deliver(Packet::PingResp);
    sim.acknowledge(&msgs[0]);
    assert_eq!(sim.sent(), vec![Packet::PubAck(PubAck::new(1))]);
    assert_eq!(messages(sim.events())[0].packet_id, 3);
    assert_eq!(sim.session.state(), State::Connected);
}

// ==================================================================== inbound topic aliases

fn aliased(topic: &'static str, alias: u16, payload: &'static [u8]) -> Publish {
    Publish {
        properties: props([Property::TopicAlias(alias)]),
        ..publish(topic, QoS::AtMostOnce, 0, payload)
    }
}

#[test]
fn inbound_topic_alias_is_set_then_used() {
    // 3.3.2.3.4 and [MQTT-3.3.2-10]: a topic with an alias sets the mapping, an empty topic
    // uses it, a new topic replaces it; the application sees topics, never aliases.
    let mut sim = Sim::new(opts());
    assert_eq!(
        sim.open().properties.get(PropertyId::TopicAliasMaximum),
        Some(&Property::TopicAliasMaximum(16))
    );
    sim.deliver(connack(Properties::new()));
    sim.events();
    sim.deliver(Publish {
        properties: props([
            Property::TopicAlias(16),
            Property::UserProperty(b("k"), b("v")),
        ]),
        ..publish("sensors/1", QoS::AtMostOnce, 0, b"a")
    });
    sim.deliver(aliased("", 16, b"b"));
    sim.deliver(aliased("sensors/2", 16, b"c"));
    sim.deliver(aliased("", 16, b"d"));
    let msgs = messages(sim.events());
    assert_eq!(
        msgs.iter()
            .map(|m| (&m.topic[..], &m.payload[..]))
            .collect::<Vec<_>>(),
        [
            ("sensors/1", &b"a"[..]),
            ("sensors/1", &b"b"[..]),
            ("sensors/2", &b"c"[..]),
            ("sensors/2", &b"d"[..]),
        ]
    );
    assert_eq!(
        msgs[0].properties,
        props([Property::UserProperty(b("k"), b("v"))])
    );
    assert!(msgs[1..].iter().all(|m| m.properties.is_empty()));
    assert_eq!(sim.sent(), vec![]);
}

#[test]
fn inbound_topic_alias_above_our_maximum_is_0x94() {
    // [MQTT-3.3.2-11]: the server must not exceed our Topic Alias Maximum; the client answers
    // with DISCONNECT 0x94 (Topic Alias invalid).
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(aliased("t", 16, b"x"));
    assert_eq!(messages(sim.events()).len(), 1);
    sim.deliver(aliased("t", 17, b"x"));
    assert_closed_with(&mut sim, DisconnectReasonCode::TopicAliasInvalid);
}

#[test]
fn inbound_topic_alias_when_we_allowed_none_is_0x94() {
    // [MQTT-3.1.2-30]: with no Topic Alias Maximum sent, the server must not send aliases.
    let mut sim = Sim::new(Options {
        topic_alias_maximum: 0,
        ..opts()
    });
    assert_eq!(
        sim.open().properties.get(PropertyId::TopicAliasMaximum),
        None
    );
    sim.deliver(connack(Properties::new()));
    sim.events();
    sim.deliver(aliased("t", 1, b"x"));
    assert_closed_with(&mut sim, DisconnectReasonCode::TopicAliasInvalid);
}

#[test]
fn inbound_unknown_topic_alias_is_0x82() {
    // 3.3.4: an empty topic with an alias that has no mapping is a Protocol Error (0x82).
    let mut sim = connected(opts(), Properties::new());
    sim.deliver(aliased("t", 1, b"x"));
    assert_eq!(messages(sim.events()).len(), 1);
    sim.deliver(aliased("", 2, b"y"));
    assert_closed_with(&mut sim, DisconnectReasonCode::ProtocolError);
}

#[test]
fn inbound_topic_aliases_are_forgotten_on_a_new_connection() {
    // [MQTT-3.3.2-7]: no alias mapping carries over to another Network Connection, even
    // when the session does.
    let mut sim = connected(resumable(), Properties::new());
    sim.deliver(aliased("kept/topic", 1, b"x"));
    sim.deliver(aliased("", 1, b"y"));
    assert_eq!(messages(sim.events()).len(), 2);
    sim.lose_connection();
    sim.connect(connack_resumed(Properties::new()));
    sim.assert_quiet();
    sim.deliver(aliased("", 1, b"z"));
    assert_closed_with(&mut sim, DisconnectReasonCode::ProtocolError);
}

// ==================================================================== outbound topic aliases

#[test]
fn outbound_topic_aliases_stay_within_the_server_maximum() {
    // [MQTT-3.2.2-17] [MQTT-3.3.2-9]: aliases up to the server's Topic Alias Maximum, never 0
    // [MQTT-3.3.2-8]; a known alias goes with an empty topic (3.3.2.3.4).
    let mut sim = connected(opts(), props([Property::TopicAliasMaximum(1)]));
    sim.publish(request("x", QoS::AtMostOnce, b"1"));
    sim.publish(request("x", QoS::AtLeastOnce, b"2"));
    sim.publish(request("y", QoS::AtMostOnce, b"3"));
    let sent = publishes(&sim.sent());
    assert_eq!(
        sent[0],
        Publish {
            properties: props([Property::TopicAlias(1)]),
            ..publish("x", QoS::AtMostOnce, 0, b"1")
        }
    );
    assert_eq!(
        sent[1],
        Publish {
            properties: props([Property::TopicAlias(1)]),
            ..publish("", QoS::AtLeastOnce, sent[1].packet_id, b"2")
        }
    );
    assert_eq!(sent[2], publish("y", QoS::AtMostOnce, 0, b"3"));
    assert_eq!(sent.len(), 3);
}

#[test]
fn outbound_topic_aliases_start_over_after_reconnect() {
    // [MQTT-3.3.2-7]: the server forgot our aliases, so the mapping starts over, and a
    // PUBLISH resent on the new connection carries its full topic and no stale alias.
    let mut sim = connected(resumable(), props([Property::TopicAliasMaximum(1)]));
    sim.publish(request("x", QoS::AtLeastOnce, b"1"));
    sim.publish(request("x", QoS::AtLeastOnce, b"2"));
    let before = publishes(&sim.sent());
    assert_eq!(&before[1].topic[..], "");
    sim.lose_connection();

    sim.connect(connack_resumed(props([Property::TopicAliasMaximum(1)])));
    let resent = publishes(&sim.sent());
    assert_eq!(
        resent,
        vec![
            Publish {
                dup: true,
                ..publish("x", QoS::AtLeastOnce, before[0].packet_id, b"1")
            },
            Publish {
                dup: true,
                ..publish("x", QoS::AtLeastOnce, before[1].packet_id, b"2")
            },
        ]
    );
    // New mappings: "y" is first now and gets alias 1; "x" gets none.
    sim.publish(request("y", QoS::AtMostOnce, b"3"));
    sim.publish(request("x", QoS::AtMostOnce, b"4"));
    assert_eq!(
        publishes(&sim.sent()),
        vec![
            Publish {
                properties: props([Property::TopicAlias(1)]),
                ..publish("y", QoS::AtMostOnce, 0, b"3")
            },
            publish("x", QoS::AtMostOnce, 0, b"4"),
        ]
    );
}

#[test]
fn no_outbound_aliases_when_disabled_or_not_allowed() {
    // [MQTT-3.2.2-18]: no Topic Alias Maximum from the server, no aliases; with
    // auto_topic_alias off midge sends none either.
    let mut sim = connected(opts(), Properties::new());
    sim.publish(request("x", QoS::AtMostOnce, b"1"));
    sim.publish(request("x", QoS::AtMostOnce, b"2"));
    assert_eq!(
        publishes(&sim.sent()),
        vec![
            publish("x", QoS::AtMostOnce, 0, b"1"),
            publish("x", QoS::AtMostOnce, 0, b"2")
        ]
    );
    let mut sim = connected(
        Options {
            auto_topic_alias: false,
            ..opts()
        },
        props([Property::TopicAliasMaximum(10)]),
    );
    sim.publish(request("x", QoS::AtMostOnce, b"1"));
    sim.publish(request("x", QoS::AtMostOnce, b"2"));
    assert_eq!(
        publishes(&sim.sent()),
        vec![
            publish("x", QoS::AtMostOnce, 0, b"1"),
            publish("x", QoS::AtMostOnce, 0, b"2")
        ]
    );
}

// ==================================================================== session resumption

/// A resumable session with three publishes in flight, in this send order: QoS 1 "a"
/// awaiting PUBACK, QoS 2 "b" awaiting PUBREC, QoS 2 "c" awaiting PUBCOMP. Returns the
/// request ids and the PUBLISHes as first sent.
fn three_in_flight(sim: &mut Sim) -> ([RequestId; 3], Vec<Publish>) {
    let a = sim.publish(request("a", QoS::AtLeastOnce, b"A"));
    let b = sim.publish(request("b", QoS::ExactlyOnce, b"B"));
    let c = sim.publish(request("c", QoS::ExactlyOnce, b"C"));
    let sent = publishes(&sim.sent());
    assert_eq!(sent.len(), 3);
    sim.deliver(pubrec(sent[2].packet_id, PubRecReasonCode::Success));
    assert_eq!(
        sim.sent(),
        vec![Packet::PubRel(PubRel::new(sent[2].packet_id))]
    );
    assert_eq!(sim.session.inflight(), 3);
    ([a, b, c], sent)
}

#[test]
fn session_present_resends_publishes_with_dup_and_pubrel_in_order() {
    // [MQTT-4.4.0-1]: on resumption, unacknowledged PUBLISHes and PUBRELs are resent with
    // their original identifiers; [MQTT-3.3.1-1] with DUP 1; [MQTT-4.6.0-1] in the original
    // order; [MQTT-4.3.3-6] no PUBLISH again once PUBREL was sent.
    let mut sim = connected(resumable(), Properties::new());
    let ([a, b, c], sent) = three_in_flight(&mut sim);
    sim.lose_connection();

    let connect = sim.open();
    assert!(!connect.clean_start, "resume: Clean Start 0");
    assert_eq!(
        connect.properties.get(PropertyId::SessionExpiryInterval),
        Some(&Property::SessionExpiryInterval(60))
    );
    sim.deliver(connack_resumed(Properties::new()));
    assert!(matches!(
        sim.events().as_slice(),
        [Event::Connected(info)] if info.session_present
    ));
    assert_eq!(
        sim.sent(),
        vec![
            Packet::Publish(Publish {
                dup: true,
                ..sent[0].clone()
            }),
            Packet::Publish(Publish {
                dup: true,
                ..sent[1].clone()
            }),
            Packet::PubRel(PubRel::new(sent[2].packet_id)),
        ]
    );

    // The exchanges finish on the new connection.
    sim.deliver(PubAck::new(sent[0].packet_id));
    sim.deliver(pubrec(sent[1].packet_id, PubRecReasonCode::Success));
    assert_eq!(
        sim.sent(),
        vec![Packet::PubRel(PubRel::new(sent[1].packet_id))]
    );
    sim.deliver(PubComp::new(sent[2].packet_id));
    sim.deliver(PubComp::new(sent[1].packet_id));
    assert_eq!(
        sim.events(),
        vec![
            published(
                a,
                sent[0].packet_id,
                AckReason::PubAck(PubAckReasonCode::Success)
            ),
            published(
                c,
                sent[2].packet_id,
                AckReason::PubRec(PubRecReasonCode::Success)
            ),
            published(
                b,
                sent[1].packet_id,
                AckReason::PubRec(PubRecReasonCode::Success)
            ),
        ]
    );
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn resent_publishes_respect_the_new_receive_maximum() {
    // 4.9: the send quota is not preserved across connections but starts at the new
    // Receive Maximum; [MQTT-3.3.4-7] covers resent PUBLISHes too, so with Receive Maximum 1
    // the second resend waits for the first PUBACK.
    let mut sim = connected(resumable(), Properties::new());
    sim.publish(request("r", QoS::AtLeastOnce, b"1"));
    sim.publish(request("r", QoS::AtLeastOnce, b"2"));
    let sent = publishes(&sim.sent());
    sim.lose_connection();
    sim.connect(connack_resumed(props([Property::ReceiveMaximum(1)])));
    assert_eq!(
        sim.sent(),
        vec![Packet::Publish(Publish {
            dup: true,
            ..sent[0].clone()
        })]
    );
    sim.deliver(PubAck::new(sent[0].packet_id));
    assert_eq!(
        sim.sent(),
        vec![Packet::Publish(Publish {
            dup: true,
            ..sent[1].clone()
        })]
    );
}

#[test]
fn resent_pubrels_follow_the_order_of_their_pubrecs() {
    // [MQTT-4.6.0-4]: PUBRELs go in the order their PUBRECs arrived, on resumption too.
    let mut sim = connected(resumable(), Properties::new());
    sim.publish(request("r", QoS::ExactlyOnce, b"1"));
    sim.publish(request("r", QoS::ExactlyOnce, b"2"));
    let sent = publishes(&sim.sent());
    let (first, second) = (sent[0].packet_id, sent[1].packet_id);
    sim.deliver(pubrec(second, PubRecReasonCode::Success));
    sim.deliver(pubrec(first, PubRecReasonCode::Success));
    assert_eq!(
        sim.sent(),
        vec![
            Packet::PubRel(PubRel::new(second)),
            Packet::PubRel(PubRel::new(first))
        ]
    );
    sim.lose_connection();
    sim.connect(connack_resumed(Properties::new()));
    assert_eq!(
        sim.sent(),
        vec![
            Packet::PubRel(PubRel::new(second)),
            Packet::PubRel(PubRel::new(first))
        ]
    );
}

#[test]
fn session_lost_requeues_qos1_fails_qos2_and_resubscribes() {
    // [MQTT-3.2.2-5]: Session Present 0 while we hold session state: discard it. QoS 1 goes
    // again as a new message (DUP 0); QoS 2 the server may hold fails with SessionLost; QoS
    // 2 already PUBRECed completes with that PUBREC; subscriptions are renewed.
    let mut sim = connected(resumable(), Properties::new());
    sim.session
        .subscribe(
            vec![sub("s/#", QoS::AtLeastOnce)],
            props([Property::SubscriptionIdentifier(7)]),
            sim.now,
        )
        .unwrap();
    let subscribe = match sim.sent().as_slice() {
        [Packet::Subscribe(s)] => s.clone(),
        other => panic!("{other:?}"),
    };
    sim.deliver(SubAck {
        packet_id: subscribe.packet_id,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos1],
    });
    assert_eq!(sim.events().len(), 1);
    let ([a, b, c], sent) = three_in_flight(&mut sim);
    sim.lose_connection();

    assert!(!sim.open().clean_start);
    sim.deliver(connack(Properties::new()));
    let events = sim.events();
    assert!(
        matches!(events.first(), Some(Event::Connected(info)) if !info.session_present),
        "{events:?}"
    );
    assert_eq!(
        events[1..],
        [
            publish_failed(b, RequestError::SessionLost),
            published(
                c,
                sent[2].packet_id,
                AckReason::PubRec(PubRecReasonCode::Success)
            ),
            Event::SessionLost { resubscribed: 1 },
        ]
    );

    let after = sim.sent();
    assert_eq!(after.len(), 2, "{after:?}");
    let resubscribe: Vec<&Subscribe> = after
        .iter()
        .filter_map(|p| match p {
            Packet::Subscribe(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        resubscribe,
        [&Subscribe {
            packet_id: resubscribe[0].packet_id,
            properties: props([Property::SubscriptionIdentifier(7)]),
            subscriptions: vec![sub("s/#", QoS::AtLeastOnce)],
        }]
    );
    let again: Vec<&Publish> = after
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(
        again,
        [&publish("a", QoS::AtLeastOnce, again[0].packet_id, b"A")],
        "a new PUBLISH: DUP 0"
    );
    assert_ne!(again[0].packet_id, resubscribe[0].packet_id);
    assert_ne!(again[0].packet_id, 0);

    sim.deliver(PubAck::new(again[0].packet_id));
    sim.deliver(SubAck {
        packet_id: resubscribe[0].packet_id,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos1],
    });
    assert_eq!(
        sim.events(),
        vec![published(
            a,
            again[0].packet_id,
            AckReason::PubAck(PubAckReasonCode::Success)
        )],
        "the renewal is midge's own: no SubscribeComplete"
    );
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn session_lost_without_resubscribe_sends_no_subscribe() {
    // `resubscribe: false`: the application renews subscriptions itself.
    let mut sim = connected(
        Options {
            resubscribe: false,
            ..resumable()
        },
        Properties::new(),
    );
    sim.subscribe(vec![sub("s", QoS::AtLeastOnce)]);
    let s = match sim.sent().as_slice() {
        [Packet::Subscribe(s)] => s.packet_id,
        other => panic!("{other:?}"),
    };
    sim.deliver(SubAck {
        packet_id: s,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos1],
    });
    sim.events();
    sim.lose_connection();
    sim.connect(connack(Properties::new()));
    assert_eq!(sim.events(), vec![Event::SessionLost { resubscribed: 0 }]);
    assert_eq!(sim.sent(), vec![]);
}

#[test]
fn inbound_qos2_state_survives_a_resumed_session() {
    // 4.1: inbound QoS 2 not completely acknowledged is session state;
    // [MQTT-4.3.3-10] so a PUBLISH resent after reconnecting is not delivered again.
    let mut sim = connected(resumable(), Properties::new());
    sim.deliver(publish("in", QoS::ExactlyOnce, 3, b"acked"));
    sim.deliver(publish("in", QoS::ExactlyOnce, 4, b"pending"));
    let msgs = messages(sim.events());
    sim.acknowledge(&msgs[0]);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(3))]);
    sim.lose_connection();

    sim.connect(connack_resumed(Properties::new()));
    sim.assert_quiet();
    // The server resends both PUBLISHes [MQTT-4.4.0-1].
    for (id, payload) in [(3, &b"acked"[..]), (4, &b"pending"[..])] {
        sim.deliver(Publish {
            dup: true,
            payload: Bytes::copy_from_slice(payload),
            ..publish("in", QoS::ExactlyOnce, id, b"")
        });
    }
    assert_eq!(sim.events(), vec![], "no second delivery");
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(3))]);
    // The application's acknowledgement still counts after the reconnect.
    sim.acknowledge(&msgs[1]);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(4))]);
    sim.deliver(PubRel::new(3));
    sim.deliver(PubRel::new(4));
    assert_eq!(
        sim.sent(),
        vec![
            Packet::PubComp(PubComp::new(3)),
            Packet::PubComp(PubComp::new(4))
        ]
    );
}

#[test]
fn inbound_qos2_pubrec_owed_since_an_earlier_connection_waits_for_the_resend() {
    // Application-controlled acknowledgements: a QoS 2 message acknowledged after its
    // connection ended keeps its token, and is not delivered again [MQTT-4.3.3-10]. Its
    // PUBREC does not go out blindly after CONNACK: it answers the PUBLISH the server
    // resends on the new connection [MQTT-4.4.0-1], still in arrival order [MQTT-4.6.0-3].
    let mut sim = connected(resumable(), Properties::new());
    sim.deliver(publish("in", QoS::ExactlyOnce, 4, b"four"));
    sim.deliver(publish("in", QoS::ExactlyOnce, 5, b"five"));
    let msgs = messages(sim.events());
    assert_eq!(sim.sent(), vec![]);
    sim.lose_connection();
    // Acknowledged while offline: nothing can go out yet.
    sim.acknowledge(&msgs[1]);
    sim.acknowledge(&msgs[0]);
    sim.connect(connack_resumed(Properties::new()));
    sim.assert_quiet();
    sim.deliver(Publish {
        dup: true,
        ..publish("in", QoS::ExactlyOnce, 4, b"four")
    });
    assert_eq!(sim.events(), vec![], "no second delivery");
    assert_eq!(
        sim.sent(),
        vec![Packet::PubRec(PubRec::new(4))],
        "5 waits for its own resend"
    );
    sim.deliver(Publish {
        dup: true,
        ..publish("in", QoS::ExactlyOnce, 5, b"five")
    });
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(5))]);
    // A second acknowledgement is a no-op.
    sim.acknowledge(&msgs[0]);
    assert_eq!(sim.sent(), vec![]);
    sim.deliver(PubRel::new(4));
    assert_eq!(sim.sent(), vec![Packet::PubComp(PubComp::new(4))]);
}

#[test]
fn inbound_qos1_token_of_an_earlier_connection_is_forgotten() {
    // A QoS 1 message not acknowledged when its connection ended is sent again by the
    // server [MQTT-4.4.0-1] (DUP set) and delivered again (at least once): that delivery
    // carries a new token. The old token sends nothing: a PUBACK on the new connection
    // for a PUBLISH of the old one would acknowledge a message the application may not
    // have in that form, and the server may have reused the identifier.
    let mut sim = connected(resumable(), Properties::new());
    sim.deliver(publish("in", QoS::AtLeastOnce, 7, b"seven"));
    let old = messages(sim.events());
    sim.lose_connection();
    sim.connect(connack_resumed(Properties::new()));
    sim.assert_quiet();
    sim.acknowledge(&old[0]);
    assert_eq!(
        sim.sent(),
        vec![],
        "no PUBACK for the old connection's PUBLISH"
    );
    sim.deliver(Publish {
        dup: true,
        ..publish("in", QoS::AtLeastOnce, 7, b"seven")
    });
    let again = messages(sim.events());
    assert_eq!(again.len(), 1);
    assert!(again[0].dup);
    assert_ne!(again[0].ack, old[0].ack);
    assert_eq!(sim.sent(), vec![]);
    sim.acknowledge(&again[0]);
    assert_eq!(sim.sent(), vec![Packet::PubAck(PubAck::new(7))]);
}

#[test]
fn ack_tokens_are_never_shared_between_sessions() {
    // A token belongs to the session that made it: another session ignores it, even when
    // it holds a message with the same packet identifier.
    let mut a = connected(opts(), Properties::new());
    let mut b = connected(opts(), Properties::new());
    a.deliver(publish("in", QoS::AtLeastOnce, 1, b"a"));
    b.deliver(publish("in", QoS::AtLeastOnce, 1, b"b"));
    let from_a = messages(a.events());
    let from_b = messages(b.events());
    assert_ne!(from_a[0].ack, from_b[0].ack);
    b.acknowledge(&from_a[0]);
    assert_eq!(b.sent(), vec![]);
    b.acknowledge(&from_b[0]);
    assert_eq!(b.sent(), vec![Packet::PubAck(PubAck::new(1))]);
}

#[test]
fn inbound_qos2_state_is_discarded_with_a_lost_session() {
    // [MQTT-3.2.2-5]: with Session Present 0 the inbound QoS 2 state goes too, so the same
    // identifier is a new publication.
    let mut sim = connected(resumable(), Properties::new());
    sim.deliver(publish("in", QoS::ExactlyOnce, 3, b"old"));
    let msgs = messages(sim.events());
    sim.acknowledge(&msgs[0]);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(3))]);
    sim.lose_connection();
    sim.connect(connack(Properties::new()));
    sim.events();
    assert_eq!(sim.sent(), vec![]);
    sim.deliver(publish("in", QoS::ExactlyOnce, 3, b"new"));
    let fresh = messages(sim.events());
    assert_eq!(fresh.len(), 1);
    assert_eq!(&fresh[0].payload[..], b"new");
}

// ==================================================================== offline queue

#[test]
fn offline_publishes_are_sent_in_order_on_connect() {
    // Publishes made while disconnected or connecting wait, in order, for CONNACK
    // ([MQTT-3.1.0-1]: CONNECT goes first).
    let mut sim = Sim::new(opts());
    let a = sim.publish(request("o", QoS::AtLeastOnce, b"a"));
    let b = sim.publish(request("o", QoS::AtMostOnce, b"b"));
    let _c = sim.publish(request("o", QoS::ExactlyOnce, b"c"));
    sim.assert_quiet();
    assert_eq!(sim.session.queued(), 3);
    sim.open();
    let d = sim.publish(request("o", QoS::AtMostOnce, b"d"));
    sim.assert_quiet();
    sim.deliver(connack(Properties::new()));
    let sent = publishes(&sim.sent());
    assert_eq!(
        sent.iter()
            .map(|p| (&p.payload[..], p.qos, p.dup))
            .collect::<Vec<_>>(),
        [
            (&b"a"[..], QoS::AtLeastOnce, false),
            (&b"b"[..], QoS::AtMostOnce, false),
            (&b"c"[..], QoS::ExactlyOnce, false),
            (&b"d"[..], QoS::AtMostOnce, false),
        ]
    );
    let events = sim.events();
    assert!(matches!(events[0], Event::Connected(_)));
    assert_eq!(events[1..], [written(b), written(d)]);
    assert_eq!(sim.session.queued(), 0);
    sim.deliver(PubAck::new(sent[0].packet_id));
    assert_eq!(
        sim.events(),
        vec![published(
            a,
            sent[0].packet_id,
            AckReason::PubAck(PubAckReasonCode::Success)
        )]
    );
}

#[test]
fn offline_queue_is_bounded_by_count() {
    // QueueLimits: past the bound a publish is refused with QueueFull and nothing already
    // queued is dropped.
    let mut sim = Sim::new(Options {
        offline_queue: QueueLimits {
            max_messages: 2,
            max_bytes: 1 << 20,
        },
        ..opts()
    });
    sim.publish(request("o", QoS::AtLeastOnce, b"1"));
    sim.publish(request("o", QoS::AtMostOnce, b"2"));
    assert_eq!(
        sim.session
            .publish(request("o", QoS::AtMostOnce, b"3"), sim.now),
        Err(RequestError::QueueFull)
    );
    assert_eq!(sim.session.queued(), 2);
    sim.assert_quiet();
    sim.connect(connack(Properties::new()));
    assert_eq!(
        publishes(&sim.sent())
            .iter()
            .map(|p| p.payload.clone())
            .collect::<Vec<_>>(),
        [bytes(b"1"), bytes(b"2")]
    );
}

#[test]
fn offline_queue_is_bounded_by_bytes() {
    // The byte bound counts the messages waiting; a smaller message may still fit.
    let mut sim = Sim::new(Options {
        offline_queue: QueueLimits {
            max_messages: 100,
            max_bytes: 2_500,
        },
        ..opts()
    });
    sim.publish(request("o", QoS::AtLeastOnce, &[1; 1_000]));
    sim.publish(request("o", QoS::AtLeastOnce, &[2; 1_000]));
    assert_eq!(
        sim.session
            .publish(request("o", QoS::AtLeastOnce, &[3; 1_000]), sim.now),
        Err(RequestError::QueueFull)
    );
    sim.publish(request("o", QoS::AtLeastOnce, &[4; 100]));
    assert_eq!(sim.session.queued(), 3);
    sim.assert_quiet();
    sim.connect(connack(Properties::new()));
    assert_eq!(
        publishes(&sim.sent())
            .iter()
            .map(|p| (p.payload[0], p.payload.len()))
            .collect::<Vec<_>>(),
        [(1, 1_000), (2, 1_000), (4, 100)]
    );
}

#[test]
fn offline_message_expiry_interval_counts_the_wait() {
    // 3.3.2.3.3: the Message Expiry Interval sent is the interval less the time waited (as
    // the server does, [MQTT-3.3.2-6]); a message whose interval passed is not sent.
    let mut sim = Sim::new(opts());
    let with_expiry = |payload: &'static [u8], secs| PublishRequest {
        properties: props([Property::MessageExpiryInterval(secs)]),
        ..request("o", QoS::AtLeastOnce, payload)
    };
    sim.publish(with_expiry(b"a", 30));
    let expired = sim.publish(with_expiry(b"b", 5));
    sim.publish(request("o", QoS::AtLeastOnce, b"c"));
    sim.at(10);
    sim.connect(connack(Properties::new()));
    let sent = publishes(&sim.sent());
    assert_eq!(
        sent,
        vec![
            Publish {
                properties: props([Property::MessageExpiryInterval(20)]),
                ..publish("o", QoS::AtLeastOnce, sent[0].packet_id, b"a")
            },
            publish("o", QoS::AtLeastOnce, sent[1].packet_id, b"c"),
        ]
    );
    assert_eq!(
        sim.events(),
        vec![publish_failed(expired, RequestError::Expired)]
    );
}

// ==================================================================== SUBSCRIBE, UNSUBSCRIBE

#[test]
fn subscribe_reports_a_reason_code_per_filter() {
    // [MQTT-3.8.4-6] [MQTT-3.9.3-1]: one reason code per filter, in order, surfaced as is.
    let mut sim = connected(opts(), Properties::new());
    let user = props([Property::UserProperty(b("k"), b("v"))]);
    let subscriptions = vec![
        sub("a/b", QoS::AtLeastOnce),
        Subscription {
            filter: b("c/#"),
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: midge::codec::RetainHandling::DoNotSend,
            },
        },
    ];
    let id = sim
        .session
        .subscribe(subscriptions.clone(), user.clone(), sim.now)
        .unwrap();
    let packet_id = match sim.sent().as_slice() {
        [Packet::Subscribe(s)] => {
            assert_eq!(
                s,
                &Subscribe {
                    packet_id: s.packet_id,
                    properties: user,
                    subscriptions,
                }
            );
            s.packet_id
        }
        other => panic!("{other:?}"),
    };
    assert_ne!(packet_id, 0);
    let ack_props = props([Property::ReasonString(b("partly"))]);
    sim.deliver(SubAck {
        packet_id,
        properties: ack_props.clone(),
        reason_codes: vec![
            SubAckReasonCode::GrantedQos1,
            SubAckReasonCode::NotAuthorized,
        ],
    });
    assert_eq!(
        sim.events(),
        vec![Event::SubscribeComplete {
            id,
            result: Ok(SubscribeAck {
                packet_id,
                reason_codes: vec![
                    SubAckReasonCode::GrantedQos1,
                    SubAckReasonCode::NotAuthorized
                ],
                properties: ack_props,
            }),
        }]
    );
    assert_eq!(sim.sent(), vec![]);
}

#[test]
fn suback_with_the_wrong_count_is_a_protocol_error() {
    // [MQTT-3.8.4-6]: a SUBACK has a reason code for each filter; anything else is a
    // Protocol Error (DISCONNECT 0x82, 4.13).
    let mut sim = connected(opts(), Properties::new());
    sim.subscribe(vec![sub("a", QoS::AtMostOnce), sub("b", QoS::AtMostOnce)]);
    let packet_id = packet_id(&sim.sent()[0]);
    sim.deliver(SubAck {
        packet_id,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos0],
    });
    let sent = sim.sent();
    assert_eq!(disconnect_code(&sent), DisconnectReasonCode::ProtocolError);
    let events = sim.events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Disconnected(DisconnectCause::ProtocolError {
                reason_code: DisconnectReasonCode::ProtocolError,
                ..
            })
        )),
        "{events:?}"
    );
    assert!(sim.session.poll_close());
}

#[test]
fn subscribe_answered_by_a_broken_suback_still_completes() {
    // `RequestId`: every request ends in its completion event. A SUBSCRIBE whose SUBACK was
    // rejected as a Protocol Error must complete (with an error), not vanish.
    let mut sim = connected(opts(), Properties::new());
    let id = sim.subscribe(vec![sub("a", QoS::AtMostOnce), sub("b", QoS::AtMostOnce)]);
    let packet_id = packet_id(&sim.sent()[0]);
    sim.deliver(SubAck {
        packet_id,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos0],
    });
    let mut events = sim.events();
    // If the request is kept for the next connection instead, it must be sent again there.
    if !events
        .iter()
        .any(|e| matches!(e, Event::SubscribeComplete { id: i, result: Err(_) } if *i == id))
    {
        sim.open();
        sim.deliver(connack(Properties::new()));
        events.extend(sim.events());
        let resent = sim.sent();
        assert!(
            resent
                .iter()
                .any(|p| matches!(p, Packet::Subscribe(s) if s.subscriptions.len() == 2)),
            "subscribe request {id} neither completed nor resent: {events:?}"
        );
    }
}

#[test]
fn unsubscribe_reports_a_reason_code_per_filter() {
    // [MQTT-3.11.3-1]: one reason code per filter, in order.
    let mut sim = connected(opts(), Properties::new());
    let id = sim
        .session
        .unsubscribe(vec![b("a/b"), b("c/#")], Properties::new(), sim.now)
        .unwrap();
    let packet_id = match sim.sent().as_slice() {
        [Packet::Unsubscribe(u)] => {
            assert_eq!(
                u,
                &Unsubscribe {
                    packet_id: u.packet_id,
                    properties: Properties::new(),
                    filters: vec![b("a/b"), b("c/#")],
                }
            );
            u.packet_id
        }
        other => panic!("{other:?}"),
    };
    sim.deliver(UnsubAck {
        packet_id,
        properties: Properties::new(),
        reason_codes: vec![
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted,
        ],
    });
    assert_eq!(
        sim.events(),
        vec![Event::UnsubscribeComplete {
            id,
            result: Ok(UnsubscribeAck {
                packet_id,
                reason_codes: vec![
                    UnsubAckReasonCode::Success,
                    UnsubAckReasonCode::NoSubscriptionExisted
                ],
                properties: Properties::new(),
            }),
        }]
    );
}

#[test]
fn subscribe_while_disconnected_is_sent_after_connack() {
    // Requests made offline wait for the connection; [MQTT-3.1.0-1] CONNECT goes first.
    let mut sim = Sim::new(opts());
    let id = sim.subscribe(vec![sub("later", QoS::AtLeastOnce)]);
    let unsub = sim
        .session
        .unsubscribe(vec![b("old")], Properties::new(), sim.now)
        .unwrap();
    sim.assert_quiet();
    sim.connect(connack(Properties::new()));
    let sent = sim.sent();
    let (sub_packet, unsub_packet) = match sent.as_slice() {
        [Packet::Subscribe(s), Packet::Unsubscribe(u)] => (s.clone(), u.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        sub_packet.subscriptions,
        vec![sub("later", QoS::AtLeastOnce)]
    );
    assert_eq!(unsub_packet.filters, vec![b("old")]);
    sim.deliver(SubAck {
        packet_id: sub_packet.packet_id,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos1],
    });
    sim.deliver(UnsubAck {
        packet_id: unsub_packet.packet_id,
        properties: Properties::new(),
        reason_codes: vec![UnsubAckReasonCode::Success],
    });
    let events = sim.events();
    assert!(matches!(
        events.as_slice(),
        [
            Event::SubscribeComplete { id: s, result: Ok(_) },
            Event::UnsubscribeComplete { id: u, result: Ok(_) },
        ] if *s == id && *u == unsub
    ));
}

// ==================================================================== DISCONNECT

#[test]
fn server_disconnect_surfaces_reason_string_and_server_reference() {
    // 3.14.2.2: the server's reason code, Reason String and Server Reference reach the
    // application; [MQTT-3.14.4-1] nothing is sent after a DISCONNECT.
    let mut sim = connected(opts(), Properties::new());
    let properties = props([
        Property::ReasonString(b("maintenance")),
        Property::ServerReference(b("backup:1883")),
    ]);
    sim.deliver(Disconnect {
        reason_code: DisconnectReasonCode::UseAnotherServer,
        properties: properties.clone(),
    });
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected(DisconnectCause::Server {
            reason_code: DisconnectReasonCode::UseAnotherServer,
            reason_string: Some(b("maintenance")),
            server_reference: Some(b("backup:1883")),
            properties,
        })]
    );
    assert_eq!(sim.sent(), vec![]);
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
}

#[test]
fn malformed_packet_from_the_server_is_0x81() {
    // [MQTT-2.1.3-1]: reserved fixed-header flags must have their listed values; a PUBACK
    // with flags 1 is a Malformed Packet and the client sends DISCONNECT 0x81 (4.13.1).
    let mut sim = connected(opts(), Properties::new());
    sim.deliver_raw(&[0x41, 0x02, 0x00, 0x01]);
    assert_closed_with(&mut sim, DisconnectReasonCode::MalformedPacket);
    // Nothing after the error is processed.
    let mut more = Vec::new();
    Packet::Publish(publish("late", QoS::AtMostOnce, 0, b"x"))
        .encode(&mut more)
        .unwrap();
    sim.deliver_raw(&more);
    sim.assert_quiet();
}

#[test]
fn packet_above_our_maximum_packet_size_is_0x95() {
    // [MQTT-3.1.2-24]: the server must not exceed our Maximum Packet Size; 3.1.2.11.4: the
    // client answers with DISCONNECT 0x95 (Packet too large).
    let mut sim = Sim::new(Options {
        maximum_packet_size: Some(128),
        ..opts()
    });
    assert_eq!(
        sim.open().properties.get(PropertyId::MaximumPacketSize),
        Some(&Property::MaximumPacketSize(128))
    );
    sim.deliver(connack(Properties::new()));
    sim.events();
    sim.deliver(publish("small", QoS::AtMostOnce, 0, &[0; 100]));
    assert_eq!(messages(sim.events()).len(), 1);
    sim.deliver(publish("big", QoS::AtMostOnce, 0, &[0; 200]));
    assert_closed_with(&mut sim, DisconnectReasonCode::PacketTooLarge);
}

#[test]
fn client_disconnect_with_will_message() {
    // 3.14.2.1: DISCONNECT 0x04 asks the server to publish the Will anyway.
    let mut sim = connected(
        Options {
            will: Some(Will {
                topic: b("status"),
                payload: bytes(b"gone"),
                ..Will::default()
            }),
            ..opts()
        },
        Properties::new(),
    );
    let properties = props([Property::ReasonString(b("shutting down"))]);
    sim.session
        .disconnect(
            DisconnectReasonCode::DisconnectWithWillMessage,
            properties.clone(),
            sim.now,
        )
        .unwrap();
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect {
            reason_code: DisconnectReasonCode::DisconnectWithWillMessage,
            properties,
        })]
    );
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected(DisconnectCause::Client {
            reason_code: DisconnectReasonCode::DisconnectWithWillMessage,
        })]
    );
    assert!(sim.session.poll_close());
    assert!(!sim.session.poll_close(), "poll_close is true once");
    assert_eq!(sim.session.state(), State::Disconnected);
    assert_eq!(
        sim.session.disconnect(
            DisconnectReasonCode::NormalDisconnection,
            Properties::new(),
            sim.now
        ),
        Err(RequestError::NotConnected)
    );
}

#[test]
fn disconnect_session_expiry_is_refused_when_connect_had_zero() {
    // 3.14.2.2.2: a non-zero Session Expiry Interval in DISCONNECT is a Protocol Error when
    // the CONNECT had 0 (absent). (The brief's [MQTT-3.14.2-2] is the server-side rule.)
    let mut sim = connected(opts(), Properties::new());
    assert!(matches!(
        sim.session.disconnect(
            DisconnectReasonCode::NormalDisconnection,
            props([Property::SessionExpiryInterval(60)]),
            sim.now
        ),
        Err(RequestError::InvalidProperties(_))
    ));
    sim.assert_quiet();
    assert_eq!(sim.session.state(), State::Connected);
    assert!(!sim.session.poll_close());
    // Zero is fine, and so is changing a non-zero interval.
    sim.session
        .disconnect(
            DisconnectReasonCode::NormalDisconnection,
            props([Property::SessionExpiryInterval(0)]),
            sim.now,
        )
        .unwrap();
    assert_eq!(
        disconnect_code(&sim.sent()),
        DisconnectReasonCode::NormalDisconnection
    );
    let mut sim = connected(resumable(), Properties::new());
    sim.session
        .disconnect(
            DisconnectReasonCode::NormalDisconnection,
            props([Property::SessionExpiryInterval(600)]),
            sim.now,
        )
        .unwrap();
    assert_eq!(sim.sent().len(), 1);
}

#[test]
fn disconnect_session_expiry_is_refused_when_connect_had_zero_whatever_connack_said() {
    // 3.14.2.2.2 speaks of the value in the CONNECT packet: a CONNACK Session Expiry
    // Interval (3.2.2.3.2) does not make a non-zero value in DISCONNECT legal.
    let mut sim = Sim::new(opts());
    assert_eq!(
        sim.open().properties.get(PropertyId::SessionExpiryInterval),
        None
    );
    sim.deliver(connack(props([Property::SessionExpiryInterval(30)])));
    sim.events();
    assert!(matches!(
        sim.session.disconnect(
            DisconnectReasonCode::NormalDisconnection,
            props([Property::SessionExpiryInterval(60)]),
            sim.now
        ),
        Err(RequestError::InvalidProperties(_))
    ));
    sim.assert_quiet();
    assert_eq!(sim.session.state(), State::Connected);
}

// ==================================================================== enhanced authentication

/// A two-step challenge/response authenticator that records what the server sent.
struct TestAuth {
    log: Arc<Mutex<Vec<String>>>,
}

impl TestAuth {
    fn record(&self, what: &str, data: Option<&[u8]>) {
        let data = data.map_or("-".to_owned(), |d| String::from_utf8_lossy(d).into_owned());
        self.log.lock().unwrap().push(format!("{what}:{data}"));
    }
}

impl Authenticator for TestAuth {
    fn method(&self) -> &'static str {
        "TEST-SCRAM"
    }

    fn initial_data(&mut self) -> Option<Bytes> {
        Some(bytes(b"client-first"))
    }

    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        self.record("challenge", data);
        match data {
            Some(b"server-first") => Ok(Some(bytes(b"client-final"))),
            Some(b"reauth-challenge") => Ok(Some(bytes(b"reauth-answer"))),
            _ => Err("unexpected challenge".to_owned()),
        }
    }

    fn success(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        self.record("success", data);
        if data == Some(&b"forged"[..]) {
            Err("server signature mismatch".to_owned())
        } else {
            Ok(())
        }
    }
}

fn with_auth() -> (Options, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let opts = Options {
        authenticator: Some(Box::new(TestAuth { log: log.clone() })),
        ..opts()
    };
    (opts, log)
}

fn auth(reason_code: AuthReasonCode, data: Option<&'static [u8]>) -> Auth {
    let mut properties = props([Property::AuthenticationMethod(b("TEST-SCRAM"))]);
    if let Some(d) = data {
        properties.push(Property::AuthenticationData(bytes(d)));
    }
    Auth {
        reason_code,
        properties,
    }
}

#[test]
fn enhanced_authentication_challenge_then_connack() {
    // 4.12: CONNECT carries the Authentication Method and Data; [MQTT-4.12.0-3] an AUTH 0x18
    // from the server is answered with AUTH 0x18; [MQTT-4.12.0-5] with the same method;
    // [MQTT-3.1.2-33] nothing but AUTH or DISCONNECT before CONNACK.
    let (opts, log) = with_auth();
    let mut sim = Sim::new(opts);
    let connect = sim.open();
    assert_same_properties(
        &connect.properties,
        &[
            Property::MaximumPacketSize(4 * 1024 * 1024),
            Property::TopicAliasMaximum(16),
            Property::AuthenticationMethod(b("TEST-SCRAM")),
            Property::AuthenticationData(bytes(b"client-first")),
        ],
    );
    let p = sim.publish(request("early", QoS::AtMostOnce, b"x"));
    sim.subscribe(vec![sub("early", QoS::AtMostOnce)]);
    sim.assert_quiet();

    sim.deliver(auth(
        AuthReasonCode::ContinueAuthentication,
        Some(b"server-first"),
    ));
    assert_eq!(
        sim.sent(),
        vec![Packet::Auth(auth(
            AuthReasonCode::ContinueAuthentication,
            Some(b"client-final")
        ))]
    );
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.session.state(), State::Connecting);

    let ack_props = props([
        Property::AuthenticationMethod(b("TEST-SCRAM")),
        Property::AuthenticationData(bytes(b"server-final")),
    ]);
    sim.deliver(connack(ack_props));
    let events = sim.events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Connected(info), e] if info.authentication_method == Some(b("TEST-SCRAM"))
                && info.authentication_data == Some(bytes(b"server-final"))
                && *e == written(p)
        ),
        "{events:?}"
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["challenge:server-first", "success:server-final"]
    );
    let sent = sim.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().any(|p| matches!(p, Packet::Subscribe(_))));
    assert!(sent.iter().any(|p| matches!(p, Packet::Publish(_))));
}

#[test]
fn reauthentication_sends_auth_0x19_and_reports_success() {
    // [MQTT-4.12.1-1]: re-authentication is AUTH 0x19 with the same Authentication Method;
    // the exchange may continue with 0x18 and ends with the server's AUTH 0x00.
    let (opts, log) = with_auth();
    let mut sim = Sim::new(opts);
    sim.connect(connack(props([Property::AuthenticationMethod(b(
        "TEST-SCRAM",
    ))])));
    sim.assert_quiet();
    sim.session.reauthenticate(sim.now).unwrap();
    assert_eq!(
        sim.sent(),
        vec![Packet::Auth(auth(
            AuthReasonCode::ReAuthenticate,
            Some(b"client-first")
        ))]
    );
    sim.deliver(auth(
        AuthReasonCode::ContinueAuthentication,
        Some(b"reauth-challenge"),
    ));
    assert_eq!(
        sim.sent(),
        vec![Packet::Auth(auth(
            AuthReasonCode::ContinueAuthentication,
            Some(b"reauth-answer")
        ))]
    );
    sim.deliver(auth(AuthReasonCode::Success, Some(b"done")));
    assert_eq!(sim.events(), vec![Event::Reauthenticated]);
    assert_eq!(sim.sent(), vec![]);
    assert_eq!(sim.session.state(), State::Connected);
    assert_eq!(
        *log.lock().unwrap(),
        ["success:-", "challenge:reauth-challenge", "success:done"]
    );
}

#[test]
fn reauthentication_needs_an_authenticator_and_a_connection() {
    // [MQTT-4.12.0-7]: no AUTH without an Authentication Method in CONNECT.
    let mut sim = connected(opts(), Properties::new());
    assert!(matches!(
        sim.session.reauthenticate(sim.now),
        Err(RequestError::NotSupported(_))
    ));
    sim.assert_quiet();
    let (opts, _) = with_auth();
    let mut sim = Sim::new(opts);
    assert_eq!(
        sim.session.reauthenticate(sim.now),
        Err(RequestError::NotConnected)
    );
    sim.assert_quiet();
}

#[test]
fn authenticator_rejecting_a_challenge_ends_the_connection() {
    // 4.12: the client may abort the exchange; it sends DISCONNECT (allowed before CONNACK
    // by [MQTT-3.1.2-33]) with a failure reason code and closes the connection.
    let (opts, _) = with_auth();
    let mut sim = Sim::new(opts);
    sim.open();
    sim.deliver(auth(
        AuthReasonCode::ContinueAuthentication,
        Some(b"garbage"),
    ));
    let code = disconnect_code(&sim.sent());
    assert!(code.is_failure(), "{code:?}");
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected(DisconnectCause::Authentication(
            "unexpected challenge".into()
        ))]
    );
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
}

#[test]
fn authenticator_rejecting_the_connack_data_ends_the_connection() {
    // 4.12: the server's final data (in CONNACK) fails verification: no Connected event.
    let (opts, _) = with_auth();
    let mut sim = Sim::new(opts);
    sim.open();
    sim.deliver(connack(props([
        Property::AuthenticationMethod(b("TEST-SCRAM")),
        Property::AuthenticationData(bytes(b"forged")),
    ])));
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected(DisconnectCause::Authentication(
            "server signature mismatch".into()
        ))]
    );
    assert!(disconnect_code(&sim.sent()).is_failure());
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
}

// ==================================================================== QoS 2: the PUBREC's word

#[test]
fn qos2_reports_the_pubrec_reason_code_and_properties_after_pubcomp() {
    // 3.5.2.1: PUBREC 0x10 (No matching subscribers) is a success [MQTT-4.3.3-4]: PUBREL
    // follows, and the publish completes on PUBCOMP, reporting what the PUBREC said (its
    // reason code, Reason String and User Properties), followed by the PUBCOMP's properties.
    let mut sim = connected(opts(), Properties::new());
    let id = sim.publish(request("nobody/here", QoS::ExactlyOnce, b"x"));
    let p = one_publish(&sim.sent());
    sim.deliver(PubRec {
        packet_id: p.packet_id,
        reason_code: PubRecReasonCode::NoMatchingSubscribers,
        properties: props([
            Property::ReasonString(b("no subscribers")),
            Property::UserProperty(b("k"), b("v")),
        ]),
    });
    assert_eq!(sim.sent(), vec![Packet::PubRel(PubRel::new(p.packet_id))]);
    assert_eq!(sim.events(), vec![]);
    sim.deliver(PubComp {
        packet_id: p.packet_id,
        reason_code: PubCompReasonCode::Success,
        properties: props([Property::UserProperty(b("from"), b("pubcomp"))]),
    });
    assert_eq!(
        sim.events(),
        vec![Event::PublishComplete {
            id,
            result: Ok(PublishAck {
                packet_id: p.packet_id,
                reason: AckReason::PubRec(PubRecReasonCode::NoMatchingSubscribers),
                properties: props([
                    Property::ReasonString(b("no subscribers")),
                    Property::UserProperty(b("k"), b("v")),
                    Property::UserProperty(b("from"), b("pubcomp")),
                ]),
            }),
        }]
    );
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn qos2_pubcomp_failure_is_reported_over_the_pubrec_code() {
    // 3.7.2.1: PUBCOMP 0x92 (Packet Identifier not found) means the server lost the
    // exchange: that is the outcome, not the PUBREC's 0x10.
    let mut sim = connected(opts(), Properties::new());
    let id = sim.publish(request("t", QoS::ExactlyOnce, b"x"));
    let p = one_publish(&sim.sent());
    sim.deliver(pubrec(p.packet_id, PubRecReasonCode::NoMatchingSubscribers));
    sim.sent();
    sim.deliver(PubComp {
        packet_id: p.packet_id,
        reason_code: PubCompReasonCode::PacketIdentifierNotFound,
        properties: Properties::new(),
    });
    assert_eq!(
        sim.events(),
        vec![publish_failed(
            id,
            RequestError::Refused(AckReason::PubComp(
                PubCompReasonCode::PacketIdentifierNotFound
            ))
        )]
    );
}

#[test]
fn qos2_pubrec_reason_survives_a_lost_session() {
    // [MQTT-3.2.2-5]: a released message whose session the server did not keep completes
    // with the PUBREC it had, reason code and properties.
    let mut sim = connected(resumable(), Properties::new());
    let id = sim.publish(request("t", QoS::ExactlyOnce, b"x"));
    let p = one_publish(&sim.sent());
    sim.deliver(PubRec {
        packet_id: p.packet_id,
        reason_code: PubRecReasonCode::NoMatchingSubscribers,
        properties: props([Property::ReasonString(b("nobody"))]),
    });
    sim.sent();
    sim.lose_connection();
    sim.connect(connack(Properties::new()));
    let events = sim.events();
    assert!(
        events.contains(&Event::PublishComplete {
            id,
            result: Ok(PublishAck {
                packet_id: p.packet_id,
                reason: AckReason::PubRec(PubRecReasonCode::NoMatchingSubscribers),
                properties: props([Property::ReasonString(b("nobody"))]),
            }),
        }),
        "{events:?}"
    );
}

// ==================================================================== not an MQTT server

/// The server answers CONNECT with `greeting`, in pieces of `chunk` bytes: the session must
/// end the connection with `NotMqtt`, send nothing back, and say so in words.
fn assert_not_mqtt(greeting: &[u8], chunk: usize) -> String {
    let mut sim = Sim::new(opts());
    sim.open();
    for piece in greeting.chunks(chunk) {
        sim.deliver_raw(piece);
        if sim.session.state() != State::Connecting {
            break;
        }
    }
    assert_eq!(
        sim.sent(),
        vec![],
        "nothing goes back to a server that is not MQTT"
    );
    let events = sim.events();
    let [Event::Disconnected(cause @ DisconnectCause::NotMqtt { received })] = events.as_slice()
    else {
        panic!("expected Disconnected(NotMqtt), got {events:?}");
    };
    assert!(greeting.starts_with(received) && !received.is_empty() && received.len() <= 32);
    assert!(sim.session.poll_close());
    assert_eq!(sim.session.state(), State::Disconnected);
    let text = cause.to_string();
    assert!(text.starts_with("expected CONNACK, got 0x"), "{text}");
    assert!(text.ends_with("is this an MQTT server?"), "{text}");
    text
}

#[test]
fn a_nats_server_is_reported_as_not_mqtt() {
    // NATS greets every client with INFO; 'I' (0x49) would decode as a PUBACK with reserved
    // flags 0x9. [MQTT-3.2.0-1]: an MQTT server's first packet is CONNACK (or AUTH).
    let greeting = br#"INFO {"server_id":"NDJ2","version":"2.10.1","proto":1,"max_payload":1048576}
"#;
    for chunk in [1, 5, greeting.len()] {
        let text = assert_not_mqtt(greeting, chunk);
        assert!(text.contains("got 0x49"), "{text}");
        if chunk > 1 {
            assert!(text.contains("(\"INFO"), "{text}");
        }
    }
}

#[test]
fn a_mysql_server_is_reported_as_not_mqtt() {
    // A MySQL handshake: 3-byte length, sequence 0, protocol 10, the version string.
    let mut greeting = vec![0x4a, 0x00, 0x00, 0x00, 0x0a];
    greeting.extend_from_slice(b"8.0.36\0\x08\0\0\0");
    let text = assert_not_mqtt(&greeting, greeting.len());
    assert!(text.contains("got 0x4A"), "{text}");
    assert!(text.contains("8.0.36"), "{text}");
}

#[test]
fn an_http_server_is_reported_as_not_mqtt() {
    let response = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    let text = assert_not_mqtt(response, 7);
    assert!(text.contains("got 0x48"), "{text}");
}

#[test]
fn connack_disconnect_and_auth_may_come_first() {
    // The first byte of CONNACK, and of a DISCONNECT sent instead of a refusing CONNACK,
    // pass the check even when they arrive alone; AUTH passes with an authenticator.
    let mut sim = Sim::new(opts());
    sim.open();
    let mut bytes = Vec::new();
    Packet::from(connack(Properties::new()))
        .encode(&mut bytes)
        .expect("encodes");
    sim.deliver_raw(&bytes[..1]);
    assert_eq!(sim.events(), vec![]);
    sim.deliver_raw(&bytes[1..]);
    assert!(matches!(sim.events().as_slice(), [Event::Connected(_)]));

    let mut sim = Sim::new(opts());
    sim.open();
    sim.deliver(Disconnect::new(DisconnectReasonCode::ServerBusy));
    assert!(matches!(
        sim.events().as_slice(),
        [Event::Disconnected(DisconnectCause::Server {
            reason_code: DisconnectReasonCode::ServerBusy,
            ..
        })]
    ));

    // Without an authenticator, AUTH cannot be a reply to our CONNECT.
    let mut sim = Sim::new(opts());
    sim.open();
    sim.deliver(Auth {
        reason_code: AuthReasonCode::ContinueAuthentication,
        properties: props([Property::AuthenticationMethod(b("X"))]),
    });
    assert!(matches!(
        sim.events().as_slice(),
        [Event::Disconnected(DisconnectCause::NotMqtt { .. })]
    ));
}

#[test]
fn the_first_byte_check_applies_to_each_new_connection_only() {
    // Once connected, bytes are MQTT packets again (a malformed one is a codec error); the
    // next connection is checked afresh.
    let mut sim = connected(opts(), Properties::new());
    sim.deliver_raw(b"I");
    assert!(matches!(
        sim.events().as_slice(),
        [Event::Disconnected(DisconnectCause::ProtocolError { .. })]
    ));
    sim.open();
    sim.deliver_raw(b"INFO");
    assert!(matches!(
        sim.events().as_slice(),
        [Event::Disconnected(DisconnectCause::NotMqtt { .. })]
    ));
}

// ==================================================================== application topic aliases

fn by_alias(topic: &'static str, alias: u16, payload: &'static [u8]) -> PublishRequest {
    PublishRequest {
        topic_alias: Some(alias),
        ..request(topic, QoS::AtMostOnce, payload)
    }
}

/// The PUBLISH as the wire carries it: its topic and its Topic Alias, if any.
fn wire_form(p: &Publish) -> (String, Option<u16>) {
    let alias = match p.properties.get(PropertyId::TopicAlias) {
        Some(Property::TopicAlias(a)) => Some(*a),
        _ => None,
    };
    (p.topic.to_string(), alias)
}

fn sent_forms(sim: &mut Sim) -> Vec<(String, Option<u16>)> {
    publishes(&sim.sent()).iter().map(wire_form).collect()
}

#[test]
fn application_topic_alias_binds_then_publishes_by_alias() {
    // 3.3.2.3.4: a PUBLISH with a topic and a Topic Alias sets the mapping; one with an
    // empty topic and the alias uses it.
    let mut sim = connected(
        Options {
            auto_topic_alias: false,
            ..opts()
        },
        props([Property::TopicAliasMaximum(4)]),
    );
    sim.publish(by_alias("sensors/1/temperature", 4, b"20"));
    sim.publish(by_alias("", 4, b"21"));
    let sent = publishes(&sim.sent());
    assert_eq!(
        sent.iter().map(wire_form).collect::<Vec<_>>(),
        vec![
            ("sensors/1/temperature".into(), Some(4)),
            (String::new(), Some(4)),
        ]
    );
    assert_eq!(&sent[1].payload[..], b"21");
    // Topics without an alias stay as they are (automatic aliasing is off).
    sim.publish(request("other", QoS::AtMostOnce, b"x"));
    assert_eq!(sent_forms(&mut sim), vec![("other".into(), None)]);
}

#[test]
fn application_topic_alias_above_the_server_maximum_is_refused() {
    // [MQTT-3.3.2-9]: never a Topic Alias above the server's Topic Alias Maximum (absent
    // means 0: no aliases at all). [MQTT-3.3.2-8]: never 0.
    let mut sim = connected(opts(), props([Property::TopicAliasMaximum(4)]));
    assert_eq!(
        sim.session.publish(by_alias("t", 5, b"x"), sim.now),
        Err(RequestError::TopicAliasInvalid {
            alias: 5,
            maximum: 4
        })
    );
    assert_eq!(
        sim.session.publish(by_alias("t", 0, b"x"), sim.now),
        Err(RequestError::InvalidProperties(
            CodecError::InvalidPropertyValue {
                property: PropertyId::TopicAlias,
                value: 0
            }
        ))
    );
    sim.assert_quiet();

    let mut sim = connected(opts(), Properties::new());
    assert_eq!(
        sim.session.publish(by_alias("t", 1, b"x"), sim.now),
        Err(RequestError::TopicAliasInvalid {
            alias: 1,
            maximum: 0
        })
    );
    sim.assert_quiet();
}

#[test]
fn publish_by_an_unbound_alias_is_refused() {
    // 3.3.2.3.4: an empty topic with an alias that has no mapping is a Protocol Error the
    // server would close the connection for (0x82), so it is refused and nothing is sent.
    let mut sim = connected(opts(), props([Property::TopicAliasMaximum(4)]));
    assert_eq!(
        sim.session.publish(by_alias("", 2, b"x"), sim.now),
        Err(RequestError::UnknownTopicAlias(2))
    );
    // A refused binding binds nothing.
    let bad = PublishRequest {
        qos: QoS::ExactlyOnce,
        ..by_alias("t", 2, b"x")
    };
    let mut sim = connected(
        opts(),
        props([
            Property::TopicAliasMaximum(4),
            Property::MaximumQos(QoS::AtLeastOnce),
        ]),
    );
    assert!(matches!(
        sim.session.publish(bad, sim.now),
        Err(RequestError::QosNotSupported { .. })
    ));
    assert_eq!(
        sim.session.publish(by_alias("", 2, b"x"), sim.now),
        Err(RequestError::UnknownTopicAlias(2))
    );
    sim.assert_quiet();
}

#[test]
fn application_topic_aliases_are_sent_with_their_topic_again_after_a_reconnect() {
    // [MQTT-3.3.2-7]: no Topic Alias mapping carries over to a new Network Connection. midge
    // remembers the application's binding, so a publish by alias alone after a reconnect is
    // sent with its topic (and the alias, which binds it again on that connection).
    let mut sim = connected(opts(), props([Property::TopicAliasMaximum(4)]));
    sim.publish(by_alias("a/b", 3, b"1"));
    sim.publish(by_alias("", 3, b"2"));
    assert_eq!(
        sent_forms(&mut sim),
        vec![("a/b".into(), Some(3)), (String::new(), Some(3))]
    );
    sim.events();
    sim.lose_connection();
    // Queued while offline, by alias alone: resolved when accepted.
    let queued = sim.publish(by_alias("", 3, b"3"));
    sim.connect(connack(props([Property::TopicAliasMaximum(4)])));
    sim.publish(by_alias("", 3, b"4"));
    let sent = publishes(&sim.sent());
    assert_eq!(
        sent.iter().map(wire_form).collect::<Vec<_>>(),
        vec![("a/b".into(), Some(3)), (String::new(), Some(3))]
    );
    assert_eq!(&sent[0].payload[..], b"3");
    assert!(sim.events().contains(&written(queued)));

    // A new server maximum below the alias: the queued publish fails clearly.
    sim.lose_connection();
    let late = sim.publish(by_alias("", 3, b"5"));
    sim.connect(connack(props([Property::TopicAliasMaximum(2)])));
    assert_eq!(
        sim.events(),
        vec![publish_failed(
            late,
            RequestError::TopicAliasInvalid {
                alias: 3,
                maximum: 2
            }
        )]
    );
    assert_eq!(sim.sent(), vec![]);
}

#[test]
fn application_and_automatic_topic_aliases_share_the_server_maximum() {
    // Automatic aliases take the lowest aliases the application has not chosen; an alias
    // the application rebinds to another topic is that topic's from then on (3.3.2.3.4).
    let mut sim = connected(opts(), props([Property::TopicAliasMaximum(3)]));
    sim.publish(by_alias("app", 1, b"x"));
    sim.publish(request("auto/1", QoS::AtMostOnce, b"x"));
    sim.publish(request("auto/2", QoS::AtMostOnce, b"x"));
    sim.publish(request("auto/3", QoS::AtMostOnce, b"x"));
    sim.publish(request("auto/1", QoS::AtMostOnce, b"x"));
    sim.publish(by_alias("", 1, b"x"));
    assert_eq!(
        sent_forms(&mut sim),
        vec![
            ("app".into(), Some(1)),
            ("auto/1".into(), Some(2)),
            ("auto/2".into(), Some(3)),
            ("auto/3".into(), None),
            (String::new(), Some(2)),
            (String::new(), Some(1)),
        ]
    );
    // The application rebinds alias 2: auto/1 loses it and is sent in full.
    sim.publish(by_alias("app/2", 2, b"x"));
    sim.publish(request("auto/1", QoS::AtMostOnce, b"x"));
    sim.publish(by_alias("", 2, b"x"));
    assert_eq!(
        sent_forms(&mut sim),
        vec![
            ("app/2".into(), Some(2)),
            ("auto/1".into(), None),
            (String::new(), Some(2)),
        ]
    );
}

#[test]
fn a_qos1_publish_by_alias_is_resent_with_its_topic() {
    // [MQTT-4.4.0-1] with [MQTT-3.3.2-7]: a resent PUBLISH cannot rely on an alias of the
    // old connection; midge resends the full topic without an alias.
    let mut sim = connected(resumable(), props([Property::TopicAliasMaximum(4)]));
    sim.publish(by_alias("q/1", 1, b"a"));
    sim.publish(PublishRequest {
        qos: QoS::AtLeastOnce,
        ..by_alias("", 1, b"b")
    });
    let sent = publishes(&sim.sent());
    assert_eq!(wire_form(&sent[1]), (String::new(), Some(1)));
    sim.events();
    sim.lose_connection();
    sim.connect(connack_resumed(props([Property::TopicAliasMaximum(4)])));
    let resent = one_publish(&sim.sent());
    assert!(resent.dup);
    assert_eq!(wire_form(&resent), ("q/1".into(), None));
    assert_eq!(&resent.payload[..], b"b");
}

// ==================================================================== connect-time options changed

fn will_to(topic: &'static str, payload: &'static [u8]) -> Will {
    Will {
        topic: b(topic),
        payload: bytes(payload),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::new(),
    }
}

#[test]
fn will_credentials_and_clean_start_change_for_the_next_connect() {
    // 3.1.3.2, 3.1.3.5, 3.1.3.6, 3.1.2.4: what the next CONNECT carries can change between
    // connections without a new session; the live connection keeps what it had.
    use midge::protocol::ConnectChange;
    let mut sim = Sim::new(Options {
        username: Some(b("old-user")),
        password: Some(bytes(b"old-pass")),
        will: Some(will_to("wills/old", b"old")),
        ..resumable()
    });
    let first = sim.open();
    assert!(first.clean_start);
    assert_eq!(first.username, Some(b("old-user")));
    sim.deliver(connack(Properties::new()));
    sim.events();

    for change in [
        ConnectChange::Will(Some(will_to("wills/new", b"new"))),
        ConnectChange::Credentials {
            username: Some(b("new-user")),
            password: Some(bytes(b"new-pass")),
        },
        ConnectChange::CleanStart(true),
    ] {
        sim.session.change_connect(change).expect("accepted");
    }
    // Nothing is sent for it: the live connection is unchanged.
    sim.assert_quiet();
    sim.lose_connection();

    // The reconnection: a resumable session would ask Clean Start 0, but the application
    // asked for 1 this once.
    let second = sim.open();
    assert!(second.clean_start);
    assert_eq!(second.will, Some(will_to("wills/new", b"new")));
    assert_eq!(second.username, Some(b("new-user")));
    assert_eq!(second.password, Some(bytes(b"new-pass")));
    sim.deliver(connack(Properties::new()));
    sim.events();
    sim.lose_connection();

    // The override is spent; the new Will and credentials stay. Removing them works too.
    sim.session
        .change_connect(ConnectChange::Will(None))
        .expect("accepted");
    sim.session
        .change_connect(ConnectChange::Credentials {
            username: None,
            password: None,
        })
        .expect("accepted");
    let third = sim.open();
    assert!(!third.clean_start);
    assert_eq!(third.will, None);
    assert_eq!((third.username, third.password), (None, None));
}

#[test]
fn clean_start_0_may_be_asked_for_the_first_connect_and_invalid_wills_are_refused() {
    use midge::protocol::ConnectChange;
    let mut sim = Sim::new(resumable());
    sim.session
        .change_connect(ConnectChange::CleanStart(false))
        .expect("accepted");
    // 3.1.2.4: resuming a session kept from an earlier process needs Clean Start 0 on this
    // client's first CONNECT.
    assert!(!sim.open().clean_start);
    // A Will Topic is a Topic Name (3.1.3.3, 4.7): no wildcards. The old Will stays.
    assert_eq!(
        sim.session
            .change_connect(ConnectChange::Will(Some(will_to("wills/#", b"x")))),
        Err(RequestError::InvalidTopic(TopicError::WildcardInTopicName))
    );
    sim.session.close();
    assert_eq!(
        sim.session.change_connect(ConnectChange::CleanStart(true)),
        Err(RequestError::Closed)
    );
}

#[test]
fn a_clean_start_asked_for_during_a_connect_is_for_the_next_one_and_survives_a_failed_attempt() {
    use midge::protocol::ConnectChange;
    let mut sim = Sim::new(resumable());
    sim.connect(connack(Properties::new()));
    sim.lose_connection();
    // CONNECT sent (Clean Start 0: resuming); the application asks for 1 before CONNACK.
    assert!(!sim.open().clean_start);
    sim.session
        .change_connect(ConnectChange::CleanStart(true))
        .expect("accepted");
    sim.deliver(connack_resumed(Properties::new()));
    sim.events();
    sim.lose_connection();
    // Not spent by that CONNACK; an attempt that fails before CONNACK does not spend it
    // either.
    assert!(sim.open().clean_start);
    sim.lose_connection();
    assert!(sim.open().clean_start);
    sim.deliver(connack(Properties::new()));
    sim.events();
    sim.lose_connection();
    assert!(!sim.open().clean_start);
}

#[test]
fn awaits_server_while_the_server_owes_an_answer() {
    // What the runtime asks the kernel to acknowledge at once for: a QoS 1/2 publish's
    // acknowledgement [MQTT-4.3.2-3], a PUBREL for a QoS 2 message received
    // [MQTT-4.3.3-8], a SUBACK, an UNSUBACK, a PINGRESP. Nothing else: a QoS 0 publish or a QoS 1
    // message received owes no answer from the server.
    let mut sim = connected(opts(), Properties::new());
    assert!(!sim.session.awaits_server());
    sim.publish(request("t/0", QoS::AtMostOnce, b"0"));
    sim.sent();
    assert!(!sim.session.awaits_server(), "QoS 0");

    sim.publish(request("t/1", QoS::AtLeastOnce, b"1"));
    let p = one_publish(&sim.sent());
    assert!(sim.session.awaits_server(), "PUBACK owed");
    sim.deliver(PubAck::new(p.packet_id));
    sim.events();
    assert!(!sim.session.awaits_server(), "PUBACK came");

    sim.subscribe(vec![sub("s/#", QoS::ExactlyOnce)]);
    let subscribe = match sim.sent().as_slice() {
        [Packet::Subscribe(s)] => s.clone(),
        other => panic!("{other:?}"),
    };
    assert!(sim.session.awaits_server(), "SUBACK owed");
    sim.deliver(SubAck {
        packet_id: subscribe.packet_id,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos2],
    });
    sim.events();
    assert!(!sim.session.awaits_server(), "SUBACK came");

    sim.deliver(publish("s/1", QoS::AtLeastOnce, 7, b"q1"));
    let m = messages(sim.events());
    sim.acknowledge(&m[0]);
    sim.sent();
    assert!(
        !sim.session.awaits_server(),
        "a QoS 1 message received owes us nothing"
    );
    sim.deliver(publish("s/2", QoS::ExactlyOnce, 8, b"q2"));
    let m = messages(sim.events());
    sim.acknowledge(&m[0]);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(8))]);
    assert!(sim.session.awaits_server(), "PUBREL owed");
    sim.deliver(PubRel::new(8));
    sim.sent();
    sim.events();
    assert!(!sim.session.awaits_server(), "PUBREL came");

    // [MQTT-3.10.4-4]: an UNSUBSCRIBE is answered by an UNSUBACK.
    sim.session
        .unsubscribe(vec![b("s/#")], Properties::new(), sim.now)
        .unwrap();
    let packet_id = match sim.sent().as_slice() {
        [Packet::Unsubscribe(u)] => u.packet_id,
        other => panic!("{other:?}"),
    };
    assert!(sim.session.awaits_server(), "UNSUBACK owed");
    sim.deliver(UnsubAck {
        packet_id,
        properties: Properties::new(),
        reason_codes: vec![UnsubAckReasonCode::Success],
    });
    sim.events();
    assert!(!sim.session.awaits_server(), "UNSUBACK came");

    // [MQTT-3.1.2-20] a PINGREQ at the keep-alive deadline, answered by PINGRESP.
    let mut sim = Sim::new(Options {
        keep_alive: 10,
        ..opts()
    });
    sim.open();
    sim.deliver(connack(Properties::new()));
    sim.events();
    sim.at(10);
    sim.session.handle_timeout(sim.now);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
    assert!(sim.session.awaits_server(), "PINGRESP owed");
    sim.deliver(Packet::PingResp);
    assert!(!sim.session.awaits_server(), "PINGRESP came");
}
