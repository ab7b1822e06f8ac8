//! `midge_options`: everything a client is configured with, set through functions so that
//! no struct layout is part of the ABI.

use std::ffi::{c_char, c_int};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::handle;
use super::properties::{midge_properties, properties_arg};
use super::ptr::{bytes_arg, opt_str_arg, str_arg};
use super::result::{FfiError, guard, guard_value, midge_result};
use super::store::{midge_store, take_store};
use crate::codec::{ByteString, Bytes, QoS, Will};
use crate::protocol::{Authenticator, MemoryBudget, Options, QueueLimits, VersionChoice};
use crate::runtime::{ClientOptions, LogLevel, ReconnectPolicy};
use crate::store::{Durability, SharedStore};
use crate::transport::{TcpOptions, TlsOptions, WsOptions};

/// A client's configuration, copied by `midge_client_new` (one options object may configure
/// many clients, and may be freed right after).
///
/// Methods: `midge_options_new`, `midge_options_free`, `midge_options_set_protocol_version`,
/// `midge_options_set_client_id`,
/// `midge_options_set_clean_start`, `midge_options_set_keep_alive`,
/// `midge_options_set_session_expiry`, `midge_options_set_username`,
/// `midge_options_set_password`, `midge_options_set_will`, `midge_options_clear_will`,
/// `midge_options_set_receive_maximum`, `midge_options_set_maximum_packet_size`,
/// `midge_options_set_memory_budget`,
/// `midge_options_set_topic_alias_maximum`, `midge_options_set_request_response_information`,
/// `midge_options_set_request_problem_information`, `midge_options_add_user_property`,
/// `midge_options_set_auto_topic_alias`, `midge_options_set_offline_queue`,
/// `midge_options_set_resubscribe`, `midge_options_set_connack_timeout`,
/// `midge_options_set_connect_timeout`, `midge_options_set_reconnect`,
/// `midge_options_set_tcp_nodelay`, `midge_options_set_tcp_buffers`,
/// `midge_options_set_event_queue_limit`, `midge_options_set_event_queue_bytes`,
/// `midge_options_set_log_level`, `midge_options_set_completion_events`,
/// `midge_options_set_inline_callbacks`, `midge_options_set_busy_poll`,
/// `midge_options_set_linger`, `midge_options_set_authenticator`, `midge_options_set_tls`,
/// `midge_options_add_ws_header`, `midge_options_add_server`,
/// `midge_options_set_follow_redirects`, `midge_options_set_max_redirects`,
/// `midge_options_set_manual_ack`.
#[derive(Debug, Default)]
pub struct midge_options {
    data: Mutex<OptionsData>,
}

#[derive(Debug, Default)]
struct OptionsData {
    session: Options,
    reconnect: ReconnectPolicy,
    tcp: TcpOptions,
    connect_timeout: Option<Duration>,
    event_queue_limit: Option<usize>,
    event_queue_bytes: Option<usize>,
    log_level: LogLevel,
    completion_events: bool,
    inline_callbacks: bool,
    busy_poll: Duration,
    linger: Option<Duration>,
    auth: Option<Arc<AuthSetup>>,
    tls: Option<TlsOptions>,
    websocket: WsOptions,
    servers: Vec<String>,
    follow_redirects: bool,
    max_redirects: Option<u32>,
    manual_ack: bool,
    store: StoreSlot,
}

/// The store of `midge_options_set_store`: it goes to one client only.
#[derive(Debug, Default)]
enum StoreSlot {
    #[default]
    None,
    Set(SharedStore),
    /// Given to a client made with these options.
    Taken,
}

