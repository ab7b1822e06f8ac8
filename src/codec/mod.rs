//! `codec`: bytes <-> MQTT 5.0 packets. No state beyond a partial packet, no clock, no I/O.
//!
//! Contract:
//! - [`Packet::encode`] appends one packet to a caller's buffer and checks every rule the
//!   standard puts on what a sender may send; on error nothing is appended.
//! - [`Packet::decode`] parses one complete packet and [`Decoder`] splits a byte stream into
//!   packets, enforcing a Maximum Packet Size from the fixed header alone. Both reject every
//!   rule violation with a [`CodecError`] that names the rule and the reason code to answer
//!   with. No input panics, and payloads and strings are views into the received bytes.
//!
//! The source of truth is the OASIS MQTT Version 5.0 standard (7 March 2019); section and
//! normative statement numbers in comments refer to it, except in `v311.rs`: the MQTT 3.1.1
//! forms of the same packets ([`Packet::encode_v311`], [`Packet::decode_v311`]), checked
//! against the OASIS MQTT Version 3.1.1 standard (29 October 2014).

mod decoder;
mod error;
mod packet;
mod primitives;
mod properties;
mod reason;
pub mod topic;
mod v311;

pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use decoder::Decoder;
pub use error::CodecError;
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PubAck, PubComp, PubRec, PubRel, Publish,
    RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
    Will,
};
pub use primitives::{MAX_STRING_LEN, VAR_INT_MAX};
pub use properties::{PayloadFormat, Properties, Property, PropertyContext, PropertyId};
pub use reason::{
    AuthReasonCode, ConnectReasonCode, DisconnectReasonCode, PubAckReasonCode, PubCompReasonCode,
    PubRecReasonCode, PubRelReasonCode, SubAckReasonCode, UnsubAckReasonCode, reason_code_text,
};
pub use topic::TopicError;
pub use v311::{connack_reason, connack_return_code};

/// The MQTT version a connection speaks: its CONNECT's Protocol Level (3.1.2.2), 5 for
/// MQTT 5.0 (the default), 4 for MQTT 3.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProtocolVersion {
    V311,
    #[default]
    V5,
}

impl ProtocolVersion {
    /// The Protocol Level a CONNECT carries.
    pub const fn level(self) -> u8 {
        match self {
            Self::V311 => 4,
            Self::V5 => 5,
        }
    }

    /// The version of a Protocol Level; `None` for levels midge does not speak.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(Self::V311),
            5 => Some(Self::V5),
            _ => None,
        }
    }
}

impl Packet {
    /// [`Packet::encode`] (5.0) or [`Packet::encode_v311`], by `version`.
    pub fn encode_as(
        &self,
        version: ProtocolVersion,
        buf: &mut Vec<u8>,
    ) -> Result<usize, CodecError> {
        match version {
            ProtocolVersion::V5 => self.encode(buf),
            ProtocolVersion::V311 => self.encode_v311(buf),
        }
    }

    /// [`Packet::decode`] (5.0) or [`Packet::decode_v311`], by `version`.
    pub fn decode_as(
        version: ProtocolVersion,
        bytes: impl Into<Bytes>,
    ) -> Result<Self, CodecError> {
        match version {
            ProtocolVersion::V5 => Self::decode(bytes),
            ProtocolVersion::V311 => Self::decode_v311(bytes),
        }
    }
}

/// Quality of Service (4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for a wire value 0..=2.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }
}

/// MQTT Control Packet type (2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    /// The type in the high nibble of the first fixed-header byte; `None` for the reserved 0.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 => Self::Auth,
            _ => return None,
        })
    }

    /// The fixed-header flags every packet type but PUBLISH must carry (2.1.3, Table 2-2).
    pub const fn required_flags(self) -> u8 {
        match self {
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}
