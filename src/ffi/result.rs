//! `midge_result`, the thread's last error, and the panic boundary every exported function
//! runs inside.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;
use crate::protocol::{DisconnectCause, RequestError};

/// The result of every fallible midge function. 0 is success; the values are fixed.
/// `midge_result_str()` gives a static text, `midge_last_error_message()` the detail of the
/// last failure on the calling thread.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_result {
    MIDGE_RESULT_OK = 0,
    /// NULL where a value is needed, a freed or wrong handle, a value out of range.
    MIDGE_RESULT_INVALID_ARGUMENT = 1,
    /// A string that is not valid UTF-8.
    MIDGE_RESULT_INVALID_UTF8 = 2,
    /// A topic name or filter that breaks the rules of 4.7 (wildcards in a topic, ...).
    MIDGE_RESULT_INVALID_TOPIC = 3,
    /// A property not allowed where it is used, a duplicate, or a bad value.
    MIDGE_RESULT_INVALID_PROPERTY = 4,
    /// A broker address that does not parse, or an unsupported scheme.
    MIDGE_RESULT_INVALID_ADDRESS = 5,
    /// Over the server's Maximum Packet Size or a limit of the standard.
    MIDGE_RESULT_TOO_LARGE = 6,
    /// The server does not support it (QoS, retain, wildcard, shared or identified
    /// subscriptions), per its CONNACK.
    MIDGE_RESULT_NOT_SUPPORTED = 7,
    /// The offline queue is full; the message was not queued.
    MIDGE_RESULT_QUEUE_FULL = 8,
    /// The wait ended first; the request goes on.
    MIDGE_RESULT_TIMEOUT = 9,
    /// Not completed yet (from `midge_completion_poll`).
    MIDGE_RESULT_PENDING = 10,
    /// Needs a live connection.
    MIDGE_RESULT_NOT_CONNECTED = 11,
    /// The server refused the connection (CONNACK reason code >= 0x80).
    MIDGE_RESULT_CONNECTION_REFUSED = 12,
    /// The connection ended before the request completed.
    MIDGE_RESULT_DISCONNECTED = 13,
    /// The server answered with a failure reason code (>= 0x80).
    MIDGE_RESULT_REFUSED = 14,
    /// The server did not keep the session, so the exchange cannot complete.
    MIDGE_RESULT_SESSION_LOST = 15,
    /// The message expired (Message Expiry Interval) before it could be sent.
    MIDGE_RESULT_EXPIRED = 16,
    /// The client was closed.
    MIDGE_RESULT_CLOSED = 17,
    /// A packet broke the rules of the standard.
    MIDGE_RESULT_PROTOCOL_ERROR = 18,
    /// An operating-system error (connect, DNS, socket).
    MIDGE_RESULT_IO = 19,
    /// All 65,535 packet identifiers are in flight.
    MIDGE_RESULT_NO_PACKET_ID = 20,
    /// No such property, index or value.
    MIDGE_RESULT_NOT_FOUND = 21,
    /// A wait on midge's I/O thread (in an authenticator callback) could never end.
    MIDGE_RESULT_WOULD_DEADLOCK = 22,
    /// A bug in midge: a Rust panic was caught at the boundary. The object involved may be
    /// unusable; the process is not harmed.
    MIDGE_RESULT_PANIC = 23,
}

use midge_result as R;

