//! The load-balancing side in the loop: runs the probes the checker core
//! asks for (non-blocking TCP connects, HTTP GETs over them, MISC_CHECK
//! scripts through the script runner), reports their outcome, logs the
//! core's events with keepalived's words, runs `notify_up`/`notify_down`/
//! `quorum_up`/`quorum_down`, and keeps the kernel's IPVS table equal to
//! the one the core wants ([`crate::lvs::ipvs`]).
//!
//! A virtual server whose address is a VIP of a `vrrp_instance` is in IPVS
//! only while that instance is MASTER (and leaves it when the instance
//! leaves MASTER, and at stop); one whose address is no VIP is in IPVS
//! while the daemon runs. The checkers run in every state (unless
//! `ha_suspend`), so a new master starts with known server states.
//!
//! IPVS is looked for when virtual servers are first configured (at start,
//! or by the SIGHUP that adds the first one). Kernels before 5.16 do not
//! load `ip_vs` for the family lookup, so when the family is missing the
//! driver runs `modprobe ip_vs` once, as keepalived does, through the script
//! runner (without waiting for it), and looks again when it has ended. Where
//! the kernel has no IPVS even then (no `ip_vs`, not even as a module), the
//! driver says so once and the checkers run alone: their state is in the
//! log, in `keepvip status` and in the data dump.
//!
//! The IPVS channel is a type parameter ([`IpvsChannel`]): the kernel's
//! generic-netlink socket in the daemon, a recording fake in the tests.
//!
//! Nothing blocks: sockets are non-blocking and in the poll table, every
//! phase of a probe has a deadline (`connect_timeout`, per phase as in
//! keepalived), scripts are reaped through SIGCHLD. The only waits are the
//! IPVS ACKs (answered by the kernel inside `send`, bounded by
//! `sys::ipvs::ACK_WAIT`). Buffers are fixed, allocated at start-up: the
//! driver itself is allocated at start whenever the `lvs` feature is built
//! in, also without virtual servers, so a SIGHUP that adds the first one
//! allocates nothing.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::io;
use std::os::fd::AsFd;

use heapless::Vec;

use crate::config::Config;
use crate::config::lvs::{CheckerKind, Trio};
use crate::config::model::CmdId;
use crate::limits::{MAX_CHECKERS, MAX_REAL_SERVERS, MAX_VIRTUAL_SERVERS};
use crate::lvs::http::{Host, REQUEST_MAX, Response, build_request};
use crate::lvs::ipvs::{Cmd, MAX_CMDS, Table, desired, plan};
use crate::lvs::{Action, Actions, CheckerId, Failure, Lvs, Outcome, Probe};
use crate::sys::exec::{ChildKind, Creds, Exec, default_script_creds, resolve_creds};
use crate::sys::ipvs::{IpvsSocket, MODPROBE_PATH_MAX, OpenError, modprobe_program};
use crate::sys::poll::{PollTable, READABLE, Slot, WRITABLE};
use crate::sys::tcp::{ConnectState, TcpStream};
use crate::time::{Duration, Instant};
use crate::track::ScriptOutcome;
use crate::track::cmdline::{Argv, build_argv};
use crate::vrrp::{InstanceId, Router, StateKind};
use crate::wire::ipvs::Request;

use super::errno::{Errno, IoErr};

/// What start-up logs when the build has no LVS support.
pub const NO_LVS: &str =
    "virtual_server configured, but this keepvip was built without the lvs feature: ignored";
/// What start-up logs when the kernel has no IPVS.
pub const NO_IPVS: &str = "IPVS not available in this kernel: running the health checkers only";
/// Reads per probe socket per turn.
const READS_PER_TURN: usize = 8;
/// One read of an HTTP answer (a stack buffer).
const RX_LEN: usize = 2048;
/// After a failed IPVS request, the table is tried again this much later.
const IPVS_RETRY: Duration = Duration::from_secs(5);
/// Core rounds per turn (a probe that finishes at once feeds the next round).
const ROUNDS_MAX: usize = 8;
/// How long shutdown waits for `omega` notify scripts.
const OMEGA_WAIT: Duration = Duration::from_secs(1);
/// The module `modprobe` is asked for when the IPVS family is missing.
pub const IPVS_MODULE: &str = "ip_vs";
/// `modprobe ip_vs` is stopped (SIGTERM, then SIGKILL) after this long.
const MODPROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the driver needs of IPVS: the kernel's generic-netlink socket
/// ([`IpvsSocket`]) in the daemon, a recording fake in the tests.
pub trait IpvsChannel {
    /// Opens the channel and looks the IPVS family up (again); its id.
    fn open(&mut self) -> Result<u16, OpenError>;
    /// Sends one request; the kernel's answer: 0 or an errno.
    fn request(&mut self, req: Request<'_>) -> io::Result<i32>;
    /// The module loader's path into `buf` (its length).
    fn modprobe(&self, buf: &mut [u8; MODPROBE_PATH_MAX]) -> usize {
        modprobe_program(buf)
    }
}

impl IpvsChannel for IpvsSocket {
    fn open(&mut self) -> Result<u16, OpenError> {
        self.connect()
    }

    fn request(&mut self, req: Request<'_>) -> io::Result<i32> {
        IpvsSocket::request(self, req)
    }
}

/// Whether IPVS can be programmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpvsState {
    /// Not looked for yet (no virtual server configured so far).
    Unprobed,
    /// The family was missing; `modprobe ip_vs` (this pid) runs, and the
    /// lookup is tried again when it ends.
    Loading { pid: i32 },
    /// Found: the family id.
    Ready(u16),
    /// No IPVS (said once): the checkers run alone.
    Absent,
}

