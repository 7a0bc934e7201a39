//! End-to-end tests of the keepvip daemon (root only): two real keepvip
//! processes in network namespaces, joined by a bridge in a third
//! namespace, moving a VIP between them.
//!
//! Topology per test (names `kvd-<tag>-<pid>-*`, so parallel tests and
//! helpers never collide; everything is deleted on drop, also on panic):
//!
//! ```text
//!   r1:eth0 192.0.2.1/24 2001:db8::1/64 --+
//!                                          +-- sw:br0 (bridge, no snooping)
//!   r2:eth0 192.0.2.2/24 2001:db8::2/64 --+
//! ```
//!
//! The daemons run with `-n -l -D` and log to a file each; the tests read
//! the logs and `ip -o addr`. Every wait is bounded. The failover and
//! handover delays are printed (`cargo test -- --nocapture`), not asserted
//! tightly. Under qemu-user (`KEEPVIP_QEMU=1`) the tests are skipped.

mod daemon_lab;
use daemon_lab::*;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn v2_election_stale_vip_kill9_preemption_and_sigterm_handover() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("v2", 2);
    lab.write_conf(
        1,
        &instance("VI_1", 51, 200, 2, "1", &["192.0.2.100/24"], PASS),
    );
    lab.write_conf(
        2,
        &instance("VI_1", 51, 100, 2, "1", &["192.0.2.100/24"], PASS),
    );
    // A VIP left behind by a crashed run on the future backup.
    lab.ip(2, &["addr", "add", "192.0.2.100/24", "dev", "eth0"]);
    lab.start(2);
    assert!(
        !lab.has(2, VIP4),
        "stale VIP must be gone once start-up is complete\n{}",
        lab.dump()
    );
    assert!(lab.log(2).contains("(VI_1) removing VIPs."));
    assert!(lab.log(2).contains("start-up VIP cleanup"));
    lab.start(1);
    let cap = Capture::start(&lab, 1);

    // Election: r1 (200) wins.
    lab.wait_master(1, VIP4, Duration::from_secs(8));
    assert!(lab.log(1).contains("(VI_1) Entering MASTER STATE"));
    assert!(
        lab.log(1)
            .contains("Sending gratuitous ARP on eth0 for 192.0.2.100")
    );

    // kill -9 the master: r2 takes over after Master_Down_Interval
    // (3 * 1 s + (256 - 100) / 256 s = 3.61 s after r1's last advert).
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    lab.kill9(1);
    lab.wait_has(2, VIP4, Duration::from_secs(8));
    let d = t0.elapsed();
    let wire = cap.takeover_ms(200, 100, false).expect("adverts captured");
    println!(
        "v2 kill -9 failover: r2's first advert {wire:.1} ms after r1's last advert (Master_Down_Interval 3609 ms); VIP seen {} ms after the kill",
        d.as_millis()
    );
    assert!(
        (3000.0..4500.0).contains(&wire),
        "failover {wire} ms is not Master_Down_Interval"
    );
    assert!(lab.log(2).contains("(VI_1) Receive advertisement timeout"));
    // The killed master's VIP stays behind in r1 (nobody removed it)...
    assert!(lab.has(1, VIP4));

    // ... until r1 restarts: it removes the stale VIP, then preempts r2.
    lab.start(1);
    let d = lab.wait_master(1, VIP4, Duration::from_secs(8));
    println!(
        "v2 preemption back to r1: {} ms after r1's start-up",
        d.as_millis()
    );
    assert!(lab.log(2).contains("Entering BACKUP STATE"));

    // SIGTERM r1: priority 0 -> r2 takes over after Skew_Time (0.61 s).
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let (exit_after, code) = lab.term(1);
    let d = lab.wait_master(2, VIP4, Duration::from_secs(3));
    let handover = t0.elapsed();
    // The adverts of the second r1 run: skip the first failover.
    let wire = {
        let a = cap.adverts();
        let stop = a
            .iter()
            .rposition(|x| x.prio == 0)
            .expect("priority-0 advert");
        let first_new = a[stop..]
            .iter()
            .find(|x| x.prio == 100)
            .expect("r2 advert after priority 0");
        (first_new.t - a[stop].t) * 1000.0
    };
    println!(
        "v2 SIGTERM handover: r2's first advert {wire:.1} ms after r1's priority-0 advert (Skew_Time 609 ms); r1 exited after {} ms (status {:?}); VIP on r2 {} ms after the signal",
        exit_after.as_millis(),
        code,
        handover.as_millis().max(d.as_millis())
    );
    assert!(
        (400.0..1500.0).contains(&wire),
        "handover {wire} ms is not Skew_Time"
    );
    assert_eq!(code, Some(0));
    assert!(
        exit_after < Duration::from_secs(1),
        "SIGTERM exit took {exit_after:?}"
    );
    assert!(
        handover < Duration::from_millis(2500),
        "handover took {handover:?}: priority 0 not honoured?"
    );
    assert!(lab.log(1).contains("(VI_1) sent 0 priority"));
    assert!(lab.log(1).contains("shutdown took"));
    assert!(
        lab.log(2)
            .contains("(VI_1) Backup received priority 0 advertisement"),
        "{}",
        lab.dump()
    );
    assert!(!lab.has(1, VIP4), "r1 must remove its VIP on SIGTERM");
}

