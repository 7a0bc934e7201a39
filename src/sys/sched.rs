//! The daemon's CPU scheduling: keepalived's `vrrp_rt_priority`,
//! `vrrp_priority` and `vrrp_rlimit_rttime` (global_defs).
//!
//! - `vrrp_rt_priority N` (1..99): `SCHED_RR` at priority N, with
//!   `SCHED_RESET_ON_FORK`, so every child (scripts, notify commands,
//!   MISC_CHECK) starts as `SCHED_OTHER` with a nice value of at least 0:
//!   a script (or a fork bomb it starts) never runs real-time. With it the
//!   `RLIMIT_RTTIME` limit: the kernel sends SIGXCPU after
//!   `vrrp_rlimit_rttime / 2` µs of CPU without a blocking system call (the
//!   daemon logs it) and kills the process at `vrrp_rlimit_rttime`
//!   (default 10000 µs), so a looping daemon cannot take a CPU for ever.
//! - `vrrp_priority N` (-20..19), without a real-time priority: the nice
//!   value (`setpriority`).
//! - The children are put back to the daemon's values from before any of
//!   this ([`capture_original`]): `SCHED_RESET_ON_FORK` does the policy in
//!   the kernel at fork, and the child itself restores the nice value and
//!   `RLIMIT_RTTIME` before it drops privileges and execs
//!   ([`ChildReset`], used by `sys::exec`).
//!
//! `sched_setscheduler` is called as a raw system call: musl's wrapper
//! deliberately always fails with `ENOSYS` (the syscall is per thread, the
//! POSIX function per process; the daemon is single-threaded).

use std::io;
use std::sync::OnceLock;

use super::cerr;

/// What [`apply`] is asked to set (from `global_defs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedConfig {
    /// `vrrp_rt_priority`: 1..=99, 0 = not real-time.
    pub rt_priority: u8,
    /// `vrrp_priority`: the nice value without real-time, 0 = unchanged.
    pub nice: i8,
    /// `vrrp_rlimit_rttime` in µs (hard `RLIMIT_RTTIME`; soft: half).
    pub rlimit_rttime_us: u32,
}

impl SchedConfig {
    /// The keywords of a configuration.
    pub fn from_global(g: &crate::config::model::GlobalDefs) -> SchedConfig {
        SchedConfig {
            rt_priority: g.vrrp_rt_priority,
            nice: g.vrrp_priority,
            rlimit_rttime_us: g.vrrp_rlimit_rttime_us,
        }
    }

    /// The same without the real-time part (the nice value stays).
    pub fn without_rt(self) -> SchedConfig {
        SchedConfig {
            rt_priority: 0,
            ..self
        }
    }
}

/// The process's values before keepvip changed anything: what children get
/// back.
#[derive(Clone, Copy, Debug)]
pub struct ChildReset {
    pub nice: libc::c_int,
    pub rlimit_rttime: libc::rlimit,
}

static ORIGINAL: OnceLock<ChildReset> = OnceLock::new();

/// Records the current nice value and `RLIMIT_RTTIME` as the values every
/// child gets back (once; later calls do nothing). Call at start-up, before
/// [`apply`].
pub fn capture_original() {
    ORIGINAL.get_or_init(|| {
        let mut rl = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: `rl` is a valid, writable rlimit for the call.
        let _ = unsafe { libc::getrlimit(libc::RLIMIT_RTTIME, &mut rl) };
        ChildReset {
            nice: current_nice(),
            rlimit_rttime: rl,
        }
    });
}

/// The values children are reset to (`None` before [`capture_original`]:
/// children then keep what they inherit, e.g. in tests of the runner).
pub fn child_reset() -> Option<ChildReset> {
    ORIGINAL.get().copied()
}

fn current_nice() -> libc::c_int {
    // getpriority can return -1 as a valid value; errno tells. A failure
    // (impossible for our own process) counts as 0.
    // SAFETY: errno location is thread-local and valid; plain syscalls.
    unsafe {
        *errno_ptr() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, 0);
        if n == -1 && *errno_ptr() != 0 { 0 } else { n }
    }
}

/// The calling thread's `errno`.
///
/// # Safety
/// The pointer is only valid on the calling thread.
unsafe fn errno_ptr() -> *mut libc::c_int {
    // SAFETY: `__errno_location` (glibc and musl) has no preconditions.
    unsafe { libc::__errno_location() }
}

/// Puts the calling thread (only it: the raw system call is per thread) on
/// `SCHED_RR` at `priority` with `SCHED_RESET_ON_FORK`, like the daemon with
/// `vrrp_rt_priority`. For tests that measure what the machine gives a
/// real-time thread beside the daemon.
pub fn set_thread_rr(priority: u8) -> io::Result<()> {
    set_scheduler(
        libc::SCHED_RR | libc::SCHED_RESET_ON_FORK,
        libc::c_int::from(priority),
    )
}

/// `sched_setscheduler(0, policy, priority)` as a raw system call.
fn set_scheduler(policy: libc::c_int, priority: libc::c_int) -> io::Result<()> {
    // SAFETY: sched_param is plain data; all-zero is valid, the priority is
    // set below.
    let mut p: libc::sched_param = unsafe { core::mem::zeroed() };
    p.sched_priority = priority;
    // SAFETY: pid 0 is the calling thread; `p` is valid for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_sched_setscheduler,
            0 as libc::pid_t,
            policy,
            &p as *const libc::sched_param,
        )
    };
    cerr(r).map(|_| ())
}

