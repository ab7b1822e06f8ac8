//! Byte-exact MQTT 5.0 test vectors for `midge::codec`.
//!
//! Every vector is written by hand, field by field, from the layouts of the OASIS MQTT Version
//! 5.0 standard (7 March 2019); none was produced by running the encoder. Each vector is checked
//! both ways: encoding the packet gives exactly the bytes, and decoding the bytes gives exactly
//! the packet. The comment above each vector names the section (and figure) it follows.

use std::collections::BTreeSet;

use midge::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, ConnAck, Connect, ConnectReasonCode, Decoder,
    Disconnect, DisconnectReasonCode, Packet, PacketType, PayloadFormat, Properties, Property,
    PropertyId, PubAck, PubAckReasonCode, PubComp, PubCompReasonCode, PubRec, PubRecReasonCode,
    PubRel, PubRelReasonCode, Publish, QoS, RetainHandling, SubAck, SubAckReasonCode, Subscribe,
    Subscription, SubscriptionOptions, UnsubAck, UnsubAckReasonCode, Unsubscribe, Will,
};

/// A packet and its exact wire form.
type Vector = (Packet, Vec<u8>);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn s(text: &'static str) -> ByteString {
    ByteString::from_static(text)
}

fn bin(data: &'static [u8]) -> Bytes {
    Bytes::from_static(data)
}

fn props(list: Vec<Property>) -> Properties {
    Properties::from(list)
}

fn hex(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(160)];
    let mut out: Vec<String> = shown.iter().map(|b| format!("{b:02X}")).collect();
    if bytes.len() > shown.len() {
        out.push(format!("... ({} bytes)", bytes.len()));
    }
    out.join(" ")
}

fn assert_bytes(name: &str, actual: &[u8], expected: &[u8]) {
    if actual != expected {
        let at = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| actual.len().min(expected.len()));
        panic!(
            "{name}: encoded bytes differ from the vector at offset {at} \
             (encoded {} bytes, vector {} bytes)\n  encoded: {}\n  vector:  {}",
            actual.len(),
            expected.len(),
            hex(actual),
            hex(expected)
        );
    }
}

/// Encode gives exactly `bytes` (appended after what the buffer held), and decode of `bytes`
/// gives exactly `packet`.
fn check(name: &str, packet: &Packet, bytes: &[u8]) {
    let mut buf = vec![0xA5, 0x5A];
    match packet.encode(&mut buf) {
        Ok(n) => {
            assert_eq!(&buf[..2], &[0xA5, 0x5A], "{name}: encode must append");
            assert_bytes(name, &buf[2..], bytes);
            assert_eq!(n, bytes.len(), "{name}: encode's returned length");
        }
        Err(e) => panic!(
            "{name}: encode failed: {e} ({}); vector is {}",
            e.spec_ref(),
            hex(bytes)
        ),
    }
    assert_eq!(packet.encoded_len(), bytes.len(), "{name}: encoded_len()");
    match Packet::decode(Bytes::copy_from_slice(bytes)) {
        Ok(decoded) => assert_eq!(&decoded, packet, "{name}: decode of {}", hex(bytes)),
        Err(e) => panic!(
            "{name}: decode of {} failed: {e} ({})",
            hex(bytes),
            e.spec_ref()
        ),
    }
}

/// Decode only: `bytes` is a valid alternative wire form of `packet` that midge does not send.
fn check_decodes_to(name: &str, bytes: &[u8], packet: &Packet) {
    match Packet::decode(Bytes::copy_from_slice(bytes)) {
        Ok(decoded) => assert_eq!(&decoded, packet, "{name}: decode of {}", hex(bytes)),
        Err(e) => panic!(
            "{name}: decode of {} failed: {e} ({})",
            hex(bytes),
            e.spec_ref()
        ),
    }
}

/// Every property list a packet carries, the Will Properties included.
fn property_lists(packet: &Packet) -> Vec<&Properties> {
    match packet {
        Packet::Connect(c) => {
            let mut lists = vec![&c.properties];
            if let Some(will) = &c.will {
                lists.push(&will.properties);
            }
            lists
        }
        Packet::ConnAck(p) => vec![&p.properties],
        Packet::Publish(p) => vec![&p.properties],
        Packet::PubAck(p) => vec![&p.properties],
        Packet::PubRec(p) => vec![&p.properties],
        Packet::PubRel(p) => vec![&p.properties],
        Packet::PubComp(p) => vec![&p.properties],
        Packet::Subscribe(p) => vec![&p.properties],
        Packet::SubAck(p) => vec![&p.properties],
        Packet::Unsubscribe(p) => vec![&p.properties],
        Packet::UnsubAck(p) => vec![&p.properties],
        Packet::PingReq | Packet::PingResp => vec![],
        Packet::Disconnect(p) => vec![&p.properties],
        Packet::Auth(p) => vec![&p.properties],
    }
}

const PROTOCOL_NAME: &[u8] = &[0x00, 0x04, b'M', b'Q', b'T', b'T'];

// ---------------------------------------------------------------------------------------------
// The vectors
// ---------------------------------------------------------------------------------------------

mod vectors {
    use super::*;

    // ----- CONNECT (3.1) -----

    // 3.1.1, 3.1.2 (3.1.2.1 Protocol Name, 3.1.2.2 version 5, 3.1.2.3 flags all 0),
    // 3.1.2.11.1 (Property Length 0), 3.1.3.1 (Client Identifier).
    pub fn connect_minimal() -> Vector {
        let packet = Packet::from(Connect {
            client_id: s("c"),
            ..Connect::default()
        });
        let bytes = cat(&[
            &[0x10, 0x0E],       // CONNECT, Remaining Length 14
            PROTOCOL_NAME,       // 3.1.2.1 Protocol Name "MQTT"
            &[0x05],             // 3.1.2.2 Protocol Version 5
            &[0x00],             // 3.1.2.3 Connect Flags: none
            &[0x00, 0x00],       // 3.1.2.10 Keep Alive 0
            &[0x00],             // 3.1.2.11.1 Property Length 0
            &[0x00, 0x01, b'c'], // 3.1.3.1 Client Identifier "c"
        ]);
        (packet, bytes)
    }

