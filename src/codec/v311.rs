//! MQTT 3.1.1 (protocol level 4) wire forms of the same [`Packet`] values.
//!
//! MQTT 3.1.1 has no properties, no reason codes on PUBACK, PUBREC, PUBREL, PUBCOMP,
//! UNSUBACK and DISCONNECT, CONNACK return codes 0-5 instead of reason codes, SUBACK return
//! codes 0x00-0x02 and 0x80, subscription options that are a QoS only, a password only with
//! a user name, and no AUTH (packet type 15 is reserved). A [`Packet`] is encoded in its
//! 3.1.1 form only when 3.1.1 can carry all of it: anything else is refused with
//! [`CodecError::NotInV311`], never dropped. Decoding checks every rule of the 3.1.1
//! standard with the strictness of the 5.0 decoder, and gives packets with empty properties
//! and the 5.0 code that means the same (CONNACK return code 1 is 0x84 Unsupported Protocol
//! Version, SUBACK 0x80 is Unspecified error; an UNSUBACK, which carries no codes in 3.1.1,
//! decodes with an empty list).
//!
//! Normative statement numbers in this file refer to the OASIS MQTT Version 3.1.1 standard
//! (29 October 2014). The errors are the 5.0 decoder's where the rule is the same, so their
//! [`CodecError::spec_ref`] names the 5.0 statement; only the three rules of 3.1.1 alone
//! (`NotInV311`, `PasswordWithoutUserName`, `EmptyClientIdWithoutCleanSession`) name 3.1.1's.
//!
//! The streaming [`super::Decoder`] frames packets the same way in both versions and reads
//! their bodies with these rules after `Decoder::set_version(ProtocolVersion::V311)`.

use bytes::Bytes;

use super::error::CodecError;
use super::packet::{check_packet_id, parse_first_byte, read_packet_id};
use super::primitives::{
    Reader, VAR_INT_MAX, decode_var_int, put_binary, put_str, put_u16, put_var_int,
};
use super::properties::Properties;
use super::topic::{validate_topic_filter, validate_topic_name};
use super::{
    ConnAck, Connect, ConnectReasonCode, Disconnect, DisconnectReasonCode, Packet, PacketType,
    PubAck, PubAckReasonCode, PubComp, PubCompReasonCode, PubRec, PubRecReasonCode, PubRel,
    PubRelReasonCode, Publish, QoS, SubAck, SubAckReasonCode, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, UnsubAckReasonCode, Unsubscribe, Will,
};

/// The Protocol Level of MQTT 3.1.1 (3.1.2.2).
const PROTOCOL_LEVEL_V311: u8 = super::ProtocolVersion::V311.level();

const PROTOCOL_NAME: &[u8] = b"MQTT";
const USER_NAME: u8 = 0b1000_0000;
const PASSWORD: u8 = 0b0100_0000;
const WILL_RETAIN: u8 = 0b0010_0000;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_FLAG: u8 = 0b0000_0100;
const CLEAN_SESSION: u8 = 0b0000_0010;
const RESERVED: u8 = 0b0000_0001;

/// The CONNACK return codes of 3.1.1 (Table 3.1) and the 5.0 reason codes that mean the same.
const CONNACK_CODES: [(u8, ConnectReasonCode); 6] = [
    (0, ConnectReasonCode::Success),
    (1, ConnectReasonCode::UnsupportedProtocolVersion),
    (2, ConnectReasonCode::ClientIdentifierNotValid),
    (3, ConnectReasonCode::ServerUnavailable),
    (4, ConnectReasonCode::BadUserNameOrPassword),
    (5, ConnectReasonCode::NotAuthorized),
];

/// The CONNACK return code (3.2.2.3) that means `reason`, if 3.1.1 has one.
pub fn connack_return_code(reason: ConnectReasonCode) -> Option<u8> {
    CONNACK_CODES
        .iter()
        .find(|(_, r)| *r == reason)
        .map(|(c, _)| *c)
}

