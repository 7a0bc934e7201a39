//! After the last line: resolve per-instance values from `global_defs`,
//! apply keepalived's corrections (each with a warning), check what can only
//! be checked on the whole configuration (references, duplicate VRIDs), and
//! resolve sync-group members.
//!
//! Corrections, as keepalived makes them:
//! * an unset `priority` follows `state` (MASTER: 255, else 100) and an
//!   unset `state` follows the priority (255: MASTER, else BACKUP);
//! * `state MASTER` with priority < 255 stays `state MASTER` in the model
//!   (the VRRP core starts such an instance as BACKUP and lets the election
//!   decide), but `nopreempt` and `preempt_delay` are cleared with a warning;
//! * no `virtual_ipaddress`: an error for VRRPv3 and in strict mode, else a
//!   warning (the instance runs and advertises no address);
//! * unset `garp_lower_prio_*` take the global values, which unset follow
//!   `vrrp_garp_master_delay` / `_repeat`;
//! * accept mode off (`no_accept`, strict below 255) is not enforced by
//!   keepvip (keepalived adds firewall rules): a warning says so;
//! * more distinct interfaces than `MAX_INTERFACES` is an error;
//! * `nopreempt` / `preempt_delay` are cleared for priority 255, and
//!   `preempt_delay` is cleared when `nopreempt` is set;
//! * `advert_int` is rounded: VRRPv2 to whole seconds (1..255), VRRPv3 to
//!   10 ms (0.01..40.95 s);
//! * authentication is dropped for VRRPv3, in strict mode, and without a
//!   password;
//! * an IPv6 instance is VRRPv3 (VRRPv2 has no IPv6);
//! * `vrrp_strict` (KEEPALIVED.md 2(h)): state MASTER iff priority 255 (both
//!   ways), no preempt_delay, no accept on v2 below 255 (accept on by default
//!   only for the address owner), default `down_timer_adverts`,
//!   `lower_prio_no_advert` forced, `garp_lower_prio_repeat`/`_delay` 0;
//!   unicast peers, no VIPs, IPv6 over v2 and a non-link-local first IPv6
//!   VIP are errors. (keepalived 2.2.7's strict address owner still
//!   processes received adverts; so does keepvip's.)
//!
//! Tracker weights on sync group members and address owners
//! ([`tracking_weights`], keepalived 2.2.7's `vrrp_complete_instance` and
//! `sync_group_tracking_init`): on a member of a group without
//! `sync_group_tracking_weight`, and on an instance with priority 255,
//! weighted `track_script`s are dropped, a `track_file` with weight 1 (the
//! default) gets weight 0 and one with another weight is dropped; a
//! weighted `track_interface` is dropped on an address owner and kept on a
//! group member; `track_process` is left alone. A group's own trackers
//! keep their weights unless a member is an address owner (then weight 0).

use core::net::IpAddr;

use heapless::Vec;

use super::diag::{DiagKind, Severity};
use super::model::*;
use super::parser::*;
use super::values::Secs;
use crate::limits::*;

pub(crate) fn finish(p: &mut Parser<'_>) {
    globals(p);
    let n = p.cfg.instances.len();
    for i in 0..n {
        instance(p, i);
    }
    duplicates(p);
    scripts(p);
    trackers(p);
    track_refs(p);
    sync_groups(p);
    tracking_weights(p);
    fifos(p);
    interfaces(p);
    script_security(p);
}

/// keepalived (`vrrp_complete_init`): an unset `vrrp_garp_lower_prio_delay`
/// / `_repeat` takes the value of `vrrp_garp_master_delay` / `_repeat`.
fn globals(p: &mut Parser<'_>) {
    let g = &mut p.cfg.global_defs;
    if p.global_set & GSET_GARP_L_DELAY == 0 {
        g.vrrp_garp_lower_prio_delay_s = g.vrrp_garp_master_delay_s;
    }
    if p.global_set & GSET_GARP_L_REPEAT == 0 {
        g.vrrp_garp_lower_prio_repeat = g.vrrp_garp_master_repeat;
    }
}

/// keepalived: the same FIFO as `notify_fifo` and `vrrp_notify_fifo`
/// would get every line twice: the VRRP one is ignored.
fn fifos(p: &mut Parser<'_>) {
    let g = &p.cfg.global_defs;
    if let (Some(a), Some(b)) = (&g.notify_fifo, &g.vrrp_notify_fifo)
        && a.path == b.path
    {
        let (span, path) = (b.span, b.path.clone());
        p.warn(
            span,
            format_args!("notify FIFO {path} is both notify_fifo and vrrp_notify_fifo: vrrp_notify_fifo ignored"),
        );
        p.cfg.global_defs.vrrp_notify_fifo = None;
    }
}

