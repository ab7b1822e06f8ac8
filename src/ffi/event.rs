//! Events for the pull interface (`midge_client_next_event`) and completion handles for
//! non-blocking calls.

use std::ffi::{CString, c_char, c_int};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::handle;
use super::message::{PropertyView, midge_connack, midge_disconnect, midge_message, user_property};
use super::ptr::{cstring, write_out};
use super::result::{FfiError, guard, guard_value, midge_result, request_result};
use crate::error::Error;
use crate::protocol::{ConnAckInfo, PublishAck, RequestError, SubscribeAck, UnsubscribeAck};
use crate::runtime::{ClientEvent, Completion};

/// What a `midge_event` is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_event_kind {
    /// Connected: `midge_event_connack`.
    MIDGE_EVENT_CONNECTED = 1,
    /// The connection ended or could not be made: `midge_event_disconnect`.
    MIDGE_EVENT_CONNECTION_LOST = 2,
    /// A reconnection is scheduled: `midge_event_count` is the attempt number.
    MIDGE_EVENT_RECONNECTING = 3,
    /// The server did not keep the session: `midge_event_count` is how many subscriptions
    /// were renewed.
    MIDGE_EVENT_SESSION_LOST = 4,
    /// A message: `midge_event_message`.
    MIDGE_EVENT_MESSAGE = 5,
    /// A publish ended: `midge_event_id`, `midge_event_result`,
    /// `midge_event_packet_id`, `midge_event_reason_codes` (one code). Completion events
    /// come only with `midge_options_set_completion_events`.
    MIDGE_EVENT_PUBLISH_COMPLETE = 6,
    /// A subscribe ended: `midge_event_id`, `midge_event_result`,
    /// `midge_event_reason_codes` (one per filter).
    MIDGE_EVENT_SUBSCRIBE_COMPLETE = 7,
    /// An unsubscribe ended: as for subscribe.
    MIDGE_EVENT_UNSUBSCRIBE_COMPLETE = 8,
    /// The server accepted a re-authentication.
    MIDGE_EVENT_REAUTHENTICATED = 9,
    /// QoS 0 messages were dropped because the application fell behind:
    /// `midge_event_count`.
    MIDGE_EVENT_MESSAGES_DROPPED = 10,
    /// A log line: `midge_event_log`.
    MIDGE_EVENT_LOG = 11,
    /// The client is closed; no event follows.
    MIDGE_EVENT_CLOSED = 12,
}

/// One event from `midge_client_next_event`, owned: free it with `midge_event_free`.
/// Objects it gives (message, CONNACK, cause) live as long as the event (clone a message
/// to keep it longer).
///
/// Methods: `midge_event_kind_of`, `midge_event_connack`, `midge_event_disconnect`,
/// `midge_event_message`, `midge_event_id`, `midge_event_result`, `midge_event_packet_id`,
/// `midge_event_reason_codes`, `midge_event_count`, `midge_event_log`, `midge_event_free`.
#[derive(Debug)]
pub struct midge_event {
    kind: midge_event_kind,
    connack: Option<midge_connack>,
    disconnect: Option<midge_disconnect>,
    message: Option<Arc<midge_message>>,
    id: u64,
    result: midge_result,
    packet_id: u16,
    reason_codes: Vec<u8>,
    count: u64,
    log_level: c_int,
    text: Option<CString>,
}

/// The outcome of a request as C sees it: its result and the reason codes the server sent.
pub(crate) struct Outcome {
    pub(crate) result: midge_result,
    pub(crate) packet_id: u16,
    pub(crate) reason_codes: Vec<u8>,
}

/// What the three acknowledgements (PUBACK/PUBREC/PUBCOMP, SUBACK, UNSUBACK) give C.
pub(crate) trait Acked {
    fn packet_id(&self) -> u16;
    fn reason_codes(&self) -> Vec<u8>;
    fn into_properties(self) -> crate::codec::Properties;
}

impl Acked for PublishAck {
    fn packet_id(&self) -> u16 {
        self.packet_id
    }
    fn reason_codes(&self) -> Vec<u8> {
        vec![self.reason.code()]
    }
    fn into_properties(self) -> crate::codec::Properties {
        self.properties
    }
}

impl Acked for SubscribeAck {
    fn packet_id(&self) -> u16 {
        self.packet_id
    }
    fn reason_codes(&self) -> Vec<u8> {
        self.reason_codes.iter().map(|c| c.as_u8()).collect()
    }
    fn into_properties(self) -> crate::codec::Properties {
        self.properties
    }
}