/// Builds the runtime's options from a C options handle (NULL: the defaults).
pub(crate) fn client_options(options: *const midge_options) -> Result<ClientOptions, FfiError> {
    let mut out = ClientOptions::default();
    if options.is_null() {
        return Ok(out);
    }
    let o = handle::get(options).ok_or_else(|| FfiError::stale("options"))?;
    let mut d = o.data.lock();
    match std::mem::take(&mut d.store) {
        StoreSlot::None => {}
        StoreSlot::Set(store) => {
            out.store = Some(store);
            d.store = StoreSlot::Taken;
        }
        StoreSlot::Taken => {
            d.store = StoreSlot::Taken;
            return Err(FfiError::Invalid(
                "the store of these options went to the client made with them before: one \
                 store per client (set another with midge_options_set_store)"
                    .into(),
            ));
        }
    }
    let s = &d.session;
    out.session = Options {
        protocol_version: s.protocol_version,
        client_id: s.client_id.clone(),
        clean_start: s.clean_start,
        keep_alive: s.keep_alive,
        session_expiry_interval: s.session_expiry_interval,
        username: s.username.clone(),
        password: s.password.clone(),
        will: s.will.clone(),
        receive_maximum: s.receive_maximum,
        maximum_packet_size: s.maximum_packet_size,
        memory_budget: s.memory_budget,
        write_stall_timeout: s.write_stall_timeout,
        topic_alias_maximum: s.topic_alias_maximum,
        request_response_information: s.request_response_information,
        request_problem_information: s.request_problem_information,
        user_properties: s.user_properties.clone(),
        authenticator: d
            .auth
            .as_ref()
            .map(|a| Box::new(CAuthenticator(Arc::clone(a))) as Box<dyn Authenticator>),
        auto_topic_alias: s.auto_topic_alias,
        offline_queue: s.offline_queue,
        resubscribe: s.resubscribe,
        connect_timeout: s.connect_timeout,
    };
    out.reconnect = d.reconnect;
    out.tcp = d.tcp.clone();
    if let Some(t) = d.connect_timeout {
        out.connect_timeout = t;
    }
    if let Some(n) = d.event_queue_limit {
        out.event_queue_limit = n;
    }
    if let Some(n) = d.event_queue_bytes {
        out.event_queue_bytes = n;
    }
    out.log_level = d.log_level;
    out.completion_events = d.completion_events;
    out.inline_callbacks = d.inline_callbacks;
    out.busy_poll = d.busy_poll;
    if let Some(l) = d.linger {
        out.linger = l;
    }
    out.tls.clone_from(&d.tls);
    out.websocket = d.websocket.clone();
    out.servers.clone_from(&d.servers);
    out.follow_redirects = d.follow_redirects;
    out.manual_ack = d.manual_ack;
    if let Some(n) = d.max_redirects {
        out.max_redirects = n;
    }
    Ok(out)
}

fn with_options(
    options: *mut midge_options,
    f: impl FnOnce(&mut OptionsData) -> Result<(), FfiError>,
) -> midge_result {
    guard(|| {
        if options.is_null() {
            return Err(FfiError::null("options"));
        }
        let o = handle::get(options.cast_const()).ok_or_else(|| FfiError::stale("options"))?;
        let mut d = o.data.lock();
        f(&mut d)
    })
}

pub(crate) fn qos_from_c(qos: c_int) -> Result<QoS, FfiError> {
    u8::try_from(qos)
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| FfiError::Invalid(format!("QoS {qos} is not 0, 1 or 2")))
}

/// TLS settings for a `mqtts://`, `ssl://`, `tls://` or `wss://` address, copied (`tls`
/// may be freed right after); NULL removes them (such an address then trusts the system's
/// roots). A client with TLS options and a plain address is refused, so that a
/// configuration meant for TLS never connects in the clear.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_tls(
    options: *mut midge_options,
    tls: *const super::tls::midge_tls_options,
) -> midge_result {
    with_options(options, |d| {
        d.tls = super::tls::tls_arg(tls)?;
        Ok(())
    })
}

/// Adds an HTTP header to the WebSocket upgrade request of a `ws://` or `wss://` address
/// (an `Authorization` token, a cookie). The subprotocol `mqtt` is always asked for.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_add_ws_header(
    options: *mut midge_options,
    name: *const c_char,
    value: *const c_char,
) -> midge_result {
    with_options(options, |d| {
        let name = str_arg(name, "name")?.to_owned();
        let value = str_arg(value, "value")?.to_owned();
        d.websocket.headers.push((name, value));
        Ok(())
    })
}

