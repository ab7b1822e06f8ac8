//! Received messages, CONNACKs and disconnect causes: read-only objects with accessors.
//! Strings come out NUL-terminated (made on first use, so a message costs no copy unless
//! asked). Every accessor looks its handle up (see `handle.rs`).

use std::ffi::{CString, c_char, c_int};
use std::sync::{Arc, OnceLock};

use super::handle::{self, read, read_opt};
use super::properties_view::{
    PropertyView, count_users, midge_property, property_at, user_property,
};
use super::ptr::{cstring, write_opt, write_out};
use super::result::{FfiError, guard, midge_result};
use crate::codec::{ByteString, PropertyId};
use crate::protocol::{ConnAckInfo, DisconnectCause, Message};

fn opt_ptr(s: Option<&CString>) -> Option<*const c_char> {
    s.map(|c| c.as_ptr())
}

/// Writes a (pointer, length) pair found by `f`: the one "absent" convention for binaries.
fn read_bytes<T: std::any::Any + Send + Sync>(
    object: *const T,
    data: *mut *const u8,
    len: *mut usize,
    f: impl FnOnce(&T) -> Option<(*const u8, usize)>,
) -> bool {
    let mut pair = (std::ptr::null(), 0);
    if !read_opt(object, &raw mut pair, f) {
        return false;
    }
    write_opt(data, pair.0);
    write_opt(len, pair.1);
    true
}

// ---------------------------------------------------------------------------- messages

/// A received message. Lent in a callback (for the call) or by an event (for the event's
/// life); `midge_message_clone` gives an owned handle on it (a reference, not a copy of the
/// payload), freed with `midge_message_free`.
///
/// Methods: `midge_message_topic`, `midge_message_payload`, `midge_message_qos`,
/// `midge_message_retain`, `midge_message_dup`, `midge_message_packet_id`,
/// `midge_message_payload_format`, `midge_message_message_expiry`,
/// `midge_message_content_type`, `midge_message_response_topic`,
/// `midge_message_correlation_data`, `midge_message_user_property_count`,
/// `midge_message_user_property`, `midge_message_property_count`,
/// `midge_message_property_at`, `midge_message_subscription_identifier_count`,
/// `midge_message_subscription_identifier`, `midge_message_clone`, `midge_message_free`,
/// `midge_message_ack`.
#[derive(Debug)]
pub struct midge_message {
    pub(crate) message: Message,
    topic: OnceLock<CString>,
    view: PropertyView,
}

impl midge_message {
    pub(crate) fn new(mut message: Message) -> Arc<Self> {
        let props = std::mem::take(&mut message.properties);
        Arc::new(Self {
            message,
            topic: OnceLock::new(),
            view: PropertyView::new(props),
        })
    }

    /// How often the C view of the properties was built.
    #[cfg(test)]
    pub(crate) fn view_builds(&self) -> usize {
        self.view.builds.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The topic (aliases resolved), NUL-terminated; valid as long as the message. NULL for a
/// dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_topic(message: *const midge_message) -> *const c_char {
    read(message, std::ptr::null(), |m| {
        m.topic.get_or_init(|| cstring(&m.message.topic)).as_ptr()
    })
}

/// The payload and its length (written to `len`, which may be NULL). The pointer is valid
/// as long as the message; it may be NULL for an empty payload.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_payload(
    message: *const midge_message,
    len: *mut usize,
) -> *const u8 {
    let (data, n) = read(message, (std::ptr::null(), 0), |m| {
        (m.message.payload.as_ptr(), m.message.payload.len())
    });
    write_opt(len, n);
    data
}

/// The QoS the message was delivered with (0, 1, 2), or -1 for a dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_qos(message: *const midge_message) -> c_int {
    read(message, -1, |m| m.message.qos as c_int)
}

/// The RETAIN flag: the message was a retained one (or, with retain-as-published, was
/// published retained).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_retain(message: *const midge_message) -> bool {
    read(message, false, |m| m.message.retain)
}

/// The DUP flag.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_dup(message: *const midge_message) -> bool {
    read(message, false, |m| m.message.dup)
}

