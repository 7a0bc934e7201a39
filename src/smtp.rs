//! SMTP alerts (`notification_email`, `smtp_server`, `smtp_alert`): a tiny
//! sans-IO SMTP client that lives inside the daemon's poll loop.
//!
//! Bytes in, bytes out, time as an argument: this module never reads a
//! clock, never touches a socket and never allocates (heapless buffers; the
//! [`Smtp`] value is about 2 KiB with default limits). The shell
//! (`sys::tcp` + the poll loop) drives it:
//!
//! 1. [`Smtp::queue_alert`] (or [`Smtp::alert_instance`] /
//!    [`Smtp::alert_group`]) on a state transition: never blocks; when the
//!    bounded queue is full the alert is dropped, counted and logged.
//! 2. [`Smtp::want_connect`] returns the server address when a session should
//!    start: the shell opens a non-blocking TCP connection, then reports
//!    [`Smtp::handle_connected`] or [`Smtp::handle_error`].
//! 3. Received bytes go to [`Smtp::handle_rx`]; bytes to send come from
//!    [`Smtp::poll_tx`] and are acknowledged with [`Smtp::consume_tx`].
//! 4. [`Smtp::poll_timeout`] gives the next deadline and
//!    [`Smtp::handle_timeout`] enforces it (`smtp_connect_timeout` for the
//!    connection and for every reply, like keepalived).
//! 5. When [`Smtp::wants_socket`] turns false the shell closes the socket.
//!
//! `crate::sys::tcp::SmtpLink` is that shell: one `service()` call per loop
//! turn does steps 2-5.
//!
//! One mail per session, one session at a time: connect, `220` greeting,
//! `EHLO` (falling back to `HELO` when the server rejects `EHLO` with a 5xx),
//! `MAIL FROM`, one `RCPT TO` per recipient, `DATA`, the message (dot-stuffed,
//! CRLF line ends), `.`, `QUIT`. Every failure is a named [`SmtpError`],
//! logged once with the server address and counted; the alert is then
//! dropped (keepalived does not retry either).
//!
//! Subject and body are keepalived's: `[router_id] VRRP Instance VI_1 -
//! Entering MASTER state` / `=> VRRP Instance is now owning VRRP VIPs <=`.

use core::fmt::{self, Write as _};
use core::net::SocketAddr;

use heapless::{Deque, String, Vec};

use crate::config::model::{Email, GlobalDefs, InstanceConfig, Name, SyncGroup};
use crate::limits::MAX_NOTIFICATION_EMAILS;
use crate::time::{Duration, Instant};
use crate::vrrp::action::NotifyState;

/// Alerts waiting for their session. A burst of transitions larger than this
/// while the server is slow drops the newest alerts (counted and logged).
pub const ALERT_QUEUE_LEN: usize = 8;

/// Transmit buffer: the largest single write is the message (headers with up
/// to [`MAX_NOTIFICATION_EMAILS`] addresses in `To:`, plus the body).
pub const TX_CAP: usize = 768 + MAX_NOTIFICATION_EMAILS * 72;

/// Bytes of a reply line kept for the error log (the rest of a long line is
/// read and discarded: only the code matters).
const LINE_KEEP: usize = 96;

/// Host name length kept for `EHLO` and the default sender.
const HOST_LEN: usize = 64;

/// `X-Mailer:` header value.
const MAILER: &str = "keepvip";

/// Wall-clock time for the `Date:` header, from the shell (`CLOCK_REALTIME`
/// and the local UTC offset): the core never reads a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct WallTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_secs: i64,
    /// Local offset from UTC in seconds (east positive), e.g. 3600 for +0100.
    pub utc_offset_s: i32,
}

/// What an alert is about: keepalived's two VRRP subjects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertSource {
    /// `[router_id] VRRP Instance <name> - ...`
    Instance,
    /// `[router_id] VRRP Group <name> - ...` (vrrp_sync_group).
    Group,
}

/// The SMTP step a reply (or failure) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Connect,
    Greeting,
    Ehlo,
    Helo,
    MailFrom,
    RcptTo,
    Data,
    Message,
    Quit,
}

impl Step {
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Greeting => "greeting",
            Step::Ehlo => "EHLO",
            Step::Helo => "HELO",
            Step::MailFrom => "MAIL FROM",
            Step::RcptTo => "RCPT TO",
            Step::Data => "DATA",
            Step::Message => "message",
            Step::Quit => "QUIT",
        }
    }
}

/// An I/O failure seen by the shell, reported with [`Smtp::handle_error`].
/// Numbers are `errno` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoFailure {
    /// `connect` failed at once or `SO_ERROR` reported a failure.
    Connect(i32),
    /// `recv` failed.
    Read(i32),
    /// `send` failed.
    Write(i32),
    /// `recv` returned 0: the server closed the connection.
    Closed,
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IoFailure::Connect(e) => write!(f, "connect: errno {e}"),
            IoFailure::Read(e) => write!(f, "recv: errno {e}"),
            IoFailure::Write(e) => write!(f, "send: errno {e}"),
            IoFailure::Closed => f.write_str("closed by the server"),
        }
    }
}

