//! The simulated segment: N nodes, each running a real `vrrp::Router` on
//! its own drifting clock (`clock.rs`), a seeded network with drops, delay,
//! duplication, corruption and partitions, crashes and restarts. Frames are
//! real Ethernet frames built and parsed by the wire codec (`frames.rs`);
//! every frame on the segment can be captured to a pcap.
//!
//! Checkers run inside the world (they panic with the seed): a node is
//! Master iff it holds its VIPs; every frame the simulator did not corrupt
//! parses; a GARP / unsolicited NA for each VIP follows every takeover;
//! every clock stays within its drift bound and never goes back.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepvip::config::model::{AddressFamily, Config, InstanceConfig, VrrpVersion};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::timers::{master_down_interval, skew_time};
use keepvip::vrrp::{
    Action, Actions, DropReason, InstanceId, NotifyState, Router, StateKind, TrackState, VipRef,
};
use keepvip::wire::pcap::PcapWriter;
use keepvip::wire::vrrp as wire_vrrp;

use crate::cfg;
use crate::clock::Clock;
use crate::frames::{self, Filtered, Rx};
use crate::rng::Rng;

/// An in-memory `embedded_io` sink for the pcap writer.
#[derive(Default)]
pub struct VecSink(pub Vec<u8>);

impl embedded_io::ErrorType for VecSink {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for VecSink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Hook around every call into the core (the allocation test counts inside it).
pub static CORE_HOOK: std::sync::OnceLock<fn(bool)> = std::sync::OnceLock::new();

fn hook(enter: bool) {
    if let Some(f) = CORE_HOOK.get() {
        f(enter);
    }
}

/// One VRID on the segment.
#[derive(Clone, Debug)]
pub struct VridSpec {
    pub vrid: u8,
    pub version: VrrpVersion,
    pub interval_cs: u16,
    pub v6: bool,
    /// Number of virtual addresses (1..=3).
    pub vips: u8,
    /// v3 over IPv4: RFC 9568 checksum (message only) instead of
    /// keepalived's pseudo-header default.
    pub checksum_as_v2: bool,
}

impl VridSpec {
    pub fn new(vrid: u8, version: VrrpVersion, interval_cs: u16, v6: bool) -> VridSpec {
        VridSpec {
            vrid,
            version,
            interval_cs,
            v6,
            vips: 1,
            checksum_as_v2: false,
        }
    }
}

/// One node's settings for one VRID.
#[derive(Clone, Debug)]
pub struct Member {
    pub priority: u8,
    pub nopreempt: bool,
    pub preempt_delay_ms: u32,
}

#[derive(Clone, Debug)]
pub struct Frame {
    pub at: Instant,
    pub seq: u64,
    pub from: usize,
    pub to: usize,
    /// The simulator flipped a byte of this copy (a corruption fault).
    pub corrupted: bool,
    pub bytes: Vec<u8>,
}

impl PartialEq for Frame {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Frame {}
impl PartialOrd for Frame {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Frame {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Clone, Debug)]
pub enum Event {
    Crash(usize),
    Restart(usize),
    Stop(usize),
    Link(usize, bool),
    Track(usize, usize, i32),
    Net {
        drop_ppm: u32,
        dup_ppm: u32,
        jitter_us: u64,
    },
    /// Flip one random byte in this fraction of the frames (per receiver copy).
    Corrupt {
        ppm: u32,
    },
    /// Node `n`'s clock jumps `us` microseconds ahead.
    ClockStep(usize, u64),
    Block {
        from: usize,
        to: usize,
    },
    Heal,
}

/// The virtual addresses of a VRID: 198.51.100.<vrid> (+ .<vrid+100>,
/// .<vrid+200>) or 2001:db8::100:<vrid> (+ ...:1<vrid>, ...:2<vrid>).
pub fn vip_list(v: &VridSpec) -> Vec<IpAddr> {
    (0..v.vips.clamp(1, 3))
        .map(|j| {
            if v.v6 {
                let low = u16::from(j) << 8 | u16::from(v.vrid);
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x100, low))
            } else {
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, v.vrid.wrapping_add(100 * j)))
            }
        })
        .collect()
}