fn fam(a: &IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    }
}

fn fam_name(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    }
}

fn apply_globals(inst: &mut InstanceConfig, set: u32, g: &GlobalDefs) {
    if set & SET_VERSION == 0 {
        inst.version = g.vrrp_version;
    }
    if set & SET_ACCEPT == 0 {
        inst.accept = !g.vrrp_strict;
    }
    if set & SET_LOWER_PRIO == 0 {
        inst.lower_prio_no_advert = g.vrrp_lower_prio_no_advert;
    }
    if set & SET_HIGHER_PRIO == 0 {
        inst.higher_prio_send_advert = g.vrrp_higher_prio_send_advert && !g.vrrp_strict;
    }
    if set & SET_SKIP_CHECK == 0 {
        inst.skip_check_adv_addr = g.vrrp_skip_check_adv_addr;
    }
    if set & SET_GARP_M_DELAY == 0 {
        inst.garp_master_delay_s = g.vrrp_garp_master_delay_s;
    }
    if set & SET_GARP_M_REPEAT == 0 {
        inst.garp_master_repeat = g.vrrp_garp_master_repeat;
    }
    if set & SET_GARP_M_REFRESH == 0 {
        inst.garp_master_refresh_s = g.vrrp_garp_master_refresh_s;
    }
    if set & SET_GARP_M_REFRESH_REPEAT == 0 {
        inst.garp_master_refresh_repeat = g.vrrp_garp_master_refresh_repeat;
    }
    if set & SET_GARP_L_DELAY == 0 {
        inst.garp_lower_prio_delay_s = g.vrrp_garp_lower_prio_delay_s;
    }
    if set & SET_GARP_L_REPEAT == 0 {
        inst.garp_lower_prio_repeat = g.vrrp_garp_lower_prio_repeat;
    }
    if set & SET_SMTP == 0 {
        inst.smtp_alert = g.smtp_alert;
    }
    inst.garp_interval_us = g.vrrp_garp_interval_us;
    inst.gna_interval_us = g.vrrp_gna_interval_us;
}

