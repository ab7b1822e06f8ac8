//! The client session (`midge::protocol`) speaking MQTT 3.1.1, and falling back to it from
//! 5.0, in scripted conversations on a virtual clock.
//!
//! The test plays the server: it decodes what the session transmitted (in the version the
//! session speaks), answers with bytes it encodes itself, and moves a virtual clock.
//! Normative statement numbers are those of the OASIS MQTT Version 3.1.1 standard
//! (29 October 2014) unless they say 5.0.

#![allow(clippy::too_many_lines)]

use std::time::{Duration, Instant};

use midge::codec::{
    ByteString, Bytes, ConnAck, Connect, ConnectReasonCode, Decoder, DisconnectReasonCode, Packet,
    Properties, Property, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, SubAck,
    SubAckReasonCode, Subscription, SubscriptionOptions, UnsubAck, Will,
};
use midge::protocol::{
    AckReason, DisconnectCause, Event, Message, Options, PublishAck, PublishRequest, RequestError,
    Session, State, SubscribeAck, UnsubscribeAck, VersionChoice,
};

// ==================================================================== harness

struct Sim {
    t0: Instant,
    now: Instant,
    session: Session,
}

impl Sim {
    fn new(opts: Options) -> Self {
        opts.check_version().expect("options 3.1.1 can carry");
        let t0 = Instant::now();
        Self {
            t0,
            now: t0,
            session: Session::new(opts, t0),
        }
    }

    fn at(&mut self, secs: u64) {
        self.now = self.t0 + Duration::from_secs(secs);
    }

    fn raw(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.session.take_transmit(&mut bytes);
        bytes
    }

    /// What the client sent, decoded by the rules of the version it speaks.
    fn sent(&mut self) -> Vec<Packet> {
        let version = self.session.protocol_version();
        decode_all(&self.raw(), version)
    }

    /// The server sends `packet` in 3.1.1 form.
    fn deliver(&mut self, packet: impl Into<Packet>) {
        let mut bytes = Vec::new();
        packet
            .into()
            .encode_v311(&mut bytes)
            .expect("the server's packet encodes in 3.1.1");
        self.session.handle_read(&bytes, self.now);
    }

    /// The server sends `packet` in 5.0 form.
    fn deliver_v5(&mut self, packet: impl Into<Packet>) {
        let mut bytes = Vec::new();
        packet.into().encode(&mut bytes).expect("5.0 encodes");
        self.session.handle_read(&bytes, self.now);
    }