/// One probe's I/O.
enum ProbeIo {
    Idle,
    Connecting {
        sock: TcpStream,
        slot: Slot,
        deadline: Instant,
        url: Option<u8>,
    },
    Sending {
        sock: TcpStream,
        slot: Slot,
        deadline: Instant,
        url: u8,
        req: Vec<u8, REQUEST_MAX>,
        sent: usize,
    },
    Receiving {
        sock: TcpStream,
        slot: Slot,
        deadline: Instant,
        url: u8,
        resp: Response,
    },
    Script {
        pid: i32,
    },
}

impl ProbeIo {
    fn slot(&self) -> Option<Slot> {
        match self {
            ProbeIo::Connecting { slot, .. }
            | ProbeIo::Sending { slot, .. }
            | ProbeIo::Receiving { slot, .. } => Some(*slot),
            _ => None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            ProbeIo::Connecting { deadline, .. }
            | ProbeIo::Sending { deadline, .. }
            | ProbeIo::Receiving { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }
}

/// Counters (for the log at stop and the status view).
#[derive(Clone, Copy, Debug, Default)]
pub struct LvsStats {
    pub probes: u64,
    pub ipvs_requests: u64,
    pub ipvs_errors: u64,
    pub spawn_errors: u64,
}

/// The LVS side of the daemon.
pub struct LvsDriver<I: IpvsChannel = IpvsSocket> {
    core: Lvs,
    actions: Actions,
    probes: Vec<ProbeIo, MAX_CHECKERS>,
    /// Per checker: the credentials of its MISC_CHECK script.
    misc_creds: Vec<Option<Creds>, MAX_CHECKERS>,
    /// Scripts without a user of their own run as this user (`script_user`,
    /// else `keepalived_script` if it exists, else root).
    script_creds: Option<Creds>,
    /// `notify_up`/`notify_down`/`quorum_up`/`quorum_down` commands written
    /// with their own `USER [GROUP]`: who each runs as. The others run as
    /// `script_creds`.
    cmd_creds: Vec<(CmdId, Option<Creds>), LVS_CMDS_MAX>,
    exec: Option<Exec>,
    ipvs: I,
    ipvs_state: IpvsState,
    installed: Table,
    want: Table,
    cmds: Vec<Cmd, MAX_CMDS>,
    /// Per virtual server: in IPVS now (`None` until the first turn).
    programmed: Vec<Option<bool>, MAX_VIRTUAL_SERVERS>,
    dirty: bool,
    retry_at: Option<Instant>,
    sigchld: bool,
    argv: Argv,
    seed: u64,
    pub stats: LvsStats,
}

/// Most notify commands of the load-balancing side: two per virtual server
/// (`quorum_up`, `quorum_down`) and two per real server.
const LVS_CMDS_MAX: usize = 2 * (MAX_VIRTUAL_SERVERS + MAX_REAL_SERVERS);

/// A seed for the warm-up spread: the clock and the pid.
fn seed(now: Instant) -> u64 {
    now.as_micros() ^ (u64::from(std::process::id()) << 32)
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl LvsDriver<IpvsSocket> {
    /// Start-up: the driver, whether virtual servers are configured or not
    /// (a later SIGHUP may add the first one: nothing is allocated then).
    /// `None` in a build without the `lvs` feature, which says once that
    /// it ignores virtual servers.
    pub fn start(cfg: &Config, now: Instant) -> Option<Box<LvsDriver>> {
        if !cfg!(feature = "lvs") {
            if cfg.lvs.skipped.is_some() {
                warn!("{NO_LVS}");
            }
            return None;
        }
        Some(LvsDriver::with_ipvs(cfg, now, IpvsSocket::closed()))
    }
}

impl<I: IpvsChannel> LvsDriver<I> {
    /// The driver over the IPVS channel `ipvs` (closed until the first
    /// virtual server): looks for IPVS, resolves script users, and starts
    /// the checkers of `cfg`.
    pub fn with_ipvs(cfg: &Config, now: Instant, ipvs: I) -> Box<LvsDriver<I>> {
        let exec = match Exec::new() {
            Ok(x) => Some(x),
            Err(e) => {
                error!(
                    "cannot prepare the script runner: {}; MISC_CHECK and notify scripts will fail",
                    IoErr(&e)
                );
                None
            }
        };
        let mut d = Box::new(LvsDriver {
            core: Lvs::empty(),
            actions: Actions::new(),
            probes: Vec::new(),
            misc_creds: Vec::new(),
            script_creds: None,
            cmd_creds: Vec::new(),
            exec,
            ipvs,
            ipvs_state: IpvsState::Unprobed,
            installed: Table::default(),
            want: Table::default(),
            cmds: Vec::new(),
            programmed: Vec::new(),
            dirty: true,
            retry_at: None,
            sigchld: false,
            argv: Argv::new(),
            seed: seed(now),
            stats: LvsStats::default(),
        });
        if cfg.lvs.is_empty() {
            // Nothing more to touch (only what is used becomes resident).
            return d;
        }
        d.configure(cfg, now);
        let mut out = Actions::new();
        d.core = Lvs::start(cfg, now, d.seed, &mut out);
        d.actions = out;
        d
    }

    /// Probes IPVS (the first time) and resolves the script users for `cfg`.
    fn configure(&mut self, cfg: &Config, now: Instant) {
        self.probes.clear();
        self.misc_creds.clear();
        self.cmd_creds.clear();
        for _ in 0..cfg.lvs.checkers.len() {
            let _ = self.probes.push(ProbeIo::Idle);
        }
        self.programmed.clear();
        for _ in 0..cfg.lvs.virtual_servers.len() {
            let _ = self.programmed.push(None);
        }
        if cfg.lvs.is_empty() {
            return;
        }
        if self.ipvs_state == IpvsState::Unprobed {
            self.probe_ipvs(now);
        }
        // Users are looked up (/etc/passwd: libc allocates) only when a
        // script of the LVS side can run.
        let l = &cfg.lvs;
        let scripts = l
            .checkers
            .iter()
            .any(|c| matches!(c.kind, CheckerKind::Misc(_)))
            || l.real_servers
                .iter()
                .any(|r| r.notify_up.is_some() || r.notify_down.is_some())
            || l.virtual_servers
                .iter()
                .any(|v| v.quorum_up.is_some() || v.quorum_down.is_some());
        if !scripts {
            self.script_creds = None;
            for _ in &cfg.lvs.checkers {
                let _ = self.misc_creds.push(None);
            }
            return;
        }
        let g = &cfg.global_defs;
        self.script_creds = match &g.script_user {
            Some(u) => match resolve_creds(u, g.script_group.as_deref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    error!("script_user {u}: {e}; checker scripts run as root");
                    None
                }
            },
            None => default_script_creds(),
        };
        for c in &cfg.lvs.checkers {
            let creds = match &c.kind {
                CheckerKind::Misc(m) => match &m.user {
                    Some(u) => match resolve_creds(u, m.group.as_deref()) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            error!(
                                "MISC_CHECK {}: user {u}: {e}; the script runs as the script_user",
                                m.misc_path
                            );
                            self.script_creds
                        }
                    },
                    None => self.script_creds,
                },
                _ => None,
            };
            let _ = self.misc_creds.push(creds);
        }
        // keepalived's `notify_up CMD [USER [GROUP]]` (and the others):
        // the command runs as its own user. An unknown one is a config
        // error (`-t`, reload); here it falls back like a MISC_CHECK's.
        let ids = l
            .virtual_servers
            .iter()
            .flat_map(|v| [v.quorum_up, v.quorum_down])
            .chain(
                l.real_servers
                    .iter()
                    .flat_map(|r| [r.notify_up, r.notify_down]),
            );
        for id in ids.flatten() {
            let Some(c) = cfg.cmd(Some(id)) else {
                continue;
            };
            let Some(u) = &c.user else {
                continue;
            };
            let who = match resolve_creds(u, c.group.as_deref()) {
                Ok(x) => Some(x),
                Err(e) => {
                    error!(
                        "notify script {}: user {u}: {e}; it runs as the script_user",
                        c.cmd
                    );
                    self.script_creds
                }
            };
            // Capacity: every command of the virtual and real servers.
            let _ = self.cmd_creds.push((id, who));
        }
    }

