//! The simulated segment: N nodes, each running a real `vrrp::Router` on
//! its own drifting clock (`clock.rs`), a seeded network with loss, loss
//! bursts, delay, duplication, reordering, corruption and partitions,
//! crashes, clean stops, link and tracker changes, and configuration
//! reloads done the way the daemon's SIGHUP does them (`reload_map`,
//! `handle_remove`, `adopt_from`, `handle_start`). Frames are real Ethernet
//! frames built and parsed by the wire codec (`frames.rs`), multicast or
//! unicast (`unicast_peer`); every frame on the segment can be captured to
//! a pcap.
//!
//! Checkers run inside the world (they panic with the seed):
//! * a node is Master iff it holds its VIPs; a VRID removed from a node's
//!   configuration holds none;
//! * the effective priority is `clamp(base + tracker weight, 1, 254)`, or
//!   255 for the address owner (254 after it met another owner);
//! * an instance is in FAULT iff its tracker reports FAULT or its link is down;
//! * every valid advert is accepted by the core; a Backup never changes
//!   state on an advert; a Master steps down exactly when the advert beats
//!   it (higher priority, or equal priority and higher primary address:
//!   the tie-break), and stays otherwise;
//! * a Backup takes over only after its down timer: no earlier than
//!   `down_timer_adverts` intervals (on its own clock) after the last
//!   advert that had to reset the timer (any advert for `nopreempt`, one at
//!   or above its priority otherwise), or after it entered BACKUP;
//! * a reload keeps unchanged instances exactly as they were (state, VIPs,
//!   timers, no notification) and restarts changed and new ones;
//! * a clean stop releases every VIP after a priority-0 advert per master;
//! * every frame the simulator did not corrupt parses; a GARP / unsolicited
//!   NA for each VIP follows every takeover;
//! * every clock stays within its drift bound and never goes back.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepvip::config::model::{Config, InstanceConfig, VrrpVersion};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::timers::{master_down_interval, skew_time};
use keepvip::vrrp::{
    Action, Actions, DropReason, InstanceId, NotifyState, Router, StateKind, TrackState, VipRef,
    reload_map,
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

/// Hook around every call into the core: the router, the wire codec
/// (frames.rs) and the trackers (the allocation test counts inside it).
pub static CORE_HOOK: std::sync::OnceLock<fn(bool)> = std::sync::OnceLock::new();

thread_local! {
    /// Nesting depth of core regions (a wire call inside a router region
    /// must not end the outer region).
    static DEPTH: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

pub fn hook(enter: bool) {
    let depth = DEPTH.with(|d| {
        let v = if enter { d.get() + 1 } else { d.get() - 1 };
        d.set(v);
        v
    });
    let edge = if enter { depth == 1 } else { depth == 0 };
    if edge && let Some(f) = CORE_HOOK.get() {
        f(enter);
    }
}

/// Calls made through [`in_core`] (the wire codec's, in frames.rs and the
/// receive path), so the allocation test can check they ran.
pub static IN_CORE_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `f` as a core call (inside the hook).
pub fn in_core<R>(f: impl FnOnce() -> R) -> R {
    IN_CORE_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    hook(true);
    let r = f();
    hook(false);
    r
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
    /// Adverts go by unicast to every other node (`unicast_src_ip`,
    /// `unicast_peer`), not to the multicast group.
    pub unicast: bool,
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
            unicast: false,
        }
    }
}

/// One node's settings for one VRID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub priority: u8,
    pub nopreempt: bool,
    pub preempt_delay_ms: u32,
    /// `advert_int` (cs): the VRID's, or (v3 only) this node's own; a v3
    /// Backup follows its master's.
    pub advert_int_cs: u16,
    /// keepalived's `down_timer_adverts` (RFC 5798: 3).
    pub down_timer_adverts: u8,
}

impl Member {
    /// `priority` with the VRID's interval and keepalived's defaults.
    pub fn new(v: &VridSpec, priority: u8) -> Member {
        Member {
            priority,
            nopreempt: false,
            preempt_delay_ms: 0,
            advert_int_cs: v.interval_cs,
            down_timer_adverts: 3,
        }
    }
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
    /// Node, VRID index, tracker result (weight and FAULT).
    Track(usize, usize, TrackState),
    Net {
        drop_ppm: u32,
        dup_ppm: u32,
        jitter_us: u64,
    },
    /// This fraction of the copies leaves the per-link FIFO order and is
    /// held back up to `span_us` more: later frames overtake it.
    Reorder {
        ppm: u32,
        span_us: u64,
    },
    /// Every copy from or to `node` (every copy when `None`) is lost for `len_us`.
    Burst {
        node: Option<usize>,
        len_us: u64,
    },
    /// Flip one random byte in this fraction of the frames (per receiver copy).
    Corrupt {
        ppm: u32,
    },
    /// Node `n`'s clock jumps `us` microseconds ahead.
    ClockStep(usize, u64),
    /// Node `n`'s clock runs at a new rate (ppm, within the bound).
    ClockRate(usize, i64),
    Block {
        from: usize,
        to: usize,
    },
    /// SIGHUP on `node` with a new configuration (see [`World::reload_plan`]).
    Reload {
        node: usize,
        seed: u64,
        kind: ReloadKind,
    },
    Heal,
}

/// What a reload's new file changes (instances are reordered in every case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadKind {
    /// Nothing else.
    Same,
    /// One or two random changes: priority, nopreempt, preempt_delay,
    /// a VRID removed or re-added.
    Random,
    /// VRID k removed.
    Remove(usize),
    /// Every VRID back, with its last settings.
    Restore,
}

