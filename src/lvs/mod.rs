//! The load-balancing side, pure: health-checker state machines, real
//! server and virtual server state (alive, quorum, sorry server), and the
//! IPVS table that should exist. No clock (time comes in as `now`), no
//! sockets, no allocation: the shell (`daemon::lvs`) runs the probes
//! (TCP connects, HTTP GETs, MISC scripts), reports their outcome, logs the
//! [`Event`]s and programs IPVS.
//!
//! The semantics are keepalived 2.2's (`check_tcp.c` `tcp_epilog`,
//! `check_http.c` `epilog`/`timeout_epilog`, `check_misc.c`,
//! `ipwrapper.c` `update_svr_checker_state`/`perform_svr_state`/
//! `update_quorum_state`):
//!
//! - A checker starts *up* (or *down* with `alpha`); its first check runs
//!   1 s after start plus a random part of `warmup` (default `delay_loop`).
//! - At start one failure is enough to mark a checker down; once it has
//!   been up, a checker goes down after `retry + 1` failed attempts in a
//!   row, `delay_before_retry` apart (`delay_loop` after a success or after
//!   the final failure). A success marks a down checker up at once.
//! - `HTTP_GET` checks its URLs one per round (`delay_loop` apart, or back
//!   to back with `fast_recovery` while not up); after a failure only the
//!   failed URL is retried (every `max(delay_loop, delay_before_retry)`),
//!   and once it answers again every URL must pass before the server is up.
//! - `MISC_CHECK`: exit 0 = success, 1 (and any other status, a signal, a
//!   timeout) = failure; with `misc_dynamic` 2..=255 = success with weight
//!   status - 2. Rounds are timed from the script's start.
//! - A real server is *alive* while none of its checkers is down. Going
//!   down removes it from the pool ("Removing service ... from VS ...") or,
//!   with `inhibit_on_failure`, keeps it with weight 0 ("Disabling service
//!   ... of VS ..."); `notify_up`/`notify_down` run on each change.
//! - Quorum: the sum of the alive servers' weights against `quorum` ±
//!   `hysteresis`; losing it puts the `sorry_server` in and takes the alive
//!   servers out of the pool, gaining it reverses that; `quorum_up` /
//!   `quorum_down` run.
//!
//! Shell loop, each turn with one `now`: report finished probes
//! ([`Lvs::handle_result`]), then [`Lvs::handle_timeout`] (starts due
//! probes: [`Action::Start`]), execute the actions, and sleep at most until
//! [`Lvs::poll_timeout`]. After any [`Action::PoolChanged`] recompute the
//! IPVS table with [`ipvs::desired`].

pub mod http;
pub mod ipvs;
mod log;
pub mod report;
#[cfg(all(test, feature = "lvs"))]
mod tests;

use heapless::Vec;

use crate::config::Config;
use crate::config::lvs::{CheckerKind, LvsConfig};
use crate::limits::{MAX_CHECKERS, MAX_REAL_SERVERS, MAX_VIRTUAL_SERVERS};
use crate::time::{Duration, Instant};
use crate::track::ScriptOutcome;

pub use log::EventDisplay;

/// keepalived's `BOOTSTRAP_DELAY`: the first checks run 1 s after start.
pub const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);

/// Index into `LvsConfig::checkers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckerId(pub u16);
/// Index into `LvsConfig::real_servers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RsId(pub u16);
/// Index into `LvsConfig::virtual_servers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VsId(pub u16);

/// Why a TCP/HTTP probe failed (for keepalived's per-attempt log words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The connect failed (refused, unreachable, ...): `errno`.
    Connect(i32),
    /// No connection within `connect_timeout`.
    ConnectTimeout,
    /// The request could not be written in time / at all.
    Write,
    /// No (more) response within `connect_timeout`.
    ReadTimeout,
    /// The connection failed while reading: `errno`.
    Read(i32),
    /// The server closed without a complete HTTP header.
    NoData,
    /// The status code is not one of `status_code`.
    Status(u16),
    /// The body's MD5 is not `digest`.
    Digest,
    /// No socket could be made (`errno`): not the server's fault, but
    /// keepalived counts it as a failure too.
    Local(i32),
}

/// What a finished probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// TCP connected / HTTP answered as configured.
    Success,
    Failed(Failure),
    /// A MISC_CHECK script ended.
    Script(ScriptOutcome),
}