    fn deliver_raw(&mut self, bytes: &[u8]) {
        self.session.handle_read(bytes, self.now);
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// The transport is up: the CONNECT, its raw bytes, which must be all that was sent.
    fn open(&mut self) -> (Connect, Vec<u8>) {
        self.session.connection_opened(self.now);
        let raw = self.raw();
        let version = self.session.protocol_version();
        match decode_all(&raw, version).as_slice() {
            [Packet::Connect(c)] => ((**c).clone(), raw),
            other => panic!("expected exactly one CONNECT, got {other:?}"),
        }
    }

    fn connect(&mut self, session_present: bool) -> midge::protocol::ConnAckInfo {
        self.open();
        self.deliver(connack(session_present, ConnectReasonCode::Success));
        match self.session.poll_event() {
            Some(Event::Connected(info)) => *info,
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    fn lose_connection(&mut self) {
        self.session.connection_closed(reset());
        assert_eq!(self.events(), vec![Event::Disconnected(reset())]);
        assert!(!self.session.poll_fallback());
    }

    fn acknowledge(&mut self, m: &Message) {
        self.session
            .acknowledge(m.ack.expect("QoS 1/2 carry a token"), self.now);
    }
}

fn decode_all(bytes: &[u8], version: ProtocolVersion) -> Vec<Packet> {
    let mut d = Decoder::new();
    d.set_version(version);
    d.feed(bytes);
    let mut out = Vec::new();
    while let Some(p) = d
        .next_packet()
        .expect("the client sends well-formed packets")
    {
        out.push(p);
    }
    assert_eq!(d.buffered(), 0);
    out
}

fn b(s: &'static str) -> ByteString {
    ByteString::from_static(s)
}

fn v311() -> Options {
    Options {
        protocol_version: VersionChoice::V311,
        client_id: b("midge-v311"),
        ..Options::default()
    }
}

/// Clean Session 0: the session outlives the connection with no expiry.
fn persistent() -> Options {
    Options {
        clean_start: false,
        session_expiry_interval: u32::MAX,
        ..v311()
    }
}

fn connack(session_present: bool, reason_code: ConnectReasonCode) -> ConnAck {
    ConnAck {
        session_present,
        reason_code,
        properties: Properties::new(),
    }
}

fn request(topic: &'static str, qos: QoS, payload: &'static [u8]) -> PublishRequest {
    PublishRequest {
        topic: b(topic),
        payload: Bytes::from_static(payload),
        qos,
        ..PublishRequest::default()
    }
}

fn publish(topic: &'static str, qos: QoS, packet_id: u16, payload: &'static [u8]) -> Publish {
    Publish {
        topic: b(topic),
        qos,
        packet_id,
        payload: Bytes::from_static(payload),
        ..Publish::default()
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

fn reset() -> DisconnectCause {
    DisconnectCause::Transport {
        detail: "connection reset".into(),
        errno: None,
    }
}

fn acked(id: u64, packet_id: u16, reason: AckReason) -> Event {
    Event::PublishComplete {
        id,
        result: Ok(PublishAck {
            packet_id,
            reason,
            properties: Properties::new(),
        }),
    }
}

fn messages(events: Vec<Event>) -> Vec<Message> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m,
            other => panic!("expected messages, got {other:?}"),
        })
        .collect()
}

// ==================================================================== connect

#[test]
fn connect_is_level_4_without_properties_and_connack_reports_3_1_1() {
    let mut sim = Sim::new(Options {
        will: Some(Will {
            topic: b("will/t"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::new(),
        }),
        username: Some(b("u")),
        password: Some(Bytes::from_static(b"p")),
        keep_alive: 30,
        ..v311()
    });
    let (connect, raw) = sim.open();
    // [MQTT-3.1.2-1] "MQTT", [MQTT-3.1.2-2] level 4; flags: user name, password, Will
    // Retain, Will QoS 1, Will, Clean Session [MQTT-3.1.2-6]; keep alive 30; no property
    // length follows (a 5.0 CONNECT has one).
    assert_eq!(
        &raw[2..12],
        &[0, 4, b'M', b'Q', b'T', b'T', 4, 0b1110_1110, 0, 30]
    );
    assert_eq!(
        &raw[12..14],
        &[0, 10],
        "the Client Identifier follows at once"
    );
    assert!(connect.clean_start);
    assert!(connect.properties.is_empty());
    sim.deliver(connack(false, ConnectReasonCode::Success));
    let Some(Event::Connected(info)) = sim.session.poll_event() else {
        panic!("expected Connected");
    };
    assert_eq!(info.protocol_version, ProtocolVersion::V311);
    assert_eq!(sim.session.protocol_version(), ProtocolVersion::V311);
    assert_eq!(info.keep_alive, 30, "3.1.1 has no Server Keep Alive");
    assert!(!info.subscription_identifiers_available);
    assert_eq!(info.topic_alias_maximum, 0);
    assert_eq!(sim.session.state(), State::Connected);
    // [MQTT-3.1.2-24] keep alive: PINGREQ (two bytes) after 30 s of silence.
    sim.at(30);
    sim.session.handle_timeout(sim.now);
    assert_eq!(sim.raw(), vec![0xC0, 0x00]);
}

#[test]
fn refusals_are_reported_with_the_return_code_as_a_5_0_reason() {
    // Table 3.1: return codes 1-5; midge reports the 5.0 reason code that means the same.
    for (raw, reason) in [
        (1, ConnectReasonCode::UnsupportedProtocolVersion),
        (2, ConnectReasonCode::ClientIdentifierNotValid),
        (3, ConnectReasonCode::ServerUnavailable),
        (4, ConnectReasonCode::BadUserNameOrPassword),
        (5, ConnectReasonCode::NotAuthorized),
    ] {
        let mut sim = Sim::new(v311());
        sim.open();
        sim.deliver_raw(&[0x20, 0x02, 0x00, raw]);
        let events = sim.events();
        assert!(
            matches!(&events[..], [Event::Disconnected(DisconnectCause::Refused(r))]
                if r.reason_code == reason),
            "{raw}: {events:?}"
        );
        assert!(sim.session.poll_close());
        assert!(
            !sim.session.poll_fallback(),
            "3.1.1 only: nothing to fall back to"
        );
    }
}

#[test]
fn session_present_after_clean_session_1_is_a_protocol_error_closed_without_disconnect() {
    // [MQTT-3.2.2-1] Clean Session 1 gets Session Present 0. A 3.1.1 client has no
    // DISCONNECT with a reason: it closes the connection [MQTT-4.8.0-1].
    let mut sim = Sim::new(v311());
    sim.open();
    sim.deliver(connack(true, ConnectReasonCode::Success));
    assert_eq!(
        sim.raw(),
        Vec::<u8>::new(),
        "no DISCONNECT with a reason code"
    );
    assert!(matches!(
        &sim.events()[..],
        [Event::Disconnected(DisconnectCause::ProtocolError { .. })]
    ));
    assert!(sim.session.poll_close());
}

// ==================================================================== publish

#[test]
fn outbound_qos_0_1_2_without_properties_aliases_or_reason_codes() {
    let mut sim = Sim::new(v311());
    sim.connect(false);
    // QoS 0, twice to one topic: 3.1.1 has no Topic Alias, so the topic goes every time
    // (auto_topic_alias is on by default and must do nothing).
    for _ in 0..2 {
        let id = sim
            .session
            .publish(request("a/b", QoS::AtMostOnce, b"x"), sim.now);
        let id = id.expect("QoS 0");
        assert_eq!(
            sim.raw(),
            vec![0x30, 0x06, 0x00, 0x03, b'a', b'/', b'b', b'x']
        );
        assert_eq!(sim.events(), vec![acked(id, 0, AckReason::Written)]);
    }
    // QoS 1: PUBLISH, PUBACK (two-byte body, no reason code) [MQTT-4.3.2-1].
    let id = sim
        .session
        .publish(request("a/b", QoS::AtLeastOnce, b"y"), sim.now)
        .expect("QoS 1");
    let [Packet::Publish(p)] = &sim.sent()[..] else {
        panic!("one PUBLISH");
    };
    assert!(p.properties.is_empty());
    let pid = p.packet_id;
    sim.deliver(PubAck::new(pid));
    assert_eq!(
        sim.events(),
        vec![acked(
            id,
            pid,
            AckReason::PubAck(midge::codec::PubAckReasonCode::Success)
        )]
    );
    // QoS 2: PUBLISH, PUBREC, PUBREL (flags 0010, [MQTT-3.6.1-1]), PUBCOMP [MQTT-4.3.3-1].
    let id = sim
        .session
        .publish(request("a/b", QoS::ExactlyOnce, b"z"), sim.now)
        .expect("QoS 2");
    let [Packet::Publish(p)] = &sim.sent()[..] else {
        panic!("one PUBLISH");
    };
    let pid = p.packet_id;
    sim.deliver(PubRec::new(pid));
    let [hi, lo] = pid.to_be_bytes();
    assert_eq!(sim.raw(), vec![0x62, 0x02, hi, lo]);
    assert_eq!(sim.events(), vec![]);
    sim.deliver(PubComp::new(pid));
    assert_eq!(
        sim.events(),
        vec![acked(
            id,
            pid,
            AckReason::PubRec(midge::codec::PubRecReasonCode::Success)
        )]
    );
}

#[test]
fn inbound_qos_0_1_2_acknowledged_in_3_1_1_form_with_no_receive_maximum() {
    // 3.1.1 has no Receive Maximum: a server may leave more messages unacknowledged than
    // ours (2) without being disconnected.
    let mut sim = Sim::new(Options {
        receive_maximum: 2,
        ..v311()
    });
    sim.connect(false);
    sim.deliver(publish("t", QoS::AtMostOnce, 0, b"0"));
    for pid in 1..=5 {
        sim.deliver(publish("t", QoS::AtLeastOnce, pid, b"1"));
    }
    sim.deliver(publish("t", QoS::ExactlyOnce, 9, b"2"));
    let msgs = messages(sim.events());
    assert_eq!(
        msgs.len(),
        7,
        "nothing refused for exceeding a Receive Maximum"
    );
    assert_eq!(sim.raw(), Vec::<u8>::new(), "acks wait for the application");
    for m in &msgs[1..] {
        sim.acknowledge(m);
    }
    // [MQTT-4.3.2-2] PUBACK, [MQTT-4.3.3-2] PUBREC, in arrival order [MQTT-4.6.0-2].
    let mut expected = Vec::new();
    for pid in 1..=5u8 {
        expected.extend_from_slice(&[0x40, 0x02, 0x00, pid]);
    }
    expected.extend_from_slice(&[0x50, 0x02, 0x00, 9]);
    assert_eq!(sim.raw(), expected);
    // A duplicate QoS 2 PUBLISH is not delivered again; its PUBREC is repeated.
    sim.deliver(Publish {
        dup: true,
        ..publish("t", QoS::ExactlyOnce, 9, b"2")
    });
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.raw(), vec![0x50, 0x02, 0x00, 9]);
    // PUBREL, PUBCOMP (no reason code); a PUBREL for an unknown id still gets a PUBCOMP.
    sim.deliver(PubRel::new(9));
    sim.deliver(PubRel::new(77));
    assert_eq!(sim.raw(), vec![0x70, 0x02, 0x00, 9, 0x70, 0x02, 0x00, 77]);
    assert_eq!(sim.session.state(), State::Connected);
}

// ==================================================================== session

#[test]
fn clean_session_0_resumes_and_resends_in_flight_messages() {
    let mut sim = Sim::new(persistent());
    let (connect, _) = sim.open();
    // [MQTT-3.1.2-4] Clean Session 0: the server resumes the session, if any.
    assert!(!connect.clean_start);
    sim.deliver(connack(false, ConnectReasonCode::Success));
    assert!(matches!(&sim.events()[..], [Event::Connected(_)]));
    let q1 = sim
        .session
        .publish(request("q/1", QoS::AtLeastOnce, b"1"), sim.now)
        .expect("QoS 1");
    let q2 = sim
        .session
        .publish(request("q/2", QoS::ExactlyOnce, b"2"), sim.now)
        .expect("QoS 2");
    let sent = sim.sent();
    let pids: Vec<u16> = sent
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => p.packet_id,
            other => panic!("{other:?}"),
        })
        .collect();
    sim.deliver(PubRec::new(pids[1]));
    assert_eq!(sim.sent(), vec![Packet::PubRel(PubRel::new(pids[1]))]);
    sim.deliver(publish("in", QoS::ExactlyOnce, 40, b"q2"));
    let m = messages(sim.events()).remove(0);
    sim.acknowledge(&m);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(40))]);
    sim.lose_connection();

    sim.at(5);
    let (connect, _) = sim.open();
    assert!(
        !connect.clean_start,
        "every reconnection asks for the session"
    );
    sim.deliver(connack(true, ConnectReasonCode::Success));
    let events = sim.events();
    assert!(matches!(&events[..], [Event::Connected(i)] if i.session_present));
    // [MQTT-4.4.0-1] unacknowledged PUBLISH again with DUP 1, then the PUBREL.
    assert_eq!(
        sim.sent(),
        vec![
            Packet::Publish(Publish {
                dup: true,
                ..publish("q/1", QoS::AtLeastOnce, pids[0], b"1")
            }),
            Packet::PubRel(PubRel::new(pids[1])),
        ]
    );
    sim.deliver(PubAck::new(pids[0]));
    sim.deliver(PubComp::new(pids[1]));
    let events = sim.events();
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[0], Event::PublishComplete { id, result: Ok(_) } if *id == q1));
    assert!(matches!(&events[1], Event::PublishComplete { id, result: Ok(_) } if *id == q2));
    // Inbound QoS 2 state survived: the repeated PUBLISH is not delivered twice.
    sim.deliver(Publish {
        dup: true,
        ..publish("in", QoS::ExactlyOnce, 40, b"q2")
    });
    assert_eq!(sim.events(), vec![]);
    assert_eq!(sim.sent(), vec![Packet::PubRec(PubRec::new(40))]);
}

