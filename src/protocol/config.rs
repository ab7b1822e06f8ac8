//! What the application sets up once per client: CONNECT contents, our own limits, the
//! offline queue and the authenticator.

use std::fmt;
use std::time::Duration;

use super::version::VersionChoice;
use crate::codec::{ByteString, Bytes, Will};

/// Enhanced authentication (4.12): a pluggable exchange of AUTH packets during CONNECT and
/// re-authentication later.
pub trait Authenticator: Send {
    /// The Authentication Method sent in CONNECT.
    fn method(&self) -> &str;
    /// The Authentication Data sent in CONNECT (or in AUTH 0x19 to re-authenticate).
    fn initial_data(&mut self) -> Option<Bytes>;
    /// The server's AUTH 0x18 challenge; the answer is sent in AUTH 0x18. An error aborts
    /// the connection.
    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, String>;
    /// The server's final data in CONNACK or AUTH 0x00; an error aborts the connection.
    fn success(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        let _ = data;
        Ok(())
    }
}

/// A connect-time setting the application changes between connections
/// ([`crate::protocol::Session::change_connect`]), as libmosquitto and Paho take them at
/// every connect. It applies from the next CONNECT on, automatic reconnections included.
#[derive(Clone, PartialEq, Eq)]
pub enum ConnectChange {
    /// The Last Will (3.1.3.2), or none.
    Will(Option<Will>),
    /// User Name and Password (3.1.3.5, 3.1.3.6); each may be absent.
    Credentials {
        username: Option<ByteString>,
        password: Option<Bytes>,
    },
    /// Clean Start of the next connection only (3.1.2.4); after it, reconnections resume the
    /// session again when it outlives the connection.
    CleanStart(bool),
}

impl fmt::Debug for ConnectChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Will(w) => f.debug_tuple("Will").field(w).finish(),
            Self::Credentials { username, password } => f
                .debug_struct("Credentials")
                .field("username", username)
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .finish(),
            Self::CleanStart(c) => f.debug_tuple("CleanStart").field(c).finish(),
        }
    }
}

/// Bounds of the offline queue: publishes made while disconnected, or while the server's
/// Receive Maximum is used up. When either bound would be passed the new publish is refused
/// with [`crate::protocol::RequestError::QueueFull`]; nothing already queued is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    pub max_messages: usize,
    pub max_bytes: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self {
            max_messages: 10_000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The default [`MemoryBudget`]: 16 MiB, for a gateway with a handful of connections.
pub const MEMORY_BUDGET_DEFAULT: usize = 16 * 1024 * 1024;
/// The smallest [`MemoryBudget`] accepted: 64 KiB (16 KiB packets).
pub const MEMORY_BUDGET_MIN: usize = 64 * 1024;

/// How much memory one client may spend on what the network sends it and on what it owes
/// the network, in bytes. No input from a server takes a client past it: the budget is
/// split into fixed shares, each enforced where its memory is spent.
///
/// | share | of the total | default (16 MiB) | at the bound |
/// |---|---|---|---|
/// | [`MemoryBudget::max_incoming_packet`] | 1/4 | 4 MiB | sent as Maximum Packet Size in CONNECT [MQTT-3.1.2-24]; a larger packet gets DISCONNECT 0x95 |
/// | [`MemoryBudget::event_queue_bytes`] | 1/16 | 1 MiB | events (payload + properties) waiting for the application: reading stops (backpressure) |
/// | [`MemoryBudget::write_buffer_bytes`] | 1/8 | 2 MiB | replies and packets not yet taken by the socket: reading stops (backpressure) |
///
/// The rest covers the read chunk and bookkeeping. The event queue's share is small on
/// purpose: it only smooths the hand-over to the application (16 reads of 64 KiB at the
/// default), and a larger one bought no throughput but raised the peak memory (the bench's
/// 16 KiB QoS 1 stream peaked about 1 MB higher with half the budget). The offline queue of
/// the application's own publishes has its own bound ([`QueueLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    total: usize,
}