fn instance(p: &mut Parser<'_>, i: usize) {
    let ex = p.extra[i];
    let strict = p.cfg.global_defs.vrrp_strict;
    {
        let g = p.cfg.global_defs.clone();
        apply_globals(&mut p.cfg.instances[i], ex.set, &g);
    }
    let span = p.cfg.instances[i].span;
    let name = p.cfg.instances[i].name.clone();

    // Required keywords.
    if p.cfg.instances[i].interface.is_empty() && ex.interface_span.line == 0 {
        p.err(
            span,
            format_args!("vrrp_instance {name}: 'interface' is missing"),
        );
    }
    if p.cfg.instances[i].virtual_router_id == 0 && ex.vrid_span.line == 0 {
        p.err(
            span,
            format_args!("vrrp_instance {name}: 'virtual_router_id' (1 to 255) is missing"),
        );
    }
    let first = p.cfg.instances[i]
        .virtual_ipaddress
        .first()
        .map(|v| (v.addr, v.span));
    if first.is_none() && ex.vip_lines {
        // Every virtual_ipaddress line was refused (reported): nothing to
        // check the rest against.
        return;
    }
    let first_addr = first.map(|f| f.0);

    // Address family: of the first VIP; without VIPs (keepalived) of the
    // first unicast_src_ip / mcast_src_ip / unicast_peer, else IPv4.
    let family = match first_addr {
        Some(a) => fam(&a),
        None => {
            let c = &p.cfg.instances[i];
            c.unicast_src_ip
                .or(c.mcast_src_ip)
                .or(c.unicast_peer.first().copied())
                .map(|a| fam(&a))
                .unwrap_or(AddressFamily::Ipv4)
        }
    };
    p.cfg.instances[i].family = family;
    let nv = p.cfg.instances[i].virtual_ipaddress.len();
    for k in 1..nv {
        let v = &p.cfg.instances[i].virtual_ipaddress[k];
        let (a, s) = (v.addr, v.span);
        if fam(&a) != family {
            p.err(
                s,
                format_args!(
                    "{a} is {} but the first virtual_ipaddress of {name} is {}: one instance serves one address family (use a second vrrp_instance, or virtual_ipaddress_excluded)",
                    fam_name(fam(&a)),
                    fam_name(family)
                ),
            );
        }
    }
    let inst_span = span;
    let check_fam = |p: &mut Parser<'_>, kw: &str, a: Option<IpAddr>| {
        if let Some(a) = a
            && fam(&a) != family
        {
            p.err(
                inst_span,
                format_args!(
                    "vrrp_instance {name}: {kw} {a} is not {} like its virtual addresses",
                    fam_name(family)
                ),
            );
        }
    };
    let (usrc, msrc) = (
        p.cfg.instances[i].unicast_src_ip,
        p.cfg.instances[i].mcast_src_ip,
    );
    check_fam(p, "unicast_src_ip", usrc);
    check_fam(p, "mcast_src_ip", msrc);
    let npeer = p.cfg.instances[i].unicast_peer.len();
    for k in 0..npeer {
        let a = p.cfg.instances[i].unicast_peer[k];
        check_fam(p, "unicast_peer", Some(a));
    }

    // Version.
    if family == AddressFamily::Ipv6 && p.cfg.instances[i].version == VrrpVersion::V2 {
        if strict {
            p.err(span, format_args!("vrrp_instance {name}: IPv6 needs VRRP version 3; vrrp_strict forbids IPv6 with version 2"));
        } else if ex.set & SET_VERSION != 0 {
            p.warn(
                span,
                format_args!("vrrp_instance {name}: VRRP version 2 has no IPv6; using version 3"),
            );
        }
        p.cfg.instances[i].version = VrrpVersion::V3;
    }
    let version = p.cfg.instances[i].version;

    // No VIPs (keepalived): an error for VRRPv3 (IPv6 included) and in
    // strict mode; otherwise the instance runs, advertising no address.
    if first_addr.is_none() {
        if version == VrrpVersion::V3 || strict {
            let why = if strict {
                "vrrp_strict"
            } else {
                "VRRP version 3"
            };
            p.err(
                span,
                format_args!(
                    "vrrp_instance {name}: no virtual_ipaddress; {why} needs at least one address"
                ),
            );
        } else {
            p.warn(
                span,
                format_args!(
                    "vrrp_instance {name}: no virtual_ipaddress; it runs and advertises no address (keepalived: at least one is sensible)"
                ),
            );
        }
    }

    // advert_int rounding.
    let us = ex.advert_us.unwrap_or(1_000_000);
    let at = if ex.advert_us.is_some() {
        ex.advert_span
    } else {
        span
    };
    let cs: u16 = match version {
        VrrpVersion::V2 => {
            let mut secs = (us + 500_000) / 1_000_000;
            if secs == 0 {
                secs = 1;
            }
            if !us.is_multiple_of(1_000_000) {
                p.warn(
                    at,
                    format_args!(
                        "advert_int {} s: VRRPv2 uses whole seconds; using {secs} s",
                        Secs(us)
                    ),
                );
            }
            (secs.min(255) * 100) as u16
        }
        VrrpVersion::V3 => {
            let mut cs = (us + 5_000) / 10_000;
            if cs == 0 {
                p.err(
                    at,
                    format_args!(
                        "advert_int {} s is below VRRPv3's minimum of 0.01 s",
                        Secs(us)
                    ),
                );
                cs = 1;
            } else if cs > 4095 {
                p.warn(
                    at,
                    format_args!(
                        "advert_int {} s is above VRRPv3's maximum; using 40.95 s",
                        Secs(us)
                    ),
                );
                cs = 4095;
            } else if !us.is_multiple_of(10_000) {
                p.warn(
                    at,
                    format_args!(
                        "advert_int {} s: VRRPv3 uses steps of 0.01 s; using {} s",
                        Secs(us),
                        Secs(cs * 10_000)
                    ),
                );
            }
            cs as u16
        }
    };
    p.cfg.instances[i].advert_int_cs = cs;

    // priority and state (keepalived's vrrp_complete_instance): an unset
    // priority follows the state (MASTER: 255, the address owner; else
    // 100), an unset state follows the priority (255: MASTER, else
    // BACKUP); in strict mode state MASTER goes with priority 255 and only
    // with it.
    if ex.set & SET_PRIORITY == 0 {
        p.cfg.instances[i].priority = match p.cfg.instances[i].state {
            Some(InitialState::Master) => 255,
            _ => 100,
        };
    }
    let owner = p.cfg.instances[i].priority == 255;
    let derived = if owner {
        InitialState::Master
    } else {
        InitialState::Backup
    };
    match p.cfg.instances[i].state {
        None => p.cfg.instances[i].state = Some(derived),
        Some(s) if strict && s != derived => {
            let (now, why) = if owner {
                (
                    "MASTER",
                    "the address owner (priority 255) starts as MASTER",
                )
            } else {
                (
                    "BACKUP",
                    "only the address owner (priority 255) may use 'state MASTER'",
                )
            };
            p.warn(
                ex.state_span,
                format_args!("vrrp_strict: {why}; using state {now}"),
            );
            p.cfg.instances[i].state = Some(derived);
        }
        Some(_) => {}
    }

    // Authentication.
    let auth = p.cfg.instances[i].authentication.auth_type;
    if ex.set & (SET_AUTH_TYPE | SET_AUTH_PASS) != 0 {
        let drop_reason: Option<&str> = if version == VrrpVersion::V3 {
            Some("VRRPv3 has no authentication")
        } else if strict {
            Some("vrrp_strict forbids authentication")
        } else if ex.set & SET_AUTH_TYPE == 0 {
            Some("'auth_type' is missing")
        } else if ex.set & SET_AUTH_PASS == 0 {
            Some("'auth_pass' is missing or empty")
        } else {
            None
        };
        if auth == AuthType::Ah && family == AddressFamily::Ipv6 {
            p.err(
                ex.auth_span,
                format_args!("vrrp_instance {name}: AH authentication does not work with IPv6"),
            );
        } else if let Some(why) = drop_reason {
            p.warn(ex.auth_span, format_args!("authentication ignored: {why}"));
            p.cfg.instances[i].authentication = Authentication::default();
        }
    }
    // keepalived: "Initial state master is incompatible with AH
    // authentication - clearing": a node must hear the AH sequence number
    // before it may take over.
    if p.cfg.instances[i].authentication.auth_type == AuthType::Ah
        && p.cfg.instances[i].state == Some(InitialState::Master)
        && p.cfg.instances[i].priority != 255
    {
        p.warn(
            ex.state_span,
            format_args!("vrrp_instance {name}: state MASTER is incompatible with AH authentication (the AH sequence number must be heard first); starting as BACKUP"),
        );
        p.cfg.instances[i].state = Some(InitialState::Backup);
    }

    // Preemption (with the derived priority and state).
    let prio = p.cfg.instances[i].priority;
    let state = p.cfg.instances[i].state;
    if p.cfg.instances[i].nopreempt {
        let why = if prio == 255 {
            Some("the address owner (priority 255) always preempts")
        } else if state == Some(InitialState::Master) {
            Some("it needs 'state BACKUP'")
        } else {
            None
        };
        if let Some(why) = why {
            p.warn(ex.nopreempt_span, format_args!("nopreempt ignored: {why}"));
            p.cfg.instances[i].nopreempt = false;
        }
    }
    if p.cfg.instances[i].preempt_delay_ms > 0 {
        let why = if prio == 255 {
            Some("the address owner (priority 255) preempts at once")
        } else if state == Some(InitialState::Master) {
            Some("it does not work with 'state MASTER'")
        } else if p.cfg.instances[i].nopreempt {
            Some("'nopreempt' is set")
        } else if strict {
            Some("vrrp_strict forbids it")
        } else {
            None
        };
        if let Some(why) = why {
            p.warn(
                ex.preempt_delay_span,
                format_args!("preempt_delay ignored: {why}"),
            );
            p.cfg.instances[i].preempt_delay_ms = 0;
        }
    }

    // The rest of strict mode.
    if strict {
        if !p.cfg.instances[i].unicast_peer.is_empty() {
            p.err(span, format_args!("vrrp_instance {name}: vrrp_strict forbids unicast_peer (RFC VRRP is multicast only)"));
        }
        if ex.set & SET_ACCEPT != 0 {
            if p.cfg.instances[i].accept && prio != 255 && version == VrrpVersion::V2 {
                p.warn(
                    ex.accept_span,
                    format_args!("vrrp_strict: 'accept' is not part of VRRPv2 (RFC 3768); ignored"),
                );
                p.cfg.instances[i].accept = false;
            }
        } else {
            p.cfg.instances[i].accept = prio == 255;
        }
        if p.cfg.instances[i].down_timer_adverts != 3 {
            p.warn(
                ex.down_timer_span,
                format_args!("vrrp_strict: down_timer_adverts must stay 3; using 3"),
            );
            p.cfg.instances[i].down_timer_adverts = 3;
        }
        if ex.set & SET_LOWER_PRIO != 0 && !p.cfg.instances[i].lower_prio_no_advert {
            p.warn(
                span,
                format_args!("vrrp_instance {name}: vrrp_strict: lower_prio_no_advert must be on; turning it on"),
            );
        }
        p.cfg.instances[i].lower_prio_no_advert = true;
        // No repeated GARPs after a lower-priority advert: unset -> 0,
        // set -> 0 with a warning (keepalived: "Strict mode requires no
        // repeat garps").
        if p.cfg.instances[i].garp_lower_prio_repeat != 0 {
            if ex.set & SET_GARP_L_REPEAT != 0 {
                p.warn(
                    ex.garp_l_repeat_span,
                    format_args!(
                        "vrrp_strict: garp_lower_prio_repeat must be 0 (no repeated GARPs); using 0"
                    ),
                );
            }
            p.cfg.instances[i].garp_lower_prio_repeat = 0;
        }
        if p.cfg.instances[i].garp_lower_prio_delay_s != 0 {
            if ex.set & SET_GARP_L_DELAY != 0 {
                p.warn(
                    ex.garp_l_delay_span,
                    format_args!(
                        "vrrp_strict: garp_lower_prio_delay must be 0 (no repeated GARPs); using 0"
                    ),
                );
            }
            p.cfg.instances[i].garp_lower_prio_delay_s = 0;
        }
        if p.cfg.instances[i].higher_prio_send_advert {
            p.warn(
                span,
                format_args!("vrrp_instance {name}: vrrp_strict: higher_prio_send_advert must be off; turning it off"),
            );
            p.cfg.instances[i].higher_prio_send_advert = false;
        }
        if let Some(IpAddr::V6(a)) = first_addr
            && (a.segments()[0] & 0xffc0) != 0xfe80
        {
            let s = p.cfg.instances[i].virtual_ipaddress[0].span;
            p.err(s, format_args!("vrrp_strict: the first IPv6 virtual address must be link-local (fe80::/10), not {a}"));
        }
    }

    // Accept mode off (no_accept, or vrrp_strict's default below priority
    // 255): keepalived then drops traffic to the VIPs with nftables or
    // iptables rules while MASTER. keepvip installs no firewall rule: say so.
    if !p.cfg.instances[i].accept && prio != 255 {
        let (at, what) = if ex.set & SET_ACCEPT != 0 {
            (ex.accept_span, "no_accept")
        } else {
            (span, "vrrp_strict (no accept mode below priority 255)")
        };
        p.warn(
            at,
            format_args!("{what} is not enforced: keepvip installs no firewall rule dropping traffic to the VIPs (keepalived adds nftables/iptables rules)"),
        );
    }
}

