//! One randomized simulation run per seed: random segment, random faults
//! (see [`FAULT_KINDS`] in `run_world`), heal, then the checkers: of the
//! masters at heal time all but one step down within one advert interval
//! (plus the in-flight backlog), the segment converges to the
//! right master, no transition in a stable network (also across a reload
//! that changes nothing), failover bound after a crash, handover bound
//! after a clean stop or a reload that changes the master's instance.
//!
//! Clock drift: every node's clock runs at its own rate within
//! ±`clock::MAX_PPM` and starts at its own offset; during the fault window
//! clocks may also jump ahead by up to 1 ms or change their rate (within
//! the bound). The timing checkers bound delays made of *local* timers (Master_Down_Interval, Skew_Time, the
//! advert interval), so each bound is converted to true time for the
//! slowest allowed clock with `clock::worst_true` (`d / (1 - 500e-6)`,
//! i.e. +0.05 %, plus a few µs of rounding). Network delays are true time
//! and are not scaled. Forward steps only make local timers expire
//! sooner, so they cannot stretch these upper bounds.
#![allow(dead_code)]

use keepvip::config::model::VrrpVersion;
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::{NotifyState, StateKind, TrackState};

use crate::clock::{self, Clock};
use crate::rng::Rng;
use crate::world::{Coverage, Event, Member, ReloadKind, VridSpec, World};

pub struct Outcome {
    pub steps: u64,
    pub frames: u64,
    pub transitions: Vec<(Instant, usize, usize, keepvip::vrrp::NotifyState)>,
    /// Frame copies corrupted by the fault, and how many the parsers refused.
    pub corrupted: u64,
    pub corrupt_refused: u64,
    pub garps: u64,
    pub adverts: u64,
    /// The whole segment as a pcap, when asked for.
    pub pcap: Option<Vec<u8>>,
    /// Which faults happened, how often.
    pub cov: Coverage,
    /// VRIDs with two or more masters when the network healed.
    pub split_brains: u64,
    /// Simulated time.
    pub sim_time: Duration,
    /// Topology: nodes, VRIDs, and which flavours the VRIDs use.
    pub nodes: usize,
    pub vrids: usize,
    pub flavours: Flavours,
}

/// Which wire flavours a seed's VRIDs use.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flavours {
    pub v2: bool,
    pub v3: bool,
    pub ipv6: bool,
    pub unicast: bool,
    pub checksum_as_v2: bool,
    pub owner: bool,
    pub nopreempt: bool,
    pub preempt_delay: bool,
}

pub fn reproduce_hint(seed: u64) -> String {
    format!(
        "reproduce: KEEPVIP_SIM_SEED={seed} cargo test --test sim random_seeds -- --nocapture \
         (add KEEPVIP_SIM_PCAP=/tmp/seed{seed}.pcap for a capture)"
    )
}

