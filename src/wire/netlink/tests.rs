//! Golden tests with kernel bytes, and malformed-input tests.
//!
//! The golden datagrams were captured on x86_64 (little-endian, Linux
//! 6.18) with `tests/netns/capture_netlink_golden.py` inside a `kvs-cap`
//! namespace (veth pair kvs-v0/kvs-v1, kvs-v0 = ifindex 3, MAC
//! 02:00:5e:00:01:01). Netlink is host-endian, so [`golden`] converts the
//! host-endian fields from little-endian to native order before the tests use
//! them: on x86 it is the identity, on big-endian MIPS it swaps the header
//! fields and the u32 attributes the parser reads. Address bytes are network
//! order and never converted.

use super::*;
use std::vec::Vec;

/// `ip addr add 192.0.2.100/24 brd 192.0.2.255 dev kvs-v0 label kvs-v0:vip`:
/// the RTM_NEWADDR notification (RTNLGRP_IPV4_IFADDR).
const ADD4: &str = "5c00000014000000e278026ba6510000021880000300000008000100c000026408000200c000026408000400c00002ff0f0003006b76732d76303a7669700000080008008000000014000600ffffffffffffffffae1c0100ae1c0100";
/// `ip addr add 2001:db8::100/64 dev kvs-v0 nodad`: RTM_NEWADDR (IPV6_IFADDR).
const ADD6: &str = "480000001400000000000000000000000a408200030000001400010020010db800000000000000000000010014000600ffffffffffffffffe01c0100e01c01000800080082000000";
/// `ip addr del 192.0.2.100/24 dev kvs-v0`: RTM_DELADDR.
const DEL4: &str = "5c00000015000000e378026bac510000021880000300000008000100c000026408000200c000026408000400c00002ff0f0003006b76732d76303a7669700000080008008000000014000600ffffffffffffffffae1c0100ae1c0100";
/// ACK (NLMSG_ERROR, error 0, NLM_F_CAPPED) for an RTM_NEWADDR with seq 7.
const ACK: &str = "2400000002000001070000000ae840ec0000000020000000140005060700000000000000";
/// NLMSG_ERROR -EEXIST for the same request repeated with seq 8.
const ERR_EEXIST: &str = "2400000002000001080000000ae840ecefffffff20000000140005060800000000000000";
/// The request iproute2 sent for the ADD4 command (captured with
/// `strace -e write=3`): seq 0x6b0278d3, ifindex 3.
const IPROUTE2_ADD4_REQ: &str = concat!(
    "4000000014000506d378026b00000000",
    "021800000300000008000200c0000264",
    "08000400c00002ff0f0003006b76732d",
    "76303a766970000008000100c0000264",
);
/// RTM_NEWLINK for kvs-v0 (ifindex 3) after `ip link set dev kvs-v1 down`:
/// still IFF_UP but no IFF_RUNNING/LOWER_UP, operstate LOWERLAYERDOWN.
const LINK_V0_DOWN_PEER: &str = concat!(
    "d8050000100000000000000000000000000001000300000003100000000000000b0003006b76732d7630000008000d00",
    "e803000005001000030000000500110000000000050043000000000008000400dc050000080032004400000008003300",
    "ffff000008001b000000000008001e000000000008003d000000000008001f000200000008002800ffff000008002900",
    "0000010008003a000000010008003f0000000100080040000000010008003b00f8ff070008003c00ffff000008004200",
    "0000000008002000020000000500210000000000080023000300000008002f0001000000080030000200000006004400",
    "00000000060045000000000005002700000000000a00010002005e00010100000a000200ffffffffffff0000cc001700",
    "08000000000000000c000000000000009002000000000000f80300000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000064000700080000000c00000090020000f80300000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000c002b000500020000000000100012000900010076657468000000000800050002000000",
    "0c0006006e6f71756575650030031a008c00020088000100000000000000000000000000010000000100000001000000",
    "010000000000000001000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000010270000e80300000000000000000000",
    "000000000000000001000000a0020a00080001001000008014000500ffff0000d416010078560000e8030000f4000200",
    "0000000040000000dc05000001000000010000000100000001000000ffffffffa00f0000e803000000000000803a0900",
    "805101000300000058020000100000000000000001000000010000000100000060ea0000000000000000000000000000",
    "00000000000000000000000001000000000000000000000010270000e803000001000000000000000000000001000000",
    "0000000000000000010000000000000000000000000000000000000080ee360000000000000000000100000000000000",
    "000000000000000000000000000000000004000000000000ffff0000ffffffff01000000000000000000000000000000",
    "340103002600000000000000080000000000000020020000000000000000000000000000080000000000000000000000",
    "00000000000000000000000000000000000000000c000000000000000c00000000000000500300000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000000000000000000000000000000000000000000000000008000000000000000c000000",
    "000000000000000000000000000000000000000020020000000000005003000000000000000000000000000000000000",
    "00000000000000000000000000000000000000003c000600070000000000000000000000000000000000000000000000",
    "0c0000000000000000000000000000000000000000000000000000000000000014000700000000000000000000000000",
    "00000000050008000000000024000e000000000000000000000000000000000000000000000000000000000000000000",
    "04003e8004004180",
);

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Converts the host-endian field at `off..off+N` from little-endian to native.
fn le_to_ne<const N: usize>(b: &mut [u8], off: usize) {
    let s = &mut b[off..off + N];
    if cfg!(target_endian = "big") {
        s.reverse();
    }
}

