//! Atomic dump files: readers never see a partial file, symlinks planted
//! at the temp name are not followed, a failed render keeps the old file.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use keepvip::sys::file_atomic::{
    DUMP_FILE_MODE, FmtWriteError, STREAM_BUF_BYTES, replace_fmt, write_atomic, write_atomic_fmt,
};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kv-dump-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn leftovers(dir: &Path, keep: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect()
}

#[test]
fn write_sets_content_and_mode_and_leaves_no_temp() {
    let dir = tmpdir("basic");
    let p = dir.join("keepvip.stats");
    write_atomic(&p, b"one\n", DUMP_FILE_MODE).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"one\n");
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Replacing gives a new inode (rename), not an in-place rewrite.
    let ino = std::fs::metadata(&p).unwrap().ino();
    write_atomic(&p, b"two\n", 0o644).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"two\n");
    assert_ne!(std::fs::metadata(&p).unwrap().ino(), ino);
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert!(leftovers(&dir, "keepvip.stats").is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn planted_symlinks_are_not_followed() {
    let dir = tmpdir("symlink");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let p = dir.join("keepvip.json");
    // At the temp name (pid-based) and at the final name.
    let tmp = dir.join(format!("keepvip.json.{}.tmp", std::process::id()));
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    std::os::unix::fs::symlink(&victim, &p).unwrap();
    write_atomic(&p, b"[]\n", DUMP_FILE_MODE).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(
        !std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"[]\n");
    assert!(!tmp.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn streamed_render_larger_than_the_stack_buffer() {
    let dir = tmpdir("stream");
    let p = dir.join("keepvip.data");
    let lines = 3 * STREAM_BUF_BYTES / 10 + 7;
    write_atomic_fmt(&p, DUMP_FILE_MODE, &mut |w| {
        for i in 0..lines {
            // Multi-byte chars straddle the buffer boundary somewhere.
            writeln!(w, "é{i:07}")?;
        }
        Ok(())
    })
    .unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.lines().count(), lines);
    assert!(text.len() > 2 * STREAM_BUF_BYTES);
    for (i, l) in text.lines().enumerate() {
        assert_eq!(l, format!("é{i:07}"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failed_render_keeps_the_old_file() {
    let dir = tmpdir("fail");
    let p = dir.join("keepvip.json");
    write_atomic(&p, b"old\n", DUMP_FILE_MODE).unwrap();
    let r = write_atomic_fmt(&p, DUMP_FILE_MODE, &mut |w| {
        w.write_str(&"x".repeat(10_000))?;
        Err(std::fmt::Error)
    });
    assert!(matches!(r, Err(FmtWriteError::Format)));
    assert_eq!(std::fs::read(&p).unwrap(), b"old\n");
    assert!(leftovers(&dir, "keepvip.json").is_empty());
    // A missing directory is an I/O error, not a panic.
    let r = write_atomic(&dir.join("no/such/dir/f"), b"x", DUMP_FILE_MODE);
    assert!(r.is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The daemon's variant (no fsync): same replacement, symlink and failure rules.
#[test]
fn replace_without_fsync_has_the_same_rules() {
    let dir = tmpdir("nosync");
    let p = dir.join("keepvip.json");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, &p).unwrap();
    let tmp = dir.join(format!("keepvip.json.{}.tmp", std::process::id()));
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    replace_fmt(&p, DUMP_FILE_MODE, &mut |w| w.write_str("[]\n")).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&p).unwrap(), b"[]\n");
    let meta = std::fs::symlink_metadata(&p).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let ino = meta.ino();
    let big = "x".repeat(3 * STREAM_BUF_BYTES);
    replace_fmt(&p, DUMP_FILE_MODE, &mut |w| w.write_str(&big)).unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), big);
    assert_ne!(
        std::fs::metadata(&p).unwrap().ino(),
        ino,
        "renamed, not rewritten"
    );
    let r = replace_fmt(&p, DUMP_FILE_MODE, &mut |w| {
        w.write_str("partial")?;
        Err(std::fmt::Error)
    });
    assert!(matches!(r, Err(FmtWriteError::Format)));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), big);
    let mut left = leftovers(&dir, "keepvip.json");
    left.sort();
    assert_eq!(left, ["victim"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A reader polling the file while it is replaced many times sees only
/// complete versions (never empty, never a mix of two versions).
#[test]
fn concurrent_reader_never_sees_a_partial_file() {
    if std::env::var("KEEPVIP_QEMU").as_deref() == Ok("1") {
        println!("skipped under qemu: timing-dependent concurrency test");
        return;
    }
    let dir = tmpdir("race");
    let p = dir.join("keepvip.json");
    let a = vec![b'a'; 100_000];
    let b = vec![b'b'; 300_000];
    write_atomic(&p, &a, DUMP_FILE_MODE).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (p, stop, reads) = (p.clone(), stop.clone(), reads.clone());
        let (a, b) = (a.clone(), b.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let got = std::fs::read(&p).unwrap();
                assert!(got == a || got == b, "partial file of {} bytes", got.len());
                reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    for i in 0..100 {
        write_atomic(&p, if i % 2 == 0 { &b } else { &a }, DUMP_FILE_MODE).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert!(reads.load(Ordering::Relaxed) > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
