//! The program's clock reads: `clock_gettime(CLOCK_MONOTONIC)`, and the
//! wall clock only for the dumps' dates ([`wall_offset_us`]).
//!
//! The daemon reads the monotonic clock once per loop turn and passes the
//! [`Instant`] into the core. `CLOCK_MONOTONIC` (not `CLOCK_BOOTTIME`): it
//! does not jump with the wall clock and does not advance during suspend,
//! like keepalived's timers.

use crate::time::Instant;

/// Now, on the monotonic clock, in microseconds.
///
/// `clock_gettime(CLOCK_MONOTONIC)` cannot fail on Linux with a valid
/// pointer; should it ever, this returns [`Instant::ZERO`] rather than panic
/// (the core treats time that does not advance as "nothing expired yet").
pub fn monotonic_now() -> Instant {
    Instant::from_micros(read_us(libc::CLOCK_MONOTONIC).unwrap_or(0))
}

/// `clock_gettime(clock)` in microseconds.
fn read_us(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    super::cerr(r).ok()?;
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Some(secs.saturating_mul(1_000_000).saturating_add(nanos / 1000))
}

/// `CLOCK_REALTIME - CLOCK_MONOTONIC` in microseconds, read now: wall time
/// of a monotonic [`Instant`] = its microseconds + this (the dumps'
/// `last_transition`, see [`crate::dump::DumpInput`]).
pub fn wall_offset_us() -> i64 {
    let mono = read_us(libc::CLOCK_MONOTONIC).unwrap_or(0);
    let wall = read_us(libc::CLOCK_REALTIME).unwrap_or(0);
    i64::try_from(wall)
        .unwrap_or(i64::MAX)
        .saturating_sub(i64::try_from(mono).unwrap_or(i64::MAX))
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

    #[test]
    fn wall_offset_gives_the_wall_clock() {
        let wall = monotonic_now().as_micros() as i64 + wall_offset_us();
        let sys = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        assert!((wall - sys).abs() < 1_000_000, "{wall} vs {sys}");
    }
}