    // 3.1.2, Figure 3-6 (the variable header example, byte for byte: flags 0xCE = User Name,
    // Password, Will QoS 1, Will Flag, Clean Start; Keep Alive 10; Session Expiry Interval 10),
    // then the payload of 3.1.3: Client Identifier, Will Properties (3.1.3.2, all seven that
    // Table 2-4 allows there), Will Topic (3.1.3.3), Will Payload (3.1.3.4), User Name
    // (3.1.3.5), Password (3.1.3.6).
    pub fn connect_figure_3_6_with_will_user_name_password() -> Vector {
        let packet = Packet::from(Connect {
            clean_start: true,
            keep_alive: 10,
            properties: props(vec![Property::SessionExpiryInterval(10)]),
            client_id: s("cid"),
            will: Some(Will {
                topic: s("will"),
                payload: bin(b"bye"),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: props(vec![
                    Property::WillDelayInterval(30),
                    Property::PayloadFormatIndicator(PayloadFormat::Utf8),
                    Property::MessageExpiryInterval(3600),
                    Property::ContentType(s("text/plain")),
                    Property::ResponseTopic(s("reply")),
                    Property::CorrelationData(bin(&[0xC0, 0xDE])),
                    Property::UserProperty(s("k"), s("v")),
                ]),
            }),
            username: Some(s("user")),
            password: Some(bin(&[0x01, 0x02, 0x03])),
        });
        let bytes = cat(&[
            &[0x10, 0x59],                   // CONNECT, Remaining Length 89
            PROTOCOL_NAME,                   // Figure 3-6 bytes 1-6
            &[0x05],                         // byte 7: Protocol Version 5
            &[0xCE],                         // byte 8: 1100 1110
            &[0x00, 0x0A],                   // bytes 9-10: Keep Alive 10
            &[0x05],                         // byte 11: Property Length 5
            &[0x11, 0x00, 0x00, 0x00, 0x0A], // bytes 12-16: Session Expiry Interval 10
            &[0x00, 0x03, b'c', b'i', b'd'], // 3.1.3.1 Client Identifier "cid"
            &[0x2D],                         // 3.1.3.2.1 Will Property Length 45
            &[0x18, 0x00, 0x00, 0x00, 0x1E], // 3.1.3.2.2 Will Delay Interval 30
            &[0x01, 0x01],                   // 3.1.3.2.3 Payload Format Indicator 1
            &[0x02, 0x00, 0x00, 0x0E, 0x10], // 3.1.3.2.4 Message Expiry Interval 3600
            &[0x03, 0x00, 0x0A],             // 3.1.3.2.5 Content Type, length 10
            b"text/plain",
            &[0x08, 0x00, 0x05, b'r', b'e', b'p', b'l', b'y'], // 3.1.3.2.6 Response Topic
            &[0x09, 0x00, 0x02, 0xC0, 0xDE],                   // 3.1.3.2.7 Correlation Data
            &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'],       // 3.1.3.2.8 User Property
            &[0x00, 0x04, b'w', b'i', b'l', b'l'],             // 3.1.3.3 Will Topic "will"
            &[0x00, 0x03, b'b', b'y', b'e'],                   // 3.1.3.4 Will Payload
            &[0x00, 0x04, b'u', b's', b'e', b'r'],             // 3.1.3.5 User Name "user"
            &[0x00, 0x03, 0x01, 0x02, 0x03],                   // 3.1.3.6 Password
        ]);
        (packet, bytes)
    }

    // 3.1.2.11 (every CONNECT property of Table 2-4: 3.1.2.11.2-3.1.2.11.10), 3.1.2.4 Clean
    // Start, 3.1.2.5-3.1.2.7 Will Flag with Will QoS 2 and Will Retain, 3.1.3.1 zero-length
    // Client Identifier, 3.1.3.2.1 Will Property Length 0, 3.1.3.4 empty Will Payload.
    pub fn connect_all_connect_properties_will_qos2_retain() -> Vector {
        let packet = Packet::from(Connect {
            clean_start: true,
            keep_alive: 60,
            properties: props(vec![
                Property::SessionExpiryInterval(120),
                Property::ReceiveMaximum(20),
                Property::MaximumPacketSize(16_384),
                Property::TopicAliasMaximum(10),
                Property::RequestResponseInformation(true),
                Property::RequestProblemInformation(false),
                Property::UserProperty(s("k1"), s("v1")),
                Property::AuthenticationMethod(s("scram")),
                Property::AuthenticationData(bin(&[0xDE, 0xAD, 0xBE, 0xEF])),
            ]),
            client_id: s(""),
            will: Some(Will {
                topic: s("w"),
                payload: Bytes::new(),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: Properties::new(),
            }),
            username: None,
            password: None,
        });
        let bytes = cat(&[
            &[0x10, 0x3F],                                           // CONNECT, Remaining Length 63
            PROTOCOL_NAME,                                           // 3.1.2.1
            &[0x05],                                                 // 3.1.2.2
            &[0x36],       // 0011 0110: Will Retain, Will QoS 2, Will, Clean
            &[0x00, 0x3C], // 3.1.2.10 Keep Alive 60
            &[0x2C],       // 3.1.2.11.1 Property Length 44
            &[0x11, 0x00, 0x00, 0x00, 0x78], // 3.1.2.11.2 Session Expiry Interval 120
            &[0x21, 0x00, 0x14], // 3.1.2.11.3 Receive Maximum 20
            &[0x27, 0x00, 0x00, 0x40, 0x00], // 3.1.2.11.4 Maximum Packet Size 16384
            &[0x22, 0x00, 0x0A], // 3.1.2.11.5 Topic Alias Maximum 10
            &[0x19, 0x01], // 3.1.2.11.6 Request Response Information 1
            &[0x17, 0x00], // 3.1.2.11.7 Request Problem Information 0
            &[0x26, 0x00, 0x02, b'k', b'1', 0x00, 0x02, b'v', b'1'], // 3.1.2.11.8
            &[0x15, 0x00, 0x05, b's', b'c', b'r', b'a', b'm'], // 3.1.2.11.9
            &[0x16, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF], // 3.1.2.11.10
            &[0x00, 0x00], // 3.1.3.1 Client Identifier "" (zero length)
            &[0x00],       // 3.1.3.2.1 Will Property Length 0
            &[0x00, 0x01, b'w'], // 3.1.3.3 Will Topic "w"
            &[0x00, 0x00], // 3.1.3.4 Will Payload, zero length
        ]);
        (packet, bytes)
    }

    // 3.1.2.9: "This version of the protocol allows the sending of a Password with no User
    // Name" (flags 0100 0000), 3.1.3.6 Password.
    pub fn connect_password_without_user_name() -> Vector {
        let packet = Packet::from(Connect {
            client_id: s("p"),
            password: Some(bin(&[0xAB, 0xCD])),
            ..Connect::default()
        });
        let bytes = cat(&[
            &[0x10, 0x12],             // CONNECT, Remaining Length 18
            PROTOCOL_NAME,             // 3.1.2.1
            &[0x05],                   // 3.1.2.2
            &[0x40],                   // 3.1.2.3: Password Flag only
            &[0x00, 0x00],             // Keep Alive 0
            &[0x00],                   // Property Length 0
            &[0x00, 0x01, b'p'],       // Client Identifier "p"
            &[0x00, 0x02, 0xAB, 0xCD], // 3.1.3.6 Password
        ]);
        (packet, bytes)
    }

    // ----- CONNACK (3.2) -----

    // 3.2.2.1.1 Session Present 1, 3.2.2.2 Reason Code 0x00, 3.2.2.3.1 Property Length 0.
    pub fn connack_session_present() -> Vector {
        let packet = Packet::ConnAck(ConnAck {
            session_present: true,
            reason_code: ConnectReasonCode::Success,
            properties: Properties::new(),
        });
        let bytes = vec![0x20, 0x03, 0x01, 0x00, 0x00];
        (packet, bytes)
    }