/// Why an alert was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmtpError {
    /// No TCP connection within `smtp_connect_timeout`.
    ConnectTimeout,
    /// The TCP connection failed (`errno`).
    ConnectFailed(i32),
    /// No complete reply within `smtp_connect_timeout` after a command.
    ReplyTimeout(Step),
    /// The server closed the connection.
    Closed(Step),
    /// `recv`/`send` failed (`errno`).
    Io(Step, i32),
    /// The server answered a step with an unexpected reply code.
    Rejected { step: Step, code: u16 },
    /// A reply line that does not start with a three-digit code.
    MalformedReply(Step),
    /// The next command did not fit the transmit buffer (the shell is not
    /// sending what [`Smtp::poll_tx`] offers).
    TxOverflow(Step),
    /// Every `RCPT TO` was refused (the last code is kept).
    NoRecipient(u16),
}

impl SmtpError {
    /// A short stable name, for counters and status output.
    pub const fn name(&self) -> &'static str {
        match self {
            SmtpError::ConnectTimeout => "connect_timeout",
            SmtpError::ConnectFailed(_) => "connect_failed",
            SmtpError::ReplyTimeout(_) => "reply_timeout",
            SmtpError::Closed(_) => "closed",
            SmtpError::Io(..) => "io_error",
            SmtpError::Rejected { .. } => "rejected",
            SmtpError::MalformedReply(_) => "malformed_reply",
            SmtpError::TxOverflow(_) => "tx_overflow",
            SmtpError::NoRecipient(_) => "no_recipient",
        }
    }
}

/// The kind of an `errno` value (`connection refused`, ...), for logs:
/// `io::ErrorKind`'s text needs no `strerror` and allocates nothing.
fn errno_name(e: i32) -> std::io::ErrorKind {
    std::io::Error::from_raw_os_error(e).kind()
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SmtpError::ConnectTimeout => f.write_str("timeout connecting"),
            SmtpError::ConnectFailed(e) => {
                write!(f, "connection failed: {} (errno {e})", errno_name(e))
            }
            SmtpError::ReplyTimeout(s) => write!(f, "timeout waiting for the {} reply", s.as_str()),
            SmtpError::Closed(s) => write!(f, "server closed the connection at {}", s.as_str()),
            SmtpError::Io(s, e) => {
                write!(
                    f,
                    "I/O error at {}: {} (errno {e})",
                    s.as_str(),
                    errno_name(e)
                )
            }
            SmtpError::Rejected { step, code } => {
                write!(f, "{} refused, SMTP status code = {code}", step.as_str())
            }
            SmtpError::MalformedReply(s) => write!(f, "malformed reply at {}", s.as_str()),
            SmtpError::TxOverflow(s) => write!(f, "transmit buffer full at {}", s.as_str()),
            SmtpError::NoRecipient(code) => {
                write!(f, "every recipient refused, last SMTP status code = {code}")
            }
        }
    }
}

/// Counters, for `keepvip status` and the stats dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SmtpStats {
    /// Alerts accepted into the queue.
    pub queued: u32,
    /// Alerts the server accepted (`250` after the message).
    pub sent: u32,
    /// Alerts lost to a failed session.
    pub failed: u32,
    /// Alerts dropped because the queue was full.
    pub dropped_queue_full: u32,
    /// Alerts ignored because SMTP is not configured (no `smtp_server` or no
    /// `notification_email`).
    pub dropped_disabled: u32,
    /// Sessions started (TCP connections asked for).
    pub sessions: u32,
    /// Recipients refused by the server (`RCPT TO` not 250/251).
    pub rcpt_refused: u32,
}

#[derive(Clone, Debug)]
struct Alert {
    source: AlertSource,
    name: Name,
    state: NotifyState,
    wall: WallTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No session; the shell holds no socket.
    Idle,
    /// TCP connect in progress.
    Connecting,
    /// A command (or the greeting) was queued: waiting for its reply.
    Wait(Step),
}

/// Incremental reply-line parser: `DDD-text` continues a multi-line reply,
/// `DDD text` or `DDD` ends it.
#[derive(Clone, Debug, Default)]
struct ReplyParser {
    line: Vec<u8, LINE_KEEP>,
    /// Bytes of the current line seen (including those not kept).
    seen: usize,
}

enum Line {
    /// A continuation line (`250-...`).
    More,
    /// The last line of a reply, with its code.
    Done(u16),
    /// Not `DDD[ -]...`.
    Malformed,
}

impl ReplyParser {
    /// Feeds one byte; returns a parsed line at each `\n`.
    fn push(&mut self, b: u8) -> Option<Line> {
        if b == b'\n' {
            let line = self.finish();
            self.line.clear();
            self.seen = 0;
            return Some(line);
        }
        self.seen = self.seen.saturating_add(1);
        // Overlong lines: keep the head (code and start of the text).
        let _ = self.line.push(b);
        None
    }

