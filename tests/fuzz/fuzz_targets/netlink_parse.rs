//! rtnetlink parsing: the message iterator, the attribute iterator and
//! `Message::parse` on whatever the kernel (or an attacker with
//! CAP_NET_ADMIN in the namespace) could put in a datagram.
//!
//! Properties, beyond "never panics":
//! * both iterators terminate: every `Ok` item consumes at least its header
//!   (16 / 4 octets), and after an `Err` the iterator yields nothing more;
//! * every yielded item lies inside the buffer and its length field is
//!   at least the header length and at most what was left;
//! * `Message::parse` gives the variant of the message type: NLMSG_ERROR
//!   an `Ack` and NLMSG_DONE a `Done` with the header's sequence number,
//!   RTM_NEWLINK/DELLINK a `NewLink`/`DelLink`,
//!   RTM_NEWADDR/DELADDR a `NewAddr`/`DelAddr` (the seeds hold each of
//!   them: tests/fuzz/seeds.py checks it);
//! * an address request built by `emit_addr_request` from fuzzed fields
//!   parses back (as RTM_NEWADDR / RTM_DELADDR) to the same fields.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use keepvip::wire::netlink::{
    AddrInfo, AddrOp, AddrRequest, DumpKind, IFA_F_NODAD, LinkInfo, Message, MsgIter, NLMSG_DONE,
    NLMSG_ERROR, NlMsg, Nla, NlaIter, RTM_DELADDR, RTM_DELLINK, RTM_NEWADDR, RTM_NEWLINK,
    emit_addr_request, emit_dump_request,
};
use libfuzzer_sys::fuzz_target;

fn walk_attrs(buf: &[u8]) {
    let mut n = 0usize;
    let mut failed = false;
    for a in NlaIter::new(buf) {
        assert!(!failed, "NlaIter yielded after an error");
        n += 1;
        assert!(
            n <= buf.len() / Nla::<&[u8]>::HEADER_LEN + 1,
            "NlaIter does not terminate"
        );
        match a {
            Ok(a) => {
                let len = usize::from(a.length());
                assert!(len >= Nla::<&[u8]>::HEADER_LEN && len <= buf.len());
                assert_eq!(a.value().len(), len - Nla::<&[u8]>::HEADER_LEN);
                let _ = a.kind();
                // Nested attributes: walk the value as a run of attributes too.
                if n < 64 {
                    walk_attrs(a.value());
                }
            }
            Err(_) => failed = true,
        }
    }
}

fn walk_messages(buf: &[u8]) {
    let mut n = 0usize;
    let mut failed = false;
    for m in MsgIter::new(buf) {
        assert!(!failed, "MsgIter yielded after an error");
        n += 1;
        assert!(
            n <= buf.len() / NlMsg::<&[u8]>::HEADER_LEN + 1,
            "MsgIter does not terminate"
        );
        let m = match m {
            Ok(m) => m,
            Err(_) => {
                failed = true;
                continue;
            }
        };
        let len = m.length() as usize;
        assert!(len >= NlMsg::<&[u8]>::HEADER_LEN && len <= buf.len());
        assert_eq!(m.payload().len(), len - NlMsg::<&[u8]>::HEADER_LEN);
        let _ = (m.message_type(), m.flags(), m.seq(), m.port_id());
        let parsed = Message::parse(&m);
        if let Ok(p) = &parsed {
            let kind_ok = match m.message_type() {
                NLMSG_ERROR => {
                    matches!(p, Message::Ack(a) if a.seq == m.seq())
                }
                NLMSG_DONE => {
                    matches!(p, Message::Done { seq, .. } if *seq == m.seq())
                }
                RTM_NEWLINK => matches!(p, Message::NewLink(_)),
                RTM_DELLINK => matches!(p, Message::DelLink(_)),
                RTM_NEWADDR => matches!(p, Message::NewAddr(_)),
                RTM_DELADDR => matches!(p, Message::DelAddr(_)),
                _ => true,
            };
            assert!(kind_ok, "type {} parsed as {p:?}", m.message_type());
        }
        match parsed {
            Ok(Message::NewLink(l) | Message::DelLink(l)) => {
                assert!(l.name.len() < 16);
                let _ = (l.is_up(), l.is_running(), l.mac());
            }
            Ok(Message::NewAddr(a) | Message::DelAddr(a)) => check_addr(&a),
            Ok(_) | Err(_) => {}
        }
        // The payload as both fixed headers, whatever the type says.
        let _ = LinkInfo::parse(m.payload());
        if let Ok(a) = AddrInfo::parse(m.payload()) {
            check_addr(&a);
        }
    }
}

