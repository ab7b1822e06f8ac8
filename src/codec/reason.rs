//! Reason codes, one enum per packet, with the names and values of the MQTT 5.0 standard
//! (section 2.4 and each packet's "Reason Code" section).
//!
//! A packet's enum holds only the codes the standard allows in that packet, so decoding a
//! code that is not listed there is an error rather than a silently accepted number.
//! Values below 0x80 are success, 0x80 and above are failure (2.4).

use std::fmt;

macro_rules! reason_codes {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = $text] $variant = $value, )*
        }

        impl $name {
            /// Every code this packet allows, in ascending order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The code for a wire value, or `None` when this packet does not allow it.
            pub const fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $( $value => Some(Self::$variant), )*
                    _ => None,
                }
            }

            /// The wire value.
            pub const fn as_u8(self) -> u8 {
                self as u8
            }

            /// True for values below 0x80 (2.4).
            pub const fn is_success(self) -> bool {
                (self as u8) < 0x80
            }

            /// True for values 0x80 and above (2.4).
            pub const fn is_failure(self) -> bool {
                !self.is_success()
            }

            /// The name the standard gives this code.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} (0x{:02X})", self.as_str(), self.as_u8())
            }
        }

        impl From<$name> for u8 {
            fn from(code: $name) -> u8 {
                code.as_u8()
            }
        }

        impl TryFrom<u8> for $name {
            type Error = u8;
            fn try_from(value: u8) -> Result<Self, u8> {
                Self::from_u8(value).ok_or(value)
            }
        }
    };
}

reason_codes! {
    /// CONNACK Reason Code (3.2.2.2).
    ConnectReasonCode {
        Success = 0x00 => "Success",
        UnspecifiedError = 0x80 => "Unspecified error",
        MalformedPacket = 0x81 => "Malformed Packet",
        ProtocolError = 0x82 => "Protocol Error",
        ImplementationSpecificError = 0x83 => "Implementation specific error",
        UnsupportedProtocolVersion = 0x84 => "Unsupported Protocol Version",
        ClientIdentifierNotValid = 0x85 => "Client Identifier not valid",
        BadUserNameOrPassword = 0x86 => "Bad User Name or Password",
        NotAuthorized = 0x87 => "Not authorized",
        ServerUnavailable = 0x88 => "Server unavailable",
        ServerBusy = 0x89 => "Server busy",
        Banned = 0x8A => "Banned",
        BadAuthenticationMethod = 0x8C => "Bad authentication method",
        TopicNameInvalid = 0x90 => "Topic Name invalid",
        PacketTooLarge = 0x95 => "Packet too large",
        QuotaExceeded = 0x97 => "Quota exceeded",
        PayloadFormatInvalid = 0x99 => "Payload format invalid",
        RetainNotSupported = 0x9A => "Retain not supported",
        QosNotSupported = 0x9B => "QoS not supported",
        UseAnotherServer = 0x9C => "Use another server",
        ServerMoved = 0x9D => "Server moved",
        ConnectionRateExceeded = 0x9F => "Connection rate exceeded",
    }
}

reason_codes! {
    /// PUBACK Reason Code (3.4.2.1).
    PubAckReasonCode {
        Success = 0x00 => "Success",
        NoMatchingSubscribers = 0x10 => "No matching subscribers",
        UnspecifiedError = 0x80 => "Unspecified error",
        ImplementationSpecificError = 0x83 => "Implementation specific error",
        NotAuthorized = 0x87 => "Not authorized",
        TopicNameInvalid = 0x90 => "Topic Name invalid",
        PacketIdentifierInUse = 0x91 => "Packet identifier in use",
        QuotaExceeded = 0x97 => "Quota exceeded",
        PayloadFormatInvalid = 0x99 => "Payload format invalid",
    }
}

reason_codes! {
    /// PUBREC Reason Code (3.5.2.1).
    PubRecReasonCode {
        Success = 0x00 => "Success",
        NoMatchingSubscribers = 0x10 => "No matching subscribers",
        UnspecifiedError = 0x80 => "Unspecified error",
        ImplementationSpecificError = 0x83 => "Implementation specific error",
        NotAuthorized = 0x87 => "Not authorized",
        TopicNameInvalid = 0x90 => "Topic Name invalid",
        PacketIdentifierInUse = 0x91 => "Packet Identifier in use",
        QuotaExceeded = 0x97 => "Quota exceeded",
        PayloadFormatInvalid = 0x99 => "Payload format invalid",
    }
}

reason_codes! {
    /// PUBREL Reason Code (3.6.2.1).
    PubRelReasonCode {
        Success = 0x00 => "Success",
        PacketIdentifierNotFound = 0x92 => "Packet Identifier not found",
    }
}

