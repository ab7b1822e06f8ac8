//! Adaptive batching: when the I/O thread pauses between rounds, decided from the traffic
//! it sees, not from a fixed timer.
//!
//! Like a network card's interrupt coalescing (Linux NAPI): while traffic is sparse every
//! round ends in the poller, so a lone publish goes out in the caller's own write and a
//! reply is read and delivered as soon as it arrives. Once a round (or the callers between
//! two rounds) moved [`DENSE`] packets or more, traffic is dense: the I/O thread pauses
//! before its next round so that packets accumulate, and callers leave what they publish
//! in the write buffer meanwhile. The pause is sized to gather about [`TARGET_BATCH`]
//! packets at the rate just observed, within [`MIN_PAUSE`] and the clients' cap
//! (`ClientOptions::linger`). A round that moves fewer packets ends the dense phase.
//!
//! While a client's publishes wait for the server's Receive Maximum, the window holds the
//! flow. A window of fewer than two batches ([`TARGET_BATCH`]) is never paused for: the
//! server answers such a window in one burst, so a pause only delays the acknowledgements
//! that open it, and, as a round moves at most twice the window, the pause sized at the
//! observed rate outgrows the round before it, round after round, up to the cap (20
//! in-flight QoS 1 messages, a common broker default, went from about 60,000 to 9,000 a
//! second through the Python binding). A wider window pauses as usual: the server still
//! works through the rest of it while acknowledgements gather, and the writes stay few.
//!
//! Pure bookkeeping with time passed in (no clock reads): the reactor feeds it and asks it.

use std::time::{Duration, Instant};

/// Packets per round (or between rounds, from callers) from which traffic is dense. A
/// round trip moves at most a few per round (a PUBLISH, its acknowledgement, the reply).
pub(crate) const DENSE: u64 = 8;
/// Callers' commands count as dense when [`DENSE`] of them come within this window.
pub(crate) const CALLER_WINDOW: Duration = Duration::from_micros(500);
/// The packets a pause aims to gather.
pub(crate) const TARGET_BATCH: u64 = 64;
/// The shortest pause: shorter ones save no system call.
pub(crate) const MIN_PAUSE: Duration = Duration::from_micros(50);

#[derive(Debug, Default)]
pub(crate) struct Batching {
    /// Packets moved (either way, every client) since the last decision.
    packets: u64,
    /// The longest pause the clients that moved them allow.
    cap: Duration,
    /// When the last decision was taken (the end of the last round).
    since: Option<Instant>,
    /// Callers' commands carried out while the I/O thread slept, and when the first of the
    /// current window came.
    caller_commands: u64,
    caller_window: Option<Instant>,
    /// Callers' traffic is dense: they leave their packets for the I/O thread.
    callers_dense: bool,
    /// A client's publishes wait for a narrow window (see the module's documentation).
    narrow_window_full: bool,
}

impl Batching {
    /// `packets` were moved for a client whose pause may last up to `cap`.
    pub(crate) fn moved(&mut self, packets: u64, cap: Duration) {
        if packets > 0 {
            self.packets += packets;
            self.cap = self.cap.max(cap);
        }
    }

    /// A client's publishes wait for the server's Receive Maximum, `window`: no pause this
    /// round if it is narrow.
    pub(crate) fn window_full(&mut self, window: u16) {
        if u64::from(window) < 2 * TARGET_BATCH {
            self.narrow_window_full = true;
        }
    }

    /// A caller carries out a command itself (the I/O thread sleeps). Returns whether
    /// callers' traffic is dense: then packets wait for the I/O thread, woken for them.
    pub(crate) fn caller_command(&mut self, now: Instant) -> bool {
        match self.caller_window {
            Some(start) if now.saturating_duration_since(start) <= CALLER_WINDOW => {
                self.caller_commands += 1;
            }
            _ => {
                self.caller_window = Some(now);
                self.caller_commands = 1;
            }
        }
        if self.caller_commands >= DENSE {
            self.callers_dense = true;
        }
        self.callers_dense
    }

    /// Whether callers leave their packets for the I/O thread's next round.
    pub(crate) fn callers_dense(&self) -> bool {
        self.callers_dense
    }

