//! [`ConfigSource`] over the real file system, for the daemon and `keepvip
//! -t` (the parser itself never touches files).
//!
//! No heap after start-up: [`FsSource::new`] allocates one arena of
//! `MAX_CONFIG_BYTES` (address space: only the pages a configuration
//! actually fills become resident), and every read, at start and on each
//! SIGHUP, goes into it. Files are read while the files that include them
//! are still being parsed, so the arena is used as a stack: a file occupies
//! the bytes after the file being parsed that includes it, and gives them
//! back when its parse is over. A file that does not fit is refused ("file
//! too large"). Directories (`include` globs) are listed with `getdents64`
//! into a stack buffer: no `opendir` (which mallocs its `DIR`), no
//! `std::fs::read_dir` (which allocates per call and per entry). Paths are
//! made NUL-terminated in stack buffers of `MAX_PATH_LEN + 1` bytes.

use core::cell::Cell;
use core::mem::MaybeUninit;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::owned_fd;
use crate::config::source::{ConfigSource, SourceError};
use crate::limits::{MAX_CONFIG_BYTES, MAX_PATH_LEN};

/// Size of the `getdents64` buffer (on the stack): one call returns as many
/// entries as fit; a bigger directory takes more calls.
const DIRENT_BUF: usize = 2048;

/// Reads configuration files into a start-up arena (see the module doc).
/// Not `Sync`: one loop thread uses it.
pub struct FsSource {
    /// The arena (`Box::into_raw` of `cap` uninitialised bytes, freed on
    /// drop); only reached through this pointer.
    base: *mut MaybeUninit<u8>,
    cap: usize,
    /// Start of the free part of the arena: bytes below it hold files being
    /// parsed right now.
    top: Cell<usize>,
}

impl FsSource {
    /// The one allocation: `MAX_CONFIG_BYTES` of uninitialised arena.
    pub fn new() -> FsSource {
        Self::with_capacity(MAX_CONFIG_BYTES)
    }

    /// An arena of `bytes` (tests use small ones to reach "too large").
    pub fn with_capacity(bytes: usize) -> FsSource {
        let arena: Box<[MaybeUninit<u8>]> = Box::new_uninit_slice(bytes);
        FsSource {
            base: Box::into_raw(arena).cast::<MaybeUninit<u8>>(),
            cap: bytes,
            top: Cell::new(0),
        }
    }

    /// Bytes the arena holds.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Arena address `off` (`off <= cap`).
    fn at(&self, off: usize) -> *mut u8 {
        debug_assert!(off <= self.cap);
        // SAFETY: `off <= cap`: inside the allocation or one past its end.
        unsafe { self.base.add(off).cast::<u8>() }
    }
}

impl Drop for FsSource {
    fn drop(&mut self) {
        let slice = core::ptr::slice_from_raw_parts_mut(self.base, self.cap);
        // SAFETY: `base`/`cap` come from `Box::into_raw` of a boxed slice of
        // this length in `with_capacity`, and are freed only here.
        drop(unsafe { Box::from_raw(slice) });
    }
}

impl Default for FsSource {
    fn default() -> Self {
        Self::new()
    }
}

fn map_errno(e: &io::Error) -> SourceError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => SourceError::NotFound,
        Some(libc::EACCES) | Some(libc::EPERM) => SourceError::PermissionDenied,
        Some(libc::EFBIG) => SourceError::TooLarge,
        Some(n) => SourceError::Io(n),
        None => SourceError::Io(0),
    }
}

/// `path` as a NUL-terminated C string in `buf`.
fn c_path<'b>(path: &str, buf: &'b mut [u8; MAX_PATH_LEN + 1]) -> Result<&'b [u8], SourceError> {
    let b = path.as_bytes();
    if b.len() > MAX_PATH_LEN {
        return Err(SourceError::Io(libc::ENAMETOOLONG));
    }
    if b.contains(&0) {
        return Err(SourceError::NotFound);
    }
    buf[..b.len()].copy_from_slice(b);
    buf[b.len()] = 0;
    Ok(&buf[..=b.len()])
}

