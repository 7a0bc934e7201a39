//! The I/O shell: the only module allowed to use libc and `unsafe`.
//!
//! Conventions:
//! - every libc call that returns -1 on error goes through [`cerr`], the one
//!   place that turns it into an `io::Error`;
//! - every file descriptor is an [`OwnedFd`] (closed on drop, `CLOEXEC`);
//! - every `unsafe` block carries a `// SAFETY:` comment;
//! - nothing that the daemon loop calls allocates: buffers are fixed arrays
//!   owned by the socket objects or passed in by the caller.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

pub mod alloc;
pub mod clock;
pub mod config_fs;
pub mod exec;
pub mod fifo;
pub mod file_atomic;
pub mod inotify;
pub mod ipvs;
pub mod netlink;
pub mod netns;
pub mod packet_sock;
pub mod passwd;
pub mod pidfile;
pub mod poll;
pub mod procscan;
pub mod sched;
pub mod signal;
pub mod stdio;
pub mod tcp;
pub mod timerfd;
pub mod unix_sock;
pub mod vrrp_sock;

/// An `io::Error` with a fixed message, for the few errors that are not an
/// errno. `io::Error::new(kind, "text")` copies the text into a `String`
/// and links std's string escaping for its `Debug` (about 1.7 KiB on
/// mips); this boxes only the `&'static str`.
pub(crate) fn fixed_error(kind: io::ErrorKind, msg: &'static str) -> io::Error {
    io::Error::new(kind, FixedMsg(msg))
}

struct FixedMsg(&'static str);

impl core::fmt::Debug for FixedMsg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl core::fmt::Display for FixedMsg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for FixedMsg {}

/// Integer types a libc call can return (-1 on error).
pub trait CReturn: Copy + PartialEq {
    const MINUS_ONE: Self;
}

macro_rules! impl_creturn {
    ($($t:ty),*) => {$(impl CReturn for $t { const MINUS_ONE: Self = -1; })*};
}
impl_creturn!(i8, i16, i32, i64, isize);

/// Maps a libc return value of -1 to `io::Error::last_os_error()`, passing
/// every other value through.
pub fn cerr<T: CReturn>(res: T) -> io::Result<T> {
    if res == T::MINUS_ONE {
        Err(io::Error::last_os_error())
    } else {
        Ok(res)
    }
}

/// Wraps a freshly returned descriptor (after [`cerr`]) in an [`OwnedFd`].
fn owned_fd(fd: RawFd) -> io::Result<OwnedFd> {
    let fd = cerr(fd)?;
    // SAFETY: `fd` was just returned by a successful libc call that creates a
    // new descriptor; nothing else owns it, so `OwnedFd` may close it on drop.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `IFNAMSIZ` (16): interface names are at most 15 bytes plus a NUL.
pub const IFNAMSIZ: usize = libc::IFNAMSIZ;

/// An interface name as a NUL-terminated C array, checked: 1..=15 bytes, no NUL.
pub(crate) fn ifname_c(name: &str) -> io::Result<[libc::c_char; IFNAMSIZ]> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= IFNAMSIZ || bytes.contains(&0) {
        return Err(fixed_error(
            io::ErrorKind::InvalidInput,
            "interface name must be 1..15 bytes without NUL",
        ));
    }
    let mut out = [0 as libc::c_char; IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b as libc::c_char;
    }
    Ok(out)
}

/// The index of interface `name` in the calling thread's network namespace
/// (`if_nametoindex`).
pub fn if_index(name: &str) -> io::Result<u32> {
    let c = ifname_c(name)?;
    // SAFETY: `c` is a NUL-terminated array that lives across the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx)
    }
}

/// `setsockopt` for a plain value (int, struct) passed by reference.
fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = core::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` points to a live, initialised `T` of `len` bytes; the
    // kernel only reads from it during the call.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    cerr(r).map(|_| ())
}

/// `setsockopt` for an `int` option.
fn setsockopt_int(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    setsockopt(fd, level, name, &value)
}

/// `SO_BINDTODEVICE`: restrict a socket to one interface.
fn bind_to_device(fd: &OwnedFd, ifname: &str) -> io::Result<()> {
    let c = ifname_c(ifname)?;
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &c)
}

/// True when `e` is `EAGAIN`/`EWOULDBLOCK`.
fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// What a path is (`lstat`: a symlink is not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Directory,
    Other,
}

/// The kind of `path`, `None` if it does not exist (or cannot be seen).
pub fn file_kind(path: &std::ffi::CStr) -> Option<FileKind> {
    // SAFETY: `stat` is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` writable for the call.
    cerr(unsafe { libc::lstat(path.as_ptr(), &mut st) }).ok()?;
    Some(match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::Regular,
        libc::S_IFDIR => FileKind::Directory,
        _ => FileKind::Other,
    })
}

/// Linux's `PATH_MAX`: the longest path, its NUL included.
pub const PATH_MAX: usize = 4096;

