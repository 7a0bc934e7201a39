//! Every example in config/ parses without a single error or warning, and
//! the values that matter come out as written.

mod config_common;
use config_common::*;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use keepvip::config::*;

fn examples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("config")
        .expect("config/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn clean(path: &str) -> Box<Config> {
    let (cfg, d) = parse_file(path);
    assert!(
        d.errors == 0 && d.warnings == 0,
        "{path}:\n{}",
        rendered(&cfg, &d).join("\n")
    );
    assert!(!cfg.instances.is_empty(), "{path} has no instance");
    cfg
}

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

#[test]
fn every_example_is_clean() {
    let all = examples();
    assert!(all.len() >= 14, "examples missing: {all:?}");
    for path in &all {
        clean(path);
    }
}

#[test]
fn master_backup_pair() {
    let m = clean("config/master.conf");
    let b = clean("config/backup.conf");
    let (mi, bi) = (&m.instances[0], &b.instances[0]);
    for i in [mi, bi] {
        assert_eq!(i.virtual_router_id, 51);
        assert_eq!(i.interface.as_str(), "eth0");
        assert_eq!(i.version, VrrpVersion::V2);
        assert_eq!(i.advert_int_cs, 100);
        assert_eq!(i.authentication.auth_type, AuthType::Pass);
        assert_eq!(&i.authentication.auth_pass, b"secret12");
        assert_eq!(i.virtual_ipaddress[0].addr, VIP);
        assert_eq!(i.virtual_ipaddress[0].prefix_len, 24);
        assert_eq!(i.virtual_ipaddress[0].dev.as_deref(), Some("eth0"));
        assert!(!i.is_unicast());
    }
    assert_eq!((mi.state, mi.priority), (Some(InitialState::Master), 200));
    assert_eq!((bi.state, bi.priority), (Some(InitialState::Backup), 100));
    assert_eq!(m.global_defs.router_id.as_deref(), Some("r1"));
}

#[test]
fn unicast_pair_mirrors() {
    let a = clean("config/unicast-r1.conf");
    let b = clean("config/unicast-r2.conf");
    let (ai, bi) = (&a.instances[0], &b.instances[0]);
    assert!(ai.is_unicast() && bi.is_unicast());
    assert_eq!(ai.unicast_src_ip, Some(bi.unicast_peer[0]));
    assert_eq!(bi.unicast_src_ip, Some(ai.unicast_peer[0]));
}

#[test]
fn preemption_examples() {
    let n = clean("config/nopreempt.conf");
    assert!(n.instances[0].nopreempt);
    assert_eq!(n.instances[0].state, Some(InitialState::Backup));
    let d = clean("config/preempt-delay.conf");
    assert_eq!(d.instances[0].preempt_delay_ms, 30_000);
    assert!(!d.instances[0].nopreempt);
}

#[test]
fn master_master_swaps_priorities() {
    let a = clean("config/master-master-r1.conf");
    let b = clean("config/master-master-r2.conf");
    assert_eq!(a.instances.len(), 2);
    for k in 0..2 {
        let (x, y) = (&a.instances[k], &b.instances[k]);
        assert_eq!(x.virtual_router_id, y.virtual_router_id);
        assert_ne!(x.priority, y.priority);
        assert_ne!(x.state, y.state);
    }
}

#[test]
fn vrrpv3_examples() {
    let v4 = clean("config/vrrpv3-ipv4.conf");
    let i = &v4.instances[0];
    assert_eq!((i.version, i.advert_int_cs), (VrrpVersion::V3, 10));
    assert!(!i.checksum_as_v2);
    let v6 = clean("config/vrrpv3-ipv6.conf");
    let i = &v6.instances[0];
    assert_eq!(
        (i.version, i.family),
        (VrrpVersion::V3, AddressFamily::Ipv6)
    );
    assert_eq!(
        i.virtual_ipaddress[1].addr,
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100))
    );
}