/// What the shell is asked to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    Tcp,
    /// GET of URL number `url` of the checker.
    Http {
        url: u8,
    },
    Misc,
}

/// Things to log (keepalived's lines; see [`EventDisplay`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// "Activating healthchecker for service X for VS Y" (start, ha_suspend resume).
    Activating { ck: CheckerId },
    /// "Suspending healthchecker for service X for VS Y" (ha_suspend).
    Suspending { ck: CheckerId },
    /// "Deactivating healthchecker for service X for VS Y" (start, ha_suspend).
    Deactivating { ck: CheckerId },
    /// "TCP connection to X success."
    TcpSuccess { ck: CheckerId },
    /// "TCP_CHECK on service X failed[ after N retries]."
    TcpFailed { ck: CheckerId, retries: u32 },
    /// `log_all_failures`: "TCP connection to X failed." / "timeout."
    TcpAttemptFailed { ck: CheckerId, timeout: bool },
    /// "HTTP status code|MD5 digest success to X url(P)" (while not up).
    HttpUrlSuccess { ck: CheckerId, url: u8 },
    /// "Remote Web server X succeed on service."
    HttpSuccess { ck: CheckerId },
    /// "HTTP_CHECK on service X failed[ after N retries]."
    HttpFailed { ck: CheckerId, retries: u32 },
    /// `log_all_failures`: "<reason> server X."
    HttpAttemptFailed { ck: CheckerId, why: Failure },
    /// "Misc check for [X VS Y] by [P] succeeded|failed|timed out ..."
    Misc {
        ck: CheckerId,
        outcome: ScriptOutcome,
        success: bool,
        /// `retry` when the final failure comes after retries, else 0.
        retries: u32,
    },
    /// "Adding service X to VS Y" / "Enabling service X of VS Y".
    RsUp { rs: RsId },
    /// "Removing service X from VS Y" / "Disabling service X of VS Y".
    RsDown { rs: RsId },
    /// "Changing weight from A to B for [in]active service X of VS Y".
    Weight {
        rs: RsId,
        old: u32,
        new: u32,
        alive: bool,
    },
    /// "Gained quorum Q+H=T <= S for VS Y".
    QuorumGained { vs: VsId, threshold: i64, sum: i64 },
    /// "Lost quorum Q-H=T > S for VS Y" / "Starting with quorum down ...".
    QuorumLost {
        vs: VsId,
        threshold: i64,
        sum: i64,
        init: bool,
    },
    /// "Adding|Enabling sorry server X to VS Y".
    SorryIn { vs: VsId },
    /// "Removing|Disabling sorry server X from VS Y".
    SorryOut { vs: VsId },
    /// "Adding alive servers to" / "Removing alive servers from the pool for VS Y".
    Pool { vs: VsId, add: bool },
    /// "Shutting down [(inhibited) ]service X from VS Y".
    ShuttingDown { rs: RsId, inhibited: bool },
}

/// Output of the core, executed in order by the shell.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Run this probe now (the shell reports it with `handle_result`).
    Start {
        ck: CheckerId,
        probe: Probe,
    },
    /// Stop a running probe (ha_suspend; shutdown): no result expected.
    Abort {
        ck: CheckerId,
    },
    Log(Event),
    /// Run `notify_up` (`up`) or `notify_down` of the real server.
    NotifyRs {
        rs: RsId,
        up: bool,
    },
    /// Run `quorum_up` / `quorum_down` of the virtual server.
    NotifyQuorum {
        vs: VsId,
        up: bool,
    },
    /// What IPVS should hold changed: recompute [`ipvs::desired`].
    PoolChanged {
        vs: VsId,
    },
}

/// Most actions of one call: every checker started (or aborted) plus the
/// cascade of one result (log, server change, notify, weight, quorum,
/// sorry server, pool, quorum notify, pool change).
pub const LVS_ACTIONS_MAX: usize =
    MAX_CHECKERS + 4 * MAX_REAL_SERVERS + 8 * MAX_VIRTUAL_SERVERS + 16;

/// A bounded action list; overflow is a bug (`debug_assert`), counted.
#[derive(Debug, Default)]
pub struct Actions {
    list: Vec<Action, LVS_ACTIONS_MAX>,
    pub overflow: u64,
}

