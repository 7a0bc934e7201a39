//! `/proc` scanner for `vrrp_track_process` (OpenWrt kernels have no
//! netlink proc connector, so keepvip polls).
//!
//! One pass over `/proc` counts, for every configured process tracker, the
//! processes that match it:
//! - by default the process name (`/proc/PID/comm`, the same as `Name:` in
//!   `status`; the kernel keeps 15 bytes, so a longer configured name is
//!   compared on its first 15 bytes);
//! - with `full_command`, and whenever parameters or `param_match` are
//!   configured (keepalived 2.2.7 sets `full_command` then), `argv[0]` from
//!   `/proc/PID/cmdline`, compared whole;
//! - configured parameters `C1..Cn` (the words after the name) against the
//!   process's `argv[1..]` = `P1..Pm`, as keepalived's `check_params`:
//!   `exact` (the default when parameters are given; also with
//!   `param_match` and no parameters: then the process must have none):
//!   the same words; `partial`: `P1..Pn` = `C1..Cn` (more words may
//!   follow); `initial`: `P1..Pn-1` = `C1..Cn-1` and `Pn` starts with `Cn`.
//!
//! Everything goes through fixed buffers: `getdents64` on a `/proc`
//! descriptor opened once, `openat` + `read` of small files. No allocation
//! per scan. Also here: [`read_value_file`] for `vrrp_track_file`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use heapless::Vec;

use super::owned_fd;
use crate::config::model::{Config, ParamMatch, VrrpTrackProcess};
use crate::limits::{MAX_CMD_LEN, MAX_TRACK_PROCESSES};
use crate::track::ProcessId;
use crate::track::cmdline::{Argv, split_into};

/// Linux keeps 15 bytes of a process name (`TASK_COMM_LEN - 1`).
pub const COMM_LEN: usize = 15;

/// Bytes of `/proc/PID/cmdline` looked at.
pub const CMDLINE_BUF: usize = 4096;

/// What one tracker matches, prepared at start-up.
#[derive(Clone, Debug)]
pub struct ProcMatcher {
    pub id: ProcessId,
    /// Name (or full `argv[0]` with `full_command`).
    name: Vec<u8, MAX_CMD_LEN>,
    /// Parameters joined with NULs (as in `cmdline`), no trailing NUL.
    params: Vec<u8, MAX_CMD_LEN>,
    has_params: bool,
    param_match: ParamMatch,
    full_command: bool,
}

impl ProcMatcher {
    pub fn new(id: ProcessId, t: &VrrpTrackProcess) -> ProcMatcher {
        let mut argv = Argv::new();
        let _ = split_into(&t.process, &mut argv);
        let has_params = argv.len() > 1;
        let mut m = ProcMatcher {
            id,
            name: Vec::new(),
            params: Vec::new(),
            has_params,
            param_match: t.param_match,
            // keepalived: parameters or `param_match` imply full_command.
            full_command: t.full_command || has_params || t.param_match != ParamMatch::None,
        };
        let name = argv.get(0).unwrap_or(b"");
        let name = if m.full_command {
            name
        } else {
            name.get(..COMM_LEN).unwrap_or(name)
        };
        let _ = m.name.extend_from_slice(name);
        for (i, w) in argv.iter().skip(1).enumerate() {
            if i > 0 {
                let _ = m.params.push(0);
            }
            let _ = m.params.extend_from_slice(w);
        }
        if m.has_params && m.param_match == ParamMatch::None {
            m.param_match = ParamMatch::Exact;
        }
        m
    }

    fn needs_cmdline(&self) -> bool {
        self.full_command
    }

    /// Does a process with `comm` (no newline) and `cmdline` (NUL-separated
    /// words, possibly truncated; `None` if not read) match?
    pub fn matches(&self, comm: &[u8], cmdline: Option<&[u8]>) -> bool {
        let (argv0, rest) = match cmdline {
            Some(c) => {
                let c = c.strip_suffix(&[0]).unwrap_or(c);
                match c.iter().position(|&b| b == 0) {
                    Some(i) => (&c[..i], Some(&c[i + 1..])),
                    None => (c, None),
                }
            }
            None => (&[][..], None),
        };
        let name_ok = if self.full_command {
            cmdline.is_some() && argv0 == self.name.as_slice()
        } else {
            comm == self.name.as_slice()
        };
        if !name_ok {
            return false;
        }
        // keepalived's check_params, on words: `args` and `p` are the
        // process's and the configured parameters, NUL-separated.
        let args = rest.unwrap_or(&[]);
        let p = self.params.as_slice();
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => args == p && (self.has_params || rest.is_none()),
            _ if !self.has_params => true,
            ParamMatch::Partial => {
                args.starts_with(p) && (args.len() == p.len() || args.get(p.len()) == Some(&0))
            }
            // The last configured word may be the start of the process's.
            ParamMatch::Initial => args.starts_with(p),
        }
    }
}

