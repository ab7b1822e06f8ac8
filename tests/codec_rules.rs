//! Negative tests for `midge::codec`: one test (or one table) per rule of the OASIS MQTT Version
//! 5.0 standard (7 March 2019) that the codec enforces.
//!
//! Every input here is built by hand, byte by byte, so that it breaks exactly one rule. Each
//! check asserts the exact [`CodecError`] and the Reason Code [`CodecError::reason_code`] maps it
//! to (0x81 Malformed Packet, 0x82 Protocol Error, 0x95 Packet too large, ...). Normative
//! statements are cited as `[MQTT-x.y.z-n]`, other rules by section number. The encode side is
//! checked too wherever the typed API can express the violation: `Packet::encode` must refuse
//! and leave the buffer as it was.

use midge::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, CodecError, ConnAck, Connect, ConnectReasonCode,
    Decoder, Disconnect, DisconnectReasonCode, Packet, PacketType, PayloadFormat, Properties,
    Property, PropertyContext, PropertyId, PubAck, PubAckReasonCode, PubComp, PubRec, PubRel,
    Publish, QoS, RetainHandling, SubAck, SubAckReasonCode, Subscribe, Subscription,
    SubscriptionOptions, TopicError, UnsubAck, UnsubAckReasonCode, Unsubscribe, VAR_INT_MAX, Will,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const MALFORMED: DisconnectReasonCode = DisconnectReasonCode::MalformedPacket; // 0x81
const PROTOCOL_ERROR: DisconnectReasonCode = DisconnectReasonCode::ProtocolError; // 0x82
const TOPIC_FILTER_INVALID: DisconnectReasonCode = DisconnectReasonCode::TopicFilterInvalid; // 0x8F
const TOPIC_NAME_INVALID: DisconnectReasonCode = DisconnectReasonCode::TopicNameInvalid; // 0x90
const TOPIC_ALIAS_INVALID: DisconnectReasonCode = DisconnectReasonCode::TopicAliasInvalid; // 0x94
const PACKET_TOO_LARGE: DisconnectReasonCode = DisconnectReasonCode::PacketTooLarge; // 0x95

fn hex(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(64)];
    let mut out: Vec<String> = shown.iter().map(|b| format!("{b:02X}")).collect();
    if bytes.len() > shown.len() {
        out.push(format!("... ({} bytes)", bytes.len()));
    }
    out.join(" ")
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A Variable Byte Integer (1.5.5), minimal form.
fn vbi(mut value: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return out;
        }
    }
}

/// A whole packet: first fixed-header byte, Remaining Length, body.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap();
    cat(&[&[first], &vbi(len), body])
}

/// A UTF-8 Encoded String or Binary Data field (1.5.4, 1.5.6): two-byte length, then bytes.
fn lp(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap();
    cat(&[&len.to_be_bytes(), data])
}

/// A property list: Property Length, then the properties' bytes (2.2.2.1).
fn plist(properties: &[u8]) -> Vec<u8> {
    let len = u32::try_from(properties.len()).unwrap();
    cat(&[&vbi(len), properties])
}

/// CONNECT with the given Connect Flags, Property bytes (without their length) and payload.
fn connect_bytes(flags: u8, properties: &[u8], payload: &[u8]) -> Vec<u8> {
    connect_raw(b"MQTT", 5, flags, properties, payload)
}

fn connect_raw(name: &[u8], version: u8, flags: u8, properties: &[u8], payload: &[u8]) -> Vec<u8> {
    frame(
        0x10,
        &cat(&[
            &lp(name),
            &[version, flags],
            &[0x00, 0x3C], // Keep Alive 60
            &plist(properties),
            payload,
        ]),
    )
}

/// PUBLISH with the given first byte, Topic Name bytes, optional Packet Identifier, Property
/// bytes (without their length) and payload.
fn publish_bytes(
    first: u8,
    topic: &[u8],
    packet_id: Option<u16>,
    properties: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let id = packet_id.map(u16::to_be_bytes);
    let id: &[u8] = id.as_ref().map_or(&[], |b| b.as_slice());
    frame(first, &cat(&[&lp(topic), id, &plist(properties), payload]))
}

/// SUBSCRIBE (packet identifier 1, no properties) with one filter and options byte.
fn subscribe_bytes(filter: &[u8], options: u8) -> Vec<u8> {
    frame(0x82, &cat(&[&[0x00, 0x01, 0x00], &lp(filter), &[options]]))
}

/// UNSUBSCRIBE (packet identifier 1, no properties) with one filter.
fn unsubscribe_bytes(filter: &[u8]) -> Vec<u8> {
    frame(0xA2, &cat(&[&[0x00, 0x01, 0x00], &lp(filter)]))
}

fn s(text: &'static str) -> ByteString {
    ByteString::from_static(text)
}

fn props(list: Vec<Property>) -> Properties {
    Properties::from(list)
}

/// `Packet::decode` of the complete frame `bytes` fails with exactly `expected`, which maps to
/// `reason`; the streaming `Decoder` fails the same way.
#[track_caller]
fn assert_decode_err(bytes: &[u8], expected: &CodecError, reason: DisconnectReasonCode) {
    match Packet::decode(Bytes::copy_from_slice(bytes)) {
        Ok(p) => panic!(
            "decode of {} succeeded with {p:?}, expected {expected:?}",
            hex(bytes)
        ),
        Err(e) => {
            assert_eq!(&e, expected, "decode of {}", hex(bytes));
            assert_eq!(
                e.reason_code(),
                reason,
                "reason code of {e:?} (0x{:02X}), expected 0x{:02X}",
                e.reason_code().as_u8(),
                reason.as_u8()
            );
            assert!(!e.spec_ref().is_empty());
            assert!(!e.to_string().is_empty());
        }
    }
    let mut decoder = Decoder::new();
    decoder.feed(bytes);
    assert_eq!(
        decoder.next_packet(),
        Err(expected.clone()),
        "Decoder on {}",
        hex(bytes)
    );
}

/// `Packet::decode` of `bytes` succeeds.
#[track_caller]
fn assert_decode_ok(bytes: &[u8]) -> Packet {
    match Packet::decode(Bytes::copy_from_slice(bytes)) {
        Ok(p) => p,
        Err(e) => panic!("decode of {} failed: {e:?} ({})", hex(bytes), e.spec_ref()),
    }
}

/// `Packet::encode` refuses `packet` with exactly `expected`, which maps to `reason`, and leaves
/// the buffer as it was.
#[track_caller]
fn assert_encode_err(
    packet: impl Into<Packet>,
    expected: &CodecError,
    reason: DisconnectReasonCode,
) {
    let packet = packet.into();
    let mut buf = vec![0xA5, 0x5A];
    let result = packet.encode(&mut buf);
    assert_eq!(result, Err(expected.clone()), "encode of {packet:?}");
    assert_eq!(
        buf,
        [0xA5, 0x5A],
        "a failed encode must not touch the buffer"
    );
    assert_eq!(
        expected.reason_code(),
        reason,
        "reason code of {expected:?}"
    );
}

/// `Packet::encode` accepts `packet`, and decoding the bytes gives it back.
#[track_caller]
fn assert_round_trip(packet: impl Into<Packet>) -> Vec<u8> {
    let packet = packet.into();
    let mut buf = Vec::new();
    if let Err(e) = packet.encode(&mut buf) {
        panic!("encode of {packet:?} failed: {e:?}");
    }
    assert_eq!(assert_decode_ok(&buf), packet);
    buf
}

// ---------------------------------------------------------------------------------------------
// 1.5.5 Variable Byte Integer, 2.1.4 Remaining Length
// ---------------------------------------------------------------------------------------------