/// A message's topic, payload, QoS, flags and property count, read in one call
/// (`midge_message_get_fields`): what `midge_message_topic`, `_payload`, `_qos`, `_retain`,
/// `_dup` and `_property_count` give one by one, for a consumer that reads every message
/// (one handle check instead of six; the Python binding reads each message this way).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct midge_message_fields {
    /// The topic (aliases resolved), NUL-terminated; valid as long as the message.
    pub topic: *const c_char,
    /// The topic's length in bytes, without the NUL.
    pub topic_len: usize,
    /// The payload; valid as long as the message; may be NULL for an empty payload.
    pub payload: *const u8,
    /// The payload's length in bytes.
    pub payload_len: usize,
    /// How many properties the message has (`midge_message_property_count`).
    pub property_count: usize,
    /// The QoS the message was delivered with: 0, 1 or 2.
    pub qos: c_int,
    /// The RETAIN flag (`midge_message_retain`).
    pub retain: bool,
    /// The DUP flag.
    pub dup: bool,
}

/// Writes the message's topic, payload, QoS, flags and property count to `fields`.
/// `MIDGE_RESULT_INVALID_ARGUMENT` for a NULL `fields` or a dead handle (`fields` is then
/// left as it was).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_get_fields(
    message: *const midge_message,
    fields: *mut midge_message_fields,
) -> midge_result {
    guard(|| {
        let out = handle::with_live(message, "message", |m| {
            let topic = m.topic.get_or_init(|| cstring(&m.message.topic));
            midge_message_fields {
                topic: topic.as_ptr(),
                topic_len: topic.as_bytes().len(),
                payload: m.message.payload.as_ptr(),
                payload_len: m.message.payload.len(),
                property_count: m.view.len(),
                qos: m.message.qos as c_int,
                retain: m.message.retain,
                dup: m.message.dup,
            }
        })?;
        write_out(fields, out, "fields")
    })
}

/// The packet identifier to `packet_id`; false for a QoS 0 message, which has none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_packet_id(
    message: *const midge_message,
    packet_id: *mut u16,
) -> bool {
    read_opt(message, packet_id, |m| {
        (m.message.packet_id != 0).then_some(m.message.packet_id)
    })
}

/// The Payload Format Indicator (0 unspecified bytes, 1 UTF-8) to `format`; false when the
/// message has none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_payload_format(
    message: *const midge_message,
    format: *mut u8,
) -> bool {
    read_opt(message, format, |m| {
        m.view
            .int(PropertyId::PayloadFormatIndicator)
            .map(|v| u8::from(v == 1))
    })
}

/// The Message Expiry Interval left, in seconds, to `seconds`; false when the message has
/// none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_message_expiry(
    message: *const midge_message,
    seconds: *mut u32,
) -> bool {
    read_opt(message, seconds, |m| {
        m.view.int(PropertyId::MessageExpiryInterval)
    })
}

/// The Content Type to `content_type` (valid as long as the message); false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_content_type(
    message: *const midge_message,
    content_type: *mut *const c_char,
) -> bool {
    read_opt(message, content_type, |m| {
        m.view.string(PropertyId::ContentType)
    })
}

/// The Response Topic (request/response) to `response_topic`; false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_response_topic(
    message: *const midge_message,
    response_topic: *mut *const c_char,
) -> bool {
    read_opt(message, response_topic, |m| {
        m.view.string(PropertyId::ResponseTopic)
    })
}

/// The Correlation Data to `data` and its length to `len` (either may be NULL); false when
/// none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_correlation_data(
    message: *const midge_message,
    data: *mut *const u8,
    len: *mut usize,
) -> bool {
    read_bytes(message, data, len, |m| {
        m.view.binary(PropertyId::CorrelationData)
    })
}

/// How many User Properties the message has.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_user_property_count(message: *const midge_message) -> usize {
    count_users(message, |m| &m.view)
}

/// The `index`-th User Property, in the order received: name and value, NUL-terminated,
/// valid as long as the message. `MIDGE_RESULT_NOT_FOUND` past the end. O(1).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_user_property(
    message: *const midge_message,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    user_property(
        handle::with_live(message, "message", |m| m.view.user_at(index)),
        index,
        name,
        value,
    )
}

/// How many properties the message has (every kind, User Properties included).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_property_count(message: *const midge_message) -> usize {
    read(message, 0, |m| m.view.len())
}

