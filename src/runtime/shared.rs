//! What a [`Client`](super::Client) and its connection on the I/O thread share: the flags
//! and counters each side writes and the other reads, in one allocation per client (seven
//! separate `Arc`s cost about 200 bytes per client more, issue 14's idle-client budget).

use std::sync::atomic::{AtomicBool, AtomicU8};

use parking_lot::Mutex;

use super::event::IoCounters;
use super::memory::MemoryGauge;
use super::servers::FilterSlot;

#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Deliver completion events to the mailbox (callbacks / `next_event`), besides
    /// handles; the application may switch it at any time.
    pub completion_events: AtomicBool,
    /// Whether the session is connected, as the I/O thread last said
    /// (`Client::is_connected`).
    pub connected: AtomicBool,
    /// The Protocol Level of the last connection made (0 before one), written by the I/O
    /// thread at each CONNACK, read by `Client::protocol_version`.
    pub protocol_level: AtomicU8,
    /// Counted by the I/O thread, read by `Client::io_stats`.
    pub io: IoCounters,
    /// Buffer sizes recorded by the I/O thread, read by `Client::memory_stats`.
    pub memory: MemoryGauge,
    /// The address of the last connection made, written by the I/O thread at each
    /// CONNACK, read by `Client::server`.
    pub server: Mutex<Option<String>>,
    /// The application's veto over redirections (`Client::on_redirect`).
    pub redirect_filter: FilterSlot,
}

impl Shared {
    pub(crate) fn new(completion_events: bool) -> Self {
        Self {
            completion_events: AtomicBool::new(completion_events),
            ..Self::default()
        }
    }
}
