//! The typed, bounded result of parsing a keepalived.conf.
//!
//! Field names are keepalived's keywords so that a grep from a config keyword
//! finds the code. Units are in the names. Every collection is `heapless`;
//! running out of capacity is a config error (see `limits.rs`).
//!
//! Values here are *resolved*: global defaults have been applied to
//! instances (e.g. `garp_master_delay_s` from `vrrp_garp_master_delay`), the
//! advert interval is rounded for the instance's VRRP version, and keepalived's
//! corrections (e.g. `nopreempt` cleared on a `state MASTER` instance) have
//! been made, each with a warning.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use heapless::{String, Vec};

use crate::limits::*;

/// Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
pub const IFNAME_LEN: usize = 15;

pub type Name = String<MAX_NAME_LEN>;
/// An interface name with a one-byte length (16 bytes: every VIP holds two,
/// `dev` and `label`).
pub type IfName = String<IFNAME_LEN, u8>;
pub type PathStr = String<MAX_PATH_LEN>;
pub type Command = String<MAX_CMD_LEN>;
pub type Email = String<64>;

/// Where something was written: file index into [`Config::files`], 1-based
/// line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub file: u16,
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VrrpVersion {
    V2,
    V3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    Ipv4,
    Ipv6,
}

/// The configured `state` keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AuthType {
    #[default]
    None,
    /// Simple text password, VRRPv2 auth type 1.
    Pass,
    /// IPsec AH (IP protocol 51), VRRPv2 auth type 2.
    Ah,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Authentication {
    pub auth_type: AuthType,
    /// Zero-padded to 8 bytes; longer passwords are truncated with a warning.
    pub auth_pass: [u8; 8],
}

/// One `virtual_ipaddress` line:
/// `<IP>[/<MASK>] [brd <IP>] [dev <IF>] [scope <SCOPE>] [label <LABEL>]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VirtualIp {
    pub addr: IpAddr,
    /// keepalived's default is /32 for IPv4 and /128 for IPv6.
    pub prefix_len: u8,
    pub brd: Option<Ipv4Addr>,
    /// `dev`; `None` means the instance's `interface`.
    pub dev: Option<IfName>,
    /// RT_SCOPE_* value: global 0, site 200, link 253, host 254, nowhere 255.
    pub scope: u8,
    pub label: Option<IfName>,
    pub span: Span,
}

/// `track_interface { IF [weight W [reverse]] }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackInterface {
    pub ifname: IfName,
    /// 0 means "down => FAULT".
    pub weight: i16,
    pub reverse: bool,
    pub span: Span,
}

/// A reference from an instance or group to a named tracker
/// (`track_script`, `track_process`, `track_file`): `NAME [weight W [reverse]]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackRef {
    pub name: Name,
    /// Overrides the tracker's own weight when set.
    pub weight: Option<i16>,
    pub reverse: bool,
    pub span: Span,
}

/// A notify command as keepalived reads it: `notify_* CMD [USER [GROUP]]`,
/// the command one (usually quoted) word, then the user and group it runs
/// as (default: `script_user`, else `keepalived_script`, else root).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NotifyCmd {
    pub cmd: Command,
    pub user: Option<Name>,
    pub group: Option<Name>,
    /// The keyword's place.
    pub span: Span,
}

impl NotifyCmd {
    /// A command without its own user (tests, programmatic configs).
    pub fn new(cmd: &str) -> Option<NotifyCmd> {
        Some(NotifyCmd {
            cmd: Command::try_from(cmd).ok()?,
            user: None,
            group: None,
            span: Span::default(),
        })
    }
}

impl core::ops::Deref for NotifyCmd {
    type Target = str;
    fn deref(&self) -> &str {
        &self.cmd
    }
}

impl core::fmt::Display for NotifyCmd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.cmd)
    }
}

impl NotifyCmd {
    /// The same command line, user and group (where either was written
    /// does not count).
    pub fn same_as(&self, other: &NotifyCmd) -> bool {
        self.cmd == other.cmd && self.user == other.user && self.group == other.group
    }
}

/// A notify command of the configuration: its index in
/// [`Config::notify_cmds`], the one pool that holds the commands of the
/// instances, the sync groups and the load-balancing side. An instance
/// names up to six commands and usually none, so it holds these small
/// indices instead of room for six whole commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CmdId(pub u16);

