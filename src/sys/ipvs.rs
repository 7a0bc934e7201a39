//! The IPVS generic-netlink socket: one `NETLINK_GENERIC` socket, the
//! family id looked up once ("IPVS"; the lookup makes the kernel load
//! `ip_vs` if it is a module), then one request at a time, each waiting
//! for its ACK.
//!
//! The kernel handles a generic-netlink request inside `sendmsg`, so the
//! ACK is queued before `send` returns; the wait is bounded anyway
//! ([`ACK_WAIT`]). Messages are built by `wire::ipvs` in a fixed buffer.

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

/// An open IPVS channel.
pub struct IpvsSocket {
    fd: OwnedFd,
    family: u16,
    seq: u32,
    tx: [u8; IPVS_MSG_MAX],
    rx: [u8; RX_LEN],
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
    /// Opens the socket and looks the IPVS family up. Start-up only
    /// (boxed: the buffers are 4 KiB).
    pub fn open() -> Result<Box<IpvsSocket>, OpenError> {
        let fd = genl_socket().map_err(OpenError::Io)?;
        let mut s = Box::new(IpvsSocket {
            fd,
            family: 0,
            seq: 0,
            tx: [0; IPVS_MSG_MAX],
            rx: [0; RX_LEN],
        });
        let seq = s.next_seq();
        let n = wipvs::emit_get_family(&mut s.tx, seq)
            .map_err(|_| OpenError::Io(io::Error::other("family request does not fit")))?;
        s.send(n).map_err(OpenError::Io)?;
        // The reply (NEWFAMILY) comes first, then the ACK.
        let mut family = None;
        for _ in 0..4 {
            match s.recv_reply(seq).map_err(OpenError::Io)? {
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
        s.family = family.ok_or(OpenError::NoFamily)?;
        Ok(s)
    }

    /// The IPVS family id.
    pub fn family(&self) -> u16 {
        self.family
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&self, n: usize) -> io::Result<()> {
        // SAFETY: sockaddr_nl is plain data; all-zero (pid 0) is the kernel.
        let mut sa: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        for _ in 0..4 {
            // SAFETY: `tx[..n]` and `sa` are valid for reads of these lengths.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    self.tx.as_ptr().cast(),
                    n.min(self.tx.len()),
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
        let mut waited_ms = 0u64;
        loop {
            // SAFETY: `rx` is valid for writes of its length.
            let r = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.rx.as_mut_ptr().cast(),
                    self.rx.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            match super::cerr(r) {
                Ok(n) => {
                    let n = usize::try_from(n).unwrap_or(0).min(self.rx.len());
                    match wipvs::parse_reply(&self.rx[..n]) {
                        Ok(rep) => {
                            let s = match rep {
                                Reply::Ack { seq, .. } | Reply::Family { seq, .. } => seq,
                            };
                            if s == seq {
                                return Ok(rep);
                            }
                        }
                        Err(_) => {
                            return Err(io::Error::new(
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
                        fd: self.fd.as_raw_fd(),
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
        let n = wipvs::emit(&mut self.tx, self.family, seq, req)
            .map_err(|_| io::Error::other("IPVS request does not fit"))?;
        self.send(n)?;
        match self.recv_reply(seq)? {
            Reply::Ack { errno, .. } => Ok(errno),
            Reply::Family { .. } => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected reply to an IPVS request",
            )),
        }
    }
}
