//! The IPv6 header around VRRP, for the simulator and pcap dumps.
//!
//! The daemon does not need it: a raw `IPPROTO_VRRP` IPv6 socket sends and
//! receives the VRRP message only (the kernel builds the header, with
//! keepalived's traffic class 0xc0 set through `IPV6_TCLASS`, and an
//! automatic flow label). Extension headers are not parsed (the next header
//! is reported as is). Built on smoltcp's `Ipv6Packet`.

use core::net::{IpAddr, Ipv6Addr};
use core::ops::Range;

use smoltcp::wire::{IpProtocol, Ipv6Packet};

use super::vrrp::{self, ChecksumMode};
use super::{AddressFamily, Error};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// Traffic class keepalived sets on VRRP adverts (DSCP CS6).
pub const TCLASS_VRRP: u8 = 0xc0;

/// A parsed (or to-be-emitted) IPv6 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub payload_len: usize,
}

impl Repr {
    /// Parse an IPv6 header: [`Error::Truncated`] if the buffer is shorter
    /// than 40 octets or than the header plus Payload Length,
    /// [`Error::BadIpVersion`] if the version is not 6. Octets after the
    /// payload (link padding) are ignored.
    pub fn parse(buf: &[u8]) -> Result<Repr, Error> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let packet = Ipv6Packet::new_unchecked(buf);
        if packet.version() != 6 {
            return Err(Error::BadIpVersion {
                version: packet.version(),
            });
        }
        let payload_len = usize::from(packet.payload_len());
        if buf.len() < HEADER_LEN + payload_len {
            return Err(Error::Truncated);
        }
        Ok(Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            next_header: packet.next_header().into(),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
            payload_len,
        })
    }

    /// Where the payload lies in the parsed buffer.
    pub fn payload_range(&self) -> Range<usize> {
        HEADER_LEN..HEADER_LEN.saturating_add(self.payload_len)
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload_len)
    }

    /// Write the 40-octet header into `buf` ([`Error::BufferTooSmall`] if
    /// shorter, [`Error::Unrepresentable`] if the payload exceeds 65535).
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let payload_len = u16::try_from(self.payload_len).map_err(|_| Error::Unrepresentable)?;
        let got = buf.len();
        let header = buf.get_mut(..HEADER_LEN).ok_or(Error::BufferTooSmall {
            needed: HEADER_LEN,
            got,
        })?;
        let mut packet = Ipv6Packet::new_unchecked(header);
        packet.set_version(6);
        packet.set_traffic_class(self.traffic_class);
        packet.set_flow_label(self.flow_label & 0x000f_ffff);
        packet.set_payload_len(payload_len);
        packet.set_next_header(IpProtocol::from(self.next_header));
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        Ok(())
    }
}

/// Write an IPv6 + VRRPv3 advertisement (traffic class 0xc0, flow label
/// `flow_label`, hop limit `hop_limit`, checksum with the IPv6
/// pseudo-header) into `buf` and return its length. Errors as
/// [`crate::wire::ipv4::emit_ipv4_vrrp`].
pub fn emit_ipv6_vrrp(
    buf: &mut [u8],
    flow_label: u32,
    hop_limit: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    repr: &vrrp::Repr,
) -> Result<usize, Error> {
    repr.check(AddressFamily::Ipv6)?;
    let ip = Repr {
        src,
        dst,
        next_header: vrrp::PROTOCOL,
        hop_limit,
        traffic_class: TCLASS_VRRP,
        flow_label,
        payload_len: repr.buffer_len(),
    };
    let needed = ip.buffer_len();
    let got = buf.len();
    let frame = buf
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed, got })?;
    let (header, payload) = frame.split_at_mut(HEADER_LEN);
    ip.emit(header)?;
    let mode = ChecksumMode::PseudoHeader {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
    };
    repr.emit(&mut vrrp::Packet::new_unchecked(payload), mode);
    Ok(needed)
}

#[cfg(test)]
mod test {
    use super::*;

    // keepalived-v3-mcast-ipv6, frame 1 (IPv6 header + VRRP).
    static V3_IPV6: [u8; 64] = [
        0x6c, 0x0a, 0xd4, 0x9d, 0x00, 0x18, 0x70, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x31, 0x33, 0xc8, 0x01, 0x00,
        0x64, 0xda, 0x8e, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00,
    ];
    const R1_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1);
    const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

    fn ip_repr() -> Repr {
        Repr {
            src: R1_LL,
            dst: vrrp::MCAST_GROUP_V6,
            next_header: 112,
            hop_limit: 255,
            traffic_class: 0xc0,
            flow_label: 0xad49d,
            payload_len: 24,
        }
    }

    fn vrrp_repr() -> vrrp::Repr {
        vrrp::Repr {
            version: vrrp::Version::V3,
            vrid: 51,
            priority: 200,
            max_adver_int_cs: 100,
            addr_count: 1,
            addrs: heapless::Vec::from_slice(&[IpAddr::V6(VIP6)]).unwrap(),
            auth_type: 0,
            auth_data: [0; 8],
        }
    }

    #[test]
    fn test_parse() {
        let ip = Repr::parse(&V3_IPV6).unwrap();
        assert_eq!(ip, ip_repr());
        assert_eq!(&V3_IPV6[ip.payload_range()], &V3_IPV6[40..]);
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 80];
        let n = emit_ipv6_vrrp(
            &mut buf,
            0xad49d,
            255,
            R1_LL,
            vrrp::MCAST_GROUP_V6,
            &vrrp_repr(),
        )
        .unwrap();
        assert_eq!(&buf[..n], &V3_IPV6[..]);
        assert!(buf[n..].iter().all(|&b| b == 0xa5));
    }

    #[test]
    fn test_errors() {
        for len in 0..V3_IPV6.len() {
            assert_eq!(Repr::parse(&V3_IPV6[..len]), Err(Error::Truncated));
        }
        let mut b = V3_IPV6;
        b[0] = 0x4c;
        assert_eq!(Repr::parse(&b), Err(Error::BadIpVersion { version: 4 }));
        let mut small = [0u8; 63];
        assert_eq!(
            emit_ipv6_vrrp(
                &mut small,
                0,
                255,
                R1_LL,
                vrrp::MCAST_GROUP_V6,
                &vrrp_repr()
            ),
            Err(Error::BufferTooSmall {
                needed: 64,
                got: 63
            })
        );
        let mut v2 = vrrp_repr();
        v2.version = vrrp::Version::V2;
        let mut buf = [0u8; 80];
        assert_eq!(
            emit_ipv6_vrrp(&mut buf, 0, 255, R1_LL, vrrp::MCAST_GROUP_V6, &v2),
            Err(Error::WrongFamily)
        );
    }
}
