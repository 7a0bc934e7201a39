//! Namespace self-tests of the `sys` primitives (root only; CI runs them as
//! root). See tests/netns/mod.rs for the harness.

mod netns;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration as StdDuration;

use keepvip::sys::netlink::{Event, NL_MONITOR_RCVBUF, Netlink};
use keepvip::time::Duration;
use keepvip::wire::netlink::{AddrRequest, RT_SCOPE_UNIVERSE};
use netns::{Ns, veth, wait_until};

const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;

/// Owned copy of the events a test cares about.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Ack {
        seq: u32,
        errno: i32,
    },
    AckLost(u32),
    Link {
        del: bool,
        ifindex: u32,
        name: String,
        up: bool,
        running: bool,
        mac: Option<[u8; 6]>,
    },
    Addr {
        del: bool,
        ifindex: u32,
        addr: Option<IpAddr>,
        prefix: u8,
        label: Option<String>,
        flags: u32,
    },
    DumpDone,
    DumpAborted(i32),
    Overrun,
    Malformed(String),
}

fn record(out: &mut Vec<Seen>) -> impl FnMut(Event<'_>) + '_ {
    move |ev| {
        out.push(match ev {
            Event::Ack { seq, errno, .. } => Seen::Ack { seq, errno },
            Event::AckLost { seq } => Seen::AckLost(seq),
            Event::NewLink(l) | Event::DelLink(l) => Seen::Link {
                del: matches!(ev, Event::DelLink(_)),
                ifindex: l.ifindex,
                name: l.name.to_string(),
                up: l.is_up(),
                running: l.is_running(),
                mac: l.mac(),
            },
            Event::NewAddr(a) | Event::DelAddr(a) => Seen::Addr {
                del: matches!(ev, Event::DelAddr(_)),
                ifindex: a.ifindex,
                addr: a.address,
                prefix: a.prefix_len,
                label: a.label.map(str::to_string),
                flags: a.flags,
            },
            Event::DumpDone => Seen::DumpDone,
            Event::DumpAborted { errno } => Seen::DumpAborted(errno),
            Event::Overrun => Seen::Overrun,
            Event::Malformed(e) => Seen::Malformed(format!("{e:?}")),
        })
    }
}

/// Drains `nl` until `pred` holds on the events seen so far (bounded: 5 s).
fn drain_until(nl: &mut Netlink, seen: &mut Vec<Seen>, pred: impl Fn(&[Seen]) -> bool) {
    let ok = wait_until(StdDuration::from_secs(5), || {
        nl.drain(record(seen)).expect("drain");
        pred(seen)
    });
    assert!(ok, "timed out; events: {seen:#?}");
}

fn ack_of(seen: &[Seen], seq: u32) -> Option<i32> {
    seen.iter().find_map(|s| match s {
        Seen::Ack { seq: q, errno } if *q == seq => Some(*errno),
        _ => None,
    })
}

#[test]
fn netlink_adds_and_removes_vips() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): qemu-user cannot translate these socket options and netlink attributes"
        );
        return;
    }
    let ns = Ns::new("nlvip");
    let peer = Ns::new("nlvipp");
    veth(&ns, "kvs-a", &peer, "kvs-b");
    ns.ip(&["link", "set", "kvs-a", "address", "02:00:5e:00:01:0a"]);
    let idx = ns.ifindex("kvs-a");
    let mut nl = ns
        .run(|| Netlink::open(NL_MONITOR_RCVBUF))
        .expect("open netlink");

    // Start-up dump: sees the interface with its MAC, then DumpDone.
    let mut seen = Vec::new();
    nl.wait_dump(Duration::from_secs(5), record(&mut seen))
        .expect("dump");
    assert!(
        seen.iter().any(
            |s| matches!(s, Seen::Link { ifindex, name, up: true, mac: Some(m), .. }
            if *ifindex == idx && name == "kvs-a" && *m == [2, 0, 0x5e, 0, 1, 0x0a])
        ),
        "{seen:#?}"
    );
    assert_eq!(seen.last(), Some(&Seen::DumpDone));

    // IPv4 VIP with broadcast and label.
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    let req4 = AddrRequest {
        broadcast: Some(Ipv4Addr::new(192, 0, 2, 255)),
        label: Some("kvs-a:vip"),
        scope: RT_SCOPE_UNIVERSE,
        ..AddrRequest::vip(idx, v4, 24)
    };
    seen.clear();
    let s1 = nl.add_address(&req4).expect("add v4");
    let s2 = nl.add_address(&req4).expect("add v4 again");
    assert_ne!(s1, s2);
    drain_until(&mut nl, &mut seen, |s| {
        ack_of(s, s2).is_some()
            && s.iter()
                .any(|e| matches!(e, Seen::Addr { del: false, addr: Some(a), .. } if *a == v4))
    });
    assert_eq!(ack_of(&seen, s1), Some(0));
    assert_eq!(
        ack_of(&seen, s2),
        Some(EEXIST),
        "duplicate add reports the errno"
    );
    assert!(seen.iter().any(|e| matches!(e,
        Seen::Addr { del: false, ifindex, prefix: 24, label: Some(l), .. } if *ifindex == idx && l == "kvs-a:vip")));
    let shown = ns.ip(&["-o", "-4", "addr", "show", "dev", "kvs-a"]);
    assert!(
        shown.contains("inet 192.0.2.100/24 brd 192.0.2.255 scope global kvs-a:vip"),
        "{shown}"
    );

    // IPv6 VIP with nodad.
    let v6: Ipv6Addr = "2001:db8::100".parse().unwrap();
    let req6 = AddrRequest::vip(idx, IpAddr::V6(v6), 64);
    let s3 = nl.add_address(&req6).expect("add v6");
    drain_until(&mut nl, &mut seen, |s| ack_of(s, s3).is_some());
    assert_eq!(ack_of(&seen, s3), Some(0));
    let shown = ns.ip(&["-o", "-6", "addr", "show", "dev", "kvs-a"]);
    let line = shown
        .lines()
        .find(|l| l.contains("2001:db8::100/64"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("nodad"), "{line}");
    assert!(!line.contains("tentative"), "{line}");

    // Remove both; removing again reports EADDRNOTAVAIL.
    seen.clear();
    let d1 = nl.del_address(&req4).expect("del v4");
    let d2 = nl.del_address(&req6).expect("del v6");
    let d3 = nl.del_address(&req4).expect("del v4 again");
    drain_until(&mut nl, &mut seen, |s| {
        ack_of(s, d3).is_some()
            && s.iter()
                .any(|e| matches!(e, Seen::Addr { del: true, addr: Some(a), .. } if *a == v4))
    });
    assert_eq!(ack_of(&seen, d1), Some(0));
    assert_eq!(ack_of(&seen, d2), Some(0));
    assert_eq!(ack_of(&seen, d3), Some(EADDRNOTAVAIL));
    let shown = ns.ip(&["-o", "addr", "show", "dev", "kvs-a"]);
    assert!(
        !shown.contains("192.0.2.100") && !shown.contains("2001:db8::100"),
        "{shown}"
    );
    assert_eq!(nl.pending(), 0);
    let st = nl.stats();
    assert_eq!(
        (st.requests, st.acks_ok, st.acks_errno, st.acks_lost),
        (6, 4, 2, 0)
    );
}

