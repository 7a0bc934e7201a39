//! Parser and validation unit tests over in-memory files.

use super::*;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::boxed::Box;
use std::string::{String, ToString};
use std::vec::Vec;

#[cfg(feature = "lvs")]
#[path = "lvs_tests.rs"]
mod lvs;

/// Runs `f` on a thread with a large stack: `Config` is about 1 MiB and an
/// unoptimised `Config::new_boxed()` builds it on the stack first, which
/// overflows the 2 MiB of a test thread.
pub(crate) fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(s, f)
            .expect("spawn test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Parses `text` as `/etc/keepalived/keepalived.conf` (plus `extra` files).
fn parse_with(text: &str, extra: &[(&str, &str)]) -> (Box<Config>, Diagnostics) {
    big_stack(|| parse_with_inner(text, extra))
}

fn parse_with_inner(text: &str, extra: &[(&str, &str)]) -> (Box<Config>, Diagnostics) {
    let mut files: Vec<(&str, &[u8])> = vec![("/etc/keepalived/keepalived.conf", text.as_bytes())];
    for (p, c) in extra {
        files.push((p, c.as_bytes()));
    }
    let src = MemorySource::new(&files);
    let mut cfg = Config::new_boxed();
    let mut d = Diagnostics::new();
    parse(&src, "/etc/keepalived/keepalived.conf", &mut cfg, &mut d);
    (cfg, d)
}

fn p(text: &str) -> (Box<Config>, Diagnostics) {
    parse_with(text, &[])
}

/// Diagnostics as "L:C severity message" lines.
fn lines(d: &Diagnostics) -> Vec<String> {
    d.iter()
        .map(|x| {
            format!(
                "{}:{} {} {}",
                x.span.line,
                x.span.col,
                if x.severity == Severity::Error {
                    "E"
                } else {
                    "W"
                },
                x.message
            )
        })
        .collect()
}

fn has(d: &Diagnostics, line: u32, sev: Severity, needle: &str) -> bool {
    d.iter()
        .any(|x| x.span.line == line && x.severity == sev && x.message.contains(needle))
}

#[track_caller]
fn assert_diag(d: &Diagnostics, line: u32, sev: Severity, needle: &str) {
    assert!(
        has(d, line, sev, needle),
        "no {sev:?} at line {line} containing {needle:?}; got {:#?}",
        lines(d)
    );
}

#[track_caller]
fn assert_clean(d: &Diagnostics) {
    assert!(d.errors == 0 && d.warnings == 0, "{:#?}", lines(d));
}

/// A minimal instance with `body` inserted.
fn inst(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n{body}\n    virtual_ipaddress {{\n        192.0.2.100/24\n    }}\n}}\n"
    )
}

#[test]
fn boxed_config_on_a_big_stack() {
    let cfg = big_stack(Config::new_boxed);
    assert!(cfg.instances.is_empty());
}

#[test]
fn minimal_instance_defaults() {
    let (cfg, d) = p(&inst(""));
    assert_clean(&d);
    let i = &cfg.instances[0];
    assert_eq!(i.name.as_str(), "VI_1");
    assert_eq!(i.interface.as_str(), "eth0");
    assert_eq!(i.virtual_router_id, 51);
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_int_cs, 100);
    assert_eq!(i.version, VrrpVersion::V2);
    assert_eq!(i.family, AddressFamily::Ipv4);
    // keepalived: no state and priority 100 -> BACKUP.
    assert_eq!(i.state, Some(InitialState::Backup));
    assert!(i.accept);
    assert_eq!(i.garp_master_delay_s, 5);
    assert_eq!(i.garp_master_repeat, 5);
    assert_eq!(i.down_timer_adverts, 3);
    let v = &i.virtual_ipaddress[0];
    assert_eq!(v.addr, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)));
    assert_eq!(v.prefix_len, 24);
    assert_eq!((v.span.line, v.span.col), (6, 9));
    assert_eq!(cfg.files[0].as_str(), "/etc/keepalived/keepalived.conf");
}

#[test]
fn global_defs_are_parsed_and_applied() {
    let text = format!(
        "global_defs {{\n router_id edge1\n notification_email {{\n  ops@example.org\n  noc@example.org\n }}\n notification_email_from kv@example.org\n smtp_server 192.0.2.25 2525\n smtp_connect_timeout 10\n smtp_alert\n vrrp_mcast_group4 224.0.0.19\n vrrp_mcast_group6 ff02::13\n vrrp_skip_check_adv_addr\n vrrp_garp_interval 0.001\n vrrp_gna_interval 0.002\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 3\n vrrp_garp_master_refresh 60\n vrrp_garp_master_refresh_repeat 2\n vrrp_garp_lower_prio_delay 4\n vrrp_garp_lower_prio_repeat 6\n vrrp_lower_prio_no_advert\n vrrp_version 3\n enable_script_security\n script_user nobody nogroup\n notify_fifo /run/kv.fifo\n}}\n{}",
        inst("    garp_master_repeat 9")
    );
    let (cfg, d) = p(&text);
    assert_clean(&d);
    let g = &cfg.global_defs;
    assert_eq!(g.router_id.as_deref(), Some("edge1"));
    assert_eq!(g.notification_email.len(), 2);
    assert_eq!(g.notification_email_from.as_deref(), Some("kv@example.org"));
    assert_eq!(
        g.smtp_server,
        Some((IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25)), 2525))
    );
    assert_eq!(g.smtp_connect_timeout_s, 10);
    assert!(g.smtp_alert && g.vrrp_skip_check_adv_addr && g.vrrp_lower_prio_no_advert);
    assert_eq!(g.vrrp_mcast_group4, Ipv4Addr::new(224, 0, 0, 19));
    assert_eq!(
        g.vrrp_mcast_group6,
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x13)
    );
    assert_eq!(g.vrrp_garp_interval_us, 1000);
    assert_eq!(g.vrrp_gna_interval_us, 2000);
    assert_eq!(g.vrrp_version, VrrpVersion::V3);
    assert!(g.enable_script_security);
    assert_eq!(g.script_user.as_deref(), Some("nobody"));
    assert_eq!(g.script_group.as_deref(), Some("nogroup"));
    assert_eq!(g.notify_fifo.as_deref(), Some("/run/kv.fifo"));
    let i = &cfg.instances[0];
    assert_eq!(i.version, VrrpVersion::V3);
    assert!(i.smtp_alert && i.skip_check_adv_addr && i.lower_prio_no_advert);
    assert_eq!(i.garp_master_delay_s, 2);
    assert_eq!(i.garp_master_repeat, 9, "instance value wins");
    assert_eq!(i.garp_master_refresh_s, 60);
    assert_eq!(i.garp_master_refresh_repeat, 2);
    assert_eq!(i.garp_lower_prio_delay_s, 4);
    assert_eq!(i.garp_lower_prio_repeat, 6);
    assert_eq!(i.garp_interval_us, 1000);
    assert_eq!(i.gna_interval_us, 2000);
}

#[test]
fn global_defs_after_instances_still_apply() {
    let text = format!("{}global_defs {{\n vrrp_version 3\n}}\n", inst(""));
    let (cfg, d) = p(&text);
    assert_clean(&d);
    assert_eq!(cfg.instances[0].version, VrrpVersion::V3);
}

