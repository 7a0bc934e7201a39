//! Checker, server and quorum state machines over virtual time, with the
//! log lines keepalived writes, and the IPVS table they imply.

use super::ipvs::{Cmd, MAX_CMDS, Table, desired, plan};
use super::*;
use crate::config::{Diagnostics, MemorySource, parse};
use std::boxed::Box;
use std::string::{String, ToString};
use std::vec::Vec;

fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(s, f)
            .expect("spawn")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

fn config(text: &str) -> Box<Config> {
    big_stack(|| {
        let files = [("/k.conf", text.as_bytes())];
        let src = MemorySource::new(&files);
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&src, "/k.conf", &mut cfg, &mut d);
        let msgs: Vec<String> = d.iter().map(|x| x.display(&cfg).to_string()).collect();
        assert_eq!(d.errors, 0, "{msgs:#?}");
        cfg
    })
}

const VRRP: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.100/24\n }\n}\n";

/// One virtual server 192.0.2.100:80 with `body` inside.
fn vs(body: &str) -> Box<Config> {
    config(&format!(
        "{VRRP}virtual_server 192.0.2.100 80 {{\n protocol TCP\n lb_algo rr\n lb_kind NAT\n{body}\n}}\n"
    ))
}

/// What a probe does in the simulated world.
type World<'a> = dyn Fn(CheckerId, Probe, Instant) -> (Outcome, Duration) + 'a;

struct Sim {
    cfg: Box<Config>,
    lvs: Lvs,
    now: Instant,
    pending: Vec<(Instant, CheckerId, Outcome)>,
    logs: Vec<(Instant, String)>,
    notifies: Vec<(Instant, Action)>,
    pool_changes: usize,
}

impl Sim {
    fn new(cfg: Box<Config>) -> Sim {
        let mut out = Actions::new();
        let now = Instant::from_secs(100);
        let lvs = Lvs::start(&cfg, now, 42, &mut out);
        let mut s = Sim {
            cfg,
            lvs,
            now,
            pending: Vec::new(),
            logs: Vec::new(),
            notifies: Vec::new(),
            pool_changes: 0,
        };
        s.absorb(&out, &|_, _, _| (Outcome::Success, Duration::ZERO));
        s
    }

    fn absorb(&mut self, out: &Actions, world: &World<'_>) {
        for a in out.iter() {
            match *a {
                Action::Start { ck, probe } => {
                    let (o, took) = world(ck, probe, self.now);
                    self.pending.push((self.now + took, ck, o));
                }
                Action::Abort { ck } => self.pending.retain(|p| p.1 != ck),
                Action::Log(e) => self.logs.push((self.now, e.display(&self.cfg).to_string())),
                Action::NotifyRs { .. } | Action::NotifyQuorum { .. } => {
                    self.notifies.push((self.now, *a))
                }
                Action::PoolChanged { .. } => self.pool_changes += 1,
            }
        }
    }

