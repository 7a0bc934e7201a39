//! [`Router`]: all instances of a configuration, driven by `handle_*` inputs
//! and a single `poll_timeout` deadline (quinn/statime style).
//!
//! Call order for the shell, each loop turn with one `now`:
//! 1. inputs: [`Router::handle_advert`], [`Router::handle_link`],
//!    [`Router::handle_track`], [`Router::handle_shutdown`];
//! 2. [`Router::handle_timeout`] (safe to call early or twice);
//! 3. execute the [`Actions`] in order, then `clear()` them;
//! 4. sleep until [`Router::poll_timeout`] (if it is `<= now`, loop at once:
//!    a GARP burst with `garp_interval 0` is emitted in batches).

use core::net::IpAddr;

use heapless::Vec;

use super::action::{Actions, InstanceId};
use super::instance::{Instance, StateKind, TrackIf};
use super::stats::{DropReason, Stats};
use crate::config::model::{AddressFamily, Config, IfName};
use crate::limits::{MAX_INSTANCES, MAX_INTERFACES, MAX_TRACKERS};
use crate::time::Instant;
use crate::wire::vrrp::Repr;

/// Why a [`Router`] could not be built from a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouterError {
    /// More distinct interfaces (instance + track_interface) than `MAX_INTERFACES`.
    TooManyInterfaces,
}

/// Tracker results for one instance, computed by the tracker module
/// (scripts, processes, files) and handed in with [`Router::handle_track`].
/// `track_interface` is handled inside the core from [`Router::handle_link`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackState {
    /// A weight-0 tracker is failed (or a `reverse` one is up): FAULT.
    pub fault: bool,
    /// Sum of the weights that currently apply (may be negative).
    pub weight: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Link {
    name: IfName,
    up: bool,
}

/// All VRRP instances of one configuration.
pub struct Router {
    instances: Vec<Instance, MAX_INSTANCES>,
    links: Vec<Link, MAX_INTERFACES>,
    track: Vec<TrackState, MAX_INSTANCES>,
    global: Stats,
}

fn link_index(links: &mut Vec<Link, MAX_INTERFACES>, name: &IfName) -> Result<u8, RouterError> {
    if let Some(i) = links.iter().position(|l| &l.name == name) {
        return u8::try_from(i).map_err(|_| RouterError::TooManyInterfaces);
    }
    links
        .push(Link {
            name: name.clone(),
            up: true,
        })
        .map_err(|_| RouterError::TooManyInterfaces)?;
    u8::try_from(links.len() - 1).map_err(|_| RouterError::TooManyInterfaces)
}

impl Router {
    /// Builds every instance of `config` in Initialize. Interfaces are
    /// assumed up until [`Router::handle_link`] says otherwise. The router
    /// is large (all capacities inline): box it at start-up
    /// ([`Router::new_boxed`]).
    pub fn new(config: &Config) -> Result<Router, RouterError> {
        let mut r = Router {
            instances: Vec::new(),
            links: Vec::new(),
            track: Vec::new(),
            global: Stats::default(),
        };
        for (i, c) in config.instances.iter().enumerate() {
            let own = link_index(&mut r.links, &c.interface)?;
            let mut track_if: Vec<TrackIf, MAX_TRACKERS> = Vec::new();
            for t in &c.track_interface {
                let link = link_index(&mut r.links, &t.ifname)?;
                let _ = track_if.push(TrackIf {
                    link,
                    weight: t.weight,
                    reverse: t.reverse,
                });
            }
            // Same capacity as config.instances: cannot fail.
            let _ = r
                .instances
                .push(Instance::new(InstanceId(i as u16), c, own, track_if));
            let _ = r.track.push(TrackState::default());
        }
        Ok(r)
    }

    pub fn new_boxed(config: &Config) -> Result<Box<Router>, RouterError> {
        Ok(Box::new(Router::new(config)?))
    }

    // ---- Lookups and read-only accessors ------------------------------------

    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    pub fn instance_ids(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.instances.iter().map(|i| i.id)
    }

