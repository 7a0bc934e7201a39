//! Golden-format tests of the SIGUSR1 / SIGUSR2 / JSON dumps, against the
//! real keepalived 2.4.3 dumps (design/keepalived-2.4.3-dumps.txt): the
//! scenario of `dump_common::Bench::drive` reproduces that run for VI_1.

mod dump_common;
use dump_common::*;

use keepvip::dump::{DumpInput, write_data, write_json, write_stats, write_stats_with};

fn input(b: &Bench) -> DumpInput<'_> {
    DumpInput {
        config: &b.config,
        router: &b.router,
        now: b.now,
        wall_offset_us: WALL_OFFSET_US,
    }
}

fn driven() -> Bench {
    let mut b = bench();
    b.drive();
    b
}

/// keepalived 2.4.3's SIGUSR2 block for the same run (built without VRRP
/// auth there; keepvip implements auth, so keepalived's `_WITH_VRRP_AUTH_`
/// lines "Type Mismatch" and "Failure" are present, as in vrrp_print.c).
const KEEPALIVED_STATS_VI_1: &str = "\
VRRP Instance: VI_1
  Advertisements:
    Received: 0
    Sent: 2
  Became master: 1
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 0
  Priority Zero:
    Received: 0
    Sent: 0
";

#[test]
fn stats_dump_is_keepalived_format_exactly() {
    let b = driven();
    let mut s = String::new();
    write_stats(&mut s, &b.router).unwrap();
    let expected_vi2 = KEEPALIVED_STATS_VI_1
        .replace("VI_1", "VI_2")
        // 10 adverts from the 0.5 s master between 1.1 s and 5.6 s.
        .replace("Received: 0\n    Sent: 2", "Received: 10\n    Sent: 0")
        .replace("Became master: 1", "Became master: 0");
    assert_eq!(s, format!("{KEEPALIVED_STATS_VI_1}{expected_vi2}"));
}

#[test]
fn stats_dump_with_keepvip_lateness_lines() {
    let b = driven();
    let mut plain = String::new();
    write_stats(&mut plain, &b.router).unwrap();
    let mut s = String::new();
    write_stats_with(&mut s, &b.router, false).unwrap();
    assert_eq!(s, plain, "without lateness: keepalived's format");
    s.clear();
    write_stats_with(&mut s, &b.router, true).unwrap();
    // One line after each instance's block; the bench fires every timer at
    // its deadline, so VI_1's one timed advert was 0 ms late.
    let expected = plain
        .replace(
            "    Sent: 0\nVRRP Instance: VI_2",
            "    Sent: 0\n  Advert lateness: 1 timed adverts, max 0.000 ms, p99 <= 0.000 ms, mean 0.000 ms, 0 over 5.000 ms\nVRRP Instance: VI_2",
        )
        + "  Advert lateness: no timed adverts\n";
    assert_eq!(s, expected);
}

/// The instance section of keepalived 2.4.3's real SIGUSR1 dump.
const KEEPALIVED_TOPOLOGY: &str = " VRRP Instance = VI_1
   VRRP Version = 2
   State = MASTER
   Flags: none
   Wantstate = MASTER
   Number of config faults = 0
   Number of tracker faults = 0
   Flags of interface faults - (none)
   Number of track scripts init = 0
   Last transition = 1795315072.341686 (Sun Nov 22 02:37:52.341686 2026)
   Read timeout = 1795315074.341848 (Sun Nov 22 02:37:54.341848 2026)
   Master down timer = 3609375 usecs
   Interface = dum0
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 51
   Priority = 100
   Effective priority = 100
   Total priority = 100
   Advert interval = 1 sec
   Last advert sent = 1795315073.341813
   Preempt = enabled
   Promote_secondaries = disabled
   Virtual IP (1):
     192.0.2.100/24 dev dum0 scope global set
   fd_in 14, fd_out 15
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
";

