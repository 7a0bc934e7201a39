//! Raw VRRP sockets (IP protocol 112), one per interface and family, and
//! for VRRPv2 `auth_type AH` an IPv4 socket for IP protocol 51 (AH), set
//! up the same way ([`Vrrp4Socket::open_ah`]).
//!
//! IPv4 ([`Vrrp4Socket`]): `IP_HDRINCL`, so the caller sends the complete
//! IPv4 header (TOS 0xc0, TTL 255, its chosen source) followed by the VRRP
//! message; on receive the IPv4 header is at the start of the payload and
//! [`Recv4`] reports its TTL/source/destination and length, plus the
//! arrival interface from `IP_PKTINFO`.
//!
//! IPv6 ([`Vrrp6Socket`]): the kernel builds the header; `IPV6_CHECKSUM`
//! (offset 6) makes it fill in and verify the VRRP checksum; multicast hop
//! limit 255; traffic class 0xc0; the unicast hop limit is only set when asked (keepalived leaves
//! the kernel default unless `unicast_ttl`). Receive reports hop limit,
//! interface and destination from `IPV6_HOPLIMIT`/`IPV6_PKTINFO` cmsgs;
//! send picks the source with an `IPV6_PKTINFO` cmsg.
//!
//! Both: `SO_BINDTODEVICE`, bounded `SO_RCVBUF`, multicast loopback off,
//! `IP(V6)_MULTICAST_ALL` 0 (only groups joined on this socket), and
//! non-blocking. Read at most [`RX_BURST_MAX`] packets per wakeup.

use core::net::{Ipv4Addr, Ipv6Addr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: libc::c_int = 112;
/// IP protocol number of the IPsec Authentication Header (`auth_type AH`).
pub const IPPROTO_AH: libc::c_int = 51;
/// RFC 5798 multicast groups.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Packets read per socket per loop wakeup.
pub const RX_BURST_MAX: usize = 32;
/// A default `SO_RCVBUF`: room for a few hundred adverts, never hundreds of
/// MB (keepalived#1973).
pub const VRRP_RCVBUF: usize = 64 * 1024;

/// Why a received packet was dropped before parsing.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RxDrop {
    /// Larger than the caller's buffer (`MSG_TRUNC`).
    Truncated,
    /// IPv4: fewer bytes than the IPv4 header claims (or than 20).
    ShortIpHeader,
    /// IPv4: the version nibble is not 4.
    NotIpv4,
    /// No `IP_PKTINFO`/`IPV6_PKTINFO` cmsg (cannot tell the interface).
    NoPktinfo,
    /// IPv6: no `IPV6_HOPLIMIT` cmsg.
    NoHopLimit,
}

impl core::fmt::Display for RxDrop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RxDrop::Truncated => "larger than the receive buffer",
            RxDrop::ShortIpHeader => "IPv4 header truncated",
            RxDrop::NotIpv4 => "not IPv4",
            RxDrop::NoPktinfo => "no packet info (interface unknown)",
            RxDrop::NoHopLimit => "no hop limit",
        })
    }
}

/// Outcome of a receive that produced no packet.
#[derive(Debug)]
pub enum RecvError {
    /// Nothing queued: stop reading until poll says readable.
    WouldBlock,
    /// A packet arrived and was dropped; count the reason.
    Drop(RxDrop),
    Io(io::Error),
}

/// An IPv4 VRRP packet in the caller's buffer: `buf[..len]`, IPv4 header
/// first (`header_len` bytes), the VRRP message after it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Recv4 {
    pub len: usize,
    pub header_len: usize,
    /// Arrival interface (`IP_PKTINFO`).
    pub ifindex: u32,
    pub ttl: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

/// An IPv6 VRRP message in the caller's buffer: `buf[..len]` (no IPv6 header).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Recv6 {
    pub len: usize,
    pub ifindex: u32,
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

/// Control-message buffer, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 128]);

fn raw_socket(family: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked by owned_fd.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    super::owned_fd(fd)
}

fn common_setup(fd: &OwnedFd, ifname: &str, rcvbuf: usize) -> io::Result<()> {
    let rcv = libc::c_int::try_from(rcvbuf).unwrap_or(libc::c_int::MAX);
    super::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, rcv)?;
    super::bind_to_device(fd, ifname)
}

