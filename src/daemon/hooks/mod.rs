//! The daemon's hooks: trackers (`vrrp_script`, `vrrp_track_process`,
//! `vrrp_track_file`) feeding the core, and the notifications that go out on
//! every transition (notify scripts, the notify FIFO, SMTP alerts), wired
//! into the poll loop without ever blocking it.
//!
//! Per loop turn, after the core's timers (so an advert that is due goes out
//! before any fork or `/proc` read of the turn), [`Daemon::hooks_turn`]:
//! 1. reaps finished children after SIGCHLD (`sys::exec`): a `vrrp_script`
//!    result goes to `Trackers::script_result` (keepalived's rise/fall
//!    counter and log lines); a timed-out script was sent SIGTERM at its
//!    timeout and SIGKILL 2 s later, to its whole process group;
//! 2. spawns the scripts that are due (fork + exec, never waited for);
//! 3. advances the `/proc` scan by at most [`PROC_SCAN_BUDGET`] processes
//!    (a whole pass every [`PROC_SCAN_INTERVAL`]; measured: about 6 µs per
//!    process by name, 12 µs when `cmdline` must be read too, so a step of
//!    32 processes costs well under 1 ms);
//! 4. reads the tracked files that inotify (or the 1 s polling fallback)
//!    reports changed;
//! 5. hands every instance whose tracker state changed to
//!    `Router::handle_track` and executes the actions;
//! 6. starts the instances once the start-up wait is over (see below);
//! 7. moves the SMTP session forward (non-blocking connect, bounded buffers,
//!    `smtp_connect_timeout`).
//!
//! [`Hooks::deadline`] is part of the loop's wake-up time: the next script
//! run, a child's kill deadline, a process debounce deadline, the next
//! `/proc` pass (or "now" while a pass is in progress), the file polling
//! round, the SMTP timeout.
//!
//! Notifications ([`Hooks::notify`], after the other actions of a batch, so
//! `notify_master` runs once the VIPs are set): the specific `notify_*`
//! command exactly as configured, then the generic `notify` with
//! `INSTANCE|GROUP name STATE priority`, then the FIFO line, then the SMTP
//! alert (keepalived's order). Commands run without a shell unless they use
//! shell syntax, with a clean environment, in their own process group, as
//! the script user. STOP notifications are killed after 1 s (keepalived's
//! `notify_stop` timeout); other notify commands are not timed out (as in
//! keepalived).
//!
//! Start-up (keepalived's behaviour): an instance that tracks a weight-0
//! `vrrp_script` stays in INIT until that script has returned once. keepvip
//! starts all instances together once no such script is pending, or at the
//! latest after the longest such timeout plus the SIGTERM→SIGKILL grace
//! (a script that hangs is killed at its timeout, which is its first
//! result). The loop runs normally meanwhile (signals, netlink, trackers).
//! Process and file trackers are read synchronously before that, so they are
//! never pending.
//!
//! Reload: the trackers are rebuilt for the new configuration; a tracker
//! whose definition is unchanged keeps its state (script counter and
//! schedule, with its running check re-labelled; process quorum; file
//! value); a removed or changed script's running check is stopped.

mod checks;
mod files;
mod mail;

use std::os::fd::AsFd;

use heapless::Vec;

use super::Daemon;
use super::errno::IoErr;
use crate::config::model::{Config, Name, Notify, NotifyCmd, PathStr};
use crate::limits::{MAX_INSTANCES, MAX_SCRIPTS};
use crate::notify::{Event, FifoLine, NotifyKind, for_each_command};
use crate::sys::clock::monotonic_now;
use crate::sys::exec::{ChildKind, Creds, Exec, TERM_GRACE};
use crate::sys::fifo::{FifoError, NotifyFifo};
use crate::sys::poll::{PollTable, Slot};
use crate::sys::procscan::ProcScanner;
use crate::time::{Duration, Instant};
use crate::track::cmdline::{Argv, build_argv};
use crate::track::{ScriptId, ScriptOutcome, Trackers};
use crate::vrrp::{Action, Actions, InstanceId, NotifyState, TrackState};

pub use checks::{ScriptCreds, check_scripts, warn_missing};
use files::FileWatch;
use mail::Mail;

