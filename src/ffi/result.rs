//! `midge_result`, the thread's last error, and the panic boundary every exported function
//! runs inside.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;
use crate::protocol::{DisconnectCause, RequestError};
use crate::store::StoreError;
use crate::transport::TransportError;

/// The result of every fallible midge function: a fixed-width integer (never a C enum, whose
/// width is the compiler's choice), 0 for success, one of the `MIDGE_RESULT_*` constants
/// otherwise. The values are fixed forever; new ones are appended. `midge_result_str()`
/// gives a static text, `midge_last_error_message()` the detail of the last failure on the
/// calling thread. A value a callback returns to midge is checked against this list: one
/// that is not in it is an error, never undefined behaviour.
pub type midge_result = i32;

/// Success.
pub const MIDGE_RESULT_OK: midge_result = 0;
/// NULL where a value is needed, a freed or wrong handle, a value out of range.
pub const MIDGE_RESULT_INVALID_ARGUMENT: midge_result = 1;
/// A string that is not valid UTF-8.
pub const MIDGE_RESULT_INVALID_UTF8: midge_result = 2;
/// A topic name or filter that breaks the rules of 4.7 (wildcards in a topic, ...).
pub const MIDGE_RESULT_INVALID_TOPIC: midge_result = 3;
/// A property not allowed where it is used, a duplicate, or a bad value.
pub const MIDGE_RESULT_INVALID_PROPERTY: midge_result = 4;
/// A broker address that does not parse, or an unsupported scheme.
pub const MIDGE_RESULT_INVALID_ADDRESS: midge_result = 5;
/// Over the server's Maximum Packet Size or a limit of the standard.
pub const MIDGE_RESULT_TOO_LARGE: midge_result = 6;
/// The server does not support it (QoS, retain, wildcard, shared or identified
/// subscriptions), per its CONNACK.
pub const MIDGE_RESULT_NOT_SUPPORTED: midge_result = 7;
/// The offline queue is full; the message was not queued.
pub const MIDGE_RESULT_QUEUE_FULL: midge_result = 8;
/// The wait ended first; the request goes on.
pub const MIDGE_RESULT_TIMEOUT: midge_result = 9;
/// Not completed yet (from `midge_completion_poll`).
pub const MIDGE_RESULT_PENDING: midge_result = 10;
/// Needs a live connection.
pub const MIDGE_RESULT_NOT_CONNECTED: midge_result = 11;
/// The server refused the connection (CONNACK reason code >= 0x80).
pub const MIDGE_RESULT_CONNECTION_REFUSED: midge_result = 12;
/// The connection ended before the request completed.
pub const MIDGE_RESULT_DISCONNECTED: midge_result = 13;
/// The server answered with a failure reason code (>= 0x80).
pub const MIDGE_RESULT_REFUSED: midge_result = 14;
/// The server did not keep the session, so the exchange cannot complete.
pub const MIDGE_RESULT_SESSION_LOST: midge_result = 15;
/// The message expired (Message Expiry Interval) before it could be sent.
pub const MIDGE_RESULT_EXPIRED: midge_result = 16;
/// The client was closed.
pub const MIDGE_RESULT_CLOSED: midge_result = 17;
/// A packet broke the rules of the standard.
pub const MIDGE_RESULT_PROTOCOL_ERROR: midge_result = 18;
/// An operating-system error (connect, DNS, socket).
pub const MIDGE_RESULT_IO: midge_result = 19;
/// All 65,535 packet identifiers are in flight.
pub const MIDGE_RESULT_NO_PACKET_ID: midge_result = 20;
/// No such property, index or value.
pub const MIDGE_RESULT_NOT_FOUND: midge_result = 21;
/// A wait on midge's I/O thread (in an authenticator callback) could never end.
pub const MIDGE_RESULT_WOULD_DEADLOCK: midge_result = 22;
/// A bug in midge: a Rust panic was caught at the boundary. The object involved may be
/// unusable; the process is not harmed. (A library built with the size profile's
/// panic=abort opt-in aborts the process instead and never returns this.)
pub const MIDGE_RESULT_PANIC: midge_result = 23;
/// The connection speaks MQTT 3.1.1 (or may fall back to it), which cannot carry what was
/// asked (properties, subscription options beyond the QoS, a reason code, enhanced
/// authentication, a Topic Alias, a Session Expiry Interval Clean Session cannot express).
/// Nothing was sent; `midge_last_error_message()` names the feature.
pub const MIDGE_RESULT_NOT_IN_V311: midge_result = 24;
/// The TLS handshake failed: the server's certificate was not accepted (unknown issuer,
/// expired, name mismatch, pin mismatch) or the server refused ours. The message says why;
/// midge does not reconnect after it.
pub const MIDGE_RESULT_TLS: midge_result = 25;
/// TLS options that cannot be used: a file missing, a PEM without a certificate, a key
/// that does not parse, TLS options on a plain address, or a build without TLS.
pub const MIDGE_RESULT_TLS_CONFIG: midge_result = 26;
/// The persistence store is full (its bound on live bytes or records would be exceeded);
/// nothing was written. Also what a C store's callback returns to say so.
pub const MIDGE_RESULT_STORE_FULL: midge_result = 27;
/// The persistence store failed: an I/O error, a store in use by another process, a file
/// that is not a midge store, or a C store's callback that returned a failure (the message
/// has its code).
pub const MIDGE_RESULT_STORE: midge_result = 28;

