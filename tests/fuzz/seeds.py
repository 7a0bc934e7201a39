#!/usr/bin/env python3
"""Regenerates the checked-in seed corpus of the fuzz targets.

    python3 tests/fuzz/seeds.py [GOLDEN_DIR]

GOLDEN_DIR defaults to ../shared/golden relative to the repository (the
keepalived 2.2.7 captures). Writes, under tests/fuzz/corpus/<target>/:
* vrrp_parse: from every VRRP frame of every pcap, the bare VRRP message and
  the full IP packet (IPv4 datagram or IPv6 packet), deduplicated; from the
  AH captures of tests/ah_golden/ (keepalived 2.2.7, `auth_type AH`), every
  IPv4 + AH + VRRP datagram and its VRRP message;
* core: short input programs that deliver those golden adverts (raw packet
  op) around time steps, programs that deliver the AH captures (raw AH op)
  in order, replayed, and around deadlines, plus a few fixed programs (AH:
  the counter's cycle and wrap rules, wrong ICV / key / mode / SPI,
  replays);
* config_parse: the config/ examples and the golden r1/r2 configs, plus
  hand-written shapes of vrrp_sync_group, trackers and include (valid and
  broken);
* netlink_parse: the kernel messages of src/wire/netlink/tests.rs (hex
  constants, little-endian as captured on x86_64), plus RTM_DELLINK,
  NLMSG_DONE and multi-message dump replies made from them; the script
  checks that RTM_NEWLINK/DELLINK/NEWADDR/DELADDR and NLMSG_ERROR/DONE are
  all among the seeds.
Files are named by the SHA-1 of their content (libFuzzer's convention), so
rerunning the script is idempotent.
"""

import hashlib
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def save(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"{path}: linktype {linktype}, expected Ethernet")
    pos = 24
    while pos + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[pos : pos + 16])
        pos += 16
        yield data[pos : pos + incl]
        pos += incl