/// A whole `/proc` pass starts this often (when process trackers are used).
pub const PROC_SCAN_INTERVAL: Duration = Duration::from_secs(1);
/// Processes looked at per loop turn at most; a pass that is not done
/// continues on the next turn (the loop does not sleep meanwhile).
pub const PROC_SCAN_BUDGET: usize = 32;
/// keepalived's timeout for `notify_stop` (and the bounded wait for it at
/// shutdown).
pub const NOTIFY_STOP_TIMEOUT: Duration = Duration::from_secs(1);
/// Slack on top of the start-up wait (after a kill, the reaping).
const STARTUP_SLACK: Duration = Duration::from_millis(500);
/// Distinct notify FIFOs (the global one plus per-instance ones).
pub const MAX_FIFOS: usize = 8;

struct Fifo {
    path: PathStr,
    fifo: NotifyFifo,
}

/// Everything the hooks own, allocated at start-up.
pub struct Hooks {
    trackers: Box<Trackers>,
    /// The reload target.
    spare: Box<Trackers>,
    exec: Box<Exec>,
    creds: ScriptCreds,
    argv: Box<Argv>,
    /// `/proc` scanner (`None` when /proc cannot be opened).
    procs: Option<Box<ProcScanner>>,
    procs_used: bool,
    proc_next: Instant,
    proc_in_pass: bool,
    proc_error_logged: bool,
    files: Box<FileWatch>,
    file_slot: Option<Slot>,
    fifos: Vec<Fifo, MAX_FIFOS>,
    fifo_full_logged: bool,
    mail: Mail,
    smtp_slot: Option<Slot>,
    hostname: Name,
    sigchld: bool,
    /// Some tracker input arrived since the last hand-over to the router.
    dirty: bool,
    /// The instances are not started yet: the start-up wait ends then.
    start_at: Option<Instant>,
    spawn_fail_logged: [bool; MAX_SCRIPTS],
    script_map: Vec<Option<ScriptId>, MAX_SCRIPTS>,
}

/// The host name (`EHLO`, default `router_id`), read once.
fn hostname() -> Name {
    let mut buf = [0u8; 65];
    let n = crate::sys::gethostname(&mut buf);
    let mut name = Name::new();
    if let Ok(s) = core::str::from_utf8(n) {
        let _ = name.push_str(s.get(..name.capacity()).unwrap_or(s));
    }
    name
}

/// The `/proc` scanner for the process trackers in use (logged when /proc
/// cannot be opened: vrrp_track_process then cannot work).
fn open_procs(cfg: &Config, trackers: &Trackers) -> Option<Box<ProcScanner>> {
    match ProcScanner::new(cfg, trackers.processes_in_use()) {
        Ok(p) => Some(Box::new(p)),
        Err(e) => {
            error!(
                "cannot open /proc ({}): vrrp_track_process cannot work",
                IoErr(&e)
            );
            None
        }
    }
}

/// The FIFO paths of a configuration (`notify_fifo`, `vrrp_notify_fifo`,
/// then the instances' own), without duplicates, each with the owner a
/// FIFO keepvip creates gets (the global ones' `USER [GROUP]`).
fn fifo_paths(cfg: &Config, creds: &ScriptCreds) -> Vec<(PathStr, Option<Creds>), MAX_FIFOS> {
    let mut v: Vec<(PathStr, Option<Creds>), MAX_FIFOS> = Vec::new();
    let g = &cfg.global_defs;
    let all = g
        .notify_fifo
        .as_ref()
        .map(|f| (&f.path, creds.notify_fifo))
        .into_iter()
        .chain(
            g.vrrp_notify_fifo
                .as_ref()
                .map(|f| (&f.path, creds.vrrp_notify_fifo)),
        )
        .chain(
            cfg.instances
                .iter()
                .filter_map(|i| i.notify_fifo.as_ref().map(|p| (p, None))),
        );
    for (p, owner) in all {
        if !v.iter().any(|(q, _)| q == p) && v.push((p.clone(), owner)).is_err() {
            error!("more than {MAX_FIFOS} notify FIFOs: {p} not used");
        }
    }
    v
}

