//! Which MQTT version a session speaks, and what MQTT 3.1.1 cannot carry.
//!
//! The option ([`VersionChoice`]) is 5.0 (the default), 3.1.1, or 5.0 falling back to 3.1.1
//! when the server refuses 5.0. The session applies the rules of the version in use
//! (`Session::protocol_version`); this file holds the checks that refuse, with
//! [`RequestError::NotInV311`], what a 3.1.1 connection would otherwise drop: properties,
//! subscription options beyond the QoS, reason codes, enhanced authentication, topic
//! aliases, and a Session Expiry Interval that Clean Session cannot express. Normative
//! statement numbers here are those of the OASIS MQTT Version 3.1.1 standard.

use crate::codec::{
    DisconnectReasonCode, Properties, ProtocolVersion, Subscription, SubscriptionOptions, Will,
};

use super::config::Options;
use super::error::RequestError;
use super::session::PublishRequest;

/// The protocol version a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VersionChoice {
    /// MQTT 5.0 only.
    #[default]
    V5,
    /// MQTT 3.1.1 only (Protocol Level 4).
    V311,
    /// MQTT 5.0; when the server refuses it before the first successful connection (a
    /// CONNACK 0x84 Unsupported Protocol Version, a 3.1.1 CONNACK with return code 0x01, or
    /// the connection closed with no answer to the 5.0 CONNECT), MQTT 3.1.1 at once; once a
    /// 3.1.1 connection succeeded, 3.1.1 for every reconnection of the client (if that
    /// 3.1.1 attempt fails too, the next attempt is 5.0 again). Once a 5.0 connection
    /// succeeded, 5.0 is kept.
    V5OrV311,
}

impl VersionChoice {
    /// The version of the first CONNECT.
    pub const fn first(self) -> ProtocolVersion {
        match self {
            Self::V311 => ProtocolVersion::V311,
            Self::V5 | Self::V5OrV311 => ProtocolVersion::V5,
        }
    }

    /// Whether a connection may come to speak 3.1.1.
    pub const fn may_use_v311(self) -> bool {
        !matches!(self, Self::V5)
    }
}

/// The Session Expiry Interval that means "never expires" (3.1.2.11.2 of 5.0), which is
/// what 3.1.1's Clean Session 0 gives [MQTT-3.1.2-4]. (Private: cbindgen would put a
/// public constant into midge.h.)
const SESSION_NEVER_EXPIRES: u32 = u32::MAX;

fn refuse(what: &'static str) -> RequestError {
    RequestError::NotInV311(what)
}

impl Options {
    /// Checks that a 3.1.1 CONNECT can carry these options, when the client may speak 3.1.1
    /// (`protocol_version` `V311` or `V5OrV311`); with `V5` nothing is checked. Under 3.1.1 the
    /// Clean Session flag is the whole session model: Clean Session 1 ends the session with
    /// the connection [MQTT-3.1.2-6], Clean Session 0 keeps it with no expiry
    /// [MQTT-3.1.2-4]. So the Session Expiry Interval must be 0 or
    /// `u32::MAX` (never expires), and the latter needs `clean_start` false. What only asks
    /// the server for limits (Receive Maximum, Topic Alias Maximum, Maximum Packet Size,
    /// Request Problem Information) has no 3.1.1 form and is not sent; see
    /// docs/feature-support.md.
    pub fn check_version(&self) -> Result<(), RequestError> {
        if !self.protocol_version.may_use_v311() {
            return Ok(());
        }
        if !self.user_properties.is_empty() {
            return Err(refuse("CONNECT User Properties"));
        }
        if self.authenticator.is_some() {
            return Err(refuse("enhanced authentication (AUTH)"));
        }
        if self.request_response_information {
            return Err(refuse("Request Response Information"));
        }
        match self.session_expiry_interval {
            0 => {}
            SESSION_NEVER_EXPIRES if !self.clean_start => {}
            SESSION_NEVER_EXPIRES => {
                return Err(refuse(
                    "a new session that outlives its connection (Clean Start with a Session \
                     Expiry Interval): Clean Session 1 ends the session with the connection \
                     [MQTT-3.1.2-6]; use clean_start false",
                ));
            }
            _ => {
                return Err(refuse(
                    "a Session Expiry Interval other than 0 or 0xFFFFFFFF (Clean Session 0)",
                ));
            }
        }
        // [MQTT-3.1.3-7] a zero-byte Client Identifier needs Clean Session 1 on every
        // connection.
        if self.client_id.is_empty() && (!self.clean_start || self.session_expiry_interval != 0) {
            return Err(refuse(
                "an empty Client Identifier with Clean Session 0 [MQTT-3.1.3-7]",
            ));
        }
        check_credentials_v311(self.username.is_some(), self.password.is_some())?;
        if let Some(w) = &self.will {
            check_will_v311(w)?;
        }
        Ok(())
    }
}

/// [MQTT-3.1.2-22] a password needs a user name in 3.1.1.
pub(crate) fn check_credentials_v311(username: bool, password: bool) -> Result<(), RequestError> {
    if password && !username {
        return Err(refuse("a password without a user name [MQTT-3.1.2-22]"));
    }
    Ok(())
}

/// A 3.1.1 Will is a topic, a message, a QoS and a retain flag: no properties.
pub(crate) fn check_will_v311(will: &Will) -> Result<(), RequestError> {
    if !will.properties.is_empty() {
        return Err(refuse("Will properties"));
    }
    Ok(())
}

/// A 3.1.1 PUBLISH has no properties, so no Topic Alias either.
pub(crate) fn check_publish_v311(r: &PublishRequest) -> Result<(), RequestError> {
    if r.topic_alias.is_some() {
        return Err(refuse("a Topic Alias"));
    }
    if !r.properties.is_empty() {
        return Err(refuse("PUBLISH properties"));
    }
    Ok(())
}

/// A 3.1.1 SUBSCRIBE has a QoS per filter and nothing else [MQTT-3.8.3-4].
pub(crate) fn check_subscribe_v311(
    subscriptions: &[Subscription],
    properties: &Properties,
) -> Result<(), RequestError> {
    if !properties.is_empty() {
        return Err(refuse(
            "SUBSCRIBE properties (Subscription Identifier, User Properties)",
        ));
    }
    for s in subscriptions {
        let plain = SubscriptionOptions {
            qos: s.options.qos,
            ..SubscriptionOptions::default()
        };
        if s.options != plain {
            return Err(refuse(
                "subscription options other than the QoS (No Local, Retain As Published, \
                 Retain Handling)",
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_unsubscribe_v311(properties: &Properties) -> Result<(), RequestError> {
    if !properties.is_empty() {
        return Err(refuse("UNSUBSCRIBE properties"));
    }
    Ok(())
}

/// A 3.1.1 DISCONNECT is two bytes: no reason code (so no 0x04 "with Will"), no properties.
pub(crate) fn check_disconnect_v311(
    reason_code: DisconnectReasonCode,
    properties: &Properties,
) -> Result<(), RequestError> {
    if reason_code != DisconnectReasonCode::NormalDisconnection {
        return Err(refuse("a DISCONNECT reason code"));
    }
    if !properties.is_empty() {
        return Err(refuse("DISCONNECT properties"));
    }
    Ok(())
}
