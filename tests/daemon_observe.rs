//! End-to-end tests of the daemon's state dumps and `keepvip status` (root
//! only): real keepvip processes in network namespaces joined by a bridge,
//! asked through signals (SIGUSR1, SIGUSR2, SIGRTMIN+2 and a literal 37 as
//! OpenWrt's rpcd sends it) and the status socket, with the real `keepvip
//! status` client. The JSON is parsed by Python's json module (what rpcd's
//! json-c and LuCI's JavaScript would accept).
//!
//! ```text
//!   r1:eth0 192.0.2.1/24 --+
//!                          +-- sw:br0 (bridge)
//!   r2:eth0 192.0.2.2/24 --+
//! ```
//!
//! Namespaces are named `kvo-<tag>-<pid>-*` and deleted on drop (also on
//! panic); every wait is bounded. Skipped under qemu-user (`KEEPVIP_QEMU=1`).

use std::fs::{self, File};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_keepvip");
const STARTUP: &str = keepvip::daemon::STARTUP_COMPLETE;
const VIP1: &str = "192.0.2.100";
const VIP2: &str = "192.0.2.101";

fn skip() -> bool {
    if std::env::var("KEEPVIP_QEMU").as_deref() == Ok("1") {
        println!("skipped: KEEPVIP_QEMU=1 (namespaces and exec of the binary need a real kernel)");
        return true;
    }
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "the daemon_observe tests need root (network namespaces, raw sockets): run `sudo -E cargo test --test daemon_observe`; CI runs them as root"
    );
    false
}

