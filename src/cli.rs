//! Command line: argument parsing and the config test (`-t`).
//!
//! The options follow keepalived's (`keepalived(8)`) where keepvip has the
//! feature; parsing is hand-rolled (GNU getopt style: `-nlD` bundles,
//! `-f FILE`, `-fFILE`, `--use-file FILE`, `--use-file=FILE`; `-t` takes its
//! optional file only attached: `-tFILE` or `--config-test=FILE`).
//!
//! Configuration file: `-f FILE`; without it `/etc/keepvip/keepvip.conf`, or
//! `/etc/keepalived/keepalived.conf` if the former does not exist (so keepvip
//! is a drop-in for an existing keepalived set-up).
//!
//! `-t` exit status (keepalived's convention, keepalived(8)):
//! * 0: the configuration is clean;
//! * 3: errors: the configuration cannot be used;
//! * 4: warnings only: keepvip ignores or corrects something (unknown
//!   keywords, rounded timers, ...) and would run;
//! * 5: the only finding is that scripts are configured without
//!   `enable_script_security`.
//!
//! A bad command line exits with 2.
//!
//! State dumps (`--dump-prefix`, `--keepalived-compat`): SIGUSR1 writes
//! `PREFIX.data`, SIGUSR2 `PREFIX.stats`, SIGRTMIN+2 `PREFIX.json`; the
//! prefix is `/tmp/keepvip`, or keepalived's `/tmp/keepalived` with
//! `--keepalived-compat`. `--signum=DATA|STATS|JSON|STOP|RELOAD` prints the
//! signal number, like keepalived's `--signum`.

use core::fmt::Write;
use std::string::String;

use crate::config::{self, Config, ConfigSource, Diagnostics};
use crate::sys::config_fs::FsSource;

pub const DEFAULT_CONFIG: &str = "/etc/keepvip/keepvip.conf";
pub const FALLBACK_CONFIG: &str = "/etc/keepalived/keepalived.conf";
pub const DEFAULT_PID_FILE: &str = "/var/run/keepvip.pid";
/// The pid file board/systemd/keepvip.service passes (`RuntimeDirectory=keepvip`);
/// `keepvip status` looks for the socket there when the default one is absent.
pub const SYSTEMD_PID_FILE: &str = "/run/keepvip/keepvip.pid";
/// Dump files `PREFIX.data`, `PREFIX.stats`, `PREFIX.json`.
pub const DEFAULT_DUMP_PREFIX: &str = "/tmp/keepvip";
/// keepalived's dump files (`--keepalived-compat`).
pub const KEEPALIVED_DUMP_PREFIX: &str = "/tmp/keepalived";

/// Exit status for a bad command line.
pub const EXIT_USAGE: i32 = 2;

/// What the command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the daemon.
    Run,
    /// `-t`: check the configuration and exit.
    ConfigTest,
    /// `-v`.
    Version,
    /// `-h`.
    Help,
    /// `--signum=NAME`: print a signal number and exit.
    Signum,
}

/// Parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub action: Action,
    /// `-f/--use-file` (or the `-t=FILE` argument); None = default lookup,
    /// see [`Options::config_path`].
    pub config_file: Option<String>,
    /// `-n/--dont-fork`: stay in the foreground.
    pub dont_fork: bool,
    /// `-l/--log-console`: accepted for keepalived compatibility and
    /// otherwise ignored: keepvip always logs to stderr (procd and systemd
    /// collect it), with or without `-l`, and never to syslog.
    pub log_console: bool,
    /// `-D/--log-detail`: detailed (debug) logging.
    pub log_detail: bool,
    /// `-p/--pid FILE` (None = [`DEFAULT_PID_FILE`]).
    pub pid_file: Option<String>,
    /// `--dump-prefix PREFIX`.
    pub dump_prefix: Option<String>,
    /// `--keepalived-compat`: the dumps at keepalived's paths.
    pub keepalived_compat: bool,
    /// `--signum NAME`.
    pub signum: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            action: Action::Run,
            config_file: None,
            dont_fork: false,
            log_console: false,
            log_detail: false,
            pid_file: None,
            dump_prefix: None,
            keepalived_compat: false,
            signum: None,
        }
    }
}

