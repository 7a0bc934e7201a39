//! Deterministic multi-router simulator (ARCHITECTURE.md section 5).
//!
//! `cargo test --test sim` runs 1,000 seeds. Knobs:
//! * `KEEPVIP_SIM_SEEDS=100000` runs more seeds (starting at `KEEPVIP_SIM_FIRST`, default 0);
//! * `KEEPVIP_SIM_SEED=n` runs one seed with a full event trace.

#[path = "sim/cfg.rs"]
mod cfg;
#[path = "sim/clock.rs"]
mod clock;
#[path = "sim/frames.rs"]
mod frames;
#[path = "sim/rng.rs"]
mod rng;
#[path = "sim/scenario.rs"]
mod scenario;
#[path = "sim/world.rs"]
mod world;

use keepvip::config::model::VrrpVersion;
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::StateKind;

use world::{Event, Member, VridSpec, World};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn random_seeds() {
    cfg::on_big_stack(random_seeds_body);
}

fn random_seeds_body() {
    if let Some(seed) = env_u64("KEEPVIP_SIM_SEED") {
        match scenario::run_seed(seed, true) {
            Ok(o) => {
                println!(
                    "seed {seed} ok: {} steps, {} frames, {} transitions",
                    o.steps,
                    o.frames,
                    o.transitions.len()
                );
                return;
            }
            Err(e) => panic!("{e}"),
        }
    }
    let count = env_u64("KEEPVIP_SIM_SEEDS").unwrap_or(1000);
    let first = env_u64("KEEPVIP_SIM_FIRST").unwrap_or(0);
    let mut failures = Vec::new();
    let mut frames = 0u64;
    for seed in first..first + count {
        let r = std::panic::catch_unwind(|| scenario::run_seed(seed, false));
        match r {
            Ok(Ok(o)) => frames += o.frames,
            Ok(Err(e)) => {
                eprintln!("FAILED {e}");
                failures.push(seed);
            }
            Err(_) => {
                eprintln!(
                    "FAILED seed {seed}: panicked\n{}",
                    scenario::reproduce_hint(seed)
                );
                failures.push(seed);
            }
        }
        if failures.len() >= 10 {
            break;
        }
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    assert!(
        frames > count,
        "the segment carried too few frames ({frames}): the simulator is not exercising the core"
    );
}

#[test]
fn same_seed_same_run() {
    for seed in [3u64, 77, 1234] {
        let a = scenario::run_seed(seed, false).unwrap_or_else(|e| panic!("{e}"));
        let b = scenario::run_seed(seed, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.steps, b.steps);
        assert_eq!(a.frames, b.frames);
        assert_eq!(a.transitions, b.transitions);
        assert!(!a.transitions.is_empty());
    }
}

fn two_nodes(p0: Member, p1: Member, version: VrrpVersion) -> World {
    World::new(
        9,
        vec![VridSpec::new(51, version, 100, false)],
        vec![vec![p0], vec![p1]],
        false,
    )
}

fn member(priority: u8, nopreempt: bool) -> Member {
    Member {
        priority,
        nopreempt,
        preempt_delay_ms: 0,
    }
}

#[test]
fn equal_priority_split_brain_heals_to_higher_address() {
    for version in [VrrpVersion::V2, VrrpVersion::V3] {
        let mut w = two_nodes(member(100, false), member(100, false), version);
        w.schedule(Instant::ZERO, Event::Block { from: 0, to: 1 });
        w.schedule(Instant::ZERO, Event::Block { from: 1, to: 0 });
        w.schedule(Instant::ZERO, Event::Restart(0));
        w.schedule(Instant::ZERO, Event::Restart(1));
        w.run_until(Instant::from_secs(10));
        assert_eq!(w.masters(0), [0, 1], "both master while partitioned");
        w.schedule(w.now, Event::Heal);
        w.run_until(Instant::from_secs(20));
        // 192.0.2.11 > 192.0.2.10: node 1 wins the tie.
        assert_eq!(w.masters(0), [1]);
        assert_eq!(w.state(0, 0), Some(StateKind::Backup));
        assert!(!w.nodes[0].held[0] && w.nodes[1].held[0]);
    }
}

#[test]
fn split_brain_heals_to_higher_priority_with_one_way_partition() {
    let mut w = two_nodes(member(200, false), member(100, false), VrrpVersion::V3);
    // Node 1 cannot hear node 0: it becomes master too.
    w.schedule(Instant::ZERO, Event::Block { from: 0, to: 1 });
    w.schedule(Instant::ZERO, Event::Restart(0));
    w.schedule(Instant::ZERO, Event::Restart(1));
    w.run_until(Instant::from_secs(10));
    // Node 0 hears node 1's lower adverts and keeps re-advertising (and
    // re-GARPing) — the split brain heal of RFC 9568 — but node 1 cannot hear it.
    assert_eq!(w.masters(0), [0, 1]);
    let garps_before = w.nodes[0].garps;
    w.run_until(Instant::from_secs(12));
    assert!(
        w.nodes[0].garps > garps_before,
        "master re-GARPs on lower-priority adverts"
    );
    w.schedule(w.now, Event::Heal);
    w.run_until(Instant::from_secs(14));
    assert_eq!(w.masters(0), [0]);
}

#[test]
fn nopreempt_higher_priority_does_not_take_over() {
    let mut w = two_nodes(member(100, false), member(200, true), VrrpVersion::V3);
    w.schedule(Instant::ZERO, Event::Restart(0));
    w.schedule(Instant::from_secs(10), Event::Restart(1));
    w.run_until(Instant::from_secs(120));
    assert_eq!(w.masters(0), [0]);
    assert_eq!(w.state(1, 0), Some(StateKind::Backup));
    w.check_converged().unwrap();
    // Without nopreempt the higher priority preempts.
    let mut w = two_nodes(member(100, false), member(200, false), VrrpVersion::V3);
    w.schedule(Instant::ZERO, Event::Restart(0));
    w.schedule(Instant::from_secs(10), Event::Restart(1));
    w.run_until(Instant::from_secs(20));
    assert_eq!(w.masters(0), [1]);
}

#[test]
fn crash_failover_and_clean_stop_timing() {
    let mut w = two_nodes(member(200, false), member(100, false), VrrpVersion::V3);
    w.delay_min_us = 100;
    w.jitter_us = 0;
    w.schedule(Instant::ZERO, Event::Restart(0));
    w.schedule(Instant::ZERO, Event::Restart(1));
    w.run_until(Instant::from_secs(10));
    assert_eq!(w.masters(0), [0]);
    // Crash at 10 s: the last advert reached node 1 at ~<= 10 s + 100 µs;
    // takeover Master_Down_Interval (3 s + 609.375 ms) after it.
    w.schedule(w.now, Event::Crash(0));
    let t = w
        .run_until_pred(Instant::from_secs(20), |w| w.masters(0).contains(&1))
        .unwrap();
    let mdi = Duration::from_micros(3_609_375);
    assert!(
        t <= Instant::from_secs(10) + mdi + Duration::from_micros(100),
        "{t:?}"
    );
    assert!(
        t + Duration::from_secs(1) >= Instant::from_secs(10) + mdi,
        "{t:?}"
    );
    // Restart node 0: it preempts (full down timer first).
    w.schedule(w.now, Event::Restart(0));
    w.run_until(Instant::from_secs(30));
    assert_eq!(w.masters(0), [0]);
    // Clean stop: node 1 takes over Skew_Time (609.375 ms) after the priority-0 advert.
    let t0 = w.now;
    w.schedule(t0, Event::Stop(0));
    let t = w
        .run_until_pred(Instant::from_secs(40), |w| w.masters(0).contains(&1))
        .unwrap();
    assert_eq!(t - t0, Duration::from_micros(100 + 609_375));
}