/// A failed run: the checker's message (with the trace when tracing) and
/// the capture up to the failure, when capturing.
pub struct Failure {
    pub msg: String,
    pub pcap: Option<Vec<u8>>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

/// Builds the world for `seed` (nodes not booted yet): 2..=8 nodes,
/// 1..=4 VRIDs, each v2 or v3, IPv4 or IPv6, multicast or unicast.
pub fn build(seed: u64, trace: bool) -> World {
    let mut g = Rng::new(seed);
    let n = g.range(2, 8) as usize;
    let nv = g.range(1, 4) as usize;
    let v2_mode = g.below(3) == 0;
    let base_cs: u16 = if v2_mode {
        100
    } else {
        *g.pick(&[10u16, 20, 50, 100])
    };
    let mut vrids = Vec::new();
    for k in 0..nv {
        let version = if v2_mode || (base_cs == 100 && g.below(2) == 0) {
            VrrpVersion::V2
        } else {
            VrrpVersion::V3
        };
        let interval_cs = if version == VrrpVersion::V2 {
            100
        } else {
            base_cs * (1 + g.below(2) as u16)
        };
        let v6 = version == VrrpVersion::V3 && g.below(4) == 0;
        vrids.push(VridSpec::new(1 + 7 * k as u8, version, interval_cs, v6));
    }
    let mut h = Rng::new(seed ^ 0x0c10_c0c1_0c00);
    for v in vrids.iter_mut() {
        v.vips = h.range(1, 3) as u8;
        v.checksum_as_v2 = v.version == VrrpVersion::V3 && !v.v6 && h.below(4) == 0;
        v.unicast = h.below(4) == 0;
    }
    let mut members: Vec<Vec<Member>> = vec![Vec::new(); n];
    // Per VRID: v3 nodes with their own intervals (Backups follow the
    // master's), nodes with their own down_timer_adverts.
    let mut mixed = Rng::new(seed ^ 0x1e7e_2000_0d1f);
    for v in &vrids {
        let own_intervals = v.version == VrrpVersion::V3 && mixed.below(4) == 0;
        let own_dta = mixed.below(6) == 0;
        let owner = if g.below(20) == 0 {
            Some(g.below(n as u64) as usize)
        } else {
            None
        };
        let ties = g.below(3) == 0;
        for (i, m) in members.iter_mut().enumerate() {
            let priority = if owner == Some(i) {
                255
            } else if ties {
                *g.pick(&[100u8, 150, 200])
            } else {
                g.range(1, 254) as u8
            };
            let nopreempt = priority != 255 && g.below(7) == 0;
            let preempt_delay_ms = if !nopreempt && priority != 255 && g.below(7) == 0 {
                g.range(0, 3 * u64::from(v.interval_cs) * 10) as u32
            } else {
                0
            };
            let advert_int_cs = if own_intervals {
                v.interval_cs * *mixed.pick(&[1u16, 1, 2, 3])
            } else {
                v.interval_cs
            };
            let down_timer_adverts = if own_dta { mixed.range(1, 5) as u8 } else { 3 };
            m.push(Member {
                priority,
                nopreempt,
                preempt_delay_ms,
                advert_int_cs,
                down_timer_adverts,
            });
        }
    }
    let mut w = World::new(seed, vrids, members, trace);
    for node in w.nodes.iter_mut() {
        let ppm = h.range(0, 2 * clock::MAX_PPM as u64) as i64 - clock::MAX_PPM;
        node.clock = Clock::new(ppm, h.below(1_000_000_000_000));
        node.unicast_ttl = *h.pick(&[255u8, 254, 64]);
    }
    w
}

fn unit(w: &World) -> Duration {
    (0..w.vrids.len()).map(|k| w.interval(k)).max().unwrap()
}

fn settle_time(w: &World) -> Duration {
    let mdi = (0..w.vrids.len()).map(|k| w.mdi_max(k)).max().unwrap();
    let pd = w
        .members
        .iter()
        .flatten()
        .map(|m| Duration::from_millis(u64::from(m.preempt_delay_ms)))
        .max()
        .unwrap_or(Duration::ZERO);
    pd + mdi.saturating_mul(2) + unit(w).saturating_mul(4) + Duration::from_millis(2)
}

/// The longest a copy sent now can take (without the backlog of an
/// in-order link, see [`World::backlog`]).
pub fn max_delay(w: &World) -> Duration {
    let link = w.link_delay_us.iter().flatten().copied().max().unwrap_or(0);
    Duration::from_micros(w.delay_min_us + w.jitter_us + link)
}

/// How long after the heal the split brain of VRID k may last, taken at the
/// heal: the best of the masters advertises within one advert interval (on
/// the slowest clock), the advert takes the longest delay, and it waits
/// behind every copy still in flight on its in-order link (the backlog of
/// the fault window's long delays; found by the long run, see
/// `split_brain_heal_waits_for_the_in_flight_backlog` in tests/sim.rs).
pub fn heal_bound(w: &World, k: usize) -> Duration {
    clock::worst_true(w.interval(k), 10) + max_delay(w) + w.backlog() + Duration::from_millis(1)
}

/// Of `at_heal` (VRID k's masters when the network healed, the heal being
/// `w.transitions[heal_mark]` onwards), those still master without a break
/// since the heal. One that stepped down may take over once more and is
/// not counted: a v3 Backup runs its down timer on the interval of the
/// last advert it accepted, which may be a shorter one than the winner's
/// (RFC 5798 6.4.2; found by the long run, see
/// `split_brain_loser_following_a_shorter_v3_interval_takes_over_once_more`
/// in tests/sim.rs).
pub fn unhealed(w: &World, k: usize, heal_mark: usize, at_heal: &[usize]) -> Vec<usize> {
    let stepped_down = |m: usize| {
        w.transitions[heal_mark..]
            .iter()
            .any(|t| t.1 == m && t.2 == k && t.3 != NotifyState::Master)
    };
    at_heal
        .iter()
        .copied()
        .filter(|&m| w.state(m, k) == Some(StateKind::Master) && !stepped_down(m))
        .collect()
}

fn flavours(w: &World) -> Flavours {
    let any = |f: &dyn Fn(&VridSpec) -> bool| w.vrids.iter().any(f);
    let member = |f: &dyn Fn(&Member) -> bool| w.members.iter().flatten().any(f);
    Flavours {
        v2: any(&|v| v.version == VrrpVersion::V2),
        v3: any(&|v| v.version == VrrpVersion::V3),
        ipv6: any(&|v| v.v6),
        unicast: any(&|v| v.unicast),
        checksum_as_v2: any(&|v| v.checksum_as_v2),
        owner: member(&|m| m.priority == 255),
        nopreempt: member(&|m| m.nopreempt),
        preempt_delay: member(&|m| m.preempt_delay_ms > 0),
    }
}

pub fn run_seed(seed: u64, trace: bool) -> Result<Outcome, Failure> {
    run_seed_capture(seed, trace, false)
}

/// `run_seed`, capturing the segment to a pcap when `pcap`.
pub fn run_seed_capture(seed: u64, trace: bool, pcap: bool) -> Result<Outcome, Failure> {
    let mut w = build(seed, trace);
    if pcap {
        w.start_capture();
    }
    // The checkers inside the world panic: report those like the others,
    // with the trace and the capture.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_world(&mut w)))
        .unwrap_or_else(|p| {
            let m = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_owned());
            Err(format!("checker: {m}"))
        });
    match r {
        Ok(()) => Ok(Outcome {
            steps: w.steps,
            frames: w.frames_delivered,
            transitions: w.transitions.clone(),
            corrupted: w.corrupted,
            corrupt_refused: w.corrupt_refused,
            garps: w.nodes.iter().map(|n| n.garps).sum(),
            adverts: w.nodes.iter().map(|n| n.adverts).sum(),
            pcap: w.take_pcap(),
            cov: w.cov.clone(),
            split_brains: w.split_brains,
            sim_time: w.now - Instant::ZERO,
            nodes: w.nodes.len(),
            vrids: w.vrids.len(),
            flavours: flavours(&w),
        }),
        Err(e) => {
            let mut msg = format!(
                "seed {seed}: {e} (at {:?})\n{}",
                w.now,
                reproduce_hint(seed)
            );
            if let Some(t) = &w.trace {
                msg = format!("{t}\n{msg}");
            }
            Err(Failure {
                msg,
                pcap: w.take_pcap(),
            })
        }
    }
}