/// Every `midge_result` with its static text. To add a result: a constant above (the next
/// free value) and its line here; `midge_result_str` and the check of values coming back
/// from C callbacks follow from this table.
const RESULTS: &[(midge_result, &CStr)] = &[
    (MIDGE_RESULT_OK, c"ok"),
    (MIDGE_RESULT_INVALID_ARGUMENT, c"invalid argument"),
    (MIDGE_RESULT_INVALID_UTF8, c"invalid UTF-8"),
    (MIDGE_RESULT_INVALID_TOPIC, c"invalid topic name or filter"),
    (MIDGE_RESULT_INVALID_PROPERTY, c"invalid property"),
    (MIDGE_RESULT_INVALID_ADDRESS, c"invalid broker address"),
    (MIDGE_RESULT_TOO_LARGE, c"too large"),
    (MIDGE_RESULT_NOT_SUPPORTED, c"not supported by the server"),
    (MIDGE_RESULT_QUEUE_FULL, c"offline queue full"),
    (MIDGE_RESULT_TIMEOUT, c"timed out"),
    (MIDGE_RESULT_PENDING, c"pending"),
    (MIDGE_RESULT_NOT_CONNECTED, c"not connected"),
    (
        MIDGE_RESULT_CONNECTION_REFUSED,
        c"connection refused by the server",
    ),
    (MIDGE_RESULT_DISCONNECTED, c"disconnected"),
    (MIDGE_RESULT_REFUSED, c"refused by the server"),
    (MIDGE_RESULT_SESSION_LOST, c"session lost"),
    (MIDGE_RESULT_EXPIRED, c"message expired"),
    (MIDGE_RESULT_CLOSED, c"client closed"),
    (MIDGE_RESULT_PROTOCOL_ERROR, c"protocol error"),
    (MIDGE_RESULT_IO, c"I/O error"),
    (MIDGE_RESULT_NO_PACKET_ID, c"no free packet identifier"),
    (MIDGE_RESULT_NOT_FOUND, c"not found"),
    (MIDGE_RESULT_WOULD_DEADLOCK, c"would deadlock"),
    (MIDGE_RESULT_PANIC, c"internal error (panic caught)"),
    (MIDGE_RESULT_NOT_IN_V311, c"not in MQTT 3.1.1"),
    (MIDGE_RESULT_TLS, c"TLS handshake failed"),
    (MIDGE_RESULT_TLS_CONFIG, c"unusable TLS options"),
    (MIDGE_RESULT_STORE_FULL, c"store full"),
    (MIDGE_RESULT_STORE, c"store failed"),
];

/// The static text of a result; `None` for a value that is not a `midge_result`.
pub(crate) fn text(result: midge_result) -> Option<&'static CStr> {
    RESULTS
        .iter()
        .find(|(r, _)| *r == result)
        .map(|(_, text)| *text)
}

/// A value a C callback returned where a `midge_result` is expected, checked: `Ok` for
/// `MIDGE_RESULT_OK`, else the reason to give up, which names a value that is not a result.
pub(crate) fn from_callback(value: midge_result, who: &str) -> Result<(), String> {
    match text(value) {
        Some(_) if value == MIDGE_RESULT_OK => Ok(()),
        Some(t) => Err(format!("{who} failed: {}", t.to_string_lossy())),
        None => Err(format!(
            "{who} returned {value}, which is not a midge_result (a bug in the callback)"
        )),
    }
}

/// Why an FFI call failed: midge's error or a problem with the C arguments.
#[derive(Debug, Clone)]
pub(crate) enum FfiError {
    Midge(Error),
    Invalid(String),
    Utf8(String),
    NotFound(String),
    Pending,
}

impl FfiError {
    pub(crate) fn null(what: &str) -> Self {
        Self::Invalid(format!("{what} is NULL"))
    }

    pub(crate) fn stale(what: &str) -> Self {
        Self::Invalid(format!("{what} is not a live midge handle of its type"))
    }

