//! keepalived.conf lexer, parser and validation.
//!
//! The input is the main file `/etc/keepalived/keepalived.conf` of a
//! [`MemorySource`] that also holds fixed include files (so `include`
//! with a name or a glob reaches real content, nested includes and a
//! self-include included): `conf.d/extra.conf`, `conf.d/sub/nested.conf`
//! and the two files of the `config/include.conf` example,
//! `include.d/vi_1.inc` and `include.d/vi_2.inc` (so that seed, `include
//! include.d/*.inc` relative to the main file, reads them). `Config` is about 1 MiB: it is allocated once per
//! process and reused (`parse` resets it), which also checks that a reparse
//! into a used `Config` is clean (what a SIGHUP reload does).
//!
//! Properties, beyond "never panics":
//! * every diagnostic renders, and names a file the parse read;
//! * the error/warning totals match the kept items plus `dropped`;
//! * a configuration without errors builds a `vrrp::Router`, has every VRID
//!   in 1..=255, a priority in 1..=255 and an interface per instance;
//! * parsing the same input twice gives the same configuration digest.
#![no_main]

use core::fmt::Write as _;
use std::cell::RefCell;
use std::hash::{DefaultHasher, Hash, Hasher};

use keepvip::config::{Config, Diagnostics, MemorySource, Severity, parse};
use keepvip::vrrp::Router;
use libfuzzer_sys::fuzz_target;

const MAIN: &str = "/etc/keepalived/keepalived.conf";

const EXTRA: &[u8] = b"vrrp_instance INC_1 {
    interface eth1
    virtual_router_id 77
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.51.100.77/24
    }
}
";

const NESTED: &[u8] = b"! nested include, and one back to the main file (loop)
vrrp_script chk {
    script \"/bin/true\"
    interval 2
    weight -20
}
include /etc/keepalived/keepalived.conf
";

/// The include files of the `config/include.conf` example.
const VI_1_INC: &[u8] = include_bytes!("../../../config/include.d/vi_1.inc");
const VI_2_INC: &[u8] = include_bytes!("../../../config/include.d/vi_2.inc");

struct State {
    cfg: Box<Config>,
    diags: Box<Diagnostics>,
    line: String,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        cfg: Config::new_boxed(),
        diags: Box::default(),
        line: String::with_capacity(512),
    });
}

/// A digest of what the parse produced (the Debug form covers every kept
/// field; heapless vectors print only their elements).
fn digest(cfg: &Config, d: &Diagnostics, line: &mut String) -> u64 {
    let mut h = DefaultHasher::new();
    line.clear();
    let _ = write!(line, "{:?}", cfg.instances);
    line.hash(&mut h);
    line.clear();
    let _ = write!(line, "{:?}{:?}", cfg.global_defs, cfg.files);
    line.hash(&mut h);
    line.clear();
    let _ = write!(
        line,
        "{:?}{:?}{:?}{:?}",
        cfg.scripts, cfg.track_processes, cfg.track_files, cfg.sync_groups
    );
    line.hash(&mut h);
    (d.errors, d.warnings, d.dropped, d.items.len()).hash(&mut h);
    for item in &d.items {
        item.message.as_str().hash(&mut h);
        (item.span.file, item.span.line, item.span.col).hash(&mut h);
    }
    h.finish()
}

fuzz_target!(|data: &[u8]| {
    let files: [(&str, &[u8]); 5] = [
        (MAIN, data),
        ("/etc/keepalived/conf.d/extra.conf", EXTRA),
        ("/etc/keepalived/conf.d/sub/nested.conf", NESTED),
        ("/etc/keepalived/include.d/vi_1.inc", VI_1_INC),
        ("/etc/keepalived/include.d/vi_2.inc", VI_2_INC),
    ];
    let source = MemorySource::new(&files);
    STATE.with_borrow_mut(|st| {
        let State { cfg, diags, line } = st;
        parse(&source, MAIN, cfg, diags);

        // Totals and rendering.
        let kept_errors = diags
            .items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count() as u32;
        let kept_warnings = diags.items.len() as u32 - kept_errors;
        assert!(diags.errors >= kept_errors && diags.warnings >= kept_warnings);
        assert_eq!(
            u64::from(diags.errors) + u64::from(diags.warnings),
            diags.items.len() as u64 + u64::from(diags.dropped),
            "totals vs kept + dropped"
        );
        assert_eq!(diags.has_errors(), diags.errors > 0);
        let _ = diags.exit_code();
        for d in diags.iter() {
            line.clear();
            write!(line, "{}", d.display(cfg)).expect("diagnostic renders");
            assert!(
                d.span.line == 0 && d.span.file == 0 || (d.span.file as usize) < cfg.files.len(),
                "diagnostic names an unread file: {line}"
            );
        }
        assert!(cfg.files.first().is_some_and(|f| f.as_str() == MAIN));

        if !diags.has_errors() {
            for i in &cfg.instances {
                assert!(i.virtual_router_id >= 1, "{}: vrid 0 accepted", i.name);
                assert!(i.priority >= 1, "{}: priority 0 accepted", i.name);
                assert!(!i.interface.is_empty(), "{}: no interface", i.name);
                assert!(i.advert_int_cs >= 1, "{}: advert_int 0 accepted", i.name);
            }
            if let Err(e) = Router::new_boxed(cfg) {
                panic!("config without errors does not build a Router: {e:?}");
            }
        }

        // Determinism, and a reparse into a used Config is clean.
        let first = digest(cfg, diags, line);
        parse(&source, MAIN, cfg, diags);
        assert_eq!(first, digest(cfg, diags, line), "reparse differs");
    });
});
