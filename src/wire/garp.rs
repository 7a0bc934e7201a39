//! Gratuitous ARP (IPv4 VIPs) and unsolicited Neighbor Advertisement (IPv6
//! VIPs) Ethernet frames, byte-identical to what keepalived 2.2.7 sends
//! (checked against the captures in `shared/golden`).
//!
//! * **GARP** (42 octets): Ethernet dst ff:ff:ff:ff:ff:ff, src = interface
//!   MAC, ARP *request*, sender = (MAC, VIP), target = (ff:ff:ff:ff:ff:ff, VIP).
//! * **Unsolicited NA** (86 octets): Ethernet dst 33:33:00:00:00:01, IPv6
//!   traffic class 0, flow label 0, hop limit 255, src as given (keepalived
//!   2.2.7 uses **the VIP itself**), dst ff02::1, ICMPv6 Neighbor
//!   Advertisement with Override set, Solicited clear, Router set only when
//!   asked (keepalived sets it when the interface forwards IPv6), target =
//!   VIP, Target Link-Layer Address option = MAC.
//!
//! Frames are built with smoltcp's `EthernetRepr`, `ArpRepr`, `Ipv6Repr`,
//! `Icmpv6Repr`/`NdiscRepr` into a caller's buffer; nothing allocates. The
//! `parse_*` functions recognise such frames (for tests and the simulator).

use core::net::{Ipv4Addr, Ipv6Addr};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, IPV6_HEADER_LEN, Icmpv6Packet, Icmpv6Repr, IpProtocol,
    Ipv6Packet, Ipv6Repr, NdiscNeighborFlags, NdiscRepr, RawHardwareAddress,
};

use super::Error;

pub use super::ethernet::MacAddr;

/// The Ethernet broadcast address.
pub const BROADCAST_MAC: MacAddr = [0xff; 6];
/// ff02::1, all nodes.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet multicast address of ff02::1.
pub const ALL_NODES_MAC: MacAddr = [0x33, 0x33, 0, 0, 0, 1];
/// Hop limit of Neighbor Discovery messages (RFC 4861).
pub const NDISC_HOP_LIMIT: u8 = 255;

const ARP_LEN: usize = 28;
/// NA body (24) + Target Link-Layer Address option (8).
const NA_ICMP_LEN: usize = 32;

/// Length of a gratuitous ARP frame (no Ethernet padding, as captured on
/// the sender).
pub const GARP_LEN: usize = ETHERNET_HEADER_LEN + ARP_LEN;
/// Length of an unsolicited Neighbor Advertisement frame.
pub const NA_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + NA_ICMP_LEN;

fn frame_buf(buf: &mut [u8], needed: usize) -> Result<&mut [u8], Error> {
    let got = buf.len();
    buf.get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed, got })
}

/// Write a gratuitous ARP for `vip` from interface `mac` into `buf`;
/// returns [`GARP_LEN`].
pub fn emit_garp(buf: &mut [u8], mac: MacAddr, vip: Ipv4Addr) -> Result<usize, Error> {
    let frame_bytes = frame_buf(buf, GARP_LEN)?;
    let mut frame = EthernetFrame::new_unchecked(frame_bytes);
    EthernetRepr {
        src_addr: EthernetAddress(mac),
        dst_addr: EthernetAddress(BROADCAST_MAC),
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut frame);
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(mac),
        source_protocol_addr: vip,
        target_hardware_addr: EthernetAddress(BROADCAST_MAC),
        target_protocol_addr: vip,
    };
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    Ok(GARP_LEN)
}