impl Options {
    /// The configuration file to read: `-f`, else [`DEFAULT_CONFIG`] if it
    /// exists, else [`FALLBACK_CONFIG`] if it exists, else [`DEFAULT_CONFIG`]
    /// (whose absence is then reported).
    pub fn config_path(&self, exists: &dyn Fn(&str) -> bool) -> String {
        if let Some(f) = &self.config_file {
            return f.clone();
        }
        if !exists(DEFAULT_CONFIG) && exists(FALLBACK_CONFIG) {
            return FALLBACK_CONFIG.into();
        }
        DEFAULT_CONFIG.into()
    }

    pub fn pid_path(&self) -> &str {
        self.pid_file.as_deref().unwrap_or(DEFAULT_PID_FILE)
    }

    /// The dump files' prefix: `--dump-prefix`, else keepalived's with
    /// `--keepalived-compat`, else [`DEFAULT_DUMP_PREFIX`].
    pub fn dump_prefix(&self) -> &str {
        match (&self.dump_prefix, self.keepalived_compat) {
            (Some(p), _) => p,
            (None, true) => KEEPALIVED_DUMP_PREFIX,
            (None, false) => DEFAULT_DUMP_PREFIX,
        }
    }
}

/// `--signum=NAME`: the number of the signal keepvip handles for keepalived's
/// signal function NAME (`STOP`, `RELOAD`, `DATA`, `STATS`, `JSON`), e.g.
/// `kill -s $(keepvip --signum=JSON) $(cat /var/run/keepvip.pid)`.
pub fn signum(name: &str) -> Option<i32> {
    use crate::sys::signal::Signal;
    let s = match name {
        "STOP" => Signal::Term,
        "RELOAD" => Signal::Hup,
        "DATA" => Signal::Usr1,
        "STATS" => Signal::Usr2,
        "JSON" => Signal::RtMin2,
        _ => return None,
    };
    Some(s.number())
}

/// A command-line error, printed with the usage hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgError {
    UnknownOption(String),
    MissingValue(&'static str),
    UnexpectedValue(&'static str),
    UnexpectedArgument(String),
}

impl core::fmt::Display for ArgError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ArgError::UnknownOption(o) => write!(f, "unknown option '{o}'"),
            ArgError::MissingValue(o) => write!(f, "option '{o}' needs a value"),
            ArgError::UnexpectedValue(o) => write!(f, "option '{o}' takes no value"),
            ArgError::UnexpectedArgument(a) => write!(f, "unexpected argument '{a}'"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    UseFile,
    ConfigTest,
    Version,
    Help,
    DontFork,
    LogConsole,
    LogDetail,
    Pid,
    DumpPrefix,
    KeepalivedCompat,
    Signum,
}

/// (short, long, takes a value: 0 no, 1 required, 2 optional attached);
/// short `'\0'`: long form only.
const OPTS: &[(char, &str, u8, Opt)] = &[
    ('f', "use-file", 1, Opt::UseFile),
    ('t', "config-test", 2, Opt::ConfigTest),
    ('v', "version", 0, Opt::Version),
    ('h', "help", 0, Opt::Help),
    ('n', "dont-fork", 0, Opt::DontFork),
    ('l', "log-console", 0, Opt::LogConsole),
    ('D', "log-detail", 0, Opt::LogDetail),
    ('p', "pid", 1, Opt::Pid),
    ('\0', "dump-prefix", 1, Opt::DumpPrefix),
    ('\0', "keepalived-compat", 0, Opt::KeepalivedCompat),
    ('\0', "signum", 1, Opt::Signum),
];

const LONG_NAMES: &[&str] = &[
    "--use-file",
    "--config-test",
    "--version",
    "--help",
    "--dont-fork",
    "--log-console",
    "--log-detail",
    "--pid",
    "--dump-prefix",
    "--keepalived-compat",
    "--signum",
];

fn name_of(o: Opt) -> &'static str {
    let i = OPTS.iter().position(|x| x.3 == o).unwrap_or(0);
    LONG_NAMES[i]
}

