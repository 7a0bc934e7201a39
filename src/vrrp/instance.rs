//! One VRRP instance (one VRID on one interface and family): the RFC 5798
//! §6.4 receive and timeout logic with keepalived's semantics.

use core::cmp::Ordering;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use heapless::Vec;

use super::action::{Action, Actions, GARP_BATCH_MAX, InstanceId, NotifyState, VipRef};
use super::stats::{DropReason, Stats};
use super::timers::{master_down_interval, skew_time};
use crate::config::model::{
    AddressFamily, AuthType, IfName, InitialState, InstanceConfig, Name, VrrpVersion,
};
use crate::limits::{MAX_TRACKERS, MAX_VIPS};
use crate::time::{Duration, Instant};
use crate::wire::ah::{self, AhSeq};
use crate::wire::vrrp::{Repr, Version};

/// `info!` for a drop reason, within the instance's log budget.
macro_rules! drop_info {
    ($self:ident, $($arg:tt)*) => {
        if $self.log_drops {
            info!($($arg)*);
        }
    };
}

/// Drop reasons logged per instance per second; further drops in the same
/// second are only counted (and their number logged once), so that a flood
/// of bad packets cannot flood the log.
pub const DROP_LOG_PER_SEC: u32 = 10;

/// The drop-log budget of one instance (and, in the daemon, of one
/// interface's receive path): [`DROP_LOG_PER_SEC`] lines per one-second
/// window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DropLog {
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl DropLog {
    /// Whether a drop seen at `now` may be logged. Opens a new window when
    /// the last one is over and returns how many drops the old one did not
    /// log (for a summary line).
    pub(crate) fn begin(&mut self, now: Instant) -> (bool, u64) {
        let expired = self
            .window_start
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        let mut missed = 0;
        if expired {
            missed = core::mem::take(&mut self.suppressed);
            self.window_start = Some(now);
            self.logged = 0;
        }
        (self.logged < DROP_LOG_PER_SEC, missed)
    }

    pub(crate) fn record(&mut self, logged: bool) {
        if logged {
            self.logged = self.logged.saturating_add(1);
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
        }
    }
}

/// At most one "advert sent late" warning per instance this often.
const LATE_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Rate limit of the "advert sent late" warning (keepalived's "A thread
/// timer expired N seconds ago" tells the same, for its whole process).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LateLog {
    last: Option<Instant>,
    /// Late adverts not logged since the last warning.
    suppressed: u64,
}

/// RFC 5798 priority of the address owner.
pub const PRIORITY_OWNER: u8 = 255;
/// Priority 0: the master is leaving.
pub const PRIORITY_STOP: u8 = 0;

/// Read-only view of an instance's state, for status and dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateKind {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl StateKind {
    /// keepalived's words: `INIT`, `BACKUP`, `MASTER`, `FAULT`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StateKind::Initialize => "INIT",
            StateKind::Backup => "BACKUP",
            StateKind::Master => "MASTER",
            StateKind::Fault => "FAULT",
        }
    }
}

/// GARP/NA schedule of a master: a paced burst in progress, a delayed second
/// burst and a periodic refresh. All deadlines; nothing blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GarpSchedule {
    /// Individual GARPs left in the current burst.
    burst_left: u32,
    /// Position of the next GARP (address = pos % address count).
    burst_pos: u32,
    /// When the next GARP of the burst is due.
    next_at: Instant,
    /// A delayed burst (garp_master_delay / garp_lower_prio_delay) and its repeat.
    delayed: Option<(Instant, u32)>,
    /// Next refresh burst (garp_master_refresh).
    refresh_at: Option<Instant>,
}

impl GarpSchedule {
    const IDLE: GarpSchedule = GarpSchedule {
        burst_left: 0,
        burst_pos: 0,
        next_at: Instant::ZERO,
        delayed: None,
        refresh_at: None,
    };

    fn deadline(&self) -> Option<Instant> {
        let burst = if self.burst_left > 0 {
            Some(self.next_at)
        } else {
            None
        };
        min_opt(min_opt(burst, self.delayed.map(|d| d.0)), self.refresh_at)
    }
}

/// `track_interface` entries of an instance: its own plus its sync group's.
pub(crate) const TRACK_IF_MAX: usize = 2 * MAX_TRACKERS;