impl Actions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, a: Action) {
        if self.list.push(a).is_err() {
            debug_assert!(false, "LVS action list overflow");
            self.overflow += 1;
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = &Action> {
        self.list.iter()
    }
    pub fn clear(&mut self) {
        self.list.clear();
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    pub fn len(&self) -> usize {
        self.list.len()
    }
}

/// One checker's state (keepalived's `checker_t` fields of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CheckerState {
    pub is_up: bool,
    pub has_run: bool,
    pub retry_it: u32,
    /// When the next probe starts (`None` while one runs).
    pub next_at: Option<Instant>,
    pub running: bool,
    /// When the running probe started (MISC rounds are timed from it).
    pub started_at: Instant,
    /// `ha_suspend`: false while the owning instance is not MASTER.
    pub enabled: bool,
    /// HTTP: the URL of the next probe.
    pub url: u8,
    /// HTTP: the URL that failed, while the server is down.
    pub failed_url: Option<u8>,
    /// MISC: the last exit status seen (for `misc_dynamic`).
    pub last_exit: Option<u8>,
    /// Probes run and failed (for `keepvip status` / dumps).
    pub probes: u64,
    pub failures: u64,
    pub last_outcome: Option<Outcome>,
}

/// One real server's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RsState {
    pub alive: bool,
    pub num_failed: u16,
    /// The weight IPVS gets while the server is alive (configured weight,
    /// or the `misc_dynamic` one).
    pub weight: u32,
    pub last_change: Option<Instant>,
}

/// One virtual server's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VsState {
    pub quorum_up: bool,
    /// The sorry server is in the pool (quorum lost).
    pub sorry_alive: bool,
    /// The checkers run (false while suspended by `ha_suspend`).
    pub active: bool,
}

/// All checker, real server and virtual server state of one configuration.
#[derive(Debug)]
pub struct Lvs {
    pub checkers: Vec<CheckerState, MAX_CHECKERS>,
    pub real_servers: Vec<RsState, MAX_REAL_SERVERS>,
    pub virtual_servers: Vec<VsState, MAX_VIRTUAL_SERVERS>,
}

/// SplitMix64: the warm-up spread (no need for more).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn cfg_ck(l: &LvsConfig, ck: usize) -> &crate::config::lvs::Checker {
    &l.checkers[ck]
}

impl Lvs {
    /// Empty (no virtual servers).
    pub const fn empty() -> Lvs {
        Lvs {
            checkers: Vec::new(),
            real_servers: Vec::new(),
            virtual_servers: Vec::new(),
        }
    }

    /// The start state of `cfg` (keepalived's `init_services`): checkers
    /// up unless `alpha`, servers alive unless a checker is down, first
    /// probes at `now` + 1 s + a random part of `warmup` (from `seed`).
    /// Emits "Activating healthchecker" lines and the initial quorum
    /// events ("Gained quorum" / "Starting with quorum down").
    pub fn start(cfg: &Config, now: Instant, seed: u64, out: &mut Actions) -> Lvs {
        let mut l = Lvs::empty();
        l.init(cfg, now, seed, out, None);
        l
    }

    /// Rebuilds `self` for `cfg` in place (SIGHUP), taking over the state of
    /// virtual servers, real servers and checkers that are still
    /// configured the same way in `new` (matched by address, port and
    /// protocol, and checker type and target): they keep their up/down
    /// state and schedule; the rest starts fresh. Probes that were running
    /// are aborted by the shell before and are started again.
    pub fn reload(
        &mut self,
        old_cfg: &Config,
        new_cfg: &Config,
        now: Instant,
        seed: u64,
        out: &mut Actions,
    ) {
        let old = core::mem::replace(self, Lvs::empty());
        self.init(new_cfg, now, seed, out, Some((old_cfg, &old)));
    }

