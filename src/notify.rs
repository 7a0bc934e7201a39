//! keepalived's notify interface, formatted into fixed buffers (pure).
//!
//! On a state change, keepalived runs (in this order) the specific
//! `notify_master|backup|fault|stop` command exactly as configured, then
//! the generic `notify` command with four arguments appended —
//! `INSTANCE|GROUP`, the name, `MASTER|BACKUP|FAULT|STOP` and the priority
//! (always 0 for a group) — then writes a line to the `notify_fifo`:
//! `INSTANCE "VI_1" MASTER 100\n` (`vrrp_notify.c`).

use core::fmt::Write as _;

use crate::config::model::{CmdId, Notify, NotifyCmd};
use crate::limits::MAX_NAME_LEN;
use crate::track::cmdline::{Argv, CmdError, build_argv};
use crate::vrrp::NotifyState;

/// Whether a notification is about an instance or a sync group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyKind {
    Instance,
    Group,
}

impl NotifyKind {
    /// `INSTANCE` / `GROUP` (argument and FIFO word).
    pub const fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Instance => "INSTANCE",
            NotifyKind::Group => "GROUP",
        }
    }
}

/// One notification: who, what state, which priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub kind: NotifyKind,
    pub name: &'a str,
    pub state: NotifyState,
    /// Effective priority of an instance; ignored (0) for a group.
    pub priority: u8,
}

impl Event<'_> {
    /// The priority keepalived reports: 0 for groups.
    pub fn reported_priority(&self) -> u8 {
        match self.kind {
            NotifyKind::Instance => self.priority,
            NotifyKind::Group => 0,
        }
    }
}

/// The slot in [`Notify::ids`] of the specific command for `state`
/// (`notify_master` for MASTER...).
pub const fn specific_slot(state: NotifyState) -> usize {
    match state {
        NotifyState::Master => 0,
        NotifyState::Backup => 1,
        NotifyState::Fault => 2,
        NotifyState::Stop => 3,
    }
}

/// The specific command for `state` (`notify_master` for MASTER...): its
/// id and the command in `cmds` (the configuration's pool).
pub fn specific_command<'a>(
    cmds: &'a [NotifyCmd],
    n: &Notify,
    state: NotifyState,
) -> Option<(CmdId, &'a NotifyCmd)> {
    let id = n.ids()[specific_slot(state)].1?;
    Some((id, cmds.get(id.index())?))
}

/// A specific `notify_*` command's argument vector: exactly as configured.
pub fn specific_argv(cmd: &str, out: &mut Argv) -> Result<(), CmdError> {
    build_argv(cmd, &[], out)
}

/// Decimal digits of `v` in `buf`; returns the used part.
fn decimal(v: u8, buf: &mut [u8; 3]) -> &[u8] {
    let mut n = 0;
    if v >= 100 {
        buf[n] = b'0' + v / 100;
        n += 1;
    }
    if v >= 10 {
        buf[n] = b'0' + (v / 10) % 10;
        n += 1;
    }
    buf[n] = b'0' + v % 10;
    n += 1;
    &buf[..n]
}

/// The generic `notify` command's argument vector: the configured command
/// plus `INSTANCE|GROUP name STATE priority`.
pub fn generic_argv(cmd: &str, ev: &Event<'_>, out: &mut Argv) -> Result<(), CmdError> {
    let mut digits = [0u8; 3];
    let prio = decimal(ev.reported_priority(), &mut digits);
    build_argv(
        cmd,
        &[
            ev.kind.as_str().as_bytes(),
            ev.name.as_bytes(),
            ev.state.as_str().as_bytes(),
            prio,
        ],
        out,
    )
}

/// Calls `f` with the id (which says whose credentials the command runs
/// with) and the argument vector of every command `n` runs for `ev`, in
/// keepalived's order (specific first, then generic). `cmds` is the
/// configuration's pool of commands. A command that cannot be built is
/// passed as `Err` (the caller logs it).
pub fn for_each_command(
    cmds: &[NotifyCmd],
    n: &Notify,
    ev: &Event<'_>,
    scratch: &mut Argv,
    mut f: impl FnMut(CmdId, Result<&Argv, CmdError>),
) {
    if let Some((id, c)) = specific_command(cmds, n, ev.state) {
        match specific_argv(c, scratch) {
            Ok(()) => f(id, Ok(scratch)),
            Err(e) => f(id, Err(e)),
        }
    }
    if let Some(id) = n.notify
        && let Some(c) = cmds.get(id.index())
    {
        match generic_argv(c, ev, scratch) {
            Ok(()) => f(id, Ok(scratch)),
            Err(e) => f(id, Err(e)),
        }
    }
}

/// Longest FIFO line: `INSTANCE "name" MASTER_RX_LOWER_PRI 255\n`.
pub const FIFO_LINE_MAX: usize = MAX_NAME_LEN + 48;

/// One FIFO line in a fixed buffer.
#[derive(Clone)]
pub struct FifoLine {
    buf: [u8; FIFO_LINE_MAX],
    len: usize,
}

impl Default for FifoLine {
    fn default() -> Self {
        FifoLine {
            buf: [0; FIFO_LINE_MAX],
            len: 0,
        }
    }
}

impl core::fmt::Write for FifoLine {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl FifoLine {
    /// `INSTANCE "VI_1" MASTER 100\n` (`GROUP "G" MASTER 0\n`). A name too
    /// long for the buffer (cannot happen with config names) is truncated.
    pub fn format(ev: &Event<'_>) -> FifoLine {
        Self::format_word(ev.kind, ev.name, ev.state.as_str(), ev.reported_priority())
    }