reason_codes! {
    /// PUBCOMP Reason Code (3.7.2.1).
    PubCompReasonCode {
        Success = 0x00 => "Success",
        PacketIdentifierNotFound = 0x92 => "Packet Identifier not found",
    }
}

reason_codes! {
    /// SUBACK Reason Code (3.9.3).
    SubAckReasonCode {
        GrantedQos0 = 0x00 => "Granted QoS 0",
        GrantedQos1 = 0x01 => "Granted QoS 1",
        GrantedQos2 = 0x02 => "Granted QoS 2",
        UnspecifiedError = 0x80 => "Unspecified error",
        ImplementationSpecificError = 0x83 => "Implementation specific error",
        NotAuthorized = 0x87 => "Not authorized",
        TopicFilterInvalid = 0x8F => "Topic Filter invalid",
        PacketIdentifierInUse = 0x91 => "Packet Identifier in use",
        QuotaExceeded = 0x97 => "Quota exceeded",
        SharedSubscriptionsNotSupported = 0x9E => "Shared Subscriptions not supported",
        SubscriptionIdentifiersNotSupported = 0xA1 => "Subscription Identifiers not supported",
        WildcardSubscriptionsNotSupported = 0xA2 => "Wildcard Subscriptions not supported",
    }
}

reason_codes! {
    /// UNSUBACK Reason Code (3.11.3).
    UnsubAckReasonCode {
        Success = 0x00 => "Success",
        NoSubscriptionExisted = 0x11 => "No subscription existed",
        UnspecifiedError = 0x80 => "Unspecified error",
        ImplementationSpecificError = 0x83 => "Implementation specific error",
        NotAuthorized = 0x87 => "Not authorized",
        TopicFilterInvalid = 0x8F => "Topic Filter invalid",
        PacketIdentifierInUse = 0x91 => "Packet Identifier in use",
    }
}

reason_codes! {
    /// DISCONNECT Reason Code (3.14.2.1).
    DisconnectReasonCode {
        NormalDisconnection = 0x00 => "Normal disconnection",
        DisconnectWithWillMessage = 0x04 => "Disconnect with Will Message",
        UnspecifiedError = 0x80 => "Unspecified error",
        MalformedPacket = 0x81 => "Malformed Packet",
        ProtocolError = 0x82 => "Protocol Error",
        ImplementationSpecificError = 0x83 => "Implementation specific error",
        NotAuthorized = 0x87 => "Not authorized",
        ServerBusy = 0x89 => "Server busy",
        ServerShuttingDown = 0x8B => "Server shutting down",
        KeepAliveTimeout = 0x8D => "Keep Alive timeout",
        SessionTakenOver = 0x8E => "Session taken over",
        TopicFilterInvalid = 0x8F => "Topic Filter invalid",
        TopicNameInvalid = 0x90 => "Topic Name invalid",
        ReceiveMaximumExceeded = 0x93 => "Receive Maximum exceeded",
        TopicAliasInvalid = 0x94 => "Topic Alias invalid",
        PacketTooLarge = 0x95 => "Packet too large",
        MessageRateTooHigh = 0x96 => "Message rate too high",
        QuotaExceeded = 0x97 => "Quota exceeded",
        AdministrativeAction = 0x98 => "Administrative action",
        PayloadFormatInvalid = 0x99 => "Payload format invalid",
        RetainNotSupported = 0x9A => "Retain not supported",
        QosNotSupported = 0x9B => "QoS not supported",
        UseAnotherServer = 0x9C => "Use another server",
        ServerMoved = 0x9D => "Server moved",
        SharedSubscriptionsNotSupported = 0x9E => "Shared Subscriptions not supported",
        ConnectionRateExceeded = 0x9F => "Connection rate exceeded",
        MaximumConnectTime = 0xA0 => "Maximum connect time",
        SubscriptionIdentifiersNotSupported = 0xA1 => "Subscription Identifiers not supported",
        WildcardSubscriptionsNotSupported = 0xA2 => "Wildcard Subscriptions not supported",
    }
}

reason_codes! {
    /// AUTH Reason Code (3.15.2.1).
    AuthReasonCode {
        Success = 0x00 => "Success",
        ContinueAuthentication = 0x18 => "Continue authentication",
        ReAuthenticate = 0x19 => "Re-authenticate",
    }
}

