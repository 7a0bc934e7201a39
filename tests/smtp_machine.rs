//! The SMTP alert state machine against scripted server replies: happy
//! path, multi-line EHLO, EHLO -> HELO fallback, 4xx/5xx at every step,
//! timeouts, I/O failures, malformed replies, dot-stuffing of the message,
//! queue overflow. Pure: no sockets, time as an argument.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use keepvip::config::model::{GlobalDefs, InstanceConfig, Span, SyncGroup};
use keepvip::smtp::{ALERT_QUEUE_LEN, AlertSource, IoFailure, Smtp, SmtpError, Step, WallTime};
use keepvip::time::{Duration, Instant};
use keepvip::vrrp::NotifyState;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25)), 2525);
/// 2025-03-04T12:05:09Z shown at +01:00.
const WALL: WallTime = WallTime {
    unix_secs: 1_741_089_909,
    utc_offset_s: 3600,
};
const T0: Instant = Instant::from_secs(1000);

fn globals(rcpts: &[&str]) -> GlobalDefs {
    let mut g = GlobalDefs {
        router_id: Some("edge1".try_into().unwrap()),
        ..Default::default()
    };
    for r in rcpts {
        g.notification_email.push((*r).try_into().unwrap()).unwrap();
    }
    g.notification_email_from = Some("kv@example.org".try_into().unwrap());
    g.smtp_server = Some((SERVER.ip(), SERVER.port()));
    g.smtp_connect_timeout_s = 10;
    g
}

/// A client plus the scripted "server" side.
struct Script {
    smtp: Smtp,
    now: Instant,
}

impl Script {
    fn new(g: &GlobalDefs) -> Script {
        Script {
            smtp: Smtp::new(g, "r1.example.org"),
            now: T0,
        }
    }

    fn default_two() -> Script {
        Script::new(&globals(&["ops@example.org", "noc@example.org"]))
    }

    /// Everything the client wants to send, consumed.
    fn sent(&mut self) -> String {
        let v = self.smtp.poll_tx().to_vec();
        self.smtp.consume_tx(v.len());
        assert!(self.smtp.poll_tx().is_empty());
        String::from_utf8(v).expect("client sends ASCII")
    }

    fn reply(&mut self, r: &str) {
        self.smtp.handle_rx(self.now, r.as_bytes());
    }

    /// Server says `r`, client must answer exactly `expect`.
    fn step(&mut self, r: &str, expect: &str) {
        self.reply(r);
        assert_eq!(self.sent(), expect, "after server said {r:?}");
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.smtp.handle_timeout(self.now);
    }

    /// Queue one instance alert and get to "connected, greeting pending".
    fn connect(&mut self, name: &str, state: NotifyState) {
        assert!(
            self.smtp
                .queue_alert(WALL, AlertSource::Instance, name, state)
        );
        self.open();
    }

    fn open(&mut self) {
        assert_eq!(self.smtp.poll_timeout(self.now), Some(Duration::ZERO));
        assert_eq!(self.smtp.want_connect(self.now), Some(SERVER));
        assert!(self.smtp.wants_socket() && self.smtp.is_connecting());
        assert_eq!(
            self.smtp.want_connect(self.now),
            None,
            "one session at a time"
        );
        self.smtp.handle_connected(self.now);
        assert!(!self.smtp.is_connecting());
        assert_eq!(self.sent(), "", "the server speaks first");
    }

    /// Runs the dialogue up to (and including) the DATA reply; returns the
    /// message the client sent.
    fn run_to_message(&mut self) -> String {
        self.step("220 mx.example.org ESMTP\r\n", "EHLO r1.example.org\r\n");
        self.step(
            "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            "MAIL FROM:<kv@example.org>\r\n",
        );
        self.step("250 2.1.0 Ok\r\n", "RCPT TO:<ops@example.org>\r\n");
        self.step("250 2.1.5 Ok\r\n", "RCPT TO:<noc@example.org>\r\n");
        self.step("251 will forward\r\n", "DATA\r\n");
        self.reply("354 End data with <CR><LF>.<CR><LF>\r\n");
        self.sent()
    }

