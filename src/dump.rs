//! State dumps in keepalived's formats, as pure formatting into a
//! caller-supplied [`core::fmt::Write`] sink (no heap, no clock, no I/O):
//!
//! * [`write_data`]: the SIGUSR1 dump (`/tmp/keepalived.data` shape: section
//!   headers `------< Global definitions >------`, `------< VRRP Topology >------`,
//!   one ` VRRP Instance = NAME` block per instance). The lines and their
//!   order follow keepalived 2.4.3; lines for things keepvip does not have
//!   (sockpool, fds, VMACs, interface table, read timeout...) are left out.
//!   keepalived's man page says this format is not stable; it is for humans.
//! * [`write_stats`]: the SIGUSR2 dump, exactly keepalived's
//!   `/tmp/keepalived.stats` (as built with VRRP authentication, which
//!   keepvip implements: the `Type Mismatch` and `Failure` lines are there).
//! * [`write_json`]: the `SIGRTMIN+2` dump in keepalived's `vrrp_json` schema
//!   (v1: an array of `{"data":{...},"stats":{...}}`), which OpenWrt's rpcd
//!   `keepalived dump` and LuCI read (`data.iname`, `data.ifp_ifname`,
//!   `data.state`, `data.last_transition`, `stats.advert_sent`,
//!   `stats.advert_rcvd`, `stats.become_master`, `stats.release_master`).
//!
//! Times: the core only knows the monotonic clock. The shell passes
//! `wall_offset_us` = `CLOCK_REALTIME - CLOCK_MONOTONIC` in microseconds,
//! read when the dump is requested; wall time = monotonic + offset. Dates are
//! printed in UTC (keepalived uses local time; a router's TZ is usually UTC).
//!
//! The files are written by the shell with
//! [`crate::sys::file_atomic::write_atomic_fmt`] (temp file + rename), at
//! the paths of [`dump_paths`].

use core::fmt::{self, Write};
use core::net::IpAddr;

use crate::config::model::{
    AddressFamily, AuthType, Config, InstanceConfig, VirtualIp, VrrpVersion,
};
use crate::sys::alloc::AllocUsage;
use crate::time::Instant;
use crate::vrrp::timers::master_down_interval;
use crate::vrrp::{InstanceId, LATENESS_BOUNDS_US, Lateness, Router, StateKind, Stats};

/// Where the three dumps go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpPaths {
    /// SIGUSR1.
    pub data: &'static str,
    /// SIGUSR2.
    pub stats: &'static str,
    /// SIGRTMIN+2.
    pub json: &'static str,
}

/// keepvip's own paths, or keepalived's (`compat`) so that tools written
/// for keepalived (OpenWrt's rpcd `keepalived dump`) work unchanged.
pub const fn dump_paths(compat: bool) -> DumpPaths {
    if compat {
        DumpPaths {
            data: "/tmp/keepalived.data",
            stats: "/tmp/keepalived.stats",
            json: "/tmp/keepalived.json",
        }
    } else {
        DumpPaths {
            data: "/tmp/keepvip.data",
            stats: "/tmp/keepvip.stats",
            json: "/tmp/keepvip.json",
        }
    }
}

/// Everything a dump reads.
#[derive(Clone, Copy)]
pub struct DumpInput<'a> {
    pub config: &'a Config,
    pub router: &'a Router,
    /// Monotonic time of the dump.
    pub now: Instant,
    /// `CLOCK_REALTIME - CLOCK_MONOTONIC`, microseconds (may be negative).
    pub wall_offset_us: i64,
}

impl DumpInput<'_> {
    /// Wall-clock microseconds since the epoch of a monotonic instant
    /// (clamped at 0).
    pub fn wall_us(&self, t: Instant) -> u64 {
        let mono = i64::try_from(t.as_micros()).unwrap_or(i64::MAX);
        u64::try_from(mono.saturating_add(self.wall_offset_us)).unwrap_or(0)
    }

    fn instance(&self, id: InstanceId) -> Option<&InstanceConfig> {
        self.config.instances.get(id.index())
    }
}

// ---- Small formatting helpers ------------------------------------------------

/// keepalived's numeric states (`VRRP_STATE_*`): INIT 0, BACKUP 1, MASTER 2, FAULT 3.
pub const fn state_number(s: StateKind) -> u8 {
    match s {
        StateKind::Initialize => 0,
        StateKind::Backup => 1,
        StateKind::Master => 2,
        StateKind::Fault => 3,
    }
}

const fn version_number(v: VrrpVersion) -> u8 {
    match v {
        VrrpVersion::V2 => 2,
        VrrpVersion::V3 => 3,
    }
}

const fn yes_no(b: bool, yes: &'static str, no: &'static str) -> &'static str {
    if b { yes } else { no }
}

/// Microseconds as seconds with exactly six decimals (C's `%f`).
pub struct SecsF(pub u64);

impl fmt::Display for SecsF {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Microseconds as seconds in the shortest form (C's `%g` for the values
/// dumps use: "1", "0.5", "40.95").
pub struct SecsG(pub u64);

impl fmt::Display for SecsG {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, mut frac) = (self.0 / 1_000_000, self.0 % 1_000_000);
        write!(f, "{s}")?;
        if frac == 0 {
            return Ok(());
        }
        let mut digits = 6;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, ".{frac:0digits$}")
    }
}