#[test]
fn clean_session_1_on_every_connection_and_lost_sessions_resubscribe() {
    let mut sim = Sim::new(v311());
    sim.connect(false);
    let id = sim
        .session
        .subscribe(
            vec![sub("a/#", QoS::AtLeastOnce)],
            Properties::new(),
            sim.now,
        )
        .expect("subscribe");
    let [Packet::Subscribe(s)] = &sim.sent()[..] else {
        panic!("SUBSCRIBE");
    };
    sim.deliver(SubAck {
        packet_id: s.packet_id,
        properties: Properties::new(),
        reason_codes: vec![SubAckReasonCode::GrantedQos1],
    });
    assert!(
        matches!(&sim.events()[..], [Event::SubscribeComplete { id: i, result: Ok(_) }] if *i == id)
    );
    sim.lose_connection();
    let (connect, _) = sim.open();
    // [MQTT-3.1.2-6] Clean Session 1: a new session each time.
    assert!(connect.clean_start);
    sim.deliver(connack(false, ConnectReasonCode::Success));
    let events = sim.events();
    assert!(
        matches!(&events[1], Event::SessionLost { resubscribed: 1 }),
        "{events:?}"
    );
    assert!(matches!(&sim.sent()[..], [Packet::Subscribe(_)]));
}

