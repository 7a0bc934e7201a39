//! The load-balancing half of keepalived.conf: `virtual_server`,
//! `real_server` and their health checkers (`TCP_CHECK`, `HTTP_GET`,
//! `MISC_CHECK`), typed and bounded like the rest of [`super::Config`].
//!
//! Storage is three flat pools (virtual servers, real servers, checkers):
//! a virtual server owns a contiguous range of real servers, a real server a
//! contiguous range of checkers (blocks nest, so they are read in order).
//! Pools keep the memory proportional to what is configured in total, not
//! to "servers per VS times checkers per server".
//!
//! Values are resolved the way keepalived resolves them (`check_data.c`
//! `validate_check_config`): a checker setting overrides the real server's,
//! which overrides the virtual server's, which overrides the default. The
//! settings as written stay in [`Inherited`] (for dumps); the resolved ones
//! are in [`Checker`] and [`RealServer`].

use core::fmt;
use core::net::IpAddr;
use heapless::{String, Vec};

use super::model::{CmdId, Command, IfName, Name, PathStr, Span};
use crate::limits::*;

/// `virtualhost` values (an HTTP `Host:` header).
pub type HostName = String<64>;
/// IPVS scheduler names are at most 15 bytes (`IP_VS_SCHEDNAME_MAXLEN` 16).
pub type SchedName = String<15>;

/// keepalived's default `delay_loop` (`KEEPALIVED_DEFAULT_DELAY`): 60 s.
pub const DEFAULT_DELAY_LOOP_US: u64 = 60_000_000;
/// Default `connect_timeout`: 5 s.
pub const DEFAULT_CONNECT_TIMEOUT_US: u64 = 5_000_000;
/// Default `delay_before_retry` of `HTTP_GET`: 3 s.
pub const DEFAULT_HTTP_DELAY_BEFORE_RETRY_US: u64 = 3_000_000;
/// Default `delay_before_retry` of the other checkers: 1 s.
pub const DEFAULT_DELAY_BEFORE_RETRY_US: u64 = 1_000_000;
/// `persistence_timeout` without a value: 6 minutes (`IPVS_SVC_PERSISTENT_TIMEOUT`).
pub const DEFAULT_PERSISTENCE_TIMEOUT_S: u32 = 360;
/// keepalived's default scheduler (`IPVS_DEF_SCHED`).
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// Largest real server weight accepted (ipvsadm's range).
pub const WEIGHT_MAX: u32 = 65_535;
/// HTTP status codes a `status_code` may name.
pub const HTTP_STATUS_MIN: u16 = 100;
pub const HTTP_STATUS_MAX: u16 = 599;

/// The schedulers of Linux IPVS that keepalived 2.2 accepts.
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos",
];

/// `IP_VS_SVC_F_*` flags a virtual server can carry (linux/ip_vs.h).
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// `sh-fallback` / `mh-fallback` are SCHED1, `sh-port` / `mh-port` SCHED2.
    pub const SCHED_SH_FALLBACK: u32 = SCHED1;
    pub const SCHED_SH_PORT: u32 = SCHED2;
}

/// `protocol TCP|UDP|SCTP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LvsProtocol {
    Tcp,
    Udp,
    Sctp,
}

impl LvsProtocol {
    /// The IP protocol number (`IPPROTO_*`).
    pub const fn ip_proto(self) -> u16 {
        match self {
            LvsProtocol::Tcp => 6,
            LvsProtocol::Udp => 17,
            LvsProtocol::Sctp => 132,
        }
    }

    /// keepalived's lower-case name in `[IP]:tcp:PORT`.
    pub const fn name(self) -> &'static str {
        match self {
            LvsProtocol::Tcp => "tcp",
            LvsProtocol::Udp => "udp",
            LvsProtocol::Sctp => "sctp",
        }
    }
}

/// `lb_kind` / `lvs_method`: how IPVS forwards to a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forwarding {
    /// `NAT`: masquerading (`IP_VS_CONN_F_MASQ`).
    Nat,
    /// `DR`: direct routing (`IP_VS_CONN_F_DROUTE`).
    Dr,
    /// `TUN`: IP-in-IP tunnelling (`IP_VS_CONN_F_TUNNEL`).
    Tun,
}

impl Forwarding {
    /// `IP_VS_CONN_F_*` value for `IPVS_DEST_ATTR_FWD_METHOD`.
    pub const fn conn_flags(self) -> u32 {
        match self {
            Forwarding::Nat => 0x0000,
            Forwarding::Tun => 0x0002,
            Forwarding::Dr => 0x0003,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Forwarding::Nat => "NAT",
            Forwarding::Dr => "DR",
            Forwarding::Tun => "TUN",
        }
    }
}