    fn finish(&self) -> Line {
        let l = self.text_bytes();
        let digits = match l.get(..3) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => d,
            _ => return Line::Malformed,
        };
        let code = digits
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        match l.get(3) {
            Some(b'-') => Line::More,
            None | Some(b' ') => Line::Done(code),
            // RFC 5321 allows only SP or '-'; be lenient about anything else
            // (e.g. a tab) as long as the code is there.
            Some(_) => Line::Done(code),
        }
    }

    /// The line without its trailing `\r`.
    fn text_bytes(&self) -> &[u8] {
        match self.line.split_last() {
            Some((b'\r', rest)) => rest,
            _ => &self.line,
        }
    }

    fn reset(&mut self) {
        self.line.clear();
        self.seen = 0;
    }
}

/// Transmit buffer full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxFull;

/// `fmt::Write` into a heapless byte vector, remembering overflow.
struct VecWriter<'a, const N: usize> {
    out: &'a mut Vec<u8, N>,
    full: bool,
}

impl<const N: usize> fmt::Write for VecWriter<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.out.extend_from_slice(s.as_bytes()).is_err() {
            self.full = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// DATA encoder: turns `\n` (or `\r\n`) line ends into CRLF and dot-stuffs
/// every line that starts with `.` (RFC 5321 §4.5.2).
struct DataWriter<'a, const N: usize> {
    out: &'a mut Vec<u8, N>,
    at_line_start: bool,
    full: bool,
}

impl<'a, const N: usize> DataWriter<'a, N> {
    fn new(out: &'a mut Vec<u8, N>) -> Self {
        DataWriter {
            out,
            at_line_start: true,
            full: false,
        }
    }

    fn put(&mut self, b: &[u8]) -> fmt::Result {
        if self.out.extend_from_slice(b).is_err() {
            self.full = true;
            return Err(fmt::Error);
        }
        Ok(())
    }

    /// Ends the data: a final CRLF if the text did not end with one, then
    /// the `.` line.
    fn finish(mut self) -> Result<(), TxFull> {
        let r = if self.at_line_start {
            self.put(b".\r\n")
        } else {
            self.put(b"\r\n.\r\n")
        };
        if r.is_err() || self.full {
            Err(TxFull)
        } else {
            Ok(())
        }
    }
}

impl<const N: usize> fmt::Write for DataWriter<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            match b {
                b'\r' => {} // line ends are rebuilt from '\n'
                b'\n' => {
                    self.put(b"\r\n")?;
                    self.at_line_start = true;
                }
                _ => {
                    if self.at_line_start && b == b'.' {
                        self.put(b".")?;
                    }
                    self.put(&[b])?;
                    self.at_line_start = false;
                }
            }
        }
        Ok(())
    }
}

/// Encodes `text` as SMTP DATA content into `out`: CRLF line ends,
/// dot-stuffing, and the terminating `.` line.
pub fn encode_data<const N: usize>(text: &str, out: &mut Vec<u8, N>) -> Result<(), TxFull> {
    let mut w = DataWriter::new(out);
    if w.write_str(text).is_err() {
        return Err(TxFull);
    }
    w.finish()
}

/// Displays a string for a header or command with every control or
/// non-ASCII character replaced by `?` (no header injection through a name).
struct Clean<'a>(&'a str);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            let c = if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            };
            f.write_char(c)?;
        }
        Ok(())
    }
}

/// An address usable in `MAIL FROM:<..>` / `RCPT TO:<..>`: printable ASCII,
/// no spaces, no angle brackets, one `@` not at either end.
pub fn valid_address(a: &str) -> bool {
    let b = a.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_graphic() && *c != b'<' && *c != b'>')
        && b.iter().filter(|c| **c == b'@').count() == 1
        && b.first() != Some(&b'@')
        && b.last() != Some(&b'@')
}

/// A host name usable after `EHLO`: letters, digits, `-`, `.`.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= HOST_LEN
        && h.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

