//! VRRP v2/v3 parsing, with and without the IP header, and the VRRPv2
//! `auth_type AH` receive path (IPv4 + AH + VRRP, IP protocol 51).
//!
//! The input is one packet: a bare VRRP message, a full IPv4 datagram
//! (protocol 112, or 51 with an AH header) or a full IPv6 packet (the
//! corpus holds all of them; every input goes through every parser). Each parser also sees a copy whose checksums were fixed
//! up first, so that the fuzzer gets past the checksum gate and reaches the
//! code behind it.
//!
//! Properties, beyond "never panics":
//! * whatever parses and passes `Repr::check` re-emits to bytes that parse to
//!   the same `Repr` (and the same IP fields), and the emitted message equals
//!   the input except for the checksum field and the v3 reserved bits;
//! * a parsed `Repr` keeps at most `MAX_VIPS` addresses, all of the carrier's
//!   family, and `addrs.len() == min(addr_count, MAX_VIPS)`;
//! * the packet accessors never panic after `new_checked`;
//! * AH (`parse_ah`): `peek_vrid`, `compute_icv` and `parse_ipv4_ah_vrrp`
//!   in both ICV modes (multicast hashes the TTL, unicast does not), with
//!   the golden captures' key and a wrong one, on the input and on copies
//!   whose IPv4 checksum, VRRP checksum, SPI and ICV were fixed up (to get
//!   past each gate). A datagram that verifies carries exactly the ICV
//!   `compute_icv` gives, SPI == source, VRRPv2, and the VRID `peek_vrid`
//!   saw (the unauthenticated demultiplexing agrees with the authenticated
//!   parse); one whose ICV was just computed never fails with `BadIcv`; a
//!   wrong key always does. What verifies re-emits with
//!   `emit_ipv4_ah_vrrp` to a datagram that parses back to the same IP
//!   fields, sequence number and advert, and fails under a wrong key or (TTL
//!   not 0) the other mode. The protocol-112 parser refuses every AH
//!   datagram and the AH parser every protocol-112 one.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepvip::limits::MAX_VIPS;
use keepvip::wire::vrrp::{self, ChecksumMode, Packet, Repr, Version};
use keepvip::wire::{AddressFamily, Error, ah, ipv4, ipv6};
use libfuzzer_sys::fuzz_target;

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const DST4: IpAddr = IpAddr::V4(vrrp::MCAST_GROUP_V4);
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
const DST6: IpAddr = IpAddr::V6(vrrp::MCAST_GROUP_V6);

/// Largest message we copy for the fix-up variants (header + 255 IPv6
/// addresses + auth data, plus an IPv4 header with options).
const BUF: usize = 60 + 8 + 255 * 16 + 8;

/// `auth_pass` of the AH golden captures (tests/ah_golden/), and another.
const AH_KEY: [u8; ah::KEY_LEN] = *b"secret12";
const AH_WRONG_KEY: [u8; ah::KEY_LEN] = *b"secret13";

const FAMILIES: [AddressFamily; 2] = [AddressFamily::Ipv4, AddressFamily::Ipv6];

fn modes() -> [ChecksumMode; 5] {
    [
        ChecksumMode::MessageOnly,
        ChecksumMode::PseudoHeader {
            src: SRC4,
            dst: DST4,
        },
        ChecksumMode::PseudoHeader {
            src: SRC6,
            dst: DST6,
        },
        // Mixed families: must be refused, never panic.
        ChecksumMode::PseudoHeader {
            src: SRC4,
            dst: DST6,
        },
        ChecksumMode::PseudoHeader {
            src: SRC6,
            dst: DST4,
        },
    ]
}

fn family_of(a: &IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    }
}

/// Every accessor of a checked packet (none may panic).
fn touch_accessors(data: &[u8]) {
    let Ok(p) = Packet::new_checked(data) else {
        assert!(data.len() < vrrp::HEADER_LEN);
        return;
    };
    let _ = (p.version(), p.msg_type(), p.vrid(), p.priority());
    let _ = (p.auth_type(), p.adver_int_s(), p.rsvd());
    assert!(p.max_adver_int_cs() <= vrrp::MAX_ADVER_INT_CS_MAX);
    let _ = p.checksum();
    for family in FAMILIES {
        let _ = p.expected_len(family);
        let _ = p.auth_data(family);
        for i in 0..=usize::from(p.addr_count()) {
            let _ = p.addr(i, family);
        }
        let _ = p.addr(usize::MAX, family);
    }
    for mode in modes() {
        let _ = p.verify_checksum(mode);
    }
}