fn le_u32(b: &[u8], off: usize) -> usize {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap()) as usize
}
fn le_u16(b: &[u8], off: usize) -> usize {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap()) as usize
}

/// Converts the attributes in `b[start..end]` (lengths read as LE), and the
/// u32 attributes in `u32_attrs`, to native order.
fn convert_attrs(b: &mut [u8], mut pos: usize, end: usize, u32_attrs: &[u16]) {
    while pos + 4 <= end {
        let len = le_u16(b, pos);
        let kind = le_u16(b, pos + 2) as u16 & 0x3fff;
        le_to_ne::<2>(b, pos);
        le_to_ne::<2>(b, pos + 2);
        if len == 8 && u32_attrs.contains(&kind) {
            le_to_ne::<4>(b, pos + 4);
        }
        pos += align4(len.max(4));
    }
}

fn convert_nlmsghdr(b: &mut [u8], off: usize) {
    le_to_ne::<4>(b, off);
    le_to_ne::<2>(b, off + 4);
    le_to_ne::<2>(b, off + 6);
    le_to_ne::<4>(b, off + 8);
    le_to_ne::<4>(b, off + 12);
}

/// Golden little-endian hex -> native-order datagram.
fn golden(le_hex: &str) -> Vec<u8> {
    let mut b = hex(le_hex);
    let mut pos = 0;
    while pos + 16 <= b.len() {
        let len = le_u32(&b, pos);
        let ty = le_u16(&b, pos + 4) as u16;
        let end = pos + len;
        convert_nlmsghdr(&mut b, pos);
        let p = pos + 16;
        match ty {
            NLMSG_ERROR => {
                le_to_ne::<4>(&mut b, p);
                convert_nlmsghdr(&mut b, p + 4);
            }
            RTM_NEWADDR | RTM_DELADDR => {
                le_to_ne::<4>(&mut b, p + 4);
                convert_attrs(&mut b, p + 8, end, &[IFA_FLAGS]);
            }
            RTM_NEWLINK | RTM_DELLINK => {
                le_to_ne::<2>(&mut b, p + 2);
                le_to_ne::<4>(&mut b, p + 4);
                le_to_ne::<4>(&mut b, p + 8);
                le_to_ne::<4>(&mut b, p + 12);
                convert_attrs(&mut b, p + 16, end, &[IFLA_MTU]);
            }
            _ => {}
        }
        pos += align4(len);
    }
    b
}

fn only_message(d: &[u8]) -> Message<'_> {
    let mut it = MsgIter::new(d);
    let m = it.next().expect("one message").expect("valid message");
    assert!(it.next().is_none(), "exactly one message");
    assert_eq!(m.length() as usize, d.len());
    Message::parse(&m).expect("parses")
}

#[test]
fn align() {
    assert_eq!(align4(0), 0);
    assert_eq!(align4(1), 4);
    assert_eq!(align4(4), 4);
    assert_eq!(align4(13), 16);
    assert_eq!(align4(usize::MAX), usize::MAX & !3);
}

#[test]
fn golden_newaddr_ipv4_with_label_and_broadcast() {
    let d = golden(ADD4);
    let m = MsgIter::new(&d).next().unwrap().unwrap();
    assert_eq!(m.message_type(), RTM_NEWADDR);
    assert_eq!(m.seq(), 0x6b02_78e2);
    assert_eq!(m.port_id(), 0x51a6);
    let expected = AddrInfo {
        ifindex: 3,
        family: AF_INET,
        prefix_len: 24,
        flags: IFA_F_PERMANENT,
        scope: RT_SCOPE_UNIVERSE,
        address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))),
        peer: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))),
        broadcast: Some(Ipv4Addr::new(192, 0, 2, 255)),
        label: Some("kvs-v0:vip"),
    };
    assert_eq!(only_message(&d), Message::NewAddr(expected));
    let d = golden(DEL4);
    assert_eq!(only_message(&d), Message::DelAddr(expected));
}

