//! The daemon: one thread, one `poll(2)` over a fixed table of fds, driving
//! the VRRP core.
//!
//! Start-up allocates everything (two configurations and two routers, so
//! that a SIGHUP reload needs no new memory for them; the I/O buffers; the
//! interface and fd tables). Then each loop turn:
//!
//! 1. `poll` until an fd is readable or the core's next deadline (a
//!    timerfd armed at that deadline: poll's own timeout has a slack of
//!    0.1 % of its length, 3.6 ms on a 3.6 s Master_Down_Interval);
//! 2. read `CLOCK_MONOTONIC` once;
//! 3. signals (TERM/INT: clean stop; HUP: reload; CHLD: reap; USR1, USR2,
//!    RTMIN+2: dumps, written at the end of the turn);
//! 4. netlink replies and events: they only update the interface table and
//!    set flags, acted on in step 6;
//! 5. VRRP sockets, at most `RX_BURST_MAX` packets each;
//! 6. link changes -> `handle_link`, addresses -> advert sources, VIPs
//!    removed behind a master's back -> re-added;
//! 7. `handle_timeout` until no deadline is due;
//! 8. the hooks (`daemon::hooks`): reaped scripts, due scripts, the `/proc`
//!    scan step, tracked files, tracker results into the core, SMTP;
//! 9. the LVS side (`daemon::lvs`): finished and due health-check probes,
//!    MISC_CHECK scripts, IPVS following the VRRP states;
//! 10. requested dumps and the `keepvip status` socket (`observe`).
//!
//! After every core call the actions are executed in order and cleared
//! (notifications last: `hooks::Hooks::notify`).
//! Nothing in the loop allocates on the heap (the logger formats into a
//! stack buffer, `crate::logger`). The binary's global allocator counts
//! every allocation (`sys::alloc`); the count since start-up is in `keepvip
//! status`, the stats dump and the stop log line, and the namespace tests
//! (`tests/daemon_netns.rs`, `hooks_netns.rs`, `lvs_netns.rs`) and
//! `board/budgets.sh heap`/`lvsheap` (the static musl build, also under
//! strace: no brk/mmap/munmap) hold it to zero.

mod errno;
mod exec;
mod hooks;
mod iface;
mod lvs;
mod observe;
mod retry;
mod rx;

use std::path::Path;

use heapless::Vec;

use crate::cli::Options;
use crate::config::{self, Config, Diagnostics, Severity};
use crate::limits::MAX_INSTANCES;
use crate::sys::clock::monotonic_now;
use crate::sys::config_fs::FsSource;
use crate::sys::netlink::{NL_MONITOR_RCVBUF, Netlink};
use crate::sys::packet_sock::PacketSocket;
use crate::sys::poll::{PollTable, Slot};
use crate::sys::sched::SchedConfig;
use crate::sys::signal::{Signal, Signals};
use crate::sys::timerfd::TimerFd;
use crate::sys::{self, pidfile};
use crate::time::{Duration, Instant};
use crate::vrrp::{Actions, InstanceId, Router, reload_map};

pub use errno::{Errno, IoErr, errno_text};
use exec::Io;
pub use hooks::check_scripts;
pub use lvs::NO_IPVS;

/// Logged (info) once start-up is over: everything after it runs without
/// heap growth. Tests wait for this line.
pub const STARTUP_COMPLETE: &str = "startup complete (keepvip ready)";

/// How long start-up waits for the interface dump.
const DUMP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long start-up / shutdown wait for the kernel's answers to VIP requests.
const ACK_WAIT: Duration = Duration::from_millis(500);
/// Most `handle_timeout` rounds in one turn (a GARP burst with
/// `garp_interval 0` comes in batches).
const TIMER_ROUNDS_MAX: usize = 64;
/// The poll timeout trails the timerfd deadline by this much (safety net).
const POLL_MARGIN_US: u64 = 100_000;
/// How long the daemon runs at normal priority after a SIGXCPU
/// (`vrrp_rlimit_rttime`) before it goes real-time again.
const RT_BACKOFF: Duration = Duration::from_secs(1);

/// A configuration and the router built from it.
struct Runtime {
    cfg: Box<Config>,
    router: Box<Router>,
}

