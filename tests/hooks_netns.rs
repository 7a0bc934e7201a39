//! End-to-end tests of the daemon's hooks (root only), on the namespace
//! bench of `daemon_lab`: trackers (`vrrp_script`, `vrrp_track_process`,
//! `vrrp_track_file`) moving the VIP, notify scripts and the notify FIFO
//! compared line for line with Debian's keepalived run on the same
//! sequence, hung and forking scripts killed with their process group at
//! their timeout while the master's adverts stay on time (the largest
//! advert gap is printed), and SMTP alerts delivered to a real SMTP server
//! (aiosmtpd) in a namespace.
//!
//! Every wait is bounded; processes the tests start are stopped by PID;
//! namespaces go away on drop (also on panic). Skipped under qemu-user
//! (`KEEPVIP_QEMU=1`).

mod daemon_lab;
use daemon_lab::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VIP: &str = "192.0.2.100";

fn write_exec(p: &Path, text: &str) {
    fs::write(p, text).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// PIDs of live (not zombie) processes whose `comm` is `name`.
fn pids_named(name: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
        if !matches!(state, Some(Some('Z' | 'X')) | None) {
            v.push(pid);
        }
    }
    v
}

/// Kills (by PID, SIGKILL) every process of ours named `name`: cleanup for
/// the sleeper copies, which only this test process's tests use.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for p in pids_named(&self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .output();
        }
    }
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The largest gap between consecutive adverts from `src` with a non-zero
/// priority, in ms, and how many adverts there were.
fn max_gap_ms(cap: &Capture, src: &str) -> (f64, usize) {
    let a: Vec<Advert> = cap
        .adverts()
        .into_iter()
        .filter(|x| x.src == src && x.prio > 0)
        .collect();
    let gap = a
        .windows(2)
        .map(|w| (w[1].t - w[0].t) * 1000.0)
        .fold(0.0, f64::max);
    (gap, a.len())
}

// ------------------------------------------------------------ vrrp_script

#[test]
fn failing_vrrp_script_moves_the_vip_weight_and_fault_variants() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hscr", 2);
    let ok = lab.dir.join("ok");
    fs::write(&ok, "").unwrap();
    let script = |weight: &str| {
        format!(
            "vrrp_script chk {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n{weight}}}\n",
            ok.display()
        )
    };
    let track = "    track_script {\n        chk\n    }\n";
    lab.write_conf(
        1,
        &format!(
            "{}{}",
            script("    weight -60\n"),
            instance("VI_1", 51, 150, 3, "0.5", &["192.0.2.100/24"], track)
        ),
    );
    lab.write_conf(
        2,
        &instance("VI_1", 51, 100, 3, "0.5", &["192.0.2.100/24"], ""),
    );
    lab.start(1);
    lab.start(2);
    lab.wait_master(1, VIP, Duration::from_secs(8));
    assert!(
        lab.log(1).contains("VRRP_Script(chk) succeeded"),
        "{}",
        lab.dump()
    );

    // Weight variant: the script fails, 150 - 60 = 90 < 100: r2 preempts.
    let t0 = Instant::now();
    fs::remove_file(&ok).unwrap();
    let d = lab.wait_master(2, VIP, Duration::from_secs(8));
    let l1 = lab.log(1);
    assert!(
        l1.contains("Script `chk` now returning 1")
            && l1.contains("VRRP_Script(chk) failed (exited with status 1)"),
        "{l1}"
    );
    assert!(
        l1.contains("(VI_1) Changing effective priority from 150 to 90"),
        "{l1}"
    );
    assert!(!l1.contains("(VI_1) Entering FAULT STATE"), "{l1}");
    println!(
        "vrrp_script weight -60 failing: VIP on the backup {} ms after the check started failing (interval 1 s, Master_Down_Interval ~1.8 s)",
        (t0.elapsed().max(d)).as_millis()
    );
    // Back: 150 again, r1 preempts.
    fs::write(&ok, "").unwrap();
    lab.wait_master(1, VIP, Duration::from_secs(8));
    assert!(
        lab.log(1)
            .contains("Changing effective priority from 90 to 150")
    );

    // Weight-0 variant through a reload: the script definition changes
    // (its state starts afresh), the instance itself does not.
    lab.write_conf(
        1,
        &format!(
            "{}{}",
            script(""),
            instance("VI_1", 51, 150, 3, "0.5", &["192.0.2.100/24"], track)
        ),
    );
    let before = lab.log(1).len();
    lab.signal(1, "HUP");
    assert!(wait_until(Duration::from_secs(4), || lab.log(1)[before..]
        .contains("VRRP_Script(chk) succeeded")));
    let new = lab.log(1)[before..].to_string();
    assert!(
        new.contains("Configuration reloaded: 1 instance(s) unchanged"),
        "{new}"
    );
    assert!(
        new.contains("Reload: 0 tracker(s) kept their state"),
        "{new}"
    );
    assert!(!new.contains("(VI_1) Entering"), "{new}");
    let t0 = Instant::now();
    fs::remove_file(&ok).unwrap();
    lab.wait_master(2, VIP, Duration::from_secs(5));
    let waited = t0.elapsed();
    let l1 = lab.log(1)[before..].to_string();
    assert!(l1.contains("(VI_1) Entering FAULT STATE"), "{l1}");
    // Leaving MASTER for FAULT sends priority 0: r2 takes over after its
    // skew, not after a whole Master_Down_Interval.
    assert!(l1.contains("(VI_1) sent 0 priority"), "{l1}");
    assert!(
        lab.log(2)
            .contains("(VI_1) Backup received priority 0 advertisement")
    );
    println!(
        "vrrp_script weight 0 failing: r1 FAULT, VIP on r2 {} ms after the check started failing",
        waited.as_millis()
    );
    fs::write(&ok, "").unwrap();
    lab.wait_master(1, VIP, Duration::from_secs(8));
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
}

