//! Signals through `signalfd`: TERM, INT, HUP, CHLD, USR1, USR2,
//! SIGRTMIN+2 (keepalived's JSON dump signal; 36 on glibc, 37 on musl, so it
//! is computed at run time with `libc::SIGRTMIN()`) and XCPU (the
//! `RLIMIT_RTTIME` warning of `vrrp_rt_priority`; its default action would
//! kill the daemon).
//!
//! Signal 37 is also read as [`Signal::RtMin2`] where it is a different,
//! otherwise unused real-time signal (glibc: SIGRTMIN+3): OpenWrt's rpcd
//! glue sends a literal `kill -37`, so a glibc build answers it too.
//!
//! The signals are blocked with `sigprocmask` in the calling thread (the
//! daemon is single-threaded; call [`Signals::open`] before spawning any
//! thread so that threads inherit the mask). The mask survives `execve`:
//! a child must unblock them before exec (`sys::exec`'s job).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Signals the daemon handles.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Term,
    Int,
    Hup,
    Chld,
    Usr1,
    Usr2,
    /// `SIGRTMIN+2`.
    RtMin2,
    /// `RLIMIT_RTTIME` soft limit reached (`vrrp_rt_priority`, `sys::sched`).
    Xcpu,
}

impl Signal {
    pub const ALL: [Signal; 8] = [
        Signal::Term,
        Signal::Int,
        Signal::Hup,
        Signal::Chld,
        Signal::Usr1,
        Signal::Usr2,
        Signal::RtMin2,
        Signal::Xcpu,
    ];

