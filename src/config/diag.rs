//! Config diagnostics: every error and warning of one parse, each with the
//! place (`file:line:col`) it refers to.
//!
//! The list is bounded (`MAX_DIAGNOSTICS`); diagnostics beyond it are counted
//! in [`Diagnostics::dropped`] but still count towards the error/warning
//! totals, so the exit status of a config test stays right.

use core::fmt::{self, Write};
use heapless::{String, Vec};

use super::model::{Config, Span};
use crate::limits::MAX_DIAGNOSTICS;

/// Longest message kept; longer ones are cut with "...".
pub const MESSAGE_LEN: usize = 200;

pub type Message = String<MESSAGE_LEN>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The configuration cannot be used as written.
    Error,
    /// Something was ignored or corrected (keepalived would run with it).
    Warning,
}

/// What a diagnostic is about, when that changes the config-test exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiagKind {
    General,
    /// Scripts are configured but `enable_script_security` is not set
    /// (keepalived's `-t` exits 5 for this).
    ScriptSecurity,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: DiagKind,
    /// `line == 0` means "the file as a whole".
    pub span: Span,
    pub message: Message,
}

impl Diagnostic {
    /// Formats as `FILE:LINE:COL: error: message` (the compiler style that
    /// editors understand), naming the file through `cfg.files`.
    pub fn display<'a>(&'a self, cfg: &'a Config) -> DiagnosticDisplay<'a> {
        DiagnosticDisplay { diag: self, cfg }
    }
}

pub struct DiagnosticDisplay<'a> {
    diag: &'a Diagnostic,
    cfg: &'a Config,
}

impl fmt::Display for DiagnosticDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diag;
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let file = self.cfg.file_name(d.span);
        if d.span.line == 0 {
            write!(f, "{file}: {sev}: {}", d.message)
        } else {
            write!(
                f,
                "{file}:{}:{}: {sev}: {}",
                d.span.line, d.span.col, d.message
            )
        }
    }
}

/// All diagnostics of one parse.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic, MAX_DIAGNOSTICS>,
    /// Diagnostics that did not fit in `items`.
    pub dropped: u32,
    /// Totals, including dropped ones.
    pub errors: u32,
    pub warnings: u32,
    /// Warnings of kind [`DiagKind::ScriptSecurity`] (included in `warnings`).
    pub script_security: u32,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// A boxed, empty list, built in place on the heap (not on the stack
    /// and copied: that would make all 14 KiB resident, stack and heap).
    pub fn new_boxed() -> Box<Self> {
        Box::new(Diagnostics {
            items: Vec::new(),
            dropped: 0,
            errors: 0,
            warnings: 0,
            script_security: 0,
        })
    }

    /// Empties the list in place (`*self = Self::default()` would build the
    /// 14 KiB list on the stack and copy all of it, making every page of a
    /// boxed list resident).
    /// (Destructured: a new field must be reset here too.)
    pub fn clear(&mut self) {
        let Diagnostics {
            items,
            dropped,
            errors,
            warnings,
            script_security,
        } = self;
        items.clear();
        *dropped = 0;
        *errors = 0;
        *warnings = 0;
        *script_security = 0;
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    pub fn error(&mut self, span: Span, args: fmt::Arguments<'_>) {
        self.push(Severity::Error, DiagKind::General, span, args);
    }

    pub fn warning(&mut self, span: Span, args: fmt::Arguments<'_>) {
        self.push(Severity::Warning, DiagKind::General, span, args);
    }

    pub fn push(
        &mut self,
        severity: Severity,
        kind: DiagKind,
        span: Span,
        args: fmt::Arguments<'_>,
    ) {
        match severity {
            Severity::Error => self.errors = self.errors.saturating_add(1),
            Severity::Warning => self.warnings = self.warnings.saturating_add(1),
        }
        if kind == DiagKind::ScriptSecurity {
            self.script_security = self.script_security.saturating_add(1);
        }
        let mut message = Message::new();
        {
            let mut w = Truncating(&mut message, false);
            // A full buffer is not an error: Truncating cuts and marks it.
            let _ = w.write_fmt(args);
        }
        let d = Diagnostic {
            severity,
            kind,
            span,
            message,
        };
        if self.items.push(d).is_err() {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Diagnostics in file/line/column order (stable for equal places).
    pub fn sort(&mut self) {
        // Insertion sort: small bounded list, no allocation, stable.
        let v = &mut self.items;
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && key(&v[j - 1]) > key(&v[j]) {
                v.swap(j - 1, j);
                j -= 1;
            }
        }
        fn key(d: &Diagnostic) -> (u16, u32, u32) {
            (d.span.file, d.span.line, d.span.col)
        }
    }

    /// The config-test exit status, keepalived's convention (see `cli`):
    /// 0 clean, 3 errors (cannot run), 4 only corrected warnings,
    /// 5 only the script-security warning.
    pub fn exit_code(&self) -> i32 {
        if self.errors > 0 {
            3
        } else if self.warnings > self.script_security {
            4
        } else if self.script_security > 0 {
            5
        } else {
            0
        }
    }
}

/// A `fmt::Write` into a bounded string that cuts (on a char boundary) and
/// appends "..." instead of failing.
struct Truncating<'a>(&'a mut Message, bool);