#[test]
fn instance_keywords() {
    let body = "    state BACKUP\n    priority 150\n    advert_int 2\n    nopreempt\n    unicast_src_ip 192.0.2.1\n    unicast_peer {\n        192.0.2.2\n        192.0.2.3\n    }\n    mcast_src_ip 192.0.2.1\n    no_accept\n    garp_master_delay 1\n    garp_master_refresh 30\n    garp_master_refresh_repeat 2\n    garp_lower_prio_delay 3\n    garp_lower_prio_repeat 4\n    lower_prio_no_advert\n    down_timer_adverts 5\n    dont_track_primary\n    smtp_alert false\n    notify_master \"/bin/m a b\"\n    notify_backup /bin/b x\n    notify_fault /bin/f\n    notify_stop /bin/s\n    notify /bin/n\n    notify_fifo /run/i.fifo\n    virtual_ipaddress_excluded {\n        2001:db8::5/64\n    }";
    let text = format!(
        "global_defs {{\n enable_script_security\n}}\n{}",
        inst(body)
    );
    let (cfg, d) = p(&text);
    // The one finding: no_accept is not enforced (no firewall rules).
    assert_eq!((d.errors, d.warnings), (0, 1), "{:#?}", lines(&d));
    assert_diag(&d, 17, Severity::Warning, "no_accept is not enforced");
    let i = &cfg.instances[0];
    assert_eq!(i.state, Some(InitialState::Backup));
    assert_eq!(i.priority, 150);
    assert_eq!(i.advert_int_cs, 200);
    assert!(i.nopreempt);
    assert!(i.is_unicast());
    assert_eq!(i.unicast_peer.len(), 2);
    assert_eq!(
        i.unicast_src_ip,
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
    );
    assert!(i.mcast_src_ip.is_some());
    assert!(!i.accept);
    assert_eq!(i.garp_master_delay_s, 1);
    assert_eq!(i.garp_master_refresh_s, 30);
    assert_eq!(i.garp_master_refresh_repeat, 2);
    assert_eq!(i.garp_lower_prio_delay_s, 3);
    assert_eq!(i.garp_lower_prio_repeat, 4);
    assert!(i.lower_prio_no_advert && i.dont_track_primary && !i.smtp_alert);
    assert_eq!(i.down_timer_adverts, 5);
    assert_eq!(
        cfg.cmd(i.notify.notify_master).map(|c| c.cmd.as_str()),
        Some("/bin/m a b")
    );
    // keepalived: `notify_* CMD [USER [GROUP]]`: an unquoted second word is
    // the user the command runs as.
    let b = cfg.cmd(i.notify.notify_backup).unwrap();
    assert_eq!(
        (b.cmd.as_str(), b.user.as_deref(), b.group.as_deref()),
        ("/bin/b", Some("x"), None)
    );
    assert_eq!(cfg.cmd(i.notify.notify_master).unwrap().user, None);
    assert_eq!(
        cfg.cmd(i.notify.notify_fault).map(|c| c.cmd.as_str()),
        Some("/bin/f")
    );
    assert_eq!(
        cfg.cmd(i.notify.notify_stop).map(|c| c.cmd.as_str()),
        Some("/bin/s")
    );
    assert_eq!(
        cfg.cmd(i.notify.notify).map(|c| c.cmd.as_str()),
        Some("/bin/n")
    );
    assert_eq!(i.notify_fifo.as_deref(), Some("/run/i.fifo"));
    assert_eq!(
        i.virtual_ipaddress_excluded.len(),
        1,
        "excluded may be another family"
    );
}

#[test]
fn vip_options() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.10/24 brd 192.0.2.255 dev eth1 scope link label eth1:vip\n  192.0.2.11\n  192.0.2.12/32 scope 200\n }\n}\n";
    let (cfg, d) = p(text);
    assert_clean(&d);
    let v = &cfg.instances[0].virtual_ipaddress;
    assert_eq!(v[0].brd, Some(Ipv4Addr::new(192, 0, 2, 255)));
    assert_eq!(v[0].dev.as_deref(), Some("eth1"));
    assert_eq!(v[0].scope, 253);
    assert_eq!(v[0].label.as_deref(), Some("eth1:vip"));
    assert_eq!(v[1].prefix_len, 32);
    assert_eq!(v[1].dev, None);
    assert_eq!(v[2].scope, 200);
}

#[test]
fn bad_vip_lines() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.10/33\n  192.0.2.300\n  192.0.2.11 dev\n  192.0.2.12 colour blue\n  2001:db8::1 brd 192.0.2.255\n  192.0.2.13\n }\n}\n";
    let (cfg, d) = p(text);
    assert_diag(&d, 5, Severity::Error, "prefix length must be 0 to 32");
    assert_diag(
        &d,
        6,
        Severity::Error,
        "'192.0.2.300' is not a valid address",
    );
    assert_diag(
        &d,
        7,
        Severity::Error,
        "'dev' in virtual_ipaddress needs a value",
    );
    assert_diag(&d, 8, Severity::Error, "unknown option 'colour'");
    assert_diag(&d, 9, Severity::Error, "'brd' must be an IPv4 address");
    assert_eq!(cfg.instances[0].virtual_ipaddress.len(), 1);
    assert_eq!(d.errors, 5);
}

#[test]
fn vrrp_script_process_file_and_refs() {
    let text = "global_defs {\n enable_script_security\n}\nvrrp_script chk {\n script \"/bin/check --fast\"\n interval 2\n weight -20 reverse\n rise 3\n fall 4\n init_fail\n user nobody nogroup\n}\nvrrp_script chk2 {\n script /bin/true\n interval 5\n timeout 2.5\n}\nvrrp_track_process proc {\n process dnsmasq --keep\n param_match initial\n full_command\n quorum 2\n quorum_max 3\n weight 10 reverse\n delay 1.5\n terminate_delay 4\n}\nvrrp_track_file tf {\n file /run/tf\n weight -3\n init_file 7 overwrite\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  192.0.2.1\n }\n track_script {\n  chk weight 30\n  chk2 reverse\n }\n track_process {\n  proc\n }\n track_file {\n  tf weight 2 reverse\n }\n track_interface {\n  eth1 weight -50 reverse\n  eth2\n }\n}\n";
    let (cfg, d) = p(text);
    assert_clean(&d);
    let s = &cfg.scripts[0];
    assert_eq!(s.script.as_str(), "/bin/check --fast");
    assert_eq!(
        (s.interval_ms, s.timeout_ms),
        (2000, 2000),
        "timeout defaults to interval"
    );
    assert_eq!(
        (s.weight, s.reverse, s.rise, s.fall, s.init_fail),
        (-20, true, 3, 4, true)
    );
    assert_eq!(s.user.as_deref(), Some("nobody"));
    assert_eq!(s.group.as_deref(), Some("nogroup"));
    assert_eq!(cfg.scripts[1].timeout_ms, 2500);
    assert_eq!(cfg.scripts[1].weight, 0);
    let t = &cfg.track_processes[0];
    assert_eq!(t.process.as_str(), "dnsmasq --keep");
    assert_eq!(t.param_match, ParamMatch::Initial);
    assert!(t.full_command && t.reverse);
    assert_eq!((t.quorum, t.quorum_max, t.weight), (2, 3, 10));
    assert_eq!((t.fork_delay_ms, t.terminate_delay_ms), (1500, 4000));
    let f = &cfg.track_files[0];
    assert_eq!(f.file.as_str(), "/run/tf");
    assert_eq!(f.weight, -3);
    assert_eq!(f.init_file, Some((7, true)));
    let i = &cfg.instances[0];
    assert_eq!(i.track_script[0].weight, Some(30));
    assert_eq!(i.track_script[1].weight, None);
    assert!(i.track_script[1].reverse);
    assert_eq!(i.track_process[0].name.as_str(), "proc");
    assert_eq!(
        (i.track_file[0].weight, i.track_file[0].reverse),
        (Some(2), true)
    );
    assert_eq!(i.track_interface[0].weight, -50);
    assert!(i.track_interface[0].reverse);
    assert_eq!(i.track_interface[1].weight, 0);
}

