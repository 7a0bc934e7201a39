//! `keepvip status` over a real unix socket: the server is driven by a
//! poll loop on the test thread (as the daemon will), clients run on other
//! threads. The server side must not allocate.

mod dump_common;
use dump_common::*;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant as StdInstant;

use keepvip::dump::{DumpInput, write_json};
use keepvip::status::*;
use keepvip::sys::poll::PollTable;
use keepvip::sys::unix_sock::UnixStream;
use keepvip::time::Duration;

// ---- Allocation counter, armed only around server calls on this thread ----

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn sock_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kv-status-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The daemon's side: poll the server's one fd and handle it, until `done`
/// (bounded by 10 s). Returns the allocations made by the server.
fn serve(
    server: &mut StatusServer,
    done: &dyn Fn() -> bool,
    render: &mut dyn FnMut(&mut dyn std::fmt::Write, Format) -> std::fmt::Result,
) -> usize {
    let start = StdInstant::now();
    let before = ALLOCS.load(Ordering::Relaxed);
    while !done() {
        assert!(start.elapsed().as_secs() < 10, "status test loop timed out");
        let mut table = PollTable::new();
        let slot = table.add(server.fd()).unwrap();
        table.poll(Some(Duration::from_millis(20))).unwrap();
        if table.is_ready(slot) {
            ARMED.with(|a| a.set(true));
            server.handle_readable(|w, f| render(w, f));
            ARMED.with(|a| a.set(false));
        }
    }
    ALLOCS.load(Ordering::Relaxed) - before
}

fn spawn<T: Send + 'static>(
    n: &'static AtomicUsize,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let r = f();
        n.fetch_add(1, Ordering::SeqCst);
        r
    })
}

#[test]
fn table_and_json_round_trip_without_allocating() {
    let mut b = bench();
    b.drive();
    let dir = sock_dir("rt");
    let path = dir.join("keepvip.sock");
    let mut server = StatusServer::bind(&path).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "socket must be root-only");

    static DONE: AtomicUsize = AtomicUsize::new(0);
    let p1 = path.clone();
    let t1 = spawn(&DONE, move || query(&p1, Format::Table));
    let p2 = path.clone();
    let t2 = spawn(&DONE, move || query(&p2, Format::Json));
    let p3 = path.clone();
    let t3 = spawn(&DONE, move || run_status_client(&p3, false));

    let input = DumpInput {
        config: &b.config,
        router: &b.router,
        now: b.now,
        wall_offset_us: WALL_OFFSET_US,
    };
    let allocs = serve(
        &mut server,
        &|| DONE.load(Ordering::SeqCst) == 3,
        &mut |w, f| match f {
            Format::Table => write_table(w, &input, None),
            Format::Json => write_json(w, &input),
        },
    );
    assert_eq!(allocs, 0, "the status server allocated");

    let table = t1.join().unwrap().unwrap();
    let body = String::from_utf8(split_answer(&table).unwrap().to_vec()).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    let cols = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        cols(lines[0]),
        [
            "INSTANCE", "IFACE", "VRID", "STATE", "PRIO", "MASTER", "SINCE", "SENT", "RCVD",
            "MASTER", "PRIO0", "DROPS", "MAXLATE"
        ]
    );
    // VI_1 became master at 4.609375 s; the bench's clock is at 5.7 s.
    assert_eq!(
        cols(lines[1]),
        [
            "VI_1",
            "dum0",
            "51",
            "MASTER",
            "100",
            "192.0.2.1",
            "1s",
            "2",
            "0",
            "1",
            "0",
            "0",
            "0.000ms"
        ]
    );
    // VI_2 has been Backup since 1 s, following 192.0.2.2.
    assert_eq!(
        cols(lines[2]),
        [
            "VI_2",
            "dum0",
            "52",
            "BACKUP",
            "90",
            "192.0.2.2",
            "4s",
            "0",
            "10",
            "0",
            "0",
            "0",
            "-"
        ]
    );

    let json = query_result_body(t2.join().unwrap());
    assert!(json.starts_with("[{\"data\":{\"iname\":\"VI_1\""), "{json}");
    assert!(json.ends_with("]\n"));
    let mut direct = String::new();
    write_json(&mut direct, &input).unwrap();
    assert_eq!(json, direct, "the socket carries the dump unchanged");

    assert_eq!(t3.join().unwrap(), STATUS_EXIT_OK);
    assert_eq!(server.open_connections(), 0);
    drop(server);
    assert!(!path.exists(), "socket file removed on drop");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn query_result_body(r: std::io::Result<Vec<u8>>) -> String {
    let a = r.unwrap();
    String::from_utf8(split_answer(&a).unwrap().to_vec()).unwrap()
}

