// Shared helpers of the dump/status integration tests (`mod dump_common;`):
// a Router built from keepalived.conf text and driven through virtual time.
#![allow(dead_code)]

use core::net::{IpAddr, Ipv4Addr};

use keepvip::config::{Config, Diagnostics, MemorySource, parse};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::{Actions, InstanceId, Router};
use keepvip::wire::vrrp::{Repr, Version};

/// Runs `f` on a thread with a large stack: `Config` is about 1 MiB and an
/// unoptimised `Config::new_boxed()` builds it on the stack first.
pub fn big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, f)
            .expect("spawn test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

pub const CONF: &str = r#"
global_defs {
    router_id test
}
vrrp_instance VI_1 {
    state BACKUP
    interface dum0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
vrrp_instance VI_2 {
    interface dum0
    virtual_router_id 52
    version 3
    priority 90
    advert_int 0.5
    track_interface {
        dum1 weight -20
    }
    virtual_ipaddress {
        198.51.100.7/32 dev dum1 label dum1:vip
    }
    notify_master "/bin/echo \"VI_2\" up"
}
"#;

pub struct Bench {
    pub config: Box<Config>,
    pub router: Box<Router>,
    pub out: Actions,
    pub now: Instant,
}

pub const VI_1: InstanceId = InstanceId(0);
pub const VI_2: InstanceId = InstanceId(1);
pub const OUR_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
pub const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

/// Parses [`CONF`] (must have no error) and builds the router.
pub fn bench() -> Bench {
    bench_with(CONF)
}

/// Parses `conf` (must have no error, two instances) and builds the router.
pub fn bench_with(conf: &str) -> Bench {
    let conf = conf.to_owned();
    big_stack(move || {
        let files: [(&str, &[u8]); 1] = [("/etc/keepvip/keepvip.conf", conf.as_bytes())];
        let src = MemorySource::new(&files);
        let mut config = Config::new_boxed();
        let mut d = Diagnostics::new();
        parse(&src, "/etc/keepvip/keepvip.conf", &mut config, &mut d);
        assert!(
            !d.has_errors(),
            "config errors: {:?}",
            d.iter().collect::<Vec<_>>()
        );
        let mut router = Router::new_boxed(&config).unwrap();
        router.set_src_addr(VI_1, OUR_ADDR);
        router.set_src_addr(VI_2, OUR_ADDR);
        Bench {
            config,
            router,
            out: Actions::new(),
            now: Instant::ZERO,
        }
    })
}

impl Bench {
    pub fn start(&mut self, at: Instant) {
        self.now = at;
        self.router.handle_start(at, &mut self.out);
        self.out.clear();
    }

    /// Fires every deadline up to `at`.
    pub fn run_until(&mut self, at: Instant) {
        let mut turns = 0;
        while let Some(t) = self.router.poll_timeout() {
            if t > at {
                break;
            }
            turns += 1;
            assert!(turns < 100_000, "runaway timers");
            self.now = t.max(self.now);
            self.router.handle_timeout(self.now, &mut self.out);
            self.out.clear();
        }
        self.now = self.now.max(at);
    }

    /// A v3 advert for VI_2 (vrid 52, 50 cs, its one VIP) from `src`.
    pub fn advert_vi2(&mut self, at: Instant, src: IpAddr, priority: u8) {
        self.run_until(at);
        let mut addrs = heapless::Vec::new();
        addrs
            .push(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)))
            .unwrap();
        let repr = Repr {
            version: Version::V3,
            vrid: 52,
            priority,
            max_adver_int_cs: 50,
            addr_count: 1,
            addrs,
            auth_type: 0,
            auth_data: [0; 8],
        };
        self.router
            .handle_advert(at, VI_2, src, 255, &repr, &mut self.out);
        self.out.clear();
    }

    /// The scenario of keepalived-2.4.3-dumps.txt for VI_1 (start as
    /// BACKUP at 1 s, master down after 3.609375 s, then two adverts sent)
    /// while VI_2 follows a priority-150 master at `PEER`.
    pub fn drive(&mut self) {
        self.start(Instant::from_secs(1));
        // VI_2's master advertises every 0.5 s from the start.
        let mut t = Instant::from_millis(1100);
        while t < Instant::from_micros(5_700_000) {
            self.advert_vi2(t, PEER, 150);
            t += Duration::from_millis(500);
        }
        self.run_until(Instant::from_micros(5_700_000));
    }
}

/// The monotonic time VI_1 becomes master in [`Bench::drive`].
pub const VI_1_MASTER_AT_US: u64 = 1_000_000 + 3_609_375;
/// The wall clock keepalived's dump shows for that transition.
pub const WALL_AT_MASTER_US: u64 = 1_795_315_072_341_686;
/// realtime - monotonic making the two match.
pub const WALL_OFFSET_US: i64 = (WALL_AT_MASTER_US - VI_1_MASTER_AT_US) as i64;
