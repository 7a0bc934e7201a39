//! `AF_PACKET` sockets: sending prebuilt Ethernet frames (gratuitous ARP,
//! unsolicited neighbour advertisements) on any interface, and the interface
//! MAC address (`SIOCGIFHWADDR`).
//!
//! The send socket is opened with protocol 0, so the kernel never queues
//! received frames on it (no unread queue can grow: keepalived#1973). One
//! socket serves every interface: the ifindex goes with each frame.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Ethernet header length (dst, src, ethertype).
pub const ETH_HEADER_LEN: usize = 14;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// An `AF_PACKET`/`SOCK_RAW` socket.
pub struct PacketSocket {
    fd: OwnedFd,
}

fn sockaddr_ll(ifindex: u32, ethertype_be: u16, dst: &[u8]) -> io::Result<libc::sockaddr_ll> {
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sa: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as libc::c_ushort;
    sa.sll_protocol = ethertype_be;
    sa.sll_ifindex =
        libc::c_int::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let n = dst.len().min(sa.sll_addr.len());
    sa.sll_addr[..n].copy_from_slice(&dst[..n]);
    sa.sll_halen = n as libc::c_uchar;
    Ok(sa)
}

impl PacketSocket {
    /// A send-only socket (receives nothing).
    pub fn open_tx() -> io::Result<PacketSocket> {
        // SAFETY: plain socket(2) call; the result is checked by owned_fd.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        Ok(PacketSocket {
            fd: super::owned_fd(fd)?,
        })
    }

    /// A socket that receives frames of `ethertype` arriving on `ifindex`
    /// (for tests and diagnostics; the daemon does not listen for frames).
    pub fn open_rx(ifindex: u32, ethertype: u16, rcvbuf: usize) -> io::Result<PacketSocket> {
        let proto_be = ethertype.to_be();
        // SAFETY: plain socket(2) call; the result is checked by owned_fd.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::c_int::from(proto_be),
            )
        };
        let fd = super::owned_fd(fd)?;
        let rcv = libc::c_int::try_from(rcvbuf).unwrap_or(libc::c_int::MAX);
        super::setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, rcv)?;
        let sa = sockaddr_ll(ifindex, proto_be, &[])?;
        // SAFETY: `sa` is a valid sockaddr_ll of the given size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        super::cerr(r)?;
        Ok(PacketSocket { fd })
    }

    /// Sends a complete Ethernet frame (header included) out of `ifindex`.
    /// `WouldBlock` when the device queue is full (retry on a later turn).
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        if frame.len() < ETH_HEADER_LEN {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // The frame's ethertype bytes are already in network order.
        let proto_be = u16::from_ne_bytes([frame[12], frame[13]]);
        let sa = sockaddr_ll(ifindex, proto_be, &frame[..6])?;
        for _ in 0..4 {
            // SAFETY: `frame` and `sa` are valid for reads of the given sizes.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&sa as *const libc::sockaddr_ll).cast(),
                    core::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
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

    /// Receives one frame into `buf` (non-blocking). `Ok(None)` when none is
    /// queued; frames larger than `buf` are cut (the length returned is the
    /// copied part).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: `buf` is valid for writes of buf.len() bytes.
        let r = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        match super::cerr(r) {
            Ok(n) => Ok(Some(usize::try_from(n).unwrap_or(0))),
            Err(e) if super::would_block(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The MAC address of interface `ifname` (`SIOCGIFHWADDR`), in the calling
/// thread's network namespace. The netlink link dump
/// ([`crate::wire::netlink::LinkInfo::mac`]) gives the same without a socket.
pub fn interface_mac(ifname: &str) -> io::Result<[u8; 6]> {
    // SAFETY: plain socket(2) call; the result is checked by owned_fd.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let fd = super::owned_fd(fd)?;
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { core::mem::zeroed() };
    ifr.ifr_name = super::ifname_c(ifname)?;
    // SAFETY: `ifr` is a valid ifreq with a NUL-terminated name; the kernel
    // writes the hardware address into its union.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut ifr) };
    super::cerr(r)?;
    // SAFETY: after a successful SIOCGIFHWADDR the union holds ifru_hwaddr.
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}