def vrrp_of(frame, ah=False):
    """(ip_packet, vrrp_message) of an Ethernet frame carrying VRRP, else
    None; with `ah`, of one carrying IPv4 + AH (protocol 51) + VRRP."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack(">H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ah:
            if ip[9] != 51:
                return None
            return ip[:total], ip[ihl + 24 : total]
        if ip[9] != 112:
            return None
        return ip[:total], ip[ihl:total]
    if ah:
        return None
    if ethertype == 0x86DD and len(ip) >= 40:
        plen = struct.unpack(">H", ip[4:6])[0]
        if ip[6] != 112:
            return None
        return ip[: 40 + plen], ip[40 : 40 + plen]
    return None


def core_program(msg, v6):
    """A core-target input: wait, deliver the golden message raw (VRID
    rewritten to one of the target's instances, checksum fixed up by the
    target), fire the next deadline, deliver again (op codes: see
    fuzz_targets/core.rs)."""
    msg = bytearray(msg)
    version = msg[0] >> 4
    msg[1] = 3 if v6 else (1 if version == 2 else 2)
    # raw packet op (5): sel = iface | v6 << 2 | peer << 3 | fix-up 0x40
    iface = 1 if v6 else 0
    sel = iface | (4 if v6 else 0) | (2 << 3) | 0x40
    out = bytearray()
    out += bytes([0, 200])  # time step 200 ms
    out += bytes([5, sel, len(msg)]) + msg
    out += bytes([4])  # jump to the next deadline
    out += bytes([5, sel, len(msg)]) + msg
    out += bytes([3, 5])  # 5 s
    return bytes(out)


def ah_program(datagrams, iface, replay):
    """A core-target input delivering AH datagrams as captured (raw AH op
    12, no fix-up: the core's AH instances have the captures' key, VRID,
    VIP and addresses; `iface` 0 = eth0, the multicast instance, 1 = eth1,
    the unicast one), 200 ms apart and around deadlines; with `replay`, the
    replay op (15) after each one (dropped: not above the counter)."""
    out = bytearray()
    for i, d in enumerate(datagrams):
        out += bytes([0, 200])
        out += bytes([12, iface, len(d)]) + d
        if replay:
            out += bytes([15, i % 8])
        if i % 3 == 2:
            out += bytes([4])
    out += bytes([3, 5, 4, 4])
    return bytes(out)


def synth_ah(inst, prio, flags=0, src=0, extra=0, seq_sel=0, seq=None):
    """Core op 13: an AH instance's advert (inst 0 = AH, 1 = AHU) signed and
    delivered (see synth_ah in fuzz_targets/core.rs); `seq` with seq_sel 7."""
    op = [13, inst, prio, flags, src, extra, seq_sel]
    if seq is not None:
        assert seq_sel & 7 == 7
        op += list(struct.pack("<I", seq))
    return op


# Hand-written core programs: (op, args...) per line.
CORE_PROGRAMS = [
    # Every instance hears a better master (synth op 6: inst, prio, flags, src, extra).
    [4] + sum(([6, i, 250, 0, 2, 0, 4] for i in range(5)), []) + [3, 10, 4, 4],
    # Link flaps on eth0/eth2, tracker weights, then shutdown and restart.
    [8, 0x00, 0, 50, 8, 0x80, 4, 8, 0x02, 4, 9, 0, 0x07, 0x00, 0x80, 4, 9, 2, 0x80, 0, 0, 4,
     10, 0, 0, 100, 10, 1, 4, 4],
    # Lower-priority adverts, priority 0 from the master, preempt_delay window.
    [4, 4, 6, 2, 50, 0, 2, 4, 6, 2, 0, 0, 2, 4, 6, 2, 200, 0, 2, 1, 1, 6, 2, 200, 0, 2, 4, 4],
    # Wrong TTL, wrong auth, wrong interval, wrong address list, wrong interface.
    [4, 6, 0, 200, 64, 2, 1, 6, 0, 200, 16, 2, 3, 6, 0, 200, 2, 2, 2, 6, 0, 200, 4, 2, 0,
     6, 0, 200, 8, 2, 1, 6, 0, 200, 0, 6, 0, 4],
    # AH cycle: a Backup accepts seq 0xFFFFFFFE, becomes Master (counter
    # kept, the next advert marks it cycled), faults (eth0 down), comes
    # back and becomes Master again: the counter restarts at 0.
    synth_ah(0, 200, seq_sel=7, seq=0xFFFF_FFFE) + [3, 5, 4, 4, 8, 0x00, 0, 100, 8, 0x80, 3, 5, 4, 4],
    # AH wrap: the Master, having sent a few adverts, hears a lower
    # priority with seq 0xFFFFFFFF and resyncs past it (counter 0, then its
    # advert carries 1: the counter moved back); replays, and a fresh one.
    [3, 5, 3, 3, 4] + synth_ah(0, 50, seq_sel=4) + [15, 0, 15, 1] + synth_ah(0, 50) + [4, 4],
    # AH refusals around an accepted advert: replay, wrong key, wrong ICV
    # mode, SPI != source under a valid ICV, a flipped octet (TOS: still
    # valid), a replay with a new IP identification, a stale seq.
    synth_ah(0, 200) + [15, 0] + synth_ah(0, 200, flags=16, extra=3)
    + synth_ah(0, 200, flags=32) + synth_ah(0, 200, flags=128, seq_sel=16 | 32, extra=4)
    + synth_ah(0, 200, flags=128, seq_sel=8 | 32, extra=1) + [15, 0x80]
    + synth_ah(0, 200, seq_sel=3, extra=5) + [4, 4],
    # The unicast AH instance: its peer, then a non-peer, TTL 64 (unicast
    # does not check it), a wrong VRID, then takeover and its own adverts.
    synth_ah(1, 200) + synth_ah(1, 200, src=2) + synth_ah(1, 200, flags=64, extra=64, seq_sel=1)
    + synth_ah(1, 200, flags=1, extra=52) + [3, 5, 4, 15, 2, 4],
]


# config_parse: vrrp_sync_group, tracker and include shapes, valid and
# broken (the target's MemorySource also holds conf.d/extra.conf with
# instance INC_1 and conf.d/sub/nested.conf with vrrp_script chk and an
# include of the main file).
CONFIG_SHAPES = [
    # A sync group with every option, its own trackers, members with theirs.
    b"""global_defs {
    router_id fz
    enable_script_security
    script_user root
}
vrrp_script chk_a {
    script "/bin/true"
    interval 2
    timeout 1
    rise 2
    fall 3
    weight -20 reverse
    user nobody
    init_fail
}
vrrp_track_process tp {
    process dnsmasq --keep-in-foreground
    param_match partial
    quorum 1
    quorum_max 2
    delay 2
    terminate_delay 1
    fork_delay 1
    weight 10 reverse
}
vrrp_track_file tf {
    file /run/fz/weight
    weight -5 reverse
    init_file 3 overwrite
}
vrrp_sync_group G1 {
    group {
        A
        B
        INC_1
    }
    track_interface {
        eth9 weight -10
        eth8
    }
    track_script {
        chk_a weight -30
    }
    track_process {
        tp
    }
    track_file {
        tf weight 2
    }
    sync_group_tracking_weight
    notify_master "/bin/echo master"
    notify_backup "/bin/echo backup"
    notify_fault "/bin/echo fault"
    notify_stop "/bin/echo stop"
    notify "/bin/echo any"
    smtp_alert
}
vrrp_instance A {
    interface eth0
    virtual_router_id 10
    priority 100
    virtual_ipaddress {
        192.0.2.10/24
    }
    track_script {
        chk_a
        chk
    }
    track_interface {
        eth1 weight -40
        eth2 weight 5 reverse
    }
    track_process {
        tp weight -3
    }
    track_file {
        tf
    }
}
vrrp_instance B {
    interface eth1
    virtual_router_id 11
    priority 90
    virtual_ipaddress {
        198.51.100.11/24
    }
}
include conf.d/extra.conf
include conf.d/sub/nested.conf
""",
    # Sync group errors: unknown member, a member in two groups, a
    # one-member group, an empty one, a duplicate name, an unknown tracker.
    b"""vrrp_sync_group G1 {
    group {
        A
        NOPE
    }
}
vrrp_sync_group G2 {
    group {
        A
    }
}
vrrp_sync_group G2 {
    group {
    }
    track_script {
        missing
    }
}
vrrp_instance A {
    interface eth0
    virtual_router_id 10
    priority 100
    virtual_ipaddress {
        192.0.2.10/24
    }
    track_script {
        nothere weight 300
    }
    track_process {
        alsonothere
    }
}
""",
    # Sync group defined before its members, one of them in an include; a
    # member given twice; sync group weights ignored without the option.
    b"""vrrp_sync_group EDGE {
    group {
        INC_1
        LAN
        LAN
    }
}
vrrp_instance LAN {
    interface eth0
    virtual_router_id 20
    priority 150
    track_interface {
        eth3 weight -50
    }
    virtual_ipaddress {
        192.0.2.20/24
    }
}
include conf.d/*.conf
""",
    # Tracker errors: bad weights, intervals, missing script, bad options.
    b"""vrrp_script s1 {
    interval 0
    weight 254
    rise 0
    fall -1
}
vrrp_script s2 {
    script
    timeout abc
    weight -254 reverse extra
}
vrrp_track_process p1 {
    quorum 0
    quorum_max 0
    param_match nope
}
vrrp_track_file f1 {
    weight 100000
    init_file -1 overwrite extra
}
vrrp_instance A {
    interface eth0
    virtual_router_id 10
    priority 100
    virtual_ipaddress {
        192.0.2.10/24
    }
    track_script {
        s1
        s2 weight
    }
    track_file {
        f1 weight 1 reverse
    }
    track_interface {
        eth0 weight
        eth0 weight 1000
        eth_with_a_name_far_too_long0
    }
}
""",
    # include shapes: glob, nested, a loop back to the main file, a
    # missing file, a glob matching nothing, no argument, quoted, inside
    # a block, and twice the same file (duplicate VRID).
    b"""include conf.d/sub/*.conf
include "conf.d/extra.conf"
include /etc/keepalived/conf.d/extra.conf
include missing.conf
include nomatch/*.conf
include
vrrp_instance A {
    include conf.d/extra.conf
    interface eth0
    virtual_router_id 10
    priority 100
    virtual_ipaddress {
        192.0.2.10/24
    }
}
include /etc/keepalived/keepalived.conf
""",
    # An unterminated block before an include, and an include at the end
    # of a file without a newline.
    b"""vrrp_instance A {
    interface eth0
    virtual_router_id 10
include conf.d/extra.conf
vrrp_sync_group G {
    group {
        A
        INC_1
    }
include conf.d/sub/nested.conf""",
]


def main():
    golden = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "..", "shared", "golden")
    golden = os.path.normpath(golden)
    if not os.path.isdir(golden):
        golden = "/work/shared/golden"
    seen = set()
    count = {"vrrp_parse": 0, "core": 0, "config_parse": 0, "netlink_parse": 0}
    for name in sorted(os.listdir(golden)):
        path = os.path.join(golden, name)
        if name.endswith(".pcap"):
            for frame in pcap_frames(path):
                got = vrrp_of(frame)
                if got is None:
                    continue
                ip, msg = got
                v6 = (ip[0] >> 4) == 6
                for blob in (ip, msg):
                    if blob not in seen:
                        seen.add(blob)
                        save("vrrp_parse", blob)
                        count["vrrp_parse"] += 1
                # Bare message for the core (it sees what a raw socket
                # returns after the IP layer: src/dst come from the op).
                prog = core_program(msg, v6)
                if prog not in seen:
                    seen.add(prog)
                    save("core", prog)
                    count["core"] += 1
        elif name.endswith(".conf"):
            with open(path, "rb") as f:
                save("config_parse", f.read())
            count["config_parse"] += 1

    # The AH captures (tests/ah_golden/, keepalived 2.2.7).
    ah_dir = os.path.join(ROOT, "tests", "ah_golden")
    for name in sorted(os.listdir(ah_dir)):
        if not name.endswith(".pcap"):
            continue
        datagrams = []
        for frame in pcap_frames(os.path.join(ah_dir, name)):
            got = vrrp_of(frame, ah=True)
            if got is None:
                continue
            ip, msg = got
            datagrams.append(ip)
            for blob in (ip, msg):
                if blob not in seen:
                    seen.add(blob)
                    save("vrrp_parse", blob)
                    count["vrrp_parse"] += 1
        iface = 1 if "ucast" in name else 0
        for replay in (False, True):
            save("core", ah_program(datagrams, iface, replay))
            count["core"] += 1
        assert datagrams, f"{name}: no AH datagram"

    for prog in CORE_PROGRAMS:
        save("core", bytes(prog))
        count["core"] += 1

    cfgdir = os.path.join(ROOT, "config")
    for dirpath, _, files in os.walk(cfgdir):
        for name in sorted(files):
            with open(os.path.join(dirpath, name), "rb") as f:
                save("config_parse", f.read())
            count["config_parse"] += 1
    # Include forms that reach the target's fixed include files.
    for extra in (
        b"include conf.d/extra.conf\n",
        b"include conf.d/*.conf\nvrrp_instance A {\n interface eth0\n virtual_router_id 9\n"
        b" virtual_ipaddress {\n 192.0.2.9\n }\n}\n",
        b"include conf.d/sub/nested.conf\n",
    ):
        save("config_parse", extra)
        count["config_parse"] += 1
    for shape in CONFIG_SHAPES:
        save("config_parse", shape)
        count["config_parse"] += 1

    with open(os.path.join(ROOT, "src", "wire", "netlink", "tests.rs")) as f:
        src = f.read()
    # const NAME: &str = "hex"; or concat!("..", "..")
    for m in re.finditer(r'const [A-Z0-9_]+: &str = (concat!\((.*?)\)|"([0-9a-f]+)");', src, re.S):
        hexstr = "".join(re.findall(r'"([0-9a-f]*)"', m.group(2))) if m.group(2) else m.group(3)
        data = bytes.fromhex(hexstr)
        save("netlink_parse", data)
        count["netlink_parse"] += 1
    consts = {}
    for m in re.finditer(r'const ([A-Z0-9_]+): &str = (concat!\((.*?)\)|"([0-9a-f]+)");', src, re.S):
        hexstr = "".join(re.findall(r'"([0-9a-f]*)"', m.group(3))) if m.group(3) else m.group(4)
        consts[m.group(1)] = bytes.fromhex(hexstr)
    link, add4, add6, del4 = consts["LINK_V0_DOWN_PEER"], consts["ADD4"], consts["ADD6"], consts["DEL4"]
    ack, err = consts["ACK"], consts["ERR_EEXIST"]

    def retype(msg, t, seq=None):
        """The message with another type (and sequence number)."""
        b = bytearray(msg)
        b[4:6] = struct.pack("<H", t)
        if seq is not None:
            b[8:12] = struct.pack("<I", seq)
        return bytes(b)

    def done(seq, errno=0):
        """NLMSG_DONE ending a dump: header + the dump's errno (negative)."""
        return struct.pack("<IHHII", 20, 3, 2, seq, 0) + struct.pack("<i", -errno)

    extra_nl = [
        ack + add4,  # an ACK then the RTM_NEWADDR notification
        retype(link, 17),  # RTM_DELLINK (the interface went away)
        retype(add6, 21),  # RTM_DELADDR of an IPv6 address
        done(7),
        done(7, 105),  # a dump that ended with ENOBUFS
        # Dump replies: links then DONE, addresses then DONE, an error.
        retype(link, 16, 7) + retype(link, 16, 7) + done(7),
        retype(add4, 20, 8) + retype(add6, 20, 8) + retype(del4, 20, 8) + done(8),
        err + retype(link, 17) + ack,
    ]
    for data in extra_nl:
        save("netlink_parse", data)
        count["netlink_parse"] += 1
    # Every message kind the daemon handles is among the seeds.
    kinds = set()
    for data in list(consts.values()) + extra_nl:
        pos = 0
        while pos + 16 <= len(data):
            length, kind = struct.unpack("<IH", data[pos : pos + 6])
            kinds.add(kind)
            if length < 16:
                break
            pos += (length + 3) & ~3
    want = {2: "NLMSG_ERROR", 3: "NLMSG_DONE", 16: "RTM_NEWLINK", 17: "RTM_DELLINK",
            20: "RTM_NEWADDR", 21: "RTM_DELADDR"}
    missing = [n for k, n in want.items() if k not in kinds]
    assert not missing, f"netlink_parse seeds lack {missing}"

    for k, v in sorted(count.items()):
        print(f"{k}: {v} seeds")


if __name__ == "__main__":
    main()
