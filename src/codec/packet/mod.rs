//! The 15 control packets (chapter 3). Each packet type lives in its own file with its
//! encode and decode; this file dispatches on the fixed header (2.1).

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use ack::{PubAck, PubComp, PubRec, PubRel};
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use bytes::Bytes;

use super::PacketType;
use super::error::CodecError;
use super::primitives::{Reader, VAR_INT_MAX, decode_var_int, put_var_int, var_int_len};
use super::properties::{Properties, PropertyContext};

/// One MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubRec),
    PubRel(PubRel),
    PubComp(PubComp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// The Remaining Length: the size of the variable header and payload.
    pub fn remaining_len(&self) -> usize {
        match self {
            Self::Connect(p) => p.body_len(),
            Self::ConnAck(p) => p.body_len(),
            Self::Publish(p) => p.body_len(),
            Self::PubAck(p) => p.body_len(),
            Self::PubRec(p) => p.body_len(),
            Self::PubRel(p) => p.body_len(),
            Self::PubComp(p) => p.body_len(),
            Self::Subscribe(p) => p.body_len(),
            Self::SubAck(p) => p.body_len(),
            Self::Unsubscribe(p) => p.body_len(),
            Self::UnsubAck(p) => p.body_len(),
            Self::PingReq | Self::PingResp => 0,
            Self::Disconnect(p) => p.body_len(),
            Self::Auth(p) => p.body_len(),
        }
    }

    /// The whole packet's size on the wire, the figure a Maximum Packet Size limits.
    pub fn encoded_len(&self) -> usize {
        let remaining = self.remaining_len();
        1 + var_int_len(remaining as u32) + remaining
    }

    /// Appends the packet to `buf` and returns how many bytes it took. Checks every rule on
    /// what a sender may send; on error `buf` is left as it was.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<usize, CodecError> {
        let start = buf.len();
        match self.encode_inner(buf) {
            Ok(()) => Ok(buf.len() - start),
            Err(e) => {
                buf.truncate(start);
                Err(e)
            }
        }
    }

    fn encode_inner(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        let remaining = self.remaining_len();
        if remaining > VAR_INT_MAX as usize {
            return Err(CodecError::VarIntOutOfRange {
                value: remaining as u64,
            });
        }
        buf.reserve(1 + var_int_len(remaining as u32) + remaining);
        let flags = match self {
            Self::Publish(p) => p.fixed_header_flags(),
            _ => self.packet_type().required_flags(),
        };
        buf.push(((self.packet_type() as u8) << 4) | flags);
        put_var_int(buf, remaining as u32)?;
        let body_start = buf.len();
        match self {
            Self::Connect(p) => p.write_body(buf)?,
            Self::ConnAck(p) => p.write_body(buf)?,
            Self::Publish(p) => p.write_body(buf)?,
            Self::PubAck(p) => p.write_body(buf)?,
            Self::PubRec(p) => p.write_body(buf)?,
            Self::PubRel(p) => p.write_body(buf)?,
            Self::PubComp(p) => p.write_body(buf)?,
            Self::Subscribe(p) => p.write_body(buf)?,
            Self::SubAck(p) => p.write_body(buf)?,
            Self::Unsubscribe(p) => p.write_body(buf)?,
            Self::UnsubAck(p) => p.write_body(buf)?,
            Self::PingReq | Self::PingResp => {}
            Self::Disconnect(p) => p.write_body(buf)?,
            Self::Auth(p) => p.write_body(buf)?,
        }
        debug_assert_eq!(buf.len() - body_start, remaining, "{self:?}");
        Ok(())
    }

    /// Decodes exactly one complete packet: `bytes` must hold the fixed header, and the
    /// variable header and payload of the length it gives, and nothing more.
    pub fn decode(bytes: impl Into<Bytes>) -> Result<Self, CodecError> {
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
        let packet_type = parse_first_byte(first)?;
        if bytes.len() > header_len + remaining {
            return Err(CodecError::TrailingBytes {
                packet: packet_type,
                extra: bytes.len() - header_len - remaining,
            });
        }
        let body = bytes.split_off(header_len);
        Self::decode_body(first, body)
    }

    /// Decodes a packet from its first fixed-header byte and its body (variable header and
    /// payload, exactly Remaining Length bytes).
    pub(crate) fn decode_body(first: u8, body: Bytes) -> Result<Self, CodecError> {
        let packet_type = parse_first_byte(first)?;
        let flags = first & 0x0F;
        let mut r = Reader::new(body);
        let packet = match packet_type {
            PacketType::Connect => Self::Connect(Box::new(Connect::read_body(&mut r)?)),
            PacketType::ConnAck => Self::ConnAck(ConnAck::read_body(&mut r)?),
            PacketType::Publish => Self::Publish(Publish::read_body(flags, &mut r)?),
            PacketType::PubAck => Self::PubAck(PubAck::read_body(&mut r)?),
            PacketType::PubRec => Self::PubRec(PubRec::read_body(&mut r)?),
            PacketType::PubRel => Self::PubRel(PubRel::read_body(&mut r)?),
            PacketType::PubComp => Self::PubComp(PubComp::read_body(&mut r)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::read_body(&mut r)?),
            PacketType::SubAck => Self::SubAck(SubAck::read_body(&mut r)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::read_body(&mut r)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::read_body(&mut r)?),
            PacketType::PingReq => Self::PingReq,
            PacketType::PingResp => Self::PingResp,
            PacketType::Disconnect => Self::Disconnect(Disconnect::read_body(&mut r)?),
            PacketType::Auth => Self::Auth(Auth::read_body(&mut r)?),
        };
        if !r.is_empty() {
            return Err(CodecError::TrailingBytes {
                packet: packet_type,
                extra: r.remaining(),
            });
        }
        Ok(packet)
    }
}

