//! The driver's IPVS programming against a recording fake of the kernel's
//! IPVS ([`FakeIpvs`]): every request is built into bytes with
//! `wire::ipvs::emit` (what the real socket sends), decoded back with
//! `wire::ipvs::parse_request`, recorded, and answered the way the kernel's
//! `ip_vs_genl_set_cmd` answers (`EEXIST`, `ESRCH`, `ENOENT`), or with an
//! injected errno. The checkers are real: TCP connects to listeners on
//! 127.0.0.1 that the tests open and close. The VRRP side is a real
//! `Router` driven in virtual time (start BACKUP, MASTER after the
//! master-down interval, BACKUP again on a higher-priority advert).
//!
//! The kernel round trip itself is not tested here (the test kernel has no
//! `ip_vs`); `tests/lvs_netns.rs` does it where the kernel has IPVS.

use super::*;
use crate::config::{Diagnostics, MemorySource, parse};
use crate::vrrp::Actions as VrrpActions;
use crate::wire::ipvs::{
    self as wipvs, DecodedRequest, DestSpec, IPVS_CMD_DEL_DEST, IPVS_CMD_DEL_SERVICE,
    IPVS_CMD_NEW_DEST, IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_DEST, IPVS_CMD_SET_SERVICE, IPVS_MSG_MAX,
    ServiceKey, ServiceSpec,
};
use std::boxed::Box;
use std::collections::VecDeque;
use std::format;
use std::net::TcpListener;
use std::string::{String, ToString};
use std::vec::Vec as StdVec;

const FAMILY: u16 = 0x22;

/// The kernel's IPVS table as `ip_vs_genl_set_cmd` keeps it.
#[derive(Default, Debug)]
struct FakeKernel {
    services: StdVec<ServiceSpec>,
    dests: StdVec<(ServiceKey, DestSpec)>,
}

impl FakeKernel {
    fn dest(&self, svc: &ServiceKey, d: &DestSpec) -> Option<usize> {
        self.dests
            .iter()
            .position(|(k, x)| k == svc && x.addr == d.addr && x.port == d.port)
    }

    /// The kernel's answer to `r` (0 or an errno), applied.
    fn apply(&mut self, r: &DecodedRequest) -> i32 {
        let key = r.service.key;
        let svc = self.services.iter().position(|s| s.key == key);
        if r.cmd == IPVS_CMD_NEW_SERVICE {
            if svc.is_some() {
                return libc::EEXIST;
            }
            self.services.push(r.service.clone());
            return 0;
        }
        // Every other command needs the service.
        let Some(si) = svc else {
            return libc::ESRCH;
        };
        let d = r.dest;
        match (r.cmd, d) {
            (IPVS_CMD_SET_SERVICE, _) => self.services[si] = r.service.clone(),
            (IPVS_CMD_DEL_SERVICE, _) => {
                self.services.remove(si);
                self.dests.retain(|(k, _)| *k != key);
            }
            (IPVS_CMD_NEW_DEST, Some(d)) => {
                if self.dest(&key, &d).is_some() {
                    return libc::EEXIST;
                }
                self.dests.push((key, d));
            }
            (IPVS_CMD_SET_DEST, Some(d)) => match self.dest(&key, &d) {
                Some(i) => self.dests[i].1 = d,
                None => return libc::ENOENT,
            },
            (IPVS_CMD_DEL_DEST, Some(d)) => match self.dest(&key, &d) {
                Some(i) => {
                    self.dests.remove(i);
                }
                None => return libc::ENOENT,
            },
            _ => return libc::EINVAL,
        }
        0
    }
}

/// A recording IPVS channel.
struct FakeIpvs {
    /// Answers of successive `open` calls (`None`: no IPVS family).
    opens: VecDeque<Option<u16>>,
    open_calls: usize,
    seq: u32,
    /// Every request, decoded from the bytes that would go to the kernel.
    sent: StdVec<DecodedRequest>,
    kernel: FakeKernel,
    /// Errnos forced on the next request with this command.
    inject: StdVec<(u8, i32)>,
    modprobe: &'static str,
}