#[test]
fn startup_waits_for_a_weight_0_script_bounded_by_its_timeout() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hsup", 1);
    let bin = sleeper(&lab, "u");
    let name = name_of(&bin);
    let _cleanup = KillOnDrop(name.clone());
    let conf = |timeout: u32| {
        format!(
            "vrrp_script chk {{\n    script \"{} 1000\"\n    interval 30\n    timeout {timeout}\n}}\n{}",
            bin.display(),
            instance(
                "VI_1",
                51,
                200,
                3,
                "0.5",
                &["192.0.2.100/24"],
                "    track_script {\n        chk\n    }\n"
            )
        )
    };
    // The check never answers: killed at its 1 s timeout, which is its
    // first result (failed): the instance then starts, in FAULT.
    lab.write_conf(1, &conf(1));
    let t0 = Instant::now();
    lab.start(1);
    let marker = t0.elapsed();
    assert!(!lab.log(1).contains("(VI_1) Entering"), "{}", lab.log(1));
    assert!(
        wait_until(Duration::from_secs(6), || lab
            .log(1)
            .contains("(VI_1) Entering FAULT STATE (init)")),
        "{}",
        lab.log(1)
    );
    let started = t0.elapsed();
    println!(
        "start-up with a hung weight-0 check (timeout 1 s): ready after {} ms, instance started (FAULT) after {} ms",
        marker.as_millis(),
        started.as_millis()
    );
    assert!(started >= Duration::from_millis(900), "{started:?}");
    let log = lab.log(1);
    let timed_out = log.find("VRRP_Script(chk) timed_out").expect(&log);
    assert!(timed_out < log.find("(VI_1) Entering FAULT STATE (init)").unwrap());
    assert!(!lab.has(1, VIP));
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
    // The wait never blocks the loop: SIGTERM while waiting (timeout 20 s)
    // stops the daemon at once, the check killed with it.
    lab.write_conf(1, &conf(20));
    let before = lab.log(1).len();
    lab.start(1);
    assert!(wait_until(Duration::from_secs(2), || pids_named(&name)
        .len()
        == 1));
    let (took, code) = lab.term(1);
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!lab.log(1)[before..].contains("(VI_1) Entering"));
    assert!(wait_until(Duration::from_secs(2), || pids_named(&name).is_empty()));
}

// ------------------------------------------------------------ track_process

