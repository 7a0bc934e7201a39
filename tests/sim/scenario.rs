//! One randomized simulation run per seed: random segment, random faults,
//! heal, then the checkers (convergence, coherence, no flapping, failover
//! bound after a crash, handover bound after a clean stop).
//!
//! Clock drift: every node's clock runs at its own rate within
//! ±`clock::MAX_PPM` and starts at its own offset; during the fault window
//! clocks may also jump ahead by up to 1 ms. The timing checkers bound
//! delays made of *local* timers (Master_Down_Interval, Skew_Time, the
//! advert interval), so each bound is converted to true time for the
//! slowest allowed clock with `clock::worst_true` (`d / (1 - 500e-6)`,
//! i.e. +0.05 %, plus a few µs of rounding). Network delays are true time
//! and are not scaled. Forward steps only make local timers expire
//! sooner, so they cannot stretch these upper bounds.
#![allow(dead_code)]

use keepvip::config::model::VrrpVersion;
use keepvip::time::{Duration, Instant};

use crate::clock::{self, Clock};
use crate::rng::Rng;
use crate::world::{Event, Member, VridSpec, World};

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

/// Builds the world for `seed` (nodes not booted yet).
pub fn build(seed: u64, trace: bool) -> World {
    let mut g = Rng::new(seed);
    let n = g.range(2, 8) as usize;
    let nv = g.range(1, 3) as usize;
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
    // Later additions draw from their own stream, so the topology and the
    // faults of a seed stay what they were before these knobs existed.
    let mut h = Rng::new(seed ^ 0x0c10_c0c1_0c00);
    for v in vrids.iter_mut() {
        v.vips = h.range(1, 3) as u8;
        v.checksum_as_v2 = v.version == VrrpVersion::V3 && !v.v6 && h.below(4) == 0;
    }
    let mut members: Vec<Vec<Member>> = vec![Vec::new(); n];
    for v in &vrids {
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
            m.push(Member {
                priority,
                nopreempt,
                preempt_delay_ms,
            });
        }
    }
    let mut w = World::new(seed, vrids, members, trace);
    for node in w.nodes.iter_mut() {
        let ppm = h.range(0, 2 * clock::MAX_PPM as u64) as i64 - clock::MAX_PPM;
        node.clock = Clock::new(ppm, h.below(1_000_000_000_000));
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

fn max_delay(w: &World) -> Duration {
    Duration::from_micros(w.delay_min_us + w.jitter_us)
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

    // Fault window.
    let fault_end = Instant::from_micros(us * g.range(8, 25));
    let fe = fault_end.as_micros();
    for _ in 0..g.range(0, 8) {
        let at = Instant::from_micros(g.below(fe));
        let later = Instant::from_micros(at.as_micros() + g.below(fe - at.as_micros() + 1));
        let node = g.below(n as u64) as usize;
        match g.below(7) {
            0 => w.schedule(
                at,
                Event::Net {
                    drop_ppm: *g.pick(&[0, 100_000, 300_000, 700_000]),
                    dup_ppm: *g.pick(&[0, 0, 200_000]),
                    jitter_us: *g.pick(&[100, us / 20, us / 4]),
                },
            ),
            1 => {
                // one-way block
                let to = g.below(n as u64) as usize;
                if to != node {
                    w.schedule(at, Event::Block { from: node, to });
                }
            }
            2 => {
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
            3 => {
                w.schedule(at, Event::Crash(node));
                w.schedule(later, Event::Restart(node));
            }
            4 => {
                w.schedule(at, Event::Stop(node));
                w.schedule(later, Event::Restart(node));
            }
            5 => {
                w.schedule(at, Event::Link(node, false));
                w.schedule(later, Event::Link(node, true));
            }
            _ => {
                let k = g.below(nv as u64) as usize;
                let weight = g.range(0, 120) as i32 - 60;
                w.schedule(at, Event::Track(node, k, weight));
            }
        }
    }
    // Corruption and clock steps (their own stream, see `build`).
    let mut h = Rng::new(w.seed ^ 0xfa01_7fa0_17fa);
    if h.below(2) == 0 {
        let at = Instant::from_micros(h.below(fe / 2));
        let ppm = *h.pick(&[10_000u32, 30_000, 100_000]);
        w.schedule(at, Event::Corrupt { ppm });
    }
    for _ in 0..h.range(0, 3) {
        let at = Instant::from_micros(h.below(fe));
        let node = h.below(n as u64) as usize;
        w.schedule(at, Event::ClockStep(node, h.range(1, 1000)));
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

    // Converge after heal.
    let settle = clock::worst_true(settle_time(w), 10);
    w.run_until(fault_end + settle);
    w.check_converged()
        .map_err(|e| format!("after heal: {e}"))?;

    // No flapping under a stable network.
    stable_window(w)?;

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
    let k = g.below(nv as u64) as usize;
    if let Some(m) = w.masters(k).first().copied()
        && let Some((_, skew)) = w.best_backup_timers(k)
    {
        let t0 = w.now;
        let bound = t0 + max_delay(w) + clock::worst_true(skew, 10) + Duration::from_millis(1);
        w.schedule(t0, Event::Stop(m));
        let got = w.run_until_pred(bound, |w| w.masters(k).iter().any(|&x| x != m && w.live(x)));
        if got.is_none() {
            return Err(format!(
                "clean stop of node {m}: no new master for VRID {} within {:?}",
                w.vrids[k].vrid,
                bound - t0
            ));
        }
        let now = w.now;
        w.schedule(now, Event::Restart(m));
        w.run_until(now + settle);
        w.check_converged()
            .map_err(|e| format!("after stop/restart: {e}"))?;
        stable_window(w)?;
    }
    Ok(())
}

fn stable_window(w: &mut World) -> Result<(), String> {
    let before = w.transitions.len();
    let t0 = w.now;
    let len = unit(w).saturating_mul(10) + (0..w.vrids.len()).map(|k| w.mdi_max(k)).max().unwrap();
    w.run_until(t0 + len);
    if w.transitions.len() != before {
        let extra: Vec<_> = w.transitions[before..].iter().take(6).collect();
        return Err(format!("flapping in a stable network: {extra:?}"));
    }
    w.check_converged()
        .map_err(|e| format!("stable window: {e}"))
}