    // 3.2.2.2 failure Reason Code 0x87 Not authorized (Session Present 0, [MQTT-3.2.2-6]),
    // 3.2.2.3.9 Reason String.
    pub fn connack_failure_with_reason_string() -> Vector {
        let packet = Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::NotAuthorized,
            properties: props(vec![Property::ReasonString(s("denied"))]),
        });
        let bytes = cat(&[
            &[0x20, 0x0C],                                           // CONNACK, Remaining Length 12
            &[0x00], // 3.2.2.1 Acknowledge Flags: Session Present 0
            &[0x87], // 3.2.2.2 Not authorized
            &[0x09], // 3.2.2.3.1 Property Length 9
            &[0x1F, 0x00, 0x06, b'd', b'e', b'n', b'i', b'e', b'd'], // 3.2.2.3.9
        ]);
        (packet, bytes)
    }

    // 3.2.2.3: the CONNACK properties of Table 2-4 (3.2.2.3.2-3.2.2.3.8, 3.2.2.3.11-3.2.2.3.15,
    // 3.2.2.3.17, 3.2.2.3.18).
    pub fn connack_server_capability_properties() -> Vector {
        let packet = Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::Success,
            properties: props(vec![
                Property::SessionExpiryInterval(300),
                Property::ReceiveMaximum(10),
                Property::MaximumQos(QoS::AtLeastOnce),
                Property::RetainAvailable(false),
                Property::MaximumPacketSize(4096),
                Property::AssignedClientIdentifier(s("id-1")),
                Property::TopicAliasMaximum(5),
                Property::WildcardSubscriptionAvailable(false),
                Property::SubscriptionIdentifierAvailable(true),
                Property::SharedSubscriptionAvailable(false),
                Property::ServerKeepAlive(30),
                Property::ResponseInformation(s("resp")),
                Property::AuthenticationMethod(s("scram")),
                Property::AuthenticationData(bin(&[0x01, 0x02])),
            ]),
        });
        let bytes = cat(&[
            &[0x20, 0x3B],                                     // CONNACK, Remaining Length 59
            &[0x00, 0x00],                                     // flags 0, Success
            &[0x38],                                           // Property Length 56
            &[0x11, 0x00, 0x00, 0x01, 0x2C],                   // 3.2.2.3.2 Session Expiry 300
            &[0x21, 0x00, 0x0A],                               // 3.2.2.3.3 Receive Maximum 10
            &[0x24, 0x01],                                     // 3.2.2.3.4 Maximum QoS 1
            &[0x25, 0x00],                                     // 3.2.2.3.5 Retain Available 0
            &[0x27, 0x00, 0x00, 0x10, 0x00],                   // 3.2.2.3.6 Max Packet Size 4096
            &[0x12, 0x00, 0x04, b'i', b'd', b'-', b'1'],       // 3.2.2.3.7 Assigned Client Id
            &[0x22, 0x00, 0x05],                               // 3.2.2.3.8 Topic Alias Max 5
            &[0x28, 0x00],                                     // 3.2.2.3.11 Wildcard Sub Avail 0
            &[0x29, 0x01],                                     // 3.2.2.3.12 Sub Id Avail 1
            &[0x2A, 0x00],                                     // 3.2.2.3.13 Shared Sub Avail 0
            &[0x13, 0x00, 0x1E],                               // 3.2.2.3.14 Server Keep Alive 30
            &[0x1A, 0x00, 0x04, b'r', b'e', b's', b'p'],       // 3.2.2.3.15 Response Information
            &[0x15, 0x00, 0x05, b's', b'c', b'r', b'a', b'm'], // 3.2.2.3.17 Auth Method
            &[0x16, 0x00, 0x02, 0x01, 0x02],                   // 3.2.2.3.18 Auth Data
        ]);
        (packet, bytes)
    }

    // 3.2.2.3.16 Server Reference with 3.2.2.2 Reason Code 0x9C Use another server (4.11).
    pub fn connack_use_another_server_with_server_reference() -> Vector {
        let packet = Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::UseAnotherServer,
            properties: props(vec![Property::ServerReference(s("srv2"))]),
        });
        let bytes = cat(&[
            &[0x20, 0x0A],                               // CONNACK, Remaining Length 10
            &[0x00, 0x9C],                               // flags 0, Use another server
            &[0x07],                                     // Property Length 7
            &[0x1C, 0x00, 0x04, b's', b'r', b'v', b'2'], // 3.2.2.3.16 Server Reference
        ]);
        (packet, bytes)
    }

    // ----- PUBLISH (3.3) -----

    // 3.3.1 (flags 0000: QoS 0, no DUP, no RETAIN), 3.3.2.1 Topic Name, no Packet Identifier
    // at QoS 0 (3.3.2.2), 3.3.2.3.1 Property Length 0, 3.3.3 Payload.
    pub fn publish_qos0() -> Vector {
        let packet = Packet::Publish(Publish {
            topic: s("a/b"),
            payload: bin(b"hi"),
            ..Publish::default()
        });
        let bytes = cat(&[
            &[0x30, 0x08],                   // PUBLISH QoS 0, Remaining Length 8
            &[0x00, 0x03, b'a', b'/', b'b'], // 3.3.2.1 Topic Name "a/b"
            &[0x00],                         // 3.3.2.3.1 Property Length 0
            b"hi",                           // 3.3.3 Payload
        ]);
        (packet, bytes)
    }

    // 3.3.1.2 QoS 1 (flags 0010), 3.3.2.2 Packet Identifier, 3.3.2.3.2-3.3.2.3.7 and 3.3.2.3.9
    // message properties, 3.3.2.3.8 Subscription Identifier twice (1, and 128 as a two-byte
    // Variable Byte Integer 0x80 0x01).
    pub fn publish_qos1_message_properties_two_subscription_ids() -> Vector {
        let packet = Packet::Publish(Publish {
            qos: QoS::AtLeastOnce,
            topic: s("t"),
            packet_id: 10,
            properties: props(vec![
                Property::PayloadFormatIndicator(PayloadFormat::Utf8),
                Property::MessageExpiryInterval(60),
                Property::ContentType(s("json")),
                Property::ResponseTopic(s("r/1")),
                Property::CorrelationData(bin(&[0x2A])),
                Property::UserProperty(s("a"), s("b")),
                Property::SubscriptionIdentifier(1),
                Property::SubscriptionIdentifier(128),
            ]),
            payload: bin(b"{}"),
            ..Publish::default()
        });
        let bytes = cat(&[
            &[0x32, 0x2C],                               // PUBLISH QoS 1, Remaining Length 44
            &[0x00, 0x01, b't'],                         // Topic Name "t"
            &[0x00, 0x0A],                               // Packet Identifier 10
            &[0x24],                                     // Property Length 36
            &[0x01, 0x01],                               // 3.3.2.3.2 Payload Format 1
            &[0x02, 0x00, 0x00, 0x00, 0x3C],             // 3.3.2.3.3 Message Expiry 60
            &[0x03, 0x00, 0x04, b'j', b's', b'o', b'n'], // 3.3.2.3.9 Content Type
            &[0x08, 0x00, 0x03, b'r', b'/', b'1'],       // 3.3.2.3.5 Response Topic
            &[0x09, 0x00, 0x01, 0x2A],                   // 3.3.2.3.6 Correlation Data
            &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b'], // 3.3.2.3.7 User Property
            &[0x0B, 0x01],                               // 3.3.2.3.8 Subscription Id 1
            &[0x0B, 0x80, 0x01],                         // 3.3.2.3.8 Subscription Id 128
            b"{}",                                       // 3.3.3 Payload
        ]);
        (packet, bytes)
    }

    // 3.3.1.1 DUP, 3.3.1.2 QoS 2, 3.3.1.3 RETAIN (flags 1101), and the Topic Name is the
    // string of 1.5.4 Figure 1-1: "A\u{2A6D4}" = 00 05 41 F0 AA 9B 94.
    pub fn publish_qos2_dup_retain_figure_1_1_topic() -> Vector {
        let packet = Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: s("A\u{2A6D4}"),
            packet_id: 0x1234,
            properties: Properties::new(),
            payload: bin(&[0x01, 0x02, 0x03]),
        });
        let bytes = cat(&[
            &[0x3D, 0x0D],                               // PUBLISH 1101, Remaining Length 13
            &[0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94], // Figure 1-1
            &[0x12, 0x34],                               // Packet Identifier 0x1234
            &[0x00],                                     // Property Length 0
            &[0x01, 0x02, 0x03],                         // Payload
        ]);
        (packet, bytes)
    }

    // 3.3.1.3 RETAIN with a zero-length payload (the retained-message delete), 3.3.3 "It is
    // valid for a PUBLISH packet to contain a zero length Payload".
    pub fn publish_retained_empty_payload() -> Vector {
        let packet = Packet::Publish(Publish {
            retain: true,
            topic: s("t"),
            ..Publish::default()
        });
        let bytes = cat(&[
            &[0x31, 0x04],       // PUBLISH QoS 0 RETAIN, Remaining Length 4
            &[0x00, 0x01, b't'], // Topic Name "t"
            &[0x00],             // Property Length 0, and no payload
        ]);
        (packet, bytes)
    }

    // 3.3.2.3.4 Topic Alias set together with a Topic Name (establishes the mapping).
    pub fn publish_topic_alias_with_topic_name() -> Vector {
        let packet = Packet::Publish(Publish {
            topic: s("a/b"),
            properties: props(vec![Property::TopicAlias(7)]),
            payload: bin(b"x"),
            ..Publish::default()
        });
        let bytes = cat(&[
            &[0x30, 0x0A],                   // PUBLISH QoS 0, Remaining Length 10
            &[0x00, 0x03, b'a', b'/', b'b'], // Topic Name "a/b"
            &[0x03],                         // Property Length 3
            &[0x23, 0x00, 0x07],             // 3.3.2.3.4 Topic Alias 7
            b"x",
        ]);
        (packet, bytes)
    }

    // 3.3.2.1 / 3.3.2.3.4: a zero-length Topic Name with a Topic Alias.
    pub fn publish_topic_alias_with_empty_topic_name() -> Vector {
        let packet = Packet::Publish(Publish {
            topic: s(""),
            properties: props(vec![Property::TopicAlias(7)]),
            payload: bin(b"x"),
            ..Publish::default()
        });
        let bytes = cat(&[
            &[0x30, 0x07],       // PUBLISH QoS 0, Remaining Length 7
            &[0x00, 0x00],       // Topic Name, zero length
            &[0x03],             // Property Length 3
            &[0x23, 0x00, 0x07], // Topic Alias 7
            b"x",
        ]);
        (packet, bytes)
    }

    fn publish_of_size(payload_len: usize) -> Packet {
        Packet::Publish(Publish {
            topic: s("t"),
            payload: Bytes::from(vec![0x55; payload_len]),
            ..Publish::default()
        })
    }

    // 2.1.4 Remaining Length, 1.5.5 Table 1-1: 127 is the largest one-byte value (0x7F).
    // Body: Topic Name "t" (3) + Property Length (1) + 123 payload bytes = 127.
    pub fn publish_remaining_length_127() -> Vector {
        let bytes = cat(&[&[0x30, 0x7F], &[0x00, 0x01, b't', 0x00], &[0x55; 123]]);
        (publish_of_size(123), bytes)
    }

    // 2.1.4, 1.5.5 Table 1-1: 128 is the smallest two-byte value (0x80 0x01).
    pub fn publish_remaining_length_128() -> Vector {
        let bytes = cat(&[&[0x30, 0x80, 0x01], &[0x00, 0x01, b't', 0x00], &[0x55; 124]]);
        (publish_of_size(124), bytes)
    }

    // 2.1.4, 1.5.5 Table 1-1: 16,383 is the largest two-byte value (0xFF 0x7F).
    pub fn publish_remaining_length_16383() -> Vector {
        let bytes = cat(&[
            &[0x30, 0xFF, 0x7F],
            &[0x00, 0x01, b't', 0x00],
            &[0x55; 16_379],
        ]);
        (publish_of_size(16_379), bytes)
    }

    // 2.1.4, 1.5.5 Table 1-1: 16,384 is the smallest three-byte value (0x80 0x80 0x01).
    pub fn publish_remaining_length_16384() -> Vector {
        let bytes = cat(&[
            &[0x30, 0x80, 0x80, 0x01],
            &[0x00, 0x01, b't', 0x00],
            &[0x55; 16_380],
        ]);
        (publish_of_size(16_380), bytes)
    }

    // ----- PUBACK (3.4), PUBREC (3.5), PUBREL (3.6), PUBCOMP (3.7) -----

    // 3.4.2.1: "The Reason Code and Property Length can be omitted if the Reason Code is 0x00
    // (Success) and there are no Properties. In this case the PUBACK has a Remaining Length
    // of 2."
    pub fn puback_short_form() -> Vector {
        (Packet::PubAck(PubAck::new(1)), vec![0x40, 0x02, 0x00, 0x01])
    }

    // 3.4.2.2.1: "If the Remaining Length is less than 4 there is no Property Length": a
    // non-zero Reason Code (0x10 No matching subscribers) alone, Remaining Length 3.
    pub fn puback_reason_only() -> Vector {
        let packet = Packet::PubAck(PubAck {
            packet_id: 5,
            reason_code: PubAckReasonCode::NoMatchingSubscribers,
            properties: Properties::new(),
        });
        (packet, vec![0x40, 0x03, 0x00, 0x05, 0x10])
    }

    // 3.4.2.1 Reason Code 0x99, 3.4.2.2 properties: 3.4.2.2.2 Reason String.
    pub fn puback_with_properties() -> Vector {
        let packet = Packet::PubAck(PubAck {
            packet_id: 9,
            reason_code: PubAckReasonCode::PayloadFormatInvalid,
            properties: props(vec![Property::ReasonString(s("bad"))]),
        });
        let bytes = cat(&[
            &[0x40, 0x0A],                         // PUBACK, Remaining Length 10
            &[0x00, 0x09],                         // Packet Identifier 9
            &[0x99],                               // Payload format invalid
            &[0x06],                               // Property Length 6
            &[0x1F, 0x00, 0x03, b'b', b'a', b'd'], // 3.4.2.2.2 Reason String "bad"
        ]);
        (packet, bytes)
    }

    // 3.5.2.1: PUBREC short form, Remaining Length 2.
    pub fn pubrec_short_form() -> Vector {
        (Packet::PubRec(PubRec::new(2)), vec![0x50, 0x02, 0x00, 0x02])
    }

    // 3.5.2.2.1: Reason Code 0x97 Quota exceeded without properties, Remaining Length 3.
    pub fn pubrec_reason_only() -> Vector {
        let packet = Packet::PubRec(PubRec {
            packet_id: 6,
            reason_code: PubRecReasonCode::QuotaExceeded,
            properties: Properties::new(),
        });
        (packet, vec![0x50, 0x03, 0x00, 0x06, 0x97])
    }

    // 3.5.2.1 Reason Code 0x00 must be sent when there are properties; 3.5.2.2.3 User Property.
    pub fn pubrec_success_with_user_property() -> Vector {
        let packet = Packet::PubRec(PubRec {
            packet_id: 10,
            reason_code: PubRecReasonCode::Success,
            properties: props(vec![Property::UserProperty(s("k"), s("v"))]),
        });
        let bytes = cat(&[
            &[0x50, 0x0B],                               // PUBREC, Remaining Length 11
            &[0x00, 0x0A],                               // Packet Identifier 10
            &[0x00],                                     // Success
            &[0x07],                                     // Property Length 7
            &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // 3.5.2.2.3 User Property
        ]);
        (packet, bytes)
    }

    // 3.6.1 (fixed header flags 0010), 3.6.2.1: PUBREL short form, Remaining Length 2.
    pub fn pubrel_short_form() -> Vector {
        (Packet::PubRel(PubRel::new(3)), vec![0x62, 0x02, 0x00, 0x03])
    }

    // 3.6.2.2.1: 0x92 Packet Identifier not found without properties, Remaining Length 3.
    pub fn pubrel_reason_only() -> Vector {
        let packet = Packet::PubRel(PubRel {
            packet_id: 7,
            reason_code: PubRelReasonCode::PacketIdentifierNotFound,
            properties: Properties::new(),
        });
        (packet, vec![0x62, 0x03, 0x00, 0x07, 0x92])
    }

    // 3.6.2.1 Reason Code 0x92, 3.6.2.2.2 Reason String.
    pub fn pubrel_with_properties() -> Vector {
        let packet = Packet::PubRel(PubRel {
            packet_id: 11,
            reason_code: PubRelReasonCode::PacketIdentifierNotFound,
            properties: props(vec![Property::ReasonString(s("gone"))]),
        });
        let bytes = cat(&[
            &[0x62, 0x0B],                               // PUBREL, Remaining Length 11
            &[0x00, 0x0B],                               // Packet Identifier 11
            &[0x92],                                     // Packet Identifier not found
            &[0x07],                                     // Property Length 7
            &[0x1F, 0x00, 0x04, b'g', b'o', b'n', b'e'], // 3.6.2.2.2 Reason String
        ]);
        (packet, bytes)
    }

    // 3.7.2.1: PUBCOMP short form, Remaining Length 2.
    pub fn pubcomp_short_form() -> Vector {
        (
            Packet::PubComp(PubComp::new(4)),
            vec![0x70, 0x02, 0x00, 0x04],
        )
    }

    // 3.7.2.2.1: 0x92 without properties, Remaining Length 3.
    pub fn pubcomp_reason_only() -> Vector {
        let packet = Packet::PubComp(PubComp {
            packet_id: 8,
            reason_code: PubCompReasonCode::PacketIdentifierNotFound,
            properties: Properties::new(),
        });
        (packet, vec![0x70, 0x03, 0x00, 0x08, 0x92])
    }

    // 3.7.2.1 Reason Code 0x00 with properties, 3.7.2.2.2 Reason String.
    pub fn pubcomp_success_with_reason_string() -> Vector {
        let packet = Packet::PubComp(PubComp {
            packet_id: 12,
            reason_code: PubCompReasonCode::Success,
            properties: props(vec![Property::ReasonString(s("ok"))]),
        });
        let bytes = cat(&[
            &[0x70, 0x09],                   // PUBCOMP, Remaining Length 9
            &[0x00, 0x0C],                   // Packet Identifier 12
            &[0x00],                         // Success
            &[0x05],                         // Property Length 5
            &[0x1F, 0x00, 0x02, b'o', b'k'], // 3.7.2.2.2 Reason String "ok"
        ]);
        (packet, bytes)
    }

    // ----- SUBSCRIBE (3.8) -----

    // 3.8.3 payload example (Topic Filter "a/b" with Subscription Options QoS 1, "c/d" with
    // QoS 2), 3.8.1 fixed header flags 0010, 3.8.2 Packet Identifier, Property Length 0.
    pub fn subscribe_payload_example() -> Vector {
        let packet = Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            subscriptions: vec![
                Subscription {
                    filter: s("a/b"),
                    options: SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        ..SubscriptionOptions::default()
                    },
                },
                Subscription {
                    filter: s("c/d"),
                    options: SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        ..SubscriptionOptions::default()
                    },
                },
            ],
        });
        let bytes = cat(&[
            &[0x82, 0x0F],                         // SUBSCRIBE, Remaining Length 15
            &[0x00, 0x01],                         // Packet Identifier 1
            &[0x00],                               // Property Length 0
            &[0x00, 0x03, b'a', b'/', b'b', 0x01], // "a/b", QoS 1
            &[0x00, 0x03, b'c', b'/', b'd', 0x02], // "c/d", QoS 2
        ]);
        (packet, bytes)
    }

    // 3.8.3.1 Subscription Options, every bit: QoS 0/1/2 (bits 0-1), No Local (bit 2), Retain
    // As Published (bit 3), Retain Handling 0/1/2 (bits 4-5); a Shared Subscription (4.8.2)
    // without No Local [MQTT-3.8.3-4]; 3.8.2.1.2 Subscription Identifier; 3.8.2.1.3 User
    // Property.
    pub fn subscribe_all_option_bits() -> Vector {
        let sub = |filter, qos, no_local, retain_as_published, retain_handling| Subscription {
            filter: s(filter),
            options: SubscriptionOptions {
                qos,
                no_local,
                retain_as_published,
                retain_handling,
            },
        };
        let packet = Packet::Subscribe(Subscribe {
            packet_id: 10,
            properties: props(vec![
                Property::SubscriptionIdentifier(5),
                Property::UserProperty(s("k"), s("v")),
            ]),
            subscriptions: vec![
                sub(
                    "a/+",
                    QoS::AtMostOnce,
                    false,
                    false,
                    RetainHandling::SendAtSubscribe,
                ),
                sub(
                    "b/#",
                    QoS::AtLeastOnce,
                    true,
                    false,
                    RetainHandling::SendAtSubscribe,
                ),
                sub(
                    "c",
                    QoS::ExactlyOnce,
                    true,
                    true,
                    RetainHandling::SendAtSubscribeIfNew,
                ),
                sub(
                    "$share/g/d",
                    QoS::AtLeastOnce,
                    false,
                    false,
                    RetainHandling::DoNotSend,
                ),
            ],
        });
        let bytes = cat(&[
            &[0x82, 0x29],                               // SUBSCRIBE, Remaining Length 41
            &[0x00, 0x0A],                               // Packet Identifier 10
            &[0x09],                                     // Property Length 9
            &[0x0B, 0x05],                               // 3.8.2.1.2 Subscription Identifier 5
            &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // 3.8.2.1.3 User Property
            &[0x00, 0x03, b'a', b'/', b'+', 0x00],       // QoS 0
            &[0x00, 0x03, b'b', b'/', b'#', 0x05],       // 0000 0101: No Local, QoS 1
            &[0x00, 0x01, b'c', 0x1E],                   // 0001 1110: RH 1, RAP, NL, QoS 2
            &[0x00, 0x0A],                               // "$share/g/d"
            b"$share/g/d",
            &[0x21], // 0010 0001: Retain Handling 2, QoS 1
        ]);
        (packet, bytes)
    }

    // ----- SUBACK (3.9) -----

    // 3.9.2 Packet Identifier, 3.9.2.1.2 Reason String, 3.9.3 one Reason Code per filter:
    // Granted QoS 0, 1, 2 and 0x9E Shared Subscriptions not supported.
    pub fn suback() -> Vector {
        let packet = Packet::SubAck(SubAck {
            packet_id: 10,
            properties: props(vec![Property::ReasonString(s("ok"))]),
            reason_codes: vec![
                SubAckReasonCode::GrantedQos0,
                SubAckReasonCode::GrantedQos1,
                SubAckReasonCode::GrantedQos2,
                SubAckReasonCode::SharedSubscriptionsNotSupported,
            ],
        });
        let bytes = cat(&[
            &[0x90, 0x0C],                   // SUBACK, Remaining Length 12
            &[0x00, 0x0A],                   // Packet Identifier 10
            &[0x05],                         // Property Length 5
            &[0x1F, 0x00, 0x02, b'o', b'k'], // 3.9.2.1.2 Reason String "ok"
            &[0x00, 0x01, 0x02, 0x9E],       // 3.9.3 Reason Codes
        ]);
        (packet, bytes)
    }

    // ----- UNSUBSCRIBE (3.10) -----

    // 3.10.1 flags 0010, 3.10.2 Packet Identifier, 3.10.2.1.2 User Property, 3.10.3 filters.
    pub fn unsubscribe() -> Vector {
        let packet = Packet::Unsubscribe(Unsubscribe {
            packet_id: 12,
            properties: props(vec![Property::UserProperty(s("k"), s("v"))]),
            filters: vec![s("a/+"), s("$share/g/d")],
        });
        let bytes = cat(&[
            &[0xA2, 0x1B],                               // UNSUBSCRIBE, Remaining Length 27
            &[0x00, 0x0C],                               // Packet Identifier 12
            &[0x07],                                     // Property Length 7
            &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // 3.10.2.1.2 User Property
            &[0x00, 0x03, b'a', b'/', b'+'],             // "a/+"
            &[0x00, 0x0A],                               // "$share/g/d"
            b"$share/g/d",
        ]);
        (packet, bytes)
    }

    // ----- UNSUBACK (3.11) -----

    // 3.11.2 Packet Identifier, 3.11.2.1.2 Reason String, 3.11.3 Reason Codes 0x00 Success
    // and 0x11 No subscription existed.
    pub fn unsuback() -> Vector {
        let packet = Packet::UnsubAck(UnsubAck {
            packet_id: 12,
            properties: props(vec![Property::ReasonString(s("no"))]),
            reason_codes: vec![
                UnsubAckReasonCode::Success,
                UnsubAckReasonCode::NoSubscriptionExisted,
            ],
        });
        let bytes = cat(&[
            &[0xB0, 0x0A],                   // UNSUBACK, Remaining Length 10
            &[0x00, 0x0C],                   // Packet Identifier 12
            &[0x05],                         // Property Length 5
            &[0x1F, 0x00, 0x02, b'n', b'o'], // 3.11.2.1.2 Reason String "no"
            &[0x00, 0x11],                   // 3.11.3 Reason Codes
        ]);
        (packet, bytes)
    }

    // ----- PINGREQ (3.12), PINGRESP (3.13) -----

    // 3.12.1 PINGREQ fixed header: C0 00; 3.12.2 / 3.12.3 no variable header, no payload.
    pub fn pingreq() -> Vector {
        (Packet::PingReq, vec![0xC0, 0x00])
    }

    // 3.13.1 PINGRESP fixed header: D0 00; 3.13.2 / 3.13.3 no variable header, no payload.
    pub fn pingresp() -> Vector {
        (Packet::PingResp, vec![0xD0, 0x00])
    }

    // ----- DISCONNECT (3.14) -----

    // 3.14.2.1: "If the Remaining Length is less than 1 the value of 0x00 (Normal
    // disconnection) is used": E0 00.
    pub fn disconnect_short_form() -> Vector {
        let packet = Packet::Disconnect(Disconnect::new(DisconnectReasonCode::NormalDisconnection));
        (packet, vec![0xE0, 0x00])
    }

    // 3.14.2.2.1: "If the Remaining Length is less than 2, a value of 0 is used": Reason Code
    // 0x8E Session taken over alone.
    pub fn disconnect_reason_only() -> Vector {
        let packet = Packet::Disconnect(Disconnect::new(DisconnectReasonCode::SessionTakenOver));
        (packet, vec![0xE0, 0x01, 0x8E])
    }

    // 3.14.2.1 Reason Code 0x9C Use another server, 3.14.2.2.5 Server Reference, 3.14.2.2.3
    // Reason String.
    pub fn disconnect_with_server_reference() -> Vector {
        let packet = Packet::Disconnect(Disconnect {
            reason_code: DisconnectReasonCode::UseAnotherServer,
            properties: props(vec![
                Property::ServerReference(s("srv2")),
                Property::ReasonString(s("moved")),
            ]),
        });
        let bytes = cat(&[
            &[0xE0, 0x11],                                     // DISCONNECT, Remaining Length 17
            &[0x9C],                                           // Use another server
            &[0x0F],                                           // Property Length 15
            &[0x1C, 0x00, 0x04, b's', b'r', b'v', b'2'],       // 3.14.2.2.5 Server Reference
            &[0x1F, 0x00, 0x05, b'm', b'o', b'v', b'e', b'd'], // 3.14.2.2.3 Reason String
        ]);
        (packet, bytes)
    }

    // 3.14.2.1 Reason Code 0x04 Disconnect with Will Message, 3.14.2.2.2 Session Expiry
    // Interval.
    pub fn disconnect_with_will_and_session_expiry() -> Vector {
        let packet = Packet::Disconnect(Disconnect {
            reason_code: DisconnectReasonCode::DisconnectWithWillMessage,
            properties: props(vec![Property::SessionExpiryInterval(0)]),
        });
        let bytes = cat(&[
            &[0xE0, 0x07],                   // DISCONNECT, Remaining Length 7
            &[0x04],                         // Disconnect with Will Message
            &[0x05],                         // Property Length 5
            &[0x11, 0x00, 0x00, 0x00, 0x00], // Session Expiry Interval 0
        ]);
        (packet, bytes)
    }

    // ----- AUTH (3.15) -----

    // 3.15.2.1: "The Reason Code and Property Length can be omitted if the Reason Code is 0x00
    // (Success) and there are no Properties. In this case the AUTH has a Remaining Length of
    // 0": F0 00.
    pub fn auth_short_form() -> Vector {
        (
            Packet::Auth(Auth::new(AuthReasonCode::Success)),
            vec![0xF0, 0x00],
        )
    }

    // 3.15.2.1 Reason Code 0x18 Continue authentication, 3.15.2.2.2 Authentication Method,
    // 3.15.2.2.3 Authentication Data.
    pub fn auth_continue_authentication() -> Vector {
        let packet = Packet::Auth(Auth {
            reason_code: AuthReasonCode::ContinueAuthentication,
            properties: props(vec![
                Property::AuthenticationMethod(s("scram")),
                Property::AuthenticationData(bin(&[0x01, 0x02, 0x03])),
            ]),
        });
        let bytes = cat(&[
            &[0xF0, 0x10],                                     // AUTH, Remaining Length 16
            &[0x18],                                           // Continue authentication
            &[0x0E],                                           // Property Length 14
            &[0x15, 0x00, 0x05, b's', b'c', b'r', b'a', b'm'], // 3.15.2.2.2 Method "scram"
            &[0x16, 0x00, 0x03, 0x01, 0x02, 0x03],             // 3.15.2.2.3 Data
        ]);
        (packet, bytes)
    }

    // 3.15.2.1 Reason Code 0x19 Re-authenticate, 3.15.2.2.2 Authentication Method,
    // 3.15.2.2.4 Reason String.
    pub fn auth_reauthenticate() -> Vector {
        let packet = Packet::Auth(Auth {
            reason_code: AuthReasonCode::ReAuthenticate,
            properties: props(vec![
                Property::AuthenticationMethod(s("scram")),
                Property::ReasonString(s("again")),
            ]),
        });
        let bytes = cat(&[
            &[0xF0, 0x12],                                     // AUTH, Remaining Length 18
            &[0x19],                                           // Re-authenticate
            &[0x10],                                           // Property Length 16
            &[0x15, 0x00, 0x05, b's', b'c', b'r', b'a', b'm'], // Authentication Method
            &[0x1F, 0x00, 0x05, b'a', b'g', b'a', b'i', b'n'], // Reason String "again"
        ]);
        (packet, bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// One test per vector, and the list of all of them (kept in sync by the macro).
// ---------------------------------------------------------------------------------------------

macro_rules! vector_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (packet, bytes) = vectors::$name();
                check(stringify!($name), &packet, &bytes);
            }
        )*

        /// Every vector, in file order, with its name.
        const ALL_VECTORS: &[(&str, fn() -> Vector)] = &[$((stringify!($name), vectors::$name)),*];
    };
}

