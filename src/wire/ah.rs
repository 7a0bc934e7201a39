//! VRRPv2 `auth_type AH`: an IPsec Authentication Header (RFC 2402) between
//! the IPv4 header and the VRRP message, exactly as keepalived builds and
//! checks it (`vrrp.c`, `vrrp_ipsecah.h`).
//!
//! ```text
//!  IPv4 header (protocol 51, TOS 0xc0, TTL 255 unless configured)
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Header=112| Payload Len=4|          RESERVED             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Security Parameters Index = the sender's IPv4 address     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        ICV: HMAC-MD5-96 (12 octets)                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  VRRPv2 message, auth_type 2, 8 octets of zero authentication data
//! ```
//!
//! * Payload Len is in 32-bit words minus 2: (24 / 4) - 2 = 4.
//! * The SPI is not negotiated: keepalived writes its IPv4 source address
//!   there and the receiver requires SPI == the IP source address.
//! * The ICV is HMAC-MD5 (RFC 2104) truncated to its first 96 bits, keyed
//!   with the 8-octet zero-padded `auth_pass` (all 8 octets, zeros included).
//! * What is hashed (see [`compute_icv`]): the IPv4 header with TOS,
//!   flags/fragment offset and header checksum set to zero, and the TTL set
//!   to zero **only in unicast mode** (multicast hashes TTL 255); then the
//!   AH header with the ICV zeroed; then the whole VRRP message (whose
//!   checksum is computed first, over auth data of zeros). Identification,
//!   Total Length, protocol and both addresses are hashed as sent.
//! * Sequence numbers: see [`AhSeq`].
//!
//! The panic contract of [`crate::wire`] applies to [`Packet`] and to every
//! function here.

use core::net::Ipv4Addr;

use super::ipv4::{self, PROTOCOL_AH, TOS_VRRP};
use super::md5::{self, HmacMd5};
use super::vrrp::{self, ChecksumMode, Version};
use super::{AddressFamily, Error};

/// Length of keepalived's AH header (12 fixed octets + 12 octets of ICV).
pub const HEADER_LEN: usize = 24;
/// Length of the truncated ICV (HMAC-MD5-96).
pub const ICV_LEN: usize = 12;
/// Payload Len value for a 96-bit ICV: header length in 32-bit words minus 2.
pub const PAYLOAD_LEN: u8 = 4;
/// Length of the HMAC key: `auth_pass`, zero-padded (keepalived `auth_data`).
pub const KEY_LEN: usize = 8;
/// Longest IPv4 header (IHL 15): bounds the stack copy in [`compute_icv`].
const MAX_IP_HEADER_LEN: usize = 60;

mod field {
    use crate::wire::field::Field;

    pub const NEXT_HEADER: usize = 0;
    pub const PAYLOAD_LEN: usize = 1;
    pub const RESERVED: Field = 2..4;
    pub const SPI: Field = 4..8;
    pub const SEQ: Field = 8..12;
    pub const ICV: Field = 12..24;
}

/// Offsets of the mutable fields keepalived zeroes in the IPv4 header.
mod ip_field {
    pub const TOS: usize = 1;
    pub const FLG_OFF: core::ops::Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const CHECKSUM: core::ops::Range<usize> = 10..12;
}

/// A read/write wrapper around an AH header buffer (the IPv4 payload).
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

    /// Ensure the 24-octet header fits ([`Error::Truncated`]); after that
    /// no accessor or setter panics.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Consume the packet, returning the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Payload Len: AH length in 32-bit words minus 2.
    pub fn payload_len(&self) -> u8 {
        self.buffer.as_ref()[field::PAYLOAD_LEN]
    }

    pub fn reserved(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::RESERVED];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The SPI, read as the IPv4 address keepalived puts there.
    pub fn spi(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SPI];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn seq_number(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::SEQ];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The 96-bit Integrity Check Value.
    pub fn icv(&self) -> [u8; ICV_LEN] {
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(&self.buffer.as_ref()[field::ICV]);
        icv
    }

    /// What follows the header (the VRRP message).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = value;
    }

    pub fn set_payload_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PAYLOAD_LEN] = value;
    }

    pub fn set_reserved(&mut self, value: u16) {
        self.buffer.as_mut()[field::RESERVED].copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_spi(&mut self, spi: Ipv4Addr) {
        self.buffer.as_mut()[field::SPI].copy_from_slice(&spi.octets());
    }

    pub fn set_seq_number(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
    }

    pub fn set_icv(&mut self, icv: &[u8; ICV_LEN]) {
        self.buffer.as_mut()[field::ICV].copy_from_slice(icv);
    }

    /// What follows the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..)
            .unwrap_or(&mut [])
    }
}

