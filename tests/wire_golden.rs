//! Golden tests against real keepalived 2.2.7 captures.
//!
//! Reads every `.pcap` in `$CARGO_MANIFEST_DIR/../shared/golden` (or in
//! `$KEEPVIP_GOLDEN_DIR` when set, e.g. from a worktree whose parent has no
//! `shared/`). A missing directory or an empty one is a failure, not a skip.
//!
//! For every frame:
//! * IPv4 protocol 112: the IPv4 header and the VRRP message parse, the
//!   checksum verifies (v3: with the IPv4 pseudo-header, keepalived's
//!   default), and `emit_ipv4_vrrp` with the same ident/TTL (after
//!   `ethernet::emit_header`) rebuilds the frame byte for byte.
//! * IPv6 next header 112: the VRRP message parses with the IPv6
//!   pseudo-header and re-emits byte for byte; `emit_ipv6_vrrp` given the
//!   kernel's flow label rebuilds the frame byte for byte.
//! * ARP: every gratuitous ARP is rebuilt byte for byte by `emit_garp`;
//!   other ARP (the kernels' who-has/is-at) is counted and left alone.
//! * ICMPv6: every Neighbor Advertisement must be an unsolicited NA that
//!   `emit_unsolicited_na` rebuilds byte for byte.
//!
//! Where tshark's decode (`<name>.txt`, `tshark -V -Y vrrp`) sits beside the
//! capture, every VRRP frame's fields are also compared with it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use keepvip::wire::ethernet::{self, MacAddr};
use keepvip::wire::garp::{self, parse_garp, parse_unsolicited_na};
use keepvip::wire::ipv4::{self, emit_ipv4_vrrp};
use keepvip::wire::ipv6;
use keepvip::wire::pcap::{LINKTYPE_ETHERNET, PcapReader, PcapWriter};
use keepvip::wire::vrrp::{self, ChecksumMode, Repr, Version};
use keepvip::wire::{AddressFamily, Error};
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv6Packet, Ipv6Repr};

fn golden_dir() -> PathBuf {
    let dir = match std::env::var_os("KEEPVIP_GOLDEN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden"),
    };
    assert!(
        dir.is_dir(),
        "golden directory {} is missing (set KEEPVIP_GOLDEN_DIR)",
        dir.display()
    );
    dir
}

/// What tshark says about one VRRP frame.
#[derive(Debug, Default, PartialEq)]
struct TsharkVrrp {
    version: Option<u8>,
    vrid: Option<u8>,
    priority: Option<u8>,
    addr_count: Option<u8>,
    auth_type: Option<u8>,
    adver_int: Option<u16>,
    checksum: Option<u16>,
    checksum_good: bool,
    addrs: Vec<IpAddr>,
    auth_string: Option<String>,
}

fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.find(key).map(|i| line[i + key.len()..].trim())
}

fn first_number(s: &str) -> u64 {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().expect("number in tshark output")
}

/// Parse a `tshark -V -Y vrrp` dump: frame number -> VRRP fields.
fn parse_tshark(text: &str) -> BTreeMap<usize, TsharkVrrp> {
    let mut frames = BTreeMap::new();
    let mut frame = 0usize;
    let mut cur: Option<TsharkVrrp> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Frame ") {
            if let Some(done) = cur.take() {
                frames.insert(frame, done);
            }
            frame = first_number(rest) as usize;
            continue;
        }
        if line.starts_with("Virtual Router Redundancy Protocol") {
            cur = Some(TsharkVrrp::default());
            continue;
        }
        let Some(v) = cur.as_mut() else { continue };
        if let Some(x) = after(line, "VRRP protocol version: ") {
            v.version = Some(first_number(x) as u8);
        } else if let Some(x) = after(line, "Virtual Rtr ID: ") {
            v.vrid = Some(first_number(x) as u8);
        } else if let Some(x) = after(line, "Priority: ") {
            v.priority = Some(first_number(x) as u8);
        } else if let Some(x) = after(line, "Addr Count: ") {
            v.addr_count = Some(first_number(x) as u8);
        } else if let Some(x) = after(line, "Auth Type: ") {
            let open = x.rfind('(').expect("auth type number");
            v.auth_type = Some(first_number(&x[open + 1..]) as u8);
        } else if let Some(x) = after(line, "Adver Int: ") {
            v.adver_int = Some(first_number(x) as u16);
        } else if let Some(x) = after(line, "Checksum: 0x") {
            v.checksum = Some(u16::from_str_radix(&x[..4], 16).unwrap());
        } else if line.contains("[Checksum Status: Good]") {
            v.checksum_good = true;
        } else if let Some(x) = after(line, "IPv6 Address: ").or(after(line, "IP Address: ")) {
            v.addrs.push(x.parse().expect("address in tshark output"));
        } else if let Some(x) = after(line, "Authentication String: ") {
            v.auth_string = Some(x.to_string());
        }
    }
    if let Some(done) = cur.take() {
        frames.insert(frame, done);
    }
    frames
}

