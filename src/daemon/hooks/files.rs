//! `vrrp_track_file` I/O: the file is read at start-up and again whenever
//! its directory reports a change to it through inotify (keepalived's
//! `IN_CLOSE_WRITE | IN_DELETE | IN_MOVE` on the directory, so a file that
//! is written, replaced by `rename`, created or deleted is seen). A deleted
//! or renamed-away file counts as 0, like an empty or unreadable one.
//!
//! Polling fallback, every [`FILE_POLL_INTERVAL`]: for every file whose
//! directory cannot be watched (no inotify in the kernel, the directory does
//! not exist yet, or it was deleted: the watch is retried each round), and
//! for all files after an inotify queue overflow (re-read at once).
//!
//! Fixed buffers only: paths are kept NUL-terminated in `heapless` vectors.

use core::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

use heapless::Vec;

use crate::config::model::Config;
use crate::limits::{MAX_PATH_LEN, MAX_TRACK_FILES};
use crate::sys::inotify::{
    IN_DELETE, IN_IGNORED, IN_ISDIR, IN_MOVED_FROM, IN_Q_OVERFLOW, Inotify, TRACK_FILE_MASK,
};
use crate::sys::procscan::read_value_file;
use crate::time::{Duration, Instant};
use crate::track::{FileId, Trackers};

/// How often files without an inotify watch are re-read.
pub const FILE_POLL_INTERVAL: Duration = Duration::from_secs(1);

type CPath = Vec<u8, { MAX_PATH_LEN + 2 }>;

struct Watched {
    id: FileId,
    /// The file, NUL-terminated.
    path: CPath,
    /// Its directory, NUL-terminated.
    dir: CPath,
    /// The last path component (no NUL).
    name: Vec<u8, { MAX_PATH_LEN + 2 }>,
    wd: Option<i32>,
}

impl Watched {
    fn path(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.path).unwrap_or(c"")
    }
    fn dir(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.dir).unwrap_or(c".")
    }
    /// The path for logs (config paths are UTF-8).
    fn shown(&self) -> &str {
        let p = self
            .path
            .get(..self.path.len().saturating_sub(1))
            .unwrap_or(&[]);
        core::str::from_utf8(p).unwrap_or("?")
    }
}

/// Counters (for status dumps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    pub reads: u64,
    pub events: u64,
    pub overflows: u64,
}

/// The watched files of one configuration.
pub struct FileWatch {
    ino: Option<Inotify>,
    files: Vec<Watched, MAX_TRACK_FILES>,
    next_poll: Option<Instant>,
    pub stats: FileStats,
}

fn cpath(bytes: &[u8]) -> Option<CPath> {
    let mut v = CPath::new();
    v.extend_from_slice(bytes).ok()?;
    v.push(0).ok()?;
    Some(v)
}

impl FileWatch {
    /// Watches the files of the trackers in use (start-up and reload; no
    /// inotify descriptor is opened when there is nothing to watch).
    pub fn new(cfg: &Config, trackers: &Trackers) -> FileWatch {
        let mut w = FileWatch {
            ino: None,
            files: Vec::new(),
            next_poll: None,
            stats: FileStats::default(),
        };
        for id in trackers.files_in_use() {
            let Some(t) = cfg.track_files.get(usize::from(id.0)) else {
                continue;
            };
            let p = t.file.as_bytes();
            let (dir, name) = match p.iter().rposition(|&b| b == b'/') {
                Some(0) => (&b"/"[..], &p[1..]),
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (&b"."[..], p),
            };
            let (Some(path), Some(dir)) = (cpath(p), cpath(dir)) else {
                continue;
            };
            let mut n = Vec::new();
            let _ = n.extend_from_slice(name);
            let _ = w.files.push(Watched {
                id,
                path,
                dir,
                name: n,
                wd: None,
            });
        }
        if w.files.is_empty() {
            return w;
        }
        match Inotify::open() {
            Ok(i) => w.ino = Some(i),
            Err(e) => info!(
                "inotify unavailable ({}): tracked files are re-read every {} ms",
                super::super::errno::IoErr(&e),
                FILE_POLL_INTERVAL.as_millis()
            ),
        }
        w.add_watches();
        w
    }

