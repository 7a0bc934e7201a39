//! The console logger: `LEVEL [target] message` lines on stderr (the format
//! simple_logger printed, which tests and users grep), without allocating.
//!
//! Each line is formatted into a fixed buffer on the stack and written with
//! one `write(2)`. A logger that formats into `String`s (simple_logger does,
//! three per line) allocates on every line: glibc's malloc recycles the
//! memory, but musl's (the static router builds) hands an emptied 4 KiB page
//! back to the kernel, so every log line cost an `mmap` + `munmap` pair after
//! start-up (seen with strace by `board/budgets.sh heap`).

use core::fmt::{self, Write as _};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Longest line written (bytes, newline included); longer messages are cut
/// and end in [`TRUNCATED`].
pub const LINE_MAX: usize = 1024;
/// Marks a cut line.
pub const TRUNCATED: &str = "...";

/// A line being formatted: as much as fits, the rest dropped.
pub struct LineBuf {
    buf: [u8; LINE_MAX],
    len: usize,
    truncated: bool,
}

impl Default for LineBuf {
    fn default() -> Self {
        LineBuf {
            buf: [0; LINE_MAX],
            len: 0,
            truncated: false,
        }
    }
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Room for the newline (and the marker) is kept back.
        let room = LINE_MAX - 1 - TRUNCATED.len() - self.len;
        let mut n = s.len().min(room);
        if n < s.len() {
            self.truncated = true;
            while !s.is_char_boundary(n) {
                n -= 1;
            }
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl LineBuf {
    /// `LEVEL [target] message\n`, level padded to 5 columns.
    pub fn format(&mut self, level: Level, target: &str, args: &fmt::Arguments<'_>) -> &[u8] {
        self.len = 0;
        self.truncated = false;
        let _ = write!(self, "{:<5} [{}] {}", level.as_str(), target, args);
        if self.truncated {
            self.buf[self.len..self.len + TRUNCATED.len()].copy_from_slice(TRUNCATED.as_bytes());
            self.len += TRUNCATED.len();
        }
        self.buf[self.len] = b'\n';
        self.len += 1;
        &self.buf[..self.len]
    }
}

struct Console;

impl Log for Console {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let target = if record.target().is_empty() {
            record.module_path().unwrap_or_default()
        } else {
            record.target()
        };
        let mut line = LineBuf::default();
        let bytes = line.format(record.level(), target, record.args());
        // Nothing sensible to do if stderr is gone.
        let _ = crate::sys::stdio::write_bytes(crate::sys::stdio::stderr(), bytes);
    }

    fn flush(&self) {}
}

/// Installs the console logger at `level` (once: a second call changes
/// nothing).
pub fn init(level: LevelFilter) {
    static CONSOLE: Console = Console;
    if log::set_logger(&CONSOLE).is_ok() {
        log::set_max_level(level);
    }
}

/// The one function every log call site calls (the crate's `info!` etc.):
/// hands the message to the installed `log::Log` if its level is enabled.
#[inline(never)]
pub fn emit(level: Level, target: &'static str, args: fmt::Arguments<'_>) {
    if level <= log::max_level() {
        log::logger().log(
            &Record::builder()
                .level(level)
                .target(target)
                .args(args)
                .build(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(level: Level, target: &str, args: fmt::Arguments<'_>) -> String {
        let mut b = LineBuf::default();
        String::from_utf8(b.format(level, target, &args).to_vec()).unwrap()
    }

    #[test]
    fn simple_logger_format() {
        assert_eq!(
            line(
                Level::Info,
                "keepvip::daemon",
                format_args!("({}) Entering MASTER STATE", "VI_1")
            ),
            "INFO  [keepvip::daemon] (VI_1) Entering MASTER STATE\n"
        );
        assert_eq!(line(Level::Warn, "x", format_args!("w")), "WARN  [x] w\n");
        assert_eq!(line(Level::Error, "x", format_args!("e")), "ERROR [x] e\n");
        assert_eq!(line(Level::Debug, "x", format_args!("d")), "DEBUG [x] d\n");
    }

    #[test]
    fn long_lines_are_cut_at_a_char_boundary() {
        let long = "é".repeat(LINE_MAX);
        let l = line(Level::Info, "t", format_args!("{long}"));
        let odd = line(Level::Info, "tt", format_args!("{long}"));
        assert!(odd.ends_with("...\n") && odd.len() <= LINE_MAX, "{odd}");
        assert!(
            l.len() <= LINE_MAX && l.len() >= LINE_MAX - 4,
            "{}",
            l.len()
        );
        assert!(l.ends_with("...\n"), "{l}");
        assert!(l.starts_with("INFO  [t] éé"));
        // Exactly full: no marker.
        let fit = "a".repeat(LINE_MAX - 1 - TRUNCATED.len() - "INFO  [t] ".len());
        let l = line(Level::Info, "t", format_args!("{fit}"));
        assert_eq!(l, format!("INFO  [t] {fit}\n"));
    }
}
