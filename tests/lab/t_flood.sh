#!/usr/bin/env bash
# Fault test: a flood of malformed and spoofed VRRP/AH packets (tests/lab/flood.py builds them,
# tests/lab/flood_send.c sends them; 100,000 per
# second for 20 s from the client namespace, unicast to the master r1) while r1 is master of a
# PASS instance (VRID 51) and an AH instance (VRID 52). Shows and checks:
#   - r1 keeps its adverts on time (the largest gap between two adverts is printed; the backup
#     never takes over), and no bad packet changes a state;
#   - r1's memory stays flat (RSS before, 2 s into and at the end of the flood printed);
#   - SIGTERM under the flood: priority 0 sent for both instances, VIPs gone, the exit time
#     (pidfd, microseconds) printed; r2 takes over;
#   - the drop counters r1 logs at shutdown name every reason of the flood.
#   - keepvip runs with -D (as the README recommends): its per-packet debug lines are budgeted
#     (at most 10 a second per interface and per instance), the log stays small;
#   - the flood itself reached at least 95,000 packets/s (else the test proves less than it
#     claims and fails).
# The flood and the routers' rates depend on the machine: the numbers are printed, and only
# protocol bounds are checked (with wide margins).
set -Eeuo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
FLOOD_PPS=${KVL_FLOOD_PPS:-100000}
FLOOD_S=${KVL_FLOOD_S:-20}
# the rate the flood must reach (95% of 100,000 packets/s)
FLOOD_MIN_PPS=${KVL_FLOOD_MIN_PPS:-95000}
# keepvip with detailed logging: the flood must not turn into one log line per packet
KEEPVIP_ARGS="${KEEPVIP_ARGS:-} -D"
lab_init flood 150
lab_up 2
start_router r1 "$IMPL1" "$LAB_CONF/flood.r1.conf"
start_router r2 "$IMPL2" "$LAB_CONF/flood.r2.conf"
wait_master r1 10 VI_1
wait_master r1 10 VI_2
wait_backup r2 10 VI_1
wait_backup r2 10 VI_2
wait_vip "$VIP4" r1 5
wait_vip "$VIP4B" r1 5
# only the routers' VRRP/AH frames: the flood (from the client's MAC) stays out of tcpdump
capture_filtered adverts "(ether src $(mac_of r1) or ether src $(mac_of r2)) and (ip proto 112 or ip proto 51)"
sleep 2.5
rss0=$(rss_kb r1)
map0=$(mem_map r1)

# The sender: tests/lab/flood_send.c (sendmmsg batches; the packets come from flood.py --write).
# gcc is one of tests/deps.sh's packages; without it the test fails (flood.py alone tops out at
# 40,000-90,000 packets/s on a small VM: the flood would not be the one the test claims). The
# sender runs at nice -10: on a 2-core machine shared with other builds it otherwise gets too
# little CPU to reach the rate (38,000 packets/s at load 7, 73,000 with nice -10); the daemon
# under test keeps its normal priority, so this only makes the test harsher for it.
command -v gcc >/dev/null 2>&1 || die "gcc not found (tests/deps.sh installs it): cannot build flood_send.c"
gcc -O2 -Wall -o "$LAB_DIR/flood_send" "$LAB_SRC/flood_send.c" 2>"$LAB_DIR/flood_send.cc.log" ||
    die "gcc could not build flood_send.c: $(cat "$LAB_DIR/flood_send.cc.log")"
python3 "$LAB_SRC/flood.py" --write "$LAB_DIR/flood.pkts" "$(ip4_of r1)"
bg_start "$LAB_DIR/flood.out" c nice -n -10 "$LAB_DIR/flood_send" "$(ip4_of r1)" "$FLOOD_S" "$FLOOD_PPS" "$LAB_DIR/flood.pkts"
flood_pid=$BG_PID
t_flood=$EPOCHREALTIME
say "flood started: $FLOOD_PPS packets/s for $FLOOD_S s at r1 ($(ip4_of r1)), pid $flood_pid"
# RSS once a second during the flood
series=()
for ((k = 1; k <= FLOOD_S - 3; k++)); do
    sleep 1
    series+=("$(rss_kb r1)")
done
rss2=${series[1]}
rss_end=${series[-1]}
map_end=$(mem_map r1)
say "MEMORY: r1 RSS each second of the flood (KiB): ${series[*]}"
raw_drops=$(ip netns exec "$(ns_of r1)" awk 'NR > 1 {d += $NF} END {print d + 0}' /proc/net/raw)
[ "$(state_count r2 MASTER VI_1)" = 0 ] && [ "$(state_count r2 MASTER VI_2)" = 0 ] ||
    die "r2 took over during the flood: r1's adverts were late or a bad packet was accepted"
[ "$(state_count r1 BACKUP VI_1)" = 1 ] && [ "$(state_count r1 BACKUP VI_2)" = 1 ] ||
    die "r1 left MASTER during the flood"
pid_alive "$flood_pid" || die "the flood ended early: $(cat "$LAB_DIR/flood.out")"

# SIGTERM under load
term_timed r1
t_term=$STOP_T
left=$(who_has_vip "$VIP4") left_b=$(who_has_vip "$VIP4B")
case " $left $left_b " in *" r1 "*) die "r1 still holds a VIP after its SIGTERM exit" ;; esac
say "VIPs after r1's exit: $VIP4 on '${left:-nobody}', $VIP4B on '${left_b:-nobody}'"
i=0
until [ "$(state_count r2 MASTER VI_1)" -ge 1 ] && [ "$(state_count r2 MASTER VI_2)" -ge 1 ]; do
    i=$((i + 1))
    [ "$i" -le 100 ] || die "r2 did not take over after r1's SIGTERM"
    sleep 0.05
