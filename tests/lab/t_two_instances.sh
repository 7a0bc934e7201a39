#!/usr/bin/env bash
# Two instances, master/master: r1 masters VI_1 (vrid 51, 192.0.2.100), r2 masters VI_2
# (vrid 52, 192.0.2.101). Killing r1 moves VI_1 to r2 without disturbing VI_2.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init two_instances 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/two.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/two.r2.conf"
wait_master r1 10 VI_1
wait_master r2 10 VI_2
wait_backup r1 10 VI_2
wait_backup r2 10 VI_1
wait_vip "$VIP4" r1 5
wait_vip "$VIP4B" r2 5
client_reach "$VIP4" r1
client_reach "$VIP4B" r2
assert_stable 2 r1:51 r2:52
stop_router r1 KILL
t_kill=$STOP_T
wait_master r2 10 VI_1
client_reach "$VIP4" r2
client_reach "$VIP4B" r2
[ "$(state_count r2 MASTER VI_2)" = 1 ] || die "VI_2 on r2 flapped"
sleep 1
capture_stop
check_stable_windows "$CAP_PCAP"
report_failover "$CAP_PCAP" r1 r2 "$t_kill" 51
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