impl FakeIpvs {
    fn new() -> FakeIpvs {
        FakeIpvs {
            opens: VecDeque::from([Some(FAMILY)]),
            open_calls: 0,
            seq: 0,
            sent: StdVec::new(),
            kernel: FakeKernel::default(),
            inject: StdVec::new(),
            modprobe: "/nonexistent/modprobe",
        }
    }
}

impl IpvsChannel for FakeIpvs {
    fn open(&mut self) -> Result<u16, OpenError> {
        self.open_calls += 1;
        let r = if self.opens.len() > 1 {
            self.opens.pop_front().flatten()
        } else {
            self.opens.front().copied().flatten()
        };
        r.ok_or(OpenError::NoFamily)
    }

    fn request(&mut self, req: Request<'_>) -> io::Result<i32> {
        let mut buf = [0u8; IPVS_MSG_MAX];
        self.seq += 1;
        let n = wipvs::emit(&mut buf, FAMILY, self.seq, req).expect("the request fits");
        let d = wipvs::parse_request(&buf[..n]).expect("the request decodes");
        assert_eq!((d.family, d.seq, d.version), (FAMILY, self.seq, 1));
        assert_eq!(d.flags, 0x0005, "NLM_F_REQUEST | NLM_F_ACK");
        self.sent.push(d.clone());
        if let Some(i) = self.inject.iter().position(|(c, _)| *c == d.cmd) {
            return Ok(self.inject.remove(i).1);
        }
        Ok(self.kernel.apply(&d))
    }

    fn modprobe(&self, buf: &mut [u8; MODPROBE_PATH_MAX]) -> usize {
        buf[..self.modprobe.len()].copy_from_slice(self.modprobe.as_bytes());
        self.modprobe.len()
    }
}

/// A request as one line: `NEW_DEST 192.0.2.100:80 -> 127.0.0.1:4000 w2`.
fn line(d: &DecodedRequest) -> String {
    let cmd = match d.cmd {
        IPVS_CMD_NEW_SERVICE => "NEW_SERVICE",
        IPVS_CMD_SET_SERVICE => "SET_SERVICE",
        IPVS_CMD_DEL_SERVICE => "DEL_SERVICE",
        IPVS_CMD_NEW_DEST => "NEW_DEST",
        IPVS_CMD_SET_DEST => "SET_DEST",
        IPVS_CMD_DEL_DEST => "DEL_DEST",
        _ => "?",
    };
    let svc = format!("{}:{}", d.service.key.addr, d.service.key.port);
    match d.dest {
        None => format!("{cmd} {svc} {}", d.service.sched_name),
        Some(x) => format!("{cmd} {svc} -> {}:{} w{}", x.addr, x.port, x.weight),
    }
}

fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, f)
            .expect("spawn")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn config(text: &str) -> Box<Config> {
    let files = [("/k.conf", text.as_bytes())];
    let src = MemorySource::new(&files);
    let mut cfg = Config::new_boxed();
    let mut d = Diagnostics::new();
    parse(&src, "/k.conf", &mut cfg, &mut d);
    let msgs: StdVec<String> = d.iter().map(|x| x.display(&cfg).to_string()).collect();
    assert_eq!(d.errors, 0, "{msgs:#?}");
    cfg
}

/// VI_1 starts BACKUP (priority 100) and becomes MASTER after the
/// master-down interval (3.6 s) without adverts.
const VRRP: &str = "vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
";

fn tcp_check(port: u16, weight: u32, inhibit: bool) -> String {
    format!(
        "    real_server 127.0.0.1 {port} {{
        weight {weight}
{}        TCP_CHECK {{
            connect_timeout 1
            retry 0
            warmup 0
        }}
    }}
",
        if inhibit {
            "        inhibit_on_failure\n"
        } else {
            ""
        }
    )
}

