//! A non-blocking `inotify` descriptor for `vrrp_track_file`.
//!
//! keepalived watches the *directory* of each tracked file (so a file that
//! is created, replaced by `rename`, or deleted is seen, not only one that
//! is written in place) with `IN_CLOSE_WRITE | IN_DELETE | IN_MOVE`, and
//! matches the event's name against the file's last path component. This
//! wrapper does the same reads into a fixed buffer: no allocation.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::{cerr, owned_fd};

/// The file was written and closed.
pub const IN_CLOSE_WRITE: u32 = libc::IN_CLOSE_WRITE;
/// The file was deleted.
pub const IN_DELETE: u32 = libc::IN_DELETE;
/// The file was renamed away.
pub const IN_MOVED_FROM: u32 = libc::IN_MOVED_FROM;
/// A file was renamed to this name.
pub const IN_MOVED_TO: u32 = libc::IN_MOVED_TO;
/// Events were lost (the kernel queue overflowed).
pub const IN_Q_OVERFLOW: u32 = libc::IN_Q_OVERFLOW;
/// The watch is gone (the directory was deleted or unmounted).
pub const IN_IGNORED: u32 = libc::IN_IGNORED;
/// The event is about a directory.
pub const IN_ISDIR: u32 = libc::IN_ISDIR;

/// The mask keepalived uses for a tracked file's directory.
pub const TRACK_FILE_MASK: u32 = IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;

/// Bytes read per `read` call: room for at least 16 events with a full
/// `NAME_MAX` name.
const BUF_LEN: usize = 16 * (16 + 256);

/// Reads per [`Inotify::drain`] call at most (bounded work per loop turn;
/// what is left stays readable for the next turn).
const READS_PER_DRAIN: usize = 4;

/// One event (`wd`, `mask`, the name inside the watched directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub wd: i32,
    pub mask: u32,
    /// Without the NUL padding; empty for events about the directory itself.
    pub name: &'a [u8],
}

/// An inotify instance (non-blocking, close-on-exec).
pub struct Inotify {
    fd: OwnedFd,
    buf: [u8; BUF_LEN],
}

