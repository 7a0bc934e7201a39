//! Per-instance counters in keepalived's stats vocabulary
//! (`/tmp/keepalived.stats` names), plus one named [`DropReason`] per
//! receive check.

/// Why a received advertisement was not processed. Each variant maps to one
/// check and one counter in [`Stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Truncated or inconsistent lengths (wire parse; counted by the shell).
    PacketLen,
    /// IPv4 TTL / IPv6 hop limit not 255 in multicast mode.
    IpTtl,
    /// VRRP type is not ADVERTISEMENT (wire parse; counted by the shell).
    InvalidType,
    /// Bad checksum (wire parse; counted by the shell).
    Checksum,
    /// Advert version differs from the instance's.
    Version,
    /// Advert VRID differs from the instance's.
    Vrid,
    /// Source address family differs from the instance's.
    Family,
    /// v2: interval differs from ours; v3: interval 0 (RFC 9568 erratum 8301).
    AdvertInterval,
    /// Address count differs from ours, or one of our VIPs is missing.
    AddrList,
    /// v2 auth type not 0, 1 or 2.
    InvalidAuthType,
    /// v2 auth type differs from ours.
    AuthTypeMismatch,
    /// v2 PASS: the 8 bytes differ from our `auth_pass`.
    AuthFailure,
    /// The instance is not running (before start or after shutdown).
    NotRunning,
    /// `auth_type AH`: the AH header is not keepalived's (Next Header not
    /// VRRP, or Payload Len not 4).
    AhHeader,
    /// `auth_type AH`: the HMAC-MD5-96 ICV does not verify (wrong
    /// `auth_pass`, or a hashed field changed in flight). Also counted in
    /// `auth_failure`, as keepalived does.
    AhIcv,
    /// `auth_type AH`: the SPI is not the sender's IPv4 address. Also
    /// counted in `auth_failure`.
    AhSpi,
    /// `auth_type AH`: the sequence number is not above the instance's
    /// counter (a replay). Also counted in `auth_failure`.
    AhReplay,
}

impl DropReason {
    /// keepalived's counter name (or ours where keepalived has none).
    pub const fn counter_name(self) -> &'static str {
        match self {
            DropReason::PacketLen => "packet_len_err",
            DropReason::IpTtl => "ip_ttl_err",
            DropReason::InvalidType => "invalid_type_rcvd",
            DropReason::Checksum => "chk_err",
            DropReason::Version => "vers_err",
            DropReason::Vrid => "vrid_err",
            DropReason::Family => "family_err",
            DropReason::AdvertInterval => "advert_interval_err",
            DropReason::AddrList => "addr_list_err",
            DropReason::InvalidAuthType => "invalid_authtype",
            DropReason::AuthTypeMismatch => "authtype_mismatch",
            DropReason::AuthFailure => "auth_failure",
            DropReason::NotRunning => "not_running",
            DropReason::AhHeader => "ah_header_err",
            DropReason::AhIcv => "ah_icv_err",
            DropReason::AhSpi => "ah_spi_err",
            DropReason::AhReplay => "ah_replay",
        }
    }

    /// Every reason, in declaration order (for counters and dumps).
    pub const ALL: [DropReason; 17] = [
        DropReason::PacketLen,
        DropReason::IpTtl,
        DropReason::InvalidType,
        DropReason::Checksum,
        DropReason::Version,
        DropReason::Vrid,
        DropReason::Family,
        DropReason::AdvertInterval,
        DropReason::AddrList,
        DropReason::InvalidAuthType,
        DropReason::AuthTypeMismatch,
        DropReason::AuthFailure,
        DropReason::NotRunning,
        DropReason::AhHeader,
        DropReason::AhIcv,
        DropReason::AhSpi,
        DropReason::AhReplay,
    ];

    /// The name of a wire parse error (VRRP, IPv4 and AH codecs).
    pub const fn from_wire(e: crate::wire::Error) -> DropReason {
        use crate::wire::Error as E;
        match e {
            E::BadType { .. } => DropReason::InvalidType,
            E::BadChecksum | E::BadIpChecksum => DropReason::Checksum,
            E::BadVersion { .. } | E::BadIpVersion { .. } => DropReason::Version,
            E::ZeroInterval => DropReason::AdvertInterval,
            E::BadAddrCount { .. } => DropReason::AddrList,
            E::WrongFamily => DropReason::Family,
            E::BadAhNextHeader { .. } | E::BadAhLength { .. } => DropReason::AhHeader,
            E::BadIcv => DropReason::AhIcv,
            E::BadSpi { .. } => DropReason::AhSpi,
            E::AhReplay { .. } => DropReason::AhReplay,
            E::BadProtocol { .. } => DropReason::AuthTypeMismatch,
            E::Truncated
            | E::BadLength { .. }
            | E::BadIhl { .. }
            | E::BadTotalLength { .. }
            | E::Fragmented
            | E::BufferTooSmall { .. }
            | E::Unrepresentable
            | E::BadPcapMagic { .. }
            | E::BadPcapRecord { .. } => DropReason::PacketLen,
        }
    }
}

