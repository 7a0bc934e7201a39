//! rtnetlink wire types (`NETLINK_ROUTE`): `nlmsghdr`, `nlmsgerr`,
//! `ifaddrmsg`, `ifinfomsg` and `rtattr`, smoltcp style (a buffer type with
//! field ranges, checked constructors, then a parsed form).
//!
//! Netlink is **host-endian**: every multi-byte field is read with
//! `from_ne_bytes` and written with `to_ne_bytes` (OpenWrt's ath79/ramips
//! are big-endian MIPS). Addresses inside attributes are in network order, as
//! in the kernel's `struct in_addr`.
//!
//! Robustness: each header is checked three ways before use (the buffer holds
//! the header; the length field is at least the header size, so a zero
//! length cannot loop; the length field does not run past the buffer). The
//! iterators over messages and attributes stop for good after the first
//! error. No accessor panics, even on an unchecked buffer.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::ops::Range;

type Field = Range<usize>;

// --- constants (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, linux/if_link.h) ---

pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
/// In an `NLMSG_ERROR` reply: the echoed request was cut to its header.
pub const NLM_F_CAPPED: u16 = 0x100;

/// Multicast groups (numbers for `NETLINK_ADD_MEMBERSHIP`; the legacy bind
/// mask is `1 << (group - 1)`).
pub const RTNLGRP_LINK: u32 = 1;
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;
pub const IFA_BROADCAST: u16 = 4;
pub const IFA_CACHEINFO: u16 = 6;
pub const IFA_FLAGS: u16 = 8;

pub const IFA_F_SECONDARY: u32 = 0x01;
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_TENTATIVE: u32 = 0x40;
pub const IFA_F_PERMANENT: u32 = 0x80;

pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_OPERSTATE: u16 = 16;

pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_MULTICAST: u32 = 0x1000;
pub const IFF_LOWER_UP: u32 = 0x1_0000;

/// `IF_OPER_*` (RFC 2863 operational status, `IFLA_OPERSTATE`).
pub const IF_OPER_UNKNOWN: u8 = 0;
pub const IF_OPER_DOWN: u8 = 2;
pub const IF_OPER_LOWERLAYERDOWN: u8 = 3;
pub const IF_OPER_DORMANT: u8 = 5;
pub const IF_OPER_UP: u8 = 6;

pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_SITE: u8 = 200;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_HOST: u8 = 254;

/// Attribute type bits that are flags, not part of the type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Interface names and labels: at most 15 bytes plus NUL.
pub const IFNAMSIZ: usize = 16;

/// Rounds `len` up to netlink's 4-byte alignment (`NLMSG_ALIGN`/`NLA_ALIGN`),
/// saturating.
pub const fn align4(len: usize) -> usize {
    match len.checked_add(3) {
        Some(l) => l & !3,
        None => usize::MAX & !3,
    }
}

/// Why netlink bytes were rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the fixed header that must be there
    /// (`nlmsghdr`, `rtattr`, `ifaddrmsg`, `ifinfomsg`, `nlmsgerr`).
    HeaderTruncated { needed: usize, available: usize },
    /// The length field is smaller than the header it counts.
    LengthTooSmall { length: usize },
    /// The length field runs past the bytes that remain.
    LengthTooLarge { length: usize, available: usize },
    /// An address attribute whose size does not match the family.
    BadAddressLength { attr: u16, len: usize },
    /// `ifa_family` neither `AF_INET` nor `AF_INET6`.
    BadFamily { family: u8 },
    /// A name/label that is not valid UTF-8 or does not fit `IFNAMSIZ`.
    BadName { attr: u16 },
    /// The output buffer is too small for the message being built.
    BufferTooSmall { needed: usize },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::HeaderTruncated { needed, available } => {
                write!(f, "header truncated ({available} of {needed} bytes)")
            }
            Error::LengthTooSmall { length } => write!(f, "length {length} below its header"),
            Error::LengthTooLarge { length, available } => {
                write!(f, "length {length} past the {available} bytes left")
            }
            Error::BadAddressLength { attr, len } => {
                write!(f, "attribute {attr}: address of {len} bytes")
            }
            Error::BadFamily { family } => write!(f, "address family {family}"),
            Error::BadName { attr } => write!(f, "attribute {attr}: bad name"),
            Error::BufferTooSmall { needed } => write!(f, "buffer too small ({needed} bytes)"),
        }
    }
}