    /// Who notify command `id` of the load-balancing side runs as.
    fn cmd_creds(&self, id: CmdId) -> Option<Creds> {
        self.cmd_creds
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(self.script_creds, |x| x.1)
    }

    /// Looks the IPVS family up; when it is missing, starts `modprobe
    /// ip_vs` (kernels before 5.16 do not load the module for the lookup).
    fn probe_ipvs(&mut self, now: Instant) {
        match self.ipvs.open() {
            Ok(id) => self.ipvs_found(id, ""),
            Err(OpenError::NoFamily) => self.load_module(now),
            Err(OpenError::Io(e)) => {
                self.ipvs_state = IpvsState::Absent;
                warn!("{NO_IPVS} (generic netlink: {})", IoErr(&e));
            }
        }
    }

    fn ipvs_found(&mut self, id: u16, how: &str) {
        info!("IPVS: generic netlink family {id} found{how}, programming virtual servers");
        self.ipvs_state = IpvsState::Ready(id);
        self.dirty = true;
    }

    /// keepalived's `modprobe ip_vs`, without waiting: the lookup is tried
    /// again when it ends ([`Self::module_loaded`]).
    fn load_module(&mut self, now: Instant) {
        self.ipvs_state = IpvsState::Absent;
        let mut path = [0u8; MODPROBE_PATH_MAX];
        let n = self.ipvs.modprobe(&mut path);
        let prog = core::str::from_utf8(&path[..n]).unwrap_or("modprobe");
        let Some(x) = self.exec.as_mut() else {
            warn!("{NO_IPVS} (no script runner to run {prog} {IPVS_MODULE})");
            return;
        };
        self.argv.clear();
        if self.argv.push(&path[..n]).is_err() || self.argv.push(IPVS_MODULE.as_bytes()).is_err() {
            warn!("{NO_IPVS} (cannot run {prog} {IPVS_MODULE})");
            return;
        }
        match x.spawn(
            now,
            ChildKind::Notify,
            &self.argv,
            None,
            Some(MODPROBE_TIMEOUT),
        ) {
            Ok(pid) => {
                info!(
                    "IPVS: no generic netlink family IPVS yet: running {prog} {IPVS_MODULE} (pid {pid})"
                );
                self.ipvs_state = IpvsState::Loading { pid };
            }
            Err(e) => {
                self.stats.spawn_errors += 1;
                warn!("{NO_IPVS} (cannot run {prog} {IPVS_MODULE}: {})", IoErr(&e));
            }
        }
    }