#[test]
fn process_tracker_reacts_to_a_process_exiting() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hprc", 2);
    let bin = sleeper(&lab, "p");
    let name = name_of(&bin);
    let _cleanup = KillOnDrop(name.clone());
    let spawn = || -> Child {
        Command::new(&bin)
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn the tracked process")
    };
    let mut proc1 = spawn();
    lab.write_conf(
        1,
        &format!(
            "vrrp_track_process tracked {{\n    process {name}\n}}\n{}",
            instance(
                "VI_1",
                51,
                150,
                3,
                "0.5",
                &["192.0.2.100/24"],
                "    track_process {\n        tracked\n    }\n"
            )
        ),
    );
    lab.write_conf(
        2,
        &instance("VI_1", 51, 100, 3, "0.5", &["192.0.2.100/24"], ""),
    );
    lab.start(1);
    lab.start(2);
    lab.wait_master(1, VIP, Duration::from_secs(8));
    // The process exits (killed by PID): weight 0, quorum lost -> FAULT.
    let t0 = Instant::now();
    proc1.kill().unwrap();
    proc1.wait().unwrap();
    assert!(
        wait_until(Duration::from_secs(4), || lab
            .log(1)
            .contains("Quorum lost for tracked process tracked")),
        "{}",
        lab.dump()
    );
    let seen = t0.elapsed();
    lab.wait_master(2, VIP, Duration::from_secs(4));
    println!(
        "track_process: quorum lost {} ms after the process exited (scan every 1 s), VIP on r2 {} ms after",
        seen.as_millis(),
        t0.elapsed().as_millis()
    );
    assert!(lab.log(1).contains("(VI_1) Entering FAULT STATE"));
    // A reload with the same configuration keeps the tracker's state: r1
    // stays in FAULT, nothing flaps, also after the next scans.
    let before = lab.log(1).len();
    lab.signal(1, "HUP");
    assert!(wait_until(Duration::from_secs(3), || lab.log(1)[before..]
        .contains("Configuration reloaded")));
    std::thread::sleep(Duration::from_millis(2500));
    let new = lab.log(1)[before..].to_string();
    assert!(
        new.contains("Reload: 1 tracker(s) kept their state"),
        "{new}"
    );
    assert!(!new.contains("(VI_1) Entering"), "{new}");
    assert!(!new.contains("Quorum"), "{new}");
    lab.wait_master(2, VIP, Duration::from_secs(1));
    // It comes back: quorum gained, r1 leaves FAULT and preempts.
    let mut proc2 = spawn();
    assert!(wait_until(Duration::from_secs(4), || lab
        .log(1)
        .contains("Quorum gained for tracked process tracked")));
    lab.wait_master(1, VIP, Duration::from_secs(8));
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
    proc2.kill().unwrap();
    proc2.wait().unwrap();
}

// ------------------------------------------------------------ track_file

#[test]
fn track_file_value_change_lowers_the_priority() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hfil", 2);
    let dir = lab.dir.join("state");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("prio");
    lab.write_conf(
        1,
        &format!(
            "vrrp_track_file prio {{\n    file {}\n    weight -1\n    init_file 0\n}}\n{}",
            file.display(),
            instance(
                "VI_1",
                51,
                150,
                3,
                "0.5",
                &["192.0.2.100/24"],
                "    track_file {\n        prio\n    }\n"
            )
        ),
    );
    lab.write_conf(
        2,
        &instance("VI_1", 51, 100, 3, "0.5", &["192.0.2.100/24"], ""),
    );
    lab.start(1);
    // init_file: created with 0.
    assert_eq!(fs::read_to_string(&file).unwrap(), "0\n");
    lab.start(2);
    lab.wait_master(1, VIP, Duration::from_secs(8));

    // Written in place: 60 x -1 -> 90 < 100.
    let t0 = Instant::now();
    fs::write(&file, "60\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || lab
            .log(1)
            .contains("(VI_1) Changing effective priority from 150 to 90")),
        "{}",
        lab.dump()
    );
    let seen = t0.elapsed();
    lab.wait_master(2, VIP, Duration::from_secs(5));
    println!(
        "track_file: priority changed {} ms after the write (inotify), VIP on r2 {} ms after",
        seen.as_millis(),
        t0.elapsed().as_millis()
    );
    // Replaced by rename (how most tools write files): back to 150.
    let tmp = dir.join("prio.tmp");
    fs::write(&tmp, "0x0\n").unwrap();
    fs::rename(&tmp, &file).unwrap();
    assert!(wait_until(Duration::from_secs(2), || lab
        .log(1)
        .contains("(VI_1) Changing effective priority from 90 to 150")));
    lab.wait_master(1, VIP, Duration::from_secs(8));
    // 254 x -1 = -254: FAULT; deleting the file reads as 0 again.
    fs::write(&file, "254").unwrap();
    lab.wait_master(2, VIP, Duration::from_secs(5));
    assert!(lab.log(1).contains("(VI_1) Entering FAULT STATE"));
    let before = lab.log(1).len();
    fs::remove_file(&file).unwrap();
    lab.wait_master(1, VIP, Duration::from_secs(8));
    assert!(
        lab.log(1)[before..].contains("(VI_1) Entering BACKUP STATE"),
        "{}",
        lab.dump()
    );
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
}

