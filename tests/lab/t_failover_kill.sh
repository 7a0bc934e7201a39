#!/usr/bin/env bash
# Master/backup election, then kill -9 of the master: the backup takes over after
# Master_Down_Interval, the client reaches the VIP at the new master (GARP updated its cache).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init failover_kill 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
assert_stable 3 r1
[ "$(state_count r2 MASTER)" = 0 ] || die "r2 was master during the election"

stop_router r1 KILL
t_kill=$STOP_T
wait_master r2 10
# kill -9 leaves the VIP on r1 (nobody removes it); r2 must hold it too
wait_vip "$VIP4" "r1 r2" 5
client_reach "$VIP4" r2
sleep 1
capture_stop
check_stable_windows "$CAP_PCAP"
report_failover "$CAP_PCAP" r1 r2 "$t_kill"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