fn sh(cmd: &str, args: &[&str]) -> String {
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

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
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

/// SIGRTMIN+2 of this libc (the test binary and keepvip share it).
fn sig_json() -> i32 {
    libc::SIGRTMIN() + 2
}

struct Node {
    ns: String,
    conf: PathBuf,
    log: PathBuf,
    pid: PathBuf,
    /// `--dump-prefix` (None: the daemon's default or `--keepalived-compat`).
    prefix: PathBuf,
    child: Option<Child>,
}

struct Lab {
    sw: String,
    dir: PathBuf,
    nodes: Vec<Node>,
    /// The keepvip binary the routers run (`BIN`, or a copy of it).
    bin: PathBuf,
}

fn read_pid(p: &Path) -> Option<u32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Kills a daemon we started (the child, and the traced keepvip named by
/// its pid file when it runs under strace/unshare), then reaps it.
fn stop_child(n: &mut Node) {
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

impl Lab {
    /// `routers` namespaces on a bridge; the lab directory is `base/<name>`.
    fn new(tag: &str, routers: usize, base: &Path) -> Lab {
        let name = format!("kvo-{tag}-{}", std::process::id());
        let dir = base.join(&name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let sw = format!("{name}-sw");
        let mut lab = Lab {
            sw: sw.clone(),
            dir: dir.clone(),
            nodes: Vec::new(),
            bin: PathBuf::from(BIN),
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
            let ns = format!("{name}-r{i}");
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
            sh("ip", &["netns", "add", &ns]);
            lab.nodes.push(Node {
                ns: ns.clone(),
                conf: dir.join(format!("r{i}.conf")),
                log: dir.join(format!("r{i}.log")),
                pid: dir.join(format!("r{i}.pid")),
                prefix: dir.join(format!("r{i}")),
                child: None,
            });
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
            lab.ip(i, &["link", "set", "eth0", "up"]);
        }
        lab
    }

    fn node(&self, i: usize) -> &Node {
        &self.nodes[i - 1]
    }

    fn ip(&self, i: usize, args: &[&str]) -> String {
        let mut a = vec!["-n", self.node(i).ns.as_str()];
        a.extend_from_slice(args);
        sh("ip", &a)
    }

    fn write_conf(&self, i: usize, text: &str) {
        fs::write(&self.node(i).conf, text).unwrap();
    }

    /// Starts router i as `ip netns exec NS WRAPPER... keepvip -n -l -D -f
    /// CONF -p PID EXTRA...` and waits for the start-up marker.
    fn start(&mut self, i: usize, wrapper: &[&str], extra: &[&str]) {
        let before = self.log(i).matches(STARTUP).count();
        let n = &self.nodes[i - 1];
        assert!(n.child.is_none(), "router {i} already running");
        let _ = fs::remove_file(&n.pid);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&n.log)
            .unwrap();
        let mut args: Vec<String> = vec!["netns".into(), "exec".into(), n.ns.clone()];
        args.extend(wrapper.iter().map(|s| s.to_string()));
        args.push(self.bin.to_string_lossy().into_owned());
        args.extend(
            [
                "-n",
                "-l",
                "-D",
                "-f",
                n.conf.to_str().unwrap(),
                "-p",
                n.pid.to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new("ip")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn keepvip");
        self.nodes[i - 1].child = Some(child);
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

    /// Starts router i with its own `--dump-prefix`.
    fn start_with_prefix(&mut self, i: usize, wrapper: &[&str]) {
        let prefix = self.node(i).prefix.to_str().unwrap().to_string();
        self.start(i, wrapper, &["--dump-prefix", &prefix]);
    }

    fn log(&self, i: usize) -> String {
        fs::read_to_string(&self.node(i).log).unwrap_or_default()
    }

    fn pid(&self, i: usize) -> u32 {
        let n = self.node(i);
        let mut pid = None;
        wait_until(Duration::from_secs(2), || {
            pid = read_pid(&n.pid);
            pid.is_some()
        });
        pid.unwrap_or_else(|| panic!("no pid file for router {i}"))
    }

    /// `kill -SIG pid` (a name like `USR1` or a number).
    fn signal(&self, i: usize, sig: &str) {
        sh("kill", &[&format!("-{sig}"), &self.pid(i).to_string()]);
    }

    fn kill9(&mut self, i: usize) {
        stop_child(&mut self.nodes[i - 1]);
    }

    /// SIGTERM, wait (5 s) for the exit; returns the exit status.
    fn term(&mut self, i: usize) -> Option<i32> {
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
        status.and_then(|s| s.code())
    }

    fn has(&self, i: usize, addr: &str) -> bool {
        self.ip(i, &["-o", "addr", "show", "dev", "eth0"])
            .contains(&format!(" {addr}/"))
    }

    fn wait_has(&self, i: usize, vip: &str, timeout: Duration) {
        assert!(
            wait_until(timeout, || self.has(i, vip)),
            "router {i} should hold {vip} within {timeout:?}\n{}",
            self.dump()
        );
    }

    /// Waits until exactly router `m` holds `vip`.
    fn wait_master(&self, m: usize, vip: &str, timeout: Duration) {
        let ok = wait_until(timeout, || {
            (1..=self.nodes.len()).all(|i| self.has(i, vip) == (i == m))
        });
        assert!(
            ok,
            "router {m} should hold {vip} alone within {timeout:?}\n{}",
            self.dump()
        );
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        for i in 1..=self.nodes.len() {
            s += &format!("---- r{i} log:\n{}\n", self.log(i));
        }
        s
    }

    /// `keepvip status [--json] -p PIDFILE` from the host: (exit code, stdout, stderr).
    fn status(&self, i: usize, json: bool) -> (i32, String, String) {
        let pid = self.node(i).pid.to_str().unwrap().to_string();
        let mut args = vec!["status", "-p", pid.as_str()];
        if json {
            args.push("--json");
        }
        run(&args)
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run keepvip");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One instance on eth0 (v3, 0.5 s).
fn instance(name: &str, vrid: u8, prio: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    version 3\n    virtual_router_id {vrid}\n    priority {prio}\n    advert_int 0.5\n{extra}    virtual_ipaddress {{\n        {vip}/24 dev eth0\n    }}\n}}\n"
    )
}

/// One element of keepalived's JSON as LuCI reads it (plus a few fields
/// the tests look at).
#[derive(Debug, Clone)]
struct LuciRow {
    iname: String,
    ifname: String,
    state: u8,
    last_transition: f64,
    advert_sent: u64,
    advert_rcvd: u64,
    become_master: u64,
    effective_priority: u8,
    base_priority: u8,
    /// `keepvip.master` (status JSON only).
    master: Option<String>,
    /// `keepvip.trackers` as `name:state:weight` (status JSON only).
    trackers: Vec<String>,
}

/// Parses keepalived's JSON dump (or `keepvip status --json`) with Python's
/// json module and checks the types LuCI relies on. Panics on invalid JSON.
fn luci_rows(json: &str) -> Vec<LuciRow> {
    let script = r#"
import json, sys
v = json.load(sys.stdin)
assert isinstance(v, list), "top level is not an array"
for e in v:
    d, s = e["data"], e["stats"]
    assert isinstance(d["iname"], str) and isinstance(d["ifp_ifname"], str)
    assert isinstance(d["state"], int) and d["state"] in (0, 1, 2, 3)
    assert isinstance(d["last_transition"], (int, float))
    for k in ("advert_sent", "advert_rcvd", "become_master", "release_master"):
        assert isinstance(s[k], int), k
    k = e.get("keepvip")
    master = "-" if k is None or k["master"] is None else k["master"]
    trk = ",".join("%s:%s:%d" % (t["name"], t["state"], t["weight"]) for t in (k or {}).get("trackers", []))
    print("\t".join(str(x) for x in (d["iname"], d["ifp_ifname"], d["state"], repr(float(d["last_transition"])),
        s["advert_sent"], s["advert_rcvd"], s["become_master"], d["effective_priority"], d["base_priority"],
        "keepvip" if k is not None else "plain", master, trk)))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (tests/deps.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python rejected the JSON: {}\n{json}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            LuciRow {
                iname: f[0].into(),
                ifname: f[1].into(),
                state: f[2].parse().unwrap(),
                last_transition: f[3].parse().unwrap(),
                advert_sent: f[4].parse().unwrap(),
                advert_rcvd: f[5].parse().unwrap(),
                become_master: f[6].parse().unwrap(),
                effective_priority: f[7].parse().unwrap(),
                base_priority: f[8].parse().unwrap(),
                master: (f[9] == "keepvip" && f[10] != "-").then(|| f[10].to_string()),
                trackers: f[11]
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            }
        })
        .collect()
}

fn row<'a>(rows: &'a [LuciRow], name: &str) -> &'a LuciRow {
    rows.iter()
        .find(|r| r.iname == name)
        .unwrap_or_else(|| panic!("no {name} in {rows:?}"))
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn ino(p: &Path) -> Option<u64> {
    fs::metadata(p).ok().map(|m| m.ino())
}

/// Sends `sig` to router `i` and waits until `path` is a new file (another
/// inode than before: written by rename). Returns its text.
fn dump_after(lab: &Lab, i: usize, sig: &str, path: &Path) -> String {
    let before = ino(path);
    lab.signal(i, sig);
    assert!(
        wait_until(Duration::from_secs(3), || ino(path)
            .is_some_and(|n| Some(n) != before)),
        "no new {} after SIG{sig} to r{i}\n{}",
        path.display(),
        lab.log(i)
    );
    let meta = fs::metadata(path).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{}",
        path.display()
    );
    fs::read_to_string(path).unwrap()
}

/// The `State = X` line of instance `name` in a SIGUSR1 dump.
fn data_state(data: &str, name: &str) -> String {
    let start = data
        .find(&format!(" VRRP Instance = {name}\n"))
        .unwrap_or_else(|| panic!("no {name} in the data dump:\n{data}"));
    data[start..]
        .lines()
        .find_map(|l| l.strip_prefix("   State = "))
        .unwrap_or_else(|| panic!("no State line for {name}"))
        .to_string()
}

/// `(received, sent)` of instance `name` in a SIGUSR2 dump (keepalived's
/// layout, checked line by line).
/// The text of `name`'s `  Advert lateness: ` line in a stats dump.
fn stats_lateness(stats: &str, name: &str) -> String {
    let start = stats
        .find(&format!("VRRP Instance: {name}\n"))
        .unwrap_or_else(|| panic!("no {name} in the stats dump:\n{stats}"));
    stats[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("VRRP Instance: "))
        .find_map(|l| l.strip_prefix("  Advert lateness: "))
        .unwrap_or_else(|| panic!("no lateness line for {name}:\n{stats}"))
        .to_string()
}

fn stats_adverts(stats: &str, name: &str) -> (u64, u64) {
    let start = stats
        .find(&format!("VRRP Instance: {name}\n"))
        .unwrap_or_else(|| panic!("no {name} in the stats dump:\n{stats}"));
    let l: Vec<&str> = stats[start..].lines().take(4).collect();
    assert_eq!(l[1], "  Advertisements:", "{stats}");
    let rcvd = l[2].strip_prefix("    Received: ").expect(l[2]);
    let sent = l[3].strip_prefix("    Sent: ").expect(l[3]);
    (rcvd.parse().unwrap(), sent.parse().unwrap())
}

/// The status table's row for `name`, split on whitespace.
fn table_row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} row:\n{table}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Dump write times logged by the daemon (`... dump written to P in N us`).
fn dump_times_us(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains(" dump written to "))
        .filter_map(|l| l.rsplit(" in ").next()?.strip_suffix(" us")?.parse().ok())
        .collect()
}

