//! Reconnect policy: exponential backoff with jitter and a cap, and the state that carries it
//! from one connection to the next. Time is passed in, so the policy is tested without
//! sleeping.

use std::time::{Duration, Instant};

/// When and how to reconnect after a connection is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Reconnect automatically at all.
    pub enabled: bool,
    /// The delay before the first attempt.
    pub initial_delay: Duration,
    /// The cap on the delay.
    pub max_delay: Duration,
    /// How long a connection must stay up before the delay starts again from
    /// `initial_delay`. A server that accepts (CONNACK) and drops the connection at once
    /// is reconnected to at the backoff's growing delay, not `initial_delay` forever.
    pub stable_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
        }
    }
}

impl ReconnectPolicy {
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// The delay before attempt `attempt` (0-based): `initial * 2^attempt`, capped, then
    /// scaled by a jitter factor in [0.5, 1.0) drawn from `rng` so that many clients
    /// dropped together do not reconnect together.
    pub fn delay(&self, attempt: u32, rng: &mut Jitter) -> Duration {
        let exp = self
            .initial_delay
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(0.5 + rng.next_unit() / 2.0)
    }
}

/// One client's reconnection state: the next attempt's number, and since when the current
/// connection is up.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Backoff {
    attempt: u32,
    up_since: Option<Instant>,
}

impl Backoff {
    /// The application asked to connect: the delays start again.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// A connection was accepted (CONNACK) at `now`. The delays do not start again yet: only
    /// once it has stayed up for `stable_after` (seen when it ends).
    pub(crate) fn connected(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// A connection ended, or an attempt failed, at `now`: the number (from 1) of the next
    /// attempt and the delay before it.
    pub(crate) fn next(
        &mut self,
        policy: &ReconnectPolicy,
        now: Instant,
        rng: &mut Jitter,
    ) -> (u32, Duration) {
        if let Some(up) = self.up_since.take()
            && now.saturating_duration_since(up) >= policy.stable_after
        {
            self.attempt = 0;
        }
        let delay = policy.delay(self.attempt, rng);
        self.attempt = self.attempt.saturating_add(1);
        (self.attempt, delay)
    }
}

/// A small xorshift generator: jitter needs spread, not cryptographic quality.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A number in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        f64::from((x >> 32) as u32) / 4_294_967_296.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_with_jitter_in_range() {
        let p = ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..ReconnectPolicy::default()
        };
        let mut j = Jitter::new(42);
        for attempt in 0..40 {
            let full = (Duration::from_millis(100) * 2u32.saturating_pow(attempt.min(20)))
                .min(Duration::from_secs(2));
            let d = p.delay(attempt, &mut j);
            assert!(
                d >= full / 2 && d < full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
    }

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(60),
            stable_after: Duration::from_secs(10),
        }
    }

    /// A server that answers CONNACK and drops at once: every connection lives 1 ms on a
    /// virtual clock, and the delays still double (jittered into [half, full)).
    #[test]
    fn a_connection_dropped_after_connack_does_not_reset_the_delay() {
        let p = policy();
        let mut b = Backoff::default();
        let mut j = Jitter::new(3);
        let mut now = Instant::now();
        for n in 0..8u32 {
            b.connected(now);
            now += Duration::from_millis(1);
            let (attempt, delay) = b.next(&p, now, &mut j);
            assert_eq!(attempt, n + 1);
            let full = Duration::from_millis(100) * 2u32.pow(n);
            assert!(delay >= full / 2 && delay < full, "{n}: {delay:?}");
            now += delay;
        }
    }

    /// Attempts over a virtual minute against such a server: bounded by the backoff
    /// (100 ms doubling: 10 attempts), not one per `initial_delay` (600).
    #[test]
    fn connection_attempts_over_a_minute_stay_within_the_backoff() {
        let p = policy();
        let mut b = Backoff::default();
        let mut j = Jitter::new(5);
        let start = Instant::now();
        let mut now = start;
        let mut attempts = 0;
        while now < start + Duration::from_secs(60) {
            attempts += 1;
            b.connected(now);
            let (_, delay) = b.next(&p, now + Duration::from_millis(1), &mut j);
            now += delay + Duration::from_millis(1);
        }
        assert!(attempts <= 12, "{attempts} attempts in a minute");
    }

    /// A connection that stayed up `stable_after` starts the delays again; failed attempts
    /// (never connected) keep growing them.
    #[test]
    fn a_stable_connection_resets_the_delay_and_failures_grow_it() {
        let p = policy();
        let mut b = Backoff::default();
        let mut j = Jitter::new(9);
        let now = Instant::now();
        for n in 1..=4 {
            assert_eq!(b.next(&p, now, &mut j).0, n);
        }
        b.connected(now);
        let later = now + Duration::from_secs(10);
        let (attempt, delay) = b.next(&p, later, &mut j);
        assert_eq!(attempt, 1);
        assert!(delay < Duration::from_millis(100));
        b.reset();
        assert_eq!(b.next(&p, later, &mut j).0, 1);
    }

    #[test]
    fn jitter_spreads() {
        let mut j = Jitter::new(7);
        let v: Vec<f64> = (0..1000).map(|_| j.next_unit()).collect();
        assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = v.iter().sum::<f64>() / 1000.0;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