// ==================================================================== subscriptions

#[test]
fn suback_0x80_is_a_failure_and_unsuback_has_no_codes() {
    let mut sim = Sim::new(v311());
    sim.connect(false);
    let id = sim
        .session
        .subscribe(
            vec![
                sub("ok/+", QoS::ExactlyOnce),
                sub("denied/#", QoS::AtMostOnce),
            ],
            Properties::new(),
            sim.now,
        )
        .expect("subscribe");
    let [Packet::Subscribe(s)] = &sim.sent()[..] else {
        panic!("SUBSCRIBE");
    };
    // [MQTT-3.9.3-2] 0x80 Failure.
    sim.deliver_raw(&[0x90, 0x04, 0x00, s.packet_id as u8, 0x02, 0x80]);
    let events = sim.events();
    let [
        Event::SubscribeComplete {
            id: got,
            result: Ok(ack),
        },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(*got, id);
    assert_eq!(
        ack,
        &SubscribeAck {
            packet_id: s.packet_id,
            reason_codes: vec![
                SubAckReasonCode::GrantedQos2,
                SubAckReasonCode::UnspecifiedError
            ],
            properties: Properties::new(),
        }
    );
    assert!(!ack.reason_codes[1].is_success());
    let id = sim
        .session
        .unsubscribe(vec![b("ok/+"), b("x")], Properties::new(), sim.now)
        .expect("unsubscribe");
    let [Packet::Unsubscribe(u)] = &sim.sent()[..] else {
        panic!("UNSUBSCRIBE");
    };
    // [MQTT-3.11] UNSUBACK: the packet identifier and nothing else.
    sim.deliver(UnsubAck {
        packet_id: u.packet_id,
        properties: Properties::new(),
        reason_codes: Vec::new(),
    });
    assert_eq!(
        sim.events(),
        vec![Event::UnsubscribeComplete {
            id,
            result: Ok(UnsubscribeAck {
                packet_id: u.packet_id,
                reason_codes: Vec::new(),
                properties: Properties::new(),
            }),
        }]
    );
    assert_eq!(sim.session.state(), State::Connected);
}

// ==================================================================== not in 3.1.1

#[test]
fn what_3_1_1_cannot_carry_is_refused_with_not_in_v311() {
    let mut sim = Sim::new(v311());
    sim.connect(false);
    let up = Property::UserProperty(b("k"), b("v"));
    let with_props = PublishRequest {
        properties: Properties::new().with(up.clone()),
        ..request("t", QoS::AtLeastOnce, b"")
    };
    let with_alias = PublishRequest {
        topic_alias: Some(1),
        ..request("t", QoS::AtLeastOnce, b"")
    };
    for r in [with_props, with_alias] {
        let e = sim.session.publish(r, sim.now).expect_err("refused");
        assert!(matches!(e, RequestError::NotInV311(_)), "{e:?}");
    }
    let no_local = Subscription {
        options: SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::default()
        },
        ..sub("t", QoS::AtMostOnce)
    };
    let e = sim
        .session
        .subscribe(vec![no_local], Properties::new(), sim.now);
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    let e = sim.session.subscribe(
        vec![sub("t", QoS::AtMostOnce)],
        Properties::new().with(Property::SubscriptionIdentifier(4)),
        sim.now,
    );
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    let e = sim
        .session
        .unsubscribe(vec![b("t")], Properties::new().with(up.clone()), sim.now);
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    let e = sim.session.disconnect(
        DisconnectReasonCode::DisconnectWithWillMessage,
        Properties::new(),
        sim.now,
    );
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    let e = sim.session.reauthenticate(sim.now);
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    let e = sim
        .session
        .change_connect(midge::protocol::ConnectChange::Will(Some(Will {
            topic: b("w"),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::new().with(Property::WillDelayInterval(5)),
        })));
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    // [MQTT-3.1.2-22] no password without a user name.
    let e = sim
        .session
        .change_connect(midge::protocol::ConnectChange::Credentials {
            username: None,
            password: Some(Bytes::from_static(b"p")),
        });
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    // Nothing of it was sent, and the connection goes on.
    assert_eq!(sim.raw(), Vec::<u8>::new());
    assert_eq!(sim.events(), vec![]);
    // A normal DISCONNECT is two bytes [MQTT-3.14.1].
    sim.session
        .disconnect(
            DisconnectReasonCode::NormalDisconnection,
            Properties::new(),
            sim.now,
        )
        .expect("plain DISCONNECT");
    assert_eq!(sim.raw(), vec![0xE0, 0x00]);
}

