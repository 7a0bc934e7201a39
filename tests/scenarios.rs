//! Scenario tests for the VRRP core: inputs at virtual times -> expected
//! actions and deadlines, one rule per test.

#[path = "sim/cfg.rs"]
mod cfg;

use core::net::{IpAddr, Ipv4Addr};

use keepvip::config::model::{
    AddressFamily, AuthType, Authentication, InitialState, InstanceConfig, Span, TrackInterface,
    VrrpVersion,
};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::timers::{master_down_interval, skew_time};
use keepvip::vrrp::*;
use keepvip::wire::vrrp::{Repr, Version};

const ID: InstanceId = InstanceId(0);
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
const OURS: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const LOWER_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5));
const HIGHER_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));

use Action::*;

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

struct H {
    r: Box<Router>,
    out: Actions,
    now: Instant,
    version: VrrpVersion,
    interval_cs: u16,
    vips: Vec<IpAddr>,
}

impl H {
    /// One instance VI_1 (vrid 51, v3, 1 s, priority 100 unless changed).
    fn new(f: impl FnOnce(&mut InstanceConfig)) -> H {
        let mut c = cfg::instance("VI_1", 51, VrrpVersion::V3, VIP);
        f(&mut c);
        let version = c.version;
        let interval_cs = c.advert_int_cs;
        let vips = c.virtual_ipaddress.iter().map(|v| v.addr).collect();
        let config = cfg::config([c]);
        let mut r = Router::new_boxed(&config).unwrap();
        r.set_src_addr(ID, OURS);
        H {
            r,
            out: Actions::new(),
            now: Instant::ZERO,
            version,
            interval_cs,
            vips,
        }
    }

    fn take(&mut self) -> Vec<Action> {
        let v = self.out.as_slice().to_vec();
        self.out.clear();
        v
    }

    fn start(&mut self, at: Instant) -> Vec<Action> {
        self.now = at;
        self.r.handle_start(at, &mut self.out);
        self.take()
    }

    fn repr(&self, prio: u8) -> Repr {
        let mut addrs = heapless::Vec::new();
        for a in &self.vips {
            addrs.push(*a).unwrap();
        }
        Repr {
            version: match self.version {
                VrrpVersion::V2 => Version::V2,
                VrrpVersion::V3 => Version::V3,
            },
            vrid: 51,
            priority: prio,
            max_adver_int_cs: self.interval_cs,
            addr_count: self.vips.len() as u8,
            addrs,
            auth_type: 0,
            auth_data: [0; 8],
        }
    }

    fn advert(&mut self, at: Instant, src: IpAddr, prio: u8) -> Vec<Action> {
        let repr = self.repr(prio);
        self.advert_repr(at, src, &repr)
    }

    fn advert_repr(&mut self, at: Instant, src: IpAddr, repr: &Repr) -> Vec<Action> {
        self.run_until(at);
        self.out.clear();
        self.now = at;
        self.r.handle_advert(at, ID, src, 255, repr, &mut self.out);
        self.take()
    }

    /// Drives timeouts up to and including `at`; returns what happened when.
    fn run_until(&mut self, at: Instant) -> Vec<(Instant, Action)> {
        let mut log = Vec::new();
        while let Some(t) = self.r.poll_timeout() {
            if t > at {
                break;
            }
            let t = t.max(self.now);
            self.now = t;
            self.r.handle_timeout(t, &mut self.out);
            assert!(!self.out.is_empty(), "deadline {t:?} produced nothing");
            for a in self.take() {
                log.push((t, a));
            }
        }
        self.now = self.now.max(at);
        log
    }

    fn state(&self) -> StateKind {
        self.r.state(ID).unwrap()
    }

    fn stats(&self) -> Stats {
        *self.r.stats(ID).unwrap()
    }

    fn mdi(&self, prio: u8, interval_cs: u16) -> Duration {
        master_down_interval(self.version, prio, interval_cs, 3)
    }

    /// When the instance becomes master (first AddVips) in the log.
    fn master_at(log: &[(Instant, Action)]) -> Option<Instant> {
        log.iter()
            .find(|(_, a)| matches!(a, AddVips { .. }))
            .map(|(t, _)| *t)
    }
}

fn garps(n: u8) -> Vec<Action> {
    (0..n)
        .map(|_| SendGarp {
            inst: ID,
            vip: VipRef::Vip(0),
        })
        .collect()
}

fn become_master(prio: u8, garp_count: u8) -> Vec<Action> {
    let mut v = vec![
        SendAdvert {
            inst: ID,
            priority: prio,
        },
        AddVips { inst: ID },
        Notify {
            inst: ID,
            state: NotifyState::Master,
            priority: prio,
        },
    ];
    v.extend(garps(garp_count));
    v
}

// ---- Start-up -----------------------------------------------------------------

#[test]
fn start_as_backup_with_full_down_timer() {
    let mut h = H::new(|_| {});
    assert_eq!(
        h.start(ms(0)),
        [
            DelVips { inst: ID },
            Notify {
                inst: ID,
                state: NotifyState::Backup,
                priority: 100
            }
        ]
    );
    assert_eq!(h.state(), StateKind::Backup);
    // 3 * 1 s + (256 - 100) * 100 cs / 256 = 3.609375 s.
    assert_eq!(h.r.poll_timeout(), Some(Instant::from_micros(3_609_375)));
    // Early and repeated timeouts do nothing.
    h.r.handle_timeout(ms(1000), &mut h.out);
    h.r.handle_timeout(ms(1000), &mut h.out);
    assert!(h.out.is_empty());
    let log = h.run_until(ms(4000));
    assert_eq!(H::master_at(&log), Some(Instant::from_micros(3_609_375)));
    assert_eq!(h.state(), StateKind::Master);
    assert_eq!(h.stats().become_master, 1);
}

#[test]
fn owner_starts_master_at_once() {
    let mut h = H::new(|c| c.priority = 255);
    assert_eq!(h.start(ms(0)), become_master(255, 5));
    assert_eq!(h.state(), StateKind::Master);
    assert_eq!(h.r.master_addr(ID), Some(OURS));
    // Next advert one interval later.
    assert_eq!(h.r.poll_timeout(), Some(ms(1000)));
}