fn open(path: &[u8], flags: libc::c_int) -> Result<OwnedFd, SourceError> {
    // SAFETY: `path` is NUL-terminated (`c_path`) and outlives the call;
    // `owned_fd` checks the result and owns the new descriptor.
    owned_fd(unsafe {
        libc::open(
            path.as_ptr().cast(),
            flags | libc::O_CLOEXEC | libc::O_NOCTTY,
        )
    })
    .map_err(|e| map_errno(&e))
}

/// Gives the arena bytes from `start` back when the file's parse is over
/// (also if the callback unwinds).
struct Release<'a> {
    top: &'a Cell<usize>,
    start: usize,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.top.set(self.start);
    }
}

impl ConfigSource for FsSource {
    fn read_file(&self, path: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), SourceError> {
        let mut pbuf = [0u8; MAX_PATH_LEN + 1];
        let cpath = c_path(path, &mut pbuf)?;
        // O_NONBLOCK: a FIFO must not block the open (it is refused below).
        let fd = open(cpath, libc::O_RDONLY | libc::O_NONBLOCK)?;
        // SAFETY: `stat` is plain data; all-zero is a valid value.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: `fd` is open and `st` is writable for the call.
        super::cerr(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) }).map_err(|e| map_errno(&e))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(SourceError::WrongType);
        }
        let start = self.top.get();
        let avail = self.cap - start;
        if u64::try_from(st.st_size).unwrap_or(u64::MAX) > avail as u64 {
            return Err(SourceError::TooLarge);
        }
        let mut len = 0usize;
        loop {
            if len == avail {
                // Full: the file grew since fstat, or it is exactly the
                // room left; one byte more means it does not fit.
                let mut probe = [0u8; 1];
                // SAFETY: `probe` is writable for 1 byte.
                let n = unsafe { libc::read(fd.as_raw_fd(), probe.as_mut_ptr().cast(), 1) };
                match super::cerr(n) {
                    Ok(0) => break,
                    Ok(_) => return Err(SourceError::TooLarge),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(map_errno(&e)),
                }
            }
            // SAFETY: `start + len + (avail - len) == cap`: the range is
            // inside the arena, and no live slice covers it: the files being
            // parsed (callers up the include chain) hold only bytes below
            // `start`, which `top` protects.
            let n = unsafe { libc::read(fd.as_raw_fd(), self.at(start + len).cast(), avail - len) };
            match super::cerr(n) {
                Ok(0) => break,
                Ok(n) => len += n as usize,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(map_errno(&e)),
            }
        }
        drop(fd);
        self.top.set(start + len);
        let _release = Release {
            top: &self.top,
            start,
        };
        // SAFETY: `read` initialised these `len` bytes; they stay untouched
        // until `_release` gives them back after `f` returns: nested reads
        // (includes parsed inside `f`) start at `top = start + len`.
        let bytes = unsafe { core::slice::from_raw_parts(self.at(start), len) };
        f(bytes);
        Ok(())
    }

    fn list_dir(&self, dir: &str, f: &mut dyn FnMut(&str)) -> Result<(), SourceError> {
        let dir = if dir.is_empty() { "." } else { dir };
        let mut pbuf = [0u8; MAX_PATH_LEN + 1];
        let cpath = c_path(dir, &mut pbuf)?;
        let fd = open(cpath, libc::O_RDONLY | libc::O_DIRECTORY).map_err(|e| match e {
            // open(O_DIRECTORY) on a file: ENOTDIR.
            SourceError::NotFound if dir_is_file(cpath) => SourceError::NotADirectory,
            e => e,
        })?;
        let mut buf = [0u8; DIRENT_BUF];
        loop {
            // SAFETY: `buf` is writable for its length; the kernel writes
            // at most that many bytes of `linux_dirent64` records.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            let n = match super::cerr(n) {
                Ok(0) => return Ok(()),
                Ok(n) => n as usize,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(map_errno(&e)),
            };
            for name in dirents(&buf[..n.min(buf.len())]) {
                if name != b"."
                    && name != b".."
                    && let Ok(s) = core::str::from_utf8(name)
                {
                    f(s);
                }
            }
        }
    }
}

/// Whether the NUL-terminated `path` is something other than a directory
/// (to tell "not a directory" from "missing" for `list_dir`).
fn dir_is_file(path: &[u8]) -> bool {
    // SAFETY: `stat` is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` writable for the call.
    let ok = unsafe { libc::stat(path.as_ptr().cast(), &mut st) } == 0;
    ok && st.st_mode & libc::S_IFMT != libc::S_IFDIR
}