fn get<const N: usize>(b: &[u8], f: Field) -> [u8; N] {
    b.get(f)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}
fn get_u16(b: &[u8], f: Field) -> u16 {
    u16::from_ne_bytes(get(b, f))
}
fn get_u32(b: &[u8], f: Field) -> u32 {
    u32::from_ne_bytes(get(b, f))
}
fn put(b: &mut [u8], f: Field, v: &[u8]) {
    if let Some(s) = b.get_mut(f)
        && s.len() == v.len()
    {
        s.copy_from_slice(v);
    }
}

/// The three-way length check shared by messages and attributes.
fn check_tlv(buf: &[u8], hdr_len: usize, length: usize) -> Result<(), Error> {
    if buf.len() < hdr_len {
        return Err(Error::HeaderTruncated {
            needed: hdr_len,
            available: buf.len(),
        });
    }
    if length < hdr_len {
        return Err(Error::LengthTooSmall { length });
    }
    if length > buf.len() {
        return Err(Error::LengthTooLarge {
            length,
            available: buf.len(),
        });
    }
    Ok(())
}

// ------------------------------------------------------------------ nlmsghdr

mod nlmsg {
    use super::Field;
    pub const LENGTH: Field = 0..4;
    pub const TYPE: Field = 4..6;
    pub const FLAGS: Field = 6..8;
    pub const SEQ: Field = 8..12;
    pub const PORT: Field = 12..16;
}

/// A netlink message (`struct nlmsghdr` + payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NlMsg<T> {
    pub const HEADER_LEN: usize = 16;

    pub const fn new_unchecked(buffer: T) -> Self {
        NlMsg { buffer }
    }

    /// Wraps `buffer` after the three-way length check.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let m = NlMsg { buffer };
        m.check_len()?;
        Ok(m)
    }

    pub fn check_len(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        check_tlv(b, Self::HEADER_LEN, self.length() as usize)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn length(&self) -> u32 {
        get_u32(self.buffer.as_ref(), nlmsg::LENGTH)
    }
    pub fn message_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), nlmsg::TYPE)
    }
    pub fn flags(&self) -> u16 {
        get_u16(self.buffer.as_ref(), nlmsg::FLAGS)
    }
    pub fn seq(&self) -> u32 {
        get_u32(self.buffer.as_ref(), nlmsg::SEQ)
    }
    pub fn port_id(&self) -> u32 {
        get_u32(self.buffer.as_ref(), nlmsg::PORT)
    }
    /// The payload (after the header, up to the length field; empty if the
    /// buffer was not checked and is inconsistent).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(Self::HEADER_LEN..self.length() as usize)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NlMsg<T> {
    pub fn set_length(&mut self, v: u32) {
        put(self.buffer.as_mut(), nlmsg::LENGTH, &v.to_ne_bytes())
    }
    pub fn set_message_type(&mut self, v: u16) {
        put(self.buffer.as_mut(), nlmsg::TYPE, &v.to_ne_bytes())
    }
    pub fn set_flags(&mut self, v: u16) {
        put(self.buffer.as_mut(), nlmsg::FLAGS, &v.to_ne_bytes())
    }
    pub fn set_seq(&mut self, v: u32) {
        put(self.buffer.as_mut(), nlmsg::SEQ, &v.to_ne_bytes())
    }
    pub fn set_port_id(&mut self, v: u32) {
        put(self.buffer.as_mut(), nlmsg::PORT, &v.to_ne_bytes())
    }
}

/// Iterates over the messages of one datagram. Yields an error once and then
/// stops (a bad length leaves no way to find the next message).
#[derive(Debug, Clone)]
pub struct MsgIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> MsgIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        MsgIter { buf, pos: 0 }
    }
}