/// Whether instance `i`'s address family is known: it has VIPs, or no
/// `virtual_ipaddress` line at all (every line refused: unknown).
fn resolved(p: &Parser<'_>, i: usize) -> bool {
    !p.cfg.instances[i].virtual_ipaddress.is_empty() || !p.extra[i].vip_lines
}

fn duplicates(p: &mut Parser<'_>) {
    let n = p.cfg.instances.len();
    for j in 0..n {
        for i in 0..j {
            let (a, b) = (&p.cfg.instances[i], &p.cfg.instances[j]);
            if a.name == b.name && !a.name.is_empty() {
                let (s, nm, l) = (b.span, b.name.clone(), a.span.line);
                p.err(
                    s,
                    format_args!("vrrp_instance {nm} is defined twice (first at line {l})"),
                );
                break;
            }
        }
        for i in 0..j {
            let (a, b) = (&p.cfg.instances[i], &p.cfg.instances[j]);
            if a.virtual_router_id != 0
                && a.virtual_router_id == b.virtual_router_id
                && a.interface == b.interface
                && !a.interface.is_empty()
                && a.family == b.family
                && resolved(p, i)
                && resolved(p, j)
            {
                let at = if p.extra[j].vrid_span.line != 0 {
                    p.extra[j].vrid_span
                } else {
                    b.span
                };
                let (vrid, ifn, other, fam) = (
                    b.virtual_router_id,
                    b.interface.clone(),
                    a.name.clone(),
                    fam_name(a.family),
                );
                p.err(
                    at,
                    format_args!(
                        "virtual_router_id {vrid} is already used for {fam} on {ifn} by vrrp_instance {other}; each VRID must be unique per interface and family"
                    ),
                );
                break;
            }
        }
    }
}