// ------------------------------------------------------------ notify_stop at shutdown

#[test]
fn notify_stop_runs_after_the_vips_are_gone_and_is_waited_for_at_most_1s() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hstp", 1);
    let bin = sleeper(&lab, "s");
    let name = name_of(&bin);
    let _cleanup = KillOnDrop(name.clone());
    let d = lab.dir.display().to_string();
    let stop = lab.dir.join("stop.sh");
    // Records the addresses it sees, then hangs far past the 1 s timeout.
    write_exec(
        &stop,
        &format!(
            "#!/bin/sh\nip -o addr show dev eth0 > {d}/stop.addrs\nexec {} 30\n",
            bin.display()
        ),
    );
    let extra = format!(
        "    notify_stop {}\n    notify \"/usr/bin/touch {d}/generic\"\n",
        stop.display()
    );
    lab.write_conf(
        1,
        &instance("VI_1", 51, 200, 3, "0.5", &["192.0.2.100/24"], &extra),
    );
    lab.start(1);
    lab.wait_has(1, VIP, Duration::from_secs(5));
    let (took, code) = lab.term(1);
    println!(
        "notify_stop hanging: keepvip exited {} ms after SIGTERM (procd kills after 5 s)",
        took.as_millis()
    );
    assert_eq!(code, Some(0));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    let addrs = fs::read_to_string(lab.dir.join("stop.addrs")).unwrap();
    assert!(addrs.contains("192.0.2.1/24"), "{addrs}");
    assert!(
        !addrs.contains(VIP),
        "notify_stop ran before the VIP was removed:\n{addrs}"
    );
    assert!(lab.dir.join("generic").exists());
    let log = lab.log(1);
    let sent0 = log.find("(VI_1) sent 0 priority").expect("priority 0");
    let stopped = log
        .find("still running 1000 ms after stop: killed")
        .expect(&log);
    assert!(sent0 < stopped, "{log}");
    assert!(
        wait_until(Duration::from_secs(2), || pids_named(&name).is_empty()),
        "the hung notify_stop was not killed"
    );
}

// ------------------------------------------------------------ notify + FIFO vs keepalived

/// What the notify hooks of one run produced.
#[derive(Debug, PartialEq, Eq)]
struct NotifyRun {
    specific: Vec<String>,
    generic: Vec<String>,
    fifo: Vec<String>,
}