/// A wall-clock time in microseconds since the epoch, as keepalived's dump
/// prints it: `Sun Nov 22 02:37:52.341686 2026` (UTC).
pub struct CTime(pub u64);

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (the classic era-based conversion).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for CTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let secs = self.0 / 1_000_000;
        let usec = self.0 % 1_000_000;
        let days = (secs / 86_400) as i64;
        let tod = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        let wd = DAYS.get((days % 7) as usize).copied().unwrap_or("???");
        let mon = MONTHS
            .get((m as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("???");
        write!(
            f,
            "{wd} {mon} {d:2} {:02}:{:02}:{:02}.{usec:06} {y}",
            tod / 3600,
            tod / 60 % 60,
            tod % 60
        )
    }
}

/// `rtnetlink` scope names (`ip addr` words).
pub fn scope_name(scope: u8) -> ScopeName {
    ScopeName(scope)
}

pub struct ScopeName(u8);

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("global"),
            200 => f.write_str("site"),
            253 => f.write_str("link"),
            254 => f.write_str("host"),
            255 => f.write_str("nowhere"),
            n => write!(f, "{n}"),
        }
    }
}

/// One address as keepalived formats it: `ADDR/LEN [brd B] dev IF scope S [label L]`.
struct VipText<'a> {
    vip: &'a VirtualIp,
    default_dev: &'a str,
}

impl fmt::Display for VipText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.vip;
        write!(f, "{}/{}", v.addr, v.prefix_len)?;
        if let Some(b) = v.brd {
            write!(f, " brd {b}")?;
        }
        let dev = v
            .dev
            .as_ref()
            .map(|d| d.as_str())
            .unwrap_or(self.default_dev);
        write!(f, " dev {dev} scope {}", scope_name(v.scope))?;
        if let Some(l) = &v.label {
            write!(f, " label {l}")?;
        }
        Ok(())
    }
}

/// A JSON string literal with RFC 8259 escaping.
pub struct JsonStr<'a>(pub &'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let mut rest = self.0;
        while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            let (head, tail) = rest.split_at(i);
            f.write_str(head)?;
            let mut chars = tail.chars();
            let c = chars.next().unwrap_or(' ');
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c => write!(f, "\\u{:04x}", c as u32)?,
            }
            rest = chars.as_str();
        }
        f.write_str(rest)?;
        f.write_char('"')
    }
}

/// Formats `args` into a small stack buffer and writes it as a JSON string
/// (for values that are not plain `&str`, e.g. addresses).
fn json_fmt<W: Write + ?Sized>(w: &mut W, args: fmt::Arguments<'_>) -> fmt::Result {
    let mut b: heapless::String<160> = heapless::String::new();
    b.write_fmt(args)?;
    write!(w, "{}", JsonStr(&b))
}

// ---- SIGUSR2: stats ---------------------------------------------------------------

/// The stats block of one instance, exactly as keepalived writes it.
pub fn write_stats_instance<W: Write + ?Sized>(w: &mut W, name: &str, s: &Stats) -> fmt::Result {
    write!(
        w,
        concat!(
            "VRRP Instance: {}\n",
            "  Advertisements:\n",
            "    Received: {}\n",
            "    Sent: {}\n",
            "  Became master: {}\n",
            "  Released master: {}\n",
            "  Packet Errors:\n",
            "    Length: {}\n",
            "    TTL: {}\n",
            "    Invalid Type: {}\n",
            "    Advertisement Interval: {}\n",
            "    Address List: {}\n",
            "  Authentication Errors:\n",
            "    Invalid Type: {}\n",
            "    Type Mismatch: {}\n",
            "    Failure: {}\n",
            "  Priority Zero:\n",
            "    Received: {}\n",
            "    Sent: {}\n"
        ),
        name,
        s.advert_rcvd,
        s.advert_sent,
        s.become_master,
        s.release_master,
        s.packet_len_err,
        s.ip_ttl_err,
        s.invalid_type_rcvd,
        s.advert_interval_err,
        s.addr_list_err,
        s.invalid_authtype,
        s.authtype_mismatch,
        s.auth_failure,
        s.pri_zero_rcvd,
        s.pri_zero_sent,
    )
}

/// The SIGUSR2 dump: every instance's counters, in configuration order,
/// exactly keepalived's format (`--keepalived-compat`).
pub fn write_stats<W: Write + ?Sized>(w: &mut W, router: &Router) -> fmt::Result {
    write_stats_with(w, router, false)
}

/// [`write_stats`], with `lateness`: one more line per instance, after
/// keepalived's, `  Advert lateness: ...` ([`LatenessText`]; keepvip's own,
/// left out in keepalived's format).
pub fn write_stats_with<W: Write + ?Sized>(
    w: &mut W,
    router: &Router,
    lateness: bool,
) -> fmt::Result {
    for id in router.instance_ids() {
        if let (Some(name), Some(s)) = (router.name(id), router.stats(id)) {
            write_stats_instance(w, name, s)?;
            if lateness {
                writeln!(w, "  Advert lateness: {}", LatenessText(&s.advert_late))?;
            }
        }
    }
    Ok(())
}

/// The lateness bar the summaries count against (issue 4: no advert more
/// than 5 ms late); one of [`LATENESS_BOUNDS_US`].
pub const LATENESS_BAR_US: u64 = 5_000;

/// Microseconds as milliseconds with three decimals (`0.312 ms`).
pub struct UsAsMs(pub u64);