/// Counters of one instance (or, in [`crate::vrrp::Router::global_stats`],
/// of packets that matched no instance). All saturate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub enter_backup: u64,
    pub enter_fault: u64,
    pub packet_len_err: u64,
    pub ip_ttl_err: u64,
    pub invalid_type_rcvd: u64,
    pub chk_err: u64,
    pub vers_err: u64,
    pub vrid_err: u64,
    pub family_err: u64,
    pub advert_interval_err: u64,
    pub addr_list_err: u64,
    pub invalid_authtype: u64,
    pub authtype_mismatch: u64,
    pub auth_failure: u64,
    pub not_running: u64,
    pub ah_header_err: u64,
    pub ah_icv_err: u64,
    pub ah_spi_err: u64,
    pub ah_replay: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
    /// Lower-priority adverts discarded as Backup (not a drop: a protocol decision).
    pub lower_prio_rcvd: u64,
    pub garp_sent: u64,
    /// How late the timed adverts went out (keepvip's own, not in
    /// keepalived's dumps).
    pub advert_late: Lateness,
}

/// Upper bounds (inclusive, µs) of the [`Lateness`] histogram buckets; one
/// more bucket holds everything above the last bound. 5 ms is a bound, so
/// "no advert more than 5 ms late" is read off the histogram exactly.
pub const LATENESS_BOUNDS_US: [u64; 12] = [
    50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000,
];
/// Buckets of the [`Lateness`] histogram.
pub const LATENESS_BUCKETS: usize = LATENESS_BOUNDS_US.len() + 1;

/// How late an instance's timed advertisements were sent: the time from the
/// Adver_Timer deadline to the `now` of the loop turn that sent the advert
/// (the clock read right after `poll` returned). Adverts sent at once by an
/// event (a takeover, a priority change, a reply to a lower priority) are
/// not timed and not counted. Fixed size, no allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lateness {
    /// Timed adverts measured.
    pub count: u64,
    /// The latest one, in µs.
    pub max_us: u64,
    /// Sum of all lateness values, in µs (saturating): the mean.
    pub sum_us: u64,
    /// `buckets[i]`: adverts late by at most `LATENESS_BOUNDS_US[i]` (and
    /// more than the bound before); the last bucket: above 1 s.
    pub buckets: [u64; LATENESS_BUCKETS],
}

impl Lateness {
    /// Counts one advert sent `late_us` after its deadline.
    pub fn record(&mut self, late_us: u64) {
        bump(&mut self.count);
        self.max_us = self.max_us.max(late_us);
        self.sum_us = self.sum_us.saturating_add(late_us);
        let i = LATENESS_BOUNDS_US
            .iter()
            .position(|&b| late_us <= b)
            .unwrap_or(LATENESS_BOUNDS_US.len());
        if let Some(c) = self.buckets.get_mut(i) {
            bump(c);
        }
    }

    /// An upper bound of the `permille`/1000 quantile, in µs: the bound of
    /// the bucket that holds it, never above [`Lateness::max_us`]. `None`
    /// without measurements.
    pub fn quantile_bound_us(&self, permille: u32) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        // The rank of the quantile, rounded up (at least 1).
        let rank = (self.count.saturating_mul(u64::from(permille.min(1000))))
            .div_ceil(1000)
            .max(1);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen = seen.saturating_add(n);
            if seen >= rank {
                let bound = LATENESS_BOUNDS_US.get(i).copied().unwrap_or(u64::MAX);
                return Some(bound.min(self.max_us));
            }
        }
        Some(self.max_us)
    }

    /// The mean lateness in µs (`None` without measurements).
    pub fn mean_us(&self) -> Option<u64> {
        self.sum_us.checked_div(self.count)
    }

    /// Adverts late by more than `bound_us`, where `bound_us` is one of
    /// [`LATENESS_BOUNDS_US`] (else: by more than the next larger bound).
    pub fn count_above(&self, bound_us: u64) -> u64 {
        let i = LATENESS_BOUNDS_US
            .iter()
            .position(|&b| bound_us <= b)
            .unwrap_or(LATENESS_BOUNDS_US.len());
        self.buckets
            .iter()
            .skip(i + 1)
            .fold(0u64, |a, &b| a.saturating_add(b))
    }
}

fn bump(c: &mut u64) {
    *c = c.saturating_add(1);
}