/// One router under test (`r1`, keepalived or keepvip) through BACKUP,
/// MASTER, FAULT (weight-0 script fails), back, BACKUP (a higher-priority
/// peer, always keepvip, appears), MASTER (the peer stops), STOP.
fn notify_sequence(keepalived: bool) -> NotifyRun {
    let mut lab = Lab::new(if keepalived { "hnka" } else { "hnkv" }, 2);
    let ok = lab.dir.join("ok");
    fs::write(&ok, "").unwrap();
    let hook = lab.dir.join("hook.sh");
    write_exec(
        &hook,
        &format!(
            "#!/bin/sh\nf=$1\nshift\necho \"$*\" >> {}/$f.out\n",
            lab.dir.display()
        ),
    );
    let fifo = lab.dir.join("notify.fifo");
    let h = hook.display();
    let extra = format!(
        "    track_script {{\n        chk\n    }}\n    notify_master \"{h} specific master\"\n    notify_backup \"{h} specific backup\"\n    notify_fault \"{h} specific fault\"\n    notify_stop \"{h} specific stop\"\n    notify \"{h} generic\"\n"
    );
    lab.write_conf(
        1,
        &format!(
            "global_defs {{\n    enable_script_security\n    script_user root\n    notify_fifo {}\n}}\n\
             vrrp_script chk {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n}}\n{}",
            fifo.display(),
            ok.display(),
            instance("VI_1", 51, 100, 3, "0.5", &["192.0.2.100/24"], &extra)
        ),
    );
    lab.write_conf(
        2,
        &instance("VI_1", 51, 200, 3, "0.5", &["192.0.2.100/24"], ""),
    );
    let generic = lab.dir.join("generic.out");
    let lines = |p: &Path| -> Vec<String> {
        fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let impl_name = if keepalived { "keepalived" } else { "keepvip" };
    let wait_lines = |lab: &Lab, n: usize, what: &str| {
        assert!(
            wait_until(Duration::from_secs(12), || lines(&generic).len() >= n),
            "{impl_name} did not reach {what}: {:?}\n{}",
            lines(&generic),
            lab.dump()
        );
    };
    if keepalived {
        lab.start_keepalived(1);
    } else {
        lab.start(1);
    }
    assert!(wait_until(Duration::from_secs(5), || fifo.exists()));
    let reader = fifo_reader_for(fifo.clone(), Duration::from_secs(60));
    wait_lines(&lab, 2, "BACKUP, MASTER");
    fs::remove_file(&ok).unwrap();
    wait_lines(&lab, 3, "FAULT");
    fs::write(&ok, "").unwrap();
    wait_lines(&lab, 5, "BACKUP, MASTER after FAULT");
    lab.start(2);
    wait_lines(&lab, 6, "BACKUP under the peer");
    lab.term(2);
    wait_lines(&lab, 7, "MASTER after the peer left");
    let (took, code) = lab.term(1);
    wait_lines(&lab, 8, "STOP");
    println!(
        "{}: exit {:?} {} ms after SIGTERM",
        if keepalived { "keepalived" } else { "keepvip" },
        code,
        took.as_millis()
    );
    let fifo_text = reader.join().unwrap();
    // Give the last (asynchronous) notify commands a moment.
    std::thread::sleep(Duration::from_millis(300));
    NotifyRun {
        specific: lines(&lab.dir.join("specific.out")),
        generic: lines(&generic),
        fifo: fifo_text.lines().map(str::to_string).collect(),
    }
}

#[test]
fn notify_scripts_and_fifo_match_keepalived() {
    if skip() {
        return;
    }
    let ours = notify_sequence(false);
    let states = [
        "BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "BACKUP", "MASTER", "STOP",
    ];
    let expected = NotifyRun {
        specific: states.iter().map(|s| s.to_lowercase()).collect(),
        generic: states
            .iter()
            .map(|s| format!("INSTANCE VI_1 {s} 100"))
            .collect(),
        fifo: states
            .iter()
            .map(|s| format!("INSTANCE \"VI_1\" {s} 100"))
            .collect(),
    };
    assert_eq!(ours, expected);
    if Command::new("keepalived").arg("-v").output().is_err() {
        panic!("keepalived is needed for the comparison: apt-get install keepalived");
    }
    let theirs = notify_sequence(true);
    println!("keepalived 2.2.7 notify lines: {theirs:#?}");
    assert_eq!(ours, theirs, "keepvip vs keepalived");
}

// ------------------------------------------------------------ hung / forking scripts

/// Starts router 1 as the only master (advert_int 0.1 s) with a weighted
/// `vrrp_script` running `script_body` every `interval` s, timeout 1 s, and
/// a capture of its adverts.
fn master_with_script(lab: &mut Lab, script_body: &str, interval: u32) -> Capture {
    let script = lab.dir.join("check.sh");
    write_exec(&script, script_body);
    lab.write_conf(
        1,
        &format!(
            "vrrp_script chk {{\n    script \"{}\"\n    interval {interval}\n    timeout 1\n    weight -10\n}}\n{}",
            script.display(),
            instance(
                "VI_1",
                51,
                200,
                3,
                "0.1",
                &["192.0.2.100/24"],
                "    track_script {\n        chk\n    }\n"
            )
        ),
    );
    let cap = Capture::start(lab, 1);
    lab.start(1);
    lab.wait_has(1, VIP, Duration::from_secs(5));
    cap
}

/// The daemon's own measurement of its adverts' lateness, from its stop
/// summary (`(VI_1) advert lateness: N timed adverts, max ...`). The
/// phase-by-phase comparison, with a real fork bomb and with
/// `vrrp_rt_priority`, is `tests/lateness_netns.rs`.
fn lateness_line(log: &str) -> String {
    log.lines()
        .find_map(|l| {
            l.split_once("(VI_1) advert lateness: ")
                .map(|(_, r)| r.to_string())
        })
        .unwrap_or_else(|| panic!("no lateness summary at stop:\n{log}"))
}

/// Samples how many processes named `name` are alive, every 50 ms, for
/// `secs` seconds.
fn sample_alive(name: &str, secs: u64) -> Vec<usize> {
    let mut samples = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        samples.push(pids_named(name).len());
        std::thread::sleep(Duration::from_millis(50));
    }
    samples
}