vector_tests!(
    connect_minimal,
    connect_figure_3_6_with_will_user_name_password,
    connect_all_connect_properties_will_qos2_retain,
    connect_password_without_user_name,
    connack_session_present,
    connack_failure_with_reason_string,
    connack_server_capability_properties,
    connack_use_another_server_with_server_reference,
    publish_qos0,
    publish_qos1_message_properties_two_subscription_ids,
    publish_qos2_dup_retain_figure_1_1_topic,
    publish_retained_empty_payload,
    publish_topic_alias_with_topic_name,
    publish_topic_alias_with_empty_topic_name,
    publish_remaining_length_127,
    publish_remaining_length_128,
    publish_remaining_length_16383,
    publish_remaining_length_16384,
    puback_short_form,
    puback_reason_only,
    puback_with_properties,
    pubrec_short_form,
    pubrec_reason_only,
    pubrec_success_with_user_property,
    pubrel_short_form,
    pubrel_reason_only,
    pubrel_with_properties,
    pubcomp_short_form,
    pubcomp_reason_only,
    pubcomp_success_with_reason_string,
    subscribe_payload_example,
    subscribe_all_option_bits,
    suback,
    unsubscribe,
    unsuback,
    pingreq,
    pingresp,
    disconnect_short_form,
    disconnect_reason_only,
    disconnect_with_server_reference,
    disconnect_with_will_and_session_expiry,
    auth_short_form,
    auth_continue_authentication,
    auth_reauthenticate,
);

