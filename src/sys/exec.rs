//! Non-blocking script runner: `vrrp_script` checks and notify commands.
//!
//! [`Exec::spawn`] forks and execs one command and returns at once; the
//! daemon learns about the end through SIGCHLD and collects it with
//! [`Exec::reap`]. A child that outlives its timeout gets SIGTERM to its
//! whole process group, then SIGKILL after a grace period
//! ([`Exec::kill_expired`]), as keepalived does.
//!
//! The child (between `fork` and `execve` only async-signal-safe calls, no
//! allocation):
//! - gets its own session and process group (`setsid`), so a timeout kills
//!   the script's own children too. A new session rather than only a new
//!   process group (keepalived's `setpgid`): with the kernel's autogroup
//!   scheduling (`CONFIG_SCHED_AUTOGROUP`, on in Debian's kernels) a
//!   session is a scheduling group, so a script that forks hundreds of
//!   children shares the daemon's CPU time only as one group instead of
//!   starving it (measured: adverts up to 160 ms late during a 200-child
//!   fork storm with `setpgid`, under 10 ms with `setsid`);
//! - `PR_SET_PDEATHSIG(SIGTERM)`: it dies with the daemon;
//! - never real-time: the daemon's `vrrp_rt_priority` policy is reset at
//!   fork (`SCHED_RESET_ON_FORK`), and the child restores the nice value
//!   and `RLIMIT_RTTIME` the daemon had before `vrrp_priority` /
//!   `vrrp_rt_priority` (`sys::sched`);
//! - every signal back to its default action and unblocked (the daemon
//!   blocks signals for `signalfd`, and Rust ignores SIGPIPE);
//! - stdin from `/dev/null`, stdout/stderr inherited, every other
//!   descriptor closed;
//! - drops to the configured uid/gid (resolved at start-up with
//!   [`resolve_creds`], never in the child);
//! - a clean environment captured at start-up ([`Env`]): `IFS` and every
//!   `LD_*` variable removed, `PATH` set to [`DEFAULT_PATH`];
//! - argument vector and environment come from fixed buffers; a bare
//!   command name is searched in [`DEFAULT_PATH`].
//!
//! [`check_script_security`] is keepalived's `enable_script_security` test.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use heapless::Vec;

use super::{cerr, owned_fd};
use crate::limits::MAX_SCRIPTS;
use crate::time::{Duration, Instant};
use crate::track::cmdline::{Argv, MAX_ARGS, split_into};
use crate::track::{ScriptId, ScriptOutcome};

/// Most children running at once: one per script plus notify commands.
pub const MAX_CHILDREN: usize = MAX_SCRIPTS + 32;

/// `PATH` of every child, and the search path for bare command names.
pub const DEFAULT_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Time between SIGTERM and SIGKILL to a timed-out child (keepalived: 2 s).
pub const TERM_GRACE: Duration = Duration::from_secs(2);

/// Time between repeated SIGKILLs to a child that does not die.
pub const KILL_RETRY: Duration = Duration::from_secs(10);

/// Bytes of the child environment (`NAME=value\0`...).
pub const ENV_BUF_LEN: usize = 4096;
/// Variables in the child environment.
pub const MAX_ENV: usize = 64;

/// What a child is for (reported back by [`Exec::reap`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// A `vrrp_script` check.
    Script(ScriptId),
    /// A notify command (no result expected).
    Notify,
    /// A child whose result nobody wants any more (its `vrrp_script` went
    /// away on reload): stopped, reaped, ignored.
    Detached,
}

/// A finished child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reaped {
    pub pid: i32,
    pub kind: ChildKind,
    /// `TimedOut` when we killed it after its timeout (it died of our
    /// SIGTERM or SIGKILL); a child that exits normally after SIGTERM
    /// reports its exit status, as with keepalived.
    pub outcome: ScriptOutcome,
}

/// User and group a child runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
}

/// Counters of the runner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    pub spawned: u64,
    pub spawn_failed: u64,
    /// Spawns refused because [`MAX_CHILDREN`] were running.
    pub table_full: u64,
    pub timed_out: u64,
    pub sigterm_sent: u64,
    pub sigkill_sent: u64,
    /// Environment variables left out because [`Env`] was full.
    pub env_dropped: u64,
}