/// The standard's name for any reason code value, whichever packet carries it (2.4), for logs
/// and for the C API. Values that share a number (0x00) get the generic name "Success".
pub const fn reason_code_text(value: u8) -> Option<&'static str> {
    Some(match value {
        0x00 => "Success",
        0x01 => "Granted QoS 1",
        0x02 => "Granted QoS 2",
        0x04 => "Disconnect with Will Message",
        0x10 => "No matching subscribers",
        0x11 => "No subscription existed",
        0x18 => "Continue authentication",
        0x19 => "Re-authenticate",
        0x80 => "Unspecified error",
        0x81 => "Malformed Packet",
        0x82 => "Protocol Error",
        0x83 => "Implementation specific error",
        0x84 => "Unsupported Protocol Version",
        0x85 => "Client Identifier not valid",
        0x86 => "Bad User Name or Password",
        0x87 => "Not authorized",
        0x88 => "Server unavailable",
        0x89 => "Server busy",
        0x8A => "Banned",
        0x8B => "Server shutting down",
        0x8C => "Bad authentication method",
        0x8D => "Keep Alive timeout",
        0x8E => "Session taken over",
        0x8F => "Topic Filter invalid",
        0x90 => "Topic Name invalid",
        0x91 => "Packet Identifier in use",
        0x92 => "Packet Identifier not found",
        0x93 => "Receive Maximum exceeded",
        0x94 => "Topic Alias invalid",
        0x95 => "Packet too large",
        0x96 => "Message rate too high",
        0x97 => "Quota exceeded",
        0x98 => "Administrative action",
        0x99 => "Payload format invalid",
        0x9A => "Retain not supported",
        0x9B => "QoS not supported",
        0x9C => "Use another server",
        0x9D => "Server moved",
        0x9E => "Shared Subscriptions not supported",
        0x9F => "Connection rate exceeded",
        0xA0 => "Maximum connect time",
        0xA1 => "Subscription Identifiers not supported",
        0xA2 => "Wildcard Subscriptions not supported",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_names_match_the_generic_table() {
        fn check<T: Copy + Into<u8> + TryFrom<u8, Error = u8> + PartialEq + fmt::Debug>(
            all: &[T],
            name: impl Fn(T) -> &'static str,
        ) {
            for &code in all {
                let v: u8 = code.into();
                assert_eq!(T::try_from(v), Ok(code));
                let generic = reason_code_text(v).expect("listed in 2.4");
                // 0x00 has several names (Success, Normal disconnection, Granted QoS 0).
                if v != 0 {
                    assert!(
                        generic.eq_ignore_ascii_case(name(code)),
                        "0x{v:02X}: {generic} vs {}",
                        name(code)
                    );
                }
            }
        }
        check(ConnectReasonCode::ALL, ConnectReasonCode::as_str);
        check(PubAckReasonCode::ALL, PubAckReasonCode::as_str);
        check(PubRecReasonCode::ALL, PubRecReasonCode::as_str);
        check(PubRelReasonCode::ALL, PubRelReasonCode::as_str);
        check(PubCompReasonCode::ALL, PubCompReasonCode::as_str);
        check(SubAckReasonCode::ALL, SubAckReasonCode::as_str);
        check(UnsubAckReasonCode::ALL, UnsubAckReasonCode::as_str);
        check(DisconnectReasonCode::ALL, DisconnectReasonCode::as_str);
        check(AuthReasonCode::ALL, AuthReasonCode::as_str);
    }

    #[test]
    fn counts_match_the_standard_tables() {
        assert_eq!(ConnectReasonCode::ALL.len(), 22);
        assert_eq!(PubAckReasonCode::ALL.len(), 9);
        assert_eq!(PubRecReasonCode::ALL.len(), 9);
        assert_eq!(PubRelReasonCode::ALL.len(), 2);
        assert_eq!(PubCompReasonCode::ALL.len(), 2);
        assert_eq!(SubAckReasonCode::ALL.len(), 12);
        assert_eq!(UnsubAckReasonCode::ALL.len(), 7);
        assert_eq!(DisconnectReasonCode::ALL.len(), 29);
        assert_eq!(AuthReasonCode::ALL.len(), 3);
        assert_eq!((0..=255u8).filter_map(reason_code_text).count(), 43);
    }

    #[test]
    fn success_and_failure_split_at_0x80() {
        assert!(SubAckReasonCode::GrantedQos2.is_success());
        assert!(PubAckReasonCode::NoMatchingSubscribers.is_success());
        assert!(DisconnectReasonCode::DisconnectWithWillMessage.is_success());
        assert!(ConnectReasonCode::UnspecifiedError.is_failure());
        assert!(PubRelReasonCode::PacketIdentifierNotFound.is_failure());
        assert!(!AuthReasonCode::ContinueAuthentication.is_failure());
    }

    #[test]
    fn codes_not_allowed_in_a_packet_are_refused() {
        assert_eq!(PubRelReasonCode::from_u8(0x80), None);
        assert_eq!(AuthReasonCode::from_u8(0x87), None);
        assert_eq!(ConnectReasonCode::from_u8(0x04), None);
        assert_eq!(DisconnectReasonCode::try_from(0x01), Err(0x01));
        assert_eq!(reason_code_text(0x03), None);
    }

    #[test]
    fn display_shows_name_and_value() {
        assert_eq!(
            DisconnectReasonCode::TopicAliasInvalid.to_string(),
            "Topic Alias invalid (0x94)"
        );
    }
}