    /// keepalived's `MASTER_RX_LOWER_PRI` event line of instance `name`:
    /// `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200\n`.
    pub fn master_rx_lower_pri(name: &str, priority: u8) -> FifoLine {
        Self::format_word(NotifyKind::Instance, name, "MASTER_RX_LOWER_PRI", priority)
    }

    fn format_word(kind: NotifyKind, name: &str, word: &str, priority: u8) -> FifoLine {
        let mut l = FifoLine::default();
        let name = name.get(..MAX_NAME_LEN).unwrap_or(name);
        let _ = writeln!(l, "{} \"{}\" {} {}", kind.as_str(), name, word, priority);
        l
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(a: &Argv) -> std::vec::Vec<std::string::String> {
        a.iter()
            .map(|w| std::string::String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    /// `s` added to the pool `cmds`.
    fn cmd(cmds: &mut std::vec::Vec<NotifyCmd>, s: &str) -> Option<CmdId> {
        cmds.push(NotifyCmd::new(s).unwrap());
        Some(CmdId(u16::try_from(cmds.len() - 1).unwrap()))
    }

    #[test]
    fn fifo_lines() {
        let ev = Event {
            kind: NotifyKind::Instance,
            name: "VI_1",
            state: NotifyState::Master,
            priority: 100,
        };
        assert_eq!(
            FifoLine::format(&ev).as_bytes(),
            b"INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            FifoLine::master_rx_lower_pri("VI_1", 200).as_bytes(),
            b"INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 200\n"
        );
        let g = Event {
            kind: NotifyKind::Group,
            name: "G_EDGE",
            state: NotifyState::Fault,
            priority: 200,
        };
        assert_eq!(
            FifoLine::format(&g).as_bytes(),
            b"GROUP \"G_EDGE\" FAULT 0\n"
        );
        let long = "n".repeat(MAX_NAME_LEN);
        let b = Event {
            kind: NotifyKind::Instance,
            name: &long,
            state: NotifyState::Backup,
            priority: 255,
        };
        let line = FifoLine::format(&b);
        assert_eq!(
            line.as_bytes(),
            format!("INSTANCE \"{long}\" BACKUP 255\n").as_bytes()
        );
    }

    #[test]
    fn generic_gets_four_args_specific_none() {
        // Pool order unlike slot order: the ids, not the slots, count.
        let mut cmds = std::vec::Vec::new();
        let notify = cmd(&mut cmds, "/usr/bin/notify.sh --x");
        let never = cmd(&mut cmds, "/bin/never");
        let stop = cmd(&mut cmds, "/bin/stop");
        let master = cmd(&mut cmds, "/etc/keepvip/master.sh now");
        let n = Notify {
            notify_master: master,
            notify_backup: None,
            notify_fault: None,
            notify_stop: stop,
            notify,
            notify_master_rx_lower_pri: never,
        };
        let ev = Event {
            kind: NotifyKind::Instance,
            name: "VI_1",
            state: NotifyState::Master,
            priority: 7,
        };
        let mut scratch = Argv::new();
        let mut seen = std::vec::Vec::new();
        let mut ids = std::vec::Vec::new();
        for_each_command(&cmds, &n, &ev, &mut scratch, |id, a| {
            ids.push(Some(id));
            seen.push(words(a.unwrap()))
        });
        assert_eq!(ids, [master, notify]);
        assert_eq!(
            seen,
            [
                vec!["/etc/keepvip/master.sh", "now"],
                vec![
                    "/usr/bin/notify.sh",
                    "--x",
                    "INSTANCE",
                    "VI_1",
                    "MASTER",
                    "7"
                ],
            ]
        );
        // Backup: no specific command, generic only; group priority is 0.
        let g = Event {
            kind: NotifyKind::Group,
            name: "G",
            state: NotifyState::Backup,
            priority: 150,
        };
        seen.clear();
        for_each_command(&cmds, &n, &g, &mut scratch, |_, a| {
            seen.push(words(a.unwrap()))
        });
        assert_eq!(
            seen,
            [vec![
                "/usr/bin/notify.sh",
                "--x",
                "GROUP",
                "G",
                "BACKUP",
                "0"
            ]]
        );
        let s = Event {
            state: NotifyState::Stop,
            ..ev
        };
        seen.clear();
        for_each_command(&cmds, &n, &s, &mut scratch, |_, a| {
            seen.push(words(a.unwrap()))
        });
        assert_eq!(seen[0], ["/bin/stop"]);
        assert_eq!(seen[1][4..], ["STOP", "7"]);
    }

    #[test]
    fn generic_with_shell_syntax_quotes_args() {
        let ev = Event {
            kind: NotifyKind::Instance,
            name: "VI_1",
            state: NotifyState::Fault,
            priority: 0,
        };
        let mut a = Argv::new();
        generic_argv("logger -t ka >/dev/null", &ev, &mut a).unwrap();
        assert_eq!(
            words(&a),
            [
                "/bin/sh",
                "-c",
                "logger -t ka >/dev/null 'INSTANCE' 'VI_1' 'FAULT' '0'"
            ]
        );
    }

    #[test]
    fn decimal_digits() {
        let mut b = [0u8; 3];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(9, &mut b), b"9");
        assert_eq!(decimal(10, &mut b), b"10");
        assert_eq!(decimal(100, &mut b), b"100");
        assert_eq!(decimal(255, &mut b), b"255");
    }
}