#[test]
fn signals_write_atomic_dumps_and_status_answers_on_master_and_backup() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("dumps", 2, &std::env::temp_dir());
    // r1: master of VI_1, tracks trk0 (a veth inside r1) with weight -20;
    // r2: master of VI_2.
    lab.ip(
        1,
        &[
            "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ],
    );
    lab.ip(1, &["link", "set", "trk1", "up"]);
    lab.ip(1, &["link", "set", "trk0", "up"]);
    let track = "    track_interface {\n        trk0 weight -20\n    }\n";
    lab.write_conf(
        1,
        &format!(
            "{}{}",
            instance("VI_1", 51, 150, VIP1, track),
            instance("VI_2", 52, 100, VIP2, "")
        ),
    );
    lab.write_conf(
        2,
        &format!(
            "{}{}",
            instance("VI_1", 51, 100, VIP1, ""),
            instance("VI_2", 52, 150, VIP2, "")
        ),
    );
    lab.start_with_prefix(1, &[]);
    lab.start_with_prefix(2, &[]);
    lab.wait_master(1, VIP1, Duration::from_secs(6));
    lab.wait_master(2, VIP2, Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(1500));

    let paths =
        |i: usize, ext: &str| PathBuf::from(format!("{}.{ext}", lab.node(i).prefix.display()));
    let mut first_json = Vec::new();
    for i in 1..=2 {
        let (own, other) = if i == 1 {
            ("VI_1", "VI_2")
        } else {
            ("VI_2", "VI_1")
        };
        // SIGUSR1: keepalived's data dump.
        let data = dump_after(&lab, i, "USR1", &paths(i, "data"));
        assert!(
            data.starts_with("------< Global definitions >------\n"),
            "{data}"
        );
        assert!(data.contains("------< VRRP Topology >------\n"));
        assert_eq!(data_state(&data, own), "MASTER", "r{i}\n{data}");
        assert_eq!(data_state(&data, other), "BACKUP", "r{i}\n{data}");
        // SIGUSR2: keepalived's stats dump.
        let stats = dump_after(&lab, i, "USR2", &paths(i, "stats"));
        let (own_rcvd, own_sent) = stats_adverts(&stats, own);
        let (other_rcvd, other_sent) = stats_adverts(&stats, other);
        assert!(own_sent >= 3, "r{i} {own} sent {own_sent}\n{stats}");
        assert!(
            other_rcvd >= 3,
            "r{i} {other} received {other_rcvd}\n{stats}"
        );
        // keepvip's own line after keepalived's, per instance: the master's
        // timed adverts were measured.
        assert_eq!(stats.matches("  Advert lateness: ").count(), 2, "{stats}");
        let late = stats_lateness(&stats, own);
        assert!(late.contains(" timed adverts, max "), "{stats}");
        // And the daemon's heap allocations since start-up, the last line.
        let last = stats.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("Heap allocations: 0 (0 bytes) since start-up, ")
                && last.ends_with(" bytes) during start-up"),
            "{stats}"
        );
        println!(
            "r{i} stats dump: {own} sent {own_sent} received {own_rcvd}, {other} sent {other_sent} received {other_rcvd}; {own} advert lateness: {late}"
        );
        // SIGRTMIN+2: the JSON LuCI reads.
        let json = dump_after(&lab, i, &sig_json().to_string(), &paths(i, "json"));
        let rows = luci_rows(&json);
        assert_eq!(rows.len(), 2);
        let (m, b) = (row(&rows, own), row(&rows, other));
        assert_eq!(
            (m.state, b.state),
            (2, 1),
            "r{i}: MASTER 2, BACKUP 1\n{json}"
        );
        assert_eq!((m.ifname.as_str(), b.ifname.as_str()), ("eth0", "eth0"));
        assert!(m.advert_sent >= own_sent, "{m:?}");
        assert!(b.advert_rcvd >= other_rcvd, "{b:?}");
        assert_eq!(m.become_master, 1);
        assert!(m.master.is_none(), "the dump is keepalived's schema only");
        for r in [m, b] {
            let age = now_s() - r.last_transition;
            assert!(
                (0.0..60.0).contains(&age),
                "last_transition {} is not a recent wall-clock time (now {})",
                r.last_transition,
                now_s()
            );
        }
        first_json.push(rows);
    }

    // A literal `kill -37` (OpenWrt's rpcd) writes the JSON too, and the
    // counters have grown.
    std::thread::sleep(Duration::from_millis(1000));
    for i in 1..=2 {
        let (own, other) = if i == 1 {
            ("VI_1", "VI_2")
        } else {
            ("VI_2", "VI_1")
        };
        let json = dump_after(&lab, i, "37", &paths(i, "json"));
        let rows = luci_rows(&json);
        let before = &first_json[i - 1];
        assert!(
            row(&rows, own).advert_sent > row(before, own).advert_sent,
            "r{i} {own}: advert_sent did not grow: {rows:?} vs {before:?}"
        );
        assert!(
            row(&rows, other).advert_rcvd > row(before, other).advert_rcvd,
            "r{i} {other}: advert_rcvd did not grow"
        );
    }

    // Atomic replacement under a reader: r1 rewrites its JSON 40 times while
    // a thread reads it in a loop; every read is a complete document.
    let jpath = paths(1, "json");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (p, stop) = (jpath.clone(), stop.clone());
        std::thread::spawn(move || {
            // Inode numbers are recycled: count changes, not distinct values.
            let (mut reads, mut changes, mut last) = (0usize, 0usize, None);
            let t0 = Instant::now();
            while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(30) {
                let n = ino(&p);
                if n != last {
                    changes += 1;
                    last = n;
                }
                let text = fs::read_to_string(&p).expect("the JSON dump is always there");
                assert!(
                    text.starts_with("[{\"data\":{\"iname\":") && text.ends_with("}}]\n"),
                    "partial JSON dump read ({} bytes): {text:?}",
                    text.len()
                );
                reads += 1;
            }
            (reads, changes)
        })
    };
    let pid1 = lab.pid(1).to_string();
    let sig = format!("-{}", sig_json());
    for _ in 0..40 {
        sh("kill", &[&sig, &pid1]);
        std::thread::sleep(Duration::from_millis(15));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let (reads, versions) = reader.join().expect("reader saw a partial file");
    println!(
        "atomic JSON dumps: {reads} complete reads while the file was replaced (the reader saw {versions} versions), none partial"
    );
    assert!(
        reads > 40 && versions > 5,
        "{reads} reads, {versions} versions"
    );
    let leftovers: Vec<String> = fs::read_dir(&lab.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    let times = dump_times_us(&lab.log(1));
    println!(
        "r1 dump write times (us, render + write + rename): {} dumps, max {}, median {}",
        times.len(),
        times.iter().max().unwrap_or(&0),
        {
            let mut t = times.clone();
            t.sort_unstable();
            t.get(t.len() / 2).copied().unwrap_or(0)
        }
    );
    assert!(times.len() >= 40);

    // trk0 goes down on r1: VI_1 stays master at 150 - 20 = 130.
    lab.ip(1, &["link", "set", "trk1", "down"]);
    assert!(
        wait_until(Duration::from_secs(3), || lab
            .status(1, false)
            .1
            .contains("trk0:down")),
        "{}",
        lab.status(1, false).1
    );

    // `keepvip status`: the table.
    let (code, t1, err) = lab.status(1, false);
    assert_eq!(code, 0, "{err}");
    println!("keepvip status on r1:\n{t1}");
    let head: Vec<&str> = t1.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        [
            "INSTANCE", "IFACE", "VRID", "STATE", "PRIO", "MASTER", "SINCE", "TRACKERS", "SENT",
            "RCVD", "MASTER", "PRIO0", "DROPS", "MAXLATE"
        ]
    );
    let r = table_row(&t1, "VI_1");
    assert_eq!(
        &r[1..6],
        ["eth0", "51", "MASTER", "130/150", "192.0.2.1"],
        "{t1}"
    );
    assert_eq!(r[7], "trk0:down", "{t1}");
    let r = table_row(&t1, "VI_2");
    assert_eq!(
        &r[1..6],
        ["eth0", "52", "BACKUP", "100", "192.0.2.2"],
        "{t1}"
    );
    assert_eq!(r[7], "-", "{t1}");
    // The last line: the daemon's heap allocations, none since start-up.
    let last = t1.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Heap allocations: 0 (0 bytes) since start-up, "),
        "{t1}"
    );
    let (code, t2, _) = lab.status(2, false);
    assert_eq!(code, 0);
    assert_eq!(
        &table_row(&t2, "VI_1")[3..6],
        ["BACKUP", "100", "192.0.2.1"],
        "{t2}"
    );
    assert_eq!(
        &table_row(&t2, "VI_2")[3..6],
        ["MASTER", "150", "192.0.2.2"],
        "{t2}"
    );
    assert!(lab.log(1).contains("Netlink reports trk0 down"));

    // `keepvip status --json`: keepalived's schema plus the keepvip member.
    let (code, j1, err) = lab.status(1, true);
    assert_eq!(code, 0, "{err}");
    let rows = luci_rows(&j1);
    let v1 = row(&rows, "VI_1");
    assert_eq!(
        (v1.state, v1.effective_priority, v1.base_priority),
        (2, 130, 150)
    );
    assert_eq!(v1.master.as_deref(), Some("192.0.2.1"));
    assert_eq!(v1.trackers, ["eth0:up:0", "trk0:down:-20"]);
    assert!(
        j1.matches(
            "\"allocations\":{\"since_startup\":{\"count\":0,\"bytes\":0},\"startup\":{\"count\":"
        )
        .count()
            == 2,
        "{j1}"
    );
    let v2 = row(&rows, "VI_2");
    assert_eq!((v2.state, v2.master.as_deref()), (1, Some("192.0.2.2")));
    let (_, j2, _) = lab.status(2, true);
    let rows = luci_rows(&j2);
    assert_eq!(row(&rows, "VI_1").state, 1);
    assert_eq!(row(&rows, "VI_1").master.as_deref(), Some("192.0.2.1"));
    assert_eq!(row(&rows, "VI_2").state, 2);

    // Exit codes: 2 usage, 3 no daemon; after SIGTERM the socket is gone.
    assert_eq!(run(&["status", "--bogus"]).0, 2);
    let sock = lab.dir.join("r1.sock");
    assert!(sock.exists());
    assert_eq!(lab.term(1), Some(0));
    assert!(!sock.exists(), "status socket removed at exit");
    let (code, _, err) = lab.status(1, false);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("is keepvip running?"), "{err}");
}