    /// The signal number on this system.
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Chld => libc::SIGCHLD,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
            Signal::RtMin2 => libc::SIGRTMIN().saturating_add(2),
            Signal::Xcpu => libc::SIGXCPU,
        }
    }

    pub fn from_number(n: libc::c_int) -> Option<Signal> {
        if Some(n) == json_alias() {
            return Some(Signal::RtMin2);
        }
        Signal::ALL.into_iter().find(|s| s.number() == n)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`Signal`]s (which ones arrived since the last read; a signal
/// that arrived twice is reported once).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SignalSet(u8);

impl SignalSet {
    pub const EMPTY: SignalSet = SignalSet(0);

    pub fn contains(self, s: Signal) -> bool {
        self.0 & s.bit() != 0
    }
    pub fn insert(&mut self, s: Signal) {
        self.0 |= s.bit();
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Signal> {
        Signal::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

/// The JSON dump signal as keepalived's OpenWrt glue writes it (`kill -37`).
pub const KEEPALIVED_JSON_SIGNAL: libc::c_int = 37;

/// 37 when it is a real-time signal other than SIGRTMIN+2 (glibc: SIGRTMIN
/// is 34, so 37 is SIGRTMIN+3, which nothing else in keepvip uses); `None`
/// where 37 already is SIGRTMIN+2 (musl) or not a real-time signal.
pub fn json_alias() -> Option<libc::c_int> {
    let n = KEEPALIVED_JSON_SIGNAL;
    (n != Signal::RtMin2.number() && n >= libc::SIGRTMIN() && n <= libc::SIGRTMAX()).then_some(n)
}

/// Most `signalfd_siginfo` records read per [`Signals::read`] call.
pub const SIGNAL_READ_MAX: usize = 32;

/// The signalfd. Poll it for readability, then call [`Signals::read`].
pub struct Signals {
    fd: OwnedFd,
}

fn sigset_of_all() -> io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it fully below.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    super::cerr(unsafe { libc::sigemptyset(&mut set) })?;
    for n in Signal::ALL
        .map(Signal::number)
        .into_iter()
        .chain(json_alias())
    {
        // SAFETY: `set` is an initialised sigset_t; the number is a valid signal.
        super::cerr(unsafe { libc::sigaddset(&mut set, n) })?;
    }
    Ok(set)
}

impl Signals {
    /// Blocks the handled signals in the calling thread and opens a
    /// non-blocking, close-on-exec signalfd for them.
    pub fn open() -> io::Result<Signals> {
        let set = sigset_of_all()?;
        // SAFETY: `set` is an initialised sigset_t; the old mask is not wanted.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, core::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        // SAFETY: -1 asks for a new fd; `set` is initialised and only read.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        Ok(Signals {
            fd: super::owned_fd(fd)?,
        })
    }

    /// Reads every pending signal (at most [`SIGNAL_READ_MAX`] records) and
    /// returns the set of those that arrived. Empty when nothing is pending.
    pub fn read(&self) -> io::Result<SignalSet> {
        const SZ: usize = core::mem::size_of::<libc::signalfd_siginfo>();
        let mut out = SignalSet::EMPTY;
        for _ in 0..SIGNAL_READ_MAX {
            // SAFETY: signalfd_siginfo is plain data, all-zero is valid.
            let mut info: libc::signalfd_siginfo = unsafe { core::mem::zeroed() };
            // SAFETY: we read at most SZ bytes into `info`, which is SZ bytes.
            let r = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    SZ,
                )
            };
            match super::cerr(r) {
                Ok(n) if usize::try_from(n).ok() == Some(SZ) => {
                    let signo = libc::c_int::try_from(info.ssi_signo).unwrap_or(0);
                    if let Some(s) = Signal::from_number(signo) {
                        out.insert(s);
                    }
                }
                Ok(_) => break,
                Err(e) if super::would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl AsFd for Signals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Unblocks the handled signals in the calling thread (for a forked child
/// before `execve`, or at shutdown).
pub fn unblock() -> io::Result<()> {
    let set = sigset_of_all()?;
    // SAFETY: `set` is an initialised sigset_t; the old mask is not wanted.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, core::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_distinct_and_rtmin2_is_computed() {
        for (i, a) in Signal::ALL.iter().enumerate() {
            for b in &Signal::ALL[i + 1..] {
                assert_ne!(a.number(), b.number());
            }
            assert_eq!(Signal::from_number(a.number()), Some(*a));
        }
        assert_eq!(Signal::RtMin2.number(), libc::SIGRTMIN() + 2);
        let mut s = SignalSet::EMPTY;
        s.insert(Signal::Hup);
        s.insert(Signal::RtMin2);
        assert!(s.contains(Signal::Hup) && !s.contains(Signal::Term));
        assert_eq!(s.iter().count(), 2);
        // The eighth signal uses the set's last bit.
        s.insert(Signal::Xcpu);
        assert!(s.contains(Signal::Xcpu) && s.contains(Signal::Hup));
        assert_eq!(s.iter().count(), 3);
        assert_eq!(Signal::Xcpu.number(), libc::SIGXCPU);
        // 37 is the JSON dump on every libc: SIGRTMIN+2 itself on musl, the
        // alias SIGRTMIN+3 on glibc.
        assert_eq!(Signal::from_number(37), Some(Signal::RtMin2));
        match json_alias() {
            Some(n) => {
                assert_eq!(n, 37);
                assert_ne!(Signal::RtMin2.number(), 37);
            }
            None => assert_eq!(Signal::RtMin2.number(), 37),
        }
        assert_eq!(Signal::from_number(libc::SIGRTMIN() + 1), None);
    }

    #[test]
    fn signalfd_reports_raised_signals() {
        // Runs on its own thread: the mask is per thread, and raise() sends
        // to the calling thread, so the rest of the test binary is unaffected.
        std::thread::spawn(|| {
            let sig = Signals::open().unwrap();
            assert!(sig.read().unwrap().is_empty());
            for s in [Signal::Usr1, Signal::RtMin2, Signal::Hup, Signal::Usr1] {
                // SAFETY: the signal is blocked in this thread, so raise()
                // only marks it pending for the signalfd.
                assert_eq!(unsafe { libc::raise(s.number()) }, 0);
            }
            let got = sig.read().unwrap();
            assert!(got.contains(Signal::Usr1));
            assert!(got.contains(Signal::RtMin2));
            assert!(got.contains(Signal::Hup));
            assert!(!got.contains(Signal::Term));
            assert!(sig.read().unwrap().is_empty());
            // A literal 37 (OpenWrt's rpcd) arrives as the JSON dump.
            // SAFETY: as above, 37 is in the blocked set.
            assert_eq!(unsafe { libc::raise(KEEPALIVED_JSON_SIGNAL) }, 0);
            let got = sig.read().unwrap();
            assert!(got.contains(Signal::RtMin2), "{got:?}");
            assert_eq!(got.iter().count(), 1);
            unblock().unwrap();
        })
        .join()
        .unwrap();
    }
}