#[test]
fn netlink_reports_link_down() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): qemu-user cannot translate these socket options and netlink attributes"
        );
        return;
    }
    let ns = Ns::new("nllink");
    let peer = Ns::new("nllinkp");
    veth(&ns, "kvs-a", &peer, "kvs-b");
    ns.ip(&[
        "link", "add", "kvs-c", "type", "veth", "peer", "name", "kvs-d",
    ]);
    ns.ip(&["link", "set", "kvs-c", "up"]);
    ns.ip(&["link", "set", "kvs-d", "up"]);
    let a = ns.ifindex("kvs-a");
    let c = ns.ifindex("kvs-c");
    let mut nl = ns
        .run(|| Netlink::open(NL_MONITOR_RCVBUF))
        .expect("open netlink");
    let mut seen = Vec::new();
    nl.wait_dump(Duration::from_secs(5), record(&mut seen))
        .expect("dump");

    // Administratively down: IFF_UP cleared.
    seen.clear();
    ns.ip(&["link", "set", "dev", "kvs-a", "down"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter().any(
            |e| matches!(e, Seen::Link { ifindex, up: false, running: false, .. } if *ifindex == a),
        )
    });
    // Carrier loss (peer down in the other namespace): up but not running.
    seen.clear();
    ns.ip(&["link", "set", "dev", "kvs-d", "down"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter().any(
            |e| matches!(e, Seen::Link { ifindex, up: true, running: false, .. } if *ifindex == c),
        )
    });
    // And back.
    seen.clear();
    ns.ip(&["link", "set", "dev", "kvs-d", "up"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter().any(
            |e| matches!(e, Seen::Link { ifindex, up: true, running: true, .. } if *ifindex == c),
        )
    });
    // Deleting the link yields RTM_DELLINK.
    seen.clear();
    ns.ip(&["link", "del", "dev", "kvs-c"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter()
            .any(|e| matches!(e, Seen::Link { del: true, ifindex, .. } if *ifindex == c))
    });
}

