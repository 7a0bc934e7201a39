#!/usr/bin/env bash
# VRRPv2 unicast (unicast_src_ip/unicast_peer): election, adverts (priority 0 too) are unicast,
# clean-stop (SIGTERM) handover and preemption back, then kill -9 failover; the client reaches
# the VIP at each master.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init unicast 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/ucast.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/ucast.r2.conf"
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
for pair in "r1 192.0.2.2" "r2 192.0.2.1"; do
    read -r who peer <<<"$pair"
    bad=$(vrrp_table "$CAP_PCAP" | awk -v m="$(mac_of "$who")" -v d="$peer" '$2 == m && $7 != d' | wc -l)
    [ "$bad" = 0 ] || die "$bad adverts from $who not sent unicast to $peer"
done
say "all adverts are unicast to the peer"
report_handover "$CAP_PCAP" r1 r2 "$t_stop"
report_failover "$CAP_PCAP" r1 r2 "$t_kill"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
