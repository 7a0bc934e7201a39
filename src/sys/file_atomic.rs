//! Whole-file writes that readers never see half done, without the heap.
//!
//! [`write_atomic`] and [`write_atomic_fmt`] write a temporary file in the
//! same directory (`<path>.<pid>.tmp`, created with `O_EXCL|O_NOFOLLOW`, so
//! a symlink planted in `/tmp` is never followed), `fsync` it, `rename` it
//! over `path` and `fsync` the directory. A reader (rpcd, LuCI, a shell)
//! sees either the old file or the new one, never a partial one.
//!
//! [`replace_fmt`] is the same without the two `fsync`s, for the daemon's
//! state dumps: readers need the atomic replacement, not durability across
//! a crash (they are in `/tmp`), and an `fsync` on a disk-backed `/tmp` can
//! stall the poll loop for tens of milliseconds.
//!
//! [`FixedBuf`] is a fixed-capacity `fmt::Write` sink that reports overflow
//! instead of panicking or growing.

use core::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{cerr, owned_fd};

/// Mode of dump files: keepalived runs with umask 0177, so its dumps are
/// 0600 (the data dump contains the PASS authentication string).
pub const DUMP_FILE_MODE: u32 = 0o600;

/// Longest path accepted (`PATH_MAX` is 4096 on Linux; dump paths are short).
pub const PATH_MAX_BYTES: usize = 256;

/// Size of the staging buffer of [`write_atomic_fmt`] (on the stack).
pub const STREAM_BUF_BYTES: usize = 4096;

/// A fixed-capacity byte buffer that implements [`fmt::Write`].
///
/// When a write does not fit, the part that fits is kept (cut at a UTF-8
/// boundary), [`FixedBuf::is_truncated`] becomes true and the write returns
/// `fmt::Error`, which stops the formatting. It never panics and never
/// allocates.
pub struct FixedBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FixedBuf<N> {
    pub const fn new() -> Self {
        FixedBuf {
            buf: [0; N],
            len: 0,
            truncated: false,
        }
    }
    pub const fn capacity(&self) -> usize {
        N
    }
    pub const fn len(&self) -> usize {
        self.len
    }
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// True when some output was dropped since the last [`FixedBuf::clear`].
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }
    pub fn clear(&mut self) {
        self.len = 0;
        self.truncated = false;
    }
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
    /// The text written so far (always valid UTF-8: only `&str`s go in and
    /// cuts happen at character boundaries).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// Copies as much of `s` as fits into `dst[*len..]`, cut at a char
/// boundary. Returns false when something was left out.
fn push_str(dst: &mut [u8], len: &mut usize, s: &str) -> bool {
    let room = dst.len().saturating_sub(*len);
    let mut take = s.len().min(room);
    while take > 0 && !s.is_char_boundary(take) {
        take -= 1;
    }
    if let (Some(d), Some(src)) = (dst.get_mut(*len..*len + take), s.as_bytes().get(..take)) {
        d.copy_from_slice(src);
        *len += take;
    }
    take == s.len()
}

impl<const N: usize> fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Err(fmt::Error);
        }
        if push_str(&mut self.buf, &mut self.len, s) {
            Ok(())
        } else {
            self.truncated = true;
            Err(fmt::Error)
        }
    }
}

/// A `fmt::Write` sink over a caller-supplied slice (e.g. a buffer boxed
/// once at start-up), with the same overflow rules as [`FixedBuf`].
pub struct SliceBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
    truncated: bool,
}

impl<'a> SliceBuf<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceBuf {
            buf,
            len: 0,
            truncated: false,
        }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl fmt::Write for SliceBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Err(fmt::Error);
        }
        if push_str(self.buf, &mut self.len, s) {
            Ok(())
        } else {
            self.truncated = true;
            Err(fmt::Error)
        }
    }
}

/// A NUL-terminated copy of a path in a fixed array.
struct CPath {
    buf: [u8; PATH_MAX_BYTES],
}

impl CPath {
    /// `path` followed by `suffix` and a NUL.
    fn new(path: &[u8], suffix: &[u8]) -> io::Result<CPath> {
        let total = path.len().saturating_add(suffix.len());
        if path.is_empty() || total >= PATH_MAX_BYTES || path.contains(&0) || suffix.contains(&0) {
            // Path empty, too long or containing NUL (no message: an
            // io::Error with one allocates, and dumps are written in the loop).
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        let mut buf = [0u8; PATH_MAX_BYTES];
        buf[..path.len()].copy_from_slice(path);
        buf[path.len()..total].copy_from_slice(suffix);
        Ok(CPath { buf })
    }
    fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }
}