impl Hooks {
    /// Builds the hooks of `cfg` (start-up). Registers the inotify
    /// descriptor in `poll`.
    pub fn new(cfg: &Config, creds: ScriptCreds, poll: &mut PollTable) -> Result<Box<Hooks>, ()> {
        let trackers = Trackers::new_boxed(cfg);
        let exec =
            Exec::new().map_err(|e| error!("cannot set up the script runner: {}", IoErr(&e)))?;
        let procs_used = trackers.processes_in_use().next().is_some();
        // The /proc scanner (its buffers are about 20 KiB) exists only when
        // some vrrp_track_process is used (a reload creates it if needed).
        let procs = if procs_used {
            open_procs(cfg, &trackers)
        } else {
            None
        };
        let files = Box::new(FileWatch::new(cfg, &trackers));
        let file_slot = files.fd().and_then(|fd| poll.add(fd).ok());
        let hostname = hostname();
        let mail = Mail::new(&cfg.global_defs, &hostname);
        let mut h = Box::new(Hooks {
            spare: Box::new(Trackers::empty()),
            trackers,
            exec: Box::new(exec),
            creds,
            argv: Box::new(Argv::new()),
            procs,
            procs_used,
            proc_next: Instant::ZERO,
            proc_in_pass: false,
            proc_error_logged: false,
            files,
            file_slot,
            fifos: Vec::new(),
            fifo_full_logged: false,
            mail,
            smtp_slot: None,
            hostname,
            sigchld: false,
            dirty: true,
            start_at: None,
            spawn_fail_logged: [false; MAX_SCRIPTS],
            script_map: Vec::new(),
        });
        h.open_fifos(cfg);
        Ok(h)
    }

    fn open_fifos(&mut self, cfg: &Config) {
        let want = fifo_paths(cfg, &self.creds);
        // Keep the ones still wanted (no reopen, lines in flight stay).
        let mut i = 0;
        while i < self.fifos.len() {
            if want.iter().any(|(p, _)| *p == self.fifos[i].path) {
                i += 1;
            } else {
                self.fifos.swap_remove(i);
            }
        }
        for (p, owner) in want {
            if self.fifos.iter().any(|f| f.path == p) {
                continue;
            }
            match NotifyFifo::create_owned(&p, owner.map(|c| (c.uid, c.gid))) {
                Ok(fifo) => {
                    if let (Some(e), Some(c)) = (fifo.chown_error(), owner) {
                        warn!(
                            "Failed to set uid:gid {}:{} for fifo {}: {}",
                            c.uid,
                            c.gid,
                            p,
                            IoErr(e)
                        );
                    }
                    let _ = self.fifos.push(Fifo { path: p, fifo });
                }
                Err(FifoError::Io(e)) => {
                    error!("Unable to open notify fifo {}: {}", p, IoErr(&e))
                }
                Err(e) => error!("Unable to open notify fifo {}: {}", p, e),
            }
        }
    }

    /// SIGCHLD arrived: reap on this turn.
    pub fn on_sigchld(&mut self) {
        self.sigchld = true;
    }

    /// True while the instances wait for their first weight-0 script results.
    pub fn start_deferred(&self) -> bool {
        self.start_at.is_some()
    }

