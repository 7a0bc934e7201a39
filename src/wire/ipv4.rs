//! The IPv4 header around VRRP: built in full for the daemon's `IP_HDRINCL`
//! raw socket (as keepalived does: TOS 0xc0, no fragment flags, TTL 255,
//! protocol 112), and parsed on receive (a raw IPv4 socket hands the IP
//! header up with the payload).
//!
//! Options are accepted on receive (IHL > 5) and never emitted. Checksums use
//! smoltcp's RFC 1071 helpers. The panic contract of [`crate::wire`] applies.

use core::net::{IpAddr, Ipv4Addr};
use core::ops::Range;

use super::vrrp::{self, ChecksumMode};
use super::{AddressFamily, Error, checksum};

/// Length of an IPv4 header without options (IHL 5).
pub const HEADER_LEN: usize = 20;
/// Type of Service keepalived writes on VRRP adverts (DSCP CS6).
pub const TOS_VRRP: u8 = 0xc0;
/// IP protocol number of IPsec AH (VRRPv2 `auth_type AH`).
pub const PROTOCOL_AH: u8 = 51;

mod field {
    use crate::wire::field::Field;

    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// The MF flag and the fragment offset bits of the flags/offset field.
const MF_AND_OFFSET: u16 = 0x3fff;

/// A read/write wrapper around an IPv4 datagram buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking anything.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer and call [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Ensure the fixed header, the header with its options (IHL) and the
    /// datagram (Total Length) fit in the buffer, so that no accessor
    /// panics. Errors: [`Error::Truncated`] (buffer shorter than 20 octets,
    /// than IHL, or than Total Length), [`Error::BadIhl`] (IHL < 5),
    /// [`Error::BadTotalLength`] (Total Length < IHL).
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.ihl() < 5 {
            return Err(Error::BadIhl { ihl: self.ihl() });
        }
        if len < self.header_len() {
            return Err(Error::Truncated);
        }
        let total_len = self.total_len();
        if usize::from(total_len) < self.header_len() {
            return Err(Error::BadTotalLength { total_len });
        }
        if len < usize::from(total_len) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Consume the packet, returning the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Internet Header Length in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] & 0x0f
    }

    /// Header length in octets (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    pub fn total_len(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::LENGTH])
    }

    pub fn ident(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::IDENT])
    }

    /// Flags (3 bits) and fragment offset (13 bits) as one word.
    pub fn flags_frag_offset(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::FLG_OFF])
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        read_addr(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        read_addr(&self.buffer.as_ref()[field::DST_ADDR])
    }

    /// Whether the header checksum verifies (over `header_len()` octets;
    /// `false` if the buffer is shorter).
    pub fn verify_checksum(&self) -> bool {
        match self.buffer.as_ref().get(..self.header_len()) {
            Some(header) => checksum::data(header) == 0xffff,
            None => false,
        }
    }

    /// The payload (from the end of the header to Total Length), or an empty
    /// slice if the lengths are inconsistent.
    pub fn payload(&self) -> &[u8] {
        let range = self.header_len()..usize::from(self.total_len());
        self.buffer.as_ref().get(range).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version_ihl(&mut self, version: u8, ihl: u8) {
        self.buffer.as_mut()[field::VER_IHL] = (version << 4) | (ihl & 0x0f);
    }

    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    pub fn set_total_len(&mut self, total_len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&total_len.to_be_bytes());
    }

    pub fn set_ident(&mut self, ident: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&ident.to_be_bytes());
    }

    pub fn set_flags_frag_offset(&mut self, value: u16) {
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    pub fn set_protocol(&mut self, protocol: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol;
    }

    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }

    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Compute and write the header checksum over `header_len()` octets
    /// (writes zero if the buffer is shorter than the header).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = match self.buffer.as_ref().get(..self.header_len()) {
            Some(header) => !checksum::data(header),
            None => 0,
        };
        self.set_checksum(sum);
    }

    /// The payload, mutable (see [`Packet::payload`]).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        self.buffer.as_mut().get_mut(range).unwrap_or(&mut [])
    }
}

