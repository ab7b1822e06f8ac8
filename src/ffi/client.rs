//! `midge_client`: the MQTT client, its calls and its callbacks.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::ack::{Acked, midge_ack};
use super::callback::{CCallback, midge_drop_cb};
use super::event::{Pending, midge_completion, midge_event};
use super::handle::{self, Loan};
use super::message::{midge_connack, midge_disconnect, midge_message};
use super::options::{client_options, midge_options, qos_from_c};
use super::properties::{midge_properties, properties_arg};
use super::ptr::{array_arg, bytes_arg, cstring, str_arg, write_array, write_opt, write_out};
use super::result::{FfiError, guard, midge_result};
use crate::codec::{
    ByteString, Bytes, DisconnectReasonCode, Property, PropertyContext, PropertyId, Subscription,
    SubscriptionOptions,
};
use crate::protocol::{PublishRequest, RequestError};
use crate::runtime::{Client, ClientEvent, start_and_wait};

/// Called on connect, with the CONNACK (lent for the call; `midge_connack_clone` keeps it).
pub type midge_connect_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, connack: *const midge_connack)>;
/// Called when the connection ends or an attempt fails, with the cause (lent for the call).
pub type midge_connection_lost_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, cause: *const midge_disconnect)>;
/// Called for each received message (lent for the call; `midge_message_clone` keeps
/// it). QoS 1/2 messages are acknowledged to the server after the callback returns (with
/// `midge_options_set_manual_ack`, by `midge_message_ack`).
pub type midge_message_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, message: *const midge_message)>;
/// Called when a publish, subscribe or unsubscribe ends, with how it ended (lent for the
/// call): `midge_ack_id` (the completion id), `midge_ack_result`, `midge_ack_packet_id`,
/// the reason code(s), and the acknowledgement's Reason String and properties.
pub type midge_ack_cb = Option<unsafe extern "C" fn(user_data: *mut c_void, ack: *const midge_ack)>;
/// Called with each log line at or above the level set by `midge_options_set_log_level`.
pub type midge_log_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: c_int, message: *const c_char)>;

/// Called with each redirection midge would follow (`midge_options_set_follow_redirects`):
/// the server that sent it, where midge would connect, the Server Reference as sent, and
/// the reason code (0x9C or 0x9D); the strings are lent for the call. Return true to follow
/// it, false to refuse it. Runs on midge's I/O thread: it must return quickly and may not
/// wait on midge (waiting fails with `MIDGE_RESULT_WOULD_DEADLOCK`).
pub type midge_redirect_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        from: *const c_char,
        to: *const c_char,
        reference: *const c_char,
        reason_code: u8,
    ) -> bool,
>;

/// Log levels for `midge_options_set_log_level` and the log callback.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_log_level {
    MIDGE_LOG_OFF = 0,
    MIDGE_LOG_ERROR = 1,
    MIDGE_LOG_WARN = 2,
    MIDGE_LOG_INFO = 3,
    MIDGE_LOG_DEBUG = 4,
}

// MQTT versions, for `midge_options_set_protocol_version` and what
// `midge_connack_protocol_version` returns (the CONNECT's Protocol Level). Constants, not a
// C enum: a new enum type would move the ABI probe's layout (abi/probe.py).
/// MQTT 3.1.1 (Protocol Level 4).
pub const MIDGE_PROTOCOL_V311: c_int = 4;
/// MQTT 5.0 (Protocol Level 5), the default.
pub const MIDGE_PROTOCOL_V5: c_int = 5;
/// For `midge_options_set_protocol_version` only: MQTT 5.0, falling back to 3.1.1 when the
/// server refuses 5.0.
pub const MIDGE_PROTOCOL_V5_OR_V311: c_int = 54;

/// QoS levels.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_qos {
    MIDGE_QOS_0 = 0,
    MIDGE_QOS_1 = 1,
    MIDGE_QOS_2 = 2,
}

/// A client's socket I/O since `midge_client_new`, over all its connections
/// (`midge_client_io_stats`): the system calls that moved data and the bytes they moved.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct midge_io_stats {
    /// Writes to the socket that sent data.
    pub writes: u64,
    /// Bytes those writes sent.
    pub bytes_sent: u64,
    /// Reads from the socket that returned data.
    pub reads: u64,
    /// Bytes those reads returned.
    pub bytes_received: u64,
}

/// Subscription option: do not receive our own publications (not on shared subscriptions).
pub const MIDGE_SUB_NO_LOCAL: u8 = 0x04;
/// Subscription option: keep the RETAIN flag as published.
pub const MIDGE_SUB_RETAIN_AS_PUBLISHED: u8 = 0x08;
/// Subscription option: send retained messages only if the subscription is new.
pub const MIDGE_SUB_RETAIN_IF_NEW: u8 = 0x10;
/// Subscription option: do not send retained messages.
pub const MIDGE_SUB_RETAIN_NONE: u8 = 0x20;

