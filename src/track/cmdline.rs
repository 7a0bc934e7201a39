//! Command lines of `vrrp_script` / `notify*` commands, split the way
//! keepalived splits them, into a fixed-size argument vector.
//!
//! keepalived never hands a script to a shell: it splits the configured
//! string on blanks, with `'...'` and `"..."` grouping and `\` escaping, and
//! `execve`s the result. keepvip does the same when the command has no shell
//! syntax; a command that uses shell syntax (pipes, redirections, `$`,
//! globs, `;`, `&&`...) outside quotes runs as `/bin/sh -c COMMAND` instead,
//! which is what such a command was obviously written for.
//!
//! Pure: no allocation, no I/O.

use crate::limits::{MAX_CMD_LEN, MAX_NAME_LEN};

/// Most arguments one command may have (including `argv[0]`).
pub const MAX_ARGS: usize = 48;

/// Bytes of all arguments of one command, NULs included: the longest
/// command, plus the four arguments `notify` appends (each possibly
/// shell-quoted), plus `/bin/sh -c`.
pub const ARGV_BUF_LEN: usize = MAX_CMD_LEN + 4 * MAX_NAME_LEN + 96;

/// The shell used for commands with shell syntax.
pub const SHELL: &str = "/bin/sh";

/// Why a command line could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdError {
    /// No words at all.
    Empty,
    /// More than [`MAX_ARGS`] arguments.
    TooManyArgs,
    /// More than [`ARGV_BUF_LEN`] bytes.
    TooLong,
    /// An argument contains a NUL byte.
    Nul,
    /// A `'` or `"` is not closed.
    UnclosedQuote,
}

impl core::fmt::Display for CmdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CmdError::Empty => "empty command",
            CmdError::TooManyArgs => "too many arguments",
            CmdError::TooLong => "command line too long",
            CmdError::Nul => "NUL byte in an argument",
            CmdError::UnclosedQuote => "unclosed quote",
        })
    }
}

/// An argument vector in one fixed buffer: NUL-terminated strings back to
/// back, ready to be turned into a `char *argv[]` by the spawner.
#[derive(Clone)]
pub struct Argv {
    buf: [u8; ARGV_BUF_LEN],
    used: usize,
    /// Start offset of each argument in `buf`.
    starts: [u16; MAX_ARGS],
    count: usize,
    /// A word is being built (for the splitter).
    open: bool,
}

impl Default for Argv {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Argv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Argv {
    pub const fn new() -> Self {
        Argv {
            buf: [0; ARGV_BUF_LEN],
            used: 0,
            starts: [0; MAX_ARGS],
            count: 0,
            open: false,
        }
    }

    pub fn clear(&mut self) {
        self.used = 0;
        self.count = 0;
        self.open = false;
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Argument `i` without its NUL.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.count {
            return None;
        }
        let start = usize::from(*self.starts.get(i)?);
        let end = match self.starts.get(i + 1) {
            Some(&s) if i + 1 < self.count => usize::from(s) - 1,
            _ => self.used.checked_sub(1)?,
        };
        self.buf.get(start..end)
    }

    /// Every argument, without NULs.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.count).filter_map(|i| self.get(i))
    }

    /// Argument `i` with its terminating NUL (for the spawner).
    pub fn get_with_nul(&self, i: usize) -> Option<&[u8]> {
        let a = self.get(i)?;
        let start = usize::from(*self.starts.get(i)?);
        self.buf.get(start..start + a.len() + 1)
    }

    fn begin(&mut self) -> Result<(), CmdError> {
        if self.count >= MAX_ARGS {
            return Err(CmdError::TooManyArgs);
        }
        let start = u16::try_from(self.used).map_err(|_| CmdError::TooLong)?;
        if let Some(s) = self.starts.get_mut(self.count) {
            *s = start;
        }
        self.count += 1;
        self.open = true;
        Ok(())
    }