#[test]
fn clean_session_0_for_an_empty_client_id_is_refused_when_asked_for() {
    // [MQTT-3.1.3-7] a zero-byte Client Identifier needs Clean Session 1; 3.1.1 assigns
    // none that a later connection could present.
    let mut sim = Sim::new(Options {
        client_id: ByteString::new(),
        ..v311()
    });
    let e = sim
        .session
        .change_connect(midge::protocol::ConnectChange::CleanStart(false));
    assert!(matches!(e, Err(RequestError::NotInV311(_))), "{e:?}");
    let (connect, _) = sim.open();
    assert!(connect.clean_start);
    assert!(connect.client_id.is_empty());
}

#[test]
fn options_3_1_1_cannot_carry_are_refused_before_any_connection() {
    let refused = |o: Options| {
        let e = o.check_version().expect_err("refused");
        assert!(matches!(e, RequestError::NotInV311(_)), "{e:?}");
        e.to_string()
    };
    refused(Options {
        user_properties: vec![(b("k"), b("v"))],
        ..v311()
    });
    refused(Options {
        request_response_information: true,
        ..v311()
    });
    // Clean Session cannot express an expiry of an hour...
    let text = refused(Options {
        session_expiry_interval: 3600,
        ..v311()
    });
    assert!(text.contains("Session Expiry"), "{text}");
    // ... nor a new session that outlives its connection [MQTT-3.1.2-6].
    refused(Options {
        session_expiry_interval: u32::MAX,
        ..v311()
    });
    // [MQTT-3.1.3-7] an empty Client Identifier needs Clean Session 1.
    refused(Options {
        client_id: ByteString::new(),
        ..persistent()
    });
    // [MQTT-3.1.2-22] no password without a user name.
    refused(Options {
        password: Some(Bytes::from_static(b"p")),
        ..v311()
    });
    refused(Options {
        will: Some(Will {
            topic: b("w"),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::new().with(Property::WillDelayInterval(5)),
        }),
        ..v311()
    });
    // A client that may fall back is held to the same, since its CONNECT may be 3.1.1.
    refused(Options {
        protocol_version: VersionChoice::V5OrV311,
        user_properties: vec![(b("k"), b("v"))],
        ..v311()
    });
    // 5.0 alone: nothing to check.
    Options {
        protocol_version: VersionChoice::V5,
        user_properties: vec![(b("k"), b("v"))],
        session_expiry_interval: 3600,
        ..v311()
    }
    .check_version()
    .expect("5.0 carries it");
    persistent().check_version().expect("Clean Session 0");
    v311().check_version().expect("Clean Session 1");
}

