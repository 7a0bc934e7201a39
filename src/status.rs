//! `keepvip status`: a query over a unix stream socket next to the pid file
//! (`/var/run/keepvip.pid` -> `/var/run/keepvip.sock`), answered by the
//! running daemon from inside its poll loop, without blocking and without
//! the heap (one response buffer, allocated when the socket is bound).
//!
//! Protocol (one request per connection):
//! - the client sends `table\n` or `json\n` and keeps its write side open;
//! - the daemon answers `OK\n` followed by the text, or `ERR <reason>\n`,
//!   then closes the connection.
//!
//! The daemon side is [`StatusServer`]: put [`StatusServer::fd`] in the poll
//! table and call [`StatusServer::handle_readable`] when it is readable
//! (an `epoll` set behind that one fd watches the listener and the pending
//! connections). The client side is [`run_status_client`]; the table is
//! [`write_table`], the JSON is [`crate::dump::write_json`].

use core::fmt::{self, Write};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use crate::daemon::IoErr;
use crate::dump::{
    AddrOrDash, AllocJson, DumpInput, JsonStr, write_allocs_line, write_json_lateness,
    write_json_with,
};
use crate::limits::MAX_INSTANCES;
use crate::sys::alloc::AllocUsage;
use crate::sys::file_atomic::SliceBuf;
use crate::sys::unix_sock::{EPOLL_IN, EPOLL_OUT, Epoll, UnixListener, UnixStream};
use crate::time::Duration;
use crate::track::{FILE_FAULT, ScriptStatus, TrackerId, Trackers, file_status};
use crate::vrrp::{InstanceId, StateKind, Stats};

/// What the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Table,
    Json,
}

/// Longest request line (`table\n` / `json\n`, with room to spare).
pub const STATUS_REQ_MAX: usize = 32;
/// Connections handled at once; a new one beyond this evicts the oldest.
pub const STATUS_CONNS_MAX: usize = 4;
/// The response buffer: enough for the JSON of every instance with a few
/// VIPs and trackers. A larger answer is refused with `ERR`, never cut.
pub const STATUS_RESP_BYTES: usize = 4096 + MAX_INSTANCES * 2048;
/// Client timeout for connect, send and receive.
pub const STATUS_CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Exit codes of `keepvip status` (LSB `status` style).
pub const STATUS_EXIT_OK: i32 = 0;
pub const STATUS_EXIT_ERROR: i32 = 1;
pub const STATUS_EXIT_USAGE: i32 = 2;
/// No daemon answers at the socket.
pub const STATUS_EXIT_NOT_RUNNING: i32 = 3;

/// The socket path for a pid file: `X.pid` -> `X.sock`, anything else gets
/// `.sock` appended. `None` if the result does not fit a unix socket
/// address (107 bytes).
pub fn status_socket_path(pid_file: &str) -> Option<heapless::String<107>> {
    let stem = pid_file.strip_suffix(".pid").unwrap_or(pid_file);
    let mut s = heapless::String::new();
    s.push_str(stem).ok()?;
    s.push_str(".sock").ok()?;
    Some(s)
}

// ---- Table ------------------------------------------------------------------------

/// Time since an event, compactly: `42s`, `3m07s`, `2h05m`, `3d04h`.
pub struct Age(pub Duration);

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_micros() / 1_000_000;
        let mut b: heapless::String<24> = heapless::String::new();
        if s < 60 {
            write!(b, "{s}s")?;
        } else if s < 3600 {
            write!(b, "{}m{:02}s", s / 60, s % 60)?;
        } else if s < 86_400 {
            write!(b, "{}h{:02}m", s / 3600, s / 60 % 60)?;
        } else {
            write!(b, "{}d{:02}h", s / 86_400, s / 3600 % 24)?;
        }
        f.pad(&b)
    }
}

/// Tracker states for the table's TRACKERS column (the tracker module
/// implements this; `None` = no tracker data, the column is left out).
pub trait TrackerStates {
    /// A short summary for one instance, e.g. `chk_http:ok eth1:down`.
    fn describe(&self, id: InstanceId, w: &mut dyn Write) -> fmt::Result;
}

