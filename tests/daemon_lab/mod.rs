//! The namespace bench of the daemon tests (root only): real keepvip
//! processes in network namespaces, joined by a bridge in a third
//! namespace. Used by `daemon_netns.rs` and `hooks_netns.rs`.
//!
//! Topology per test (names `kvd-<tag>-<pid>-*`, so parallel tests and
//! helpers never collide; everything is deleted on drop, also on panic):
//!
//! ```text
//!   r1:eth0 192.0.2.1/24 2001:db8::1/64 --+
//!                                          +-- sw:br0 (bridge, no snooping)
//!   r2:eth0 192.0.2.2/24 2001:db8::2/64 --+
//! ```

#![allow(dead_code)]

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keepvip");
pub const VIP4: &str = "192.0.2.100";
pub const VIP6: &str = "2001:db8::100";
/// The daemon's start-up marker (keepvip::daemon::STARTUP_COMPLETE).
pub const STARTUP: &str = keepvip::daemon::STARTUP_COMPLETE;

pub fn skip() -> bool {
    if std::env::var("KEEPVIP_QEMU").as_deref() == Ok("1") {
        println!(
            "skipped: KEEPVIP_QEMU=1 (namespaces, exec of the binary and timing need a real kernel)"
        );
        return true;
    }
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "the daemon_netns tests need root (network namespaces, raw sockets): run `sudo -E cargo test --test daemon_netns`; CI runs them as root"
    );
    false
}

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

/// Polls `f` every 5 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub struct Node {
    pub ns: String,
    pub conf: PathBuf,
    pub log: PathBuf,
    pub pid: PathBuf,
    pub child: Option<Child>,
    /// The running daemon is keepvip (not keepalived): [`Lab::term`]
    /// checks its allocation count.
    pub keepvip: bool,
}