    fn byte(&mut self, b: u8) -> Result<(), CmdError> {
        if b == 0 {
            return Err(CmdError::Nul);
        }
        // Keep one byte for the NUL that ends the word.
        if self.used + 1 >= ARGV_BUF_LEN {
            return Err(CmdError::TooLong);
        }
        if let Some(slot) = self.buf.get_mut(self.used) {
            *slot = b;
        }
        self.used += 1;
        Ok(())
    }

    fn end(&mut self) -> Result<(), CmdError> {
        if !self.open {
            return Ok(());
        }
        if self.used >= ARGV_BUF_LEN {
            return Err(CmdError::TooLong);
        }
        if let Some(slot) = self.buf.get_mut(self.used) {
            *slot = 0;
        }
        self.used += 1;
        self.open = false;
        Ok(())
    }

    /// Appends one whole argument.
    pub fn push(&mut self, arg: &[u8]) -> Result<(), CmdError> {
        self.end()?;
        self.begin()?;
        for &b in arg {
            self.byte(b)?;
        }
        self.end()
    }

    /// Appends one argument made of several pieces.
    pub fn push_parts(&mut self, parts: &[&[u8]]) -> Result<(), CmdError> {
        self.end()?;
        self.begin()?;
        for p in parts {
            for &b in *p {
                self.byte(b)?;
            }
        }
        self.end()
    }
}

/// True for the bytes keepalived treats as word separators.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// Bytes that mean something to a shell when unquoted.
fn is_shell_meta(b: u8) -> bool {
    matches!(
        b,
        b'|' | b'&'
            | b';'
            | b'<'
            | b'>'
            | b'('
            | b')'
            | b'$'
            | b'`'
            | b'*'
            | b'?'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'~'
            | b'#'
            | b'!'
            | b'\n'
    )
}

/// True when `cmd` uses shell syntax outside quotes (so it must run as
/// `/bin/sh -c cmd`); quoted text and backslash-escaped bytes are literal.
/// A first word of the form `NAME=value` (an environment assignment) also
/// needs a shell.
pub fn needs_shell(cmd: &str) -> bool {
    let b = cmd.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut first_word = true;
    let mut in_word = false;
    while let Some(&c) = b.get(i) {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                } else if q == b'"' && c == b'\\' {
                    i += 1;
                } else if q == b'"' && (c == b'$' || c == b'`') {
                    // The shell would expand these even inside "...".
                    return true;
                }
            }
            None => {
                if c == b'\\' {
                    i += 1;
                    in_word = true;
                } else if c == b'\'' || c == b'"' {
                    quote = Some(c);
                    in_word = true;
                } else if is_blank(c) && c != b'\n' {
                    if in_word {
                        first_word = false;
                    }
                    in_word = false;
                } else if is_shell_meta(c) || (c == b'=' && first_word && in_word) {
                    return true;
                } else {
                    in_word = true;
                }
            }
        }
        i += 1;
    }
    false
}

/// Splits `cmd` like keepalived: blanks separate words, `'...'` is literal,
/// `"..."` is literal except `\"` and `\\`, and `\x` outside quotes is `x`.
/// Appends the words to `out`.
pub fn split_into(cmd: &str, out: &mut Argv) -> Result<(), CmdError> {
    let b = cmd.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    out.end()?;
    while let Some(&c) = b.get(i) {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                } else if q == b'"' && c == b'\\' && matches!(b.get(i + 1), Some(b'"' | b'\\')) {
                    i += 1;
                    out.byte(b.get(i).copied().unwrap_or(b'\\'))?;
                } else {
                    out.byte(c)?;
                }
            }
            None => {
                if is_blank(c) {
                    out.end()?;
                } else {
                    if !out.open {
                        out.begin()?;
                    }
                    if c == b'\'' || c == b'"' {
                        quote = Some(c);
                    } else if c == b'\\' {
                        i += 1;
                        match b.get(i) {
                            Some(&n) => out.byte(n)?,
                            None => out.byte(b'\\')?,
                        }
                    } else {
                        out.byte(c)?;
                    }
                }
            }
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(CmdError::UnclosedQuote);
    }
    out.end()
}