/// Write an unsolicited Neighbor Advertisement for `vip` from interface
/// `mac` into `buf`; returns [`NA_LEN`]. `src` is the IPv6 source
/// (keepalived 2.2.7 sends from the VIP itself); `router` sets the Router
/// flag.
pub fn emit_unsolicited_na(
    buf: &mut [u8],
    mac: MacAddr,
    src: Ipv6Addr,
    vip: Ipv6Addr,
    router: bool,
) -> Result<usize, Error> {
    let frame_bytes = frame_buf(buf, NA_LEN)?;
    let (eth_bytes, rest) = frame_bytes.split_at_mut(ETHERNET_HEADER_LEN);
    let (ip_bytes, icmp_bytes) = rest.split_at_mut(IPV6_HEADER_LEN);

    EthernetRepr {
        src_addr: EthernetAddress(mac),
        dst_addr: EthernetAddress(ALL_NODES_MAC),
        ethertype: EthernetProtocol::Ipv6,
    }
    .emit(&mut EthernetFrame::new_unchecked(eth_bytes));

    Ipv6Repr {
        src_addr: src,
        dst_addr: ALL_NODES,
        next_header: IpProtocol::Icmpv6,
        payload_len: NA_ICMP_LEN,
        hop_limit: NDISC_HOP_LIMIT,
    }
    .emit(&mut Ipv6Packet::new_unchecked(ip_bytes));

    let mut flags = NdiscNeighborFlags::OVERRIDE;
    if router {
        flags |= NdiscNeighborFlags::ROUTER;
    }
    let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags,
        target_addr: vip,
        lladdr: Some(RawHardwareAddress::from(EthernetAddress(mac))),
    });
    na.emit(
        &src,
        &ALL_NODES,
        &mut Icmpv6Packet::new_unchecked(icmp_bytes),
        &ChecksumCapabilities::default(),
    );
    Ok(NA_LEN)
}

/// What a gratuitous ARP announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Garp {
    /// Ethernet source (the announcing interface).
    pub mac: MacAddr,
    /// The announced address (sender = target protocol address).
    pub vip: Ipv4Addr,
}

/// Recognise a gratuitous ARP (Ethernet/IPv4 ARP whose sender and target
/// protocol addresses are equal). Other frames give `None`.
pub fn parse_garp(frame: &[u8]) -> Option<Garp> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    let arp = ArpPacket::new_checked(eth.payload()).ok()?;
    match ArpRepr::parse(&arp).ok()? {
        ArpRepr::EthernetIpv4 {
            source_protocol_addr,
            target_protocol_addr,
            ..
        } if source_protocol_addr == target_protocol_addr => Some(Garp {
            mac: eth.src_addr().0,
            vip: source_protocol_addr,
        }),
        _ => None,
    }
}

/// What an unsolicited Neighbor Advertisement announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsolicitedNa {
    /// Ethernet source (the announcing interface).
    pub mac: MacAddr,
    /// IPv6 source.
    pub src: Ipv6Addr,
    /// Target address.
    pub vip: Ipv6Addr,
    /// Router flag.
    pub router: bool,
}