// ==================================================================== fallback

fn v5_or_v311() -> Options {
    Options {
        protocol_version: VersionChoice::V5OrV311,
        ..v311()
    }
}

/// After the refusal: no event, the connection to close, the runtime told to connect again
/// at once; the next CONNECT is level 4 and the CONNACK says 3.1.1.
fn assert_fell_back(sim: &mut Sim) {
    assert_eq!(sim.events(), vec![], "the connect goes on: no Disconnected");
    assert_eq!(sim.session.state(), State::Disconnected);
    assert!(sim.session.poll_fallback());
    assert!(!sim.session.poll_fallback(), "once");
    assert_eq!(sim.session.protocol_version(), ProtocolVersion::V311);
    let (_, raw) = sim.open();
    assert_eq!(raw[8], 4, "Protocol Level 4 [MQTT-3.1.2-2]");
    sim.deliver(connack(false, ConnectReasonCode::Success));
    let events = sim.events();
    assert!(
        matches!(&events[..], [Event::Connected(i)] if i.protocol_version == ProtocolVersion::V311),
        "{events:?}"
    );
    // Remembered: the reconnection speaks 3.1.1 at once.
    sim.lose_connection();
    let (_, raw) = sim.open();
    assert_eq!(raw[8], 4, "the reconnection is 3.1.1");
}