/// The `index`-th property, in the order received, to `property`. O(1).
/// `MIDGE_RESULT_NOT_FOUND` past the end.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_property_at(
    message: *const midge_message,
    index: usize,
    property: *mut midge_property,
) -> midge_result {
    property_at(
        handle::with_live(message, "message", |m| m.view.at(index)),
        index,
        property,
    )
}

/// How many Subscription Identifiers came with the message (one per matching subscription
/// that had one).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_subscription_identifier_count(
    message: *const midge_message,
) -> usize {
    read(message, 0, |m| {
        m.view.props.subscription_identifiers().count()
    })
}

/// The `index`-th Subscription Identifier. `MIDGE_RESULT_NOT_FOUND` past the end.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_subscription_identifier(
    message: *const midge_message,
    index: usize,
    identifier: *mut u32,
) -> midge_result {
    guard(|| {
        let id = handle::with_live(message, "message", |m| {
            m.view.props.subscription_identifiers().nth(index)
        })?
        .ok_or_else(|| FfiError::NotFound(format!("no subscription identifier {index}")))?;
        super::ptr::write_out(identifier, id, "identifier")
    })
}

/// An owned handle on a message (lent or owned): the same message, shared, not copied.
/// Free each handle once with `midge_message_free`. NULL for a dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_clone(message: *const midge_message) -> *mut midge_message {
    super::result::guard_value(std::ptr::null_mut(), || {
        handle::get(message).map_or(std::ptr::null_mut(), handle::share)
    })
}

/// Frees the owned message handle in `*message` (from `midge_message_clone` or
/// `midge_client_request`) and sets `*message` to NULL. NULL, a lent message, and a handle
/// freed before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_free(message: *mut *mut midge_message) {
    super::result::guard_value((), || drop(handle::free(message)));
}

// ---------------------------------------------------------------------------- CONNACK

/// The server's CONNACK. Lent in the connect callback and by an event or completion;
/// owned (free with `midge_connack_free`) from `midge_client_connect_wait` and
/// `midge_connack_clone`.
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
/// `midge_connack_user_property_count`, `midge_connack_user_property`,
/// `midge_connack_property_count`, `midge_connack_property_at`, `midge_connack_clone`,
/// `midge_connack_free`, `midge_connack_protocol_version`, `midge_connack_server`.
#[derive(Debug)]
pub struct midge_connack {
    pub(crate) info: ConnAckInfo,
    assigned: Option<CString>,
    reason_string: Option<CString>,
    server_reference: Option<CString>,
    response_information: Option<CString>,
    authentication_method: Option<CString>,
    server: Option<CString>,
    view: PropertyView,
}

fn opt_cstring(s: Option<&ByteString>) -> Option<CString> {
    s.map(|s| cstring(s))
}

impl midge_connack {
    pub(crate) fn new(info: ConnAckInfo) -> Arc<Self> {
        Arc::new(Self {
            assigned: opt_cstring(info.assigned_client_id.as_ref()),
            reason_string: opt_cstring(info.reason_string.as_ref()),
            server_reference: opt_cstring(info.server_reference.as_ref()),
            response_information: opt_cstring(info.response_information.as_ref()),
            authentication_method: opt_cstring(info.authentication_method.as_ref()),
            server: info.server.as_deref().map(cstring),
            view: PropertyView::new(info.properties.clone()),
            info,
        })
    }
}

/// The server this connection was made to (`mqtt://host:port`, as `midge_client_server`
/// gives it: one of the client's servers, or a followed redirection's target) to `server`,
/// lent for the CONNACK's lifetime; false when none (or for a NULL or freed CONNACK).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_server(
    connack: *const midge_connack,
    server: *mut *const c_char,
) -> bool {
    read_opt(connack, server, |c| opt_ptr(c.server.as_ref()))
}

/// The MQTT version of the connection: `MIDGE_PROTOCOL_V5` (5) or `MIDGE_PROTOCOL_V311`
/// (4); 0 for NULL. Under 3.1.1 the CONNACK has no properties: the other accessors give
/// the standard's defaults.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_protocol_version(connack: *const midge_connack) -> c_int {
    read(connack, 0, |c| c_int::from(c.info.protocol_version.level()))
}

