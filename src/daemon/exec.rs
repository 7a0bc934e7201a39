//! The I/O side of the daemon: executing the core's actions (adverts, VIPs
//! through netlink, GARP/NA), tracking netlink requests, applying netlink
//! events to the interface table, and keeping the VRRP sockets open.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use heapless::Vec;

use super::errno::{Errno, IoErr};
use super::iface::{self, Ifaces};
use super::retry::Retry;
use crate::config::model::{AddressFamily, Config, InstanceConfig, Name, VirtualIp, VrrpVersion};
use crate::limits::{MAX_INSTANCES, VRRP_PACKET_MAX};
use crate::sys::netlink::{Event, NL_PENDING_MAX, Netlink};
use crate::sys::packet_sock::PacketSocket;
use crate::sys::poll::PollTable;
use crate::sys::vrrp_sock::{VRRP_RCVBUF, Vrrp4Socket, Vrrp6Socket};
use crate::time::Instant;
use crate::vrrp::{Action, Actions, InstanceId, Router, StateKind, VipRef};
use crate::wire::ah::{HEADER_LEN as AH_HEADER_LEN, emit_ipv4_ah_vrrp};
use crate::wire::garp::{GARP_LEN, NA_LEN, emit_garp, emit_unsolicited_na};
use crate::wire::ipv4::{HEADER_LEN as IPV4_HEADER_LEN, emit_ipv4_vrrp};
use crate::wire::netlink::{AddrRequest, IFA_F_NODAD};
use crate::wire::vrrp::{self as wvrrp, ChecksumMode};

/// Outstanding netlink address requests we remember (the kernel answers
/// each one; [`Netlink`] holds at most twice [`NL_PENDING_MAX`] unanswered).
pub const VIP_OPS_MAX: usize = 2 * NL_PENDING_MAX;
/// Receive buffer: IPv4 header with options, an AH header and the largest
/// VRRP packet.
pub const RX_BUF_LEN: usize = 60 + AH_HEADER_LEN + VRRP_PACKET_MAX;
/// Transmit buffer: IPv4 header, AH header (`auth_type AH`) and the
/// largest VRRP packet.
pub const TX_BUF_LEN: usize = IPV4_HEADER_LEN + AH_HEADER_LEN + VRRP_PACKET_MAX;

/// One address request waiting for the kernel's answer.
#[derive(Clone, Debug)]
struct VipOp {
    seq: u32,
    add: bool,
    addr: IpAddr,
    inst: Name,
}

/// Counters of the shell (the core counts protocol drops).
#[derive(Clone, Copy, Debug, Default)]
pub struct ShellStats {
    pub adverts_sent: u64,
    pub advert_send_errors: u64,
    pub garps_sent: u64,
    pub garp_send_errors: u64,
    pub vip_requests: u64,
    /// Address requests the kernel refused (errno other than the benign ones).
    pub vip_errors: u64,
    /// Re-applications of an instance's VIP set after a refusal.
    pub vip_retries: u64,
    /// Replies lost (request socket overrun): outcome unknown.
    pub vip_replies_lost: u64,
    pub vips_readded: u64,
    pub netlink_malformed: u64,
    pub netlink_overruns: u64,
    /// Link/address dumps the kernel ended with an errno (each is redone).
    pub netlink_dump_aborts: u64,
    /// Received packets dropped before parsing (socket-level reasons).
    pub rx_socket_drops: u64,
    /// Unicast instance: the sender is not a configured `unicast_peer`.
    pub rx_not_peer: u64,
    /// Advert for a VRID no instance on that interface has.
    pub rx_unknown_vrid: u64,
    pub socket_errors: u64,
}

