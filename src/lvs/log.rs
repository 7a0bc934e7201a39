//! keepalived's log lines for checker and pool events (the words of
//! keepalived 2.2.7's `check_tcp.c`, `check_http.c`, `check_misc.c`,
//! `check_api.c` and `ipwrapper.c`, so that log watchers keep working).

use core::fmt;

use super::{Event, Failure};
use crate::config::Config;
use crate::config::lvs::{CheckerKind, Trio};
use crate::track::ScriptOutcome;

/// An [`Event`] rendered against its configuration.
pub struct EventDisplay<'a> {
    pub event: &'a Event,
    pub cfg: &'a Config,
}

impl Event {
    pub fn display<'a>(&'a self, cfg: &'a Config) -> EventDisplay<'a> {
        EventDisplay { event: self, cfg }
    }
}

/// `[RIP]:proto:RPORT` of real server `rs` (keepalived's `FMT_RS`).
fn rs_trio(cfg: &Config, rs: usize) -> Option<Trio> {
    let r = cfg.lvs.real_servers.get(rs)?;
    let v = cfg.lvs.virtual_servers.get(usize::from(r.vs))?;
    Some(Trio {
        addr: r.addr,
        protocol: v.protocol,
        port: r.port,
    })
}

fn vs_trio(cfg: &Config, vs: usize) -> Option<Trio> {
    cfg.lvs.virtual_servers.get(vs).map(|v| v.trio())
}

/// The real server of checker `ck` and its virtual server.
fn ck_trios(cfg: &Config, ck: usize) -> Option<(Trio, Trio)> {
    let c = cfg.lvs.checkers.get(ck)?;
    let rs = usize::from(c.rs);
    let vs = usize::from(cfg.lvs.real_servers.get(rs)?.vs);
    Some((rs_trio(cfg, rs)?, vs_trio(cfg, vs)?))
}

fn failure_words(f: Failure) -> &'static str {
    match f {
        Failure::Connect(_) => "Error connecting",
        Failure::ConnectTimeout => "Timeout connecting",
        Failure::Write => "Cannot send get request to",
        Failure::ReadTimeout => "Timeout HTTP read",
        Failure::Read(_) => "Read error with",
        Failure::NoData => "Read, no data received from ",
        Failure::Status(_) => "HTTP status code error to",
        Failure::Digest => "MD5 digest error to",
        Failure::Local(_) => "HTTP_CHECK - network unreachable",
    }
}