/// Session Present: the server resumed the session.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_session_present(connack: *const midge_connack) -> bool {
    read(connack, false, |c| c.info.session_present)
}

/// The Client Identifier the server assigned (our id was empty) to `client_id`; false when
/// it assigned none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_assigned_client_id(
    connack: *const midge_connack,
    client_id: *mut *const c_char,
) -> bool {
    read_opt(connack, client_id, |c| opt_ptr(c.assigned.as_ref()))
}

/// The keep alive in force, in seconds: the server's if it sent one [MQTT-3.2.2-21], else
/// ours.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_keep_alive(connack: *const midge_connack) -> u16 {
    read(connack, 0, |c| c.info.keep_alive)
}

/// The Server Keep Alive to `seconds`; false when the server sent none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_server_keep_alive(
    connack: *const midge_connack,
    seconds: *mut u16,
) -> bool {
    read_opt(connack, seconds, |c| c.info.server_keep_alive)
}

/// The server's Session Expiry Interval to `seconds`; false when it sent none (ours holds).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_session_expiry_interval(
    connack: *const midge_connack,
    seconds: *mut u32,
) -> bool {
    read_opt(connack, seconds, |c| c.info.session_expiry_interval)
}

/// How many QoS 1/2 messages may be unacknowledged at the server: the value in force (the
/// standard's default 65535 when the server sent none; the property walk shows what it
/// sent).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_receive_maximum(connack: *const midge_connack) -> u16 {
    read(connack, 0, |c| c.info.receive_maximum)
}

/// The highest QoS the server accepts (0, 1 or 2; 2 when it sent none), or -1 for a dead
/// handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_maximum_qos(connack: *const midge_connack) -> c_int {
    read(connack, -1, |c| c.info.maximum_qos as c_int)
}

/// Whether the server accepts retained messages (true when it did not say).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_retain_available(connack: *const midge_connack) -> bool {
    read(connack, false, |c| c.info.retain_available)
}

/// The server's Maximum Packet Size to `size`; false when it sent none (no limit).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_maximum_packet_size(
    connack: *const midge_connack,
    size: *mut u32,
) -> bool {
    read_opt(connack, size, |c| c.info.maximum_packet_size)
}

/// How many topic aliases we may use towards the server (0 when it sent none).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_topic_alias_maximum(connack: *const midge_connack) -> u16 {
    read(connack, 0, |c| c.info.topic_alias_maximum)
}

/// Whether wildcard subscriptions are available (true when the server did not say).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_wildcard_subscription_available(
    connack: *const midge_connack,
) -> bool {
    read(connack, false, |c| c.info.wildcard_subscription_available)
}

/// Whether subscription identifiers are available (true when the server did not say).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_subscription_identifiers_available(
    connack: *const midge_connack,
) -> bool {
    read(connack, false, |c| {
        c.info.subscription_identifiers_available
    })
}

/// Whether shared subscriptions are available (true when the server did not say).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_shared_subscription_available(
    connack: *const midge_connack,
) -> bool {
    read(connack, false, |c| c.info.shared_subscription_available)
}

/// The Reason String to `text`; false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_reason_string(
    connack: *const midge_connack,
    text: *mut *const c_char,
) -> bool {
    read_opt(connack, text, |c| opt_ptr(c.reason_string.as_ref()))
}

/// The Server Reference (another server to use) to `reference`; false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_server_reference(
    connack: *const midge_connack,
    reference: *mut *const c_char,
) -> bool {
    read_opt(connack, reference, |c| opt_ptr(c.server_reference.as_ref()))
}

/// The Response Information (asked with request response information) to `information`;
/// false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_response_information(
    connack: *const midge_connack,
    information: *mut *const c_char,
) -> bool {
    read_opt(connack, information, |c| {
        opt_ptr(c.response_information.as_ref())
    })
}

/// The Authentication Method to `method`; false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_authentication_method(
    connack: *const midge_connack,
    method: *mut *const c_char,
) -> bool {
    read_opt(connack, method, |c| {
        opt_ptr(c.authentication_method.as_ref())
    })
}

