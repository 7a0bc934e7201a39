//! The SMTP alert client never allocates after `Smtp::new`: a whole session
//! (queue, connect, multi-line replies, message, QUIT), a failed one and
//! queue overflow run under a counting allocator (per thread, so parallel
//! tests do not interfere).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use keepvip::config::model::GlobalDefs;
use keepvip::smtp::{ALERT_QUEUE_LEN, AlertSource, IoFailure, Smtp, SmtpError, WallTime};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::NotifyState;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
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

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

const WALL: WallTime = WallTime {
    unix_secs: 1_741_089_909,
    utc_offset_s: -7200,
};

/// Feeds `reply` and drains what the client sends into `sink`.
fn say(smtp: &mut Smtp, now: Instant, reply: &[u8], sink: &mut [u8; 4096], len: &mut usize) {
    smtp.handle_rx(now, reply);
    while !smtp.poll_tx().is_empty() {
        let tx = smtp.poll_tx();
        let n = tx.len().min(5).min(sink.len() - *len);
        sink[*len..*len + n].copy_from_slice(&tx[..n]);
        *len += n;
        smtp.consume_tx(n);
    }
}

#[test]
fn sessions_do_not_allocate() {
    let mut g = GlobalDefs {
        router_id: Some("edge1".try_into().unwrap()),
        notification_email_from: Some("kv@example.org".try_into().unwrap()),
        smtp_server: Some(("192.0.2.25".parse().unwrap(), 25)),
        ..Default::default()
    };
    g.notification_email
        .push("ops@example.org".try_into().unwrap())
        .unwrap();
    g.notification_email
        .push("noc@example.org".try_into().unwrap())
        .unwrap();
    let mut smtp = Smtp::new(&g, "r1.example.org");
    let mut sink = [0u8; 4096];
    let mut len = 0usize;
    let now = Instant::from_secs(5);

    let before = allocs();
    // A full session.
    assert!(smtp.queue_alert(WALL, AlertSource::Instance, "VI_1", NotifyState::Master));
    assert_eq!(smtp.poll_timeout(now), Some(Duration::ZERO));
    assert!(smtp.want_connect(now).is_some());
    smtp.handle_connected(now);
    for r in [
        &b"220 mx ESMTP\r\n"[..],
        b"250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"550 no\r\n",
        b"354 go\r\n",
        b"250 queued\r\n",
        b"221 bye\r\n",
    ] {
        say(&mut smtp, now, r, &mut sink, &mut len);
    }
    assert!(!smtp.wants_socket());
    // A failed session (timeout) and a refused connect.
    assert!(smtp.queue_alert(WALL, AlertSource::Group, "G1", NotifyState::Fault));
    assert!(smtp.queue_alert(WALL, AlertSource::Instance, "VI_1", NotifyState::Backup));
    assert!(smtp.want_connect(now).is_some());
    smtp.handle_connected(now);
    smtp.handle_timeout(now + Duration::from_secs(31));
    assert!(smtp.want_connect(now).is_some());
    smtp.handle_error(now, IoFailure::Connect(111));
    // Queue overflow.
    for _ in 0..=ALERT_QUEUE_LEN {
        let _ = smtp.queue_alert(WALL, AlertSource::Instance, "VI_1", NotifyState::Master);
    }
    let after = allocs();

    assert_eq!(after - before, 0, "the SMTP client allocated");
    let sent = std::str::from_utf8(&sink[..len]).unwrap();
    assert!(sent.starts_with("EHLO r1.example.org\r\nMAIL FROM:<kv@example.org>\r\n"));
    assert!(sent.contains("Date: Tue, 04 Mar 2025 10:05:09 -0200\r\n"));
    assert!(sent.ends_with(".\r\nQUIT\r\n"));
    let st = *smtp.stats();
    assert_eq!((st.sent, st.failed, st.dropped_queue_full), (1, 2, 1));
    assert_eq!(smtp.last_error(), Some(SmtpError::ConnectFailed(111)));
}

#[test]
fn client_is_small() {
    let size = core::mem::size_of::<Smtp>();
    println!("size_of::<Smtp>() = {size} bytes");
    assert!(size < 4096, "{size}");
}