/// Settings that a checker inherits from its real server, and a real server
/// from its virtual server, as written at each level (`None`: not written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Inherited {
    pub connect_timeout_us: Option<u64>,
    pub retry: Option<u32>,
    pub delay_before_retry_us: Option<u64>,
    pub warmup_us: Option<u64>,
    pub delay_loop_us: Option<u64>,
    pub alpha: Option<bool>,
    pub inhibit_on_failure: Option<bool>,
}

impl Inherited {
    /// `self` where written, else `outer`.
    pub fn or(self, outer: Inherited) -> Inherited {
        Inherited {
            connect_timeout_us: self.connect_timeout_us.or(outer.connect_timeout_us),
            retry: self.retry.or(outer.retry),
            delay_before_retry_us: self.delay_before_retry_us.or(outer.delay_before_retry_us),
            warmup_us: self.warmup_us.or(outer.warmup_us),
            delay_loop_us: self.delay_loop_us.or(outer.delay_loop_us),
            alpha: self.alpha.or(outer.alpha),
            inhibit_on_failure: self.inhibit_on_failure.or(outer.inhibit_on_failure),
        }
    }
}

/// `sorry_server IP [PORT]` (+ `sorry_server_inhibit`, `sorry_server_lvs_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SorryServer {
    pub addr: IpAddr,
    /// Resolved: the virtual server's port unless NAT with an explicit port.
    pub port: u16,
    pub inhibit: bool,
    pub lb_kind: Forwarding,
    pub span: Span,
}

/// `virtual_server IP PORT { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VirtualServer {
    pub span: Span,
    pub addr: IpAddr,
    /// 0 only for persistent services (keepalived's rule).
    pub port: u16,
    pub protocol: LvsProtocol,
    /// `lb_algo` / `lvs_sched` (default `wlc`, with a warning like keepalived).
    pub lb_algo: SchedName,
    /// `lb_kind` / `lvs_method` (default NAT, with a warning like keepalived).
    pub lb_kind: Forwarding,
    /// Scheduler flags (`ops`, `flag-1`..`flag-3`, `sh-port`, ...), without
    /// `PERSISTENT` (added when `persistence_timeout_s > 0`).
    pub flags: u32,
    /// 0: not persistent.
    pub persistence_timeout_s: u32,
    /// `persistence_granularity`: IPv4 netmask as a host-order u32
    /// (0xffffff00 for /24), IPv6 prefix length. `None`: /32 or /128.
    pub persistence_granularity: Option<u32>,
    /// Resolved `delay_loop` of the virtual server (also `misc_timeout`'s default).
    pub delay_loop_us: u64,
    /// The defaults its real servers inherit, as written.
    pub defaults: Inherited,
    pub omega: bool,
    pub quorum: u32,
    pub hysteresis: u32,
    /// `quorum_up CMD [USER [GROUP]]` / `quorum_down ...`: commands in
    /// [`super::Config::notify_cmds`], read like the VRRP notify commands.
    pub quorum_up: Option<CmdId>,
    pub quorum_down: Option<CmdId>,
    pub sorry_server: Option<SorryServer>,
    /// Suspend the checkers while the owning instance is not MASTER.
    pub ha_suspend: bool,
    pub virtualhost: Option<HostName>,
    /// The `vrrp_instance` (index into `Config::instances`) that has this
    /// address among its `virtual_ipaddress` / `virtual_ipaddress_excluded`:
    /// the IPVS rules exist only while it is MASTER. `None`: always.
    pub owner: Option<u16>,
    /// `real_servers[rs_first .. rs_first + rs_count]`.
    pub rs_first: u16,
    pub rs_count: u16,
}

/// `real_server IP PORT { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RealServer {
    pub span: Span,
    /// Index into [`LvsConfig::virtual_servers`].
    pub vs: u16,
    pub addr: IpAddr,
    /// Resolved: the virtual server's port if not written (or if not NAT).
    pub port: u16,
    /// `weight` (default 1), 0..=[`WEIGHT_MAX`].
    pub weight: u32,
    pub lb_kind: Forwarding,
    /// Resolved `inhibit_on_failure`: a failed server stays in the table
    /// with weight 0 instead of being removed.
    pub inhibit_on_failure: bool,
    /// As written at this level (the checkers' defaults).
    pub defaults: Inherited,
    /// `notify_up CMD [USER [GROUP]]` / `notify_down ...`: commands in
    /// [`super::Config::notify_cmds`], read like the VRRP notify commands.
    pub notify_up: Option<CmdId>,
    pub notify_down: Option<CmdId>,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub virtualhost: Option<HostName>,
    /// `checkers[checker_first .. checker_first + checker_count]`.
    pub checker_first: u16,
    pub checker_count: u16,
}