impl<'a> Iterator for MsgIter<'a> {
    type Item = Result<NlMsg<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let length = get_u32(rest, nlmsg::LENGTH) as usize;
        if let Err(e) = check_tlv(rest, NlMsg::<&[u8]>::HEADER_LEN, length) {
            self.pos = self.buf.len();
            return Some(Err(e));
        }
        self.pos = self.pos.saturating_add(align4(length)).min(self.buf.len());
        Some(Ok(NlMsg::new_unchecked(&rest[..length])))
    }
}

// ------------------------------------------------------------------ rtattr

mod nla {
    use super::Field;
    pub const LENGTH: Field = 0..2;
    pub const TYPE: Field = 2..4;
}

/// A netlink attribute (`struct rtattr` / `struct nlattr` + value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nla<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Nla<T> {
    pub const HEADER_LEN: usize = 4;

    pub const fn new_unchecked(buffer: T) -> Self {
        Nla { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let a = Nla { buffer };
        check_tlv(a.buffer.as_ref(), Self::HEADER_LEN, a.length() as usize)?;
        Ok(a)
    }
    pub fn length(&self) -> u16 {
        get_u16(self.buffer.as_ref(), nla::LENGTH)
    }
    /// The attribute type without the NESTED/NET_BYTEORDER flag bits.
    pub fn kind(&self) -> u16 {
        get_u16(self.buffer.as_ref(), nla::TYPE) & NLA_TYPE_MASK
    }
    pub fn value(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(Self::HEADER_LEN..self.length() as usize)
            .unwrap_or(&[])
    }
}

/// Iterates over a run of attributes with the same rules as [`MsgIter`].
#[derive(Debug, Clone)]
pub struct NlaIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> NlaIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        NlaIter { buf, pos: 0 }
    }
}

impl<'a> Iterator for NlaIter<'a> {
    type Item = Result<Nla<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let length = get_u16(rest, nla::LENGTH) as usize;
        if let Err(e) = check_tlv(rest, Nla::<&[u8]>::HEADER_LEN, length) {
            self.pos = self.buf.len();
            return Some(Err(e));
        }
        self.pos = self.pos.saturating_add(align4(length)).min(self.buf.len());
        Some(Ok(Nla::new_unchecked(&rest[..length])))
    }
}

// ------------------------------------------------------------------ ifaddrmsg

mod ifaddr {
    use super::Field;
    pub const FAMILY: usize = 0;
    pub const PREFIXLEN: usize = 1;
    pub const FLAGS: usize = 2;
    pub const SCOPE: usize = 3;
    pub const INDEX: Field = 4..8;
}