    /// At the end of a round: how long the I/O thread pauses before the next one (zero:
    /// it goes to the poller). Starts counting afresh.
    pub(crate) fn pause(&mut self, now: Instant) -> Duration {
        let packets = std::mem::take(&mut self.packets);
        let cap = std::mem::take(&mut self.cap);
        let since = self.since.replace(now);
        self.callers_dense = false;
        self.caller_window = None;
        self.caller_commands = 0;
        if std::mem::take(&mut self.narrow_window_full) || packets < DENSE || cap.is_zero() {
            return Duration::ZERO;
        }
        // The time to gather a batch at the rate of the interval just ended; the first
        // decision (no interval yet) takes the cap.
        let gather = since.map_or(cap, |since| {
            let interval = now.saturating_duration_since(since);
            interval.saturating_mul(TARGET_BATCH as u32) / packets.min(u64::from(u32::MAX)) as u32
        });
        gather.clamp(MIN_PAUSE.min(cap), cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_millis(1);

    fn at(start: Instant, micros: u64) -> Instant {
        start + Duration::from_micros(micros)
    }

    #[test]
    fn sparse_traffic_never_pauses() {
        // A round trip: the PUBLISH, its acknowledgement, the reply and its own.
        let t = Instant::now();
        let mut b = Batching::default();
        for i in 0..100 {
            b.moved(DENSE - 1, CAP);
            assert_eq!(b.pause(at(t, i * 100)), Duration::ZERO, "round {i}");
        }
    }

    #[test]
    fn a_dense_round_pauses_to_gather_a_batch_at_the_observed_rate() {
        let t = Instant::now();
        let mut b = Batching::default();
        assert_eq!(b.pause(t), Duration::ZERO);
        // 128 packets in 200 us: 64 more take 100 us.
        b.moved(128, CAP);
        assert_eq!(b.pause(at(t, 200)), Duration::from_micros(100));
        // Slower: 16 packets in 1 ms would take 4 ms for 64; the cap holds it to 1 ms.
        b.moved(16, CAP);
        assert_eq!(b.pause(at(t, 1_200)), CAP);
        // Very fast: 10,000 packets in 100 us; the pause is never below the minimum.
        b.moved(10_000, CAP);
        assert_eq!(b.pause(at(t, 1_300)), MIN_PAUSE);
        // And the next sparse round ends the dense phase.
        b.moved(2, CAP);
        assert_eq!(b.pause(at(t, 1_400)), Duration::ZERO);
    }

    #[test]
    fn a_narrow_full_window_is_never_paused_for_and_a_wide_one_is() {
        // 20 QoS 1 messages in flight (a broker's Receive Maximum): each round moves them
        // and their acknowledgements, and the next 20 wait for those.
        let t = Instant::now();
        let mut b = Batching::default();
        b.pause(t);
        for i in 1..100 {
            b.moved(40, CAP);
            b.window_full(20);
            assert_eq!(b.pause(at(t, i * 100)), Duration::ZERO, "round {i}");
        }
        // The same traffic with room in the window pauses.
        b.moved(40, CAP);
        assert!(b.pause(at(t, 10_000)) > Duration::ZERO);
        // The narrowest full window of the round counts.
        b.moved(40, CAP);
        b.window_full(1_000);
        b.window_full(2 * TARGET_BATCH as u16 - 1);
        assert_eq!(b.pause(at(t, 10_100)), Duration::ZERO);
        // A window of two batches or more pauses as usual: 200 packets in 1 ms, 64 more
        // in 320 us.
        b.moved(200, CAP);
        b.window_full(2 * TARGET_BATCH as u16);
        assert_eq!(b.pause(at(t, 11_100)), Duration::from_micros(320));
    }

    #[test]
    fn a_client_that_turned_batching_off_never_pauses_alone() {
        let t = Instant::now();
        let mut b = Batching::default();
        b.pause(t);
        b.moved(1_000, Duration::ZERO);
        assert_eq!(b.pause(at(t, 100)), Duration::ZERO);
        // With another client allowing a pause, that client's cap applies.
        b.moved(1_000, Duration::ZERO);
        b.moved(1_000, CAP);
        assert!(b.pause(at(t, 10_000)) > Duration::ZERO);
    }

    #[test]
    fn callers_are_dense_only_when_their_commands_come_close_together() {
        let t = Instant::now();
        let mut b = Batching::default();
        // One publish every millisecond: each goes out in its caller's own write.
        for i in 0..100 {
            assert!(!b.caller_command(at(t, i * 1_000)), "publish {i}");
        }
        // A burst: the first DENSE - 1 go out at once, then callers leave theirs.
        let burst = at(t, 200_000);
        for i in 0..DENSE - 1 {
            assert!(!b.caller_command(burst + Duration::from_micros(i)));
        }
        assert!(b.caller_command(burst + Duration::from_micros(DENSE)));
        assert!(b.callers_dense());
        // Until the I/O thread's round decides afresh.
        b.pause(burst + Duration::from_micros(100));
        assert!(!b.callers_dense());
    }
}