#[test]
fn tracking_example() {
    let c = clean("config/tracking.conf");
    assert!(c.global_defs.enable_script_security);
    let s = &c.scripts[0];
    assert_eq!(s.name.as_str(), "chk_web");
    assert_eq!(
        (s.interval_ms, s.timeout_ms, s.rise, s.fall, s.weight),
        (2000, 1000, 2, 2, -60)
    );
    assert_eq!(c.track_processes[0].process.as_str(), "dnsmasq");
    assert_eq!(c.track_processes[0].fork_delay_ms, 2000);
    assert_eq!(c.track_files[0].init_file, Some((0, false)));
    let i = &c.instances[0];
    assert_eq!(i.track_script[0].name.as_str(), "chk_web");
    assert_eq!(i.track_process[0].name.as_str(), "track_dnsmasq");
    assert_eq!(i.track_file[0].name.as_str(), "track_maint");
    assert_eq!(i.track_interface[0].ifname.as_str(), "eth1");
    assert_eq!(i.track_interface[0].weight, -50);
}

#[test]
fn notify_and_sync_group_examples() {
    let n = clean("config/notify.conf");
    let i = &n.instances[0];
    assert_eq!(
        n.cmd(i.notify.notify_master).map(|c| c.cmd.as_str()),
        Some("/etc/keepvip/scripts/to-master.sh VI_1")
    );
    assert_eq!(
        n.cmd(i.notify.notify).map(|c| c.cmd.as_str()),
        Some("/etc/keepvip/scripts/log-state.sh")
    );
    assert!(n.global_defs.notify_fifo.is_some());
    let g = clean("config/sync-group.conf");
    assert_eq!(g.sync_groups[0].members.as_slice(), &[0, 1]);
    assert!(g.instances.iter().all(|i| i.sync_group == Some(0)));
    assert!(g.sync_groups[0].notify.notify_fault.is_some());
}

#[test]
fn include_example_reads_in_name_order() {
    let c = clean("config/include.conf");
    let names: Vec<&str> = c.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2"]);
    assert_eq!(c.files.len(), 3);
    assert_eq!(
        c.file_name(c.instances[1].span),
        "config/include.d/vi_2.inc"
    );
}

/// The OpenWrt package's default config, and the same file with its commented-out example
/// uncommented (what `board/tests/extract-example.sh` prints: the lines between the
/// `# --- example begin/end ---` markers lose their leading `# `), are clean: a user who
/// follows the file's instructions gets no warning.
#[test]
fn openwrt_default_config_and_its_example_are_clean() {
    let path = "board/openwrt/files/keepvip.conf";
    let (cfg, d) = parse_file(path);
    assert!(
        d.errors == 0 && d.warnings == 0,
        "{}",
        rendered(&cfg, &d).join("\n")
    );
    assert!(
        cfg.instances.is_empty(),
        "the packaged config announces nothing"
    );

    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        match line {
            "# --- example begin ---" => inside = true,
            "# --- example end ---" => inside = false,
            l if inside => {
                let l = l.strip_prefix('#').unwrap_or(l);
                out.push_str(l.strip_prefix(' ').unwrap_or(l));
                out.push('\n');
            }
            l => {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    let tmp = std::env::temp_dir().join(format!("kv-openwrt-example-{}.conf", std::process::id()));
    std::fs::write(&tmp, out).unwrap();
    let (cfg, d) = parse_file(&tmp.to_string_lossy());
    let _ = std::fs::remove_file(&tmp);
    assert!(
        d.errors == 0 && d.warnings == 0,
        "{}",
        rendered(&cfg, &d).join("\n")
    );
    let names: Vec<&str> = cfg.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["LAN", "LAN6"]);
}

#[test]
fn golden_keepalived_configs_are_clean() {
    let dir = std::env::var("KEEPVIP_GOLDEN_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/golden").to_string());
    let Ok(rd) = std::fs::read_dir(&dir) else {
        // Not beside this checkout (e.g. the mips test run copies only the package).
        eprintln!("skipped: {dir} not found");
        return;
    };
    let mut n = 0;
    for e in rd {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "conf") {
            clean(&p.to_string_lossy());
            n += 1;
        }
    }
    assert!(n > 0);
}