fn read_u16(bytes: &[u8]) -> u16 {
    match bytes {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    }
}

fn read_addr(bytes: &[u8]) -> Ipv4Addr {
    match bytes {
        [a, b, c, d, ..] => Ipv4Addr::new(*a, *b, *c, *d),
        _ => Ipv4Addr::UNSPECIFIED,
    }
}

/// A parsed (or to-be-emitted) IPv4 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    /// Header length in octets (20 plus options).
    pub header_len: usize,
    /// Payload length in octets (Total Length minus the header).
    pub payload_len: usize,
}

impl Repr {
    /// Parse and validate an IPv4 header: [`Packet::check_len`], version 4
    /// ([`Error::BadIpVersion`]), header checksum ([`Error::BadIpChecksum`]),
    /// not a fragment ([`Error::Fragmented`]). Octets after Total Length
    /// (link-layer padding) are ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, Error> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if packet.version() != 4 {
            return Err(Error::BadIpVersion {
                version: packet.version(),
            });
        }
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::BadIpChecksum);
        }
        if packet.flags_frag_offset() & MF_AND_OFFSET != 0 {
            return Err(Error::Fragmented);
        }
        let header_len = packet.header_len();
        Ok(Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            tos: packet.tos(),
            ident: packet.ident(),
            header_len,
            payload_len: usize::from(packet.total_len()).saturating_sub(header_len),
        })
    }

    /// Where the payload lies in the parsed buffer.
    pub fn payload_range(&self) -> Range<usize> {
        self.header_len..self.header_len.saturating_add(self.payload_len)
    }

    /// Length of the emitted header and payload. The header is always
    /// emitted without options (20 octets), whatever `header_len` says.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.payload_len)
    }

    /// Emit a 20-octet header (no options, no fragment flags, checksum
    /// filled) into a buffer of at least `HEADER_LEN` octets. Total Length
    /// is `20 + payload_len`, saturating at 65535 (use
    /// [`emit_ipv4_vrrp`], which refuses what does not fit).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        let total_len = u16::try_from(self.buffer_len()).unwrap_or(u16::MAX);
        packet.set_version_ihl(4, 5);
        packet.set_tos(self.tos);
        packet.set_total_len(total_len);
        packet.set_ident(self.ident);
        packet.set_flags_frag_offset(0);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        packet.fill_checksum();
    }
}

/// Write an IPv4 + VRRP advertisement (as keepalived sends it: TOS 0xc0,
/// identification `ident`, no fragment flags, TTL `ttl`, protocol 112) into
/// `buf` and return its length.
///
/// Errors: [`Error::BufferTooSmall`]; [`Error::WrongFamily`] if `repr`
/// carries IPv6 addresses or `mode` an IPv6 pseudo-header; the other
/// [`vrrp::Repr::check`] errors if `repr` cannot be written faithfully.
pub fn emit_ipv4_vrrp(
    buf: &mut [u8],
    ident: u16,
    ttl: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    repr: &vrrp::Repr,
    mode: ChecksumMode,
) -> Result<usize, Error> {
    repr.check(AddressFamily::Ipv4)?;
    if let ChecksumMode::PseudoHeader {
        src: IpAddr::V6(_), ..
    }
    | ChecksumMode::PseudoHeader {
        dst: IpAddr::V6(_), ..
    } = mode
    {
        return Err(Error::WrongFamily);
    }
    let ip = Repr {
        src,
        dst,
        protocol: vrrp::PROTOCOL,
        ttl,
        tos: TOS_VRRP,
        ident,
        header_len: HEADER_LEN,
        payload_len: repr.buffer_len(),
    };
    let needed = ip.buffer_len();
    let got = buf.len();
    let frame = buf
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed, got })?;
    let (header, payload) = frame.split_at_mut(HEADER_LEN);
    ip.emit(&mut Packet::new_unchecked(header));
    repr.emit(&mut vrrp::Packet::new_unchecked(payload), mode);
    Ok(needed)
}

