//! Trackers built from real configuration text: aggregation per instance.

use super::*;
use crate::config::{Config, Diagnostics, MemorySource, parse};
use std::boxed::Box;

fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(s, f)
            .expect("spawn test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Parses `text` (must be error-free) and runs `f` with the config and
/// its trackers, on a big stack.
fn with<T: Send>(text: &str, f: impl FnOnce(&Config, &mut Trackers) -> T + Send) -> T {
    big_stack(|| {
        let files = [("/k.conf", text.as_bytes())];
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&MemorySource::new(&files), "/k.conf", &mut cfg, &mut d);
        assert!(
            !d.has_errors(),
            "{:?}",
            d.iter()
                .map(|x| x.message.as_str())
                .collect::<std::vec::Vec<_>>()
        );
        let mut t: Box<Trackers> = Trackers::new_boxed(&cfg);
        f(&cfg, &mut t)
    })
}

const I0: InstanceId = InstanceId(0);
const I1: InstanceId = InstanceId(1);
const OK: ScriptOutcome = ScriptOutcome::Exited(0);
const KO: ScriptOutcome = ScriptOutcome::Exited(1);

fn ts(fault: bool, weight: i32) -> TrackState {
    TrackState { fault, weight }
}

fn inst(name: &str, vrid: u8, body: &str) -> std::string::String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority 100\n virtual_ipaddress {{ 192.0.2.{vrid}/24 }}\n{body}\n}}\n"
    )
}

#[test]
fn contribution_table() {
    use Status::*;
    // weight 0: FAULT while down (reverse: while up); init counts neither way.
    assert_eq!(up_down_contribution(Down, 0, false), (true, 0));
    assert_eq!(up_down_contribution(Up, 0, false), (false, 0));
    assert_eq!(up_down_contribution(Up, 0, true), (true, 0));
    assert_eq!(up_down_contribution(Down, 0, true), (false, 0));
    assert_eq!(up_down_contribution(Init, 0, false), (false, 0));
    // weight > 0: +w while up.
    assert_eq!(up_down_contribution(Up, 10, false), (false, 10));
    assert_eq!(up_down_contribution(Down, 10, false), (false, 0));
    // weight < 0: -|w| while down.
    assert_eq!(up_down_contribution(Down, -20, false), (false, -20));
    assert_eq!(up_down_contribution(Up, -20, false), (false, 0));
    // reverse negates the contribution.
    assert_eq!(up_down_contribution(Up, 10, true), (false, -10));
    assert_eq!(up_down_contribution(Down, -20, true), (false, 20));
    assert_eq!(up_down_contribution(Init, 10, false), (false, 0));
    assert_eq!(up_down_contribution(Init, -10, false), (false, 0));
}

#[test]
fn script_weights_and_initial_state() {
    let text = format!(
        "vrrp_script plus {{ script /bin/true\n weight 10 }}\n\
         vrrp_script minus {{ script /bin/true\n weight -20\n rise 2\n fall 2 }}\n\
         vrrp_script zero {{ script /bin/true }}\n{}",
        inst("VI_1", 1, "track_script { plus\n minus\n zero }")
    );
    with(&text, |_, t| {
        let (p, m, z) = (ScriptId(0), ScriptId(1), ScriptId(2));
        // Nothing has returned: no weight, no fault, start-up pending.
        assert_eq!(t.instance_state(I0), ts(false, 0));
        assert!(t.startup_pending());
        let now = Instant::from_secs(1);
        // All three are due at once.
        let due: std::vec::Vec<_> = t.script_due(now).collect();
        assert_eq!(due, [p, m, z]);
        assert_eq!(t.script_due(now).count(), 0);
        assert!(t.script_result(p, now, OK));
        assert_eq!(t.instance_state(I0), ts(false, 10));
        // A script in its initial state that succeeds adds no negative weight.
        assert!(t.script_result(m, now, OK));
        assert!(t.script_result(z, now, OK));
        assert!(!t.startup_pending());
        assert_eq!(t.instance_state(I0), ts(false, 10));
        // minus needs fall=2 failures.
        assert!(!t.script_result(m, now, KO));
        assert_eq!(t.instance_state(I0), ts(false, 10));
        assert!(t.script_result(m, now, ScriptOutcome::TimedOut));
        assert_eq!(t.instance_state(I0), ts(false, -10));
        // zero failing: FAULT.
        assert!(t.script_result(z, now, KO));
        assert_eq!(t.instance_state(I0), ts(true, -10));
        assert!(t.script_result(p, now, KO));
        assert_eq!(t.instance_state(I0), ts(true, -20));
    });
}

