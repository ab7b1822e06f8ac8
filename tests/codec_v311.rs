//! The MQTT 3.1.1 forms of `midge::codec` packets (`Packet::encode_v311`,
//! `Packet::decode_v311`): byte-exact vectors written by hand from the layouts of the OASIS
//! MQTT Version 3.1.1 standard (29 October 2014), every rule of that standard checked on
//! decode and on encode (normative statement numbers below are 3.1.1's), refusals of what
//! 3.1.1 cannot carry, and property tests: valid packets round-trip, and any bytes either
//! fail to decode or decode to a packet that encodes back to exactly those bytes.

// Vector lists and strategies read top to bottom; splitting them would hide them.
#![allow(clippy::too_many_lines)]

use midge::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, CodecError, ConnAck, Connect, ConnectReasonCode,
    Disconnect, DisconnectReasonCode, Packet, PacketType, Properties, Property, PubAck,
    PubAckReasonCode, PubComp, PubRec, PubRecReasonCode, PubRel, Publish, QoS, RetainHandling,
    SubAck, SubAckReasonCode, Subscribe, Subscription, SubscriptionOptions, TopicError, UnsubAck,
    UnsubAckReasonCode, Unsubscribe, Will, connack_reason, connack_return_code,
};
use proptest::prelude::*;

fn s(text: &'static str) -> ByteString {
    ByteString::from_static(text)
}

fn bin(data: &'static [u8]) -> Bytes {
    Bytes::from_static(data)
}

fn sub(filter: &'static str, qos: QoS) -> Subscription {
    Subscription {
        filter: s(filter),
        options: SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        },
    }
}

fn encode(p: &Packet) -> Result<Vec<u8>, CodecError> {
    let mut buf = Vec::new();
    p.encode_v311(&mut buf).map(|n| {
        assert_eq!(n, buf.len());
        buf
    })
}

/// Both ways: the packet encodes to exactly `bytes`, and `bytes` decode to exactly it.
fn vector(name: &str, packet: Packet, bytes: &[u8]) {
    assert_eq!(encode(&packet).as_deref(), Ok(bytes), "{name}: encode");
    assert_eq!(
        Packet::decode_v311(bytes.to_vec()),
        Ok(packet),
        "{name}: decode"
    );
}

fn assert_decode_err(bytes: &[u8], expected: &CodecError) {
    assert_eq!(
        Packet::decode_v311(bytes.to_vec()).as_ref(),
        Err(expected),
        "{bytes:02X?}"
    );
}

/// Encoding fails with `expected` and leaves the buffer as it was.
fn assert_encode_err(packet: &Packet, expected: &CodecError) {
    let mut buf = vec![0xA5];
    assert_eq!(
        packet.encode_v311(&mut buf).as_ref(),
        Err(expected),
        "{packet:?}"
    );
    assert_eq!(buf, vec![0xA5], "a refused packet left bytes behind");
}

fn not_in_v311(packet: &Packet) {
    let mut buf = Vec::new();
    match packet.encode_v311(&mut buf) {
        Err(CodecError::NotInV311 { .. }) => assert!(buf.is_empty()),
        other => panic!("{packet:?}: expected NotInV311, got {other:?}"),
    }
}

// ==================================================================== vectors