    /// `modprobe ip_vs` ended: the family is looked up once more.
    fn module_loaded(&mut self, outcome: ScriptOutcome) {
        match self.ipvs.open() {
            Ok(id) => self.ipvs_found(id, " after modprobe"),
            Err(OpenError::NoFamily) => {
                self.ipvs_state = IpvsState::Absent;
                warn!("{NO_IPVS} (modprobe {IPVS_MODULE}: {outcome})");
            }
            Err(OpenError::Io(e)) => {
                self.ipvs_state = IpvsState::Absent;
                warn!("{NO_IPVS} (generic netlink: {})", IoErr(&e));
            }
        }
    }

    /// The core state (for `keepvip status` and the dumps).
    pub fn core(&self) -> &Lvs {
        &self.core
    }

    /// The IPVS table as installed (`None`: no IPVS in the kernel).
    pub fn installed(&self) -> Option<&Table> {
        matches!(self.ipvs_state, IpvsState::Ready(_)).then_some(&self.installed)
    }

    pub fn on_sigchld(&mut self) {
        self.sigchld = true;
    }

    /// When the loop must wake up for the LVS side.
    pub fn deadline(&self) -> Option<Instant> {
        if !cfg!(feature = "lvs") {
            return None;
        }
        let children = self.exec.as_ref().is_some_and(|x| x.running() > 0);
        if self.probes.is_empty() && self.installed.services.is_empty() && !children {
            // No virtual server (and nothing left in IPVS): nothing to do.
            return None;
        }
        let mut d = self.core.poll_timeout();
        let mut min = |t: Option<Instant>| {
            if let Some(t) = t {
                d = Some(d.map_or(t, |x: Instant| x.min(t)));
            }
        };
        for p in &self.probes {
            min(p.deadline());
        }
        if let Some(x) = &self.exec {
            min(x.next_deadline());
        }
        min(self.retry_at);
        if !self.actions.is_empty() || self.dirty {
            min(Some(Instant::ZERO));
        }
        d
    }

    /// One loop turn: finished probes, due probes, scripts, VRRP state,
    /// IPVS.
    pub fn turn(&mut self, poll: &mut PollTable, now: Instant, cfg: &Config, router: &Router) {
        if !cfg!(feature = "lvs") {
            return;
        }
        let children = self.exec.as_ref().is_some_and(|x| x.running() > 0);
        if cfg.lvs.is_empty() && self.installed.services.is_empty() && !children {
            return;
        }
        // Actions left from start-up / reload.
        let pending = core::mem::take(&mut self.actions);
        self.execute(&pending, poll, now, cfg);
        self.service_sockets(poll, now, cfg);
        self.reap(poll, now, cfg);
        if let Some(x) = self.exec.as_mut() {
            x.kill_expired(now);
        }
        self.update_programmed(cfg, router, poll, now);
        for _ in 0..ROUNDS_MAX {
            let mut out = core::mem::take(&mut self.actions);
            out.clear();
            self.core.handle_timeout(cfg, now, &mut out);
            if out.is_empty() {
                self.actions = out;
                break;
            }
            self.execute(&out, poll, now, cfg);
            out.clear();
            self.actions = out;
        }
        if self.dirty || self.retry_at.is_some_and(|t| t <= now) {
            self.reconcile(cfg, now);
        }
    }

    /// Which virtual servers are to be in IPVS: their VRRP instance is
    /// MASTER (or they have none). Also drives `ha_suspend`.
    fn update_programmed(
        &mut self,
        cfg: &Config,
        router: &Router,
        poll: &mut PollTable,
        now: Instant,
    ) {
        for (v, vs) in cfg.lvs.virtual_servers.iter().enumerate() {
            let master = match vs.owner {
                None => true,
                Some(i) => router.state(InstanceId(i)) == Some(StateKind::Master),
            };
            let Some(p) = self.programmed.get_mut(v) else {
                continue;
            };
            if *p != Some(master) {
                let first = p.is_none();
                *p = Some(master);
                self.dirty = true;
                let ipvs = matches!(
                    self.ipvs_state,
                    IpvsState::Ready(_) | IpvsState::Loading { .. }
                );
                if let (Some(i), true, false) = (vs.owner, ipvs, first && !master) {
                    let name = cfg
                        .instances
                        .get(usize::from(i))
                        .map_or("?", |x| x.name.as_str());
                    if master {
                        info!(
                            "IPVS: adding virtual server {} ({name} is MASTER)",
                            vs.trio()
                        );
                    } else if self
                        .installed
                        .service(&crate::lvs::ipvs::service_spec(vs).key)
                        .is_some()
                    {
                        info!(
                            "IPVS: removing virtual server {} ({name} is no longer MASTER)",
                            vs.trio()
                        );
                    }
                }
                if vs.ha_suspend {
                    let mut out = Actions::new();
                    self.core.set_active(cfg, v, master, first, &mut out);
                    self.execute(&out, poll, now, cfg);
                }
            }
        }
    }

    // ----- actions -----------------------------------------------------