// 1.5.5: at most four bytes; a fifth byte is malformed.
#[test]
fn vbi_remaining_length_fifth_byte_is_malformed() {
    assert_decode_err(
        &[0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
        &CodecError::VarIntTooLong,
        MALFORMED,
    );
    // Four bytes that all continue: no valid fifth byte can follow.
    assert_decode_err(
        &[0xC0, 0xFF, 0xFF, 0xFF, 0xFF],
        &CodecError::VarIntTooLong,
        MALFORMED,
    );
    assert_eq!(CodecError::VarIntTooLong.spec_ref(), "1.5.5");
}

// 1.5.5: the same rule for a Property Length and for a Subscription Identifier.
#[test]
fn vbi_in_body_fifth_byte_is_malformed() {
    // PUBACK, id 1, reason 0x00, Property Length of five bytes.
    let bytes = frame(0x40, &[0x00, 0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_decode_err(&bytes, &CodecError::VarIntTooLong, MALFORMED);
    // PUBLISH "t" with Subscription Identifier 0x80 0x80 0x80 0x80 0x01.
    let bytes = publish_bytes(0x30, b"t", None, &[0x0B, 0x80, 0x80, 0x80, 0x80, 0x01], b"");
    assert_decode_err(&bytes, &CodecError::VarIntTooLong, MALFORMED);
}

// [MQTT-1.5.5-1] the encoded value MUST use the minimum number of bytes.
#[test]
fn vbi_non_minimal_is_malformed_mqtt_1_5_5_1() {
    for bytes in [
        &[0xC0, 0x80, 0x00][..],
        &[0xC0, 0x80, 0x80, 0x00],
        &[0xC0, 0x80, 0x80, 0x80, 0x00],
    ] {
        assert_decode_err(bytes, &CodecError::VarIntNotMinimal, MALFORMED);
    }
    // 0x81 0x00 is 1 in two bytes: Remaining Length 1 for a PUBACK with a 1-byte body is still
    // rejected, before the body is looked at.
    assert_decode_err(
        &[0x40, 0x81, 0x00, 0x00],
        &CodecError::VarIntNotMinimal,
        MALFORMED,
    );
    // Property Length 0 as 0x80 0x00.
    let bytes = frame(0x40, &[0x00, 0x01, 0x00, 0x80, 0x00]);
    assert_decode_err(&bytes, &CodecError::VarIntNotMinimal, MALFORMED);
    // Subscription Identifier 1 as 0x81 0x00 in SUBSCRIBE.
    let bytes = frame(
        0x82,
        &cat(&[
            &[0x00, 0x01],
            &plist(&[0x0B, 0x81, 0x00]),
            &lp(b"a"),
            &[0x00],
        ]),
    );
    assert_decode_err(&bytes, &CodecError::VarIntNotMinimal, MALFORMED);
    // A property identifier is a Variable Byte Integer too (2.2.2.2): 0x81 0x00 for 0x01.
    let bytes = publish_bytes(0x30, b"t", None, &[0x81, 0x00, 0x00], b"");
    assert_decode_err(&bytes, &CodecError::VarIntNotMinimal, MALFORMED);
    assert_eq!(CodecError::VarIntNotMinimal.spec_ref(), "MQTT-1.5.5-1");
}

// 2.1.4: a Remaining Length larger than the bytes given to `Packet::decode` is a truncated packet.
#[test]
fn remaining_length_larger_than_buffer_is_truncated() {
    let truncated = |field| CodecError::Truncated { field };
    assert_decode_only(&[], &truncated("fixed header"));
    assert_decode_only(&[0x30], &truncated("remaining length"));
    assert_decode_only(&[0x30, 0x80], &truncated("remaining length"));
    assert_decode_only(&[0x30, 0xFF, 0xFF, 0xFF], &truncated("remaining length"));
    assert_decode_only(&[0x30, 0x0A, 0x00, 0x01, b't'], &truncated("packet body"));
    assert_decode_only(&[0xC0, 0x01], &truncated("packet body"));
    // The largest Remaining Length there is, 268,435,455, with no body.
    assert_decode_only(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], &truncated("packet body"));
    // The streaming decoder waits for the rest instead.
    let mut decoder = Decoder::new();
    decoder.feed(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert_eq!(decoder.next_packet(), Ok(None));
}

/// `Packet::decode` alone (the streaming decoder would wait for more bytes).
#[track_caller]
fn assert_decode_only(bytes: &[u8], expected: &CodecError) {
    let e = Packet::decode(Bytes::copy_from_slice(bytes)).unwrap_err();
    assert_eq!(&e, expected, "decode of {}", hex(bytes));
    assert_eq!(e.reason_code(), MALFORMED, "{e:?}");
}

// 2.1.4: bytes after the Remaining Length, or after a packet's last field, are malformed.
#[test]
fn trailing_bytes_are_malformed() {
    let e = Packet::decode(Bytes::from_static(&[0xC0, 0x00, 0x00])).unwrap_err();
    assert_eq!(
        e,
        CodecError::TrailingBytes {
            packet: PacketType::PingReq,
            extra: 1
        }
    );
    assert_eq!(e.reason_code(), MALFORMED);
    // PINGREQ with Remaining Length 1.
    assert_decode_err(
        &[0xC0, 0x01, 0x00],
        &CodecError::TrailingBytes {
            packet: PacketType::PingReq,
            extra: 1,
        },
        MALFORMED,
    );
    // PUBACK: Property Length 0, then two more bytes.
    assert_decode_err(
        &frame(0x40, &[0x00, 0x01, 0x00, 0x00, 0xAA, 0xBB]),
        &CodecError::TrailingBytes {
            packet: PacketType::PubAck,
            extra: 2,
        },
        MALFORMED,
    );
    // CONNACK with a byte after its properties.
    assert_decode_err(
        &frame(0x20, &[0x00, 0x00, 0x00, 0x00]),
        &CodecError::TrailingBytes {
            packet: PacketType::ConnAck,
            extra: 1,
        },
        MALFORMED,
    );
    // CONNECT with a byte after the Client Identifier.
    assert_decode_err(
        &connect_bytes(0x00, &[], &cat(&[&lp(b"c"), &[0x00]])),
        &CodecError::TrailingBytes {
            packet: PacketType::Connect,
            extra: 1,
        },
        MALFORMED,
    );
}

// 1.5.5, 2.1.4: the encoder refuses a packet whose Remaining Length exceeds 268,435,455.
#[test]
fn encode_remaining_length_above_maximum_is_refused() {
    // Zeroed allocation: the pages are never touched, encode fails before copying.
    let payload = Bytes::from(vec![0u8; VAR_INT_MAX as usize]);
    let publish = Publish {
        topic: s("t"),
        payload,
        ..Publish::default()
    };
    // Topic (2 + 1) + Property Length (1) + payload.
    let remaining = u64::from(VAR_INT_MAX) + 4;
    assert_encode_err(
        publish,
        &CodecError::VarIntOutOfRange { value: remaining },
        MALFORMED,
    );
}

// ---------------------------------------------------------------------------------------------
// 1.5 Data representation: strings, binary data, string pairs, integers
// ---------------------------------------------------------------------------------------------

/// Ill-formed UTF-8 sequences [MQTT-1.5.4-1] (Unicode 3.9, Table 3-7), none containing 0x00.
const ILL_FORMED_UTF8: &[(&str, &[u8])] = &[
    ("invalid byte 0xFF", &[b'a', 0xFF]),
    ("invalid byte 0xFE", &[0xFE]),
    ("lone continuation byte", &[0x80]),
    ("truncated 3-byte sequence", &[0xE2, 0x82]),
    ("truncated 4-byte sequence", &[0xF0, 0x9F, 0x98]),
    ("overlong '/' (C0 AF)", &[0xC0, 0xAF]),
    ("overlong U+0000 (C0 80)", &[0xC0, 0x80]),
    ("overlong 3-byte '/' (E0 80 AF)", &[0xE0, 0x80, 0xAF]),
    (
        "overlong 4-byte '/' (F0 80 80 AF)",
        &[0xF0, 0x80, 0x80, 0xAF],
    ),
    ("surrogate U+D800 (ED A0 80)", &[0xED, 0xA0, 0x80]),
    ("surrogate U+DFFF (ED BF BF)", &[0xED, 0xBF, 0xBF]),
    (
        "surrogate pair as CESU-8",
        &[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80],
    ),
    ("above U+10FFFF (F4 90 80 80)", &[0xF4, 0x90, 0x80, 0x80]),
    (
        "5-byte form (F8 88 80 80 80)",
        &[0xF8, 0x88, 0x80, 0x80, 0x80],
    ),
];

// [MQTT-1.5.4-1] a UTF-8 Encoded String MUST be well-formed UTF-8 (surrogates excluded): every
// ill-formed sequence, in every kind of string field, is a Malformed Packet.
#[test]
fn utf8_ill_formed_is_malformed_mqtt_1_5_4_1() {
    for &(what, bad) in ILL_FORMED_UTF8 {
        let cases: Vec<(&'static str, Vec<u8>)> = vec![
            ("topic name", publish_bytes(0x30, bad, None, &[], b"")),
            ("client identifier", connect_bytes(0x00, &[], &lp(bad))),
            (
                "user name",
                connect_bytes(0x80, &[], &cat(&[&lp(b"c"), &lp(bad)])),
            ),
            (
                "will topic",
                connect_bytes(0x04, &[], &cat(&[&lp(b"c"), &[0x00], &lp(bad), &lp(b"")])),
            ),
            ("topic filter", subscribe_bytes(bad, 0x00)),
            ("topic filter", unsubscribe_bytes(bad)),
            (
                "Reason String",
                frame(
                    0x40,
                    &cat(&[&[0x00, 0x01, 0x00], &plist(&cat(&[&[0x1F], &lp(bad)]))]),
                ),
            ),
            (
                "Content Type",
                publish_bytes(0x30, b"t", None, &cat(&[&[0x03], &lp(bad)]), b""),
            ),
            (
                "Response Topic",
                publish_bytes(0x30, b"t", None, &cat(&[&[0x08], &lp(bad)]), b""),
            ),
            (
                "Authentication Method",
                frame(0xF0, &cat(&[&[0x18], &plist(&cat(&[&[0x15], &lp(bad)]))])),
            ),
            (
                "user property name",
                frame(
                    0xE0,
                    &cat(&[&[0x00], &plist(&cat(&[&[0x26], &lp(bad), &lp(b"v")]))]),
                ),
            ),
            (
                "user property value",
                frame(
                    0xE0,
                    &cat(&[&[0x00], &plist(&cat(&[&[0x26], &lp(b"k"), &lp(bad)]))]),
                ),
            ),
        ];
        for (field, bytes) in cases {
            // `what` names the sequence; the hex of the packet is in the failure message.
            let _ = what;
            assert_decode_err(&bytes, &CodecError::InvalidUtf8 { field }, MALFORMED);
        }
    }
    assert_eq!(
        CodecError::InvalidUtf8 { field: "x" }.spec_ref(),
        "MQTT-1.5.4-1"
    );
}

// [MQTT-1.5.4-2] a UTF-8 Encoded String MUST NOT include U+0000.
#[test]
fn utf8_null_character_is_malformed_mqtt_1_5_4_2() {
    let cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("topic name", publish_bytes(0x30, b"a\0b", None, &[], b"")),
        ("topic name", publish_bytes(0x30, b"\0", None, &[], b"")),
        ("client identifier", connect_bytes(0x00, &[], &lp(b"c\0"))),
        (
            "user name",
            connect_bytes(0x80, &[], &cat(&[&lp(b"c"), &lp(b"\0u")])),
        ),
        ("topic filter", subscribe_bytes(b"a/\0", 0x00)),
        ("topic filter", unsubscribe_bytes(b"\0")),
        (
            "user property value",
            frame(
                0xE0,
                &cat(&[&[0x00], &plist(&cat(&[&[0x26], &lp(b"k"), &lp(b"v\0")]))]),
            ),
        ),
        (
            "Reason String",
            frame(
                0xB0,
                &cat(&[&[0x00, 0x01], &plist(&cat(&[&[0x1F], &lp(b"\0")])), &[0x00]]),
            ),
        ),
    ];
    for (field, bytes) in cases {
        assert_decode_err(&bytes, &CodecError::NullCharacter { field }, MALFORMED);
    }
    assert_eq!(
        CodecError::NullCharacter { field: "x" }.spec_ref(),
        "MQTT-1.5.4-2"
    );
}

// [MQTT-1.5.4-2] on the encode side: a string with U+0000 is refused.
#[test]
fn encode_null_character_is_refused_mqtt_1_5_4_2() {
    assert_encode_err(
        Connect {
            client_id: s("c\0"),
            ..Connect::default()
        },
        &CodecError::NullCharacter {
            field: "client identifier",
        },
        MALFORMED,
    );
    assert_encode_err(
        Connect {
            client_id: s("c"),
            username: Some(s("\0")),
            ..Connect::default()
        },
        &CodecError::NullCharacter { field: "user name" },
        MALFORMED,
    );
    assert_encode_err(
        Disconnect {
            reason_code: DisconnectReasonCode::NormalDisconnection,
            properties: props(vec![Property::UserProperty(s("k\0"), s("v"))]),
        },
        &CodecError::NullCharacter {
            field: "user property name",
        },
        MALFORMED,
    );
    assert_encode_err(
        PubAck {
            packet_id: 1,
            reason_code: PubAckReasonCode::Success,
            properties: props(vec![Property::ReasonString(s("why\0"))]),
        },
        &CodecError::NullCharacter {
            field: "Reason String",
        },
        MALFORMED,
    );
    // A Topic Name is checked as a topic first [MQTT-4.7.3-2].
    assert_encode_err(
        Publish {
            topic: s("a\0"),
            ..Publish::default()
        },
        &CodecError::InvalidTopicName(TopicError::NullCharacter),
        TOPIC_NAME_INVALID,
    );
}

// 1.5.4, 1.5.6: strings and binary data are at most 65,535 bytes; the encoder refuses more.
#[test]
fn encode_string_or_binary_longer_than_65535_is_refused() {
    let long = "x".repeat(65_536);
    assert_encode_err(
        Publish {
            topic: s("t"),
            properties: props(vec![Property::ContentType(ByteString::from(long.clone()))]),
            ..Publish::default()
        },
        &CodecError::TooLong {
            field: "Content Type",
            len: 65_536,
        },
        MALFORMED,
    );
    assert_encode_err(
        Connect {
            client_id: s("c"),
            password: Some(Bytes::from(vec![0u8; 65_536])),
            ..Connect::default()
        },
        &CodecError::TooLong {
            field: "password",
            len: 65_536,
        },
        MALFORMED,
    );
    assert_encode_err(
        Connect {
            client_id: ByteString::from(long),
            ..Connect::default()
        },
        &CodecError::TooLong {
            field: "client identifier",
            len: 65_536,
        },
        MALFORMED,
    );
}

// 1.5.4: a string's length prefix larger than the data left is malformed.
#[test]
fn string_length_prefix_past_the_end_is_malformed() {
    let truncated = |field| CodecError::Truncated { field };
    // Topic Name claims 10 bytes, 1 follows.
    assert_decode_err(
        &frame(0x30, &[0x00, 0x0A, b't']),
        &truncated("topic name"),
        MALFORMED,
    );
    // Only one byte of the length prefix.
    assert_decode_err(&frame(0x30, &[0x00]), &truncated("topic name"), MALFORMED);
    // Client Identifier claims 5 bytes, 1 follows.
    assert_decode_err(
        &connect_bytes(0x00, &[], &[0x00, 0x05, b'c']),
        &truncated("client identifier"),
        MALFORMED,
    );
    // Protocol Name claims 4 bytes, 2 follow.
    assert_decode_err(
        &frame(0x10, &[0x00, 0x04, b'M', b'Q']),
        &truncated("protocol name"),
        MALFORMED,
    );
    // User Name flag set but no User Name.
    assert_decode_err(
        &connect_bytes(0x80, &[], &lp(b"c")),
        &truncated("user name"),
        MALFORMED,
    );
    // A Topic Filter's length runs past the end.
    assert_decode_err(
        &frame(0x82, &[0x00, 0x01, 0x00, 0x00, 0x09, b'a', 0x00]),
        &truncated("topic filter"),
        MALFORMED,
    );
    // Content Type inside the properties runs past the Property Length.
    assert_decode_err(
        &publish_bytes(0x30, b"t", None, &[0x03, 0x00, 0x05, b'a'], b"payload"),
        &truncated("Content Type"),
        MALFORMED,
    );
}

// 1.5.6: Binary Data whose length runs past the end is malformed.
#[test]
fn binary_data_truncated_is_malformed() {
    let truncated = |field| CodecError::Truncated { field };
    // Password flag set, Password claims 5 bytes, 2 follow.
    assert_decode_err(
        &connect_bytes(0x40, &[], &cat(&[&lp(b"c"), &[0x00, 0x05, 0x01, 0x02]])),
        &truncated("password"),
        MALFORMED,
    );
    // Will Payload claims 3 bytes, none follow.
    assert_decode_err(
        &connect_bytes(
            0x04,
            &[],
            &cat(&[&lp(b"c"), &[0x00], &lp(b"w"), &[0x00, 0x03]]),
        ),
        &truncated("will payload"),
        MALFORMED,
    );
    // Correlation Data claims 4 bytes, the Property Length leaves 1.
    assert_decode_err(
        &publish_bytes(0x30, b"t", None, &[0x09, 0x00, 0x04, 0xAA], b""),
        &truncated("Correlation Data"),
        MALFORMED,
    );
    // Authentication Data claims 2 bytes, 1 left.
    assert_decode_err(
        &frame(0xF0, &cat(&[&[0x18], &plist(&[0x16, 0x00, 0x02, 0x01])])),
        &truncated("Authentication Data"),
        MALFORMED,
    );
}

// 1.5.7: a UTF-8 String Pair is two strings; either one cut short is malformed.
#[test]
fn string_pair_truncated_is_malformed() {
    let truncated = |field| CodecError::Truncated { field };
    let user = |pair: &[u8]| frame(0xE0, &cat(&[&[0x00], &plist(&cat(&[&[0x26], pair]))]));
    // Name only, no value at all.
    assert_decode_err(
        &user(&lp(b"key")),
        &truncated("user property value"),
        MALFORMED,
    );
    // Value length runs past the Property Length.
    assert_decode_err(
        &user(&cat(&[&lp(b"k"), &[0x00, 0x04, b'v']])),
        &truncated("user property value"),
        MALFORMED,
    );
    // Name length runs past the Property Length.
    assert_decode_err(
        &user(&[0x00, 0x09, b'k']),
        &truncated("user property name"),
        MALFORMED,
    );
    // Identifier only.
    assert_decode_err(&user(&[]), &truncated("user property name"), MALFORMED);
}

// 1.5.2, 1.5.3: Two and Four Byte Integers cut short are malformed.
#[test]
fn integers_truncated_are_malformed() {
    let truncated = |field| CodecError::Truncated { field };
    // Two Byte Integers.
    for first in [0x40, 0x50, 0x62, 0x70, 0x90, 0xB0] {
        assert_decode_err(
            &frame(first, &[0x00]),
            &truncated("packet identifier"),
            MALFORMED,
        );
    }
    assert_decode_err(
        &frame(0x82, &[0x01]),
        &truncated("packet identifier"),
        MALFORMED,
    );
    assert_decode_err(
        &frame(0x32, &[0x00, 0x01, b't', 0x00]),
        &truncated("packet identifier"),
        MALFORMED,
    );
    assert_decode_err(
        &frame(0x10, &cat(&[&lp(b"MQTT"), &[0x05, 0x00, 0x00]])),
        &truncated("keep alive"),
        MALFORMED,
    );
    assert_decode_err(
        &publish_bytes(0x30, b"t", None, &[0x23, 0x00], b""),
        &truncated("Topic Alias"),
        MALFORMED,
    );
    assert_decode_err(
        &connect_bytes(0x00, &[0x21, 0x01], &lp(b"c")),
        &truncated("Receive Maximum"),
        MALFORMED,
    );
    assert_decode_err(
        &frame(0x20, &cat(&[&[0x00, 0x00], &plist(&[0x13, 0x00])])),
        &truncated("Server Keep Alive"),
        MALFORMED,
    );
    // Four Byte Integers.
    assert_decode_err(
        &publish_bytes(0x30, b"t", None, &[0x02, 0x00, 0x00, 0x01], b"payload"),
        &truncated("Message Expiry Interval"),
        MALFORMED,
    );
    assert_decode_err(
        &connect_bytes(0x00, &[0x11, 0x00, 0x00], &lp(b"c")),
        &truncated("Session Expiry Interval"),
        MALFORMED,
    );
    assert_decode_err(
        &connect_bytes(0x00, &[0x27, 0x00], &lp(b"c")),
        &truncated("Maximum Packet Size"),
        MALFORMED,
    );
    // One-byte fields.
    assert_decode_err(&frame(0x20, &[0x00]), &truncated("reason code"), MALFORMED);
    assert_decode_err(
        &frame(0x10, &lp(b"MQTT")),
        &truncated("protocol version"),
        MALFORMED,
    );
    assert_decode_err(
        &frame(0x10, &cat(&[&lp(b"MQTT"), &[0x05]])),
        &truncated("connect flags"),
        MALFORMED,
    );
    assert_decode_err(
        &publish_bytes(0x30, b"t", None, &[0x01], b""),
        &truncated("Payload Format Indicator"),
        MALFORMED,
    );
}

// ---------------------------------------------------------------------------------------------
// 2.1 Fixed header
// ---------------------------------------------------------------------------------------------

/// Every packet type with its fixed-header flags from Table 2-2 (PUBLISH excluded: its flags are
/// DUP, QoS and RETAIN).
const FIXED_FLAGS: &[(PacketType, u8)] = &[
    (PacketType::Connect, 0b0000),
    (PacketType::ConnAck, 0b0000),
    (PacketType::PubAck, 0b0000),
    (PacketType::PubRec, 0b0000),
    (PacketType::PubRel, 0b0010),
    (PacketType::PubComp, 0b0000),
    (PacketType::Subscribe, 0b0010),
    (PacketType::SubAck, 0b0000),
    (PacketType::Unsubscribe, 0b0010),
    (PacketType::UnsubAck, 0b0000),
    (PacketType::PingReq, 0b0000),
    (PacketType::PingResp, 0b0000),
    (PacketType::Disconnect, 0b0000),
    (PacketType::Auth, 0b0000),
];

// [MQTT-2.1.3-1] where a flag bit is marked "Reserved" it MUST be set to the listed value; any
// other value is a Malformed Packet. Checked for all 15 other flag values of all 14 types, both
// by `Packet::decode` and by the streaming decoder from the first byte alone.
#[test]
fn reserved_fixed_header_flags_are_malformed_mqtt_2_1_3_1() {
    for &(packet, required) in FIXED_FLAGS {
        assert_eq!(packet.required_flags(), required, "{packet:?}");
        for flags in 0..16u8 {
            if flags == required {
                continue;
            }
            let first = ((packet as u8) << 4) | flags;
            let expected = CodecError::InvalidFixedHeaderFlags { packet, flags };
            assert_decode_err(&[first, 0x00], &expected, MALFORMED);
            let mut decoder = Decoder::new();
            decoder.feed(&[first]);
            assert_eq!(decoder.next_packet(), Err(expected.clone()), "{first:02X}");
            assert_eq!(expected.spec_ref(), "MQTT-2.1.3-1");
        }
    }
}

// Table 2-2: the required flags are accepted (PUBREL, SUBSCRIBE, UNSUBSCRIBE carry 0b0010).
#[test]
fn required_fixed_header_flags_are_accepted() {
    assert_eq!(
        assert_decode_ok(&[0x62, 0x02, 0x00, 0x01]),
        Packet::PubRel(PubRel::new(1))
    );
    assert_eq!(assert_decode_ok(&[0xC0, 0x00]), Packet::PingReq);
    assert_eq!(assert_decode_ok(&[0xD0, 0x00]), Packet::PingResp);
    assert!(matches!(
        assert_decode_ok(&subscribe_bytes(b"a", 0x00)),
        Packet::Subscribe(_)
    ));
    assert!(matches!(
        assert_decode_ok(&unsubscribe_bytes(b"a")),
        Packet::Unsubscribe(_)
    ));
}

// 2.1.2, Table 2-1: control packet type 0 is Reserved (Malformed), whatever its flags.
#[test]
fn packet_type_0_is_reserved() {
    for flags in 0..16u8 {
        assert_decode_err(&[flags, 0x00], &CodecError::ReservedPacketType, MALFORMED);
        let mut decoder = Decoder::new();
        decoder.feed(&[flags]);
        assert_eq!(decoder.next_packet(), Err(CodecError::ReservedPacketType));
    }
    assert_eq!(CodecError::ReservedPacketType.spec_ref(), "2.1.2");
}

// 2.1.2, Table 2-1: in MQTT 5 type 15 is AUTH (it was reserved in 3.1.1); its flags are 0.
#[test]
fn packet_type_15_is_auth() {
    assert_eq!(PacketType::from_u8(15), Some(PacketType::Auth));
    assert_eq!(
        assert_decode_ok(&[0xF0, 0x00]),
        Packet::Auth(Auth::new(AuthReasonCode::Success))
    );
    assert_decode_err(
        &[0xFF, 0x00],
        &CodecError::InvalidFixedHeaderFlags {
            packet: PacketType::Auth,
            flags: 0x0F,
        },
        MALFORMED,
    );
}

// [MQTT-3.3.1-4] a PUBLISH MUST NOT have both QoS bits set to 1 (Malformed Packet), with any
// DUP and RETAIN; detected from the first byte alone by the streaming decoder.
#[test]
fn publish_qos_3_is_malformed_mqtt_3_3_1_4() {
    for first in [0x36, 0x37, 0x3E, 0x3F] {
        let bytes = publish_bytes(first, b"t", Some(1), &[], b"");
        assert_decode_err(&bytes, &CodecError::InvalidPublishQos, MALFORMED);
        let mut decoder = Decoder::new();
        decoder.feed(&[first]);
        assert_eq!(decoder.next_packet(), Err(CodecError::InvalidPublishQos));
    }
    assert_eq!(CodecError::InvalidPublishQos.spec_ref(), "MQTT-3.3.1-4");
}

// [MQTT-3.3.1-2] the DUP flag MUST be set to 0 for all QoS 0 messages; decode and encode.
#[test]
fn publish_dup_with_qos_0_is_malformed_mqtt_3_3_1_2() {
    for first in [0x38, 0x39] {
        let bytes = publish_bytes(first, b"t", None, &[], b"");
        assert_decode_err(&bytes, &CodecError::DupWithQos0, MALFORMED);
    }
    assert_encode_err(
        Publish {
            dup: true,
            qos: QoS::AtMostOnce,
            topic: s("t"),
            ..Publish::default()
        },
        &CodecError::DupWithQos0,
        MALFORMED,
    );
    assert_eq!(CodecError::DupWithQos0.spec_ref(), "MQTT-3.3.1-2");
    // DUP with QoS 1 and 2 is fine.
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        assert_round_trip(Publish {
            dup: true,
            qos,
            topic: s("t"),
            packet_id: 7,
            ..Publish::default()
        });
    }
}

// ---------------------------------------------------------------------------------------------
// 2.2.2.2 Properties
// ---------------------------------------------------------------------------------------------

const ALL_CONTEXTS: [PropertyContext; 14] = [
    PropertyContext::Connect,
    PropertyContext::Will,
    PropertyContext::ConnAck,
    PropertyContext::Publish,
    PropertyContext::PubAck,
    PropertyContext::PubRec,
    PropertyContext::PubRel,
    PropertyContext::PubComp,
    PropertyContext::Subscribe,
    PropertyContext::SubAck,
    PropertyContext::Unsubscribe,
    PropertyContext::UnsubAck,
    PropertyContext::Disconnect,
    PropertyContext::Auth,
];

/// Table 2-4, copied here by hand from the standard (not from the codec): which packets (or the
/// Will Properties) may carry each property.
fn table_2_4(id: PropertyId) -> &'static [PropertyContext] {
    use PropertyContext as C;
    use PropertyId as I;
    match id {
        I::PayloadFormatIndicator
        | I::MessageExpiryInterval
        | I::ContentType
        | I::ResponseTopic
        | I::CorrelationData => &[C::Publish, C::Will],
        I::SubscriptionIdentifier => &[C::Publish, C::Subscribe],
        I::SessionExpiryInterval => &[C::Connect, C::ConnAck, C::Disconnect],
        I::AssignedClientIdentifier
        | I::ServerKeepAlive
        | I::ResponseInformation
        | I::MaximumQos
        | I::RetainAvailable
        | I::WildcardSubscriptionAvailable
        | I::SubscriptionIdentifierAvailable
        | I::SharedSubscriptionAvailable => &[C::ConnAck],
        I::AuthenticationMethod | I::AuthenticationData => &[C::Connect, C::ConnAck, C::Auth],
        I::RequestProblemInformation | I::RequestResponseInformation => &[C::Connect],
        I::WillDelayInterval => &[C::Will],
        I::ServerReference => &[C::ConnAck, C::Disconnect],
        I::ReasonString => &[
            C::ConnAck,
            C::PubAck,
            C::PubRec,
            C::PubRel,
            C::PubComp,
            C::SubAck,
            C::UnsubAck,
            C::Disconnect,
            C::Auth,
        ],
        I::ReceiveMaximum | I::TopicAliasMaximum | I::MaximumPacketSize => {
            &[C::Connect, C::ConnAck]
        }
        I::TopicAlias => &[C::Publish],
        I::UserProperty => &ALL_CONTEXTS,
    }
}

