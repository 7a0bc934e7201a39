//! The simulated segment: N nodes, each running a real `vrrp::Router`, a
//! virtual clock, a seeded network with drops, delay, duplication and
//! partitions, crashes and restarts. Frames are real bytes.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepvip::config::model::{AddressFamily, Config, InstanceConfig, VrrpVersion};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::timers::{master_down_interval, skew_time};
use keepvip::vrrp::{Action, Actions, InstanceId, NotifyState, Router, StateKind, TrackState};

use crate::cfg;
use crate::codec;
use crate::rng::Rng;

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
    pub v6: bool,
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
    Block {
        from: usize,
        to: usize,
    },
    Heal,
}

pub struct Node {
    pub addr4: Ipv4Addr,
    pub addr6: Ipv6Addr,
    pub config: Box<Config>,
    pub router: Option<Box<Router>>,
    /// Simulated address table: does this node hold instance i's VIPs?
    pub held: Vec<bool>,
    pub link_up: bool,
    pub track: Vec<i32>,
    pub garps: u64,
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
}

impl World {
    pub fn new(seed: u64, vrids: Vec<VridSpec>, members: Vec<Vec<Member>>, trace: bool) -> World {
        let n = members.len();
        let mut nodes = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let mut insts = Vec::new();
            for (k, v) in vrids.iter().enumerate() {
                let vip: IpAddr = if v.v6 {
                    IpAddr::V6(Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        0,
                        0,
                        0,
                        0,
                        0x100,
                        u16::from(v.vrid),
                    ))
                } else {
                    IpAddr::V4(Ipv4Addr::new(198, 51, 100, v.vrid))
                };
                let mut c: InstanceConfig =
                    cfg::instance(&format!("VI_{}", v.vrid), v.vrid, v.version, vip);
                c.advert_int_cs = v.interval_cs;
                c.priority = m[k].priority;
                c.nopreempt = m[k].nopreempt;
                c.preempt_delay_ms = m[k].preempt_delay_ms;
                c.garp_master_delay_s = 1;
                c.garp_master_repeat = 2;
                c.garp_interval_us = 1000;
                insts.push(c);
            }
            let k = vrids.len();
            nodes.push(Node {
                addr4: Ipv4Addr::new(192, 0, 2, 10 + i as u8),
                addr6: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10 + i as u16),
                config: cfg::config(insts),
                router: None,
                held: vec![false; k],
                link_up: true,
                track: vec![0; k],
                garps: 0,
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
        }
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
        let now = self.now;
        let link = self.nodes[n].link_up;
        let track = self.nodes[n].track.clone();
        self.core(n, |r, out| {
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

    /// Run a core call on node `n` and execute its actions.
    fn core(&mut self, n: usize, f: impl FnOnce(&mut Router, &mut Actions)) {
        let Some(r) = self.nodes[n].router.as_mut() else {
            return;
        };
        self.out.clear();
        hook(true);
        f(r, &mut self.out);
        hook(false);
        assert_eq!(self.out.overflow_count(), 0, "Actions overflow");
        let actions: Vec<Action> = self.out.as_slice().to_vec();
        self.out.clear();
        for a in actions {
            self.execute(n, a);
        }
    }

    fn execute(&mut self, n: usize, a: Action) {
        let k = a.inst().index();
        match a {
            Action::SendAdvert { inst, priority } => {
                let r = self.nodes[n].router.as_ref().unwrap();
                hook(true);
                let repr = r.advert_repr(inst, priority).unwrap();
                hook(false);
                let bytes = codec::encode(&repr);
                let v6 = self.vrids[k].v6;
                self.log(|| format!("node {n} VRID {} sends advert prio {priority}", repr.vrid));
                self.broadcast(n, v6, bytes);
            }
            Action::AddVips { .. } => {
                self.nodes[n].held[k] = true;
            }
            Action::DelVips { .. } => {
                self.nodes[n].held[k] = false;
            }
            Action::SendGarp { .. } => {
                self.nodes[n].garps += 1;
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
                self.transitions.push((self.now, n, k, state));
            }
        }
    }

    fn broadcast(&mut self, from: usize, v6: bool, bytes: Vec<u8>) {
        if !self.nodes[from].link_up {
            return;
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
                self.queue.push(Reverse(Frame {
                    at,
                    seq: self.seq,
                    from,
                    to,
                    v6,
                    bytes: bytes.clone(),
                }));
            }
        }
    }

    fn deliver(&mut self, f: Frame) {
        let to = f.to;
        if !self.live(to) {
            return;
        }
        let repr = match codec::decode(&f.bytes, f.v6) {
            Ok(r) => r,
            Err(e) => panic!("seed {}: undecodable frame {e:?}", self.seed),
        };
        let fam = if f.v6 {
            AddressFamily::Ipv6
        } else {
            AddressFamily::Ipv4
        };
        let src = self.addr(f.from, f.v6);
        let now = self.now;
        self.frames_delivered += 1;
        let (from, prio) = (f.from, repr.priority);
        self.log(|| {
            format!(
                "node {to} receives VRID {} prio {prio} from node {from}",
                repr.vrid
            )
        });
        self.core(to, |r, out| {
            if let Some(id) = r.find_instance("eth0", fam, repr.vrid) {
                r.handle_advert(now, id, src, 255, &repr, out);
            }
        });
    }

    fn apply(&mut self, e: Event) {
        self.log(|| format!("event {e:?}"));
        match e {
            Event::Crash(n) => {
                // kill -9: the VIPs stay on the interface.
                self.nodes[n].router = None;
            }
            Event::Restart(n) => {
                if self.nodes[n].router.is_none() {
                    self.boot(n);
                }
            }
            Event::Stop(n) => {
                let now = self.now;
                self.core(n, |r, out| r.handle_shutdown(now, out));
                self.nodes[n].router = None;
            }
            Event::Link(n, up) => {
                self.nodes[n].link_up = up;
                let now = self.now;
                self.core(n, |r, out| r.handle_link(now, "eth0", up, out));
            }
            Event::Track(n, k, w) => {
                self.nodes[n].track[k] = w;
                let now = self.now;
                self.core(n, |r, out| {
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
            Event::Block { from, to } => self.blocked[from][to] = true,
            Event::Heal => {
                self.drop_ppm = 0;
                self.dup_ppm = 0;
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

    fn next_timer(&self) -> Option<(Instant, usize)> {
        let mut best: Option<(Instant, usize)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(t) = n.router.as_ref().and_then(|r| r.poll_timeout())
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, i));
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
            let now = self.now;
            self.core(n, |r, out| r.handle_timeout(now, out));
        }
        self.check_coherence();
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
