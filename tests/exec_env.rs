//! A child's environment is clean: IFS, LD_PRELOAD, LD_LIBRARY_PATH gone,
//! PATH the default, other variables kept. (One test per binary: it sets
//! the process environment before any thread exists.)

use keepvip::sys::exec::{ChildKind, DEFAULT_PATH, Exec};
use keepvip::time::Instant;
use keepvip::track::ScriptOutcome;
use keepvip::track::cmdline::{Argv, build_argv};

#[test]
fn script_sees_a_clean_environment() {
    // SAFETY: the only test of this binary; no other thread reads the
    // environment while it is changed.
    unsafe {
        // A daemon's environment is small; the runner keeps at most
        // MAX_ENV variables, so start from a near-empty one.
        for (k, _) in std::env::vars_os() {
            if k != "HOME" {
                std::env::remove_var(k);
            }
        }
        std::env::set_var("IFS", "x");
        std::env::set_var("LD_LIBRARY_PATH", "/kv-evil");
        std::env::set_var("LD_PRELOAD", "/kv-evil/none.so");
        std::env::set_var("PATH", "/kv-evil/bin");
        std::env::set_var("KV_KEEP_ME", "1");
    }
    let mut ex = Exec::new().unwrap();
    // Unset again so that nothing else in this process is affected.
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("LD_PRELOAD");
        std::env::remove_var("LD_LIBRARY_PATH");
        std::env::remove_var("IFS");
    }
    let d = std::env::temp_dir().join(format!("kv-exec-env-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let out = d.join("env");
    let mut a = Argv::new();
    build_argv(&format!("env > {}", out.display()), &[], &mut a).unwrap();
    let origin = std::time::Instant::now();
    ex.spawn(Instant::ZERO, ChildKind::Notify, &a, None, None)
        .unwrap();
    let r = loop {
        if let Some(r) = ex.reap() {
            break r;
        }
        assert!(origin.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(r.outcome, ScriptOutcome::Exited(0));
    let env = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = env.lines().collect();
    println!("child env: {lines:?}");
    assert!(
        lines.contains(&format!("PATH={DEFAULT_PATH}").as_str()),
        "{lines:?}"
    );
    assert!(lines.contains(&"KV_KEEP_ME=1"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("HOME=")), "{lines:?}");
    assert_eq!(ex.stats.env_dropped, 0);
    for bad in ["IFS=", "LD_PRELOAD=", "LD_LIBRARY_PATH=", "PATH=/kv-evil"] {
        assert!(
            !lines.iter().any(|l| l.starts_with(bad)),
            "{bad} in {lines:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}
