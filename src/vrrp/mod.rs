//! The VRRP protocol core (sans-IO): the RFC 5798 / RFC 3768 state machine
//! of every instance, with keepalived's semantics.
//!
//! Inputs come in as `handle_*(now, ...)` calls on [`Router`], effects go
//! out as [`Action`]s in a bounded [`Actions`] list, and
//! [`Router::poll_timeout`] gives the next deadline. No clock reads, no
//! sockets, no allocation (apart from [`Router::new_boxed`] at start-up),
//! no `unsafe`, no panics.
//!
//! Logging goes through the `log` crate with keepalived's words
//! (`(VI_1) Entering MASTER STATE`); the macros format with
//! `core::fmt::Arguments` and allocate nothing themselves — whether a
//! message allocates is up to the installed logger.

pub mod action;
pub mod instance;
pub mod reload;
pub mod router;
pub mod stats;
pub mod timers;

pub use action::{
    ACTIONS_MAX, ACTIONS_PER_INSTANCE_MAX, Action, Actions, GARP_BATCH_MAX, GroupId, InstanceId,
    NotifyState, VipRef,
};
pub(crate) use instance::DropLog;
pub use instance::{PRIORITY_OWNER, PRIORITY_STOP, StateKind};
pub use reload::reload_map;
pub use router::{Router, RouterError, TrackState};
pub use stats::{DropReason, LATENESS_BOUNDS_US, LATENESS_BUCKETS, Lateness, Stats};