impl fmt::Display for UsAsMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b: heapless::String<32> = heapless::String::new();
        write!(b, "{}.{:03} ms", self.0 / 1000, self.0 % 1000)?;
        f.pad(&b)
    }
}

/// One line about an instance's advert lateness: `1234 timed adverts, max
/// 0.312 ms, p99 <= 0.500 ms, mean 0.041 ms, 0 over 5 ms` (`no timed
/// adverts` before the first). The p99 is the bound of its histogram
/// bucket ([`Lateness::quantile_bound_us`]).
pub struct LatenessText<'a>(pub &'a Lateness);

impl fmt::Display for LatenessText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.0;
        let (Some(p99), Some(mean)) = (l.quantile_bound_us(990), l.mean_us()) else {
            return f.write_str("no timed adverts");
        };
        write!(
            f,
            "{} timed adverts, max {}, p99 <= {}, mean {}, {} over {}",
            l.count,
            UsAsMs(l.max_us),
            UsAsMs(p99),
            UsAsMs(mean),
            l.count_above(LATENESS_BAR_US),
            UsAsMs(LATENESS_BAR_US),
        )
    }
}

/// The lateness of one instance as a JSON object (`keepvip status --json`):
/// `{"count":N,"max_us":N,"mean_us":N,"p50_us":N,"p99_us":N,
/// "bounds_us":[50,...],"buckets":[N,...]}` (`buckets` has one more
/// element than `bounds_us`: above the last bound); the quantiles and
/// the mean are `null` before the first timed advert.
pub fn write_json_lateness<W: Write + ?Sized>(w: &mut W, l: &Lateness) -> fmt::Result {
    struct Opt(Option<u64>);
    impl fmt::Display for Opt {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0 {
                Some(v) => write!(f, "{v}"),
                None => f.write_str("null"),
            }
        }
    }
    write!(
        w,
        "{{\"count\":{},\"max_us\":{},\"mean_us\":{},\"p50_us\":{},\"p99_us\":{},\"bounds_us\":[",
        l.count,
        l.max_us,
        Opt(l.mean_us()),
        Opt(l.quantile_bound_us(500)),
        Opt(l.quantile_bound_us(990)),
    )?;
    for (i, b) in LATENESS_BOUNDS_US.iter().enumerate() {
        if i > 0 {
            w.write_char(',')?;
        }
        write!(w, "{b}")?;
    }
    w.write_str("],\"buckets\":[")?;
    for (i, b) in l.buckets.iter().enumerate() {
        if i > 0 {
            w.write_char(',')?;
        }
        write!(w, "{b}")?;
    }
    w.write_str("]}")
}

/// The daemon's heap allocations, in one phrase for `keepvip status`, the
/// stats dump and the stop log line: `0 (0 bytes) since start-up, 1234
/// (567890 bytes) during start-up` (see [`crate::sys::alloc`]).
pub struct AllocText<'a>(pub &'a AllocUsage);

impl fmt::Display for AllocText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, u) = (self.0.since_startup, self.0.startup);
        write!(
            f,
            "{} ({} bytes) since start-up, {} ({} bytes) during start-up",
            s.count, s.bytes, u.count, u.bytes
        )
    }
}

/// The daemon's heap allocations as a JSON object (`keepvip status
/// --json`): `{"since_startup":{"count":N,"bytes":N},
/// "startup":{"count":N,"bytes":N}}`, `null` when nothing is counted.
pub struct AllocJson<'a>(pub Option<&'a AllocUsage>);

impl fmt::Display for AllocJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(u) = self.0 else {
            return f.write_str("null");
        };
        let (s, u) = (u.since_startup, u.startup);
        write!(
            f,
            "{{\"since_startup\":{{\"count\":{},\"bytes\":{}}},\"startup\":{{\"count\":{},\"bytes\":{}}}}}",
            s.count, s.bytes, u.count, u.bytes
        )
    }
}

/// The line keepvip adds at the end of the stats dump and of the `keepvip
/// status` table (not with `--keepalived-compat`): `Heap allocations:
/// ...` ([`AllocText`]); nothing when nothing is counted (`None`).
pub fn write_allocs_line<W: Write + ?Sized>(w: &mut W, u: Option<&AllocUsage>) -> fmt::Result {
    match u {
        Some(u) => writeln!(w, "Heap allocations: {}", AllocText(u)),
        None => Ok(()),
    }
}

// ---- SIGUSR1: data ----------------------------------------------------------------