#[test]
fn state_master_below_255_starts_as_backup() {
    let mut h = H::new(|c| {
        c.state = Some(InitialState::Master);
        c.priority = 200;
    });
    let a = h.start(ms(0));
    assert_eq!(
        a[1],
        Notify {
            inst: ID,
            state: NotifyState::Backup,
            priority: 200
        }
    );
    assert_eq!(h.r.poll_timeout(), Some(ms(0) + h.mdi(200, 100)));
}

#[test]
fn link_down_at_start_is_fault_init() {
    let mut h = H::new(|_| {});
    h.r.handle_link(ms(0), "eth0", false, &mut h.out);
    assert!(h.take().is_empty());
    assert_eq!(
        h.start(ms(0)),
        [
            DelVips { inst: ID },
            Notify {
                inst: ID,
                state: NotifyState::Fault,
                priority: 100
            }
        ]
    );
    assert_eq!(h.r.poll_timeout(), None);
}

// ---- Election and failover ---------------------------------------------------

#[test]
fn backup_follows_higher_master_then_fails_over_after_master_down_interval() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    for s in 1..=10 {
        assert!(h.advert(ms(s * 1000), HIGHER_ADDR, 200).is_empty());
        assert_eq!(h.state(), StateKind::Backup);
    }
    assert_eq!(h.r.master_addr(ID), Some(HIGHER_ADDR));
    assert_eq!(h.r.master_priority(ID), Some(200));
    // Master killed after its advert at 10 s: takeover at 10 s + MDI exactly.
    let log = h.run_until(ms(20_000));
    let expect = ms(10_000) + h.mdi(100, 100);
    assert_eq!(H::master_at(&log), Some(expect));
    assert_eq!(
        log[0],
        (
            expect,
            SendAdvert {
                inst: ID,
                priority: 100
            }
        ),
        "advert goes first"
    );
}

#[test]
fn priority_zero_handover_after_skew_time() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    let _ = h.advert(ms(1000), HIGHER_ADDR, 200);
    assert!(h.advert(ms(1500), HIGHER_ADDR, 0).is_empty());
    assert_eq!(h.stats().pri_zero_rcvd, 1);
    let log = h.run_until(ms(10_000));
    assert_eq!(
        H::master_at(&log),
        Some(ms(1500) + skew_time(VrrpVersion::V3, 100, 100))
    );
}

#[test]
fn master_answers_priority_zero_with_an_advert() {
    let mut h = H::new(|c| c.priority = 255);
    let _ = h.start(ms(0));
    let _ = h.run_until(ms(100));
    assert_eq!(
        h.advert(ms(400), LOWER_ADDR, 0),
        [SendAdvert {
            inst: ID,
            priority: 255
        }]
    );
    // Adver_Timer reset.
    assert_eq!(h.r.poll_timeout(), Some(ms(1400)));
}

#[test]
fn higher_priority_backup_preempts_lower_master() {
    let mut h = H::new(|c| c.priority = 150);
    let _ = h.start(ms(0));
    for s in 1..=3 {
        assert!(h.advert(ms(s * 1000), LOWER_ADDR, 100).is_empty());
    }
    assert_eq!(h.stats().lower_prio_rcvd, 3);
    // Lower adverts never reset the timer: master at start + MDI.
    let log = h.run_until(ms(5000));
    assert_eq!(H::master_at(&log), Some(ms(0) + h.mdi(150, 100)));
}

#[test]
fn nopreempt_backup_stays_backup() {
    let mut h = H::new(|c| {
        c.priority = 150;
        c.nopreempt = true;
    });
    let _ = h.start(ms(0));
    for s in 1..=30 {
        assert!(h.advert(ms(s * 1000), LOWER_ADDR, 100).is_empty());
        assert!(h.run_until(ms(s * 1000 + 999)).is_empty());
    }
    assert_eq!(h.state(), StateKind::Backup);
    assert_eq!(h.r.master_priority(ID), Some(100));
}

#[test]
fn preempt_delay_starts_on_first_lower_advert() {
    let mut h = H::new(|c| {
        c.priority = 150;
        c.preempt_delay_ms = 5000;
    });
    let _ = h.start(ms(0));
    // Lower adverts every second from 1 s: the delay runs 1 s .. 6 s, adverts
    // are accepted while it runs (timer reset), discarded from 6 s on.
    let mut log = Vec::new();
    for s in 1..=15 {
        log.extend(h.run_until(ms(s * 1000)));
        if h.state() == StateKind::Master {
            break;
        }
        let _ = h.advert(ms(s * 1000), LOWER_ADDR, 100);
    }
    assert_eq!(H::master_at(&log), Some(ms(5000) + h.mdi(150, 100)));
    assert_eq!(
        h.stats().lower_prio_rcvd,
        3,
        "adverts at 6, 7 and 8 s discarded"
    );
}

#[test]
fn preempt_delay_not_applied_at_startup() {
    let mut h = H::new(|c| {
        c.priority = 150;
        c.preempt_delay_ms = 5000;
    });
    let _ = h.start(ms(0));
    let log = h.run_until(ms(10_000));
    assert_eq!(H::master_at(&log), Some(ms(0) + h.mdi(150, 100)));
}

