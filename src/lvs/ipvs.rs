//! The IPVS table keepvip wants, and the commands that turn the table that
//! is installed into it.
//!
//! [`desired`] is a pure function of the configuration, the checker state
//! and which virtual servers are *programmed* (the shell decides: a virtual
//! server whose address is a VIP of a `vrrp_instance` only while that
//! instance is MASTER, any other one always):
//!
//! - a programmed virtual server with real servers is a service;
//! - while the quorum is up (or there is no sorry server in the pool), an
//!   alive real server is a destination with its weight, a failed one with
//!   `inhibit_on_failure` a destination with weight 0, a failed one without
//!   it is absent;
//! - while the sorry server is in the pool it is a destination (weight 1),
//!   the real servers with `inhibit_on_failure` stay with weight 0 and the
//!   others are absent; an `inhibit` sorry server stays with weight 0
//!   otherwise.
//!
//! [`plan`] compares two tables and lists the requests in a safe order
//! (destinations out, services out, services in/changed, destinations
//! in/changed); [`Table::apply`] records a request the kernel acknowledged.

use core::net::IpAddr;
use heapless::Vec;

use super::Lvs;
use crate::config::Config;
use crate::config::lvs::{VirtualServer, svc_flags};
use crate::limits::{MAX_REAL_SERVERS, MAX_VIRTUAL_SERVERS};
use crate::wire::ipvs::{DestSpec, Request, ServiceKey, ServiceSpec};

/// Destinations at most: every real server plus one sorry server per VS.
pub const MAX_DESTS: usize = MAX_REAL_SERVERS + MAX_VIRTUAL_SERVERS;
/// Requests in one plan at most.
pub const MAX_CMDS: usize = 2 * (MAX_DESTS + MAX_VIRTUAL_SERVERS);

/// A destination of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dest {
    pub svc: ServiceKey,
    pub spec: DestSpec,
}

/// A set of services and destinations (wanted, or installed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub services: Vec<ServiceSpec, MAX_VIRTUAL_SERVERS>,
    pub dests: Vec<Dest, MAX_DESTS>,
}

/// One request of a plan (owned copies: the tables change while it runs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    NewService(ServiceSpec),
    SetService(ServiceSpec),
    DelService(ServiceSpec),
    NewDest(ServiceSpec, DestSpec),
    SetDest(ServiceSpec, DestSpec),
    DelDest(ServiceSpec, DestSpec),
}

impl Cmd {
    pub fn request(&self) -> Request<'_> {
        match self {
            Cmd::NewService(s) => Request::NewService(s),
            Cmd::SetService(s) => Request::SetService(s),
            Cmd::DelService(s) => Request::DelService(s),
            Cmd::NewDest(s, d) => Request::NewDest(s, d),
            Cmd::SetDest(s, d) => Request::SetDest(s, d),
            Cmd::DelDest(s, d) => Request::DelDest(s, d),
        }
    }
}

impl Table {
    pub fn clear(&mut self) {
        self.services.clear();
        self.dests.clear();
    }

    pub fn service(&self, key: &ServiceKey) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.key == *key)
    }

    fn dest_pos(&self, svc: &ServiceKey, addr: &IpAddr, port: u16) -> Option<usize> {
        self.dests
            .iter()
            .position(|d| d.svc == *svc && d.spec.addr == *addr && d.spec.port == port)
    }

    /// Records a request the kernel did (or that is already true: `EEXIST`
    /// on a new entry, `ENOENT` on a removal).
    pub fn apply(&mut self, cmd: &Cmd) {
        match cmd {
            Cmd::NewService(s) | Cmd::SetService(s) => {
                match self.services.iter_mut().find(|x| x.key == s.key) {
                    Some(x) => *x = s.clone(),
                    None => {
                        let _ = self.services.push(s.clone());
                    }
                }
            }
            Cmd::DelService(s) => {
                self.services.retain(|x| x.key != s.key);
                self.dests.retain(|d| d.svc != s.key);
            }
            Cmd::NewDest(s, d) | Cmd::SetDest(s, d) => {
                match self.dest_pos(&s.key, &d.addr, d.port) {
                    Some(i) => self.dests[i].spec = *d,
                    None => {
                        let _ = self.dests.push(Dest {
                            svc: s.key,
                            spec: *d,
                        });
                    }
                }
            }
            Cmd::DelDest(s, d) => {
                if let Some(i) = self.dest_pos(&s.key, &d.addr, d.port) {
                    self.dests.swap_remove(i);
                }
            }
        }
    }
}