#[cfg(feature = "lvs")]
#[test]
fn lvs_example() {
    use keepvip::config::lvs::*;
    let c = clean("config/lvs.conf");
    let l = &c.lvs;
    assert_eq!(l.virtual_servers.len(), 1);
    let vs = &l.virtual_servers[0];
    assert_eq!((vs.addr, vs.port, vs.protocol), (VIP, 80, LvsProtocol::Tcp));
    assert_eq!(vs.lb_algo.as_str(), "rr");
    assert_eq!(vs.lb_kind, Forwarding::Nat);
    assert_eq!(vs.persistence_timeout_s, 50);
    assert_eq!(
        vs.owner,
        Some(0),
        "the VIP of VI_1: rules only on its MASTER"
    );
    assert_eq!(
        vs.sorry_server.map(|s| (s.addr, s.port)),
        Some((IpAddr::V4(Ipv4Addr::new(198, 51, 100, 250)), 80))
    );
    let rs = l.real_servers_of(0);
    assert_eq!(rs.len(), 2);
    assert!(!rs[0].inhibit_on_failure && rs[1].inhibit_on_failure);
    let tcp = &l.checkers_of(0)[0];
    assert_eq!(tcp.kind, CheckerKind::Tcp);
    assert_eq!(
        (
            tcp.connect_timeout_us,
            tcp.retry,
            tcp.delay_before_retry_us,
            tcp.delay_loop_us
        ),
        (3_000_000, 3, 3_000_000, 6_000_000)
    );
    let CheckerKind::Http(h) = &l.checkers_of(1)[0].kind else {
        panic!("HTTP_GET expected")
    };
    assert_eq!(h.urls[0].path.as_str(), "/health");
    assert!(h.urls[0].status_code.contains(200) && !h.urls[0].status_code.contains(204));
}

/// Fenced blocks of the Markdown file `path` that are configurations: the
/// first line that is not blank or a comment starts with a top-level
/// keyword. `(line of the fence, text)`.
fn doc_config_blocks(path: &str) -> Vec<(usize, String)> {
    const TOP: [&str; 9] = [
        "global_defs",
        "vrrp_instance",
        "vrrp_script",
        "vrrp_sync_group",
        "vrrp_track_process",
        "vrrp_track_file",
        "virtual_server",
        "static_ipaddress",
        "include",
    ];
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            match block.take() {
                Some(b) => out.push(b),
                None => block = Some((i + 1, String::new())),
            }
        } else if let Some((_, b)) = block.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    out.retain(|(_, b)| {
        b.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
            .and_then(|l| l.split_whitespace().next())
            .is_some_and(|k| TOP.contains(&k))
    });
    out
}

/// Every configuration shown in the READMEs parses without an error or a
/// warning, as written (the README's LVS example once had several keywords
/// on one line, which the line-based parser reads as one keyword with extra
/// words).
#[test]
fn readme_config_examples_are_clean() {
    let docs = [
        "README.md",
        "board/README.md",
        "board/openwrt/README.md",
        "board/systemd/README.md",
    ];
    let mut n = 0;
    for doc in docs {
        for (line, text) in doc_config_blocks(doc) {
            n += 1;
            let name = format!("/{doc}@{line}");
            let (cfg, d) = big_stack(|| {
                let files = [(name.as_str(), text.as_bytes())];
                let mut cfg = Config::new_boxed();
                let mut d = Diagnostics::new();
                parse(&MemorySource::new(&files), &name, &mut cfg, &mut d);
                (cfg, d)
            });
            assert!(
                d.errors == 0 && d.warnings == 0,
                "{doc}, block at line {line}:\n{}\n{text}",
                rendered(&cfg, &d).join("\n")
            );
            #[cfg(feature = "lvs")]
            if text.contains("virtual_server") {
                assert!(!cfg.lvs.virtual_servers.is_empty(), "{doc}:{line}");
                // What the one-keyword-per-line example means: all of it read.
                for c in &cfg.lvs.checkers {
                    assert_eq!(c.connect_timeout_us, 3_000_000, "{doc}:{line}");
                }
            }
        }
    }
    assert!(n >= 1, "no configuration block found in {docs:?}");
}