type Slot<F> = Option<Arc<CCallback<F>>>;

#[derive(Default)]
struct Table {
    connect: Slot<midge_connect_cb>,
    lost: Slot<midge_connection_lost_cb>,
    message: Slot<midge_message_cb>,
    publish: Slot<midge_ack_cb>,
    subscribe: Slot<midge_ack_cb>,
    unsubscribe: Slot<midge_ack_cb>,
    log: Slot<midge_log_cb>,
}

impl Table {
    fn any(&self) -> bool {
        self.connect.is_some()
            || self.lost.is_some()
            || self.message.is_some()
            || self.publish.is_some()
            || self.subscribe.is_some()
            || self.unsubscribe.is_some()
            || self.log.is_some()
    }
}

/// An MQTT 5 client. Every function taking it may be called from any thread, at any time,
/// callbacks included.
///
/// Callbacks run on midge's dispatcher threads (never on the thread that called midge,
/// never on the I/O thread), one at a time per client and in order, with no midge lock
/// held: a callback may call any midge function, including on its own client. A slow
/// callback delays only its own client's later callbacks. A client made with
/// `midge_options_set_inline_callbacks` runs its callbacks on the I/O thread instead (see
/// there). One path for every event: an event goes to its callback when one is
/// registered, and otherwise waits for `midge_client_next_event` (readiness:
/// `midge_client_event_fd`); callbacks and the pull loop may be mixed, and no event is
/// dropped for want of a callback. Backpressure, not loss: while the events waiting for the
/// application reach `midge_options_set_event_queue_limit` (or its byte bound), midge stops
/// reading the client's socket until they are taken. Callbacks of different clients never
/// wait for each other: a callback blocked (in a `_wait` call, say) holds up only its own
/// client, since the dispatcher pool grows while all its threads are busy.
///
/// Methods: `midge_client_new`, `midge_client_free`, `midge_client_connect`,
/// `midge_client_connect_wait`, `midge_client_publish`, `midge_client_publish_wait`,
/// `midge_client_subscribe`, `midge_client_subscribe_wait`, `midge_client_unsubscribe`,
/// `midge_client_unsubscribe_wait`, `midge_client_disconnect`,
/// `midge_client_disconnect_wait`, `midge_client_reauthenticate`, `midge_client_request`,
/// `midge_client_next_event`, `midge_client_event_fd`, `midge_client_on_connect`,
/// `midge_client_on_connection_lost`,
/// `midge_client_on_message`, `midge_client_on_publish`, `midge_client_on_subscribe`,
/// `midge_client_on_unsubscribe`, `midge_client_on_log`, `midge_client_io_stats`,
/// `midge_client_set_will`, `midge_client_clear_will`, `midge_client_set_credentials`,
/// `midge_client_set_clean_start`, `midge_client_server`, `midge_client_on_redirect`,
/// `midge_message_ack`.
pub struct midge_client {
    pub(crate) client: Client,
    table: Arc<Mutex<Table>>,
    /// `midge_options_set_completion_events`: completion events for the pull interface.
    pull_completions: bool,
}

impl std::fmt::Debug for midge_client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("midge_client").finish_non_exhaustive()
    }
}

impl Drop for midge_client {
    fn drop(&mut self) {
        // Waits for the callbacks to be done (unless freed from one of its own), then the
        // callback table goes and each drop_user_data runs once.
        self.client.close_and_join();
    }
}

pub(crate) fn client(c: *const midge_client) -> Result<Arc<midge_client>, FfiError> {
    if c.is_null() {
        return Err(FfiError::null("client"));
    }
    handle::get(c).ok_or_else(|| FfiError::stale("client"))
}

fn timeout(ms: u32) -> Duration {
    Duration::from_millis(ms.into())
}

/// Hands out a completion handle when the caller asked for one.
fn give(out: *mut *mut midge_completion, pending: Pending) {
    if !out.is_null() {
        write_opt(out, handle::new(midge_completion::new(pending)));
    }
}