impl CmdId {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Number of notify commands in [`Notify::ids`].
pub const NOTIFY_SLOTS: usize = 6;
/// The slot of the generic `notify` command.
pub const NOTIFY_GENERIC: usize = 4;
/// The slot of `notify_master_rx_lower_pri`.
pub const NOTIFY_RX_LOWER_PRI: usize = 5;

/// notify hooks of an instance or a sync group: which commands of
/// [`Config::notify_cmds`] they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    pub notify_master: Option<CmdId>,
    pub notify_backup: Option<CmdId>,
    pub notify_fault: Option<CmdId>,
    pub notify_stop: Option<CmdId>,
    /// Generic `notify`: gets `INSTANCE|GROUP name STATE priority` appended.
    pub notify: Option<CmdId>,
    /// `notify_master_rx_lower_pri` (instances only): run as configured
    /// when the master receives a lower-priority advert.
    pub notify_master_rx_lower_pri: Option<CmdId>,
}

impl Notify {
    /// Every command with its keyword, by slot: master, backup, fault,
    /// stop, the generic `notify` ([`NOTIFY_GENERIC`]), then
    /// `notify_master_rx_lower_pri` ([`NOTIFY_RX_LOWER_PRI`]).
    pub fn ids(&self) -> [(&'static str, Option<CmdId>); NOTIFY_SLOTS] {
        [
            ("notify_master", self.notify_master),
            ("notify_backup", self.notify_backup),
            ("notify_fault", self.notify_fault),
            ("notify_stop", self.notify_stop),
            ("notify", self.notify),
            (
                "notify_master_rx_lower_pri",
                self.notify_master_rx_lower_pri,
            ),
        ]
    }

    /// [`Notify::ids`] looked up in the pool `cmds` (the configuration's
    /// [`Config::notify_cmds`]).
    pub fn commands<'a>(
        &self,
        cmds: &'a [NotifyCmd],
    ) -> [(&'static str, Option<&'a NotifyCmd>); NOTIFY_SLOTS] {
        self.ids()
            .map(|(kw, id)| (kw, id.and_then(|i| cmds.get(i.index()))))
    }

    /// The keyword's slot (`notify_master`...); `None` for another word.
    pub fn slot_mut(&mut self, kw: &str) -> Option<&mut Option<CmdId>> {
        Some(match kw {
            "notify_master" => &mut self.notify_master,
            "notify_backup" => &mut self.notify_backup,
            "notify_fault" => &mut self.notify_fault,
            "notify_stop" => &mut self.notify_stop,
            "notify" => &mut self.notify,
            "notify_master_rx_lower_pri" => &mut self.notify_master_rx_lower_pri,
            _ => return None,
        })
    }

