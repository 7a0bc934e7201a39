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

use super::action::{Action, Actions, GroupId, InstanceId, NotifyState};
use super::instance::{Instance, StateKind, TRACK_IF_MAX, TrackIf};
use super::stats::{DropReason, Stats};
use crate::config::model::{AddressFamily, Config, IfName, Name, TrackInterface};
use crate::limits::{MAX_INSTANCES, MAX_INTERFACES, MAX_SYNC_GROUP_MEMBERS, MAX_SYNC_GROUPS};
use crate::time::Instant;
use crate::wire::vrrp::Repr;

/// Why a [`Router`] could not be built from a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouterError {
    /// More distinct interfaces (instance + track_interface) than `MAX_INTERFACES`.
    TooManyInterfaces,
}

impl core::fmt::Display for RouterError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RouterError::TooManyInterfaces => {
                f.write_str("more interfaces (instances and track_interface) than MAX_INTERFACES")
            }
        }
    }
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

/// A `vrrp_sync_group`: its members move together (keepalived's
/// `vrrp_sync.c` semantics):
/// - a member whose Master_Down_Timer expires only *wants* master; the
///   group goes master when every member wants it or already is master
///   ("prefer backup to avoid thrashing"): `VRRP_Group(G) Syncing instances
///   to MASTER state`;
/// - a master member that steps down for a higher-priority advert takes
///   the other masters with it (`... to BACKUP state`, no priority-0 advert);
/// - a fault in one member faults them all (`... to FAULT state`, masters
///   send priority 0); the group leaves FAULT when no member is faulty;
/// - the group's own `track_interface` applies to every member;
/// - `Action::NotifyGroup` whenever the group's state changes (STOP at
///   shutdown), after the members' own notifications (at start-up
///   before them, as keepalived's `vrrp_init_state`);
/// - a member does not notify a state the group is already in, once it has
///   notified (keepalived's `send_instance_notifies`).
#[derive(Clone, Debug)]
struct Group {
    name: Name,
    members: Vec<u16, MAX_SYNC_GROUP_MEMBERS>,
    /// Initialize until started; then Backup, Master or Fault.
    state: StateKind,
}

/// All VRRP instances of one configuration.
pub struct Router {
    instances: Vec<Instance, MAX_INSTANCES>,
    links: Vec<Link, MAX_INTERFACES>,
    track: Vec<TrackState, MAX_INSTANCES>,
    groups: Vec<Group, MAX_SYNC_GROUPS>,
    global: Stats,
}

