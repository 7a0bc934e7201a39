//! The script runner against real processes: success/failure/exit codes,
//! timeouts that kill the whole process group, the no-shell and shell
//! paths, PATH search, and no allocation in spawn/reap/kill. Every wait is
//! bounded.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use keepvip::sys::exec::{ChildKind, EXIT_NOT_FOUND, Env, Exec, Reaped};
use keepvip::time::{Duration, Instant};
use keepvip::track::cmdline::{Argv, build_argv};
use keepvip::track::{ScriptId, ScriptOutcome};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kv-exec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// keepvip time from a std clock origin.
fn now(origin: std::time::Instant) -> Instant {
    Instant::from_micros(origin.elapsed().as_micros() as u64)
}

fn argv(cmd: &str) -> Argv {
    let mut a = Argv::new();
    build_argv(cmd, &[], &mut a).unwrap();
    a
}

/// Spawns `cmd` and drives reap/kill_expired until it ends (10 s at most).
fn run(ex: &mut Exec, cmd: &str, timeout: Option<Duration>) -> (Reaped, std::time::Duration) {
    let origin = std::time::Instant::now();
    let a = argv(cmd);
    let kind = ChildKind::Script(ScriptId(3));
    let pid = ex.spawn(now(origin), kind, &a, None, timeout).unwrap();
    assert!(ex.is_running(kind));
    loop {
        if let Some(r) = ex.reap() {
            assert_eq!(r.pid, pid);
            assert_eq!(r.kind, kind);
            return (r, origin.elapsed());
        }
        ex.kill_expired(now(origin));
        assert!(
            origin.elapsed() < std::time::Duration::from_secs(10),
            "{cmd} never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// True when `pid` no longer runs (gone, or a zombie waiting for init).
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

fn wait_dead(pid: i32) -> bool {
    for _ in 0..400 {
        if dead(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

fn read_pid(p: &Path) -> i32 {
    for _ in 0..400 {
        if let Ok(s) = std::fs::read_to_string(p)
            && let Ok(v) = s.trim().parse()
        {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("no pid in {}", p.display());
}

#[test]
fn exit_statuses_and_path_search() {
    let mut ex = Exec::with_env(Env::minimal()).unwrap();
    assert_eq!(
        run(&mut ex, "/bin/true", None).0.outcome,
        ScriptOutcome::Exited(0)
    );
    assert_eq!(
        run(&mut ex, "/bin/false", None).0.outcome,
        ScriptOutcome::Exited(1)
    );
    // Bare names are searched in the default PATH.
    assert_eq!(
        run(&mut ex, "true", None).0.outcome,
        ScriptOutcome::Exited(0)
    );
    assert_eq!(
        run(&mut ex, "sh -c 'exit 42'", None).0.outcome,
        ScriptOutcome::Exited(42)
    );
    assert_eq!(
        run(&mut ex, "/nonexistent/kv-script", None).0.outcome,
        ScriptOutcome::Exited(EXIT_NOT_FOUND as u8)
    );
    assert_eq!(
        run(&mut ex, "kv-no-such-command-anywhere", None).0.outcome,
        ScriptOutcome::Exited(EXIT_NOT_FOUND as u8)
    );
    // Killed by a signal it was not sent by us: a plain failure.
    assert_eq!(
        run(&mut ex, "sh -c 'kill -USR1 $$'", None).0.outcome,
        ScriptOutcome::Signaled(libc::SIGUSR1)
    );
    assert_eq!(ex.running(), 0);
    assert_eq!(ex.stats.spawned, 7);
    assert_eq!(ex.stats.timed_out, 0);
}

#[test]
fn hung_script_and_its_children_are_killed_at_timeout() {
    let d = tmpdir("hang");
    let pidf = d.join("grandchild");
    let mut ex = Exec::with_env(Env::minimal()).unwrap();
    let cmd = format!("sleep 100 & echo $! > {}; wait", pidf.display());
    let (r, took) = run(&mut ex, &cmd, Some(Duration::from_millis(300)));
    assert_eq!(r.outcome, ScriptOutcome::TimedOut);
    assert!(took >= std::time::Duration::from_millis(300), "{took:?}");
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    let gc = read_pid(&pidf);
    assert!(wait_dead(gc), "grandchild {gc} survived the group kill");
    assert_eq!(ex.stats.timed_out, 1);
    assert_eq!(ex.stats.sigterm_sent, 1);
    assert_eq!(ex.next_deadline(), None);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sigterm_ignoring_script_gets_sigkill_after_grace() {
    let d = tmpdir("ignterm");
    let pidf = d.join("grandchild");
    let mut ex = Exec::with_env(Env::minimal()).unwrap();
    ex.set_grace(Duration::from_millis(200));
    let cmd = format!(
        "trap '' TERM; sleep 100 & echo $! > {}; wait",
        pidf.display()
    );
    let (r, took) = run(&mut ex, &cmd, Some(Duration::from_millis(200)));
    assert_eq!(r.outcome, ScriptOutcome::TimedOut);
    assert!(took >= std::time::Duration::from_millis(400), "{took:?}");
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    assert_eq!(ex.stats.sigterm_sent, 1);
    assert_eq!(ex.stats.sigkill_sent, 1);
    let gc = read_pid(&pidf);
    assert!(wait_dead(gc), "grandchild {gc} survived SIGKILL");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn no_shell_path_passes_words_exactly_and_shell_path_expands() {
    let d = tmpdir("args");
    let script = d.join("args.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nout=$1; shift\nprintf '%s|' \"$#\" \"$@\" > \"$out\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = d.join("out");
    let mut ex = Exec::with_env(Env::minimal()).unwrap();
    // No shell syntax: split by keepvip; '*' and "$" inside quotes stay literal.
    let cmd = format!(
        "{} {} 'a b' \"c\\\"d\" e\\ f '*' '$HOME'",
        script.display(),
        out.display()
    );
    assert!(!keepvip::track::cmdline::needs_shell(&cmd));
    assert_eq!(run(&mut ex, &cmd, None).0.outcome, ScriptOutcome::Exited(0));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "5|a b|c\"d|e f|*|$HOME|"
    );
    // Shell syntax: runs through /bin/sh -c.
    let cmd = format!("echo $((40 + 2)) > {}", out.display());
    assert_eq!(argv(&cmd).get(0), Some(&b"/bin/sh"[..]));
    assert_eq!(run(&mut ex, &cmd, None).0.outcome, ScriptOutcome::Exited(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "42\n");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn child_gets_its_own_group_and_no_inherited_fds() {
    let d = tmpdir("fds");
    let out = d.join("out");
    // An extra descriptor without CLOEXEC, at a number nothing else uses,
    // that must not leak into the child.
    let f = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: duplicating our own open descriptor to a free high number
    // (F_DUPFD gives the lowest free one >= 200, without CLOEXEC).
    let raw = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD, 200) };
    assert!(raw >= 200);
    let mut ex = Exec::with_env(Env::minimal()).unwrap();
    let cmd = format!(
        "ls /proc/self/fd > {o}.fd; cut -d' ' -f5,6 /proc/self/stat > {o}.pgid; echo $$ > {o}.pid; grep SigBlk /proc/self/status > {o}.sig",
        o = out.display()
    );
    assert_eq!(run(&mut ex, &cmd, None).0.outcome, ScriptOutcome::Exited(0));
    let fds = std::fs::read_to_string(format!("{}.fd", out.display())).unwrap();
    let mut fds: Vec<i32> = fds.lines().filter_map(|l| l.parse().ok()).collect();
    fds.sort();
    // 0,1,2 and the one `ls` opened for /proc/self/fd.
    assert!(
        fds.len() <= 4 && !fds.contains(&raw),
        "{fds:?} (leaked {raw}?)"
    );
    let pid: i32 = std::fs::read_to_string(format!("{}.pid", out.display()))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let ids: Vec<i32> = std::fs::read_to_string(format!("{}.pgid", out.display()))
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    // `cut` runs in the shell's group and session, which are the child's
    // own (`setsid`: its own scheduling autogroup too).
    assert_eq!(ids, [pid, pid]);
    let sig = std::fs::read_to_string(format!("{}.sig", out.display())).unwrap();
    assert_eq!(sig.trim(), "SigBlk:\t0000000000000000");
    // SAFETY: closing the duplicate we made.
    unsafe { libc::close(raw) };
    drop(f);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn spawn_reap_and_kill_do_not_allocate() {
    let mut ex = Exec::with_env(Env::minimal()).unwrap();
    let a = argv("/bin/sleep 5");
    let b = argv("/bin/true");
    let origin = std::time::Instant::now();
    let before = allocs();
    let p1 = ex
        .spawn(
            now(origin),
            ChildKind::Notify,
            &a,
            None,
            Some(Duration::from_millis(50)),
        )
        .unwrap();
    let p2 = ex
        .spawn(now(origin), ChildKind::Notify, &b, None, None)
        .unwrap();
    let mut got = [0i32; 2];
    let mut n = 0;
    while n < 2 && origin.elapsed() < std::time::Duration::from_secs(10) {
        while let Some(r) = ex.reap() {
            if n < 2 {
                got[n] = r.pid;
            }
            n += 1;
        }
        ex.kill_expired(now(origin));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let after = allocs();
    assert_eq!(n, 2);
    got.sort();
    let mut want = [p1, p2];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(after - before, 0, "spawn/reap/kill_expired allocated");
}