/// Checks a successful parse and its round trip through `emit`.
fn check_parsed(input: &[u8], repr: &Repr, family: AddressFamily, mode: ChecksumMode) {
    assert!(repr.addrs.len() <= MAX_VIPS);
    assert_eq!(
        repr.addrs.len(),
        usize::from(repr.addr_count).min(MAX_VIPS),
        "addrs vs addr_count"
    );
    assert!(repr.addrs.iter().all(|a| family_of(a) == family));
    assert_ne!(repr.max_adver_int_cs, 0);
    if repr.version == Version::V2 {
        assert_eq!(family, AddressFamily::Ipv4);
        assert!(repr.max_adver_int_cs.is_multiple_of(100));
    } else {
        assert!(repr.addr_count > 0);
        assert_eq!(repr.auth_type, 0);
        assert_eq!(repr.auth_data, [0; 8]);
    }
    if repr.check(family).is_err() {
        // Only more than MAX_VIPS addresses can make a parsed Repr unfaithful.
        assert!(usize::from(repr.addr_count) > MAX_VIPS, "{repr:?}");
        return;
    }
    let len = repr.buffer_len();
    assert_eq!(len, input.len(), "buffer_len of a parsed message");
    let mut buf = [0u8; BUF];
    let out = &mut buf[..len];
    repr.emit(&mut Packet::new_unchecked(&mut *out), mode);
    let again = Repr::parse(&Packet::new_unchecked(&*out), family, mode)
        .unwrap_or_else(|e| panic!("re-emitted {repr:?} does not parse: {e:?}"));
    assert_eq!(&again, repr, "round trip");
    // Canonical emission: same bytes, apart from the checksum field and the
    // v3 reserved bits (ignored on receive, written as zero).
    for (i, (a, b)) in input.iter().zip(out.iter()).enumerate() {
        match (i, repr.version) {
            (6 | 7, _) => {}
            (4, Version::V3) => assert_eq!(a & 0x0f, b & 0x0f, "byte {i}"),
            _ => assert_eq!(a, b, "byte {i}"),
        }
    }
}

/// `Repr::parse` in every family and checksum mode, plus
/// `parse_detect_checksum`.
fn parse_bare(data: &[u8]) {
    for family in FAMILIES {
        for mode in modes() {
            let mixed = match mode {
                ChecksumMode::MessageOnly => false,
                ChecksumMode::PseudoHeader { src, dst } => {
                    family_of(&src) != family || family_of(&dst) != family
                }
            };
            if let Ok(repr) = Repr::parse(&Packet::new_unchecked(data), family, mode) {
                assert!(!mixed, "parsed with a pseudo-header of another family");
                check_parsed(data, &repr, family, mode);
            }
        }
    }
    for (src, dst) in [(SRC4, DST4), (SRC6, DST6), (SRC4, DST6)] {
        if let Ok((repr, mode)) =
            Repr::parse_detect_checksum(&Packet::new_unchecked(data), src, dst)
        {
            assert_eq!(family_of(&src), family_of(&dst));
            check_parsed(data, &repr, family_of(&src), mode);
        }
    }
}

/// The bare parser on copies with a valid checksum in each form.
fn parse_bare_fixed(data: &[u8]) {
    if data.len() < vrrp::HEADER_LEN || data.len() > BUF {
        return;
    }
    let mut buf = [0u8; BUF];
    for (family, mode) in [
        (AddressFamily::Ipv4, ChecksumMode::MessageOnly),
        (AddressFamily::Ipv4, modes()[1]),
        (AddressFamily::Ipv6, modes()[2]),
    ] {
        let copy = &mut buf[..data.len()];
        copy.copy_from_slice(data);
        let mut p = Packet::new_unchecked(&mut *copy);
        if p.fill_checksum(mode).is_err() {
            continue;
        }
        let copy = &*copy;
        match Repr::parse(&Packet::new_unchecked(copy), family, mode) {
            Ok(repr) => check_parsed(copy, &repr, family, mode),
            Err(Error::BadChecksum) => panic!("fill_checksum then BadChecksum ({mode:?})"),
            Err(_) => {}
        }
    }
}