/// The directory part of `path` ("." when there is none, "/" for "/x").
fn dir_of(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &path[..i],
        None => b".",
    }
}

/// `.<pid>.tmp` as bytes in a small fixed buffer.
fn tmp_suffix(out: &mut [u8; 24]) -> &[u8] {
    // SAFETY: getpid has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    let mut b = FixedBuf::<24>::new();
    let _ = fmt::write(&mut b, format_args!(".{pid}.tmp"));
    let n = b.len();
    out[..n].copy_from_slice(b.as_bytes());
    &out[..n]
}

/// Writes all of `data` to `fd` (retrying short writes and `EINTR`).
pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is a live, initialised slice of `data.len()` bytes;
        // the kernel only reads from it.
        let r = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        match cerr(r) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => data = data.get(n as usize..).unwrap_or(&[]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn fsync(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: `fd` is an open descriptor owned by the caller.
    cerr(unsafe { libc::fsync(fd.as_raw_fd()) }).map(|_| ())
}

/// Writes the temporary file with `fill`, then renames it over `path`
/// (with `durable`: `fsync` of the file before and of the directory after).
fn atomic_with(
    path: &Path,
    mode: u32,
    durable: bool,
    fill: &mut dyn FnMut(&OwnedFd) -> io::Result<()>,
) -> io::Result<()> {
    let p = path.as_os_str().as_bytes();
    let mut sfx = [0u8; 24];
    let tmp = CPath::new(p, tmp_suffix(&mut sfx))?;
    let dst = CPath::new(p, b"")?;
    // A stale temp file from a crash (or a planted symlink) is removed
    // first; `O_EXCL` then guarantees that we write a file we created.
    // SAFETY: `tmp` is NUL-terminated and lives across the call.
    let _ = unsafe { libc::unlink(tmp.as_ptr()) };
    // SAFETY: as above; open creates a new descriptor we own.
    let fd = owned_fd(unsafe {
        libc::open(
            tmp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    let result = (|| {
        // Exact mode whatever the umask.
        // SAFETY: `fd` is open and owned here.
        cerr(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })?;
        fill(&fd)?;
        if durable {
            fsync(&fd)?;
        }
        // SAFETY: both paths are NUL-terminated and live across the call.
        cerr(unsafe { libc::rename(tmp.as_ptr(), dst.as_ptr()) })?;
        Ok(())
    })();
    drop(fd);
    if let Err(e) = result {
        // SAFETY: `tmp` is NUL-terminated and lives across the call.
        let _ = unsafe { libc::unlink(tmp.as_ptr()) };
        return Err(e);
    }
    if !durable {
        return Ok(());
    }
    // Make the rename durable (best effort: a failure here does not undo it).
    if let Ok(dir) = CPath::new(dir_of(p), b"") {
        // SAFETY: `dir` is NUL-terminated; open creates a descriptor we own.
        let dfd = owned_fd(unsafe {
            libc::open(
                dir.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        });
        if let Ok(dfd) = dfd {
            let _ = fsync(&dfd);
        }
    }
    Ok(())
}

/// Atomically replaces `path` with `data` (file mode `mode`).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    atomic_with(path, mode, true, &mut |fd| write_all(fd.as_fd(), data))
}

/// Why [`write_atomic_fmt`] failed.
#[derive(Debug)]
pub enum FmtWriteError {
    Io(io::Error),
    /// The formatter itself returned an error (the old file is kept).
    Format,
}

impl fmt::Display for FmtWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FmtWriteError::Io(e) => write!(f, "{e}"),
            FmtWriteError::Format => f.write_str("formatting failed"),
        }
    }
}

/// Streams formatted text to a file descriptor through a fixed
/// [`STREAM_BUF_BYTES`] buffer; the first I/O error is kept and stops the
/// formatting. Nothing reaches `fd` before a [`FdWriter::flush`] or a full
/// buffer.
pub struct FdWriter<'a> {
    fd: BorrowedFd<'a>,
    buf: FixedBuf<STREAM_BUF_BYTES>,
    err: Option<io::Error>,
}

impl<'a> FdWriter<'a> {
    pub fn new(fd: BorrowedFd<'a>) -> Self {
        FdWriter {
            fd,
            buf: FixedBuf::new(),
            err: None,
        }
    }