fn drops_total(s: &Stats) -> u64 {
    [
        s.packet_len_err,
        s.ip_ttl_err,
        s.invalid_type_rcvd,
        s.chk_err,
        s.vers_err,
        s.vrid_err,
        s.family_err,
        s.advert_interval_err,
        s.addr_list_err,
        s.invalid_authtype,
        s.authtype_mismatch,
        s.auth_failure,
        s.not_running,
    ]
    .iter()
    .fold(0u64, |a, &b| a.saturating_add(b))
}

/// The `keepvip status` table: one line per instance with its state,
/// effective (and base, when different) priority, current master, time since
/// the last transition, tracker states (only with `trackers`) and counters.
pub fn write_table<W: Write + ?Sized>(
    w: &mut W,
    d: &DumpInput<'_>,
    trackers: Option<&dyn TrackerStates>,
) -> fmt::Result {
    let r = d.router;
    let name_w = r
        .instance_ids()
        .filter_map(|id| r.name(id).map(str::len))
        .fold(8, usize::max);
    let if_w = d
        .config
        .instances
        .iter()
        .map(|c| c.interface.len())
        .fold(5, usize::max);
    let master_of = |id: InstanceId| match r.state(id) {
        Some(StateKind::Master | StateKind::Backup) => r.master_addr(id),
        _ => None,
    };
    let addr_w = r
        .instance_ids()
        .map(|id| {
            let mut b: heapless::String<48> = heapless::String::new();
            let _ = write!(b, "{}", AddrOrDash(master_of(id)));
            b.len()
        })
        .fold(6, usize::max);
    write!(
        w,
        "{:name_w$}  {:if_w$}  {:>4}  {:6}  {:>7}  {:addr_w$}  {:>8}",
        "INSTANCE", "IFACE", "VRID", "STATE", "PRIO", "MASTER", "SINCE"
    )?;
    if trackers.is_some() {
        write!(w, "  {:24}", "TRACKERS")?;
    }
    writeln!(
        w,
        "  {:>8}  {:>8}  {:>6}  {:>6}  {:>6}  {:>10}",
        "SENT", "RCVD", "MASTER", "PRIO0", "DROPS", "MAXLATE"
    )?;
    for id in r.instance_ids() {
        let (Some(c), Some(name), Some(state), Some(s)) = (
            d.config.instances.get(id.index()),
            r.name(id),
            r.state(id),
            r.stats(id),
        ) else {
            continue;
        };
        let eff = r.effective_priority(id).unwrap_or(c.priority);
        let base = r.base_priority(id).unwrap_or(c.priority);
        let mut prio: heapless::String<8> = heapless::String::new();
        if eff == base {
            write!(prio, "{eff}")?;
        } else {
            write!(prio, "{eff}/{base}")?;
        }
        write!(
            w,
            "{:name_w$}  {:if_w$}  {:>4}  {:6}  {:>7}  {:addr_w$}  ",
            name,
            c.interface.as_str(),
            c.virtual_router_id,
            state.as_str(),
            prio.as_str(),
            AddrOrDash(master_of(id))
        )?;
        match r.last_transition(id) {
            Some(t) => write!(w, "{:>8}", Age(d.now.saturating_duration_since(t)))?,
            None => write!(w, "{:>8}", "-")?,
        }
        if let Some(t) = trackers {
            let mut b: heapless::String<128> = heapless::String::new();
            // A summary longer than the buffer is cut, not an error.
            let _ = t.describe(id, &mut b);
            write!(w, "  {:24}", if b.is_empty() { "-" } else { b.as_str() })?;
        }
        write!(
            w,
            "  {:>8}  {:>8}  {:>6}  {:>6}  {:>6}",
            s.advert_sent,
            s.advert_rcvd,
            s.become_master,
            s.pri_zero_rcvd.saturating_add(s.pri_zero_sent),
            drops_total(s)
        )?;
        if s.advert_late.count == 0 {
            writeln!(w, "  {:>10}", "-")?;
        } else {
            let us = s.advert_late.max_us;
            let mut b: heapless::String<24> = heapless::String::new();
            write!(b, "{}.{:03}ms", us / 1000, us % 1000)?;
            writeln!(w, "  {:>10}", b.as_str())?;
        }
    }
    Ok(())
}