    /// Demultiplexing for received adverts: the instance on `ifname` with
    /// this family and VRID.
    pub fn find_instance(
        &self,
        ifname: &str,
        family: AddressFamily,
        vrid: u8,
    ) -> Option<InstanceId> {
        self.instances
            .iter()
            .find(|i| i.vrid == vrid && i.family == family && i.ifname.as_str() == ifname)
            .map(|i| i.id)
    }

    /// Same, by instance name.
    pub fn find_by_name(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .find(|i| i.name.as_str() == name)
            .map(|i| i.id)
    }

    fn get(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(id.index())
    }

    pub fn name(&self, id: InstanceId) -> Option<&str> {
        self.get(id).map(|i| i.name.as_str())
    }

    pub fn state(&self, id: InstanceId) -> Option<StateKind> {
        self.get(id).map(|i| i.state_kind())
    }

    pub fn effective_priority(&self, id: InstanceId) -> Option<u8> {
        self.get(id).map(|i| i.effective_priority())
    }

    /// Configured priority (255 = address owner; lowered to 254 if another
    /// owner is seen).
    pub fn base_priority(&self, id: InstanceId) -> Option<u8> {
        self.get(id).map(|i| i.base_priority())
    }

    /// The current master's address: ours as Master, the last accepted
    /// sender as Backup, `None` otherwise.
    pub fn master_addr(&self, id: InstanceId) -> Option<IpAddr> {
        self.get(id).and_then(|i| i.master_addr())
    }

    pub fn master_priority(&self, id: InstanceId) -> Option<u8> {
        self.get(id).and_then(|i| i.master_priority())
    }

    /// Master_Adver_Interval in centiseconds (a v3 Backup follows its master's).
    pub fn master_adver_interval_cs(&self, id: InstanceId) -> Option<u16> {
        self.get(id).map(|i| i.master_adver_interval_cs())
    }

    pub fn last_transition(&self, id: InstanceId) -> Option<Instant> {
        self.get(id).and_then(|i| i.last_transition())
    }

    /// The source (primary) address used for the equal-priority tie-break.
    pub fn src_addr(&self, id: InstanceId) -> Option<IpAddr> {
        self.get(id).and_then(|i| i.src_addr())
    }

    pub fn stats(&self, id: InstanceId) -> Option<&Stats> {
        self.get(id).map(|i| &i.stats)
    }

    /// Drops that could not be attributed to an instance.
    pub fn global_stats(&self) -> &Stats {
        &self.global
    }

    /// The advertisement `id` sends with `priority` (for [`super::Action::SendAdvert`]).
    pub fn advert_repr(&self, id: InstanceId, priority: u8) -> Option<Repr> {
        self.get(id).map(|i| i.advert_repr(priority))
    }

    /// `auth_type AH`: the sequence number the last [`super::Action::SendAdvert`]
    /// of `id` carries (the core counts once per advert, not per unicast
    /// peer). `None` for an instance without AH.
    pub fn ah_seq(&self, id: InstanceId) -> Option<u32> {
        self.get(id).and_then(|i| i.ah_seq())
    }

    /// `auth_type AH`: the HMAC key of `id` and whether its ICVs are
    /// computed in unicast mode (TTL not hashed). `None` without AH.
    pub fn ah_key(&self, id: InstanceId) -> Option<([u8; crate::wire::ah::KEY_LEN], bool)> {
        self.get(id).and_then(|i| i.ah_key())
    }

