//! `NETLINK_ROUTE` sockets: VIP add/delete with ACK tracking, link/address
//! dumps, and link/address monitoring.
//!
//! Two sockets:
//! - the **request** socket sends RTM_NEWADDR/RTM_DELADDR with `NLM_F_ACK`
//!   and receives only their replies (one per request: ACK or errno), so a
//!   flood of notifications can never push a reply out;
//! - the **monitor** socket is in the groups RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR
//!   and RTNLGRP_IPV6_IFADDR and also carries the RTM_GETLINK + RTM_GETADDR
//!   dumps. When it overruns (`ENOBUFS`: events were lost) a fresh dump is
//!   started automatically; [`Event::DumpDone`] tells the caller when the
//!   picture is complete again.
//!
//! Every reply becomes an [`Event::Ack`] with the request's sequence number
//! and errno (0 = success); a reply the kernel had to drop becomes
//! [`Event::AckLost`]. Nothing is silently lost.
//!
//! Buffers are fixed arrays inside [`Netlink`] (about 33 KiB, boxed once by
//! [`Netlink::open`]); nothing after `open` allocates.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use heapless::Deque;

use crate::time::Duration;
use crate::wire::netlink::{
    self as wnl, AddrInfo, AddrOp, AddrRequest, DumpKind, LinkInfo, Message, MsgIter,
};

/// Receive buffer: the kernel sizes dump datagrams up to 32 KiB.
pub const NL_RX_BUF_LEN: usize = 32 * 1024;
/// Transmit buffer: one address request (about 72 bytes) or dump request.
pub const NL_TX_BUF_LEN: usize = 128;
/// Requests awaiting a reply. Replies are produced synchronously by the
/// kernel and collected right after each send, so this is rarely above 1.
pub const NL_PENDING_MAX: usize = 64;
/// Datagrams read per socket per [`Netlink::drain`] call.
pub const NL_RX_BURST: usize = 32;
/// `SO_RCVBUF` of the request socket (replies only).
pub const NL_REQUEST_RCVBUF: usize = 64 * 1024;
/// Default `SO_RCVBUF` of the monitor socket.
pub const NL_MONITOR_RCVBUF: usize = 256 * 1024;