/// Where the instance is, with its single timer inside the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Not started, or shut down.
    Initialize,
    Backup {
        master_down_at: Instant,
        /// v3: the master's advertised interval (RFC 5798 Master_Adver_Interval).
        master_adver_interval_cs: u16,
        /// preempt_delay: lower-priority adverts are accepted until then.
        preempt_at: Option<Instant>,
    },
    Master {
        adver_at: Instant,
        garp: GarpSchedule,
    },
    Fault,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TrackIf {
    pub link: u8,
    pub weight: i16,
    pub reverse: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GarpConfig {
    master_delay: Duration,
    master_repeat: u32,
    master_refresh: Duration,
    master_refresh_repeat: u32,
    lower_prio_delay: Duration,
    lower_prio_repeat: u32,
    garp_interval: Duration,
    gna_interval: Duration,
}

#[derive(Clone)]
pub(crate) struct Instance {
    pub(crate) id: InstanceId,
    pub(crate) name: Name,
    pub(crate) ifname: IfName,
    pub(crate) vrid: u8,
    pub(crate) family: AddressFamily,
    version: VrrpVersion,
    base_priority: u8,
    /// The address owner (priority 255) written with `state BACKUP`
    /// (outside vrrp_strict): it starts as Backup and takes over when its
    /// Master_Down_Timer expires, as keepalived does, instead of at once.
    owner_starts_backup: bool,
    adver_interval_cs: u16,
    down_timer_adverts: u8,
    nopreempt: bool,
    preempt_delay: Duration,
    auth_type: AuthType,
    auth_pass: [u8; 8],
    vips: Vec<IpAddr, MAX_VIPS>,
    excluded: Vec<IpAddr, MAX_VIPS>,
    unicast: bool,
    lower_prio_no_advert: bool,
    higher_prio_send_advert: bool,
    skip_check_adv_addr: bool,
    garp: GarpConfig,
    pub(crate) own_link: u8,
    pub(crate) track_primary: bool,
    pub(crate) track_if: Vec<TrackIf, TRACK_IF_MAX>,
    /// Index of the instance's `vrrp_sync_group` (the group decides when a
    /// member may become master; see `Router`).
    pub(crate) sync_group: Option<u16>,

    // Run time.
    /// The sync group's state as the router last set it (`None`: no
    /// group, or the group has not started): keepalived's
    /// `send_instance_notifies` skips a member's notifications for a state
    /// the group is already in, once the member has notified once.
    pub(crate) group_state: Option<StateKind>,
    /// This instance has emitted a notification (keepalived's
    /// `notifies_sent`; a reload starts afresh).
    pub(crate) notifies_sent: bool,
    src_addr: Option<IpAddr>,
    pub(crate) state: State,
    effective_priority: u8,
    track_weight: i32,
    track_fault: bool,
    master_addr: Option<IpAddr>,
    master_priority: u8,
    last_transition: Option<Instant>,
    last_interval_logged_cs: u16,
    /// A sync group member whose Master_Down_Timer expired: it wants to be
    /// master and becomes master when every member of its group does
    /// (keepalived's `wantstate MASTER`; "prefer backup to avoid thrashing").
    pub(crate) want_master: bool,
    /// `auth_type AH`: the sequence counter shared by receive and transmit.
    ah_seq: AhSeq,
    /// Whether drop reasons of the packet being checked are logged.
    log_drops: bool,
    drop_log: DropLog,
    late_log: LateLog,
    pub(crate) stats: Stats,
}

/// "N more late adverts" (nothing for 0), for the late warning.
struct MoreLate(u64);

impl core::fmt::Display for MoreLate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => Ok(()),
            1 => f.write_str("1 more late advert"),
            n => write!(f, "{n} more late adverts"),
        }
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if x <= y { x } else { y }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Constant-time comparison of the 8 PASS bytes.
fn ct_eq8(a: &[u8; 8], b: &[u8; 8]) -> bool {
    let mut d = 0u8;
    for i in 0..8 {
        d |= a[i] ^ b[i];
    }
    d == 0
}

