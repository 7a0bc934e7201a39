//! The whole protocol core: a `vrrp::Router` built from a small fixed
//! configuration (VRRPv2 with PASS auth, a v3 address owner, v3 over IPv6
//! with preempt_delay, a v3 nopreempt instance with a GARP burst in batches,
//! a v3 unicast instance; V6 and NP form a vrrp_sync_group; two VRRPv2
//! `auth_type AH` instances, multicast and unicast, with the key and
//! addresses of the golden captures in tests/ah_golden/) driven by a
//! sequence of inputs decoded from the fuzz input: time steps, received
//! packets (raw bytes, or adverts built from an instance's own advert and
//! then mutated, both going through bytes -> wire parse -> `handle_advert`
//! as in the daemon), AH datagrams (raw bytes optionally fixed up and
//! re-signed, adverts built with the right or a wrong key / ICV mode /
//! SPI and a chosen sequence number, replays of datagrams seen or sent
//! before; all going through `peek_vrid` -> `find_instance` ->
//! `handle_ah_advert` as in the daemon), link up/down, tracker results,
//! source address changes, start and shutdown.
//!
//! After every input the target runs a shell loop turn (`handle_timeout`
//! until the next deadline is in the future, executing the actions) and
//! checks:
//! * no panic, no `Actions` overflow;
//! * effective priority in 1..=255, equal to the base when the base is 255
//!   and at most 254 otherwise;
//! * an instance is Master iff its VIPs were requested (AddVips without a
//!   later DelVips);
//! * `poll_timeout()` is not earlier than `now` after the turn, and the
//!   turn terminates (no busy loop with a deadline stuck in the past);
//! * every action names an existing instance, every SendGarp an existing
//!   address, and every SendAdvert can be encoded and parses back (an AH
//!   one as IPv4 + AH + VRRP carrying the instance's counter, verified
//!   with its key);
//! * AH sequence counter (one per instance, shared by receive and
//!   transmit: `src/wire/ah.rs` `AhSeq`, KEEPALIVED.md (c)), checked after
//!   every core call: it moves by exactly keepalived's rules, +1 per
//!   advert sent (not past 0xFFFFFFFE), to the sequence number of a
//!   verified fresh advert (+1 for a master hearing a lower priority, then
//!   +1 for the advert it sends), and never backwards except when a cycled
//!   counter restarts at 0 on becoming master, or a master resyncs past
//!   0xFFFFFFFF; at most one AH advert per instance per call (the shell
//!   reads the counter after the call);
//! * an AH datagram that does not verify under the instance's key (wrong
//!   ICV, key, mode, SPI, a mangled header...) or whose sequence number is
//!   not above the counter (a replay), or any AH datagram for a non-AH
//!   instance, changes nothing: no action, the same state, priorities,
//!   master, timers and counter for every instance, and one more drop
//!   counted.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use keepvip::config::{AddressFamily, Config, Diagnostics, MemorySource, parse};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::{
    Action, Actions, DropReason, InstanceId, Router, StateKind, TrackState, VipRef,
};
use keepvip::wire::vrrp::{self, ChecksumMode, Packet, Repr, Version};
use keepvip::wire::{Error, ah, ipv4, ipv6};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
global_defs {
    router_id fuzz
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 2
}
vrrp_sync_group G {
    group {
        V6
        NP
    }
}
vrrp_instance V2 {
    interface eth0
    virtual_router_id 1
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    virtual_ipaddress {
        198.51.100.1/24
        198.51.100.11/24
    }
    track_interface {
        eth2 weight -30
    }
}
vrrp_instance OWN {
    interface eth0
    version 3
    virtual_router_id 2
    priority 255
    advert_int 0.5
    virtual_ipaddress {
        198.51.100.2/24
    }
    virtual_ipaddress_excluded {
        203.0.113.2/24
    }
    garp_master_refresh 1
    garp_master_refresh_repeat 2
}
vrrp_instance V6 {
    interface eth1
    version 3
    virtual_router_id 3
    priority 150
    advert_int 0.07
    preempt_delay 1.5
    virtual_ipaddress {
        fe80::3/64
        2001:db8::3/64
    }
    track_interface {
        eth2
    }
}
vrrp_instance NP {
    state BACKUP
    interface eth1
    version 3
    virtual_router_id 4
    priority 90
    nopreempt
    skip_check_adv_addr
    dont_track_primary
    advert_int 0.3
    garp_master_delay 0
    garp_master_repeat 7
    virtual_ipaddress {
        198.51.100.4/24
        198.51.100.14/24
    }
}
vrrp_instance UC {
    interface eth0
    version 3
    virtual_router_id 5
    priority 120
    advert_int 2
    unicast_src_ip 192.0.2.10
    unicast_peer {
        192.0.2.20
    }
    virtual_ipaddress {
        198.51.100.5/24
    }
}
vrrp_instance AH {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type AH
        auth_pass secret12
    }
    virtual_ipaddress {
        192.0.2.100/24
    }
}
vrrp_instance AHU {
    interface eth1
    virtual_router_id 51
    priority 100
    advert_int 1
    unicast_src_ip 192.0.2.2
    unicast_peer {
        192.0.2.1
    }
    authentication {
        auth_type AH
        auth_pass secret12
    }
    virtual_ipaddress {
        192.0.2.100/24
    }
}
"#;