/// The events → C callbacks bridge installed as the client's callback. Returns whether a
/// callback took the event: one with no callback registered goes to the pull queue.
fn dispatch(table: &Mutex<Table>, event: &ClientEvent) -> bool {
    // Take the callback out of the table (a reference) and call it with no lock held.
    macro_rules! slot {
        ($field:ident) => {{
            // Only non-NULL callbacks are stored (see `register`).
            let Some(cb) = table.lock().$field.clone() else {
                return false;
            };
            let Some(f) = cb.f else { return false };
            (cb, f)
        }};
    }
    match event {
        ClientEvent::Connected(info) => {
            let (cb, f) = slot!(connect);
            let connack = Loan::new(midge_connack::new((**info).clone()));
            // SAFETY: a registered C callback, with a CONNACK lent for the call.
            unsafe { f(cb.user_data, connack.ptr()) };
        }
        ClientEvent::ConnectionLost(cause) => {
            let (cb, f) = slot!(lost);
            let cause = Loan::new(midge_disconnect::new(cause));
            // SAFETY: a registered C callback, with a cause lent for the call.
            unsafe { f(cb.user_data, cause.ptr()) };
        }
        ClientEvent::Message(m) => {
            let (cb, f) = slot!(message);
            let message = Loan::new(midge_message::new(m.clone()));
            // SAFETY: a registered C callback, with a message lent for the call
            // (`midge_message_clone` gives a handle that outlives it).
            unsafe { f(cb.user_data, message.ptr()) };
        }
        ClientEvent::PublishComplete { id, result } => {
            let (cb, f) = slot!(publish);
            let ack = Loan::new(midge_ack::outcome(*id, result));
            // SAFETY: a registered C callback, with the outcome lent for the call.
            unsafe { f(cb.user_data, ack.ptr()) };
        }
        ClientEvent::SubscribeComplete { id, result } => {
            let (cb, f) = slot!(subscribe);
            let ack = Loan::new(midge_ack::outcome(*id, result));
            // SAFETY: a registered C callback, with the outcome lent for the call.
            unsafe { f(cb.user_data, ack.ptr()) };
        }
        ClientEvent::UnsubscribeComplete { id, result } => {
            let (cb, f) = slot!(unsubscribe);
            let ack = Loan::new(midge_ack::outcome(*id, result));
            // SAFETY: a registered C callback, with the outcome lent for the call.
            unsafe { f(cb.user_data, ack.ptr()) };
        }
        ClientEvent::Log { level, message } => {
            let (cb, f) = slot!(log);
            let text = cstring(message);
            // SAFETY: a registered C callback; the text is valid for the call.
            unsafe { f(cb.user_data, *level as c_int, text.as_ptr()) };
        }
        // No callback for these: they wait for `midge_client_next_event`.
        ClientEvent::Reconnecting { .. }
        | ClientEvent::SessionLost { .. }
        | ClientEvent::Reauthenticated
        | ClientEvent::DisconnectFailed { .. }
        | ClientEvent::RestoredPublishComplete { .. }
        | ClientEvent::ReauthenticateFailed { .. }
        | ClientEvent::MessagesDropped { .. } => return false,
        // Reaches the pull queue in any case.
        ClientEvent::Closed => {}
    }
    true
}

/// Installs a callback in its slot (or empties the slot for a NULL function), and installs
/// (again, so that events waiting in the pull queue are offered to the new callback) or
/// removes the bridge as the client's callback.
fn register<F: Copy>(
    c: *mut midge_client,
    slot: fn(&mut Table) -> &mut Slot<F>,
    callback: CCallback<F>,
    is_some: bool,
) -> midge_result {
    guard(move || {
        let c = client(c)?;
        let new = is_some.then(|| Arc::new(callback));
        let old = {
            let mut t = c.table.lock();
            let was = t.any();
            let old = std::mem::replace(slot(&mut t), new);
            let installed = t.any();
            if is_some {
                let table = Arc::clone(&c.table);
                c.client.set_partial_callback(move |e| dispatch(&table, e));
            } else if was && !installed {
                c.client.clear_callback();
            }
            let completions =
                t.publish.is_some() || t.subscribe.is_some() || t.unsubscribe.is_some();
            c.client
                .set_completion_events(completions || c.pull_completions);
            old
        };
        // The replaced callback's drop_user_data runs once its last call has returned.
        drop(old);
        Ok(())
    })
}

/// Creates a client for the broker at `address` (`mqtt://host:port`, `host:port`, `host`
/// (port 1883), `[v6]:port`, `unix:///path`) with `options` (NULL: the defaults; copied, so
/// they may be freed after). Nothing is sent until `midge_client_connect`. The client goes
/// to `*client`; free it with `midge_client_free`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_new(
    address: *const c_char,
    options: *const midge_options,
    client: *mut *mut midge_client,
) -> midge_result {
    guard(|| {
        let address = str_arg(address, "address")?;
        if client.is_null() {
            return Err(FfiError::null("client"));
        }
        let options = client_options(options)?;
        let pull_completions = options.completion_events;
        let c = Client::new(address, options)?;
        let handle = handle::new(midge_client {
            client: c,
            table: Arc::new(Mutex::new(Table::default())),
            pull_completions,
        });
        write_out(client, handle, "client")
    })
}