#[test]
fn unknown_tracker_names_are_errors() {
    let text = "vrrp_sync_group G {\n group {\n  VI_1\n }\n track_file {\n  nofile\n }\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  192.0.2.1\n }\n track_script {\n  missing\n }\n track_process {\n  noproc\n }\n}\n";
    let (_, d) = p(text);
    assert_diag(
        &d,
        16,
        Severity::Error,
        "track_script 'missing' is not defined",
    );
    assert_diag(
        &d,
        19,
        Severity::Error,
        "track_process 'noproc' is not defined",
    );
    assert_diag(&d, 6, Severity::Error, "track_file 'nofile' is not defined");
}

#[test]
fn weight_ranges() {
    let text = "vrrp_script a {\n script /bin/a\n weight 254\n}\nvrrp_track_file f {\n file /x\n weight -254\n}\n";
    let (_, d) = p(text);
    assert_diag(&d, 3, Severity::Error, "from -253 to 253");
    assert!(!has(&d, 7, Severity::Error, "weight"), "{:?}", lines(&d));
}

#[test]
fn sync_group_members_resolve() {
    let text = format!(
        "vrrp_sync_group G1 {{\n group {{\n  VI_1\n  VI_2\n }}\n notify /bin/g\n smtp_alert\n sync_group_tracking_weight\n}}\nglobal_defs {{\n enable_script_security\n}}\n{}vrrp_instance VI_2 {{\n interface eth1\n virtual_router_id 52\n virtual_ipaddress {{\n  198.51.100.1\n }}\n}}\n",
        inst("")
    );
    let (cfg, d) = p(&text);
    assert_clean(&d);
    let g = &cfg.sync_groups[0];
    assert_eq!(g.members.as_slice(), &[0, 1]);
    assert!(g.smtp_alert && g.sync_group_tracking_weight);
    assert_eq!(
        cfg.cmd(g.notify.notify).map(|c| c.cmd.as_str()),
        Some("/bin/g")
    );
    assert_eq!(cfg.instances[0].sync_group, Some(0));
    assert_eq!(cfg.instances[1].sync_group, Some(0));
}

/// keepalived's corrections of weighted trackers on a sync group member,
/// each a warning at the reference (keepalived 2.2.7: a config error it
/// corrects, `-t` exit 5 there, 4 here).
#[test]
fn sync_group_member_tracker_weights_are_corrected_with_warnings() {
    let text = format!(
        "vrrp_script w {{\n script /bin/true\n weight -3\n}}\n\
         vrrp_track_file f {{\n file /run/f\n}}\n\
         vrrp_track_file f5 {{\n file /run/f5\n weight 5\n}}\n\
         vrrp_sync_group G1 {{\n group {{\n  VI_1\n  VI_2\n }}\n}}\n{}\
         vrrp_instance VI_2 {{\n interface eth1\n virtual_router_id 52\n virtual_ipaddress {{\n  198.51.100.1\n }}\n}}\n",
        inst(
            "    track_script {\n        w\n    }\n    track_file {\n        f\n        f5\n    }\n    track_interface {\n        eth2 weight -20\n        eth0\n    }"
        )
    );
    let (cfg, d) = p(&text);
    // 6: the five below and the missing enable_script_security.
    assert_eq!((d.errors, d.warnings), (0, 6), "{:#?}", lines(&d));
    assert_diag(
        &d,
        22,
        Severity::Warning,
        "(VI_1) track_script w ignored: weight -3 in a sync group",
    );
    assert_diag(
        &d,
        25,
        Severity::Warning,
        "(VI_1) track_file f: weight 1 (default) set to 0",
    );
    assert_diag(
        &d,
        26,
        Severity::Warning,
        "(VI_1) track_file f5 ignored: weight 5",
    );
    assert_diag(
        &d,
        29,
        Severity::Warning,
        "track_interface eth2 weight -20 kept in a sync group",
    );
    assert_diag(
        &d,
        30,
        Severity::Warning,
        "track_interface eth0 ignored: it is the instance's own interface",
    );
    let i = &cfg.instances[0];
    assert!(i.track_script.is_empty());
    assert_eq!(i.track_file.len(), 1);
    assert_eq!(i.track_file[0].weight, Some(0));
    assert_eq!(i.track_interface.len(), 1);
    assert_eq!(i.track_interface[0].weight, -20);
}

/// A notify keyword written twice in an instance: keepalived keeps the
/// first and reports the repeat ("already specified - ignoring").
#[test]
fn notify_keyword_written_twice_keeps_the_first() {
    let (cfg, d) = p(&format!(
        "global_defs {{\n enable_script_security\n}}\n{}",
        inst("    notify_master /bin/first\n    notify_master /bin/second\n")
    ));
    assert_eq!(d.errors, 0, "{:#?}", lines(&d));
    assert_diag(
        &d,
        8,
        Severity::Warning,
        "'notify_master' already specified - ignoring",
    );
    let c = cfg.cmd(cfg.instances[0].notify.notify_master).unwrap();
    assert_eq!(c.cmd.as_str(), "/bin/first");
    assert_eq!(cfg.notify_cmds.len(), 1);
}

/// keepalived 2.2.7's global FIFOs: `notify_fifo` and `vrrp_notify_fifo`
/// are two slots, each `PATH [USER [GROUP]]`; a second one of a keyword is
/// ignored with a warning.
#[test]
fn notify_fifo_and_vrrp_notify_fifo_are_two_slots() {
    let (cfg, d) = p(&format!(
        "global_defs {{\n notify_fifo /run/a.fifo nobody nogroup\n vrrp_notify_fifo /run/b.fifo\n notify_fifo /run/c.fifo\n}}\n{}",
        inst("")
    ));
    assert_eq!((d.errors, d.warnings), (0, 1), "{:#?}", lines(&d));
    assert_diag(
        &d,
        4,
        Severity::Warning,
        "notify_fifo already specified - ignoring /run/c.fifo",
    );
    let g = &cfg.global_defs;
    let a = g.notify_fifo.as_ref().unwrap();
    assert_eq!(
        (a.path.as_str(), a.user.as_deref(), a.group.as_deref()),
        ("/run/a.fifo", Some("nobody"), Some("nogroup"))
    );
    assert_eq!(g.vrrp_notify_fifo.as_ref().unwrap().path, "/run/b.fifo");
}

#[test]
fn sync_group_errors() {
    let text = format!(
        "vrrp_sync_group G1 {{\n group {{\n  VI_1\n  VI_X\n }}\n}}\nvrrp_sync_group G2 {{\n group {{\n  VI_1\n }}\n}}\n{}",
        inst("")
    );
    let (_, d) = p(&text);
    assert_diag(&d, 4, Severity::Error, "'VI_X' is not a vrrp_instance");
    assert_diag(&d, 9, Severity::Error, "already in vrrp_sync_group G1");
    assert_diag(&d, 1, Severity::Warning, "only one instance");
}

// ----- keepalived's corrections -------------------------------------