#[test]
fn connect_vectors() {
    // 3.1.2: "MQTT", level 4, flags, keep alive; 3.1.3: client id, will topic, will
    // message, user name, password, in that order. Figure 3.6 / 3.7.
    vector(
        "minimal",
        Connect {
            clean_start: true,
            keep_alive: 60,
            client_id: s("c"),
            ..Connect::default()
        }
        .into(),
        &[
            0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01,
            b'c',
        ],
    );
    // Flags: user name 0x80, password 0x40, will retain 0x20, will QoS 1 (0x08), will 0x04,
    // clean session 0.
    vector(
        "everything",
        Connect {
            clean_start: false,
            keep_alive: 10,
            properties: Properties::new(),
            client_id: s("id"),
            will: Some(Will {
                topic: s("w"),
                payload: bin(b"bye"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::new(),
            }),
            username: Some(s("u")),
            password: Some(bin(b"p")),
        }
        .into(),
        &[
            0x10, 0x1C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xEC, 0x00, 0x0A, 0x00, 0x02,
            b'i', b'd', 0x00, 0x01, b'w', 0x00, 0x03, b'b', b'y', b'e', 0x00, 0x01, b'u', 0x00,
            0x01, b'p',
        ],
    );
}

#[test]
fn connack_vectors_map_return_codes_to_reason_codes() {
    // 3.2.2: acknowledge flags, return code (Table 3.1), no properties.
    let ack = |session_present, reason_code| {
        Packet::ConnAck(ConnAck {
            session_present,
            reason_code,
            properties: Properties::new(),
        })
    };
    vector(
        "accepted",
        ack(false, ConnectReasonCode::Success),
        &[0x20, 0x02, 0x00, 0x00],
    );
    vector(
        "resumed",
        ack(true, ConnectReasonCode::Success),
        &[0x20, 0x02, 0x01, 0x00],
    );
    for (code, reason) in [
        (1, ConnectReasonCode::UnsupportedProtocolVersion),
        (2, ConnectReasonCode::ClientIdentifierNotValid),
        (3, ConnectReasonCode::ServerUnavailable),
        (4, ConnectReasonCode::BadUserNameOrPassword),
        (5, ConnectReasonCode::NotAuthorized),
    ] {
        vector("refused", ack(false, reason), &[0x20, 0x02, 0x00, code]);
        assert_eq!(connack_reason(code), Some(reason));
        assert_eq!(connack_return_code(reason), Some(code));
    }
}

#[test]
fn publish_and_acknowledgement_vectors() {
    // 3.3: topic, packet id for QoS > 0, payload; no properties.
    vector(
        "qos 0",
        Publish {
            topic: s("t"),
            payload: bin(b"hi"),
            ..Publish::default()
        }
        .into(),
        &[0x30, 0x05, 0x00, 0x01, b't', b'h', b'i'],
    );
    vector(
        "qos 1 dup retain",
        Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: s("t"),
            packet_id: 10,
            properties: Properties::new(),
            payload: bin(b"hi"),
        }
        .into(),
        &[0x3B, 0x07, 0x00, 0x01, b't', 0x00, 0x0A, b'h', b'i'],
    );
    // 3.4-3.7: Remaining Length 2, the packet id only; PUBREL flags 0010 [MQTT-3.6.1-1].
    vector("puback", PubAck::new(10).into(), &[0x40, 0x02, 0x00, 0x0A]);
    vector("pubrec", PubRec::new(10).into(), &[0x50, 0x02, 0x00, 0x0A]);
    vector("pubrel", PubRel::new(10).into(), &[0x62, 0x02, 0x00, 0x0A]);
    vector(
        "pubcomp",
        PubComp::new(10).into(),
        &[0x70, 0x02, 0x00, 0x0A],
    );
}

#[test]
fn subscribe_and_unsubscribe_vectors() {
    // 3.8: flags 0010 [MQTT-3.8.1-1], packet id, (filter, requested QoS)...
    vector(
        "subscribe",
        Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            subscriptions: vec![sub("a/#", QoS::AtLeastOnce), sub("b", QoS::ExactlyOnce)],
        }
        .into(),
        &[
            0x82, 0x0C, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'#', 0x01, 0x00, 0x01, b'b', 0x02,
        ],
    );
    // 3.9: packet id, one return code per filter: 0x00-0x02 granted, 0x80 failure.
    vector(
        "suback",
        SubAck {
            packet_id: 1,
            properties: Properties::new(),
            reason_codes: vec![
                SubAckReasonCode::GrantedQos1,
                SubAckReasonCode::UnspecifiedError,
            ],
        }
        .into(),
        &[0x90, 0x04, 0x00, 0x01, 0x01, 0x80],
    );
    // 3.10: flags 0010 [MQTT-3.10.1-1]; 3.11: the packet id only.
    vector(
        "unsubscribe",
        Unsubscribe {
            packet_id: 2,
            properties: Properties::new(),
            filters: vec![s("b")],
        }
        .into(),
        &[0xA2, 0x05, 0x00, 0x02, 0x00, 0x01, b'b'],
    );
    vector(
        "unsuback",
        UnsubAck {
            packet_id: 2,
            properties: Properties::new(),
            reason_codes: vec![],
        }
        .into(),
        &[0xB0, 0x02, 0x00, 0x02],
    );
    // Successes in a 5.0 UNSUBACK go unsaid in 3.1.1.
    let five = UnsubAck {
        packet_id: 2,
        properties: Properties::new(),
        reason_codes: vec![
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted,
        ],
    };
    assert_eq!(encode(&five.into()), Ok(vec![0xB0, 0x02, 0x00, 0x02]));
}

