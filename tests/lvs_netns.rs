#![cfg(feature = "lvs")]
//! The LVS side end to end (root only): keepvip as director in one
//! namespace, real backends in two others (a TCP listener, and
//! `python3 -m http.server`), health checks against them, servers taken
//! out of the pool when their service stops (killed by PID) and put back
//! when it returns, MISC_CHECK scripts, notify_up/notify_down, and the
//! IPVS part where the kernel has IPVS.
//!
//! ```text
//!   lb:eth0 192.0.2.1/24 (VRRP, VIP 192.0.2.100) -- sw:f0
//!   lb:eth1 198.51.100.1/24  --+
//!   be1:eth0 198.51.100.11/24 --+-- sw:br0
//!   be2:eth0 198.51.100.12/24 --+
//! ```
//!
//! `config_lvs_conf_runs_against_real_backends` runs the repository's
//! `config/lvs.conf` itself, with a client namespace on the front link:
//!
//! ```text
//!   cl:eth0 192.0.2.11-14/24 --+-- sw:br1 -- lb:eth0
//! ```
//!
//! Names carry the pid (`kvl-<tag>-<pid>-*`); everything is removed on
//! drop, also when a test fails. Detection and recovery times are printed
//! (`-- --nocapture`); the assertions check keepalived's semantics for the
//! configured checkers: a service that stops (the backend's kernel answers
//! the connect with a RST) is down after its next check, within
//! `delay_loop`, plus `retry` more failures `delay_before_retry` apart; a
//! connect that gets no answer adds `connect_timeout` per attempt; a server
//! that is down is checked at least every `delay_loop` and is up after one
//! success. The margin is 1 s (the daemon's timers are exact; the rest is
//! scheduling on a loaded machine). Skipped under qemu-user
//! (`KEEPVIP_QEMU=1`).

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_keepvip");
const STARTUP: &str = keepvip::daemon::STARTUP_COMPLETE;

