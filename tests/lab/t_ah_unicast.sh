#!/usr/bin/env bash
# VRRPv2 unicast with auth_type AH (keepalived zeroes the TTL in the ICV in unicast mode):
# election, SIGTERM handover, kill -9 failover; every AH frame is unicast to the peer and verifies
# under an independent HMAC (tests/lab/ah_verify.py), and no router refused its peer's adverts.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init ah_unicast 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/ah-ucast.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/ah-ucast.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
assert_stable 2 r1
stop_router r1 TERM
t_stop=$STOP_T
wait_master r2 5
wait_vip "$VIP4" r2 5
start_router r1 "$IMPL1" "$LAB_CONF/ah-ucast.r1.conf"
wait_master r1 10
wait_vip "$VIP4" r1 5
assert_stable 2 r1
stop_router r1 KILL
t_kill=$STOP_T
i=0
until [ "$(state_count r2 MASTER)" -ge 2 ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || die "r2 did not take over after r1's kill -9"
    sleep 0.05
done
client_reach "$VIP4" r2
sleep 1.5
capture_stop
for pair in "r1 192.0.2.2" "r2 192.0.2.1"; do
    read -r who peer <<<"$pair"
    bad=$(vrrp_table "$CAP_PCAP" | awk -v m="$(mac_of "$who")" -v d="$peer" '$2 == m && $7 != d' | wc -l)
    [ "$bad" = 0 ] || die "$bad adverts from $who not sent unicast to $peer"
done
nonah=$(tshark -r "$CAP_PCAP" -Y 'vrrp && !ah' 2>/dev/null | wc -l)
[ "$nonah" = 0 ] || die "$nonah VRRP frames without AH"
say "all adverts are AH, unicast to the peer"
python3 "$LAB_SRC/ah_verify.py" "$CAP_PCAP" secret12 | sed 's/^/    /' || die "AH frames that do not verify (see above)"
for f in "$LAB_DIR"/r*.log; do
    if grep -E 'already processed|invalid IPSEC|AH header but|No AH header' "$f"; then
        die "$(basename "$f"): a router refused an AH advert of its peer"
    fi
done
say "no router refused an AH advert"
check_stable_windows "$CAP_PCAP"
report_handover "$CAP_PCAP" r1 r2 "$t_stop"
report_failover "$CAP_PCAP" r1 r2 "$t_kill"
check_checksums "$CAP_PCAP" r1 r2