    /// The one mapping from midge's errors to `midge_result`.
    pub(crate) fn result(&self) -> midge_result {
        match self {
            Self::Invalid(_) => MIDGE_RESULT_INVALID_ARGUMENT,
            Self::Utf8(_) => MIDGE_RESULT_INVALID_UTF8,
            Self::NotFound(_) => MIDGE_RESULT_NOT_FOUND,
            Self::Pending => MIDGE_RESULT_PENDING,
            Self::Midge(e) => error_result(e),
        }
    }

    /// The MQTT reason code that came with the failure, if any.
    pub(crate) fn reason_code(&self) -> Option<u8> {
        match self {
            Self::Midge(e) => error_reason_code(e),
            _ => None,
        }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        Self::Midge(e)
    }
}

impl From<RequestError> for FfiError {
    fn from(e: RequestError) -> Self {
        Self::Midge(e.into())
    }
}

impl std::fmt::Display for FfiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Midge(e) => write!(f, "{e}"),
            Self::Invalid(m) | Self::NotFound(m) => f.write_str(m),
            Self::Utf8(what) => write!(f, "{what} is not valid UTF-8"),
            Self::Pending => f.write_str("not completed yet"),
        }
    }
}

fn error_result(e: &Error) -> midge_result {
    match e {
        Error::Codec(_) => MIDGE_RESULT_PROTOCOL_ERROR,
        Error::Request(r) => request_result(r),
        Error::Transport(TransportError::TlsConfig(_)) => MIDGE_RESULT_TLS_CONFIG,
        Error::Transport(_) => MIDGE_RESULT_INVALID_ADDRESS,
        Error::Disconnected(cause) if matches!(**cause, DisconnectCause::Tls { .. }) => {
            MIDGE_RESULT_TLS
        }
        Error::ConnectionRefused(_) => MIDGE_RESULT_CONNECTION_REFUSED,
        // A connection that could not be made at all (DNS, TCP) is an I/O error.
        Error::Disconnected(cause) if matches!(**cause, DisconnectCause::Transport { .. }) => {
            MIDGE_RESULT_IO
        }
        Error::Disconnected(_) => MIDGE_RESULT_DISCONNECTED,
        Error::Timeout => MIDGE_RESULT_TIMEOUT,
        Error::Closed => MIDGE_RESULT_CLOSED,
        Error::WouldDeadlock => MIDGE_RESULT_WOULD_DEADLOCK,
        Error::InvalidArgument(_) => MIDGE_RESULT_INVALID_ARGUMENT,
        Error::Io(_) => MIDGE_RESULT_IO,
        Error::Store(e) if matches!(**e, StoreError::Full { .. }) => MIDGE_RESULT_STORE_FULL,
        Error::Store(_) => MIDGE_RESULT_STORE,
    }
}

pub(crate) fn request_result(r: &RequestError) -> midge_result {
    match r {
        RequestError::InvalidTopic(_)
        | RequestError::InvalidTopicFilter(_)
        | RequestError::NoTopicFilters
        | RequestError::UnknownTopicAlias(_) => MIDGE_RESULT_INVALID_TOPIC,
        RequestError::InvalidProperties(_) => MIDGE_RESULT_INVALID_PROPERTY,
        RequestError::QosNotSupported { .. }
        | RequestError::RetainNotSupported
        | RequestError::TopicAliasInvalid { .. }
        | RequestError::NotSupported(_) => MIDGE_RESULT_NOT_SUPPORTED,
        RequestError::PacketTooLarge { .. } => MIDGE_RESULT_TOO_LARGE,
        RequestError::QueueFull => MIDGE_RESULT_QUEUE_FULL,
        RequestError::Expired => MIDGE_RESULT_EXPIRED,
        RequestError::SessionLost => MIDGE_RESULT_SESSION_LOST,
        RequestError::Closed => MIDGE_RESULT_CLOSED,
        RequestError::NotConnected => MIDGE_RESULT_NOT_CONNECTED,
        RequestError::NoPacketIdentifier => MIDGE_RESULT_NO_PACKET_ID,
        RequestError::Refused(_) => MIDGE_RESULT_REFUSED,
        RequestError::NotInV311(_) => MIDGE_RESULT_NOT_IN_V311,
    }
}

/// The reason code of the acknowledgement that refused a request (a PUBACK/PUBREC/PUBCOMP
/// or CONNACK failure code), if that is how it ended.
pub(crate) fn refusal_code(e: &Error) -> Option<u8> {
    match e {
        Error::Request(RequestError::Refused(ack)) => Some(ack.code()),
        Error::ConnectionRefused(r) => Some(r.reason_code.as_u8()),
        _ => None,
    }
}

fn error_reason_code(e: &Error) -> Option<u8> {
    match e {
        Error::Request(RequestError::Refused(_)) | Error::ConnectionRefused(_) => refusal_code(e),
        Error::Disconnected(cause) => match cause.as_ref() {
            DisconnectCause::Server { reason_code, .. }
            | DisconnectCause::ProtocolError { reason_code, .. }
            | DisconnectCause::Client { reason_code } => Some(reason_code.as_u8()),
            _ => None,
        },
        _ => None,
    }
}