#[test]
fn first_failure_of_negative_weight_script_counts() {
    let text = format!(
        "vrrp_script minus {{ script /bin/true\n weight -20 }}\n\
         vrrp_script plus {{ script /bin/true\n weight 30\n init_fail }}\n{}",
        inst("VI_1", 1, "track_script { minus\n plus }")
    );
    with(&text, |_, t| {
        let now = Instant::from_secs(1);
        // init_fail: down from the start; a positive weight adds nothing.
        assert_eq!(t.instance_state(I0), ts(false, 0));
        assert!(t.script_result(ScriptId(0), now, KO));
        assert_eq!(t.instance_state(I0), ts(false, -20));
        assert!(t.script_result(ScriptId(1), now, OK));
        assert_eq!(t.instance_state(I0), ts(false, 10));
    });
}

#[test]
fn init_fail_weight_zero_is_fault_from_start() {
    let text = format!(
        "vrrp_script z {{ script /bin/true\n init_fail }}\n{}",
        inst("VI_1", 1, "track_script { z }")
    );
    with(&text, |_, t| {
        assert_eq!(t.instance_state(I0), ts(true, 0));
        assert!(t.script_result(ScriptId(0), Instant::ZERO, OK));
        assert_eq!(t.instance_state(I0), ts(false, 0));
    });
}

#[test]
fn reference_weight_overrides_and_reverse() {
    let text = format!(
        "vrrp_script s {{ script /bin/true\n weight 5 }}\n{}{}",
        inst("VI_1", 1, "track_script { s weight 0 reverse }"),
        inst("VI_2", 2, "track_script { s weight -40 }")
    );
    with(&text, |_, t| {
        let now = Instant::ZERO;
        t.script_result(ScriptId(0), now, OK);
        // weight 0 reverse: FAULT while the script is up.
        assert_eq!(t.instance_state(I0), ts(true, 0));
        assert_eq!(t.instance_state(I1), ts(false, 0));
        t.script_result(ScriptId(0), now, KO);
        assert_eq!(t.instance_state(I0), ts(false, 0));
        assert_eq!(t.instance_state(I1), ts(false, -40));
    });
}

#[test]
fn process_quorum_weights() {
    let text = format!(
        "vrrp_track_process p {{ process dnsmasq\n quorum 2\n weight 15 }}\n\
         vrrp_track_process q {{ process sshd\n delay 2 }}\n{}",
        inst("VI_1", 1, "track_process { p\n q }")
    );
    with(&text, |_, t| {
        let (p, q) = (ProcessId(0), ProcessId(1));
        assert_eq!(t.processes_in_use().collect::<std::vec::Vec<_>>(), [p, q]);
        assert!(t.process_count(p, Instant::ZERO, 1));
        assert!(t.process_count(q, Instant::ZERO, 1));
        assert_eq!(t.instance_state(I0), ts(false, 0));
        assert!(t.process_count(p, Instant::from_secs(1), 2));
        assert_eq!(t.instance_state(I0), ts(false, 15));
        // q lost, debounced by 2 s.
        assert!(!t.process_count(q, Instant::from_secs(1), 0));
        assert_eq!(t.poll_timeout(), Some(Instant::from_secs(3)));
        assert!(!t.handle_timeout(Instant::from_secs(2)));
        assert_eq!(t.instance_state(I0), ts(false, 15));
        assert!(t.handle_timeout(Instant::from_secs(3)));
        assert_eq!(t.instance_state(I0), ts(true, 15));
        assert_eq!(t.process_state(q), Some((0, Some(false))));
    });
}