fn ifindex_c(ifindex: u32) -> io::Result<libc::c_int> {
    libc::c_int::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// recvmsg into `buf` with a source address of type `A` and a cmsg buffer.
/// Returns (bytes, msg_flags, msghdr for cmsg walking).
fn recvmsg_raw<A>(
    fd: &OwnedFd,
    buf: &mut [u8],
    name: &mut A,
    cmsg: &mut CmsgBuf,
) -> Result<(usize, libc::msghdr), RecvError> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is valid before we fill it in.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_name = (name as *mut A).cast();
    msg.msg_namelen = core::mem::size_of::<A>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.0.len() as _;
    for _ in 0..4 {
        // SAFETY: every pointer in `msg` refers to a live buffer of the
        // stated size (`buf`, `name`, `cmsg`), all outliving the call.
        let r = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        match super::cerr(r) {
            Ok(n) => {
                let n = usize::try_from(n).unwrap_or(0);
                if msg.msg_flags & libc::MSG_TRUNC != 0 {
                    return Err(RecvError::Drop(RxDrop::Truncated));
                }
                return Ok((n, msg));
            }
            Err(e) if super::would_block(&e) => return Err(RecvError::WouldBlock),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(RecvError::Io(e)),
        }
    }
    Err(RecvError::WouldBlock)
}

/// Calls `f(level, type, data)` for each control message in `msg`.
fn for_each_cmsg(msg: &libc::msghdr, mut f: impl FnMut(libc::c_int, libc::c_int, &[u8])) {
    // SAFETY: `msg` was filled in by recvmsg; msg_control/msg_controllen
    // describe our live cmsg buffer, so the CMSG_* walk stays inside it.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(msg) };
    let base = msg.msg_control as usize;
    // msg_controllen is size_t on glibc but socklen_t on musl.
    #[allow(clippy::unnecessary_cast)]
    let end = base.saturating_add(msg.msg_controllen as usize);
    for _ in 0..16 {
        if c.is_null() {
            break;
        }
        // SAFETY: CMSG_FIRSTHDR/NXTHDR return either null or a header that
        // lies within the control buffer.
        let hdr = unsafe { &*c };
        // SAFETY: as above; CMSG_DATA points just past the header.
        let data = unsafe { libc::CMSG_DATA(c) } as usize;
        let hdr_end = (c as usize).saturating_add(hdr.cmsg_len as usize);
        if data <= hdr_end && hdr_end <= end {
            // SAFETY: [data, hdr_end) lies inside the control buffer (checked).
            let bytes = unsafe { core::slice::from_raw_parts(data as *const u8, hdr_end - data) };
            f(hdr.cmsg_level, hdr.cmsg_type, bytes);
        }
        // SAFETY: `c` is a valid header of `msg` (see above).
        c = unsafe { libc::CMSG_NXTHDR(msg, c) };
    }
}

/// Reads a `T` from cmsg data if it is large enough.
fn cmsg_value<T: Copy>(data: &[u8]) -> Option<T> {
    if data.len() < core::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: `data` holds at least size_of::<T>() bytes; read_unaligned
    // copes with any alignment; T is a plain C struct/int.
    Some(unsafe { core::ptr::read_unaligned(data.as_ptr().cast::<T>()) })
}

// ------------------------------------------------------------------ IPv4

/// Raw IPv4 VRRP socket on one interface.
pub struct Vrrp4Socket {
    fd: OwnedFd,
    ifindex: u32,
}

impl Vrrp4Socket {
    /// Opens the socket on interface `ifname` (index `ifindex`).
    pub fn open(ifname: &str, ifindex: u32, rcvbuf: usize) -> io::Result<Vrrp4Socket> {
        Self::open_proto(ifname, ifindex, rcvbuf, IPPROTO_VRRP)
    }

    /// Opens an IP protocol 51 (AH) socket on `ifname`, set up like the
    /// VRRP one (`IP_HDRINCL`, bound device, group membership through
    /// [`Vrrp4Socket::join`]): it sends and receives complete IPv4 + AH +
    /// VRRPv2 datagrams. The identification field of a sent datagram must
    /// not be 0 (the kernel would fill it in after the ICV was computed
    /// over it).
    pub fn open_ah(ifname: &str, ifindex: u32, rcvbuf: usize) -> io::Result<Vrrp4Socket> {
        Self::open_proto(ifname, ifindex, rcvbuf, IPPROTO_AH)
    }