#[test]
fn auth_pass_truncated_with_warning() {
    let (cfg, d) = p(&inst(
        "    authentication {\n        auth_type PASS\n        auth_pass verysecret\n    }",
    ));
    assert_diag(&d, 6, Severity::Warning, "only the first 8 are used");
    assert_eq!(d.errors, 0);
    let a = cfg.instances[0].authentication;
    assert_eq!(a.auth_type, AuthType::Pass);
    assert_eq!(&a.auth_pass, b"verysecr");
    // Short passwords are zero padded.
    let (cfg, d) = p(&inst(
        "    authentication {\n        auth_type PASS\n        auth_pass \"a b\"\n    }",
    ));
    assert_clean(&d);
    assert_eq!(&cfg.instances[0].authentication.auth_pass, b"a b\0\0\0\0\0");
}

#[test]
fn auth_dropped_for_v3_and_refused_for_ah_ipv6() {
    let (cfg, d) = p(&inst(
        "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }",
    ));
    assert_diag(&d, 5, Severity::Warning, "VRRPv3 has no authentication");
    assert_eq!(cfg.instances[0].authentication.auth_type, AuthType::None);

    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n authentication {\n  auth_type AH\n  auth_pass x\n }\n virtual_ipaddress {\n  fe80::1\n }\n}\n";
    let (_, d) = p(text);
    assert_diag(
        &d,
        4,
        Severity::Error,
        "AH authentication does not work with IPv6",
    );

    let (_, d) = p(&inst("    authentication {\n        auth_type PASS\n    }"));
    assert_diag(&d, 4, Severity::Warning, "'auth_pass' is missing");
}

#[test]
fn master_below_255_keeps_state_but_loses_nopreempt_and_delay() {
    let (cfg, d) = p(&inst(
        "    state MASTER\n    priority 200\n    nopreempt\n    preempt_delay 10",
    ));
    let i = &cfg.instances[0];
    assert_eq!(i.state, Some(InitialState::Master), "kept as written");
    assert!(!i.nopreempt);
    assert_eq!(i.preempt_delay_ms, 0);
    assert_diag(
        &d,
        6,
        Severity::Warning,
        "nopreempt ignored: it needs 'state BACKUP'",
    );
    assert_diag(&d, 7, Severity::Warning, "preempt_delay ignored");
    assert_eq!(d.errors, 0);
}

#[test]
fn nopreempt_rules() {
    // Allowed with BACKUP and with no state.
    for body in ["    state BACKUP\n    nopreempt", "    nopreempt"] {
        let (cfg, d) = p(&inst(body));
        assert_clean(&d);
        assert!(cfg.instances[0].nopreempt);
    }
    // Cleared for the address owner.
    let (cfg, d) = p(&inst(
        "    priority 255\n    nopreempt\n    preempt_delay 5",
    ));
    assert!(!cfg.instances[0].nopreempt);
    assert_eq!(cfg.instances[0].preempt_delay_ms, 0);
    assert_diag(&d, 5, Severity::Warning, "address owner");
    assert_diag(&d, 6, Severity::Warning, "address owner");
    // nopreempt wins over preempt_delay.
    let (cfg, d) = p(&inst(
        "    state BACKUP\n    nopreempt\n    preempt_delay 5",
    ));
    assert!(cfg.instances[0].nopreempt);
    assert_eq!(cfg.instances[0].preempt_delay_ms, 0);
    assert_diag(&d, 6, Severity::Warning, "'nopreempt' is set");
    // preempt_delay alone, with decimals.
    let (cfg, d) = p(&inst("    state BACKUP\n    preempt_delay 2.5"));
    assert_clean(&d);
    assert_eq!(cfg.instances[0].preempt_delay_ms, 2500);
    let (_, d) = p(&inst("    preempt_delay 1001"));
    assert_diag(&d, 4, Severity::Error, "from 0 to 1000");
}

#[test]
fn advert_int_rounding() {
    let cases: &[(&str, &str, u16, bool)] = &[
        ("2", "1", 100, false),
        ("2", "1.5", 200, true),
        ("2", "0.4", 100, true),
        ("2", "255", 25500, false),
        ("3", "0.1", 10, false),
        ("3", "0.123", 12, true),
        ("3", "1", 100, false),
        ("3", "41", 4095, true),
    ];
    for &(ver, adv, cs, warned) in cases {
        let (cfg, d) = p(&inst(&format!("    version {ver}\n    advert_int {adv}")));
        assert_eq!(d.errors, 0, "{ver} {adv}: {:?}", lines(&d));
        assert_eq!(cfg.instances[0].advert_int_cs, cs, "v{ver} {adv}");
        assert_eq!(d.warnings > 0, warned, "v{ver} {adv}: {:?}", lines(&d));
        if warned {
            assert_diag(&d, 5, Severity::Warning, "advert_int");
        }
    }
    for (ver, adv) in [("2", "256"), ("2", "0"), ("3", "0.001"), ("2", "x")] {
        let (_, d) = p(&inst(&format!("    version {ver}\n    advert_int {adv}")));
        assert!(d.errors > 0, "v{ver} {adv} must be refused");
        assert_diag(&d, 5, Severity::Error, "advert_int");
    }
}

#[test]
fn ipv6_instance_is_v3() {
    let text = "vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  2001:db8::1/64\n }\n}\n";
    let (cfg, d) = p(text);
    assert_clean(&d);
    assert_eq!(cfg.instances[0].family, AddressFamily::Ipv6);
    assert_eq!(cfg.instances[0].version, VrrpVersion::V3);
    let (_, d) = p(&text.replace(" interface eth0\n", " interface eth0\n version 2\n"));
    assert_diag(&d, 1, Severity::Warning, "using version 3");
}

#[test]
fn strict_mode_rules() {
    let text = "global_defs {\n vrrp_strict\n}\nvrrp_instance VI_1 {\n state MASTER\n priority 100\n interface eth0\n virtual_router_id 5\n preempt_delay 3\n accept\n down_timer_adverts 4\n authentication {\n  auth_type PASS\n  auth_pass abc\n }\n unicast_peer {\n  192.0.2.9\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    let (cfg, d) = p(text);
    let i = &cfg.instances[0];
    assert_diag(&d, 5, Severity::Warning, "only the address owner");
    assert_eq!(i.state, Some(InitialState::Backup));
    assert_diag(
        &d,
        9,
        Severity::Warning,
        "preempt_delay ignored: vrrp_strict",
    );
    assert_eq!(i.preempt_delay_ms, 0);
    assert_diag(&d, 10, Severity::Warning, "'accept' is not part of VRRPv2");
    assert!(!i.accept);
    assert_diag(&d, 11, Severity::Warning, "down_timer_adverts must stay 3");
    assert_eq!(i.down_timer_adverts, 3);
    assert_diag(
        &d,
        12,
        Severity::Warning,
        "vrrp_strict forbids authentication",
    );
    assert_eq!(i.authentication.auth_type, AuthType::None);
    assert_diag(&d, 4, Severity::Error, "vrrp_strict forbids unicast_peer");
    assert!(i.lower_prio_no_advert);

    // Address owner: MASTER allowed, accept on by default.
    let text = "global_defs {\n vrrp_strict\n}\nvrrp_instance VI_1 {\n state MASTER\n priority 255\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    let (cfg, d) = p(text);
    assert_clean(&d);
    assert!(cfg.instances[0].accept);
    assert_eq!(cfg.instances[0].state, Some(InitialState::Master));
    // Non-owner: accept off by default.
    let (cfg, _) = p(&text
        .replace("priority 255", "priority 100")
        .replace(" state MASTER\n", ""));
    assert!(!cfg.instances[0].accept);

    // IPv6: the first VIP must be link-local; v2 is an error.
    let text = "global_defs {\n vrrp_strict\n}\nvrrp_instance VI_6 {\n interface eth0\n version 3\n virtual_router_id 5\n virtual_ipaddress {\n  2001:db8::1\n }\n}\n";
    let (_, d) = p(text);
    assert_diag(&d, 9, Severity::Error, "must be link-local");
    let (_, d) = p(&text
        .replace("version 3", "version 2")
        .replace("2001:db8::1", "fe80::1"));
    assert_diag(
        &d,
        4,
        Severity::Error,
        "vrrp_strict forbids IPv6 with version 2",
    );
}