pub struct Node {
    pub addr4: Ipv4Addr,
    pub addr6: Ipv6Addr,
    pub mac: frames::MacAddr,
    pub config: Box<Config>,
    pub router: Option<Box<Router>>,
    /// Simulated address table: does this node hold instance i's VIPs?
    pub held: Vec<bool>,
    pub link_up: bool,
    pub track: Vec<i32>,
    /// GARP / unsolicited NA frames this node built.
    pub garps: u64,
    /// Adverts this node built.
    pub adverts: u64,
    /// The node's monotonic clock (survives daemon restarts).
    pub clock: Clock,
    /// IPv4 ident / IPv6 flow label of the next advert.
    ident: u32,
    /// Per instance: VIPs still owed a GARP/NA since the last takeover, and
    /// the true time by which they must have been announced.
    pending_garp: Vec<Option<(Instant, Vec<IpAddr>)>>,
    /// Frames the NIC / kernel filtered before the VRRP socket, per reason.
    pub filtered: [u64; 3],
}

pub struct World {
    pub seed: u64,
    pub now: Instant,
    pub rng: Rng,
    pub vrids: Vec<VridSpec>,
    pub members: Vec<Vec<Member>>,
    pub nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<Frame>>,
    seq: u64,
    pub drop_ppm: u32,
    pub dup_ppm: u32,
    pub delay_min_us: u64,
    pub jitter_us: u64,
    /// blocked[from][to]
    pub blocked: Vec<Vec<bool>>,
    /// Last delivery time per (from, to): a segment does not reorder frames.
    last_at: Vec<Vec<Instant>>,
    events: Vec<(Instant, u64, Event)>,
    out: Actions,
    /// (time, node, instance, state) from Notify actions.
    pub transitions: Vec<(Instant, usize, usize, NotifyState)>,
    pub trace: Option<String>,
    pub steps: u64,
    pub frames_delivered: u64,
    /// Corruption fault rate (ppm of receiver copies).
    pub corrupt_ppm: u32,
    /// Copies corrupted, and how many of them the wire parsers refused
    /// (counted by the receiving router with `record_drop`).
    pub corrupted: u64,
    pub corrupt_refused: u64,
    /// Every frame put on the segment, when capturing.
    pub capture: Option<PcapWriter<VecSink>>,
}

