//! RFC 5798 timer formulas as pure functions, computed the way keepalived
//! computes them: in microseconds, exact (no centisecond rounding).
//!
//! * VRRPv3 (RFC 5798 §6.1): `Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256`
//!   with the interval in centiseconds. keepalived evaluates it in µs as
//!   `(256 - prio) * (interval_us / 10_000) * 625 / 16`, and 625/16 is exactly
//!   10_000/256, so the result is `(256 - prio) * interval_cs * 10_000 / 256` µs
//!   truncated once at the end (prio 200, 1 s: 218.75 ms; FRR, which rounds
//!   in centiseconds, shows 210 ms).
//! * VRRPv2 (RFC 3768 §6.1): `Skew_Time = (256 - Priority) / 256` seconds,
//!   independent of the advertisement interval.
//! * `Master_Down_Interval = down_timer_adverts * Master_Adver_Interval + Skew_Time`
//!   (RFC: the factor is 3; keepalived's `down_timer_adverts` knob, default 3).

use crate::config::model::VrrpVersion;
use crate::time::Duration;

/// `Skew_Time` for a router of `priority` hearing a master that advertises
/// every `master_adver_interval_cs` centiseconds.
pub const fn skew_time(
    version: VrrpVersion,
    priority: u8,
    master_adver_interval_cs: u16,
) -> Duration {
    // 256 - priority is 1..=256; the products fit easily in u64
    // (256 * 4095 * 10_000 < 2^34).
    let p = 256u64 - priority as u64;
    match version {
        VrrpVersion::V3 => {
            Duration::from_micros(p * master_adver_interval_cs as u64 * 10_000 / 256)
        }
        VrrpVersion::V2 => Duration::from_micros(p * 1_000_000 / 256),
    }
}

/// `Master_Down_Interval` for a router of `priority`.
pub const fn master_down_interval(
    version: VrrpVersion,
    priority: u8,
    master_adver_interval_cs: u16,
    down_timer_adverts: u8,
) -> Duration {
    let adverts = Duration::from_centisecs(master_adver_interval_cs as u64)
        .saturating_mul(down_timer_adverts as u64);
    let skew = skew_time(version, priority, master_adver_interval_cs);
    Duration::from_micros(adverts.as_micros().saturating_add(skew.as_micros()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use VrrpVersion::*;

    #[test]
    fn v3_rfc_example_1s_prio_200() {
        // (256-200) * 100 cs / 256 = 21.875 cs = 218.75 ms (exact, in µs).
        assert_eq!(skew_time(V3, 200, 100), Duration::from_micros(218_750));
        assert_eq!(
            master_down_interval(V3, 200, 100, 3),
            Duration::from_micros(3_218_750)
        );
    }

    #[test]
    fn v3_extremes() {
        // Priority 255 (owner), 10 ms interval: 1 * 1 * 10_000 / 256 = 39.0625 µs -> 39.
        assert_eq!(skew_time(V3, 255, 1), Duration::from_micros(39));
        // Priority 1, 40.95 s interval: 255 * 4095 * 10_000 / 256 = 40_790_039.0625.
        assert_eq!(skew_time(V3, 1, 4095), Duration::from_micros(40_790_039));
        assert_eq!(
            master_down_interval(V3, 1, 4095, 100),
            Duration::from_micros(4095 * 10_000 * 100 + 40_790_039)
        );
        // Priority 0 cannot be configured, but must not overflow: 256 * interval / 256.
        assert_eq!(skew_time(V3, 0, 100), Duration::from_millis(1000));
        // keepalived default: 100 cs, prio 100: 156 * 100 * 10_000 / 256 = 609_375 µs.
        assert_eq!(skew_time(V3, 100, 100), Duration::from_micros(609_375));
    }

    #[test]
    fn v2_skew_ignores_interval() {
        // RFC 3768: (256 - 100) / 256 s = 0.609375 s.
        assert_eq!(skew_time(V2, 100, 100), Duration::from_micros(609_375));
        assert_eq!(skew_time(V2, 100, 500), Duration::from_micros(609_375));
        assert_eq!(skew_time(V2, 254, 100), Duration::from_micros(7_812));
        // 3 * 1 s + 0.609375 s.
        assert_eq!(
            master_down_interval(V2, 100, 100, 3),
            Duration::from_micros(3_609_375)
        );
        // down_timer_adverts 1 with a 2 s interval: 2 s + skew.
        assert_eq!(
            master_down_interval(V2, 200, 200, 1),
            Duration::from_micros(2_218_750)
        );
    }

    #[test]
    fn frr_doc_example_within_rounding() {
        // FRR shows Skew 210 ms / Down 3210 ms for 1000 ms, prio 200 (computed
        // in whole centiseconds); ours is the exact value, < 10 ms above.
        let skew = skew_time(V3, 200, 100).as_micros();
        assert!((210_000..220_000).contains(&skew));
    }
}