/// Parses the arguments after the program name.
pub fn parse_args<I, S>(args: I) -> Result<Options, ArgError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut o = Options::default();
    let mut test_file: Option<String> = None;
    let mut it = args.into_iter().map(|s| s.as_ref().to_owned());
    let mut apply = |o: &mut Options, opt: Opt, val: Option<String>| match opt {
        Opt::UseFile => o.config_file = val,
        Opt::ConfigTest => {
            if o.action == Action::Run {
                o.action = Action::ConfigTest;
            }
            if val.is_some() {
                test_file = val;
            }
        }
        Opt::Version => {
            if o.action != Action::Help {
                o.action = Action::Version;
            }
        }
        Opt::Help => o.action = Action::Help,
        Opt::DontFork => o.dont_fork = true,
        Opt::LogConsole => o.log_console = true,
        Opt::LogDetail => o.log_detail = true,
        Opt::Pid => o.pid_file = val,
        Opt::DumpPrefix => o.dump_prefix = val,
        Opt::KeepalivedCompat => o.keepalived_compat = true,
        Opt::Signum => {
            if o.action != Action::Help {
                o.action = Action::Signum;
            }
            o.signum = val;
        }
    };
    while let Some(arg) = it.next() {
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let Some(&(_, _, kind, opt)) = OPTS.iter().find(|x| x.1 == name) else {
                return Err(ArgError::UnknownOption(arg));
            };
            let val = match (kind, inline) {
                (0, Some(_)) => return Err(ArgError::UnexpectedValue(name_of(opt))),
                (0, None) => None,
                (1, Some(v)) => Some(v),
                (1, None) => Some(it.next().ok_or(ArgError::MissingValue(name_of(opt)))?),
                (_, v) => v,
            };
            apply(&mut o, opt, val);
        } else if arg.len() > 1 && arg.starts_with('-') {
            let body = &arg[1..];
            for (pos, c) in body.char_indices() {
                let Some(&(_, _, kind, opt)) = OPTS.iter().find(|x| x.0 == c && c != '\0') else {
                    return Err(ArgError::UnknownOption(format!("-{c}")));
                };
                let rest = &body[pos + c.len_utf8()..];
                match kind {
                    0 => apply(&mut o, opt, None),
                    1 => {
                        let v = if rest.is_empty() {
                            it.next().ok_or(ArgError::MissingValue(name_of(opt)))?
                        } else {
                            rest.to_owned()
                        };
                        apply(&mut o, opt, Some(v));
                        break;
                    }
                    _ => {
                        let v = (!rest.is_empty()).then(|| rest.to_owned());
                        apply(&mut o, opt, v);
                        break;
                    }
                }
            }
        } else {
            return Err(ArgError::UnexpectedArgument(arg));
        }
    }
    if let Some(f) = test_file {
        o.config_file = Some(f);
    }
    Ok(o)
}

/// `keepvip -h`.
pub fn help_text() -> String {
    format!(
        "Usage: keepvip [OPTION...]\n\
         A VRRP daemon that reads keepalived.conf.\n\n\
         \x20 -f, --use-file=FILE      configuration file (default {DEFAULT_CONFIG},\n\
         \x20                          else {FALLBACK_CONFIG})\n\
         \x20 -t, --config-test[=FILE] check the configuration and exit\n\
         \x20                          (0 ok, 3 errors, 4 warnings, 5 script security)\n\
         \x20 -n, --dont-fork          stay in the foreground\n\
         \x20 -l, --log-console        accepted for keepalived compatibility: keepvip\n\
         \x20                          always logs to stderr (no syslog)\n\
         \x20 -D, --log-detail         detailed logging\n\
         \x20 -p, --pid=FILE           pid file (default {DEFAULT_PID_FILE}); the status\n\
         \x20                          socket is next to it (X.pid -> X.sock)\n\
         \x20     --dump-prefix=PREFIX dumps: SIGUSR1 PREFIX.data, SIGUSR2 PREFIX.stats,\n\
         \x20                          SIGRTMIN+2 (and 37) PREFIX.json (default {DEFAULT_DUMP_PREFIX})\n\
         \x20     --keepalived-compat  dumps at keepalived's paths ({KEEPALIVED_DUMP_PREFIX}.*)\n\
         \x20     --signum=NAME        print the signal number for STOP, RELOAD, DATA,\n\
         \x20                          STATS or JSON and exit\n\
         \x20 -v, --version            print the version and exit\n\
         \x20 -h, --help               print this help and exit\n\n\
         Usage: keepvip status [--json] [-p FILE]   state of the running daemon\n"
    )
}

