//! vrrp_sync_group in the core: members move together, with keepalived's
//! rules (`vrrp_sync.c`): master only when every member wants it, a step
//! down takes the other masters along, a fault in one faults all, group
//! notifications after the members' own.
//!
//! One router with two instances in group G: VI_A (vrid 51, eth0, priority
//! 100) and VI_B (vrid 52, eth1, priority 90), VRRPv3, 1 s adverts. The
//! configurations go through the real parser.

mod config_common;

use core::net::{IpAddr, Ipv4Addr};

use keepvip::config::{Config, Diagnostics, MemorySource, parse};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::timers::master_down_interval;
use keepvip::vrrp::*;
use keepvip::wire::vrrp::{Repr, Version};

use Action::*;

const A: InstanceId = InstanceId(0);
const B: InstanceId = InstanceId(1);
const G: GroupId = GroupId(0);
const VIP_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
const VIP_B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 100));
const OURS_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const OURS_B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
const PEER_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const PEER_B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));

fn conf(group_extra: &str, a_extra: &str, b_extra: &str) -> String {
    format!(
        "vrrp_sync_group G {{\n group {{\n  VI_A\n  VI_B\n }}\n{group_extra}\n}}\n\
         vrrp_instance VI_A {{\n interface eth0\n virtual_router_id 51\n version 3\n priority 100\n\
          advert_int 1\n virtual_ipaddress {{\n  192.0.2.100/24\n }}\n{a_extra}\n}}\n\
         vrrp_instance VI_B {{\n interface eth1\n virtual_router_id 52\n version 3\n priority 90\n\
          advert_int 1\n virtual_ipaddress {{\n  198.51.100.100/24\n }}\n{b_extra}\n}}\n"
    )
}

fn parsed(text: &str) -> Box<Config> {
    let text = text.to_owned();
    config_common::big_stack(move || {
        let files = [("keepalived.conf", text.as_bytes())];
        let src = MemorySource::new(&files);
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&src, "keepalived.conf", &mut cfg, &mut d);
        let shown: Vec<String> = d.iter().map(|x| x.display(&cfg).to_string()).collect();
        assert_eq!(d.errors, 0, "{shown:?}");
        cfg
    })
}

struct H {
    r: Box<Router>,
    out: Actions,
    now: Instant,
}

impl H {
    fn new(text: &str) -> H {
        let cfg = parsed(text);
        assert_eq!(cfg.sync_groups.len(), 1);
        let mut r = Router::new_boxed(&cfg).unwrap();
        r.set_src_addr(A, OURS_A);
        r.set_src_addr(B, OURS_B);
        H {
            r,
            out: Actions::new(),
            now: Instant::ZERO,
        }
    }

    fn take(&mut self) -> Vec<Action> {
        assert_eq!(self.out.overflow_count(), 0);
        let v = self.out.as_slice().to_vec();
        self.out.clear();
        v
    }

    fn start(&mut self) -> Vec<Action> {
        self.r.handle_start(self.now, &mut self.out);
        self.take()
    }

