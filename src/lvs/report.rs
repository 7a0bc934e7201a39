//! The LVS part of `keepvip status` and of the SIGUSR1 data dump.
//!
//! The status table lists every real server (with its virtual server) and
//! every checker under it; the data dump follows the layout of keepalived's
//! checker dump (`------< LVS Topology >------`, `VS VIP = ...`, `RIP = ...`,
//! `------< Health checkers >------`).

use core::fmt::{self, Write};

use super::ipvs::{Table, service_spec};
use super::{CheckerState, Lvs};
use crate::config::Config;
use crate::config::lvs::{CheckerKind, Trio};
use crate::time::{Duration, Instant};

/// What the report reads besides the configuration.
#[derive(Clone, Copy)]
pub struct LvsView<'a> {
    pub lvs: &'a Lvs,
    /// The IPVS table as installed; `None` when the kernel has no IPVS.
    pub installed: Option<&'a Table>,
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn checker_word(st: &CheckerState) -> &'static str {
    if !st.has_run {
        if st.is_up { "init" } else { "init-down" }
    } else if st.is_up {
        "up"
    } else {
        "down"
    }
}

/// Whole seconds, with a unit.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_millis() / 1000;
        let t = if s >= 3600 {
            let mut b: heapless::String<16> = heapless::String::new();
            write!(b, "{}h{:02}m", s / 3600, s % 3600 / 60)?;
            b
        } else if s >= 60 {
            let mut b: heapless::String<16> = heapless::String::new();
            write!(b, "{}m{:02}s", s / 60, s % 60)?;
            b
        } else {
            let mut b: heapless::String<16> = heapless::String::new();
            write!(b, "{s}s")?;
            b
        };
        f.pad(&t)
    }
}

/// The `keepvip status` section: a line per real server, then its checkers.
pub fn write_status(w: &mut dyn Write, cfg: &Config, v: &LvsView<'_>, now: Instant) -> fmt::Result {
    let l = &cfg.lvs;
    if !cfg!(feature = "lvs") || l.is_empty() {
        return Ok(());
    }
    writeln!(w)?;
    match v.installed {
        Some(t) => writeln!(
            w,
            "LVS: {} virtual server(s) in IPVS, {} real server entries",
            t.services.len(),
            t.dests.len()
        )?,
        None => writeln!(
            w,
            "LVS: IPVS not available in this kernel (health checkers only)"
        )?,
    }
    writeln!(
        w,
        "{:28}  {:28}  {:5}  {:>6}  {:4}  {:>7}  {:>8}  {:>8}",
        "VIRTUAL SERVER", "REAL SERVER", "STATE", "WEIGHT", "IPVS", "QUORUM", "SINCE", "FAILS"
    )?;
    for (vi, vs) in l.virtual_servers.iter().enumerate() {
        let vst = v.lvs.virtual_servers.get(vi).copied().unwrap_or_default();
        let key = service_spec(vs).key;
        let in_ipvs = v.installed.is_some_and(|t| t.service(&key).is_some());
        let mut vt: heapless::String<64> = heapless::String::new();
        let _ = write!(vt, "{}", vs.trio());
        for (i, rs) in l.real_servers_of(vi).iter().enumerate() {
            let r = usize::from(vs.rs_first) + i;
            let Some(st) = v.lvs.real_servers.get(r) else {
                continue;
            };
            let mut rt: heapless::String<64> = heapless::String::new();
            let _ = write!(
                rt,
                "{}",
                Trio {
                    addr: rs.addr,
                    protocol: vs.protocol,
                    port: rs.port
                }
            );
            let ipvs = match v.installed {
                None => "-",
                Some(t) => match t
                    .dests
                    .iter()
                    .find(|d| d.svc == key && d.spec.addr == rs.addr && d.spec.port == rs.port)
                {
                    Some(d) if d.spec.weight == 0 => "w0",
                    Some(_) => "yes",
                    None => "no",
                },
            };
            let fails: u64 = (0..usize::from(rs.checker_count))
                .filter_map(|k| v.lvs.checkers.get(usize::from(rs.checker_first) + k))
                .map(|c| c.failures)
                .sum();
            write!(
                w,
                "{:28}  {:28}  {:5}  {:>6}  {:4}  {:>7}  ",
                vt.as_str(),
                rt.as_str(),
                if st.alive { "up" } else { "down" },
                st.weight,
                ipvs,
                if !in_ipvs && v.installed.is_some() {
                    "-"
                } else if vst.quorum_up {
                    "up"
                } else {
                    "down"
                }
            )?;
            match st.last_change {
                Some(t) => write!(w, "{:>8}", Secs(now.saturating_duration_since(t)))?,
                None => write!(w, "{:>8}", "-")?,
            }
            writeln!(w, "  {fails:>8}")?;
            for k in 0..usize::from(rs.checker_count) {
                let ci = usize::from(rs.checker_first) + k;
                let (Some(c), Some(cs)) = (l.checkers.get(ci), v.lvs.checkers.get(ci)) else {
                    continue;
                };
                let (ta, tp) = l.target(ci).unwrap_or((rs.addr, rs.port));
                write!(w, "    {} ", c.kind.keyword())?;
                match &c.kind {
                    CheckerKind::Misc(m) => write!(w, "{}", m.misc_path)?,
                    CheckerKind::Http(h) => {
                        write!(w, "[{ta}]:{tp}")?;
                        for u in &h.urls {
                            write!(w, " {}", u.path)?;
                        }
                    }
                    CheckerKind::Tcp => write!(w, "[{ta}]:{tp}")?,
                }
                writeln!(
                    w,
                    ": {} ({} probes, {} failed)",
                    checker_word(cs),
                    cs.probes,
                    cs.failures
                )?;
            }
        }
        if vs.rs_count == 0 {
            writeln!(w, "{:28}  (no real server)", vt.as_str())?;
        }
    }
    Ok(())
}