    fn finish_ok(&mut self) {
        self.step("250 2.0.0 Ok: queued as 1\r\n", "QUIT\r\n");
        self.reply("221 2.0.0 Bye\r\n");
        assert!(!self.smtp.wants_socket());
    }

    fn assert_failed(&mut self, err: SmtpError) {
        assert_eq!(self.smtp.last_error(), Some(err));
        assert_eq!(self.smtp.stats().failed, 1);
        assert_eq!(self.smtp.stats().sent, 0);
    }
}

const MASTER_MAIL: &str = "Date: Tue, 04 Mar 2025 13:05:09 +0100\r\n\
From: kv@example.org\r\n\
Subject: [edge1] VRRP Instance VI_1 - Entering MASTER state\r\n\
X-Mailer: keepvip\r\n\
To: ops@example.org, noc@example.org\r\n\
\r\n\
=> VRRP Instance is now owning VRRP VIPs <=\r\n\
.\r\n";

#[test]
fn happy_path_master() {
    let mut s = Script::default_two();
    assert!(s.smtp.enabled() && s.smtp.is_idle());
    assert_eq!(s.smtp.poll_timeout(s.now), None, "idle: no deadline");
    s.connect("VI_1", NotifyState::Master);
    assert_eq!(s.smtp.poll_timeout(s.now), Some(Duration::from_secs(10)));
    assert_eq!(s.run_to_message(), MASTER_MAIL);
    s.finish_ok();
    let st = *s.smtp.stats();
    assert_eq!((st.queued, st.sent, st.failed, st.sessions), (1, 1, 0, 1));
    assert_eq!(s.smtp.last_error(), None);
    assert!(s.smtp.is_idle());
    assert_eq!(s.smtp.poll_timeout(s.now), None);
}

#[test]
fn backup_fault_stop_and_group_texts() {
    let cases = [
        (
            AlertSource::Instance,
            NotifyState::Backup,
            "[edge1] VRRP Instance VI_1 - Entering BACKUP state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        (
            AlertSource::Instance,
            NotifyState::Fault,
            "[edge1] VRRP Instance VI_1 - Entering FAULT state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        (
            AlertSource::Instance,
            NotifyState::Stop,
            "[edge1] VRRP Instance VI_1 - Stopping",
            "=> VRRP Instance stopping <=",
        ),
        (
            AlertSource::Group,
            NotifyState::Master,
            "[edge1] VRRP Group VI_1 - Entering MASTER state",
            "=> All VRRP group instances are now in MASTER state <=",
        ),
    ];
    for (src, state, subject, body) in cases {
        let mut s = Script::default_two();
        assert!(s.smtp.queue_alert(WALL, src, "VI_1", state));
        s.open();
        let msg = s.run_to_message();
        assert!(
            msg.contains(&format!("\r\nSubject: {subject}\r\n")),
            "{msg}"
        );
        assert!(msg.ends_with(&format!("\r\n\r\n{body}\r\n.\r\n")), "{msg}");
        s.finish_ok();
    }
}