/// The names in a `getdents64` result: records of `d_ino` (8 bytes),
/// `d_off` (8), `d_reclen` (2, native byte order), `d_type` (1) and the
/// NUL-terminated name, each `d_reclen` long.
fn dirents(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    const NAME: usize = 19;
    let mut off = 0usize;
    core::iter::from_fn(move || {
        let rec = buf.get(off..)?;
        let reclen = usize::from(u16::from_ne_bytes([*rec.get(16)?, *rec.get(17)?]));
        if reclen <= NAME || reclen > rec.len() {
            return None;
        }
        off += reclen;
        let name = &rec[NAME..reclen];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        Some(&name[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("kv-config-fs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reads_files_lists_dirs_and_refuses_what_is_not_a_file() {
        let d = tmpdir("basic");
        std::fs::write(d.join("a.conf"), b"AAA").unwrap();
        std::fs::write(d.join("b.conf"), b"BB").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        let src = FsSource::with_capacity(64);
        let p = |n: &str| d.join(n).to_str().unwrap().to_owned();
        let mut got = Vec::new();
        src.read_file(&p("a.conf"), &mut |b| got.extend_from_slice(b))
            .unwrap();
        assert_eq!(got, b"AAA");
        assert_eq!(
            src.read_file(&p("missing"), &mut |_| {}),
            Err(SourceError::NotFound)
        );
        assert_eq!(
            src.read_file(&p("sub"), &mut |_| {}),
            Err(SourceError::WrongType)
        );
        let mut names = Vec::new();
        src.list_dir(d.to_str().unwrap(), &mut |n| names.push(n.to_owned()))
            .unwrap();
        names.sort();
        assert_eq!(names, ["a.conf", "b.conf", "sub"]);
        assert_eq!(
            src.list_dir(&p("a.conf"), &mut |_| {}),
            Err(SourceError::NotADirectory)
        );
        assert_eq!(
            src.list_dir(&p("nope"), &mut |_| {}),
            Err(SourceError::NotFound)
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Nested reads stack in the arena: the including file's bytes stay
    /// intact while an included file is read after them, and the space is
    /// given back afterwards; what does not fit is refused.
    #[test]
    fn nested_reads_stack_and_overflow_is_too_large() {
        let d = tmpdir("nested");
        std::fs::write(d.join("outer"), b"0123456789").unwrap();
        std::fs::write(d.join("inner"), b"abcdef").unwrap();
        let src = FsSource::with_capacity(16);
        let (outer, inner) = (
            d.join("outer").to_str().unwrap().to_owned(),
            d.join("inner").to_str().unwrap().to_owned(),
        );
        let mut seen = Vec::new();
        src.read_file(&outer, &mut |o| {
            // 10 + 6 = 16: fits exactly.
            src.read_file(&inner, &mut |i| seen.push(i.to_vec()))
                .unwrap();
            // 10 + 10 > 16.
            assert_eq!(
                src.read_file(&outer, &mut |_| {}),
                Err(SourceError::TooLarge)
            );
            seen.push(o.to_vec());
        })
        .unwrap();
        assert_eq!(seen, [b"abcdef".to_vec(), b"0123456789".to_vec()]);
        assert_eq!(src.top.get(), 0, "arena given back");
        // A file larger than the whole arena.
        std::fs::write(d.join("big"), [b'x'; 17]).unwrap();
        assert_eq!(
            src.read_file(d.join("big").to_str().unwrap(), &mut |_| {}),
            Err(SourceError::TooLarge)
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn dirent_records_are_walked_to_the_end() {
        let mut buf = Vec::new();
        for name in [&b"."[..], b"..", b"x.conf"] {
            let reclen = (19 + name.len() + 1).next_multiple_of(8);
            let mut rec = vec![0u8; reclen];
            rec[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
            rec[19..19 + name.len()].copy_from_slice(name);
            buf.extend_from_slice(&rec);
        }
        let names: Vec<&[u8]> = dirents(&buf).collect();
        assert_eq!(names, [&b"."[..], b"..", b"x.conf"]);
        assert_eq!(dirents(&buf[..10]).count(), 0, "truncated record");
    }
}