/// `struct ifaddrmsg` followed by attributes (the payload of RTM_*ADDR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddrMsg<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IfAddrMsg<T> {
    pub const HEADER_LEN: usize = 8;

    pub const fn new_unchecked(buffer: T) -> Self {
        IfAddrMsg { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let len = buffer.as_ref().len();
        if len < Self::HEADER_LEN {
            return Err(Error::HeaderTruncated {
                needed: Self::HEADER_LEN,
                available: len,
            });
        }
        Ok(IfAddrMsg { buffer })
    }
    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }
    pub fn family(&self) -> u8 {
        self.byte(ifaddr::FAMILY)
    }
    pub fn prefix_len(&self) -> u8 {
        self.byte(ifaddr::PREFIXLEN)
    }
    /// The legacy 8-bit flags (`IFA_FLAGS` carries all 32).
    pub fn flags(&self) -> u8 {
        self.byte(ifaddr::FLAGS)
    }
    pub fn scope(&self) -> u8 {
        self.byte(ifaddr::SCOPE)
    }
    pub fn ifindex(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ifaddr::INDEX)
    }
    pub fn attrs(&self) -> NlaIter<'_> {
        NlaIter::new(self.buffer.as_ref().get(Self::HEADER_LEN..).unwrap_or(&[]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IfAddrMsg<T> {
    pub fn set_family(&mut self, v: u8) {
        put(self.buffer.as_mut(), 0..1, &[v])
    }
    pub fn set_prefix_len(&mut self, v: u8) {
        put(self.buffer.as_mut(), 1..2, &[v])
    }
    pub fn set_flags(&mut self, v: u8) {
        put(self.buffer.as_mut(), 2..3, &[v])
    }
    pub fn set_scope(&mut self, v: u8) {
        put(self.buffer.as_mut(), 3..4, &[v])
    }
    pub fn set_ifindex(&mut self, v: u32) {
        put(self.buffer.as_mut(), ifaddr::INDEX, &v.to_ne_bytes())
    }
}

// ------------------------------------------------------------------ ifinfomsg

mod ifinfo {
    use super::Field;
    pub const FAMILY: usize = 0;
    pub const TYPE: Field = 2..4;
    pub const INDEX: Field = 4..8;
    pub const FLAGS: Field = 8..12;
    pub const CHANGE: Field = 12..16;
}

/// `struct ifinfomsg` followed by attributes (the payload of RTM_*LINK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfInfoMsg<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IfInfoMsg<T> {
    pub const HEADER_LEN: usize = 16;

    pub const fn new_unchecked(buffer: T) -> Self {
        IfInfoMsg { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let len = buffer.as_ref().len();
        if len < Self::HEADER_LEN {
            return Err(Error::HeaderTruncated {
                needed: Self::HEADER_LEN,
                available: len,
            });
        }
        Ok(IfInfoMsg { buffer })
    }
    pub fn family(&self) -> u8 {
        self.buffer
            .as_ref()
            .get(ifinfo::FAMILY)
            .copied()
            .unwrap_or(0)
    }
    /// `ARPHRD_*` device type.
    pub fn link_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), ifinfo::TYPE)
    }
    pub fn ifindex(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ifinfo::INDEX)
    }
    pub fn flags(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ifinfo::FLAGS)
    }
    pub fn change(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ifinfo::CHANGE)
    }
    pub fn attrs(&self) -> NlaIter<'_> {
        NlaIter::new(self.buffer.as_ref().get(Self::HEADER_LEN..).unwrap_or(&[]))
    }
}

// ------------------------------------------------------------------ parsed forms

/// Reply to a request: `NLMSG_ERROR` with error 0 is an ACK.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Sequence number of the request this answers.
    pub seq: u32,
    /// Positive errno (`EEXIST`, `EADDRNOTAVAIL`, ...), 0 for success.
    pub errno: i32,
    /// Type of the request (`RTM_NEWADDR`, ...), from the echoed header.
    pub request_type: u16,
}

/// An interface as described by RTM_NEWLINK / RTM_DELLINK.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo<'a> {
    pub ifindex: u32,
    /// `IFF_*` flags (`IFF_UP`, `IFF_RUNNING`, `IFF_LOWER_UP`, ...).
    pub flags: u32,
    /// `IFLA_IFNAME` (empty if absent).
    pub name: &'a str,
    /// `IFLA_OPERSTATE` (`IF_OPER_*`).
    pub operstate: Option<u8>,
    /// `IFLA_ADDRESS`: the hardware address, any length (empty if absent).
    pub hwaddr: &'a [u8],
    pub mtu: Option<u32>,
}

impl LinkInfo<'_> {
    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }
    pub fn is_running(&self) -> bool {
        self.flags & IFF_RUNNING != 0
    }
    /// The Ethernet MAC, when the hardware address has 6 bytes.
    pub fn mac(&self) -> Option<[u8; 6]> {
        <[u8; 6]>::try_from(self.hwaddr).ok()
    }
}

/// An address as described by RTM_NEWADDR / RTM_DELADDR.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo<'a> {
    pub ifindex: u32,
    pub family: u8,
    pub prefix_len: u8,
    /// All flags: `IFA_FLAGS` when present, else the 8-bit header field.
    pub flags: u32,
    pub scope: u8,
    /// The interface's own address: `IFA_LOCAL` when present (IPv4), else
    /// `IFA_ADDRESS` (IPv6 only sends that).
    pub address: Option<IpAddr>,
    /// `IFA_ADDRESS` (the peer on point-to-point links).
    pub peer: Option<IpAddr>,
    pub broadcast: Option<Ipv4Addr>,
    /// `IFA_LABEL` (IPv4 only).
    pub label: Option<&'a str>,
}