#[test]
fn silent_clients_bad_requests_and_oversize_answers() {
    let dir = sock_dir("edge");
    let path = dir.join("k.sock");
    let mut server = StatusServer::bind(&path).unwrap();

    // More silent clients than slots: the oldest are evicted, the server
    // keeps at most STATUS_CONNS_MAX, and a real query still gets through.
    let silent: Vec<UnixStream> = (0..STATUS_CONNS_MAX + 2)
        .map(|_| UnixStream::connect(&path, std::time::Duration::from_secs(1)).unwrap())
        .collect();
    static DONE: AtomicUsize = AtomicUsize::new(0);
    let p = path.clone();
    let good = spawn(&DONE, move || query(&p, Format::Table));
    let p = path.clone();
    let bad = spawn(&DONE, move || {
        let s = UnixStream::connect(&p, std::time::Duration::from_secs(3)).unwrap();
        s.write_all(b"shutdown now\n").unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let p = path.clone();
    let huge = spawn(&DONE, move || query(&p, Format::Json));
    let allocs = serve(
        &mut server,
        &|| DONE.load(Ordering::SeqCst) == 3,
        &mut |w, f| {
            match f {
                Format::Table => w.write_str("hello\n"),
                // Bigger than the response buffer: refused, not cut.
                Format::Json => {
                    for _ in 0..STATUS_RESP_BYTES / 16 + 1 {
                        w.write_str("0123456789abcdef")?;
                    }
                    Ok(())
                }
            }
        },
    );
    assert_eq!(allocs, 0);
    assert!(server.open_connections() <= STATUS_CONNS_MAX);
    assert_eq!(query_result_body(good.join().unwrap()), "hello\n");
    let bad = bad.join().unwrap();
    let e = split_answer(&bad).unwrap_err();
    assert!(e.contains("unknown request"), "{e}");
    let huge = huge.join().unwrap().unwrap();
    let e = split_answer(&huge).unwrap_err();
    assert!(e.contains("too large"), "{e}");
    drop(silent);
    // The evicted/closed clients are cleaned up on the next turns.
    for _ in 0..5 {
        server.handle_readable(|w, _| w.write_str("x"));
    }
    assert_eq!(server.open_connections(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn client_reports_a_missing_daemon() {
    let dir = sock_dir("none");
    let path: &Path = &dir.join("nobody.sock");
    assert_eq!(run_status_client(path, false), STATUS_EXIT_NOT_RUNNING);
    // A stale socket file with no listener behind it: same answer.
    drop(StatusServer::bind(&dir.join("stale.sock")).unwrap());
    let l = std::os::unix::net::UnixListener::bind(dir.join("stale2.sock")).unwrap();
    drop(l); // leaves the file, nobody listening
    assert_eq!(
        run_status_client(&dir.join("stale2.sock"), true),
        STATUS_EXIT_NOT_RUNNING
    );
    // And a new server replaces the stale socket file.
    let s = StatusServer::bind(&dir.join("stale2.sock"));
    assert!(s.is_ok());
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The tracker rows of `keepvip status` (table column and the JSON's
/// `keepvip` member) for config/tracking.conf: interfaces from the core,
/// script/process/file states from `Trackers`; rendering does not allocate.
#[test]
fn tracker_rows_in_table_and_json() {
    use keepvip::config::{Config, Diagnostics, parse};
    use keepvip::status::{
        RowState, StatusView, TrackerKind, TrackerStates, write_status_allocs, write_status_json,
        write_status_table,
    };
    use keepvip::sys::alloc::{AllocCount, AllocUsage};
    use keepvip::sys::config_fs::FsSource;
    use keepvip::sys::file_atomic::FixedBuf;
    use keepvip::time::Instant;
    use keepvip::track::{FileId, ProcessId, ScriptId, ScriptOutcome, Trackers};
    use keepvip::vrrp::{Actions, InstanceId, Router};

    let (config, mut router, mut trackers) = big_stack(|| {
        let mut config = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(
            &FsSource::new(),
            "config/tracking.conf",
            &mut config,
            &mut d,
        );
        assert!(!d.has_errors());
        let router = Router::new_boxed(&config).unwrap();
        let trackers = Trackers::new_boxed(&config);
        (config, router, trackers)
    });
    let vi = InstanceId(0);
    let mut out = Actions::new();
    let t = Instant::from_secs(1);
    router.handle_start(t, &mut out);
    let rows = |router: &Router, trackers: Option<&Trackers>| {
        let view = StatusView {
            input: DumpInput {
                config: &config,
                router,
                now: t,
                wall_offset_us: WALL_OFFSET_US,
            },
            trackers,
            allocs: None,
        };
        let mut v = Vec::new();
        view.for_each_tracker(vi, &mut |r| {
            v.push((
                r.kind,
                r.name.to_string(),
                r.state,
                r.weight,
                r.primary,
                r.count,
            ))
        });
        let mut summary = String::new();
        view.describe(vi, &mut summary).unwrap();
        (v, summary)
    };

    // Without Trackers: the interfaces the core knows.
    let (v, summary) = rows(&router, None);
    assert_eq!(
        v,
        [
            (
                TrackerKind::Interface,
                "eth0".into(),
                RowState::Up,
                0,
                true,
                None
            ),
            (
                TrackerKind::Interface,
                "eth1".into(),
                RowState::Up,
                -50,
                false,
                None
            ),
        ]
    );
    assert_eq!(summary, "eth1:up", "the own interface only when down");

    // With Trackers, before any result.
    let (v, summary) = rows(&router, Some(&trackers));
    assert_eq!(v.len(), 5);
    assert_eq!(
        v[2],
        (
            TrackerKind::Script,
            "chk_web".into(),
            RowState::Init,
            -60,
            false,
            None
        )
    );
    assert_eq!(
        v[3],
        (
            TrackerKind::Process,
            "track_dnsmasq".into(),
            RowState::Init,
            0,
            false,
            None
        )
    );
    assert_eq!(
        v[4],
        (
            TrackerKind::File,
            "track_maint".into(),
            RowState::Init,
            -1,
            false,
            None
        )
    );
    assert_eq!(
        summary,
        "eth1:up chk_web:init track_dnsmasq:init track_maint:init"
    );

    // Results: the script failed, 2 dnsmasq processes, the file says 5;
    // eth0 and eth1 go down.
    trackers.script_result(ScriptId(0), t, ScriptOutcome::Exited(1));
    trackers.process_count(ProcessId(0), t, 2);
    trackers.file_value(FileId(0), t, 5);
    router.handle_link(t, "eth1", false, &mut out);
    router.handle_link(t, "eth0", false, &mut out);
    let (v, summary) = rows(&router, Some(&trackers));
    assert_eq!(v[0].2, RowState::Down);
    assert_eq!(v[2].2, RowState::Down);
    assert_eq!((v[3].2, v[3].5), (RowState::Up, Some(2)));
    assert_eq!(
        v[4].2,
        RowState::Value {
            value: 5,
            fault: false
        }
    );
    assert_eq!(
        summary,
        "eth0:down eth1:down chk_web:down track_dnsmasq:up(2) track_maint:5"
    );
    // -254 from the file (value * weight -1) is FAULT.
    trackers.file_value(FileId(0), t, 254);
    let (v, summary) = rows(&router, Some(&trackers));
    assert_eq!(
        v[4].2,
        RowState::Value {
            value: 254,
            fault: true
        }
    );
    assert!(summary.ends_with("track_maint:fault"), "{summary}");

    // Table and JSON render into fixed buffers without allocating.
    let view = StatusView {
        input: DumpInput {
            config: &config,
            router: &router,
            now: t,
            wall_offset_us: WALL_OFFSET_US,
        },
        trackers: Some(&trackers),
        allocs: Some(AllocUsage {
            startup: AllocCount {
                count: 321,
                bytes: 654_321,
            },
            since_startup: AllocCount {
                count: 2,
                bytes: 48,
            },
        }),
    };
    let mut table = FixedBuf::<4096>::new();
    let mut json = FixedBuf::<8192>::new();
    ARMED.with(|a| a.set(true));
    let before = ALLOCS.load(Ordering::Relaxed);
    write_status_table(&mut table, &view).unwrap();
    write_status_allocs(&mut table, &view).unwrap();
    write_status_json(&mut json, &view).unwrap();
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    ARMED.with(|a| a.set(false));
    assert_eq!(allocs, 0, "status rendering allocated");
    let table = table.as_str();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert!(header.contains(&"TRACKERS"), "{table}");
    assert!(table.contains("eth0:down eth1:down"), "{table}");
    assert!(table.contains(" FAULT "), "{table}");
    assert!(
        table.ends_with(
            "\n\nHeap allocations: 2 (48 bytes) since start-up, 321 (654321 bytes) during start-up\n"
        ),
        "{table}"
    );
    // The JSON is keepalived's dump plus the `keepvip` member.
    let json = json.as_str();
    assert!(json.starts_with("[{\"data\":{\"iname\":\"VI_1\""), "{json}");
    assert!(
        json.contains(
            ",\"keepvip\":{\"master\":null,\"trackers\":[{\"type\":\"interface\",\"name\":\"eth0\",\"state\":\"down\",\"weight\":0,\"primary\":true},"
        ),
        "{json}"
    );
    assert!(
        json.contains("{\"type\":\"process\",\"name\":\"track_dnsmasq\",\"state\":\"up\",\"weight\":0,\"count\":2}"),
        "{json}"
    );
    assert!(
        json.contains("{\"type\":\"file\",\"name\":\"track_maint\",\"state\":\"fault\",\"weight\":-1,\"value\":254}],\"advert_late\":{\"count\":0,\"max_us\":0,\"mean_us\":null,"),
        "{json}"
    );
    // The daemon's allocations, the same in every element.
    assert_eq!(
        json.matches(",\"allocations\":{\"since_startup\":{\"count\":2,\"bytes\":48},\"startup\":{\"count\":321,\"bytes\":654321}}}").count(),
        json.matches("{\"data\":").count(),
        "{json}"
    );
    let mut plain = String::new();
    keepvip::dump::write_json(&mut plain, &view.input).unwrap();
    let stripped = json.replace(
        &json[json.find(",\"keepvip\":").unwrap()..json.len() - 3],
        "",
    );
    assert_eq!(stripped, plain, "only the keepvip member is added");
}
