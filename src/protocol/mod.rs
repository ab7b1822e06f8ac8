//! `protocol`: the MQTT 5 client session as a sans-IO state machine.
//!
//! Contract: no sockets, no threads, no clock reads. The runtime passes in the transport's
//! bytes and events, the application's requests, and `now`; the session hands back bytes to
//! send, events for the application, the next deadline, and when to close the connection.
//! Everything the standard calls client Session State (4.1) lives here: the Packet
//! Identifier allocator, outbound QoS 1/2 in flight within the server's Receive Maximum,
//! inbound QoS 2 state, acknowledgement order, topic aliases, keep alive and resumption.
//! This makes QoS 2 resumption, alias resets, ack ordering and packet-id reuse testable on a
//! virtual clock without sockets.

mod alias;
mod config;
mod error;
mod event;
mod filters;
mod idle;
mod idmap;
mod packet_id;
pub mod persist;
mod redirect;
mod session;
mod stats;
mod version;

pub use config::{
    Authenticator, ConnectChange, MEMORY_BUDGET_DEFAULT, MEMORY_BUDGET_MIN, MemoryBudget, Options,
    QueueLimits,
};
pub use error::{AckReason, RequestError};
pub use event::{
    AckToken, ConnAckInfo, ConnectRefusal, DisconnectCause, Event, MAX_DETAIL_TEXT, Message,
    PublishAck, RequestId, SubscribeAck, TlsFailure, UnsubscribeAck, bounded_text,
};
pub use filters::{FilterEntry, SubscriptionMap};
pub(crate) use idle::Release;
pub(crate) use idmap::IdMap;
pub(crate) use redirect::DEFAULT_MAX_REDIRECTS;
pub use redirect::{
    Decision as RedirectDecision, NotFollowed, RedirectPolicy, Redirects, Target as RedirectTarget,
    parse_reference,
};
pub use session::{
    Persisted, PublishRequest, RestoredPublish, Session, State, check_subscribe, check_unsubscribe,
    check_will,
};
pub(crate) use session::{TRANSMIT_HIGH_WATER, max_incoming_packet};
pub use stats::SessionStats;
pub use version::VersionChoice;
pub(crate) use version::{check_publish_v311, check_subscribe_v311, check_unsubscribe_v311};
