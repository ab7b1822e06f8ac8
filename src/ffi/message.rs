//! Received messages, CONNACK information and disconnect causes: read-only objects with
//! accessors. Strings come out NUL-terminated (made on first use, so a message costs no
//! copy unless asked).

use std::ffi::{CString, c_char, c_int};
use std::sync::{Arc, OnceLock};

use super::handle;
use super::ptr::{borrowed, cstring, write_out};
use super::result::{FfiError, guard, guard_value, midge_result};
use crate::codec::{ByteString, Properties, Property, PropertyId};
use crate::protocol::{ConnAckInfo, DisconnectCause, Message};

fn opt_ptr(s: Option<&CString>) -> *const c_char {
    s.map_or(std::ptr::null(), |c| c.as_ptr())
}

/// The string parts of a property list, made NUL-terminated: per property, the string (or
/// for a User Property its name and value).
#[derive(Debug, Default)]
struct PropertyStrings {
    /// Index in the property list -> (first, second) string.
    strings: Vec<(Option<CString>, Option<CString>)>,
}

impl PropertyStrings {
    fn new(props: &Properties) -> Self {
        let strings = props
            .iter()
            .map(|p| match p {
                Property::UserProperty(k, v) => (Some(cstring(k)), Some(cstring(v))),
                Property::ContentType(s)
                | Property::ResponseTopic(s)
                | Property::AssignedClientIdentifier(s)
                | Property::AuthenticationMethod(s)
                | Property::ResponseInformation(s)
                | Property::ServerReference(s)
                | Property::ReasonString(s) => (Some(cstring(s)), None),
                _ => (None, None),
            })
            .collect();
        Self { strings }
    }
}

/// A read-only view of a property list with NUL-terminated strings.
#[derive(Debug)]
pub(crate) struct PropertyView {
    props: Properties,
    strings: OnceLock<PropertyStrings>,
}

impl PropertyView {
    pub(crate) fn new(props: Properties) -> Self {
        Self {
            props,
            strings: OnceLock::new(),
        }
    }

    fn strings(&self) -> &PropertyStrings {
        self.strings
            .get_or_init(|| PropertyStrings::new(&self.props))
    }

    /// The first string property `id`, NUL-terminated, or NULL.
    pub(crate) fn string(&self, id: PropertyId) -> *const c_char {
        self.props
            .iter()
            .position(|p| p.id() == id)
            .and_then(|i| self.strings().strings[i].0.as_ref())
            .map_or(std::ptr::null(), |c| c.as_ptr())
    }

    pub(crate) fn user_count(&self) -> usize {
        self.props.user_properties().count()
    }

    fn user_at(&self, index: usize) -> Option<(*const c_char, *const c_char)> {
        let i = self
            .props
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p, Property::UserProperty(..)))
            .nth(index)?
            .0;
        let (k, v) = &self.strings().strings[i];
        Some((opt_ptr(k.as_ref()), opt_ptr(v.as_ref())))
    }

    fn int(&self, id: PropertyId) -> Option<u32> {
        self.props.get_int(id)
    }
}

/// Writes the `index`-th User Property of `view` to the out-parameters.
pub(crate) fn user_property(
    view: Option<&PropertyView>,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    guard(|| {
        let view = view.ok_or_else(|| FfiError::null("object"))?;
        let (k, v) = view
            .user_at(index)
            .ok_or_else(|| FfiError::NotFound(format!("no user property {index}")))?;
        if name.is_null() || value.is_null() {
            return Err(FfiError::null("name/value"));
        }
        write_out(name, k, "name")?;
        write_out(value, v, "value")
    })
}

// ---------------------------------------------------------------------------- messages