    /// Drives deadlines up to and including `at`.
    fn run_until(&mut self, at: Instant) -> Vec<(Instant, Action)> {
        let mut log = Vec::new();
        for _ in 0..10_000 {
            match self.r.poll_timeout() {
                Some(t) if t <= at => {
                    let t = t.max(self.now);
                    self.now = t;
                    self.r.handle_timeout(t, &mut self.out);
                    for a in self.take() {
                        log.push((t, a));
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(at);
        log
    }

    fn advert(&mut self, id: InstanceId, src: IpAddr, prio: u8) -> Vec<Action> {
        let (vrid, vip) = if id == A { (51, VIP_A) } else { (52, VIP_B) };
        let mut addrs = heapless::Vec::new();
        addrs.push(vip).unwrap();
        let repr = Repr {
            version: Version::V3,
            vrid,
            priority: prio,
            max_adver_int_cs: 100,
            addr_count: 1,
            addrs,
            auth_type: 0,
            auth_data: [0; 8],
        };
        self.r
            .handle_advert(self.now, id, src, 255, &repr, &mut self.out);
        self.take()
    }

    /// Both instances hear their peer master (priority 200) every second
    /// until `until`.
    fn peer_masters_until(&mut self, until: Instant) {
        while self.now < until {
            let next = self.now + Duration::from_secs(1);
            self.run_until(next);
            self.advert(A, PEER_A, 200);
            self.advert(B, PEER_B, 200);
        }
    }

    fn link(&mut self, ifname: &str, up: bool) -> Vec<Action> {
        self.r.handle_link(self.now, ifname, up, &mut self.out);
        self.take()
    }

    fn states(&self) -> (StateKind, StateKind, StateKind) {
        (
            self.r.state(A).unwrap(),
            self.r.state(B).unwrap(),
            self.r.group_state(G).unwrap(),
        )
    }

    /// Start, let the peer be master for a while: both backup.
    fn backup(text: &str) -> H {
        let mut h = H::new(text);
        h.start();
        h.peer_masters_until(Instant::from_secs(5));
        assert_eq!(
            h.states(),
            (StateKind::Backup, StateKind::Backup, StateKind::Backup)
        );
        h
    }

    /// Start alone: both become master together.
    fn master(text: &str) -> H {
        let mut h = H::new(text);
        h.start();
        h.run_until(Instant::from_secs(10));
        assert_eq!(
            h.states(),
            (StateKind::Master, StateKind::Master, StateKind::Master)
        );
        h
    }
}

fn group_notifies(actions: &[Action]) -> Vec<NotifyState> {
    actions
        .iter()
        .filter_map(|a| match *a {
            NotifyGroup { group, state } => {
                assert_eq!(group, G);
                Some(state)
            }
            _ => None,
        })
        .collect()
}

fn plain(log: &[(Instant, Action)]) -> Vec<Action> {
    log.iter().map(|(_, a)| *a).collect()
}

#[test]
fn start_notifies_the_group_then_the_members() {
    let mut h = H::new(&conf("", "", ""));
    let out = h.start();
    // keepalived's vrrp_init_state notifies the group's initial state
    // first (its FIFO: GROUP "G" BACKUP 0, then the members' lines).
    let notifies: Vec<_> = out
        .iter()
        .filter(|a| matches!(a, Notify { .. } | NotifyGroup { .. }))
        .collect();
    assert_eq!(
        notifies.first().copied().copied(),
        Some(NotifyGroup {
            group: G,
            state: NotifyState::Backup
        }),
        "{out:?}"
    );
    let members: Vec<_> = out
        .iter()
        .filter(|a| matches!(a, Notify { .. }))
        .map(|a| a.inst())
        .collect();
    assert_eq!(members, [Some(A), Some(B)]);
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
}

#[test]
fn master_only_when_every_member_wants_it() {
    let mut h = H::new(&conf("", "", ""));
    h.start();
    let mdi_a = master_down_interval(keepvip::config::model::VrrpVersion::V3, 100, 100, 3);
    let mdi_b = master_down_interval(keepvip::config::model::VrrpVersion::V3, 90, 100, 3);
    assert!(mdi_a < mdi_b);
    // VI_A's timer runs out first: it only wants master.
    let log = h.run_until(Instant::ZERO + mdi_a);
    assert!(
        !plain(&log).iter().any(|a| matches!(a, AddVips { .. })),
        "{log:?}"
    );
    assert_eq!(h.states().0, StateKind::Backup);
    // When VI_B's runs out too, both go master together, then the group.
    let log = h.run_until(Instant::ZERO + mdi_b);
    let at: Vec<_> = log
        .iter()
        .filter(|(_, a)| matches!(a, AddVips { .. }))
        .map(|(t, a)| (*t, a.inst()))
        .collect();
    let t_b = Instant::ZERO + mdi_b;
    // VI_B, whose timer completed the set, goes first (keepalived's order).
    assert_eq!(at, [(t_b, Some(B)), (t_b, Some(A))]);
    assert_eq!(group_notifies(&plain(&log)), [NotifyState::Master]);
    // The group notification comes after the members' own.
    let acts = plain(&log);
    let gi = acts
        .iter()
        .position(|a| matches!(a, NotifyGroup { .. }))
        .unwrap();
    let last_member = acts
        .iter()
        .rposition(|a| matches!(a, Notify { .. }))
        .unwrap();
    assert!(last_member < gi);
    assert_eq!(
        h.states(),
        (StateKind::Master, StateKind::Master, StateKind::Master)
    );
}

#[test]
fn a_member_with_a_live_master_keeps_the_group_in_backup() {
    let mut h = H::new(&conf("", "", ""));
    h.start();
    // VI_A's master is gone, VI_B's peer keeps advertising for 30 s.
    let mut saw_add = false;
    for s in 1..=30 {
        let log = h.run_until(Instant::from_secs(s));
        saw_add |= plain(&log).iter().any(|a| matches!(a, AddVips { .. }));
        h.advert(B, PEER_B, 200);
    }
    assert!(!saw_add, "nobody may become master while VI_B has a master");
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
    // VI_B's master goes away too: the whole group takes over within one
    // Master_Down_Interval of VI_B.
    let mdi_b = master_down_interval(keepvip::config::model::VrrpVersion::V3, 90, 100, 3);
    let log = h.run_until(h.now + mdi_b);
    let adds: Vec<_> = plain(&log)
        .iter()
        .filter(|a| matches!(a, AddVips { .. }))
        .map(|a| a.inst())
        .collect();
    assert_eq!(adds, [Some(B), Some(A)]);
}

#[test]
fn a_wanting_member_that_hears_its_master_again_stops_wanting() {
    let mut h = H::new(&conf("", "", ""));
    h.start();
    let mdi_a = master_down_interval(keepvip::config::model::VrrpVersion::V3, 100, 100, 3);
    h.run_until(Instant::ZERO + mdi_a); // VI_A wants master
    h.advert(A, PEER_A, 200); // its master is back
    // VI_B's timer runs out: VI_A does not want master any more.
    let log = h.run_until(Instant::from_millis(3700));
    assert!(
        !plain(&log).iter().any(|a| matches!(a, AddVips { .. })),
        "{log:?}"
    );
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
}

#[test]
fn stepping_down_takes_the_other_masters_along() {
    let mut h = H::master(&conf("", "", ""));
    // VI_A hears a higher priority: it steps down (after one advert of its
    // own: higher_prio_send_advert, keepvip's default), VI_B follows without
    // any advert.
    let out = h.advert(A, PEER_A, 200);
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
    assert!(out.contains(&DelVips { inst: A }));
    assert!(out.contains(&DelVips { inst: B }));
    let adverts: Vec<_> = out
        .iter()
        .filter_map(|a| match *a {
            SendAdvert { inst, priority } => Some((inst, priority)),
            _ => None,
        })
        .collect();
    assert_eq!(adverts, [(A, 100)], "no advert from VI_B: {out:?}");
    assert_eq!(group_notifies(&out), [NotifyState::Backup]);
    assert_eq!(out.last().map(|a| a.inst()), Some(None));
}

#[test]
fn a_lower_priority_advert_does_not_move_the_group() {
    let mut h = H::master(&conf("", "", ""));
    let out = h.advert(B, PEER_B, 50);
    assert_eq!(
        h.states(),
        (StateKind::Master, StateKind::Master, StateKind::Master)
    );
    assert!(group_notifies(&out).is_empty());
}

#[test]
fn a_fault_in_one_member_faults_the_group_and_recovery_returns_it_to_backup() {
    let mut h = H::master(&conf("", "", ""));
    let out = h.link("eth1", false);
    assert_eq!(
        h.states(),
        (StateKind::Fault, StateKind::Fault, StateKind::Fault)
    );
    // Both masters leave with priority 0 and drop their VIPs.
    for id in [A, B] {
        assert!(out.contains(&SendAdvert {
            inst: id,
            priority: PRIORITY_STOP
        }));
        assert!(out.contains(&DelVips { inst: id }));
    }
    assert_eq!(group_notifies(&out), [NotifyState::Fault]);
    // No deadline while faulty.
    assert_eq!(h.r.poll_timeout(), None);

    let out = h.link("eth1", true);
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
    assert_eq!(group_notifies(&out), [NotifyState::Backup]);
    // And master again together once nobody else advertises.
    h.run_until(h.now + Duration::from_secs(10));
    assert_eq!(
        h.states(),
        (StateKind::Master, StateKind::Master, StateKind::Master)
    );
}

#[test]
fn the_group_stays_faulty_while_any_member_is() {
    let mut h = H::backup(&conf("", "", ""));
    h.link("eth0", false);
    h.link("eth1", false);
    assert_eq!(h.states().2, StateKind::Fault);
    let out = h.link("eth0", true);
    assert!(out.is_empty(), "eth1 is still down: {out:?}");
    assert_eq!(
        h.states(),
        (StateKind::Fault, StateKind::Fault, StateKind::Fault)
    );
    h.link("eth1", true);
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
}

#[test]
fn a_tracker_fault_on_one_member_faults_the_group() {
    let mut h = H::backup(&conf("", "", ""));
    let out = {
        h.r.handle_track(
            h.now,
            A,
            TrackState {
                fault: true,
                weight: 0,
            },
            &mut h.out,
        );
        h.take()
    };
    assert_eq!(
        h.states(),
        (StateKind::Fault, StateKind::Fault, StateKind::Fault)
    );
    assert_eq!(group_notifies(&out), [NotifyState::Fault]);
}

#[test]
fn the_groups_track_interface_applies_to_every_member() {
    let mut h = H::backup(&conf(" track_interface {\n  eth2\n }", "", ""));
    h.link("eth2", false);
    assert_eq!(
        h.states(),
        (StateKind::Fault, StateKind::Fault, StateKind::Fault)
    );
    h.link("eth2", true);
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
}

/// keepalived 2.2.7 logs "ignoring ... tracked interface weight due to SYNC
/// group" for a weighted track_interface on a member, but the weight was
/// already attached to the interface and still applies (seen in a real
/// run: "Changing effective priority from 93 to 73" when the interface
/// went down). keepvip does the same, with a warning that says so.
#[test]
fn weighted_track_interface_on_members_keeps_its_weight_as_keepalived() {
    let member = " track_interface {\n  eth2 weight -20\n }";
    for group in ["", " sync_group_tracking_weight"] {
        let mut h = H::backup(&conf(group, member, ""));
        h.link("eth2", false);
        assert_eq!(h.r.effective_priority(A), Some(80), "group extra {group:?}");
        assert_eq!(h.states().2, StateKind::Backup);
        h.link("eth2", true);
        assert_eq!(h.r.effective_priority(A), Some(100));
    }
}

/// `reverse` flips the sign of a weight, not the condition (keepalived's
/// `weight * weight_multiplier` while up for weight > 0, while down for
/// weight < 0); with weight 0 it flips the condition (FAULT while up).
#[test]
fn track_interface_reverse_as_keepalived() {
    let member = " track_interface {\n  eth2 weight 10 reverse\n  eth3 weight -10 reverse\n }";
    let mut h = H::backup(&conf(" sync_group_tracking_weight", member, ""));
    // Both up: eth2 (weight 10, up) contributes -10; eth3 (weight -10) nothing.
    assert_eq!(h.r.effective_priority(A), Some(90));
    h.link("eth2", false);
    assert_eq!(h.r.effective_priority(A), Some(100));
    h.link("eth3", false);
    assert_eq!(h.r.effective_priority(A), Some(110));
    let mut h = H::new(&conf(
        "",
        " track_interface {\n  eth2 weight 0 reverse\n }",
        "",
    ));
    h.start();
    assert_eq!(
        h.states().2,
        StateKind::Fault,
        "weight 0 reverse: FAULT while up"
    );
    h.link("eth2", false);
    assert_eq!(h.states().2, StateKind::Backup);
}

/// The group's and the instance's entry for the same interface: the
/// group's weight applies unless the instance's is 0.
#[test]
fn groups_track_interface_weight_wins_unless_the_members_is_zero() {
    let g = " sync_group_tracking_weight\n track_interface {\n  eth2 weight -30\n }";
    let mut h = H::backup(&conf(g, " track_interface {\n  eth2 weight -20\n }", ""));
    h.link("eth2", false);
    assert_eq!(h.r.effective_priority(A), Some(70));
    assert_eq!(h.r.effective_priority(B), Some(60));
    let mut h = H::backup(&conf(g, " track_interface {\n  eth2\n }", ""));
    h.link("eth2", false);
    assert_eq!(h.states().2, StateKind::Fault);
}

#[test]
fn shutdown_stops_the_members_then_the_group() {
    let mut h = H::master(&conf("", "", ""));
    h.r.handle_shutdown(h.now, &mut h.out);
    let out = h.take();
    for id in [A, B] {
        assert!(out.contains(&SendAdvert {
            inst: id,
            priority: PRIORITY_STOP
        }));
    }
    assert_eq!(
        out.last().copied(),
        Some(NotifyGroup {
            group: G,
            state: NotifyState::Stop
        })
    );
    assert_eq!(group_notifies(&out), [NotifyState::Stop]);
    assert_eq!(h.r.group_state(G), Some(StateKind::Initialize));
}

#[test]
fn priority_zero_from_the_peer_hands_the_whole_group_over_quickly() {
    let mut h = H::backup(&conf("", "", ""));
    // The peer stops cleanly: priority 0 on both VRIDs.
    h.advert(A, PEER_A, 0);
    h.advert(B, PEER_B, 0);
    let t0 = h.now;
    let log = h.run_until(t0 + Duration::from_secs(2));
    let adds: Vec<_> = log
        .iter()
        .filter(|(_, a)| matches!(a, AddVips { .. }))
        .map(|(t, a)| (t.saturating_duration_since(t0), a.inst()))
        .collect();
    assert_eq!(adds.len(), 2, "{log:?}");
    // Within the larger Skew_Time (VI_B, priority 90: 0.648 s).
    assert!(
        adds.iter().all(|(d, _)| *d <= Duration::from_millis(650)),
        "{adds:?}"
    );
}

#[test]
fn reload_adopts_the_group_state_silently() {
    let text = conf("", "", "");
    let h = H::master(&text);
    let cfg = parsed(&text);
    let mut new = Router::new_boxed(&cfg).unwrap();
    let map = [Some(A), Some(B)];
    assert_eq!(new.adopt_from(&h.r, &map), 2);
    assert_eq!(new.group_state(G), Some(StateKind::Master));
    let mut out = Actions::new();
    new.handle_start(h.now, &mut out);
    assert!(out.is_empty(), "{:?}", out.as_slice());
}

fn member_notifies(actions: &[Action]) -> Vec<(InstanceId, NotifyState)> {
    actions
        .iter()
        .filter_map(|a| match *a {
            Notify { inst, state, .. } => Some((inst, state)),
            _ => None,
        })
        .collect()
}

/// keepalived's `send_instance_notifies`: a member that has notified
/// before does not notify a state its sync group is already in. Here the
/// address owner VI_A starts as MASTER while VI_B is BACKUP (group
/// BACKUP); a rogue owner makes VI_A step down to BACKUP, the group's
/// state: no notification for VI_A (and none for the group, whose state
/// does not change). A fault then is notified for both (the group was
/// BACKUP), and so is the way back.
#[test]
fn member_does_not_notify_a_state_its_group_is_already_in() {
    let mut h = H::new(&conf("", " priority 255", ""));
    let out = h.start();
    assert_eq!(
        member_notifies(&out),
        [(A, NotifyState::Master), (B, NotifyState::Backup)]
    );
    assert_eq!(group_notifies(&out), [NotifyState::Backup]);
    h.advert(B, PEER_B, 200);
    // A rogue owner on VI_A's VRID with a higher address: VI_A backs off.
    let out = h.advert(A, PEER_A, 255);
    assert_eq!(
        h.states(),
        (StateKind::Backup, StateKind::Backup, StateKind::Backup)
    );
    assert!(
        out.iter()
            .any(|a| matches!(a, DelVips { inst } if *inst == A)),
        "{out:?}"
    );
    assert_eq!(member_notifies(&out), [], "VI_A: BACKUP, the group's state");
    assert_eq!(group_notifies(&out), []);
    let out = h.link("eth1", false);
    assert_eq!(
        member_notifies(&out),
        [(B, NotifyState::Fault), (A, NotifyState::Fault)]
    );
    assert_eq!(group_notifies(&out), [NotifyState::Fault]);
    let out = h.link("eth1", true);
    assert_eq!(
        member_notifies(&out),
        [(B, NotifyState::Backup), (A, NotifyState::Backup)]
    );
    assert_eq!(group_notifies(&out), [NotifyState::Backup]);
}

/// keepalived builds new instances on reload, which have not notified
/// yet: their first notification after a reload is never skipped.
#[test]
fn first_notification_after_a_reload_is_never_skipped() {
    let text = conf("", " priority 255", "");
    let mut h = H::new(&text);
    h.start();
    h.advert(B, PEER_B, 200);
    let cfg = parsed(&text);
    let mut new = Router::new_boxed(&cfg).unwrap();
    assert_eq!(new.adopt_from(&h.r, &[Some(A), Some(B)]), 2);
    assert_eq!(new.group_state(G), Some(StateKind::Backup));
    h.r = new;
    let out = h.advert(A, PEER_A, 255);
    assert_eq!(h.r.state(A), Some(StateKind::Backup));
    assert_eq!(member_notifies(&out), [(A, NotifyState::Backup)]);
}
