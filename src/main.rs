//! keepvip command line entry point: `keepvip status` (query the running
//! daemon), `-t` (config test), `-v`, `-h`, `--signum`, or the daemon
//! (`keepvip::daemon::run`).

use keepvip::cli::{self, Action};
use keepvip::status;
use std::process::ExitCode;

/// The system allocator, counted: `keepvip status` shows the allocations
/// since start-up (zero is the rule; see `keepvip::sys::alloc`).
#[global_allocator]
static ALLOC: keepvip::sys::alloc::CountingAlloc = keepvip::sys::alloc::CountingAlloc;

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// `keepvip status [--json] [-p FILE | -s SOCKET]`.
fn status_command(args: impl Iterator<Item = String>) -> ExitCode {
    match status::parse_status_args(args) {
        Ok(a) if a.help => {
            print!("{}", status::status_help_text());
            ExitCode::SUCCESS
        }
        Ok(a) => exit(status::run_status_client(&a.socket_path, a.json)),
        Err(e) => {
            eprintln!("keepvip: {e}\nTry 'keepvip status --help' for more information.");
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
            eprintln!("keepvip: {e}\nTry 'keepvip --help' for more information.");
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
            print!("{}", cli::help_text());
            ExitCode::SUCCESS
        }
        Action::Version => {
            print!("{}", cli::version_text());
            ExitCode::SUCCESS
        }
        Action::Signum => match opts.signum.as_deref().and_then(cli::signum) {
            Some(n) => {
                println!("{n}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "keepvip: --signum: unknown signal function '{}' (STOP, RELOAD, DATA, STATS, JSON)",
                    opts.signum.as_deref().unwrap_or("")
                );
                ExitCode::from(1)
            }
        },
        Action::ConfigTest => exit(cli::run_config_test(&opts)),
        Action::Run => exit(keepvip::daemon::run(&opts)),
    }
}