#[test]
fn v3_ipv6_election_and_failover() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("v6", 2);
    let vips = ["2001:db8::100/64"];
    lab.write_conf(1, &instance("VI_6", 61, 150, 3, "0.5", &vips, ""));
    lab.write_conf(2, &instance("VI_6", 61, 100, 3, "0.5", &vips, ""));
    lab.start(1);
    lab.start(2);
    let cap = Capture::start(&lab, 1);
    lab.wait_master(1, VIP6, Duration::from_secs(6));
    assert!(
        lab.log(1)
            .contains("Sending unsolicited Neighbour Advert on eth0 for 2001:db8::100")
    );
    // r2 follows r1's adverts (no takeover while r1 runs).
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        !lab.log(2).contains("Entering MASTER STATE"),
        "{}",
        lab.dump()
    );
    let t0 = Instant::now();
    lab.kill9(1);
    lab.wait_has(2, VIP6, Duration::from_secs(5));
    let seen = t0.elapsed();
    match cap.takeover_ms(150, 100, false) {
        Some(wire) => {
            println!(
                "v3 IPv6 kill -9 failover: r2's first advert {wire:.1} ms after r1's last advert (Master_Down_Interval 1805 ms); VIP seen {} ms after the kill",
                seen.as_millis()
            );
            assert!((1500.0..2600.0).contains(&wire), "failover {wire} ms");
        }
        None => println!(
            "v3 IPv6 kill -9 failover: VIP on r2 {} ms after the kill (tcpdump did not decode the adverts: {:?})",
            seen.as_millis(),
            cap.adverts().len()
        ),
    }
}

#[test]
fn v3_unicast_election_and_sigterm_handover() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("uc", 2);
    let uc = |me: u8, peer: u8| {
        format!(
            "    unicast_src_ip 192.0.2.{me}\n    unicast_peer {{\n        192.0.2.{peer}\n    }}\n"
        )
    };
    lab.write_conf(
        1,
        &instance("VI_U", 71, 200, 3, "0.5", &["192.0.2.100/24"], &uc(1, 2)),
    );
    lab.write_conf(
        2,
        &instance("VI_U", 71, 100, 3, "0.5", &["192.0.2.100/24"], &uc(2, 1)),
    );
    lab.start(1);
    lab.start(2);
    let cap = Capture::start(&lab, 1);
    lab.wait_master(1, VIP4, Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !lab.log(2).contains("Entering MASTER STATE"),
        "{}",
        lab.dump()
    );
    // Unicast: every advert goes from unicast_src_ip to the peer, never to the group.
    let a = cap.adverts();
    assert!(!a.is_empty());
    assert!(a.iter().all(|x| x.src == "192.0.2.1"), "{a:?}");
    let text = fs::read_to_string(&cap.out).unwrap();
    assert!(!text.contains("224.0.0.18"), "{text}");
    assert!(text.contains("192.0.2.1 > 192.0.2.2"), "{text}");
    let t0 = Instant::now();
    let (exit_after, code) = lab.term(1);
    lab.wait_master(2, VIP4, Duration::from_secs(3));
    let d = t0.elapsed();
    let wire = cap.takeover_ms(200, 100, true).expect("adverts captured");
    println!(
        "v3 unicast SIGTERM handover: r2's first advert {wire:.1} ms after r1's priority-0 advert (Skew_Time 305 ms); VIP on r2 {} ms after the signal; r1 exited after {} ms",
        d.as_millis(),
        exit_after.as_millis()
    );
    assert!((200.0..1000.0).contains(&wire), "handover {wire} ms");
    assert!(
        cap.adverts()
            .iter()
            .any(|x| x.src == "192.0.2.2" && x.prio == 100)
    );
    assert_eq!(code, Some(0));
    assert!(
        lab.log(2)
            .contains("Backup received priority 0 advertisement")
    );
    assert!(d < Duration::from_millis(1500), "handover took {d:?}");
}