impl fmt::Display for EventDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cfg = self.cfg;
        let l = &cfg.lvs;
        match *self.event {
            Event::Activating { ck } | Event::Suspending { ck } | Event::Deactivating { ck } => {
                let Some((rs, vs)) = ck_trios(cfg, usize::from(ck.0)) else {
                    return Ok(());
                };
                let word = match self.event {
                    Event::Activating { .. } => "Activating",
                    Event::Deactivating { .. } => "Deactivating",
                    _ => "Suspending",
                };
                write!(f, "{word} healthchecker for service {rs} for VS {vs}")
            }
            Event::TcpSuccess { ck } => match ck_trios(cfg, usize::from(ck.0)) {
                Some((rs, _)) => write!(f, "TCP connection to {rs} success."),
                None => Ok(()),
            },
            Event::TcpFailed { ck, retries } => match ck_trios(cfg, usize::from(ck.0)) {
                Some((rs, _)) if retries > 0 => {
                    write!(
                        f,
                        "TCP_CHECK on service {rs} failed after {retries} retries."
                    )
                }
                Some((rs, _)) => write!(f, "TCP_CHECK on service {rs} failed."),
                None => Ok(()),
            },
            Event::TcpAttemptFailed { ck, timeout } => match ck_trios(cfg, usize::from(ck.0)) {
                Some((rs, _)) => write!(
                    f,
                    "TCP connection to {rs} {}.",
                    if timeout { "timeout" } else { "failed" }
                ),
                None => Ok(()),
            },
            Event::HttpUrlSuccess { ck, url } => {
                let Some((rs, _)) = ck_trios(cfg, usize::from(ck.0)) else {
                    return Ok(());
                };
                let Some(CheckerKind::Http(h)) = l.checkers.get(usize::from(ck.0)).map(|c| &c.kind)
                else {
                    return Ok(());
                };
                let Some(u) = h.urls.get(usize::from(url)) else {
                    return Ok(());
                };
                let what = if u.digest.is_some() {
                    "MD5 digest"
                } else {
                    "HTTP status code"
                };
                write!(f, "{what} success to {rs} url({})", u.path)
            }
            Event::HttpSuccess { ck } => match ck_trios(cfg, usize::from(ck.0)) {
                Some((rs, _)) => write!(f, "Remote Web server {rs} succeed on service."),
                None => Ok(()),
            },
            Event::HttpFailed { ck, retries } => match ck_trios(cfg, usize::from(ck.0)) {
                Some((rs, _)) if retries > 0 => {
                    write!(
                        f,
                        "HTTP_CHECK on service {rs} failed after {retries} retries."
                    )
                }
                Some((rs, _)) => write!(f, "HTTP_CHECK on service {rs} failed."),
                None => Ok(()),
            },
            Event::HttpAttemptFailed { ck, why } => match ck_trios(cfg, usize::from(ck.0)) {
                Some((rs, _)) => write!(f, "{} server {rs}.", failure_words(why)),
                None => Ok(()),
            },
            Event::Misc {
                ck,
                outcome,
                success,
                retries,
            } => {
                let Some((rs, vs)) = ck_trios(cfg, usize::from(ck.0)) else {
                    return Ok(());
                };
                let prog = match l.checkers.get(usize::from(ck.0)).map(|c| &c.kind) {
                    Some(CheckerKind::Misc(m)) => m.misc_path.split(' ').next().unwrap_or(""),
                    _ => "",
                };
                let kind = if success {
                    "succeeded"
                } else if outcome == ScriptOutcome::TimedOut {
                    "timed out"
                } else {
                    "failed"
                };
                write!(f, "Misc check for [{rs} VS {vs}] by [{prog}] {kind}")?;
                if !success && retries > 0 {
                    write!(f, " after {retries} retries")?;
                }
                match outcome {
                    ScriptOutcome::Exited(code) if !success => {
                        write!(f, " (exited with status {code}).")
                    }
                    ScriptOutcome::Signaled(sig) if !success => {
                        write!(f, " (due to signal {sig}).")
                    }
                    _ => f.write_str("."),
                }
            }
            Event::RsUp { rs } | Event::RsDown { rs } => {
                let r = usize::from(rs.0);
                let (Some(rt), Some(rsc)) = (rs_trio(cfg, r), l.real_servers.get(r)) else {
                    return Ok(());
                };
                let Some(vt) = vs_trio(cfg, usize::from(rsc.vs)) else {
                    return Ok(());
                };
                let up = matches!(self.event, Event::RsUp { .. });
                match (up, rsc.inhibit_on_failure) {
                    (true, false) => write!(f, "Adding service {rt} to VS {vt}"),
                    (true, true) => write!(f, "Enabling service {rt} of VS {vt}"),
                    (false, false) => write!(f, "Removing service {rt} from VS {vt}"),
                    (false, true) => write!(f, "Disabling service {rt} of VS {vt}"),
                }
            }
            Event::Weight {
                rs,
                old,
                new,
                alive,
            } => {
                let r = usize::from(rs.0);
                let (Some(rt), Some(rsc)) = (rs_trio(cfg, r), l.real_servers.get(r)) else {
                    return Ok(());
                };
                let Some(vt) = vs_trio(cfg, usize::from(rsc.vs)) else {
                    return Ok(());
                };
                write!(
                    f,
                    "Changing weight from {old} to {new} for {}active service {rt} of VS {vt}",
                    if alive { "" } else { "in" }
                )
            }
            Event::QuorumGained { vs, threshold, sum } => {
                let Some(v) = l.virtual_servers.get(usize::from(vs.0)) else {
                    return Ok(());
                };
                write!(
                    f,
                    "Gained quorum {}+{}={threshold} <= {sum} for VS {}",
                    v.quorum,
                    v.hysteresis,
                    v.trio()
                )
            }
            Event::QuorumLost {
                vs,
                threshold,
                sum,
                init,
            } => {
                let Some(v) = l.virtual_servers.get(usize::from(vs.0)) else {
                    return Ok(());
                };
                write!(
                    f,
                    "{} {}-{}={threshold} > {sum} for VS {}",
                    if init {
                        "Starting with quorum down"
                    } else {
                        "Lost quorum"
                    },
                    v.quorum,
                    v.hysteresis,
                    v.trio()
                )
            }
            Event::SorryIn { vs } | Event::SorryOut { vs } => {
                let Some(v) = l.virtual_servers.get(usize::from(vs.0)) else {
                    return Ok(());
                };
                let Some(s) = v.sorry_server else {
                    return Ok(());
                };
                let st = Trio {
                    addr: s.addr,
                    protocol: v.protocol,
                    port: s.port,
                };
                if matches!(self.event, Event::SorryIn { .. }) {
                    let w = if s.inhibit { "Enabling" } else { "Adding" };
                    write!(f, "{w} sorry server {st} to VS {}", v.trio())
                } else {
                    let w = if s.inhibit { "Disabling" } else { "Removing" };
                    write!(f, "{w} sorry server {st} from VS {}", v.trio())
                }
            }
            Event::Pool { vs, add } => match vs_trio(cfg, usize::from(vs.0)) {
                Some(vt) => write!(
                    f,
                    "{} the pool for VS {vt}",
                    if add {
                        "Adding alive servers to"
                    } else {
                        "Removing alive servers from"
                    }
                ),
                None => Ok(()),
            },
            Event::ShuttingDown { rs, inhibited } => {
                let r = usize::from(rs.0);
                let (Some(rt), Some(rsc)) = (rs_trio(cfg, r), l.real_servers.get(r)) else {
                    return Ok(());
                };
                let Some(vt) = vs_trio(cfg, usize::from(rsc.vs)) else {
                    return Ok(());
                };
                write!(
                    f,
                    "Shutting down {}service {rt} from VS {vt}",
                    if inhibited { "(inhibited) " } else { "" }
                )
            }
        }
    }
}