#[test]
fn replies_split_at_every_byte_and_coalesced() {
    // Byte by byte.
    let mut s = Script::default_two();
    s.connect("VI_1", NotifyState::Master);
    for b in "220-mx.example.org ESMTP\r\n220 welcome\r\n".bytes() {
        assert_eq!(s.smtp.poll_tx(), b"");
        s.smtp.handle_rx(s.now, &[b]);
    }
    assert_eq!(s.sent(), "EHLO r1.example.org\r\n");
    // A multi-line EHLO reply in odd chunks, bare LF line ends.
    for chunk in [
        "25",
        "0-mx\n250-SIZE 1000",
        "0\n250-",
        "STARTTLS\n25",
        "0 HELP\n",
    ] {
        assert_eq!(s.smtp.poll_tx(), b"");
        s.reply(chunk);
    }
    assert_eq!(s.sent(), "MAIL FROM:<kv@example.org>\r\n");
    // The client sends only after each reply, but a server that answers
    // two commands in one segment is handled in order (commands queue up).
    s.reply("250 ok\r\n250 ok\r\n");
    assert_eq!(
        s.sent(),
        "RCPT TO:<ops@example.org>\r\nRCPT TO:<noc@example.org>\r\n"
    );
    s.step("250 ok\r\n", "DATA\r\n");
    s.reply("354 go\r\n");
    // Partial writes: the shell takes the message 7 bytes at a time.
    let mut got = Vec::new();
    while !s.smtp.poll_tx().is_empty() {
        let n = s.smtp.poll_tx().len().min(7);
        got.extend_from_slice(&s.smtp.poll_tx()[..n]);
        s.smtp.consume_tx(n);
    }
    assert_eq!(String::from_utf8(got).unwrap(), MASTER_MAIL);
    s.finish_ok();
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let mut s = Script::default_two();
    s.connect("VI_1", NotifyState::Master);
    s.step("220 old smtpd\r\n", "EHLO r1.example.org\r\n");
    s.step(
        "502 5.5.2 Error: command not recognized\r\n",
        "HELO r1.example.org\r\n",
    );
    s.step("250 old smtpd\r\n", "MAIL FROM:<kv@example.org>\r\n");
    s.step("250 ok\r\n", "RCPT TO:<ops@example.org>\r\n");
    s.step("250 ok\r\n", "RCPT TO:<noc@example.org>\r\n");
    s.step("250 ok\r\n", "DATA\r\n");
    s.reply("354 go\r\n");
    assert_eq!(s.sent(), MASTER_MAIL);
    s.finish_ok();
    assert_eq!(s.smtp.stats().sent, 1);
}

/// The replies that lead to each step, and the command the client sends.
const DIALOGUE: [(&str, Step, &str); 7] = [
    ("220 hi\r\n", Step::Greeting, "EHLO r1.example.org\r\n"),
    ("250 hi\r\n", Step::Ehlo, "MAIL FROM:<kv@example.org>\r\n"),
    (
        "250 ok\r\n",
        Step::MailFrom,
        "RCPT TO:<ops@example.org>\r\n",
    ),
    ("250 ok\r\n", Step::RcptTo, "RCPT TO:<noc@example.org>\r\n"),
    ("250 ok\r\n", Step::RcptTo, "DATA\r\n"),
    ("354 go\r\n", Step::Data, ""),
    ("250 ok\r\n", Step::Message, "QUIT\r\n"),
];

/// Plays the dialogue until the reply for `fail_at` is due.
fn play_until(s: &mut Script, fail_at: usize) {
    for (reply, _, cmd) in &DIALOGUE[..fail_at] {
        s.reply(reply);
        let out = s.sent();
        if cmd.is_empty() {
            assert!(out.starts_with("Date: "), "{out}");
        } else {
            assert_eq!(out, *cmd);
        }
    }
}

#[test]
fn error_codes_at_every_step_fail_once_and_quit() {
    for (fail_at, &(_, step, _)) in DIALOGUE.iter().enumerate() {
        if step == Step::RcptTo {
            continue; // refused recipients: see `refused_recipients`
        }
        for code in [421u16, 451, 452, 500, 550, 554] {
            if step == Step::Ehlo && code >= 500 {
                continue; // 5xx to EHLO means "try HELO": see the fallback test
            }
            let mut s = Script::default_two();
            s.connect("VI_1", NotifyState::Master);
            play_until(&mut s, fail_at);
            s.reply(&format!("{code} no way\r\n"));
            s.assert_failed(SmtpError::Rejected { step, code });
            assert_eq!(s.sent(), "QUIT\r\n", "polite QUIT after {step:?} {code}");
            assert!(s.smtp.wants_socket());
            s.reply("221 bye\r\n");
            assert!(!s.smtp.wants_socket() && s.smtp.is_idle());
            assert_eq!(s.smtp.stats().failed, 1, "logged and counted once");
        }
    }
}

