//! Golden tests for VRRPv2 `auth_type AH` against real keepalived 2.2.7
//! captures (`tests/ah_golden/ah-{mcast,ucast}.pcap`, made by
//! `tests/ah_golden/capture.sh`; the configs are beside them).
//!
//! Each capture: r1 (192.0.2.1, prio 200) advertises, is stopped with
//! SIGTERM (priority-0 advert), r2 (192.0.2.2, prio 100) takes over and is
//! stopped the same way. Only the AH frames were kept.
//!
//! For every frame: it parses and its ICV verifies under `secret12` in the
//! capture's mode; `emit_ipv4_ah_vrrp` with the same ident/TTL/seq rebuilds
//! the IPv4 datagram (and, with `ethernet::emit_header`, the frame) byte for
//! byte; a wrong key, the other mode, any changed hashed octet and a wrong
//! SPI are refused with their named errors, while changes to the fields
//! keepalived leaves out of the hash (TOS, flags, and the TTL in unicast
//! mode) are not. The sequence numbers replay keepalived's shared counter:
//! r1 counts from 1, r2 accepts r1's adverts and continues after them when
//! it becomes master, and a replay is refused.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use keepvip::wire::Error;
use keepvip::wire::ah::{
    self, AhError, AhSeq, compute_icv, emit_ipv4_ah_vrrp, key_from_pass, parse_ipv4_ah_vrrp,
};
use keepvip::wire::ethernet::{self, ETHERTYPE_IPV4, MacAddr};
use keepvip::wire::ipv4;
use keepvip::wire::pcap::{LINKTYPE_ETHERNET, PcapReader};
use keepvip::wire::vrrp::{self, Version};

const R1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const R2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

/// One captured advert.
struct Frame {
    eth_dst: MacAddr,
    eth_src: MacAddr,
    /// The IPv4 datagram (Ethernet header and padding removed).
    ip: Vec<u8>,
}

fn key() -> [u8; 8] {
    key_from_pass(b"secret12")
}

fn load(name: &str) -> Vec<Frame> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ah_golden")
        .join(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = PcapReader::new(&data).unwrap();
    assert_eq!(reader.linktype(), LINKTYPE_ETHERNET);
    let mut frames = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        assert_eq!(
            record.orig_len as usize,
            record.data.len(),
            "snaplen cut a frame"
        );
        let (eth_dst, eth_src, ethertype) = ethernet::parse_header(record.data).unwrap();
        assert_eq!(ethertype, ETHERTYPE_IPV4);
        let ip = &record.data[ethernet::HEADER_LEN..];
        let total = usize::from(ipv4::Packet::new_checked(ip).unwrap().total_len());
        frames.push(Frame {
            eth_dst,
            eth_src,
            ip: ip[..total].to_vec(),
        });
    }
    assert!(frames.len() >= 8, "{name}: only {} frames", frames.len());
    frames
}