#[test]
fn golden_newaddr_ipv6_nodad() {
    let d = golden(ADD6);
    let a = match only_message(&d) {
        Message::NewAddr(a) => a,
        other => panic!("{other:?}"),
    };
    let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
    assert_eq!(a.family, AF_INET6);
    assert_eq!(a.ifindex, 3);
    assert_eq!(a.prefix_len, 64);
    assert_eq!(a.flags, IFA_F_NODAD | IFA_F_PERMANENT);
    assert_eq!(a.address, Some(IpAddr::V6(vip)));
    assert_eq!(a.label, None);
    assert_eq!(a.broadcast, None);
}

#[test]
fn golden_newlink_carrier_lost() {
    let d = golden(LINK_V0_DOWN_PEER);
    assert_eq!(d.len(), 1496);
    let l = match only_message(&d) {
        Message::NewLink(l) => l,
        other => panic!("{other:?}"),
    };
    assert_eq!(l.ifindex, 3);
    assert_eq!(l.name, "kvs-v0");
    assert_eq!(l.flags, IFF_UP | IFF_BROADCAST | IFF_MULTICAST);
    assert!(l.is_up() && !l.is_running());
    assert_eq!(l.operstate, Some(IF_OPER_LOWERLAYERDOWN));
    assert_eq!(l.mac(), Some([0x02, 0x00, 0x5e, 0x00, 0x01, 0x01]));
    assert_eq!(l.mtu, Some(1500));
}

#[test]
fn golden_ack_and_error() {
    let d = golden(ACK);
    assert_eq!(
        only_message(&d),
        Message::Ack(Ack {
            seq: 7,
            errno: 0,
            request_type: RTM_NEWADDR
        })
    );
    let m = MsgIter::new(&d).next().unwrap().unwrap();
    assert_eq!(m.flags() & NLM_F_CAPPED, NLM_F_CAPPED);
    let d = golden(ERR_EEXIST);
    assert_eq!(
        only_message(&d),
        Message::Ack(Ack {
            seq: 8,
            errno: 17, // EEXIST
            request_type: RTM_NEWADDR
        })
    );
}

#[test]
fn emit_matches_iproute2_request() {
    let expected = golden(IPROUTE2_ADD4_REQ);
    let req = AddrRequest {
        ifindex: 3,
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        prefix_len: 24,
        broadcast: Some(Ipv4Addr::new(192, 0, 2, 255)),
        scope: RT_SCOPE_UNIVERSE,
        flags: 0,
        label: Some("kvs-v0:vip"),
    };
    let mut buf = [0xa5u8; 128];
    let n = emit_addr_request(&mut buf, AddrOp::Add, 0x6b02_78d3, &req).unwrap();
    assert_eq!(&buf[..n], &expected[..]);
    // Too small a buffer is an error, not a panic.
    let mut small = [0u8; 40];
    assert!(matches!(
        emit_addr_request(&mut small, AddrOp::Add, 1, &req),
        Err(Error::BufferTooSmall { .. })
    ));
}

