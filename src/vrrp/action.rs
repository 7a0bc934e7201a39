//! Outputs of the core: plain `#[must_use]` data the shell executes in order.

use heapless::Vec;

use crate::limits::{MAX_INSTANCES, MAX_SYNC_GROUPS};

/// Index of an instance: its position in [`crate::config::Config::instances`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub u16);

impl InstanceId {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a sync group: its position in [`crate::config::Config::sync_groups`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u16);

impl GroupId {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which address a [`Action::SendGarp`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VipRef {
    /// Index into the instance's `virtual_ipaddress`.
    Vip(u8),
    /// Index into the instance's `virtual_ipaddress_excluded`.
    Excluded(u8),
}

/// The state words of keepalived's notify interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
}

impl NotifyState {
    /// `MASTER`, `BACKUP`, `FAULT`, `STOP` (notify argument / FIFO word).
    pub const fn as_str(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
        }
    }
}

/// One effect for the shell.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send an advertisement with this priority (0 = "I am leaving").
    /// Build it with [`crate::vrrp::Router::advert_repr`].
    SendAdvert { inst: InstanceId, priority: u8 },
    /// Add the instance's `virtual_ipaddress` and `virtual_ipaddress_excluded`.
    AddVips { inst: InstanceId },
    /// Remove them (also emitted at start for non-master instances, to clean
    /// up after a crash, as keepalived does; "not present" is not an error).
    DelVips { inst: InstanceId },
    /// Send one gratuitous ARP (IPv4) or unsolicited NA (IPv6) for one address.
    SendGarp { inst: InstanceId, vip: VipRef },
    /// Run notify scripts / write the FIFO: the instance entered `state`.
    Notify {
        inst: InstanceId,
        state: NotifyState,
        priority: u8,
    },
    /// Run the sync group's notify scripts / write the FIFO: the group
    /// entered `state` (keepalived reports priority 0 for groups).
    NotifyGroup { group: GroupId, state: NotifyState },
    /// keepalived's `MASTER_RX_LOWER_PRI` event: the master received an
    /// advert with a lower priority (a lower router became master, e.g.
    /// after a split brain). Run `notify_master_rx_lower_pri`, write the
    /// FIFO line `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200`.
    MasterRxLowerPri { inst: InstanceId, priority: u8 },
}

impl Action {
    /// The instance the action is for (`None` for a group notification).
    pub const fn inst(&self) -> Option<InstanceId> {
        match *self {
            Action::SendAdvert { inst, .. }
            | Action::AddVips { inst }
            | Action::DelVips { inst }
            | Action::SendGarp { inst, .. }
            | Action::Notify { inst, .. }
            | Action::MasterRxLowerPri { inst, .. } => Some(inst),
            Action::NotifyGroup { .. } => None,
        }
    }
}

/// The most GARPs one instance emits in one call when `garp_interval` is 0;
/// the rest stay due (`poll_timeout() <= now`) for the next call.
pub const GARP_BATCH_MAX: usize = 5;

/// Worst case of actions one instance emits in one call: becoming master
/// (SendAdvert, AddVips, Notify) plus a GARP batch. Every other path emits
/// fewer (leaving master: SendAdvert(0), DelVips, Notify; a lower-priority
/// advert: SendAdvert, MasterRxLowerPri, a GARP batch).
pub const ACTIONS_PER_INSTANCE_MAX: usize = 3 + GARP_BATCH_MAX;

/// Capacity of [`Actions`]: every instance at its worst case in one call
/// (a link event, a shutdown or a common deadline can touch all of them),
/// plus one notification per sync group.
pub const ACTIONS_MAX: usize = MAX_INSTANCES * ACTIONS_PER_INSTANCE_MAX + MAX_SYNC_GROUPS;

/// A bounded, ordered list of actions. Overflow cannot happen by
/// construction (see [`ACTIONS_MAX`]); if it does, it is a bug:
/// `debug_assert!` in debug builds, a counted drop in release.
pub struct Actions {
    list: Vec<Action, ACTIONS_MAX>,
    overflow: u64,
}

impl Default for Actions {
    fn default() -> Self {
        Self::new()
    }
}

impl Actions {
    pub const fn new() -> Self {
        Actions {
            list: Vec::new(),
            overflow: 0,
        }
    }

    pub(crate) fn push(&mut self, a: Action) {
        if self.list.push(a).is_err() {
            self.overflow = self.overflow.saturating_add(1);
            debug_assert!(false, "vrrp::Actions overflow: ACTIONS_MAX is too small");
        }
    }

    pub fn as_slice(&self) -> &[Action] {
        &self.list
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Action> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// Moves the action at index `from` to index `to` (`to <= from`); the
    /// actions in between move up by one, in order.
    pub(crate) fn move_to(&mut self, from: usize, to: usize) {
        if to < from && from < self.list.len() {
            self.list[to..=from].rotate_right(1);
        }
    }

    /// Actions lost to overflow since creation (always 0 unless there is a bug).
    pub fn overflow_count(&self) -> u64 {
        self.overflow
    }
}

impl<'a> IntoIterator for &'a Actions {
    type Item = &'a Action;
    type IntoIter = core::slice::Iter<'a, Action>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}