    /// When the hooks want the loop to wake up.
    /// The trackers of the running configuration (status and dumps show them).
    pub fn trackers(&self) -> &Trackers {
        &self.trackers
    }

    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        let mut d = self.trackers.poll_timeout();
        let mut min = |t: Option<Instant>| {
            if let Some(t) = t {
                d = Some(d.map_or(t, |x| x.min(t)));
            }
        };
        min(self.exec.next_deadline());
        if self.procs_used && self.procs.is_some() {
            min(Some(if self.proc_in_pass {
                now
            } else {
                self.proc_next
            }));
        }
        min(self.files.deadline());
        min(self.mail.deadline(now));
        min(self.start_at);
        if self.sigchld {
            min(Some(now));
        }
        d
    }

    fn reap(&mut self, now: Instant) {
        self.sigchld = false;
        while let Some(r) = self.exec.reap() {
            match r.kind {
                ChildKind::Script(id) => {
                    self.dirty |= self.trackers.script_result(id, now, r.outcome);
                }
                ChildKind::Notify => match r.outcome {
                    ScriptOutcome::Exited(0) => {}
                    ScriptOutcome::Exited(n) => {
                        debug!("notify command (pid {}) exited with status {}", r.pid, n)
                    }
                    ScriptOutcome::Signaled(n) => {
                        debug!("notify command (pid {}) killed by signal {}", r.pid, n)
                    }
                    ScriptOutcome::TimedOut => {
                        debug!("notify command (pid {}) killed at its timeout", r.pid)
                    }
                },
                ChildKind::Detached => {}
            }
        }
    }

    fn spawn_due(&mut self, now: Instant, cfg: &Config) {
        let due: Vec<ScriptId, MAX_SCRIPTS> = self.trackers.script_due(now).collect();
        for id in due {
            let i = usize::from(id.0);
            let Some(s) = cfg.scripts.get(i) else {
                self.trackers.script_spawn_failed(id);
                continue;
            };
            if let Err(e) = build_argv(&s.script, &[], &mut self.argv) {
                // Cannot happen: `check_scripts` refused such a configuration.
                self.trackers.script_spawn_failed(id);
                error!("VRRP_Script({}) cannot be started: {}", s.name, e);
                continue;
            }
            let r = self.exec.spawn(
                now,
                ChildKind::Script(id),
                &self.argv,
                self.creds.scripts.get(i).copied().flatten(),
                Some(self.trackers.script_timeout(id)),
            );
            match r {
                Ok(_) => {
                    if let Some(f) = self.spawn_fail_logged.get_mut(i) {
                        *f = false;
                    }
                }
                Err(e) => {
                    self.trackers.script_spawn_failed(id);
                    let first = self.spawn_fail_logged.get(i).is_some_and(|f| !*f);
                    if let Some(f) = self.spawn_fail_logged.get_mut(i) {
                        *f = true;
                    }
                    if first {
                        error!("VRRP_Script({}) cannot be started: {}", s.name, IoErr(&e));
                    }
                }
            }
        }
    }

    fn scan_step(&mut self, now: Instant) {
        if !self.procs_used {
            return;
        }
        let Some(sc) = self.procs.as_mut() else {
            return;
        };
        if !self.proc_in_pass {
            if now < self.proc_next {
                return;
            }
            self.proc_in_pass = true;
            self.proc_next = now + PROC_SCAN_INTERVAL;
        }
        match sc.scan_step(PROC_SCAN_BUDGET) {
            Ok(false) => {}
            Ok(true) => {
                self.proc_in_pass = false;
                self.proc_error_logged = false;
                for (id, n) in sc.counts() {
                    self.dirty |= self.trackers.process_count(id, now, n);
                }
            }
            Err(e) => {
                self.proc_in_pass = false;
                if !self.proc_error_logged {
                    self.proc_error_logged = true;
                    error!("/proc scan failed: {}", IoErr(&e));
                }
            }
        }
    }

    /// The tracker I/O of one turn (steps 1-4 of the module doc).
    fn service(&mut self, now: Instant, poll: &PollTable, cfg: &Config) {
        if self.sigchld {
            self.reap(now);
        }
        self.exec.kill_expired(now);
        self.spawn_due(now, cfg);
        self.scan_step(now);
        if self.file_slot.is_some_and(|s| poll.is_ready(s)) {
            self.files.on_ready(now, &mut self.trackers);
            self.dirty = true;
        }
        if self.files.deadline().is_some_and(|t| t <= now) {
            self.files.poll(now, &mut self.trackers);
            self.dirty = true;
        }
        self.dirty |= self.trackers.handle_timeout(now);
    }

    /// Moves the SMTP session forward and keeps its socket in `poll`.
    fn smtp_service(&mut self, now: Instant, poll: &mut PollTable) {
        if !self.mail.active() {
            return;
        }
        let ready = self.smtp_slot.is_some_and(|s| poll.is_ready(s));
        if self.mail.service(now, ready) {
            if let Some(s) = self.smtp_slot.take() {
                poll.remove(s);
            }
            self.smtp_slot = self.mail.fd().and_then(|fd| poll.add(fd).ok());
        }
    }

    /// Runs the notifications among `actions` (instance and sync group), in
    /// order; the other actions are the shell's (`exec::run_actions`).
    /// `now` is the loop turn's clock reading (the notify commands' timeouts
    /// count from it).
    pub fn notify(&mut self, cfg: &Config, actions: &Actions, now: Instant) {
        for a in actions {
            match *a {
                Action::Notify {
                    inst,
                    state,
                    priority,
                } => {
                    let Some(c) = cfg.instances.get(inst.index()) else {
                        continue;
                    };
                    let ev = Event {
                        kind: NotifyKind::Instance,
                        name: &c.name,
                        state,
                        priority,
                    };
                    debug!(
                        "({}) notify {} (priority {})",
                        c.name,
                        state.as_str(),
                        priority
                    );
                    self.run_commands(now, &cfg.notify_cmds, &c.notify, &ev);
                    // keepalived writes every line to notify_fifo and to
                    // vrrp_notify_fifo; keepvip's per-instance FIFO gets it
                    // unless it is one of those.
                    let g = &cfg.global_defs;
                    let globals = g.notify_fifo.iter().chain(&g.vrrp_notify_fifo);
                    let own = c
                        .notify_fifo
                        .as_ref()
                        .filter(|p| !globals.clone().any(|g| g.path == **p));
                    self.fifo_line(&ev, globals.map(|f| &f.path).chain(own));
                    self.mail.alert_instance(c, state);
                }
                Action::MasterRxLowerPri { inst, priority } => {
                    let Some(c) = cfg.instances.get(inst.index()) else {
                        continue;
                    };
                    debug!(
                        "({}) notify MASTER_RX_LOWER_PRI (priority {})",
                        c.name, priority
                    );
                    // keepalived's send_event_notify: the command as
                    // configured, then the FIFO line; no mail.
                    let id = c.notify.notify_master_rx_lower_pri;
                    if let (Some(id), Some(cmd)) = (id, cfg.cmd(id)) {
                        let Hooks {
                            exec, creds, argv, ..
                        } = &mut *self;
                        let who = creds.notify(id);
                        match build_argv(cmd, &[], argv) {
                            Ok(()) => {
                                if let Err(e) = exec.spawn(now, ChildKind::Notify, argv, who, None)
                                {
                                    error!(
                                        "INSTANCE {}: cannot run notify_master_rx_lower_pri: {}",
                                        c.name,
                                        IoErr(&e)
                                    );
                                }
                            }
                            Err(e) => error!(
                                "INSTANCE {}: notify_master_rx_lower_pri cannot be built: {}",
                                c.name, e
                            ),
                        }
                    }
                    let line = FifoLine::master_rx_lower_pri(&c.name, priority);
                    let g = &cfg.global_defs;
                    let globals = g.notify_fifo.iter().chain(&g.vrrp_notify_fifo);
                    let own = c
                        .notify_fifo
                        .as_ref()
                        .filter(|p| !globals.clone().any(|g| g.path == **p));
                    self.fifo_write(&line, globals.map(|f| &f.path).chain(own));
                }
                Action::NotifyGroup { group, state } => {
                    let Some(g) = cfg.sync_groups.get(group.index()) else {
                        continue;
                    };
                    let ev = Event {
                        kind: NotifyKind::Group,
                        name: &g.name,
                        state,
                        priority: 0,
                    };
                    debug!("VRRP_Group({}) notify {}", g.name, state.as_str());
                    self.run_commands(now, &cfg.notify_cmds, &g.notify, &ev);
                    let gd = &cfg.global_defs;
                    let globals = gd.notify_fifo.iter().chain(&gd.vrrp_notify_fifo);
                    self.fifo_line(&ev, globals.map(|f| &f.path));
                    self.mail.alert_group(g, state);
                }
                _ => {}
            }
        }
    }

    /// Runs `n`'s commands (in `cmds`, the configuration's pool) for `ev`,
    /// each as its own user if it names one.
    fn run_commands(&mut self, now: Instant, cmds: &[NotifyCmd], n: &Notify, ev: &Event<'_>) {
        let timeout = (ev.state == NotifyState::Stop).then_some(NOTIFY_STOP_TIMEOUT);
        let Hooks {
            exec, creds, argv, ..
        } = self;
        for_each_command(cmds, n, ev, argv, |id, a| match a {
            Ok(a) => {
                let who = creds.notify(id);
                if let Err(e) = exec.spawn(now, ChildKind::Notify, a, who, timeout) {
                    error!(
                        "{} {}: cannot run notify command for {}: {}",
                        ev.kind.as_str(),
                        ev.name,
                        ev.state.as_str(),
                        IoErr(&e)
                    );
                }
            }
            Err(e) => error!(
                "{} {}: notify command for {} cannot be built: {}",
                ev.kind.as_str(),
                ev.name,
                ev.state.as_str(),
                e
            ),
        });
    }

    fn fifo_line<'a>(&mut self, ev: &Event<'_>, paths: impl Iterator<Item = &'a PathStr>) {
        self.fifo_write(&FifoLine::format(ev), paths);
    }

    fn fifo_write<'a>(&mut self, line: &FifoLine, paths: impl Iterator<Item = &'a PathStr>) {
        for p in paths {
            let Some(f) = self.fifos.iter_mut().find(|f| &f.path == p) else {
                continue;
            };
            if f.fifo.write_line(line.as_bytes()) {
                self.fifo_full_logged = false;
            } else if !self.fifo_full_logged {
                self.fifo_full_logged = true;
                warn!(
                    "notify fifo {}: nobody reads it (pipe full): lines dropped",
                    p
                );
            }
        }
    }
}