#[test]
fn hung_script_is_killed_at_its_timeout_while_adverts_stay_on_time() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hhng", 1);
    let bin = sleeper(&lab, "h");
    let name = name_of(&bin);
    let _cleanup = KillOnDrop(name.clone());
    let starts = lab.dir.join("starts");
    let body = format!(
        "#!/bin/sh\necho $$ >> {}\nexec {} 1000\n",
        starts.display(),
        bin.display()
    );
    // A check that never returns, run every 2 s, timeout 1 s.
    let cap = master_with_script(&mut lab, &body, 2);
    let samples = sample_alive(&name, 8);
    let most_alive = samples.iter().copied().max().unwrap_or(0);
    let (gap, n) = max_gap_ms(&cap, "192.0.2.1");
    let runs = fs::read_to_string(&starts)
        .unwrap_or_default()
        .lines()
        .count();
    let log = lab.log(1);
    println!(
        "hung script (sleeps 1000 s, timeout 1 s, run every 2 s): {runs} runs, each killed at its timeout; {n} adverts at advert_int 100 ms, largest gap {gap:.2} ms: {:.2} ms late",
        gap - 100.0
    );
    assert!(runs >= 3, "{runs} runs\n{log}");
    assert!(log.contains("VRRP_Script(chk) timed_out"), "{log}");
    assert!(
        log.contains("(VI_1) Changing effective priority from 200 to 190"),
        "{log}"
    );
    // Killed at the timeout: never two at once, and some samples between
    // runs see none.
    assert!(most_alive <= 1, "{samples:?}");
    assert!(samples.contains(&0) && samples.contains(&1), "{samples:?}");
    assert!(n > 50, "too few adverts captured: {n}");
    assert!(
        gap < 200.0,
        "an advert was {gap:.1} ms after the previous one"
    );
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
    println!("daemon side: {}", lateness_line(&lab.log(1)));
    assert!(wait_until(Duration::from_secs(3), || pids_named(&name).is_empty()));
}

#[test]
fn forking_script_is_killed_with_its_process_group_while_adverts_stay_on_time() {
    if skip() {
        return;
    }
    const CHILDREN: usize = 200;
    let mut lab = Lab::new("hfrk", 1);
    let bin = sleeper(&lab, "f");
    let name = name_of(&bin);
    let _cleanup = KillOnDrop(name.clone());
    // 200 sleeping children in the script's process group, then it waits:
    // a bounded storm (never a fork bomb), every 3 s, killed after 1 s.
    let body = format!(
        "#!/bin/sh\ni=0\nwhile [ $i -lt {CHILDREN} ]; do\n    {} 1000 &\n    i=$((i + 1))\ndone\nwait\n",
        bin.display()
    );
    let cap = master_with_script(&mut lab, &body, 3);
    let samples = sample_alive(&name, 9);
    let (gap, n) = max_gap_ms(&cap, "192.0.2.1");
    let peak = samples.iter().copied().max().unwrap_or(0);
    let storms = samples.windows(2).filter(|w| w[0] == 0 && w[1] > 0).count();
    println!(
        "forking script ({CHILDREN} children, timeout 1 s, every 3 s): peak {peak} alive, {storms} storms, each killed with its process group; {n} adverts at advert_int 100 ms, largest gap {gap:.2} ms: {:.2} ms late",
        gap - 100.0
    );
    assert!(
        peak >= CHILDREN / 2,
        "the storm did not happen: {samples:?}"
    );
    assert!(peak <= CHILDREN, "{peak}");
    // Each storm ends with its process group killed at the timeout: the
    // count drops back to 0 between storms.
    assert!(storms >= 2, "{samples:?}");
    assert!(n > 50, "too few adverts captured: {n}");
    assert!(
        gap < 200.0,
        "an advert was {gap:.1} ms after the previous one"
    );
    let log = lab.log(1);
    assert!(log.contains("VRRP_Script(chk) timed_out"), "{log}");
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
    println!("daemon side: {}", lateness_line(&lab.log(1)));
    assert!(
        wait_until(Duration::from_secs(3), || pids_named(&name).is_empty()),
        "children left after the daemon stopped: {:?}",
        pids_named(&name)
    );
}

