//! Notifications run by [`Hooks::notify`] against real processes and a real
//! FIFO: instance and sync-group lines in keepalived's order and format.

use super::*;
use crate::config::{Diagnostics, MemorySource, parse};
use crate::vrrp::GroupId;
use std::os::unix::fs::OpenOptionsExt;

fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, f)
            .expect("spawn test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

#[test]
fn group_and_instance_notifications_run_in_keepalived_order() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        println!("skipped under qemu-user (KEEPVIP_QEMU): spawns host programs");
        return;
    }
    let d = std::env::temp_dir().join(format!("kv-hooks-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let hook = d.join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nf=$1\nshift\necho \"$*\" >> {}/$f.out\n",
            d.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let h = hook.display();
    let fifo = d.join("n.fifo");
    let text = format!(
        "global_defs {{\n notification_email {{\n  noc@example.org\n }}\n smtp_server 192.0.2.25\n notify_fifo {}\n}}\n\
         vrrp_sync_group G1 {{\n group {{\n  VI_1\n  VI_2\n }}\n notify_master \"{h} gspecific master\"\n notify_fault \"{h} gspecific fault\"\n notify \"{h} ggeneric\"\n smtp_alert\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 150\n virtual_ipaddress {{ 192.0.2.1/24 }}\n notify_master \"{h} ispecific master\"\n notify \"{h} igeneric\"\n smtp_alert\n}}\n\
         vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {{ 192.0.2.2/24 }}\n}}\n",
        fifo.display()
    );
    big_stack(move || {
        let files = [("/k.conf", text.as_bytes())];
        let mut cfg = Config::new_boxed();
        let mut diags = Diagnostics::new();
        parse(&MemorySource::new(&files), "/k.conf", &mut cfg, &mut diags);
        assert!(
            !diags.has_errors(),
            "{:?}",
            diags.iter().collect::<std::vec::Vec<_>>()
        );
        let mut poll = PollTable::new();
        let mut hooks = Hooks::new(&cfg, ScriptCreds::none(), &mut poll).unwrap();
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut actions = Actions::new();
        actions.push(Action::NotifyGroup {
            group: GroupId(0),
            state: NotifyState::Master,
        });
        actions.push(Action::Notify {
            inst: InstanceId(0),
            state: NotifyState::Master,
            priority: 150,
        });
        actions.push(Action::Notify {
            inst: InstanceId(1),
            state: NotifyState::Master,
            priority: 100,
        });
        actions.push(Action::NotifyGroup {
            group: GroupId(0),
            state: NotifyState::Fault,
        });
        hooks.notify(&cfg, &actions, crate::sys::clock::monotonic_now());
        // Group: notify_master + notify; VI_1: both; VI_2: none; group
        // FAULT: notify_fault + notify.
        assert_eq!(hooks.exec.running(), 6);
        let t0 = std::time::Instant::now();
        while hooks.exec.running() > 0 {
            assert!(t0.elapsed() < std::time::Duration::from_secs(10));
            hooks.reap(Instant::ZERO);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
        // The commands of both transitions were spawned in the same turn and
        // run concurrently (as keepalived's do): which one appends first is
        // up to the scheduler. The spawn order is the FIFO's, checked below.
        let sorted = |s: String| {
            let mut v: std::vec::Vec<String> = s.lines().map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(sorted(read("gspecific.out")), ["fault", "master"]);
        assert_eq!(
            sorted(read("ggeneric.out")),
            ["GROUP G1 FAULT 0", "GROUP G1 MASTER 0"],
            "groups report priority 0"
        );
        assert_eq!(read("ispecific.out"), "master\n");
        assert_eq!(read("igeneric.out"), "INSTANCE VI_1 MASTER 150\n");
        use std::io::Read as _;
        let mut buf = [0u8; 512];
        let n = reader.read(&mut buf).unwrap();
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            "GROUP \"G1\" MASTER 0\nINSTANCE \"VI_1\" MASTER 150\nINSTANCE \"VI_2\" MASTER 100\nGROUP \"G1\" FAULT 0\n"
        );
        // SMTP: the group (smtp_alert) twice and VI_1 (smtp_alert); VI_2
        // has none. The first is in the session (connecting), two wait.
        #[cfg(feature = "smtp")]
        assert_eq!(hooks.mail.smtp().stats().queued, 3);
        drop(hooks);
        assert!(!fifo.exists(), "the FIFO we created is removed");
        let _ = std::fs::remove_dir_all(&d);
    });
}

/// Who a notify command runs as: `script_user` for every command without
/// its own user, and keepalived's `notify_* CMD USER [GROUP]` for one
/// command. The commands write `id -u` and `id -g`; run as root (the
/// daemon's case), 65534 is nobody/nogroup on Debian.
#[test]
fn notify_commands_run_as_script_user_or_their_own_user() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        println!("skipped under qemu-user (KEEPVIP_QEMU): spawns host programs");
        return;
    }
    use std::os::unix::fs::MetadataExt as _;
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        println!("skipped: needs root to change user");
        return;
    }
    let (Ok(nobody), Ok(nogroup)) = (
        crate::sys::exec::resolve_creds("nobody", None),
        crate::sys::exec::resolve_creds("root", Some("nogroup")),
    ) else {
        println!("skipped: no user nobody or group nogroup here");
        return;
    };
    assert_eq!(nobody.uid, 65534);
    assert_eq!(nogroup.gid, 65534);
    let d = std::env::temp_dir().join(format!("kv-hooks-user-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    use std::os::unix::fs::PermissionsExt;
    // Written by the commands as nobody.
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let hook = d.join("id.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$(id -u) $(id -g)\" > {}/$1.out\n",
            d.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let h = hook.display();
    // 1: script_user nobody nogroup; VI_1's notify_fault names root.
    // 2: no script_user; notify_backup names nobody (its group), notify
    //    names nobody and nogroup, notify_master has no user.
    let conf1 = format!(
        "global_defs {{\n script_user nobody nogroup\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{ 192.0.2.1/24 }}\n \
         notify_master \"{h} a_master\"\n notify_fault \"{h} a_fault\" root\n}}\n"
    );
    let conf2 = format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{ 192.0.2.1/24 }}\n \
         notify_master \"{h} b_master\"\n notify_backup \"{h} b_backup\" nobody\n notify \"{h} b_generic\" nobody nogroup\n}}\n"
    );
    let run = |text: String, states: &'static [NotifyState]| {
        big_stack(move || {
            let files = [("/k.conf", text.as_bytes())];
            let mut cfg = Config::new_boxed();
            let mut diags = Diagnostics::new();
            parse(&MemorySource::new(&files), "/k.conf", &mut cfg, &mut diags);
            let creds = check_scripts(&cfg, &mut diags);
            assert!(
                !diags.has_errors(),
                "{:?}",
                diags.iter().collect::<std::vec::Vec<_>>()
            );
            let mut poll = PollTable::new();
            let mut hooks = Hooks::new(&cfg, creds, &mut poll).unwrap();
            let mut actions = Actions::new();
            for &state in states {
                actions.push(Action::Notify {
                    inst: InstanceId(0),
                    state,
                    priority: 100,
                });
            }
            hooks.notify(&cfg, &actions, crate::sys::clock::monotonic_now());
            let t0 = std::time::Instant::now();
            while hooks.exec.running() > 0 {
                assert!(t0.elapsed() < std::time::Duration::from_secs(10));
                hooks.reap(Instant::ZERO);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    run(conf1, &[NotifyState::Master, NotifyState::Fault]);
    run(conf2, &[NotifyState::Master, NotifyState::Backup]);
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    // keepalived_script, if it exists, is the default user without
    // script_user; else the daemon's own (root).
    let default = crate::sys::exec::default_script_creds()
        .map(|c| format!("{} {}\n", c.uid, c.gid))
        .unwrap_or_else(|| "0 0\n".into());
    assert_eq!(
        read("a_master.out"),
        "65534 65534\n",
        "script_user nobody nogroup"
    );
    assert_eq!(read("a_fault.out"), "0 0\n", "notify_fault CMD root");
    assert_eq!(read("b_master.out"), default, "default user");
    assert_eq!(
        read("b_backup.out"),
        format!("65534 {}\n", nobody.gid),
        "notify_backup CMD nobody: nobody's own group"
    );
    assert_eq!(
        read("b_generic.out"),
        "65534 65534\n",
        "notify CMD nobody nogroup"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// keepalived 2.2.7's two global FIFOs: `notify_fifo` and
/// `vrrp_notify_fifo` both get every VRRP line; `PATH USER GROUP` gives a
/// FIFO keepvip creates to that user and group; the same path for both is
/// one FIFO (the vrrp one is ignored, with a warning), so one line each.
#[test]
fn notify_fifo_and_vrrp_notify_fifo_both_get_the_lines() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        println!("skipped under qemu-user (KEEPVIP_QEMU): host FIFOs");
        return;
    }
    use std::os::unix::fs::MetadataExt as _;
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        == 0;
    let nobody = crate::sys::exec::resolve_creds("nobody", Some("nogroup")).ok();
    let d = std::env::temp_dir().join(format!("kv-hooks-2fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let (a, b) = (d.join("a.fifo"), d.join("b.fifo"));
    let owner = if root && nobody.is_some() {
        " nobody nogroup"
    } else {
        ""
    };
    let inst = "vrrp_sync_group G1 {\n group {\n  VI_1\n  VI_2\n }\n}\n\
        vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1/24 }\n}\n\
        vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress { 192.0.2.2/24 }\n}\n";
    let conf2 = format!(
        "global_defs {{\n notify_fifo {}{owner}\n vrrp_notify_fifo {}\n}}\n{inst}",
        a.display(),
        b.display()
    );
    let conf1 = format!(
        "global_defs {{\n notify_fifo {}\n vrrp_notify_fifo {}\n}}\n{inst}",
        a.display(),
        a.display()
    );
    let run = |text: String, warnings: u32, paths: &[&std::path::Path]| {
        let paths: std::vec::Vec<std::path::PathBuf> =
            paths.iter().map(|p| p.to_path_buf()).collect();
        big_stack(move || {
            let files = [("/k.conf", text.as_bytes())];
            let mut cfg = Config::new_boxed();
            let mut diags = Diagnostics::new();
            parse(&MemorySource::new(&files), "/k.conf", &mut cfg, &mut diags);
            let creds = check_scripts(&cfg, &mut diags);
            assert!(!diags.has_errors());
            assert_eq!(
                diags.warnings,
                warnings,
                "{:?}",
                diags.iter().collect::<std::vec::Vec<_>>()
            );
            let mut poll = PollTable::new();
            let mut hooks = Hooks::new(&cfg, creds, &mut poll).unwrap();
            let mut readers: std::vec::Vec<std::fs::File> = paths
                .iter()
                .map(|p| {
                    std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(p)
                        .unwrap()
                })
                .collect();
            let owners: std::vec::Vec<(u32, u32)> = paths
                .iter()
                .map(|p| {
                    let m = std::fs::metadata(p).unwrap();
                    (m.uid(), m.gid())
                })
                .collect();
            let mut actions = Actions::new();
            actions.push(Action::Notify {
                inst: InstanceId(1),
                state: NotifyState::Backup,
                priority: 100,
            });
            actions.push(Action::NotifyGroup {
                group: GroupId(0),
                state: NotifyState::Backup,
            });
            hooks.notify(&cfg, &actions, crate::sys::clock::monotonic_now());
            let got: std::vec::Vec<String> = readers
                .iter_mut()
                .map(|r| {
                    use std::io::Read as _;
                    let mut buf = [0u8; 512];
                    let n = r.read(&mut buf).unwrap_or(0);
                    String::from_utf8_lossy(&buf[..n]).into_owned()
                })
                .collect();
            drop(hooks);
            (got, owners)
        })
    };
    let lines = "INSTANCE \"VI_2\" BACKUP 100\nGROUP \"G1\" BACKUP 0\n";
    let (got, owners) = run(conf2, 0, &[&a, &b]);
    assert_eq!(got, [lines, lines]);
    if let Some(n) = nobody.filter(|_| root) {
        assert_eq!(owners[0], (n.uid, n.gid), "notify_fifo PATH nobody nogroup");
        assert_eq!(owners[1], (0, 0));
    } else {
        println!("FIFO owner not checked: not root, or no nobody/nogroup");
    }
    assert!(!a.exists() && !b.exists(), "created FIFOs are removed");
    let (got, _) = run(conf1, 1, &[&a]);
    assert_eq!(got, [lines]);
    let _ = std::fs::remove_dir_all(&d);
}

/// keepalived's MASTER_RX_LOWER_PRI event: `notify_master_rx_lower_pri`
/// runs as configured (no arguments added) and the FIFO gets
/// `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150`; the generic `notify` does not
/// run for it.
#[test]
fn master_rx_lower_pri_runs_its_command_and_writes_the_fifo() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        println!("skipped under qemu-user (KEEPVIP_QEMU): spawns host programs");
        return;
    }
    let d = std::env::temp_dir().join(format!("kv-hooks-rxlow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let hook = d.join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nf=$1\nshift\necho \"$*\" >> {}/$f.out\n",
            d.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fifo = d.join("n.fifo");
    let text = format!(
        "global_defs {{\n vrrp_notify_fifo {}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 150\n virtual_ipaddress {{ 192.0.2.1/24 }}\n \
         notify_master_rx_lower_pri \"{h} rx x y\"\n notify \"{h} generic\"\n}}\n",
        fifo.display(),
        h = hook.display()
    );
    let d2 = d.clone();
    let got = big_stack(move || {
        let files = [("/k.conf", text.as_bytes())];
        let mut cfg = Config::new_boxed();
        let mut diags = Diagnostics::new();
        parse(&MemorySource::new(&files), "/k.conf", &mut cfg, &mut diags);
        assert!(!diags.has_errors());
        let mut poll = PollTable::new();
        let mut hooks = Hooks::new(&cfg, ScriptCreds::none(), &mut poll).unwrap();
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut actions = Actions::new();
        actions.push(Action::MasterRxLowerPri {
            inst: InstanceId(0),
            priority: 150,
        });
        hooks.notify(&cfg, &actions, crate::sys::clock::monotonic_now());
        assert_eq!(hooks.exec.running(), 1);
        let t0 = std::time::Instant::now();
        while hooks.exec.running() > 0 {
            assert!(t0.elapsed() < std::time::Duration::from_secs(10));
            hooks.reap(Instant::ZERO);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        use std::io::Read as _;
        let mut buf = [0u8; 256];
        let n = reader.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    assert_eq!(got, "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\n");
    assert_eq!(std::fs::read_to_string(d2.join("rx.out")).unwrap(), "x y\n");
    assert!(!d2.join("generic.out").exists());
    let _ = std::fs::remove_dir_all(&d2);
}
