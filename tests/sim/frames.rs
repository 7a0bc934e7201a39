//! Frames on the simulated segment are real Ethernet frames built and
//! parsed by the wire codec (`keepvip::wire`): Ethernet + IPv4 (TOS 0xc0,
//! TTL 255) + VRRP, Ethernet + IPv6 (traffic class 0xc0, hop limit 255) +
//! VRRPv3, gratuitous ARP and unsolicited NA frames. Frames are padded to
//! the 60-octet Ethernet minimum as a receiving NIC sees them, so the IP
//! parsers must ignore link padding.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepvip::vrrp::DropReason;
use keepvip::wire::vrrp::{self, ChecksumMode};
use keepvip::wire::{self, ethernet, garp, ipv4, ipv6};

use crate::world::in_core;

pub use ethernet::MacAddr;

/// Shortest Ethernet frame without its FCS.
pub const MIN_FRAME: usize = 60;

/// The interface MAC of node `n` (locally administered).
pub fn node_mac(n: usize) -> MacAddr {
    [0x02, 0x00, 0x5e, 0x5e, 0x00, n as u8]
}

fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < MIN_FRAME {
        f.resize(MIN_FRAME, 0);
    }
    f
}

/// The checksum mode a VRRP message is sent / verified with: message only
/// for v2 and for v3 over IPv4 with `checksum_as_v2`, else the pseudo-header.
pub fn checksum_mode(
    version: vrrp::Version,
    as_v2: bool,
    src: IpAddr,
    dst: IpAddr,
) -> ChecksumMode {
    match (version, src) {
        (vrrp::Version::V2, _) => ChecksumMode::MessageOnly,
        (vrrp::Version::V3, IpAddr::V4(_)) if as_v2 => ChecksumMode::MessageOnly,
        _ => ChecksumMode::PseudoHeader { src, dst },
    }
}

/// A multicast advert from `src` (IPv4 ident / IPv6 flow label `id`).
pub fn advert(
    mac: MacAddr,
    src: IpAddr,
    id: u32,
    repr: &vrrp::Repr,
    checksum_as_v2: bool,
) -> Result<Vec<u8>, wire::Error> {
    let group = match src {
        IpAddr::V4(_) => IpAddr::V4(vrrp::MCAST_GROUP_V4),
        IpAddr::V6(_) => IpAddr::V6(vrrp::MCAST_GROUP_V6),
    };
    let dst_mac = in_core(|| ethernet::multicast_mac(group)).expect("multicast group");
    advert_to(
        mac,
        dst_mac,
        src,
        group,
        id,
        vrrp::TTL,
        repr,
        checksum_as_v2,
    )
}

/// An advert from `src` to `dst` (the multicast group, or a unicast peer
/// whose MAC is `dst_mac`), with TTL / hop limit `ttl`.
#[allow(clippy::too_many_arguments)]
pub fn advert_to(
    mac: MacAddr,
    dst_mac: MacAddr,
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    ttl: u8,
    repr: &vrrp::Repr,
    checksum_as_v2: bool,
) -> Result<Vec<u8>, wire::Error> {
    let mut buf = vec![0u8; 1600];
    let ethertype = match src {
        IpAddr::V4(_) => ethernet::ETHERTYPE_IPV4,
        IpAddr::V6(_) => ethernet::ETHERTYPE_IPV6,
    };
    // The wire codec writes into the frame buffer allocated above: inside
    // the core hook (the allocation test counts here).
    let n = in_core(|| -> Result<usize, wire::Error> {
        let h = ethernet::emit_header(&mut buf, dst_mac, mac, ethertype)?;
        let n = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mode = checksum_mode(repr.version, checksum_as_v2, src, dst);
                ipv4::emit_ipv4_vrrp(&mut buf[h..], id as u16, ttl, s, d, repr, mode)?
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                ipv6::emit_ipv6_vrrp(&mut buf[h..], id & 0x000f_ffff, ttl, s, d, repr)?
            }
            _ => return Err(wire::Error::WrongFamily),
        };
        Ok(h + n)
    })?;
    buf.truncate(n);
    Ok(pad(buf))
}

/// A gratuitous ARP (IPv4 VIP) or unsolicited NA (IPv6 VIP, sent from the
/// VIP itself as keepalived does).
pub fn garp(mac: MacAddr, vip: IpAddr) -> Result<Vec<u8>, wire::Error> {
    let mut buf = vec![0u8; 128];
    let n = in_core(|| match vip {
        IpAddr::V4(v) => garp::emit_garp(&mut buf, mac, v),
        IpAddr::V6(v) => garp::emit_unsolicited_na(&mut buf, mac, v, v, false),
    })?;
    buf.truncate(n);
    Ok(pad(buf))
}

/// What a sender announced, recognised by the wire parsers (checkers).
pub fn announced_vip(frame: &[u8]) -> Option<IpAddr> {
    in_core(|| {
        if let Some(g) = garp::parse_garp(frame) {
            return Some(IpAddr::V4(g.vip));
        }
        garp::parse_unsolicited_na(frame).map(|na| IpAddr::V6(na.vip))
    })
}

