//! Namespace self-tests of the `sys` primitives (root only; CI runs them as
//! root). See tests/netns/mod.rs for the harness.

mod netns;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration as StdDuration;

use keepvip::sys::netlink::{Event, Netlink, NL_MONITOR_RCVBUF};
use keepvip::time::Duration;
use keepvip::wire::netlink::{AddrRequest, RT_SCOPE_UNIVERSE};
use netns::{Ns, veth, wait_until};

const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;

/// Owned copy of the events a test cares about.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Ack { seq: u32, errno: i32 },
    AckLost(u32),
    Link { del: bool, ifindex: u32, name: String, up: bool, running: bool, mac: Option<[u8; 6]> },
    Addr { del: bool, ifindex: u32, addr: Option<IpAddr>, prefix: u8, label: Option<String>, flags: u32 },
    DumpDone,
    Overrun,
    Malformed,
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
            Event::Overrun => Seen::Overrun,
            Event::Malformed(_) => Seen::Malformed,
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
    let ns = Ns::new("nlvip");
    let peer = Ns::new("nlvipp");
    veth(&ns, "kvs-a", &peer, "kvs-b");
    ns.ip(&["link", "set", "kvs-a", "address", "02:00:5e:00:01:0a"]);
    let idx = ns.ifindex("kvs-a");
    let mut nl = ns.run(|| Netlink::open(NL_MONITOR_RCVBUF)).expect("open netlink");

    // Start-up dump: sees the interface with its MAC, then DumpDone.
    let mut seen = Vec::new();
    nl.wait_dump(Duration::from_secs(5), record(&mut seen)).expect("dump");
    assert!(
        seen.iter().any(|s| matches!(s, Seen::Link { ifindex, name, up: true, mac: Some(m), .. }
            if *ifindex == idx && name == "kvs-a" && *m == [2, 0, 0x5e, 0, 1, 0x0a])),
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
            && s.iter().any(|e| matches!(e, Seen::Addr { del: false, addr: Some(a), .. } if *a == v4))
    });
    assert_eq!(ack_of(&seen, s1), Some(0));
    assert_eq!(ack_of(&seen, s2), Some(EEXIST), "duplicate add reports the errno");
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
    let line = shown.lines().find(|l| l.contains("2001:db8::100/64")).unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("nodad"), "{line}");
    assert!(!line.contains("tentative"), "{line}");

    // Remove both; removing again reports EADDRNOTAVAIL.
    seen.clear();
    let d1 = nl.del_address(&req4).expect("del v4");
    let d2 = nl.del_address(&req6).expect("del v6");
    let d3 = nl.del_address(&req4).expect("del v4 again");
    drain_until(&mut nl, &mut seen, |s| {
        ack_of(s, d3).is_some()
            && s.iter().any(|e| matches!(e, Seen::Addr { del: true, addr: Some(a), .. } if *a == v4))
    });
    assert_eq!(ack_of(&seen, d1), Some(0));
    assert_eq!(ack_of(&seen, d2), Some(0));
    assert_eq!(ack_of(&seen, d3), Some(EADDRNOTAVAIL));
    let shown = ns.ip(&["-o", "addr", "show", "dev", "kvs-a"]);
    assert!(!shown.contains("192.0.2.100") && !shown.contains("2001:db8::100"), "{shown}");
    assert_eq!(nl.pending(), 0);
    let st = nl.stats();
    assert_eq!((st.requests, st.acks_ok, st.acks_errno, st.acks_lost), (6, 4, 2, 0));
}

#[test]
fn netlink_reports_link_down() {
    let ns = Ns::new("nllink");
    let peer = Ns::new("nllinkp");
    veth(&ns, "kvs-a", &peer, "kvs-b");
    ns.ip(&["link", "add", "kvs-c", "type", "veth", "peer", "name", "kvs-d"]);
    ns.ip(&["link", "set", "kvs-c", "up"]);
    ns.ip(&["link", "set", "kvs-d", "up"]);
    let a = ns.ifindex("kvs-a");
    let c = ns.ifindex("kvs-c");
    let mut nl = ns.run(|| Netlink::open(NL_MONITOR_RCVBUF)).expect("open netlink");
    let mut seen = Vec::new();
    nl.wait_dump(Duration::from_secs(5), record(&mut seen)).expect("dump");

    // Administratively down: IFF_UP cleared.
    seen.clear();
    ns.ip(&["link", "set", "dev", "kvs-a", "down"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter().any(|e| matches!(e, Seen::Link { ifindex, up: false, running: false, .. } if *ifindex == a))
    });
    // Carrier loss (peer down in the other namespace): up but not running.
    seen.clear();
    ns.ip(&["link", "set", "dev", "kvs-d", "down"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter().any(|e| matches!(e, Seen::Link { ifindex, up: true, running: false, .. } if *ifindex == c))
    });
    // And back.
    seen.clear();
    ns.ip(&["link", "set", "dev", "kvs-d", "up"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter().any(|e| matches!(e, Seen::Link { ifindex, up: true, running: true, .. } if *ifindex == c))
    });
    // Deleting the link yields RTM_DELLINK.
    seen.clear();
    ns.ip(&["link", "del", "dev", "kvs-c"]);
    drain_until(&mut nl, &mut seen, |s| {
        s.iter().any(|e| matches!(e, Seen::Link { del: true, ifindex, .. } if *ifindex == c))
    });
}

#[test]
fn netlink_overrun_triggers_redump() {
    let ns = Ns::new("nlovr");
    let peer = Ns::new("nlovrp");
    veth(&ns, "kvs-a", &peer, "kvs-b");
    // Smallest monitor buffer the kernel allows: a burst of changes overruns it.
    let mut nl = ns.run(|| Netlink::open(1)).expect("open netlink");
    let mut seen = Vec::new();
    nl.wait_dump(Duration::from_secs(5), record(&mut seen)).expect("dump");

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
    let first_overrun = seen.iter().position(|e| *e == Seen::Overrun).expect("an overrun");
    // After the overrun, the re-dump delivers every address.
    let after: std::collections::HashSet<_> = seen[first_overrun..]
        .iter()
        .filter_map(|e| match e {
            Seen::Addr { del: false, addr: Some(IpAddr::V6(a)), .. } if a.segments()[2] == 1 => Some(*a),
            _ => None,
        })
        .collect();
    assert_eq!(after.len(), N as usize, "re-dump after overrun is complete");
    assert!(nl.stats().overruns >= 1);
    assert!(nl.stats().dumps >= 2);
}