/// The global section of the same dump (keepvip has a subset of it).
const KEEPALIVED_GLOBAL: &str = "\
------< Global definitions >------
 Network namespace = (default)
 Router ID = test
 Default smtp_alert = unset
 VRRP IPv4 mcast group = 224.0.0.18
 VRRP IPv6 mcast group = ff02::12
 Gratuitous ARP delay = 5
 Gratuitous ARP repeat = 5
 Gratuitous ARP refresh timer = 0
 Gratuitous ARP refresh repeat = 1
 Gratuitous ARP lower priority delay = 5
 Gratuitous ARP lower priority repeat = 5
 Num adverts before down = 3
 Send advert after receive lower priority advert = true
 Send advert after receive higher priority advert = false
 Gratuitous ARP interval = 0.000000
 Gratuitous NA interval = 0.000000
 VRRP default protocol version = 2
 VRRP skip check advert addresses = false
 VRRP strict mode = false
 VRRP process priority = 0
 VRRP realtime priority = 0
 VRRP realtime limit = 10000
 Script security disabled
------< VRRP Topology >------
";

/// The key of a dump line: the text before " = ", else the line trimmed.
fn key(line: &str) -> &str {
    line.split(" = ").next().unwrap_or(line).trim_end()
}

/// Every line of `ours` whose key also appears in `theirs` comes in
/// keepalived's order, and the lines named in `same_value` are identical.
fn check_against(ours: &[&str], theirs: &str, same_value: &[&str]) {
    let theirs: Vec<&str> = theirs.lines().collect();
    let mut last = 0usize;
    let mut shared = 0;
    for l in ours {
        if let Some(pos) = theirs.iter().position(|t| key(t) == key(l)) {
            assert!(pos >= last, "line out of keepalived's order: {l:?}");
            last = pos;
            shared += 1;
            if same_value.contains(&key(l)) {
                assert_eq!(*l, theirs[pos], "value differs from keepalived's");
            }
        }
    }
    assert!(shared >= same_value.len(), "too few shared lines: {shared}");
    for k in same_value {
        assert!(ours.iter().any(|l| key(l) == *k), "missing line {k:?}");
        assert!(
            theirs.iter().any(|l| key(l) == *k),
            "not in keepalived's dump: {k:?}"
        );
    }
}

#[test]
fn data_dump_follows_keepalived_2_4_3() {
    let b = driven();
    let mut s = String::new();
    write_data(&mut s, &input(&b)).unwrap();
    let lines: Vec<&str> = s.lines().collect();

    // Sections and their order.
    let g = lines
        .iter()
        .position(|l| *l == "------< Global definitions >------");
    let t = lines
        .iter()
        .position(|l| *l == "------< VRRP Topology >------");
    assert_eq!(g, Some(0));
    let t = t.expect("topology header");

    // Global definitions: keepalived's order and values for what we share.
    check_against(
        &lines[..=t],
        KEEPALIVED_GLOBAL,
        &[
            " Router ID",
            " VRRP IPv4 mcast group",
            " VRRP IPv6 mcast group",
            " Gratuitous ARP delay",
            " Gratuitous ARP repeat",
            " Gratuitous ARP refresh timer",
            " Gratuitous ARP refresh repeat",
            " Gratuitous ARP lower priority delay",
            " Gratuitous ARP lower priority repeat",
            " Send advert after receive lower priority advert",
            " Gratuitous ARP interval",
            " Gratuitous NA interval",
            " VRRP default protocol version",
            " VRRP skip check advert addresses",
            " VRRP strict mode",
            " VRRP process priority",
            " VRRP realtime priority",
            " VRRP realtime limit",
            " Script security disabled",
        ],
    );

    // VI_1: the same run as keepalived's, so the same values, except the
    // addresses (documentation prefixes here) and what keepvip lacks.
    let vi2 = lines
        .iter()
        .position(|l| *l == " VRRP Instance = VI_2")
        .unwrap();
    let vi1 = &lines[t + 1..vi2];
    check_against(
        vi1,
        KEEPALIVED_TOPOLOGY,
        &[
            " VRRP Instance",
            "   VRRP Version",
            "   State",
            "   Wantstate",
            "   Last transition",
            "   Master down timer",
            "   Interface",
            "   Multicast address 224.0.0.18",
            "   Gratuitous ARP delay",
            "   Gratuitous ARP repeat",
            "   Gratuitous ARP refresh",
            "   Gratuitous ARP refresh repeat",
            "   Gratuitous ARP lower priority delay",
            "   Gratuitous ARP lower priority repeat",
            "   Down timer adverts",
            "   Send advert after receive lower priority advert",
            "   Virtual Router ID",
            "   Priority",
            "   Effective priority",
            "   Advert interval",
            "   Preempt",
            "   Virtual IP (1):",
            "   Using smtp notification",
            "   Notify deleted",
            "   Notify priority changes",
        ],
    );
    // higher_prio_send_advert is on by default in keepvip (off in
    // keepalived, whose run the golden dump is): the line shows the
    // configuration, not keepalived's default.
    assert!(lines.contains(&" Send advert after receive higher priority advert = true"));
    assert!(vi1.contains(&"   Send advert after receive higher priority advert = true"));
    assert!(vi1.contains(&"   Using src_ip = 192.0.2.1"));
    assert!(vi1.contains(&"     192.0.2.100/24 dev dum0 scope global set"));

    // VI_2: a v3 Backup following 192.0.2.2 at priority 150, every 0.5 s.
    let expected_vi2 = " VRRP Instance = VI_2
   VRRP Version = 3
   State = BACKUP
   Master router = 192.0.2.2
   Master priority = 150
   Master advert int = 0.50 sec
   Wantstate = BACKUP
   Last transition = 1795315068.732311 (Sun Nov 22 02:37:48.732311 2026)
   Master down timer = 1824218 usecs
   Interface = dum0
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = true
   Virtual Router ID = 52
   Priority = 90
   Effective priority = 90
   Advert interval = 500 milli-sec
   Master advert interval = 500 milli-sec
   Accept = enabled
   Preempt = enabled
   Virtual IP (1):
     198.51.100.7/32 dev dum1 scope global label dum1:vip
   Tracked interfaces :
     dum1 weight -20
   Using smtp notification = no
   Notify deleted = Fault
   Master state transition script = /bin/echo \"VI_2\" up
   Notify priority changes = false
";
    assert_eq!(lines[vi2..].join("\n") + "\n", expected_vi2);
}