fn copy_str<const N: usize>(s: &str) -> String<N> {
    let mut out = String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// RFC 5322 date (`Tue, 04 Mar 2025 13:05:09 +0100`), keepalived's
/// `strftime("%a, %d %b %Y %H:%M:%S %z")`.
pub struct Rfc5322Date(pub WallTime);

impl fmt::Display for Rfc5322Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        // Clamp to years 0001..9999 so the arithmetic below cannot overflow.
        let off = i64::from(self.0.utc_offset_s.clamp(-86_399, 86_399));
        let local = self
            .0
            .unix_secs
            .clamp(-62_135_596_800 + 86_400, 253_402_300_799 - 86_400)
            + off;
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        // 1970-01-01 was a Thursday.
        let wd = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
        let mon = usize::try_from(m - 1).unwrap_or(0);
        let sign = if off < 0 { '-' } else { '+' };
        let aoff = off.unsigned_abs();
        write!(
            f,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            DAYS.get(wd).copied().unwrap_or("Sun"),
            d,
            MONTHS.get(mon).copied().unwrap_or("Jan"),
            y,
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            sign,
            aoff / 3600,
            (aoff / 60) % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (the well-known era/day-of-era decomposition).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// keepalived's subject text after `VRRP Instance <name> - `.
pub const fn subject_text(state: NotifyState) -> &'static str {
    match state {
        NotifyState::Master => "Entering MASTER state",
        NotifyState::Backup => "Entering BACKUP state",
        NotifyState::Fault => "Entering FAULT state",
        NotifyState::Stop => "Stopping",
    }
}

/// keepalived's one-line body.
pub const fn body_text(source: AlertSource, state: NotifyState) -> &'static str {
    match (source, state) {
        (AlertSource::Instance, NotifyState::Master) => {
            "=> VRRP Instance is now owning VRRP VIPs <="
        }
        (AlertSource::Instance, NotifyState::Backup | NotifyState::Fault) => {
            "=> VRRP Instance is no longer owning VRRP VIPs <="
        }
        (AlertSource::Instance, NotifyState::Stop) => "=> VRRP Instance stopping <=",
        (AlertSource::Group, NotifyState::Master) => {
            "=> All VRRP group instances are now in MASTER state <="
        }
        (AlertSource::Group, NotifyState::Backup) => {
            "=> All VRRP group instances are now in BACKUP state <="
        }
        (AlertSource::Group, NotifyState::Fault) => {
            "=> All VRRP group instances are now in FAULT state <="
        }
        (AlertSource::Group, NotifyState::Stop) => "=> VRRP Group stopping <=",
    }
}

/// The SMTP alert client. Build once at start-up with [`Smtp::new`].
pub struct Smtp {
    server: Option<SocketAddr>,
    rcpts: Vec<Email, MAX_NOTIFICATION_EMAILS>,
    from: String<{ HOST_LEN + 72 }>,
    helo: String<HOST_LEN>,
    /// `[router_id]` prefix of the subject (router_id, else the host name).
    router_id: Name,
    timeout: Duration,

    queue: Deque<Alert, ALERT_QUEUE_LEN>,
    current: Option<Alert>,
    phase: Phase,
    deadline: Option<Instant>,
    /// Next recipient to send `RCPT TO` for.
    rcpt_next: usize,
    rcpt_ok: usize,
    rcpt_last_code: u16,
    rx: ReplyParser,
    tx: Vec<u8, TX_CAP>,
    tx_pos: usize,

    stats: SmtpStats,
    last_error: Option<SmtpError>,
}

impl Smtp {
    /// Takes the global SMTP settings. `local_name` is the host name (from
    /// `uname`/`/proc/sys/kernel/hostname`, read by the shell), used as
    /// keepalived does: for `EHLO`, as the default `router_id` and in the
    /// default sender `root@<local_name>`.
    pub fn new(g: &GlobalDefs, local_name: &str) -> Smtp {
        let helo: String<HOST_LEN> = if valid_host(local_name) {
            copy_str(local_name)
        } else {
            match &g.router_id {
                Some(r) if valid_host(r) => copy_str(r),
                _ => copy_str("localhost"),
            }
        };
        let router_id: Name = match &g.router_id {
            Some(r) => r.clone(),
            None if !local_name.is_empty() => copy_str(local_name),
            None => copy_str("[unknown]"),
        };
        let mut from: String<{ HOST_LEN + 72 }> = String::new();
        match &g.notification_email_from {
            Some(f) if valid_address(f) => {
                let _ = from.push_str(f);
            }
            other => {
                if let Some(f) = other {
                    warn!(
                        "notification_email_from '{}' is not a usable address; using root@{}",
                        Clean(f),
                        helo
                    );
                }
                let _ = write!(from, "root@{helo}");
            }
        }
        let mut rcpts = Vec::new();
        for r in &g.notification_email {
            if valid_address(r) {
                let _ = rcpts.push(r.clone());
            } else {
                warn!(
                    "notification_email '{}' is not a usable address; ignored",
                    Clean(r)
                );
            }
        }
        let server = g.smtp_server.map(|(ip, port)| SocketAddr::new(ip, port));
        Smtp {
            server,
            rcpts,
            from,
            helo,
            router_id,
            timeout: Duration::from_secs(u64::from(g.smtp_connect_timeout_s.max(1))),
            queue: Deque::new(),
            current: None,
            phase: Phase::Idle,
            deadline: None,
            rcpt_next: 0,
            rcpt_ok: 0,
            rcpt_last_code: 0,
            rx: ReplyParser::default(),
            tx: Vec::new(),
            tx_pos: 0,
            stats: SmtpStats::default(),
            last_error: None,
        }
    }

    /// True when alerts can be sent: an `smtp_server` and at least one
    /// usable `notification_email` (keepalived's condition).
    pub fn enabled(&self) -> bool {
        self.server.is_some() && !self.rcpts.is_empty()
    }

