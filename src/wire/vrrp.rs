//! VRRP v2 (RFC 3768) and v3 (RFC 5798 / RFC 9568) advertisements.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2: |   Auth Type   |   Adver Int   |          Checksum             |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 IPvX Address(es) (Count of them)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2 only: |          Authentication Data (8 octets)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! * v2 carries Adver Int in whole seconds; [`Repr`] always holds
//!   centiseconds (`max_adver_int_cs`), parse multiplies by 100, emit divides.
//! * v3 carries a 12-bit Max Adver Int in centiseconds (1..=4095) after 4
//!   reserved bits (written as zero, ignored on receive).
//! * Checksum: v2 covers the VRRP message only (header, addresses and the 8
//!   octets of authentication data), whatever [`ChecksumMode`] says. v3 uses
//!   the mode it is given: [`ChecksumMode::PseudoHeader`] (keepalived's
//!   default for IPv4, and the only form for IPv6) or
//!   [`ChecksumMode::MessageOnly`] (RFC 9568 for IPv4, keepalived's
//!   `v3_checksum_as_v2`). [`Repr::parse_detect_checksum`] accepts either
//!   form and says which one the peer used.
//! * The address family is decided by the IP layer and passed in.
//!
//! The panic contract of [`crate::wire`] applies: after `check_len` no
//! accessor or setter panics (address and authentication-data accessors
//! return `Option`), `Repr::parse` never panics, and `Repr::emit` never panics
//! on a buffer of at least `Repr::buffer_len()` octets. Build a packet for
//! emission with [`Packet::new_unchecked`], not `new_checked`.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use heapless::Vec;

use super::checksum;
use super::{AddressFamily, Error};
use crate::limits::MAX_VIPS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    /// The value of the Version nibble.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
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

/// IP protocol number / IPv6 next header of VRRP.
pub const PROTOCOL: u8 = 112;
/// The only VRRP message type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 8;
/// Length of the v2 Authentication Data trailer.
pub const AUTH_DATA_LEN: usize = 8;
/// Largest VRRPv3 Max Adver Int (12 bits of centiseconds).
pub const MAX_ADVER_INT_CS_MAX: u16 = 0x0fff;
/// v2 Auth Type values (RFC 2338 / keepalived).
pub const AUTH_TYPE_NONE: u8 = 0;
pub const AUTH_TYPE_PASS: u8 = 1;
pub const AUTH_TYPE_AH: u8 = 2;
/// Default multicast groups (keepalived `vrrp_mcast_group4` / `vrrp_mcast_group6`).
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit of multicast adverts (RFC 5798 §5.1.1.3).
pub const TTL: u8 = 255;

mod field {
    use crate::wire::field::Field;

    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2: Auth Type.
    pub const AUTH_TYPE: usize = 4;
    /// v2: Adver Int (seconds).
    pub const ADVER_INT: usize = 5;
    /// v3: 4 reserved bits + 12-bit Max Adver Int (centiseconds).
    pub const RSVD_MAX_ADVER_INT: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
    pub const ADDRS: usize = 8;
}

/// Octets per advertised address for a family.
pub const fn addr_len(family: AddressFamily) -> usize {
    match family {
        AddressFamily::Ipv4 => 4,
        AddressFamily::Ipv6 => 16,
    }
}

/// The family of an address.
pub const fn family_of(addr: &IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    }
}