/// Appends `arg` to `out` quoted for a POSIX shell (`'...'`, with `'`
/// written as `'\''`), preceded by a blank.
fn push_shell_quoted(out: &mut Argv, arg: &[u8]) -> Result<(), CmdError> {
    out.byte(b' ')?;
    out.byte(b'\'')?;
    for &c in arg {
        if c == b'\'' {
            for &x in b"'\\''" {
                out.byte(x)?;
            }
        } else {
            out.byte(c)?;
        }
    }
    out.byte(b'\'')
}

/// Builds the argument vector for `cmd` followed by `extra` arguments
/// (the four `notify` arguments, or none): the split words when `cmd`
/// has no shell syntax, else `/bin/sh -c "cmd 'extra'..."`.
pub fn build_argv(cmd: &str, extra: &[&[u8]], out: &mut Argv) -> Result<(), CmdError> {
    out.clear();
    if needs_shell(cmd) {
        out.push(SHELL.as_bytes())?;
        out.push(b"-c")?;
        out.begin()?;
        for &c in cmd.as_bytes() {
            out.byte(c)?;
        }
        for e in extra {
            push_shell_quoted(out, e)?;
        }
        out.end()?;
    } else {
        split_into(cmd, out)?;
        if out.is_empty() {
            return Err(CmdError::Empty);
        }
        for e in extra {
            out.push(e)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(a: &Argv) -> std::vec::Vec<std::string::String> {
        a.iter()
            .map(|w| std::string::String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    #[test]
    fn splits_on_blanks_with_quotes() {
        let mut a = Argv::new();
        build_argv("  /bin/check  a\t'b c'  \"d \\\" e\" f\\ g ''", &[], &mut a).unwrap();
        assert_eq!(words(&a), ["/bin/check", "a", "b c", "d \" e", "f g", ""]);
        assert_eq!(a.get_with_nul(1), Some(&b"a\0"[..]));
        assert_eq!(a.get(6), None);
    }

    #[test]
    fn shell_syntax_detection() {
        for s in [
            "a | b",
            "a && b",
            "a; b",
            "a > /x",
            "echo $HOME",
            "echo `id`",
            "ls *.sh",
            "FOO=1 cmd",
            "echo \"$X\"",
            "a #comment",
            "cmd\nother",
        ] {
            assert!(needs_shell(s), "{s}");
        }
        for s in [
            "/bin/true",
            "/usr/bin/check --x=1 'a|b' \"c;d\"",
            "cmd a\\|b",
            "/bin/kill -0 1",
        ] {
            assert!(!needs_shell(s), "{s}");
        }
    }

    #[test]
    fn shell_path_quotes_extra_args() {
        let mut a = Argv::new();
        build_argv("echo x | cat", &[b"INSTANCE", b"it's", b"MASTER"], &mut a).unwrap();
        assert_eq!(
            words(&a),
            [
                "/bin/sh",
                "-c",
                "echo x | cat 'INSTANCE' 'it'\\''s' 'MASTER'"
            ]
        );
    }

    #[test]
    fn errors() {
        let mut a = Argv::new();
        assert_eq!(build_argv("   ", &[], &mut a), Err(CmdError::Empty));
        assert_eq!(
            build_argv("a 'b", &[], &mut a),
            Err(CmdError::UnclosedQuote)
        );
        let many = "a ".repeat(MAX_ARGS + 1);
        assert_eq!(build_argv(&many, &[], &mut a), Err(CmdError::TooManyArgs));
        let long = "x".repeat(ARGV_BUF_LEN);
        assert_eq!(build_argv(&long, &[], &mut a), Err(CmdError::TooLong));
        a.clear();
        assert_eq!(a.push(b"a\0b"), Err(CmdError::Nul));
        let exact = "y".repeat(ARGV_BUF_LEN - 1);
        a.clear();
        a.push(exact.as_bytes()).unwrap();
        assert_eq!(a.get(0).map(|w| w.len()), Some(ARGV_BUF_LEN - 1));
    }
}
