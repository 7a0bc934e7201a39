//! Unix stream sockets for `keepvip status`, plus a small `epoll` set so
//! that the daemon's poll table only needs one fd for the listener and all
//! of its pending connections.
//!
//! Server side: [`UnixListener::bind`] (start-up), then non-blocking
//! [`UnixListener::accept`], [`UnixStream::read`] and [`UnixStream::write`]
//! from the loop (no allocation, `EAGAIN` comes back as `WouldBlock`).
//! Client side: [`UnixStream::connect`] with a timeout.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use super::{cerr, owned_fd, setsockopt};

/// Room for a path in `sockaddr_un` (108 on Linux, including the NUL).
const SUN_PATH_LEN: usize = 108;

/// Pending connections the kernel queues before `accept`.
pub const LISTEN_BACKLOG: libc::c_int = 8;

fn sockaddr_un(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() || bytes.len() >= SUN_PATH_LEN || bytes.contains(&0) {
        return Err(super::fixed_error(
            io::ErrorKind::InvalidInput,
            "unix socket path empty, too long (max 107 bytes) or containing NUL",
        ));
    }
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in sa.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = core::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((sa, len as libc::socklen_t))
}

fn stream_socket(nonblocking: bool) -> io::Result<OwnedFd> {
    let mut ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    if nonblocking {
        ty |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: plain socket(2) call; the result is checked by owned_fd.
    owned_fd(unsafe { libc::socket(libc::AF_UNIX, ty, 0) })
}

/// A listening unix stream socket; the socket file is removed on drop.
pub struct UnixListener {
    fd: OwnedFd,
    path: ([u8; SUN_PATH_LEN], usize),
}

impl UnixListener {
    /// Binds and listens at `path` (mode 0600: only root may query). A stale
    /// socket file left by a crash is replaced; any other kind of file at
    /// `path` is an error (never delete what is not ours).
    pub fn bind(path: &Path) -> io::Result<UnixListener> {
        let (sa, len) = sockaddr_un(path)?;
        match super::is_socket(path.as_os_str().as_bytes()) {
            Some(true) => super::remove_file(path.as_os_str().as_bytes())?,
            Some(false) => {
                return Err(super::fixed_error(
                    io::ErrorKind::AlreadyExists,
                    "status socket path exists and is not a socket",
                ));
            }
            None => {}
        }
        let fd = stream_socket(true)?;
        // The socket file gets 0600 from the umask at bind time (fchmod does
        // not apply to the file of a bound socket). Start-up only, single
        // thread: the process umask is restored right after.
        // SAFETY: umask cannot fail.
        let old = unsafe { libc::umask(0o177) };
        // SAFETY: `sa` is a valid sockaddr_un of `len` bytes.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_un).cast(),
                len,
            )
        };
        // SAFETY: umask cannot fail.
        unsafe { libc::umask(old) };
        cerr(r)?;
        // SAFETY: `fd` is a bound stream socket.
        cerr(unsafe { libc::listen(fd.as_raw_fd(), LISTEN_BACKLOG) })?;
        let bytes = path.as_os_str().as_bytes();
        let mut p = [0u8; SUN_PATH_LEN];
        p[..bytes.len()].copy_from_slice(bytes);
        Ok(UnixListener {
            fd,
            path: (p, bytes.len()),
        })
    }

    /// Accepts one pending connection (non-blocking, close-on-exec).
    /// `Ok(None)`: nothing pending.
    pub fn accept(&self) -> io::Result<Option<UnixStream>> {
        loop {
            // SAFETY: null address pointers are allowed by accept4.
            let r = unsafe {
                libc::accept4(
                    self.fd.as_raw_fd(),
                    core::ptr::null_mut(),
                    core::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            match owned_fd(r) {
                Ok(fd) => return Ok(Some(UnixStream { fd })),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if super::would_block(&e) => return Ok(None),
                // The peer gave up before we accepted: try the next one.
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path_bytes(&self) -> &[u8] {
        self.path.0.get(..self.path.1).unwrap_or(&[])
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        let mut c = [0u8; SUN_PATH_LEN + 1];
        let n = self.path.1.min(SUN_PATH_LEN);
        c[..n].copy_from_slice(&self.path.0[..n]);
        // SAFETY: `c` is NUL-terminated (n < len) and lives across the call.
        let _ = unsafe { libc::unlink(c.as_ptr().cast()) };
    }
}

/// A connected unix stream socket.
pub struct UnixStream {
    fd: OwnedFd,
}

impl UnixStream {
    /// Client side: connects to `path`, retrying while the server's backlog
    /// is full, and sets read/write timeouts, all bounded by `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
        let (sa, len) = sockaddr_un(path)?;
        let fd = stream_socket(true)?;
        let start = super::clock::monotonic_now();
        let limit = crate::time::Duration::from_micros(
            u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX),
        );
        loop {
            // SAFETY: `sa` is a valid sockaddr_un of `len` bytes.
            let r = unsafe {
                libc::connect(
                    fd.as_raw_fd(),
                    (&sa as *const libc::sockaddr_un).cast(),
                    len,
                )
            };
            match cerr(r) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Backlog full (unix sockets never return EINPROGRESS).
                Err(e)
                    if super::would_block(&e)
                        && super::clock::monotonic_now().saturating_duration_since(start)
                            < limit =>
                {
                    // 10 ms pause (poll without fds: no nanosleep code).
                    // SAFETY: no fds are passed; poll only sleeps.
                    unsafe { libc::poll(core::ptr::null_mut(), 0, 10) };
                }
                Err(e) if super::would_block(&e) => {
                    return Err(super::fixed_error(
                        io::ErrorKind::TimedOut,
                        "status socket busy (backlog full)",
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        // Back to blocking mode, with timeouts.
        // SAFETY: F_GETFL/F_SETFL on an open descriptor.
        let fl = cerr(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
        // SAFETY: as above.
        cerr(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) })?;
        let tv = libc::timeval {
            // time_t / suseconds_t are 32 or 64 bits (musl: their aliases are
            // deprecated); saturate the seconds.
            tv_sec: timeout
                .as_secs()
                .try_into()
                .unwrap_or_else(|_| i32::MAX.into()),
            tv_usec: timeout.subsec_micros() as _,
        };
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &tv)?;
        Ok(UnixStream { fd })
    }

    /// `read(2)`; 0 = end of stream; `WouldBlock` on a non-blocking socket
    /// with nothing to read (or a timed-out blocking one).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
            let r = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            match cerr(r) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// `send(2)` without SIGPIPE (a vanished peer gives `BrokenPipe`).
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is a live slice of `buf.len()` bytes; the kernel
            // only reads from it.
            let r = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            match cerr(r) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Blocking write of all of `buf` (client side).
    pub fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf)?;
            if n == 0 {
                return Err(super::fixed_error(
                    io::ErrorKind::WriteZero,
                    "send returned 0",
                ));
            }
            buf = buf.get(n..).unwrap_or(&[]);
        }
        Ok(())
    }

    /// Half-close: tells the peer that no more data follows.
    pub fn shutdown_write(&self) -> io::Result<()> {
        // SAFETY: shutdown on an open socket.
        cerr(unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) }).map(|_| ())
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Readable (epoll).
pub const EPOLL_IN: u32 = libc::EPOLLIN as u32;
/// Writable (epoll).
pub const EPOLL_OUT: u32 = libc::EPOLLOUT as u32;

/// One readiness event: the token given at registration and the events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub token: u64,
    pub events: u32,
}

