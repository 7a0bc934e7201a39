//! `strerror` without allocation: `io::Error`'s `Display` of an OS error
//! builds a `String`, which the loop must not do after start-up.

use core::fmt;
use std::io;

/// The text of the errno values the daemon meets (glibc's wording), or
/// `None` for others.
pub fn errno_text(e: i32) -> Option<&'static str> {
    Some(match e {
        libc::EPERM => "Operation not permitted",
        libc::ENOENT => "No such file or directory",
        libc::EINTR => "Interrupted system call",
        libc::EIO => "Input/output error",
        libc::EAGAIN => "Resource temporarily unavailable",
        libc::ENOMEM => "Cannot allocate memory",
        libc::EACCES => "Permission denied",
        libc::EBUSY => "Device or resource busy",
        libc::EEXIST => "File exists",
        libc::ENODEV => "No such device",
        libc::EINVAL => "Invalid argument",
        libc::ENOSPC => "No space left on device",
        libc::ERANGE => "Numerical result out of range",
        libc::EMSGSIZE => "Message too long",
        libc::ENOPROTOOPT => "Protocol not available",
        libc::EOPNOTSUPP => "Operation not supported",
        libc::EAFNOSUPPORT => "Address family not supported by protocol",
        libc::EADDRINUSE => "Address already in use",
        libc::EADDRNOTAVAIL => "Cannot assign requested address",
        libc::ENETDOWN => "Network is down",
        libc::ENETUNREACH => "Network is unreachable",
        libc::ENOBUFS => "No buffer space available",
        libc::EHOSTUNREACH => "No route to host",
        libc::ENXIO => "No such device or address",
        libc::ESRCH => "No such process",
        libc::EPIPE => "Broken pipe",
        libc::ECONNREFUSED => "Connection refused",
        libc::ECONNRESET => "Connection reset by peer",
        libc::ETIMEDOUT => "Connection timed out",
        libc::EMFILE => "Too many open files",
        _ => return None,
    })
}

/// Displays an errno as its text, or `errno N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match errno_text(self.0) {
            Some(t) => f.write_str(t),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// Displays an `io::Error` without allocating.
pub struct IoErr<'a>(pub &'a io::Error);

impl fmt::Display for IoErr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(e) => Errno(e).fmt(f),
            None => write!(f, "{}", self.0.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(Errno(libc::EEXIST).to_string(), "File exists");
        assert_eq!(Errno(9999).to_string(), "errno 9999");
        let e = io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert_eq!(IoErr(&e).to_string(), "Cannot assign requested address");
        let e = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(IoErr(&e).to_string(), "operation would block");
    }
}