/// Closes and frees the client in `*client` and sets `*client` to NULL: disconnects
/// (reason 0x00) if connected, fails pending requests with `MIDGE_RESULT_CLOSED`, and waits
/// until no callback of this client runs; then each callback's `drop_user_data` runs.
/// Called from one of the client's own callbacks it does not wait (that callback is still
/// running): the client closes when the callback returns and no other callback of it
/// follows. NULL and a client freed before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_free(client: *mut *mut midge_client) {
    super::result::guard_value((), || {
        // Close before the last reference goes (and wait for the callbacks, unless called
        // from one), so that calls blocked on this client in other threads, which hold it
        // alive, end now with MIDGE_RESULT_CLOSED rather than at their timeout.
        if let Some(c) = handle::free(client) {
            c.client.close_and_join();
        }
    });
}

/// Starts connecting; returns at once (DNS and TCP happen on midge's threads). The
/// completion (optional: `completion` may be NULL) ends with the CONNACK or the failure;
/// after a failure or a lost connection midge reconnects per the reconnect policy.
///
/// Failures: on a client already connected, `MIDGE_RESULT_INVALID_ARGUMENT` here when
/// `completion` is NULL (else through the completion). A failed attempt (DNS, TCP refused
/// or timed out, CONNACK refusal) ends the completion and is always also a
/// `MIDGE_EVENT_CONNECTION_LOST` (connection-lost callback or `midge_client_next_event`),
/// with automatic reconnection on or off.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_connect(
    client: *mut midge_client,
    completion: *mut *mut midge_completion,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        if completion.is_null() {
            c.client.connect_detached()?;
        } else {
            give(completion, Pending::Connect(c.client.connect()));
        }
        Ok(())
    })
}

/// Connects and waits up to `timeout_ms` for CONNACK. On success and when `connack` is not
/// NULL, `*connack` gets an owned CONNACK (free it with `midge_connack_free`). A refusal is
/// `MIDGE_RESULT_CONNECTION_REFUSED` with the reason code in
/// `midge_last_error_reason_code()`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_connect_wait(
    client: *mut midge_client,
    timeout_ms: u32,
    connack: *mut *mut midge_connack,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let info = c.client.connect_and_wait(timeout(timeout_ms))?;
        if !connack.is_null() {
            write_opt(connack, handle::share(midge_connack::new(info)));
        }
        Ok(())
    })
}

fn publish_request(
    topic: *const c_char,
    payload: *const u8,
    len: usize,
    qos: c_int,
    retain: bool,
    properties: *const midge_properties,
) -> Result<PublishRequest, FfiError> {
    let mut properties = properties_arg(properties)?;
    // C names the application's Topic Alias as a property; Rust has a field for it.
    // Validated first, so that two Topic Aliases are refused as duplicates.
    properties
        .validate(PropertyContext::Publish)
        .map_err(RequestError::InvalidProperties)?;
    let topic_alias = match properties.get(PropertyId::TopicAlias) {
        Some(Property::TopicAlias(a)) => Some(*a),
        _ => None,
    };
    properties.remove(PropertyId::TopicAlias);
    Ok(PublishRequest {
        topic: ByteString::from(str_arg(topic, "topic")?),
        payload: Bytes::copy_from_slice(bytes_arg(payload, len, "payload")?),
        qos: qos_from_c(qos)?,
        retain,
        topic_alias,
        properties,
    })
}

