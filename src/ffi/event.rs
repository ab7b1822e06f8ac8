//! Events for the pull interface (`midge_client_next_event`) and completion handles for
//! non-blocking calls.

use std::ffi::{CString, c_char, c_int};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::ack::{Acked, midge_ack};
use super::handle::{self, Loan, read};
use super::message::{midge_connack, midge_disconnect, midge_message};
use super::ptr::cstring;
use super::result::{FfiError, MIDGE_RESULT_OK, guard, guard_value, midge_result};
use crate::codec::Properties;
use crate::error::Error;
use crate::protocol::{ConnAckInfo, PublishAck, SubscribeAck, UnsubscribeAck};
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
    /// A publish ended: `midge_event_ack` (result, packet id, reason code, the
    /// acknowledgement's properties). Every outcome comes with
    /// `midge_options_set_completion_events` (or a publish callback); without, only the
    /// failures of requests made with no completion (or whose completion was freed first).
    MIDGE_EVENT_PUBLISH_COMPLETE = 6,
    /// A subscribe ended: `midge_event_ack` (one reason code per filter).
    MIDGE_EVENT_SUBSCRIBE_COMPLETE = 7,
    /// An unsubscribe ended: `midge_event_ack`, as for subscribe.
    MIDGE_EVENT_UNSUBSCRIBE_COMPLETE = 8,
    /// The server accepted a re-authentication.
    MIDGE_EVENT_REAUTHENTICATED = 9,
    /// QoS 0 messages were dropped because the event queue was past twice its bounds (a
    /// safety net: reading stops at the bounds): `midge_event_count`.
    MIDGE_EVENT_MESSAGES_DROPPED = 10,
    /// A log line: `midge_event_log`.
    MIDGE_EVENT_LOG = 11,
    /// The client is closed; no event follows.
    MIDGE_EVENT_CLOSED = 12,
    /// A `midge_client_disconnect` the session refused (properties it cannot send) whose
    /// failure the call could not return (it was made with a NULL completion while the
    /// I/O thread was busy, e.g. from an inline callback) and no completion holds:
    /// `midge_event_ack` gives its result (`midge_ack_id` is 0 for a detached call). The
    /// connection goes on. Always to `midge_client_next_event` (there is no callback).
    MIDGE_EVENT_DISCONNECT_FAILED = 13,
    /// A `midge_client_reauthenticate` refused (not connected, no authenticator, MQTT
    /// 3.1.1), reported as `MIDGE_EVENT_DISCONNECT_FAILED` is: `midge_event_ack` gives
    /// the result.
    MIDGE_EVENT_REAUTHENTICATE_FAILED = 14,
    /// A publish made before a restart, restored from the client's store
    /// (`midge_options_set_store`), ended: `midge_event_ack` gives how (its `midge_ack_id`
    /// is the id its completion had then), `midge_event_message` what was published
    /// (topic, payload, QoS, properties). Always delivered, success or not, to
    /// `midge_client_next_event` (there is no callback).
    MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE = 15,
}

/// One event from `midge_client_next_event`, owned: free it with `midge_event_free`.
/// Objects it gives (message, CONNACK, cause, acknowledgement) are lent for as long as the
/// event lives (clone a message or CONNACK to keep it longer).
///
/// Methods: `midge_event_kind_of`, `midge_event_connack`, `midge_event_disconnect`,
/// `midge_event_message`, `midge_event_ack`, `midge_event_count`, `midge_event_log`,
/// `midge_event_free`.
#[derive(Debug)]
pub struct midge_event {
    kind: midge_event_kind,
    connack: Option<Loan<midge_connack>>,
    disconnect: Option<Loan<midge_disconnect>>,
    message: Option<Loan<midge_message>>,
    ack: Option<Loan<midge_ack>>,
    count: u64,
    log_level: c_int,
    text: Option<CString>,
}

impl midge_event {
    fn empty(kind: midge_event_kind) -> Self {
        Self {
            kind,
            connack: None,
            disconnect: None,
            message: None,
            ack: None,
            count: 0,
            log_level: 0,
            text: None,
        }
    }

