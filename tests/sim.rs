//! Deterministic multi-router simulator (ARCHITECTURE.md section 5).
//!
//! Every advert is a real Ethernet frame built and parsed by `keepvip::wire`
//! (see `sim/frames.rs`), multicast or unicast; every node runs on its own
//! drifting clock (see `sim/clock.rs`). A seed draws a segment (2..=8
//! routers, 1..=4 VRIDs, each VRRPv2 or v3, IPv4 or IPv6, multicast or
//! unicast, owners, nopreempt, preempt_delay, per-node v3 intervals and
//! down_timer_adverts) and a fault schedule from these kinds: random loss,
//! duplication, loss bursts, reordering, one-way and two-way partitions,
//! crashes, clean stops, flapping links, tracker weights, tracker FAULT,
//! flapping trackers, configuration reloads (the daemon's SIGHUP path:
//! unchanged instances adopted, changed ones restarted, VRIDs removed and
//! re-added), clock steps and clock rate changes, byte corruption. One seed
//! in ten is a storm of 15..40 faults. Checkers: `sim/world.rs` (after every
//! step) and `sim/scenario.rs` (after heal: split brain gone within one
//! advert interval, convergence to the right master, no transition under a
//! stable network, failover and handover bounds).
//!
//! `cargo test --test sim` runs 1,000 seeds (250 under qemu-user,
//! `KEEPVIP_QEMU`) on every core and prints, per fault kind and flavour,
//! how many seeds hit it (each must be hit by at least 2 % of them). Knobs:
//! * `KEEPVIP_SIM_SEEDS=n` runs n seeds, starting at `KEEPVIP_SIM_FIRST`
//!   (default 0). The long run (about 2 ms a seed in a release build; the
//!   numbers of the last one are in the README's Tests section):
//!
//!   ```text
//!   KEEPVIP_SIM_SEEDS=1000000 cargo test --release --test sim random_seeds -- --nocapture
//!   ```
//! * `KEEPVIP_SIM_THREADS=n` worker threads (default: every core).
//! * `KEEPVIP_SIM_SEED=n` runs one seed with a full event trace (a failing
//!   seed prints this line to reproduce it).
//! * `KEEPVIP_SIM_PCAP=/path.pcap` with `KEEPVIP_SIM_SEED=n` also writes
//!   every frame of that seed's segment to a pcap, e.g.
//!   `tshark -r /path.pcap -Y vrrp`.

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
use keepvip::vrrp::{InstanceId, NotifyState, StateKind, TrackState};

use world::{Event, Member, ReloadKind, VridSpec, World};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn random_seeds() {
    cfg::on_big_stack(random_seeds_body);
}

fn random_seeds_body() {
    if let Some(seed) = env_u64("KEEPVIP_SIM_SEED") {
        let pcap = std::env::var_os("KEEPVIP_SIM_PCAP");
        let write = |path: &std::ffi::OsStr, bytes: Vec<u8>| {
            std::fs::write(path, bytes).expect("write KEEPVIP_SIM_PCAP");
            println!("segment written to {}", path.to_string_lossy());
        };
        match scenario::run_seed_capture(seed, true, pcap.is_some()) {
            Ok(o) => {
                println!(
                    "seed {seed} ok: {} steps, {} frames delivered, {} adverts, {} GARP/NA, \
                     {} transitions, {} copies corrupted ({} refused)",
                    o.steps,
                    o.frames,
                    o.adverts,
                    o.garps,
                    o.transitions.len(),
                    o.corrupted,
                    o.corrupt_refused
                );
                println!("faults: {:?}", o.cov);
                if let (Some(path), Some(bytes)) = (pcap, o.pcap) {
                    write(&path, bytes);
                }
                return;
            }
            Err(e) => {
                if let (Some(path), Some(bytes)) = (pcap.as_deref(), e.pcap) {
                    write(path, bytes);
                }
                panic!("{}", e.msg);
            }
        }
    }
    // Under qemu-user (big-endian MIPS, board/ci.sh) a debug seed costs
    // about ten times as much: a quarter of the slice keeps that phase bounded.
    let slice = if std::env::var_os("KEEPVIP_QEMU").is_some() {
        250
    } else {
        1000
    };
    let count = env_u64("KEEPVIP_SIM_SEEDS").unwrap_or(slice);
    let first = env_u64("KEEPVIP_SIM_FIRST").unwrap_or(0);
    // Seeds are independent: spread them over the cores (the report is a
    // sum, the same whatever the order).
    let threads = env_u64("KEEPVIP_SIM_THREADS")
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64))
        .clamp(1, 64);
    // A Mutex, not AtomicU64: 32-bit MIPS (board/ci.sh runs this suite
    // there under qemu) has no 64-bit atomics.
    let next = std::sync::Mutex::new(first);
    let failures = std::sync::Mutex::new(Vec::new());
    let report = std::sync::Mutex::new(Report::default());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let worker = || {
                cfg::mark_big_stack();
                loop {
                    let seed = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    if seed >= first + count || failures.lock().unwrap().len() >= 10 {
                        break;
                    }
                    let r = std::panic::catch_unwind(|| scenario::run_seed(seed, false));
                    match r {
                        Ok(Ok(o)) => report.lock().unwrap().add(&o),
                        Ok(Err(e)) => {
                            eprintln!("FAILED {e}");
                            failures.lock().unwrap().push(seed);
                        }
                        Err(_) => {
                            eprintln!(
                                "FAILED seed {seed}: panicked\n{}",
                                scenario::reproduce_hint(seed)
                            );
                            failures.lock().unwrap().push(seed);
                        }
                    }
                }
            };
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(scope, worker)
                .unwrap();
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    let report = report.into_inner().unwrap();
    let wall = started.elapsed();
    println!(
        "{count} seeds from {first} in {wall:.1?} ({threads} threads): {:.2} simulated hours, {} frames delivered, \
         {} GARP/NA, {} copies corrupted ({} refused by the parsers), {} split brains healed, \
         {} crash-left VIPs of a VRID removed before the restart, {} failures",
        report.sim_us as f64 / 3.6e9,
        report.frames,
        report.garps,
        report.corrupted,
        report.refused,
        report.split_brains,
        report.stale_vips,
        failures.len()
    );
    println!("{}", report.table(count));
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    assert!(
        report.frames > count,
        "the segment carried too few frames ({}): the simulator is not exercising the core",
        report.frames
    );
    if count >= 100 {
        assert!(report.garps > count, "too few GARPs ({})", report.garps);
        assert!(
            report.corrupted > 0 && report.refused > 0 && report.refused <= report.corrupted,
            "corruption fault not exercised: {} corrupted, {} refused",
            report.corrupted,
            report.refused
        );
    }
    if count >= 1000 {
        // Every fault kind and every flavour is hit by at least 2 % of the seeds.
        for (name, seeds, _) in report.rows() {
            assert!(
                seeds * 50 >= count,
                "fault kind / flavour \"{name}\" hit by only {seeds} of {count} seeds"
            );
        }
    }
}