impl midge_result {
    pub(crate) fn text(self) -> &'static std::ffi::CStr {
        match self {
            R::MIDGE_RESULT_OK => c"ok",
            R::MIDGE_RESULT_INVALID_ARGUMENT => c"invalid argument",
            R::MIDGE_RESULT_INVALID_UTF8 => c"invalid UTF-8",
            R::MIDGE_RESULT_INVALID_TOPIC => c"invalid topic name or filter",
            R::MIDGE_RESULT_INVALID_PROPERTY => c"invalid property",
            R::MIDGE_RESULT_INVALID_ADDRESS => c"invalid broker address",
            R::MIDGE_RESULT_TOO_LARGE => c"too large",
            R::MIDGE_RESULT_NOT_SUPPORTED => c"not supported by the server",
            R::MIDGE_RESULT_QUEUE_FULL => c"offline queue full",
            R::MIDGE_RESULT_TIMEOUT => c"timed out",
            R::MIDGE_RESULT_PENDING => c"pending",
            R::MIDGE_RESULT_NOT_CONNECTED => c"not connected",
            R::MIDGE_RESULT_CONNECTION_REFUSED => c"connection refused by the server",
            R::MIDGE_RESULT_DISCONNECTED => c"disconnected",
            R::MIDGE_RESULT_REFUSED => c"refused by the server",
            R::MIDGE_RESULT_SESSION_LOST => c"session lost",
            R::MIDGE_RESULT_EXPIRED => c"message expired",
            R::MIDGE_RESULT_CLOSED => c"client closed",
            R::MIDGE_RESULT_PROTOCOL_ERROR => c"protocol error",
            R::MIDGE_RESULT_IO => c"I/O error",
            R::MIDGE_RESULT_NO_PACKET_ID => c"no free packet identifier",
            R::MIDGE_RESULT_NOT_FOUND => c"not found",
            R::MIDGE_RESULT_WOULD_DEADLOCK => c"would deadlock",
            R::MIDGE_RESULT_PANIC => c"internal error (panic caught)",
        }
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
            Self::Invalid(_) => R::MIDGE_RESULT_INVALID_ARGUMENT,
            Self::Utf8(_) => R::MIDGE_RESULT_INVALID_UTF8,
            Self::NotFound(_) => R::MIDGE_RESULT_NOT_FOUND,
            Self::Pending => R::MIDGE_RESULT_PENDING,
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
        Error::Codec(_) => R::MIDGE_RESULT_PROTOCOL_ERROR,
        Error::Request(r) => request_result(r),
        Error::Transport(_) => R::MIDGE_RESULT_INVALID_ADDRESS,
        Error::ConnectionRefused(_) => R::MIDGE_RESULT_CONNECTION_REFUSED,
        // A connection that could not be made at all (DNS, TCP) is an I/O error.
        Error::Disconnected(cause) if matches!(**cause, DisconnectCause::Transport { .. }) => {
            R::MIDGE_RESULT_IO
        }
        Error::Disconnected(_) => R::MIDGE_RESULT_DISCONNECTED,
        Error::Timeout => R::MIDGE_RESULT_TIMEOUT,
        Error::Closed => R::MIDGE_RESULT_CLOSED,
        Error::WouldDeadlock => R::MIDGE_RESULT_WOULD_DEADLOCK,
        Error::InvalidArgument(_) => R::MIDGE_RESULT_INVALID_ARGUMENT,
        Error::Io(_) => R::MIDGE_RESULT_IO,
    }
}

pub(crate) fn request_result(r: &RequestError) -> midge_result {
    match r {
        RequestError::InvalidTopic(_)
        | RequestError::InvalidTopicFilter(_)
        | RequestError::NoTopicFilters
        | RequestError::UnknownTopicAlias(_) => R::MIDGE_RESULT_INVALID_TOPIC,
        RequestError::InvalidProperties(_) => R::MIDGE_RESULT_INVALID_PROPERTY,
        RequestError::QosNotSupported { .. }
        | RequestError::RetainNotSupported
        | RequestError::TopicAliasInvalid { .. }
        | RequestError::NotSupported(_) => R::MIDGE_RESULT_NOT_SUPPORTED,
        RequestError::PacketTooLarge { .. } => R::MIDGE_RESULT_TOO_LARGE,
        RequestError::QueueFull => R::MIDGE_RESULT_QUEUE_FULL,
        RequestError::Expired => R::MIDGE_RESULT_EXPIRED,
        RequestError::SessionLost => R::MIDGE_RESULT_SESSION_LOST,
        RequestError::Closed => R::MIDGE_RESULT_CLOSED,
        RequestError::NotConnected => R::MIDGE_RESULT_NOT_CONNECTED,
        RequestError::NoPacketIdentifier => R::MIDGE_RESULT_NO_PACKET_ID,
        RequestError::Refused(_) => R::MIDGE_RESULT_REFUSED,
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

pub(crate) fn last_error_reason_code() -> c_int {
    LAST_ERROR.with(|l| {
        l.borrow()
            .as_ref()
            .and_then(|e| e.reason_code)
            .map_or(-1, c_int::from)
    })
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
pub(crate) fn guard(f: impl FnOnce() -> Result<(), FfiError>) -> midge_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => R::MIDGE_RESULT_OK,
        Ok(Err(e)) => {
            set_last_error(&e.to_string(), e.reason_code());
            e.result()
        }
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()), None);
            R::MIDGE_RESULT_PANIC
        }
    }
}

/// The panic boundary for functions returning a value (an accessor or constructor): a panic
/// gives `fallback` and sets the thread's last error.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()), None);
            fallback
        }
    }
}
