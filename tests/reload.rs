//! Reload (SIGHUP) in the core: unchanged instances keep their state and
//! VIPs (acassen/keepalived#2159), changed and removed ones stop, new ones
//! start.

#[path = "sim/cfg.rs"]
mod cfg;

use core::net::{IpAddr, Ipv4Addr};

use keepvip::config::model::{Span, VrrpVersion};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::*;

const VIP1: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
const VIP2: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101));
const VIP3: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 102));
const OURS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

fn masters(r: &mut Router) -> Instant {
    let mut out = Actions::new();
    r.handle_start(Instant::ZERO, &mut out);
    // No peer: every instance becomes master after its down interval.
    let t = Instant::ZERO + Duration::from_secs(5);
    r.handle_timeout(t, &mut out);
    for id in r.instance_ids().collect::<Vec<_>>() {
        assert_eq!(r.state(id), Some(StateKind::Master));
    }
    t
}

#[test]
fn unchanged_instance_keeps_state_changed_and_removed_restart() {
    cfg::on_big_stack(|| {
        let a = cfg::instance("VI_1", 51, VrrpVersion::V3, VIP1);
        let b = cfg::instance("VI_2", 52, VrrpVersion::V3, VIP2);
        let gone = cfg::instance("VI_GONE", 53, VrrpVersion::V2, VIP3);
        let old_cfg = cfg::config([a.clone(), b.clone(), gone]);
        let mut old = Router::new_boxed(&old_cfg).unwrap();
        for id in old.instance_ids().collect::<Vec<_>>() {
            old.set_src_addr(id, OURS);
        }
        let t = masters(&mut old);
        let adver_before = old.poll_timeout();

        // New file: VI_1 moved to another line (same config), VI_2's
        // priority changed, VI_GONE removed, VI_NEW added.
        let mut a2 = a.clone();
        a2.span = Span {
            file: 0,
            line: 40,
            col: 1,
        };
        a2.virtual_ipaddress[0].span = Span {
            file: 0,
            line: 47,
            col: 9,
        };
        let mut b2 = b.clone();
        b2.priority = 150;
        let n = cfg::instance("VI_NEW", 54, VrrpVersion::V3, VIP3);
        let new_cfg = cfg::config([n, b2, a2]);

        let mut map = heapless::Vec::new();
        reload_map(&old_cfg, &new_cfg, &mut map);
        assert_eq!(map.as_slice(), &[None, None, Some(InstanceId(0))]);

        // Removed/changed instances stop in the old router: priority 0, VIPs go.
        let now = t + Duration::from_millis(300);
        let mut out = Actions::new();
        for (i, _) in old_cfg.instances.iter().enumerate() {
            let id = InstanceId(i as u16);
            if !map.contains(&Some(id)) {
                old.handle_remove(now, id, &mut out);
            }
        }
        let got: Vec<Action> = out.iter().copied().collect();
        let mut want = Vec::new();
        for id in [InstanceId(1), InstanceId(2)] {
            want.push(Action::SendAdvert {
                inst: id,
                priority: 0,
            });
            want.push(Action::DelVips { inst: id });
            want.push(Action::Notify {
                inst: id,
                state: NotifyState::Stop,
                priority: 100,
            });
        }
        assert_eq!(got, want);
        // VI_1 was not touched in the old router.
        assert_eq!(old.state(InstanceId(0)), Some(StateKind::Master));

        let mut new = Router::new_boxed(&new_cfg).unwrap();
        assert_eq!(new.adopt_from(&old, &map), 1);
        let vi1 = new.find_by_name("VI_1").unwrap();
        assert_eq!(vi1, InstanceId(2));
        assert_eq!(new.state(vi1), Some(StateKind::Master));
        assert_eq!(new.src_addr(vi1), Some(OURS));
        assert_eq!(new.last_transition(vi1), old.last_transition(InstanceId(0)));
        assert_eq!(
            new.stats(vi1).unwrap().become_master,
            old.stats(InstanceId(0)).unwrap().become_master
        );
        // Its advert timer runs on: the next deadline is the old one.
        assert_eq!(new.poll_timeout(), adver_before);

        let mut out = Actions::new();
        new.handle_start(now, &mut out);
        assert!(
            out.iter().all(|a| a.inst() != Some(vi1)),
            "the unchanged master must not be touched: {:?}",
            out.as_slice()
        );
        // The new and the changed instance start from scratch (stale VIP cleanup, BACKUP).
        for id in [InstanceId(0), InstanceId(1)] {
            assert!(out.iter().any(|a| *a == Action::DelVips { inst: id }));
            assert_eq!(new.state(id), Some(StateKind::Backup));
        }
        // And the adopted master keeps advertising on schedule.
        let mut out = Actions::new();
        new.handle_timeout(adver_before.unwrap(), &mut out);
        assert!(out.iter().any(|a| matches!(
            a,
            Action::SendAdvert { inst, priority: 100 } if *inst == vi1
        )));
    });
}