#[test]
fn ping_and_disconnect_vectors() {
    // 3.12, 3.13, 3.14: no variable header, no payload.
    vector("pingreq", Packet::PingReq, &[0xC0, 0x00]);
    vector("pingresp", Packet::PingResp, &[0xD0, 0x00]);
    vector(
        "disconnect",
        Disconnect::new(DisconnectReasonCode::NormalDisconnection).into(),
        &[0xE0, 0x00],
    );
}

// ==================================================================== rules on decode

#[test]
fn fixed_header_rules() {
    // [MQTT-2.2.2-1] [MQTT-2.2.2-2]: reserved flags as Table 2.2 lists them.
    assert_decode_err(
        &[0x60, 0x02, 0x00, 0x01],
        &CodecError::InvalidFixedHeaderFlags {
            packet: PacketType::PubRel,
            flags: 0,
        },
    );
    assert_decode_err(
        &[0x41, 0x02, 0x00, 0x01],
        &CodecError::InvalidFixedHeaderFlags {
            packet: PacketType::PubAck,
            flags: 1,
        },
    );
    // 2.2.1 Table 2.1: types 0 and 15 are reserved (15 is AUTH in 5.0 only).
    assert_decode_err(&[0x00, 0x00], &CodecError::ReservedPacketType);
    assert!(matches!(
        Packet::decode_v311(vec![0xF0, 0x00]),
        Err(CodecError::NotInV311 { .. })
    ));
    // [MQTT-3.3.1-4] QoS 3; [MQTT-3.3.1-2] DUP on QoS 0.
    assert_decode_err(
        &[0x36, 0x03, 0x00, 0x01, b't'],
        &CodecError::InvalidPublishQos,
    );
    assert_decode_err(&[0x38, 0x03, 0x00, 0x01, b't'], &CodecError::DupWithQos0);
}

#[test]
fn acknowledgements_carry_no_reason_code_or_properties() {
    // 3.4.1, 3.5.1, 3.6.1, 3.7.1, 3.11.1: Remaining Length is 2. A 5.0-style reason code is
    // a byte too many.
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        let packet = PacketType::from_u8(first >> 4).expect("defined");
        assert_decode_err(
            &[first, 0x03, 0x00, 0x01, 0x10],
            &CodecError::TrailingBytes { packet, extra: 1 },
        );
        // [MQTT-2.3.1-1]: a non-zero Packet Identifier.
        assert_decode_err(
            &[first, 0x02, 0x00, 0x00],
            &CodecError::ZeroPacketIdentifier { packet },
        );
    }
    // 3.12-3.14: PINGREQ, PINGRESP and DISCONNECT have no body.
    assert_decode_err(
        &[0xE0, 0x01, 0x00],
        &CodecError::TrailingBytes {
            packet: PacketType::Disconnect,
            extra: 1,
        },
    );
}