/// keepalived (vrrp_complete_instance): an unset priority follows the
/// state (MASTER: 255, the address owner; else 100), an unset state
/// follows the priority, and the nopreempt / preempt_delay corrections use
/// the derived values.
#[test]
fn priority_and_state_derive_from_each_other() {
    let cases: &[(&str, u8, InitialState)] = &[
        ("    state MASTER", 255, InitialState::Master),
        ("    state BACKUP", 100, InitialState::Backup),
        ("", 100, InitialState::Backup),
        ("    priority 255", 255, InitialState::Master),
        ("    priority 254", 254, InitialState::Backup),
        (
            "    state MASTER\n    priority 200",
            200,
            InitialState::Master,
        ),
        (
            "    state BACKUP\n    priority 255",
            255,
            InitialState::Backup,
        ),
    ];
    for &(body, prio, state) in cases {
        let (cfg, d) = p(&inst(body));
        assert_clean(&d);
        assert_eq!(cfg.instances[0].priority, prio, "{body:?}");
        assert_eq!(cfg.instances[0].state, Some(state), "{body:?}");
    }
    // state MASTER without priority is the owner: nopreempt and
    // preempt_delay are cleared because of priority 255.
    let (cfg, d) = p(&inst(
        "    state MASTER\n    nopreempt\n    preempt_delay 4",
    ));
    let i = &cfg.instances[0];
    assert_eq!(i.priority, 255);
    assert!(!i.nopreempt);
    assert_eq!(i.preempt_delay_ms, 0);
    assert_diag(
        &d,
        5,
        Severity::Warning,
        "nopreempt ignored: the address owner (priority 255)",
    );
    assert_diag(
        &d,
        6,
        Severity::Warning,
        "preempt_delay ignored: the address owner (priority 255)",
    );
    // state BACKUP without priority: 100, nopreempt kept.
    let (cfg, d) = p(&inst("    state BACKUP\n    nopreempt"));
    assert_clean(&d);
    assert_eq!(cfg.instances[0].priority, 100);
    assert!(cfg.instances[0].nopreempt);
    // AH: state MASTER without priority is the owner, so it stays MASTER
    // (keepalived 2.2.7 derives the priority before the AH rule).
    let (cfg, d) = p(&inst(
        "    state MASTER\n    authentication {\n        auth_type AH\n        auth_pass secret\n    }",
    ));
    assert_clean(&d);
    assert_eq!(cfg.instances[0].state, Some(InitialState::Master));
    assert_eq!(cfg.instances[0].priority, 255);
}

/// vrrp_strict pairs state and priority both ways (keepalived 2.2.7: "State
/// MASTER must match being address owner"), zeroes garp_lower_prio_* (a
/// warning when written), keeps lower_prio_no_advert on, and refuses
/// instances without VIPs.
#[test]
fn strict_mode_state_priority_pairing_and_garps() {
    let g = "global_defs {\n vrrp_strict\n}\n";
    // BACKUP with 255 -> MASTER; MASTER below 255 -> BACKUP.
    let (cfg, d) = p(&format!(
        "{g}{}",
        inst("    state BACKUP\n    priority 255")
    ));
    assert_diag(
        &d,
        7,
        Severity::Warning,
        "vrrp_strict: the address owner (priority 255) starts as MASTER; using state MASTER",
    );
    assert_eq!(cfg.instances[0].state, Some(InitialState::Master));
    let (cfg, d) = p(&format!(
        "{g}{}",
        inst("    state MASTER\n    priority 254")
    ));
    assert_diag(&d, 7, Severity::Warning, "using state BACKUP");
    assert_eq!(cfg.instances[0].state, Some(InitialState::Backup));
    // MASTER without priority: the owner, consistent, no warning.
    let (cfg, d) = p(&format!("{g}{}", inst("    state MASTER")));
    assert_clean(&d);
    assert_eq!(cfg.instances[0].priority, 255);
    assert_eq!(cfg.instances[0].state, Some(InitialState::Master));
    // garp_lower_prio_*: written -> warning and 0; unset -> 0 silently,
    // even with global values.
    let (cfg, d) = p(&format!(
        "{g}{}",
        inst(
            "    priority 255\n    garp_lower_prio_repeat 3\n    garp_lower_prio_delay 2\n    lower_prio_no_advert false"
        )
    ));
    let i = &cfg.instances[0];
    assert_diag(
        &d,
        8,
        Severity::Warning,
        "vrrp_strict: garp_lower_prio_repeat must be 0",
    );
    assert_diag(
        &d,
        9,
        Severity::Warning,
        "vrrp_strict: garp_lower_prio_delay must be 0",
    );
    assert_diag(
        &d,
        4,
        Severity::Warning,
        "vrrp_strict: lower_prio_no_advert must be on",
    );
    assert_eq!(
        (i.garp_lower_prio_repeat, i.garp_lower_prio_delay_s),
        (0, 0)
    );
    assert!(i.lower_prio_no_advert);
    let (cfg, d) = p(&format!(
        "global_defs {{\n vrrp_strict\n vrrp_garp_lower_prio_repeat 4\n vrrp_garp_lower_prio_delay 6\n}}\n{}",
        inst("    priority 255")
    ));
    assert_clean(&d);
    let i = &cfg.instances[0];
    assert_eq!(
        (i.garp_lower_prio_repeat, i.garp_lower_prio_delay_s),
        (0, 0)
    );
    // No VIPs: an error in strict mode.
    let (_, d) = p(&format!(
        "{g}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n priority 255\n}}\n"
    ));
    assert_diag(
        &d,
        4,
        Severity::Error,
        "no virtual_ipaddress; vrrp_strict needs at least one address",
    );
}

/// keepalived: unset global vrrp_garp_lower_prio_delay / _repeat follow the
/// global vrrp_garp_master_delay / _repeat, and an instance's unset
/// garp_lower_prio_* take the global lower-priority values (not the
/// instance's own garp_master_*: checked against keepalived 2.2.7's
/// configuration dump).
#[test]
fn garp_lower_prio_defaults_follow_garp_master() {
    let (cfg, d) = p(&inst(""));
    assert_clean(&d);
    let (g, i) = (&cfg.global_defs, &cfg.instances[0]);
    assert_eq!(
        (
            g.vrrp_garp_lower_prio_repeat,
            g.vrrp_garp_lower_prio_delay_s
        ),
        (5, 5)
    );
    assert_eq!(
        (i.garp_lower_prio_repeat, i.garp_lower_prio_delay_s),
        (5, 5)
    );
    // Global master values set: the lower-priority ones follow, also when
    // global_defs comes after the instance.
    for order in [0, 1] {
        let gd = "global_defs {\n vrrp_garp_master_repeat 3\n vrrp_garp_master_delay 7\n}\n";
        let body = inst("    garp_master_repeat 2\n    garp_master_delay 9");
        let text = if order == 0 {
            format!("{gd}{body}")
        } else {
            format!("{body}{gd}")
        };
        let (cfg, d) = p(&text);
        assert_clean(&d);
        let (g, i) = (&cfg.global_defs, &cfg.instances[0]);
        assert_eq!(
            (
                g.vrrp_garp_lower_prio_repeat,
                g.vrrp_garp_lower_prio_delay_s
            ),
            (3, 7)
        );
        assert_eq!((i.garp_master_repeat, i.garp_master_delay_s), (2, 9));
        assert_eq!(
            (i.garp_lower_prio_repeat, i.garp_lower_prio_delay_s),
            (3, 7),
            "order {order}"
        );
    }
    // Written global lower-priority values win over the master ones; an
    // instance's own values win over both.
    let (cfg, _) = p(&format!(
        "global_defs {{\n vrrp_garp_master_repeat 3\n vrrp_garp_lower_prio_repeat 1\n vrrp_garp_lower_prio_delay 0\n}}\n{}",
        inst("")
    ));
    let i = &cfg.instances[0];
    assert_eq!(
        (i.garp_lower_prio_repeat, i.garp_lower_prio_delay_s),
        (1, 0)
    );
    let (cfg, _) = p(&format!(
        "global_defs {{\n vrrp_garp_master_repeat 3\n}}\n{}",
        inst("    garp_lower_prio_repeat 8\n    garp_lower_prio_delay 2")
    ));
    let i = &cfg.instances[0];
    assert_eq!(
        (i.garp_lower_prio_repeat, i.garp_lower_prio_delay_s),
        (8, 2)
    );
}

