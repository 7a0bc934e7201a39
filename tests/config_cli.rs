//! The built binary: `keepvip -t -f FILE` on every example (exit 0) and on
//! broken files (non-zero, `file:line:col` on stderr).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_keepvip");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run keepvip");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_example_passes_config_test() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary, which the host cannot exec (no binfmt)"
        );
        return;
    }
    let mut n = 0;
    for e in std::fs::read_dir("config").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "conf") {
            let path = p.to_string_lossy().into_owned();
            let (code, _, err) = run(&["-t", "-f", &path]);
            assert_eq!(code, 0, "{path}: {err}");
            assert!(err.contains("0 error(s), 0 warning(s)"), "{err}");
            n += 1;
        }
    }
    assert!(n >= 14);
}

#[test]
fn broken_config_exits_3_with_file_line_col() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary, which the host cannot exec (no binfmt)"
        );
        return;
    }
    let (code, _, err) = run(&["-t", "-f", "tests/fixtures/broken/vrid-range.conf"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(
            "tests/fixtures/broken/vrid-range.conf:3:23: error: 'virtual_router_id' must be"
        ),
        "{err}"
    );
    // --config-test=FILE form.
    let (code, _, err) = run(&["--config-test=tests/fixtures/broken/many-errors.conf"]);
    assert_eq!(code, 3);
    assert_eq!(
        err.lines().filter(|l| l.contains(": error: ")).count(),
        15,
        "{err}"
    );
}

#[test]
fn warnings_exit_4_missing_file_exits_3() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary, which the host cannot exec (no binfmt)"
        );
        return;
    }
    let (code, _, err) = run(&["-t", "-f", "tests/fixtures/broken/warnings-only.conf"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains(":7:16: warning: advert_int 1.5 s"), "{err}");
    let (code, _, err) = run(&["-t", "-f", "tests/fixtures/none.conf"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("tests/fixtures/none.conf: error: cannot read the configuration file"),
        "{err}"
    );
}

#[test]
fn version_help_usage_and_daemon_refuses_broken_config() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary, which the host cannot exec (no binfmt)"
        );
        return;
    }
    let (code, out, _) = run(&["-v"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("keepvip {}", keepvip::limits::VERSION)),
        "{out}"
    );
    assert!(out.contains(keepvip::limits::GIT_REV));
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--config-test"));
    let (code, _, err) = run(&["--bogus"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown option '--bogus'"));
    // The daemon refuses a broken configuration before touching anything
    // (never run it here with a valid one: it would drive the host's
    // interfaces; the daemon's own tests run it in namespaces).
    let (code, _, err) = run(&["-n", "-f", "tests/fixtures/broken/bad-ip.conf"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad-ip.conf:"), "{err}");
    assert!(err.contains("configuration cannot be used"), "{err}");
}

/// The process start (src/sys/entry.rs, a C `main` instead of std's):
/// SIGPIPE ignored and closed standard descriptors put on /dev/null, as
/// std's start does; a write error of a printing command is exit 1; an
/// argument that is not UTF-8 is a usage error.
#[test]
fn process_start_like_std() {
    use std::os::unix::ffi::OsStrExt;
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary, which the host cannot exec (no binfmt)"
        );
        return;
    }
    // A pipe nobody reads: the write fails with EPIPE (SIGPIPE would kill
    // it: no exit code). std's Command gives the child the default SIGPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let st = Command::new(BIN)
        .arg("--help")
        .stdout(writer)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1), "{st:?}");
    // Closed stdout: /dev/null stands in, the version goes nowhere, exit 0.
    let out = Command::new("/bin/sh")
        .args(["-c", "\"$0\" -v >&-; echo \"rc=$?\" >&2", BIN])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "rc=0");
    let out = Command::new(BIN)
        .arg(std::ffi::OsStr::from_bytes(b"-f\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keepvip: argument 1 is not valid UTF-8"),
        "{err}"
    );
}

