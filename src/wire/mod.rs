//! Wire formats, smoltcp style: `Packet<T: AsRef<[u8]>>` for field access on
//! borrowed bytes, `Repr` for the parsed high-level form, `parse`/`emit`.
//! Byte order is explicit everywhere (network order for VRRP/ARP/NDP, native
//! order for netlink).
//!
//! # The panic contract
//!
//! Every `Packet<T>` wraps a byte buffer without copying it. The contract is
//! the one smoltcp writes down for its own wire types:
//!
//! * `Packet::new_unchecked` never looks at the buffer. `Packet::new_checked`
//!   calls `check_len`. Once `check_len` returned `Ok(())`, **no accessor or
//!   setter panics**. Accessors whose offset depends on a length field the
//!   fixed header does not fix (VRRP addresses, v2 authentication data) return
//!   an `Option` instead, so they cannot panic on any buffer either.
//! * `Repr::parse` validates everything it reads and returns a named
//!   [`Error`]; it never panics on any input.
//! * `Repr::emit` **never panics on a buffer of exactly `Repr::buffer_len()`
//!   octets** (nor on a longer one). Emit into a buffer made with
//!   `new_unchecked`: checking the length of a reused buffer before emitting
//!   into it is meaningless, since leftover bytes decide whether the check
//!   passes.
//!
//! The frame builders (`ipv4::emit_ipv4_vrrp`, `ah::emit_ipv4_ah_vrrp`, `ipv6::emit_ipv6_vrrp`,
//! `garp::emit_garp`, `garp::emit_unsolicited_na`, `ethernet::emit_header`) write into a caller's `&mut [u8]`, return the
//! number of octets written, and report a too-small buffer as
//! [`Error::BufferTooSmall`]. Nothing here allocates.
//!
//! Every way a received packet can be refused is a variant of [`Error`], so
//! the daemon can count drops per reason.

use core::fmt;

pub mod ah;
pub mod ethernet;
pub mod garp;
pub mod ipv4;
pub mod ipv6;
pub mod ipvs;
pub mod md5;
pub mod netlink;
pub mod pcap;
pub mod vrrp;

pub use crate::config::model::AddressFamily;

/// Field offsets within a header, as data (smoltcp's `field` module shape).
pub mod field {
    /// A fixed field: a range of octets.
    pub type Field = ::core::ops::Range<usize>;
    /// Everything from an offset to the end of the buffer.
    pub type Rest = ::core::ops::RangeFrom<usize>;
}

/// Why a buffer could not be parsed or a frame could not be built.
///
/// Each variant maps to one check, so the daemon can keep a counter per
/// variant and log a reason for every dropped packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than its headers or length fields require.
    Truncated,
    /// VRRP: the version nibble is neither 2 nor 3.
    BadVersion { version: u8 },
    /// VRRP: the type nibble is not 1 (ADVERTISEMENT).
    BadType { ptype: u8 },
    /// VRRP: the checksum does not verify in the requested mode.
    BadChecksum,
    /// VRRP: Count IPvX Addr is 0 on a VRRPv3 advert (RFC 9568 erratum 8299).
    BadAddrCount { count: u8 },
    /// VRRP: the message is longer than its header, addresses and (v2)
    /// authentication data add up to (keepalived drops these too).
    BadLength { len: usize, expected: usize },
    /// VRRP: the advertisement interval is zero (RFC 9568 erratum 8301; a
    /// zero v2 interval is refused as well).
    ZeroInterval,
    /// An address family does not fit: VRRPv2 over IPv6, a pseudo-header
    /// address or an advertised address of the other family.
    WrongFamily,
    /// IPv4: the version nibble is not 4.
    BadIpVersion { version: u8 },
    /// IPv4: IHL below 5 or larger than the buffer.
    BadIhl { ihl: u8 },
    /// IPv4: Total Length smaller than the header or larger than the buffer.
    BadTotalLength { total_len: u16 },
    /// IPv4: the header checksum does not verify.
    BadIpChecksum,
    /// IPv4: the datagram is a fragment (MF set or a non-zero offset).
    Fragmented,
    /// IP: the protocol / next header is not the expected one (112).
    BadProtocol { protocol: u8 },
    /// A frame builder was given a buffer that cannot hold the frame.
    BufferTooSmall { needed: usize, got: usize },
    /// A value cannot be represented on the wire (e.g. a VRRPv3 interval
    /// above 4095 cs, more than 255 addresses).
    Unrepresentable,
    /// pcap: the file header's magic number is unknown.
    BadPcapMagic { magic: u32 },
    /// pcap: a record's captured length exceeds the snapshot length or the
    /// data left in the file.
    BadPcapRecord { incl_len: u32 },
    /// AH: the SPI is not the IPv4 source address (keepalived: "invalid
    /// IPSEC SPI value").
    BadSpi { spi: u32 },
    /// AH: the HMAC-MD5-96 ICV does not verify (wrong password, or a hashed
    /// field changed in flight).
    BadIcv,
    /// AH: the Next Header is not VRRP (112).
    BadAhNextHeader { next_header: u8 },
    /// AH: Payload Len is not 4 (a 96-bit ICV).
    BadAhLength { payload_len: u8 },
    /// AH: the sequence number is not above the instance's counter
    /// (replay; see `ah::AhSeq`).
    AhReplay { seq: u32, last: u32 },
}