/// What the kernel told us. Borrowed from the receive buffer: copy what you
/// keep.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Reply to request `seq` (`errno` 0: done; else e.g. `EEXIST` on add,
    /// `EADDRNOTAVAIL` on delete of an absent address).
    Ack {
        seq: u32,
        errno: i32,
        request_type: u16,
    },
    /// The reply to `seq` was dropped by the kernel (request socket overrun):
    /// its outcome is unknown.
    AckLost {
        seq: u32,
    },
    NewLink(LinkInfo<'a>),
    DelLink(LinkInfo<'a>),
    NewAddr(AddrInfo<'a>),
    DelAddr(AddrInfo<'a>),
    /// A full link + address dump has been delivered (after [`Netlink::start_dump`]
    /// or after an [`Event::Overrun`]). Anything the caller did not see
    /// since the dump began is gone.
    DumpDone,
    /// The monitor socket lost events; a new dump is under way.
    Overrun,
    /// A message that failed the length checks (the rest of its datagram is
    /// skipped).
    Malformed(wnl::Error),
}

/// Counters for `SIGUSR2`-style statistics.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct NetlinkStats {
    pub requests: u64,
    pub acks_ok: u64,
    pub acks_errno: u64,
    pub acks_lost: u64,
    pub overruns: u64,
    pub dumps: u64,
    pub malformed: u64,
    /// Datagrams larger than the receive buffer (treated as an overrun).
    pub truncated: u64,
    /// Replies with a sequence number we were not waiting for.
    pub unexpected_acks: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum DumpState {
    Idle,
    Links { seq: u32 },
    Addrs { seq: u32 },
}

#[derive(Copy, Clone, Debug)]
struct Reply {
    seq: u32,
    errno: i32,
    request_type: u16,
}

struct State {
    next_seq: u32,
    pending: Deque<u32, NL_PENDING_MAX>,
    /// Replies collected while sending, delivered by the next drain.
    done: Deque<Reply, NL_PENDING_MAX>,
    dump: DumpState,
    /// The current dump (or the last events) are incomplete: dump again.
    redump: bool,
    /// A dump request to send after processing a datagram.
    send_dump: Option<(DumpKind, u32)>,
    /// The request socket overran: some replies were dropped.
    replies_lost: bool,
    stats: NetlinkStats,
}

impl State {
    fn next_seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        self.next_seq
    }
    fn take_pending(&mut self, seq: u32) -> bool {
        let n = self.pending.len();
        let mut found = false;
        for _ in 0..n {
            if let Some(s) = self.pending.pop_front() {
                if s == seq && !found {
                    found = true;
                } else {
                    // Cannot fail: we just popped one.
                    let _ = self.pending.push_back(s);
                }
            }
        }
        found
    }
    fn count_reply(&mut self, r: &Reply) {
        if !self.take_pending(r.seq) {
            self.stats.unexpected_acks += 1;
        }
        if r.errno == 0 {
            self.stats.acks_ok += 1;
        } else {
            self.stats.acks_errno += 1;
        }
    }
}

/// The two rtnetlink sockets and their buffers.
pub struct Netlink {
    req: OwnedFd,
    mon: OwnedFd,
    st: State,
    tx: [u8; NL_TX_BUF_LEN],
    rx: [u8; NL_RX_BUF_LEN],
}

fn nl_socket(groups: &[u32], rcvbuf: usize) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked by owned_fd.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    let fd = super::owned_fd(fd)?;
    let rcv = libc::c_int::try_from(rcvbuf).unwrap_or(libc::c_int::MAX);
    super::setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, rcv)?;
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `sa` is a valid sockaddr_nl of the given size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            core::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    super::cerr(r)?;
    for g in groups {
        let g = libc::c_int::try_from(*g).unwrap_or(0);
        super::setsockopt_int(&fd, libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, g)?;
    }
    // Errors echo only the request header (kernels >= 4.3; harmless to miss).
    let _ = super::setsockopt_int(&fd, libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, 1);
    Ok(fd)
}

fn nl_send(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain data; all-zero (pid 0) addresses the kernel.
    let mut sa: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    for _ in 0..4 {
        // SAFETY: `msg` and `sa` are valid for reads of the given lengths.
        let r = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                core::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        match super::cerr(r) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from(io::ErrorKind::Interrupted))
}

/// Result of one non-blocking receive.
enum Rx {
    Data(usize),
    /// The datagram did not fit (its real size).
    Truncated,
    /// `ENOBUFS`: the socket overran and messages were dropped.
    Overrun,
    Empty,
}

fn nl_recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Rx> {
    for _ in 0..4 {
        // SAFETY: `buf` is valid for writes of buf.len() bytes. MSG_TRUNC
        // makes the kernel return the datagram's real length.
        let r = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        match super::cerr(r) {
            Ok(n) => {
                let n = usize::try_from(n).unwrap_or(0);
                return Ok(if n > buf.len() {
                    Rx::Truncated
                } else {
                    Rx::Data(n)
                });
            }
            Err(e) if super::would_block(&e) => return Ok(Rx::Empty),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => return Ok(Rx::Overrun),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Rx::Empty)
}

/// Handles one datagram from either socket.
fn process<F: FnMut(Event<'_>)>(st: &mut State, data: &[u8], f: &mut F) {
    for m in MsgIter::new(data) {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                st.stats.malformed += 1;
                f(Event::Malformed(e));
                break;
            }
        };
        if m.flags() & wnl::NLM_F_DUMP_INTR != 0 {
            // The dump was interrupted by a change: its picture is not
            // consistent; finish it and dump again.
            st.redump = true;
        }
        let msg = match Message::parse(&m) {
            Ok(msg) => msg,
            Err(e) => {
                st.stats.malformed += 1;
                f(Event::Malformed(e));
                continue;
            }
        };
        handle_message(st, msg, f);
    }
}

