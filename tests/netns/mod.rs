//! Small namespace harness for the `sys` self-tests (root only).
//!
//! Each test builds its own namespaces named `kvs-<tag>-<pid>` (so parallel
//! tests and parallel helpers never collide), creates veths *inside* them
//! (never in the host namespace) and removes the namespaces on drop, which
//! also runs when a test panics. Code runs inside a namespace through
//! `keepvip::sys::netns::run_in_netns` (setns on a short-lived thread); the
//! sockets it opens stay in that namespace and are then driven from the
//! test thread. Addresses only from 192.0.2.0/24 and 2001:db8::/32.

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Fails with a clear message unless running as root (CI runs as root).
pub fn require_root() {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        uid, "0",
        "the sys_netns tests need root (network namespaces, raw sockets): run `sudo -E cargo test --test sys_netns`; CI runs them as root"
    );
}

/// Runs a command, panicking with its stderr on failure; returns stdout.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace that is deleted on drop.
pub struct Ns {
    pub name: String,
}

impl Ns {
    pub fn new(tag: &str) -> Ns {
        require_root();
        let name = format!("kvs-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh("ip", &["netns", "add", &name]);
        let ns = Ns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> ARGS...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        sh("ip", &a)
    }

    /// Runs `f` inside the namespace (on a helper thread).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        keepvip::sys::netns::run_in_netns(&self.name, f).expect("enter netns")
    }

    pub fn ifindex(&self, ifname: &str) -> u32 {
        self.run(|| keepvip::sys::if_index(ifname))
            .expect("ifindex")
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair `a_if` (in `a`) <-> `b_if` (in `b`), both up.
pub fn veth(a: &Ns, a_if: &str, b: &Ns, b_if: &str) {
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ]);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["link", "set", b_if, "up"]);
}

/// Polls `f` every 10 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
