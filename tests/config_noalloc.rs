//! The parser never touches the heap: a counting global allocator sees zero
//! allocations while a configuration (with includes, globs, errors and
//! warnings) is parsed into a pre-allocated `Config`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use keepvip::config::{Config, Diagnostics, MemorySource, parse};

struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Allocations while ACTIVE, per thread (tests run in parallel).
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if ACTIVE.try_with(|a| a.get()).unwrap_or(false) {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
    }
}

fn allocs() -> usize {
    ALLOCS.with(|n| n.get())
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MAIN: &str = "global_defs {\n router_id r1\n vrrp_strict\n bogus_keyword\n}\ninclude conf.d/*.conf\nvrrp_script chk {\n script \"/bin/check --fast\"\n weight -20\n}\nvrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n  VI_X\n }\n}\n";
const VI_1: &str = "vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n priority 200\n advert_int 1.5\n authentication {\n  auth_type PASS\n  auth_pass longpassword\n }\n virtual_ipaddress {\n  192.0.2.100/24 dev eth0 label eth0:1\n  192.0.2.300\n }\n track_script {\n  chk\n  nope\n }\n notify_master \"/bin/m a\"\n}\n";
const VI_2: &str = "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 51\n unicast_peer {\n  192.0.2.9\n }\n virtual_ipaddress {\n  192.0.2.101\n }\n";

#[test]
fn parsing_does_not_allocate() {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(s, || {
                let files: [(&str, &[u8]); 3] = [
                    ("/etc/keepalived/keepalived.conf", MAIN.as_bytes()),
                    ("/etc/keepalived/conf.d/a.conf", VI_1.as_bytes()),
                    ("/etc/keepalived/conf.d/b.conf", VI_2.as_bytes()),
                ];
                let src = MemorySource::new(&files);
                let mut cfg = Config::new_boxed();
                let mut d = Diagnostics::new();
                ACTIVE.with(|a| a.set(true));
                parse(&src, "/etc/keepalived/keepalived.conf", &mut cfg, &mut d);
                ACTIVE.with(|a| a.set(false));
                let n = allocs();
                // The run did real work: instances, errors and warnings.
                assert_eq!(cfg.instances.len(), 2);
                assert!(d.errors >= 3 && d.warnings >= 3, "{:?}", d.items);
                assert_eq!(n, 0, "the parser allocated {n} times");
            })
            .unwrap()
            .join()
            .unwrap();
    });
}

/// The daemon's file-system source: the same configuration from real files
/// (a glob include of a directory, an include of a directory and of a
/// missing file), parsed as at start-up and then as on ten SIGHUPs, with one
/// `FsSource` (its arena allocated before counting): zero allocations, and
/// every reload sees the same configuration.
#[test]
fn reading_real_files_and_reloading_does_not_allocate() {
    use keepvip::sys::config_fs::FsSource;
    let dir = std::env::temp_dir().join(format!("kv-noalloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    let main = format!("{MAIN}include conf.d\ninclude conf.d/missing.conf\n");
    std::fs::write(dir.join("keepalived.conf"), main).unwrap();
    std::fs::write(dir.join("conf.d/a.conf"), VI_1).unwrap();
    std::fs::write(dir.join("conf.d/b.conf"), VI_2).unwrap();
    std::fs::write(dir.join("conf.d/c.txt"), "not a config\n").unwrap();
    let path = dir.join("keepalived.conf").to_str().unwrap().to_owned();
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(s, || {
                let src = FsSource::new();
                let mut cfg = Config::new_boxed();
                let mut d = Diagnostics::new();
                // Self-check: the counter sees an allocation on this thread.
                ACTIVE.with(|a| a.set(true));
                let v: Vec<u8> = Vec::with_capacity(8);
                ACTIVE.with(|a| a.set(false));
                drop(v);
                assert_eq!(allocs(), 1, "counting allocator not active");
                let before = allocs();
                ACTIVE.with(|a| a.set(true));
                parse(&src, &path, &mut cfg, &mut d);
                let first = (cfg.instances.len(), d.errors, d.warnings);
                let mut same = true;
                for _ in 0..10 {
                    parse(&src, &path, &mut cfg, &mut d);
                    same &= (cfg.instances.len(), d.errors, d.warnings) == first;
                }
                ACTIVE.with(|a| a.set(false));
                let n = allocs() - before;
                assert_eq!(first.0, 2, "{:?}", d.items);
                assert!(same, "a reload read something else");
                // include conf.d (a directory) and conf.d/missing.conf are errors.
                let msgs: Vec<String> = d.iter().map(|x| x.message.to_string()).collect();
                assert!(
                    msgs.iter()
                        .any(|m| m.contains("conf.d': not a regular file")),
                    "{msgs:#?}"
                );
                assert!(
                    msgs.iter()
                        .any(|m| m.contains("missing.conf': no such file")),
                    "{msgs:#?}"
                );
                assert_eq!(n, 0, "reading and parsing real files allocated {n} times");
            })
            .unwrap()
            .join()
            .unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
}
