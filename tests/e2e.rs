//! End-to-end tests: the namespace scenarios of `tests/lab/t_*.sh`, run by `cargo test`.
//!
//! They need root (network namespaces) and the tools listed in `.ci/run` (iproute2, keepalived,
//! tcpdump, tshark, ping, arping). Each scenario script bounds its own run time and cleans up on
//! every exit path; this wrapper adds an outer timeout and checks that no `kvl-*` namespace is
//! left behind (`KVL_PREFIX` changes the prefix, e.g. to run beside another lab).
//!
//! Selection (environment):
//! * `KEEPVIP_E2E` = `all` (default) | `quick` | `off` | a comma-separated list of scenario names
//!   (e.g. `failover_kill,v3_ipv6`).
//! * `KEEPVIP_E2E_PAIRS` = comma-separated `IMPL1:IMPL2` pairs, each `keepalived` or `keepvip`
//!   (router r1 runs IMPL1, r2 runs IMPL2). Default: [`DEFAULT_PAIRS`].
//!
//! The keepvip binary under test is the one cargo built for this test run
//! (`CARGO_BIN_EXE_keepvip`), passed to the scripts as `KEEPVIP_BIN`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Router implementation pairs run by default: keepvip against itself and against Debian's
/// keepalived in both directions (`KEEPVIP_E2E_PAIRS=keepalived:keepalived` checks the bench
/// itself).
const DEFAULT_PAIRS: &str = "keepvip:keepvip,keepvip:keepalived,keepalived:keepvip";

/// Outer bound per scenario run: the scripts bound themselves (up to 240 s waiting for another
/// lab's lock, then 90 s of scenario, then cleanup); this is the last resort.
const RUN_TIMEOUT: Duration = Duration::from_secs(420);

/// The scenarios share fixed namespace names (and CPU time matters for the measurements):
/// run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("lab")
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .is_some_and(|euid| euid == "0")
}

fn selected(name: &str, quick: bool) -> bool {
    let sel = std::env::var("KEEPVIP_E2E").unwrap_or_else(|_| "all".to_string());
    match sel.trim() {
        "" | "all" => true,
        "quick" => quick,
        "off" | "none" | "0" => false,
        list => list.split(',').any(|s| s.trim() == name),
    }
}

fn pairs(default: &str) -> Vec<(String, String)> {
    let spec = std::env::var("KEEPVIP_E2E_PAIRS").unwrap_or_else(|_| default.to_string());
    let mut out = Vec::new();
    for p in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = p
            .split_once(':')
            .unwrap_or_else(|| panic!("KEEPVIP_E2E_PAIRS: '{p}' is not IMPL1:IMPL2"));
        for i in [a, b] {
            assert!(
                i == "keepalived" || i == "keepvip",
                "KEEPVIP_E2E_PAIRS: unknown implementation '{i}' (keepalived|keepvip)"
            );
        }
        out.push((a.to_string(), b.to_string()));
    }
    assert!(!out.is_empty(), "KEEPVIP_E2E_PAIRS selects nothing");
    out
}

/// The lab's name prefix (`KVL_PREFIX`, as in tests/lab/lib.sh).
fn prefix() -> String {
    std::env::var("KVL_PREFIX").unwrap_or_else(|_| "kvl".to_string())
}

fn leftover_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output();
    let Ok(out) = out else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{}-", prefix())))
        .map(str::to_string)
        .collect()
}