/// A level-triggered `epoll` set. Its own fd is readable whenever one of
/// the registered fds is ready, so it can sit in a `poll` table.
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain epoll_create1 call, checked by owned_fd.
        let fd = owned_fd(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll { fd })
    }

    fn ctl(&self, op: libc::c_int, fd: BorrowedFd<'_>, token: u64, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event that lives across the call.
        cerr(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd.as_raw_fd(), &mut ev) })
            .map(|_| ())
    }

    pub fn add(&self, fd: BorrowedFd<'_>, token: u64, events: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, events)
    }

    pub fn modify(&self, fd: BorrowedFd<'_>, token: u64, events: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, events)
    }

    pub fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Ready events without waiting (timeout 0), at most `out.len()`.
    pub fn ready(&self, out: &mut [Event]) -> io::Result<usize> {
        const N: usize = 16;
        let mut raw = [libc::epoll_event { events: 0, u64: 0 }; N];
        let max = out.len().min(N) as libc::c_int;
        let n = loop {
            // SAFETY: `raw` holds N >= max events and lives across the call.
            let r = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), raw.as_mut_ptr(), max, 0) };
            match cerr(r) {
                Ok(n) => break n as usize,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        for (o, r) in out.iter_mut().zip(raw.iter().take(n)) {
            // Copy out of the (packed on x86_64) struct by value.
            let events = r.events;
            let token = r.u64;
            *o = Event { token, events };
        }
        Ok(n)
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_checks() {
        assert!(sockaddr_un(Path::new("")).is_err());
        assert!(sockaddr_un(Path::new(&"x".repeat(108))).is_err());
        let (sa, len) = sockaddr_un(Path::new("/tmp/s")).unwrap();
        assert_eq!(sa.sun_path[0], b'/' as libc::c_char);
        assert_eq!(len as usize, 2 + 6 + 1);
    }

    #[test]
    fn listener_accepts_and_epoll_reports() {
        let dir = std::env::temp_dir().join(format!("kv-us-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("t.sock");
        let l = UnixListener::bind(&path).unwrap();
        assert!(l.accept().unwrap().is_none());
        let ep = Epoll::new().unwrap();
        ep.add(l.as_fd(), 7, EPOLL_IN).unwrap();
        let mut evs = [Event::default(); 4];
        assert_eq!(ep.ready(&mut evs).unwrap(), 0);
        let c = UnixStream::connect(&path, Duration::from_secs(1)).unwrap();
        assert_eq!(ep.ready(&mut evs).unwrap(), 1);
        assert_eq!(evs[0].token, 7);
        let s = l.accept().unwrap().unwrap();
        c.write_all(b"hi").unwrap();
        let mut b = [0u8; 8];
        assert_eq!(s.read(&mut b).unwrap(), 2);
        let e = s.read(&mut b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        // Re-binding over a stale socket works; a regular file is refused.
        drop(l);
        assert!(!path.exists());
        std::fs::write(&path, b"x").unwrap();
        assert!(UnixListener::bind(&path).is_err());
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_dir(&dir);
    }
}
