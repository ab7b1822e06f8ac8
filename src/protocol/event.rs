//! What the session tells the application: connection changes, messages and completions.

use crate::codec::{
    ByteString, Bytes, ConnAck, ConnectReasonCode, DisconnectReasonCode, Properties, Property,
    PropertyId, ProtocolVersion, QoS, SubAckReasonCode, UnsubAckReasonCode,
};

use super::error::{AckReason, RequestError};

/// Identifies a request (publish, subscribe, unsubscribe) in its completion event.
/// Unique per session, increasing.
pub type RequestId = u64;

/// Identifies a received QoS 1 or 2 message for [`crate::protocol::Session::acknowledge`].
/// Unique in the process (never reused, whichever session made it), so a token given to
/// another session, or one of a message the session has forgotten, is recognised as
/// unknown and ignored rather than acknowledging some other message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckToken(pub(crate) u64);

impl AckToken {
    /// A token never handed out before in this process.
    pub(crate) fn fresh() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

/// The server's CONNACK, with every property surfaced (3.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAckInfo {
    /// The MQTT version this connection speaks (3.1.1 after a fallback, or when asked).
    /// A 3.1.1 CONNACK has no properties: the fields below are then the standard's
    /// defaults, except that 3.1.1 has no Subscription Identifiers.
    pub protocol_version: ProtocolVersion,
    pub session_present: bool,
    /// The Client Identifier the server assigned, when ours was empty.
    pub assigned_client_id: Option<ByteString>,
    /// The keep alive in force: the server's when it sent one [MQTT-3.2.2-21], else ours.
    pub keep_alive: u16,
    pub server_keep_alive: Option<u16>,
    pub session_expiry_interval: Option<u32>,
    /// How many QoS 1 and 2 PUBLISHes may be unacknowledged at the server (default 65,535).
    pub receive_maximum: u16,
    pub maximum_qos: QoS,
    pub retain_available: bool,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: u16,
    pub wildcard_subscription_available: bool,
    pub subscription_identifiers_available: bool,
    pub shared_subscription_available: bool,
    pub reason_string: Option<ByteString>,
    pub server_reference: Option<ByteString>,
    pub response_information: Option<ByteString>,
    pub authentication_method: Option<ByteString>,
    pub authentication_data: Option<Bytes>,
    /// All CONNACK properties as received, user properties included.
    pub properties: Properties,
    /// The server this connection was made to (`mqtt://host:port`), set by the runtime:
    /// one of the client's servers, or a followed redirection's target. `None` from the
    /// session alone.
    pub server: Option<String>,
}

impl ConnAckInfo {
    /// Reads every CONNACK property, with the standard's defaults for those absent.
    pub(crate) fn new(c: ConnAck, our_keep_alive: u16) -> Self {
        let props = &c.properties;
        let text = |id| props.get_str(id).cloned();
        let mut info = Self {
            protocol_version: ProtocolVersion::V5,
            session_present: c.session_present,
            assigned_client_id: text(PropertyId::AssignedClientIdentifier),
            keep_alive: our_keep_alive,
            server_keep_alive: None,
            session_expiry_interval: None,
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            wildcard_subscription_available: true,
            subscription_identifiers_available: true,
            shared_subscription_available: true,
            reason_string: text(PropertyId::ReasonString),
            server_reference: text(PropertyId::ServerReference),
            response_information: text(PropertyId::ResponseInformation),
            authentication_method: text(PropertyId::AuthenticationMethod),
            authentication_data: props.get_binary(PropertyId::AuthenticationData).cloned(),
            properties: Properties::new(),
            server: None,
        };
        for p in props {
            match *p {
                Property::ServerKeepAlive(v) => {
                    info.server_keep_alive = Some(v);
                    info.keep_alive = v;
                }
                Property::SessionExpiryInterval(v) => info.session_expiry_interval = Some(v),
                Property::ReceiveMaximum(v) => info.receive_maximum = v,
                Property::MaximumQos(q) => info.maximum_qos = q,
                Property::RetainAvailable(v) => info.retain_available = v,
                Property::MaximumPacketSize(v) => info.maximum_packet_size = Some(v),
                Property::TopicAliasMaximum(v) => info.topic_alias_maximum = v,
                Property::WildcardSubscriptionAvailable(v) => {
                    info.wildcard_subscription_available = v;
                }
                Property::SubscriptionIdentifierAvailable(v) => {
                    info.subscription_identifiers_available = v;
                }
                Property::SharedSubscriptionAvailable(v) => info.shared_subscription_available = v,
                _ => {}
            }
        }
        info.properties = c.properties;
        info
    }
}

