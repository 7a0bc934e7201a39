//! The IPVS generic-netlink socket: one `NETLINK_GENERIC` socket, the
//! family id looked up ("IPVS"), then one request at a time, each waiting
//! for its ACK.
//!
//! Since Linux 5.16 `ip_vs` declares its generic-netlink family as a module
//! alias, so the lookup itself makes the kernel load the module. Older
//! kernels (OpenWrt 22.03 and 23.05 run 5.10 and 5.15) do not: there the
//! lookup answers `ENOENT` until somebody loads `ip_vs`, which keepalived
//! does with `modprobe ip_vs` ([`modprobe_program`] finds the program as
//! keepalived does; the daemon runs it and looks again).
//!
//! The kernel handles a generic-netlink request inside `sendmsg`, so the
//! ACK is queued before `send` returns; the wait is bounded anyway
//! ([`ACK_WAIT`]). Messages are built by `wire::ipvs` in a fixed buffer on
//! the stack, and replies read into one (no heap; the socket itself is a
//! few bytes).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::time::Duration;
use crate::wire::ipvs::{self as wipvs, IPVS_MSG_MAX, Reply, Request};

/// Longest wait for one ACK.
pub const ACK_WAIT: Duration = Duration::from_millis(500);
const RX_LEN: usize = 4096;

/// Why IPVS cannot be used.
#[derive(Debug)]
pub enum OpenError {
    /// The kernel has no "IPVS" generic-netlink family (no `ip_vs`, and no
    /// module to load).
    NoFamily,
    /// Generic netlink itself failed.
    Io(io::Error),
}

/// `modprobe`'s path: what `/proc/sys/kernel/modprobe` names (the kernel's
/// own module loader), when that is a regular, executable file.
pub const MODPROBE_PATH_MAX: usize = 256;
/// The fallback when `/proc/sys/kernel/modprobe` is missing or unusable.
pub const MODPROBE_DEFAULT: &str = "/sbin/modprobe";

/// Fills `buf` with the module loader's path, as keepalived picks it: the
/// contents of `/proc/sys/kernel/modprobe` if that names a regular file
/// with an execute bit, else [`MODPROBE_DEFAULT`]. Returns its length. No
/// heap (a fixed buffer; std puts short paths on the stack).
pub fn modprobe_program(buf: &mut [u8; MODPROBE_PATH_MAX]) -> usize {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let fallback = |buf: &mut [u8; MODPROBE_PATH_MAX]| {
        buf[..MODPROBE_DEFAULT.len()].copy_from_slice(MODPROBE_DEFAULT.as_bytes());
        MODPROBE_DEFAULT.len()
    };
    let Ok(mut f) = std::fs::File::open("/proc/sys/kernel/modprobe") else {
        return fallback(buf);
    };
    let mut n = 0;
    for _ in 0..4 {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return fallback(buf),
        }
        if n == buf.len() {
            // Longer than any path we can pass on.
            return fallback(buf);
        }
    }
    while n > 0 && matches!(buf[n - 1], b'\n' | b' ' | 0) {
        n -= 1;
    }
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&buf[..n]));
    match std::fs::metadata(path) {
        Ok(m) if n > 0 && m.is_file() && m.permissions().mode() & 0o111 != 0 => n,
        _ => fallback(buf),
    }
}

/// An IPVS channel (closed until [`IpvsSocket::connect`]).
pub struct IpvsSocket {
    fd: Option<OwnedFd>,
    family: u16,
    seq: u32,
}

fn genl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked by owned_fd.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::NETLINK_GENERIC,
        )
    };
    let fd = super::owned_fd(fd)?;
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `sa` is a valid sockaddr_nl of the given size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            core::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    super::cerr(r)?;
    // Errors echo only the request header (kernels >= 4.3).
    let _ = super::setsockopt_int(&fd, libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, 1);
    Ok(fd)
}

impl IpvsSocket {
    /// A closed channel (part of the daemon's LVS side from start-up),
    /// opened when virtual servers are first configured.
    pub const fn closed() -> IpvsSocket {
        IpvsSocket {
            fd: None,
            family: 0,
            seq: 0,
        }
    }

    /// Opens a channel and looks the IPVS family up (boxed; tests and
    /// tools).
    pub fn open() -> Result<Box<IpvsSocket>, OpenError> {
        let mut s = Box::new(IpvsSocket::closed());
        s.connect()?;
        Ok(s)
    }

    /// (Re)opens the socket and looks the IPVS family up; returns its id.
    /// On failure the channel stays closed.
    pub fn connect(&mut self) -> Result<u16, OpenError> {
        self.fd = None;
        self.family = 0;
        self.fd = Some(genl_socket().map_err(OpenError::Io)?);
        match self.lookup() {
            Ok(id) => {
                self.family = id;
                Ok(id)
            }
            Err(e) => {
                self.fd = None;
                Err(e)
            }
        }
    }