struct Daemon {
    config_path: std::string::String,
    /// Reads the configuration into its start-up arena (start and reloads).
    source: FsSource,
    cur: Runtime,
    /// The reload target (allocated at start-up).
    spare: Runtime,
    diags: Box<Diagnostics>,
    map: Box<Vec<Option<InstanceId>, MAX_INSTANCES>>,
    io: Box<Io>,
    poll: PollTable,
    signals: Signals,
    sig_slot: Slot,
    nl_req_slot: Slot,
    nl_mon_slot: Slot,
    /// Wakes the loop at the core's deadline (see `sys::timerfd` for why
    /// not only the poll timeout).
    timer: TimerFd,
    timer_slot: Slot,
    actions: Box<Actions>,
    /// State dumps and the status socket.
    observe: observe::Observer,
    /// Trackers, notify scripts, FIFO, SMTP.
    hooks: Box<hooks::Hooks>,
    /// Health checkers and IPVS (`virtual_server`): allocated at start-up
    /// whenever the `lvs` feature is built in, with or without virtual
    /// servers (a SIGHUP that adds the first one allocates nothing); `None`
    /// in a build without the feature.
    lvs: Option<Box<lvs::LvsDriver>>,
    /// The scheduling set by `vrrp_rt_priority` / `vrrp_priority`
    /// (`sys::sched`); default: untouched.
    sched: SchedConfig,
    /// After a SIGXCPU: real-time again at this time.
    rt_backoff_until: Option<Instant>,
}

fn log_diags(cfg: &Config, d: &Diagnostics) {
    for x in d.iter() {
        match x.severity {
            Severity::Error => error!("{}", x.display(cfg)),
            Severity::Warning => warn!("{}", x.display(cfg)),
        }
    }
    if d.dropped > 0 {
        error!("{} more diagnostics not shown", d.dropped);
    }
}

/// At stop: how late each instance's timed adverts went out (instances
/// that never sent one are left out).
fn log_lateness_summary(router: &Router) {
    for id in router.instance_ids() {
        if let (Some(name), Some(s)) = (router.name(id), router.stats(id))
            && s.advert_late.count > 0
        {
            info!(
                "({}) advert lateness: {}",
                name,
                crate::dump::LatenessText(&s.advert_late)
            );
        }
    }
}

/// What `keepvip status` and the data dump show of the LVS side.
fn lvs_view(l: &lvs::LvsDriver) -> crate::lvs::report::LvsView<'_> {
    crate::lvs::report::LvsView {
        lvs: l.core(),
        installed: l.installed(),
    }
}

/// Runs the daemon until SIGTERM/SIGINT. Returns the exit status.
pub fn run(opts: &Options) -> i32 {
    let path = opts.config_path(&crate::sys::path_exists);
    let mut cfg = Config::new_boxed();
    let mut diags = Diagnostics::new_boxed();
    // The one allocation for reading configuration files, reused by every
    // SIGHUP.
    let source = FsSource::new();
    config::parse(&source, &path, &mut cfg, &mut diags);
    let creds = hooks::check_scripts(&cfg, &mut diags);
    log_diags(&cfg, &diags);
    if diags.has_errors() {
        error!(
            "{}: {} error(s): configuration cannot be used, exiting",
            path, diags.errors
        );
        return 1;
    }
    if cfg.instances.is_empty() && cfg.lvs.is_empty() {
        // (A load-balancing-only configuration runs its checkers.)
        warn!("{}: no vrrp_instance configured", path);
    }
    if !opts.dont_fork
        && let Err(e) = sys::daemonize()
    {
        error!("cannot detach: {}", errno::IoErr(&e));
        return 1;
    }
    let pid_path = opts.pid_path().to_owned();
    // What children get back from vrrp_priority / vrrp_rt_priority; and
    // from the first child on, none inherits a real-time policy (the
    // configured scheduling itself is applied once start-up is over).
    sys::sched::capture_original();
    sys::sched::reset_children_on_fork();
    // Signals first: blocked before anything else can start a thread.
    let signals = match Signals::open() {
        Ok(s) => s,
        Err(e) => {
            error!("cannot set up signals: {}", errno::IoErr(&e));
            return 1;
        }
    };
    if let Err(e) = pidfile::write(Path::new(&pid_path)) {
        error!("cannot write pid file {}: {}", pid_path, errno::IoErr(&e));
        return 1;
    }
    let observe = observe::Observer::new(opts);
    let code = match Daemon::start(path, source, cfg, diags, creds, signals, observe) {
        Ok(mut d) => d.run(),
        Err(()) => 1,
    };
    let _ = pidfile::remove(Path::new(&pid_path));
    code
}

