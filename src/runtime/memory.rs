//! What a client's buffers hold, for the application (and the hostile-broker tests) to see
//! that no input takes a client past its [`crate::protocol::MemoryBudget`]. Measured by the
//! buffers themselves, not by the process's RSS, so it is exact and per client.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A snapshot of a client's buffer sizes, in bytes ([`crate::runtime::Client::memory_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// The receive (decoder) buffer's capacity now: a partial packet plus what the last read
    /// brought.
    pub read_buffer: usize,
    /// The largest `read_buffer` seen.
    pub peak_read_buffer: usize,
    /// Bytes encoded and not yet taken by the socket now (write buffer plus the session's
    /// transmit buffer: acknowledgements, replies, publishes).
    pub write_backlog: usize,
    /// The largest `write_backlog` seen.
    pub peak_write_backlog: usize,
}

/// [`MemoryStats`] as the I/O thread (and callers writing directly) record it.
#[derive(Debug, Default)]
pub(crate) struct MemoryGauge {
    read_buffer: AtomicUsize,
    peak_read_buffer: AtomicUsize,
    write_backlog: AtomicUsize,
    peak_write_backlog: AtomicUsize,
}

impl MemoryGauge {
    pub(crate) fn read_buffer(&self, bytes: usize) {
        self.read_buffer.store(bytes, Ordering::Relaxed);
        self.peak_read_buffer.fetch_max(bytes, Ordering::Relaxed);
    }

    pub(crate) fn write_backlog(&self, bytes: usize) {
        self.write_backlog.store(bytes, Ordering::Relaxed);
        self.peak_write_backlog.fetch_max(bytes, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MemoryStats {
        MemoryStats {
            read_buffer: self.read_buffer.load(Ordering::Relaxed),
            peak_read_buffer: self.peak_read_buffer.load(Ordering::Relaxed),
            write_backlog: self.write_backlog.load(Ordering::Relaxed),
            peak_write_backlog: self.peak_write_backlog.load(Ordering::Relaxed),
        }
    }
}