/// The Authentication Data to `data` and its length to `len` (either may be NULL); false
/// when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_authentication_data(
    connack: *const midge_connack,
    data: *mut *const u8,
    len: *mut usize,
) -> bool {
    read_bytes(connack, data, len, |c| {
        c.info
            .authentication_data
            .as_ref()
            .map(|d| (d.as_ptr(), d.len()))
    })
}

/// How many User Properties the CONNACK has.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_user_property_count(connack: *const midge_connack) -> usize {
    count_users(connack, |c| &c.view)
}

/// The `index`-th User Property of the CONNACK (as for messages). O(1).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_user_property(
    connack: *const midge_connack,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    user_property(
        handle::with_live(connack, "connack", |c| c.view.user_at(index)),
        index,
        name,
        value,
    )
}

/// How many properties the CONNACK has (as sent: defaults are not properties).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_property_count(connack: *const midge_connack) -> usize {
    read(connack, 0, |c| c.view.len())
}

/// The `index`-th property of the CONNACK, in the order received. O(1).
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_property_at(
    connack: *const midge_connack,
    index: usize,
    property: *mut midge_property,
) -> midge_result {
    property_at(
        handle::with_live(connack, "connack", |c| c.view.at(index)),
        index,
        property,
    )
}

/// An owned handle on a CONNACK (lent or owned), to keep it; free it with
/// `midge_connack_free`. NULL for a dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_clone(connack: *const midge_connack) -> *mut midge_connack {
    super::result::guard_value(std::ptr::null_mut(), || {
        handle::get(connack).map_or(std::ptr::null_mut(), handle::share)
    })
}

/// Frees the owned CONNACK handle in `*connack` and sets `*connack` to NULL. NULL, a lent
/// CONNACK, and a handle freed before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_connack_free(connack: *mut *mut midge_connack) {
    super::result::guard_value((), || drop(handle::free(connack)));
}

// ---------------------------------------------------------------------------- disconnects

/// What ended (or prevented) a connection.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_disconnect_kind {
    /// The server refused the connection in CONNACK (reason code, reason string, the
    /// CONNACK's properties).
    MIDGE_DISCONNECT_REFUSED = 1,
    /// The server sent DISCONNECT (reason code, reason string, server reference, the
    /// DISCONNECT's properties).
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
    /// The TLS handshake failed: the detail says why (unknown issuer, expired, name
    /// mismatch with the expected name, pin mismatch, client certificate refused). A
    /// certificate failure is permanent: midge does not reconnect.
    MIDGE_DISCONNECT_TLS = 10,
}

/// Why a connection ended, for the connection-lost callback and events. Lent, for the
/// callback or as long as the event.
///
/// Methods: `midge_disconnect_kind_of`, `midge_disconnect_reason_code`,
/// `midge_disconnect_reason_string`, `midge_disconnect_server_reference`,
/// `midge_disconnect_errno`, `midge_disconnect_detail`,
/// `midge_disconnect_user_property_count`, `midge_disconnect_user_property`,
/// `midge_disconnect_property_count`, `midge_disconnect_property_at`.
#[derive(Debug)]
pub struct midge_disconnect {
    kind: midge_disconnect_kind,
    reason_code: Option<u8>,
    reason_string: Option<CString>,
    server_reference: Option<CString>,
    errno: Option<c_int>,
    detail: CString,
    /// The properties of the refusing CONNACK or of the server's DISCONNECT.
    view: PropertyView,
}

