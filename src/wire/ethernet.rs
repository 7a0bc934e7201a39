//! Ethernet II headers, for frames the daemon sends on an `AF_PACKET`
//! socket (GARP/NA, see [`crate::wire::garp`]) and for the simulator's pcap
//! dumps of VRRP traffic.

use core::net::IpAddr;

use super::Error;

/// A 48-bit Ethernet address.
pub type MacAddr = [u8; 6];

/// Length of an Ethernet II header.
pub const HEADER_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// The Ethernet multicast address of an IP multicast group (RFC 1112
/// 01:00:5e + low 23 bits; RFC 2464 33:33 + low 32 bits), `None` for a
/// unicast address.
pub fn multicast_mac(group: IpAddr) -> Option<MacAddr> {
    match group {
        IpAddr::V4(a) if a.is_multicast() => {
            let o = a.octets();
            Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        IpAddr::V6(a) if a.is_multicast() => {
            let o = a.octets();
            Some([0x33, 0x33, o[12], o[13], o[14], o[15]])
        }
        _ => None,
    }
}

/// Write an Ethernet II header into `buf`; returns [`HEADER_LEN`].
pub fn emit_header(
    buf: &mut [u8],
    dst: MacAddr,
    src: MacAddr,
    ethertype: u16,
) -> Result<usize, Error> {
    let got = buf.len();
    let header = buf.get_mut(..HEADER_LEN).ok_or(Error::BufferTooSmall {
        needed: HEADER_LEN,
        got,
    })?;
    header[0..6].copy_from_slice(&dst);
    header[6..12].copy_from_slice(&src);
    header[12..14].copy_from_slice(&ethertype.to_be_bytes());
    Ok(HEADER_LEN)
}

/// The header fields of a frame: (dst, src, ethertype), or `None` if the
/// frame is shorter than a header.
pub fn parse_header(frame: &[u8]) -> Option<(MacAddr, MacAddr, u16)> {
    let h = frame.get(..HEADER_LEN)?;
    let dst: MacAddr = h[0..6].try_into().ok()?;
    let src: MacAddr = h[6..12].try_into().ok()?;
    Some((dst, src, u16::from_be_bytes([h[12], h[13]])))
}

#[cfg(test)]
mod test {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn test_multicast_mac() {
        assert_eq!(
            multicast_mac(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18))),
            Some([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12])
        );
        assert_eq!(
            multicast_mac(IpAddr::V4(Ipv4Addr::new(239, 255, 1, 2))),
            Some([0x01, 0x00, 0x5e, 0x7f, 0x01, 0x02])
        );
        assert_eq!(
            multicast_mac(IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12))),
            Some([0x33, 0x33, 0, 0, 0, 0x12])
        );
        assert_eq!(multicast_mac(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))), None);
    }

    #[test]
    fn test_emit_parse() {
        // keepalived-v2-mcast frame 1, Ethernet header.
        let golden = [
            0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
        ];
        let mut buf = [0xa5u8; 16];
        let dst = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
        let src = [0x02, 0, 0, 0, 0, 0x01];
        assert_eq!(emit_header(&mut buf, dst, src, ETHERTYPE_IPV4), Ok(14));
        assert_eq!(&buf[..14], &golden[..]);
        assert_eq!(&buf[14..], &[0xa5, 0xa5]);
        assert_eq!(parse_header(&golden), Some((dst, src, ETHERTYPE_IPV4)));
        assert_eq!(parse_header(&golden[..13]), None);
        assert_eq!(
            emit_header(&mut buf[..13], dst, src, ETHERTYPE_IPV4),
            Err(Error::BufferTooSmall {
                needed: 14,
                got: 13
            })
        );
    }
}