// ---- Tracker rows and the daemon's answers ---------------------------------------------

/// What a tracker row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackerKind {
    /// The instance's own interface (unless `dont_track_primary`) or a
    /// `track_interface`.
    Interface,
    Script,
    Process,
    File,
}

impl TrackerKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            TrackerKind::Interface => "interface",
            TrackerKind::Script => "script",
            TrackerKind::Process => "process",
            TrackerKind::File => "file",
        }
    }
}

/// The state of a tracker row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowState {
    Up,
    Down,
    /// No result yet (script not returned, processes not scanned, file not read).
    Init,
    /// A `vrrp_track_file` value; `fault` when it puts the instance in FAULT.
    Value {
        value: i32,
        fault: bool,
    },
}

impl RowState {
    const fn word(self) -> &'static str {
        match self {
            RowState::Up => "up",
            RowState::Down => "down",
            RowState::Init => "init",
            RowState::Value { fault: true, .. } => "fault",
            RowState::Value { .. } => "ok",
        }
    }
}

/// One tracker of one instance, as `keepvip status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerRow<'a> {
    pub kind: TrackerKind,
    pub name: &'a str,
    pub state: RowState,
    /// The weight that applies to this instance (0: FAULT when failed).
    pub weight: i16,
    pub reverse: bool,
    /// The instance's own interface.
    pub primary: bool,
    /// Matching processes (process trackers after a scan).
    pub count: Option<u32>,
}

/// What the daemon answers `keepvip status` from: the dump input plus the
/// tracker states. `trackers` is `None` until the daemon owns a
/// [`Trackers`] (then the interface rows, which the core keeps, are shown
/// alone).
#[derive(Clone, Copy)]
pub struct StatusView<'a> {
    pub input: DumpInput<'a>,
    pub trackers: Option<&'a Trackers>,
    /// The daemon's heap allocations during and since start-up
    /// ([`crate::sys::alloc::usage`]; `None`: not counted).
    pub allocs: Option<AllocUsage>,
}

fn up_down(up: Option<bool>) -> RowState {
    match up {
        Some(true) => RowState::Up,
        Some(false) => RowState::Down,
        None => RowState::Init,
    }
}