impl midge_disconnect {
    pub(crate) fn new(cause: &DisconnectCause) -> Arc<Self> {
        use midge_disconnect_kind as K;
        let mut d = Self {
            kind: K::MIDGE_DISCONNECT_TRANSPORT,
            reason_code: None,
            reason_string: None,
            server_reference: None,
            errno: None,
            // The same words as midge's own `Display` of the cause.
            detail: cstring(&cause.to_string()),
            view: PropertyView::default(),
        };
        match cause {
            DisconnectCause::Refused(r) => {
                d.kind = K::MIDGE_DISCONNECT_REFUSED;
                d.reason_code = Some(r.reason_code.as_u8());
                d.reason_string = opt_cstring(r.reason_string.as_ref());
                d.server_reference = opt_cstring(r.server_reference.as_ref());
                d.view = PropertyView::new(r.properties.clone());
            }
            DisconnectCause::Server {
                reason_code,
                reason_string,
                server_reference,
                properties,
            } => {
                d.kind = K::MIDGE_DISCONNECT_SERVER;
                d.reason_code = Some(reason_code.as_u8());
                d.reason_string = opt_cstring(reason_string.as_ref());
                d.server_reference = opt_cstring(server_reference.as_ref());
                d.view = PropertyView::new(properties.clone());
            }
            DisconnectCause::ProtocolError { reason_code, .. } => {
                d.kind = K::MIDGE_DISCONNECT_PROTOCOL_ERROR;
                d.reason_code = Some(reason_code.as_u8());
            }
            DisconnectCause::NotMqtt { .. } => d.kind = K::MIDGE_DISCONNECT_NOT_MQTT,
            DisconnectCause::KeepAliveTimeout => d.kind = K::MIDGE_DISCONNECT_KEEP_ALIVE_TIMEOUT,
            DisconnectCause::ConnectTimeout => d.kind = K::MIDGE_DISCONNECT_CONNECT_TIMEOUT,
            DisconnectCause::Authentication(_) => d.kind = K::MIDGE_DISCONNECT_AUTHENTICATION,
            DisconnectCause::Transport { errno, .. } => d.errno = *errno,
            DisconnectCause::Tls { .. } => d.kind = K::MIDGE_DISCONNECT_TLS,
            DisconnectCause::Client { reason_code } => {
                d.kind = K::MIDGE_DISCONNECT_CLIENT;
                d.reason_code = Some(reason_code.as_u8());
            }
        }
        Arc::new(d)
    }
}

/// The kind of cause (a `midge_disconnect_kind`), or 0 for a dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_kind_of(disconnect: *const midge_disconnect) -> c_int {
    read(disconnect, 0, |d| d.kind as c_int)
}

/// The MQTT reason code (of the CONNACK or DISCONNECT) to `reason_code`; false when the
/// cause has none (a transport failure, a timeout).
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_reason_code(
    disconnect: *const midge_disconnect,
    reason_code: *mut u8,
) -> bool {
    read_opt(disconnect, reason_code, |d| d.reason_code)
}

/// The server's Reason String to `text`; false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_reason_string(
    disconnect: *const midge_disconnect,
    text: *mut *const c_char,
) -> bool {
    read_opt(disconnect, text, |d| opt_ptr(d.reason_string.as_ref()))
}

/// The server's Server Reference to `reference`; false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_server_reference(
    disconnect: *const midge_disconnect,
    reference: *mut *const c_char,
) -> bool {
    read_opt(disconnect, reference, |d| {
        opt_ptr(d.server_reference.as_ref())
    })
}

/// The operating system's error number of a transport failure to `errno_value`; false
/// when there is none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_errno(
    disconnect: *const midge_disconnect,
    errno_value: *mut c_int,
) -> bool {
    read_opt(disconnect, errno_value, |d| d.errno)
}

/// A human-readable description of the cause (never NULL for a live handle).
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_detail(disconnect: *const midge_disconnect) -> *const c_char {
    read(disconnect, std::ptr::null(), |d| d.detail.as_ptr())
}

/// How many User Properties the refusing CONNACK or the server's DISCONNECT carried.
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_user_property_count(
    disconnect: *const midge_disconnect,
) -> usize {
    count_users(disconnect, |d| &d.view)
}

/// The `index`-th User Property of the refusing CONNACK or the server's DISCONNECT. O(1).
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_user_property(
    disconnect: *const midge_disconnect,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    user_property(
        handle::with_live(disconnect, "disconnect", |d| d.view.user_at(index)),
        index,
        name,
        value,
    )
}

/// How many properties the refusing CONNACK or the server's DISCONNECT carried (0 for
/// other causes).
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_property_count(disconnect: *const midge_disconnect) -> usize {
    read(disconnect, 0, |d| d.view.len())
}

/// The `index`-th property of the refusing CONNACK or the server's DISCONNECT. O(1).
#[unsafe(no_mangle)]
pub extern "C" fn midge_disconnect_property_at(
    disconnect: *const midge_disconnect,
    index: usize,
    property: *mut midge_property,
) -> midge_result {
    property_at(
        handle::with_live(disconnect, "disconnect", |d| d.view.at(index)),
        index,
        property,
    )
}
