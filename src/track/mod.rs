//! Trackers (`vrrp_script`, `vrrp_track_process`, `vrrp_track_file`) and
//! their effect on instances, with keepalived's arithmetic.
//!
//! Pure logic: no clock reads (time comes in as `now`), no I/O (the shell
//! runs the scripts, scans `/proc`, reads the files and reports the
//! results), no allocation (heapless; [`Trackers::new_boxed`] at start-up).
//! `track_interface` is not here: the core handles it from link events.
//!
//! Per instance, every referenced tracker contributes (man5, `vrrp_track.c`):
//! - weight 0: FAULT while the tracker is failed (with `reverse`: while it
//!   is up);
//! - weight > 0: `+weight` while up; weight < 0: `-|weight|` while down;
//!   `reverse` negates the contribution;
//! - a script that has not returned yet (no `init_fail`) counts neither way;
//! - a file contributes `value * weight` (see [`file`]), `-254` = FAULT.
//!
//! Trackers of a `vrrp_sync_group` apply to every member; a tracker that
//! both the instance and its group reference uses the group's weight unless
//! the instance's is 0. keepalived's rule for weighted trackers on sync
//! group members and address owners is applied by the configuration
//! (`config::validate`), which drops or re-weights those references.
//!
//! Shell loop, each turn with one `now`:
//! 1. spawn every id of [`Trackers::script_due`] (on spawn error:
//!    [`Trackers::script_spawn_failed`]);
//! 2. report results: [`Trackers::script_result`],
//!    [`Trackers::process_count`], [`Trackers::file_value`];
//! 3. [`Trackers::handle_timeout`] (process debounce deadlines);
//! 4. [`Trackers::take_changed`] → `Router::handle_track` for each;
//! 5. include [`Trackers::poll_timeout`] in the sleep.

pub mod cmdline;
pub mod file;
pub mod process;
pub mod script;

use heapless::Vec;

use crate::config::model::{Config, Name, TrackRef};
use crate::limits::{
    MAX_INSTANCES, MAX_SCRIPTS, MAX_TRACK_FILES, MAX_TRACK_PROCESSES, MAX_TRACKERS,
};
use crate::time::{Duration, Instant};
use crate::vrrp::{InstanceId, TrackState};

pub use file::{FILE_FAULT, file_status, file_value, parse_strtol};
pub use process::ProcessQuorum;
pub use script::{ScriptCounter, ScriptOutcome, ScriptSchedule, ScriptStatus};

/// Index into `Config::scripts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptId(pub u16);
/// Index into `Config::track_processes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(pub u16);
/// Index into `Config::track_files`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u16);

/// One tracker referenced by an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackerId {
    Script(ScriptId),
    Process(ProcessId),
    File(FileId),
}

/// A tracker as one instance sees it: effective weight and direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceRef {
    pub tracker: TrackerId,
    pub weight: i16,
    pub reverse: bool,
}

/// References of one instance: its own plus its sync group's, each kind.
pub const MAX_INSTANCE_REFS: usize = 6 * MAX_TRACKERS;

/// The up/down state of a script or process tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// No result yet.
    Init,
    Up,
    Down,
}

/// (fault, priority change) of an up/down tracker for one reference.
pub fn up_down_contribution(status: Status, weight: i16, reverse: bool) -> (bool, i32) {
    let up = match status {
        Status::Init => return (false, 0),
        Status::Up => true,
        Status::Down => false,
    };
    if weight == 0 {
        return (up == reverse, 0);
    }
    let mult = if reverse { -1 } else { 1 };
    let w = i32::from(weight);
    if (weight > 0 && up) || (weight < 0 && !up) {
        (false, w * mult)
    } else {
        (false, 0)
    }
}

#[derive(Clone, Debug)]
struct ScriptEntry {
    name: Name,
    counter: ScriptCounter,
    sched: ScriptSchedule,
    used: bool,
}

#[derive(Clone, Debug)]
struct ProcessEntry {
    name: Name,
    quorum: ProcessQuorum,
    used: bool,
}

#[derive(Clone, Debug)]
struct FileEntry {
    name: Name,
    value: Option<i32>,
    used: bool,
}

#[derive(Clone, Debug)]
struct InstanceEntry {
    refs: Vec<InstanceRef, MAX_INSTANCE_REFS>,
    /// Last state handed out by `take_changed`.
    reported: Option<TrackState>,
}