/// The HMAC key for `auth_pass` as keepalived makes it: the first 8 octets,
/// zero-padded (config parsers that already hold the 8-octet `auth_pass`
/// can use it directly).
pub fn key_from_pass(pass: &[u8]) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    for (k, p) in key.iter_mut().zip(pass) {
        *k = *p;
    }
    key
}

/// The ICV of an IPv4 + AH + VRRP datagram (the whole datagram, up to its
/// Total Length), computed as keepalived does: HMAC-MD5 keyed with `key`
/// over the IPv4 header (options included) with TOS, flags/fragment offset,
/// header checksum and, if `unicast`, TTL zeroed; the AH header with its
/// ICV zeroed; and everything after the AH header up to Total Length; the
/// digest truncated to 96 bits. The ICV present in the buffer is ignored.
///
/// Errors: [`Error::Truncated`], [`Error::BadIhl`], [`Error::BadTotalLength`]
/// if the header lengths do not fit the buffer or leave no room for AH.
pub fn compute_icv(
    datagram: &[u8],
    key: &[u8; KEY_LEN],
    unicast: bool,
) -> Result<[u8; ICV_LEN], Error> {
    let ip = ipv4::Packet::new_checked(datagram)?;
    let header_len = ip.header_len();
    let total_len = usize::from(ip.total_len());
    let ah_end = header_len.checked_add(HEADER_LEN).ok_or(Error::Truncated)?;
    if total_len < ah_end {
        return Err(Error::Truncated);
    }
    let mut header = [0u8; MAX_IP_HEADER_LEN];
    let header = header
        .get_mut(..header_len)
        .ok_or(Error::BadIhl { ihl: ip.ihl() })?;
    header.copy_from_slice(datagram.get(..header_len).ok_or(Error::Truncated)?);
    header[ip_field::TOS] = 0;
    header[ip_field::FLG_OFF].fill(0);
    header[ip_field::CHECKSUM].fill(0);
    if unicast {
        header[ip_field::TTL] = 0;
    }
    let mut ah = [0u8; HEADER_LEN];
    ah.copy_from_slice(datagram.get(header_len..ah_end).ok_or(Error::Truncated)?);
    ah[field::ICV].fill(0);
    let rest = datagram.get(ah_end..total_len).ok_or(Error::Truncated)?;

    let mut mac = HmacMd5::new(key);
    mac.update(header);
    mac.update(&ah);
    mac.update(rest);
    let digest = mac.finalize();
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&digest[..ICV_LEN]);
    Ok(icv)
}