/// A valid value of each property, typed and as wire bytes (identifier included).
fn sample(id: PropertyId) -> (Property, Vec<u8>) {
    use PropertyId as I;
    let code = id as u8;
    let (property, value): (Property, Vec<u8>) = match id {
        I::PayloadFormatIndicator => (
            Property::PayloadFormatIndicator(PayloadFormat::Utf8),
            vec![1],
        ),
        I::MessageExpiryInterval => (Property::MessageExpiryInterval(9), vec![0, 0, 0, 9]),
        I::ContentType => (Property::ContentType(s("a")), lp(b"a")),
        I::ResponseTopic => (Property::ResponseTopic(s("r")), lp(b"r")),
        I::CorrelationData => (
            Property::CorrelationData(Bytes::from_static(&[0xFF])),
            lp(&[0xFF]),
        ),
        I::SubscriptionIdentifier => (Property::SubscriptionIdentifier(200), vec![0xC8, 0x01]),
        I::SessionExpiryInterval => (Property::SessionExpiryInterval(9), vec![0, 0, 0, 9]),
        I::AssignedClientIdentifier => (Property::AssignedClientIdentifier(s("a")), lp(b"a")),
        I::ServerKeepAlive => (Property::ServerKeepAlive(9), vec![0, 9]),
        I::AuthenticationMethod => (Property::AuthenticationMethod(s("m")), lp(b"m")),
        I::AuthenticationData => (
            Property::AuthenticationData(Bytes::from_static(&[0x00])),
            lp(&[0x00]),
        ),
        I::RequestProblemInformation => (Property::RequestProblemInformation(true), vec![1]),
        I::WillDelayInterval => (Property::WillDelayInterval(9), vec![0, 0, 0, 9]),
        I::RequestResponseInformation => (Property::RequestResponseInformation(true), vec![1]),
        I::ResponseInformation => (Property::ResponseInformation(s("i")), lp(b"i")),
        I::ServerReference => (Property::ServerReference(s("h")), lp(b"h")),
        I::ReasonString => (Property::ReasonString(s("why")), lp(b"why")),
        I::ReceiveMaximum => (Property::ReceiveMaximum(9), vec![0, 9]),
        I::TopicAliasMaximum => (Property::TopicAliasMaximum(9), vec![0, 9]),
        I::TopicAlias => (Property::TopicAlias(9), vec![0, 9]),
        I::MaximumQos => (Property::MaximumQos(QoS::AtLeastOnce), vec![1]),
        I::RetainAvailable => (Property::RetainAvailable(true), vec![1]),
        I::UserProperty => (
            Property::UserProperty(s("k"), s("v")),
            cat(&[&lp(b"k"), &lp(b"v")]),
        ),
        I::MaximumPacketSize => (Property::MaximumPacketSize(1024), vec![0, 0, 4, 0]),
        I::WildcardSubscriptionAvailable => {
            (Property::WildcardSubscriptionAvailable(true), vec![1])
        }
        I::SubscriptionIdentifierAvailable => {
            (Property::SubscriptionIdentifierAvailable(true), vec![1])
        }
        I::SharedSubscriptionAvailable => (Property::SharedSubscriptionAvailable(true), vec![1]),
    };
    assert_eq!(property.id(), id);
    (property, cat(&[&[code], &value]))
}

