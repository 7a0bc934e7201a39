//! Parsing of `virtual_server` blocks (a child module of the parser, so it
//! uses the parser's value helpers and diagnostics), and their validation:
//! keepalived's defaults and corrections (`check_data.c`
//! `validate_check_config`), each correction with a warning, and errors
//! for what keepalived would silently drop.
//!
//! Keywords (keepalived 2.2 names; the old `lb_algo`/`lb_kind` too):
//!
//! ```text
//! virtual_server IP [PORT] {
//!   delay_loop, lb_algo|lvs_sched, lb_kind|lvs_method, protocol,
//!   persistence_timeout [N], persistence_granularity, ops, flag-1..3,
//!   sh-port, sh-fallback, mh-port, mh-fallback, hashed, ha_suspend,
//!   alpha, omega, quorum, hysteresis, quorum_up, quorum_down,
//!   sorry_server IP [PORT], sorry_server_inhibit, sorry_server_lvs_method,
//!   connect_timeout, retry, delay_before_retry, warmup, inhibit_on_failure,
//!   virtualhost,
//!   real_server IP [PORT] {
//!     weight, lb_kind|lvs_method, notify_up, notify_down, uthreshold,
//!     lthreshold, virtualhost, alpha, connect_timeout, retry,
//!     delay_before_retry, warmup, delay_loop, inhibit_on_failure,
//!     TCP_CHECK { connect_ip, connect_port, bindto, bind_port, bind_if,
//!                 connect_timeout, retry, delay_before_retry, warmup,
//!                 delay_loop, alpha, log_all_failures }
//!     HTTP_GET { (the same) + url { path, digest, status_code, virtualhost },
//!                virtualhost, http_protocol, fast_recovery, nb_get_retry }
//!     MISC_CHECK { misc_path, misc_timeout, misc_dynamic, user,
//!                  retry, delay_before_retry, warmup, delay_loop, alpha,
//!                  log_all_failures }
//!   }
//! }
//! ```

use core::net::IpAddr;
use heapless::Vec;

use super::*;
use crate::config::diag::{DiagKind, Severity};
use crate::config::lvs::*;

/// Where a line inside a `virtual_server` block belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LvsCtx {
    Vs(u16),
    Rs(u16),
    Checker(u16),
    Url { checker: u16, url: u8 },
}