/// The 5.0 reason code for a 3.1.1 CONNACK return code; `None` for the reserved 6-255.
pub fn connack_reason(return_code: u8) -> Option<ConnectReasonCode> {
    CONNACK_CODES
        .iter()
        .find(|(c, _)| *c == return_code)
        .map(|(_, r)| *r)
}

fn no_properties(properties: &Properties, what: &'static str) -> Result<(), CodecError> {
    if properties.is_empty() {
        Ok(())
    } else {
        Err(CodecError::NotInV311 { what })
    }
}

impl Packet {
    /// Appends the packet in its MQTT 3.1.1 form to `buf` and returns how many bytes it took.
    /// Refuses ([`CodecError::NotInV311`]) what 3.1.1 cannot carry, and checks every rule
    /// on what a sender may send; on error `buf` is left as it was.
    pub fn encode_v311(&self, buf: &mut Vec<u8>) -> Result<usize, CodecError> {
        let mut body = Vec::new();
        let flags = self.write_body_v311(&mut body)?;
        if body.len() > VAR_INT_MAX as usize {
            return Err(CodecError::VarIntOutOfRange {
                value: body.len() as u64,
            });
        }
        let start = buf.len();
        buf.push(((self.packet_type() as u8) << 4) | flags);
        if let Err(e) = put_var_int(buf, body.len() as u32) {
            buf.truncate(start);
            return Err(e);
        }
        buf.extend_from_slice(&body);
        Ok(buf.len() - start)
    }

    /// Decodes exactly one complete MQTT 3.1.1 packet (fixed header, and the body of the
    /// length it gives, nothing more).
    pub fn decode_v311(bytes: impl Into<Bytes>) -> Result<Self, CodecError> {
        let mut bytes: Bytes = bytes.into();
        let Some(&first) = bytes.first() else {
            return Err(CodecError::Truncated {
                field: "fixed header",
            });
        };
        let (remaining, len) = decode_var_int(&bytes[1..])?.ok_or(CodecError::Truncated {
            field: "remaining length",
        })?;
        let header_len = 1 + len;
        let remaining = remaining as usize;
        if bytes.len() < header_len + remaining {
            return Err(CodecError::Truncated {
                field: "packet body",
            });
        }
        let packet_type = parse_first_byte_v311(first)?;
        if bytes.len() > header_len + remaining {
            return Err(CodecError::TrailingBytes {
                packet: packet_type,
                extra: bytes.len() - header_len - remaining,
            });
        }
        let body = bytes.split_off(header_len);
        Self::decode_body_v311(first, body)
    }

    /// Decodes a 3.1.1 packet from its first fixed-header byte and its body (exactly
    /// Remaining Length bytes).
    pub(crate) fn decode_body_v311(first: u8, body: Bytes) -> Result<Self, CodecError> {
        let packet_type = parse_first_byte_v311(first)?;
        let mut r = Reader::new(body);
        let packet = match packet_type {
            PacketType::Connect => Self::Connect(Box::new(read_connect(&mut r)?)),
            PacketType::ConnAck => Self::ConnAck(read_connack(&mut r)?),
            PacketType::Publish => Self::Publish(read_publish(first & 0x0F, &mut r)?),
            PacketType::PubAck => Self::PubAck(PubAck::new(read_packet_id(&mut r, packet_type)?)),
            PacketType::PubRec => Self::PubRec(PubRec::new(read_packet_id(&mut r, packet_type)?)),
            PacketType::PubRel => Self::PubRel(PubRel::new(read_packet_id(&mut r, packet_type)?)),
            PacketType::PubComp => {
                Self::PubComp(PubComp::new(read_packet_id(&mut r, packet_type)?))
            }
            PacketType::Subscribe => Self::Subscribe(read_subscribe(&mut r)?),
            PacketType::SubAck => Self::SubAck(read_suback(&mut r)?),
            PacketType::Unsubscribe => Self::Unsubscribe(read_unsubscribe(&mut r)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck {
                packet_id: read_packet_id(&mut r, packet_type)?,
                properties: Properties::new(),
                reason_codes: Vec::new(),
            }),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => {
                Self::Disconnect(Disconnect::new(DisconnectReasonCode::NormalDisconnection))
            }
            PacketType::Auth => return Err(CodecError::NotInV311 { what: "AUTH" }),
        };
        if !r.is_empty() {
            return Err(CodecError::TrailingBytes {
                packet: packet_type,
                extra: r.remaining(),
            });
        }
        Ok(packet)
    }

