#!/usr/bin/env python3
"""Capture the kernel netlink bytes embedded in src/wire/netlink/tests.rs.

Not part of the test run (python is not a project dependency); kept so the
golden bytes can be re-captured. Run as root:

  ip netns add kvs-cap
  ip -n kvs-cap link add kvs-v0 type veth peer name kvs-v1
  ip -n kvs-cap link set kvs-v0 address 02:00:5e:00:01:01
  ip -n kvs-cap link set kvs-v0 up; ip -n kvs-cap link set kvs-v1 up
  ip netns exec kvs-cap python3 tests/netns/capture_netlink_golden.py
  ip netns del kvs-cap

Each output line is: TAG LENGTH HEX (one datagram, host byte order).
The iproute2 request bytes come from:
  ip netns exec kvs-cap strace -e trace=sendmsg -e write=3 ip addr add ...
"""
import socket
import struct
import subprocess

NETLINK_CAP_ACK = 10
SOL_NETLINK = 270

mon = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
mon.bind((0, 0x1 | 0x10 | 0x100))  # RTMGRP_LINK | IPV4_IFADDR | IPV6_IFADDR
mon.settimeout(0.5)


def drain(tag):
    while True:
        try:
            d = mon.recv(65536)
        except socket.timeout:
            return
        print(tag, len(d), d.hex())


def run(cmd, tag):
    subprocess.run(cmd, shell=True, check=True)
    drain(tag)


run("ip addr add 192.0.2.100/24 brd 192.0.2.255 dev kvs-v0 label kvs-v0:vip", "ADD4")
run("ip addr add 2001:db8::100/64 dev kvs-v0 nodad", "ADD6")
run("ip addr del 192.0.2.100/24 dev kvs-v0", "DEL4")
run("ip link set dev kvs-v1 down", "LINKDOWN")

req = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
req.bind((0, 0))
req.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
idx = socket.if_nametoindex("kvs-v0")


def addreq(seq):
    attrs = struct.pack("=HH4s", 8, 2, socket.inet_aton("192.0.2.101"))
    body = struct.pack("=BBBBI", 2, 24, 0, 0, idx) + attrs
    flags = 0x1 | 0x4 | 0x200 | 0x400  # REQUEST | ACK | EXCL | CREATE
    return struct.pack("=IHHII", 16 + len(body), 20, flags, seq, 0) + body


req.send(addreq(7))
print("ACK", req.recv(65536).hex())
req.send(addreq(8))
print("ERR", req.recv(65536).hex())
drain("ADD4b")