pub struct Lab {
    pub sw: String,
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            stop_child(n);
        }
        for n in &self.nodes {
            let _ = Command::new("ip").args(["netns", "del", &n.ns]).output();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.sw]).output();
        if std::thread::panicking() {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Kills a daemon we started (by pid: the child, and under strace the
/// traced keepvip whose pid is in its pid file), then reaps it.
pub fn stop_child(n: &mut Node) {
    // A keepalived's VRRP child (its pid file, see `Lab::start_keepalived`).
    if let Some(p) = read_pid(&n.pid.with_extension("vrrp.pid")) {
        let _ = Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .output();
        let _ = fs::remove_file(n.pid.with_extension("vrrp.pid"));
    }
    if let Some(mut c) = n.child.take() {
        if let Some(p) = read_pid(&n.pid)
            && p != c.id()
        {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .output();
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

pub fn read_pid(p: &PathBuf) -> Option<u32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

impl Lab {
    pub fn new(tag: &str, routers: usize) -> Lab {
        let base = format!("kvd-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&base);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let sw = format!("{base}-sw");
        let mut lab = Lab {
            sw: sw.clone(),
            dir: dir.clone(),
            nodes: Vec::new(),
        };
        let _ = Command::new("ip").args(["netns", "del", &sw]).output();
        sh("ip", &["netns", "add", &sw]);
        sh(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        );
        sh("ip", &["-n", &sw, "link", "set", "br0", "up"]);
        for i in 1..=routers {
            let ns = format!("{base}-r{i}");
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
            sh("ip", &["netns", "add", &ns]);
            lab.nodes.push(Node {
                ns: ns.clone(),
                conf: dir.join(format!("r{i}.conf")),
                log: dir.join(format!("r{i}.log")),
                pid: dir.join(format!("r{i}.pid")),
                child: None,
                keepvip: false,
            });
            // DAD off: the link-local (advert source) and the addresses are usable at once.
            for k in ["all", "default"] {
                sh(
                    "ip",
                    &[
                        "netns",
                        "exec",
                        &ns,
                        "sysctl",
                        "-qw",
                        &format!("net.ipv6.conf.{k}.accept_dad=0"),
                    ],
                );
            }
            let port = format!("p{i}");
            sh(
                "ip",
                &[
                    "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &port,
                    "netns", &sw,
                ],
            );
            sh("ip", &["-n", &sw, "link", "set", &port, "master", "br0"]);
            sh("ip", &["-n", &sw, "link", "set", &port, "up"]);
            lab.ip(i, &["link", "set", "lo", "up"]);
            lab.ip(
                i,
                &["addr", "add", &format!("192.0.2.{i}/24"), "dev", "eth0"],
            );
            lab.ip(
                i,
                &["addr", "add", &format!("2001:db8::{i}/64"), "dev", "eth0"],
            );
            lab.ip(i, &["link", "set", "eth0", "up"]);
        }
        lab
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i - 1]
    }

    /// `ip -n <ns of router i> ARGS`
    pub fn ip(&self, i: usize, args: &[&str]) -> String {
        let mut a = vec!["-n", self.node(i).ns.as_str()];
        a.extend_from_slice(args);
        sh("ip", &a)
    }

    pub fn write_conf(&self, i: usize, text: &str) {
        fs::write(&self.node(i).conf, text).unwrap();
    }

    pub fn spawn(&mut self, i: usize, prefix: &[&str]) {
        let n = &self.nodes[i - 1];
        assert!(n.child.is_none(), "router {i} already running");
        let _ = fs::remove_file(&n.pid);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&n.log)
            .unwrap();
        let mut args: Vec<String> = vec!["netns".into(), "exec".into(), n.ns.clone()];
        args.extend(prefix.iter().map(|s| s.to_string()));
        // Dumps (SIGUSR1/USR2) go next to the logs, not to the host's /tmp.
        let dumps = n.pid.with_extension("");
        args.extend(
            [
                BIN,
                "-n",
                "-l",
                "-D",
                "-f",
                n.conf.to_str().unwrap(),
                "-p",
                n.pid.to_str().unwrap(),
                "--dump-prefix",
                dumps.to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        // Run in the lab's directory: a notify command that writes files
        // relative to its working directory must not litter the checkout.
        let mut cmd = Command::new("ip");
        // Debug builds: an allocation after start-up prints its backtrace
        // into the log (src/sys/alloc.rs), so that a test that finds one
        // also shows where it came from. A value set by the caller wins
        // (`KEEPVIP_ALLOC_TRAP=abort`).
        if std::env::var_os("KEEPVIP_ALLOC_TRAP").is_none() {
            cmd.env("KEEPVIP_ALLOC_TRAP", "log");
        }
        let child = cmd
            .args(&args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn keepvip");
        self.nodes[i - 1].child = Some(child);
        self.nodes[i - 1].keepvip = true;
    }

    /// Starts Debian's keepalived (VRRP only, no respawn, foreground,
    /// console log with details) on router i with its config file, and
    /// waits for its "Startup complete" line.
    pub fn start_keepalived(&mut self, i: usize) {
        let n = &self.nodes[i - 1];
        assert!(n.child.is_none(), "router {i} already running");
        let _ = fs::remove_file(&n.pid);
        let vrrp_pid = n.pid.with_extension("vrrp.pid");
        let _ = fs::remove_file(&vrrp_pid);
        let before = self.log(i).matches("Startup complete").count();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&n.log)
            .unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &n.ns,
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-G",
                "-P",
                "-R",
            ])
            .arg("-f")
            .arg(&n.conf)
            .arg("-p")
            .arg(&n.pid)
            .arg("-r")
            .arg(&vrrp_pid)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn keepalived (apt-get install keepalived)");
        self.nodes[i - 1].child = Some(child);
        self.nodes[i - 1].keepvip = false;
        assert!(
            wait_until(Duration::from_secs(10), || self
                .log(i)
                .matches("Startup complete")
                .count()
                > before),
            "keepalived on router {i} did not start:\n{}",
            self.log(i)
        );
    }

    /// Starts router i and waits for its start-up marker.
    pub fn start(&mut self, i: usize) {
        self.start_with(i, &[]);
    }

    pub fn start_with(&mut self, i: usize, prefix: &[&str]) {
        let before = self.log(i).matches(STARTUP).count();
        self.spawn(i, prefix);
        assert!(
            wait_until(Duration::from_secs(10), || self
                .log(i)
                .matches(STARTUP)
                .count()
                > before),
            "router {i} did not start:\n{}",
            self.log(i)
        );
    }

    pub fn log(&self, i: usize) -> String {
        fs::read_to_string(&self.node(i).log).unwrap_or_default()
    }

    /// The keepvip pid of router i (from its pid file).
    pub fn pid(&self, i: usize) -> u32 {
        let n = self.node(i);
        let mut pid = None;
        wait_until(Duration::from_secs(2), || {
            pid = read_pid(&n.pid);
            pid.is_some()
        });
        pid.unwrap_or_else(|| panic!("no pid file for router {i}"))
    }

    pub fn signal(&self, i: usize, sig: &str) {
        sh("kill", &[&format!("-{sig}"), &self.pid(i).to_string()]);
    }

    /// kill -9 and reap.
    pub fn kill9(&mut self, i: usize) {
        stop_child(&mut self.nodes[i - 1]);
    }

    /// SIGTERM; returns how long the process took to exit, and its status.
    /// A keepvip must have logged zero heap allocations since its start-up
    /// in its stop line ([`Lab::allocs_at_stop`]): every test that stops a
    /// keepvip this way checks the no-allocation rule over its whole run.
    pub fn term(&mut self, i: usize) -> (Duration, Option<i32>) {
        let r = self.term_unchecked(i);
        if self.node(i).keepvip {
            let (n, bytes) = self.allocs_at_stop(i).unwrap_or_else(|| {
                panic!(
                    "router {i}: no 'Heap allocations' line at stop\n{}",
                    self.log(i)
                )
            });
            assert!(
                n == 0,
                "router {i}: {n} heap allocation(s) ({bytes} bytes) after start-up\n{}",
                self.log(i)
            );
            // Also none after the stop line (pid file removal, exit) or in
            // a forked child before its exec: the trap's backtraces.
            let log = self.log(i);
            let run = &log[log.rfind(STARTUP).unwrap_or(0)..];
            assert!(
                !run.contains("KEEPVIP_ALLOC_TRAP"),
                "router {i}: heap allocation after start-up\n{run}"
            );
        }
        r
    }

    /// [`Lab::term`] without the allocation check.
    pub fn term_unchecked(&mut self, i: usize) -> (Duration, Option<i32>) {
        let t0 = Instant::now();
        self.signal(i, "TERM");
        let mut child = self.nodes[i - 1].child.take().expect("running");
        let mut status = None;
        let exited = wait_until(Duration::from_secs(5), || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
            panic!("router {i} did not exit within 5 s of SIGTERM");
        }
        (t0.elapsed(), status.and_then(|s| s.code()))
    }

    /// `keepvip status [--json] -p PIDFILE` for router i (the client runs
    /// on the host: the socket is a file next to the pid file). Panics if
    /// it fails.
    pub fn status(&self, i: usize, json: bool) -> String {
        let pid = self.node(i).pid.to_str().unwrap().to_string();
        let mut args = vec!["status"];
        if json {
            args.push("--json");
        }
        args.extend(["-p", pid.as_str()]);
        sh(BIN, &args)
    }

    /// The heap allocations since start-up of the keepvip on router i, as
    /// `keepvip status --json` reports them: (count, bytes).
    pub fn allocs_now(&self, i: usize) -> (u64, u64) {
        let j = self.status(i, true);
        allocs_in_json(&j).unwrap_or_else(|| panic!("no allocation counts in {j}"))
    }

    /// Asserts that the keepvip on router i has not allocated since its
    /// start-up (`keepvip status --json`); returns its start-up figures
    /// (count, bytes) from the table, which must say the same.
    pub fn assert_no_allocs(&self, i: usize, what: &str) -> (u64, u64) {
        let (n, bytes) = self.allocs_now(i);
        assert!(
            n == 0 && bytes == 0,
            "router {i}, {what}: {n} heap allocation(s) ({bytes} bytes) after start-up\n{}",
            self.log(i)
        );
        let t = self.status(i, false);
        let line = t
            .lines()
            .find(|l| l.starts_with("Heap allocations: "))
            .unwrap_or_else(|| panic!("no 'Heap allocations' line in the table:\n{t}"));
        let (since, startup) = parse_alloc_phrase(line).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(since, (0, 0), "{line}");
        startup
    }

    /// The "Heap allocations: N (B bytes) since start-up, ..." line the
    /// keepvip on router i logged at its last stop (after its last start-up
    /// marker): (N, B); `None` if it has not logged one since.
    pub fn allocs_at_stop(&self, i: usize) -> Option<(u64, u64)> {
        let log = self.log(i);
        let run = &log[log.rfind(STARTUP)?..];
        let line = run
            .lines()
            .rev()
            .find(|l| l.contains("] Heap allocations: "))?;
        parse_alloc_phrase(&line[line.find("Heap allocations: ")?..]).map(|(since, _)| since)
    }

    pub fn has(&self, i: usize, addr: &str) -> bool {
        let out = self.ip(i, &["-o", "addr", "show", "dev", "eth0"]);
        out.contains(&format!(" {addr}/"))
    }

    /// Waits until exactly router `m` holds `vip`; panics with the logs otherwise.
    pub fn wait_master(&self, m: usize, vip: &str, timeout: Duration) -> Duration {
        let t0 = Instant::now();
        let ok = wait_until(timeout, || {
            (1..=self.nodes.len()).all(|i| self.has(i, vip) == (i == m))
        });
        assert!(
            ok,
            "router {m} should hold {vip} alone within {timeout:?}\n{}",
            self.dump()
        );
        t0.elapsed()
    }

    /// Waits until router `i` holds `vip` (the others are not looked at:
    /// a killed master leaves its VIP behind in its namespace).
    pub fn wait_has(&self, i: usize, vip: &str, timeout: Duration) {
        let ok = wait_until(timeout, || self.has(i, vip));
        assert!(
            ok,
            "router {i} should hold {vip} within {timeout:?}\n{}",
            self.dump()
        );
    }

    pub fn dump(&self) -> String {
        let mut s = String::new();
        for i in 1..=self.nodes.len() {
            s += &format!(
                "---- r{i} addrs:\n{}---- r{i} log:\n{}\n",
                self.ip(i, &["-o", "addr", "show", "dev", "eth0"]),
                self.log(i)
            );
        }
        s
    }
}

/// tcpdump of the VRRP traffic on router `i`'s bridge port (sees both
/// directions, multicast and unicast), line-buffered into a file.
pub struct Capture {
    pub child: Child,
    pub out: PathBuf,
}

/// One captured advert: time (s, tcpdump -tt), source, priority.
#[derive(Debug, Clone)]
pub struct Advert {
    pub t: f64,
    pub src: String,
    pub prio: u8,
}

impl Capture {
    pub fn start(lab: &Lab, i: usize) -> Capture {
        let out = lab.dir.join(format!("p{i}.tcpdump"));
        let err = lab.dir.join(format!("p{i}.tcpdump.err"));
        let port = format!("p{i}");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.sw,
                "tcpdump",
                "-i",
                &port,
                "-n",
                "-tt",
                "-l",
                "--immediate-mode",
                "ip proto 112 or ip6 proto 112",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(File::create(&out).unwrap()))
            .stderr(Stdio::from(File::create(&err).unwrap()))
            .spawn()
            .expect("spawn tcpdump");
        assert!(
            wait_until(Duration::from_secs(5), || fs::read_to_string(&err)
                .unwrap_or_default()
                .contains("listening on")),
            "tcpdump did not start"
        );
        Capture { child, out }
    }

    /// Every advert captured so far.
    pub fn adverts(&self) -> Vec<Advert> {
        let text = fs::read_to_string(&self.out).unwrap_or_default();
        let mut v = Vec::new();
        for l in text.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            let (Some(t), Some(src)) = (w.first().and_then(|t| t.parse().ok()), w.get(2)) else {
                continue;
            };
            let Some(p) = w.iter().position(|x| *x == "prio") else {
                continue;
            };
            let Some(prio) = w
                .get(p + 1)
                .and_then(|x| x.trim_end_matches(',').parse().ok())
            else {
                continue;
            };
            v.push(Advert {
                t,
                src: src.to_string(),
                prio,
            });
        }
        v
    }

    /// Time from the last advert of the old master (priority `old`, or
    /// priority 0 when `stop`) to the first advert of the new master
    /// (priority `new`), in ms; with the old master's last advert time.
    pub fn takeover_ms(&self, old: u8, new: u8, stop: bool) -> Option<f64> {
        let a = self.adverts();
        let first_new = a.iter().position(|x| x.prio == new)?;
        let want = if stop { 0 } else { old };
        let last_old = a[..first_new].iter().rev().find(|x| x.prio == want)?;
        Some((a[first_new].t - last_old.t) * 1000.0)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One instance on eth0.
pub fn instance(
    name: &str,
    vrid: u8,
    prio: u8,
    version: u8,
    advert_int: &str,
    vips: &[&str],
    extra: &str,
) -> String {
    let mut v = String::new();
    for x in vips {
        v += &format!("        {x} dev eth0\n");
    }
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    version {version}\n    virtual_router_id {vrid}\n    priority {prio}\n    advert_int {advert_int}\n{extra}    virtual_ipaddress {{\n{v}    }}\n}}\n"
    )
}

pub const PASS: &str =
    "    authentication {\n        auth_type PASS\n        auth_pass secret12\n    }\n";

pub fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// `Heap allocations: N (B bytes) since start-up, M (C bytes) during
/// start-up` -> ((N, B), (M, C)).
pub fn parse_alloc_phrase(line: &str) -> Option<((u64, u64), (u64, u64))> {
    let rest = line.strip_prefix("Heap allocations: ")?;
    let nums: Vec<u64> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect();
    let ok = rest.contains(" bytes) since start-up, ") && rest.ends_with(" bytes) during start-up");
    match nums[..] {
        [a, b, c, d] if ok => Some(((a, b), (c, d))),
        _ => None,
    }
}

/// `"allocations":{"since_startup":{"count":N,"bytes":B},...` in `keepvip
/// status --json` (the same in every element) -> (N, B).
pub fn allocs_in_json(j: &str) -> Option<(u64, u64)> {
    let key = "\"allocations\":{\"since_startup\":{\"count\":";
    let rest = &j[j.find(key)? + key.len()..];
    let (n, rest) = rest.split_once(",\"bytes\":")?;
    let b = &rest[..rest.find('}')?];
    Some((n.parse().ok()?, b.parse().ok()?))
}

/// A FIFO's lines, read on a thread until every writer has closed it (the
/// daemon exits) or `bound` passes.
pub fn fifo_reader_for(path: PathBuf, bound: Duration) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        use std::io::Read;
        let mut out = String::new();
        let Ok(mut f) = fs::File::open(&path) else {
            return out;
        };
        let t0 = Instant::now();
        let mut buf = [0u8; 512];
        while t0.elapsed() < bound {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        out
    })
}

/// A copy of `sleep` under a name no other process has (the kernel's
/// `comm` is the file name), so the tests can count and kill exactly
/// their own processes.
pub fn sleeper(lab: &Lab, tag: &str) -> PathBuf {
    let name = format!("kv{tag}{}", std::process::id() % 1_000_000);
    assert!(name.len() <= 15, "{name}: comm keeps 15 bytes");
    let src = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("sleep(1)");
    let dst = lab.dir.join(&name);
    fs::copy(src, &dst).unwrap();
    fs::set_permissions(&dst, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dst
}
