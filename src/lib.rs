//! keepvip: a small VRRP v2/v3 daemon for Linux routers that reads
//! keepalived.conf.
//!
//! The protocol core (`wire`, `config`, `vrrp`, `time`) never reads the clock,
//! never touches a socket and never allocates after start-up: time comes in as
//! an argument, effects go out as actions. All `unsafe` and libc lives in `sys`.
#![deny(unsafe_code)]

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