#[test]
fn refused_recipients() {
    // One of two refused: the mail still goes to the other.
    let mut s = Script::default_two();
    s.connect("VI_1", NotifyState::Master);
    play_until(&mut s, 3);
    s.step(
        "550 5.1.1 no such user\r\n",
        "RCPT TO:<noc@example.org>\r\n",
    );
    s.step("250 ok\r\n", "DATA\r\n");
    s.reply("354 go\r\n");
    assert_eq!(
        s.sent(),
        MASTER_MAIL,
        "To: still names every configured address"
    );
    s.finish_ok();
    assert_eq!(s.smtp.stats().rcpt_refused, 1);
    assert_eq!(s.smtp.stats().sent, 1);

    // All refused: a named error, QUIT.
    let mut s = Script::default_two();
    s.connect("VI_1", NotifyState::Master);
    play_until(&mut s, 3);
    s.step("550 no\r\n", "RCPT TO:<noc@example.org>\r\n");
    s.reply("452 too many\r\n");
    s.assert_failed(SmtpError::NoRecipient(452));
    assert_eq!(s.sent(), "QUIT\r\n");
    assert_eq!(s.smtp.stats().rcpt_refused, 2);
}

#[test]
fn connect_timeout_and_reply_timeouts() {
    // Connect timeout: exactly smtp_connect_timeout after want_connect.
    let mut s = Script::default_two();
    assert!(
        s.smtp
            .queue_alert(WALL, AlertSource::Instance, "VI_1", NotifyState::Master)
    );
    assert_eq!(s.smtp.want_connect(s.now), Some(SERVER));
    assert_eq!(s.smtp.next_deadline(), Some(T0 + Duration::from_secs(10)));
    s.advance(Duration::from_micros(9_999_999));
    assert!(s.smtp.wants_socket(), "not yet");
    s.advance(Duration::from_micros(1));
    s.assert_failed(SmtpError::ConnectTimeout);
    assert!(!s.smtp.wants_socket());
    assert_eq!(s.sent(), "", "no QUIT without a connection");

    // A reply timeout at every step; the timer restarts with each command.
    for (fail_at, &(_, step, _)) in DIALOGUE.iter().enumerate() {
        let mut s = Script::default_two();
        s.connect("VI_1", NotifyState::Master);
        for (reply, _, _) in &DIALOGUE[..fail_at] {
            s.advance(Duration::from_secs(9));
            s.reply(reply);
            s.sent();
        }
        assert_eq!(s.smtp.poll_timeout(s.now), Some(Duration::from_secs(10)));
        s.advance(Duration::from_secs(9));
        assert!(s.smtp.last_error().is_none());
        // Bytes that do not complete a reply do not extend the deadline.
        s.reply("25");
        s.advance(Duration::from_secs(1));
        s.assert_failed(SmtpError::ReplyTimeout(step));
        assert!(!s.smtp.wants_socket(), "timeout closes at once");
    }
}

#[test]
fn quit_problems_after_success_are_not_failures() {
    for how in 0..3 {
        let mut s = Script::default_two();
        s.connect("VI_1", NotifyState::Master);
        play_until(&mut s, DIALOGUE.len());
        assert_eq!(s.smtp.stats().sent, 1);
        match how {
            0 => s.advance(Duration::from_secs(10)),
            1 => s.smtp.handle_error(s.now, IoFailure::Closed),
            _ => s.reply("garbage\r\n"),
        }
        assert!(!s.smtp.wants_socket());
        assert_eq!(s.smtp.stats().failed, 0);
        assert_eq!(s.smtp.last_error(), None);
    }
}