/// Per virtual server: what was written (for the defaults and warnings).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VsExtra {
    protocol_set: bool,
    sched_set: bool,
    kind_set: bool,
    /// `sh-port`/`sh-fallback`/`mh-*` seen here.
    sh_flags: Option<Span>,
    ops: Option<Span>,
    sorry_port_written: bool,
    sorry_kind_set: bool,
    quorum_span: Span,
    ha_suspend_span: Span,
    granularity_span: Span,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RsExtra {
    port_written: bool,
    kind_set: bool,
    weight_set: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CheckerExtra {
    url_overflow: bool,
}

/// The parser's LVS bookkeeping (bounded, on the parser's stack frame).
#[derive(Debug, Default)]
pub(crate) struct LvsExtra {
    vs: Vec<VsExtra, MAX_VIRTUAL_SERVERS>,
    rs: Vec<RsExtra, MAX_REAL_SERVERS>,
    ck: Vec<CheckerExtra, MAX_CHECKERS>,
}

/// Checker blocks keepalived has and keepvip does not.
const UNSUPPORTED_CHECKERS: &[&str] = &[
    "SSL_GET",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

/// Keywords keepvip accepts and ignores (with a warning) inside LVS blocks.
const IGNORED_LVS_KEYWORDS: &[&str] = &[
    "smtp_alert",
    "snmp_name",
    "persistence_engine",
    "ip_family",
    "fwmark",
    "regex",
    "regex_no_match",
    "regex_options",
    "regex_stack",
    "regex_min_offset",
    "regex_max_offset",
    "enable_sni",
    "track_file",
    "track_bfd",
];

fn max_us(secs: u64) -> u64 {
    secs * 1_000_000
}

impl Parser<'_> {
    // ----- virtual_server header -------------------------------------

    /// `virtual_server IP [PORT] {`.
    pub(super) fn virtual_server(&mut self, file: u16, span: Span, args: &[Token<'_>]) -> Handled {
        let skip = Handled::Block(Ctx::Skip(0), "virtual_server");
        if !cfg!(feature = "lvs") {
            // A build without the load-balancing side does not read these
            // blocks at all (`keepvip -t` prints a note, the daemon warns).
            if self.cfg.lvs.skipped.is_none() {
                self.cfg.lvs.skipped = Some(span);
            }
            return skip;
        }
        let Some(first) = args.first() else {
            self.err(
                span,
                format_args!("'virtual_server' needs an IP address and a port"),
            );
            return skip;
        };
        if first.text == b"fwmark" || first.text == b"group" {
            self.err(
                span_of(file, first),
                format_args!(
                    "'virtual_server {}' is not supported by keepvip (only 'virtual_server IP PORT')",
                    Shown(first.text)
                ),
            );
            return skip;
        }
        let Some(addr) = self.ip(file, "virtual_server", first) else {
            return skip;
        };
        let port = match args.get(1) {
            Some(t) => match self.uint_tok(file, "virtual_server port", t, 0, 65535) {
                Some(v) => v as u16,
                None => return skip,
            },
            None => 0,
        };
        self.extra_words(file, "virtual_server", args, 2);
        let idx = self.cfg.lvs.virtual_servers.len();
        if idx >= MAX_VIRTUAL_SERVERS {
            self.capacity(
                span,
                "virtual_server blocks",
                "MAX_VIRTUAL_SERVERS",
                MAX_VIRTUAL_SERVERS,
            );
            return skip;
        }
        let vs = VirtualServer {
            span,
            addr,
            port,
            protocol: LvsProtocol::Udp,
            lb_algo: SchedName::new(),
            lb_kind: Forwarding::Nat,
            flags: 0,
            persistence_timeout_s: 0,
            persistence_granularity: None,
            delay_loop_us: DEFAULT_DELAY_LOOP_US,
            defaults: Inherited::default(),
            omega: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            ha_suspend: false,
            virtualhost: None,
            owner: None,
            rs_first: self.cfg.lvs.real_servers.len() as u16,
            rs_count: 0,
        };
        // Capacity checked above.
        let _ = self.cfg.lvs.virtual_servers.push(vs);
        let _ = self.lvs.vs.push(VsExtra::default());
        Handled::Block(Ctx::Lvs(LvsCtx::Vs(idx as u16)), "virtual_server")
    }

    pub(super) fn lvs(
        &mut self,
        c: LvsCtx,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        if !cfg!(feature = "lvs") {
            return Handled::Done;
        }
        if let Some(h) = self.lvs_unclosed(c, file, kw, span, args) {
            return h;
        }
        let h = match c {
            LvsCtx::Vs(v) => self.lvs_vs(usize::from(v), file, kw, span, args),
            LvsCtx::Rs(r) => self.lvs_rs(usize::from(r), file, kw, span, args),
            LvsCtx::Checker(k) => self.lvs_checker(usize::from(k), file, kw, span, args),
            LvsCtx::Url { checker, url } => {
                self.lvs_url(usize::from(checker), usize::from(url), file, kw, span, args)
            }
        };
        if matches!(h, Handled::Unknown) && IGNORED_LVS_KEYWORDS.contains(&kw) {
            self.warn(
                span,
                format_args!("'{kw}' is not supported by keepvip; ignored"),
            );
            return Handled::Done;
        }
        h
    }

    /// A `real_server` (or checker) keyword one level too deep means a
    /// `}` is missing: report it at the block that is still open, close
    /// the blocks, and read the keyword where it belongs.
    fn lvs_unclosed(
        &mut self,
        c: LvsCtx,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Option<Handled> {
        let is_checker = matches!(kw, "TCP_CHECK" | "HTTP_GET" | "MISC_CHECK");
        let (pop, target) = match (c, kw) {
            (LvsCtx::Rs(r), "real_server") => {
                (1, LvsCtx::Vs(self.cfg.lvs.real_servers[usize::from(r)].vs))
            }
            (LvsCtx::Checker(k), _) if kw == "real_server" || is_checker => {
                let r = self.cfg.lvs.checkers[usize::from(k)].rs;
                if is_checker {
                    (1, LvsCtx::Rs(r))
                } else {
                    (2, LvsCtx::Vs(self.cfg.lvs.real_servers[usize::from(r)].vs))
                }
            }
            (LvsCtx::Url { checker, .. }, _)
                if kw == "real_server" || is_checker || kw == "url" =>
            {
                let r = self.cfg.lvs.checkers[usize::from(checker)].rs;
                match kw {
                    "url" => (1, LvsCtx::Checker(checker)),
                    "real_server" => (3, LvsCtx::Vs(self.cfg.lvs.real_servers[usize::from(r)].vs)),
                    _ => (2, LvsCtx::Rs(r)),
                }
            }
            _ => return None,
        };
        let open = self.stack.len().checked_sub(pop)?;
        let inner = *self.stack.last()?;
        self.err(
            span,
            format_args!(
                "missing '}}': the '{}' block opened at line {} is still open where '{kw}' starts",
                inner.keyword, inner.span.line
            ),
        );
        self.stack.truncate(open);
        Some(self.lvs(target, file, kw, span, args))
    }

    /// "'KW' must be WHAT, not 'VALUE'" at the value.
    fn bad_value(&mut self, file: u16, t: &Token<'_>, kw: &str, what: &str) {
        self.err(
            span_of(file, t),
            format_args!("'{kw}' must be {what}, not '{}'", Shown(t.text)),
        );
    }

    // ----- shared keyword groups ---------------------------------------

    /// The timing/behaviour keywords of every level; `Some(true)` if `kw`
    /// was one of them.
    fn inherited_kw(
        &mut self,
        inh: &mut Inherited,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
        connection: bool,
    ) -> bool {
        match kw {
            "connect_timeout" if connection => {
                if let Some(us) = self.seconds(file, span, kw, args, 10_000, max_us(3600)) {
                    inh.connect_timeout_us = Some(us);
                }
            }
            "retry" => {
                if let Some(v) = self.u32_val(file, span, kw, args, 0, 1_000_000) {
                    inh.retry = Some(v);
                }
            }
            "delay_before_retry" => {
                if let Some(us) = self.seconds(file, span, kw, args, 0, max_us(86_400)) {
                    inh.delay_before_retry_us = Some(us);
                }
            }
            "warmup" => {
                if let Some(us) = self.seconds(file, span, kw, args, 0, max_us(86_400)) {
                    inh.warmup_us = Some(us);
                }
            }
            "delay_loop" => {
                if let Some(us) = self.seconds(file, span, kw, args, 10_000, max_us(86_400)) {
                    inh.delay_loop_us = Some(us);
                }
            }
            "alpha" => inh.alpha = Some(self.flag(file, kw, args)),
            "inhibit_on_failure" => inh.inhibit_on_failure = Some(self.flag(file, kw, args)),
            _ => return false,
        }
        true
    }

    /// `lb_kind` / `lvs_method` value.
    fn forwarding(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
    ) -> Option<Forwarding> {
        let t = self.need(span, kw, args)?;
        let f = match t.text {
            b"NAT" => Forwarding::Nat,
            b"DR" => Forwarding::Dr,
            b"TUN" => Forwarding::Tun,
            _ => {
                self.bad_value(file, &t, kw, "NAT, DR or TUN");
                return None;
            }
        };
        if f == Forwarding::Tun && args.len() > 1 {
            if args[1].text == b"type" && args.get(2).is_some_and(|x| x.text == b"ipip") {
                self.extra_words(file, kw, args, 3);
            } else {
                self.err(
                    span_of(file, &args[1]),
                    format_args!(
                        "'{kw} TUN': only the default tunnel type ipip is supported by keepvip"
                    ),
                );
            }
        } else {
            self.extra_words(file, kw, args, 1);
        }
        Some(f)
    }

    fn host_name(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
    ) -> Option<HostName> {
        let t = self.need(span, kw, args)?;
        self.extra_words(file, kw, args, 1);
        self.string::<64>(file, kw, &t, "")
    }

    /// `IP [PORT]` of `real_server` / `sorry_server`; the port is `None`
    /// when absent (or written as 0).
    fn addr_port(
        &mut self,
        file: u16,
        span: Span,
        kw: &str,
        args: &[Token<'_>],
    ) -> Option<(IpAddr, Option<u16>)> {
        let Some(t) = args.first() else {
            self.err(span, format_args!("'{kw}' needs an IP address"));
            return None;
        };
        let ip = self.ip(file, kw, t)?;
        let port = match args.get(1) {
            Some(p) => {
                let v = self.uint_tok(file, kw, p, 0, 65535)? as u16;
                (v != 0).then_some(v)
            }
            None => None,
        };
        self.extra_words(file, kw, args, 2);
        Some((ip, port))
    }

    // ----- virtual_server --------------------------------------------

    fn lvs_vs(&mut self, v: usize, file: u16, kw: &str, span: Span, args: &[Token<'_>]) -> Handled {
        macro_rules! vs {
            () => {
                self.cfg.lvs.virtual_servers[v]
            };
        }
        let mut inh = vs!().defaults;
        if self.inherited_kw(&mut inh, file, kw, span, args, true) {
            vs!().defaults = inh;
            if let Some(d) = inh.delay_loop_us {
                vs!().delay_loop_us = d;
            }
            return Handled::Done;
        }
        match kw {
            "lb_algo" | "lvs_sched" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    let known = core::str::from_utf8(t.text)
                        .ok()
                        .filter(|s| SCHEDULERS.contains(s));
                    match known {
                        Some(s) => {
                            vs!().lb_algo = SchedName::try_from(s).unwrap_or_default();
                            self.lvs.vs[v].sched_set = true;
                        }
                        None => {
                            self.lvs.vs[v].sched_set = true;
                            self.bad_value(
                                file,
                                &t,
                                kw,
                                "an IPVS scheduler: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, mh, sed, nq, fo, ovf or twos",
                            );
                        }
                    }
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(f) = self.forwarding(file, span, kw, args) {
                    vs!().lb_kind = f;
                    self.lvs.vs[v].kind_set = true;
                }
            }
            "protocol" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    let p = if t.text.eq_ignore_ascii_case(b"TCP") {
                        Some(LvsProtocol::Tcp)
                    } else if t.text.eq_ignore_ascii_case(b"UDP") {
                        Some(LvsProtocol::Udp)
                    } else if t.text.eq_ignore_ascii_case(b"SCTP") {
                        Some(LvsProtocol::Sctp)
                    } else {
                        None
                    };
                    match p {
                        Some(p) => {
                            vs!().protocol = p;
                            self.lvs.vs[v].protocol_set = true;
                        }
                        None => {
                            self.lvs.vs[v].protocol_set = true;
                            self.bad_value(file, &t, "protocol", "TCP, UDP or SCTP");
                        }
                    }
                }
            }
            "persistence_timeout" => {
                if args.is_empty() {
                    vs!().persistence_timeout_s = DEFAULT_PERSISTENCE_TIMEOUT_S;
                } else if let Some(s) = self.u32_val(file, span, kw, args, 1, u32::MAX) {
                    vs!().persistence_timeout_s = s;
                }
            }
            "persistence_granularity" => {
                self.lvs.vs[v].granularity_span = span;
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    let g = match vs!().addr {
                        IpAddr::V4(_) => match parse_ip(t.text) {
                            Some(IpAddr::V4(m)) => {
                                let m = u32::from_be_bytes(m.octets());
                                // A solid netmask: ones, then zeros.
                                (m != 0 && (!m).wrapping_add(1) & !m == 0).then_some(m)
                            }
                            _ => None,
                        },
                        IpAddr::V6(_) => parse_uint(t.text)
                            .filter(|p| (1..=128).contains(p))
                            .map(|p| p as u32),
                    };
                    match g {
                        Some(g) => vs!().persistence_granularity = Some(g),
                        None => self.bad_value(file, &t, "persistence_granularity", "a netmask such as 255.255.255.0 (IPv4) or a prefix length 1-128 (IPv6)"),
                    }
                }
            }
            "ops" | "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port"
            | "mh-fallback" | "hashed" => {
                self.no_args(file, kw, args);
                let bit = match kw {
                    "ops" => svc_flags::ONEPACKET,
                    "flag-1" | "sh-fallback" | "mh-fallback" => svc_flags::SCHED1,
                    "flag-2" | "sh-port" | "mh-port" => svc_flags::SCHED2,
                    "flag-3" => svc_flags::SCHED3,
                    _ => svc_flags::HASHED,
                };
                vs!().flags |= bit;
                if kw.starts_with("sh-") || kw.starts_with("mh-") {
                    self.lvs.vs[v].sh_flags = Some(span);
                }
                if kw == "ops" {
                    self.lvs.vs[v].ops = Some(span);
                }
            }
            "ha_suspend" => {
                self.no_args(file, kw, args);
                vs!().ha_suspend = true;
                self.lvs.vs[v].ha_suspend_span = span;
            }
            "omega" => vs!().omega = self.flag(file, kw, args),
            "quorum" => {
                self.lvs.vs[v].quorum_span = span;
                if let Some(q) = self.u32_val(file, span, kw, args, 1, u32::MAX) {
                    vs!().quorum = q;
                }
            }
            "hysteresis" => {
                if let Some(h) = self.u32_val(file, span, kw, args, 0, u32::MAX) {
                    vs!().hysteresis = h;
                }
            }
            "quorum_up" => {
                let old = vs!().quorum_up;
                if let Some(id) = self.pooled_notify_command(file, span, kw, args, old) {
                    vs!().quorum_up = Some(id);
                }
            }
            "quorum_down" => {
                let old = vs!().quorum_down;
                if let Some(id) = self.pooled_notify_command(file, span, kw, args, old) {
                    vs!().quorum_down = Some(id);
                }
            }
            "virtualhost" => {
                if let Some(h) = self.host_name(file, span, kw, args) {
                    vs!().virtualhost = Some(h);
                }
            }
            "sorry_server" => {
                if let Some((addr, port)) = self.addr_port(file, span, kw, args) {
                    let (inhibit, lb_kind) = match vs!().sorry_server {
                        Some(s) => (s.inhibit, s.lb_kind),
                        None => (false, vs!().lb_kind),
                    };
                    vs!().sorry_server = Some(SorryServer {
                        addr,
                        port: port.unwrap_or(0),
                        inhibit,
                        lb_kind,
                        span,
                    });
                    self.lvs.vs[v].sorry_port_written = port.is_some();
                }
            }
            "sorry_server_inhibit" => {
                self.no_args(file, kw, args);
                match vs!().sorry_server.as_mut() {
                    Some(s) => s.inhibit = true,
                    None => self.err(
                        span,
                        format_args!("'sorry_server_inhibit' needs a 'sorry_server' before it"),
                    ),
                }
            }
            "sorry_server_lvs_method" => {
                if let Some(f) = self.forwarding(file, span, kw, args) {
                    match vs!().sorry_server.as_mut() {
                        Some(s) => s.lb_kind = f,
                        None => self.err(
                            span,
                            format_args!(
                                "'sorry_server_lvs_method' needs a 'sorry_server' before it"
                            ),
                        ),
                    }
                    self.lvs.vs[v].sorry_kind_set = true;
                }
            }
            "real_server" => return self.real_server(v, file, span, args),
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn real_server(&mut self, v: usize, file: u16, span: Span, args: &[Token<'_>]) -> Handled {
        let skip = Handled::Block(Ctx::Skip(0), "real_server");
        let Some((addr, port)) = self.addr_port(file, span, "real_server", args) else {
            return skip;
        };
        let idx = self.cfg.lvs.real_servers.len();
        if idx >= MAX_REAL_SERVERS {
            self.capacity(
                span,
                "real_server blocks",
                "MAX_REAL_SERVERS",
                MAX_REAL_SERVERS,
            );
            return skip;
        }
        let vs = &self.cfg.lvs.virtual_servers[v];
        let rs = RealServer {
            span,
            vs: v as u16,
            addr,
            port: port.unwrap_or(0),
            weight: 1,
            lb_kind: vs.lb_kind,
            inhibit_on_failure: false,
            defaults: Inherited::default(),
            notify_up: None,
            notify_down: None,
            uthreshold: 0,
            lthreshold: 0,
            virtualhost: None,
            checker_first: self.cfg.lvs.checkers.len() as u16,
            checker_count: 0,
        };
        let _ = self.cfg.lvs.real_servers.push(rs);
        let _ = self.lvs.rs.push(RsExtra {
            port_written: port.is_some(),
            ..RsExtra::default()
        });
        self.cfg.lvs.virtual_servers[v].rs_count += 1;
        Handled::Block(Ctx::Lvs(LvsCtx::Rs(idx as u16)), "real_server")
    }

    // ----- real_server -----------------------------------------------

    fn lvs_rs(&mut self, r: usize, file: u16, kw: &str, span: Span, args: &[Token<'_>]) -> Handled {
        macro_rules! rs {
            () => {
                self.cfg.lvs.real_servers[r]
            };
        }
        let mut inh = rs!().defaults;
        if self.inherited_kw(&mut inh, file, kw, span, args, true) {
            rs!().defaults = inh;
            return Handled::Done;
        }
        match kw {
            "weight" => {
                if let Some(w) = self.u32_val(file, span, kw, args, 0, WEIGHT_MAX) {
                    rs!().weight = w;
                    self.lvs.rs[r].weight_set = true;
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(f) = self.forwarding(file, span, kw, args) {
                    rs!().lb_kind = f;
                    self.lvs.rs[r].kind_set = true;
                }
            }
            "notify_up" => {
                let old = rs!().notify_up;
                if let Some(id) = self.pooled_notify_command(file, span, kw, args, old) {
                    rs!().notify_up = Some(id);
                }
            }
            "notify_down" => {
                let old = rs!().notify_down;
                if let Some(id) = self.pooled_notify_command(file, span, kw, args, old) {
                    rs!().notify_down = Some(id);
                }
            }
            "uthreshold" => {
                if let Some(v) = self.u32_val(file, span, kw, args, 0, u32::MAX) {
                    rs!().uthreshold = v;
                }
            }
            "lthreshold" => {
                if let Some(v) = self.u32_val(file, span, kw, args, 0, u32::MAX) {
                    rs!().lthreshold = v;
                }
            }
            "virtualhost" => {
                if let Some(h) = self.host_name(file, span, kw, args) {
                    rs!().virtualhost = Some(h);
                }
            }
            "nb_get_retry" => self.nb_get_retry_outside_http(span, "real_server"),
            "TCP_CHECK" | "HTTP_GET" | "MISC_CHECK" => {
                self.no_args(file, kw, args);
                let kind = match kw {
                    "TCP_CHECK" => CheckerKind::Tcp,
                    "HTTP_GET" => CheckerKind::Http(HttpGet {
                        urls: Vec::new(),
                        virtualhost: None,
                        http_protocol: HttpProtocol::V1_0,
                        fast_recovery: false,
                    }),
                    _ => CheckerKind::Misc(MiscCheck {
                        misc_path: Command::new(),
                        misc_timeout_s: None,
                        misc_dynamic: false,
                        user: None,
                        group: None,
                    }),
                };
                return self.checker(r, span, kind);
            }
            _ if UNSUPPORTED_CHECKERS.contains(&kw) => {
                self.warn(
                    span,
                    format_args!(
                        "'{kw}' is not supported by keepvip; ignored (it does not count as a failed check)"
                    ),
                );
                return Handled::Block(Ctx::Skip(0), "checker");
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn nb_get_retry_outside_http(&mut self, span: Span, block: &str) {
        self.warn(
            span,
            format_args!(
                "'nb_get_retry' is not a {block} keyword in keepalived 2.x; ignored as keepalived does (use 'retry')"
            ),
        );
    }

    fn checker(&mut self, r: usize, span: Span, kind: CheckerKind) -> Handled {
        let idx = self.cfg.lvs.checkers.len();
        if idx >= MAX_CHECKERS {
            self.capacity(span, "health checkers", "MAX_CHECKERS", MAX_CHECKERS);
            return Handled::Block(Ctx::Skip(0), "checker");
        }
        let c = Checker {
            span,
            rs: r as u16,
            kind,
            written: Inherited::default(),
            connect_ip: None,
            connect_port: None,
            bindto: None,
            bind_port: None,
            bind_if: None,
            connect_timeout_us: 0,
            retry: 0,
            delay_before_retry_us: 0,
            warmup_us: 0,
            delay_loop_us: 0,
            alpha: false,
            log_all_failures: false,
        };
        let kw = c.kind.keyword();
        let _ = self.cfg.lvs.checkers.push(c);
        let _ = self.lvs.ck.push(CheckerExtra::default());
        self.cfg.lvs.real_servers[r].checker_count += 1;
        Handled::Block(Ctx::Lvs(LvsCtx::Checker(idx as u16)), kw)
    }

    // ----- checkers --------------------------------------------------

    fn lvs_checker(
        &mut self,
        k: usize,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        macro_rules! ck {
            () => {
                self.cfg.lvs.checkers[k]
            };
        }
        let is_misc = matches!(ck!().kind, CheckerKind::Misc(_));
        let is_http = matches!(ck!().kind, CheckerKind::Http(_));
        let mut inh = ck!().written;
        if kw != "inhibit_on_failure" && self.inherited_kw(&mut inh, file, kw, span, args, !is_misc)
        {
            ck!().written = inh;
            return Handled::Done;
        }
        match (kw, is_misc) {
            ("log_all_failures", _) => ck!().log_all_failures = self.flag(file, kw, args),
            ("connect_ip", false) => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    if let Some(ip) = self.ip(file, kw, &t) {
                        ck!().connect_ip = Some(ip);
                    }
                }
            }
            ("bindto", false) => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    if let Some(ip) = self.ip(file, kw, &t) {
                        ck!().bindto = Some(ip);
                    }
                }
            }
            ("connect_port", false) | ("bind_port", false) => {
                if let Some(p) = self.uint(file, span, kw, args, 1, 65535) {
                    if kw == "connect_port" {
                        ck!().connect_port = Some(p as u16);
                    } else {
                        ck!().bind_port = Some(p as u16);
                    }
                }
            }
            ("bind_if", false) => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    if let Some(n) = self.ifname(file, kw, &t) {
                        ck!().bind_if = Some(n);
                    }
                }
            }
            ("nb_get_retry", _) if is_http => {
                self.warn(
                    span,
                    format_args!("'nb_get_retry' is deprecated; use 'retry' (same meaning)"),
                );
                let mut inh = ck!().written;
                if let Some(v) = self.u32_val(file, span, kw, args, 0, 1_000_000) {
                    inh.retry = Some(v);
                }
                ck!().written = inh;
            }
            ("nb_get_retry", _) => {
                let block = ck!().kind.keyword();
                self.nb_get_retry_outside_http(span, block);
            }
            _ if is_http => return self.http_kw(k, file, kw, span, args),
            _ if is_misc => return self.misc_kw(k, file, kw, span, args),
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn http_kw(
        &mut self,
        k: usize,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        let mut host = None;
        let mut proto = None;
        let mut fast = None;
        match kw {
            "virtualhost" => host = self.host_name(file, span, kw, args),
            "http_protocol" => {
                if let Some(t) = self.need(span, kw, args) {
                    self.extra_words(file, kw, args, 1);
                    proto = match t.text {
                        b"1.0" => Some(HttpProtocol::V1_0),
                        b"1.0C" | b"1.0c" => Some(HttpProtocol::V1_0C),
                        b"1.1" => Some(HttpProtocol::V1_1),
                        _ => {
                            self.bad_value(file, &t, "http_protocol", "1.0, 1.0C or 1.1");
                            None
                        }
                    };
                }
            }
            "fast_recovery" => fast = Some(self.flag(file, kw, args)),
            "url" => {
                self.no_args(file, kw, args);
                let CheckerKind::Http(h) = &mut self.cfg.lvs.checkers[k].kind else {
                    return Handled::Unknown;
                };
                let n = h.urls.len();
                let url = Url {
                    path: PathStr::new(),
                    digest: None,
                    status_code: StatusCodes::empty(),
                    virtualhost: None,
                    span,
                };
                if h.urls.push(url).is_err() {
                    if !self.lvs.ck[k].url_overflow {
                        self.lvs.ck[k].url_overflow = true;
                        self.capacity(
                            span,
                            "url blocks in one HTTP_GET",
                            "MAX_HTTP_URLS",
                            MAX_HTTP_URLS,
                        );
                    }
                    return Handled::Block(Ctx::Skip(0), "url");
                }
                return Handled::Block(
                    Ctx::Lvs(LvsCtx::Url {
                        checker: k as u16,
                        url: n as u8,
                    }),
                    "url",
                );
            }
            _ => return Handled::Unknown,
        }
        if let CheckerKind::Http(h) = &mut self.cfg.lvs.checkers[k].kind {
            if let Some(x) = host {
                h.virtualhost = Some(x);
            }
            if let Some(x) = proto {
                h.http_protocol = x;
            }
            if let Some(x) = fast {
                h.fast_recovery = x;
            }
        }
        Handled::Done
    }

    fn misc_kw(
        &mut self,
        k: usize,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        macro_rules! misc {
            () => {
                match &mut self.cfg.lvs.checkers[k].kind {
                    CheckerKind::Misc(m) => m,
                    _ => return Handled::Unknown,
                }
            };
        }
        match kw {
            "misc_path" => {
                if let Some(c) = self.command(file, span, kw, args) {
                    misc!().misc_path = c;
                }
            }
            "misc_timeout" => {
                if let Some(s) = self.u32_val(file, span, kw, args, 0, 86_400) {
                    misc!().misc_timeout_s = (s > 0).then_some(s);
                }
            }
            "misc_dynamic" => {
                let f = self.flag(file, kw, args);
                misc!().misc_dynamic = f;
            }
            "user" => {
                if let Some(t) = self.need(span, kw, args) {
                    let user = self.string::<MAX_NAME_LEN>(file, kw, &t, "MAX_NAME_LEN");
                    let group = match args.get(1) {
                        Some(g) => self.string::<MAX_NAME_LEN>(file, kw, g, "MAX_NAME_LEN"),
                        None => None,
                    };
                    self.extra_words(file, kw, args, 2);
                    let m = misc!();
                    m.user = user;
                    m.group = group;
                }
            }
            _ => return Handled::Unknown,
        }
        Handled::Done
    }

    fn lvs_url(
        &mut self,
        k: usize,
        u: usize,
        file: u16,
        kw: &str,
        span: Span,
        args: &[Token<'_>],
    ) -> Handled {
        enum Set {
            Path(PathStr),
            Digest([u8; 16]),
            Codes(StatusCodes),
            Host(HostName),
            Nothing,
        }
        let set = match kw {
            "path" => match self.path_arg(file, span, kw, args) {
                Some(p) if p.starts_with('/') => Set::Path(p),
                Some(p) => {
                    self.err(
                        span,
                        format_args!("url 'path' must start with '/', not '{p}'"),
                    );
                    Set::Nothing
                }
                None => Set::Nothing,
            },
            "digest" => match self.need(span, kw, args) {
                Some(t) => {
                    self.extra_words(file, kw, args, 1);
                    match parse_digest(t.text) {
                        Some(d) => Set::Digest(d),
                        None => {
                            self.bad_value(
                                file,
                                &t,
                                "digest",
                                "32 hexadecimal digits (an MD5 sum, as genhash prints it)",
                            );
                            Set::Nothing
                        }
                    }
                }
                None => Set::Nothing,
            },
            "status_code" => {
                if args.is_empty() {
                    self.err(span, format_args!("'status_code' needs a value"));
                }
                let mut codes = StatusCodes::empty();
                for t in args {
                    match parse_status_range(t.text) {
                        Some((lo, hi)) => codes.insert_range(lo, hi),
                        None => self.bad_value(
                            file,
                            t,
                            "status_code",
                            "given as codes or ranges from 100 to 599 (e.g. 200 or 200-299)",
                        ),
                    }
                }
                Set::Codes(codes)
            }
            "virtualhost" => match self.host_name(file, span, kw, args) {
                Some(h) => Set::Host(h),
                None => Set::Nothing,
            },
            _ => return Handled::Unknown,
        };
        if let CheckerKind::Http(h) = &mut self.cfg.lvs.checkers[k].kind
            && let Some(url) = h.urls.get_mut(u)
        {
            match set {
                Set::Path(p) => url.path = p,
                Set::Digest(d) => {
                    if url.digest.is_some() {
                        self.d.warning(
                            span,
                            format_args!("a second 'digest' in one url replaces the first"),
                        );
                    }
                    url.digest = Some(d);
                }
                Set::Codes(c) => {
                    for (lo, hi) in c.ranges() {
                        url.status_code.insert_range(lo, hi);
                    }
                }
                Set::Host(x) => url.virtualhost = Some(x),
                Set::Nothing => {}
            }
        }
        Handled::Done
    }
}

/// `200` or `200-299`, within 100..=599.
fn parse_status_range(s: &[u8]) -> Option<(u16, u16)> {
    let (a, b) = match s.iter().position(|&c| c == b'-') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, s),
    };
    let lo = u16::try_from(parse_uint(a)?).ok()?;
    let hi = u16::try_from(parse_uint(b)?).ok()?;
    let ok = |c: u16| (HTTP_STATUS_MIN..=HTTP_STATUS_MAX).contains(&c);
    (ok(lo) && ok(hi) && lo <= hi).then_some((lo, hi))
}

// ----- validation ------------------------------------------------------

fn same_family(a: &IpAddr, b: &IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// Resolves defaults, applies keepalived's corrections (with warnings) and
/// reports what cannot work. Runs after the VRRP validation (it needs the
/// instances' VIPs).
pub(crate) fn finish(p: &mut Parser<'_>) {
    if !cfg!(feature = "lvs") {
        return;
    }
    for v in 0..p.cfg.lvs.virtual_servers.len() {
        virtual_server(p, v);
    }
    for k in 0..p.cfg.lvs.checkers.len() {
        checker(p, k);
    }
    scripts(p);
}

fn virtual_server(p: &mut Parser<'_>, v: usize) {
    let ex = p.lvs.vs.get(v).copied().unwrap_or_default();
    let vs = VsSnap::of(&p.cfg.lvs.virtual_servers[v]);
    let at = vs.span;
    let name = Trio {
        addr: vs.addr,
        protocol: vs.protocol,
        port: vs.port,
    };
    if vs.rs_count == 0 {
        p.warn(
            at,
            format_args!(
                "virtual_server {} {} has no real_server; ignored",
                vs.addr, vs.port
            ),
        );
        return;
    }
    if !ex.protocol_set {
        p.warn(
            at,
            format_args!("no 'protocol' set: using UDP (keepalived's default)"),
        );
    }
    if !ex.sched_set {
        p.warn(
            at,
            format_args!("no 'lb_algo' set: using '{DEFAULT_SCHEDULER}' (keepalived's default)"),
        );
        p.cfg.lvs.virtual_servers[v].lb_algo =
            SchedName::try_from(DEFAULT_SCHEDULER).unwrap_or_default();
    }
    if !ex.kind_set {
        p.warn(
            at,
            format_args!("no 'lb_kind' set: using NAT (keepalived's default)"),
        );
    }
    if let Some(s) = ex.ops
        && vs.protocol != LvsProtocol::Udp
    {
        p.warn(
            s,
            format_args!("'ops' (one-packet scheduling) needs protocol UDP; ignored"),
        );
        p.cfg.lvs.virtual_servers[v].flags &= !svc_flags::ONEPACKET;
    }
    let sched_sh = matches!(p.cfg.lvs.virtual_servers[v].lb_algo.as_str(), "sh" | "mh");
    if let Some(s) = ex.sh_flags
        && !sched_sh
    {
        p.warn(
            s,
            format_args!("sh-/mh- flags only apply to the sh and mh schedulers; ignored"),
        );
        p.cfg.lvs.virtual_servers[v].flags &= !(svc_flags::SCHED1 | svc_flags::SCHED2);
    }
    if vs.port == 0 && vs.persistence_timeout_s == 0 {
        p.warn(
            at,
            format_args!(
                "port 0 is only valid for a persistent service: persistence_timeout set to {DEFAULT_PERSISTENCE_TIMEOUT_S} s (as keepalived does)"
            ),
        );
        p.cfg.lvs.virtual_servers[v].persistence_timeout_s = DEFAULT_PERSISTENCE_TIMEOUT_S;
    }
    if vs.persistence_granularity.is_some()
        && p.cfg.lvs.virtual_servers[v].persistence_timeout_s == 0
    {
        p.warn(
            ex.granularity_span,
            format_args!(
                "persistence_granularity without persistence_timeout: persistence_timeout set to {DEFAULT_PERSISTENCE_TIMEOUT_S} s (as keepalived does)"
            ),
        );
        p.cfg.lvs.virtual_servers[v].persistence_timeout_s = DEFAULT_PERSISTENCE_TIMEOUT_S;
    }

    // The instance whose VIP this is.
    let owner = p.cfg.instances.iter().position(|i| {
        i.virtual_ipaddress
            .iter()
            .chain(i.virtual_ipaddress_excluded.iter())
            .any(|x| x.addr == vs.addr)
    });
    p.cfg.lvs.virtual_servers[v].owner = owner.map(|o| o as u16);
    if vs.ha_suspend && owner.is_none() {
        p.warn(
            ex.ha_suspend_span,
            format_args!(
                "'ha_suspend' needs the virtual server's address to be a VIP of a vrrp_instance; ignored"
            ),
        );
        p.cfg.lvs.virtual_servers[v].ha_suspend = false;
    }

    // Real servers.
    let first = usize::from(vs.rs_first);
    let mut weight_sum: u64 = 0;
    for r in first..first + usize::from(vs.rs_count) {
        let rex = p.lvs.rs.get(r).copied().unwrap_or_default();
        let rs = RsSnap::of(&p.cfg.lvs.real_servers[r]);
        let kind = if rex.kind_set { rs.lb_kind } else { vs.lb_kind };
        p.cfg.lvs.real_servers[r].lb_kind = kind;
        if kind != Forwarding::Tun && !same_family(&rs.addr, &vs.addr) {
            p.err(
                rs.span,
                format_args!(
                    "real_server {} and virtual_server {} are of different address families (only TUN can mix them)",
                    rs.addr, vs.addr
                ),
            );
        }
        if !rex.port_written {
            p.cfg.lvs.real_servers[r].port = vs.port;
        } else if kind != Forwarding::Nat && rs.port != vs.port && vs.port != 0 {
            p.warn(
                rs.span,
                format_args!(
                    "real_server port {} differs from the virtual_server's port {} and only NAT can change ports: using {} (as keepalived does)",
                    rs.port, vs.port, vs.port
                ),
            );
            p.cfg.lvs.real_servers[r].port = vs.port;
        }
        let port = p.cfg.lvs.real_servers[r].port;
        if let Some(d) = (first..r).find(|&o| {
            let x = &p.cfg.lvs.real_servers[o];
            x.addr == rs.addr && x.port == port
        }) {
            let line = p.cfg.lvs.real_servers[d].span.line;
            p.err(
                rs.span,
                format_args!(
                    "real_server {} {} is already configured in this virtual_server (line {line})",
                    rs.addr, port
                ),
            );
        }
        let inh = rs.defaults.or(vs.defaults);
        p.cfg.lvs.real_servers[r].inhibit_on_failure = inh.inhibit_on_failure.unwrap_or(false);
        weight_sum += u64::from(rs.weight);
    }

    // Sorry server.
    if let Some(mut s) = vs.sorry_server {
        if !ex.sorry_kind_set {
            s.lb_kind = vs.lb_kind;
        }
        if s.lb_kind != Forwarding::Tun && !same_family(&s.addr, &vs.addr) {
            p.err(
                s.span,
                format_args!(
                    "sorry_server {} and virtual_server {} are of different address families",
                    s.addr, vs.addr
                ),
            );
        }
        if !ex.sorry_port_written || (s.lb_kind != Forwarding::Nat && vs.port != 0) {
            s.port = vs.port;
        }
        let twin = p
            .cfg
            .lvs
            .real_servers_of(v)
            .iter()
            .find(|r| r.addr == s.addr && r.port == s.port)
            .map(|r| r.inhibit_on_failure);
        if let Some(rs_inhibit) = twin
            && rs_inhibit != s.inhibit
        {
            p.warn(
                s.span,
                format_args!(
                    "sorry_server is also a real_server with a different inhibit_on_failure: using the real server's"
                ),
            );
            s.inhibit = rs_inhibit;
        }
        p.cfg.lvs.virtual_servers[v].sorry_server = Some(s);
    }

    // Quorum.
    if vs.rs_count > 0 && u64::from(vs.quorum) > weight_sum {
        let q = weight_sum.max(1) as u32;
        let span = if ex.quorum_span.line > 0 {
            ex.quorum_span
        } else {
            at
        };
        p.warn(
            span,
            format_args!(
                "quorum {} of {name} is above the total weight of its real servers ({weight_sum}): using {q}",
                vs.quorum
            ),
        );
        p.cfg.lvs.virtual_servers[v].quorum = q;
    }
    let q = p.cfg.lvs.virtual_servers[v].quorum;
    if vs.hysteresis >= q {
        p.warn(
            at,
            format_args!(
                "hysteresis {} must be below quorum {q}: using {}",
                vs.hysteresis,
                q - 1
            ),
        );
        p.cfg.lvs.virtual_servers[v].hysteresis = q - 1;
    }
}

fn checker(p: &mut Parser<'_>, k: usize) {
    let l = &p.cfg.lvs;
    let c = &l.checkers[k];
    let rs = &l.real_servers[usize::from(c.rs)];
    let inh = c
        .written
        .or(rs.defaults)
        .or(l.virtual_servers[usize::from(rs.vs)].defaults);
    let (span, rs_addr, connect_ip, bindto, no_bind_if) =
        (c.span, rs.addr, c.connect_ip, c.bindto, c.bind_if.is_none());
    let (default_retry, default_dbr) = match c.kind {
        CheckerKind::Tcp => (1, DEFAULT_DELAY_BEFORE_RETRY_US),
        CheckerKind::Http(_) => (1, DEFAULT_HTTP_DELAY_BEFORE_RETRY_US),
        CheckerKind::Misc(_) => (0, DEFAULT_DELAY_BEFORE_RETRY_US),
    };
    let delay_loop = inh.delay_loop_us.unwrap_or(DEFAULT_DELAY_LOOP_US);
    {
        let ck = &mut p.cfg.lvs.checkers[k];
        ck.connect_timeout_us = inh.connect_timeout_us.unwrap_or(DEFAULT_CONNECT_TIMEOUT_US);
        ck.retry = inh.retry.unwrap_or(default_retry);
        ck.delay_before_retry_us = inh.delay_before_retry_us.unwrap_or(default_dbr);
        ck.delay_loop_us = delay_loop;
        ck.warmup_us = inh.warmup_us.unwrap_or(delay_loop);
        ck.alpha = inh.alpha.unwrap_or(false);
    }
    let overflow = p.lvs.ck.get(k).is_some_and(|x| x.url_overflow);
    let mut missing: Vec<Span, MAX_HTTP_URLS> = Vec::new();
    let is_misc = match &mut p.cfg.lvs.checkers[k].kind {
        CheckerKind::Http(h) => {
            if h.urls.is_empty() && !overflow {
                let _ = missing.push(span);
            }
            for u in h.urls.iter_mut() {
                if u.path.is_empty() {
                    let _ = missing.push(u.span);
                }
                if u.status_code.is_empty() {
                    u.status_code = StatusCodes::default_2xx();
                }
            }
            false
        }
        CheckerKind::Misc(m) => {
            if m.misc_path.is_empty() {
                let _ = missing.push(span);
            }
            true
        }
        CheckerKind::Tcp => false,
    };
    for at in missing {
        p.err(
            at,
            format_args!(
                "{}",
                if is_misc {
                    "MISC_CHECK has no 'misc_path': nothing to run"
                } else if at == span {
                    "HTTP_GET has no 'url { path ... }' block: nothing to check"
                } else {
                    "url has no 'path'"
                }
            ),
        );
    }
    if !is_misc {
        let target = connect_ip.unwrap_or(rs_addr);
        if let IpAddr::V6(a) = target
            && a.is_unicast_link_local()
            && no_bind_if
        {
            p.err(
                span,
                format_args!("checker target {a} is link-local: 'bind_if' is needed"),
            );
        }
        if let Some(b) = bindto
            && !same_family(&b, &target)
        {
            p.err(
                span,
                format_args!(
                    "'bindto' {b} and the checker target {target} are of different address families"
                ),
            );
        }
    }
}

/// What the validation reads of a virtual server (no big copies).
#[derive(Clone, Copy)]
struct VsSnap {
    span: Span,
    addr: IpAddr,
    port: u16,
    protocol: LvsProtocol,
    rs_first: u16,
    rs_count: u16,
    persistence_timeout_s: u32,
    persistence_granularity: Option<u32>,
    ha_suspend: bool,
    lb_kind: Forwarding,
    defaults: Inherited,
    sorry_server: Option<SorryServer>,
    quorum: u32,
    hysteresis: u32,
}

impl VsSnap {
    fn of(v: &VirtualServer) -> VsSnap {
        VsSnap {
            span: v.span,
            addr: v.addr,
            port: v.port,
            protocol: v.protocol,
            rs_first: v.rs_first,
            rs_count: v.rs_count,
            persistence_timeout_s: v.persistence_timeout_s,
            persistence_granularity: v.persistence_granularity,
            ha_suspend: v.ha_suspend,
            lb_kind: v.lb_kind,
            defaults: v.defaults,
            sorry_server: v.sorry_server,
            quorum: v.quorum,
            hysteresis: v.hysteresis,
        }
    }
}

#[derive(Clone, Copy)]
struct RsSnap {
    span: Span,
    addr: IpAddr,
    port: u16,
    lb_kind: Forwarding,
    defaults: Inherited,
    weight: u32,
}

impl RsSnap {
    fn of(r: &RealServer) -> RsSnap {
        RsSnap {
            span: r.span,
            addr: r.addr,
            port: r.port,
            lb_kind: r.lb_kind,
            defaults: r.defaults,
            weight: r.weight,
        }
    }
}

/// keepalived's script-security warning also covers checker scripts.
fn scripts(p: &mut Parser<'_>) {
    if p.cfg.global_defs.enable_script_security
        || p.d.iter().any(|d| d.kind == DiagKind::ScriptSecurity)
    {
        return;
    }
    let l = &p.cfg.lvs;
    let uses = l
        .checkers
        .iter()
        .any(|c| matches!(c.kind, CheckerKind::Misc(_)))
        || l.real_servers
            .iter()
            .any(|r| r.notify_up.is_some() || r.notify_down.is_some())
        || l.virtual_servers
            .iter()
            .any(|v| v.quorum_up.is_some() || v.quorum_down.is_some());
    if uses {
        p.d.push(
            Severity::Warning,
            DiagKind::ScriptSecurity,
            Span {
                file: 0,
                line: 0,
                col: 0,
            },
            format_args!(
                "scripts are configured but global_defs has no 'enable_script_security': scripts run as root even if non-root users can modify them"
            ),
        );
    }
}