#[test]
fn netlink_overrun_triggers_redump() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): qemu-user cannot translate these socket options and netlink attributes"
        );
        return;
    }
    let ns = Ns::new("nlovr");
    let peer = Ns::new("nlovrp");
    veth(&ns, "kvs-a", &peer, "kvs-b");
    // Smallest monitor buffer the kernel allows: a burst of changes overruns it.
    let mut nl = ns.run(|| Netlink::open(1)).expect("open netlink");
    let mut seen = Vec::new();
    nl.wait_dump(Duration::from_secs(5), record(&mut seen))
        .expect("dump");

    const N: u32 = 300;
    let batch: String = (0..N)
        .map(|i| format!("addr add 2001:db8:1::{:x}/128 dev kvs-a nodad\n", i + 1))
        .collect();
    let path = std::env::temp_dir().join(format!("kvs-ovr-{}.batch", std::process::id()));
    std::fs::write(&path, batch).unwrap();
    ns.ip(&["-batch", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);

    seen.clear();
    drain_until(&mut nl, &mut seen, |s| s.contains(&Seen::DumpDone));
    let first_overrun = seen
        .iter()
        .position(|e| *e == Seen::Overrun)
        .expect("an overrun");
    // After the overrun, the re-dump delivers every address.
    let after: std::collections::HashSet<_> = seen[first_overrun..]
        .iter()
        .filter_map(|e| match e {
            Seen::Addr {
                del: false,
                addr: Some(IpAddr::V6(a)),
                ..
            } if a.segments()[2] == 1 => Some(*a),
            _ => None,
        })
        .collect();
    assert_eq!(after.len(), N as usize, "re-dump after overrun is complete");
    assert!(nl.stats().overruns >= 1);
    assert!(nl.stats().dumps >= 2);
}

// ------------------------------------------------------------------ VRRP sockets

use keepvip::sys::packet_sock::{ETHERTYPE_ARP, PacketSocket, interface_mac};
use keepvip::sys::vrrp_sock::{
    RecvError, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_RCVBUF, Vrrp4Socket, Vrrp6Socket,
};

/// Two routers on one veth link: r1/kvs-a (192.0.2.1, 2001:db8::1,
/// fe80::1) and r2/kvs-b (192.0.2.2, 2001:db8::2, fe80::2). IPv6 addresses
/// are added with nodad so they are usable at once.
fn two_routers(tag: &str) -> (Ns, Ns) {
    let r1 = Ns::new(&format!("{tag}1"));
    let r2 = Ns::new(&format!("{tag}2"));
    veth(&r1, "kvs-a", &r2, "kvs-b");
    for (ns, dev, n) in [(&r1, "kvs-a", 1), (&r2, "kvs-b", 2)] {
        ns.ip(&["addr", "add", &format!("192.0.2.{n}/24"), "dev", dev]);
        ns.ip(&[
            "addr",
            "add",
            &format!("2001:db8::{n}/64"),
            "dev",
            dev,
            "nodad",
        ]);
        ns.ip(&["addr", "add", &format!("fe80::{n}/64"), "dev", dev, "nodad"]);
    }
    (r1, r2)
}

/// A minimal IPv4 header (checksum and id left to the kernel) + payload.
fn ipv4_datagram(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut d = vec![0x45, 0xc0];
    d.extend_from_slice(&total.to_be_bytes());
    d.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0]);
    d.extend_from_slice(&src.octets());
    d.extend_from_slice(&dst.octets());
    d.extend_from_slice(payload);
    d
}

fn recv4_within(s: &Vrrp4Socket, buf: &mut [u8]) -> keepvip::sys::vrrp_sock::Recv4 {
    let mut got = None;
    let ok = wait_until(StdDuration::from_secs(5), || match s.recv(buf) {
        Ok(m) => {
            got = Some(m);
            true
        }
        Err(RecvError::WouldBlock) => false,
        Err(e) => panic!("recv: {e:?}"),
    });
    assert!(ok, "no IPv4 VRRP packet within 5 s");
    got.unwrap()
}

fn recv6_within(s: &Vrrp6Socket, buf: &mut [u8]) -> keepvip::sys::vrrp_sock::Recv6 {
    let mut got = None;
    let ok = wait_until(StdDuration::from_secs(5), || match s.recv(buf) {
        Ok(m) => {
            got = Some(m);
            true
        }
        Err(RecvError::WouldBlock) => false,
        Err(e) => panic!("recv: {e:?}"),
    });
    assert!(ok, "no IPv6 VRRP packet within 5 s");
    got.unwrap()
}

