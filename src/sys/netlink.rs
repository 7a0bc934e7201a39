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
//! and errno (0 = success); a reply the kernel had to drop, or one that
//! arrived malformed, becomes [`Event::AckLost`] (so no request stays
//! pending forever). A dump the kernel ends with an errno becomes
//! [`Event::DumpAborted`] and is redone. Nothing is silently lost.
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
    /// The kernel ended the link/address dump with an error (`errno`, as
    /// in `NLMSG_DONE` or `NLMSG_ERROR`): its picture is incomplete; a new
    /// dump is under way.
    DumpAborted {
        errno: i32,
    },
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
    /// Dumps the kernel ended with an errno (each one is dumped again).
    pub dumps_aborted: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum DumpState {
    Idle,
    Links { seq: u32 },
    Addrs { seq: u32 },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Reply {
    seq: u32,
    errno: i32,
    request_type: u16,
    /// The reply came but could not be read (malformed): its outcome is
    /// unknown ([`Event::AckLost`]).
    lost: bool,
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
    /// The dump ended with `errno`: counted, reported, dumped again.
    fn dump_aborted<F: FnMut(Event<'_>)>(&mut self, errno: i32, f: &mut F) {
        self.stats.dumps_aborted += 1;
        self.dump = DumpState::Idle;
        self.redump = true;
        f(Event::DumpAborted { errno });
    }
    /// A reply to request `seq` arrived but cannot be read: if `seq` is
    /// pending, it is settled as lost (so that neither `pending` nor the
    /// caller's table keeps it forever).
    fn reply_unreadable(&mut self, seq: u32) {
        if !self.take_pending(seq) {
            return;
        }
        let r = Reply {
            seq,
            errno: 0,
            request_type: 0,
            lost: true,
        };
        if self.done.push_back(r).is_err() {
            // Cannot happen (`done` holds as many as `pending`); the drain
            // still settles it: every pending request is lost once the
            // socket is read empty.
            self.replies_lost = true;
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
            st.dump_aborted(a.errno, f);
        }
        Message::Ack(a) => {
            let r = Reply {
                seq: a.seq,
                errno: a.errno,
                request_type: a.request_type,
                lost: false,
            };
            st.count_reply(&r);
            f(Event::Ack {
                seq: r.seq,
                errno: r.errno,
                request_type: r.request_type,
            });
        }
        Message::Done { seq, errno } if Some(seq) == dump_seq => match st.dump {
            // The kernel aborted the dump: report it and dump again.
            _ if errno != 0 => st.dump_aborted(errno, f),
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
/// The request socket is in no multicast group: everything on it answers a
/// request. A message that is not a readable ACK/error settles its request
/// as lost; a datagram whose message lengths are broken (the sequence
/// numbers cannot be trusted) marks the replies lost, so that every request
/// still pending once the socket is read empty is settled as lost.
fn collect_datagram(st: &mut State, data: &[u8]) {
    for m in MsgIter::new(data) {
        let m = match m {
            Ok(m) => m,
            Err(_) => {
                st.stats.malformed += 1;
                st.replies_lost = true;
                break;
            }
        };
        match Message::parse(&m) {
            Ok(Message::Ack(a)) => {
                let r = Reply {
                    seq: a.seq,
                    errno: a.errno,
                    request_type: a.request_type,
                    lost: false,
                };
                st.count_reply(&r);
                if st.done.push_back(r).is_err() {
                    // More replies than requests: cannot happen with one
                    // reply per request; counted, not hidden.
                    st.stats.acks_lost += 1;
                }
            }
            Ok(Message::Noop) => {}
            Ok(_) => {
                st.stats.unexpected_acks += 1;
                st.reply_unreadable(m.seq());
            }
            Err(_) => {
                st.stats.malformed += 1;
                st.reply_unreadable(m.seq());
            }
        }
    }
}

/// Hands the collected replies to `f`: an [`Event::Ack`] each, or an
/// [`Event::AckLost`] for one that could not be read.
fn deliver_done<F: FnMut(Event<'_>)>(st: &mut State, f: &mut F) {
    while let Some(r) = st.done.pop_front() {
        if r.lost {
            st.stats.acks_lost += 1;
            f(Event::AckLost { seq: r.seq });
        } else {
            f(Event::Ack {
                seq: r.seq,
                errno: r.errno,
                request_type: r.request_type,
            });
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
            deliver_done(&mut self.st, &mut f);
            if self.collect_replies()? {
                emptied = true;
                break;
            }
        }
        deliver_done(&mut self.st, &mut f);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            next_seq: 0,
            pending: Deque::new(),
            done: Deque::new(),
            dump: DumpState::Idle,
            redump: false,
            send_dump: None,
            replies_lost: false,
            stats: NetlinkStats::default(),
        }
    }

    /// One netlink message: header (native byte order) + payload.
    fn msg(out: &mut std::vec::Vec<u8>, ty: u16, flags: u16, seq: u32, payload: &[u8]) {
        let len = 16 + payload.len();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(payload);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// NLMSG_ERROR for `seq` with `errno` (positive), echoing an
    /// RTM_NEWADDR header.
    fn ack(out: &mut std::vec::Vec<u8>, seq: u32, errno: i32) {
        let mut p = (-errno).to_ne_bytes().to_vec();
        let mut echo = std::vec::Vec::new();
        msg(&mut echo, wnl::RTM_NEWADDR, 0, seq, &[]);
        p.extend_from_slice(&echo);
        msg(out, wnl::NLMSG_ERROR, wnl::NLM_F_CAPPED, seq, &p);
    }

    /// The test's view of `drain`'s reply half: settled replies as events.
    fn deliver(st: &mut State) -> std::vec::Vec<(u32, Option<i32>)> {
        let mut out = std::vec::Vec::new();
        deliver_done(st, &mut |ev| match ev {
            Event::Ack { seq, errno, .. } => out.push((seq, Some(errno))),
            Event::AckLost { seq } => out.push((seq, None)),
            e => panic!("unexpected event {e:?}"),
        });
        out
    }

    fn send(st: &mut State) -> u32 {
        assert!(!st.pending.is_full(), "every request would now fail");
        let seq = st.next_seq();
        st.pending.push_back(seq).unwrap();
        seq
    }

    #[test]
    fn good_replies_settle_their_requests() {
        let mut st = state();
        let a = send(&mut st);
        let b = send(&mut st);
        let mut d = std::vec::Vec::new();
        ack(&mut d, a, 0);
        ack(&mut d, b, libc::EEXIST);
        collect_datagram(&mut st, &d);
        assert!(st.pending.is_empty());
        assert_eq!(deliver(&mut st), [(a, Some(0)), (b, Some(libc::EEXIST))]);
        assert_eq!(st.stats.acks_ok, 1);
        assert_eq!(st.stats.acks_errno, 1);
        assert_eq!(st.stats.malformed, 0);
    }

    #[test]
    fn a_malformed_reply_settles_its_request_as_lost() {
        let mut st = state();
        // Far more malformed replies than pending slots: none may leak.
        for round in 0..(3 * NL_PENDING_MAX) {
            let seq = send(&mut st);
            let other = send(&mut st);
            let mut d = std::vec::Vec::new();
            // NLMSG_ERROR whose payload is too short for the errno.
            msg(&mut d, wnl::NLMSG_ERROR, 0, seq, &[0, 0]);
            // The next message of the datagram is still read.
            ack(&mut d, other, 0);
            collect_datagram(&mut st, &d);
            assert!(st.pending.is_empty(), "round {round}: {:?}", st.pending);
            assert_eq!(deliver(&mut st), [(seq, None), (other, Some(0))]);
        }
        assert_eq!(st.stats.malformed, 3 * NL_PENDING_MAX as u64);
        assert_eq!(st.stats.acks_lost, 3 * NL_PENDING_MAX as u64);
        assert!(!st.replies_lost);
    }

    #[test]
    fn a_reply_of_another_type_settles_its_request_as_lost() {
        let mut st = state();
        let seq = send(&mut st);
        let mut d = std::vec::Vec::new();
        msg(&mut d, wnl::NLMSG_DONE, 0, seq, &0i32.to_ne_bytes());
        collect_datagram(&mut st, &d);
        assert!(st.pending.is_empty());
        assert_eq!(deliver(&mut st), [(seq, None)]);
        // A reply to nothing we sent changes nothing.
        let mut d = std::vec::Vec::new();
        msg(&mut d, wnl::NLMSG_ERROR, 0, 999, &[1]);
        collect_datagram(&mut st, &d);
        assert!(deliver(&mut st).is_empty());
    }

    #[test]
    fn a_broken_length_marks_the_pending_replies_lost() {
        let mut st = state();
        let seq = send(&mut st);
        let mut d = std::vec::Vec::new();
        msg(&mut d, wnl::NLMSG_ERROR, 0, seq, &[0; 20]);
        // Length 3: below the header; the sequence number is not trusted.
        d[0..4].copy_from_slice(&3u32.to_ne_bytes());
        collect_datagram(&mut st, &d);
        assert_eq!(st.stats.malformed, 1);
        // `drain` settles what is still pending once the socket is empty.
        assert!(st.replies_lost);
        assert_eq!(st.pending.len(), 1);
    }

    fn events(st: &mut State, d: &[u8]) -> std::vec::Vec<std::string::String> {
        let mut out = std::vec::Vec::new();
        process(st, d, &mut |ev| out.push(format!("{ev:?}")));
        out
    }

    #[test]
    fn an_aborted_dump_is_reported_counted_and_redone() {
        // NLMSG_DONE with an errno ends the address dump.
        let mut st = state();
        st.dump = DumpState::Addrs { seq: 7 };
        let mut d = std::vec::Vec::new();
        msg(
            &mut d,
            wnl::NLMSG_DONE,
            wnl::NLM_F_MULTI,
            7,
            &(-libc::EINTR).to_ne_bytes(),
        );
        let ev = events(&mut st, &d);
        assert_eq!(
            ev,
            [format!("{:?}", Event::DumpAborted { errno: libc::EINTR })]
        );
        assert_eq!(st.stats.dumps_aborted, 1);
        assert_eq!(st.dump, DumpState::Idle);
        assert!(st.redump);

        // NLMSG_ERROR for the dump request (it never started).
        let mut st = state();
        st.dump = DumpState::Links { seq: 9 };
        let mut d = std::vec::Vec::new();
        ack(&mut d, 9, libc::EBUSY);
        let ev = events(&mut st, &d);
        assert_eq!(
            ev,
            [format!("{:?}", Event::DumpAborted { errno: libc::EBUSY })]
        );
        assert_eq!(st.stats.dumps_aborted, 1);
        assert!(st.redump && st.dump == DumpState::Idle);

        // A dump that ends well: on to the addresses, then DumpDone.
        let mut st = state();
        st.dump = DumpState::Links { seq: 3 };
        st.next_seq = 3;
        let mut d = std::vec::Vec::new();
        msg(
            &mut d,
            wnl::NLMSG_DONE,
            wnl::NLM_F_MULTI,
            3,
            &0i32.to_ne_bytes(),
        );
        assert!(events(&mut st, &d).is_empty());
        assert_eq!(st.dump, DumpState::Addrs { seq: 4 });
        let mut d = std::vec::Vec::new();
        msg(
            &mut d,
            wnl::NLMSG_DONE,
            wnl::NLM_F_MULTI,
            4,
            &0i32.to_ne_bytes(),
        );
        assert_eq!(events(&mut st, &d), [format!("{:?}", Event::DumpDone)]);
        assert_eq!(st.stats.dumps_aborted, 0);
    }
}