/// Everything the loop does I/O with, allocated once at start-up (boxed).
pub struct Io {
    pub nl: Box<Netlink>,
    pub packet: PacketSocket,
    pub ifaces: Ifaces,
    ops: Vec<VipOp, VIP_OPS_MAX>,
    /// Per instance (current router): a VIP vanished while master.
    pub readd: [bool; MAX_INSTANCES],
    /// Per instance: an advert send failure was logged (log once per streak).
    send_fail_logged: [bool; MAX_INSTANCES],
    /// Re-add the VIPs of every master (after a netlink overrun or a lost reply).
    pub resync: bool,
    /// Per instance (by name): the retry schedule after a refused VIP request.
    retry: Vec<(Name, Retry), MAX_INSTANCES>,
    /// An overrun happened: resync when the re-dump is done.
    overrun_seen: bool,
    /// Dumps aborted in a row (the first is logged, the streak's end too).
    dump_abort_streak: u32,
    ident: u16,
    pub rx: [u8; RX_BUF_LEN],
    tx: [u8; TX_BUF_LEN],
    frame: [u8; 128],
    pub stats: ShellStats,
}

impl Io {
    pub fn new(nl: Box<Netlink>, packet: PacketSocket) -> Box<Io> {
        Box::new(Io {
            nl,
            packet,
            ifaces: Ifaces::new(),
            ops: Vec::new(),
            readd: [false; MAX_INSTANCES],
            send_fail_logged: [false; MAX_INSTANCES],
            resync: false,
            retry: Vec::new(),
            overrun_seen: false,
            dump_abort_streak: 0,
            ident: 0,
            rx: [0; RX_BUF_LEN],
            tx: [0; TX_BUF_LEN],
            frame: [0; 128],
            stats: ShellStats::default(),
        })
    }

    /// Address requests still waiting for a reply.
    pub fn outstanding(&self) -> usize {
        self.ops.len()
    }

    /// When the next VIP retry is due (the loop wakes up for it).
    pub fn retry_deadline(&self) -> Option<Instant> {
        self.retry.iter().filter_map(|(_, r)| r.deadline()).min()
    }
}

fn inst_cfg(cfg: &Config, id: InstanceId) -> Option<&InstanceConfig> {
    cfg.instances.get(id.index())
}

/// Executes `actions` in order against the router/config they came from.
/// `now` is the loop turn's clock reading (the clock is read once per turn).
pub fn run_actions(io: &mut Io, cfg: &Config, router: &Router, actions: &Actions, now: Instant) {
    let requests = io.stats.vip_requests;
    for a in actions {
        match *a {
            Action::SendAdvert { inst, priority } => send_advert(io, cfg, router, inst, priority),
            Action::AddVips { inst } => vips(io, cfg, router, inst, true, now),
            Action::DelVips { inst } => vips(io, cfg, router, inst, false, now),
            Action::SendGarp { inst, vip } => send_garp(io, cfg, inst, vip),
            // Run by `hooks::Hooks::notify` once the batch's other actions
            // are done (notify_master sees the VIPs set).
            Action::Notify { .. }
            | Action::NotifyGroup { .. }
            | Action::MasterRxLowerPri { .. } => {}
        }
    }
    if io.stats.vip_requests != requests {
        // rtnetlink answers at once and `Netlink` has already read the
        // replies: hand them out now (a refusal produces no monitor event
        // that would wake the loop for it).
        drain_netlink(io, cfg, router, now);
    }
}

// ---------------------------------------------------------------- adverts