/// Recognise an unsolicited Neighbor Advertisement (ICMPv6 type 136 with a
/// valid checksum and the Solicited flag clear). Other frames give `None`.
pub fn parse_unsolicited_na(frame: &[u8]) -> Option<UnsolicitedNa> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv6 {
        return None;
    }
    let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
    let ip_repr = Ipv6Repr::parse(&ip).ok()?;
    if ip_repr.next_header != IpProtocol::Icmpv6 {
        return None;
    }
    let icmp = Icmpv6Packet::new_checked(ip.payload()).ok()?;
    let repr = Icmpv6Repr::parse(
        &ip_repr.src_addr,
        &ip_repr.dst_addr,
        &icmp,
        &ChecksumCapabilities::default(),
    )
    .ok()?;
    match repr {
        Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags, target_addr, ..
        }) if !flags.contains(NdiscNeighborFlags::SOLICITED) => Some(UnsolicitedNa {
            mac: eth.src_addr().0,
            src: ip_repr.src_addr,
            vip: target_addr,
            router: flags.contains(NdiscNeighborFlags::ROUTER),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const R1_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x01];
    const R2_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x02];
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
    const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

    // keepalived-v2-mcast, frame 2 (r1's GARP).
    static GARP_R1: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00,
        0x02, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x64,
    ];
    // keepalived-v2-mcast, frame 11 (r2's GARP).
    static GARP_R2: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0x00,
        0x02, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x64,
    ];
    // keepalived-v3-mcast-ipv6, frame 2 (r1's NA).
    static NA_R1: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0xf7, 0x2c, 0x20, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    // keepalived-v3-mcast-ipv6, frame 11 (r2's NA).
    static NA_R2: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0xf7, 0x2b, 0x20, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
    ];

    #[test]
    fn test_garp_emit() {
        for (mac, bytes) in [(R1_MAC, &GARP_R1), (R2_MAC, &GARP_R2)] {
            let mut buf = [0xa5u8; 64];
            assert_eq!(emit_garp(&mut buf, mac, VIP), Ok(GARP_LEN));
            assert_eq!(&buf[..GARP_LEN], &bytes[..]);
            assert!(buf[GARP_LEN..].iter().all(|&b| b == 0xa5));
        }
    }

    #[test]
    fn test_garp_parse() {
        assert_eq!(
            parse_garp(&GARP_R1),
            Some(Garp {
                mac: R1_MAC,
                vip: VIP
            })
        );
        // A who-has (keepalived-v3-mcast frame 1) is not gratuitous.
        let who_has: [u8; 42] = [
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
            0xc0, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01,
        ];
        assert_eq!(parse_garp(&who_has), None);
        assert_eq!(parse_garp(&NA_R1), None);
        for len in 0..GARP_LEN {
            assert_eq!(parse_garp(&GARP_R1[..len]), None);
        }
    }

    #[test]
    fn test_na_emit() {
        for (mac, bytes) in [(R1_MAC, &NA_R1), (R2_MAC, &NA_R2)] {
            let mut buf = [0xa5u8; 96];
            assert_eq!(
                emit_unsolicited_na(&mut buf, mac, VIP6, VIP6, false),
                Ok(NA_LEN)
            );
            assert_eq!(&buf[..NA_LEN], &bytes[..]);
            assert!(buf[NA_LEN..].iter().all(|&b| b == 0xa5));
        }
    }

    #[test]
    fn test_na_parse_and_router_flag() {
        assert_eq!(
            parse_unsolicited_na(&NA_R1),
            Some(UnsolicitedNa {
                mac: R1_MAC,
                src: VIP6,
                vip: VIP6,
                router: false
            })
        );
        let ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1);
        let mut buf = [0u8; NA_LEN];
        emit_unsolicited_na(&mut buf, R1_MAC, ll, VIP6, true).unwrap();
        assert_eq!(buf[54 + 4], 0xa0); // Router | Override
        assert_eq!(
            parse_unsolicited_na(&buf),
            Some(UnsolicitedNa {
                mac: R1_MAC,
                src: ll,
                vip: VIP6,
                router: true
            })
        );
        let mut corrupt = NA_R1;
        corrupt[85] ^= 1;
        assert_eq!(parse_unsolicited_na(&corrupt), None);
        assert_eq!(parse_unsolicited_na(&GARP_R1), None);
        for len in 0..NA_LEN {
            assert_eq!(parse_unsolicited_na(&NA_R1[..len]), None);
        }
    }

    #[test]
    fn test_buffer_too_small() {
        let mut buf = [0u8; NA_LEN - 1];
        assert_eq!(
            emit_unsolicited_na(&mut buf, R1_MAC, VIP6, VIP6, false),
            Err(Error::BufferTooSmall {
                needed: NA_LEN,
                got: NA_LEN - 1
            })
        );
        assert_eq!(
            emit_garp(&mut buf[..41], R1_MAC, VIP),
            Err(Error::BufferTooSmall {
                needed: GARP_LEN,
                got: 41
            })
        );
        let mut exact = [0u8; GARP_LEN];
        assert_eq!(emit_garp(&mut exact, R1_MAC, VIP), Ok(GARP_LEN));
        assert_eq!(exact, GARP_R1);
    }
}