    /// Writes the 3.1.1 body; returns the fixed-header flags.
    fn write_body_v311(&self, buf: &mut Vec<u8>) -> Result<u8, CodecError> {
        match self {
            Self::Connect(c) => write_connect(c, buf)?,
            Self::ConnAck(c) => write_connack(c, buf)?,
            Self::Publish(p) => {
                write_publish(p, buf)?;
                return Ok(p.fixed_header_flags());
            }
            Self::PubAck(a) => {
                let ok = a.reason_code == PubAckReasonCode::Success;
                write_ack(a.packet_id, ok, &a.properties, PacketType::PubAck, buf)?;
            }
            Self::PubRec(a) => {
                let ok = a.reason_code == PubRecReasonCode::Success;
                write_ack(a.packet_id, ok, &a.properties, PacketType::PubRec, buf)?;
            }
            Self::PubRel(a) => {
                let ok = a.reason_code == PubRelReasonCode::Success;
                write_ack(a.packet_id, ok, &a.properties, PacketType::PubRel, buf)?;
            }
            Self::PubComp(a) => {
                let ok = a.reason_code == PubCompReasonCode::Success;
                write_ack(a.packet_id, ok, &a.properties, PacketType::PubComp, buf)?;
            }
            Self::Subscribe(s) => write_subscribe(s, buf)?,
            Self::SubAck(s) => write_suback(s, buf)?,
            Self::Unsubscribe(u) => write_unsubscribe(u, buf)?,
            Self::UnsubAck(u) => {
                // 3.1.1's UNSUBACK has no codes: only successes can go unsaid.
                let ok = u.reason_codes.iter().all(|c| {
                    matches!(
                        c,
                        UnsubAckReasonCode::Success | UnsubAckReasonCode::NoSubscriptionExisted
                    )
                });
                write_ack(u.packet_id, ok, &u.properties, PacketType::UnsubAck, buf)?;
            }
            Self::PingReq | Self::PingResp => {}
            Self::Disconnect(d) => {
                if d.reason_code != DisconnectReasonCode::NormalDisconnection {
                    return Err(CodecError::NotInV311 {
                        what: "a DISCONNECT reason code",
                    });
                }
                no_properties(&d.properties, "DISCONNECT properties")?;
            }
            Self::Auth(_) => return Err(CodecError::NotInV311 { what: "AUTH" }),
        }
        Ok(self.packet_type().required_flags())
    }
}

/// The first fixed-header byte under 3.1.1: a defined type (2.2.1: 0 and 15 are reserved)
/// and the flags of Table 2.2 [MQTT-2.2.2-1] [MQTT-2.2.2-2]; QoS 3 [MQTT-3.3.1-4] and DUP on
/// QoS 0 [MQTT-3.3.1-2] in PUBLISH.
pub(super) fn parse_first_byte_v311(first: u8) -> Result<PacketType, CodecError> {
    if first >> 4 == PacketType::Auth as u8 {
        return Err(CodecError::NotInV311 { what: "AUTH" });
    }
    parse_first_byte(first)
}

fn write_ack(
    packet_id: u16,
    success: bool,
    properties: &Properties,
    packet: PacketType,
    buf: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if !success {
        return Err(CodecError::NotInV311 {
            what: "a reason code in an acknowledgement",
        });
    }
    no_properties(properties, "acknowledgement properties")?;
    check_packet_id(packet_id, packet)?;
    put_u16(buf, packet_id);
    Ok(())
}

// ------------------------------------------------------------------------- CONNECT (3.1)