    /// True when `self` (commands in `cmds`) runs the same commands as
    /// `other` (commands in `other_cmds`) in every slot: compared by
    /// command line, user and group, not by pool index or place.
    pub fn same_commands(
        &self,
        cmds: &[NotifyCmd],
        other: &Notify,
        other_cmds: &[NotifyCmd],
    ) -> bool {
        self.commands(cmds)
            .iter()
            .zip(other.commands(other_cmds).iter())
            .all(|((_, a), (_, b))| match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => a.same_as(b),
                _ => false,
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstanceConfig {
    /// `vrrp_instance NAME`.
    pub name: Name,
    pub span: Span,
    /// `state`, resolved as keepalived does: absent, it follows the
    /// priority (255: MASTER, else BACKUP); in `vrrp_strict` MASTER iff
    /// priority 255. `None` only while parsing; always set in a parsed
    /// configuration. The core starts a non-owner MASTER as Backup (the
    /// election decides) and an owner written BACKUP as Backup too.
    pub state: Option<InitialState>,
    pub interface: IfName,
    pub virtual_router_id: u8,
    /// Base priority, 1..=255. Absent, it follows `state` as in keepalived:
    /// `state MASTER` gives 255 (the address owner), otherwise 100.
    pub priority: u8,
    /// Advertisement interval in centiseconds, already rounded for `version`
    /// (v2: whole seconds 1..=255; v3: 1..=4095 cs). Default 100.
    pub advert_int_cs: u16,
    /// Resolved from `version`/`vrrp_version` or `global_defs vrrp_version` (default 2).
    pub version: VrrpVersion,
    /// Derived from the first VIP (all VIPs of an instance share one family).
    pub family: AddressFamily,
    pub nopreempt: bool,
    /// `preempt_delay` (seconds with decimals, 0..=1000) in milliseconds.
    pub preempt_delay_ms: u32,
    pub authentication: Authentication,
    pub virtual_ipaddress: Vec<VirtualIp, MAX_VIPS>,
    pub virtual_ipaddress_excluded: Vec<VirtualIp, MAX_VIPS>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peer: Vec<IpAddr, MAX_UNICAST_PEERS>,
    pub mcast_src_ip: Option<IpAddr>,
    /// Accept mode (RFC 5798 Accept_Mode): `accept` / `no_accept`; default
    /// on, in `vrrp_strict` on only for priority 255. keepalived enforces
    /// "off" with firewall rules; keepvip does not (a warning says so).
    pub accept: bool,
    /// VRRPv3 IPv4 checksum without pseudo-header (RFC 9568); default false
    /// (keepalived includes the pseudo-header).
    pub checksum_as_v2: bool,
    /// `down_timer_adverts` (1..=100, default 3): the factor in Master_Down_Interval.
    pub down_timer_adverts: u8,
    /// Do not answer a lower-priority advert as master (pre-RFC 9568 behaviour).
    pub lower_prio_no_advert: bool,
    /// A master that steps down for a higher-priority advert first sends
    /// one advert of its own (keepalived's `higher_prio_send_advert`), so
    /// that the winner hears a lower priority and re-sends its GARPs: this
    /// heals the client's ARP cache after a split brain. keepvip's default
    /// is on (keepalived's is off); `vrrp_strict` turns it off.
    pub higher_prio_send_advert: bool,
    pub skip_check_adv_addr: bool,
    pub garp_master_delay_s: u32,
    pub garp_master_repeat: u32,
    pub garp_master_refresh_s: u32,
    pub garp_master_refresh_repeat: u32,
    /// `garp_lower_prio_delay` / `_repeat`: unset, the global
    /// `vrrp_garp_lower_prio_*` (which, unset, follow the global
    /// `vrrp_garp_master_delay` / `_repeat`); always 0 in `vrrp_strict`.
    pub garp_lower_prio_delay_s: u32,
    pub garp_lower_prio_repeat: u32,
    /// Gap between two GARPs (IPv4) / NAs (IPv6) of one burst, microseconds.
    pub garp_interval_us: u32,
    pub gna_interval_us: u32,
    pub track_interface: Vec<TrackInterface, MAX_TRACKERS>,
    pub track_script: Vec<TrackRef, MAX_TRACKERS>,
    pub track_process: Vec<TrackRef, MAX_TRACKERS>,
    pub track_file: Vec<TrackRef, MAX_TRACKERS>,
    pub dont_track_primary: bool,
    pub notify: Notify,
    pub notify_fifo: Option<PathStr>,
    /// Resolved: instance `smtp_alert` or the global one.
    pub smtp_alert: bool,
    /// Index into [`Config::sync_groups`] if the instance is in a group.
    pub sync_group: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ParamMatch {
    /// Match the process name only (default).
    #[default]
    None,
    /// Parameters must be equal.
    Exact,
    /// Configured parameters are a prefix of the process's parameters.
    Initial,
    /// Configured parameters appear anywhere in the process's parameters.
    Partial,
}

/// `vrrp_script NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VrrpScript {
    pub name: Name,
    pub span: Span,
    pub script: Command,
    pub interval_ms: u32,
    pub timeout_ms: u32,
    pub weight: i16,
    pub reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
    pub user: Option<Name>,
    pub group: Option<Name>,
}

/// `vrrp_track_process NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VrrpTrackProcess {
    pub name: Name,
    pub span: Span,
    /// Process name followed by optional parameters, as written.
    pub process: Command,
    pub param_match: ParamMatch,
    pub full_command: bool,
    pub quorum: u32,
    pub quorum_max: u32,
    pub weight: i16,
    pub reverse: bool,
    pub fork_delay_ms: u32,
    pub terminate_delay_ms: u32,
}

/// `vrrp_track_file NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VrrpTrackFile {
    pub name: Name,
    pub span: Span,
    pub file: PathStr,
    pub weight: i16,
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: (value, overwrite).
    pub init_file: Option<(i32, bool)>,
}

/// `vrrp_sync_group NAME { group { ... } ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncGroup {
    pub name: Name,
    pub span: Span,
    /// Indices into [`Config::instances`].
    pub members: Vec<u16, MAX_SYNC_GROUP_MEMBERS>,
    pub notify: Notify,
    pub smtp_alert: bool,
    pub track_interface: Vec<TrackInterface, MAX_TRACKERS>,
    pub track_script: Vec<TrackRef, MAX_TRACKERS>,
    pub track_process: Vec<TrackRef, MAX_TRACKERS>,
    pub track_file: Vec<TrackRef, MAX_TRACKERS>,
    pub sync_group_tracking_weight: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GlobalDefs {
    pub router_id: Option<Name>,
    pub notification_email: Vec<Email, MAX_NOTIFICATION_EMAILS>,
    pub notification_email_from: Option<Email>,
    /// `smtp_server IP [PORT]` (port default 25).
    pub smtp_server: Option<(IpAddr, u16)>,
    pub smtp_connect_timeout_s: u32,
    pub smtp_alert: bool,
    pub vrrp_mcast_group4: Ipv4Addr,
    pub vrrp_mcast_group6: Ipv6Addr,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_strict: bool,
    pub vrrp_garp_interval_us: u32,
    pub vrrp_gna_interval_us: u32,
    pub vrrp_garp_master_delay_s: u32,
    pub vrrp_garp_master_repeat: u32,
    pub vrrp_garp_master_refresh_s: u32,
    pub vrrp_garp_master_refresh_repeat: u32,
    /// Unset: `vrrp_garp_master_delay_s` / `vrrp_garp_master_repeat`
    /// (resolved after the last line, as keepalived does).
    pub vrrp_garp_lower_prio_delay_s: u32,
    pub vrrp_garp_lower_prio_repeat: u32,
    pub vrrp_lower_prio_no_advert: bool,
    /// Default of the instances' `higher_prio_send_advert` (keepvip: true).
    pub vrrp_higher_prio_send_advert: bool,
    pub vrrp_version: VrrpVersion,
    pub enable_script_security: bool,
    pub script_user: Option<Name>,
    pub script_group: Option<Name>,
    /// `notify_fifo PATH [USER [GROUP]]`: every notification's line.
    pub notify_fifo: Option<FifoCfg>,
    /// `vrrp_notify_fifo PATH [USER [GROUP]]`: the VRRP lines (all of
    /// keepvip's), written to both FIFOs like keepalived.
    pub vrrp_notify_fifo: Option<FifoCfg>,
    /// `vrrp_rt_priority` (1..=99): the daemon runs `SCHED_RR` at this
    /// priority (0: not set). Scripts never inherit it.
    pub vrrp_rt_priority: u8,
    /// `vrrp_priority` (-20..=19): the daemon's nice value when it does not
    /// run real-time (0: not set).
    pub vrrp_priority: i8,
    /// `vrrp_rlimit_rttime` in µs (default 10000): with `vrrp_rt_priority`,
    /// the `RLIMIT_RTTIME` hard limit (SIGXCPU at half of it).
    pub vrrp_rlimit_rttime_us: u32,
}

/// A global notify FIFO: keepalived's `notify_fifo PATH [USER [GROUP]]`;
/// a FIFO that keepvip creates is given to that user and group (default:
/// the default script user).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FifoCfg {
    pub path: PathStr,
    pub user: Option<Name>,
    pub group: Option<Name>,
    pub span: Span,
}