/// Write an IPv4 + AH + VRRPv2 advertisement as keepalived sends it with
/// `auth_type AH` into `buf` and return its length: IPv4 header (TOS 0xc0,
/// identification `ident`, no fragment flags, TTL `ttl`, protocol 51,
/// checksum filled), AH header (next header 112, payload len 4, SPI =
/// `src`, sequence number `seq`, ICV), then `repr` emitted with auth type 2
/// and 8 octets of zero authentication data whatever `repr` says.
///
/// `unicast` must be the sender's mode (unicast peers configured): it
/// decides whether the TTL is hashed. Use the same `ident` and `seq` for
/// every unicast peer of one advert (keepalived increments both once per
/// advert, not per peer).
///
/// Errors: [`Error::BufferTooSmall`]; [`Error::BadVersion`] if `repr` is
/// not VRRPv2 (AH exists only for v2); the [`vrrp::Repr::check`] errors.
#[allow(clippy::too_many_arguments)]
pub fn emit_ipv4_ah_vrrp(
    buf: &mut [u8],
    ident: u16,
    ttl: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    seq: u32,
    key: &[u8; KEY_LEN],
    unicast: bool,
    repr: &vrrp::Repr,
) -> Result<usize, Error> {
    if repr.version != Version::V2 {
        return Err(Error::BadVersion {
            version: repr.version.number(),
        });
    }
    repr.check(AddressFamily::Ipv4)?;
    let mut vrrp_repr = repr.clone();
    vrrp_repr.auth_type = vrrp::AUTH_TYPE_AH;
    vrrp_repr.auth_data = [0; vrrp::AUTH_DATA_LEN];
    let vrrp_len = vrrp_repr.buffer_len();
    let ip = ipv4::Repr {
        src,
        dst,
        protocol: PROTOCOL_AH,
        ttl,
        tos: TOS_VRRP,
        ident,
        header_len: ipv4::HEADER_LEN,
        payload_len: HEADER_LEN + vrrp_len,
    };
    let needed = ip.buffer_len();
    if needed > usize::from(u16::MAX) {
        return Err(Error::Unrepresentable);
    }
    let got = buf.len();
    let frame = buf
        .get_mut(..needed)
        .ok_or(Error::BufferTooSmall { needed, got })?;
    let (header, payload) = frame.split_at_mut(ipv4::HEADER_LEN);
    ip.emit(&mut ipv4::Packet::new_unchecked(header));
    let (ah_bytes, vrrp_bytes) = payload.split_at_mut(HEADER_LEN);
    vrrp_repr.emit(
        &mut vrrp::Packet::new_unchecked(vrrp_bytes),
        ChecksumMode::MessageOnly,
    );
    let mut ah = Packet::new_unchecked(ah_bytes);
    ah.set_next_header(vrrp::PROTOCOL);
    ah.set_payload_len(PAYLOAD_LEN);
    ah.set_reserved(0);
    ah.set_spi(src);
    ah.set_seq_number(seq);
    ah.set_icv(&[0; ICV_LEN]);
    let icv = compute_icv(frame, key, unicast)?;
    let (_, payload) = frame.split_at_mut(ipv4::HEADER_LEN);
    Packet::new_unchecked(payload).set_icv(&icv);
    Ok(needed)
}

/// Parse and authenticate what a raw IPv4 socket for protocol 51 returns
/// (IPv4 header, AH, VRRP), in keepalived's order:
///
/// 1. [`ipv4::Repr::parse`] (version, lengths, header checksum, fragments);
/// 2. protocol 51 ([`Error::BadProtocol`]);
/// 3. the AH header fits ([`Error::Truncated`]), Next Header is 112
///    ([`Error::BadAhNextHeader`]; keepalived ignores such packets) and
///    Payload Len is 4 ([`Error::BadAhLength`]);
/// 4. the ICV verifies under `key`, in `unicast` mode or not (constant-time
///    compare, [`Error::BadIcv`]): nothing after this point is trusted
///    before it;
/// 5. SPI == IPv4 source address ([`Error::BadSpi`]);
/// 6. the VRRP message parses as VRRPv2 ([`vrrp::Repr::parse`] errors;
///    a v3 message is [`Error::BadVersion`]).
///
/// Returns the IPv4 header, the AH sequence number (feed it to
/// [`AhSeq::accept_rx`]: the replay check is per instance, so it is the
/// caller's) and the VRRP advert. The caller still checks the TTL (255 in
/// multicast mode), VRID, auth type 2, interval and addresses as for any
/// advert.
pub fn parse_ipv4_ah_vrrp(
    buf: &[u8],
    key: &[u8; KEY_LEN],
    unicast: bool,
) -> Result<(ipv4::Repr, u32, vrrp::Repr), Error> {
    let ip = ipv4::Repr::parse(&ipv4::Packet::new_unchecked(buf))?;
    if ip.protocol != PROTOCOL_AH {
        return Err(Error::BadProtocol {
            protocol: ip.protocol,
        });
    }
    let payload = buf.get(ip.payload_range()).ok_or(Error::Truncated)?;
    let ah = Packet::new_checked(payload)?;
    if ah.next_header() != vrrp::PROTOCOL {
        return Err(Error::BadAhNextHeader {
            next_header: ah.next_header(),
        });
    }
    if ah.payload_len() != PAYLOAD_LEN {
        return Err(Error::BadAhLength {
            payload_len: ah.payload_len(),
        });
    }
    let expected = compute_icv(buf, key, unicast)?;
    if !md5::ct_eq(&ah.icv(), &expected) {
        return Err(Error::BadIcv);
    }
    if ah.spi() != ip.src {
        return Err(Error::BadSpi {
            spi: u32::from(ah.spi()),
        });
    }
    let packet = vrrp::Packet::new_unchecked(ah.payload());
    let repr = vrrp::Repr::parse(&packet, AddressFamily::Ipv4, ChecksumMode::MessageOnly)?;
    if repr.version != Version::V2 {
        return Err(Error::BadVersion {
            version: repr.version.number(),
        });
    }
    Ok((ip, ah.seq_number(), repr))
}