/// keepalived: without VIPs a VRRPv2 instance runs ("at least one is
/// sensible", a warning); VRRPv3, IPv6 (which is v3) and strict mode need
/// one (an error). The rest of the instance is still checked.
#[test]
fn zero_vips_warn_for_v2_and_fail_for_v3() {
    let v2 = "vrrp_instance VI_0 {\n interface eth0\n virtual_router_id 9\n priority 150\n advert_int 1.5\n}\n";
    let (cfg, d) = p(v2);
    assert_eq!((d.errors, d.warnings), (0, 2), "{:#?}", lines(&d));
    assert_diag(
        &d,
        1,
        Severity::Warning,
        "no virtual_ipaddress; it runs and advertises no address",
    );
    assert_diag(&d, 5, Severity::Warning, "VRRPv2 uses whole seconds");
    let i = &cfg.instances[0];
    assert!(i.virtual_ipaddress.is_empty());
    assert_eq!(
        (i.family, i.version, i.priority),
        (AddressFamily::Ipv4, VrrpVersion::V2, 150)
    );
    let (_, d) = p(&v2.replace(" priority 150\n", " version 3\n"));
    assert_diag(
        &d,
        1,
        Severity::Error,
        "VRRP version 3 needs at least one address",
    );
    // IPv6 from the unicast addresses: v3, so an error (keepalived too).
    let (cfg, d) = p(
        "vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 9\n unicast_src_ip 2001:db8::1\n unicast_peer {\n  2001:db8::2\n }\n}\n",
    );
    assert_diag(
        &d,
        1,
        Severity::Error,
        "VRRP version 3 needs at least one address",
    );
    assert_eq!(cfg.instances[0].family, AddressFamily::Ipv6);
    // Two VIP-less instances with one VRID on one interface: duplicate.
    let (_, d) = p(&format!("{v2}{}", v2.replace("VI_0", "VI_1")));
    assert_diag(
        &d,
        9,
        Severity::Error,
        "virtual_router_id 9 is already used",
    );
}

/// Accept mode off is not enforced by keepvip (keepalived adds firewall
/// drop rules): `no_accept`, and vrrp_strict's default below priority 255,
/// get a warning at the place that asked for it; the address owner never
/// needs the rules.
#[test]
fn no_accept_is_reported_as_not_enforced() {
    let (cfg, d) = p(&inst("    no_accept"));
    assert_eq!((d.errors, d.warnings), (0, 1), "{:#?}", lines(&d));
    assert_diag(&d, 4, Severity::Warning, "no_accept is not enforced");
    assert!(!cfg.instances[0].accept);
    for body in ["    accept", "", "    priority 255\n    no_accept"] {
        let (_, d) = p(&inst(body));
        assert_clean(&d);
    }
    let g = "global_defs {\n vrrp_strict\n}\n";
    let (_, d) = p(&format!("{g}{}", inst("")));
    assert_eq!((d.errors, d.warnings), (0, 1), "{:#?}", lines(&d));
    assert_diag(
        &d,
        4,
        Severity::Warning,
        "vrrp_strict (no accept mode below priority 255) is not enforced",
    );
    let (_, d) = p(&format!("{g}{}", inst("    priority 255")));
    assert_clean(&d);
    // VRRPv3 in strict mode may use accept: nothing to enforce.
    let (cfg, d) = p(&format!("{g}{}", inst("    version 3\n    accept")));
    assert_clean(&d);
    assert!(cfg.instances[0].accept);
}

/// More distinct interfaces than MAX_INTERFACES (instance interfaces,
/// track_interface of instances and sync groups, VIP devs) is an error at
/// the first name that does not fit, naming the build variable.
#[test]
fn interfaces_over_capacity_are_an_error_at_the_first_extra_name() {
    use crate::limits::MAX_INTERFACES;
    let vi = |k: usize, ifname: &str, extra: &str| {
        format!(
            "vrrp_instance VI_{k} {{\n interface {ifname}\n virtual_router_id {}\n{extra} virtual_ipaddress {{\n  192.0.2.{}\n }}\n}}\n",
            k % 255 + 1,
            k % 250 + 1
        )
    };
    // Exactly MAX_INTERFACES: fine, and the router builds.
    let all: String = (0..MAX_INTERFACES)
        .map(|k| vi(k, &format!("e{k}"), ""))
        .collect();
    let (cfg, d) = p(&all);
    assert_clean(&d);
    assert!(crate::vrrp::Router::new(&cfg).is_ok());
    // One more instance interface: error at its 'interface' line.
    let over = format!("{all}{}", vi(MAX_INTERFACES, "extra0", ""));
    let (_, d) = p(&over);
    let line = 7 * MAX_INTERFACES as u32 + 2;
    assert_diag(&d, line, Severity::Error, "too many interfaces: 'extra0'");
    assert_diag(&d, line, Severity::Error, "KEEPVIP_MAX_INTERFACES");
    assert_eq!(d.errors, 1, "{:#?}", lines(&d));
    // The interface names repeat: no error however many instances.
    let same: String = (0..MAX_INTERFACES + 5).map(|k| vi(k, "eth0", "")).collect();
    let (_, d) = p(&same);
    assert_eq!(d.errors, 0, "{:#?}", lines(&d));
    // A track_interface, a VIP dev, a sync group's track_interface count too.
    let fill: String = (0..MAX_INTERFACES - 1)
        .map(|k| vi(k, &format!("e{k}"), ""))
        .collect();
    let n = MAX_INTERFACES - 1;
    let track = vi(n, "e0", " track_interface {\n  t1\n  t2\n }\n");
    let (_, d) = p(&format!("{fill}{track}"));
    assert_diag(
        &d,
        7 * n as u32 + 6,
        Severity::Error,
        "too many interfaces: 't2'",
    );
    let dev = "vrrp_instance VI_D {\n interface e0\n virtual_router_id 200\n virtual_ipaddress {\n  192.0.2.200 dev d1\n  192.0.2.201 dev d2\n }\n}\n";
    let (_, d) = p(&format!("{fill}{dev}"));
    assert_diag(
        &d,
        7 * n as u32 + 6,
        Severity::Error,
        "too many interfaces: 'd2'",
    );
    let group = format!(
        "{}vrrp_sync_group G {{\n group {{\n  VI_0\n  VI_1\n }}\n track_interface {{\n  g1\n  g2\n }}\n}}\n",
        fill
    );
    let (_, d) = p(&group);
    assert_diag(
        &d,
        7 * n as u32 + 8,
        Severity::Error,
        "too many interfaces: 'g2'",
    );
}