fn write_global<W: Write + ?Sized>(w: &mut W, c: &Config) -> fmt::Result {
    let g = &c.global_defs;
    writeln!(w, "------< Global definitions >------")?;
    if let Some(id) = &g.router_id {
        writeln!(w, " Router ID = {id}")?;
    }
    if let Some((ip, port)) = g.smtp_server {
        writeln!(w, " Smtp server = {ip}")?;
        writeln!(w, " Smtp server port = {port}")?;
        writeln!(
            w,
            " Smtp server connection timeout = {}",
            g.smtp_connect_timeout_s
        )?;
    }
    if let Some(from) = &g.notification_email_from {
        writeln!(w, " Email notification from = {from}")?;
        writeln!(w, " Email notification to:")?;
        for e in &g.notification_email {
            writeln!(w, "   {e}")?;
        }
    }
    writeln!(
        w,
        " Default smtp_alert = {}",
        yes_no(g.smtp_alert, "on", "off")
    )?;
    if let Some(fifo) = &g.notify_fifo {
        writeln!(w, " Global notify fifo = {}", fifo.path)?;
    }
    if let Some(fifo) = &g.vrrp_notify_fifo {
        writeln!(w, " VRRP notify fifo = {}", fifo.path)?;
    }
    write!(
        w,
        concat!(
            " VRRP IPv4 mcast group = {}\n",
            " VRRP IPv6 mcast group = {}\n",
            " Gratuitous ARP delay = {}\n",
            " Gratuitous ARP repeat = {}\n",
            " Gratuitous ARP refresh timer = {}\n",
            " Gratuitous ARP refresh repeat = {}\n",
            " Gratuitous ARP lower priority delay = {}\n",
            " Gratuitous ARP lower priority repeat = {}\n",
            " Send advert after receive lower priority advert = {}\n",
            " Send advert after receive higher priority advert = {}\n",
            " Gratuitous ARP interval = {}\n",
            " Gratuitous NA interval = {}\n",
            " VRRP default protocol version = {}\n",
            " VRRP skip check advert addresses = {}\n",
            " VRRP strict mode = {}\n",
            " VRRP process priority = {}\n",
            " VRRP realtime priority = {}\n",
            " VRRP realtime limit = {}\n",
            " Script security {}\n"
        ),
        g.vrrp_mcast_group4,
        g.vrrp_mcast_group6,
        g.vrrp_garp_master_delay_s,
        g.vrrp_garp_master_repeat,
        g.vrrp_garp_master_refresh_s,
        g.vrrp_garp_master_refresh_repeat,
        g.vrrp_garp_lower_prio_delay_s,
        g.vrrp_garp_lower_prio_repeat,
        yes_no(g.vrrp_lower_prio_no_advert, "false", "true"),
        g.vrrp_higher_prio_send_advert,
        SecsF(u64::from(g.vrrp_garp_interval_us)),
        SecsF(u64::from(g.vrrp_gna_interval_us)),
        version_number(g.vrrp_version),
        g.vrrp_skip_check_adv_addr,
        g.vrrp_strict,
        g.vrrp_priority,
        g.vrrp_rt_priority,
        g.vrrp_rlimit_rttime_us,
        yes_no(g.enable_script_security, "enabled", "disabled"),
    )?;
    if let Some(u) = &g.script_user {
        match &g.script_group {
            Some(gr) => writeln!(w, " Default script user:group = {u}:{gr}")?,
            None => writeln!(w, " Default script user = {u}")?,
        }
    }
    Ok(())
}

