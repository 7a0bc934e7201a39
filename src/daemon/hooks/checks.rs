//! Checks of the scripts a configuration runs, against this host: who they
//! run as (`script_user`, `vrrp_script { user }`, keepalived's default
//! `keepalived_script`), whether their command lines can be built, and
//! keepalived's `enable_script_security` test. Used by `keepvip -t`, at
//! start-up and on reload (before a new configuration is accepted).
//!
//! keepalived *disables* a script that fails these checks and runs without
//! it (silently, unless someone reads the log). keepvip refuses the
//! configuration instead, with the place of the offending block:
//! - an unknown `script_user` / `user`: error;
//! - with `enable_script_security`, a script that runs as root (uid or gid
//!   0) and that a non-root user can modify (the file or a directory on its
//!   path, as written and after resolving symlinks): error;
//! - without it, the same finding is a script-security warning (`-t` exits
//!   5, like keepalived's "SECURITY VIOLATION").
//!
//! A script that does not exist is not a configuration error (the file may
//! be tested on another machine); the daemon logs a warning for it at
//! start-up, and the script fails when it runs (exit 127).
//!
//! Start-up / `-t` / reload only: resolving users goes through NSS and the
//! path checks allocate.

use crate::config::model::{CmdId, Config, Notify, NotifyCmd, Span};
use crate::config::{DiagKind, Diagnostics, Severity};
use crate::limits::{MAX_NOTIFY_CMDS, MAX_SCRIPTS};
use crate::notify::NotifyKind;
use crate::sys::exec::{
    Creds, ScriptSecurityError, check_script_security, default_script_creds, resolve_creds,
};
use crate::track::cmdline::{Argv, build_argv};
use heapless::Vec;

/// Who each script runs as (`None`: the daemon's own user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptCreds {
    /// Notify scripts and `vrrp_script`s without `user`.
    pub default: Option<Creds>,
    /// Per `vrrp_script` (index into `Config::scripts`).
    pub scripts: [Option<Creds>; MAX_SCRIPTS],
    /// Notify commands of instances and sync groups written with their own
    /// `USER [GROUP]`: (the command in `Config::notify_cmds`, who). Only
    /// those are stored (the others use `default`), so the unused capacity
    /// is never touched.
    pub notify_users: Vec<(CmdId, Creds), MAX_NOTIFY_CMDS>,
    /// Owner of a `notify_fifo` / `vrrp_notify_fifo` that keepvip creates:
    /// its `USER [GROUP]`, else the default script user.
    pub notify_fifo: Option<Creds>,
    pub vrrp_notify_fifo: Option<Creds>,
}

impl ScriptCreds {
    pub const fn none() -> ScriptCreds {
        ScriptCreds {
            default: None,
            scripts: [None; MAX_SCRIPTS],
            notify_users: Vec::new(),
            notify_fifo: None,
            vrrp_notify_fifo: None,
        }
    }

    /// Who notify command `id` runs as: its own user if it names one, else
    /// the default.
    pub fn notify(&self, id: CmdId) -> Option<Creds> {
        self.notify_users
            .iter()
            .find(|(i, _)| *i == id)
            .map(|x| x.1)
            .or(self.default)
    }

    fn set_notify(&mut self, id: CmdId, c: Creds) {
        // Capacity: every command of the pool.
        let _ = self.notify_users.push((id, c));
    }
}

/// True when a script with these credentials runs with root privileges
/// (the daemon runs as root, so `None` is root).
fn runs_as_root(c: Option<Creds>) -> bool {
    c.is_none_or(|c| c.uid == 0 || c.gid == 0)
}

/// Where a command is configured: block keyword and name, the command's
/// keyword, the block's place, and the `vrrp_script` index if it is one.
struct Place<'a> {
    block: &'static str,
    name: &'a str,
    kw: &'static str,
    span: Span,
    script: Option<usize>,
    /// A `MISC_CHECK`'s or a notify command's own `user [group]`.
    user: Option<(&'a str, Option<&'a str>)>,
    /// A notify command of an instance or a sync group (the daemon's hooks
    /// run those; the load-balancing side resolves its own).
    notify: Option<CmdId>,
}