#[test]
fn equal_priority_tie_break_on_primary_address() {
    // Higher address wins: we step down.
    let mut h = H::new(|c| c.priority = 255);
    let _ = h.start(ms(0));
    let mut h2 = H::new(|c| c.priority = 100);
    let _ = h2.start(ms(0));
    let _ = h2.run_until(ms(4000));
    assert_eq!(h2.state(), StateKind::Master);
    assert_eq!(
        h2.advert(ms(4100), HIGHER_ADDR, 100),
        [
            // higher_prio_send_advert (keepvip's default): one advert first.
            SendAdvert {
                inst: ID,
                priority: 100
            },
            DelVips { inst: ID },
            Notify {
                inst: ID,
                state: NotifyState::Backup,
                priority: 100
            }
        ]
    );
    assert_eq!(h2.state(), StateKind::Backup);
    assert_eq!(h2.stats().release_master, 1);
    // Lower address loses: we stay master and re-advertise (and re-GARP).
    let mut h3 = H::new(|c| c.priority = 100);
    let _ = h3.start(ms(0));
    let _ = h3.run_until(ms(4000));
    let a = h3.advert(ms(4100), LOWER_ADDR, 100);
    assert_eq!(
        a[0],
        SendAdvert {
            inst: ID,
            priority: 100
        }
    );
    assert_eq!(h3.state(), StateKind::Master);
    // A backup does not preempt on equal priority (RFC 5798 6.4.2: >= resets).
    let mut h4 = H::new(|c| c.priority = 100);
    let _ = h4.start(ms(0));
    for s in 1..=10 {
        let _ = h4.advert(ms(s * 1000), LOWER_ADDR, 100);
    }
    assert_eq!(h4.state(), StateKind::Backup);
    // An owner that hears a lower priority stays master.
    let _ = h.advert(ms(500), HIGHER_ADDR, 254);
    assert_eq!(h.state(), StateKind::Master);
}

#[test]
fn two_owners_back_off() {
    let mut h = H::new(|c| c.priority = 255);
    let _ = h.start(ms(0));
    let a = h.advert(ms(500), LOWER_ADDR, 255);
    assert_eq!(
        a,
        [
            SendAdvert {
                inst: ID,
                priority: 254
            },
            DelVips { inst: ID },
            Notify {
                inst: ID,
                state: NotifyState::Backup,
                priority: 254
            }
        ]
    );
    assert_eq!(h.r.base_priority(ID), Some(254));
}

// ---- Interval handling ------------------------------------------------------

#[test]
fn v2_interval_mismatch_is_dropped() {
    let mut h = H::new(|c| c.version = VrrpVersion::V2);
    let _ = h.start(ms(0));
    let mut r = h.repr(200);
    r.max_adver_int_cs = 200;
    for s in 1..=5 {
        assert!(h.advert_repr(ms(s * 500), HIGHER_ADDR, &r).is_empty());
    }
    assert_eq!(h.stats().advert_interval_err, 5);
    assert_eq!(h.stats().drops(DropReason::AdvertInterval), 5);
    assert_eq!(h.stats().advert_rcvd, 0);
    // Dropped adverts do not reset the down timer (v2 MDI: 3 s + 609.375 ms).
    let log = h.run_until(ms(10_000));
    assert_eq!(H::master_at(&log), Some(Instant::from_micros(3_609_375)));
}

#[test]
fn v3_backup_adopts_master_interval() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    let mut r = h.repr(200);
    r.max_adver_int_cs = 50;
    assert!(h.advert_repr(ms(1000), HIGHER_ADDR, &r).is_empty());
    assert_eq!(h.stats().advert_interval_err, 0);
    assert_eq!(h.r.master_adver_interval_cs(ID), Some(50));
    // 3 * 500 ms + (256 - 100) * 50 cs / 256.
    let expect = ms(1000) + Duration::from_micros(1_500_000 + 156 * 50 * 10_000 / 256);
    assert_eq!(h.r.poll_timeout(), Some(expect));
    let log = h.run_until(expect);
    assert_eq!(H::master_at(&log), Some(expect));
    // The new master advertises its own 1 s interval.
    assert_eq!(h.r.master_adver_interval_cs(ID), Some(100));
    let next_advert = h.run_until(expect + Duration::from_millis(1000));
    assert_eq!(
        next_advert.last(),
        Some(&(
            expect + Duration::from_millis(1000),
            SendAdvert {
                inst: ID,
                priority: 100
            }
        ))
    );
}

#[test]
fn v3_interval_zero_is_dropped() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    let mut r = h.repr(200);
    r.max_adver_int_cs = 0;
    let _ = h.advert_repr(ms(1000), HIGHER_ADDR, &r);
    assert_eq!(h.stats().advert_interval_err, 1);
}

// ---- Split brain heal --------------------------------------------------------

