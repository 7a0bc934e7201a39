//! Per-node monotonic clocks with bounded drift (TigerBeetle `TimeSim`
//! style): each node's clock runs at its own rate, `1 + ppm / 10^6` of
//! true time, starts at its own offset (a monotonic clock counts from an
//! arbitrary boot moment), may change its rate within the bound and may
//! take small *forward* steps.
//!
//! Why forward only: the daemon reads `CLOCK_MONOTONIC`, which never goes
//! back; NTP may slew it (the kernel caps the slew at 500 ppm) and a
//! virtual machine or a busy board can make it jump ahead a little. The
//! router only ever sees its node's local time; the simulator keeps the
//! true time for the segment, the event queue and the pcap timestamps.
//!
//! Arithmetic is integer microseconds. `local(t)` rounds down and
//! `true_at(l)` rounds up, so `local(true_at(l)) >= l`: when the simulator
//! wakes a node at `true_at(deadline)`, the router sees a time at or after
//! its deadline.
#![allow(dead_code)]

use keepvip::time::{Duration, Instant};

/// Largest drift rate the simulator gives a node (the kernel's NTP slew cap).
pub const MAX_PPM: i64 = 500;

const MILLION: i128 = 1_000_000;

#[derive(Clone, Debug)]
pub struct Clock {
    /// Rate error in parts per million, `-MAX_PPM..=MAX_PPM`.
    pub ppm: i64,
    /// True time and local time at the last rebase (creation or step).
    base_true: u64,
    base_local: u64,
    /// Sum of the forward steps taken so far (µs), and how many rebases
    /// (steps and rate changes).
    pub stepped_us: u64,
    steps: u64,
    /// Local time at creation, for the drift bound check.
    origin_local: u64,
    /// Largest local time handed out (monotonicity check).
    last_local: u64,
}

impl Clock {
    /// An ideal clock: local time equals true time.
    pub fn ideal() -> Clock {
        Clock::new(0, 0)
    }

    /// A clock at `offset_us` when true time is zero, running at `ppm`.
    pub fn new(ppm: i64, offset_us: u64) -> Clock {
        assert!(ppm.abs() <= MAX_PPM, "clock rate {ppm} ppm out of bounds");
        Clock {
            ppm,
            base_true: 0,
            base_local: offset_us,
            stepped_us: 0,
            steps: 0,
            origin_local: offset_us,
            last_local: offset_us,
        }
    }

    fn rate(&self) -> i128 {
        MILLION + i128::from(self.ppm)
    }

    /// Local time at true time `t` (`t` at or after the last step).
    pub fn local(&self, t: Instant) -> Instant {
        let dt = i128::from(t.as_micros().saturating_sub(self.base_true));
        let dl = dt * self.rate() / MILLION;
        Instant::from_micros(self.base_local + dl as u64)
    }

    /// Local time at true time `t`, recorded for the monotonicity check.
    pub fn read(&mut self, t: Instant) -> Instant {
        let l = self.local(t);
        assert!(
            l.as_micros() >= self.last_local,
            "local clock went back: {} < {}",
            l.as_micros(),
            self.last_local
        );
        self.last_local = l.as_micros();
        l
    }

    /// The earliest true time at which the local clock reads `l` or more
    /// (never before the last step; the caller clamps to "now").
    pub fn true_at(&self, l: Instant) -> Instant {
        let dl = i128::from(l.as_micros().saturating_sub(self.base_local));
        let rate = self.rate();
        let dt = (dl * MILLION + rate - 1) / rate;
        Instant::from_micros(self.base_true + dt as u64)
    }

    /// Jump `us` microseconds ahead at true time `now`.
    pub fn step(&mut self, now: Instant, us: u64) {
        let l = self.local(now);
        self.base_true = now.as_micros();
        self.base_local = l.as_micros() + us;
        self.stepped_us += us;
        self.steps += 1;
    }

    /// From true time `now` on, run at `ppm` (NTP changing its slew).
    pub fn set_rate(&mut self, now: Instant, ppm: i64) {
        assert!(ppm.abs() <= MAX_PPM, "clock rate {ppm} ppm out of bounds");
        let l = self.local(now);
        self.base_true = now.as_micros();
        self.base_local = l.as_micros();
        self.ppm = ppm;
        self.steps += 1;
    }

    /// The drift bound: after `t` of true time the local clock advanced by
    /// `t * (1 + ppm/10^6)` plus the steps, to within one microsecond of
    /// rounding per rebase, and `|ppm| <= MAX_PPM`.
    pub fn check_bound(&self, t: Instant) -> Result<(), String> {
        if self.ppm.abs() > MAX_PPM {
            return Err(format!("clock rate {} ppm beyond {MAX_PPM}", self.ppm));
        }
        let elapsed_true = i128::from(t.as_micros());
        let elapsed_local =
            i128::from(self.local(t).as_micros() - self.origin_local) - i128::from(self.stepped_us);
        let drift = (elapsed_local - elapsed_true).abs();
        let bound = elapsed_true * i128::from(MAX_PPM) / MILLION + 1 + i128::from(self.steps);
        if drift > bound {
            return Err(format!(
                "clock drift {drift} µs after {elapsed_true} µs exceeds {bound} µs"
            ));
        }
        Ok(())
    }
}

/// Worst-case true duration of `d` measured on any node's clock (the
/// slowest clock runs at `1 - MAX_PPM/10^6`), plus `slack_us` for the
/// one-microsecond rounding of each timer conversion. Checkers that bound
/// a delay made of local timers scale the bound with this.
pub fn worst_true(d: Duration, slack_us: u64) -> Duration {
    let us = i128::from(d.as_micros());
    let slow = MILLION - i128::from(MAX_PPM);
    Duration::from_micros(((us * MILLION + slow - 1) / slow) as u64 + slack_us)
}