impl Error {
    /// Number of variants: size of a per-reason counter array.
    pub const KINDS: usize = 23;

    /// A dense index in `0..Error::KINDS`, one per variant (fields
    /// ignored), for per-reason drop counters.
    pub const fn index(&self) -> usize {
        match self {
            Error::Truncated => 0,
            Error::BadVersion { .. } => 1,
            Error::BadType { .. } => 2,
            Error::BadChecksum => 3,
            Error::BadAddrCount { .. } => 4,
            Error::BadLength { .. } => 5,
            Error::ZeroInterval => 6,
            Error::WrongFamily => 7,
            Error::BadIpVersion { .. } => 8,
            Error::BadIhl { .. } => 9,
            Error::BadTotalLength { .. } => 10,
            Error::BadIpChecksum => 11,
            Error::Fragmented => 12,
            Error::BufferTooSmall { .. } => 13,
            Error::Unrepresentable => 14,
            Error::BadPcapMagic { .. } => 15,
            Error::BadPcapRecord { .. } => 16,
            Error::BadProtocol { .. } => 17,
            Error::BadSpi { .. } => 18,
            Error::BadIcv => 19,
            Error::BadAhNextHeader { .. } => 20,
            Error::BadAhLength { .. } => 21,
            Error::AhReplay { .. } => 22,
        }
    }

