//! The pid file (`-p`/`--vrrp_pid`, keepalived's `/run/keepalived.pid` style:
//! the decimal pid and a newline).
//!
//! Written once at start-up and removed at exit; not on the loop's path.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::file_atomic::{FixedBuf, write_all};

/// Writes this process's pid to `path` (mode 0644, replacing any old file).
///
/// Refuses when the file names another process that is still alive, so two
/// daemons with the same pid file do not fight over the VIPs.
pub fn write(path: &Path) -> io::Result<()> {
    // SAFETY: getpid has no preconditions and cannot fail.
    let me = unsafe { libc::getpid() };
    if let Some(pid) = running_pid(path)
        && pid != me
    {
        return Err(super::fixed_error(
            io::ErrorKind::AlreadyExists,
            "pid file names a running process",
        ));
    }
    let fd = super::open_path(
        path.as_os_str().as_bytes(),
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        0o644,
    )?;
    let mut line = FixedBuf::<16>::new();
    let _ = core::fmt::write(&mut line, format_args!("{me}\n"));
    write_all(fd.as_fd(), line.as_bytes())?;
    // SAFETY: `fd` is an open descriptor owned here.
    super::cerr(unsafe { libc::fsync(std::os::fd::AsRawFd::as_raw_fd(&fd)) }).map(|_| ())
}

/// Removes the pid file if it still names this process.
pub fn remove(path: &Path) -> io::Result<()> {
    // SAFETY: getpid has no preconditions and cannot fail.
    let me = unsafe { libc::getpid() };
    match read_pid(path) {
        Some(pid) if pid != me => Ok(()),
        _ => match super::remove_file(path.as_os_str().as_bytes()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        },
    }
}

/// The pid stored in `path`, if the file exists and holds a number (and
/// nothing else but white space).
pub fn read_pid(path: &Path) -> Option<libc::pid_t> {
    let mut buf = [0u8; 64];
    let n = super::read_prefix(path.as_os_str().as_bytes(), &mut buf).ok()?;
    // A full buffer: more follows, which cannot be a pid and white space.
    let text = core::str::from_utf8(buf.get(..n).filter(|_| n < buf.len())?).ok()?;
    text.trim().parse::<libc::pid_t>().ok().filter(|p| *p > 0)
}

/// The pid stored in `path` if that process is alive.
pub fn running_pid(path: &Path) -> Option<libc::pid_t> {
    let pid = read_pid(path)?;
    // SAFETY: signal 0 only checks that the process exists and is ours to signal.
    let r = unsafe { libc::kill(pid, 0) };
    let alive = r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn write_read_remove() {
        let dir = std::env::temp_dir().join(format!("kvs-pidfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("keepvip.pid");
        write(&p).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        assert_eq!(running_pid(&p), Some(std::process::id() as libc::pid_t));
        write(&p).unwrap(); // our own pid: rewriting is fine
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap(); // already gone: fine

        // A stale file naming a dead pid is replaced; a live foreign pid refuses.
        fs::write(&p, "999999999\n").unwrap();
        assert_eq!(running_pid(&p), None);
        write(&p).unwrap();
        fs::write(&p, "1\n").unwrap(); // init is always alive
        assert_eq!(write(&p).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        remove(&p).unwrap(); // names another process: left alone
        assert!(p.exists());
        // Numbers with white space around them; anything else is no pid.
        for (text, pid) in [
            (" 42 \n", Some(42)),
            ("+7", Some(7)),
            ("0\n", None),
            ("-3\n", None),
            ("12 13\n", None),
            ("", None),
            ("\u{ff}", None),
        ] {
            fs::write(&p, text).unwrap();
            assert_eq!(read_pid(&p), pid, "{text:?}");
        }
        fs::write(&p, format!("1{}\n", " ".repeat(100))).unwrap();
        assert_eq!(read_pid(&p), None, "longer than the read buffer");
        assert_eq!(read_pid(&dir.join("none")), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