/// The fault kinds the random schedule draws from (a seed draws 0..=10
/// faults, a storm 15..=40).
pub const FAULT_KINDS: u64 = 15;

fn run_world(w: &mut World) -> Result<(), String> {
    let mut g = Rng::new(w.seed.wrapping_mul(31).wrapping_add(7));
    let n = w.nodes.len();
    let nv = w.vrids.len();
    let u = unit(w);
    let us = u.as_micros();

    // Boot, staggered over two intervals.
    for i in 0..n {
        let at = Instant::from_micros(g.below(2 * us));
        w.schedule(at, Event::Restart(i));
    }

    // Fault window: every fault event happens before `fault_end`.
    let fault_end = Instant::from_micros(us * g.range(8, 25));
    let fe = fault_end.as_micros();
    let at_us = |g: &mut Rng| g.below(fe);
    let inst = |t: u64| Instant::from_micros(t.min(fe - 1));
    // Most seeds draw a few faults; one in ten is a storm of them.
    let faults = if g.below(10) == 0 {
        g.range(15, 40)
    } else {
        g.range(0, 10)
    };
    for _ in 0..faults {
        let t = at_us(&mut g);
        let at = inst(t);
        let later = inst(t + g.below(fe - t + 1));
        let node = g.below(n as u64) as usize;
        let k = g.below(nv as u64) as usize;
        match g.below(FAULT_KINDS) {
            0 => w.schedule(
                at,
                Event::Net {
                    drop_ppm: *g.pick(&[100_000, 300_000, 700_000]),
                    dup_ppm: *g.pick(&[0, 0, 200_000]),
                    jitter_us: *g.pick(&[100, us / 20, us / 4]),
                },
            ),
            1 => w.schedule(
                at,
                Event::Net {
                    drop_ppm: *g.pick(&[0, 0, 100_000]),
                    dup_ppm: *g.pick(&[200_000, 500_000, 1_000_000]),
                    jitter_us: *g.pick(&[100, us / 20, us / 4]),
                },
            ),
            2 => {
                // A train of loss bursts, on one node's port or the whole segment.
                let target = if g.below(2) == 0 { Some(node) } else { None };
                let mut t = t;
                for _ in 0..g.range(1, 4) {
                    let len_us = *g.pick(&[us / 2, 2 * us, 4 * us]);
                    w.schedule(
                        inst(t),
                        Event::Burst {
                            node: target,
                            len_us,
                        },
                    );
                    t += len_us + g.below(3 * us);
                }
            }
            3 => w.schedule(
                at,
                Event::Reorder {
                    ppm: *g.pick(&[50_000, 200_000, 500_000]),
                    span_us: *g.pick(&[1_000, us / 2, 2 * us]),
                },
            ),
            4 => {
                // one-way block
                let to = g.below(n as u64) as usize;
                if to != node {
                    w.schedule(at, Event::Block { from: node, to });
                }
            }
            5 => {
                // symmetric partition of a random subset
                let mask = g.next_u64();
                for a in 0..n {
                    for b in 0..n {
                        if (mask >> a) & 1 != (mask >> b) & 1 {
                            w.schedule(at, Event::Block { from: a, to: b });
                        }
                    }
                }
            }
            6 => {
                w.schedule(at, Event::Crash(node));
                w.schedule(later, Event::Restart(node));
            }
            7 => {
                w.schedule(at, Event::Stop(node));
                w.schedule(later, Event::Restart(node));
            }
            8 => {
                // A flapping link: down for `down` every `period`, a few times.
                let period = *g.pick(&[us / 10, us / 2, us, 3 * us]).max(&1000);
                let down = 1 + g.below(period);
                let mut t = t;
                for _ in 0..g.range(1, 8) {
                    w.schedule(inst(t), Event::Link(node, false));
                    w.schedule(inst(t + down), Event::Link(node, true));
                    t += period;
                }
            }
            9 => {
                let weight = if g.below(4) == 0 {
                    g.range(0, 600) as i32 - 300
                } else {
                    g.range(0, 120) as i32 - 60
                };
                let t = TrackState {
                    fault: false,
                    weight,
                };
                w.schedule(at, Event::Track(node, k, t));
            }
            10 => {
                // A tracker reports FAULT (a weight-0 script fails), later recovers.
                let weight = w.nodes[node].track[k].weight;
                let f = TrackState {
                    fault: true,
                    weight,
                };
                w.schedule(at, Event::Track(node, k, f));
                w.schedule(
                    later,
                    Event::Track(
                        node,
                        k,
                        TrackState {
                            fault: false,
                            weight,
                        },
                    ),
                );
            }
            11 => {
                // A flapping tracker: between two results every `period`.
                let a = TrackState {
                    fault: g.below(2) == 0,
                    weight: g.range(0, 120) as i32 - 60,
                };
                let b = TrackState {
                    fault: false,
                    weight: g.range(0, 120) as i32 - 60,
                };
                let period = *g.pick(&[us / 10, us / 2, us, 3 * us]).max(&1000);
                let mut t = t;
                for _ in 0..g.range(1, 8) {
                    w.schedule(inst(t), Event::Track(node, k, a));
                    w.schedule(inst(t + period / 2), Event::Track(node, k, b));
                    t += period;
                }
            }
            12 => {
                let seed = g.next_u64();
                let kind = match g.below(4) {
                    0 => ReloadKind::Same,
                    1 => ReloadKind::Remove(k),
                    _ => ReloadKind::Random,
                };
                w.schedule(at, Event::Reload { node, seed, kind });
                if g.below(2) == 0 {
                    // Later the file gets every VRID back.
                    let kind = ReloadKind::Restore;
                    w.schedule(later, Event::Reload { node, seed, kind });
                }
            }
            13 => {
                if g.below(2) == 0 {
                    w.schedule(at, Event::ClockStep(node, g.range(1, 1000)));
                } else {
                    let ppm = g.range(0, 2 * clock::MAX_PPM as u64) as i64 - clock::MAX_PPM;
                    w.schedule(at, Event::ClockRate(node, ppm));
                }
            }
            _ => {
                let ppm = *g.pick(&[10_000u32, 30_000, 100_000]);
                w.schedule(at, Event::Corrupt { ppm });
                if g.below(2) == 0 {
                    w.schedule(later, Event::Corrupt { ppm: 0 });
                }
            }
        }
    }
    let heal_jitter = (us / 20).clamp(50, 500);
    w.schedule(
        fault_end,
        Event::Net {
            drop_ppm: 0,
            dup_ppm: 0,
            jitter_us: heal_jitter,
        },
    );
    w.schedule(fault_end, Event::Heal);

    // Split brain heals within one advert interval: of the masters at heal
    // time, at most one is left once the best of them advertised again.
    w.run_until(fault_end);
    let heal_mark = w.transitions.len();
    let at_heal: Vec<Vec<usize>> = (0..nv)
        .map(|k| w.masters(k).into_iter().filter(|&m| w.runs(m, k)).collect())
        .collect();
    let mut by_bound: Vec<(Duration, usize)> = (0..nv).map(|k| (heal_bound(w, k), k)).collect();
    by_bound.sort();
    for (bound, k) in by_bound {
        w.run_until(fault_end + bound);
        if at_heal[k].len() >= 2 {
            w.split_brains += 1;
        }
        let left = unhealed(w, k, heal_mark, &at_heal[k]);
        if left.len() > 1 {
            return Err(format!(
                "split brain of VRID {} not healed {bound:?} after heal: masters {:?} of {:?}",
                w.vrids[k].vrid, left, at_heal[k]
            ));
        }
    }

    // Converge after heal.
    let settle = clock::worst_true(settle_time(w), 10);
    w.run_until(fault_end + settle);
    w.check_converged()
        .map_err(|e| format!("after heal: {e}"))?;

    // No flapping under a stable network, also across a reload that
    // changes nothing (unchanged instances keep their state).
    let same = g.below(2) == 0;
    let reload = same.then(|| (g.below(n as u64) as usize, g.next_u64()));
    stable_window(w, reload)?;

    // Crash the master of one VRID: failover within Master_Down_Interval + one advert.
    let k = g.below(nv as u64) as usize;
    if let Some(m) = w.masters(k).first().copied()
        && let Some((mdi, _)) = w.best_backup_timers(k)
    {
        let t0 = w.now;
        let bound = t0 + clock::worst_true(mdi + w.interval(k), 10) + max_delay(w);
        w.schedule(t0, Event::Crash(m));
        let got = w.run_until_pred(bound, |w| w.masters(k).iter().any(|&x| x != m && w.live(x)));
        if got.is_none() {
            return Err(format!(
                "crash of node {m}: no new master for VRID {} within {:?}",
                w.vrids[k].vrid,
                bound - t0
            ));
        }
        let now = w.now;
        w.schedule(now, Event::Restart(m));
        w.run_until(now + settle);
        w.check_converged()
            .map_err(|e| format!("after crash/restart: {e}"))?;
    }

    // Clean stop of a master: handover within Skew_Time + a small margin.
    // Or a reload that changes the master's instance: it restarts (with
    // a priority-0 advert), and the handover is the same.
    let k = g.below(nv as u64) as usize;
    let by_reload = g.below(3) == 0;
    let reload_seed = g.next_u64();
    if let Some(m) = w.masters(k).first().copied()
        && let Some((_, skew)) = w.best_backup_timers(k)
    {
        let t0 = w.now;
        let bound = t0 + max_delay(w) + clock::worst_true(skew, 10) + Duration::from_millis(1);
        let what = if by_reload {
            let mut members: Vec<Option<Member>> = (0..nv)
                .map(|j| w.present(m, j).then(|| w.members[m][j].clone()))
                .collect();
            let mut r = Rng::new(reload_seed);
            let x = members[k].as_mut().unwrap();
            if x.priority != 255 {
                // A new priority (or a toggled nopreempt when it is the same).
                let p = r.range(1, 254) as u8;
                if p == x.priority {
                    x.nopreempt = !x.nopreempt;
                    x.preempt_delay_ms = 0;
                }
                x.priority = p;
            } else {
                members[k] = None;
            }
            let order: Vec<usize> = (0..nv).filter(|&j| members[j].is_some()).collect();
            w.reload(m, members, order);
            "reload changing"
        } else {
            w.schedule(t0, Event::Stop(m));
            "clean stop of"
        };
        let got = w.run_until_pred(bound, |w| w.masters(k).iter().any(|&x| x != m && w.live(x)));
        if got.is_none() {
            return Err(format!(
                "{what} node {m}: no new master for VRID {} within {:?}",
                w.vrids[k].vrid,
                bound - t0
            ));
        }
        let now = w.now;
        w.schedule(now, Event::Restart(m));
        w.run_until(now + settle);
        w.check_converged()
            .map_err(|e| format!("after {what} node {m} and restart: {e}"))?;
        stable_window(w, None)?;
    }
    Ok(())
}

/// Ten advert intervals plus a Master_Down_Interval of a stable network:
/// no transition at all, still converged, and every Backup follows the
/// master. `reload`: SIGHUP on that node halfway with a file that only
/// reorders its instances.
fn stable_window(w: &mut World, reload: Option<(usize, u64)>) -> Result<(), String> {
    let before = w.transitions.len();
    let t0 = w.now;
    let len = unit(w).saturating_mul(10) + (0..w.vrids.len()).map(|k| w.mdi_max(k)).max().unwrap();
    if let Some((node, seed)) = reload {
        w.schedule(
            t0 + Duration::from_micros(len.as_micros() / 2),
            Event::Reload {
                node,
                seed,
                kind: ReloadKind::Same,
            },
        );
    }
    w.run_until(t0 + len);
    if w.transitions.len() != before {
        let extra: Vec<_> = w.transitions[before..].iter().take(6).collect();
        return Err(format!("flapping in a stable network: {extra:?}"));
    }
    w.check_converged()
        .map_err(|e| format!("stable window: {e}"))?;
    w.check_backups_follow()
        .map_err(|e| format!("stable window: {e}"))
}
