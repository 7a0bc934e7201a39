//! A `timerfd` on `CLOCK_MONOTONIC`, armed at an absolute deadline: the
//! daemon's precise wake-up.
//!
//! Why not just the `poll(2)` timeout: Linux gives poll/select/epoll a timer
//! slack of 0.1 % of the timeout (`select_estimate_accuracy`), so a 3.6 s
//! Master_Down_Interval may fire 3.6 ms late. A timerfd's hrtimer only has
//! the process's timer slack (50 µs by default), which keeps a takeover
//! within a fraction of a millisecond of the deadline (keepalived also
//! sleeps on a timerfd).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::time::Instant;

pub struct TimerFd {
    fd: OwnedFd,
    armed: Option<Instant>,
}

impl TimerFd {
    /// A non-blocking, close-on-exec timerfd on `CLOCK_MONOTONIC` (the
    /// clock of [`super::clock::monotonic_now`]), disarmed.
    pub fn open() -> io::Result<TimerFd> {
        // SAFETY: plain timerfd_create(2); the result is checked by owned_fd.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        Ok(TimerFd {
            fd: super::owned_fd(fd)?,
            armed: None,
        })
    }

    /// Arms the timer to expire at `at` (absolute; a deadline in the past
    /// expires at once), or disarms it (`None`). Does nothing when `at` is
    /// what is already armed.
    pub fn set_deadline(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let us = at.map_or(0, |t| t.as_micros().max(1));
        let value = libc::timespec {
            // time_t is 32 or 64 bits (musl); saturate (68 years of uptime).
            tv_sec: (us / 1_000_000)
                .try_into()
                .unwrap_or_else(|_| i32::MAX.into()),
            tv_nsec: ((us % 1_000_000) * 1000) as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `spec` is a valid itimerspec for the call; the old value
        // is not wanted (null).
        let r = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                core::ptr::null_mut(),
            )
        };
        match super::cerr(r) {
            Ok(_) => {
                self.armed = at;
                Ok(())
            }
            Err(e) => {
                self.armed = None;
                Err(e)
            }
        }
    }

    /// Consumes an expiry (the fd stays readable until read). The timer is
    /// then disarmed; returns whether it had expired.
    pub fn clear(&mut self) -> bool {
        let mut n = [0u8; 8];
        // SAFETY: reads at most 8 bytes into `n`, which is 8 bytes.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), n.as_mut_ptr().cast(), n.len()) };
        let expired = super::cerr(r).is_ok_and(|k| k == 8);
        if expired {
            self.armed = None;
        }
        expired
    }
}

impl AsFd for TimerFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::clock::monotonic_now;
    use crate::sys::poll::PollTable;
    use crate::time::Duration;

    #[test]
    fn fires_at_the_absolute_deadline() {
        let mut t = TimerFd::open().unwrap();
        let mut p = PollTable::new();
        let s = p.add(t.as_fd()).unwrap();
        assert!(!t.clear());
        let at = monotonic_now() + Duration::from_millis(30);
        t.set_deadline(Some(at)).unwrap();
        assert_eq!(p.poll(Some(Duration::from_secs(2))).unwrap(), 1);
        let now = monotonic_now();
        assert!(now >= at, "woke {} us early", (at - now).as_micros());
        assert!(p.is_ready(s));
        assert!(t.clear());
        assert!(!t.clear());
        // Disarmed: nothing fires.
        t.set_deadline(Some(monotonic_now() + Duration::from_millis(5)))
            .unwrap();
        t.set_deadline(None).unwrap();
        assert_eq!(p.poll(Some(Duration::from_millis(30))).unwrap(), 0);
        // A deadline in the past fires at once.
        t.set_deadline(Some(Instant::from_micros(1))).unwrap();
        assert_eq!(p.poll(Some(Duration::from_secs(1))).unwrap(), 1);
        assert!(t.clear());
    }
}
