//! `auth_type AH` in the core: receive (verify -> parse -> checks with the
//! shared sequence counter), transmit (one counter step per advert) and
//! keepalived's counter rules, with datagrams built by the wire codec.
//! Every refusal is checked against its named drop counter.

#[path = "sim/cfg.rs"]
mod cfg;

use core::net::{IpAddr, Ipv4Addr};

use keepvip::config::model::{AuthType, Authentication, InstanceConfig, VrrpVersion};
use keepvip::time::Instant;
use keepvip::vrrp::*;
use keepvip::wire::ah::{self, emit_ipv4_ah_vrrp};
use keepvip::wire::ipv4;
use keepvip::wire::vrrp::{self as wvrrp, MCAST_GROUP_V4, Repr, Version};

const ID: InstanceId = InstanceId(0);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const KEY: [u8; 8] = *b"secret12";

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

fn ah_instance(priority: u8, f: impl FnOnce(&mut InstanceConfig)) -> InstanceConfig {
    let mut c = cfg::instance("VI_1", 51, VrrpVersion::V2, IpAddr::V4(VIP));
    c.priority = priority;
    c.authentication = Authentication {
        auth_type: AuthType::Ah,
        auth_pass: KEY,
    };
    f(&mut c);
    c
}

struct H {
    r: Box<Router>,
    out: Actions,
}

impl H {
    fn new(c: InstanceConfig) -> H {
        let config = cfg::config([c]);
        let mut r = Router::new_boxed(&config).unwrap();
        r.set_src_addr(ID, IpAddr::V4(OURS));
        let mut h = H {
            r,
            out: Actions::new(),
        };
        h.r.handle_start(ms(0), &mut h.out);
        h.out.clear();
        h
    }

    fn take(&mut self) -> Vec<Action> {
        let v = self.out.as_slice().to_vec();
        self.out.clear();
        v
    }

    fn rx(&mut self, at: Instant, datagram: &[u8]) -> Vec<Action> {
        self.r.handle_ah_advert(at, ID, datagram, &mut self.out);
        self.take()
    }

    fn timeout(&mut self, at: Instant) -> Vec<Action> {
        self.r.handle_timeout(at, &mut self.out);
        self.take()
    }

    fn stats(&self) -> Stats {
        *self.r.stats(ID).unwrap()
    }
}

fn advert(priority: u8) -> Repr {
    Repr {
        version: Version::V2,
        vrid: 51,
        priority,
        max_adver_int_cs: 100,
        addr_count: 1,
        addrs: heapless::Vec::from_slice(&[IpAddr::V4(VIP)]).unwrap(),
        auth_type: wvrrp::AUTH_TYPE_AH,
        auth_data: [0; 8],
    }
}

/// An AH advert from `src` to the group, as keepalived sends it.
fn dgram(src: Ipv4Addr, seq: u32, priority: u8, key: &[u8; 8]) -> Vec<u8> {
    let mut buf = [0u8; 128];
    let n = emit_ipv4_ah_vrrp(
        &mut buf,
        7,
        255,
        src,
        MCAST_GROUP_V4,
        seq,
        key,
        false,
        &advert(priority),
    )
    .unwrap();
    buf[..n].to_vec()
}

#[test]
fn backup_accepts_verified_adverts_and_rejects_replays() {
    let mut h = H::new(ah_instance(100, |_| {}));
    assert_eq!(h.r.state(ID), Some(StateKind::Backup));
    assert_eq!(h.r.ah_seq(ID), Some(0));
    assert!(h.rx(ms(500), &dgram(PEER, 5, 200, &KEY)).is_empty());
    assert_eq!(h.stats().advert_rcvd, 1);
    assert_eq!(h.r.master_addr(ID), Some(IpAddr::V4(PEER)));
    // The counter took the received value.
    assert_eq!(h.r.ah_seq(ID), Some(5));
    // The same packet again, and an older one: replays.
    let _ = h.rx(ms(600), &dgram(PEER, 5, 200, &KEY));
    let _ = h.rx(ms(700), &dgram(PEER, 3, 200, &KEY));
    let s = h.stats();
    assert_eq!((s.ah_replay, s.auth_failure, s.advert_rcvd), (2, 2, 1));
    assert_eq!(s.drops(DropReason::AhReplay), 2);
    assert_eq!(h.r.ah_seq(ID), Some(5));
    // The down timer was reset by the accepted advert only: 500 ms + MDI.
    let mdi = timers::master_down_interval(VrrpVersion::V2, 100, 100, 3);
    assert_eq!(h.r.poll_timeout(), Some(ms(500) + mdi));
}