fn all_vectors() -> Vec<(&'static str, Packet, Vec<u8>)> {
    ALL_VECTORS
        .iter()
        .map(|(name, build)| {
            let (packet, bytes) = build();
            (*name, packet, bytes)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Decode-only forms: what a peer may send that midge, sending the shortest form, does not.
// ---------------------------------------------------------------------------------------------

// 3.4.2.1 / 3.4.2.2.1 (and 3.5.2, 3.6.2, 3.7.2 alike): Remaining Length 2 means Reason Code
// 0x00; Remaining Length 3 carries the Reason Code without a Property Length; an explicit
// Reason Code 0x00 with Property Length 0 is the same packet.
#[test]
fn acks_decode_short_and_explicit_success_forms() {
    let acks: [(u8, Packet); 4] = [
        (0x40, Packet::PubAck(PubAck::new(1))),
        (0x50, Packet::PubRec(PubRec::new(1))),
        (0x62, Packet::PubRel(PubRel::new(1))),
        (0x70, Packet::PubComp(PubComp::new(1))),
    ];
    for (first, packet) in &acks {
        let name = format!("{:?}", packet.packet_type());
        // Remaining Length 2: Packet Identifier only.
        check_decodes_to(&name, &[*first, 0x02, 0x00, 0x01], packet);
        // Remaining Length 3: explicit Reason Code 0x00, no Property Length.
        check_decodes_to(&name, &[*first, 0x03, 0x00, 0x01, 0x00], packet);
        // Remaining Length 4: explicit Reason Code 0x00 and Property Length 0.
        check_decodes_to(&name, &[*first, 0x04, 0x00, 0x01, 0x00, 0x00], packet);
    }
    // 3.4.2.2.1: a non-zero Reason Code followed by an explicit Property Length 0.
    check_decodes_to(
        "PUBACK 0x10 with Property Length 0",
        &[0x40, 0x04, 0x00, 0x05, 0x10, 0x00],
        &Packet::PubAck(PubAck {
            packet_id: 5,
            reason_code: PubAckReasonCode::NoMatchingSubscribers,
            properties: Properties::new(),
        }),
    );
}

// 3.14.2.1, 3.14.2.2.1 (DISCONNECT) and 3.15.2.1 (AUTH): the explicit forms of Reason Code
// 0x00 with and without Property Length 0.
#[test]
fn disconnect_and_auth_decode_explicit_success_forms() {
    let normal = Packet::Disconnect(Disconnect::new(DisconnectReasonCode::NormalDisconnection));
    check_decodes_to("DISCONNECT E0 00", &[0xE0, 0x00], &normal);
    check_decodes_to("DISCONNECT E0 01 00", &[0xE0, 0x01, 0x00], &normal);
    check_decodes_to("DISCONNECT E0 02 00 00", &[0xE0, 0x02, 0x00, 0x00], &normal);
    check_decodes_to(
        "DISCONNECT E0 02 8E 00",
        &[0xE0, 0x02, 0x8E, 0x00],
        &Packet::Disconnect(Disconnect::new(DisconnectReasonCode::SessionTakenOver)),
    );
    let success = Packet::Auth(Auth::new(AuthReasonCode::Success));
    check_decodes_to("AUTH F0 00", &[0xF0, 0x00], &success);
    check_decodes_to("AUTH F0 02 00 00", &[0xF0, 0x02, 0x00, 0x00], &success);
}

// ---------------------------------------------------------------------------------------------
// The streaming Decoder
// ---------------------------------------------------------------------------------------------

fn drain(decoder: &mut Decoder, out: &mut Vec<Packet>) {
    loop {
        match decoder.next_packet() {
            Ok(Some(packet)) => out.push(packet),
            Ok(None) => return,
            Err(e) => panic!(
                "decoder failed after {} packets: {e} ({})",
                out.len(),
                e.spec_ref()
            ),
        }
    }
}

fn stream() -> (Vec<u8>, Vec<Packet>) {
    let mut bytes = Vec::new();
    let mut packets = Vec::new();
    for (_, packet, wire) in all_vectors() {
        bytes.extend_from_slice(&wire);
        packets.push(packet);
    }
    (bytes, packets)
}

fn assert_same_packets(decoded: &[Packet], expected: &[Packet]) {
    assert_eq!(decoded.len(), expected.len(), "number of packets");
    for (i, ((got, want), (name, _))) in decoded.iter().zip(expected).zip(ALL_VECTORS).enumerate() {
        assert_eq!(got, want, "packet {i} ({name})");
    }
}

// 2.1 / 4.2: packets follow each other on the stream, each delimited by its fixed header's
// Remaining Length; a read may end anywhere, so every vector is fed one byte at a time.
#[test]
fn streaming_decoder_one_byte_at_a_time() {
    let (bytes, expected) = stream();
    let mut decoder = Decoder::new();
    let mut received = Vec::new();
    for byte in &bytes {
        decoder.feed(std::slice::from_ref(byte));
        drain(&mut decoder, &mut received);
    }
    assert_eq!(decoder.buffered(), 0, "bytes left over");
    assert_same_packets(&received, &expected);
}

// 2.1 / 4.2: all vectors in one read.
#[test]
fn streaming_decoder_one_chunk() {
    let (bytes, expected) = stream();
    let mut decoder = Decoder::new();
    decoder.feed(&bytes);
    let mut received = Vec::new();
    drain(&mut decoder, &mut received);
    assert_eq!(decoder.buffered(), 0, "bytes left over");
    assert_same_packets(&received, &expected);
}

// ---------------------------------------------------------------------------------------------
// Coverage of the vectors themselves
// ---------------------------------------------------------------------------------------------

// 2.2.2.2, Table 2-4: every one of the 27 properties appears in at least one vector.
#[test]
fn vectors_cover_all_27_properties() {
    let mut used = BTreeSet::new();
    for (_, packet, _) in all_vectors() {
        for list in property_lists(&packet) {
            used.extend(list.iter().map(Property::id));
        }
    }
    let missing: Vec<PropertyId> = PropertyId::ALL
        .iter()
        .copied()
        .filter(|id| !used.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "properties without a vector: {missing:?}"
    );
    assert_eq!(PropertyId::ALL.len(), 27);
    assert_eq!(used.len(), 27);
}

// 2.1.2, Table 2-1: every one of the 15 control packet types appears in at least one vector.
#[test]
fn vectors_cover_all_15_packet_types() {
    let used: Vec<PacketType> = all_vectors()
        .iter()
        .map(|(_, packet, _)| packet.packet_type())
        .collect();
    for value in 1..=15 {
        let ty = PacketType::from_u8(value).expect("types 1..=15 are defined");
        assert!(used.contains(&ty), "no vector for {ty:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Zero copy
// ---------------------------------------------------------------------------------------------

fn assert_within(what: &str, inner: &[u8], outer: &Bytes) {
    let outer_range = outer.as_ptr_range();
    let inner_range = inner.as_ptr_range();
    assert!(
        !inner.is_empty()
            && outer_range.start <= inner_range.start
            && inner_range.end <= outer_range.end,
        "{what} ({} bytes at {:p}) is not a view into the input ({} bytes at {:p})",
        inner.len(),
        inner_range.start,
        outer.len(),
        outer_range.start
    );
}

// 3.3.3 Payload (and the strings and binary data of 1.5.4 / 1.5.6): decoding a PUBLISH from a
// `Bytes` hands out views into that buffer, not copies.
#[test]
fn publish_decode_is_zero_copy() {
    for (name, payload_offset) in [
        ("publish_qos1_message_properties_two_subscription_ids", 44),
        ("publish_remaining_length_16384", 8),
    ] {
        let (_, build) = ALL_VECTORS
            .iter()
            .find(|(n, _)| *n == name)
            .expect("vector exists");
        let (_, wire) = build();
        let input = Bytes::from(wire);
        let Packet::Publish(publish) = Packet::decode(input.clone()).expect("decodes") else {
            panic!("{name}: not a PUBLISH");
        };
        assert_within(&format!("{name}: payload"), &publish.payload, &input);
        assert_eq!(
            publish.payload.as_ptr(),
            input[payload_offset..].as_ptr(),
            "{name}: payload starts at byte {payload_offset} of the input"
        );
        assert_within(&format!("{name}: topic"), publish.topic.as_bytes(), &input);
        if let Some(data) = publish.properties.get_binary(PropertyId::CorrelationData) {
            assert_within(&format!("{name}: correlation data"), data, &input);
        }
    }
}

#[test]
fn auth_with_reason_and_no_properties_keeps_its_property_length() {
    // 3.15.2.2.1: AUTH defines no omission of the Property Length on its own, only of the
    // whole Reason Code and Properties when the code is 0x00 (3.15.2.1).
    let packet = Packet::Auth(Auth {
        reason_code: AuthReasonCode::ContinueAuthentication,
        properties: Properties::new(),
    });
    let mut buf = Vec::new();
    packet.encode(&mut buf).unwrap();
    assert_eq!(buf, [0xF0, 0x02, 0x18, 0x00]);
    assert_eq!(Packet::decode(buf).unwrap(), packet);
    // The shorter form is malformed (tests/codec_rules.rs checks the error).
    assert!(Packet::decode(vec![0xF0, 0x01, 0x18]).is_err());
}