fn scripts(p: &mut Parser<'_>) {
    for i in 0..p.cfg.scripts.len() {
        let s = &p.cfg.scripts[i];
        let (span, name, empty) = (s.span, s.name.clone(), s.script.is_empty());
        if empty {
            p.err(
                span,
                format_args!("vrrp_script {name}: 'script' is missing"),
            );
        }
        if !p.scripts_extra[i].timeout_set {
            p.cfg.scripts[i].timeout_ms = p.cfg.scripts[i].interval_ms;
        }
        for k in 0..i {
            if p.cfg.scripts[k].name == name {
                p.err(span, format_args!("vrrp_script {name} is defined twice"));
                break;
            }
        }
    }
}

fn trackers(p: &mut Parser<'_>) {
    for i in 0..p.cfg.track_processes.len() {
        let t = &p.cfg.track_processes[i];
        let (span, name, empty, bad_q) = (
            t.span,
            t.name.clone(),
            t.process.is_empty(),
            t.quorum_max < t.quorum,
        );
        if empty {
            p.err(
                span,
                format_args!("vrrp_track_process {name}: 'process' is missing"),
            );
        }
        if bad_q {
            p.err(
                span,
                format_args!("vrrp_track_process {name}: quorum_max is below quorum"),
            );
        }
        if (0..i).any(|k| p.cfg.track_processes[k].name == name) {
            p.err(
                span,
                format_args!("vrrp_track_process {name} is defined twice"),
            );
        }
    }
    for i in 0..p.cfg.track_files.len() {
        let t = &p.cfg.track_files[i];
        let (span, name, empty) = (t.span, t.name.clone(), t.file.is_empty());
        if empty {
            p.err(
                span,
                format_args!("vrrp_track_file {name}: 'file' is missing"),
            );
        }
        if (0..i).any(|k| p.cfg.track_files[k].name == name) {
            p.err(
                span,
                format_args!("vrrp_track_file {name} is defined twice"),
            );
        }
    }
}