fn skip() -> bool {
    if std::env::var("KEEPVIP_QEMU").as_deref() == Ok("1") {
        println!("skipped: KEEPVIP_QEMU=1 (namespaces and spawned binaries need a real kernel)");
        return true;
    }
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "the lvs_netns tests need root (network namespaces): run `sudo -E cargo test --test lvs_netns`"
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
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Lab {
    base: String,
    dir: PathBuf,
    children: Vec<Child>,
    keepvip: Option<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut k) = self.keepvip.take() {
            let _ = k.kill();
            let _ = k.wait();
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in ["lb", "be1", "be2", "sw", "cl"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("{}-{n}", self.base)])
                .output();
        }
        if std::thread::panicking() {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let base = format!("kvl-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&base);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            base: base.clone(),
            dir,
            children: Vec::new(),
            keepvip: None,
        };
        for n in ["lb", "be1", "be2", "sw"] {
            let ns = lab.ns(n);
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
            sh("ip", &["netns", "add", &ns]);
            sh("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        }
        let sw = lab.ns("sw");
        sh("ip", &["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        sh("ip", &["-n", &sw, "link", "set", "br0", "up"]);
        // The front (VRRP) side: a veth whose far end stays alone in sw.
        let lb = lab.ns("lb");
        sh(
            "ip",
            &[
                "-n", &lb, "link", "add", "eth0", "type", "veth", "peer", "name", "f0", "netns",
                &sw,
            ],
        );
        sh("ip", &["-n", &sw, "link", "set", "f0", "up"]);
        sh(
            "ip",
            &["-n", &lb, "addr", "add", "192.0.2.1/24", "dev", "eth0"],
        );
        sh("ip", &["-n", &lb, "link", "set", "eth0", "up"]);
        // The back side: director and both backends on br0.
        for (n, ifname, port, addr) in [
            ("lb", "eth1", "p0", "198.51.100.1/24"),
            ("be1", "eth0", "p1", "198.51.100.11/24"),
            ("be2", "eth0", "p2", "198.51.100.12/24"),
        ] {
            let ns = lab.ns(n);
            sh(
                "ip",
                &[
                    "-n", &ns, "link", "add", ifname, "type", "veth", "peer", "name", port,
                    "netns", &sw,
                ],
            );
            sh("ip", &["-n", &sw, "link", "set", port, "master", "br0"]);
            sh("ip", &["-n", &sw, "link", "set", port, "up"]);
            sh("ip", &["-n", &ns, "addr", "add", addr, "dev", ifname]);
            sh("ip", &["-n", &ns, "link", "set", ifname, "up"]);
        }
        lab
    }

    fn ns(&self, n: &str) -> String {
        format!("{}-{n}", self.base)
    }

    /// The client side of the IPVS part: namespace `cl` joins the front
    /// link (a bridge in `sw` with lb's eth0) with the addresses
    /// [`CLIENTS`]; the backends route back through the director (NAT:
    /// 198.51.100.1), which forwards.
    fn add_client(&self) {
        let (sw, cl) = (self.ns("sw"), self.ns("cl"));
        let _ = Command::new("ip").args(["netns", "del", &cl]).output();
        sh("ip", &["netns", "add", &cl]);
        sh("ip", &["-n", &cl, "link", "set", "lo", "up"]);
        sh("ip", &["-n", &sw, "link", "add", "br1", "type", "bridge"]);
        sh("ip", &["-n", &sw, "link", "set", "br1", "up"]);
        sh("ip", &["-n", &sw, "link", "set", "f0", "master", "br1"]);
        sh(
            "ip",
            &[
                "-n", &cl, "link", "add", "eth0", "type", "veth", "peer", "name", "c0", "netns",
                &sw,
            ],
        );
        sh("ip", &["-n", &sw, "link", "set", "c0", "master", "br1"]);
        sh("ip", &["-n", &sw, "link", "set", "c0", "up"]);
        for a in CLIENTS {
            sh(
                "ip",
                &["-n", &cl, "addr", "add", &format!("{a}/24"), "dev", "eth0"],
            );
        }
        sh("ip", &["-n", &cl, "link", "set", "eth0", "up"]);
        for be in ["be1", "be2"] {
            sh(
                "ip",
                &[
                    "-n",
                    &self.ns(be),
                    "route",
                    "add",
                    "default",
                    "via",
                    "198.51.100.1",
                ],
            );
        }
        sh(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns("lb"),
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ],
        );
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.join(f)
    }

    /// Starts `args` in namespace `n`; returns its index in `children`.
    fn spawn(&mut self, n: &str, args: &[&str], log: &str) -> usize {
        let out = fs::File::create(self.path(log)).unwrap();
        let err = out.try_clone().unwrap();
        let c = Command::new("ip")
            .args(["netns", "exec", &self.ns(n)])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn");
        self.children.push(c);
        self.children.len() - 1
    }

    /// Kills child `i` by its PID (SIGKILL) and reaps it.
    fn kill(&mut self, i: usize) {
        let c = &mut self.children[i];
        let _ = c.kill();
        let _ = c.wait();
    }

    /// A TCP listener on ADDR:PORT in namespace `n` (accepts and closes).
    fn tcp_listener(&mut self, n: &str, addr: &str, port: u16) -> usize {
        let code = format!(
            "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('{addr}',{port}))\ns.listen(64)\nwhile True:\n  c,_=s.accept()\n  c.close()\n"
        );
        self.python_listener(n, addr, port, &code)
    }

    /// A TCP listener on ADDR:PORT in namespace `n` that answers every
    /// connection with `banner` (after reading what the client sent, for
    /// up to 1 s, so a client's request is not answered with a RST).
    fn tcp_banner_listener(&mut self, n: &str, addr: &str, port: u16, banner: &str) -> usize {
        let code = format!(
            "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('{addr}',{port}))\ns.listen(64)\nwhile True:\n  c,_=s.accept()\n  c.settimeout(1)\n  try:\n    c.recv(4096)\n    c.sendall(b'{banner}\\n')\n  except OSError:\n    pass\n  c.close()\n"
        );
        self.python_listener(n, addr, port, &code)
    }

    fn python_listener(&mut self, n: &str, addr: &str, port: u16, code: &str) -> usize {
        let i = self.spawn(n, &["python3", "-c", code], &format!("tcp-{port}.log"));
        let ns = self.ns(n);
        assert!(
            wait_until(Duration::from_secs(5), || {
                let o = Command::new("ip")
                    .args(["netns", "exec", &ns, "ss", "-Hltn"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).contains(&format!("{addr}:{port}"))
            }),
            "TCP listener did not come up"
        );
        i
    }

    fn http_server(&mut self, n: &str, addr: &str, port: u16, dir: &str) -> usize {
        let p = port.to_string();
        let i = self.spawn(
            n,
            &[
                "python3",
                "-m",
                "http.server",
                "--bind",
                addr,
                "--directory",
                dir,
                &p,
            ],
            &format!("http-{port}.log"),
        );
        let ns = self.ns(n);
        assert!(
            wait_until(Duration::from_secs(5), || {
                let o = Command::new("ip")
                    .args(["netns", "exec", &ns, "ss", "-Hltn"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).contains(&format!("{addr}:{port}"))
            }),
            "http.server did not come up"
        );
        i
    }

    fn start_keepvip(&mut self, conf: &str) {
        self.start_keepvip_with(conf, &[]);
    }

    /// Starts keepvip in `lb`, behind `prefix` (e.g. strace and its options).
    fn start_keepvip_with(&mut self, conf: &str, prefix: &[&str]) {
        fs::write(self.path("keepvip.conf"), conf).unwrap();
        let file = self.path("keepvip.conf");
        self.start_keepvip_file(&file, prefix);
    }

    /// Starts keepvip in `lb` on the configuration file `file`.
    fn start_keepvip_file(&mut self, file: &std::path::Path, prefix: &[&str]) {
        let log = fs::File::create(self.path("keepvip.log")).unwrap();
        let mut cmd = Command::new("ip");
        // Debug builds: an allocation after start-up prints its backtrace
        // into the log (src/sys/alloc.rs); a value set by the caller wins.
        if std::env::var_os("KEEPVIP_ALLOC_TRAP").is_none() {
            cmd.env("KEEPVIP_ALLOC_TRAP", "log");
        }
        let c = cmd
            .args(["netns", "exec", &self.ns("lb")])
            .args(prefix)
            .args([BIN, "-n", "-l", "-D", "-f"])
            .arg(file)
            .arg("-p")
            .arg(self.path("keepvip.pid"))
            .arg("--dump-prefix")
            .arg(self.path("keepvip"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn keepvip");
        self.keepvip = Some(c);
        assert!(
            self.wait_log(STARTUP, Duration::from_secs(10)).is_some(),
            "keepvip did not start:\n{}",
            self.log()
        );
    }

    fn log(&self) -> String {
        fs::read_to_string(self.path("keepvip.log")).unwrap_or_default()
    }

    /// Waits for `needle` in the log (after the lines already there when
    /// `after` lines were counted); returns when it was seen.
    fn wait_log_after(&self, after: usize, needle: &str, timeout: Duration) -> Option<Instant> {
        let mut seen = None;
        wait_until(timeout, || {
            let l = self.log();
            if l.lines().skip(after).any(|x| x.contains(needle)) {
                seen = Some(Instant::now());
                true
            } else {
                false
            }
        });
        seen
    }

    fn wait_log(&self, needle: &str, timeout: Duration) -> Option<Instant> {
        self.wait_log_after(0, needle, timeout)
    }

    fn lines(&self) -> usize {
        self.log().lines().count()
    }

    fn status(&self) -> String {
        let out = Command::new(BIN)
            .arg("status")
            .arg("-p")
            .arg(self.path("keepvip.pid"))
            .output()
            .expect("keepvip status");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `keepvip status --json`.
    fn status_json(&self) -> String {
        sh(
            BIN,
            &[
                "status",
                "--json",
                "-p",
                self.path("keepvip.pid").to_str().unwrap(),
            ],
        )
    }

    /// Asserts that keepvip has not allocated since its start-up: the
    /// table's `Heap allocations` line (always there) and, when the
    /// configuration has a vrrp_instance, `keepvip status --json`. Returns
    /// the start-up figures (count, bytes).
    fn assert_no_allocs(&self, what: &str) -> (u64, u64) {
        let t = self.status();
        let line = t
            .lines()
            .find(|l| l.starts_with("Heap allocations: "))
            .unwrap_or_else(|| panic!("no 'Heap allocations' line in the table:\n{t}"));
        let n = alloc_numbers(line);
        assert!(
            n[0] == 0 && n[1] == 0,
            "{what}: heap allocations after start-up: {line}\n{}",
            self.log()
        );
        let j = self.status_json();
        if j.trim() != "[]" {
            assert!(
                j.contains("\"allocations\":{\"since_startup\":{\"count\":0,\"bytes\":0}"),
                "{what}: {j}"
            );
        }
        (n[2], n[3])
    }

    /// Stops keepvip with SIGTERM (by the pid in its pid file: under
    /// strace the child is strace) and waits for it. Its stop line must
    /// say that it allocated nothing since start-up, and no allocation
    /// trap may have fired (after the stop line, or in a forked child).
    fn stop_keepvip(&mut self) -> String {
        let log = self.stop_keepvip_unchecked();
        if let Some(run) = log.rfind(STARTUP).map(|i| &log[i..]) {
            let line = run
                .lines()
                .rev()
                .find(|l| l.contains("] Heap allocations: "))
                .unwrap_or_else(|| panic!("no 'Heap allocations' line at stop:\n{run}"));
            let line = &line[line.find("Heap allocations: ").unwrap()..];
            let n = alloc_numbers(line);
            assert!(
                n[0] == 0 && n[1] == 0 && !run.contains("KEEPVIP_ALLOC_TRAP"),
                "heap allocations after start-up: {line}\n{run}"
            );
        }
        log
    }

    fn stop_keepvip_unchecked(&mut self) -> String {
        if let Some(mut k) = self.keepvip.take() {
            let pid = fs::read_to_string(self.path("keepvip.pid"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(k.id());
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .output();
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if let Ok(Some(_)) = k.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = k.kill();
            let _ = k.wait();
        }
        self.log()
    }
}

/// The four numbers of `Heap allocations: N (B bytes) since start-up, M (C
/// bytes) during start-up`.
fn alloc_numbers(line: &str) -> [u64; 4] {
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        n.len() == 4 && line.contains("since start-up") && line.ends_with("during start-up"),
        "{line}"
    );
    [n[0], n[1], n[2], n[3]]
}

const VRRP: &str = "global_defs {
    router_id lb1
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24 dev eth0
    }
}
";

/// Slack on the bounds below: the daemon's timers are exact, the rest is
/// scheduling and the test's log polling on a loaded machine.
const MARGIN_S: f64 = 1.0;

/// keepalived's bound for a server whose service stops while the host
/// stays up (every connect is refused at once with a RST): its next check
/// comes within `delay_loop`, then `retry` more failures
/// `delay_before_retry` apart mark it down. Plus [`MARGIN_S`].
fn bound_refused(delay_loop: f64, retry: f64, dbr: f64) -> Duration {
    Duration::from_secs_f64(delay_loop + retry * dbr + MARGIN_S)
}

/// The same when no connect gets an answer: each of the `retry + 1`
/// attempts ends at `connect_timeout`. Plus [`MARGIN_S`].
fn bound_timeout(delay_loop: f64, timeout: f64, retry: f64, dbr: f64) -> Duration {
    Duration::from_secs_f64(delay_loop + (retry + 1.0) * timeout + retry * dbr + MARGIN_S)
}

/// The client addresses of [`Lab::add_client`] (persistence is per client
/// address: round robin shows across addresses).
const CLIENTS: [&str; 4] = ["192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14"];

fn ipvs_available(ns: &str) -> Result<u16, String> {
    keepvip::sys::netns::run_in_netns(ns, || match keepvip::sys::ipvs::IpvsSocket::open() {
        Ok(s) => Ok(s.family()),
        Err(keepvip::sys::ipvs::OpenError::NoFamily) => Err(ipvs_absence(
            "no \"IPVS\" generic-netlink family (ip_vs not built in)",
        )),
        Err(keepvip::sys::ipvs::OpenError::Io(e)) => Err(format!("generic netlink: {e}")),
    })
    .map_err(|e| format!("cannot enter the namespace: {e}"))?
}

#[test]
fn tcp_and_http_checks_follow_real_backends() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("th");
    let www = lab.path("www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("health"), "ok from backend 2\n").unwrap();
    let tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
    let _http = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());

    // The digest the way keepalived's genhash computes it (when installed),
    // and independently: the MD5 of the body.
    let body_md5 = format!("{:x}", md5_of(b"ok from backend 2\n"));
    let genhash = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns("lb"),
            "genhash",
            "-s",
            "198.51.100.12",
            "-p",
            "80",
            "-u",
            "/health",
        ])
        .output();
    match genhash {
        Ok(o) if o.status.success() => {
            let out = String::from_utf8_lossy(&o.stdout).to_lowercase();
            assert!(
                out.contains(&body_md5),
                "genhash and keepvip disagree on the digest: {out} vs {body_md5}"
            );
            println!("genhash: MD5SUM = {body_md5}");
        }
        _ => println!("genhash not installed: digest = MD5 of the body = {body_md5}"),
    }

    let conf = format!(
        "{VRRP}virtual_server 192.0.2.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    persistence_timeout 50
    protocol TCP
    real_server 198.51.100.11 8080 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 1
            warmup 0
        }}
    }}
    real_server 198.51.100.12 80 {{
        weight 1
        inhibit_on_failure
        HTTP_GET {{
            url {{
                path /health
                status_code 200
                digest {body_md5}
            }}
            connect_timeout 1
            retry 1
            delay_before_retry 1
            warmup 0
        }}
    }}
}}
"
    );
    lab.start_keepvip(&conf);
    let t = Duration::from_secs(10);
    assert!(
        lab.wait_log("TCP connection to [198.51.100.11]:tcp:8080 success.", t)
            .is_some(),
        "{}",
        lab.log()
    );
    assert!(
        lab.wait_log(
            "Remote Web server [198.51.100.12]:tcp:80 succeed on service.",
            t
        )
        .is_some(),
        "{}",
        lab.log()
    );
    let ipvs = ipvs_available(&lab.ns("lb"));
    match &ipvs {
        Err(why) => {
            assert!(
                lab.log().contains(keepvip::daemon::NO_IPVS),
                "{}",
                lab.log()
            );
            println!(
                "skipped the IPVS part: {why}; keepvip runs the health checkers only (logged at start)"
            );
        }
        Ok(id) => println!("IPVS generic netlink family {id}: checking the kernel table too"),
    }
    let st = lab.status();
    println!("keepvip status:\n{st}");
    assert!(st.contains("REAL SERVER"), "{st}");
    assert!(st.contains("[198.51.100.11]:tcp:8080"), "{st}");

    // The TCP service stops (killed by PID).
    let n = lab.lines();
    let t0 = Instant::now();
    lab.kill(tcp);
    // delay_loop 1, retry 1, delay_before_retry 1; the listener is killed:
    // refused connects.
    let b = bound_refused(1.0, 1.0, 1.0);
    let down = lab
        .wait_log_after(
            n,
            "Removing service [198.51.100.11]:tcp:8080 from VS [192.0.2.100]:tcp:80",
            b,
        )
        .unwrap_or_else(|| panic!("not marked down within {b:?}:\n{}", lab.log()));
    println!(
        "TCP backend killed: marked down after {:?} (bound {b:?})",
        down - t0
    );
    assert!(
        lab.log()
            .contains("TCP_CHECK on service [198.51.100.11]:tcp:8080 failed after 1 retries.")
    );
    assert!(lab.status().contains("down"));
    // It returns.
    let n = lab.lines();
    let t1 = Instant::now();
    let _tcp2 = lab.tcp_listener("be1", "198.51.100.11", 8080);
    let up = lab
        .wait_log_after(
            n,
            "Adding service [198.51.100.11]:tcp:8080 to VS [192.0.2.100]:tcp:80",
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("not back up:\n{}", lab.log()));
    println!("TCP backend back: marked up after {:?}", up - t1);

    // HTTP: the body changes (digest mismatch), then the file goes (404).
    for (what, change) in [("digest", 0), ("status_code", 1)] {
        let n = lab.lines();
        let t0 = Instant::now();
        if change == 0 {
            fs::write(www.join("health"), "something else\n").unwrap();
        } else {
            fs::remove_file(www.join("health")).unwrap();
        }
        let down = lab
            .wait_log_after(
                n,
                "Disabling service [198.51.100.12]:tcp:80 of VS [192.0.2.100]:tcp:80",
                b,
            )
            .unwrap_or_else(|| panic!("{what}: not marked down within {b:?}:\n{}", lab.log()));
        println!(
            "HTTP {what} wrong: marked down (inhibited, weight 0) after {:?}",
            down - t0
        );
        let n = lab.lines();
        let t1 = Instant::now();
        fs::write(www.join("health"), "ok from backend 2\n").unwrap();
        let up = lab
            .wait_log_after(
                n,
                "Enabling service [198.51.100.12]:tcp:80 of VS [192.0.2.100]:tcp:80",
                b,
            )
            .unwrap_or_else(|| panic!("{what}: not back up:\n{}", lab.log()));
        println!("HTTP {what} right again: marked up after {:?}", up - t1);
    }
    assert!(
        lab.log()
            .contains("HTTP_CHECK on service [198.51.100.12]:tcp:80 failed after 1 retries.")
    );

    if ipvs.is_ok() {
        let table = sh(
            "ip",
            &["netns", "exec", &lab.ns("lb"), "cat", "/proc/net/ip_vs"],
        );
        assert!(table.contains("C0000264:0050"), "{table}");
    }
    let log = lab.stop_keepvip();
    assert!(
        log.contains("Shutting down service [198.51.100.11]:tcp:8080 from VS [192.0.2.100]:tcp:80"),
        "{log}"
    );
}