impl StatusView<'_> {
    /// Calls `f` for every tracker row of instance `id`, in order: own
    /// interface, `track_interface`s, then scripts, processes and files (the
    /// instance's and its sync group's, after the sync-group weight rule).
    pub fn for_each_tracker(&self, id: InstanceId, f: &mut dyn FnMut(&TrackerRow<'_>)) {
        let r = self.input.router;
        let Some(c) = self.input.config.instances.get(id.index()) else {
            return;
        };
        if !c.dont_track_primary {
            f(&TrackerRow {
                kind: TrackerKind::Interface,
                name: &c.interface,
                state: up_down(r.link_up(&c.interface)),
                weight: 0,
                reverse: false,
                primary: true,
                count: None,
            });
        }
        for t in &c.track_interface {
            f(&TrackerRow {
                kind: TrackerKind::Interface,
                name: &t.ifname,
                state: up_down(r.link_up(&t.ifname)),
                weight: t.weight,
                reverse: t.reverse,
                primary: false,
                count: None,
            });
        }
        let Some(tr) = self.trackers else {
            return;
        };
        for x in tr.instance_refs(id) {
            let mut count = None;
            let (kind, state) = match x.tracker {
                TrackerId::Script(s) => (
                    TrackerKind::Script,
                    match tr.script_status(s) {
                        Some(ScriptStatus::Up) => RowState::Up,
                        Some(ScriptStatus::Down) => RowState::Down,
                        _ => RowState::Init,
                    },
                ),
                TrackerId::Process(p) => {
                    let st = tr.process_state(p);
                    count = st.filter(|(_, q)| q.is_some()).map(|(n, _)| n);
                    (TrackerKind::Process, up_down(st.and_then(|(_, q)| q)))
                }
                TrackerId::File(fi) => (
                    TrackerKind::File,
                    match tr.file_value_of(fi) {
                        Some(value) => RowState::Value {
                            value,
                            fault: file_status(value, x.weight, x.reverse) <= FILE_FAULT,
                        },
                        None => RowState::Init,
                    },
                ),
            };
            f(&TrackerRow {
                kind,
                name: tr.tracker_name(x.tracker),
                state,
                weight: x.weight,
                reverse: x.reverse,
                primary: false,
                count,
            });
        }
    }

    /// The `keepvip` member of one element of `keepvip status --json`:
    /// `{"master":ADDR|null,"trackers":[{"type":..,"name":..,"state":..,"weight":N,...}],
    /// "advert_late":{...},"allocations":{...}}` (see [`write_json_lateness`],
    /// [`AllocJson`]).
    fn write_extra<W: Write + ?Sized>(&self, w: &mut W, id: InstanceId) -> fmt::Result {
        let r = self.input.router;
        w.write_str("{\"master\":")?;
        match r.state(id) {
            Some(StateKind::Master | StateKind::Backup) if r.master_addr(id).is_some() => {
                write!(w, "\"{}\"", AddrOrDash(r.master_addr(id)))?
            }
            _ => w.write_str("null")?,
        }
        w.write_str(",\"trackers\":[")?;
        let mut first = true;
        let mut res = Ok(());
        self.for_each_tracker(id, &mut |t| {
            if res.is_err() {
                return;
            }
            res = (|| {
                if !first {
                    w.write_char(',')?;
                }
                first = false;
                write!(
                    w,
                    "{{\"type\":\"{}\",\"name\":{},\"state\":\"{}\",\"weight\":{}",
                    t.kind.as_str(),
                    JsonStr(t.name),
                    t.state.word(),
                    t.weight
                )?;
                if t.reverse {
                    w.write_str(",\"reverse\":true")?;
                }
                if t.primary {
                    w.write_str(",\"primary\":true")?;
                }
                if let Some(n) = t.count {
                    write!(w, ",\"count\":{n}")?;
                }
                if let RowState::Value { value, .. } = t.state {
                    write!(w, ",\"value\":{value}")?;
                }
                w.write_char('}')
            })();
        });
        res?;
        w.write_str("],\"advert_late\":")?;
        if let Some(s) = r.stats(id) {
            write_json_lateness(w, &s.advert_late)?;
        } else {
            w.write_str("null")?;
        }
        // The daemon's, the same in every element.
        write!(w, ",\"allocations\":{}}}", AllocJson(self.allocs.as_ref()))
    }
}

impl TrackerStates for StatusView<'_> {
    /// `eth1:down chk_http:up nginx:up(2) prio_file:5`; the own interface
    /// only when it is down.
    fn describe(&self, id: InstanceId, w: &mut dyn Write) -> fmt::Result {
        let mut first = true;
        let mut res = Ok(());
        self.for_each_tracker(id, &mut |t| {
            if res.is_err() || (t.primary && t.state == RowState::Up) {
                return;
            }
            res = (|| {
                if !first {
                    w.write_char(' ')?;
                }
                first = false;
                write!(w, "{}:", t.name)?;
                match (t.state, t.count) {
                    (
                        RowState::Value {
                            value,
                            fault: false,
                        },
                        _,
                    ) => write!(w, "{value}"),
                    (st, Some(n)) => write!(w, "{}({n})", st.word()),
                    (st, None) => w.write_str(st.word()),
                }
            })();
        });
        res
    }
}

/// The `keepvip status` table, with the TRACKERS column.
pub fn write_status_table<W: Write + ?Sized>(w: &mut W, v: &StatusView<'_>) -> fmt::Result {
    write_table(w, &v.input, Some(v))
}

/// The last lines of the `keepvip status` table (after the LVS part): a
/// blank line and `Heap allocations: ...` ([`write_allocs_line`]); nothing
/// when nothing is counted.
pub fn write_status_allocs<W: Write + ?Sized>(w: &mut W, v: &StatusView<'_>) -> fmt::Result {
    if v.allocs.is_some() {
        writeln!(w)?;
    }
    write_allocs_line(w, v.allocs.as_ref())
}