#[test]
fn link_state_carries_over_and_group_change_restarts() {
    cfg::on_big_stack(|| {
        let a = cfg::instance("VI_1", 51, VrrpVersion::V2, VIP1);
        let old_cfg = cfg::config([a.clone()]);
        let mut old = Router::new_boxed(&old_cfg).unwrap();
        let mut out = Actions::new();
        old.handle_link(Instant::ZERO, "eth0", false, &mut out);
        old.handle_start(Instant::ZERO, &mut out);
        assert_eq!(old.state(InstanceId(0)), Some(StateKind::Fault));

        let mut new_cfg = cfg::config([a.clone()]);
        let mut map = heapless::Vec::new();
        reload_map(&old_cfg, &new_cfg, &mut map);
        assert_eq!(map.as_slice(), &[Some(InstanceId(0))]);
        let mut new = Router::new_boxed(&new_cfg).unwrap();
        new.adopt_from(&old, &map);
        let mut out = Actions::new();
        // The link is still down: nothing changes, no "reports down" flap.
        new.handle_link(Instant::ZERO, "eth0", false, &mut out);
        new.handle_start(Instant::ZERO, &mut out);
        assert!(out.is_empty(), "{:?}", out.as_slice());
        assert_eq!(new.state(InstanceId(0)), Some(StateKind::Fault));

        // A different multicast group means a different instance.
        new_cfg.global_defs.vrrp_mcast_group4 = Ipv4Addr::new(224, 0, 0, 19);
        reload_map(&old_cfg, &new_cfg, &mut map);
        assert_eq!(map.as_slice(), &[None]);
    });
}

/// A config file that only moved (a comment line added at the top, as the
/// daemon_netns reload test does) maps every instance to itself: no field
/// that carries a place in the file (VIPs, tracker references, notify
/// commands with their user and group) may make an instance look changed.
#[test]
fn moved_lines_leave_every_instance_unchanged() {
    let body = "global_defs {\n enable_script_security\n script_user nobody\n}\n\
        vrrp_script chk {\n script \"/bin/true\"\n weight 2\n}\n\
        vrrp_track_file tf {\n file /tmp/keepvip-reload-tf\n weight 1\n}\n\
        vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n\
         advert_int 1\n virtual_ipaddress {\n  192.0.2.100/24 dev eth0\n }\n\
         virtual_ipaddress_excluded {\n  192.0.2.200/24\n }\n\
         track_interface {\n  eth1 weight 5\n }\n track_script {\n  chk\n }\n\
         track_file {\n  tf\n }\n\
         notify_master \"/bin/true master\" nobody nogroup\n notify_backup /bin/true\n\
         notify_fault /bin/true\n notify_stop /bin/true\n notify /bin/true\n\
         notify_master_rx_lower_pri /bin/true\n}\n";
    let old_cfg = cfg::parse_clean(body.to_string());
    let new_cfg = cfg::parse_clean(format!("! moved\n!\n{body}"));
    assert_ne!(old_cfg.instances[0].span, new_cfg.instances[0].span);
    let mut map = heapless::Vec::new();
    reload_map(&old_cfg, &new_cfg, &mut map);
    assert_eq!(map.as_slice(), &[Some(InstanceId(0))]);
}

