//! Adaptive spinning before a thread sleeps: whether to poll a while without sleeping,
//! decided from how long the thread's recent waits lasted, as an adaptive mutex spins only
//! while its recent holders released it quickly.
//!
//! Waking a sleeping thread on an idle CPU costs tens of microseconds on virtual machines,
//! and a round trip is a chain of such wake-ups. When the last waits ended within
//! [`SPIN_MAX`] (a conversation of quick replies), the next wait is likely as short: the
//! thread polls for about twice that long (yielding the CPU to anyone who wants it) before
//! it sleeps, and the reply costs no wake-up. When waits are long (sparse traffic, an idle
//! client waiting for its keep-alive), it sleeps at once and spends nothing.
//!
//! Pure bookkeeping with durations passed in (no clock reads).

use std::time::Duration;

/// The longest spin, and the longest average wait that still earns one.
pub(crate) const SPIN_MAX: Duration = Duration::from_micros(150);
/// A wait counts as at most this long: a long one stops spinning at once, and a few short
/// ones after it start again.
const SAMPLE_CAP: Duration = Duration::from_millis(1);

#[derive(Debug)]
pub(crate) struct AdaptiveSpin {
    /// Moving average of the recent waits (each new wait weighs one half).
    average: Duration,
}

impl Default for AdaptiveSpin {
    fn default() -> Self {
        // No spinning until waits show it pays.
        Self {
            average: SAMPLE_CAP,
        }
    }
}

impl AdaptiveSpin {
    /// How long to poll without sleeping before the next wait.
    pub(crate) fn spin(&self) -> Duration {
        if self.average > SPIN_MAX {
            Duration::ZERO
        } else {
            (self.average * 2).min(SPIN_MAX)
        }
    }

    /// A wait ended with work after `waited` (spinning included); a wait that ended with
    /// nothing to do (a timer, a timeout) counts as long.
    pub(crate) fn waited(&mut self, waited: Option<Duration>) {
        let sample = waited.map_or(SAMPLE_CAP, |w| w.min(SAMPLE_CAP));
        self.average = (self.average + sample) / 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn never_spins_while_waits_are_long() {
        let mut s = AdaptiveSpin::default();
        assert_eq!(s.spin(), Duration::ZERO);
        for _ in 0..100 {
            s.waited(Some(Duration::from_secs(30)));
            assert_eq!(s.spin(), Duration::ZERO);
        }
        // Nor after waits that ended with nothing to do.
        for _ in 0..100 {
            s.waited(None);
            assert_eq!(s.spin(), Duration::ZERO);
        }
    }

    #[test]
    fn quick_replies_earn_a_spin_of_twice_the_average_wait() {
        let mut s = AdaptiveSpin::default();
        for _ in 0..10 {
            s.waited(Some(40 * US));
        }
        let spin = s.spin();
        assert!(spin >= 80 * US && spin <= 82 * US, "{spin:?}");
        // Never longer than SPIN_MAX.
        for _ in 0..10 {
            s.waited(Some(140 * US));
        }
        assert_eq!(s.spin(), SPIN_MAX);
    }

    #[test]
    fn one_long_wait_stops_spinning_and_a_few_short_ones_start_it_again() {
        let mut s = AdaptiveSpin::default();
        for _ in 0..10 {
            s.waited(Some(40 * US));
        }
        s.waited(Some(Duration::from_secs(60)));
        assert_eq!(s.spin(), Duration::ZERO);
        let mut short = 0;
        while s.spin().is_zero() {
            s.waited(Some(40 * US));
            short += 1;
        }
        assert!(short <= 4, "{short} short waits before spinning again");
    }
}