/// Every tracker of a configuration and the instances that use them.
pub struct Trackers {
    scripts: Vec<ScriptEntry, MAX_SCRIPTS>,
    processes: Vec<ProcessEntry, MAX_TRACK_PROCESSES>,
    files: Vec<FileEntry, MAX_TRACK_FILES>,
    instances: Vec<InstanceEntry, MAX_INSTANCES>,
}

fn kind_word(t: TrackerId) -> &'static str {
    match t {
        TrackerId::Script(_) => "tracked script",
        TrackerId::Process(_) => "tracked process",
        TrackerId::File(_) => "tracked file",
    }
}

impl Trackers {
    /// Builds the trackers of `config`. References to undefined trackers
    /// (rejected by config validation) are skipped.
    pub fn new(config: &Config) -> Trackers {
        let mut t = Trackers::empty();
        t.rebuild(config);
        t
    }

    /// Makes these trackers what [`Trackers::new`] builds from `config`, in
    /// place (start-up and reload: the 50-odd KiB of tables are neither
    /// built on the stack nor copied, which would make all of them resident).
    pub fn rebuild(&mut self, config: &Config) {
        self.scripts.clear();
        self.processes.clear();
        self.files.clear();
        self.instances.clear();
        let t = self;
        for s in &config.scripts {
            let _ = t.scripts.push(ScriptEntry {
                name: s.name.clone(),
                counter: ScriptCounter::new(s.rise, s.fall, s.init_fail),
                sched: ScriptSchedule::new(
                    Duration::from_millis(u64::from(s.interval_ms)),
                    Duration::from_millis(u64::from(s.timeout_ms)),
                ),
                used: false,
            });
        }
        for p in &config.track_processes {
            let _ = t.processes.push(ProcessEntry {
                name: p.name.clone(),
                quorum: ProcessQuorum::new(
                    p.quorum,
                    p.quorum_max,
                    Duration::from_millis(u64::from(p.fork_delay_ms)),
                    Duration::from_millis(u64::from(p.terminate_delay_ms)),
                ),
                used: false,
            });
        }
        for f in &config.track_files {
            let _ = t.files.push(FileEntry {
                name: f.name.clone(),
                value: None,
                used: false,
            });
        }
        for inst in &config.instances {
            let group = inst
                .sync_group
                .and_then(|g| config.sync_groups.get(usize::from(g)));
            let mut e = InstanceEntry {
                refs: Vec::new(),
                reported: None,
            };
            // `from_group`: a reference of the instance's sync group.
            let mut add = |kind: u8, r: &TrackRef, from_group: bool| {
                let found = match kind {
                    0 => config
                        .scripts
                        .iter()
                        .position(|s| s.name == r.name)
                        .map(|i| {
                            let s = &config.scripts[i];
                            (TrackerId::Script(ScriptId(i as u16)), s.weight, s.reverse)
                        }),
                    1 => config
                        .track_processes
                        .iter()
                        .position(|s| s.name == r.name)
                        .map(|i| {
                            let s = &config.track_processes[i];
                            (TrackerId::Process(ProcessId(i as u16)), s.weight, s.reverse)
                        }),
                    _ => config
                        .track_files
                        .iter()
                        .position(|s| s.name == r.name)
                        .map(|i| {
                            let s = &config.track_files[i];
                            (TrackerId::File(FileId(i as u16)), s.weight, s.reverse)
                        }),
                };
                let Some((tracker, tw, trev)) = found else {
                    return;
                };
                let weight = r.weight.unwrap_or(tw);
                let reverse = r.reverse || trev;
                if let Some(x) = e.refs.iter_mut().find(|x| x.tracker == tracker) {
                    // Tracked by the instance and by its group: the group's
                    // weight applies unless the instance's is 0 (keepalived
                    // keeps the instance's reverse for a process). A
                    // duplicate within one list counts once.
                    if from_group && x.weight != 0 {
                        info!(
                            "({}) {} {} is configured on the instance and on its sync group: the group's weight {} applies",
                            inst.name,
                            kind_word(tracker),
                            r.name,
                            weight
                        );
                        x.weight = weight;
                        if !matches!(tracker, TrackerId::Process(_)) {
                            x.reverse = reverse;
                        }
                    }
                    return;
                }
                let _ = e.refs.push(InstanceRef {
                    tracker,
                    weight,
                    reverse,
                });
            };
            for r in &inst.track_script {
                add(0, r, false);
            }
            for r in &inst.track_process {
                add(1, r, false);
            }
            for r in &inst.track_file {
                add(2, r, false);
            }
            if let Some(g) = group {
                for r in &g.track_script {
                    add(0, r, true);
                }
                for r in &g.track_process {
                    add(1, r, true);
                }
                for r in &g.track_file {
                    add(2, r, true);
                }
            }
            for r in &e.refs {
                match r.tracker {
                    TrackerId::Script(ScriptId(i)) => {
                        if let Some(s) = t.scripts.get_mut(usize::from(i)) {
                            s.used = true;
                        }
                    }
                    TrackerId::Process(ProcessId(i)) => {
                        if let Some(s) = t.processes.get_mut(usize::from(i)) {
                            s.used = true;
                        }
                    }
                    TrackerId::File(FileId(i)) => {
                        if let Some(s) = t.files.get_mut(usize::from(i)) {
                            s.used = true;
                        }
                    }
                }
            }
            let _ = t.instances.push(e);
        }
        for s in t.scripts.iter().filter(|s| !s.used) {
            warn!("Warning - script {} is not used", s.name);
        }
    }

