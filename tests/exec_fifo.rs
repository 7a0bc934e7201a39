//! notify_fifo as keepalived does it: created if missing (0644), opened
//! O_RDWR | O_NONBLOCK so lines wait for a late reader, exact lines, a full
//! pipe drops (counted) instead of blocking, removed at exit if we made it.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};

use keepvip::notify::{Event, FifoLine, NotifyKind};
use keepvip::sys::fifo::NotifyFifo;
use keepvip::vrrp::NotifyState;

#[test]
fn fifo_receives_exact_lines_and_never_blocks() {
    let d = std::env::temp_dir().join(format!("kv-exec-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("notify.fifo");
    let p = path.to_str().unwrap();
    let mut fifo = NotifyFifo::create(p).unwrap();
    let md = std::fs::metadata(&path).unwrap();
    assert!(md.file_type().is_fifo());
    assert_eq!(md.permissions().mode() & 0o777, 0o644 & !umask());
    // Opening an existing FIFO is fine (and does not remove it on drop);
    // over a plain file it is refused.
    drop(NotifyFifo::create(p).unwrap());
    assert!(path.exists());
    std::fs::write(d.join("plain"), "x").unwrap();
    assert!(NotifyFifo::create(d.join("plain").to_str().unwrap()).is_err());

    let ev = Event {
        kind: NotifyKind::Instance,
        name: "VI_1",
        state: NotifyState::Master,
        priority: 100,
    };
    let line = FifoLine::format(&ev);
    // No reader yet: the line waits in the pipe (keepalived's O_RDWR open),
    // at once, without blocking.
    let t = std::time::Instant::now();
    assert!(fifo.write_line(line.as_bytes()));
    assert!(t.elapsed() < std::time::Duration::from_millis(100));

    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let g = FifoLine::format(&Event {
        kind: NotifyKind::Group,
        name: "G1",
        state: NotifyState::Backup,
        priority: 100,
    });
    assert!(fifo.write_line(g.as_bytes()));
    let mut buf = [0u8; 256];
    let n = reader.read(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        b"INSTANCE \"VI_1\" MASTER 100\nGROUP \"G1\" BACKUP 0\n",
        "the late reader gets the earlier line too"
    );
    assert_eq!(fifo.stats.written, 2);

    // The reader goes away: no EPIPE (we hold a read end), the next reader
    // gets the line.
    drop(reader);
    assert!(fifo.write_line(line.as_bytes()));
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let n = reader.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], line.as_bytes());

    // Nobody reads: the pipe fills, EAGAIN drops (counted), never blocks.
    let mut full = 0;
    let t = std::time::Instant::now();
    for _ in 0..10_000 {
        if !fifo.write_line(line.as_bytes()) {
            full += 1;
            break;
        }
    }
    assert_eq!(full, 1);
    assert_eq!(fifo.stats.dropped_full, 1);
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    drop(reader);
    // We created it: removed on drop.
    drop(fifo);
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&d);
}

fn umask() -> u32 {
    // SAFETY: umask cannot fail; set back at once.
    let m = unsafe { libc::umask(0o022) };
    // SAFETY: as above.
    unsafe { libc::umask(m) };
    m
}