/// Per fault kind and flavour: how many seeds hit it, and how often.
#[derive(Default)]
struct Report {
    frames: u64,
    garps: u64,
    corrupted: u64,
    refused: u64,
    split_brains: u64,
    stale_vips: u64,
    sim_us: u64,
    /// (seeds, total) per `Coverage::kinds` entry.
    kinds: Vec<(&'static str, u64, u64)>,
    split_brain_seeds: u64,
    flavours: [u64; 8],
    nodes: [u64; 9],
    vrids: [u64; 5],
}

impl Report {
    fn add(&mut self, o: &scenario::Outcome) {
        self.frames += o.frames;
        self.garps += o.garps;
        self.corrupted += o.corrupted;
        self.refused += o.corrupt_refused;
        self.split_brains += o.split_brains;
        self.stale_vips += o.cov.stale_vips;
        self.split_brain_seeds += u64::from(o.split_brains > 0);
        self.sim_us += o.sim_time.as_micros();
        let kinds = o.cov.kinds();
        if self.kinds.is_empty() {
            self.kinds = kinds.iter().map(|(n, _)| (*n, 0, 0)).collect();
        }
        for (row, (_, c)) in self.kinds.iter_mut().zip(kinds) {
            row.1 += u64::from(c > 0);
            row.2 += c;
        }
        let f = o.flavours;
        let flags = [
            f.v2,
            f.v3,
            f.ipv6,
            f.unicast,
            f.checksum_as_v2,
            f.owner,
            f.nopreempt,
            f.preempt_delay,
        ];
        for (s, on) in self.flavours.iter_mut().zip(flags) {
            *s += u64::from(on);
        }
        self.nodes[o.nodes] += 1;
        self.vrids[o.vrids] += 1;
    }

    /// (name, seeds, total events) of every fault kind and flavour.
    fn rows(&self) -> Vec<(String, u64, u64)> {
        let mut rows: Vec<(String, u64, u64)> = self
            .kinds
            .iter()
            .map(|(n, s, t)| (n.to_string(), *s, *t))
            .collect();
        rows.push((
            "split brain at heal".into(),
            self.split_brain_seeds,
            self.split_brains,
        ));
        let names = [
            "VRRPv2",
            "VRRPv3",
            "IPv6",
            "unicast VRID",
            "v3_checksum_as_v2",
            "address owner",
            "nopreempt",
            "preempt_delay",
        ];
        for (n, s) in names.iter().zip(self.flavours) {
            rows.push((format!("flavour: {n}"), s, s));
        }
        for (n, &s) in self.nodes.iter().enumerate().skip(2) {
            rows.push((format!("{n} routers"), s, s));
        }
        for (n, &s) in self.vrids.iter().enumerate().skip(1) {
            rows.push((format!("{n} VRIDs"), s, s));
        }
        rows
    }