    fn init(
        &mut self,
        cfg: &Config,
        now: Instant,
        seed: u64,
        out: &mut Actions,
        old: Option<(&Config, &Lvs)>,
    ) {
        let l = &cfg.lvs;
        let mut rng = seed;
        self.checkers.clear();
        self.real_servers.clear();
        self.virtual_servers.clear();
        for (i, c) in l.checkers.iter().enumerate() {
            let spread = if c.warmup_us > 0 {
                splitmix(&mut rng) % (c.warmup_us + 1)
            } else {
                0
            };
            let mut st = CheckerState {
                is_up: !c.alpha,
                has_run: false,
                // keepalived: one failure is enough initially.
                retry_it: c.retry,
                next_at: Some(now + BOOTSTRAP_DELAY + Duration::from_micros(spread)),
                enabled: true,
                ..CheckerState::default()
            };
            if let Some((ocfg, olvs)) = old
                && let Some(o) = find_old_checker(ocfg, cfg, i)
                && let Some(os) = olvs.checkers.get(o)
            {
                st.is_up = os.is_up;
                st.has_run = os.has_run;
                st.retry_it = if os.retry_it > 0 && c.retry > 0 {
                    os.retry_it.min(c.retry - 1)
                } else {
                    os.retry_it.min(c.retry)
                };
                st.next_at = match os.next_at {
                    Some(t) if !os.running => Some(t),
                    _ => Some(now),
                };
                st.url = 0;
                st.failed_url = None;
                st.last_exit = os.last_exit;
                st.probes = os.probes;
                st.failures = os.failures;
                st.last_outcome = os.last_outcome;
                if !st.is_up && matches!(c.kind, CheckerKind::Http(_)) {
                    st.failed_url = Some(0);
                }
            }
            let _ = self.checkers.push(st);
        }
        for (r, rs) in l.real_servers.iter().enumerate() {
            let num_failed = l
                .checkers_of(r)
                .iter()
                .enumerate()
                .filter(|(k, _)| !self.checkers[usize::from(rs.checker_first) + k].is_up)
                .count() as u16;
            let mut st = RsState {
                alive: num_failed == 0,
                num_failed,
                weight: rs.weight,
                last_change: Some(now),
            };
            if let Some((ocfg, olvs)) = old
                && let Some(o) = find_old_rs(ocfg, cfg, r)
                && let Some(os) = olvs.real_servers.get(o)
            {
                st.last_change = os.last_change;
                if ocfg.lvs.real_servers[o].weight == rs.weight {
                    st.weight = os.weight;
                }
                if os.alive && num_failed > 0 {
                    // Changed checkers: down until they pass.
                    st.alive = false;
                } else if !os.alive && num_failed == 0 {
                    st.alive = true;
                }
            }
            let _ = self.real_servers.push(st);
        }
        for (v, vs) in l.virtual_servers.iter().enumerate() {
            let mut st = VsState {
                quorum_up: false,
                sorry_alive: false,
                active: true,
            };
            let mut reloaded = false;
            if let Some((ocfg, olvs)) = old
                && let Some(o) = ocfg.lvs.virtual_servers.iter().position(|x| same_vs(x, vs))
                && let Some(os) = olvs.virtual_servers.get(o)
            {
                st = *os;
                reloaded = true;
            }
            let _ = self.virtual_servers.push(st);
            if vs.rs_count == 0 {
                continue;
            }
            if !reloaded && !vs.ha_suspend {
                for r in usize::from(vs.rs_first)..usize::from(vs.rs_first + vs.rs_count) {
                    let rs = &l.real_servers[r];
                    for k in usize::from(rs.checker_first)
                        ..usize::from(rs.checker_first + rs.checker_count)
                    {
                        out.push(Action::Log(Event::Activating {
                            ck: CheckerId(k as u16),
                        }));
                    }
                }
            }
            self.update_quorum(cfg, v, !reloaded, out);
            out.push(Action::PoolChanged { vs: VsId(v as u16) });
        }
    }