impl Daemon {
    fn start(
        config_path: std::string::String,
        source: FsSource,
        cfg: Box<Config>,
        diags: Box<Diagnostics>,
        creds: hooks::ScriptCreds,
        signals: Signals,
        mut observe: observe::Observer,
    ) -> Result<Daemon, ()> {
        info!(
            "Starting keepvip {} (git {})",
            crate::limits::VERSION,
            crate::limits::GIT_REV
        );
        let router = Router::new_boxed(&cfg).map_err(|e| error!("cannot build the router: {e}"))?;
        // The reload target: empty until the first SIGHUP (a router built
        // from `cfg` here would make its instance table resident for nothing:
        // reload rebuilds it in place).
        let spare_cfg = Config::new_boxed();
        let spare = Runtime {
            router: Router::new_boxed(&spare_cfg).map_err(|_| ())?,
            cfg: spare_cfg,
        };
        let nl = Netlink::open(NL_MONITOR_RCVBUF)
            .map_err(|e| error!("cannot open netlink: {}", errno::IoErr(&e)))?;
        let packet = PacketSocket::open_tx()
            .map_err(|e| error!("cannot open packet socket: {}", errno::IoErr(&e)))?;
        let mut io = Io::new(nl, packet);
        if let Err(name) = iface::register(&mut io.ifaces, &cfg) {
            error!("too many interfaces (MAX_INTERFACES): {}", name);
            return Err(());
        }
        let mut poll = PollTable::new();
        let sig_slot = poll
            .add(std::os::fd::AsFd::as_fd(&signals))
            .map_err(|_| ())?;
        let nl_req_slot = poll.add(io.nl.request_fd()).map_err(|_| ())?;
        let nl_mon_slot = poll.add(io.nl.monitor_fd()).map_err(|_| ())?;
        let timer =
            TimerFd::open().map_err(|e| error!("cannot open timerfd: {}", errno::IoErr(&e)))?;
        let timer_slot = poll.add(std::os::fd::AsFd::as_fd(&timer)).map_err(|_| ())?;
        observe.register(&mut poll);
        // The LVS side (with the `lvs` feature, also without virtual
        // servers): when there are some, IPVS looked for and checkers
        // started (first probes 1 s from now, in the loop).
        let lvs = lvs::LvsDriver::start(&cfg, monotonic_now());
        let hooks = hooks::Hooks::new(&cfg, creds, &mut poll)?;
        let mut d = Daemon {
            config_path,
            source,
            cur: Runtime { cfg, router },
            spare,
            diags,
            map: Box::new(Vec::new()),
            io,
            poll,
            signals,
            sig_slot,
            nl_req_slot,
            nl_mon_slot,
            timer,
            timer_slot,
            actions: Box::new(Actions::new()),
            observe,
            lvs,
            hooks,
            sched: SchedConfig::default(),
            rt_backoff_until: None,
        };

        // Interfaces: index, MAC, state, addresses.
        d.initial_dump()?;
        let now = monotonic_now();
        for f in d.io.ifaces.iter() {
            if f.ifindex == 0 {
                warn!(
                    "interface {} not found: instances on it start in FAULT",
                    f.name
                );
            }
        }
        exec::sync_sockets(&mut d.io, &mut d.poll, &d.cur.cfg);
        for f in d.io.ifaces.iter_mut() {
            f.addr_dirty = true;
        }
        exec::refresh_src_addrs(&mut d.io, &d.cur.cfg, &mut d.cur.router);
        d.apply_links(now);

        // The first tracker round; instances tracking a weight-0 script
        // wait for its first result (keepalived), in the loop.
        if d.hooks_prime(now) {
            d.start_instances(now);
        }
        d.pump_timers(monotonic_now());
        // From here on nothing allocates: counted (`sys::alloc`), shown by
        // `keepvip status` and at stop.
        sys::alloc::mark_startup_complete();
        info!("{}", STARTUP_COMPLETE);
        Ok(d)
    }

    /// Starts the instances: non-master instances remove stale VIPs (crash
    /// leftovers).
    fn start_instances(&mut self, now: Instant) {
        let t0 = monotonic_now();
        self.cur.router.handle_start(now, &mut self.actions);
        self.execute(now);
        let requests = self.io.stats.vip_requests;
        self.wait_acks();
        let took = monotonic_now().saturating_duration_since(t0);
        debug!(
            "start-up VIP cleanup: {} request(s) in {} us",
            requests,
            took.as_micros()
        );
    }

