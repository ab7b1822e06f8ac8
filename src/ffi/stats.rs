//! `midge_client_stats`: what a client has done and holds now, for a firmware watchdog.

use super::client::{client, midge_client};
use super::ptr::write_out;
use super::result::{guard, midge_result};

/// A client's counters (`midge_client_stats`), over all its connections since
/// `midge_client_new`. Reading them costs a lock and a copy, no call to the I/O thread: a
/// watchdog may read them every second. Fields are never removed or reordered; new ones
/// come with a new function.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct midge_stats {
    /// PUBLISH packets sent, each message once (retransmissions not counted again).
    pub messages_sent: u64,
    /// PUBLISH packets received (a duplicate of a QoS 2 message awaiting its PUBREL is not
    /// counted again; a QoS 1 redelivery is, as the client cannot tell it apart).
    pub messages_received: u64,
    /// MQTT packets of every kind sent, retransmissions included.
    pub packets_sent: u64,
    /// MQTT packets of every kind received.
    pub packets_received: u64,
    /// Bytes written to the socket.
    pub bytes_sent: u64,
    /// Bytes read from the socket.
    pub bytes_received: u64,
    /// Socket writes that sent data.
    pub writes: u64,
    /// Socket reads that returned data.
    pub reads: u64,
    /// Outgoing QoS 1/2 messages sent and not yet completed (PUBACK or PUBCOMP).
    pub inflight_out: u64,
    /// Incoming QoS 2 messages not yet released (PUBREL).
    pub inflight_in: u64,
    /// Publishes waiting to be sent (offline, or beyond the server's Receive Maximum).
    pub queued: u64,
    /// The bytes those queued publishes count against the queue's bound.
    pub queued_bytes: u64,
    /// Connections the server accepted.
    pub connects: u64,
    /// Accepted connections that have ended.
    pub disconnects: u64,
    /// Milliseconds the current connection has been up (0 while not connected).
    pub connected_ms: u64,
    /// Whether `rtt_us` and `last_rtt_us` hold a measurement yet.
    pub has_rtt: bool,
    /// The smoothed round-trip time to the server in microseconds (TCP's SRTT over
    /// PINGREQ/PINGRESP and QoS 1/2 PUBLISH/PUBACK or PUBREC samples).
    pub rtt_us: u64,
    /// The latest round-trip sample in microseconds.
    pub last_rtt_us: u64,
    /// Publishes refused because the queue was full (`MIDGE_RESULT_QUEUE_FULL`).
    pub refused_queue_full: u64,
}

/// Puts the client's counters in `*stats` (see `midge_stats`). `MIDGE_RESULT_INVALID_ARGUMENT`
/// for a NULL or dead client or a NULL `stats`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_stats(
    client: *const midge_client,
    stats: *mut midge_stats,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let s = c.client.stats();
        let micros = |d: Option<std::time::Duration>| d.map_or(0, |d| d.as_micros() as u64);
        let out = midge_stats {
            messages_sent: s.session.messages_sent,
            messages_received: s.session.messages_received,
            packets_sent: s.session.packets_sent,
            packets_received: s.session.packets_received,
            bytes_sent: s.io.bytes_sent,
            bytes_received: s.io.bytes_received,
            writes: s.io.writes,
            reads: s.io.reads,
            inflight_out: s.session.inflight_out,
            inflight_in: s.session.inflight_in,
            queued: s.session.queued,
            queued_bytes: s.session.queued_bytes,
            connects: s.session.connects,
            disconnects: s.session.disconnects,
            connected_ms: s.session.connected_for.as_millis() as u64,
            has_rtt: s.session.rtt.is_some(),
            rtt_us: micros(s.session.rtt),
            last_rtt_us: micros(s.session.last_rtt),
            refused_queue_full: s.session.refused_queue_full,
        };
        write_out(stats, out, "stats")
    })
}