done
say "r2 is MASTER of VI_1 and VI_2"
wait_pid_gone "$flood_pid" "$((FLOOD_S + 10))" || die "the flood did not end"
sleep 1
capture_filtered_stop
sed 's/^/    /' "$LAB_DIR/flood.out"
# "flood: N packets in T s = R pps to ..." (flood_send.c)
pps=$(awk '/^flood: [0-9]+ packets in/ { for (i = 1; i < NF; i++) if ($(i + 1) == "pps") print $i }' "$LAB_DIR/flood.out")
[ -n "$pps" ] || die "no rate in flood_send's output: $(cat "$LAB_DIR/flood.out")"
awk -v p="$pps" -v m="$FLOOD_MIN_PPS" 'BEGIN{exit !(p >= m)}' ||
    die "the flood reached only $pps packets/s (bound: $FLOOD_MIN_PPS): not the flood this test claims"
say "FLOOD: $pps packets/s reached (bound: >= $FLOOD_MIN_PPS)"

p=$FCAP_PCAP
for v in 51 52; do
    advert_gap "$p" r1 "$v" "$t_flood" "$t_term"
    gap=$GAP_MS
    say "FLOOD: r1's adverts for VRID $v during the flood: $GAP_N, largest gap $gap ms (advert_int 1000 ms)"
    [ "$GAP_N" -ge "$((FLOOD_S - 8))" ] || die "only $GAP_N adverts from r1 (VRID $v) during the flood"
    # the backup would take over after 3609 ms; one advert interval (1000 ms) plus 10%
    awk -v g="$gap" 'BEGIN{exit !(g < 1100)}' || die "advert gap $gap ms for VRID $v (bound: 1100 ms)"
    t0=$(prio0_sent "$p" r1 "$v" "$(awk -v t="$t_term" 'BEGIN{printf "%.6f", t - 0.001}')")
    [ -n "$t0" ] || die "no priority-0 advert from r1 for VRID $v after SIGTERM"
    say "SIGTERM: r1's priority-0 advert for VRID $v $(ms_between "$t_term" "$t0") ms after the signal"
done
growth=$((rss_end - rss0))
say "MEMORY: r1 RSS $rss0 KiB before the flood, $rss2 KiB after 2 s, $rss_end KiB after $((FLOOD_S - 3)) s (+$growth KiB: first touches of pages already mapped)"
say "MEMORY: r1 mapped before the flood: $map0; at its end: $map_end"
[ "$map0" = "$map_end" ] || die "r1 mapped more memory during the flood: $map0 -> $map_end"
[ "$growth" -le 256 ] || die "r1's RSS grew by $growth KiB during the flood"
say "kernel: $raw_drops packets dropped at r1's raw sockets (receive buffer full: the flood exceeds what one wakeup reads)"
# keepvip's own bound (issue 3 and 6: exit < 100 ms; procd kills after 5 s; keepalived 2.2.7
# needs about 1 s: only printed)
if [ "${R_IMPL[r1]}" = keepvip ]; then
    awk -v e="$EXIT_MS" 'BEGIN{exit !(e < 100)}' || die "r1 needed $EXIT_MS ms to exit after SIGTERM under the flood (bound: 100 ms)"
fi
say "SIGTERM under load: exit $EXIT_MS ms after the signal ($(awk -v e="$EXIT_MS" 'BEGIN{print (e < 100) ? "< 100 ms" : "NOT < 100 ms"}'))"

# the drop counters (logged by keepvip at shutdown; keepalived logs every drop instead)
log1=$LAB_DIR/r1.1.log
if [ "${R_IMPL[r1]}" = keepvip ]; then
    grep -E 'dropped [0-9]+:|packets for no instance' "$log1" | sed 's/^/    /'
    for r in ip_ttl_err chk_err auth_failure packet_len_err invalid_authtype; do
        grep -E "\\(VI_1\\) received .*dropped .*$r [1-9]" "$log1" >/dev/null || die "VI_1 counted no $r"
    done
    for r in ah_icv_err ah_replay auth_failure; do
        grep -E "\\(VI_2\\) received .*dropped .*$r [1-9]" "$log1" >/dev/null || die "VI_2 counted no $r"
    done
    grep -E "packets for no instance dropped: [1-9].*vrid_err [1-9]" "$log1" >/dev/null || die "no vrid_err counted"
    say "drop counters: every kind of the flood has its named reason"
    lines=$(wc -l <"$log1")
    rx_lines=$(grep -cE 'dropped (VRRP |AH )?packet (from|on)' "$log1" || true)
    say "r1 log (-D): $lines lines for the whole run, $rx_lines per-packet lines of the receive path (drop logging is budgeted: $(grep -c 'more dropped packets' "$log1" || true) summary lines)"
    # budget: 10 lines + 1 summary a second for the receive path of eth0, and 2 x 10 + 1 per
    # instance (its info line and its -D line share one budget), about 53 lines a second
    # for about FLOOD_S + 10 s of run; one per packet would be millions
    [ "$rx_lines" -ge 1 ] || die "no receive-path debug line: is -D on?"
    [ "$rx_lines" -le $((11 * (FLOOD_S + 10))) ] || die "$rx_lines receive-path debug lines: not budgeted"
    [ "$lines" -le $((60 * (FLOOD_S + 10))) ] || die "r1 wrote $lines log lines during a ${FLOOD_S} s flood: not budgeted"
else
    say "drop counters: keepalived logs each drop ($(grep -cE 'invalid|wrong|received a|Invalid' "$log1" || true) lines in its log)"
fi