/// A child environment in one fixed buffer (`NAME=value\0` back to back).
#[derive(Clone)]
pub struct Env {
    buf: [u8; ENV_BUF_LEN],
    len: usize,
    starts: [u16; MAX_ENV],
    count: usize,
    /// Variables that did not fit.
    pub dropped: u64,
}

impl core::fmt::Debug for Env {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|v| core::str::from_utf8(v).unwrap_or("?")))
            .finish()
    }
}

/// True for variables never passed to a child: `IFS`, `PATH` (replaced)
/// and the dynamic loader's `LD_*`.
pub fn env_var_removed(name: &[u8]) -> bool {
    name == b"IFS" || name == b"PATH" || name.starts_with(b"LD_")
}

impl Env {
    /// An environment with only `PATH=`[`DEFAULT_PATH`].
    pub fn minimal() -> Env {
        let mut e = Env {
            buf: [0; ENV_BUF_LEN],
            len: 0,
            starts: [0; MAX_ENV],
            count: 0,
            dropped: 0,
        };
        e.push(b"PATH", DEFAULT_PATH.as_bytes());
        e
    }

    /// The daemon's environment (read once, at start-up) minus
    /// [`env_var_removed`] variables, plus `PATH=`[`DEFAULT_PATH`].
    pub fn from_current() -> Env {
        use std::os::unix::ffi::OsStrExt;
        let mut e = Env::minimal();
        for (k, v) in std::env::vars_os() {
            if !env_var_removed(k.as_bytes()) {
                e.push(k.as_bytes(), v.as_bytes());
            }
        }
        e
    }

    /// Adds `name=value` (dropped, and counted, when it does not fit or
    /// contains a NUL or the name a `=`).
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let need = name.len() + 1 + value.len() + 1;
        let bad =
            name.is_empty() || name.contains(&0) || name.contains(&b'=') || value.contains(&0);
        let Ok(start) = u16::try_from(self.len) else {
            self.dropped += 1;
            return;
        };
        if bad || self.count >= MAX_ENV || self.len + need > ENV_BUF_LEN {
            self.dropped += 1;
            return;
        }
        let Some(dst) = self.buf.get_mut(self.len..self.len + need) else {
            self.dropped += 1;
            return;
        };
        let (n, rest) = dst.split_at_mut(name.len());
        n.copy_from_slice(name);
        let (eq, rest) = rest.split_at_mut(1);
        eq[0] = b'=';
        let (v, nul) = rest.split_at_mut(value.len());
        v.copy_from_slice(value);
        nul[0] = 0;
        if let Some(s) = self.starts.get_mut(self.count) {
            *s = start;
        }
        self.count += 1;
        self.len += need;
    }

    /// Every `NAME=value`, without NULs.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.count).filter_map(|i| {
            let s = usize::from(*self.starts.get(i)?);
            let rest = self.buf.get(s..self.len)?;
            let end = rest.iter().position(|&b| b == 0)?;
            rest.get(..end)
        })
    }

    fn ptrs(&self, out: &mut [*const libc::c_char; MAX_ENV + 1]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = match self.starts.get(i) {
                Some(&s) if i < self.count => self
                    .buf
                    .get(usize::from(s)..)
                    .map_or(core::ptr::null(), |b| b.as_ptr().cast()),
                _ => core::ptr::null(),
            };
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Running,
    /// SIGTERM sent.
    Terminating,
    /// SIGKILL sent.
    Killing,
}

#[derive(Clone, Copy, Debug)]
struct Child {
    pid: libc::pid_t,
    kind: ChildKind,
    /// When the next signal is due (`None`: no timeout).
    deadline: Option<Instant>,
    stage: Stage,
}

/// The table of running children.
pub struct Exec {
    children: Vec<Child, MAX_CHILDREN>,
    env: Env,
    devnull: OwnedFd,
    /// Highest descriptor number to close in the child when `close_range`
    /// is unavailable.
    max_fd: libc::c_int,
    grace: Duration,
    pub stats: ExecStats,
}

/// `_exit` status of a child whose exec failed (as a shell reports it).
pub const EXIT_NOT_FOUND: i32 = 127;
/// `_exit` status of a child that could not drop privileges.
pub const EXIT_CANNOT_SETUID: i32 = 126;

impl Exec {
    /// A runner with the daemon's cleaned environment ([`Env::from_current`]).
    /// Call at start-up.
    pub fn new() -> io::Result<Exec> {
        Exec::with_env(Env::from_current())
    }