/// keepalived's checker data dump, the parts keepvip has.
pub fn write_data(w: &mut dyn Write, cfg: &Config, v: &LvsView<'_>) -> fmt::Result {
    let l = &cfg.lvs;
    if !cfg!(feature = "lvs") || l.is_empty() {
        return Ok(());
    }
    writeln!(w, "------< LVS Topology >------")?;
    writeln!(
        w,
        " IPVS = {}",
        if v.installed.is_some() {
            "available"
        } else {
            "not available (health checkers only)"
        }
    )?;
    for (vi, vs) in l.virtual_servers.iter().enumerate() {
        let st = v.lvs.virtual_servers.get(vi).copied().unwrap_or_default();
        writeln!(w, " ------< Virtual server >------")?;
        writeln!(w, " VS VIP = {}, VPORT = {}", vs.addr, vs.port)?;
        writeln!(
            w,
            "   Address family = inet{}",
            if vs.addr.is_ipv4() { "" } else { "6" }
        )?;
        writeln!(
            w,
            "   delay_loop = {}",
            crate::dump::SecsF(vs.delay_loop_us)
        )?;
        writeln!(w, "   lvs_sched = {}", vs.lb_algo)?;
        if vs.persistence_timeout_s > 0 {
            writeln!(w, "   persistence timeout = {}", vs.persistence_timeout_s)?;
        }
        writeln!(
            w,
            "   protocol = {}",
            vs.protocol.name().to_ascii_uppercase_str()
        )?;
        writeln!(
            w,
            "   alpha is {}",
            if vs.defaults.alpha == Some(true) {
                "ON"
            } else {
                "OFF"
            }
        )?;
        writeln!(w, "   omega is {}", if vs.omega { "ON" } else { "OFF" })?;
        writeln!(
            w,
            "   quorum = {}, hysteresis = {}",
            vs.quorum, vs.hysteresis
        )?;
        writeln!(w, "   default forwarding method = {}", vs.lb_kind.name())?;
        if let Some(s) = vs.sorry_server {
            writeln!(
                w,
                "   sorry server = {}",
                Trio {
                    addr: s.addr,
                    protocol: vs.protocol,
                    port: s.port
                }
            )?;
            writeln!(
                w,
                "     Inhibit on failure is {}",
                if s.inhibit { "ON" } else { "OFF" }
            )?;
        }
        writeln!(w, "   quorum_state_up = {}", u8::from(st.quorum_up))?;
        if let Some(i) = vs.owner.and_then(|o| cfg.instances.get(usize::from(o))) {
            writeln!(w, "   VRRP instance = {}", i.name)?;
        }
        for (i, rs) in l.real_servers_of(vi).iter().enumerate() {
            let r = usize::from(vs.rs_first) + i;
            let rst = v.lvs.real_servers.get(r).copied().unwrap_or_default();
            writeln!(w, "   ------< Real server >------")?;
            writeln!(
                w,
                "   RIP = {}, RPORT = {}, WEIGHT = {} EFF WEIGHT = {}",
                rs.addr, rs.port, rs.weight, rst.weight
            )?;
            writeln!(w, "   forwarding method = {}", rs.lb_kind.name())?;
            writeln!(
                w,
                "   Inhibit on failure is {}",
                if rs.inhibit_on_failure { "ON" } else { "OFF" }
            )?;
            if let Some(c) = cfg.cmd(rs.notify_up) {
                writeln!(w, "     RS up notify script = {c}")?;
            }
            if let Some(c) = cfg.cmd(rs.notify_down) {
                writeln!(w, "     RS down notify script = {c}")?;
            }
            writeln!(w, "   alive = {}", u8::from(rst.alive))?;
            writeln!(w, "   num failed checkers = {}", rst.num_failed)?;
        }
    }
    writeln!(w, "------< Health checkers >------")?;
    for (ci, c) in l.checkers.iter().enumerate() {
        let Some(cs) = v.lvs.checkers.get(ci) else {
            continue;
        };
        let rs = &l.real_servers[usize::from(c.rs)];
        let vs = &l.virtual_servers[usize::from(rs.vs)];
        writeln!(
            w,
            " {} -> {}",
            vs.trio(),
            Trio {
                addr: rs.addr,
                protocol: vs.protocol,
                port: rs.port
            }
        )?;
        writeln!(w, "   Keepalive method = {}", c.kind.keyword())?;
        writeln!(w, "   Enabled = {}", yes_no(cs.enabled))?;
        writeln!(w, "   Up = {}", yes_no(cs.is_up))?;
        writeln!(w, "   Has run = {}", yes_no(cs.has_run))?;
        writeln!(w, "   Alpha = {}", yes_no(c.alpha))?;
        writeln!(w, "   Delay loop = {} us", c.delay_loop_us)?;
        writeln!(w, "   Warmup = {} us", c.warmup_us)?;
        writeln!(w, "   Retries = {}", c.retry)?;
        if c.retry > 0 {
            writeln!(w, "   Delay before retry = {} us", c.delay_before_retry_us)?;
            writeln!(w, "   Retries iterations = {}", cs.retry_it)?;
        }
        if !matches!(c.kind, CheckerKind::Misc(_))
            && let Some((a, p)) = l.target(ci)
        {
            writeln!(w, "   Connection")?;
            if a.is_ipv4() {
                writeln!(w, "     Dest = {a}:{p}")?;
            } else {
                writeln!(w, "     Dest = [{a}]:{p}")?;
            }
            writeln!(
                w,
                "     Timeout = {}",
                crate::dump::SecsF(c.connect_timeout_us)
            )?;
        }
        match &c.kind {
            CheckerKind::Http(h) => {
                for u in &h.urls {
                    writeln!(w, "   Checked url = {}", u.path)?;
                    if let Some(d) = &u.digest {
                        writeln!(w, "     digest = {}", super::http::hex_digest(d))?;
                    }
                    writeln!(w, "     HTTP Status Code(s)")?;
                    for (a, b) in u.status_code.ranges() {
                        if a == b {
                            writeln!(w, "       {a}")?;
                        } else {
                            writeln!(w, "       {a}-{b}")?;
                        }
                    }
                }
            }
            CheckerKind::Misc(m) => {
                writeln!(w, "   Keepalive method = MISC_CHECK")?;
                writeln!(w, "   script = {}", m.misc_path)?;
                match m.misc_timeout_s {
                    Some(t) => writeln!(w, "   timeout = {t}")?,
                    None => writeln!(w, "   timeout = {}", crate::dump::SecsF(vs.delay_loop_us))?,
                }
                writeln!(w, "   dynamic = {}", yes_no(m.misc_dynamic))?;
            }
            CheckerKind::Tcp => {}
        }
    }
    Ok(())
}

/// Upper-case of a short ASCII word without allocating.
trait AsciiUpper {
    fn to_ascii_uppercase_str(&self) -> heapless::String<8>;
}

impl AsciiUpper for str {
    fn to_ascii_uppercase_str(&self) -> heapless::String<8> {
        let mut s = heapless::String::new();
        for c in self.chars() {
            let _ = s.push(c.to_ascii_uppercase());
        }
        s
    }
}
