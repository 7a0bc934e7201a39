//! The daemon's global allocator: the system allocator, counted.
//!
//! `src/main.rs` installs [`CountingAlloc`] as the binary's
//! `#[global_allocator]`. Every `alloc`, `alloc_zeroed` and `realloc` adds
//! one to a call counter and the requested size to a byte counter (two
//! relaxed atomic adds; `dealloc` is not counted: freeing is not the
//! problem, and every free has its allocation). The daemon marks the end of
//! its start-up ([`mark_startup_complete`]); from then on nothing may
//! allocate, and [`usage`] says how much did: `keepvip status`, the stats
//! dump and the stop log line show it, and the namespace tests and
//! `board/budgets.sh` assert zero on the real daemon. This sees every heap
//! allocation Rust code makes, also one served from memory the allocator
//! already holds (strace of brk/mmap sees only the heap growing); it does
//! not see libc's own internal `malloc` calls (none is on the loop's paths:
//! the loop calls no libc function that allocates).
//!
//! The counters are `AtomicUsize` (32 bits on MIPS: no 64-bit atomics
//! there); the differences are taken with wrapping arithmetic, exact up to
//! 2^32 - 1 allocations or bytes after start-up.
//!
//! Debug builds only (the test builds): `KEEPVIP_ALLOC_TRAP=abort` makes an
//! allocation after start-up print a backtrace and abort the process,
//! `KEEPVIP_ALLOC_TRAP=log` prints the backtraces of the first
//! [`TRAP_LOG_MAX`] and goes on. That is how an allocation the counter
//! finds is located. Release builds have neither the variable nor the code.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator with counters (see the module documentation).
pub struct CountingAlloc;

static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
/// The counters when start-up was complete.
static STARTUP_CALLS: AtomicUsize = AtomicUsize::new(0);
static STARTUP_BYTES: AtomicUsize = AtomicUsize::new(0);
static MARKED: AtomicBool = AtomicBool::new(false);

/// One copy for the three entry points (smaller on mips than inlined).
#[inline(never)]
fn note(size: usize) {
    CALLS.fetch_add(1, Relaxed);
    BYTES.fetch_add(size, Relaxed);
    #[cfg(debug_assertions)]
    trap::check(size);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees (alignment, size, ownership) hold;
// the only addition is two atomic counter adds, which neither allocate nor
// touch the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`
        // with the same `layout` (the caller's contract).
        unsafe { System.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds
        // the rest of `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) and the bytes they
/// asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocCount {
    pub count: usize,
    pub bytes: usize,
}

/// The daemon's allocations: during start-up and since.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocUsage {
    /// From the process start to [`mark_startup_complete`].
    pub startup: AllocCount,
    /// Since [`mark_startup_complete`] (zero is the rule).
    pub since_startup: AllocCount,
}

/// Every allocation of this process so far (zero when [`CountingAlloc`] is
/// not the global allocator).
pub fn total() -> AllocCount {
    AllocCount {
        count: CALLS.load(Relaxed),
        bytes: BYTES.load(Relaxed),
    }
}

/// Start-up is over: the counters from here on are "since start-up". Arms
/// the debug builds' `KEEPVIP_ALLOC_TRAP`. Called once, by the daemon, as
/// it logs its start-up marker.
pub fn mark_startup_complete() {
    #[cfg(debug_assertions)]
    let mode = trap::mode_from_env();
    let t = total();
    STARTUP_CALLS.store(t.count, Relaxed);
    STARTUP_BYTES.store(t.bytes, Relaxed);
    MARKED.store(true, Relaxed);
    #[cfg(debug_assertions)]
    trap::arm(mode);
}

/// The allocations during and since start-up; `None` before
/// [`mark_startup_complete`] and when nothing is counted ([`CountingAlloc`]
/// is not the global allocator: a library user, a test binary).
pub fn usage() -> Option<AllocUsage> {
    if !MARKED.load(Relaxed) {
        return None;
    }
    let startup = AllocCount {
        count: STARTUP_CALLS.load(Relaxed),
        bytes: STARTUP_BYTES.load(Relaxed),
    };
    if startup.count == 0 {
        // Start-up allocates (the configuration, the router): a zero here
        // means that nothing counts.
        return None;
    }
    let t = total();
    Some(AllocUsage {
        startup,
        since_startup: AllocCount {
            count: t.count.wrapping_sub(startup.count),
            bytes: t.bytes.wrapping_sub(startup.bytes),
        },
    })
}

/// How many backtraces `KEEPVIP_ALLOC_TRAP=log` prints.
pub const TRAP_LOG_MAX: usize = 16;

/// `KEEPVIP_ALLOC_TRAP` (debug builds only).
#[cfg(debug_assertions)]
mod trap {
    use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};

    const OFF: u8 = 0;
    const LOG: u8 = 1;
    const ABORT: u8 = 2;

    static MODE: AtomicU8 = AtomicU8::new(OFF);
    /// Set while a backtrace is taken and printed: its own allocations pass.
    static BUSY: AtomicBool = AtomicBool::new(false);
    static REPORTED: AtomicUsize = AtomicUsize::new(0);

    /// The mode `KEEPVIP_ALLOC_TRAP` asks for (read before the counters
    /// are marked: reading the environment allocates).
    pub(super) fn mode_from_env() -> u8 {
        match std::env::var_os("KEEPVIP_ALLOC_TRAP") {
            Some(v) if v == "abort" || v == "1" => ABORT,
            Some(v) if v == "log" => LOG,
            _ => OFF,
        }
    }

    pub(super) fn arm(mode: u8) {
        MODE.store(mode, Relaxed);
    }

    /// Called on every counted allocation.
    #[inline(always)]
    pub(super) fn check(size: usize) {
        let mode = MODE.load(Relaxed);
        if mode == OFF || BUSY.swap(true, Relaxed) {
            return;
        }
        let n = REPORTED.fetch_add(1, Relaxed);
        if mode == ABORT || n < super::TRAP_LOG_MAX {
            let bt = std::backtrace::Backtrace::force_capture();
            eprintln!(
                "KEEPVIP_ALLOC_TRAP: heap allocation of {size} bytes after start-up (#{}, pid {}):\n{bt}",
                n + 1,
                std::process::id()
            );
        }
        if mode == ABORT {
            std::process::abort();
        }
        BUSY.store(false, Relaxed);
    }
}
