//! The receive path: read the VRRP sockets (bounded per wakeup), parse,
//! demultiplex to an instance, hand the advert to the core.
//!
//! `auth_type AH` (IP protocol 51): the shell only finds the instance from
//! the unauthenticated VRID ([`ah::peek_vrid`]) and checks the unicast
//! peer; verification (ICV, SPI), the VRRP parse and the sequence counter
//! are the core's ([`Router::handle_ah_advert`]).

use core::net::IpAddr;

use super::exec::{self, Io};
use super::iface::Iface;
use crate::config::model::{AddressFamily, Config, VrrpVersion};
use crate::sys::vrrp_sock::{RX_BURST_MAX, RecvError};
use crate::time::Instant;
use crate::vrrp::{Actions, DropLog, DropReason, InstanceId, Router};
use crate::wire::Error as WireError;
use crate::wire::ah;
use crate::wire::ipv4::parse_ipv4_vrrp;
use crate::wire::vrrp::{self as wvrrp, ChecksumMode};

/// Whether a per-packet debug line about interface `f` may be written at
/// `now`: like the core's drop log, at most
/// [`DROP_LOG_PER_SEC`](crate::vrrp::instance::DROP_LOG_PER_SEC) lines per
/// second per interface; the others are only counted (the drop counters
/// have them all) and their number is logged when the next second opens.
/// With `-D` off nothing is logged and no budget is spent.
fn rx_debug(f: &mut Iface, now: Instant) -> bool {
    if !log::log_enabled!(log::Level::Debug) {
        return false;
    }
    rx_budget(&mut f.rx_log, &f.name, now)
}

fn rx_budget(budget: &mut DropLog, ifname: &str, now: Instant) -> bool {
    let (loud, missed) = budget.begin(now);
    if missed > 0 {
        debug!(
            "{} more dropped packets on {} not logged in the last second (see the drop counters)",
            missed, ifname
        );
    }
    budget.record(loud);
    loud
}

/// The core's name for a wire parse error.
pub fn drop_reason(e: WireError) -> DropReason {
    DropReason::from_wire(e)
}

/// What one received packet turned into (on the stack, never boxed).
#[allow(clippy::large_enum_variant)]
enum Rx {
    Advert {
        id: InstanceId,
        src: IpAddr,
        ttl: u8,
        repr: wvrrp::Repr,
    },
    /// An AH datagram (in `io.rx[..len]`) for instance `id`, not verified yet.
    AhDatagram {
        id: InstanceId,
        len: usize,
    },
    Dropped,
}

/// Reads up to [`RX_BURST_MAX`] packets from each readable VRRP socket on
/// interface `ifi` and feeds them to the router, executing the actions of
/// each advert (notifications last, by `hooks`) before the next.
#[allow(clippy::too_many_arguments)]
pub fn read_iface(
    io: &mut Io,
    ifi: usize,
    v6: bool,
    now: Instant,
    cfg: &Config,
    router: &mut Router,
    actions: &mut Actions,
    hooks: &mut super::hooks::Hooks,
) {
    for _ in 0..RX_BURST_MAX {
        let rx = if v6 {
            recv6(io, ifi, now, cfg, router)
        } else {
            recv4(io, ifi, now, cfg, router)
        };
        match rx {
            None => break,
            Some(Rx::Dropped) => {}
            Some(Rx::Advert { id, src, ttl, repr }) => {
                router.handle_advert(now, id, src, ttl, &repr, actions);
                exec::run_actions(io, cfg, router, actions, now);
                hooks.notify(cfg, actions, now);
                actions.clear();
            }
            Some(Rx::AhDatagram { .. }) => {}
        }
    }
}

/// Reads up to [`RX_BURST_MAX`] datagrams from the IPv4 AH socket of
/// interface `ifi` and hands each to the instance its VRID names.
pub fn read_iface_ah(
    io: &mut Io,
    ifi: usize,
    now: Instant,
    cfg: &Config,
    router: &mut Router,
    actions: &mut Actions,
) {
    for _ in 0..RX_BURST_MAX {
        match recv_ah(io, ifi, now, cfg, router) {
            None => break,
            Some(Rx::Dropped) => {}
            Some(Rx::AhDatagram { id, len }) => {
                let datagram = io.rx.get(..len).unwrap_or(&[]);
                router.handle_ah_advert(now, id, datagram, actions);
                exec::run_actions(io, cfg, router, actions, now);
                actions.clear();
            }
            Some(Rx::Advert { .. }) => {}
        }
    }
}