    /// The configured server.
    pub fn server(&self) -> Option<SocketAddr> {
        self.server
    }

    pub fn stats(&self) -> &SmtpStats {
        &self.stats
    }

    /// The last failure (also logged when it happened).
    pub fn last_error(&self) -> Option<SmtpError> {
        self.last_error
    }

    /// Alerts waiting (not counting the one in the current session).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// True while nothing is queued or in progress.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle && self.queue.is_empty()
    }

    /// Queues an alert. Never blocks; returns false when it was dropped
    /// (SMTP not configured, or the queue is full: counted and logged).
    /// `wall` is the time of the transition, for the `Date:` header.
    pub fn queue_alert(
        &mut self,
        wall: WallTime,
        source: AlertSource,
        name: &str,
        state: NotifyState,
    ) -> bool {
        if !self.enabled() {
            self.stats.dropped_disabled = self.stats.dropped_disabled.saturating_add(1);
            debug!(
                "SMTP alert for {} not sent: smtp_server or notification_email not set",
                Clean(name)
            );
            return false;
        }
        let alert = Alert {
            source,
            name: copy_str(name),
            state,
            wall,
        };
        if self.queue.push_back(alert).is_err() {
            self.stats.dropped_queue_full = self.stats.dropped_queue_full.saturating_add(1);
            warn!(
                "SMTP alert queue full ({ALERT_QUEUE_LEN}): alert '{}' for {} dropped",
                subject_text(state),
                Clean(name)
            );
            return false;
        }
        self.stats.queued = self.stats.queued.saturating_add(1);
        true
    }

    /// Queues an instance alert if the instance has `smtp_alert` (resolved
    /// against the global one).
    pub fn alert_instance(
        &mut self,
        wall: WallTime,
        inst: &InstanceConfig,
        state: NotifyState,
    ) -> bool {
        inst.smtp_alert && self.queue_alert(wall, AlertSource::Instance, &inst.name, state)
    }

    /// Queues a sync-group alert if the group has `smtp_alert`.
    pub fn alert_group(&mut self, wall: WallTime, group: &SyncGroup, state: NotifyState) -> bool {
        group.smtp_alert && self.queue_alert(wall, AlertSource::Group, &group.name, state)
    }

    /// When a session should start, returns the server address and moves to
    /// "connecting" (the connect timer starts at `now`). The shell must then
    /// start a non-blocking connect and report [`handle_connected`] or
    /// [`handle_error`]; if it cannot even create the socket it reports
    /// `handle_error(now, IoFailure::Connect(errno))`.
    ///
    /// [`handle_connected`]: Smtp::handle_connected
    /// [`handle_error`]: Smtp::handle_error
    pub fn want_connect(&mut self, now: Instant) -> Option<SocketAddr> {
        if self.phase != Phase::Idle {
            return None;
        }
        let server = self.server?;
        let alert = self.queue.pop_front()?;
        self.current = Some(alert);
        self.phase = Phase::Connecting;
        self.deadline = Some(now + self.timeout);
        self.rcpt_next = 0;
        self.rcpt_ok = 0;
        self.rcpt_last_code = 0;
        self.rx.reset();
        self.tx.clear();
        self.tx_pos = 0;
        self.stats.sessions = self.stats.sessions.saturating_add(1);
        debug!("SMTP: connecting to {server}");
        Some(server)
    }

    /// True while a session is in progress: the shell keeps its socket open
    /// and polls it. When this turns false, the shell closes the socket.
    pub fn wants_socket(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// True while the TCP connect is in progress.
    pub fn is_connecting(&self) -> bool {
        self.phase == Phase::Connecting
    }

    /// The next deadline (connect or reply timeout), if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.phase == Phase::Idle {
            return None;
        }
        self.deadline
    }

    /// How long the loop may sleep for this module: zero when a session
    /// should start now ([`want_connect`](Smtp::want_connect) has an
    /// address), the time to the next deadline during a session, `None` when
    /// idle.
    pub fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if self.phase == Phase::Idle {
            return if self.server.is_some() && !self.queue.is_empty() {
                Some(Duration::ZERO)
            } else {
                None
            };
        }
        self.deadline.map(|d| d.saturating_duration_since(now))
    }

    /// The TCP connection is established.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.phase != Phase::Connecting {
            return;
        }
        if let Some(s) = self.server {
            info!("Remote SMTP server {s} connected.");
        }
        self.expect(now, Step::Greeting);
    }

    /// An I/O failure from the shell.
    pub fn handle_error(&mut self, now: Instant, failure: IoFailure) {
        let step = match self.phase {
            Phase::Idle => return,
            Phase::Connecting => Step::Connect,
            Phase::Wait(s) => s,
        };
        if step == Step::Quit {
            // The mail is done (or already failed and logged): nothing to add.
            debug!("SMTP: connection ended during QUIT ({failure})");
            self.end_session();
            return;
        }
        let err = match (step, failure) {
            (Step::Connect, IoFailure::Connect(e) | IoFailure::Read(e) | IoFailure::Write(e)) => {
                SmtpError::ConnectFailed(e)
            }
            (Step::Connect, IoFailure::Closed) => SmtpError::ConnectFailed(0),
            (_, IoFailure::Closed) => SmtpError::Closed(step),
            (_, IoFailure::Connect(e) | IoFailure::Read(e) | IoFailure::Write(e)) => {
                SmtpError::Io(step, e)
            }
        };
        self.fail(now, err, false);
    }

    /// Enforces the deadline: call when [`poll_timeout`](Smtp::poll_timeout)
    /// has passed (calling early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(d) = self.next_deadline() else {
            return;
        };
        if now < d {
            return;
        }
        match self.phase {
            Phase::Idle => {}
            Phase::Connecting => self.fail(now, SmtpError::ConnectTimeout, false),
            Phase::Wait(Step::Quit) => {
                debug!("SMTP: no reply to QUIT; closing");
                self.end_session();
            }
            Phase::Wait(s) => self.fail(now, SmtpError::ReplyTimeout(s), false),
        }
    }

    /// Bytes received from the server.
    pub fn handle_rx(&mut self, now: Instant, data: &[u8]) {
        for &b in data {
            let Phase::Wait(step) = self.phase else {
                // Not expecting anything (idle, or data before connect
                // completion was reported): ignore.
                return;
            };
            match self.rx.push(b) {
                None | Some(Line::More) => {}
                Some(Line::Malformed) => {
                    if step == Step::Quit {
                        self.end_session();
                    } else {
                        self.fail(now, SmtpError::MalformedReply(step), false);
                    }
                    return;
                }
                Some(Line::Done(code)) => self.on_reply(now, step, code),
            }
        }
    }

    /// Bytes waiting to be sent (empty when nothing is pending).
    pub fn poll_tx(&self) -> &[u8] {
        self.tx.get(self.tx_pos..).unwrap_or(&[])
    }

    /// `n` bytes of [`poll_tx`](Smtp::poll_tx) were written.
    pub fn consume_tx(&mut self, n: usize) {
        self.tx_pos = self.tx_pos.saturating_add(n).min(self.tx.len());
        if self.tx_pos == self.tx.len() {
            self.tx.clear();
            self.tx_pos = 0;
        }
    }

    // ---- internals ----

    fn server_display(&self) -> ServerDisplay {
        ServerDisplay(self.server)
    }

    fn expect(&mut self, now: Instant, step: Step) {
        self.phase = Phase::Wait(step);
        self.deadline = Some(now + self.timeout);
    }

    fn end_session(&mut self) {
        self.phase = Phase::Idle;
        self.deadline = None;
        self.current = None;
        self.rx.reset();
        self.tx.clear();
        self.tx_pos = 0;
    }

    /// Logs `err` once, counts it, then either says goodbye (`QUIT`, when the
    /// connection is healthy) or ends the session at once.
    fn fail(&mut self, now: Instant, err: SmtpError, polite: bool) {
        self.stats.failed = self.stats.failed.saturating_add(1);
        self.last_error = Some(err);
        match &self.current {
            Some(a) => warn!(
                "SMTP alert '{}' for {} not sent: {err} (server {})",
                subject_text(a.state),
                Clean(&a.name),
                self.server_display()
            ),
            None => warn!(
                "SMTP alert not sent: {err} (server {})",
                self.server_display()
            ),
        }
        if polite && self.command(now, Step::Quit, format_args!("QUIT")).is_ok() {
            return;
        }
        self.end_session();
    }

    /// Queues one command line (CRLF added) and waits for its reply.
    fn command(
        &mut self,
        now: Instant,
        step: Step,
        args: fmt::Arguments<'_>,
    ) -> Result<(), TxFull> {
        self.compact_tx();
        let mark = self.tx.len();
        let mut w = VecWriter {
            out: &mut self.tx,
            full: false,
        };
        let ok = w.write_fmt(args).is_ok() && w.write_str("\r\n").is_ok() && !w.full;
        if !ok {
            self.tx.truncate(mark);
            return Err(TxFull);
        }
        self.expect(now, step);
        Ok(())
    }

    fn compact_tx(&mut self) {
        if self.tx_pos > 0 {
            let len = self.tx.len();
            self.tx.copy_within(self.tx_pos..len, 0);
            self.tx.truncate(len - self.tx_pos);
            self.tx_pos = 0;
        }
    }

    /// Sends a command or fails the session with `TxOverflow`.
    fn send(&mut self, now: Instant, step: Step, args: fmt::Arguments<'_>) {
        if self.command(now, step, args).is_err() {
            self.fail(now, SmtpError::TxOverflow(step), false);
        }
    }

    fn send_rcpt_or_data(&mut self, now: Instant) {
        if let Some(r) = self.rcpts.get(self.rcpt_next) {
            let r = r.clone();
            self.rcpt_next += 1;
            self.send(now, Step::RcptTo, format_args!("RCPT TO:<{r}>"));
        } else if self.rcpt_ok == 0 {
            let code = self.rcpt_last_code;
            self.fail(now, SmtpError::NoRecipient(code), true);
        } else {
            self.send(now, Step::Data, format_args!("DATA"));
        }
    }

    fn on_reply(&mut self, now: Instant, step: Step, code: u16) {
        let refused = |s: &mut Smtp| s.fail(now, SmtpError::Rejected { step, code }, true);
        match step {
            Step::Connect => {}
            Step::Greeting => {
                if code == 220 {
                    let h = self.helo.clone();
                    self.send(now, Step::Ehlo, format_args!("EHLO {h}"));
                } else {
                    refused(self);
                }
            }
            Step::Ehlo => {
                if code == 250 {
                    self.send_mail_from(now);
                } else if (500..600).contains(&code) {
                    // An old server without ESMTP: RFC 5321 §3.2 fallback.
                    let h = self.helo.clone();
                    self.send(now, Step::Helo, format_args!("HELO {h}"));
                } else {
                    refused(self);
                }
            }
            Step::Helo => {
                if code == 250 {
                    self.send_mail_from(now);
                } else {
                    refused(self);
                }
            }
            Step::MailFrom => {
                if code == 250 {
                    self.send_rcpt_or_data(now);
                } else {
                    refused(self);
                }
            }
            Step::RcptTo => {
                if code == 250 || code == 251 {
                    self.rcpt_ok += 1;
                } else {
                    self.stats.rcpt_refused = self.stats.rcpt_refused.saturating_add(1);
                    self.rcpt_last_code = code;
                    let who = self
                        .rcpts
                        .get(self.rcpt_next.wrapping_sub(1))
                        .map(|r| r.as_str())
                        .unwrap_or("?");
                    warn!(
                        "SMTP server {} refused recipient <{}>, SMTP status code = {code}",
                        self.server_display(),
                        Clean(who)
                    );
                }
                self.send_rcpt_or_data(now);
            }
            Step::Data => {
                if code == 354 {
                    self.send_message(now);
                } else {
                    refused(self);
                }
            }
            Step::Message => {
                if code == 250 {
                    self.stats.sent = self.stats.sent.saturating_add(1);
                    info!("SMTP alert successfully sent.");
                    self.send(now, Step::Quit, format_args!("QUIT"));
                } else {
                    refused(self);
                }
            }
            Step::Quit => {
                debug!("SMTP: QUIT answered with {code}; closing");
                self.end_session();
            }
        }
    }

    fn send_mail_from(&mut self, now: Instant) {
        let f = self.from.clone();
        self.send(now, Step::MailFrom, format_args!("MAIL FROM:<{f}>"));
    }

    fn send_message(&mut self, now: Instant) {
        let Some(alert) = self.current.clone() else {
            self.end_session();
            return;
        };
        self.compact_tx();
        let mark = self.tx.len();
        let ok = write_message(
            &mut self.tx,
            &alert,
            &self.router_id,
            &self.from,
            &self.rcpts,
        )
        .is_ok();
        if !ok {
            self.tx.truncate(mark);
            self.fail(now, SmtpError::TxOverflow(Step::Message), false);
            return;
        }
        self.expect(now, Step::Message);
    }
}