/// `keepvip status --json`: keepalived's JSON dump ([`crate::dump::write_json`])
/// with a `"keepvip"` member in every element (master address, tracker rows).
pub fn write_status_json<W: Write + ?Sized>(w: &mut W, v: &StatusView<'_>) -> fmt::Result {
    write_json_with(w, &v.input, Some(&|w: &mut W, id| v.write_extra(w, id)))
}

// ---- Server (in the daemon loop) ----------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    Get(Format),
    Bad,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Reading,
    Ready(Request),
    Writing,
}

struct Conn {
    stream: UnixStream,
    req: [u8; STATUS_REQ_MAX],
    req_len: usize,
    seq: u64,
    phase: Phase,
}

/// Parses one request line (without the newline).
fn parse_request(line: &[u8]) -> Request {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.trim_ascii() {
        b"table" | b"" => Request::Get(Format::Table),
        b"json" => Request::Get(Format::Json),
        _ => Request::Bad,
    }
}

/// The daemon side of `keepvip status`. See the module documentation.
pub struct StatusServer {
    listener: UnixListener,
    epoll: Epoll,
    conns: [Option<Conn>; STATUS_CONNS_MAX],
    next_seq: u64,
    resp: Box<[u8]>,
    resp_len: usize,
    resp_off: usize,
    /// The connection whose answer is in `resp`.
    writer: Option<usize>,
}

const LISTENER_TOKEN: u64 = u64::MAX;

impl StatusServer {
    /// Binds the socket (start-up; allocates the response buffer once).
    pub fn bind(path: &Path) -> io::Result<StatusServer> {
        let listener = UnixListener::bind(path)?;
        let epoll = Epoll::new()?;
        epoll.add(listener.as_fd(), LISTENER_TOKEN, EPOLL_IN)?;
        Ok(StatusServer {
            listener,
            epoll,
            conns: [const { None }; STATUS_CONNS_MAX],
            next_seq: 0,
            resp: vec![0u8; STATUS_RESP_BYTES].into_boxed_slice(),
            resp_len: 0,
            resp_off: 0,
            writer: None,
        })
    }

    /// The one fd to watch for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    /// Connections currently open (for tests and diagnostics).
    pub fn open_connections(&self) -> usize {
        self.conns.iter().filter(|c| c.is_some()).count()
    }