impl Daemon {
    /// Start-up: the first round of every tracker (files read, `/proc`
    /// scanned, scripts spawned), the results so far handed to the router,
    /// and the decision whether the instances start now or after the
    /// start-up wait. Returns true when they may start now.
    pub(super) fn hooks_prime(&mut self, now: Instant) -> bool {
        let h = &mut *self.hooks;
        warn_missing(&self.cur.cfg);
        files::init_files(&self.cur.cfg, &h.trackers, false);
        h.files.read_all(now, &mut h.trackers);
        if h.procs_used
            && let Some(sc) = h.procs.as_mut()
        {
            match sc.scan() {
                Ok(()) => {
                    for (id, n) in sc.counts() {
                        h.trackers.process_count(id, now, n);
                    }
                }
                Err(e) => error!("/proc scan failed: {}", IoErr(&e)),
            }
            h.proc_next = now + PROC_SCAN_INTERVAL;
        }
        h.spawn_due(now, &self.cur.cfg);
        self.deliver_tracks(now);
        let h = &mut *self.hooks;
        if h.trackers.waiting_for_scripts() {
            let wait = h.trackers.startup_wait() + TERM_GRACE + STARTUP_SLACK;
            debug!(
                "instances wait (at most {} ms) for their weight-0 scripts' first result",
                wait.as_millis()
            );
            h.start_at = Some(now + wait);
            false
        } else {
            true
        }
    }