/// Issue 6, item 5: `keepvip -t` on a file with every kind of error prints all eight, each with
/// file:line:col, and the summary, in one run, and exits 3. The fixture is copied to a temporary
/// directory with `every-kind.d/denied.conf` made mode 000 and `-t` runs as an unprivileged user
/// (nobody, when the test runs as root: root reads any file), so the "permission denied" comes
/// from the kernel (EACCES).
#[test]
fn every_kind_of_error_in_one_config_test_run() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!(
            "skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary, which the host cannot exec (no binfmt)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("kv-every-kind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("every-kind.d")).unwrap();
    std::fs::copy(
        "tests/fixtures/broken/every-kind.conf",
        dir.join("every-kind.conf"),
    )
    .unwrap();
    let denied = dir.join("every-kind.d/denied.conf");
    std::fs::copy("tests/fixtures/broken/every-kind.d/denied.conf", &denied).unwrap();
    std::fs::set_permissions(&denied, std::fs::Permissions::from_mode(0o000)).unwrap();
    for d in [&dir, &dir.join("every-kind.d")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let f = dir.join("every-kind.conf").to_str().unwrap().to_owned();
    let mut cmd = Command::new(BIN);
    cmd.args(["-t", "-f", &f]);
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().expect("run keepvip");
    let _ = std::fs::remove_dir_all(&dir);
    let (code, err) = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(code, 3, "{err}");
    for (at, text) in [
        ("6:9", "cannot read included file"),
        ("7:1", "unknown block 'vrrp_instanse'"),
        (
            "12:23",
            "'virtual_router_id' must be a whole number from 1 to 255",
        ),
        (
            "26:5",
            "virtual_router_id 51 is already used for IPv4 on eth0",
        ),
        ("38:1", "missing '}'"),
        ("344:9", "every-kind.d': not a regular file"),
        ("345:9", "every-kind.d/denied.conf': permission denied"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("{f}:{at}: error: ")) && l.contains(text)),
            "missing {f}:{at}: {text} in:\n{err}"
        );
    }
    assert!(
        err.lines().any(|l| l.starts_with(&format!("{f}:"))
            && l.contains(": error: too many virtual_ipaddress entries")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}: 8 error(s), 0 warning(s)")),
        "{err}"
    );
}

/// `enable_script_security`: a script run as root that a non-root user can
/// modify makes `-t` fail (3) with the block's `file:line`, instead of
/// being disabled silently as keepalived does; without the option the same
/// finding is a script-security warning (5, keepalived's "SECURITY
/// VIOLATION" class). An unknown `script_user` / `user` is an error; a
/// script run as an unprivileged user is not path-checked (keepalived).
#[test]
fn insecure_script_and_unknown_user_fail_the_config_test() {
    use std::os::unix::fs::PermissionsExt;
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary");
        return;
    }
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root (file ownership checks)");
        return;
    }
    let d = std::env::temp_dir().join(format!("kv-cli-sec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = d.join("chk.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o757)).unwrap();
    let conf = d.join("k.conf");
    let write = |globals: &str, user: &str| {
        std::fs::write(
            &conf,
            format!(
                "global_defs {{\n{globals}}}\nvrrp_script chk {{\n    script \"{} --quick\"\n{user}}}\n\
                 vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    \
                 virtual_ipaddress {{\n        192.0.2.100/24\n    }}\n    track_script {{\n        chk\n    }}\n}}\n",
                script.display()
            ),
        )
        .unwrap();
    };
    let path = conf.to_str().unwrap().to_string();
    write("    enable_script_security\n    script_user root\n", "");
    let (code, _, err) = run(&["-t", "-f", &path]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!(
            "{path}:5:1: error: vrrp_script chk: script '{} --quick' refused (enable_script_security): {} is world-writable",
            script.display(),
            script.display()
        )),
        "{err}"
    );
    // Without enable_script_security: a warning of the script-security class.
    write("    script_user root\n", "");
    let (code, _, err) = run(&["-t", "-f", &path]);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains(":4:1: warning: vrrp_script chk: script"),
        "{err}"
    );
    assert!(err.contains("has unsafe permissions"), "{err}");
    // Run as nobody: not checked (keepalived only protects root scripts).
    write("    enable_script_security\n", "    user nobody\n");
    let (code, _, err) = run(&["-t", "-f", &path]);
    assert_eq!(code, 0, "{err}");
    // Safe permissions: clean.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    write("    enable_script_security\n", "");
    let (code, _, err) = run(&["-t", "-f", &path]);
    assert_eq!(code, 0, "{err}");
    // Unknown users.
    write("    enable_script_security\n", "    user kv-no-such-user\n");
    let (code, _, err) = run(&["-t", "-f", &path]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(":4:1: error: vrrp_script chk: user kv-no-such-user: no such user"),
        "{err}"
    );
    write(
        "    enable_script_security\n    script_user kv-no-such-user\n",
        "",
    );
    let (code, _, err) = run(&["-t", "-f", &path]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("script_user kv-no-such-user"), "{err}");
    // The daemon refuses such a configuration at start-up too.
    let (code, _, err) = run(&["-n", "-f", &path]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("configuration cannot be used"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A build without the `lvs` feature does not read `virtual_server` blocks:
/// `-t` says so in a note (not a warning) and accepts the file.
#[cfg(not(feature = "lvs"))]
#[test]
fn build_without_lvs_notes_ignored_virtual_servers() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary");
        return;
    }
    let (code, _, err) = run(&["-t", "-f", "config/lvs.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("config/lvs.conf:32:1: note: virtual_server blocks not checked and ignored"),
        "{err}"
    );
}

/// A build without the `smtp` feature (the router profiles) sends no mail:
/// `-t` says so in a note and accepts the file.
#[cfg(not(feature = "smtp"))]
#[test]
fn build_without_smtp_notes_ignored_mail_settings() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary");
        return;
    }
    let (code, _, err) = run(&["-t", "-f", "config/smtp-alert.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("config/smtp-alert.conf: note: smtp_server / smtp_alert / notification_email ignored: this keepvip was built without the smtp feature"),
        "{err}"
    );
    let (code, _, err) = run(&["-t", "-f", "config/master.conf"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("smtp"),
        "no note without mail settings: {err}"
    );
}

/// The load-balancing side's scripts go through the same script checks as
/// the VRRP ones: an unknown MISC_CHECK user is an error at -t.
#[cfg(feature = "lvs")]
#[test]
fn misc_check_user_is_checked() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kv-misc-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("k.conf");
    std::fs::write(
        &f,
        "global_defs {\n    enable_script_security\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.100/24\n    }\n}\nvirtual_server 192.0.2.100 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    real_server 198.51.100.11 80 {\n        MISC_CHECK {\n            misc_path /bin/true\n            user no_such_user_kv\n        }\n    }\n}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["-t", "-f", f.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(":16:9: error: MISC_CHECK: misc_path: user no_such_user_kv: no such user"),
        "{err}"
    );
}