/// A read/write wrapper around a VRRP message buffer (the IP payload).
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

    /// Ensure the fixed header is present, so that no header accessor
    /// panics. The address list and v2 authentication data depend on the
    /// address family: their accessors return `Option`, and
    /// [`Packet::expected_len`] says how long the message must be.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Consume the packet, returning the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the underlying buffer.
    pub fn len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buffer.as_ref().is_empty()
    }

    /// The Version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    /// The Type nibble.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    /// Virtual Rtr ID.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// Priority.
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// Count IPvX Addr.
    pub fn addr_count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// v2: Auth Type.
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// v2: Adver Int, in seconds.
    pub fn adver_int_s(&self) -> u8 {
        self.buffer.as_ref()[field::ADVER_INT]
    }

    /// v3: the 4 reserved bits before Max Adver Int.
    pub fn rsvd(&self) -> u8 {
        self.buffer.as_ref()[field::RSVD_MAX_ADVER_INT.start] >> 4
    }

    /// v3: Max Adver Int, in centiseconds (12 bits).
    pub fn max_adver_int_cs(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::RSVD_MAX_ADVER_INT]) & MAX_ADVER_INT_CS_MAX
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// How long the message must be for its Version and Count IPvX Addr
    /// fields: header, addresses and (v2) authentication data.
    pub fn expected_len(&self, family: AddressFamily) -> usize {
        let trailer = if self.version() == 2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + usize::from(self.addr_count()) * addr_len(family) + trailer
    }

    /// Address number `index` (0-based), or `None` when it lies beyond the
    /// buffer. Does not look at Count IPvX Addr.
    pub fn addr(&self, index: usize, family: AddressFamily) -> Option<IpAddr> {
        let alen = addr_len(family);
        let start = index.checked_mul(alen)?.checked_add(field::ADDRS)?;
        let bytes = self.buffer.as_ref().get(start..start.checked_add(alen)?)?;
        Some(match family {
            AddressFamily::Ipv4 => {
                let octets: [u8; 4] = bytes.try_into().ok()?;
                IpAddr::V4(Ipv4Addr::from(octets))
            }
            AddressFamily::Ipv6 => {
                let octets: [u8; 16] = bytes.try_into().ok()?;
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        })
    }

    /// v2: the Authentication Data after the Count IPvX Addr addresses, or
    /// `None` when the buffer is too short.
    pub fn auth_data(&self, family: AddressFamily) -> Option<[u8; 8]> {
        let count = *self.buffer.as_ref().get(field::COUNT)?;
        let start = field::ADDRS + usize::from(count) * addr_len(family);
        let bytes = self.buffer.as_ref().get(start..start + AUTH_DATA_LEN)?;
        bytes.try_into().ok()
    }

    /// Whether the checksum verifies over the whole buffer in `mode`.
    /// (v2 messages are always summed without a pseudo-header; see the
    /// module docs.)
    pub fn verify_checksum(&self, mode: ChecksumMode) -> Result<bool, Error> {
        let data = self.buffer.as_ref();
        let mode = if self.version() == 2 {
            ChecksumMode::MessageOnly
        } else {
            mode
        };
        let sum = message_sum(data, mode)?;
        Ok(sum == 0xffff)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the Version nibble (keeps Type).
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Set the Type nibble (keeps Version).
    pub fn set_msg_type(&mut self, ptype: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_TYPE];
        *b = (*b & 0xf0) | (ptype & 0x0f);
    }

    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    pub fn set_addr_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    /// v2: Auth Type.
    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = auth_type;
    }

    /// v2: Adver Int in seconds.
    pub fn set_adver_int_s(&mut self, secs: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = secs;
    }

    /// v3: the 4 reserved bits (keeps Max Adver Int).
    pub fn set_rsvd(&mut self, rsvd: u8) {
        let b = &mut self.buffer.as_mut()[field::RSVD_MAX_ADVER_INT.start];
        *b = (*b & 0x0f) | (rsvd << 4);
    }

    /// v3: Max Adver Int in centiseconds; only the low 12 bits are written
    /// (keeps the reserved bits).
    pub fn set_max_adver_int_cs(&mut self, cs: u16) {
        let data = &mut self.buffer.as_mut()[field::RSVD_MAX_ADVER_INT];
        let value = (read_u16(data) & !MAX_ADVER_INT_CS_MAX) | (cs & MAX_ADVER_INT_CS_MAX);
        data.copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }

    /// Write address number `index` (0-based) at its family's offset.
    /// Returns `false` (and writes nothing) when it lies beyond the buffer.
    pub fn set_addr(&mut self, index: usize, addr: IpAddr) -> bool {
        let alen = addr_len(family_of(&addr));
        let Some(start) = index
            .checked_mul(alen)
            .and_then(|o| o.checked_add(field::ADDRS))
        else {
            return false;
        };
        write_addr(self.buffer.as_mut(), start, &addr)
    }

    /// v2: write the Authentication Data after Count IPvX Addr addresses.
    /// Returns `false` (and writes nothing) when it lies beyond the buffer.
    pub fn set_auth_data(&mut self, family: AddressFamily, auth_data: &[u8; 8]) -> bool {
        let start = field::ADDRS + usize::from(self.addr_count()) * addr_len(family);
        match self.buffer.as_mut().get_mut(start..start + AUTH_DATA_LEN) {
            Some(dst) => {
                dst.copy_from_slice(auth_data);
                true
            }
            None => false,
        }
    }

    /// Compute and write the checksum over the whole buffer (v2: always the
    /// message only).
    pub fn fill_checksum(&mut self, mode: ChecksumMode) -> Result<(), Error> {
        let mode = if self.version() == 2 {
            ChecksumMode::MessageOnly
        } else {
            mode
        };
        self.set_checksum(0);
        let sum = message_sum(self.buffer.as_ref(), mode)?;
        self.set_checksum(!sum);
        Ok(())
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

fn read_u16(bytes: &[u8]) -> u16 {
    match bytes {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    }
}

/// Write `addr` at `start`; `false` if it does not fit.
fn write_addr(buf: &mut [u8], start: usize, addr: &IpAddr) -> bool {
    let octets_v4;
    let octets_v6;
    let octets: &[u8] = match addr {
        IpAddr::V4(a) => {
            octets_v4 = a.octets();
            &octets_v4
        }
        IpAddr::V6(a) => {
            octets_v6 = a.octets();
            &octets_v6
        }
    };
    match start
        .checked_add(octets.len())
        .and_then(|end| buf.get_mut(start..end))
    {
        Some(dst) => {
            dst.copy_from_slice(octets);
            true
        }
        None => false,
    }
}

/// The one's-complement sum of `data` plus, in pseudo-header mode, the
/// pseudo-header for a message of `data.len()` octets.
fn message_sum(data: &[u8], mode: ChecksumMode) -> Result<u16, Error> {
    let data_sum = checksum::data(data);
    match mode {
        ChecksumMode::MessageOnly => Ok(data_sum),
        ChecksumMode::PseudoHeader { src, dst } => {
            let len = u16::try_from(data.len()).map_err(|_| Error::Unrepresentable)?;
            let pseudo = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_header_v4(s, d, PROTOCOL, len),
                (IpAddr::V6(s), IpAddr::V6(d)) => checksum::pseudo_header_v6(s, d, PROTOCOL, len),
                _ => return Err(Error::WrongFamily),
            };
            Ok(checksum::combine(&[pseudo, data_sum]))
        }
    }
}