/// Adds a server after the one `midge_client_new` names (which stays the first): the client
/// then has an ordered list, any mix of `mqtt://`, `mqtts://`, `ws://`, `wss://` and
/// `unix://`. A connect tries the servers in order from the one that last worked (the
/// first, at first), going on to the next at once when an attempt fails (no connection, or
/// a refusal that is not permanent); the reconnect backoff's delay applies once per full
/// pass over the list. The connect's completion ends with the first successful CONNACK,
/// or the failure of the pass's last attempt; each failed attempt is also a
/// `MIDGE_EVENT_CONNECTION_LOST`. A lost connection is reconnected to the same server
/// first. `midge_client_server` says which server is in use. TLS options
/// (`midge_options_set_tls`) apply to every TLS server. A bad address is refused here
/// (`MIDGE_RESULT_INVALID_ADDRESS`).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_add_server(
    options: *mut midge_options,
    address: *const c_char,
) -> midge_result {
    with_options(options, |d| {
        let address = str_arg(address, "address")?;
        crate::transport::Address::parse(address).map_err(crate::Error::from)?;
        d.servers.push(address.to_owned());
        Ok(())
    })
}

/// Server redirection (MQTT 5.0 4.11), off by default: when on, a CONNACK or DISCONNECT
/// with reason code 0x9C (Use another server) or 0x9D (Server moved) and a Server Reference
/// sends the client to the server it names, at once: a full address (`mqtt://h:1`,
/// `ws://h/mqtt`), or `host:port` or `host` with the scheme of the server that sent it; of
/// a space-separated list the first. 0x9D replaces that server for later reconnections,
/// 0x9C is for the next connection only. The redirect callback (`midge_client_on_redirect`)
/// may refuse one. A redirection not followed (off, refused, no usable reference, or past
/// `midge_options_set_max_redirects`) is reported as the refusal or disconnection it is
/// (`midge_disconnect_server_reference` gives the reference); after a CONNACK refusal the
/// client then stops reconnecting.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_follow_redirects(
    options: *mut midge_options,
    follow: bool,
) -> midge_result {
    with_options(options, |d| {
        d.follow_redirects = follow;
        Ok(())
    })
}

/// How many redirections in a row are followed (default 3); the next one is not, and the
/// count starts again with each connection accepted.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_max_redirects(
    options: *mut midge_options,
    max: u32,
) -> midge_result {
    with_options(options, |d| {
        d.max_redirects = Some(max);
        Ok(())
    })
}

/// New options with midge's defaults: clean start, keep alive 60 s, no session expiry, the
/// broker assigns the client id, automatic reconnect (250 ms doubling to 30 s), automatic
/// topic aliases, an offline queue of 10,000 messages / 16 MiB. NULL only when out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_new() -> *mut midge_options {
    guard_value(std::ptr::null_mut(), || {
        handle::new(midge_options::default())
    })
}

/// Frees the options in `*options` and sets `*options` to NULL. NULL and options freed
/// before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_free(options: *mut *mut midge_options) {
    guard_value((), || drop(handle::free(options)));
}

/// The MQTT version the client speaks, one of the `MIDGE_PROTOCOL_*` constants: `MIDGE_PROTOCOL_V5`
/// (the default), `MIDGE_PROTOCOL_V311`, or `MIDGE_PROTOCOL_V5_OR_V311` (5.0; when the
/// server refuses 5.0 before the first successful connection, 3.1.1 at once within the same
/// connect, and for every reconnection once a 3.1.1 connection succeeded). With 3.1.1 possible, what 3.1.1 cannot carry is refused with
/// `MIDGE_RESULT_NOT_IN_V311`: by `midge_client_new` for the options (user properties, an
/// authenticator, Will properties, a session expiry other than 0 or 0xFFFFFFFF with clean
/// start false), by each request for the rest. `midge_connack_protocol_version` says
/// which version a connection speaks.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_protocol_version(
    options: *mut midge_options,
    version: c_int,
) -> midge_result {
    with_options(options, |d| {
        d.session.protocol_version = match version {
            4 => VersionChoice::V311,
            5 => VersionChoice::V5,
            54 => VersionChoice::V5OrV311,
            _ => {
                return Err(FfiError::Invalid(format!(
                    "protocol version {version} is not MIDGE_PROTOCOL_V311 (4), \
                     MIDGE_PROTOCOL_V5 (5) or MIDGE_PROTOCOL_V5_OR_V311 (54)"
                )));
            }
        };
        Ok(())
    })
}

/// The Client Identifier; "" (the default) lets the server assign one, which the CONNACK
/// then reports.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_client_id(
    options: *mut midge_options,
    client_id: *const c_char,
) -> midge_result {
    with_options(options, |d| {
        d.session.client_id = ByteString::from(str_arg(client_id, "client_id")?);
        Ok(())
    })
}