#[test]
fn master_answers_lower_priority_with_advert_and_garps() {
    let mut h = H::new(|c| {
        c.priority = 200;
        c.garp_lower_prio_repeat = 2;
        c.garp_lower_prio_delay_s = 5;
        c.garp_master_delay_s = 0;
    });
    let _ = h.start(ms(0));
    let _ = h.run_until(ms(4000));
    assert_eq!(h.state(), StateKind::Master);
    let mut expect = vec![SendAdvert {
        inst: ID,
        priority: 200,
    }];
    expect.extend(garps(2));
    // keepalived's MASTER_RX_LOWER_PRI event (notify_master_rx_lower_pri
    // and its FIFO line).
    expect.push(MasterRxLowerPri {
        inst: ID,
        priority: 200,
    });
    assert_eq!(h.advert(ms(4200), LOWER_ADDR, 100), expect);
    assert_eq!(h.state(), StateKind::Master);
    // Adver_Timer restarted from the forced advert; second GARP burst after 5 s.
    let log = h.run_until(ms(9300));
    let garp_times: Vec<_> = log
        .iter()
        .filter(|(_, a)| matches!(a, SendGarp { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(garp_times, [ms(9200), ms(9200)]);
    let adverts: Vec<_> = log
        .iter()
        .filter(|(_, a)| matches!(a, SendAdvert { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(adverts[0], ms(5200));
}

#[test]
fn lower_prio_no_advert_only_garps() {
    let mut h = H::new(|c| {
        c.priority = 200;
        c.lower_prio_no_advert = true;
        c.garp_lower_prio_repeat = 1;
    });
    let _ = h.start(ms(0));
    let _ = h.run_until(ms(4000));
    let mut expect = garps(1);
    expect.push(MasterRxLowerPri {
        inst: ID,
        priority: 200,
    });
    assert_eq!(h.advert(ms(4200), LOWER_ADDR, 100), expect);
}

#[test]
fn master_steps_down_for_higher_priority() {
    let mut h = H::new(|c| c.priority = 200);
    let _ = h.start(ms(0));
    let _ = h.run_until(ms(4000));
    let mut r = h.repr(250);
    r.max_adver_int_cs = 200;
    let step_down = [
        DelVips { inst: ID },
        Notify {
            inst: ID,
            state: NotifyState::Backup,
            priority: 200,
        },
    ];
    // higher_prio_send_advert (keepvip's default): one advert with our
    // priority first, so that the winner hears a lower priority and
    // re-sends its GARPs (heals clients after a split brain).
    let mut want = vec![SendAdvert {
        inst: ID,
        priority: 200,
    }];
    want.extend(step_down);
    assert_eq!(h.advert_repr(ms(4500), HIGHER_ADDR, &r), want);
    // v3: the down timer runs on the new master's interval.
    assert_eq!(h.r.poll_timeout(), Some(ms(4500) + h.mdi(200, 200)));

    // keepalived's default: step down silently.
    let mut h = H::new(|c| {
        c.priority = 200;
        c.higher_prio_send_advert = false;
    });
    let _ = h.start(ms(0));
    let _ = h.run_until(ms(4000));
    assert_eq!(h.advert_repr(ms(4500), HIGHER_ADDR, &r), step_down);
}

// ---- Fault, trackers ---------------------------------------------------------

#[test]
fn fault_and_recovery() {
    let mut h = H::new(|c| c.priority = 200);
    let _ = h.start(ms(0));
    let _ = h.run_until(ms(4000));
    h.r.handle_link(ms(4100), "eth0", false, &mut h.out);
    assert_eq!(
        h.take(),
        [
            SendAdvert {
                inst: ID,
                priority: 0
            },
            DelVips { inst: ID },
            Notify {
                inst: ID,
                state: NotifyState::Fault,
                priority: 200
            }
        ]
    );
    assert_eq!(h.stats().pri_zero_sent, 1);
    assert_eq!(h.state(), StateKind::Fault);
    assert_eq!(h.r.poll_timeout(), None);
    // Adverts are ignored in FAULT.
    assert!(h.advert(ms(4200), LOWER_ADDR, 100).is_empty());
    h.r.handle_link(ms(5000), "eth0", true, &mut h.out);
    assert_eq!(
        h.take(),
        [Notify {
            inst: ID,
            state: NotifyState::Backup,
            priority: 200
        }]
    );
    assert_eq!(h.r.poll_timeout(), Some(ms(5000) + h.mdi(200, 100)));
    // Unknown interfaces are ignored.
    h.r.handle_link(ms(5000), "eth9", false, &mut h.out);
    assert!(h.out.is_empty());
}

#[test]
fn dont_track_primary_ignores_own_link() {
    let mut h = H::new(|c| c.dont_track_primary = true);
    let _ = h.start(ms(0));
    h.r.handle_link(ms(100), "eth0", false, &mut h.out);
    assert!(h.take().is_empty());
    assert_eq!(h.state(), StateKind::Backup);
}

#[test]
fn track_interface_weights_and_fault() {
    let mut h = H::new(|c| {
        c.track_interface
            .push(TrackInterface {
                ifname: "wan".try_into().unwrap(),
                weight: -30,
                reverse: false,
                span: Span::default(),
            })
            .unwrap();
        c.track_interface
            .push(TrackInterface {
                ifname: "lan2".try_into().unwrap(),
                weight: 0,
                reverse: false,
                span: Span::default(),
            })
            .unwrap();
    });
    let _ = h.start(ms(0));
    h.r.handle_link(ms(100), "wan", false, &mut h.out);
    assert!(h.take().is_empty());
    assert_eq!(h.r.effective_priority(ID), Some(70));
    h.r.handle_link(ms(200), "lan2", false, &mut h.out);
    assert_eq!(
        h.take(),
        [Notify {
            inst: ID,
            state: NotifyState::Fault,
            priority: 70
        }]
    );
    h.r.handle_link(ms(300), "wan", true, &mut h.out);
    h.r.handle_link(ms(300), "lan2", true, &mut h.out);
    assert_eq!(
        h.take(),
        [Notify {
            inst: ID,
            state: NotifyState::Backup,
            priority: 100
        }]
    );
}

#[test]
fn effective_priority_change_rearms_backup_down_timer() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    let _ = h.advert(ms(1000), HIGHER_ADDR, 200);
    assert_eq!(h.r.poll_timeout(), Some(ms(1000) + h.mdi(100, 100)));
    h.r.handle_track(
        ms(1500),
        ID,
        TrackState {
            fault: false,
            weight: 50,
        },
        &mut h.out,
    );
    assert!(h.take().is_empty());
    assert_eq!(h.r.effective_priority(ID), Some(150));
    assert_eq!(h.r.poll_timeout(), Some(ms(1000) + h.mdi(150, 100)));
    // Clamped to 1..=254.
    h.r.handle_track(
        ms(1600),
        ID,
        TrackState {
            fault: false,
            weight: 500,
        },
        &mut h.out,
    );
    assert_eq!(h.r.effective_priority(ID), Some(254));
    h.r.handle_track(
        ms(1700),
        ID,
        TrackState {
            fault: false,
            weight: -500,
        },
        &mut h.out,
    );
    assert_eq!(h.r.effective_priority(ID), Some(1));
    // A tracker fault.
    h.r.handle_track(
        ms(1800),
        ID,
        TrackState {
            fault: true,
            weight: 0,
        },
        &mut h.out,
    );
    assert_eq!(
        h.take(),
        [Notify {
            inst: ID,
            state: NotifyState::Fault,
            priority: 100
        }]
    );
}

#[test]
fn owner_priority_never_changes() {
    let mut h = H::new(|c| c.priority = 255);
    let _ = h.start(ms(0));
    h.r.handle_track(
        ms(10),
        ID,
        TrackState {
            fault: false,
            weight: -100,
        },
        &mut h.out,
    );
    assert_eq!(h.r.effective_priority(ID), Some(255));
}

#[test]
fn master_advertises_new_priority() {
    let mut h = H::new(|c| c.priority = 200);
    let _ = h.start(ms(0));
    let log = h.run_until(ms(4000));
    let t0 = H::master_at(&log).unwrap();
    h.out.clear();
    h.r.handle_track(
        ms(4100),
        ID,
        TrackState {
            fault: false,
            weight: -150,
        },
        &mut h.out,
    );
    let log = h.run_until(t0 + Duration::from_millis(1000));
    assert_eq!(
        log.last().unwrap().1,
        SendAdvert {
            inst: ID,
            priority: 50
        }
    );
}

// ---- Shutdown ------------------------------------------------------------------

#[test]
fn shutdown_as_master_sends_priority_zero_then_removes_vips() {
    let mut h = H::new(|c| c.priority = 255);
    let _ = h.start(ms(0));
    h.out.clear();
    h.r.handle_shutdown(ms(100), &mut h.out);
    assert_eq!(
        h.take(),
        [
            SendAdvert {
                inst: ID,
                priority: 0
            },
            DelVips { inst: ID },
            Notify {
                inst: ID,
                state: NotifyState::Stop,
                priority: 255
            }
        ]
    );
    assert_eq!(h.state(), StateKind::Initialize);
    assert_eq!(h.r.poll_timeout(), None);
    // After shutdown adverts are counted as not running.
    assert!(h.advert(ms(200), LOWER_ADDR, 100).is_empty());
    assert_eq!(h.stats().not_running, 1);
}

#[test]
fn shutdown_as_backup_only_notifies() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    h.r.handle_shutdown(ms(100), &mut h.out);
    assert_eq!(
        h.take(),
        [Notify {
            inst: ID,
            state: NotifyState::Stop,
            priority: 100
        }]
    );
}

// ---- GARP schedule -----------------------------------------------------------

#[test]
fn garp_burst_paced_then_delayed_burst_then_refresh() {
    let mut h = H::new(|c| {
        c.priority = 255;
        c.garp_master_repeat = 2;
        c.garp_master_delay_s = 5;
        c.garp_master_refresh_s = 7;
        c.garp_master_refresh_repeat = 1;
        c.garp_interval_us = 100_000;
        c.virtual_ipaddress
            .push(cfg::vip_entry("198.51.100.2".parse().unwrap()))
            .unwrap();
        c.virtual_ipaddress_excluded
            .push(cfg::vip_entry("203.0.113.9".parse().unwrap()))
            .unwrap();
    });
    let first = h.start(ms(0));
    // Advert first, then VIPs, notify, and only the first GARP (paced).
    assert_eq!(
        first,
        [
            SendAdvert {
                inst: ID,
                priority: 255
            },
            AddVips { inst: ID },
            Notify {
                inst: ID,
                state: NotifyState::Master,
                priority: 255
            },
            SendGarp {
                inst: ID,
                vip: VipRef::Vip(0)
            },
        ]
    );
    let log = h.run_until(ms(7500));
    let g: Vec<_> = log
        .iter()
        .filter_map(|(t, a)| match a {
            SendGarp { vip, .. } => Some((t.as_millis(), *vip)),
            _ => None,
        })
        .collect();
    use VipRef::*;
    assert_eq!(
        g,
        [
            // burst 1 (2 rounds of 3 addresses, 100 ms apart; the first went at 0)
            (100, Vip(1)),
            (200, Excluded(0)),
            (300, Vip(0)),
            (400, Vip(1)),
            (500, Excluded(0)),
            // garp_master_delay: another 2 rounds at 5 s
            (5000, Vip(0)),
            (5100, Vip(1)),
            (5200, Excluded(0)),
            (5300, Vip(0)),
            (5400, Vip(1)),
            (5500, Excluded(0)),
            // refresh at 7 s: 1 round
            (7000, Vip(0)),
            (7100, Vip(1)),
            (7200, Excluded(0)),
        ]
    );
    // Adverts keep their 1 s rhythm in between.
    let adv: Vec<_> = log
        .iter()
        .filter(|(_, a)| matches!(a, SendAdvert { .. }))
        .map(|(t, _)| t.as_millis())
        .collect();
    assert_eq!(adv, [1000, 2000, 3000, 4000, 5000, 6000, 7000]);
}

#[test]
fn unpaced_garps_come_in_bounded_batches() {
    let mut h = H::new(|c| {
        c.priority = 255;
        c.garp_master_repeat = 4;
        for i in 2..=5u8 {
            c.virtual_ipaddress
                .push(cfg::vip_entry(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i))))
                .unwrap();
        }
    });
    let first = h.start(ms(0));
    assert_eq!(
        first
            .iter()
            .filter(|a| matches!(a, SendGarp { .. }))
            .count(),
        GARP_BATCH_MAX
    );
    // The rest is due at once, in batches.
    assert_eq!(h.r.poll_timeout(), Some(ms(0)));
    let mut total = GARP_BATCH_MAX;
    let mut calls = 0;
    while h.r.poll_timeout() == Some(ms(0)) {
        h.r.handle_timeout(ms(0), &mut h.out);
        let n = h.take().len();
        assert!(n <= GARP_BATCH_MAX);
        total += n;
        calls += 1;
    }
    assert_eq!(total, 4 * 5);
    assert_eq!(calls, 3);
    assert_eq!(h.stats().garp_sent, 20);
}

// ---- Receive checks ----------------------------------------------------------

#[test]
fn auth_pass_checks() {
    let mut h = H::new(|c| {
        c.version = VrrpVersion::V2;
        c.authentication = Authentication {
            auth_type: AuthType::Pass,
            auth_pass: *b"secret\0\0",
        };
    });
    let _ = h.start(ms(0));
    let mut r = h.repr(200);
    r.auth_type = 1;
    r.auth_data = *b"wrong\0\0\0";
    let _ = h.advert_repr(ms(100), HIGHER_ADDR, &r);
    assert_eq!(h.stats().auth_failure, 1);
    r.auth_type = 0;
    let _ = h.advert_repr(ms(200), HIGHER_ADDR, &r);
    assert_eq!(h.stats().authtype_mismatch, 1);
    r.auth_type = 7;
    let _ = h.advert_repr(ms(300), HIGHER_ADDR, &r);
    assert_eq!(h.stats().invalid_authtype, 1);
    r.auth_type = 1;
    r.auth_data = *b"secret\0\0";
    let _ = h.advert_repr(ms(400), HIGHER_ADDR, &r);
    assert_eq!(h.stats().advert_rcvd, 1);
    assert_eq!(h.r.master_addr(ID), Some(HIGHER_ADDR));
    // Our own adverts carry the password.
    let own = h.r.advert_repr(ID, 100).unwrap();
    assert_eq!((own.auth_type, own.auth_data), (1, *b"secret\0\0"));
}

#[test]
fn address_list_checks() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    let mut r = h.repr(200);
    r.addr_count = 2;
    r.addrs.push("198.51.100.2".parse().unwrap()).unwrap();
    let _ = h.advert_repr(ms(100), HIGHER_ADDR, &r);
    assert_eq!(h.stats().addr_list_err, 1);
    let mut r = h.repr(200);
    r.addrs[0] = "198.51.100.77".parse().unwrap();
    let _ = h.advert_repr(ms(200), HIGHER_ADDR, &r);
    assert_eq!(h.stats().addr_list_err, 2);
    assert_eq!(h.r.master_addr(ID), None);
}

#[test]
fn skip_check_adv_addr_skips_only_for_known_master() {
    let mut h = H::new(|c| c.skip_check_adv_addr = true);
    let _ = h.start(ms(0));
    let mut bad = h.repr(200);
    bad.addrs[0] = "198.51.100.77".parse().unwrap();
    // Unknown master: checked.
    let _ = h.advert_repr(ms(100), HIGHER_ADDR, &bad);
    assert_eq!(h.stats().addr_list_err, 1);
    let good = h.repr(200);
    let _ = h.advert_repr(ms(200), HIGHER_ADDR, &good);
    // Known master: not checked.
    let _ = h.advert_repr(ms(300), HIGHER_ADDR, &bad);
    assert_eq!(h.stats().addr_list_err, 1);
    assert_eq!(h.r.poll_timeout(), Some(ms(300) + h.mdi(100, 100)));
}

#[test]
fn ttl_checked_in_multicast_only() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    let r = h.repr(200);
    h.r.handle_advert(ms(100), ID, HIGHER_ADDR, 64, &r, &mut h.out);
    assert_eq!(h.stats().ip_ttl_err, 1);
    let mut u = H::new(|c| c.unicast_peer.push(HIGHER_ADDR).unwrap());
    let _ = u.start(ms(0));
    u.r.handle_advert(ms(100), ID, HIGHER_ADDR, 64, &r, &mut u.out);
    assert_eq!(u.stats().ip_ttl_err, 0);
    assert_eq!(u.stats().advert_rcvd, 1);
}