fn send_advert(io: &mut Io, cfg: &Config, router: &Router, id: InstanceId, priority: u8) {
    let (Some(c), Some(repr)) = (inst_cfg(cfg, id), router.advert_repr(id, priority)) else {
        return;
    };
    let Some(ifi) = iface::find(&io.ifaces, &c.interface) else {
        return;
    };
    let idx = id.index();
    let mut result: Result<(), SendError> = Ok(());
    match c.family {
        AddressFamily::Ipv4 => {
            let src = match router.src_addr(id) {
                Some(IpAddr::V4(a)) => a,
                _ => io.ifaces[ifi].v4.unwrap_or(Ipv4Addr::UNSPECIFIED),
            };
            if src.is_unspecified() {
                result = Err(SendError::NoSource);
            } else {
                let group = cfg.global_defs.vrrp_mcast_group4;
                let peers = &c.unicast_peer;
                let n = if peers.is_empty() { 1 } else { peers.len() };
                // AH: one identification and one sequence number per advert,
                // the ICV per destination (keepalived).
                let ah = router.ah_key(id).map(|(key, unicast)| {
                    io.ident = io.ident.wrapping_add(1).max(1);
                    AhTx {
                        ident: io.ident,
                        seq: router.ah_seq(id).unwrap_or(0),
                        key,
                        unicast,
                    }
                });
                for k in 0..n {
                    let dst = if peers.is_empty() {
                        group
                    } else {
                        match peers[k] {
                            IpAddr::V4(a) => a,
                            IpAddr::V6(_) => continue,
                        }
                    };
                    let r = match &ah {
                        Some(ah) => send4_ah(io, ifi, &repr, src, dst, ah),
                        None => send4(io, ifi, c, &repr, src, dst),
                    };
                    if r.is_err() {
                        result = r;
                    }
                }
            }
        }
        AddressFamily::Ipv6 => {
            let src = match router.src_addr(id) {
                Some(IpAddr::V6(a)) => Some(a),
                _ => io.ifaces[ifi].ll6,
            };
            let group = cfg.global_defs.vrrp_mcast_group6;
            let peers = &c.unicast_peer;
            let n = if peers.is_empty() { 1 } else { peers.len() };
            for k in 0..n {
                let dst = if peers.is_empty() {
                    group
                } else {
                    match peers[k] {
                        IpAddr::V6(a) => a,
                        IpAddr::V4(_) => continue,
                    }
                };
                let r = send6(io, ifi, &repr, src, dst);
                if r.is_err() {
                    result = r;
                }
            }
        }
    }
    match result {
        Ok(()) => {
            io.stats.adverts_sent = io.stats.adverts_sent.saturating_add(1);
            if let Some(f) = io.send_fail_logged.get_mut(idx) {
                *f = false;
            }
        }
        Err(e) => {
            io.stats.advert_send_errors = io.stats.advert_send_errors.saturating_add(1);
            let first = io.send_fail_logged.get(idx).is_some_and(|f| !*f);
            if let Some(f) = io.send_fail_logged.get_mut(idx) {
                *f = true;
            }
            if first {
                match e {
                    SendError::NoSource => error!(
                        "({}) cannot send advert: no usable source address on {}",
                        c.name, c.interface
                    ),
                    SendError::NoSocket => error!(
                        "({}) cannot send advert: no VRRP socket on {}",
                        c.name, c.interface
                    ),
                    SendError::Encode(w) => {
                        error!("({}) cannot build advert: {}", c.name, w)
                    }
                    SendError::Io(errno) => error!(
                        "({}) cannot send advert on {}: {}",
                        c.name,
                        c.interface,
                        Errno(errno)
                    ),
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum SendError {
    NoSource,
    NoSocket,
    Encode(crate::wire::Error),
    Io(i32),
}

fn io_errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn send4(
    io: &mut Io,
    ifi: usize,
    c: &InstanceConfig,
    repr: &wvrrp::Repr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Result<(), SendError> {
    let mode = if c.version == VrrpVersion::V3 && !c.checksum_as_v2 {
        ChecksumMode::PseudoHeader {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
        }
    } else {
        ChecksumMode::MessageOnly
    };
    io.ident = io.ident.wrapping_add(1);
    let n = emit_ipv4_vrrp(&mut io.tx, io.ident, wvrrp::TTL, src, dst, repr, mode)
        .map_err(SendError::Encode)?;
    let Some((sock, _)) = &io.ifaces[ifi].sock4 else {
        return Err(SendError::NoSocket);
    };
    sock.send(&io.tx[..n], dst)
        .map_err(|e| SendError::Io(io_errno(&e)))
}

/// What an AH advert needs besides the VRRP message.
struct AhTx {
    ident: u16,
    seq: u32,
    key: [u8; crate::wire::ah::KEY_LEN],
    unicast: bool,
}

fn send4_ah(
    io: &mut Io,
    ifi: usize,
    repr: &wvrrp::Repr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ah: &AhTx,
) -> Result<(), SendError> {
    let n = emit_ipv4_ah_vrrp(
        &mut io.tx,
        ah.ident,
        wvrrp::TTL,
        src,
        dst,
        ah.seq,
        &ah.key,
        ah.unicast,
        repr,
    )
    .map_err(SendError::Encode)?;
    let Some((sock, _)) = &io.ifaces[ifi].sock_ah else {
        return Err(SendError::NoSocket);
    };
    sock.send(&io.tx[..n], dst)
        .map_err(|e| SendError::Io(io_errno(&e)))
}

fn send6(
    io: &mut Io,
    ifi: usize,
    repr: &wvrrp::Repr,
    src: Option<Ipv6Addr>,
    dst: Ipv6Addr,
) -> Result<(), SendError> {
    let n = repr.buffer_len();
    let buf = io
        .tx
        .get_mut(..n)
        .ok_or(SendError::Encode(crate::wire::Error::BufferTooSmall {
            needed: n,
            got: TX_BUF_LEN,
        }))?;
    repr.check(AddressFamily::Ipv6).map_err(SendError::Encode)?;
    // The kernel (IPV6_CHECKSUM) recomputes the checksum with the source it
    // really uses; ours is right whenever `src` is known.
    let mode = ChecksumMode::PseudoHeader {
        src: IpAddr::V6(src.unwrap_or(Ipv6Addr::UNSPECIFIED)),
        dst: IpAddr::V6(dst),
    };
    repr.emit(&mut wvrrp::Packet::new_unchecked(&mut buf[..]), mode);
    let Some((sock, _)) = &io.ifaces[ifi].sock6 else {
        return Err(SendError::NoSocket);
    };
    sock.send(&io.tx[..n], dst, src)
        .map_err(|e| SendError::Io(io_errno(&e)))
}

// ---------------------------------------------------------------- VIPs

fn vip_at(c: &InstanceConfig, v: VipRef) -> Option<&VirtualIp> {
    match v {
        VipRef::Vip(i) => c.virtual_ipaddress.get(usize::from(i)),
        VipRef::Excluded(i) => c.virtual_ipaddress_excluded.get(usize::from(i)),
    }
}

fn vips(io: &mut Io, cfg: &Config, router: &Router, id: InstanceId, add: bool, now: Instant) {
    let Some(c) = inst_cfg(cfg, id) else { return };
    for v in c
        .virtual_ipaddress
        .iter()
        .chain(c.virtual_ipaddress_excluded.iter())
    {
        vip_request(io, cfg, router, c, v, add, now);
    }
}

/// Sends one RTM_NEWADDR/RTM_DELADDR for `v` and remembers it until the
/// kernel answers.
pub fn vip_request(
    io: &mut Io,
    cfg: &Config,
    router: &Router,
    c: &InstanceConfig,
    v: &VirtualIp,
    add: bool,
    now: Instant,
) {
    let verb = if add { "add" } else { "remove" };
    let dev = v.dev.as_ref().unwrap_or(&c.interface);
    let ifindex = iface::find(&io.ifaces, dev).map_or(0, |i| io.ifaces[i].ifindex);
    if ifindex == 0 {
        if add {
            error!(
                "({}) cannot {} VIP {}: interface {} not found",
                c.name, verb, v.addr, dev
            );
            io.stats.vip_errors = io.stats.vip_errors.saturating_add(1);
        }
        return;
    }
    let req = AddrRequest {
        ifindex,
        address: v.addr,
        prefix_len: v.prefix_len,
        broadcast: v.brd,
        scope: v.scope,
        flags: if v.addr.is_ipv6() { IFA_F_NODAD } else { 0 },
        label: v.label.as_deref(),
    };
    if io.ops.is_full() || io.nl.pending() + 1 >= NL_PENDING_MAX {
        drain_netlink(io, cfg, router, now);
    }
    let mut sent = if add {
        io.nl.add_address(&req)
    } else {
        io.nl.del_address(&req)
    };
    if matches!(&sent, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
        drain_netlink(io, cfg, router, now);
        sent = if add {
            io.nl.add_address(&req)
        } else {
            io.nl.del_address(&req)
        };
    }
    io.stats.vip_requests = io.stats.vip_requests.saturating_add(1);
    match sent {
        Ok(seq) => {
            let op = VipOp {
                seq,
                add,
                addr: v.addr,
                inst: c.name.clone(),
            };
            if io.ops.push(op).is_err() {
                // Cannot happen (drained above); the reply is then only counted.
                debug!("({}) VIP request table full", c.name);
            }
        }
        Err(e) => {
            io.stats.vip_errors = io.stats.vip_errors.saturating_add(1);
            error!("({}) cannot {} VIP {}: {}", c.name, verb, v.addr, IoErr(&e));
        }
    }
}

/// Reads netlink replies and events. Events only update the interface
/// table and set flags (`link_dirty`, `readd`, `resync`); the caller acts
/// on them at the top of the loop, so this is safe to call while actions
/// are being executed. `now` is the turn's clock reading (a refused
/// request schedules its retry from it).
pub fn drain_netlink(io: &mut Io, cfg: &Config, router: &Router, now: Instant) {
    let Io {
        nl,
        ifaces,
        ops,
        readd,
        resync,
        retry,
        overrun_seen,
        dump_abort_streak,
        stats,
        ..
    } = io;
    let r = nl.drain(|ev| match ev {
        Event::Ack { seq, errno, .. } => {
            let Some(i) = ops.iter().position(|o| o.seq == seq) else {
                if errno != 0 {
                    debug!(
                        "netlink: reply {} to no request we remember: {}",
                        seq,
                        Errno(errno.abs())
                    );
                }
                return;
            };
            let op = ops.swap_remove(i);
            ack(stats, retry, &op, errno, now);
        }
        Event::AckLost { seq } => {
            stats.vip_replies_lost = stats.vip_replies_lost.saturating_add(1);
            if let Some(i) = ops.iter().position(|o| o.seq == seq) {
                let op = ops.swap_remove(i);
                warn!(
                    "({}) netlink reply to {} VIP {} lost: outcome unknown",
                    op.inst,
                    if op.add { "add" } else { "remove" },
                    op.addr
                );
                if op.add {
                    *resync = true;
                }
            }
        }
        Event::NewLink(l) => iface::on_new_link(ifaces, &l),
        Event::DelLink(l) => iface::on_del_link(ifaces, &l),
        Event::NewAddr(a) => iface::on_new_addr(ifaces, cfg, &a),
        Event::DelAddr(a) => {
            iface::on_del_addr(ifaces, &a);
            if let Some(addr) = a.address {
                vip_vanished(ifaces, cfg, router, readd, a.ifindex, addr);
            }
        }
        Event::DumpAborted { errno } => {
            stats.netlink_dump_aborts = stats.netlink_dump_aborts.saturating_add(1);
            if *dump_abort_streak == 0 {
                warn!(
                    "Netlink: the kernel aborted the interface/address dump: {}; dumping again (further aborts in a row are only counted)",
                    Errno(errno.abs())
                );
            }
            *dump_abort_streak = dump_abort_streak.saturating_add(1);
        }
        Event::DumpDone => {
            let aborts = core::mem::take(dump_abort_streak);
            if aborts > 0 {
                info!(
                    "Netlink: interface/address dump complete after {} aborted attempt(s)",
                    aborts
                );
            }
            if *overrun_seen {
                *overrun_seen = false;
                *resync = true;
                info!("Netlink: interface and address state re-read after an overrun");
            }
        }
        Event::Overrun => {
            stats.netlink_overruns = stats.netlink_overruns.saturating_add(1);
            *overrun_seen = true;
            warn!("Netlink: monitor socket overrun, events lost: re-reading interfaces");
        }
        Event::Malformed(e) => {
            stats.netlink_malformed = stats.netlink_malformed.saturating_add(1);
            warn!("Netlink: malformed message skipped: {}", e);
        }
    });
    if let Err(e) = r {
        stats.socket_errors = stats.socket_errors.saturating_add(1);
        error!("Netlink: receive failed: {}", IoErr(&e));
    }
    // A retry whose every reply came back without a refusal ends its streak.
    retry.retain_mut(|(name, r)| {
        if ops.iter().any(|o| &o.inst == name) {
            return true;
        }
        if let Some(n) = r.settled()
            && n > 0
        {
            info!("({}) VIPs applied after {} failed attempt(s)", name, n);
        }
        !r.idle()
    });
}

/// Re-applies the VIP set of every instance whose retry is due: added as
/// master, removed otherwise (both idempotent for the kernel).
pub fn retry_vips(io: &mut Io, cfg: &Config, router: &Router, now: Instant) {
    for k in 0..io.retry.len() {
        let Some((name, r)) = io.retry.get_mut(k) else {
            break;
        };
        if !r.due(now) {
            continue;
        }
        r.sent();
        let name = name.clone();
        let Some(id) = router.find_by_name(&name) else {
            continue;
        };
        io.stats.vip_retries = io.stats.vip_retries.saturating_add(1);
        let add = router.state(id) == Some(StateKind::Master);
        debug!(
            "({}) retrying to {} its VIPs",
            name,
            if add { "add" } else { "remove" }
        );
        vips(io, cfg, router, id, add, now);
        // The replies are already read (see run_actions).
        drain_netlink(io, cfg, router, now);
    }
}

fn ack(
    stats: &mut ShellStats,
    retry: &mut Vec<(Name, Retry), MAX_INSTANCES>,
    op: &VipOp,
    errno: i32,
    now: Instant,
) {
    // The kernel reports -errno in nlmsgerr; accept either sign.
    let e = errno.abs();
    let verb = if op.add { "add" } else { "remove" };
    if e == 0 {
        return;
    }
    if op.add && e == libc::EEXIST {
        debug!("({}) VIP {} already present", op.inst, op.addr);
        return;
    }
    if !op.add && e == libc::EADDRNOTAVAIL {
        debug!("({}) VIP {} was not present", op.inst, op.addr);
        return;
    }
    stats.vip_errors = stats.vip_errors.saturating_add(1);
    let k = match retry.iter().position(|(n, _)| n == &op.inst) {
        Some(k) => k,
        None => {
            if retry.is_full() {
                retry.retain(|(_, r)| !r.idle());
            }
            if retry.push((op.inst.clone(), Retry::default())).is_err() {
                error!(
                    "({}) cannot {} VIP {}: {} (retry table full: not retried)",
                    op.inst,
                    verb,
                    op.addr,
                    Errno(e)
                );
                return;
            }
            retry.len() - 1
        }
    };
    let r = &mut retry[k].1;
    if r.failed(now) {
        let wait = r
            .deadline()
            .map_or(0, |t| t.saturating_duration_since(now).as_millis());
        error!(
            "({}) cannot {} VIP {}: {}; retrying in {} ms, then less and less often (up to every {} s); further refusals are not logged",
            op.inst,
            verb,
            op.addr,
            Errno(e),
            wait,
            super::retry::RETRY_MAX.as_millis() / 1000
        );
    } else {
        debug!(
            "({}) cannot {} VIP {}: {} (attempt {}, next in {} ms)",
            op.inst,
            verb,
            op.addr,
            Errno(e),
            r.failures(),
            r.deadline()
                .map_or(0, |t| t.saturating_duration_since(now).as_millis())
        );
    }
}

/// RTM_DELADDR of one of our VIPs on its device while the instance is
/// master: flag it for re-adding.
fn vip_vanished(
    ifaces: &Ifaces,
    cfg: &Config,
    router: &Router,
    readd: &mut [bool; MAX_INSTANCES],
    ifindex: u32,
    addr: IpAddr,
) {
    for (idx, c) in cfg.instances.iter().enumerate() {
        let id = InstanceId(idx as u16);
        if router.state(id) != Some(StateKind::Master) {
            continue;
        }
        for v in c
            .virtual_ipaddress
            .iter()
            .chain(c.virtual_ipaddress_excluded.iter())
        {
            let dev = v.dev.as_ref().unwrap_or(&c.interface);
            let same_dev = iface::find(ifaces, dev).is_some_and(|i| ifaces[i].ifindex == ifindex);
            if v.addr == addr && same_dev {
                warn!(
                    "({}) VIP {} was removed from {} while MASTER: re-adding it",
                    c.name, addr, dev
                );
                if let Some(f) = readd.get_mut(idx) {
                    *f = true;
                }
            }
        }
    }
}

/// Re-adds the VIPs of flagged masters (or of every master on `resync`).
pub fn readd_vips(io: &mut Io, cfg: &Config, router: &Router, now: Instant) {
    let all = core::mem::take(&mut io.resync);
    for idx in 0..cfg.instances.len() {
        let flagged = io.readd.get_mut(idx).map(core::mem::take).unwrap_or(false);
        let id = InstanceId(idx as u16);
        if (flagged || all) && router.state(id) == Some(StateKind::Master) {
            io.stats.vips_readded = io.stats.vips_readded.saturating_add(1);
            vips(io, cfg, router, id, true, now);
        }
    }
}

// ---------------------------------------------------------------- GARP / NA

fn send_garp(io: &mut Io, cfg: &Config, id: InstanceId, vref: VipRef) {
    let Some(c) = inst_cfg(cfg, id) else { return };
    let Some(v) = vip_at(c, vref) else { return };
    let dev = v.dev.as_ref().unwrap_or(&c.interface);
    let Some(ifi) = iface::find(&io.ifaces, dev) else {
        return;
    };
    let (ifindex, mac, router_flag) = {
        let f = &io.ifaces[ifi];
        (f.ifindex, f.mac, f.forwarding6)
    };
    let Some(mac) = mac.filter(|_| ifindex != 0) else {
        io.stats.garp_send_errors = io.stats.garp_send_errors.saturating_add(1);
        return;
    };
    let built = match v.addr {
        IpAddr::V4(a) => {
            debug!("Sending gratuitous ARP on {} for {}", dev, a);
            emit_garp(&mut io.frame, mac, a).map(|n| n.min(GARP_LEN))
        }
        IpAddr::V6(a) => {
            debug!("Sending unsolicited Neighbour Advert on {} for {}", dev, a);
            emit_unsolicited_na(&mut io.frame, mac, a, a, router_flag).map(|n| n.min(NA_LEN))
        }
    };
    let r = match built {
        Ok(n) => io
            .packet
            .send(ifindex, &io.frame[..n])
            .map_err(|e| io_errno(&e)),
        Err(_) => Err(0),
    };
    match r {
        Ok(()) => io.stats.garps_sent = io.stats.garps_sent.saturating_add(1),
        Err(e) => {
            io.stats.garp_send_errors = io.stats.garp_send_errors.saturating_add(1);
            debug!(
                "({}) gratuitous ARP/NA for {} on {} failed: {}",
                c.name,
                v.addr,
                dev,
                Errno(e)
            );
        }
    }
}

// ---------------------------------------------------------------- sockets

/// Opens, reopens or closes the VRRP sockets so that every interface that
/// needs one (present, used by an instance of that family) has one, joined
/// to the group when a multicast instance uses it.
pub fn sync_sockets(io: &mut Io, poll: &mut PollTable, cfg: &Config) {
    let g4 = cfg.global_defs.vrrp_mcast_group4;
    let g6 = cfg.global_defs.vrrp_mcast_group6;
    for f in io.ifaces.iter_mut() {
        let stale = f.reopen || f.sock_ifindex != f.ifindex;
        f.reopen = false;
        if stale {
            for slot in f.take_sockets().into_iter().flatten() {
                poll.remove(slot);
            }
            f.joined4 = None;
            f.joined6 = None;
            f.joined_ah = None;
            f.sock_ifindex = f.ifindex;
        }
        if f.ifindex == 0 {
            continue;
        }
        if f.forwarding6 != iface::ipv6_forwarding(&f.name) {
            f.forwarding6 = !f.forwarding6;
        }
        if f.want4 && f.sock4.is_none() {
            match Vrrp4Socket::open(&f.name, f.ifindex, VRRP_RCVBUF) {
                Ok(s) => match poll.add(std::os::fd::AsFd::as_fd(&s)) {
                    Ok(slot) => f.sock4 = Some((s, slot)),
                    Err(_) => error!("poll table full: no IPv4 VRRP socket on {}", f.name),
                },
                Err(e) => {
                    io.stats.socket_errors = io.stats.socket_errors.saturating_add(1);
                    error!("cannot open IPv4 VRRP socket on {}: {}", f.name, IoErr(&e));
                }
            }
        }
        if f.want_ah && f.sock_ah.is_none() {
            match Vrrp4Socket::open_ah(&f.name, f.ifindex, VRRP_RCVBUF) {
                Ok(s) => match poll.add(std::os::fd::AsFd::as_fd(&s)) {
                    Ok(slot) => f.sock_ah = Some((s, slot)),
                    Err(_) => error!("poll table full: no IPv4 AH socket on {}", f.name),
                },
                Err(e) => {
                    io.stats.socket_errors = io.stats.socket_errors.saturating_add(1);
                    error!("cannot open IPv4 AH socket on {}: {}", f.name, IoErr(&e));
                }
            }
        }
        if f.want6 && f.sock6.is_none() {
            match Vrrp6Socket::open(&f.name, f.ifindex, VRRP_RCVBUF, None) {
                Ok(s) => match poll.add(std::os::fd::AsFd::as_fd(&s)) {
                    Ok(slot) => f.sock6 = Some((s, slot)),
                    Err(_) => error!("poll table full: no IPv6 VRRP socket on {}", f.name),
                },
                Err(e) => {
                    io.stats.socket_errors = io.stats.socket_errors.saturating_add(1);
                    error!("cannot open IPv6 VRRP socket on {}: {}", f.name, IoErr(&e));
                }
            }
        }
        if let Some((s, _)) = &f.sock4 {
            let want = f.mcast4.then_some(g4);
            if f.joined4 != want {
                if let Some(old) = f.joined4.take() {
                    let _ = s.leave(old);
                }
                if let Some(g) = want {
                    match s.join(g) {
                        Ok(()) => f.joined4 = Some(g),
                        Err(e) => {
                            io.stats.socket_errors = io.stats.socket_errors.saturating_add(1);
                            error!("cannot join {} on {}: {}", g, f.name, IoErr(&e));
                        }
                    }
                }
            }
        }
        if let Some((s, _)) = &f.sock_ah {
            let want = f.mcast_ah.then_some(g4);
            if f.joined_ah != want {
                if let Some(old) = f.joined_ah.take() {
                    let _ = s.leave(old);
                }
                if let Some(g) = want {
                    match s.join(g) {
                        Ok(()) => f.joined_ah = Some(g),
                        Err(e) => {
                            io.stats.socket_errors = io.stats.socket_errors.saturating_add(1);
                            error!("cannot join {} (AH) on {}: {}", g, f.name, IoErr(&e));
                        }
                    }
                }
            }
        }
        if let Some((s, _)) = &f.sock6 {
            let want = f.mcast6.then_some(g6);
            if f.joined6 != want {
                if let Some(old) = f.joined6.take() {
                    let _ = s.leave(old);
                }
                if let Some(g) = want {
                    match s.join(g) {
                        Ok(()) => f.joined6 = Some(g),
                        Err(e) => {
                            io.stats.socket_errors = io.stats.socket_errors.saturating_add(1);
                            error!("cannot join {} on {}: {}", g, f.name, IoErr(&e));
                        }
                    }
                }
            }
        }
    }
}

/// Sets the advert source (tie-break address) of every instance without
/// `unicast_src_ip`/`mcast_src_ip` from its interface: the primary IPv4
/// address, or the IPv6 link-local.
pub fn refresh_src_addrs(io: &mut Io, cfg: &Config, router: &mut Router) {
    if !io.ifaces.iter().any(|f| f.addr_dirty) {
        return;
    }
    for (idx, c) in cfg.instances.iter().enumerate() {
        if c.unicast_src_ip.is_some() || c.mcast_src_ip.is_some() {
            continue;
        }
        let Some(f) = iface::find(&io.ifaces, &c.interface).map(|i| &io.ifaces[i]) else {
            continue;
        };
        if !f.addr_dirty {
            continue;
        }
        let a = match c.family {
            AddressFamily::Ipv4 => f.v4.map(IpAddr::V4),
            AddressFamily::Ipv6 => f.ll6.map(IpAddr::V6),
        };
        if let Some(a) = a {
            router.set_src_addr(InstanceId(idx as u16), a);
        }
    }
    for f in io.ifaces.iter_mut() {
        f.addr_dirty = false;
    }
}
