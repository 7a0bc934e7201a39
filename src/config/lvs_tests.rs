//! `virtual_server` parsing and validation (keepalived's defaults and
//! corrections, error places).

use super::*;
use crate::config::lvs::*;

/// A VRRP instance owning 192.0.2.100 plus `vs` (line 9 onwards).
fn with_vs(vs: &str) -> String {
    format!("{}{vs}", inst("    priority 150"))
}

const ARCH: &str = "virtual_server 192.0.2.100 80 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    persistence_timeout 50
    protocol TCP
    sorry_server 198.51.100.250 8080
    real_server 198.51.100.11 80 {
        weight 2
        TCP_CHECK {
            connect_timeout 3
            retry 3
            delay_before_retry 2
        }
    }
    real_server 198.51.100.12 8081 {
        inhibit_on_failure
        HTTP_GET {
            url {
                path /health
                status_code 200 300-302
                digest 9B3A0C85A887A256D6939DA88AABD8CD
            }
            url {
                path /
            }
            connect_timeout 2
        }
    }
    real_server 198.51.100.13 {
        alpha
        notify_up \"/usr/local/bin/up.sh web3\"
        MISC_CHECK {
            misc_path \"/usr/local/bin/check.sh 198.51.100.13\"
            misc_timeout 4
            misc_dynamic
        }
    }
}
";

#[test]
fn archwiki_style_example_resolves_like_keepalived() {
    let (cfg, d) = p(&format!(
        "global_defs {{\n    enable_script_security\n}}\n{}",
        with_vs(ARCH)
    ));
    assert_clean(&d);
    let l = &cfg.lvs;
    assert_eq!(l.virtual_servers.len(), 1);
    let vs = &l.virtual_servers[0];
    assert_eq!(vs.addr, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)));
    assert_eq!((vs.port, vs.protocol), (80, LvsProtocol::Tcp));
    assert_eq!(vs.lb_algo.as_str(), "rr");
    assert_eq!(vs.lb_kind, Forwarding::Nat);
    assert_eq!(vs.persistence_timeout_s, 50);
    assert_eq!(vs.delay_loop_us, 6_000_000);
    assert_eq!(vs.owner, Some(0), "192.0.2.100 is VI_1's VIP");
    let s = vs.sorry_server.unwrap();
    // NAT keeps the sorry server's own port.
    assert_eq!((s.port, s.inhibit), (8080, false));
    assert_eq!((vs.quorum, vs.hysteresis), (1, 0));
    assert_eq!(vs.rs_count, 3);

    let rs = l.real_servers_of(0);
    assert_eq!((rs[0].weight, rs[0].port), (2, 80));
    assert!(!rs[0].inhibit_on_failure);
    // NAT: a written real server port stays; a missing one is the VS port.
    assert_eq!((rs[1].weight, rs[1].port), (1, 8081));
    assert!(rs[1].inhibit_on_failure);
    assert_eq!(rs[2].port, 80);
    assert_eq!(
        cfg.cmd(rs[2].notify_up).map(|c| c.cmd.as_str()),
        Some("/usr/local/bin/up.sh web3")
    );

    let tcp = &l.checkers_of(0)[0];
    assert_eq!(tcp.kind, CheckerKind::Tcp);
    assert_eq!(tcp.connect_timeout_us, 3_000_000);
    assert_eq!((tcp.retry, tcp.delay_before_retry_us), (3, 2_000_000));
    assert_eq!(tcp.delay_loop_us, 6_000_000, "delay_loop from the VS");
    assert_eq!(tcp.warmup_us, 6_000_000, "warmup defaults to delay_loop");
    assert!(!tcp.alpha);
    assert_eq!(
        l.target(0),
        Some((IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11)), 80))
    );

    let http = &l.checkers_of(1)[0];
    let CheckerKind::Http(h) = &http.kind else {
        panic!("{http:?}")
    };
    assert_eq!(h.urls.len(), 2);
    assert_eq!(h.urls[0].path.as_str(), "/health");
    let codes: Vec<_> = h.urls[0].status_code.ranges().collect();
    assert_eq!(codes, [(200, 200), (300, 302)]);
    assert_eq!(
        h.urls[0].digest,
        Some([
            0x9b, 0x3a, 0x0c, 0x85, 0xa8, 0x87, 0xa2, 0x56, 0xd6, 0x93, 0x9d, 0xa8, 0x8a, 0xab,
            0xd8, 0xcd
        ])
    );
    assert_eq!(h.urls[1].status_code, StatusCodes::default_2xx());
    assert_eq!(h.urls[1].digest, None);
    // HTTP defaults: retry 1, delay_before_retry 3 s.
    assert_eq!((http.retry, http.delay_before_retry_us), (1, 3_000_000));
    assert_eq!(http.connect_timeout_us, 2_000_000);

    let misc = &l.checkers_of(2)[0];
    let CheckerKind::Misc(m) = &misc.kind else {
        panic!("{misc:?}")
    };
    assert_eq!(
        m.misc_path.as_str(),
        "/usr/local/bin/check.sh 198.51.100.13"
    );
    assert_eq!(m.misc_timeout_s, Some(4));
    assert!(m.misc_dynamic);
    // MISC defaults: retry 0, delay_before_retry 1 s; alpha from the RS.
    assert_eq!((misc.retry, misc.delay_before_retry_us), (0, 1_000_000));
    assert!(misc.alpha);
}

