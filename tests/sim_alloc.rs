//! Proves the VRRP core allocates nothing at run time: a counting global
//! allocator (alone in this test binary) counts allocations made while
//! the simulator is inside a core call (`handle_*`, `poll`-side accessors,
//! `advert_repr`), over many simulated seeds. `Router::new_boxed` at boot
//! is outside the counted region (the one start-up allocation).

#[path = "sim/cfg.rs"]
mod cfg;
#[path = "sim/clock.rs"]
mod clock;
#[path = "sim/frames.rs"]
mod frames;
#[path = "sim/rng.rs"]
mod rng;
#[path = "sim/scenario.rs"]
mod scenario;
#[path = "sim/world.rs"]
mod world;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS_IN_CORE: AtomicUsize = AtomicUsize::new(0);
static CORE_CALLS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static IN_CORE: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if IN_CORE.try_with(|c| c.get()).unwrap_or(false) {
        ALLOCS_IN_CORE.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the only addition is an atomic counter bump.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn hook(enter: bool) {
    if enter {
        CORE_CALLS.fetch_add(1, Ordering::Relaxed);
    }
    IN_CORE.with(|c| c.set(enter));
}

#[test]
fn core_never_allocates_while_simulating() {
    world::CORE_HOOK.set(hook).unwrap();
    // Self-check: the counter sees an allocation inside the hook.
    hook(true);
    let v: Vec<u8> = Vec::with_capacity(16);
    hook(false);
    drop(v);
    assert_eq!(
        ALLOCS_IN_CORE.swap(0, Ordering::Relaxed),
        1,
        "counting allocator not active"
    );
    CORE_CALLS.store(0, Ordering::Relaxed);

    cfg::on_big_stack(|| {
        for seed in 0..100 {
            scenario::run_seed(seed, false).unwrap_or_else(|e| panic!("{e}"));
        }
    });
    let calls = CORE_CALLS.load(Ordering::Relaxed);
    assert!(
        calls > 10_000,
        "only {calls} core calls: the simulation did not run"
    );
    assert_eq!(
        ALLOCS_IN_CORE.load(Ordering::Relaxed),
        0,
        "heap allocations inside {calls} core calls"
    );
}
