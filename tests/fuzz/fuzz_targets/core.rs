//! The whole protocol core: a `vrrp::Router` built from a small fixed
//! configuration (VRRPv2 with PASS auth, a v3 address owner, v3 over IPv6
//! with preempt_delay, a v3 nopreempt instance with a GARP burst in batches,
//! a v3 unicast instance; V6 and NP form a vrrp_sync_group) driven by a sequence of inputs decoded from the
//! fuzz input: time steps, received packets (raw bytes, or adverts built
//! from an instance's own advert and then mutated, both going through
//! bytes -> wire parse -> `handle_advert` as in the daemon), link up/down,
//! tracker results, source address changes, start and shutdown.
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
//!   address, and every SendAdvert can be encoded and parses back.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use keepvip::config::{AddressFamily, Config, Diagnostics, MemorySource, parse};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::{
    Action, Actions, DropReason, InstanceId, Router, StateKind, TrackState, VipRef,
};
use keepvip::wire::vrrp::{self, ChecksumMode, Packet, Repr, Version};
use keepvip::wire::{Error, ipv4, ipv6};
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
"#;

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
        assert_eq!(cfg.instances.len(), 5);
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
    held: [bool; 5],
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
            held: [false; 5],
        }
    }

    fn n(&self) -> usize {
        self.r.instance_count()
    }

    /// The shell's side of the actions: track VIPs, check every action.
    fn execute(&mut self) {
        assert_eq!(self.out.overflow_count(), 0, "Actions overflow");
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
                Action::Notify { .. } | Action::NotifyGroup { .. } => {}
            }
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

    fn step(&mut self, inp: &mut Input<'_>) {
        let now = self.now;
        match inp.u8() % 12 {
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