fn track_refs(p: &mut Parser<'_>) {
    let cfg = &*p.cfg;
    let d = &mut *p.d;
    let mut check = |list: &[TrackRef], kind: TrackKind| {
        for r in list {
            let found = match kind {
                TrackKind::Script => cfg.scripts.iter().any(|s| s.name == r.name),
                TrackKind::Process => cfg.track_processes.iter().any(|s| s.name == r.name),
                TrackKind::File => cfg.track_files.iter().any(|s| s.name == r.name),
            };
            if !found {
                let block = match kind {
                    TrackKind::Script => "vrrp_script",
                    TrackKind::Process => "vrrp_track_process",
                    TrackKind::File => "vrrp_track_file",
                };
                d.push(
                    Severity::Error,
                    DiagKind::General,
                    r.span,
                    format_args!(
                        "{} '{}' is not defined: there is no {block} {}",
                        kind.keyword(),
                        r.name,
                        r.name
                    ),
                );
            }
        }
    };
    for inst in cfg.instances.iter() {
        check(&inst.track_script, TrackKind::Script);
        check(&inst.track_process, TrackKind::Process);
        check(&inst.track_file, TrackKind::File);
    }
    for g in cfg.sync_groups.iter() {
        check(&g.track_script, TrackKind::Script);
        check(&g.track_process, TrackKind::Process);
        check(&g.track_file, TrackKind::File);
    }
}

fn sync_groups(p: &mut Parser<'_>) {
    for m in 0..p.members.len() {
        let pm = p.members[m].clone();
        let gx = usize::from(pm.group);
        let Some(ix) = p.cfg.instances.iter().position(|i| i.name == pm.name) else {
            p.err(
                pm.span,
                format_args!(
                    "vrrp_sync_group member '{}' is not a vrrp_instance",
                    pm.name
                ),
            );
            continue;
        };
        let idx = ix as u16;
        if let Some(other) = p.cfg.instances[ix].sync_group {
            if usize::from(other) == gx {
                p.warn(
                    pm.span,
                    format_args!("'{}' is listed twice in this group", pm.name),
                );
            } else {
                let gname = p.cfg.sync_groups[usize::from(other)].name.clone();
                p.err(
                    pm.span,
                    format_args!("vrrp_instance {} is already in vrrp_sync_group {gname}; an instance can be in one group only", pm.name),
                );
            }
            continue;
        }
        p.cfg.instances[ix].sync_group = Some(pm.group);
        // Capacity enforced when the member was read.
        let _ = p.cfg.sync_groups[gx].members.push(idx);
    }
    for g in 0..p.cfg.sync_groups.len() {
        let grp = &p.cfg.sync_groups[g];
        if grp.members.len() == 1 && !p.groups[g].member_overflow {
            let (s, n) = (grp.span, grp.name.clone());
            p.warn(s, format_args!("vrrp_sync_group {n} has only one instance; a group is only useful with two or more"));
        } else if grp.members.is_empty() && !p.members.iter().any(|m| usize::from(m.group) == g) {
            let (s, n) = (grp.span, grp.name.clone());
            p.err(
                s,
                format_args!("vrrp_sync_group {n} has no 'group {{ ... }}' of instances"),
            );
        }
    }
}

