#!/usr/bin/env bash
# VRRPv2 multicast with PASS authentication: election, every advert carries the password,
# clean-stop (SIGTERM) handover and preemption back, then kill -9 failover; the client reaches
# the VIP at each master.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init v2_auth 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/auth.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/auth.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
assert_stable 2 r1
clean_stop_handover r1 r2 VI_1 "$VIP4"
t_stop=$HANDOVER_T
assert_stable 2 r1
stop_router r1 KILL
t_kill=$STOP_T
wait_state_n r2 MASTER 2 10
client_reach "$VIP4" r2
sleep 1
capture_stop
check_stable_windows "$CAP_PCAP"
bad=$(vrrp_table "$CAP_PCAP" | awk '$3 != 2 || $9 != "secret12"' | wc -l)
[ "$bad" = 0 ] || die "$bad adverts without auth_pass secret12"
say "all adverts are v2 with auth string secret12"
report_handover "$CAP_PCAP" r1 r2 "$t_stop"
report_failover "$CAP_PCAP" r1 r2 "$t_kill"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
