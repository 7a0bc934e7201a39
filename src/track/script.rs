//! `vrrp_script`: keepalived's rise/fall counter and the run schedule.
//!
//! The counter `result` runs over `[0, rise + fall - 1]`; the script is *up*
//! when `result >= rise`. It starts at `rise - 1` (so one success at
//! start-up is enough, and one failure counts as failed) or at 0 with
//! `init_fail`. A success below `rise - 1` counts up; the success that
//! reaches `rise` logs `VRRP_Script(name) succeeded` and jumps to the top.
//! A failure above `rise` counts down; the failure at `rise` (or the first
//! result of a script still in its initial state) logs
//! `VRRP_Script(name) failed` and resets to 0. A failure while already
//! down resets to 0 silently, so `rise` *consecutive* successes are needed
//! to come up and `fall` consecutive failures to go down.
//!
//! Scheduling: the first run is due at once, then every `interval` from the
//! start of the previous run; a run that comes due while the previous one
//! is still running is skipped (logged), as keepalived does.

use crate::time::{Duration, Instant};

/// How one run of a script ended (from `waitpid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScriptOutcome {
    /// Normal exit with this status (0 = success).
    Exited(u8),
    /// Killed by this signal, not by us.
    Signaled(i32),
    /// Killed by us after its timeout (SIGTERM, then SIGKILL).
    TimedOut,
}

impl core::fmt::Display for ScriptOutcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ScriptOutcome::Exited(c) => write!(f, "exited with {c}"),
            ScriptOutcome::Signaled(s) => write!(f, "killed by signal {s}"),
            ScriptOutcome::TimedOut => f.write_str("timed out"),
        }
    }
}

/// What the counter says about a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScriptStatus {
    /// No result yet (and no `init_fail`): counts neither way.
    Init,
    Up,
    Down,
}

/// keepalived's rise/fall counter for one script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptCounter {
    rise: u64,
    fall: u64,
    result: u64,
    /// No result yet and no `init_fail` (keepalived's `SCRIPT_INIT_STATE_INIT`).
    init: bool,
    /// Last exit status, for "Script `x` now returning N".
    last_status: Option<u8>,
}

impl ScriptCounter {
    /// `rise` and `fall` below 1 are taken as 1.
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Self {
        let rise = u64::from(rise.max(1));
        let fall = u64::from(fall.max(1));
        ScriptCounter {
            rise,
            fall,
            result: if init_fail { 0 } else { rise - 1 },
            init: !init_fail,
            last_status: None,
        }
    }

    /// The counter value, in `[0, rise + fall - 1]`.
    pub fn result(&self) -> u64 {
        self.result
    }

    pub fn status(&self) -> ScriptStatus {
        if self.init {
            ScriptStatus::Init
        } else if self.result >= self.rise {
            ScriptStatus::Up
        } else {
            ScriptStatus::Down
        }
    }

    fn top(&self) -> u64 {
        self.rise + self.fall - 1
    }

    /// Counts one result and logs keepalived's lines. Returns `Some(up)` when
    /// the script changed state (succeeded / failed fired), else `None`.
    pub fn record(&mut self, name: &str, outcome: ScriptOutcome) -> Option<bool> {
        if let ScriptOutcome::Exited(status) = outcome
            && self.last_status != Some(status)
        {
            info!("Script `{}` now returning {}", name, status);
            self.last_status = Some(status);
        }
        let was_init = self.init;
        self.init = false;
        if outcome == ScriptOutcome::Exited(0) {
            if self.result < self.rise - 1 {
                self.result += 1;
                None
            } else if self.result != self.top() {
                let fired = self.result < self.rise;
                self.result = self.top();
                if fired {
                    info!("VRRP_Script({}) succeeded", name);
                    Some(true)
                } else {
                    None
                }
            } else {
                None
            }
        } else if self.result > self.rise {
            self.result -= 1;
            None
        } else {
            let fired = self.result == self.rise || was_init;
            self.result = 0;
            if fired {
                match outcome {
                    ScriptOutcome::Exited(s) => {
                        info!("VRRP_Script({}) failed (exited with status {})", name, s)
                    }
                    ScriptOutcome::Signaled(sig) => {
                        info!("VRRP_Script({}) failed (due to signal {})", name, sig)
                    }
                    ScriptOutcome::TimedOut => info!("VRRP_Script({}) timed_out", name),
                }
                Some(false)
            } else {
                None
            }
        }
    }
}

/// Run schedule of one script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptSchedule {
    pub interval: Duration,
    pub timeout: Duration,
    /// `None` until the first run: due at once.
    next_run: Option<Instant>,
    /// Start of the run in progress.
    running_since: Option<Instant>,
}