/// Publishes `len` bytes at `payload` (copied) to `topic` at `qos` (0, 1, 2), with optional
/// `properties` (NULL for none). Returns at once; bad arguments fail here and send nothing.
/// While disconnected the message waits in the offline queue. The completion (optional)
/// ends when the message is written (QoS 0) or acknowledged (QoS 1: PUBACK, QoS 2:
/// PUBCOMP, reporting the PUBREC's reason code, e.g. 0x10 No matching subscribers, unless
/// the PUBCOMP failed).
///
/// Topic aliases chosen by the application: a `MIDGE_PROPERTY_TOPIC_ALIAS` in `properties`
/// binds that alias (1 up to the server's Topic Alias Maximum, else
/// `MIDGE_RESULT_NOT_SUPPORTED`; 0 is `MIDGE_RESULT_INVALID_PROPERTY`) to `topic`; a later publish with the alias and an empty
/// `topic` ("") goes to the topic last bound to it (an alias never bound:
/// `MIDGE_RESULT_INVALID_TOPIC`). midge remembers the binding across reconnections and
/// sends the topic again with the alias the first time on each new connection.
///
/// Failures, each reported exactly once: bad arguments always here. With `completion`
/// NULL, a refusal by the session (`MIDGE_RESULT_QUEUE_FULL`, `_NOT_CONNECTED` with no
/// offline queue, the server's Maximum QoS / Retain Available / Topic Alias Maximum:
/// `_NOT_SUPPORTED`, its Maximum Packet Size: `_TOO_LARGE`) is returned here when midge
/// knows it by the time this returns (always when midge's I/O thread was idle, as it is
/// for an offline client of an otherwise quiet process), else it, and any later failure
/// (expiry, session lost, a PUBACK/PUBREC failure code), is delivered as a
/// `MIDGE_EVENT_PUBLISH_COMPLETE` whose `midge_ack_result` is the failure, to the publish
/// callback or else `midge_client_next_event`, with or without completion events. With a
/// completion, every outcome goes to it (and a failure becomes such an event if the
/// completion is freed before the outcome).
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_publish(
    client: *mut midge_client,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
    qos: c_int,
    retain: bool,
    properties: *const midge_properties,
    completion: *mut *mut midge_completion,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let request = publish_request(topic, payload, len, qos, retain, properties)?;
        if completion.is_null() {
            // Nobody holds a handle: skip making one (completion events still come).
            c.client.publish_detached(request)?;
        } else {
            give(
                completion,
                Pending::Publish(c.client.publish_request(request)?),
            );
        }
        Ok(())
    })
}

/// Publishes and waits up to `timeout_ms` for the acknowledgement. On success the reason
/// code (0x00, or 0x10 No matching subscribers) goes to `reason_code` (may be NULL); a
/// failure code is `MIDGE_RESULT_REFUSED` with the code in `midge_last_error_reason_code()`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_publish_wait(
    client: *mut midge_client,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
    qos: c_int,
    retain: bool,
    properties: *const midge_properties,
    timeout_ms: u32,
    reason_code: *mut u8,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let request = publish_request(topic, payload, len, qos, retain, properties)?;
        let ack = start_and_wait(timeout(timeout_ms), || c.client.publish_request(request))?;
        write_opt(reason_code, ack.reason.code());
        Ok(())
    })
}

fn subscriptions(
    filters: *const *const c_char,
    options: *const u8,
    count: usize,
) -> Result<Vec<Subscription>, FfiError> {
    let filters = filter_list(filters, count)?;
    let options = array_arg(options, count, "options")?;
    filters
        .into_iter()
        .zip(options)
        .map(|(filter, &o)| {
            let options = SubscriptionOptions::from_byte(o)
                .map_err(|e| FfiError::Invalid(format!("subscription options 0x{o:02X}: {e}")))?;
            Ok(Subscription { filter, options })
        })
        .collect()
}

/// Subscribes to `count` filters. `options[i]` is the Subscription Options byte of
/// `filters[i]` (3.8.3.1): the maximum QoS (0, 1, 2) combined (bitwise or) with `MIDGE_SUB_NO_LOCAL`,
/// `MIDGE_SUB_RETAIN_AS_PUBLISHED` and one of `MIDGE_SUB_RETAIN_IF_NEW` /
/// `MIDGE_SUB_RETAIN_NONE`. `properties` may carry a Subscription Identifier and User
/// Properties. Returns at once; the completion (optional) ends with the SUBACK.
///
/// Failures: bad arguments here. A refusal by the session (the server's Maximum Packet
/// Size: `MIDGE_RESULT_TOO_LARGE`; wildcards, shared subscriptions or subscription
/// identifiers it does not support: `_NOT_SUPPORTED`) goes to the completion; with
/// `completion` NULL it is returned here when known by then, else delivered as a
/// `MIDGE_EVENT_SUBSCRIBE_COMPLETE` with the failure (subscribe callback or
/// `midge_client_next_event`), as for `midge_client_publish`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_subscribe(
    client: *mut midge_client,
    filters: *const *const c_char,
    options: *const u8,
    count: usize,
    properties: *const midge_properties,
    completion: *mut *mut midge_completion,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let subs = subscriptions(filters, options, count)?;
        let pending = c.client.subscribe(subs, properties_arg(properties)?)?;
        if completion.is_null() {
            Client::detach(&pending)?;
        } else {
            give(completion, Pending::Subscribe(pending));
        }
        Ok(())
    })
}