    fn add_watches(&mut self) {
        let Some(ino) = &self.ino else { return };
        for f in self.files.iter_mut().filter(|f| f.wd.is_none()) {
            match ino.add_watch(f.dir(), TRACK_FILE_MASK) {
                Ok(wd) => {
                    debug!("tracked file {}: its directory is watched", f.shown());
                    f.wd = Some(wd);
                }
                Err(e) => debug!(
                    "tracked file {}: cannot watch its directory ({}): polled",
                    f.shown(),
                    super::super::errno::IoErr(&e)
                ),
            }
        }
    }

    /// The inotify descriptor, for the poll table.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.ino.as_ref().map(|i| i.as_fd())
    }

    /// Reads every file now (start-up; after a reload).
    pub fn read_all(&mut self, now: Instant, trackers: &mut Trackers) {
        for f in &self.files {
            self.stats.reads += 1;
            trackers.file_value(f.id, now, read_value_file(f.path()));
        }
        self.schedule_poll(now);
    }

    fn schedule_poll(&mut self, now: Instant) {
        self.next_poll = self
            .files
            .iter()
            .any(|f| f.wd.is_none())
            .then_some(now + FILE_POLL_INTERVAL);
    }

    /// When [`FileWatch::poll`] wants to run.
    pub fn deadline(&self) -> Option<Instant> {
        self.next_poll
    }

    /// The inotify descriptor is readable: reads the events and re-reads
    /// the files they are about.
    pub fn on_ready(&mut self, now: Instant, trackers: &mut Trackers) {
        let FileWatch {
            ino, files, stats, ..
        } = self;
        let Some(ino) = ino else { return };
        let mut lost_watch = false;
        let r = ino.drain(|ev| {
            stats.events += 1;
            if ev.mask & IN_Q_OVERFLOW != 0 {
                stats.overflows += 1;
                warn!("inotify queue overflow: re-reading every tracked file");
                for f in files.iter() {
                    stats.reads += 1;
                    trackers.file_value(f.id, now, read_value_file(f.path()));
                }
                return;
            }
            if ev.mask & IN_IGNORED != 0 {
                for f in files.iter_mut().filter(|f| f.wd == Some(ev.wd)) {
                    info!(
                        "tracked file {}: its directory is gone: polling it",
                        f.shown()
                    );
                    f.wd = None;
                    lost_watch = true;
                }
                return;
            }
            if ev.mask & IN_ISDIR != 0 {
                return;
            }
            for f in files
                .iter()
                .filter(|f| f.wd == Some(ev.wd) && f.name.as_slice() == ev.name)
            {
                let v = if ev.mask & (IN_DELETE | IN_MOVED_FROM) != 0 {
                    0
                } else {
                    stats.reads += 1;
                    read_value_file(f.path())
                };
                trackers.file_value(f.id, now, v);
            }
        });
        if let Err(e) = r {
            warn!("inotify read failed: {}", super::super::errno::IoErr(&e));
        }
        if lost_watch {
            // Gone: the file reads as 0 until the directory comes back.
            for f in self.files.iter().filter(|f| f.wd.is_none()) {
                trackers.file_value(f.id, now, read_value_file(f.path()));
            }
            self.schedule_poll(now);
        }
    }

    /// The polling round: retries the watches that are missing and re-reads
    /// the files without one.
    pub fn poll(&mut self, now: Instant, trackers: &mut Trackers) {
        match self.next_poll {
            Some(t) if t <= now => {}
            _ => return,
        }
        self.add_watches();
        // Every file (cheap): one whose watch was just added may have
        // changed before the watch existed.
        for f in self.files.iter() {
            self.stats.reads += 1;
            trackers.file_value(f.id, now, read_value_file(f.path()));
        }
        self.schedule_poll(now);
    }
}