/// The message: headers, blank line, body, `.` — dot-stuffed, CRLF.
fn write_message<const N: usize>(
    out: &mut Vec<u8, N>,
    alert: &Alert,
    router_id: &str,
    from: &str,
    rcpts: &[Email],
) -> Result<(), TxFull> {
    let mut w = DataWriter::new(out);
    let kind = match alert.source {
        AlertSource::Instance => "Instance",
        AlertSource::Group => "Group",
    };
    let r = (|| -> fmt::Result {
        writeln!(w, "Date: {}", Rfc5322Date(alert.wall))?;
        writeln!(w, "From: {}", Clean(from))?;
        writeln!(
            w,
            "Subject: [{}] VRRP {kind} {} - {}",
            Clean(router_id),
            Clean(&alert.name),
            subject_text(alert.state)
        )?;
        writeln!(w, "X-Mailer: {MAILER}")?;
        // To: folded at 78 columns (RFC 5322 §2.1.1).
        w.write_str("To:")?;
        let mut col = 3usize;
        for (i, r) in rcpts.iter().enumerate() {
            if i > 0 {
                w.write_str(",")?;
                col += 1;
            }
            if i > 0 && col + 1 + r.len() > 78 {
                w.write_str("\n")?;
                col = 0;
            }
            write!(w, " {}", Clean(r))?;
            col += 1 + r.len();
        }
        w.write_str("\n\n")?;
        writeln!(w, "{}", body_text(alert.source, alert.state))
    })();
    if r.is_err() {
        return Err(TxFull);
    }
    w.finish()
}