    fn table(&self, count: u64) -> String {
        let mut t = format!(
            "{:<24} {:>8} {:>12}\n",
            "fault kind / flavour", "seeds", "events"
        );
        for (name, seeds, total) in self.rows() {
            t += &format!(
                "{name:<24} {seeds:>8} {total:>12}  ({:.1} % of seeds)\n",
                seeds as f64 * 100.0 / count.max(1) as f64
            );
        }
        t
    }
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
        advert_int_cs: 100,
        down_timer_adverts: 3,
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

#[test]
fn clock_model_round_trips_and_stays_in_bound() {
    use clock::Clock;
    for ppm in [-500, -37, 0, 1, 499, 500] {
        let mut c = Clock::new(ppm, 123_456_789);
        for l in [0u64, 1, 999, 1_000_000, 3_609_375, 86_400_000_000] {
            let target = Instant::from_micros(123_456_789 + l);
            let t = c.true_at(target);
            assert!(c.local(t) >= target, "ppm {ppm} l {l}");
            if t.as_micros() > 0 {
                let before = Instant::from_micros(t.as_micros() - 1);
                assert!(
                    c.local(before) < target,
                    "ppm {ppm} l {l}: not the earliest"
                );
            }
            c.check_bound(t).unwrap();
        }
        let a = c.read(Instant::from_secs(100));
        c.step(Instant::from_secs(100), 700);
        let b = c.read(Instant::from_secs(100));
        assert_eq!(b - a, Duration::from_micros(700));
        c.check_bound(Instant::from_secs(200)).unwrap();
        assert_eq!(c.stepped_us, 700);
        // NTP changes the slew: the new rate applies from then on, within the bound.
        let before = c.read(Instant::from_secs(300));
        c.set_rate(Instant::from_secs(300), -ppm);
        let after = c.read(Instant::from_secs(400));
        let want = 100_000_000 * (1_000_000 - ppm) / 1_000_000;
        assert!(
            ((after - before).as_micros() as i64 - want).abs() <= 1,
            "ppm {ppm}"
        );
        c.check_bound(Instant::from_secs(86_400)).unwrap();
    }
    // A clock outside the bound is reported.
    let mut fast = Clock::new(500, 0);
    fast.ppm = 600;
    assert!(fast.check_bound(Instant::from_secs(1000)).is_err());
    // 1 s on the slowest clock lasts 1 s / 0.9995 of true time.
    assert_eq!(
        clock::worst_true(Duration::from_secs(1), 0),
        Duration::from_micros(1_000_501)
    );
}

fn segment_vrids() -> Vec<VridSpec> {
    let mut v3 = VridSpec::new(8, VrrpVersion::V3, 100, false);
    v3.vips = 3;
    let mut as_v2 = VridSpec::new(15, VrrpVersion::V3, 50, false);
    as_v2.checksum_as_v2 = true;
    as_v2.vips = 2;
    let mut v6 = VridSpec::new(22, VrrpVersion::V3, 100, true);
    v6.vips = 2;
    vec![VridSpec::new(1, VrrpVersion::V2, 100, false), v3, as_v2, v6]
}

/// Three nodes on one segment with every wire flavour: v2, v3 with the
/// pseudo-header checksum, v3 with `checksum_as_v2`, v3 over IPv6.
fn mixed_segment(seed: u64) -> World {
    let vrids = segment_vrids();
    let members = [200u8, 150, 100]
        .iter()
        .map(|&p| vrids.iter().map(|v| Member::new(v, p)).collect())
        .collect();
    let mut w = World::new(seed, vrids, members, false);
    for (n, ppm) in [(0, 500), (1, -500), (2, 123)] {
        w.nodes[n].clock = clock::Clock::new(ppm, 1_000_000 * (n as u64 + 1));
    }
    for n in 0..3 {
        w.schedule(Instant::ZERO, Event::Restart(n));
    }
    w
}

/// Sum of the drop counters the shell feeds with `Router::record_drop`.
fn parse_drops(w: &World) -> (u64, u64) {
    use keepvip::vrrp::DropReason as D;
    let reasons = [
        D::PacketLen,
        D::InvalidType,
        D::Checksum,
        D::Version,
        D::Vrid,
        D::Family,
        D::AdvertInterval,
        D::AddrList,
    ];
    let (mut all, mut checksum) = (0, 0);
    for node in &w.nodes {
        let r = node.router.as_ref().unwrap();
        let stats = std::iter::once(r.global_stats())
            .chain(r.instance_ids().map(|id| r.stats(id).unwrap()));
        for s in stats {
            all += reasons.iter().map(|&d| s.drops(d)).sum::<u64>();
            checksum += s.drops(D::Checksum);
        }
    }
    (all, checksum)
}

#[test]
fn corrupted_frames_are_dropped_with_a_named_reason() {
    cfg::on_big_stack(|| {
        let mut w = mixed_segment(5);
        w.run_until(Instant::from_secs(10));
        w.check_converged().unwrap();
        assert_eq!(parse_drops(&w), (0, 0), "drops without corruption");
        w.schedule(w.now, Event::Corrupt { ppm: 100_000 });
        w.run_until(Instant::from_secs(310));
        w.schedule(w.now, Event::Corrupt { ppm: 0 });
        w.run_until(Instant::from_secs(320));
        w.check_converged().unwrap();
        // Every refused copy was counted by the receiving router, under a
        // named reason (no router restarted, so no counter was lost).
        let (all, checksum) = parse_drops(&w);
        assert!(w.corrupted > 200, "{} corrupted", w.corrupted);
        assert!(w.corrupt_refused > 100, "{} refused", w.corrupt_refused);
        assert_eq!(all, w.corrupt_refused);
        assert!(checksum > 0 && checksum < all, "{checksum} of {all}");
        // Corrupted link headers never reach the socket.
        let filtered: u64 = w.nodes.iter().map(|n| n.filtered[0] + n.filtered[1]).sum();
        assert!(filtered > 0);
    });
}

#[test]
fn drifting_clocks_stretch_and_shrink_local_timers() {
    let mut w = two_nodes(member(200, false), member(100, false), VrrpVersion::V3);
    w.delay_min_us = 100;
    w.jitter_us = 0;
    // The backup's clock is as slow as allowed: its timers last longer.
    w.nodes[1].clock = clock::Clock::new(-500, 42_000_000);
    w.nodes[0].clock = clock::Clock::new(500, 7);
    w.schedule(Instant::ZERO, Event::Restart(0));
    w.schedule(Instant::ZERO, Event::Restart(1));
    w.run_until(Instant::from_secs(10));
    assert_eq!(w.masters(0), [0]);
    // Clean stop: Skew_Time is 609,375 µs on node 1's clock, that is
    // 609,375 / 0.9995 = 609,679.8 µs of true time (the clock reads whole
    // microseconds: 609,679 or 609,680), not the ideal 609,375.
    let t0 = w.now;
    w.schedule(t0, Event::Stop(0));
    let t = w
        .run_until_pred(Instant::from_secs(20), |w| w.masters(0).contains(&1))
        .unwrap();
    let took = (t - t0).as_micros() - 100;
    assert!((609_679..=609_680).contains(&took), "{took}");
    // A forward step of node 0's clock while it boots as backup brings its
    // takeover (preemption after the down timer) forward by the step.
    let run = |step_us: u64| {
        let mut w = two_nodes(member(200, false), member(100, false), VrrpVersion::V3);
        w.delay_min_us = 100;
        w.jitter_us = 0;
        w.schedule(Instant::ZERO, Event::Restart(1));
        w.schedule(Instant::from_secs(10), Event::Restart(0));
        w.schedule(Instant::from_secs(11), Event::ClockStep(0, step_us));
        w.run_until_pred(Instant::from_secs(30), |w| w.masters(0).contains(&0))
            .unwrap()
    };
    assert_eq!(run(0) - run(800), Duration::from_micros(800));
}

fn tshark_fields(
    pcap: &std::path::Path,
    as_v2: bool,
    filter: &str,
    fields: &[&str],
) -> Vec<String> {
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-o", "ip.check_checksum:TRUE"])
        .arg("-o")
        .arg(format!(
            "vrrp.v3_checksum_as_in_v2:{}",
            if as_v2 { "TRUE" } else { "FALSE" }
        ))
        .args(["-Y", filter, "-T", "fields", "-E", "separator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The pcap of a simulated segment is what a capture of real keepalived
/// traffic would be: tshark decodes every advert with a good VRRP (and IPv4
/// header) checksum, and every GARP / unsolicited NA.
#[test]
fn segment_pcap_decodes_in_tshark_with_good_checksums() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        println!("skipped: KEEPVIP_QEMU is set (tshark is a host binary)");
        return;
    }
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        println!("skipped: tshark not found");
        return;
    }
    let (pcap, adverts, garps, records) = cfg::on_big_stack(|| {
        let mut w = mixed_segment(11);
        w.start_capture();
        w.run_until(Instant::from_secs(10));
        w.schedule(w.now, Event::Stop(0));
        w.schedule(Instant::from_secs(15), Event::Restart(0));
        w.run_until(Instant::from_secs(30));
        w.check_converged().unwrap();
        let adverts: u64 = w.nodes.iter().map(|n| n.adverts).sum();
        let garps: u64 = w.nodes.iter().map(|n| n.garps).sum();
        let pcap = w.take_pcap().unwrap();
        let reader = keepvip::wire::pcap::PcapReader::new(&pcap).unwrap();
        let records = reader.records().count() as u64;
        (pcap, adverts, garps, records)
    });
    assert_eq!(records, adverts + garps);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-segment.pcap");
    std::fs::write(&path, pcap).unwrap();

    let vrids = segment_vrids();
    let fields = [
        "vrrp.version",
        "vrrp.virt_rtr_id",
        "vrrp.prio",
        "vrrp.checksum.status",
        "ip.checksum.status",
        "ip.dsfield",
        "ip.ttl",
        "ipv6.tclass",
        "ipv6.hlim",
    ];
    let mut seen = 0u64;
    let mut prio0 = 0u64;
    let mut versions = std::collections::BTreeSet::new();
    for as_v2 in [false, true] {
        for line in tshark_fields(&path, as_v2, "vrrp", &fields) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), fields.len(), "{line}");
            let vrid: u8 = f[1].parse().unwrap();
            let spec = vrids.iter().find(|v| v.vrid == vrid).expect("known VRID");
            if spec.checksum_as_v2 != as_v2 {
                continue;
            }
            seen += 1;
            prio0 += u64::from(f[2] == "0");
            versions.insert((f[0].to_owned(), spec.v6));
            assert_eq!(f[3], "1", "VRRP checksum not good: {line}");
            // tshark versions print the byte as 0xc0 or 0x000000c0.
            let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok();
            if spec.v6 {
                assert_eq!((hex(f[7]), f[8]), (Some(0xc0), "255"), "{line}");
            } else {
                assert_eq!(f[4], "1", "IPv4 header checksum not good: {line}");
                assert_eq!((hex(f[5]), f[6]), (Some(0xc0), "255"), "{line}");
            }
        }
    }
    assert_eq!(seen, adverts, "tshark decoded {seen} of {adverts} adverts");
    assert!(prio0 >= 4, "priority-0 adverts of the clean stop: {prio0}");
    assert_eq!(versions.len(), 3, "{versions:?}");
    let garp = tshark_fields(&path, false, "arp.isgratuitous", &["arp.src.proto_ipv4"]);
    let na = tshark_fields(
        &path,
        false,
        "icmpv6.type == 136 && icmpv6.checksum.status == 1",
        &["icmpv6.nd.na.target_address"],
    );
    assert!(!garp.is_empty() && !na.is_empty());
    assert_eq!(garp.len() + na.len(), garps as usize);
}

