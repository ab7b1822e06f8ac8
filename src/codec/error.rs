//! The codec's error: which rule of the standard an input broke, and the reason code the
//! receiver must answer with.

use super::PacketType;
use super::properties::{PropertyContext, PropertyId};
use super::reason::DisconnectReasonCode;
use super::topic::TopicError;

/// A packet broke a rule of MQTT 5.0, on decode or on encode.
///
/// Every variant names the rule; [`CodecError::reason_code`] gives the Reason Code the receiver
/// of such a packet must send in its DISCONNECT (4.13), and [`CodecError::spec_ref`] the
/// normative statement or section that states the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A field runs past the end of the packet's Remaining Length, or past the Property Length.
    #[error("{field} runs past the end of its packet")]
    Truncated { field: &'static str },
    /// Bytes are left after the last field the packet type defines.
    #[error("{packet:?} has {extra} byte(s) after its last field")]
    TrailingBytes { packet: PacketType, extra: usize },
    /// Control packet type 0 is reserved (2.1.2).
    #[error("control packet type 0 is reserved")]
    ReservedPacketType,
    /// The fixed header's flag bits are not the ones the packet type requires [MQTT-2.1.3-1].
    #[error("{packet:?} has reserved fixed-header flags 0x{flags:X}")]
    InvalidFixedHeaderFlags { packet: PacketType, flags: u8 },
    /// QoS value 3 in a PUBLISH fixed header [MQTT-3.3.1-4].
    #[error("PUBLISH with QoS 3")]
    InvalidPublishQos,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupWithQos0,
    /// A Variable Byte Integer longer than four bytes (1.5.5).
    #[error("Variable Byte Integer longer than four bytes")]
    VarIntTooLong,
    /// A Variable Byte Integer not in its shortest form [MQTT-1.5.5-1].
    #[error("Variable Byte Integer not minimally encoded")]
    VarIntNotMinimal,
    /// A value above 268,435,455 cannot be a Variable Byte Integer (1.5.5).
    #[error("{value} does not fit a Variable Byte Integer")]
    VarIntOutOfRange { value: u64 },
    /// The packet is larger than the Maximum Packet Size in force (3.1.2.11, 3.2.2.3.6).
    #[error("packet of {size} bytes exceeds the maximum packet size of {max}")]
    PacketTooLarge { size: u64, max: u32 },
    /// A UTF-8 Encoded String is not well-formed UTF-8 (surrogates included) [MQTT-1.5.4-1].
    #[error("{field} is not well-formed UTF-8")]
    InvalidUtf8 { field: &'static str },
    /// A UTF-8 Encoded String contains U+0000 [MQTT-1.5.4-2].
    #[error("{field} contains U+0000")]
    NullCharacter { field: &'static str },
    /// A string or binary field longer than 65,535 bytes (1.5.4, 1.5.6).
    #[error("{field} is {len} bytes, more than 65,535")]
    TooLong { field: &'static str, len: usize },
    /// A property identifier the standard does not define (2.2.2.2).
    #[error("unknown property identifier 0x{id:02X}")]
    UnknownProperty { id: u32 },
    /// A property that the packet may not carry (2.2.2.2).
    #[error("{property:?} is not allowed in {context:?}")]
    PropertyNotAllowed {
        property: PropertyId,
        context: PropertyContext,
    },
    /// A property other than User Property (and Subscription Identifier in PUBLISH) appears
    /// twice (2.2.2.2).
    #[error("{property:?} appears more than once in {context:?}")]
    DuplicateProperty {
        property: PropertyId,
        context: PropertyContext,
    },
    /// A property value outside its allowed range, e.g. Receive Maximum 0 (3.1.2.11.3).
    #[error("{property:?} has the invalid value {value}")]
    InvalidPropertyValue { property: PropertyId, value: u32 },
    /// Topic Alias 0 [MQTT-3.3.2-8].
    #[error("Topic Alias 0 is not permitted")]
    TopicAliasZero,
    /// The Protocol Name is not "MQTT" [MQTT-3.1.2-1].
    #[error("protocol name is not \"MQTT\"")]
    InvalidProtocolName,
    /// The Protocol Version is not 5 [MQTT-3.1.2-2].
    #[error("protocol version {version} is not 5")]
    UnsupportedProtocolVersion { version: u8 },
    /// The CONNECT flags' reserved bit is set [MQTT-3.1.2-3].
    #[error("CONNECT reserved flag is set")]
    ConnectReservedFlag,
    /// Will QoS is not 0 while the Will Flag is 0 [MQTT-3.1.2-11].
    #[error("Will QoS set without a Will")]
    WillQosWithoutWill,
    /// Will QoS 3 [MQTT-3.1.2-12].
    #[error("Will QoS 3")]
    InvalidWillQos,
    /// Will Retain set while the Will Flag is 0 [MQTT-3.1.2-13].
    #[error("Will Retain set without a Will")]
    WillRetainWithoutWill,
    /// CONNACK Acknowledge Flags bits 7-1 are not 0 [MQTT-3.2.2-1].
    #[error("CONNACK reserved flags 0x{flags:02X}")]
    ConnAckReservedFlags { flags: u8 },
    /// Session Present 1 with a failure reason code [MQTT-3.2.2-6].
    #[error("CONNACK Session Present set with a failure reason code")]
    SessionPresentOnFailure,
    /// A reason code the packet type does not define (2.4).
    #[error("reason code 0x{code:02X} is not defined for {packet:?}")]
    InvalidReasonCode { packet: PacketType, code: u8 },
    /// Packet Identifier 0 where one is required [MQTT-2.2.1-3].
    #[error("{packet:?} with Packet Identifier 0")]
    ZeroPacketIdentifier { packet: PacketType },
    /// A PUBLISH with an empty Topic Name and no Topic Alias (3.3.2.1).
    #[error("PUBLISH with an empty topic name and no topic alias")]
    EmptyTopicWithoutAlias,
    /// An invalid Topic Name (PUBLISH, Will Topic, Response Topic).
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// An invalid Topic Filter (SUBSCRIBE, UNSUBSCRIBE).
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// SUBSCRIBE without any Topic Filter [MQTT-3.8.3-2].
    #[error("SUBSCRIBE without a topic filter")]
    NoTopicFilters,
    /// UNSUBSCRIBE without any Topic Filter [MQTT-3.10.3-2].
    #[error("UNSUBSCRIBE without a topic filter")]
    NoUnsubscribeFilters,
    /// SUBACK or UNSUBACK without any Reason Code (3.9.3, 3.11.3: one per filter).
    #[error("{packet:?} without a reason code")]
    NoReasonCodes { packet: PacketType },
    /// Subscription Options reserved bits 6-7 set [MQTT-3.8.3-5].
    #[error("subscription options reserved bits set: 0x{options:02X}")]
    SubscriptionOptionsReserved { options: u8 },
    /// Maximum QoS 3 in Subscription Options (3.8.3.1).
    #[error("subscription with QoS 3")]
    InvalidSubscriptionQos,
    /// Retain Handling 3 (3.8.3.1).
    #[error("Retain Handling 3")]
    InvalidRetainHandling,
    /// No Local on a Shared Subscription [MQTT-3.8.3-4].
    #[error("No Local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// Something MQTT 3.1.1 cannot carry (properties, a reason code, subscription options
    /// beyond the QoS, AUTH): refused rather than dropped.
    #[error("MQTT 3.1.1 cannot carry {what}")]
    NotInV311 { what: &'static str },
    /// MQTT 3.1.1: a Password without a User Name (3.1.1's [MQTT-3.1.2-22]).
    #[error("MQTT 3.1.1 allows a password only with a user name")]
    PasswordWithoutUserName,
    /// MQTT 3.1.1: an empty Client Identifier with Clean Session 0 (3.1.1's
    /// [MQTT-3.1.3-7]).
    #[error("MQTT 3.1.1 allows an empty client identifier only with clean session")]
    EmptyClientIdWithoutCleanSession,
}

impl CodecError {
    /// The Reason Code a receiver answers this error with (4.13): 0x81 Malformed Packet for
    /// what cannot be parsed, 0x82 Protocol Error for what parses but is not allowed, and the
    /// specific codes where the standard names one.
    pub fn reason_code(&self) -> DisconnectReasonCode {
        use DisconnectReasonCode as R;
        match self {
            Self::PacketTooLarge { .. } => R::PacketTooLarge,
            Self::TopicAliasZero => R::TopicAliasInvalid,
            Self::InvalidTopicName(_) => R::TopicNameInvalid,
            Self::InvalidTopicFilter(_) => R::TopicFilterInvalid,
            Self::DuplicateProperty { .. }
            | Self::InvalidPropertyValue { .. }
            | Self::SessionPresentOnFailure
            | Self::InvalidReasonCode { .. }
            | Self::ZeroPacketIdentifier { .. }
            | Self::EmptyTopicWithoutAlias
            | Self::NoTopicFilters
            | Self::NoUnsubscribeFilters
            | Self::NoReasonCodes { .. }
            | Self::InvalidSubscriptionQos
            | Self::InvalidRetainHandling
            | Self::NoLocalOnSharedSubscription
            | Self::UnsupportedProtocolVersion { .. }
            | Self::NotInV311 { .. }
            | Self::PasswordWithoutUserName
            | Self::EmptyClientIdWithoutCleanSession => R::ProtocolError,
            Self::Truncated { .. }
            | Self::TrailingBytes { .. }
            | Self::ReservedPacketType
            | Self::InvalidFixedHeaderFlags { .. }
            | Self::InvalidPublishQos
            | Self::DupWithQos0
            | Self::VarIntTooLong
            | Self::VarIntNotMinimal
            | Self::VarIntOutOfRange { .. }
            | Self::InvalidUtf8 { .. }
            | Self::NullCharacter { .. }
            | Self::TooLong { .. }
            | Self::UnknownProperty { .. }
            | Self::PropertyNotAllowed { .. }
            | Self::InvalidProtocolName
            | Self::ConnectReservedFlag
            | Self::WillQosWithoutWill
            | Self::InvalidWillQos
            | Self::WillRetainWithoutWill
            | Self::ConnAckReservedFlags { .. }
            | Self::SubscriptionOptionsReserved { .. } => R::MalformedPacket,
        }
    }

    /// The normative statement (`MQTT-x.y.z-n`) or, where the standard states the rule without
    /// one, the section that does.
    pub fn spec_ref(&self) -> &'static str {
        match self {
            Self::Truncated { .. } | Self::TrailingBytes { .. } => "2.1.4",
            Self::ReservedPacketType => "2.1.2",
            Self::InvalidFixedHeaderFlags { .. } => "MQTT-2.1.3-1",
            Self::InvalidPublishQos => "MQTT-3.3.1-4",
            Self::DupWithQos0 => "MQTT-3.3.1-2",
            Self::VarIntTooLong | Self::VarIntOutOfRange { .. } => "1.5.5",
            Self::VarIntNotMinimal => "MQTT-1.5.5-1",
            Self::PacketTooLarge { .. } => "3.1.2.11.4",
            Self::InvalidUtf8 { .. } => "MQTT-1.5.4-1",
            Self::NullCharacter { .. } => "MQTT-1.5.4-2",
            Self::TooLong { .. } => "1.5.4",
            Self::UnknownProperty { .. }
            | Self::PropertyNotAllowed { .. }
            | Self::DuplicateProperty { .. } => "2.2.2.2",
            Self::InvalidPropertyValue { .. } => "3.1.2.11",
            Self::TopicAliasZero => "MQTT-3.3.2-8",
            Self::InvalidProtocolName => "MQTT-3.1.2-1",
            Self::UnsupportedProtocolVersion { .. } => "MQTT-3.1.2-2",
            Self::ConnectReservedFlag => "MQTT-3.1.2-3",
            Self::WillQosWithoutWill => "MQTT-3.1.2-11",
            Self::InvalidWillQos => "MQTT-3.1.2-12",
            Self::WillRetainWithoutWill => "MQTT-3.1.2-13",
            Self::ConnAckReservedFlags { .. } => "MQTT-3.2.2-1",
            Self::SessionPresentOnFailure => "MQTT-3.2.2-6",
            Self::InvalidReasonCode { .. } => "2.4",
            Self::ZeroPacketIdentifier { .. } => "MQTT-2.2.1-3",
            Self::EmptyTopicWithoutAlias => "3.3.2.1",
            Self::InvalidTopicName(e) | Self::InvalidTopicFilter(e) => e.spec_ref(),
            Self::NoTopicFilters => "MQTT-3.8.3-2",
            Self::NoUnsubscribeFilters => "MQTT-3.10.3-2",
            Self::NoReasonCodes { .. } => "3.9.3",
            Self::SubscriptionOptionsReserved { .. } => "MQTT-3.8.3-5",
            Self::InvalidSubscriptionQos | Self::InvalidRetainHandling => "3.8.3.1",
            Self::NoLocalOnSharedSubscription => "MQTT-3.8.3-4",
            // These three are rules of MQTT 3.1.1, numbered by that standard.
            Self::NotInV311 { .. } => "MQTT 3.1.1",
            Self::PasswordWithoutUserName => "MQTT 3.1.1: MQTT-3.1.2-22",
            Self::EmptyClientIdWithoutCleanSession => "MQTT 3.1.1: MQTT-3.1.3-7",
        }
    }
}