    /// A runner with a given child environment.
    pub fn with_env(env: Env) -> io::Result<Exec> {
        // SAFETY: the path is a NUL-terminated literal; `open` returns a new
        // descriptor or -1, which `owned_fd` checks.
        let devnull =
            owned_fd(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `rl` is a valid, writable `rlimit` for the call.
        let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        let max_fd = if r == 0 {
            libc::c_int::try_from(rl.rlim_cur.min(65_536)).unwrap_or(1024)
        } else {
            1024
        };
        let stats = ExecStats {
            env_dropped: env.dropped,
            ..ExecStats::default()
        };
        Ok(Exec {
            children: Vec::new(),
            env,
            devnull,
            max_fd,
            grace: TERM_GRACE,
            stats,
        })
    }

    /// Changes the SIGTERM → SIGKILL grace period (tests).
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// The environment children get.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Children running (or dead but not yet reaped).
    pub fn running(&self) -> usize {
        self.children.len()
    }

    /// True while a child of `kind` is running.
    pub fn is_running(&self, kind: ChildKind) -> bool {
        self.children.iter().any(|c| c.kind == kind)
    }

    /// The earliest signal deadline, for the poll timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.children.iter().filter_map(|c| c.deadline).min()
    }

    /// Starts `argv` (already split: see `track::cmdline::build_argv`) as
    /// a child of `kind`, killed `timeout` after `now` if still running.
    /// Returns its pid. Never blocks (beyond `fork` itself).
    pub fn spawn(
        &mut self,
        now: Instant,
        kind: ChildKind,
        argv: &Argv,
        creds: Option<Creds>,
        timeout: Option<Duration>,
    ) -> io::Result<i32> {
        if self.children.is_full() {
            self.stats.table_full += 1;
            // EAGAIN ("Resource temporarily unavailable"), like fork(2) at its
            // limit; an io::Error with a message would allocate in the loop.
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
        if argv.is_empty() {
            self.stats.spawn_failed += 1;
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // Everything the child needs is prepared here, before fork.
        let mut argp: [*const libc::c_char; MAX_ARGS + 1] = [core::ptr::null(); MAX_ARGS + 1];
        for (i, p) in argp.iter_mut().enumerate().take(argv.len()) {
            *p = argv
                .get_with_nul(i)
                .map_or(core::ptr::null(), |a| a.as_ptr().cast());
        }
        let mut envp: [*const libc::c_char; MAX_ENV + 1] = [core::ptr::null(); MAX_ENV + 1];
        self.env.ptrs(&mut envp);
        let prog = argv.get(0).unwrap_or(b"");
        let bare = !prog.contains(&b'/');
        let mut path_buf = [0u8; 512];
        let devnull = self.devnull.as_raw_fd();
        let max_fd = self.max_fd;
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        let sched_reset = super::sched::child_reset();

        // SAFETY: `fork` has no memory-safety preconditions; in the child
        // (pid 0) only async-signal-safe calls follow (see `child_exec`),
        // which never returns.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: all pointers in argp/envp point into `argv` and
            // `self.env`, alive in the child's copy of the address space
            // and NUL-terminated; the arrays end with a null pointer.
            unsafe {
                child_exec(ChildSetup {
                    argp: &argp,
                    envp: &envp,
                    prog,
                    bare,
                    path_buf: &mut path_buf,
                    devnull,
                    max_fd,
                    parent,
                    creds,
                    sched_reset,
                })
            }
        }
        if pid < 0 {
            self.stats.spawn_failed += 1;
            return Err(io::Error::last_os_error());
        }
        // The parent does not set the group itself (it would make the
        // child a group leader, and `setsid` would then fail): until the
        // child's `setsid` a few microseconds from now, `kill_group` falls
        // back to the pid.
        let _ = self.children.push(Child {
            pid,
            kind,
            deadline: timeout.map(|t| now + t),
            stage: Stage::Running,
        });
        self.stats.spawned += 1;
        Ok(pid)
    }

    /// Collects one finished child, if any (call in a loop after SIGCHLD
    /// until `None`). Only this runner's children are waited for.
    pub fn reap(&mut self) -> Option<Reaped> {
        let mut i = 0;
        while let Some(c) = self.children.get(i).copied() {
            let mut status: libc::c_int = 0;
            // SAFETY: `status` is a valid out-pointer; WNOHANG never blocks.
            let r = unsafe { libc::waitpid(c.pid, &mut status, libc::WNOHANG) };
            if r == 0 || (r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)) {
                i += 1;
                continue;
            }
            self.children.swap_remove(i);
            if r < 0 {
                // ECHILD: somebody else reaped it; report a failure.
                return Some(Reaped {
                    pid: c.pid,
                    kind: c.kind,
                    outcome: ScriptOutcome::Signaled(0),
                });
            }
            let outcome = if libc::WIFEXITED(status) {
                ScriptOutcome::Exited(libc::WEXITSTATUS(status) as u8)
            } else {
                let sig = libc::WTERMSIG(status);
                if c.stage != Stage::Running && (sig == libc::SIGTERM || sig == libc::SIGKILL) {
                    ScriptOutcome::TimedOut
                } else {
                    ScriptOutcome::Signaled(sig)
                }
            };
            if c.stage != Stage::Running {
                // The leader is gone; make sure its children are too.
                let _ = kill_group(c.pid, libc::SIGKILL);
                if outcome == ScriptOutcome::TimedOut {
                    self.stats.timed_out += 1;
                }
            }
            return Some(Reaped {
                pid: c.pid,
                kind: c.kind,
                outcome,
            });
        }
        None
    }