fn assert_nothing<T: std::fmt::Debug>(r: Result<T, RecvError>) {
    assert!(
        matches!(r, Err(RecvError::WouldBlock)),
        "expected nothing, got {r:?}"
    );
}

#[test]
fn vrrp4_multicast_and_unicast_between_namespaces() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): qemu-user cannot translate these socket options and netlink attributes"
        );
        return;
    }
    let (r1, r2) = two_routers("v4");
    let a = r1.ifindex("kvs-a");
    let b = r2.ifindex("kvs-b");
    let s1 = r1
        .run(|| Vrrp4Socket::open("kvs-a", a, VRRP_RCVBUF))
        .expect("open r1");
    let (s2, idle) = r2.run(|| {
        (
            Vrrp4Socket::open("kvs-b", b, VRRP_RCVBUF),
            Vrrp4Socket::open("kvs-b", b, VRRP_RCVBUF),
        )
    });
    let (s2, idle) = (s2.expect("open r2"), idle.expect("open r2 idle"));
    s1.join(VRRP_GROUP_V4).unwrap();
    s2.join(VRRP_GROUP_V4).unwrap();
    // `idle` joins nothing: with IP_MULTICAST_ALL=0 it must not see the group.

    let vrrp = [0x21, 1, 100, 1, 0, 1, 0, 0, 192, 0, 2, 100];
    let src = Ipv4Addr::new(192, 0, 2, 1);
    s1.send(
        &ipv4_datagram(src, VRRP_GROUP_V4, 255, &vrrp),
        VRRP_GROUP_V4,
    )
    .unwrap();
    let mut buf = [0u8; 1500];
    let m = recv4_within(&s2, &mut buf);
    assert_eq!(m.ifindex, b);
    assert_eq!(m.ttl, 255);
    assert_eq!(m.src, src);
    assert_eq!(m.dst, VRRP_GROUP_V4);
    assert_eq!(m.header_len, 20);
    assert_eq!(m.len, 20 + vrrp.len());
    assert_eq!(buf[1], 0xc0, "TOS as sent");
    assert_eq!(&buf[20..m.len], &vrrp);
    // Multicast loop is off; the non-member socket sees nothing.
    std::thread::sleep(StdDuration::from_millis(50));
    assert_nothing(s1.recv(&mut buf));
    assert_nothing(idle.recv(&mut buf));

    // Unicast to the peer, with a TTL that the receiver reports as sent.
    let peer = Ipv4Addr::new(192, 0, 2, 2);
    s1.send(&ipv4_datagram(src, peer, 7, &vrrp), peer).unwrap();
    let m = recv4_within(&s2, &mut buf);
    assert_eq!((m.ttl, m.src, m.dst, m.ifindex), (7, src, peer, b));

    // After leaving the group, multicast is no longer delivered.
    s2.leave(VRRP_GROUP_V4).unwrap();
    s1.send(
        &ipv4_datagram(src, VRRP_GROUP_V4, 255, &vrrp),
        VRRP_GROUP_V4,
    )
    .unwrap();
    std::thread::sleep(StdDuration::from_millis(100));
    assert_nothing(s2.recv(&mut buf));
}