    /// A stable snake_case name per variant, for counters and stats dumps.
    pub const fn name(&self) -> &'static str {
        match self {
            Error::Truncated => "truncated",
            Error::BadVersion { .. } => "bad_version",
            Error::BadType { .. } => "bad_type",
            Error::BadChecksum => "bad_checksum",
            Error::BadAddrCount { .. } => "bad_addr_count",
            Error::BadLength { .. } => "bad_length",
            Error::ZeroInterval => "zero_interval",
            Error::WrongFamily => "wrong_family",
            Error::BadIpVersion { .. } => "bad_ip_version",
            Error::BadIhl { .. } => "bad_ihl",
            Error::BadTotalLength { .. } => "bad_total_length",
            Error::BadIpChecksum => "bad_ip_checksum",
            Error::Fragmented => "fragmented",
            Error::BufferTooSmall { .. } => "buffer_too_small",
            Error::Unrepresentable => "unrepresentable",
            Error::BadPcapMagic { .. } => "bad_pcap_magic",
            Error::BadPcapRecord { .. } => "bad_pcap_record",
            Error::BadProtocol { .. } => "bad_protocol",
            Error::BadSpi { .. } => "bad_ah_spi",
            Error::BadIcv => "bad_ah_icv",
            Error::BadAhNextHeader { .. } => "bad_ah_next_header",
            Error::BadAhLength { .. } => "bad_ah_length",
            Error::AhReplay { .. } => "ah_replay",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated => write!(f, "packet truncated"),
            Error::BadVersion { version } => write!(f, "invalid VRRP version {version}"),
            Error::BadType { ptype } => write!(f, "invalid VRRP packet type {ptype}"),
            Error::BadChecksum => write!(f, "invalid VRRP checksum"),
            Error::BadAddrCount { count } => write!(f, "invalid VRRP address count {count}"),
            Error::BadLength { len, expected } => {
                write!(f, "invalid VRRP packet length {len} (expected {expected})")
            }
            Error::ZeroInterval => write!(f, "VRRP advertisement interval is zero"),
            Error::WrongFamily => write!(f, "address family mismatch"),
            Error::BadIpVersion { version } => write!(f, "invalid IP version {version}"),
            Error::BadIhl { ihl } => write!(f, "invalid IPv4 header length {ihl}"),
            Error::BadTotalLength { total_len } => {
                write!(f, "invalid IPv4 total length {total_len}")
            }
            Error::BadIpChecksum => write!(f, "invalid IPv4 header checksum"),
            Error::Fragmented => write!(f, "IPv4 fragment"),
            Error::BadProtocol { protocol } => write!(f, "unexpected IP protocol {protocol}"),
            Error::BufferTooSmall { needed, got } => {
                write!(f, "buffer too small ({got} octets, need {needed})")
            }
            Error::Unrepresentable => write!(f, "value not representable on the wire"),
            Error::BadPcapMagic { magic } => write!(f, "unknown pcap magic {magic:#010x}"),
            Error::BadPcapRecord { incl_len } => {
                write!(f, "bad pcap record (captured length {incl_len})")
            }
            Error::BadSpi { spi } => write!(
                f,
                "invalid IPSEC-AH SPI {} (not the source address)",
                core::net::Ipv4Addr::from(spi)
            ),
            Error::BadIcv => write!(f, "invalid IPSEC-AH HMAC-MD5 value"),
            Error::BadAhNextHeader { next_header } => {
                write!(f, "IPSEC-AH next header {next_header} is not VRRP")
            }
            Error::BadAhLength { payload_len } => {
                write!(f, "invalid IPSEC-AH payload length {payload_len}")
            }
            Error::AhReplay { seq, last } => write!(
                f,
                "IPSEC-AH sequence number {seq} already processed (local {last})"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// RFC 1071 checksum helpers on top of smoltcp's (`data`, `combine`,
/// pseudo-headers). All values are numeric big-endian sums: write them with
/// `to_be_bytes`.
pub mod checksum {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use smoltcp::wire::IpProtocol;
    pub use smoltcp::wire::checksum::{combine, data};

    /// Sum of the IPv4 pseudo-header (src, dst, zero, protocol, length).
    pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u16 {
        smoltcp::wire::checksum::pseudo_header_v4(
            &src,
            &dst,
            IpProtocol::from(protocol),
            u32::from(len),
        )
    }

    /// Sum of the IPv6 pseudo-header (src, dst, 32-bit length, next header).
    pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u16) -> u16 {
        smoltcp::wire::checksum::pseudo_header_v6(
            &src,
            &dst,
            IpProtocol::from(next_header),
            u32::from(len),
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const ALL: [Error; Error::KINDS] = [
        Error::Truncated,
        Error::BadVersion { version: 0 },
        Error::BadType { ptype: 0 },
        Error::BadChecksum,
        Error::BadAddrCount { count: 0 },
        Error::BadLength {
            len: 0,
            expected: 0,
        },
        Error::ZeroInterval,
        Error::WrongFamily,
        Error::BadIpVersion { version: 0 },
        Error::BadIhl { ihl: 0 },
        Error::BadTotalLength { total_len: 0 },
        Error::BadIpChecksum,
        Error::Fragmented,
        Error::BufferTooSmall { needed: 0, got: 0 },
        Error::Unrepresentable,
        Error::BadPcapMagic { magic: 0 },
        Error::BadPcapRecord { incl_len: 0 },
        Error::BadProtocol { protocol: 0 },
        Error::BadSpi { spi: 0 },
        Error::BadIcv,
        Error::BadAhNextHeader { next_header: 0 },
        Error::BadAhLength { payload_len: 0 },
        Error::AhReplay { seq: 0, last: 0 },
    ];

    #[test]
    fn test_error_index_and_name_are_dense_and_unique() {
        for (i, e) in ALL.iter().enumerate() {
            assert_eq!(e.index(), i, "{e:?}");
            for other in &ALL[..i] {
                assert_ne!(e.name(), other.name());
            }
        }
    }

    /// xorshift32, so the test needs no crate and is reproducible.
    fn next(state: &mut u32) -> u32 {
        *state ^= *state << 13;
        *state ^= *state >> 17;
        *state ^= *state << 5;
        *state
    }

    #[test]
    fn test_random_bytes_never_panic() {
        use core::net::{IpAddr, Ipv4Addr};
        let mut seed = 0x1234_5678u32;
        let mut buf = [0u8; 96];
        let modes = [
            vrrp::ChecksumMode::MessageOnly,
            vrrp::ChecksumMode::PseudoHeader {
                src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                dst: IpAddr::V4(vrrp::MCAST_GROUP_V4),
            },
        ];
        for _ in 0..20_000 {
            let len = (next(&mut seed) % 96) as usize;
            for b in buf.iter_mut() {
                *b = next(&mut seed) as u8;
            }
            // Plausible first octets make the parsers go deeper.
            match next(&mut seed) % 4 {
                0 => buf[0] = 0x21,
                1 => buf[0] = 0x31,
                2 => buf[0] = 0x45,
                _ => {}
            }
            let data = &buf[..len];
            for family in [AddressFamily::Ipv4, AddressFamily::Ipv6] {
                for mode in modes {
                    let _ = vrrp::Repr::parse(&vrrp::Packet::new_unchecked(data), family, mode);
                }
            }
            let _ = vrrp::Repr::parse_detect_checksum(
                &vrrp::Packet::new_unchecked(data),
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            );
            let _ = ipv4::Repr::parse(&ipv4::Packet::new_unchecked(data));
            let _ = ipv6::Repr::parse(data);
            let _ = ah::parse_ipv4_ah_vrrp(data, b"secret12", false);
            let _ = ah::compute_icv(data, b"secret12", true);
            let _ = ah::peek_vrid(data);
            let _ = garp::parse_garp(data);
            let _ = garp::parse_unsolicited_na(data);
            let _ = ethernet::parse_header(data);
            if let Ok(r) = pcap::PcapReader::new(data) {
                for rec in r.records() {
                    let _ = rec;
                }
            }
        }
    }
}