#[test]
fn link_down_on_master_faults_and_backup_takes_over() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("fault", 2);
    lab.write_conf(
        1,
        &instance("VI_1", 51, 200, 3, "0.5", &["192.0.2.100/24"], ""),
    );
    // r2 also runs VRID 99, which r1 does not know: counted, logged once.
    let vi9 = instance("VI_9", 99, 100, 3, "0.5", &["192.0.2.199/24"], "");
    lab.write_conf(
        2,
        &format!(
            "{}{vi9}",
            instance("VI_1", 51, 100, 3, "0.5", &["192.0.2.100/24"], "")
        ),
    );
    lab.start(1);
    lab.start(2);
    lab.wait_master(1, VIP4, Duration::from_secs(6));
    lab.wait_has(2, "192.0.2.199", Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        count(&lab.log(1), "received advert for VRID 99 on eth0"),
        1,
        "{}",
        lab.log(1)
    );
    let t0 = Instant::now();
    lab.ip(1, &["link", "set", "eth0", "down"]);
    // r1 drops the VIP (kernel and keepvip), r2 takes over.
    lab.wait_master(2, VIP4, Duration::from_secs(5));
    println!(
        "link down on master: r2 master after {} ms",
        t0.elapsed().as_millis()
    );
    let l1 = lab.log(1);
    assert!(l1.contains("Netlink reports eth0 down"), "{l1}");
    assert!(l1.contains("(VI_1) Entering FAULT STATE"), "{l1}");
    // Link back: r1 returns to BACKUP, then preempts.
    lab.ip(1, &["link", "set", "eth0", "up"]);
    lab.wait_master(1, VIP4, Duration::from_secs(6));
    assert!(lab.log(1).contains("Netlink reports eth0 up"));
}

#[test]
fn vip_deleted_behind_the_masters_back_is_readded() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("readd", 1);
    let mark = lab.dir.join("master.mark");
    lab.write_conf(
        1,
        &instance(
            "VI_1",
            51,
            200,
            3,
            "0.5",
            &["192.0.2.100/24"],
            &format!("    notify_master \"/usr/bin/touch {}\"\n", mark.display()),
        ),
    );
    lab.start(1);
    lab.wait_master(1, VIP4, Duration::from_secs(6));
    // notify_master ran (exactly as configured).
    assert!(
        wait_until(Duration::from_secs(2), || mark.exists()),
        "notify_master did not run\n{}",
        lab.log(1)
    );
    let t0 = Instant::now();
    lab.ip(1, &["addr", "del", "192.0.2.100/24", "dev", "eth0"]);
    assert!(
        wait_until(Duration::from_secs(2), || lab.has(1, VIP4)),
        "VIP not re-added\n{}",
        lab.dump()
    );
    println!("VIP re-added after {} ms", t0.elapsed().as_millis());
    assert!(
        lab.log(1)
            .contains("(VI_1) VIP 192.0.2.100 was removed from eth0 while MASTER: re-adding it")
    );
}