    /// Signals every child past its deadline: SIGTERM to its process group
    /// at the timeout, SIGKILL after the grace period, and again every
    /// [`KILL_RETRY`] while it lingers.
    pub fn kill_expired(&mut self, now: Instant) {
        let grace = self.grace;
        for c in self.children.iter_mut() {
            let Some(d) = c.deadline else { continue };
            if d > now {
                continue;
            }
            let sig = match c.stage {
                Stage::Running => {
                    c.stage = Stage::Terminating;
                    c.deadline = Some(now + grace);
                    self.stats.sigterm_sent += 1;
                    libc::SIGTERM
                }
                Stage::Terminating => {
                    c.stage = Stage::Killing;
                    c.deadline = Some(now + grace);
                    self.stats.sigkill_sent += 1;
                    libc::SIGKILL
                }
                Stage::Killing => {
                    warn!("Child (PID {}) failed to terminate after kill", c.pid);
                    c.deadline = Some(now + KILL_RETRY);
                    self.stats.sigkill_sent += 1;
                    libc::SIGKILL
                }
            };
            signal_child(c.pid, sig);
        }
    }

    /// Reload: gives every child the kind `f` maps its kind to; `None` stops
    /// the child (SIGTERM to its group now, SIGKILL after the grace period)
    /// and marks it [`ChildKind::Detached`].
    pub fn retag(&mut self, now: Instant, mut f: impl FnMut(ChildKind) -> Option<ChildKind>) {
        for c in self.children.iter_mut() {
            match f(c.kind) {
                Some(k) => c.kind = k,
                None => {
                    c.kind = ChildKind::Detached;
                    if c.stage == Stage::Running {
                        c.deadline = Some(now);
                    }
                }
            }
        }
        self.kill_expired(now);
    }

    /// Sends `sig` to every child's process group (shutdown).
    pub fn signal_all(&mut self, sig: libc::c_int) {
        for c in &self.children {
            signal_child(c.pid, sig);
        }
    }
}

/// What the forked child needs, prepared by the parent.
struct ChildSetup<'a> {
    argp: &'a [*const libc::c_char; MAX_ARGS + 1],
    envp: &'a [*const libc::c_char; MAX_ENV + 1],
    prog: &'a [u8],
    bare: bool,
    path_buf: &'a mut [u8; 512],
    devnull: libc::c_int,
    max_fd: libc::c_int,
    parent: libc::pid_t,
    creds: Option<Creds>,
    /// The nice value and `RLIMIT_RTTIME` from before `vrrp_priority` /
    /// `vrrp_rt_priority` (the real-time policy itself is reset by the
    /// kernel: `SCHED_RESET_ON_FORK`, see `sys::sched`).
    sched_reset: Option<super::sched::ChildReset>,
}