#[test]
fn keepalived_defaults_are_applied_with_warnings() {
    let (cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    real_server 198.51.100.11 80 {\n        TCP_CHECK {\n        }\n    }\n}\n",
    ));
    assert_eq!(d.errors, 0, "{:#?}", lines(&d));
    for w in [
        "no 'protocol' set: using UDP",
        "no 'lb_algo' set: using 'wlc'",
        "no 'lb_kind' set: using NAT",
    ] {
        assert_diag(&d, 9, Severity::Warning, w);
    }
    assert_eq!(d.warnings, 3, "{:#?}", lines(&d));
    let vs = &cfg.lvs.virtual_servers[0];
    assert_eq!(vs.protocol, LvsProtocol::Udp);
    assert_eq!(vs.lb_algo.as_str(), "wlc");
    let c = &cfg.lvs.checkers[0];
    assert_eq!(c.delay_loop_us, 60_000_000);
    assert_eq!(c.connect_timeout_us, 5_000_000);
    assert_eq!((c.retry, c.delay_before_retry_us), (1, 1_000_000));
    assert_eq!(cfg.lvs.real_servers[0].weight, 1);
}

#[test]
fn settings_are_inherited_vs_to_rs_to_checker() {
    let (cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {
    protocol TCP
    lb_algo wrr
    lb_kind DR
    retry 5
    connect_timeout 7
    delay_before_retry 0.5
    warmup 0
    alpha
    inhibit_on_failure
    real_server 198.51.100.11 {
        connect_timeout 4
        delay_loop 2.5
        TCP_CHECK {
            retry 2
        }
        TCP_CHECK {
            connect_port 8080
            connect_ip 198.51.100.99
            alpha off
        }
    }
}
",
    ));
    assert_clean(&d);
    let c = &cfg.lvs.checkers;
    assert_eq!(c[0].retry, 2);
    assert_eq!(c[1].retry, 5);
    assert_eq!(c[0].connect_timeout_us, 4_000_000);
    assert_eq!(c[0].delay_loop_us, 2_500_000);
    assert_eq!(c[0].delay_before_retry_us, 500_000);
    assert_eq!(c[0].warmup_us, 0);
    assert!(c[0].alpha && !c[1].alpha);
    assert!(cfg.lvs.real_servers[0].inhibit_on_failure);
    assert_eq!(cfg.lvs.real_servers[0].lb_kind, Forwarding::Dr);
    assert_eq!(
        cfg.lvs.target(1),
        Some((IpAddr::V4(Ipv4Addr::new(198, 51, 100, 99)), 8080))
    );
    assert_eq!(cfg.lvs.real_servers[0].port, 80);
}

