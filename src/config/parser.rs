//! keepalived.conf parser: tokens in, the typed [`Config`] filled in place,
//! every problem reported as a [`Diagnostics`] entry with its place.
//!
//! The parser is a push state machine over lines: a stack of open blocks
//! (`{ ... }`) says which keyword table applies. Because the state lives in
//! the parser and not in the call stack, `include` works anywhere (even in
//! the middle of a block, as in keepalived). After the last file, [`super::
//! validate`] resolves references and applies keepalived's corrections.
//!
//! No heap: the caller owns the (boxed) `Config`, the parser's own state is a
//! few bounded arrays on the stack.
//!
//! Compatibility choices:
//! * unknown keywords are warnings (ignored, like keepalived);
//! * blocks of keepalived features keepvip does not implement
//!   (`virtual_server_group`, `static_ipaddress`, ...) are warnings, skipped;
//! * any other unknown block is an error (most likely a typo such as
//!   `vrrp_instanse`), skipped so that parsing goes on.

use core::fmt;
use core::net::IpAddr;
use heapless::{String, Vec};

use super::diag::Diagnostics;
use super::glob::{glob_match, has_wildcards};
use super::lexer::{Lexer, Token, TokenKind, unescape};
use super::model::*;
use super::source::ConfigSource;
use super::validate;
use super::values::{Secs, parse_bool_word, parse_int, parse_ip, parse_seconds_us, parse_uint};
use crate::limits::*;

#[path = "lvs_parse.rs"]
mod lvs_parse;

/// Most words on one line.
pub const MAX_WORDS: usize = 64;
/// Deepest block nesting (keepalived's deepest is 3).
pub const MAX_NESTING: usize = 8;

pub(crate) const PENDING_MEMBERS: usize = MAX_SYNC_GROUPS * MAX_SYNC_GROUP_MEMBERS;

/// Parses the configuration file `path` (and what it includes) into `cfg`,
/// which is reset first. All errors and warnings go to `diags` (also reset).
/// The result is usable iff `!diags.has_errors()`.
pub fn parse(source: &dyn ConfigSource, path: &str, cfg: &mut Config, diags: &mut Diagnostics) {
    reset(cfg);
    diags.clear();
    let mut p = Parser {
        cfg,
        d: diags,
        source,
        stack: Vec::new(),
        pending: None,
        extra: Vec::new(),
        groups: Vec::new(),
        members: Vec::new(),
        scripts_extra: Vec::new(),
        global_set: 0,
        lvs: lvs_parse::LvsExtra::default(),
        depth: 0,
        files_seen: 0,
        notify_overflow: false,
    };
    p.read_main(path);
    validate::finish(&mut p);
    lvs_parse::finish(&mut p);
    p.d.sort();
}

/// Clears `cfg` in place (no large temporary on the stack).
fn reset(cfg: &mut Config) {
    cfg.files.clear();
    cfg.global_defs = GlobalDefs::default();
    cfg.instances.clear();
    cfg.scripts.clear();
    cfg.track_processes.clear();
    cfg.track_files.clear();
    cfg.sync_groups.clear();
    cfg.lvs.clear();
    cfg.notify_cmds.clear();
}

/// Owner of a tracker list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Instance(u16),
    Group(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrackKind {
    Script,
    Process,
    File,
}

impl TrackKind {
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            TrackKind::Script => "track_script",
            TrackKind::Process => "track_process",
            TrackKind::File => "track_file",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    GlobalDefs,
    NotificationEmail,
    Instance(u16),
    Auth(u16),
    Vips {
        inst: u16,
        excluded: bool,
    },
    UnicastPeer(u16),
    TrackInterface(Owner),
    TrackRefs(Owner, TrackKind),
    Script(u16),
    TrackProcess(u16),
    TrackFile(u16),
    SyncGroup(u16),
    SyncGroupMembers(u16),
    /// Inside a `virtual_server` block (`lvs_parse.rs`).
    Lvs(lvs_parse::LvsCtx),
    /// An ignored block; counts nested braces.
    Skip(u32),
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    ctx: Ctx,
    /// The keyword that opened the block.
    keyword: &'static str,
    span: Span,
}

// Bits of `InstExtra::set`: keywords written explicitly in the instance.
pub(crate) const SET_VERSION: u32 = 1 << 0;
pub(crate) const SET_ACCEPT: u32 = 1 << 1;
pub(crate) const SET_LOWER_PRIO: u32 = 1 << 2;
pub(crate) const SET_SKIP_CHECK: u32 = 1 << 3;
pub(crate) const SET_GARP_M_DELAY: u32 = 1 << 4;
pub(crate) const SET_GARP_M_REPEAT: u32 = 1 << 5;
pub(crate) const SET_GARP_M_REFRESH: u32 = 1 << 6;
pub(crate) const SET_GARP_M_REFRESH_REPEAT: u32 = 1 << 7;
pub(crate) const SET_GARP_L_DELAY: u32 = 1 << 8;
pub(crate) const SET_GARP_L_REPEAT: u32 = 1 << 9;
pub(crate) const SET_SMTP: u32 = 1 << 10;
pub(crate) const SET_DOWN_TIMER: u32 = 1 << 11;
pub(crate) const SET_AUTH_PASS: u32 = 1 << 12;
pub(crate) const SET_AUTH_TYPE: u32 = 1 << 13;
pub(crate) const SET_HIGHER_PRIO: u32 = 1 << 14;
pub(crate) const SET_PRIORITY: u32 = 1 << 15;

// Bits of `Parser::global_set`: `global_defs` keywords written explicitly.
pub(crate) const GSET_GARP_L_DELAY: u32 = 1 << 0;
pub(crate) const GSET_GARP_L_REPEAT: u32 = 1 << 1;

/// Per-instance facts the model does not keep but validation needs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct InstExtra {
    pub set: u32,
    /// `advert_int` as written, microseconds (None: default 1 s).
    pub advert_us: Option<u64>,
    pub advert_span: Span,
    pub vrid_span: Span,
    pub interface_span: Span,
    pub state_span: Span,
    pub nopreempt_span: Span,
    pub preempt_delay_span: Span,
    pub auth_span: Span,
    pub accept_span: Span,
    pub down_timer_span: Span,
    pub garp_l_delay_span: Span,
    pub garp_l_repeat_span: Span,
    pub vip_overflow: bool,
    /// A virtual_ipaddress line was seen (even an invalid one).
    pub vip_lines: bool,
    pub excluded_overflow: bool,
    pub peer_overflow: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GroupExtra {
    pub member_overflow: bool,
}

/// A sync-group member name, resolved once all instances are known.
#[derive(Clone, Debug)]
pub(crate) struct PendingMember {
    pub group: u16,
    pub name: Name,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScriptExtra {
    pub timeout_set: bool,
}

pub(crate) struct Parser<'p> {
    pub cfg: &'p mut Config,
    pub d: &'p mut Diagnostics,
    source: &'p dyn ConfigSource,
    stack: Vec<Frame, MAX_NESTING>,
    /// A block keyword waiting for its `{`.
    pending: Option<Frame>,
    pub extra: Vec<InstExtra, MAX_INSTANCES>,
    pub groups: Vec<GroupExtra, MAX_SYNC_GROUPS>,
    pub members: Vec<PendingMember, PENDING_MEMBERS>,
    pub scripts_extra: Vec<ScriptExtra, MAX_SCRIPTS>,
    /// `GSET_*` bits: `global_defs` keywords written explicitly.
    pub global_set: u32,
    lvs: lvs_parse::LvsExtra,
    depth: usize,
    files_seen: usize,
    /// `MAX_NOTIFY_CMDS` has been reported.
    notify_overflow: bool,
}

/// Top-level blocks: seeing one inside another block means a `}` is missing.
const TOP_BLOCKS: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_track_process",
    "vrrp_track_file",
    "virtual_server",
];

/// keepalived blocks keepvip accepts and ignores (with a warning).
const IGNORED_BLOCKS: &[&str] = &[
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "virtual_routes",
    "virtual_rules",
    "linkbeat_interfaces",
    "garp_group",
    "bfd_instance",
    "track_bfd",
    "vrrp_track_bfd",
    "net_namespace_ipvs",
    "interface_up_down_delays",
];

/// keepalived instance keywords keepvip knows but does not implement.
const IGNORED_INSTANCE_KEYWORDS: &[&str] = &[
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "unicast_ttl",
    "unicast_fault_no_peer",
    "kernel_rx_buf_size",
    "notify_deleted",
    "notify_priority_changes",
    "debug",
    "strict_mode",
    "promote_secondaries",
    "linkbeat_use_polling",
    "garp_extra_if",
    "track_src_ip",
    "old_unicast_checksum",
    "no_accept_check",
];

/// How the value of a simple keyword is read: each shape is one of the
/// value helpers of [`Parser`], so every keyword of a shape has the same
/// messages at the same places.
#[derive(Clone, Copy)]
enum Val {
    /// `kw N`, a whole number in min..=max ([`Parser::uint`]).
    Uint(u32, u32),
    /// `kw SECONDS` within min..=max milliseconds ([`Parser::seconds`]);
    /// the value is in microseconds.
    Secs(u32, u32),
    /// `kw [BOOL]`, absent = true ([`Parser::flag`]): 0 or 1.
    Flag,
    /// `kw` alone ([`Parser::no_args`]): 1.
    On,
    /// `kw` alone: 0.
    Off,
    /// `kw W [reverse]` with |W| <= max ([`Parser::weight_args`]): the
    /// weight in bits 0..16, `reverse` in bit 16.
    Weight(u16),
}

/// Where the value of a simple keyword goes ([`Parser::store`]).
#[derive(Clone, Copy)]
enum Field {
    SmtpConnectTimeout,
    GlobalSmtpAlert,
    GlobalSkipCheckAdvAddr,
    VrrpStrict,
    GarpInterval,
    GnaInterval,
    GlobalGarpMasterDelay,
    GlobalGarpMasterRepeat,
    GlobalGarpMasterRefresh,
    GlobalGarpMasterRefreshRepeat,
    GlobalGarpLowerPrioDelay,
    GlobalGarpLowerPrioRepeat,
    GlobalLowerPrioNoAdvert,
    GlobalHigherPrioSendAdvert,
    GlobalVersion,
    EnableScriptSecurity,
    Priority,
    Nopreempt,
    PreemptDelay,
    Version,
    Accept,
    GarpMasterDelay,
    GarpMasterRepeat,
    GarpMasterRefresh,
    GarpMasterRefreshRepeat,
    GarpLowerPrioDelay,
    GarpLowerPrioRepeat,
    LowerPrioNoAdvert,
    HigherPrioSendAdvert,
    SkipCheckAdvAddr,
    DownTimerAdverts,
    ChecksumAsV2,
    SmtpAlert,
    DontTrackPrimary,
    ScriptInterval,
    ScriptTimeout,
    ScriptWeight,
    ScriptRise,
    ScriptFall,
    ScriptInitFail,
    ProcessFullCommand,
    ProcessQuorum,
    ProcessQuorumMax,
    ProcessWeight,
    ProcessDelay,
    ProcessForkDelay,
    ProcessTerminateDelay,
    FileWeight,
    GroupSmtpAlert,
    GroupTrackingWeight,
}