impl Acked for UnsubscribeAck {
    fn packet_id(&self) -> u16 {
        self.packet_id
    }
    fn reason_codes(&self) -> Vec<u8> {
        self.reason_codes.iter().map(|c| c.as_u8()).collect()
    }
    fn into_properties(self) -> crate::codec::Properties {
        self.properties
    }
}

/// A completion event's outcome; a refused publish keeps its reason code.
pub(crate) fn outcome<A: Acked>(r: &Result<A, RequestError>) -> Outcome {
    match r {
        Ok(ack) => Outcome {
            result: midge_result::MIDGE_RESULT_OK,
            packet_id: ack.packet_id(),
            reason_codes: ack.reason_codes(),
        },
        Err(e) => Outcome {
            result: request_result(e),
            packet_id: 0,
            reason_codes: match e {
                RequestError::Refused(a) => vec![a.code()],
                _ => Vec::new(),
            },
        },
    }
}

impl midge_event {
    fn empty(kind: midge_event_kind) -> Self {
        Self {
            kind,
            connack: None,
            disconnect: None,
            message: None,
            id: 0,
            result: midge_result::MIDGE_RESULT_OK,
            packet_id: 0,
            reason_codes: Vec::new(),
            count: 0,
            log_level: 0,
            text: None,
        }
    }

    pub(crate) fn new(e: ClientEvent) -> Self {
        use midge_event_kind as K;
        let completed = |kind, id, o: Outcome| Self {
            id,
            result: o.result,
            packet_id: o.packet_id,
            reason_codes: o.reason_codes,
            ..Self::empty(kind)
        };
        match e {
            ClientEvent::Connected(info) => Self {
                connack: Some(midge_connack::new(*info)),
                ..Self::empty(K::MIDGE_EVENT_CONNECTED)
            },
            ClientEvent::ConnectionLost(cause) => Self {
                disconnect: Some(midge_disconnect::new(&cause)),
                ..Self::empty(K::MIDGE_EVENT_CONNECTION_LOST)
            },
            ClientEvent::Reconnecting { attempt, .. } => Self {
                count: attempt.into(),
                ..Self::empty(K::MIDGE_EVENT_RECONNECTING)
            },
            ClientEvent::SessionLost { resubscribed } => Self {
                count: resubscribed as u64,
                ..Self::empty(K::MIDGE_EVENT_SESSION_LOST)
            },
            ClientEvent::Message(m) => Self {
                message: Some(midge_message::new(m)),
                ..Self::empty(K::MIDGE_EVENT_MESSAGE)
            },
            ClientEvent::PublishComplete { id, result } => {
                completed(K::MIDGE_EVENT_PUBLISH_COMPLETE, id, outcome(&result))
            }
            ClientEvent::SubscribeComplete { id, result } => {
                completed(K::MIDGE_EVENT_SUBSCRIBE_COMPLETE, id, outcome(&result))
            }
            ClientEvent::UnsubscribeComplete { id, result } => {
                completed(K::MIDGE_EVENT_UNSUBSCRIBE_COMPLETE, id, outcome(&result))
            }
            ClientEvent::Reauthenticated => Self::empty(K::MIDGE_EVENT_REAUTHENTICATED),
            ClientEvent::MessagesDropped { count } => Self {
                count,
                ..Self::empty(K::MIDGE_EVENT_MESSAGES_DROPPED)
            },
            ClientEvent::Log { level, message } => Self {
                log_level: level as c_int,
                text: Some(cstring(&message)),
                ..Self::empty(K::MIDGE_EVENT_LOG)
            },
            ClientEvent::Closed => Self::empty(K::MIDGE_EVENT_CLOSED),
        }
    }
}

fn event(e: *const midge_event) -> Option<Arc<midge_event>> {
    handle::get(e)
}

/// The kind of event (a `midge_event_kind`), or 0 for NULL or a freed event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_kind_of(event: *const midge_event) -> c_int {
    guard_value(0, || self::event(event).map_or(0, |e| e.kind as c_int))
}

/// The CONNACK of a `MIDGE_EVENT_CONNECTED`, else NULL. Valid as long as the event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_connack(event: *const midge_event) -> *const midge_connack {
    guard_value(std::ptr::null(), || {
        self::event(event)
            .and_then(|e| e.connack.as_ref().map(std::ptr::from_ref))
            .unwrap_or(std::ptr::null())
    })
}