fn mode_matches_family(mode: &ChecksumMode, family: AddressFamily) -> bool {
    match mode {
        ChecksumMode::MessageOnly => true,
        ChecksumMode::PseudoHeader { src, dst } => {
            family_of(src) == family && family_of(dst) == family
        }
    }
}

impl Repr {
    /// Parse and validate a VRRP message (the whole IP payload, nothing
    /// more). `family` is the family of the IP packet that carried it.
    ///
    /// Checks, in order: fixed header present ([`Error::Truncated`]),
    /// version 2 or 3 ([`Error::BadVersion`]), type ADVERTISEMENT
    /// ([`Error::BadType`]), no v2 over IPv6 and a pseudo-header of the
    /// carrier's family ([`Error::WrongFamily`]), length equal to what
    /// Count IPvX Addr implies ([`Error::Truncated`] / [`Error::BadLength`]),
    /// checksum ([`Error::BadChecksum`]), non-zero interval
    /// ([`Error::ZeroInterval`]), and for v3 a non-zero address count
    /// ([`Error::BadAddrCount`]).
    ///
    /// Up to `MAX_VIPS` addresses are kept in `addrs`; `addr_count` is the
    /// header's count.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
        family: AddressFamily,
        mode: ChecksumMode,
    ) -> Result<Repr, Error> {
        packet.check_len()?;
        let version = match packet.version() {
            2 => Version::V2,
            3 => Version::V3,
            version => return Err(Error::BadVersion { version }),
        };
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(Error::BadType {
                ptype: packet.msg_type(),
            });
        }
        if version == Version::V2 && family == AddressFamily::Ipv6 {
            return Err(Error::WrongFamily);
        }
        if !mode_matches_family(&mode, family) {
            return Err(Error::WrongFamily);
        }
        let len = packet.len();
        let expected = packet.expected_len(family);
        if len < expected {
            return Err(Error::Truncated);
        }
        if len > expected {
            return Err(Error::BadLength { len, expected });
        }
        if !packet.verify_checksum(mode)? {
            return Err(Error::BadChecksum);
        }

        let addr_count = packet.addr_count();
        let (max_adver_int_cs, auth_type, auth_data) = match version {
            Version::V2 => {
                let secs = packet.adver_int_s();
                if secs == 0 {
                    return Err(Error::ZeroInterval);
                }
                let auth_data = packet.auth_data(family).ok_or(Error::Truncated)?;
                (u16::from(secs) * 100, packet.auth_type(), auth_data)
            }
            Version::V3 => {
                let cs = packet.max_adver_int_cs();
                if cs == 0 {
                    return Err(Error::ZeroInterval);
                }
                if addr_count == 0 {
                    return Err(Error::BadAddrCount { count: 0 });
                }
                (cs, AUTH_TYPE_NONE, [0; 8])
            }
        };

        let mut addrs = Vec::new();
        for index in 0..usize::from(addr_count).min(MAX_VIPS) {
            let addr = packet.addr(index, family).ok_or(Error::Truncated)?;
            if addrs.push(addr).is_err() {
                break;
            }
        }

        Ok(Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_adver_int_cs,
            addr_count,
            addrs,
            auth_type,
            auth_data,
        })
    }

    /// Parse when the peer's checksum form is unknown (interop): v2 is
    /// checked over the message; v3 over IPv6 with the pseudo-header; v3
    /// over IPv4 first with the pseudo-header (keepalived's default), then
    /// over the message only (RFC 9568). Returns the mode that verified.
    ///
    /// `src`/`dst` are the carrier's IP source and destination; the family
    /// comes from them ([`Error::WrongFamily`] if they differ).
    pub fn parse_detect_checksum<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(Repr, ChecksumMode), Error> {
        let family = family_of(&src);
        if family_of(&dst) != family {
            return Err(Error::WrongFamily);
        }
        packet.check_len()?;
        if packet.version() == 2 {
            let mode = ChecksumMode::MessageOnly;
            return Repr::parse(packet, family, mode).map(|r| (r, mode));
        }
        let pseudo = ChecksumMode::PseudoHeader { src, dst };
        match Repr::parse(packet, family, pseudo) {
            Err(Error::BadChecksum) if family == AddressFamily::Ipv4 => {
                let mode = ChecksumMode::MessageOnly;
                Repr::parse(packet, family, mode).map(|r| (r, mode))
            }
            other => other.map(|r| (r, pseudo)),
        }
    }

    /// Length of the emitted message: header, `addrs` and (v2) 8 octets of
    /// authentication data.
    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self.addrs.iter().map(|a| addr_len(family_of(a))).sum();
        let trailer = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addrs + trailer
    }

    /// Check that `emit` writes this `Repr` faithfully for a carrier of
    /// `family`: no v2 over IPv6, every address of `family`, `addr_count`
    /// equal to `addrs.len()`, v3 with at least one address and an interval
    /// in 1..=4095 cs, v2 with an interval of whole seconds in 1..=255 s.
    pub fn check(&self, family: AddressFamily) -> Result<(), Error> {
        if self.version == Version::V2 && family == AddressFamily::Ipv6 {
            return Err(Error::WrongFamily);
        }
        if self.addrs.iter().any(|a| family_of(a) != family) {
            return Err(Error::WrongFamily);
        }
        if usize::from(self.addr_count) != self.addrs.len() {
            return Err(Error::BadAddrCount {
                count: self.addr_count,
            });
        }
        if self.max_adver_int_cs == 0 {
            return Err(Error::ZeroInterval);
        }
        match self.version {
            Version::V2 => {
                if !self.max_adver_int_cs.is_multiple_of(100) || self.max_adver_int_cs > 255 * 100 {
                    return Err(Error::Unrepresentable);
                }
            }
            Version::V3 => {
                if self.addrs.is_empty() {
                    return Err(Error::BadAddrCount { count: 0 });
                }
                if self.max_adver_int_cs > MAX_ADVER_INT_CS_MAX {
                    return Err(Error::Unrepresentable);
                }
            }
        }
        Ok(())
    }

    /// Emit into `packet` (at least `buffer_len()` octets; see the module
    /// docs). Count IPvX Addr is written as `addrs.len()`. v2: Adver Int is
    /// `max_adver_int_cs / 100` (saturating at 255 s); v3: the interval is
    /// capped at 4095 cs and the reserved bits are zero. The checksum covers
    /// the first `buffer_len()` octets, in `mode` for v3 (v2 ignores `mode`).
    /// A pseudo-header whose addresses mix families yields a zero checksum
    /// field (use [`Repr::check`] and a consistent mode to avoid it).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Packet<&mut T>,
        mode: ChecksumMode,
    ) {
        let count = u8::try_from(self.addrs.len()).unwrap_or(u8::MAX);
        packet.set_version(self.version.number());
        packet.set_msg_type(TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_addr_count(count);
        match self.version {
            Version::V2 => {
                packet.set_auth_type(self.auth_type);
                let secs = u8::try_from(self.max_adver_int_cs / 100).unwrap_or(u8::MAX);
                packet.set_adver_int_s(secs);
            }
            Version::V3 => {
                let cs = self.max_adver_int_cs.min(MAX_ADVER_INT_CS_MAX);
                packet.set_rsvd(0);
                packet.set_max_adver_int_cs(cs);
            }
        }
        packet.set_checksum(0);

        let buf: &mut [u8] = packet.buffer.as_mut();
        let mut offset = field::ADDRS;
        for addr in &self.addrs {
            write_addr(buf, offset, addr);
            offset += addr_len(family_of(addr));
        }
        if self.version == Version::V2
            && let Some(dst) = buf.get_mut(offset..offset + AUTH_DATA_LEN)
        {
            dst.copy_from_slice(&self.auth_data);
        }

        let len = self.buffer_len().min(buf.len());
        let mode = match self.version {
            Version::V2 => ChecksumMode::MessageOnly,
            Version::V3 => mode,
        };
        let checksum = match buf.get(..len).map(|m| message_sum(m, mode)) {
            Some(Ok(sum)) => !sum,
            _ => 0,
        };
        packet.set_checksum(checksum);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    const R1: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const R2: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const MCAST4: IpAddr = IpAddr::V4(MCAST_GROUP_V4);
    const R1_LL: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1));
    const MCAST6: IpAddr = IpAddr::V6(MCAST_GROUP_V6);
    const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100));

    fn repr(
        version: Version,
        priority: u8,
        cs: u16,
        addrs: &[IpAddr],
        auth_type: u8,
        auth_data: [u8; 8],
    ) -> Repr {
        Repr {
            version,
            vrid: 51,
            priority,
            max_adver_int_cs: cs,
            addr_count: addrs.len() as u8,
            addrs: Vec::from_slice(addrs).unwrap(),
            auth_type,
            auth_data,
        }
    }

    // keepalived-v2-mcast, frame 1 (VRRP part).
    static V2_MCAST: [u8; 20] = [
        0x21, 0x33, 0xc8, 0x01, 0x00, 0x01, 0x54, 0x65, 0xc0, 0x00, 0x02, 0x64, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    // keepalived-v2-mcast, frame 9 (priority 0).
    static V2_MCAST_PRIO0: [u8; 20] = [
        0x21, 0x33, 0x00, 0x01, 0x00, 0x01, 0x1c, 0x66, 0xc0, 0x00, 0x02, 0x64, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    // keepalived-v2-mcast-authpass, frame 1.
    static V2_PASS: [u8; 20] = [
        0x21, 0x33, 0xc8, 0x01, 0x01, 0x01, 0xe5, 0xe6, 0xc0, 0x00, 0x02, 0x64, 0x73, 0x65, 0x63,
        0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    // keepalived-v2-mcast-authpass frame 9 and keepalived-v2-ucast-authpass
    // frame 11 (priority 0; same VRRP bytes).
    static V2_PASS_PRIO0: [u8; 20] = [
        0x21, 0x33, 0x00, 0x01, 0x01, 0x01, 0xad, 0xe7, 0xc0, 0x00, 0x02, 0x64, 0x73, 0x65, 0x63,
        0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    // keepalived-v3-mcast-adv0.1, frame 1 (IPv4 pseudo-header, 224.0.0.18).
    static V3_ADV01: [u8; 12] = [
        0x31, 0x33, 0xc8, 0x01, 0x00, 0x0a, 0xa1, 0xcb, 0xc0, 0x00, 0x02, 0x64,
    ];
    // keepalived-v3-mcast-adv0.1, frame 29 (priority 0).
    static V3_ADV01_PRIO0: [u8; 12] = [
        0x31, 0x33, 0x00, 0x01, 0x00, 0x0a, 0x69, 0xcc, 0xc0, 0x00, 0x02, 0x64,
    ];
    // keepalived-v3-mcast, frame 11 (priority 0, 1 s).
    static V3_MCAST_PRIO0: [u8; 12] = [
        0x31, 0x33, 0x00, 0x01, 0x00, 0x64, 0x69, 0x72, 0xc0, 0x00, 0x02, 0x64,
    ];
    // keepalived-v3-ucast, frame 1 (pseudo-header with dst 192.0.2.2).
    static V3_UCAST: [u8; 12] = [
        0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0xbf, 0x81, 0xc0, 0x00, 0x02, 0x64,
    ];
    // keepalived-v3-ucast, frame 9 (priority 0).
    static V3_UCAST_PRIO0: [u8; 12] = [
        0x31, 0x33, 0x00, 0x01, 0x00, 0x64, 0x87, 0x82, 0xc0, 0x00, 0x02, 0x64,
    ];
    // keepalived-v3-mcast-ipv6, frame 1.
    static V3_IPV6: [u8; 24] = [
        0x31, 0x33, 0xc8, 0x01, 0x00, 0x64, 0xda, 0x8e, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    ];
    // keepalived-v3-mcast-ipv6, frame 9 (priority 0).
    static V3_IPV6_PRIO0: [u8; 24] = [
        0x31, 0x33, 0x00, 0x01, 0x00, 0x64, 0xa2, 0x8f, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    ];

    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    const PASS: [u8; 8] = *b"secret12";

    /// (bytes, family, mode, expected Repr)
    fn golden() -> [(&'static [u8], AddressFamily, ChecksumMode, Repr); 11] {
        use AddressFamily::{Ipv4, Ipv6};
        let mc4 = ChecksumMode::PseudoHeader {
            src: R1,
            dst: MCAST4,
        };
        let uc4 = ChecksumMode::PseudoHeader { src: R1, dst: R2 };
        let mc6 = ChecksumMode::PseudoHeader {
            src: R1_LL,
            dst: MCAST6,
        };
        let msg = ChecksumMode::MessageOnly;
        [
            (
                &V2_MCAST[..],
                Ipv4,
                msg,
                repr(Version::V2, 200, 100, &[VIP], 0, [0; 8]),
            ),
            (
                &V2_MCAST_PRIO0[..],
                Ipv4,
                msg,
                repr(Version::V2, 0, 100, &[VIP], 0, [0; 8]),
            ),
            (
                &V2_PASS[..],
                Ipv4,
                msg,
                repr(Version::V2, 200, 100, &[VIP], 1, PASS),
            ),
            (
                &V2_PASS_PRIO0[..],
                Ipv4,
                msg,
                repr(Version::V2, 0, 100, &[VIP], 1, PASS),
            ),
            (
                &V3_ADV01[..],
                Ipv4,
                mc4,
                repr(Version::V3, 200, 10, &[VIP], 0, [0; 8]),
            ),
            (
                &V3_ADV01_PRIO0[..],
                Ipv4,
                mc4,
                repr(Version::V3, 0, 10, &[VIP], 0, [0; 8]),
            ),
            (
                &V3_MCAST_PRIO0[..],
                Ipv4,
                mc4,
                repr(Version::V3, 0, 100, &[VIP], 0, [0; 8]),
            ),
            (
                &V3_UCAST[..],
                Ipv4,
                uc4,
                repr(Version::V3, 200, 100, &[VIP], 0, [0; 8]),
            ),
            (
                &V3_UCAST_PRIO0[..],
                Ipv4,
                uc4,
                repr(Version::V3, 0, 100, &[VIP], 0, [0; 8]),
            ),
            (
                &V3_IPV6[..],
                Ipv6,
                mc6,
                repr(Version::V3, 200, 100, &[VIP6], 0, [0; 8]),
            ),
            (
                &V3_IPV6_PRIO0[..],
                Ipv6,
                mc6,
                repr(Version::V3, 0, 100, &[VIP6], 0, [0; 8]),
            ),
        ]
    }

    #[test]
    fn test_deconstruct_v2() {
        let packet = Packet::new_checked(&V2_PASS[..]).unwrap();
        assert_eq!(packet.version(), 2);
        assert_eq!(packet.msg_type(), 1);
        assert_eq!(packet.vrid(), 51);
        assert_eq!(packet.priority(), 200);
        assert_eq!(packet.addr_count(), 1);
        assert_eq!(packet.auth_type(), 1);
        assert_eq!(packet.adver_int_s(), 1);
        assert_eq!(packet.checksum(), 0xe5e6);
        assert_eq!(packet.expected_len(AddressFamily::Ipv4), 20);
        assert_eq!(packet.addr(0, AddressFamily::Ipv4), Some(VIP));
        assert_eq!(packet.addr(3, AddressFamily::Ipv4), None);
        assert_eq!(packet.auth_data(AddressFamily::Ipv4), Some(PASS));
        assert!(packet.verify_checksum(ChecksumMode::MessageOnly).unwrap());
    }

    #[test]
    fn test_deconstruct_v3() {
        let packet = Packet::new_checked(&V3_IPV6[..]).unwrap();
        assert_eq!(packet.version(), 3);
        assert_eq!(packet.msg_type(), 1);
        assert_eq!(packet.vrid(), 51);
        assert_eq!(packet.priority(), 200);
        assert_eq!(packet.addr_count(), 1);
        assert_eq!(packet.rsvd(), 0);
        assert_eq!(packet.max_adver_int_cs(), 100);
        assert_eq!(packet.checksum(), 0xda8e);
        assert_eq!(packet.expected_len(AddressFamily::Ipv6), 24);
        assert_eq!(packet.addr(0, AddressFamily::Ipv6), Some(VIP6));
        let mode = ChecksumMode::PseudoHeader {
            src: R1_LL,
            dst: MCAST6,
        };
        assert!(packet.verify_checksum(mode).unwrap());
        assert!(!packet.verify_checksum(ChecksumMode::MessageOnly).unwrap());
    }

    #[test]
    fn test_construct_v2() {
        let mut bytes = [0xa5u8; 20];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(2);
        packet.set_msg_type(1);
        packet.set_vrid(51);
        packet.set_priority(200);
        packet.set_addr_count(1);
        packet.set_auth_type(1);
        packet.set_adver_int_s(1);
        assert!(packet.set_addr(0, VIP));
        assert!(!packet.set_addr(5, VIP));
        assert!(packet.set_auth_data(AddressFamily::Ipv4, &PASS));
        packet.fill_checksum(ChecksumMode::MessageOnly).unwrap();
        assert_eq!(packet.into_inner(), &V2_PASS[..]);
    }

    #[test]
    fn test_construct_v3() {
        let mut bytes = [0xa5u8; 12];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(3);
        packet.set_msg_type(1);
        packet.set_vrid(51);
        packet.set_priority(200);
        packet.set_addr_count(1);
        packet.set_rsvd(0);
        packet.set_max_adver_int_cs(10);
        assert!(packet.set_addr(0, VIP));
        packet
            .fill_checksum(ChecksumMode::PseudoHeader {
                src: R1,
                dst: MCAST4,
            })
            .unwrap();
        assert_eq!(packet.into_inner(), &V3_ADV01[..]);
    }

    #[test]
    fn test_parse() {
        for (bytes, family, mode, expected) in golden() {
            let packet = Packet::new_checked(bytes).unwrap();
            assert_eq!(
                Repr::parse(&packet, family, mode),
                Ok(expected.clone()),
                "{bytes:02x?}"
            );
            expected.check(family).unwrap();
        }
    }

    #[test]
    fn test_emit() {
        for (bytes, _, mode, repr) in golden() {
            assert_eq!(repr.buffer_len(), bytes.len());
            let mut buf = [0xa5u8; 64];
            let mut packet = Packet::new_unchecked(&mut buf[..repr.buffer_len()]);
            repr.emit(&mut packet, mode);
            assert_eq!(packet.into_inner(), bytes);
        }
    }

    #[test]
    fn test_emit_into_longer_buffer_sums_only_the_message() {
        let (bytes, _, mode, repr) = golden()[4].clone();
        let mut buf = [0xa5u8; 40];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), mode);
        assert_eq!(&buf[..bytes.len()], bytes);
        assert!(buf[bytes.len()..].iter().all(|&b| b == 0xa5));
    }

    #[test]
    fn test_detect_checksum() {
        // keepalived default: pseudo-header.
        let p = Packet::new_unchecked(&V3_UCAST[..]);
        let (r, mode) = Repr::parse_detect_checksum(&p, R1, R2).unwrap();
        assert_eq!(mode, ChecksumMode::PseudoHeader { src: R1, dst: R2 });
        assert_eq!(r.priority, 200);

        // RFC 9568 form: emit message-only, detect it.
        let repr = repr(Version::V3, 150, 100, &[VIP], 0, [0; 8]);
        let mut buf = [0u8; 12];
        repr.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            ChecksumMode::MessageOnly,
        );
        let p = Packet::new_unchecked(&buf[..]);
        assert_eq!(
            Repr::parse(
                &p,
                AddressFamily::Ipv4,
                ChecksumMode::PseudoHeader { src: R1, dst: R2 }
            ),
            Err(Error::BadChecksum)
        );
        let (r, mode) = Repr::parse_detect_checksum(&p, R1, R2).unwrap();
        assert_eq!(mode, ChecksumMode::MessageOnly);
        assert_eq!(r, repr);

        // v2: always message only.
        let p = Packet::new_unchecked(&V2_PASS[..]);
        let (_, mode) = Repr::parse_detect_checksum(&p, R1, MCAST4).unwrap();
        assert_eq!(mode, ChecksumMode::MessageOnly);

        // IPv6: pseudo-header only; a message-only sum is refused.
        let repr6 = self::repr(Version::V3, 150, 100, &[VIP6], 0, [0; 8]);
        let mut buf = [0u8; 24];
        repr6.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            ChecksumMode::MessageOnly,
        );
        let p = Packet::new_unchecked(&buf[..]);
        assert_eq!(
            Repr::parse_detect_checksum(&p, R1_LL, MCAST6),
            Err(Error::BadChecksum)
        );
        let p = Packet::new_unchecked(&V3_IPV6[..]);
        assert_eq!(
            Repr::parse_detect_checksum(&p, R1_LL, MCAST6).map(|(_, m)| m),
            Ok(ChecksumMode::PseudoHeader {
                src: R1_LL,
                dst: MCAST6
            })
        );
        // Mixed families.
        assert_eq!(
            Repr::parse_detect_checksum(&p, R1, MCAST6),
            Err(Error::WrongFamily)
        );
    }

    #[test]
    fn test_bad_checksum() {
        let msg = ChecksumMode::MessageOnly;
        let mut bytes = V2_PASS;
        bytes[19] ^= 0x01;
        let p = Packet::new_unchecked(&bytes[..]);
        assert_eq!(
            Repr::parse(&p, AddressFamily::Ipv4, msg),
            Err(Error::BadChecksum)
        );
        // v3 with the wrong destination in the pseudo-header (unicast
        // summed with the multicast group: pre-1.3.6 keepalived).
        let p = Packet::new_unchecked(&V3_UCAST[..]);
        let wrong = ChecksumMode::PseudoHeader {
            src: R1,
            dst: MCAST4,
        };
        assert_eq!(
            Repr::parse(&p, AddressFamily::Ipv4, wrong),
            Err(Error::BadChecksum)
        );
        assert_eq!(
            Repr::parse(&p, AddressFamily::Ipv4, msg),
            Err(Error::BadChecksum)
        );
    }

    #[test]
    fn test_truncated() {
        for bytes in [&V2_PASS[..], &V3_ADV01[..], &V3_IPV6[..]] {
            let family = if bytes.len() == 24 {
                AddressFamily::Ipv6
            } else {
                AddressFamily::Ipv4
            };
            for len in 0..bytes.len() {
                let p = Packet::new_unchecked(&bytes[..len]);
                assert_eq!(
                    Repr::parse(&p, family, ChecksumMode::MessageOnly),
                    Err(Error::Truncated),
                    "len {len}"
                );
            }
        }
        assert_eq!(
            Packet::new_checked(&V2_PASS[..7]).err(),
            Some(Error::Truncated)
        );
    }

    #[test]
    fn test_too_long() {
        let mut bytes = [0u8; 21];
        bytes[..20].copy_from_slice(&V2_PASS);
        let p = Packet::new_unchecked(&bytes[..]);
        assert_eq!(
            Repr::parse(&p, AddressFamily::Ipv4, ChecksumMode::MessageOnly),
            Err(Error::BadLength {
                len: 21,
                expected: 20
            })
        );
        // A v3 IPv4 message read as if carried by IPv6 is too short.
        let p = Packet::new_unchecked(&V3_ADV01[..]);
        assert_eq!(
            Repr::parse(&p, AddressFamily::Ipv6, ChecksumMode::MessageOnly),
            Err(Error::Truncated)
        );
    }

    /// Emit `repr` message-only (bypassing `check`), then parse it back.
    fn roundtrip(repr: &Repr, family: AddressFamily) -> Result<Repr, Error> {
        let mut buf = [0u8; 128];
        let len = repr.buffer_len();
        repr.emit(
            &mut Packet::new_unchecked(&mut buf[..len]),
            ChecksumMode::MessageOnly,
        );
        Repr::parse(
            &Packet::new_unchecked(&buf[..len]),
            family,
            ChecksumMode::MessageOnly,
        )
    }

    #[test]
    fn test_bad_version_and_type() {
        for version in [0u8, 1, 4, 15] {
            let mut bytes = V2_PASS;
            bytes[0] = (version << 4) | 1;
            let p = Packet::new_unchecked(&bytes[..]);
            assert_eq!(
                Repr::parse(&p, AddressFamily::Ipv4, ChecksumMode::MessageOnly),
                Err(Error::BadVersion { version })
            );
        }
        for ptype in [0u8, 2, 15] {
            let mut bytes = V2_PASS;
            bytes[0] = 0x20 | ptype;
            let p = Packet::new_unchecked(&bytes[..]);
            assert_eq!(
                Repr::parse(&p, AddressFamily::Ipv4, ChecksumMode::MessageOnly),
                Err(Error::BadType { ptype })
            );
        }
    }

    #[test]
    fn test_zero_interval_and_count() {
        let mut r = repr(Version::V3, 100, 0, &[VIP], 0, [0; 8]);
        assert_eq!(r.check(AddressFamily::Ipv4), Err(Error::ZeroInterval));
        assert_eq!(roundtrip(&r, AddressFamily::Ipv4), Err(Error::ZeroInterval));
        r.max_adver_int_cs = 100;
        r.addrs.clear();
        r.addr_count = 0;
        assert_eq!(
            r.check(AddressFamily::Ipv4),
            Err(Error::BadAddrCount { count: 0 })
        );
        assert_eq!(
            roundtrip(&r, AddressFamily::Ipv4),
            Err(Error::BadAddrCount { count: 0 })
        );
        // v2 with zero addresses is accepted (keepalived without
        // vrrp_strict sends those); a zero v2 interval is not.
        let mut r2 = repr(Version::V2, 100, 100, &[], 1, PASS);
        assert_eq!(roundtrip(&r2, AddressFamily::Ipv4), Ok(r2.clone()));
        r2.max_adver_int_cs = 50;
        assert_eq!(r2.check(AddressFamily::Ipv4), Err(Error::Unrepresentable));
        assert_eq!(
            roundtrip(&r2, AddressFamily::Ipv4),
            Err(Error::ZeroInterval)
        );
    }

    #[test]
    fn test_wrong_family() {
        let r = repr(Version::V2, 100, 100, &[VIP6], 0, [0; 8]);
        assert_eq!(r.check(AddressFamily::Ipv6), Err(Error::WrongFamily));
        assert_eq!(roundtrip(&r, AddressFamily::Ipv6), Err(Error::WrongFamily));
        let r = repr(Version::V3, 100, 100, &[VIP6], 0, [0; 8]);
        assert_eq!(r.check(AddressFamily::Ipv4), Err(Error::WrongFamily));
        assert_eq!(r.check(AddressFamily::Ipv6), Ok(()));
        let p = Packet::new_unchecked(&V3_IPV6[..]);
        let v4mode = ChecksumMode::PseudoHeader {
            src: R1,
            dst: MCAST4,
        };
        assert_eq!(
            Repr::parse(&p, AddressFamily::Ipv6, v4mode),
            Err(Error::WrongFamily)
        );
    }

    #[test]
    fn test_interval_encoding() {
        // v3: 12 bits, reserved bits ignored on receive.
        let r = repr(Version::V3, 100, 4095, &[VIP], 0, [0; 8]);
        assert_eq!(roundtrip(&r, AddressFamily::Ipv4), Ok(r.clone()));
        let mut over = r.clone();
        over.max_adver_int_cs = 4096;
        assert_eq!(over.check(AddressFamily::Ipv4), Err(Error::Unrepresentable));
        assert_eq!(
            roundtrip(&over, AddressFamily::Ipv4).map(|r| r.max_adver_int_cs),
            Ok(4095)
        );
        let mut bytes = [0u8; 12];
        r.emit(
            &mut Packet::new_unchecked(&mut bytes[..]),
            ChecksumMode::MessageOnly,
        );
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_rsvd(0xf);
        assert_eq!(p.max_adver_int_cs(), 4095);
        p.fill_checksum(ChecksumMode::MessageOnly).unwrap();
        let parsed = Repr::parse(
            &Packet::new_unchecked(&bytes[..]),
            AddressFamily::Ipv4,
            ChecksumMode::MessageOnly,
        );
        assert_eq!(parsed, Ok(r));
        // v2: seconds on the wire, centiseconds in the Repr.
        let r = repr(Version::V2, 100, 25500, &[VIP], 0, [0; 8]);
        let mut bytes = [0u8; 20];
        r.emit(
            &mut Packet::new_unchecked(&mut bytes[..]),
            ChecksumMode::MessageOnly,
        );
        assert_eq!(bytes[5], 255);
        assert_eq!(roundtrip(&r, AddressFamily::Ipv4), Ok(r));
    }

    #[test]
    fn test_many_addrs_truncated_to_max_vips() {
        let n = MAX_VIPS + 3;
        let mut buf = [0u8; HEADER_LEN + 4 * 258 + AUTH_DATA_LEN];
        let len = HEADER_LEN + 4 * n;
        let mut p = Packet::new_unchecked(&mut buf[..len]);
        p.set_version(3);
        p.set_msg_type(1);
        p.set_vrid(7);
        p.set_priority(100);
        p.set_addr_count(n as u8);
        p.set_rsvd(0);
        p.set_max_adver_int_cs(100);
        for i in 0..n {
            assert!(p.set_addr(i, v4(192, 0, 2, i as u8)));
        }
        p.fill_checksum(ChecksumMode::MessageOnly).unwrap();
        let r = Repr::parse(
            &Packet::new_unchecked(&buf[..len]),
            AddressFamily::Ipv4,
            ChecksumMode::MessageOnly,
        )
        .unwrap();
        assert_eq!(usize::from(r.addr_count), n);
        assert_eq!(r.addrs.len(), MAX_VIPS);
        assert_eq!(r.addrs[MAX_VIPS - 1], v4(192, 0, 2, (MAX_VIPS - 1) as u8));
        assert_eq!(
            r.check(AddressFamily::Ipv4),
            Err(Error::BadAddrCount { count: n as u8 })
        );
    }

    #[test]
    fn test_no_panic_on_any_short_or_odd_input() {
        // Every prefix of every golden message, with every first byte,
        // both families and all modes: parse must return, never panic.
        let modes = [
            ChecksumMode::MessageOnly,
            ChecksumMode::PseudoHeader {
                src: R1,
                dst: MCAST4,
            },
            ChecksumMode::PseudoHeader {
                src: R1_LL,
                dst: MCAST6,
            },
        ];
        for (bytes, ..) in golden() {
            for first in 0..=255u8 {
                let mut b = [0u8; 24];
                b[..bytes.len()].copy_from_slice(bytes);
                b[0] = first;
                b[3] = first; // address count too
                for len in 0..=bytes.len() {
                    for family in [AddressFamily::Ipv4, AddressFamily::Ipv6] {
                        for mode in modes {
                            let p = Packet::new_unchecked(&b[..len]);
                            let _ = Repr::parse(&p, family, mode);
                            let _ = p.addr(usize::MAX, family);
                            let _ = p.auth_data(family);
                        }
                    }
                }
            }
        }
    }
}