    /// No trackers at all (a reload target, filled by [`Trackers::new`]).
    pub fn empty() -> Trackers {
        Trackers {
            scripts: Vec::new(),
            processes: Vec::new(),
            files: Vec::new(),
            instances: Vec::new(),
        }
    }

    /// [`Trackers::new`] on the heap, built in place (start-up).
    pub fn new_boxed(config: &Config) -> Box<Trackers> {
        let mut t = Box::new(Trackers::empty());
        t.rebuild(config);
        t
    }

    /// The configured name of a tracker (for logs and status dumps).
    pub fn tracker_name(&self, t: TrackerId) -> &str {
        let n = match t {
            TrackerId::Script(ScriptId(i)) => self.scripts.get(usize::from(i)).map(|s| &s.name),
            TrackerId::Process(ProcessId(i)) => self.processes.get(usize::from(i)).map(|s| &s.name),
            TrackerId::File(FileId(i)) => self.files.get(usize::from(i)).map(|s| &s.name),
        };
        n.map(|n| n.as_str()).unwrap_or("?")
    }

    /// The references of instance `inst` after the sync-group rule.
    pub fn instance_refs(&self, inst: InstanceId) -> &[InstanceRef] {
        self.instances
            .get(inst.index())
            .map(|e| e.refs.as_slice())
            .unwrap_or(&[])
    }

    /// True when some instance uses script `id` (unused scripts never run).
    pub fn script_used(&self, id: ScriptId) -> bool {
        self.scripts.get(usize::from(id.0)).is_some_and(|s| s.used)
    }