fn write_track_refs<W: Write + ?Sized>(
    w: &mut W,
    title: &str,
    refs: &[crate::config::model::TrackRef],
    own_weight: &dyn Fn(&str) -> Option<i16>,
) -> fmt::Result {
    if refs.is_empty() {
        return Ok(());
    }
    writeln!(w, "   {title} :")?;
    for t in refs {
        let weight = t.weight.or_else(|| own_weight(&t.name)).unwrap_or(0);
        write!(w, "     {} weight {}", t.name, weight)?;
        if t.reverse {
            write!(w, " reverse")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

fn write_instance_data<W: Write + ?Sized>(
    w: &mut W,
    d: &DumpInput<'_>,
    id: InstanceId,
) -> fmt::Result {
    let (Some(c), Some(name), Some(state)) =
        (d.instance(id), d.router.name(id), d.router.state(id))
    else {
        return Ok(());
    };
    let r = d.router;
    let g = &d.config.global_defs;
    writeln!(w, " VRRP Instance = {name}")?;
    writeln!(w, "   VRRP Version = {}", version_number(c.version))?;
    if let Some(sg) = c
        .sync_group
        .and_then(|i| d.config.sync_groups.get(usize::from(i)))
    {
        writeln!(w, "   Sync group = {}", sg.name)?;
    }
    if c.family == AddressFamily::Ipv6 {
        writeln!(w, "   Using Native IPv6")?;
    }
    let master_int_cs = r.master_adver_interval_cs(id).unwrap_or(c.advert_int_cs);
    writeln!(w, "   State = {}", state.as_str())?;
    if state == StateKind::Backup {
        match r.master_addr(id) {
            Some(a) => writeln!(w, "   Master router = {a}")?,
            None => writeln!(w, "   Master router = (none)")?,
        }
        writeln!(
            w,
            "   Master priority = {}",
            r.master_priority(id).unwrap_or(0)
        )?;
        if c.version == VrrpVersion::V3 {
            // C's `%.2f` of the centiseconds / 100, without float formatting.
            writeln!(
                w,
                "   Master advert int = {}.{:02} sec",
                master_int_cs / 100,
                master_int_cs % 100
            )?;
        }
    }
    // keepvip has no pending transitions: the wanted state is the state.
    let lt = r.last_transition(id).map(|t| d.wall_us(t)).unwrap_or(0);
    let eff = r.effective_priority(id).unwrap_or(c.priority);
    let down = master_down_interval(c.version, eff, master_int_cs, c.down_timer_adverts);
    write!(
        w,
        concat!(
            "   Wantstate = {}\n",
            "   Last transition = {} ({})\n",
            "   Master down timer = {} usecs\n",
            "   Interface = {}\n"
        ),
        state.as_str(),
        SecsF(lt),
        CTime(lt),
        down.as_micros(),
        c.interface,
    )?;
    if c.dont_track_primary {
        writeln!(w, "   VRRP interface tracking disabled")?;
    }
    if c.skip_check_adv_addr {
        writeln!(w, "   Skip checking advert IP addresses")?;
    }
    if g.vrrp_strict {
        writeln!(w, "   Enforcing strict VRRP compliance")?;
    }
    let from_config = c.unicast_src_ip.is_some() || c.mcast_src_ip.is_some();
    match r.src_addr(id) {
        Some(a) => writeln!(
            w,
            "   Using src_ip = {a}{}",
            yes_no(from_config, " (from configuration)", "")
        )?,
        None => writeln!(w, "   Using src_ip = (none)")?,
    }
    if !c.is_unicast() {
        match c.family {
            AddressFamily::Ipv4 => writeln!(w, "   Multicast address {}", g.vrrp_mcast_group4)?,
            AddressFamily::Ipv6 => writeln!(w, "   Multicast address {}", g.vrrp_mcast_group6)?,
        }
    }
    write!(
        w,
        concat!(
            "   Gratuitous ARP delay = {}\n",
            "   Gratuitous ARP repeat = {}\n",
            "   Gratuitous ARP refresh = {}\n",
            "   Gratuitous ARP refresh repeat = {}\n",
            "   Gratuitous ARP lower priority delay = {}\n",
            "   Gratuitous ARP lower priority repeat = {}\n",
            "   Down timer adverts = {}\n",
            "   Send advert after receive lower priority advert = {}\n",
            "   Send advert after receive higher priority advert = {}\n",
            "   Virtual Router ID = {}\n",
            "   Priority = {}\n",
            "   Effective priority = {}\n"
        ),
        c.garp_master_delay_s,
        c.garp_master_repeat,
        c.garp_master_refresh_s,
        c.garp_master_refresh_repeat,
        c.garp_lower_prio_delay_s,
        c.garp_lower_prio_repeat,
        c.down_timer_adverts,
        yes_no(c.lower_prio_no_advert, "false", "true"),
        c.higher_prio_send_advert,
        c.virtual_router_id,
        r.base_priority(id).unwrap_or(c.priority),
        eff,
    )?;
    match c.version {
        VrrpVersion::V2 => writeln!(w, "   Advert interval = {} sec", c.advert_int_cs / 100)?,
        VrrpVersion::V3 => writeln!(
            w,
            "   Advert interval = {} milli-sec",
            u32::from(c.advert_int_cs) * 10
        )?,
    }
    if state == StateKind::Backup && c.version == VrrpVersion::V3 {
        writeln!(
            w,
            "   Master advert interval = {} milli-sec",
            u32::from(master_int_cs) * 10
        )?;
    }
    writeln!(w, "   Accept = {}", yes_no(c.accept, "enabled", "disabled"))?;
    writeln!(
        w,
        "   Preempt = {}",
        yes_no(c.nopreempt, "disabled", "enabled")
    )?;
    if c.preempt_delay_ms != 0 {
        writeln!(
            w,
            "   Preempt delay = {} secs",
            SecsG(u64::from(c.preempt_delay_ms) * 1000)
        )?;
    }
    match c.authentication.auth_type {
        AuthType::None => {
            if c.version == VrrpVersion::V2 {
                writeln!(w, "   Authentication type = none")?;
            }
        }
        AuthType::Ah => writeln!(w, "   Authentication type = IPSEC_AH")?,
        AuthType::Pass => {
            writeln!(w, "   Authentication type = SIMPLE_PASSWORD")?;
            let p = &c.authentication.auth_pass;
            let n = p.iter().position(|&b| b == 0).unwrap_or(p.len());
            let pass = core::str::from_utf8(&p[..n]).unwrap_or("?");
            writeln!(w, "   Password = {pass}")?;
        }
    }
    let vips_set = state == StateKind::Master;
    for (title, list) in [
        ("Virtual IP", &c.virtual_ipaddress),
        ("Virtual IP Excluded", &c.virtual_ipaddress_excluded),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(w, "   {title} ({}):", list.len())?;
        for v in list {
            writeln!(
                w,
                "     {}{}",
                VipText {
                    vip: v,
                    default_dev: &c.interface
                },
                yes_no(vips_set, " set", "")
            )?;
        }
    }
    if c.is_unicast() {
        writeln!(w, "   Unicast Peer :")?;
        for p in &c.unicast_peer {
            writeln!(w, "     {p}")?;
        }
    }
    if !c.track_interface.is_empty() {
        writeln!(w, "   Tracked interfaces :")?;
        for t in &c.track_interface {
            write!(w, "     {} weight {}", t.ifname, t.weight)?;
            if t.reverse {
                write!(w, " reverse")?;
            }
            writeln!(w)?;
        }
    }
    let cfg = d.config;
    write_track_refs(w, "Tracked scripts", &c.track_script, &|n| {
        cfg.scripts
            .iter()
            .find(|s| s.name.as_str() == n)
            .map(|s| s.weight)
    })?;
    write_track_refs(w, "Tracked files", &c.track_file, &|n| {
        cfg.track_files
            .iter()
            .find(|s| s.name.as_str() == n)
            .map(|s| s.weight)
    })?;
    write_track_refs(w, "Tracked processes", &c.track_process, &|n| {
        cfg.track_processes
            .iter()
            .find(|s| s.name.as_str() == n)
            .map(|s| s.weight)
    })?;
    writeln!(
        w,
        "   Using smtp notification = {}",
        yes_no(c.smtp_alert, "yes", "no")
    )?;
    writeln!(w, "   Notify deleted = Fault")?;
    let n = &c.notify;
    for (word, id) in [
        ("Backup", n.notify_backup),
        ("Master", n.notify_master),
        ("Fault", n.notify_fault),
        ("Stop", n.notify_stop),
        ("Generic", n.notify),
        ("Master rx lower pri", n.notify_master_rx_lower_pri),
    ] {
        if let Some(cmd) = d.config.cmd(id) {
            writeln!(w, "   {word} state transition script = {cmd}")?;
        }
    }
    if let Some(fifo) = &c.notify_fifo {
        writeln!(w, "   Notify fifo = {fifo}")?;
    }
    writeln!(w, "   Notify priority changes = false")
}

/// The SIGUSR1 dump.
pub fn write_data<W: Write + ?Sized>(w: &mut W, d: &DumpInput<'_>) -> fmt::Result {
    write_global(w, d.config)?;
    writeln!(w, "------< VRRP Topology >------")?;
    for id in d.router.instance_ids() {
        write_instance_data(w, d, id)?;
    }
    if !d.config.sync_groups.is_empty() {
        writeln!(w, "------< VRRP Sync groups >------")?;
        for sg in &d.config.sync_groups {
            writeln!(w, " VRRP Sync Group = {}", sg.name)?;
            writeln!(w, "   VRRP member instances :")?;
            for &m in &sg.members {
                if let Some(i) = d.config.instances.get(usize::from(m)) {
                    writeln!(w, "     {}", i.name)?;
                }
            }
            if sg.sync_group_tracking_weight {
                writeln!(w, "   sync group tracking weight set")?;
            }
            writeln!(
                w,
                "   Using smtp notification = {}",
                yes_no(sg.smtp_alert, "yes", "no")
            )?;
        }
    }
    Ok(())
}

// ---- SIGRTMIN+2: JSON -------------------------------------------------------------

/// Writes `"key":` (keys are fixed ASCII words, no escaping needed).
fn key<W: Write + ?Sized>(w: &mut W, first: &mut bool, k: &str) -> fmt::Result {
    if !*first {
        w.write_char(',')?;
    }
    *first = false;
    write!(w, "\"{k}\":")
}

fn json_vips<W: Write + ?Sized>(
    w: &mut W,
    first: &mut bool,
    k: &str,
    list: &[VirtualIp],
    dev: &str,
) -> fmt::Result {
    if list.is_empty() {
        return Ok(());
    }
    key(w, first, k)?;
    w.write_char('[')?;
    for (i, v) in list.iter().enumerate() {
        if i > 0 {
            w.write_char(',')?;
        }
        json_fmt(
            w,
            format_args!(
                "{}",
                VipText {
                    vip: v,
                    default_dev: dev
                }
            ),
        )?;
    }
    w.write_char(']')
}

fn json_str_array<'a, W: Write + ?Sized>(
    w: &mut W,
    first: &mut bool,
    k: &str,
    items: impl Iterator<Item = &'a str> + Clone,
) -> fmt::Result {
    if items.clone().next().is_none() {
        return Ok(());
    }
    key(w, first, k)?;
    w.write_char('[')?;
    for (i, s) in items.enumerate() {
        if i > 0 {
            w.write_char(',')?;
        }
        write!(w, "{}", JsonStr(s))?;
    }
    w.write_char(']')
}

fn json_data<W: Write + ?Sized>(w: &mut W, d: &DumpInput<'_>, id: InstanceId) -> fmt::Result {
    let (Some(c), Some(name), Some(state)) =
        (d.instance(id), d.router.name(id), d.router.state(id))
    else {
        return Ok(());
    };
    let r = d.router;
    let lt = r.last_transition(id).map(|t| d.wall_us(t)).unwrap_or(0);
    let mi = r.master_adver_interval_cs(id).unwrap_or(c.advert_int_cs);
    // One format string for the fixed members: far less code than one
    // write per member (the binary size matters on routers).
    write!(
        w,
        concat!(
            "{{\"iname\":{},\"dont_track_primary\":{},\"skip_check_adv_addr\":{},",
            "\"strict_mode\":{},\"ifp_ifname\":{},\"master_priority\":{},",
            "\"last_transition\":{},\"garp_delay\":{},\"garp_refresh\":{},",
            "\"garp_rep\":{},\"garp_refresh_rep\":{},\"garp_lower_prio_delay\":{},",
            "\"garp_lower_prio_rep\":{},\"lower_prio_no_advert\":{},",
            "\"higher_prio_send_advert\":{},\"vrid\":{},\"base_priority\":{},",
            "\"effective_priority\":{},\"vipset\":{},\"promote_secondaries\":false,",
            "\"adver_int\":{},\"master_adver_int\":{},\"accept\":{},\"nopreempt\":{},",
            "\"preempt_delay\":{},\"state\":{},\"wantstate\":{},\"version\":{},",
            "\"smtp_alert\":{},\"notify_deleted\":false"
        ),
        JsonStr(name),
        u8::from(c.dont_track_primary),
        u8::from(c.skip_check_adv_addr),
        u8::from(d.config.global_defs.vrrp_strict),
        JsonStr(&c.interface),
        r.master_priority(id).unwrap_or(0),
        SecsF(lt),
        SecsG(u64::from(c.garp_master_delay_s) * 1_000_000),
        c.garp_master_refresh_s,
        c.garp_master_repeat,
        c.garp_master_refresh_repeat,
        c.garp_lower_prio_delay_s,
        c.garp_lower_prio_repeat,
        u8::from(c.lower_prio_no_advert),
        u8::from(c.higher_prio_send_advert),
        c.virtual_router_id,
        r.base_priority(id).unwrap_or(c.priority),
        r.effective_priority(id).unwrap_or(c.priority),
        state == StateKind::Master,
        SecsG(u64::from(c.advert_int_cs) * 10_000),
        SecsG(u64::from(mi) * 10_000),
        u8::from(c.accept),
        c.nopreempt,
        // keepalived 2.2.7: `preempt_delay / TIMER_HZ` as an unsigned
        // integer (vrrp_json.c): whole seconds, the fraction dropped.
        c.preempt_delay_ms / 1000,
        state_number(state),
        state_number(state),
        version_number(c.version),
        c.smtp_alert,
    )?;
    let f = &mut false;
    let n = &c.notify;
    for (k, id) in [
        ("script_backup", n.notify_backup),
        ("script_master", n.notify_master),
        ("script_fault", n.notify_fault),
        ("script_stop", n.notify_stop),
        ("script", n.notify),
        ("script_master_rx_lower_pri", n.notify_master_rx_lower_pri),
    ] {
        if let Some(cmd) = d.config.cmd(id) {
            key(w, f, k)?;
            write!(w, "{}", JsonStr(cmd))?;
        }
    }
    json_vips(w, f, "vips", &c.virtual_ipaddress, &c.interface)?;
    json_vips(w, f, "evips", &c.virtual_ipaddress_excluded, &c.interface)?;
    json_str_array(
        w,
        f,
        "track_ifp",
        c.track_interface.iter().map(|t| t.ifname.as_str()),
    )?;
    let cfg = d.config;
    // keepalived lists the scripts' commands and the processes' names.
    json_str_array(
        w,
        f,
        "track_script",
        c.track_script.iter().map(|t| {
            cfg.scripts
                .iter()
                .find(|s| s.name == t.name)
                .map(|s| s.script.as_str())
                .unwrap_or(t.name.as_str())
        }),
    )?;
    json_str_array(
        w,
        f,
        "track_process",
        c.track_process.iter().map(|t| {
            cfg.track_processes
                .iter()
                .find(|p| p.name == t.name)
                .and_then(|p| p.process.split_whitespace().next())
                .unwrap_or(t.name.as_str())
        }),
    )?;
    key(w, f, "auth_type")?;
    let at = match c.authentication.auth_type {
        AuthType::None => 0,
        AuthType::Pass => 1,
        AuthType::Ah => 2,
    };
    write!(w, "{at}")?;
    // keepalived also writes the PASS string (`auth_data`); keepvip does
    // not put secrets in a file LuCI shows.
    w.write_char('}')
}

/// The `stats` object of one instance.
pub fn write_json_stats<W: Write + ?Sized>(w: &mut W, s: &Stats) -> fmt::Result {
    write!(
        w,
        concat!(
            "{{\"advert_rcvd\":{},\"advert_sent\":{},\"become_master\":{},",
            "\"release_master\":{},\"packet_len_err\":{},\"advert_interval_err\":{},",
            "\"ip_ttl_err\":{},\"invalid_type_rcvd\":{},\"addr_list_err\":{},",
            "\"invalid_authtype\":{},\"authtype_mismatch\":{},\"auth_failure\":{},",
            "\"pri_zero_rcvd\":{},\"pri_zero_sent\":{}}}"
        ),
        s.advert_rcvd,
        s.advert_sent,
        s.become_master,
        s.release_master,
        s.packet_len_err,
        s.advert_interval_err,
        s.ip_ttl_err,
        s.invalid_type_rcvd,
        s.addr_list_err,
        s.invalid_authtype,
        s.authtype_mismatch,
        s.auth_failure,
        s.pri_zero_rcvd,
        s.pri_zero_sent,
    )
}

/// The JSON dump (keepalived's `json_version 1`): `[{"data":{..},"stats":{..}},...]`
/// followed by a newline.
pub fn write_json<W: Write + ?Sized>(w: &mut W, d: &DumpInput<'_>) -> fmt::Result {
    write_json_with(w, d, None)
}

/// Writes one instance's extra JSON value (see [`write_json_with`]).
pub type JsonExtra<'a, W> = &'a dyn Fn(&mut W, InstanceId) -> fmt::Result;

/// [`write_json`], with `extra` adding a `"keepvip":VALUE` member after
/// `"stats"` in every element (`keepvip status --json`; JSON readers of
/// keepalived's schema ignore unknown members).
pub fn write_json_with<W: Write + ?Sized>(
    w: &mut W,
    d: &DumpInput<'_>,
    extra: Option<JsonExtra<'_, W>>,
) -> fmt::Result {
    w.write_char('[')?;
    let mut first = true;
    for id in d.router.instance_ids() {
        let Some(s) = d.router.stats(id) else {
            continue;
        };
        if !first {
            w.write_char(',')?;
        }
        first = false;
        w.write_str("{\"data\":")?;
        json_data(w, d, id)?;
        w.write_str(",\"stats\":")?;
        write_json_stats(w, s)?;
        if let Some(extra) = extra {
            w.write_str(",\"keepvip\":")?;
            extra(w, id)?;
        }
        w.write_char('}')?;
    }
    w.write_str("]\n")
}

/// An optional address as text, `-` when absent; honours width/alignment
/// (for tables).
pub struct AddrOrDash(pub Option<IpAddr>);

impl fmt::Display for AddrOrDash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => {
                let mut b: heapless::String<48> = heapless::String::new();
                write!(b, "{a}")?;
                f.pad(&b)
            }
            None => f.pad("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heapless::String;

    fn s<T: fmt::Display>(t: T) -> String<128> {
        let mut b = String::new();
        write!(b, "{t}").unwrap();
        b
    }

    #[test]
    fn ctime_matches_keepalived_dump() {
        // From keepalived-2.4.3-dumps.txt (host in UTC).
        assert_eq!(
            s(CTime(1_795_315_072_341_686)).as_str(),
            "Sun Nov 22 02:37:52.341686 2026"
        );
        assert_eq!(s(CTime(0)).as_str(), "Thu Jan  1 00:00:00.000000 1970");
        // Leap day.
        assert_eq!(
            s(CTime(951_782_400_000_000)).as_str(),
            "Tue Feb 29 00:00:00.000000 2000"
        );
    }

    #[test]
    fn seconds_formats() {
        assert_eq!(
            s(SecsF(1_795_315_072_341_686)).as_str(),
            "1795315072.341686"
        );
        assert_eq!(s(SecsF(0)).as_str(), "0.000000");
        assert_eq!(s(SecsG(1_000_000)).as_str(), "1");
        assert_eq!(s(SecsG(500_000)).as_str(), "0.5");
        assert_eq!(s(SecsG(40_950_000)).as_str(), "40.95");
        assert_eq!(s(SecsG(10_000)).as_str(), "0.01");
        assert_eq!(s(SecsG(0)).as_str(), "0");
    }

    #[test]
    fn json_escaping() {
        assert_eq!(s(JsonStr("a\"b\\c")).as_str(), r#""a\"b\\c""#);
        assert_eq!(s(JsonStr("x\ny\t\u{1}")).as_str(), r#""x\ny\t\u0001""#);
        assert_eq!(s(JsonStr("é/ok")).as_str(), "\"é/ok\"");
        assert_eq!(s(JsonStr("")).as_str(), "\"\"");
    }

    #[test]
    fn lateness_texts() {
        let mut l = Lateness::default();
        assert_eq!(s(LatenessText(&l)).as_str(), "no timed adverts");
        let mut j: heapless::String<256> = heapless::String::new();
        write_json_lateness(&mut j, &l).unwrap();
        assert_eq!(
            j.as_str(),
            "{\"count\":0,\"max_us\":0,\"mean_us\":null,\"p50_us\":null,\"p99_us\":null,\"bounds_us\":[50,100,200,500,1000,2000,5000,10000,20000,50000,100000,1000000],\"buckets\":[0,0,0,0,0,0,0,0,0,0,0,0,0]}"
        );
        for _ in 0..99 {
            l.record(40);
        }
        l.record(6_789);
        assert_eq!(
            s(LatenessText(&l)).as_str(),
            "100 timed adverts, max 6.789 ms, p99 <= 0.050 ms, mean 0.107 ms, 1 over 5.000 ms"
        );
        assert_eq!(
            s(format_args!("[{:>10}]", UsAsMs(312))).as_str(),
            "[  0.312 ms]"
        );
        j.clear();
        write_json_lateness(&mut j, &l).unwrap();
        assert!(
            j.starts_with(
                "{\"count\":100,\"max_us\":6789,\"mean_us\":107,\"p50_us\":50,\"p99_us\":50,"
            ),
            "{j}"
        );
        assert!(
            j.ends_with("\"buckets\":[99,0,0,0,0,0,0,1,0,0,0,0,0]}"),
            "{j}"
        );
    }

    #[test]
    fn alloc_texts() {
        use crate::sys::alloc::AllocCount;
        let u = AllocUsage {
            startup: AllocCount {
                count: 1234,
                bytes: 567_890,
            },
            since_startup: AllocCount { count: 0, bytes: 0 },
        };
        let mut b: heapless::String<256> = heapless::String::new();
        write_allocs_line(&mut b, Some(&u)).unwrap();
        assert_eq!(
            b.as_str(),
            "Heap allocations: 0 (0 bytes) since start-up, 1234 (567890 bytes) during start-up\n"
        );
        b.clear();
        write_allocs_line(&mut b, None).unwrap();
        assert_eq!(b.as_str(), "");
        write!(b, "{}", AllocJson(Some(&u))).unwrap();
        assert_eq!(
            b.as_str(),
            "{\"since_startup\":{\"count\":0,\"bytes\":0},\"startup\":{\"count\":1234,\"bytes\":567890}}"
        );
        b.clear();
        write!(b, "{}", AllocJson(None)).unwrap();
        assert_eq!(b.as_str(), "null");
    }

    #[test]
    fn paths_and_states() {
        assert_eq!(dump_paths(false).json, "/tmp/keepvip.json");
        assert_eq!(dump_paths(true).json, "/tmp/keepalived.json");
        assert_eq!(dump_paths(true).data, "/tmp/keepalived.data");
        assert_eq!(dump_paths(true).stats, "/tmp/keepalived.stats");
        assert_eq!(state_number(StateKind::Initialize), 0);
        assert_eq!(state_number(StateKind::Backup), 1);
        assert_eq!(state_number(StateKind::Master), 2);
        assert_eq!(state_number(StateKind::Fault), 3);
        assert_eq!(s(scope_name(253)).as_str(), "link");
        assert_eq!(s(scope_name(7)).as_str(), "7");
    }
}