#[test]
fn emit_ipv6_vip_round_trips_with_nodad() {
    let vip: IpAddr = "2001:db8::100".parse().unwrap();
    let req = AddrRequest::vip(7, vip, 64);
    let mut buf = [0u8; 128];
    let n = emit_addr_request(&mut buf, AddrOp::Add, 42, &req).unwrap();
    let m = NlMsg::new_checked(&buf[..n]).unwrap();
    assert_eq!(m.message_type(), RTM_NEWADDR);
    assert_eq!(m.seq(), 42);
    assert_eq!(
        m.flags(),
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    );
    let a = AddrInfo::parse(m.payload()).unwrap();
    assert_eq!(a.family, AF_INET6);
    assert_eq!(a.ifindex, 7);
    assert_eq!(a.flags, IFA_F_NODAD);
    assert_eq!(a.address, Some(vip));
    assert_eq!(a.label, None);

    // Delete: no label/broadcast, ACK requested.
    let lreq = AddrRequest {
        label: Some("eth0:1"),
        broadcast: Some(Ipv4Addr::new(192, 0, 2, 255)),
        ..AddrRequest::vip(2, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 32)
    };
    let n = emit_addr_request(&mut buf, AddrOp::Del, 43, &lreq).unwrap();
    let m = NlMsg::new_checked(&buf[..n]).unwrap();
    assert_eq!(m.message_type(), RTM_DELADDR);
    assert_eq!(m.flags(), NLM_F_REQUEST | NLM_F_ACK);
    let a = AddrInfo::parse(m.payload()).unwrap();
    assert_eq!((a.label, a.broadcast, a.prefix_len), (None, None, 32));

    // Flags above 8 bits go into IFA_FLAGS.
    let big = AddrRequest {
        flags: 0x100 | IFA_F_NODAD,
        ..req
    };
    let n = emit_addr_request(&mut buf, AddrOp::Add, 44, &big).unwrap();
    let m = NlMsg::new_checked(&buf[..n]).unwrap();
    assert_eq!(AddrInfo::parse(m.payload()).unwrap().flags, 0x102);
}

#[test]
fn emit_rejects_bad_labels() {
    let base = AddrRequest::vip(2, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 24);
    let mut buf = [0u8; 128];
    for l in ["", "0123456789abcdef", "a\0b"] {
        let r = AddrRequest {
            label: Some(l),
            ..base
        };
        assert_eq!(
            emit_addr_request(&mut buf, AddrOp::Add, 1, &r),
            Err(Error::BadName { attr: IFA_LABEL })
        );
    }
    let r = AddrRequest {
        label: Some("0123456789abcde"),
        ..base
    };
    let n = emit_addr_request(&mut buf, AddrOp::Add, 1, &r).unwrap();
    let m = NlMsg::new_checked(&buf[..n]).unwrap();
    assert_eq!(
        AddrInfo::parse(m.payload()).unwrap().label,
        Some("0123456789abcde")
    );
}

#[test]
fn emit_dump_requests() {
    let mut buf = [0xffu8; 64];
    let n = emit_dump_request(&mut buf, DumpKind::Links, 5).unwrap();
    assert_eq!(n, 32);
    let m = NlMsg::new_checked(&buf[..n]).unwrap();
    assert_eq!(m.message_type(), RTM_GETLINK);
    assert_eq!(m.flags(), NLM_F_REQUEST | NLM_F_DUMP);
    assert_eq!(m.seq(), 5);
    assert!(m.payload().iter().all(|&b| b == 0));
    let n = emit_dump_request(&mut buf, DumpKind::Addrs { family: AF_INET6 }, 6).unwrap();
    assert_eq!(n, 24);
    let m = NlMsg::new_checked(&buf[..n]).unwrap();
    assert_eq!(m.message_type(), RTM_GETADDR);
    assert_eq!(m.payload()[0], AF_INET6);
}

#[test]
fn multi_message_datagram_and_padding() {
    // Two messages back to back, as in a dump datagram.
    let mut d = golden(ACK);
    d.extend_from_slice(&golden(ADD6));
    let kinds: Vec<_> = MsgIter::new(&d)
        .map(|m| Message::parse(&m.unwrap()).unwrap())
        .collect();
    assert!(matches!(kinds[0], Message::Ack(_)));
    assert!(matches!(kinds[1], Message::NewAddr(_)));
    assert_eq!(kinds.len(), 2);
}