fn write_connect(c: &Connect, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    no_properties(&c.properties, "CONNECT properties")?;
    // [MQTT-3.1.2-22] no password without a user name.
    if c.password.is_some() && c.username.is_none() {
        return Err(CodecError::PasswordWithoutUserName);
    }
    // [MQTT-3.1.3-7] a zero-byte Client Identifier needs Clean Session 1.
    if c.client_id.is_empty() && !c.clean_start {
        return Err(CodecError::EmptyClientIdWithoutCleanSession);
    }
    let mut flags = 0;
    if c.clean_start {
        flags |= CLEAN_SESSION;
    }
    if let Some(will) = &c.will {
        no_properties(&will.properties, "Will properties")?;
        validate_topic_name(&will.topic).map_err(CodecError::InvalidTopicName)?;
        flags |= WILL_FLAG | ((will.qos as u8) << WILL_QOS_SHIFT);
        if will.retain {
            flags |= WILL_RETAIN;
        }
    }
    if c.username.is_some() {
        flags |= USER_NAME;
    }
    if c.password.is_some() {
        flags |= PASSWORD;
    }
    put_u16(buf, PROTOCOL_NAME.len() as u16);
    buf.extend_from_slice(PROTOCOL_NAME);
    buf.push(PROTOCOL_LEVEL_V311);
    buf.push(flags);
    put_u16(buf, c.keep_alive);
    put_str(buf, "client identifier", &c.client_id)?;
    if let Some(will) = &c.will {
        put_str(buf, "will topic", &will.topic)?;
        put_binary(buf, "will message", &will.payload)?;
    }
    if let Some(u) = &c.username {
        put_str(buf, "user name", u)?;
    }
    if let Some(p) = &c.password {
        put_binary(buf, "password", p)?;
    }
    Ok(())
}

fn read_connect(r: &mut Reader) -> Result<Connect, CodecError> {
    // [MQTT-3.1.2-1] the protocol name "MQTT".
    if r.binary("protocol name")? != PROTOCOL_NAME {
        return Err(CodecError::InvalidProtocolName);
    }
    // [MQTT-3.1.2-2] protocol level 4.
    let version = r.u8("protocol level")?;
    if version != PROTOCOL_LEVEL_V311 {
        return Err(CodecError::UnsupportedProtocolVersion { version });
    }
    let flags = r.u8("connect flags")?;
    // [MQTT-3.1.2-3] the reserved flag is 0.
    if flags & RESERVED != 0 {
        return Err(CodecError::ConnectReservedFlag);
    }
    let will_flag = flags & WILL_FLAG != 0;
    let will_qos = (flags >> WILL_QOS_SHIFT) & 0b11;
    let will_retain = flags & WILL_RETAIN != 0;
    // [MQTT-3.1.2-13] no Will QoS without a Will; [MQTT-3.1.2-14] never QoS 3;
    // [MQTT-3.1.2-15] no Will Retain without a Will.
    if !will_flag && will_qos != 0 {
        return Err(CodecError::WillQosWithoutWill);
    }
    let will_qos = QoS::from_u8(will_qos).ok_or(CodecError::InvalidWillQos)?;
    if !will_flag && will_retain {
        return Err(CodecError::WillRetainWithoutWill);
    }
    // [MQTT-3.1.2-22] no password without a user name.
    if flags & PASSWORD != 0 && flags & USER_NAME == 0 {
        return Err(CodecError::PasswordWithoutUserName);
    }
    let keep_alive = r.u16("keep alive")?;
    let client_id = r.string("client identifier")?;
    let will = if will_flag {
        let topic = r.string("will topic")?;
        validate_topic_name(&topic).map_err(CodecError::InvalidTopicName)?;
        let payload = r.binary("will message")?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties: Properties::new(),
        })
    } else {
        None
    };
    let username = if flags & USER_NAME != 0 {
        Some(r.string("user name")?)
    } else {
        None
    };
    let password = if flags & PASSWORD != 0 {
        Some(r.binary("password")?)
    } else {
        None
    };
    Ok(Connect {
        clean_start: flags & CLEAN_SESSION != 0,
        keep_alive,
        properties: Properties::new(),
        client_id,
        will,
        username,
        password,
    })
}

// ------------------------------------------------------------------------- CONNACK (3.2)