fn recv_ah(io: &mut Io, ifi: usize, now: Instant, cfg: &Config, router: &mut Router) -> Option<Rx> {
    let Io { ifaces, rx, .. } = io;
    let f = ifaces.get(ifi)?;
    let (sock, _) = f.sock_ah.as_ref()?;
    let r = match sock.recv(&mut rx[..]) {
        Ok(r) => r,
        Err(e) => return sock_drop(io, ifi, e, now),
    };
    let pkt = io.rx.get(..r.len).unwrap_or(&[]);
    let f = io.ifaces.get_mut(ifi)?;
    let src = IpAddr::V4(r.src);
    let Some(vrid) = ah::peek_vrid(pkt) else {
        if rx_debug(f, now) {
            debug!("dropped AH packet from {} on {}: truncated", src, f.name);
        }
        router.record_drop(None, DropReason::PacketLen);
        return Some(Rx::Dropped);
    };
    let Some(id) = router.find_instance(&f.name, AddressFamily::Ipv4, vrid) else {
        io.stats.rx_unknown_vrid = io.stats.rx_unknown_vrid.saturating_add(1);
        router.record_drop(None, DropReason::Vrid);
        if f.first_unknown_vrid(vrid) {
            debug!(
                "received AH advert for VRID {} on {} from {}: no such instance (counted, logged once)",
                vrid, f.name, src
            );
        }
        return Some(Rx::Dropped);
    };
    let c = cfg.instances.get(id.index())?;
    if c.is_unicast() && !c.unicast_peer.contains(&src) {
        io.stats.rx_not_peer = io.stats.rx_not_peer.saturating_add(1);
        if rx_debug(f, now) {
            debug!(
                "({}) dropped AH advert from {}: not a unicast_peer",
                c.name, src
            );
        }
        return Some(Rx::Dropped);
    }
    Some(Rx::AhDatagram { id, len: r.len })
}

fn sock_drop(io: &mut Io, ifi: usize, e: RecvError, now: Instant) -> Option<Rx> {
    match e {
        RecvError::WouldBlock => None,
        RecvError::Drop(d) => {
            io.stats.rx_socket_drops = io.stats.rx_socket_drops.saturating_add(1);
            let f = io.ifaces.get_mut(ifi)?;
            if rx_debug(f, now) {
                debug!("dropped packet on {}: {}", f.name, d);
            }
            Some(Rx::Dropped)
        }
        RecvError::Io(err) => {
            io.stats.socket_errors = io.stats.socket_errors.saturating_add(1);
            let f = io.ifaces.get_mut(ifi)?;
            if rx_debug(f, now) {
                debug!("receive error on {}: {}", f.name, super::errno::IoErr(&err));
            }
            None
        }
    }
}

fn recv4(io: &mut Io, ifi: usize, now: Instant, cfg: &Config, router: &mut Router) -> Option<Rx> {
    let Io { ifaces, rx, .. } = io;
    let f = ifaces.get(ifi)?;
    let (sock, _) = f.sock4.as_ref()?;
    let got = sock.recv(&mut rx[..]);
    let r = match got {
        Ok(r) => r,
        Err(e) => return sock_drop(io, ifi, e, now),
    };
    let pkt = io.rx.get(..r.len).unwrap_or(&[]);
    let vrid = pkt.get(r.header_len + 1).copied();
    let src = IpAddr::V4(r.src);
    let parsed = parse_ipv4_vrrp(pkt);
    finish(
        io,
        ifi,
        now,
        cfg,
        router,
        AddressFamily::Ipv4,
        src,
        r.ttl,
        vrid,
        parsed.map(|(_, repr, mode)| (repr, mode)),
    )
}

