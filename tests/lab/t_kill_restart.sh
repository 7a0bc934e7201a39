#!/usr/bin/env bash
# Fault test: kill -9 of the master and its restart. The client ARPs for the VIP 20 times a
# second (broadcast requests, arping) the whole time; the capture on the bridge's mirror port
# shows which MACs answer each request.
#   A. kill -9 r1 and restart it 0.3 s later (procd/systemd respawn): the restarted daemon
#      removes the VIP the dead one left, the backup or the restarted r1 takes over, r1 preempts
#      back: no ARP request is ever answered by two MACs.
#   B. control: kill -9 r1 and restart it only after r2 took over: while r1 is dead its kernel
#      still holds the stale VIP and answers too (the detector must see these duplicates; no
#      daemon can prevent them), until the restarted r1 removes the VIP at start; from then on
#      no request is answered twice.
# The stale-VIP removal time after each restart is printed.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
lab_init kill_restart 120
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
t_arp=$EPOCHREALTIME
bg_start "$LAB_DIR/arping.out" c arping -q -i eth0 -W 0.05 -c 1200 "$VIP4"
arping_pid=$BG_PID
sleep 1.5

# ---- A: crash and immediate respawn
stop_router r1 KILL
t_kill=$STOP_T
sleep 0.3
t_restart=$EPOCHREALTIME
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
i=0
while [ "$(who_has_vip "$VIP4")" != "" ] && [ "$(who_has_vip "$VIP4")" != r2 ]; do
    i=$((i + 1))
    [ "$i" -le 500 ] || die "the restarted r1 did not remove the stale VIP"
    sleep 0.01
done
stale_a=$(ms_between "$t_restart" "$EPOCHREALTIME")
say "A: stale VIP removed from r1 $stale_a ms (or less) after the restart ($(ms_between "$t_kill" "$t_restart") ms after the kill)"
wait_master r1 10
wait_vip "$VIP4" r1 10
assert_stable 2 r1
r2_took=$(state_count r2 MASTER)
say "A: r2 took over in between: $([ "$r2_took" -ge 1 ] && echo yes || echo "no (the restarted r1 was faster)")"
t_a_end=$EPOCHREALTIME

# ---- B: crash, takeover by r2, late restart
stop_router r1 KILL
t_kill2=$STOP_T
i=0
until [ "$(state_count r2 MASTER)" -gt "$r2_took" ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || die "r2 did not take over after the second kill -9"
    sleep 0.05
done
wait_vip "$VIP4" "r1 r2" 5
sleep 1.5
t_restart2=$EPOCHREALTIME
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
i=0
until [ "$(who_has_vip "$VIP4")" = r2 ]; do
    i=$((i + 1))
    [ "$i" -le 500 ] || die "the restarted r1 did not remove the stale VIP (B)"
    sleep 0.01
done
t_clean2=$EPOCHREALTIME
stale_b=$(ms_between "$t_restart2" "$t_clean2")
say "B: stale VIP removed from r1 $stale_b ms (or less) after the restart"
wait_master r1 10
wait_vip "$VIP4" r1 10
sleep 1
t_end=$EPOCHREALTIME
kill -TERM "$arping_pid" 2>/dev/null || true
wait_pid_gone "$arping_pid" 3 || kill -KILL "$arping_pid" 2>/dev/null || true
sleep 1.5
capture_stop

read -r req_a dup_a < <(arp_dups "$CAP_PCAP" "$VIP4" "$t_arp" "$t_a_end")
say "A (crash + respawn): $req_a ARP requests for $VIP4, $dup_a answered by two MACs"
read -r req_bd dup_bd < <(arp_dups "$CAP_PCAP" "$VIP4" "$t_kill2" "$t_restart2" 2>/dev/null)
say "B (r1 dead with its stale VIP, r2 master): $req_bd requests, $dup_bd answered by two MACs (expected: the dead node's kernel still answers)"
read -r req_b dup_b < <(arp_dups "$CAP_PCAP" "$VIP4" "$(awk -v t="$t_clean2" 'BEGIN{printf "%.6f", t + 0.02}')" "$t_end")
say "B (after the restarted r1 removed the stale VIP): $req_b requests, $dup_b answered by two MACs"
say "VIP claims (ARP replies and GARPs) per MAC over the run: $(vip_claims "$CAP_PCAP" "$VIP4")"
[ "$req_a" -ge 20 ] && [ "$req_b" -ge 20 ] || die "too few ARP requests captured (arping did not run?)"
[ "$dup_bd" -ge 1 ] || die "the detector saw no duplicate while a dead node held the stale VIP"
[ "$dup_a" = 0 ] || die "A: $dup_a ARP requests answered by two MACs"
[ "$dup_b" = 0 ] || die "B: $dup_b ARP requests answered by two MACs after the stale VIP was removed"
check_checksums "$CAP_PCAP" r1 r2
timeline "$CAP_PCAP" noping