/// The cause of a `MIDGE_EVENT_CONNECTION_LOST`, else NULL. Valid as long as the event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_disconnect(event: *const midge_event) -> *const midge_disconnect {
    guard_value(std::ptr::null(), || {
        self::event(event)
            .and_then(|e| e.disconnect.as_ref().map(std::ptr::from_ref))
            .unwrap_or(std::ptr::null())
    })
}

/// The message of a `MIDGE_EVENT_MESSAGE`, else NULL. Valid as long as the event; clone it
/// to keep it. (QoS 1/2 messages were acknowledged when the event was handed out.)
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_message(event: *const midge_event) -> *const midge_message {
    guard_value(std::ptr::null(), || {
        self::event(event)
            .and_then(|e| e.message.as_ref().map(Arc::as_ptr))
            .unwrap_or(std::ptr::null())
    })
}

/// The completion id (as `midge_completion_id`) of a completion event, else 0.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_id(event: *const midge_event) -> u64 {
    guard_value(0, || self::event(event).map_or(0, |e| e.id))
}

/// The result of a completion event (`MIDGE_RESULT_OK` for other events).
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_result(event: *const midge_event) -> midge_result {
    guard_value(midge_result::MIDGE_RESULT_INVALID_ARGUMENT, || {
        self::event(event).map_or(midge_result::MIDGE_RESULT_INVALID_ARGUMENT, |e| e.result)
    })
}

/// The packet identifier of a completion event (0 for QoS 0 or none).
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_packet_id(event: *const midge_event) -> u16 {
    guard_value(0, || self::event(event).map_or(0, |e| e.packet_id))
}

/// The reason codes of a completion event (one for a publish, one per filter for
/// subscribe/unsubscribe); their number goes to `count` (may be NULL). NULL when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_reason_codes(
    event: *const midge_event,
    count: *mut usize,
) -> *const u8 {
    guard_value(std::ptr::null(), || {
        let Some(e) = self::event(event) else {
            super::ptr::write_opt(count, 0);
            return std::ptr::null();
        };
        super::ptr::write_opt(count, e.reason_codes.len());
        if e.reason_codes.is_empty() {
            std::ptr::null()
        } else {
            e.reason_codes.as_ptr()
        }
    })
}

/// The number an event carries: dropped messages, reconnect attempt, renewed subscriptions.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_count(event: *const midge_event) -> u64 {
    guard_value(0, || self::event(event).map_or(0, |e| e.count))
}

/// The text of a `MIDGE_EVENT_LOG` (its `midge_log_level` to `level`, may be NULL), else
/// NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_log(event: *const midge_event, level: *mut c_int) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let Some(e) = self::event(event) else {
            return std::ptr::null();
        };
        super::ptr::write_opt(level, e.log_level);
        e.text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
    })
}

/// Frees an event. NULL and double frees are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_free(event: *mut midge_event) {
    guard_value((), || handle::release(event.cast_const()));
}

// ---------------------------------------------------------------------------- completions

pub(crate) enum Pending {
    Connect(Completion<ConnAckInfo>),
    Publish(Completion<PublishAck>),
    Subscribe(Completion<SubscribeAck>),
    Unsubscribe(Completion<UnsubscribeAck>),
    Done(Completion<()>),
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

#[derive(Debug)]
struct Finished {
    result: Result<(), FfiError>,
    packet_id: u16,
    reason_codes: Vec<u8>,
    connack: Option<midge_connack>,
    /// The acknowledgement's properties (reason string, user properties).
    ack: Option<PropertyView>,
}

/// A non-blocking call's handle: wait on it or poll it, then read the outcome. Freeing it
/// does not cancel the request.
///
/// Methods: `midge_completion_id`, `midge_completion_wait`, `midge_completion_poll`,
/// `midge_completion_reason_code`, `midge_completion_reason_codes`,
/// `midge_completion_packet_id`, `midge_completion_connack`,
/// `midge_completion_reason_string`, `midge_completion_user_property_count`,
/// `midge_completion_user_property`, `midge_completion_free`.
#[derive(Debug)]
pub struct midge_completion {
    pending: Pending,
    finished: OnceLock<Finished>,
}

fn request_error(e: Error) -> (FfiError, Vec<u8>) {
    let codes = super::result::refusal_code(&e).into_iter().collect();
    (FfiError::Midge(e), codes)
}

/// The outcome of a request its acknowledgement ended.
fn acked<A: Acked>(ack: A) -> Finished {
    Finished {
        result: Ok(()),
        packet_id: ack.packet_id(),
        reason_codes: ack.reason_codes(),
        connack: None,
        ack: Some(PropertyView::new(ack.into_properties())),
    }
}

/// Splits a wait's result: still pending (or not waitable) vs. ended.
fn split<T>(r: Result<T, Error>) -> Result<Result<T, (FfiError, Vec<u8>)>, FfiError> {
    match r {
        Err(Error::Timeout) => Err(FfiError::Midge(Error::Timeout)),
        Err(Error::WouldDeadlock) => Err(FfiError::Midge(Error::WouldDeadlock)),
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(request_error(e))),
    }
}