#[test]
fn misc_check_scripts_and_notify() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("mc");
    let exit_file = lab.path("exit");
    let events = lab.path("events");
    fs::write(&exit_file, "0\n").unwrap();
    let script = lab.path("check.sh");
    fs::write(
        &script,
        format!("#!/bin/sh\nexit $(cat {})\n", exit_file.display()),
    )
    .unwrap();
    let notify = lab.path("notify.sh");
    fs::write(
        &notify,
        format!("#!/bin/sh\necho \"$1 $2\" >> {}\n", events.display()),
    )
    .unwrap();
    for f in [&script, &notify] {
        sh("chmod", &["755", f.to_str().unwrap()]);
    }
    let conf = format!(
        "{VRRP}virtual_server 192.0.2.100 80 {{
    delay_loop 1
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 198.51.100.11 80 {{
        weight 3
        notify_up \"{n} UP 198.51.100.11\"
        notify_down \"{n} DOWN 198.51.100.11\"
        MISC_CHECK {{
            misc_path \"{s} 198.51.100.11\"
            misc_timeout 2
            misc_dynamic
            warmup 0
        }}
    }}
}}
",
        n = notify.display(),
        s = script.display()
    );
    lab.start_keepvip(&conf);
    let t = Duration::from_secs(6);
    let rs = "[198.51.100.11]:tcp:80 VS [192.0.2.100]:tcp:80";
    let by = format!("by [{}]", script.display());
    assert!(
        lab.wait_log(&format!("Misc check for [{rs}] {by} succeeded."), t)
            .is_some(),
        "{}",
        lab.log()
    );
    // Exit 1: down, notify_down runs.
    let n = lab.lines();
    let t0 = Instant::now();
    fs::write(&exit_file, "1\n").unwrap();
    let down = lab
        .wait_log_after(
            n,
            "Removing service [198.51.100.11]:tcp:80 from VS [192.0.2.100]:tcp:80",
            t,
        )
        .unwrap_or_else(|| panic!("{}", lab.log()));
    println!("MISC_CHECK exit 1: marked down after {:?}", down - t0);
    assert!(lab.log().contains(&format!(
        "Misc check for [{rs}] {by} failed (exited with status 1)."
    )));
    assert!(
        wait_until(t, || fs::read_to_string(&events)
            .unwrap_or_default()
            .contains("DOWN 198.51.100.11")),
        "notify_down did not run"
    );
    // Exit 12 with misc_dynamic: up again, weight 10.
    let n = lab.lines();
    fs::write(&exit_file, "12\n").unwrap();
    assert!(
        lab.wait_log_after(
            n,
            "Changing weight from 3 to 10 for inactive service [198.51.100.11]:tcp:80",
            t
        )
        .is_some(),
        "{}",
        lab.log()
    );
    assert!(
        lab.wait_log_after(n, "Adding service [198.51.100.11]:tcp:80", t)
            .is_some(),
        "{}",
        lab.log()
    );
    assert!(
        wait_until(t, || fs::read_to_string(&events)
            .unwrap_or_default()
            .contains("UP 198.51.100.11")),
        "notify_up did not run"
    );
    let st = lab.status();
    assert!(st.contains("MISC_CHECK"), "{st}");
    // The SIGUSR1 data dump has keepalived's LVS sections.
    let pid = fs::read_to_string(lab.path("keepvip.pid")).unwrap();
    sh("kill", &["-USR1", pid.trim()]);
    let data = lab.path("keepvip.data");
    assert!(
        wait_until(Duration::from_secs(3), || fs::read_to_string(&data)
            .is_ok_and(|d| d.contains("------< Health checkers >------"))),
        "no data dump"
    );
    let d = fs::read_to_string(&data).unwrap();
    for want in [
        "------< LVS Topology >------",
        " VS VIP = 192.0.2.100, VPORT = 80",
        "   RIP = 198.51.100.11, RPORT = 80, WEIGHT = 3 EFF WEIGHT = 10",
        "   Keepalive method = MISC_CHECK",
        "   alive = 1",
    ] {
        assert!(d.contains(want), "{want:?} missing in:\n{d}");
    }
    let log = lab.stop_keepvip();
    assert!(log.contains("Stopped"), "{log}");
}