#[test]
fn version_vrid_family_mismatch_dropped() {
    let mut h = H::new(|_| {});
    let _ = h.start(ms(0));
    let mut r = h.repr(200);
    r.version = Version::V2;
    let _ = h.advert_repr(ms(100), HIGHER_ADDR, &r);
    let mut r = h.repr(200);
    r.vrid = 52;
    let _ = h.advert_repr(ms(200), HIGHER_ADDR, &r);
    let r = h.repr(200);
    let _ = h.advert_repr(ms(300), "2001:db8::1".parse().unwrap(), &r);
    let s = h.stats();
    assert_eq!(
        (s.vers_err, s.vrid_err, s.family_err, s.advert_rcvd),
        (1, 1, 1, 0)
    );
}

#[test]
fn find_instance_demux() {
    let c = cfg::config([
        cfg::instance("A", 1, VrrpVersion::V3, VIP),
        cfg::instance("B", 1, VrrpVersion::V3, "2001:db8::1".parse().unwrap()),
        cfg::instance("C", 2, VrrpVersion::V2, "198.51.100.9".parse().unwrap()),
    ]);
    let r = Router::new_boxed(&c).unwrap();
    assert_eq!(
        r.find_instance("eth0", AddressFamily::Ipv4, 1),
        Some(InstanceId(0))
    );
    assert_eq!(
        r.find_instance("eth0", AddressFamily::Ipv6, 1),
        Some(InstanceId(1))
    );
    assert_eq!(
        r.find_instance("eth0", AddressFamily::Ipv4, 2),
        Some(InstanceId(2))
    );
    assert_eq!(r.find_instance("eth1", AddressFamily::Ipv4, 2), None);
    assert_eq!(r.find_by_name("C"), Some(InstanceId(2)));
    assert_eq!(r.name(InstanceId(1)), Some("B"));
}