    /// The start-up link + address dump, through the normal event path.
    fn initial_dump(&mut self) -> Result<(), ()> {
        let deadline = monotonic_now() + DUMP_TIMEOUT;
        if let Err(e) = self.io.nl.start_dump() {
            error!("netlink dump failed: {}", errno::IoErr(&e));
            return Err(());
        }
        // The dump's DumpDone is observed through dump_in_progress().
        let mut now = monotonic_now();
        loop {
            exec::drain_netlink(&mut self.io, &self.cur.cfg, &self.cur.router, now);
            if !self.io.nl.dump_in_progress() {
                return Ok(());
            }
            now = monotonic_now();
            if now >= deadline {
                error!("netlink dump did not complete in time");
                return Err(());
            }
            let _ = self
                .io
                .nl
                .wait_readable(deadline.saturating_duration_since(now));
        }
    }

    /// Executes and clears the pending actions (current runtime); `now` is
    /// the turn's clock reading.
    fn execute(&mut self, now: Instant) {
        exec::run_actions(
            &mut self.io,
            &self.cur.cfg,
            &self.cur.router,
            &self.actions,
            now,
        );
        self.hooks.notify(&self.cur.cfg, &self.actions, now);
        self.actions.clear();
    }

    /// Waits (bounded) until the kernel answered every VIP request.
    fn wait_acks(&mut self) {
        let mut now = monotonic_now();
        let deadline = now + ACK_WAIT;
        loop {
            exec::drain_netlink(&mut self.io, &self.cur.cfg, &self.cur.router, now);
            if self.io.outstanding() == 0 {
                return;
            }
            now = monotonic_now();
            if now >= deadline {
                warn!(
                    "{} VIP request(s) still unanswered by the kernel",
                    self.io.outstanding()
                );
                return;
            }
            let _ = self
                .io
                .nl
                .wait_readable(deadline.saturating_duration_since(now));
        }
    }

    /// Tells the router about every interface whose state changed (all of
    /// them at start-up: the router assumes "up").
    fn apply_links(&mut self, now: Instant) {
        for i in 0..self.io.ifaces.len() {
            let (dirty, up) = {
                let f = &self.io.ifaces[i];
                (f.link_dirty || !f.up, f.up)
            };
            if !dirty {
                continue;
            }
            self.io.ifaces[i].link_dirty = false;
            let name = self.io.ifaces[i].name.clone();
            self.cur
                .router
                .handle_link(now, &name, up, &mut self.actions);
            self.execute(now);
        }
    }

    /// Fires due deadlines until none is left (bounded).
    fn pump_timers(&mut self, now: Instant) {
        for _ in 0..TIMER_ROUNDS_MAX {
            self.cur.router.handle_timeout(now, &mut self.actions);
            self.execute(now);
            match self.cur.router.poll_timeout() {
                Some(t) if t <= now => continue,
                _ => break,
            }
        }
    }