#[test]
fn no_heap_growth_with_health_checks_under_strace() {
    if skip() {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed for this test: apt-get install strace");
    }
    let mut lab = Lab::new("st");
    let www = lab.path("www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("index.html"), "hello\n").unwrap();
    let mut tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
    let _http = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());
    let conf = format!(
        "{VRRP}virtual_server 192.0.2.100 80 {{
    delay_loop 0.3
    lb_algo rr
    lb_kind NAT
    protocol TCP
    sorry_server 198.51.100.250 80
    real_server 198.51.100.11 8080 {{
        TCP_CHECK {{
            connect_timeout 0.5
            retry 0
            warmup 0
        }}
    }}
    real_server 198.51.100.12 80 {{
        HTTP_GET {{
            url {{
                path /index.html
                digest {}
            }}
            connect_timeout 0.5
            warmup 0
        }}
    }}
}}
",
        format_args!("{:x}", md5_of(b"hello\n"))
    );
    let trace = lab.path("keepvip.strace");
    let t = trace.to_str().unwrap().to_string();
    lab.start_keepvip_with(
        &conf,
        &[
            "strace",
            "-qq",
            "-s",
            "200",
            "-e",
            "trace=brk,mmap,munmap,mremap,write",
            "-o",
            &t,
        ],
    );
    for _ in 0..2 {
        let n = lab.lines();
        lab.kill(tcp);
        assert!(
            lab.wait_log_after(
                n,
                "Removing service [198.51.100.11]:tcp:8080",
                Duration::from_secs(5)
            )
            .is_some(),
            "{}",
            lab.log()
        );
        let n = lab.lines();
        tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
        assert!(
            lab.wait_log_after(
                n,
                "Adding service [198.51.100.11]:tcp:8080",
                Duration::from_secs(5)
            )
            .is_some(),
            "{}",
            lab.log()
        );
    }
    // Let the HTTP checker run some rounds too, and answer a status query.
    std::thread::sleep(Duration::from_secs(1));
    assert!(lab.status().contains("HTTP_GET"));
    // Counted in-process too (the stop line is checked by stop_keepvip).
    lab.assert_no_allocs("checkers under strace");
    let log = lab.stop_keepvip();
    assert!(log.contains("Stopped"), "{log}");
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
    let growth: Vec<&&str> = lines[start..stop]
        .iter()
        .filter(|l| {
            ["brk(", "mmap(", "munmap(", "mremap("]
                .iter()
                .any(|s| l.contains(s))
        })
        .collect();
    let writes = lines[start..stop]
        .iter()
        .filter(|l| l.contains("write("))
        .count();
    println!(
        "strace: {writes} log writes and {} brk/mmap/munmap/mremap calls between start-up and SIGTERM, over 2 backend flaps and HTTP rounds",
        growth.len()
    );
    assert!(writes > 10, "too little activity traced");
    assert!(
        growth.is_empty(),
        "heap/mapping changes after start-up:\n{growth:#?}"
    );
}

