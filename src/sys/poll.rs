//! A fixed-size `pollfd` table and `poll(2)` with a timeout from the core.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::limits::{MAX_CHECKERS, MAX_INTERFACES};
use crate::time::Duration;

/// VRRP sockets an interface can have in the poll table: IPv4 (protocol
/// 112), IPv6 (protocol 112) and IPv4 AH (protocol 51, `auth_type AH`).
/// The daemon's interface table closes them as an array of this length
/// (`daemon::iface::Iface::take_sockets`).
pub const VRRP_SOCKETS_PER_INTERFACE: usize = 3;

/// The daemon's other descriptors in the poll table: signalfd, netlink
/// request and monitor sockets, timerfd, the status socket, the inotify
/// descriptor of `track_file`, and the SMTP client's socket (7), plus one
/// spare. (The AF_PACKET socket only sends: it is not polled.)
pub const POLL_FIXED_FDS: usize = 8;

/// Slots in the poll table: every VRRP socket of every interface, the fixed
/// descriptors, and one socket per health checker.
pub const POLL_CAPACITY: usize =
    MAX_INTERFACES * VRRP_SOCKETS_PER_INTERFACE + POLL_FIXED_FDS + MAX_CHECKERS;

// Every interface with all three VRRP sockets (IPv4, IPv6, AH), the seven
// fixed descriptors and every checker fit at once (the count once had two
// sockets per interface: an AH interface's third did not).
const _: () = assert!(POLL_CAPACITY >= MAX_INTERFACES * 3 + 7 + MAX_CHECKERS);

/// Readable (or hung up / in error: a read will tell).
pub const READABLE: i16 = libc::POLLIN;
/// Writable (a non-blocking connect finished, or there is room to send).
pub const WRITABLE: i16 = libc::POLLOUT;

/// Index of an fd in the [`PollTable`], returned by [`PollTable::add`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slot(usize);

/// The table is full ([`POLL_CAPACITY`] fds).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TableFull;

/// A fixed array of `pollfd`. Slots are stable: removing an fd disables its
/// slot (poll ignores negative fds) and a later `add` reuses it.
pub struct PollTable {
    fds: [libc::pollfd; POLL_CAPACITY],
    len: usize,
}

impl Default for PollTable {
    fn default() -> Self {
        Self::new()
    }
}

const EMPTY: libc::pollfd = libc::pollfd {
    fd: -1,
    events: 0,
    revents: 0,
};

impl PollTable {
    pub const fn new() -> Self {
        PollTable {
            fds: [EMPTY; POLL_CAPACITY],
            len: 0,
        }
    }

    /// Watches `fd` for readability. The caller keeps `fd` open while it is
    /// in the table (a closed fd only yields `POLLNVAL`, never UB).
    pub fn add(&mut self, fd: BorrowedFd<'_>) -> Result<Slot, TableFull> {
        self.add_events(fd, READABLE)
    }

    /// Watches `fd` for `events` ([`READABLE`], [`WRITABLE`] or both).
    pub fn add_events(&mut self, fd: BorrowedFd<'_>, events: i16) -> Result<Slot, TableFull> {
        let raw = fd.as_raw_fd();
        let entry = libc::pollfd {
            fd: raw,
            events,
            revents: 0,
        };
        if let Some(i) = self.fds[..self.len].iter().position(|p| p.fd < 0) {
            self.fds[i] = entry;
            return Ok(Slot(i));
        }
        let slot = self.fds.get_mut(self.len).ok_or(TableFull)?;
        *slot = entry;
        self.len += 1;
        Ok(Slot(self.len - 1))
    }

    /// Changes what `slot` waits for.
    pub fn set_events(&mut self, slot: Slot, events: i16) {
        if let Some(p) = self.fds.get_mut(slot.0)
            && p.fd >= 0
        {
            p.events = events;
        }
    }

    /// Stops watching the fd in `slot`.
    pub fn remove(&mut self, slot: Slot) {
        if let Some(p) = self.fds.get_mut(slot.0) {
            *p = EMPTY;
        }
        while self.len > 0 && self.fds[self.len - 1].fd < 0 {
            self.len -= 1;
        }
    }

    /// Number of slots in use (including disabled ones below the highest).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Waits until an fd is ready or `timeout` passes (`None`: forever).
    /// The timeout is rounded *up* to whole milliseconds so a deadline 400 µs
    /// away does not turn into a busy 0 ms poll. Returns how many fds are
    /// ready; `EINTR` returns `Ok(0)` with every `revents` cleared.
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let ms: libc::c_int = match timeout {
            None => -1,
            Some(d) => libc::c_int::try_from(d.as_millis_ceil()).unwrap_or(libc::c_int::MAX),
        };
        for p in &mut self.fds[..self.len] {
            p.revents = 0;
        }
        // SAFETY: the pointer and length describe the initialised prefix of
        // our own array, which stays borrowed mutably for the whole call.
        let r = unsafe { libc::poll(self.fds.as_mut_ptr(), self.len as libc::nfds_t, ms) };
        match super::cerr(r) {
            Ok(n) => Ok(usize::try_from(n).unwrap_or(0)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The `revents` of `slot` after the last [`poll`](Self::poll).
    pub fn revents(&self, slot: Slot) -> i16 {
        self.fds.get(slot.0).map_or(0, |p| p.revents)
    }

    /// Whether `slot` is worth reading: readable, hung up or in error (the
    /// read reports the error).
    pub fn is_ready(&self, slot: Slot) -> bool {
        self.revents(slot) & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::clock::monotonic_now;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn timeout_and_readiness() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut t = PollTable::new();
        let s = t.add(b.as_fd()).unwrap();
        let t0 = monotonic_now();
        assert_eq!(t.poll(Some(Duration::from_micros(1500))).unwrap(), 0);
        // Rounded up to 2 ms, never 1 ms or 0.
        assert!((monotonic_now() - t0).as_micros() >= 1500);
        assert!(!t.is_ready(s));
        a.write_all(b"x").unwrap();
        assert_eq!(t.poll(None).unwrap(), 1);
        assert!(t.is_ready(s));
        assert_eq!(t.revents(s) & READABLE, READABLE);
    }

    #[test]
    fn slots_are_reused_and_capacity_is_bounded() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut t = PollTable::new();
        let mut slots = [Slot(0); POLL_CAPACITY];
        for s in slots.iter_mut() {
            *s = t.add(a.as_fd()).unwrap();
        }
        assert_eq!(t.add(a.as_fd()), Err(TableFull));
        t.remove(slots[3]);
        assert_eq!(t.add(a.as_fd()), Ok(slots[3]));
        t.remove(slots[POLL_CAPACITY - 1]);
        assert_eq!(t.len(), POLL_CAPACITY - 1);
        // Zero timeout: returns immediately, nothing readable.
        assert_eq!(t.poll(Some(Duration::ZERO)).unwrap(), 0);
    }
}
