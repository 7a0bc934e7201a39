#!/usr/bin/env bash
# tests/ah_golden/capture.sh [mcast|ucast]: regenerate the VRRPv2 auth_type AH golden captures
# from two real keepalived instances (the installed keepalived, 2.2.7 when these were made).
#
# Uses the namespace bench of tests/lab/lib.sh with its own prefix (kva-*): r1 192.0.2.1 prio 200
# MASTER, r2 192.0.2.2 prio 100 BACKUP, VRID 51, VIP 192.0.2.100, auth_pass secret12.
# Sequence: r1 adverts -> r1 SIGTERM (priority-0 advert) -> r2 master (continues r1's AH sequence
# counter) -> r2 SIGTERM (priority-0 advert). Only the AH frames (IP protocol 51) are kept, so the
# pcaps stay small. Writes ah-MODE.pcap and ah-MODE.txt (tshark one-line summary + AH fields) here.
# Without an argument, captures both modes one after the other. Needs root; bounded; self-cleaning.
set -Eeuo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    for m in mcast ucast; do bash "$0" "$m"; done
    exit 0
fi
MODE=$1
case $MODE in mcast | ucast) ;; *) echo "usage: $0 [mcast|ucast]" >&2; exit 2 ;; esac
export KVL_PREFIX=${KVL_PREFIX:-kva}
export KVL_LOGDIR=${KVL_LOGDIR:-/tmp/kva-lab}
export IMPL1=keepalived
export IMPL2=keepalived
# shellcheck source=SCRIPTDIR/../lab/lib.sh
. "$HERE/../lab/lib.sh"
lab_init "ah_$MODE" 60
lab_up 2
capture_start "ah-$MODE"
start_router r1 keepalived "$HERE/ah-$MODE.r1.conf"
start_router r2 keepalived "$HERE/ah-$MODE.r2.conf"
wait_master r1 10
wait_backup r2 10
sleep 2.5
stop_router r1 TERM
wait_master r2 10
sleep 2.5
stop_router r2 TERM
sleep 0.3
capture_stop
tcpdump -n -r "$CAP_PCAP" -w "$HERE/ah-$MODE.pcap" 'ip proto 51' 2>/dev/null
n=$(tcpdump -n -r "$HERE/ah-$MODE.pcap" 2>/dev/null | wc -l)
[ "$n" -ge 4 ] || die "only $n AH frames captured"
{
    echo "# tshark summary of ah-$MODE.pcap (keepalived $(keepalived -v 2>&1 | head -n1 | awk '{print $2}'))"
    tshark -r "$HERE/ah-$MODE.pcap" -T fields -E separator=' ' \
        -e frame.number -e frame.time_relative -e ip.src -e ip.dst -e ip.id -e ip.ttl \
        -e ah.spi -e ah.sequence -e ah.icv -e vrrp.prio -e vrrp.auth_type 2>/dev/null |
        awk 'BEGIN{print "# frame time src dst ip.id ttl spi seq icv prio auth_type"} {print}'
} >"$HERE/ah-$MODE.txt"
grep -E 'IPSEC|Entering' "$LAB_DIR"/r*.log | sed "s|$LAB_DIR/||" >>"$HERE/ah-$MODE.txt" || true
say "wrote $HERE/ah-$MODE.pcap ($n AH frames)"
