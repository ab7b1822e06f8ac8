//! What a client is configured with ([`ClientOptions`]).

use std::time::Duration;

use crate::protocol::{DEFAULT_MAX_REDIRECTS, Options};
use crate::runtime::backoff::ReconnectPolicy;
use crate::runtime::event::LogLevel;
use crate::store::SharedStore;
use crate::transport::{TcpOptions, TlsOptions, WsOptions};
#[cfg(doc)]
use crate::{error::Error, runtime::Client, runtime::event::ClientEvent};

/// The longest pause of adaptive batching by default ([`ClientOptions::linger`]).
pub const DEFAULT_LINGER: Duration = Duration::from_millis(1);

/// Everything a client is configured with: the MQTT session options and the runtime's.
#[derive(Debug)]
pub struct ClientOptions {
    /// CONNECT contents, our limits, the offline queue.
    pub session: Options,
    /// More servers, tried in order after the client's address (any mix of schemes; see
    /// [`Client::with_servers`]).
    pub servers: Vec<String>,
    /// Follow a server's redirection (MQTT 5.0 4.11: CONNACK or DISCONNECT 0x9C Use another
    /// server / 0x9D Server moved with a Server Reference). Off by default; see
    /// [`Client::on_redirect`] for a veto.
    pub follow_redirects: bool,
    /// How many redirections in a row are followed (default 3); the next is refused, the
    /// count starting again with each accepted connection.
    pub max_redirects: u32,
    pub reconnect: ReconnectPolicy,
    pub tcp: TcpOptions,
    /// TLS for `mqtts://` and `wss://` (verification on; `None`: the system's roots).
    /// Refused for a plain address.
    pub tls: Option<TlsOptions>,
    /// WebSocket upgrade settings for `ws://` and `wss://`.
    pub websocket: WsOptions,
    /// Bound on DNS resolution plus TCP connect, TLS handshake and WebSocket upgrade (CONNACK
    /// has `session.connect_timeout`).
    pub connect_timeout: Duration,
    /// Also deliver publish/subscribe/unsubscribe completions as events (callback or
    /// `next_event`), not only through their completion handles.
    pub completion_events: bool,
    /// How many messages may wait for the application (behind a callback or for
    /// [`Client::next_event`]; other events are few and do not count). At this bound midge
    /// stops reading the client's socket until the application takes messages (the
    /// server's flow control then holds further ones): backpressure, not loss. One read
    /// may pass the bound; only past twice the bound are QoS 0 messages dropped and counted
    /// ([`ClientEvent::MessagesDropped`]), QoS 1/2 never.
    pub event_queue_limit: usize,
    /// The same bound in bytes (an event's approximate memory: payload, topic and
    /// properties; [`ClientEvent::approx_size`]), default 64 MiB, and never more than a
    /// sixteenth of the memory budget (`session.memory_budget`: 1 MiB with the default
    /// 16 MiB budget).
    /// Whichever bound is reached first stops reading; one read (64 KiB) may pass it, and
    /// the packet it completes (up to the largest accepted). QoS 0 messages are dropped and
    /// counted only past twice this bound, or past the bound plus the largest packet
    /// accepted and a read when that is more; QoS 1/2 never.
    pub event_queue_bytes: usize,
    /// Which [`ClientEvent::Log`] lines the client produces (none by default).
    pub log_level: LogLevel,
    /// Run the callback on midge's I/O thread, as soon as its events are read, instead of
    /// on a dispatcher thread (off by default). It saves a thread hand-off per message
    /// (lower latency and CPU), at a price: the callback must not block, since every
    /// client's I/O waits for it, and waits inside it (`_and_wait`, `Completion::wait`)
    /// fail with [`Error::WouldDeadlock`]. Publishing, subscribing and closing from it work.
    pub inline_callbacks: bool,
    /// Before the I/O thread sleeps, it polls its sockets without sleeping for at least this
    /// long (yielding the CPU to any thread that wants it), default zero. A reply arriving
    /// within the spin then costs no wake-up: lower round-trip latency (notably on virtual
    /// machines, where waking an idle CPU costs tens of microseconds), for CPU time. midge
    /// already spins by itself while replies come quickly (the I/O and dispatcher threads
    /// poll for up to twice their recent waits, at most 150 µs, and not at all while waits
    /// are long, as when idle); this sets a floor that applies even when they are long.
    /// The I/O thread is shared: the longest value of the open clients applies.
    pub busy_poll: Duration,
    /// The longest pause of adaptive batching (default [`DEFAULT_LINGER`], 1 ms; zero turns
    /// batching off for this client). midge batches by itself, from the traffic it sees:
    /// while traffic is sparse, a publish is written at once by its caller and a reply is
    /// read and delivered as soon as it arrives, with no added latency. Once traffic is
    /// dense (8 packets or more in one round of the I/O thread, or 8 publishes within
    /// 500 µs), the I/O thread pauses between rounds, long enough to gather about 64 packets
    /// at the rate it observed and never longer than this: what the application publishes
    /// meanwhile goes out in one write, what the server sent is read in one read, and the
    /// acknowledgements go back in one write. Under a steady stream it saves most of the
    /// system calls, the largest part of a client's CPU time (see [`Client::io_stats`]), at
    /// the price of up to this much latency per hop while traffic is dense. The I/O thread
    /// is shared: while a client's traffic is dense, every client's I/O waits with it (the
    /// longest linger of those clients applies). With zero, this client's traffic never
    /// makes the I/O thread pause (another client's dense traffic still pauses the shared
    /// thread). At most 10 ms is sensible; the C API refuses more.
    pub linger: Duration,
    /// A store that keeps the session across restarts of the process (`None`, the
    /// default: memory only). Every QoS 1/2 publish is written to it before the publish
    /// call returns, as its durability says ([`crate::store::Durability`]); the session's
    /// state (Packet Identifiers, PUBREL state, incoming QoS 2 messages acknowledged with
    /// PUBREC, the subscriptions) is written before the packets that depend on it leave.
    /// A client made with a store that holds a session restores it and resumes it at the
    /// next connect (Clean Start 0), resending what was in flight [MQTT-4.4.0-1]; the end
    /// of each restored publish is a [`ClientEvent::RestoredPublishComplete`]. One store
    /// per client identifier; use a Session Expiry Interval long enough to cover a restart,
    /// or the server forgets its half of the session.
    pub store: Option<SharedStore>,
    /// Application-controlled acknowledgements (off by default). A received QoS 1/2
    /// message is then acknowledged to the server (PUBACK, or PUBREC for QoS 2) only when
    /// the application calls [`Client::ack`] with it, not when the callback returns or
    /// [`Client::next_event`] hands it out: e.g. once it is written to the application's
    /// own storage, so that a crash before that has the server send it again.
    ///
    /// Acknowledgements still go out in the order the messages arrived [MQTT-4.6.0-2]
    /// [MQTT-4.6.0-3]: acknowledging a message before an earlier one holds its PUBACK
    /// until the earlier one is acknowledged too. Messages not yet acknowledged are bounded
    /// by the Receive Maximum midge sends in CONNECT (`session.receive_maximum`, default
    /// 65,535): a server that keeps to it stops sending QoS 1/2 messages while that many
    /// are unacknowledged (QoS 0 still flows), so an application that stops acknowledging
    /// gets backpressure, not loss. A server overshooting that bound (Mosquitto 2.0.11
    /// sends up to a Receive Maximum more for each PUBACK) is tolerated up to twice it;
    /// beyond, midge reads nothing more from it until the application acknowledges
    /// (`Session::input_held`; the keep alive still sends PINGREQ meanwhile), rather than
    /// disconnecting. Set a Receive Maximum you are ready to hold messages for. Replies to
    /// [`Client::request`] are acknowledged by midge, as they never reach the application
    /// as messages.
    pub manual_ack: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            session: Options::default(),
            servers: Vec::new(),
            follow_redirects: false,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            reconnect: ReconnectPolicy::default(),
            tcp: TcpOptions::default(),
            tls: None,
            websocket: WsOptions::default(),
            connect_timeout: Duration::from_secs(30),
            completion_events: false,
            event_queue_limit: 100_000,
            event_queue_bytes: 64 << 20,
            log_level: LogLevel::Off,
            inline_callbacks: false,
            busy_poll: Duration::ZERO,
            linger: DEFAULT_LINGER,
            store: None,
            manual_ack: false,
        }
    }
}