/// Compare our parse of a VRRP frame with tshark's decode.
fn compare_with_tshark(name: &str, frame_no: usize, repr: &Repr, checksum: u16, t: &TsharkVrrp) {
    let ctx = format!("{name} frame {frame_no}");
    let version = match repr.version {
        Version::V2 => 2,
        Version::V3 => 3,
    };
    assert_eq!(t.version, Some(version), "{ctx}");
    assert_eq!(t.vrid, Some(repr.vrid), "{ctx}");
    assert_eq!(t.priority, Some(repr.priority), "{ctx}");
    assert_eq!(t.addr_count, Some(repr.addr_count), "{ctx}");
    assert_eq!(t.checksum, Some(checksum), "{ctx}");
    assert!(t.checksum_good, "{ctx}: tshark says the checksum is bad");
    assert_eq!(t.addrs.as_slice(), repr.addrs.as_slice(), "{ctx}");
    match repr.version {
        Version::V2 => {
            assert_eq!(t.adver_int, Some(repr.max_adver_int_cs / 100), "{ctx}");
            assert_eq!(t.auth_type, Some(repr.auth_type), "{ctx}");
            if repr.auth_type == vrrp::AUTH_TYPE_PASS {
                let end = repr.auth_data.iter().position(|&b| b == 0).unwrap_or(8);
                let pass = std::str::from_utf8(&repr.auth_data[..end]).unwrap();
                assert_eq!(t.auth_string.as_deref(), Some(pass), "{ctx}");
            }
        }
        Version::V3 => {
            assert_eq!(t.adver_int, Some(repr.max_adver_int_cs), "{ctx}");
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    vrrp4: usize,
    vrrp6: usize,
    prio0: usize,
    garp: usize,
    na: usize,
    other_arp: usize,
}

/// Ethernet addresses of a VRRP frame; a multicast destination must be the
/// group's multicast MAC.
fn check_eth(ctx: &str, frame: &[u8], dst: IpAddr) -> (MacAddr, MacAddr) {
    let (dst_mac, src_mac, _) = ethernet::parse_header(frame).expect(ctx);
    if let Some(group_mac) = ethernet::multicast_mac(dst) {
        assert_eq!(dst_mac, group_mac, "{ctx}: multicast MAC");
    }
    (dst_mac, src_mac)
}

fn check_vrrp_ipv4(name: &str, frame_no: usize, frame: &[u8]) -> (Repr, u16) {
    let ctx = format!("{name} frame {frame_no}");
    let ip_bytes = &frame[ethernet::HEADER_LEN..];
    let ip = ipv4::Repr::parse(&ipv4::Packet::new_unchecked(ip_bytes)).expect(&ctx);
    assert_eq!(ip.protocol, vrrp::PROTOCOL, "{ctx}");
    assert_eq!(ip.ttl, vrrp::TTL, "{ctx}");
    assert_eq!(ip.tos, ipv4::TOS_VRRP, "{ctx}");
    let payload = &ip_bytes[ip.payload_range()];
    let packet = vrrp::Packet::new_checked(payload).expect(&ctx);
    let (src, dst) = (IpAddr::V4(ip.src), IpAddr::V4(ip.dst));

    // keepalived's default: v2 sums the message, v3 adds the pseudo-header.
    let (repr, mode) = Repr::parse_detect_checksum(&packet, src, dst).expect(&ctx);
    let expected_mode = match repr.version {
        Version::V2 => ChecksumMode::MessageOnly,
        Version::V3 => ChecksumMode::PseudoHeader { src, dst },
    };
    assert_eq!(mode, expected_mode, "{ctx}");
    assert_eq!(
        Repr::parse(&packet, AddressFamily::Ipv4, mode).as_ref(),
        Ok(&repr),
        "{ctx}"
    );
    repr.check(AddressFamily::Ipv4).expect(&ctx);
    assert_eq!(
        ipv4::parse_ipv4_vrrp(ip_bytes),
        Ok((ip, repr.clone(), mode)),
        "{ctx}"
    );
    if repr.version == Version::V3 {
        // The other form must not verify: the modes are told apart.
        assert_eq!(
            Repr::parse(&packet, AddressFamily::Ipv4, ChecksumMode::MessageOnly),
            Err(Error::BadChecksum),
            "{ctx}"
        );
    }

    // The whole frame, Ethernet header included, is rebuilt byte for byte.
    let (dst_mac, src_mac) = check_eth(&ctx, frame, dst);
    let mut buf = [0xa5u8; 256];
    let h = ethernet::emit_header(&mut buf, dst_mac, src_mac, ethernet::ETHERTYPE_IPV4).unwrap();
    let n =
        emit_ipv4_vrrp(&mut buf[h..], ip.ident, ip.ttl, ip.src, ip.dst, &repr, mode).expect(&ctx);
    assert_eq!(&buf[..h + n], frame, "{ctx}: re-emitted frame differs");

    assert_every_change_detected(&ctx, payload, AddressFamily::Ipv4, mode);

    // A corrupted checksum is refused.
    let mut bad = [0u8; 256];
    bad[..payload.len()].copy_from_slice(payload);
    bad[7] ^= 0x01;
    assert_eq!(
        Repr::parse(
            &vrrp::Packet::new_unchecked(&bad[..payload.len()]),
            AddressFamily::Ipv4,
            mode
        ),
        Err(Error::BadChecksum),
        "{ctx}"
    );
    (repr, packet.checksum())
}

fn check_vrrp_ipv6(name: &str, frame_no: usize, frame: &[u8]) -> (Repr, u16) {
    let ctx = format!("{name} frame {frame_no}");
    let ip_bytes = &frame[ethernet::HEADER_LEN..];
    let ip = ipv6::Repr::parse(ip_bytes).expect(&ctx);
    assert_eq!(ip.next_header, vrrp::PROTOCOL, "{ctx}");
    assert_eq!(ip.hop_limit, vrrp::TTL, "{ctx}");
    assert_eq!(ip.traffic_class, ipv6::TCLASS_VRRP, "{ctx}");
    let payload = &ip_bytes[ip.payload_range()];
    let packet = vrrp::Packet::new_checked(payload).expect(&ctx);
    let (src, dst) = (IpAddr::V6(ip.src), IpAddr::V6(ip.dst));
    let mode = ChecksumMode::PseudoHeader { src, dst };
    let repr = Repr::parse(&packet, AddressFamily::Ipv6, mode).expect(&ctx);
    assert_eq!(
        Repr::parse_detect_checksum(&packet, src, dst).as_ref(),
        Ok(&(repr.clone(), mode)),
        "{ctx}"
    );
    assert_eq!(
        Repr::parse(&packet, AddressFamily::Ipv6, ChecksumMode::MessageOnly),
        Err(Error::BadChecksum),
        "{ctx}"
    );
    repr.check(AddressFamily::Ipv6).expect(&ctx);
    assert_eq!(repr.buffer_len(), payload.len(), "{ctx}");
    assert_every_change_detected(&ctx, payload, AddressFamily::Ipv6, mode);

    // The VRRP message alone (what the daemon's raw IPv6 socket sends)...
    let mut buf = [0xa5u8; 256];
    let out = &mut buf[..repr.buffer_len()];
    repr.emit(&mut vrrp::Packet::new_unchecked(&mut *out), mode);
    assert_eq!(&*out, payload, "{ctx}: re-emitted VRRP message differs");

    // ...and the whole frame, given the kernel's flow label.
    let (dst_mac, src_mac) = check_eth(&ctx, frame, dst);
    let mut buf = [0xa5u8; 256];
    let h = ethernet::emit_header(&mut buf, dst_mac, src_mac, ethernet::ETHERTYPE_IPV6).unwrap();
    let n = ipv6::emit_ipv6_vrrp(
        &mut buf[h..],
        ip.flow_label,
        ip.hop_limit,
        ip.src,
        ip.dst,
        &repr,
    )
    .expect(&ctx);
    assert_eq!(&buf[..h + n], frame, "{ctx}: re-emitted frame differs");
    (repr, packet.checksum())
}

/// Every single-octet change of a VRRP message must be refused (a one-octet
/// change always moves the one's-complement sum; length changes are caught
/// by the length checks).
fn assert_every_change_detected(
    ctx: &str,
    payload: &[u8],
    family: AddressFamily,
    mode: ChecksumMode,
) {
    let mut copy = [0u8; 256];
    let copy = &mut copy[..payload.len()];
    for i in 0..payload.len() {
        for x in [0x01u8, 0x10, 0x80, 0xff] {
            copy.copy_from_slice(payload);
            copy[i] ^= x;
            let parsed = Repr::parse(&vrrp::Packet::new_unchecked(&*copy), family, mode);
            assert!(
                parsed.is_err(),
                "{ctx}: octet {i} ^ {x:#x} accepted: {parsed:?}"
            );
        }
    }
}

/// Mutated and truncated copies of a frame go through every parser; none
/// may panic.
fn mutate_through_all_parsers(frame: &[u8], seed: &mut u32) {
    let mut buf = [0u8; 256];
    let len = frame.len().min(buf.len());
    for _ in 0..200 {
        buf[..len].copy_from_slice(&frame[..len]);
        for _ in 0..=(xorshift(seed) % 3) {
            let i = xorshift(seed) as usize % len;
            buf[i] = xorshift(seed) as u8;
        }
        let cut = len - (xorshift(seed) as usize % 8).min(len);
        let data = &buf[..cut];
        let _ = parse_garp(data);
        let _ = parse_unsolicited_na(data);
        let ip = data.get(ethernet::HEADER_LEN..).unwrap_or(&[]);
        if let Ok(r) = ipv4::Repr::parse(&ipv4::Packet::new_unchecked(ip)) {
            let p = vrrp::Packet::new_unchecked(&ip[r.payload_range()]);
            let _ = Repr::parse_detect_checksum(&p, IpAddr::V4(r.src), IpAddr::V4(r.dst));
        }
        if let Ok(r) = ipv6::Repr::parse(ip) {
            let p = vrrp::Packet::new_unchecked(&ip[r.payload_range()]);
            let _ = Repr::parse_detect_checksum(&p, IpAddr::V6(r.src), IpAddr::V6(r.dst));
        }
    }
}

fn xorshift(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

fn check_file(path: &Path) -> Counts {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(path).unwrap();
    let reader = PcapReader::new(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(reader.linktype(), LINKTYPE_ETHERNET, "{name}");
    let tshark = std::fs::read_to_string(path.with_extension("txt"))
        .ok()
        .map(|t| parse_tshark(&t));

    let mut counts = Counts::default();
    let mut seed = 0x9e37_79b9u32;
    let mut seen_vrrp_frames = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let frame_no = index + 1;
        let ctx = format!("{name} frame {frame_no}");
        let record = record.unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let frame = record.data;
        mutate_through_all_parsers(frame, &mut seed);
        let eth = EthernetFrame::new_checked(frame).expect(&ctx);
        let vrrp = match eth.ethertype() {
            EthernetProtocol::Ipv4 => {
                if eth.payload().get(9) == Some(&vrrp::PROTOCOL) {
                    counts.vrrp4 += 1;
                    Some(check_vrrp_ipv4(&name, frame_no, frame))
                } else {
                    None
                }
            }
            EthernetProtocol::Ipv6 => {
                let ip = Ipv6Packet::new_checked(eth.payload()).expect(&ctx);
                let ip_repr = Ipv6Repr::parse(&ip).expect(&ctx);
                match ip_repr.next_header {
                    IpProtocol::Unknown(vrrp::PROTOCOL) => {
                        counts.vrrp6 += 1;
                        Some(check_vrrp_ipv6(&name, frame_no, frame))
                    }
                    IpProtocol::Icmpv6 if ip.payload().first() == Some(&136) => {
                        let na = parse_unsolicited_na(frame)
                            .unwrap_or_else(|| panic!("{ctx}: not an unsolicited NA"));
                        let mut buf = [0xa5u8; 128];
                        let n =
                            garp::emit_unsolicited_na(&mut buf, na.mac, na.src, na.vip, na.router)
                                .expect(&ctx);
                        assert_eq!(&buf[..n], frame, "{ctx}: re-emitted NA differs");
                        counts.na += 1;
                        None
                    }
                    _ => None,
                }
            }
            EthernetProtocol::Arp => {
                if let Some(g) = parse_garp(frame) {
                    let mut buf = [0xa5u8; 64];
                    let n = garp::emit_garp(&mut buf, g.mac, g.vip).expect(&ctx);
                    assert_eq!(&buf[..n], frame, "{ctx}: re-emitted GARP differs");
                    counts.garp += 1;
                } else {
                    counts.other_arp += 1;
                }
                None
            }
            _ => None,
        };
        if let Some((repr, checksum)) = vrrp {
            if repr.priority == 0 {
                counts.prio0 += 1;
            }
            seen_vrrp_frames.push(frame_no);
            if let Some(t) = &tshark {
                let decoded = t
                    .get(&frame_no)
                    .unwrap_or_else(|| panic!("{ctx}: tshark did not decode VRRP here"));
                compare_with_tshark(&name, frame_no, &repr, checksum, decoded);
            }
        }
    }
    if let Some(t) = &tshark {
        let theirs: Vec<usize> = t.keys().copied().collect();
        assert_eq!(
            seen_vrrp_frames, theirs,
            "{name}: VRRP frames differ from tshark's"
        );
    }

    // The pcap writer reproduces the records byte for byte (the file header
    // differs only in the snapshot length).
    let mut out = vec![0u8; bytes.len() + 64];
    let capacity = out.len();
    let written = {
        let mut cursor: &mut [u8] = &mut out[..];
        let mut w = PcapWriter::new(&mut cursor).unwrap();
        for record in reader.records() {
            let record = record.unwrap();
            let at = keepvip::time::Instant::from_micros(record.ts_micros);
            w.write_frame(at, record.data).unwrap();
        }
        let _ = w.into_inner();
        capacity - cursor.len()
    };
    assert_eq!(written, bytes.len(), "{name}");
    assert_eq!(&out[..16], &bytes[..16], "{name}");
    assert_eq!(&out[20..written], &bytes[20..], "{name}");

    counts
}

#[test]
fn every_golden_pcap_round_trips() {
    let dir = golden_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .pcap in {}", dir.display());

    let mut total = Counts::default();
    for path in &files {
        let c = check_file(path);
        let name = path.display();
        assert!(c.vrrp4 + c.vrrp6 > 0, "{name}: no VRRP frame");
        assert!(c.garp + c.na > 0, "{name}: no GARP/NA frame");
        // Each capture ends with both routers' SIGTERM: two priority-0 adverts.
        assert_eq!(c.prio0, 2, "{name}: priority-0 adverts");
        total.vrrp4 += c.vrrp4;
        total.vrrp6 += c.vrrp6;
        total.prio0 += c.prio0;
        total.garp += c.garp;
        total.na += c.na;
        total.other_arp += c.other_arp;
    }
    eprintln!("golden: {} files, {total:?}", files.len());
    assert!(total.vrrp4 > 0 && total.vrrp6 > 0 && total.garp > 0 && total.na > 0);
}