/// A received message. In a callback it is borrowed for the call; `midge_message_clone`
/// keeps it (a reference, not a copy of the payload) until `midge_message_free`.
///
/// Methods: `midge_message_topic`, `midge_message_payload`, `midge_message_qos`,
/// `midge_message_retain`, `midge_message_dup`, `midge_message_packet_id`,
/// `midge_message_payload_format`, `midge_message_message_expiry`,
/// `midge_message_content_type`, `midge_message_response_topic`,
/// `midge_message_correlation_data`, `midge_message_user_property_count`,
/// `midge_message_user_property`, `midge_message_subscription_identifier_count`,
/// `midge_message_subscription_identifier`, `midge_message_clone`, `midge_message_free`.
#[derive(Debug)]
pub struct midge_message {
    pub(crate) message: Message,
    topic: OnceLock<CString>,
    view: PropertyView,
}

impl midge_message {
    pub(crate) fn new(message: Message) -> Arc<Self> {
        Arc::new(Self::borrowed(message))
    }

    /// A message to lend to a callback for the duration of the call (no allocation of its
    /// own: `midge_message_clone` makes a new object).
    pub(crate) fn borrowed(mut message: Message) -> Self {
        let props = std::mem::take(&mut message.properties);
        Self {
            message,
            topic: OnceLock::new(),
            view: PropertyView::new(props),
        }
    }
}

fn msg<'a>(m: *const midge_message) -> Option<&'a midge_message> {
    borrowed(m)
}

/// The topic (aliases resolved), NUL-terminated; valid as long as the message. NULL for a
/// NULL message.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_topic(message: *const midge_message) -> *const c_char {
    guard_value(std::ptr::null(), || {
        msg(message).map_or(std::ptr::null(), |m| {
            m.topic.get_or_init(|| cstring(&m.message.topic)).as_ptr()
        })
    })
}

/// The payload and its length (written to `len`, which may be NULL). The pointer is valid
/// as long as the message; it may be NULL for an empty payload.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_payload(
    message: *const midge_message,
    len: *mut usize,
) -> *const u8 {
    guard_value(std::ptr::null(), || {
        let Some(m) = msg(message) else {
            return std::ptr::null();
        };
        super::ptr::write_opt(len, m.message.payload.len());
        m.message.payload.as_ptr()
    })
}

/// The QoS the message was delivered with (0, 1, 2), or -1 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_qos(message: *const midge_message) -> c_int {
    guard_value(-1, || msg(message).map_or(-1, |m| m.message.qos as c_int))
}

/// The RETAIN flag: the message was a retained one (or, with retain-as-published, was
/// published retained).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_retain(message: *const midge_message) -> bool {
    guard_value(false, || msg(message).is_some_and(|m| m.message.retain))
}

/// The DUP flag.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_dup(message: *const midge_message) -> bool {
    guard_value(false, || msg(message).is_some_and(|m| m.message.dup))
}

/// The packet identifier (0 for QoS 0).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_packet_id(message: *const midge_message) -> u16 {
    guard_value(0, || msg(message).map_or(0, |m| m.message.packet_id))
}

/// The Payload Format Indicator: 0 unspecified bytes, 1 UTF-8, -1 absent (or NULL).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_payload_format(message: *const midge_message) -> c_int {
    guard_value(-1, || {
        msg(message)
            .and_then(|m| m.view.int(PropertyId::PayloadFormatIndicator))
            .map_or(-1, |v| c_int::from(v == 1))
    })
}

/// The Message Expiry Interval left, in seconds, to `seconds`; `MIDGE_RESULT_NOT_FOUND`
/// when the message has none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_message_expiry(
    message: *const midge_message,
    seconds: *mut u32,
) -> midge_result {
    guard(|| {
        let m = msg(message).ok_or_else(|| FfiError::null("message"))?;
        let v = m
            .view
            .int(PropertyId::MessageExpiryInterval)
            .ok_or_else(|| FfiError::NotFound("no message expiry interval".into()))?;
        write_out(seconds, v, "seconds")
    })
}

/// The Content Type, or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_content_type(message: *const midge_message) -> *const c_char {
    guard_value(std::ptr::null(), || {
        msg(message).map_or(std::ptr::null(), |m| m.view.string(PropertyId::ContentType))
    })
}