    /// The loop. Returns the exit status.
    fn run(&mut self) -> i32 {
        // The clock is read once per turn, right after poll returns; the
        // next timeout is computed from that reading (the turn's work takes
        // microseconds).
        // Start-up is over (it may take longer than vrrp_rlimit_rttime
        // allows a real-time process): now the loop's scheduling.
        self.apply_sched(SchedConfig::from_global(&self.cur.cfg.global_defs));
        let mut now = monotonic_now();
        let mut timer_failed = false;
        loop {
            let lvs_deadline = self.lvs.as_ref().and_then(|l| l.deadline());
            if self.rt_backoff_until.is_some_and(|t| t <= now) {
                self.rt_backoff_until = None;
                self.apply_sched(SchedConfig::from_global(&self.cur.cfg.global_defs));
            }
            let deadline = [
                self.cur.router.poll_timeout(),
                self.io.retry_deadline(),
                self.hooks.deadline(now),
                lvs_deadline,
                self.rt_backoff_until,
            ]
            .into_iter()
            .flatten()
            .min();
            let mut timeout = deadline.map(|t| t.saturating_duration_since(now));
            match self.timer.set_deadline(deadline) {
                // The timerfd wakes us precisely; the poll timeout (a little
                // later) is only a safety net.
                Ok(()) => {
                    timeout = timeout.map(|d| Duration::from_micros(d.as_micros() + POLL_MARGIN_US))
                }
                Err(e) if !timer_failed => {
                    timer_failed = true;
                    warn!(
                        "timerfd_settime failed ({}): timers use the poll timeout",
                        errno::IoErr(&e)
                    );
                }
                Err(_) => {}
            }
            if let Err(e) = self.poll.poll(timeout) {
                error!("poll failed: {}", errno::IoErr(&e));
                return 1;
            }
            now = monotonic_now();
            if self.poll.is_ready(self.timer_slot) {
                self.timer.clear();
            }

            if self.poll.is_ready(self.sig_slot) {
                let set = match self.signals.read() {
                    Ok(s) => s,
                    Err(e) => {
                        error!("signalfd read failed: {}", errno::IoErr(&e));
                        Default::default()
                    }
                };
                if set.contains(Signal::Term) || set.contains(Signal::Int) {
                    return self.shutdown(now);
                }
                if set.contains(Signal::Chld) {
                    self.hooks.on_sigchld();
                    // MISC_CHECK and checker notify scripts: the LVS side's
                    // own runner, reaped by pid.
                    if let Some(l) = self.lvs.as_mut() {
                        l.on_sigchld();
                    }
                }
                self.observe.request(set);
                if set.contains(Signal::Xcpu) {
                    self.on_sigxcpu(now);
                }
                if set.contains(Signal::Hup) {
                    // A reload parses and rebuilds everything: more CPU
                    // than vrrp_rlimit_rttime may allow, so it runs at
                    // normal priority.
                    self.apply_sched(self.sched.without_rt());
                    self.reload(now);
                    self.rt_backoff_until = None;
                    self.apply_sched(SchedConfig::from_global(&self.cur.cfg.global_defs));
                }
            }

            if self.poll.is_ready(self.nl_req_slot) || self.poll.is_ready(self.nl_mon_slot) {
                exec::drain_netlink(&mut self.io, &self.cur.cfg, &self.cur.router, now);
            }

            for i in 0..self.io.ifaces.len() {
                let (r4, r6) = {
                    let f = &self.io.ifaces[i];
                    (
                        f.sock4
                            .as_ref()
                            .is_some_and(|(_, s)| self.poll.is_ready(*s)),
                        f.sock6
                            .as_ref()
                            .is_some_and(|(_, s)| self.poll.is_ready(*s)),
                    )
                };
                for (ready, v6) in [(r4, false), (r6, true)] {
                    if ready {
                        rx::read_iface(
                            &mut self.io,
                            i,
                            v6,
                            now,
                            &self.cur.cfg,
                            &mut self.cur.router,
                            &mut self.actions,
                            &mut self.hooks,
                        );
                    }
                }
                let r_ah = self.io.ifaces[i]
                    .sock_ah
                    .as_ref()
                    .is_some_and(|(_, s)| self.poll.is_ready(*s));
                if r_ah {
                    rx::read_iface_ah(
                        &mut self.io,
                        i,
                        now,
                        &self.cur.cfg,
                        &mut self.cur.router,
                        &mut self.actions,
                    );
                }
            }

            self.after_netlink(now);
            exec::retry_vips(&mut self.io, &self.cur.cfg, &self.cur.router, now);
            self.pump_timers(now);
            self.hooks_turn(now);
            // After the VRRP timers and the trackers: a new MASTER programs
            // IPVS this turn.
            if let Some(l) = self.lvs.as_mut() {
                l.turn(&mut self.poll, now, &self.cur.cfg, &self.cur.router);
            }
            let lvs_view = self
                .lvs
                .as_deref()
                .filter(|_| cfg!(feature = "lvs") && !self.cur.cfg.lvs.is_empty())
                .map(lvs_view);
            self.observe.turn(
                &self.poll,
                now,
                &self.cur.cfg,
                &self.cur.router,
                Some(self.hooks.trackers()),
                lvs_view,
            );
        }
    }