/// Instances of `CONFIG`; the last two are the AH ones.
const N: usize = 7;
const AH_IDS: [InstanceId; 2] = [InstanceId(5), InstanceId(6)];
/// AH datagrams kept for the replay op.
const REPLAY_SLOTS: usize = 8;

const IFACES: [&str; 4] = ["eth0", "eth1", "eth2", "nope0"];
const OURS4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const OURS6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10));
const PEERS4: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    OURS4,
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)),
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
];
const PEERS6: [IpAddr; 4] = [
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
    OURS6,
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x20)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3)),
];
/// Most inputs decoded from one fuzz input (bounds the time per run).
const MAX_OPS: usize = 2048;
/// Most `handle_timeout` calls in one turn before it counts as a busy loop.
const MAX_TURN_CALLS: usize = 256;

fn config() -> &'static Config {
    static CFG: OnceLock<Box<Config>> = OnceLock::new();
    CFG.get_or_init(|| {
        let files: [(&str, &[u8]); 1] = [("/fuzz.conf", CONFIG.as_bytes())];
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&MemorySource::new(&files), "/fuzz.conf", &mut cfg, &mut d);
        for x in d.iter() {
            eprintln!("{}", x.display(&cfg));
        }
        assert!(!d.has_errors(), "core fuzz config does not parse");
        assert_eq!(cfg.instances.len(), N);
        cfg
    })
}

struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

struct Harness {
    cfg: &'static Config,
    r: Box<Router>,
    out: Actions,
    now: Instant,
    held: [bool; N],
    /// Each instance's AH counter after the last core call (a fresh
    /// router's is 0).
    ah_last: [u32; N],
    /// The AH datagram handed to an instance in the core call whose
    /// actions `execute` checks next: (instance index, its sequence number
    /// if it verifies under that instance's key).
    ah_rx: Option<(usize, Option<u32>)>,
    /// AH datagrams (interface index, bytes) accepted or sent, for replays.
    replay: Vec<(usize, Vec<u8>)>,
    replay_next: usize,
}

/// Everything observable of the router that a refused packet must not
/// change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    poll: Option<Instant>,
    inst: Vec<InstSnap>,
}

#[derive(Debug, PartialEq)]
struct InstSnap {
    state: Option<StateKind>,
    eff: Option<u8>,
    master_addr: Option<IpAddr>,
    master_priority: Option<u8>,
    mai_cs: Option<u16>,
    last_transition: Option<Instant>,
    ah_seq: Option<u32>,
    advert_rcvd: u64,
}

/// The AH counter after `sends` adverts from `seq` (keepalived's transmit
/// rule: +1 per advert, no increment above `SEQ_CYCLE_THRESHOLD`).
fn tx_steps(mut seq: u32, sends: usize) -> u32 {
    for _ in 0..sends {
        if seq <= ah::SEQ_CYCLE_THRESHOLD {
            seq += 1;
        }
    }
    seq
}

fn iface_index(name: &str) -> usize {
    IFACES.iter().position(|i| *i == name).unwrap_or(3)
}

fn family_of(a: &IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    }
}

fn drop_reason(e: Error) -> DropReason {
    match e {
        Error::BadChecksum | Error::BadIpChecksum => DropReason::Checksum,
        Error::BadType { .. } => DropReason::InvalidType,
        Error::BadVersion { .. } => DropReason::Version,
        _ => DropReason::PacketLen,
    }
}