// ---- Parsed configurations: keepalived's derivations reach the core -----------

/// Parses `text` (keepalived.conf) and builds its router; the parse must
/// have no errors.
fn parsed(text: &str) -> (Box<keepvip::config::Config>, Box<Router>) {
    let cfg = cfg::parse_clean(text.to_owned());
    let mut r = Router::new_boxed(&cfg).unwrap();
    r.set_src_addr(ID, OURS);
    (cfg, r)
}

fn drain(
    r: &mut Router,
    now: &mut Instant,
    until: Instant,
    out: &mut Actions,
) -> Vec<(Instant, Action)> {
    let mut log = Vec::new();
    while let Some(t) = r.poll_timeout() {
        if t > until {
            break;
        }
        *now = t.max(*now);
        r.handle_timeout(*now, out);
        log.extend(out.as_slice().iter().map(|a| (*now, *a)));
        out.clear();
    }
    log
}

/// keepalived: `state MASTER` without `priority` is the address owner
/// (255): it takes over at once and advertises 255; `state BACKUP` without
/// priority advertises 100; an owner written `state BACKUP` starts as
/// Backup and takes over when its Master_Down_Timer expires (keepalived
/// 2.2.7: "Entering BACKUP STATE (init)", master 3 s later).
#[test]
fn derived_priority_and_state_reach_the_core() {
    let conf = |body: &str| {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n virtual_ipaddress {{\n  198.51.100.1\n }}\n}}\n"
        )
    };
    let (_, mut r) = parsed(&conf(" state MASTER"));
    let mut out = Actions::new();
    r.handle_start(ms(0), &mut out);
    assert_eq!(out.as_slice()[..3], become_master(255, 0)[..3]);
    assert_eq!(r.base_priority(ID), Some(255));
    assert_eq!(r.advert_repr(ID, 255).unwrap().priority, 255);
    assert_eq!(r.state(ID), Some(StateKind::Master));

    let (_, mut r) = parsed(&conf(" state BACKUP"));
    let mut out = Actions::new();
    r.handle_start(ms(0), &mut out);
    assert_eq!(r.state(ID), Some(StateKind::Backup));
    assert_eq!(r.base_priority(ID), Some(100));

    let (_, mut r) = parsed(&conf(" state BACKUP\n priority 255"));
    let mut out = Actions::new();
    r.handle_start(ms(0), &mut out);
    assert_eq!(
        r.state(ID),
        Some(StateKind::Backup),
        "owner written BACKUP starts as Backup"
    );
    let mdi = master_down_interval(VrrpVersion::V2, 255, 100, 3);
    let mut now = ms(0);
    // A lower-priority master does not hold it back (preempt).
    r.handle_advert(
        ms(1000),
        ID,
        LOWER_ADDR,
        255,
        &{
            let mut a = heapless::Vec::new();
            a.push(VIP).unwrap();
            Repr {
                version: Version::V2,
                vrid: 51,
                priority: 100,
                max_adver_int_cs: 100,
                addr_count: 1,
                addrs: a,
                auth_type: 0,
                auth_data: [0; 8],
            }
        },
        &mut out,
    );
    out.clear();
    let log = drain(&mut r, &mut now, ms(5000), &mut out);
    let at = log
        .iter()
        .find(|(_, a)| matches!(a, AddVips { .. }))
        .map(|(t, _)| *t);
    assert_eq!(at, Some(ms(0) + mdi));
    assert_eq!(r.state(ID), Some(StateKind::Master));

    // vrrp_strict: the owner written BACKUP is made MASTER: at once.
    let (_, mut r) = parsed(&format!(
        "global_defs {{\n vrrp_strict\n}}\n{}",
        conf(" state BACKUP\n priority 255")
    ));
    let mut out = Actions::new();
    r.handle_start(ms(0), &mut out);
    assert_eq!(r.state(ID), Some(StateKind::Master));
}