fn write_connack(c: &ConnAck, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    no_properties(&c.properties, "CONNACK properties")?;
    let code = connack_return_code(c.reason_code).ok_or(CodecError::NotInV311 {
        what: "this CONNACK reason code",
    })?;
    // [MQTT-3.2.2-4] Session Present 0 with a non-zero return code.
    if c.session_present && code != 0 {
        return Err(CodecError::SessionPresentOnFailure);
    }
    buf.push(u8::from(c.session_present));
    buf.push(code);
    Ok(())
}

fn read_connack(r: &mut Reader) -> Result<ConnAck, CodecError> {
    let flags = r.u8("connect acknowledge flags")?;
    // 3.2.2.1: bits 7-1 are reserved and set to 0.
    if flags & 0xFE != 0 {
        return Err(CodecError::ConnAckReservedFlags { flags });
    }
    let code = r.u8("connect return code")?;
    // Table 3.1: 6-255 are reserved.
    let reason_code = connack_reason(code).ok_or(CodecError::InvalidReasonCode {
        packet: PacketType::ConnAck,
        code,
    })?;
    let session_present = flags == 1;
    // [MQTT-3.2.2-4] Session Present 0 with a non-zero return code.
    if session_present && code != 0 {
        return Err(CodecError::SessionPresentOnFailure);
    }
    Ok(ConnAck {
        session_present,
        reason_code,
        properties: Properties::new(),
    })
}

// ------------------------------------------------------------------------- PUBLISH (3.3)

fn write_publish(p: &Publish, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    no_properties(&p.properties, "PUBLISH properties (and so topic aliases)")?;
    // [MQTT-3.3.1-2] DUP 0 on QoS 0.
    if p.dup && p.qos == QoS::AtMostOnce {
        return Err(CodecError::DupWithQos0);
    }
    // [MQTT-3.3.2-1] a Topic Name, [MQTT-3.3.2-2] without wildcards; 4.7.3: not empty.
    validate_topic_name(&p.topic).map_err(CodecError::InvalidTopicName)?;
    put_str(buf, "topic name", &p.topic)?;
    if p.qos != QoS::AtMostOnce {
        // [MQTT-2.3.1-1] a non-zero Packet Identifier.
        check_packet_id(p.packet_id, PacketType::Publish)?;
        put_u16(buf, p.packet_id);
    }
    buf.extend_from_slice(&p.payload);
    Ok(())
}

fn read_publish(flags: u8, r: &mut Reader) -> Result<Publish, CodecError> {
    let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(CodecError::InvalidPublishQos)?;
    let topic = r.string("topic name")?;
    validate_topic_name(&topic).map_err(CodecError::InvalidTopicName)?;
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        read_packet_id(r, PacketType::Publish)?
    };
    Ok(Publish {
        dup: flags & 0b1000 != 0,
        qos,
        retain: flags & 0b0001 != 0,
        topic,
        packet_id,
        properties: Properties::new(),
        payload: r.rest(),
    })
}

// ------------------------------------------------------------------------- SUBSCRIBE (3.8)

fn write_subscribe(s: &Subscribe, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    no_properties(&s.properties, "SUBSCRIBE properties")?;
    check_packet_id(s.packet_id, PacketType::Subscribe)?;
    // [MQTT-3.8.3-3] at least one Topic Filter.
    if s.subscriptions.is_empty() {
        return Err(CodecError::NoTopicFilters);
    }
    put_u16(buf, s.packet_id);
    for sub in &s.subscriptions {
        let plain = SubscriptionOptions {
            qos: sub.options.qos,
            ..SubscriptionOptions::default()
        };
        if sub.options != plain {
            return Err(CodecError::NotInV311 {
                what: "subscription options other than the QoS",
            });
        }
        validate_topic_filter(&sub.filter).map_err(CodecError::InvalidTopicFilter)?;
        put_str(buf, "topic filter", &sub.filter)?;
        buf.push(sub.options.qos as u8);
    }
    Ok(())
}