/// Clean Start on the first connection (default true). Reconnections resume the session
/// when the session expiry interval is non-zero.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_clean_start(
    options: *mut midge_options,
    clean_start: bool,
) -> midge_result {
    with_options(options, |d| {
        d.session.clean_start = clean_start;
        Ok(())
    })
}

/// Keep alive in seconds (default 60; 0 turns it off). A server keep alive replaces it.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_keep_alive(
    options: *mut midge_options,
    seconds: u16,
) -> midge_result {
    with_options(options, |d| {
        d.session.keep_alive = seconds;
        Ok(())
    })
}

/// Session Expiry Interval in seconds (default 0: the session ends with the connection;
/// 0xFFFFFFFF: never).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_session_expiry(
    options: *mut midge_options,
    seconds: u32,
) -> midge_result {
    with_options(options, |d| {
        d.session.session_expiry_interval = seconds;
        Ok(())
    })
}

/// The user name; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_username(
    options: *mut midge_options,
    username: *const c_char,
) -> midge_result {
    with_options(options, |d| {
        d.session.username = opt_str_arg(username, "username")?.map(ByteString::from);
        Ok(())
    })
}

/// The password: binary data, copied. NULL removes it; a non-NULL pointer with length 0 is
/// an empty password. MQTT 5 allows a password without a user name.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_password(
    options: *mut midge_options,
    password: *const u8,
    len: usize,
) -> midge_result {
    with_options(options, |d| {
        d.session.password = if password.is_null() {
            None
        } else {
            Some(Bytes::copy_from_slice(bytes_arg(
                password, len, "password",
            )?))
        };
        Ok(())
    })
}

/// The Last Will: published by the server when the connection ends without DISCONNECT 0x00
/// (or with DISCONNECT 0x04). `properties` (may be NULL) are the will properties: will delay
/// interval, message expiry, content type, response topic, correlation data, payload format,
/// user properties.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_will(
    options: *mut midge_options,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
    qos: c_int,
    retain: bool,
    properties: *const midge_properties,
) -> midge_result {
    with_options(options, |d| {
        let will = Will {
            topic: ByteString::from(str_arg(topic, "topic")?),
            payload: Bytes::copy_from_slice(bytes_arg(payload, len, "payload")?),
            qos: qos_from_c(qos)?,
            retain,
            properties: properties_arg(properties)?,
        };
        crate::protocol::check_will(&will)?;
        d.session.will = Some(will);
        Ok(())
    })
}

/// Removes the Last Will.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_clear_will(options: *mut midge_options) -> midge_result {
    with_options(options, |d| {
        d.session.will = None;
        Ok(())
    })
}

/// How many unacknowledged QoS 1 and 2 messages the server may send us (1..65535, default
/// 65535).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_receive_maximum(
    options: *mut midge_options,
    receive_maximum: u16,
) -> midge_result {
    with_options(options, |d| {
        if receive_maximum == 0 {
            return Err(FfiError::Invalid("receive maximum must be 1..65535".into()));
        }
        d.session.receive_maximum = receive_maximum;
        Ok(())
    })
}

/// The largest packet we accept, in bytes; 0 (the default) leaves it to the memory budget
/// (a quarter of it, see `midge_options_set_memory_budget`), which also caps a larger value.
/// The value in force goes out in CONNECT: the server must not send larger packets, and
/// drops a message that would be larger; a larger packet gets DISCONNECT 0x95.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_maximum_packet_size(
    options: *mut midge_options,
    bytes: u32,
) -> midge_result {
    with_options(options, |d| {
        d.session.maximum_packet_size = (bytes != 0).then_some(bytes);
        Ok(())
    })
}

/// The default memory budget per client (16 MiB), see `midge_options_set_memory_budget`.
pub const MIDGE_MEMORY_BUDGET_DEFAULT: u64 = 16_777_216;
/// The smallest memory budget accepted (64 KiB).
pub const MIDGE_MEMORY_BUDGET_MIN: u64 = 65_536;
// Literals for cbindgen; the Rust values they state.
const _: () = assert!(MIDGE_MEMORY_BUDGET_DEFAULT == crate::protocol::MEMORY_BUDGET_DEFAULT as u64);
const _: () = assert!(MIDGE_MEMORY_BUDGET_MIN == crate::protocol::MEMORY_BUDGET_MIN as u64);

