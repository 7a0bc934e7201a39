#!/usr/bin/env python3
"""tests/lab/flood.py DST SECONDS RATE: a bounded flood of malformed and spoofed VRRP packets.
   tests/lab/flood.py --write FILE DST: the same packets into FILE for flood_send.c, the sender
   in C that reaches 100,000 packets/s where this one does not (t_flood.sh uses it).

Sends RATE packets per second for SECONDS seconds (both bounded: RATE <= 500000, SECONDS <= 120)
from a raw IPv4 socket (IP_HDRINCL) to DST, cycling through these kinds, each aimed at one named
drop counter of a VRRPv2 instance VRID 51 (auth_type PASS, auth_pass secret12, VIP 192.0.2.100)
and an instance VRID 52 (auth_type AH, auth_pass secret12, VIP 192.0.2.101):

  ttl        valid PASS advert, priority 254, TTL 64            -> ip_ttl_err
  checksum   VRRP checksum wrong                                -> chk_err
  auth       wrong auth_pass                                    -> auth_failure
  vrid       VRID 77 (no such instance)                         -> vrid_err (no instance)
  truncated  VRRP message cut after 6 octets                    -> packet_len_err
  authtype   auth type 7                                        -> invalid_authtype
  ah_icv     AH advert for VRID 52 signed with the wrong key    -> ah_icv_err
  ah_replay  AH advert for VRID 52, right key, sequence 1       -> ah_replay

Every packet has a spoofed source address (a different one from 198.51.100.0/24 and 203.0.113.0/24
each time, or the peer router's 192.0.2.2). None of them is a valid advert: none may change a
router's state. Prints what it sent per kind and the rate it reached.
"""
import hmac
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, ttl, payload, ident=1):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), ident, 0, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack(">H", csum(h)) + h[12:]
    return h + payload


def vrrp2(vrid, prio, vips, auth_type, auth, bad_sum=False):
    body = struct.pack(">BBBBBBH", 0x21, vrid, prio, len(vips), auth_type, 1, 0)
    body += b"".join(socket.inet_aton(v) for v in vips) + auth.ljust(8, b"\0")[:8]
    c = csum(body)
    if bad_sum:
        c ^= 0x5A5A
    return body[:6] + struct.pack(">H", c) + body[8:]


def ah_datagram(src, dst, seq, key, ident):
    msg = vrrp2(52, 254, ["192.0.2.101"], 2, b"")
    ah = struct.pack(">BBH4sI", 112, 4, 0, socket.inet_aton(src), seq) + bytes(12)
    dg = bytearray(ipv4(src, dst, 51, 255, ah + msg, ident))
    hashed = bytearray(dg[:20])
    hashed[1] = 0
    hashed[6:8] = b"\0\0"
    hashed[10:12] = b"\0\0"
    icv = hmac.new(key.ljust(8, b"\0")[:8], bytes(hashed) + bytes(dg[20:]), "md5").digest()[:12]
    dg[32:44] = icv
    return bytes(dg)


def spoofed(i):
    net = "198.51.100." if i % 2 else "203.0.113."
    return net + str(1 + (i // 2) % 254)


def build(dst):
    vip = ["192.0.2.100"]
    kinds = {
        "ttl": lambda s: ipv4(s, dst, 112, 64, vrrp2(51, 254, vip, 1, b"secret12")),
        "checksum": lambda s: ipv4(s, dst, 112, 255, vrrp2(51, 254, vip, 1, b"secret12", True)),
        "auth": lambda s: ipv4(s, dst, 112, 255, vrrp2(51, 254, vip, 1, b"wrongpw!")),
        "vrid": lambda s: ipv4(s, dst, 112, 255, vrrp2(77, 254, vip, 1, b"secret12")),
        "truncated": lambda s: ipv4(s, dst, 112, 255, vrrp2(51, 254, vip, 1, b"secret12")[:6]),
        "authtype": lambda s: ipv4(s, dst, 112, 255, vrrp2(51, 254, vip, 7, b"secret12")),
        "ah_icv": lambda s: ah_datagram(s, dst, 1000000, b"wrongkey", 7),
        "ah_replay": lambda s: ah_datagram(s, dst, 1, b"secret12", 8),
    }
    out = []
    for i in range(64):
        for name, make in kinds.items():
            src = "192.0.2.2" if i == 0 else spoofed(i * len(kinds) + len(out))
            out.append((name, make(src)))
    return out


def write(path, dst):
    """`flood.py --write FILE DST`: the packet set for flood_send.c (the sender in C): one byte
    with the number of kinds, each kind's name (length byte + bytes), then one record per packet:
    2-byte big-endian length, 1-byte kind index, the IPv4 datagram."""
    pkts = build(dst)
    names = list(dict.fromkeys(name for name, _ in pkts))
    with open(path, "wb") as f:
        f.write(bytes([len(names)]))
        for n in names:
            f.write(bytes([len(n)]) + n.encode())
        for name, p in pkts:
            f.write(struct.pack(">HB", len(p), names.index(name)) + p)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--write":
        write(sys.argv[2], sys.argv[3])
        return
    dst, seconds, rate = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    if not (0 < seconds <= 120 and 0 < rate <= 500000):
        sys.exit("flood.py: SECONDS must be in (0, 120] and RATE in (0, 500000]")
    pkts = build(dst)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    addr = (dst, 0)
    sent = {name: 0 for name, _ in pkts[:8]}
    errors = 0
    batch = 200
    n = 0
    t0 = time.monotonic()
    end = t0 + seconds
    k = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        # pace: never ahead of RATE
        due = int((now - t0) * rate)
        if n >= due:
            time.sleep(min(0.001, end - now))
            continue
        for _ in range(min(batch, due - n)):
            name, p = pkts[k]
            k = (k + 1) % len(pkts)
            try:
                s.sendto(p, addr)
                sent[name] += 1
            except (BlockingIOError, OSError):
                errors += 1
            n += 1
    took = time.monotonic() - t0
    total = sum(sent.values())
    print(f"flood: {total} packets in {took:.2f} s = {total / took:.0f} pps to {dst} "
          f"(target {rate} pps), {errors} send errors")
    print("flood: " + ", ".join(f"{k} {v}" for k, v in sent.items()))


main()