fn unspecified(family: AddressFamily) -> IpAddr {
    match family {
        AddressFamily::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        AddressFamily::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn family_of(a: &IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    }
}

impl Instance {
    pub(crate) fn new(
        id: InstanceId,
        c: &InstanceConfig,
        own_link: u8,
        track_if: Vec<TrackIf, TRACK_IF_MAX>,
    ) -> Self {
        let mut vips = Vec::new();
        for v in &c.virtual_ipaddress {
            // Same capacity on both sides: cannot fail.
            let _ = vips.push(v.addr);
        }
        let mut excluded = Vec::new();
        for v in &c.virtual_ipaddress_excluded {
            let _ = excluded.push(v.addr);
        }
        let base = c.priority.max(1);
        Instance {
            id,
            name: c.name.clone(),
            ifname: c.interface.clone(),
            vrid: c.virtual_router_id,
            family: c.family,
            version: c.version,
            base_priority: base,
            owner_starts_backup: base == PRIORITY_OWNER && c.state == Some(InitialState::Backup),
            adver_interval_cs: c.advert_int_cs.max(1),
            down_timer_adverts: c.down_timer_adverts.max(1),
            nopreempt: c.nopreempt,
            preempt_delay: Duration::from_millis(c.preempt_delay_ms as u64),
            auth_type: c.authentication.auth_type,
            auth_pass: c.authentication.auth_pass,
            vips,
            excluded,
            unicast: c.is_unicast(),
            lower_prio_no_advert: c.lower_prio_no_advert,
            higher_prio_send_advert: c.higher_prio_send_advert,
            skip_check_adv_addr: c.skip_check_adv_addr,
            garp: GarpConfig {
                master_delay: Duration::from_secs(c.garp_master_delay_s as u64),
                master_repeat: c.garp_master_repeat,
                master_refresh: Duration::from_secs(c.garp_master_refresh_s as u64),
                master_refresh_repeat: c.garp_master_refresh_repeat,
                lower_prio_delay: Duration::from_secs(c.garp_lower_prio_delay_s as u64),
                lower_prio_repeat: c.garp_lower_prio_repeat,
                garp_interval: Duration::from_micros(c.garp_interval_us as u64),
                gna_interval: Duration::from_micros(c.gna_interval_us as u64),
            },
            own_link,
            track_primary: !c.dont_track_primary,
            track_if,
            sync_group: c.sync_group,
            group_state: None,
            notifies_sent: false,
            src_addr: c.unicast_src_ip.or(c.mcast_src_ip),
            state: State::Initialize,
            effective_priority: base,
            track_weight: 0,
            track_fault: false,
            master_addr: None,
            master_priority: 0,
            last_transition: None,
            last_interval_logged_cs: 0,
            want_master: false,
            ah_seq: AhSeq::new(),
            log_drops: true,
            drop_log: DropLog::default(),
            late_log: LateLog::default(),
            stats: Stats::default(),
        }
    }

    // ---- Accessors -------------------------------------------------------

    pub(crate) fn state_kind(&self) -> StateKind {
        match self.state {
            State::Initialize => StateKind::Initialize,
            State::Backup { .. } => StateKind::Backup,
            State::Master { .. } => StateKind::Master,
            State::Fault => StateKind::Fault,
        }
    }

    pub(crate) fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    pub(crate) fn base_priority(&self) -> u8 {
        self.base_priority
    }

    pub(crate) fn last_transition(&self) -> Option<Instant> {
        self.last_transition
    }

    pub(crate) fn src_addr(&self) -> Option<IpAddr> {
        self.src_addr
    }

    pub(crate) fn set_src_addr(&mut self, a: IpAddr) {
        self.src_addr = Some(a);
    }

    /// The current master: ourselves as Master, the last accepted sender as Backup.
    pub(crate) fn master_addr(&self) -> Option<IpAddr> {
        match self.state {
            State::Master { .. } => self.src_addr,
            State::Backup { .. } => self.master_addr,
            _ => None,
        }
    }

    pub(crate) fn master_priority(&self) -> Option<u8> {
        match self.state {
            State::Master { .. } => Some(self.effective_priority),
            State::Backup { .. } if self.master_addr.is_some() => Some(self.master_priority),
            _ => None,
        }
    }

    /// `auth_type AH`: the sequence number of the last advert sent (the
    /// one the last [`Action::SendAdvert`] carries) or accepted.
    pub(crate) fn ah_seq(&self) -> Option<u32> {
        (self.auth_type == AuthType::Ah).then(|| self.ah_seq.seq_number())
    }

    /// `auth_type AH`: the HMAC key (the zero-padded 8-octet `auth_pass`)
    /// and whether the ICV is computed in unicast mode (TTL not hashed).
    pub(crate) fn ah_key(&self) -> Option<([u8; ah::KEY_LEN], bool)> {
        (self.auth_type == AuthType::Ah).then_some((self.auth_pass, self.unicast))
    }

    /// The interval the instance's timers run on (Master_Adver_Interval).
    pub(crate) fn master_adver_interval_cs(&self) -> u16 {
        match self.state {
            State::Backup {
                master_adver_interval_cs,
                ..
            } => master_adver_interval_cs,
            _ => self.adver_interval_cs,
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Backup { master_down_at, .. } => Some(master_down_at),
            State::Master { adver_at, garp } => min_opt(Some(adver_at), garp.deadline()),
            State::Initialize | State::Fault => None,
        }
    }

    /// The advertisement this instance sends with `priority`.
    pub(crate) fn advert_repr(&self, priority: u8) -> Repr {
        let version = match self.version {
            VrrpVersion::V2 => Version::V2,
            VrrpVersion::V3 => Version::V3,
        };
        let (auth_type, auth_data) = match (self.version, self.auth_type) {
            (VrrpVersion::V2, AuthType::Pass) => (1, self.auth_pass),
            (VrrpVersion::V2, AuthType::Ah) => (2, [0; 8]),
            _ => (0, [0; 8]),
        };
        Repr {
            version,
            vrid: self.vrid,
            priority,
            max_adver_int_cs: self.adver_interval_cs,
            addr_count: self.vips.len() as u8,
            addrs: self.vips.clone(),
            auth_type,
            auth_data,
        }
    }

    fn skew(&self, mai_cs: u16) -> Duration {
        skew_time(self.version, self.effective_priority, mai_cs)
    }

    fn down_interval(&self, mai_cs: u16) -> Duration {
        master_down_interval(
            self.version,
            self.effective_priority,
            mai_cs,
            self.down_timer_adverts,
        )
    }

    // ---- Transitions -----------------------------------------------------

    fn send_advert(&mut self, priority: u8, out: &mut Actions) {
        Stats::inc(&mut self.stats.advert_sent);
        if self.auth_type == AuthType::Ah {
            // One increment per advert (not per unicast peer), before it is
            // built: the shell reads the value with `ah_seq`.
            self.ah_seq.next_tx();
        }
        if priority == PRIORITY_STOP {
            Stats::inc(&mut self.stats.pri_zero_sent);
            debug!("({}) sent 0 priority", self.name);
        }
        out.push(Action::SendAdvert {
            inst: self.id,
            priority,
        });
    }

    /// A timed advert goes out `late` after its Adver_Timer deadline:
    /// counted, and warned about (at most every [`LATE_LOG_INTERVAL`]) when
    /// it is half an advertisement interval or more.
    fn advert_late(&mut self, late: Duration, now: Instant) {
        self.stats.advert_late.record(late.as_micros());
        let half_interval = Duration::from_micros(u64::from(self.adver_interval_cs) * 5_000);
        if late < half_interval {
            return;
        }
        let log = &mut self.late_log;
        let due = log
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= LATE_LOG_INTERVAL);
        if !due {
            log.suppressed = log.suppressed.saturating_add(1);
            return;
        }
        let more = core::mem::take(&mut log.suppressed);
        log.last = Some(now);
        warn!(
            "({}) advertisement sent {}.{:03} ms after its timer expired (advert_int {} ms; the process was not scheduled in time){}{}{}",
            self.name,
            late.as_micros() / 1000,
            late.as_micros() % 1000,
            u64::from(self.adver_interval_cs) * 10,
            if more > 0 { "; " } else { "" },
            MoreLate(more),
            if more > 0 {
                " since the last warning"
            } else {
                ""
            },
        );
    }

    fn notify(&mut self, state: NotifyState, out: &mut Actions) {
        let as_group = match state {
            NotifyState::Master => Some(StateKind::Master),
            NotifyState::Backup => Some(StateKind::Backup),
            NotifyState::Fault => Some(StateKind::Fault),
            // The group is never in STOP when its members stop.
            NotifyState::Stop => None,
        };
        if self.notifies_sent && as_group.is_some() && self.group_state == as_group {
            debug!(
                "({}) {} not notified: the sync group is already in that state",
                self.name,
                state.as_str()
            );
            return;
        }
        self.notifies_sent = true;
        out.push(Action::Notify {
            inst: self.id,
            state,
            priority: self.effective_priority,
        });
    }

    fn enter_backup(
        &mut self,
        now: Instant,
        master_adver_interval_cs: u16,
        init: bool,
        out: &mut Actions,
    ) {
        if init {
            info!("({}) Entering BACKUP STATE (init)", self.name);
        } else {
            info!("({}) Entering BACKUP STATE", self.name);
        }
        Stats::inc(&mut self.stats.enter_backup);
        self.want_master = false;
        self.state = State::Backup {
            master_down_at: now + self.down_interval(master_adver_interval_cs),
            master_adver_interval_cs,
            preempt_at: None,
        };
        self.last_transition = Some(now);
        self.notify(NotifyState::Backup, out);
    }

    fn become_master(&mut self, now: Instant, out: &mut Actions) {
        info!("({}) Entering MASTER STATE", self.name);
        Stats::inc(&mut self.stats.become_master);
        self.want_master = false;
        if self.auth_type == AuthType::Ah {
            // A counter that reached the end of the space restarts at 0.
            self.ah_seq.on_goto_master();
        }
        if self.version == VrrpVersion::V3
            && self.master_adver_interval_cs() != self.adver_interval_cs
        {
            info!(
                "({}) using locally configured advertisement interval ({} milli-sec)",
                self.name,
                u32::from(self.adver_interval_cs) * 10
            );
        }
        // The advert goes out first so that the old master can drop its VIPs
        // before our GARPs arrive (keepalived does the same).
        self.send_advert(self.effective_priority, out);
        debug!("({}) setting VIPs.", self.name);
        out.push(Action::AddVips { inst: self.id });
        self.notify(NotifyState::Master, out);
        let mut garp = GarpSchedule::IDLE;
        self.start_burst(&mut garp, now, self.garp.master_repeat);
        if self.garp.master_delay > Duration::ZERO {
            garp.delayed = Some((now + self.garp.master_delay, self.garp.master_repeat));
        }
        if self.garp.master_refresh > Duration::ZERO {
            garp.refresh_at = Some(now + self.garp.master_refresh);
        }
        self.state = State::Master {
            adver_at: now + Duration::from_centisecs(self.adver_interval_cs as u64),
            garp,
        };
        self.master_addr = None;
        self.last_transition = Some(now);
        self.run_garps(now, out);
    }

    /// Master -> Backup or Fault: optional priority-0 advert, then VIPs go.
    fn leave_master(&mut self, send_stop: bool, out: &mut Actions) {
        if send_stop {
            self.send_advert(PRIORITY_STOP, out);
        }
        debug!("({}) removing VIPs.", self.name);
        out.push(Action::DelVips { inst: self.id });
        Stats::inc(&mut self.stats.release_master);
    }

    fn enter_fault(&mut self, now: Instant, init: bool, out: &mut Actions) {
        if init {
            info!("({}) Entering FAULT STATE (init)", self.name);
        } else {
            info!("({}) Entering FAULT STATE", self.name);
        }
        Stats::inc(&mut self.stats.enter_fault);
        self.want_master = false;
        self.state = State::Fault;
        self.master_addr = None;
        self.last_transition = Some(now);
        self.notify(NotifyState::Fault, out);
    }

    fn total_vips(&self) -> u32 {
        (self.vips.len() + self.excluded.len()) as u32
    }

    fn vip_at(&self, pos: u32) -> (VipRef, AddressFamily) {
        let n = self.vips.len() as u32;
        let total = self.total_vips().max(1);
        let i = pos % total;
        if i < n {
            let a = self
                .vips
                .get(i as usize)
                .map(family_of)
                .unwrap_or(self.family);
            (VipRef::Vip(i as u8), a)
        } else {
            let j = i - n;
            let a = self
                .excluded
                .get(j as usize)
                .map(family_of)
                .unwrap_or(self.family);
            (VipRef::Excluded(j as u8), a)
        }
    }

    fn start_burst(&self, garp: &mut GarpSchedule, now: Instant, repeat: u32) {
        let count = repeat.saturating_mul(self.total_vips());
        if count == 0 {
            return;
        }
        if garp.burst_left == 0 {
            garp.burst_pos = 0;
            garp.next_at = now;
        }
        garp.burst_left = garp.burst_left.saturating_add(count);
    }

    /// Emit the GARPs that are due (at most [`GARP_BATCH_MAX`]).
    fn run_garps(&mut self, now: Instant, out: &mut Actions) {
        let State::Master { mut garp, adver_at } = self.state else {
            return;
        };
        if let Some((at, repeat)) = garp.delayed
            && at <= now
        {
            garp.delayed = None;
            self.start_burst(&mut garp, now, repeat);
        }
        if let Some(at) = garp.refresh_at
            && at <= now
        {
            self.start_burst(&mut garp, now, self.garp.master_refresh_repeat);
            garp.refresh_at = Some(now + self.garp.master_refresh);
        }
        let mut sent = 0;
        while garp.burst_left > 0 && garp.next_at <= now && sent < GARP_BATCH_MAX {
            let (vip, fam) = self.vip_at(garp.burst_pos);
            if garp.burst_pos < self.total_vips() {
                let addr = match vip {
                    VipRef::Vip(i) => self.vips.get(usize::from(i)),
                    VipRef::Excluded(i) => self.excluded.get(usize::from(i)),
                };
                if let Some(addr) = addr {
                    debug!(
                        "({}) Sending/queueing gratuitous ARPs on {} for {}",
                        self.name, self.ifname, addr
                    );
                }
            }
            out.push(Action::SendGarp { inst: self.id, vip });
            Stats::inc(&mut self.stats.garp_sent);
            garp.burst_pos = garp.burst_pos.wrapping_add(1);
            garp.burst_left -= 1;
            sent += 1;
            let gap = match fam {
                AddressFamily::Ipv4 => self.garp.garp_interval,
                AddressFamily::Ipv6 => self.garp.gna_interval,
            };
            if gap > Duration::ZERO {
                garp.next_at = now + gap;
            }
        }
        self.state = State::Master { adver_at, garp };
    }

    // ---- Inputs ----------------------------------------------------------

    /// Leave Initialize (daemon start): owner -> Master, faulty -> Fault (init),
    /// else Backup (init) with the full down timer. `state MASTER` with a
    /// priority below 255 also starts as Backup, and so does an owner
    /// written with `state BACKUP` (keepalived).
    pub(crate) fn start(&mut self, now: Instant, faulty: bool, out: &mut Actions) {
        if self.state != State::Initialize {
            return;
        }
        if faulty {
            out.push(Action::DelVips { inst: self.id });
            self.enter_fault(now, true, out);
        } else if self.base_priority == PRIORITY_OWNER && !self.owner_starts_backup {
            self.become_master(now, out);
        } else {
            debug!("({}) removing VIPs.", self.name);
            out.push(Action::DelVips { inst: self.id });
            self.enter_backup(now, self.adver_interval_cs, true, out);
        }
    }

    pub(crate) fn shutdown(&mut self, now: Instant, out: &mut Actions) {
        match self.state {
            State::Initialize => return,
            State::Master { .. } => self.leave_master(true, out),
            State::Backup { .. } | State::Fault => {}
        }
        self.state = State::Initialize;
        self.want_master = false;
        self.last_transition = Some(now);
        self.master_addr = None;
        self.notify(NotifyState::Stop, out);
    }

    /// Sync group: every member wants master (or is master): a Backup
    /// member becomes master now.
    pub(crate) fn sync_to_master(&mut self, now: Instant, out: &mut Actions) {
        if matches!(self.state, State::Backup { .. }) {
            self.become_master(now, out);
        }
    }

    /// Sync group: a member went from master to backup: a master member
    /// follows (VIPs removed; no priority-0 advert, as keepalived).
    pub(crate) fn sync_to_backup(&mut self, now: Instant, out: &mut Actions) {
        if matches!(self.state, State::Master { .. }) {
            self.leave_master(false, out);
            self.enter_backup(now, self.adver_interval_cs, false, out);
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Actions) {
        match self.state {
            State::Backup {
                master_down_at,
                master_adver_interval_cs,
                preempt_at,
            } if master_down_at <= now => {
                info!("({}) Receive advertisement timeout", self.name);
                if self.sync_group.is_some() {
                    // The group decides (Router::sync_masters); until every
                    // member wants master, wait another Master_Down_Interval.
                    self.want_master = true;
                    self.state = State::Backup {
                        master_down_at: now + self.down_interval(master_adver_interval_cs),
                        master_adver_interval_cs,
                        preempt_at,
                    };
                } else {
                    self.become_master(now, out);
                }
            }
            State::Master { adver_at, garp } => {
                if adver_at <= now {
                    self.advert_late(now.saturating_duration_since(adver_at), now);
                    self.send_advert(self.effective_priority, out);
                    self.state = State::Master {
                        adver_at: now + Duration::from_centisecs(self.adver_interval_cs as u64),
                        garp,
                    };
                }
                self.run_garps(now, out);
            }
            _ => {}
        }
    }

    /// New tracker results: `fault` and the summed weight (`effective
    /// priority = clamp(base + weight, 1, 254)`, 255 never changes).
    pub(crate) fn update(&mut self, now: Instant, fault: bool, weight: i32, out: &mut Actions) {
        self.track_weight = weight;
        self.track_fault = fault;
        let new_prio = if self.base_priority == PRIORITY_OWNER {
            PRIORITY_OWNER
        } else {
            (i32::from(self.base_priority).saturating_add(weight)).clamp(1, 254) as u8
        };
        if new_prio != self.effective_priority {
            // Before the first state (start-up) the priority is set silently,
            // as keepalived does.
            if self.state != State::Initialize {
                info!(
                    "({}) Changing effective priority from {} to {}",
                    self.name, self.effective_priority, new_prio
                );
            }
            let old = self.effective_priority;
            self.effective_priority = new_prio;
            if let State::Backup {
                master_down_at,
                master_adver_interval_cs,
                preempt_at,
            } = self.state
            {
                // Re-arm the down timer with the new skew.
                let old_skew = skew_time(self.version, old, master_adver_interval_cs);
                let new_skew = self.skew(master_adver_interval_cs);
                let base = Instant::from_micros(
                    master_down_at
                        .as_micros()
                        .saturating_sub(old_skew.as_micros()),
                );
                self.state = State::Backup {
                    master_down_at: base + new_skew,
                    master_adver_interval_cs,
                    preempt_at,
                };
            }
        }
        match self.state {
            State::Initialize => {}
            State::Fault if !fault => {
                if self.base_priority == PRIORITY_OWNER {
                    self.become_master(now, out);
                } else {
                    self.enter_backup(now, self.adver_interval_cs, false, out);
                }
            }
            State::Master { .. } if fault => {
                self.leave_master(true, out);
                self.enter_fault(now, false, out);
            }
            State::Backup { .. } if fault => self.enter_fault(now, false, out),
            _ => {}
        }
    }

    /// Receive checks after wire parsing; `Err` names the drop.
    fn check_advert(
        &mut self,
        src: IpAddr,
        ttl: u8,
        repr: &Repr,
        ah_seq: Option<u32>,
    ) -> Result<(), DropReason> {
        // An AH instance takes only authenticated adverts (protocol 51),
        // and a PASS/none instance none of those (keepalived's first check).
        if ah_seq.is_some() != (self.auth_type == AuthType::Ah) {
            if ah_seq.is_some() {
                drop_info!(
                    self,
                    "({}) Received AH header but auth type not AH",
                    self.name
                );
            } else {
                drop_info!(self, "({}) No AH header but auth type is AH", self.name);
            }
            return Err(DropReason::AuthTypeMismatch);
        }
        if family_of(&src) != self.family {
            return Err(DropReason::Family);
        }
        if !self.unicast && ttl != 255 {
            drop_info!(self, "({}) invalid ttl. {} and expect 255", self.name, ttl);
            return Err(DropReason::IpTtl);
        }
        let ours = match self.version {
            VrrpVersion::V2 => Version::V2,
            VrrpVersion::V3 => Version::V3,
        };
        if repr.version != ours {
            return Err(DropReason::Version);
        }
        if repr.vrid != self.vrid {
            return Err(DropReason::Vrid);
        }
        if self.version == VrrpVersion::V2 {
            if repr.auth_type > 2 {
                drop_info!(
                    self,
                    "({}) Invalid auth type: {}",
                    self.name,
                    repr.auth_type
                );
                return Err(DropReason::InvalidAuthType);
            }
            let want = match self.auth_type {
                AuthType::None => 0,
                AuthType::Pass => 1,
                AuthType::Ah => 2,
            };
            if repr.auth_type != want {
                drop_info!(
                    self,
                    "({}) received a {} auth, expecting {}!",
                    self.name,
                    repr.auth_type,
                    want
                );
                return Err(DropReason::AuthTypeMismatch);
            }
            if self.auth_type == AuthType::Pass && !ct_eq8(&repr.auth_data, &self.auth_pass) {
                drop_info!(self, "({}) received an invalid passwd!", self.name);
                return Err(DropReason::AuthFailure);
            }
            if let Some(seq) = ah_seq {
                // The replay check, then the counter takes the value
                // (keepalived does this before the interval check).
                if let Err(ah::AhError::Replay { seq, last }) = self.ah_seq.accept_rx(seq) {
                    drop_info!(
                        self,
                        "({}) IPSEC-AH : sequence number {} already processed. Packet dropped. Local({})",
                        self.name,
                        seq,
                        last
                    );
                    return Err(DropReason::AhReplay);
                }
                if matches!(self.state, State::Backup { .. }) {
                    self.ah_seq.on_backup_rx();
                }
            }
            if repr.max_adver_int_cs != self.adver_interval_cs {
                if self.last_interval_logged_cs != repr.max_adver_int_cs {
                    self.last_interval_logged_cs = repr.max_adver_int_cs;
                    drop_info!(
                        self,
                        "({}) advertisement interval mismatch with {} mine={} sec rcv'd={} sec",
                        self.name,
                        src,
                        self.adver_interval_cs / 100,
                        repr.max_adver_int_cs / 100
                    );
                }
                return Err(DropReason::AdvertInterval);
            }
        } else if repr.max_adver_int_cs == 0 {
            return Err(DropReason::AdvertInterval);
        }
        if usize::from(repr.addr_count) != self.vips.len() {
            drop_info!(
                self,
                "({}) received an invalid ip number count {}, expected {}!",
                self.name,
                repr.addr_count,
                self.vips.len()
            );
            return Err(DropReason::AddrList);
        }
        Stats::inc(&mut self.stats.advert_rcvd);
        // skip_check_adv_addr: only skip when the advert comes from the
        // master we already know (as Backup).
        let is_backup = matches!(self.state, State::Backup { .. });
        let check_addrs = !self.skip_check_adv_addr || !is_backup || self.master_addr != Some(src);
        if check_addrs {
            for v in &self.vips {
                if !repr.addrs.contains(v) {
                    drop_info!(
                        self,
                        "({}) ip address associated with VRID {} not present in MASTER advert : {}",
                        self.name,
                        self.vrid,
                        v
                    );
                    return Err(DropReason::AddrList);
                }
            }
        }
        if repr.priority == PRIORITY_STOP {
            Stats::inc(&mut self.stats.pri_zero_rcvd);
        }
        if self.version == VrrpVersion::V3
            && repr.max_adver_int_cs != self.adver_interval_cs
            && self.last_interval_logged_cs != repr.max_adver_int_cs
        {
            self.last_interval_logged_cs = repr.max_adver_int_cs;
            info!(
                "({}) advertisement interval mismatch ours = {} centi-sec rcv'd={} centi-sec",
                self.name, self.adver_interval_cs, repr.max_adver_int_cs
            );
        }
        Ok(())
    }

    pub(crate) fn handle_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        ttl: u8,
        repr: &Repr,
        out: &mut Actions,
    ) {
        self.receive(now, src, ttl, repr, None, out);
    }

    /// A datagram from the IPv4 AH socket (protocol 51: IPv4 header, AH,
    /// VRRPv2), demultiplexed to this instance by its unauthenticated VRID
    /// ([`ah::peek_vrid`]). Verified here (ICV with our key, SPI, then the
    /// VRRP parse), then checked and handled like any advert, with the
    /// sequence number going through the shared counter.
    pub(crate) fn handle_ah_datagram(&mut self, now: Instant, datagram: &[u8], out: &mut Actions) {
        if self.state == State::Initialize {
            self.stats.count_drop(DropReason::NotRunning);
            return;
        }
        let Some((key, unicast)) = self.ah_key() else {
            self.refuse(
                now,
                DropReason::AuthTypeMismatch,
                format_args!("Received AH header but auth type not AH"),
            );
            return;
        };
        match ah::parse_ipv4_ah_vrrp(datagram, &key, unicast) {
            Ok((ip, seq, repr)) => {
                self.receive(now, IpAddr::V4(ip.src), ip.ttl, &repr, Some(seq), out)
            }
            Err(e) => {
                let reason = DropReason::from_wire(e);
                match e {
                    crate::wire::Error::BadIcv => self.refuse(
                        now,
                        reason,
                        format_args!(
                            "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
                        ),
                    ),
                    crate::wire::Error::BadSpi { spi } => self.refuse(
                        now,
                        reason,
                        format_args!("IPSEC AH : invalid IPSEC SPI value {}", Ipv4Addr::from(spi)),
                    ),
                    _ => self.refuse(
                        now,
                        reason,
                        format_args!("dropped AH packet: {}", e),
                    ),
                }
            }
        }
    }

    /// Counts (and, within the log budget, logs) a dropped packet.
    fn refuse(&mut self, now: Instant, reason: DropReason, why: core::fmt::Arguments<'_>) {
        let (loud, missed) = self.drop_log.begin(now);
        if missed > 0 {
            info!(
                "({}) {} more dropped packets not logged in the last second (see the drop counters)",
                self.name, missed
            );
        }
        if loud {
            info!("({}) {}", self.name, why);
        }
        self.drop_log.record(loud);
        self.stats.count_drop(reason);
    }

    fn receive(
        &mut self,
        now: Instant,
        src: IpAddr,
        ttl: u8,
        repr: &Repr,
        ah_seq: Option<u32>,
        out: &mut Actions,
    ) {
        if self.state == State::Initialize {
            self.stats.count_drop(DropReason::NotRunning);
            return;
        }
        let (loud, missed) = self.drop_log.begin(now);
        if missed > 0 {
            info!(
                "({}) {} more dropped packets not logged in the last second (see the drop counters)",
                self.name, missed
            );
        }
        self.log_drops = loud;
        let checked = self.check_advert(src, ttl, repr, ah_seq);
        self.log_drops = true;
        if let Err(reason) = checked {
            // Within the same budget as the info line (`-D` must not turn a
            // flood into one log line per packet).
            if loud {
                debug!(
                    "({}) dropped advert from {}: {}",
                    self.name,
                    src,
                    reason.counter_name()
                );
            }
            self.drop_log.record(loud);
            self.stats.count_drop(reason);
            return;
        }
        match self.state {
            State::Initialize | State::Fault => {}
            State::Backup {
                master_adver_interval_cs,
                preempt_at,
                ..
            } => self.backup_rx(now, src, repr, master_adver_interval_cs, preempt_at),
            State::Master { .. } => self.master_rx(now, src, repr, ah_seq, out),
        }
    }

    fn backup_rx(
        &mut self,
        now: Instant,
        src: IpAddr,
        repr: &Repr,
        mai_cs: u16,
        preempt_at: Option<Instant>,
    ) {
        let prio = repr.priority;
        let eff = self.effective_priority;
        let State::Backup { master_down_at, .. } = self.state else {
            return;
        };
        if prio == PRIORITY_STOP {
            // RFC 5798 6.4.2: Master_Down_Timer = Skew_Time.
            debug!("({}) Backup received priority 0 advertisement", self.name);
            self.state = State::Backup {
                master_down_at: now + self.skew(mai_cs),
                master_adver_interval_cs: mai_cs,
                preempt_at,
            };
            return;
        }
        let delay_running =
            self.preempt_delay > Duration::ZERO && preempt_at.is_none_or(|at| at > now);
        if self.nopreempt || prio >= eff || delay_running {
            let mai_cs = if self.version == VrrpVersion::V3 {
                if repr.max_adver_int_cs != mai_cs {
                    info!(
                        "({}) advertisement interval updated to {} milli-sec from {} milli-sec",
                        self.name,
                        u32::from(repr.max_adver_int_cs) * 10,
                        u32::from(mai_cs) * 10
                    );
                }
                repr.max_adver_int_cs
            } else {
                mai_cs
            };
            let mut preempt_at = preempt_at;
            if self.preempt_delay > Duration::ZERO {
                if prio >= eff {
                    if preempt_at.is_some() {
                        info!("({}) stop preempt delay", self.name);
                        preempt_at = None;
                    }
                } else if preempt_at.is_none() {
                    info!(
                        "({}) start preempt delay ({} ms)",
                        self.name,
                        self.preempt_delay.as_millis()
                    );
                    preempt_at = Some(now + self.preempt_delay);
                }
            }
            self.master_addr = Some(src);
            self.master_priority = prio;
            self.want_master = false;
            self.state = State::Backup {
                master_down_at: now + self.down_interval(mai_cs),
                master_adver_interval_cs: mai_cs,
                preempt_at,
            };
        } else {
            info!(
                "({}) received lower priority ({}) advert from {} - discarding",
                self.name, prio, src
            );
            Stats::inc(&mut self.stats.lower_prio_rcvd);
            self.master_addr = Some(src);
            self.master_priority = prio;
            // The down timer keeps running.
            self.state = State::Backup {
                master_down_at,
                master_adver_interval_cs: mai_cs,
                preempt_at,
            };
        }
    }

    fn master_rx(
        &mut self,
        now: Instant,
        src: IpAddr,
        repr: &Repr,
        ah_seq: Option<u32>,
        out: &mut Actions,
    ) {
        let State::Master { garp, .. } = self.state else {
            return;
        };
        let prio = repr.priority;
        let ours = self.src_addr.unwrap_or(unspecified(self.family));
        let addr_cmp = src.cmp(&ours);
        let adver_at_next = now + Duration::from_centisecs(self.adver_interval_cs as u64);
        if prio == PRIORITY_STOP {
            // RFC 5798 6.4.3: send an advertisement at once, reset the Adver_Timer.
            debug!("({}) Master received priority 0 message", self.name);
            self.send_advert(self.effective_priority, out);
            self.state = State::Master {
                adver_at: adver_at_next,
                garp,
            };
            return;
        }
        if prio == self.effective_priority {
            if addr_cmp == Ordering::Equal {
                warn!(
                    "({}) WARNING - equal priority advert received from remote host with our IP address.",
                    self.name
                );
                return;
            }
            if self.effective_priority == PRIORITY_OWNER {
                // RFC 9568 erratum 8298: two owners; back off (keepalived).
                warn!(
                    "({}) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority",
                    self.name
                );
                self.base_priority = PRIORITY_OWNER - 1;
                self.effective_priority = PRIORITY_OWNER - 1;
            }
        }
        let eff = self.effective_priority;
        if prio < eff || (prio == eff && addr_cmp == Ordering::Less) {
            Stats::inc(&mut self.stats.lower_prio_rcvd);
            let mut garp = garp;
            let mut adver_at = match self.state {
                State::Master { adver_at, .. } => adver_at,
                _ => adver_at_next,
            };
            if let Some(seq) = ah_seq {
                info!("({}) IPSEC-AH : Syncing seq_num - Increment seq", self.name);
                self.ah_seq.on_master_rx_lower_priority(seq);
            }
            if self.lower_prio_no_advert {
                info!(
                    "({}) Received advert from {} with lower priority {}, ours {}",
                    self.name, src, prio, eff
                );
            } else {
                info!(
                    "({}) Received advert from {} with lower priority {}, ours {}, forcing new election",
                    self.name, src, prio, eff
                );
                self.send_advert(eff, out);
                adver_at = adver_at_next;
            }
            if self.garp.lower_prio_repeat > 0 {
                self.start_burst(&mut garp, now, self.garp.lower_prio_repeat);
                if self.garp.lower_prio_delay > Duration::ZERO {
                    garp.delayed = Some((
                        now + self.garp.lower_prio_delay,
                        self.garp.lower_prio_repeat,
                    ));
                }
            }
            let was_master = matches!(self.state, State::Master { .. });
            self.state = State::Master { adver_at, garp };
            self.run_garps(now, out);
            if was_master {
                out.push(Action::MasterRxLowerPri {
                    inst: self.id,
                    priority: eff,
                });
            }
            return;
        }
        // Higher priority, or equal priority and higher address: step down.
        if prio > eff {
            info!(
                "({}) Master received advert from {} with higher priority {}, ours {}",
                self.name, src, prio, eff
            );
        } else {
            info!(
                "({}) Master received advert from {} with same priority {} but higher IP address than ours",
                self.name, src, prio
            );
        }
        if ah_seq.is_some() {
            self.ah_seq.on_master_rx_higher_priority();
        }
        if self.higher_prio_send_advert {
            // The winner hears our (lower) priority and re-sends its GARPs:
            // after a split brain the clients that followed us find it.
            debug!(
                "({}) sending an advert before stepping down (higher_prio_send_advert)",
                self.name
            );
            self.send_advert(eff, out);
        }
        let mai_cs = match self.version {
            VrrpVersion::V3 => repr.max_adver_int_cs,
            VrrpVersion::V2 => self.adver_interval_cs,
        };
        self.leave_master(false, out);
        self.enter_backup(now, mai_cs, false, out);
        self.master_addr = Some(src);
        self.master_priority = prio;
    }
}