/// The memory one client may spend on what the network sends it and on what it owes the
/// network, in bytes: default `MIDGE_MEMORY_BUDGET_DEFAULT` (16 MiB), at least
/// `MIDGE_MEMORY_BUDGET_MIN` (64 KiB; less is `MIDGE_RESULT_INVALID_ARGUMENT`). A quarter is
/// the largest packet accepted (sent as Maximum Packet Size in CONNECT; larger: DISCONNECT
/// 0x95), a sixteenth bounds the events waiting for the application (payload and
/// properties; beyond it midge stops reading until the application takes some), an eighth
/// the replies waiting for the socket (beyond it midge stops reading from a server
/// that does not read, and disconnects it with 0x97 after a while).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_memory_budget(
    options: *mut midge_options,
    bytes: u64,
) -> midge_result {
    with_options(options, |d| {
        let budget = usize::try_from(bytes)
            .ok()
            .and_then(MemoryBudget::new)
            .ok_or_else(|| {
                FfiError::Invalid(format!(
                    "memory budget {bytes} is below the minimum of {} bytes",
                    crate::protocol::MEMORY_BUDGET_MIN
                ))
            })?;
        d.session.memory_budget = budget;
        Ok(())
    })
}

/// How many topic aliases the server may use towards us (default 16; 0 refuses them).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_topic_alias_maximum(
    options: *mut midge_options,
    maximum: u16,
) -> midge_result {
    with_options(options, |d| {
        d.session.topic_alias_maximum = maximum;
        Ok(())
    })
}

/// Ask the server for Response Information in CONNACK (default false).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_request_response_information(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.session.request_response_information = on;
        Ok(())
    })
}

/// Allow the server to send Reason Strings and User Properties on failures (default true).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_request_problem_information(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.session.request_problem_information = on;
        Ok(())
    })
}

/// Adds a User Property to CONNECT.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_add_user_property(
    options: *mut midge_options,
    name: *const c_char,
    value: *const c_char,
) -> midge_result {
    with_options(options, |d| {
        let name = ByteString::from(str_arg(name, "name")?);
        let value = ByteString::from(str_arg(value, "value")?);
        d.session.user_properties.push((name, value));
        Ok(())
    })
}

/// Assign topic aliases to outgoing messages automatically, within the server's Topic Alias
/// Maximum (default true).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_auto_topic_alias(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.session.auto_topic_alias = on;
        Ok(())
    })
}

/// Bounds of the offline queue (publishes waiting for a connection or for the server's
/// Receive Maximum). A publish that would pass either bound fails with
/// `MIDGE_RESULT_QUEUE_FULL`; nothing queued is dropped.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_offline_queue(
    options: *mut midge_options,
    max_messages: usize,
    max_bytes: usize,
) -> midge_result {
    with_options(options, |d| {
        d.session.offline_queue = QueueLimits {
            max_messages,
            max_bytes,
        };
        Ok(())
    })
}

/// Subscribe again to every filter when the server did not keep the session (default true).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_resubscribe(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.session.resubscribe = on;
        Ok(())
    })
}

/// How long to wait for CONNACK after sending CONNECT (default 30 s).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_connack_timeout(
    options: *mut midge_options,
    timeout_ms: u32,
) -> midge_result {
    with_options(options, |d| {
        d.session.connect_timeout = Duration::from_millis(timeout_ms.into());
        Ok(())
    })
}

/// Bound on DNS resolution plus TCP connect (default 30 s).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_connect_timeout(
    options: *mut midge_options,
    timeout_ms: u32,
) -> midge_result {
    with_options(options, |d| {
        d.connect_timeout = Some(Duration::from_millis(timeout_ms.into()));
        Ok(())
    })
}

/// Automatic reconnection: on or off, and the backoff (the delay doubles from `initial_ms`
/// up to `max_ms`, with jitter). Refusals that cannot succeed (bad credentials, banned,
/// ...) stop it.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_reconnect(
    options: *mut midge_options,
    enabled: bool,
    initial_ms: u32,
    max_ms: u32,
) -> midge_result {
    with_options(options, |d| {
        if enabled && (initial_ms == 0 || max_ms < initial_ms) {
            return Err(FfiError::Invalid(
                "reconnect delays must satisfy 0 < initial_ms <= max_ms".into(),
            ));
        }
        d.reconnect = ReconnectPolicy {
            enabled,
            initial_delay: Duration::from_millis(initial_ms.into()),
            max_delay: Duration::from_millis(max_ms.into()),
            ..ReconnectPolicy::default()
        };
        Ok(())
    })
}