#[test]
fn sighup_keeps_the_state_of_unchanged_checkers() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("hup");
    let www = lab.path("www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("index.html"), "x\n").unwrap();
    let tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
    let _http = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());
    let vs = |with_http: bool| {
        format!(
            "{VRRP}virtual_server 192.0.2.100 80 {{
    delay_loop 0.5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.11 8080 {{
        TCP_CHECK {{
            connect_timeout 0.5
            retry 0
            warmup 0
        }}
    }}
{}}}
",
            if with_http {
                "    real_server 198.51.100.12 80 {\n        HTTP_GET {\n            url {\n                path /\n            }\n            warmup 0\n        }\n    }\n"
            } else {
                ""
            }
        )
    };
    lab.start_keepvip(&vs(true));
    let t = Duration::from_secs(6);
    assert!(
        lab.wait_log("TCP connection to [198.51.100.11]:tcp:8080 success.", t)
            .is_some(),
        "{}",
        lab.log()
    );
    assert!(
        lab.wait_log("Remote Web server [198.51.100.12]:tcp:80 succeed", t)
            .is_some(),
        "{}",
        lab.log()
    );
    fs::write(lab.path("keepvip.conf"), vs(false)).unwrap();
    let n = lab.lines();
    let pid = fs::read_to_string(lab.path("keepvip.pid")).unwrap();
    sh("kill", &["-HUP", pid.trim()]);
    assert!(
        lab.wait_log_after(n, "Configuration reloaded", t).is_some(),
        "{}",
        lab.log()
    );
    assert!(
        lab.wait_log_after(n, "service [198.51.100.12]:tcp:80 no longer exist", t)
            .is_some(),
        "{}",
        lab.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    let after: Vec<String> = lab.log().lines().skip(n).map(str::to_string).collect();
    assert!(
        !after
            .iter()
            .any(|l| l.contains("TCP connection to") || l.contains("Activating")),
        "the unchanged checker started over: {after:#?}"
    );
    // It still works: the server goes down when its listener dies.
    let n = lab.lines();
    lab.kill(tcp);
    assert!(
        lab.wait_log_after(n, "Removing service [198.51.100.11]:tcp:8080", t)
            .is_some(),
        "{}",
        lab.log()
    );
    assert!(lab.status().contains("198.51.100.11"));
    assert!(!lab.status().contains("198.51.100.12"));
    lab.assert_no_allocs("after a reload removing a real server");
}

