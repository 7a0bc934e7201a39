//! keepvip: a small VRRP v2/v3 daemon for Linux routers that reads
//! keepalived.conf.
//!
//! The protocol core (`wire`, `config`, `vrrp`, `time`) never reads the clock,
//! never touches a socket and never allocates after start-up: time comes in as
//! an argument, effects go out as actions. All `unsafe` and libc lives in `sys`.
#![deny(unsafe_code)]

// Logging: keepvip's own macros in front of the `log` crate. A call site only
// builds `format_args!` and calls one non-generic function
// (`logger::emit`); `log`'s own macros also build a `Record` with the module
// path, file and line at every call site, which costs about 12 KiB on MIPS
// over the daemon's log lines. Same levels, same `log::Log` backend.
#[doc(hidden)]
#[macro_export]
macro_rules! kv_log {
    ($lvl:expr, $($arg:tt)+) => {
        $crate::logger::emit($lvl, module_path!(), format_args!($($arg)+))
    };
}
/// `error!` through [`logger::emit`].
#[macro_export]
macro_rules! error { ($($arg:tt)+) => { $crate::kv_log!(::log::Level::Error, $($arg)+) }; }
/// `warn!` through [`logger::emit`].
#[macro_export]
macro_rules! warn { ($($arg:tt)+) => { $crate::kv_log!(::log::Level::Warn, $($arg)+) }; }
/// `info!` through [`logger::emit`].
#[macro_export]
macro_rules! info { ($($arg:tt)+) => { $crate::kv_log!(::log::Level::Info, $($arg)+) }; }
/// `debug!` through [`logger::emit`].
#[macro_export]
macro_rules! debug { ($($arg:tt)+) => { $crate::kv_log!(::log::Level::Debug, $($arg)+) }; }
/// `trace!` through [`logger::emit`].
#[macro_export]
macro_rules! trace { ($($arg:tt)+) => { $crate::kv_log!(::log::Level::Trace, $($arg)+) }; }

pub mod cli;
pub mod config;
pub mod daemon;
pub mod dump;
pub mod limits;
pub mod logger;
pub mod lvs;
pub mod notify;
pub mod smtp;
pub mod status;
#[allow(unsafe_code)]
pub mod sys;
pub mod time;
pub mod track;
pub mod vrrp;
pub mod wire;