#[test]
fn keepalived_compat_writes_keepalived_paths_and_openwrt_rpcd_reads_them() {
    if skip() {
        return;
    }
    // The daemon gets a private /tmp (a bind mount in its own mount
    // namespace) so that keepalived's fixed paths do not touch the host's
    // /tmp; the lab directory and the binary must then not be under /tmp
    // (a checkout in /tmp: the lab goes to /var/tmp with a copy of keepvip).
    let under_tmp = |p: &Path| p.starts_with("/tmp");
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let base = if under_tmp(target_tmp) {
        Path::new("/var/tmp")
    } else {
        target_tmp
    };
    let mut lab = Lab::new("compat", 1, base);
    if under_tmp(Path::new(BIN)) {
        lab.bin = lab.dir.join("keepvip");
        fs::copy(BIN, &lab.bin).unwrap();
    }
    let tmp = lab.dir.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    lab.write_conf(1, &instance("VI_1", 51, 150, VIP1, ""));
    let mount = format!("mount --bind {} /tmp && exec \"$@\"", tmp.to_str().unwrap());
    lab.start(
        1,
        &[
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &mount,
            "sh",
        ],
        &["--keepalived-compat"],
    );
    lab.wait_has(1, VIP1, Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(600));

    let data = dump_after(&lab, 1, "USR1", &tmp.join("keepalived.data"));
    assert_eq!(data_state(&data, "VI_1"), "MASTER");
    let stats = dump_after(&lab, 1, "USR2", &tmp.join("keepalived.stats"));
    assert!(stats_adverts(&stats, "VI_1").1 >= 1, "{stats}");
    // keepalived's format exactly: no keepvip line.
    assert!(!stats.contains("Advert lateness"), "{stats}");
    assert!(!stats.contains("Heap allocations"), "{stats}");
    // `kill -37`, exactly as rpcd sends it.
    let json = dump_after(&lab, 1, "37", &tmp.join("keepalived.json"));
    let rows = luci_rows(&json);
    assert_eq!(row(&rows, "VI_1").state, 2);
    for f in ["keepvip.data", "keepvip.stats", "keepvip.json"] {
        assert!(!tmp.join(f).exists(), "{f} written in compat mode");
    }
    let log = lab.log(1);
    assert!(
        log.contains("JSON dump written to /tmp/keepalived.json"),
        "{log}"
    );

    // OpenWrt: the keepalived package's rpcd plugin (`ubus call keepalived
    // dump`) with keepvip's glue sourced, run like the plugin runs it: remove
    // the file, `pidof /usr/sbin/keepalived`, `kill -37` the pids, read the
    // file. The real pidof is replaced by one that finds no keepalived (so no
    // real keepalived on this machine is ever signalled).
    let fake_pidof = lab.dir.join("pidof-none");
    fs::write(&fake_pidof, "#!/bin/sh\nexit 1\n").unwrap();
    fs::set_permissions(&fake_pidof, fs::Permissions::from_mode(0o755)).unwrap();
    let glue = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/board/openwrt/files/keepalived-rpc.sh"
    );
    let plugin = r#". "$GLUE"; rm -f "$KEEPVIP_RPC_JSON"; pids=$(pidof /usr/sbin/keepalived); if [ -n "$pids" ]; then kill -37 $pids; printf '{ "status" : %s }' "$(cat "$KEEPVIP_RPC_JSON")"; else printf '{ }'; fi"#;
    let before = dump_times_us(&lab.log(1)).len();
    let out = Command::new("dash")
        .args(["-c", plugin])
        .env("GLUE", glue)
        .env("KEEPVIP_BIN", BIN)
        .env("KEEPVIP_PID_FILE", &lab.node(1).pid)
        .env("KEEPVIP_RPC_JSON", tmp.join("keepalived.json"))
        .env("KEEPVIP_PIDOF", &fake_pidof)
        .output()
        .expect("dash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = answer
        .strip_prefix("{ \"status\" : ")
        .and_then(|s| s.strip_suffix(" }"))
        .unwrap_or_else(|| panic!("rpcd answer: {answer}"));
    let rows = luci_rows(status);
    let r = row(&rows, "VI_1");
    assert_eq!((r.state, r.ifname.as_str()), (2, "eth0"), "{answer}");
    assert!(r.advert_sent > 0);
    // The plugin's kill -37 reached keepvip, which rewrote the file.
    assert!(
        wait_until(Duration::from_secs(3), || dump_times_us(&lab.log(1)).len()
            > before),
        "{}",
        lab.log(1)
    );
    let after = fs::read_to_string(tmp.join("keepalived.json")).unwrap();
    assert_eq!(row(&luci_rows(&after), "VI_1").state, 2);
    assert_eq!(lab.term(1), Some(0));
}

