//! User and group names to ids, read straight from `/etc/passwd` and
//! `/etc/group` (the static musl builds: OpenWrt has no NSS, and musl's own
//! `getpwnam_r` / `getgrnam_r` bring stdio, `getline`, `realloc` and an nscd
//! client along, about 9 KiB on mips).
//!
//! The same lookup as musl's files backend: the first line whose first field
//! is exactly the name and that is well formed (at least 7 fields in
//! `passwd`, 4 in `group`, decimal ids) wins; malformed lines are skipped.
//! One difference on purpose: an empty or non-numeric id field makes the line
//! malformed (musl reads an empty uid as 0, root).
//!
//! The file is read through a fixed buffer and parsed byte by byte, so lines
//! of any length work (a group with a long member list) and nothing is
//! allocated. Start-up only (it reads a file).

use std::ffi::CStr;
use std::io;
use std::os::fd::AsRawFd;

use super::{cerr, owned_fd};

/// The user database.
pub const PASSWD: &CStr = c"/etc/passwd";
/// The group database.
pub const GROUP: &CStr = c"/etc/group";

/// Bytes read at a time.
const READ_BUF: usize = 512;

/// `(uid, primary gid)` of user `name` in `db` (a `passwd` file); `Ok(None)`
/// if there is no such user (or no such file).
pub fn user_in(db: &CStr, name: &[u8]) -> io::Result<Option<(u32, u32)>> {
    Ok(lookup(db, name, 7, 2)?.map(|ids| (ids[0], ids[1])))
}

/// The gid of group `name` in `db` (a `group` file); `Ok(None)` if there is
/// no such group (or no such file).
pub fn group_in(db: &CStr, name: &[u8]) -> io::Result<Option<u32>> {
    Ok(lookup(db, name, 4, 1)?.map(|ids| ids[0]))
}

/// The state of the line being read.
struct Line {
    /// `:`s seen: the index of the current field.
    colons: usize,
    /// Bytes of the first field seen.
    name_len: usize,
    /// The first field equals the name so far.
    name_ok: bool,
    /// Fields 2 and 3 as numbers.
    ids: [u32; 2],
    /// Digits seen in fields 2 and 3.
    digits: [usize; 2],
    /// A non-digit or an overflow in an id field.
    bad: bool,
}

impl Line {
    const NEW: Line = Line {
        colons: 0,
        name_len: 0,
        name_ok: true,
        ids: [0; 2],
        digits: [0; 2],
        bad: false,
    };

    fn push(&mut self, b: u8, name: &[u8], n_ids: usize) {
        if b == b':' {
            self.colons += 1;
            return;
        }
        if self.colons == 0 {
            self.name_ok &= name.get(self.name_len) == Some(&b);
            self.name_len += 1;
            return;
        }
        let k = self.colons.wrapping_sub(2);
        if k < n_ids {
            let v = self.ids[k]
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(b.wrapping_sub(b'0'))));
            match v {
                Some(v) if b.is_ascii_digit() => {
                    self.ids[k] = v;
                    self.digits[k] += 1;
                }
                _ => self.bad = true,
            }
        }
    }

    /// The ids if this line is the one looked for.
    fn found(&self, name: &[u8], fields: usize, n_ids: usize) -> Option<[u32; 2]> {
        let ok = self.name_ok
            && self.name_len == name.len()
            && self.colons + 1 >= fields
            && !self.bad
            && self.digits[..n_ids].iter().all(|&d| d > 0);
        ok.then_some(self.ids)
    }
}