fn connect_bytes(level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', level, flags, 0x00, 0x3C];
    body.extend_from_slice(payload);
    let mut out = vec![0x10, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn connect_rules() {
    let client = [0x00, 0x01, b'c'];
    // [MQTT-3.1.2-2]: level 4; a 5.0 CONNECT is not 3.1.1, and a 3.1.1 CONNECT is not 5.0.
    assert_decode_err(
        &connect_bytes(5, 0x02, &client),
        &CodecError::UnsupportedProtocolVersion { version: 5 },
    );
    assert_eq!(
        Packet::decode(connect_bytes(4, 0x02, &client)),
        Err(CodecError::UnsupportedProtocolVersion { version: 4 })
    );
    // [MQTT-3.1.2-1]: the protocol name "MQTT" (not 3.1's "MQIsdp").
    let mut mqisdp = vec![0x10, 0x0F, 0x00, 0x06];
    mqisdp.extend_from_slice(b"MQIsdp");
    mqisdp.extend_from_slice(&[0x03, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c']);
    assert_decode_err(&mqisdp, &CodecError::InvalidProtocolName);
    // [MQTT-3.1.2-3]: the reserved flag is 0.
    assert_decode_err(
        &connect_bytes(4, 0x03, &client),
        &CodecError::ConnectReservedFlag,
    );
    // [MQTT-3.1.2-13] Will QoS 0 without a Will; [MQTT-3.1.2-14] never 3; [MQTT-3.1.2-15]
    // Will Retain 0 without a Will.
    assert_decode_err(
        &connect_bytes(4, 0x0A, &client),
        &CodecError::WillQosWithoutWill,
    );
    assert_decode_err(
        &connect_bytes(4, 0x1E, &client),
        &CodecError::InvalidWillQos,
    );
    assert_decode_err(
        &connect_bytes(4, 0x22, &client),
        &CodecError::WillRetainWithoutWill,
    );
    // [MQTT-3.1.2-22]: no password without a user name (5.0 allows it).
    assert_decode_err(
        &connect_bytes(4, 0x42, &[0x00, 0x01, b'c', 0x00, 0x01, b'p']),
        &CodecError::PasswordWithoutUserName,
    );
    // [MQTT-3.1.2-18]..[MQTT-3.1.2-21]: a flagged field must be present.
    assert_decode_err(
        &connect_bytes(4, 0x82, &client),
        &CodecError::Truncated { field: "user name" },
    );
    // [MQTT-3.1.3-10]-style: the Will Topic is a Topic Name, no wildcards [MQTT-4.7.1-1].
    assert_decode_err(
        &connect_bytes(4, 0x06, &[0x00, 0x01, b'c', 0x00, 0x01, b'#', 0x00, 0x00]),
        &CodecError::InvalidTopicName(TopicError::WildcardInTopicName),
    );
    // [MQTT-1.5.3-1] well-formed UTF-8; [MQTT-1.5.3-2] no U+0000.
    assert_decode_err(
        &connect_bytes(4, 0x02, &[0x00, 0x01, 0xFF]),
        &CodecError::InvalidUtf8 {
            field: "client identifier",
        },
    );
    assert_decode_err(
        &connect_bytes(4, 0x02, &[0x00, 0x01, 0x00]),
        &CodecError::NullCharacter {
            field: "client identifier",
        },
    );
    // Anything after the last flagged field is too much.
    assert_decode_err(
        &connect_bytes(4, 0x02, &[0x00, 0x01, b'c', 0x00]),
        &CodecError::TrailingBytes {
            packet: PacketType::Connect,
            extra: 1,
        },
    );
}

#[test]
fn connack_rules() {
    // 3.2.2.1: acknowledge flags bits 7-1 are reserved (0).
    assert_decode_err(
        &[0x20, 0x02, 0x02, 0x00],
        &CodecError::ConnAckReservedFlags { flags: 0x02 },
    );
    // Table 3.1: return codes 6-255 are reserved; 5.0's 0x80-0xA2 are not 3.1.1 codes.
    for code in [6u8, 0x80, 0x84, 0xFF] {
        assert_decode_err(
            &[0x20, 0x02, 0x00, code],
            &CodecError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            },
        );
    }
    // [MQTT-3.2.2-4]: Session Present 0 with a non-zero return code.
    assert_decode_err(
        &[0x20, 0x02, 0x01, 0x05],
        &CodecError::SessionPresentOnFailure,
    );
    // 3.2.2: Remaining Length 2; a 5.0 CONNACK's Property Length is a byte too many.
    assert_decode_err(
        &[0x20, 0x03, 0x00, 0x00, 0x00],
        &CodecError::TrailingBytes {
            packet: PacketType::ConnAck,
            extra: 1,
        },
    );
}

#[test]
fn publish_rules() {
    // [MQTT-2.3.1-1]: QoS > 0 needs a non-zero Packet Identifier.
    assert_decode_err(
        &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00],
        &CodecError::ZeroPacketIdentifier {
            packet: PacketType::Publish,
        },
    );
    // [MQTT-3.3.2-2] no wildcards; [MQTT-4.7.3-1] at least one character (no topic aliases
    // in 3.1.1).
    assert_decode_err(
        &[0x30, 0x03, 0x00, 0x01, b'+'],
        &CodecError::InvalidTopicName(TopicError::WildcardInTopicName),
    );
    assert_decode_err(
        &[0x30, 0x02, 0x00, 0x00],
        &CodecError::InvalidTopicName(TopicError::Empty),
    );
    // No Property Length: a 5.0 PUBLISH's 0x00 is the first byte of the payload.
    assert_eq!(
        Packet::decode_v311(vec![0x30, 0x04, 0x00, 0x01, b't', 0x00]),
        Ok(Publish {
            topic: s("t"),
            payload: bin(&[0x00]),
            ..Publish::default()
        }
        .into())
    );
}

#[test]
fn subscribe_and_suback_rules() {
    // [MQTT-3.8.3-4]: requested QoS bits 7-2 are reserved (0), and QoS is not 3. 5.0's
    // No Local bit (0x04) is one of those reserved bits.
    assert_decode_err(
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04],
        &CodecError::SubscriptionOptionsReserved { options: 0x04 },
    );
    assert_decode_err(
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03],
        &CodecError::InvalidSubscriptionQos,
    );
    // [MQTT-3.8.3-3]: at least one filter; [MQTT-3.10.3-2] likewise for UNSUBSCRIBE.
    assert_decode_err(&[0x82, 0x02, 0x00, 0x01], &CodecError::NoTopicFilters);
    assert_decode_err(&[0xA2, 0x02, 0x00, 0x01], &CodecError::NoUnsubscribeFilters);
    // [MQTT-3.8.1-1] [MQTT-3.10.1-1]: flags 0010.
    assert_decode_err(
        &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
        &CodecError::InvalidFixedHeaderFlags {
            packet: PacketType::Subscribe,
            flags: 0,
        },
    );
    // [MQTT-4.7.1-2]: '#' only last.
    assert_decode_err(
        &[0x82, 0x08, 0x00, 0x01, 0x00, 0x03, b'#', b'/', b'a', 0x00],
        &CodecError::InvalidTopicFilter(TopicError::MultiLevelWildcardNotLast),
    );
    // [MQTT-3.9.3-2]: SUBACK return codes other than 0x00-0x02 and 0x80 are reserved.
    for code in [0x03u8, 0x83, 0x87, 0x8F] {
        assert_decode_err(
            &[0x90, 0x03, 0x00, 0x01, code],
            &CodecError::InvalidReasonCode {
                packet: PacketType::SubAck,
                code,
            },
        );
    }
    assert_decode_err(
        &[0x90, 0x02, 0x00, 0x01],
        &CodecError::NoReasonCodes {
            packet: PacketType::SubAck,
        },
    );
}