fn set_len32(d: &mut [u8], off: usize, v: u32) {
    d[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}
fn set_len16(d: &mut [u8], off: usize, v: u16) {
    d[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}

#[test]
fn malformed_message_headers() {
    // Truncated header.
    let d = golden(ACK);
    assert_eq!(
        MsgIter::new(&d[..10]).collect::<Vec<_>>(),
        [Err(Error::HeaderTruncated {
            needed: 16,
            available: 10
        })]
    );
    assert!(NlMsg::new_checked(&d[..15]).is_err());
    // Length field smaller than the header (0 would loop forever).
    for bad in [0u32, 4, 15] {
        let mut e = d.clone();
        set_len32(&mut e, 0, bad);
        e.extend_from_slice(&d); // a valid message after it is not reached
        let v: Vec<_> = MsgIter::new(&e).collect();
        assert_eq!(
            v,
            [Err(Error::LengthTooSmall {
                length: bad as usize
            })]
        );
    }
    // Length field larger than the datagram.
    let mut e = d.clone();
    set_len32(&mut e, 0, 37);
    assert_eq!(
        MsgIter::new(&e).collect::<Vec<_>>(),
        [Err(Error::LengthTooLarge {
            length: 37,
            available: 36
        })]
    );
    // A good message, then a broken one, then a good one: one Ok, one Err, stop.
    let mut e = d.clone();
    e.extend_from_slice(&[0u8; 16]);
    e.extend_from_slice(&d);
    let v: Vec<_> = MsgIter::new(&e).collect();
    assert_eq!(v.len(), 2);
    assert!(v[0].is_ok());
    assert_eq!(v[1], Err(Error::LengthTooSmall { length: 0 }));
    // NLMSG_ERROR without the errno.
    let mut e = d[..16].to_vec();
    set_len32(&mut e, 0, 16);
    let m = NlMsg::new_checked(&e[..]).unwrap();
    assert!(matches!(
        Message::parse(&m),
        Err(Error::HeaderTruncated { needed: 4, .. })
    ));
}

#[test]
fn malformed_attributes() {
    let good = golden(ADD4);
    // ifaddrmsg starts at 16, first attribute (IFA_ADDRESS) at 24.
    fn parse(d: &[u8]) -> Result<Message<'_>, Error> {
        let m = NlMsg::new_checked(d).unwrap();
        Message::parse(&m)
    }
    // nla_len too small (0 and 3): an error, not an endless loop.
    for bad in [0u16, 3] {
        let mut d = good.clone();
        set_len16(&mut d, 24, bad);
        assert_eq!(
            parse(&d),
            Err(Error::LengthTooSmall {
                length: bad as usize
            })
        );
    }
    // nla_len past the end of the message.
    let mut d = good.clone();
    set_len16(&mut d, 24, 200);
    assert_eq!(
        parse(&d),
        Err(Error::LengthTooLarge {
            length: 200,
            available: 68
        })
    );
    // Truncated attribute header: cut the message inside the last attribute
    // header (message length adjusted so only the attribute is short).
    let mut d = good[..good.len() - 18].to_vec();
    let n = d.len() as u32;
    set_len32(&mut d, 0, n);
    assert_eq!(
        parse(&d),
        Err(Error::HeaderTruncated {
            needed: 4,
            available: 2
        })
    );
    // Wrong address size for the family.
    let mut d = good.clone();
    d[16] = AF_INET6;
    assert!(matches!(parse(&d), Err(Error::BadAddressLength { .. })));
    d[16] = 7;
    assert_eq!(parse(&d), Err(Error::BadFamily { family: 7 }));
    // Truncated ifaddrmsg / ifinfomsg.
    assert!(matches!(
        AddrInfo::parse(&good[16..20]),
        Err(Error::HeaderTruncated { needed: 8, .. })
    ));
    assert!(matches!(
        LinkInfo::parse(&good[16..30]),
        Err(Error::HeaderTruncated { needed: 16, .. })
    ));
    // The attribute iterator stops after the first error.
    let attrs = [8u8, 0, 1, 0, 1, 2, 3, 4, 0, 0, 1, 0, 8, 0, 2, 0, 5, 6, 7, 8];
    let mut attrs = attrs;
    set_len16(&mut attrs, 0, 8);
    set_len16(&mut attrs, 2, 1);
    set_len16(&mut attrs, 8, 0);
    let v: Vec<_> = NlaIter::new(&attrs).collect();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].unwrap().kind(), 1);
    assert_eq!(v[0].unwrap().value(), &[1, 2, 3, 4]);
    assert_eq!(v[1], Err(Error::LengthTooSmall { length: 0 }));
}

#[test]
fn no_panic_on_any_truncation_or_byte_flip() {
    for g in [ADD4, ADD6, DEL4, ACK, ERR_EEXIST, LINK_V0_DOWN_PEER] {
        let d = golden(g);
        for cut in 0..=d.len() {
            for m in MsgIter::new(&d[..cut]).flatten() {
                let _ = Message::parse(&m);
            }
        }
        let mut e = d.clone();
        for i in 0..e.len().min(200) {
            for x in [0x00, 0xff, 0x01, 0x80] {
                let old = e[i];
                e[i] = x;
                for m in MsgIter::new(&e).flatten() {
                    let _ = Message::parse(&m);
                }
                e[i] = old;
            }
        }
        // Unchecked accessors on garbage never panic either.
        let m = NlMsg::new_unchecked(&d[..3]);
        assert_eq!(m.payload(), &[] as &[u8]);
        let _ = (m.length(), m.seq(), m.flags(), m.port_id());
    }
}