/// How often each fault actually happened in a run (copies, events,
/// instances): the coverage report of the random seeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Copies lost to the random loss rate.
    pub lost: u64,
    /// Copies lost in loss bursts.
    pub burst_lost: u64,
    /// Copies dropped by a one-way block (the reverse direction open).
    pub blocked_one_way: u64,
    /// Copies dropped by a two-way partition.
    pub partitioned: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Copies delivered after a copy sent later on the same link.
    pub reordered: u64,
    /// Copies corrupted.
    pub corrupted: u64,
    /// Forward clock steps, and clock rate changes.
    pub clock_steps: u64,
    pub clock_rates: u64,
    /// Link down events (a flapping link counts each flap).
    pub link_downs: u64,
    /// Tracker weight changes and tracker FAULT reports.
    pub track_weight: u64,
    pub track_fault: u64,
    /// Reloads, and per instance: kept (adopted), restarted (changed),
    /// removed, added.
    pub reloads: u64,
    pub reload_kept: u64,
    pub reload_changed: u64,
    pub reload_removed: u64,
    pub reload_added: u64,
    pub crashes: u64,
    pub stops: u64,
    /// Adverts sent by unicast (one per peer).
    pub unicast_copies: u64,
    /// VIPs left on a node by a crash, of a VRID removed from its file
    /// before it restarted (no daemon can know they are its own).
    pub stale_vips: u64,
}