    pub(crate) fn new(e: ClientEvent) -> Self {
        use midge_event_kind as K;
        let completed = |kind, ack| Self {
            ack: Some(Loan::new(ack)),
            ..Self::empty(kind)
        };
        match e {
            ClientEvent::Connected(info) => Self {
                connack: Some(Loan::new(midge_connack::new(*info))),
                ..Self::empty(K::MIDGE_EVENT_CONNECTED)
            },
            ClientEvent::ConnectionLost(cause) => Self {
                disconnect: Some(Loan::new(midge_disconnect::new(&cause))),
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
                message: Some(Loan::new(midge_message::new(m))),
                ..Self::empty(K::MIDGE_EVENT_MESSAGE)
            },
            ClientEvent::PublishComplete { id, result } => completed(
                K::MIDGE_EVENT_PUBLISH_COMPLETE,
                midge_ack::outcome(id, &result),
            ),
            ClientEvent::SubscribeComplete { id, result } => completed(
                K::MIDGE_EVENT_SUBSCRIBE_COMPLETE,
                midge_ack::outcome(id, &result),
            ),
            ClientEvent::UnsubscribeComplete { id, result } => completed(
                K::MIDGE_EVENT_UNSUBSCRIBE_COMPLETE,
                midge_ack::outcome(id, &result),
            ),
            ClientEvent::Reauthenticated => Self::empty(K::MIDGE_EVENT_REAUTHENTICATED),
            ClientEvent::RestoredPublishComplete {
                id,
                message,
                result,
            } => Self {
                message: Some(Loan::new(midge_message::new(*message))),
                ack: Some(Loan::new(midge_ack::outcome(id, &result))),
                ..Self::empty(K::MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE)
            },
            ClientEvent::DisconnectFailed { id, error } => completed(
                K::MIDGE_EVENT_DISCONNECT_FAILED,
                midge_ack::outcome::<PublishAck>(id, &Err(error)),
            ),
            ClientEvent::ReauthenticateFailed { id, error } => completed(
                K::MIDGE_EVENT_REAUTHENTICATE_FAILED,
                midge_ack::outcome::<PublishAck>(id, &Err(error)),
            ),
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

fn lent<T: std::any::Any + Send + Sync>(loan: Option<&Loan<T>>) -> *const T {
    loan.map_or(std::ptr::null(), Loan::ptr)
}

/// The kind of event (a `midge_event_kind`), or 0 for a dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_kind_of(event: *const midge_event) -> c_int {
    read(event, 0, |e| e.kind as c_int)
}

/// The CONNACK of a `MIDGE_EVENT_CONNECTED`, else NULL. Lent as long as the event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_connack(event: *const midge_event) -> *const midge_connack {
    read(event, std::ptr::null(), |e| lent(e.connack.as_ref()))
}

/// The cause of a `MIDGE_EVENT_CONNECTION_LOST`, else NULL. Lent as long as the event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_disconnect(event: *const midge_event) -> *const midge_disconnect {
    read(event, std::ptr::null(), |e| lent(e.disconnect.as_ref()))
}

/// The message of a `MIDGE_EVENT_MESSAGE` (or what a `MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE`
/// published), else NULL. Lent as long as the event; clone it to keep it. (QoS 1/2
/// messages were acknowledged when the event was handed out.)
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_message(event: *const midge_event) -> *const midge_message {
    read(event, std::ptr::null(), |e| lent(e.message.as_ref()))
}

/// How the request of a `MIDGE_EVENT_PUBLISH_COMPLETE`, `_SUBSCRIBE_COMPLETE`,
/// `_UNSUBSCRIBE_COMPLETE`, `_DISCONNECT_FAILED` or `_REAUTHENTICATE_FAILED` ended (id, result, packet id, reason codes, the
/// acknowledgement's properties), else NULL. Lent as long as the event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_ack(event: *const midge_event) -> *const midge_ack {
    read(event, std::ptr::null(), |e| lent(e.ack.as_ref()))
}

/// The number an event carries: dropped messages, reconnect attempt, renewed subscriptions.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_count(event: *const midge_event) -> u64 {
    read(event, 0, |e| e.count)
}

/// The text of a `MIDGE_EVENT_LOG` (its `midge_log_level` to `level`, may be NULL), else
/// NULL.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_log(event: *const midge_event, level: *mut c_int) -> *const c_char {
    let (text, l) = read(event, (std::ptr::null(), 0), |e| {
        (
            e.text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
            e.log_level,
        )
    });
    if !text.is_null() {
        super::ptr::write_opt(level, l);
    }
    text
}

/// Frees the event in `*event` and sets `*event` to NULL; what it lent goes with it. NULL
/// and an event freed before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_event_free(event: *mut *mut midge_event) {
    guard_value((), || drop(handle::free(event)));
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

/// An ended request as C reads it: the result of a wait, and the objects it lends.
#[derive(Debug)]
struct Finished {
    result: Result<(), FfiError>,
    ack: Loan<midge_ack>,
    connack: Option<Loan<midge_connack>>,
}