impl World {
    pub fn new(seed: u64, vrids: Vec<VridSpec>, members: Vec<Vec<Member>>, trace: bool) -> World {
        let n = members.len();
        let mut nodes = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let mut insts = Vec::new();
            for (k, v) in vrids.iter().enumerate() {
                let vips = vip_list(v);
                let mut c: InstanceConfig =
                    cfg::instance(&format!("VI_{}", v.vrid), v.vrid, v.version, vips[0]);
                for a in &vips[1..] {
                    c.virtual_ipaddress.push(cfg::vip_entry(*a)).unwrap();
                }
                c.checksum_as_v2 = v.checksum_as_v2;
                c.advert_int_cs = v.interval_cs;
                c.priority = m[k].priority;
                c.nopreempt = m[k].nopreempt;
                c.preempt_delay_ms = m[k].preempt_delay_ms;
                c.garp_master_delay_s = 1;
                c.garp_master_repeat = 2;
                c.garp_interval_us = 1000;
                c.gna_interval_us = 1000;
                insts.push(c);
            }
            let k = vrids.len();
            nodes.push(Node {
                addr4: frames::node_addr4(i),
                addr6: frames::node_addr6(i),
                mac: frames::node_mac(i),
                config: cfg::config(insts),
                router: None,
                held: vec![false; k],
                link_up: true,
                track: vec![0; k],
                garps: 0,
                adverts: 0,
                clock: Clock::ideal(),
                ident: (i as u32) << 12,
                pending_garp: vec![None; k],
                filtered: [0; 3],
            });
        }
        World {
            seed,
            now: Instant::ZERO,
            rng: Rng::new(seed ^ 0x005e_ed0f_5eed),
            vrids,
            members,
            nodes,
            queue: BinaryHeap::new(),
            seq: 0,
            drop_ppm: 0,
            dup_ppm: 0,
            delay_min_us: 100,
            jitter_us: 500,
            blocked: vec![vec![false; n]; n],
            last_at: vec![vec![Instant::ZERO; n]; n],
            events: Vec::new(),
            out: Actions::new(),
            transitions: Vec::new(),
            trace: if trace { Some(String::new()) } else { None },
            steps: 0,
            frames_delivered: 0,
            corrupt_ppm: 0,
            corrupted: 0,
            corrupt_refused: 0,
            capture: None,
        }
    }

    /// Capture every frame put on the segment (see [`World::take_pcap`]).
    pub fn start_capture(&mut self) {
        self.capture = Some(PcapWriter::new(VecSink::default()).unwrap());
    }

    /// The capture so far, as a pcap file (capturing stops).
    pub fn take_pcap(&mut self) -> Option<Vec<u8>> {
        self.capture.take().map(|w| w.into_inner().0)
    }

    /// Node `n`'s local time now (what its router sees).
    pub fn local_now(&mut self, n: usize) -> Instant {
        let now = self.now;
        self.nodes[n].clock.read(now)
    }

    fn log(&mut self, f: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            let _ = writeln!(t, "{:>12?} {}", self.now, f());
        }
    }

    pub fn schedule(&mut self, at: Instant, e: Event) {
        self.seq += 1;
        self.events.push((at, self.seq, e));
        self.events
            .sort_by_key(|(t, s, _)| (Reverse(*t), Reverse(*s)));
    }

    pub fn addr(&self, node: usize, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(self.nodes[node].addr6)
        } else {
            IpAddr::V4(self.nodes[node].addr4)
        }
    }

    pub fn live(&self, node: usize) -> bool {
        self.nodes[node].router.is_some() && self.nodes[node].link_up
    }

    pub fn state(&self, node: usize, k: usize) -> Option<StateKind> {
        self.nodes[node]
            .router
            .as_ref()
            .and_then(|r| r.state(InstanceId(k as u16)))
    }

    pub fn eff(&self, node: usize, k: usize) -> u8 {
        self.nodes[node]
            .router
            .as_ref()
            .and_then(|r| r.effective_priority(InstanceId(k as u16)))
            .unwrap_or(0)
    }

    pub fn masters(&self, k: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.state(n, k) == Some(StateKind::Master))
            .collect()
    }

    /// Boot (or reboot) node `n` with a fresh router.
    pub fn boot(&mut self, n: usize) {
        let mut r = Router::new_boxed(&self.nodes[n].config).expect("router");
        for k in 0..self.vrids.len() {
            let a = self.addr(n, self.vrids[k].v6);
            r.set_src_addr(InstanceId(k as u16), a);
        }
        self.nodes[n].router = Some(r);
        let link = self.nodes[n].link_up;
        let track = self.nodes[n].track.clone();
        self.core(n, |r, now, out| {
            if !link {
                r.handle_link(now, "eth0", false, out);
            }
            for (k, w) in track.iter().enumerate() {
                r.handle_track(
                    now,
                    InstanceId(k as u16),
                    TrackState {
                        fault: false,
                        weight: *w,
                    },
                    out,
                );
            }
            r.handle_start(now, out);
        });
        self.log(|| format!("node {n} boots"));
    }

    /// Run a core call on node `n` at its local time and execute its actions.
    fn core(&mut self, n: usize, f: impl FnOnce(&mut Router, Instant, &mut Actions)) {
        if self.nodes[n].router.is_none() {
            return;
        }
        let local = self.local_now(n);
        let r = self.nodes[n].router.as_mut().unwrap();
        self.out.clear();
        hook(true);
        f(r, local, &mut self.out);
        hook(false);
        assert_eq!(self.out.overflow_count(), 0, "Actions overflow");
        let actions: Vec<Action> = self.out.as_slice().to_vec();
        self.out.clear();
        for a in actions {
            self.execute(n, a);
        }
    }

    fn vip(&self, n: usize, k: usize, v: VipRef) -> IpAddr {
        let c = &self.nodes[n].config.instances[k];
        match v {
            VipRef::Vip(i) => c.virtual_ipaddress[usize::from(i)].addr,
            VipRef::Excluded(i) => c.virtual_ipaddress_excluded[usize::from(i)].addr,
        }
    }

    fn execute(&mut self, n: usize, a: Action) {
        let Some(inst) = a.inst() else {
            // Sync group notifications: recorded in the trace only.
            if let Action::NotifyGroup { group, state } = a {
                self.log(|| format!("node {n} group {} -> {}", group.0, state.as_str()));
            }
            return;
        };
        let k = inst.index();
        match a {
            Action::SendAdvert { inst, priority } => {
                let r = self.nodes[n].router.as_ref().unwrap();
                hook(true);
                let repr = r.advert_repr(inst, priority).unwrap();
                hook(false);
                let v = &self.vrids[k];
                let src = self.addr(n, v.v6);
                let node = &mut self.nodes[n];
                let as_v2 = node.config.instances[k].checksum_as_v2;
                let id = node.ident;
                node.ident = node.ident.wrapping_add(1);
                node.adverts += 1;
                let frame = frames::advert(node.mac, src, id, &repr, as_v2)
                    .unwrap_or_else(|e| panic!("seed {}: cannot emit {repr:?}: {e}", self.seed));
                self.log(|| format!("node {n} VRID {} sends advert prio {priority}", repr.vrid));
                self.transmit(n, frame);
            }
            Action::AddVips { .. } => {
                self.nodes[n].held[k] = true;
            }
            Action::DelVips { .. } => {
                self.nodes[n].held[k] = false;
            }
            Action::SendGarp { vip, .. } => {
                let addr = self.vip(n, k, vip);
                let frame = frames::garp(self.nodes[n].mac, addr)
                    .unwrap_or_else(|e| panic!("seed {}: cannot emit GARP: {e}", self.seed));
                // The checker reads the frame back with the wire parsers.
                let announced = frames::announced_vip(&frame);
                assert_eq!(announced, Some(addr), "seed {}: GARP frame", self.seed);
                self.nodes[n].garps += 1;
                if let Some((_, left)) = self.nodes[n].pending_garp[k].as_mut() {
                    left.retain(|a| *a != addr);
                    if left.is_empty() {
                        self.nodes[n].pending_garp[k] = None;
                    }
                }
                self.transmit(n, frame);
            }
            Action::Notify {
                state, priority, ..
            } => {
                let vrid = self.vrids[k].vrid;
                self.log(|| {
                    format!(
                        "node {n} VRID {vrid} -> {} (prio {priority})",
                        state.as_str()
                    )
                });
                self.nodes[n].pending_garp[k] = match state {
                    NotifyState::Master => {
                        let c = &self.nodes[n].config.instances[k];
                        let vips: Vec<IpAddr> = c
                            .virtual_ipaddress
                            .iter()
                            .chain(c.virtual_ipaddress_excluded.iter())
                            .map(|v| v.addr)
                            .collect();
                        // The first burst announces each VIP once, paced
                        // by garp_interval / gna_interval (local time).
                        let gap = u64::from(c.garp_interval_us.max(c.gna_interval_us));
                        let within = Duration::from_micros(gap * vips.len() as u64);
                        Some((self.now + crate::clock::worst_true(within, 10), vips))
                    }
                    _ => None,
                };
                self.transitions.push((self.now, n, k, state));
            }
            Action::NotifyGroup { .. } => {}
        }
    }

    /// Put `frame` on the segment from node `from`: captured once, then
    /// one copy per reachable receiver, each subject to the network faults.
    fn transmit(&mut self, from: usize, frame: Vec<u8>) {
        if !self.nodes[from].link_up {
            return;
        }
        if let Some(w) = self.capture.as_mut() {
            w.write_frame(self.now, &frame).unwrap();
        }
        for to in 0..self.nodes.len() {
            if to == from || self.blocked[from][to] {
                continue;
            }
            if self.rng.chance_ppm(self.drop_ppm) {
                continue;
            }
            let copies = if self.rng.chance_ppm(self.dup_ppm) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let delay = self.delay_min_us + self.rng.below(self.jitter_us + 1);
                let at = (self.now + Duration::from_micros(delay)).max(self.last_at[from][to]);
                self.last_at[from][to] = at;
                self.seq += 1;
                let mut bytes = frame.clone();
                let corrupted = self.corrupt_ppm > 0 && self.rng.chance_ppm(self.corrupt_ppm);
                if corrupted {
                    let i = self.rng.below(bytes.len() as u64) as usize;
                    bytes[i] ^= 1 + self.rng.below(255) as u8;
                    self.corrupted += 1;
                }
                self.queue.push(Reverse(Frame {
                    at,
                    seq: self.seq,
                    from,
                    to,
                    corrupted,
                    bytes,
                }));
            }
        }
    }

    /// A refused frame: the router counts it under a named reason. A frame
    /// the simulator did not corrupt must never be refused.
    fn refuse(&mut self, f: &Frame, id: Option<InstanceId>, reason: DropReason, why: String) {
        assert!(
            f.corrupted,
            "seed {}: node {} cannot parse an intact frame from node {}: {why}",
            self.seed, f.to, f.from
        );
        self.corrupt_refused += 1;
        self.log(|| format!("node {} drops a corrupted frame: {why}", f.to));
        if let Some(r) = self.nodes[f.to].router.as_mut() {
            hook(true);
            r.record_drop(id, reason);
            hook(false);
        }
    }

    fn deliver(&mut self, f: Frame) {
        let to = f.to;
        if !self.live(to) {
            return;
        }
        self.frames_delivered += 1;
        let ip = match frames::receive(self.nodes[to].mac, &f.bytes) {
            Rx::Vrrp(ip) => ip,
            Rx::Filtered(why) => {
                // ARP / NA frames are not for the VRRP socket; anything
                // else filtered below it must be a corrupted copy.
                assert!(
                    f.corrupted || why == Filtered::NotVrrp,
                    "seed {}: intact frame filtered: {}",
                    self.seed,
                    why.name()
                );
                self.nodes[to].filtered[why as usize] += 1;
                return;
            }
            Rx::Bad(e) => {
                self.refuse(&f, None, frames::drop_reason(e), format!("IP: {e}"));
                return;
            }
        };
        // Demultiplex on the VRID, then verify with that instance's
        // checksum mode (a real receiver knows its instance's setting).
        let packet = wire_vrrp::Packet::new_unchecked(ip.payload);
        if let Err(e) = packet.check_len() {
            self.refuse(&f, None, frames::drop_reason(e), format!("VRRP: {e}"));
            return;
        }
        let r = self.nodes[to].router.as_ref().unwrap();
        let id = r.find_instance("eth0", ip.family, packet.vrid());
        let parsed = match id {
            Some(id) => {
                let c = &self.nodes[to].config.instances[id.index()];
                let version = match c.version {
                    VrrpVersion::V2 => wire_vrrp::Version::V2,
                    VrrpVersion::V3 => wire_vrrp::Version::V3,
                };
                let mode = frames::checksum_mode(version, c.checksum_as_v2, ip.src, ip.dst);
                wire_vrrp::Repr::parse(&packet, ip.family, mode)
            }
            None => wire_vrrp::Repr::parse_detect_checksum(&packet, ip.src, ip.dst).map(|r| r.0),
        };
        let repr = match parsed {
            Ok(r) => r,
            Err(e) => {
                self.refuse(&f, id, frames::drop_reason(e), format!("VRRP: {e}"));
                return;
            }
        };
        let (src, ttl) = (ip.src, ip.ttl);
        let Some(id) = id else {
            self.refuse(&f, None, DropReason::Vrid, format!("no VRID {}", repr.vrid));
            return;
        };
        if !f.corrupted {
            assert_eq!(
                src,
                self.addr(f.from, ip.family == AddressFamily::Ipv6),
                "seed {}: advert source",
                self.seed
            );
        }
        let (from, prio) = (f.from, repr.priority);
        self.log(|| {
            format!(
                "node {to} receives VRID {} prio {prio} from node {from}",
                repr.vrid
            )
        });
        self.core(to, |r, now, out| {
            r.handle_advert(now, id, src, ttl, &repr, out);
        });
    }

    fn apply(&mut self, e: Event) {
        self.log(|| format!("event {e:?}"));
        match e {
            Event::Crash(n) => {
                // kill -9: the VIPs stay on the interface.
                self.nodes[n].router = None;
                self.nodes[n]
                    .pending_garp
                    .iter_mut()
                    .for_each(|p| *p = None);
            }
            Event::Restart(n) => {
                if self.nodes[n].router.is_none() {
                    self.boot(n);
                }
            }
            Event::Stop(n) => {
                self.core(n, |r, now, out| r.handle_shutdown(now, out));
                self.nodes[n].router = None;
            }
            Event::Link(n, up) => {
                self.nodes[n].link_up = up;
                self.core(n, |r, now, out| r.handle_link(now, "eth0", up, out));
            }
            Event::Track(n, k, w) => {
                self.nodes[n].track[k] = w;
                self.core(n, |r, now, out| {
                    r.handle_track(
                        now,
                        InstanceId(k as u16),
                        TrackState {
                            fault: false,
                            weight: w,
                        },
                        out,
                    )
                });
            }
            Event::Net {
                drop_ppm,
                dup_ppm,
                jitter_us,
            } => {
                self.drop_ppm = drop_ppm;
                self.dup_ppm = dup_ppm;
                self.jitter_us = jitter_us;
            }
            Event::Corrupt { ppm } => self.corrupt_ppm = ppm,
            Event::ClockStep(n, us) => {
                let now = self.now;
                self.nodes[n].clock.step(now, us);
            }
            Event::Block { from, to } => self.blocked[from][to] = true,
            Event::Heal => {
                self.drop_ppm = 0;
                self.dup_ppm = 0;
                self.corrupt_ppm = 0;
                for row in self.blocked.iter_mut() {
                    row.iter_mut().for_each(|b| *b = false);
                }
                for n in 0..self.nodes.len() {
                    if !self.nodes[n].link_up {
                        self.apply(Event::Link(n, true));
                    }
                    if self.nodes[n].router.is_none() {
                        self.boot(n);
                    }
                }
            }
        }
    }

    /// The earliest router deadline, converted from the node's local time
    /// to true time (never before now).
    fn next_timer(&self) -> Option<(Instant, usize)> {
        let mut best: Option<(Instant, usize)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(l) = n.router.as_ref().and_then(|r| r.poll_timeout()) {
                let t = n.clock.true_at(l).max(self.now);
                if best.is_none_or(|(b, _)| t < b) {
                    best = Some((t, i));
                }
            }
        }
        best
    }

    /// Process the earliest thing due at or before `until`. False when idle.
    pub fn step(&mut self, until: Instant) -> bool {
        self.steps += 1;
        assert!(
            self.steps < 5_000_000,
            "seed {}: simulation does not settle",
            self.seed
        );
        let ev = self.events.last().map(|e| e.0);
        let fr = self.queue.peek().map(|f| f.0.at);
        let tm = self.next_timer();
        let t = [ev, fr, tm.map(|t| t.0)].into_iter().flatten().min();
        let Some(t) = t else { return false };
        if t > until {
            return false;
        }
        self.now = self.now.max(t);
        if ev == Some(t) {
            let (_, _, e) = self.events.pop().unwrap();
            self.apply(e);
        } else if fr == Some(t) {
            let Reverse(f) = self.queue.pop().unwrap();
            self.deliver(f);
        } else if let Some((_, n)) = tm {
            self.core(n, |r, now, out| r.handle_timeout(now, out));
        }
        self.check_coherence();
        self.check_garps();
        self.check_clocks();
        true
    }

    pub fn run_until(&mut self, until: Instant) {
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    /// Runs until `pred` holds or `until` passes; returns when it first held.
    pub fn run_until_pred(
        &mut self,
        until: Instant,
        mut pred: impl FnMut(&World) -> bool,
    ) -> Option<Instant> {
        if pred(self) {
            return Some(self.now);
        }
        while self.step(until) {
            if pred(self) {
                return Some(self.now);
            }
        }
        self.now = self.now.max(until);
        None
    }

    /// Every takeover is followed by a GARP / unsolicited NA for each VIP.
    fn check_garps(&self) {
        for (n, node) in self.nodes.iter().enumerate() {
            for (k, p) in node.pending_garp.iter().enumerate() {
                if let Some((deadline, left)) = p {
                    assert!(
                        self.now <= *deadline,
                        "seed {}: node {n} VRID {} took over but sent no GARP/NA for {left:?} by {deadline:?}",
                        self.seed,
                        self.vrids[k].vrid
                    );
                }
            }
        }
    }

    /// Every clock within its drift bound.
    fn check_clocks(&self) {
        for (n, node) in self.nodes.iter().enumerate() {
            if let Err(e) = node.clock.check_bound(self.now) {
                panic!("seed {}: node {n}: {e}", self.seed);
            }
        }
    }

    /// A node is Master iff it holds the VIPs (crashed nodes excepted).
    fn check_coherence(&self) {
        for (n, node) in self.nodes.iter().enumerate() {
            let Some(r) = node.router.as_ref() else {
                continue;
            };
            for k in 0..self.vrids.len() {
                let master = r.state(InstanceId(k as u16)) == Some(StateKind::Master);
                assert_eq!(
                    master, node.held[k],
                    "seed {}: node {n} VRID {} master={master} but holds VIPs={} at {:?}",
                    self.seed, self.vrids[k].vrid, node.held[k], self.now
                );
            }
        }
    }

    /// Largest Master_Down_Interval any node can have for VRID k.
    pub fn mdi_max(&self, k: usize) -> Duration {
        let v = &self.vrids[k];
        master_down_interval(v.version, 1, v.interval_cs, 3)
    }

    pub fn interval(&self, k: usize) -> Duration {
        Duration::from_centisecs(u64::from(self.vrids[k].interval_cs))
    }

    /// Best (smallest) Master_Down_Interval / Skew_Time among live backups of VRID k.
    pub fn best_backup_timers(&self, k: usize) -> Option<(Duration, Duration)> {
        let v = &self.vrids[k];
        (0..self.nodes.len())
            .filter(|&n| self.live(n) && self.state(n, k) == Some(StateKind::Backup))
            .map(|n| {
                let r = self.nodes[n].router.as_ref().unwrap();
                let id = InstanceId(k as u16);
                let mai = r.master_adver_interval_cs(id).unwrap();
                let p = r.effective_priority(id).unwrap();
                (
                    master_down_interval(v.version, p, mai, 3),
                    skew_time(v.version, p, mai),
                )
            })
            .min()
    }

    /// Exactly one master per VRID among live nodes, and no live backup
    /// with a higher effective priority unless it is `nopreempt`.
    pub fn check_converged(&self) -> Result<(), String> {
        for k in 0..self.vrids.len() {
            let live: Vec<usize> = (0..self.nodes.len()).filter(|&n| self.live(n)).collect();
            if live.is_empty() {
                continue;
            }
            let masters: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&n| self.state(n, k) == Some(StateKind::Master))
                .collect();
            if masters.len() != 1 {
                return Err(format!(
                    "VRID {}: masters {masters:?} (want exactly one)",
                    self.vrids[k].vrid
                ));
            }
            let m = masters[0];
            for &b in &live {
                let st = self.state(b, k);
                if b != m && st != Some(StateKind::Backup) {
                    return Err(format!("VRID {}: node {b} is {st:?}", self.vrids[k].vrid));
                }
                if b != m && self.eff(b, k) > self.eff(m, k) && !self.members[b][k].nopreempt {
                    return Err(format!(
                        "VRID {}: master node {m} prio {} but backup node {b} has prio {} (no nopreempt)",
                        self.vrids[k].vrid,
                        self.eff(m, k),
                        self.eff(b, k)
                    ));
                }
            }
        }
        Ok(())
    }
}