/// `keepvip -v`.
pub fn version_text() -> String {
    format!(
        "keepvip {} (git {})\n",
        crate::limits::VERSION,
        crate::limits::GIT_REV
    )
}

/// Parses `path` through `source` and writes every diagnostic to `out` as
/// `FILE:LINE:COL: error|warning: message`, then a summary line. Returns the
/// exit status (see the module doc).
pub fn config_test(
    source: &dyn ConfigSource,
    path: &str,
    cfg: &mut Config,
    diags: &mut Diagnostics,
    out: &mut dyn Write,
) -> i32 {
    config::parse(source, path, cfg, diags);
    // Script users and enable_script_security, against this host.
    let _ = crate::daemon::check_scripts(cfg, diags);
    // Console output: a write error (closed stderr) must not change the verdict.
    for d in diags.iter() {
        let _ = writeln!(out, "{}", d.display(cfg));
    }
    if diags.dropped > 0 {
        let _ = writeln!(
            out,
            "{path}: note: {} more diagnostics not shown (limit MAX_DIAGNOSTICS={}, build variable KEEPVIP_MAX_DIAGNOSTICS)",
            diags.dropped,
            crate::limits::MAX_DIAGNOSTICS
        );
    }
    if let Some(s) = cfg.lvs.skipped {
        let _ = writeln!(
            out,
            "{}:{}:{}: note: virtual_server blocks not checked and ignored: this keepvip was built without the lvs feature",
            cfg.file_name(s),
            s.line,
            s.col
        );
    }
    #[cfg(not(feature = "smtp"))]
    {
        let g = &cfg.global_defs;
        if g.smtp_server.is_some() || g.smtp_alert || !g.notification_email.is_empty() {
            let _ = writeln!(
                out,
                "{path}: note: smtp_server / smtp_alert / notification_email ignored: this keepvip was built without the smtp feature (no mail is sent)"
            );
        }
    }
    let code = diags.exit_code();
    let verdict = match code {
        0 => "OK",
        3 => "cannot be used",
        4 => "usable, with corrections",
        _ => "usable, but scripts lack enable_script_security",
    };
    let _ = writeln!(
        out,
        "{path}: {} error(s), {} warning(s): configuration {verdict}",
        diags.errors, diags.warnings
    );
    code
}

