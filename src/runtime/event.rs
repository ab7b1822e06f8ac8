//! What a client tells the application, in order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::protocol::{
    ConnAckInfo, DisconnectCause, Event, Message, PublishAck, RequestError, SessionStats,
    SubscribeAck, UnsubscribeAck,
};

/// An event of one client. Events of one client are delivered in order and never
/// concurrently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// CONNACK with success, with every CONNACK property.
    Connected(Box<ConnAckInfo>),
    /// The connection ended or could not be made, with the cause.
    ConnectionLost(DisconnectCause),
    /// A reconnection attempt is scheduled after `delay`.
    Reconnecting { attempt: u32, delay: Duration },
    /// The server did not keep the session (see [`crate::protocol::Event::SessionLost`]).
    SessionLost { resubscribed: usize },
    /// A received message. QoS 1 and 2 messages are acknowledged to the server after the
    /// callback returns, or when `next_event` hands them out; with
    /// `ClientOptions::manual_ack`, when the application calls `Client::ack`.
    Message(Message),
    /// A publish ended; `id` is its [`crate::runtime::Completion::id`]. Delivered with
    /// `ClientOptions::completion_events`, and always for a failure nobody holds a
    /// completion for (a detached publish, or a completion abandoned before the end).
    PublishComplete {
        id: u64,
        result: Result<PublishAck, RequestError>,
    },
    SubscribeComplete {
        id: u64,
        result: Result<SubscribeAck, RequestError>,
    },
    UnsubscribeComplete {
        id: u64,
        result: Result<UnsubscribeAck, RequestError>,
    },
    /// A publish made before a restart, restored from the client's store
    /// ([`crate::ClientOptions::store`]), ended: `id` is the id its completion had then
    /// ([`crate::Completion::id`]), `message` what was published (topic, payload, QoS,
    /// properties; no packet id or acknowledgement). Always delivered, success or not: the
    /// application learns which of its earlier publishes were acknowledged.
    RestoredPublishComplete {
        id: u64,
        message: Box<Message>,
        result: Result<PublishAck, RequestError>,
    },
    /// The server accepted a re-authentication.
    Reauthenticated,
    /// A disconnect the session refused (properties it cannot send) that its caller could
    /// not be told: [`crate::Client::disconnect_detached`] (or a C call with no completion)
    /// made while the I/O thread was busy. `id` is the completion's id. The connection goes
    /// on.
    DisconnectFailed { id: u64, error: RequestError },
    /// A re-authentication the session refused (not connected, no authenticator, 3.1.1)
    /// that its caller could not be told ([`crate::Client::reauthenticate_detached`]).
    ReauthenticateFailed { id: u64, error: RequestError },
    /// QoS 0 messages dropped because the event queue was past twice its bounds (a safety
    /// net: reading stops at the bounds, so one read passes them at most); QoS 1 and 2 are
    /// never dropped.
    MessagesDropped { count: u64 },
    /// A line of the client's log, at or above `ClientOptions::log_level`.
    Log { level: LogLevel, message: String },
    /// The client is closed: the last event.
    Closed,
}

/// How much a client logs (as [`ClientEvent::Log`] events). Ordered: `Error` < `Debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// Nothing (the default): no log event is ever built.
    #[default]
    Off = 0,
    /// Failures that stop the client from doing what was asked.
    Error = 1,
    /// Lost connections, refused requests, protocol violations by the server.
    Warn = 2,
    /// Connection changes.
    Info = 3,
    /// Each step of connecting.
    Debug = 4,
}

impl ClientEvent {
    /// The end of a publish restored from the store.
    pub(crate) fn restored_publish_complete(
        r: crate::protocol::RestoredPublish,
        result: Result<PublishAck, RequestError>,
    ) -> Self {
        let q = r.request;
        Self::RestoredPublishComplete {
            id: r.completion_id,
            message: Box::new(Message {
                topic: q.topic,
                payload: q.payload,
                qos: q.qos,
                retain: q.retain,
                dup: false,
                packet_id: 0,
                properties: q.properties,
                ack: None,
            }),
            result,
        }
    }

    /// Roughly the memory this event holds, for the event queue's byte bound: a message's
    /// payload, topic and properties, plus a fixed overhead for any event.
    pub fn approx_size(&self) -> usize {
        const OVERHEAD: usize = 128;
        OVERHEAD
            + match self {
                Self::Message(m) => m.payload.len() + m.topic.len() + m.properties.encoded_len(),
                Self::Log { message, .. } => message.len(),
                _ => 0,
            }
    }

    /// The application's form of a session event; completions are not forwarded as they are
    /// (the runtime gives them the id of the application's completion handle).
    pub(crate) fn from_session(e: Event) -> Option<Self> {
        Some(match e {
            Event::Connected(info) => Self::Connected(info),
            Event::Disconnected(cause) => Self::ConnectionLost(cause),
            Event::SessionLost { resubscribed } => Self::SessionLost { resubscribed },
            Event::Message(m) => Self::Message(m),
            Event::Reauthenticated => Self::Reauthenticated,
            Event::PublishComplete { .. }
            | Event::SubscribeComplete { .. }
            | Event::UnsubscribeComplete { .. } => return None,
        })
    }
}

/// A client's socket I/O since it was created, over all its connections: the system calls
/// that moved data and the bytes they moved. What batching saves shows here: compare
/// `writes` with the packets sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Writes to the socket that sent data.
    pub writes: u64,
    pub bytes_sent: u64,
    /// Reads from the socket that returned data.
    pub reads: u64,
    pub bytes_received: u64,
}

/// Everything [`crate::Client::stats`] reports: the session's counters and the socket
/// I/O, read together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Messages, packets, in-flight and queued counts, connections, round-trip time.
    pub session: SessionStats,
    /// The system calls that moved data and the bytes they moved.
    pub io: IoStats,
}

/// [`IoStats`] as the I/O thread (and callers writing directly) count it, and the latest
/// [`SessionStats`] the I/O thread published.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    writes: AtomicU64,
    bytes_sent: AtomicU64,
    reads: AtomicU64,
    bytes_received: AtomicU64,
    /// The session's counters as of the I/O thread's last round for the client, and when.
    session: parking_lot::Mutex<Option<(SessionStats, Instant)>>,
}

impl IoCounters {
    pub(crate) fn wrote(&self, bytes: usize) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn read(&self, bytes: usize) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The I/O thread publishes the session's counters after each round for the client.
    pub(crate) fn store_session(&self, stats: SessionStats, at: Instant) {
        *self.session.lock() = Some((stats, at));
    }

    /// The latest session counters; a connection's age counts to this moment.
    pub(crate) fn session_snapshot(&self) -> SessionStats {
        match *self.session.lock() {
            Some((mut s, at)) => {
                if s.connects > s.disconnects {
                    s.connected_for += Instant::now().saturating_duration_since(at);
                }
                s
            }
            None => SessionStats::default(),
        }
    }

    pub(crate) fn snapshot(&self) -> IoStats {
        IoStats {
            writes: self.writes.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
        }
    }
}