#[test]
fn required_keywords_and_ranges() {
    let (_, d) = p("vrrp_instance VI_1 {\n}\n");
    assert_diag(&d, 1, Severity::Error, "'interface' is missing");
    assert_diag(
        &d,
        1,
        Severity::Error,
        "'virtual_router_id' (1 to 255) is missing",
    );
    // keepalived: no VIP is sensible for v2 (a warning), required for v3.
    assert_diag(&d, 1, Severity::Warning, "no virtual_ipaddress");
    let (_, d) = p("vrrp_instance VI_1 {\n version 3\n}\n");
    assert_diag(&d, 1, Severity::Error, "no virtual_ipaddress");
    let (_, d) =
        p(&inst("    priority 0").replace("virtual_router_id 51", "virtual_router_id 256"));
    assert_diag(
        &d,
        3,
        Severity::Error,
        "'virtual_router_id' must be a whole number from 1 to 255, not '256'",
    );
    assert_diag(
        &d,
        4,
        Severity::Error,
        "'priority' must be a whole number from 1 to 255, not '0'",
    );
    assert!(
        !has(&d, 1, Severity::Error, "missing"),
        "no cascade: {:?}",
        lines(&d)
    );
    let (_, d) = p(&inst("    state master"));
    assert_diag(&d, 4, Severity::Error, "MASTER or BACKUP");
    let (_, d) = p(&inst("").replace("eth0", "a_very_long_interface_name"));
    assert_diag(&d, 2, Severity::Error, "too long (at most 15 bytes)");
}

#[test]
fn duplicate_vrid_same_interface_and_family() {
    let two = |if2: &str, vip2: &str| {
        format!(
            "{}vrrp_instance VI_2 {{\n interface {if2}\n virtual_router_id 51\n virtual_ipaddress {{\n  {vip2}\n }}\n}}\n",
            inst("")
        )
    };
    let (_, d) = p(&two("eth0", "192.0.2.101"));
    assert_diag(
        &d,
        11,
        Severity::Error,
        "virtual_router_id 51 is already used for IPv4 on eth0 by vrrp_instance VI_1",
    );
    // Other interface or other family: fine.
    let (_, d) = p(&two("eth1", "192.0.2.101"));
    assert_clean(&d);
    let (_, d) = p(&two("eth0", "2001:db8::1"));
    assert_clean(&d);
}

#[test]
fn duplicate_names() {
    let text = format!("{}{}", inst(""), inst("").replace("51", "52"));
    let (_, d) = p(&text);
    assert_diag(
        &d,
        9,
        Severity::Error,
        "vrrp_instance VI_1 is defined twice (first at line 1)",
    );
}

#[test]
fn mixed_families_refused() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n unicast_peer {\n  2001:db8::2\n }\n virtual_ipaddress {\n  192.0.2.1\n  2001:db8::1\n }\n}\n";
    let (_, d) = p(text);
    assert_diag(
        &d,
        9,
        Severity::Error,
        "2001:db8::1 is IPv6 but the first virtual_ipaddress of VI_1 is IPv4",
    );
    assert_diag(
        &d,
        1,
        Severity::Error,
        "unicast_peer 2001:db8::2 is not IPv4",
    );
}

#[test]
fn vip_capacity_is_an_error_naming_the_limit() {
    let mut body = std::string::String::new();
    for k in 0..crate::limits::MAX_VIPS + 3 {
        body.push_str(&format!("  192.0.2.{}\n", k + 1));
    }
    let text = format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {{\n{body} }}\n}}\n"
    );
    let (cfg, d) = p(&text);
    let line = 5 + crate::limits::MAX_VIPS as u32;
    assert_diag(&d, line, Severity::Error, "KEEPVIP_MAX_VIPS");
    assert_eq!(d.errors, 1, "reported once: {:?}", lines(&d));
    assert_eq!(
        cfg.instances[0].virtual_ipaddress.len(),
        crate::limits::MAX_VIPS
    );
}

// ----- structure ---------------------------------------------------------

#[test]
fn braces_on_one_line_and_on_the_next_line() {
    let text = "vrrp_instance VI_1\n{\n interface eth0\n virtual_router_id 5\n unicast_peer { 192.0.2.2 }\n virtual_ipaddress { 192.0.2.1/24 dev eth0 }\n}\n";
    let (cfg, d) = p(text);
    assert_clean(&d);
    assert_eq!(cfg.instances[0].unicast_peer.len(), 1);
    assert_eq!(cfg.instances[0].virtual_ipaddress[0].prefix_len, 24);
}

#[test]
fn unknown_keywords_warn_unknown_blocks_error() {
    let text = format!(
        "global_defs {{\n lvs_id x\n}}\nvrrp_instanse VI_9 {{\n state MASTER\n}}\nvirtual_server_group G1 {{\n 192.0.2.1 80\n 192.0.2.2 80\n 192.0.2.3 80\n}}\n{}",
        inst("    use_vmac\n    frobnicate 3")
    );
    let (cfg, d) = p(&text);
    assert_diag(&d, 2, Severity::Warning, "unknown keyword 'lvs_id' ignored");
    assert_diag(&d, 4, Severity::Error, "unknown block 'vrrp_instanse'");
    assert_diag(
        &d,
        7,
        Severity::Warning,
        "'virtual_server_group' blocks are not supported",
    );
    assert_diag(
        &d,
        15,
        Severity::Warning,
        "'use_vmac' is not supported by keepvip",
    );
    assert_diag(&d, 16, Severity::Warning, "unknown keyword 'frobnicate'");
    assert_eq!(d.errors, 1, "{:?}", lines(&d));
    assert_eq!(cfg.instances.len(), 1);
}

#[test]
fn missing_and_extra_braces() {
    // A '}' is missing: the next top-level block shows it.
    let text = format!(
        "vrrp_instance VI_0 {{\n interface eth0\n virtual_router_id 50\n virtual_ipaddress {{\n  192.0.2.50\n}}\n{}",
        inst("")
    );
    let (cfg, d) = p(&text);
    assert_diag(
        &d,
        7,
        Severity::Error,
        "missing '}': 'vrrp_instance' block opened at line 1",
    );
    assert_eq!(
        cfg.instances.len(),
        2,
        "recovers and parses the next instance"
    );
    // Never closed at end of file.
    let (_, d) = p("global_defs {\n router_id x\n");
    assert_diag(&d, 1, Severity::Error, "never closed");
    // An extra '}'.
    let (_, d) = p(&format!("{}}}\n", inst("")));
    assert_diag(&d, 9, Severity::Error, "unexpected '}'");
    // A '{' after a plain keyword.
    let (_, d) = p(&inst("    priority 100 {\n    }"));
    assert_diag(&d, 4, Severity::Error, "'priority' does not take a block");
    // Unterminated quote.
    let (_, d) = p(&inst("    notify \"/bin/x"));
    assert_diag(&d, 4, Severity::Error, "missing closing '\"'");
}

#[test]
fn all_errors_of_a_run_are_collected() {
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 0\n priority 300\n advert_int -1\n virtual_ipaddress {\n  192.0.2.999\n }\n}\nbogus_block {\n}\n";
    let (_, d) = p(text);
    assert_diag(&d, 3, Severity::Error, "virtual_router_id");
    assert_diag(&d, 4, Severity::Error, "priority");
    assert_diag(&d, 5, Severity::Error, "advert_int");
    assert_diag(&d, 7, Severity::Error, "192.0.2.999");
    assert_diag(&d, 10, Severity::Error, "unknown block 'bogus_block'");
    // Sorted by place.
    let order: Vec<u32> = d.iter().map(|x| x.span.line).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
}