#[test]
fn every_failed_verification_is_a_named_drop() {
    let mut h = H::new(ah_instance(100, |_| {}));
    // Wrong key: the ICV does not verify.
    let _ = h.rx(ms(100), &dgram(PEER, 1, 200, b"secret13"));
    // SPI != source address, under a valid ICV.
    let mut spoofed = dgram(PEER, 2, 200, &KEY);
    ah::Packet::new_unchecked(&mut spoofed[20..]).set_spi(Ipv4Addr::new(192, 0, 2, 9));
    let icv = ah::compute_icv(&spoofed, &KEY, false).unwrap();
    ah::Packet::new_unchecked(&mut spoofed[20..]).set_icv(&icv);
    let _ = h.rx(ms(200), &spoofed);
    // A source address rewritten in flight (it is hashed).
    let mut moved = dgram(PEER, 3, 200, &KEY);
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut moved[..]);
        ip.set_src_addr(Ipv4Addr::new(192, 0, 2, 9));
        ip.fill_checksum();
    }
    let _ = h.rx(ms(300), &moved);
    // Next header is not VRRP.
    let mut other = dgram(PEER, 4, 200, &KEY);
    other[20] = 6;
    let _ = h.rx(ms(400), &other);
    // Truncated and a broken IPv4 header checksum.
    let full = dgram(PEER, 5, 200, &KEY);
    let _ = h.rx(ms(500), &full[..40]);
    let mut bad_ip = full.clone();
    bad_ip[10] ^= 0xff;
    let _ = h.rx(ms(600), &bad_ip);
    // Valid AH, TTL 64 in multicast mode (TTL is hashed in multicast mode,
    // so the sender signed TTL 64).
    let mut buf = [0u8; 128];
    let n = emit_ipv4_ah_vrrp(
        &mut buf,
        9,
        64,
        PEER,
        MCAST_GROUP_V4,
        6,
        &KEY,
        false,
        &advert(200),
    )
    .unwrap();
    let _ = h.rx(ms(700), &buf[..n]);
    let s = h.stats();
    assert_eq!(s.ah_icv_err, 2, "{s:?}");
    assert_eq!(s.ah_spi_err, 1, "{s:?}");
    assert_eq!(s.ah_header_err, 1, "{s:?}");
    assert_eq!(s.packet_len_err, 1, "{s:?}");
    assert_eq!(s.chk_err, 1, "{s:?}");
    assert_eq!(s.ip_ttl_err, 1, "{s:?}");
    // keepalived's auth_failure counts every AH verification failure.
    assert_eq!(s.auth_failure, 3, "{s:?}");
    assert_eq!(s.advert_rcvd, 0);
    assert_eq!(s.drops_total(), 7, "{s:?}");
    // Nothing unauthenticated touched the state or the counter.
    assert_eq!(h.r.master_addr(ID), None);
    assert_eq!(h.r.ah_seq(ID), Some(0));
}