/// Subscribes and waits up to `timeout_ms` for the SUBACK. Its reason codes (the granted
/// QoS, or a failure code >= 0x80, per filter) go to `reason_codes` (room for `count`; may
/// be NULL). Per-filter failures are data, not an error: check the codes.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_subscribe_wait(
    client: *mut midge_client,
    filters: *const *const c_char,
    options: *const u8,
    count: usize,
    properties: *const midge_properties,
    timeout_ms: u32,
    reason_codes: *mut u8,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let subs = subscriptions(filters, options, count)?;
        let properties = properties_arg(properties)?;
        let ack = start_and_wait(timeout(timeout_ms), || c.client.subscribe(subs, properties))?;
        let codes = ack.reason_codes();
        write_array(reason_codes, &codes[..codes.len().min(count)]);
        Ok(())
    })
}

/// The filters as strings; none at all is refused by the protocol's check [MQTT-3.8.3-2].
fn filter_list(filters: *const *const c_char, count: usize) -> Result<Vec<ByteString>, FfiError> {
    array_arg(filters, count, "filters")?
        .iter()
        .map(|&f| Ok(ByteString::from(str_arg(f, "filter")?)))
        .collect()
}

/// Unsubscribes from `count` filters; the completion (optional) ends with the UNSUBACK.
/// Failures are reported as for `midge_client_subscribe` (event kind
/// `MIDGE_EVENT_UNSUBSCRIBE_COMPLETE`).
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_unsubscribe(
    client: *mut midge_client,
    filters: *const *const c_char,
    count: usize,
    properties: *const midge_properties,
    completion: *mut *mut midge_completion,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let list = filter_list(filters, count)?;
        let pending = c.client.unsubscribe(list, properties_arg(properties)?)?;
        if completion.is_null() {
            Client::detach(&pending)?;
        } else {
            give(completion, Pending::Unsubscribe(pending));
        }
        Ok(())
    })
}

/// Unsubscribes and waits up to `timeout_ms`; the UNSUBACK reason codes go to
/// `reason_codes` (room for `count`; may be NULL).
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_unsubscribe_wait(
    client: *mut midge_client,
    filters: *const *const c_char,
    count: usize,
    properties: *const midge_properties,
    timeout_ms: u32,
    reason_codes: *mut u8,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let list = filter_list(filters, count)?;
        let properties = properties_arg(properties)?;
        let ack = start_and_wait(timeout(timeout_ms), || {
            c.client.unsubscribe(list, properties)
        })?;
        let codes = ack.reason_codes();
        write_array(reason_codes, &codes[..codes.len().min(count)]);
        Ok(())
    })
}

fn disconnect_reason(code: c_int) -> Result<DisconnectReasonCode, FfiError> {
    u8::try_from(code)
        .ok()
        .and_then(DisconnectReasonCode::from_u8)
        .ok_or_else(|| FfiError::Invalid(format!("0x{code:02X} is not a DISCONNECT reason code")))
}

/// Sends DISCONNECT with `reason_code` (0x00 normal; 0x04 asks the server to publish the
/// Will) and optional `properties` (Session Expiry Interval, Reason String, User
/// Properties), then closes the connection; no reconnection follows until
/// `midge_client_connect`. The completion (optional) ends when the connection is closed.
///
/// Failures: bad arguments here. A refusal by the session (properties it cannot send) goes
/// to the completion; with `completion` NULL it is returned here when known by then (the
/// I/O thread was idle), else it is a `MIDGE_EVENT_DISCONNECT_FAILED` event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_disconnect(
    client: *mut midge_client,
    reason_code: c_int,
    properties: *const midge_properties,
    completion: *mut *mut midge_completion,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let reason = disconnect_reason(reason_code)?;
        let pending = c.client.disconnect(reason, properties_arg(properties)?);
        if completion.is_null() {
            // A refusal known by now (the I/O thread was idle) is returned.
            Client::detach(&pending)?;
        } else {
            give(completion, Pending::Done(pending));
        }
        Ok(())
    })
}

/// Disconnects and waits up to `timeout_ms` for the connection to close.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_disconnect_wait(
    client: *mut midge_client,
    reason_code: c_int,
    properties: *const midge_properties,
    timeout_ms: u32,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let reason = disconnect_reason(reason_code)?;
        let properties = properties_arg(properties)?;
        start_and_wait(timeout(timeout_ms), || {
            Ok(c.client.disconnect(reason, properties))
        })?;
        Ok(())
    })
}

/// Starts re-authentication (4.12.1) with the authenticator set in the options.
///
/// Failures: a refusal (not connected, no authenticator) goes to the
/// completion (which ends when the exchange starts); with `completion` NULL it is returned
/// here when known by then (the I/O thread was idle), else it is a
/// `MIDGE_EVENT_REAUTHENTICATE_FAILED` event. Success is the `MIDGE_EVENT_REAUTHENTICATED` event; a
/// re-authentication the server refuses ends the connection (`MIDGE_EVENT_CONNECTION_LOST`).
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_reauthenticate(
    client: *mut midge_client,
    completion: *mut *mut midge_completion,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let pending = c.client.reauthenticate();
        if completion.is_null() {
            Client::detach(&pending)?;
        } else {
            give(completion, Pending::Done(pending));
        }
        Ok(())
    })
}