// ==================================================================== rules on encode

#[test]
fn what_3_1_1_cannot_carry_is_refused_not_dropped() {
    let user = Properties::new().with(Property::UserProperty(s("k"), s("v")));
    not_in_v311(
        &Publish {
            topic: s("t"),
            properties: user.clone(),
            ..Publish::default()
        }
        .into(),
    );
    not_in_v311(
        &Publish {
            topic: s(""),
            properties: Properties::new().with(Property::TopicAlias(1)),
            ..Publish::default()
        }
        .into(),
    );
    not_in_v311(
        &PubAck {
            packet_id: 1,
            reason_code: PubAckReasonCode::NoMatchingSubscribers,
            properties: Properties::new(),
        }
        .into(),
    );
    not_in_v311(
        &PubRec {
            packet_id: 1,
            reason_code: PubRecReasonCode::Success,
            properties: user.clone(),
        }
        .into(),
    );
    not_in_v311(
        &ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::ServerBusy,
            properties: Properties::new(),
        }
        .into(),
    );
    not_in_v311(
        &SubAck {
            packet_id: 1,
            properties: Properties::new(),
            reason_codes: vec![SubAckReasonCode::NotAuthorized],
        }
        .into(),
    );
    not_in_v311(
        &UnsubAck {
            packet_id: 1,
            properties: Properties::new(),
            reason_codes: vec![UnsubAckReasonCode::NotAuthorized],
        }
        .into(),
    );
    for options in [
        SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::default()
        },
        SubscriptionOptions {
            retain_as_published: true,
            ..SubscriptionOptions::default()
        },
        SubscriptionOptions {
            retain_handling: RetainHandling::DoNotSend,
            ..SubscriptionOptions::default()
        },
    ] {
        not_in_v311(
            &Subscribe {
                packet_id: 1,
                properties: Properties::new(),
                subscriptions: vec![Subscription {
                    filter: s("a"),
                    options,
                }],
            }
            .into(),
        );
    }
    not_in_v311(
        &Connect {
            clean_start: true,
            client_id: s("c"),
            properties: Properties::new().with(Property::SessionExpiryInterval(60)),
            ..Connect::default()
        }
        .into(),
    );
    not_in_v311(
        &Connect {
            clean_start: true,
            client_id: s("c"),
            will: Some(Will {
                topic: s("w"),
                properties: Properties::new().with(Property::WillDelayInterval(5)),
                ..Will::default()
            }),
            ..Connect::default()
        }
        .into(),
    );
    not_in_v311(&Disconnect::new(DisconnectReasonCode::DisconnectWithWillMessage).into());
    not_in_v311(
        &Auth {
            reason_code: AuthReasonCode::Success,
            properties: Properties::new(),
        }
        .into(),
    );
}