    /// Hands every instance whose tracker state changed to the router.
    fn deliver_tracks(&mut self, now: Instant) {
        if !core::mem::take(&mut self.hooks.dirty) {
            return;
        }
        let mut changed: Vec<(InstanceId, TrackState), MAX_INSTANCES> = Vec::new();
        self.hooks.trackers.take_changed(|id, st| {
            let _ = changed.push((id, st));
        });
        for (id, st) in changed {
            self.cur.router.handle_track(now, id, st, &mut self.actions);
            self.execute(now);
        }
    }

    /// The hooks' part of a loop turn (see the module doc).
    pub(super) fn hooks_turn(&mut self, now: Instant) {
        self.hooks.service(now, &self.poll, &self.cur.cfg);
        self.deliver_tracks(now);
        if let Some(at) = self.hooks.start_at
            && (now >= at || !self.hooks.trackers.waiting_for_scripts())
        {
            self.hooks.start_at = None;
            if now >= at && self.hooks.trackers.waiting_for_scripts() {
                warn!("weight-0 scripts did not return in time: starting the instances");
            }
            self.start_instances(now);
        }
        self.hooks.smtp_service(now, &mut self.poll);
    }

    /// Shutdown, after the priority-0 adverts and the VIP removal: the
    /// running checks are stopped, the STOP notifications among
    /// `self.actions` run (notify_stop, notify, FIFO, SMTP), and the daemon
    /// waits for them at most [`NOTIFY_STOP_TIMEOUT`]; whatever still runs
    /// then is killed with its process group.
    pub(super) fn hooks_shutdown(&mut self) {
        let t0 = monotonic_now();
        let h = &mut *self.hooks;
        h.exec.retag(t0, |k| match k {
            ChildKind::Script(_) | ChildKind::Detached => None,
            k => Some(k),
        });
        h.notify(&self.cur.cfg, &self.actions, t0);
        let deadline = t0 + NOTIFY_STOP_TIMEOUT;
        let mut table = PollTable::new();
        let sig = table.add(self.signals.as_fd()).ok();
        let mut smtp_slot: Option<Slot> = None;
        loop {
            let now = monotonic_now();
            let h = &mut *self.hooks;
            h.reap(now);
            h.exec.kill_expired(now);
            let ready = smtp_slot.is_some_and(|s| table.is_ready(s));
            if h.mail.active() && h.mail.service(now, ready) {
                if let Some(s) = smtp_slot.take() {
                    table.remove(s);
                }
                smtp_slot = h.mail.fd().and_then(|fd| table.add(fd).ok());
            }
            if h.exec.running() == 0 && !h.mail.active() {
                break;
            }
            if now >= deadline {
                warn!(
                    "{} notify command(s) / SMTP alert(s) still running {} ms after stop: killed",
                    h.exec.running() + h.mail.pending(),
                    NOTIFY_STOP_TIMEOUT.as_millis()
                );
                break;
            }
            let mut wake = deadline;
            for t in [h.exec.next_deadline(), h.mail.timer_deadline(now)]
                .into_iter()
                .flatten()
            {
                wake = wake.min(t);
            }
            let _ = table.poll(Some(wake.saturating_duration_since(now)));
            if sig.is_some_and(|s| table.is_ready(s)) {
                // SIGCHLD (a second TERM changes nothing: we are stopping).
                let _ = self.signals.read();
            }
        }
        let h = &mut *self.hooks;
        h.exec.signal_all(libc::SIGKILL);
        h.reap(monotonic_now());
        debug!(
            "stop notifications done in {} us",
            monotonic_now().saturating_duration_since(t0).as_micros()
        );
    }