#[test]
fn dr_real_server_port_is_reset_to_the_vs_port() {
    let (cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind DR\n    real_server 198.51.100.11 8080 {\n    }\n}\n",
    ));
    assert_diag(
        &d,
        13,
        Severity::Warning,
        "only NAT can change ports: using 80",
    );
    assert_eq!(cfg.lvs.real_servers[0].port, 80);
}

#[test]
fn ipv6_virtual_server_and_persistence_granularity() {
    let text = "vrrp_instance V6 {\n    interface eth0\n    virtual_router_id 52\n    virtual_ipaddress {\n        2001:db8::100/64\n    }\n}\nvirtual_server 2001:db8::100 443 {\n    protocol TCP\n    lb_algo sh\n    sh-port\n    lb_kind NAT\n    persistence_granularity 64\n    real_server 2001:db8:1::11 443 {\n        TCP_CHECK {\n        }\n    }\n}\n";
    let (cfg, d) = p(text);
    assert_diag(
        &d,
        13,
        Severity::Warning,
        "persistence_granularity without persistence_timeout: persistence_timeout set to 360",
    );
    assert_eq!(d.errors, 0);
    let vs = &cfg.lvs.virtual_servers[0];
    assert_eq!(vs.persistence_granularity, Some(64));
    assert_eq!(vs.persistence_timeout_s, 360);
    assert_eq!(vs.flags, svc_flags::SCHED_SH_PORT);
    assert_eq!(vs.owner, Some(0));
}

#[test]
fn ipv4_granularity_must_be_a_solid_mask() {
    let (cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    persistence_timeout\n    persistence_granularity 255.255.255.0\n    real_server 198.51.100.11 80 {\n    }\n}\nvirtual_server 192.0.2.101 80 {\n    persistence_granularity 255.0.255.0\n}\n",
    ));
    assert_eq!(
        cfg.lvs.virtual_servers[0].persistence_granularity,
        Some(0xffff_ff00)
    );
    assert_eq!(cfg.lvs.virtual_servers[0].persistence_timeout_s, 360);
    assert_diag(&d, 19, Severity::Error, "must be a netmask");
    assert_eq!(cfg.lvs.virtual_servers[1].owner, None);
}

#[test]
fn broken_lvs_blocks_report_every_problem_with_its_place() {
    let text = with_vs(
        "virtual_server 192.0.2.100 80 {
    protocol TCPX
    lb_algo roundrobin
    lb_kind NATT
    delay_loop 0
    real_server 198.51.100.11 80 {
        weight 70000
        TCP_CHECK {
            connect_port 0
            connect_timeout abc
            nb_get_retry 3
        }
        HTTP_GET {
            url {
                status_code 600 299-200
                digest 1234
            }
        }
        HTTP_GET {
        }
        MISC_CHECK {
            misc_timeout 3
        }
    }
    real_server 198.51.100.11 80 {
    }
    real_server 2001:db8::1 80 {
    }
    sorry_server_inhibit
}
virtual_server fwmark 1 {
}
",
    );
    let (_cfg, d) = p(&text);
    let want: &[(u32, &str)] = &[
        (10, "'protocol' must be TCP, UDP or SCTP, not 'TCPX'"),
        (11, "'lb_algo' must be an IPVS scheduler"),
        (12, "'lb_kind' must be NAT, DR or TUN, not 'NATT'"),
        (13, "'delay_loop' must be a number of seconds"),
        (
            15,
            "'weight' must be a whole number from 0 to 65535, not '70000'",
        ),
        (17, "'connect_port' must be a whole number from 1 to 65535"),
        (18, "'connect_timeout' must be a number of seconds"),
        (22, "url has no 'path'"),
        (23, "not '600'"),
        (23, "not '299-200'"),
        (24, "'digest' must be 32 hexadecimal digits"),
        (27, "HTTP_GET has no 'url"),
        (29, "MISC_CHECK has no 'misc_path'"),
        (33, "already configured in this virtual_server (line 14)"),
        (35, "different address families"),
        (
            37,
            "'sorry_server_inhibit' needs a 'sorry_server' before it",
        ),
        (39, "'virtual_server fwmark' is not supported by keepvip"),
    ];
    for (line, text) in want {
        assert_diag(&d, *line, Severity::Error, text);
    }
    assert_eq!(d.errors as usize, want.len(), "{:#?}", lines(&d));
    assert_diag(
        &d,
        19,
        Severity::Warning,
        "'nb_get_retry' is not a TCP_CHECK keyword",
    );
}