/// A valid packet of `context` whose (only non-empty) property list is `properties` (the bytes
/// of the properties, without the Property Length).
fn bytes_with_properties(context: PropertyContext, properties: &[u8]) -> Vec<u8> {
    use PropertyContext as C;
    let p = plist(properties);
    match context {
        C::Connect => connect_bytes(0x00, properties, &lp(b"c")),
        C::Will => connect_bytes(0x04, &[], &cat(&[&lp(b"c"), &p, &lp(b"w"), &lp(b"x")])),
        C::ConnAck => frame(0x20, &cat(&[&[0x00, 0x00], &p])),
        C::Publish => frame(0x30, &cat(&[&lp(b"t"), &p, b"payload"])),
        C::PubAck => frame(0x40, &cat(&[&[0x00, 0x01, 0x00], &p])),
        C::PubRec => frame(0x50, &cat(&[&[0x00, 0x01, 0x00], &p])),
        C::PubRel => frame(0x62, &cat(&[&[0x00, 0x01, 0x00], &p])),
        C::PubComp => frame(0x70, &cat(&[&[0x00, 0x01, 0x00], &p])),
        C::Subscribe => frame(0x82, &cat(&[&[0x00, 0x01], &p, &lp(b"f"), &[0x00]])),
        C::SubAck => frame(0x90, &cat(&[&[0x00, 0x01], &p, &[0x00]])),
        C::Unsubscribe => frame(0xA2, &cat(&[&[0x00, 0x01], &p, &lp(b"f")])),
        C::UnsubAck => frame(0xB0, &cat(&[&[0x00, 0x01], &p, &[0x00]])),
        C::Disconnect => frame(0xE0, &cat(&[&[0x00], &p])),
        C::Auth => frame(0xF0, &cat(&[&[0x00], &p])),
    }
}

/// The typed counterpart of [`bytes_with_properties`].
fn packet_with_properties(context: PropertyContext, properties: Properties) -> Packet {
    use PropertyContext as C;
    match context {
        C::Connect => Packet::from(Connect {
            client_id: s("c"),
            keep_alive: 60,
            properties,
            ..Connect::default()
        }),
        C::Will => Packet::from(Connect {
            client_id: s("c"),
            keep_alive: 60,
            will: Some(Will {
                topic: s("w"),
                payload: Bytes::from_static(b"x"),
                properties,
                ..Will::default()
            }),
            ..Connect::default()
        }),
        C::ConnAck => Packet::from(ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::Success,
            properties,
        }),
        C::Publish => Packet::from(Publish {
            topic: s("t"),
            properties,
            payload: Bytes::from_static(b"payload"),
            ..Publish::default()
        }),
        C::PubAck => Packet::from(PubAck {
            properties,
            ..PubAck::new(1)
        }),
        C::PubRec => Packet::from(PubRec {
            properties,
            ..PubRec::new(1)
        }),
        C::PubRel => Packet::from(PubRel {
            properties,
            ..PubRel::new(1)
        }),
        C::PubComp => Packet::from(PubComp {
            properties,
            ..PubComp::new(1)
        }),
        C::Subscribe => Packet::from(Subscribe {
            packet_id: 1,
            properties,
            subscriptions: vec![Subscription {
                filter: s("f"),
                options: SubscriptionOptions::default(),
            }],
        }),
        C::SubAck => Packet::from(SubAck {
            packet_id: 1,
            properties,
            reason_codes: vec![SubAckReasonCode::GrantedQos0],
        }),
        C::Unsubscribe => Packet::from(Unsubscribe {
            packet_id: 1,
            properties,
            filters: vec![s("f")],
        }),
        C::UnsubAck => Packet::from(UnsubAck {
            packet_id: 1,
            properties,
            reason_codes: vec![UnsubAckReasonCode::Success],
        }),
        C::Disconnect => Packet::from(Disconnect {
            properties,
            ..Disconnect::new(DisconnectReasonCode::NormalDisconnection)
        }),
        C::Auth => Packet::from(Auth {
            properties,
            ..Auth::new(AuthReasonCode::Success)
        }),
    }
}

// 2.2.2.2, Table 2-4: a property in a packet that may not carry it is a Malformed Packet ("A
// Control Packet which contains an Identifier which is not valid for its packet type ... is a
// Malformed Packet"). All 27 properties x 14 property lists, decode and encode; the allowed
// combinations must decode and round-trip.
#[test]
fn property_not_allowed_in_packet_is_malformed_table_2_4() {
    let mut refused = 0;
    for id in PropertyId::ALL {
        let (property, wire) = sample(id);
        for context in ALL_CONTEXTS {
            let bytes = bytes_with_properties(context, &wire);
            let packet = packet_with_properties(context, props(vec![property.clone()]));
            if table_2_4(id).contains(&context) {
                assert_eq!(assert_decode_ok(&bytes), packet, "{id:?} in {context:?}");
                assert_eq!(assert_round_trip(packet), bytes, "{id:?} in {context:?}");
            } else {
                let expected = CodecError::PropertyNotAllowed {
                    property: id,
                    context,
                };
                assert_decode_err(&bytes, &expected, MALFORMED);
                assert_encode_err(packet, &expected, MALFORMED);
                refused += 1;
            }
        }
    }
    // 27 * 14 = 378 combinations, of which Table 2-4 allows 64.
    assert_eq!(refused, 378 - 64);
}

// The examples named in the brief, spelled out: Topic Alias in CONNECT, Will Delay Interval in
// the CONNECT properties rather than the Will Properties, Session Expiry Interval in the Will.
#[test]
fn property_not_allowed_examples() {
    let expected = CodecError::PropertyNotAllowed {
        property: PropertyId::TopicAlias,
        context: PropertyContext::Connect,
    };
    assert_decode_err(
        &connect_bytes(0x00, &[0x23, 0x00, 0x01], &lp(b"c")),
        &expected,
        MALFORMED,
    );
    assert_encode_err(
        Connect {
            client_id: s("c"),
            properties: props(vec![Property::TopicAlias(1)]),
            ..Connect::default()
        },
        &expected,
        MALFORMED,
    );
    assert_decode_err(
        &connect_bytes(0x00, &[0x18, 0x00, 0x00, 0x00, 0x05], &lp(b"c")),
        &CodecError::PropertyNotAllowed {
            property: PropertyId::WillDelayInterval,
            context: PropertyContext::Connect,
        },
        MALFORMED,
    );
    assert_encode_err(
        packet_with_properties(
            PropertyContext::Will,
            props(vec![Property::SessionExpiryInterval(5)]),
        ),
        &CodecError::PropertyNotAllowed {
            property: PropertyId::SessionExpiryInterval,
            context: PropertyContext::Will,
        },
        MALFORMED,
    );
}

// 2.2.2.2 and each property's section: "It is a Protocol Error to include the <property> more
// than once". Only User Property may repeat anywhere, and Subscription Identifier only in
// PUBLISH (3.3.2.3.8); in SUBSCRIBE it may appear once (3.8.2.1.2). Every allowed combination,
// decode and encode.
#[test]
fn duplicate_property_is_protocol_error() {
    let mut refused = 0;
    for id in PropertyId::ALL {
        let (property, wire) = sample(id);
        for &context in table_2_4(id) {
            let bytes = bytes_with_properties(context, &cat(&[&wire, &wire]));
            let packet =
                packet_with_properties(context, props(vec![property.clone(), property.clone()]));
            let may_repeat = id == PropertyId::UserProperty
                || (id == PropertyId::SubscriptionIdentifier
                    && context == PropertyContext::Publish);
            if may_repeat {
                assert_eq!(
                    assert_decode_ok(&bytes),
                    packet,
                    "{id:?} twice in {context:?}"
                );
                assert_eq!(assert_round_trip(packet), bytes);
            } else {
                let expected = CodecError::DuplicateProperty {
                    property: id,
                    context,
                };
                assert_decode_err(&bytes, &expected, PROTOCOL_ERROR);
                assert_encode_err(packet, &expected, PROTOCOL_ERROR);
                refused += 1;
            }
        }
    }
    // 64 allowed combinations, minus 14 for User Property and 1 for Subscription Identifier in
    // PUBLISH.
    assert_eq!(refused, 64 - 15);
}

// The example from the brief, with the two copies apart: two Message Expiry Intervals in
// PUBLISH, a Content Type in between.
#[test]
fn duplicate_message_expiry_interval_is_protocol_error() {
    let expected = CodecError::DuplicateProperty {
        property: PropertyId::MessageExpiryInterval,
        context: PropertyContext::Publish,
    };
    let bytes = publish_bytes(
        0x30,
        b"t",
        None,
        &cat(&[&[0x02, 0, 0, 0, 1], &[0x03], &lp(b"c"), &[0x02, 0, 0, 0, 2]]),
        b"",
    );
    assert_decode_err(&bytes, &expected, PROTOCOL_ERROR);
    assert_encode_err(
        Publish {
            topic: s("t"),
            properties: props(vec![
                Property::MessageExpiryInterval(1),
                Property::ContentType(s("c")),
                Property::MessageExpiryInterval(2),
            ]),
            ..Publish::default()
        },
        &expected,
        PROTOCOL_ERROR,
    );
}

// 2.2.2.2: an identifier Table 2-4 does not define is a Malformed Packet.
#[test]
fn unknown_property_identifier_is_malformed() {
    for id in [
        0x00u8, 0x04, 0x05, 0x0A, 0x0C, 0x10, 0x14, 0x1B, 0x1D, 0x20, 0x2B, 0x7F,
    ] {
        assert_eq!(PropertyId::from_u8(id), None);
        let expected = CodecError::UnknownProperty { id: id.into() };
        assert_decode_err(
            &publish_bytes(0x30, b"t", None, &[id, 0x00], b""),
            &expected,
            MALFORMED,
        );
        assert_decode_err(
            &frame(0x40, &cat(&[&[0x00, 0x01, 0x00], &plist(&[id, 0x00])])),
            &expected,
            MALFORMED,
        );
    }
    // A two-byte identifier (0x80 0x01 = 128) is no property either.
    assert_decode_err(
        &publish_bytes(0x30, b"t", None, &[0x80, 0x01, 0x00], b""),
        &CodecError::UnknownProperty { id: 128 },
        MALFORMED,
    );
    // Nor one above 255 (0x81 0x02 = 257), reported with its full value.
    assert_decode_err(
        &publish_bytes(0x30, b"t", None, &[0x81, 0x02, 0x00], b""),
        &CodecError::UnknownProperty { id: 257 },
        MALFORMED,
    );
}

