//! Looking into the running daemon: keepalived's state dumps on signals and
//! the `keepvip status` socket, both served from the poll loop.
//!
//! - SIGUSR1 -> `PREFIX.data` ([`crate::dump::write_data`]), SIGUSR2 ->
//!   `PREFIX.stats` ([`crate::dump::write_stats_with`]: keepalived's lines
//!   plus one `Advert lateness` line per instance and a last `Heap
//!   allocations` line, without them under `--keepalived-compat`),
//!   SIGRTMIN+2 (and a
//!   literal 37, see [`crate::sys::signal::json_alias`]) -> `PREFIX.json`
//!   ([`crate::dump::write_json`]); `PREFIX` from `--dump-prefix` /
//!   `--keepalived-compat` ([`Options::dump_prefix`]). Each file is
//!   replaced atomically (temp file + rename, mode 0600), streamed through a
//!   stack buffer: no heap. The signals are noted while the signalfd is read
//!   and the files written at the end of the same loop turn, so they show the
//!   state after that turn's packets and timers.
//! - The status socket next to the pid file ([`status_socket_path`]) is one
//!   fd in the poll table ([`StatusServer`]: non-blocking, at most
//!   `STATUS_CONNS_MAX` connections, the oldest evicted, one response buffer
//!   allocated at start-up).
//!
//! The inputs are the running configuration, router and (once the daemon
//! owns them) the trackers: [`Observer::turn`] takes `Option<&Trackers>`.

use std::path::Path;
use std::string::String;

use crate::cli::Options;
use crate::config::Config;
use crate::dump::{DumpInput, write_allocs_line, write_data, write_json, write_stats_with};
use crate::lvs::report::{self as lvs_report, LvsView};
use crate::status::{
    Format, StatusServer, StatusView, status_socket_path, write_status_allocs, write_status_json,
    write_status_table,
};
use crate::sys::clock::{monotonic_now, wall_offset_us};
use crate::sys::file_atomic::{DUMP_FILE_MODE, FmtWriteError, replace_fmt};
use crate::sys::poll::{PollTable, Slot};
use crate::sys::signal::{Signal, SignalSet};
use crate::time::Instant;
use crate::track::Trackers;
use crate::vrrp::Router;

use super::errno::IoErr;

/// The three dumps, in the order of [`Signal`]s that request them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dump {
    Data,
    Stats,
    Json,
}

const DUMPS: [(Signal, Dump); 3] = [
    (Signal::Usr1, Dump::Data),
    (Signal::Usr2, Dump::Stats),
    (Signal::RtMin2, Dump::Json),
];

/// Dumps and status socket of the daemon.
pub struct Observer {
    data: String,
    stats: String,
    json: String,
    /// Dump signals received this turn.
    pending: SignalSet,
    status: Option<StatusServer>,
    slot: Option<Slot>,
    /// `--keepalived-compat`: the stats dump in keepalived's format exactly
    /// (without keepvip's `Advert lateness` and `Heap allocations` lines).
    keepalived_compat: bool,
}

fn with_suffix(prefix: &str, suffix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + suffix.len());
    s.push_str(prefix);
    s.push_str(suffix);
    s
}

impl Observer {
    /// Start-up: the dump paths and the status socket (a socket that cannot
    /// be bound is logged; the daemon runs without it).
    pub fn new(opts: &Options) -> Observer {
        let prefix = opts.dump_prefix();
        let status = match status_socket_path(opts.pid_path()) {
            Some(p) => match StatusServer::bind(Path::new(p.as_str())) {
                Ok(s) => Some(s),
                Err(e) => {
                    warn!(
                        "cannot open the status socket {}: {}; `keepvip status` will not answer",
                        p,
                        IoErr(&e)
                    );
                    None
                }
            },
            None => {
                warn!(
                    "pid file path {} too long for a status socket; `keepvip status` will not answer",
                    opts.pid_path()
                );
                None
            }
        };
        Observer {
            data: with_suffix(prefix, ".data"),
            stats: with_suffix(prefix, ".stats"),
            json: with_suffix(prefix, ".json"),
            pending: SignalSet::EMPTY,
            status,
            slot: None,
            keepalived_compat: opts.keepalived_compat,
        }
    }