// ---- JSON -------------------------------------------------------------------------

/// A minimal JSON value, enough to validate the dump and read keys back.
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, k: &str) -> Option<&J> {
        match self {
            J::Obj(v) => v.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }
    fn num(&self) -> f64 {
        match self {
            J::Num(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            J::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
}

/// Strict RFC 8259 parser (whole input must be one value plus whitespace).
struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }
    fn value(&mut self) -> Result<J, String> {
        self.ws();
        match self.s.get(self.i).copied() {
            Some(b'{') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(J::Obj(v));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    if v.iter().any(|(n, _): &(String, J)| *n == k) {
                        return Err(format!("duplicate key {k}"));
                    }
                    self.eat(b':')?;
                    let x = self.value()?;
                    v.push((k, x));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(J::Obj(v));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(J::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(J::Arr(v));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(J::Str(self.string()?)),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(J::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(J::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(J::Null)
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let st = self.i;
                if c == b'-' {
                    self.i += 1;
                }
                let digits = |p: &mut Self| {
                    let s = p.i;
                    while p.i < p.s.len() && p.s[p.i].is_ascii_digit() {
                        p.i += 1;
                    }
                    p.i - s
                };
                let int_start = self.i;
                if digits(self) == 0 {
                    return Err("number without digits".into());
                }
                if self.s[int_start] == b'0' && self.i - int_start > 1 {
                    return Err("leading zero".into());
                }
                if self.s.get(self.i) == Some(&b'.') {
                    self.i += 1;
                    if digits(self) == 0 {
                        return Err("no fraction digits".into());
                    }
                }
                if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
                    self.i += 1;
                    if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                        self.i += 1;
                    }
                    if digits(self) == 0 {
                        return Err("no exponent digits".into());
                    }
                }
                let t = std::str::from_utf8(&self.s[st..self.i]).unwrap();
                t.parse().map(J::Num).map_err(|e| e.to_string())
            }
            _ => Err(format!("unexpected input at {}", self.i)),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(format!("expected string at {}", self.i));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let h = std::str::from_utf8(
                                self.s.get(self.i..self.i + 4).ok_or("short \\u")?,
                            )
                            .map_err(|e| e.to_string())?;
                            let cp = u32::from_str_radix(h, 16).map_err(|e| e.to_string())?;
                            self.i += 4;
                            let ch = char::from_u32(cp).ok_or("surrogate")?;
                            out.extend_from_slice(ch.to_string().as_bytes());
                        }
                        _ => return Err("bad escape".into()),
                    }
                }
                c if c < 0x20 => return Err("raw control character in string".into()),
                c => out.push(c),
            }
        }
    }
}