#[test]
fn file_weights_and_fault() {
    let text = format!(
        "vrrp_track_file f {{ file /run/f\n weight 10 }}\n\
         vrrp_track_file z {{ file /run/z\n weight 0 }}\n{}{}",
        inst("VI_1", 1, "track_file { f }"),
        inst("VI_2", 2, "track_file { f weight -2 reverse\n z }")
    );
    with(&text, |_, t| {
        let (f, z) = (FileId(0), FileId(1));
        let now = Instant::ZERO;
        assert!(t.startup_pending());
        assert!(t.file_value(f, now, 3));
        assert!(t.file_value(z, now, 0));
        assert!(!t.file_value(z, now, 0));
        assert!(!t.startup_pending());
        assert_eq!(t.instance_state(I0), ts(false, 30));
        assert_eq!(t.instance_state(I1), ts(false, 6));
        // Positive capped at 253; -254 and below is FAULT.
        t.file_value(f, now, 100);
        assert_eq!(t.instance_state(I0), ts(false, 253));
        t.file_value(f, now, -30);
        assert_eq!(t.instance_state(I0), ts(true, 0));
        assert_eq!(t.instance_state(I1), ts(false, -60));
        // weight 0 with a non-zero value: FAULT.
        t.file_value(z, now, 1);
        assert_eq!(t.instance_state(I1), ts(true, -60));
        assert_eq!(t.file_value_of(z), Some(1));
        assert_eq!(t.tracker_name(TrackerId::File(z)), "z");
    });
}

/// keepalived 2.2.7 (`vrrp_complete_instance`): on a member of a sync group
/// without `sync_group_tracking_weight`, a weighted track_script is
/// dropped, a track_file with the default weight 1 becomes weight 0
/// (non-zero value = FAULT) and one with another weight is dropped; a
/// weighted track_process keeps its weight; the group's own trackers keep
/// theirs.
#[test]
fn sync_group_members_lose_weighted_trackers_as_keepalived() {
    let body = "track_script { w\n z }\n track_file { f\n f5 }\n track_process { p }";
    let base = |extra: &str| {
        format!(
            "vrrp_script w {{ script /bin/true\n weight -30 }}\n\
             vrrp_script z {{ script /bin/true }}\n\
             vrrp_script g {{ script /bin/true\n weight 7 }}\n\
             vrrp_track_file f {{ file /run/f }}\n\
             vrrp_track_file f5 {{ file /run/f5\n weight 5 }}\n\
             vrrp_track_process p {{ process sleep\n weight -9 }}\n\
             vrrp_sync_group G {{ group {{ VI_1\n VI_2 }}\n track_script {{ g }}\n{extra} }}\n{}{}",
            inst("VI_1", 1, body),
            inst("VI_2", 2, "")
        )
    };
    let r = |tracker, weight| InstanceRef {
        tracker,
        weight,
        reverse: false,
    };
    with(&base(""), |_, t| {
        assert_eq!(
            t.instance_refs(I0),
            [
                r(TrackerId::Script(ScriptId(1)), 0),
                r(TrackerId::Process(ProcessId(0)), -9),
                r(TrackerId::File(FileId(0)), 0),
                r(TrackerId::Script(ScriptId(2)), 7),
            ]
        );
        assert_eq!(t.instance_refs(I1), [r(TrackerId::Script(ScriptId(2)), 7)]);
        assert!(!t.script_used(ScriptId(0)));
        // Unused scripts never run.
        let due: std::vec::Vec<_> = t.script_due(Instant::ZERO).collect();
        assert_eq!(due, [ScriptId(1), ScriptId(2)]);
        t.script_result(ScriptId(1), Instant::ZERO, OK);
        t.script_result(ScriptId(2), Instant::ZERO, OK);
        t.file_value(FileId(0), Instant::ZERO, 0);
        t.file_value(FileId(1), Instant::ZERO, -40);
        t.process_count(ProcessId(0), Instant::ZERO, 0);
        assert_eq!(t.instance_state(I0), ts(false, 7 - 9));
        assert_eq!(t.instance_state(I1), ts(false, 7));
        // The default-weight file now means FAULT when non-zero.
        t.file_value(FileId(0), Instant::ZERO, 3);
        assert_eq!(t.instance_state(I0), ts(true, 7 - 9));
        t.script_result(ScriptId(1), Instant::ZERO, KO);
        assert_eq!(t.instance_state(I1), ts(false, 7));
    });
    with(&base("sync_group_tracking_weight"), |_, t| {
        assert_eq!(t.instance_refs(I0).len(), 6);
        assert_eq!(t.instance_refs(I1), [r(TrackerId::Script(ScriptId(2)), 7)]);
        t.script_result(ScriptId(2), Instant::ZERO, OK);
        t.script_result(ScriptId(0), Instant::ZERO, KO);
        t.file_value(FileId(0), Instant::ZERO, 4);
        t.file_value(FileId(1), Instant::ZERO, 0);
        t.process_count(ProcessId(0), Instant::ZERO, 1);
        assert_eq!(t.instance_state(I0), ts(false, 7 - 30 + 4));
        assert_eq!(t.instance_state(I1), ts(false, 7));
    });
}