/// A refused connection: CONNACK with a failure reason code (3.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRefusal {
    pub reason_code: ConnectReasonCode,
    pub reason_string: Option<ByteString>,
    pub server_reference: Option<ByteString>,
    pub properties: Properties,
}

impl ConnectRefusal {
    /// Whether another attempt with the same settings cannot succeed (3.2.2.2: a protocol
    /// version, client identifier, credentials, authorisation, ban or authentication method
    /// the server refuses), so reconnecting would only repeat the refusal. The runtime stops
    /// reconnecting after one.
    pub fn is_permanent(&self) -> bool {
        use ConnectReasonCode as C;
        matches!(
            self.reason_code,
            C::UnsupportedProtocolVersion
                | C::ClientIdentifierNotValid
                | C::BadUserNameOrPassword
                | C::NotAuthorized
                | C::Banned
                | C::BadAuthenticationMethod
        )
    }
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate chains to no trusted CA.
    UnknownIssuer,
    /// The server's certificate has expired.
    Expired,
    /// The server's certificate is not valid yet.
    NotYetValid,
    /// The server's certificate does not carry the name we connected to.
    NameMismatch,
    /// The server's certificate matches none of the pins.
    PinMismatch,
    /// Another defect of the server's certificate (revoked, wrong purpose, bad signature).
    BadCertificate,
    /// The server ended the handshake with an alert (our client certificate refused or
    /// missing, no common version or ALPN protocol).
    RefusedByServer,
    /// Anything else (a malformed record, a decryption failure).
    Other,
}

impl TlsFailure {
    /// Whether another attempt with the same settings cannot succeed, so reconnecting would
    /// only hammer the server: every certificate and configuration failure. Only a garbled
    /// exchange (`Other`) may be the network's fault.
    pub fn is_permanent(self) -> bool {
        !matches!(self, Self::Other)
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectCause {
    /// The server refused the connection in CONNACK.
    Refused(ConnectRefusal),
    /// The server sent DISCONNECT (3.14).
    Server {
        reason_code: DisconnectReasonCode,
        reason_string: Option<ByteString>,
        server_reference: Option<ByteString>,
        properties: Properties,
    },
    /// The server broke the protocol; midge sent DISCONNECT with this reason code (under
    /// MQTT 3.1.1, which has none, it closed the connection [MQTT-4.8.0-1]).
    ProtocolError {
        reason_code: DisconnectReasonCode,
        detail: String,
    },
    /// The server's first bytes cannot begin a CONNACK (nor a DISCONNECT, nor an AUTH during
    /// enhanced authentication): most likely the server of another protocol (NATS, `MySQL`,
    /// HTTP) at that address. Holds the first bytes received (at most 32). Nothing is sent back.
    NotMqtt { received: Bytes },
    /// Nothing arrived for 1.5 times the keep alive.
    KeepAliveTimeout,
    /// No CONNACK within the connect timeout.
    ConnectTimeout,
    /// The authenticator rejected the server's data.
    Authentication(String),
    /// The connection failed or was closed underneath (set by the runtime).
    Transport { detail: String, errno: Option<i32> },
    /// The TLS handshake failed (set by the runtime): the kind, and why in words a user can
    /// act on (which name was expected, which CA is missing).
    Tls { kind: TlsFailure, detail: String },
    /// The application disconnected with this reason code.
    Client { reason_code: DisconnectReasonCode },
}

/// The most of a server's text (a Reason String) that goes into detail text and log lines:
/// a server may send up to a packet's size of it. The accessors keep it whole.
pub const MAX_DETAIL_TEXT: usize = 256;

/// `text` cut to [`MAX_DETAIL_TEXT`] bytes at a character boundary, with a marker that says
/// how long it was.
pub fn bounded_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_DETAIL_TEXT {
        return text.into();
    }
    let mut end = MAX_DETAIL_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\u{2026} ({} bytes)", &text[..end], text.len()).into()
}

impl std::fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra = |s: &Option<ByteString>| {
            s.as_ref()
                .map(|s| format!(": {}", bounded_text(s)))
                .unwrap_or_default()
        };
        // 4.11: where the server sends the client (followed or not).
        let reference = |s: &Option<ByteString>| {
            s.as_ref()
                .map(|s| format!(" (server reference: {})", bounded_text(s)))
                .unwrap_or_default()
        };
        match self {
            Self::Refused(r) => write!(
                f,
                "connection refused: {} (0x{:02X}){}{}",
                r.reason_code.as_str(),
                r.reason_code.as_u8(),
                extra(&r.reason_string),
                reference(&r.server_reference)
            ),
            Self::Server {
                reason_code,
                reason_string,
                server_reference,
                ..
            } => write!(
                f,
                "the server disconnected: {} (0x{:02X}){}{}",
                reason_code.as_str(),
                reason_code.as_u8(),
                extra(reason_string),
                reference(server_reference)
            ),
            Self::ProtocolError {
                reason_code,
                detail,
            } => write!(
                f,
                "the server broke the protocol ({}, 0x{:02X}): {detail}",
                reason_code.as_str(),
                reason_code.as_u8()
            ),
            Self::NotMqtt { received } => write!(
                f,
                "expected CONNACK, got 0x{:02X} (\"{}\") \u{2014} is this an MQTT server?",
                received.first().copied().unwrap_or(0),
                received.escape_ascii()
            ),
            Self::KeepAliveTimeout => f.write_str("keep alive timed out: nothing from the server"),
            Self::ConnectTimeout => f.write_str("no CONNACK within the connect timeout"),
            Self::Authentication(e) => write!(f, "authentication failed: {}", bounded_text(e)),
            Self::Transport { detail, .. } => write!(f, "connection failed: {detail}"),
            Self::Tls { detail, .. } => write!(f, "TLS failed: {detail}"),
            Self::Client { reason_code } => write!(
                f,
                "disconnected by the application: {} (0x{:02X})",
                reason_code.as_str(),
                reason_code.as_u8()
            ),
        }
    }
}