    /// Runs until `until`, probes answering as `world` says.
    fn run(&mut self, until: Instant, world: &World<'_>) {
        for _ in 0..100_000 {
            let next_result = self.pending.iter().map(|p| p.0).min();
            let next = [next_result, self.lvs.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            self.now = t.max(self.now);
            let mut out = Actions::new();
            while let Some(i) = self.pending.iter().position(|p| p.0 <= self.now) {
                let (_, ck, o) = self.pending.remove(i);
                self.lvs.handle_result(&self.cfg, self.now, ck, o, &mut out);
            }
            self.lvs.handle_timeout(&self.cfg, self.now, &mut out);
            self.absorb(&out, world);
        }
        panic!("simulation did not settle");
    }

    fn logs_since(&self, t: Instant) -> Vec<String> {
        self.logs
            .iter()
            .filter(|l| l.0 >= t)
            .map(|l| l.1.clone())
            .collect()
    }

    fn first_log(&self, needle: &str) -> Option<Instant> {
        self.logs.iter().find(|l| l.1.contains(needle)).map(|l| l.0)
    }

    fn table(&self, programmed: bool) -> Table {
        let mut t = Table::default();
        desired(&self.cfg, &self.lvs, &|_| programmed, &mut t);
        t
    }
}

fn ok(_: CheckerId, _: Probe, _: Instant) -> (Outcome, Duration) {
    (Outcome::Success, Duration::from_millis(2))
}

fn refused(_: CheckerId, _: Probe, _: Instant) -> (Outcome, Duration) {
    (
        Outcome::Failed(Failure::Connect(111)),
        Duration::from_millis(1),
    )
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const TCP_RS: &str = " delay_loop 6\n real_server 198.51.100.11 80 {\n  TCP_CHECK {\n   connect_timeout 3\n   retry 2\n   delay_before_retry 1\n   warmup 0\n  }\n }\n";

#[test]
fn start_logs_activation_and_quorum_and_first_probe_after_bootstrap_delay() {
    let s = Sim::new(vs(TCP_RS));
    assert_eq!(
        s.logs.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
        [
            "Activating healthchecker for service [198.51.100.11]:tcp:80 for VS [192.0.2.100]:tcp:80",
            "Gained quorum 1+0=1 <= 1 for VS [192.0.2.100]:tcp:80",
        ]
    );
    assert_eq!(s.lvs.poll_timeout(), Some(s.now + BOOTSTRAP_DELAY));
    assert!(s.lvs.real_servers[0].alive);
    // The table: the service with its one destination.
    let t = s.table(true);
    assert_eq!(t.services.len(), 1);
    assert_eq!(t.services[0].sched_name.as_str(), "rr");
    assert_eq!(t.dests.len(), 1);
    assert_eq!(t.dests[0].spec.weight, 1);
    assert!(s.table(false).services.is_empty());
}

#[test]
fn tcp_first_failure_at_start_is_enough() {
    let mut s = Sim::new(vs(TCP_RS));
    let t0 = s.now;
    s.run(t0 + secs(2), &refused);
    assert_eq!(
        s.logs_since(t0 + secs(1)),
        [
            "TCP_CHECK on service [198.51.100.11]:tcp:80 failed.",
            "Removing service [198.51.100.11]:tcp:80 from VS [192.0.2.100]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [192.0.2.100]:tcp:80",
        ]
    );
    assert!(!s.lvs.real_servers[0].alive);
    assert!(s.table(true).dests.is_empty());
    assert!(s.notifies.iter().any(|n| n.1
        == Action::NotifyRs {
            rs: RsId(0),
            up: false
        }));
}

#[test]
fn tcp_up_server_needs_retry_plus_one_failures_then_one_success() {
    let mut s = Sim::new(vs(TCP_RS));
    let t0 = s.now;
    s.run(t0 + secs(10), &ok);
    assert_eq!(
        s.logs_since(t0 + secs(1)),
        ["TCP connection to [198.51.100.11]:tcp:80 success."]
    );
    // The service stops at t1: refused from now on.
    let t1 = s.now;
    s.run(t1 + secs(20), &refused);
    let down = s.first_log("failed after 2 retries.").expect("marked down");
    // At most delay_loop until the next probe, then 2 retries 1 s apart.
    let took = down.saturating_duration_since(t1);
    assert!(took <= secs(6 + 2) + Duration::from_millis(10), "{took:?}");
    assert_eq!(
        s.logs_since(t1),
        [
            "TCP_CHECK on service [198.51.100.11]:tcp:80 failed after 2 retries.",
            "Removing service [198.51.100.11]:tcp:80 from VS [192.0.2.100]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [192.0.2.100]:tcp:80",
        ]
    );
    // It comes back: one success is enough.
    let t2 = s.now;
    s.run(t2 + secs(7), &ok);
    assert_eq!(
        s.logs_since(t2),
        [
            "TCP connection to [198.51.100.11]:tcp:80 success.",
            "Adding service [198.51.100.11]:tcp:80 to VS [192.0.2.100]:tcp:80",
            "Gained quorum 1+0=1 <= 1 for VS [192.0.2.100]:tcp:80",
        ]
    );
    assert!(s.lvs.real_servers[0].alive);
    assert_eq!(s.table(true).dests.len(), 1);
}

#[test]
fn tcp_timeouts_bound_detection_by_delay_loop_plus_retries() {
    let mut s = Sim::new(vs(TCP_RS));
    s.run(s.now + secs(3), &ok);
    let t1 = s.now;
    // Blackholed: every probe takes connect_timeout.
    let timeout =
        |_: CheckerId, _: Probe, _: Instant| (Outcome::Failed(Failure::ConnectTimeout), secs(3));
    s.run(t1 + secs(60), &timeout);
    let down = s.first_log("failed after 2 retries.").unwrap();
    // delay_loop + (retry + 1) * connect_timeout + retry * delay_before_retry
    let bound = secs(6 + 3 * 3 + 2);
    assert!(down.saturating_duration_since(t1) <= bound);
    // And not before the three attempts could have failed.
    assert!(down.saturating_duration_since(t1) >= secs(3 * 3 + 2));
}

#[test]
fn alpha_starts_down_and_out_of_the_pool() {
    let mut s = Sim::new(vs(
        " alpha\n delay_loop 2\n real_server 198.51.100.11 80 {\n  TCP_CHECK {\n   warmup 0\n  }\n }\n",
    ));
    assert!(!s.lvs.real_servers[0].alive);
    assert!(s.table(true).dests.is_empty());
    assert!(s.logs.iter().any(
        |l| l.1 == "Lost quorum 1-0=1 > 0 for VS [192.0.2.100]:tcp:80"
            || l.1.starts_with("Activating")
    ));
    let t0 = s.now;
    s.run(t0 + secs(2), &ok);
    assert_eq!(
        s.logs_since(t0 + secs(1)),
        [
            "TCP connection to [198.51.100.11]:tcp:80 success.",
            "Adding service [198.51.100.11]:tcp:80 to VS [192.0.2.100]:tcp:80",
            "Gained quorum 1+0=1 <= 1 for VS [192.0.2.100]:tcp:80",
        ]
    );
    assert_eq!(s.table(true).dests.len(), 1);
}

#[test]
fn alpha_failing_at_start_runs_notify_down_once() {
    let mut s = Sim::new(vs(
        " alpha\n real_server 198.51.100.11 80 {\n  TCP_CHECK {\n   warmup 0\n  }\n }\n",
    ));
    s.run(s.now + secs(2), &refused);
    let downs: Vec<_> = s
        .notifies
        .iter()
        .filter(|n| {
            n.1 == Action::NotifyRs {
                rs: RsId(0),
                up: false,
            }
        })
        .collect();
    assert_eq!(downs.len(), 1, "{:?}", s.notifies);
    // keepalived logs the first failure (the checker has not run yet), but
    // the server was never in the pool: nothing is removed.
    assert_eq!(
        s.logs_since(Instant::from_secs(100) + Duration::from_millis(1)),
        ["TCP_CHECK on service [198.51.100.11]:tcp:80 failed."]
    );
}

#[test]
fn inhibit_on_failure_keeps_the_server_with_weight_0() {
    let mut s = Sim::new(vs(
        " real_server 198.51.100.11 80 {\n  weight 5\n  inhibit_on_failure\n  TCP_CHECK {\n   warmup 0\n  }\n }\n real_server 198.51.100.12 80 {\n }\n",
    ));
    s.run(s.now + secs(2), &refused);
    assert!(
        s.logs
            .iter()
            .any(|l| l.1 == "Disabling service [198.51.100.11]:tcp:80 of VS [192.0.2.100]:tcp:80"),
        "{:?}",
        s.logs
    );
    let t = s.table(true);
    let w: Vec<_> = t
        .dests
        .iter()
        .map(|d| (d.spec.addr.to_string(), d.spec.weight))
        .collect();
    assert_eq!(
        w,
        [
            ("198.51.100.11".to_string(), 0),
            ("198.51.100.12".to_string(), 1)
        ]
    );
    s.run(s.now + secs(61), &ok);
    assert!(
        s.logs
            .iter()
            .any(|l| l.1 == "Enabling service [198.51.100.11]:tcp:80 of VS [192.0.2.100]:tcp:80")
    );
    assert_eq!(s.table(true).dests[0].spec.weight, 5);
}

#[test]
fn quorum_lost_brings_in_the_sorry_server_and_back() {
    let mut s = Sim::new(vs(
        " delay_loop 2\n sorry_server 198.51.100.250 8080\n real_server 198.51.100.11 80 {\n  TCP_CHECK {\n   warmup 0\n   retry 0\n  }\n }\n",
    ));
    let t0 = s.now;
    s.run(t0 + secs(2), &refused);
    assert_eq!(
        s.logs_since(t0 + secs(1)),
        [
            "TCP_CHECK on service [198.51.100.11]:tcp:80 failed.",
            "Removing service [198.51.100.11]:tcp:80 from VS [192.0.2.100]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [192.0.2.100]:tcp:80",
            "Adding sorry server [198.51.100.250]:tcp:8080 to VS [192.0.2.100]:tcp:80",
            "Removing alive servers from the pool for VS [192.0.2.100]:tcp:80",
        ]
    );
    let t = s.table(true);
    assert_eq!(t.dests.len(), 1);
    assert_eq!((t.dests[0].spec.port, t.dests[0].spec.weight), (8080, 1));
    assert!(s.notifies.iter().any(|n| n.1
        == Action::NotifyQuorum {
            vs: VsId(0),
            up: false
        }));
    let t1 = s.now;
    s.run(t1 + secs(3), &ok);
    assert_eq!(
        s.logs_since(t1),
        [
            "TCP connection to [198.51.100.11]:tcp:80 success.",
            "Adding service [198.51.100.11]:tcp:80 to VS [192.0.2.100]:tcp:80",
            "Gained quorum 1+0=1 <= 1 for VS [192.0.2.100]:tcp:80",
            "Removing sorry server [198.51.100.250]:tcp:8080 from VS [192.0.2.100]:tcp:80",
            "Adding alive servers to the pool for VS [192.0.2.100]:tcp:80",
        ]
    );
    let t = s.table(true);
    assert_eq!(t.dests.len(), 1);
    assert_eq!(t.dests[0].spec.port, 80);
}

#[test]
fn quorum_with_hysteresis_counts_weights() {
    let mut s = Sim::new(vs(
        " quorum 4\n hysteresis 1\n real_server 198.51.100.11 80 {\n  weight 3\n  TCP_CHECK {\n   warmup 0\n   retry 0\n  }\n }\n real_server 198.51.100.12 80 {\n  weight 2\n  TCP_CHECK {\n   warmup 0\n   retry 0\n   connect_port 81\n  }\n }\n",
    ));
    assert!(s.lvs.virtual_servers[0].quorum_up, "5 >= 4+1");
    // .12 fails: 3 >= 4-1 keeps the quorum.
    let w = |ck: CheckerId, _: Probe, _: Instant| {
        if ck.0 == 1 {
            (Outcome::Failed(Failure::Connect(111)), Duration::ZERO)
        } else {
            (Outcome::Success, Duration::ZERO)
        }
    };
    s.run(s.now + secs(2), &w);
    assert!(!s.lvs.real_servers[1].alive);
    assert!(s.lvs.virtual_servers[0].quorum_up);
    assert!(s.first_log("Lost quorum").is_none());
    // Both fail: lost.
    s.run(s.now + secs(61), &refused);
    assert!(
        s.first_log("Lost quorum 4-1=3 > 0 for VS").is_some(),
        "{:?}",
        s.logs
    );
}

const HTTP_RS: &str = " delay_loop 5\n real_server 198.51.100.12 80 {\n  HTTP_GET {\n   url {\n    path /a\n   }\n   url {\n    path /b\n    digest 00112233445566778899aabbccddeeff\n   }\n   retry 1\n   delay_before_retry 2\n   warmup 0\n  }\n }\n";

#[test]
fn http_checks_one_url_per_round_and_retries_the_failed_one() {
    let mut s = Sim::new(vs(HTTP_RS));
    let seen = std::sync::Mutex::new(Vec::new());
    let t0 = s.now;
    let w = |_: CheckerId, p: Probe, now: Instant| {
        seen.lock().unwrap().push((now, p));
        (Outcome::Success, Duration::from_millis(5))
    };
    s.run(t0 + secs(12), &w);
    let urls: Vec<_> = seen.lock().unwrap().iter().map(|x| x.1).collect();
    assert_eq!(
        urls,
        [
            Probe::Http { url: 0 },
            Probe::Http { url: 1 },
            Probe::Http { url: 0 }
        ]
    );
    // The first complete pass logs the success once.
    assert_eq!(
        s.logs_since(t0 + secs(1)),
        ["Remote Web server [198.51.100.12]:tcp:80 succeed on service."]
    );
    // /b starts failing its digest.
    let t1 = s.now;
    let w = |_: CheckerId, p: Probe, _: Instant| match p {
        Probe::Http { url: 1 } => (Outcome::Failed(Failure::Digest), Duration::ZERO),
        _ => (Outcome::Success, Duration::ZERO),
    };
    s.run(t1 + secs(30), &w);
    assert_eq!(
        s.logs_since(t1)[..2],
        [
            "HTTP_CHECK on service [198.51.100.12]:tcp:80 failed after 1 retries.",
            "Removing service [198.51.100.12]:tcp:80 from VS [192.0.2.100]:tcp:80",
        ]
    );
    assert_eq!(s.lvs.checkers[0].failed_url, Some(1));
    // Recovery: /b answers (success line names the digest), then /a and /b
    // must both pass again before the server is back.
    let t2 = s.now;
    s.run(t2 + secs(30), &ok);
    let l = s.logs_since(t2);
    assert_eq!(
        l[..4],
        [
            "MD5 digest success to [198.51.100.12]:tcp:80 url(/b)",
            "HTTP status code success to [198.51.100.12]:tcp:80 url(/a)",
            "MD5 digest success to [198.51.100.12]:tcp:80 url(/b)",
            "Remote Web server [198.51.100.12]:tcp:80 succeed on service.",
        ],
        "{l:?}"
    );
    assert_eq!(
        l[4],
        "Adding service [198.51.100.12]:tcp:80 to VS [192.0.2.100]:tcp:80"
    );
}

#[test]
fn misc_exit_codes_retries_and_dynamic_weight() {
    let cfg = config(&format!(
        "global_defs {{\n enable_script_security\n}}\n{VRRP}virtual_server 192.0.2.100 80 {{\n protocol TCP\n lb_algo wrr\n lb_kind NAT\n delay_loop 3\n real_server 198.51.100.13 80 {{\n  weight 7\n  MISC_CHECK {{\n   misc_path \"/usr/local/bin/chk arg\"\n   misc_dynamic\n   warmup 0\n  }}\n }}\n}}\n"
    ));
    let mut s = Sim::new(cfg);
    let t0 = s.now;
    let exit = |code: u8| {
        move |_: CheckerId, _: Probe, _: Instant| {
            (
                Outcome::Script(ScriptOutcome::Exited(code)),
                Duration::from_millis(50),
            )
        }
    };
    s.run(t0 + secs(2), &exit(0));
    assert_eq!(
        s.logs_since(t0 + secs(1)),
        [
            "Misc check for [[198.51.100.13]:tcp:80 VS [192.0.2.100]:tcp:80] by [/usr/local/bin/chk] succeeded."
        ]
    );
    // misc_dynamic: exit 12 = weight 10.
    let t1 = s.now;
    s.run(t1 + secs(3), &exit(12));
    assert_eq!(
        s.logs_since(t1),
        [
            "Changing weight from 7 to 10 for active service [198.51.100.13]:tcp:80 of VS [192.0.2.100]:tcp:80"
        ]
    );
    assert_eq!(s.table(true).dests[0].spec.weight, 10);
    // Exit 1: failed (MISC retry defaults to 0).
    let t2 = s.now;
    s.run(t2 + secs(3), &exit(1));
    assert_eq!(
        s.logs_since(t2)[..2],
        [
            "Misc check for [[198.51.100.13]:tcp:80 VS [192.0.2.100]:tcp:80] by [/usr/local/bin/chk] failed (exited with status 1).",
            "Removing service [198.51.100.13]:tcp:80 from VS [192.0.2.100]:tcp:80",
        ]
    );
    // Exit 0 restores the configured weight.
    let t3 = s.now;
    s.run(t3 + secs(3), &exit(0));
    let l = s.logs_since(t3);
    assert!(
        l.iter()
            .any(|x| x.starts_with("Changing weight from 10 to 7 for inactive service")),
        "{l:?}"
    );
    assert!(l.iter().any(|x| x.ends_with("succeeded.")));
    assert!(s.lvs.real_servers[0].alive);
    // A timeout.
    let t4 = s.now;
    let to =
        |_: CheckerId, _: Probe, _: Instant| (Outcome::Script(ScriptOutcome::TimedOut), secs(1));
    s.run(t4 + secs(5), &to);
    assert!(
        s.logs_since(t4)
            .iter()
            .any(|x| x.ends_with("by [/usr/local/bin/chk] timed out.")),
        "{:?}",
        s.logs_since(t4)
    );
}

#[test]
fn misc_rounds_are_timed_from_the_start_of_the_script() {
    let cfg = config(&format!(
        "global_defs {{\n enable_script_security\n}}\n{VRRP}virtual_server 192.0.2.100 80 {{\n protocol TCP\n lb_algo rr\n lb_kind NAT\n delay_loop 3\n real_server 198.51.100.13 80 {{\n  MISC_CHECK {{\n   misc_path /bin/true\n   warmup 0\n  }}\n }}\n}}\n"
    ));
    let mut s = Sim::new(cfg);
    let starts = std::sync::Mutex::new(Vec::new());
    let w = |_: CheckerId, _: Probe, now: Instant| {
        starts.lock().unwrap().push(now);
        (Outcome::Script(ScriptOutcome::Exited(0)), secs(1))
    };
    s.run(s.now + secs(8), &w);
    let st = starts.lock().unwrap();
    assert!(st.len() >= 3);
    assert_eq!(st[1].saturating_duration_since(st[0]), secs(3));
    assert_eq!(st[2].saturating_duration_since(st[1]), secs(3));
}

#[test]
fn warmup_spreads_first_probes_deterministically() {
    let cfg = vs(
        " delay_loop 10\n real_server 198.51.100.11 80 {\n  TCP_CHECK {\n  }\n  TCP_CHECK {\n   connect_port 81\n  }\n }\n",
    );
    let now = Instant::from_secs(5);
    let mut out = Actions::new();
    let a = Lvs::start(&cfg, now, 1, &mut out);
    let b = Lvs::start(&cfg, now, 1, &mut out);
    let c = Lvs::start(&cfg, now, 2, &mut out);
    for l in [&a, &b, &c] {
        for ck in &l.checkers {
            let t = ck.next_at.unwrap();
            assert!(t >= now + BOOTSTRAP_DELAY && t <= now + BOOTSTRAP_DELAY + secs(10));
        }
    }
    assert_eq!(a.checkers[0].next_at, b.checkers[0].next_at);
    assert_ne!(
        (a.checkers[0].next_at, a.checkers[1].next_at),
        (c.checkers[0].next_at, c.checkers[1].next_at)
    );
}

#[test]
fn ha_suspend_stops_probing_and_resumes() {
    let mut s = Sim::new(vs(
        " ha_suspend\n delay_loop 2\n real_server 198.51.100.11 80 {\n  TCP_CHECK {\n   warmup 0\n  }\n }\n",
    ));
    let mut out = Actions::new();
    s.lvs.set_active(&s.cfg, 0, false, false, &mut out);
    s.absorb(&out, &ok);
    assert!(s.logs.iter().any(|l| l.1 == "Suspending healthchecker for service [198.51.100.11]:tcp:80 for VS [192.0.2.100]:tcp:80"));
    let probes = s.lvs.checkers[0].probes;
    s.run(s.now + secs(10), &refused);
    assert_eq!(s.lvs.checkers[0].probes, probes);
    assert!(s.lvs.real_servers[0].alive);
    let mut out = Actions::new();
    s.lvs.set_active(&s.cfg, 0, true, false, &mut out);
    s.absorb(&out, &ok);
    s.run(s.now + secs(3), &refused);
    assert!(!s.lvs.real_servers[0].alive);
}

#[test]
fn shutdown_logs_every_server_and_omega_runs_notifies() {
    for omega in [false, true] {
        let mut s = Sim::new(vs(&format!(
            "{}\n real_server 198.51.100.11 80 {{\n  inhibit_on_failure\n  TCP_CHECK {{\n   warmup 0\n  }}\n }}\n real_server 198.51.100.12 80 {{\n }}\n",
            if omega { " omega" } else { "" }
        )));
        s.run(s.now + secs(2), &refused);
        s.notifies.clear();
        let mut out = Actions::new();
        let t = s.now;
        s.lvs.handle_shutdown(&s.cfg, &mut out);
        s.absorb(&out, &ok);
        assert_eq!(
            s.logs_since(t),
            [
                "Shutting down (inhibited) service [198.51.100.11]:tcp:80 from VS [192.0.2.100]:tcp:80",
                "Shutting down service [198.51.100.12]:tcp:80 from VS [192.0.2.100]:tcp:80",
            ]
        );
        let expect: &[Action] = if omega {
            &[
                Action::NotifyRs {
                    rs: RsId(1),
                    up: false,
                },
                Action::NotifyQuorum {
                    vs: VsId(0),
                    up: false,
                },
            ]
        } else {
            &[]
        };
        assert_eq!(s.notifies.iter().map(|n| n.1).collect::<Vec<_>>(), expect);
        assert_eq!(s.lvs.poll_timeout(), None);
    }
}

#[test]
fn reload_keeps_the_state_of_unchanged_servers() {
    let mut s = Sim::new(vs(TCP_RS));
    s.run(s.now + secs(2), &refused);
    assert!(!s.lvs.real_servers[0].alive);
    // Same server, plus a new one with alpha.
    let new = vs(&format!(
        "{TCP_RS} real_server 198.51.100.12 80 {{\n  alpha\n  TCP_CHECK {{\n  }}\n }}\n"
    ));
    let mut out = Actions::new();
    let old = core::mem::replace(&mut s.cfg, new);
    s.lvs.reload(&old, &s.cfg, s.now, 7, &mut out);
    assert!(!s.lvs.real_servers[0].alive, "still down");
    assert!(!s.lvs.checkers[0].is_up);
    assert!(s.lvs.checkers[0].has_run);
    assert!(!s.lvs.real_servers[1].alive, "alpha: down until checked");
    assert!(!s.lvs.virtual_servers[0].quorum_up);
    // Nothing is re-announced for the kept virtual server.
    let l: Vec<String> = out
        .iter()
        .filter_map(|a| match a {
            Action::Log(e) => Some(e.display(&s.cfg).to_string()),
            _ => None,
        })
        .collect();
    assert!(l.iter().all(|x| !x.starts_with("Activating")), "{l:?}");
}

#[test]
fn plan_adds_changes_and_removes_in_order() {
    let s = Sim::new(vs(
        " real_server 198.51.100.11 80 {\n }\n real_server 198.51.100.12 80 {\n  weight 4\n }\n",
    ));
    let want = s.table(true);
    let mut installed = Table::default();
    let mut cmds: heapless::Vec<Cmd, MAX_CMDS> = heapless::Vec::new();
    plan(&installed, &want, &mut cmds);
    assert!(matches!(cmds[0], Cmd::NewService(_)));
    assert!(matches!(cmds[1], Cmd::NewDest(_, d) if d.weight == 1));
    assert!(matches!(cmds[2], Cmd::NewDest(_, d) if d.weight == 4));
    assert_eq!(cmds.len(), 3);
    for c in &cmds {
        installed.apply(c);
    }
    assert_eq!(installed, want);
    plan(&installed, &want, &mut cmds);
    assert!(cmds.is_empty(), "nothing to do: {cmds:?}");
    // One weight changes, one server goes.
    let mut want2 = want.clone();
    want2.dests[1].spec.weight = 9;
    want2.dests.swap_remove(0);
    plan(&installed, &want2, &mut cmds);
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    assert!(matches!(cmds[0], Cmd::DelDest(_, d) if d.weight == 1));
    assert!(matches!(cmds[1], Cmd::SetDest(_, d) if d.weight == 9));
    for c in &cmds {
        installed.apply(c);
    }
    assert_eq!(installed.dests.len(), 1);
    // Not programmed any more (BACKUP): the service goes, with its dests.
    plan(&installed, &Table::default(), &mut cmds);
    assert_eq!(cmds.len(), 1);
    assert!(matches!(cmds[0], Cmd::DelService(_)));
    installed.apply(&cmds[0]);
    assert_eq!(installed, Table::default());
}

#[test]
fn service_spec_carries_persistence_and_flags() {
    let cfg = vs(" persistence_timeout 50\n real_server 198.51.100.11 80 {\n }\n");
    let s = super::ipvs::service_spec(&cfg.lvs.virtual_servers[0]);
    assert_eq!(s.timeout_s, 50);
    assert_eq!(s.flags, crate::config::lvs::svc_flags::PERSISTENT);
    assert_eq!(s.netmask, u32::MAX);
    assert_eq!(s.key.protocol, 6);
    let cfg = vs(" real_server 198.51.100.11 80 {\n }\n");
    let s = super::ipvs::service_spec(&cfg.lvs.virtual_servers[0]);
    assert_eq!((s.timeout_s, s.flags), (0, 0));
}