/// `init_file [VALUE] [overwrite]` as keepalived applies it: the file gets
/// `VALUE\n` (default 0) when it does not exist; with `overwrite` also when
/// it does (a regular file only), except on reload (`reload`), which never
/// overwrites. Start-up / reload only.
pub fn init_files(cfg: &Config, trackers: &Trackers, reload: bool) {
    use core::fmt::Write as _;
    for id in trackers.files_in_use() {
        let Some(t) = cfg.track_files.get(usize::from(id.0)) else {
            continue;
        };
        let Some((value, overwrite)) = t.init_file else {
            continue;
        };
        let Some(path) = cpath(t.file.as_bytes()) else {
            continue;
        };
        let Ok(c) = CStr::from_bytes_with_nul(&path) else {
            continue;
        };
        match crate::sys::file_kind(c) {
            Some(_) if !overwrite || reload => continue,
            Some(crate::sys::FileKind::Regular) | None => {}
            Some(_) => {
                warn!(
                    "Cannot initialise track file {} - it is not a regular file",
                    t.name
                );
                continue;
            }
        }
        let mut text: heapless::String<16> = heapless::String::new();
        let _ = writeln!(text, "{value}");
        if let Err(e) = crate::sys::write_file(c, text.as_bytes()) {
            warn!(
                "Unable to initialise track file {} ({}): {}",
                t.name,
                t.file,
                super::super::errno::IoErr(&e)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Diagnostics, MemorySource, parse};
    use crate::track::FileId;

    fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(s, f)
                .expect("spawn test thread")
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Drains inotify (after the kernel queued the events) and polls.
    fn settle(w: &mut FileWatch, t: &mut Trackers, now: Instant) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        w.on_ready(now, t);
        w.poll(now, t);
    }

    #[test]
    fn written_renamed_deleted_and_a_directory_that_comes_and_goes() {
        if std::env::var_os("KEEPVIP_QEMU").is_some() {
            println!(
                "skipped under qemu-user (KEEPVIP_QEMU): inotify events pass its translation layer"
            );
            return;
        }
        let d = std::env::temp_dir().join(format!("kv-filewatch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("a")).unwrap();
        let text = format!(
            "vrrp_track_file fa {{\n file {0}/a/v\n}}\nvrrp_track_file fb {{\n file {0}/b/v\n}}\n\
             vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{ 192.0.2.1/24 }}\n track_file {{\n  fa\n  fb\n }}\n}}\n",
            d.display()
        );
        big_stack(move || {
            let files = [("/k.conf", text.as_bytes())];
            let mut cfg = crate::config::Config::new_boxed();
            let mut diags = Diagnostics::new();
            parse(&MemorySource::new(&files), "/k.conf", &mut cfg, &mut diags);
            assert!(!diags.has_errors());
            let mut t = Trackers::new_boxed(&cfg);
            let (fa, fb) = (FileId(0), FileId(1));
            std::fs::write(d.join("a/v"), "5\n").unwrap();
            let mut w = FileWatch::new(&cfg, &t);
            assert!(w.fd().is_some());
            let t0 = Instant::from_secs(10);
            w.read_all(t0, &mut t);
            assert_eq!(t.file_value_of(fa), Some(5));
            // b/ does not exist: 0, and polled every second.
            assert_eq!(t.file_value_of(fb), Some(0));
            assert_eq!(w.deadline(), Some(t0 + FILE_POLL_INTERVAL));
            // Written in place, then replaced by rename, then deleted.
            std::fs::write(d.join("a/v"), "-7").unwrap();
            settle(&mut w, &mut t, t0);
            assert_eq!(t.file_value_of(fa), Some(-7));
            std::fs::write(d.join("a/tmp"), "0x10").unwrap();
            std::fs::rename(d.join("a/tmp"), d.join("a/v")).unwrap();
            settle(&mut w, &mut t, t0);
            assert_eq!(t.file_value_of(fa), Some(16));
            std::fs::remove_file(d.join("a/v")).unwrap();
            settle(&mut w, &mut t, t0);
            assert_eq!(t.file_value_of(fa), Some(0));
            // b/ appears: the next polling round watches and reads it.
            std::fs::create_dir_all(d.join("b")).unwrap();
            std::fs::write(d.join("b/v"), "3").unwrap();
            let t1 = t0 + FILE_POLL_INTERVAL;
            settle(&mut w, &mut t, t1);
            assert_eq!(t.file_value_of(fb), Some(3));
            assert_eq!(w.deadline(), None, "every file has a watch now");
            std::fs::write(d.join("b/v"), "4").unwrap();
            settle(&mut w, &mut t, t1);
            assert_eq!(t.file_value_of(fb), Some(4));
            // a/ goes away (its watch ends): polled again until it is back.
            std::fs::remove_dir(d.join("a")).unwrap();
            settle(&mut w, &mut t, t1);
            assert_eq!(w.deadline(), Some(t1 + FILE_POLL_INTERVAL));
            std::fs::create_dir_all(d.join("a")).unwrap();
            std::fs::write(d.join("a/v"), "9").unwrap();
            settle(&mut w, &mut t, t1 + FILE_POLL_INTERVAL);
            assert_eq!(t.file_value_of(fa), Some(9));
            assert_eq!(w.deadline(), None);
            assert!(w.stats.events >= 5, "{:?}", w.stats);
        });
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("kv-filewatch-{}", std::process::id())),
        );
    }
}