/// The service of a virtual server (keepalived's `ipvs_set_srule`).
pub fn service_spec(vs: &VirtualServer) -> ServiceSpec {
    let mut flags = vs.flags;
    if vs.persistence_timeout_s > 0 {
        flags |= svc_flags::PERSISTENT;
    }
    let netmask = match (vs.addr, vs.persistence_granularity) {
        (_, Some(g)) if vs.persistence_timeout_s > 0 => g,
        (IpAddr::V4(_), _) => u32::MAX,
        (IpAddr::V6(_), _) => 128,
    };
    ServiceSpec {
        key: ServiceKey {
            addr: vs.addr,
            protocol: vs.protocol.ip_proto(),
            port: vs.port,
        },
        sched_name: heapless::String::try_from(vs.lb_algo.as_str()).unwrap_or_default(),
        flags,
        timeout_s: vs.persistence_timeout_s,
        netmask,
    }
}

fn push_dest(t: &mut Table, svc: ServiceKey, spec: DestSpec) {
    // A sorry server that is also a real server: one destination, the
    // larger weight.
    if let Some(i) = t.dest_pos(&svc, &spec.addr, spec.port) {
        if spec.weight > t.dests[i].spec.weight {
            t.dests[i].spec = spec;
        }
        return;
    }
    let _ = t.dests.push(Dest { svc, spec });
}

/// Fills `out` with what IPVS should hold. `programmed(vs)` says whether
/// virtual server `vs` is to be in the kernel now.
pub fn desired(cfg: &Config, lvs: &Lvs, programmed: &dyn Fn(usize) -> bool, out: &mut Table) {
    out.clear();
    let l = &cfg.lvs;
    for (v, vs) in l.virtual_servers.iter().enumerate() {
        if vs.rs_count == 0 || !programmed(v) {
            continue;
        }
        let Some(st) = lvs.virtual_servers.get(v) else {
            continue;
        };
        let svc = service_spec(vs);
        let key = svc.key;
        let _ = out.services.push(svc);
        let sorry_in = vs.sorry_server.is_some() && st.sorry_alive;
        for (i, rs) in l.real_servers_of(v).iter().enumerate() {
            let r = usize::from(vs.rs_first) + i;
            let Some(rst) = lvs.real_servers.get(r) else {
                continue;
            };
            let weight = if rst.alive && !sorry_in {
                Some(rst.weight)
            } else if rs.inhibit_on_failure {
                Some(0)
            } else {
                None
            };
            if let Some(weight) = weight {
                push_dest(
                    out,
                    key,
                    DestSpec {
                        addr: rs.addr,
                        port: rs.port,
                        fwd_method: rs.lb_kind.conn_flags(),
                        weight,
                        u_threshold: rs.uthreshold,
                        l_threshold: rs.lthreshold,
                    },
                );
            }
        }
        if let Some(s) = vs.sorry_server {
            let weight = if sorry_in {
                Some(1)
            } else if s.inhibit {
                Some(0)
            } else {
                None
            };
            if let Some(weight) = weight {
                push_dest(
                    out,
                    key,
                    DestSpec {
                        addr: s.addr,
                        port: s.port,
                        fwd_method: s.lb_kind.conn_flags(),
                        weight,
                        u_threshold: 0,
                        l_threshold: 0,
                    },
                );
            }
        }
    }
}

/// The requests that turn `installed` into `want`, in order.
pub fn plan(installed: &Table, want: &Table, out: &mut Vec<Cmd, MAX_CMDS>) {
    out.clear();
    // Destinations that go (their service stays).
    for d in &installed.dests {
        let svc_stays = want.service(&d.svc).is_some();
        if svc_stays
            && want.dest_pos(&d.svc, &d.spec.addr, d.spec.port).is_none()
            && let Some(s) = installed.service(&d.svc)
        {
            let _ = out.push(Cmd::DelDest(s.clone(), d.spec));
        }
    }
    // Services that go (the kernel drops their destinations).
    for s in &installed.services {
        if want.service(&s.key).is_none() {
            let _ = out.push(Cmd::DelService(s.clone()));
        }
    }
    for s in &want.services {
        match installed.service(&s.key) {
            None => {
                let _ = out.push(Cmd::NewService(s.clone()));
            }
            Some(i) if i != s => {
                let _ = out.push(Cmd::SetService(s.clone()));
            }
            Some(_) => {}
        }
    }
    for d in &want.dests {
        let Some(s) = want.service(&d.svc) else {
            continue;
        };
        let have = installed.service(&d.svc).is_some();
        match installed
            .dest_pos(&d.svc, &d.spec.addr, d.spec.port)
            .filter(|_| have)
        {
            None => {
                let _ = out.push(Cmd::NewDest(s.clone(), d.spec));
            }
            Some(i) if installed.dests[i].spec != d.spec => {
                let _ = out.push(Cmd::SetDest(s.clone(), d.spec));
            }
            Some(_) => {}
        }
    }
}