/// `notify_up`/`notify_down`/`quorum_up`/`quorum_down CMD [USER [GROUP]]`, as keepalived reads
/// them: -t resolves the user and group at the keyword's place, like a VRRP notify command's.
#[cfg(feature = "lvs")]
#[test]
fn lvs_notify_command_user_is_checked() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kv-lvs-notify-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("k.conf");
    let t = |rs_body: &str| {
        std::fs::write(
            &f,
            format!(
                "global_defs {{\n    enable_script_security\n}}\nvrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {{\n        192.0.2.100/24\n    }}\n}}\nvirtual_server 192.0.2.100 80 {{\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    quorum_up \"/bin/true up\" nobody nogroup\n    real_server 198.51.100.11 80 {{\n{rs_body}    }}\n}}\n"
            ),
        )
        .unwrap();
        run(&["-t", "-f", f.to_str().unwrap()])
    };
    let (code, _, err) =
        t("        notify_up \"/bin/true up\" nobody\n        notify_down /bin/true\n");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = t("        notify_down \"/bin/true down\" no_such_user_kv\n");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(":17:9: error: real_server: notify_down: user no_such_user_kv: no such user"),
        "{err}"
    );
    // Unquoted (as keepvip read it before: one command line): the second word is the user.
    let (code, _, err) = t("        notify_up /bin/touch /tmp/kv-x\n");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(":17:9: error: real_server: notify_up: user /tmp/kv-x"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// keepalived's `notify_* CMD [USER [GROUP]]`: the words after the quoted
/// command are the user and group it runs as, checked by -t with the
/// keyword's place; an unquoted command line with arguments is read the
/// same way (its second word is a user), and a vrrp_script's extra words
/// are ignored with a warning (keepalived runs the first word only).
#[test]
fn notify_command_user_and_group_are_checked() {
    if std::env::var_os("KEEPVIP_QEMU").is_some() {
        eprintln!("skipped under qemu-user (KEEPVIP_QEMU): spawns the target binary");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kv-notify-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("k.conf");
    let conf = |body: &str| {
        format!(
            "global_defs {{\n    enable_script_security\n}}\nvrrp_script chk {{\n    script \"/bin/true\"\n}}\nvrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {{\n        192.0.2.100/24\n    }}\n{body}}}\n"
        )
    };
    let t = |body: &str| {
        std::fs::write(&f, conf(body)).unwrap();
        run(&["-t", "-f", f.to_str().unwrap()])
    };
    let (code, _, err) =
        t("    notify_master \"/bin/true\" nobody nogroup\n    notify /bin/true\n");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = t("    notify_master \"/bin/true\" no_such_user_kv\n");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(
            ":13:5: error: vrrp_instance VI_1: notify_master: user no_such_user_kv: no such user"
        ),
        "{err}"
    );
    let (code, _, err) = t("    notify_backup \"/bin/true\" nobody no_such_group_kv\n");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(
            ":13:5: error: vrrp_instance VI_1: notify_backup: user nobody group no_such_group_kv"
        ),
        "{err}"
    );
    // Unquoted: `/bin/touch` as user `/tmp/x` (keepalived: "Script user
    // '/tmp/x' does not exist", the command dropped).
    let (code, _, err) = t("    notify_fault /bin/touch /tmp/x\n");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("notify_fault: user /tmp/x"), "{err}");
    let (code, _, err) = t("    notify \"/bin/true\" nobody nogroup extra\n");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(":13:39: error: 'notify' takes a command, then at most a user and a group"),
        "{err}"
    );
    std::fs::write(
        &f,
        conf("").replace("script \"/bin/true\"", "script /bin/touch /tmp/x"),
    )
    .unwrap();
    let (code, _, err) = run(&["-t", "-f", f.to_str().unwrap()]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(":5:23: warning: 'script': words after the command are ignored"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