fn check_addr(a: &AddrInfo<'_>) {
    let v4 = a.family == 2;
    for ip in [a.address, a.peer].into_iter().flatten() {
        assert_eq!(ip.is_ipv4(), v4, "address of the wrong family");
    }
    if let Some(l) = a.label {
        assert!(l.len() < 16);
    }
}

/// Builds an address request from the first input bytes and parses it back.
fn addr_request_round_trip(data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let v6 = head[0] & 1 != 0;
    let op = if head[0] & 2 != 0 {
        AddrOp::Del
    } else {
        AddrOp::Add
    };
    let address = if v6 {
        IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&head[1..17]).unwrap()))
    } else {
        IpAddr::V4(Ipv4Addr::new(head[1], head[2], head[3], head[4]))
    };
    let mut req = AddrRequest::vip(
        u32::from_ne_bytes([head[17], head[18], head[19], head[20]]),
        address,
        head[21],
    );
    req.scope = head[22];
    if head[0] & 4 != 0 {
        req.flags = u32::from_ne_bytes([head[23], head[24], head[25], head[26]]);
    }
    if head[0] & 8 != 0 {
        req.broadcast = Some(Ipv4Addr::new(head[27], head[28], head[29], head[30]));
    }
    let label_len = usize::from(head[31] % 20).min(rest.len());
    if head[0] & 16 != 0 {
        req.label = core::str::from_utf8(&rest[..label_len]).ok();
    }
    let seq = u32::from(head[0]);
    let mut buf = [0u8; 128];
    let size = if head[0] & 32 != 0 {
        128
    } else {
        usize::from(head[31]) % 129
    };
    let Ok(n) = emit_addr_request(&mut buf[..size], op, seq, &req) else {
        return;
    };
    assert!(n <= size);
    let mut it = MsgIter::new(&buf[..n]);
    let m = it
        .next()
        .expect("one message")
        .expect("emitted message parses");
    assert!(it.next().is_none());
    assert_eq!(m.seq(), seq);
    let info = match (Message::parse(&m), op) {
        (Ok(Message::NewAddr(a)), AddrOp::Add) | (Ok(Message::DelAddr(a)), AddrOp::Del) => a,
        (other, _) => panic!("{req:?} parsed back as {other:?}"),
    };
    assert_eq!(info.ifindex, req.ifindex);
    assert_eq!(info.prefix_len, req.prefix_len);
    assert_eq!(info.scope, req.scope);
    assert_eq!(info.address, Some(address));
    assert_eq!(info.peer, Some(address));
    let flags = if op == AddrOp::Add && req.flags > 0xff {
        req.flags
    } else {
        req.flags & 0xff
    };
    assert_eq!(info.flags, flags);
    if v6 && head[0] & 4 == 0 {
        // AddrRequest::vip: IPv6 VIPs skip DAD.
        assert_eq!(info.flags, IFA_F_NODAD);
    }
    if op == AddrOp::Add && !v6 {
        assert_eq!(info.broadcast, req.broadcast);
        assert_eq!(info.label, req.label);
    } else {
        assert_eq!((info.broadcast, info.label), (None, None));
    }
}

fuzz_target!(|data: &[u8]| {
    walk_messages(data);
    walk_attrs(data);
    let _ = LinkInfo::parse(data);
    if let Ok(a) = AddrInfo::parse(data) {
        check_addr(&a);
    }
    addr_request_round_trip(data);
    let mut buf = [0u8; 64];
    let len = data.first().map_or(0, |b| usize::from(*b) % 65);
    for kind in [DumpKind::Links, DumpKind::Addrs { family: len as u8 }] {
        if let Ok(n) = emit_dump_request(&mut buf[..len], kind, 7) {
            let m = MsgIter::new(&buf[..n])
                .next()
                .expect("dump request")
                .expect("parses");
            assert_eq!(m.length() as usize, n);
        }
    }
});