/// The Response Topic (request/response), or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_response_topic(message: *const midge_message) -> *const c_char {
    guard_value(std::ptr::null(), || {
        msg(message).map_or(std::ptr::null(), |m| {
            m.view.string(PropertyId::ResponseTopic)
        })
    })
}

/// The Correlation Data and its length (to `len`, may be NULL), or NULL when absent.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_correlation_data(
    message: *const midge_message,
    len: *mut usize,
) -> *const u8 {
    guard_value(std::ptr::null(), || {
        let data = msg(message).and_then(|m| m.view.props.get_binary(PropertyId::CorrelationData));
        match data {
            Some(d) => {
                super::ptr::write_opt(len, d.len());
                d.as_ptr()
            }
            None => std::ptr::null(),
        }
    })
}

/// How many User Properties the message has.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_user_property_count(message: *const midge_message) -> usize {
    guard_value(0, || msg(message).map_or(0, |m| m.view.user_count()))
}

/// The `index`-th User Property, in the order received: name and value, NUL-terminated,
/// valid as long as the message. `MIDGE_RESULT_NOT_FOUND` past the end.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_user_property(
    message: *const midge_message,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    user_property(msg(message).map(|m| &m.view), index, name, value)
}

/// How many Subscription Identifiers came with the message (one per matching subscription
/// that had one).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_subscription_identifier_count(
    message: *const midge_message,
) -> usize {
    guard_value(0, || {
        msg(message).map_or(0, |m| m.view.props.subscription_identifiers().count())
    })
}

/// The `index`-th Subscription Identifier.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_subscription_identifier(
    message: *const midge_message,
    index: usize,
    identifier: *mut u32,
) -> midge_result {
    guard(|| {
        let m = msg(message).ok_or_else(|| FfiError::null("message"))?;
        let id = m
            .view
            .props
            .subscription_identifiers()
            .nth(index)
            .ok_or_else(|| FfiError::NotFound(format!("no subscription identifier {index}")))?;
        write_out(identifier, id, "identifier")
    })
}

/// Keeps a message beyond its callback or event: returns a new handle on the same message
/// (topic, payload and properties are shared, not copied). Free each clone once with
/// `midge_message_free`. NULL for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_clone(message: *const midge_message) -> *mut midge_message {
    guard_value(std::ptr::null_mut(), || {
        let Some(m) = msg(message) else {
            return std::ptr::null_mut();
        };
        // A distinct object per clone, so that freeing one clone (or, by mistake, the
        // borrowed original) never takes another clone's reference.
        let mut message = m.message.clone();
        message.properties = m.view.props.clone();
        handle::retain(&midge_message::new(message))
    })
}

/// Frees a message from `midge_message_clone` or `midge_client_request`. NULL, borrowed
/// messages and double frees are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_free(message: *mut midge_message) {
    guard_value((), || handle::release(message.cast_const()));
}

// ---------------------------------------------------------------------------- CONNACK

/// The server's CONNACK: every property, with the standard's defaults for those absent.
/// Borrowed in the connect callback and from a completion or event; owned (free with
/// `midge_connack_free`) from `midge_client_connect_wait`.
///
/// Methods: `midge_connack_session_present`, `midge_connack_assigned_client_id`,
/// `midge_connack_keep_alive`, `midge_connack_server_keep_alive`,
/// `midge_connack_session_expiry_interval`, `midge_connack_receive_maximum`,
/// `midge_connack_maximum_qos`, `midge_connack_retain_available`,
/// `midge_connack_maximum_packet_size`, `midge_connack_topic_alias_maximum`,
/// `midge_connack_wildcard_subscription_available`,
/// `midge_connack_subscription_identifiers_available`,
/// `midge_connack_shared_subscription_available`, `midge_connack_reason_string`,
/// `midge_connack_server_reference`, `midge_connack_response_information`,
/// `midge_connack_authentication_method`, `midge_connack_authentication_data`,
/// `midge_connack_user_property_count`,
/// `midge_connack_user_property`, `midge_connack_free`.
#[derive(Debug)]
pub struct midge_connack {
    pub(crate) info: ConnAckInfo,
    assigned: Option<CString>,
    reason_string: Option<CString>,
    server_reference: Option<CString>,
    response_information: Option<CString>,
    authentication_method: Option<CString>,
    view: PropertyView,
}