#[test]
fn fallback_on_connack_0x84() {
    let mut sim = Sim::new(v5_or_v311());
    let (_, raw) = sim.open();
    assert_eq!(raw[8], 5, "5.0 first");
    // 5.0 [MQTT-3.1.2-2]: 0x84 Unsupported Protocol Version.
    sim.deliver_v5(connack(
        false,
        ConnectReasonCode::UnsupportedProtocolVersion,
    ));
    assert!(sim.session.poll_close());
    assert_fell_back(&mut sim);
}

#[test]
fn fallback_on_a_3_1_1_connack_with_return_code_1_in_any_chunks() {
    let mut sim = Sim::new(v5_or_v311());
    sim.open();
    // [MQTT-3.1.2-2] a 3.1.1 server answers level 5 with return code 0x01; a 5.0 CONNACK
    // is never this short, so the bytes are read as 3.1.1's.
    for byte in [0x20, 0x02, 0x00, 0x01] {
        assert_eq!(sim.events(), vec![]);
        sim.deliver_raw(&[byte]);
    }
    assert!(sim.session.poll_close());
    assert_fell_back(&mut sim);
}

#[test]
fn fallback_when_the_server_closes_on_the_5_0_connect() {
    let mut sim = Sim::new(v5_or_v311());
    sim.open();
    sim.session.connection_closed(reset());
    assert_fell_back(&mut sim);
}

#[test]
fn a_3_1_1_attempt_that_fails_too_tries_5_0_again_next_time() {
    // A server that closes every connection at once (a proxy with no backend) is not a
    // 3.1.1 server: 3.1.1 is kept only once a 3.1.1 connection succeeded.
    let mut sim = Sim::new(v5_or_v311());
    sim.open();
    sim.session.connection_closed(reset());
    assert!(sim.session.poll_fallback());
    let (_, raw) = sim.open();
    assert_eq!(raw[8], 4);
    sim.session.connection_closed(reset());
    assert_eq!(sim.events(), vec![Event::Disconnected(reset())]);
    assert!(
        !sim.session.poll_fallback(),
        "the runtime's backoff applies"
    );
    let (_, raw) = sim.open();
    assert_eq!(raw[8], 5, "5.0 again");
    // This time the server is a 3.1.1 one.
    sim.deliver_raw(&[0x20, 0x02, 0x00, 0x01]);
    assert_fell_back(&mut sim);
}