#[test]
fn diagnostics_overflow_is_counted_not_lost() {
    let mut text = std::string::String::from("global_defs {\n");
    for k in 0..crate::limits::MAX_DIAGNOSTICS + 10 {
        text.push_str(&format!(" unknown_{k}\n"));
    }
    text.push_str("}\n");
    let (_, d) = p(&text);
    assert_eq!(d.items.len(), crate::limits::MAX_DIAGNOSTICS);
    assert_eq!(d.dropped, 10);
    assert_eq!(d.warnings as usize, crate::limits::MAX_DIAGNOSTICS + 10);
}

// ----- include ---------------------------------------------------------------

#[test]
fn include_glob_relative_sorted() {
    let main = "global_defs {\n router_id r\n}\ninclude conf.d/*.conf\n";
    let vi = |n: u32| {
        format!(
            "vrrp_instance VI_{n} {{\n interface eth0\n virtual_router_id {n}\n virtual_ipaddress {{\n  192.0.2.{n}\n }}\n}}\n"
        )
    };
    let (a, b, c) = (vi(2), vi(1), vi(3));
    let (cfg, d) = parse_with(
        main,
        &[
            ("/etc/keepalived/conf.d/b.conf", &a),
            ("/etc/keepalived/conf.d/a.conf", &b),
            ("/etc/keepalived/conf.d/c.txt", &c),
        ],
    );
    assert_clean(&d);
    let names: Vec<&str> = cfg.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["VI_1", "VI_2"],
        "a.conf before b.conf, c.txt skipped"
    );
    assert_eq!(cfg.files.len(), 3);
    assert_eq!(cfg.files[1].as_str(), "/etc/keepalived/conf.d/a.conf");
    assert_eq!(
        cfg.file_name(cfg.instances[1].span),
        "/etc/keepalived/conf.d/b.conf"
    );
}

#[test]
fn include_inside_a_block_and_errors_name_the_included_file() {
    let main =
        "vrrp_instance VI_1 {\n include vips.inc\n interface eth0\n virtual_router_id 7\n}\n";
    let inc = "virtual_ipaddress {\n 192.0.2.1\n 192.0.2.x\n}\n";
    let (cfg, d) = parse_with(main, &[("/etc/keepalived/vips.inc", inc)]);
    assert_eq!(cfg.instances[0].virtual_ipaddress.len(), 1);
    let e = d.iter().find(|x| x.severity == Severity::Error).unwrap();
    assert_eq!(
        e.display(&cfg).to_string(),
        "/etc/keepalived/vips.inc:3:2: error: '192.0.2.x' is not a valid address in virtual_ipaddress (expected IP[/PREFIX] [brd IP] [dev IF] [scope SCOPE] [label LABEL])"
    );
}

#[test]
fn include_errors() {
    let (_, d) = p("include missing.conf\n");
    assert_diag(
        &d,
        1,
        Severity::Error,
        "cannot read included file '/etc/keepalived/missing.conf': no such file",
    );
    let (_, d) = p("include /nowhere/*.conf\n");
    assert_diag(&d, 1, Severity::Error, "cannot read directory '/nowhere'");
    let (_, d) = parse_with(
        "include conf.d/*.none\n",
        &[("/etc/keepalived/conf.d/a.conf", "")],
    );
    assert_diag(&d, 1, Severity::Warning, "no file matches");
    let (_, d) = p("include\n");
    assert_diag(&d, 1, Severity::Error, "needs a file name");
    let (_, d) = p("include */x.conf\n");
    assert_diag(&d, 1, Severity::Error, "only supported in the file name");
}

#[test]
fn include_recursion_is_bounded() {
    let (_, d) = parse_with(
        "include loop.conf\n",
        &[("/etc/keepalived/loop.conf", "include loop.conf\n")],
    );
    assert!(d.errors >= 1);
    assert!(
        d.iter()
            .any(|x| x.message.contains("KEEPVIP_MAX_INCLUDE_DEPTH")
                || x.message.contains("KEEPVIP_MAX_CONFIG_FILES")),
        "{:?}",
        lines(&d)
    );
}

#[test]
fn unreadable_main_file() {
    let src = MemorySource::new(&[]);
    let mut cfg = big_stack(Config::new_boxed);
    let mut d = Diagnostics::new();
    parse(&src, "/etc/none.conf", &mut cfg, &mut d);
    assert_eq!(d.errors, 1);
    assert_eq!(
        d.items[0].display(&cfg).to_string(),
        "/etc/none.conf: error: cannot read the configuration file: no such file or directory"
    );
}

#[test]
fn script_security_warning() {
    let text = format!("vrrp_script s {{\n script /bin/true\n}}\n{}", inst(""));
    let (_, d) = p(&text);
    assert_eq!(d.script_security, 1);
    assert_eq!(d.exit_code(), 5);
    let (_, d) = p(&format!(
        "global_defs {{\n enable_script_security\n}}\n{text}"
    ));
    assert_eq!(d.exit_code(), 0, "{:?}", lines(&d));
}

#[test]
fn reparse_resets_everything() {
    let (mut cfg, mut d) = p(&inst("    bogus"));
    assert_eq!(d.warnings, 1);
    let text = inst("");
    let files: [(&str, &[u8]); 1] = [("/x.conf", text.as_bytes())];
    parse(&MemorySource::new(&files), "/x.conf", &mut cfg, &mut d);
    assert_clean(&d);
    assert_eq!(cfg.instances.len(), 1);
    assert_eq!(cfg.files.len(), 1);
}

#[test]
fn random_input_never_panics() {
    let words: &[&str] = &[
        "vrrp_instance",
        "VI",
        "{",
        "}",
        "\n",
        "interface",
        "eth0",
        "virtual_ipaddress",
        "192.0.2.1/24",
        "priority",
        "300",
        "include",
        "*.conf",
        "\"",
        "!",
        "track_script",
        "vrrp_sync_group",
        "group",
        "authentication",
        "auth_pass",
        "weight",
        "-5",
        "advert_int",
        "0.001",
        "state",
        "MASTER",
        "vrrp_script",
        "script",
        "global_defs",
        "vrrp_strict",
        "2001:db8::1",
        "dev",
        "brd",
    ];
    let mut seed = 0x9e37_79b9u32;
    for _ in 0..300 {
        let mut text = std::string::String::new();
        for _ in 0..80 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            text.push_str(words[(seed as usize) % words.len()]);
            text.push(' ');
        }
        let (_, d) = parse_with(&text, &[("/etc/keepalived/a.conf", &text)]);
        assert!(d.items.len() <= crate::limits::MAX_DIAGNOSTICS);
    }
}

/// `Config::instances` is written contiguously, so every byte of an `InstanceConfig` is
/// resident for every configured instance (board/budgets.sh rss): 2 x MAX_VIPS addresses and
/// the notify hooks are the parts that scale. An address is 72 bytes (interface names with a
/// one-byte length, the place kept), the notify hooks six pool indices.
#[test]
fn per_instance_parts_stay_small() {
    use core::mem::size_of;
    assert!(size_of::<VirtualIp>() <= 72, "{}", size_of::<VirtualIp>());
    assert_eq!(size_of::<Option<IfName>>(), IFNAME_LEN + 2);
    assert!(size_of::<Notify>() <= 24, "{}", size_of::<Notify>());
}