    /// Start-up: puts the status socket into the poll table.
    pub fn register(&mut self, poll: &mut PollTable) {
        if let Some(s) = &self.status {
            match poll.add(s.fd()) {
                Ok(slot) => self.slot = Some(slot),
                Err(_) => {
                    error!("poll table full: `keepvip status` will not answer");
                    self.status = None;
                }
            }
        }
    }

    /// Notes the dump signals of `set` (written by [`Observer::turn`]).
    pub fn request(&mut self, set: SignalSet) {
        for (sig, _) in DUMPS {
            if set.contains(sig) {
                self.pending.insert(sig);
            }
        }
    }

    /// End of a loop turn: writes the requested dumps and serves the status
    /// socket if it is readable. Never blocks: the socket is non-blocking and
    /// the dump files are written without `fsync` (they are in `/tmp`).
    pub fn turn(
        &mut self,
        poll: &PollTable,
        now: Instant,
        cfg: &Config,
        router: &Router,
        trackers: Option<&Trackers>,
        lvs: Option<LvsView<'_>>,
    ) {
        // A build without the `lvs` feature has no LVS report code at all.
        let lvs = lvs.filter(|_| cfg!(feature = "lvs"));
        let serve = self.slot.is_some_and(|s| poll.is_ready(s));
        if self.pending.is_empty() && !serve {
            return;
        }
        let view = StatusView {
            input: DumpInput {
                config: cfg,
                router,
                now,
                wall_offset_us: wall_offset_us(),
            },
            trackers,
            allocs: crate::sys::alloc::usage(),
        };
        let pending = core::mem::take(&mut self.pending);
        for (sig, dump) in DUMPS {
            if pending.contains(sig) {
                self.write_dump(dump, &view.input, lvs);
            }
        }
        if serve && let Some(s) = &mut self.status {
            s.handle_readable(|w, f| match f {
                Format::Table => {
                    write_status_table(w, &view)?;
                    lvs.map_or(Ok(()), |l| lvs_report::write_status(w, cfg, &l, now))?;
                    write_status_allocs(w, &view)
                }
                Format::Json => write_status_json(w, &view),
            });
        }
    }

    fn write_dump(&self, dump: Dump, input: &DumpInput<'_>, lvs: Option<LvsView<'_>>) {
        let (path, what) = match dump {
            Dump::Data => (&self.data, "data"),
            Dump::Stats => (&self.stats, "stats"),
            Dump::Json => (&self.json, "JSON"),
        };
        let t0 = monotonic_now();
        let r = replace_fmt(Path::new(path), DUMP_FILE_MODE, &mut |w| match dump {
            Dump::Data => {
                write_data(w, input)?;
                lvs.map_or(Ok(()), |l| lvs_report::write_data(w, input.config, &l))
            }
            Dump::Stats if self.keepalived_compat => write_stats_with(w, input.router, false),
            Dump::Stats => {
                write_stats_with(w, input.router, true)?;
                write_allocs_line(w, crate::sys::alloc::usage().as_ref())
            }
            Dump::Json => write_json(w, input),
        });
        match r {
            Ok(()) => debug!(
                "{} dump written to {} in {} us",
                what,
                path,
                monotonic_now().saturating_duration_since(t0).as_micros()
            ),
            Err(FmtWriteError::Io(e)) => {
                error!("cannot write the {} dump {}: {}", what, path, IoErr(&e))
            }
            Err(FmtWriteError::Format) => {
                error!("cannot write the {} dump {}: formatting failed", what, path)
            }
        }
    }
}