impl midge_completion {
    pub(crate) fn new(pending: Pending) -> Self {
        Self {
            pending,
            finished: OnceLock::new(),
        }
    }

    fn id(&self) -> u64 {
        match &self.pending {
            Pending::Connect(c) => c.id(),
            Pending::Publish(c) => c.id(),
            Pending::Subscribe(c) => c.id(),
            Pending::Unsubscribe(c) => c.id(),
            Pending::Done(c) => c.id(),
        }
    }

    /// Waits up to `timeout` (zero: just looks) and returns the outcome once there.
    fn finished(&self, timeout: Duration) -> Result<&Finished, FfiError> {
        if let Some(f) = self.finished.get() {
            return Ok(f);
        }
        let f = match &self.pending {
            Pending::Connect(c) => settle(c, timeout, |info| Finished {
                connack: Some(midge_connack::new(info)),
                ..Finished::blank(Ok(()))
            })?,
            Pending::Publish(c) => settle(c, timeout, acked)?,
            Pending::Subscribe(c) => settle(c, timeout, acked)?,
            Pending::Unsubscribe(c) => settle(c, timeout, acked)?,
            Pending::Done(c) => settle(c, timeout, |()| Finished::blank(Ok(())))?,
        };
        Ok(self.finished.get_or_init(|| f))
    }
}

impl Finished {
    fn blank(result: Result<(), FfiError>) -> Self {
        Self {
            result,
            packet_id: 0,
            reason_codes: Vec::new(),
            connack: None,
            ack: None,
        }
    }
}

/// Waits on `c` up to `timeout`: its outcome once it ended (`ok` builds it from a
/// success), or why it has not (`Timeout`, `WouldDeadlock`).
fn settle<T: Clone>(
    c: &Completion<T>,
    timeout: Duration,
    ok: impl FnOnce(T) -> Finished,
) -> Result<Finished, FfiError> {
    Ok(match split(c.wait(timeout))? {
        Ok(v) => ok(v),
        Err((e, reason_codes)) => Finished {
            reason_codes,
            ..Finished::blank(Err(e))
        },
    })
}

fn completion(c: *const midge_completion) -> Result<Arc<midge_completion>, FfiError> {
    if c.is_null() {
        return Err(FfiError::null("completion"));
    }
    handle::get(c).ok_or_else(|| FfiError::stale("completion"))
}

/// The request's id, unique in the process (0 for NULL); completion callbacks and events
/// carry it.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_id(completion: *const midge_completion) -> u64 {
    guard_value(0, || self::completion(completion).map_or(0, |c| c.id()))
}

/// Waits up to `timeout_ms` for the request to end and returns its result:
/// `MIDGE_RESULT_TIMEOUT` if it has not ended (it goes on; wait again or poll), else the
/// request's own result (e.g. `MIDGE_RESULT_REFUSED` for a PUBACK with a failure code).
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_wait(
    completion: *const midge_completion,
    timeout_ms: u32,
) -> midge_result {
    guard(|| {
        let c = self::completion(completion)?;
        c.finished(Duration::from_millis(timeout_ms.into()))?
            .result
            .clone()
    })
}

/// The request's result if it has ended, else `MIDGE_RESULT_PENDING`. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_poll(completion: *const midge_completion) -> midge_result {
    guard(|| {
        let c = self::completion(completion)?;
        match c.finished(Duration::ZERO) {
            Err(FfiError::Midge(Error::Timeout)) => Err(FfiError::Pending),
            other => other?.result.clone(),
        }
    })
}