impl Harness {
    fn new() -> Harness {
        let cfg = config();
        let mut r = Router::new_boxed(cfg).expect("router");
        for (i, c) in cfg.instances.iter().enumerate() {
            let ours = match c.family {
                AddressFamily::Ipv4 => OURS4,
                AddressFamily::Ipv6 => OURS6,
            };
            r.set_src_addr(InstanceId(i as u16), c.unicast_src_ip.unwrap_or(ours));
        }
        Harness {
            cfg,
            r,
            out: Actions::new(),
            now: Instant::ZERO,
            held: [false; N],
            ah_last: [0; N],
            ah_rx: None,
            replay: Vec::with_capacity(REPLAY_SLOTS),
            replay_next: 0,
        }
    }

    fn remember(replay: &mut Vec<(usize, Vec<u8>)>, next: &mut usize, iface: usize, d: &[u8]) {
        if replay.len() < REPLAY_SLOTS {
            replay.push((iface, d.to_vec()));
        } else {
            replay[*next % REPLAY_SLOTS] = (iface, d.to_vec());
        }
        *next = next.wrapping_add(1);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            poll: self.r.poll_timeout(),
            inst: (0..self.n())
                .map(|i| {
                    let id = InstanceId(i as u16);
                    InstSnap {
                        state: self.r.state(id),
                        eff: self.r.effective_priority(id),
                        master_addr: self.r.master_addr(id),
                        master_priority: self.r.master_priority(id),
                        mai_cs: self.r.master_adver_interval_cs(id),
                        last_transition: self.r.last_transition(id),
                        ah_seq: self.r.ah_seq(id),
                        advert_rcvd: self.r.stats(id).map_or(0, |s| s.advert_rcvd),
                    }
                })
                .collect(),
        }
    }

    /// The AH counters against the actions of the core call just made
    /// (see the module docs).
    fn check_ah_counters(&mut self) {
        let rx = self.ah_rx.take();
        for i in 0..self.n() {
            let id = InstanceId(i as u16);
            let Some(new) = self.r.ah_seq(id) else {
                continue;
            };
            let old = self.ah_last[i];
            let sends = self
                .out
                .iter()
                .filter(|a| matches!(a, Action::SendAdvert { inst, .. } if *inst == id))
                .count();
            let to_master = self
                .out
                .iter()
                .any(|a| matches!(a, Action::AddVips { inst } if *inst == id));
            assert!(
                sends <= 1,
                "instance {i}: {sends} AH adverts in one call would carry one sequence number"
            );
            let verified = match rx {
                Some((j, v)) if j == i => v,
                _ => None,
            };
            let cycle_reset =
                old > ah::SEQ_CYCLE_THRESHOLD && to_master && new == tx_steps(0, sends);
            let ok = match verified {
                Some(seq) if seq > old => {
                    (sends == 0 && new == old)
                        || new == tx_steps(seq, sends)
                        || new == tx_steps(seq.wrapping_add(1), sends)
                }
                _ => new == tx_steps(old, sends) || cycle_reset,
            };
            assert!(
                ok,
                "instance {i}: AH counter {old} -> {new} ({sends} adverts sent, became master: \
                 {to_master}, AH datagram verified with seq {verified:?})"
            );
            if new < old {
                assert!(
                    cycle_reset || verified == Some(u32::MAX),
                    "instance {i}: AH counter moved back {old} -> {new}"
                );
            }
            self.ah_last[i] = new;
        }
    }

    fn n(&self) -> usize {
        self.r.instance_count()
    }

    /// The shell's side of the actions: track VIPs, check every action.
    fn execute(&mut self) {
        assert_eq!(self.out.overflow_count(), 0, "Actions overflow");
        self.check_ah_counters();
        let mut sent_ah: Vec<(usize, Vec<u8>)> = Vec::new();
        for a in self.out.iter() {
            let Some(id) = a.inst() else {
                let Action::NotifyGroup { group, .. } = *a else {
                    unreachable!("only group notifications have no instance")
                };
                assert!(group.index() < self.cfg.sync_groups.len(), "unknown group");
                continue;
            };
            let c = self
                .cfg
                .instances
                .get(id.index())
                .expect("action for an unknown instance");
            match *a {
                Action::AddVips { inst } => self.held[inst.index()] = true,
                Action::DelVips { inst } => self.held[inst.index()] = false,
                Action::SendGarp { vip, .. } => match vip {
                    VipRef::Vip(i) => assert!(usize::from(i) < c.virtual_ipaddress.len()),
                    VipRef::Excluded(i) => {
                        assert!(usize::from(i) < c.virtual_ipaddress_excluded.len())
                    }
                },
                Action::SendAdvert { inst, priority } => {
                    let repr = self.r.advert_repr(inst, priority).expect("advert_repr");
                    assert_eq!(repr.priority, priority);
                    let mut buf = [0u8; 512];
                    let src = self.r.src_addr(inst).expect("src_addr");
                    if let Some((key, unicast)) = self.r.ah_key(inst) {
                        let seq = self.r.ah_seq(inst).expect("AH instance without a counter");
                        let IpAddr::V4(s) = src else {
                            // set_src_addr gave it an IPv6 source: the shell cannot send.
                            continue;
                        };
                        let dst = match c.unicast_peer.first() {
                            Some(IpAddr::V4(a)) => *a,
                            _ => vrrp::MCAST_GROUP_V4,
                        };
                        let n = ah::emit_ipv4_ah_vrrp(
                            &mut buf, 1, 255, s, dst, seq, &key, unicast, &repr,
                        )
                        .unwrap_or_else(|e| panic!("AH advert {repr:?} cannot be sent: {e:?}"));
                        let (ip, back_seq, back) = ah::parse_ipv4_ah_vrrp(&buf[..n], &key, unicast)
                            .unwrap_or_else(|e| panic!("own AH advert does not verify: {e:?}"));
                        assert_eq!((ip.src, back_seq), (s, seq));
                        assert_eq!(back, repr, "AH codec round trip");
                        assert_eq!(ah::peek_vrid(&buf[..n]), Some(repr.vrid));
                        sent_ah.push((iface_index(&c.interface), buf[..n].to_vec()));
                        continue;
                    }
                    match (src, c.family) {
                        (IpAddr::V4(s), AddressFamily::Ipv4) => {
                            let n = ipv4::emit_ipv4_vrrp(
                                &mut buf,
                                1,
                                255,
                                s,
                                vrrp::MCAST_GROUP_V4,
                                &repr,
                                ChecksumMode::PseudoHeader {
                                    src,
                                    dst: IpAddr::V4(vrrp::MCAST_GROUP_V4),
                                },
                            )
                            .unwrap_or_else(|e| panic!("advert {repr:?} cannot be sent: {e:?}"));
                            let (_, back, _) = ipv4::parse_ipv4_vrrp(&buf[..n]).expect("reparse");
                            assert_eq!(back, repr);
                        }
                        (IpAddr::V6(s), AddressFamily::Ipv6) => {
                            let n = ipv6::emit_ipv6_vrrp(
                                &mut buf,
                                0,
                                255,
                                s,
                                vrrp::MCAST_GROUP_V6,
                                &repr,
                            )
                            .unwrap_or_else(|e| panic!("advert {repr:?} cannot be sent: {e:?}"));
                            assert!(n > ipv6::HEADER_LEN);
                        }
                        _ => {}
                    }
                }
                Action::MasterRxLowerPri { inst, priority } => {
                    // Only a master hears a lower priority, and it reports
                    // its own effective priority (keepalived's event line).
                    assert_eq!(self.r.state(inst), Some(StateKind::Master));
                    assert_eq!(Some(priority), self.r.effective_priority(inst));
                }
                Action::Notify { .. } | Action::NotifyGroup { .. } => {}
            }
        }
        for (iface, d) in sent_ah {
            Self::remember(&mut self.replay, &mut self.replay_next, iface, &d);
        }
        self.out.clear();
    }

    /// One shell loop turn after an input: execute, then fire deadlines
    /// until the next one is in the future.
    fn turn(&mut self) {
        self.execute();
        let mut calls = 0;
        loop {
            self.r.handle_timeout(self.now, &mut self.out);
            self.execute();
            calls += 1;
            match self.r.poll_timeout() {
                Some(t) if t <= self.now => {
                    assert!(
                        calls < MAX_TURN_CALLS,
                        "deadline stuck at {t:?} (now {:?})",
                        self.now
                    )
                }
                _ => break,
            }
        }
        self.check();
    }

    fn check(&self) {
        if let Some(t) = self.r.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t:?} not after now {:?}",
                self.now
            );
        }
        for i in 0..self.n() {
            let id = InstanceId(i as u16);
            let eff = self.r.effective_priority(id).unwrap();
            let base = self.r.base_priority(id).unwrap();
            assert!(eff >= 1, "instance {i}: effective priority 0");
            if base == 255 {
                assert_eq!(eff, 255, "instance {i}: owner not at 255");
            } else {
                assert!(eff <= 254, "instance {i}: effective {eff} for base {base}");
            }
            let master = self.r.state(id) == Some(StateKind::Master);
            assert_eq!(
                master, self.held[i],
                "instance {i}: master={master} vips={}",
                self.held[i]
            );
            if master {
                assert_eq!(self.r.master_priority(id), Some(eff));
            }
        }
        // Sync group: a fault in one member faults every started member.
        for g in &self.cfg.sync_groups {
            let states: Vec<StateKind> = g
                .members
                .iter()
                .map(|&m| self.r.state(InstanceId(m)).unwrap())
                .collect();
            if states.contains(&StateKind::Fault) {
                assert!(
                    states
                        .iter()
                        .all(|s| matches!(s, StateKind::Fault | StateKind::Initialize)),
                    "group {}: members {states:?}",
                    g.name
                );
            }
        }
    }

    fn deliver(&mut self, src: IpAddr, ttl: u8, ifname: &str, repr: &Repr) {
        let family = family_of(&src);
        match self.r.find_instance(ifname, family, repr.vrid) {
            Some(id) => self
                .r
                .handle_advert(self.now, id, src, ttl, repr, &mut self.out),
            None => self.r.record_drop(None, DropReason::Vrid),
        }
    }

    /// Raw packet bytes as a raw socket would hand them up.
    fn raw_packet(&mut self, inp: &mut Input<'_>) {
        let sel = inp.u8();
        let ttl = if sel & 0x80 != 0 { inp.u8() } else { 255 };
        let len = usize::from(inp.u8());
        let ifname = IFACES[usize::from(sel) % 3];
        let mut buf = [0u8; 256];
        let body = inp.bytes(len);
        let pkt = &mut buf[..body.len()];
        pkt.copy_from_slice(body);
        let v6 = sel & 4 != 0;
        let peers = if v6 { &PEERS6 } else { &PEERS4 };
        let src = peers[usize::from(sel >> 3) % 4];
        let dst = if v6 {
            IpAddr::V6(vrrp::MCAST_GROUP_V6)
        } else {
            IpAddr::V4(vrrp::MCAST_GROUP_V4)
        };
        if sel & 0x40 != 0 && pkt.len() >= vrrp::HEADER_LEN {
            // Fix the checksum up, so the fuzzer gets past it.
            let mode = if sel & 0x20 != 0 {
                ChecksumMode::MessageOnly
            } else {
                ChecksumMode::PseudoHeader { src, dst }
            };
            let _ = Packet::new_unchecked(&mut *pkt).fill_checksum(mode);
        }
        match Repr::parse_detect_checksum(&Packet::new_unchecked(&*pkt), src, dst) {
            Ok((repr, _mode)) => self.deliver(src, ttl, ifname, &repr),
            Err(e) => self.r.record_drop(None, drop_reason(e)),
        }
    }

    /// One of our own adverts, mutated, encoded with its IP header, parsed
    /// back and delivered.
    fn synth_advert(&mut self, inp: &mut Input<'_>) {
        let id = InstanceId(u16::from(inp.u8()) % self.n() as u16);
        let prio = inp.u8();
        let flags = inp.u8();
        let src_sel = inp.u8();
        let extra = inp.u8();
        let Some(mut repr) = self.r.advert_repr(id, prio) else {
            return;
        };
        let c = &self.cfg.instances[id.index()];
        if flags & 1 != 0 {
            repr.vrid = extra;
        }
        if flags & 2 != 0 {
            repr.max_adver_int_cs = match repr.version {
                Version::V2 => u16::from(extra % 4) * 100,
                Version::V3 => u16::from(extra) * 3,
            };
        }
        if flags & 4 != 0 {
            let _ = repr.addrs.pop();
            repr.addr_count = repr.addrs.len() as u8;
        }
        if flags & 8 != 0
            && let Some(a) = repr.addrs.last_mut()
        {
            *a = match a {
                IpAddr::V4(_) => PEERS4[usize::from(extra) % 4],
                IpAddr::V6(_) => PEERS6[usize::from(extra) % 4],
            };
        }
        // v2 only: v3 has no authentication fields on the wire.
        if flags & 16 != 0 && repr.version == Version::V2 {
            repr.auth_data[usize::from(extra) % 8] ^= 1 | extra;
        }
        if flags & 32 != 0 && repr.version == Version::V2 {
            repr.auth_type = extra % 4;
        }
        let ttl = if flags & 64 != 0 { extra } else { 255 };
        let peers = match c.family {
            AddressFamily::Ipv4 => &PEERS4,
            AddressFamily::Ipv6 => &PEERS6,
        };
        let src = peers[usize::from(src_sel) % 4];
        let ifname = IFACES[usize::from(src_sel >> 2) % 4];
        if flags & 128 != 0 {
            // Straight to the core, bypassing the codec (the core must cope
            // with any Repr, not only those the codec produces).
            self.deliver(src, ttl, ifname, &repr);
            return;
        }
        let mut buf = [0u8; 512];
        match src {
            IpAddr::V4(s) => {
                let dst = vrrp::MCAST_GROUP_V4;
                let mode = if src_sel & 0x80 != 0 {
                    ChecksumMode::MessageOnly
                } else {
                    ChecksumMode::PseudoHeader {
                        src,
                        dst: IpAddr::V4(dst),
                    }
                };
                let Ok(n) = ipv4::emit_ipv4_vrrp(&mut buf, 7, ttl, s, dst, &repr, mode) else {
                    return;
                };
                match ipv4::parse_ipv4_vrrp(&buf[..n]) {
                    Ok((ip, back, _)) => {
                        assert_eq!(back, repr, "codec round trip");
                        self.deliver(IpAddr::V4(ip.src), ip.ttl, ifname, &back);
                    }
                    Err(e) => panic!("emitted advert does not parse: {e:?}"),
                }
            }
            IpAddr::V6(s) => {
                let dst = vrrp::MCAST_GROUP_V6;
                let Ok(n) = ipv6::emit_ipv6_vrrp(&mut buf, 0, ttl, s, dst, &repr) else {
                    return;
                };
                let ip = ipv6::Repr::parse(&buf[..n]).expect("IPv6 header");
                let mode = ChecksumMode::PseudoHeader {
                    src,
                    dst: IpAddr::V6(dst),
                };
                let payload = &buf[ip.payload_range()];
                let back = Repr::parse(&Packet::new_unchecked(payload), AddressFamily::Ipv6, mode)
                    .expect("emitted IPv6 advert parses");
                assert_eq!(back, repr, "codec round trip");
                self.deliver(IpAddr::V6(ip.src), ip.hop_limit, ifname, &back);
            }
        }
    }

    /// An AH datagram as the daemon's AH socket hands it up: demultiplexed
    /// by its unauthenticated VRID, then verified and handled by the core.
    fn deliver_ah(&mut self, iface: usize, datagram: &[u8]) {
        let ifname = IFACES[iface % IFACES.len()];
        let Some(vrid) = ah::peek_vrid(datagram) else {
            self.r.record_drop(None, DropReason::PacketLen);
            return;
        };
        let Some(id) = self.r.find_instance(ifname, AddressFamily::Ipv4, vrid) else {
            self.r.record_drop(None, DropReason::Vrid);
            return;
        };
        let i = id.index();
        let verified = self
            .r
            .ah_key(id)
            .and_then(|(key, unicast)| ah::parse_ipv4_ah_vrrp(datagram, &key, unicast).ok())
            .map(|(_, seq, _)| seq);
        assert_eq!(self.r.ah_seq(id).unwrap_or(0), self.ah_last[i]);
        let fresh = verified.is_some_and(|seq| seq > self.ah_last[i]);
        let before = self.snapshot();
        let drops = self.r.stats(id).map_or(0, |s| s.drops_total());
        assert!(self.out.as_slice().is_empty());
        self.r
            .handle_ah_advert(self.now, id, datagram, &mut self.out);
        self.ah_rx = Some((i, verified));
        if verified.is_some() {
            Self::remember(&mut self.replay, &mut self.replay_next, iface, datagram);
        }
        if !fresh {
            assert!(
                self.out.as_slice().is_empty(),
                "instance {i}: refused AH datagram (seq {verified:?}, counter {}) acted: {:?}",
                self.ah_last[i],
                self.out.as_slice()
            );
            assert_eq!(
                self.snapshot(),
                before,
                "instance {i}: refused AH datagram (seq {verified:?}) changed the router"
            );
            let after = self.r.stats(id).map_or(0, |s| s.drops_total());
            assert_eq!(
                after,
                drops + 1,
                "instance {i}: refused AH datagram not counted"
            );
        }
    }

    /// Raw bytes for the AH socket, optionally fixed up past each gate:
    /// `sel` bits 0-1 interface, 2 re-sign the ICV with the key of the
    /// instance the VRID names (6: in the other ICV mode, 7: with a wrong
    /// key), 3 protocol 51, 4 SPI = source, 5 VRRP checksum; the IPv4
    /// checksum is fixed whenever something was changed.
    fn raw_ah(&mut self, inp: &mut Input<'_>) {
        let sel = inp.u8();
        let len = usize::from(inp.u8());
        let mut buf = [0u8; 256];
        let body = inp.bytes(len);
        let pkt = &mut buf[..body.len()];
        pkt.copy_from_slice(body);
        let iface = usize::from(sel & 3);
        if sel & 0x3c != 0 && ipv4::Packet::new_checked(&*pkt).is_ok() {
            let mut ip = ipv4::Packet::new_unchecked(&mut *pkt);
            if sel & 8 != 0 {
                ip.set_protocol(ipv4::PROTOCOL_AH);
            }
            let src = ip.src_addr();
            let hl = ip.header_len();
            let end = usize::from(ip.total_len()).min(pkt.len());
            if let Some(payload) = pkt.get_mut(hl..end)
                && payload.len() >= ah::HEADER_LEN
            {
                let (hdr, msg) = payload.split_at_mut(ah::HEADER_LEN);
                if sel & 16 != 0 {
                    ah::Packet::new_unchecked(hdr).set_spi(src);
                }
                if sel & 32 != 0 && msg.len() >= vrrp::HEADER_LEN {
                    let _ = Packet::new_unchecked(msg).fill_checksum(ChecksumMode::MessageOnly);
                }
            }
            ipv4::Packet::new_unchecked(&mut *pkt).fill_checksum();
            let target = ah::peek_vrid(pkt).and_then(|vrid| {
                self.r
                    .find_instance(IFACES[iface], AddressFamily::Ipv4, vrid)
            });
            if sel & 4 != 0
                && let Some((mut key, mut unicast)) = target.and_then(|id| self.r.ah_key(id))
            {
                if sel & 64 != 0 {
                    unicast = !unicast;
                }
                if sel & 128 != 0 {
                    key[0] ^= 0x80;
                }
                if let Ok(icv) = ah::compute_icv(pkt, &key, unicast) {
                    ah::Packet::new_unchecked(&mut pkt[hl..]).set_icv(&icv);
                }
            }
        }
        self.deliver_ah(iface, pkt);
    }

    /// One of an AH instance's own adverts, mutated, signed (with its key
    /// and mode, or a wrong key or mode), with a sequence number chosen
    /// around its counter, optionally mangled after signing, delivered.
    fn synth_ah(&mut self, inp: &mut Input<'_>) {
        let which = inp.u8();
        let prio = inp.u8();
        let flags = inp.u8();
        let src_sel = inp.u8();
        let extra = inp.u8();
        let seq_sel = inp.u8();
        let id = AH_IDS[usize::from(which & 1)];
        let Some(mut repr) = self.r.advert_repr(id, prio) else {
            return;
        };
        let Some((mut key, mut unicast)) = self.r.ah_key(id) else {
            return;
        };
        let c = &self.cfg.instances[id.index()];
        if flags & 1 != 0 {
            repr.vrid = extra;
        }
        if flags & 2 != 0 {
            repr.max_adver_int_cs = u16::from(extra % 4) * 100;
        }
        if flags & 4 != 0 {
            let _ = repr.addrs.pop();
            repr.addr_count = repr.addrs.len() as u8;
        }
        if flags & 8 != 0
            && let Some(a) = repr.addrs.last_mut()
        {
            *a = PEERS4[usize::from(extra) % 4];
        }
        if flags & 16 != 0 {
            key[usize::from(extra) % ah::KEY_LEN] ^= 1 | extra;
        }
        if flags & 32 != 0 {
            unicast = !unicast;
        }
        let ttl = if flags & 64 != 0 { extra } else { 255 };
        let counter = self.ah_last[id.index()];
        let seq = match seq_sel & 7 {
            0 => counter.wrapping_add(1),
            1 => counter.wrapping_add(u32::from(extra)),
            2 => counter,
            3 => counter.wrapping_sub(u32::from(extra)),
            4 => u32::MAX,
            5 => ah::SEQ_CYCLE_THRESHOLD,
            6 => ah::SEQ_CYCLE_THRESHOLD + 1,
            _ => u32::from_le_bytes([inp.u8(), inp.u8(), inp.u8(), inp.u8()]),
        };
        let IpAddr::V4(src) = PEERS4[usize::from(src_sel) % 4] else {
            return;
        };
        let dst = match c.unicast_src_ip {
            Some(IpAddr::V4(a)) => a,
            _ => vrrp::MCAST_GROUP_V4,
        };
        let iface = if src_sel & 0x80 != 0 {
            usize::from(src_sel >> 2) % IFACES.len()
        } else {
            iface_index(&c.interface)
        };
        let mut buf = [0u8; 512];
        let Ok(n) = ah::emit_ipv4_ah_vrrp(
            &mut buf,
            u16::from(extra),
            ttl,
            src,
            dst,
            seq,
            &key,
            unicast,
            &repr,
        ) else {
            return;
        };
        let d = &mut buf[..n];
        if flags & 128 != 0 {
            if seq_sel & 8 != 0 {
                // Any octet: the hashed ones break the ICV, the mutable
                // ones (TOS, flags) must not.
                d[usize::from(extra) % n] ^= seq_sel | 1;
            }
            if seq_sel & 16 != 0 {
                // A SPI that is not the source, under a valid ICV.
                if let IpAddr::V4(spi) = PEERS4[usize::from(extra >> 2) % 4] {
                    ah::Packet::new_unchecked(&mut d[ipv4::HEADER_LEN..]).set_spi(spi);
                }
                if let Some((k, u)) = self.r.ah_key(id)
                    && let Ok(icv) = ah::compute_icv(d, &k, u)
                {
                    ah::Packet::new_unchecked(&mut d[ipv4::HEADER_LEN..]).set_icv(&icv);
                }
            }
            if seq_sel & 32 != 0 {
                ipv4::Packet::new_unchecked(&mut *d).fill_checksum();
            }
        }
        self.deliver_ah(iface, d);
    }

    /// A datagram seen or sent before, again (as it was, or with a new IP
    /// identification, which the ICV covers).
    fn replay_ah(&mut self, inp: &mut Input<'_>) {
        let sel = inp.u8();
        if self.replay.is_empty() {
            return;
        }
        let (iface, mut d) = self.replay[usize::from(sel) % self.replay.len()].clone();
        if sel & 0x80 != 0 && ipv4::Packet::new_checked(&d[..]).is_ok() {
            let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
            let ident = ip.ident().wrapping_add(1);
            ip.set_ident(ident);
            ip.fill_checksum();
        }
        let iface = if sel & 0x40 != 0 {
            usize::from(sel >> 3) % IFACES.len()
        } else {
            iface
        };
        self.deliver_ah(iface, &d);
    }

    fn step(&mut self, inp: &mut Input<'_>) {
        let now = self.now;
        match inp.u8() % 16 {
            0 | 1 => self.now += Duration::from_millis(u64::from(inp.u8())),
            2 => {
                self.now += Duration::from_micros(u64::from(inp.u16()) * 1000 + u64::from(inp.u8()))
            }
            3 => self.now += Duration::from_secs(u64::from(inp.u8() % 120)),
            4 => {
                if let Some(t) = self.r.poll_timeout() {
                    self.now = self.now.max(t);
                }
            }
            5 => self.raw_packet(inp),
            6 | 7 => self.synth_advert(inp),
            8 => {
                let b = inp.u8();
                let ifname = IFACES[usize::from(b) % 4];
                self.r
                    .handle_link(self.now, ifname, b & 0x80 != 0, &mut self.out);
            }
            9 => {
                let id = InstanceId(u16::from(inp.u8()) % (self.n() as u16 + 1));
                let b = inp.u8();
                let weight = i32::from(inp.u16() as i16) >> (b % 8);
                let track = TrackState {
                    fault: b & 0x80 != 0,
                    weight,
                };
                self.r.handle_track(self.now, id, track, &mut self.out);
            }
            10 => match inp.u8() % 8 {
                0 => self.r.handle_shutdown(self.now, &mut self.out),
                1 | 2 => self.r.handle_start(self.now, &mut self.out),
                _ => {
                    let id = InstanceId(u16::from(inp.u8()) % self.n() as u16);
                    let sel = inp.u8();
                    let a = if sel & 1 == 0 { PEERS4 } else { PEERS6 }[usize::from(sel >> 1) % 4];
                    self.r.set_src_addr(id, a);
                }
            },
            12 => self.raw_ah(inp),
            13 | 14 => self.synth_ah(inp),
            15 => self.replay_ah(inp),
            _ => {
                // An input at the same time as a deadline: fire it first.
            }
        }
        assert!(self.now >= now);
        self.turn();
    }
}

fuzz_target!(|data: &[u8]| {
    let mut h = Harness::new();
    let mut inp = Input { data };
    // Daemon start-up: interfaces assumed up, then start.
    h.r.handle_start(h.now, &mut h.out);
    h.turn();
    for _ in 0..MAX_OPS {
        if inp.data.is_empty() {
            break;
        }
        h.step(&mut inp);
    }
    // A clean stop leaves nothing held.
    h.r.handle_shutdown(h.now, &mut h.out);
    h.execute();
    assert!(h.held.iter().all(|h| !h), "VIPs held after shutdown");
    assert_eq!(h.r.poll_timeout(), None);
});
