#!/usr/bin/env bash
# Link down on the master (carrier lost: its switch port goes down): master -> FAULT (r1 removes
# the VIP), backup takes over and holds it alone; link up again: the high-priority router preempts back.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init link_down 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
assert_stable 2 r1
t_down=$EPOCHREALTIME
run ip -n "$SW" link set "$(port_of r1)" down
say "r1's switch port is down (r1 eth0 has no carrier)"
wait_fault r1 5
wait_master r2 10
# FAULT removes the VIP from r1 (its kernel would keep it on a link without carrier); r2 holds it
wait_vip "$VIP4" r2 5
client_reach "$VIP4" r2
run ip -n "$SW" link set "$(port_of r1)" up
say "r1's switch port is up again"
i=0
until [ "$(state_count r1 MASTER)" -ge 2 ] || [ "$i" -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
[ "$(state_count r1 MASTER)" -ge 2 ] || die "r1 did not become master again after link up"
say "r1 is MASTER again"
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
sleep 1
capture_stop
check_stable_windows "$CAP_PCAP"
report_failover "$CAP_PCAP" r1 r2 "$t_down" "" "link down"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