    /// Accepts, reads requests, renders and writes answers: everything that
    /// can be done now without blocking. `render` writes the body for a
    /// format (e.g. [`write_table`] or [`crate::dump::write_json`]).
    pub fn handle_readable(
        &mut self,
        mut render: impl FnMut(&mut dyn Write, Format) -> fmt::Result,
    ) {
        self.accept_all();
        for i in 0..STATUS_CONNS_MAX {
            self.read_conn(i);
        }
        // Serve ready connections one at a time through the shared buffer.
        loop {
            if self.writer.is_none() && !self.start_next(&mut render) {
                break;
            }
            if !self.write_some() {
                break;
            }
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(slot) = self.conns.get_mut(i)
            && let Some(c) = slot.take()
        {
            let _ = self.epoll.delete(c.stream.as_fd());
        }
        if self.writer == Some(i) {
            self.writer = None;
        }
    }

    fn accept_all(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) => {
                    warn!("status socket: accept failed: {}", IoErr(&e));
                    return;
                }
            };
            let slot = match self.conns.iter().position(|c| c.is_none()) {
                Some(i) => i,
                None => {
                    // Full: the oldest connection gives way (a client that
                    // never sends its request cannot block the others).
                    let oldest = self
                        .conns
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| c.as_ref().map(|c| (c.seq, i)))
                        .min()
                        .map(|(_, i)| i)
                        .unwrap_or(0);
                    self.close(oldest);
                    oldest
                }
            };
            if let Err(e) = self.epoll.add(stream.as_fd(), slot as u64, EPOLL_IN) {
                warn!("status socket: epoll add failed: {}", IoErr(&e));
                continue;
            }
            self.next_seq = self.next_seq.wrapping_add(1);
            if let Some(s) = self.conns.get_mut(slot) {
                *s = Some(Conn {
                    stream,
                    req: [0; STATUS_REQ_MAX],
                    req_len: 0,
                    seq: self.next_seq,
                    phase: Phase::Reading,
                });
            }
        }
    }

    fn read_conn(&mut self, i: usize) {
        let Some(Some(c)) = self.conns.get_mut(i) else {
            return;
        };
        let mut close = false;
        match c.phase {
            Phase::Reading => {
                let start = c.req_len;
                let r = match c.req.get_mut(start..) {
                    Some(buf) if !buf.is_empty() => c.stream.read(buf),
                    _ => Ok(0),
                };
                match r {
                    Ok(0) => close = true,
                    Ok(n) => {
                        c.req_len = c.req_len.saturating_add(n).min(STATUS_REQ_MAX);
                        let got = c.req.get(..c.req_len).unwrap_or(&[]);
                        if let Some(nl) = got.iter().position(|&b| b == b'\n') {
                            c.phase = Phase::Ready(parse_request(got.get(..nl).unwrap_or(&[])));
                        } else if c.req_len == STATUS_REQ_MAX {
                            c.phase = Phase::Ready(Request::Bad);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => close = true,
                }
            }
            Phase::Ready(_) => {
                // Waiting for the shared buffer: discard anything more the
                // client sends; end of stream means it has gone.
                let mut scratch = [0u8; 64];
                match c.stream.read(&mut scratch) {
                    Ok(0) => close = true,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => close = true,
                }
            }
            Phase::Writing => {}
        }
        if close {
            self.close(i);
        }
    }

    /// Renders the answer for the oldest ready connection. False if none.
    fn start_next(
        &mut self,
        render: &mut impl FnMut(&mut dyn Write, Format) -> fmt::Result,
    ) -> bool {
        let next = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Some(c) if matches!(c.phase, Phase::Ready(_)) => Some((c.seq, i)),
                _ => None,
            })
            .min()
            .map(|(_, i)| i);
        let Some(i) = next else {
            return false;
        };
        let Some(Some(c)) = self.conns.get_mut(i) else {
            return false;
        };
        let Phase::Ready(req) = c.phase else {
            return false;
        };
        let mut w = SliceBuf::new(&mut self.resp);
        let ok = match req {
            Request::Get(fmt) => {
                let _ = w.write_str("OK\n");
                render(&mut w, fmt).is_ok() && !w.is_truncated()
            }
            Request::Bad => {
                let _ = w.write_str("ERR unknown request (expected 'table' or 'json')\n");
                true
            }
        };
        let mut len = w.len();
        if !ok {
            let mut w = SliceBuf::new(&mut self.resp);
            let _ = writeln!(
                w,
                "ERR status too large for the {STATUS_RESP_BYTES}-byte buffer"
            );
            len = w.len();
        }
        c.phase = Phase::Writing;
        if let Err(e) = self.epoll.modify(c.stream.as_fd(), i as u64, EPOLL_OUT) {
            warn!("status socket: epoll modify failed: {}", IoErr(&e));
        }
        self.resp_len = len;
        self.resp_off = 0;
        self.writer = Some(i);
        true
    }

    /// Writes what the socket takes. True when the answer is complete (the
    /// connection is closed and the buffer is free again).
    fn write_some(&mut self) -> bool {
        let Some(i) = self.writer else {
            return false;
        };
        let Some(Some(c)) = self.conns.get(i) else {
            self.writer = None;
            return true;
        };
        loop {
            let rest = self.resp.get(self.resp_off..self.resp_len).unwrap_or(&[]);
            if rest.is_empty() {
                self.close(i);
                return true;
            }
            match c.stream.write(rest) {
                Ok(0) => {
                    self.close(i);
                    return true;
                }
                Ok(n) => self.resp_off = self.resp_off.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => {
                    self.close(i);
                    return true;
                }
            }
        }
    }
}

// ---- Client ---------------------------------------------------------------------------

/// Parsed `keepvip status` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusArgs {
    pub json: bool,
    pub socket_path: PathBuf,
    pub help: bool,
}

