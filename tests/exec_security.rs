//! enable_script_security: a script (or a directory above it) that a
//! non-root user can modify is refused, with the offending path.

use std::os::unix::fs::PermissionsExt;

use keepvip::sys::exec::{ScriptSecurityError, check_script_security};

fn chmod(p: &std::path::Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn refuses_scripts_writable_by_others() {
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root (file ownership checks)");
        return;
    }
    let d = std::env::temp_dir().join(format!("kv-exec-sec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    chmod(&d, 0o755);
    let s = d.join("check.sh");
    std::fs::write(&s, "#!/bin/sh\nexit 0\n").unwrap();
    chmod(&s, 0o755);
    let cmd = format!("{} --arg", s.display());
    // Root-owned, 0755, in a 0755 dir under sticky /tmp: fine.
    check_script_security(&cmd).unwrap();
    // World-writable script: refused, naming the script.
    chmod(&s, 0o777);
    let e = check_script_security(&cmd).unwrap_err();
    match &e {
        ScriptSecurityError::Insecure { path, .. } => {
            assert_eq!(path.as_str(), s.display().to_string())
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("world-writable") && msg.contains("check.sh"),
        "{msg}"
    );
    chmod(&s, 0o755);
    // Group-writable with a non-root group: refused.
    std::os::unix::fs::chown(&s, None, Some(65534)).unwrap();
    chmod(&s, 0o775);
    assert!(matches!(
        check_script_security(&cmd),
        Err(ScriptSecurityError::Insecure { .. })
    ));
    std::os::unix::fs::chown(&s, None, Some(0)).unwrap();
    check_script_security(&cmd).unwrap();
    // Owned by a non-root user: refused.
    std::os::unix::fs::chown(&s, Some(65534), None).unwrap();
    assert!(
        check_script_security(&cmd)
            .unwrap_err()
            .to_string()
            .contains("non-root user")
    );
    std::os::unix::fs::chown(&s, Some(0), None).unwrap();
    // A writable directory above it: refused, naming the directory.
    chmod(&d, 0o777);
    match check_script_security(&cmd) {
        Err(ScriptSecurityError::Insecure { path, .. }) => {
            assert_eq!(path.as_str(), d.display().to_string())
        }
        other => panic!("{other:?}"),
    }
    chmod(&d, 0o755);
    // A symlink to an unsafe place is checked at its target too.
    let bad = d.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    chmod(&bad, 0o777);
    let target = bad.join("real.sh");
    std::fs::write(&target, "#!/bin/sh\n").unwrap();
    chmod(&target, 0o755);
    let link = d.join("link.sh");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(check_script_security(link.to_str().unwrap()).is_err());
    // Missing script; bare names are looked up in the default PATH.
    assert!(matches!(
        check_script_security(&format!("{}/none.sh", d.display())),
        Err(ScriptSecurityError::NotFound { .. })
    ));
    check_script_security("true").unwrap();
    let _ = std::fs::remove_dir_all(&d);
}