impl core::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.name.is_empty() {
            write!(f, "{}: {}", self.block, self.kw)
        } else {
            write!(f, "{} {}: {}", self.block, self.name, self.kw)
        }
    }
}

/// The place of notify command `c` (keyword `kw` of `block` `name`).
fn cmd_place<'a>(
    block: &'static str,
    name: &'a str,
    kw: &'static str,
    c: &'a NotifyCmd,
    id: Option<CmdId>,
) -> Place<'a> {
    Place {
        block,
        name,
        kw,
        span: c.span,
        script: None,
        user: c.user.as_deref().map(|u| (u, c.group.as_deref())),
        notify: id,
    }
}

/// The notify commands of `n` (an instance or group named `name`).
fn notify_places(
    cfg: &Config,
    n: &Notify,
    kind: NotifyKind,
    name: &str,
    f: &mut impl FnMut(&str, &Place<'_>),
) {
    let block = match kind {
        NotifyKind::Instance => "vrrp_instance",
        NotifyKind::Group => "vrrp_sync_group",
    };
    for (kw, id) in n.ids() {
        if let Some(c) = cfg.cmd(id) {
            f(&c.cmd, &cmd_place(block, name, kw, c, id));
        }
    }
}

/// Every command of the configuration with its [`Place`].
fn for_each_command(cfg: &Config, mut f: impl FnMut(&str, &Place<'_>)) {
    for (i, s) in cfg.scripts.iter().enumerate() {
        let p = Place {
            block: "vrrp_script",
            name: &s.name,
            kw: "script",
            span: s.span,
            script: Some(i),
            user: None,
            notify: None,
        };
        f(&s.script, &p);
    }
    for inst in &cfg.instances {
        notify_places(cfg, &inst.notify, NotifyKind::Instance, &inst.name, &mut f);
    }
    for g in &cfg.sync_groups {
        notify_places(cfg, &g.notify, NotifyKind::Group, &g.name, &mut f);
    }
    // The load-balancing side's scripts (none without the `lvs` feature).
    if !cfg!(feature = "lvs") {
        return;
    }
    let l = &cfg.lvs;
    let place = |block, kw, span, user| Place {
        block,
        name: "",
        kw,
        span,
        script: None,
        user,
        notify: None,
    };
    // Their commands name their own user like the VRRP ones (checked and
    // reported here; the LVS driver resolves them for itself).
    for vs in &l.virtual_servers {
        for (kw, id) in [("quorum_up", vs.quorum_up), ("quorum_down", vs.quorum_down)] {
            if let Some(c) = cfg.cmd(id) {
                f(&c.cmd, &cmd_place("virtual_server", "", kw, c, None));
            }
        }
    }
    for rs in &l.real_servers {
        for (kw, id) in [("notify_up", rs.notify_up), ("notify_down", rs.notify_down)] {
            if let Some(c) = cfg.cmd(id) {
                f(&c.cmd, &cmd_place("real_server", "", kw, c, None));
            }
        }
    }
    for c in &l.checkers {
        if let crate::config::lvs::CheckerKind::Misc(m) = &c.kind {
            let user = m.user.as_deref().map(|u| (u, m.group.as_deref()));
            f(
                &m.misc_path,
                &place("MISC_CHECK", "misc_path", c.span, user),
            );
        }
    }
}

/// Runs the checks, reports findings into `diags` (errors make the
/// configuration unusable) and returns the resolved credentials.
pub fn check_scripts(cfg: &Config, diags: &mut Diagnostics) -> ScriptCreds {
    let mut creds = ScriptCreds::none();
    let g = &cfg.global_defs;
    let mut any = !cfg.scripts.is_empty();
    for_each_command(cfg, |_, _| any = true);
    let fifos = [g.notify_fifo.as_ref(), g.vrrp_notify_fifo.as_ref()];
    if !any && fifos.iter().all(|f| f.is_none()) {
        return creds;
    }
    let mut default_ok = true;
    creds.default = match &g.script_user {
        Some(u) => match resolve_creds(u, g.script_group.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => {
                default_ok = false;
                diags.push(
                    Severity::Error,
                    DiagKind::General,
                    Span::default(),
                    format_args!(
                        "global_defs: script_user {}{}{}: {e}",
                        u,
                        if g.script_group.is_some() { " " } else { "" },
                        g.script_group.as_deref().unwrap_or("")
                    ),
                );
                None
            }
        },
        None => default_script_creds(),
    };
    // keepalived: a FIFO it creates belongs to the FIFO's user and group
    // (default: the default script user).
    for (k, f) in fifos.into_iter().enumerate() {
        let Some(f) = f else { continue };
        let c = match &f.user {
            Some(u) => match resolve_creds(u, f.group.as_deref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    diags.push(
                        Severity::Error,
                        DiagKind::General,
                        f.span,
                        format_args!(
                            "global_defs: {} {}: user {u}{}{}: {e}",
                            if k == 0 {
                                "notify_fifo"
                            } else {
                                "vrrp_notify_fifo"
                            },
                            f.path,
                            if f.group.is_some() { " group " } else { "" },
                            f.group.as_deref().unwrap_or("")
                        ),
                    );
                    None
                }
            },
            None => creds.default,
        };
        if k == 0 {
            creds.notify_fifo = c;
        } else {
            creds.vrrp_notify_fifo = c;
        }
    }
    for (i, s) in cfg.scripts.iter().enumerate() {
        let c = match &s.user {
            Some(u) => match resolve_creds(u, s.group.as_deref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    diags.push(
                        Severity::Error,
                        DiagKind::General,
                        s.span,
                        format_args!("vrrp_script {}: user {}: {e}", s.name, u),
                    );
                    None
                }
            },
            None => creds.default,
        };
        if let Some(slot) = creds.scripts.get_mut(i) {
            *slot = c;
        }
    }
    let security = g.enable_script_security;
    let mut argv = Argv::new();
    for_each_command(cfg, |cmd, p| {
        // The generic `notify` gets four arguments: build it with them.
        let extra: &[&[u8]] = if p.kw == "notify" {
            &[b"INSTANCE", p.name.as_bytes(), b"BACKUP", b"100"]
        } else {
            &[]
        };
        if let Err(e) = build_argv(cmd, extra, &mut argv) {
            diags.push(
                Severity::Error,
                DiagKind::General,
                p.span,
                format_args!("{p} '{cmd}': {e}"),
            );
            return;
        }
        let who = match (p.script, p.user) {
            (Some(i), _) => creds.scripts.get(i).copied().flatten(),
            (None, Some((u, g))) => match resolve_creds(u, g) {
                Ok(c) => {
                    if let Some(id) = p.notify {
                        creds.set_notify(id, c);
                    }
                    Some(c)
                }
                Err(e) => {
                    diags.push(
                        Severity::Error,
                        DiagKind::General,
                        p.span,
                        format_args!(
                            "{p}: user {u}{}{}: {e}",
                            if g.is_some() { " group " } else { "" },
                            g.unwrap_or("")
                        ),
                    );
                    return;
                }
            },
            (None, None) => creds.default,
        };
        if !default_ok || !runs_as_root(who) {
            return;
        }
        let (sev, kind) = if security {
            (Severity::Error, DiagKind::General)
        } else {
            (Severity::Warning, DiagKind::ScriptSecurity)
        };
        match check_script_security(cmd) {
            Ok(()) | Err(ScriptSecurityError::NotFound { .. }) => {}
            Err(ScriptSecurityError::WrongType { path }) => diags.push(
                sev,
                DiagKind::General,
                p.span,
                format_args!("{p} '{cmd}': {path} is not a regular file / directory"),
            ),
            Err(ScriptSecurityError::Insecure { path, reason }) => diags.push(
                sev,
                kind,
                p.span,
                format_args!(
                    "{p} '{cmd}' {}: {path} {reason}, and the script runs as root",
                    if security {
                        "refused (enable_script_security)"
                    } else {
                        "has unsafe permissions"
                    }
                ),
            ),
        }
    });
    creds
}

/// Daemon start-up: warns about scripts whose program is not there (they
/// fail when run; keepalived disables them with "Cannot find script").
pub fn warn_missing(cfg: &Config) {
    for_each_command(cfg, |cmd, p| {
        if let Err(ScriptSecurityError::NotFound { path }) = check_script_security(cmd) {
            warn!("{p} '{cmd}': {path} not found: the command will fail when it runs");
        }
    });
}