fn opt_cstring(s: Option<&ByteString>) -> Option<CString> {
    s.map(|s| cstring(s))
}

impl midge_connack {
    pub(crate) fn new(info: ConnAckInfo) -> Self {
        Self {
            assigned: opt_cstring(info.assigned_client_id.as_ref()),
            reason_string: opt_cstring(info.reason_string.as_ref()),
            server_reference: opt_cstring(info.server_reference.as_ref()),
            response_information: opt_cstring(info.response_information.as_ref()),
            authentication_method: opt_cstring(info.authentication_method.as_ref()),
            view: PropertyView::new(info.properties.clone()),
            info,
        }
    }
}

fn ack<'a>(c: *const midge_connack) -> Option<&'a midge_connack> {
    borrowed(c)
}

/// Session Present: the server resumed the session.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_session_present(connack: *const midge_connack) -> bool {
    guard_value(false, || {
        ack(connack).is_some_and(|c| c.info.session_present)
    })
}

/// The Client Identifier the server assigned (our id was empty), or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_assigned_client_id(connack: *const midge_connack) -> *const c_char {
    guard_value(std::ptr::null(), || {
        ack(connack).map_or(std::ptr::null(), |c| opt_ptr(c.assigned.as_ref()))
    })
}

/// The keep alive in force, in seconds: the server's if it sent one [MQTT-3.2.2-21].
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_keep_alive(connack: *const midge_connack) -> u16 {
    guard_value(0, || ack(connack).map_or(0, |c| c.info.keep_alive))
}

/// The Server Keep Alive, or -1 when the server sent none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_server_keep_alive(connack: *const midge_connack) -> c_int {
    guard_value(-1, || {
        ack(connack).map_or(-1, |c| c.info.server_keep_alive.map_or(-1, c_int::from))
    })
}

/// The server's Session Expiry Interval, or -1 when it kept ours.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_session_expiry_interval(connack: *const midge_connack) -> i64 {
    guard_value(-1, || {
        ack(connack).map_or(-1, |c| c.info.session_expiry_interval.map_or(-1, i64::from))
    })
}

/// How many QoS 1/2 messages may be unacknowledged at the server (default 65535).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_receive_maximum(connack: *const midge_connack) -> u16 {
    guard_value(0, || ack(connack).map_or(0, |c| c.info.receive_maximum))
}

/// The highest QoS the server accepts (0, 1 or 2).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_maximum_qos(connack: *const midge_connack) -> c_int {
    guard_value(-1, || {
        ack(connack).map_or(-1, |c| c.info.maximum_qos as c_int)
    })
}

/// Whether the server accepts retained messages.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_retain_available(connack: *const midge_connack) -> bool {
    guard_value(false, || {
        ack(connack).is_some_and(|c| c.info.retain_available)
    })
}

/// The server's Maximum Packet Size, or 0 for none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_maximum_packet_size(connack: *const midge_connack) -> u32 {
    guard_value(0, || {
        ack(connack).map_or(0, |c| c.info.maximum_packet_size.unwrap_or(0))
    })
}

/// How many topic aliases we may use towards the server.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_topic_alias_maximum(connack: *const midge_connack) -> u16 {
    guard_value(0, || ack(connack).map_or(0, |c| c.info.topic_alias_maximum))
}

/// Whether wildcard subscriptions are available.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_wildcard_subscription_available(
    connack: *const midge_connack,
) -> bool {
    guard_value(false, || {
        ack(connack).is_some_and(|c| c.info.wildcard_subscription_available)
    })
}

/// Whether subscription identifiers are available.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_subscription_identifiers_available(
    connack: *const midge_connack,
) -> bool {
    guard_value(false, || {
        ack(connack).is_some_and(|c| c.info.subscription_identifiers_available)
    })
}