/// `virtual_server ADDR PORT` (rr, NAT, TCP, persistence 50 s) with `body`.
fn virtual_server(addr: &str, port: u16, algo: &str, body: &str) -> String {
    format!(
        "virtual_server {addr} {port} {{
    delay_loop 1
    lb_algo {algo}
    lb_kind NAT
    protocol TCP
    persistence_timeout 50
{body}}}
"
    )
}

/// A listener the checkers connect to (never accepts: the kernel completes
/// the handshakes; the checker only connects).
struct Backend {
    port: u16,
    sock: Option<TcpListener>,
}

impl Backend {
    fn new() -> Backend {
        let sock = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Backend {
            port: sock.local_addr().unwrap().port(),
            sock: Some(sock),
        }
    }

    /// Its service stops: connects are refused.
    fn stop(&mut self) {
        self.sock = None;
    }

    /// Its service returns, on the same port.
    fn start(&mut self) {
        self.sock = Some(TcpListener::bind(("127.0.0.1", self.port)).expect("bind again"));
    }
}

/// The driver, the router and virtual time.
struct Rig {
    cfg: Box<Config>,
    router: Box<Router>,
    d: Box<LvsDriver<FakeIpvs>>,
    poll: PollTable,
    now: Instant,
    /// Requests already looked at.
    seen: usize,
}

impl Rig {
    fn new(text: &str, fake: FakeIpvs) -> Rig {
        let cfg = config(text);
        let now = Instant::from_secs(1000);
        let mut router = Router::new_boxed(&cfg).expect("router");
        let mut out = VrrpActions::new();
        router.handle_link(now, "eth0", true, &mut out);
        router.handle_start(now, &mut out);
        let d = LvsDriver::with_ipvs(&cfg, now, fake);
        let mut r = Rig {
            cfg,
            router,
            d,
            poll: PollTable::new(),
            now,
            seen: 0,
        };
        r.step();
        r
    }

    fn fake(&mut self) -> &mut FakeIpvs {
        &mut self.d.ipvs
    }

    fn state(&self) -> Option<StateKind> {
        self.router.state(InstanceId(0))
    }

    /// One loop turn 100 ms later (sockets polled without waiting, scripts
    /// reaped).
    fn step(&mut self) {
        self.now += Duration::from_millis(100);
        let mut out = VrrpActions::new();
        self.router.handle_timeout(self.now, &mut out);
        let _ = self.poll.poll(Some(Duration::ZERO));
        self.d.on_sigchld();
        self.d
            .turn(&mut self.poll, self.now, &self.cfg, &self.router);
    }