impl MemoryBudget {
    /// A budget of `total` bytes; `None` below [`MEMORY_BUDGET_MIN`].
    pub const fn new(total: usize) -> Option<Self> {
        if total >= MEMORY_BUDGET_MIN {
            Some(Self { total })
        } else {
            None
        }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// The largest packet we accept, fixed header included: a quarter of the budget (at
    /// most the protocol's 268,435,460 bytes, sent as Maximum Packet Size).
    pub fn max_incoming_packet(&self) -> u32 {
        u32::try_from(self.total / 4)
            .unwrap_or(u32::MAX)
            .min(268_435_460)
    }

    /// The bytes of replies and packets that may wait for the socket before midge stops
    /// reading from it: an eighth.
    pub fn write_buffer_bytes(&self) -> usize {
        self.total / 8
    }

    /// The bytes of events (payload, topic and properties) that may wait for the
    /// application: a sixteenth.
    pub fn event_queue_bytes(&self) -> usize {
        self.total / 16
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self {
            total: MEMORY_BUDGET_DEFAULT,
        }
    }
}

/// Client session options. `Default` gives a v5 client with clean start, keep alive 60 s,
/// no session expiry, Receive Maximum 65,535, automatic topic aliases and a 16 MiB memory
/// budget.
pub struct Options {
    /// MQTT 5.0 (the default), 3.1.1, or 5.0 falling back to 3.1.1 ([`VersionChoice`]).
    /// What 3.1.1 cannot carry is refused ([`Options::check_version`]).
    pub protocol_version: VersionChoice,
    /// Empty asks the server to assign one (3.1.3.1).
    pub client_id: ByteString,
    /// Clean Start on the first connection. Reconnections ask to resume the session when the
    /// session outlives the connection (Session Expiry Interval > 0).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off (3.1.2.10).
    pub keep_alive: u16,
    /// Seconds the server keeps the session after the connection closes (3.1.2.11.2).
    pub session_expiry_interval: u32,
    pub username: Option<ByteString>,
    pub password: Option<Bytes>,
    pub will: Option<Will>,
    /// How many unacknowledged QoS 1 and 2 PUBLISHes we accept from the server (3.1.2.11.3).
    pub receive_maximum: u16,
    /// The largest packet we accept (3.1.2.11.4). `None`: the memory budget's
    /// [`MemoryBudget::max_incoming_packet`]; a value above that is lowered to it. The value
    /// in force goes out in CONNECT: a server must not send larger packets
    /// [MQTT-3.1.2-24], and drops a message that would be larger [MQTT-3.1.2-25].
    pub maximum_packet_size: Option<u32>,
    /// The memory this client may spend on input and replies (see [`MemoryBudget`]).
    pub memory_budget: MemoryBudget,
    /// How long the server may send packets that need replies while it reads none of ours
    /// (the write backlog at [`MemoryBudget::write_buffer_bytes`], reading stopped) before
    /// midge disconnects with 0x97 Quota exceeded. Default 30 s; with keep alive on, the
    /// keep alive (1.5 times it) usually ends such a connection first.
    pub write_stall_timeout: Duration,
    /// How many topic aliases the server may assign (3.1.2.11.5).
    pub topic_alias_maximum: u16,
    pub request_response_information: bool,
    pub request_problem_information: bool,
    pub user_properties: Vec<(ByteString, ByteString)>,
    pub authenticator: Option<Box<dyn Authenticator>>,
    /// Assign topic aliases to outgoing PUBLISHes, up to the server's maximum.
    pub auto_topic_alias: bool,
    pub offline_queue: QueueLimits,
    /// Subscribe again to every filter when the server did not keep the session.
    pub resubscribe: bool,
    /// How long to wait for CONNACK after CONNECT.
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            protocol_version: VersionChoice::V5,
            client_id: ByteString::new(),
            clean_start: true,
            keep_alive: 60,
            session_expiry_interval: 0,
            username: None,
            password: None,
            will: None,
            receive_maximum: u16::MAX,
            maximum_packet_size: None,
            memory_budget: MemoryBudget::default(),
            write_stall_timeout: Duration::from_secs(30),
            topic_alias_maximum: 16,
            request_response_information: false,
            request_problem_information: true,
            user_properties: Vec::new(),
            authenticator: None,
            auto_topic_alias: true,
            offline_queue: QueueLimits::default(),
            resubscribe: true,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("protocol_version", &self.protocol_version)
            .field("client_id", &self.client_id)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("session_expiry_interval", &self.session_expiry_interval)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("will", &self.will)
            .field("receive_maximum", &self.receive_maximum)
            .field("maximum_packet_size", &self.maximum_packet_size)
            .field("memory_budget", &self.memory_budget)
            .field("write_stall_timeout", &self.write_stall_timeout)
            .field("topic_alias_maximum", &self.topic_alias_maximum)
            .field(
                "authenticator",
                &self.authenticator.as_ref().map(|a| a.method().to_owned()),
            )
            .field("auto_topic_alias", &self.auto_topic_alias)
            .field("offline_queue", &self.offline_queue)
            .field("resubscribe", &self.resubscribe)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}