/// `keepvip -t` against the real file system; prints to stderr.
pub fn run_config_test(opts: &Options) -> i32 {
    let path = opts.config_path(&crate::sys::path_exists);
    let mut cfg = Config::new_boxed();
    // Boxed: 14 KiB on main's stack frame would be resident in daemon mode too.
    let mut diags = Diagnostics::new_boxed();
    let mut code = 0;
    let _ = crate::sys::stdio::with_writer(crate::sys::stdio::stderr(), &mut |out| {
        code = config_test(&FsSource::new(), &path, &mut cfg, &mut diags, out);
        Ok(())
    });
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, ArgError> {
        parse_args(args.iter())
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.action, Action::Run);
        assert_eq!(o.pid_path(), DEFAULT_PID_FILE);
    }

    #[test]
    fn short_long_and_bundled() {
        let o = p(&["-nlD", "-f", "/x.conf", "--pid=/run/k.pid"]).unwrap();
        assert!(o.dont_fork && o.log_console && o.log_detail);
        assert_eq!(o.config_file.as_deref(), Some("/x.conf"));
        assert_eq!(o.pid_path(), "/run/k.pid");
        let o = p(&["--use-file", "/a", "--dont-fork", "-p/p"]).unwrap();
        assert_eq!(o.config_file.as_deref(), Some("/a"));
        assert_eq!(o.pid_file.as_deref(), Some("/p"));
        let o = p(&["-f/b"]).unwrap();
        assert_eq!(o.config_file.as_deref(), Some("/b"));
    }

    #[test]
    fn config_test_forms() {
        let o = p(&["-t", "-f", "/a"]).unwrap();
        assert_eq!(o.action, Action::ConfigTest);
        assert_eq!(o.config_file.as_deref(), Some("/a"));
        let o = p(&["--config-test=/c", "-f", "/a"]).unwrap();
        assert_eq!(o.config_file.as_deref(), Some("/c"));
        let o = p(&["-t/c"]).unwrap();
        assert_eq!(o.config_file.as_deref(), Some("/c"));
        let o = p(&["--config-test"]).unwrap();
        assert_eq!(o.action, Action::ConfigTest);
        assert_eq!(o.config_file, None);
    }

    #[test]
    fn version_and_help() {
        assert_eq!(p(&["-v"]).unwrap().action, Action::Version);
        assert_eq!(p(&["--help", "-v"]).unwrap().action, Action::Help);
        assert_eq!(p(&["-v", "-h"]).unwrap().action, Action::Help);
        assert!(version_text().contains(crate::limits::GIT_REV));
        assert!(help_text().contains("--config-test"));
    }

    #[test]
    fn errors() {
        assert_eq!(p(&["-x"]), Err(ArgError::UnknownOption("-x".into())));
        assert_eq!(
            p(&["--bogus"]),
            Err(ArgError::UnknownOption("--bogus".into()))
        );
        assert_eq!(p(&["-f"]), Err(ArgError::MissingValue("--use-file")));
        assert_eq!(
            p(&["--dont-fork=1"]),
            Err(ArgError::UnexpectedValue("--dont-fork"))
        );
        assert_eq!(
            p(&["file.conf"]),
            Err(ArgError::UnexpectedArgument("file.conf".into()))
        );
    }

    #[test]
    fn dump_and_signum_options() {
        let o = p(&[]).unwrap();
        assert_eq!(o.dump_prefix(), "/tmp/keepvip");
        let o = p(&["--keepalived-compat"]).unwrap();
        assert!(o.keepalived_compat);
        assert_eq!(o.dump_prefix(), "/tmp/keepalived");
        let o = p(&["--dump-prefix", "/run/kv", "--keepalived-compat"]).unwrap();
        assert_eq!(o.dump_prefix(), "/run/kv");
        let o = p(&["--dump-prefix=/x/y", "-n"]).unwrap();
        assert_eq!(o.dump_prefix(), "/x/y");
        assert!(o.dont_fork);
        assert_eq!(
            p(&["--keepalived-compat=1"]),
            Err(ArgError::UnexpectedValue("--keepalived-compat"))
        );
        assert_eq!(
            p(&["--dump-prefix"]),
            Err(ArgError::MissingValue("--dump-prefix"))
        );
        let o = p(&["--signum=JSON"]).unwrap();
        assert_eq!(o.action, Action::Signum);
        assert_eq!(o.signum.as_deref(), Some("JSON"));
        assert_eq!(p(&["--signum", "DATA", "-h"]).unwrap().action, Action::Help);
        assert_eq!(signum("JSON"), Some(libc::SIGRTMIN() + 2));
        assert_eq!(signum("DATA"), Some(libc::SIGUSR1));
        assert_eq!(signum("STATS"), Some(libc::SIGUSR2));
        assert_eq!(signum("STOP"), Some(libc::SIGTERM));
        assert_eq!(signum("RELOAD"), Some(libc::SIGHUP));
        assert_eq!(signum("TDATA"), None);
        assert!(help_text().contains("--keepalived-compat"));
        assert!(help_text().contains("keepvip status"));
    }

    #[test]
    fn config_path_fallback() {
        let o = Options::default();
        assert_eq!(o.config_path(&|_| false), DEFAULT_CONFIG);
        assert_eq!(o.config_path(&|p| p == FALLBACK_CONFIG), FALLBACK_CONFIG);
        assert_eq!(o.config_path(&|_| true), DEFAULT_CONFIG);
        let o = p(&["-f", "/mine"]).unwrap();
        assert_eq!(o.config_path(&|_| true), "/mine");
    }
}