#[test]
fn no_heap_growth_with_dumps_and_status_queries_under_strace() {
    if skip() {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed for this test: apt-get install strace");
    }
    let mut lab = Lab::new("strace", 2, &std::env::temp_dir());
    let trace = lab.dir.join("r1.strace");
    // r1 (traced) is the lower priority: it becomes master on every kill of r2.
    lab.write_conf(1, &instance("VI_1", 51, 100, VIP1, ""));
    lab.write_conf(2, &instance("VI_1", 51, 200, VIP1, ""));
    lab.start_with_prefix(2, &[]);
    lab.wait_master(2, VIP1, Duration::from_secs(6));
    let t = trace.to_str().unwrap().to_string();
    lab.start_with_prefix(
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
    let sock = lab.dir.join("r1.sock");
    let json_sig = sig_json().to_string();
    let mut queries = 0;
    // Dumps and status queries of every kind, in both states.
    let mut poke = |lab: &Lab, want: &str| {
        for sig in ["USR1", "USR2", json_sig.as_str(), "37"] {
            lab.signal(1, sig);
        }
        // Silent clients (more than the server keeps), a bad request, a
        // client that leaves before the answer, then real queries.
        let silent: Vec<std::os::unix::net::UnixStream> = (0..6)
            .filter_map(|_| std::os::unix::net::UnixStream::connect(&sock).ok())
            .collect();
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&sock) {
            let _ = s.write_all(b"reboot\n");
        }
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&sock) {
            let _ = s.write_all(b"json\n");
        }
        for json in [false, true] {
            let (code, out, err) = lab.status(1, json);
            assert_eq!(code, 0, "{err}");
            assert!(
                out.contains(want) || (json && out.contains("\"state\":")),
                "{out}"
            );
            queries += 1;
        }
        drop(silent);
    };
    for round in 0..3 {
        poke(&lab, "BACKUP");
        lab.kill9(2);
        lab.wait_has(1, VIP1, Duration::from_secs(6));
        poke(&lab, "MASTER");
        if round == 0 {
            lab.ip(1, &["addr", "del", "192.0.2.100/24", "dev", "eth0"]);
            assert!(wait_until(Duration::from_secs(2), || lab.has(1, VIP1)));
        }
        lab.start_with_prefix(2, &[]);
        lab.wait_master(2, VIP1, Duration::from_secs(6));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lab.term(1), Some(0));
    let log = lab.log(1);
    assert_eq!(
        log.matches("(VI_1) Entering MASTER STATE").count(),
        3,
        "{log}"
    );
    let dumps = dump_times_us(&log).len();
    assert!(dumps >= 6 * 3, "only {dumps} dumps written\n{log}");

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
    assert!(
        lines[..start]
            .iter()
            .any(|l| l.contains("mmap(") || l.contains("brk(")),
        "no brk/mmap traced before the marker: is strace filtering right?"
    );
    let growth: Vec<&&str> = lines[start..stop]
        .iter()
        .filter(|l| {
            ["brk(", "mmap(", "munmap(", "mremap("]
                .iter()
                .any(|s| l.contains(s))
        })
        .collect();
    let dump_writes = lines[start..stop]
        .iter()
        .filter(|l| l.contains("write(") && l.contains("{\\\"data\\\":"))
        .count();
    println!(
        "strace: {} dumps, {} status queries (+ silent, bad and vanishing clients), {} JSON writes seen, {} brk/mmap/munmap/mremap calls between the start-up marker and SIGTERM, over 3 failovers and 3 preemptions",
        dumps,
        queries,
        dump_writes,
        growth.len()
    );
    assert!(dump_writes > 0, "dump writes not traced");
    assert!(
        growth.is_empty(),
        "heap/mapping changes after start-up:\n{growth:#?}"
    );
}

#[test]
fn signum_and_status_command_line() {
    if std::env::var("KEEPVIP_QEMU").as_deref() == Ok("1") {
        println!("skipped: KEEPVIP_QEMU=1 (spawns the target binary)");
        return;
    }
    let (code, out, _) = run(&["--signum=JSON"]);
    assert_eq!((code, out.trim()), (0, sig_json().to_string().as_str()));
    assert_eq!(
        run(&["--signum", "DATA"]).1.trim(),
        libc::SIGUSR1.to_string()
    );
    assert_eq!(run(&["--signum=STATS"]).1.trim(), libc::SIGUSR2.to_string());
    let (code, _, err) = run(&["--signum=TDATA"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown signal function"), "{err}");
    let (code, out, _) = run(&["status", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit status: 0 ok, 1 error, 2 usage, 3 daemon not running"));
    assert_eq!(run(&["status", "-x"]).0, 2);
    let dir = std::env::temp_dir().join(format!("kvo-cli-{}", std::process::id()));
    let pid = dir.join("none.pid");
    let (code, _, err) = run(&["status", "-p", pid.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("none.sock"), "{err}");
}