#[test]
fn sighup_keeps_unchanged_master_and_survives_a_broken_config() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hup", 1);
    let vi1 = instance("VI_1", 51, 200, 3, "0.5", &["192.0.2.100/24"], "");
    let vi2 = instance("VI_2", 52, 200, 3, "0.5", &["192.0.2.101/24"], "");
    lab.write_conf(1, &format!("{vi1}{vi2}"));
    lab.start(1);
    lab.wait_master(1, VIP4, Duration::from_secs(6));
    assert!(wait_until(Duration::from_secs(6), || lab.has(1, "192.0.2.101")));

    // Same file, VI_1 moved down by a comment line, VI_2 changed: VI_1
    // keeps its state and VIP untouched, VI_2 restarts.
    let vi2b = instance("VI_2", 52, 180, 3, "0.5", &["192.0.2.101/24"], "");
    lab.write_conf(1, &format!("! reloaded\n{vi1}{vi2b}"));
    let before = lab.log(1);
    lab.signal(1, "HUP");
    // Watch the VIP during the reload: it must never disappear.
    let mut vip_gone = false;
    let ok = wait_until(Duration::from_secs(3), || {
        vip_gone |= !lab.has(1, VIP4);
        lab.log(1).contains("Configuration reloaded")
    });
    assert!(ok, "no reload\n{}", lab.dump());
    let new = lab.log(1)[before.len()..].to_string();
    assert!(
        new.contains("Configuration reloaded: 1 instance(s) unchanged, 1 stopped, 1 started"),
        "{new}"
    );
    assert!(!new.contains("(VI_1) Entering"), "VI_1 flapped:\n{new}");
    assert!(!new.contains("(VI_1) removing VIPs"), "{new}");
    // The changed VI_2 was master: it leaves with priority 0 and drops its VIP first.
    assert!(new.contains("(VI_2) sent 0 priority"), "{new}");
    assert!(new.contains("(VI_2) removing VIPs."), "{new}");
    assert!(new.contains("(VI_2) Entering BACKUP STATE (init)"), "{new}");
    assert!(!vip_gone, "VI_1's VIP disappeared during the reload");
    assert!(lab.has(1, VIP4));
    // VI_2 comes back as master on its own (no peer).
    assert!(wait_until(Duration::from_secs(6), || lab.has(1, "192.0.2.101")));

    // Broken file: errors logged with file:line:col, old config kept.
    lab.write_conf(1, "vrrp_instance VI_1 {\n    virtual_router_id 300\n");
    let before = lab.log(1);
    lab.signal(1, "HUP");
    assert!(wait_until(Duration::from_secs(3), || lab
        .log(1)
        .contains("keeping the running configuration")));
    let new = lab.log(1)[before.len()..].to_string();
    let conf = lab.node(1).conf.display().to_string();
    assert!(new.contains(&format!("{conf}:")), "{new}");
    std::thread::sleep(Duration::from_millis(1200));
    let new = lab.log(1)[before.len()..].to_string();
    assert!(!new.contains("Entering"), "{new}");
    assert!(lab.has(1, VIP4) && lab.has(1, "192.0.2.101"));
    assert!(
        lab.nodes[0]
            .child
            .as_mut()
            .unwrap()
            .try_wait()
            .unwrap()
            .is_none()
    );

    // The data dump (tests/daemon_observe.rs tests the dumps in depth) shows
    // the reloaded configuration.
    let data = lab.node(1).pid.with_extension("data");
    lab.signal(1, "USR1");
    assert!(wait_until(Duration::from_secs(2), || fs::read_to_string(
        &data
    )
    .is_ok_and(|d| d.contains(
        " VRRP Instance = VI_2
"
    ) && d.contains(
        "   Priority = 180
"
    ))));
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
    assert!(!lab.has(1, VIP4) && !lab.has(1, "192.0.2.101"));
}

