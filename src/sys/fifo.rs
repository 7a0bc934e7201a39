//! `notify_fifo`: non-blocking writes of notify lines to a named pipe.
//!
//! The FIFO is created (`mkfifo`, mode 0644) if missing. Each line is
//! written with one `write` (lines are far below `PIPE_BUF`, so they are
//! atomic); the pipe is opened `O_WRONLY | O_NONBLOCK` on demand. With no
//! reader (`ENXIO` on open, `EPIPE` on write) or a full pipe (`EAGAIN`) the
//! line is dropped and counted: the daemon loop never waits for a reader.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::owned_fd;

/// Counters of one FIFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FifoStats {
    pub written: u64,
    /// No reader had the FIFO open (`ENXIO` / `EPIPE`).
    pub dropped_no_reader: u64,
    /// The pipe was full (`EAGAIN`).
    pub dropped_full: u64,
    /// Any other write error.
    pub dropped_error: u64,
}

/// One notify FIFO.
pub struct NotifyFifo {
    path: CString,
    fd: Option<OwnedFd>,
    pub stats: FifoStats,
}

impl NotifyFifo {
    /// Creates the FIFO at `path` if it does not exist (start-up; the path
    /// is copied once). Fails if `path` exists and is not a FIFO.
    pub fn create(path: &str) -> io::Result<NotifyFifo> {
        use std::os::unix::fs::FileTypeExt;
        let c = CString::new(path)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in FIFO path"))?;
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
                if r != 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EEXIST) {
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        }
        Ok(NotifyFifo {
            path: c,
            fd: None,
            stats: FifoStats::default(),
        })
    }

    fn open(&mut self) -> io::Result<()> {
        if self.fd.is_none() {
            // SAFETY: `self.path` is a valid NUL-terminated path; the result
            // is checked by `owned_fd`.
            let fd = owned_fd(unsafe {
                libc::open(
                    self.path.as_ptr(),
                    libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                )
            })?;
            self.fd = Some(fd);
        }
        Ok(())
    }

    fn write_once(&mut self, line: &[u8]) -> io::Result<usize> {
        self.open()?;
        let Some(fd) = &self.fd else {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        };
        // SAFETY: `line` is a valid buffer of `line.len()` bytes.
        let r = unsafe { libc::write(fd.as_raw_fd(), line.as_ptr().cast(), line.len()) };
        super::cerr(r).map(|n| n as usize)
    }

    /// Writes one line (ending in `\n`). Returns true if it was written.
    /// Never blocks. A reader that went away is retried once with a fresh
    /// open (a new reader may be there).
    pub fn write_line(&mut self, line: &[u8]) -> bool {
        for attempt in 0..2 {
            match self.write_once(line) {
                Ok(n) if n == line.len() => {
                    self.stats.written += 1;
                    return true;
                }
                Ok(_) => {
                    self.stats.dropped_error += 1;
                    return false;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::ENXIO) => {
                        self.stats.dropped_no_reader += 1;
                        return false;
                    }
                    Some(libc::EPIPE) if attempt == 0 => {
                        self.fd = None;
                    }
                    Some(libc::EPIPE) => {
                        self.fd = None;
                        self.stats.dropped_no_reader += 1;
                        return false;
                    }
                    Some(libc::EAGAIN) => {
                        self.stats.dropped_full += 1;
                        return false;
                    }
                    _ => {
                        self.fd = None;
                        self.stats.dropped_error += 1;
                        return false;
                    }
                },
            }
        }
        false
    }
}