/// The raw-socket path: IPv4 header + VRRP.
fn parse_v4(data: &[u8]) {
    let Ok((ip, repr, mode)) = ipv4::parse_ipv4_vrrp(data) else {
        return;
    };
    assert_eq!(ip.protocol, vrrp::PROTOCOL);
    assert!(
        matches!(
            ah::parse_ipv4_ah_vrrp(data, &AH_KEY, false),
            Err(Error::BadProtocol {
                protocol: vrrp::PROTOCOL
            })
        ),
        "protocol 112 datagram taken by the AH parser"
    );
    let payload = &data[ip.payload_range()];
    check_parsed(payload, &repr, AddressFamily::Ipv4, mode);
    if repr.check(AddressFamily::Ipv4).is_err() {
        return;
    }
    let mut buf = [0u8; BUF];
    let n = ipv4::emit_ipv4_vrrp(&mut buf, ip.ident, ip.ttl, ip.src, ip.dst, &repr, mode)
        .unwrap_or_else(|e| panic!("emit_ipv4_vrrp({repr:?}): {e:?}"));
    let (ip2, repr2, mode2) = ipv4::parse_ipv4_vrrp(&buf[..n])
        .unwrap_or_else(|e| panic!("re-emitted IPv4 {repr:?} does not parse: {e:?}"));
    assert_eq!(repr2, repr, "IPv4 round trip");
    assert_eq!(
        (ip2.src, ip2.dst, ip2.ttl, ip2.ident, ip2.payload_len),
        (ip.src, ip.dst, ip.ttl, ip.ident, ip.payload_len)
    );
    assert_eq!(
        (ip2.header_len, ip2.tos),
        (ipv4::HEADER_LEN, ipv4::TOS_VRRP)
    );
    // A v3 message whose checksum verifies both with and without the
    // pseudo-header is reported as pseudo-header, whatever it was built with.
    if mode2 != mode {
        assert_eq!(repr.version, Version::V3);
        assert!(matches!(mode2, ChecksumMode::PseudoHeader { .. }));
    }
}

/// IPv4 datagram with the header checksum and the VRRP checksum (each form)
/// fixed up.
fn parse_v4_fixed(data: &[u8]) {
    if data.len() < ipv4::HEADER_LEN || data.len() > BUF {
        return;
    }
    let mut buf = [0u8; BUF];
    for pseudo in [false, true] {
        let copy = &mut buf[..data.len()];
        copy.copy_from_slice(data);
        let mut ip = ipv4::Packet::new_unchecked(&mut *copy);
        if ip.check_len().is_err() {
            return;
        }
        let (src, dst) = (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()));
        let mode = if pseudo {
            ChecksumMode::PseudoHeader { src, dst }
        } else {
            ChecksumMode::MessageOnly
        };
        let payload = ip.payload_mut();
        if payload.len() >= vrrp::HEADER_LEN {
            let _ = Packet::new_unchecked(payload).fill_checksum(mode);
        }
        ip.fill_checksum();
        parse_v4(copy);
    }
}