fn handle_message<F: FnMut(Event<'_>)>(st: &mut State, msg: Message<'_>, f: &mut F) {
    let dump_seq = match st.dump {
        DumpState::Idle => None,
        DumpState::Links { seq } | DumpState::Addrs { seq } => Some(seq),
    };
    match msg {
        Message::Ack(a) if Some(a.seq) == dump_seq => {
            // A dump request failed (e.g. EBUSY): report, then retry later.
            st.stats.acks_errno += 1;
            st.dump = DumpState::Idle;
            st.redump = true;
            f(Event::Ack {
                seq: a.seq,
                errno: a.errno,
                request_type: a.request_type,
            });
        }
        Message::Ack(a) => {
            let r = Reply {
                seq: a.seq,
                errno: a.errno,
                request_type: a.request_type,
            };
            st.count_reply(&r);
            f(Event::Ack {
                seq: r.seq,
                errno: r.errno,
                request_type: r.request_type,
            });
        }
        Message::Done { seq, errno } if Some(seq) == dump_seq => match st.dump {
            _ if errno != 0 => {
                // The kernel aborted the dump: report it and dump again.
                st.dump = DumpState::Idle;
                st.redump = true;
                f(Event::Ack {
                    seq,
                    errno,
                    request_type: 0,
                });
            }
            DumpState::Links { .. } => {
                let s = st.next_seq();
                st.dump = DumpState::Addrs { seq: s };
                st.send_dump = Some((
                    DumpKind::Addrs {
                        family: wnl::AF_UNSPEC,
                    },
                    s,
                ));
            }
            _ => {
                st.dump = DumpState::Idle;
                if !st.redump {
                    f(Event::DumpDone);
                }
            }
        },
        Message::Done { .. } | Message::Noop | Message::Other { .. } => {}
        Message::Overrun => {
            st.stats.overruns += 1;
            st.redump = true;
            f(Event::Overrun);
        }
        Message::NewLink(l) => f(Event::NewLink(l)),
        Message::DelLink(l) => f(Event::DelLink(l)),
        Message::NewAddr(a) => f(Event::NewAddr(a)),
        Message::DelAddr(a) => f(Event::DelAddr(a)),
    }
}