/// Whether shared subscriptions are available.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_shared_subscription_available(
    connack: *const midge_connack,
) -> bool {
    guard_value(false, || {
        ack(connack).is_some_and(|c| c.info.shared_subscription_available)
    })
}

/// The Reason String, or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_reason_string(connack: *const midge_connack) -> *const c_char {
    guard_value(std::ptr::null(), || {
        ack(connack).map_or(std::ptr::null(), |c| opt_ptr(c.reason_string.as_ref()))
    })
}

/// The Server Reference (another server to use), or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_server_reference(connack: *const midge_connack) -> *const c_char {
    guard_value(std::ptr::null(), || {
        ack(connack).map_or(std::ptr::null(), |c| opt_ptr(c.server_reference.as_ref()))
    })
}

/// The Response Information (asked with request response information), or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_response_information(
    connack: *const midge_connack,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        ack(connack).map_or(std::ptr::null(), |c| {
            opt_ptr(c.response_information.as_ref())
        })
    })
}

/// The Authentication Method, or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_authentication_method(
    connack: *const midge_connack,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        ack(connack).map_or(std::ptr::null(), |c| {
            opt_ptr(c.authentication_method.as_ref())
        })
    })
}

/// How many User Properties the CONNACK has.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_user_property_count(connack: *const midge_connack) -> usize {
    guard_value(0, || ack(connack).map_or(0, |c| c.view.user_count()))
}

/// The Authentication Data of the CONNACK and its length (to `len`, may be NULL), or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_authentication_data(
    connack: *const midge_connack,
    len: *mut usize,
) -> *const u8 {
    guard_value(std::ptr::null(), || {
        match ack(connack).and_then(|c| c.info.authentication_data.as_ref()) {
            Some(d) => {
                super::ptr::write_opt(len, d.len());
                d.as_ptr()
            }
            None => std::ptr::null(),
        }
    })
}

/// The `index`-th User Property of the CONNACK.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_user_property(
    connack: *const midge_connack,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    user_property(ack(connack).map(|c| &c.view), index, name, value)
}

/// Frees a CONNACK returned by `midge_client_connect_wait`. NULL, borrowed ones and double
/// frees are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_free(connack: *mut midge_connack) {
    guard_value((), || handle::release(connack.cast_const()));
}

// ---------------------------------------------------------------------------- disconnects

/// What ended (or prevented) a connection.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_disconnect_kind {
    /// The server refused the connection in CONNACK (reason code, reason string).
    MIDGE_DISCONNECT_REFUSED = 1,
    /// The server sent DISCONNECT (reason code, reason string, server reference).
    MIDGE_DISCONNECT_SERVER = 2,
    /// The server broke the protocol; midge sent DISCONNECT with the reason code.
    MIDGE_DISCONNECT_PROTOCOL_ERROR = 3,
    /// Nothing arrived for 1.5 times the keep alive.
    MIDGE_DISCONNECT_KEEP_ALIVE_TIMEOUT = 4,
    /// No CONNACK in time.
    MIDGE_DISCONNECT_CONNECT_TIMEOUT = 5,
    /// The authenticator rejected the exchange.
    MIDGE_DISCONNECT_AUTHENTICATION = 6,
    /// The connection failed or broke (errno, detail).
    MIDGE_DISCONNECT_TRANSPORT = 7,
    /// The application disconnected (reason code).
    MIDGE_DISCONNECT_CLIENT = 8,
    /// The server's first bytes were not an MQTT reply to CONNECT: likely another
    /// protocol's server at that address (the detail shows what it sent).
    MIDGE_DISCONNECT_NOT_MQTT = 9,
}

/// Why a connection ended, for the connection-lost callback and events. Borrowed.
///
/// Methods: `midge_disconnect_kind_of`, `midge_disconnect_reason_code`,
/// `midge_disconnect_reason_string`, `midge_disconnect_server_reference`,
/// `midge_disconnect_errno`, `midge_disconnect_detail`.
#[derive(Debug)]
pub struct midge_disconnect {
    kind: midge_disconnect_kind,
    reason_code: c_int,
    reason_string: Option<CString>,
    server_reference: Option<CString>,
    errno: c_int,
    detail: CString,
}