    /// Reload, after the swap (`self.cur` is the new configuration,
    /// `self.spare` the old one): trackers rebuilt keeping the state of
    /// unchanged ones, running checks re-labelled or stopped, `/proc`
    /// matchers, file watches, FIFOs and SMTP settings for the new
    /// configuration.
    pub(super) fn hooks_reload(&mut self, now: Instant, creds: ScriptCreds) {
        let h = &mut *self.hooks;
        let (old_cfg, new_cfg) = (&self.spare.cfg, &self.cur.cfg);
        h.spare.rebuild(new_cfg);
        let kept = h
            .spare
            .adopt_from(&h.trackers, old_cfg, new_cfg, &mut h.script_map);
        core::mem::swap(&mut h.trackers, &mut h.spare);
        let map = &h.script_map;
        h.exec.retag(now, |k| match k {
            ChildKind::Script(ScriptId(i)) => map
                .get(usize::from(i))
                .copied()
                .flatten()
                .map(ChildKind::Script),
            k => Some(k),
        });
        h.creds = creds;
        h.spawn_fail_logged = [false; MAX_SCRIPTS];
        h.procs_used = h.trackers.processes_in_use().next().is_some();
        if let Some(sc) = h.procs.as_mut() {
            match ProcScanner::new(new_cfg, h.trackers.processes_in_use()) {
                Ok(s) => **sc = s,
                Err(e) => error!("cannot open /proc: {}", IoErr(&e)),
            }
        } else if h.procs_used {
            h.procs = open_procs(new_cfg, &h.trackers);
        }
        h.proc_in_pass = false;
        h.proc_next = now;
        warn_missing(new_cfg);
        files::init_files(new_cfg, &h.trackers, true);
        if let Some(s) = h.file_slot.take() {
            self.poll.remove(s);
        }
        *h.files = FileWatch::new(new_cfg, &h.trackers);
        h.file_slot = h.files.fd().and_then(|fd| self.poll.add(fd).ok());
        h.files.read_all(now, &mut h.trackers);
        h.dirty = true;
        h.open_fifos(new_cfg);
        h.mail
            .reconfigure(&old_cfg.global_defs, &new_cfg.global_defs, &h.hostname);
        info!("Reload: {} tracker(s) kept their state", kept);
    }
}

#[cfg(test)]
mod tests;