/// Parse what a raw IPv4 `IPPROTO_VRRP` socket returns (IP header and VRRP
/// message): [`Repr::parse`], protocol 112 ([`Error::BadProtocol`]), then
/// [`vrrp::Repr::parse_detect_checksum`] with the header's addresses. The
/// returned mode says which checksum form the sender used; compare it with
/// the instance's configuration (keepalived default: pseudo-header;
/// `v3_checksum_as_v2`: message only). TTL checks are left to the caller
/// (RFC 5798 requires 255 for multicast only).
pub fn parse_ipv4_vrrp(buf: &[u8]) -> Result<(Repr, vrrp::Repr, ChecksumMode), Error> {
    let ip = Repr::parse(&Packet::new_unchecked(buf))?;
    if ip.protocol != vrrp::PROTOCOL {
        return Err(Error::BadProtocol {
            protocol: ip.protocol,
        });
    }
    let payload = buf.get(ip.payload_range()).ok_or(Error::Truncated)?;
    let (repr, mode) = vrrp::Repr::parse_detect_checksum(
        &vrrp::Packet::new_unchecked(payload),
        IpAddr::V4(ip.src),
        IpAddr::V4(ip.dst),
    )?;
    Ok((ip, repr, mode))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::vrrp::Version;

    // keepalived-v2-mcast-authpass, frame 1 (IPv4 header + VRRP).
    static V2_PASS_IP: [u8; 40] = [
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x91, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x21, 0x33, 0xc8, 0x01, 0x01, 0x01, 0xe5, 0xe6, 0xc0, 0x00,
        0x02, 0x64, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    // keepalived-v2-ucast-authpass, frame 11 (priority 0, ident 4).
    static V2_UCAST_PRIO0_IP: [u8; 40] = [
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x04, 0x00, 0x00, 0xff, 0x70, 0x36, 0x9e, 0xc0, 0x00, 0x02,
        0x01, 0xc0, 0x00, 0x02, 0x02, 0x21, 0x33, 0x00, 0x01, 0x01, 0x01, 0xad, 0xe7, 0xc0, 0x00,
        0x02, 0x64, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    // keepalived-v3-mcast-adv0.1, frame 29 (priority 0, ident 0x18).
    static V3_ADV01_PRIO0_IP: [u8; 32] = [
        0x45, 0xc0, 0x00, 0x20, 0x00, 0x18, 0x00, 0x00, 0xff, 0x70, 0x18, 0x82, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x31, 0x33, 0x00, 0x01, 0x00, 0x0a, 0x69, 0xcc, 0xc0, 0x00,
        0x02, 0x64,
    ];
    // keepalived-v3-ucast, frame 1.
    static V3_UCAST_IP: [u8; 32] = [
        0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x36, 0xa9, 0xc0, 0x00, 0x02,
        0x01, 0xc0, 0x00, 0x02, 0x02, 0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0xbf, 0x81, 0xc0, 0x00,
        0x02, 0x64,
    ];

    const R1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const R2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

    fn vrrp_repr(version: Version, priority: u8, cs: u16, auth_type: u8) -> vrrp::Repr {
        vrrp::Repr {
            version,
            vrid: 51,
            priority,
            max_adver_int_cs: cs,
            addr_count: 1,
            addrs: heapless::Vec::from_slice(&[VIP]).unwrap(),
            auth_type,
            auth_data: if auth_type == 1 { *b"secret12" } else { [0; 8] },
        }
    }

    fn ip_repr(dst: Ipv4Addr, ident: u16, payload_len: usize) -> Repr {
        Repr {
            src: R1,
            dst,
            protocol: 112,
            ttl: 255,
            tos: 0xc0,
            ident,
            header_len: 20,
            payload_len,
        }
    }

    /// (bytes, ip repr, vrrp repr, checksum mode)
    fn golden() -> [(&'static [u8], Repr, vrrp::Repr, ChecksumMode); 4] {
        let mc = vrrp::MCAST_GROUP_V4;
        [
            (
                &V2_PASS_IP[..],
                ip_repr(mc, 1, 20),
                vrrp_repr(Version::V2, 200, 100, 1),
                ChecksumMode::MessageOnly,
            ),
            (
                &V2_UCAST_PRIO0_IP[..],
                ip_repr(R2, 4, 20),
                vrrp_repr(Version::V2, 0, 100, 1),
                ChecksumMode::MessageOnly,
            ),
            (
                &V3_ADV01_PRIO0_IP[..],
                ip_repr(mc, 0x18, 12),
                vrrp_repr(Version::V3, 0, 10, 0),
                ChecksumMode::PseudoHeader {
                    src: IpAddr::V4(R1),
                    dst: IpAddr::V4(mc),
                },
            ),
            (
                &V3_UCAST_IP[..],
                ip_repr(R2, 1, 12),
                vrrp_repr(Version::V3, 200, 100, 0),
                ChecksumMode::PseudoHeader {
                    src: IpAddr::V4(R1),
                    dst: IpAddr::V4(R2),
                },
            ),
        ]
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&V2_PASS_IP[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.ihl(), 5);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.tos(), 0xc0);
        assert_eq!(p.total_len(), 40);
        assert_eq!(p.ident(), 1);
        assert_eq!(p.flags_frag_offset(), 0);
        assert_eq!(p.ttl(), 255);
        assert_eq!(p.protocol(), 112);
        assert_eq!(p.checksum(), 0x1891);
        assert_eq!(p.src_addr(), R1);
        assert_eq!(p.dst_addr(), vrrp::MCAST_GROUP_V4);
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &V2_PASS_IP[20..]);
    }

    #[test]
    fn test_construct() {
        let mut bytes = [0xa5u8; 40];
        bytes[20..].copy_from_slice(&V2_PASS_IP[20..]);
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_version_ihl(4, 5);
        p.set_tos(0xc0);
        p.set_total_len(40);
        p.set_ident(1);
        p.set_flags_frag_offset(0);
        p.set_ttl(255);
        p.set_protocol(112);
        p.set_src_addr(R1);
        p.set_dst_addr(vrrp::MCAST_GROUP_V4);
        p.fill_checksum();
        assert_eq!(p.payload_mut().len(), 20);
        assert_eq!(&p.into_inner()[..], &V2_PASS_IP[..]);
    }

    #[test]
    fn test_parse() {
        for (bytes, ip, vrrp_expected, mode) in golden() {
            let parsed = Repr::parse(&Packet::new_unchecked(bytes)).unwrap();
            assert_eq!(parsed, ip);
            let payload = &bytes[parsed.payload_range()];
            let v = vrrp::Repr::parse(
                &vrrp::Packet::new_checked(payload).unwrap(),
                AddressFamily::Ipv4,
                mode,
            );
            assert_eq!(v, Ok(vrrp_expected));
        }
    }

    #[test]
    fn test_emit() {
        for (bytes, ip, vrrp_repr, mode) in golden() {
            let mut buf = [0xa5u8; 64];
            let n = emit_ipv4_vrrp(&mut buf, ip.ident, ip.ttl, ip.src, ip.dst, &vrrp_repr, mode)
                .unwrap();
            assert_eq!(&buf[..n], bytes);
            assert!(buf[n..].iter().all(|&b| b == 0xa5));

            let mut hdr = [0xa5u8; 20];
            ip.emit(&mut Packet::new_unchecked(&mut hdr[..]));
            assert_eq!(&hdr[..], &bytes[..20]);
        }
    }

    #[test]
    fn test_emit_errors() {
        let (bytes, ip, vrrp_repr, mode) = golden()[0].clone();
        let mut small = [0u8; 39];
        assert_eq!(
            emit_ipv4_vrrp(&mut small, 1, 255, ip.src, ip.dst, &vrrp_repr, mode),
            Err(Error::BufferTooSmall {
                needed: 40,
                got: 39
            })
        );
        let mut exact = [0u8; 40];
        assert_eq!(
            emit_ipv4_vrrp(&mut exact, 1, 255, ip.src, ip.dst, &vrrp_repr, mode),
            Ok(40)
        );
        assert_eq!(&exact[..], bytes);
        let v6 = ChecksumMode::PseudoHeader {
            src: IpAddr::V6(core::net::Ipv6Addr::LOCALHOST),
            dst: IpAddr::V4(R2),
        };
        let v3 = golden()[3].2.clone();
        assert_eq!(
            emit_ipv4_vrrp(&mut exact, 1, 255, R1, R2, &v3, v6),
            Err(Error::WrongFamily)
        );
        let mut bad = v3.clone();
        bad.addrs[0] = IpAddr::V6(core::net::Ipv6Addr::LOCALHOST);
        assert_eq!(
            emit_ipv4_vrrp(&mut exact, 1, 255, R1, R2, &bad, mode),
            Err(Error::WrongFamily)
        );
    }

    #[test]
    fn test_parse_errors() {
        let good = V3_UCAST_IP;
        for len in 0..good.len() {
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&good[..len])),
                Err(Error::Truncated),
                "len {len}"
            );
        }
        let mut b = good;
        b[0] = 0x65;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadIpVersion { version: 6 })
        );
        let mut b = good;
        b[0] = 0x44;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadIhl { ihl: 4 })
        );
        let mut b = good;
        b[0] = 0x4f; // 60-octet header in a 32-octet buffer
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::Truncated)
        );
        let mut b = good;
        b[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadTotalLength { total_len: 19 })
        );
        let mut b = good;
        b[2..4].copy_from_slice(&33u16.to_be_bytes());
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::Truncated)
        );
        let mut b = good;
        b[8] = 254; // TTL changed, checksum not updated
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadIpChecksum)
        );
        for flags in [0x2000u16, 0x0001] {
            let mut b = good;
            let mut p = Packet::new_unchecked(&mut b[..]);
            p.set_flags_frag_offset(flags);
            p.fill_checksum();
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&b[..])),
                Err(Error::Fragmented)
            );
        }
        // DF alone is fine.
        let mut b = good;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_flags_frag_offset(0x4000);
        p.fill_checksum();
        assert!(Repr::parse(&Packet::new_unchecked(&b[..])).is_ok());
    }

    #[test]
    fn test_parse_ipv4_vrrp() {
        for (bytes, ip, vrrp_expected, mode) in golden() {
            assert_eq!(parse_ipv4_vrrp(bytes), Ok((ip, vrrp_expected, mode)));
        }
        let mut b = V3_UCAST_IP;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_protocol(PROTOCOL_AH);
        p.fill_checksum();
        assert_eq!(
            parse_ipv4_vrrp(&b),
            Err(Error::BadProtocol { protocol: 51 })
        );
        let mut b = V3_UCAST_IP;
        b[31] ^= 0x40; // VIP changed, VRRP checksum not updated
        assert_eq!(parse_ipv4_vrrp(&b), Err(Error::BadChecksum));
        assert_eq!(parse_ipv4_vrrp(&V3_UCAST_IP[..31]), Err(Error::Truncated));
    }

    #[test]
    fn test_options_and_padding() {
        // IHL 6 (one NOP/EOL option word) and 4 octets of link padding.
        let mut b = [0u8; 40];
        b[..20].copy_from_slice(&V3_UCAST_IP[..20]);
        b[24..36].copy_from_slice(&V3_UCAST_IP[20..]);
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version_ihl(4, 6);
        p.set_total_len(36);
        p.fill_checksum();
        let r = Repr::parse(&Packet::new_unchecked(&b[..])).unwrap();
        assert_eq!(r.header_len, 24);
        assert_eq!(r.payload_len, 12);
        assert_eq!(&b[r.payload_range()], &V3_UCAST_IP[20..]);
    }
}
