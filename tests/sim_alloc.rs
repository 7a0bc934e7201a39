//! Proves the core allocates nothing at run time: a counting global
//! allocator (alone in this test binary) counts allocations made while the
//! simulator is inside a core call: the router (`handle_*`, `poll`-side
//! accessors, `advert_repr`), the wire codec (every frame the simulator
//! emits and parses: Ethernet, IPv4/IPv6, VRRP, GARP/NA, in
//! `sim/frames.rs` and the receive path), over many simulated seeds; and
//! the tracker logic (`track::Trackers`: script schedules and results,
//! process quorums with their delays, file values, instance states, reload
//! with `rebuild` + `adopt_from`) driven by a seeded program. The frame
//! buffers of the simulator and `Router::new_boxed` / `Trackers::new_boxed`
//! at boot are outside the counted regions (start-up allocations).

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

/// The two tests share the counters: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn core_never_allocates_while_simulating() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _ = world::CORE_HOOK.set(hook);
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
    let wire = world::IN_CORE_CALLS.load(Ordering::Relaxed);
    assert!(
        wire > 10_000,
        "only {wire} wire codec calls inside the hook"
    );
    assert_eq!(
        ALLOCS_IN_CORE.load(Ordering::Relaxed),
        0,
        "heap allocations inside {calls} core calls"
    );
}