    /// Steps until `f` holds (at most `secs` of virtual time); whether it did.
    fn run_until(&mut self, secs: u64, mut f: impl FnMut(&mut Rig) -> bool) -> bool {
        for _ in 0..secs * 10 {
            if f(self) {
                return true;
            }
            self.step();
            // Real time for the loopback handshakes and child processes.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        f(self)
    }

    fn run(&mut self, secs: u64) {
        self.run_until(secs, |_| false);
    }

    /// The requests sent since the last call, as lines.
    fn new_requests(&mut self) -> StdVec<String> {
        let sent = &self.d.ipvs.sent;
        let out = sent[self.seen..].iter().map(line).collect();
        self.seen = sent.len();
        out
    }

    /// Steps until a request is sent, then a little longer (a plan is sent
    /// in one turn); returns them.
    fn next_requests(&mut self, secs: u64) -> StdVec<String> {
        let seen = self.seen;
        let got = self.run_until(secs, |r| r.d.ipvs.sent.len() > seen);
        assert!(got, "no IPVS request within {secs} s");
        self.step();
        self.new_requests()
    }

    fn advert_from_higher_priority(&mut self) {
        let repr = self.router.advert_repr(InstanceId(0), 250).expect("repr");
        let mut out = VrrpActions::new();
        self.router.handle_advert(
            self.now,
            InstanceId(0),
            IpAddr::from([192, 0, 2, 200]),
            255,
            &repr,
            &mut out,
        );
    }

    fn reload(&mut self, text: &str) {
        let new = config(text);
        self.d.reload(&mut self.poll, self.now, &self.cfg, &new);
        self.cfg = new;
        self.step();
    }

    fn shutdown(&mut self) {
        self.d.shutdown(&mut self.poll, self.now, &self.cfg);
    }
}

fn strs(v: &[&str]) -> StdVec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn ipvs_follows_master_checkers_backup_and_stop() {
    big_stack(|| {
        let mut b1 = Backend::new();
        let mut b2 = Backend::new();
        let (p1, p2) = (b1.port, b2.port);
        let text = format!(
            "{VRRP}{}",
            virtual_server(
                "192.0.2.100",
                80,
                "rr",
                &(tcp_check(p1, 2, false) + &tcp_check(p2, 1, true))
            )
        );
        let mut r = Rig::new(&text, FakeIpvs::new());
        // BACKUP: IPVS was looked for (once), nothing is programmed, the
        // checkers run.
        r.run(2);
        assert_eq!(r.state(), Some(StateKind::Backup));
        assert_eq!(r.d.ipvs.open_calls, 1);
        assert_eq!(r.d.ipvs_state, IpvsState::Ready(FAMILY));
        assert!(r.new_requests().is_empty());
        assert_eq!(r.d.installed().map(|t| t.services.len()), Some(0));
        assert!(r.d.core().checkers.iter().all(|c| c.probes >= 1));

        // MASTER: the service, then its destinations.
        let svc = "192.0.2.100:80";
        assert_eq!(
            r.next_requests(5),
            strs(&[
                &format!("NEW_SERVICE {svc} rr"),
                &format!("NEW_DEST {svc} -> 127.0.0.1:{p1} w2"),
                &format!("NEW_DEST {svc} -> 127.0.0.1:{p2} w1"),
            ])
        );
        assert_eq!(r.state(), Some(StateKind::Master));
        // What the kernel got, field by field.
        let new_svc = &r.d.ipvs.sent[0];
        assert_eq!(new_svc.service.key.protocol, 6);
        assert_eq!(new_svc.service.flags, 0x0001, "IP_VS_SVC_F_PERSISTENT");
        assert_eq!(new_svc.service.timeout_s, 50);
        assert_eq!(new_svc.service.netmask, u32::MAX);
        let d1 = r.d.ipvs.sent[1].dest.unwrap();
        assert_eq!((d1.fwd_method, d1.u_threshold, d1.l_threshold), (0, 0, 0));
        assert_eq!(r.d.ipvs.kernel.dests.len(), 2);

        // A checker fails: its destination goes; with inhibit_on_failure
        // it stays with weight 0.
        b1.stop();
        assert_eq!(
            r.next_requests(4),
            strs(&[&format!("DEL_DEST {svc} -> 127.0.0.1:{p1} w2")])
        );
        b2.stop();
        assert_eq!(
            r.next_requests(4),
            strs(&[&format!("SET_DEST {svc} -> 127.0.0.1:{p2} w0")])
        );
        // They come back.
        b1.start();
        assert_eq!(
            r.next_requests(4),
            strs(&[&format!("NEW_DEST {svc} -> 127.0.0.1:{p1} w2")])
        );
        b2.start();
        assert_eq!(
            r.next_requests(4),
            strs(&[&format!("SET_DEST {svc} -> 127.0.0.1:{p2} w1")])
        );

        // BACKUP (a higher priority router): the service goes, with its
        // destinations (the kernel drops them).
        r.advert_from_higher_priority();
        assert_eq!(r.state(), Some(StateKind::Backup));
        assert_eq!(
            r.next_requests(1),
            strs(&[&format!("DEL_SERVICE {svc} rr")])
        );
        assert!(r.d.ipvs.kernel.services.is_empty() && r.d.ipvs.kernel.dests.is_empty());
        // The checkers go on while BACKUP; a server that fails now is
        // known when the instance is MASTER again.
        b1.stop();
        r.run(3);
        assert!(r.new_requests().is_empty());
        assert!(!r.d.core().real_servers[0].alive);
        assert_eq!(
            r.next_requests(5),
            strs(&[
                &format!("NEW_SERVICE {svc} rr"),
                &format!("NEW_DEST {svc} -> 127.0.0.1:{p2} w1"),
            ])
        );
        assert_eq!(r.state(), Some(StateKind::Master));

        // Stop: the service goes.
        r.shutdown();
        assert_eq!(r.new_requests(), strs(&[&format!("DEL_SERVICE {svc} rr")]));
        assert!(r.d.ipvs.kernel.services.is_empty());
        assert_eq!(r.d.stats.ipvs_errors, 0);
    })
}

#[test]
fn kernel_errors_are_handled_as_keepalived_does() {
    big_stack(|| {
        let mut b1 = Backend::new();
        let mut b2 = Backend::new();
        let (p1, p2) = (b1.port, b2.port);
        let text = format!(
            "{VRRP}{}",
            virtual_server(
                "192.0.2.100",
                80,
                "rr",
                &(tcp_check(p1, 2, false) + &tcp_check(p2, 1, true))
            )
        );
        let svc = "192.0.2.100:80";
        // Left over in the kernel from an earlier run: the service (wlc)
        // and one destination (weight 7).
        let mut fake = FakeIpvs::new();
        let mut stale = crate::lvs::ipvs::service_spec(&config(&text).lvs.virtual_servers[0]);
        stale.sched_name = heapless::String::try_from("wlc").unwrap();
        let key = stale.key;
        fake.kernel.services.push(stale);
        fake.kernel.dests.push((
            key,
            DestSpec {
                addr: IpAddr::from([127, 0, 0, 1]),
                port: p1,
                fwd_method: 0,
                weight: 7,
                u_threshold: 0,
                l_threshold: 0,
            },
        ));
        let mut r = Rig::new(&text, fake);
        // EEXIST on a new entry: taken over with the configured settings.
        assert_eq!(
            r.next_requests(6),
            strs(&[
                &format!("NEW_SERVICE {svc} rr"),
                &format!("SET_SERVICE {svc} rr"),
                &format!("NEW_DEST {svc} -> 127.0.0.1:{p1} w2"),
                &format!("SET_DEST {svc} -> 127.0.0.1:{p1} w2"),
                &format!("NEW_DEST {svc} -> 127.0.0.1:{p2} w1"),
            ])
        );
        let k = &r.d.ipvs.kernel;
        assert_eq!(k.services[0].sched_name.as_str(), "rr");
        assert_eq!(
            k.dests.iter().map(|d| d.1.weight).collect::<StdVec<_>>(),
            [2, 1]
        );
        assert_eq!(r.d.stats.ipvs_errors, 0);

        // ENOENT on a removal (somebody removed it already): done.
        r.fake().kernel.dests.retain(|d| d.1.port != p1);
        b1.stop();
        assert_eq!(
            r.next_requests(4),
            strs(&[&format!("DEL_DEST {svc} -> 127.0.0.1:{p1} w2")])
        );
        // ENOENT on an update of a destination that is gone: added
        // (keepalived's EDITDEST -> ADDDEST).
        r.fake().kernel.dests.retain(|d| d.1.port != p2);
        b2.stop();
        assert_eq!(
            r.next_requests(4),
            strs(&[
                &format!("SET_DEST {svc} -> 127.0.0.1:{p2} w0"),
                &format!("NEW_DEST {svc} -> 127.0.0.1:{p2} w0"),
            ])
        );
        r.run(2);
        assert!(r.new_requests().is_empty(), "nothing retried");
        assert_eq!(r.d.stats.ipvs_errors, 0);

        // Any other error: logged, counted, tried again 5 s later.
        r.fake().inject.push((IPVS_CMD_NEW_DEST, libc::ENOMEM));
        b1.start();
        assert_eq!(
            r.next_requests(4),
            strs(&[&format!("NEW_DEST {svc} -> 127.0.0.1:{p1} w2")])
        );
        assert_eq!(r.d.stats.ipvs_errors, 1);
        let failed_at = r.now;
        assert_eq!(
            r.next_requests(7),
            strs(&[&format!("NEW_DEST {svc} -> 127.0.0.1:{p1} w2")])
        );
        let after = r.now.saturating_duration_since(failed_at);
        assert!(
            after >= Duration::from_secs(5) && after <= Duration::from_millis(5300),
            "retried after {after:?}"
        );
        assert_eq!(r.d.stats.ipvs_errors, 1);
        assert_eq!(r.d.ipvs.kernel.dests.len(), 2);

        // The service was removed behind keepvip's back: ESRCH at stop is
        // "already gone".
        r.fake().kernel = FakeKernel::default();
        r.shutdown();
        assert_eq!(r.new_requests(), strs(&[&format!("DEL_SERVICE {svc} rr")]));
        assert_eq!(r.d.stats.ipvs_errors, 1);
    })
}

#[test]
fn reload_keeps_unchanged_virtual_servers_and_updates_changed_ones() {
    big_stack(|| {
        let (b1, b2, b3) = (Backend::new(), Backend::new(), Backend::new());
        let (p1, p2, p3) = (b1.port, b2.port, b3.port);
        let vs_a = |algo: &str, body: &str| virtual_server("192.0.2.100", 80, algo, body);
        // B's address is no VIP: it is in IPVS whatever the VRRP state.
        let vs_b = virtual_server("203.0.113.10", 8080, "rr", &tcp_check(p3, 1, false));
        let first = format!(
            "{VRRP}{}{vs_b}",
            vs_a("rr", &(tcp_check(p1, 2, false) + &tcp_check(p2, 1, true)))
        );
        let mut r = Rig::new(&first, FakeIpvs::new());
        let (a, b) = ("192.0.2.100:80", "203.0.113.10:8080");
        let b_new = strs(&[
            &format!("NEW_SERVICE {b} rr"),
            &format!("NEW_DEST {b} -> 127.0.0.1:{p3} w1"),
        ]);
        assert_eq!(r.new_requests(), b_new, "B at once, while BACKUP");
        assert_eq!(
            r.next_requests(5),
            strs(&[
                &format!("NEW_SERVICE {a} rr"),
                &format!("NEW_DEST {a} -> 127.0.0.1:{p1} w2"),
                &format!("NEW_DEST {a} -> 127.0.0.1:{p2} w1"),
            ])
        );

        // The same configuration again: nothing changes in IPVS.
        r.reload(&first);
        r.run(3);
        assert!(r.new_requests().is_empty());

        // A with another scheduler, without p1 and with p2's weight 5; B
        // gone.
        let second = format!("{VRRP}{}", vs_a("wrr", &tcp_check(p2, 5, true)));
        r.reload(&second);
        assert_eq!(
            r.new_requests(),
            strs(&[
                &format!("DEL_DEST {a} -> 127.0.0.1:{p1} w2"),
                &format!("DEL_SERVICE {b} rr"),
                &format!("SET_SERVICE {a} wrr"),
                &format!("SET_DEST {a} -> 127.0.0.1:{p2} w5"),
            ])
        );
        r.run(3);
        assert!(r.new_requests().is_empty());

        // No virtual server left: A goes too; one back: added (IPVS is not
        // looked for again).
        r.reload(VRRP);
        assert_eq!(r.new_requests(), strs(&[&format!("DEL_SERVICE {a} wrr")]));
        r.reload(&first);
        assert_eq!(
            r.new_requests(),
            strs(&[
                &format!("NEW_SERVICE {a} rr"),
                &format!("NEW_SERVICE {b} rr"),
                &format!("NEW_DEST {a} -> 127.0.0.1:{p1} w2"),
                &format!("NEW_DEST {a} -> 127.0.0.1:{p2} w1"),
                &format!("NEW_DEST {b} -> 127.0.0.1:{p3} w1"),
            ])
        );
        assert_eq!(r.d.ipvs.open_calls, 1);
        assert_eq!(r.d.stats.ipvs_errors, 0);
        drop((b1, b2, b3));
    })
}

#[test]
fn first_virtual_server_by_reload() {
    big_stack(|| {
        let b1 = Backend::new();
        let mut r = Rig::new(VRRP, FakeIpvs::new());
        r.run(5);
        // Allocated, but IPVS not looked for without virtual servers.
        assert_eq!(r.d.ipvs.open_calls, 0);
        assert_eq!(r.d.ipvs_state, IpvsState::Unprobed);
        assert_eq!(r.state(), Some(StateKind::Master));
        let text = format!(
            "{VRRP}{}",
            virtual_server("192.0.2.100", 80, "rr", &tcp_check(b1.port, 1, false))
        );
        r.reload(&text);
        assert_eq!(r.d.ipvs.open_calls, 1);
        assert_eq!(
            r.new_requests(),
            strs(&[
                "NEW_SERVICE 192.0.2.100:80 rr",
                &format!("NEW_DEST 192.0.2.100:80 -> 127.0.0.1:{} w1", b1.port),
            ])
        );
    })
}

#[test]
fn missing_family_runs_modprobe_and_looks_again() {
    big_stack(|| {
        let b1 = Backend::new();
        let text = format!(
            "{VRRP}{}",
            virtual_server("192.0.2.100", 80, "rr", &tcp_check(b1.port, 1, false))
        );
        // Before Linux 5.16 the lookup does not load ip_vs: no family
        // until modprobe (here /bin/true) has run.
        let mut fake = FakeIpvs::new();
        fake.opens = VecDeque::from([None, Some(FAMILY)]);
        fake.modprobe = "/bin/true";
        let mut r = Rig::new(&text, fake);
        assert!(
            matches!(
                r.d.ipvs_state,
                IpvsState::Loading { .. } | IpvsState::Ready(_)
            ),
            "{:?}",
            r.d.ipvs_state
        );
        assert!(r.run_until(3, |r| r.d.ipvs_state == IpvsState::Ready(FAMILY)));
        assert_eq!(r.d.ipvs.open_calls, 2);
        assert_eq!(
            r.next_requests(5),
            strs(&[
                "NEW_SERVICE 192.0.2.100:80 rr",
                &format!("NEW_DEST 192.0.2.100:80 -> 127.0.0.1:{} w1", b1.port),
            ])
        );
    })
}

#[test]
fn no_ipvs_even_after_modprobe_runs_the_checkers_alone() {
    big_stack(|| {
        let mut b1 = Backend::new();
        let text = format!(
            "{VRRP}{}",
            virtual_server("192.0.2.100", 80, "rr", &tcp_check(b1.port, 1, false))
        );
        for modprobe in ["/bin/false", "/nonexistent/modprobe"] {
            let mut fake = FakeIpvs::new();
            fake.opens = VecDeque::from([None]);
            fake.modprobe = modprobe;
            let mut r = Rig::new(&text, fake);
            assert!(r.run_until(3, |r| r.d.ipvs_state == IpvsState::Absent));
            // Looked up once more after modprobe, and no more.
            assert_eq!(r.d.ipvs.open_calls, 2, "{modprobe}");
            assert!(r.d.installed().is_none());
            b1.stop();
            r.run(6);
            assert_eq!(r.state(), Some(StateKind::Master));
            assert!(!r.d.core().real_servers[0].alive, "the checker ran");
            r.shutdown();
            assert!(r.d.ipvs.sent.is_empty(), "{modprobe}: no IPVS request");
            assert_eq!(r.d.ipvs.open_calls, 2);
            b1.start();
        }
    })
}

/// keepalived's `notify_up CMD [USER [GROUP]]` (and `notify_down`, `quorum_up`,
/// `quorum_down`): each command of the load-balancing side runs as its own user and group;
/// one without a user runs as the default script user (`script_user`, else
/// `keepalived_script` if it exists, else root). Checked in the credentials the driver
/// chooses (also after a reload that changes them) and, as root, in the ids the commands
/// report when the driver runs them.
#[test]
fn notify_commands_run_as_their_own_users() {
    let (Ok(nobody), Ok(nobody_nogroup)) = (
        resolve_creds("nobody", None),
        resolve_creds("nobody", Some("nogroup")),
    ) else {
        println!("skipped: no user nobody or group nogroup here");
        return;
    };
    let root = Creds { uid: 0, gid: 0 };
    let default = default_script_creds();
    let dir = std::env::temp_dir().join(format!("kv-lvs-users-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    // Written by the commands as nobody.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let hook = dir.join("id.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$(id -u) $(id -g)\" > {}/$1.out\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let h = hook.display().to_string();
    let out_dir = dir.clone();
    big_stack(move || {
        let b = Backend::new();
        let conf = |down_user: &str| {
            let rs = format!(
                "    quorum_up \"{h} qup\" nobody nogroup\n    quorum_down \"{h} qdown\"\n    real_server 127.0.0.1 {} {{\n        notify_up \"{h} up\" nobody\n        notify_down \"{h} down\"{down_user}\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n",
                b.port
            );
            format!("{VRRP}{}", virtual_server("192.0.2.100", 80, "rr", &rs))
        };
        let mut r = Rig::new(&conf(" root"), FakeIpvs::new());
        let (v, rs) = (&r.cfg.lvs.virtual_servers[0], &r.cfg.lvs.real_servers[0]);
        let ids = [v.quorum_up, v.quorum_down, rs.notify_up, rs.notify_down].map(Option::unwrap);
        let chosen = ids.map(|id| r.d.cmd_creds(id));
        assert_eq!(
            chosen,
            [Some(nobody_nogroup), default, Some(nobody), Some(root)],
            "quorum_up nobody nogroup, quorum_down default, notify_up nobody, notify_down root"
        );

        // Run them the way the core asks for them.
        let mut out = Actions::new();
        out.push(Action::NotifyQuorum {
            vs: crate::lvs::VsId(0),
            up: true,
        });
        out.push(Action::NotifyQuorum {
            vs: crate::lvs::VsId(0),
            up: false,
        });
        out.push(Action::NotifyRs {
            rs: crate::lvs::RsId(0),
            up: true,
        });
        out.push(Action::NotifyRs {
            rs: crate::lvs::RsId(0),
            up: false,
        });
        let before = r.d.exec.as_ref().map_or(0, |x| x.stats.spawned);
        r.d.execute(&out, &mut r.poll, r.now, &r.cfg);
        assert_eq!(
            r.d.exec.as_ref().map_or(0, |x| x.stats.spawned),
            before + 4,
            "four commands started"
        );
        let done = r.run_until(10, |r| r.d.exec.as_ref().is_none_or(|x| x.running() == 0));
        assert!(done, "the commands did not end within 10 s");
        let is_root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        if is_root {
            let read = |f: &str| std::fs::read_to_string(out_dir.join(f)).unwrap_or_default();
            let ids = |c: Option<Creds>| {
                let c = c.unwrap_or(root);
                format!("{} {}\n", c.uid, c.gid)
            };
            assert_eq!(read("qup.out"), ids(Some(nobody_nogroup)), "quorum_up");
            assert_eq!(read("qdown.out"), ids(default), "quorum_down");
            assert_eq!(read("up.out"), ids(Some(nobody)), "notify_up");
            assert_eq!(read("down.out"), ids(Some(root)), "notify_down");
        } else {
            println!("not root: the commands' own ids not checked (cannot change user)");
        }

        // A reload takes the new configuration's users.
        r.reload(&conf(" nobody"));
        let rs = &r.cfg.lvs.real_servers[0];
        assert_eq!(r.d.cmd_creds(rs.notify_down.unwrap()), Some(nobody));
        r.reload(&conf(""));
        let rs = &r.cfg.lvs.real_servers[0];
        assert_eq!(r.d.cmd_creds(rs.notify_down.unwrap()), default);
        drop(b);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