    /// Process trackers some instance uses (the shell scans for these).
    pub fn processes_in_use(&self) -> impl Iterator<Item = ProcessId> + '_ {
        self.processes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.used)
            .map(|(i, _)| ProcessId(i as u16))
    }

    /// File trackers some instance uses (the shell watches these).
    pub fn files_in_use(&self) -> impl Iterator<Item = FileId> + '_ {
        self.files
            .iter()
            .enumerate()
            .filter(|(_, p)| p.used)
            .map(|(i, _)| FileId(i as u16))
    }

    /// The earliest time something is due: a script run or a process
    /// debounce deadline. `None` when nothing is scheduled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let s = self
            .scripts
            .iter()
            .filter(|s| s.used)
            .map(|s| s.sched.next_run())
            .min();
        let p = self
            .processes
            .iter()
            .filter_map(|p| p.quorum.deadline())
            .min();
        match (s, p) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Scripts to spawn now. Each yielded script is marked running and its
    /// next run scheduled; a due script still running from last time is
    /// skipped (and logged), as keepalived does.
    pub fn script_due(&mut self, now: Instant) -> DueScripts<'_> {
        DueScripts {
            t: self,
            now,
            next: 0,
        }
    }

    /// Timeout of script `id` (after which the spawner kills it).
    pub fn script_timeout(&self, id: ScriptId) -> Duration {
        self.scripts
            .get(usize::from(id.0))
            .map(|s| s.sched.timeout)
            .unwrap_or(Duration::from_secs(1))
    }

    /// Spawning script `id` failed: no result, the next run is as scheduled.
    pub fn script_spawn_failed(&mut self, id: ScriptId) {
        if let Some(s) = self.scripts.get_mut(usize::from(id.0)) {
            s.sched.finish();
        }
    }

    /// Script `id` finished. Returns true when its up/down state changed
    /// (then some instance states may have changed: see
    /// [`Trackers::take_changed`]).
    pub fn script_result(&mut self, id: ScriptId, _now: Instant, outcome: ScriptOutcome) -> bool {
        match self.scripts.get_mut(usize::from(id.0)) {
            Some(s) => {
                s.sched.finish();
                let before = s.counter.status();
                s.counter.record(&s.name, outcome);
                s.counter.status() != before
            }
            None => false,
        }
    }

    pub fn script_status(&self, id: ScriptId) -> Option<ScriptStatus> {
        self.scripts
            .get(usize::from(id.0))
            .map(|s| s.counter.status())
    }

    /// A `/proc` scan at `now` found `count` processes matching tracker `id`.
    /// Returns true when its quorum state changed.
    pub fn process_count(&mut self, id: ProcessId, now: Instant, count: u32) -> bool {
        match self.processes.get_mut(usize::from(id.0)) {
            Some(p) => p.quorum.update(&p.name, now, count),
            None => false,
        }
    }

    /// `(count, have_quorum)` of process tracker `id` (`None` before the
    /// first scan).
    pub fn process_state(&self, id: ProcessId) -> Option<(u32, Option<bool>)> {
        self.processes
            .get(usize::from(id.0))
            .map(|p| (p.quorum.count(), p.quorum.have_quorum()))
    }

    /// The file of tracker `id` now holds `value` (as [`file_value`]
    /// parses it; 0 for a missing or unreadable file). Returns true when
    /// the value changed.
    pub fn file_value(&mut self, id: FileId, _now: Instant, value: i32) -> bool {
        let value = value.clamp(-254, 254);
        match self.files.get_mut(usize::from(id.0)) {
            Some(f) if f.value != Some(value) => {
                f.value = Some(value);
                true
            }
            _ => false,
        }
    }

    pub fn file_value_of(&self, id: FileId) -> Option<i32> {
        self.files.get(usize::from(id.0)).and_then(|f| f.value)
    }

    /// Fires expired process debounce deadlines. Returns true when a quorum
    /// state changed.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for p in self.processes.iter_mut() {
            changed |= p.quorum.poll(&p.name, now);
        }
        changed
    }

    /// True while some used tracker has no result yet (a script that has not
    /// returned, a process list not scanned, a file not read). keepalived
    /// keeps an instance whose weight-0 script has not returned out of
    /// BACKUP/MASTER; the shell should run the first round (bounded by the
    /// longest script timeout) before `Router::handle_start`.
    pub fn startup_pending(&self) -> bool {
        self.scripts
            .iter()
            .any(|s| s.used && s.counter.status() == ScriptStatus::Init)
            || self
                .processes
                .iter()
                .any(|p| p.used && p.quorum.have_quorum().is_none())
            || self.files.iter().any(|f| f.used && f.value.is_none())
    }

    /// keepalived's start-up rule (`num_script_init`): an instance that
    /// tracks a weight-0 script stays in INIT (no adverts, no state) until
    /// that script has returned once. True while some instance waits so;
    /// [`Trackers::startup_wait`] bounds how long the shell waits.
    pub fn waiting_for_scripts(&self) -> bool {
        self.instances.iter().any(|e| {
            e.refs.iter().any(|r| {
                r.weight == 0
                    && matches!(r.tracker, TrackerId::Script(id)
                        if self.script_status(id) == Some(ScriptStatus::Init))
            })
        })
    }

    /// The longest timeout of the scripts [`Trackers::waiting_for_scripts`]
    /// waits for (a script that never answers is killed at its timeout,
    /// which counts as its first result).
    pub fn startup_wait(&self) -> Duration {
        let mut max = Duration::ZERO;
        for e in &self.instances {
            for r in &e.refs {
                if let (0, TrackerId::Script(id)) = (r.weight, r.tracker)
                    && self.script_status(id) == Some(ScriptStatus::Init)
                {
                    let t = self.script_timeout(id);
                    if t > max {
                        max = t;
                    }
                }
            }
        }
        max
    }

    /// Reload: takes over the run-time state (counter, schedule, quorum,
    /// value) of every tracker of `old` (built from `old_cfg`) whose
    /// definition in `new_cfg` is unchanged (same name, equal apart from
    /// where it was written). Call on trackers freshly built from
    /// `new_cfg`. `map` gets, for each script of `old`, its index in `self`
    /// if kept (the shell re-labels a running child with it). Returns the
    /// number of trackers kept.
    pub fn adopt_from(
        &mut self,
        old: &Trackers,
        old_cfg: &Config,
        new_cfg: &Config,
        map: &mut Vec<Option<ScriptId>, MAX_SCRIPTS>,
    ) -> usize {
        let mut kept = 0;
        map.clear();
        for (oi, os) in old_cfg.scripts.iter().enumerate() {
            let ni = new_cfg.scripts.iter().position(|n| {
                let mut o = os.clone();
                o.span = n.span;
                o == *n
            });
            let mut slot = None;
            if let (Some(ni), Some(oe)) = (ni, old.scripts.get(oi))
                && let Some(ne) = self.scripts.get_mut(ni)
            {
                ne.counter = oe.counter;
                ne.sched = oe.sched;
                slot = Some(ScriptId(ni as u16));
                kept += 1;
            }
            let _ = map.push(slot);
        }
        for (oi, op) in old_cfg.track_processes.iter().enumerate() {
            let ni = new_cfg.track_processes.iter().position(|n| {
                let mut o = op.clone();
                o.span = n.span;
                o == *n
            });
            if let (Some(ni), Some(oe)) = (ni, old.processes.get(oi))
                && let Some(ne) = self.processes.get_mut(ni)
            {
                ne.quorum = oe.quorum;
                kept += 1;
            }
        }
        for (oi, of) in old_cfg.track_files.iter().enumerate() {
            let ni = new_cfg.track_files.iter().position(|n| {
                let mut o = of.clone();
                o.span = n.span;
                o == *n
            });
            if let (Some(ni), Some(oe)) = (ni, old.files.get(oi))
                && let Some(ne) = self.files.get_mut(ni)
            {
                ne.value = oe.value;
                kept += 1;
            }
        }
        kept
    }

    fn status_of(&self, t: TrackerId) -> Status {
        match t {
            TrackerId::Script(ScriptId(i)) => match self.scripts.get(usize::from(i)) {
                Some(s) => match s.counter.status() {
                    ScriptStatus::Init => Status::Init,
                    ScriptStatus::Up => Status::Up,
                    ScriptStatus::Down => Status::Down,
                },
                None => Status::Init,
            },
            TrackerId::Process(ProcessId(i)) => {
                match self
                    .processes
                    .get(usize::from(i))
                    .and_then(|p| p.quorum.have_quorum())
                {
                    Some(true) => Status::Up,
                    Some(false) => Status::Down,
                    None => Status::Init,
                }
            }
            TrackerId::File(_) => Status::Init,
        }
    }

    /// The tracker input of instance `inst` for `Router::handle_track`.
    pub fn instance_state(&self, inst: InstanceId) -> TrackState {
        let mut fault = false;
        let mut weight: i32 = 0;
        for r in self.instance_refs(inst) {
            let (f, w) = match r.tracker {
                TrackerId::File(FileId(i)) => {
                    match self.files.get(usize::from(i)).and_then(|f| f.value) {
                        Some(v) => {
                            let s = file_status(v, r.weight, r.reverse);
                            if s <= FILE_FAULT {
                                (true, 0)
                            } else {
                                (false, s)
                            }
                        }
                        None => (false, 0),
                    }
                }
                t => up_down_contribution(self.status_of(t), r.weight, r.reverse),
            };
            fault |= f;
            weight = weight.saturating_add(w);
        }
        TrackState { fault, weight }
    }

    /// Calls `f` for every instance whose tracker state differs from the
    /// last one handed out (every instance on the first call).
    pub fn take_changed(&mut self, mut f: impl FnMut(InstanceId, TrackState)) {
        for i in 0..self.instances.len() {
            let id = InstanceId(i as u16);
            let st = self.instance_state(id);
            if let Some(e) = self.instances.get_mut(i)
                && e.reported != Some(st)
            {
                e.reported = Some(st);
                f(id, st);
            }
        }
    }
}

/// Iterator of [`Trackers::script_due`].
pub struct DueScripts<'a> {
    t: &'a mut Trackers,
    now: Instant,
    next: usize,
}

impl Iterator for DueScripts<'_> {
    type Item = ScriptId;

    fn next(&mut self) -> Option<ScriptId> {
        while let Some(s) = self.t.scripts.get_mut(self.next) {
            let i = self.next;
            self.next += 1;
            if s.used && s.sched.is_due(self.now) && s.sched.start(&s.name, self.now) {
                return Some(ScriptId(i as u16));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