/// Seeds that failed in the long runs and what they showed (all checker
/// bugs so far, see the README's reliability section), run on every
/// `cargo test`. A core change reshapes a seed's run (most of these no
/// longer show their finding on today's core), so each finding also has a
/// named scenario test that builds its condition directly:
/// `crash_left_vips_of_a_vrid_removed_before_the_restart_stay_until_it_returns`,
/// `split_brain_heal_waits_for_the_in_flight_backlog` and
/// `split_brain_loser_following_a_shorter_v3_interval_takes_over_once_more`.
#[test]
fn pinned_seeds() {
    cfg::on_big_stack(|| {
        // Split brain heal bound without the in-flight backlog: a link
        // delivers in order, so an advert sent right after the heal waits
        // behind copies sent with the fault window's long jitter.
        // Split brain heal of a v3 VRID whose nodes have their own
        // intervals: a master that stepped down at the heal took over
        // again before the winner's next advert (it followed, as a Backup,
        // the shorter interval of another master that stepped down too);
        // the check wants every loser to step down, not to stay down.
        // Each seed must pass its checkers. Whether it still heals a split
        // brain depends on the core's exact traffic (a core change, e.g.
        // higher_prio_send_advert, reshapes the run): most must.
        let seeds = [
            6398u64, 10754, 18348, 24693, 30463, 43760, 57942, 59047, 67176, 83920, 581323,
        ];
        let mut healing = std::vec::Vec::new();
        for seed in seeds {
            let o = scenario::run_seed(seed, false).unwrap_or_else(|e| panic!("{e}"));
            if o.split_brains > 0 {
                healing.push(seed);
            }
        }
        println!("pinned seeds that heal a split brain: {healing:?}");
        assert!(
            healing.len() * 2 > seeds.len(),
            "most pinned seeds should still heal a split brain, only {healing:?} do"
        );
    });
}

