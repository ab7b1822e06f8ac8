//! Why a request was refused or did not complete.

use crate::codec::{
    CodecError, PubAckReasonCode, PubCompReasonCode, PubRecReasonCode, QoS, TopicError,
};

/// A request (publish, subscribe, unsubscribe, disconnect) refused before anything was sent,
/// or ended without the server's acknowledgement. Nothing is sent for a refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("invalid topic name: {0}")]
    InvalidTopic(TopicError),
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    #[error("no topic filters given")]
    NoTopicFilters,
    #[error("invalid properties: {0}")]
    InvalidProperties(CodecError),
    /// The server's Maximum QoS is lower [MQTT-3.2.2-11].
    #[error("QoS {requested:?} is above the server's maximum {maximum:?}")]
    QosNotSupported { requested: QoS, maximum: QoS },
    /// The server does not support retained messages [MQTT-3.2.2-14].
    #[error("the server does not support retained messages")]
    RetainNotSupported,
    /// The packet would exceed the server's Maximum Packet Size [MQTT-3.1.2-24].
    #[error("packet of {size} bytes exceeds the server's maximum packet size {max}")]
    PacketTooLarge { size: usize, max: u32 },
    /// The server does not support this kind of subscription (CONNACK said so).
    #[error("the server does not support {0}")]
    NotSupported(&'static str),
    /// The offline queue is at its bound; the publish was not queued.
    #[error("offline queue full")]
    QueueFull,
    /// The message expired (Message Expiry Interval) while it waited to be sent.
    #[error("message expired before it could be sent")]
    Expired,
    /// The server did not keep the session, so the exchange cannot complete [MQTT-3.2.2-5].
    #[error("the session was lost before the request completed")]
    SessionLost,
    /// The client was closed first.
    #[error("client closed")]
    Closed,
    /// Not connected, for requests that only make sense on a live connection.
    #[error("not connected")]
    NotConnected,
    /// All 65,535 Packet Identifiers are in flight.
    #[error("no free packet identifier")]
    NoPacketIdentifier,
    /// A Topic Alias above the server's Topic Alias Maximum (0 when it allows none)
    /// [MQTT-3.3.2-9].
    #[error(
        "Topic Alias {alias} is above the server's Topic Alias Maximum {maximum} [MQTT-3.3.2-9]"
    )]
    TopicAliasInvalid { alias: u16, maximum: u16 },
    /// A publish by Topic Alias alone (empty topic) names an alias no earlier publish of
    /// this client bound to a topic.
    #[error(
        "Topic Alias {0} was never bound to a topic: publish once with the topic and the alias"
    )]
    UnknownTopicAlias(u16),
    /// The connection speaks MQTT 3.1.1 (or may come to), which cannot carry this: nothing
    /// is sent rather than the request without it.
    #[error("MQTT 3.1.1 cannot carry {0}")]
    NotInV311(&'static str),
    /// The server answered with a failure reason code.
    #[error("refused by the server: {0}")]
    Refused(AckReason),
}

/// The acknowledgement that ended a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckReason {
    /// QoS 0: written to the connection.
    Written,
    PubAck(PubAckReasonCode),
    PubRec(PubRecReasonCode),
    PubComp(PubCompReasonCode),
}

impl AckReason {
    /// The wire value of the reason code (0 for `Written`).
    pub fn code(self) -> u8 {
        match self {
            Self::Written => 0,
            Self::PubAck(c) => c.as_u8(),
            Self::PubRec(c) => c.as_u8(),
            Self::PubComp(c) => c.as_u8(),
        }
    }

    pub fn is_success(self) -> bool {
        self.code() < 0x80
    }
}

impl std::fmt::Display for AckReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Written => f.write_str("written"),
            Self::PubAck(c) => write!(f, "PUBACK {c}"),
            Self::PubRec(c) => write!(f, "PUBREC {c}"),
            Self::PubComp(c) => write!(f, "PUBCOMP {c}"),
        }
    }
}