/// The no-allocation rule with the LVS side, counted in-process on the
/// real daemon (src/sys/alloc.rs: `keepvip status`, `--json` and the stop
/// line): keepvip starts with VRRP only, a SIGHUP adds the first
/// virtual_server (TCP_CHECK, HTTP_GET with a digest, MISC_CHECK,
/// notify_up/down, quorum_up/down, a sorry server; `modprobe ip_vs` runs
/// where the kernel has no IPVS), then every checker goes down and up, all
/// at once too (quorum lost and gained, the sorry server in and out), the
/// dumps and status are asked for, a SIGHUP removes a real server and a last
/// one removes the virtual server. Zero allocations after start-up.
#[test]
fn zero_heap_allocations_with_checkers_and_a_reload_adding_the_first_virtual_server() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("alloc");
    let www = lab.path("www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("index.html"), "hello\n").unwrap();
    let mut tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
    let mut http = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());
    let exit_file = lab.path("exit");
    let events = lab.path("events");
    fs::write(&exit_file, "0\n").unwrap();
    let script = lab.path("check.sh");
    fs::write(
        &script,
        format!("#!/bin/sh\nexit $(cat {})\n", exit_file.display()),
    )
    .unwrap();
    let notify = lab.path("notify.sh");
    fs::write(
        &notify,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", events.display()),
    )
    .unwrap();
    for f in [&script, &notify] {
        sh("chmod", &["755", f.to_str().unwrap()]);
    }
    let (n, sc) = (notify.display(), script.display());
    let http_rs = format!(
        "    real_server 198.51.100.12 80 {{\n        HTTP_GET {{\n            url {{\n                path /index.html\n                digest {:x}\n            }}\n            connect_timeout 0.5\n            warmup 0\n        }}\n    }}\n",
        md5_of(b"hello\n")
    );
    let with_vs = |http: bool| {
        format!(
            "{VRRP}virtual_server 192.0.2.100 80 {{
    delay_loop 0.3
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum_up \"{n} quorum up\"
    quorum_down \"{n} quorum down\"
    sorry_server 198.51.100.250 80
    real_server 198.51.100.11 8080 {{
        notify_up \"{n} up tcp\"
        notify_down \"{n} down tcp\"
        TCP_CHECK {{
            connect_timeout 0.5
            retry 0
            warmup 0
        }}
    }}
{}    real_server 198.51.100.11 81 {{
        MISC_CHECK {{
            misc_path \"{sc}\"
            misc_timeout 2
            warmup 0
        }}
    }}
}}
",
            if http { http_rs.as_str() } else { "" }
        )
    };
    lab.start_keepvip(VRRP);
    assert!(
        lab.wait_log("(VI_1) Entering MASTER STATE", Duration::from_secs(5))
            .is_some(),
        "{}",
        lab.log()
    );
    let (startup_n, startup_bytes) = lab.assert_no_allocs("VRRP only");
    let pid = fs::read_to_string(lab.path("keepvip.pid"))
        .unwrap()
        .trim()
        .to_string();
    let t = Duration::from_secs(6);
    let hup = |lab: &Lab, conf: &str, want: &[&str]| {
        fs::write(lab.path("keepvip.conf"), conf).unwrap();
        let n = lab.lines();
        sh("kill", &["-HUP", &pid]);
        for w in want {
            assert!(lab.wait_log_after(n, w, t).is_some(), "{w}\n{}", lab.log());
        }
    };
    let mut steps = Vec::new();
    // SIGHUP: the first virtual server.
    hup(
        &lab,
        &with_vs(true),
        &[
            "Configuration reloaded",
            "TCP connection to [198.51.100.11]:tcp:8080 success.",
            "Remote Web server [198.51.100.12]:tcp:80 succeed on service.",
            "[198.51.100.11]:tcp:81 VS [192.0.2.100]:tcp:80] by [",
        ],
    );
    steps.push("SIGHUP adding the first virtual_server".to_string());
    let wait_after = |lab: &Lab, n: usize, w: &str| {
        assert!(lab.wait_log_after(n, w, t).is_some(), "{w}\n{}", lab.log());
    };
    // Each checker down and up.
    for round in 0..2 {
        let n = lab.lines();
        lab.kill(tcp);
        wait_after(&lab, n, "Removing service [198.51.100.11]:tcp:8080");
        let n = lab.lines();
        tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
        wait_after(&lab, n, "Adding service [198.51.100.11]:tcp:8080");
        steps.push(format!("TCP_CHECK down and up ({})", round + 1));
    }
    let n = lab.lines();
    lab.kill(http);
    wait_after(&lab, n, "Removing service [198.51.100.12]:tcp:80");
    let n = lab.lines();
    http = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());
    wait_after(&lab, n, "Adding service [198.51.100.12]:tcp:80");
    steps.push("HTTP_GET down and up".to_string());
    let n = lab.lines();
    fs::write(&exit_file, "1\n").unwrap();
    wait_after(&lab, n, "Removing service [198.51.100.11]:tcp:81");
    let n = lab.lines();
    fs::write(&exit_file, "0\n").unwrap();
    wait_after(&lab, n, "Adding service [198.51.100.11]:tcp:81");
    steps.push("MISC_CHECK down and up".to_string());
    // All at once: quorum lost (sorry server in), then gained.
    let n = lab.lines();
    lab.kill(tcp);
    lab.kill(http);
    fs::write(&exit_file, "1\n").unwrap();
    wait_after(&lab, n, "Lost quorum");
    let n = lab.lines();
    tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
    http = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());
    fs::write(&exit_file, "0\n").unwrap();
    wait_after(&lab, n, "Gained quorum");
    assert!(
        wait_until(t, || {
            let e = fs::read_to_string(&events).unwrap_or_default();
            e.contains("quorum down") && e.contains("quorum up") && e.contains("down tcp")
        }),
        "{}",
        fs::read_to_string(&events).unwrap_or_default()
    );
    steps.push("every server down at once (quorum lost, sorry server) and up".to_string());
    // Status and dumps, with the LVS parts.
    for _ in 0..3 {
        assert!(lab.status().contains("MISC_CHECK"));
        lab.status_json();
    }
    for (sig, f) in [
        ("-USR1".to_string(), "keepvip.data"),
        ("-USR2".to_string(), "keepvip.stats"),
        (format!("-{}", libc::SIGRTMIN() + 2), "keepvip.json"),
    ] {
        let _ = fs::remove_file(lab.path(f));
        sh("kill", &[&sig, &pid]);
        assert!(
            wait_until(Duration::from_secs(3), || fs::metadata(lab.path(f))
                .is_ok_and(|m| m.len() > 0)),
            "no {f}"
        );
    }
    steps.push("3 table and 3 JSON status queries, SIGUSR1/SIGUSR2/SIGRTMIN+2 dumps".to_string());
    // SIGHUP: one real server less, then no virtual server at all.
    hup(
        &lab,
        &with_vs(false),
        &[
            "Configuration reloaded",
            "service [198.51.100.12]:tcp:80 no longer exist",
        ],
    );
    steps.push("SIGHUP removing a real server".to_string());
    hup(
        &lab,
        VRRP,
        &["Configuration reloaded", "Removing Virtual Server"],
    );
    steps.push("SIGHUP removing the virtual server".to_string());
    hup(
        &lab,
        &with_vs(true),
        &["Configuration reloaded", "TCP connection to"],
    );
    steps.push("SIGHUP adding it again".to_string());
    std::thread::sleep(Duration::from_millis(700));
    lab.assert_no_allocs("before SIGTERM");
    let log = lab.stop_keepvip();
    assert!(
        log.contains("Heap allocations: 0 (0 bytes) since start-up"),
        "{log}"
    );
    let _ = (tcp, http);
    println!(
        "in-process count (lvs): 0 heap allocations after start-up ({startup_n} calls, {startup_bytes} bytes during start-up) over:\n  {}",
        steps.join("\n  ")
    );
}

#[test]
fn ha_suspend_follows_the_vrrp_state() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("ha");
    let _tcp = lab.tcp_listener("be1", "198.51.100.11", 8080);
    // A BACKUP alone on its link: MASTER after the master-down interval.
    let conf = "vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24 dev eth0
    }
}
virtual_server 192.0.2.100 80 {
    delay_loop 0.5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ha_suspend
    real_server 198.51.100.11 8080 {
        TCP_CHECK {
            connect_timeout 0.5
            warmup 0
        }
    }
}
";
    lab.start_keepvip(conf);
    let t = Duration::from_secs(8);
    let rs = "service [198.51.100.11]:tcp:8080 for VS [192.0.2.100]:tcp:80";
    let sus = lab
        .wait_log(&format!("Deactivating healthchecker for {rs}"), t)
        .unwrap_or_else(|| panic!("{}", lab.log()));
    let master = lab
        .wait_log("(VI_1) Entering MASTER STATE", t)
        .unwrap_or_else(|| panic!("{}", lab.log()));
    let log = lab.log();
    let before = &log[..log.find("Entering MASTER STATE").unwrap()];
    assert!(!before.contains("Activating"), "{log}");
    assert!(
        !before.contains("TCP connection to"),
        "probed while suspended:\n{log}"
    );
    assert!(
        lab.wait_log(&format!("Activating healthchecker for {rs}"), t)
            .is_some()
            && lab
                .wait_log("TCP connection to [198.51.100.11]:tcp:8080 success.", t)
                .is_some(),
        "{}",
        lab.log()
    );
    println!(
        "ha_suspend: checkers deactivated while BACKUP, MASTER {:?} later, then activated",
        master - sus
    );
    lab.assert_no_allocs("after ha_suspend and activation");
}

