//! VRRP v2 (RFC 3768) and v3 (RFC 5798 / RFC 9568) advertisements.
//! (Interface contract; the wire helper fills in the implementation.)

use core::net::IpAddr;
use heapless::Vec;

use crate::limits::MAX_VIPS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

/// How the checksum is computed (parse verifies, emit writes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumMode {
    /// VRRPv2, and VRRPv3 over IPv4 with `v3_checksum_as_v2` (RFC 9568):
    /// the VRRP message only.
    MessageOnly,
    /// VRRPv3 with the IPv4 or IPv6 pseudo-header (keepalived's default for IPv4, always for IPv6).
    PseudoHeader { src: IpAddr, dst: IpAddr },
}

/// A parsed VRRP advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// Advertisement interval in centiseconds. v2 carries whole seconds on
    /// the wire (parse multiplies by 100, emit divides by 100).
    pub max_adver_int_cs: u16,
    /// Number of addresses in the header's Count IPvX Addr field.
    pub addr_count: u8,
    /// The addresses (at most `MAX_VIPS` are kept; see `addr_count`).
    pub addrs: Vec<IpAddr, MAX_VIPS>,
    /// v2 only: Auth Type (0 none, 1 simple text, 2 AH).
    pub auth_type: u8,
    /// v2 only: the 8 bytes of Authentication Data (zero otherwise).
    pub auth_data: [u8; 8],
}