/// Checks the first fixed-header byte: a defined type [2.1.2] and the flags Table 2-2 requires
/// [MQTT-2.1.3-1]. PUBLISH flags are checked by PUBLISH itself.
pub(crate) fn parse_first_byte(first: u8) -> Result<PacketType, CodecError> {
    let packet_type = PacketType::from_u8(first >> 4).ok_or(CodecError::ReservedPacketType)?;
    let flags = first & 0x0F;
    if packet_type != PacketType::Publish && flags != packet_type.required_flags() {
        return Err(CodecError::InvalidFixedHeaderFlags {
            packet: packet_type,
            flags,
        });
    }
    if packet_type == PacketType::Publish {
        if flags & 0b0110 == 0b0110 {
            return Err(CodecError::InvalidPublishQos);
        }
        if flags & 0b1000 != 0 && flags & 0b0110 == 0 {
            return Err(CodecError::DupWithQos0);
        }
    }
    Ok(packet_type)
}

/// Reads a Packet Identifier, which must be non-zero [MQTT-2.2.1-3].
pub(crate) fn read_packet_id(r: &mut Reader, packet: PacketType) -> Result<u16, CodecError> {
    match r.u16("packet identifier")? {
        0 => Err(CodecError::ZeroPacketIdentifier { packet }),
        id => Ok(id),
    }
}

/// Checks a Packet Identifier before it is sent [MQTT-2.2.1-3].
pub(crate) fn check_packet_id(id: u16, packet: PacketType) -> Result<(), CodecError> {
    if id == 0 {
        Err(CodecError::ZeroPacketIdentifier { packet })
    } else {
        Ok(())
    }
}

impl From<Connect> for Packet {
    fn from(p: Connect) -> Self {
        Self::Connect(Box::new(p))
    }
}

macro_rules! packet_from {
    ($($name:ident),*) => {
        $(impl From<$name> for Packet {
            fn from(p: $name) -> Self {
                Self::$name(p)
            }
        })*
    };
}
packet_from!(
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth
);

/// Size of the optional Reason Code and Properties that end PUBACK, PUBREC, PUBREL, PUBCOMP,
/// DISCONNECT and AUTH: both may be left out when the code is 0x00 and there are no
/// properties (3.4.2.1, 3.14.2.1, 3.15.2.1), and the Property Length may be left out when
/// there are none, except in AUTH, where only the whole-tail omission is defined (3.4.2.2.1,
/// 3.14.2.2.1; 3.15.2.2.1 has no such rule). midge always sends the shortest allowed form.
pub(crate) fn reason_tail_len(
    code: u8,
    properties: &Properties,
    context: PropertyContext,
) -> usize {
    match (code, properties.is_empty()) {
        (0, true) => 0,
        (_, true) if context != PropertyContext::Auth => 1,
        _ => 1 + properties.wire_len(),
    }
}

pub(crate) fn write_reason_tail(
    buf: &mut Vec<u8>,
    code: u8,
    properties: &Properties,
    context: PropertyContext,
) -> Result<(), CodecError> {
    if code == 0 && properties.is_empty() {
        return Ok(());
    }
    buf.push(code);
    if !properties.is_empty() || context == PropertyContext::Auth {
        properties.encode(context, buf)?;
    }
    Ok(())
}

/// Reads the optional Reason Code and Properties; an absent code means 0x00.
pub(crate) fn read_reason_tail<R>(
    r: &mut Reader,
    packet: PacketType,
    context: PropertyContext,
    parse: fn(u8) -> Option<R>,
) -> Result<(R, Properties), CodecError> {
    let absent = r.is_empty();
    let code = if absent { 0 } else { r.u8("reason code")? };
    let reason = parse(code).ok_or(CodecError::InvalidReasonCode { packet, code })?;
    // PUBACK, PUBREC, PUBREL, PUBCOMP and DISCONNECT may end after the Reason Code
    // (3.4.2.2.1, 3.14.2.2.1); AUTH may only omit both together (3.15.2.1).
    let properties = if absent || r.is_empty() && context != PropertyContext::Auth {
        Properties::new()
    } else {
        Properties::decode(r, context)?
    };
    Ok((reason, properties))
}
