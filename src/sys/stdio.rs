//! Standard output and standard error for the command line (`-h`, `-v`,
//! `-t`, `keepvip status`) and the console logger, written with `write(2)`
//! through [`FdWriter`]'s fixed buffer: std's `print!` machinery (a
//! line-buffered, locked, lazily allocated `Stdout`) is not needed for
//! that, and the daemon must not allocate after start-up anyway.

use core::fmt;
use std::io;
use std::os::fd::BorrowedFd;

use super::file_atomic::{FdWriter, write_all};

/// Standard output (descriptor 1).
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: descriptor 1 exists for the whole life of the process (std's
    // start-up opens /dev/null on a closed one; `daemonize` dup2s over it);
    // keepvip never closes it.
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Standard error (descriptor 2).
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: as for `stdout`: descriptor 2 is never closed by keepvip.
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// Writes `bytes` to `fd` in as few `write`s as the kernel allows.
pub fn write_bytes(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    write_all(fd, bytes)
}

/// Formats `args` to `fd` (through a fixed stack buffer, flushed at the
/// end: a short message is one `write`).
pub fn write_fmt(fd: BorrowedFd<'_>, args: fmt::Arguments<'_>) -> io::Result<()> {
    with_writer(fd, &mut |w| w.write_fmt(args))
}

/// Runs `render` on a buffered writer to `fd`, then flushes it. A
/// formatting error of `render` itself is ignored (only the I/O matters).
pub fn with_writer(
    fd: BorrowedFd<'_>,
    render: &mut dyn FnMut(&mut dyn fmt::Write) -> fmt::Result,
) -> io::Result<()> {
    let mut w = FdWriter::new(fd);
    let _ = render(&mut w);
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn formats_and_writes_through_the_buffer() {
        let (a, mut b) = UnixStream::pair().unwrap();
        write_fmt(a.as_fd(), format_args!("{} {:>3}|", "x", 7)).unwrap();
        write_bytes(a.as_fd(), b"raw\n").unwrap();
        // Longer than the buffer: flushed in pieces, nothing lost.
        let long = "é".repeat(3000);
        with_writer(a.as_fd(), &mut |w| {
            w.write_str(&long)?;
            w.write_str("\n")
        })
        .unwrap();
        drop(a);
        let mut got = String::new();
        b.read_to_string(&mut got).unwrap();
        assert_eq!(got, format!("x   7|raw\n{long}\n"));
    }

    #[test]
    fn reports_write_errors() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        // Rust ignores SIGPIPE: the write fails with EPIPE.
        let e = write_fmt(a.as_fd(), format_args!("lost")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