/// `TCP_NODELAY` (default on).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_tcp_nodelay(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.tcp.nodelay = on;
        Ok(())
    })
}

/// `SO_SNDBUF` and `SO_RCVBUF` for TCP connections, in bytes; 0 leaves the system's.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_tcp_buffers(
    options: *mut midge_options,
    send_bytes: usize,
    receive_bytes: usize,
) -> midge_result {
    with_options(options, |d| {
        d.tcp.send_buffer_size = (send_bytes != 0).then_some(send_bytes);
        d.tcp.recv_buffer_size = (receive_bytes != 0).then_some(receive_bytes);
        Ok(())
    })
}

/// How many messages may wait for the application (for `midge_client_next_event` or behind
/// a callback; other events are few and do not count) before midge stops reading the
/// client's socket (default 100,000): it reads again once the application has taken
/// messages, and meanwhile the server's flow control holds further ones (backpressure, not
/// loss). One read (64 KiB) may pass the bound; only past twice the bound are QoS 0
/// messages dropped and counted (`MIDGE_EVENT_MESSAGES_DROPPED`), QoS 1 and 2 never.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_event_queue_limit(
    options: *mut midge_options,
    limit: usize,
) -> midge_result {
    with_options(options, |d| {
        if limit == 0 {
            return Err(FfiError::Invalid("event queue limit must be > 0".into()));
        }
        d.event_queue_limit = Some(limit);
        Ok(())
    })
}

/// The same bound as `midge_options_set_event_queue_limit`, in bytes: a message counts its
/// approximate memory (a message: payload, topic and properties, plus a small overhead).
/// Default 64 MiB, and never more than a sixteenth of the memory budget
/// (`midge_options_set_memory_budget`: 1 MiB with the default 16 MiB budget); whichever
/// bound is reached first stops reading (one read, 64 KiB, may pass it, and the packet it
/// completes, up to the largest accepted). QoS 0 messages are dropped and counted only past
/// twice this bound, or past the bound plus the largest packet accepted and a read when
/// that is more; QoS 1 and 2 never.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_event_queue_bytes(
    options: *mut midge_options,
    max_bytes: usize,
) -> midge_result {
    with_options(options, |d| {
        if max_bytes == 0 {
            return Err(FfiError::Invalid("event queue bytes must be > 0".into()));
        }
        d.event_queue_bytes = Some(max_bytes);
        Ok(())
    })
}

/// Which log lines the client produces for `midge_client_on_log`: a `midge_log_level`
/// (default `MIDGE_LOG_OFF`).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_log_level(
    options: *mut midge_options,
    level: c_int,
) -> midge_result {
    with_options(options, |d| {
        d.log_level = match level {
            0 => LogLevel::Off,
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            _ => return Err(FfiError::Invalid(format!("log level {level} is not 0..4"))),
        };
        Ok(())
    })
}

/// Deliver `MIDGE_EVENT_PUBLISH_COMPLETE`, `MIDGE_EVENT_SUBSCRIBE_COMPLETE` and
/// `MIDGE_EVENT_UNSUBSCRIBE_COMPLETE` to `midge_client_next_event` (default off, so that a
/// pull loop that ignores them does not accumulate them). The publish, subscribe and
/// unsubscribe callbacks receive completions whenever they are registered. Either way, the
/// failure of a request made with no completion (or whose completion was freed first) is
/// always delivered as such an event.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_completion_events(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.completion_events = on;
        Ok(())
    })
}

/// Run this client's callbacks on midge's I/O thread, as soon as the messages are read,
/// instead of on a dispatcher thread (default off). It saves a thread hand-off per message:
/// lower latency and CPU, like libmosquitto's callbacks on its network thread. The price:
/// a callback must return quickly and never block, because every client's I/O (keep alive
/// included) waits for it, and the `_wait` calls made inside it fail with
/// `MIDGE_RESULT_WOULD_DEADLOCK`. Publishing, subscribing and `midge_client_free` work
/// from it as from any callback.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_inline_callbacks(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.inline_callbacks = on;
        Ok(())
    })
}

