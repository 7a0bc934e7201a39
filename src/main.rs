//! keepvip command line entry point: `keepvip status` (query the running
//! daemon), `-t` (config test), `-v`, `-h`, `--signum`, or the daemon
//! (`keepvip::daemon::run`).

use keepvip::cli::{self, Action};
use keepvip::status;
use keepvip::sys::stdio::{stderr, stdout, write_bytes, write_fmt};
use std::process::ExitCode;

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// `keepvip status [--json] [-p FILE | -s SOCKET]`.
fn status_command(args: impl Iterator<Item = String>) -> ExitCode {
    match status::parse_status_args(args) {
        Ok(a) if a.help => {
            let _ = write_bytes(stdout(), status::status_help_text().as_bytes());
            ExitCode::SUCCESS
        }
        Ok(a) => exit(status::run_status_client(&a.socket_path, a.json)),
        Err(e) => {
            let _ = write_fmt(
                stderr(),
                format_args!("keepvip: {e}\nTry 'keepvip status --help' for more information.\n"),
            );
            exit(status::STATUS_EXIT_USAGE)
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("status") {
        args.next();
        return status_command(args);
    }
    let opts = match cli::parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = write_fmt(
                stderr(),
                format_args!("keepvip: {e}\nTry 'keepvip --help' for more information.\n"),
            );
            return exit(cli::EXIT_USAGE);
        }
    };
    let level = if opts.log_detail {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    // Formats into a stack buffer: logging never allocates (see src/logger.rs).
    keepvip::logger::init(level);
    match opts.action {
        Action::Help => {
            let _ = write_bytes(stdout(), cli::help_text().as_bytes());
            ExitCode::SUCCESS
        }
        Action::Version => {
            let _ = write_bytes(stdout(), cli::version_text().as_bytes());
            ExitCode::SUCCESS
        }
        Action::Signum => match opts.signum.as_deref().and_then(cli::signum) {
            Some(n) => {
                let _ = write_fmt(stdout(), format_args!("{n}\n"));
                ExitCode::SUCCESS
            }
            None => {
                let _ = write_fmt(
                    stderr(),
                    format_args!(
                        "keepvip: --signum: unknown signal function '{}' (STOP, RELOAD, DATA, STATS, JSON)\n",
                        opts.signum.as_deref().unwrap_or("")
                    ),
                );
                ExitCode::from(1)
            }
        },
        Action::ConfigTest => exit(cli::run_config_test(&opts)),
        Action::Run => exit(keepvip::daemon::run(&opts)),
    }
}