/// vrrp_strict in the core: a master sends neither an advert nor GARPs for a
/// lower-priority advert (lower_prio_no_advert on, garp_lower_prio_repeat 0
/// even when written), and an owner meeting another owner backs off to 254
/// and steps down: keepalived 2.2.7 in strict mode does the same (checked in
/// namespaces: "CONFIGURATION ERROR ... reducing local priority", then
/// BACKUP), so keepvip does not make a strict owner ignore adverts.
#[test]
fn strict_owner_answers_nothing_to_lower_adverts_and_backs_off_for_another_owner() {
    let text = "global_defs {\n vrrp_strict\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 255\n garp_lower_prio_repeat 4\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n";
    let (cfg, mut r) = parsed(text);
    assert_eq!(cfg.instances[0].garp_lower_prio_repeat, 0);
    let mut out = Actions::new();
    r.handle_start(ms(0), &mut out);
    out.clear();
    let mut now = ms(0);
    let _ = drain(&mut r, &mut now, ms(6000), &mut out);
    let repr = |prio: u8| {
        let mut a = heapless::Vec::new();
        a.push(VIP).unwrap();
        Repr {
            version: Version::V2,
            vrid: 51,
            priority: prio,
            max_adver_int_cs: 100,
            addr_count: 1,
            addrs: a,
            auth_type: 0,
            auth_data: [0; 8],
        }
    };
    r.handle_advert(ms(6100), ID, HIGHER_ADDR, 255, &repr(100), &mut out);
    // Only the MASTER_RX_LOWER_PRI event (keepalived sends it whatever
    // lower_prio_no_advert says): no advert, no GARP.
    assert!(
        out.iter()
            .all(|a| matches!(a, Action::MasterRxLowerPri { .. })),
        "{:?}",
        out.as_slice()
    );
    assert_eq!(r.state(ID), Some(StateKind::Master));
    r.handle_advert(ms(6200), ID, HIGHER_ADDR, 255, &repr(255), &mut out);
    assert_eq!(r.base_priority(ID), Some(254));
    assert_eq!(r.state(ID), Some(StateKind::Backup));
}

/// keepalived runs a VRRPv2 instance without VIPs: it advertises Count IPvX
/// Addr 0, sends no GARP, and follows a master whose advert carries no
/// address; an advert with addresses is refused (address list).
#[test]
fn v2_instance_without_vips_runs() {
    use keepvip::wire::ipv4;
    use keepvip::wire::vrrp::{ChecksumMode, Packet};
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 150\n}\n";
    let (_, mut r) = parsed(text);
    let mut out = Actions::new();
    r.handle_start(ms(0), &mut out);
    out.clear();
    let mut now = ms(0);
    let log = drain(&mut r, &mut now, ms(4000), &mut out);
    assert_eq!(r.state(ID), Some(StateKind::Master));
    assert!(log.iter().any(|(_, a)| matches!(a, AddVips { .. })));
    assert!(
        !log.iter().any(|(_, a)| matches!(a, SendGarp { .. })),
        "no address to announce"
    );
    // The advert on the wire: v2, count 0, and it parses back.
    let repr = r.advert_repr(ID, 150).unwrap();
    assert_eq!((repr.addr_count, repr.addrs.len()), (0, 0));
    let mut buf = [0u8; 64];
    let IpAddr::V4(src) = OURS else {
        unreachable!()
    };
    let n = ipv4::emit_ipv4_vrrp(
        &mut buf,
        1,
        255,
        src,
        keepvip::wire::vrrp::MCAST_GROUP_V4,
        &repr,
        ChecksumMode::MessageOnly,
    )
    .unwrap();
    assert_eq!(
        n,
        20 + 8 + 8,
        "IPv4 header + VRRP header + auth data, no address"
    );
    let ip = ipv4::Repr::parse(&ipv4::Packet::new_unchecked(&buf[..n])).unwrap();
    let back = Repr::parse(
        &Packet::new_unchecked(&buf[ip.payload_range()]),
        keepvip::wire::AddressFamily::Ipv4,
        ChecksumMode::MessageOnly,
    )
    .unwrap();
    assert_eq!(back, repr);
    // A higher master without addresses: followed (step down).
    let mut peer = repr.clone();
    peer.priority = 200;
    r.handle_advert(ms(4100), ID, HIGHER_ADDR, 255, &peer, &mut out);
    assert_eq!(r.state(ID), Some(StateKind::Backup));
    out.clear();
    // An advert listing an address does not match this instance: dropped.
    let before = r.stats(ID).unwrap().addr_list_err;
    let mut other = peer.clone();
    other.addrs.push(VIP).unwrap();
    other.addr_count = 1;
    r.handle_advert(ms(4200), ID, HIGHER_ADDR, 255, &other, &mut out);
    assert_eq!(r.stats(ID).unwrap().addr_list_err, before + 1);
}

