//! Broken configurations produce the expected diagnostics at the expected
//! `file:line:col`, all of them in one run.

mod config_common;
use config_common::*;

use keepvip::config::{Config, ConfigSource, Diagnostics, MemorySource, SourceError, parse};
use keepvip::sys::config_fs::FsSource;

use keepvip::limits::{MAX_INSTANCES, MAX_NOTIFY_CMDS, MAX_VIPS};

const DIR: &str = "tests/fixtures/broken";

/// Parses `name` and checks that each `(line, col, severity, text)` appears
/// as a rendered `-t` line. Returns all rendered lines.
#[track_caller]
fn expect(name: &str, want: &[(u32, u32, &str, &str)]) -> Vec<String> {
    let path = format!("{DIR}/{name}");
    let (cfg, d) = parse_file(&path);
    let got = rendered(&cfg, &d);
    for (line, col, sev, text) in want {
        let prefix = format!("{path}:{line}:{col}: {sev}: ");
        assert!(
            got.iter()
                .any(|g| g.starts_with(&prefix) && g.contains(text)),
            "missing `{prefix}...{text}` in:\n{}",
            got.join("\n")
        );
    }
    got
}

#[test]
fn missing_brace() {
    let got = expect(
        "missing-brace.conf",
        &[(
            8,
            1,
            "error",
            "missing '}': 'vrrp_instance' block opened at line 1",
        )],
    );
    assert_eq!(got.len(), 1, "{got:?}");
}

#[test]
fn unclosed_block_at_end_of_file() {
    expect(
        "unclosed.conf",
        &[(1, 1, "error", "never closed: missing '}'")],
    );
}

#[test]
fn unknown_block() {
    expect(
        "unknown-block.conf",
        &[(2, 1, "error", "unknown block 'vrrp_instanse'")],
    );
}

#[test]
fn vrid_out_of_range() {
    let got = expect(
        "vrid-range.conf",
        &[(
            3,
            23,
            "error",
            "'virtual_router_id' must be a whole number from 1 to 255, not '256'",
        )],
    );
    assert_eq!(got.len(), 1, "no cascading 'missing' error: {got:?}");
}

#[test]
fn duplicate_vrid_on_an_interface() {
    expect(
        "duplicate-vrid.conf",
        &[(
            10,
            5,
            "error",
            "virtual_router_id 51 is already used for IPv4 on eth0 by vrrp_instance VI_1",
        )],
    );
}

#[test]
fn vip_count_over_capacity() {
    // The fixture has 300 VIPs; the first one over the limit is on line 5 + MAX_VIPS.
    let line = 5 + MAX_VIPS as u32;
    let got = expect(
        "vip-capacity.conf",
        &[(line, 9, "error", "too many virtual_ipaddress entries")],
    );
    assert!(got[0].contains("KEEPVIP_MAX_VIPS"), "{got:?}");
    assert_eq!(got.len(), 1, "reported once: {got:?}");
}

/// The notify commands of a configuration share one pool of `MAX_NOTIFY_CMDS`: the first
/// command over it is an error at its keyword's file:line:col, naming the build variable,
/// reported once (the commands after it are not reported again).
#[test]
fn notify_command_count_over_capacity() {
    const PER_INSTANCE: usize = 6;
    let want = MAX_NOTIFY_CMDS + 1;
    let instances = want.div_ceil(PER_INSTANCE) + 1;
    if instances > MAX_INSTANCES {
        println!(
            "skipped: {want} notify commands need {instances} instances, this build has room for {MAX_INSTANCES}"
        );
        return;
    }
    let mut text = String::from("global_defs {\n enable_script_security\n}\n");
    let mut count = 0;
    let mut over = None;
    for k in 0..instances {
        text += &format!(
            "vrrp_instance VI_{k} {{\n interface eth{}\n virtual_router_id {}\n virtual_ipaddress {{\n  192.0.2.{}/24\n }}\n",
            k / 255,
            k % 255 + 1,
            k % 250 + 1
        );
        for kw in [
            "notify_master",
            "notify_backup",
            "notify_fault",
            "notify_stop",
            "notify",
            "notify_master_rx_lower_pri",
        ] {
            count += 1;
            if count == want {
                over = Some(text.matches('\n').count() + 1);
            }
            text += &format!(" {kw} \"/bin/true {k} {kw}\" nobody\n");
        }
        text += "}\n";
    }
    let line = over.expect("the line of the first command over the capacity");
    let (cfg, d) = config_common::big_stack(move || {
        let files: [(&str, &[u8]); 1] = [("notify-capacity.conf", text.as_bytes())];
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(
            &MemorySource::new(&files),
            "notify-capacity.conf",
            &mut cfg,
            &mut d,
        );
        (cfg, d)
    });
    let got = rendered(&cfg, &d);
    assert_eq!(
        got,
        [format!(
            "notify-capacity.conf:{line}:2: error: too many notify commands: keepvip was built for at most {MAX_NOTIFY_CMDS} (limit MAX_NOTIFY_CMDS; rebuild with KEEPVIP_MAX_NOTIFY_CMDS=N to raise it)"
        )]
    );
    assert_eq!(cfg.notify_cmds.len(), MAX_NOTIFY_CMDS);
}