/// An address owner (priority 255) loses its weighted scripts and files the
/// same way, and a member being an owner takes the weights of the group's
/// own trackers (weight 0: FAULT when failed).
#[test]
fn owner_loses_weighted_trackers_and_the_groups_weights() {
    let owner = "vrrp_script w { script /bin/true\n weight -30 }\n\
        vrrp_track_file f { file /run/f }\n";
    let text = format!(
        "{owner}{}",
        inst(
            "VI_1",
            1,
            "priority 255\n track_script { w }\n track_file { f }"
        )
    );
    with(&text, |_, t| {
        assert_eq!(
            t.instance_refs(I0),
            [InstanceRef {
                tracker: TrackerId::File(FileId(0)),
                weight: 0,
                reverse: false
            }]
        );
    });
    let text = format!(
        "vrrp_script g {{ script /bin/true\n weight 7 }}\n\
         vrrp_sync_group G {{ group {{ VI_1\n VI_2 }}\n track_script {{ g }}\n sync_group_tracking_weight }}\n{}{}",
        inst("VI_1", 1, "priority 255"),
        inst("VI_2", 2, "")
    );
    with(&text, |_, t| {
        for i in [I0, I1] {
            assert_eq!(t.instance_refs(i)[0].weight, 0);
        }
        t.script_result(ScriptId(0), Instant::ZERO, KO);
        assert_eq!(t.instance_state(I1), ts(true, 0));
    });
}

/// A tracker referenced by the instance and by its group: the group's
/// weight applies unless the instance's is 0.
#[test]
fn group_weight_overrides_the_instances_unless_zero() {
    let text = |inst_w: &str| {
        format!(
            "vrrp_script s {{ script /bin/true }}\n\
             vrrp_sync_group G {{ group {{ VI_1\n VI_2 }}\n track_script {{ s weight 12 }}\n sync_group_tracking_weight }}\n{}{}",
            inst("VI_1", 1, &format!("track_script {{ s {inst_w} }}")),
            inst("VI_2", 2, "")
        )
    };
    with(&text("weight -5"), |_, t| {
        assert_eq!(t.instance_refs(I0).len(), 1);
        assert_eq!(t.instance_refs(I0)[0].weight, 12);
    });
    with(&text(""), |_, t| {
        assert_eq!(t.instance_refs(I0)[0].weight, 0);
    });
}

#[test]
fn take_changed_reports_only_changes() {
    let text = format!(
        "vrrp_script s {{ script /bin/true\n weight 10\n interval 3\n timeout 1 }}\n{}{}",
        inst("VI_1", 1, "track_script { s }"),
        inst("VI_2", 2, "")
    );
    with(&text, |_, t| {
        let mut seen = std::vec::Vec::new();
        t.take_changed(|i, s| seen.push((i, s)));
        assert_eq!(seen, [(I0, ts(false, 0)), (I1, ts(false, 0))]);
        seen.clear();
        t.take_changed(|i, s| seen.push((i, s)));
        assert!(seen.is_empty());
        let t0 = Instant::from_secs(10);
        assert_eq!(t.poll_timeout(), Some(Instant::ZERO));
        assert_eq!(t.script_due(t0).count(), 1);
        assert_eq!(t.script_timeout(ScriptId(0)), Duration::from_secs(1));
        assert_eq!(t.poll_timeout(), Some(Instant::from_secs(13)));
        t.script_result(ScriptId(0), t0, OK);
        t.take_changed(|i, s| seen.push((i, s)));
        assert_eq!(seen, [(I0, ts(false, 10))]);
        // Spawn failure: no result, stays scheduled.
        assert_eq!(t.script_due(Instant::from_secs(13)).count(), 1);
        t.script_spawn_failed(ScriptId(0));
        assert_eq!(t.script_status(ScriptId(0)), Some(ScriptStatus::Up));
        assert_eq!(t.script_due(Instant::from_secs(16)).count(), 1);
    });
}