/// One parsed netlink message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Noop,
    /// `NLMSG_ERROR`: an ACK (errno 0) or a failure.
    Ack(Ack),
    /// `NLMSG_DONE`: the end of a dump (errno from the dump, usually 0).
    Done {
        seq: u32,
        errno: i32,
    },
    Overrun,
    NewLink(LinkInfo<'a>),
    DelLink(LinkInfo<'a>),
    NewAddr(AddrInfo<'a>),
    DelAddr(AddrInfo<'a>),
    /// Any other message type (kept so callers can count it).
    Other {
        message_type: u16,
    },
}

fn parse_name(attr: u16, v: &[u8]) -> Result<&str, Error> {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    if end >= IFNAMSIZ {
        return Err(Error::BadName { attr });
    }
    core::str::from_utf8(&v[..end]).map_err(|_| Error::BadName { attr })
}

fn parse_ip(family: u8, attr: u16, v: &[u8]) -> Result<IpAddr, Error> {
    match (family, v.len()) {
        (AF_INET, 4) => Ok(IpAddr::V4(Ipv4Addr::from(get::<4>(v, 0..4)))),
        (AF_INET6, 16) => Ok(IpAddr::V6(Ipv6Addr::from(get::<16>(v, 0..16)))),
        _ => Err(Error::BadAddressLength { attr, len: v.len() }),
    }
}

/// Negative errno in the first 4 bytes of NLMSG_ERROR / NLMSG_DONE.
fn neg_errno(payload: &[u8]) -> i32 {
    i32::from_ne_bytes(get(payload, 0..4)).saturating_neg()
}

impl<'a> LinkInfo<'a> {
    pub fn parse(payload: &'a [u8]) -> Result<LinkInfo<'a>, Error> {
        let m = IfInfoMsg::new_checked(payload)?;
        let mut out = LinkInfo {
            ifindex: m.ifindex(),
            flags: m.flags(),
            name: "",
            operstate: None,
            hwaddr: &[],
            mtu: None,
        };
        let attrs = NlaIter::new(&payload[IfInfoMsg::<&[u8]>::HEADER_LEN..]);
        for a in attrs {
            let a = a?;
            let v: &'a [u8] = a.into_value();
            match a.kind() {
                IFLA_IFNAME => out.name = parse_name(IFLA_IFNAME, v)?,
                IFLA_OPERSTATE => out.operstate = v.first().copied(),
                IFLA_ADDRESS => out.hwaddr = v,
                IFLA_MTU if v.len() == 4 => out.mtu = Some(get_u32(v, 0..4)),
                _ => {}
            }
        }
        Ok(out)
    }
}

impl<'a> Nla<&'a [u8]> {
    /// The value, borrowed for the buffer's whole lifetime.
    pub fn into_value(self) -> &'a [u8] {
        self.buffer
            .get(Self::HEADER_LEN..self.length() as usize)
            .unwrap_or(&[])
    }
}

impl<'a> AddrInfo<'a> {
    pub fn parse(payload: &'a [u8]) -> Result<AddrInfo<'a>, Error> {
        let m = IfAddrMsg::new_checked(payload)?;
        let family = m.family();
        if family != AF_INET && family != AF_INET6 {
            return Err(Error::BadFamily { family });
        }
        let mut out = AddrInfo {
            ifindex: m.ifindex(),
            family,
            prefix_len: m.prefix_len(),
            flags: u32::from(m.flags()),
            scope: m.scope(),
            address: None,
            peer: None,
            broadcast: None,
            label: None,
        };
        let mut local = None;
        for a in NlaIter::new(&payload[IfAddrMsg::<&[u8]>::HEADER_LEN..]) {
            let a = a?;
            let kind = a.kind();
            let v: &'a [u8] = a.into_value();
            match kind {
                IFA_LOCAL => local = Some(parse_ip(family, kind, v)?),
                IFA_ADDRESS => out.peer = Some(parse_ip(family, kind, v)?),
                IFA_BROADCAST => match parse_ip(AF_INET, kind, v)? {
                    IpAddr::V4(b) => out.broadcast = Some(b),
                    IpAddr::V6(_) => {}
                },
                IFA_LABEL => out.label = Some(parse_name(kind, v)?),
                IFA_FLAGS if v.len() == 4 => out.flags = get_u32(v, 0..4),
                _ => {}
            }
        }
        out.address = local.or(out.peer);
        Ok(out)
    }
}

impl<'a> Message<'a> {
    /// Parses one message (from [`MsgIter`]).
    pub fn parse(msg: &NlMsg<&'a [u8]>) -> Result<Message<'a>, Error> {
        msg.check_len()?;
        let buf: &'a [u8] = msg.buffer;
        let payload: &'a [u8] = buf
            .get(NlMsg::<&[u8]>::HEADER_LEN..msg.length() as usize)
            .unwrap_or(&[]);
        Ok(match msg.message_type() {
            NLMSG_NOOP => Message::Noop,
            NLMSG_ERROR => {
                if payload.len() < 4 {
                    return Err(Error::HeaderTruncated {
                        needed: 4,
                        available: payload.len(),
                    });
                }
                // The echoed request header, when present, names the request
                // (its length field counts the original request, which
                // NLM_F_CAPPED replies do not carry: only the header is used).
                let request_type = payload
                    .get(4..4 + NlMsg::<&[u8]>::HEADER_LEN)
                    .map_or(0, |h| get_u16(h, nlmsg::TYPE));
                Message::Ack(Ack {
                    seq: msg.seq(),
                    errno: neg_errno(payload),
                    request_type,
                })
            }
            NLMSG_DONE => Message::Done {
                seq: msg.seq(),
                errno: neg_errno(payload),
            },
            NLMSG_OVERRUN => Message::Overrun,
            RTM_NEWLINK => Message::NewLink(LinkInfo::parse(payload)?),
            RTM_DELLINK => Message::DelLink(LinkInfo::parse(payload)?),
            RTM_NEWADDR => Message::NewAddr(AddrInfo::parse(payload)?),
            RTM_DELADDR => Message::DelAddr(AddrInfo::parse(payload)?),
            t => Message::Other { message_type: t },
        })
    }
}

// ------------------------------------------------------------------ builders

/// Adding or removing an address.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AddrOp {
    Add,
    Del,
}

/// What RTM_NEWADDR / RTM_DELADDR carries for one VIP.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AddrRequest<'a> {
    pub ifindex: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
    /// `IFA_BROADCAST` (IPv4 only; ignored for IPv6).
    pub broadcast: Option<Ipv4Addr>,
    /// `RT_SCOPE_*`.
    pub scope: u8,
    /// `IFA_F_*`. Values above 0xff go into an `IFA_FLAGS` attribute.
    pub flags: u32,
    /// `IFA_LABEL` (IPv4 only; at most 15 bytes; ignored for IPv6 and on delete).
    pub label: Option<&'a str>,
}

impl<'a> AddrRequest<'a> {
    /// A VIP as keepalived installs it: scope global, no broadcast, no
    /// label, and `IFA_F_NODAD` for IPv6 (the VIP must work at once, and the
    /// peer that held it a moment ago would fail DAD).
    pub fn vip(ifindex: u32, address: IpAddr, prefix_len: u8) -> Self {
        AddrRequest {
            ifindex,
            address,
            prefix_len,
            broadcast: None,
            scope: RT_SCOPE_UNIVERSE,
            flags: if address.is_ipv6() { IFA_F_NODAD } else { 0 },
            label: None,
        }
    }
}

/// A small cursor that appends header-aligned pieces to a buffer.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn reserve(&mut self, n: usize) -> Result<&mut [u8], Error> {
        let start = self.len;
        let end = start
            .checked_add(align4(n))
            .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
        let buf_len = self.buf.len();
        let s = self.buf.get_mut(start..end).ok_or(Error::BufferTooSmall {
            needed: end.max(buf_len),
        })?;
        s.fill(0);
        self.len = end;
        Ok(&mut s[..n])
    }
    fn attr(&mut self, kind: u16, value: &[u8]) -> Result<(), Error> {
        let n = Nla::<&[u8]>::HEADER_LEN + value.len();
        let len16 = u16::try_from(n).map_err(|_| Error::BufferTooSmall { needed: n })?;
        let s = self.reserve(n)?;
        s[0..2].copy_from_slice(&len16.to_ne_bytes());
        s[2..4].copy_from_slice(&kind.to_ne_bytes());
        s[4..].copy_from_slice(value);
        Ok(())
    }
    fn finish(self, msg_type: u16, flags: u16, seq: u32) -> Result<usize, Error> {
        let len =
            u32::try_from(self.len).map_err(|_| Error::BufferTooSmall { needed: self.len })?;
        let mut m = NlMsg::new_unchecked(&mut self.buf[..]);
        m.set_length(len);
        m.set_message_type(msg_type);
        m.set_flags(flags);
        m.set_seq(seq);
        m.set_port_id(0);
        Ok(self.len)
    }
}

fn start_msg(buf: &mut [u8]) -> Result<Writer<'_>, Error> {
    let mut w = Writer { buf, len: 0 };
    w.reserve(NlMsg::<&[u8]>::HEADER_LEN)?;
    Ok(w)
}