// 2.2.2.1: a Property Length longer than the bytes left in the packet is malformed.
#[test]
fn property_length_longer_than_packet_is_malformed() {
    let truncated = CodecError::Truncated {
        field: "properties",
    };
    // PUBACK: Property Length 5, four bytes follow.
    assert_decode_err(
        &frame(0x40, &cat(&[&[0x00, 0x01, 0x00, 0x05, 0x1F], &lp(b"a")])),
        &truncated,
        MALFORMED,
    );
    // CONNECT: Property Length 100.
    assert_decode_err(
        &frame(
            0x10,
            &cat(&[&lp(b"MQTT"), &[0x05, 0x00, 0x00, 0x3C, 100], &lp(b"c")]),
        ),
        &truncated,
        MALFORMED,
    );
    // SUBSCRIBE, SUBACK, DISCONNECT, AUTH, CONNACK.
    for bytes in [
        frame(0x82, &[0x00, 0x01, 0x09, 0x00, 0x01, b'a', 0x00]),
        frame(0x90, &[0x00, 0x01, 0x02, 0x00]),
        frame(0xE0, &[0x00, 0x01]),
        frame(0xF0, &[0x18, 0x03, 0x26]),
        frame(0x20, &[0x00, 0x00, 0x7F]),
    ] {
        assert_decode_err(&bytes, &truncated, MALFORMED);
    }
}

// 2.2.2.1: a Property Length shorter than the properties it announces cuts the last one short.
#[test]
fn property_length_shorter_than_contents_is_malformed() {
    // PUBACK: Property Length 2, but Reason String "a" takes 4.
    assert_decode_err(
        &frame(0x40, &cat(&[&[0x00, 0x01, 0x00, 0x02, 0x1F], &lp(b"a")])),
        &CodecError::Truncated {
            field: "Reason String",
        },
        MALFORMED,
    );
    // CONNECT: Property Length 3 around a Session Expiry Interval (5 bytes).
    assert_decode_err(
        &frame(
            0x10,
            &cat(&[
                &lp(b"MQTT"),
                &[0x05, 0x00, 0x00, 0x3C],
                &[0x03, 0x11, 0x00, 0x00, 0x00, 0x0A],
                &lp(b"c"),
            ]),
        ),
        &CodecError::Truncated {
            field: "Session Expiry Interval",
        },
        MALFORMED,
    );
    // DISCONNECT: Property Length 0, then a Reason String that the length does not cover.
    assert_decode_err(
        &frame(0xE0, &cat(&[&[0x00, 0x00, 0x1F], &lp(b"a")])),
        &CodecError::TrailingBytes {
            packet: PacketType::Disconnect,
            extra: 4,
        },
        MALFORMED,
    );
    // SUBSCRIBE: Property Length 1 around a Subscription Identifier of two bytes.
    assert_decode_err(
        &frame(
            0x82,
            &cat(&[&[0x00, 0x01, 0x01, 0x0B, 0x81, 0x01], &lp(b"a"), &[0x00]]),
        ),
        &CodecError::Truncated {
            field: "Subscription Identifier",
        },
        MALFORMED,
    );
}

// ---------------------------------------------------------------------------------------------
// Property values
// ---------------------------------------------------------------------------------------------

// [MQTT-3.3.2-8] a Topic Alias of 0 is not permitted; the codec answers Topic Alias invalid
// (0x94), decode and encode.
#[test]
fn topic_alias_zero_is_refused_mqtt_3_3_2_8() {
    let bytes = publish_bytes(0x30, b"t", None, &[0x23, 0x00, 0x00], b"");
    assert_decode_err(&bytes, &CodecError::TopicAliasZero, TOPIC_ALIAS_INVALID);
    // With an empty Topic Name the alias is all there is; still refused.
    let bytes = publish_bytes(0x32, b"", Some(1), &[0x23, 0x00, 0x00], b"");
    assert_decode_err(&bytes, &CodecError::TopicAliasZero, TOPIC_ALIAS_INVALID);
    assert_encode_err(
        Publish {
            topic: s("t"),
            properties: props(vec![Property::TopicAlias(0)]),
            ..Publish::default()
        },
        &CodecError::TopicAliasZero,
        TOPIC_ALIAS_INVALID,
    );
    assert_encode_err(
        Publish {
            properties: props(vec![Property::TopicAlias(0)]),
            ..Publish::default()
        },
        &CodecError::TopicAliasZero,
        TOPIC_ALIAS_INVALID,
    );
    assert_eq!(CodecError::TopicAliasZero.spec_ref(), "MQTT-3.3.2-8");
}

// 3.3.2.3.8, 3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has a value of
// 0", in PUBLISH and in SUBSCRIBE; nor can it exceed 268,435,455 on encode.
#[test]
fn subscription_identifier_zero_is_protocol_error() {
    let expected = CodecError::InvalidPropertyValue {
        property: PropertyId::SubscriptionIdentifier,
        value: 0,
    };
    for context in [PropertyContext::Publish, PropertyContext::Subscribe] {
        assert_decode_err(
            &bytes_with_properties(context, &[0x0B, 0x00]),
            &expected,
            PROTOCOL_ERROR,
        );
        assert_encode_err(
            packet_with_properties(context, props(vec![Property::SubscriptionIdentifier(0)])),
            &expected,
            PROTOCOL_ERROR,
        );
        assert_encode_err(
            packet_with_properties(
                context,
                props(vec![Property::SubscriptionIdentifier(VAR_INT_MAX + 1)]),
            ),
            &CodecError::InvalidPropertyValue {
                property: PropertyId::SubscriptionIdentifier,
                value: VAR_INT_MAX + 1,
            },
            PROTOCOL_ERROR,
        );
    }
    // The largest one is fine.
    assert_round_trip(packet_with_properties(
        PropertyContext::Subscribe,
        props(vec![Property::SubscriptionIdentifier(VAR_INT_MAX)]),
    ));
}

// 3.1.2.11.3, 3.2.2.3.3: "It is a Protocol Error to include the Receive Maximum value of 0";
// 3.1.2.11.4, 3.2.2.3.6: "It is a Protocol Error to include the Maximum Packet Size ... [as] 0".
#[test]
fn receive_maximum_and_maximum_packet_size_zero_are_protocol_errors() {
    let cases: [(PropertyId, &[u8], Property); 2] = [
        (
            PropertyId::ReceiveMaximum,
            &[0x21, 0x00, 0x00],
            Property::ReceiveMaximum(0),
        ),
        (
            PropertyId::MaximumPacketSize,
            &[0x27, 0x00, 0x00, 0x00, 0x00],
            Property::MaximumPacketSize(0),
        ),
    ];
    for (property, wire, typed) in cases {
        let expected = CodecError::InvalidPropertyValue { property, value: 0 };
        for context in [PropertyContext::Connect, PropertyContext::ConnAck] {
            assert_decode_err(
                &bytes_with_properties(context, wire),
                &expected,
                PROTOCOL_ERROR,
            );
            assert_encode_err(
                packet_with_properties(context, props(vec![typed.clone()])),
                &expected,
                PROTOCOL_ERROR,
            );
        }
    }
}

// Byte properties with only 0 and 1 defined: Request Problem Information (3.1.2.11.7) and
// Request Response Information (3.1.2.11.6) "It is a Protocol Error to include ... a value other
// than 0 or 1"; likewise Retain / Wildcard Subscription / Subscription Identifier / Shared
// Subscription Available (3.2.2.3.5, 3.2.2.3.11-13) and Payload Format Indicator (3.3.2.3.2).
#[test]
fn boolean_properties_other_than_0_or_1_are_protocol_errors() {
    use PropertyContext as C;
    use PropertyId as I;
    let cases = [
        (I::RequestProblemInformation, C::Connect),
        (I::RequestResponseInformation, C::Connect),
        (I::RetainAvailable, C::ConnAck),
        (I::WildcardSubscriptionAvailable, C::ConnAck),
        (I::SubscriptionIdentifierAvailable, C::ConnAck),
        (I::SharedSubscriptionAvailable, C::ConnAck),
        (I::PayloadFormatIndicator, C::Publish),
        (I::PayloadFormatIndicator, C::Will),
    ];
    for (property, context) in cases {
        for value in [2u8, 3, 0x7F, 0x80, 0xFF] {
            assert_decode_err(
                &bytes_with_properties(context, &[property as u8, value]),
                &CodecError::InvalidPropertyValue {
                    property,
                    value: u32::from(value),
                },
                PROTOCOL_ERROR,
            );
        }
    }
}

// 3.2.2.3.4: "It is a Protocol Error to include Maximum QoS more than once, or to have a value
// other than 0 or 1"; decode, and encode of QoS 2.
#[test]
fn maximum_qos_2_is_protocol_error() {
    for value in [2u8, 3, 0xFF] {
        assert_decode_err(
            &bytes_with_properties(PropertyContext::ConnAck, &[0x24, value]),
            &CodecError::InvalidPropertyValue {
                property: PropertyId::MaximumQos,
                value: u32::from(value),
            },
            PROTOCOL_ERROR,
        );
    }
    assert_encode_err(
        packet_with_properties(
            PropertyContext::ConnAck,
            props(vec![Property::MaximumQos(QoS::ExactlyOnce)]),
        ),
        &CodecError::InvalidPropertyValue {
            property: PropertyId::MaximumQos,
            value: 2,
        },
        PROTOCOL_ERROR,
    );
}

// [MQTT-3.3.2-14] the Response Topic MUST NOT contain wildcard characters (it is a Topic Name);
// in PUBLISH and in the Will Properties, decode and encode.
#[test]
fn response_topic_with_wildcard_is_refused_mqtt_3_3_2_14() {
    for context in [PropertyContext::Publish, PropertyContext::Will] {
        for topic in ["a/+", "#"] {
            let expected = CodecError::InvalidTopicName(TopicError::WildcardInTopicName);
            assert_decode_err(
                &bytes_with_properties(context, &cat(&[&[0x08], &lp(topic.as_bytes())])),
                &expected,
                TOPIC_NAME_INVALID,
            );
            assert_encode_err(
                packet_with_properties(
                    context,
                    props(vec![Property::ResponseTopic(ByteString::from(topic))]),
                ),
                &expected,
                TOPIC_NAME_INVALID,
            );
        }
    }
}

// [MQTT-3.3.2-4] / 3.3.2.3.2: a receiver MAY check that a payload marked UTF-8 is UTF-8. The
// codec leaves that to the application (it hands the payload out as bytes): a payload that is
// not UTF-8 under Payload Format Indicator 1 decodes. Pinned so that a change is deliberate.
#[test]
fn payload_format_indicator_1_payload_is_not_validated_by_the_codec() {
    let bytes = publish_bytes(0x30, b"t", None, &[0x01, 0x01], &[0xFF, 0xFE]);
    let Packet::Publish(publish) = assert_decode_ok(&bytes) else {
        panic!("not a PUBLISH");
    };
    assert_eq!(&publish.payload[..], &[0xFF, 0xFE]);
}

// ---------------------------------------------------------------------------------------------
// 3.1 CONNECT
// ---------------------------------------------------------------------------------------------

// [MQTT-3.1.2-1] the Protocol Name MUST be the UTF-8 String "MQTT"; anything else is malformed.
#[test]
fn connect_wrong_protocol_name_is_malformed_mqtt_3_1_2_1() {
    for name in [&b"MQIsdp"[..], b"mqtt", b"MQTX", b"MQT", b"MQTTT", b""] {
        assert_decode_err(
            &connect_raw(name, 5, 0x00, &[], &lp(b"c")),
            &CodecError::InvalidProtocolName,
            MALFORMED,
        );
    }
    // The MQTT 3.1 CONNECT header.
    assert_decode_err(
        &connect_raw(b"MQIsdp", 3, 0x00, &[], &lp(b"c")),
        &CodecError::InvalidProtocolName,
        MALFORMED,
    );
    assert_eq!(CodecError::InvalidProtocolName.spec_ref(), "MQTT-3.1.2-1");
}