#[test]
fn http_nb_get_retry_is_the_deprecated_retry() {
    let (cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    real_server 198.51.100.11 80 {\n        HTTP_GET {\n            url {\n                path /\n            }\n            nb_get_retry 4\n        }\n    }\n}\n",
    ));
    assert_diag(&d, 18, Severity::Warning, "'nb_get_retry' is deprecated");
    assert_eq!(d.warnings, 1);
    assert_eq!(cfg.lvs.checkers[0].retry, 4);
}

#[test]
fn unsupported_checkers_and_keywords_warn() {
    let (cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    smtp_alert\n    real_server 198.51.100.11 80 {\n        SSL_GET {\n            url {\n                path /\n            }\n        }\n        TCP_CHECK {\n            fwmark 7\n        }\n    }\n}\n",
    ));
    assert_eq!(d.errors, 0, "{:#?}", lines(&d));
    assert_diag(&d, 13, Severity::Warning, "'smtp_alert' is not supported");
    assert_diag(
        &d,
        15,
        Severity::Warning,
        "'SSL_GET' is not supported by keepvip",
    );
    assert_diag(&d, 21, Severity::Warning, "'fwmark' is not supported");
    assert_eq!(cfg.lvs.checkers.len(), 1);
}

#[test]
fn quorum_above_total_weight_and_hysteresis_are_corrected() {
    let (cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    quorum 5\n    hysteresis 9\n    real_server 198.51.100.11 80 {\n        weight 2\n    }\n    real_server 198.51.100.12 80 {\n    }\n}\n",
    ));
    assert_diag(
        &d,
        13,
        Severity::Warning,
        "above the total weight of its real servers (3): using 3",
    );
    assert_diag(
        &d,
        9,
        Severity::Warning,
        "hysteresis 9 must be below quorum 3: using 2",
    );
    let vs = &cfg.lvs.virtual_servers[0];
    assert_eq!((vs.quorum, vs.hysteresis), (3, 2));
}

#[test]
fn checker_scripts_need_script_security() {
    let (_cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    real_server 198.51.100.11 80 {\n        MISC_CHECK {\n            misc_path /bin/true\n        }\n    }\n}\n",
    ));
    assert!(
        d.iter()
            .any(|x| x.kind == DiagKind::ScriptSecurity
                && x.message.contains("enable_script_security")),
        "{:#?}",
        lines(&d)
    );
}