fn captures() -> [(&'static str, bool, Vec<Frame>); 2] {
    [
        ("ah-mcast.pcap", false, load("ah-mcast.pcap")),
        ("ah-ucast.pcap", true, load("ah-ucast.pcap")),
    ]
}

fn mac_of(addr: Ipv4Addr) -> MacAddr {
    [0x02, 0, 0, 0, 0, addr.octets()[3]]
}

#[test]
fn every_advert_parses_and_verifies() {
    for (name, unicast, frames) in captures() {
        let mut prio0 = [0usize; 2];
        for (i, f) in frames.iter().enumerate() {
            let (ip, seq, repr) = parse_ipv4_ah_vrrp(&f.ip, &key(), unicast)
                .unwrap_or_else(|e| panic!("{name} frame {}: {e}", i + 1));
            assert_eq!(ip.protocol, 51);
            assert_eq!(ip.tos, 0xc0);
            assert_eq!(ip.ttl, 255);
            assert_eq!(ip.payload_len, 24 + 20);
            assert!(seq >= 1);
            assert_eq!(repr.version, Version::V2);
            assert_eq!(repr.vrid, 51);
            assert_eq!(repr.auth_type, vrrp::AUTH_TYPE_AH);
            assert_eq!(repr.auth_data, [0; 8]);
            assert_eq!(repr.max_adver_int_cs, 100);
            assert_eq!(&repr.addrs[..], &[VIP]);
            let sender = match ip.src {
                R1 => 0,
                R2 => 1,
                other => panic!("{name} frame {}: unexpected source {other}", i + 1),
            };
            let expected_dst = match (unicast, sender) {
                (false, _) => vrrp::MCAST_GROUP_V4,
                (true, 0) => R2,
                (true, _) => R1,
            };
            assert_eq!(ip.dst, expected_dst);
            assert_eq!(f.eth_src, mac_of(ip.src));
            match repr.priority {
                0 => prio0[sender] += 1,
                200 => assert_eq!(sender, 0),
                100 => assert_eq!(sender, 1),
                p => panic!("{name} frame {}: priority {p}", i + 1),
            }
            let icv = compute_icv(&f.ip, &key(), unicast).unwrap();
            assert_eq!(&icv[..], &f.ip[32..44]);
        }
        assert_eq!(prio0, [1, 1], "{name}: one priority-0 advert per router");
    }
}

#[test]
fn re_emit_is_byte_identical() {
    for (name, unicast, frames) in captures() {
        for (i, f) in frames.iter().enumerate() {
            let (ip, seq, repr) = parse_ipv4_ah_vrrp(&f.ip, &key(), unicast).unwrap();
            let mut buf = [0u8; 128];
            let n = ethernet::emit_header(&mut buf, f.eth_dst, f.eth_src, ETHERTYPE_IPV4).unwrap();
            let m = emit_ipv4_ah_vrrp(
                &mut buf[n..],
                ip.ident,
                ip.ttl,
                ip.src,
                ip.dst,
                seq,
                &key(),
                unicast,
                &repr,
            )
            .unwrap();
            assert_eq!(&buf[n..n + m], &f.ip[..], "{name} frame {}", i + 1);
            let expected_mac = match ethernet::multicast_mac(IpAddr::V4(ip.dst)) {
                Some(mac) => mac,
                None => mac_of(ip.dst),
            };
            assert_eq!(f.eth_dst, expected_mac);
        }
    }
}

#[test]
fn wrong_key_and_wrong_mode_are_bad_icv() {
    for (name, unicast, frames) in captures() {
        for f in &frames {
            for wrong in [&b"secret13"[..], b"secret1", b"", b"SECRET12"] {
                assert_eq!(
                    parse_ipv4_ah_vrrp(&f.ip, &key_from_pass(wrong), unicast),
                    Err(Error::BadIcv),
                    "{name} key {wrong:?}"
                );
            }
            assert_eq!(
                parse_ipv4_ah_vrrp(&f.ip, &key(), !unicast),
                Err(Error::BadIcv),
                "{name}: the TTL rule of the other mode"
            );
        }
    }
}

/// Flip one bit of each octet in turn. Octets of the IPv4 header get their
/// header checksum refreshed (else the IPv4 check refuses them first).
#[test]
fn flipped_octets_are_refused_by_name() {
    for (name, unicast, frames) in captures() {
        let f = &frames[0];
        for i in 0..f.ip.len() {
            let mut b = f.ip.clone();
            b[i] ^= 0x01;
            if i < 20 {
                ipv4::Packet::new_unchecked(&mut b[..]).fill_checksum();
            }
            let r = parse_ipv4_ah_vrrp(&b, &key(), unicast);
            let expected = match i {
                // 0x45 -> 0x44
                0 => Err(Error::BadIhl { ihl: 4 }),
                // TOS and the header checksum (refreshed) are not hashed.
                1 | 10 | 11 => Ok(()),
                // Total Length one above or 256 above the datagram.
                2 | 3 => Err(Error::Truncated),
                // A fragment offset: refused before AH (no reassembly here).
                6 | 7 => Err(Error::Fragmented),
                // The TTL is hashed in multicast mode only.
                8 if unicast => Ok(()),
                9 => Err(Error::BadProtocol { protocol: 50 }),
                20 => Err(Error::BadAhNextHeader { next_header: 113 }),
                21 => Err(Error::BadAhLength { payload_len: 5 }),
                // Everything else: identification, TTL (multicast),
                // addresses, AH reserved/SPI/sequence/ICV, the VRRP message.
                _ => Err(Error::BadIcv),
            };
            assert_eq!(r.map(|_| ()), expected, "{name} octet {i}");
        }
        // The DF flag is not hashed either.
        let mut b = f.ip.clone();
        let mut p = ipv4::Packet::new_unchecked(&mut b[..]);
        p.set_flags_frag_offset(0x4000);
        p.fill_checksum();
        assert!(parse_ipv4_ah_vrrp(&b, &key(), unicast).is_ok(), "{name} DF");
    }
}

#[test]
fn wrong_spi_is_refused() {
    for (name, unicast, frames) in captures() {
        for f in &frames {
            let mut b = f.ip.clone();
            let src = ipv4::Packet::new_unchecked(&b[..]).src_addr();
            let other = if src == R1 { R2 } else { R1 };
            ah::Packet::new_unchecked(&mut b[20..]).set_spi(other);
            // Without a new ICV the change is caught by the ICV.
            assert_eq!(parse_ipv4_ah_vrrp(&b, &key(), unicast), Err(Error::BadIcv));
            // With a valid ICV (a key holder's mistake), by the SPI check.
            let icv = compute_icv(&b, &key(), unicast).unwrap();
            ah::Packet::new_unchecked(&mut b[20..]).set_icv(&icv);
            assert_eq!(
                parse_ipv4_ah_vrrp(&b, &key(), unicast),
                Err(Error::BadSpi {
                    spi: u32::from(other)
                }),
                "{name}"
            );
        }
    }
}

/// keepalived's shared counter, replayed: r1 starts from 0 and sends 1, 2..;
/// r2 (BACKUP) accepts every r1 advert, then on becoming MASTER continues
/// from the last sequence number it heard. An observer accepts the whole
/// capture in order and refuses every replay.
#[test]
fn sequence_numbers_follow_the_shared_counter() {
    for (name, unicast, frames) in captures() {
        let mut r1 = AhSeq::new();
        let mut r2 = AhSeq::new();
        let mut r2_master = false;
        let mut observer = AhSeq::new();
        let mut seen = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let (ip, seq, _) = parse_ipv4_ah_vrrp(&f.ip, &key(), unicast).unwrap();
            if ip.src == R1 {
                assert_eq!(r1.next_tx(), seq, "{name} frame {}: r1 tx", i + 1);
                assert_eq!(r2.accept_rx(seq), Ok(()), "{name} frame {}: r2 rx", i + 1);
                r2.on_backup_rx();
            } else {
                if !r2_master {
                    r2.on_goto_master();
                    r2_master = true;
                }
                assert_eq!(r2.next_tx(), seq, "{name} frame {}: r2 tx", i + 1);
            }
            assert_eq!(observer.accept_rx(seq), Ok(()), "{name} frame {}", i + 1);
            assert_eq!(observer.seq_number(), seq);
            seen.push(seq);
        }
        assert!(r2_master, "{name}: r2 never advertised");
        let last = observer.seq_number();
        for &seq in &seen {
            assert_eq!(
                observer.accept_rx(seq),
                Err(AhError::Replay { seq, last }),
                "{name}: replay of {seq}"
            );
            assert_eq!(
                Error::from(AhError::Replay { seq, last }),
                Error::AhReplay { seq, last }
            );
        }
        assert_eq!(observer.seq_number(), last);
    }
}

/// Every truncation of every capture is refused without a panic.
#[test]
fn truncations_are_refused() {
    for (name, unicast, frames) in captures() {
        let f = &frames[0];
        for len in 0..f.ip.len() {
            assert!(
                parse_ipv4_ah_vrrp(&f.ip[..len], &key(), unicast).is_err(),
                "{name} len {len}"
            );
        }
    }
}