fn recv6(io: &mut Io, ifi: usize, now: Instant, cfg: &Config, router: &mut Router) -> Option<Rx> {
    let Io { ifaces, rx, .. } = io;
    let f = ifaces.get(ifi)?;
    let (sock, _) = f.sock6.as_ref()?;
    let got = sock.recv(&mut rx[..]);
    let r = match got {
        Ok(r) => r,
        Err(e) => return sock_drop(io, ifi, e, now),
    };
    let pkt = io.rx.get(..r.len).unwrap_or(&[]);
    let vrid = pkt.get(1).copied();
    let src = IpAddr::V6(r.src);
    // The kernel strips the IPv6 header: the pseudo-header comes from the
    // addresses recvmsg reported.
    let mode = ChecksumMode::PseudoHeader {
        src,
        dst: IpAddr::V6(r.dst),
    };
    let parsed = wvrrp::Repr::parse(
        &wvrrp::Packet::new_unchecked(pkt),
        AddressFamily::Ipv6,
        mode,
    )
    .map(|repr| (repr, mode));
    finish(
        io,
        ifi,
        now,
        cfg,
        router,
        AddressFamily::Ipv6,
        src,
        r.hop_limit,
        vrid,
        parsed,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    io: &mut Io,
    ifi: usize,
    now: Instant,
    cfg: &Config,
    router: &mut Router,
    family: AddressFamily,
    src: IpAddr,
    ttl: u8,
    vrid: Option<u8>,
    parsed: Result<(wvrrp::Repr, ChecksumMode), WireError>,
) -> Option<Rx> {
    let f = io.ifaces.get_mut(ifi)?;
    let id = vrid.and_then(|v| router.find_instance(&f.name, family, v));
    let (repr, mode) = match parsed {
        Ok(p) => p,
        Err(e) => {
            if rx_debug(f, now) {
                debug!("dropped VRRP packet from {} on {}: {}", src, f.name, e);
            }
            router.record_drop(id, drop_reason(e));
            return Some(Rx::Dropped);
        }
    };
    let Some(id) = id else {
        io.stats.rx_unknown_vrid = io.stats.rx_unknown_vrid.saturating_add(1);
        router.record_drop(None, DropReason::Vrid);
        if f.first_unknown_vrid(repr.vrid) {
            debug!(
                "received advert for VRID {} on {} from {}: no such instance (counted, logged once)",
                repr.vrid, f.name, src
            );
        }
        return Some(Rx::Dropped);
    };
    let c = cfg.instances.get(id.index())?;
    if c.is_unicast() && !c.unicast_peer.contains(&src) {
        io.stats.rx_not_peer = io.stats.rx_not_peer.saturating_add(1);
        if rx_debug(f, now) {
            debug!(
                "({}) dropped advert from {}: not a unicast_peer",
                c.name, src
            );
        }
        return Some(Rx::Dropped);
    }
    // VRRPv3 over IPv4: the checksum form must be the configured one.
    if family == AddressFamily::Ipv4 && c.version == VrrpVersion::V3 {
        let want_pseudo = !c.checksum_as_v2;
        let is_pseudo = matches!(mode, ChecksumMode::PseudoHeader { .. });
        if want_pseudo != is_pseudo {
            if rx_debug(f, now) {
                debug!(
                    "({}) dropped advert from {}: checksum {} the IPv4 pseudo-header (v3_checksum_as_v2 {})",
                    c.name,
                    src,
                    if is_pseudo { "with" } else { "without" },
                    if want_pseudo { "off" } else { "on" }
                );
            }
            router.record_drop(Some(id), DropReason::Checksum);
            return Some(Rx::Dropped);
        }
    }
    Some(Rx::Advert { id, src, ttl, repr })
}

/// Logs (info) what the receive path dropped, per instance and for
/// packets that matched no instance: one line each, nonzero counters only,
/// keepalived's counter names. Called at shutdown (and usable on demand).
pub fn log_drop_summary(cfg: &Config, router: &Router, io: &Io) {
    use core::fmt::Write;
    fn line(s: &crate::vrrp::Stats) -> heapless::String<512> {
        let mut out = heapless::String::new();
        for r in DropReason::ALL {
            let n = s.drops(r);
            if n > 0 {
                let sep = if out.is_empty() { "" } else { ", " };
                let _ = write!(out, "{sep}{} {n}", r.counter_name());
            }
        }
        out
    }
    for (idx, c) in cfg.instances.iter().enumerate() {
        let Some(s) = router.stats(InstanceId(idx as u16)) else {
            continue;
        };
        if s.drops_total() > 0 {
            info!(
                "({}) received {} advert(s), dropped {}: {}",
                c.name,
                s.advert_rcvd,
                s.drops_total(),
                line(s)
            );
        }
    }
    let g = router.global_stats();
    let st = &io.stats;
    if g.drops_total() > 0 || st.rx_socket_drops > 0 || st.rx_not_peer > 0 {
        info!(
            "packets for no instance dropped: {} ({}); before parsing: {}; not a unicast_peer: {}",
            g.drops_total(),
            line(g),
            st.rx_socket_drops,
            st.rx_not_peer
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;
    use crate::vrrp::instance::DROP_LOG_PER_SEC;

    #[test]
    fn per_packet_debug_lines_are_budgeted_per_second() {
        let mut b = DropLog::default();
        let t0 = Instant::ZERO + Duration::from_secs(7);
        // A flood: 10,000 drops within one second, 10 of them logged.
        let logged = (0..10_000u64)
            .filter(|k| rx_budget(&mut b, "eth0", t0 + Duration::from_micros(k * 90)))
            .count();
        assert_eq!(logged, DROP_LOG_PER_SEC as usize);
        // The next second opens a new window (the 9,990 others are
        // reported as a number in one line).
        let t1 = t0 + Duration::from_secs(1);
        assert!(rx_budget(&mut b, "eth0", t1));
        let logged = (0..100u64)
            .filter(|k| rx_budget(&mut b, "eth0", t1 + Duration::from_millis(k + 1)))
            .count();
        assert_eq!(logged, DROP_LOG_PER_SEC as usize - 1);
    }
}