    fn open_proto(
        ifname: &str,
        ifindex: u32,
        rcvbuf: usize,
        protocol: libc::c_int,
    ) -> io::Result<Vrrp4Socket> {
        let fd = raw_socket(libc::AF_INET, protocol)?;
        common_setup(&fd, ifname, rcvbuf)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IP, libc::IP_HDRINCL, 1)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, 0)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, 0)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: ifindex_c(ifindex)?,
        };
        super::setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)?;
        Ok(Vrrp4Socket { fd, ifindex })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    fn membership(&self, group: Ipv4Addr, opt: libc::c_int) -> io::Result<()> {
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from_ne_bytes(group.octets()),
            },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: ifindex_c(self.ifindex)?,
        };
        super::setsockopt(&self.fd, libc::IPPROTO_IP, opt, &mreq)
    }

    /// Joins `group` (224.0.0.18 or `vrrp_mcast_group4`) on this interface.
    pub fn join(&self, group: Ipv4Addr) -> io::Result<()> {
        self.membership(group, libc::IP_ADD_MEMBERSHIP)
    }

    pub fn leave(&self, group: Ipv4Addr) -> io::Result<()> {
        self.membership(group, libc::IP_DROP_MEMBERSHIP)
    }

    /// Sends `datagram` (IPv4 header + VRRP message) to `dst` (the group or
    /// a unicast peer). The kernel fills in the header checksum, and the id
    /// when it is 0. `WouldBlock` when the socket buffer is full.
    pub fn send(&self, datagram: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(dst.octets()),
            },
            sin_zero: [0; 8],
        };
        for _ in 0..4 {
            // SAFETY: `datagram` and `sa` are valid for reads of the given sizes.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    datagram.as_ptr().cast(),
                    datagram.len(),
                    0,
                    (&sa as *const libc::sockaddr_in).cast(),
                    core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
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

    /// Receives one packet into `buf` (size it for the largest packet plus
    /// the IPv4 header; a larger one is dropped as `Truncated`).
    pub fn recv(&self, buf: &mut [u8]) -> Result<Recv4, RecvError> {
        // SAFETY: sockaddr_in is plain data; all-zero is valid.
        let mut name: libc::sockaddr_in = unsafe { core::mem::zeroed() };
        let mut cmsg = CmsgBuf([0; 128]);
        let (len, msg) = recvmsg_raw(&self.fd, buf, &mut name, &mut cmsg)?;
        let mut ifindex = None;
        for_each_cmsg(&msg, |level, ty, data| {
            if level == libc::IPPROTO_IP
                && ty == libc::IP_PKTINFO
                && let Some(pi) = cmsg_value::<libc::in_pktinfo>(data)
            {
                ifindex = u32::try_from(pi.ipi_ifindex).ok();
            }
        });
        let ifindex = ifindex.ok_or(RecvError::Drop(RxDrop::NoPktinfo))?;
        let pkt = buf.get(..len).unwrap_or(&[]);
        if pkt.len() < 20 {
            return Err(RecvError::Drop(RxDrop::ShortIpHeader));
        }
        if pkt[0] >> 4 != 4 {
            return Err(RecvError::Drop(RxDrop::NotIpv4));
        }
        let header_len = usize::from(pkt[0] & 0x0f) * 4;
        if header_len < 20 || header_len > pkt.len() {
            return Err(RecvError::Drop(RxDrop::ShortIpHeader));
        }
        Ok(Recv4 {
            len,
            header_len,
            ifindex,
            ttl: pkt[8],
            src: Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]),
            dst: Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]),
        })
    }
}

impl AsFd for Vrrp4Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

// ------------------------------------------------------------------ IPv6

/// Raw IPv6 VRRP socket on one interface.
pub struct Vrrp6Socket {
    fd: OwnedFd,
    ifindex: u32,
}

fn in6(a: Ipv6Addr) -> libc::in6_addr {
    libc::in6_addr {
        s6_addr: a.octets(),
    }
}