#[test]
fn unreadable_include() {
    expect(
        "bad-include.conf",
        &[(
            4,
            9,
            "error",
            "cannot read included file 'tests/fixtures/broken/instances/missing.conf'",
        )],
    );
}

#[test]
fn error_in_an_included_file_names_that_file() {
    let (cfg, d) = parse_file(&format!("{DIR}/include-broken.conf"));
    let got = rendered(&cfg, &d);
    assert_eq!(
        got,
        [
            "tests/fixtures/broken/include-broken.d/part.inc:4:14: error: 'priority' must be a whole number from 1 to 255, not '0'"
        ]
    );
}

#[test]
fn bad_ip() {
    expect(
        "bad-ip.conf",
        &[(
            4,
            20,
            "error",
            "'192.0.2.300' is not a valid IP address (unicast_src_ip)",
        )],
    );
}

#[test]
fn unknown_track_script_name() {
    expect(
        "unknown-track-script.conf",
        &[(14, 9, "error", "track_script 'chk_wbe' is not defined")],
    );
}

#[test]
fn warnings_only() {
    let (cfg, d) = parse_file(&format!("{DIR}/warnings-only.conf"));
    assert_eq!((d.errors, d.warnings), (0, 4), "{:?}", rendered(&cfg, &d));
    assert_eq!(d.exit_code(), 4);
    expect(
        "warnings-only.conf",
        &[
            // No priority with state MASTER: 255, the address owner (keepalived 2.2.7 -t on
            // this file: "nopreempt is incompatible with priority 255").
            (
                4,
                5,
                "warning",
                "nopreempt ignored: the address owner (priority 255) always preempts",
            ),
            (
                7,
                16,
                "warning",
                "advert_int 1.5 s: VRRPv2 uses whole seconds; using 2 s",
            ),
            (10, 19, "warning", "only the first 8 are used"),
            (15, 5, "warning", "unknown keyword 'unknown_option' ignored"),
        ],
    );
}