/// The VRID of an IPv4 + AH + VRRP datagram, **not authenticated**: only
/// for finding the instance (and with it the key) before
/// [`parse_ipv4_ah_vrrp`] authenticates the packet, as keepalived's
/// dispatcher does. `None` if the datagram is too short to hold it.
pub fn peek_vrid(datagram: &[u8]) -> Option<u8> {
    let ip = ipv4::Packet::new_checked(datagram).ok()?;
    let offset = ip.header_len().checked_add(HEADER_LEN)?.checked_add(1)?;
    if offset >= usize::from(ip.total_len()) {
        return None;
    }
    datagram.get(offset).copied()
}

/// A sequence number already seen (or older) on receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AhError {
    /// keepalived: "IPSEC-AH : sequence number %u already processed.
    /// Packet dropped. Local(%u)".
    Replay { seq: u32, last: u32 },
}

impl From<AhError> for Error {
    fn from(e: AhError) -> Error {
        match e {
            AhError::Replay { seq, last } => Error::AhReplay { seq, last },
        }
    }
}

impl core::fmt::Display for AhError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        Error::from(*self).fmt(f)
    }
}

impl core::error::Error for AhError {}

/// Above this value, transmit stops incrementing and marks the counter as
/// cycled (keepalived: `seq_number > 0xFFFFFFFD`).
pub const SEQ_CYCLE_THRESHOLD: u32 = 0xffff_fffd;

/// keepalived's per-instance AH sequence counter (`seq_counter_t`): **one
/// counter shared by receive and transmit**. It starts at 0 with the
/// process (it is not persisted), so the first advert a fresh master sends
/// carries 1, and a node that heard adverts continues from the last value
/// it heard.
///
/// Events, with keepalived's semantics (`vrrp.c` / `vrrp_state` 2.2.7):
///
/// * [`AhSeq::accept_rx`], for every advert whose ICV and SPI verified, in
///   any state: the received sequence number must be **strictly greater**
///   than the counter, which then takes the received value; otherwise the
///   advert is dropped (replay). Note that the counter is not per sender: a
///   backup hearing two masters drops the one that is behind.
/// * [`AhSeq::next_tx`], once per advert sent (not once per unicast peer):
///   the counter is incremented and sent; when it is already above
///   0xFFFFFFFD it is not incremented any more (the same value goes out
///   again) and the counter is marked *cycled*.
/// * [`AhSeq::on_backup_rx`]: in BACKUP, an accepted AH advert clears the
///   cycled mark (another master is alive and ahead).
/// * [`AhSeq::on_master_rx_lower_priority`]: a master that receives a
///   lower-priority (or equal priority, lower address) accepted AH advert
///   resyncs to that advert's sequence number + 1 (wrapping) and clears the
///   mark; keepalived then sends an advert at once (unless
///   `lower_prio_no_advert`), which carries + 2.
/// * [`AhSeq::on_master_rx_higher_priority`]: a master that receives a
///   higher-priority advert (and goes back to BACKUP) clears the mark.
/// * [`AhSeq::on_goto_master`]: on the transition to MASTER, a cycled
///   counter is reset to 0 (and the mark cleared); otherwise it is kept.
///
/// At one advert per second (VRRPv2 intervals are whole seconds) the
/// counter needs 136 years to cycle; the rules exist for completeness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AhSeq {
    seq_number: u32,
    cycle: bool,
}

