//! notify_fifo: created if missing, non-blocking, exact lines, drops
//! counted when nobody reads.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

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
    assert!(std::fs::metadata(&path).unwrap().file_type().is_fifo());
    // Creating again over the existing FIFO is fine; over a file it is not.
    drop(NotifyFifo::create(p).unwrap());
    std::fs::write(d.join("plain"), "x").unwrap();
    assert!(NotifyFifo::create(d.join("plain").to_str().unwrap()).is_err());

    let ev = Event {
        kind: NotifyKind::Instance,
        name: "VI_1",
        state: NotifyState::Master,
        priority: 100,
    };
    let line = FifoLine::format(&ev);
    // No reader: dropped at once, counted.
    let t = std::time::Instant::now();
    assert!(!fifo.write_line(line.as_bytes()));
    assert!(t.elapsed() < std::time::Duration::from_millis(100));
    assert_eq!(fifo.stats.dropped_no_reader, 1);

    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    assert!(fifo.write_line(line.as_bytes()));
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
        b"INSTANCE \"VI_1\" MASTER 100\nGROUP \"G1\" BACKUP 0\n"
    );
    assert_eq!(fifo.stats.written, 2);

    // Reader goes away: EPIPE, reopen fails with ENXIO, dropped; then a new
    // reader gets the next line.
    drop(reader);
    assert!(!fifo.write_line(line.as_bytes()));
    assert_eq!(fifo.stats.dropped_no_reader, 2);
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    assert!(fifo.write_line(line.as_bytes()));
    let n = reader.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], line.as_bytes());

    // A full pipe: EAGAIN, counted, never blocks.
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
    let _ = std::fs::remove_dir_all(&d);
}
