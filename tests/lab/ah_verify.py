#!/usr/bin/env python3
"""tests/lab/ah_verify.py PCAP KEY [--from EPOCH] [--until EPOCH] [--src ADDR]: checks every IPv4 AH (protocol 51) frame of an Ethernet pcap
the way keepalived verifies VRRPv2 auth_type AH, independently of keepvip's code (Python's hmac):
HMAC-MD5-96 keyed with the 8-byte zero-padded KEY over the IPv4 header with TOS, flags/fragment
offset and checksum zeroed (and TTL zeroed for a unicast destination), the AH header with its ICV
zeroed, and the VRRP message; SPI == source address; next header 112; payload length 4; the
VRRP auth type 2. Also: each sender's sequence numbers strictly increase.
--from/--until/--src select frames by capture time and source address.
Prints one line per sender ("192.0.2.1 frames=N seq=A..B") and exits 1 on any failure."""
import hmac
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file (magic {magic:#x})")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        div = 1e9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
        yield sec + frac / div, data[off:off + incl]
        off += incl


def main():
    path, key = sys.argv[1], sys.argv[2].encode()[:8].ljust(8, b"\0")
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    t_from = float(opts.get("--from", "0"))
    t_until = float(opts.get("--until", "1e12"))
    only = opts.get("--src")
    bad = 0
    senders = {}
    for t, fr in frames(path):
        if not t_from <= t < t_until:
            continue
        if len(fr) < 14 + 20 or fr[12:14] != b"\x08\x00":
            continue
        ip = fr[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 51:
            continue
        total = struct.unpack(">H", ip[2:4])[0]
        ip = ip[:total]
        src = ".".join(str(b) for b in ip[12:16])
        if only is not None and src != only:
            continue
        dst_first = ip[16]
        unicast = not (224 <= dst_first <= 239)
        hdr = bytearray(ip[:ihl])
        hdr[1] = 0
        hdr[6:8] = b"\0\0"
        hdr[10:12] = b"\0\0"
        if unicast:
            hdr[8] = 0
        ah = bytearray(ip[ihl:ihl + 24])
        icv = bytes(ah[12:24])
        ah[12:24] = bytes(12)
        rest = ip[ihl + 24:]
        want = hmac.new(key, bytes(hdr) + bytes(ah) + rest, "md5").digest()[:12]
        seq = struct.unpack(">I", ah[8:12])[0]
        problems = []
        if not hmac.compare_digest(icv, want):
            problems.append("ICV does not verify")
        if ah[4:8] != ip[12:16]:
            problems.append("SPI is not the source address")
        if ah[0] != 112 or ah[1] != 4:
            problems.append(f"next header {ah[0]} / payload len {ah[1]}")
        if len(rest) < 8 or rest[4] != 2:
            problems.append("VRRP auth type is not 2")
        s = senders.setdefault(src, {"n": 0, "first": seq, "last": None})
        if s["last"] is not None and seq <= s["last"]:
            problems.append(f"sequence {seq} after {s['last']}")
        s["n"] += 1
        s["last"] = seq
        if problems:
            bad += 1
            print(f"BAD {src} seq {seq}: {'; '.join(problems)}")
    for src, s in sorted(senders.items()):
        print(f"{src} frames={s['n']} seq={s['first']}..{s['last']} icv=ok")
    if not senders:
        print("no AH frames")
        sys.exit(1)
    sys.exit(1 if bad else 0)


main()
