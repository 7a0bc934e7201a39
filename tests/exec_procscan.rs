//! vrrp_track_process scanning against real processes, and its cost with
//! 500 extra processes (printed; no tight timing assertion).

use std::process::{Child, Command, Stdio};

use keepvip::config::model::{Config, Name, ParamMatch, Span, VrrpTrackProcess};
use keepvip::sys::procscan::ProcScanner;
use keepvip::track::ProcessId;

fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(s, f)
            .expect("spawn")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn tp(name: &str, process: &str, pm: ParamMatch, full: bool) -> VrrpTrackProcess {
    VrrpTrackProcess {
        name: Name::try_from(name).unwrap(),
        span: Span::default(),
        process: process.try_into().unwrap(),
        param_match: pm,
        full_command: full,
        quorum: 1,
        quorum_max: u32::MAX,
        weight: 0,
        reverse: false,
        fork_delay_ms: 0,
        terminate_delay_ms: 0,
    }
}

struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

#[test]
fn counts_matching_processes_and_measures_500() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        println!("skipped under qemu-user: timing and /proc of the host");
        return;
    }
    // A value no other process on the machine uses.
    let tag = format!("{}.25", 4000 + std::process::id() % 1000);
    let (cfg, n) = big_stack(|| {
        let mut cfg: Box<Config> = Config::new_boxed();
        let exact = format!("sleep {tag}");
        cfg.track_processes
            .push(tp("exact", &exact, ParamMatch::None, false))
            .unwrap();
        cfg.track_processes
            .push(tp("name", "sleep", ParamMatch::None, false))
            .unwrap();
        let full = format!("/bin/sleep {tag}");
        cfg.track_processes
            .push(tp("full", &full, ParamMatch::Exact, true))
            .unwrap();
        let n = cfg.track_processes.len();
        (cfg, n)
    });
    let ids = (0..n as u16).map(ProcessId);
    let mut sc = ProcScanner::new(&cfg, ids).unwrap();
    sc.scan().unwrap();
    let base: Vec<(ProcessId, u32)> = sc.counts().collect();
    assert_eq!(base[0], (ProcessId(0), 0));
    assert_eq!(base[2], (ProcessId(2), 0));

    let mut kids = Kids(Vec::new());
    for i in 0..500 {
        let prog = if i % 2 == 0 { "/bin/sleep" } else { "sleep" };
        let c = Command::new(prog)
            .arg(&tag)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        kids.0.push(c);
    }
    // The exec of every child is done once the 250 started as /bin/sleep
    // and the 250 started as sleep are seen with their arguments.
    let t0 = std::time::Instant::now();
    loop {
        sc.scan().unwrap();
        let c: Vec<u32> = sc.counts().map(|c| c.1).collect();
        if c[0] == 250 && c[2] == 250 {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "children never all started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let c: Vec<u32> = sc.counts().map(|c| c.1).collect();
    // Parameters imply full_command (keepalived): argv[0] must be "sleep",
    // so only the half started as plain `sleep`.
    assert_eq!(c[0], 250, "name + params (argv[0] compared)");
    assert!(c[1] >= 500, "by name: {}", c[1]);
    // full_command compares argv[0]: only the ones started as /bin/sleep.
    assert_eq!(c[2], 250, "full_command");

    let rounds = 20;
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        sc.scan().unwrap();
    }
    let per_scan = t.elapsed().as_micros() / rounds;
    println!(
        "procscan: {} processes, {} us per scan ({} trackers, cmdline read for params/full_command)",
        sc.stats.last_processes, per_scan, n
    );
    // Only the name tracker: comm files only.
    let only_name = ProcScanner::new(&cfg, [ProcessId(1)].into_iter());
    let mut only_name = only_name.unwrap();
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        only_name.scan().unwrap();
    }
    println!(
        "procscan (name only): {} processes, {} us per scan",
        only_name.stats.last_processes,
        t.elapsed().as_micros() / rounds
    );
    assert!(only_name.counts().next().unwrap().1 >= 500);

    // The same pass in steps of 64 processes gives the same counts; the
    // old counts stay visible until the pass completes.
    let mut steps = 0;
    let t = std::time::Instant::now();
    while !only_name.scan_step(64).unwrap() {
        steps += 1;
        assert!(steps < 10_000);
        assert!(only_name.counts().next().unwrap().1 >= 500);
    }
    println!(
        "procscan (name only) in steps of 64: {} steps, {} us in all",
        steps + 1,
        t.elapsed().as_micros()
    );
    assert!(steps >= 500 / 64, "{steps}");
    assert!(only_name.counts().next().unwrap().1 >= 500);

    // Processes exit: counts drop.
    drop(kids);
    sc.scan().unwrap();
    assert_eq!(sc.counts().next().unwrap().1, 0);
}