/// The daemon watches every interface the configuration names (instance
/// `interface`, `track_interface` of instances and sync groups, VIP `dev`)
/// in tables of `MAX_INTERFACES` entries (`vrrp::Router`, the daemon's
/// interface table): more is a config error at the first name that does
/// not fit, so that `-t` refuses what the daemon could not start with.
fn interfaces(p: &mut Parser<'_>) {
    let mut seen: Vec<IfName, MAX_INTERFACES> = Vec::new();
    let mut over: Option<(Span, IfName)> = None;
    let mut note = |name: &IfName, at: Span| {
        if over.is_some() || name.is_empty() || seen.contains(name) {
            return;
        }
        if seen.push(name.clone()).is_err() {
            over = Some((at, name.clone()));
        }
    };
    for (c, ex) in p.cfg.instances.iter().zip(p.extra.iter()) {
        let at = if ex.interface_span.line != 0 {
            ex.interface_span
        } else {
            c.span
        };
        note(&c.interface, at);
        for t in &c.track_interface {
            note(&t.ifname, t.span);
        }
        for v in c
            .virtual_ipaddress
            .iter()
            .chain(c.virtual_ipaddress_excluded.iter())
        {
            if let Some(d) = &v.dev {
                note(d, v.span);
            }
        }
    }
    for g in p.cfg.sync_groups.iter().filter(|g| !g.members.is_empty()) {
        for t in &g.track_interface {
            note(&t.ifname, t.span);
        }
    }
    if let Some((at, name)) = over {
        p.err(
            at,
            format_args!(
                "too many interfaces: '{name}' is one more than the {MAX_INTERFACES} keepvip was built to watch (limit MAX_INTERFACES; rebuild with KEEPVIP_MAX_INTERFACES=N to raise it)"
            ),
        );
    }
}

/// Why keepalived takes the weights away from an instance's trackers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NoWeights {
    SyncGroup,
    Owner,
}

impl NoWeights {
    fn why(self) -> &'static str {
        match self {
            NoWeights::SyncGroup => "in a sync group without sync_group_tracking_weight",
            NoWeights::Owner => "on an address owner (priority 255)",
        }
    }
}

/// keepalived's rule for weighted trackers on sync group members and
/// address owners (see the module comment), applied to the model with a
/// warning (keepalived: a config error it corrects) for each change.
fn tracking_weights(p: &mut Parser<'_>) {
    for i in 0..p.cfg.instances.len() {
        // The instance's own interface is tracked as such (FAULT while down
        // unless dont_track_primary), never as a track_interface entry.
        let own = p.cfg.instances[i].interface.clone();
        if let Some(k) = p.cfg.instances[i]
            .track_interface
            .iter()
            .position(|t| t.ifname == own)
        {
            let (span, name) = (
                p.cfg.instances[i].track_interface[k].span,
                p.cfg.instances[i].name.clone(),
            );
            p.warn(
                span,
                format_args!(
                    "({name}) track_interface {own} ignored: it is the instance's own interface"
                ),
            );
            p.cfg.instances[i].track_interface.remove(k);
        }
        let inst = &p.cfg.instances[i];
        let group_rule = inst
            .sync_group
            .and_then(|g| p.cfg.sync_groups.get(usize::from(g)))
            .is_some_and(|g| !g.sync_group_tracking_weight);
        let rule = if group_rule {
            NoWeights::SyncGroup
        } else if inst.priority == 255 {
            NoWeights::Owner
        } else {
            continue;
        };
        let name = inst.name.clone();
        let why = rule.why();
        // track_interface.
        let mut k = 0;
        while k < p.cfg.instances[i].track_interface.len() {
            let t = p.cfg.instances[i].track_interface[k].clone();
            k += 1;
            if t.weight == 0 {
                continue;
            }
            if rule == NoWeights::SyncGroup {
                p.warn(
                    t.span,
                    format_args!(
                        "({name}) track_interface {} weight {} kept in a sync group: keepalived 2.2.7 logs it as ignored but applies it (use weight 0 for FAULT)",
                        t.ifname, t.weight
                    ),
                );
            } else {
                p.warn(
                    t.span,
                    format_args!(
                        "({name}) track_interface {} ignored: weighted {why}",
                        t.ifname
                    ),
                );
                k -= 1;
                p.cfg.instances[i].track_interface.remove(k);
            }
        }
        // track_script: weighted references are dropped.
        let mut k = 0;
        while k < p.cfg.instances[i].track_script.len() {
            let r = p.cfg.instances[i].track_script[k].clone();
            let w = ref_weight(p.cfg, TrackKind::Script, &r);
            if w == 0 {
                k += 1;
                continue;
            }
            p.warn(
                r.span,
                format_args!("({name}) track_script {} ignored: weight {w} {why}", r.name),
            );
            p.cfg.instances[i].track_script.remove(k);
        }
        // track_file: weight 1 (the default) becomes 0, others are dropped.
        let mut k = 0;
        while k < p.cfg.instances[i].track_file.len() {
            let r = p.cfg.instances[i].track_file[k].clone();
            let w = ref_weight(p.cfg, TrackKind::File, &r);
            if w == 0 {
                k += 1;
                continue;
            }
            if w == 1 {
                p.warn(
                    r.span,
                    format_args!(
                        "({name}) track_file {}: weight 1 (default) set to 0 {why}: a non-zero value = FAULT",
                        r.name
                    ),
                );
                p.cfg.instances[i].track_file[k].weight = Some(0);
                k += 1;
            } else {
                p.warn(
                    r.span,
                    format_args!("({name}) track_file {} ignored: weight {w} {why}", r.name),
                );
                p.cfg.instances[i].track_file.remove(k);
            }
        }
    }
    // A group's own trackers lose their weights when a member is an
    // address owner.
    for g in 0..p.cfg.sync_groups.len() {
        let grp = &p.cfg.sync_groups[g];
        let Some(owner) = grp
            .members
            .iter()
            .filter_map(|&m| p.cfg.instances.get(usize::from(m)))
            .find(|m| m.priority == 255)
            .map(|m| m.name.clone())
        else {
            continue;
        };
        let gname = grp.name.clone();
        for k in 0..p.cfg.sync_groups[g].track_interface.len() {
            let t = p.cfg.sync_groups[g].track_interface[k].clone();
            if t.weight != 0 {
                p.warn(
                    t.span,
                    format_args!(
                        "({gname}) track_interface {}: weight {} set to 0 (FAULT while down): member {owner} is an address owner (priority 255)",
                        t.ifname, t.weight
                    ),
                );
                p.cfg.sync_groups[g].track_interface[k].weight = 0;
            }
        }
        for kind in [TrackKind::Script, TrackKind::Process, TrackKind::File] {
            let n = group_refs(&p.cfg.sync_groups[g], kind).len();
            for k in 0..n {
                let r = group_refs(&p.cfg.sync_groups[g], kind)[k].clone();
                let w = ref_weight(p.cfg, kind, &r);
                if w == 0 {
                    continue;
                }
                p.warn(
                    r.span,
                    format_args!(
                        "({gname}) {} {}: weight {w} set to 0 (FAULT when failed): member {owner} is an address owner (priority 255)",
                        kind.keyword(),
                        r.name
                    ),
                );
                let list = match kind {
                    TrackKind::Script => &mut p.cfg.sync_groups[g].track_script,
                    TrackKind::Process => &mut p.cfg.sync_groups[g].track_process,
                    TrackKind::File => &mut p.cfg.sync_groups[g].track_file,
                };
                list[k].weight = Some(0);
            }
        }
    }
}