/// Notify commands live in the configuration's pool (`Config::notify_cmds`) and an instance
/// holds their indices: a reload compares the commands themselves (command line, user, group),
/// never the indices. An instance whose commands only moved in the pool (another instance or a
/// sync group with commands written before it, its own keywords in another order) keeps its
/// state; one whose command text or user changed restarts, also when the command kept its index.
#[test]
fn notify_commands_compare_by_content_not_pool_index() {
    fn inst(name: &str, vrid: u8, notify: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority 100\n\
             virtual_ipaddress {{\n  192.0.2.{vrid}/24\n }}\n{notify}}}\n"
        )
    }
    let group = "vrrp_sync_group G {\n group {\n  VI_1\n }\n notify_master \"/bin/true g\"\n}\n";
    let old = [
        inst("VI_5", 5, " notify_master \"/bin/true e\"\n"),
        inst(
            "VI_1",
            1,
            " notify_master \"/bin/true a\" nobody\n notify /bin/true\n",
        ),
        inst(
            "VI_2",
            2,
            " notify_backup \"/bin/true b\"\n notify_master \"/bin/true m\"\n",
        ),
        inst("VI_3", 3, " notify_master \"/bin/true c\" nobody\n"),
        inst("VI_4", 4, " notify_master \"/bin/true d\" nobody\n"),
        group.to_string(),
    ]
    .concat();
    let new = [
        // Same place in the pool (index 0), another command line: restarts.
        inst("VI_5", 5, " notify_master \"/bin/true e2\"\n"),
        // Shifts every later command's index.
        group.to_string(),
        inst("VI_0", 9, " notify_fault /bin/y\n"),
        // Its keywords in the other order: other indices, the same commands.
        inst(
            "VI_2",
            2,
            " notify_master \"/bin/true m\"\n notify_backup \"/bin/true b\"\n",
        ),
        inst(
            "VI_1",
            1,
            " notify_master \"/bin/true a\" nobody\n notify /bin/true\n",
        ),
        // Command text changed.
        inst("VI_3", 3, " notify_master \"/bin/true c2\" nobody\n"),
        // Only the user changed.
        inst("VI_4", 4, " notify_master \"/bin/true d\" root\n"),
    ]
    .concat();
    let old_cfg = cfg::parse_clean(old);
    let new_cfg = cfg::parse_clean(new);
    let ids = |c: &keepvip::config::Config, name: &str| c.instance(name).unwrap().notify.ids();
    // The test means something: VI_1's and VI_2's indices moved, VI_5's did not.
    assert_ne!(ids(&old_cfg, "VI_1"), ids(&new_cfg, "VI_1"));
    assert_ne!(ids(&old_cfg, "VI_2"), ids(&new_cfg, "VI_2"));
    assert_eq!(ids(&old_cfg, "VI_5"), ids(&new_cfg, "VI_5"));
    let mut map = heapless::Vec::new();
    reload_map(&old_cfg, &new_cfg, &mut map);
    let names: Vec<&str> = new_cfg.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_5", "VI_0", "VI_2", "VI_1", "VI_3", "VI_4"]);
    assert_eq!(
        map.as_slice(),
        &[
            None,                // VI_5: command text changed in place
            None,                // VI_0: new
            Some(InstanceId(2)), // VI_2: same commands, keywords reordered
            Some(InstanceId(1)), // VI_1: same commands, moved in the pool
            None,                // VI_3: command text changed
            None,                // VI_4: user changed
        ]
    );
}