    /// The earliest deadline of any instance (`None`: nothing scheduled).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.instances.iter().filter_map(|i| i.deadline()).min()
    }

    // ---- Inputs ----------------------------------------------------------------

    /// Our primary address for `id` (unicast_src_ip / mcast_src_ip, else the
    /// interface's primary address): the equal-priority tie-break compares it.
    pub fn set_src_addr(&mut self, id: InstanceId, addr: IpAddr) {
        if let Some(i) = self.instances.get_mut(id.index()) {
            i.set_src_addr(addr);
        }
    }

    /// Count a drop the shell detected (wire parse errors). `None` when no
    /// instance could be identified.
    pub fn record_drop(&mut self, id: Option<InstanceId>, reason: DropReason) {
        match id.and_then(|id| self.instances.get_mut(id.index())) {
            Some(i) => i.stats.count_drop(reason),
            None => self.global.count_drop(reason),
        }
    }

    fn fault_and_weight(&self, inst: &Instance, track: TrackState) -> (bool, i32) {
        let up = |l: u8| self.links.get(usize::from(l)).is_none_or(|l| l.up);
        let mut fault = track.fault || (inst.track_primary && !up(inst.own_link));
        let mut weight = track.weight;
        for t in &inst.track_if {
            let ok = up(t.link) != t.reverse;
            if t.weight == 0 {
                fault |= !ok;
            } else if (t.weight > 0 && ok) || (t.weight < 0 && !ok) {
                weight = weight.saturating_add(i32::from(t.weight));
            }
        }
        (fault, weight)
    }

    fn reevaluate(&mut self, now: Instant, idx: usize, out: &mut Actions) {
        let Some(inst) = self.instances.get(idx) else {
            return;
        };
        let track = self.track.get(idx).copied().unwrap_or_default();
        let (fault, weight) = self.fault_and_weight(inst, track);
        if let Some(inst) = self.instances.get_mut(idx) {
            inst.update(now, fault, weight, out);
        }
    }

    /// Daemon start: every instance leaves Initialize (owner -> MASTER,
    /// faulty -> FAULT (init), else BACKUP (init), each with `DelVips` first
    /// to clean up after a crash). Call after the initial `handle_link`s.
    pub fn handle_start(&mut self, now: Instant, out: &mut Actions) {
        for idx in 0..self.instances.len() {
            let Some(inst) = self.instances.get(idx) else {
                continue;
            };
            let track = self.track.get(idx).copied().unwrap_or_default();
            let (fault, weight) = self.fault_and_weight(inst, track);
            if let Some(inst) = self.instances.get_mut(idx) {
                // Apply the priority silently before the first state.
                inst.update(now, fault, weight, out);
                inst.start(now, fault, out);
            }
        }
    }

    /// A received advert for `id` (found with [`Router::find_instance`]),
    /// already parsed by the wire codec. `ttl` is the IPv4 TTL or IPv6 hop limit.
    pub fn handle_advert(
        &mut self,
        now: Instant,
        id: InstanceId,
        src: IpAddr,
        ttl: u8,
        repr: &Repr,
        out: &mut Actions,
    ) {
        match self.instances.get_mut(id.index()) {
            Some(i) => i.handle_advert(now, src, ttl, repr, out),
            None => self.global.count_drop(DropReason::Vrid),
        }
    }

    /// A datagram read from an IPv4 AH socket (IP protocol 51: IPv4
    /// header, AH header, VRRPv2 advert) for `id`, found with
    /// [`Router::find_instance`] and the unauthenticated
    /// [`crate::wire::ah::peek_vrid`]. The instance verifies it with its
    /// key (ICV, SPI), parses the advert, checks the sequence number
    /// against its counter (shared with transmit) and handles it like
    /// [`Router::handle_advert`]; every refusal is a counted
    /// [`DropReason`].
    pub fn handle_ah_advert(
        &mut self,
        now: Instant,
        id: InstanceId,
        datagram: &[u8],
        out: &mut Actions,
    ) {
        match self.instances.get_mut(id.index()) {
            Some(i) => i.handle_ah_datagram(now, datagram, out),
            None => self.global.count_drop(DropReason::Vrid),
        }
    }

    /// Fires every expired deadline. Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Actions) {
        for i in self.instances.iter_mut() {
            if i.deadline().is_some_and(|d| d <= now) {
                i.handle_timeout(now, out);
            }
        }
    }

    /// Interface `ifname` went up or down: FAULT for instances on it (unless
    /// `dont_track_primary`) and for weight-0 `track_interface`s; weighted
    /// `track_interface`s change the effective priority. Unknown names are ignored.
    pub fn handle_link(&mut self, now: Instant, ifname: &str, up: bool, out: &mut Actions) {
        let Some(li) = self.links.iter().position(|l| l.name.as_str() == ifname) else {
            return;
        };
        if let Some(l) = self.links.get_mut(li) {
            if l.up == up {
                return;
            }
            l.up = up;
            if !up {
                log::info!("Netlink reports {} down", ifname);
            } else {
                log::info!("Netlink reports {} up", ifname);
            }
        }
        let li = li as u8;
        for idx in 0..self.instances.len() {
            let uses = self
                .instances
                .get(idx)
                .is_some_and(|i| i.own_link == li || i.track_if.iter().any(|t| t.link == li));
            if uses {
                if let Some(i) = self.instances.get(idx)
                    && !up
                    && i.own_link == li
                    && i.track_primary
                    && i.state_kind() != StateKind::Fault
                    && i.state_kind() != StateKind::Initialize
                {
                    log::info!(
                        "({}) entering FAULT state (interface {} down)",
                        i.name,
                        ifname
                    );
                }
                self.reevaluate(now, idx, out);
            }
        }
    }

    /// New tracker results for `id` (vrrp_script / track_process / track_file).
    pub fn handle_track(
        &mut self,
        now: Instant,
        id: InstanceId,
        track: TrackState,
        out: &mut Actions,
    ) {
        if let Some(t) = self.track.get_mut(id.index()) {
            *t = track;
            self.reevaluate(now, id.index(), out);
        }
    }

    /// Reload: stop one instance that the new configuration removes or
    /// changes (a master sends priority 0 and removes its VIPs; STOP is
    /// notified). The actions refer to this (the old) router's ids.
    pub fn handle_remove(&mut self, now: Instant, id: InstanceId, out: &mut Actions) {
        if let Some(i) = self.instances.get_mut(id.index()) {
            i.shutdown(now, out);
        }
    }

    /// Reload: take over the run-time state (state, timers, effective
    /// priority, tracker results, last master, counters) of the instances
    /// `map` names: `map[new index] = Some(old id)` (see
    /// [`super::reload::reload_map`]), and the up/down state of every link
    /// the old router knew. Call on a freshly built router, before the
    /// initial [`Router::handle_link`]s and [`Router::handle_start`] (which
    /// then starts only the instances that were not adopted). Returns the
    /// number of instances adopted. Nothing is emitted: an adopted master
    /// keeps its VIPs and its advert timer.
    pub fn adopt_from(&mut self, old: &Router, map: &[Option<InstanceId>]) -> usize {
        for l in self.links.iter_mut() {
            if let Some(o) = old.links.iter().find(|o| o.name == l.name) {
                l.up = o.up;
            }
        }
        let mut n = 0;
        for (idx, m) in map.iter().enumerate() {
            let Some(old_id) = *m else { continue };
            let (Some(src), Some(dst)) =
                (old.instances.get(old_id.index()), self.instances.get(idx))
            else {
                continue;
            };
            // Link indices differ between the two routers: keep the new ones.
            let mut inst = src.clone();
            inst.id = dst.id;
            inst.own_link = dst.own_link;
            inst.track_if = dst.track_if.clone();
            if let Some(slot) = self.instances.get_mut(idx) {
                *slot = inst;
            }
            if let (Some(t), Some(ot)) = (self.track.get_mut(idx), old.track.get(old_id.index())) {
                *t = *ot;
            }
            n += 1;
        }
        n
    }

    /// Clean stop: masters send a priority-0 advert then remove their VIPs;
    /// every running instance notifies STOP and returns to Initialize.
    pub fn handle_shutdown(&mut self, now: Instant, out: &mut Actions) {
        for i in self.instances.iter_mut() {
            i.shutdown(now, out);
        }
    }
}