impl Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.1 {
            return Ok(());
        }
        const ELLIPSIS: &str = "...";
        let room = MESSAGE_LEN - self.0.len();
        if s.len() <= room {
            // Cannot fail: checked above.
            let _ = self.0.push_str(s);
            return Ok(());
        }
        let keep = room.saturating_sub(ELLIPSIS.len());
        let mut cut = keep.min(s.len());
        while cut > 0 && !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = self.0.push_str(&s[..cut]);
        while self.0.len() + ELLIPSIS.len() > MESSAGE_LEN {
            self.0.pop();
        }
        let _ = self.0.push_str(ELLIPSIS);
        self.1 = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_not_lost() {
        let mut d = Diagnostics::new();
        let long = [b'x'; 300];
        let s = core::str::from_utf8(&long).unwrap();
        d.error(Span::default(), format_args!("value {s} is bad"));
        let m = &d.items[0].message;
        assert_eq!(m.len(), MESSAGE_LEN);
        assert!(m.ends_with("..."));
        assert!(m.starts_with("value xxx"));
    }

    #[test]
    fn overflow_is_counted() {
        let mut d = Diagnostics::new();
        for i in 0..MAX_DIAGNOSTICS + 5 {
            d.warning(Span::default(), format_args!("w{i}"));
        }
        assert_eq!(d.items.len(), MAX_DIAGNOSTICS);
        assert_eq!(d.dropped, 5);
        assert_eq!(d.warnings as usize, MAX_DIAGNOSTICS + 5);
        assert_eq!(d.exit_code(), 4);
    }

    #[test]
    fn exit_codes() {
        let mut d = Diagnostics::new();
        assert_eq!(d.exit_code(), 0);
        d.push(
            Severity::Warning,
            DiagKind::ScriptSecurity,
            Span::default(),
            format_args!("s"),
        );
        assert_eq!(d.exit_code(), 5);
        d.warning(Span::default(), format_args!("w"));
        assert_eq!(d.exit_code(), 4);
        d.error(Span::default(), format_args!("e"));
        assert_eq!(d.exit_code(), 3);
    }

    #[test]
    fn sorts_by_place() {
        let mut d = Diagnostics::new();
        let sp = |file, line, col| Span { file, line, col };
        d.error(sp(0, 9, 1), format_args!("c"));
        d.error(sp(0, 2, 5), format_args!("b"));
        d.error(sp(0, 2, 1), format_args!("a"));
        d.sort();
        let order: std::vec::Vec<&str> = d.iter().map(|x| x.message.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }
}
