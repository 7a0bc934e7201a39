//! SMTP alerts of the hooks: the sans-IO client ([`crate::smtp::Smtp`]) and
//! its non-blocking socket ([`crate::sys::tcp::SmtpLink`]), behind one small
//! interface so that a build without the `smtp` cargo feature (the router
//! board profiles: it saves about 20 KiB on mips) has nothing of it but a
//! warning when a configuration asks for mail.

use std::os::fd::BorrowedFd;

use crate::config::model::{GlobalDefs, InstanceConfig, SyncGroup};
use crate::time::Instant;
use crate::vrrp::NotifyState;

#[cfg(feature = "smtp")]
pub use with_smtp::Mail;
#[cfg(not(feature = "smtp"))]
pub use without_smtp::Mail;

#[cfg(feature = "smtp")]
mod with_smtp {
    use super::*;
    use crate::smtp::Smtp;
    use crate::sys::tcp::{SmtpLink, wall_clock};

    /// The SMTP client and its connection.
    pub struct Mail {
        smtp: Box<Smtp>,
        link: Box<SmtpLink>,
    }

    fn same_smtp(a: &GlobalDefs, b: &GlobalDefs) -> bool {
        a.router_id == b.router_id
            && a.notification_email == b.notification_email
            && a.notification_email_from == b.notification_email_from
            && a.smtp_server == b.smtp_server
            && a.smtp_connect_timeout_s == b.smtp_connect_timeout_s
    }

    impl Mail {
        pub fn new(g: &GlobalDefs, hostname: &str) -> Mail {
            Mail {
                smtp: Box::new(Smtp::new(g, hostname)),
                link: Box::new(SmtpLink::new()),
            }
        }

        /// Reload: a new client when the mail settings changed (queued
        /// alerts of the old settings are dropped with it).
        pub fn reconfigure(&mut self, old: &GlobalDefs, new: &GlobalDefs, hostname: &str) {
            if !same_smtp(old, new) {
                *self.smtp = Smtp::new(new, hostname);
            }
        }

        /// The next time the session needs a turn (`now` when it can go on
        /// at once).
        pub fn deadline(&self, now: Instant) -> Option<Instant> {
            let d = self.timer_deadline(now);
            if !self.smtp.is_idle() && !self.smtp.wants_socket() {
                return Some(now);
            }
            d
        }

        /// The session's timers only: its timeouts and a pending write retry.
        pub fn timer_deadline(&self, now: Instant) -> Option<Instant> {
            let retry = self.link.write_retry(&self.smtp).map(|r| now + r);
            match (self.smtp.next_deadline(), retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }

        /// A session or a connection is open.
        pub fn active(&self) -> bool {
            !self.smtp.is_idle() || self.link.fd().is_some()
        }

        /// Moves the session forward; true when the socket changed (the
        /// caller re-registers [`Mail::fd`]).
        pub fn service(&mut self, now: Instant, readable: bool) -> bool {
            self.link.service(&mut self.smtp, now, readable)
        }

        pub fn fd(&self) -> Option<BorrowedFd<'_>> {
            self.link.fd()
        }

        /// Alerts queued or being sent.
        pub fn pending(&self) -> usize {
            self.smtp.queued() + usize::from(!self.smtp.is_idle())
        }

        pub fn alert_instance(&mut self, c: &InstanceConfig, state: NotifyState) {
            if c.smtp_alert && self.smtp.enabled() {
                self.smtp.alert_instance(wall_clock(), c, state);
            }
        }

        pub fn alert_group(&mut self, g: &SyncGroup, state: NotifyState) {
            if g.smtp_alert && self.smtp.enabled() {
                self.smtp.alert_group(wall_clock(), g, state);
            }
        }

        /// Counters and state of the client (tests).
        #[cfg(test)]
        pub fn smtp(&self) -> &Smtp {
            &self.smtp
        }
    }
}

#[cfg(not(feature = "smtp"))]
mod without_smtp {
    use super::*;

    /// Built without the `smtp` feature: no mail is ever sent; a
    /// configuration that asks for it is told so once.
    pub struct Mail;

    fn wants_mail(g: &GlobalDefs) -> bool {
        g.smtp_server.is_some() || g.smtp_alert || !g.notification_email.is_empty()
    }

    fn warn_if_configured(g: &GlobalDefs) {
        if wants_mail(g) {
            warn!(
                "this keepvip is built without SMTP alerts (cargo feature 'smtp', board profile 'full'): smtp_server / smtp_alert / notification_email are ignored"
            );
        }
    }

    impl Mail {
        pub fn new(g: &GlobalDefs, _hostname: &str) -> Mail {
            warn_if_configured(g);
            Mail
        }

        pub fn reconfigure(&mut self, old: &GlobalDefs, new: &GlobalDefs, _hostname: &str) {
            if !wants_mail(old) {
                warn_if_configured(new);
            }
        }

        pub fn deadline(&self, _now: Instant) -> Option<Instant> {
            None
        }

        pub fn timer_deadline(&self, _now: Instant) -> Option<Instant> {
            None
        }

        pub fn active(&self) -> bool {
            false
        }

        pub fn service(&mut self, _now: Instant, _readable: bool) -> bool {
            false
        }

        pub fn fd(&self) -> Option<BorrowedFd<'_>> {
            None
        }

        pub fn pending(&self) -> usize {
            0
        }

        pub fn alert_instance(&mut self, _c: &InstanceConfig, _state: NotifyState) {}

        pub fn alert_group(&mut self, _g: &SyncGroup, _state: NotifyState) {}
    }
}