/// The child side of [`Exec::spawn`]: only async-signal-safe syscalls and
/// plain memory writes; never returns.
///
/// # Safety
/// Must be called only in a freshly forked child; every pointer in
/// `s.argp` / `s.envp` must be null or point to a NUL-terminated string,
/// and both arrays must end with a null pointer.
unsafe fn child_exec(s: ChildSetup<'_>) -> ! {
    // SAFETY: each call below is a raw syscall wrapper listed as
    // async-signal-safe by POSIX/Linux, on arguments that are valid for it
    // (pointers into live stack or heap memory of this process image, or
    // plain integers); nothing allocates or takes a lock.
    unsafe {
        if libc::setsid() < 0 {
            libc::setpgid(0, 0);
        }
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != s.parent {
            // The daemon died before prctl: do not run orphaned.
            libc::_exit(1);
        }
        // Default dispositions and an empty mask for every signal.
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        for sig in 1..65 {
            libc::sigaction(sig, &sa, core::ptr::null_mut());
        }
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, core::ptr::null_mut());

        libc::dup2(s.devnull, 0);
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..s.max_fd {
                libc::close(fd);
            }
        }

        // Before dropping privileges (a lower nice value needs them).
        if let Some(r) = &s.sched_reset {
            super::sched::reset_in_child(r);
        }

        if let Some(c) = s.creds {
            let gid = c.gid as libc::gid_t;
            if libc::setgroups(1, &gid) != 0 && libc::getuid() == 0 {
                libc::_exit(EXIT_CANNOT_SETUID);
            }
            if libc::setgid(gid) != 0 || libc::setuid(c.uid as libc::uid_t) != 0 {
                libc::_exit(EXIT_CANNOT_SETUID);
            }
        }

        if !s.bare {
            libc::execve(s.argp[0], s.argp.as_ptr(), s.envp.as_ptr());
            libc::_exit(EXIT_NOT_FOUND);
        }
        // Search DEFAULT_PATH for a bare name.
        for dir in DEFAULT_PATH.as_bytes().split(|&b| b == b':') {
            let n = dir.len() + 1 + s.prog.len();
            if n + 1 > s.path_buf.len() {
                continue;
            }
            s.path_buf[..dir.len()].copy_from_slice(dir);
            s.path_buf[dir.len()] = b'/';
            s.path_buf[dir.len() + 1..n].copy_from_slice(s.prog);
            s.path_buf[n] = 0;
            libc::execve(s.path_buf.as_ptr().cast(), s.argp.as_ptr(), s.envp.as_ptr());
        }
        libc::_exit(EXIT_NOT_FOUND)
    }
}

/// Why a script user or group could not be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredsError {
    UnknownUser,
    UnknownGroup,
    /// A NUL byte in the name.
    BadName,
    /// The lookup itself failed (`errno`).
    Lookup(i32),
}

impl core::fmt::Display for CredsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CredsError::UnknownUser => f.write_str("no such user"),
            CredsError::UnknownGroup => f.write_str("no such group"),
            CredsError::BadName => f.write_str("NUL in the name"),
            CredsError::Lookup(e) => write!(f, "lookup failed (errno {e})"),
        }
    }
}

/// Checks a user or group name (config names are at most `MAX_NAME_LEN`
/// bytes; a NUL could never match).
fn check_name(name: &str) -> Result<&[u8], CredsError> {
    let b = name.as_bytes();
    if b.contains(&0) || b.len() >= 256 {
        return Err(CredsError::BadName);
    }
    Ok(b)
}

/// Resolves `user` (and `group`, else the user's primary group) to ids.
/// Start-up only (reads files).
pub fn resolve_creds(user: &str, group: Option<&str>) -> Result<Creds, CredsError> {
    let (uid, gid) = user_ids(check_name(user)?)?;
    let mut creds = Creds { uid, gid };
    if let Some(g) = group {
        creds.gid = resolve_group(g)?;
    }
    Ok(creds)
}

/// Resolves a group name to its id. Start-up only.
pub fn resolve_group(group: &str) -> Result<u32, CredsError> {
    group_id(check_name(group)?)
}

/// musl (the router builds): straight from `/etc/passwd` ([`super::passwd`]).
#[cfg(target_env = "musl")]
fn user_ids(name: &[u8]) -> Result<(u32, u32), CredsError> {
    super::passwd::user_in(super::passwd::PASSWD, name)
        .map_err(|e| CredsError::Lookup(e.raw_os_error().unwrap_or(0)))?
        .ok_or(CredsError::UnknownUser)
}

