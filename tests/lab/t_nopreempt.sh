#!/usr/bin/env bash
# nopreempt: r2 (prio 100) is master alone; r1 (prio 200, nopreempt) joins and must stay BACKUP;
# only when r2 dies does r1 take over.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init nopreempt 90
lab_up 2
capture_start
start_router r2 "$IMPL2" "$LAB_CONF/nopreempt.r2.conf"
wait_master r2 10
wait_vip "$VIP4" r2 5
t_join=$EPOCHREALTIME
start_router r1 "$IMPL1" "$LAB_CONF/nopreempt.r1.conf"
wait_backup r1 10
assert_stable 5 r2
[ "$(state_count r1 MASTER)" = 0 ] || die "r1 preempted despite nopreempt"
wait_vip "$VIP4" r2 1
client_reach "$VIP4" r2
stop_router r2 KILL
t_kill=$STOP_T
wait_master r1 10
client_reach "$VIP4" r1
sleep 0.5
capture_stop
check_stable_windows "$CAP_PCAP"
n=$(vrrp_table "$CAP_PCAP" | awk -v m="$(mac_of r1)" -v a="$t_join" -v b="$t_kill" '$2 == m && $5 > 0 && $1 > a && $1 < b' | wc -l)
[ "$n" = 0 ] || die "r1 sent $n adverts while r2 was master (nopreempt violated)"
report_failover "$CAP_PCAP" r2 r1 "$t_kill"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
