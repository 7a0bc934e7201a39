//! `vrrp_track_process`: quorum with fork/terminate debounce.
//!
//! The shell scans `/proc` and reports how many processes match; the
//! tracker has quorum while `quorum <= count <= quorum_max`. The first
//! count sets the state at once (start-up). Afterwards a change of the
//! quorum state is delayed by `fork_delay` when the count went up and by
//! `terminate_delay` when it went down (either can gain or lose quorum:
//! going above `quorum_max` is a loss); if the count comes back before the
//! delay expires, nothing happens. When the delay expires the state is
//! re-evaluated from the latest count (keepalived's timers do the same).
//! Logs `Quorum gained|lost for tracked process NAME`.

use crate::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessQuorum {
    pub quorum: u32,
    pub quorum_max: u32,
    pub fork_delay: Duration,
    pub terminate_delay: Duration,
    count: u32,
    /// `None` before the first scan.
    have_quorum: Option<bool>,
    /// A change of state waits until then.
    pending: Option<Instant>,
}

impl ProcessQuorum {
    pub fn new(
        quorum: u32,
        quorum_max: u32,
        fork_delay: Duration,
        terminate_delay: Duration,
    ) -> Self {
        ProcessQuorum {
            quorum,
            quorum_max,
            fork_delay,
            terminate_delay,
            count: 0,
            have_quorum: None,
            pending: None,
        }
    }

    fn in_quorum(&self, count: u32) -> bool {
        count >= self.quorum && count <= self.quorum_max
    }

    /// Matching processes at the last scan.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// `None` before the first scan.
    pub fn have_quorum(&self) -> Option<bool> {
        self.have_quorum
    }

    /// The debounce deadline, if a change is waiting.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending
    }

    fn set(&mut self, name: &str, up: bool) -> bool {
        if self.have_quorum == Some(up) {
            return false;
        }
        let first = self.have_quorum.is_none();
        self.have_quorum = Some(up);
        if !first {
            info!(
                "Quorum {} for tracked process {}",
                if up { "gained" } else { "lost" },
                name
            );
        }
        true
    }

    /// A scan at `now` found `count` matching processes. Returns true when
    /// the quorum state changed (including the first scan).
    pub fn update(&mut self, name: &str, now: Instant, count: u32) -> bool {
        let raw = self.in_quorum(count);
        let went_up = count > self.count;
        self.count = count;
        let Some(have) = self.have_quorum else {
            return self.set(name, raw);
        };
        if raw == have {
            self.pending = None;
            return false;
        }
        if self.pending.is_some() {
            return self.poll(name, now);
        }
        let delay = if went_up {
            self.fork_delay
        } else {
            self.terminate_delay
        };
        if delay == Duration::ZERO {
            return self.set(name, raw);
        }
        self.pending = Some(now + delay);
        false
    }

    /// Fires an expired debounce deadline. Returns true when the quorum
    /// state changed.
    pub fn poll(&mut self, name: &str, now: Instant) -> bool {
        match self.pending {
            Some(t) if t <= now => {
                self.pending = None;
                let raw = self.in_quorum(self.count);
                self.set(name, raw)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn first_scan_sets_state_without_delay() {
        let mut q = ProcessQuorum::new(2, u32::MAX, Duration::from_secs(5), Duration::from_secs(5));
        assert_eq!(q.have_quorum(), None);
        assert!(q.update("p", t(0), 1));
        assert_eq!(q.have_quorum(), Some(false));
        let mut q2 = q;
        q2.have_quorum = None;
        assert!(q2.update("p", t(0), 3));
        assert_eq!(q2.have_quorum(), Some(true));
    }

    #[test]
    fn no_delay_changes_at_once() {
        let mut q = ProcessQuorum::new(1, 2, Duration::ZERO, Duration::ZERO);
        q.update("p", t(0), 1);
        assert_eq!(q.have_quorum(), Some(true));
        assert!(q.update("p", t(10), 0));
        assert_eq!(q.have_quorum(), Some(false));
        assert!(q.update("p", t(20), 2));
        assert_eq!(q.have_quorum(), Some(true));
        // Above quorum_max: lost.
        assert!(q.update("p", t(30), 3));
        assert_eq!(q.have_quorum(), Some(false));
        assert!(!q.update("p", t(40), 4));
    }

    #[test]
    fn terminate_delay_debounces_loss() {
        let mut q = ProcessQuorum::new(1, u32::MAX, Duration::from_secs(1), Duration::from_secs(3));
        q.update("p", t(0), 1);
        assert!(!q.update("p", t(1000), 0));
        assert_eq!(q.deadline(), Some(t(4000)));
        assert_eq!(q.have_quorum(), Some(true));
        // Comes back before the deadline: cancelled.
        assert!(!q.update("p", t(2000), 1));
        assert_eq!(q.deadline(), None);
        assert!(!q.poll("p", t(5000)));
        assert_eq!(q.have_quorum(), Some(true));
        // Stays away: lost at the deadline, not before.
        assert!(!q.update("p", t(6000), 0));
        assert!(!q.poll("p", t(8999)));
        assert!(q.poll("p", t(9000)));
        assert_eq!(q.have_quorum(), Some(false));
    }

    #[test]
    fn fork_delay_debounces_gain_and_overshoot() {
        let mut q = ProcessQuorum::new(2, 3, Duration::from_secs(2), Duration::ZERO);
        q.update("p", t(0), 0);
        assert!(!q.update("p", t(100), 2));
        assert_eq!(q.deadline(), Some(t(2100)));
        // A later scan past the deadline fires it from update().
        assert!(q.update("p", t(2100), 3));
        assert_eq!(q.have_quorum(), Some(true));
        // Going above quorum_max is a fork: delayed by fork_delay.
        assert!(!q.update("p", t(3000), 4));
        assert_eq!(q.deadline(), Some(t(5000)));
        // Drops back into range before the deadline: cancelled.
        assert!(!q.update("p", t(4000), 3));
        assert_eq!(q.deadline(), None);
        // Terminate delay 0: immediate loss.
        assert!(q.update("p", t(4500), 1));
        assert_eq!(q.have_quorum(), Some(false));
    }

    #[test]
    fn expiry_uses_latest_count() {
        let mut q = ProcessQuorum::new(1, u32::MAX, Duration::ZERO, Duration::from_secs(1));
        q.update("p", t(0), 2);
        q.update("p", t(0), 0);
        // Deadline pending; at expiry the latest count (still 0) decides.
        assert!(q.poll("p", t(1000)));
        assert_eq!(q.have_quorum(), Some(false));
    }
}