#[test]
fn ah_and_plain_adverts_do_not_mix() {
    // A plain (protocol 112) advert that claims auth type 2 is refused by
    // an AH instance: only the AH socket carries authenticated adverts.
    let mut h = H::new(ah_instance(100, |_| {}));
    h.r.handle_advert(ms(100), ID, IpAddr::V4(PEER), 255, &advert(200), &mut h.out);
    assert!(h.take().is_empty());
    assert_eq!(h.stats().authtype_mismatch, 1);
    // An AH datagram for a PASS instance.
    let mut p = H::new(ah_instance(100, |c| {
        c.authentication.auth_type = AuthType::Pass;
    }));
    let _ = p.rx(ms(100), &dgram(PEER, 1, 200, &KEY));
    assert_eq!(p.stats().authtype_mismatch, 1);
    assert_eq!(p.r.ah_seq(ID), None);
}

#[test]
fn transmit_counts_once_per_advert_and_continues_from_what_was_heard() {
    let mut h = H::new(ah_instance(100, |_| {}));
    // Heard the old master up to 41, then it went silent.
    let _ = h.rx(ms(500), &dgram(PEER, 41, 200, &KEY));
    let at = h.r.poll_timeout().unwrap();
    let a = h.timeout(at);
    assert_eq!(h.r.state(ID), Some(StateKind::Master));
    assert_eq!(
        a[0],
        Action::SendAdvert {
            inst: ID,
            priority: 100
        }
    );
    // The takeover advert carries 42 (keepalived: "continues from the last
    // sequence it heard"), the next ones 43, 44.
    assert_eq!(h.r.ah_seq(ID), Some(42));
    for want in [43, 44] {
        let at = h.r.poll_timeout().unwrap();
        let a = h.timeout(at);
        assert!(a.contains(&Action::SendAdvert {
            inst: ID,
            priority: 100
        }));
        assert_eq!(h.r.ah_seq(ID), Some(want));
    }
    // Shutdown: the priority-0 advert takes the next number.
    h.r.handle_shutdown(ms(9000), &mut h.out);
    assert_eq!(
        h.take()[0],
        Action::SendAdvert {
            inst: ID,
            priority: 0
        }
    );
    assert_eq!(h.r.ah_seq(ID), Some(45));
}

#[test]
fn master_resyncs_on_a_lower_priority_ah_advert() {
    let mut h = H::new(ah_instance(200, |_| {}));
    let at = h.r.poll_timeout().unwrap();
    let _ = h.timeout(at);
    assert_eq!(h.r.state(ID), Some(StateKind::Master));
    assert_eq!(h.r.ah_seq(ID), Some(1));
    // A lower-priority master (split brain) ahead in the sequence space.
    let a = h.rx(
        at + keepvip::time::Duration::from_millis(100),
        &dgram(PEER, 90, 100, &KEY),
    );
    assert_eq!(
        a[0],
        Action::SendAdvert {
            inst: ID,
            priority: 200
        }
    );
    // keepalived: counter = 90 + 1, then the forced advert carries + 2.
    assert_eq!(h.r.ah_seq(ID), Some(92));
    assert_eq!(h.r.state(ID), Some(StateKind::Master));
    // Its lower-priority re-GARP burst starts too.
    assert!(a.iter().any(|x| matches!(x, Action::SendGarp { .. })));
}

#[test]
fn master_steps_down_for_a_higher_priority_ah_advert() {
    let mut h = H::new(ah_instance(100, |_| {}));
    let at = h.r.poll_timeout().unwrap();
    let _ = h.timeout(at);
    assert_eq!(h.r.ah_seq(ID), Some(1));
    let a = h.rx(
        at + keepvip::time::Duration::from_millis(10),
        &dgram(PEER, 7, 200, &KEY),
    );
    // higher_prio_send_advert: one advert with our priority, then backup.
    assert_eq!(
        a[0],
        Action::SendAdvert {
            inst: ID,
            priority: 100
        }
    );
    assert_eq!(h.r.state(ID), Some(StateKind::Backup));
    assert_eq!(h.r.ah_seq(ID), Some(8));
}

