//! The primitives the daemon loop calls never allocate: a counting global
//! allocator (per thread, so other test threads do not interfere) checks
//! netlink requests/drain, VRRP v4/v6 send/recv, AF_PACKET send, poll,
//! signalfd reads and the clock after everything is opened. Root only.

mod netns;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use keepvip::sys::clock::monotonic_now;
use keepvip::sys::netlink::{Event, NL_MONITOR_RCVBUF, Netlink};
use keepvip::sys::packet_sock::PacketSocket;
use keepvip::sys::poll::PollTable;
use keepvip::sys::signal::Signals;
use keepvip::sys::vrrp_sock::{
    RecvError, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_RCVBUF, Vrrp4Socket, Vrrp6Socket,
};
use keepvip::time::Duration;
use keepvip::wire::netlink::AddrRequest;
use netns::{Ns, veth};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn loop_primitives_do_not_allocate() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): needs network namespaces and real socket options"
        );
        return;
    }
    let r1 = Ns::new("na1");
    let r2 = Ns::new("na2");
    veth(&r1, "kvs-a", &r2, "kvs-b");
    r1.ip(&["addr", "add", "192.0.2.1/24", "dev", "kvs-a"]);
    r1.ip(&["addr", "add", "fe80::1/64", "dev", "kvs-a", "nodad"]);
    let a = r1.ifindex("kvs-a");
    let b = r2.ifindex("kvs-b");
    let (nl, v4, v6, pk) = r1.run(|| {
        (
            Netlink::open(NL_MONITOR_RCVBUF).unwrap(),
            Vrrp4Socket::open("kvs-a", a, VRRP_RCVBUF).unwrap(),
            Vrrp6Socket::open("kvs-a", a, VRRP_RCVBUF, None).unwrap(),
            PacketSocket::open_tx().unwrap(),
        )
    });
    let mut nl = nl;
    let (p4, p6) = r2.run(|| {
        (
            Vrrp4Socket::open("kvs-b", b, VRRP_RCVBUF).unwrap(),
            Vrrp6Socket::open("kvs-b", b, VRRP_RCVBUF, None).unwrap(),
        )
    });
    p4.join(VRRP_GROUP_V4).unwrap();
    p6.join(VRRP_GROUP_V6).unwrap();
    let sig = Signals::open().unwrap();
    let mut table = PollTable::new();
    let s_nl = table.add(nl.monitor_fd()).unwrap();
    table.add(nl.request_fd()).unwrap();
    table.add(p4.as_fd()).unwrap();
    table.add(p6.as_fd()).unwrap();
    table.add(sig.as_fd()).unwrap();
    let mut d4 = [0u8; 64];
    d4[..20].copy_from_slice(&[
        0x45, 0xc0, 0, 32, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18,
    ]);
    let frame = [0xffu8; 60];
    let vip = AddrRequest::vip(a, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)), 24);
    let ll1: Ipv6Addr = "fe80::1".parse().unwrap();
    let mut buf = [0u8; 1500];

    // Everything above may allocate (start-up). From here on, nothing may.
    let before = allocs();
    let mut acks = 0u32;
    let mut addrs = 0u32;
    let mut rx4 = 0u32;
    let mut rx6 = 0u32;
    for _ in 0..3 {
        let t0 = monotonic_now();
        nl.add_address(&vip).unwrap();
        v4.send(&d4[..32], VRRP_GROUP_V4).unwrap();
        v6.send(&d4[20..44], VRRP_GROUP_V6, Some(ll1)).unwrap();
        pk.send(a, &frame).unwrap();
        for _ in 0..50 {
            table.poll(Some(Duration::from_millis(20))).unwrap();
            nl.drain(|ev| match ev {
                Event::Ack { errno: 0, .. } => acks += 1,
                Event::NewAddr(_) | Event::DelAddr(_) => addrs += 1,
                _ => {}
            })
            .unwrap();
            loop {
                match p4.recv(&mut buf) {
                    Ok(_) => rx4 += 1,
                    Err(RecvError::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            loop {
                match p6.recv(&mut buf) {
                    Ok(_) => rx6 += 1,
                    Err(RecvError::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            let _ = sig.read().unwrap();
            if table.is_ready(s_nl) && rx4 > 0 && rx6 > 0 {
                break;
            }
        }
        nl.del_address(&vip).unwrap();
        nl.drain(|ev| {
            if let Event::Ack { errno: 0, .. } = ev {
                acks += 1
            }
        })
        .unwrap();
        assert!(monotonic_now() >= t0);
    }
    let after = allocs();
    keepvip::sys::signal::unblock().unwrap();
    // The work really happened...
    assert_eq!(acks, 6, "three adds and three deletes acknowledged");
    assert!(addrs >= 1 && rx4 >= 1 && rx6 >= 1, "{addrs} {rx4} {rx6}");
    // ...without a single allocation.
    assert_eq!(after - before, 0, "allocations in the loop primitives");
}