fn set_nice(n: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on our own process.
    cerr(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) }).map(|_| ())
}

fn set_rlimit_rttime(rl: &libc::rlimit) -> io::Result<()> {
    // SAFETY: `rl` is a valid rlimit for the call.
    cerr(unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, rl) }).map(|_| ())
}

/// The scheduling the process has now, as `(policy, priority)` (tests and
/// logs; the policy without `SCHED_RESET_ON_FORK`, which is reported as the
/// third value).
pub fn current() -> io::Result<(libc::c_int, libc::c_int, bool)> {
    // SAFETY: plain syscalls on our own process; `p` is writable.
    let policy = cerr(unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0 as libc::pid_t) })?
        as libc::c_int;
    // SAFETY: sched_param is plain data; all-zero is valid.
    let mut p: libc::sched_param = unsafe { core::mem::zeroed() };
    // SAFETY: `p` is valid and writable for the call.
    cerr(unsafe {
        libc::syscall(
            libc::SYS_sched_getparam,
            0 as libc::pid_t,
            &mut p as *mut libc::sched_param,
        )
    })?;
    Ok((
        policy & !libc::SCHED_RESET_ON_FORK,
        p.sched_priority,
        policy & libc::SCHED_RESET_ON_FORK != 0,
    ))
}

/// Adds `SCHED_RESET_ON_FORK` to whatever policy the process was started
/// with (an administrator's `chrt`, systemd's `CPUSchedulingPolicy=`):
/// children never inherit a real-time policy or a negative nice value.
/// Best effort (a `SCHED_DEADLINE` process, say, cannot be changed this
/// way; then nothing changes). Call at start-up before the first child.
pub fn reset_children_on_fork() {
    if let Ok((policy, prio, false)) = current() {
        let _ = set_scheduler(policy | libc::SCHED_RESET_ON_FORK, prio);
    }
}

/// Which step of [`apply`] failed.
#[derive(Debug)]
pub enum SchedError {
    /// `sched_setscheduler` (no CAP_SYS_NICE, or the cgroup has no
    /// real-time budget).
    RealTime(io::Error),
    RlimitRttime(io::Error),
    Nice(io::Error),
}

/// Moves the process from scheduling `old` (what the last call set;
/// `SchedConfig::default()` at start-up: untouched) to `new`:
/// - `new` real-time: `SCHED_RR` at its priority with its `RLIMIT_RTTIME`;
/// - else, after real-time: back to `SCHED_OTHER` and the original
///   `RLIMIT_RTTIME`; never real-time by keepvip: the policy is left alone
///   (an administrator's `chrt`) but gets `SCHED_RESET_ON_FORK`, so that
///   children never inherit a real-time policy;
/// - the nice value: `vrrp_priority`, or back to the original when it was
///   set before (keepalived leaves the nice value alone with real-time).
///
/// Every step is tried; the first failure is returned (keepalived logs it
/// and runs on).
pub fn apply(new: SchedConfig, old: SchedConfig) -> Result<(), SchedError> {
    capture_original();
    let orig = child_reset();
    let mut first: Option<SchedError> = None;
    if new.rt_priority > 0 {
        if new.rt_priority == old.rt_priority && new.rlimit_rttime_us == old.rlimit_rttime_us {
            return Ok(());
        }
        match set_scheduler(
            libc::SCHED_RR | libc::SCHED_RESET_ON_FORK,
            libc::c_int::from(new.rt_priority),
        ) {
            Ok(()) => {
                let lim = libc::rlim_t::from(new.rlimit_rttime_us.max(2));
                let rl = libc::rlimit {
                    rlim_cur: lim / 2,
                    rlim_max: lim,
                };
                return set_rlimit_rttime(&rl).map_err(SchedError::RlimitRttime);
            }
            // Runs on at normal priority (with the nice value, if any).
            Err(e) => first = Some(SchedError::RealTime(e)),
        }
    }
    if old.rt_priority > 0 {
        if let Err(e) = set_scheduler(libc::SCHED_OTHER | libc::SCHED_RESET_ON_FORK, 0) {
            first.get_or_insert(SchedError::RealTime(e));
        }
        // Raising the hard limit back needs CAP_SYS_RESOURCE; without it
        // the limit stays, which a SCHED_OTHER process never reaches.
        if let Some(o) = orig {
            let _ = set_rlimit_rttime(&o.rlimit_rttime);
        }
    } else {
        reset_children_on_fork();
    }
    let nice = match (new.nice, old.nice) {
        (0, 0) => None,
        (0, _) => Some(orig.map_or(0, |o| o.nice)),
        (n, _) => Some(libc::c_int::from(n)),
    };
    if let Some(n) = nice
        && current_nice() != n
        && let Err(e) = set_nice(n)
    {
        first.get_or_insert(SchedError::Nice(e));
    }
    first.map_or(Ok(()), Err)
}

/// In a freshly forked child, before it drops privileges: the nice value
/// and `RLIMIT_RTTIME` of [`ChildReset`] (the policy was reset by the
/// kernel, `SCHED_RESET_ON_FORK`). Only raw syscalls (async-signal-safe);
/// failures are ignored (the child runs with what it has).
///
/// # Safety
/// Call only in a forked child between `fork` and `execve`.
pub unsafe fn reset_in_child(r: &ChildReset) {
    // SAFETY: plain syscalls on the calling process; `r.rlimit_rttime` is a
    // valid rlimit.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, r.nice);
        libc::setrlimit(libc::RLIMIT_RTTIME, &r.rlimit_rttime);
    }
}