impl Vrrp6Socket {
    /// Opens the socket on `ifname` (index `ifindex`). `unicast_hops`:
    /// `IPV6_UNICAST_HOPS` for unicast peers (keepalived's `unicast_ttl`);
    /// `None` keeps the kernel default.
    pub fn open(
        ifname: &str,
        ifindex: u32,
        rcvbuf: usize,
        unicast_hops: Option<u8>,
    ) -> io::Result<Vrrp6Socket> {
        let fd = raw_socket(libc::AF_INET6, IPPROTO_VRRP)?;
        common_setup(&fd, ifname, rcvbuf)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, 6)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, 255)?;
        // Traffic class 0xc0 (network control), like the IPv4 TOS and keepalived.
        super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, 0xc0)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, 0)?;
        super::setsockopt_int(
            &fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_IF,
            ifindex_c(ifindex)?,
        )?;
        super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
        super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        // Linux >= 4.20; older kernels deliver every joined group, which the
        // bound device already limits.
        match super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_ALL, 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
            r => r?,
        }
        if let Some(h) = unicast_hops {
            super::setsockopt_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, h.into())?;
        }
        Ok(Vrrp6Socket { fd, ifindex })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    fn membership(&self, group: Ipv6Addr, opt: libc::c_int) -> io::Result<()> {
        let mreq = libc::ipv6_mreq {
            ipv6mr_multiaddr: in6(group),
            ipv6mr_interface: self.ifindex as _,
        };
        super::setsockopt(&self.fd, libc::IPPROTO_IPV6, opt, &mreq)
    }

    /// Joins `group` (ff02::12 or `vrrp_mcast_group6`) on this interface.
    pub fn join(&self, group: Ipv6Addr) -> io::Result<()> {
        self.membership(group, libc::IPV6_ADD_MEMBERSHIP)
    }

    pub fn leave(&self, group: Ipv6Addr) -> io::Result<()> {
        self.membership(group, libc::IPV6_DROP_MEMBERSHIP)
    }

    /// Sends the VRRP message `payload` to `dst` out of this interface, from
    /// `src` (`None`: the kernel picks; VRRPv3 wants the link-local). The
    /// kernel computes the checksum at offset 6.
    pub fn send(&self, payload: &[u8], dst: Ipv6Addr, src: Option<Ipv6Addr>) -> io::Result<()> {
        let sa = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: in6(dst),
            sin6_scope_id: self.ifindex,
        };
        let pi = libc::in6_pktinfo {
            ipi6_addr: in6(src.unwrap_or(Ipv6Addr::UNSPECIFIED)),
            ipi6_ifindex: self.ifindex as _,
        };
        let mut cmsg = CmsgBuf([0; 128]);
        const PI_LEN: u32 = core::mem::size_of::<libc::in6_pktinfo>() as u32;
        // SAFETY: CMSG_SPACE is pure arithmetic on a constant.
        let space = unsafe { libc::CMSG_SPACE(PI_LEN) } as usize;
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: payload.len(),
        };
        // SAFETY: msghdr is plain data; all-zero is valid before we fill it in.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_name = (&sa as *const libc::sockaddr_in6 as *mut libc::sockaddr_in6).cast();
        msg.msg_namelen = core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.0.as_mut_ptr().cast();
        msg.msg_controllen = space.min(cmsg.0.len()) as _;
        // SAFETY: msg_control points to our 128-byte aligned buffer and
        // msg_controllen (<= 128) covers one in6_pktinfo cmsg, so the first
        // header and its data lie inside the buffer.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            if c.is_null() {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            }
            (*c).cmsg_level = libc::IPPROTO_IPV6;
            (*c).cmsg_type = libc::IPV6_PKTINFO;
            (*c).cmsg_len = libc::CMSG_LEN(PI_LEN) as _;
            core::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>(), pi);
        }
        for _ in 0..4 {
            // SAFETY: every pointer in `msg` refers to live data of the stated
            // size (`sa`, `iov` -> `payload`, `cmsg`), all outliving the call;
            // the kernel only reads them.
            let r = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, 0) };
            match super::cerr(r) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::from(io::ErrorKind::Interrupted))
    }

    /// Receives one VRRP message into `buf`.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Recv6, RecvError> {
        // SAFETY: sockaddr_in6 is plain data; all-zero is valid.
        let mut name: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
        let mut cmsg = CmsgBuf([0; 128]);
        let (len, msg) = recvmsg_raw(&self.fd, buf, &mut name, &mut cmsg)?;
        let mut hop_limit = None;
        let mut pktinfo = None;
        for_each_cmsg(&msg, |level, ty, data| {
            if level != libc::IPPROTO_IPV6 {
                return;
            }
            if ty == libc::IPV6_HOPLIMIT {
                hop_limit = cmsg_value::<libc::c_int>(data).and_then(|h| u8::try_from(h).ok());
            } else if ty == libc::IPV6_PKTINFO {
                pktinfo = cmsg_value::<libc::in6_pktinfo>(data);
            }
        });
        let pi = pktinfo.ok_or(RecvError::Drop(RxDrop::NoPktinfo))?;
        let hop_limit = hop_limit.ok_or(RecvError::Drop(RxDrop::NoHopLimit))?;
        Ok(Recv6 {
            len,
            ifindex: pi.ipi6_ifindex,
            hop_limit,
            src: Ipv6Addr::from(name.sin6_addr.s6_addr),
            dst: Ipv6Addr::from(pi.ipi6_addr.s6_addr),
        })
    }
}

impl AsFd for Vrrp6Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
