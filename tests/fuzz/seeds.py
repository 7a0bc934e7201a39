#!/usr/bin/env python3
"""Regenerates the checked-in seed corpus of the fuzz targets.

    python3 tests/fuzz/seeds.py [GOLDEN_DIR]

GOLDEN_DIR defaults to ../shared/golden relative to the repository (the
keepalived 2.2.7 captures). Writes, under tests/fuzz/corpus/<target>/:
* vrrp_parse: from every VRRP frame of every pcap, the bare VRRP message and
  the full IP packet (IPv4 datagram or IPv6 packet), deduplicated;
* core: short input programs that deliver those golden adverts (raw packet
  op) around time steps, plus a few fixed programs;
* config_parse: the config/ examples and the golden r1/r2 configs;
* netlink_parse: the kernel messages of src/wire/netlink/tests.rs (hex
  constants, little-endian as captured on x86_64).
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


def vrrp_of(frame):
    """(ip_packet, vrrp_message) of an Ethernet frame carrying VRRP, else None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack(">H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 112:
            return None
        return ip[:total], ip[ihl:total]
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

    with open(os.path.join(ROOT, "src", "wire", "netlink", "tests.rs")) as f:
        src = f.read()
    # const NAME: &str = "hex"; or concat!("..", "..")
    for m in re.finditer(r'const [A-Z0-9_]+: &str = (concat!\((.*?)\)|"([0-9a-f]+)");', src, re.S):
        hexstr = "".join(re.findall(r'"([0-9a-f]*)"', m.group(2))) if m.group(2) else m.group(3)
        data = bytes.fromhex(hexstr)
        save("netlink_parse", data)
        count["netlink_parse"] += 1
    # A two-message datagram (ACK then the RTM_NEWADDR notification).
    consts = dict(re.findall(r'const ([A-Z0-9_]+): &str = "([0-9a-f]+)";', src))
    if "ACK" in consts and "ADD4" in consts:
        save("netlink_parse", bytes.fromhex(consts["ACK"] + consts["ADD4"]))
        count["netlink_parse"] += 1

    for k, v in sorted(count.items()):
        print(f"{k}: {v} seeds")


if __name__ == "__main__":
    main()