fn lookup(db: &CStr, name: &[u8], fields: usize, n_ids: usize) -> io::Result<Option<[u32; 2]>> {
    if name.is_empty() {
        return Ok(None);
    }
    // SAFETY: `db` is NUL-terminated; the result is checked by `owned_fd`.
    let fd = match owned_fd(unsafe { libc::open(db.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut buf = [0u8; READ_BUF];
    let mut line = Line::NEW;
    loop {
        // SAFETY: `buf` is writable for its whole length during the call.
        let r = cerr(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) });
        let n = match r {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // The last line may lack its newline.
            return Ok(line.found(name, fields, n_ids));
        }
        for &b in &buf[..n] {
            if b == b'\n' {
                if let Some(ids) = line.found(name, fields, n_ids) {
                    return Ok(Some(ids));
                }
                line = Line::NEW;
            } else {
                line.push(b, name, n_ids);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    struct Db {
        path: CString,
    }

    impl Db {
        fn new(tag: &str, text: &[u8]) -> Db {
            let p = std::env::temp_dir().join(format!("kv-passwd-{}-{tag}", std::process::id()));
            std::fs::write(&p, text).unwrap();
            Db {
                path: CString::new(p.into_os_string().into_encoded_bytes()).unwrap(),
            }
        }
    }

    impl Drop for Db {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.path.to_str().unwrap());
        }
    }

    #[test]
    fn users() {
        let db = Db::new(
            "users",
            b"root:x:0:0:root:/root:/bin/ash\n\
              short:x:5:5\n\
              short:x:6:6:ok:/:/bin/false\n\
              empty:x::7:e:/:/bin/false\n\
              empty:x:8:8:e:/:/bin/false\n\
              neg:x:-1:9:n:/:/bin/false\n\
              big:x:4294967296:1:b:/:/bin/false\n\
              max:x:4294967295:65534:m:/:/bin/sh:extra\n\
              dup:x:10:10:first:/:/bin/false\n\
              dup:x:11:11:second:/:/bin/false\n\
              network:*:101:101:network:/var:/bin/false\n\
              last:x:1000:100::/home/last:/bin/sh",
        );
        let u = |n: &str| user_in(&db.path, n.as_bytes()).unwrap();
        assert_eq!(u("root"), Some((0, 0)));
        assert_eq!(u("network"), Some((101, 101)));
        // Malformed lines are skipped, later good ones count.
        assert_eq!(u("short"), Some((6, 6)));
        assert_eq!(u("empty"), Some((8, 8)));
        assert_eq!(u("neg"), None);
        assert_eq!(u("big"), None);
        assert_eq!(u("max"), Some((u32::MAX, 65534)));
        assert_eq!(u("dup"), Some((10, 10)));
        // No newline at the end of the file.
        assert_eq!(u("last"), Some((1000, 100)));
        // Whole-field matches only.
        for n in ["roo", "rootx", "x", "0", "", "networ", "network:"] {
            assert_eq!(u(n), None, "{n:?}");
        }
    }

    #[test]
    fn groups_with_long_lines() {
        let mut text = b"wheel:x:10:root\nnogroup:x:65534:\n".to_vec();
        // A member list far longer than the read buffer.
        text.extend_from_slice(b"big:x:500:");
        for i in 0..2000 {
            text.extend_from_slice(format!("user{i},").as_bytes());
        }
        text.extend_from_slice(b"\nafter:x:501:\nbad:x:12\nbad:x:1a:\nbad:x:13:a,b\n");
        let db = Db::new("groups", &text);
        let g = |n: &str| group_in(&db.path, n.as_bytes()).unwrap();
        assert_eq!(g("wheel"), Some(10));
        assert_eq!(g("nogroup"), Some(65534));
        assert_eq!(g("big"), Some(500));
        assert_eq!(g("after"), Some(501));
        assert_eq!(g("bad"), Some(13));
        assert_eq!(g("user1"), None);
    }

    #[test]
    fn missing_database_is_no_such_name() {
        assert_eq!(user_in(c"/nonexistent/passwd", b"root").unwrap(), None);
        assert_eq!(group_in(c"/etc/passwd/x", b"root").unwrap(), None);
        // A directory cannot be read: a lookup error, not "no such user".
        assert!(user_in(c"/", b"root").is_err());
    }

    /// The parser agrees with the C library for every user and group of
    /// this machine (glibc here reads the same files).
    #[cfg(not(target_env = "musl"))]
    #[test]
    fn agrees_with_libc_on_this_machine() {
        for (db, is_user) in [(PASSWD, true), (GROUP, false)] {
            let text = std::fs::read(db.to_str().unwrap()).unwrap();
            let mut n = 0;
            for l in text.split(|&b| b == b'\n') {
                let Some(name) = l.split(|&b| b == b':').next().filter(|s| !s.is_empty()) else {
                    continue;
                };
                let c = CString::new(name).unwrap();
                let mut buf = [0 as libc::c_char; 16 * 1024];
                let ours = if is_user {
                    user_in(db, name)
                        .unwrap()
                        .map(|(u, g)| u64::from(u) << 32 | u64::from(g))
                } else {
                    group_in(db, name).unwrap().map(u64::from)
                };
                let theirs = if is_user {
                    // SAFETY: test-only call with valid buffers.
                    let mut pw: libc::passwd = unsafe { core::mem::zeroed() };
                    let mut res = core::ptr::null_mut();
                    // SAFETY: all pointers valid for the call.
                    let r = unsafe {
                        libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut res)
                    };
                    (r == 0 && !res.is_null())
                        .then(|| u64::from(pw.pw_uid) << 32 | u64::from(pw.pw_gid))
                } else {
                    // SAFETY: test-only call with valid buffers.
                    let mut gr: libc::group = unsafe { core::mem::zeroed() };
                    let mut res = core::ptr::null_mut();
                    // SAFETY: all pointers valid for the call.
                    let r = unsafe {
                        libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut res)
                    };
                    (r == 0 && !res.is_null()).then(|| u64::from(gr.gr_gid))
                };
                assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(name));
                n += 1;
            }
            assert!(n > 0, "no entries in {db:?}");
        }
    }
}