/// Counters of the scanner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub scans: u64,
    /// Processes looked at in the last scan.
    pub last_processes: u32,
    /// Processes that vanished while being read (normal; counted).
    pub vanished: u64,
}

/// Counts matching processes for every used process tracker.
pub struct ProcScanner {
    proc_fd: OwnedFd,
    matchers: Vec<ProcMatcher, MAX_TRACK_PROCESSES>,
    counts: [u32; MAX_TRACK_PROCESSES],
    /// Counts of the pass in progress.
    work: [u32; MAX_TRACK_PROCESSES],
    in_pass: bool,
    seen: u32,
    dent_off: usize,
    dent_len: usize,
    need_cmdline: bool,
    dents: [u8; 8192],
    comm: [u8; 64],
    cmdline: [u8; CMDLINE_BUF],
    pub stats: ScanStats,
}

fn read_at(dir: &OwnedFd, path: &[u8], buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `path` is NUL-terminated (checked by callers' literals and
    // `pid_path`); the result is checked by `owned_fd`.
    let fd = owned_fd(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            path.as_ptr().cast(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    })?;
    // SAFETY: `buf` is a valid writable buffer of `buf.len()` bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    super::cerr(n).map(|n| n as usize)
}

/// `PID/file\0` in `out`; returns the used part (with the NUL).
fn pid_path<'a>(pid: &[u8], file: &[u8], out: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    let n = pid.len() + 1 + file.len();
    if n + 1 > out.len() {
        return None;
    }
    out[..pid.len()].copy_from_slice(pid);
    out[pid.len()] = b'/';
    out[pid.len() + 1..n].copy_from_slice(file);
    out[n] = 0;
    Some(&out[..=n])
}

impl ProcScanner {
    /// A scanner for the trackers `ids` of `config` (start-up: opens /proc).
    pub fn new(config: &Config, ids: impl Iterator<Item = ProcessId>) -> io::Result<ProcScanner> {
        Self::with_root(c"/proc", config, ids)
    }

