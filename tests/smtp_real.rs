//! SMTP alerts against a REAL SMTP server: aiosmtpd (tests/smtp_server.py)
//! in a `kvm-smtp-*` network namespace on 192.0.2.25 and 2001:db8::25,
//! driven by a small poll loop built from `sys::tcp::SmtpLink`, `sys::poll`
//! and `sys::clock` — the same calls the daemon makes. Asserts that the mail
//! arrives with keepalived's exact subject and body.
//!
//! Needs root (namespaces) and python3 with aiosmtpd: the test installs it
//! (pip, else Debian's python3-aiosmtpd) when missing, or fails saying how.
//! Skipped under qemu-user (KEEPVIP_QEMU=1).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use keepvip::config::model::GlobalDefs;
use keepvip::smtp::{AlertSource, Rfc5322Date, Smtp, SmtpError, WallTime};
use keepvip::sys::clock::monotonic_now;
use keepvip::sys::netns::run_in_netns;
use keepvip::sys::poll::PollTable;
use keepvip::sys::tcp::{SmtpLink, wall_clock};
use keepvip::time::Duration;
use keepvip::vrrp::NotifyState;

const PORT: u16 = 2525;

fn skip_under_qemu() -> bool {
    if std::env::var("KEEPVIP_QEMU").as_deref() == Ok("1") {
        eprintln!("skipped under qemu-user: needs root namespaces and a python SMTP server");
        return true;
    }
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

fn has_aiosmtpd(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A python3 that can import aiosmtpd, installing it if needed.
fn python_with_aiosmtpd() -> String {
    const PYTHONS: [&str; 2] = ["/usr/bin/python3", "python3"];
    let found = || {
        PYTHONS
            .iter()
            .find(|p| has_aiosmtpd(p))
            .map(|p| p.to_string())
    };
    if let Some(p) = found() {
        return p;
    }
    eprintln!("smtp_real: aiosmtpd missing; trying `python3 -m pip install aiosmtpd`");
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
        .status();
    if let Some(p) = found() {
        return p;
    }
    eprintln!("smtp_real: pip failed; trying `apt-get install python3-aiosmtpd`");
    let _ = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "python3-aiosmtpd",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    found().unwrap_or_else(|| {
        panic!(
            "the SMTP integration test needs python3 with aiosmtpd and could not install it: \
             run `apt-get install python3-aiosmtpd` (Debian) or `pip install aiosmtpd`"
        )
    })
}

fn require_root() {
    let uid = sh("id", &["-u"]);
    assert_eq!(
        uid.trim(),
        "0",
        "smtp_real needs root (network namespaces): run `sudo -E cargo test --test smtp_real`"
    );
}

/// A `kvm-smtp-<tag>-<pid>` namespace with 192.0.2.25 and 2001:db8::25 on
/// its loopback, optionally running the SMTP sink; everything (server
/// process by PID, namespace, mail directory) is cleaned up on drop, panics
/// included.
struct Lab {
    ns: String,
    server: Option<Child>,
    maildir: PathBuf,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        require_root();
        let ns = format!("kvm-smtp-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        sh("ip", &["netns", "add", &ns]);
        let maildir = std::env::temp_dir().join(&ns);
        let _ = std::fs::remove_dir_all(&maildir);
        std::fs::create_dir_all(&maildir).expect("create mail dir");
        let lab = Lab {
            ns,
            server: None,
            maildir,
        };
        lab.ip(&["link", "set", "lo", "up"]);
        lab.ip(&["addr", "add", "192.0.2.25/32", "dev", "lo"]);
        lab.ip(&["addr", "add", "2001:db8::25/128", "dev", "lo", "nodad"]);
        lab
    }

    fn ip(&self, args: &[&str]) {
        let mut a = vec!["-n", self.ns.as_str()];
        a.extend_from_slice(args);
        sh("ip", &a);
    }

    /// Starts aiosmtpd in the namespace; waits (bounded) for READY.
    fn start_server(&mut self) {
        let python = python_with_aiosmtpd();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let port = PORT.to_string();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns, &python])
            .arg(&script)
            .arg(&self.maildir)
            .args([port.as_str(), "192.0.2.25", "2001:db8::25"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the SMTP server");
        let stdout = child.stdout.take().expect("server stdout");
        self.server = Some(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("SMTP server did not report READY within 20 s");
        assert_eq!(line.trim(), "READY", "SMTP server failed to start");
    }

    fn mail(&self, n: u32) -> Option<(String, String)> {
        let eml = std::fs::read_to_string(self.maildir.join(format!("{n}.eml"))).ok()?;
        let env = std::fs::read_to_string(self.maildir.join(format!("{n}.env"))).ok()?;
        Some((eml, env))
    }

    fn mail_count(&self) -> usize {
        std::fs::read_dir(&self.maildir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            // `ip netns exec` execs python: this PID is the server itself.
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn globals(server: SocketAddr, rcpts: &[&str], timeout_s: u32) -> GlobalDefs {
    let mut g = GlobalDefs {
        router_id: Some("edge1".try_into().unwrap()),
        notification_email_from: Some("keepvip@example.org".try_into().unwrap()),
        smtp_server: Some((server.ip(), server.port())),
        smtp_connect_timeout_s: timeout_s,
        ..Default::default()
    };
    for r in rcpts {
        g.notification_email.push((*r).try_into().unwrap()).unwrap();
    }
    g
}

/// The daemon's SMTP loop in miniature, run on a thread inside namespace
/// `ns`: `SmtpLink::service` once per turn, the socket in a `PollTable`,
/// until every queued alert is sent or failed (or `limit` passes).
fn drive(smtp: &mut Smtp, ns: &str, limit: std::time::Duration) {
    run_in_netns(ns, || {
        let t_end = monotonic_now() + Duration::from_micros(limit.as_micros() as u64);
        let mut link = SmtpLink::new();
        let mut table = PollTable::new();
        let mut slot = None;
        let mut ready = false;
        let mut turns = 0u32;
        loop {
            let now = monotonic_now();
            assert!(now < t_end, "SMTP session did not finish within {limit:?}");
            if link.service(smtp, now, ready) {
                if let Some(s) = slot.take() {
                    table.remove(s);
                }
                slot = link.fd().map(|fd| table.add(fd).expect("poll slot"));
            }
            assert_eq!(slot.is_some(), smtp.wants_socket());
            if smtp.is_idle() {
                break;
            }
            let timeout = match (smtp.poll_timeout(now), link.write_retry(smtp)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            table.poll(timeout).expect("poll");
            ready = slot.is_some_and(|s| table.is_ready(s));
            turns += 1;
        }
        println!("SMTP loop: {turns} poll turns");
    })
    .expect("enter netns");
}

/// Splits a received message into (headers, body) with CRLF line ends.
fn split_mail(eml: &str) -> (Vec<&str>, &str) {
    let (head, body) = eml.split_once("\r\n\r\n").expect("header/body separator");
    (head.split("\r\n").collect(), body)
}

fn header(headers: &[&str], name: &str) -> String {
    let prefix = format!("{name}: ");
    let i = headers
        .iter()
        .position(|h| h.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"));
    // Unfold continuation lines.
    let mut v = headers[i][prefix.len()..].to_string();
    for cont in headers[i + 1..].iter().take_while(|h| h.starts_with(' ')) {
        v.push_str(cont);
    }
    v
}

#[test]
fn alerts_arrive_at_a_real_server_over_ipv4_and_ipv6() {
    if skip_under_qemu() {
        return;
    }
    let mut lab = Lab::new("ok");
    lab.start_server();
    let rcpts = ["ops@example.org", "noc@example.org"];

    // IPv4: one MASTER alert.
    let v4: SocketAddr = format!("192.0.2.25:{PORT}").parse().unwrap();
    let mut smtp = Smtp::new(&globals(v4, &rcpts, 5), "r1.example.org");
    let wall = wall_clock();
    assert!(smtp.queue_alert(wall, AlertSource::Instance, "VI_1", NotifyState::Master));
    drive(&mut smtp, &lab.ns, std::time::Duration::from_secs(20));
    assert_eq!(smtp.last_error(), None);
    assert_eq!((smtp.stats().sent, smtp.stats().failed), (1, 0));

    let (eml, env) = lab.mail(1).expect("mail 1 arrived");
    let (headers, body) = split_mail(&eml);
    assert_eq!(
        header(&headers, "Subject"),
        "[edge1] VRRP Instance VI_1 - Entering MASTER state"
    );
    assert_eq!(body, "=> VRRP Instance is now owning VRRP VIPs <=\r\n");
    assert_eq!(header(&headers, "From"), "keepvip@example.org");
    assert_eq!(header(&headers, "To"), "ops@example.org, noc@example.org");
    assert_eq!(header(&headers, "X-Mailer"), "keepvip");
    assert_eq!(header(&headers, "Date"), Rfc5322Date(wall).to_string());
    let env: Vec<&str> = env.lines().collect();
    assert_eq!(
        env,
        [
            "keepvip@example.org",
            "r1.example.org",
            "ops@example.org",
            "noc@example.org"
        ]
    );

    // IPv6: BACKUP then FAULT queued back to back, two sessions in order.
    let v6: SocketAddr = format!("[2001:db8::25]:{PORT}").parse().unwrap();
    let mut smtp = Smtp::new(&globals(v6, &rcpts, 5), "r1.example.org");
    let w = WallTime {
        unix_secs: 1_741_089_909,
        utc_offset_s: 3600,
    };
    assert!(smtp.queue_alert(w, AlertSource::Instance, "VI_6", NotifyState::Backup));
    assert!(smtp.queue_alert(w, AlertSource::Group, "G1", NotifyState::Fault));
    drive(&mut smtp, &lab.ns, std::time::Duration::from_secs(20));
    assert_eq!((smtp.stats().sent, smtp.stats().sessions), (2, 2));
    let (eml, _) = lab.mail(2).expect("mail 2 arrived");
    let (headers, body) = split_mail(&eml);
    assert_eq!(
        header(&headers, "Subject"),
        "[edge1] VRRP Instance VI_6 - Entering BACKUP state"
    );
    assert_eq!(
        body,
        "=> VRRP Instance is no longer owning VRRP VIPs <=\r\n"
    );
    assert_eq!(header(&headers, "Date"), "Tue, 04 Mar 2025 13:05:09 +0100");
    let (eml, _) = lab.mail(3).expect("mail 3 arrived");
    let (headers, body) = split_mail(&eml);
    assert_eq!(
        header(&headers, "Subject"),
        "[edge1] VRRP Group G1 - Entering FAULT state"
    );
    assert_eq!(
        body,
        "=> All VRRP group instances are now in FAULT state <=\r\n"
    );
    assert_eq!(lab.mail_count(), 3);
}

#[test]
fn refused_recipients_at_a_real_server() {
    if skip_under_qemu() {
        return;
    }
    let mut lab = Lab::new("rcpt");
    lab.start_server();
    let v4: SocketAddr = format!("192.0.2.25:{PORT}").parse().unwrap();

    // One refused, one accepted: delivered to the accepted one.
    let mut smtp = Smtp::new(
        &globals(v4, &["refuse@example.org", "ops@example.org"], 5),
        "r1.example.org",
    );
    assert!(smtp.queue_alert(
        wall_clock(),
        AlertSource::Instance,
        "VI_1",
        NotifyState::Master
    ));
    drive(&mut smtp, &lab.ns, std::time::Duration::from_secs(20));
    assert_eq!((smtp.stats().sent, smtp.stats().rcpt_refused), (1, 1));
    let (_, env) = lab.mail(1).expect("mail arrived");
    assert_eq!(env.lines().skip(2).collect::<Vec<_>>(), ["ops@example.org"]);

    // Every recipient refused: a named error, nothing delivered.
    let mut smtp = Smtp::new(&globals(v4, &["refuse@example.org"], 5), "r1.example.org");
    assert!(smtp.queue_alert(
        wall_clock(),
        AlertSource::Instance,
        "VI_1",
        NotifyState::Master
    ));
    drive(&mut smtp, &lab.ns, std::time::Duration::from_secs(20));
    assert_eq!(smtp.last_error(), Some(SmtpError::NoRecipient(550)));
    assert_eq!((smtp.stats().sent, smtp.stats().failed), (0, 1));
    assert_eq!(lab.mail_count(), 1);
}

#[test]
fn connection_refused_and_connect_timeout() {
    if skip_under_qemu() {
        return;
    }
    let lab = Lab::new("down");
    // Nothing listens: refused at once (or on the first readiness).
    let v4: SocketAddr = format!("192.0.2.25:{PORT}").parse().unwrap();
    let mut smtp = Smtp::new(&globals(v4, &["ops@example.org"], 5), "r1");
    assert!(smtp.queue_alert(
        wall_clock(),
        AlertSource::Instance,
        "VI_1",
        NotifyState::Master
    ));
    drive(&mut smtp, &lab.ns, std::time::Duration::from_secs(10));
    assert_eq!(
        smtp.last_error(),
        Some(SmtpError::ConnectFailed(libc::ECONNREFUSED))
    );

    // A server nobody answers for: a veth pair inside the namespace, the
    // address on neither end, so ARP (and the SYN) go unanswered and the
    // connect times out after smtp_connect_timeout (1 s).
    lab.ip(&[
        "link",
        "add",
        "kvm-smtpa",
        "type",
        "veth",
        "peer",
        "name",
        "kvm-smtpb",
    ]);
    lab.ip(&["link", "set", "kvm-smtpa", "up"]);
    lab.ip(&["link", "set", "kvm-smtpb", "up"]);
    lab.ip(&["addr", "add", "198.51.100.1/24", "dev", "kvm-smtpa"]);
    let black: SocketAddr = "198.51.100.99:25".parse().unwrap();
    let mut smtp = Smtp::new(&globals(black, &["ops@example.org"], 1), "r1");
    assert!(smtp.queue_alert(
        wall_clock(),
        AlertSource::Instance,
        "VI_1",
        NotifyState::Master
    ));
    let t0 = std::time::Instant::now();
    drive(&mut smtp, &lab.ns, std::time::Duration::from_secs(10));
    let took = t0.elapsed();
    assert_eq!(smtp.last_error(), Some(SmtpError::ConnectTimeout));
    assert!(
        took >= std::time::Duration::from_millis(1000) && took < std::time::Duration::from_secs(3),
        "connect timeout took {took:?}"
    );
    println!("connect timeout fired after {took:?} (smtp_connect_timeout 1 s)");
}