#[test]
fn client_rules_on_encode() {
    // [MQTT-3.1.2-22]: no password without a user name.
    assert_encode_err(
        &Connect {
            clean_start: true,
            client_id: s("c"),
            password: Some(bin(b"p")),
            ..Connect::default()
        }
        .into(),
        &CodecError::PasswordWithoutUserName,
    );
    // [MQTT-3.1.3-7]: a zero-byte client id needs Clean Session 1.
    assert_encode_err(
        &Connect {
            clean_start: false,
            ..Connect::default()
        }
        .into(),
        &CodecError::EmptyClientIdWithoutCleanSession,
    );
    // [MQTT-3.2.2-4]: Session Present 0 with a non-zero return code.
    assert_encode_err(
        &ConnAck {
            session_present: true,
            reason_code: ConnectReasonCode::NotAuthorized,
            properties: Properties::new(),
        }
        .into(),
        &CodecError::SessionPresentOnFailure,
    );
    // [MQTT-2.3.1-1], [MQTT-3.3.1-2], [MQTT-3.3.2-2], [MQTT-3.8.3-3].
    assert_encode_err(
        &Publish {
            qos: QoS::AtLeastOnce,
            topic: s("t"),
            ..Publish::default()
        }
        .into(),
        &CodecError::ZeroPacketIdentifier {
            packet: PacketType::Publish,
        },
    );
    assert_encode_err(
        &Publish {
            dup: true,
            topic: s("t"),
            ..Publish::default()
        }
        .into(),
        &CodecError::DupWithQos0,
    );
    assert_encode_err(
        &Publish {
            topic: s("a/#"),
            ..Publish::default()
        }
        .into(),
        &CodecError::InvalidTopicName(TopicError::WildcardInTopicName),
    );
    assert_encode_err(
        &Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            subscriptions: vec![],
        }
        .into(),
        &CodecError::NoTopicFilters,
    );
}

#[test]
fn protocol_version_picks_the_wire_form() {
    use midge::codec::ProtocolVersion;
    assert_eq!(ProtocolVersion::default(), ProtocolVersion::V5);
    for (v, level) in [(ProtocolVersion::V311, 4), (ProtocolVersion::V5, 5)] {
        assert_eq!(v.level(), level);
        assert_eq!(ProtocolVersion::from_level(level), Some(v));
    }
    assert_eq!(ProtocolVersion::from_level(3), None);
    let p: Packet = PubAck::new(7).into();
    let mut v311 = Vec::new();
    p.encode_as(ProtocolVersion::V311, &mut v311)
        .expect("3.1.1");
    assert_eq!(v311, encode(&p).expect("3.1.1"));
    let mut v5 = Vec::new();
    p.encode_as(ProtocolVersion::V5, &mut v5).expect("5.0");
    assert_eq!(v5, vec![0x40, 0x02, 0x00, 0x07]);
    // A 3.1.1 SUBACK 0x80 is a 5.0 SUBACK with no Property Length: each decoder reads its own.
    let suback = vec![0x90, 0x03, 0x00, 0x01, 0x80];
    assert!(Packet::decode_as(ProtocolVersion::V311, suback.clone()).is_ok());
    assert!(Packet::decode_as(ProtocolVersion::V5, suback).is_err());
}