    fn execute(&mut self, out: &Actions, poll: &mut PollTable, now: Instant, cfg: &Config) {
        for a in out.iter() {
            match *a {
                Action::Start { ck, probe } => self.start_probe(poll, now, cfg, ck, probe),
                Action::Abort { ck } => self.abort(poll, ck),
                Action::Log(e) => info!("{}", e.display(cfg)),
                Action::NotifyRs { rs, up } => {
                    let r = &cfg.lvs.real_servers[usize::from(rs.0)];
                    let id = if up { r.notify_up } else { r.notify_down };
                    if let (Some(id), Some(c)) = (id, cfg.cmd(id)) {
                        self.notify(now, id, c);
                    }
                }
                Action::NotifyQuorum { vs, up } => {
                    let v = &cfg.lvs.virtual_servers[usize::from(vs.0)];
                    let id = if up { v.quorum_up } else { v.quorum_down };
                    if let (Some(id), Some(c)) = (id, cfg.cmd(id)) {
                        self.notify(now, id, c);
                    }
                }
                Action::PoolChanged { .. } => self.dirty = true,
            }
        }
    }

    /// Runs notify command `id` (`cmd`) as its user.
    fn notify(&mut self, now: Instant, id: CmdId, cmd: &str) {
        let who = self.cmd_creds(id);
        let Some(x) = self.exec.as_mut() else {
            return;
        };
        if let Err(e) = build_argv(cmd, &[], &mut self.argv) {
            error!("notify script {cmd}: {e}");
            return;
        }
        match x.spawn(now, ChildKind::Notify, &self.argv, who, None) {
            Ok(pid) => debug!("notify script {cmd}: pid {pid}"),
            Err(e) => {
                self.stats.spawn_errors += 1;
                error!("cannot run notify script {cmd}: {}", IoErr(&e));
            }
        }
    }

    /// Reports `outcome` of checker `k` to the core and runs what follows.
    fn finish(
        &mut self,
        poll: &mut PollTable,
        now: Instant,
        cfg: &Config,
        k: usize,
        outcome: Outcome,
    ) {
        if let Some(p) = self.probes.get_mut(k) {
            if let Some(s) = p.slot() {
                poll.remove(s);
            }
            // Closing the socket (if any) ends the connection.
            *p = ProbeIo::Idle;
        }
        let mut out = Actions::new();
        self.core
            .handle_result(cfg, now, CheckerId(k as u16), outcome, &mut out);
        self.execute(&out, poll, now, cfg);
    }

    fn abort(&mut self, poll: &mut PollTable, ck: CheckerId) {
        let Some(p) = self.probes.get_mut(usize::from(ck.0)) else {
            return;
        };
        if let Some(s) = p.slot() {
            poll.remove(s);
        }
        if let ProbeIo::Script { pid } = *p {
            // Its result is not wanted any more; the runner reaps it.
            let _ = crate::sys::exec::kill_group(pid, libc::SIGTERM);
        }
        *p = ProbeIo::Idle;
    }

    fn start_probe(
        &mut self,
        poll: &mut PollTable,
        now: Instant,
        cfg: &Config,
        ck: CheckerId,
        probe: Probe,
    ) {
        let k = usize::from(ck.0);
        let c = &cfg.lvs.checkers[k];
        self.stats.probes += 1;
        match probe {
            Probe::Misc => self.start_misc(poll, now, cfg, k),
            Probe::Tcp | Probe::Http { .. } => {
                let url = match probe {
                    Probe::Http { url } => Some(url),
                    _ => None,
                };
                let Some((addr, port)) = cfg.lvs.target(k) else {
                    return self.finish(
                        poll,
                        now,
                        cfg,
                        k,
                        Outcome::Failed(Failure::Local(libc::EINVAL)),
                    );
                };
                let bind = match (c.bindto, c.bind_port) {
                    (Some(ip), p) => Some(SocketAddr::new(ip, p.unwrap_or(0))),
                    (None, Some(p)) => Some(SocketAddr::new(
                        match addr {
                            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                        },
                        p,
                    )),
                    (None, None) => None,
                };
                let timeout = Duration::from_micros(c.connect_timeout_us);
                match TcpStream::connect_from(
                    SocketAddr::new(addr, port),
                    bind,
                    c.bind_if.as_deref(),
                ) {
                    Ok((sock, ConnectState::Connected)) => match url {
                        None => self.finish(poll, now, cfg, k, Outcome::Success),
                        Some(u) => self.send_request(poll, now, cfg, k, sock, None, u),
                    },
                    Ok((sock, ConnectState::InProgress)) => {
                        match poll.add_events(sock.as_fd(), WRITABLE) {
                            Ok(slot) => {
                                self.probes[k] = ProbeIo::Connecting {
                                    sock,
                                    slot,
                                    deadline: now + timeout,
                                    url,
                                };
                            }
                            Err(_) => {
                                error!("poll table full: checker probe not started");
                                self.finish(
                                    poll,
                                    now,
                                    cfg,
                                    k,
                                    Outcome::Failed(Failure::Local(libc::EMFILE)),
                                );
                            }
                        }
                    }
                    Err(e) => {
                        let errno = errno_of(&e);
                        let f = match errno {
                            libc::ECONNREFUSED
                            | libc::ENETUNREACH
                            | libc::EHOSTUNREACH
                            | libc::ECONNRESET
                            | libc::ETIMEDOUT => Failure::Connect(errno),
                            _ => {
                                warn!(
                                    "{} to {}: cannot connect: {}",
                                    c.kind.keyword(),
                                    SocketAddr::new(addr, port),
                                    Errno(errno)
                                );
                                Failure::Local(errno)
                            }
                        };
                        self.finish(poll, now, cfg, k, Outcome::Failed(f));
                    }
                }
            }
        }
    }