/// The reason code of an ended publish (the PUBACK/PUBREC/PUBCOMP code, 0 for QoS 0, also
/// for a refusal) or refused connect. `MIDGE_RESULT_PENDING` before the end,
/// `MIDGE_RESULT_NOT_FOUND` when the server sent no single code.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_reason_code(
    completion: *const midge_completion,
    reason_code: *mut u8,
) -> midge_result {
    guard(|| {
        let c = self::completion(completion)?;
        let f = match c.finished(Duration::ZERO) {
            Err(FfiError::Midge(Error::Timeout)) => return Err(FfiError::Pending),
            other => other?,
        };
        match (&c.pending, f.reason_codes.as_slice()) {
            (Pending::Publish(_) | Pending::Connect(_), [code]) => {
                write_out(reason_code, *code, "reason_code")
            }
            _ => Err(FfiError::NotFound("no single reason code".into())),
        }
    })
}

/// The reason codes of an ended subscribe or unsubscribe, one per filter in order; their
/// number to `count` (may be NULL). NULL while pending or when there are none. Valid as
/// long as the completion.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_reason_codes(
    completion: *const midge_completion,
    count: *mut usize,
) -> *const u8 {
    guard_value(std::ptr::null(), || {
        super::ptr::write_opt(count, 0);
        let Ok(c) = self::completion(completion) else {
            return std::ptr::null();
        };
        let Ok(f) = c.finished(Duration::ZERO) else {
            return std::ptr::null();
        };
        // The completion is kept alive by the caller's handle; its `Finished` lives as long.
        let codes = &f.reason_codes;
        super::ptr::write_opt(count, codes.len());
        if codes.is_empty() {
            std::ptr::null()
        } else {
            codes.as_ptr()
        }
    })
}

/// The packet identifier the request used (0 for QoS 0 or before it ended).
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_packet_id(completion: *const midge_completion) -> u16 {
    guard_value(0, || {
        self::completion(completion)
            .ok()
            .and_then(|c| c.finished(Duration::ZERO).ok().map(|f| f.packet_id))
            .unwrap_or(0)
    })
}

/// The CONNACK of a successful connect, else NULL. Valid as long as the completion.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_connack(
    completion: *const midge_completion,
) -> *const midge_connack {
    guard_value(std::ptr::null(), || {
        let Ok(c) = self::completion(completion) else {
            return std::ptr::null();
        };
        c.finished(Duration::ZERO)
            .ok()
            .and_then(|f| f.connack.as_ref().map(std::ptr::from_ref))
            .unwrap_or(std::ptr::null())
    })
}

/// The Reason String of the acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK or UNSUBACK)
/// that ended the request, or NULL (none, pending, or no acknowledgement). Valid as long as
/// the completion.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_reason_string(
    completion: *const midge_completion,
) -> *const std::ffi::c_char {
    guard_value(std::ptr::null(), || {
        let Ok(c) = self::completion(completion) else {
            return std::ptr::null();
        };
        c.finished(Duration::ZERO)
            .ok()
            .and_then(|f| f.ack.as_ref())
            .map_or(std::ptr::null(), |v| {
                v.string(crate::codec::PropertyId::ReasonString)
            })
    })
}

/// How many User Properties the acknowledgement that ended the request carried.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_user_property_count(
    completion: *const midge_completion,
) -> usize {
    guard_value(0, || {
        self::completion(completion)
            .ok()
            .and_then(|c| {
                c.finished(Duration::ZERO)
                    .ok()
                    .and_then(|f| f.ack.as_ref().map(PropertyView::user_count))
            })
            .unwrap_or(0)
    })
}

/// The `index`-th User Property of the acknowledgement, valid as long as the completion.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_user_property(
    completion: *const midge_completion,
    index: usize,
    name: *mut *const std::ffi::c_char,
    value: *mut *const std::ffi::c_char,
) -> midge_result {
    guard_value(midge_result::MIDGE_RESULT_PANIC, || {
        let Ok(c) = self::completion(completion) else {
            return user_property(None, index, name, value);
        };
        let view = c.finished(Duration::ZERO).ok().and_then(|f| f.ack.as_ref());
        user_property(view, index, name, value)
    })
}

/// Frees a completion handle (the request goes on). NULL and double frees are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_free(completion: *mut midge_completion) {
    guard_value((), || handle::release(completion.cast_const()));
}