/// A received application message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic, with any Topic Alias resolved.
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: u16,
    /// The PUBLISH properties without the Topic Alias; Subscription Identifiers included.
    pub properties: Properties,
    /// For QoS 1 and 2: pass to `acknowledge` once the message is safe with the application.
    pub ack: Option<AckToken>,
}

/// The acknowledgement of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAck {
    /// 0 for QoS 0.
    pub packet_id: u16,
    pub reason: AckReason,
    pub properties: Properties,
}

/// A SUBACK: one reason code per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeAck {
    pub packet_id: u16,
    pub reason_codes: Vec<SubAckReasonCode>,
    pub properties: Properties,
}

/// An UNSUBACK: one reason code per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeAck {
    pub packet_id: u16,
    pub reason_codes: Vec<UnsubAckReasonCode>,
    pub properties: Properties,
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK with success: the connection is up.
    Connected(Box<ConnAckInfo>),
    /// The connection ended (or never came up), with the cause.
    Disconnected(DisconnectCause),
    /// The server did not keep our session [MQTT-3.2.2-5]: unacknowledged QoS 1 publishes are
    /// sent again as new messages, QoS 2 ones the server may already hold fail with
    /// `SessionLost`, and subscriptions are renewed when `resubscribe` is on.
    SessionLost {
        resubscribed: usize,
    },
    Message(Message),
    PublishComplete {
        id: RequestId,
        result: Result<PublishAck, RequestError>,
    },
    SubscribeComplete {
        id: RequestId,
        result: Result<SubscribeAck, RequestError>,
    },
    UnsubscribeComplete {
        id: RequestId,
        result: Result<UnsubscribeAck, RequestError>,
    },
    /// The server accepted a re-authentication (AUTH 0x00 after our AUTH 0x19).
    Reauthenticated,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(reason_code: ConnectReasonCode) -> ConnectRefusal {
        ConnectRefusal {
            reason_code,
            reason_string: None,
            server_reference: None,
            properties: Properties::new(),
        }
    }

    /// Refusals another attempt cannot fix end reconnection; a busy or unavailable server,
    /// or a redirect, does not (3.2.2.2).
    #[test]
    fn which_refusals_are_permanent() {
        use ConnectReasonCode as C;
        for c in [
            C::BadUserNameOrPassword,
            C::NotAuthorized,
            C::Banned,
            C::ClientIdentifierNotValid,
        ] {
            assert!(refusal(c).is_permanent(), "{c:?}");
        }
        for c in [
            C::ServerBusy,
            C::ServerUnavailable,
            C::UseAnotherServer,
            C::QuotaExceeded,
        ] {
            assert!(!refusal(c).is_permanent(), "{c:?}");
        }
    }
}