#[test]
fn startup_waits_only_for_weight_zero_scripts() {
    // keepalived: a weight-0 script that has not returned keeps the
    // instance in INIT; a weighted one does not.
    let text = format!(
        "vrrp_script w {{ script /bin/true\n weight -20\n timeout 9 }}\n\
         vrrp_script z {{ script /bin/true\n interval 2\n timeout 3 }}\n\
         vrrp_script zf {{ script /bin/true\n init_fail\n timeout 7 }}\n{}{}",
        inst("VI_1", 1, "track_script { w }"),
        inst("VI_2", 2, "track_script { z\n zf }")
    );
    with(&text, |_, t| {
        assert!(t.waiting_for_scripts());
        // zf has init_fail (already "failed"): not waited for.
        assert_eq!(t.startup_wait(), Duration::from_secs(3));
        assert!(t.script_result(ScriptId(0), Instant::ZERO, KO));
        assert!(t.waiting_for_scripts());
        assert!(t.script_result(ScriptId(1), Instant::ZERO, ScriptOutcome::TimedOut));
        assert!(!t.waiting_for_scripts());
        assert_eq!(t.startup_wait(), Duration::ZERO);
    });
    let text = format!(
        "vrrp_script w {{ script /bin/true\n weight 10 }}\n{}",
        inst("VI_1", 1, "track_script { w }")
    );
    with(&text, |_, t| assert!(!t.waiting_for_scripts()));
    // A weighted script referenced with weight 0 is waited for.
    let text = format!(
        "vrrp_script w {{ script /bin/true\n weight 10 }}\n{}",
        inst("VI_1", 1, "track_script { w weight 0 }")
    );
    with(&text, |_, t| assert!(t.waiting_for_scripts()));
}

#[test]
fn reload_keeps_state_of_unchanged_trackers_only() {
    let old_text = format!(
        "vrrp_script same {{ script /bin/true\n weight -20 }}\n\
         vrrp_script changed {{ script /bin/true\n weight -10 }}\n\
         vrrp_track_process p {{ process sleep }}\n\
         vrrp_track_file f {{ file /run/x\n weight 1 }}\n{}",
        inst(
            "VI_1",
            1,
            "track_script { same\n changed }\n track_process { p }\n track_file { f }"
        )
    );
    // Moved around (other lines), one script changed, one new.
    let new_text = format!(
        "! reloaded\nvrrp_script new {{ script /bin/false }}\n\
         vrrp_script changed {{ script /bin/true\n weight -30 }}\n\
         vrrp_script same {{ script /bin/true\n weight -20 }}\n\
         vrrp_track_file f {{ file /run/x\n weight 1 }}\n\
         vrrp_track_process p {{ process sleep }}\n{}",
        inst(
            "VI_1",
            1,
            "track_script { same\n changed\n new }\n track_process { p }\n track_file { f }"
        )
    );
    big_stack(move || {
        let parse_one = |text: &str| {
            let files = [("/k.conf", text.as_bytes())];
            let mut cfg = Config::new_boxed();
            let mut d = Diagnostics::new();
            parse(&MemorySource::new(&files), "/k.conf", &mut cfg, &mut d);
            assert!(!d.has_errors());
            cfg
        };
        let (oc, nc) = (parse_one(&old_text), parse_one(&new_text));
        let mut old = Trackers::new_boxed(&oc);
        let now = Instant::from_secs(5);
        let due: std::vec::Vec<_> = old.script_due(now).collect();
        assert_eq!(due.len(), 2);
        old.script_result(ScriptId(0), now, KO);
        old.script_result(ScriptId(1), now, KO);
        old.process_count(ProcessId(0), now, 0);
        old.file_value(FileId(0), now, 7);
        assert_eq!(old.instance_state(I0), ts(true, -23));
        let mut new = Trackers::new_boxed(&nc);
        let mut map = Vec::new();
        // same, p and f kept; changed is new state.
        assert_eq!(new.adopt_from(&old, &oc, &nc, &mut map), 3);
        assert_eq!(map.as_slice(), [Some(ScriptId(2)), None]);
        assert_eq!(new.script_status(ScriptId(2)), Some(ScriptStatus::Down));
        assert_eq!(new.script_status(ScriptId(1)), Some(ScriptStatus::Init));
        assert_eq!(new.process_state(ProcessId(0)), Some((0, Some(false))));
        assert_eq!(new.file_value_of(FileId(0)), Some(7));
        // The kept schedule: next run one interval after the old one
        // started; the others run at once.
        let due: std::vec::Vec<_> = new.script_due(now).collect();
        assert_eq!(due, [ScriptId(0), ScriptId(1)]);
        // At 6 the kept one is due (the other two are still running).
        assert_eq!(new.script_due(Instant::from_secs(6)).count(), 1);
        assert_eq!(new.instance_state(I0), ts(true, -13));
    });
}
