//! Running code inside a named network namespace (`ip netns add NAME`).
//!
//! Used by the namespace tests (and usable by tools): `setns(2)` with
//! `CLONE_NEWNET` changes the namespace of the calling *thread* only, so
//! [`run_in_netns`] does it on a fresh, short-lived thread. Sockets created
//! there stay bound to that namespace after the thread ends, so a test can
//! open sockets "inside" several namespaces and then drive them all from one
//! thread. This allocates (a thread); it is a start-up/test tool, not
//! something the daemon loop calls.

use std::io;
use std::os::fd::AsRawFd;

/// Directory where `ip netns` keeps its namespace handles.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Runs `f` on a new thread that has entered network namespace `name`
/// (`/run/netns/<name>`), and returns its result.
pub fn run_in_netns<T, F>(name: &str, f: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(super::fixed_error(
            io::ErrorKind::InvalidInput,
            "bad namespace name",
        ));
    }
    let ns = std::fs::File::open(std::path::Path::new(NETNS_RUN_DIR).join(name))?;
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: `ns` is an open namespace file; setns only changes the
            // calling thread's network namespace.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            super::cerr(r)?;
            Ok(f())
        })
        .join()
        .map_err(|_| super::fixed_error(io::ErrorKind::Other, "thread in netns panicked"))?
    })
}