fn group_refs(g: &SyncGroup, kind: TrackKind) -> &[TrackRef] {
    match kind {
        TrackKind::Script => &g.track_script,
        TrackKind::Process => &g.track_process,
        TrackKind::File => &g.track_file,
    }
}

/// The weight a reference applies: its own, else its tracker's (0 for an
/// undefined tracker, which is an error of its own).
fn ref_weight(cfg: &Config, kind: TrackKind, r: &TrackRef) -> i16 {
    if let Some(w) = r.weight {
        return w;
    }
    match kind {
        TrackKind::Script => cfg
            .scripts
            .iter()
            .find(|s| s.name == r.name)
            .map(|s| s.weight),
        TrackKind::Process => cfg
            .track_processes
            .iter()
            .find(|s| s.name == r.name)
            .map(|s| s.weight),
        TrackKind::File => cfg
            .track_files
            .iter()
            .find(|s| s.name == r.name)
            .map(|s| s.weight),
    }
    .unwrap_or(0)
}

fn script_security(p: &mut Parser<'_>) {
    if p.cfg.global_defs.enable_script_security {
        return;
    }
    let uses = !p.cfg.scripts.is_empty()
        || p.cfg.instances.iter().any(|i| has_notify(&i.notify))
        || p.cfg.sync_groups.iter().any(|g| has_notify(&g.notify));
    if uses {
        p.d.push(
            Severity::Warning,
            DiagKind::ScriptSecurity,
            Span { file: 0, line: 0, col: 0 },
            format_args!(
                "scripts are configured but global_defs has no 'enable_script_security': scripts run as root even if non-root users can modify them"
            ),
        );
    }
    let _ = MAX_INSTANCES;
}

fn has_notify(n: &Notify) -> bool {
    n.notify.is_some()
        || n.notify_master.is_some()
        || n.notify_backup.is_some()
        || n.notify_fault.is_some()
        || n.notify_stop.is_some()
}