/// Request/response (4.10): publishes `payload` to `topic` with `response_topic` and fresh
/// Correlation Data, and waits up to `timeout_ms` for the reply with the same Correlation
/// Data (subscribe to `response_topic` first). The reply goes to `*reply` (free it with
/// `midge_message_free`); it is not delivered as an event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_request(
    client: *mut midge_client,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
    qos: c_int,
    response_topic: *const c_char,
    timeout_ms: u32,
    reply: *mut *mut midge_message,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        if reply.is_null() {
            return Err(FfiError::null("reply"));
        }
        let message = c.client.request(
            str_arg(topic, "topic")?,
            Bytes::copy_from_slice(bytes_arg(payload, len, "payload")?),
            qos_from_c(qos)?,
            str_arg(response_topic, "response_topic")?,
            timeout(timeout_ms),
        )?;
        write_out(reply, handle::share(midge_message::new(message)), "reply")
    })
}

/// Acknowledges `message`, received by `client`, to the server, with
/// `midge_options_set_manual_ack`: its PUBACK (QoS 1) or PUBREC (QoS 2) goes out once
/// every message that arrived before it is acknowledged too [MQTT-4.6.0-2]
/// [MQTT-4.6.0-3]. `message` may be lent (in the message callback, during the call; from
/// an event, while the event lives) or owned (`midge_message_clone`, e.g. to acknowledge
/// after the callback returned, from any thread). Returns at once.
///
/// `MIDGE_RESULT_OK`, and nothing sent, for: a QoS 0 message; a second acknowledgement of
/// the same message (through any handle); a message of another client; a closed client;
/// a client without manual acknowledgements (midge acknowledged it already); and a QoS 1
/// message received on a connection that has ended since: after the reconnect the server
/// sends it again when the session is resumed [MQTT-4.4.0-1] (with DUP set, a new message
/// to acknowledge), and a PUBACK on the new connection for a PUBLISH of the old one is not
/// sent blindly. A QoS 2 message is never delivered twice while the session lasts
/// [MQTT-4.3.3-10]: its acknowledgement stays valid across a reconnect, and its PUBREC goes
/// out once the server has sent the PUBLISH again on the new connection (forgotten when
/// the server kept no session). `MIDGE_RESULT_INVALID_ARGUMENT` for NULL or a dead handle
/// (a lent message after its callback returned: clone it in the callback).
#[unsafe(no_mangle)]
pub extern "C" fn midge_message_ack(
    client: *mut midge_client,
    message: *const midge_message,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        if message.is_null() {
            return Err(FfiError::null("message"));
        }
        let m = handle::get(message).ok_or_else(|| FfiError::stale("message"))?;
        c.client.ack(&m.message)?;
        Ok(())
    })
}

/// The pull interface: waits up to `timeout_ms` for the client's next event and puts it in
/// `*event` (free it with `midge_event_free`). `MIDGE_RESULT_TIMEOUT` when none came,
/// `MIDGE_RESULT_CLOSED` after the `MIDGE_EVENT_CLOSED` event. QoS 1/2 messages are
/// acknowledged when handed out here (with `midge_options_set_manual_ack`, by
/// `midge_message_ack`). It receives every event no callback took: callbacks
/// and this loop may be mixed (e.g. a log callback, messages pulled here).
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_next_event(
    client: *mut midge_client,
    timeout_ms: u32,
    event: *mut *mut midge_event,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        if event.is_null() {
            return Err(FfiError::null("event"));
        }
        match c.client.next_event(timeout(timeout_ms)) {
            Some(e) => write_out(event, handle::new(midge_event::new(e)), "event"),
            None if c.client.is_closed() => Err(crate::Error::Closed.into()),
            None => Err(crate::Error::Timeout.into()),
        }
    })
}

/// A file descriptor that is readable exactly while events wait for
/// `midge_client_next_event` (and not readable once they have all been taken), for
/// `poll()`/epoll/libuv/asyncio main loops that wait without a thread; -1 for a NULL or
/// freed client. The client owns it: do not read, write or close it; it is valid until
/// `midge_client_free`. The same descriptor is returned on every call.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_event_fd(client: *const midge_client) -> c_int {
    super::result::guard_value(-1, || {
        self::client(client)
            .ok()
            .and_then(|c| c.client.event_fd())
            .unwrap_or(-1)
    })
}