// ---- Robustness ----------------------------------------------------------------

#[path = "sim/rng.rs"]
mod rng;

/// Random inputs in random order: no panic, no action overflow, and
/// "Master iff VIPs added" holds after every call.
#[test]
fn random_inputs_never_panic_and_stay_coherent() {
    let mut v2 = cfg::instance("V2", 1, VrrpVersion::V2, VIP);
    v2.authentication = Authentication {
        auth_type: AuthType::Pass,
        auth_pass: *b"pw\0\0\0\0\0\0",
    };
    let mut owner = cfg::instance("OWN", 2, VrrpVersion::V3, "198.51.100.2".parse().unwrap());
    owner.priority = 255;
    owner.garp_master_refresh_s = 1;
    let mut v6 = cfg::instance("V6", 3, VrrpVersion::V3, "2001:db8::3".parse().unwrap());
    v6.preempt_delay_ms = 1500;
    v6.advert_int_cs = 7;
    let mut np = cfg::instance("NP", 4, VrrpVersion::V3, "198.51.100.4".parse().unwrap());
    np.nopreempt = true;
    np.skip_check_adv_addr = true;
    np.garp_interval_us = 3000;
    let config = cfg::config([v2, owner, v6, np]);
    let (mut masters, mut rcvd) = (0u64, 0u64);
    for seed in 0..40u64 {
        let mut g = rng::Rng::new(seed);
        let mut r = Router::new_boxed(&config).unwrap();
        let mut out = Actions::new();
        let mut held = [false; 4];
        let mut now = Instant::ZERO;
        for step in 0..3000 {
            now += Duration::from_micros(g.below(400_000));
            match g.below(12) {
                0 => r.handle_start(now, &mut out),
                1 => r.handle_shutdown(now, &mut out),
                2 => r.handle_link(now, "eth0", g.below(2) == 0, &mut out),
                3 => r.handle_track(
                    now,
                    InstanceId(g.below(5) as u16),
                    TrackState {
                        fault: g.below(6) == 0,
                        weight: g.range(0, 600) as i32 - 300,
                    },
                    &mut out,
                ),
                4..=8 => {
                    let k = g.below(4) as u16;
                    let v6 = k == 2;
                    let mut addrs = heapless::Vec::new();
                    let count = g.below(3) as u8;
                    for i in 0..count {
                        let a: IpAddr = if v6 {
                            format!("2001:db8::{}", 1 + g.below(4) + u64::from(i))
                                .parse()
                                .unwrap()
                        } else {
                            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + g.below(4) as u8 + i))
                        };
                        addrs.push(a).unwrap();
                    }
                    let repr = Repr {
                        version: if g.below(4) == 0 {
                            Version::V2
                        } else {
                            Version::V3
                        },
                        vrid: if g.below(8) == 0 {
                            g.below(256) as u8
                        } else {
                            k as u8 + 1
                        },
                        priority: *g.pick(&[0u8, 1, 50, 100, 200, 254, 255]),
                        max_adver_int_cs: *g.pick(&[0u16, 7, 100, 200, 4095]),
                        addr_count: if g.below(6) == 0 {
                            g.below(256) as u8
                        } else {
                            count
                        },
                        addrs,
                        auth_type: g.below(4) as u8,
                        auth_data: if g.below(2) == 0 {
                            *b"pw\0\0\0\0\0\0"
                        } else {
                            [g.below(256) as u8; 8]
                        },
                    };
                    let src: IpAddr = if v6 != (g.below(10) == 0) {
                        format!("fe80::{}", g.below(5)).parse().unwrap()
                    } else {
                        IpAddr::V4(Ipv4Addr::new(192, 0, 2, g.below(30) as u8))
                    };
                    let ttl = if g.below(5) == 0 { 64 } else { 255 };
                    r.handle_advert(
                        now,
                        InstanceId(g.below(5) as u16),
                        src,
                        ttl,
                        &repr,
                        &mut out,
                    );
                }
                _ => {
                    if let Some(t) = r.poll_timeout() {
                        now = now.max(t);
                    }
                    r.handle_timeout(now, &mut out);
                }
            }
            assert_eq!(out.overflow_count(), 0);
            for a in out.iter() {
                match *a {
                    AddVips { inst } => held[inst.index()] = true,
                    DelVips { inst } => held[inst.index()] = false,
                    _ => {}
                }
            }
            out.clear();
            for (k, h) in held.iter().enumerate() {
                let m = r.state(InstanceId(k as u16)) == Some(StateKind::Master);
                assert_eq!(
                    m, *h,
                    "seed {seed} step {step}: instance {k} master={m} vips={h}"
                );
            }
        }
        for id in r.instance_ids() {
            let s = r.stats(id).unwrap();
            masters += s.become_master;
            rcvd += s.advert_rcvd;
        }
    }
    assert!(
        masters > 100 && rcvd > 200,
        "inputs too weak: {masters} masters, {rcvd} adverts"
    );
}