    fn lookup(&mut self) -> Result<u16, OpenError> {
        let seq = self.next_seq();
        let mut tx = [0u8; IPVS_MSG_MAX];
        let n = wipvs::emit_get_family(&mut tx, seq).map_err(|_| {
            OpenError::Io(super::fixed_error(
                io::ErrorKind::Other,
                "family request does not fit",
            ))
        })?;
        self.send(&tx[..n]).map_err(OpenError::Io)?;
        // The reply (NEWFAMILY) comes first, then the ACK.
        let mut family = None;
        for _ in 0..4 {
            match self.recv_reply(seq).map_err(OpenError::Io)? {
                Reply::Family { id, .. } => family = Some(id),
                Reply::Ack { errno: 0, .. } => break,
                Reply::Ack { errno, .. } if errno == libc::ENOENT => {
                    return Err(OpenError::NoFamily);
                }
                Reply::Ack { errno, .. } => {
                    return Err(OpenError::Io(io::Error::from_raw_os_error(errno)));
                }
            }
        }
        family.ok_or(OpenError::NoFamily)
    }

    /// The IPVS family id.
    pub fn family(&self) -> u16 {
        self.family
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn raw_fd(&self) -> io::Result<libc::c_int> {
        self.fd
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOTCONN))
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        let fd = self.raw_fd()?;
        // SAFETY: sockaddr_nl is plain data; all-zero (pid 0) is the kernel.
        let mut sa: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        for _ in 0..4 {
            // SAFETY: `msg` and `sa` are valid for reads of these lengths.
            let r = unsafe {
                libc::sendto(
                    fd,
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&sa as *const libc::sockaddr_nl).cast(),
                    core::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            match super::cerr(r) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::from(io::ErrorKind::Interrupted))
    }

    /// Waits (at most [`ACK_WAIT`]) for the next reply to `seq`; replies to
    /// other sequence numbers (late ones) are skipped.
    fn recv_reply(&mut self, seq: u32) -> io::Result<Reply> {
        let fd = self.raw_fd()?;
        let mut rx = [0u8; RX_LEN];
        let mut waited_ms = 0u64;
        loop {
            // SAFETY: `rx` is valid for writes of its length.
            let r = unsafe { libc::recv(fd, rx.as_mut_ptr().cast(), rx.len(), libc::MSG_DONTWAIT) };
            match super::cerr(r) {
                Ok(n) => {
                    let n = usize::try_from(n).unwrap_or(0).min(rx.len());
                    match wipvs::parse_reply(&rx[..n]) {
                        Ok(rep) => {
                            let s = match rep {
                                Reply::Ack { seq, .. } | Reply::Family { seq, .. } => seq,
                            };
                            if s == seq {
                                return Ok(rep);
                            }
                        }
                        Err(_) => {
                            return Err(super::fixed_error(
                                io::ErrorKind::InvalidData,
                                "malformed IPVS reply",
                            ));
                        }
                    }
                }
                Err(e) if super::would_block(&e) => {
                    if waited_ms >= ACK_WAIT.as_millis() {
                        return Err(io::Error::from(io::ErrorKind::TimedOut));
                    }
                    let mut p = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd for the duration of the call.
                    let _ = unsafe { libc::poll(&mut p, 1, 50) };
                    waited_ms += 50;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends `req` and returns the kernel's answer: 0 or an errno.
    pub fn request(&mut self, req: Request<'_>) -> io::Result<i32> {
        let seq = self.next_seq();
        let mut tx = [0u8; IPVS_MSG_MAX];
        let n = wipvs::emit(&mut tx, self.family, seq, req)
            .map_err(|_| super::fixed_error(io::ErrorKind::Other, "IPVS request does not fit"))?;
        self.send(&tx[..n])?;
        match self.recv_reply(seq)? {
            Reply::Ack { errno, .. } => Ok(errno),
            Reply::Family { .. } => Err(super::fixed_error(
                io::ErrorKind::InvalidData,
                "unexpected reply to an IPVS request",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modprobe_program_is_the_kernels_or_sbin_modprobe() {
        let mut buf = [0u8; MODPROBE_PATH_MAX];
        let n = modprobe_program(&mut buf);
        let got = core::str::from_utf8(&buf[..n]).unwrap();
        let proc = std::fs::read_to_string("/proc/sys/kernel/modprobe").ok();
        match proc.as_deref().map(str::trim_end) {
            // A kernel without module support has no such file (this test
            // machine's): keepalived's fallback.
            None => assert_eq!(got, MODPROBE_DEFAULT),
            Some(p)
                if std::fs::metadata(p).is_ok_and(|m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.is_file() && m.permissions().mode() & 0o111 != 0
                }) =>
            {
                assert_eq!(got, p)
            }
            Some(_) => assert_eq!(got, MODPROBE_DEFAULT),
        }
    }

    #[test]
    fn a_closed_channel_refuses_requests() {
        let mut s = IpvsSocket::closed();
        let spec = wipvs::ServiceSpec {
            key: wipvs::ServiceKey {
                addr: core::net::IpAddr::from([192, 0, 2, 100]),
                protocol: 6,
                port: 80,
            },
            sched_name: heapless::String::try_from("rr").unwrap(),
            flags: 0,
            timeout_s: 0,
            netmask: u32::MAX,
        };
        let e = s.request(Request::NewService(&spec)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN));
        assert_eq!(s.family(), 0);
    }
}