// [MQTT-3.1.2-2] a Protocol Version other than 5: the standard has the server answer CONNACK
// 0x84 Unsupported Protocol Version; as a DISCONNECT reason the codec maps it to 0x82.
#[test]
fn connect_wrong_protocol_version_is_refused_mqtt_3_1_2_2() {
    for version in [0u8, 3, 4, 6, 0x85, 0xFF] {
        let e = CodecError::UnsupportedProtocolVersion { version };
        assert_decode_err(
            &connect_raw(b"MQTT", version, 0x00, &[], &lp(b"c")),
            &e,
            PROTOCOL_ERROR,
        );
        assert_eq!(e.spec_ref(), "MQTT-3.1.2-2");
    }
}

// [MQTT-3.1.2-3] the Server MUST validate that the reserved flag is 0 (Malformed Packet).
#[test]
fn connect_reserved_flag_is_malformed_mqtt_3_1_2_3() {
    for flags in [0x01, 0x03, 0xC3] {
        assert_decode_err(
            &connect_bytes(flags, &[], &lp(b"c")),
            &CodecError::ConnectReservedFlag,
            MALFORMED,
        );
    }
    assert_eq!(CodecError::ConnectReservedFlag.spec_ref(), "MQTT-3.1.2-3");
}

// [MQTT-3.1.2-11] if the Will Flag is 0, the Will QoS MUST be 0.
#[test]
fn connect_will_qos_without_will_is_malformed_mqtt_3_1_2_11() {
    for flags in [0x08, 0x10, 0x18, 0x0A] {
        assert_decode_err(
            &connect_bytes(flags, &[], &lp(b"c")),
            &CodecError::WillQosWithoutWill,
            MALFORMED,
        );
    }
    assert_eq!(CodecError::WillQosWithoutWill.spec_ref(), "MQTT-3.1.2-11");
}

// [MQTT-3.1.2-12] with the Will Flag set, Will QoS 3 is malformed.
#[test]
fn connect_will_qos_3_is_malformed_mqtt_3_1_2_12() {
    let payload = cat(&[&lp(b"c"), &[0x00], &lp(b"w"), &lp(b"x")]);
    for flags in [0x1C, 0x3C, 0x1E] {
        assert_decode_err(
            &connect_bytes(flags, &[], &payload),
            &CodecError::InvalidWillQos,
            MALFORMED,
        );
    }
    assert_eq!(CodecError::InvalidWillQos.spec_ref(), "MQTT-3.1.2-12");
    // Will QoS 1 and 2 are fine.
    for flags in [0x0C, 0x14, 0x34] {
        assert_decode_ok(&connect_bytes(flags, &[], &payload));
    }
}

// [MQTT-3.1.2-13] if the Will Flag is 0, Will Retain MUST be 0.
#[test]
fn connect_will_retain_without_will_is_malformed_mqtt_3_1_2_13() {
    for flags in [0x20, 0x22, 0xE0] {
        assert_decode_err(
            &connect_bytes(flags, &[], &cat(&[&lp(b"c"), &lp(b"u"), &lp(b"p")])),
            &CodecError::WillRetainWithoutWill,
            MALFORMED,
        );
    }
    assert_eq!(
        CodecError::WillRetainWithoutWill.spec_ref(),
        "MQTT-3.1.2-13"
    );
}

// 3.1.2.9: unlike MQTT 3.1.1, MQTT 5 allows a Password without a User Name. Accepted both ways.
#[test]
fn connect_password_without_user_name_is_accepted() {
    let bytes = connect_bytes(0x40, &[], &cat(&[&lp(b"c"), &lp(&[0x01, 0x02])]));
    let expected = Packet::from(Connect {
        keep_alive: 60,
        client_id: s("c"),
        password: Some(Bytes::from_static(&[0x01, 0x02])),
        ..Connect::default()
    });
    assert_eq!(assert_decode_ok(&bytes), expected);
    assert_eq!(assert_round_trip(expected), bytes);
}