#[test]
fn io_failures_are_named() {
    let refused = 111; // ECONNREFUSED on x86/arm (the value is opaque here)
    let mut s = Script::default_two();
    assert!(
        s.smtp
            .queue_alert(WALL, AlertSource::Instance, "VI_1", NotifyState::Master)
    );
    assert!(s.smtp.want_connect(s.now).is_some());
    s.smtp.handle_error(s.now, IoFailure::Connect(refused));
    s.assert_failed(SmtpError::ConnectFailed(refused));
    assert!(!s.smtp.wants_socket());

    let mut s = Script::default_two();
    s.connect("VI_1", NotifyState::Master);
    play_until(&mut s, 2);
    s.smtp.handle_error(s.now, IoFailure::Closed);
    s.assert_failed(SmtpError::Closed(Step::MailFrom));
    assert!(!s.smtp.wants_socket());

    let mut s = Script::default_two();
    s.connect("VI_1", NotifyState::Master);
    play_until(&mut s, 6);
    s.smtp.handle_error(s.now, IoFailure::Write(32));
    s.assert_failed(SmtpError::Io(Step::Message, 32));
    assert!(!s.smtp.wants_socket());
    assert!(
        s.smtp.poll_tx().is_empty(),
        "nothing left to send after a failure"
    );
    // Errors while idle are ignored.
    s.smtp.handle_error(s.now, IoFailure::Read(5));
    assert_eq!(s.smtp.stats().failed, 1);
}

#[test]
fn malformed_reply_closes_at_once() {
    let mut s = Script::default_two();
    s.connect("VI_1", NotifyState::Master);
    s.reply("HTTP/1.1 400 Bad Request\r\n");
    s.assert_failed(SmtpError::MalformedReply(Step::Greeting));
    assert!(!s.smtp.wants_socket());
    assert_eq!(s.sent(), "");
    // Further bytes are ignored.
    s.reply("220 late\r\n");
    assert_eq!(s.sent(), "");
}

#[test]
fn bytes_before_connected_are_ignored() {
    let mut s = Script::default_two();
    assert!(
        s.smtp
            .queue_alert(WALL, AlertSource::Instance, "VI_1", NotifyState::Master)
    );
    assert!(s.smtp.want_connect(s.now).is_some());
    s.reply("220 early\r\n");
    assert_eq!(s.sent(), "");
    s.smtp.handle_connected(s.now);
    s.step("220 hi\r\n", "EHLO r1.example.org\r\n");
}

#[test]
fn queue_overflow_is_counted_and_sessions_run_in_order() {
    let mut s = Script::default_two();
    for i in 0..ALERT_QUEUE_LEN {
        assert!(s.smtp.queue_alert(
            WALL,
            AlertSource::Instance,
            &format!("VI_{i}"),
            NotifyState::Master
        ));
    }
    assert!(
        !s.smtp
            .queue_alert(WALL, AlertSource::Instance, "VI_X", NotifyState::Backup)
    );
    assert_eq!(s.smtp.stats().dropped_queue_full, 1);
    assert_eq!(s.smtp.stats().queued as usize, ALERT_QUEUE_LEN);
    for i in 0..ALERT_QUEUE_LEN {
        s.open();
        if i == 0 {
            // While a session runs, a slot is free again.
            assert!(
                s.smtp
                    .queue_alert(WALL, AlertSource::Instance, "VI_late", NotifyState::Fault)
            );
        }
        let msg = s.run_to_message();
        assert!(
            msg.contains(&format!("VRRP Instance VI_{i} - Entering MASTER")),
            "{msg}"
        );
        s.finish_ok();
    }
    s.open();
    assert!(
        s.run_to_message()
            .contains("VI_late - Entering FAULT state")
    );
    s.finish_ok();
    assert!(s.smtp.is_idle());
    assert_eq!(s.smtp.stats().sent as usize, ALERT_QUEUE_LEN + 1);
}