/// Replaces the client's TLS options (a rotated client certificate and key, new CAs) for
/// its next connect; the open connection goes on. Files are read now: a missing file or a
/// bad key fails with `MIDGE_RESULT_TLS_CONFIG` and the old options stay.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_reload_tls(
    client: *mut midge_client,
    tls: *const super::tls::midge_tls_options,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let tls = super::tls::tls_arg(tls)?.ok_or_else(|| FfiError::null("tls"))?;
        c.client.reload_tls(&tls)?;
        Ok(())
    })
}

/// Puts the client's socket I/O so far in `*stats`: how many writes and reads moved how many
/// bytes. Under a steady stream (adaptive batching, `midge_options_set_linger`), `writes` stays
/// far below the packets sent.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_io_stats(
    client: *mut midge_client,
    stats: *mut midge_io_stats,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let s = c.client.io_stats();
        let out = midge_io_stats {
            writes: s.writes,
            bytes_sent: s.bytes_sent,
            reads: s.reads,
            bytes_received: s.bytes_received,
        };
        write_out(stats, out, "stats")
    })
}

/// Sets (or with NULL removes) the connect callback: each successful CONNACK.
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_connect(
    client: *mut midge_client,
    callback: midge_connect_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    register(client, |t| &mut t.connect, cb, callback.is_some())
}

/// Sets the connection-lost callback: each end of a connection or failed attempt, with
/// its cause.
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_connection_lost(
    client: *mut midge_client,
    callback: midge_connection_lost_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    register(client, |t| &mut t.lost, cb, callback.is_some())
}

/// Sets the message callback.
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_message(
    client: *mut midge_client,
    callback: midge_message_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    register(client, |t| &mut t.message, cb, callback.is_some())
}

/// Sets the publish-completed callback.
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_publish(
    client: *mut midge_client,
    callback: midge_ack_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    register(client, |t| &mut t.publish, cb, callback.is_some())
}

/// Sets the subscribe-completed callback.
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_subscribe(
    client: *mut midge_client,
    callback: midge_ack_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    register(client, |t| &mut t.subscribe, cb, callback.is_some())
}

/// Sets the unsubscribe-completed callback.
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_unsubscribe(
    client: *mut midge_client,
    callback: midge_ack_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    register(client, |t| &mut t.unsubscribe, cb, callback.is_some())
}

/// Sets the log callback (lines at the level set with `midge_options_set_log_level`).
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_log(
    client: *mut midge_client,
    callback: midge_log_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    register(client, |t| &mut t.log, cb, callback.is_some())
}

/// The server of the last connection made (its address as midge writes it,
/// `mqtt://host:port`): after a failover the server that took over, after a followed
/// redirection its target. Copies it, NUL-terminated and cut to fit, into `buf` of `cap`
/// bytes (`buf` may be NULL when `cap` is 0) and its full length (without the NUL) to
/// `*len` (when `len` is not NULL). False, and nothing written, before the first
/// successful CONNACK or for a NULL or freed client.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_server(
    client: *const midge_client,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> bool {
    super::result::guard_value(false, || {
        let Some(server) = self::client(client).ok().and_then(|c| c.client.server()) else {
            return false;
        };
        super::ptr::write_text(buf, cap, &server);
        if !len.is_null() {
            write_opt(len, server.len());
        }
        true
    })
}

/// Sets (or with NULL removes) the redirect callback, which may refuse a redirection that
/// `midge_options_set_follow_redirects` allows. Without one, every such redirection is
/// followed.
///
/// `user_data` is passed to each call; `drop_user_data` (may be NULL) runs exactly once
/// with it after the last call (when replaced, removed with a NULL callback, or when the
/// client is freed), and at once when the call fails.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_on_redirect(
    client: *mut midge_client,
    callback: midge_redirect_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    let cb = CCallback::new(callback, user_data, drop_user_data);
    guard(move || {
        let c = self::client(client)?;
        match callback {
            None => {
                drop(cb);
                c.client
                    .on_redirect(None::<fn(&crate::runtime::Redirect) -> bool>);
            }
            Some(f) => {
                let cb = Arc::new(cb);
                c.client
                    .on_redirect(Some(move |r: &crate::runtime::Redirect| {
                        let from = cstring(&r.from);
                        let to = cstring(&r.to);
                        let reference = cstring(&r.reference);
                        // SAFETY: a registered C callback, with strings valid for the call.
                        unsafe {
                            f(
                                cb.user_data,
                                from.as_ptr(),
                                to.as_ptr(),
                                reference.as_ptr(),
                                r.reason_code,
                            )
                        }
                    }));
            }
        }
        Ok(())
    })
}