#[test]
fn no_fallback_without_the_option_after_a_5_0_success_or_after_bytes() {
    // 5.0 only: 0x84 is a refusal like any other.
    let mut sim = Sim::new(Options {
        protocol_version: VersionChoice::V5,
        ..v311()
    });
    sim.open();
    sim.deliver_v5(connack(
        false,
        ConnectReasonCode::UnsupportedProtocolVersion,
    ));
    assert!(matches!(
        &sim.events()[..],
        [Event::Disconnected(DisconnectCause::Refused(_))]
    ));
    assert!(!sim.session.poll_fallback());
    // A 3.1.1 CONNACK 0x01 without the option: the same refusal.
    sim.open();
    sim.deliver_raw(&[0x20, 0x02, 0x00, 0x01]);
    assert!(matches!(
        &sim.events()[..],
        [Event::Disconnected(DisconnectCause::Refused(r))]
            if r.reason_code == ConnectReasonCode::UnsupportedProtocolVersion
    ));
    assert!(!sim.session.poll_fallback());

    // 5.0 worked once: it is kept; a later 0x84 is a refusal.
    let mut sim = Sim::new(v5_or_v311());
    sim.open();
    sim.deliver_v5(connack(false, ConnectReasonCode::Success));
    let events = sim.events();
    assert!(
        matches!(&events[..], [Event::Connected(i)] if i.protocol_version == ProtocolVersion::V5)
    );
    sim.lose_connection();
    sim.open();
    sim.deliver_v5(connack(
        false,
        ConnectReasonCode::UnsupportedProtocolVersion,
    ));
    assert!(matches!(
        &sim.events()[..],
        [Event::Disconnected(DisconnectCause::Refused(_))]
    ));
    assert!(!sim.session.poll_fallback());
    assert_eq!(sim.session.protocol_version(), ProtocolVersion::V5);
    // A close after the server said something is not a refusal of the version.
    sim.open();
    sim.deliver_raw(&[0x20]);
    sim.session.connection_closed(reset());
    assert_eq!(sim.events(), vec![Event::Disconnected(reset())]);

    // A 3.1.1 CONNACK that accepts a 5.0 CONNECT is a broken server.
    let mut sim = Sim::new(v5_or_v311());
    sim.open();
    sim.deliver_raw(&[0x20, 0x02, 0x00, 0x00]);
    assert!(matches!(
        &sim.events()[..],
        [Event::Disconnected(DisconnectCause::ProtocolError { .. })]
    ));
    assert!(!sim.session.poll_fallback());
}

#[test]
fn requests_made_before_a_fallback_that_3_1_1_cannot_carry_fail_the_rest_go_out() {
    let mut sim = Sim::new(v5_or_v311());
    // Offline, before any connection: accepted, since 5.0 may carry them.
    let plain = sim
        .session
        .publish(request("p", QoS::AtLeastOnce, b"1"), sim.now)
        .expect("queued");
    let fancy = sim
        .session
        .publish(
            PublishRequest {
                properties: Properties::new().with(Property::ContentType(b("text/plain"))),
                ..request("p", QoS::AtLeastOnce, b"2")
            },
            sim.now,
        )
        .expect("queued");
    let no_local = Subscription {
        options: SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::default()
        },
        ..sub("n", QoS::AtMostOnce)
    };
    let sub_fancy = sim
        .session
        .subscribe(vec![no_local], Properties::new(), sim.now)
        .expect("queued");
    let sub_plain = sim
        .session
        .subscribe(vec![sub("s", QoS::AtLeastOnce)], Properties::new(), sim.now)
        .expect("queued");
    sim.open();
    sim.deliver_v5(connack(
        false,
        ConnectReasonCode::UnsupportedProtocolVersion,
    ));
    assert!(sim.session.poll_fallback());
    sim.open();
    sim.deliver(connack(false, ConnectReasonCode::Success));
    let events = sim.events();
    assert!(matches!(&events[0], Event::Connected(_)));
    assert!(events.contains(&Event::SubscribeComplete {
        id: sub_fancy,
        result: Err(RequestError::NotInV311(
            "subscription options other than the QoS (No Local, Retain As Published, \
             Retain Handling)"
        )),
    }));
    assert!(events.iter().any(|e| matches!(e,
        Event::PublishComplete { id, result: Err(RequestError::NotInV311(_)) } if *id == fancy)));
    let sent = sim.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(matches!(&sent[0], Packet::Subscribe(s) if s.subscriptions[0].filter == "s"));
    assert!(matches!(&sent[1], Packet::Publish(p) if p.payload == "1"));
    let _ = (plain, sub_plain);
}