#[test]
fn disabled_without_server_or_recipients() {
    let mut g = globals(&["ops@example.org"]);
    g.smtp_server = None;
    let mut s = Script::new(&g);
    assert!(!s.smtp.enabled());
    assert!(
        !s.smtp
            .queue_alert(WALL, AlertSource::Instance, "VI_1", NotifyState::Master)
    );
    assert_eq!(s.smtp.want_connect(s.now), None);
    assert_eq!(s.smtp.stats().dropped_disabled, 1);

    // Unusable recipients are skipped; none left -> disabled.
    let g = globals(&["not-an-address", "a b@c"]);
    let s = Script::new(&g);
    assert!(!s.smtp.enabled());
}

#[test]
fn defaults_header_injection_and_folding() {
    // No router_id, no sender: keepalived's defaults from the host name.
    let mut g = globals(&[
        "first.recipient.with.a.long.name@example.org",
        "second.recipient.with.a.long.name@example.org",
        "third@example.org",
    ]);
    g.router_id = None;
    g.notification_email_from = None;
    g.smtp_server = Some((
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x25)),
        25,
    ));
    let mut s = Script::new(&g);
    assert!(s.smtp.queue_alert(
        WALL,
        AlertSource::Instance,
        "VI_1\r\n.\r\nRCPT TO:<evil@example.org>",
        NotifyState::Master
    ));
    assert_eq!(
        s.smtp.want_connect(s.now),
        Some("[2001:db8::25]:25".parse().unwrap())
    );
    s.smtp.handle_connected(s.now);
    s.step("220 hi\r\n", "EHLO r1.example.org\r\n");
    s.step("250 hi\r\n", "MAIL FROM:<root@r1.example.org>\r\n");
    s.step(
        "250 ok\r\n",
        "RCPT TO:<first.recipient.with.a.long.name@example.org>\r\n",
    );
    s.step(
        "250 ok\r\n",
        "RCPT TO:<second.recipient.with.a.long.name@example.org>\r\n",
    );
    s.step("250 ok\r\n", "RCPT TO:<third@example.org>\r\n");
    s.step("250 ok\r\n", "DATA\r\n");
    s.reply("354 go\r\n");
    let msg = s.sent();
    // Control characters become '?', the name is cut at MAX_NAME_LEN (32).
    assert!(
        msg.contains(
            "\r\nSubject: [r1.example.org] VRRP Instance VI_1??.??RCPT TO:<evil@example.o - Entering MASTER state\r\n"
        ),
        "{msg}"
    );
    assert!(msg.contains("\r\nFrom: root@r1.example.org\r\n"));
    assert!(
        msg.contains(
            "\r\nTo: first.recipient.with.a.long.name@example.org,\r\n second.recipient.with.a.long.name@example.org, third@example.org\r\n\r\n"
        ),
        "{msg}"
    );
    for line in msg.split("\r\n") {
        // RFC 5322 hard limit (the To: folding at 78 is checked above).
        assert!(line.len() <= 998, "line too long: {line:?}");
        assert!(
            !line.starts_with('.') || line == ".",
            "unstuffed dot line: {line:?}"
        );
    }
    assert_eq!(
        msg.matches("\r\n.\r\n").count(),
        1,
        "exactly one end of data"
    );
    s.finish_ok();
}

#[test]
fn instance_and_group_flags() {
    let g = globals(&["ops@example.org"]);
    let mut s = Script::new(&g);
    let mut inst = InstanceConfig::new("VI_9".try_into().unwrap(), Span::default(), &g);
    inst.smtp_alert = false;
    assert!(!s.smtp.alert_instance(WALL, &inst, NotifyState::Master));
    inst.smtp_alert = true;
    assert!(s.smtp.alert_instance(WALL, &inst, NotifyState::Master));
    let group = SyncGroup {
        name: "G1".try_into().unwrap(),
        span: Span::default(),
        members: Default::default(),
        notify: Default::default(),
        smtp_alert: true,
        track_interface: Default::default(),
        track_script: Default::default(),
        track_process: Default::default(),
        track_file: Default::default(),
        sync_group_tracking_weight: false,
    };
    assert!(s.smtp.alert_group(WALL, &group, NotifyState::Backup));
    assert_eq!(s.smtp.queued(), 2);
}