/// `http_protocol 1.0|1.0C|1.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HttpProtocol {
    #[default]
    V1_0,
    /// 1.0 plus `Connection: close`.
    V1_0C,
    /// 1.1 (with `Connection: close`).
    V1_1,
}

/// A set of HTTP status codes 100..=599 (a bitmap).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StatusCodes([u64; 8]);

impl StatusCodes {
    pub const fn empty() -> Self {
        StatusCodes([0; 8])
    }

    /// keepalived's default: 200-299.
    pub fn default_2xx() -> Self {
        let mut s = StatusCodes::empty();
        s.insert_range(200, 299);
        s
    }

    pub fn insert_range(&mut self, lo: u16, hi: u16) {
        let mut c = lo.max(HTTP_STATUS_MIN);
        while c <= hi.min(HTTP_STATUS_MAX) {
            let i = usize::from(c - HTTP_STATUS_MIN);
            self.0[i / 64] |= 1 << (i % 64);
            c += 1;
        }
    }

    pub fn contains(&self, code: u16) -> bool {
        if !(HTTP_STATUS_MIN..=HTTP_STATUS_MAX).contains(&code) {
            return false;
        }
        let i = usize::from(code - HTTP_STATUS_MIN);
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The codes as ranges, in order (for dumps): `(first, last)`.
    pub fn ranges(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        let mut c = HTTP_STATUS_MIN;
        core::iter::from_fn(move || {
            while c <= HTTP_STATUS_MAX && !self.contains(c) {
                c += 1;
            }
            if c > HTTP_STATUS_MAX {
                return None;
            }
            let lo = c;
            while c < HTTP_STATUS_MAX && self.contains(c + 1) {
                c += 1;
            }
            let hi = c;
            c += 1;
            Some((lo, hi))
        })
    }
}

impl fmt::Debug for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.ranges().map(|(a, b)| a..=b))
            .finish()
    }
}

/// `url { path ..., digest ..., status_code ..., virtualhost ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    pub path: PathStr,
    /// MD5 of the response body (what `genhash` prints).
    pub digest: Option<[u8; 16]>,
    /// Resolved: 200-299 when not written.
    pub status_code: StatusCodes,
    pub virtualhost: Option<HostName>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpGet {
    pub urls: Vec<Url, MAX_HTTP_URLS>,
    pub virtualhost: Option<HostName>,
    pub http_protocol: HttpProtocol,
    /// Check all URLs back to back (no `delay_loop` between them) while the
    /// server is not known to be up.
    pub fast_recovery: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MiscCheck {
    pub misc_path: Command,
    /// `misc_timeout` in seconds; `None`: the virtual server's `delay_loop`.
    pub misc_timeout_s: Option<u32>,
    /// Exit status 2..=255 sets the weight to status - 2.
    pub misc_dynamic: bool,
    pub user: Option<Name>,
    pub group: Option<Name>,
}

/// The variants differ in size (an `HTTP_GET` holds its URLs inline); the
/// checkers live in one fixed pool, so boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckerKind {
    Tcp,
    Http(HttpGet),
    Misc(MiscCheck),
}

impl CheckerKind {
    /// The block keyword.
    pub const fn keyword(&self) -> &'static str {
        match self {
            CheckerKind::Tcp => "TCP_CHECK",
            CheckerKind::Http(_) => "HTTP_GET",
            CheckerKind::Misc(_) => "MISC_CHECK",
        }
    }
}

/// One health checker of a real server, with its settings resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checker {
    pub span: Span,
    /// Index into [`LvsConfig::real_servers`].
    pub rs: u16,
    pub kind: CheckerKind,
    /// As written in the checker block.
    pub written: Inherited,
    /// `connect_ip` (default: the real server's address).
    pub connect_ip: Option<IpAddr>,
    /// `connect_port` (default: the real server's port).
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<IfName>,
    // ---- resolved (checker > real server > virtual server > default) ----
    pub connect_timeout_us: u64,
    pub retry: u32,
    pub delay_before_retry_us: u64,
    /// The first check is delayed by a random time up to this (default:
    /// `delay_loop`; 0 disables).
    pub warmup_us: u64,
    pub delay_loop_us: u64,
    /// Start as failed (the real server is not in the pool until it passes).
    pub alpha: bool,
    pub log_all_failures: bool,
}