fn ip_bytes(a: &IpAddr, out: &mut [u8; 16]) -> usize {
    match a {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            out.copy_from_slice(&v6.octets());
            16
        }
    }
}

/// Builds RTM_NEWADDR (`NLM_F_CREATE|NLM_F_EXCL`, so an address that is
/// already there answers `EEXIST`) or RTM_DELADDR, both with `NLM_F_ACK`.
/// Attribute order follows iproute2: LOCAL, BROADCAST, LABEL, ADDRESS.
/// Returns the message length.
pub fn emit_addr_request(
    buf: &mut [u8],
    op: AddrOp,
    seq: u32,
    req: &AddrRequest<'_>,
) -> Result<usize, Error> {
    let mut w = start_msg(buf)?;
    let v4 = req.address.is_ipv4();
    {
        let h = w.reserve(IfAddrMsg::<&[u8]>::HEADER_LEN)?;
        let mut m = IfAddrMsg::new_unchecked(h);
        m.set_family(if v4 { AF_INET } else { AF_INET6 });
        m.set_prefix_len(req.prefix_len);
        m.set_flags((req.flags & 0xff) as u8);
        m.set_scope(req.scope);
        m.set_ifindex(req.ifindex);
    }
    let mut a = [0u8; 16];
    let n = ip_bytes(&req.address, &mut a);
    w.attr(IFA_LOCAL, &a[..n])?;
    if op == AddrOp::Add && v4 {
        if let Some(b) = req.broadcast {
            w.attr(IFA_BROADCAST, &b.octets())?;
        }
        if let Some(l) = req.label {
            if l.is_empty() || l.len() >= IFNAMSIZ || l.as_bytes().contains(&0) {
                return Err(Error::BadName { attr: IFA_LABEL });
            }
            let mut c = [0u8; IFNAMSIZ];
            c[..l.len()].copy_from_slice(l.as_bytes());
            w.attr(IFA_LABEL, &c[..=l.len()])?;
        }
    }
    w.attr(IFA_ADDRESS, &a[..n])?;
    if op == AddrOp::Add && req.flags > 0xff {
        w.attr(IFA_FLAGS, &req.flags.to_ne_bytes())?;
    }
    let (t, f) = match op {
        AddrOp::Add => (
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ),
        AddrOp::Del => (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
    };
    w.finish(t, f, seq)
}

/// What to dump.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DumpKind {
    Links,
    /// Addresses of one family (`AF_UNSPEC` for all).
    Addrs {
        family: u8,
    },
}

/// Builds an RTM_GETLINK or RTM_GETADDR dump request. Returns its length.
pub fn emit_dump_request(buf: &mut [u8], kind: DumpKind, seq: u32) -> Result<usize, Error> {
    let mut w = start_msg(buf)?;
    let t = match kind {
        DumpKind::Links => {
            w.reserve(IfInfoMsg::<&[u8]>::HEADER_LEN)?;
            RTM_GETLINK
        }
        DumpKind::Addrs { family } => {
            let h = w.reserve(IfAddrMsg::<&[u8]>::HEADER_LEN)?;
            h[0] = family;
            RTM_GETADDR
        }
    };
    w.finish(t, NLM_F_REQUEST | NLM_F_DUMP, seq)
}

#[cfg(test)]
mod tests;
