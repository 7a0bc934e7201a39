#!/usr/bin/env bash
# VRRPv3 over IPv6 (ff02::12, link-local sources, unsolicited NA): election, clean-stop (SIGTERM)
# handover and preemption back, then kill -9 failover; the client reaches 2001:db8::100 at each
# master.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init v3_ipv6 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v3-ipv6.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v3-ipv6.r2.conf"
wait_master r1 10 VI_6
wait_backup r2 10 VI_6
wait_vip "$VIP6" r1 5
client_reach "$VIP6" r1
assert_stable 2 r1
clean_stop_handover r1 r2 VI_6 "$VIP6"
t_stop=$HANDOVER_T
assert_stable 2 r1
stop_router r1 KILL
t_kill=$STOP_T
wait_state_n r2 MASTER 2 10 VI_6
client_reach "$VIP6" r2
sleep 1
capture_stop
check_stable_windows "$CAP_PCAP"
bad=$(vrrp_table "$CAP_PCAP" | awk '$3 != 3 || $7 != "ff02::12"' | wc -l)
[ "$bad" = 0 ] || die "$bad VRRP frames are not v3 to ff02::12"
n=$(tshark -r "$CAP_PCAP" -Y "icmpv6.type == 136 && eth.src == $(mac_of r2) && icmpv6.nd.na.target_address == $VIP6" 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || die "no unsolicited NA for $VIP6 from r2"
say "r2 sent $n neighbour adverts for $VIP6"
report_handover "$CAP_PCAP" r1 r2 "$t_stop"
report_failover "$CAP_PCAP" r1 r2 "$t_kill"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