fn parse_json(s: &str) -> Result<J, String> {
    let mut p = P {
        s: s.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != s.len() {
        return Err(format!("trailing data at {}", p.i));
    }
    Ok(v)
}

#[test]
fn json_validator_rejects_bad_json() {
    for bad in [
        "[",
        "{\"a\":1,}",
        "[01]",
        "\"a\nb\"",
        "{\"a\":1,\"a\":2}",
        "[1] x",
        "{a:1}",
    ] {
        assert!(parse_json(bad).is_err(), "accepted {bad:?}");
    }
    assert_eq!(
        parse_json(r#"{"a":[1.5,true,null,"x\"\u0041"]}"#).unwrap(),
        J::Obj(vec![(
            "a".into(),
            J::Arr(vec![
                J::Num(1.5),
                J::Bool(true),
                J::Null,
                J::Str("x\"A".into())
            ])
        )])
    );
}

/// The keys LuCI's status page and overview read, plus the ones the issue names.
const DATA_KEYS: &[&str] = &[
    "iname",
    "ifp_ifname",
    "state",
    "wantstate",
    "base_priority",
    "effective_priority",
    "vrid",
    "last_transition",
    "vips",
    "adver_int",
    "master_priority",
];
const STATS_KEYS: &[&str] = &[
    "advert_rcvd",
    "advert_sent",
    "become_master",
    "release_master",
    "packet_len_err",
    "advert_interval_err",
    "ip_ttl_err",
    "invalid_type_rcvd",
    "addr_list_err",
    "invalid_authtype",
    "pri_zero_rcvd",
    "pri_zero_sent",
];

#[test]
fn json_dump_is_valid_and_has_lucis_keys() {
    let b = driven();
    let mut s = String::new();
    write_json(&mut s, &input(&b)).unwrap();
    let v = parse_json(&s).unwrap_or_else(|e| panic!("invalid JSON ({e}): {s}"));
    let J::Arr(items) = v else {
        panic!("not an array")
    };
    assert_eq!(items.len(), 2);
    for it in &items {
        let data = it.get("data").expect("data");
        let stats = it.get("stats").expect("stats");
        for k in DATA_KEYS {
            assert!(data.get(k).is_some(), "data.{k} missing");
        }
        for k in STATS_KEYS {
            assert!(stats.get(k).is_some(), "stats.{k} missing");
        }
    }
    let (d1, s1) = (
        items[0].get("data").unwrap(),
        items[0].get("stats").unwrap(),
    );
    assert_eq!(d1.get("iname").unwrap().str(), "VI_1");
    assert_eq!(d1.get("ifp_ifname").unwrap().str(), "dum0");
    assert_eq!(d1.get("state").unwrap().num(), 2.0); // MASTER
    assert_eq!(d1.get("wantstate").unwrap().num(), 2.0);
    assert_eq!(d1.get("vrid").unwrap().num(), 51.0);
    assert_eq!(d1.get("adver_int").unwrap().num(), 1.0);
    // Wall clock: LuCI does `new Date(last_transition * 1000)`.
    let lt = d1.get("last_transition").unwrap().num();
    assert!((lt - 1_795_315_072.341686).abs() < 1e-5, "{lt}");
    assert_eq!(
        d1.get("vips").unwrap(),
        &J::Arr(vec![J::Str("192.0.2.100/24 dev dum0 scope global".into())])
    );
    assert_eq!(s1.get("advert_sent").unwrap().num(), 2.0);
    assert_eq!(s1.get("advert_rcvd").unwrap().num(), 0.0);
    assert_eq!(s1.get("become_master").unwrap().num(), 1.0);
    let (d2, s2) = (
        items[1].get("data").unwrap(),
        items[1].get("stats").unwrap(),
    );
    assert_eq!(d2.get("state").unwrap().num(), 1.0); // BACKUP
    assert_eq!(d2.get("master_priority").unwrap().num(), 150.0);
    assert_eq!(d2.get("adver_int").unwrap().num(), 0.5);
    assert_eq!(d2.get("version").unwrap().num(), 3.0);
    // The quotes of the notify command survive escaping.
    assert_eq!(
        d2.get("script_master").unwrap().str(),
        "/bin/echo \"VI_2\" up"
    );
    assert_eq!(
        d2.get("track_ifp").unwrap(),
        &J::Arr(vec![J::Str("dum1".into())])
    );
    assert_eq!(s2.get("advert_rcvd").unwrap().num(), 10.0);
    // LuCI's overview derives MASTER/BACKUP from become_master - release_master.
    assert_eq!(
        s2.get("become_master").unwrap().num() - s2.get("release_master").unwrap().num(),
        0.0
    );
}

/// `higher_prio_send_advert` and `preempt_delay` as configured, encoded as
/// keepalived 2.2.7's vrrp_json.c does: `jsonw_uint_field` of the flag
/// (0/1) and of `preempt_delay / TIMER_HZ` (whole seconds: 2.5 s is 2).
#[test]
fn json_dump_encodes_higher_prio_send_advert_and_preempt_delay_as_keepalived() {
    let conf = CONF
        .replace(
            "    priority 100\n",
            "    priority 100\n    preempt_delay 2.5\n    higher_prio_send_advert false\n",
        )
        .replace(
            "    priority 90\n",
            "    priority 90\n    preempt_delay 7\n",
        );
    let mut b = bench_with(&conf);
    b.start(keepvip::time::Instant::ZERO);
    let mut s = String::new();
    write_json(&mut s, &input(&b)).unwrap();
    let J::Arr(items) = parse_json(&s).unwrap() else {
        panic!("not an array: {s}")
    };
    let d = |i: usize, k: &str| items[i].get("data").unwrap().get(k).unwrap().num();
    assert_eq!(d(0, "higher_prio_send_advert"), 0.0);
    assert_eq!(d(1, "higher_prio_send_advert"), 1.0, "keepvip's default");
    assert_eq!(d(0, "preempt_delay"), 2.0);
    assert_eq!(d(1, "preempt_delay"), 7.0);
    // The SIGUSR1 dump shows the same setting (and keepalived's %g seconds).
    let mut t = String::new();
    write_data(&mut t, &input(&b)).unwrap();
    let vi2 = t.find(" VRRP Instance = VI_2").unwrap();
    assert!(t[..vi2].contains("   Send advert after receive higher priority advert = false\n"));
    assert!(t[vi2..].contains("   Send advert after receive higher priority advert = true\n"));
    assert!(t[..vi2].contains("   Preempt delay = 2.5 secs\n"), "{t}");
    // The default configuration: higher_prio_send_advert on (keepvip), no
    // preempt_delay.
    let b = driven();
    let mut s = String::new();
    write_json(&mut s, &input(&b)).unwrap();
    assert!(s.contains("\"higher_prio_send_advert\":1,"), "{s}");
    assert!(s.contains("\"preempt_delay\":0,"), "{s}");
}

/// The same document through Python's json module (the parser rpcd's
/// consumers are closest to), when python3 is installed.
#[test]
fn json_dump_parses_with_python() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let b = driven();
    let mut s = String::new();
    write_json(&mut s, &input(&b)).unwrap();
    let script = "import json,sys\n\
        v=json.load(sys.stdin)\n\
        assert isinstance(v,list) and len(v)==2\n\
        for t in v:\n\
        \x20 d=t['data']; st=t['stats']\n\
        \x20 print(d['iname'], d['ifp_ifname'], d['state'], '%.6f' % d['last_transition'], st['advert_sent'], st['advert_rcvd'])\n";
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("skipped: python3 not available");
        return;
    };
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python rejected the JSON: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "VI_1 dum0 2 1795315072.341686 2 0\nVI_2 dum0 1 1795315068.732311 0 10\n"
    );
}

#[test]
fn dumps_report_a_full_sink_instead_of_panicking() {
    let b = driven();
    let mut small = keepvip::sys::file_atomic::FixedBuf::<512>::new();
    assert!(write_json(&mut small, &input(&b)).is_err());
    assert!(small.is_truncated());
    let mut small = keepvip::sys::file_atomic::FixedBuf::<512>::new();
    assert!(write_data(&mut small, &input(&b)).is_err());
    let mut small = keepvip::sys::file_atomic::FixedBuf::<64>::new();
    assert!(write_stats(&mut small, &b.router).is_err());
    // And a big enough one holds the whole thing.
    let mut big = keepvip::sys::file_atomic::FixedBuf::<16384>::new();
    write_json(&mut big, &input(&b)).unwrap();
    let mut s = String::new();
    write_json(&mut s, &input(&b)).unwrap();
    assert_eq!(big.as_str(), s);
}