// [MQTT-3.1.3-11] / 4.7: the Will Topic is a Topic Name: no wildcards [MQTT-4.7.0-1], not empty
// [MQTT-4.7.3-1]; decode and encode answer Topic Name invalid (0x90).
#[test]
fn connect_invalid_will_topic_is_refused() {
    for (topic, error) in [
        ("w/+", TopicError::WildcardInTopicName),
        ("w/#", TopicError::WildcardInTopicName),
        ("", TopicError::Empty),
    ] {
        let expected = CodecError::InvalidTopicName(error);
        let bytes = connect_bytes(
            0x04,
            &[],
            &cat(&[&lp(b"c"), &[0x00], &lp(topic.as_bytes()), &lp(b"x")]),
        );
        assert_decode_err(&bytes, &expected, TOPIC_NAME_INVALID);
        assert_encode_err(
            Connect {
                client_id: s("c"),
                will: Some(Will {
                    topic: ByteString::from(topic),
                    ..Will::default()
                }),
                ..Connect::default()
            },
            &expected,
            TOPIC_NAME_INVALID,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3.2 CONNACK
// ---------------------------------------------------------------------------------------------

// [MQTT-3.2.2-1] Connect Acknowledge Flags bits 7-1 are reserved and MUST be 0.
#[test]
fn connack_reserved_flags_are_malformed_mqtt_3_2_2_1() {
    for flags in [0x02u8, 0x03, 0x80, 0xFF] {
        assert_decode_err(
            &frame(0x20, &[flags, 0x00, 0x00]),
            &CodecError::ConnAckReservedFlags { flags },
            MALFORMED,
        );
    }
}

// [MQTT-3.2.2-6] a CONNACK with a failure Reason Code MUST have Session Present 0.
#[test]
fn connack_session_present_on_failure_is_protocol_error_mqtt_3_2_2_6() {
    for code in [0x80u8, 0x84, 0x87, 0x9F] {
        assert_decode_err(
            &frame(0x20, &[0x01, code, 0x00]),
            &CodecError::SessionPresentOnFailure,
            PROTOCOL_ERROR,
        );
    }
    assert_encode_err(
        ConnAck {
            session_present: true,
            reason_code: ConnectReasonCode::NotAuthorized,
            properties: Properties::new(),
        },
        &CodecError::SessionPresentOnFailure,
        PROTOCOL_ERROR,
    );
    assert_eq!(
        CodecError::SessionPresentOnFailure.spec_ref(),
        "MQTT-3.2.2-6"
    );
}

// ---------------------------------------------------------------------------------------------
// 3.8 SUBSCRIBE, 3.10 UNSUBSCRIBE
// ---------------------------------------------------------------------------------------------

// [MQTT-3.8.3-2] a SUBSCRIBE with no Topic Filter is a Protocol Error; decode and encode.
#[test]
fn subscribe_without_filters_is_protocol_error_mqtt_3_8_3_2() {
    assert_decode_err(
        &frame(0x82, &[0x00, 0x01, 0x00]),
        &CodecError::NoTopicFilters,
        PROTOCOL_ERROR,
    );
    // With properties but still no filter.
    assert_decode_err(
        &frame(0x82, &cat(&[&[0x00, 0x01], &plist(&[0x0B, 0x05])])),
        &CodecError::NoTopicFilters,
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        Subscribe {
            packet_id: 1,
            ..Subscribe::default()
        },
        &CodecError::NoTopicFilters,
        PROTOCOL_ERROR,
    );
    assert_eq!(CodecError::NoTopicFilters.spec_ref(), "MQTT-3.8.3-2");
}

// [MQTT-3.10.3-2] an UNSUBSCRIBE with no Topic Filter is a Protocol Error; decode and encode.
#[test]
fn unsubscribe_without_filters_is_protocol_error_mqtt_3_10_3_2() {
    assert_decode_err(
        &frame(0xA2, &[0x00, 0x01, 0x00]),
        &CodecError::NoUnsubscribeFilters,
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        Unsubscribe {
            packet_id: 1,
            ..Unsubscribe::default()
        },
        &CodecError::NoUnsubscribeFilters,
        PROTOCOL_ERROR,
    );
    assert_eq!(CodecError::NoUnsubscribeFilters.spec_ref(), "MQTT-3.10.3-2");
}

// [MQTT-3.8.3-5] the Server MUST treat a SUBSCRIBE whose Subscription Options reserved bits
// (6, 7) are non-zero as malformed; also on the second of two filters.
#[test]
fn subscription_options_reserved_bits_are_malformed_mqtt_3_8_3_5() {
    for options in [0x40u8, 0x80, 0xC0, 0x41] {
        let expected = CodecError::SubscriptionOptionsReserved { options };
        assert_decode_err(&subscribe_bytes(b"a", options), &expected, MALFORMED);
        let two = frame(
            0x82,
            &cat(&[
                &[0x00, 0x01, 0x00],
                &lp(b"a"),
                &[0x01],
                &lp(b"b"),
                &[options],
            ]),
        );
        assert_decode_err(&two, &expected, MALFORMED);
    }
}

// 3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3".
#[test]
fn subscription_qos_3_is_protocol_error() {
    for options in [0x03u8, 0x0F, 0x23] {
        assert_decode_err(
            &subscribe_bytes(b"a", options),
            &CodecError::InvalidSubscriptionQos,
            PROTOCOL_ERROR,
        );
    }
}

// 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
#[test]
fn retain_handling_3_is_protocol_error() {
    for options in [0x30u8, 0x31, 0x3E] {
        assert_decode_err(
            &subscribe_bytes(b"a", options),
            &CodecError::InvalidRetainHandling,
            PROTOCOL_ERROR,
        );
    }
    // 0, 1 and 2 are fine.
    for (options, handling) in [
        (0x00, RetainHandling::SendAtSubscribe),
        (0x10, RetainHandling::SendAtSubscribeIfNew),
        (0x20, RetainHandling::DoNotSend),
    ] {
        let Packet::Subscribe(sub) = assert_decode_ok(&subscribe_bytes(b"a", options)) else {
            panic!("not a SUBSCRIBE");
        };
        assert_eq!(sub.subscriptions[0].options.retain_handling, handling);
    }
}

// [MQTT-3.8.3-4] "It is a Protocol Error to set the No Local bit to 1 on a Shared
// Subscription"; decode and encode.
#[test]
fn no_local_on_shared_subscription_is_protocol_error_mqtt_3_8_3_4() {
    assert_decode_err(
        &subscribe_bytes(b"$share/g/a", 0x04),
        &CodecError::NoLocalOnSharedSubscription,
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            subscriptions: vec![Subscription {
                filter: s("$share/g/a/#"),
                options: SubscriptionOptions {
                    no_local: true,
                    ..SubscriptionOptions::default()
                },
            }],
        },
        &CodecError::NoLocalOnSharedSubscription,
        PROTOCOL_ERROR,
    );
    // No Local on an ordinary filter is fine.
    assert_decode_ok(&subscribe_bytes(b"a", 0x04));
}

// Subscription Options missing after a Topic Filter.
#[test]
fn subscription_options_missing_is_malformed() {
    assert_decode_err(
        &frame(0x82, &cat(&[&[0x00, 0x01, 0x00], &lp(b"a")])),
        &CodecError::Truncated {
            field: "subscription options",
        },
        MALFORMED,
    );
}

/// Invalid Topic Filters with the rule each breaks.
const BAD_FILTERS: &[(&str, TopicError, &str)] = &[
    (
        "a/#/b",
        TopicError::MultiLevelWildcardNotLast,
        "MQTT-4.7.1-1",
    ),
    ("#/a", TopicError::MultiLevelWildcardNotLast, "MQTT-4.7.1-1"),
    ("a#", TopicError::MultiLevelWildcardNotLast, "MQTT-4.7.1-1"),
    (
        "a/b#",
        TopicError::MultiLevelWildcardNotLast,
        "MQTT-4.7.1-1",
    ),
    (
        "a+",
        TopicError::SingleLevelWildcardNotAlone,
        "MQTT-4.7.1-2",
    ),
    (
        "a/+b/c",
        TopicError::SingleLevelWildcardNotAlone,
        "MQTT-4.7.1-2",
    ),
    (
        "++",
        TopicError::SingleLevelWildcardNotAlone,
        "MQTT-4.7.1-2",
    ),
    ("$share//a", TopicError::EmptyShareName, "MQTT-4.8.2-1"),
    ("$share/a+b/c", TopicError::InvalidShareName, "MQTT-4.8.2-2"),
    ("$share/#/c", TopicError::InvalidShareName, "MQTT-4.8.2-2"),
    ("$share/x", TopicError::SharedWithoutFilter, "MQTT-4.8.2-2"),
    ("$share/x/", TopicError::SharedWithoutFilter, "MQTT-4.8.2-2"),
    (
        "$share/g/a/#/b",
        TopicError::MultiLevelWildcardNotLast,
        "MQTT-4.7.1-1",
    ),
    ("", TopicError::Empty, "MQTT-4.7.3-1"),
];

// [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.8.2-1], [MQTT-4.8.2-2], [MQTT-4.7.3-1]: invalid Topic
// Filters in SUBSCRIBE and UNSUBSCRIBE answer Topic Filter invalid (0x8F), decode and encode.
#[test]
fn invalid_topic_filters_are_refused() {
    for &(filter, error, spec) in BAD_FILTERS {
        let expected = CodecError::InvalidTopicFilter(error);
        assert_eq!(expected.spec_ref(), spec, "{filter:?}");
        assert_decode_err(
            &subscribe_bytes(filter.as_bytes(), 0x00),
            &expected,
            TOPIC_FILTER_INVALID,
        );
        assert_decode_err(
            &unsubscribe_bytes(filter.as_bytes()),
            &expected,
            TOPIC_FILTER_INVALID,
        );
        assert_encode_err(
            Subscribe {
                packet_id: 1,
                properties: Properties::new(),
                subscriptions: vec![Subscription {
                    filter: ByteString::from(filter),
                    options: SubscriptionOptions::default(),
                }],
            },
            &expected,
            TOPIC_FILTER_INVALID,
        );
        assert_encode_err(
            Unsubscribe {
                packet_id: 1,
                properties: Properties::new(),
                filters: vec![s("ok/+"), ByteString::from(filter)],
            },
            &expected,
            TOPIC_FILTER_INVALID,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2.2.1 Packet Identifier
// ---------------------------------------------------------------------------------------------

// [MQTT-2.2.1-3] SUBSCRIBE, UNSUBSCRIBE and PUBLISH with QoS > 0 carry a non-zero Packet
// Identifier, and so do their acknowledgements (2.2.1, Table 2-3): 0 is a Protocol Error.
#[test]
fn packet_identifier_zero_is_protocol_error_mqtt_2_2_1_3() {
    let cases: Vec<(PacketType, Vec<u8>)> = vec![
        (
            PacketType::Publish,
            publish_bytes(0x32, b"t", Some(0), &[], b""),
        ),
        (
            PacketType::Publish,
            publish_bytes(0x34, b"t", Some(0), &[], b""),
        ),
        (PacketType::PubAck, frame(0x40, &[0x00, 0x00])),
        (PacketType::PubRec, frame(0x50, &[0x00, 0x00, 0x10])),
        (PacketType::PubRel, frame(0x62, &[0x00, 0x00])),
        (PacketType::PubComp, frame(0x70, &[0x00, 0x00, 0x00, 0x00])),
        (
            PacketType::Subscribe,
            frame(0x82, &cat(&[&[0x00, 0x00, 0x00], &lp(b"a"), &[0x00]])),
        ),
        (PacketType::SubAck, frame(0x90, &[0x00, 0x00, 0x00, 0x00])),
        (
            PacketType::Unsubscribe,
            frame(0xA2, &cat(&[&[0x00, 0x00, 0x00], &lp(b"a")])),
        ),
        (PacketType::UnsubAck, frame(0xB0, &[0x00, 0x00, 0x00, 0x00])),
    ];
    for (packet, bytes) in cases {
        let expected = CodecError::ZeroPacketIdentifier { packet };
        assert_decode_err(&bytes, &expected, PROTOCOL_ERROR);
        assert_eq!(expected.spec_ref(), "MQTT-2.2.1-3");
    }
    let zero = |packet| CodecError::ZeroPacketIdentifier { packet };
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        assert_encode_err(
            Publish {
                qos,
                topic: s("t"),
                ..Publish::default()
            },
            &zero(PacketType::Publish),
            PROTOCOL_ERROR,
        );
    }
    assert_encode_err(PubAck::new(0), &zero(PacketType::PubAck), PROTOCOL_ERROR);
    assert_encode_err(PubRec::new(0), &zero(PacketType::PubRec), PROTOCOL_ERROR);
    assert_encode_err(PubRel::new(0), &zero(PacketType::PubRel), PROTOCOL_ERROR);
    assert_encode_err(PubComp::new(0), &zero(PacketType::PubComp), PROTOCOL_ERROR);
    let Packet::Subscribe(subscribe) =
        packet_with_properties(PropertyContext::Subscribe, Properties::new())
    else {
        unreachable!()
    };
    assert_encode_err(
        Subscribe {
            packet_id: 0,
            ..subscribe
        },
        &zero(PacketType::Subscribe),
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        Unsubscribe {
            packet_id: 0,
            properties: Properties::new(),
            filters: vec![s("a")],
        },
        &zero(PacketType::Unsubscribe),
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        SubAck {
            packet_id: 0,
            properties: Properties::new(),
            reason_codes: vec![SubAckReasonCode::GrantedQos1],
        },
        &zero(PacketType::SubAck),
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        UnsubAck {
            packet_id: 0,
            properties: Properties::new(),
            reason_codes: vec![UnsubAckReasonCode::Success],
        },
        &zero(PacketType::UnsubAck),
        PROTOCOL_ERROR,
    );
    // A QoS 0 PUBLISH has no Packet Identifier [MQTT-2.2.1-2]: 0 is what it holds.
    assert_round_trip(Publish {
        topic: s("t"),
        ..Publish::default()
    });
}

// ---------------------------------------------------------------------------------------------
// 3.3 PUBLISH Topic Name
// ---------------------------------------------------------------------------------------------

// [MQTT-3.3.2-2] the Topic Name in a PUBLISH MUST NOT contain wildcard characters; Topic Name
// invalid (0x90), decode and encode.
#[test]
fn publish_topic_with_wildcards_is_refused_mqtt_3_3_2_2() {
    for topic in ["+", "#", "a/+", "a/#", "a+b", "sport/tennis#", "$share/g/+"] {
        let expected = CodecError::InvalidTopicName(TopicError::WildcardInTopicName);
        assert_decode_err(
            &publish_bytes(0x30, topic.as_bytes(), None, &[], b"x"),
            &expected,
            TOPIC_NAME_INVALID,
        );
        assert_decode_err(
            &publish_bytes(0x33, topic.as_bytes(), Some(9), &[], b"x"),
            &expected,
            TOPIC_NAME_INVALID,
        );
        assert_encode_err(
            Publish {
                topic: ByteString::from(topic),
                ..Publish::default()
            },
            &expected,
            TOPIC_NAME_INVALID,
        );
    }
}

// 3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there is no Topic
// Alias"; decode and encode.
#[test]
fn publish_empty_topic_without_alias_is_protocol_error() {
    assert_decode_err(
        &publish_bytes(0x30, b"", None, &[], b"x"),
        &CodecError::EmptyTopicWithoutAlias,
        PROTOCOL_ERROR,
    );
    // Other properties do not stand in for the alias.
    assert_decode_err(
        &publish_bytes(0x32, b"", Some(1), &[0x02, 0, 0, 0, 5], b"x"),
        &CodecError::EmptyTopicWithoutAlias,
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        Publish::default(),
        &CodecError::EmptyTopicWithoutAlias,
        PROTOCOL_ERROR,
    );
    // With an alias it is fine.
    assert_round_trip(Publish {
        properties: props(vec![Property::TopicAlias(3)]),
        ..Publish::default()
    });
}

// ---------------------------------------------------------------------------------------------
// 2.4 Reason Codes
// ---------------------------------------------------------------------------------------------

// 2.4 and each packet's Reason Code table: a code the packet does not define. The codec's
// choice is Protocol Error (0x82). Checked against the standard's tables, not the codec's.
#[test]
fn undefined_reason_codes_are_protocol_errors() {
    // (packet, first byte, body before the code, codes the standard defines for it)
    let acks: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    let pubrel: &[u8] = &[0x00, 0x92];
    let suback: &[u8] = &[
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    let unsuback: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    let connack: &[u8] = &[
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    let disconnect: &[u8] = &[
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    let auth: &[u8] = &[0x00, 0x18, 0x19];
    let tables: [(PacketType, &[u8]); 9] = [
        (PacketType::ConnAck, connack),
        (PacketType::PubAck, acks),
        (PacketType::PubRec, acks),
        (PacketType::PubRel, pubrel),
        (PacketType::PubComp, pubrel),
        (PacketType::SubAck, suback),
        (PacketType::UnsubAck, unsuback),
        (PacketType::Disconnect, disconnect),
        (PacketType::Auth, auth),
    ];
    for (packet, defined) in tables {
        for code in 0..=255u8 {
            let bytes = match packet {
                PacketType::ConnAck => frame(0x20, &[0x00, code, 0x00]),
                PacketType::PubAck => frame(0x40, &[0x00, 0x01, code]),
                PacketType::PubRec => frame(0x50, &[0x00, 0x01, code]),
                PacketType::PubRel => frame(0x62, &[0x00, 0x01, code]),
                PacketType::PubComp => frame(0x70, &[0x00, 0x01, code]),
                PacketType::SubAck => frame(0x90, &[0x00, 0x01, 0x00, 0x00, code]),
                PacketType::UnsubAck => frame(0xB0, &[0x00, 0x01, 0x00, code]),
                PacketType::Disconnect => frame(0xE0, &[code]),
                _ => frame(0xF0, &[code, 0x00]),
            };
            if defined.contains(&code) {
                assert_decode_ok(&bytes);
            } else {
                let expected = CodecError::InvalidReasonCode { packet, code };
                assert_decode_err(&bytes, &expected, PROTOCOL_ERROR);
                assert_eq!(expected.spec_ref(), "2.4");
            }
        }
    }
}

// 3.9.3, 3.11.3: SUBACK and UNSUBACK carry one Reason Code per Topic Filter, so at least one.
#[test]
fn suback_and_unsuback_without_reason_codes_are_protocol_errors() {
    for (packet, first) in [(PacketType::SubAck, 0x90), (PacketType::UnsubAck, 0xB0)] {
        assert_decode_err(
            &frame(first, &[0x00, 0x01, 0x00]),
            &CodecError::NoReasonCodes { packet },
            PROTOCOL_ERROR,
        );
    }
    assert_encode_err(
        SubAck {
            packet_id: 1,
            properties: Properties::new(),
            reason_codes: vec![],
        },
        &CodecError::NoReasonCodes {
            packet: PacketType::SubAck,
        },
        PROTOCOL_ERROR,
    );
    assert_encode_err(
        UnsubAck {
            packet_id: 1,
            properties: Properties::new(),
            reason_codes: vec![],
        },
        &CodecError::NoReasonCodes {
            packet: PacketType::UnsubAck,
        },
        PROTOCOL_ERROR,
    );
}

// ---------------------------------------------------------------------------------------------
// The streaming Decoder: Maximum Packet Size (3.1.2.11.4, 3.2.2.3.6), sticky errors
// ---------------------------------------------------------------------------------------------

// 3.1.2.11.4: a packet larger than the Maximum Packet Size is refused with Packet too large
// (0x95), and the decoder knows it from the fixed header alone, before any body byte arrives.
#[test]
fn decoder_maximum_packet_size_from_fixed_header_alone() {
    // Headers of 2, 3, 4 and 5 bytes, each announcing one byte more than the limit allows.
    for remaining in [127u32, 128, 16_384, 2_097_152, VAR_INT_MAX] {
        let header = cat(&[&[0x30], &vbi(remaining)]);
        let size = header.len() as u64 + u64::from(remaining);
        let max = u32::try_from(size - 1).unwrap();
        let mut decoder = Decoder::with_max_packet_size(max);
        // The first byte alone: still waiting.
        decoder.feed(&header[..1]);
        assert_eq!(decoder.next_packet(), Ok(None));
        decoder.feed(&header[1..]);
        let e = decoder.next_packet().unwrap_err();
        assert_eq!(e, CodecError::PacketTooLarge { size, max });
        assert_eq!(e.reason_code(), PACKET_TOO_LARGE);
        assert_eq!(e.reason_code().as_u8(), 0x95);
        assert_eq!(decoder.buffered(), 0, "nothing of the packet is kept");
    }
    // A tiny limit and the largest packet there is.
    let mut decoder = Decoder::with_max_packet_size(1024);
    decoder.feed(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert_eq!(
        decoder.next_packet(),
        Err(CodecError::PacketTooLarge {
            size: 5 + u64::from(VAR_INT_MAX),
            max: 1024
        })
    );
}

// 3.1.2.11.4: the size counted is the whole packet, fixed header included; exactly the limit
// is allowed.
#[test]
fn decoder_maximum_packet_size_boundary() {
    let bytes = publish_bytes(0x30, b"t", None, &[], &[0xAB; 200]);
    let size = u32::try_from(bytes.len()).unwrap();
    let mut decoder = Decoder::with_max_packet_size(size);
    decoder.feed(&bytes);
    assert!(matches!(
        decoder.next_packet(),
        Ok(Some(Packet::Publish(_)))
    ));
    let mut decoder = Decoder::with_max_packet_size(size - 1);
    decoder.feed(&bytes[..3]);
    assert_eq!(
        decoder.next_packet(),
        Err(CodecError::PacketTooLarge {
            size: u64::from(size),
            max: size - 1
        })
    );
    // A lowered limit applies to the next packet.
    let mut decoder = Decoder::new();
    decoder.set_max_packet_size(2);
    decoder.feed(&[0xC0, 0x00, 0x40, 0x02, 0x00, 0x01]);
    assert_eq!(decoder.next_packet(), Ok(Some(Packet::PingReq)));
    assert_eq!(
        decoder.next_packet(),
        Err(CodecError::PacketTooLarge { size: 4, max: 2 })
    );
}

// The first error is final: the stream cannot be resynchronised, so every later call returns the
// same error, whatever is fed; `reset` starts over.
#[test]
fn decoder_errors_are_sticky() {
    let errors: [(Vec<u8>, CodecError); 4] = [
        (
            vec![0x30, 0x80, 0x08],
            CodecError::PacketTooLarge {
                size: 1027,
                max: 1024,
            },
        ),
        (vec![0x00], CodecError::ReservedPacketType),
        (
            vec![0xC0, 0x80, 0x80, 0x80, 0x80],
            CodecError::VarIntTooLong,
        ),
        (
            frame(0x40, &[0x00, 0x00]),
            CodecError::ZeroPacketIdentifier {
                packet: PacketType::PubAck,
            },
        ),
    ];
    for (bad, expected) in errors {
        let mut decoder = Decoder::with_max_packet_size(1024);
        decoder.feed(&[0xD0, 0x00]); // PINGRESP, decoded fine
        decoder.feed(&bad);
        assert_eq!(decoder.next_packet(), Ok(Some(Packet::PingResp)));
        assert_eq!(decoder.next_packet(), Err(expected.clone()));
        for _ in 0..3 {
            decoder.feed(&[0xC0, 0x00]); // a valid PINGREQ
            assert_eq!(decoder.next_packet(), Err(expected.clone()));
            assert_eq!(decoder.buffered(), 0);
        }
        decoder.reset();
        decoder.feed(&[0xC0, 0x00]);
        assert_eq!(decoder.next_packet(), Ok(Some(Packet::PingReq)));
        assert_eq!(decoder.next_packet(), Ok(None));
    }
}

// ---------------------------------------------------------------------------------------------
// No input panics
// ---------------------------------------------------------------------------------------------

/// One valid packet of each type, most with properties, encoded by the codec.
#[allow(clippy::too_many_lines)] // a table, one packet after the other
fn valid_vectors() -> Vec<Vec<u8>> {
    let user = Property::UserProperty(s("k"), s("v"));
    let packets: Vec<Packet> = vec![
        Packet::from(Connect {
            clean_start: true,
            keep_alive: 30,
            properties: props(vec![
                Property::SessionExpiryInterval(10),
                Property::ReceiveMaximum(20),
                Property::AuthenticationMethod(s("m")),
                user.clone(),
            ]),
            client_id: s("client"),
            will: Some(Will {
                topic: s("will/t"),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: props(vec![
                    Property::WillDelayInterval(5),
                    Property::PayloadFormatIndicator(PayloadFormat::Utf8),
                    Property::CorrelationData(Bytes::from_static(&[1, 2])),
                ]),
            }),
            username: Some(s("user")),
            password: Some(Bytes::from_static(b"pw")),
        }),
        Packet::from(ConnAck {
            session_present: true,
            reason_code: ConnectReasonCode::Success,
            properties: props(vec![
                Property::MaximumQos(QoS::AtLeastOnce),
                Property::AssignedClientIdentifier(s("id")),
                Property::MaximumPacketSize(4096),
            ]),
        }),
        Packet::from(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: s("a/b"),
            packet_id: 300,
            properties: props(vec![
                Property::TopicAlias(2),
                Property::SubscriptionIdentifier(70_000),
                Property::ResponseTopic(s("r")),
                user.clone(),
            ]),
            payload: Bytes::from_static(b"hello"),
        }),
        Packet::from(Publish {
            topic: s("t"),
            payload: Bytes::from_static(b"q0"),
            ..Publish::default()
        }),
        Packet::from(PubAck {
            packet_id: 1,
            reason_code: PubAckReasonCode::NoMatchingSubscribers,
            properties: props(vec![Property::ReasonString(s("none"))]),
        }),
        Packet::from(PubRec::new(2)),
        Packet::from(PubRel::new(3)),
        Packet::from(PubComp {
            properties: props(vec![user.clone()]),
            ..PubComp::new(4)
        }),
        Packet::from(Subscribe {
            packet_id: 5,
            properties: props(vec![Property::SubscriptionIdentifier(9)]),
            subscriptions: vec![
                Subscription {
                    filter: s("a/+/#"),
                    options: SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: RetainHandling::DoNotSend,
                    },
                },
                Subscription {
                    filter: s("$share/g/x"),
                    options: SubscriptionOptions::default(),
                },
            ],
        }),
        Packet::from(SubAck {
            packet_id: 5,
            properties: props(vec![Property::ReasonString(s("ok"))]),
            reason_codes: vec![
                SubAckReasonCode::GrantedQos1,
                SubAckReasonCode::NotAuthorized,
            ],
        }),
        Packet::from(Unsubscribe {
            packet_id: 6,
            properties: props(vec![user.clone()]),
            filters: vec![s("a/+"), s("b")],
        }),
        Packet::from(UnsubAck {
            packet_id: 6,
            properties: Properties::new(),
            reason_codes: vec![
                UnsubAckReasonCode::Success,
                UnsubAckReasonCode::NoSubscriptionExisted,
            ],
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::from(Disconnect {
            reason_code: DisconnectReasonCode::ServerMoved,
            properties: props(vec![Property::ServerReference(s("h")), user]),
        }),
        Packet::from(Auth {
            reason_code: AuthReasonCode::ContinueAuthentication,
            properties: props(vec![
                Property::AuthenticationMethod(s("m")),
                Property::AuthenticationData(Bytes::from_static(b"d")),
            ]),
        }),
    ];
    packets.into_iter().map(assert_round_trip).collect()
}

/// Runs both decoders on `bytes`; their only allowed outcomes are a packet, an error, or (for the
/// streaming decoder) a request for more bytes. A panic fails the test.
fn decode_both(bytes: &[u8]) -> Result<Packet, CodecError> {
    let mut decoder = Decoder::new();
    decoder.feed(bytes);
    while let Ok(Some(_)) = decoder.next_packet() {}
    Packet::decode(Bytes::copy_from_slice(bytes))
}

// 2.1.4: every valid vector cut at every length. `Packet::decode` must return Err (the Remaining
// Length promises more than is there), never panic; the streaming decoder must ask for more
// bytes, then produce the packet once the rest arrives.
#[test]
fn truncated_vectors_fail_without_panic() {
    for bytes in valid_vectors() {
        let whole = assert_decode_ok(&bytes);
        for n in 0..bytes.len() {
            let prefix = &bytes[..n];
            match Packet::decode(Bytes::copy_from_slice(prefix)) {
                Ok(p) => panic!(
                    "decode of the {n}-byte prefix of {} gave {p:?}",
                    hex(&bytes)
                ),
                Err(e) => {
                    assert!(
                        matches!(e, CodecError::Truncated { .. }),
                        "prefix {n} of {}: {e:?}",
                        hex(&bytes)
                    );
                    assert_eq!(e.reason_code(), MALFORMED);
                }
            }
            let mut decoder = Decoder::new();
            decoder.feed(prefix);
            assert_eq!(
                decoder.next_packet(),
                Ok(None),
                "prefix {n} of {}",
                hex(&bytes)
            );
            decoder.feed(&bytes[n..]);
            assert_eq!(decoder.next_packet(), Ok(Some(whole.clone())));
            assert_eq!(decoder.buffered(), 0);
        }
    }
}

// The body of every valid vector cut at every length, with the Remaining Length rewritten to
// match: the fields inside now run out. Err or (where the cut falls at an optional tail or in a
// payload) Ok; never a panic. A shortened body never decodes to the original packet.
#[test]
fn truncated_bodies_fail_without_panic() {
    for bytes in valid_vectors() {
        let whole = assert_decode_ok(&bytes);
        let header_len = bytes.len() - whole.remaining_len();
        let body = &bytes[header_len..];
        for n in 0..body.len() {
            let cut = frame(bytes[0], &body[..n]);
            if let Ok(p) = decode_both(&cut) {
                assert_ne!(p, whole, "{}", hex(&cut));
            }
        }
    }
}

// Every byte of every valid vector replaced by a few values: a result or an error, never a panic;
// an error always maps to a DISCONNECT reason code.
#[test]
fn corrupted_vectors_fail_without_panic() {
    for bytes in valid_vectors() {
        for i in 0..bytes.len() {
            for value in [
                0x00,
                0x01,
                0x7F,
                0x80,
                0xFF,
                bytes[i] ^ 0x01,
                bytes[i] ^ 0x80,
            ] {
                let mut corrupt = bytes.clone();
                corrupt[i] = value;
                if let Err(e) = decode_both(&corrupt) {
                    assert!(e.reason_code().is_failure(), "{e:?}");
                }
            }
        }
    }
}

// Deterministic pseudo-random input: never a panic.
#[test]
fn random_bytes_fail_without_panic() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Make about half of them plausible: a defined type and a matching Remaining Length.
        if len >= 2 && next() % 2 == 0 {
            let packet_type = (bytes[0] >> 4).max(1);
            let flags = match packet_type {
                3 => bytes[0] & 0x0F,
                6 | 8 | 10 => 0b0010,
                _ => 0,
            };
            bytes[0] = (packet_type << 4) | flags;
            bytes[1] = (len - 2) as u8;
        }
        let _ = decode_both(&bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Mandatory Property Length
// ---------------------------------------------------------------------------------------------

// 2.2.2.1 and the variable header of each packet: CONNECT, CONNACK, PUBLISH, SUBSCRIBE, SUBACK,
// UNSUBSCRIBE and UNSUBACK always carry a Property Length (only the acknowledgements of 3.4-3.7
// and DISCONNECT may leave it out). Without it the packet is malformed.
#[test]
fn missing_property_length_is_malformed() {
    let missing = CodecError::Truncated {
        field: "property length",
    };
    for bytes in [
        frame(0x10, &cat(&[&lp(b"MQTT"), &[0x05, 0x00, 0x00, 0x3C]])),
        frame(0x20, &[0x00, 0x00]),
        frame(0x30, &lp(b"t")),
        frame(0x32, &cat(&[&lp(b"t"), &[0x00, 0x01]])),
        frame(0x82, &[0x00, 0x01]),
        frame(0x90, &[0x00, 0x01]),
        frame(0xA2, &[0x00, 0x01]),
        frame(0xB0, &[0x00, 0x01]),
        // The Will Properties' length, after the Client Identifier.
        connect_bytes(0x04, &[], &lp(b"c")),
    ] {
        assert_decode_err(&bytes, &missing, MALFORMED);
    }
}

// 3.15.2.1 lets AUTH leave out both the Reason Code and the Property Length (Remaining Length
// 0), but unlike 3.4.2.2.1 (PUBACK) or 3.14.2.2.1 (DISCONNECT) 3.15.2.2.1 does not let AUTH
// leave out the Property Length alone: Remaining Length 1 is malformed.
#[test]
fn auth_reason_code_without_property_length_is_malformed() {
    assert_decode_err(
        &[0xF0, 0x01, 0x18],
        &CodecError::Truncated {
            field: "property length",
        },
        MALFORMED,
    );
}

// What the codec does send for AUTH: a Reason Code is always followed by a Property Length.
#[test]
fn auth_encoder_always_writes_property_length() {
    let bytes = assert_round_trip(Auth::new(AuthReasonCode::ContinueAuthentication));
    assert_eq!(bytes, [0xF0, 0x02, 0x18, 0x00]);
    let bytes = assert_round_trip(Auth::new(AuthReasonCode::Success));
    assert_eq!(bytes, [0xF0, 0x00]);
}

// 1.5.4, [MQTT-4.7.3-3]: a Topic Name or Topic Filter longer than 65,535 bytes cannot be sent.
#[test]
fn encode_topic_longer_than_65535_is_refused() {
    let long = ByteString::from("t".repeat(65_536));
    assert_encode_err(
        Publish {
            topic: long.clone(),
            ..Publish::default()
        },
        &CodecError::InvalidTopicName(TopicError::TooLong),
        TOPIC_NAME_INVALID,
    );
    assert_encode_err(
        Unsubscribe {
            packet_id: 1,
            properties: Properties::new(),
            filters: vec![long],
        },
        &CodecError::InvalidTopicFilter(TopicError::TooLong),
        TOPIC_FILTER_INVALID,
    );
}