impl AhSeq {
    /// A fresh counter (0, not cycled), as at keepalived's start.
    pub const fn new() -> AhSeq {
        AhSeq {
            seq_number: 0,
            cycle: false,
        }
    }

    /// The current counter value (the last sequence number sent or
    /// accepted).
    pub const fn seq_number(&self) -> u32 {
        self.seq_number
    }

    /// Whether transmit reached the end of the sequence space.
    pub const fn cycled(&self) -> bool {
        self.cycle
    }

    /// Receive: accept `seq` if strictly greater than the counter (the
    /// counter takes it), else [`AhError::Replay`] (counter unchanged).
    pub fn accept_rx(&mut self, seq: u32) -> Result<(), AhError> {
        if seq > self.seq_number {
            self.seq_number = seq;
            Ok(())
        } else {
            Err(AhError::Replay {
                seq,
                last: self.seq_number,
            })
        }
    }

    /// Transmit: the sequence number for the next advert (see the type
    /// docs for the end of the space).
    pub fn next_tx(&mut self) -> u32 {
        if self.seq_number > SEQ_CYCLE_THRESHOLD {
            self.cycle = true;
        } else {
            self.seq_number += 1;
        }
        self.seq_number
    }

    /// BACKUP received an accepted AH advert: clear the cycled mark.
    pub fn on_backup_rx(&mut self) {
        self.cycle = false;
    }

    /// MASTER received an accepted lower-priority AH advert carrying `seq`:
    /// resync to `seq + 1` (wrapping, as keepalived's `uint32_t`).
    pub fn on_master_rx_lower_priority(&mut self, seq: u32) {
        self.seq_number = seq.wrapping_add(1);
        self.cycle = false;
    }

    /// MASTER received a higher-priority advert: clear the cycled mark.
    pub fn on_master_rx_higher_priority(&mut self) {
        self.cycle = false;
    }