struct LastError {
    message: CString,
    reason_code: Option<u8>,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn set_last_error(message: &str, reason_code: Option<u8>) {
    let message = super::ptr::cstring(message);
    LAST_ERROR.with(|l| {
        *l.borrow_mut() = Some(LastError {
            message,
            reason_code,
        });
    });
}

/// The detail of the last failure on this thread; valid until the next failing midge call
/// on this thread.
pub(crate) fn last_error_message() -> *const c_char {
    LAST_ERROR.with(|l| match &*l.borrow() {
        Some(e) => e.message.as_ptr(),
        None => c"".as_ptr(),
    })
}

pub(crate) fn last_error_reason_code() -> Option<u8> {
    LAST_ERROR.with(|l| l.borrow().as_ref().and_then(|e| e.reason_code))
}

/// The MQTT 5.0 reason codes (table 2-6), one name each (0x00 has three, by packet).
const REASON_CODES: &[(u8, &CStr)] = &[
    (0x00, c"Success"),
    (0x01, c"Granted QoS 1"),
    (0x02, c"Granted QoS 2"),
    (0x04, c"Disconnect with Will Message"),
    (0x10, c"No matching subscribers"),
    (0x11, c"No subscription existed"),
    (0x18, c"Continue authentication"),
    (0x19, c"Re-authenticate"),
    (0x80, c"Unspecified error"),
    (0x81, c"Malformed Packet"),
    (0x82, c"Protocol Error"),
    (0x83, c"Implementation specific error"),
    (0x84, c"Unsupported Protocol Version"),
    (0x85, c"Client Identifier not valid"),
    (0x86, c"Bad User Name or Password"),
    (0x87, c"Not authorized"),
    (0x88, c"Server unavailable"),
    (0x89, c"Server busy"),
    (0x8A, c"Banned"),
    (0x8B, c"Server shutting down"),
    (0x8C, c"Bad authentication method"),
    (0x8D, c"Keep Alive timeout"),
    (0x8E, c"Session taken over"),
    (0x8F, c"Topic Filter invalid"),
    (0x90, c"Topic Name invalid"),
    (0x91, c"Packet Identifier in use"),
    (0x92, c"Packet Identifier not found"),
    (0x93, c"Receive Maximum exceeded"),
    (0x94, c"Topic Alias invalid"),
    (0x95, c"Packet too large"),
    (0x96, c"Message rate too high"),
    (0x97, c"Quota exceeded"),
    (0x98, c"Administrative action"),
    (0x99, c"Payload format invalid"),
    (0x9A, c"Retain not supported"),
    (0x9B, c"QoS not supported"),
    (0x9C, c"Use another server"),
    (0x9D, c"Server moved"),
    (0x9E, c"Shared Subscriptions not supported"),
    (0x9F, c"Connection rate exceeded"),
    (0xA0, c"Maximum connect time"),
    (0xA1, c"Subscription Identifiers not supported"),
    (0xA2, c"Wildcard Subscriptions not supported"),
];

pub(crate) fn reason_code_text(code: u8) -> &'static CStr {
    REASON_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(c"unknown", |(_, text)| *text)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error: {text}")
}

/// The panic boundary for functions returning `midge_result`: failures set the thread's
/// last error; a panic becomes `MIDGE_RESULT_PANIC`.
///
/// Every export instantiates this with its own closure, so only the success path stays
/// inline: the failure and panic paths are one out-of-line copy each (`failed`,
/// `caught_panic`) instead of one per export (about 1 KiB each of formatting and
/// drop code, docs/size.md).
pub(crate) fn guard(f: impl FnOnce() -> Result<(), FfiError>) -> midge_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => MIDGE_RESULT_OK,
        Ok(Err(e)) => failed(e),
        Err(payload) => {
            caught_panic(payload);
            MIDGE_RESULT_PANIC
        }
    }
}

/// The panic boundary for functions returning a value (an accessor or constructor): a panic
/// gives `fallback` and sets the thread's last error.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            caught_panic(payload);
            fallback
        }
    }
}

/// A failure's one report: the thread's last error, and the result to return. It takes the
/// error by value so that its drop is out of line too.
#[cold]
#[inline(never)]
#[allow(clippy::needless_pass_by_value)]
fn failed(e: FfiError) -> midge_result {
    set_last_error(&e.to_string(), e.reason_code());
    e.result()
}

/// A panic caught at the boundary becomes the thread's last error (the payload by value:
/// its drop is out of line too).
#[cold]
#[inline(never)]
#[allow(clippy::needless_pass_by_value)]
fn caught_panic(payload: Box<dyn Any + Send>) {
    set_last_error(&panic_message(payload.as_ref()), None);
}