/// Usage text of `keepvip status`.
pub fn status_help_text() -> String {
    format!(
        "Usage: keepvip status [OPTION]...\n\
         Show the state of every VRRP instance of the running keepvip.\n\n\
         \x20 -j, --json               keepalived's JSON schema instead of a table\n\
         \x20 -p, --pid=FILE           pid file of the daemon (default {}); the socket\n\
         \x20                          is next to it (X.pid -> X.sock)\n\
         \x20 -s, --socket=PATH        status socket path (overrides -p)\n\
         \x20 -h, --help               this help\n\n\
         Exit status: 0 ok, 1 error, 2 usage, 3 daemon not running.\n",
        crate::cli::DEFAULT_PID_FILE
    )
}

/// Parses the arguments after `status`. `Err` carries the message for the
/// user (exit with [`STATUS_EXIT_USAGE`]).
pub fn parse_status_args<I, S>(args: I) -> Result<StatusArgs, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut json = false;
    let mut help = false;
    let mut pid: Option<String> = None;
    let mut socket: Option<String> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let a = a.as_ref();
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a, None),
        };
        let mut value = |opt: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .map(|v| v.as_ref().to_string())
                    .ok_or_else(|| format!("option '{opt}' requires an argument")),
            }
        };
        match name {
            "-j" | "--json" => json = true,
            "-h" | "--help" => help = true,
            "-p" | "--pid" => pid = Some(value(name)?),
            "-s" | "--socket" => socket = Some(value(name)?),
            _ if name.starts_with("-p") && name.len() > 2 => pid = Some(name[2..].to_string()),
            _ if name.starts_with("-s") && name.len() > 2 => socket = Some(name[2..].to_string()),
            _ => return Err(format!("status: unknown argument '{a}'")),
        }
    }
    let socket_path = match socket {
        Some(s) => PathBuf::from(s),
        None => {
            let given = pid.is_some();
            let pid = pid.as_deref().unwrap_or(crate::cli::DEFAULT_PID_FILE);
            let Some(path) = status_socket_path(pid) else {
                return Err(format!("status: pid file path too long: {pid}"));
            };
            // Without -p: the systemd unit's runtime directory when only it
            // has a socket (its ProtectSystem=strict leaves /run read-only).
            match status_socket_path(crate::cli::SYSTEMD_PID_FILE) {
                Some(alt)
                    if !given
                        && !crate::sys::path_exists(&path)
                        && crate::sys::path_exists(&alt) =>
                {
                    PathBuf::from(alt.as_str())
                }
                _ => PathBuf::from(path.as_str()),
            }
        }
    };
    Ok(StatusArgs {
        json,
        socket_path,
        help,
    })
}

/// Sends one request and returns the whole answer (client side; blocking
/// with [`STATUS_CLIENT_TIMEOUT`]).
pub fn query(socket_path: &Path, format: Format) -> io::Result<Vec<u8>> {
    let s = UnixStream::connect(socket_path, STATUS_CLIENT_TIMEOUT)?;
    s.write_all(match format {
        Format::Table => b"table\n",
        Format::Json => b"json\n",
    })?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(crate::sys::fixed_error(
                    io::ErrorKind::TimedOut,
                    "no answer from the daemon",
                ));
            }
            Err(e) => return Err(e),
        }
        if out.len() > STATUS_RESP_BYTES.saturating_mul(2) {
            return Err(crate::sys::fixed_error(
                io::ErrorKind::InvalidData,
                "answer too long",
            ));
        }
    }
    Ok(out)
}

/// Splits an answer into its body (`OK`) or error message (`ERR`).
pub fn split_answer(answer: &[u8]) -> Result<&[u8], String> {
    if let Some(body) = answer.strip_prefix(b"OK\n") {
        return Ok(body);
    }
    let text = core::str::from_utf8(answer).unwrap_or("(not UTF-8)");
    match text.strip_prefix("ERR ") {
        Some(msg) => Err(msg.trim_end().to_string()),
        None if answer.is_empty() => Err("empty answer (daemon busy or shutting down)".into()),
        None => Err(format!("malformed answer: {}", text.trim_end())),
    }
}

/// A path as text (lossless for the UTF-8 paths keepvip uses; `?` otherwise).
struct PathText<'a>(&'a Path);