    fn start_misc(&mut self, poll: &mut PollTable, now: Instant, cfg: &Config, k: usize) {
        let c = &cfg.lvs.checkers[k];
        let CheckerKind::Misc(m) = &c.kind else {
            return;
        };
        let vs = &cfg.lvs.virtual_servers[usize::from(cfg.lvs.real_servers[usize::from(c.rs)].vs)];
        let timeout = match m.misc_timeout_s {
            Some(s) => Duration::from_secs(u64::from(s)),
            None => Duration::from_micros(vs.delay_loop_us),
        };
        let creds = self.misc_creds.get(k).copied().flatten();
        let spawned = match (
            self.exec.as_mut(),
            build_argv(&m.misc_path, &[], &mut self.argv),
        ) {
            (Some(x), Ok(())) => x
                .spawn(now, ChildKind::Notify, &self.argv, creds, Some(timeout))
                .map_err(|e| errno_of(&e)),
            (None, _) => Err(libc::ENOEXEC),
            (_, Err(e)) => {
                error!("MISC_CHECK {}: {e}", m.misc_path);
                Err(libc::EINVAL)
            }
        };
        match spawned {
            Ok(pid) => self.probes[k] = ProbeIo::Script { pid },
            Err(errno) => {
                self.stats.spawn_errors += 1;
                error!("cannot run MISC_CHECK {}: {}", m.misc_path, Errno(errno));
                self.finish(
                    poll,
                    now,
                    cfg,
                    k,
                    Outcome::Script(ScriptOutcome::Exited(
                        crate::sys::exec::EXIT_NOT_FOUND as u8,
                    )),
                );
            }
        }
    }