    /// The earliest time a probe is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.checkers
            .iter()
            .filter(|c| !c.running)
            .filter_map(|c| c.next_at)
            .min()
    }

    /// Starts every due probe (a suspended checker only re-arms).
    pub fn handle_timeout(&mut self, cfg: &Config, now: Instant, out: &mut Actions) {
        let l = &cfg.lvs;
        for k in 0..self.checkers.len() {
            let st = self.checkers[k];
            let Some(at) = st.next_at else { continue };
            if st.running || at > now {
                continue;
            }
            let c = cfg_ck(l, k);
            let vs = usize::from(l.real_servers[usize::from(c.rs)].vs);
            if l.virtual_servers[vs].rs_count == 0 {
                self.checkers[k].next_at = None;
                continue;
            }
            if !st.enabled || !self.virtual_servers[vs].active {
                self.checkers[k].next_at = Some(now + Duration::from_micros(c.delay_loop_us));
                continue;
            }
            if out.len() + 1 >= LVS_ACTIONS_MAX - 64 {
                // Leave the rest due for the next call.
                break;
            }
            let probe = match &c.kind {
                CheckerKind::Tcp => Probe::Tcp,
                CheckerKind::Http(h) => {
                    let n = h.urls.len().max(1) as u8;
                    let url = st.failed_url.unwrap_or(st.url) % n;
                    Probe::Http { url }
                }
                CheckerKind::Misc(_) => Probe::Misc,
            };
            let s = &mut self.checkers[k];
            s.running = true;
            s.next_at = None;
            s.started_at = now;
            s.probes += 1;
            out.push(Action::Start {
                ck: CheckerId(k as u16),
                probe,
            });
        }
    }

    /// A probe started by [`Action::Start`] ended.
    pub fn handle_result(
        &mut self,
        cfg: &Config,
        now: Instant,
        ck: CheckerId,
        outcome: Outcome,
        out: &mut Actions,
    ) {
        let k = usize::from(ck.0);
        let Some(st) = self.checkers.get_mut(k) else {
            return;
        };
        if !st.running {
            return;
        }
        st.running = false;
        st.last_outcome = Some(outcome);
        if !matches!(
            outcome,
            Outcome::Success | Outcome::Script(ScriptOutcome::Exited(0))
        ) {
            st.failures += 1;
        }
        let c = cfg_ck(&cfg.lvs, k);
        match &c.kind {
            CheckerKind::Tcp => self.tcp_result(cfg, now, k, outcome, out),
            CheckerKind::Http(h) => {
                let n = h.urls.len().max(1) as u8;
                self.http_result(cfg, now, k, n, outcome, out)
            }
            CheckerKind::Misc(_) => self.misc_result(cfg, now, k, outcome, out),
        }
    }

    fn tcp_result(&mut self, cfg: &Config, now: Instant, k: usize, o: Outcome, out: &mut Actions) {
        let c = cfg_ck(&cfg.lvs, k);
        let ck = CheckerId(k as u16);
        let success = o == Outcome::Success;
        let st = self.checkers[k];
        if !success && st.is_up && c.log_all_failures {
            out.push(Action::Log(Event::TcpAttemptFailed {
                ck,
                timeout: o == Outcome::Failed(Failure::ConnectTimeout),
            }));
        }
        let delay;
        if success || st.retry_it >= c.retry {
            delay = c.delay_loop_us;
            self.checkers[k].retry_it = 0;
            if success && (!st.is_up || !st.has_run) {
                out.push(Action::Log(Event::TcpSuccess { ck }));
                self.checker_state(cfg, now, k, true, out);
            } else if !success && (st.is_up || !st.has_run) {
                let retries = if c.retry > 0 && st.has_run {
                    c.retry
                } else {
                    0
                };
                out.push(Action::Log(Event::TcpFailed { ck, retries }));
                self.checker_state(cfg, now, k, false, out);
            }
        } else {
            delay = c.delay_before_retry_us;
            self.checkers[k].retry_it += 1;
        }
        let s = &mut self.checkers[k];
        s.has_run = true;
        s.next_at = Some(now + Duration::from_micros(delay));
    }

    fn http_result(
        &mut self,
        cfg: &Config,
        now: Instant,
        k: usize,
        urls: u8,
        o: Outcome,
        out: &mut Actions,
    ) {
        let c = cfg_ck(&cfg.lvs, k);
        let CheckerKind::Http(h) = &c.kind else {
            return;
        };
        let ck = CheckerId(k as u16);
        let st = self.checkers[k];
        let cur = st.failed_url.unwrap_or(st.url) % urls;
        let mut delay;
        if o == Outcome::Success {
            if !st.is_up {
                out.push(Action::Log(Event::HttpUrlSuccess { ck, url: cur }));
            }
            // REGISTER_CHECKER_NEW.
            let s = &mut self.checkers[k];
            s.retry_it = 0;
            if st.failed_url.is_some() {
                // The failed URL answers again: check them all.
                s.failed_url = None;
                s.url = 0;
            } else {
                s.url = cur + 1;
                if s.url >= urls {
                    s.url = 0;
                    if !st.is_up || !st.has_run {
                        out.push(Action::Log(Event::HttpSuccess { ck }));
                        self.checker_state(cfg, now, k, true, out);
                    }
                    self.checkers[k].has_run = true;
                }
            }
            delay = c.delay_loop_us;
            let s = &mut self.checkers[k];
            if !s.has_run {
                s.retry_it = c.retry;
            }
        } else {
            let Outcome::Failed(why) = o else {
                return;
            };
            if st.is_up || !st.has_run {
                if c.log_all_failures {
                    out.push(Action::Log(Event::HttpAttemptFailed { ck, why }));
                }
                // REGISTER_CHECKER_RETRY.
                let s = &mut self.checkers[k];
                s.has_run = true;
                s.retry_it += 1;
                if s.retry_it > c.retry {
                    if st.is_up {
                        let retries = if c.retry > 0 { s.retry_it - 1 } else { 0 };
                        out.push(Action::Log(Event::HttpFailed { ck, retries }));
                        self.checker_state(cfg, now, k, false, out);
                    }
                    self.checkers[k].failed_url = Some(cur);
                }
            }
            // REGISTER_CHECKER_FAILED: nothing changes.
            delay = if self.checkers[k].failed_url.is_some() {
                c.delay_before_retry_us.max(c.delay_loop_us)
            } else {
                c.delay_before_retry_us
            };
        }
        let s = &mut self.checkers[k];
        if h.fast_recovery && (!s.has_run || (!s.is_up && s.failed_url.is_none())) {
            delay = 0;
        }
        s.next_at = Some(now + Duration::from_micros(delay));
    }

    fn misc_result(&mut self, cfg: &Config, now: Instant, k: usize, o: Outcome, out: &mut Actions) {
        let c = cfg_ck(&cfg.lvs, k);
        let CheckerKind::Misc(m) = &c.kind else {
            return;
        };
        let ck = CheckerId(k as u16);
        let st = self.checkers[k];
        let outcome = match o {
            Outcome::Script(s) => s,
            // A script that could not be started.
            _ => ScriptOutcome::Exited(127),
        };
        let mut log: Option<(bool, u32)> = None;
        let mut update = true;
        match outcome {
            ScriptOutcome::Exited(code) if code == 0 || (m.misc_dynamic && code >= 2) => {
                let rs = usize::from(c.rs);
                if st.last_exit != Some(code) {
                    let w = if code >= 2 {
                        u32::from(code - 2)
                    } else {
                        cfg.lvs.real_servers[rs].weight
                    };
                    self.set_weight(cfg, rs, w, out);
                    self.checkers[k].last_exit = Some(code);
                }
                if !st.is_up || !st.has_run {
                    log = Some((true, 0));
                }
                self.checkers[k].retry_it = 0;
            }
            _ if st.is_up || !st.has_run => {
                if st.retry_it < c.retry {
                    self.checkers[k].retry_it += 1;
                    if c.log_all_failures {
                        log = Some((false, c.retry));
                        update = false;
                    }
                } else {
                    self.checkers[k].retry_it = 0;
                    if let ScriptOutcome::Exited(code) = outcome {
                        self.checkers[k].last_exit = Some(code);
                    }
                    log = Some((false, c.retry));
                }
            }
            _ => {}
        }
        if let Some((success, retries)) = log {
            out.push(Action::Log(Event::Misc {
                ck,
                outcome,
                success,
                retries,
            }));
            if update {
                self.checker_state(cfg, now, k, success, out);
            }
        }
        let s = &mut self.checkers[k];
        let delay = if s.retry_it > 0 {
            c.delay_before_retry_us
        } else {
            c.delay_loop_us
        };
        let next = s.started_at + Duration::from_micros(delay);
        s.next_at = Some(if next > now { next } else { now });
        s.has_run = true;
    }

    /// keepalived's `update_svr_checker_state` + `set_checker_state`.
    fn checker_state(&mut self, cfg: &Config, now: Instant, k: usize, up: bool, out: &mut Actions) {
        let c = cfg_ck(&cfg.lvs, k);
        let rs = usize::from(c.rs);
        let st = self.checkers[k];
        if st.is_up == up {
            if !st.has_run {
                if c.alpha || !up {
                    out.push(Action::NotifyRs {
                        rs: RsId(rs as u16),
                        up: self.real_servers[rs].alive,
                    });
                }
                self.checkers[k].has_run = true;
            }
            return;
        }
        self.checkers[k].has_run = true;
        let nf = self.real_servers[rs].num_failed;
        if up && nf <= 1 {
            self.server_state(cfg, now, rs, true, out);
        } else if !up && nf == 0 {
            self.server_state(cfg, now, rs, false, out);
        }
        self.checkers[k].is_up = up;
        let r = &mut self.real_servers[rs];
        if up {
            r.num_failed = r.num_failed.saturating_sub(1);
        } else {
            r.num_failed += 1;
        }
    }

    /// keepalived's `perform_svr_state`.
    fn server_state(
        &mut self,
        cfg: &Config,
        now: Instant,
        rs: usize,
        alive: bool,
        out: &mut Actions,
    ) {
        if self.real_servers[rs].alive == alive {
            return;
        }
        let id = RsId(rs as u16);
        out.push(Action::Log(if alive {
            Event::RsUp { rs: id }
        } else {
            Event::RsDown { rs: id }
        }));
        let r = &mut self.real_servers[rs];
        r.alive = alive;
        r.last_change = Some(now);
        out.push(Action::NotifyRs { rs: id, up: alive });
        let vs = usize::from(cfg.lvs.real_servers[rs].vs);
        self.update_quorum(cfg, vs, false, out);
        out.push(Action::PoolChanged {
            vs: VsId(vs as u16),
        });
    }

    /// keepalived's `update_svr_wgt` (misc_dynamic).
    fn set_weight(&mut self, cfg: &Config, rs: usize, w: u32, out: &mut Actions) {
        let old = self.real_servers[rs].weight;
        if old == w {
            return;
        }
        self.real_servers[rs].weight = w;
        out.push(Action::Log(Event::Weight {
            rs: RsId(rs as u16),
            old,
            new: w,
            alive: self.real_servers[rs].alive,
        }));
        let vs = usize::from(cfg.lvs.real_servers[rs].vs);
        self.update_quorum(cfg, vs, false, out);
        out.push(Action::PoolChanged {
            vs: VsId(vs as u16),
        });
    }

    /// Sum of the weights of the alive real servers of `vs`.
    pub fn live_weight(&self, cfg: &Config, vs: usize) -> i64 {
        let v = &cfg.lvs.virtual_servers[vs];
        let a = usize::from(v.rs_first);
        (a..a + usize::from(v.rs_count))
            .filter_map(|r| self.real_servers.get(r))
            .filter(|r| r.alive)
            .map(|r| i64::from(r.weight))
            .sum()
    }

    /// keepalived's `update_quorum_state`.
    fn update_quorum(&mut self, cfg: &Config, vs: usize, init: bool, out: &mut Actions) {
        let v = &cfg.lvs.virtual_servers[vs];
        let id = VsId(vs as u16);
        let sum = self.live_weight(cfg, vs);
        let st = self.virtual_servers[vs];
        let h = i64::from(v.hysteresis);
        let threshold = i64::from(v.quorum) + if st.quorum_up { -h } else { h };
        if !st.quorum_up && sum >= threshold {
            self.virtual_servers[vs].quorum_up = true;
            out.push(Action::Log(Event::QuorumGained {
                vs: id,
                threshold,
                sum,
            }));
            if v.sorry_server.is_some() && st.sorry_alive {
                out.push(Action::Log(Event::SorryOut { vs: id }));
                self.virtual_servers[vs].sorry_alive = false;
                out.push(Action::Log(Event::Pool { vs: id, add: true }));
            }
            out.push(Action::NotifyQuorum { vs: id, up: true });
        } else if (st.quorum_up && (sum == 0 || sum < threshold))
            || (init && !st.quorum_up && v.sorry_server.is_some() && !st.sorry_alive)
        {
            self.virtual_servers[vs].quorum_up = false;
            out.push(Action::Log(Event::QuorumLost {
                vs: id,
                threshold,
                sum,
                init,
            }));
            if v.sorry_server.is_some() && !st.sorry_alive {
                out.push(Action::Log(Event::SorryIn { vs: id }));
                out.push(Action::Log(Event::Pool { vs: id, add: false }));
                self.virtual_servers[vs].sorry_alive = true;
            }
            out.push(Action::NotifyQuorum { vs: id, up: false });
        }
    }

    /// `ha_suspend`: the owning instance became MASTER (`active`) or left
    /// it. Suspended checkers keep their state and do not probe. `first`:
    /// the first VRRP state after start ("Activating" / "Deactivating", as
    /// keepalived logs at start).
    pub fn set_active(
        &mut self,
        cfg: &Config,
        vs: usize,
        active: bool,
        first: bool,
        out: &mut Actions,
    ) {
        let Some(st) = self.virtual_servers.get_mut(vs) else {
            return;
        };
        if st.active == active && !first {
            return;
        }
        st.active = active;
        let v = &cfg.lvs.virtual_servers[vs];
        for r in usize::from(v.rs_first)..usize::from(v.rs_first + v.rs_count) {
            let rs = &cfg.lvs.real_servers[r];
            for k in usize::from(rs.checker_first)..usize::from(rs.checker_first + rs.checker_count)
            {
                let ck = CheckerId(k as u16);
                out.push(Action::Log(match (active, first) {
                    (true, _) => Event::Activating { ck },
                    (false, true) => Event::Deactivating { ck },
                    (false, false) => Event::Suspending { ck },
                }));
                if !active && self.checkers[k].running {
                    self.checkers[k].running = false;
                    self.checkers[k].next_at = Some(self.checkers[k].started_at);
                    out.push(Action::Abort { ck });
                }
            }
        }
    }

    /// Stop: every probe aborted, "Shutting down service ..." for every
    /// real server; with `omega` the down notifications of alive servers
    /// and the quorum-down notification run (keepalived's `clear_services`).
    pub fn handle_shutdown(&mut self, cfg: &Config, out: &mut Actions) {
        for k in 0..self.checkers.len() {
            if self.checkers[k].running {
                self.checkers[k].running = false;
                out.push(Action::Abort {
                    ck: CheckerId(k as u16),
                });
            }
            self.checkers[k].next_at = None;
        }
        for (v, vs) in cfg.lvs.virtual_servers.iter().enumerate() {
            if vs.rs_count == 0 {
                continue;
            }
            for r in usize::from(vs.rs_first)..usize::from(vs.rs_first + vs.rs_count) {
                let inhibit = cfg.lvs.real_servers[r].inhibit_on_failure;
                let alive = self.real_servers[r].alive;
                out.push(Action::Log(Event::ShuttingDown {
                    rs: RsId(r as u16),
                    inhibited: inhibit && !alive,
                }));
                self.real_servers[r].alive = false;
                if alive && vs.omega {
                    out.push(Action::NotifyRs {
                        rs: RsId(r as u16),
                        up: false,
                    });
                }
            }
            let st = &mut self.virtual_servers[v];
            let was_up = st.quorum_up;
            st.quorum_up = false;
            st.sorry_alive = false;
            if was_up && vs.omega {
                out.push(Action::NotifyQuorum {
                    vs: VsId(v as u16),
                    up: false,
                });
            }
        }
    }
}