impl core::ops::Deref for FifoCfg {
    type Target = str;
    fn deref(&self) -> &str {
        &self.path
    }
}

/// keepalived's default `vrrp_rlimit_rttime`, µs.
pub const RLIMIT_RTTIME_DEFAULT_US: u32 = 10_000;

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_connect_timeout_s: 30,
            smtp_alert: false,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_skip_check_adv_addr: false,
            vrrp_strict: false,
            vrrp_garp_interval_us: 0,
            vrrp_gna_interval_us: 0,
            vrrp_garp_master_delay_s: 5,
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh_s: 0,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay_s: 5,
            vrrp_garp_lower_prio_repeat: 5,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: true,
            vrrp_version: VrrpVersion::V2,
            enable_script_security: false,
            script_user: None,
            script_group: None,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            vrrp_rt_priority: 0,
            vrrp_priority: 0,
            vrrp_rlimit_rttime_us: RLIMIT_RTTIME_DEFAULT_US,
        }
    }
}

/// A whole parsed configuration.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Config {
    /// Every file read (the main file first, then includes), indexed by `Span::file`.
    pub files: Vec<PathStr, MAX_CONFIG_FILES>,
    pub global_defs: GlobalDefs,
    pub instances: Vec<InstanceConfig, MAX_INSTANCES>,
    pub scripts: Vec<VrrpScript, MAX_SCRIPTS>,
    pub track_processes: Vec<VrrpTrackProcess, MAX_TRACK_PROCESSES>,
    pub track_files: Vec<VrrpTrackFile, MAX_TRACK_FILES>,
    pub sync_groups: Vec<SyncGroup, MAX_SYNC_GROUPS>,
    /// `virtual_server` blocks with their real servers and checkers.
    pub lvs: super::lvs::LvsConfig,
    /// Every notify command, referenced by [`CmdId`] from
    /// [`InstanceConfig::notify`], [`SyncGroup::notify`] and the
    /// load-balancing side (`notify_up`, `notify_down`, `quorum_up`,
    /// `quorum_down`). Filled in the order the keywords are read; a keyword
    /// written again replaces its command in place.
    pub notify_cmds: Vec<NotifyCmd, MAX_NOTIFY_CMDS>,
}