// ------------------------------------------------------------ SMTP
// (the daemon sends mail only when built with the `smtp` feature, a default
// feature: `cargo test` has it)

#[cfg(feature = "smtp")]
fn python_with_aiosmtpd() -> String {
    for p in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return p.to_string();
        }
    }
    panic!(
        "the SMTP test needs python3 with aiosmtpd: apt-get install python3-aiosmtpd (tests/deps.sh)"
    );
}

/// aiosmtpd (tests/smtp_server.py) in router 2's namespace; stopped by PID.
#[cfg(feature = "smtp")]
struct SmtpServer(Child);

#[cfg(feature = "smtp")]
impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(feature = "smtp")]
#[test]
fn smtp_alerts_arrive_at_a_real_smtp_server() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hsmt", 2);
    let maildir = lab.dir.join("mail");
    fs::create_dir_all(&maildir).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.node(2).ns, &python_with_aiosmtpd()])
        .arg(&script)
        .arg(&maildir)
        .args(["2525", "192.0.2.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the SMTP server");
    let mut out = child.stdout.take().unwrap();
    let _server = SmtpServer(child);
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut ready).expect("SMTP server READY");
    assert_eq!(&ready, b"READY\n");
    lab.write_conf(
        1,
        &format!(
            "global_defs {{\n    router_id edge1\n    notification_email {{\n        noc@example.org\n    }}\n    notification_email_from kv@example.org\n    smtp_server 192.0.2.2 2525\n    smtp_connect_timeout 5\n}}\n{}",
            instance(
                "VI_1",
                51,
                150,
                3,
                "0.5",
                &["192.0.2.100/24"],
                "    smtp_alert\n"
            )
        ),
    );
    lab.start(1);
    lab.wait_has(1, VIP, Duration::from_secs(5));
    let mail = |n: u32| fs::read_to_string(maildir.join(format!("{n}.eml"))).ok();
    assert!(
        wait_until(Duration::from_secs(10), || mail(2).is_some()),
        "no mails\n{}",
        lab.dump()
    );
    let (_, code) = lab.term(1);
    assert_eq!(code, Some(0));
    // The STOP alert goes out inside the bounded stop wait.
    assert!(wait_until(Duration::from_secs(3), || mail(3).is_some()));
    let subjects: Vec<String> = (1..=3)
        .map(|n| {
            let m = mail(n).unwrap();
            let s = m
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_string();
            assert!(m.contains("From: kv@example.org"), "{m}");
            assert!(m.contains("To: noc@example.org"), "{m}");
            s
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "[edge1] VRRP Instance VI_1 - Entering BACKUP state",
            "[edge1] VRRP Instance VI_1 - Entering MASTER state",
            "[edge1] VRRP Instance VI_1 - Stopping",
        ]
    );
    assert!(
        mail(2)
            .unwrap()
            .contains("=> VRRP Instance is now owning VRRP VIPs <=")
    );
    let env = fs::read_to_string(maildir.join("1.env")).unwrap();
    assert!(env.starts_with("kv@example.org\n"), "{env}");
    assert!(env.contains("noc@example.org"), "{env}");
    let log = lab.log(1);
    assert!(log.contains("SMTP: connecting to 192.0.2.2:2525"), "{log}");
}