#[test]
fn no_heap_growth_after_startup_under_strace() {
    if skip() {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed for this test: apt-get install strace");
    }
    let mut lab = Lab::new("strace", 2);
    let trace = lab.dir.join("r1.strace");
    // r1 (traced) is the lower priority: it becomes master on every kill of
    // r2. It runs every kind of hook: a vrrp_script, a track_file, a
    // track_process (a copy of sleep under a name only this test uses),
    // notify scripts and a notify FIFO.
    let d = lab.dir.display().to_string();
    let proc_name = format!("kvh{}", std::process::id() % 1_000_000);
    let sleeper = lab.dir.join(&proc_name);
    let src = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("sleep(1)");
    fs::copy(src, &sleeper).unwrap();
    let spawn_tracked = || {
        std::process::Command::new(&sleeper)
            .arg("1000")
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("spawn the tracked process")
    };
    /// The tracked process, killed by PID on drop (also on panic).
    struct Tracked(Option<std::process::Child>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            if let Some(mut c) = self.0.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut tracked = Tracked(Some(spawn_tracked()));
    let hooks = format!(
        "    track_script {{\n        chk\n    }}\n    track_file {{\n        tf\n    }}\n    track_process {{\n        tp\n    }}\n    notify_master \"/usr/bin/touch {d}/master\"\n    notify_backup \"/usr/bin/touch {d}/backup\"\n    notify \"/usr/bin/touch {d}/generic\"\n"
    );
    lab.write_conf(
        1,
        &format!(
            "global_defs {{\n    notify_fifo {d}/notify.fifo\n}}\n\
             vrrp_script chk {{\n    script \"/usr/bin/test -d {d}\"\n    interval 1\n    weight 2\n}}\n\
             vrrp_track_file tf {{\n    file {d}/tf\n    weight 1\n    init_file 0\n}}\n\
             vrrp_track_process tp {{\n    process {proc_name}\n    weight 1\n}}\n{}",
            instance("VI_1", 51, 100, 3, "0.5", &["192.0.2.100/24"], &hooks)
        ),
    );
    lab.write_conf(
        2,
        &instance("VI_1", 51, 200, 3, "0.5", &["192.0.2.100/24"], ""),
    );
    lab.start(2);
    lab.wait_master(2, VIP4, Duration::from_secs(6));
    let t = trace.to_str().unwrap().to_string();
    lab.start_with(
        1,
        &[
            "strace",
            "-f",
            "-qq",
            "-s",
            "200",
            "-e",
            "trace=brk,mmap,munmap,mremap,write",
            "-o",
            &t,
        ],
    );
    let daemon_pid = lab.pid(1).to_string();
    // The trackers' first results: 100 + 1 (process, scanned before the
    // start) + 2 (script, a moment later).
    assert!(
        wait_until(Duration::from_secs(5), || lab
            .log(1)
            .contains("Changing effective priority from 101 to 103")),
        "{}",
        lab.log(1)
    );
    for round in 0..3 {
        lab.kill9(2);
        lab.wait_has(1, VIP4, Duration::from_secs(6));
        if round == 0 {
            // The re-add path too.
            lab.ip(1, &["addr", "del", "192.0.2.100/24", "dev", "eth0"]);
            assert!(wait_until(Duration::from_secs(2), || lab.has(1, VIP4)));
        }
        // The file and process trackers change in each round.
        fs::write(lab.dir.join("tf"), format!("{}\n", round + 4)).unwrap();
        let p = tracked.0.take().map(|mut c| {
            c.kill().unwrap();
            c.wait().unwrap();
        });
        assert!(p.is_some());
        let want = format!(
            "Changing effective priority from {} to {}",
            103 + round + 4,
            102 + round + 4
        );
        assert!(
            wait_until(Duration::from_secs(4), || lab.log(1).contains(&want)),
            "{want}\n{}",
            lab.log(1)
        );
        tracked.0 = Some(spawn_tracked());
        lab.start(2);
        lab.wait_master(2, VIP4, Duration::from_secs(6));
    }
    for f in ["master", "backup", "generic"] {
        assert!(lab.dir.join(f).exists(), "notify script {f} did not run");
    }
    drop(tracked);
    lab.signal(1, "USR2");
    std::thread::sleep(Duration::from_millis(300));
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
    let log = lab.log(1);
    assert_eq!(count(&log, "(VI_1) Entering MASTER STATE"), 3, "{log}");

    let text = fs::read_to_string(&trace).expect("strace output");
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("write(") && l.contains(STARTUP))
        .expect("start-up marker in the trace");
    let stop = lines
        .iter()
        .position(|l| l.contains("write(") && l.contains("] Stopping"))
        .expect("'Stopping' in the trace");
    assert!(stop > start);
    // The filter works: start-up itself maps memory (loader, big boxes).
    assert!(
        lines[..start]
            .iter()
            .any(|l| l.contains("mmap(") || l.contains("brk(")),
        "no brk/mmap traced before the marker: is strace filtering right?"
    );
    // `strace -f` also follows the scripts the daemon forks; their execs map
    // memory of their own. Only the daemon's lines count (`PID syscall`).
    let ours = |l: &&&str| l.split_whitespace().next() == Some(daemon_pid.as_str());
    let growth: Vec<&&str> = lines[start..stop]
        .iter()
        .filter(ours)
        .filter(|l| {
            ["brk(", "mmap(", "munmap(", "mremap("]
                .iter()
                .any(|s| l.contains(s))
        })
        .collect();
    let children = lines[start..stop].iter().filter(|l| !ours(l)).count();
    let writes = lines[start..stop]
        .iter()
        .filter(|l| l.contains("write("))
        .count();
    println!(
        "strace: {} log writes and {} brk/mmap/munmap/mremap calls of the daemon between the start-up marker and SIGTERM, over 3 failovers and 3 preemptions with a vrrp_script, a track_file, a track_process, notify scripts and a FIFO ({} traced lines of its children)",
        writes,
        growth.len(),
        children
    );
    assert!(writes > 20, "too little activity traced");
    assert!(
        children > 100,
        "the scripts did not run (or strace -f did not follow them)"
    );
    assert!(
        growth.is_empty(),
        "heap/mapping changes after start-up:\n{growth:#?}"
    );
}
