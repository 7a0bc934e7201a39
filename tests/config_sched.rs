//! keepalived's scheduling keywords in `global_defs`: `vrrp_rt_priority`,
//! `vrrp_priority`, `vrrp_rlimit_rttime` (and its deprecated name
//! `vrrp_rlimit_rtime`), with keepalived's ranges and corrections.

mod config_common;
use config_common::*;

use keepvip::config::model::RLIMIT_RTTIME_DEFAULT_US;
use keepvip::config::{Config, Diagnostics, MemorySource, parse};

const PATH: &str = "/etc/keepvip/keepvip.conf";

const INSTANCE: &str = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        192.0.2.100/24\n    }\n}\n";

/// Parses `global_defs { LINES }` plus one instance: (rt priority, nice,
/// rlimit µs, rendered diagnostics).
fn globals(lines: &str) -> (u8, i8, u32, Vec<String>) {
    let text = format!("global_defs {{\n{lines}}}\n{INSTANCE}");
    big_stack(move || {
        let files: [(&str, &[u8]); 1] = [(PATH, text.as_bytes())];
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&MemorySource::new(&files), PATH, &mut cfg, &mut d);
        let g = &cfg.global_defs;
        (
            g.vrrp_rt_priority,
            g.vrrp_priority,
            g.vrrp_rlimit_rttime_us,
            rendered(&cfg, &d),
        )
    })
}

#[test]
fn defaults_are_keepalived_s() {
    assert_eq!(globals(""), (0, 0, RLIMIT_RTTIME_DEFAULT_US, vec![]));
    assert_eq!(RLIMIT_RTTIME_DEFAULT_US, 10_000);
}

#[test]
fn values_in_range() {
    let (rt, nice, lim, d) =
        globals("    vrrp_rt_priority 10\n    vrrp_priority -5\n    vrrp_rlimit_rttime 20000\n");
    assert_eq!((rt, nice, lim), (10, -5, 20_000));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(globals("    vrrp_rt_priority 99\n").0, 99);
    assert_eq!(globals("    vrrp_priority 19\n").1, 19);
    assert_eq!(globals("    vrrp_priority -20\n").1, -20);
}

#[test]
fn rt_priority_out_of_range_is_clamped_with_a_warning() {
    let (rt, _, _, d) = globals("    vrrp_rt_priority 0\n");
    assert_eq!(rt, 1);
    assert!(
        d.iter().any(|l| l.contains(
            ":2:22: warning: vrrp_rt_priority 0 less than minimum 1 - setting to minimum"
        )),
        "{d:?}"
    );
    let (rt, _, _, d) = globals("    vrrp_rt_priority 150\n");
    assert_eq!(rt, 99);
    assert!(
        d.iter().any(|l| l.contains(
            "warning: vrrp_rt_priority 150 greater than maximum 99 - setting to maximum"
        )),
        "{d:?}"
    );
}

#[test]
fn bad_values_are_errors_and_leave_the_default() {
    for (line, col, what) in [
        (
            "    vrrp_rt_priority high\n",
            22,
            "'vrrp_rt_priority' must be a whole number (1 to 99), not 'high'",
        ),
        (
            "    vrrp_priority 20\n",
            19,
            "'vrrp_priority' must be a whole number from -20 to 19, not '20'",
        ),
        ("    vrrp_priority -21\n", 19, "not '-21'"),
        (
            "    vrrp_rlimit_rttime 0\n",
            24,
            "'vrrp_rlimit_rttime' must be a number of microseconds from 1 to 4294967295, not '0'",
        ),
        (
            "    vrrp_rlimit_rttime 4294967296\n",
            24,
            "not '4294967296'",
        ),
    ] {
        let (rt, nice, lim, d) = globals(line);
        assert_eq!((rt, nice, lim), (0, 0, 10_000), "{line}");
        let want = format!("{PATH}:2:{col}: error: ");
        assert!(
            d.iter().any(|l| l.starts_with(&want) && l.contains(what)),
            "{line}: {d:?}"
        );
    }
    let (_, _, _, d) = globals("    vrrp_rt_priority\n");
    assert!(
        d.iter()
            .any(|l| l.contains("'vrrp_rt_priority' needs a value")),
        "{d:?}"
    );
}

#[test]
fn rlimit_rttime_minimum_and_deprecated_name() {
    // keepalived halves the limit for the soft limit: 1 is taken as 2.
    assert_eq!(globals("    vrrp_rlimit_rttime 1\n").2, 2);
    let (_, _, lim, d) = globals("    vrrp_rlimit_rtime 5000\n");
    assert_eq!(lim, 5000);
    assert!(
        d.iter().any(|l| l.contains(
            "warning: 'vrrp_rlimit_rtime' is deprecated - please use 'vrrp_rlimit_rttime'"
        )),
        "{d:?}"
    );
}

#[test]
fn the_tracking_example_runs_real_time() {
    let (cfg, d) = parse_file("config/tracking.conf");
    assert!(rendered(&cfg, &d).is_empty());
    assert_eq!(cfg.global_defs.vrrp_rt_priority, 10);
    assert_eq!(cfg.global_defs.vrrp_rlimit_rttime_us, 10_000);
}