/// musl (the router builds): straight from `/etc/group` ([`super::passwd`]).
#[cfg(target_env = "musl")]
fn group_id(name: &[u8]) -> Result<u32, CredsError> {
    super::passwd::group_in(super::passwd::GROUP, name)
        .map_err(|e| CredsError::Lookup(e.raw_os_error().unwrap_or(0)))?
        .ok_or(CredsError::UnknownGroup)
}

/// Bytes for the strings `getpwnam_r` / `getgrnam_r` return.
#[cfg(not(target_env = "musl"))]
const NSS_BUF: usize = 16 * 1024;

/// `name` NUL-terminated in `buf` (checked by [`check_name`]: no NUL,
/// shorter than `buf`).
#[cfg(not(target_env = "musl"))]
fn c_name<'a>(name: &[u8], buf: &'a mut [u8; 256]) -> Result<&'a CStr, CredsError> {
    buf[..name.len()].copy_from_slice(name);
    buf[name.len()] = 0;
    CStr::from_bytes_with_nul(&buf[..=name.len()]).map_err(|_| CredsError::BadName)
}

/// glibc (servers): through NSS (`getpwnam_r`), as keepalived does.
#[cfg(not(target_env = "musl"))]
fn user_ids(name: &[u8]) -> Result<(u32, u32), CredsError> {
    let mut cbuf = [0u8; 256];
    let cuser = c_name(name, &mut cbuf)?;
    // SAFETY: `passwd` is a plain C struct of integers and pointers, for
    // which all-zero bytes (null pointers, 0 ids) is a valid value.
    let mut pw: libc::passwd = unsafe { core::mem::zeroed() };
    let mut res: *mut libc::passwd = core::ptr::null_mut();
    let mut buf = [0 as libc::c_char; NSS_BUF];
    // SAFETY: all pointers are valid for the call; `buf` outlives it and
    // its length is passed.
    let r = unsafe {
        libc::getpwnam_r(
            cuser.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        )
    };
    if r != 0 {
        return Err(CredsError::Lookup(r));
    }
    if res.is_null() {
        return Err(CredsError::UnknownUser);
    }
    Ok((pw.pw_uid, pw.pw_gid))
}

/// glibc (servers): through NSS (`getgrnam_r`), as keepalived does.
#[cfg(not(target_env = "musl"))]
fn group_id(name: &[u8]) -> Result<u32, CredsError> {
    let mut cbuf = [0u8; 256];
    let cgroup = c_name(name, &mut cbuf)?;
    // SAFETY: `group` is a plain C struct; all-zero is a valid value.
    let mut gr: libc::group = unsafe { core::mem::zeroed() };
    let mut res: *mut libc::group = core::ptr::null_mut();
    let mut buf = [0 as libc::c_char; NSS_BUF];
    // SAFETY: all pointers are valid for the call; `buf` outlives it.
    let r = unsafe {
        libc::getgrnam_r(
            cgroup.as_ptr(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut res,
        )
    };
    if r != 0 {
        return Err(CredsError::Lookup(r));
    }
    if res.is_null() {
        return Err(CredsError::UnknownGroup);
    }
    Ok(gr.gr_gid)
}

/// keepalived's default script user: `keepalived_script` if it exists,
/// else `None` (run as the daemon's own user). Start-up only.
pub fn default_script_creds() -> Option<Creds> {
    resolve_creds("keepalived_script", None).ok()
}

/// A path shown in a [`ScriptSecurityError`].
pub type ShownPath = heapless::String<256>;

/// Why a script fails `enable_script_security`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptSecurityError {
    /// The program (or a directory on its path) does not exist.
    NotFound { path: ShownPath },
    /// A directory on the path is not a directory, or the program not a
    /// regular file.
    WrongType { path: ShownPath },
    /// `path` (the program or a directory on its path) can be modified by a
    /// non-root user.
    Insecure {
        path: ShownPath,
        reason: &'static str,
    },
}

impl core::fmt::Display for ScriptSecurityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ScriptSecurityError::NotFound { path } => write!(f, "{path} does not exist"),
            ScriptSecurityError::WrongType { path } => {
                write!(f, "{path} is not a regular file / directory")
            }
            ScriptSecurityError::Insecure { path, reason } => write!(f, "{path} {reason}"),
        }
    }
}

/// Bytes of a path being checked (Linux's `PATH_MAX`).
const CHECK_PATH_MAX: usize = 4096;