    /// Same, with another proc root (tests).
    pub fn with_root(
        root: &std::ffi::CStr,
        config: &Config,
        ids: impl Iterator<Item = ProcessId>,
    ) -> io::Result<ProcScanner> {
        // SAFETY: `root` is NUL-terminated; checked by `owned_fd`.
        let proc_fd = owned_fd(unsafe {
            libc::open(
                root.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        let mut matchers = Vec::new();
        for id in ids {
            if let Some(t) = config.track_processes.get(usize::from(id.0)) {
                let _ = matchers.push(ProcMatcher::new(id, t));
            }
        }
        let need_cmdline = matchers.iter().any(|m: &ProcMatcher| m.needs_cmdline());
        Ok(ProcScanner {
            proc_fd,
            matchers,
            counts: [0; MAX_TRACK_PROCESSES],
            work: [0; MAX_TRACK_PROCESSES],
            in_pass: false,
            seen: 0,
            dent_off: 0,
            dent_len: 0,
            need_cmdline,
            dents: [0; 8192],
            comm: [0; 64],
            cmdline: [0; CMDLINE_BUF],
            stats: ScanStats::default(),
        })
    }

    /// One whole pass over /proc: afterwards [`ProcScanner::counts`] holds
    /// the number of matching processes per tracker. Threads are not
    /// counted (only the `/proc/PID` entries of processes are listed).
    /// Cost grows with the number of processes (see [`ProcScanner::scan_step`]
    /// to spread it over several loop turns).
    pub fn scan(&mut self) -> io::Result<()> {
        self.abort();
        while !self.scan_step(usize::MAX)? {}
        Ok(())
    }

    /// Forgets a pass in progress (the next step starts a new one).
    pub fn abort(&mut self) {
        self.in_pass = false;
    }

    /// Advances the current pass (starting one if none is running) by at
    /// most `budget` processes. Returns true when the pass completed: the
    /// counts are then published to [`ProcScanner::counts`]; until then
    /// the previous pass's counts stay visible.
    pub fn scan_step(&mut self, budget: usize) -> io::Result<bool> {
        if !self.in_pass {
            // SAFETY: plain lseek on our own directory descriptor.
            super::cerr(unsafe { libc::lseek(self.proc_fd.as_raw_fd(), 0, libc::SEEK_SET) })?;
            self.work = [0; MAX_TRACK_PROCESSES];
            self.seen = 0;
            self.dent_off = 0;
            self.dent_len = 0;
            self.in_pass = true;
        }
        let mut left = budget;
        loop {
            if self.dent_off >= self.dent_len {
                // SAFETY: `dents` is a valid writable buffer of its length.
                let n = unsafe {
                    libc::syscall(
                        libc::SYS_getdents64,
                        self.proc_fd.as_raw_fd(),
                        self.dents.as_mut_ptr(),
                        self.dents.len(),
                    )
                };
                let n = match super::cerr(n) {
                    Ok(n) => n as usize,
                    Err(e) => {
                        self.in_pass = false;
                        return Err(e);
                    }
                };
                if n == 0 {
                    self.in_pass = false;
                    self.counts = self.work;
                    self.stats.scans += 1;
                    self.stats.last_processes = self.seen;
                    return Ok(true);
                }
                self.dent_off = 0;
                self.dent_len = n;
            }
            if left == 0 {
                return Ok(false);
            }
            let (off, n) = (self.dent_off, self.dent_len);
            // linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
            let reclen = match self.dents.get(off + 16..off + 18) {
                Some(b) if off + 19 < n => usize::from(u16::from_ne_bytes([b[0], b[1]])),
                _ => 0,
            };
            if reclen == 0 {
                self.dent_off = n;
                continue;
            }
            let end = (off + reclen).min(n);
            let mut pid = [0u8; 16];
            let mut plen = 0;
            let mut numeric = true;
            for &b in self.dents.get(off + 19..end).unwrap_or(&[]) {
                if b == 0 {
                    break;
                }
                if !b.is_ascii_digit() || plen >= pid.len() {
                    numeric = false;
                    break;
                }
                pid[plen] = b;
                plen += 1;
            }
            self.dent_off = off + reclen;
            if numeric && plen > 0 {
                self.seen += 1;
                left -= 1;
                self.look_at(&pid[..plen]);
            }
        }
    }

    fn look_at(&mut self, pid: &[u8]) {
        let mut path = [0u8; 64];
        let Some(p) = pid_path(pid, b"comm", &mut path) else {
            return;
        };
        let comm_len = match read_at(&self.proc_fd, p, &mut self.comm) {
            Ok(n) => n,
            Err(_) => {
                self.stats.vanished += 1;
                return;
            }
        };
        let comm = self.comm.get(..comm_len).unwrap_or(&[]);
        let comm = comm.strip_suffix(b"\n").unwrap_or(comm);
        let comm_len = comm.len();
        // Read cmdline only when some matcher needs it and could match.
        let want_cmdline = self.need_cmdline
            && self
                .matchers
                .iter()
                .any(|m| m.full_command || (m.has_params && m.name.as_slice() == comm));
        let mut cmd_len = None;
        if want_cmdline {
            let mut path = [0u8; 64];
            if let Some(p) = pid_path(pid, b"cmdline", &mut path) {
                match read_at(&self.proc_fd, p, &mut self.cmdline) {
                    Ok(n) => cmd_len = Some(n),
                    Err(_) => self.stats.vanished += 1,
                }
            }
        }
        let comm = self.comm.get(..comm_len).unwrap_or(&[]);
        let cmdline = cmd_len.and_then(|n| self.cmdline.get(..n));
        for (i, m) in self.matchers.iter().enumerate() {
            if m.matches(comm, cmdline)
                && let Some(c) = self.work.get_mut(i)
            {
                *c = c.saturating_add(1);
            }
        }
    }

    /// `(tracker, matching processes)` from the last scan.
    pub fn counts(&self) -> impl Iterator<Item = (ProcessId, u32)> + '_ {
        self.matchers
            .iter()
            .zip(self.counts.iter())
            .map(|(m, &c)| (m.id, c))
    }
}

/// Reads a `vrrp_track_file` the way keepalived does: up to 127 bytes,
/// parsed like `strtol(buf, NULL, 0)`, clamped to `[-254, 254]`; a missing,
/// unreadable or empty file is 0. Non-blocking open (a FIFO never hangs us).
pub fn read_value_file(path: &std::ffi::CStr) -> i32 {
    let mut buf = [0u8; 128];
    // SAFETY: `path` is NUL-terminated; checked by `owned_fd`.
    let fd = match owned_fd(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    }) {
        Ok(fd) => fd,
        Err(_) => return 0,
    };
    // SAFETY: `buf` is writable for 127 bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 127) };
    if n <= 0 {
        return 0;
    }
    crate::track::file_value(buf.get(..n as usize).unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{Command, Name, Span};

    fn tp(process: &str, pm: ParamMatch, full: bool) -> VrrpTrackProcess {
        VrrpTrackProcess {
            name: Name::try_from("t").unwrap(),
            span: Span::default(),
            process: Command::try_from(process).unwrap(),
            param_match: pm,
            full_command: full,
            quorum: 1,
            quorum_max: u32::MAX,
            weight: 0,
            reverse: false,
            fork_delay_ms: 0,
            terminate_delay_ms: 0,
        }
    }

    fn m(process: &str, pm: ParamMatch, full: bool) -> ProcMatcher {
        ProcMatcher::new(ProcessId(0), &tp(process, pm, full))
    }

    #[test]
    fn name_matching() {
        let x = m("dnsmasq", ParamMatch::None, false);
        assert!(x.matches(b"dnsmasq", None));
        assert!(!x.matches(b"dnsmasq2", None));
        assert!(!x.needs_cmdline());
        // Long names compare on the 15 bytes the kernel keeps.
        let l = m("averyveryverylongname", ParamMatch::None, false);
        assert!(l.matches(b"averyveryverylo", None));
    }

    /// keepalived 2.2.7's check_params (track_process.c), on the cases a
    /// real 2.2.7 run confirmed (tests/exec_procscan.rs runs them against
    /// real processes).
    #[test]
    fn full_command_and_params() {
        let f = m("/usr/sbin/sshd", ParamMatch::None, true);
        assert!(f.matches(b"sshd", Some(b"/usr/sbin/sshd\0-D\0")));
        assert!(!f.matches(b"sshd", Some(b"sshd\0-D\0")));
        // Parameters imply full_command: argv[0] must be the name, whole.
        let e = m("sleep 100", ParamMatch::None, false);
        assert!(e.needs_cmdline());
        assert!(e.matches(b"sleep", Some(b"sleep\x00100\0")));
        assert!(!e.matches(b"sleep", Some(b"/bin/sleep\x00100\0")));
        assert!(!e.matches(b"sleep", Some(b"sleep\x00100\0x\0")));
        assert!(!e.matches(b"sleep", Some(b"sleep\x001000\0")));
        assert!(!e.matches(b"sleep", None));
        // param_match without parameters: full_command, and `exact` wants
        // a process without parameters.
        let n = m("sleep", ParamMatch::Exact, false);
        assert!(n.matches(b"x", Some(b"sleep\0")));
        assert!(!n.matches(b"sleep", Some(b"sleep\x00100\0")));
        let n = m("sleep", ParamMatch::Partial, false);
        assert!(n.matches(b"x", Some(b"sleep\x00100\0")));
        // partial: the first words equal, whole; more may follow.
        let p = m("app -a b", ParamMatch::Partial, false);
        assert!(p.matches(b"app", Some(b"app\0-a\0b\0")));
        assert!(p.matches(b"app", Some(b"app\0-a\0b\0-c\0")));
        assert!(!p.matches(b"app", Some(b"app\0-a\0bc\0")));
        assert!(!p.matches(b"app", Some(b"app\0-x\0-a\0b\0")));
        assert!(!p.matches(b"app", Some(b"app\0-a\0")));
        // initial: the last configured word may be the start of the
        // process's word.
        let i = m("app -a b", ParamMatch::Initial, false);
        assert!(i.matches(b"app", Some(b"app\0-a\0b\0")));
        assert!(i.matches(b"app", Some(b"app\0-a\0bc\0-d\0")));
        assert!(!i.matches(b"app", Some(b"app\0-ab\0b\0")));
        assert!(!i.matches(b"app", Some(b"app\0-a\0\0")));
        assert!(!i.matches(b"app", None));
    }

    #[test]
    fn value_file() {
        let dir = std::env::temp_dir().join(format!("kv-track-vf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("v");
        std::fs::write(&f, " -12\n").unwrap();
        let c = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
        assert_eq!(read_value_file(&c), -12);
        std::fs::write(&f, "").unwrap();
        assert_eq!(read_value_file(&c), 0);
        std::fs::write(&f, "999").unwrap();
        assert_eq!(read_value_file(&c), 254);
        std::fs::remove_file(&f).unwrap();
        assert_eq!(read_value_file(&c), 0);
        let _ = std::fs::remove_dir(&dir);
    }
}