impl InstanceConfig {
    /// The instance's defaults before any keyword is applied, as keepalived
    /// sets them (advert_int 1 s, VRRPv2, GARP 5 s / 5; the priority is
    /// resolved from `state` after the last line, 100 here).
    pub fn new(name: Name, span: Span, globals: &GlobalDefs) -> Self {
        InstanceConfig {
            name,
            span,
            state: None,
            interface: IfName::new(),
            virtual_router_id: 0,
            priority: 100,
            advert_int_cs: 100,
            version: globals.vrrp_version,
            family: AddressFamily::Ipv4,
            nopreempt: false,
            preempt_delay_ms: 0,
            authentication: Authentication::default(),
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            unicast_src_ip: None,
            unicast_peer: Vec::new(),
            mcast_src_ip: None,
            accept: !globals.vrrp_strict,
            checksum_as_v2: false,
            down_timer_adverts: 3,
            lower_prio_no_advert: globals.vrrp_lower_prio_no_advert,
            higher_prio_send_advert: globals.vrrp_higher_prio_send_advert,
            skip_check_adv_addr: globals.vrrp_skip_check_adv_addr,
            garp_master_delay_s: globals.vrrp_garp_master_delay_s,
            garp_master_repeat: globals.vrrp_garp_master_repeat,
            garp_master_refresh_s: globals.vrrp_garp_master_refresh_s,
            garp_master_refresh_repeat: globals.vrrp_garp_master_refresh_repeat,
            garp_lower_prio_delay_s: globals.vrrp_garp_lower_prio_delay_s,
            garp_lower_prio_repeat: globals.vrrp_garp_lower_prio_repeat,
            garp_interval_us: globals.vrrp_garp_interval_us,
            gna_interval_us: globals.vrrp_gna_interval_us,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            track_process: Vec::new(),
            track_file: Vec::new(),
            dont_track_primary: false,
            notify: Notify::default(),
            notify_fifo: None,
            smtp_alert: globals.smtp_alert,
            sync_group: None,
        }
    }

    /// True when the instance sends adverts by unicast.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peer.is_empty()
    }
}

impl Config {
    /// A boxed, empty configuration. `Config` is large (it holds every
    /// capacity inline), so it lives on the heap, allocated at start-up.
    pub fn new_boxed() -> Box<Config> {
        Box::default()
    }

    /// Path of the file a span refers to ("?" if unknown).
    pub fn file_name(&self, span: Span) -> &str {
        self.files
            .get(span.file as usize)
            .map(|s| s.as_str())
            .unwrap_or("?")
    }

    /// The notify command `id` refers to.
    pub fn cmd(&self, id: Option<CmdId>) -> Option<&NotifyCmd> {
        id.and_then(|i| self.notify_cmds.get(i.index()))
    }

    pub fn instance(&self, name: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|i| i.name.as_str() == name)
    }
}