/// Long-run finding (a checker bug; seeds 6398 ... 83920 of
/// `pinned_seeds`, most of which no longer show it on today's core): a link
/// delivers in order, so an advert sent right after the heal waits behind
/// the copies still in flight from the fault window's long delays. Here
/// the path from the master to the backup has 800 ms of latency for a
/// while (a latency spike longer than Master_Down_Interval: the backup
/// takes over, a split brain), then heals to 100 µs. The backup steps
/// down when the first of the master's adverts sent into the spike lands,
/// 200-300 ms after the heal: later than one advert interval (100 ms) plus
/// the delay, within the heal bound that counts the backlog; then the
/// segment settles with no other transition.
#[test]
fn split_brain_heal_waits_for_the_in_flight_backlog() {
    let m = |p| Member {
        advert_int_cs: 10,
        ..member(p, false)
    };
    let mut w = World::new(
        21,
        vec![VridSpec::new(51, VrrpVersion::V3, 10, false)],
        vec![vec![m(200)], vec![m(100)]],
        false,
    );
    w.delay_min_us = 100;
    w.jitter_us = 0;
    boot_all(&mut w);
    w.run_until(Instant::from_secs(5));
    assert_eq!(w.masters(0), [0]);
    let spike = w.now;
    let latency = Duration::from_millis(800);
    w.delay_min_us = latency.as_micros();
    // Master_Down_Interval of node 1: 3 * 100 ms + 60.9375 ms < 600 ms.
    let heal = spike + Duration::from_millis(600);
    w.run_until(heal);
    assert_eq!(w.masters(0), [0, 1], "split brain before the heal");
    w.delay_min_us = 100;
    w.schedule(heal, Event::Heal);
    let heal_mark = w.transitions.len();
    let at_heal = w.masters(0);
    let interval = Duration::from_millis(100);
    let no_backlog =
        clock::worst_true(interval, 10) + scenario::max_delay(&w) + Duration::from_millis(1);
    assert!(
        w.backlog() > latency.saturating_sub(interval + Duration::from_millis(1)),
        "backlog {:?}",
        w.backlog()
    );
    let bound = scenario::heal_bound(&w, 0);
    let t = w
        .run_until_pred(heal + bound, |w| w.state(1, 0) == Some(StateKind::Backup))
        .expect("node 1 steps down within the heal bound");
    // The first of node 0's adverts sent after the spike started (within
    // one interval of it) lands 800 ms after it was sent.
    assert!(
        t >= spike + latency && t <= spike + latency + interval + Duration::from_micros(100),
        "node 1 stepped down at {:?} (spike at {spike:?})",
        t
    );
    assert!(
        t > heal + no_backlog,
        "the backlog did not matter: stepped down {:?} after the heal",
        t - heal
    );
    w.run_until(heal + bound);
    assert_eq!(scenario::unhealed(&w, 0, heal_mark, &at_heal), [0]);
    w.run_until(heal + Duration::from_secs(10));
    w.check_converged().unwrap();
    w.check_backups_follow().unwrap();
    let after: Vec<_> = w.transitions[heal_mark..]
        .iter()
        .map(|t| (t.1, t.3))
        .collect();
    assert_eq!(
        after,
        [(1, NotifyState::Backup)],
        "one step-down, no flapping"
    );
}

