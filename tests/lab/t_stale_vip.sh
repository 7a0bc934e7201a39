#!/usr/bin/env bash
# Stale VIP: kill -9 leaves the VIP on the dead master. When the daemon is restarted (here with
# a lower priority so that it stays BACKUP) it must remove the VIP left behind by the crashed run.
# The client reaches the VIP at r2 after the failover (while the stale VIP is still on r1) and
# after r1's restart.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init stale_vip 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
stop_router r1 KILL
wait_master r2 10
wait_vip "$VIP4" "r1 r2" 5
# the dead r1's kernel still answers for the VIP, but r2's gratuitous ARPs move the client
client_reach "$VIP4" r2
say "stale VIP left on r1 after kill -9: $(ip -n "$(ns_of r1)" -o -4 addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')"
t_restart=$EPOCHREALTIME
start_router r1 "$IMPL1" "$LAB_CONF/v2-low.r1.conf"
wait_backup r1 10
wait_vip "$VIP4" r2 10
say "STALE VIP: removed from r1 $(ms_between "$t_restart" "$EPOCHREALTIME") ms (or less) after the restart"
client_reach "$VIP4" r2
assert_stable 2 r2
[ "$(state_count r1 MASTER)" = 0 ] || die "restarted r1 became master"
capture_stop
check_stable_windows "$CAP_PCAP"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