    /// Transition to MASTER: a cycled counter restarts from 0.
    pub fn on_goto_master(&mut self) {
        if self.cycle {
            self.cycle = false;
            self.seq_number = 0;
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use core::net::IpAddr;

    /// tests/ah_golden/ah-mcast.pcap frame 1 (IPv4 datagram, Ethernet
    /// header removed): keepalived 2.2.7, r1 192.0.2.1 prio 200, seq 1.
    static MCAST_1: [u8; 64] = [
        0x45, 0xc0, 0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0xff, 0x33, 0x18, 0xb6, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x70, 0x04, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00,
        0x00, 0x01, 0x73, 0x49, 0x81, 0x05, 0x9d, 0xb3, 0x2f, 0xd5, 0xe7, 0x44, 0x17, 0x96, 0x21,
        0x33, 0xc8, 0x01, 0x02, 0x01, 0x52, 0x65, 0xc0, 0x00, 0x02, 0x64, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];
    /// tests/ah_golden/ah-ucast.pcap frame 1: r1 -> r2 unicast, seq 1.
    static UCAST_1: [u8; 64] = [
        0x45, 0xc0, 0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0xff, 0x33, 0x36, 0xc6, 0xc0, 0x00, 0x02,
        0x01, 0xc0, 0x00, 0x02, 0x02, 0x70, 0x04, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00,
        0x00, 0x01, 0x53, 0x3b, 0x50, 0x03, 0x04, 0x80, 0x8a, 0x81, 0x12, 0x90, 0xb7, 0x44, 0x21,
        0x33, 0xc8, 0x01, 0x02, 0x01, 0x52, 0x65, 0xc0, 0x00, 0x02, 0x64, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];

    const KEY: [u8; 8] = *b"secret12";
    const R1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const R2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

    fn advert(priority: u8) -> vrrp::Repr {
        vrrp::Repr {
            version: Version::V2,
            vrid: 51,
            priority,
            max_adver_int_cs: 100,
            addr_count: 1,
            addrs: heapless::Vec::from_slice(&[VIP]).unwrap(),
            auth_type: vrrp::AUTH_TYPE_AH,
            auth_data: [0; 8],
        }
    }

    #[test]
    fn test_deconstruct() {
        let ah = Packet::new_checked(&MCAST_1[20..]).unwrap();
        assert_eq!(ah.next_header(), 112);
        assert_eq!(ah.payload_len(), 4);
        assert_eq!(ah.reserved(), 0);
        assert_eq!(ah.spi(), R1);
        assert_eq!(ah.seq_number(), 1);
        assert_eq!(
            ah.icv(),
            [
                0x73, 0x49, 0x81, 0x05, 0x9d, 0xb3, 0x2f, 0xd5, 0xe7, 0x44, 0x17, 0x96
            ]
        );
        assert_eq!(ah.payload(), &MCAST_1[44..]);
    }

    #[test]
    fn test_construct() {
        let mut bytes = [0xa5u8; 24];
        let mut ah = Packet::new_unchecked(&mut bytes[..]);
        ah.set_next_header(112);
        ah.set_payload_len(4);
        ah.set_reserved(0);
        ah.set_spi(R1);
        ah.set_seq_number(1);
        let mut icv = [0u8; 12];
        icv.copy_from_slice(&MCAST_1[32..44]);
        ah.set_icv(&icv);
        assert!(ah.payload_mut().is_empty());
        assert_eq!(&ah.into_inner()[..], &MCAST_1[20..44]);
    }

    #[test]
    fn test_check_len() {
        for len in 0..24 {
            assert_eq!(
                Packet::new_checked(&MCAST_1[20..20 + len]),
                Err(Error::Truncated)
            );
        }
    }

    #[test]
    fn test_icv_of_captures() {
        assert_eq!(
            compute_icv(&MCAST_1, &KEY, false).unwrap()[..],
            MCAST_1[32..44]
        );
        assert_eq!(
            compute_icv(&UCAST_1, &KEY, true).unwrap()[..],
            UCAST_1[32..44]
        );
        // The TTL rule matters: the other mode gives another ICV.
        assert_ne!(
            compute_icv(&MCAST_1, &KEY, true).unwrap()[..],
            MCAST_1[32..44]
        );
        assert_ne!(
            compute_icv(&UCAST_1, &KEY, false).unwrap()[..],
            UCAST_1[32..44]
        );
    }

    #[test]
    fn test_parse_captures() {
        let (ip, seq, repr) = parse_ipv4_ah_vrrp(&MCAST_1, &KEY, false).unwrap();
        assert_eq!(
            (ip.src, ip.dst, ip.ttl, ip.ident),
            (R1, vrrp::MCAST_GROUP_V4, 255, 1)
        );
        assert_eq!(ip.protocol, 51);
        assert_eq!(seq, 1);
        assert_eq!(repr, advert(200));
        let (ip, seq, repr) = parse_ipv4_ah_vrrp(&UCAST_1, &KEY, true).unwrap();
        assert_eq!((ip.src, ip.dst, seq), (R1, R2, 1));
        assert_eq!(repr, advert(200));
    }

    #[test]
    fn test_emit_reproduces_captures() {
        for (bytes, dst, unicast) in [
            (&MCAST_1, vrrp::MCAST_GROUP_V4, false),
            (&UCAST_1, R2, true),
        ] {
            let mut buf = [0xa5u8; 80];
            // auth_type and auth_data of the input are overridden.
            let mut repr = advert(200);
            repr.auth_type = 0;
            repr.auth_data = *b"garbage!";
            let n = emit_ipv4_ah_vrrp(&mut buf, 1, 255, R1, dst, 1, &KEY, unicast, &repr).unwrap();
            assert_eq!(&buf[..n], &bytes[..]);
            assert!(buf[n..].iter().all(|&b| b == 0xa5));
        }
    }

    #[test]
    fn test_emit_errors() {
        let repr = advert(200);
        let mut small = [0u8; 63];
        assert_eq!(
            emit_ipv4_ah_vrrp(&mut small, 1, 255, R1, R2, 1, &KEY, true, &repr),
            Err(Error::BufferTooSmall {
                needed: 64,
                got: 63
            })
        );
        let mut buf = [0u8; 64];
        let mut v3 = repr.clone();
        v3.version = Version::V3;
        assert_eq!(
            emit_ipv4_ah_vrrp(&mut buf, 1, 255, R1, R2, 1, &KEY, true, &v3),
            Err(Error::BadVersion { version: 3 })
        );
        let mut bad = repr.clone();
        bad.addr_count = 2;
        assert_eq!(
            emit_ipv4_ah_vrrp(&mut buf, 1, 255, R1, R2, 1, &KEY, true, &bad),
            Err(Error::BadAddrCount { count: 2 })
        );
    }

    #[test]
    fn test_parse_errors() {
        let key = *b"secret13";
        assert_eq!(
            parse_ipv4_ah_vrrp(&MCAST_1, &key, false),
            Err(Error::BadIcv)
        );
        // Wrong mode: the TTL is hashed differently.
        assert_eq!(parse_ipv4_ah_vrrp(&MCAST_1, &KEY, true), Err(Error::BadIcv));
        // Any flipped bit of the hashed bytes.
        for i in 20..64 {
            if (32..44).contains(&i) {
                continue;
            }
            let mut b = MCAST_1;
            b[i] ^= 0x01;
            let r = parse_ipv4_ah_vrrp(&b, &KEY, false);
            let want = match i {
                20 => Error::BadAhNextHeader { next_header: 113 },
                21 => Error::BadAhLength { payload_len: 5 },
                _ => Error::BadIcv,
            };
            assert_eq!(r, Err(want), "octet {i}");
        }
        // A flipped ICV bit.
        let mut b = MCAST_1;
        b[40] ^= 0x80;
        assert_eq!(parse_ipv4_ah_vrrp(&b, &KEY, false), Err(Error::BadIcv));
        // Mutable fields are not covered: TOS and DF may change in flight.
        let mut b = MCAST_1;
        let mut ip = ipv4::Packet::new_unchecked(&mut b[..]);
        ip.set_tos(0);
        ip.set_flags_frag_offset(0x4000);
        ip.fill_checksum();
        assert!(parse_ipv4_ah_vrrp(&b, &KEY, false).is_ok());
        // ... and in unicast mode the TTL neither.
        let mut b = UCAST_1;
        let mut ip = ipv4::Packet::new_unchecked(&mut b[..]);
        ip.set_ttl(64);
        ip.fill_checksum();
        assert!(parse_ipv4_ah_vrrp(&b, &KEY, true).is_ok());
        // Not AH.
        let mut b = MCAST_1;
        let mut ip = ipv4::Packet::new_unchecked(&mut b[..]);
        ip.set_protocol(112);
        ip.fill_checksum();
        assert_eq!(
            parse_ipv4_ah_vrrp(&b, &KEY, false),
            Err(Error::BadProtocol { protocol: 112 })
        );
        // Truncated anywhere.
        for len in 0..64 {
            assert!(
                parse_ipv4_ah_vrrp(&MCAST_1[..len], &KEY, false).is_err(),
                "len {len}"
            );
        }
    }

    /// A SPI that is not the source address, under a valid ICV.
    #[test]
    fn test_bad_spi() {
        let mut b = MCAST_1;
        Packet::new_unchecked(&mut b[20..]).set_spi(R2);
        let icv = compute_icv(&b, &KEY, false).unwrap();
        Packet::new_unchecked(&mut b[20..]).set_icv(&icv);
        assert_eq!(
            parse_ipv4_ah_vrrp(&b, &KEY, false),
            Err(Error::BadSpi { spi: 0xc000_0202 })
        );
    }

    #[test]
    fn test_peek_vrid() {
        assert_eq!(peek_vrid(&MCAST_1), Some(51));
        assert_eq!(peek_vrid(&UCAST_1), Some(51));
        assert_eq!(peek_vrid(&MCAST_1[..45]), None);
        let mut b = MCAST_1;
        let mut ip = ipv4::Packet::new_unchecked(&mut b[..]);
        ip.set_total_len(45);
        assert_eq!(peek_vrid(&b), None);
        ip = ipv4::Packet::new_unchecked(&mut b[..]);
        ip.set_total_len(46);
        assert_eq!(peek_vrid(&b), Some(51));
        assert_eq!(peek_vrid(&[]), None);
    }

    #[test]
    fn test_key_from_pass() {
        assert_eq!(key_from_pass(b"secret12"), KEY);
        assert_eq!(key_from_pass(b"secret12345"), KEY);
        assert_eq!(key_from_pass(b"abc"), *b"abc\0\0\0\0\0");
        assert_eq!(key_from_pass(b""), [0; 8]);
    }

    #[test]
    fn test_seq_rx_tx() {
        let mut s = AhSeq::new();
        assert_eq!(s.next_tx(), 1);
        assert_eq!(s.next_tx(), 2);
        assert_eq!(s.accept_rx(2), Err(AhError::Replay { seq: 2, last: 2 }));
        assert_eq!(s.accept_rx(1), Err(AhError::Replay { seq: 1, last: 2 }));
        assert_eq!(s.accept_rx(7), Ok(()));
        assert_eq!(s.seq_number(), 7);
        assert_eq!(s.next_tx(), 8);
        assert_eq!(
            Error::from(AhError::Replay { seq: 1, last: 2 }),
            Error::AhReplay { seq: 1, last: 2 }
        );
    }

    #[test]
    fn test_seq_cycle() {
        let mut s = AhSeq::new();
        s.accept_rx(0xffff_fffc).unwrap();
        assert_eq!(s.next_tx(), 0xffff_fffd);
        assert!(!s.cycled());
        assert_eq!(s.next_tx(), 0xffff_fffe);
        assert!(!s.cycled());
        // Above 0xFFFFFFFD: no more increments, marked cycled.
        assert_eq!(s.next_tx(), 0xffff_fffe);
        assert!(s.cycled());
        assert_eq!(s.next_tx(), 0xffff_fffe);
        // A backup hearing a live master clears the mark, not the counter.
        let mut b = s;
        b.on_backup_rx();
        assert!(!b.cycled());
        assert_eq!(b.seq_number(), 0xffff_fffe);
        // Becoming master with a cycled counter restarts from 0.
        s.on_goto_master();
        assert!(!s.cycled());
        assert_eq!(s.next_tx(), 1);
        // Becoming master without the mark keeps the counter.
        let mut k = AhSeq::new();
        k.accept_rx(41).unwrap();
        k.on_goto_master();
        assert_eq!(k.next_tx(), 42);
    }

    #[test]
    fn test_seq_master_resync() {
        let mut s = AhSeq::new();
        s.accept_rx(10).unwrap();
        s.on_master_rx_lower_priority(10);
        assert_eq!(s.seq_number(), 11);
        assert_eq!(s.next_tx(), 12);
        let mut w = AhSeq::new();
        w.accept_rx(u32::MAX).unwrap();
        w.next_tx();
        assert!(w.cycled());
        w.on_master_rx_lower_priority(u32::MAX);
        assert_eq!((w.seq_number(), w.cycled()), (0, false));
        let mut h = AhSeq::new();
        h.accept_rx(u32::MAX).unwrap();
        h.next_tx();
        h.on_master_rx_higher_priority();
        assert!(!h.cycled());
    }
}
