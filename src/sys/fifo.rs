//! `notify_fifo`: non-blocking writes of notify lines to a named pipe, the
//! way keepalived does them (`core/notify.c` `fifo_open`).
//!
//! The FIFO is created (`mkfifo`, mode 0644) if missing and opened once,
//! `O_RDWR | O_NONBLOCK`: holding a read end ourselves means a write never
//! fails for want of a reader (no `ENXIO`, no `EPIPE`); lines wait in the
//! pipe (64 KiB on Linux) until a reader comes, and a reader that starts
//! late still gets them, as with keepalived. Each line is written with one
//! `write` (lines are far below `PIPE_BUF`, so they are atomic). A full pipe
//! (`EAGAIN`: nobody has read for a long time) drops the line and counts
//! it: the daemon loop never waits. A FIFO we created is removed again when
//! the [`NotifyFifo`] is dropped (keepalived unlinks it at exit).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use heapless::Vec;

use super::owned_fd;
use crate::limits::MAX_PATH_LEN;

/// Why a FIFO could not be used (besides an `errno` from the system).
#[derive(Debug)]
pub enum FifoError {
    /// The path exists and is not a FIFO.
    NotAFifo,
    /// A FIFO owned by another non-root user (it could be a trap).
    NotOurs,
    /// Longer than `MAX_PATH_LEN` or with a NUL byte.
    BadPath,
    Io(io::Error),
}

impl core::fmt::Display for FifoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FifoError::NotAFifo => f.write_str("exists and is not a FIFO"),
            FifoError::NotOurs => f.write_str("is a FIFO owned by another user"),
            FifoError::BadPath => f.write_str("path too long or with a NUL byte"),
            FifoError::Io(e) => match e.raw_os_error() {
                Some(n) => write!(f, "errno {n}"),
                None => f.write_str("I/O error"),
            },
        }
    }
}

fn lstat(path: &CStr) -> io::Result<libc::stat> {
    // SAFETY: `stat` is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` writable for the call.
    super::cerr(unsafe { libc::lstat(path.as_ptr(), &mut st) })?;
    Ok(st)
}

/// Counters of one FIFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FifoStats {
    pub written: u64,
    /// The pipe was full (`EAGAIN`): nobody reads it.
    pub dropped_full: u64,
    /// Any other write error.
    pub dropped_error: u64,
}

/// One notify FIFO.
pub struct NotifyFifo {
    /// NUL-terminated.
    path: Vec<u8, { MAX_PATH_LEN + 1 }>,
    fd: OwnedFd,
    /// We made it (and remove it on drop).
    created: bool,
    chown_error: Option<io::Error>,
    pub stats: FifoStats,
}

impl NotifyFifo {
    /// Creates the FIFO at `path` if it does not exist and opens it
    /// (start-up). Fails if `path` exists and is not a FIFO, or is a FIFO
    /// owned by another non-root user than `owner` (keepalived refuses "a
    /// fifo we do not own" too).
    pub fn create(path: &str) -> Result<NotifyFifo, FifoError> {
        Self::create_owned(path, None)
    }

    /// [`NotifyFifo::create`]; a FIFO it creates is then given to
    /// `owner` (uid, gid) when that differs from the daemon's, as
    /// keepalived's `notify_fifo PATH USER [GROUP]` does. A failed `chown`
    /// is returned as `Ok` with [`NotifyFifo::chown_error`] set (keepalived
    /// logs it and uses the FIFO).
    pub fn create_owned(path: &str, owner: Option<(u32, u32)>) -> Result<NotifyFifo, FifoError> {
        let mut p: Vec<u8, { MAX_PATH_LEN + 1 }> = Vec::new();
        if path.as_bytes().contains(&0)
            || p.extend_from_slice(path.as_bytes()).is_err()
            || p.push(0).is_err()
        {
            return Err(FifoError::BadPath);
        }
        let c = CStr::from_bytes_with_nul(&p).map_err(|_| FifoError::BadPath)?;
        let mut created = false;
        match lstat(c) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFIFO => {}
            Ok(_) => return Err(FifoError::NotAFifo),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // SAFETY: `c` is a valid NUL-terminated path.
                let r = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
                if r == 0 {
                    created = true;
                } else {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EEXIST) {
                        return Err(FifoError::Io(e));
                    }
                }
            }
            Err(e) => return Err(FifoError::Io(e)),
        }
        let unlink = |created: bool| {
            if created {
                // SAFETY: `c` is a valid NUL-terminated path.
                unsafe { libc::unlink(c.as_ptr()) };
            }
        };
        // SAFETY: `c` is a valid NUL-terminated path; checked by `owned_fd`.
        let fd = owned_fd(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            )
        });
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                unlink(created);
                return Err(FifoError::Io(e));
            }
        };
        // SAFETY: `stat` is plain data (all-zero is valid) and `fd` is open.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: `st` is a valid, writable `stat` for the call.
        let r = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
        let ours = r == 0
            && st.st_mode & libc::S_IFMT == libc::S_IFIFO
            && (st.st_uid == 0
                || st.st_uid == geteuid()
                || owner.is_some_and(|o| o.0 == st.st_uid));
        if !ours {
            unlink(created);
            return Err(FifoError::NotOurs);
        }
        let mut chown_error = None;
        if let Some((uid, gid)) = owner
            && created
            && (uid != geteuid() || gid != getegid())
        {
            // SAFETY: `fd` is open; plain integer arguments.
            let r = unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) };
            if r != 0 {
                chown_error = Some(io::Error::last_os_error());
            }
        }
        Ok(NotifyFifo {
            path: p,
            fd,
            created,
            chown_error,
            stats: FifoStats::default(),
        })
    }

    /// Why the FIFO could not be given to its user (see
    /// [`NotifyFifo::create_owned`]).
    pub fn chown_error(&self) -> Option<&io::Error> {
        self.chown_error.as_ref()
    }

    /// The path (NUL-terminated).
    pub fn path(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.path).unwrap_or(c"")
    }

    /// Writes one line (ending in `\n`). Returns true if it was written.
    /// Never blocks.
    pub fn write_line(&mut self, line: &[u8]) -> bool {
        loop {
            // SAFETY: `line` is a valid buffer of `line.len()` bytes.
            let r = unsafe { libc::write(self.fd.as_raw_fd(), line.as_ptr().cast(), line.len()) };
            match super::cerr(r) {
                Ok(n) if n as usize == line.len() => {
                    self.stats.written += 1;
                    return true;
                }
                Ok(_) => {
                    self.stats.dropped_error += 1;
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stats.dropped_full += 1;
                    return false;
                }
                Err(_) => {
                    self.stats.dropped_error += 1;
                    return false;
                }
            }
        }
    }
}

fn getegid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

impl Drop for NotifyFifo {
    fn drop(&mut self) {
        if self.created {
            // Unlink first (keepalived's order): a reader that loops
            // reopening the path cannot reopen this FIFO.
            // SAFETY: `path()` is a valid NUL-terminated path.
            unsafe { libc::unlink(self.path().as_ptr()) };
        }
    }
}
