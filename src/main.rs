//! keepvip command line entry point: `keepvip status` (query the running
//! daemon), `-t` (config test), `-v`, `-h`, `--signum`, or the daemon
//! (`keepvip::daemon::run`). The process starts in src/sys/entry.rs (a C
//! `main` instead of std's runtime start: see there).
#![no_main]
#![deny(unsafe_code)]

use core::fmt;
use keepvip::cli::{self, Action};
use keepvip::status;
use keepvip::sys::stdio::{stderr, stdout, write_bytes, write_fmt};

/// The system allocator, counted: `keepvip status` shows the allocations
/// since start-up (zero is the rule; see `keepvip::sys::alloc`).
#[global_allocator]
static ALLOC: keepvip::sys::alloc::CountingAlloc = keepvip::sys::alloc::CountingAlloc;

#[allow(unsafe_code)]
#[path = "sys/entry.rs"]
mod entry;

/// `keepvip: MESSAGE` and the `--help` hint on stderr; the usage exit code.
fn usage_error(e: fmt::Arguments<'_>) -> i32 {
    let _ = write_fmt(
        stderr(),
        format_args!("keepvip: {e}\nTry 'keepvip --help' for more information.\n"),
    );
    cli::EXIT_USAGE
}

/// Exit code of a command whose whole job is printing: 1 if stdout
/// could not take it (a closed pipe, a full disk).
fn printed(r: std::io::Result<()>) -> i32 {
    i32::from(r.is_err())
}

/// `keepvip status [--json] [-p FILE | -s SOCKET]`.
fn status_command(args: &[&str]) -> i32 {
    match status::parse_status_args(args) {
        Ok(a) if a.help => printed(write_bytes(stdout(), status::status_help_text().as_bytes())),
        Ok(a) => status::run_status_client(&a.socket_path, a.json),
        Err(e) => {
            let _ = write_fmt(
                stderr(),
                format_args!("keepvip: {e}\nTry 'keepvip status --help' for more information.\n"),
            );
            status::STATUS_EXIT_USAGE
        }
    }
}

/// The program: `args` without the program name; returns the exit code.
fn run(args: &[&str]) -> i32 {
    if let Some((&"status", rest)) = args.split_first() {
        return status_command(rest);
    }
    let opts = match cli::parse_args(args) {
        Ok(o) => o,
        Err(e) => return usage_error(format_args!("{e}")),
    };
    let level = if opts.log_detail {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    // Formats into a stack buffer: logging never allocates (see src/logger.rs).
    keepvip::logger::init(level);
    match opts.action {
        Action::Help => printed(write_bytes(stdout(), cli::help_text().as_bytes())),
        Action::Version => printed(write_bytes(stdout(), cli::version_text().as_bytes())),
        Action::Signum => match opts.signum.as_deref().and_then(cli::signum) {
            Some(n) => printed(write_fmt(stdout(), format_args!("{n}\n"))),
            None => {
                let _ = write_fmt(
                    stderr(),
                    format_args!(
                        "keepvip: --signum: unknown signal function '{}' (STOP, RELOAD, DATA, STATS, JSON)\n",
                        opts.signum.as_deref().unwrap_or("")
                    ),
                );
                1
            }
        },
        Action::ConfigTest => cli::run_config_test(&opts),
        Action::Run => keepvip::daemon::run(&opts),
    }
}
