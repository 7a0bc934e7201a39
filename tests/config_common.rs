// Shared helpers of the config integration tests (`mod config_common;`).
#![allow(dead_code)]

use keepvip::config::{Config, Diagnostics, parse};
use keepvip::sys::config_fs::FsSource;

/// Runs `f` on a thread with a large stack: `Config` is about 1 MiB and an
/// unoptimised `Config::new_boxed()` builds it on the stack first, which
/// overflows the 2 MiB of a test thread.
pub fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn_scoped(s, f)
            .expect("spawn test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Parses a real file (path relative to the package root).
pub fn parse_file(path: &str) -> (Box<Config>, Diagnostics) {
    big_stack(|| {
        let mut cfg = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&FsSource::new(), path, &mut cfg, &mut d);
        (cfg, d)
    })
}

/// Every diagnostic as the `-t` output line.
pub fn rendered(cfg: &Config, d: &Diagnostics) -> Vec<String> {
    d.iter().map(|x| x.display(cfg).to_string()).collect()
}