#[test]
fn the_streaming_decoder_reads_3_1_1_bodies_once_told() {
    use midge::codec::{Decoder, ProtocolVersion};
    // CONNACK return code 1, a SUBACK with the failure code 0x80 [MQTT-3.9.3-2] and a
    // PUBACK with no reason code, fed one byte at a time.
    let stream = [
        0x20, 0x02, 0x00, 0x01, 0x90, 0x03, 0x00, 0x05, 0x80, 0x40, 0x02, 0x00, 0x07,
    ];
    let mut d = Decoder::new();
    assert_eq!(d.version(), ProtocolVersion::V5);
    d.set_version(ProtocolVersion::V311);
    let mut packets = Vec::new();
    for b in stream {
        d.feed(&[b]);
        while let Some(p) = d.next_packet().expect("3.1.1 stream") {
            packets.push(p);
        }
    }
    assert_eq!(
        packets,
        vec![
            Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: ConnectReasonCode::UnsupportedProtocolVersion,
                properties: Properties::new(),
            }),
            Packet::SubAck(SubAck {
                packet_id: 5,
                properties: Properties::new(),
                reason_codes: vec![SubAckReasonCode::UnspecifiedError],
            }),
            Packet::PubAck(PubAck::new(7)),
        ]
    );
    // 2.2.1: type 15 is reserved in 3.1.1; refused from the first byte, before any length.
    let mut d = Decoder::new();
    d.set_version(ProtocolVersion::V311);
    d.feed(&[0xF0]);
    assert_eq!(d.next_packet(), Err(CodecError::NotInV311 { what: "AUTH" }));
    // The same bytes under 5.0: the SUBACK has no Property Length.
    let mut d = Decoder::new();
    d.feed(&stream[4..9]);
    assert!(d.next_packet().is_err());
}

#[test]
fn the_5_0_forms_are_unchanged() {
    // The same packet in both versions: 5.0 adds the Property Length (and level 5).
    let p: Packet = Publish {
        topic: s("t"),
        payload: bin(b"hi"),
        ..Publish::default()
    }
    .into();
    let mut five = Vec::new();
    p.encode(&mut five).expect("5.0");
    assert_eq!(five, vec![0x30, 0x06, 0x00, 0x01, b't', 0x00, b'h', b'i']);
    assert_eq!(
        encode(&p),
        Ok(vec![0x30, 0x05, 0x00, 0x01, b't', b'h', b'i'])
    );
    let ack: Packet = ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    }
    .into();
    let mut five = Vec::new();
    ack.encode(&mut five).expect("5.0");
    assert_eq!(five, vec![0x20, 0x03, 0x00, 0x00, 0x00]);
}

// ==================================================================== properties

fn topic() -> impl Strategy<Value = ByteString> {
    "[a-z$ é]{1,4}(/[a-z é]{0,4}){0,3}".prop_map(ByteString::from)
}