/// Application-controlled acknowledgements (default off): a received QoS 1/2 message is
/// acknowledged to the server (PUBACK, or PUBREC for QoS 2) only when the application calls
/// `midge_message_ack` with it (e.g. once it is safe in the application's own storage), not
/// when its callback returns or `midge_client_next_event` hands it out.
///
/// Acknowledgements still go out in the order the messages arrived [MQTT-4.6.0-2]
/// [MQTT-4.6.0-3]: a message acknowledged before an earlier one waits for it. Messages not
/// yet acknowledged are bounded by the Receive Maximum midge sends in CONNECT
/// (`midge_options_set_receive_maximum`, default 65,535): a server keeping to it sends no
/// more QoS 1/2 messages while that many are unacknowledged (QoS 0 still flows), so an
/// application that stops acknowledging gets backpressure, not loss. A server overshooting
/// that bound (Mosquitto 2.0.11 sends up to a Receive Maximum more for each PUBACK) is
/// tolerated up to twice it; beyond, midge reads nothing more from it until the application
/// acknowledges (the keep alive still sends PINGREQ meanwhile), rather than disconnecting.
/// Choose a Receive Maximum you are ready to hold messages for. Replies to
/// `midge_client_request` are acknowledged by midge.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_manual_ack(
    options: *mut midge_options,
    on: bool,
) -> midge_result {
    with_options(options, |d| {
        d.manual_ack = on;
        Ok(())
    })
}

/// Before midge's I/O thread sleeps, it polls the sockets without sleeping for at least
/// `usec` microseconds (yielding the CPU to any thread that wants it); default 0, at most
/// 10,000. A reply arriving within that time costs no wake-up: lower round-trip latency,
/// notably on virtual machines, where waking an idle CPU costs tens of microseconds, paid
/// for in CPU time while waiting. midge already spins by itself while replies come quickly
/// (the I/O and dispatcher threads poll for up to twice their recent waits, at most
/// 150 µs, and not at all while waits are long, as when idle); this sets a floor that
/// applies even when they are long. The I/O thread is shared by every client: the longest
/// value of the open clients applies.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_busy_poll(
    options: *mut midge_options,
    usec: u32,
) -> midge_result {
    with_options(options, |d| {
        d.busy_poll = at_most_10ms(usec, "busy poll")?;
        Ok(())
    })
}

/// The I/O thread's pauses and spins, in microseconds: at most 10 ms, as they hold up
/// every client's I/O.
fn at_most_10ms(usec: u32, what: &str) -> Result<Duration, FfiError> {
    if usec > 10_000 {
        return Err(FfiError::Invalid(format!(
            "{what} of {usec} us is over 10,000"
        )));
    }
    Ok(Duration::from_micros(u64::from(usec)))
}

/// How far a persistent client's writes have gone when the call that made them returns
/// (`midge_options_set_store`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_durability {
    /// Written to the operating system (the file store: one write(2) per record) before
    /// the publish call returns: survives the process crashing or being killed
    /// (SIGKILL, a watchdog), not a power loss or a kernel crash.
    MIDGE_DURABILITY_OS = 1,
    /// On stable storage (fdatasync; the callback store's `sync`) before the publish call
    /// returns: survives a power loss. Concurrent publishers share one sync (group
    /// commit). The state the I/O thread writes (a QoS 2 message's packet id, PUBREL,
    /// PUBREC) is synced before the packet that depends on it leaves.
    MIDGE_DURABILITY_FSYNC = 2,
    /// Written to the operating system before the publish call returns, as
    /// `MIDGE_DURABILITY_OS`, and on stable storage before it is sent: midge's I/O thread
    /// syncs everything written so far once before each write to the server, so the
    /// publishes made meanwhile share one sync even from a single thread. A power loss
    /// takes only messages accepted and not yet sent (the server never saw them);
    /// nothing sent, acknowledged or half-acknowledged is forgotten. The sync runs on the
    /// I/O thread, which every client shares.
    MIDGE_DURABILITY_FSYNC_BEFORE_SEND = 3,
}