    /// The `Host:` of URL `url` of checker `k`: url > HTTP_GET > real
    /// server > virtual server `virtualhost`, else the target address.
    fn host<'c>(cfg: &'c Config, k: usize, url: u8) -> Host<'c> {
        let c = &cfg.lvs.checkers[k];
        let rs = &cfg.lvs.real_servers[usize::from(c.rs)];
        let vs = &cfg.lvs.virtual_servers[usize::from(rs.vs)];
        if let CheckerKind::Http(h) = &c.kind {
            let u = h.urls.get(usize::from(url));
            if let Some(v) = u
                .and_then(|u| u.virtualhost.as_ref())
                .or(h.virtualhost.as_ref())
                .or(rs.virtualhost.as_ref())
                .or(vs.virtualhost.as_ref())
            {
                return Host::Name(v.as_str());
            }
        }
        let (a, p) = cfg.lvs.target(k).unwrap_or((rs.addr, rs.port));
        Host::Addr(a, p)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_request(
        &mut self,
        poll: &mut PollTable,
        now: Instant,
        cfg: &Config,
        k: usize,
        sock: TcpStream,
        slot: Option<Slot>,
        url: u8,
    ) {
        let c = &cfg.lvs.checkers[k];
        let CheckerKind::Http(h) = &c.kind else {
            return;
        };
        let Some(u) = h.urls.get(usize::from(url)) else {
            return self.finish(
                poll,
                now,
                cfg,
                k,
                Outcome::Failed(Failure::Local(libc::EINVAL)),
            );
        };
        let mut req = Vec::new();
        if build_request(&mut req, &u.path, h.http_protocol, Self::host(cfg, k, url)).is_err() {
            if let Some(s) = slot {
                poll.remove(s);
            }
            return self.finish(poll, now, cfg, k, Outcome::Failed(Failure::Write));
        }
        let slot = match slot {
            Some(s) => {
                poll.set_events(s, WRITABLE);
                s
            }
            None => match poll.add_events(sock.as_fd(), WRITABLE) {
                Ok(s) => s,
                Err(_) => {
                    error!("poll table full: checker probe not started");
                    return self.finish(
                        poll,
                        now,
                        cfg,
                        k,
                        Outcome::Failed(Failure::Local(libc::EMFILE)),
                    );
                }
            },
        };
        self.probes[k] = ProbeIo::Sending {
            sock,
            slot,
            deadline: now + Duration::from_micros(c.connect_timeout_us),
            url,
            req,
            sent: 0,
        };
    }

    /// Moves every probe whose socket is ready or whose deadline passed.
    fn service_sockets(&mut self, poll: &mut PollTable, now: Instant, cfg: &Config) {
        for k in 0..self.probes.len() {
            let ready = self.probes[k].slot().is_some_and(|s| {
                poll.revents(s) & (READABLE | WRITABLE | libc::POLLERR | libc::POLLHUP) != 0
            });
            let late = self.probes[k].deadline().is_some_and(|d| d <= now);
            if !ready && !late {
                continue;
            }
            let p = core::mem::replace(&mut self.probes[k], ProbeIo::Idle);
            match p {
                ProbeIo::Connecting {
                    sock,
                    slot,
                    deadline,
                    url,
                } => match sock.connect_status() {
                    Ok(ConnectState::Connected) => match url {
                        None => self.finish(poll, now, cfg, k, Outcome::Success),
                        Some(u) => self.send_request(poll, now, cfg, k, sock, Some(slot), u),
                    },
                    Ok(ConnectState::InProgress) if !late => {
                        self.probes[k] = ProbeIo::Connecting {
                            sock,
                            slot,
                            deadline,
                            url,
                        };
                    }
                    Ok(ConnectState::InProgress) => {
                        poll.remove(slot);
                        self.finish(poll, now, cfg, k, Outcome::Failed(Failure::ConnectTimeout));
                    }
                    Err(e) => {
                        poll.remove(slot);
                        self.finish(
                            poll,
                            now,
                            cfg,
                            k,
                            Outcome::Failed(Failure::Connect(errno_of(&e))),
                        );
                    }
                },
                ProbeIo::Sending {
                    sock,
                    slot,
                    deadline,
                    url,
                    req,
                    mut sent,
                } => {
                    match sock.send(&req[sent..]) {
                        Ok(n) => sent += n,
                        Err(_) => {
                            poll.remove(slot);
                            self.finish(poll, now, cfg, k, Outcome::Failed(Failure::Write));
                            continue;
                        }
                    }
                    if sent >= req.len() {
                        poll.set_events(slot, READABLE);
                        let digest = matches!(&cfg.lvs.checkers[k].kind, CheckerKind::Http(h)
                            if h.urls.get(usize::from(url)).is_some_and(|u| u.digest.is_some()));
                        self.probes[k] = ProbeIo::Receiving {
                            sock,
                            slot,
                            deadline: now
                                + Duration::from_micros(cfg.lvs.checkers[k].connect_timeout_us),
                            url,
                            resp: Response::new(digest),
                        };
                    } else if late {
                        poll.remove(slot);
                        self.finish(poll, now, cfg, k, Outcome::Failed(Failure::Write));
                    } else {
                        self.probes[k] = ProbeIo::Sending {
                            sock,
                            slot,
                            deadline,
                            url,
                            req,
                            sent,
                        };
                    }
                }
                ProbeIo::Receiving {
                    sock,
                    slot,
                    mut deadline,
                    url,
                    mut resp,
                } => {
                    let mut end: Option<Outcome> = None;
                    let mut rx = [0u8; RX_LEN];
                    for _ in 0..READS_PER_TURN {
                        match sock.recv(&mut rx) {
                            Ok(Some(0)) => {
                                end = Some(Self::verdict(cfg, k, url, &resp));
                                break;
                            }
                            Ok(Some(n)) => {
                                resp.feed(&rx[..n.min(rx.len())]);
                                deadline = now
                                    + Duration::from_micros(cfg.lvs.checkers[k].connect_timeout_us);
                                if resp.too_large() {
                                    end = Some(Outcome::Failed(Failure::NoData));
                                    break;
                                }
                                if resp.complete() {
                                    end = Some(Self::verdict(cfg, k, url, &resp));
                                    break;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                end = Some(Outcome::Failed(Failure::Read(errno_of(&e))));
                                break;
                            }
                        }
                    }
                    if end.is_none() && deadline <= now {
                        end = Some(Outcome::Failed(Failure::ReadTimeout));
                    }
                    match end {
                        Some(o) => {
                            poll.remove(slot);
                            self.finish(poll, now, cfg, k, o);
                        }
                        None => {
                            self.probes[k] = ProbeIo::Receiving {
                                sock,
                                slot,
                                deadline,
                                url,
                                resp,
                            }
                        }
                    }
                }
                other => self.probes[k] = other,
            }
        }
    }

    fn verdict(cfg: &Config, k: usize, url: u8, resp: &Response) -> Outcome {
        match &cfg.lvs.checkers[k].kind {
            CheckerKind::Http(h) => match h.urls.get(usize::from(url)) {
                Some(u) => resp.verdict(u),
                None => Outcome::Failed(Failure::NoData),
            },
            _ => Outcome::Failed(Failure::NoData),
        }
    }

    fn reap(&mut self, poll: &mut PollTable, now: Instant, cfg: &Config) {
        if !core::mem::take(&mut self.sigchld) {
            return;
        }
        let mut done: Vec<(usize, ScriptOutcome), MAX_CHECKERS> = Vec::new();
        let mut module = None;
        if let Some(x) = self.exec.as_mut() {
            for _ in 0..crate::sys::exec::MAX_CHILDREN {
                let Some(r) = x.reap() else { break };
                if self.ipvs_state == (IpvsState::Loading { pid: r.pid }) {
                    module = Some(r.outcome);
                    continue;
                }
                match self
                    .probes
                    .iter()
                    .position(|p| matches!(p, ProbeIo::Script { pid } if *pid == r.pid))
                {
                    Some(k) => {
                        let _ = done.push((k, r.outcome));
                    }
                    None => debug!("script pid {} ended: {}", r.pid, r.outcome),
                }
            }
        }
        if let Some(o) = module {
            self.module_loaded(o);
        }
        for (k, o) in done {
            self.finish(poll, now, cfg, k, Outcome::Script(o));
        }
    }

    // ----- IPVS --------------------------------------------------------

    fn reconcile(&mut self, cfg: &Config, now: Instant) {
        self.dirty = false;
        self.retry_at = None;
        if !matches!(self.ipvs_state, IpvsState::Ready(_)) {
            return;
        }
        let sock = &mut self.ipvs;
        let programmed = &self.programmed;
        desired(
            cfg,
            &self.core,
            &|v| programmed.get(v).copied().flatten().unwrap_or(false),
            &mut self.want,
        );
        plan(&self.installed, &self.want, &mut self.cmds);
        for i in 0..self.cmds.len() {
            let cmd = self.cmds[i].clone();
            self.stats.ipvs_requests += 1;
            let r = sock.request(cmd.request());
            let errno = match r {
                Ok(e) => e,
                Err(e) => errno_of(&e),
            };
            // keepalived's rules (ipvs_talk): a new entry that exists and a
            // removal of one that is gone count as done, an update of a
            // destination that is gone adds it. keepvip also takes an
            // existing entry over (left by an earlier run, with other
            // settings): it updates it to the configured ones.
            let mut again = |c: Cmd| {
                self.stats.ipvs_requests += 1;
                (sock.request(c.request()).ok() == Some(0)).then_some(c)
            };
            let done = match (&cmd, errno) {
                (_, 0) => Some(cmd.clone()),
                (Cmd::NewService(s), libc::EEXIST) => again(Cmd::SetService(s.clone())),
                (Cmd::NewDest(s, d), libc::EEXIST) => again(Cmd::SetDest(s.clone(), *d)),
                (Cmd::SetDest(s, d), libc::ENOENT) => again(Cmd::NewDest(s.clone(), *d)),
                // Already gone (ESRCH: its service is).
                (Cmd::DelService(_) | Cmd::DelDest(..), libc::ENOENT | libc::ESRCH) => {
                    Some(cmd.clone())
                }
                _ => None,
            };
            match done {
                Some(c) => {
                    debug!("IPVS: {}", CmdText(&c));
                    self.installed.apply(&c);
                }
                None => {
                    self.stats.ipvs_errors += 1;
                    error!("IPVS: {} failed: {}", CmdText(&cmd), Errno(errno));
                    self.retry_at = Some(now + IPVS_RETRY);
                }
            }
        }
    }

    /// SIGHUP with a new configuration: running probes stop, the core
    /// takes over what stayed the same, IPVS follows the new table.
    pub fn reload(&mut self, poll: &mut PollTable, now: Instant, old: &Config, new: &Config) {
        if !cfg!(feature = "lvs") {
            return;
        }
        for k in 0..self.probes.len() {
            self.abort(poll, CheckerId(k as u16));
        }
        for v in 0..old.lvs.virtual_servers.len() {
            let vs = &old.lvs.virtual_servers[v];
            let same =
                new.lvs.virtual_servers.iter().position(|n| {
                    n.addr == vs.addr && n.port == vs.port && n.protocol == vs.protocol
                });
            let Some(nv) = same else {
                info!("Removing Virtual Server {}", vs.trio());
                continue;
            };
            for rs in old.lvs.real_servers_of(v) {
                if !new
                    .lvs
                    .real_servers_of(nv)
                    .iter()
                    .any(|n| n.addr == rs.addr && n.port == rs.port)
                {
                    let t = Trio {
                        addr: rs.addr,
                        protocol: vs.protocol,
                        port: rs.port,
                    };
                    info!("service {t} no longer exist");
                }
            }
        }
        self.configure(new, now);
        let mut out = Actions::new();
        self.core.reload(old, new, now, self.seed, &mut out);
        self.actions = out;
        self.dirty = true;
    }

    /// SIGTERM: probes stop, keepalived's shutdown lines (and `omega`
    /// notifications, waited for at most [`OMEGA_WAIT`]), IPVS emptied.
    pub fn shutdown(&mut self, poll: &mut PollTable, now: Instant, cfg: &Config) {
        if !cfg!(feature = "lvs") {
            return;
        }
        if cfg.lvs.is_empty() && self.installed.services.is_empty() {
            return;
        }
        let mut out = Actions::new();
        self.core.handle_shutdown(cfg, &mut out);
        let running_before = self.exec.as_ref().map_or(0, |x| x.running());
        self.execute(&out, poll, now, cfg);
        for p in self.programmed.iter_mut() {
            *p = Some(false);
        }
        self.reconcile(cfg, now);
        let omega = self.exec.as_ref().map_or(0, |x| x.running()) > running_before;
        if omega && let Some(x) = self.exec.as_mut() {
            let deadline = now + OMEGA_WAIT;
            loop {
                while x.reap().is_some() {}
                let t = crate::sys::clock::monotonic_now();
                if x.running() == 0 || t >= deadline {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        if self.stats.ipvs_errors > 0 || self.stats.spawn_errors > 0 {
            warn!(
                "LVS: {} probes, {} IPVS requests ({} failed), {} scripts not started",
                self.stats.probes,
                self.stats.ipvs_requests,
                self.stats.ipvs_errors,
                self.stats.spawn_errors
            );
        }
    }
}

/// A request for the log: `add virtual server [..]:tcp:80`, ...
struct CmdText<'a>(&'a Cmd);

impl core::fmt::Display for CmdText<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let trio = |s: &crate::wire::ipvs::ServiceSpec| Trio {
            addr: s.key.addr,
            protocol: match s.key.protocol {
                6 => crate::config::lvs::LvsProtocol::Tcp,
                17 => crate::config::lvs::LvsProtocol::Udp,
                _ => crate::config::lvs::LvsProtocol::Sctp,
            },
            port: s.key.port,
        };
        match self.0 {
            Cmd::NewService(s) => write!(f, "add virtual server {}", trio(s)),
            Cmd::SetService(s) => write!(f, "update virtual server {}", trio(s)),
            Cmd::DelService(s) => write!(f, "remove virtual server {}", trio(s)),
            Cmd::NewDest(s, d) => write!(
                f,
                "add real server [{}]:{} weight {} to {}",
                d.addr,
                d.port,
                d.weight,
                trio(s)
            ),
            Cmd::SetDest(s, d) => write!(
                f,
                "set real server [{}]:{} weight {} in {}",
                d.addr,
                d.port,
                d.weight,
                trio(s)
            ),
            Cmd::DelDest(s, d) => write!(
                f,
                "remove real server [{}]:{} from {}",
                d.addr,
                d.port,
                trio(s)
            ),
        }
    }
}

// Without the `lvs` feature the driver does nothing (and the configuration
// has no virtual servers): nothing to test.
#[cfg(all(test, feature = "lvs"))]
mod tests;