/// Long-run finding (a checker bug; seed 581323 of `pinned_seeds`, which
/// no longer shows it on today's core): VRRPv3 nodes with their own
/// intervals. W (priority 200, 300 ms), X (150, 100 ms) and L (100, 300
/// ms, `down_timer_adverts 1`) are all master in a partition. At the heal
/// X advertises first; W answers at once (a lower priority: forcing a new
/// election) and both X and L step down. X's adverts (its own, and the
/// one it sends as it steps down, `higher_prio_send_advert`) reach L later
/// (a slower path, 5 ms) and L, now a Backup, follows them:
/// Master_Adver_Interval = X's 100 ms (RFC 5798 6.4.2), so its down timer
/// is 100 ms + Skew_Time, while X is already silent and W's next advert is
/// 300 ms away. L takes over once more, exactly when that timer allows, W
/// answers its lower priority at once, and L steps down for good, now
/// following W. The split brain check counts a master that stepped down
/// since the heal as healed (`scenario::unhealed`), so it accepts this.
#[test]
fn split_brain_loser_following_a_shorter_v3_interval_takes_over_once_more() {
    let m = |p, int_cs, dta| Member {
        advert_int_cs: int_cs,
        down_timer_adverts: dta,
        ..member(p, false)
    };
    let (wn, xn, ln) = (0usize, 1usize, 2usize);
    let mut w = World::new(
        22,
        vec![VridSpec::new(51, VrrpVersion::V3, 30, false)],
        vec![
            vec![m(200, 30, 3)],
            vec![m(150, 10, 3)],
            vec![m(100, 30, 1)],
        ],
        false,
    );
    w.delay_min_us = 100;
    w.jitter_us = 0;
    w.link_delay_us[xn][ln] = 5_000;
    for a in 0..3 {
        for b in 0..3 {
            if a != b {
                w.schedule(Instant::ZERO, Event::Block { from: a, to: b });
            }
        }
    }
    boot_all(&mut w);
    // Up at 0: X advertises at 341.4 + 100k ms, W at 965.6 + 300k ms, L at
    // 482.8 + 300k ms; from 3 s X is the first (3041.4 ms).
    let heal = Instant::from_secs(3);
    w.run_until(heal);
    assert_eq!(w.masters(0), [wn, xn, ln], "three masters in the partition");
    w.schedule(heal, Event::Heal);
    let heal_mark = w.transitions.len();
    let at_heal = w.masters(0);
    let bound = scenario::heal_bound(&w, 0);
    // L steps down (W's answer to X's advert), and so does X.
    let t_down = w
        .run_until_pred(heal + bound, |w| w.state(ln, 0) == Some(StateKind::Backup))
        .expect("L steps down");
    w.run_until(t_down + Duration::from_millis(1));
    assert_eq!(w.masters(0), [wn]);
    // Then X's adverts (its own, and the one it sent as it stepped down:
    // higher_prio_send_advert), slower on their way to L: L, a Backup,
    // follows X's interval although X is no master any more. W is silent
    // until its next advert, 300 ms after its answer.
    let follows = |w: &World, n: usize| {
        let id = w.id(n, 0).unwrap();
        let r = w.nodes[n].router.as_ref().unwrap();
        (
            r.master_addr(id),
            r.master_priority(id),
            r.master_adver_interval_cs(id),
        )
    };
    let rcvd = |w: &World| {
        let r = w.nodes[ln].router.as_ref().unwrap();
        r.stats(w.id(ln, 0).unwrap()).unwrap().advert_rcvd
    };
    let w_adverts = w.nodes[wn].adverts;
    let mut last_rx = None;
    let t_retake = loop {
        let n = rcvd(&w);
        let t = w
            .run_until_pred(heal + bound, |w| {
                rcvd(w) > n || w.state(ln, 0) == Some(StateKind::Master)
            })
            .expect("L takes over once more within the check's window");
        if w.state(ln, 0) == Some(StateKind::Master) {
            break t;
        }
        last_rx = Some((t, follows(&w, ln), w.state(xn, 0)));
    };
    let (t_rx, followed, x_state) = last_rx.expect("L heard X's adverts after stepping down");
    assert_eq!(
        followed,
        (Some(w.src(xn, 0)), Some(150), Some(10)),
        "L's last advert before it took over"
    );
    assert_eq!(x_state, Some(StateKind::Backup), "X had stepped down");
    assert_eq!(
        t_retake - t_rx,
        keepvip::vrrp::timers::master_down_interval(VrrpVersion::V3, 100, 10, 1),
        "L's down timer ran on X's 100 ms interval"
    );
    assert_eq!(
        w.nodes[wn].adverts, w_adverts,
        "W did not advertise meanwhile"
    );
    // Within the split brain check's window, two masters, yet healed: L
    // stepped down since the heal.
    assert_eq!(w.masters(0), [wn, ln]);
    assert_eq!(scenario::unhealed(&w, 0, heal_mark, &at_heal), [wn]);
    // W answers L's lower priority at once: L steps down for good.
    let t_down2 = w
        .run_until_pred(t_retake + Duration::from_millis(2), |w| {
            w.state(ln, 0) == Some(StateKind::Backup)
        })
        .expect("L steps down again at W's answer");
    assert!(
        t_down2 - t_retake <= Duration::from_micros(300),
        "{t_down2:?}"
    );
    assert_eq!(follows(&w, ln), (Some(w.src(wn, 0)), Some(200), Some(30)));
    w.run_until(heal + bound);
    assert_eq!(scenario::unhealed(&w, 0, heal_mark, &at_heal), [wn]);
    let l_notes: Vec<NotifyState> = w.transitions[heal_mark..]
        .iter()
        .filter(|t| t.1 == ln)
        .map(|t| t.3)
        .collect();
    assert_eq!(
        l_notes,
        [
            NotifyState::Backup,
            NotifyState::Master,
            NotifyState::Backup
        ]
    );
    // Then nothing moves: L follows W's 300 ms interval.
    let before = w.transitions.len();
    w.run_until(heal + Duration::from_secs(20));
    assert_eq!(
        w.transitions.len(),
        before,
        "{:?}",
        &w.transitions[before..]
    );
    w.check_converged().unwrap();
    w.check_backups_follow().unwrap();
}

fn node_members(vrids: &[VridSpec], prios: &[u8]) -> Vec<Vec<Member>> {
    prios
        .iter()
        .map(|&p| vrids.iter().map(|v| Member::new(v, p)).collect())
        .collect()
}