impl midge_disconnect {
    pub(crate) fn new(cause: &DisconnectCause) -> Self {
        use midge_disconnect_kind as K;
        let mut d = Self {
            kind: K::MIDGE_DISCONNECT_TRANSPORT,
            reason_code: -1,
            reason_string: None,
            server_reference: None,
            errno: 0,
            // The same words as midge's own `Display` of the cause.
            detail: cstring(&cause.to_string()),
        };
        match cause {
            DisconnectCause::Refused(r) => {
                d.kind = K::MIDGE_DISCONNECT_REFUSED;
                d.reason_code = r.reason_code.as_u8().into();
                d.reason_string = opt_cstring(r.reason_string.as_ref());
                d.server_reference = opt_cstring(r.server_reference.as_ref());
            }
            DisconnectCause::Server {
                reason_code,
                reason_string,
                server_reference,
                ..
            } => {
                d.kind = K::MIDGE_DISCONNECT_SERVER;
                d.reason_code = reason_code.as_u8().into();
                d.reason_string = opt_cstring(reason_string.as_ref());
                d.server_reference = opt_cstring(server_reference.as_ref());
            }
            DisconnectCause::ProtocolError { reason_code, .. } => {
                d.kind = K::MIDGE_DISCONNECT_PROTOCOL_ERROR;
                d.reason_code = reason_code.as_u8().into();
            }
            DisconnectCause::NotMqtt { .. } => d.kind = K::MIDGE_DISCONNECT_NOT_MQTT,
            DisconnectCause::KeepAliveTimeout => d.kind = K::MIDGE_DISCONNECT_KEEP_ALIVE_TIMEOUT,
            DisconnectCause::ConnectTimeout => d.kind = K::MIDGE_DISCONNECT_CONNECT_TIMEOUT,
            DisconnectCause::Authentication(_) => d.kind = K::MIDGE_DISCONNECT_AUTHENTICATION,
            DisconnectCause::Transport { errno, .. } => d.errno = errno.unwrap_or(0),
            DisconnectCause::Client { reason_code } => {
                d.kind = K::MIDGE_DISCONNECT_CLIENT;
                d.reason_code = reason_code.as_u8().into();
            }
        }
        d
    }
}

fn cause<'a>(d: *const midge_disconnect) -> Option<&'a midge_disconnect> {
    borrowed(d)
}

/// The kind of cause (a `midge_disconnect_kind`), or 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_kind_of(disconnect: *const midge_disconnect) -> c_int {
    guard_value(0, || cause(disconnect).map_or(0, |d| d.kind as c_int))
}

/// The MQTT reason code (CONNACK or DISCONNECT), or -1 when the cause has none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_reason_code(disconnect: *const midge_disconnect) -> c_int {
    guard_value(-1, || cause(disconnect).map_or(-1, |d| d.reason_code))
}

/// The server's Reason String, or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_reason_string(
    disconnect: *const midge_disconnect,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        cause(disconnect).map_or(std::ptr::null(), |d| opt_ptr(d.reason_string.as_ref()))
    })
}

/// The server's Server Reference, or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_server_reference(
    disconnect: *const midge_disconnect,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        cause(disconnect).map_or(std::ptr::null(), |d| opt_ptr(d.server_reference.as_ref()))
    })
}

/// The operating system's error number for a transport failure, or 0.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_errno(disconnect: *const midge_disconnect) -> c_int {
    guard_value(0, || cause(disconnect).map_or(0, |d| d.errno))
}

/// A human-readable description of the cause (never NULL for a non-NULL cause).
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_detail(disconnect: *const midge_disconnect) -> *const c_char {
    guard_value(std::ptr::null(), || {
        cause(disconnect).map_or(std::ptr::null(), |d| d.detail.as_ptr())
    })
}