/// `param_match` against real processes with real arguments, the cases a
/// run of Debian's keepalived 2.2.7 scored the same way (its effective
/// priority went from 100 to 224 = 100 + 4 + 8 + 16 + 32 + 64 with one
/// weight per tracker below, in the initial /proc scan):
/// `/bin/sleep TAG 11 22` and a process whose argv[0] is `sleep`, running
/// `sleep TAG 11 223`.
#[test]
fn param_match_exact_partial_initial_against_real_processes() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        println!("skipped under qemu-user: /proc of the host");
        return;
    }
    let sleep = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("sleep");
    // GNU sleep adds its arguments: TAG + 11 + 22 seconds, far beyond the test.
    let tag = format!("{}", 3000 + std::process::id() % 1000);
    let cases: [(&str, String, ParamMatch, u32); 8] = [
        // Parameters without param_match: exact, argv[0] "sleep" whole.
        ("t1", format!("sleep {tag} 11 22"), ParamMatch::None, 0),
        // partial: the first three words equal ("223" is not "22").
        ("t2", format!("sleep {tag} 11 22"), ParamMatch::Partial, 0),
        // initial: "223" starts with "22".
        ("t3", format!("sleep {tag} 11 22"), ParamMatch::Initial, 1),
        // partial: the first two words equal, a third may follow.
        ("t4", format!("{sleep} {tag} 11"), ParamMatch::Partial, 1),
        // initial: "11" starts with "1".
        ("t5", format!("{sleep} {tag} 1"), ParamMatch::Initial, 1),
        // exact, argv[0] the full path.
        ("t7", format!("{sleep} {tag} 11 22"), ParamMatch::None, 1),
        // exact: one word short is no match; partial: a match.
        ("t8", format!("{sleep} {tag} 11"), ParamMatch::Exact, 0),
        ("t9", format!("sleep {tag}"), ParamMatch::Partial, 1),
    ];
    let cfg = big_stack(|| {
        let mut cfg: Box<Config> = Config::new_boxed();
        for (name, process, pm, _) in &cases {
            cfg.track_processes
                .push(tp(name, process, *pm, false))
                .unwrap();
        }
        cfg
    });
    let mut sc = ProcScanner::new(&cfg, (0..cases.len() as u16).map(ProcessId)).unwrap();
    sc.scan().unwrap();
    assert!(sc.counts().all(|c| c.1 == 0), "tag {tag} already in use");

    let mut kids = Kids(Vec::new());
    for (argv0, last) in [(sleep, "22"), ("sleep", "223")] {
        let c = Command::new(sleep)
            .arg0(argv0)
            .args([tag.as_str(), "11", last])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        kids.0.push(c);
    }
    let want: Vec<u32> = cases.iter().map(|c| c.3).collect();
    let t0 = std::time::Instant::now();
    let got = loop {
        sc.scan().unwrap();
        let got: Vec<u32> = sc.counts().map(|c| c.1).collect();
        if got == want || t0.elapsed() > std::time::Duration::from_secs(10) {
            break got;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    println!("param_match counts {got:?} after {:?}", t0.elapsed());
    for (i, c) in cases.iter().enumerate() {
        assert_eq!(got[i], c.3, "{} process {:?} {:?}", c.0, c.1, c.2);
    }
    drop(kids);
    sc.scan().unwrap();
    assert!(sc.counts().all(|c| c.1 == 0));
}