fn boot_all(w: &mut World) {
    for n in 0..w.nodes.len() {
        w.schedule(Instant::ZERO, Event::Restart(n));
    }
}

/// SIGHUP with VRID 2 changed (lower priority) and the instances in
/// another order: VRID 1 keeps its state and VIPs without a notification
/// (no flap, acassen/keepalived#2159), VRID 2 stops with a priority-0
/// advert and restarts as Backup; the peer takes it over Skew_Time later.
#[test]
fn reload_keeps_an_unchanged_master_and_restarts_a_changed_one() {
    cfg::on_big_stack(|| {
        let vrids = vec![
            VridSpec::new(1, VrrpVersion::V3, 100, false),
            VridSpec::new(2, VrrpVersion::V2, 100, false),
        ];
        let members = node_members(&vrids, &[200, 100]);
        let mut w = World::new(1, vrids, members, false);
        w.delay_min_us = 100;
        w.jitter_us = 0;
        boot_all(&mut w);
        w.run_until(Instant::from_secs(10));
        assert_eq!((w.masters(0), w.masters(1)), (vec![0], vec![0]));
        let before = w.transitions.len();
        let t0 = w.now;
        let mut changed = w.members[0][1].clone();
        changed.priority = 50;
        let same = w.members[0][0].clone();
        w.reload(0, vec![Some(same), Some(changed)], vec![1, 0]);
        assert_eq!(
            w.nodes[0].layout.slot,
            [Some(InstanceId(1)), Some(InstanceId(0))]
        );
        assert_eq!(w.state(0, 0), Some(StateKind::Master));
        assert!(w.nodes[0].held[0]);
        assert_eq!(w.state(0, 1), Some(StateKind::Backup));
        assert!(!w.nodes[0].held[1]);
        let notes: Vec<_> = w.transitions[before..]
            .iter()
            .map(|t| (t.1, t.2, t.3))
            .collect();
        assert_eq!(
            notes,
            [(0, 1, NotifyState::Stop), (0, 1, NotifyState::Backup)]
        );
        assert_eq!((w.cov.reload_kept, w.cov.reload_changed), (1, 1));
        // v2 Skew_Time of priority 100: (256 - 100) / 256 s.
        let t = w
            .run_until_pred(t0 + Duration::from_secs(2), |w| w.masters(1) == [1])
            .unwrap();
        assert_eq!(t - t0, Duration::from_micros(100 + 609_375));
        w.run_until(t0 + Duration::from_secs(30));
        w.check_converged().unwrap();
        assert!(
            w.transitions[before..].iter().all(|t| t.2 != 0),
            "VRID 1 moved"
        );
        // A reload that only reorders the file changes nothing at all.
        let before = w.transitions.len();
        w.schedule(
            w.now,
            Event::Reload {
                node: 1,
                seed: 5,
                kind: ReloadKind::Same,
            },
        );
        w.run_until(w.now + Duration::from_secs(30));
        assert_eq!(w.transitions.len(), before);
        assert_eq!(w.cov.reload_kept, 3);
    });
}

/// Found by the long run (a checker fix, not a core bug): kill -9 leaves
/// the VIPs on the interface; if the file loses the VRID before the
/// restart, no instance owns those addresses and the daemon cannot know
/// they were its own (keepalived cannot either), so they stay, next to
/// the new master's, until the VRID comes back (it starts as Backup and
/// removes them) or an operator removes them.
#[test]
fn crash_left_vips_of_a_vrid_removed_before_the_restart_stay_until_it_returns() {
    cfg::on_big_stack(|| {
        let vrids = vec![
            VridSpec::new(1, VrrpVersion::V3, 100, false),
            VridSpec::new(2, VrrpVersion::V3, 100, false),
        ];
        let members = node_members(&vrids, &[200, 100]);
        let mut w = World::new(2, vrids, members, false);
        boot_all(&mut w);
        w.run_until(Instant::from_secs(10));
        assert_eq!((w.masters(0), w.masters(1)), (vec![0], vec![0]));
        w.schedule(Instant::from_secs(10), Event::Crash(0));
        w.run_until(Instant::from_secs(11));
        let keep = w.members[0][1].clone();
        w.reload(0, vec![None, Some(keep)], vec![1]);
        w.schedule(Instant::from_secs(12), Event::Restart(0));
        w.run_until(Instant::from_secs(30));
        assert_eq!(w.masters(0), [1]);
        assert!(w.nodes[0].held[0] && w.nodes[0].stale[0] && w.nodes[1].held[0]);
        assert_eq!(w.cov.stale_vips, 1);
        assert_eq!(w.masters(1), [0], "VRID 2 preempted back");
        // The file gets VRID 1 back: it starts as Backup (VIPs removed), then preempts.
        let all = w.members[0].iter().cloned().map(Some).collect();
        w.reload(0, all, vec![0, 1]);
        assert!(!w.nodes[0].held[0] && !w.nodes[0].stale[0]);
        w.run_until(Instant::from_secs(40));
        w.check_converged().unwrap();
        assert_eq!(w.masters(0), [0]);
    });
}