/// `path` NUL-terminated in `buf`: `InvalidInput` if it contains a NUL,
/// `ENAMETOOLONG` past [`PATH_MAX`] (what std's path functions do, without
/// their heap fallback for long paths).
pub fn c_path<'a>(path: &[u8], buf: &'a mut [u8; PATH_MAX]) -> io::Result<&'a std::ffi::CStr> {
    if path.contains(&0) {
        return Err(fixed_error(
            io::ErrorKind::InvalidInput,
            "path contains a NUL byte",
        ));
    }
    let Some(dst) = buf.get_mut(..path.len()) else {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    };
    dst.copy_from_slice(path);
    let Some(nul) = buf.get_mut(path.len()) else {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    };
    *nul = 0;
    std::ffi::CStr::from_bytes_with_nul(&buf[..=path.len()])
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `stat(path)`; `None` if it fails.
fn stat_path(path: &[u8], follow: bool) -> Option<libc::stat> {
    let mut b = [0u8; PATH_MAX];
    let c = c_path(path, &mut b).ok()?;
    // SAFETY: `stat` is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` writable for the call.
    let r = unsafe {
        if follow {
            libc::stat(c.as_ptr(), &mut st)
        } else {
            libc::lstat(c.as_ptr(), &mut st)
        }
    };
    (r == 0).then_some(st)
}

/// Whether `path` exists (`stat` succeeds: a symlink is followed), like
/// `Path::exists`.
pub fn path_exists(path: &str) -> bool {
    stat_path(path.as_bytes(), true).is_some()
}

/// Whether `path` itself (not followed) is a unix socket; `None` if there
/// is nothing at `path` (or it cannot be seen).
pub fn is_socket(path: &[u8]) -> Option<bool> {
    stat_path(path, false).map(|st| st.st_mode & libc::S_IFMT == libc::S_IFSOCK)
}

/// `unlink(path)`.
pub fn remove_file(path: &[u8]) -> io::Result<()> {
    let mut b = [0u8; PATH_MAX];
    let c = c_path(path, &mut b)?;
    // SAFETY: `c` is NUL-terminated and lives across the call.
    cerr(unsafe { libc::unlink(c.as_ptr()) }).map(|_| ())
}

/// Opens `path` (`O_CLOEXEC` added) with `mode` for a created file.
pub fn open_path(path: &[u8], flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    let mut b = [0u8; PATH_MAX];
    let c = c_path(path, &mut b)?;
    // SAFETY: `c` is NUL-terminated; the result is checked by `owned_fd`.
    owned_fd(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })
}

/// Reads the start of the file `path` into `buf` (until `buf` is full or
/// the end of the file); returns the bytes read.
pub fn read_prefix(path: &[u8], buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let fd = open_path(path, libc::O_RDONLY, 0)?;
    let mut n = 0;
    while n < buf.len() {
        let rest = &mut buf[n..];
        // SAFETY: `rest` is writable for its length during the call.
        let r = cerr(unsafe { libc::read(fd.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len()) });
        match r {
            Ok(0) => break,
            Ok(k) => n += k as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes `data` to `path` (created 0644 or truncated), in one `write`.
pub fn write_file(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated; checked by `owned_fd`.
    let fd = owned_fd(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o644 as libc::c_uint,
        )
    })?;
    // SAFETY: `data` is a valid buffer of `data.len()` bytes.
    let n = cerr(unsafe {
        libc::write(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            data.as_ptr().cast(),
            data.len(),
        )
    })?;
    if n as usize != data.len() {
        return Err(io::Error::from(io::ErrorKind::WriteZero));
    }
    Ok(())
}

/// The host name (`gethostname`) in `buf`; empty if it cannot be read.
pub fn gethostname(buf: &mut [u8; 65]) -> &[u8] {
    // SAFETY: `buf` is writable for its length minus the NUL we keep.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if r != 0 {
        return &[];
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len() - 1);
    &buf[..n]
}

/// Detaches from the terminal like keepalived without `-n`: fork (the
/// parent exits 0 at once), `setsid`, stdin/stdout to /dev/null. stderr is
/// kept (the log goes there). Call before opening anything else.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: single-threaded at this point (called first thing in main);
    // the child continues with a copy of this thread only.
    let pid = cerr(unsafe { libc::fork() })?;
    if pid > 0 {
        // SAFETY: _exit ends the parent without running destructors or
        // flushing buffers that belong to the child now.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: plain setsid(2) in the child.
    cerr(unsafe { libc::setsid() })?;
    // SAFETY: the path is a NUL-terminated literal.
    let null = cerr(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
    for fd in [0, 1] {
        // SAFETY: dup2 onto the standard descriptors; `null` is open.
        cerr(unsafe { libc::dup2(null, fd) })?;
    }
    if null > 2 {
        // SAFETY: `null` is our own descriptor, no longer needed.
        unsafe { libc::close(null) };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cerr_maps_minus_one_only() {
        assert_eq!(cerr(5i32).unwrap(), 5);
        assert_eq!(cerr(0isize).unwrap(), 0);
        assert!(cerr(-1i32).is_err());
    }

    #[test]
    fn ifname_checks() {
        assert!(ifname_c("").is_err());
        assert!(ifname_c("0123456789abcdef").is_err());
        assert!(ifname_c("a\0b").is_err());
        let c = ifname_c("eth0").unwrap();
        assert_eq!(c[..5], [b'e' as _, b't' as _, b'h' as _, b'0' as _, 0]);
        assert!(if_index("lo").unwrap() >= 1);
        assert!(if_index("kvs-nonexistent").is_err());
    }
}