/// `[addr]:port` for logs, or `(none)`.
struct ServerDisplay(Option<SocketAddr>);

impl fmt::Display for ServerDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "{s}"),
            None => f.write_str("(none)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(unix_secs: i64, utc_offset_s: i32) -> std::string::String {
        format!(
            "{}",
            Rfc5322Date(WallTime {
                unix_secs,
                utc_offset_s
            })
        )
    }

    #[test]
    fn rfc5322_dates() {
        assert_eq!(date(0, 0), "Thu, 01 Jan 1970 00:00:00 +0000");
        // 2025-03-04T12:05:09Z, a Tuesday; shown in +01:00 and -05:30.
        assert_eq!(date(1_741_089_909, 3600), "Tue, 04 Mar 2025 13:05:09 +0100");
        assert_eq!(
            date(1_741_089_909, -19_800),
            "Tue, 04 Mar 2025 06:35:09 -0530"
        );
        // Leap day and the day after, across a local midnight.
        assert_eq!(date(1_709_164_800, 0), "Thu, 29 Feb 2024 00:00:00 +0000");
        assert_eq!(date(1_709_251_199, 0), "Thu, 29 Feb 2024 23:59:59 +0000");
        assert_eq!(date(1_709_251_199, 1), "Fri, 01 Mar 2024 00:00:00 +0000");
        // 2000-01-01 (Saturday, century leap year) and before the epoch.
        assert_eq!(date(946_684_800, 0), "Sat, 01 Jan 2000 00:00:00 +0000");
        assert_eq!(date(-1, 0), "Wed, 31 Dec 1969 23:59:59 +0000");
        // Extremes are clamped, never a panic.
        assert!(date(i64::MAX, i32::MAX).contains("9999"));
        assert!(date(i64::MIN, i32::MIN).contains("0001"));
    }

    #[test]
    fn civil_matches_a_day_by_day_walk() {
        // Walk 1970..2101 day by day with a naive calendar.
        let (mut y, mut m, mut d) = (1970i64, 1i64, 1i64);
        let mdays = |y: i64, m: i64| match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        for days in 0..48_000i64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            d += 1;
            if d > mdays(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn reply_parser_lines() {
        let mut p = ReplyParser::default();
        let mut out = std::vec::Vec::new();
        for &b in b"250-a.example\r\n250-PIPELINING\r\n250 OK\r\n220\n5x1 bad\r\n354\tgo\r\n" {
            if let Some(l) = p.push(b) {
                out.push(match l {
                    Line::More => -1,
                    Line::Done(c) => i32::from(c),
                    Line::Malformed => -2,
                });
            }
        }
        assert_eq!(out, [-1, -1, 250, 220, -2, 354]);
        // A 10 KB line: the head is kept, the code still parsed.
        for _ in 0..10_000 {
            assert!(p.push(b'x').is_none());
        }
        assert!(matches!(p.push(b'\n'), Some(Line::Malformed)));
        for &b in b"421 " {
            p.push(b);
        }
        for _ in 0..10_000 {
            p.push(b'y');
        }
        assert!(matches!(p.push(b'\n'), Some(Line::Done(421))));
    }

    #[test]
    fn data_encoding_crlf_and_dot_stuffing() {
        let mut v: Vec<u8, 256> = Vec::new();
        encode_data(".hidden\nline\r\n..two\n.\nend", &mut v).unwrap();
        assert_eq!(
            &v[..],
            b"..hidden\r\nline\r\n...two\r\n..\r\nend\r\n.\r\n".as_slice()
        );
        v.clear();
        encode_data("ends with newline\n", &mut v).unwrap();
        assert_eq!(&v[..], b"ends with newline\r\n.\r\n".as_slice());
        v.clear();
        encode_data("", &mut v).unwrap();
        assert_eq!(&v[..], b".\r\n".as_slice());
        let mut small: Vec<u8, 8> = Vec::new();
        assert_eq!(encode_data("0123456789", &mut small), Err(TxFull));
    }

    #[test]
    fn addresses_and_clean() {
        assert!(valid_address("ops@example.org"));
        for bad in [
            "",
            "ops",
            "@x",
            "x@",
            "a@b@c",
            "a b@c",
            "a<b@c",
            "a@c>",
            "a@c\r\nRCPT",
        ] {
            assert!(!valid_address(bad), "{bad:?}");
        }
        assert_eq!(
            format!("{}", Clean("VI_1\r\nBcc: x\u{e9}")),
            "VI_1??Bcc: x?"
        );
        assert!(valid_host("r1.example.org") && !valid_host("a b") && !valid_host(""));
    }

    #[test]
    fn keepalived_texts() {
        assert_eq!(subject_text(NotifyState::Master), "Entering MASTER state");
        assert_eq!(
            body_text(AlertSource::Instance, NotifyState::Backup),
            "=> VRRP Instance is no longer owning VRRP VIPs <="
        );
        assert_eq!(
            body_text(AlertSource::Group, NotifyState::Fault),
            "=> All VRRP group instances are now in FAULT state <="
        );
    }
}