impl Inotify {
    /// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`. Fails on kernels without
    /// `CONFIG_INOTIFY_USER` (the caller then polls).
    pub fn open() -> io::Result<Inotify> {
        // SAFETY: plain syscall with constant flags; checked by `owned_fd`.
        let fd = owned_fd(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
        Ok(Inotify {
            fd,
            buf: [0; BUF_LEN],
        })
    }

    /// Watches `path` with `mask`; returns the watch descriptor (the same
    /// one again for a path already watched).
    pub fn add_watch(&self, path: &CStr, mask: u32) -> io::Result<i32> {
        // SAFETY: `path` is NUL-terminated and outlives the call.
        cerr(unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), mask) })
    }

    /// Removes a watch (errors, e.g. an already removed watch, are ignored).
    pub fn rm_watch(&self, wd: i32) {
        // SAFETY: plain syscall on our own descriptor.
        unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
    }

    /// Reads the queued events (at most a few buffers full) and calls `f`
    /// for each. Returns how many events were seen; `Ok(0)` when nothing
    /// was queued.
    pub fn drain(&mut self, mut f: impl FnMut(Event<'_>)) -> io::Result<usize> {
        let mut seen = 0;
        for _ in 0..READS_PER_DRAIN {
            // SAFETY: `buf` is a valid writable buffer of its length.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                )
            };
            let n = match cerr(n) {
                Ok(n) => usize::try_from(n).unwrap_or(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            seen += parse_events(self.buf.get(..n).unwrap_or(&[]), &mut f);
        }
        Ok(seen)
    }
}

/// Walks the `struct inotify_event` records in `buf` (native endian:
/// `i32 wd, u32 mask, u32 cookie, u32 len`, then `len` bytes of name).
/// A truncated record ends the walk.
pub fn parse_events(buf: &[u8], f: &mut impl FnMut(Event<'_>)) -> usize {
    let word = |b: &[u8], at: usize| -> Option<[u8; 4]> {
        let s = b.get(at..at + 4)?;
        Some([s[0], s[1], s[2], s[3]])
    };
    let mut off = 0;
    let mut seen = 0;
    while let (Some(wd), Some(mask), Some(len)) =
        (word(buf, off), word(buf, off + 4), word(buf, off + 12))
    {
        let len = u32::from_ne_bytes(len) as usize;
        let Some(name) = buf.get(off + 16..off + 16 + len) else {
            break;
        };
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        f(Event {
            wd: i32::from_ne_bytes(wd),
            mask: u32::from_ne_bytes(mask),
            name: name.get(..end).unwrap_or(&[]),
        });
        seen += 1;
        off += 16 + len;
    }
    seen
}

impl AsFd for Inotify {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(wd: i32, mask: u32, name: &[u8], pad: usize) -> std::vec::Vec<u8> {
        let mut v = std::vec::Vec::new();
        v.extend_from_slice(&wd.to_ne_bytes());
        v.extend_from_slice(&mask.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&((name.len() + pad) as u32).to_ne_bytes());
        v.extend_from_slice(name);
        v.extend(std::iter::repeat_n(0u8, pad));
        v
    }

    #[test]
    fn parses_records_and_stops_at_truncation() {
        let mut b = record(3, IN_CLOSE_WRITE, b"value", 3);
        b.extend(record(4, IN_Q_OVERFLOW, b"", 0));
        b.extend(record(5, IN_DELETE, b"x", 15));
        let whole = b.len();
        b.extend(&record(6, IN_DELETE, b"cut", 1)[..10]);
        let mut got = std::vec::Vec::new();
        let n = parse_events(&b, &mut |e: Event<'_>| {
            got.push((e.wd, e.mask, e.name.to_vec()))
        });
        assert_eq!(n, 3);
        assert_eq!(
            got,
            [
                (3, IN_CLOSE_WRITE, b"value".to_vec()),
                (4, IN_Q_OVERFLOW, vec![]),
                (5, IN_DELETE, b"x".to_vec())
            ]
        );
        assert!(whole < b.len());
    }

    #[test]
    fn sees_write_rename_and_delete_in_a_directory() {
        if std::env::var_os("KEEPVIP_QEMU").is_some() {
            println!(
                "skipped under qemu-user (KEEPVIP_QEMU): inotify events pass its translation layer"
            );
            return;
        }
        let d = std::env::temp_dir().join(format!("kv-inotify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let mut ino = Inotify::open().unwrap();
        let dc = std::ffi::CString::new(d.to_str().unwrap()).unwrap();
        let wd = ino.add_watch(&dc, TRACK_FILE_MASK).unwrap();
        assert_eq!(ino.add_watch(&dc, TRACK_FILE_MASK).unwrap(), wd);
        let mut got = std::vec::Vec::new();
        assert_eq!(
            ino.drain(|_| {}).unwrap(),
            0,
            "nothing queued: never blocks"
        );
        std::fs::write(d.join("v"), "5\n").unwrap();
        std::fs::write(d.join("tmp"), "7\n").unwrap();
        std::fs::rename(d.join("tmp"), d.join("v")).unwrap();
        std::fs::remove_file(d.join("v")).unwrap();
        ino.drain(|e| {
            if e.name == b"v" {
                got.push(e.mask & TRACK_FILE_MASK)
            }
        })
        .unwrap();
        assert_eq!(got, [IN_CLOSE_WRITE, IN_MOVED_TO, IN_DELETE]);
        std::fs::remove_dir(&d).unwrap();
        let mut ignored = false;
        ino.drain(|e| ignored |= e.wd == wd && e.mask & IN_IGNORED != 0)
            .unwrap();
        assert!(ignored, "a deleted directory ends its watch");
    }
}