/// Adds `t` to `track_if` (once per link). `from_group`: an entry of the
/// instance's sync group, whose weight replaces the instance's own entry
/// for the same interface unless that one has weight 0 (keepalived's
/// `add_vrrp_to_interface`). keepalived's rule for weighted entries on
/// sync group members and owners was applied by the configuration.
fn add_track_if(
    links: &mut Vec<Link, MAX_INTERFACES>,
    track_if: &mut Vec<TrackIf, TRACK_IF_MAX>,
    t: &TrackInterface,
    from_group: Option<&str>,
) -> Result<(), RouterError> {
    let link = link_index(links, &t.ifname)?;
    if let Some(x) = track_if.iter_mut().find(|x| x.link == link) {
        if let Some(inst) = from_group {
            warn!(
                "({}) track_interface {} is configured on the instance and on its sync group: the group's entry applies unless the instance's has weight 0",
                inst, t.ifname
            );
            if x.weight != 0 {
                x.weight = t.weight;
                x.reverse = t.reverse;
            }
        }
        return Ok(());
    }
    let _ = track_if.push(TrackIf {
        link,
        weight: t.weight,
        reverse: t.reverse,
    });
    Ok(())
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
    /// is large (all capacities inline): the daemon boxes it at start-up
    /// ([`Router::new_boxed`]) and rebuilds it in place on reload
    /// ([`Router::rebuild`]).
    pub fn new(config: &Config) -> Result<Router, RouterError> {
        let mut r = Router::empty();
        r.rebuild(config)?;
        Ok(r)
    }

    /// A router without instances.
    fn empty() -> Router {
        Router {
            instances: Vec::new(),
            links: Vec::new(),
            track: Vec::new(),
            groups: Vec::new(),
            global: Stats::default(),
        }
    }

    /// [`Router::new`] on the heap, built in place: the empty router is
    /// written straight into the box (only the vectors' lengths), then
    /// filled. `Box::new(Router::new(..))` would build the 150 KiB router on
    /// the stack and copy it, which touches (makes resident) the whole
    /// capacity of both, for good.
    pub fn new_boxed(config: &Config) -> Result<Box<Router>, RouterError> {
        let mut r = Box::new(Router::empty());
        r.rebuild(config)?;
        Ok(r)
    }

    /// Makes this router what [`Router::new`] would build from `config`,
    /// in place (the reload path: no stack copy of the router). On error
    /// the router is left half built; the daemon then does not use it.
    pub fn rebuild(&mut self, config: &Config) -> Result<(), RouterError> {
        self.instances.clear();
        self.links.clear();
        self.track.clear();
        self.groups.clear();
        self.global = Stats::default();
        for g in &config.sync_groups {
            // Same capacity as config.sync_groups: cannot fail.
            let _ = self.groups.push(Group {
                name: g.name.clone(),
                members: g.members.clone(),
                state: StateKind::Initialize,
            });
        }
        for (i, c) in config.instances.iter().enumerate() {
            let own = link_index(&mut self.links, &c.interface)?;
            let mut track_if: Vec<TrackIf, TRACK_IF_MAX> = Vec::new();
            let group = c
                .sync_group
                .and_then(|g| config.sync_groups.get(usize::from(g)));
            for t in &c.track_interface {
                add_track_if(&mut self.links, &mut track_if, t, None)?;
            }
            if let Some(g) = group {
                for t in &g.track_interface {
                    // The group naming a member's own interface: the own
                    // interface's weight-0 tracking stays (keepalived); with
                    // dont_track_primary the group's entry applies.
                    if t.ifname == c.interface && !c.dont_track_primary {
                        continue;
                    }
                    add_track_if(&mut self.links, &mut track_if, t, Some(c.name.as_str()))?;
                }
            }
            // Same capacity as config.instances: cannot fail.
            let _ = self
                .instances
                .push(Instance::new(InstanceId(i as u16), c, own, track_if));
            let _ = self.track.push(TrackState::default());
        }
        Ok(())
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

    /// Number of sync groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// A sync group's state (Initialize before start and after shutdown).
    pub fn group_state(&self, g: GroupId) -> Option<StateKind> {
        self.groups.get(g.index()).map(|g| g.state)
    }

    /// A sync group's name.
    pub fn group_name(&self, g: GroupId) -> Option<&str> {
        self.groups.get(g.index()).map(|g| g.name.as_str())
    }

    /// The link state the core uses for interface `ifname` (an instance's own
    /// interface or a `track_interface`); `None` for a name it does not know.
    pub fn link_up(&self, ifname: &str) -> Option<bool> {
        self.links
            .iter()
            .find(|l| l.name.as_str() == ifname)
            .map(|l| l.up)
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
            // keepalived: weight 0 = FAULT while down (`reverse`: while up);
            // weight > 0 adds weight x (reverse ? -1 : 1) while up, weight
            // < 0 while down: `reverse` flips the sign, not the condition.
            let link_up = up(t.link);
            if t.weight == 0 {
                fault |= link_up == t.reverse;
            } else if (t.weight > 0) == link_up {
                let w = i32::from(t.weight);
                weight = weight.saturating_add(if t.reverse { -w } else { w });
            }
        }
        (fault, weight)
    }

    /// (own fault, weight) of instance `idx` from its trackers and links.
    fn own_fault_and_weight(&self, idx: usize) -> (bool, i32) {
        match self.instances.get(idx) {
            Some(inst) => {
                let track = self.track.get(idx).copied().unwrap_or_default();
                self.fault_and_weight(inst, track)
            }
            None => (false, 0),
        }
    }

    fn group_of(&self, idx: usize) -> Option<usize> {
        self.instances
            .get(idx)
            .and_then(|i| i.sync_group)
            .map(usize::from)
            .filter(|g| *g < self.groups.len())
    }

    fn members(&self, g: usize) -> Vec<u16, MAX_SYNC_GROUP_MEMBERS> {
        self.groups
            .get(g)
            .map(|g| g.members.clone())
            .unwrap_or_default()
    }

    /// True when some member of group `g` has a fault of its own.
    fn group_fault(&self, g: usize) -> bool {
        self.members(g)
            .iter()
            .any(|&m| self.own_fault_and_weight(usize::from(m)).0)
    }

    fn reevaluate(&mut self, now: Instant, idx: usize, out: &mut Actions) {
        if let Some(g) = self.group_of(idx) {
            self.reevaluate_group(now, g, idx, out);
            return;
        }
        let (fault, weight) = self.own_fault_and_weight(idx);
        if let Some(inst) = self.instances.get_mut(idx) {
            inst.update(now, fault, weight, out);
        }
    }

    /// Members of group `g`, `first` (the member whose input started the
    /// change) first: keepalived logs its transition, then "Syncing ...",
    /// then the others'.
    fn members_from(&self, g: usize, first: usize) -> Vec<u16, MAX_SYNC_GROUP_MEMBERS> {
        let mut v: Vec<u16, MAX_SYNC_GROUP_MEMBERS> = Vec::new();
        let all = self.members(g);
        for &m in all.iter().filter(|&&m| usize::from(m) == first) {
            let _ = v.push(m);
        }
        for &m in all.iter().filter(|&&m| usize::from(m) != first) {
            let _ = v.push(m);
        }
        v
    }

    /// A fault in one member faults the whole group; each member keeps
    /// its own priority. `trigger` is the member whose input changed.
    fn reevaluate_group(&mut self, now: Instant, g: usize, trigger: usize, out: &mut Actions) {
        let fault = self.group_fault(g);
        let before = self.groups.get(g).map(|g| g.state);
        for (k, m) in self.members_from(g, trigger).into_iter().enumerate() {
            let (_, weight) = self.own_fault_and_weight(usize::from(m));
            if let Some(inst) = self.instances.get_mut(usize::from(m)) {
                inst.update(now, fault, weight, out);
            }
            if k == 0
                && let Some(grp) = self.groups.get(g)
            {
                match before {
                    Some(StateKind::Backup | StateKind::Master) if fault => {
                        info!("VRRP_Group({}) Syncing instances to FAULT state", grp.name)
                    }
                    Some(StateKind::Fault) if !fault => {
                        info!("VRRP_Group({}) Syncing instances to BACKUP state", grp.name)
                    }
                    _ => {}
                }
            }
        }
        self.update_group_state(g, out);
    }

    /// The group's state from its started members: any in FAULT -> FAULT,
    /// all MASTER -> MASTER, none started -> Initialize, else BACKUP.
    fn derived_group_state(&self, g: usize) -> StateKind {
        let mut started = 0;
        let mut masters = 0;
        for &m in &self.members(g) {
            match self.instances.get(usize::from(m)).map(|i| i.state_kind()) {
                Some(StateKind::Fault) => return StateKind::Fault,
                Some(StateKind::Master) => {
                    started += 1;
                    masters += 1;
                }
                Some(StateKind::Backup) => started += 1,
                Some(StateKind::Initialize) | None => {}
            }
        }
        if started == 0 {
            StateKind::Initialize
        } else if masters == started {
            StateKind::Master
        } else {
            StateKind::Backup
        }
    }

    /// Re-derives group `g`'s state; a change is notified (STOP when the
    /// last member stopped).
    fn update_group_state(&mut self, g: usize, out: &mut Actions) {
        let new = self.derived_group_state(g);
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        if grp.state == new {
            return;
        }
        grp.state = new;
        self.mirror_group_state(g);
        let state = match new {
            StateKind::Initialize => NotifyState::Stop,
            StateKind::Backup => NotifyState::Backup,
            StateKind::Master => NotifyState::Master,
            StateKind::Fault => NotifyState::Fault,
        };
        out.push(Action::NotifyGroup {
            group: GroupId(g as u16),
            state,
        });
    }

    /// Tells group `g`'s members its state (for keepalived's rule that a
    /// member does not notify a state the group is already in).
    fn mirror_group_state(&mut self, g: usize) {
        let Some(st) = self.groups.get(g).map(|g| g.state) else {
            return;
        };
        let st = (st != StateKind::Initialize).then_some(st);
        for m in self.members(g) {
            if let Some(i) = self.instances.get_mut(usize::from(m)) {
                i.group_state = st;
            }
        }
    }

    /// Groups in which a member wants master: when every started member
    /// wants master or is master, the others follow it to MASTER
    /// (`trigger`, the member whose timer expired last, goes first).
    fn sync_masters(&mut self, now: Instant, trigger: usize, out: &mut Actions) {
        for g in 0..self.groups.len() {
            let members = self.members_from(g, trigger);
            let mut wanting = false;
            let mut all = true;
            for &m in &members {
                match self.instances.get(usize::from(m)) {
                    Some(i) if i.want_master => wanting = true,
                    Some(i) if i.state_kind() == StateKind::Master => {}
                    Some(_) => all = false,
                    None => {}
                }
            }
            if !wanting || !all {
                continue;
            }
            for (k, &m) in members.iter().enumerate() {
                if let Some(i) = self.instances.get_mut(usize::from(m)) {
                    i.sync_to_master(now, out);
                }
                if k == 0
                    && let Some(grp) = self.groups.get(g)
                    && grp.state != StateKind::Master
                {
                    info!("VRRP_Group({}) Syncing instances to MASTER state", grp.name);
                }
            }
            self.update_group_state(g, out);
        }
    }

    /// Daemon start: every instance leaves Initialize (owner -> MASTER,
    /// faulty -> FAULT (init), else BACKUP (init), each with `DelVips` first
    /// to clean up after a crash). Call after the initial `handle_link`s.
    pub fn handle_start(&mut self, now: Instant, out: &mut Actions) {
        let first = out.len();
        for idx in 0..self.instances.len() {
            let (own_fault, weight) = self.own_fault_and_weight(idx);
            // A sync group member starts in FAULT when any member is faulty.
            let fault = match self.group_of(idx) {
                Some(g) => self.group_fault(g),
                None => own_fault,
            };
            if let Some(inst) = self.instances.get_mut(idx) {
                // Apply the priority silently before the first state.
                inst.update(now, fault, weight, out);
                inst.start(now, fault, out);
            }
        }
        let groups = out.len();
        for g in 0..self.groups.len() {
            self.update_group_state(g, out);
        }
        // keepalived (vrrp_init_state) notifies a group that starts in
        // BACKUP before its members' "Entering BACKUP STATE (init)"; a
        // group in FAULT after its members' FAULT (vrrp_complete_init).
        let mut to = first;
        for i in groups..out.len() {
            if matches!(
                out.as_slice().get(i),
                Some(Action::NotifyGroup {
                    state: NotifyState::Backup,
                    ..
                })
            ) {
                out.move_to(i, to);
                to += 1;
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
        let Some(i) = self.instances.get_mut(id.index()) else {
            self.global.count_drop(DropReason::Vrid);
            return;
        };
        let before = i.state_kind();
        i.handle_advert(now, src, ttl, repr, out);
        self.after_advert(now, id, before, out);
    }

    /// After a received advert: a sync group member that stepped down from
    /// master takes the group's other masters along.
    fn after_advert(&mut self, now: Instant, id: InstanceId, before: StateKind, out: &mut Actions) {
        let after = self.instances.get(id.index()).map(|i| i.state_kind());
        if before == StateKind::Master
            && after == Some(StateKind::Backup)
            && let Some(g) = self.group_of(id.index())
        {
            if let Some(grp) = self.groups.get(g) {
                info!("VRRP_Group({}) Syncing instances to BACKUP state", grp.name);
            }
            for &m in &self.members(g) {
                if let Some(i) = self.instances.get_mut(usize::from(m)) {
                    i.sync_to_backup(now, out);
                }
            }
            self.update_group_state(g, out);
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
        let Some(i) = self.instances.get_mut(id.index()) else {
            self.global.count_drop(DropReason::Vrid);
            return;
        };
        let before = i.state_kind();
        i.handle_ah_datagram(now, datagram, out);
        self.after_advert(now, id, before, out);
    }

    /// Fires every expired deadline. Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Actions) {
        let mut trigger = None;
        for (idx, i) in self.instances.iter_mut().enumerate() {
            if i.deadline().is_some_and(|d| d <= now) {
                i.handle_timeout(now, out);
                if i.want_master {
                    trigger = Some(idx);
                }
            }
        }
        if let Some(t) = trigger {
            self.sync_masters(now, t, out);
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
                info!("Netlink reports {} down", ifname);
            } else {
                info!("Netlink reports {} up", ifname);
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
                    info!(
                        "({}) entering FAULT state (interface {} down)",
                        i.name, ifname
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
        if let Some(g) = self.group_of(id.index()) {
            self.update_group_state(g, out);
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
            inst.sync_group = dst.sync_group;
            // keepalived builds new instances on reload: they have not
            // notified yet.
            inst.notifies_sent = false;
            if let Some(slot) = self.instances.get_mut(idx) {
                *slot = inst;
            }
            if let (Some(t), Some(ot)) = (self.track.get_mut(idx), old.track.get(old_id.index())) {
                *t = *ot;
            }
            n += 1;
        }
        // Group states follow the adopted members (nothing is notified).
        for g in 0..self.groups.len() {
            let st = self.derived_group_state(g);
            if let Some(grp) = self.groups.get_mut(g) {
                grp.state = st;
            }
            self.mirror_group_state(g);
        }
        n
    }

    /// Clean stop: masters send a priority-0 advert then remove their VIPs;
    /// every running instance notifies STOP and returns to Initialize.
    pub fn handle_shutdown(&mut self, now: Instant, out: &mut Actions) {
        for i in self.instances.iter_mut() {
            i.shutdown(now, out);
        }
        for g in 0..self.groups.len() {
            self.update_group_state(g, out);
        }
    }
}
