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
        cfg.track_processes
            .push(tp("partial", &tag, ParamMatch::Partial, false))
            .unwrap();
        let n = cfg.track_processes.len();
        (cfg, n)
    });
    let ids = (0..n as u16).map(ProcessId);
    let mut sc = ProcScanner::new(&cfg, ids).unwrap();
    sc.scan().unwrap();
    let base: Vec<(ProcessId, u32)> = sc.counts().collect();
    assert_eq!(base[0], (ProcessId(0), 0));

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
    // The exec of every child is done once its comm is "sleep".
    let t0 = std::time::Instant::now();
    loop {
        sc.scan().unwrap();
        if sc.counts().next().map(|c| c.1) == Some(500) {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "children never all started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let c: Vec<u32> = sc.counts().map(|c| c.1).collect();
    assert_eq!(c[0], 500, "exact name + params");
    assert!(c[1] >= 500, "by name: {}", c[1]);
    // full_command compares argv[0]: only the ones started as /bin/sleep.
    assert_eq!(c[2], 250, "full_command");
    // "sleep <tag>": the name `<tag>` is not a process name: 0.
    assert_eq!(c[3], 0, "partial with a non-name");

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
