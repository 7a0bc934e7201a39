#!/usr/bin/env bash
# Preemption: the master (prio 200) is killed, the backup (prio 100) takes over; when the
# high-priority router comes back it preempts and the VIP moves back to it.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
lab_init preempt 90
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
stop_router r1 KILL
wait_master r2 10
client_reach "$VIP4" r2

t_restart=$EPOCHREALTIME
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
wait_master r1 10
# r2 hears the higher priority and steps down (second BACKUP transition in its log)
wait_for "${R_LOG[r2]}" "(VI_1) Entering BACKUP STATE" 5 || die "r2 did not step down"
i=0
until [ "$(state_count r2 BACKUP)" -ge 2 ] || [ "$i" -ge 100 ]; do sleep 0.05; i=$((i + 1)); done
[ "$(state_count r2 BACKUP)" -ge 2 ] || die "r2 did not go back to BACKUP after r1 returned"
say "r2 back to BACKUP"
wait_vip "$VIP4" r1 5
client_reach "$VIP4" r1
assert_stable 2 r1
capture_stop
check_stable_windows "$CAP_PCAP"
t=$(pcap_first_advert "$CAP_PCAP" r1 "$t_restart")
[ -n "$t" ] || die "no advert from the restarted r1"
t2=$(pcap_last_advert "$CAP_PCAP" r2)
say "PREEMPT: r1 restarted at +$(since0 "$t_restart")s, first advert +$(since0 "$t")s, r2 last advert +$(since0 "$t2")s"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP"
