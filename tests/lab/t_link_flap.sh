#!/usr/bin/env bash
# Fault test: the master's link flaps (eth0 down 150 ms, up 150 ms, for 30 s). The backup takes
# over once; the flapping router goes FAULT / BACKUP with every flap and never wins an election
# while up for only 150 ms: it sends no advert (priority > 0) while flapping (asserted). Once the link stays up, exactly one master is left (the capture shows
# only it advertising, the VIP is on it only, the last state lines agree), and it is r1 again
# (priority 200 preempts). Transitions are counted and printed.
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
FLAP_S=${KVL_FLAP_S:-30}
FLAP_DOWN=${KVL_FLAP_DOWN:-0.15}
FLAP_UP=${KVL_FLAP_UP:-0.15}
lab_init link_flap $((FLAP_S + 90))
lab_up 2
capture_start
start_router r1 "$IMPL1" "$LAB_CONF/v2.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/v2.r2.conf"
wait_master r1 10
wait_backup r2 10
wait_vip "$VIP4" r1 5
assert_stable 2 r1

ns1=$(ns_of r1)
t_flap=$EPOCHREALTIME
end=$(awk -v t="$t_flap" -v s="$FLAP_S" 'BEGIN{printf "%.6f", t + s}')
flaps=0
while awk -v n="$EPOCHREALTIME" -v e="$end" 'BEGIN{exit !(n < e)}'; do
    ip -n "$ns1" link set eth0 down
    sleep "$FLAP_DOWN"
    ip -n "$ns1" link set eth0 up
    sleep "$FLAP_UP"
    flaps=$((flaps + 1))
    [ "$flaps" -le 1000 ] || die "flap loop runaway"
done
t_steady=$EPOCHREALTIME
say "FLAP: r1's eth0 went down and up $flaps times in $(ms_between "$t_flap" "$t_steady") ms (down ${FLAP_DOWN}s, up ${FLAP_UP}s)"

# settle: r1 (priority 200) becomes the only master again
wait_only_holder "$VIP4" r1 15 >/dev/null || die "VIP not on r1 alone 15 s after the flapping ended (on: '$(who_has_vip "$VIP4")')"
i=0
until [ "$(last_state r1)" = MASTER ] && [ "$(last_state r2)" = BACKUP ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || die "no single master after the flapping: r1 $(last_state r1), r2 $(last_state r2)"
    sleep 0.05
done
t_one=$EPOCHREALTIME
say "FLAP: one master (r1) $(ms_between "$t_steady" "$t_one") ms after the link stayed up"
assert_stable 3 r1
client_reach "$VIP4" r1
sleep 1
capture_stop
check_stable_windows "$CAP_PCAP"
for n in r1 r2; do
    say "FLAP: $n transitions: MASTER $(state_count "$n" MASTER), BACKUP $(state_count "$n" BACKUP), FAULT $(state_count "$n" FAULT) (log ${R_LOG[$n]##*/})"
done
[ "$(state_count r1 FAULT)" -ge $((flaps / 2)) ] || die "r1 saw only $(state_count r1 FAULT) of $flaps link losses"
# r1 cannot win an election while up for 150 ms: it may only become master at the end
[ "$(state_count r1 MASTER)" -le 2 ] || die "r1 became master $(state_count r1 MASTER) times while flapping"
adv=$(vrrp_table "$CAP_PCAP" | awk -v m="$(mac_of r1)" -v a="$t_flap" -v b="$t_steady" '$2 == m && $1 > a + 0.2 && $1 < b && $5 > 0' | wc -l)
say "FLAP: adverts from r1 with priority > 0 during the flapping (after the first 0.2 s): $adv"
# up for 150 ms at a time, r1 never reaches Master_Down_Interval: it must not advertise (an
# advert would be a takeover attempt while r2 is master)
[ "$adv" = 0 ] || die "r1 sent $adv adverts while its link was flapping"
check_checksums "$CAP_PCAP" r1 r2