    /// Writes out what is buffered; reports the first error seen.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        let r = write_all(self.fd, self.buf.as_bytes());
        self.buf.clear();
        r
    }
}

impl fmt::Write for FdWriter<'_> {
    fn write_str(&mut self, mut s: &str) -> fmt::Result {
        if self.err.is_some() {
            return Err(fmt::Error);
        }
        while !s.is_empty() {
            let room = self.buf.capacity() - self.buf.len();
            let mut take = s.len().min(room);
            while take > 0 && !s.is_char_boundary(take) {
                take -= 1;
            }
            if take == 0 {
                if let Err(e) = self.flush() {
                    self.err = Some(e);
                    return Err(fmt::Error);
                }
                continue;
            }
            let (head, tail) = s.split_at(take);
            // Fits by construction.
            let _ = self.buf.write_str(head);
            s = tail;
        }
        Ok(())
    }
}

/// Atomically replaces `path` with whatever `render` writes (file mode
/// `mode`), streamed through a [`STREAM_BUF_BYTES`] stack buffer: no heap
/// and no size limit. If `render` fails, the old file stays.
pub fn write_atomic_fmt(
    path: &Path,
    mode: u32,
    render: &mut dyn FnMut(&mut dyn fmt::Write) -> fmt::Result,
) -> Result<(), FmtWriteError> {
    fmt_with(path, mode, true, render)
}

/// [`write_atomic_fmt`] without the `fsync`s (see the module documentation):
/// readers still see the old or the new file, never a partial one.
pub fn replace_fmt(
    path: &Path,
    mode: u32,
    render: &mut dyn FnMut(&mut dyn fmt::Write) -> fmt::Result,
) -> Result<(), FmtWriteError> {
    fmt_with(path, mode, false, render)
}

fn fmt_with(
    path: &Path,
    mode: u32,
    durable: bool,
    render: &mut dyn FnMut(&mut dyn fmt::Write) -> fmt::Result,
) -> Result<(), FmtWriteError> {
    let mut format_failed = false;
    let r = atomic_with(path, mode, durable, &mut |fd| {
        let mut w = FdWriter::new(fd.as_fd());
        let res = render(&mut w);
        if let Some(e) = w.err.take() {
            return Err(e);
        }
        if res.is_err() {
            format_failed = true;
            return Err(io::Error::from(io::ErrorKind::Other));
        }
        w.flush()
    });
    match r {
        Ok(()) => Ok(()),
        Err(_) if format_failed => Err(FmtWriteError::Format),
        Err(e) => Err(FmtWriteError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    #[test]
    fn fixed_buf_reports_overflow_without_panicking() {
        let mut b = FixedBuf::<8>::new();
        assert!(write!(b, "abc").is_ok());
        assert!(!b.is_truncated());
        assert!(write!(b, "defghij").is_err());
        assert!(b.is_truncated());
        assert_eq!(b.as_str(), "abcdefgh");
        // Further writes keep failing until cleared.
        assert!(write!(b, "").is_err());
        b.clear();
        assert!(b.is_empty() && !b.is_truncated());
        // Cut at a char boundary: "é" is two bytes.
        let mut b = FixedBuf::<3>::new();
        assert!(write!(b, "aéé").is_err());
        assert_eq!(b.as_str(), "aé");
    }

    #[test]
    fn slice_buf_same_rules() {
        let mut store = [0u8; 4];
        let mut b = SliceBuf::new(&mut store);
        assert!(write!(b, "ab").is_ok());
        assert!(write!(b, "cde").is_err());
        assert!(b.is_truncated());
        assert_eq!(b.as_bytes(), b"abcd");
    }

    #[test]
    fn dir_of_cases() {
        assert_eq!(dir_of(b"/tmp/x"), b"/tmp");
        assert_eq!(dir_of(b"/x"), b"/");
        assert_eq!(dir_of(b"x"), b".");
    }

    #[test]
    fn cpath_rejects_bad_paths() {
        assert!(CPath::new(b"", b"").is_err());
        assert!(CPath::new(b"a\0b", b"").is_err());
        assert!(CPath::new(&[b'a'; PATH_MAX_BYTES], b"").is_err());
        let c = CPath::new(b"/tmp/a", b".1.tmp").unwrap();
        assert_eq!(&c.buf[..13], b"/tmp/a.1.tmp\0");
    }
}