/// RFC 2460 upper-layer checksum over the pseudo-header and `payload`.
fn checksum6(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += u32::from(w);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(payload.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 112]);
    add(payload);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn vrrp6_multicast_and_unicast_between_namespaces() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): qemu-user cannot translate these socket options and netlink attributes"
        );
        return;
    }
    let (r1, r2) = two_routers("v6");
    let a = r1.ifindex("kvs-a");
    let b = r2.ifindex("kvs-b");
    let (s1, s1_hops) = r1.run(|| {
        (
            Vrrp6Socket::open("kvs-a", a, VRRP_RCVBUF, None),
            Vrrp6Socket::open("kvs-a", a, VRRP_RCVBUF, Some(255)),
        )
    });
    let (s1, s1_hops) = (s1.expect("open r1"), s1_hops.expect("open r1 hops"));
    let s2 = r2
        .run(|| Vrrp6Socket::open("kvs-b", b, VRRP_RCVBUF, None))
        .expect("open r2");
    s1.join(VRRP_GROUP_V6).unwrap();
    s2.join(VRRP_GROUP_V6).unwrap();

    let ll1: Ipv6Addr = "fe80::1".parse().unwrap();
    let vrrp = [
        0x31, 1, 100, 1, 0, 100, 0, 0, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
    ];
    s1.send(&vrrp, VRRP_GROUP_V6, Some(ll1)).unwrap();
    let mut buf = [0u8; 1500];
    let m = recv6_within(&s2, &mut buf);
    assert_eq!(m.ifindex, b);
    assert_eq!(m.hop_limit, 255);
    assert_eq!(m.src, ll1);
    assert_eq!(m.dst, VRRP_GROUP_V6);
    assert_eq!(m.len, vrrp.len());
    assert_eq!(&buf[..6], &vrrp[..6]);
    assert_eq!(&buf[8..m.len], &vrrp[8..]);
    // The kernel filled in the checksum (IPV6_CHECKSUM 6) and it verifies.
    let mut zeroed = buf[..m.len].to_vec();
    zeroed[6] = 0;
    zeroed[7] = 0;
    assert_eq!(
        u16::from_be_bytes([buf[6], buf[7]]),
        checksum6(ll1, VRRP_GROUP_V6, &zeroed)
    );
    std::thread::sleep(StdDuration::from_millis(50));
    assert_nothing(s1.recv(&mut buf)); // multicast loop off

    // Unicast: kernel default hop limit unless asked, then 255.
    let g1: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let g2: Ipv6Addr = "2001:db8::2".parse().unwrap();
    s1.send(&vrrp, g2, Some(g1)).unwrap();
    let m = recv6_within(&s2, &mut buf);
    assert_eq!((m.src, m.dst, m.ifindex), (g1, g2, b));
    assert_eq!(
        m.hop_limit, 64,
        "IPV6_UNICAST_HOPS left at the kernel default"
    );
    s1_hops.send(&vrrp, g2, Some(g1)).unwrap();
    let m = recv6_within(&s2, &mut buf);
    assert_eq!(m.hop_limit, 255);
}

#[test]
fn garp_frame_via_af_packet() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): qemu-user cannot translate these socket options and netlink attributes"
        );
        return;
    }
    let (r1, r2) = two_routers("pk");
    r1.ip(&["link", "set", "kvs-a", "address", "02:00:5e:00:01:0b"]);
    let a = r1.ifindex("kvs-a");
    let b = r2.ifindex("kvs-b");
    let mac = r1.run(|| interface_mac("kvs-a")).expect("SIOCGIFHWADDR");
    assert_eq!(mac, [0x02, 0x00, 0x5e, 0x00, 0x01, 0x0b]);
    assert!(r1.run(|| interface_mac("kvs-nope")).is_err());

    let rx = r2
        .run(|| PacketSocket::open_rx(b, ETHERTYPE_ARP, 64 * 1024))
        .expect("open rx");
    let tx = r1.run(PacketSocket::open_tx).expect("open tx");

    // Gratuitous ARP request for 192.0.2.100 (keepalived's form).
    let vip = [192, 0, 2, 100];
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    frame.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&vip);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&vip);
    assert_eq!(frame.len(), 42);
    tx.send(a, &frame).expect("send GARP");

    let mut buf = [0u8; 256];
    let mut got = None;
    let ok = wait_until(StdDuration::from_secs(5), || {
        while let Some(n) = rx.recv(&mut buf).expect("recv") {
            // Skip the kernel's own ARP traffic, if any.
            if buf[..n.min(42)] == frame[..] {
                got = Some(n);
                return true;
            }
        }
        false
    });
    assert!(ok, "GARP not seen on the peer");
    assert!(got.unwrap() >= 42);
    // A too-short frame is rejected before reaching the kernel.
    assert!(tx.send(a, &frame[..10]).is_err());
}

#[test]
fn run_in_netns_rejects_missing_or_bad_names() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): qemu-user cannot translate these socket options and netlink attributes"
        );
        return;
    }
    netns::require_root();
    use keepvip::sys::netns::run_in_netns;
    assert!(run_in_netns("kvs-does-not-exist", || ()).is_err());
    assert!(run_in_netns("../proc", || ()).is_err());
    assert!(run_in_netns("", || ()).is_err());
    // A real one works, and the closure really runs inside it.
    let ns = Ns::new("enter");
    ns.ip(&[
        "link", "add", "kvs-x", "type", "veth", "peer", "name", "kvs-y",
    ]);
    assert!(ns.run(|| keepvip::sys::if_index("kvs-x")).is_ok());
    assert!(
        keepvip::sys::if_index("kvs-x").is_err(),
        "not visible outside"
    );
}