/// A non-blocking call's handle: wait on it or poll it, then read how it ended with
/// `midge_completion_ack`. Freeing it does not cancel the request.
///
/// Methods: `midge_completion_id`, `midge_completion_wait`, `midge_completion_poll`,
/// `midge_completion_ack`, `midge_completion_connack`, `midge_completion_free`.
#[derive(Debug)]
pub struct midge_completion {
    pending: Pending,
    finished: OnceLock<Finished>,
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
        let id = self.id();
        let f = match &self.pending {
            Pending::Connect(c) => settle(id, c, timeout, |info| Finished {
                connack: Some(Loan::new(midge_connack::new(info))),
                ..Finished::ok(id)
            })?,
            Pending::Publish(c) => settle(id, c, timeout, |a| acked(id, &a))?,
            Pending::Subscribe(c) => settle(id, c, timeout, |a| acked(id, &a))?,
            Pending::Unsubscribe(c) => settle(id, c, timeout, |a| acked(id, &a))?,
            Pending::Done(c) => settle(id, c, timeout, |()| Finished::ok(id))?,
        };
        Ok(self.finished.get_or_init(|| f))
    }
}

impl Drop for midge_completion {
    /// Freed before the request ended: a later failure is reported as an event, since no
    /// one can read it here any more.
    fn drop(&mut self) {
        match &self.pending {
            Pending::Connect(c) => drop(c.abandon()),
            Pending::Publish(c) => drop(c.abandon()),
            Pending::Subscribe(c) => drop(c.abandon()),
            Pending::Unsubscribe(c) => drop(c.abandon()),
            Pending::Done(c) => drop(c.abandon()),
        }
    }
}

impl Finished {
    /// A request that ended well with no acknowledgement to show (connect, disconnect).
    fn ok(id: u64) -> Self {
        Self {
            result: Ok(()),
            ack: Loan::new(midge_ack::new(
                id,
                MIDGE_RESULT_OK,
                Vec::new(),
                Properties::new(),
            )),
            connack: None,
        }
    }
}

fn acked<A: Acked>(id: u64, ack: &A) -> Finished {
    Finished {
        result: Ok(()),
        ack: Loan::new(midge_ack::acked(id, ack)),
        connack: None,
    }
}

/// Waits on `c` up to `timeout`: its outcome once it ended (`ok` builds it from a
/// success), or why it has not (`Timeout`, `WouldDeadlock`).
fn settle<T: Clone>(
    id: u64,
    c: &Completion<T>,
    timeout: Duration,
    ok: impl FnOnce(T) -> Finished,
) -> Result<Finished, FfiError> {
    match c.wait(timeout) {
        Err(e @ (Error::Timeout | Error::WouldDeadlock)) => Err(FfiError::Midge(e)),
        Ok(v) => Ok(ok(v)),
        Err(e) => {
            let codes = super::result::refusal_code(&e).into_iter().collect();
            // A refusing CONNACK's properties are the server's word on why.
            let properties = match &e {
                Error::ConnectionRefused(r) => r.properties.clone(),
                _ => Properties::new(),
            };
            let e = FfiError::Midge(e);
            Ok(Finished {
                ack: Loan::new(midge_ack::new(id, e.result(), codes, properties)),
                result: Err(e),
                connack: None,
            })
        }
    }
}

fn completion(c: *const midge_completion) -> Result<Arc<midge_completion>, FfiError> {
    if c.is_null() {
        return Err(FfiError::null("completion"));
    }
    handle::get(c).ok_or_else(|| FfiError::stale("completion"))
}

/// The request's id, unique in the process (0 for a dead handle); callbacks and events
/// carry it (`midge_ack_id`).
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

/// How the request ended (result, packet id, reason codes, the acknowledgement's reason
/// string and properties; for a refused connect the CONNACK's code and properties), or
/// NULL while it has not (never blocks). Lent as long as the completion.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_ack(completion: *const midge_completion) -> *const midge_ack {
    guard_value(std::ptr::null(), || {
        let Ok(c) = self::completion(completion) else {
            return std::ptr::null();
        };
        c.finished(Duration::ZERO)
            .map_or(std::ptr::null(), |f| f.ack.ptr())
    })
}

/// The CONNACK of a successful connect, else NULL. Lent as long as the completion.
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
            .and_then(|f| f.connack.as_ref().map(Loan::ptr))
            .unwrap_or(std::ptr::null())
    })
}

/// Frees the completion in `*completion` (the request goes on) and sets `*completion` to
/// NULL. NULL and a completion freed before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_completion_free(completion: *mut *mut midge_completion) {
    guard_value((), || drop(handle::free(completion)));
}