#[test]
fn unanswered_connects_time_out() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("to");
    // 198.51.100.99 does not exist: ARP gets no answer, the SYN never
    // leaves, and only connect_timeout ends each probe.
    let conf = format!(
        "{VRRP}virtual_server 192.0.2.100 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.99 80 {{
        TCP_CHECK {{
            connect_timeout 0.5
            retry 1
            delay_before_retry 0.5
            warmup 0
            log_all_failures
        }}
    }}
}}
"
    );
    let t0 = Instant::now();
    lab.start_keepvip(&conf);
    let b = bound_timeout(1.0, 0.5, 1.0, 0.5);
    let down = lab
        .wait_log(
            "Removing service [198.51.100.99]:tcp:80 from VS [192.0.2.100]:tcp:80",
            b + Duration::from_secs(1),
        )
        .unwrap_or_else(|| panic!("{}", lab.log()));
    println!(
        "unanswered server marked down {:?} after start (first probe 1 s after start)",
        down - t0
    );
    // At start one failure is enough; it took connect_timeout, not less.
    let log = lab.log();
    assert!(
        log.contains("TCP_CHECK on service [198.51.100.99]:tcp:80 failed."),
        "{log}"
    );
}

#[test]
fn ipvs_family_probe() {
    if skip() {
        return;
    }
    let lab = Lab::new("ip");
    match ipvs_available(&lab.ns("lb")) {
        Ok(id) => println!("IPVS generic netlink family id {id}"),
        Err(why) => println!(
            "skipped the IPVS part: {why}; the request sequences are covered against a fake IPVS (cargo test --lib daemon::lvs), the bytes by golden literals (wire::ipvs)"
        ),
    }
}

/// MD5 of `data` (the crate's own implementation).
fn md5_of(data: &[u8]) -> Hex {
    Hex(keepvip::wire::md5::md5(data))
}

struct Hex([u8; 16]);

impl std::fmt::LowerHex for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The repository's `config/lvs.conf` (the ArchWiki layout), run as it is.
const LVS_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/lvs.conf");

/// One checker's timing as `config/lvs.conf` configures it (read with
/// keepvip's parser, so the bounds follow the file).
#[derive(Clone, Copy, Debug)]
struct CheckTiming {
    delay_loop: f64,
    timeout: f64,
    retry: f64,
    dbr: f64,
}

fn lvs_conf_timing(rs_addr: &str) -> CheckTiming {
    use keepvip::config::{Config, Diagnostics, parse};
    use keepvip::sys::config_fs::FsSource;
    let addr: std::net::IpAddr = rs_addr.parse().unwrap();
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(move || {
            let mut cfg = Config::new_boxed();
            let mut d = Diagnostics::new();
            parse(&FsSource::new(), LVS_CONF, &mut cfg, &mut d);
            assert_eq!(d.errors, 0, "{LVS_CONF} does not parse");
            let c = cfg
                .lvs
                .checkers
                .iter()
                .find(|c| cfg.lvs.real_servers[usize::from(c.rs)].addr == addr)
                .unwrap_or_else(|| panic!("no checker for {addr} in {LVS_CONF}"));
            let s = |us: u64| us as f64 / 1e6;
            CheckTiming {
                delay_loop: s(c.delay_loop_us),
                timeout: s(c.connect_timeout_us),
                retry: f64::from(c.retry),
                dbr: s(c.delay_before_retry_us),
            }
        })
        .unwrap()
        .join()
        .unwrap()
}

/// Why this kernel has no IPVS, as precisely as the machine tells.
fn ipvs_absence(lookup: &str) -> String {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let modules = if !std::path::Path::new("/proc/modules").exists() {
        "and cannot load modules (no /proc/modules: CONFIG_MODULES not set)".to_string()
    } else {
        let dep =
            fs::read_to_string(format!("/lib/modules/{release}/modules.dep")).unwrap_or_default();
        if dep.contains("/ip_vs.ko") {
            "although modules.dep lists ip_vs (modprobe ip_vs failed?)".to_string()
        } else {
            format!("and has no ip_vs module (not in /lib/modules/{release}/modules.dep)")
        }
    };
    format!("kernel {release}: {lookup}, {modules}")
}

/// The IPVS table of namespace `ns` (`/proc/net/ip_vs`).
fn ipvs_table(ns: &str) -> String {
    sh("ip", &["netns", "exec", ns, "cat", "/proc/net/ip_vs"])
}

/// The IPVS part of `config/lvs.conf` on a kernel with IPVS: the table,
/// then a client in `cl` reaching both backends through the VIP, round
/// robin across client addresses (the file sets `persistence_timeout 50`:
/// one address keeps its backend).
fn ipvs_round_robin(lab: &Lab) {
    let lb = lab.ns("lb");
    assert!(
        lab.wait_log("(VI_1) Entering MASTER STATE", Duration::from_secs(10))
            .is_some(),
        "{}",
        lab.log()
    );
    // The service (192.0.2.100:80, rr, persistent) and both real servers
    // (NAT: "Masq").
    let mut table = String::new();
    let ok = wait_until(Duration::from_secs(5), || {
        table = ipvs_table(&lb);
        table.contains("TCP  C0000264:0050 rr persistent 50")
            && table.contains("-> C633640B:0050      Masq")
            && table.contains("-> C633640C:0050      Masq")
    });
    assert!(ok, "IPVS table of the MASTER:\n{table}");
    println!("IPVS table on the MASTER:\n{table}");
    let code = "import socket, sys
for src in sys.argv[1:]:
    s = socket.create_connection(('192.0.2.100', 80), timeout=3, source_address=(src, 0))
    s.sendall(b'GET /health HTTP/1.0\\r\\nHost: 192.0.2.100\\r\\n\\r\\n')
    data = b''
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    who = 'be1' if b'backend 1' in data else 'be2' if b'backend 2' in data else 'other'
    print(src, who, flush=True)
";
    let mut args = vec![
        "netns".to_string(),
        "exec".to_string(),
        lab.ns("cl"),
        "timeout".to_string(),
        "30".to_string(),
        "python3".to_string(),
        "-c".to_string(),
        code.to_string(),
    ];
    // Four client addresses, then the first one again.
    args.extend(CLIENTS.iter().map(|s| s.to_string()));
    args.push(CLIENTS[0].to_string());
    let out = Command::new("ip").args(&args).output().expect("client");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("client through the VIP:\n{text}");
    let who: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(who.len(), CLIENTS.len() + 1, "{text}");
    assert!(!who.contains(&"other"), "{text}");
    for w in who[..CLIENTS.len()].windows(2) {
        assert_ne!(w[0], w[1], "round robin alternates:\n{text}");
    }
    assert_eq!(
        who[CLIENTS.len()],
        who[0],
        "persistence keeps a client:\n{text}"
    );
}