/// Why a frame never reached the VRRP socket: the NIC or the kernel
/// filters it before the daemon sees it, so the router cannot count it;
/// the simulator counts these per reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filtered {
    /// Destination MAC neither ours, broadcast, nor a joined group.
    DstMac,
    /// Not IPv4, IPv6 or ARP.
    Ethertype,
    /// IP protocol / next header not VRRP (ARP, NA and anything else).
    NotVrrp,
}

impl Filtered {
    pub const ALL: [Filtered; 3] = [Filtered::DstMac, Filtered::Ethertype, Filtered::NotVrrp];
    pub fn name(self) -> &'static str {
        match self {
            Filtered::DstMac => "link_dst_mac",
            Filtered::Ethertype => "link_ethertype",
            Filtered::NotVrrp => "not_vrrp",
        }
    }
}

/// The IP layer of a received frame that passed the link filter.
pub struct IpLayer<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub family: wire::AddressFamily,
    /// The VRRP message (IP payload, without link padding).
    pub payload: &'a [u8],
}

/// The outcome of receiving a frame on node `me` below the VRRP parser.
pub enum Rx<'a> {
    Vrrp(IpLayer<'a>),
    Filtered(Filtered),
    /// The IP layer refused it (the shell counts it with `record_drop`).
    Bad(wire::Error),
}

/// Link filter and IP parse, as the NIC, the kernel and the daemon's raw
/// socket see a frame.
pub fn receive(me: MacAddr, frame: &[u8]) -> Rx<'_> {
    // All of it is wire codec work: inside the core hook.
    in_core(|| receive_inner(me, frame))
}

fn receive_inner(me: MacAddr, frame: &[u8]) -> Rx<'_> {
    let Some((dst, _src, ethertype)) = ethernet::parse_header(frame) else {
        return Rx::Bad(wire::Error::Truncated);
    };
    let groups = [
        ethernet::multicast_mac(IpAddr::V4(vrrp::MCAST_GROUP_V4)),
        ethernet::multicast_mac(IpAddr::V6(vrrp::MCAST_GROUP_V6)),
        Some(garp::ALL_NODES_MAC),
        Some(garp::BROADCAST_MAC),
        Some(me),
    ];
    if !groups.contains(&Some(dst)) {
        return Rx::Filtered(Filtered::DstMac);
    }
    let ip = &frame[ethernet::HEADER_LEN..];
    match ethertype {
        ethernet::ETHERTYPE_IPV4 => match ipv4::Repr::parse(&ipv4::Packet::new_unchecked(ip)) {
            Err(e) => Rx::Bad(e),
            Ok(r) if r.protocol != vrrp::PROTOCOL => Rx::Filtered(Filtered::NotVrrp),
            Ok(r) => Rx::Vrrp(IpLayer {
                src: IpAddr::V4(r.src),
                dst: IpAddr::V4(r.dst),
                ttl: r.ttl,
                family: wire::AddressFamily::Ipv4,
                payload: &ip[r.payload_range()],
            }),
        },
        ethernet::ETHERTYPE_IPV6 => match ipv6::Repr::parse(ip) {
            Err(e) => Rx::Bad(e),
            Ok(r) if r.next_header != vrrp::PROTOCOL => Rx::Filtered(Filtered::NotVrrp),
            Ok(r) => Rx::Vrrp(IpLayer {
                src: IpAddr::V6(r.src),
                dst: IpAddr::V6(r.dst),
                ttl: r.hop_limit,
                family: wire::AddressFamily::Ipv6,
                payload: &ip[r.payload_range()],
            }),
        },
        ethernet::ETHERTYPE_ARP => Rx::Filtered(Filtered::NotVrrp),
        _ => Rx::Filtered(Filtered::Ethertype),
    }
}

/// The router's drop counter for a wire error (keepalived's stats names).
pub fn drop_reason(e: wire::Error) -> DropReason {
    use wire::Error as E;
    match e {
        E::BadChecksum | E::BadIpChecksum => DropReason::Checksum,
        E::BadVersion { .. } | E::BadIpVersion { .. } => DropReason::Version,
        E::BadType { .. } => DropReason::InvalidType,
        E::BadAddrCount { .. } => DropReason::AddrList,
        E::ZeroInterval => DropReason::AdvertInterval,
        E::WrongFamily => DropReason::Family,
        E::BadSpi { .. } | E::BadIcv | E::AhReplay { .. } => DropReason::AuthFailure,
        E::BadAhNextHeader { .. } | E::BadAhLength { .. } => DropReason::PacketLen,
        E::Truncated
        | E::BadLength { .. }
        | E::BadIhl { .. }
        | E::BadTotalLength { .. }
        | E::Fragmented
        | E::BadProtocol { .. }
        | E::BufferTooSmall { .. }
        | E::Unrepresentable
        | E::BadPcapMagic { .. }
        | E::BadPcapRecord { .. } => DropReason::PacketLen,
    }
}

/// Addresses of the simulated nodes.
pub fn node_addr4(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10 + n as u8)
}

/// Link-local: the source of multicast VRRPv3 over IPv6 (keepalived's default).
pub fn node_addr6(n: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10 + n as u16)
}

/// Global: `unicast_src_ip` / `unicast_peer` of unicast VRRPv3 over IPv6.
pub fn node_addr6_global(n: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x10 + n as u16)
}
