//! A non-blocking TCP client socket for the SMTP alert client: connect
//! without blocking (`EINPROGRESS`, then readiness + `SO_ERROR`), `recv`,
//! `send` without `SIGPIPE`, close on drop. IPv4 and IPv6.
//!
//! The poll loop watches the socket for readability only: SMTP servers speak
//! first, so a successful connect becomes readable when the `220` greeting
//! arrives, and a failed one reports `POLLERR`/`POLLHUP` (always reported by
//! `poll`). On readiness call [`TcpStream::connect_status`] before the first
//! `recv`.
//!
//! Also here: [`wall_clock`], the `Date:` header's wall-clock time with the
//! local UTC offset (`CLOCK_REALTIME` + `localtime_r`), read once per alert.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::{cerr, owned_fd, would_block};
use crate::smtp::WallTime;

/// Where a non-blocking connect stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConnectState {
    /// The three-way handshake is still running.
    InProgress,
    /// Connected.
    Connected,
}

/// A non-blocking, close-on-exec TCP socket (closed on drop).
#[derive(Debug)]
pub struct TcpStream {
    fd: OwnedFd,
}

/// A `sockaddr_in`/`sockaddr_in6` for `addr`, as storage plus length.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    // The octets are already in network order in memory.
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned
            // for sockaddr_in; we write one whole value into it.
            unsafe {
                core::ptr::write(
                    (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    sin,
                )
            };
            (
                ss,
                core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe {
                core::ptr::write(
                    (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
            (
                ss,
                core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

impl TcpStream {
    /// Starts a non-blocking connect to `addr`. `Ok` means the connect is
    /// in progress or already done (loopback may complete at once); an
    /// immediate failure (`ENETUNREACH`, `ECONNREFUSED` on loopback, ...) is
    /// an `Err`.
    pub fn connect(addr: SocketAddr) -> io::Result<(TcpStream, ConnectState)> {
        let family = match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        // SAFETY: plain socket(2) call with constant arguments.
        let fd = owned_fd(unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::IPPROTO_TCP,
            )
        })?;
        let (ss, len) = sockaddr(addr);
        // SAFETY: `ss` holds a valid sockaddr of `len` bytes that outlives
        // the call; the kernel only reads it.
        let r = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr>(),
                len,
            )
        };
        match cerr(r) {
            Ok(_) => Ok((TcpStream { fd }, ConnectState::Connected)),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                Ok((TcpStream { fd }, ConnectState::InProgress))
            }
            Err(e) => Err(e),
        }
    }

    /// After the socket became ready (readable, writable, `POLLERR` or
    /// `POLLHUP`): `Err` with the connect's error (`SO_ERROR`), or whether
    /// the connection is up (`getpeername` succeeds) or still in progress.
    pub fn connect_status(&self) -> io::Result<ConnectState> {
        let mut err: libc::c_int = 0;
        let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are valid, writable and live across the
        // call; `len` holds the size of `err`.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast::<libc::c_void>(),
                &mut len,
            )
        };
        cerr(r)?;
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        // SAFETY: sockaddr_storage is plain data; all-zero is valid.
        let mut ss: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
        let mut slen = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `ss`/`slen` are valid and writable; `slen` holds the
        // storage size, so the kernel never writes past it.
        let r = unsafe {
            libc::getpeername(
                self.fd.as_raw_fd(),
                (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr>(),
                &mut slen,
            )
        };
        match cerr(r) {
            Ok(_) => Ok(ConnectState::Connected),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(ConnectState::InProgress),
            Err(e) => Err(e),
        }
    }

    /// `recv` without blocking: `Ok(Some(0))` is end of stream, `Ok(None)`
    /// means nothing to read now.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: `buf` is a valid, writable buffer of `buf.len()` bytes for
        // the duration of the call.
        let r = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        match cerr(r) {
            Ok(n) => Ok(Some(usize::try_from(n).unwrap_or(0))),
            Err(e) if would_block(&e) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `send` without blocking and without `SIGPIPE` (`MSG_NOSIGNAL`):
    /// returns how many bytes the kernel took (0 when its buffer is full).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: `buf` is a valid buffer of `buf.len()` bytes; the kernel
        // only reads it during the call.
        let r = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast::<libc::c_void>(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        match cerr(r) {
            Ok(n) => Ok(usize::try_from(n).unwrap_or(0)),
            Err(e) if would_block(&e) => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Closes the socket (same as dropping it).
    pub fn close(self) {
        drop(self);
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The wall-clock time and the local UTC offset (from `TZ` /
/// `/etc/localtime` as the C library sees it) for the `Date:` header.
/// Falls back to UTC when `localtime_r` fails.
// time_t / tm_gmtoff are 32-bit on some 32-bit targets: the conversions are
// not useless there.
#[allow(clippy::useless_conversion)]
pub fn wall_clock() -> WallTime {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    if cerr(r).is_err() {
        return WallTime::default();
    }
    let t = ts.tv_sec;
    // SAFETY: `tm` is plain data; all-zero is valid.
    let mut tm: libc::tm = unsafe { core::mem::zeroed() };
    // SAFETY: `t` and `tm` are valid for the call; localtime_r is the
    // thread-safe variant and writes only into `tm`.
    let p = unsafe { libc::localtime_r(&t, &mut tm) };
    let offset = if p.is_null() {
        0
    } else {
        i32::try_from(tm.tm_gmtoff).unwrap_or(0)
    };
    WallTime {
        unix_secs: i64::from(ts.tv_sec),
        utc_offset_s: offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn wait_ready(s: &TcpStream) -> ConnectState {
        let mut t = crate::sys::poll::PollTable::new();
        let slot = t.add(s.as_fd()).unwrap();
        let _ = t.poll(Some(crate::time::Duration::from_secs(5))).unwrap();
        assert!(t.is_ready(slot));
        s.connect_status().unwrap()
    }

    #[test]
    fn connect_send_recv_v4_and_v6() {
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            let l = match TcpListener::bind(bind) {
                Ok(l) => l,
                Err(e) if bind.starts_with('[') => {
                    eprintln!("skip IPv6 loopback: {e}");
                    continue;
                }
                Err(e) => panic!("{e}"),
            };
            let addr = l.local_addr().unwrap();
            let (s, _st) = TcpStream::connect(addr).unwrap();
            let (mut peer, _) = l.accept().unwrap();
            peer.write_all(b"220 hi\r\n").unwrap();
            assert_eq!(wait_ready(&s), ConnectState::Connected);
            let mut buf = [0u8; 64];
            let n = s.recv(&mut buf).unwrap().unwrap();
            assert_eq!(&buf[..n], b"220 hi\r\n");
            assert_eq!(s.recv(&mut buf).unwrap(), None, "nothing more: would block");
            assert_eq!(s.send(b"QUIT\r\n").unwrap(), 6);
            let mut got = [0u8; 6];
            peer.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"QUIT\r\n");
            drop(peer);
            let mut t = crate::sys::poll::PollTable::new();
            let slot = t.add(s.as_fd()).unwrap();
            t.poll(Some(crate::time::Duration::from_secs(5))).unwrap();
            assert!(t.is_ready(slot));
            assert_eq!(s.recv(&mut buf).unwrap(), Some(0), "EOF");
            // Writing to a closed peer: an error, never SIGPIPE.
            let mut err = None;
            for _ in 0..100 {
                match s.send(b"x") {
                    Ok(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            assert!(err.is_some(), "send to a closed peer must fail");
        }
    }

    #[test]
    fn refused_is_reported() {
        // Bind then drop: nothing listens on that port any more.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        match TcpStream::connect(addr) {
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED)),
            Ok((s, _)) => {
                let mut t = crate::sys::poll::PollTable::new();
                let slot = t.add(s.as_fd()).unwrap();
                t.poll(Some(crate::time::Duration::from_secs(5))).unwrap();
                assert!(t.is_ready(slot));
                let e = s.connect_status().unwrap_err();
                if std::env::var("KEEPVIP_QEMU").as_deref() == Ok("1") {
                    // qemu-user passes the SO_ERROR value through untranslated
                    // (the host's errno numbering): only "an error" is portable.
                    eprintln!("qemu-user: SO_ERROR = {e} (errno not checked)");
                } else {
                    assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
                }
            }
        }
    }

    #[test]
    fn wall_clock_is_sane() {
        let w = wall_clock();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((w.unix_secs - now).abs() <= 2, "{w:?} vs {now}");
        assert!(w.utc_offset_s.abs() <= 14 * 3600);
    }
}