fn shown(path: &[u8]) -> ShownPath {
    let mut s = ShownPath::new();
    for c in lossy_chars(path) {
        if s.push(c).is_err() {
            break;
        }
    }
    s
}

/// `char`s of `b`, invalid UTF-8 shown as U+FFFD (no allocation).
fn lossy_chars(b: &[u8]) -> impl Iterator<Item = char> + '_ {
    b.utf8_chunks().flat_map(|c| {
        c.valid()
            .chars()
            .chain((!c.invalid().is_empty()).then_some('\u{fffd}'))
    })
}

/// `stat(2)` (symlinks followed) of the NUL-terminated `path`.
fn stat_of(path: &[u8]) -> Option<libc::stat> {
    let c = CStr::from_bytes_with_nul(path).ok()?;
    // SAFETY: `stat` is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` writable for the call.
    (unsafe { libc::stat(c.as_ptr(), &mut st) } == 0).then_some(st)
}

/// Checks one path component the way keepalived does: insecure when not
/// owned by root, or when (a file, or a directory without the sticky bit)
/// is writable by a non-root group or by others. `path` is NUL-terminated.
// Start-up only; the error carries the offending path inline (no heap).
#[allow(clippy::result_large_err)]
fn check_component(path: &[u8], last: bool) -> Result<(), ScriptSecurityError> {
    let text = path.strip_suffix(&[0]).unwrap_or(path);
    let Some(st) = stat_of(path) else {
        return Err(ScriptSecurityError::NotFound { path: shown(text) });
    };
    let kind = st.st_mode & libc::S_IFMT;
    let is_dir = kind == libc::S_IFDIR;
    if (last && kind != libc::S_IFREG) || (!last && !is_dir) {
        return Err(ScriptSecurityError::WrongType { path: shown(text) });
    }
    let mode = st.st_mode;
    let sticky_dir = is_dir && mode & libc::S_ISVTX != 0;
    let reason = if st.st_uid != 0 {
        Some("is owned by a non-root user")
    } else if !sticky_dir && st.st_gid != 0 && mode & libc::S_IWGRP != 0 {
        Some("is writable by a non-root group")
    } else if !sticky_dir && mode & libc::S_IWOTH != 0 {
        Some("is world-writable")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ScriptSecurityError::Insecure {
            path: shown(text),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks `/`, every directory on the absolute `path` (no NUL) and the
/// file itself.
// Start-up only; the error carries the offending path inline (no heap).
#[allow(clippy::result_large_err)]
fn check_path_components(path: &[u8]) -> Result<(), ScriptSecurityError> {
    let mut buf = [0u8; CHECK_PATH_MAX + 1];
    let mut len = 0;
    let put = |buf: &mut [u8; CHECK_PATH_MAX + 1], len: &mut usize, b: &[u8]| -> bool {
        let Some(dst) = buf.get_mut(*len..*len + b.len()) else {
            return false;
        };
        dst.copy_from_slice(b);
        *len += b.len();
        true
    };
    // "/" first.
    buf[0] = b'/';
    buf[1] = 0;
    check_component(&buf[..2], false)?;
    let words: heapless::Vec<&[u8], 64> = path
        .split(|&b| b == b'/')
        .filter(|w| !w.is_empty() && *w != b".")
        .take(64)
        .collect();
    for (i, w) in words.iter().enumerate() {
        if !put(&mut buf, &mut len, b"/") || !put(&mut buf, &mut len, w) || len >= CHECK_PATH_MAX {
            return Err(ScriptSecurityError::NotFound { path: shown(path) });
        }
        buf[len] = 0;
        check_component(&buf[..=len], i + 1 == words.len())?;
    }
    Ok(())
}

/// keepalived's `enable_script_security` check for the program of command
/// `cmd` (its first word; a bare name is searched in [`DEFAULT_PATH`]):
/// the program and every directory above it — as written and after
/// resolving symlinks — must be owned by root and not writable by a
/// non-root group or by others (sticky directories such as `/tmp` may be
/// world-writable). Start-up / `keepvip -t` only; fixed buffers.
// Start-up only; the error carries the offending path inline (no heap).
#[allow(clippy::result_large_err)]
pub fn check_script_security(cmd: &str) -> Result<(), ScriptSecurityError> {
    let mut argv = Argv::new();
    let _ = split_into(cmd, &mut argv);
    let prog = argv.get(0).unwrap_or(b"");
    let mut abs = [0u8; CHECK_PATH_MAX + 1];
    let mut n = 0;
    let push = |abs: &mut [u8; CHECK_PATH_MAX + 1], n: &mut usize, b: &[u8]| {
        if let Some(dst) = abs.get_mut(*n..*n + b.len()) {
            dst.copy_from_slice(b);
            *n += b.len();
        }
    };
    if !prog.contains(&b'/') {
        // Bare name: the first regular file of that name in DEFAULT_PATH.
        let mut found = false;
        for dir in DEFAULT_PATH.as_bytes().split(|&b| b == b':') {
            n = 0;
            push(&mut abs, &mut n, dir);
            push(&mut abs, &mut n, b"/");
            push(&mut abs, &mut n, prog);
            if n + 1 >= abs.len() {
                continue;
            }
            abs[n] = 0;
            if stat_of(&abs[..=n]).is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG) {
                found = true;
                break;
            }
        }
        if !found {
            return Err(ScriptSecurityError::NotFound { path: shown(prog) });
        }
    } else {
        if !prog.starts_with(b"/") {
            // Relative to the current directory.
            // SAFETY: `abs` is writable for its length; getcwd NUL-terminates.
            let r = unsafe { libc::getcwd(abs.as_mut_ptr().cast(), CHECK_PATH_MAX) };
            if !r.is_null() {
                n = abs.iter().position(|&b| b == 0).unwrap_or(0);
                push(&mut abs, &mut n, b"/");
            }
        }
        push(&mut abs, &mut n, prog);
    }
    let n = n.min(CHECK_PATH_MAX);
    abs[n] = 0;
    check_path_components(&abs[..n])?;
    let mut real = [0u8; CHECK_PATH_MAX + 1];
    // SAFETY: `abs` is NUL-terminated; `real` has PATH_MAX + 1 bytes, the
    // size realpath(3) needs.
    let r = unsafe { libc::realpath(abs.as_ptr().cast(), real.as_mut_ptr().cast()) };
    if r.is_null() {
        return Err(ScriptSecurityError::NotFound {
            path: shown(&abs[..n]),
        });
    }
    let rn = real.iter().position(|&b| b == 0).unwrap_or(CHECK_PATH_MAX);
    if real[..rn] != abs[..n] {
        check_path_components(&real[..rn])?;
    }
    Ok(())
}

/// A C string view of `bytes` if it is NUL-terminated (helper for tests
/// and callers that hold `Argv` words).
pub fn cstr(bytes: &[u8]) -> Option<&CStr> {
    CStr::from_bytes_with_nul(bytes).ok()
}

/// `true` when `e` is "no such process" (the group is already gone).
pub fn is_esrch(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ESRCH)
}

/// Sends `sig` to the process group of child `pid`; to the child alone if
/// it has no group yet (between `fork` and its `setsid`).
fn signal_child(pid: libc::pid_t, sig: libc::c_int) {
    if kill_group(pid, sig).is_err() {
        // SAFETY: plain syscall to our own child.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Sends `sig` to process group `pgid` (for callers outside the table).
pub fn kill_group(pgid: i32, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    cerr(unsafe { libc::kill(-pgid, sig) }).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_filters_and_bounds() {
        let mut e = Env::minimal();
        e.push(b"HOME", b"/root");
        e.push(b"A=B", b"x");
        e.push(b"", b"x");
        e.push(b"N", b"a\0b");
        assert_eq!(e.dropped, 3);
        let v: std::vec::Vec<_> = e.iter().collect();
        assert_eq!(
            v,
            [&b"PATH=/usr/sbin:/usr/bin:/sbin:/bin"[..], b"HOME=/root"]
        );
        let big = [b'x'; ENV_BUF_LEN];
        e.push(b"BIG", &big);
        assert_eq!(e.dropped, 4);
        for i in 0..MAX_ENV {
            e.push(format!("V{i}").as_bytes(), b"1");
        }
        assert_eq!(e.iter().count(), MAX_ENV);
        assert!(env_var_removed(b"LD_PRELOAD"));
        assert!(env_var_removed(b"LD_LIBRARY_PATH"));
        assert!(env_var_removed(b"IFS"));
        assert!(!env_var_removed(b"HOME"));
    }
}
