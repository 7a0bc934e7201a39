//! The parser never touches the heap: a counting global allocator sees zero
//! allocations while a configuration (with includes, globs, errors and
//! warnings) is parsed into a pre-allocated `Config`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use keepvip::config::{Config, Diagnostics, MemorySource, parse};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    ACTIVE.try_with(|a| a.get()).unwrap_or(false)
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
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
                let n = ALLOCS.load(Ordering::Relaxed);
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
