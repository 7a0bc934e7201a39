//! The daemon's counting allocator (`keepvip::sys::alloc::CountingAlloc`),
//! installed here as this test binary's global allocator as `src/main.rs`
//! installs it in the daemon: it counts every allocation call and its
//! bytes, nothing before the start-up mark is "since start-up", and the
//! debug builds' `KEEPVIP_ALLOC_TRAP` locates an allocation after the mark
//! (a backtrace; `abort` ends the process). The tests that hold the
//! daemon to zero are in tests/daemon_netns.rs, hooks_netns.rs and
//! lvs_netns.rs.

use keepvip::sys::alloc::{self, AllocCount, CountingAlloc};
use std::process::Command;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The child mode of [`trap_reports_and_aborts`] (run by it, in a process of
/// its own: the mark is once per process).
fn child_mode() -> Option<String> {
    std::env::var("KEEPVIP_ALLOC_TEST_CHILD").ok()
}

/// One test function does it all: the mark is process-wide and the test
/// harness runs tests on threads that allocate.
#[test]
fn counts_calls_and_bytes_since_the_mark_and_traps() {
    if let Some(mode) = child_mode() {
        // In the child: mark, then allocate once.
        alloc::mark_startup_complete();
        let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(777));
        drop(v);
        eprintln!("CHILD-SURVIVED {mode} {:?}", alloc::usage());
        return;
    }
    assert_eq!(alloc::usage(), None, "nothing before the mark");
    let t0 = alloc::total();
    assert!(t0.count > 0, "the harness allocated: counted");
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(1000));
    let t1 = alloc::total();
    // Other harness threads may allocate at the same time: at least ours.
    assert!(t1.count > t0.count && t1.bytes >= t0.bytes + 1000);
    drop(v);

    // The trap, in children of this test binary (debug builds only).
    let qemu = std::env::var_os("KEEPVIP_QEMU").is_some();
    if qemu {
        println!(
            "trap part skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary, which the host cannot exec (no binfmt)"
        );
    }
    let exe = std::env::current_exe().unwrap();
    let run = |mode: Option<&str>| {
        let mut c = Command::new(&exe);
        c.args([
            "--exact",
            "counts_calls_and_bytes_since_the_mark_and_traps",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEEPVIP_ALLOC_TEST_CHILD", mode.unwrap_or("none"))
        .env("RUST_BACKTRACE", "0");
        match mode {
            Some(m) => c.env("KEEPVIP_ALLOC_TRAP", m),
            None => c.env_remove("KEEPVIP_ALLOC_TRAP"),
        };
        let out = c.output().expect("run the test binary as a child");
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    if !qemu {
        let (st, out) = run(None);
        assert!(st.success(), "{out}");
        assert!(out.contains("CHILD-SURVIVED none Some("), "{out}");
    }
    if cfg!(debug_assertions) && !qemu {
        let (st, out) = run(Some("log"));
        assert!(st.success(), "{out}");
        assert!(
            out.contains("KEEPVIP_ALLOC_TRAP: heap allocation of 777 bytes after start-up (#1"),
            "{out}"
        );
        // The backtrace names the allocating function.
        assert!(
            out.contains("counts_calls_and_bytes_since_the_mark_and_traps"),
            "{out}"
        );
        assert!(out.contains("CHILD-SURVIVED log"), "{out}");
        let (st, out) = run(Some("abort"));
        assert!(!st.success(), "abort mode must end the process:\n{out}");
        assert!(
            out.contains("KEEPVIP_ALLOC_TRAP: heap allocation of 777 bytes after start-up (#1"),
            "{out}"
        );
        assert!(!out.contains("CHILD-SURVIVED"), "{out}");
    }

    // The mark in this process: what follows is "since start-up".
    alloc::mark_startup_complete();
    let u0 = alloc::usage().expect("counted");
    assert!(u0.startup.count >= t1.count);
    let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(100));
    let mut w = std::hint::black_box(v);
    w.reserve_exact(200); // a realloc
    let u1 = alloc::usage().unwrap();
    assert_eq!(u1.startup, u0.startup, "the start-up figures stay");
    let d = AllocCount {
        count: u1.since_startup.count - u0.since_startup.count,
        bytes: u1.since_startup.bytes - u0.since_startup.bytes,
    };
    // 1 alloc of 800 bytes + 1 realloc to 1600 bytes (more if another
    // harness thread allocated meanwhile).
    assert!(d.count >= 2 && d.bytes >= 800 + 1600, "{d:?}");
    drop(w);
    // Freeing is not counted.
    let u2 = alloc::usage().unwrap();
    assert!(u2.since_startup.count - u1.since_startup.count <= 1);
}