impl Coverage {
    /// (name, count) of every fault kind, in report order.
    pub fn kinds(&self) -> [(&'static str, u64); 20] {
        [
            ("random loss", self.lost),
            ("loss burst", self.burst_lost),
            ("one-way partition", self.blocked_one_way),
            ("two-way partition", self.partitioned),
            ("duplicate", self.duplicated),
            ("reorder", self.reordered),
            ("corruption", self.corrupted),
            ("clock step", self.clock_steps),
            ("clock rate change", self.clock_rates),
            ("link down/flap", self.link_downs),
            ("tracker weight", self.track_weight),
            ("tracker FAULT", self.track_fault),
            ("reload", self.reloads),
            ("reload: kept", self.reload_kept),
            ("reload: changed", self.reload_changed),
            ("reload: removed", self.reload_removed),
            ("reload: added", self.reload_added),
            ("crash", self.crashes),
            ("clean stop", self.stops),
            ("unicast", self.unicast_copies),
        ]
    }
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

/// Node `n`'s source (primary) address for VRID `v`: IPv4, IPv6
/// link-local for multicast, IPv6 global for unicast.
pub fn src_addr(v: &VridSpec, n: usize) -> IpAddr {
    match (v.v6, v.unicast) {
        (false, _) => IpAddr::V4(frames::node_addr4(n)),
        (true, false) => IpAddr::V6(frames::node_addr6(n)),
        (true, true) => IpAddr::V6(frames::node_addr6_global(n)),
    }
}

/// Node `n`'s instance for VRID `v`.
pub fn instance_config(v: &VridSpec, m: &Member, n: usize, nodes: usize) -> InstanceConfig {
    let vips = vip_list(v);
    let mut c: InstanceConfig =
        cfg::instance(&format!("VI_{}", v.vrid), v.vrid, v.version, vips[0]);
    for a in &vips[1..] {
        c.virtual_ipaddress.push(cfg::vip_entry(*a)).unwrap();
    }
    c.checksum_as_v2 = v.checksum_as_v2;
    c.advert_int_cs = m.advert_int_cs;
    c.down_timer_adverts = m.down_timer_adverts;
    c.priority = m.priority;
    c.nopreempt = m.nopreempt;
    c.preempt_delay_ms = m.preempt_delay_ms;
    c.garp_master_delay_s = 1;
    c.garp_master_repeat = 2;
    c.garp_interval_us = 1000;
    c.gna_interval_us = 1000;
    if v.unicast {
        c.unicast_src_ip = Some(src_addr(v, n));
        for p in (0..nodes).filter(|&p| p != n) {
            c.unicast_peer.push(src_addr(v, p)).unwrap();
        }
    }
    c
}

/// `down_timer_adverts` advertisement intervals: the least a down timer runs.
fn down_adverts(mai_cs: u16, dta: u8) -> Duration {
    Duration::from_centisecs(u64::from(mai_cs) * u64::from(dta))
}

/// Which VRID a node's instances serve: `slot[k]` is VRID k's instance
/// (None: not in this node's configuration), `kof[i]` instance i's VRID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub slot: Vec<Option<InstanceId>>,
    pub kof: Vec<usize>,
}

impl Layout {
    fn new(order: &[usize], nv: usize) -> Layout {
        let mut slot = vec![None; nv];
        for (i, &k) in order.iter().enumerate() {
            slot[k] = Some(InstanceId(i as u16));
        }
        Layout {
            slot,
            kof: order.to_vec(),
        }
    }
}

pub struct Node {
    pub addr4: Ipv4Addr,
    pub addr6: Ipv6Addr,
    pub mac: frames::MacAddr,
    pub config: Box<Config>,
    pub layout: Layout,
    pub router: Option<Box<Router>>,
    /// Simulated address table: does this node hold VRID k's VIPs?
    pub held: Vec<bool>,
    /// VRID k's VIPs are leftovers of a crash that no instance of the
    /// running configuration owns (the VRID was removed from the file
    /// while the daemon was down: nothing can know they are ours).
    pub stale: Vec<bool>,
    pub link_up: bool,
    /// Tracker results per VRID (vrrp_script / track_process / track_file).
    pub track: Vec<TrackState>,
    /// GARP / unsolicited NA frames this node built.
    pub garps: u64,
    /// Adverts this node built (a unicast advert counts once).
    pub adverts: u64,
    /// Priority-0 adverts the core asked for.
    pub prio0: u64,
    /// The node's monotonic clock (survives daemon restarts).
    pub clock: Clock,
    /// TTL / hop limit of this node's unicast adverts (a peer routed
    /// several hops away sees less than 255: unicast skips the TTL check).
    pub unicast_ttl: u8,
    /// IPv4 ident / IPv6 flow label of the next advert.
    ident: u32,
    /// Per VRID: VIPs still owed a GARP/NA since the last takeover, and
    /// the true time by which they must have been announced.
    pending_garp: Vec<Option<(Instant, Vec<IpAddr>)>>,
    /// Per VRID as Backup: the earliest local time its down timer can
    /// fire, from the events that (re)start it: entering BACKUP and the
    /// adverts it must not ignore (any for `nopreempt`, those at or above
    /// its priority otherwise) set it `down_timer_adverts` intervals
    /// ahead; a lower advert during preempt_delay may restart it (the
    /// (the simulator follows preempt_delay the way keepalived defines
    /// it: from the first lower advert, ended by one at or above ours); a
    /// priority-0 advert clears it (Skew_Time).
    earliest_takeover: Vec<Option<Instant>>,
    /// Per VRID as Backup: when its preempt_delay ends (local time).
    preempt_at: Vec<Option<Instant>>,
    /// Per VRID: the state before the current core call.
    pre: Vec<Option<StateKind>>,
    /// Frames the NIC / kernel filtered before the VRRP socket, per reason.
    pub filtered: [u64; 3],
}

pub struct World {
    pub seed: u64,
    pub now: Instant,
    pub rng: Rng,
    pub vrids: Vec<VridSpec>,
    /// members[n][k]: node n's current settings for VRID k (the last ones
    /// when the VRID is not in its configuration).
    pub members: Vec<Vec<Member>>,
    pub nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<Frame>>,
    seq: u64,
    pub drop_ppm: u32,
    pub dup_ppm: u32,
    pub delay_min_us: u64,
    pub jitter_us: u64,
    /// Extra latency of one link, `link_delay_us[from][to]` (a congested
    /// path; 0 unless a test sets it: the random seeds never do).
    pub link_delay_us: Vec<Vec<u64>>,
    pub reorder_ppm: u32,
    pub reorder_span_us: u64,
    /// Loss bursts: everything until `burst_all`, from / to node n until `burst[n]`.
    pub burst_all: Instant,
    pub burst: Vec<Instant>,
    /// blocked[from][to]
    pub blocked: Vec<Vec<bool>>,
    /// Last delivery time per (from, to): a segment does not reorder frames
    /// (unless the reorder fault holds a copy back).
    last_at: Vec<Vec<Instant>>,
    /// Send sequence of the last copy delivered per (from, to).
    last_seq: Vec<Vec<u64>>,
    events: Vec<(Instant, u64, Event)>,
    out: Actions,
    /// Local time of the core call in progress.
    local: Instant,
    /// (time, node, VRID index, state) from Notify actions.
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
    pub cov: Coverage,
    /// VRIDs that had two or more masters when the network healed.
    pub split_brains: u64,
    /// Every frame put on the segment, when capturing.
    pub capture: Option<PcapWriter<VecSink>>,
}

/// The configuration of node `n`: `members[k]` for VRID k when `Some`,
/// instances in file order `order`.
fn node_config(
    vrids: &[VridSpec],
    nodes: usize,
    n: usize,
    members: &[Option<Member>],
    order: &[usize],
) -> (Box<Config>, Layout) {
    let insts: Vec<InstanceConfig> = order
        .iter()
        .map(|&k| instance_config(&vrids[k], members[k].as_ref().unwrap(), n, nodes))
        .collect();
    (cfg::config(insts), Layout::new(order, vrids.len()))
}

impl World {
    pub fn new(seed: u64, vrids: Vec<VridSpec>, members: Vec<Vec<Member>>, trace: bool) -> World {
        let n = members.len();
        let k = vrids.len();
        let mut nodes = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let all: Vec<Option<Member>> = m.iter().cloned().map(Some).collect();
            let order: Vec<usize> = (0..k).collect();
            let (config, layout) = node_config(&vrids, n, i, &all, &order);
            nodes.push(Node {
                addr4: frames::node_addr4(i),
                addr6: frames::node_addr6(i),
                mac: frames::node_mac(i),
                config,
                layout,
                router: None,
                held: vec![false; k],
                stale: vec![false; k],
                link_up: true,
                track: vec![TrackState::default(); k],
                garps: 0,
                adverts: 0,
                prio0: 0,
                clock: Clock::ideal(),
                unicast_ttl: 255,
                ident: (i as u32) << 12,
                pending_garp: vec![None; k],
                earliest_takeover: vec![None; k],
                preempt_at: vec![None; k],
                pre: vec![None; k],
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
            link_delay_us: vec![vec![0; n]; n],
            reorder_ppm: 0,
            reorder_span_us: 0,
            burst_all: Instant::ZERO,
            burst: vec![Instant::ZERO; n],
            blocked: vec![vec![false; n]; n],
            last_at: vec![vec![Instant::ZERO; n]; n],
            last_seq: vec![vec![0; n]; n],
            events: Vec::new(),
            out: Actions::new(),
            local: Instant::ZERO,
            transitions: Vec::new(),
            trace: if trace { Some(String::new()) } else { None },
            steps: 0,
            frames_delivered: 0,
            corrupt_ppm: 0,
            corrupted: 0,
            corrupt_refused: 0,
            cov: Coverage::default(),
            split_brains: 0,
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

    /// Node `node`'s source address for VRID k.
    pub fn src(&self, node: usize, k: usize) -> IpAddr {
        src_addr(&self.vrids[k], node)
    }

    /// VRID k's instance on node n, if its configuration has one.
    pub fn id(&self, n: usize, k: usize) -> Option<InstanceId> {
        self.nodes[n].layout.slot[k]
    }

    pub fn present(&self, n: usize, k: usize) -> bool {
        self.id(n, k).is_some()
    }

    /// The daemon runs and its link is up.
    pub fn live(&self, node: usize) -> bool {
        self.nodes[node].router.is_some() && self.nodes[node].link_up
    }

    /// Live and configured for VRID k.
    pub fn runs(&self, node: usize, k: usize) -> bool {
        self.live(node) && self.present(node, k)
    }

    pub fn state(&self, node: usize, k: usize) -> Option<StateKind> {
        let id = self.id(node, k)?;
        self.nodes[node].router.as_ref()?.state(id)
    }

    pub fn eff(&self, node: usize, k: usize) -> u8 {
        self.id(node, k)
            .and_then(|id| self.nodes[node].router.as_ref()?.effective_priority(id))
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
            if let Some(id) = self.id(n, k) {
                r.set_src_addr(id, self.src(n, k));
            }
        }
        self.nodes[n].router = Some(r);
        let node = &mut self.nodes[n];
        node.earliest_takeover.iter_mut().for_each(|p| *p = None);
        node.preempt_at.iter_mut().for_each(|p| *p = None);
        for k in 0..self.vrids.len() {
            if !self.present(n, k) && self.nodes[n].held[k] && !self.nodes[n].stale[k] {
                self.nodes[n].stale[k] = true;
                self.cov.stale_vips += 1;
                self.log(|| format!("node {n}: VIPs of the removed VRID {k} left from a crash"));
            }
        }
        let link = self.nodes[n].link_up;
        let track: Vec<(InstanceId, TrackState)> = (0..self.vrids.len())
            .filter_map(|k| Some((self.id(n, k)?, self.nodes[n].track[k])))
            .collect();
        self.core(n, |r, now, out| {
            if !link {
                r.handle_link(now, "eth0", false, out);
            }
            for (id, t) in track {
                r.handle_track(now, id, t, out);
            }
            r.handle_start(now, out);
        });
        let m = self.members[n].clone();
        self.log(|| format!("node {n} boots: {m:?}"));
    }

    /// Run a core call on node `n` at its local time and execute its actions.
    fn core(&mut self, n: usize, f: impl FnOnce(&mut Router, Instant, &mut Actions)) {
        if self.nodes[n].router.is_none() {
            return;
        }
        for k in 0..self.vrids.len() {
            self.nodes[n].pre[k] = self.state(n, k);
        }
        let local = self.local_now(n);
        self.local = local;
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

    fn inst_config(&self, n: usize, id: InstanceId) -> &InstanceConfig {
        &self.nodes[n].config.instances[id.index()]
    }

    fn vip(&self, n: usize, id: InstanceId, v: VipRef) -> IpAddr {
        let c = self.inst_config(n, id);
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
        let k = self.nodes[n].layout.kof[inst.index()];
        match a {
            Action::SendAdvert { inst, priority } => {
                let r = self.nodes[n].router.as_ref().unwrap();
                hook(true);
                let repr = r.advert_repr(inst, priority).unwrap();
                hook(false);
                let v = &self.vrids[k];
                let src = self.src(n, k);
                assert_eq!(
                    r.src_addr(inst),
                    Some(src),
                    "seed {}: node {n} VRID {}: source address",
                    self.seed,
                    v.vrid
                );
                let unicast = v.unicast;
                let peers: Vec<IpAddr> = self.inst_config(n, inst).unicast_peer.to_vec();
                let node = &mut self.nodes[n];
                let as_v2 = node.config.instances[inst.index()].checksum_as_v2;
                node.adverts += 1;
                if priority == 0 {
                    node.prio0 += 1;
                }
                self.log(|| format!("node {n} VRID {} sends advert prio {priority}", repr.vrid));
                if !unicast {
                    let node = &mut self.nodes[n];
                    let id = node.ident;
                    node.ident = node.ident.wrapping_add(1);
                    let frame =
                        frames::advert(node.mac, src, id, &repr, as_v2).unwrap_or_else(|e| {
                            panic!("seed {}: cannot emit {repr:?}: {e}", self.seed)
                        });
                    self.transmit(n, None, frame);
                    return;
                }
                // One copy per unicast_peer, to its address and MAC.
                for dst in peers {
                    let to = (0..self.nodes.len())
                        .find(|&p| self.src(p, k) == dst)
                        .expect("unicast peer is a node");
                    let node = &mut self.nodes[n];
                    let id = node.ident;
                    node.ident = node.ident.wrapping_add(1);
                    let frame = frames::advert_to(
                        node.mac,
                        frames::node_mac(to),
                        src,
                        dst,
                        id,
                        node.unicast_ttl,
                        &repr,
                        as_v2,
                    )
                    .unwrap_or_else(|e| panic!("seed {}: cannot emit {repr:?}: {e}", self.seed));
                    self.cov.unicast_copies += 1;
                    self.transmit(n, Some(to), frame);
                }
            }
            Action::AddVips { .. } => {
                self.nodes[n].held[k] = true;
                self.nodes[n].stale[k] = false;
            }
            Action::DelVips { .. } => {
                self.nodes[n].held[k] = false;
                self.nodes[n].stale[k] = false;
            }
            Action::SendGarp { inst, vip, .. } => {
                let addr = self.vip(n, inst, vip);
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
                self.transmit(n, None, frame);
            }
            Action::MasterRxLowerPri { priority, .. } => {
                let vrid = self.vrids[k].vrid;
                self.log(|| format!("node {n} VRID {vrid} MASTER_RX_LOWER_PRI (prio {priority})"));
            }
            Action::Notify {
                inst,
                state,
                priority,
            } => {
                let vrid = self.vrids[k].vrid;
                self.log(|| {
                    format!(
                        "node {n} VRID {vrid} -> {} (prio {priority})",
                        state.as_str()
                    )
                });
                let local = self.local;
                if state == NotifyState::Master
                    && self.nodes[n].pre[k] == Some(StateKind::Backup)
                    && let Some(at) = self.nodes[n].earliest_takeover[k]
                {
                    assert!(
                        local >= at,
                        "seed {}: node {n} VRID {vrid} took over {:?} before its down timer \
                         can expire (local time {local:?})",
                        self.seed,
                        at - local
                    );
                }
                // Entering BACKUP starts the down timer on the interval the
                // instance now follows (its own, or a v3 master's).
                let mai = self.nodes[n]
                    .router
                    .as_ref()
                    .and_then(|r| r.master_adver_interval_cs(inst));
                let dta = self.inst_config(n, inst).down_timer_adverts;
                self.nodes[n].earliest_takeover[k] = match (state, mai) {
                    (NotifyState::Backup, Some(mai)) => Some(local + down_adverts(mai, dta)),
                    _ => None,
                };
                self.nodes[n].preempt_at[k] = None;
                self.nodes[n].pending_garp[k] = match state {
                    NotifyState::Master => {
                        let c = self.inst_config(n, inst);
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
    /// one copy per receiver (`to`, or every other node), each subject to
    /// the network faults.
    fn transmit(&mut self, from: usize, to: Option<usize>, frame: Vec<u8>) {
        if !self.nodes[from].link_up {
            return;
        }
        if let Some(w) = self.capture.as_mut() {
            w.write_frame(self.now, &frame).unwrap();
        }
        let targets: Vec<usize> = match to {
            Some(t) => vec![t],
            None => (0..self.nodes.len()).filter(|&t| t != from).collect(),
        };
        for to in targets {
            if self.blocked[from][to] {
                if self.blocked[to][from] {
                    self.cov.partitioned += 1;
                } else {
                    self.cov.blocked_one_way += 1;
                }
                continue;
            }
            if self.now < self.burst_all || self.now < self.burst[from] || self.now < self.burst[to]
            {
                self.cov.burst_lost += 1;
                continue;
            }
            if self.rng.chance_ppm(self.drop_ppm) {
                self.cov.lost += 1;
                continue;
            }
            let copies = if self.rng.chance_ppm(self.dup_ppm) {
                self.cov.duplicated += 1;
                2
            } else {
                1
            };
            for _ in 0..copies {
                let delay = self.delay_min_us
                    + self.link_delay_us[from][to]
                    + self.rng.below(self.jitter_us + 1);
                let mut at = self.now + Duration::from_micros(delay);
                if self.reorder_ppm > 0 && self.rng.chance_ppm(self.reorder_ppm) {
                    // Held back outside the FIFO: later copies may overtake it.
                    at += Duration::from_micros(self.rng.below(self.reorder_span_us + 1));
                } else {
                    at = at.max(self.last_at[from][to]);
                    self.last_at[from][to] = at;
                }
                self.seq += 1;
                let mut bytes = frame.clone();
                let corrupted = self.corrupt_ppm > 0 && self.rng.chance_ppm(self.corrupt_ppm);
                if corrupted {
                    let i = self.rng.below(bytes.len() as u64) as usize;
                    bytes[i] ^= 1 + self.rng.below(255) as u8;
                    self.corrupted += 1;
                    self.cov.corrupted += 1;
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
        if f.seq < self.last_seq[f.from][to] {
            self.cov.reordered += 1;
        } else {
            self.last_seq[f.from][to] = f.seq;
        }
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
        if let Err(e) = in_core(|| packet.check_len()) {
            self.refuse(&f, None, frames::drop_reason(e), format!("VRRP: {e}"));
            return;
        }
        let r = self.nodes[to].router.as_ref().unwrap();
        let id = r.find_instance("eth0", ip.family, packet.vrid());
        let parsed = match id {
            Some(id) => {
                let c = self.inst_config(to, id);
                let version = match c.version {
                    VrrpVersion::V2 => wire_vrrp::Version::V2,
                    VrrpVersion::V3 => wire_vrrp::Version::V3,
                };
                let mode = frames::checksum_mode(version, c.checksum_as_v2, ip.src, ip.dst);
                in_core(|| wire_vrrp::Repr::parse(&packet, ip.family, mode))
            }
            None => in_core(|| {
                wire_vrrp::Repr::parse_detect_checksum(&packet, ip.src, ip.dst).map(|r| r.0)
            }),
        };
        let repr = match parsed {
            Ok(r) => r,
            Err(e) => {
                self.refuse(&f, id, frames::drop_reason(e), format!("VRRP: {e}"));
                return;
            }
        };
        let (src, dst, ttl) = (ip.src, ip.dst, ip.ttl);
        let Some(id) = id else {
            if !f.corrupted {
                // The VRID was removed from this node's configuration.
                let r = self.nodes[to].router.as_mut().unwrap();
                hook(true);
                r.record_drop(None, DropReason::Vrid);
                hook(false);
                return;
            }
            self.refuse(&f, None, DropReason::Vrid, format!("no VRID {}", repr.vrid));
            return;
        };
        let k = self.nodes[to].layout.kof[id.index()];
        let c = self.inst_config(to, id);
        // The shell's unicast_peer filter (daemon/rx.rs).
        if c.is_unicast() && !c.unicast_peer.contains(&src) {
            assert!(
                f.corrupted,
                "seed {}: node {to} VRID {}: intact advert from {src} not a unicast_peer",
                self.seed, self.vrids[k].vrid
            );
            return;
        }
        if !f.corrupted {
            assert_eq!(
                src,
                self.src(f.from, k),
                "seed {}: advert source",
                self.seed
            );
            if self.vrids[k].unicast {
                assert_eq!(dst, self.src(to, k), "seed {}: unicast advert", self.seed);
            }
        }
        let (from, prio) = (f.from, repr.priority);
        self.log(|| {
            format!(
                "node {to} receives VRID {} prio {prio} from node {from}",
                repr.vrid
            )
        });
        let r = self.nodes[to].router.as_ref().unwrap();
        let pre_state = r.state(id).unwrap();
        let pre_eff = r.effective_priority(id).unwrap();
        let pre_rcvd = r.stats(id).unwrap().advert_rcvd;
        let own = r.src_addr(id).unwrap();
        self.core(to, |r, now, out| {
            r.handle_advert(now, id, src, ttl, &repr, out);
        });
        let r = self.nodes[to].router.as_ref().unwrap();
        let post = r.state(id).unwrap();
        let accepted = r.stats(id).unwrap().advert_rcvd > pre_rcvd;
        if !f.corrupted {
            assert!(
                accepted || pre_state == StateKind::Initialize,
                "seed {}: node {to} VRID {} in {pre_state:?} refused a valid advert from node {from}",
                self.seed,
                self.vrids[k].vrid
            );
        }
        if !accepted {
            return;
        }
        let vrid = self.vrids[k].vrid;
        match pre_state {
            StateKind::Master => {
                // RFC 5798 6.4.3 with the owner back-off of RFC 9568.
                let beaten = prio != 0
                    && (prio > pre_eff
                        || (prio == pre_eff && src > own)
                        || (prio == 255 && pre_eff == 255 && src != own));
                let want = if beaten {
                    StateKind::Backup
                } else {
                    StateKind::Master
                };
                assert_eq!(
                    post, want,
                    "seed {}: node {to} VRID {vrid} master (prio {pre_eff}, {own}) got prio {prio} from {src}",
                    self.seed
                );
            }
            StateKind::Backup => {
                assert_eq!(
                    post,
                    StateKind::Backup,
                    "seed {}: node {to} VRID {vrid}: a Backup changed state on an advert",
                    self.seed
                );
                let m = &self.members[to][k];
                let mai = match self.vrids[k].version {
                    VrrpVersion::V3 => repr.max_adver_int_cs,
                    VrrpVersion::V2 => m.advert_int_cs,
                };
                let local = self.local;
                let reset = local + down_adverts(mai, m.down_timer_adverts);
                let delay = Duration::from_millis(u64::from(m.preempt_delay_ms));
                let node = &mut self.nodes[to];
                let (e, pa) = (&mut node.earliest_takeover[k], &mut node.preempt_at[k]);
                if prio == 0 {
                    // Skew_Time from now: no lower bound left.
                    *e = None;
                } else if m.nopreempt || prio >= pre_eff {
                    *e = Some(reset);
                    *pa = None;
                } else if delay > Duration::ZERO && pa.is_none_or(|at| at > local) {
                    // A lower advert while preempt_delay runs (it starts
                    // with the first one): the down timer restarts.
                    *pa = Some(pa.unwrap_or(local + delay));
                    *e = Some(reset);
                }
            }
            s => assert_eq!(post, s, "seed {}: node {to} VRID {vrid}", self.seed),
        }
    }

    /// A new configuration for node `n` drawn from `seed`: per VRID its
    /// settings (None: removed), and the instances' order in the file.
    pub fn reload_plan(
        &self,
        n: usize,
        seed: u64,
        kind: ReloadKind,
    ) -> (Vec<Option<Member>>, Vec<usize>) {
        let mut g = Rng::new(seed);
        let nv = self.vrids.len();
        let mut members: Vec<Option<Member>> = (0..nv)
            .map(|k| self.present(n, k).then(|| self.members[n][k].clone()))
            .collect();
        match kind {
            ReloadKind::Remove(k) => members[k] = None,
            ReloadKind::Restore => {
                members = self.members[n].iter().cloned().map(Some).collect();
            }
            ReloadKind::Same | ReloadKind::Random => {}
        }
        if kind == ReloadKind::Random {
            for _ in 0..g.range(1, 2) {
                let k = g.below(nv as u64) as usize;
                let interval_ms = u64::from(self.members[n][k].advert_int_cs) * 10;
                let m = &mut members[k];
                match (m.as_mut(), g.below(5)) {
                    // Re-add a removed VRID with its last settings.
                    (None, _) => *m = Some(self.members[n][k].clone()),
                    (Some(_), 0) => *m = None,
                    // The owner stays the owner (and keeps preempting).
                    (Some(x), _) if x.priority == 255 => {}
                    (Some(x), 1) => x.priority = g.range(1, 254) as u8,
                    (Some(x), 2) => {
                        x.nopreempt = !x.nopreempt;
                        x.preempt_delay_ms = 0;
                    }
                    (Some(x), 3) if !x.nopreempt => {
                        x.preempt_delay_ms = g.range(0, 3 * interval_ms) as u32;
                    }
                    (Some(x), _) => {
                        x.priority = g.range(1, 254) as u8;
                        x.nopreempt = false;
                    }
                }
            }
        }
        let mut order: Vec<usize> = (0..nv).filter(|&k| members[k].is_some()).collect();
        for i in (1..order.len()).rev() {
            let j = g.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        (members, order)
    }

    /// SIGHUP on node `n` with the new settings `members` (None: VRID not
    /// configured), instances in file order `order`: the daemon's reload
    /// (daemon.rs) step by step, with its checkers.
    pub fn reload(&mut self, n: usize, members: Vec<Option<Member>>, order: Vec<usize>) {
        let nv = self.vrids.len();
        let (new_cfg, layout) = node_config(&self.vrids, self.nodes.len(), n, &members, &order);
        let old_members = self.members[n].clone();
        for (k, m) in members.iter().enumerate() {
            if let Some(m) = m {
                self.members[n][k] = m.clone();
            }
        }
        self.cov.reloads += 1;
        if self.nodes[n].router.is_none() {
            // Not running: the next start reads the new file.
            self.nodes[n].config = new_cfg;
            self.nodes[n].layout = layout;
            return;
        }
        let mut map = heapless::Vec::new();
        hook(true);
        reload_map(&self.nodes[n].config, &new_cfg, &mut map);
        hook(false);
        // What the new file keeps (adopted), restarts, removes and adds, per VRID.
        let adopted: Vec<bool> = (0..nv)
            .map(|k| layout.slot[k].is_some_and(|id| map[id.index()].is_some()))
            .collect();
        for k in 0..nv {
            if let Some(id) = layout.slot[k]
                && let Some(old) = map[id.index()]
            {
                assert_eq!(
                    self.id(n, k),
                    Some(old),
                    "seed {}: reload_map maps VRID {} to another instance",
                    self.seed,
                    self.vrids[k].vrid
                );
            }
            match (self.present(n, k), layout.slot[k].is_some()) {
                (true, true) if adopted[k] => self.cov.reload_kept += 1,
                (true, true) => self.cov.reload_changed += 1,
                (true, false) => self.cov.reload_removed += 1,
                (false, true) => self.cov.reload_added += 1,
                (false, false) => {}
            }
            // Kept exactly when the instance is in both files, unchanged.
            let unchanged = self.present(n, k) && members[k].as_ref() == Some(&old_members[k]);
            assert_eq!(
                adopted[k], unchanged,
                "seed {}: node {n} VRID {}: reload_map keeps={} an instance that is unchanged={unchanged}",
                self.seed, self.vrids[k].vrid, adopted[k]
            );
        }
        let r = self.nodes[n].router.as_ref().unwrap();
        let before: Vec<_> = (0..nv)
            .map(|k| {
                let id = self.id(n, k)?;
                Some((
                    r.state(id),
                    r.effective_priority(id),
                    r.master_addr(id),
                    r.master_adver_interval_cs(id),
                    r.last_transition(id),
                    self.nodes[n].held[k],
                ))
            })
            .collect();
        let transitions_before = self.transitions.len();
        // Stop what goes away (removed or changed), with the old router.
        let gone: Vec<InstanceId> = (0..self.nodes[n].config.instances.len())
            .map(|i| InstanceId(i as u16))
            .filter(|id| !map.contains(&Some(*id)))
            .collect();
        let masters_gone = gone
            .iter()
            .filter(|id| r.state(**id) == Some(StateKind::Master))
            .count() as u64;
        let prio0 = self.nodes[n].prio0;
        self.core(n, |r, now, out| {
            for id in gone {
                r.handle_remove(now, id, out);
            }
        });
        assert_eq!(
            self.nodes[n].prio0 - prio0,
            masters_gone,
            "seed {}: node {n}: reload stops {masters_gone} masters",
            self.seed
        );
        for (k, &kept) in adopted.iter().enumerate() {
            if self.present(n, k) && !kept {
                assert!(
                    !self.nodes[n].held[k],
                    "seed {}: node {n} VRID {}: a stopped instance keeps its VIPs",
                    self.seed, self.vrids[k].vrid
                );
            }
        }
        // The new router adopts the unchanged instances, then starts the rest.
        let mut r = Router::new_boxed(&new_cfg).expect("router");
        let old = self.nodes[n].router.take().unwrap();
        hook(true);
        let kept = r.adopt_from(&old, &map);
        hook(false);
        drop(old);
        assert_eq!(kept, adopted.iter().filter(|a| **a).count());
        for k in 0..nv {
            if let Some(id) = layout.slot[k] {
                r.set_src_addr(id, self.src(n, k));
            }
        }
        self.nodes[n].config = new_cfg;
        self.nodes[n].layout = layout;
        self.nodes[n].router = Some(r);
        for (k, &kept) in adopted.iter().enumerate() {
            if !kept {
                self.nodes[n].earliest_takeover[k] = None;
                self.nodes[n].preempt_at[k] = None;
                self.nodes[n].pending_garp[k] = None;
            }
        }
        let link = self.nodes[n].link_up;
        let fresh: Vec<(InstanceId, TrackState)> = (0..nv)
            .filter(|&k| !adopted[k])
            .filter_map(|k| Some((self.id(n, k)?, self.nodes[n].track[k])))
            .collect();
        self.core(n, |r, now, out| {
            r.handle_link(now, "eth0", link, out);
            for (id, t) in fresh {
                r.handle_track(now, id, t, out);
            }
            r.handle_start(now, out);
        });
        // Unchanged instances: untouched. Restarted and new ones: started.
        let r = self.nodes[n].router.as_ref().unwrap();
        for k in 0..nv {
            let vrid = self.vrids[k].vrid;
            let notified = self.transitions[transitions_before..]
                .iter()
                .filter(|t| t.1 == n && t.2 == k)
                .count();
            let Some(id) = self.id(n, k) else {
                assert!(!self.nodes[n].held[k] || self.nodes[n].stale[k]);
                continue;
            };
            if adopted[k] {
                let after = Some((
                    r.state(id),
                    r.effective_priority(id),
                    r.master_addr(id),
                    r.master_adver_interval_cs(id),
                    r.last_transition(id),
                    self.nodes[n].held[k],
                ));
                assert_eq!(
                    after, before[k],
                    "seed {}: node {n} VRID {vrid}: an unchanged instance changed on reload",
                    self.seed
                );
                assert_eq!(notified, 0, "seed {}: node {n} VRID {vrid}", self.seed);
            } else {
                let st = r.state(id).unwrap();
                assert!(
                    st != StateKind::Initialize && notified >= 1,
                    "seed {}: node {n} VRID {vrid}: a changed / new instance did not start ({st:?})",
                    self.seed
                );
            }
        }
        self.log(|| format!("node {n} reloads: order {order:?}, kept {kept}"));
    }

    fn apply(&mut self, e: Event) {
        self.log(|| format!("event {e:?}"));
        match e {
            Event::Crash(n) => {
                // kill -9: the VIPs stay on the interface.
                if self.nodes[n].router.is_some() {
                    self.cov.crashes += 1;
                }
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
                if self.nodes[n].router.is_none() {
                    return;
                }
                self.cov.stops += 1;
                let masters = (0..self.vrids.len())
                    .filter(|&k| self.state(n, k) == Some(StateKind::Master))
                    .count() as u64;
                let prio0 = self.nodes[n].prio0;
                self.core(n, |r, now, out| r.handle_shutdown(now, out));
                assert_eq!(
                    self.nodes[n].prio0 - prio0,
                    masters,
                    "seed {}: node {n}: one priority-0 advert per master on a clean stop",
                    self.seed
                );
                let node = &self.nodes[n];
                assert!(
                    (0..self.vrids.len()).all(|k| !node.held[k] || node.stale[k]),
                    "seed {}: node {n} keeps VIPs after a clean stop",
                    self.seed
                );
                self.nodes[n].router = None;
            }
            Event::Link(n, up) => {
                if self.nodes[n].link_up && !up {
                    self.cov.link_downs += 1;
                }
                self.nodes[n].link_up = up;
                self.core(n, |r, now, out| r.handle_link(now, "eth0", up, out));
            }
            Event::Track(n, k, t) => {
                let old = self.nodes[n].track[k];
                if t.fault && !old.fault {
                    self.cov.track_fault += 1;
                }
                if t.weight != old.weight {
                    self.cov.track_weight += 1;
                }
                self.nodes[n].track[k] = t;
                if let Some(id) = self.id(n, k) {
                    self.core(n, |r, now, out| r.handle_track(now, id, t, out));
                }
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
            Event::Reorder { ppm, span_us } => {
                self.reorder_ppm = ppm;
                self.reorder_span_us = span_us;
            }
            Event::Burst { node, len_us } => {
                let until = self.now + Duration::from_micros(len_us);
                match node {
                    Some(n) => self.burst[n] = self.burst[n].max(until),
                    None => self.burst_all = self.burst_all.max(until),
                }
            }
            Event::Corrupt { ppm } => self.corrupt_ppm = ppm,
            Event::ClockStep(n, us) => {
                let now = self.now;
                self.nodes[n].clock.step(now, us);
                self.cov.clock_steps += 1;
            }
            Event::ClockRate(n, ppm) => {
                let now = self.now;
                self.nodes[n].clock.set_rate(now, ppm);
                self.cov.clock_rates += 1;
            }
            Event::Block { from, to } => self.blocked[from][to] = true,
            Event::Reload { node, seed, kind } => {
                let (members, order) = self.reload_plan(node, seed, kind);
                self.reload(node, members, order);
            }
            Event::Heal => {
                self.drop_ppm = 0;
                self.dup_ppm = 0;
                self.corrupt_ppm = 0;
                self.reorder_ppm = 0;
                self.burst_all = self.now;
                self.burst.iter_mut().for_each(|b| *b = Instant::ZERO);
                for row in self.blocked.iter_mut() {
                    row.iter_mut().for_each(|b| *b = false);
                }
                for n in 0..self.nodes.len() {
                    // Trackers recover (their weights stay).
                    for k in 0..self.vrids.len() {
                        let t = self.nodes[n].track[k];
                        if t.fault {
                            self.apply(Event::Track(n, k, TrackState { fault: false, ..t }));
                        }
                    }
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
        self.check_priorities();
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

    /// A node is Master iff it holds the VIPs (crashed nodes excepted: kill
    /// -9 leaves them on the interface); a VRID not configured holds none,
    /// unless they are crash leftovers of a VRID removed meanwhile.
    fn check_coherence(&self) {
        for (n, node) in self.nodes.iter().enumerate() {
            if node.router.is_none() {
                continue;
            }
            for k in 0..self.vrids.len() {
                if node.stale[k] {
                    continue;
                }
                let master = self.state(n, k) == Some(StateKind::Master);
                assert_eq!(
                    master, node.held[k],
                    "seed {}: node {n} VRID {} master={master} but holds VIPs={} at {:?}",
                    self.seed, self.vrids[k].vrid, node.held[k], self.now
                );
            }
        }
    }

    /// Effective priority = clamp(base + weight, 1, 254), 255 for the
    /// owner (254 after another owner was seen); FAULT iff the tracker
    /// says FAULT or the link is down.
    fn check_priorities(&self) {
        for (n, node) in self.nodes.iter().enumerate() {
            let Some(r) = node.router.as_ref() else {
                continue;
            };
            for k in 0..self.vrids.len() {
                let Some(id) = self.id(n, k) else { continue };
                let vrid = self.vrids[k].vrid;
                let conf = self.members[n][k].priority;
                let base = r.base_priority(id).unwrap();
                let eff = r.effective_priority(id).unwrap();
                assert!(
                    base == conf || (conf == 255 && base == 254),
                    "seed {}: node {n} VRID {vrid}: base priority {base}, configured {conf}",
                    self.seed
                );
                let want = if base == 255 {
                    255
                } else {
                    (i32::from(base) + node.track[k].weight).clamp(1, 254) as u8
                };
                assert_eq!(
                    eff, want,
                    "seed {}: node {n} VRID {vrid}: effective priority (base {base}, weight {})",
                    self.seed, node.track[k].weight
                );
                assert!((1..=254).contains(&eff) || (eff == 255 && conf == 255));
                let st = r.state(id).unwrap();
                if st != StateKind::Initialize {
                    let fault = node.track[k].fault || !node.link_up;
                    assert_eq!(
                        st == StateKind::Fault,
                        fault,
                        "seed {}: node {n} VRID {vrid} is {st:?} (tracker FAULT {}, link up {})",
                        self.seed,
                        node.track[k].fault,
                        node.link_up
                    );
                }
            }
        }
    }

    /// How long frames sent now may wait behind earlier ones (a link
    /// delivers in order: a copy sent with a long delay before the heal
    /// holds back everything after it).
    pub fn backlog(&self) -> Duration {
        self.last_at
            .iter()
            .flatten()
            .map(|&at| at - self.now)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Largest advertisement interval (cs) of VRID k on any node.
    fn interval_cs_max(&self, k: usize) -> u16 {
        self.members
            .iter()
            .map(|m| m[k].advert_int_cs)
            .max()
            .unwrap()
    }

    /// Largest Master_Down_Interval any node can have for VRID k.
    pub fn mdi_max(&self, k: usize) -> Duration {
        let v = &self.vrids[k];
        let dta = self
            .members
            .iter()
            .map(|m| m[k].down_timer_adverts)
            .max()
            .unwrap();
        master_down_interval(v.version, 1, self.interval_cs_max(k), dta)
    }

    /// Largest advertisement interval of VRID k on any node.
    pub fn interval(&self, k: usize) -> Duration {
        Duration::from_centisecs(u64::from(self.interval_cs_max(k)))
    }

    /// Best (smallest) Master_Down_Interval / Skew_Time among live backups of VRID k.
    pub fn best_backup_timers(&self, k: usize) -> Option<(Duration, Duration)> {
        let v = &self.vrids[k];
        (0..self.nodes.len())
            .filter(|&n| self.runs(n, k) && self.state(n, k) == Some(StateKind::Backup))
            .map(|n| {
                let r = self.nodes[n].router.as_ref().unwrap();
                let id = self.id(n, k).unwrap();
                let mai = r.master_adver_interval_cs(id).unwrap();
                let p = r.effective_priority(id).unwrap();
                let dta = self.members[n][k].down_timer_adverts;
                (
                    master_down_interval(v.version, p, mai, dta),
                    skew_time(v.version, p, mai),
                )
            })
            .min()
    }

    /// Exactly one master per VRID among the nodes running it, every other
    /// one Backup, and no Backup with a higher effective priority unless it
    /// is `nopreempt` (the right master: highest priority; a `nopreempt`
    /// router does not take over a working master).
    pub fn check_converged(&self) -> Result<(), String> {
        for k in 0..self.vrids.len() {
            let live: Vec<usize> = (0..self.nodes.len()).filter(|&n| self.runs(n, k)).collect();
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

    /// After a stable stretch: every Backup follows the master (its last
    /// accepted advert came from the master, with the master's priority).
    pub fn check_backups_follow(&self) -> Result<(), String> {
        for k in 0..self.vrids.len() {
            let Some(&m) = self.masters(k).first() else {
                continue;
            };
            let (addr, prio) = (self.src(m, k), self.eff(m, k));
            for b in (0..self.nodes.len()).filter(|&b| b != m && self.runs(b, k)) {
                let r = self.nodes[b].router.as_ref().unwrap();
                let id = self.id(b, k).unwrap();
                let seen = (r.master_addr(id), r.master_priority(id));
                if seen != (Some(addr), Some(prio)) {
                    return Err(format!(
                        "VRID {}: backup node {b} follows {seen:?}, master is node {m} ({addr}, prio {prio})",
                        self.vrids[k].vrid
                    ));
                }
            }
        }
        Ok(())
    }
}