/// keepalived reads `notify_up`, `notify_down`, `quorum_up` and `quorum_down` like the VRRP
/// notify commands (`CMD [USER [GROUP]]`, check_parser.c through notify_script_init): the
/// first word is the command (quote a command line with arguments), the next two its user and
/// group. They share the configuration's pool with the VRRP commands.
#[test]
fn lvs_notify_commands_take_a_user_and_a_group() {
    let vs = "virtual_server 192.0.2.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    quorum_up \"/bin/q up\" nobody nogroup
    quorum_down /bin/qdown
    real_server 198.51.100.11 80 {
        notify_up \"/usr/local/bin/up.sh web1\" nobody
        notify_down /usr/local/bin/down.sh web1
    }
}
";
    let text = format!(
        "global_defs {{\n    enable_script_security\n}}\n{}",
        with_vs(vs).replace(
            "    priority 150\n",
            "    priority 150\n    notify_master /bin/m\n"
        )
    );
    let (cfg, d) = p(&text);
    assert_clean(&d);
    let cmd = |id| {
        let c: &NotifyCmd = cfg.cmd(id).unwrap();
        (c.cmd.as_str(), c.user.as_deref(), c.group.as_deref())
    };
    let v = &cfg.lvs.virtual_servers[0];
    let r = &cfg.lvs.real_servers[0];
    assert_eq!(
        cmd(v.quorum_up),
        ("/bin/q up", Some("nobody"), Some("nogroup"))
    );
    assert_eq!(cmd(v.quorum_down), ("/bin/qdown", None, None));
    assert_eq!(
        cmd(r.notify_up),
        ("/usr/local/bin/up.sh web1", Some("nobody"), None)
    );
    // Unquoted, the second word is the user (keepalived: "web1" does not exist).
    assert_eq!(
        cmd(r.notify_down),
        ("/usr/local/bin/down.sh", Some("web1"), None)
    );
    // One pool, in the order the keywords were read.
    assert_eq!(cfg.notify_cmds.len(), 5);
    assert_eq!(cfg.instances[0].notify.notify_master, Some(CmdId(0)));
    assert_eq!(
        [v.quorum_up, v.quorum_down, r.notify_up, r.notify_down],
        [
            Some(CmdId(1)),
            Some(CmdId(2)),
            Some(CmdId(3)),
            Some(CmdId(4))
        ]
    );
    // The place of each is its keyword's (file:line:col of errors about it).
    let c = cfg.cmd(r.notify_up).unwrap();
    assert_eq!((c.span.line, c.span.col), (20, 9));

    // More than a command, a user and a group: an error at the extra word.
    let (_, d) = p(&with_vs(
        &vs.replace("quorum_down /bin/qdown", "quorum_down /bin/qdown u g extra"),
    ));
    assert_diag(
        &d,
        14,
        Severity::Error,
        "'quorum_down' takes a command, then at most a user and a group",
    );
    // Written twice: as in keepalived the first one counts; the repeat is
    // reported at its place and takes nothing from the pool.
    let (cfg, d) = p(&with_vs(&vs.replace(
        "        notify_down /usr/local/bin/down.sh web1\n",
        "        notify_down /usr/local/bin/down.sh web1\n        notify_down \"/bin/d2\"\n",
    )));
    assert_eq!(d.errors, 0, "{:#?}", lines(&d));
    assert_diag(
        &d,
        18,
        Severity::Warning,
        "'notify_down' already specified - ignoring this one",
    );
    let r = &cfg.lvs.real_servers[0];
    assert_eq!(cfg.notify_cmds.len(), 4);
    assert_eq!(
        cfg.cmd(r.notify_down).unwrap().cmd.as_str(),
        "/usr/local/bin/down.sh"
    );
}

#[test]
fn capacity_of_real_servers_is_an_error_naming_the_limit() {
    let mut vs = String::from(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n",
    );
    for i in 0..=crate::limits::MAX_REAL_SERVERS {
        vs.push_str(&format!(
            "    real_server 198.51.{}.{} 80 {{\n    }}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    vs.push_str("}\n");
    let (cfg, d) = p(&with_vs(&vs));
    assert_eq!(cfg.lvs.real_servers.len(), crate::limits::MAX_REAL_SERVERS);
    assert!(
        d.iter()
            .any(|x| x.severity == Severity::Error && x.message.contains("MAX_REAL_SERVERS")),
        "{:#?}",
        lines(&d)
    );
}

#[test]
fn a_missing_brace_before_the_next_virtual_server_is_found() {
    let (_cfg, d) = p(&with_vs(
        "virtual_server 192.0.2.100 80 {\n    protocol TCP\n    real_server 198.51.100.11 80 {\n    }\nvirtual_server 192.0.2.101 80 {\n}\n",
    ));
    assert_diag(
        &d,
        13,
        Severity::Error,
        "missing '}': 'virtual_server' block opened at line 9",
    );
}

#[test]
fn digest_parsing() {
    assert_eq!(
        lvs_parse_digest(b"00112233445566778899aabbccddeeff"),
        Some([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff
        ])
    );
    assert_eq!(lvs_parse_digest(b"00112233445566778899aabbccddeefg"), None);
    assert_eq!(lvs_parse_digest(b"0011"), None);
}

fn lvs_parse_digest(s: &[u8]) -> Option<[u8; 16]> {
    parse_digest(s)
}
