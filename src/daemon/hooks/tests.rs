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
