//! SIGHUP reload support: which instances of the new configuration may keep
//! the run-time state of an instance of the running one.
//!
//! keepalived restarts every instance on reload, so an unchanged master
//! flaps its VIPs (acassen/keepalived#2159). keepvip keeps the state of an
//! instance whose configuration is unchanged: same name and equal
//! [`InstanceConfig`] apart from where it was written (spans), the index
//! of its sync group (compared by name) and where its notify commands are
//! in the configuration's pool (compared by command, user and group).
//! Everything else (removed, renamed or changed instances) stops and the
//! new one starts afresh.

use heapless::Vec;

use super::action::InstanceId;
use crate::config::model::{AddressFamily, Config, InstanceConfig, Notify, Span};
use crate::limits::MAX_INSTANCES;

/// For each instance of `new` (by index), the instance of `old` whose state
/// it takes over, if its configuration is unchanged. `map` is cleared first
/// and gets exactly `new.instances.len()` entries.
pub fn reload_map(old: &Config, new: &Config, map: &mut Vec<Option<InstanceId>, MAX_INSTANCES>) {
    map.clear();
    let g4 = old.global_defs.vrrp_mcast_group4 == new.global_defs.vrrp_mcast_group4;
    let g6 = old.global_defs.vrrp_mcast_group6 == new.global_defs.vrrp_mcast_group6;
    for n in &new.instances {
        let found = old
            .instances
            .iter()
            .position(|o| o.name == n.name)
            .filter(|&i| {
                let o = &old.instances[i];
                let group_ok = n.is_unicast()
                    || match n.family {
                        AddressFamily::Ipv4 => g4,
                        AddressFamily::Ipv6 => g6,
                    };
                group_ok
                    && same_instance_config(old, o, new, n)
                    && sync_group_name(old, o) == sync_group_name(new, n)
            })
            .and_then(|i| u16::try_from(i).ok())
            .map(InstanceId);
        // Same capacity as new.instances: cannot fail.
        let _ = map.push(found);
    }
}

fn sync_group_name<'a>(cfg: &'a Config, i: &InstanceConfig) -> Option<&'a str> {
    i.sync_group
        .and_then(|g| cfg.sync_groups.get(usize::from(g)))
        .map(|g| g.name.as_str())
}

/// Equal apart from spans, the sync group index and the notify commands'
/// indices: instance `a` of `a_cfg` and `b` of `b_cfg` (whose pools hold
/// their notify commands, compared by content).
pub fn same_instance_config(
    a_cfg: &Config,
    a: &InstanceConfig,
    b_cfg: &Config,
    b: &InstanceConfig,
) -> bool {
    // Cheap rejections first; the full comparison works on normalised copies
    // (heapless clones on the stack: no allocation).
    if a.name != b.name
        || a.virtual_router_id != b.virtual_router_id
        || a.interface != b.interface
        || a.virtual_ipaddress.len() != b.virtual_ipaddress.len()
        || !a
            .notify
            .same_commands(&a_cfg.notify_cmds, &b.notify, &b_cfg.notify_cmds)
    {
        return false;
    }
    let mut x = a.clone();
    let mut y = b.clone();
    normalise(&mut x);
    normalise(&mut y);
    x == y
}

fn normalise(c: &mut InstanceConfig) {
    c.span = Span::default();
    c.sync_group = None;
    for v in c.virtual_ipaddress.iter_mut() {
        v.span = Span::default();
    }
    for v in c.virtual_ipaddress_excluded.iter_mut() {
        v.span = Span::default();
    }
    for t in c.track_interface.iter_mut() {
        t.span = Span::default();
    }
    for t in c
        .track_script
        .iter_mut()
        .chain(c.track_process.iter_mut())
        .chain(c.track_file.iter_mut())
    {
        t.span = Span::default();
    }
    // Compared by content in `same_instance_config`.
    c.notify = Notify::default();
}