/// Extracts the replies from a request-socket datagram into `st.done`.
fn collect_datagram(st: &mut State, data: &[u8]) {
    for m in MsgIter::new(data) {
        match m.map(|m| Message::parse(&m)) {
            Ok(Ok(Message::Ack(a))) => {
                let r = Reply {
                    seq: a.seq,
                    errno: a.errno,
                    request_type: a.request_type,
                };
                st.count_reply(&r);
                if st.done.push_back(r).is_err() {
                    // More replies than requests: cannot happen with one
                    // reply per request; counted, not hidden.
                    st.stats.acks_lost += 1;
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(_)) => st.stats.malformed += 1,
            Err(_) => {
                st.stats.malformed += 1;
                break;
            }
        }
    }
}

impl Netlink {
    /// Opens the request and monitor sockets. `monitor_rcvbuf` bounds the
    /// monitor's queue (the kernel doubles it and caps it at `rmem_max`).
    /// Returned boxed: the struct holds ~33 KiB of buffers.
    pub fn open(monitor_rcvbuf: usize) -> io::Result<Box<Netlink>> {
        let req = nl_socket(&[], NL_REQUEST_RCVBUF)?;
        let mon = nl_socket(
            &[
                wnl::RTNLGRP_LINK,
                wnl::RTNLGRP_IPV4_IFADDR,
                wnl::RTNLGRP_IPV6_IFADDR,
            ],
            monitor_rcvbuf,
        )?;
        Ok(Box::new(Netlink {
            req,
            mon,
            st: State {
                next_seq: 0,
                pending: Deque::new(),
                done: Deque::new(),
                dump: DumpState::Idle,
                redump: false,
                send_dump: None,
                replies_lost: false,
                stats: NetlinkStats::default(),
            },
            tx: [0; NL_TX_BUF_LEN],
            rx: [0; NL_RX_BUF_LEN],
        }))
    }

    /// The request socket (poll it for readability).
    pub fn request_fd(&self) -> BorrowedFd<'_> {
        self.req.as_fd()
    }

    /// The monitor socket (poll it for readability).
    pub fn monitor_fd(&self) -> BorrowedFd<'_> {
        self.mon.as_fd()
    }

    pub fn stats(&self) -> NetlinkStats {
        self.st.stats
    }

    /// Requests whose reply has not been delivered yet.
    pub fn pending(&self) -> usize {
        self.st.pending.len()
    }

    /// Whether a dump is under way (or scheduled after an overrun).
    pub fn dump_in_progress(&self) -> bool {
        self.st.dump != DumpState::Idle || self.st.redump
    }

    /// Adds a VIP (RTM_NEWADDR, `NLM_F_CREATE|NLM_F_EXCL`). Returns the
    /// request's sequence number; the outcome arrives as [`Event::Ack`] from
    /// [`drain`](Self::drain) (`EEXIST` when the address is already there).
    /// `WouldBlock` when [`NL_PENDING_MAX`] replies wait to be drained.
    pub fn add_address(&mut self, req: &AddrRequest<'_>) -> io::Result<u32> {
        self.request(AddrOp::Add, req)
    }

    /// Removes a VIP (RTM_DELADDR); like [`add_address`](Self::add_address)
    /// (`EADDRNOTAVAIL` when it is not there).
    pub fn del_address(&mut self, req: &AddrRequest<'_>) -> io::Result<u32> {
        self.request(AddrOp::Del, req)
    }

    fn request(&mut self, op: AddrOp, req: &AddrRequest<'_>) -> io::Result<u32> {
        if self.st.pending.is_full() {
            self.collect_replies()?;
            if self.st.pending.is_full() {
                return Err(io::Error::from(io::ErrorKind::WouldBlock));
            }
        }
        let seq = self.st.next_seq();
        // An unencodable request (label over 15 bytes) is a config bug the
        // parser rejects; the error kind is enough here (and allocation-free).
        let n = wnl::emit_addr_request(&mut self.tx, op, seq, req)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        nl_send(&self.req, &self.tx[..n])?;
        self.st.stats.requests += 1;
        // Cannot fail: checked above.
        let _ = self.st.pending.push_back(seq);
        // rtnetlink answers synchronously: collect the reply now so the
        // request socket's queue stays near empty.
        self.collect_replies()?;
        Ok(seq)
    }

    /// Moves replies from the request socket into the `done` queue (bounded).
    /// Returns true when the socket was read empty.
    fn collect_replies(&mut self) -> io::Result<bool> {
        for _ in 0..NL_RX_BURST {
            if self.st.done.is_full() {
                return Ok(false);
            }
            match nl_recv(&self.req, &mut self.rx)? {
                Rx::Empty => return Ok(true),
                Rx::Data(n) => collect_datagram(&mut self.st, &self.rx[..n]),
                Rx::Truncated => {
                    self.st.stats.truncated += 1;
                    self.st.replies_lost = true;
                }
                Rx::Overrun => self.st.replies_lost = true,
            }
        }
        Ok(false)
    }

    /// Starts a full dump: RTM_GETLINK, then RTM_GETADDR (both families).
    /// The results arrive as [`Event::NewLink`]/[`Event::NewAddr`] from
    /// [`drain`](Self::drain), followed by [`Event::DumpDone`]. If a dump is
    /// already running, another one follows it.
    pub fn start_dump(&mut self) -> io::Result<()> {
        if self.st.dump != DumpState::Idle {
            self.st.redump = true;
            return Ok(());
        }
        self.st.redump = false;
        let seq = self.st.next_seq();
        self.st.dump = DumpState::Links { seq };
        self.st.stats.dumps += 1;
        self.send_dump(DumpKind::Links, seq)
    }

    fn send_dump(&mut self, kind: DumpKind, seq: u32) -> io::Result<()> {
        let n = wnl::emit_dump_request(&mut self.tx, kind, seq)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let r = nl_send(&self.mon, &self.tx[..n]);
        if r.is_err() {
            // Try again on the next drain.
            self.st.dump = DumpState::Idle;
            self.st.redump = true;
        }
        r
    }

    /// Delivers everything pending, in order: replies to our requests
    /// ([`Event::Ack`], [`Event::AckLost`]), then monitor events and dump
    /// results. Reads at most [`NL_RX_BURST`] datagrams per socket; poll
    /// wakes again if more remain.
    pub fn drain<F: FnMut(Event<'_>)>(&mut self, mut f: F) -> io::Result<()> {
        // Replies.
        let mut emptied = false;
        for _ in 0..NL_RX_BURST {
            while let Some(r) = self.st.done.pop_front() {
                f(Event::Ack {
                    seq: r.seq,
                    errno: r.errno,
                    request_type: r.request_type,
                });
            }
            if self.collect_replies()? {
                emptied = true;
                break;
            }
        }
        while let Some(r) = self.st.done.pop_front() {
            f(Event::Ack {
                seq: r.seq,
                errno: r.errno,
                request_type: r.request_type,
            });
        }
        if emptied && self.st.replies_lost {
            // Everything the kernel queued has been read: what is still
            // pending was dropped.
            self.st.replies_lost = false;
            while let Some(seq) = self.st.pending.pop_front() {
                self.st.stats.acks_lost += 1;
                f(Event::AckLost { seq });
            }
        }

        // Monitor events and dump results.
        for _ in 0..NL_RX_BURST {
            match nl_recv(&self.mon, &mut self.rx)? {
                Rx::Empty => break,
                Rx::Data(n) => {
                    process(&mut self.st, &self.rx[..n], &mut f);
                    if let Some((kind, seq)) = self.st.send_dump.take() {
                        self.send_dump(kind, seq)?;
                    }
                }
                Rx::Truncated => {
                    // Part of a dump or of the events is gone.
                    self.st.stats.truncated += 1;
                    self.st.dump = DumpState::Idle;
                    self.st.redump = true;
                    f(Event::Overrun);
                }
                Rx::Overrun => {
                    self.st.stats.overruns += 1;
                    self.st.redump = true;
                    f(Event::Overrun);
                }
            }
        }
        if self.st.redump && self.st.dump == DumpState::Idle {
            self.start_dump()?;
        }
        Ok(())
    }

    /// Start-up helper: waits (bounded by `timeout`) until the current dump
    /// completes, passing every event to `f`. Starts a dump if none is
    /// running. `TimedOut` if it does not finish in time.
    pub fn wait_dump<F: FnMut(Event<'_>)>(
        &mut self,
        timeout: Duration,
        mut f: F,
    ) -> io::Result<()> {
        use super::clock::monotonic_now;
        if !self.dump_in_progress() {
            self.start_dump()?;
        }
        let deadline = monotonic_now() + timeout;
        loop {
            let mut done = false;
            self.drain(|ev| {
                if ev == Event::DumpDone {
                    done = true;
                }
                f(ev)
            })?;
            if done {
                return Ok(());
            }
            let now = monotonic_now();
            if now >= deadline {
                return Err(io::Error::from(io::ErrorKind::TimedOut));
            }
            self.wait_readable(deadline - now)?;
        }
    }

    /// Waits until a reply or event is readable (bounded by `timeout`).
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<()> {
        let mut fds = [
            libc::pollfd {
                fd: self.req.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.mon.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = libc::c_int::try_from(timeout.as_millis_ceil()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid array of two pollfd for the whole call.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        match super::cerr(r) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(e),
            _ => Ok(()),
        }
    }
}
