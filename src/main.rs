//! keepvip command line entry point: `-t` (config test), `-v`, `-h`, or
//! the daemon (`keepvip::daemon::run`).

use keepvip::cli::{self, Action};
use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = match cli::parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("keepvip: {e}\nTry 'keepvip --help' for more information.");
            return ExitCode::from(cli::EXIT_USAGE as u8);
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
        Action::ConfigTest => ExitCode::from(cli::run_config_test(&opts) as u8),
        Action::Run => ExitCode::from(keepvip::daemon::run(&opts).clamp(0, 255) as u8),
    }
}