    /// SIGXCPU: the loop ran `vrrp_rlimit_rttime / 2` µs at real-time
    /// priority without sleeping (a flood it cannot keep up with, say); at
    /// `vrrp_rlimit_rttime` the kernel would kill it. keepvip steps down to
    /// normal priority for [`RT_BACKOFF`] instead (keepalived only logs,
    /// and its parent process restarts the killed VRRP child).
    fn on_sigxcpu(&mut self, now: Instant) {
        let c = self.sched;
        if c.rt_priority == 0 {
            warn!("SIGXCPU received while not running real-time: ignored");
            return;
        }
        warn!(
            "SIGXCPU: the loop ran more than {} us at real-time priority without sleeping (RLIMIT_RTTIME; the kernel kills keepvip at vrrp_rlimit_rttime {} us): normal priority for {} ms",
            c.rlimit_rttime_us / 2,
            c.rlimit_rttime_us,
            RT_BACKOFF.as_millis()
        );
        self.apply_sched(c.without_rt());
        self.rt_backoff_until = Some(now + RT_BACKOFF);
    }

    /// Moves the process to scheduling `new` (`sys::sched::apply`) and logs
    /// the change; a failure is logged and the daemon runs on (keepalived).
    fn apply_sched(&mut self, new: SchedConfig) {
        let old = self.sched;
        if new == old {
            return;
        }
        match sys::sched::apply(new, old) {
            Ok(()) => {
                self.sched = new;
                if new.rt_priority > 0 {
                    info!(
                        "Scheduling: SCHED_RR priority {} (vrrp_rt_priority; RLIMIT_RTTIME {} us, SIGXCPU at {} us; children run SCHED_OTHER)",
                        new.rt_priority,
                        new.rlimit_rttime_us,
                        new.rlimit_rttime_us / 2
                    );
                } else if new.nice != 0 {
                    info!("Scheduling: nice {} (vrrp_priority)", new.nice);
                } else if old.rt_priority > 0 || old.nice != 0 {
                    debug!("Scheduling: back to the start-up policy and nice value");
                }
            }
            Err(e) => {
                let (what, err) = match &e {
                    sys::sched::SchedError::RealTime(e) => {
                        ("cannot set real-time priority (vrrp_rt_priority)", e)
                    }
                    sys::sched::SchedError::RlimitRttime(e) => {
                        ("cannot set RLIMIT_RTTIME (vrrp_rlimit_rttime)", e)
                    }
                    sys::sched::SchedError::Nice(e) => {
                        ("cannot set the process priority (vrrp_priority)", e)
                    }
                };
                warn!("{}: {}", what, errno::IoErr(err));
                // Real-time failed: nothing of it is in place (a later
                // reload tries again); the nice value was still applied.
                self.sched = match e {
                    sys::sched::SchedError::RealTime(_) => new.without_rt(),
                    _ => new,
                };
            }
        }
    }

    /// Acts on what netlink events flagged.
    fn after_netlink(&mut self, now: Instant) {
        if self
            .io
            .ifaces
            .iter()
            .any(|f| f.reopen || f.sock_ifindex != f.ifindex)
        {
            exec::sync_sockets(&mut self.io, &mut self.poll, &self.cur.cfg);
        }
        exec::refresh_src_addrs(&mut self.io, &self.cur.cfg, &mut self.cur.router);
        if self.io.ifaces.iter().any(|f| f.link_dirty) {
            for i in 0..self.io.ifaces.len() {
                if !self.io.ifaces[i].link_dirty {
                    continue;
                }
                self.io.ifaces[i].link_dirty = false;
                let up = self.io.ifaces[i].up;
                let name = self.io.ifaces[i].name.clone();
                self.cur
                    .router
                    .handle_link(now, &name, up, &mut self.actions);
                self.execute(now);
            }
        }
        if self.io.resync || self.io.readd.iter().any(|f| *f) {
            exec::readd_vips(&mut self.io, &self.cur.cfg, &self.cur.router, now);
        }
    }

    /// SIGTERM/SIGINT: priority 0 from every master, VIPs removed, exit 0.
    fn shutdown(&mut self, now: Instant) -> i32 {
        info!("Stopping");
        let t0 = monotonic_now();
        self.cur.router.handle_shutdown(now, &mut self.actions);
        // Priority-0 adverts and VIP removal first, then notify_stop & co.
        exec::run_actions(
            &mut self.io,
            &self.cur.cfg,
            &self.cur.router,
            &self.actions,
            now,
        );
        self.wait_acks();
        self.hooks_shutdown();
        self.actions.clear();
        if let Some(l) = self.lvs.as_mut() {
            l.shutdown(&mut self.poll, now, &self.cur.cfg);
        }
        let took = monotonic_now().saturating_duration_since(t0);
        debug!("shutdown took {} us", took.as_micros());
        rx::log_drop_summary(&self.cur.cfg, &self.cur.router, &self.io);
        log_lateness_summary(&self.cur.router);
        if let Some(u) = sys::alloc::usage() {
            info!("Heap allocations: {}", crate::dump::AllocText(&u));
        }
        info!("Stopped");
        0
    }

