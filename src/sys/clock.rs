//! The program's only clock read: `clock_gettime(CLOCK_MONOTONIC)`.
//!
//! The daemon reads it once per loop turn and passes the [`Instant`] into the
//! core. `CLOCK_MONOTONIC` (not `CLOCK_BOOTTIME`): it does not jump with the
//! wall clock and does not advance during suspend, like keepalived's timers.

use crate::time::Instant;

/// Now, on the monotonic clock, in microseconds.
///
/// `clock_gettime(CLOCK_MONOTONIC)` cannot fail on Linux with a valid
/// pointer; should it ever, this returns [`Instant::ZERO`] rather than panic
/// (the core treats time that does not advance as "nothing expired yet").
pub fn monotonic_now() -> Instant {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if super::cerr(r).is_err() {
        return Instant::ZERO;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Instant::from_micros(secs.saturating_mul(1_000_000).saturating_add(nanos / 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_advances() {
        let a = monotonic_now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = monotonic_now();
        assert!(a > Instant::ZERO);
        let d = b - a;
        assert!(d.as_micros() >= 2000, "{d:?}");
        assert!(d.as_micros() < 2_000_000, "{d:?}");
    }
}
