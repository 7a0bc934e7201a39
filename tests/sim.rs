//! Deterministic multi-router simulator (ARCHITECTURE.md section 5).
//!
//! Every advert is a real Ethernet frame built and parsed by `keepvip::wire`
//! (see `sim/frames.rs`); every node runs on its own drifting clock (see
//! `sim/clock.rs`); faults: drop, delay, duplication, byte corruption,
//! one-way and two-way partitions, crashes, clean stops, link and tracker
//! changes, clock steps. Checkers: `sim/world.rs` (always on) and
//! `sim/scenario.rs` (after heal).
//!
//! `cargo test --test sim` runs 1,000 seeds (a few seconds). Knobs:
//! * `KEEPVIP_SIM_SEEDS=n` runs n seeds, starting at `KEEPVIP_SIM_FIRST`
//!   (default 0). A long run of 100,000 seeds (about 3 ms a seed in a
//!   release build, so 4-5 minutes on one core; seeds 0..50,000 were run
//!   clean: 20,000 in 51 s, then 30,000 in 100 s, on a loaded 2-core box):
//!
//!   ```text
//!   KEEPVIP_SIM_SEEDS=100000 cargo test --release --test sim random_seeds -- --nocapture
//!   ```
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
    let count = env_u64("KEEPVIP_SIM_SEEDS").unwrap_or(1000);
    let first = env_u64("KEEPVIP_SIM_FIRST").unwrap_or(0);
    let mut failures = Vec::new();
    let (mut frames, mut corrupted, mut refused, mut garps) = (0u64, 0u64, 0u64, 0u64);
    let started = std::time::Instant::now();
    for seed in first..first + count {
        let r = std::panic::catch_unwind(|| scenario::run_seed(seed, false));
        match r {
            Ok(Ok(o)) => {
                frames += o.frames;
                corrupted += o.corrupted;
                refused += o.corrupt_refused;
                garps += o.garps;
            }
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
    println!(
        "{count} seeds from {first} in {:.1?}: {frames} frames delivered, {garps} GARP/NA, \
         {corrupted} copies corrupted ({refused} refused by the parsers)",
        started.elapsed()
    );
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    assert!(
        frames > count,
        "the segment carried too few frames ({frames}): the simulator is not exercising the core"
    );
    if count >= 100 {
        assert!(garps > count, "too few GARPs ({garps})");
        assert!(
            corrupted > 0 && refused > 0 && refused <= corrupted,
            "corruption fault not exercised: {corrupted} corrupted, {refused} refused"
        );
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
        .map(|&p| vec![member(p, false); vrids.len()])
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
