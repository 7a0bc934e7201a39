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
//! Also here: [`wall_clock`], the `Date:` header's wall-clock time
//! (`CLOCK_REALTIME`, UTC), read once per alert.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::{cerr, owned_fd, would_block};
use crate::smtp::{IoFailure, Smtp, WallTime};
use crate::time::Instant;

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
        TcpStream::connect_from(addr, None, None)
    }

    /// [`TcpStream::connect`] from a chosen source address/port (`bind`,
    /// keepalived's `bindto`/`bind_port`) and/or interface (`bind_if`,
    /// `SO_BINDTODEVICE`). The health checkers use it.
    pub fn connect_from(
        addr: SocketAddr,
        bind: Option<SocketAddr>,
        ifname: Option<&str>,
    ) -> io::Result<(TcpStream, ConnectState)> {
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
        if let Some(ifname) = ifname {
            super::bind_to_device(&fd, ifname)?;
        }
        if let Some(b) = bind {
            let (bs, blen) = sockaddr(b);
            // SAFETY: `bs` holds a valid sockaddr of `blen` bytes that
            // outlives the call; the kernel only reads it.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&bs as *const libc::sockaddr_storage).cast::<libc::sockaddr>(),
                    blen,
                )
            };
            cerr(r)?;
        }
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

/// Reads per [`SmtpLink::service`] call at most (bounded work per loop turn;
/// poll is level-triggered, so anything left is read on the next turn).
const SMTP_READS_PER_TURN: usize = 4;

/// The socket side of the SMTP alert client: owns the (at most one) TCP
/// connection and moves bytes between it and [`Smtp`]. The daemon calls
/// [`service`](SmtpLink::service) once per loop turn and keeps
/// [`fd`](SmtpLink::fd) in its poll table (readability only):
///
/// ```ignore
/// let timeout = min(core_timeout, smtp.poll_timeout(now), link.write_retry(&smtp));
/// table.poll(timeout)?;
/// let now = monotonic_now();
/// let ready = smtp_slot.is_some_and(|s| table.is_ready(s));
/// if link.service(&mut smtp, now, ready) {
///     if let Some(s) = smtp_slot.take() { table.remove(s); }
///     smtp_slot = link.fd().and_then(|fd| table.add(fd).ok());
/// }
/// ```
#[derive(Debug)]
pub struct SmtpLink {
    conn: Option<TcpStream>,
    buf: [u8; 512],
}

impl Default for SmtpLink {
    fn default() -> Self {
        Self::new()
    }
}

impl SmtpLink {
    pub const fn new() -> Self {
        SmtpLink {
            conn: None,
            buf: [0; 512],
        }
    }