impl Stats {
    pub fn count_drop(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::PacketLen => &mut self.packet_len_err,
            DropReason::IpTtl => &mut self.ip_ttl_err,
            DropReason::InvalidType => &mut self.invalid_type_rcvd,
            DropReason::Checksum => &mut self.chk_err,
            DropReason::Version => &mut self.vers_err,
            DropReason::Vrid => &mut self.vrid_err,
            DropReason::Family => &mut self.family_err,
            DropReason::AdvertInterval => &mut self.advert_interval_err,
            DropReason::AddrList => &mut self.addr_list_err,
            DropReason::InvalidAuthType => &mut self.invalid_authtype,
            DropReason::AuthTypeMismatch => &mut self.authtype_mismatch,
            DropReason::AuthFailure => &mut self.auth_failure,
            DropReason::NotRunning => &mut self.not_running,
            DropReason::AhHeader => &mut self.ah_header_err,
            DropReason::AhIcv => &mut self.ah_icv_err,
            DropReason::AhSpi => &mut self.ah_spi_err,
            DropReason::AhReplay => &mut self.ah_replay,
        };
        bump(c);
        // keepalived counts every AH verification failure as auth_failure.
        if matches!(
            reason,
            DropReason::AhIcv | DropReason::AhSpi | DropReason::AhReplay
        ) {
            bump(&mut self.auth_failure);
        }
    }

    /// The counter a drop reason increments (for tests and dumps).
    pub fn drops(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::PacketLen => self.packet_len_err,
            DropReason::IpTtl => self.ip_ttl_err,
            DropReason::InvalidType => self.invalid_type_rcvd,
            DropReason::Checksum => self.chk_err,
            DropReason::Version => self.vers_err,
            DropReason::Vrid => self.vrid_err,
            DropReason::Family => self.family_err,
            DropReason::AdvertInterval => self.advert_interval_err,
            DropReason::AddrList => self.addr_list_err,
            DropReason::InvalidAuthType => self.invalid_authtype,
            DropReason::AuthTypeMismatch => self.authtype_mismatch,
            DropReason::AuthFailure => self.auth_failure,
            DropReason::NotRunning => self.not_running,
            DropReason::AhHeader => self.ah_header_err,
            DropReason::AhIcv => self.ah_icv_err,
            DropReason::AhSpi => self.ah_spi_err,
            DropReason::AhReplay => self.ah_replay,
        }
    }

    /// Sum of the drop counters (each drop once: `auth_failure` without
    /// the AH reasons it already includes).
    pub fn drops_total(&self) -> u64 {
        DropReason::ALL
            .iter()
            .map(|&r| self.drops(r))
            .fold(0u64, u64::saturating_add)
            .saturating_sub(
                self.ah_icv_err
                    .saturating_add(self.ah_spi_err)
                    .saturating_add(self.ah_replay),
            )
    }

    pub(crate) fn inc(c: &mut u64) {
        bump(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_histogram_and_quantiles() {
        let mut l = Lateness::default();
        assert_eq!(l.quantile_bound_us(990), None);
        assert_eq!(l.mean_us(), None);
        // 98 adverts 30 µs late, one 4 ms, one 12 ms.
        for _ in 0..98 {
            l.record(30);
        }
        l.record(4_000);
        l.record(12_000);
        assert_eq!(l.count, 100);
        assert_eq!(l.max_us, 12_000);
        assert_eq!(l.buckets[0], 98);
        assert_eq!(l.buckets[6], 1, "4 ms: in (2 ms, 5 ms]");
        assert_eq!(l.buckets[8], 1, "12 ms: in (10 ms, 20 ms]");
        assert_eq!(l.quantile_bound_us(500), Some(50));
        assert_eq!(l.quantile_bound_us(980), Some(50));
        assert_eq!(l.quantile_bound_us(990), Some(5_000));
        // The top bucket is capped at the exact maximum.
        assert_eq!(l.quantile_bound_us(1000), Some(12_000));
        assert_eq!(l.mean_us(), Some((98 * 30 + 16_000) / 100));
        assert_eq!(l.count_above(5_000), 1);
        assert_eq!(l.count_above(2_000), 2);
        assert_eq!(l.count_above(50), 2);
        // Bounds are inclusive; beyond the last one is the open bucket.
        l.record(5_000);
        assert_eq!(l.buckets[6], 2);
        assert_eq!(l.count_above(5_000), 1);
        l.record(3_000_000);
        assert_eq!(l.buckets[LATENESS_BUCKETS - 1], 1);
        assert_eq!(l.quantile_bound_us(1000), Some(3_000_000));
        assert_eq!(l.count_above(1_000_000), 1);
    }
}