/// Makes the session persistent: the store (`midge_store_file_new`,
/// `midge_store_callbacks_new`) is taken from `*store` (set to NULL: the next client made
/// with these options owns it, and frees it with itself) and `durability` is
/// `MIDGE_DURABILITY_OS`, `MIDGE_DURABILITY_FSYNC` or `MIDGE_DURABILITY_FSYNC_BEFORE_SEND`.
///
/// What it keeps: every QoS 1/2 publish, written before `midge_client_publish` returns OK
/// (a failure to write is that call's failure: `MIDGE_RESULT_STORE_FULL`,
/// `MIDGE_RESULT_STORE`); where each sent one stands (its packet id, PUBREL sent); the
/// packet ids of incoming QoS 2 messages acknowledged with PUBREC (written before
/// `midge_message_ack` returns, or the callback's return with automatic
/// acknowledgements), so that they are not delivered again; the client identifier and the
/// subscriptions. QoS 0 messages are not kept.
///
/// A client made with a store that holds a session restores it: the next connect resumes
/// it (Clean Start 0) and resends what was in flight with its packet ids [MQTT-4.4.0-1],
/// then what was queued; each restored publish's end is a
/// `MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE` event. Closing or freeing a client keeps its
/// unsent messages in the store (their completions end with `MIDGE_RESULT_CLOSED`) for the
/// next client made with it. A store holding another client identifier's session is
/// refused by `midge_client_new` (`MIDGE_RESULT_INVALID_ARGUMENT`). Set a Session Expiry
/// Interval (`midge_options_set_session_expiry`) longer than a restart takes, or the server
/// forgets its half of the session. One store per client: a second `midge_client_new`
/// with these options fails with `MIDGE_RESULT_INVALID_ARGUMENT` until another store is
/// set. A store already set here is freed.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_store(
    options: *mut midge_options,
    store: *mut *mut midge_store,
    durability: c_int,
) -> midge_result {
    with_options(options, |d| {
        let durability = match durability {
            1 => Durability::Os,
            2 => Durability::Fsync,
            3 => Durability::FsyncBeforeSend,
            other => {
                return Err(FfiError::Invalid(format!(
                    "{other} is not a midge_durability"
                )));
            }
        };
        if store.is_null() {
            return Err(FfiError::null("store"));
        }
        let s = take_store(store).ok_or_else(|| FfiError::stale("store"))?;
        d.store = StoreSlot::Set(SharedStore::new(s, durability));
        Ok(())
    })
}

/// The longest pause of adaptive batching, in microseconds: default 1,000, at most 10,000;
/// 0 turns batching off for this client. midge batches by itself, from the traffic it
/// sees: while traffic is sparse, a publish is written at once by its caller and a reply is
/// read and delivered as soon as it arrives, with no added latency. Once traffic is dense
/// (8 packets or more in one round of the I/O thread, or 8 publishes within 500 µs), the
/// I/O thread pauses between rounds, long enough to gather about 64 packets at the rate it
/// observed and never longer than `usec`: what the application publishes meanwhile goes out
/// in one write, what the server sent is read in one read, and the acknowledgements go back
/// in one write. Under a steady stream it saves most of the system calls, the largest part
/// of a client's CPU time (see `midge_client_io_stats`), at the price of up to `usec` of
/// latency per hop while traffic is dense. The I/O thread is shared: while a client's
/// traffic is dense, every client's I/O waits with it (the longest linger of those clients
/// applies). With 0, this client's traffic never makes the I/O thread pause (another
/// client's dense traffic still pauses the shared thread).
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_linger(options: *mut midge_options, usec: u32) -> midge_result {
    with_options(options, |d| {
        d.linger = Some(at_most_10ms(usec, "linger")?);
        Ok(())
    })
}

// The authenticator option, last in the header as it always was.
pub(super) mod auth;
use auth::{AuthSetup, CAuthenticator};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::result::{MIDGE_RESULT_INVALID_ARGUMENT, MIDGE_RESULT_OK};

    #[test]
    fn the_memory_budget_is_checked_and_reaches_the_session() {
        let mut o = midge_options_new();
        assert_eq!(
            midge_options_set_memory_budget(o, MIDGE_MEMORY_BUDGET_MIN - 1),
            MIDGE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            client_options(o).unwrap().session.memory_budget,
            MemoryBudget::default()
        );
        assert_eq!(midge_options_set_memory_budget(o, 1 << 20), MIDGE_RESULT_OK);
        let session = client_options(o).unwrap().session;
        assert_eq!(session.memory_budget.total(), 1 << 20);
        assert_eq!(session.memory_budget.max_incoming_packet(), 256 * 1024);
        assert_eq!(
            midge_options_set_memory_budget(std::ptr::null_mut(), 1 << 20),
            MIDGE_RESULT_INVALID_ARGUMENT
        );
        midge_options_free(&raw mut o);
    }
}