/// Unicast (`unicast_src_ip` / `unicast_peer`) over IPv4 (v2) and IPv6
/// (v3, global addresses), adverts arriving with TTL 64 (routed peers:
/// unicast skips the TTL check): election, one-way partition, heal, crash.
#[test]
fn unicast_peers_elect_heal_and_fail_over_with_any_ttl() {
    cfg::on_big_stack(|| {
        let mut a = VridSpec::new(3, VrrpVersion::V2, 100, false);
        a.unicast = true;
        let mut b = VridSpec::new(4, VrrpVersion::V3, 50, true);
        b.unicast = true;
        b.vips = 2;
        let vrids = vec![a, b];
        let members = node_members(&vrids, &[100, 200, 150]);
        let mut w = World::new(3, vrids, members, false);
        for n in &mut w.nodes {
            n.unicast_ttl = 64;
        }
        boot_all(&mut w);
        w.run_until(Instant::from_secs(10));
        w.check_converged().unwrap();
        assert_eq!((w.masters(0), w.masters(1)), (vec![1], vec![1]));
        let adverts: u64 = w.nodes.iter().map(|n| n.adverts).sum();
        assert_eq!(w.cov.unicast_copies, 2 * adverts, "one copy per peer");
        // Node 2 stops hearing node 1: it takes over; the heal is one advert away.
        w.schedule(w.now, Event::Block { from: 1, to: 2 });
        w.run_until(Instant::from_secs(20));
        assert_eq!((w.masters(0), w.masters(1)), (vec![1, 2], vec![1, 2]));
        w.schedule(w.now, Event::Heal);
        w.run_until(Instant::from_secs(21));
        assert_eq!((w.masters(0), w.masters(1)), (vec![1], vec![1]));
        w.schedule(w.now, Event::Crash(1));
        w.run_until(Instant::from_secs(26));
        assert_eq!((w.masters(0), w.masters(1)), (vec![2], vec![2]));
    });
}

/// A loss burst on the master's port longer than Master_Down_Interval:
/// the backup takes over once, and gives back at the master's first
/// advert after the burst (one interval at most).
#[test]
fn loss_burst_on_the_master_port_longer_than_the_down_interval() {
    let mut w = two_nodes(member(200, false), member(100, false), VrrpVersion::V3);
    w.jitter_us = 0;
    boot_all(&mut w);
    w.run_until(Instant::from_secs(10));
    let before = w.transitions.len();
    w.schedule(
        Instant::from_secs(10),
        Event::Burst {
            node: Some(0),
            len_us: 5_000_000,
        },
    );
    w.run_until(Instant::from_secs(15));
    assert_eq!(w.masters(0), [0, 1]);
    let t = w
        .run_until_pred(Instant::from_secs(20), |w| w.masters(0) == [0])
        .unwrap();
    assert!(t <= Instant::from_secs(16), "{t:?}");
    let node1: Vec<_> = w.transitions[before..]
        .iter()
        .filter(|t| t.1 == 1)
        .map(|t| t.3)
        .collect();
    assert_eq!(node1, [NotifyState::Master, NotifyState::Backup]);
    assert!(w.cov.burst_lost >= 5);
}

/// A master's adverts duplicated and reordered (held back less than the
/// down interval) never cause a transition.
#[test]
fn duplicated_and_reordered_adverts_change_nothing_in_a_stable_segment() {
    cfg::on_big_stack(|| {
        let mut w = mixed_segment(7);
        w.run_until(Instant::from_secs(10));
        w.check_converged().unwrap();
        let before = w.transitions.len();
        w.schedule(
            w.now,
            Event::Net {
                drop_ppm: 0,
                dup_ppm: 1_000_000,
                jitter_us: 5_000,
            },
        );
        w.schedule(
            w.now,
            Event::Reorder {
                ppm: 300_000,
                span_us: 200_000,
            },
        );
        w.run_until(Instant::from_secs(130));
        assert_eq!(w.transitions.len(), before);
        assert!(
            w.cov.duplicated > 1000 && w.cov.reordered > 100,
            "{:?}",
            w.cov
        );
        w.check_converged().unwrap();
    });
}

/// A tracker: FAULT moves the master away (priority-0 handover) and back
/// (preemption); a weight that drops it below the backup moves it too; a
/// flapping FAULT settles where the priorities say.
#[test]
fn tracker_fault_and_weight_move_the_master() {
    let mut w = two_nodes(member(200, false), member(150, false), VrrpVersion::V3);
    w.jitter_us = 0;
    boot_all(&mut w);
    w.run_until(Instant::from_secs(10));
    let fault = TrackState {
        fault: true,
        weight: 0,
    };
    let ok = TrackState::default();
    w.schedule(Instant::from_secs(10), Event::Track(0, 0, fault));
    w.run_until(Instant::from_secs(11));
    assert_eq!(w.state(0, 0), Some(StateKind::Fault));
    assert_eq!(w.masters(0), [1]);
    w.schedule(Instant::from_secs(12), Event::Track(0, 0, ok));
    w.run_until(Instant::from_secs(17));
    assert_eq!(w.masters(0), [0]);
    let down = TrackState {
        fault: false,
        weight: -60,
    };
    w.schedule(Instant::from_secs(20), Event::Track(0, 0, down));
    w.run_until(Instant::from_secs(25));
    assert_eq!((w.masters(0), w.eff(0, 0)), (vec![1], 140));
    // The script flaps (its weight stays).
    for i in 0..10 {
        let t = Instant::from_millis(30_000 + 400 * i);
        let f = TrackState {
            fault: true,
            ..down
        };
        w.schedule(t, Event::Track(0, 0, f));
        w.schedule(t + Duration::from_millis(200), Event::Track(0, 0, down));
    }
    w.run_until(Instant::from_secs(40));
    w.check_converged().unwrap();
    assert_eq!(w.masters(0), [1], "node 0 at 140 stays Backup");
    assert_eq!(w.cov.track_fault, 11);
}