impl fmt::Display for PathText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.to_str().unwrap_or("?"))
    }
}

/// An I/O error's message: the text of a custom error, else the errno text.
struct Why<'a>(&'a io::Error);

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get_ref() {
            Some(inner) => write!(f, "{inner}"),
            None => IoErr(self.0).fmt(f),
        }
    }
}

/// `keepvip status [--json]`: prints the daemon's table or JSON on stdout.
/// Returns the exit code.
pub fn run_status_client(socket_path: &Path, json: bool) -> i32 {
    use crate::sys::stdio::{stderr, stdout, write_bytes, write_fmt};
    let format = if json { Format::Json } else { Format::Table };
    let answer = match query(socket_path, format) {
        Ok(a) => a,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            let _ = write_fmt(
                stderr(),
                format_args!(
                    "keepvip status: no daemon answers at {} ({}); is keepvip running?\n",
                    PathText(socket_path),
                    Why(&e)
                ),
            );
            return STATUS_EXIT_NOT_RUNNING;
        }
        Err(e) => {
            let _ = write_fmt(
                stderr(),
                format_args!("keepvip status: {}: {}\n", PathText(socket_path), Why(&e)),
            );
            return STATUS_EXIT_ERROR;
        }
    };
    match split_answer(&answer) {
        Ok(body) => {
            if write_bytes(stdout(), body).is_err() {
                return STATUS_EXIT_ERROR;
            }
            STATUS_EXIT_OK
        }
        Err(msg) => {
            let _ = write_fmt(stderr(), format_args!("keepvip status: {msg}\n"));
            STATUS_EXIT_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_next_to_pid_file() {
        assert_eq!(
            status_socket_path("/var/run/keepvip.pid").unwrap().as_str(),
            "/var/run/keepvip.sock"
        );
        assert_eq!(
            status_socket_path("/run/kv").unwrap().as_str(),
            "/run/kv.sock"
        );
        assert!(status_socket_path(&"x".repeat(200)).is_none());
    }

    #[test]
    fn requests() {
        assert_eq!(parse_request(b"table"), Request::Get(Format::Table));
        assert_eq!(parse_request(b"json\r"), Request::Get(Format::Json));
        assert_eq!(parse_request(b" json "), Request::Get(Format::Json));
        assert_eq!(parse_request(b""), Request::Get(Format::Table));
        assert_eq!(parse_request(b"rm -rf"), Request::Bad);
    }

    #[test]
    fn ages() {
        let f = |s: u64| {
            let mut b: heapless::String<16> = heapless::String::new();
            write!(b, "{}", Age(Duration::from_secs(s))).unwrap();
            b
        };
        assert_eq!(f(5).as_str(), "5s");
        assert_eq!(f(187).as_str(), "3m07s");
        assert_eq!(f(7500).as_str(), "2h05m");
        assert_eq!(f(3 * 86_400 + 4 * 3600).as_str(), "3d04h");
    }

    #[test]
    fn args() {
        let a = parse_status_args(["--json"]).unwrap();
        assert!(a.json && !a.help);
        assert_eq!(a.socket_path, PathBuf::from("/var/run/keepvip.sock"));
        let a = parse_status_args(["-p", "/run/k.pid"]).unwrap();
        assert_eq!(a.socket_path, PathBuf::from("/run/k.sock"));
        let a = parse_status_args(["--pid=/run/k.pid", "-s/tmp/x.sock", "-j"]).unwrap();
        assert_eq!(a.socket_path, PathBuf::from("/tmp/x.sock"));
        assert!(a.json);
        assert!(parse_status_args(["-h"]).unwrap().help);
        assert!(parse_status_args(["--bogus"]).is_err());
        assert!(parse_status_args(["-s"]).is_err());
        assert!(status_help_text().contains("--json"));
    }

    #[test]
    fn answers() {
        assert_eq!(split_answer(b"OK\nbody").unwrap(), b"body");
        assert_eq!(split_answer(b"ERR nope\n").unwrap_err(), "nope");
        assert!(split_answer(b"").is_err());
        assert!(split_answer(b"junk").is_err());
    }
}