/// Everything `virtual_server` configures.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LvsConfig {
    pub virtual_servers: Vec<VirtualServer, MAX_VIRTUAL_SERVERS>,
    pub real_servers: Vec<RealServer, MAX_REAL_SERVERS>,
    pub checkers: Vec<Checker, MAX_CHECKERS>,
    /// A build without the `lvs` feature skips `virtual_server` blocks
    /// unread: where the first one was.
    pub skipped: Option<Span>,
}

impl LvsConfig {
    pub fn clear(&mut self) {
        self.virtual_servers.clear();
        self.real_servers.clear();
        self.checkers.clear();
        self.skipped = None;
    }

    pub fn is_empty(&self) -> bool {
        self.virtual_servers.is_empty()
    }

    /// The real servers of virtual server `vs`.
    pub fn real_servers_of(&self, vs: usize) -> &[RealServer] {
        let Some(v) = self.virtual_servers.get(vs) else {
            return &[];
        };
        let a = usize::from(v.rs_first);
        let b = (a + usize::from(v.rs_count)).min(self.real_servers.len());
        self.real_servers.get(a..b).unwrap_or(&[])
    }

    /// The checkers of real server `rs`.
    pub fn checkers_of(&self, rs: usize) -> &[Checker] {
        let Some(r) = self.real_servers.get(rs) else {
            return &[];
        };
        let a = usize::from(r.checker_first);
        let b = (a + usize::from(r.checker_count)).min(self.checkers.len());
        self.checkers.get(a..b).unwrap_or(&[])
    }

    /// Where checker `c` connects to: `connect_ip`/`connect_port`, else the
    /// real server's address and port.
    pub fn target(&self, c: usize) -> Option<(IpAddr, u16)> {
        let ch = self.checkers.get(c)?;
        let rs = self.real_servers.get(usize::from(ch.rs))?;
        Some((
            ch.connect_ip.unwrap_or(rs.addr),
            ch.connect_port.unwrap_or(rs.port),
        ))
    }
}

/// keepalived's `[IP]:proto:PORT` (`inet_sockaddrtotrio`), e.g.
/// `[192.0.2.10]:tcp:80`, `[2001:db8::1]:tcp:80`.
#[derive(Clone, Copy, Debug)]
pub struct Trio {
    pub addr: IpAddr,
    pub protocol: LvsProtocol,
    pub port: u16,
}

impl fmt::Display for Trio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]:{}:{}", self.addr, self.protocol.name(), self.port)
    }
}

impl VirtualServer {
    pub fn trio(&self) -> Trio {
        Trio {
            addr: self.addr,
            protocol: self.protocol,
            port: self.port,
        }
    }
}

/// 32 hex digits (either case) into 16 bytes.
pub fn parse_digest(s: &[u8]) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in s.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn status_code_sets() {
        let d = StatusCodes::default_2xx();
        assert!(d.contains(200) && d.contains(299) && !d.contains(300) && !d.contains(199));
        let mut s = StatusCodes::empty();
        assert!(s.is_empty());
        s.insert_range(200, 200);
        s.insert_range(400, 499);
        s.insert_range(599, 599);
        assert!(!s.contains(600) && !s.contains(99) && s.contains(599));
        let r: std::vec::Vec<_> = s.ranges().collect();
        assert_eq!(r, [(200, 200), (400, 499), (599, 599)]);
    }

    #[test]
    fn trio_format_is_keepalived_s() {
        let t = Trio {
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
            protocol: LvsProtocol::Tcp,
            port: 80,
        };
        assert_eq!(t.to_string(), "[192.0.2.10]:tcp:80");
        let t = Trio {
            addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            protocol: LvsProtocol::Udp,
            port: 53,
        };
        assert_eq!(t.to_string(), "[2001:db8::1]:udp:53");
    }

    #[test]
    fn inherited_prefers_the_inner_level() {
        let vs = Inherited {
            retry: Some(3),
            delay_loop_us: Some(6_000_000),
            ..Inherited::default()
        };
        let rs = Inherited {
            retry: Some(1),
            ..Inherited::default()
        };
        let r = rs.or(vs);
        assert_eq!(r.retry, Some(1));
        assert_eq!(r.delay_loop_us, Some(6_000_000));
        assert_eq!(r.connect_timeout_us, None);
    }
}
