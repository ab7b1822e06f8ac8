//! What a session has done, counted as it happens: the figures behind `Client::stats`.
//!
//! Counting costs a few additions per packet and no allocation. The round-trip time is
//! sampled as TCP does it (one measurement outstanding at a time, Karn's rule: never from a
//! retransmitted packet), from PINGREQ to PINGRESP and from a QoS 1/2 PUBLISH to its PUBACK
//! or PUBREC, and smoothed as TCP's SRTT (RFC 6298: 7/8 of the old value plus 1/8 of the
//! new sample).

use std::time::{Duration, Instant};

/// A session's counters (see [`crate::protocol::Session::stats`]). Counts run from the
/// session's creation, over all its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// PUBLISH packets sent, each message once (retransmissions are not counted again).
    pub messages_sent: u64,
    /// PUBLISH packets received, each message once (a duplicate of a QoS 2 message still
    /// awaiting its PUBREL is not counted again).
    pub messages_received: u64,
    /// MQTT packets of every kind written to the transmit buffer, retransmissions included.
    pub packets_sent: u64,
    /// MQTT packets of every kind received.
    pub packets_received: u64,
    /// Outgoing QoS 1/2 messages sent and not yet completed (PUBACK or PUBCOMP).
    pub inflight_out: u64,
    /// Incoming QoS 2 messages received and not yet released (PUBREL).
    pub inflight_in: u64,
    /// Publishes waiting to be sent (offline, or beyond the server's Receive Maximum).
    pub queued: u64,
    /// The bytes those queued publishes count against the queue's bound.
    pub queued_bytes: u64,
    /// Connections the server accepted (CONNACK with Success).
    pub connects: u64,
    /// Accepted connections that ended (lost, refused later, or closed by either side).
    pub disconnects: u64,
    /// How long the current connection has been up (zero while not connected).
    pub connected_for: Duration,
    /// The smoothed round-trip time to the server, if it has been measured.
    pub rtt: Option<Duration>,
    /// The latest round-trip sample, if any.
    pub last_rtt: Option<Duration>,
    /// Publishes refused because the queue was full (`QueueFull`).
    pub refused_queue_full: u64,
}

/// One outstanding round-trip measurement: which packet, sent when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timed {
    Ping(Instant),
    Publish(u16, Instant),
}

/// The counters a session keeps; [`Counters::snapshot`] adds what the session knows live.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) stats: SessionStats,
    connected_at: Option<Instant>,
    timed: Option<Timed>,
}

impl Counters {
    pub(crate) fn packet_sent(&mut self) {
        self.stats.packets_sent += 1;
    }

    pub(crate) fn packet_received(&mut self) {
        self.stats.packets_received += 1;
    }

    /// A PUBLISH sent for the first time (`dup` false); `packet_id` 0 for QoS 0.
    pub(crate) fn publish_sent(&mut self, packet_id: u16, dup: bool, now: Instant) {
        if dup {
            // Karn's rule: an ack may answer either copy, so a resent packet is no sample;
            // one being timed is abandoned.
            if matches!(self.timed, Some(Timed::Publish(id, _)) if id == packet_id) {
                self.timed = None;
            }
            return;
        }
        self.stats.messages_sent += 1;
        if packet_id != 0 && self.timed.is_none() {
            self.timed = Some(Timed::Publish(packet_id, now));
        }
    }

    pub(crate) fn message_received(&mut self) {
        self.stats.messages_received += 1;
    }

    pub(crate) fn ping_sent(&mut self, now: Instant) {
        if self.timed.is_none() {
            self.timed = Some(Timed::Ping(now));
        }
    }

    pub(crate) fn ping_answered(&mut self, now: Instant) {
        if let Some(Timed::Ping(sent)) = self.timed {
            self.timed = None;
            self.sample(now.saturating_duration_since(sent));
        }
    }

    /// A PUBACK or PUBREC for `packet_id` arrived.
    pub(crate) fn publish_answered(&mut self, packet_id: u16, now: Instant) {
        if let Some(Timed::Publish(id, sent)) = self.timed
            && id == packet_id
        {
            self.timed = None;
            self.sample(now.saturating_duration_since(sent));
        }
    }

    fn sample(&mut self, rtt: Duration) {
        self.stats.last_rtt = Some(rtt);
        self.stats.rtt = Some(match self.stats.rtt {
            None => rtt,
            Some(srtt) => srtt * 7 / 8 + rtt / 8,
        });
    }

    pub(crate) fn connected(&mut self, now: Instant) {
        self.stats.connects += 1;
        self.connected_at = Some(now);
    }

    /// The connection ended (accepted or not): an accepted one counts as a disconnect; a
    /// measurement in progress is abandoned.
    pub(crate) fn connection_ended(&mut self) {
        if self.connected_at.take().is_some() {
            self.stats.disconnects += 1;
        }
        self.timed = None;
    }

    pub(crate) fn refused_queue_full(&mut self) {
        self.stats.refused_queue_full += 1;
    }

    pub(crate) fn snapshot(&self, now: Instant) -> SessionStats {
        let mut s = self.stats;
        s.connected_for = self
            .connected_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_is_smoothed_as_tcp_srtt() {
        let t0 = Instant::now();
        let mut c = Counters::default();
        c.ping_sent(t0);
        c.ping_answered(t0 + Duration::from_millis(80));
        assert_eq!(c.stats.rtt, Some(Duration::from_millis(80)));
        c.publish_sent(7, false, t0 + Duration::from_secs(1));
        c.publish_answered(7, t0 + Duration::from_millis(1160));
        // 7/8 * 80 + 1/8 * 160 = 90
        assert_eq!(c.stats.rtt, Some(Duration::from_millis(90)));
        assert_eq!(c.stats.last_rtt, Some(Duration::from_millis(160)));
    }

    #[test]
    fn a_retransmitted_publish_is_no_sample() {
        let t0 = Instant::now();
        let mut c = Counters::default();
        c.publish_sent(3, false, t0);
        c.publish_sent(3, true, t0 + Duration::from_secs(5));
        c.publish_answered(3, t0 + Duration::from_secs(6));
        assert_eq!(c.stats.rtt, None);
        assert_eq!(c.stats.messages_sent, 1);
    }

    #[test]
    fn one_measurement_at_a_time() {
        let t0 = Instant::now();
        let mut c = Counters::default();
        c.publish_sent(1, false, t0);
        c.publish_sent(2, false, t0 + Duration::from_millis(10));
        c.publish_answered(2, t0 + Duration::from_millis(20)); // not the timed one
        assert_eq!(c.stats.rtt, None);
        c.publish_answered(1, t0 + Duration::from_millis(30));
        assert_eq!(c.stats.rtt, Some(Duration::from_millis(30)));
    }

    #[test]
    fn connected_time_and_disconnects() {
        let t0 = Instant::now();
        let mut c = Counters::default();
        c.connection_ended(); // a refused attempt: no connection ended
        assert_eq!(c.stats.disconnects, 0);
        c.connected(t0);
        assert_eq!(
            c.snapshot(t0 + Duration::from_secs(3)).connected_for,
            Duration::from_secs(3)
        );
        c.connection_ended();
        let s = c.snapshot(t0 + Duration::from_secs(4));
        assert_eq!(
            (s.connects, s.disconnects, s.connected_for),
            (1, 1, Duration::ZERO)
        );
    }
}