    /// The socket to poll for readability, while a session runs.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.conn.as_ref().map(|c| c.as_fd())
    }

    /// When bytes are waiting because the kernel's send buffer was full
    /// (never seen with alert-sized messages, but possible): a short retry
    /// interval for the poll timeout. `None` otherwise.
    pub fn write_retry(&self, smtp: &Smtp) -> Option<crate::time::Duration> {
        (self.conn.is_some() && !smtp.poll_tx().is_empty())
            .then(|| crate::time::Duration::from_millis(10))
    }

    /// One loop turn: handles readiness of the socket (`readable`: its poll
    /// slot was ready: `POLLIN`, `POLLERR` or `POLLHUP`), timeouts, starting
    /// a session, sending, and closing. Never blocks. Returns true when the
    /// socket was opened or closed: the caller re-registers [`fd`](Self::fd).
    pub fn service(&mut self, smtp: &mut Smtp, now: Instant, readable: bool) -> bool {
        let mut changed = false;
        if readable && let Some(c) = &self.conn {
            if smtp.is_connecting() {
                match c.connect_status() {
                    Ok(ConnectState::Connected) => smtp.handle_connected(now),
                    Ok(ConnectState::InProgress) => {}
                    Err(e) => smtp.handle_error(now, IoFailure::Connect(errno(&e))),
                }
            }
            for _ in 0..SMTP_READS_PER_TURN {
                if !smtp.wants_socket() || smtp.is_connecting() {
                    break;
                }
                match c.recv(&mut self.buf) {
                    Ok(Some(0)) => smtp.handle_error(now, IoFailure::Closed),
                    Ok(Some(n)) => smtp.handle_rx(now, self.buf.get(..n).unwrap_or(&[])),
                    Ok(None) => break,
                    Err(e) => smtp.handle_error(now, IoFailure::Read(errno(&e))),
                }
            }
        }
        smtp.handle_timeout(now);
        if !smtp.wants_socket() && self.conn.take().is_some() {
            changed = true;
        }
        if self.conn.is_none()
            && let Some(addr) = smtp.want_connect(now)
        {
            match TcpStream::connect(addr) {
                Ok((c, st)) => {
                    if st == ConnectState::Connected {
                        smtp.handle_connected(now);
                    }
                    self.conn = Some(c);
                    changed = true;
                }
                Err(e) => smtp.handle_error(now, IoFailure::Connect(errno(&e))),
            }
        }
        if let Some(c) = &self.conn {
            while !smtp.poll_tx().is_empty() {
                match c.send(smtp.poll_tx()) {
                    Ok(0) => break,
                    Ok(n) => smtp.consume_tx(n),
                    Err(e) => {
                        smtp.handle_error(now, IoFailure::Write(errno(&e)));
                        break;
                    }
                }
            }
        }
        if !smtp.wants_socket() && self.conn.take().is_some() {
            changed = true;
        }
        changed
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// The wall-clock time for the `Date:` header, in UTC (`+0000`).
///
/// keepalived writes local time; keepvip does not link the C library's
/// time-zone code for it (`localtime_r` pulls about 5 KiB of `tzset` into
/// a static musl binary, and OpenWrt's musl runs with no `TZ`, i.e. UTC,
/// anyway). Mail clients show the time in the reader's zone either way.
// time_t is 32-bit on some 32-bit targets: the conversion is not useless
// there.
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
    WallTime {
        unix_secs: i64::from(ts.tv_sec),
        utc_offset_s: 0,
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

    /// `SmtpLink` + `Smtp` against a scripted loopback server (no root, no
    /// python: the real-server test is tests/smtp_real.rs).
    #[test]
    fn smtp_link_full_session_on_loopback() {
        use crate::config::model::GlobalDefs;
        use crate::smtp::AlertSource;
        use crate::vrrp::action::NotifyState;
        use std::io::BufRead;

        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (peer, _) = l.accept().unwrap();
            peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut w = peer.try_clone().unwrap();
            let mut r = std::io::BufReader::new(peer);
            let mut got = std::string::String::new();
            w.write_all(b"220-loopback\r\n220 ESMTP\r\n").unwrap();
            let mut in_data = false;
            loop {
                let mut line = std::string::String::new();
                if r.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                got.push_str(&line);
                let reply: &[u8] = if in_data {
                    if line != ".\r\n" {
                        continue;
                    }
                    in_data = false;
                    b"250 queued\r\n"
                } else if line.starts_with("EHLO") {
                    b"250-loopback\r\n250 SIZE 1000\r\n"
                } else if line.starts_with("DATA") {
                    in_data = true;
                    b"354 go\r\n"
                } else if line.starts_with("QUIT") {
                    w.write_all(b"221 bye\r\n").unwrap();
                    break;
                } else {
                    b"250 ok\r\n"
                };
                w.write_all(reply).unwrap();
            }
            got
        });

        let mut g = GlobalDefs {
            router_id: Some("edge1".try_into().unwrap()),
            smtp_server: Some((addr.ip(), addr.port())),
            ..Default::default()
        };
        g.notification_email
            .push("ops@example.org".try_into().unwrap())
            .unwrap();
        let mut smtp = Smtp::new(&g, "r1");
        let wall = wall_clock();
        assert!(smtp.queue_alert(wall, AlertSource::Instance, "VI_1", NotifyState::Fault));
        let mut link = SmtpLink::new();
        let mut ready = false;
        let t_end = crate::sys::clock::monotonic_now() + crate::time::Duration::from_secs(10);
        let mut opened = 0;
        loop {
            let now = crate::sys::clock::monotonic_now();
            assert!(now < t_end, "session did not finish");
            if link.service(&mut smtp, now, ready) && link.fd().is_some() {
                opened += 1;
            }
            if smtp.is_idle() {
                break;
            }
            let mut t = crate::sys::poll::PollTable::new();
            let slot = link.fd().map(|fd| t.add(fd).unwrap());
            t.poll(smtp.poll_timeout(now)).unwrap();
            ready = slot.is_some_and(|s| t.is_ready(s));
        }
        assert!(link.fd().is_none(), "socket closed after the session");
        assert_eq!(opened, 1);
        assert_eq!(smtp.stats().sent, 1);
        assert_eq!(smtp.last_error(), None);
        let got = server.join().unwrap();
        assert!(
            got.starts_with(
                "EHLO r1\r\nMAIL FROM:<root@r1>\r\nRCPT TO:<ops@example.org>\r\nDATA\r\n"
            ),
            "{got}"
        );
        assert!(
            got.contains("\r\nSubject: [edge1] VRRP Instance VI_1 - Entering FAULT state\r\n"),
            "{got}"
        );
        assert!(
            got.ends_with(
                "\r\n\r\n=> VRRP Instance is no longer owning VRRP VIPs <=\r\n.\r\nQUIT\r\n"
            ),
            "{got}"
        );
    }

    #[test]
    fn wall_clock_is_sane() {
        let w = wall_clock();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((w.unix_secs - now).abs() <= 2, "{w:?} vs {now}");
        assert_eq!(w.utc_offset_s, 0, "UTC");
    }
}
