//! The pid file (`-p`/`--vrrp_pid`, keepalived's `/run/keepalived.pid` style:
//! the decimal pid and a newline).
//!
//! Written once at start-up and removed at exit; not on the loop's path.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

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
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "pid file names a running process",
        ));
    }
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)?;
    writeln!(f, "{me}")?;
    f.sync_all()
}

/// Removes the pid file if it still names this process.
pub fn remove(path: &Path) -> io::Result<()> {
    // SAFETY: getpid has no preconditions and cannot fail.
    let me = unsafe { libc::getpid() };
    match read_pid(path) {
        Some(pid) if pid != me => Ok(()),
        _ => match fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        },
    }
}

/// The pid stored in `path`, if the file exists and holds a number (read
/// into a stack buffer: `remove` runs after the loop, where the daemon
/// allocates nothing either; a file longer than the buffer holds no pid).
pub fn read_pid(path: &Path) -> Option<libc::pid_t> {
    use std::io::Read;
    let mut buf = [0u8; 32];
    let mut f = fs::File::open(path).ok()?;
    let mut n = 0;
    loop {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        if n == buf.len() {
            return None;
        }
    }
    core::str::from_utf8(&buf[..n])
        .ok()?
        .trim()
        .parse::<libc::pid_t>()
        .ok()
        .filter(|p| *p > 0)
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
        // Not a pid: garbage, too long, negative.
        for junk in [
            "x\n",
            "1234567890123456789012345678901234567890\n",
            "-5\n",
            "",
        ] {
            fs::write(&p, junk).unwrap();
            assert_eq!(read_pid(&p), None, "{junk:?}");
        }
        fs::write(&p, " 42 \n").unwrap();
        assert_eq!(read_pid(&p), Some(42));
        fs::remove_dir_all(&dir).unwrap();
    }
}
