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

/// Client session options. `Default` gives a v5 client with clean start, keep alive 60 s,
/// no session expiry, Receive Maximum 65,535 and automatic topic aliases.
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
    /// The largest packet we accept; `None` for no limit (3.1.2.11.4).
    pub maximum_packet_size: Option<u32>,
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