/// IPv6 header + VRRP (the simulator's and pcap path).
fn parse_v6(data: &[u8], fix: bool) {
    let Ok(ip) = ipv6::Repr::parse(data) else {
        return;
    };
    assert!(ip.buffer_len() <= data.len());
    if ip.next_header != vrrp::PROTOCOL || data.len() > BUF {
        return;
    }
    let mut buf = [0u8; BUF];
    let copy = &mut buf[..data.len()];
    copy.copy_from_slice(data);
    let mode = ChecksumMode::PseudoHeader {
        src: IpAddr::V6(ip.src),
        dst: IpAddr::V6(ip.dst),
    };
    let payload = &mut copy[ip.payload_range()];
    if fix && payload.len() >= vrrp::HEADER_LEN {
        let _ = Packet::new_unchecked(&mut *payload).fill_checksum(mode);
    }
    let payload = &*payload;
    let Ok(repr) = Repr::parse(&Packet::new_unchecked(payload), AddressFamily::Ipv6, mode) else {
        return;
    };
    check_parsed(payload, &repr, AddressFamily::Ipv6, mode);
    if repr.check(AddressFamily::Ipv6).is_err() {
        return;
    }
    let mut out = [0u8; BUF];
    let n = ipv6::emit_ipv6_vrrp(&mut out, ip.flow_label, ip.hop_limit, ip.src, ip.dst, &repr)
        .unwrap_or_else(|e| panic!("emit_ipv6_vrrp({repr:?}): {e:?}"));
    let ip2 = ipv6::Repr::parse(&out[..n]).expect("re-emitted IPv6 header");
    assert_eq!(
        (
            ip2.src,
            ip2.dst,
            ip2.hop_limit,
            ip2.flow_label,
            ip2.payload_len
        ),
        (
            ip.src,
            ip.dst,
            ip.hop_limit,
            ip.flow_label & 0xf_ffff,
            ip.payload_len
        )
    );
    let repr2 = Repr::parse(
        &Packet::new_unchecked(&out[ip2.payload_range()]),
        AddressFamily::Ipv6,
        mode,
    )
    .expect("re-emitted IPv6 VRRP");
    assert_eq!(repr2, repr, "IPv6 round trip");
}

/// Checks what `parse_ipv4_ah_vrrp(data, key, unicast)` accepted, and its
/// round trip through `emit_ipv4_ah_vrrp`.
fn check_ah_parsed(
    data: &[u8],
    key: &[u8; ah::KEY_LEN],
    unicast: bool,
    ip: &ipv4::Repr,
    seq: u32,
    repr: &Repr,
) {
    assert_eq!(ip.protocol, ipv4::PROTOCOL_AH);
    assert_eq!(repr.version, Version::V2);
    let payload = &data[ip.payload_range()];
    let hdr = ah::Packet::new_checked(payload).expect("verified AH header");
    assert_eq!(hdr.spi(), ip.src, "SPI is the source address");
    assert_eq!(hdr.seq_number(), seq);
    assert_eq!(
        ah::compute_icv(data, key, unicast).expect("ICV of a verified datagram"),
        hdr.icv(),
        "verified under another ICV"
    );
    assert_eq!(
        ah::peek_vrid(data),
        Some(repr.vrid),
        "peek_vrid disagrees with the authenticated parse"
    );
    assert!(
        ipv4::parse_ipv4_vrrp(data).is_err(),
        "AH datagram parsed as protocol 112"
    );
    assert!(repr.addrs.len() <= MAX_VIPS);
    if repr.check(AddressFamily::Ipv4).is_err() {
        assert!(usize::from(repr.addr_count) > MAX_VIPS, "{repr:?}");
        return;
    }
    let mut buf = [0u8; BUF];
    let n = ah::emit_ipv4_ah_vrrp(
        &mut buf, ip.ident, ip.ttl, ip.src, ip.dst, seq, key, unicast, repr,
    )
    .unwrap_or_else(|e| panic!("emit_ipv4_ah_vrrp({repr:?}): {e:?}"));
    let out = &buf[..n];
    let (ip2, seq2, repr2) = ah::parse_ipv4_ah_vrrp(out, key, unicast)
        .unwrap_or_else(|e| panic!("re-emitted AH {repr:?} does not parse: {e:?}"));
    assert_eq!(seq2, seq);
    assert_eq!(
        (ip2.src, ip2.dst, ip2.ttl, ip2.ident),
        (ip.src, ip.dst, ip.ttl, ip.ident)
    );
    assert_eq!(
        (ip2.header_len, ip2.tos),
        (ipv4::HEADER_LEN, ipv4::TOS_VRRP)
    );
    // emit writes auth type 2 and zero auth data whatever the input says.
    let mut want = repr.clone();
    want.auth_type = vrrp::AUTH_TYPE_AH;
    want.auth_data = [0; vrrp::AUTH_DATA_LEN];
    assert_eq!(repr2, want, "AH round trip");
    assert_eq!(ah::peek_vrid(out), Some(repr.vrid));
    let other = if key == &AH_KEY {
        &AH_WRONG_KEY
    } else {
        &AH_KEY
    };
    assert_eq!(
        ah::parse_ipv4_ah_vrrp(out, other, unicast),
        Err(Error::BadIcv)
    );
    // The modes differ only in the hashed TTL.
    let r = ah::parse_ipv4_ah_vrrp(out, key, !unicast);
    if ip.ttl == 0 {
        assert!(r.is_ok(), "TTL 0 hashes the same in both modes: {r:?}");
    } else {
        assert_eq!(r, Err(Error::BadIcv), "the other ICV mode verified");
    }
}