fn read_subscribe(r: &mut Reader) -> Result<Subscribe, CodecError> {
    let packet_id = read_packet_id(r, PacketType::Subscribe)?;
    let mut subscriptions = Vec::new();
    while !r.is_empty() {
        let filter = r.string("topic filter")?;
        validate_topic_filter(&filter).map_err(CodecError::InvalidTopicFilter)?;
        let options = r.u8("requested QoS")?;
        // [MQTT-3.8.3-4] bits 7-2 reserved (0), and QoS 0, 1 or 2.
        if options & 0b1111_1100 != 0 {
            return Err(CodecError::SubscriptionOptionsReserved { options });
        }
        let qos = QoS::from_u8(options).ok_or(CodecError::InvalidSubscriptionQos)?;
        subscriptions.push(Subscription {
            filter,
            options: SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            },
        });
    }
    // [MQTT-3.8.3-3] at least one Topic Filter.
    if subscriptions.is_empty() {
        return Err(CodecError::NoTopicFilters);
    }
    Ok(Subscribe {
        packet_id,
        properties: Properties::new(),
        subscriptions,
    })
}

// ------------------------------------------------------------------------- SUBACK (3.9)

fn write_suback(s: &SubAck, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    no_properties(&s.properties, "SUBACK properties")?;
    check_packet_id(s.packet_id, PacketType::SubAck)?;
    if s.reason_codes.is_empty() {
        return Err(CodecError::NoReasonCodes {
            packet: PacketType::SubAck,
        });
    }
    put_u16(buf, s.packet_id);
    for code in &s.reason_codes {
        // [MQTT-3.9.3-2] only 0x00, 0x01, 0x02 and 0x80.
        match code {
            SubAckReasonCode::GrantedQos0
            | SubAckReasonCode::GrantedQos1
            | SubAckReasonCode::GrantedQos2
            | SubAckReasonCode::UnspecifiedError => buf.push(code.as_u8()),
            _ => {
                return Err(CodecError::NotInV311 {
                    what: "a SUBACK reason code other than 0x00-0x02 and 0x80",
                });
            }
        }
    }
    Ok(())
}

fn read_suback(r: &mut Reader) -> Result<SubAck, CodecError> {
    let packet_id = read_packet_id(r, PacketType::SubAck)?;
    let codes = r.rest();
    if codes.is_empty() {
        return Err(CodecError::NoReasonCodes {
            packet: PacketType::SubAck,
        });
    }
    let reason_codes = codes
        .iter()
        .map(|&code| {
            // [MQTT-3.9.3-2] other return codes are reserved.
            let known = matches!(code, 0x00 | 0x01 | 0x02 | 0x80);
            known
                .then(|| SubAckReasonCode::from_u8(code))
                .flatten()
                .ok_or(CodecError::InvalidReasonCode {
                    packet: PacketType::SubAck,
                    code,
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(SubAck {
        packet_id,
        properties: Properties::new(),
        reason_codes,
    })
}

// ------------------------------------------------------------------------- UNSUBSCRIBE (3.10)

fn write_unsubscribe(u: &Unsubscribe, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    no_properties(&u.properties, "UNSUBSCRIBE properties")?;
    check_packet_id(u.packet_id, PacketType::Unsubscribe)?;
    // [MQTT-3.10.3-2] at least one Topic Filter.
    if u.filters.is_empty() {
        return Err(CodecError::NoUnsubscribeFilters);
    }
    put_u16(buf, u.packet_id);
    for f in &u.filters {
        validate_topic_filter(f).map_err(CodecError::InvalidTopicFilter)?;
        put_str(buf, "topic filter", f)?;
    }
    Ok(())
}

fn read_unsubscribe(r: &mut Reader) -> Result<Unsubscribe, CodecError> {
    let packet_id = read_packet_id(r, PacketType::Unsubscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        let f = r.string("topic filter")?;
        validate_topic_filter(&f).map_err(CodecError::InvalidTopicFilter)?;
        filters.push(f);
    }
    if filters.is_empty() {
        return Err(CodecError::NoUnsubscribeFilters);
    }
    Ok(Unsubscribe {
        packet_id,
        properties: Properties::new(),
        filters,
    })
}
