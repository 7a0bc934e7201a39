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

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::owned_fd;

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
    path: CString,
    fd: OwnedFd,
    /// We made it (and remove it on drop).
    created: bool,
    pub stats: FifoStats,
}

impl NotifyFifo {
    /// Creates the FIFO at `path` if it does not exist and opens it
    /// (start-up; the path is copied once). Fails if `path` exists and is
    /// not a FIFO, or is a FIFO owned by another non-root user (keepalived
    /// refuses "a fifo we do not own" too).
    pub fn create(path: &str) -> io::Result<NotifyFifo> {
        use std::os::unix::fs::FileTypeExt;
        let c = CString::new(path)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in FIFO path"))?;
        let mut created = false;
        match std::fs::symlink_metadata(path) {
            Ok(md) if md.file_type().is_fifo() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("notify_fifo {path} exists and is not a FIFO"),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // SAFETY: `c` is a valid NUL-terminated path.
                let r = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
                if r == 0 {
                    created = true;
                } else {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EEXIST) {
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        }
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
                if created {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e);
            }
        };
        // SAFETY: `stat` is plain data (all-zero is valid) and `fd` is open.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: `st` is a valid, writable `stat` for the call.
        let r = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
        let ours = r == 0
            && st.st_mode & libc::S_IFMT == libc::S_IFIFO
            && (st.st_uid == 0 || st.st_uid == geteuid());
        if !ours {
            if created {
                let _ = std::fs::remove_file(path);
            }
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("notify_fifo {path} is not a FIFO we own"),
            ));
        }
        Ok(NotifyFifo {
            path: c,
            fd,
            created,
            stats: FifoStats::default(),
        })
    }

    /// The path, as given.
    pub fn path(&self) -> &std::ffi::CStr {
        &self.path
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

fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

impl Drop for NotifyFifo {
    fn drop(&mut self) {
        if self.created {
            // Unlink first (keepalived's order): a reader that loops
            // reopening the path cannot reopen this FIFO.
            // SAFETY: `path` is a valid NUL-terminated path.
            unsafe { libc::unlink(self.path.as_ptr()) };
        }
    }
}