#[test]
fn config_lvs_conf_runs_against_real_backends() {
    if skip() {
        return;
    }
    let tcp_t = lvs_conf_timing("198.51.100.11");
    let http_t = lvs_conf_timing("198.51.100.12");
    let mut lab = Lab::new("aw");
    lab.add_client();
    let www = lab.path("www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("health"), "ok from backend 2\n").unwrap();
    let tcp = lab.tcp_banner_listener("be1", "198.51.100.11", 80, "backend 1");
    let http = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());
    lab.start_keepvip_file(std::path::Path::new(LVS_CONF), &[]);
    // First checks: 1 s after start plus a random part of warmup (=
    // delay_loop).
    let first = Duration::from_secs_f64(1.0 + tcp_t.delay_loop.max(http_t.delay_loop) + 5.0);
    assert!(
        lab.wait_log("TCP connection to [198.51.100.11]:tcp:80 success.", first)
            .is_some(),
        "{}",
        lab.log()
    );
    assert!(
        lab.wait_log(
            "Remote Web server [198.51.100.12]:tcp:80 succeed on service.",
            first
        )
        .is_some(),
        "{}",
        lab.log()
    );

    let ipvs = ipvs_available(&lab.ns("lb"));
    match &ipvs {
        Ok(id) => {
            println!("IPVS generic netlink family {id}: checking the kernel table and a client");
            ipvs_round_robin(&lab);
        }
        Err(why) => {
            let log = lab.log();
            let said = log
                .lines()
                .find(|l| l.contains(keepvip::daemon::NO_IPVS))
                .unwrap_or_else(|| panic!("keepvip did not say that IPVS is missing:\n{log}"));
            println!(
                "skipped the IPVS part (rules in the kernel, a client in {} reaching both backends through 192.0.2.100:80 round robin): {}; keepvip said: {}",
                lab.ns("cl"),
                why,
                said.trim()
            );
        }
    }

    // Down and up for each checker: the service process itself is killed
    // (by PID) and started again.
    let t = tcp_t;
    let down_max = bound_refused(t.delay_loop, t.retry, t.dbr);
    let down_min = Duration::from_secs_f64((t.retry * t.dbr - 0.5).max(0.0));
    let up_max = Duration::from_secs_f64(t.delay_loop.max(t.dbr) + MARGIN_S);
    println!(
        "TCP_CHECK timing from {LVS_CONF}: delay_loop {} s, connect_timeout {} s, retry {}, delay_before_retry {} s; \
         the issue's bound delay_loop + connect_timeout = {} s holds for retry 0 only: with retry {} keepalived needs {} more checks \
         delay_before_retry apart, so a stopped service (connect refused) is down after {}..{} s ({:?} with the {MARGIN_S} s margin); \
         a host that does not answer at all would take up to {:?}",
        t.delay_loop,
        t.timeout,
        t.retry,
        t.dbr,
        t.delay_loop + t.timeout,
        t.retry,
        t.retry,
        t.retry * t.dbr,
        t.delay_loop + t.retry * t.dbr,
        down_max,
        bound_timeout(t.delay_loop, t.timeout, t.retry, t.dbr),
    );
    let n = lab.lines();
    let t0 = Instant::now();
    lab.kill(tcp);
    let down = lab
        .wait_log_after(
            n,
            "Removing service [198.51.100.11]:tcp:80 from VS [192.0.2.100]:tcp:80",
            down_max + Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("TCP server not marked down:\n{}", lab.log()))
        - t0;
    println!(
        "TCP service killed: marked down after {down:?} (keepalived: {down_min:?}..{down_max:?}; the issue's delay_loop + timeout: {} s)",
        t.delay_loop + t.timeout
    );
    assert!(
        down >= down_min && down <= down_max,
        "down after {down:?}, not in {down_min:?}..{down_max:?}:\n{}",
        lab.log()
    );
    assert!(lab.log().contains(&format!(
        "TCP_CHECK on service [198.51.100.11]:tcp:80 failed after {} retries.",
        t.retry
    )));
    if ipvs.is_ok() {
        let table = ipvs_table(&lab.ns("lb"));
        assert!(!table.contains("C633640B:0050"), "{table}");
    }
    let n = lab.lines();
    let _tcp2 = lab.tcp_banner_listener("be1", "198.51.100.11", 80, "backend 1");
    let t1 = Instant::now();
    let up = lab
        .wait_log_after(
            n,
            "Adding service [198.51.100.11]:tcp:80 to VS [192.0.2.100]:tcp:80",
            up_max + Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("TCP server not back up:\n{}", lab.log()))
        - t1;
    println!("TCP service back: marked up after {up:?} (bound {up_max:?}: the next check)");
    assert!(up <= up_max, "up after {up:?} > {up_max:?}");

    // HTTP_GET: the http.server process itself is killed; the server stays
    // in IPVS with weight 0 (inhibit_on_failure). Back up takes two
    // successes (keepalived): the failed URL, retried every
    // max(delay_before_retry, delay_loop), then a full round of all URLs
    // delay_loop later.
    let t = http_t;
    let down_max = bound_refused(t.delay_loop, t.retry, t.dbr);
    let down_min = Duration::from_secs_f64((t.retry * t.dbr - 0.5).max(0.0));
    let up_max = Duration::from_secs_f64(t.delay_loop.max(t.dbr) + t.delay_loop + MARGIN_S);
    let up_min = Duration::from_secs_f64(t.delay_loop - 0.5);
    let n = lab.lines();
    let t0 = Instant::now();
    lab.kill(http);
    let down = lab
        .wait_log_after(
            n,
            "Disabling service [198.51.100.12]:tcp:80 of VS [192.0.2.100]:tcp:80",
            down_max + Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("HTTP server not marked down:\n{}", lab.log()))
        - t0;
    println!(
        "http.server killed: marked down (weight 0) after {down:?} (keepalived: {down_min:?}..{down_max:?})"
    );
    assert!(
        down >= down_min && down <= down_max,
        "down after {down:?}, not in {down_min:?}..{down_max:?}:\n{}",
        lab.log()
    );
    if ipvs.is_ok() {
        let table = ipvs_table(&lab.ns("lb"));
        assert!(table.contains("-> C633640C:0050      Masq    0"), "{table}");
    }
    let n = lab.lines();
    let _http2 = lab.http_server("be2", "198.51.100.12", 80, www.to_str().unwrap());
    let t1 = Instant::now();
    let up = lab
        .wait_log_after(
            n,
            "Enabling service [198.51.100.12]:tcp:80 of VS [192.0.2.100]:tcp:80",
            up_max + Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("HTTP server not back up:\n{}", lab.log()))
        - t1;
    println!(
        "http.server back: marked up after {up:?} (keepalived: {up_min:?}..{up_max:?}: the failed URL, then all URLs delay_loop later)"
    );
    assert!(
        up >= up_min && up <= up_max,
        "up after {up:?}, not in {up_min:?}..{up_max:?}"
    );

    let st = lab.status();
    assert!(st.contains("[198.51.100.11]:tcp:80"), "{st}");
    let log = lab.stop_keepvip();
    assert!(
        log.contains("Shutting down service [198.51.100.11]:tcp:80 from VS [192.0.2.100]:tcp:80"),
        "{log}"
    );
    if ipvs.is_ok() {
        let table = ipvs_table(&lab.ns("lb"));
        assert!(
            !table.contains("C0000264:0050"),
            "left in IPVS at stop:\n{table}"
        );
    }
}