/// Runs one scenario script for one implementation pair; returns (success, output).
fn run_once(script: &str, impl1: &str, impl2: &str) -> (bool, String) {
    let out_path = std::env::temp_dir().join(format!(
        "keepvip-e2e-{}-{impl1}-{impl2}.out",
        script.trim_end_matches(".sh")
    ));
    let out = File::create(&out_path).expect("create the output file");
    let err = out.try_clone().expect("clone the output file");
    let mut child = Command::new("bash")
        .arg(lab_dir().join(script))
        .env("IMPL1", impl1)
        .env("IMPL2", impl2)
        .env("KEEPVIP_BIN", env!("CARGO_BIN_EXE_keepvip"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn bash");
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for the scenario") {
            break Some(st);
        }
        if start.elapsed() > RUN_TIMEOUT {
            timed_out = true;
            // SIGTERM lets the script's trap clean up; SIGKILL only if that hangs too.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let grace = Instant::now();
            while grace.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut text = std::fs::read_to_string(&out_path).unwrap_or_default();
    if timed_out {
        text.push_str(&format!(
            "\n*** e2e wrapper: timed out after {RUN_TIMEOUT:?}\n"
        ));
    }
    let ok = status.is_some_and(|s| s.success());
    (ok, text)
}

fn scenario(name: &str, quick: bool) {
    scenario_pairs(name, quick, DEFAULT_PAIRS);
}

/// A scenario whose default implementation pairs differ from [`DEFAULT_PAIRS`] (the fault tests:
/// keepvip:keepvip, plus keepalived:keepalived where its numbers are the comparison).
fn scenario_pairs(name: &str, quick: bool, default_pairs: &str) {
    if !selected(name, quick) {
        println!("e2e {name}: skipped (KEEPVIP_E2E)");
        return;
    }
    assert!(
        is_root(),
        "e2e {name}: the namespace tests need root (run `sudo -E cargo test --release`, \
         or set KEEPVIP_E2E=off to skip them)"
    );
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let script = format!("t_{name}.sh");
    for (impl1, impl2) in pairs(default_pairs) {
        let (ok, output) = run_once(&script, &impl1, &impl2);
        println!("===== {script} IMPL1={impl1} IMPL2={impl2}\n{output}");
        let left = leftover_namespaces();
        assert!(ok, "e2e {name} (r1={impl1}, r2={impl2}) failed:\n{output}");
        assert!(
            left.is_empty(),
            "e2e {name} (r1={impl1}, r2={impl2}) left namespaces behind: {left:?}"
        );
    }
}

#[test]
fn e2e_failover_kill() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("failover_kill", true);
}

#[test]
fn e2e_sigterm() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("sigterm", true);
}

#[test]
fn e2e_preempt() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("preempt", false);
}

#[test]
fn e2e_nopreempt() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("nopreempt", false);
}

#[test]
fn e2e_unicast() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("unicast", false);
}

#[test]
fn e2e_v3_ipv4() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("v3_ipv4", false);
}

#[test]
fn e2e_v3_ipv6() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("v3_ipv6", true);
}

#[test]
fn e2e_two_instances() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("two_instances", false);
}

#[test]
fn e2e_link_down() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("link_down", false);
}

#[test]
fn e2e_stale_vip() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("stale_vip", false);
}

#[test]
fn e2e_sync_group() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("sync_group", false);
}

#[test]
fn e2e_v2_auth() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("v2_auth", true);
}

#[test]
fn e2e_ah() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("ah", true);
}

#[test]
fn e2e_ah_unicast() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario("ah_unicast", false);
}

// ---- Fault tests (issue 6): bounded, self-cleaning, their measurements printed.

#[test]
fn e2e_kill_restart() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario_pairs("kill_restart", false, "keepvip:keepvip,keepalived:keepvip");
}

#[test]
fn e2e_link_flap() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario_pairs("link_flap", false, "keepvip:keepvip,keepvip:keepalived");
}

#[test]
fn e2e_partition() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario_pairs("partition", false, "keepvip:keepvip,keepalived:keepalived");
}

#[test]
fn e2e_flood() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario_pairs("flood", false, "keepvip:keepvip,keepalived:keepalived");
}

// ---- Bad input (issue 6, item 5): keepvip's own behaviour, keepvip as r1 only.

#[test]
fn e2e_vip_retry() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario_pairs("vip_retry", false, "keepvip:keepvip");
}

#[test]
fn e2e_reload_broken() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    scenario_pairs("reload_broken", false, "keepvip:keepvip");
}

/// Every scenario script in tests/lab has a test above (so none is silently left out).
#[test]
fn e2e_every_script_has_a_test() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): namespace lab with real failovers");
        return;
    }
    let this = include_str!("e2e.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(lab_dir()).expect("read tests/lab") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_prefix("t_").and_then(|n| n.strip_suffix(".sh"))
            && !this.contains(&format!("scenario(\"{stem}\""))
            && !this.contains(&format!("scenario_pairs(\"{stem}\""))
        {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "scenario scripts without an e2e test: {missing:?}"
    );
}