/// One AH parse of `data` (key, mode), checked.
fn ah_one(data: &[u8], key: &[u8; ah::KEY_LEN], unicast: bool, icv_fixed: bool) {
    match ah::parse_ipv4_ah_vrrp(data, key, unicast) {
        Ok((ip, seq, repr)) => check_ah_parsed(data, key, unicast, &ip, seq, &repr),
        Err(Error::BadIcv) => {
            assert!(!icv_fixed, "BadIcv right after compute_icv");
            let icv =
                ah::compute_icv(data, key, unicast).expect("BadIcv of an unhashable datagram");
            let stored =
                ah::Packet::new_checked(&data[ipv4::Packet::new_unchecked(data).header_len()..])
                    .expect("BadIcv without an AH header")
                    .icv();
            assert_ne!(icv, stored, "BadIcv but the ICV matches");
        }
        Err(Error::BadProtocol { protocol }) => {
            assert_ne!(protocol, ipv4::PROTOCOL_AH)
        }
        Err(_) => {}
    }
}

/// The AH receive path on the input as it is (a wrong ICV, mostly) and on
/// copies fixed up past each gate: IPv4 checksum and protocol 51, then the
/// VRRP checksum and SPI = source, then a valid ICV for the key and mode.
fn parse_ah(data: &[u8]) {
    let _ = ah::peek_vrid(data);
    if let Ok(p) = ah::Packet::new_checked(data) {
        let _ = (p.next_header(), p.payload_len(), p.reserved(), p.spi());
        let _ = (p.seq_number(), p.icv(), p.payload());
    }
    for unicast in [false, true] {
        let _ = ah::compute_icv(data, &AH_KEY, unicast);
        for key in [&AH_KEY, &AH_WRONG_KEY] {
            ah_one(data, key, unicast, false);
        }
    }
    if data.len() < ipv4::HEADER_LEN || data.len() > BUF {
        return;
    }
    let mut buf = [0u8; BUF];
    for deep in [false, true] {
        for unicast in [false, true] {
            let copy = &mut buf[..data.len()];
            copy.copy_from_slice(data);
            let mut ip = ipv4::Packet::new_unchecked(&mut *copy);
            if ip.check_len().is_err() {
                return;
            }
            ip.set_protocol(ipv4::PROTOCOL_AH);
            let src = ip.src_addr();
            let hl = ip.header_len();
            let end = usize::from(ip.total_len()).min(data.len());
            if deep
                && let Some(payload) = copy.get_mut(hl..end)
                && payload.len() >= ah::HEADER_LEN
            {
                let (hdr, msg) = payload.split_at_mut(ah::HEADER_LEN);
                ah::Packet::new_unchecked(hdr).set_spi(src);
                if msg.len() >= vrrp::HEADER_LEN {
                    let _ = Packet::new_unchecked(msg).fill_checksum(ChecksumMode::MessageOnly);
                }
            }
            ipv4::Packet::new_unchecked(&mut *copy).fill_checksum();
            let Ok(icv) = ah::compute_icv(copy, &AH_KEY, unicast) else {
                ah_one(copy, &AH_KEY, unicast, false);
                continue;
            };
            ah::Packet::new_unchecked(&mut copy[hl..]).set_icv(&icv);
            let copy = &*copy;
            ah_one(copy, &AH_KEY, unicast, true);
            assert!(
                !matches!(ah::parse_ipv4_ah_vrrp(copy, &AH_WRONG_KEY, unicast), Ok(_)),
                "verified under the wrong key"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    touch_accessors(data);
    parse_bare(data);
    parse_bare_fixed(data);
    parse_v4(data);
    parse_v4_fixed(data);
    parse_v6(data, false);
    parse_v6(data, true);
    parse_ah(data);
});