#[test]
fn ah_counter_survives_a_reload_of_an_unchanged_instance() {
    let c = ah_instance(100, |_| {});
    let old_cfg = cfg::config([c.clone()]);
    let new_cfg = cfg::config([c]);
    let mut old = Router::new_boxed(&old_cfg).unwrap();
    let mut out = Actions::new();
    old.set_src_addr(ID, IpAddr::V4(OURS));
    old.handle_start(ms(0), &mut out);
    old.handle_ah_advert(ms(100), ID, &dgram(PEER, 77, 200, &KEY), &mut out);
    assert_eq!(old.ah_seq(ID), Some(77));
    let mut map: heapless::Vec<Option<InstanceId>, { keepvip::limits::MAX_INSTANCES }> =
        heapless::Vec::new();
    reload_map(&old_cfg, &new_cfg, &mut map);
    let mut new = Router::new_boxed(&new_cfg).unwrap();
    assert_eq!(new.adopt_from(&old, &map), 1);
    assert_eq!(new.ah_seq(ID), Some(77));
    out.clear();
    new.handle_ah_advert(ms(200), ID, &dgram(PEER, 77, 200, &KEY), &mut out);
    assert_eq!(new.stats(ID).unwrap().ah_replay, 1);
}

mod config_common;

fn parse_text(text: &str) -> (Box<keepvip::config::Config>, Vec<String>) {
    // One file per call: the tests run in parallel.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("keepvip-core-ah-{}-{k}.conf", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let (cfg, d) = config_common::parse_file(path.to_str().unwrap());
    let lines = config_common::rendered(&cfg, &d);
    let _ = std::fs::remove_file(&path);
    (cfg, lines)
}

#[test]
fn lab_ah_configs_are_clean() {
    for f in [
        "ah.r1.conf",
        "ah.r2.conf",
        "ah-wrongpass.r1.conf",
        "ah-ucast.r1.conf",
        "ah-ucast.r2.conf",
    ] {
        let (cfg, d) = config_common::parse_file(&format!("tests/lab/conf/{f}"));
        assert_eq!(
            config_common::rendered(&cfg, &d),
            Vec::<String>::new(),
            "{f}"
        );
        assert_eq!(cfg.instances[0].authentication.auth_type, AuthType::Ah);
    }
}

const AH_MASTER: &str = "vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n priority 200\n nopreempt\n authentication {\n  auth_type AH\n  auth_pass secret12\n }\n virtual_ipaddress {\n  192.0.2.100/24\n }\n}\n";

#[test]
fn ah_with_state_master_below_255_starts_as_backup() {
    use keepvip::config::model::InitialState;
    let (cfg, d) = parse_text(AH_MASTER);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].contains(":2:")
            && d[0].contains("state MASTER is incompatible with AH authentication"),
        "{d:?}"
    );
    let i = &cfg.instances[0];
    assert_eq!(i.state, Some(InitialState::Backup));
    // As in keepalived, the state is cleared first: nopreempt (which needs
    // state BACKUP) stays.
    assert!(i.nopreempt);
    // The address owner may start as master.
    let (cfg, d) = parse_text(&AH_MASTER.replace("priority 200\n nopreempt\n", "priority 255\n"));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(cfg.instances[0].state, Some(InitialState::Master));
}

#[test]
fn higher_prio_send_advert_default_and_keywords() {
    let base = AH_MASTER.replace(" state MASTER\n", " state BACKUP\n");
    let (cfg, d) = parse_text(&base);
    assert!(d.is_empty(), "{d:?}");
    assert!(cfg.instances[0].higher_prio_send_advert);
    let (cfg, _) = parse_text(&base.replace(" nopreempt\n", " higher_prio_send_advert false\n"));
    assert!(!cfg.instances[0].higher_prio_send_advert);
    let (cfg, d) = parse_text(&format!(
        "global_defs {{\n vrrp_higher_prio_send_advert off\n}}\n{base}"
    ));
    assert!(d.is_empty(), "{d:?}");
    assert!(!cfg.instances[0].higher_prio_send_advert);
}