fn filter() -> impl Strategy<Value = ByteString> {
    prop_oneof![
        topic(),
        Just(ByteString::from_static("#")),
        Just(ByteString::from_static("a/+/c")),
        topic().prop_map(|t| ByteString::from(format!("{t}/#"))),
    ]
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn text(max: usize) -> impl Strategy<Value = ByteString> {
    proptest::collection::vec(
        any::<char>().prop_map(|c| if c == '\0' { 'x' } else { c }),
        0..=max,
    )
    .prop_map(|c| ByteString::from(c.into_iter().collect::<String>()))
}

fn data(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

/// Any packet MQTT 3.1.1 can carry.
fn v311_packet() -> impl Strategy<Value = Packet> {
    let will =
        (topic(), data(8), qos(), any::<bool>()).prop_map(|(topic, payload, qos, retain)| Will {
            topic,
            payload,
            qos,
            retain,
            properties: Properties::new(),
        });
    let connect = (
        any::<bool>(),
        any::<u16>(),
        text(6),
        proptest::option::of(will),
        proptest::option::of((text(6), proptest::option::of(data(6)))),
    )
        .prop_map(|(clean, keep_alive, client_id, will, creds)| {
            let clean_start = clean || client_id.is_empty();
            let (username, password) = match creds {
                Some((u, p)) => (Some(u), p),
                None => (None, None),
            };
            Packet::from(Connect {
                clean_start,
                keep_alive,
                properties: Properties::new(),
                client_id,
                will,
                username,
                password,
            })
        });
    let connack = (any::<bool>(), 0u8..=5).prop_map(|(sp, code)| {
        Packet::ConnAck(ConnAck {
            session_present: sp && code == 0,
            reason_code: connack_reason(code).expect("0-5"),
            properties: Properties::new(),
        })
    });
    let publish = (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic(),
        packet_id(),
        data(16),
    )
        .prop_map(|(dup, qos, retain, topic, id, payload)| {
            let at_least_once = qos != QoS::AtMostOnce;
            Packet::Publish(Publish {
                dup: dup && at_least_once,
                qos,
                retain,
                topic,
                packet_id: if at_least_once { id } else { 0 },
                properties: Properties::new(),
                payload,
            })
        });
    let subscribe = (
        packet_id(),
        proptest::collection::vec((filter(), qos()), 1..4),
    )
        .prop_map(|(packet_id, subs)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties: Properties::new(),
                subscriptions: subs
                    .into_iter()
                    .map(|(filter, qos)| Subscription {
                        filter,
                        options: SubscriptionOptions {
                            qos,
                            ..SubscriptionOptions::default()
                        },
                    })
                    .collect(),
            })
        });
    let suback_code = prop_oneof![
        Just(SubAckReasonCode::GrantedQos0),
        Just(SubAckReasonCode::GrantedQos1),
        Just(SubAckReasonCode::GrantedQos2),
        Just(SubAckReasonCode::UnspecifiedError),
    ];
    let suback = (packet_id(), proptest::collection::vec(suback_code, 1..4)).prop_map(
        |(packet_id, reason_codes)| {
            Packet::SubAck(SubAck {
                packet_id,
                properties: Properties::new(),
                reason_codes,
            })
        },
    );
    let unsubscribe = (packet_id(), proptest::collection::vec(filter(), 1..4)).prop_map(
        |(packet_id, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties: Properties::new(),
                filters,
            })
        },
    );
    prop_oneof![
        connect,
        connack,
        publish,
        packet_id().prop_map(|id| Packet::PubAck(PubAck::new(id))),
        packet_id().prop_map(|id| Packet::PubRec(PubRec::new(id))),
        packet_id().prop_map(|id| Packet::PubRel(PubRel::new(id))),
        packet_id().prop_map(|id| Packet::PubComp(PubComp::new(id))),
        subscribe,
        suback,
        unsubscribe,
        packet_id().prop_map(|packet_id| Packet::UnsubAck(UnsubAck {
            packet_id,
            properties: Properties::new(),
            reason_codes: vec![],
        })),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        Just(Packet::Disconnect(Disconnect::new(
            DisconnectReasonCode::NormalDisconnection
        ))),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// decode_v311(encode_v311(p)) == p for every packet 3.1.1 can carry.
    #[test]
    fn valid_packets_round_trip(packet in v311_packet()) {
        let bytes = encode(&packet);
        prop_assert!(bytes.is_ok(), "{:?}: {:?}", packet, bytes);
        let bytes = bytes.unwrap_or_default();
        prop_assert_eq!(Packet::decode_v311(bytes), Ok(packet));
    }

    /// Any bytes: no panic; what decodes encodes back to exactly the same bytes (3.1.1 has
    /// one wire form per packet, and the decoder accepts no other).
    #[test]
    fn any_bytes_decode_to_a_canonical_packet_or_an_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        if let Ok(p) = Packet::decode_v311(bytes.clone()) {
            prop_assert_eq!(encode(&p), Ok(bytes));
        }
    }

    /// The streaming decoder in 3.1.1 mode: packets back to back, fed in chunks split at
    /// arbitrary points, come out as the packets that were encoded, in order.
    #[test]
    fn the_streaming_decoder_frames_3_1_1_packets_split_anywhere(
        packets in proptest::collection::vec(v311_packet(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut bytes = Vec::new();
        for p in &packets {
            prop_assert!(p.encode_v311(&mut bytes).is_ok());
        }
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.push(0);
        at.push(bytes.len());
        at.sort_unstable();
        let mut d = midge::codec::Decoder::new();
        d.set_version(midge::codec::ProtocolVersion::V311);
        let mut out = Vec::new();
        for w in at.windows(2) {
            d.feed(&bytes[w[0]..w[1]]);
            while let Some(p) = d.next_packet().map_err(|e| TestCaseError::fail(e.to_string()))? {
                out.push(p);
            }
        }
        prop_assert_eq!(d.buffered(), 0);
        prop_assert_eq!(out, packets);
    }

    /// Valid packets with one byte changed: the same oracle, far deeper than random bytes.
    #[test]
    fn mutated_packets_decode_to_a_canonical_packet_or_an_error(
        packet in v311_packet(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut bytes = encode(&packet).unwrap_or_default();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(p) = Packet::decode_v311(bytes.clone()) {
            prop_assert_eq!(encode(&p), Ok(bytes));
        }
    }
}