#[test]
fn many_errors_in_one_run() {
    let got = expect(
        "many-errors.conf",
        &[
            (
                3,
                18,
                "error",
                "'vrrp_version' must be a whole number from 2 to 3",
            ),
            (
                4,
                23,
                "error",
                "vrrp_mcast_group4 must be an IPv4 multicast address",
            ),
            (5, 5, "warning", "unknown keyword 'frobnicate'"),
            (
                8,
                11,
                "error",
                "'state' must be MASTER or BACKUP, not 'PRIMARY'",
            ),
            (
                10,
                23,
                "error",
                "'virtual_router_id' must be a whole number from 1 to 255, not '0'",
            ),
            (
                11,
                14,
                "error",
                "'priority' must be a whole number from 1 to 255, not '256'",
            ),
            (12, 16, "error", "'advert_int' must be a number of seconds"),
            (14, 19, "error", "'auth_type' must be PASS or AH, not 'MD5'"),
            (
                17,
                9,
                "error",
                "'192.0.2.100/40': prefix length must be 0 to 32",
            ),
            (18, 22, "error", "'dev' in virtual_ipaddress needs a value"),
            (
                21,
                21,
                "error",
                "weight must be a whole number from -253 to 253, not '300'",
            ),
            (24, 1, "error", "vrrp_instance VI_2: 'interface' is missing"),
            (
                28,
                9,
                "error",
                "192.0.2.7 is IPv4 but the first virtual_ipaddress of VI_2 is IPv6",
            ),
            (31, 9, "error", "track_process 'ghost' is not defined"),
            (
                37,
                9,
                "error",
                "vrrp_sync_group member 'VI_3' is not a vrrp_instance",
            ),
            (40, 1, "error", "unknown block 'virtual_srver'"),
        ],
    );
    // Nothing else, in particular no "no virtual_ipaddress" cascade for VI_1
    // whose address lines were all invalid.
    let (_, d) = parse_file(&format!("{DIR}/many-errors.conf"));
    assert_eq!(d.errors, 15, "{}", got.join("\n"));
    assert_eq!(d.exit_code(), 3);
    // Sorted by line.
    let lines: Vec<u32> = d.iter().map(|x| x.span.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[cfg(feature = "lvs")]
#[test]
fn lvs_missing_brace_and_bad_digest() {
    let got = expect(
        "lvs-broken.conf",
        &[
            (
                16,
                5,
                "error",
                "missing '}': the 'real_server' block opened at line 12 is still open where 'real_server' starts",
            ),
            (20, 24, "error", "'digest' must be 32 hexadecimal digits"),
        ],
    );
    // The braces pair up again after the report: nothing else is wrong.
    assert_eq!(got.len(), 2, "{got:?}");
}

#[cfg(feature = "lvs")]
#[test]
fn lvs_keepalived_1x_config_is_usable_with_one_warning() {
    let got = expect(
        "lvs-keepalived1.conf",
        &[(
            19,
            13,
            "warning",
            "'nb_get_retry' is not a TCP_CHECK keyword in keepalived 2.x",
        )],
    );
    assert_eq!(got.len(), 1, "{got:?}");
}

/// A file-system source that refuses `denied.conf` with "permission denied" (EACCES), as the
/// real source does for a file the daemon may not read: root reads any file, so the refusal is
/// simulated here (tests/config_cli.rs gets the real EACCES as an unprivileged user).
struct Denying(FsSource);

impl ConfigSource for Denying {
    fn read_file(&self, path: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), SourceError> {
        if path.ends_with("/denied.conf") {
            return Err(SourceError::PermissionDenied);
        }
        self.0.read_file(path, f)
    }
    fn list_dir(&self, dir: &str, f: &mut dyn FnMut(&str)) -> Result<(), SourceError> {
        self.0.list_dir(dir, f)
    }
}

/// Issue 6, item 5: one file with every kind of error (unreadable includes: a missing file, a
/// directory, a file that may not be read; unknown block, VRID out of range, duplicate VRID on an
/// interface, missing brace, VIP count over capacity): all of them are reported, each at its
/// file:line, in one parse; the missing brace does not hide the errors after it.
#[test]
fn every_kind_of_error_in_one_run() {
    let vip_line = 42 + MAX_VIPS as u32;
    let path = format!("{DIR}/every-kind.conf");
    let (cfg, d) = big_stack(|| {
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&Denying(FsSource::new()), &path, &mut cfg, &mut d);
        (cfg, d)
    });
    let got = rendered(&cfg, &d);
    let want: &[(u32, u32, &str)] = &[
        (
            6,
            9,
            "cannot read included file 'tests/fixtures/broken/every-kind.d/missing.conf': no such file or directory",
        ),
        (7, 1, "unknown block 'vrrp_instanse'"),
        (
            12,
            23,
            "'virtual_router_id' must be a whole number from 1 to 255, not '300'",
        ),
        (
            26,
            5,
            "virtual_router_id 51 is already used for IPv4 on eth0 by vrrp_instance VI_2",
        ),
        (
            38,
            1,
            "missing '}': 'vrrp_instance' block opened at line 31",
        ),
        (vip_line, 9, "too many virtual_ipaddress entries"),
        (
            344,
            9,
            "cannot read included file 'tests/fixtures/broken/every-kind.d': not a regular file",
        ),
        (
            345,
            9,
            "cannot read included file 'tests/fixtures/broken/every-kind.d/denied.conf': permission denied",
        ),
    ];
    for (line, col, text) in want {
        let prefix = format!("{path}:{line}:{col}: error: ");
        assert!(
            got.iter()
                .any(|g| g.starts_with(&prefix) && g.contains(text)),
            "missing `{prefix}...{text}` in:\n{}",
            got.join("\n")
        );
    }
    assert_eq!(got.len(), 8, "exactly these eight, no cascade: {got:#?}");
}

/// Regression input of the `config_parse` fuzz target (tests/fuzz/README.md): 33 instances on
/// eth1..eth33 passed `-t` and then failed `Router::new` at daemon start. Now `-t` refuses it at
/// the first interface over `MAX_INTERFACES`, naming the build variable; a build with room for
/// 33 interfaces accepts it, and whatever passes builds a router.
#[test]
fn too_many_interfaces_fuzz_finding_is_a_config_error() {
    use keepvip::limits::MAX_INTERFACES;
    let path = "tests/fuzz/corpus/config_parse/too-many-interfaces.conf";
    let (cfg, d) = parse_file(path);
    let got = rendered(&cfg, &d);
    if MAX_INTERFACES < 33 {
        // Each instance is 8 lines, `interface` its second.
        let line = 8 * MAX_INTERFACES + 2;
        let want = format!(
            "{path}:{line}:2: error: too many interfaces: 'eth{}' is one more than the {MAX_INTERFACES} keepvip was built to watch (limit MAX_INTERFACES; rebuild with KEEPVIP_MAX_INTERFACES=N to raise it)",
            MAX_INTERFACES + 1
        );
        assert_eq!(got, [want]);
    } else {
        assert!(got.is_empty(), "{got:#?}");
        assert!(keepvip::vrrp::Router::new(&cfg).is_ok());
    }
}
