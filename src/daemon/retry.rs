//! The retry schedule for VIP requests the kernel refused (an `nlmsgerr`
//! other than the benign EEXIST on add / EADDRNOTAVAIL on delete: EPERM,
//! EACCES, ENODEV, ENOMEM, ...).
//!
//! One [`Retry`] per instance (by name, so that it survives a reload): the
//! first refusal of a streak is logged, the next ones are only counted; the
//! instance's whole VIP set is re-applied (added as master, removed
//! otherwise: both idempotent) after 1 s, then 2, 4, 8, 16 and every 30 s
//! until the kernel accepts every request of one attempt, which is logged
//! once more ("applied after N retries"). Pure: time comes in as an
//! argument.

use crate::time::{Duration, Instant};

/// Delay before the first retry.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The delay doubles per failed attempt up to this.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// The delay after the `failures`-th consecutive failure (1-based).
pub fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    let us = RETRY_FIRST.as_micros().saturating_mul(1u64 << shift);
    Duration::from_micros(us.min(RETRY_MAX.as_micros()))
}

/// The retry state of one instance's VIP set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retry {
    /// Consecutive failed attempts (0: no streak).
    failures: u32,
    /// When the next attempt is due (set by a failure, cleared when sent).
    next_at: Option<Instant>,
    /// An attempt was sent and its replies are awaited.
    in_flight: bool,
}

impl Retry {
    /// A request of the instance was refused at `now`. Returns `true` for
    /// the first refusal of a streak (log it; later ones are counted).
    /// Several refusals of one attempt count once.
    pub fn failed(&mut self, now: Instant) -> bool {
        let first = self.failures == 0;
        if self.next_at.is_none() {
            self.failures = self.failures.saturating_add(1);
            self.next_at = Some(now + backoff(self.failures));
        }
        self.in_flight = false;
        first
    }

    /// Consecutive failed attempts so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next attempt is due.
    pub fn deadline(&self) -> Option<Instant> {
        self.next_at
    }

    pub fn due(&self, now: Instant) -> bool {
        self.next_at.is_some_and(|t| t <= now)
    }

    /// The attempt was sent: wait for its replies.
    pub fn sent(&mut self) {
        self.next_at = None;
        self.in_flight = true;
    }

    /// Every reply to the attempt in flight arrived and none was a refusal:
    /// the streak is over. Returns the number of failed attempts it had
    /// (`None` if there was no attempt in flight).
    pub fn settled(&mut self) -> Option<u32> {
        if !self.in_flight || self.next_at.is_some() {
            return None;
        }
        let n = self.failures;
        *self = Retry::default();
        Some(n)
    }

    /// Whether nothing is scheduled or awaited.
    pub fn idle(&self) -> bool {
        self.next_at.is_none() && !self.in_flight
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn s(v: u64) -> Instant {
        Instant::from_secs(v)
    }

    #[test]
    fn backoff_doubles_up_to_30_s() {
        let got: Vec<u64> = (1..=8).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(got, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        assert_eq!(backoff(u32::MAX), RETRY_MAX);
    }

    #[test]
    fn streak_logs_once_and_backs_off() {
        let mut r = Retry::default();
        assert!(r.idle());
        // Two refusals of the same attempt: one failure, logged once.
        assert!(r.failed(s(10)));
        assert!(!r.failed(s(10)));
        assert_eq!(r.failures(), 1);
        assert_eq!(r.deadline(), Some(s(11)));
        assert!(!r.due(s(10)));
        assert!(r.due(s(11)));
        r.sent();
        assert_eq!(r.deadline(), None);
        // The retry is refused again: not logged, next in 2 s.
        assert!(!r.failed(s(11)));
        assert_eq!(r.deadline(), Some(s(13)));
        r.sent();
        assert!(!r.failed(s(13)));
        assert_eq!(r.deadline(), Some(s(17)));
        // A settle while a retry is pending does not end the streak.
        assert_eq!(r.settled(), None);
        r.sent();
        // Accepted: the streak ends after 3 failed attempts.
        assert_eq!(r.settled(), Some(3));
        assert!(r.idle());
        assert_eq!(r.settled(), None);
        // A new streak logs again.
        assert!(r.failed(s(100)));
        assert_eq!(r.deadline(), Some(s(101)));
    }
}