    /// SIGHUP: parse into the spare configuration; on success build the
    /// spare router, let it adopt the state of unchanged instances, stop the
    /// removed/changed ones, start the new ones, and swap.
    fn reload(&mut self, now: Instant) {
        info!("Reloading configuration {}", self.config_path);
        config::parse(
            &self.source,
            &self.config_path,
            &mut self.spare.cfg,
            &mut self.diags,
        );
        let creds = hooks::check_scripts(&self.spare.cfg, &mut self.diags);
        log_diags(&self.spare.cfg, &self.diags);
        if self.diags.has_errors() {
            error!(
                "{}: {} error(s): keeping the running configuration",
                self.config_path, self.diags.errors
            );
            return;
        }
        match self.spare.router.rebuild(&self.spare.cfg) {
            Ok(()) => {}
            Err(e) => {
                error!("reload: cannot build the router: {e}; keeping the running configuration");
                return;
            }
        }
        // Interfaces the new configuration names.
        match iface::register(&mut self.io.ifaces, &self.spare.cfg) {
            Ok(0) => {}
            Ok(_) => {
                for f in self.io.ifaces.iter_mut() {
                    if f.ifindex == 0
                        && let Ok(ix) = sys::if_index(&f.name)
                    {
                        f.ifindex = ix;
                        f.mac = crate::sys::packet_sock::interface_mac(&f.name).ok();
                        f.up = true;
                        f.reopen = true;
                    }
                }
                // Their real state and addresses come with a fresh dump.
                if let Err(e) = self.io.nl.start_dump() {
                    warn!("netlink dump failed: {}", errno::IoErr(&e));
                }
            }
            Err(name) => {
                error!(
                    "reload: too many interfaces (MAX_INTERFACES) at {}; keeping the running configuration",
                    name
                );
                let _ = iface::register(&mut self.io.ifaces, &self.cur.cfg);
                return;
            }
        }
        reload_map(&self.cur.cfg, &self.spare.cfg, &mut self.map);
        // Stop what goes away, with the old router and config.
        let mut stopped = 0;
        for idx in 0..self.cur.cfg.instances.len() {
            let id = InstanceId(idx as u16);
            if !self.map.contains(&Some(id)) {
                self.cur.router.handle_remove(now, id, &mut self.actions);
                stopped += 1;
            }
        }
        self.execute(now);
        let kept = self.spare.router.adopt_from(&self.cur.router, &self.map);
        core::mem::swap(&mut self.cur, &mut self.spare);
        self.hooks_reload(now, creds);
        match self.lvs.as_mut() {
            Some(l) => l.reload(&mut self.poll, now, &self.spare.cfg, &self.cur.cfg),
            // Only in a build without the `lvs` feature (which says that it
            // ignores virtual servers): nothing is allocated.
            None => self.lvs = lvs::LvsDriver::start(&self.cur.cfg, now),
        }
        for f in self.io.readd.iter_mut() {
            *f = false;
        }
        // The old instances are stopped: forget the interfaces only they named.
        let poll = &mut self.poll;
        let dropped = iface::prune(&mut self.io.ifaces, &self.cur.cfg, |slot| poll.remove(slot));
        if dropped > 0 {
            debug!("reload: {dropped} interface(s) no longer watched");
        }
        exec::sync_sockets(&mut self.io, &mut self.poll, &self.cur.cfg);
        for f in self.io.ifaces.iter_mut() {
            f.addr_dirty = true;
        }
        exec::refresh_src_addrs(&mut self.io, &self.cur.cfg, &mut self.cur.router);
        for i in 0..self.io.ifaces.len() {
            let up = self.io.ifaces[i].up;
            self.io.ifaces[i].link_dirty = false;
            let name = self.io.ifaces[i].name.clone();
            self.cur
                .router
                .handle_link(now, &name, up, &mut self.actions);
            self.execute(now);
        }
        if !self.hooks.start_deferred() {
            self.cur.router.handle_start(now, &mut self.actions);
            self.execute(now);
        }
        let started = self.cur.cfg.instances.len().saturating_sub(kept);
        info!(
            "Configuration reloaded: {} instance(s) unchanged, {} stopped, {} started",
            kept, stopped, started
        );
    }
}