fn same_vs(a: &crate::config::lvs::VirtualServer, b: &crate::config::lvs::VirtualServer) -> bool {
    a.addr == b.addr && a.port == b.port && a.protocol == b.protocol
}

/// The old real server that is `new` real server `r` (same virtual
/// server, address and port).
fn find_old_rs(old: &Config, new: &Config, r: usize) -> Option<usize> {
    let nrs = &new.lvs.real_servers[r];
    let nvs = &new.lvs.virtual_servers[usize::from(nrs.vs)];
    let ov = old
        .lvs
        .virtual_servers
        .iter()
        .position(|v| same_vs(v, nvs))?;
    old.lvs
        .real_servers_of(ov)
        .iter()
        .position(|o| o.addr == nrs.addr && o.port == nrs.port)
        .map(|i| usize::from(old.lvs.virtual_servers[ov].rs_first) + i)
}

/// The old checker that is `new` checker `k`: same real server, and the
/// same type, target and settings, counted among its real server's
/// checkers (the n-th TCP_CHECK to X is the old n-th TCP_CHECK to X).
fn find_old_checker(old: &Config, new: &Config, k: usize) -> Option<usize> {
    let nc = &new.lvs.checkers[k];
    let r = usize::from(nc.rs);
    let orr = find_old_rs(old, new, r)?;
    let ntarget = new.lvs.target(k);
    let first_new = usize::from(new.lvs.real_servers[r].checker_first);
    let same = |a: &crate::config::lvs::Checker,
                at: Option<(core::net::IpAddr, u16)>,
                b: &crate::config::lvs::Checker,
                bt| {
        a.kind == b.kind
            && at == bt
            && a.connect_timeout_us == b.connect_timeout_us
            && a.alpha == b.alpha
    };
    let nth = (first_new..k)
        .filter(|&j| same(&new.lvs.checkers[j], new.lvs.target(j), nc, ntarget))
        .count();
    let first_old = usize::from(old.lvs.real_servers[orr].checker_first);
    (first_old..first_old + usize::from(old.lvs.real_servers[orr].checker_count))
        .filter(|&j| same(&old.lvs.checkers[j], old.lvs.target(j), nc, ntarget))
        .nth(nth)
}