/// The simple keywords of a block: keyword, value, destination.
type Simple = (&'static str, Val, Field);

const GLOBAL_SIMPLE: &[Simple] = &[
    (
        "smtp_connect_timeout",
        Val::Uint(1, 3600),
        Field::SmtpConnectTimeout,
    ),
    ("smtp_alert", Val::Flag, Field::GlobalSmtpAlert),
    (
        "vrrp_skip_check_adv_addr",
        Val::Flag,
        Field::GlobalSkipCheckAdvAddr,
    ),
    ("vrrp_strict", Val::On, Field::VrrpStrict),
    (
        "vrrp_garp_interval",
        Val::Secs(0, 1_000_000),
        Field::GarpInterval,
    ),
    (
        "vrrp_gna_interval",
        Val::Secs(0, 1_000_000),
        Field::GnaInterval,
    ),
    (
        "vrrp_garp_master_delay",
        Val::Uint(0, 3600),
        Field::GlobalGarpMasterDelay,
    ),
    (
        "vrrp_garp_master_repeat",
        Val::Uint(1, 1000),
        Field::GlobalGarpMasterRepeat,
    ),
    (
        "vrrp_garp_master_refresh",
        Val::Uint(0, 86400),
        Field::GlobalGarpMasterRefresh,
    ),
    (
        "vrrp_garp_master_refresh_repeat",
        Val::Uint(1, 1000),
        Field::GlobalGarpMasterRefreshRepeat,
    ),
    (
        "vrrp_garp_lower_prio_delay",
        Val::Uint(0, 3600),
        Field::GlobalGarpLowerPrioDelay,
    ),
    (
        "vrrp_garp_lower_prio_repeat",
        Val::Uint(0, 1000),
        Field::GlobalGarpLowerPrioRepeat,
    ),
    (
        "vrrp_lower_prio_no_advert",
        Val::Flag,
        Field::GlobalLowerPrioNoAdvert,
    ),
    (
        "vrrp_higher_prio_send_advert",
        Val::Flag,
        Field::GlobalHigherPrioSendAdvert,
    ),
    ("vrrp_version", Val::Uint(2, 3), Field::GlobalVersion),
    (
        "enable_script_security",
        Val::On,
        Field::EnableScriptSecurity,
    ),
];

const INSTANCE_SIMPLE: &[Simple] = &[
    ("priority", Val::Uint(1, 255), Field::Priority),
    ("nopreempt", Val::On, Field::Nopreempt),
    ("preempt", Val::Off, Field::Nopreempt),
    (
        "preempt_delay",
        Val::Secs(0, 1_000_000),
        Field::PreemptDelay,
    ),
    ("version", Val::Uint(2, 3), Field::Version),
    ("vrrp_version", Val::Uint(2, 3), Field::Version),
    ("accept", Val::On, Field::Accept),
    ("no_accept", Val::Off, Field::Accept),
    (
        "garp_master_delay",
        Val::Uint(0, 3600),
        Field::GarpMasterDelay,
    ),
    (
        "garp_master_repeat",
        Val::Uint(1, 1000),
        Field::GarpMasterRepeat,
    ),
    (
        "garp_master_refresh",
        Val::Uint(0, 86400),
        Field::GarpMasterRefresh,
    ),
    (
        "garp_master_refresh_repeat",
        Val::Uint(1, 1000),
        Field::GarpMasterRefreshRepeat,
    ),
    (
        "garp_lower_prio_delay",
        Val::Uint(0, 3600),
        Field::GarpLowerPrioDelay,
    ),
    (
        "garp_lower_prio_repeat",
        Val::Uint(0, 1000),
        Field::GarpLowerPrioRepeat,
    ),
    ("lower_prio_no_advert", Val::Flag, Field::LowerPrioNoAdvert),
    (
        "higher_prio_send_advert",
        Val::Flag,
        Field::HigherPrioSendAdvert,
    ),
    ("skip_check_adv_addr", Val::Flag, Field::SkipCheckAdvAddr),
    (
        "down_timer_adverts",
        Val::Uint(1, 100),
        Field::DownTimerAdverts,
    ),
    ("v3_checksum_as_v2", Val::Flag, Field::ChecksumAsV2),
    ("smtp_alert", Val::Flag, Field::SmtpAlert),
    ("dont_track_primary", Val::On, Field::DontTrackPrimary),
];

const SCRIPT_SIMPLE: &[Simple] = &[
    ("interval", Val::Secs(1, 86_400_000), Field::ScriptInterval),
    ("timeout", Val::Secs(1, 86_400_000), Field::ScriptTimeout),
    ("weight", Val::Weight(253), Field::ScriptWeight),
    ("rise", Val::Uint(1, 1_000_000), Field::ScriptRise),
    ("fall", Val::Uint(1, 1_000_000), Field::ScriptFall),
    ("init_fail", Val::On, Field::ScriptInitFail),
];

const PROCESS_SIMPLE: &[Simple] = &[
    ("full_command", Val::On, Field::ProcessFullCommand),
    ("quorum", Val::Uint(1, 65535), Field::ProcessQuorum),
    ("quorum_max", Val::Uint(1, 65535), Field::ProcessQuorumMax),
    ("weight", Val::Weight(254), Field::ProcessWeight),
    ("delay", Val::Secs(0, 3_600_000), Field::ProcessDelay),
    (
        "fork_delay",
        Val::Secs(0, 3_600_000),
        Field::ProcessForkDelay,
    ),
    (
        "terminate_delay",
        Val::Secs(0, 3_600_000),
        Field::ProcessTerminateDelay,
    ),
];

const FILE_SIMPLE: &[Simple] = &[("weight", Val::Weight(254), Field::FileWeight)];

const GROUP_SIMPLE: &[Simple] = &[
    ("smtp_alert", Val::Flag, Field::GroupSmtpAlert),
    (
        "sync_group_tracking_weight",
        Val::On,
        Field::GroupTrackingWeight,
    ),
    ("global_tracking", Val::On, Field::GroupTrackingWeight),
];

fn span_of(file: u16, t: &Token<'_>) -> Span {
    Span {
        file,
        line: t.line,
        col: t.col,
    }
}

/// Shows a token's text for messages (lossy for non-UTF-8).
struct Shown<'a>(&'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

/// Copies a token's value (unescaping quoted strings) into a bounded string.
/// Err(()) if it does not fit or is not UTF-8.
fn tok_string<const N: usize>(t: &Token<'_>) -> Result<String<N>, ()> {
    let mut out: Vec<u8, N> = Vec::new();
    let mut ok = true;
    if t.kind == TokenKind::Word {
        ok = out.extend_from_slice(t.text).is_ok();
    } else {
        unescape(t.text, &mut |s| {
            if ok && out.extend_from_slice(s).is_err() {
                ok = false;
            }
        });
    }
    if !ok {
        return Err(());
    }
    String::from_utf8(out).map_err(|_| ())
}

impl<'p> Parser<'p> {
    // ----- diagnostics -------------------------------------------------

    pub(crate) fn err(&mut self, span: Span, args: fmt::Arguments<'_>) {
        self.d.error(span, args);
    }

    pub(crate) fn warn(&mut self, span: Span, args: fmt::Arguments<'_>) {
        self.d.warning(span, args);
    }

    /// Capacity overflow: names the limit and the build variable.
    pub(crate) fn capacity(&mut self, span: Span, what: &str, limit: &str, value: usize) {
        self.err(
            span,
            format_args!(
                "too many {what}: keepvip was built for at most {value} (limit {limit}; rebuild with KEEPVIP_{limit}=N to raise it)"
            ),
        );
    }

    // ----- files -------------------------------------------------------

    fn add_file(&mut self, path: &str) -> Option<u16> {
        let mut s = PathStr::new();
        for c in path.chars() {
            if s.push(c).is_err() {
                break;
            }
        }
        let idx = self.cfg.files.len();
        self.cfg.files.push(s).ok()?;
        u16::try_from(idx).ok()
    }

    fn read_main(&mut self, path: &str) {
        let Some(file) = self.add_file(path) else {
            return;
        };
        self.files_seen = 1;
        if path.len() > MAX_PATH_LEN {
            self.warn(
                Span {
                    file,
                    line: 0,
                    col: 0,
                },
                format_args!("file path longer than {MAX_PATH_LEN} bytes; shown shortened"),
            );
        }
        let src = self.source;
        let r = src.read_file(path, &mut |bytes| self.feed(file, bytes));
        if let Err(e) = r {
            self.err(
                Span {
                    file,
                    line: 0,
                    col: 0,
                },
                format_args!("cannot read the configuration file: {e}"),
            );
            return;
        }
        if let Some(p) = self.pending.take() {
            self.err(
                p.span,
                format_args!(
                    "'{}' needs a block: '{{' expected before the end of the file",
                    p.keyword
                ),
            );
        }
        while let Some(f) = self.stack.pop() {
            let name = match f.ctx {
                Ctx::Skip(_) => "ignored",
                _ => f.keyword,
            };
            self.err(
                f.span,
                format_args!("'{name}' block opened here is never closed: missing '}}'"),
            );
        }
    }

    fn feed(&mut self, file: u16, bytes: &[u8]) {
        let lx = Lexer::new(bytes);
        let mut line: Vec<Token<'_>, MAX_WORDS> = Vec::new();
        let mut overflow = false;
        for t in lx {
            match t.kind {
                TokenKind::Word | TokenKind::Quoted | TokenKind::UnterminatedQuote => {
                    if t.kind == TokenKind::UnterminatedQuote {
                        self.err(
                            span_of(file, &t),
                            format_args!("missing closing '\"' on this line"),
                        );
                    }
                    if line.push(t).is_err() && !overflow {
                        overflow = true;
                        self.err(
                            span_of(file, &t),
                            format_args!("too many words on one line (at most {MAX_WORDS})"),
                        );
                    }
                }
                TokenKind::Newline => {
                    self.statement(file, &line, false);
                    line.clear();
                    overflow = false;
                }
                TokenKind::LBrace => {
                    self.statement(file, &line, true);
                    line.clear();
                    self.open(file, &t);
                }
                TokenKind::RBrace => {
                    self.statement(file, &line, false);
                    line.clear();
                    self.close(file, &t);
                }
            }
        }
        self.statement(file, &line, false);
    }

    fn include(&mut self, file: u16, toks: &[Token<'_>]) {
        let kw = span_of(file, &toks[0]);
        let Some(arg) = toks.get(1) else {
            self.err(kw, format_args!("'include' needs a file name or pattern"));
            return;
        };
        let at = span_of(file, arg);
        if toks.len() > 2 {
            self.warn(
                span_of(file, &toks[2]),
                format_args!("extra words after 'include' ignored"),
            );
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            self.err(
                at,
                format_args!(
                    "includes nested too deeply (at most {MAX_INCLUDE_DEPTH} levels, build variable KEEPVIP_MAX_INCLUDE_DEPTH)"
                ),
            );
            return;
        }
        let Ok(pattern) = tok_string::<MAX_PATH_LEN>(arg) else {
            self.err(
                at,
                format_args!("include path too long (at most {MAX_PATH_LEN} bytes, build variable KEEPVIP_MAX_PATH_LEN)"),
            );
            return;
        };
        // Relative to the including file's directory.
        let mut full: String<MAX_PATH_LEN> = String::new();
        if !pattern.starts_with('/') {
            let cur = self.cfg.file_name(Span {
                file,
                line: 0,
                col: 0,
            });
            if let Some(i) = cur.rfind('/') {
                let _ = full.push_str(&cur[..=i]);
            }
        }
        if full.push_str(&pattern).is_err() {
            self.err(
                at,
                format_args!("include path too long (at most {MAX_PATH_LEN} bytes, build variable KEEPVIP_MAX_PATH_LEN)"),
            );
            return;
        }
        let (dir, name) = match full.rfind('/') {
            Some(0) => ("/", &full[1..]),
            Some(i) => (&full[..i], &full[i + 1..]),
            None => ("", &full[..]),
        };
        if has_wildcards(dir.as_bytes()) {
            self.err(
                at,
                format_args!(
                    "include: wildcards are only supported in the file name, not in directories"
                ),
            );
            return;
        }
        if !has_wildcards(name.as_bytes()) {
            let path = full.clone();
            self.include_one(&path, at);
            return;
        }
        // Glob: collect the matches (bounded), sort like glob(3), read each.
        let mut matches: Vec<PathStr, MAX_CONFIG_FILES> = Vec::new();
        let mut too_many = false;
        let mut too_long = false;
        let src = self.source;
        let r = src.list_dir(dir, &mut |entry| {
            if !glob_match(name.as_bytes(), entry.as_bytes()) {
                return;
            }
            let mut p = PathStr::new();
            let ok = if dir.is_empty() {
                p.push_str(entry).is_ok()
            } else if dir == "/" {
                p.push('/').is_ok() && p.push_str(entry).is_ok()
            } else {
                p.push_str(dir).is_ok() && p.push('/').is_ok() && p.push_str(entry).is_ok()
            };
            if !ok {
                too_long = true;
            } else if matches.push(p).is_err() {
                too_many = true;
            }
        });
        if let Err(e) = r {
            self.err(
                at,
                format_args!(
                    "include: cannot read directory '{}': {e}",
                    if dir.is_empty() { "." } else { dir }
                ),
            );
            return;
        }
        if too_long {
            self.err(
                at,
                format_args!("include: a matching path is longer than {MAX_PATH_LEN} bytes (build variable KEEPVIP_MAX_PATH_LEN)"),
            );
        }
        if too_many {
            self.capacity(
                at,
                "configuration files",
                "MAX_CONFIG_FILES",
                MAX_CONFIG_FILES,
            );
        }
        if matches.is_empty() {
            self.warn(at, format_args!("include: no file matches '{}'", full));
            return;
        }
        matches.sort_unstable();
        for m in matches.iter() {
            self.include_one(m, at);
        }
    }

    fn include_one(&mut self, path: &str, at: Span) {
        if self.files_seen >= MAX_CONFIG_FILES {
            self.capacity(
                at,
                "configuration files",
                "MAX_CONFIG_FILES",
                MAX_CONFIG_FILES,
            );
            return;
        }
        let Some(file) = self.add_file(path) else {
            self.capacity(
                at,
                "configuration files",
                "MAX_CONFIG_FILES",
                MAX_CONFIG_FILES,
            );
            return;
        };
        self.files_seen += 1;
        self.depth += 1;
        let src = self.source;
        let r = src.read_file(path, &mut |bytes| self.feed(file, bytes));
        self.depth -= 1;
        if let Err(e) = r {
            // Nothing refers to the unread file: forget it.
            if usize::from(file) + 1 == self.cfg.files.len() {
                self.cfg.files.pop();
            }
            self.err(at, format_args!("cannot read included file '{path}': {e}"));
        }
    }

    // ----- structure ---------------------------------------------------

    fn push_frame(&mut self, f: Frame) {
        if self.stack.push(f).is_err() {
            self.err(
                f.span,
                format_args!("blocks nested too deeply (at most {MAX_NESTING})"),
            );
            if let Some(top) = self.stack.last_mut() {
                // Treat the rest as an ignored block so the braces still pair.
                top.ctx = Ctx::Skip(1);
            }
        }
    }

    fn open(&mut self, file: u16, t: &Token<'_>) {
        if let Some(p) = self.pending.take() {
            self.push_frame(p);
            return;
        }
        if let Some(Frame {
            ctx: Ctx::Skip(n), ..
        }) = self.stack.last_mut()
        {
            *n = n.saturating_add(1);
            return;
        }
        let span = span_of(file, t);
        self.err(
            span,
            format_args!("unexpected '{{': no block keyword before it"),
        );
        self.push_frame(Frame {
            ctx: Ctx::Skip(0),
            keyword: "{",
            span,
        });
    }

    fn close(&mut self, file: u16, t: &Token<'_>) {
        if let Some(p) = self.pending.take() {
            self.err(
                p.span,
                format_args!("'{}' needs a block: '{{' expected", p.keyword),
            );
        }
        match self.stack.last_mut() {
            None => self.err(
                span_of(file, t),
                format_args!("unexpected '}}': no block is open here"),
            ),
            Some(Frame {
                ctx: Ctx::Skip(n), ..
            }) if *n > 0 => *n -= 1,
            Some(_) => {
                self.stack.pop();
            }
        }
    }

    fn statement(&mut self, file: u16, toks: &[Token<'_>], brace: bool) {
        let Some(first) = toks.first() else {
            return;
        };
        let span = span_of(file, first);
        if let Some(p) = self.pending.take() {
            // Assume the '{' was forgotten: the block's lines follow.
            self.err(
                p.span,
                format_args!("'{}' needs a block: '{{' expected after it", p.keyword),
            );
            self.push_frame(p);
        }
        let kw: &str = match core::str::from_utf8(first.text) {
            Ok(s) => s,
            Err(_) => {
                self.err(
                    span,
                    format_args!("keyword '{}' is not valid UTF-8", Shown(first.text)),
                );
                return;
            }
        };
        if kw == "include" {
            self.include(file, toks);
            return;
        }
        let args = &toks[1..];
        let ctx = self.stack.last().map(|f| f.ctx);
        if ctx.is_some() && TOP_BLOCKS.contains(&kw) && !matches!(ctx, Some(Ctx::Skip(_))) {
            let outer = self.stack[0];
            self.err(
                span,
                format_args!(
                    "missing '}}': '{}' block opened at line {} is still open where '{kw}' starts",
                    outer.keyword, outer.span.line
                ),
            );
            self.stack.clear();
            return self.statement_in(None, file, kw, span, args, brace);
        }
        self.statement_in(ctx, file, kw, span, args, brace);
    }

    fn statement_in(
        &mut self,
        ctx: Option<Ctx>,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
        brace: bool,
    ) {
        let opened: Handled = match ctx {
            None => self.top(file, kw, span, args, brace),
            Some(Ctx::Skip(_)) => Handled::Done,
            Some(Ctx::GlobalDefs) => self.global(file, kw, span, args),
            Some(Ctx::NotificationEmail) => {
                self.email(file, kw, span, args);
                Handled::Done
            }
            Some(Ctx::Instance(i)) => self.instance(i, file, kw, span, args),
            Some(Ctx::Auth(i)) => self.auth(i, file, kw, span, args),
            Some(Ctx::Vips { inst, excluded }) => {
                self.vip(inst, excluded, file, kw, span, args);
                Handled::Done
            }
            Some(Ctx::UnicastPeer(i)) => {
                self.peer(i, file, kw, span, args);
                Handled::Done
            }
            Some(Ctx::TrackInterface(o)) => {
                self.track_interface(o, file, kw, span, args);
                Handled::Done
            }
            Some(Ctx::TrackRefs(o, k)) => {
                self.track_ref(o, k, file, kw, span, args);
                Handled::Done
            }
            Some(Ctx::Script(i)) => self.script(i, file, kw, span, args),
            Some(Ctx::TrackProcess(i)) => self.track_process(i, file, kw, span, args),
            Some(Ctx::TrackFile(i)) => self.track_file_blk(i, file, kw, span, args),
            Some(Ctx::SyncGroup(i)) => self.sync_group(i, file, kw, span, args),
            Some(Ctx::Lvs(c)) => self.lvs(c, file, kw, span, args),
            Some(Ctx::SyncGroupMembers(g)) => {
                self.member(g, file, kw, span, args);
                Handled::Done
            }
        };
        match opened {
            Handled::Done => {}
            Handled::Block(ctx, keyword) => {
                self.pending = Some(Frame { ctx, keyword, span });
            }
            Handled::Unknown => {
                if brace {
                    if IGNORED_BLOCKS.contains(&kw) {
                        self.warn(
                            span,
                            format_args!("'{kw}' blocks are not supported by keepvip; ignored"),
                        );
                    } else {
                        self.err(
                            span,
                            format_args!("unknown block '{kw}' (its content is ignored)"),
                        );
                    }
                    self.pending = Some(Frame {
                        ctx: Ctx::Skip(0),
                        keyword: "ignored",
                        span,
                    });
                } else if IGNORED_BLOCKS.contains(&kw) {
                    self.warn(
                        span,
                        format_args!("'{kw}' blocks are not supported by keepvip; ignored"),
                    );
                    self.pending = Some(Frame {
                        ctx: Ctx::Skip(0),
                        keyword: "ignored",
                        span,
                    });
                } else if IGNORED_INSTANCE_KEYWORDS.contains(&kw) {
                    self.warn(
                        span,
                        format_args!("'{kw}' is not supported by keepvip; ignored"),
                    );
                } else {
                    self.warn(span, format_args!("unknown keyword '{kw}' ignored"));
                }
            }
        }
        // A '{' after a keyword that does not take a block.
        if brace
            && matches!(opened, Handled::Done)
            && self.pending.is_none()
            && !matches!(ctx, Some(Ctx::Skip(_)))
        {
            self.err(span, format_args!("'{kw}' does not take a block"));
            self.pending = Some(Frame {
                ctx: Ctx::Skip(0),
                keyword: "ignored",
                span,
            });
        }
    }

    // ----- value helpers ---------------------------------------------

    fn extra_words(&mut self, file: u16, kw: &str, args: &[Token<'_>], n: usize) {
        if let Some(t) = args.get(n) {
            self.warn(
                span_of(file, t),
                format_args!("extra words after '{kw}' ignored"),
            );
        }
    }

    fn need<'t>(&mut self, span: Span, kw: &str, args: &[Token<'t>]) -> Option<Token<'t>> {
        match args.first() {
            Some(t) => Some(*t),
            None => {
                self.err(span, format_args!("'{kw}' needs a value"));
                None
            }
        }
    }

    /// `kw N` with N in min..=max.
    fn uint(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let t = self.need(span, kw, args)?;
        self.extra_words(file, kw, args, 1);
        self.uint_tok(file, kw, &t, min, max)
    }

    fn uint_tok(&mut self, file: u16, kw: &str, t: &Token<'_>, min: u64, max: u64) -> Option<u64> {
        match parse_uint(t.text) {
            Some(v) if v >= min && v <= max => Some(v),
            _ => {
                self.err(
                    span_of(file, t),
                    format_args!(
                        "'{kw}' must be a whole number from {min} to {max}, not '{}'",
                        Shown(t.text)
                    ),
                );
                None
            }
        }
    }

    fn u32_val(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
        min: u32,
        max: u32,
    ) -> Option<u32> {
        self.uint(file, span, kw, args, u64::from(min), u64::from(max))
            .map(|v| v as u32)
    }

    /// `kw SECONDS` (decimals allowed) in microseconds, within min..=max.
    fn seconds(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
        min_us: u64,
        max_us: u64,
    ) -> Option<u64> {
        let t = self.need(span, kw, args)?;
        self.extra_words(file, kw, args, 1);
        match parse_seconds_us(t.text) {
            Some(v) if v >= min_us && v <= max_us => Some(v),
            _ => {
                self.err(
                    span_of(file, &t),
                    format_args!(
                        "'{kw}' must be a number of seconds from {} to {}, not '{}'",
                        Secs(min_us),
                        Secs(max_us),
                        Shown(t.text)
                    ),
                );
                None
            }
        }
    }

    fn ip(&mut self, file: u16, kw: &str, t: &Token<'_>) -> Option<IpAddr> {
        let r = parse_ip(t.text);
        if r.is_none() {
            self.err(
                span_of(file, t),
                format_args!("'{}' is not a valid IP address ({kw})", Shown(t.text)),
            );
        }
        r
    }

    /// An optional boolean argument (absent = true).
    fn flag(&mut self, file: u16, kw: &str, args: &[Token<'_>]) -> bool {
        let Some(t) = args.first() else {
            return true;
        };
        self.extra_words(file, kw, args, 1);
        match parse_bool_word(t.text) {
            Some(b) => b,
            None => {
                self.err(
                    span_of(file, t),
                    format_args!(
                        "'{kw}' takes true/false, on/off or yes/no, not '{}'",
                        Shown(t.text)
                    ),
                );
                true
            }
        }
    }

    fn no_args(&mut self, file: u16, kw: &str, args: &[Token<'_>]) {
        self.extra_words(file, kw, args, 0);
    }

    /// A bounded string value; `limit` names the build variable (or "").
    fn string<const N: usize>(
        &mut self,
        file: u16,
        kw: &str,
        t: &Token<'_>,
        limit: &str,
    ) -> Option<String<N>> {
        match tok_string::<N>(t) {
            Ok(s) => Some(s),
            Err(()) => {
                if core::str::from_utf8(t.text).is_err() {
                    self.err(
                        span_of(file, t),
                        format_args!("'{kw}' value is not valid UTF-8"),
                    );
                } else if limit.is_empty() {
                    self.err(
                        span_of(file, t),
                        format_args!(
                            "'{kw}' value '{}' is too long (at most {N} bytes)",
                            Shown(t.text)
                        ),
                    );
                } else {
                    self.err(
                        span_of(file, t),
                        format_args!(
                            "'{kw}' value is too long (at most {N} bytes; build variable KEEPVIP_{limit})"
                        ),
                    );
                }
                None
            }
        }
    }

    fn name_arg(&mut self, file: u16, span: Span, kw: &str, args: &[Token<'_>]) -> Option<Name> {
        let t = self.need(span, kw, args)?;
        self.extra_words(file, kw, args, 1);
        self.string::<MAX_NAME_LEN>(file, kw, &t, "MAX_NAME_LEN")
    }

    fn ifname(&mut self, file: u16, kw: &str, t: &Token<'_>) -> Option<IfName> {
        // The same capacity, a one-byte length: cannot fail.
        let s = self.string::<IFNAME_LEN>(file, kw, t, "")?;
        IfName::try_from(s.as_str()).ok()
    }

    fn path_arg(&mut self, file: u16, span: Span, kw: &str, args: &[Token<'_>]) -> Option<PathStr> {
        let t = self.need(span, kw, args)?;
        self.extra_words(file, kw, args, 1);
        self.string::<MAX_PATH_LEN>(file, kw, &t, "MAX_PATH_LEN")
    }

    /// `notify_fifo PATH [USER [GROUP]]`.
    fn fifo_cfg(&mut self, file: u16, span: Span, kw: &str, args: &[Token<'_>]) -> Option<FifoCfg> {
        let t = self.need(span, kw, args)?;
        let path = self.string::<MAX_PATH_LEN>(file, kw, &t, "MAX_PATH_LEN")?;
        let mut names = [None, None];
        for (k, w) in args.iter().skip(1).take(2).enumerate() {
            names[k] = Some(self.string::<MAX_NAME_LEN>(file, kw, w, "MAX_NAME_LEN")?);
        }
        self.extra_words(file, kw, args, 3);
        let [user, group] = names;
        Some(FifoCfg {
            path,
            user,
            group,
            span,
        })
    }

    /// keepalived's `notify_* CMD [USER [GROUP]]`: the command is the first
    /// word (quote a command line with arguments), the next two the user
    /// and group it runs as; more words are an error.
    fn notify_command(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
    ) -> Option<NotifyCmd> {
        let cmd = self.command(file, span, kw, &args[..args.len().min(1)])?;
        let mut user = None;
        let mut group = None;
        if let Some(u) = args.get(1) {
            user = Some(self.string::<MAX_NAME_LEN>(file, kw, u, "MAX_NAME_LEN")?);
        }
        if let Some(g) = args.get(2) {
            group = Some(self.string::<MAX_NAME_LEN>(file, kw, g, "MAX_NAME_LEN")?);
        }
        if let Some(extra) = args.get(3) {
            self.err(
                span_of(file, extra),
                format_args!(
                    "'{kw}' takes a command, then at most a user and a group: quote a command line with arguments"
                ),
            );
            return None;
        }
        Some(NotifyCmd {
            cmd,
            user,
            group,
            span,
        })
    }

    /// A notify keyword's command (`notify_* CMD [USER [GROUP]]`, see
    /// [`Self::notify_command`]) stored at the end of the configuration's
    /// pool ([`Config::notify_cmds`]). The keyword written again in the same
    /// block (`old` set): as keepalived, the first one counts and the repeat
    /// is reported and ignored. A full pool is a capacity error, reported
    /// once.
    pub(crate) fn pooled_notify_command(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
        old: Option<CmdId>,
    ) -> Option<CmdId> {
        if let Some(id) = old {
            self.warn(
                span,
                format_args!("'{kw}' already specified - ignoring this one (the first counts, as in keepalived)"),
            );
            return Some(id);
        }
        let c = self.notify_command(file, span, kw, args)?;
        let id = u16::try_from(self.cfg.notify_cmds.len()).ok().map(CmdId);
        if id.is_none() || self.cfg.notify_cmds.push(c).is_err() {
            if !self.notify_overflow {
                self.notify_overflow = true;
                self.capacity(span, "notify commands", "MAX_NOTIFY_CMDS", MAX_NOTIFY_CMDS);
            }
            return None;
        }
        id
    }

    /// A command: all remaining words joined by single spaces (quoted words
    /// contribute their content, so `"/bin/x a"` and `/bin/x a` are equal).
    fn command(&mut self, file: u16, span: Span, kw: &str, args: &[Token<'_>]) -> Option<Command> {
        self.need(span, kw, args)?;
        let mut out: Vec<u8, MAX_CMD_LEN> = Vec::new();
        let mut ok = true;
        for (i, t) in args.iter().enumerate() {
            if i > 0 && out.push(b' ').is_err() {
                ok = false;
            }
            if t.kind == TokenKind::Word {
                ok &= out.extend_from_slice(t.text).is_ok();
            } else {
                unescape(t.text, &mut |s| {
                    if out.extend_from_slice(s).is_err() {
                        ok = false;
                    }
                });
            }
        }
        if !ok {
            self.err(
                span_of(file, &args[0]),
                format_args!("'{kw}' command is too long (at most {MAX_CMD_LEN} bytes; build variable KEEPVIP_MAX_CMD_LEN)"),
            );
            return None;
        }
        match String::from_utf8(out) {
            Ok(s) if !s.trim().is_empty() => Some(s),
            Ok(_) => {
                self.err(span, format_args!("'{kw}' needs a command"));
                None
            }
            Err(_) => {
                self.err(
                    span_of(file, &args[0]),
                    format_args!("'{kw}' command is not valid UTF-8"),
                );
                None
            }
        }
    }

    /// `weight W [reverse]` starting at `args[i]`; returns (weight, reverse).
    fn weight_args(
        &mut self,
        file: u16,
        at: Span,
        kw: &str,
        args: &[Token<'_>],
        max: i64,
    ) -> Option<(i16, bool)> {
        let Some(t) = args.first().copied() else {
            self.err(at, format_args!("'{kw}' weight needs a value"));
            return None;
        };
        let w = match parse_int(t.text) {
            Some(v) if (-max..=max).contains(&v) => v as i16,
            _ => {
                self.err(
                    span_of(file, &t),
                    format_args!(
                        "'{kw}' weight must be a whole number from -{max} to {max}, not '{}'",
                        Shown(t.text)
                    ),
                );
                return None;
            }
        };
        let mut reverse = false;
        if let Some(r) = args.get(1) {
            if r.text == b"reverse" {
                reverse = true;
                self.extra_words(file, kw, args, 2);
            } else {
                self.warn(
                    span_of(file, r),
                    format_args!("extra words after '{kw}' ignored"),
                );
            }
        }
        Some((w, reverse))
    }

    // ----- simple keywords (tables) -----------------------------------

    /// `kw` if it is one of `table`'s: its value read with the helper of
    /// its shape and stored into block `at` ([`Parser::store`]). False if
    /// `kw` is not in `table`.
    fn simple(
        &mut self,
        table: &[Simple],
        at: u16,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> bool {
        let Some(&(_, val, to)) = table.iter().find(|e| e.0 == kw) else {
            return false;
        };
        let v = match val {
            Val::Uint(min, max) => self.uint(file, span, kw, args, min.into(), max.into()),
            Val::Secs(min, max) => self.seconds(
                file,
                span,
                kw,
                args,
                u64::from(min) * 1000,
                u64::from(max) * 1000,
            ),
            Val::Flag => Some(u64::from(self.flag(file, kw, args))),
            Val::On | Val::Off => {
                self.no_args(file, kw, args);
                Some(u64::from(matches!(val, Val::On)))
            }
            Val::Weight(max) => self
                .weight_args(file, span, kw, args, max.into())
                .map(|(w, r)| u64::from(w as u16) | u64::from(r) << 16),
        };
        if let Some(v) = v {
            self.store(to, usize::from(at), v, span);
        }
        true
    }

    /// Stores the value `v` of a simple keyword (see [`Val`] for what it
    /// holds) into block `at` of the kind `to` belongs to.
    fn store(&mut self, to: Field, at: usize, v: u64, span: Span) {
        let n = v as u32;
        let on = v != 0;
        // Milliseconds, rounded (keepalived's delays).
        let ms = ((v + 500) / 1000) as u32;
        let version = if v == 2 {
            VrrpVersion::V2
        } else {
            VrrpVersion::V3
        };
        let (weight, reverse) = (v as u16 as i16, v >> 16 & 1 != 0);
        let g = &mut self.cfg.global_defs;
        match to {
            Field::SmtpConnectTimeout => g.smtp_connect_timeout_s = n,
            Field::GlobalSmtpAlert => g.smtp_alert = on,
            Field::GlobalSkipCheckAdvAddr => g.vrrp_skip_check_adv_addr = on,
            Field::VrrpStrict => g.vrrp_strict = on,
            Field::GarpInterval => g.vrrp_garp_interval_us = n,
            Field::GnaInterval => g.vrrp_gna_interval_us = n,
            Field::GlobalGarpMasterDelay => g.vrrp_garp_master_delay_s = n,
            Field::GlobalGarpMasterRepeat => g.vrrp_garp_master_repeat = n,
            Field::GlobalGarpMasterRefresh => g.vrrp_garp_master_refresh_s = n,
            Field::GlobalGarpMasterRefreshRepeat => g.vrrp_garp_master_refresh_repeat = n,
            Field::GlobalGarpLowerPrioDelay => {
                g.vrrp_garp_lower_prio_delay_s = n;
                self.global_set |= GSET_GARP_L_DELAY;
            }
            Field::GlobalGarpLowerPrioRepeat => {
                g.vrrp_garp_lower_prio_repeat = n;
                self.global_set |= GSET_GARP_L_REPEAT;
            }
            Field::GlobalLowerPrioNoAdvert => g.vrrp_lower_prio_no_advert = on,
            Field::GlobalHigherPrioSendAdvert => g.vrrp_higher_prio_send_advert = on,
            Field::GlobalVersion => g.vrrp_version = version,
            Field::EnableScriptSecurity => g.enable_script_security = on,
            Field::Priority
            | Field::Nopreempt
            | Field::PreemptDelay
            | Field::Version
            | Field::Accept
            | Field::GarpMasterDelay
            | Field::GarpMasterRepeat
            | Field::GarpMasterRefresh
            | Field::GarpMasterRefreshRepeat
            | Field::GarpLowerPrioDelay
            | Field::GarpLowerPrioRepeat
            | Field::LowerPrioNoAdvert
            | Field::HigherPrioSendAdvert
            | Field::SkipCheckAdvAddr
            | Field::DownTimerAdverts
            | Field::ChecksumAsV2
            | Field::SmtpAlert
            | Field::DontTrackPrimary => {
                let (Some(c), Some(x)) = (self.cfg.instances.get_mut(at), self.extra.get_mut(at))
                else {
                    return;
                };
                let set = match to {
                    Field::Priority => {
                        c.priority = n as u8;
                        SET_PRIORITY
                    }
                    Field::Nopreempt => {
                        c.nopreempt = on;
                        if on {
                            x.nopreempt_span = span;
                        }
                        0
                    }
                    Field::PreemptDelay => {
                        c.preempt_delay_ms = ms;
                        x.preempt_delay_span = span;
                        0
                    }
                    Field::Version => {
                        c.version = version;
                        SET_VERSION
                    }
                    Field::Accept => {
                        c.accept = on;
                        x.accept_span = span;
                        SET_ACCEPT
                    }
                    Field::GarpMasterDelay => {
                        c.garp_master_delay_s = n;
                        SET_GARP_M_DELAY
                    }
                    Field::GarpMasterRepeat => {
                        c.garp_master_repeat = n;
                        SET_GARP_M_REPEAT
                    }
                    Field::GarpMasterRefresh => {
                        c.garp_master_refresh_s = n;
                        SET_GARP_M_REFRESH
                    }
                    Field::GarpMasterRefreshRepeat => {
                        c.garp_master_refresh_repeat = n;
                        SET_GARP_M_REFRESH_REPEAT
                    }
                    Field::GarpLowerPrioDelay => {
                        c.garp_lower_prio_delay_s = n;
                        x.garp_l_delay_span = span;
                        SET_GARP_L_DELAY
                    }
                    Field::GarpLowerPrioRepeat => {
                        c.garp_lower_prio_repeat = n;
                        x.garp_l_repeat_span = span;
                        SET_GARP_L_REPEAT
                    }
                    Field::LowerPrioNoAdvert => {
                        c.lower_prio_no_advert = on;
                        SET_LOWER_PRIO
                    }
                    Field::HigherPrioSendAdvert => {
                        c.higher_prio_send_advert = on;
                        SET_HIGHER_PRIO
                    }
                    Field::SkipCheckAdvAddr => {
                        c.skip_check_adv_addr = on;
                        SET_SKIP_CHECK
                    }
                    Field::DownTimerAdverts => {
                        c.down_timer_adverts = n as u8;
                        x.down_timer_span = span;
                        SET_DOWN_TIMER
                    }
                    Field::ChecksumAsV2 => {
                        c.checksum_as_v2 = on;
                        0
                    }
                    Field::SmtpAlert => {
                        c.smtp_alert = on;
                        SET_SMTP
                    }
                    _ => {
                        c.dont_track_primary = on;
                        0
                    }
                };
                x.set |= set;
            }
            Field::ScriptInterval
            | Field::ScriptTimeout
            | Field::ScriptWeight
            | Field::ScriptRise
            | Field::ScriptFall
            | Field::ScriptInitFail => {
                let Some(c) = self.cfg.scripts.get_mut(at) else {
                    return;
                };
                match to {
                    Field::ScriptInterval => c.interval_ms = (v / 1000) as u32,
                    Field::ScriptTimeout => {
                        c.timeout_ms = (v / 1000) as u32;
                        if let Some(x) = self.scripts_extra.get_mut(at) {
                            x.timeout_set = true;
                        }
                    }
                    Field::ScriptWeight => (c.weight, c.reverse) = (weight, reverse),
                    Field::ScriptRise => c.rise = n,
                    Field::ScriptFall => c.fall = n,
                    _ => c.init_fail = on,
                }
            }
            Field::ProcessFullCommand
            | Field::ProcessQuorum
            | Field::ProcessQuorumMax
            | Field::ProcessWeight
            | Field::ProcessDelay
            | Field::ProcessForkDelay
            | Field::ProcessTerminateDelay => {
                let Some(c) = self.cfg.track_processes.get_mut(at) else {
                    return;
                };
                match to {
                    Field::ProcessFullCommand => c.full_command = on,
                    Field::ProcessQuorum => c.quorum = n,
                    Field::ProcessQuorumMax => c.quorum_max = n,
                    Field::ProcessWeight => (c.weight, c.reverse) = (weight, reverse),
                    Field::ProcessForkDelay => c.fork_delay_ms = ms,
                    Field::ProcessTerminateDelay => c.terminate_delay_ms = ms,
                    _ => (c.fork_delay_ms, c.terminate_delay_ms) = (ms, ms),
                }
            }
            Field::FileWeight => {
                if let Some(c) = self.cfg.track_files.get_mut(at) {
                    (c.weight, c.reverse) = (weight, reverse);
                }
            }
            Field::GroupSmtpAlert | Field::GroupTrackingWeight => {
                if let Some(c) = self.cfg.sync_groups.get_mut(at) {
                    if matches!(to, Field::GroupSmtpAlert) {
                        c.smtp_alert = on;
                    } else {
                        c.sync_group_tracking_weight = on;
                    }
                }
            }
        }
    }

    // ----- top level -------------------------------------------------

    fn top(
        &mut self,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
        _brace: bool,
    ) -> Handled {
        match kw {
            "global_defs" => {
                self.no_args(file, kw, args);
                Handled::Block(Ctx::GlobalDefs, "global_defs")
            }
            "vrrp_instance" => {
                let name = self.block_name(file, span, kw, args);
                let idx = self.cfg.instances.len();
                if idx >= MAX_INSTANCES {
                    self.capacity(span, "vrrp_instance blocks", "MAX_INSTANCES", MAX_INSTANCES);
                    return Handled::Block(Ctx::Skip(0), "vrrp_instance");
                }
                let inst = InstanceConfig::new(name, span, &self.cfg.global_defs);
                // Capacity checked above: these pushes cannot fail.
                let _ = self.cfg.instances.push(inst);
                let _ = self.extra.push(InstExtra::default());
                Handled::Block(Ctx::Instance(idx as u16), "vrrp_instance")
            }
            "vrrp_script" => {
                let name = self.block_name(file, span, kw, args);
                let idx = self.cfg.scripts.len();
                let s = VrrpScript {
                    name,
                    span,
                    script: Command::new(),
                    interval_ms: 1000,
                    timeout_ms: 0,
                    weight: 0,
                    reverse: false,
                    rise: 1,
                    fall: 1,
                    init_fail: false,
                    user: None,
                    group: None,
                };
                if self.cfg.scripts.push(s).is_err() {
                    self.capacity(span, "vrrp_script blocks", "MAX_SCRIPTS", MAX_SCRIPTS);
                    return Handled::Block(Ctx::Skip(0), "vrrp_script");
                }
                let _ = self.scripts_extra.push(ScriptExtra::default());
                Handled::Block(Ctx::Script(idx as u16), "vrrp_script")
            }
            "vrrp_track_process" => {
                let name = self.block_name(file, span, kw, args);
                let idx = self.cfg.track_processes.len();
                let t = VrrpTrackProcess {
                    name,
                    span,
                    process: Command::new(),
                    param_match: ParamMatch::None,
                    full_command: false,
                    quorum: 1,
                    quorum_max: u32::MAX,
                    weight: 0,
                    reverse: false,
                    fork_delay_ms: 0,
                    terminate_delay_ms: 0,
                };
                if self.cfg.track_processes.push(t).is_err() {
                    self.capacity(
                        span,
                        "vrrp_track_process blocks",
                        "MAX_TRACK_PROCESSES",
                        MAX_TRACK_PROCESSES,
                    );
                    return Handled::Block(Ctx::Skip(0), "vrrp_track_process");
                }
                Handled::Block(Ctx::TrackProcess(idx as u16), "vrrp_track_process")
            }
            "vrrp_track_file" => {
                let name = self.block_name(file, span, kw, args);
                let idx = self.cfg.track_files.len();
                let t = VrrpTrackFile {
                    name,
                    span,
                    file: PathStr::new(),
                    weight: 1,
                    reverse: false,
                    init_file: None,
                };
                if self.cfg.track_files.push(t).is_err() {
                    self.capacity(
                        span,
                        "vrrp_track_file blocks",
                        "MAX_TRACK_FILES",
                        MAX_TRACK_FILES,
                    );
                    return Handled::Block(Ctx::Skip(0), "vrrp_track_file");
                }
                Handled::Block(Ctx::TrackFile(idx as u16), "vrrp_track_file")
            }
            "vrrp_sync_group" => {
                let name = self.block_name(file, span, kw, args);
                let idx = self.cfg.sync_groups.len();
                let g = SyncGroup {
                    name,
                    span,
                    members: Vec::new(),
                    notify: Notify::default(),
                    smtp_alert: false,
                    track_interface: Vec::new(),
                    track_script: Vec::new(),
                    track_process: Vec::new(),
                    track_file: Vec::new(),
                    sync_group_tracking_weight: false,
                };
                if self.cfg.sync_groups.push(g).is_err() {
                    self.capacity(
                        span,
                        "vrrp_sync_group blocks",
                        "MAX_SYNC_GROUPS",
                        MAX_SYNC_GROUPS,
                    );
                    return Handled::Block(Ctx::Skip(0), "vrrp_sync_group");
                }
                let _ = self.groups.push(GroupExtra::default());
                Handled::Block(Ctx::SyncGroup(idx as u16), "vrrp_sync_group")
            }
            "virtual_server" => self.virtual_server(file, span, args),
            _ => Handled::Unknown,
        }
    }

    fn block_name(&mut self, file: u16, span: Span, kw: &str, args: &[Token<'_>]) -> Name {
        match args.first() {
            None => {
                self.err(span, format_args!("'{kw}' needs a name"));
                Name::new()
            }
            Some(t) => {
                self.extra_words(file, kw, args, 1);
                self.string::<MAX_NAME_LEN>(file, kw, t, "MAX_NAME_LEN")
                    .unwrap_or_default()
            }
        }
    }

    // ----- global_defs -----------------------------------------------

    fn global(&mut self, file: u16, kw: &str, span: Span, args: &[Token<'_>]) -> Handled {
        macro_rules! g {
            () => {
                self.cfg.global_defs
            };
        }
        if self.simple(GLOBAL_SIMPLE, 0, file, kw, span, args) {
            return Handled::Done;
        }
        match kw {
            "router_id" => {
                if let Some(n) = self.name_arg(file, span, kw, args) {
                    g!().router_id = Some(n);
                }
            }
            "notification_email" => {
                return Handled::Block(Ctx::NotificationEmail, "notification_email");
            }
            "notification_email_from" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    if let Some(e) = self.string::<64>(file, kw, &t, "") {
                        g!().notification_email_from = Some(e);
                    }
                }
            }
            "smtp_server" => {
                if let Some(t) = self.need(span, kw, args) {
                    match parse_ip(t.text) {
                        Some(ip) => {
                            let mut port = 25u16;
                            if let Some(p) = args.get(1) {
                                if let Some(v) = self.uint_tok(file, kw, p, 1, 65535) {
                                    port = v as u16;
                                }
                                self.extra_words(file, kw, args, 2);
                            }
                            g!().smtp_server = Some((ip, port));
                        }
                        None => self.warn(
                            span_of(file, &t),
                            format_args!(
                                "smtp_server '{}' is not an IP address; keepvip does not resolve host names, e-mail alerts are disabled",
                                Shown(t.text)
                            ),
                        ),
                    }
                }
            }
            "vrrp_mcast_group4" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    match self.ip(file, kw, &t) {
                        Some(IpAddr::V4(a)) if a.is_multicast() => g!().vrrp_mcast_group4 = a,
                        Some(_) => self.err(
                            span_of(file, &t),
                            format_args!(
                                "vrrp_mcast_group4 must be an IPv4 multicast address (224.0.0.0/4)"
                            ),
                        ),
                        None => {}
                    }
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    match self.ip(file, kw, &t) {
                        Some(IpAddr::V6(a)) if a.is_multicast() => g!().vrrp_mcast_group6 = a,
                        Some(_) => self.err(
                            span_of(file, &t),
                            format_args!(
                                "vrrp_mcast_group6 must be an IPv6 multicast address (ff00::/8)"
                            ),
                        ),
                        None => {}
                    }
                }
            }
            "script_user" => {
                if let Some(t) = self.need(span, kw, args) {
                    g!().script_user = self.string::<MAX_NAME_LEN>(file, kw, &t, "MAX_NAME_LEN");
                    if let Some(gt) = args.get(1) {
                        g!().script_group =
                            self.string::<MAX_NAME_LEN>(file, kw, gt, "MAX_NAME_LEN");
                    }
                    self.extra_words(file, kw, args, 2);
                }
            }
            "notify_fifo" | "vrrp_notify_fifo" => {
                // keepalived: two FIFOs, `PATH [USER [GROUP]]` each; the
                // first of each keyword counts.
                if let Some(f) = self.fifo_cfg(file, span, kw, args) {
                    let slot = if kw == "notify_fifo" {
                        &mut g!().notify_fifo
                    } else {
                        &mut g!().vrrp_notify_fifo
                    };
                    if slot.is_some() {
                        self.warn(
                            span,
                            format_args!("{kw} already specified - ignoring {}", f.path),
                        );
                    } else {
                        *slot = Some(f);
                    }
                }
            }
            "vrrp_rt_priority" | "vrrp_priority" | "vrrp_rlimit_rttime" | "vrrp_rlimit_rtime" => {
                self.sched_global(file, span, kw, args)
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    /// keepalived's scheduling keywords: `vrrp_rt_priority` (1..99, clamped
    /// with a warning), `vrrp_priority` (-20..19), `vrrp_rlimit_rttime` (µs,
    /// at least 2; 1 is taken as 2; `vrrp_rlimit_rtime` is its deprecated
    /// name).
    fn sched_global(&mut self, file: u16, span: Span, kw: &str, args: &[Token<'_>]) {
        let Some(t) = self.need(span, kw, args) else {
            return;
        };
        self.extra_words(file, kw, args, 1);
        let at = span_of(file, &t);
        let v = parse_int(t.text);
        let g = &mut self.cfg.global_defs;
        match (kw, v) {
            ("vrrp_rt_priority", Some(v)) => {
                g.vrrp_rt_priority = v.clamp(1, 99) as u8;
                if v < 1 {
                    self.warn(
                        at,
                        format_args!(
                            "vrrp_rt_priority {v} less than minimum 1 - setting to minimum"
                        ),
                    );
                } else if v > 99 {
                    self.warn(
                        at,
                        format_args!(
                            "vrrp_rt_priority {v} greater than maximum 99 - setting to maximum"
                        ),
                    );
                }
            }
            ("vrrp_priority", Some(v @ -20..=19)) => g.vrrp_priority = v as i8,
            ("vrrp_rlimit_rttime" | "vrrp_rlimit_rtime", Some(v @ 1..=0xffff_ffff)) => {
                g.vrrp_rlimit_rttime_us = (v as u32).max(2);
                if kw == "vrrp_rlimit_rtime" {
                    self.warn(
                        span,
                        format_args!(
                            "'vrrp_rlimit_rtime' is deprecated - please use 'vrrp_rlimit_rttime'"
                        ),
                    );
                }
            }
            _ => {
                let range = match kw {
                    "vrrp_rt_priority" => "a whole number (1 to 99)",
                    "vrrp_priority" => "a whole number from -20 to 19",
                    _ => "a number of microseconds from 1 to 4294967295",
                };
                self.err(
                    at,
                    format_args!("'{kw}' must be {range}, not '{}'", Shown(t.text)),
                );
            }
        }
    }

    fn email(&mut self, file: u16, kw: &str, _span: Span, args: &[Token<'_>]) {
        let t = Token {
            kind: TokenKind::Word,
            text: kw.as_bytes(),
            line: _span.line,
            col: _span.col,
        };
        self.extra_words(file, "notification_email", args, 0);
        if let Some(e) = self.string::<64>(file, "notification_email", &t, "")
            && self.cfg.global_defs.notification_email.push(e).is_err()
        {
            self.capacity(
                _span,
                "notification_email addresses",
                "MAX_NOTIFICATION_EMAILS",
                MAX_NOTIFICATION_EMAILS,
            );
        }
    }

    // ----- vrrp_instance ---------------------------------------------

    fn instance(&mut self, i: u16, file: u16, kw: &str, span: Span, args: &[Token<'_>]) -> Handled {
        let ix = usize::from(i);
        macro_rules! inst {
            () => {
                self.cfg.instances[ix]
            };
        }
        macro_rules! ex {
            () => {
                self.extra[ix]
            };
        }
        if self.simple(INSTANCE_SIMPLE, i, file, kw, span, args) {
            return Handled::Done;
        }
        match kw {
            "state" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    match t.text {
                        b"MASTER" => inst!().state = Some(InitialState::Master),
                        b"BACKUP" => inst!().state = Some(InitialState::Backup),
                        _ => self.err(
                            span_of(file, &t),
                            format_args!(
                                "'state' must be MASTER or BACKUP, not '{}'",
                                Shown(t.text)
                            ),
                        ),
                    }
                    ex!().state_span = span;
                }
            }
            "interface" => {
                ex!().interface_span = span;
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    if let Some(n) = self.ifname(file, kw, &t) {
                        inst!().interface = n;
                    }
                }
            }
            "virtual_router_id" => {
                // Set even when the value is bad: validation then does not
                // also report it missing.
                ex!().vrid_span = span;
                if let Some(v) = self.uint(file, span, kw, args, 1, 255) {
                    inst!().virtual_router_id = v as u8;
                }
            }
            "advert_int" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    match parse_seconds_us(t.text) {
                        Some(us) if us > 0 && us <= 255_000_000 => {
                            ex!().advert_us = Some(us);
                            ex!().advert_span = span_of(file, &t);
                        }
                        _ => self.err(
                            span_of(file, &t),
                            format_args!(
                                "'advert_int' must be a number of seconds above 0 and at most 255 (VRRPv3: 0.01 to 40.95), not '{}'",
                                Shown(t.text)
                            ),
                        ),
                    }
                }
            }
            "authentication" => {
                ex!().auth_span = span;
                return Handled::Block(Ctx::Auth(i), "authentication");
            }
            "virtual_ipaddress" => {
                return Handled::Block(
                    Ctx::Vips {
                        inst: i,
                        excluded: false,
                    },
                    "virtual_ipaddress",
                );
            }
            "virtual_ipaddress_excluded" => {
                return Handled::Block(
                    Ctx::Vips {
                        inst: i,
                        excluded: true,
                    },
                    "virtual_ipaddress_excluded",
                );
            }
            "unicast_src_ip" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    if let Some(ip) = self.ip(file, kw, &t) {
                        inst!().unicast_src_ip = Some(ip);
                    }
                }
            }
            "unicast_peer" => return Handled::Block(Ctx::UnicastPeer(i), "unicast_peer"),
            "mcast_src_ip" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    if let Some(ip) = self.ip(file, kw, &t) {
                        inst!().mcast_src_ip = Some(ip);
                    }
                }
            }
            "track_interface" => {
                return Handled::Block(Ctx::TrackInterface(Owner::Instance(i)), "track_interface");
            }
            "track_script" => {
                return Handled::Block(
                    Ctx::TrackRefs(Owner::Instance(i), TrackKind::Script),
                    "track_script",
                );
            }
            "track_process" => {
                return Handled::Block(
                    Ctx::TrackRefs(Owner::Instance(i), TrackKind::Process),
                    "track_process",
                );
            }
            "track_file" => {
                return Handled::Block(
                    Ctx::TrackRefs(Owner::Instance(i), TrackKind::File),
                    "track_file",
                );
            }
            "notify_master"
            | "notify_backup"
            | "notify_fault"
            | "notify_stop"
            | "notify"
            | "notify_master_rx_lower_pri" => {
                let old = inst!().notify.slot_mut(kw).and_then(|s| *s);
                if let Some(id) = self.pooled_notify_command(file, span, kw, args, old)
                    && let Some(slot) = inst!().notify.slot_mut(kw)
                {
                    *slot = Some(id);
                }
            }
            "notify_fifo" => {
                if let Some(p) = self.path_arg(file, span, kw, args) {
                    inst!().notify_fifo = Some(p);
                }
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn auth(&mut self, i: u16, file: u16, kw: &str, span: Span, args: &[Token<'_>]) -> Handled {
        let ix = usize::from(i);
        match kw {
            "auth_type" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    let ty = match t.text {
                        b"PASS" => Some(AuthType::Pass),
                        b"AH" => Some(AuthType::Ah),
                        _ => None,
                    };
                    match ty {
                        Some(ty) => {
                            self.cfg.instances[ix].authentication.auth_type = ty;
                            self.extra[ix].set |= SET_AUTH_TYPE;
                        }
                        None => self.err(
                            span_of(file, &t),
                            format_args!("'auth_type' must be PASS or AH, not '{}'", Shown(t.text)),
                        ),
                    }
                }
            }
            "auth_pass" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    let mut pass = [0u8; 8];
                    let mut len = 0usize;
                    let mut total = 0usize;
                    let mut put = |s: &[u8]| {
                        for &b in s {
                            if len < 8 {
                                pass[len] = b;
                                len += 1;
                            }
                            total += 1;
                        }
                    };
                    if t.kind == TokenKind::Word {
                        put(t.text);
                    } else {
                        unescape(t.text, &mut put);
                    }
                    if total > 8 {
                        self.warn(
                            span_of(file, &t),
                            format_args!(
                                "auth_pass is {total} characters long; VRRP carries 8, so only the first 8 are used (as keepalived does)"
                            ),
                        );
                    }
                    self.cfg.instances[ix].authentication.auth_pass = pass;
                    if total > 0 {
                        self.extra[ix].set |= SET_AUTH_PASS;
                    }
                }
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn vip(&mut self, i: u16, excluded: bool, file: u16, kw: &str, span: Span, args: &[Token<'_>]) {
        let ix = usize::from(i);
        if !excluded {
            self.extra[ix].vip_lines = true;
        }
        let block = if excluded {
            "virtual_ipaddress_excluded"
        } else {
            "virtual_ipaddress"
        };
        // Address with optional /prefix.
        let (addr_s, prefix_s) = match kw.find('/') {
            Some(p) => (&kw[..p], Some(&kw[p + 1..])),
            None => (kw, None),
        };
        let Some(addr) = parse_ip(addr_s.as_bytes()) else {
            self.err(
                span,
                format_args!("'{kw}' is not a valid address in {block} (expected IP[/PREFIX] [brd IP] [dev IF] [scope SCOPE] [label LABEL])"),
            );
            return;
        };
        let max_prefix: u64 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix_s {
            None => max_prefix as u8,
            Some(p) => match parse_uint(p.as_bytes()) {
                Some(v) if v <= max_prefix => v as u8,
                _ => {
                    self.err(
                        span,
                        format_args!("'{kw}': prefix length must be 0 to {max_prefix}"),
                    );
                    return;
                }
            },
        };
        let mut vip = VirtualIp {
            addr,
            prefix_len,
            brd: None,
            dev: None,
            scope: 0,
            label: None,
            span,
        };
        let mut k = 0;
        let mut bad = false;
        while k < args.len() {
            let opt = &args[k];
            let Some(val) = args.get(k + 1) else {
                self.err(
                    span_of(file, opt),
                    format_args!("'{}' in {block} needs a value", Shown(opt.text)),
                );
                bad = true;
                break;
            };
            match opt.text {
                b"brd" | b"broadcast" => match parse_ip(val.text) {
                    Some(IpAddr::V4(b)) if addr.is_ipv4() => vip.brd = Some(b),
                    _ => {
                        self.err(
                            span_of(file, val),
                            format_args!(
                                "'brd' must be an IPv4 address for an IPv4 address, not '{}'",
                                Shown(val.text)
                            ),
                        );
                        bad = true;
                    }
                },
                b"dev" => match self.ifname(file, "dev", val) {
                    Some(n) => vip.dev = Some(n),
                    None => bad = true,
                },
                b"scope" => {
                    let s = match val.text {
                        b"global" => Some(0),
                        b"site" => Some(200),
                        b"link" => Some(253),
                        b"host" => Some(254),
                        b"nowhere" => Some(255),
                        n => parse_uint(n).filter(|&v| v <= 255).map(|v| v as u8),
                    };
                    match s {
                        Some(s) => vip.scope = s,
                        None => {
                            self.err(
                                span_of(file, val),
                                format_args!("'scope' must be global, site, link, host, nowhere or 0-255, not '{}'", Shown(val.text)),
                            );
                            bad = true;
                        }
                    }
                }
                b"label" => match self.ifname(file, "label", val) {
                    Some(n) => vip.label = Some(n),
                    None => bad = true,
                },
                _ => {
                    self.err(
                        span_of(file, opt),
                        format_args!(
                            "unknown option '{}' in {block} (keepvip supports brd, dev, scope and label)",
                            Shown(opt.text)
                        ),
                    );
                    bad = true;
                    break;
                }
            }
            k += 2;
        }
        if bad {
            return;
        }
        let inst = &mut self.cfg.instances[ix];
        let list = if excluded {
            &mut inst.virtual_ipaddress_excluded
        } else {
            &mut inst.virtual_ipaddress
        };
        if list.iter().any(|v| v.addr == vip.addr && v.dev == vip.dev) {
            self.warn(
                span,
                format_args!("duplicate address {} in {block} ignored", addr),
            );
            return;
        }
        if list.push(vip).is_err() {
            let flag = if excluded {
                &mut self.extra[ix].excluded_overflow
            } else {
                &mut self.extra[ix].vip_overflow
            };
            if !*flag {
                *flag = true;
                self.capacity(span, &concat_what(block), "MAX_VIPS", MAX_VIPS);
            }
        }
    }

    fn peer(&mut self, i: u16, file: u16, kw: &str, span: Span, args: &[Token<'_>]) {
        let ix = usize::from(i);
        let t = Token {
            kind: TokenKind::Word,
            text: kw.as_bytes(),
            line: span.line,
            col: span.col,
        };
        let Some(ip) = self.ip(file, "unicast_peer", &t) else {
            return;
        };
        // keepalived accepts `min_ttl N max_ttl N` here; keepvip ignores them.
        if let Some(a) = args.first() {
            self.warn(
                span_of(file, a),
                format_args!(
                    "options after a unicast_peer address are not supported by keepvip; ignored"
                ),
            );
        }
        let inst = &mut self.cfg.instances[ix];
        if inst.unicast_peer.contains(&ip) {
            self.warn(span, format_args!("duplicate unicast_peer {ip} ignored"));
            return;
        }
        if inst.unicast_peer.push(ip).is_err() && !self.extra[ix].peer_overflow {
            self.extra[ix].peer_overflow = true;
            self.capacity(
                span,
                "unicast_peer entries",
                "MAX_UNICAST_PEERS",
                MAX_UNICAST_PEERS,
            );
        }
    }

    fn track_interface(&mut self, o: Owner, file: u16, kw: &str, span: Span, args: &[Token<'_>]) {
        let t = Token {
            kind: TokenKind::Word,
            text: kw.as_bytes(),
            line: span.line,
            col: span.col,
        };
        let Some(ifname) = self.ifname(file, "track_interface", &t) else {
            return;
        };
        let (mut weight, mut reverse) = (0, false);
        if let Some(w) = args.first() {
            if w.text == b"weight" {
                match self.weight_args(file, span_of(file, w), "track_interface", &args[1..], 253) {
                    Some((wv, r)) => (weight, reverse) = (wv, r),
                    None => return,
                }
            } else {
                self.warn(
                    span_of(file, w),
                    format_args!("extra words after 'track_interface' entry ignored"),
                );
            }
        }
        let ti = TrackInterface {
            ifname,
            weight,
            reverse,
            span,
        };
        let list = match o {
            Owner::Instance(i) => &mut self.cfg.instances[usize::from(i)].track_interface,
            Owner::Group(g) => &mut self.cfg.sync_groups[usize::from(g)].track_interface,
        };
        if list.push(ti).is_err() {
            self.capacity(
                span,
                "track_interface entries",
                "MAX_TRACKERS",
                MAX_TRACKERS,
            );
        }
    }

    fn track_ref(
        &mut self,
        o: Owner,
        k: TrackKind,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) {
        let t = Token {
            kind: TokenKind::Word,
            text: kw.as_bytes(),
            line: span.line,
            col: span.col,
        };
        let Some(name) = self.string::<MAX_NAME_LEN>(file, k.keyword(), &t, "MAX_NAME_LEN") else {
            return;
        };
        let max = if k == TrackKind::Script { 253 } else { 254 };
        let (mut weight, mut reverse) = (None, false);
        let mut rest = args;
        if let Some(w) = rest.first()
            && w.text == b"weight"
        {
            match self.weight_args(file, span_of(file, w), k.keyword(), &rest[1..], max) {
                Some((wv, r)) => (weight, reverse) = (Some(wv), r),
                None => return,
            }
            rest = &[];
        }
        if let Some(r) = rest.first() {
            if r.text == b"reverse" {
                reverse = true;
                self.extra_words(file, k.keyword(), rest, 1);
            } else {
                self.warn(
                    span_of(file, r),
                    format_args!("extra words after '{}' entry ignored", k.keyword()),
                );
            }
        }
        let tr = TrackRef {
            name,
            weight,
            reverse,
            span,
        };
        let (inst, grp);
        let lists = match o {
            Owner::Instance(i) => {
                inst = &mut self.cfg.instances[usize::from(i)];
                (
                    &mut inst.track_script,
                    &mut inst.track_process,
                    &mut inst.track_file,
                )
            }
            Owner::Group(g) => {
                grp = &mut self.cfg.sync_groups[usize::from(g)];
                (
                    &mut grp.track_script,
                    &mut grp.track_process,
                    &mut grp.track_file,
                )
            }
        };
        let list = match k {
            TrackKind::Script => lists.0,
            TrackKind::Process => lists.1,
            TrackKind::File => lists.2,
        };
        if list.push(tr).is_err() {
            let what: &str = match k {
                TrackKind::Script => "track_script entries",
                TrackKind::Process => "track_process entries",
                TrackKind::File => "track_file entries",
            };
            self.capacity(span, what, "MAX_TRACKERS", MAX_TRACKERS);
        }
    }

    // ----- trackers ----------------------------------------------------

    fn script(&mut self, i: u16, file: u16, kw: &str, span: Span, args: &[Token<'_>]) -> Handled {
        let ix = usize::from(i);
        if self.simple(SCRIPT_SIMPLE, i, file, kw, span, args) {
            return Handled::Done;
        }
        match kw {
            "script" => {
                // keepalived takes the first (quoted) word as the command
                // line and ignores the rest without a word: keepvip warns.
                if let Some(c) = self.command(file, span, kw, &args[..args.len().min(1)]) {
                    self.cfg.scripts[ix].script = c;
                }
                if let Some(extra) = args.get(1) {
                    self.warn(
                        span_of(file, extra),
                        format_args!(
                            "'script': words after the command are ignored (keepalived runs only the first word): quote the whole command line"
                        ),
                    );
                }
            }
            "user" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.cfg.scripts[ix].user =
                        self.string::<MAX_NAME_LEN>(file, kw, &t, "MAX_NAME_LEN");
                    if let Some(g) = args.get(1) {
                        self.cfg.scripts[ix].group =
                            self.string::<MAX_NAME_LEN>(file, kw, g, "MAX_NAME_LEN");
                    }
                    self.extra_words(file, kw, args, 2);
                }
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn track_process(
        &mut self,
        i: u16,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        let ix = usize::from(i);
        if self.simple(PROCESS_SIMPLE, i, file, kw, span, args) {
            return Handled::Done;
        }
        match kw {
            "process" => {
                if let Some(c) = self.command(file, span, kw, args) {
                    self.cfg.track_processes[ix].process = c;
                }
            }
            "param_match" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    let m = match t.text {
                        b"exact" => Some(ParamMatch::Exact),
                        b"initial" => Some(ParamMatch::Initial),
                        b"partial" => Some(ParamMatch::Partial),
                        _ => None,
                    };
                    match m {
                        Some(m) => self.cfg.track_processes[ix].param_match = m,
                        None => self.err(
                            span_of(file, &t),
                            format_args!(
                                "'param_match' must be exact, initial or partial, not '{}'",
                                Shown(t.text)
                            ),
                        ),
                    }
                }
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn track_file_blk(
        &mut self,
        i: u16,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        let ix = usize::from(i);
        if self.simple(FILE_SIMPLE, i, file, kw, span, args) {
            return Handled::Done;
        }
        match kw {
            "file" => {
                if let Some(p) = self.path_arg(file, span, kw, args) {
                    self.cfg.track_files[ix].file = p;
                }
            }
            "init_file" => {
                let mut value = 0i32;
                let mut overwrite = false;
                for (k, t) in args.iter().enumerate() {
                    if t.text == b"overwrite" {
                        overwrite = true;
                        self.extra_words(file, kw, args, k + 1);
                        break;
                    }
                    if k > 0 {
                        self.warn(
                            span_of(file, t),
                            format_args!("extra words after 'init_file' ignored"),
                        );
                        break;
                    }
                    match parse_int(t.text).and_then(|v| i32::try_from(v).ok()) {
                        Some(v) => value = v,
                        None => {
                            self.err(
                                span_of(file, t),
                                format_args!(
                                    "'init_file' value must be a whole number, not '{}'",
                                    Shown(t.text)
                                ),
                            );
                            return Handled::Done;
                        }
                    }
                }
                self.cfg.track_files[ix].init_file = Some((value, overwrite));
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    // ----- vrrp_sync_group ---------------------------------------------

    fn sync_group(
        &mut self,
        g: u16,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        let gx = usize::from(g);
        if self.simple(GROUP_SIMPLE, g, file, kw, span, args) {
            return Handled::Done;
        }
        match kw {
            "group" => return Handled::Block(Ctx::SyncGroupMembers(g), "group"),
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                let old = self.cfg.sync_groups[gx]
                    .notify
                    .slot_mut(kw)
                    .and_then(|s| *s);
                if let Some(id) = self.pooled_notify_command(file, span, kw, args, old)
                    && let Some(slot) = self.cfg.sync_groups[gx].notify.slot_mut(kw)
                {
                    *slot = Some(id);
                }
            }
            "track_interface" => {
                return Handled::Block(Ctx::TrackInterface(Owner::Group(g)), "track_interface");
            }
            "track_script" => {
                return Handled::Block(
                    Ctx::TrackRefs(Owner::Group(g), TrackKind::Script),
                    "track_script",
                );
            }
            "track_process" => {
                return Handled::Block(
                    Ctx::TrackRefs(Owner::Group(g), TrackKind::Process),
                    "track_process",
                );
            }
            "track_file" => {
                return Handled::Block(
                    Ctx::TrackRefs(Owner::Group(g), TrackKind::File),
                    "track_file",
                );
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn member(&mut self, g: u16, file: u16, kw: &str, span: Span, args: &[Token<'_>]) {
        let t = Token {
            kind: TokenKind::Word,
            text: kw.as_bytes(),
            line: span.line,
            col: span.col,
        };
        let Some(name) = self.string::<MAX_NAME_LEN>(file, "group", &t, "MAX_NAME_LEN") else {
            return;
        };
        self.extra_words(file, "group", args, 0);
        let count = self.members.iter().filter(|m| m.group == g).count();
        if count >= MAX_SYNC_GROUP_MEMBERS {
            if let Some(ge) = self.groups.get_mut(usize::from(g))
                && !ge.member_overflow
            {
                ge.member_overflow = true;
                self.capacity(
                    span,
                    "instances in one vrrp_sync_group",
                    "MAX_SYNC_GROUP_MEMBERS",
                    MAX_SYNC_GROUP_MEMBERS,
                );
            }
            return;
        }
        // Cannot overflow: PENDING_MEMBERS = groups x members per group.
        let _ = self.members.push(PendingMember {
            group: g,
            name,
            span,
        });
    }
}

fn concat_what(block: &str) -> String<48> {
    let mut s = String::new();
    let _ = s.push_str(block);
    let _ = s.push_str(" entries");
    s
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handled {
    Done,
    /// The keyword opens a block (its `{` follows).
    Block(Ctx, &'static str),
    Unknown,
}