/// The tracker logic between the shell and the router: a seeded program of
/// script runs (success, failure, signal, timeout, spawn failure), process
/// counts around quorums with fork/terminate delays, file values, timeouts,
/// `take_changed` into `Router::handle_track`, and a reload every 2,000
/// steps (`rebuild` in place + `adopt_from`, as the daemon does): no
/// allocation inside any of these calls.
#[test]
fn trackers_never_allocate() {
    use keepvip::config::{Config, Diagnostics, MemorySource, parse};
    use keepvip::time::{Duration, Instant};
    use keepvip::track::{FileId, ProcessId, ScriptId, ScriptOutcome, Trackers};
    use keepvip::vrrp::{Actions, InstanceId, Router};

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _ = world::CORE_HOOK.set(hook);
    const TEXT: &str = "global_defs {\n enable_script_security\n}\n\
vrrp_script s1 {\n script /bin/true\n interval 1\n weight -20\n rise 2\n fall 2\n}\n\
vrrp_script s2 {\n script /bin/true\n interval 2\n timeout 1\n}\n\
vrrp_script s3 {\n script /bin/true\n interval 0.5\n weight 10 reverse\n init_fail\n}\n\
vrrp_track_process p1 {\n process keepvipd\n quorum 2\n quorum_max 3\n delay 1\n weight -30\n}\n\
vrrp_track_process p2 {\n process other\n fork_delay 2\n terminate_delay 1\n}\n\
vrrp_track_file f1 {\n file /run/f1\n weight 2\n}\n\
vrrp_track_file f2 {\n file /run/f2\n weight 0\n}\n\
vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 150\n track_script {\n  s1\n  s2\n }\n track_process {\n  p1\n }\n track_file {\n  f1\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n\
vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n track_script {\n  s3 weight 5\n }\n track_file {\n  f2\n }\n virtual_ipaddress {\n  192.0.2.2\n }\n}\n\
vrrp_instance VI_3 {\n interface eth0\n virtual_router_id 3\n track_process {\n  p2\n }\n virtual_ipaddress {\n  192.0.2.3\n }\n}\n\
vrrp_sync_group G {\n group {\n  VI_2\n  VI_3\n }\n track_script {\n  s1 weight -7\n }\n sync_group_tracking_weight\n}\n";
    let parse_text = |text: &str| {
        let files: [(&str, &[u8]); 1] = [("k.conf", text.as_bytes())];
        let mut c = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&MemorySource::new(&files), "k.conf", &mut c, &mut d);
        assert_eq!(d.errors, 0, "{:?}", d.items);
        c
    };
    cfg::on_big_stack(move || {
        // Two configurations to reload between: s2's interval and f1's
        // weight change (restarted), the rest is kept.
        let cfgs = [
            parse_text(TEXT),
            parse_text(
                &TEXT
                    .replace(" interval 2\n", " interval 3\n")
                    .replace(" weight 2\n", " weight 3\n"),
            ),
        ];
        let mut cur = Trackers::new_boxed(&cfgs[0]);
        let mut spare = Trackers::new_boxed(&cfgs[0]);
        let mut cur_cfg = 0usize;
        let mut router = Router::new_boxed(&cfgs[0]).unwrap();
        let mut out = Actions::new();
        let mut map: heapless::Vec<Option<ScriptId>, { keepvip::limits::MAX_SCRIPTS }> =
            heapless::Vec::new();
        let mut g = rng::Rng::new(0x7ac4_e125);
        let mut now = Instant::ZERO;
        let (mut changes, mut results, mut kept, mut faults) = (0usize, 0usize, 0usize, 0usize);
        let before = ALLOCS_IN_CORE.load(Ordering::Relaxed);
        CORE_CALLS.store(0, Ordering::Relaxed);
        hook(true);
        router.handle_start(now, &mut out);
        out.clear();
        hook(false);
        for step in 0..20_000u32 {
            now += Duration::from_millis(g.below(1500));
            let (pick, pc, fv, fid) = (
                g.below(8),
                g.below(5) as u32,
                g.range(0, 601) as i32 - 300,
                g.below(2) as u16,
            );
            let outcomes = [
                ScriptOutcome::Exited(0),
                ScriptOutcome::Exited(1),
                ScriptOutcome::Signaled(9),
                ScriptOutcome::TimedOut,
            ];
            let outcome = *g.pick(&outcomes);
            let spawn_fails = g.below(20) == 0;
            hook(true);
            let mut due: heapless::Vec<ScriptId, 8> = heapless::Vec::new();
            for id in cur.script_due(now) {
                let _ = due.push(id);
            }
            for id in due.iter().copied() {
                let _ = cur.script_timeout(id);
                if spawn_fails {
                    cur.script_spawn_failed(id);
                } else {
                    cur.script_result(id, now, outcome);
                    let _ = cur.script_status(id);
                    results += 1;
                }
            }
            match pick {
                0 | 1 => {
                    cur.process_count(ProcessId(u16::from(pick == 1)), now, pc);
                    let _ = cur.process_state(ProcessId(u16::from(pick == 1)));
                }
                2 | 3 => {
                    cur.file_value(FileId(fid), now, fv);
                    let _ = cur.file_value_of(FileId(fid));
                }
                _ => {}
            }
            cur.handle_timeout(now);
            cur.take_changed(|id, t| {
                changes += 1;
                faults += usize::from(t.fault);
                router.handle_track(now, id, t, &mut out);
            });
            for i in 0..3 {
                let _ = cur.instance_state(InstanceId(i));
                let _ = cur.instance_refs(InstanceId(i));
            }
            let _ = cur.poll_timeout();
            router.handle_timeout(now, &mut out);
            out.clear();
            if step % 2_000 == 1_999 {
                // SIGHUP: the spare is rebuilt in place from the other
                // configuration and takes over what did not change.
                let next = 1 - cur_cfg;
                spare.rebuild(&cfgs[next]);
                kept += spare.adopt_from(&cur, &cfgs[cur_cfg], &cfgs[next], &mut map);
                core::mem::swap(&mut cur, &mut spare);
                cur_cfg = next;
            }
            hook(false);
        }
        let n = ALLOCS_IN_CORE.load(Ordering::Relaxed) - before;
        let calls = CORE_CALLS.load(Ordering::Relaxed);
        println!(
            "trackers: {calls} core regions, {results} script results, {changes} instance changes ({faults} FAULT), {kept} trackers kept over 10 reloads"
        );
        assert!(
            results > 5_000 && changes > 1_000 && faults > 100,
            "the program did too little"
        );
        assert_eq!(
            kept,
            10 * 5,
            "5 of the 7 trackers are unchanged by each reload"
        );
        assert_eq!(n, 0, "heap allocations inside the tracker logic");
    });
}