impl ScriptSchedule {
    /// A zero `interval` is taken as 1 s; a zero `timeout` as the interval.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        let interval = if interval == Duration::ZERO {
            Duration::from_secs(1)
        } else {
            interval
        };
        let timeout = if timeout == Duration::ZERO {
            interval
        } else {
            timeout
        };
        ScriptSchedule {
            interval,
            timeout,
            next_run: None,
            running_since: None,
        }
    }

    /// When the next run is due (`Instant::ZERO` before the first one).
    pub fn next_run(&self) -> Instant {
        self.next_run.unwrap_or(Instant::ZERO)
    }

    pub fn is_due(&self, now: Instant) -> bool {
        self.next_run() <= now
    }

    pub fn is_running(&self) -> bool {
        self.running_since.is_some()
    }

    /// When the run in progress must be killed.
    pub fn timeout_at(&self) -> Option<Instant> {
        self.running_since.map(|t| t + self.timeout)
    }

    /// The run due at `now` starts: returns false (and logs) when the
    /// previous run is still going, in which case this one is skipped.
    /// Either way the next run is due one interval from now.
    pub fn start(&mut self, name: &str, now: Instant) -> bool {
        self.next_run = Some(now + self.interval);
        if self.running_since.is_some() {
            info!(
                "Track script {} is already running, expect idle - skipping run",
                name
            );
            return false;
        }
        self.running_since = Some(now);
        true
    }

    /// The run in progress ended (or could not be started).
    pub fn finish(&mut self) {
        self.running_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScriptOutcome::*;

    const OK: ScriptOutcome = Exited(0);
    const KO: ScriptOutcome = Exited(1);

    fn run(c: &mut ScriptCounter, seq: &[ScriptOutcome]) -> std::vec::Vec<Option<bool>> {
        seq.iter().map(|&o| c.record("chk", o)).collect()
    }

    #[test]
    fn one_success_at_start_is_enough() {
        let mut c = ScriptCounter::new(3, 2, false);
        assert_eq!(c.status(), ScriptStatus::Init);
        assert_eq!(c.result(), 2);
        assert_eq!(run(&mut c, &[OK]), [Some(true)]);
        assert_eq!(c.status(), ScriptStatus::Up);
        assert_eq!(c.result(), 4);
    }

    #[test]
    fn one_failure_at_start_counts_as_failed() {
        let mut c = ScriptCounter::new(3, 2, false);
        assert_eq!(run(&mut c, &[KO]), [Some(false)]);
        assert_eq!(c.status(), ScriptStatus::Down);
        assert_eq!(c.result(), 0);
        // Now rise (3) consecutive successes are needed.
        assert_eq!(run(&mut c, &[OK, OK]), [None, None]);
        assert_eq!(c.status(), ScriptStatus::Down);
        assert_eq!(run(&mut c, &[OK]), [Some(true)]);
        assert_eq!(c.status(), ScriptStatus::Up);
    }

    #[test]
    fn fall_consecutive_failures_to_go_down() {
        let mut c = ScriptCounter::new(2, 3, false);
        run(&mut c, &[OK]);
        assert_eq!(c.result(), 4);
        assert_eq!(run(&mut c, &[KO, KO]), [None, None]);
        assert_eq!(c.result(), 2);
        assert_eq!(c.status(), ScriptStatus::Up);
        // A success in between resets to the top.
        assert_eq!(run(&mut c, &[OK]), [None]);
        assert_eq!(c.result(), 4);
        assert_eq!(run(&mut c, &[KO, KO, TimedOut]), [None, None, Some(false)]);
        assert_eq!(c.status(), ScriptStatus::Down);
        assert_eq!(c.result(), 0);
        // Failures while down stay at 0 silently.
        assert_eq!(run(&mut c, &[Signaled(9), KO]), [None, None]);
        assert_eq!(c.result(), 0);
    }

    #[test]
    fn success_streak_interrupted_while_down_restarts() {
        let mut c = ScriptCounter::new(3, 1, true);
        assert_eq!(c.status(), ScriptStatus::Down);
        assert_eq!(run(&mut c, &[OK, OK, KO]), [None, None, None]);
        assert_eq!(c.result(), 0);
        assert_eq!(run(&mut c, &[OK, OK, OK]), [None, None, Some(true)]);
        assert_eq!(c.result(), 3);
    }

    #[test]
    fn init_fail_starts_down_and_first_failure_is_silent() {
        let mut c = ScriptCounter::new(1, 1, true);
        assert_eq!(c.status(), ScriptStatus::Down);
        assert_eq!(run(&mut c, &[KO]), [None]);
        assert_eq!(run(&mut c, &[OK]), [Some(true)]);
        assert_eq!(run(&mut c, &[KO]), [Some(false)]);
    }

    #[test]
    fn default_rise_fall_flip_every_time() {
        let mut c = ScriptCounter::new(1, 1, false);
        assert_eq!(
            run(&mut c, &[OK, OK, KO, KO, OK]),
            [Some(true), None, Some(false), None, Some(true)]
        );
        // Range check: never above rise + fall - 1.
        assert_eq!(c.result(), 1);
    }

    #[test]
    fn huge_rise_fall_do_not_overflow() {
        let mut c = ScriptCounter::new(u32::MAX, u32::MAX, false);
        assert_eq!(run(&mut c, &[OK]), [Some(true)]);
        assert_eq!(c.result(), 2 * u64::from(u32::MAX) - 1);
        let mut z = ScriptCounter::new(0, 0, false);
        assert_eq!(run(&mut z, &[KO]), [Some(false)]);
    }

    #[test]
    fn schedule_runs_at_once_then_every_interval_and_skips_overlaps() {
        let mut s = ScriptSchedule::new(Duration::from_secs(2), Duration::ZERO);
        assert_eq!(s.timeout, Duration::from_secs(2));
        let t0 = Instant::from_secs(100);
        assert!(s.is_due(t0));
        assert!(s.start("chk", t0));
        assert_eq!(s.timeout_at(), Some(Instant::from_secs(102)));
        assert_eq!(s.next_run(), Instant::from_secs(102));
        assert!(!s.is_due(Instant::from_secs(101)));
        // Still running at the next slot: skipped, rescheduled.
        assert!(!s.start("chk", Instant::from_secs(102)));
        assert_eq!(s.next_run(), Instant::from_secs(104));
        s.finish();
        assert!(!s.is_running());
        assert!(s.start("chk", Instant::from_secs(104)));
    }
}
